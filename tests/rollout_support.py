"""Helpers for the Deployment/ReplicaSet tests: manifests and a scripted kubelet.

With ``labkit.Cluster(kubelets=False)`` nothing runs bound pods, so a test plays the kubelet the
way the outside checks replay recordings: a status patch makes a pod Running and Ready (with the
``lastTransitionTime`` of that simulated second), and a grace-0 delete finishes a termination.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import labkit
from labkit.api.store import timestamp


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.27", *,
               strategy: dict | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}},
                                         "spec": {"containers": [{"name": "main", "image": image}]}}}
    if strategy is not None:
        body["strategy"] = strategy
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


def rolling(surge: int | str, unavailable: int | str) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


def hollow(nodes: int = 3, seed: int = 0) -> labkit.Cluster:
    c = labkit.Cluster(seed=seed, kubelets=False)
    c.add_node_pool("pool", "ecs.g7.2xlarge", nodes, zones=["cn-hangzhou-h"])
    return c


def make_ready(c: labkit.Cluster, name: str, namespace: str = "default") -> None:
    """The kubelet's status write for a started container: Running, Ready=True since now."""
    now = timestamp(c.now)
    c.patch("Pod", name, {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}]}},
        namespace=namespace, subresource="status")


def pods(c: labkit.Cluster, app: str = "web") -> list[dict[str, Any]]:
    return c.list("Pod", label_selector=f"app={app}")


def ready_all(c: labkit.Cluster, app: str = "web") -> None:
    for p in pods(c, app):
        if not p["metadata"].get("deletionTimestamp") and not is_ready(p):
            make_ready(c, p["metadata"]["name"])


def finish_terminations(c: labkit.Cluster, app: str = "web") -> None:
    for p in pods(c, app):
        if p["metadata"].get("deletionTimestamp"):
            c.delete("Pod", p["metadata"]["name"], grace_period_seconds=0)


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(x["type"] == "Ready" and x["status"] == "True" for x in conditions)


class ScriptedKubelet:
    """Make every new pod Ready ``ready_after(pod)`` seconds after it is created and finish every
    termination ``stop_after`` seconds after the deletion was requested."""

    def __init__(self, c: labkit.Cluster, ready_after: Callable[[dict[str, Any]], float] | float = 2.0,
                 stop_after: float = 1.0) -> None:
        self.c = c
        self.ready_after = ready_after if callable(ready_after) else (lambda _p, d=ready_after: d)
        self.stop_after = stop_after
        self._stopping: set[str] = set()
        c.api.watch("Pod", self._on_pod)

    def _later(self, delay: float, fn: Callable[[], None]) -> None:
        timer = self.c.env.timeout(delay)
        timer.callbacks.append(lambda _ev: fn())

    def _on_pod(self, ev: Any) -> None:
        pod = ev.object
        meta = pod["metadata"]
        name, uid = meta["name"], meta["uid"]
        if ev.type == "ADDED":
            self._later(self.ready_after(pod), lambda: self._ready(name, uid))
        elif ev.type == "MODIFIED" and meta.get("deletionTimestamp") and uid not in self._stopping:
            self._stopping.add(uid)
            self._later(self.stop_after, lambda: self._stop(name, uid))

    def _current(self, name: str, uid: str) -> dict[str, Any] | None:
        pod = self.c.api.peek("Pod", name, "default")
        return pod if pod is not None and pod["metadata"]["uid"] == uid else None

    def _ready(self, name: str, uid: str) -> None:
        pod = self._current(name, uid)
        if pod is not None and not pod["metadata"].get("deletionTimestamp"):
            make_ready(self.c, name)

    def _stop(self, name: str, uid: str) -> None:
        if self._current(name, uid) is not None:
            self.c.delete("Pod", name, grace_period_seconds=0)


def scaling_events(c: labkit.Cluster, name: str = "web") -> list[tuple[float, str]]:
    return [(round(e["time"], 3), e["message"]) for e in c.event_log()
            if e["reason"] == "ScalingReplicaSet" and e["object"] == f"Deployment/{name}"]


class SizeLog:
    """Every change of a ReplicaSet's ``spec.replicas`` and ``status.availableReplicas``, as
    ``(time, name, spec, available)``."""

    def __init__(self, c: labkit.Cluster) -> None:
        self.c = c
        self.rows: list[tuple[float, str, int, int]] = []
        self._last: dict[str, tuple[int, int]] = {}
        c.api.watch("ReplicaSet", self._on_rs)

    def _on_rs(self, ev: Any) -> None:
        rs = ev.object
        name = rs["metadata"]["name"]
        if ev.type == "DELETED":
            return
        now = (rs["spec"]["replicas"], (rs.get("status") or {}).get("availableReplicas", 0))
        if self._last.get(name) != now:
            self._last[name] = now
            self.rows.append((round(self.c.now, 3), name, *now))

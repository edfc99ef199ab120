"""The HorizontalPodAutoscaler controller: read, :func:`reconcile`, write, every 15 s.

``pkg/controller/podautoscaler/horizontal.go`` (v1.36). An HPA's key goes into a work queue
whose rate limiter holds every add for the sync period (``NewDefaultHPARateLimiter``: a fixed
15 s, ``--horizontal-pod-autoscaler-sync-period``), including the first one after the HPA is
created and the one after every sync, so each HPA is synced once per period, 15 s after the
previous sync *finished*. A sync takes :data:`PROCESSING_SECONDS` here (a few milliseconds on a
real controller manager), so a recommendation recorded at one sync is exactly one window old
only a little after a sync twenty periods later: outside the window, as on a real cluster.

One sync: the target's scale subresource (``spec.replicas``, ``status.replicas`` and its selector
from the Deployment, ReplicaSet or StatefulSet), the pods that selector returns, the samples the
metrics API serves (metrics-server, :mod:`labkit.metrics`), then :func:`reconcile`; a rescale is
a write of the target's ``spec.replicas``; the HPA's status is written when it changed; events
as upstream records them. The sync loop sleeps on daemon timeouts: alone it never keeps
``Cluster.run()`` going.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.api.store import WatchEvent
from labkit.controllers.podautoscaler.reconcile import Config, HPAState, Reconciliation, reconcile

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["HorizontalController", "PROCESSING_SECONDS", "SCALABLE"]

PROCESSING_SECONDS = 0.002
#: Kinds with a scale subresource the lab serves, and their resource names (for error messages).
SCALABLE = {
    "Deployment": "deployments.apps",
    "ReplicaSet": "replicasets.apps",
    "StatefulSet": "statefulsets.apps",
}

Key = tuple[str, str]


class HorizontalController:
    """kube-controller-manager's ``horizontal-pod-autoscaler`` controller."""

    component = "horizontal-pod-autoscaler"

    def __init__(
        self,
        env: LabEnvironment,
        api: APIServer,
        recorder: EventRecorder,
        metrics: Callable[[str, list[str]], dict[str, Any]],
        config: Config | None = None,
    ) -> None:
        self.env = env
        self.api = api
        self.recorder = recorder
        self.metrics = metrics  # the metrics.k8s.io client: (namespace, pod names) -> samples
        self.config = config or Config()
        self.states: dict[Key, HPAState] = {}
        self.last: dict[Key, Reconciliation] = {}  # the last sync of each HPA, for explain_hpa
        self.synced_at: dict[Key, float] = {}
        self._selectors: dict[str, Any] = {}  # a selector's repr -> its parsed form
        #: every sync of every HPA: (time, proposal or None, current, replicas), for plots and checks
        self.history: dict[Key, list[tuple[float, int | None, int, int]]] = {}
        self._loops: dict[Key, Any] = {}
        self.syncs = 0
        api.watch("HorizontalPodAutoscaler", self._on_hpa)

    def _on_hpa(self, ev: WatchEvent) -> None:
        meta = ev.object["metadata"]
        key = (meta.get("namespace", "default"), meta["name"])
        if ev.type == "DELETED":
            self.states.pop(key, None)
            self.last.pop(key, None)
            self.synced_at.pop(key, None)
            self.history.pop(key, None)
            self._loops.pop(key, None)
        elif key not in self._loops:
            self._loops[key] = self.env.process(self._loop(key, meta["uid"]))

    def _loop(self, key: Key, uid: str):
        while True:
            yield self.env.daemon_timeout(self.config.sync_period)
            hpa = self.api.peek("HorizontalPodAutoscaler", key[1], key[0])
            if hpa is None or hpa["metadata"]["uid"] != uid or self._loops.get(key) is None:
                return
            self.sync(hpa)
            yield self.env.daemon_timeout(PROCESSING_SECONDS)

    # -- one sync ---------------------------------------------------------------------------------
    def sync(self, hpa: dict[str, Any]) -> Reconciliation:
        """``reconcileAutoscaler`` for one HPA, through the API."""
        self.syncs += 1
        meta = hpa["metadata"]
        ns, key = meta.get("namespace", "default"), (meta.get("namespace", "default"), meta["name"])
        ref = hpa["spec"]["scaleTargetRef"]
        target, error = self._scale_target(ns, ref)
        now = float(self.env.now)
        if target is None:
            result = reconcile(
                hpa, now, {}, [], None, self.states.get(key), config=self.config, scale_error=error
            )
            return self._write(hpa, key, result, None)
        spec, status = target.get("spec") or {}, target.get("status") or {}
        scale = {"spec_replicas": spec.get("replicas", 1), "status_replicas": status.get("replicas", 0)}
        pods = self._pods(ns, spec.get("selector"))
        metrics = self.metrics(ns, [p["metadata"]["name"] for p in pods]) if pods else {"pods": {}}
        result = reconcile(hpa, now, scale, pods, metrics, self.states.get(key), config=self.config)
        return self._write(hpa, key, result, target)

    def _scale_target(self, ns: str, ref: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        kind, name = ref.get("kind", ""), ref.get("name", "")
        resource = SCALABLE.get(kind)
        if resource is None:
            group = (ref.get("apiVersion") or "").rpartition("/")[0]
            return None, f'no matches for kind "{kind}" in group "{group}"'
        obj = self.api.peek(kind, name, ns)
        if obj is None:
            return None, f'{resource} "{name}" not found'
        return obj, ""

    def _pods(self, ns: str, selector: dict[str, Any] | None) -> list[dict[str, Any]]:
        from labkit.api.selectors import selector_from_dict

        text = repr(selector)  # the target's selector rarely changes: parse it once per form
        sel = self._selectors.get(text, False)
        if sel is False:
            sel = self._selectors[text] = selector_from_dict(selector, "spec.selector")
        if sel is None:
            return []
        return [p for p in self.api.items("Pod", ns) if sel.matches(p["metadata"].get("labels") or {})]

    def _write(
        self, hpa: dict[str, Any], key: Key, result: Reconciliation, target: dict[str, Any] | None
    ) -> Reconciliation:
        previous = self.states.get(key)
        if result.rescale and target is not None:
            try:
                self.api.patch(
                    target["kind"],
                    target["metadata"]["name"],
                    key[0],
                    {"spec": {"replicas": result.replicas}},
                )
            except Exception as e:  # a conflict or a refused write: the sync's FailedRescale
                result = _rescale_failed(result, str(e), previous, hpa.get("status") or {}, self.env.now)
        self.states[key] = result.state
        self.last[key] = result
        self.synced_at[key] = float(self.env.now)
        self.history.setdefault(key, []).append((float(self.env.now), result.proposal, result.current,
                                                 result.replicas))
        for ev in result.events:
            self.recorder.emit(hpa, ev["type"], ev["reason"], ev["message"], self.component)
        current = self.api.peek("HorizontalPodAutoscaler", key[1], key[0])
        if current is not None and current.get("status") != result.status:
            self.api.mutate_status(
                "HorizontalPodAutoscaler", key[1], key[0], lambda st: (st.clear(), st.update(result.status))
            )
        return result


def _rescale_failed(
    result: Reconciliation, error: str, previous: HPAState | None, old: dict[str, Any], now: float
) -> Reconciliation:
    """The scale write failed: a Warning ``FailedRescale``, AbleToScale ``FailedUpdateScale``, the
    status's desired count and lastScaleTime as before (``setCurrentReplicasAndMetricsInStatus``),
    no scale event recorded, and the target keeps its size."""
    from labkit.controllers.podautoscaler.clock import format_time

    events = [e for e in result.events if e["reason"] != "SuccessfulRescale"]
    events.append(
        {
            "type": "Warning",
            "reason": "FailedRescale",
            "message": f"New size: {result.replicas}; reason: {result.reason}; error: {error}",
        }
    )
    status = dict(result.status)
    conditions = [dict(c) for c in status.get("conditions") or []]
    for c in conditions:
        if c["type"] == "AbleToScale":
            if c["status"] != "False":
                c["lastTransitionTime"] = format_time(int(now))
            c.update(
                status="False",
                reason="FailedUpdateScale",
                message=f"the HPA controller was unable to update the target scale: {error}",
            )
    status["conditions"] = conditions
    status["desiredReplicas"] = old.get("desiredReplicas", 0)
    if old.get("lastScaleTime"):
        status["lastScaleTime"] = old["lastScaleTime"]
    else:
        status.pop("lastScaleTime", None)
    state = result.state
    if previous is not None:
        state.scale_up_events, state.scale_down_events = previous.scale_up_events, previous.scale_down_events
    else:
        state.scale_up_events, state.scale_down_events = [], []
    result.events, result.status, result.replicas, result.rescale = events, status, result.current, False
    return result

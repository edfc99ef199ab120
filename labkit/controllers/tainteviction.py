"""Taint-based eviction: delete the pods of a node with NoExecute taints they do not tolerate.

Upstream: ``pkg/controller/tainteviction/taint_eviction.go`` and ``timed_workers.go`` (v1.36,
the ``taint-eviction-controller`` of kube-controller-manager). For each pod on a node with
NoExecute taints (``processPodOnNode``):

- a taint the pod does not tolerate: delete it now;
- all tolerated: delete it after the smallest ``tolerationSeconds`` among the tolerations that
  matched (the first matching toleration per taint), counted from when the controller saw the
  taint; a matching toleration without seconds tolerates forever;
- the taints going away, or the pod going, cancels a pending deletion.

A deletion is an Event ``TaintManagerEviction`` ``Marking for deletion Pod <ns>/<pod>``, the pod
condition ``DisruptionTarget`` (reason ``DeletionByTaintManager``), then an ordinary DELETE with
the pod's own grace period. On a dead node nothing finishes that deletion: the pod stays
``Terminating`` until its kubelet is back (or the Node object is deleted). A pending deletion
is an ordinary SimPy timeout, i.e. work: ``Cluster.run()`` waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.api.store import WatchEvent, timestamp
from labkit.controllers.nodelifecycle import PodsByNode
from labkit.controllers.runtime import Controller
from labkit.scheduler.plugins.helper import tolerates

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["TaintEvictionController", "matching_tolerations", "min_toleration_seconds"]

PodKey = tuple[str, str]  # (namespace, name)
#: The pod condition the controller sets before deleting: status, reason, message.
DISRUPTION_TARGET = ("True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")


@dataclass(eq=False)
class _Eviction:
    """A ``TimedWorker``: the pod's deletion, due at ``fire_at``."""

    created: float
    fire_at: float
    cancelled: bool = False


def _no_execute(node: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """``getNoExecuteTaints`` as (key, value, effect)."""
    taints = ((node or {}).get("spec") or {}).get("taints") or []
    return [(t["key"], t.get("value") or "", t["effect"]) for t in taints if t["effect"] == "NoExecute"]


def matching_tolerations(taints: list[tuple[str, str, str]], tolerations: list[dict[str, Any]]
                         ) -> list[dict[str, Any]] | None:
    """``v1helper.GetMatchingTolerations``: the first toleration matching each taint, or None
    when some taint is tolerated by none."""
    used = []
    for taint in taints:
        match = next((tol for tol in tolerations if tolerates(tol, taint)), None)
        if match is None:
            return None
        used.append(match)
    return used


def min_toleration_seconds(used: list[dict[str, Any]]) -> float | None:
    """``getMinTolerationTime``: the smallest ``tolerationSeconds`` (0 for a value <= 0, or for no
    tolerations at all); None when none carries seconds, i.e. the pod tolerates forever."""
    if not used:
        return 0.0
    seconds = [tol["tolerationSeconds"] for tol in used if tol.get("tolerationSeconds") is not None]
    if any(s <= 0 for s in seconds):
        return 0.0
    return float(min(seconds)) if seconds else None


class TaintEvictionController(Controller):
    """``taint-eviction-controller``: NoExecute taints evict the pods that do not tolerate them."""

    component = "taint-eviction-controller"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        super().__init__(env, api, recorder)
        self.pods = PodsByNode(api)
        self._tainted: dict[str, list[tuple[str, str, str]]] = {}  # taintedNodes
        # taintEvictionQueue.workers: a pending deletion, or None once it ran (so it is not
        # scheduled twice while the pod is still terminating).
        self._work: dict[PodKey, _Eviction | None] = {}
        self.watch("Node", self._on_node)
        self.watch("Pod", self._on_pod)

    # -- watches (NodeUpdated / PodUpdated) ----------------------------------------------------
    def _on_node(self, ev: WatchEvent) -> tuple[str, str] | None:
        if ev.type == "MODIFIED" and _no_execute(ev.old) == _no_execute(ev.object):
            return None
        return ("node", ev.object["metadata"]["name"])

    def _on_pod(self, ev: WatchEvent) -> tuple[str, str, str, str] | None:
        pod, old = ev.object, ev.old
        if ev.type == "MODIFIED" and old is not None:
            a, b = old["spec"], pod["spec"]
            if a is b or (a.get("nodeName") == b.get("nodeName")
                          and a.get("tolerations") == b.get("tolerations")):
                return None
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        node = pod["spec"].get("nodeName") or ""
        if ev.type == "DELETED":
            if self._work.get(key, False) is None:
                del self._work[key]  # CancelWork of a deletion that already ran: nothing to tell
            if key not in self._work:
                return None
        elif node not in self._tainted:
            return None  # handlePodUpdate would find no taints for the node
        return ("pod", key[0], key[1], node)

    # -- handleNodeUpdate / handlePodUpdate -------------------------------------------------------
    def sync(self, key: tuple[str, ...]) -> None:
        if key[0] == "node":
            self._node_update(key[1])
        else:
            self._pod_update(key[1], key[2], key[3])

    def _node_update(self, name: str) -> None:
        node = self.api.peek("Node", name)
        if node is None:
            self._tainted.pop(name, None)
            return
        taints = _no_execute(node)
        if taints:
            self._tainted[name] = taints
        else:
            self._tainted.pop(name, None)
        keys = self.pods.keys(name)
        if not taints:
            for key in keys:
                self._cancel(key)
            return
        now = float(self.env.now)
        for ns, pod_name in keys:
            pod = self.api.peek("Pod", pod_name, ns)
            if pod is not None:
                self._process_pod(pod, taints, now)

    def _pod_update(self, ns: str, name: str, node: str) -> None:
        pod = self.api.peek("Pod", name, ns)
        if pod is None:
            self._cancel((ns, name))
            return
        if (pod["spec"].get("nodeName") or "") != node or not node:
            return
        taints = self._tainted.get(node)
        if taints:
            self._process_pod(pod, taints, float(self.env.now))

    def _process_pod(self, pod: dict[str, Any], taints: list[tuple[str, str, str]], now: float) -> None:
        """``processPodOnNode``."""
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        used = matching_tolerations(taints, pod["spec"].get("tolerations") or [])
        if used is None:
            self._cancel(key)  # not all taints tolerated: delete right away
            self._add(key, now, now)
            return
        seconds = min_toleration_seconds(used)
        if seconds is None:
            self._cancel(key)  # tolerated forever
            return
        start = now
        scheduled = self._work.get(key)
        if scheduled is not None:
            start = scheduled.created
            if start + seconds < now + seconds:
                return  # the eviction counted from the first sight of the taint stands
            self._cancel(key)
        self._add(key, start, now + seconds)

    # -- TimedWorkerQueue -------------------------------------------------------------------------
    def _add(self, key: PodKey, created: float, fire_at: float) -> None:
        if key in self._work:
            return  # "Trying to add already existing work, skipping"
        work = _Eviction(created, fire_at)
        self._work[key] = work
        timer = self.env.timeout(max(fire_at - created, 0.0))  # createWorker: delay = fireAt - createdAt
        timer.callbacks.append(lambda _ev: self._fire(key, work))

    def _cancel(self, key: PodKey) -> None:
        """``cancelWorkWithEvent``: an event only when a pending deletion was cancelled."""
        work = self._work.pop(key, None)
        if work is not None:
            work.cancelled = True
            ns, name = key
            message = f"Cancelling deletion of Pod {ns}/{name}"
            self.event(_pod_ref(ns, name), "Normal", "TaintManagerEviction", message)

    def _fire(self, key: PodKey, work: _Eviction) -> None:
        """``deletePodHandler``: the event, the DisruptionTarget condition, the DELETE."""
        if work.cancelled or self._work.get(key) is not work:
            return
        ns, name = key
        message = f"Marking for deletion Pod {ns}/{name}"
        self.event(_pod_ref(ns, name), "Normal", "TaintManagerEviction", message)
        pod = self.api.peek("Pod", name, ns)
        if pod is None:
            del self._work[key]  # the worker failed (NotFound): forgotten
            return
        # addConditionAndDeletePod: apipod.UpdatePodCondition appends the condition or replaces a
        # different one; the status is written only when it changed.
        old = next((c for c in (pod.get("status") or {}).get("conditions") or []
                    if c["type"] == "DisruptionTarget"), None)
        if old is None or (old["status"], old.get("reason"), old.get("message")) != DISRUPTION_TARGET:
            stamp = timestamp(self.env.now)

            def disruption_target(status: dict[str, Any]) -> None:
                status_, reason, message = DISRUPTION_TARGET
                cond = {"type": "DisruptionTarget", "status": status_, "lastProbeTime": None,
                        "lastTransitionTime": stamp, "reason": reason, "message": message}
                conds = status.setdefault("conditions", [])
                for i, c in enumerate(conds):
                    if c["type"] == "DisruptionTarget":
                        if c["status"] == status_:
                            cond["lastTransitionTime"] = c.get("lastTransitionTime")
                        conds[i] = cond
                        return
                conds.append(cond)

            self.api.mutate_status("Pod", name, ns, disruption_target)
        self.api.delete("Pod", name, ns)  # grace period from the pod spec
        self._work[key] = None


def _pod_ref(ns: str, name: str) -> dict[str, Any]:
    """The ``ObjectReference`` the controller's events carry: kind, name, namespace, no uid."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}}

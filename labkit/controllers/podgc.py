"""The pod garbage collector: pods that no kubelet will ever finish.

Upstream: ``pkg/controller/podgc/gc_controller.go``. Every ``gcCheckPeriod`` (20 s, the first
pass at start-up) one pass, in upstream's order:

1. ``gcTerminated``: above ``--terminated-pod-gc-threshold`` (12,500) finished pods, the oldest
   (evicted ones first, then by creation time and name) are deleted.
2. ``gcTerminating``: a pod being deleted on a node that is not Ready and carries the
   ``node.kubernetes.io/out-of-service`` taint is force-deleted.
3. ``gcOrphaned``: a pod bound to a node name without a Node is quarantined for 40 s (the node
   name waits in a delaying queue); if the node is still missing at the first pass after that,
   each of its pods is marked ``Failed`` with the condition ``DisruptionTarget`` (reason
   ``DeletionByPodGC``, message ``PodGC: node no longer exists``) and force-deleted (grace 0).
   A node deleted at time *t* thus takes its pods with it 40–60 s later.
4. ``gcUnscheduledTerminating``: a pod being deleted that was never bound is force-deleted.

"Force-deleted" is a DELETE with ``gracePeriodSeconds: 0``; a non-terminal pod is first patched
to ``Failed`` (``markFailedAndDeletePodWithCondition``). PodGC records no events.

The 20 s loop sleeps on daemon timeouts (alone it does not keep ``Cluster.run()`` going), but an
orphan waiting out its quarantine is pending work: ``c.run()`` goes on until it is deleted.

Simplification: the collector's view is kept up to date from watches instead of listing every
pod each pass, which gives the same answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.api.podutil import update_pod_condition
from labkit.api.server import NotFound
from labkit.api.store import WatchEvent, timestamp

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["PodGC", "GC_CHECK_SECONDS", "QUARANTINE_SECONDS", "TERMINATED_POD_GC_THRESHOLD",
           "OUT_OF_SERVICE_TAINT", "ORPHAN_REASON", "ORPHAN_MESSAGE"]

GC_CHECK_SECONDS = 20.0  # gcCheckPeriod
QUARANTINE_SECONDS = 40.0  # quarantineTime
TERMINATED_POD_GC_THRESHOLD = 12_500  # --terminated-pod-gc-threshold
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
ORPHAN_REASON = "DeletionByPodGC"
ORPHAN_MESSAGE = "PodGC: node no longer exists"

Key = tuple[str, str]  # (namespace, name)


class PodGC:
    """kube-controller-manager's pod garbage collector (``pod-garbage-collector``)."""

    component = "pod-garbage-collector"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder | None = None,
                 terminated_threshold: int = TERMINATED_POD_GC_THRESHOLD) -> None:
        self.env = env
        self.api = api
        self.threshold = terminated_threshold
        self.passes = 0
        self._nodes: set[str] = set()
        self._out_of_service: set[str] = set()  # nodes carrying the out-of-service taint
        self._orphans: dict[str, set[Key]] = {}  # missing node name -> pods bound to it
        self._quarantine: dict[str, float] = {}  # nodeQueue: node name -> when it is ready
        self._terminated: set[Key] = set()
        self._unscheduled_terminating: set[Key] = set()
        self._wake: Any = None
        self._next_pass = 0.0
        self._held = False  # the current sleep counts as work
        self._checking = False
        api.watch("Node", self._on_node)
        api.watch("Pod", self._on_pod)
        env.process(self._run())

    # -- informers ----------------------------------------------------------------------------
    def _on_node(self, ev: WatchEvent) -> None:
        name = ev.object["metadata"]["name"]
        if ev.type == "DELETED":
            self._nodes.discard(name)
            self._out_of_service.discard(name)
            bound = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in self.api.items("Pod")
                     if p["spec"].get("nodeName") == name}
            if bound:
                self._orphans.setdefault(name, set()).update(bound)
                self._hold()
            return
        self._nodes.add(name)
        self._orphans.pop(name, None)
        taints = (ev.object.get("spec") or {}).get("taints") or ()
        if any(t.get("key") == OUT_OF_SERVICE_TAINT for t in taints):
            self._out_of_service.add(name)
        else:
            self._out_of_service.discard(name)

    def _on_pod(self, ev: WatchEvent) -> None:
        pod = ev.object
        meta = pod["metadata"]
        key = (meta["namespace"], meta["name"])
        node = pod["spec"].get("nodeName")
        if ev.type == "DELETED":
            self._terminated.discard(key)
            self._unscheduled_terminating.discard(key)
            if node in self._orphans:
                self._orphans[node].discard(key)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self._terminated.add(key)
        else:
            self._terminated.discard(key)
        if not node:
            if meta.get("deletionTimestamp"):
                self._unscheduled_terminating.add(key)
            return
        if node not in self._nodes:
            self._orphans.setdefault(node, set()).add(key)
            self._hold()

    # -- the loop -------------------------------------------------------------------------------
    def _run(self):
        while True:
            self.gc()
            yield self._sleep()

    def _sleep(self):
        """Sleep until the next pass: a daemon timeout, unless an orphan is waiting to be deleted."""
        wake = self.env.event()
        self._wake = wake
        self._next_pass = self.env.now + GC_CHECK_SECONDS
        self._held = self._has_pending_orphans()
        sleep = self.env.timeout if self._held else self.env.daemon_timeout
        timer = sleep(GC_CHECK_SECONDS)
        timer.callbacks.append(lambda _ev: wake.succeed() if not wake.triggered else None)
        return wake

    def _hold(self) -> None:
        """An orphan appeared while the loop sleeps on a daemon timeout: make the wait count as work.

        Checked once the current instant's calls are done, so that a pod applied just before its
        Node (in the same instant) holds nothing."""
        if self._wake is None or self._held or self._wake.triggered or self._checking:
            return
        self._checking = True
        self.env.timeout(0).callbacks.append(self._hold_if_pending)

    def _hold_if_pending(self, _ev: Any) -> None:
        self._checking = False
        wake = self._wake
        if self._held or wake.triggered or not self._has_pending_orphans():
            return
        self._held = True
        keep = self.env.timeout(max(0.0, self._next_pass - self.env.now))
        keep.callbacks.append(lambda _ev: wake.succeed() if not wake.triggered else None)

    def _has_pending_orphans(self) -> bool:
        """Some pod bound to a missing node that PodGC has not yet failed and deleted."""
        for keys in self._orphans.values():
            for ns, name in keys:
                pod = self.api.peek("Pod", name, ns)
                if pod is not None and not (pod["metadata"].get("deletionTimestamp")
                                            and (pod.get("status") or {}).get("phase") == "Failed"):
                    return True
        return False

    def gc(self) -> None:
        """One pass (``gc``): terminated, terminating on out-of-service nodes, orphaned, unscheduled."""
        self.passes += 1
        if self.threshold > 0 and len(self._terminated) > self.threshold:
            self._gc_terminated()
        if self._out_of_service:
            self._gc_terminating()
        self._gc_orphaned()
        for ns, name in sorted(self._unscheduled_terminating):
            pod = self.api.peek("Pod", name, ns)
            if pod is not None and pod["metadata"].get("deletionTimestamp") \
                    and not pod["spec"].get("nodeName"):
                self._mark_failed_and_delete(pod)

    def _gc_terminated(self) -> None:
        pods = [p for ns, name in self._terminated if (p := self.api.peek("Pod", name, ns)) is not None]
        excess = len(pods) - self.threshold
        if excess <= 0:
            return
        # byEvictionAndCreationTimestamp: evicted pods first, then the oldest, names breaking ties.
        pods.sort(key=lambda p: ((p.get("status") or {}).get("reason") != "Evicted",
                                 p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        for pod in pods[:excess]:
            self._mark_failed_and_delete(pod)

    def _gc_terminating(self) -> None:
        doomed = []
        for pod in self.api.items("Pod"):
            node = pod["spec"].get("nodeName")
            if not pod["metadata"].get("deletionTimestamp") or node not in self._out_of_service:
                continue
            obj = self.api.peek("Node", node)
            if obj is not None and not _node_ready(obj):
                doomed.append(pod)
        doomed.sort(key=lambda p: ((p.get("status") or {}).get("reason") != "Evicted",
                                   p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        for pod in doomed:
            self._mark_failed_and_delete(pod)

    def _gc_orphaned(self) -> None:
        now = self.env.now
        for node, keys in self._orphans.items():
            if keys and node not in self._quarantine:
                self._quarantine[node] = now + QUARANTINE_SECONDS  # nodeQueue.AddAfter (no-op if queued)
        # discoverDeletedNodes: every node name whose quarantine is over, checked with a GET.
        ready = sorted(n for n, at in self._quarantine.items() if at <= now + 1e-9)
        deleted = []
        for node in ready:
            del self._quarantine[node]
            if node not in self._nodes and self.api.peek("Node", node) is None:
                deleted.append(node)
        for node in deleted:
            for ns, name in sorted(self._orphans.get(node, ())):
                pod = self.api.peek("Pod", name, ns)
                if pod is not None and pod["spec"].get("nodeName") == node:
                    self._mark_failed_and_delete(pod, orphan=True)
        for node in [n for n, keys in self._orphans.items() if not keys]:
            del self._orphans[node]

    def _mark_failed_and_delete(self, pod: dict[str, Any], orphan: bool = False) -> None:
        """``markFailedAndDeletePodWithCondition``: ``Failed`` (and the condition) first, then DELETE
        with grace period 0."""
        meta = pod["metadata"]
        name, ns = meta["name"], meta["namespace"]
        try:
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                now = timestamp(self.env.now)

                def failed(st: dict[str, Any]) -> None:
                    st["phase"] = "Failed"
                    if orphan:
                        update_pod_condition(st, {"type": "DisruptionTarget", "status": "True",
                                               "lastProbeTime": None, "lastTransitionTime": now,
                                               "reason": ORPHAN_REASON, "message": ORPHAN_MESSAGE})

                self.api.mutate_status("Pod", name, ns, failed)
            self.api.delete("Pod", name, ns, grace_period_seconds=0)
        except NotFound:
            pass  # gone meanwhile: "ignore not founds"


def _node_ready(node: dict[str, Any]) -> bool:
    """``nodeutil.IsNodeReady``: the Ready condition is True."""
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])

"""The kubelet's pod admission: may this pod run on this node, next to the pods already admitted?

Upstream: ``pkg/kubelet/lifecycle/predicate.go`` (``predicateAdmitHandler.Admit``,
``generalFilter``) over ``pkg/scheduler.AdmissionCheck`` (``noderesources.Fits``, then
NodeAffinity, NodeName, NodePorts) and, for the kubelet only, untolerated ``NoExecute`` taints.
The scheduler never places a pod where it does not fit, but a pod created with ``spec.nodeName``
skips the scheduler, so the kubelet is the one that refuses it: ``kubelet.go: rejectPod`` records
a Warning event with the reason and message and sets the pod ``Failed`` with the same reason and
``Pod was rejected: <message>``.

The other pods are the node's *active* pods: admitted, not terminal (``filterOutInactivePods``);
a pod being deleted still counts until it is gone. Only the first failure is reported, in
upstream's order: pod count, cpu, memory, ephemeral-storage, other resources (sorted by name
here: Go walks a map), node affinity/selector, host ports, NoExecute taints.

Simplifications: the OS checks compare with ``linux`` (every simulated node runs Linux); the
kubelet's device, topology and eviction admit handlers are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.api.quantity import resource_amount
from labkit.scheduler.plugins.helper import find_untolerated
from labkit.scheduler.podinfo import PodInfo

__all__ = ["Admission", "Rejection", "NODE_AFFINITY_REASON", "NODE_PORTS_REASON", "TAINT_REASON",
           "rejection_message"]

#: ``nodeaffinity.ErrReasonPod``, ``nodeports.ErrReason``, ``tainttoleration.ErrReasonNotMatch``.
NODE_AFFINITY_REASON = "node(s) didn't match Pod's node affinity/selector"
NODE_PORTS_REASON = "node(s) didn't have free ports for the requested pod ports"
TAINT_REASON = "node(s) had taints that the pod didn't tolerate"
#: predicate.go: ``OutOfCPU`` ... ``OutOfPods``; any other resource is ``"OutOf" + name``.
_FIRST = ("pods", "cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True)
class Rejection:
    """Why the kubelet refused a pod: the event's and the status's ``reason``, and the message."""

    reason: str
    message: str

    @property
    def status_message(self) -> str:
        """``rejectPod``: the pod's ``status.message``."""
        return rejection_message(self.message)


def rejection_message(message: str) -> str:
    """``kubelet.go: rejectPod`` prefixes the admission message for ``status.message``."""
    return f"Pod was rejected: {message}"


def _is_extended(name: str) -> bool:
    """``v1helper.IsExtendedResourceName``: not native (a ``/``, not ``kubernetes.io/``), no ``requests.``."""
    return not ("/" not in name or "kubernetes.io/" in name or name.startswith("requests."))


@dataclass
class _Admitted:
    requests: dict[str, int]
    ports: list[tuple[str, str, int]]
    namespace: str
    name: str


class Admission:
    """The admitted pods of one node and the check a new pod must pass to join them."""

    def __init__(self) -> None:
        self.pods: dict[str, _Admitted] = {}  # pod uid -> what it holds
        self.used: dict[str, int] = {}

    def __contains__(self, uid: str) -> bool:
        return uid in self.pods

    def add(self, uid: str, info: PodInfo, namespace: str, name: str) -> None:
        if uid in self.pods:
            return
        self.pods[uid] = _Admitted(info.requests, info.host_ports, namespace, name)
        for res, amount in info.requests.items():
            self.used[res] = self.used.get(res, 0) + amount

    def remove(self, uid: str) -> None:
        gone = self.pods.pop(uid, None)
        if gone is not None:
            for res, amount in gone.requests.items():
                self.used[res] -= amount

    def check(self, pod: dict[str, Any], info: PodInfo, node: dict[str, Any]) -> Rejection | None:
        """``predicateAdmitHandler.Admit``: None when the pod may run, else the first failure."""
        labels = pod["metadata"].get("labels") or {}
        if labels.get("kubernetes.io/os", "linux") != "linux":
            return Rejection("PodOSSelectorNodeLabelDoesNotMatch",
                             "Failed to admit pod as the `kubernetes.io/os` label doesn't match node label")
        os_name = ((pod["spec"].get("os") or {}).get("name"))
        if os_name is not None and os_name != "linux":
            return Rejection("PodOSNotSupported", "Failed to admit pod as the OS field doesn't match node OS")
        status = node.get("status") or {}
        alloc_raw = status.get("allocatable") or status.get("capacity") or {}
        alloc = {res: resource_amount(res, value) for res, value in alloc_raw.items()}
        failure = self._fits(info, alloc)
        if failure is not None:
            return failure
        return self._predicates(info, node)

    def _fits(self, info: PodInfo, alloc: dict[str, int]) -> Rejection | None:
        # removeMissingExtendedResources: an extended resource the node does not advertise is
        # dropped (cluster-level resources), so it never fails admission.
        req = {r: v for r, v in info.requests.items() if not (_is_extended(r) and r not in alloc)}
        # noderesources.Fits (fitsRequest): the pod count first, then the requested resources.
        if len(self.pods) + 1 > alloc.get("pods", 0):
            return _insufficient("pods", 1, len(self.pods), alloc.get("pods", 0))
        if not any(req.values()):
            return None
        for res in _FIRST[1:]:
            want = req.get(res, 0)
            used, cap = self.used.get(res, 0), alloc.get(res, 0)
            if want > 0 and want > cap - used:
                return _insufficient(res, want, used, cap)
        for res in sorted(r for r in req if r not in _FIRST):
            want = req[res]
            used, cap = self.used.get(res, 0), alloc.get(res, 0)
            if want > 0 and want > cap - used:
                return _insufficient(res, want, used, cap)
        return None

    def _predicates(self, info: PodInfo, node: dict[str, Any]) -> Rejection | None:
        if info.node_selector or (info.affinity.get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution") is not None:
            from labkit.scheduler.nodetable import NodeTable
            from labkit.scheduler.plugins.nodeaffinity import required_node_affinity_mask

            table = NodeTable()
            table.set_node(node)
            if not bool(required_node_affinity_mask(table, info.node_selector, info.affinity)[0]):
                return _predicate("NodeAffinity", NODE_AFFINITY_REASON)
        if info.host_ports:
            from labkit.scheduler.plugins.simple import _conflict

            used = [p for a in self.pods.values() for p in a.ports]
            if any(_conflict(w, u) for w in info.host_ports for u in used):
                return _predicate("NodePorts", NODE_PORTS_REASON)
        taints = tuple((t.get("key", ""), t.get("value", "") or "", t.get("effect", ""))
                       for t in (node.get("spec") or {}).get("taints") or [])
        # generalFilter: the kubelet is only interested in NoExecute taints.
        if taints and find_untolerated(taints, info.tolerations, ("NoExecute",)):
            return _predicate("TaintToleration", TAINT_REASON)
        return None


def _insufficient(resource: str, requested: int, used: int, capacity: int) -> Rejection:
    """``InsufficientResourceError``: reason ``OutOf<resource>``."""
    return Rejection(f"OutOf{resource}", f"Node didn't have enough resource: {resource}, requested: "
                     f"{requested}, used: {used}, capacity: {capacity}")


def _predicate(name: str, desc: str) -> Rejection:
    """``PredicateFailureError``: the plugin's name is the reason."""
    return Rejection(name, f"Predicate {name} failed: {desc}")

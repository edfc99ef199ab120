"""The kubelet's heartbeats: the node Lease and the node status, for every node at once.

Two things tell the control plane a node is alive (``pkg/kubelet/kubelet_node_status.go``,
``pkg/kubelet/nodestatus/setters.go``, ``staging/src/k8s.io/component-helpers/apimachinery/
lease/controller.go``):

- the node's ``coordination.k8s.io/v1`` Lease in ``kube-node-lease``, renewed every 25% of
  ``nodeLeaseDurationSeconds`` (40 s), i.e. every 10 s: the cheap, frequent heartbeat;
- the node status, recomputed every ``nodeStatusUpdateFrequency`` (10 s) and written only when
  it changed or ``nodeStatusReportFrequency`` (5 min) has passed since the last write; the
  write stamps ``lastHeartbeatTime`` on every condition.

The node lifecycle controller (:mod:`labkit.controllers.nodelifecycle`) reads both. This
component is separate from the pod-running kubelets (:mod:`labkit.node.kubelet`) so that
hollow nodes (``Cluster(kubelets=False)``) report too, as kubemark's hollow kubelets do. It
is one daemon loop for all nodes, not a process per node, so a 5,000-node cluster costs one
SimPy event per 10 s. A simulated kubelet is always healthy: it posts the conditions of a
node with enough memory, disk and PIDs and a working runtime.

Simplifications: all nodes renew on the same 10 s grid (real kubelets are spread out and
jittered by 4%); the kubelet's start-up events (``Starting``, ``NodeAllocatableEnforced``) are
not emitted for the nodes a pool creates, which appear already registered and Ready.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.api.server import NotFound
from labkit.api.store import WatchEvent, timestamp

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["NodeHeartbeats", "NODE_LEASE_NAMESPACE", "LEASE_DURATION_SECONDS", "LEASE_RENEW_SECONDS",
           "STATUS_UPDATE_SECONDS", "STATUS_REPORT_SECONDS", "KUBELET_CONDITIONS"]

NODE_LEASE_NAMESPACE = "kube-node-lease"
#: kubelet ``nodeLeaseDurationSeconds`` (``pkg/kubelet/apis/config/v1beta1/defaults.go``).
LEASE_DURATION_SECONDS = 40
#: ``nodeLeaseRenewIntervalFraction`` 0.25 (``pkg/kubelet/kubelet.go``).
LEASE_RENEW_SECONDS = LEASE_DURATION_SECONDS * 0.25
#: kubelet ``nodeStatusUpdateFrequency`` and ``nodeStatusReportFrequency``.
STATUS_UPDATE_SECONDS = 10.0
STATUS_REPORT_SECONDS = 300.0

#: What a healthy kubelet posts, in the order its setters run (``defaultNodeStatusFuncs``):
#: (type, status, reason, message, event recorded when the condition changes to this).
KUBELET_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
     "NodeHasSufficientMemory"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure",
     "NodeHasNoDiskPressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available",
     "NodeHasSufficientPID"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status", "NodeReady"),
)


class NodeHeartbeats:
    """Lease renewals and node status reports of every node's kubelet.

    :meth:`stop` is a kubelet that died (or lost the network): its Lease and status stop
    changing, and the node lifecycle controller notices after its grace period.
    :meth:`resume` is the kubelet back: it posts its status at once (conditions back to
    healthy, one event per changed condition) and renews its Lease.
    """

    component = "kubelet"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        self.env = env
        self.api = api
        self.recorder = recorder
        self._last_report: dict[str, float] = {}  # node -> when its kubelet last wrote the status
        self._last_renew: dict[str, float] = {}  # node -> when it last renewed its Lease
        self._checked: dict[str, dict[str, Any]] = {}  # node -> the Node object its status was checked on
        self._stopped: set[str] = set()
        self.writes = 0  # Lease and status writes, for cost measurements
        api.watch("Node", self._on_node)
        env.process(self._loop())

    def _on_node(self, ev: WatchEvent) -> None:
        name = ev.object["metadata"]["name"]
        if ev.type == "ADDED":
            # Registration is the kubelet's first status post (the manifest carries the conditions).
            self._last_report[name] = float(self.env.now)
        elif ev.type == "DELETED":
            self._last_report.pop(name, None)
            self._last_renew.pop(name, None)
            self._checked.pop(name, None)
            self._stopped.discard(name)

    def stopped(self, node: str) -> bool:
        """Whether ``node``'s kubelet is stopped."""
        return node in self._stopped

    def stop(self, node: str) -> None:
        """The kubelet of ``node`` stops: no more Lease renewals or status posts.

        The Lease it leaves behind expires ``leaseDurationSeconds`` after its last renewal. That
        expiry is held as work (an ordinary timeout), so ``c.run()`` goes on past the first
        missed renewals instead of returning while only heartbeats remain; from then on the node
        lifecycle controller holds its own passes until it has acted.
        """
        self._stopped.add(node)
        expires = self._last_renew.get(node, float(self.env.now)) + LEASE_DURATION_SECONDS
        self.env.timeout(max(expires - self.env.now, 0.0))

    def resume(self, node: str) -> None:
        """The kubelet of ``node`` is back: post the node status and renew the Lease now."""
        self._stopped.discard(node)
        now = float(self.env.now)
        self._beat(node, now, timestamp(now, micro=True))

    def _loop(self):
        # One loop for all nodes; it sleeps on daemon timeouts so heartbeats alone never keep
        # Cluster.run() going (labkit.sim).
        while True:
            now = float(self.env.now)
            renew = timestamp(now, micro=True)
            for node in list(self._last_report):
                if node not in self._stopped:
                    self._beat(node, now, renew)
            yield self.env.daemon_timeout(LEASE_RENEW_SECONDS)

    def _beat(self, node: str, now: float, renew: str) -> None:
        obj = self.api.peek("Node", node)
        if obj is None:
            return
        # Nothing to compare while the Node is the object last checked, until the report is due.
        if obj is not self._checked.get(node) or now - self._last_report[node] >= STATUS_REPORT_SECONDS:
            self._sync_status(obj, now)
        self._renew_lease(obj, now, renew)

    # -- node status: kubelet_node_status.go tryUpdateNodeStatus ---------------------------------
    def _sync_status(self, node: dict[str, Any], now: float) -> None:
        """Write the status if a condition changed or the report period passed (``shouldPatchNodeStatus``)."""
        name = node["metadata"]["name"]
        current = {c["type"]: c for c in (node.get("status") or {}).get("conditions") or []}
        changed = [spec for spec in KUBELET_CONDITIONS if _differs(current.get(spec[0]), spec)]
        if not changed and now - self._last_report.get(name, now) < STATUS_REPORT_SECONDS:
            self._checked[name] = node
            return
        stamp = timestamp(now)

        def post(status: dict[str, Any]) -> None:
            conds = status.setdefault("conditions", [])
            by_type = {c["type"]: c for c in conds}
            for type_, state, reason, message, _ in KUBELET_CONDITIONS:
                cond = by_type.get(type_)
                if cond is None:
                    cond = {"lastHeartbeatTime": stamp, "lastTransitionTime": stamp, "message": message,
                            "reason": reason, "status": state, "type": type_}
                    conds.append(cond)
                if cond["status"] != state:
                    cond["lastTransitionTime"] = stamp
                cond.update(lastHeartbeatTime=stamp, message=message, reason=reason, status=state)

        self._checked[name] = self.api.mutate_status("Node", name, None, post)
        self._last_report[name] = now
        self.writes += 1
        # setters.go records an event when a condition's status changes (recordNodeStatusEvent):
        # "Node <node> status is now: <event>" against the kubelet's nodeRef (its uid is the node name).
        ref = {"apiVersion": "", "kind": "Node", "metadata": {"name": name, "uid": name}}
        for type_, state, _, _, event in changed:
            old = current.get(type_)
            if old is not None and old["status"] != state:
                message = f"Node {name} status is now: {event}"
                self.recorder.emit(ref, "Normal", event, message, self.component, host=name)

    # -- Lease: component-helpers/apimachinery/lease/controller.go --------------------------------
    def _renew_lease(self, node: dict[str, Any], now: float, renew: str) -> None:
        name = node["metadata"]["name"]
        try:
            self.api.update_fields("Lease", name, NODE_LEASE_NAMESPACE, "spec", {"renewTime": renew})
        except NotFound:
            # ensureLease / newLease: named after the node, owned by the Node object.
            self.api.create({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": name, "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}]},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                         "renewTime": renew},
            })
        self._last_renew[name] = now
        self.writes += 1


def _differs(cond: dict[str, Any] | None, spec: tuple[str, ...]) -> bool:
    """``nodeStatusHasChanged`` for one condition: anything but the heartbeat time differs."""
    _, state, reason, message, _ = spec
    return cond is None or cond["status"] != state or cond.get("reason") != reason \
        or cond.get("message") != message

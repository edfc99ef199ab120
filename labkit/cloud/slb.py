"""Alibaba Cloud SLB (CLB) for ``LoadBalancer`` Services: ACK's cloud controller manager.

Upstream: the service controller of ``k8s.io/cloud-provider`` (``controllers/service/controller.go``:
the ``EnsuringLoadBalancer`` / ``EnsuredLoadBalancer`` events and ``status.loadBalancer``), run on ACK
by ``cloud-provider-alibaba-cloud``, which creates one CLB instance per Service with a listener per
Service port forwarding to every backend node's ``nodePort``.

What a request meets on that path is modelled in :mod:`labkit.workloads.engine`: the listener
sends each new connection round robin (CLB's ``rr`` scheduler) to a healthy backend node; with
``externalTrafficPolicy: Cluster`` every node is a backend, and the node's kube-proxy may send the
connection on to a pod on another node (an extra hop, and the pod sees the node's IP, not the
client's); with ``Local`` only nodes whose kube-proxy has a local endpoint pass the health check
(the Service's ``healthCheckNodePort``), the client's IP is kept and there is no extra hop.

Simplifications: provisioning takes :data:`PROVISION_SECONDS`; health checks see a change at once;
the addresses come from the documentation range 203.0.113.0/24 (RFC 5737) for Internet-facing
CLBs and from 10.0.254.0/24 of the VPC for ``intranet`` ones
(``service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type: intranet``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.api.store import WatchEvent
from labkit.controllers.runtime import Controller

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["LoadBalancerController", "PROVISION_SECONDS", "ADDRESS_TYPE"]

#: Creating a CLB instance and its listeners (illustrative).
PROVISION_SECONDS = 5.0
ADDRESS_TYPE = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-address-type"


class LoadBalancerController(Controller):
    """The cloud controller manager's service controller, for Alibaba Cloud CLB."""

    component = "service-controller"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        super().__init__(env, api, recorder)
        self._addresses: dict[tuple[str, str], str] = {}  # (namespace, name) -> address
        self._provisioning: dict[tuple[str, str], float] = {}  # key -> when its CLB is ready
        self._next = {"internet": 10, "intranet": 10}
        self.watch("Service", self._key)

    @staticmethod
    def _key(ev: WatchEvent) -> tuple[str, str]:
        meta = ev.object["metadata"]
        return (meta.get("namespace", "default"), meta["name"])

    def sync(self, key: Any) -> None:
        ns, name = key
        svc = self.api.peek("Service", name, ns)
        wants = svc is not None and (svc.get("spec") or {}).get("type") == "LoadBalancer" and \
            svc["metadata"].get("deletionTimestamp") is None
        have = self._addresses.get(key)
        if not wants:
            if have is not None:
                del self._addresses[key]
                if svc is not None:
                    self.event(svc, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
                    self.api.mutate_status("Service", name, ns, lambda st: st.update({"loadBalancer": {}}))
                    self.event(svc, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
            self._provisioning.pop(key, None)
            return
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if have is not None and ingress:
            return
        ready = self._provisioning.get(key)
        if ready is None:
            self._provisioning[key] = self.env.now + PROVISION_SECONDS
            self.event(svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
            self.queue.add_after(key, PROVISION_SECONDS)
            return
        if self.env.now < ready:
            return
        del self._provisioning[key]
        kind = "intranet" if (svc["metadata"].get("annotations") or {}).get(ADDRESS_TYPE) == "intranet" \
            else "internet"
        address = have or self._allocate(kind)
        self._addresses[key] = address
        self.api.mutate_status("Service", name, ns, lambda st: st.update(
            {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}}))
        self.event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")

    def _allocate(self, kind: str) -> str:
        n = self._next[kind]
        self._next[kind] = n + 1
        return f"203.0.113.{n}" if kind == "internet" else f"10.0.254.{n}"

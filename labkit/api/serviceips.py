"""ClusterIP and NodePort allocation: what kube-apiserver's Service registry does on a write.

Upstream (v1.36): ``pkg/registry/core/service/storage/storage.go`` (``beginCreate``,
``beginUpdate``, ``patchAllocatedValues``, ``normalizeClusterIPs``), ``storage/alloc.go``
(``allocateCreate``, ``allocateUpdate``, ``initNodePorts``, ``updateNodePorts``,
``updateHealthCheckNodePort``), ``ipallocator/ipallocator.go`` and ``cidrallocator.go`` (the
IPAddress allocator, the only one since ``DisableAllocatorDualWrite`` was locked on in v1.35),
``portallocator/allocator.go`` with ``allocator/bitmap.go``, and the update rules of
``pkg/apis/core/validation/validation.go`` (``validateUpgradeDowngradeClusterIPs``).

What it reproduces:

- The service CIDR is :data:`SERVICE_CIDR`, ``172.21.0.0/20``: the default the ACK console
  proposes for a new cluster's Service CIDR (``--service-cluster-ip-range``). Its network and
  broadcast addresses are never handed out, so the range is 172.21.0.1-172.21.15.254.
- A Service of type ClusterIP, NodePort or LoadBalancer without ``spec.clusterIP`` gets one,
  drawn at random as ``allocateNextService`` draws it: KEP-3070's static subrange keeps the
  lowest ``min(max(16, size/16), 256)`` = 256 addresses (172.21.0.1-172.21.1.0) for addresses
  people ask for, so a dynamic allocation picks a random start in the upper band and takes the
  first free address from there (wrapping), and falls back to the lower band only when the
  upper one is full. The draw comes from the cluster's seeded RNG, so a seed gives the same
  addresses. Both ``spec.clusterIP`` and ``spec.clusterIPs`` are set. Headless Services
  (``clusterIP: None``) keep ``None`` (``clusterIPs: ["None"]``); ExternalName gets nothing.
- A requested address is honoured when it is free and in range; otherwise the write is refused
  at ``spec.clusterIPs`` with upstream's words: ``failed to allocate IP 172.21.0.10: provided IP
  is already allocated``, or, outside the range, ``failed to allocate IP 10.0.0.5: the provided
  network does not match the current range`` (the IPAddress allocator's ``ErrMismatchedNetwork``:
  it no longer names the range, so labkit adds it in brackets; the network and broadcast
  addresses count as outside).
- NodePort Services, and LoadBalancer Services unless ``allocateLoadBalancerNodePorts: false``,
  get a ``nodePort`` per port from 30000-32767 (``--service-node-port-range``) when none is
  given: a random start in the upper band (KEP-3668: the lowest ``min(max(16, 2768/32), 128)``
  = 86 ports, 30000-30085, are kept for requests), the first free port from there. Ports of one
  Service with the same port number (53/UDP and 53/TCP) share a node port. A requested port is
  honoured if free; a port another Service holds is refused at ``spec.ports[i].nodePort``:
  ``provided port is already allocated``. A LoadBalancer with ``externalTrafficPolicy: Local``
  also gets a ``healthCheckNodePort``.
- On an update (``kubectl apply`` of the same manifest again) the values allocated earlier are
  kept when the new object leaves them out (``patchAllocatedValues``: the clusterIP, and node
  ports matched by port name). Changing ``clusterIP`` is refused: ``spec.clusterIPs[0]: Invalid
  value: may not change once set``. ClusterIP -> NodePort allocates node ports, NodePort ->
  ClusterIP releases them; ExternalName -> ClusterIP allocates an address and back releases it.
- Allocations are *provisional* while an ``apply`` call is checked (:class:`Reservations`): they
  become real only when the call commits, when the stored Service is seen by
  :meth:`ServiceAllocator.observe`. A refused document therefore leaves nothing allocated, and
  deleting a Service (by any path: ``kubectl delete``, the garbage collector, a namespace being
  deleted) releases its addresses and ports.

Simplified: single-stack IPv4 only (an IPv6 address, ``ipFamilies: [IPv6]`` or
``RequireDualStack`` is refused as a single-stack cluster refuses it); no ServiceCIDR or
IPAddress objects are stored; ``PreferDualStack`` stays single-stack as in such a cluster.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import Any

from labkit.errors import ManifestError

__all__ = ["SERVICE_CIDR", "NODE_PORT_RANGE", "KUBERNETES_SERVICE_IP", "DNS_SERVICE_IP", "ServiceAllocator",
           "Reservations", "indexed_ip"]

#: ACK's console default for a new cluster's Service CIDR (``--service-cluster-ip-range``).
SERVICE_CIDR = "172.21.0.0/20"
#: kube-apiserver's ``--service-node-port-range`` default (``kubeapiserver/options``).
NODE_PORT_RANGE = (30000, 32767)

_NET = ipaddress.IPv4Network(SERVICE_CIDR)


def indexed_ip(n: int) -> str:
    """``netutils.GetIndexedIP(serviceCIDR, n)``: the n-th address of the service CIDR."""
    return str(_NET.network_address + n)


#: ``controlplane.ServiceIPRange``: the ``kubernetes`` Service takes the first address.
KUBERNETES_SERVICE_IP = indexed_ip(1)
#: kubeadm's and ACK's convention for the cluster DNS Service (``kube-dns``): the tenth address.
DNS_SERVICE_IP = indexed_ip(10)

Key = tuple[str, str]  # (namespace, name)


def _range_offset(size: int, lo: int, step: int, hi: int) -> int:
    """``calculateRangeOffset``: ``min(max(lo, size/step), hi)``, 0 for a range of at most ``lo``."""
    if size <= lo:
        return 0
    return min(max(lo, size // step), hi)


@dataclass
class Reservations:
    """One write's provisional allocations (an ``apply`` call shares one across its documents).

    ``keys`` are the Services this call has prepared: their committed allocations no longer
    count, only what the call gave them (``ips``, ``ports``).
    """

    ips: dict[int, Key] = field(default_factory=dict)
    ports: dict[int, Key] = field(default_factory=dict)
    keys: set[Key] = field(default_factory=set)


def _needs_node_ports(spec: dict[str, Any]) -> bool:
    """``storage.go: needsNodePort`` / ``alloc.go: shouldAllocateNodePorts``."""
    t = spec.get("type")
    if t == "NodePort":
        return True
    return t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def _needs_health_check(spec: dict[str, Any]) -> bool:
    """``apiservice.NeedsHealthCheck``: a LoadBalancer with ``externalTrafficPolicy: Local``."""
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _parse_ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class ServiceAllocator:
    """The registry's ClusterIP and NodePort allocators, kept current from the Service watch.

    Parameters
    ----------
    rng:
        The seeded source of dynamic allocations (``a.rand`` upstream).
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._first = int(_NET.network_address) + 1            # the network address is never handed out
        self._last = int(_NET.broadcast_address) - 1           # nor, for IPv4, the broadcast address
        size = self._last - self._first + 1                    # hostsPerNetwork
        self._ip_offset = _range_offset(_NET.num_addresses, 16, 16, 256)
        self._ip_upper = size - self._ip_offset
        lo, hi = NODE_PORT_RANGE
        self._port_base, self._port_max = lo, hi - lo + 1
        self._port_offset = _range_offset(self._port_max, 16, 32, 128)
        self.ips: dict[int, Key] = {}                          # committed: address -> Service
        self.ports: dict[int, Key] = {}                        # committed: node port -> Service
        self._held: dict[Key, tuple[list[int], list[int]]] = {}

    # -- the committed state, from the store's watch ------------------------------------------
    def observe(self, ev: Any) -> None:
        """Watch handler: record what a stored Service holds, release what a deleted one held."""
        meta = ev.object["metadata"]
        key = (meta.get("namespace") or "default", meta["name"])
        for ip in self._held.get(key, ((), ()))[0]:
            if self.ips.get(ip) == key:
                del self.ips[ip]
        for port in self._held.get(key, ((), ()))[1]:
            if self.ports.get(port) == key:
                del self.ports[port]
        self._held.pop(key, None)
        if ev.type == "DELETED":
            return
        ips, ports = self._holdings(ev.object.get("spec") or {})
        self._held[key] = (ips, ports)
        for ip in ips:
            self.ips[ip] = key
        for port in ports:
            self.ports[port] = key

    def _holdings(self, spec: dict[str, Any]) -> tuple[list[int], list[int]]:
        ips = []
        if spec.get("type") != "ExternalName":
            for text in spec.get("clusterIPs") or []:
                ip = _parse_ip(text)
                if ip is not None and ip.version == 4 and self._first <= int(ip) <= self._last:
                    ips.append(int(ip))
        ports = [p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")]
        if spec.get("healthCheckNodePort"):
            ports.append(spec["healthCheckNodePort"])
        return ips, ports

    def _owner(self, committed: dict[int, Key], provisional: dict[int, Key], value: int, res: Reservations
               ) -> Key | None:
        owner = provisional.get(value)
        if owner is not None:
            return owner
        owner = committed.get(value)
        return None if owner in res.keys else owner  # prepared in this call without that value

    # -- one write --------------------------------------------------------------------------
    def prepare(self, svc: dict[str, Any], old: dict[str, Any] | None, res: Reservations, *,
                dry_run: bool = False) -> None:
        """Fill in ``spec.clusterIP(s)`` and node ports of ``svc`` (defaulted, validated) in place,
        reserving them in ``res``; ``old`` is the stored Service for an update. Raises
        :class:`labkit.ManifestError` as the registry refuses the write. ``dry_run`` checks
        requested values but draws nothing."""
        meta, spec = svc["metadata"], svc["spec"]
        key = (meta.get("namespace") or "default", meta["name"])
        ospec = (old or {}).get("spec")
        if ospec is not None:
            _patch_allocated_values(spec, ospec)
        _normalize_cluster_ips(spec, ospec)
        self._check_ip_fields(spec)
        op: set[int] = set()  # node ports this write has claimed (the PortAllocationOperation)
        self._cluster_ips(key, spec, ospec, res, dry_run)
        if ospec is None:
            self._init_node_ports(key, spec, res, op, dry_run)
        else:
            self._update_node_ports(key, spec, ospec, res, op, dry_run)
        if _needs_health_check(spec):
            kept = ospec is not None and _needs_health_check(ospec) and spec.get("healthCheckNodePort") \
                == ospec.get("healthCheckNodePort")
            if not kept:
                self._health_check_port(key, spec, res, op, dry_run)
        if ospec is not None:
            _check_immutable_ips(spec, ospec)
        if dry_run:
            return
        # What the Service holds once this write commits; what its old version held and this one
        # does not is released then (ReleaseDeferred).
        ips, ports = self._holdings(spec)
        res.keys.add(key)
        for ip in ips:
            res.ips[ip] = key
        for port in ports:
            res.ports[port] = key

    def _check_ip_fields(self, spec: dict[str, Any]) -> None:
        """``ValidateServiceClusterIPsRelatedFields`` and ``initIPFamilyFields`` for a single-stack
        IPv4 cluster (after normalization)."""
        if spec.get("type") == "ExternalName":
            return
        ips = spec.get("clusterIPs") or []
        if spec.get("clusterIP"):
            if not ips:
                raise ManifestError("spec.clusterIPs", ips, "Required value")
            if ips[0] != spec["clusterIP"]:
                raise ManifestError("spec.clusterIPs", ips,
                                    "Invalid value: first value must match `clusterIP`")
        elif ips:
            raise ManifestError("spec.clusterIPs", ips,
                                "Invalid value: must be empty when `clusterIP` is not specified")
        for i, text in enumerate(ips):
            if i == 0 and text == "None":
                if len(ips) > 1:
                    raise ManifestError("spec.clusterIPs", ips,
                                        "Invalid value: 'None' must be the first and only value")
                continue
            ip = _parse_ip(text)
            if ip is None:
                raise ManifestError(f"spec.clusterIPs[{i}]", text, "Invalid value: must be a valid IP "
                                    "address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        if len(ips) > 2:
            raise ManifestError("spec.clusterIPs", ips, "Invalid value: may only hold up to 2 values")
        headless_selectorless = ips[:1] == ["None"] and not spec.get("selector")
        if headless_selectorless:
            return  # no address to allocate: RequireDualStack is fine (initIPFamilyFields)
        if spec.get("ipFamilyPolicy") == "RequireDualStack":
            raise ManifestError("spec.ipFamilyPolicy", "RequireDualStack",
                                "Invalid value: this cluster is not configured for dual-stack services")
        for i, fam in enumerate(spec.get("ipFamilies") or []):
            if fam != "IPv4":
                raise ManifestError(f"spec.ipFamilies[{i}]", fam,
                                    "Invalid value: not configured on this cluster")
        for i, text in enumerate(ips):
            ip = _parse_ip(text)
            if ip is not None and ip.version == 6:
                raise ManifestError(f"spec.clusterIPs[{i}]", ips,
                                    "Invalid value: IPv6 is not configured on this cluster")

    def _cluster_ips(self, key: Key, spec: dict[str, Any], ospec: dict[str, Any] | None, res: Reservations,
                     dry_run: bool) -> None:
        """``allocClusterIPs`` on create (and on an update from ExternalName); on other updates the
        address stays (``updateClusterIPs``)."""
        if spec.get("type") == "ExternalName":
            return
        ips = spec.get("clusterIPs") or []
        if ips[:1] == ["None"] or (ospec is not None and ospec.get("type") != "ExternalName"):
            return
        if ips:
            text = ips[0]
            ip = int(ipaddress.IPv4Address(text))
            why = None
            if not self._first <= ip <= self._last:
                # cidrallocator.go: getAllocator finds no ServiceCIDR that contains the address
                # (PrefixContainsIP leaves out the network and, for IPv4, the broadcast address).
                why = (f"the provided network does not match the current range (this cluster's service "
                       f"CIDR is {SERVICE_CIDR}: {_NET.network_address + 1}-{_NET.broadcast_address - 1})")
            elif self._owner(self.ips, res.ips, ip, res) not in (None, key):
                why = "provided IP is already allocated"
            if why is not None:
                raise ManifestError("spec.clusterIPs", ips,
                                    f"Invalid value: failed to allocate IP {text}: {why}")
            return
        if dry_run:
            return
        spec["clusterIP"] = str(ipaddress.IPv4Address(self._next_ip(key, res)))
        spec["clusterIPs"] = [spec["clusterIP"]]

    def _next_ip(self, key: Key, res: Reservations) -> int:
        """``allocateNextService``: a random start in the upper band, the first free address from
        there (wrapping within the band); the lower band only when the upper one is full."""
        def free(ip: int) -> bool:
            return self._owner(self.ips, res.ips, ip, res) in (None, key)

        upper_first = self._first + self._ip_offset
        start = self._rng.randrange(self._ip_upper)
        for i in range(self._ip_upper):
            ip = upper_first + (start + i) % self._ip_upper
            if free(ip):
                return ip
        if self._ip_offset:
            start = self._rng.randrange(self._ip_offset)
            for i in range(self._ip_offset):
                ip = self._first + (start + i) % self._ip_offset
                if free(ip):
                    return ip
        raise ManifestError("spec.clusterIPs", [], "Internal error occurred: failed to allocate a serviceIP "
                            f"for Service {key[1]!r}: range is full")

    # -- node ports -------------------------------------------------------------------------
    def _claim(self, key: Key, port: int, res: Reservations, op: set[int], path: str, dry_run: bool) -> None:
        """``PortAllocationOperation.Allocate``: refused when another Service (or this operation) holds it."""
        if port in op or self._owner(self.ports, res.ports, port, res) not in (None, key):
            raise ManifestError(path, port, "Invalid value: provided port is already allocated")
        op.add(port)

    def _next_port(self, key: Key, res: Reservations, op: set[int], dry_run: bool) -> int:
        """``randomScanStrategyWithOffset.AllocateBit``: the upper band first, then the lower one."""
        def free(at: int) -> bool:
            port = self._port_base + at
            return port not in op and self._owner(self.ports, res.ports, port, res) in (None, key)

        upper = self._port_max - self._port_offset
        start = self._rng.randrange(upper)
        for i in range(upper):
            at = self._port_offset + (start + i) % upper
            if free(at):
                op.add(self._port_base + at)
                return self._port_base + at
        if self._port_offset:
            start = self._rng.randrange(self._port_offset)
            for i in range(self._port_offset):
                at = (start + i) % self._port_offset
                if free(at):
                    op.add(self._port_base + at)
                    return self._port_base + at
        raise ManifestError("spec.ports", None,
                            "Internal error occurred: failed to allocate a nodePort: range is full")

    def _init_node_ports(self, key: Key, spec: dict[str, Any], res: Reservations, op: set[int],
                         dry_run: bool) -> None:
        """``alloc.go: initNodePorts`` (create)."""
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        ports = spec.get("ports") or []
        allocate = _needs_node_ports(spec)
        by_port: dict[int, int] = {}
        for i, p in enumerate(ports):
            if not p.get("nodePort") and not allocate:
                continue
            path = f"spec.ports[{i}].nodePort"
            allocated = by_port.get(p["port"], 0)
            if allocated == 0:
                # findRequestedNodePort: a node port asked for by any port with this number
                requested = next((q["nodePort"] for q in ports
                                  if q["port"] == p["port"] and q.get("nodePort")), 0)
                if requested:
                    self._claim(key, requested, res, op, path, dry_run)
                    p["nodePort"] = by_port[p["port"]] = requested
                elif not dry_run:
                    p["nodePort"] = by_port[p["port"]] = self._next_port(key, res, op, dry_run)
            elif p.get("nodePort", 0) != allocated:
                if not p.get("nodePort"):
                    p["nodePort"] = allocated
                else:
                    self._claim(key, p["nodePort"], res, op, path, dry_run)

    def _update_node_ports(self, key: Key, spec: dict[str, Any], ospec: dict[str, Any], res: Reservations,
                           op: set[int], dry_run: bool) -> None:
        """``alloc.go: updateNodePorts``: new requested ports are claimed, missing ones allocated;
        the old ports not kept are released when the write commits."""
        if spec.get("type") not in ("NodePort", "LoadBalancer"):
            return
        old_ports = {p["nodePort"] for p in ospec.get("ports") or [] if p.get("nodePort")} \
            if ospec.get("type") in ("NodePort", "LoadBalancer") else set()
        allocate = _needs_node_ports(spec)
        for i, p in enumerate(spec.get("ports") or []):
            np_ = p.get("nodePort")
            if not np_ and not allocate:
                continue
            if np_:
                if np_ not in old_ports and np_ not in op:
                    self._claim(key, np_, res, op, f"spec.ports[{i}].nodePort", dry_run)
            elif not dry_run:
                p["nodePort"] = self._next_port(key, res, op, dry_run)

    def _health_check_port(self, key: Key, spec: dict[str, Any], res: Reservations, op: set[int],
                           dry_run: bool) -> None:
        """``allocHealthCheckNodePort``."""
        hc = spec.get("healthCheckNodePort")
        if hc:
            try:
                self._claim(key, hc, res, op, "spec.healthCheckNodePort", dry_run)
            except ManifestError as e:
                raise ManifestError("spec.healthCheckNodePort", hc,
                                    "Internal error occurred: failed to allocate requested HealthCheck "
                                    f"NodePort {hc}: {e.reason.removeprefix('Invalid value: ')}") from None
        elif not dry_run:
            spec["healthCheckNodePort"] = self._next_port(key, res, op, dry_run)


def _patch_allocated_values(spec: dict[str, Any], ospec: dict[str, Any]) -> None:
    """``storage.go: patchAllocatedValues``: a re-submitted manifest keeps what was allocated."""
    if spec.get("type") != "ExternalName" and ospec.get("type") != "ExternalName":
        if not spec.get("clusterIP") and ospec.get("clusterIP"):
            spec["clusterIP"] = ospec["clusterIP"]
        if not spec.get("clusterIPs") and ospec.get("clusterIPs"):
            spec["clusterIPs"] = list(ospec["clusterIPs"])
    if _needs_node_ports(ospec) and _needs_node_ports(spec):
        old_used = {p["nodePort"] for p in ospec.get("ports") or [] if p.get("nodePort")}
        new_used = {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}
        used = old_used & new_used
        by_name = {p.get("name", ""): p.get("nodePort", 0) for p in ospec.get("ports") or []}
        for p in spec.get("ports") or []:
            if not p.get("nodePort"):
                old = by_name.get(p.get("name", ""), 0)
                if old and old not in used:
                    p["nodePort"] = old
    if _needs_health_check(ospec) and _needs_health_check(spec) and not spec.get("healthCheckNodePort") \
            and ospec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = ospec["healthCheckNodePort"]


def _normalize_cluster_ips(spec: dict[str, Any], ospec: dict[str, Any] | None) -> None:
    """``storage.go: normalizeClusterIPs``: keep ``clusterIP`` and ``clusterIPs`` in step."""
    if spec.get("type") == "ExternalName":
        return
    ip, ips = spec.get("clusterIP"), spec.get("clusterIPs")
    if ospec is None:
        if ip and not ips:
            spec["clusterIPs"] = [ip]
        return
    if ospec.get("clusterIPs") and not ips and ospec.get("clusterIP") == ip:
        spec["clusterIPs"] = list(ospec["clusterIPs"])  # an old client that sent only the singular field
    if ospec.get("clusterIP") != ip:
        same = (spec.get("clusterIPs") or []) == (ospec.get("clusterIPs") or [])  # sameClusterIPs
        if ospec.get("clusterIP") and not ip:
            if same:
                spec.pop("clusterIPs", None)  # a client clearing it: clear on their behalf
        elif same:
            spec["clusterIPs"] = [ip]  # changed, not cleared: ClusterIPs follow ClusterIP


def _check_immutable_ips(spec: dict[str, Any], ospec: dict[str, Any]) -> None:
    """``validateUpgradeDowngradeClusterIPs`` for a single-stack cluster: the address stays."""
    if spec.get("type") == "ExternalName" or ospec.get("type") == "ExternalName":
        return
    new, old = spec.get("clusterIPs") or [], ospec.get("clusterIPs") or []
    if new[:1] == ["None"] and old[:1] == ["None"]:
        return
    if len(new) == len(old):
        for i, ip in enumerate(old):
            if ip != new[i]:
                raise ManifestError(f"spec.clusterIPs[{i}]", new, "Invalid value: may not change once set")
    elif len(new) < len(old):
        if not new:
            raise ManifestError("spec.clusterIPs[0]", new,
                                "Invalid value: primary clusterIP can not be unset")
        if new[0] != old[0]:
            raise ManifestError("spec.clusterIPs[0]", new, "Invalid value: may not change once set")
    elif old and new[0] != old[0]:
        raise ManifestError("spec.clusterIPs[0]", new, "Invalid value: may not change once set")

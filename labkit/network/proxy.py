"""kube-proxy: every node's view of Services and their endpoints, programmed a little late.

Upstream: ``pkg/proxy/`` — ``topology.go`` (``CategorizeEndpoints``), ``iptables/proxier.go`` (the
probability chain, ``-m recent`` for ClientIP affinity), ``nftables/proxier.go`` (``numgen random
mod n``), ``ipvs/proxier.go`` (one virtual server per Service, ``--ipvs-scheduler``), defaults in
``pkg/proxy/apis/config/v1alpha1/defaults.go`` (``minSyncPeriod`` 1 s) and the start-up Warning of
``cmd/kube-proxy/app/server_linux.go`` for the deprecated ipvs mode.

kube-proxy is an API client: it watches Services and EndpointSlices and writes no object. Each
change to a Service's endpoints becomes a new *version* of that Service's rules; every node's
kube-proxy programs it after its own delay (watch delivery, the ``minSyncPeriod`` batching of
iptables mode, ``iptables-restore``), drawn per node and version, uniform between
``propagation=(low, high)`` seconds — by default 0.5–2.0 s. Until then that node keeps sending new
connections to the endpoints it knew, which is why a pod being deleted still receives requests for
a moment, and why a ``preStop`` sleep exists. A node that joins later programs the current state at
once. The versions and delays are computed when the change happens, so looking a node's rules up
at any instant is exact; one timeout per change keeps ``Cluster.run()`` going until the last
node has programmed it.

Endpoint choice per new connection (made by the traffic model, :mod:`labkit.workloads.engine`):
``iptables`` and ``nftables`` pick uniformly at random (the chain's ``1/(n-i)`` probabilities and
``numgen random mod n`` both give that); ``ipvs`` uses its scheduler: ``rr`` (round robin, the
default; ``wrr`` with kube-proxy's equal weights is the same), ``lc`` (fewest active connections
*from this node*: IPVS on each node only counts its own; ``wlc`` with equal weights is the same),
``sh`` (source hashing: IPVS's 256-bucket table filled round robin, bucket
``hash_32(ip, 8)`` = ``(ip * 0x61C88647) >> 24``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from labkit.api.store import WatchEvent

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["KubeProxy", "ServiceRules", "Endpoint", "MODES", "IPVS_SCHEDULERS", "DEFAULT_PROPAGATION",
           "IPVS_DEPRECATION_MESSAGE"]

MODES = ("iptables", "nftables", "ipvs")
#: The schedulers modelled; kube-proxy gives every real server weight 1, so wrr/wlc equal rr/lc.
IPVS_SCHEDULERS = {"rr": "rr", "wrr": "rr", "lc": "lc", "wlc": "lc", "sh": "sh"}
DEFAULT_PROPAGATION = (0.5, 2.0)
IPVS_DEPRECATION_MESSAGE = ("The ipvs proxier is now deprecated and may be removed in a future release. "
                            "Please use 'nftables' instead.")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class Endpoint(NamedTuple):
    """One endpoint as kube-proxy keeps it (from an EndpointSlice entry); a tuple, so that
    comparing two versions of a thousand endpoints is one C-level comparison. ``order`` is the
    address as a number, so sorting by IP compares integers."""

    order: int
    ip: str
    port: int
    node: str
    ready: bool
    serving: bool
    terminating: bool
    pod: str = ""


def _usable(eps: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
    """``CategorizeEndpoints``: the ready endpoints; only when none is ready, the serving and
    terminating ones (so the last pods of a rolling update drain gracefully)."""
    ready = tuple(e for e in eps if e.ready)
    if ready:
        return ready
    return tuple(e for e in eps if e.serving and e.terminating)


@dataclass(eq=False)
class ServiceRules:
    """One version of one Service port's rules, as every node programs it sooner or later."""

    namespace: str
    name: str
    port_name: str
    cluster_ip: str
    port: int
    protocol: str
    node_port: int | None
    lb_ips: tuple[str, ...]
    #: the endpoints of each of the Service's slices for this port (merged on first use: most
    #: versions are never looked at, so a rollout does not pay for merging and sorting them)
    parts: tuple[tuple[Endpoint, ...], ...]
    internal_local: bool
    external_local: bool
    affinity_timeout: float | None  # ClientIP affinity, seconds; None without affinity
    created: float
    applied: dict[str, float] = field(default_factory=dict)  # node -> when its kube-proxy programmed it
    deleted: bool = False
    last_applied: float = 0.0  # when the last node programs it
    _local: dict[str, tuple[Endpoint, ...]] = field(default_factory=dict)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """All endpoints, deduplicated by address as kube-proxy's ``endpointSliceCache`` does and
        sorted by IP."""
        cached = self.__dict__.get("_endpoints_cache")
        if cached is None:
            cached = self.__dict__["_endpoints_cache"] = _merge(self.parts)
        return cached

    @property
    def usable(self) -> tuple[Endpoint, ...]:
        """The endpoints new connections go to, cluster-wide (``Cluster`` traffic policy)."""
        cached = self.__dict__.get("_usable_cache")
        if cached is None:
            cached = _usable(self.endpoints)
            self.__dict__["_usable_cache"] = cached
        return cached

    def local(self, node: str) -> tuple[Endpoint, ...]:
        """Node-local endpoints with the same fallback (``Local`` traffic policies)."""
        got = self._local.get(node)
        if got is None:
            got = _usable(tuple(e for e in self.endpoints if e.node == node))
            self._local[node] = got
        return got

    def targets(self, node: str, external: bool) -> tuple[Endpoint, ...]:
        """What a new connection entering on ``node`` may be sent to."""
        if (self.external_local if external else self.internal_local):
            return self.local(node)
        return self.usable


class KubeProxy:
    """kube-proxy on every node (one object; each node's programming time is its own)."""

    component = "kube-proxy"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder, seed: int, *,
                 mode: str = "iptables", ipvs_scheduler: str = "rr",
                 propagation: tuple[float, float] = DEFAULT_PROPAGATION) -> None:
        if mode not in MODES:
            raise ValueError(f"proxy_mode {mode!r} is not a kube-proxy mode on Linux; choose one of "
                             f"{', '.join(MODES)}")
        if ipvs_scheduler not in IPVS_SCHEDULERS:
            raise ValueError(f"ipvs_scheduler {ipvs_scheduler!r} is not modelled; choose one of "
                             f"{', '.join(IPVS_SCHEDULERS)}")
        lo, hi = propagation
        if not (0 <= lo <= hi and math.isfinite(hi)):
            raise ValueError(f"propagation {propagation!r}: give (low, high) seconds with 0 <= low <= high")
        self.env = env
        self.api = api
        self.recorder = recorder
        self.mode = mode
        #: how a Service's endpoint is picked: "random" (iptables, nftables) or the ipvs scheduler.
        self.algorithm = IPVS_SCHEDULERS[ipvs_scheduler] if mode == "ipvs" else "random"
        self.propagation = (float(lo), float(hi))
        self._rng = random.Random(f"labkit/{seed}/kube-proxy")
        self.nodes: dict[str, float] = {}  # node -> when its kube-proxy started
        self.node_ips: dict[str, str] = {}  # node -> InternalIP (the source of masqueraded traffic)
        self.versions: dict[tuple[str, str, str], list[ServiceRules]] = {}
        self.by_vip: dict[tuple[str, int, str], tuple[str, str, str]] = {}
        self.by_node_port: dict[tuple[int, str], tuple[str, str, str]] = {}
        # endpointSliceCache: per Service, each slice's endpoints per port name, parsed once per change
        self._slices: dict[tuple[str, str], dict[str, dict[str, tuple[Endpoint, ...]]]] = {}
        self._dirty: set[tuple[str, str]] = set()
        #: called before a new version or a node change (lazy readers catch up first: pruning below
        #: drops what a reader of the past would still need)
        self.before_change: list[Any] = []
        api.watch("Service", self._on_change)
        api.watch("EndpointSlice", self._on_change)
        api.watch("Node", self._on_node)

    # -- watches --------------------------------------------------------------------------------
    def _on_node(self, ev: WatchEvent) -> None:
        name = ev.object["metadata"]["name"]
        for addr in (ev.object.get("status") or {}).get("addresses") or []:
            if addr.get("type") == "InternalIP" and ev.type != "DELETED":
                self.node_ips[name] = addr["address"]
        if (ev.type == "ADDED" and name not in self.nodes) or (ev.type == "DELETED" and name in self.nodes):
            for fn in self.before_change:
                fn()
        if ev.type == "ADDED" and name not in self.nodes:
            self.nodes[name] = self.env.now
            if self.mode == "ipvs":
                # cmd/kube-proxy/app/server_linux.go: Eventf(s.NodeRef, ..., "IPVSDeprecation", ...)
                self.recorder.emit(ev.object, "Warning", "IPVSDeprecation", IPVS_DEPRECATION_MESSAGE,
                                   self.component, host=name)
        elif ev.type == "DELETED":
            self.nodes.pop(name, None)

    def _on_change(self, ev: WatchEvent) -> None:
        obj = ev.object
        ns = obj["metadata"].get("namespace", "default")
        if ev.kind == "Service":
            name = obj["metadata"]["name"]
        else:
            name = (obj["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
            old = (((ev.old or {}).get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
            if old and old != name:
                self._slices.get((ns, old), {}).pop(obj["metadata"]["name"], None)
                self._mark((ns, old))
            if not name:
                return
            cache = self._slices.setdefault((ns, name), {})
            if ev.type == "DELETED":
                cache.pop(obj["metadata"]["name"], None)
            else:
                cache[obj["metadata"]["name"]] = _parse_slice(obj)
        self._mark((ns, name))

    def _mark(self, key: tuple[str, str]) -> None:
        """Rebuild the Service's rules once per simulated instant, after every write of that instant
        (the EndpointSlice controller writes several slices in one sync)."""
        if not self._dirty:
            self.env.timeout(0).callbacks.append(self._flush)
        self._dirty.add(key)

    def _flush(self, _ev: Any) -> None:
        dirty, self._dirty = sorted(self._dirty), set()
        for ns, name in dirty:
            self._rebuild(ns, name)

    def _rebuild(self, ns: str, name: str) -> None:
        """A new version of the Service's rules, if what kube-proxy would program changed."""
        svc = self.api.peek("Service", name, ns)
        spec = (svc or {}).get("spec") or {}
        now = float(self.env.now)
        live: set[tuple[str, str, str]] = set()
        programmable = svc is not None and spec.get("type") != "ExternalName" and \
            spec.get("clusterIP") not in (None, "", "None")
        if programmable:
            slices = self._slices.get((ns, name), {})
            affinity = None
            if spec.get("sessionAffinity") == "ClientIP":
                affinity = float(((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
                                 .get("timeoutSeconds", 10800))
            lb_ips = tuple(i["ip"] for i in ((svc.get("status") or {}).get("loadBalancer") or {})
                           .get("ingress") or [] if i.get("ip"))
            for port in spec.get("ports") or []:
                key = (ns, name, port.get("name") or "")
                live.add(key)
                eps = _parts_for(slices, port)
                rules = ServiceRules(
                    ns, name, key[2], spec["clusterIP"], int(port["port"]), port.get("protocol", "TCP"),
                    port.get("nodePort"), lb_ips, eps, spec.get("internalTrafficPolicy") == "Local",
                    spec.get("externalTrafficPolicy") == "Local", affinity, now)
                self._add_version(key, rules)
        for key in [k for k in self.versions if k[0] == ns and k[1] == name and k not in live]:
            last = self.versions[key][-1]
            if not last.deleted:
                gone = ServiceRules(ns, name, key[2], last.cluster_ip, last.port, last.protocol, None, (), (),
                                    False, False, None, now, deleted=True)
                self._add_version(key, gone)

    def _add_version(self, key: tuple[str, str, str], rules: ServiceRules) -> None:
        history = self.versions.setdefault(key, [])
        if history and _same(history[-1], rules):
            return
        for fn in self.before_change:
            fn()
        lo, hi = self.propagation
        rules.applied = {node: (rules.created if started >= rules.created else
                                rules.created + self._rng.uniform(lo, hi))
                         for node, started in self.nodes.items()}
        last = rules.last_applied = max(rules.applied.values(), default=rules.created)
        if last > rules.created:
            # the nodes' programming is pending work: c.run() goes on until every node has it
            self.env.timeout(last - rules.created)
        if history and history[-1].created == rules.created:
            history[-1] = rules  # several writes in one instant: nodes program the last one
        else:
            history.append(rules)
        # versions older than the newest one every node has programmed are never seen again
        now = rules.created
        drop = 0
        while drop + 1 < len(history) and history[drop + 1].last_applied <= now:
            drop += 1
        if drop:
            del history[:drop]
        if not rules.deleted:
            self.by_vip[(rules.cluster_ip, rules.port, rules.protocol)] = key
            for ip in rules.lb_ips:
                self.by_vip[(ip, rules.port, rules.protocol)] = key
            if rules.node_port:
                self.by_node_port[(rules.node_port, rules.protocol)] = key

    # -- lookups (the traffic model, views) -------------------------------------------------------
    def rules_at(self, key: tuple[str, str, str], node: str, t: float) -> tuple[ServiceRules | None, float]:
        """The rules ``node`` has programmed for ``key`` at ``t``, and until when that stays so.

        Returns ``(None, until)`` when the node has no rule for it (not yet, or deleted).
        """
        history = self.versions.get(key) or ()
        until = math.inf
        for rules in reversed(history):
            at = rules.applied.get(node, rules.created)
            if at <= t:
                return (None if rules.deleted else rules), until
            until = min(until, at)
        return None, until

    def pending(self, t: float) -> list[float]:
        """Instants after ``t`` at which some node programs a change already made."""
        out = set()
        for history in self.versions.values():
            for rules in reversed(history):
                later = [a for a in rules.applied.values() if a > t]
                if not later and rules.created <= t:
                    break
                out.update(later)
        return sorted(out)

    def view(self, node: str, t: float | None = None) -> list[dict[str, Any]]:
        """What ``node``'s kube-proxy has programmed at ``t`` (now by default): one row per
        Service port and endpoint, for showing stale endpoints next to the EndpointSlice."""
        t = float(self.env.now) if t is None else t
        rows = []
        for key in sorted(self.versions):
            rules, _ = self.rules_at(key, node, t)
            if rules is None:
                continue
            usable = {e.ip for e in rules.usable}
            for e in rules.endpoints or (None,):
                rows.append({"service": f"{key[0]}/{key[1]}", "port": key[2] or str(rules.port),
                             "cluster_ip": rules.cluster_ip, "endpoint": e.ip if e else None,
                             "pod": e.pod if e else None, "ready": e.ready if e else None,
                             "serving": e.serving if e else None, "terminating": e.terminating if e else None,
                             "used": (e.ip in usable) if e else False, "programmed_s": rules.applied.get(
                                 node, rules.created)})
        return rows


def _same(a: ServiceRules, b: ServiceRules) -> bool:
    def programmed(r: ServiceRules) -> tuple:
        return (r.deleted, r.cluster_ip, r.port, r.protocol, r.node_port, r.lb_ips, r.parts,
                r.internal_local, r.external_local, r.affinity_timeout)
    return programmed(a) == programmed(b)


def _parse_slice(s: dict[str, Any]) -> dict[str, tuple[Endpoint, ...]]:
    """One EndpointSlice's endpoints per port name (kube-proxy keeps IPv4 slices only here)."""
    if s.get("addressType", "IPv4") != "IPv4":
        return {}
    out = {}
    entries = s.get("endpoints") or []
    for p in s.get("ports") or []:
        number = p.get("port")
        if number is None:
            continue
        eps = []
        for ep in entries:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False  # nil means ready (discovery/v1 docs)
            serving = cond.get("serving", ready) is not False
            node, pod = ep.get("nodeName") or "", (ep.get("targetRef") or {}).get("name", "")
            terminating = bool(cond.get("terminating"))
            for ip in ep.get("addresses") or []:
                eps.append(Endpoint(_ip_number(ip), ip, int(number), node, ready, serving, terminating, pod))
        out[p.get("name") or ""] = tuple(eps)
    return out


def _parts_for(slices: dict[str, dict[str, tuple[Endpoint, ...]]], port: dict[str, Any]
               ) -> tuple[tuple[Endpoint, ...], ...]:
    """Each slice's endpoints for one Service port (matched by port name, as kube-proxy's
    ``endpointSliceCache`` does), in slice-name order."""
    want = port.get("name") or ""
    return tuple(slices[name][want] for name in sorted(slices) if want in slices[name])


def _merge(parts: tuple[tuple[Endpoint, ...], ...]) -> tuple[Endpoint, ...]:
    """One endpoint per address (an endpoint moving between slices is briefly in two), by IP."""
    if not parts:
        return ()
    if len(parts) == 1:
        return tuple(sorted(parts[0]))
    eps = [e for part in parts for e in part]
    if len({e.order for e in eps}) != len(eps):
        eps = list({e.ip: e for e in reversed(eps)}.values())
    return tuple(sorted(eps))


_IP_NUMBERS: dict[str, int] = {}


def _ip_number(ip: str) -> int:
    n = _IP_NUMBERS.get(ip)
    if n is None:
        a, b, c, d = ip.split(".")
        n = _IP_NUMBERS[ip] = (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    return n

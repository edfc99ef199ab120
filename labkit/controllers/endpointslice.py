"""The EndpointSlice controller: one or more EndpointSlices per Service, listing its pods.

Upstream (v1.36): ``pkg/controller/endpointslice/endpointslice_controller.go`` (event handlers,
``syncService``), ``staging/src/k8s.io/endpointslice/reconciler.go`` (``reconcileByAddressType``,
``reconcileByPortMapping``, ``finalize``), ``utils.go`` (``podToEndpoint``, ``getEndpointPorts``,
``FindPort``, ``newEndpointSlice``, ``setEndpointSliceLabels``, ``getSliceToFill``,
``addTriggerTimeAnnotation``) and ``util/`` (``ShouldPodBeInEndpoints``, ``podEndpointsChanged``,
``GetServicesToUpdate``, ``EndpointSet``, ``TriggerTimeTracker``); rules in
``kubernetes-semantics.md`` sections 3.1 and 10.5.

What it reproduces:

- For every Service with a selector (ExternalName and selector-less Services are left alone:
  their slices, if any, are someone else's), the pods of its namespace that match, have a pod IP
  and are not Succeeded/Failed become endpoints -- terminating pods included.
- Endpoint conditions: ``serving`` = the pod is Ready; ``terminating`` = it has a
  ``deletionTimestamp``; ``ready`` = serving and not terminating, or always true with
  ``publishNotReadyAddresses``. Each endpoint has ``addresses`` (the pod's IPv4 IPs),
  ``nodeName``, ``zone`` (the node's ``topology.kubernetes.io/zone``), ``targetRef`` (Pod,
  namespace, name, uid) and ``hostname`` only when the pod sets ``hostname`` and its
  ``subdomain`` is the Service's name.
- Ports are resolved per pod: a named ``targetPort`` through the container port of that name and
  protocol (sidecar init containers too), a number as is; a port a pod does not expose is left
  out of that pod's port list, so pods with different port lists go into different slices.
- Slices: ``generateName: <service>-``, owned by the Service (``controller: true``,
  ``blockOwnerDeletion: true``), labelled with the Service's own labels plus
  ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by:
  endpointslice-controller.k8s.io`` (and ``service.kubernetes.io/headless`` for a headless
  Service), ``addressType: IPv4``, at most ``max_endpoints_per_slice`` (``--max-endpoints-per-slice``,
  default 100) endpoints each, and the ``endpoints.kubernetes.io/last-change-trigger-time``
  annotation (the earliest new Ready transition among the changes the write carries, or the
  Service's creation for its first sync).
- Reconciling as upstream does: existing slices are updated in place (an endpoint keeps its
  slice); new endpoints first top up the slices being updated anyway (fullest first), then the
  unchanged slice that they fill most closely, and only then go into new slices; slices left
  empty are deleted, or renamed into a slice that would otherwise be created; a Service without
  endpoints keeps exactly one empty *placeholder* slice (``endpoints: null``, ``ports: null``).
- Events: Pod changes (``podEndpointsChanged``: deletion timestamp, readiness, IPs, labels,
  hostname/subdomain) queue the Services whose selectors match the old or new labels; Service
  changes queue that Service; a slice the controller manages that someone else changed or deleted
  queues its Service after 1 s (``endpointSliceChangeMinSyncDelay``). There is no delay beyond the
  work queue (``--endpoint-updates-batch-period`` defaults to 0): the propagation delay of a
  change to the data plane belongs to kube-proxy.

Speed. Upstream recomputes every endpoint of a Service at each sync; with 1,000 pods behind one
Service in a rolling update that is quadratic in Python. The controller therefore keeps, per
Service, its member pods (indexed by namespace), each member's last endpoint and the slice that
holds it, and a sync recomputes only the members that changed since (all of them after a change
of the Service or of a managed slice by someone else). The result is the one the full algorithm
gives: endpoints that did not change are exactly those it would find unchanged.

Simplifications:

- The legacy v1 ``Endpoints`` controller (and the EndpointSlice mirroring controller) are not
  modelled: EndpointSlices are the only record of a Service's endpoints, as kube-proxy and
  CoreDNS read them.
- IPv4 only (the cluster is single-stack), no topology hints or ``trafficDistribution`` hints.
- Upstream's sets are Go maps, so the order of endpoints in a slice and the choice among equally
  good slices are random; here they follow pod creation order and slice creation order. Ports
  keep the Service's order (upstream sorts them by a hash of each port).
- A pod bound to a Node that no longer exists is left out (as upstream does without
  ``publishNotReadyAddresses``), but instead of returning an error and retrying with back-off the
  controller waits for that Node to come back (or the pod to go). With
  ``publishNotReadyAddresses`` such a pod is listed without a zone, as upstream lists it.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from labkit.api.server import Conflict, Forbidden, NotFound
from labkit.api.store import WatchEvent, clone
from labkit.controllers.controller_utils import is_pod_ready, ready_condition
from labkit.controllers.runtime import Controller
from labkit.errors import ManifestError

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["EndpointSliceController", "CONTROLLER_NAME", "LABEL_SERVICE_NAME", "LABEL_MANAGED_BY",
           "LABEL_HEADLESS", "TRIGGER_TIME_ANNOTATION", "DEFAULT_MAX_ENDPOINTS_PER_SLICE",
           "MAX_ENDPOINTS_PER_SLICE_LIMIT", "SLICE_CHANGE_MIN_SYNC_DELAY"]

#: ``endpointslice_controller.go: ControllerName``: the managed-by label's value.
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
#: ``discovery/v1: LabelServiceName``, ``LabelManagedBy``; ``core/v1: IsHeadlessService``.
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
#: ``core/v1: EndpointsLastChangeTriggerTime``.
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
#: ``--max-endpoints-per-slice``: default 100, at most 1000 (``config/v1alpha1/defaults.go``,
#: ``cmd/kube-controller-manager/app/options/endpointslicecontroller.go``).
DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100
MAX_ENDPOINTS_PER_SLICE_LIMIT = 1000
#: ``endpointslice_controller.go: endpointSliceChangeMinSyncDelay``.
SLICE_CHANGE_MIN_SYNC_DELAY = 1.0
_RESERVED_LABELS = frozenset({LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS})
_ZONE_LABEL = "topology.kubernetes.io/zone"

Key = tuple[str, str]  # (namespace, service name)
PortKey = tuple  # the endpoint ports of a pod, as a hashable tuple
EpKey = tuple  # (port key, endpoint hash): the identity of an endpoint in a slice


def _selector(svc: dict[str, Any]) -> dict[str, str] | None:
    """The Service's selector, or None when the controller has nothing to do for it
    (ExternalName, no selector; an empty map is stored as no selector)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    return spec.get("selector") or None


def _matches(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    """``labels.Set(selector).AsSelectorPreValidated().Matches``."""
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _port_key(ports: list[dict[str, Any]]) -> PortKey:
    return tuple((p["name"], p["protocol"], p["port"], p.get("appProtocol")) for p in ports)


def _ep_hash(ep: dict[str, Any]) -> tuple:
    """``util/endpointset.go: hashEndpoint``: addresses, hostname, target namespace and name."""
    ref = ep.get("targetRef") or {}
    return (tuple(sorted(ep["addresses"])), ep.get("hostname", ""), ref.get("namespace", ""),
            ref.get("name", ""))


def find_port(pod: dict[str, Any], svc_port: dict[str, Any]) -> int | None:
    """``utils.go: FindPort``: a named targetPort through the pod's container ports (regular
    containers, then sidecar init containers) with the same protocol; a number as is."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int):
        return target
    proto = svc_port.get("protocol", "TCP")
    spec = pod["spec"]
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == proto:
                return p["containerPort"]
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") != "Always":
            continue
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == proto:
                return p["containerPort"]
    return None


def endpoint_ports(svc: dict[str, Any], pod: dict[str, Any]) -> list[dict[str, Any]]:
    """``utils.go: getEndpointPorts``: the Service's ports as this pod serves them."""
    spec = svc["spec"]
    out = []
    if not spec.get("ports") and spec.get("clusterIP") == "None":
        return out
    for sp in spec.get("ports") or []:
        num = find_port(pod, sp)
        if num is None:
            continue  # "Failed to find port for service"
        port = {"name": sp.get("name", ""), "protocol": sp.get("protocol", "TCP"), "port": num}
        if sp.get("appProtocol") is not None:
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def should_pod_be_in_endpoints(pod: dict[str, Any]) -> bool:
    """``ShouldPodBeInEndpoints(pod, includeTerminating=true)``: not terminal, has a pod IP."""
    st = pod.get("status") or {}
    if st.get("phase") in ("Succeeded", "Failed"):
        return False
    return bool(st.get("podIP") or st.get("podIPs"))


def pod_to_endpoint(pod: dict[str, Any], node: dict[str, Any] | None, svc: dict[str, Any]) -> dict[str, Any]:
    """``utils.go: podToEndpoint`` for addressType IPv4, in the API's field order."""
    serving = is_pod_ready(pod)
    meta = pod["metadata"]
    terminating = bool(meta.get("deletionTimestamp"))
    ready = bool(svc["spec"].get("publishNotReadyAddresses")) or (serving and not terminating)
    st = pod.get("status") or {}
    ips = [p["ip"] for p in st.get("podIPs") or []] or ([st["podIP"]] if st.get("podIP") else [])
    ep: dict[str, Any] = {"addresses": [ip for ip in ips if ":" not in ip],
                          "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    spec = pod["spec"]
    smeta = svc["metadata"]
    if spec.get("hostname") and spec.get("subdomain") == smeta["name"] \
            and smeta.get("namespace", "default") == meta["namespace"]:  # ShouldSetHostname
        ep["hostname"] = spec["hostname"]
    ep["targetRef"] = {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"],
                       "uid": meta["uid"]}
    if spec.get("nodeName"):
        ep["nodeName"] = spec["nodeName"]
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(_ZONE_LABEL)
    if zone:
        ep["zone"] = zone
    return ep


def slice_labels(svc: dict[str, Any]) -> dict[str, str]:
    """``utils.go: setEndpointSliceLabels``: the Service's labels (reserved keys skipped), then the
    headless marker, the service name and the managed-by label."""
    labels = {k: v for k, v in (svc["metadata"].get("labels") or {}).items() if k not in _RESERVED_LABELS}
    ip = svc["spec"].get("clusterIP")
    if not ip or ip == "None":  # !isServiceIPSet
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = svc["metadata"]["name"]
    labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return labels


def _service_owner_ref(svc: dict[str, Any]) -> dict[str, Any]:
    """``metav1.NewControllerRef(service, v1 Service)``."""
    return {"apiVersion": "v1", "kind": "Service", "name": svc["metadata"]["name"],
            "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def _owned_by(slice_: dict[str, Any], svc: dict[str, Any]) -> bool:
    """``utils.go: ownedBy``."""
    uid = svc["metadata"]["uid"]
    return any(o.get("uid") == uid and o.get("kind") == "Service" and o.get("apiVersion") == "v1"
               for o in slice_["metadata"].get("ownerReferences") or [])


def _generate_name_prefix(name: str) -> str:
    """``getEndpointSlicePrefix``: ``<service>-`` (a Service name is a DNS-1035 label, so the
    prefix is always a valid subdomain prefix)."""
    return f"{name}-"


class _Slice:
    """A slice being reconciled: the stored object (None for a new one) and its endpoint list."""

    __slots__ = ("name", "stored", "port_key", "ports", "endpoints", "keys", "changed", "reused", "copied")

    def __init__(self, name: str | None, stored: dict[str, Any] | None, port_key: PortKey,
                 ports: list[dict[str, Any]], endpoints: list[dict[str, Any]], keys: list[EpKey]) -> None:
        self.name = name
        self.stored = stored
        self.port_key = port_key
        self.ports = ports
        self.endpoints = endpoints
        self.keys = keys
        self.changed = False
        self.reused = False  # a new slice that takes the name of one that would be deleted
        self.copied = stored is None  # endpoints/keys are lists of our own (else the stored ones, shared)


class _State:
    """What the controller remembers of one Service between syncs."""

    __slots__ = ("uid", "selector", "members", "dirty", "eps", "where", "slices", "keys", "counts", "full",
                 "trigger", "known", "skipped")

    def __init__(self) -> None:
        self.uid: str | None = None
        self.selector: dict[str, str] | None = None
        self.members: dict[str, dict[str, Any]] = {}  # pod name -> pod (matching the selector)
        self.dirty: set[str] = set()  # members (or former members) to recompute
        self.eps: dict[str, tuple[EpKey, dict[str, Any]]] = {}  # pod name -> its endpoint, as written
        self.where: dict[EpKey, str] = {}  # endpoint -> name of the slice that holds it
        self.slices: dict[str, dict[str, Any]] = {}  # our slices as stored, in creation order
        self.keys: dict[str, tuple[dict[str, Any], list[EpKey]]] = {}  # slice name -> (stored, its keys)
        self.counts: Counter[PortKey] = Counter()  # desired endpoints per port list
        self.full = True  # recompute everything at the next sync
        self.trigger: dict[str, str] = {}  # pod name -> Ready lastTransitionTime (TriggerTimeTracker)
        self.known = False  # the trigger-time tracker has seen this Service
        self.skipped: set[str] = set()  # members left out because their Node was not found


class EndpointSliceController(Controller):
    """kube-controller-manager's ``endpointslice-controller``.

    Parameters
    ----------
    max_endpoints_per_slice:
        ``--max-endpoints-per-slice`` (1-1000, default 100).
    """

    component = "endpoint-slice-controller"  # the event source upstream's recorder uses

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder, *,
                 max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE) -> None:
        if isinstance(max_endpoints_per_slice, bool) or not isinstance(max_endpoints_per_slice, int) \
                or not 1 <= max_endpoints_per_slice <= MAX_ENDPOINTS_PER_SLICE_LIMIT:
            raise ManifestError("max_endpoints_per_slice", max_endpoints_per_slice,
                                f"Invalid value: must be between 1 and {MAX_ENDPOINTS_PER_SLICE_LIMIT}, "
                                "inclusive (--max-endpoints-per-slice)")
        super().__init__(env, api, recorder)
        self.max_endpoints = max_endpoints_per_slice
        self._pods: dict[str, dict[str, dict[str, Any]]] = {}  # namespace -> name -> pod
        self._states: dict[Key, _State] = {}
        self._by_namespace: dict[str, set[str]] = {}  # namespace -> Services with a selector
        self._writing = False
        self.watch("Service", self._on_service)
        self.watch("Pod", self._on_pod)
        self.watch("EndpointSlice", self._on_slice)
        api.watch("Node", self._on_node)

    # -- event handlers ---------------------------------------------------------------------
    def _on_service(self, ev: WatchEvent) -> Key:
        svc = ev.object
        meta = svc["metadata"]
        ns, name = meta.get("namespace", "default"), meta["name"]
        key = (ns, name)
        if ev.type == "DELETED":
            self._states.pop(key, None)
            self._by_namespace.get(ns, set()).discard(name)
            return key
        selector = _selector(svc)
        state = self._states.get(key)
        if state is None or state.uid != meta["uid"]:
            state = self._states[key] = _State()
            state.uid = meta["uid"]
        old = ev.old
        if old is None or old.get("spec") != svc.get("spec") or \
                old["metadata"].get("labels") != meta.get("labels"):
            state.full = True
        if selector != state.selector:
            state.selector = selector
            pods = self._pods.get(ns, {})
            state.members = {n: p for n, p in pods.items()
                             if _matches(selector, p["metadata"].get("labels"))} if selector else {}
            state.full = True
        if selector:
            self._by_namespace.setdefault(ns, set()).add(name)
        else:
            self._by_namespace.get(ns, set()).discard(name)
        return key

    def _on_pod(self, ev: WatchEvent) -> list[Key] | None:
        pod = ev.object
        meta = pod["metadata"]
        ns, name = meta["namespace"], meta["name"]
        pods = self._pods.setdefault(ns, {})
        if ev.type == "DELETED":
            pods.pop(name, None)
        else:
            pods[name] = pod
        services = self._by_namespace.get(ns)
        if not services:
            return None
        old = ev.old
        labels = meta.get("labels")
        # GetPodUpdateProjectionKey / GetServicesToUpdate
        if ev.type in ("ADDED", "DELETED") or old is None:
            pod_changed, labels_changed, old_labels = True, False, None
        else:
            if old["metadata"].get("resourceVersion") == meta.get("resourceVersion"):
                return None
            old_labels = old["metadata"].get("labels")
            pod_changed, labels_changed = _pod_endpoints_changed(old, pod)
        out = []
        for svc_name in services:
            state = self._states.get((ns, svc_name))
            if state is None or not state.selector:
                continue
            now_match = ev.type != "DELETED" and _matches(state.selector, labels)
            was_match = name in state.members
            if now_match:
                state.members[name] = pod
                state.dirty.add(name)
            elif was_match:
                del state.members[name]
                state.dirty.add(name)
            if labels_changed:
                before = _matches(state.selector, old_labels)
                queue = (now_match or before) if pod_changed else (now_match != before)
            else:
                queue = pod_changed and (now_match or was_match)
            if queue:
                out.append((ns, svc_name))
        return out

    def _on_slice(self, ev: WatchEvent) -> Hashable | None:
        if self._writing:
            return None  # our own write (the EndpointSliceTracker expects it)
        obj = ev.object
        labels = obj["metadata"].get("labels") or {}
        old_labels = (ev.old or {}).get("metadata", {}).get("labels") or {}
        if CONTROLLER_NAME not in (labels.get(LABEL_MANAGED_BY), old_labels.get(LABEL_MANAGED_BY)):
            return None
        ns = obj["metadata"].get("namespace", "default")
        names = {n for n in (labels.get(LABEL_SERVICE_NAME), old_labels.get(LABEL_SERVICE_NAME)) if n}
        for name in names:
            state = self._states.get((ns, name))
            if state is not None:
                state.full = True
            self.queue.add_after((ns, name), SLICE_CHANGE_MIN_SYNC_DELAY)
        return None

    def _on_node(self, ev: WatchEvent) -> None:
        node = ev.object
        if ev.type == "MODIFIED" and ev.old is not None:
            a, b = ev.old["metadata"].get("labels"), node["metadata"].get("labels")
            if a is b or (a or {}).get(_ZONE_LABEL) == (b or {}).get(_ZONE_LABEL):
                return  # heartbeats and status updates: nothing an endpoint shows
        name = node["metadata"]["name"]
        for key, state in self._states.items():
            hit = [n for n, p in state.members.items() if p["spec"].get("nodeName") == name]
            if not hit:
                continue
            state.dirty.update(hit)
            if ev.type != "MODIFIED":  # a Node (re)appeared or went: its pods' endpoints change
                self.queue.add(key)

    # -- sync (endpointslice_controller.go: syncService) --------------------------------------------
    def sync(self, key: Key) -> None:
        ns, name = key
        svc = self.api.peek("Service", name, ns)
        state = self._states.get(key)
        if svc is None or state is None or state.uid != svc["metadata"]["uid"] or not state.selector:
            return  # gone (the garbage collector deletes its slices), ExternalName, or no selector
        try:
            self._reconcile(svc, state)
        except (Conflict, NotFound):
            state.full = True
            raise

    def _compute(self, svc: dict[str, Any], state: _State, name: str) -> tuple[EpKey, dict[str, Any]] | None:
        """The endpoint a member contributes now (None when it is not listed)."""
        pod = state.members.get(name)
        state.skipped.discard(name)
        if pod is None or not should_pod_be_in_endpoints(pod):
            return None
        node_name = pod["spec"].get("nodeName") or ""
        node = self.api.peek("Node", node_name) if node_name else None
        if node is None and not svc["spec"].get("publishNotReadyAddresses"):
            # "skipping Pod %s for Service %s/%s: Node %s Not Found"
            state.skipped.add(name)
            return None
        ep = pod_to_endpoint(pod, node, svc)
        if not ep["addresses"]:
            return None
        ports = endpoint_ports(svc, pod)
        return (_port_key(ports), _ep_hash(ep)), ep

    def _trigger_time(self, svc: dict[str, Any], state: _State, names: Any) -> str | None:
        """``TriggerTimeTracker.ComputeEndpointLastChangeTriggerTime`` over the members in ``names``
        (the others' Ready transition times did not change)."""
        earliest = None
        for name in names:
            pod = state.members.get(name)
            cond = ready_condition(pod) if pod is not None else None
            t = cond.get("lastTransitionTime") if cond else None
            if t is None:
                state.trigger.pop(name, None)
                continue
            if t > state.trigger.get(name, ""):
                earliest = t if earliest is None or t < earliest else earliest
            state.trigger[name] = t
        if not state.known:
            state.known = True
            return svc["metadata"]["creationTimestamp"]
        return earliest

    def _reconcile(self, svc: dict[str, Any], state: _State) -> None:
        """``reconciler.go: reconcile`` for addressType IPv4."""
        max_eps = self.max_endpoints
        existing: list[_Slice] = []
        to_delete: list[_Slice] = []
        removed: dict[str, set[EpKey]] = {}
        replaced: dict[str, dict[EpKey, dict[str, Any]]] = {}
        new: dict[PortKey, list[tuple[EpKey, dict[str, Any]]]] = {}
        labels = slice_labels(svc)

        if state.full:
            # Start over from the store: every managed slice labelled for this Service.
            state.dirty.update(state.members)
            state.dirty.update(state.eps)
            names = list(state.dirty)
            desired: dict[EpKey, tuple[str, dict[str, Any]]] = {}
            for name in state.members:
                got = self._compute(svc, state, name)
                if got is not None:
                    desired[got[0]] = (name, got[1])
            trigger = self._trigger_time(svc, state, names)
            state.dirty.clear()
            state.eps, state.where, state.slices, state.keys, state.counts = {}, {}, {}, {}, Counter()
            svc_name = svc["metadata"]["name"]
            stored = [s for s in self.api.items("EndpointSlice", svc["metadata"].get("namespace", "default"))
                      if (s["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME) == svc_name
                      and (s["metadata"].get("labels") or {}).get(LABEL_MANAGED_BY) == CONTROLLER_NAME
                      and not s["metadata"].get("deletionTimestamp")]  # dropEndpointSlicesPendingDeletion
            matched: set[EpKey] = set()
            for s in stored:
                if s.get("addressType") != "IPv4":
                    self._write_delete(s)  # an address type the Service does not have
                    continue
                sl = self._slice_of(s, state)
                if not _owned_by(s, svc):
                    to_delete.append(sl)
                    existing.append(sl)
                    continue
                existing.append(sl)
                state.slices[sl.name] = s
                for k, ep in zip(sl.keys, sl.endpoints):
                    hit = desired.get(k)
                    if hit is None or k in matched:
                        removed.setdefault(sl.name, set()).add(k)
                        continue
                    matched.add(k)
                    state.where[k] = sl.name
                    if hit[1] != ep:
                        replaced.setdefault(sl.name, {})[k] = hit[1]
                if (s["metadata"].get("labels") or {}) != labels:
                    sl.changed = True  # labelsChanged
            for k, (name, ep) in desired.items():
                state.eps[name] = (k, ep)
                state.counts[k[0]] += 1
                if k not in matched:
                    new.setdefault(k[0], []).append((k, ep))
            state.full = False
        else:
            names = list(state.dirty)
            state.dirty.clear()
            trigger = self._trigger_time(svc, state, names) if names else None
            for name in names:
                old = state.eps.get(name)
                got = self._compute(svc, state, name)
                if old == got:
                    continue
                placed = False
                if old is not None:
                    del state.eps[name]
                    state.counts[old[0][0]] -= 1
                    where = state.where.get(old[0])
                    if where is not None:
                        if got is not None and got[0] == old[0]:
                            replaced.setdefault(where, {})[old[0]] = got[1]
                            placed = True
                        else:
                            removed.setdefault(where, set()).add(old[0])
                if got is not None:
                    state.eps[name] = got
                    state.counts[got[0][0]] += 1
                    if not placed:
                        new.setdefault(got[0][0], []).append(got)
            existing = [self._slice_of(s, state) for s in state.slices.values()]
            if not removed and not replaced and not new:
                return  # nothing an endpoint shows changed

        # reconcileByPortMapping: apply removals and replacements to the slices that hold them.
        by_port: dict[PortKey, list[_Slice]] = {}
        deleting = {id(s) for s in to_delete}
        for sl in existing:
            if id(sl) in deleting:
                continue
            rm, rp = removed.get(sl.name, ()), replaced.get(sl.name, {})
            if rm or rp:
                keep = [(k, rp.get(k, ep)) for k, ep in zip(sl.keys, sl.endpoints) if k not in rm]
                sl.keys = [k for k, _ in keep]
                sl.endpoints = [ep for _, ep in keep]
                sl.copied = True
                for k in rm:
                    if state.where.get(k) == sl.name:
                        del state.where[k]
                if not sl.endpoints:
                    to_delete.append(sl)
                    deleting.add(id(sl))
                    continue
                sl.changed = True
            by_port.setdefault(sl.port_key, []).append(sl)
        to_create: list[_Slice] = []
        for pk, items in new.items():
            slices = by_port.get(pk, [])
            updated = sorted((s for s in slices if s.changed), key=lambda s: -len(s.endpoints))
            queue = list(items)
            for sl in updated:
                while queue and len(sl.endpoints) < max_eps:
                    self._place(sl, *queue.pop(0))
            while queue:
                target = None
                if len(queue) < max_eps:
                    target = _slice_to_fill([s for s in slices if not s.changed], len(queue), max_eps)
                if target is None:
                    target = _Slice(None, None, pk, [dict(zip(("name", "protocol", "port", "appProtocol"), p))
                                                     for p in pk], [], [])
                    for p in target.ports:
                        if p["appProtocol"] is None:
                            del p["appProtocol"]
                    to_create.append(target)
                    slices.append(target)
                target.changed = True
                while queue and len(target.endpoints) < max_eps:
                    self._place(target, *queue.pop(0))
            by_port[pk] = slices
        # Port lists no pod has any more: their (empty, e.g. placeholder) slices go.
        for pk, slices in by_port.items():
            if state.counts.get(pk, 0) <= 0:
                for sl in slices:
                    if sl.name is not None and id(sl) not in deleting and not sl.endpoints:
                        to_delete.append(sl)
                        deleting.add(id(sl))
        to_update = [sl for sl in existing if sl.changed and id(sl) not in deleting]
        placeholder = None
        if len(existing) == len(to_delete) and not to_create:
            placeholder = _Slice(None, None, (), [], [], [])
            if len(to_delete) == 1 and to_delete[0].stored is not None and \
                    _is_placeholder(to_delete[0].stored, svc, labels):
                to_delete = []
            else:
                to_create.append(placeholder)
        # finalize: a slice that would be deleted is reused for one that would be created.
        i = 0
        while i < len(to_delete) and to_create:
            gone = to_delete[i]
            if gone.stored is not None and _owned_by(gone.stored, svc):
                sl = to_create.pop()
                sl.name, sl.stored, sl.reused = gone.name, gone.stored, True
                to_update.append(sl)
                to_delete.pop(i)
            else:
                i += 1
        self._write(svc, state, labels, to_create, to_update, to_delete, trigger)

    @staticmethod
    def _place(sl: _Slice, key: EpKey, ep: dict[str, Any]) -> None:
        if not sl.copied:
            sl.keys, sl.endpoints, sl.copied = list(sl.keys), list(sl.endpoints), True
        sl.keys.append(key)
        sl.endpoints.append(ep)

    @staticmethod
    def _slice_of(stored: dict[str, Any], state: _State) -> _Slice:
        """A stored slice to reconcile; its endpoint keys are remembered from our last write of it
        (a sync touches a few slices, and must not rehash the endpoints of all the others)."""
        ports = stored.get("ports") or []
        pk = _port_key(ports)
        eps = stored.get("endpoints") or []
        name = stored["metadata"]["name"]
        hit = state.keys.get(name)
        keys = hit[1] if hit is not None and hit[0] is stored else [(pk, _ep_hash(ep)) for ep in eps]
        return _Slice(name, stored, pk, ports, eps, keys)

    # -- writes (reconciler.go: finalize) ---------------------------------------------------------
    def _body(self, svc: dict[str, Any], sl: _Slice, labels: dict[str, str], trigger: str | None
              ) -> dict[str, Any]:
        """``newEndpointSlice`` (or the stored slice with new endpoints and labels) with the trigger
        time annotation set or cleared (``addTriggerTimeAnnotation``)."""
        meta: dict[str, Any]
        if sl.reused:
            # finalize: the new slice, named as the deleted one, replaces it (an update without a
            # resourceVersion: the metadata is the new slice's)
            meta = {"name": sl.name, "generateName": _generate_name_prefix(svc["metadata"]["name"]),
                    "namespace": svc["metadata"].get("namespace", "default")}
        elif sl.stored is not None:
            meta = clone(sl.stored["metadata"])
        else:
            meta = {"generateName": _generate_name_prefix(svc["metadata"]["name"]),
                    "namespace": svc["metadata"].get("namespace", "default")}
        meta["labels"] = dict(labels)
        annotations = dict(meta.get("annotations") or {})
        if trigger:
            annotations[TRIGGER_TIME_ANNOTATION] = trigger
        else:
            annotations.pop(TRIGGER_TIME_ANNOTATION, None)
        meta["annotations"] = annotations
        meta["ownerReferences"] = [_service_owner_ref(svc)]
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
                "addressType": "IPv4", "endpoints": list(sl.endpoints) or None,  # the API server copies
                "ports": [dict(p) for p in sl.ports] or None}

    def _write(self, svc: dict[str, Any], state: _State, labels: dict[str, str], to_create: list[_Slice],
               to_update: list[_Slice], to_delete: list[_Slice], trigger: str | None) -> None:
        api = self.api
        self._writing = True
        try:
            if not svc["metadata"].get("deletionTimestamp"):
                for sl in to_create:
                    try:
                        stored = api.create(self._body(svc, sl, labels, trigger))
                    except Forbidden:
                        return  # the namespace is being deleted (NamespaceTerminatingCause)
                    self._record(state, sl, stored)
            for sl in to_update:
                stored = api.update(self._body(svc, sl, labels, trigger))
                self._record(state, sl, stored)
            for sl in to_delete:
                if sl.name is None:
                    continue
                with contextlib.suppress(NotFound):
                    api.delete("EndpointSlice", sl.name, svc["metadata"].get("namespace", "default"))
                state.slices.pop(sl.name, None)
                state.keys.pop(sl.name, None)
        finally:
            self._writing = False

    def _write_delete(self, stored: dict[str, Any]) -> None:
        self._writing = True
        try:
            with contextlib.suppress(NotFound):
                self.api.delete("EndpointSlice", stored["metadata"]["name"], stored["metadata"]["namespace"])
        finally:
            self._writing = False

    @staticmethod
    def _record(state: _State, sl: _Slice, stored: dict[str, Any]) -> None:
        name = stored["metadata"]["name"]
        state.slices[name] = stored
        state.keys[name] = (stored, list(sl.keys))
        for k in sl.keys:
            state.where[k] = name


def _slice_to_fill(slices: list[_Slice], n: int, max_eps: int) -> _Slice | None:
    """``utils.go: getSliceToFill``: the unchanged slice ``n`` new endpoints fill most closely."""
    closest_diff, closest = max_eps, None
    for sl in slices:
        diff = max_eps - (n + len(sl.endpoints))
        if 0 <= diff < closest_diff:
            closest_diff, closest = diff, sl
            if diff == 0:
                return sl
    return closest


def _is_placeholder(stored: dict[str, Any], svc: dict[str, Any], labels: dict[str, str]) -> bool:
    """``placeholderSliceCompare.DeepEqual``: an empty slice of this Service with the labels and
    owner a new placeholder would get (annotations, names and resourceVersions do not count)."""
    meta = stored["metadata"]
    return (not stored.get("endpoints") and not stored.get("ports") and stored.get("addressType") == "IPv4"
            and (meta.get("labels") or {}) == labels
            and meta.get("ownerReferences") == [_service_owner_ref(svc)])


def _pod_endpoints_changed(old: dict[str, Any], new: dict[str, Any]) -> tuple[bool, bool]:
    """``util/controller_utils.go: podEndpointsChanged``: (pod changed, labels changed)."""
    om, nm = old["metadata"], new["metadata"]
    os_, ns_ = old["spec"], new["spec"]
    labels_changed = om.get("labels") != nm.get("labels") or os_.get("hostname") != ns_.get("hostname") \
        or os_.get("subdomain") != ns_.get("subdomain")
    if om.get("deletionTimestamp") != nm.get("deletionTimestamp"):
        return True, labels_changed
    if is_pod_ready(old) != is_pod_ready(new):
        return True, labels_changed
    a = (old.get("status") or {}).get("podIPs") or []
    b = (new.get("status") or {}).get("podIPs") or []
    if [p.get("ip") for p in a] != [p.get("ip") for p in b]:
        return True, labels_changed
    return False, labels_changed

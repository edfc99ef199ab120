"""VolumeBinding and VolumeZone: a pod goes where its persistent volumes are (or can be made).

Upstream: ``pkg/scheduler/framework/plugins/volumebinding/{volume_binding,binder}.go``,
``k8s.io/component-helpers/storage/volume`` (``FindMatchingVolume``, ``CheckNodeAffinity``,
``IsDelayBindingMode``) and ``pkg/scheduler/framework/plugins/volumezone/volume_zone.go`` (v1.36).

Cloud disks are zonal: a claim bound to a PersistentVolume whose ``nodeAffinity`` names a zone
can only be used there, and a ``WaitForFirstConsumer`` StorageClass lets the scheduler choose
the node first, as long as its ``allowedTopologies`` can provision there.

Simplifications (labkit runs no PV controller, external provisioner or CSI driver):

- A claim whose ``spec.volumeName`` names an existing PersistentVolume that is free or already
  reserved for it counts as fully bound, as if the PV controller had finished binding the
  pre-bound pair. A PersistentVolume without ``status.phase`` counts as ``Available``.
- Claims of an ``Immediate`` class are never bound by a controller here, so a pod using an
  unbound one stays pending with ``pod has unbound immediate PersistentVolumeClaims``.
- A StorageClass without ``volumeBindingMode`` is ``Immediate`` (the API default), and a claim
  without ``storageClassName`` uses the default StorageClass, as the DefaultStorageClass
  admission plugin (or the PV controller's retroactive assignment) would set it.
- Binding happens when the pod's binding lands rather than in PreBind: each unbound
  ``WaitForFirstConsumer`` claim is bound to the smallest matching PersistentVolume, or a new
  one is "provisioned" with node affinity to the chosen node's zone (the ``allowedTopologies``
  keys, else ``topology.kubernetes.io/zone``). Storage capacity tracking (CSIStorageCapacity),
  local PVs' PreFilter node reduction and CSI migration are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.api.quantity import resource_amount
from labkit.api.selectors import Requirement, selector_from_dict
from labkit.scheduler.framework import CycleContext, Plugin, PreFilterResult, Rejection
from labkit.scheduler.plugins.nodeaffinity import match_terms

if TYPE_CHECKING:
    from labkit.api.server import APIServer
    from labkit.api.store import WatchEvent
    from labkit.scheduler.nodetable import NodeTable

__all__ = [
    "VolumeBinding", "VolumeZone", "claim_class", "ERR_BIND_CONFLICT", "ERR_NODE_CONFLICT",
    "ERR_PV_NOT_EXIST", "ERR_UNBOUND_IMMEDIATE", "ERR_ZONE_CONFLICT",
]

# binder.go ConflictReasons and volume_binding.go
ERR_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
# volume_zone.go
ERR_ZONE_CONFLICT = "node(s) had no available volume zone"

# k8s.io/component-helpers/storage/volume/helpers.go and pv_helpers.go
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"
ZONE = "topology.kubernetes.io/zone"
#: volume_zone.go topologyLabels, in upstream order.
TOPOLOGY_LABELS = ("failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
                   "topology.kubernetes.io/zone", "topology.kubernetes.io/region")
_GA = {"failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
       "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region"}
_STATE = "VolumeBinding"


# -- reading claims, volumes and classes ---------------------------------------------------------------
def _meta(obj: dict[str, Any], field_: str) -> dict[str, str]:
    return obj["metadata"].get(field_) or {}


def claim_class(pvc: dict[str, Any], store: APIServer) -> str:
    """``GetPersistentVolumeClaimClass``, with the default StorageClass for a claim that names none."""
    beta = _meta(pvc, "annotations").get(ANN_BETA_STORAGE_CLASS)
    if beta is not None:
        return beta
    spec = pvc.get("spec") or {}
    if spec.get("storageClassName") is not None:
        return spec["storageClassName"]
    # storage/util GetDefaultClass: the newest class marked default (then by name).
    defaults = [c for c in store.items("StorageClass")
                if _meta(c, "annotations").get(ANN_DEFAULT_CLASS) == "true"]
    if not defaults:
        return ""
    defaults.sort(key=lambda c: c["metadata"]["name"])
    return max(defaults, key=lambda c: c["metadata"].get("creationTimestamp", ""))["metadata"]["name"]


def _pv_class(pv: dict[str, Any]) -> str:
    beta = _meta(pv, "annotations").get(ANN_BETA_STORAGE_CLASS)
    return beta if beta is not None else (pv.get("spec") or {}).get("storageClassName") or ""


def _binding_mode(cls: dict[str, Any]) -> str:
    return cls.get("volumeBindingMode") or "Immediate"  # API default (SetDefaults_StorageClass)


def _storage(obj: dict[str, Any], path: tuple[str, ...]) -> int:
    value: Any = obj.get("spec") or {}
    for key in path:
        value = (value or {}).get(key)
    return resource_amount("storage", value) if value is not None else 0


def _bound_to_claim(pv: dict[str, Any], pvc: dict[str, Any]) -> bool:
    """``IsVolumeBoundToClaim``."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = pvc["metadata"]
    return (ref.get("name") == meta["name"] and ref.get("namespace", "") == meta.get("namespace")
            and ref.get("uid", "") in ("", meta.get("uid")))


def _fully_bound(pvc: dict[str, Any], store: APIServer) -> bool:
    """``isPVCFullyBound``, taking a pre-bound pair as bound (see the module docstring)."""
    name = (pvc.get("spec") or {}).get("volumeName")
    if not name:
        return False
    if ANN_BIND_COMPLETED in _meta(pvc, "annotations"):
        return True
    pv = store.peek("PersistentVolume", name)
    return pv is not None and (not (pv.get("spec") or {}).get("claimRef") or _bound_to_claim(pv, pvc))


def _pod_claims(pod: dict[str, Any]) -> list[tuple[str, bool]]:
    """(claim name, generic ephemeral?) for each volume backed by a PVC."""
    out = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if vol.get("persistentVolumeClaim") is not None:
            out.append((vol["persistentVolumeClaim"].get("claimName", ""), False))
        elif vol.get("ephemeral") is not None:
            out.append((f'{pod["metadata"]["name"]}-{vol["name"]}', True))  # ephemeral.VolumeClaimName
    return out


def _pv_node_mask(t: NodeTable, pv: dict[str, Any]) -> np.ndarray:
    """``CheckNodeAffinity`` over all node rows."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if required is None:
        return np.ones(t.n, dtype=bool)
    return match_terms(t, required.get("nodeSelectorTerms") or [])


def _topology_mask(t: NodeTable, terms: list[dict[str, Any]]) -> np.ndarray:
    """``MatchTopologySelectorTerms`` over all node rows: no terms match everything."""
    if not terms:
        return np.ones(t.n, dtype=bool)
    out = np.zeros(t.n, dtype=bool)
    for term in terms:
        exprs = term.get("matchLabelExpressions") or []
        if not exprs:
            continue  # a nil or empty term selects nothing
        hit = np.ones(t.n, dtype=bool)
        for e in exprs:
            codes, values = t.label_codes(e.get("key", ""))
            wanted = [values[v] for v in e.get("values") or [] if v in values]
            hit &= np.isin(codes, wanted) if wanted else False
        out |= hit
    return out


def _labels_match_pv(labels: dict[str, str], pv: dict[str, Any]) -> bool:
    """``CheckNodeAffinity`` against one node's labels (used when binding)."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if required is None:
        return True
    for term in required.get("nodeSelectorTerms") or []:
        exprs = term.get("matchExpressions") or []
        if not exprs:
            continue
        try:
            if all(Requirement(e["key"], e["operator"], tuple(e.get("values") or ())).matches(labels)
                   for e in exprs):
                return True
        except (KeyError, ValueError):
            continue  # an invalid requirement makes its term match nothing
    return False


@dataclass
class _Claims:
    """``PodVolumeClaims``: the pod's claims, sorted out in PreFilter."""

    bound: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)  # (pvc, its PV)
    delay: list[tuple[dict[str, Any], str, dict[str, Any]]] = field(default_factory=list)  # (pvc, class, SC)


def _find_matching_volume(pvc: dict[str, Any], pvs: list[dict[str, Any]], valid: dict[str, bool],
                          chosen: set[str], claim_cls: str) -> dict[str, Any] | None:
    """``FindMatchingVolume`` (delayBinding, node given): the smallest fitting PV, or None.

    ``valid`` says, per PV name, whether the PV's node affinity admits the node.
    """
    spec = pvc.get("spec") or {}
    requested = _storage(pvc, ("resources", "requests", "storage"))
    selector = selector_from_dict(spec.get("selector")) if spec.get("selector") is not None else None
    modes = set(spec.get("accessModes") or [])
    smallest, smallest_size = None, 0
    for pv in pvs:
        name = pv["metadata"]["name"]
        pv_spec = pv.get("spec") or {}
        if name in chosen:
            continue
        if pv_spec.get("claimRef") and not _bound_to_claim(pv, pvc):
            continue
        size = _storage(pv, ("capacity", "storage"))
        if size < requested:
            continue
        if (pv_spec.get("volumeMode") or "Filesystem") != (spec.get("volumeMode") or "Filesystem"):
            continue
        if pv["metadata"].get("deletionTimestamp"):
            continue
        if _bound_to_claim(pv, pvc):
            return pv if valid[name] else None
        if (pv.get("status") or {}).get("phase", "Available") != "Available":
            continue
        if selector is not None and not selector.matches(_meta(pv, "labels")):
            continue
        if _pv_class(pv) != claim_cls or not valid[name]:
            continue
        if not modes <= set(pv_spec.get("accessModes") or []):
            continue  # CheckAccessModes
        if smallest is None or size < smallest_size:
            smallest, smallest_size = pv, size
    return smallest


class VolumeBinding(Plugin):
    """Bound claims must fit the node (PV node affinity); unbound ``WaitForFirstConsumer`` claims
    need a matching PV or a class that can provision on the node."""

    name = "VolumeBinding"
    has_filter = True
    has_pre_filter = True

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        super().__init__(args)
        self._store: APIServer | None = None

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        store = ctx.api
        claims = _pod_claims(ctx.pod.obj)
        if not claims or store is None:
            return PreFilterResult(skip=True)
        if store is not self._store:
            store.watch("Pod", self._on_pod)
            self._store = store
        ns = ctx.pod.namespace
        state = _Claims()
        immediate = False
        for name, ephemeral in claims:
            pvc = store.peek("PersistentVolumeClaim", name, ns)
            # podHasPVCs: the lister's NotFound error text, or the ephemeral-volume wording.
            if pvc is None:
                msg = (f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"'
                       if ephemeral else f'persistentvolumeclaim "{name}" not found')
                return PreFilterResult(reject=msg)
            spec = pvc.get("spec") or {}
            if (pvc.get("status") or {}).get("phase") == "Lost":
                return PreFilterResult(reject=f'persistentvolumeclaim "{name}" bound to non-existent '
                                              f'persistentvolume "{spec.get("volumeName", "")}"')
            if pvc["metadata"].get("deletionTimestamp"):
                return PreFilterResult(reject=f'persistentvolumeclaim "{name}" is being deleted')
            if ephemeral and not any(o.get("uid") == ctx.pod.uid and o.get("controller")
                                     for o in pvc["metadata"].get("ownerReferences") or []):
                return PreFilterResult(reject=f"PVC {ns}/{name} was not created for pod {ns}/{ctx.pod.name} "
                                              "(pod is not owner)")
            if _fully_bound(pvc, store):
                state.bound.append((pvc, store.peek("PersistentVolume", spec["volumeName"])))
                continue
            cls_name = claim_class(pvc, store)
            cls = store.peek("StorageClass", cls_name) if cls_name else None
            delayed = cls is not None and _binding_mode(cls) == "WaitForFirstConsumer"
            if delayed and not spec.get("volumeName"):
                state.delay.append((pvc, cls_name, cls))
            else:
                immediate = True  # Immediate binding (or pre-bound) should have been bound already
        if immediate:
            return PreFilterResult(reject=ERR_UNBOUND_IMMEDIATE)
        ctx.state[_STATE] = state
        return None

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        state: _Claims | None = ctx.state.get(_STATE)
        if state is None:  # no claims (PreFilter skipped), or a preemption dry run
            if not _pod_claims(ctx.pod.obj) or self.pre_filter(ctx) is not None:
                return []
            state = ctx.state[_STATE]
        t = ctx.table
        n = t.n
        # checkBoundClaims: per node, the first bound claim that fails decides.
        pending = np.ones(n, dtype=bool)
        node_conflict = np.zeros(n, dtype=bool)
        pv_missing = np.zeros(n, dtype=bool)
        for _, pv in state.bound:
            if pv is None:
                pv_missing |= pending
                break
            ok = _pv_node_mask(t, pv)
            node_conflict |= pending & ~ok
            pending &= ok
        bind_conflict = self._unbound_conflicts(ctx, state) if state.delay else np.zeros(n, dtype=bool)
        out = []
        for reason, mask in ((ERR_NODE_CONFLICT, node_conflict), (ERR_BIND_CONFLICT, bind_conflict),
                             (ERR_PV_NOT_EXIST, pv_missing)):
            if mask.any():
                out.append(Rejection(reason, mask, True))
        return out

    def _unbound_conflicts(self, ctx: CycleContext, state: _Claims) -> np.ndarray:
        """Nodes where some unbound WaitForFirstConsumer claim can be neither matched nor provisioned."""
        t = ctx.table
        store = ctx.api
        names = np.asarray(t.names, dtype=object)
        fail = np.zeros(t.n, dtype=bool)
        to_match: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
        always_provision: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
        for pvc, cls_name, cls in state.delay:
            selected = _meta(pvc, "annotations").get(ANN_SELECTED_NODE)
            if selected is not None:
                fail |= names != selected  # fast path: the claim is being provisioned for another node
                always_provision.append((pvc, cls_name, cls))
            else:
                to_match.append((pvc, cls_name, cls))
        # Provisioning verdict per claim: a real provisioner that can reach the node's topology.
        provisionable = {}
        for pvc, _, cls in state.delay:
            prov = cls.get("provisioner") or ""
            ok = prov not in ("", NOT_SUPPORTED_PROVISIONER)
            provisionable[id(pvc)] = _topology_mask(t, cls.get("allowedTopologies") or []) if ok \
                else np.zeros(t.n, dtype=bool)
        for pvc, _, _ in always_provision:
            fail |= ~provisionable[id(pvc)]
        if not to_match:
            return fail
        # findMatchingVolumes: smallest claims first; nodes with the same PV-affinity pattern
        # reach the same verdict, so the greedy matching runs once per pattern.
        to_match.sort(key=lambda c: _storage(c[0], ("resources", "requests", "storage")))
        pvs_by_class = {cls_name: [pv for pv in store.items("PersistentVolume") if _pv_class(pv) == cls_name]
                        for _, cls_name, _ in to_match}
        pvs = {pv["metadata"]["name"]: pv for group in pvs_by_class.values() for pv in group}
        if not pvs:
            for pvc, _, _ in to_match:
                fail |= ~provisionable[id(pvc)]
            return fail
        names_pv = list(pvs)
        valid = np.stack([_pv_node_mask(t, pvs[nm]) for nm in names_pv])  # PVs x nodes
        patterns, inverse = np.unique(valid.T, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        for k, pattern in enumerate(patterns):
            ok_pv = dict(zip(names_pv, pattern.tolist()))
            chosen: set[str] = set()
            nodes = inverse == k
            for pvc, cls_name, _ in to_match:
                pv = _find_matching_volume(pvc, pvs_by_class[cls_name], ok_pv, chosen, cls_name)
                if pv is not None:
                    chosen.add(pv["metadata"]["name"])
                else:
                    fail |= nodes & ~provisionable[id(pvc)]
        return fail

    # -- binding when the pod's binding lands --------------------------------------------------------
    def _on_pod(self, ev: WatchEvent) -> None:
        node = (ev.object.get("spec") or {}).get("nodeName")
        if ev.type != "MODIFIED" or not node or ((ev.old or {}).get("spec") or {}).get("nodeName"):
            return
        if self._store is not None and _pod_claims(ev.object):
            self._bind_claims(self._store, ev.object, node)

    def _bind_claims(self, store: APIServer, pod: dict[str, Any], node_name: str) -> None:
        """Bind the pod's unbound WaitForFirstConsumer claims for ``node_name`` (see module docstring)."""
        node = store.peek("Node", node_name)
        labels = _meta(node, "labels") if node is not None else {}
        ns = pod["metadata"].get("namespace", "default")
        chosen: set[str] = set()
        claims = [store.peek("PersistentVolumeClaim", name, ns) for name, _ in _pod_claims(pod)]
        claims = [c for c in claims if c is not None and not (c.get("spec") or {}).get("volumeName")]
        claims.sort(key=lambda c: _storage(c, ("resources", "requests", "storage")))
        for pvc in claims:
            cls_name = claim_class(pvc, store)
            cls = store.peek("StorageClass", cls_name) if cls_name else None
            if cls is None or _binding_mode(cls) != "WaitForFirstConsumer":
                continue
            pvs = [pv for pv in store.items("PersistentVolume") if _pv_class(pv) == cls_name]
            valid = {pv["metadata"]["name"]: _labels_match_pv(labels, pv) for pv in pvs}
            pv = _find_matching_volume(pvc, pvs, valid, chosen, cls_name)
            provisioner = ""
            if pv is None:
                provisioner = cls.get("provisioner") or ""
                if provisioner in ("", NOT_SUPPORTED_PROVISIONER):
                    continue
                pv = store.create(_provisioned_pv(pvc, cls_name, cls, labels))
            chosen.add(pv["metadata"]["name"])
            _bind(store, pv, pvc, node_name, provisioner)


def _provisioned_pv(pvc: dict[str, Any], cls_name: str, cls: dict[str, Any], labels: dict[str, str]
                    ) -> dict[str, Any]:
    """The PersistentVolume a topology-aware provisioner creates for ``pvc`` on a node with ``labels``."""
    keys = [e.get("key") for term in cls.get("allowedTopologies") or []
            for e in term.get("matchLabelExpressions") or [] if e.get("key") in labels]
    keys = list(dict.fromkeys(keys)) or ([ZONE] if ZONE in labels else [])
    spec = pvc.get("spec") or {}
    name = f'pvc-{pvc["metadata"].get("uid", "")}'
    pv_spec: dict[str, Any] = {
        "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")},
        "accessModes": list(spec.get("accessModes") or []),
        "persistentVolumeReclaimPolicy": cls.get("reclaimPolicy") or "Delete",
        "storageClassName": cls_name,
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "csi": {"driver": cls.get("provisioner", ""), "volumeHandle": name},
    }
    if keys:
        pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": k, "operator": "In", "values": [labels[k]]} for k in keys]}]}}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {ANN_PROVISIONED_BY: cls.get("provisioner", "")}},
            "spec": pv_spec, "status": {"phase": "Available"}}


def _bind(store: APIServer, pv: dict[str, Any], pvc: dict[str, Any], node_name: str,
          provisioner: str) -> None:
    """What the PV controller writes once a claim and a volume are bound (``provisioner``: the
    volume was just provisioned for ``node_name`` by it, else it was a matching static PV)."""
    meta = pvc["metadata"]

    def volume(p: dict[str, Any]) -> None:
        p["spec"]["claimRef"] = {
            "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta["namespace"],
            "name": meta["name"], "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        p["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
        p["status"] = {"phase": "Bound"}

    bound_pv = store.mutate("PersistentVolume", pv["metadata"]["name"], None, volume)

    def claim(c: dict[str, Any]) -> None:
        c["spec"]["volumeName"] = bound_pv["metadata"]["name"]
        ann = c["metadata"].setdefault("annotations", {})
        ann.update({ANN_BIND_COMPLETED: "yes", ANN_BOUND_BY_CONTROLLER: "yes"})
        if provisioner:
            ann.update({ANN_SELECTED_NODE: node_name, ANN_STORAGE_PROVISIONER: provisioner})
        c["status"] = {"phase": "Bound", "accessModes": list(bound_pv["spec"].get("accessModes") or []),
                       "capacity": dict(bound_pv["spec"].get("capacity") or {})}

    store.mutate("PersistentVolumeClaim", meta["name"], meta["namespace"], claim)


# -- VolumeZone -----------------------------------------------------------------------------------------
def _zones(value: str) -> set[str] | None:
    """``LabelZonesToSet``: ``a__b`` is two zones; an empty member makes the label unusable."""
    zones = [z.strip() for z in value.split("__")]
    return None if any(not z for z in zones) else set(zones)


class VolumeZone(Plugin):
    """Zone/region labels on a bound PersistentVolume must match the node's."""

    name = "VolumeZone"
    has_filter = True
    has_pre_filter = True

    def _topologies(self, ctx: CycleContext) -> list[tuple[str, set[str]]] | str:
        """``getPVbyPod``: (label key, allowed values) per PV topology label, or a rejection message."""
        store = ctx.api
        out: list[tuple[str, set[str]]] = []
        if store is None:
            return out
        for vol in (ctx.pod.obj.get("spec") or {}).get("volumes") or []:
            if vol.get("persistentVolumeClaim") is None:
                continue
            name = vol["persistentVolumeClaim"].get("claimName", "")
            if not name:
                return "PersistentVolumeClaim had no name"
            pvc = store.peek("PersistentVolumeClaim", name, ctx.pod.namespace)
            if pvc is None:
                return f'persistentvolumeclaim "{name}" not found'
            pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
            if not pv_name:
                cls_name = claim_class(pvc, store)
                if not cls_name:
                    return "PersistentVolumeClaim had no pv name and storageClass name"
                cls = store.peek("StorageClass", cls_name)
                if cls is None:
                    return f'storageclass.storage.k8s.io "{cls_name}" not found'
                if _binding_mode(cls) == "WaitForFirstConsumer":
                    continue  # skip unbound volumes
                return "PersistentVolume had no name"
            pv = store.peek("PersistentVolume", pv_name)
            if pv is None:
                return f'persistentvolume "{pv_name}" not found'
            for key in TOPOLOGY_LABELS:
                value = _meta(pv, "labels").get(key)
                if value is not None and (zones := _zones(value)) is not None:
                    out.append((key, zones))
        return out

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        found = self._topologies(ctx)
        if isinstance(found, str):
            return PreFilterResult(reject=found)
        if not found:
            return PreFilterResult(skip=True)
        ctx.state["PreFilterVolumeZone"] = found
        return None

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        found = ctx.state.get("PreFilterVolumeZone")
        if found is None:
            found = self._topologies(ctx)
            if isinstance(found, str) or not found:
                return []
        t = ctx.table
        # A node without any zone/region label (a single-zone cluster) is always fine.
        constrained = np.zeros(t.n, dtype=bool)
        for key in TOPOLOGY_LABELS:
            constrained |= t.label_codes(key)[0] >= 0
        bad = np.zeros(t.n, dtype=bool)
        for key, zones in found:
            codes, values = t.label_codes(key)
            ga_codes, ga_values = t.label_codes(_GA.get(key, key))
            # The PV's beta label may match the node's GA label.
            ok = np.where(codes >= 0, np.isin(codes, [values[z] for z in zones if z in values]),
                          np.isin(ga_codes, [ga_values[z] for z in zones if z in ga_values]))
            bad |= ~ok
        bad &= constrained
        return [Rejection(ERR_ZONE_CONFLICT, bad, True)] if bad.any() else []

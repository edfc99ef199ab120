"""The Deployment controller: roll a pod template out through ReplicaSets.

Upstream: ``pkg/controller/deployment/`` -- ``deployment_controller.go`` (event handlers,
``syncDeployment``), ``sync.go`` (``getNewReplicaSet``, ``scale``, ``cleanupDeployment``,
``calculateStatus``), ``rolling.go``, ``recreate.go``, ``progress.go`` and
``util/deployment_util.go``. The rules are ``kubernetes-semantics.md`` section 9.2--9.9.

The controller keeps upstream's habit of working on one copy of the Deployment read at the start
of a sync: a second status write in the same sync carries the first one's stale
``resourceVersion`` and fails with a Conflict, and the work queue retries it, exactly as the
real controller does (its log is full of "the object has been modified").
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import struct
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from labkit.api.server import Conflict, NotFound
from labkit.api.store import WatchEvent, clone, timestamp
from labkit.controllers.controller_utils import (
    OwnerIndex,
    claim,
    controller_ref,
    owner_reference,
    owners_matching,
    parse_time,
    selector_of,
    set_count,
)
from labkit.controllers.runtime import Controller, SyncError
from labkit.errors import ManifestError

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["DeploymentController", "resolve_fenceposts", "scaled_value", "max_surge", "max_unavailable",
           "compute_hash", "equal_ignore_hash", "go_round", "revision_of", "find_new_replica_set",
           "replica_sets_of", "skip_copy_annotation",
           "REVISION", "REVISION_HISTORY", "DESIRED_REPLICAS", "MAX_REPLICAS", "POD_TEMPLATE_HASH",
           "MAX_INT32"]

# apps/v1 and deployment/util/deployment_util.go names.
POD_TEMPLATE_HASH = "pod-template-hash"  # apps.DefaultDeploymentUniqueLabelKey
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
#: ``sync.go: maxRevHistoryLengthInChars``.
MAX_REV_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1
#: ``deployment_controller.go: maxRetries``: failed syncs of one key before it is dropped.
MAX_RETRIES = 15

# Condition reasons (deployment_util.go).
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

_SKIPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                                  DEPRECATED_ROLLBACK_TO})
#: ``rand.SafeEncodeString``'s alphabet (``apimachinery/pkg/util/rand/rand.go``).
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

Key = tuple[str, str]
RS = dict[str, Any]


# -- pure helpers (deployment_util.go, intstr.go, controller_utils.go) -------------------------------
def skip_copy_annotation(key: str) -> bool:
    """``annotationsToSkip``: annotations never copied between a Deployment and its ReplicaSets."""
    return key in _SKIPPED_ANNOTATIONS


def go_round(x: float) -> int:
    """Go's ``math.Round``: half away from zero (Python's ``round`` rounds half to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: an int as is, ``"p%"`` of ``total`` rounded up or down."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        p = int(value[:-1])
    except ValueError:
        raise ValueError(f'invalid value for IntOrString: invalid value "{value}"') from None
    # Upstream computes ceil/floor of p * total / 100 in float64; for ints the integer forms agree.
    return -((-p * total) // 100) if round_up else (p * total) // 100


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int
                       ) -> tuple[int, int]:
    """``ResolveFenceposts``: maxSurge rounds up, maxUnavailable down; both 0 makes unavailable 1."""
    s = scaled_value(0 if surge is None else surge, desired, True)
    u = scaled_value(0 if unavailable is None else unavailable, desired, False)
    if s == 0 and u == 0:
        u = 1
    return s, u


def _is_rolling(d: dict[str, Any]) -> bool:
    return (d["spec"].get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def _replicas(obj: dict[str, Any]) -> int:
    r = obj["spec"].get("replicas")
    return 1 if r is None else r


def _fenceposts(d: dict[str, Any]) -> tuple[int, int]:
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), _replicas(d))


def max_surge(d: dict[str, Any]) -> int:
    """``MaxSurge``: 0 for Recreate."""
    return _fenceposts(d)[0] if _is_rolling(d) else 0


def max_unavailable(d: dict[str, Any]) -> int:
    """``MaxUnavailable``: 0 for Recreate or 0 replicas, and at most ``spec.replicas``."""
    if not _is_rolling(d) or _replicas(d) == 0:
        return 0
    return min(_fenceposts(d)[1], _replicas(d))


def _fnv1a32(data: bytes, h: int = 0x811C9DC5) -> int:
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != POD_TEMPLATE_HASH}
    for key, value in (("labels", labels), ("annotations", meta.get("annotations"))):
        if value:
            meta[key] = value
        else:
            meta.pop(key, None)  # Semantic.DeepEqual: an empty map equals a missing one
    return {**template, "metadata": meta}


def compute_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` stand-in for ``controller.ComputeHash`` (semantics 9.9).

    Upstream hashes Go's own printout of the struct, which Python cannot reproduce; this hashes a
    canonical JSON of the defaulted template (sorted keys, the hash label left out) with
    FNV-1a 32, mixes in ``collisionCount`` as upstream does (uint32 little-endian, then four zero
    bytes) and prints the number with ``rand.SafeEncodeString``'s digit mapping (0 -> 4 ... 9 -> f),
    so names look and behave like real ones: same template, same hash; 1--10 characters.
    """
    text = json.dumps(_without_hash(template), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    h = _fnv1a32(text.encode())
    if collision_count is not None:
        h = _fnv1a32(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0", h)
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in str(h))


def equal_ignore_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``EqualIgnoreHash``: templates equal once both drop the ``pod-template-hash`` label."""
    return _without_hash(a) == _without_hash(b)


def revision_of(obj: dict[str, Any]) -> int | None:
    """``Revision``: the revision annotation as an int (0 when absent, None when unparsable)."""
    v = (obj["metadata"].get("annotations") or {}).get(REVISION)
    if v is None:
        return 0
    try:
        return int(v)
    except ValueError:
        return None


def _by_creation(rs: RS) -> tuple[float, str]:
    """``ReplicaSetsByCreationTimestamp``: creation time, then name."""
    return (parse_time(rs["metadata"].get("creationTimestamp")) or 0.0, rs["metadata"]["name"])


def find_new_replica_set(d: dict[str, Any], rs_list: list[RS],
                         same: Callable[[RS, dict[str, Any]], bool] | None = None) -> RS | None:
    """``FindNewReplicaSet``: the oldest ReplicaSet whose template equals the Deployment's (hash aside)."""
    for rs in sorted(rs_list, key=_by_creation):
        equal = same(rs, d) if same is not None else equal_ignore_hash(rs["spec"]["template"],
                                                                       d["spec"]["template"])
        if equal:
            return rs
    return None


def replica_sets_of(api: APIServer, d: dict[str, Any]) -> list[RS]:
    """``ListReplicaSets``: the ReplicaSets the Deployment controls (a client's view, for kubectl)."""
    uid = d["metadata"]["uid"]
    return sorted((rs for rs in api.items("ReplicaSet", d["metadata"]["namespace"])
                   if (controller_ref(rs) or {}).get("uid") == uid), key=_by_creation)


def _active(rss: list[RS | None]) -> list[RS]:
    """``FilterActiveReplicaSets``: ReplicaSets with ``spec.replicas > 0``."""
    return [rs for rs in rss if rs is not None and _replicas(rs) > 0]


def _spec_sum(rss: list[RS | None]) -> int:
    return sum(_replicas(rs) for rs in rss if rs is not None)


def _status_sum(rss: list[RS | None], field: str) -> int:
    return sum((rs.get("status") or {}).get(field, 0) for rs in rss if rs is not None)


def _annotation_int(rs: RS, key: str) -> int | None:
    """``getNonNegativeInt32FromAnnotation``: a uint32 within int32, else None."""
    v = (rs["metadata"].get("annotations") or {}).get(key)
    if v is None or not v.isdigit():
        return None
    n = int(v)
    return n if n <= MAX_INT32 else None


def _get_condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in status.get("conditions") or ():
        if c["type"] == type_:
            return c
    return None


def _set_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """``SetDeploymentCondition``: same status and reason changes nothing; otherwise the old entry
    goes and the new one is appended (keeping ``lastTransitionTime`` when the status is the same)."""
    current = _get_condition(status, cond["type"])
    same_status = current is not None and current["status"] == cond["status"]
    if same_status and current.get("reason") == cond["reason"]:  # type: ignore[union-attr]
        return
    if same_status:
        cond["lastTransitionTime"] = current.get("lastTransitionTime")  # type: ignore[union-attr]
    _remove_condition(status, cond["type"])
    status["conditions"] = [*(status.get("conditions") or []), cond]


def _remove_condition(status: dict[str, Any], type_: str) -> None:
    rest = [c for c in status.get("conditions") or () if c["type"] != type_]
    if rest:
        status["conditions"] = rest
    else:
        status.pop("conditions", None)


def _has_progress_deadline(d: dict[str, Any]) -> bool:
    v = d["spec"].get("progressDeadlineSeconds")
    return v is not None and v != MAX_INT32


def _deployment_complete(d: dict[str, Any], st: dict[str, Any]) -> bool:
    """``DeploymentComplete``: every replica updated and available, and the spec observed."""
    r = _replicas(d)
    return (st.get("updatedReplicas", 0) == r and st.get("replicas", 0) == r
            and st.get("availableReplicas", 0) == r
            and st.get("observedGeneration", 0) >= d["metadata"].get("generation", 0))


def _deployment_progressing(d: dict[str, Any], new: dict[str, Any]) -> bool:
    """``DeploymentProgressing``: more updated, fewer old, more ready or more available replicas."""
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))



class DeploymentController(Controller):
    """kube-controller-manager's ``deployment-controller``."""

    component = "deployment-controller"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        super().__init__(env, api, recorder)
        self.pods = OwnerIndex(api, "Pod")  # getPodMapForDeployment reads pods by owning ReplicaSet
        self._same: dict[tuple, bool] = {}
        self.watch("Deployment", self._on_deployment)
        self.watch("ReplicaSet", self._on_replicaset)
        self.watch("Pod", self._on_pod)

    def _same_template(self, rs: RS, d: dict[str, Any]) -> bool:
        """:func:`equal_ignore_hash`, memoized by uids and generations (a template is spec, so a
        change to it bumps the generation): every sync asks it of every ReplicaSet, twice."""
        rm, dm = rs["metadata"], d["metadata"]
        key = (rm.get("uid"), rm.get("generation"), dm.get("uid"), dm.get("generation"))
        hit = self._same.get(key)
        if hit is None:
            if len(self._same) > 65536:
                self._same.clear()
            hit = self._same[key] = equal_ignore_hash(rs["spec"]["template"], d["spec"]["template"])
        return hit

    # -- event handlers (deployment_controller.go) ---------------------------------------------
    def _on_deployment(self, ev: WatchEvent) -> Key:
        meta = ev.object["metadata"]
        return (meta["namespace"], meta["name"])

    def _resolve(self, namespace: str, ref: dict[str, Any] | None) -> Key | None:
        """``resolveControllerRef``: the Deployment a controller reference names, if it still exists."""
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.api.peek("Deployment", ref["name"], namespace)
        if d is None or d["metadata"]["uid"] != ref["uid"]:
            return None
        return (namespace, ref["name"])

    def _deployments_for(self, rs: RS) -> list[Key]:
        """``GetDeploymentsForReplicaSet``: Deployments whose selector matches an orphan's labels."""
        labels = rs["metadata"].get("labels") or {}
        if not labels:
            return []
        return owners_matching(self.api, "Deployment", rs["metadata"]["namespace"], labels)

    def _on_replicaset(self, ev: WatchEvent) -> list[Key] | Key | None:
        rs = ev.object
        ns = rs["metadata"]["namespace"]
        ref = controller_ref(rs)
        if ev.type == "DELETED" or (ev.type == "ADDED" and rs["metadata"].get("deletionTimestamp")):
            return self._resolve(ns, ref)
        if ev.type == "ADDED":
            key = self._resolve(ns, ref) if ref is not None else None
            return key if ref is not None else self._deployments_for(rs)
        old = ev.old or {"metadata": {}}
        old_ref = controller_ref(old) if old.get("metadata") else None
        keys: list[Key] = []
        if ref != old_ref and old_ref is not None:
            k = self._resolve(ns, old_ref)
            if k is not None:
                keys.append(k)
        if ref is not None:
            k = self._resolve(ns, ref)
            return [*keys, k] if k is not None else (keys or None)
        if rs["metadata"].get("labels") != old["metadata"].get("labels") or ref != old_ref:
            keys.extend(self._deployments_for(rs))
        return keys or None

    def _on_pod(self, ev: WatchEvent) -> Key | None:
        """``deletePod``: a Recreate Deployment waits for its old pods to be gone."""
        if ev.type != "DELETED":
            return None
        pod = ev.object
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        ns = pod["metadata"]["namespace"]
        rs = self.api.peek("ReplicaSet", ref["name"], ns)
        if rs is None or rs["metadata"]["uid"] != ref["uid"]:
            return None
        key = self._resolve(ns, controller_ref(rs))
        if key is None:
            return None
        d = self.api.peek("Deployment", key[1], ns)
        if d is None or _is_rolling(d):
            return None
        if any(True for r in replica_sets_of(self.api, d) for _ in self.pods.owned(r["metadata"]["uid"])):
            return None
        return key

    # -- syncDeployment -----------------------------------------------------------------------
    def sync(self, key: Hashable) -> None:
        """``syncDeployment`` with ``handleErr``: a stored spec the controller cannot work with (a
        ``maxSurge`` of ``"25"``, which today's validation refuses but an older object may hold) is
        retried with back-off and dropped after :data:`MAX_RETRIES`."""
        try:
            self._sync_deployment(key)
        except ValueError as e:
            if self.queue.num_requeues(key) >= MAX_RETRIES:
                return  # deployment_controller.go: handleErr drops the key ("dropping deployment")
            raise SyncError(str(e)) from None

    def _sync_deployment(self, key: Hashable) -> None:
        """``syncDeployment`` (semantics 9.3). An empty selector (9.3 step 1) never gets here: the
        API server refuses it at validation."""
        ns, name = key  # type: ignore[misc]
        stored = self.api.peek("Deployment", name, ns)
        if stored is None:
            return
        # The sync edits metadata.annotations and status of its copy; spec is only read.
        meta = dict(stored["metadata"])
        if "annotations" in meta:
            meta["annotations"] = dict(meta["annotations"])
        d = {**stored, "metadata": meta, "status": clone(stored.get("status") or {})}
        self._key = (ns, name)
        rs_list = self._get_replica_sets(d)
        if d["metadata"].get("deletionTimestamp"):
            new, old = self._get_all(d, rs_list, False)
            self._sync_deployment_status([*old, new], new, d)
            return
        self._check_paused_conditions(d)
        if d["spec"].get("paused"):
            self._sync(d, rs_list)
            return
        if self._is_scaling_event(d, rs_list):
            self._sync(d, rs_list)
            return
        if _is_rolling(d):
            self._rollout_rolling(d, rs_list)
        else:
            self._rollout_recreate(d, rs_list)

    def _get_replica_sets(self, d: dict[str, Any]) -> list[RS]:
        """``getReplicaSetsForDeployment``: claim (adopt or release) the namespace's ReplicaSets."""
        sel = selector_of(d)
        if sel is None:
            return []
        candidates = list(self.api.items("ReplicaSet", d["metadata"]["namespace"]))
        return sorted(claim(self.api, d, sel, candidates), key=_by_creation)

    def _update_status(self, d: dict[str, Any]) -> None:
        """``UpdateStatus(d)`` with the resourceVersion read at the start of the sync."""
        self.api.update_status(d)

    def _event(self, d: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.event(d, type_, reason, message)

    def _condition(self, type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        """``NewDeploymentCondition``: both times now."""
        now = timestamp(float(self.env.now))
        return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
                "reason": reason, "message": message}

    def _check_paused_conditions(self, d: dict[str, Any]) -> None:
        """``checkPausedConditions``: Progressing Unknown DeploymentPaused / DeploymentResumed."""
        if not _has_progress_deadline(d):
            return
        cond = _get_condition(d["status"], "Progressing")
        if cond is not None and cond.get("reason") == TIMED_OUT_REASON:
            return
        paused_exists = cond is not None and cond.get("reason") == PAUSED_REASON
        if d["spec"].get("paused") and not paused_exists:
            _set_condition(d["status"], self._condition("Progressing", "Unknown", PAUSED_REASON,
                                                        "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_exists:
            _set_condition(d["status"], self._condition("Progressing", "Unknown", RESUMED_REASON,
                                                        "Deployment is resumed"))
        else:
            return
        self._update_status(d)

    def _is_scaling_event(self, d: dict[str, Any], rs_list: list[RS]) -> bool:
        """``isScalingEvent``: an active ReplicaSet's desired-replicas annotation differs from R."""
        new, old = self._get_all(d, rs_list, False)
        for rs in _active([*old, new]):
            desired = _annotation_int(rs, DESIRED_REPLICAS)
            if desired is not None and desired != _replicas(d):
                return True
        return False

    # -- getNewReplicaSet and revisions (sync.go) ----------------------------------------------
    def _get_all(self, d: dict[str, Any], rs_list: list[RS], create: bool) -> tuple[RS | None, list[RS]]:
        """``getAllReplicaSetsAndSyncRevision``: (new, old), old in creation order."""
        existing = find_new_replica_set(d, rs_list, self._same_template)
        new_uid = existing["metadata"]["uid"] if existing is not None else None
        old = [rs for rs in rs_list if rs["metadata"]["uid"] != new_uid]
        return self._get_new_replica_set(d, existing, old, create), old

    def _get_new_replica_set(self, d: dict[str, Any], existing: RS | None, old: list[RS], create: bool
                             ) -> RS | None:
        """``getNewReplicaSet``: update the existing new ReplicaSet's annotations and
        ``minReadySeconds``, or (``create``) create it, with the revision and condition bookkeeping."""
        max_old = max((r for r in (revision_of(rs) for rs in old) if r is not None), default=0)
        new_revision = str(max_old + 1)
        if existing is not None:
            rs_copy = _editable(existing)
            annotations_updated = self._set_new_rs_annotations(d, rs_copy, new_revision, exists=True)
            min_ready = d["spec"].get("minReadySeconds", 0)
            if annotations_updated or rs_copy["spec"].get("minReadySeconds", 0) != min_ready:
                if min_ready:
                    rs_copy["spec"]["minReadySeconds"] = min_ready
                else:
                    rs_copy["spec"].pop("minReadySeconds", None)  # int32 0: omitted, as stored
                return self.api.update(rs_copy)
            needs_update = _set_revision(d, (rs_copy["metadata"].get("annotations") or {}).get(REVISION, ""))
            if _has_progress_deadline(d) and _get_condition(d["status"], "Progressing") is None:
                msg = f'Found new replica set "{rs_copy["metadata"]["name"]}"'
                _set_condition(d["status"], self._condition("Progressing", "True", FOUND_NEW_RS_REASON, msg))
                needs_update = True
            if needs_update:
                self._update_status(d)
            return rs_copy
        if not create:
            return None
        template = clone(d["spec"]["template"])
        pod_hash = compute_hash(template, (d.get("status") or {}).get("collisionCount"))
        template.setdefault("metadata", {})["labels"] = {**(template["metadata"].get("labels") or {}),
                                                         POD_TEMPLATE_HASH: pod_hash}
        selector = clone(d["spec"]["selector"])
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH: pod_hash}
        name = _replica_set_name(d["metadata"]["name"], pod_hash)
        spec: dict[str, Any] = {"replicas": 0, "selector": selector, "template": template}
        if d["spec"].get("minReadySeconds"):
            spec["minReadySeconds"] = d["spec"]["minReadySeconds"]
        new_rs: RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                      "metadata": {"name": name, "namespace": d["metadata"]["namespace"],
                                   "ownerReferences": [owner_reference(d)],
                                   "labels": dict(template["metadata"]["labels"])},
                      "spec": spec}
        count = self._new_rs_new_replicas(d, [*old, new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        self._set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        already_exists = False
        try:
            created = self.api.create(new_rs, schema=False)
        except KeyError as e:
            rs = self.api.peek("ReplicaSet", name, d["metadata"]["namespace"])
            ref = controller_ref(rs) if rs is not None else None
            if rs is not None and ref is not None and ref["uid"] == d["metadata"]["uid"] \
                    and equal_ignore_hash(d["spec"]["template"], rs["spec"]["template"]):
                created, already_exists = rs, True
            else:
                # A hash collision: bump collisionCount so the next sync computes another name.
                d["status"]["collisionCount"] = d["status"].get("collisionCount", 0) + 1
                with contextlib.suppress(Conflict):
                    self._update_status(d)
                raise SyncError(str(e)) from None
        except ManifestError as e:
            msg = f'Failed to create new replica set "{name}": {e}'
            if _has_progress_deadline(d):
                cond = self._condition("Progressing", "False", FAILED_RS_CREATE_REASON, msg)
                _set_condition(d["status"], cond)
                with contextlib.suppress(Conflict):
                    self._update_status(d)
            self._event(d, "Warning", FAILED_RS_CREATE_REASON, msg)
            raise SyncError(msg) from None
        if not already_exists and count > 0:
            self._event(d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {count}")
        needs_update = _set_revision(d, new_revision)
        if not already_exists and _has_progress_deadline(d):
            _set_condition(d["status"], self._condition("Progressing", "True", NEW_RS_REASON,
                                                        f'Created new replica set "{name}"'))
            needs_update = True
        if needs_update:
            self._update_status(d)
        return created

    def _set_new_rs_annotations(self, d: dict[str, Any], rs: RS, new_revision: str, exists: bool) -> bool:
        """``SetNewReplicaSetAnnotations``: copy the Deployment's annotations, raise the revision
        (appending the old one to revision-history), and for a new one the replica annotations."""
        ann = rs["metadata"].setdefault("annotations", {})
        changed = False
        for k, v in (d["metadata"].get("annotations") or {}).items():
            if skip_copy_annotation(k) or ann.get(k) == v:
                continue
            ann[k] = v
            changed = True
        had = REVISION in ann
        old_revision = ann.get(REVISION, "")
        try:
            old_int = int(old_revision) if old_revision else 0
        except ValueError:
            return False
        new_int = int(new_revision)
        if old_int < new_int:
            ann[REVISION] = new_revision
            changed = True
        if had and old_int < new_int:
            history = ann.get(REVISION_HISTORY, "")
            entries = history.split(",")
            if not entries[0]:
                ann[REVISION_HISTORY] = old_revision
            else:
                total = len(history) + len(old_revision) + 1
                start = 0
                while total > MAX_REV_HISTORY_CHARS and start < len(entries):
                    total -= len(entries[start]) + 1
                    start += 1
                if total <= MAX_REV_HISTORY_CHARS:
                    ann[REVISION_HISTORY] = ",".join([*entries[start:], old_revision])
        if not exists and _set_replicas_annotations(rs, _replicas(d), _replicas(d) + max_surge(d)):
            changed = True
        return changed

    # -- scaling (sync.go: scale, scaleReplicaSet) -----------------------------------------------
    def _scale_replica_set(self, rs: RS, new_scale: int, d: dict[str, Any], force: bool = False
                           ) -> tuple[bool, RS]:
        """``scaleReplicaSet``: write the size and the replica annotations; a size change is a
        ``ScalingReplicaSet`` event on the Deployment."""
        old_scale = _replicas(rs)
        if not force and old_scale == new_scale:
            return False, rs
        r, surge = _replicas(d), max_surge(d)
        size_changed = old_scale != new_scale
        if not size_changed and not _replicas_annotations_need_update(rs, r, r + surge):
            return False, rs
        rs_copy = _editable(rs)
        rs_copy["spec"]["replicas"] = new_scale
        _set_replicas_annotations(rs_copy, r, r + surge)
        updated = self.api.update(rs_copy)
        if size_changed:
            direction = "up" if old_scale < new_scale else "down"
            name = rs["metadata"]["name"]
            self._event(d, "Normal", "ScalingReplicaSet",
                        f"Scaled {direction} replica set {name} from {old_scale} to {new_scale}")
        return size_changed, updated

    def _sync(self, d: dict[str, Any], rs_list: list[RS]) -> None:
        """``sync``: scaling only (paused, or a scaling event), plus clean-up when paused."""
        new, old = self._get_all(d, rs_list, False)
        self._scale(d, new, old)
        if d["spec"].get("paused"):
            self._cleanup(old, d)
        self._sync_deployment_status([*old, new], new, d)

    def _scale(self, d: dict[str, Any], new: RS | None, old: list[RS]) -> None:
        """``scale`` (semantics 9.6): one active ReplicaSet takes R; a saturated new one empties the
        old ones; otherwise the difference is spread in proportion to the ReplicaSets' sizes."""
        r = _replicas(d)
        target = _find_active_or_latest(new, old)
        if target is not None:
            if _replicas(target) != r:
                self._scale_replica_set(target, r, d)
            return
        if _is_saturated(d, new):
            for rs in _active(old):
                self._scale_replica_set(rs, 0, d)
            return
        if not _is_rolling(d):
            return
        all_rss = _active([*old, new])
        allowed = r + max_surge(d) if r > 0 else 0
        to_add = allowed - _spec_sum(all_rss)
        if to_add > 0:  # ReplicaSetsBySizeNewer
            all_rss.sort(key=_by_creation, reverse=True)
            all_rss.sort(key=_replicas, reverse=True)
        elif to_add < 0:  # ReplicaSetsBySizeOlder
            all_rss.sort(key=_by_creation)
            all_rss.sort(key=_replicas, reverse=True)
        added = 0
        sizes: list[int] = []
        for rs in all_rss:
            if to_add != 0:
                share = self._proportion(rs, d, to_add, added)
                sizes.append(_replicas(rs) + share)
                added += share
            else:
                sizes.append(_replicas(rs))
        for i, rs in enumerate(all_rss):
            if i == 0 and to_add != 0:
                sizes[0] = max(sizes[0] + to_add - added, 0)
            self._scale_replica_set(rs, sizes[i], d, force=True)

    def _proportion(self, rs: RS, d: dict[str, Any], to_add: int, added: int) -> int:
        """``GetReplicaSetProportion`` with ``getReplicaSetFraction``."""
        if _replicas(rs) == 0 or to_add == 0 or to_add == added:
            return 0
        r = _replicas(d)
        if r == 0:
            fraction = -_replicas(rs)
        else:
            before = _annotation_int(rs, MAX_REPLICAS)
            if not before:
                before = (d.get("status") or {}).get("replicas", 0)
            if not before:
                fraction = 0
            else:
                fraction = go_round(_replicas(rs) * (r + max_surge(d)) / before) - _replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _new_rs_new_replicas(self, d: dict[str, Any], all_rss: list[RS | None], new: RS) -> int:
        """``NewRSNewReplicas``: how far the new ReplicaSet may grow now (R for Recreate)."""
        r = _replicas(d)
        if not _is_rolling(d):
            return r
        ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        surge = scaled_value(ru.get("maxSurge", 0), r, True)
        current = _spec_sum(all_rss)
        max_total = r + surge
        if current >= max_total:
            return _replicas(new)
        return _replicas(new) + min(max_total - current, r - _replicas(new))

    # -- rolling.go ---------------------------------------------------------------------------
    def _rollout_rolling(self, d: dict[str, Any], rs_list: list[RS]) -> None:
        """``rolloutRolling``: at most one of scale-up and scale-down per sync (semantics 9.4)."""
        new, old = self._get_all(d, rs_list, True)
        assert new is not None
        all_rss: list[RS | None] = [*old, new]
        if self._reconcile_new(all_rss, new, d):
            self._sync_rollout_status(all_rss, new, d)
            return
        if self._reconcile_old(all_rss, _active(old), new, d):
            self._sync_rollout_status(all_rss, new, d)
            return
        if _deployment_complete(d, d["status"]):
            self._cleanup(old, d)
        self._sync_rollout_status(all_rss, new, d)

    def _reconcile_new(self, all_rss: list[RS | None], new: RS, d: dict[str, Any]) -> bool:
        r = _replicas(d)
        if _replicas(new) == r:
            return False
        if _replicas(new) > r:
            return self._scale_replica_set(new, r, d)[0]
        return self._scale_replica_set(new, self._new_rs_new_replicas(d, all_rss, new), d)[0]

    def _reconcile_old(self, all_rss: list[RS | None], old: list[RS], new: RS, d: dict[str, Any]) -> bool:
        """``reconcileOldReplicaSets``: unhealthy old pods first, then healthy ones down to
        ``R - maxUnavailable`` available. Errors end the step quietly, as upstream's do."""
        if _spec_sum(old) == 0:
            return False
        min_available = _replicas(d) - max_unavailable(d)
        new_unavailable = _replicas(new) - (new.get("status") or {}).get("availableReplicas", 0)
        max_scaled_down = _spec_sum(all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        try:
            old, cleaned = self._cleanup_unhealthy(old, d, max_scaled_down)
            scaled = self._scale_down_old_for_rolling([*old, new], old, d)
        except Conflict:
            return False
        return cleaned + scaled > 0

    def _cleanup_unhealthy(self, old: list[RS], d: dict[str, Any], max_cleanup: int) -> tuple[list[RS], int]:
        """``cleanupUnhealthyReplicas``: cut old ReplicaSets' unavailable pods, oldest first."""
        old = sorted(old, key=_by_creation)
        total = 0
        for i, rs in enumerate(old):
            if total >= max_cleanup:
                break
            spec, available = _replicas(rs), (rs.get("status") or {}).get("availableReplicas", 0)
            if spec == 0 or spec == available:
                continue
            cut = min(max_cleanup - total, spec - available)
            _, old[i] = self._scale_replica_set(rs, spec - cut, d)
            total += cut
        return old, total

    def _scale_down_old_for_rolling(self, all_rss: list[RS | None], old: list[RS], d: dict[str, Any]) -> int:
        """``scaleDownOldReplicaSetsForRollingUpdate``: available pods above ``minAvailable`` go,
        oldest ReplicaSet first."""
        min_available = _replicas(d) - max_unavailable(d)
        available = _status_sum(all_rss, "availableReplicas")
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in sorted(old, key=_by_creation):
            if total >= budget:
                break
            if _replicas(rs) == 0:
                continue
            cut = min(_replicas(rs), budget - total)
            self._scale_replica_set(rs, _replicas(rs) - cut, d)
            total += cut
        return total

    # -- recreate.go --------------------------------------------------------------------------
    def _rollout_recreate(self, d: dict[str, Any], rs_list: list[RS]) -> None:
        """``rolloutRecreate``: old ReplicaSets to 0, wait for their pods to be gone, then the new
        one to R."""
        new, old = self._get_all(d, rs_list, False)
        all_rss: list[RS | None] = [*old, new]
        scaled = False
        for rs in _active(old):
            scaled = self._scale_replica_set(rs, 0, d)[0] or scaled
        if scaled or self._old_pods_running(new, old):
            self._sync_rollout_status(all_rss, new, d)
            return
        if new is None:
            new, old = self._get_all(d, rs_list, True)
            all_rss = [*old, new]
        assert new is not None
        self._scale_replica_set(new, _replicas(d), d)
        if _deployment_complete(d, d["status"]):
            self._cleanup(old, d)
        self._sync_rollout_status(all_rss, new, d)

    def _old_pods_running(self, new: RS | None, old: list[RS]) -> bool:
        """``oldPodsRunning``: old ReplicaSets report replicas, or any of their pods (terminating
        ones too) is not Succeeded/Failed."""
        if _status_sum(old, "replicas") > 0:
            return True
        for rs in old:
            if new is not None and rs["metadata"]["uid"] == new["metadata"]["uid"]:
                continue
            for pod in self.pods.owned(rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False

    # -- cleanupDeployment ----------------------------------------------------------------------
    def _cleanup(self, old: list[RS], d: dict[str, Any]) -> None:
        """``cleanupDeployment``: delete the oldest empty ReplicaSets beyond ``revisionHistoryLimit``."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None or limit == MAX_INT32:
            return
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        diff = len(alive) - limit
        if diff <= 0:
            return
        for rs in sorted(alive, key=functools.cmp_to_key(_by_revision))[:diff]:
            st = rs.get("status") or {}
            if (st.get("replicas", 0) != 0 or _replicas(rs) != 0
                    or rs["metadata"].get("generation", 0) > st.get("observedGeneration", 0)):
                continue
            with contextlib.suppress(NotFound):
                self.api.delete("ReplicaSet", rs["metadata"]["name"], rs["metadata"]["namespace"])

    # -- status (sync.go: calculateStatus, syncDeploymentStatus; progress.go) -------------------
    def _calculate_status(self, all_rss: list[RS | None], new: RS | None, d: dict[str, Any]
                          ) -> dict[str, Any]:
        """``calculateStatus``: counts summed over the ReplicaSets, and the Available condition."""
        available = _status_sum(all_rss, "availableReplicas")
        status: dict[str, Any] = {}
        old = d.get("status") or {}
        set_count(status, "observedGeneration", d["metadata"].get("generation", 0))
        set_count(status, "replicas", _status_sum(all_rss, "replicas"))
        set_count(status, "updatedReplicas", _status_sum([new], "replicas"))
        set_count(status, "readyReplicas", _status_sum(all_rss, "readyReplicas"))
        set_count(status, "availableReplicas", available)
        set_count(status, "unavailableReplicas", max(0, _spec_sum(all_rss) - available))
        terminating = _terminating_replicas(all_rss)
        if terminating is not None:
            status["terminatingReplicas"] = terminating
        if "collisionCount" in old:
            status["collisionCount"] = old["collisionCount"]
        if old.get("conditions"):
            status["conditions"] = [dict(c) for c in old["conditions"]]
        if available >= _replicas(d) - max_unavailable(d):
            cond = self._condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.")
        else:
            cond = self._condition("Available", "False", MIN_UNAVAILABLE,
                                   "Deployment does not have minimum availability.")
        _set_condition(status, cond)
        return status

    def _sync_deployment_status(self, all_rss: list[RS | None], new: RS | None, d: dict[str, Any]) -> None:
        status = self._calculate_status(all_rss, new, d)
        if status == d["status"]:
            return
        d["status"] = status
        self._update_status(d)

    def _sync_rollout_status(self, all_rss: list[RS | None], new: RS | None, d: dict[str, Any]) -> None:
        """``syncRolloutStatus``: status plus the Progressing condition (semantics 9.7)."""
        status = self._calculate_status(all_rss, new, d)
        has_deadline = _has_progress_deadline(d)
        if not has_deadline:
            _remove_condition(status, "Progressing")
        current = _get_condition(d["status"], "Progressing")
        complete = (status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None
                    and current.get("reason") == NEW_RS_AVAILABLE_REASON)
        subject = f'ReplicaSet "{new["metadata"]["name"]}"' if new is not None else \
            f'Deployment "{d["metadata"]["name"]}"'
        if has_deadline and not complete:
            if _deployment_complete(d, status):
                _set_condition(status, self._condition("Progressing", "True", NEW_RS_AVAILABLE_REASON,
                                                       f"{subject} has successfully progressed."))
            elif _deployment_progressing(d, status):
                cond = self._condition("Progressing", "True", RS_UPDATED_REASON, f"{subject} is progressing.")
                if current is not None:
                    if current["status"] == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    _remove_condition(status, "Progressing")
                _set_condition(status, cond)
            elif self._timed_out(d, status):
                _set_condition(status, self._condition("Progressing", "False", TIMED_OUT_REASON,
                                                       f"{subject} has timed out progressing."))
        failures = _replica_failures(all_rss, new)
        if failures:
            _set_condition(status, failures[0])
        else:
            _remove_condition(status, "ReplicaFailure")
        if status == d["status"]:
            self._requeue_stuck(d, status)
            return
        d["status"] = status
        self._update_status(d)

    def _timed_out(self, d: dict[str, Any], status: dict[str, Any]) -> bool:
        """``DeploymentTimedOut``: ``lastUpdateTime + progressDeadlineSeconds`` strictly before now."""
        cond = _get_condition(status, "Progressing")
        if cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
            return False
        if cond.get("reason") == TIMED_OUT_REASON:
            return True
        since = parse_time(cond.get("lastUpdateTime"))
        return since is not None and since + d["spec"]["progressDeadlineSeconds"] < float(self.env.now)

    def _requeue_stuck(self, d: dict[str, Any], status: dict[str, Any]) -> None:
        """``requeueStuckDeployment``: sync again when the progress deadline would pass (+1 s)."""
        current = _get_condition(d["status"], "Progressing")
        if not _has_progress_deadline(d) or current is None:
            return
        if _deployment_complete(d, status) or current.get("reason") == TIMED_OUT_REASON:
            return
        since = parse_time(current.get("lastUpdateTime")) or 0.0
        after = since + d["spec"]["progressDeadlineSeconds"] - float(self.env.now)
        if after < 1:
            self.queue.add_rate_limited(self._key)
        else:
            # A timer that only checks a deadline: alone it does not keep the cluster running.
            self.queue.add_after(self._key, after + 1, daemon=True)


# -- small helpers ---------------------------------------------------------------------------------
def _editable(rs: RS) -> RS:
    """A copy of a stored ReplicaSet whose ``spec`` fields and annotations may be changed; the
    template is shared, never edited (the API server copies what it stores)."""
    meta = dict(rs["metadata"])
    meta["annotations"] = dict(meta.get("annotations") or {})
    return {**rs, "metadata": meta, "spec": dict(rs["spec"])}


def _replica_set_name(deployment: str, pod_hash: str) -> str:
    """``generateReplicaSetName``: ``<deployment>-<hash>``, the name cut to fit 253 characters."""
    room = 253 - 1 - len(pod_hash)
    if len(deployment) > room > 0:
        deployment = deployment[:room]
    return f"{deployment}-{pod_hash}"


def _set_revision(d: dict[str, Any], revision: str) -> bool:
    """``SetDeploymentRevision``."""
    ann = d["metadata"].setdefault("annotations", {})
    if ann.get(REVISION) != revision:
        ann[REVISION] = revision
        return True
    return False


def _set_replicas_annotations(rs: RS, desired: int, maximum: int) -> bool:
    """``SetReplicasAnnotations``: desired-replicas and max-replicas."""
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def _replicas_annotations_need_update(rs: RS, desired: int, maximum: int) -> bool:
    ann = rs["metadata"].get("annotations") or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def _find_active_or_latest(new: RS | None, old: list[RS]) -> RS | None:
    """``FindActiveOrLatest``: the only active ReplicaSet; with none, the new one or the newest old one."""
    if new is None and not old:
        return None
    newest_first = sorted(old, key=_by_creation, reverse=True)
    active = _active([*newest_first, new])
    if not active:
        return new if new is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


def _is_saturated(d: dict[str, Any], rs: RS | None) -> bool:
    """``IsSaturated``: the new ReplicaSet has R replicas, says so, and all are available."""
    if rs is None:
        return False
    try:
        desired = int((rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS, ""))
    except ValueError:
        return False
    r = _replicas(d)
    return _replicas(rs) == r and desired == r and (rs.get("status") or {}).get("availableReplicas", 0) == r


def _by_revision(a: RS, b: RS) -> int:
    """``ReplicaSetsByRevision``: revision, then creation time when either is unparsable or they are equal."""
    ra, rb = revision_of(a), revision_of(b)
    if ra is None or rb is None or ra == rb:
        ka, kb = _by_creation(a), _by_creation(b)
        return -1 if ka < kb else (1 if ka > kb else 0)
    return -1 if ra < rb else 1


def _terminating_replicas(rss: list[RS | None]) -> int | None:
    """``GetTerminatingReplicaCountForReplicaSets``: None if a ReplicaSet that has synced does not
    report it."""
    total = 0
    for rs in rss:
        if rs is None:
            continue
        st = rs.get("status") or {}
        if "terminatingReplicas" not in st:
            if not st.get("observedGeneration"):
                continue
            return None
        total += st["terminatingReplicas"]
    return total


def _replica_failures(rss: list[RS | None], new: RS | None) -> list[dict[str, Any]]:
    """``getReplicaFailures``: the new ReplicaSet's ReplicaFailure condition, else any other's."""
    def of(rs: RS | None) -> list[dict[str, Any]]:
        out = []
        for c in ((rs or {}).get("status") or {}).get("conditions") or ():
            if c["type"] == "ReplicaFailure":
                out.append({"type": "ReplicaFailure", "status": c["status"],
                            "lastUpdateTime": c.get("lastTransitionTime"),
                            "lastTransitionTime": c.get("lastTransitionTime"),
                            "reason": c.get("reason"), "message": c.get("message")})
        return out

    found = of(new)
    if found:
        return found
    return [c for rs in rss for c in of(rs)]

"""The ReplicaSet controller: keep ``spec.replicas`` pods of a template running.

Upstream: ``pkg/controller/replicaset/replica_set.go`` (``syncReplicaSet``, ``manageReplicas``,
``slowStartBatch``, ``getPodsToDelete``), ``replica_set_utils.go`` (``calculateStatus``) and
``pkg/controller/controller_utils.go`` (``ActivePodsWithRanks``, ``GetPodFromTemplate``). The
rules are those of ``kubernetes-semantics.md`` section 9.10:

- active pods are those neither Succeeded/Failed nor being deleted; the difference to
  ``spec.replicas`` is created (in slow-start batches 1, 2, 4, ...) or deleted, at most 500
  (``burstReplicas``) per sync, and nothing more until those writes were observed
  (expectations);
- the pods to delete are picked by ``ActivePodsWithRanks`` (unscheduled, Pending, not ready,
  low deletion cost, crowded nodes, recently ready, restarting, young first);
- orphans whose labels match the selector are adopted, owned pods that no longer match are
  released (``controller_ref_manager.go``);
- status counts replicas, fully labeled, ready, available (``minReadySeconds``) and
  terminating pods; the sync re-queues itself for the moment a ready pod becomes available.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from labkit.api.server import Conflict, NotFound
from labkit.api.store import WatchEvent, clone, timestamp
from labkit.controllers.controller_utils import (
    Expectations,
    adopt,
    can_adopt,
    controller_ref,
    is_pod_active,
    is_pod_ready,
    owner_reference,
    owners_matching,
    parse_time,
    ready_condition,
    release,
    selector_of,
    set_count,
)
from labkit.controllers.runtime import Controller, SyncError
from labkit.errors import ManifestError

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.selectors import Selector
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["ReplicaSetController", "BURST_REPLICAS", "SLOW_START_INITIAL_BATCH_SIZE", "pods_to_delete",
           "slow_start_batch", "pod_from_template", "DELETION_COST_ANNOTATION"]

#: ``replica_set.go: BurstReplicas``: creations or deletions per sync.
BURST_REPLICAS = 500
#: ``controller_utils.go: SlowStartInitialBatchSize``.
SLOW_START_INITIAL_BATCH_SIZE = 1
#: ``core/v1: PodDeletionCost`` (gate PodDeletionCost, beta and on since v1.22).
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
#: ``controller_utils.go: podPhaseToOrdinal`` (other phases count as 0).
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}

Key = tuple[str, str]  # (namespace, name)


def slow_start_batch(count: int, initial: int, fn: Callable[[], Exception | None]
                     ) -> tuple[int, Exception | None]:
    """``replica_set.go: slowStartBatch``: call ``fn`` ``count`` times in batches 1, 2, 4, ...

    Each batch runs whole ("in parallel"); at the first batch with a failure the rest is not
    attempted, so a quota error costs one call, not hundreds. Returns (successes, first error).
    """
    remaining, successes = count, 0
    size = min(remaining, initial)
    while size > 0:
        errors = [e for e in (fn() for _ in range(size)) if e is not None]
        successes += size - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= size
        size = min(2 * size, remaining)
    return successes, None


def pod_from_template(rs: dict[str, Any]) -> dict[str, Any]:
    """``controller_utils.go: GetPodFromTemplate``: labels, annotations and finalizers of the
    template, ``generateName: <rs>-`` and the controller reference to the ReplicaSet."""
    template = rs["spec"]["template"]
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {"generateName": f'{rs["metadata"]["name"]}-',
                            "namespace": rs["metadata"]["namespace"],
                            "labels": dict(tmeta.get("labels") or {}),
                            "ownerReferences": [owner_reference(rs)]}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    # The API server copies what it stores, so the template's spec is handed over as it is.
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}


def _deletion_cost(pod: dict[str, Any]) -> int:
    # helper.GetDeletionCostFromPodAnnotations: a missing (or unparsable) value counts as 0.
    raw = (pod["metadata"].get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _restarts(pod: dict[str, Any]) -> tuple[int, int]:
    # controller_utils.go: maxContainerRestarts -- regular containers, then sidecars (init
    # containers with restartPolicy Always).
    st = pod.get("status") or {}
    regular = max((c.get("restartCount", 0) for c in st.get("containerStatuses") or ()), default=0)
    sidecars = {c["name"] for c in pod["spec"].get("initContainers") or ()
                if c.get("restartPolicy") == "Always"}
    sidecar = max((c.get("restartCount", 0) for c in st.get("initContainerStatuses") or ()
                   if c["name"] in sidecars), default=0)
    return regular, sidecar


def _log_rank(t: float, now: float) -> int:
    # controller_utils.go: logarithmicRankDiff -- floor(log2(now - t)) with the duration in
    # nanoseconds, -1 for a time not in the past.
    d = round((now - t) * 1e9)
    return int(math.log2(d)) if d > 0 else -1


class _Facts:
    """What the controller reads of one pod, computed once per watch event."""

    __slots__ = ("pod", "owner", "node", "active", "ready", "since", "terminating", "claimed", "full",
                 "prefix", "restarts", "created", "uid")

    def __init__(self, pod: dict[str, Any], rs: dict[str, Any] | None) -> None:
        meta = pod["metadata"]
        st = pod.get("status") or {}
        ref = controller_ref(pod)
        self.pod = pod
        self.owner = ref["uid"] if ref is not None else None
        self.node = pod["spec"].get("nodeName") or ""
        terminal = st.get("phase") in ("Succeeded", "Failed")
        self.active = not terminal and not meta.get("deletionTimestamp")
        self.terminating = not terminal and bool(meta.get("deletionTimestamp"))
        cond = ready_condition(pod)
        self.ready = cond is not None and cond.get("status") == "True"
        self.since = parse_time(cond.get("lastTransitionTime")) if self.ready and cond else None
        labels = meta.get("labels") or {}
        sel = selector_of(rs) if rs is not None else None
        # FilterClaimedPods / ClaimPods: controlled by this ReplicaSet and matching its selector.
        self.claimed = rs is not None and sel is not None and sel.matches(labels)
        template = ((rs or {}).get("spec", {}).get("template", {}).get("metadata") or {}).get("labels") or {}
        self.full = all(labels.get(k) == v for k, v in template.items())
        regular, sidecar = _restarts(pod)
        # ActivePodsWithRanks' fixed fields: rules 1-4, rule 7, then creation time and UID.
        self.prefix = (0 if not self.node else 1, _PHASE_ORDINAL.get(st.get("phase") or "", 0),
                       1 if self.ready else 0, _deletion_cost(pod))
        self.restarts = (-regular, -sidecar)
        self.created = parse_time(meta.get("creationTimestamp"))
        self.uid = meta.get("uid", "")


class _Owned:
    """Aggregates over one ReplicaSet's claimed pods, kept current by the watch so a sync costs
    O(1) instead of a pass over every pod (upstream's Go loop is fast; Python's is not)."""

    __slots__ = ("active", "ready", "ready_times", "full", "terminating", "unmatched", "nodes")

    def __init__(self) -> None:
        self.active: dict[str, _Facts] = {}
        self.ready = 0
        self.ready_times: list[float] = []  # sorted Ready times of active ready pods
        self.full = 0
        self.terminating = 0
        self.unmatched: dict[str, dict[str, Any]] = {}  # controlled, active, selector no longer matches
        self.nodes: dict[str, int] = {}  # active pods per node, for the co-location rank

    def add(self, key: str, f: _Facts, sign: int) -> None:
        if f.claimed:
            if f.terminating:
                self.terminating += sign
            if not f.active:
                return
            if sign > 0:
                self.active[key] = f
            else:
                del self.active[key]
            self.nodes[f.node] = self.nodes.get(f.node, 0) + sign
            self.full += sign if f.full else 0
            if f.ready:
                self.ready += sign
                if f.since is not None:
                    if sign > 0:
                        bisect.insort(self.ready_times, f.since)
                    else:
                        del self.ready_times[bisect.bisect_left(self.ready_times, f.since)]
        elif f.active:
            if sign > 0:
                self.unmatched[key] = f.pod
            else:
                del self.unmatched[key]


class _PodIndex:
    """Pods by controlling ReplicaSet (upstream's ``controllerUIDIndex``) with :class:`_Owned`
    aggregates, plus orphans by namespace. Entries are the API server's objects: read-only."""

    def __init__(self, api: APIServer) -> None:
        self.api = api
        self.facts: dict[str, _Facts] = {}
        self.owned: dict[str, _Owned] = {}
        self.controlled: dict[str, dict[str, dict[str, Any]]] = {}  # uid -> pod key -> pod
        self.orphans: dict[str, dict[str, dict[str, Any]]] = {}  # namespace -> pod key -> pod
        self._orphan_ns: dict[str, str] = {}
        self.replica_sets: dict[str, dict[str, Any]] = {}  # uid -> ReplicaSet
        api.watch("ReplicaSet", self._on_replicaset)
        api.watch("Pod", self._on_pod)

    def of(self, uid: str) -> _Owned:
        return self.owned.get(uid) or _Owned()

    def _on_replicaset(self, ev: WatchEvent) -> None:
        rs = ev.object
        uid = rs["metadata"]["uid"]
        old = self.replica_sets.get(uid)
        if ev.type == "DELETED":
            self.replica_sets.pop(uid, None)
            return
        self.replica_sets[uid] = rs
        if old is not None and old["spec"].get("selector") == rs["spec"].get("selector") and \
                (old["spec"]["template"].get("metadata") or {}).get("labels") == \
                (rs["spec"]["template"].get("metadata") or {}).get("labels"):
            return
        for key, pod in list(self.controlled.get(uid, {}).items()):  # what "claimed" means changed
            self._remove(key)
            self._insert(key, pod)

    def _on_pod(self, ev: WatchEvent) -> None:
        meta = ev.object["metadata"]
        key = f'{meta["namespace"]}/{meta["name"]}'
        self._remove(key)
        if ev.type != "DELETED":
            self._insert(key, ev.object)

    def _remove(self, key: str) -> None:
        ns = self._orphan_ns.pop(key, None)
        if ns is not None:
            self.orphans[ns].pop(key, None)
            return
        f = self.facts.pop(key, None)
        if f is None or f.owner is None:
            return
        self.controlled[f.owner].pop(key, None)
        self.owned[f.owner].add(key, f, -1)

    def _insert(self, key: str, pod: dict[str, Any]) -> None:
        ref = controller_ref(pod)
        if ref is None:  # an orphan costs one dict entry (bare pods are the scheduler chapters' bulk)
            ns = pod["metadata"]["namespace"]
            self.orphans.setdefault(ns, {})[key] = pod
            self._orphan_ns[key] = ns
            return
        rs = self.replica_sets.get(ref["uid"]) if ref.get("kind") == "ReplicaSet" else None
        f = _Facts(pod, rs)
        self.facts[key] = f
        self.controlled.setdefault(ref["uid"], {})[key] = pod
        self.owned.setdefault(f.owner, _Owned()).add(key, f, +1)


def pods_to_delete(active: list[_Facts], nodes: dict[str, int], diff: int, now: float
                   ) -> list[dict[str, Any]]:
    """``replica_set.go: getPodsToDelete``: the first ``diff`` pods in ``ActivePodsWithRanks`` order.

    ``nodes`` counts the active pods of every ReplicaSet with the same owner per node (the
    co-location rank). When every pod goes there is no sorting. The rules, first difference
    deciding (``controller_utils.go: ActivePodsWithRanks.Less``): unscheduled first; Pending <
    Unknown < Running; not ready first; lower ``pod-deletion-cost`` first; higher co-location
    rank first; ready for less time first (on a log2 scale of nanoseconds, LogarithmicScaleDown);
    more restarts first; newer first (same log scale); then UID.

    One simplification: within one log-scale bucket upstream orders pods with *different* ready
    times by UID but pods with the *same* ready time by restarts and creation -- not a consistent
    order, so Go's result depends on its sort algorithm. The model keeps one consistent order:
    bucket, restarts, creation bucket, UID.
    """
    if diff >= len(active):
        return [f.pod for f in active[:diff]]
    # A missing time sorts first (afterOrZero); each distinct time gets one log2 evaluation.
    times = {f.since for f in active}
    times.update([f.created for f in active])
    bucket: dict[float | None, int] = {t: _log_rank(t, now) for t in times if t is not None}
    bucket[None] = -2
    count = nodes.get
    keyed = [(f.prefix, -count(f.node, 0), bucket[f.since] if f.ready else 0, f.restarts,
              bucket[f.created], f.uid, i) for i, f in enumerate(active)]
    return [active[k[-1]].pod for k in heapq.nsmallest(diff, keyed)]


def _status_fields(st: dict[str, Any]) -> tuple:
    return (st.get("replicas", 0), st.get("fullyLabeledReplicas", 0), st.get("readyReplicas", 0),
            st.get("availableReplicas", 0), st.get("terminatingReplicas"), st.get("conditions"))


class ReplicaSetController(Controller):
    """kube-controller-manager's ``replicaset-controller``."""

    component = "replicaset-controller"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        super().__init__(env, api, recorder)
        # The index's watches are registered first, so it is current when our handlers run.
        self.pods = _PodIndex(api)
        self.expectations = Expectations(lambda: float(env.now))
        self.watch("ReplicaSet", self._on_replicaset)
        self.watch("Pod", self._on_pod)

    # -- event handlers (replica_set.go: addRS/updateRS/deleteRS, addPod/updatePod/deletePod) ----
    def _on_replicaset(self, ev: WatchEvent) -> Key:
        meta = ev.object["metadata"]
        key = (meta["namespace"], meta["name"])
        if ev.type == "DELETED":
            self.expectations.delete(key)
        return key

    def _resolve(self, pod: dict[str, Any], ref: dict[str, Any] | None) -> Key | None:
        """``resolveControllerRef``: the key of the ReplicaSet a controller reference names, if it exists."""
        if ref is None or ref.get("kind") != "ReplicaSet":
            return None
        ns = pod["metadata"]["namespace"]
        rs = self.api.peek("ReplicaSet", ref["name"], ns)
        if rs is None or rs["metadata"]["uid"] != ref["uid"]:
            return None
        return (ns, ref["name"])

    def _matching(self, pod: dict[str, Any]) -> list[Key]:
        """``getPodReplicaSets``: ReplicaSets whose selector matches an orphan's labels."""
        labels = pod["metadata"].get("labels") or {}
        return owners_matching(self.api, "ReplicaSet", pod["metadata"]["namespace"], labels)

    def _deleted(self, pod: dict[str, Any]) -> Key | None:
        key = self._resolve(pod, controller_ref(pod))
        if key is not None:
            self.expectations.deletion_observed(key, _pod_key(pod))
        return key

    def _on_pod(self, ev: WatchEvent) -> list[Key] | Key | None:
        pod = ev.object
        if ev.type == "DELETED" or (ev.type == "ADDED" and pod["metadata"].get("deletionTimestamp")):
            return self._deleted(pod)
        if ev.type == "ADDED":
            key = self._resolve(pod, controller_ref(pod))
            if key is not None:
                self.expectations.creation_observed(key)
                return key
            return self._matching(pod)
        old = ev.old or {}
        meta, old_meta = pod["metadata"], old.get("metadata") or {}
        if (meta.get("labels") is old_meta.get("labels") and meta.get("ownerReferences") is old_meta.get(
                "ownerReferences") and meta.get("deletionTimestamp") == old_meta.get("deletionTimestamp")
                and _sync_view(pod) == _sync_view(old)):
            # Fast path for status writes (they share metadata's maps): nothing a sync reads changed.
            return None
        old_labels = old_meta.get("labels") or {}
        labels_changed = (pod["metadata"].get("labels") or {}) != old_labels
        if pod["metadata"].get("deletionTimestamp"):
            gone = [self._deleted(pod), self._deleted(old) if labels_changed and old else None]
            return [k for k in gone if k] or None
        cur_ref, old_ref = controller_ref(pod), controller_ref(old) if old else None
        keys = []
        if cur_ref != old_ref and old_ref is not None:
            k = self._resolve(old, old_ref)
            if k is not None:
                keys.append(k)
        if cur_ref is not None:
            k = self._resolve(pod, cur_ref)
            if k is None:
                return keys or None
            # An update that changes nothing a sync reads (a sandbox IP, an image pull) cannot
            # change its outcome; upstream syncs anyway, we skip it (same states, fewer syncs).
            if cur_ref == old_ref and not labels_changed and _sync_view(pod) == _sync_view(old):
                return keys or None
            keys.append(k)
            rs = self.api.peek("ReplicaSet", k[1], k[0])
            min_ready = rs["spec"].get("minReadySeconds", 0) if rs else 0
            if min_ready and is_pod_ready(pod) and not is_pod_ready(old):
                self.queue.add_after(k, float(min_ready))
            return keys
        if labels_changed or cur_ref != old_ref:
            keys.extend(self._matching(pod))
        return keys or None

    # -- sync ---------------------------------------------------------------------------------
    def sync(self, key: Hashable) -> None:
        """``syncReplicaSet``: claim pods, manage replicas, write status, re-queue for availability."""
        ns, name = key  # type: ignore[misc]
        rs = self.api.peek("ReplicaSet", name, ns)
        if rs is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key)
        selector = selector_of(rs)
        if selector is None:
            return
        self._claim_pods(rs, selector)
        owned = self.pods.of(rs["metadata"]["uid"])
        error: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            error = self._manage_replicas(key, owned, rs)
        now = float(self.env.now)
        status = self._calculate_status(rs, owned, error, now)
        updated = self._update_status(rs, status)
        if error is not None:
            raise SyncError(str(error))
        min_ready = updated["spec"].get("minReadySeconds", 0)
        st = updated.get("status") or {}
        if min_ready > 0 and st.get("readyReplicas", 0) != st.get("availableReplicas", 0):
            # FindMinNextPodAvailabilityCheck: when the next ready pod turns available.
            i = bisect.bisect_right(owned.ready_times, now - min_ready)
            wait = owned.ready_times[i] + min_ready - now if i < len(owned.ready_times) else 0.0
            self.queue.add_after(key, wait)

    def _claim_pods(self, rs: dict[str, Any], selector: Selector) -> None:
        """``claimPods`` (``controller_ref_manager.go: ClaimPods``) over the active pods: release
        the controlled ones whose labels stopped matching, adopt matching orphans."""
        owned = self.pods.of(rs["metadata"]["uid"])
        deleting = bool(rs["metadata"].get("deletionTimestamp"))
        if not deleting:
            for pod in list(owned.unmatched.values()):
                release(self.api, pod, rs["metadata"]["uid"])
        orphans = self.pods.orphans.get(rs["metadata"]["namespace"])
        if deleting or not orphans:
            return
        for pod in list(orphans.values()):
            if is_pod_active(pod) and selector.matches(pod["metadata"].get("labels") or {}) \
                    and can_adopt(self.api, rs):
                adopt(self.api, pod, rs)

    def _manage_replicas(self, key: Key, owned: _Owned, rs: dict[str, Any]) -> Exception | None:
        """``manageReplicas``: create or delete the difference, at most :data:`BURST_REPLICAS`."""
        diff = len(owned.active) - rs["spec"].get("replicas", 1)
        if diff < 0:
            n = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, n)
            successes, error = slow_start_batch(n, SLOW_START_INITIAL_BATCH_SIZE,
                                                lambda: self._create_pod(rs))
            for _ in range(n - successes):
                self.expectations.creation_observed(key)  # the skipped ones will never be seen
            return error
        if diff > 0:
            n = min(diff, BURST_REPLICAS)
            victims = pods_to_delete(list(owned.active.values()), self._related_nodes(rs), n,
                                     float(self.env.now))
            self.expectations.expect_deletions(key, [_pod_key(p) for p in victims])
            error = None
            for pod in victims:
                meta = pod["metadata"]
                try:
                    self.api.delete("Pod", meta["name"], meta["namespace"])
                except NotFound:
                    self.expectations.deletion_observed(key, _pod_key(pod))
                    continue
                except (ManifestError, ValueError, Conflict) as e:
                    self.expectations.deletion_observed(key, _pod_key(pod))
                    self.event(rs, "Warning", "FailedDelete", f"Error deleting: {e}")
                    error = error or e
                    continue
                self.event(rs, "Normal", "SuccessfulDelete", f'Deleted pod: {meta["name"]}')
            return error
        return None

    def _create_pod(self, rs: dict[str, Any]) -> Exception | None:
        """``RealPodControl.CreatePods``: one pod from the template, with its event."""
        try:
            pod = self.api.create(pod_from_template(rs), schema=False)
        except (ManifestError, KeyError, ValueError) as e:
            self.event(rs, "Warning", "FailedCreate", f"Error creating: {e}")
            return e
        self.event(rs, "Normal", "SuccessfulCreate", f'Created pod: {pod["metadata"]["name"]}')
        return None

    def _related_nodes(self, rs: dict[str, Any]) -> dict[str, int]:
        """Active pods per node over every ReplicaSet with the same controller
        (``getIndirectlyRelatedPods``: a Deployment's old and new ones together); none for a
        ReplicaSet without a controller."""
        ref = controller_ref(rs)
        if ref is None:
            return {}
        nodes: dict[str, int] = {}
        for other in self.api.items("ReplicaSet", rs["metadata"]["namespace"]):
            if (controller_ref(other) or {}).get("uid") != ref["uid"]:
                continue
            for node, n in self.pods.of(other["metadata"]["uid"]).nodes.items():
                nodes[node] = nodes.get(node, 0) + n
        return nodes

    def _calculate_status(self, rs: dict[str, Any], owned: _Owned, error: Exception | None, now: float
                          ) -> dict[str, Any]:
        """``replica_set_utils.go: calculateStatus`` (from the index's aggregates)."""
        status = clone(rs.get("status") or {})
        min_ready = rs["spec"].get("minReadySeconds", 0)
        if min_ready:
            # IsPodAvailable: Ready since at least minReadySeconds (lastTransitionTime + m <= now).
            available = bisect.bisect_right(owned.ready_times, now - min_ready)
        else:
            available = owned.ready
        conditions = status.get("conditions") or []
        failure = next((c for c in conditions if c["type"] == "ReplicaFailure"), None)
        if error is not None and failure is None:
            diff = len(owned.active) - rs["spec"].get("replicas", 1)
            reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
            conditions = [*conditions, {"type": "ReplicaFailure", "status": "True",
                                        "lastTransitionTime": timestamp(now), "reason": reason,
                                        "message": str(error)}]
        elif error is None and failure is not None:
            conditions = [c for c in conditions if c["type"] != "ReplicaFailure"]
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        status["replicas"] = len(owned.active)
        set_count(status, "fullyLabeledReplicas", owned.full)
        set_count(status, "readyReplicas", owned.ready)
        set_count(status, "availableReplicas", available)
        # DeploymentReplicaSetTerminatingReplicas (beta, on by default since v1.35): a pointer, so 0 shows.
        status["terminatingReplicas"] = owned.terminating
        return status

    def _update_status(self, rs: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """``updateReplicaSetStatus``: write only when a count, the conditions or the observed
        generation changed; one retry on fresh data after a conflict (``statusUpdateRetries``)."""
        old = rs.get("status") or {}
        generation = rs["metadata"].get("generation", 0)
        if _status_fields(old) == _status_fields(status) and old.get("observedGeneration", 0) == generation:
            return rs
        status["observedGeneration"] = generation
        try:
            return self.api.update_status({**rs, "status": status})
        except Conflict:
            fresh = self.api.get("ReplicaSet", rs["metadata"]["name"], rs["metadata"]["namespace"])
            status["observedGeneration"] = fresh["metadata"].get("generation", 0)
            return self.api.update_status({**fresh, "status": status})


def _pod_key(pod: dict[str, Any]) -> str:
    return f'{pod["metadata"]["namespace"]}/{pod["metadata"]["name"]}'


def _sync_view(pod: dict[str, Any]) -> tuple:
    """What a ReplicaSet sync reads of a pod: phase, readiness and its time (deletion and labels
    are compared separately)."""
    c = ready_condition(pod)
    return ((pod.get("status") or {}).get("phase"), c.get("status") if c else None,
            c.get("lastTransitionTime") if c else None)

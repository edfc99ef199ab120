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

import functools
import math
import random
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from labkit.api.server import Conflict, NotFound
from labkit.api.store import WatchEvent, clone, timestamp
from labkit.controllers.controller_utils import (
    Expectations,
    OwnerIndex,
    claim,
    controller_ref,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    is_pod_terminating,
    owner_reference,
    parse_time,
    ready_condition,
    selector_of,
)
from labkit.controllers.runtime import Controller, SyncError
from labkit.errors import ManifestError

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
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
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": clone(template["spec"])}


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


class _RankedPod:
    """The fields ``ActivePodsWithRanks.Less`` compares, read once per pod."""

    __slots__ = ("pod", "unscheduled", "phase", "ready", "cost", "rank", "ready_since", "restarts",
                 "created", "uid")

    def __init__(self, pod: dict[str, Any], rank: int) -> None:
        self.pod = pod
        self.unscheduled = not pod["spec"].get("nodeName")
        self.phase = _PHASE_ORDINAL.get((pod.get("status") or {}).get("phase") or "", 0)
        self.ready = is_pod_ready(pod)
        self.cost = _deletion_cost(pod)
        self.rank = rank
        cond = ready_condition(pod) if self.ready else None
        self.ready_since = parse_time(cond.get("lastTransitionTime")) if cond else None
        self.restarts = _restarts(pod)
        self.created = parse_time(pod["metadata"].get("creationTimestamp"))
        self.uid = pod["metadata"].get("uid", "")


def _compare_times(a: float | None, b: float | None, ua: str, ub: str, now: float) -> int:
    # afterOrZero for a missing time (it sorts first), else the logarithmic rank with the UID tie-break.
    if a is None or b is None:
        return -1 if a is None else 1
    diff = _log_rank(a, now) - _log_rank(b, now)
    if diff == 0:
        return -1 if ua < ub else (1 if ua > ub else 0)
    return -1 if diff < 0 else 1


def _less(a: _RankedPod, b: _RankedPod, now: float) -> int:
    """``controller_utils.go: ActivePodsWithRanks.Less`` as a three-way comparison (-1: a goes first)."""
    # 1. Unassigned < assigned.
    if a.unscheduled != b.unscheduled:
        return -1 if a.unscheduled else 1
    # 2. PodPending < PodUnknown < PodRunning.
    if a.phase != b.phase:
        return -1 if a.phase < b.phase else 1
    # 3. Not ready < ready.
    if a.ready != b.ready:
        return -1 if not a.ready else 1
    # 4. Lower pod-deletion-cost < higher.
    if a.cost != b.cost:
        return -1 if a.cost < b.cost else 1
    # 5. Doubled up < not doubled up: more co-located pods of the same owner first.
    if a.rank != b.rank:
        return -1 if a.rank > b.rank else 1
    # 6. Both ready: ready for less time first (LogarithmicScaleDown, locked on since v1.31).
    if a.ready and b.ready and a.ready_since != b.ready_since:
        return _compare_times(a.ready_since, b.ready_since, a.uid, b.uid, now)
    # 7. Higher restart count (regular, then sidecar) first.
    if a.restarts != b.restarts:
        return -1 if a.restarts > b.restarts else 1
    # 8. Newer creation first (missing first), same logarithmic scale.
    if a.created != b.created:
        return _compare_times(a.created, b.created, a.uid, b.uid, now)
    return 0


def pods_to_delete(active: list[dict[str, Any]], related: list[dict[str, Any]], diff: int, now: float,
                   rng: random.Random | None = None) -> list[dict[str, Any]]:
    """``replica_set.go: getPodsToDelete``: the first ``diff`` of ``active`` in ActivePodsWithRanks order.

    ``related`` are the active and inactive pods of every ReplicaSet with the same owner: a pod's
    rank is how many active ones share its node. When every pod goes there is no sorting. Go's
    ``sort.Sort`` is not stable, so pods equal on every rule come out in an arbitrary order;
    ``rng`` (the cluster's seeded source) shuffles them first to stand for that.
    """
    if diff >= len(active):
        return list(active[:diff])
    on_node: dict[str, int] = {}
    for p in related:
        if is_pod_active(p):
            node = p["spec"].get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [_RankedPod(p, on_node.get(p["spec"].get("nodeName") or "", 0)) for p in active]
    if rng is not None:
        rng.shuffle(ranked)
    ranked.sort(key=functools.cmp_to_key(lambda a, b: _less(a, b, now)))
    return [r.pod for r in ranked[:diff]]


def _status_fields(st: dict[str, Any]) -> tuple:
    return (st.get("replicas", 0), st.get("fullyLabeledReplicas", 0), st.get("readyReplicas", 0),
            st.get("availableReplicas", 0), st.get("terminatingReplicas"), st.get("conditions"))


def _set_count(st: dict[str, Any], field: str, value: int) -> None:
    # ReplicaSetStatus marks these ``omitempty``: a zero count is absent, as the API returns it.
    if value:
        st[field] = value
    else:
        st.pop(field, None)


class ReplicaSetController(Controller):
    """kube-controller-manager's ``replicaset-controller``.

    Parameters
    ----------
    env, api, recorder:
        As for every :class:`~labkit.controllers.runtime.Controller`.
    rng:
        The cluster's seeded source, for the order of pods no rule tells apart.
    """

    component = "replicaset-controller"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder, rng: random.Random
                 ) -> None:
        super().__init__(env, api, recorder)
        self.rng = rng
        # The index's watch is registered first, so it is current when our own handler runs.
        self.pods = OwnerIndex(api, "Pod")
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
        ns = pod["metadata"]["namespace"]
        labels = pod["metadata"].get("labels") or {}
        out = []
        for rs in self.api.items("ReplicaSet", ns):
            sel = selector_of(rs)
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append((ns, rs["metadata"]["name"]))
        return out

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
        old_labels = (old.get("metadata") or {}).get("labels") or {}
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
        uid = rs["metadata"]["uid"]
        all_pods = [*self.pods.owned(uid), *self.pods.orphans(ns)]
        active = claim(self.api, rs, selector, [p for p in all_pods if is_pod_active(p)])
        terminating = [p for p in all_pods if is_pod_terminating(p)
                       and (controller_ref(p) or {}).get("uid") == uid
                       and selector.matches(p["metadata"].get("labels") or {})]
        error: Exception | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            error = self._manage_replicas(key, active, rs)
        now = float(self.env.now)
        status = self._calculate_status(rs, active, terminating, error, now)
        updated = self._update_status(rs, status)
        if error is not None:
            raise SyncError(str(error))
        min_ready = updated["spec"].get("minReadySeconds", 0)
        st = updated.get("status") or {}
        if min_ready > 0 and st.get("readyReplicas", 0) != st.get("availableReplicas", 0):
            # FindMinNextPodAvailabilityCheck: when the next ready pod turns available.
            waits = [since + min_ready - now for since in
                     (parse_time((ready_condition(p) or {}).get("lastTransitionTime")) for p in active
                      if is_pod_ready(p)) if since is not None and since + min_ready - now > 0]
            self.queue.add_after(key, min(waits) if waits else 0.0)

    def _manage_replicas(self, key: Key, active: list[dict[str, Any]], rs: dict[str, Any]
                         ) -> Exception | None:
        """``manageReplicas``: create or delete the difference, at most :data:`BURST_REPLICAS`."""
        diff = len(active) - rs["spec"].get("replicas", 1)
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
            victims = pods_to_delete(active, self._related_pods(rs), n, float(self.env.now), self.rng)
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

    def _related_pods(self, rs: dict[str, Any]) -> list[dict[str, Any]]:
        """``getIndirectlyRelatedPods``: pods of every ReplicaSet with the same controller (a
        Deployment's old and new ones together); none for a ReplicaSet without a controller."""
        ref = controller_ref(rs)
        if ref is None:
            return []
        ns = rs["metadata"]["namespace"]
        seen: set[str] = set()
        out = []
        orphans = self.pods.orphans(ns)
        for other in self.api.items("ReplicaSet", ns):
            if (controller_ref(other) or {}).get("uid") != ref["uid"]:
                continue
            sel = selector_of(other)
            matching = [p for p in orphans
                        if sel is not None and sel.matches(p["metadata"].get("labels") or {})]
            for pod in [*self.pods.owned(other["metadata"]["uid"]), *matching]:
                if pod["metadata"]["uid"] not in seen:
                    seen.add(pod["metadata"]["uid"])
                    out.append(pod)
        return out

    def _calculate_status(self, rs: dict[str, Any], active: list[dict[str, Any]],
                          terminating: list[dict[str, Any]], error: Exception | None, now: float
                          ) -> dict[str, Any]:
        """``replica_set_utils.go: calculateStatus``."""
        status = clone(rs.get("status") or {})
        template_labels = ((rs["spec"]["template"].get("metadata") or {}).get("labels") or {}).items()
        min_ready = rs["spec"].get("minReadySeconds", 0)
        full = ready = available = 0
        for pod in active:
            labels = pod["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels):
                full += 1
            if is_pod_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
        conditions = status.get("conditions") or []
        failure = next((c for c in conditions if c["type"] == "ReplicaFailure"), None)
        if error is not None and failure is None:
            diff = len(active) - rs["spec"].get("replicas", 1)
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
        status["replicas"] = len(active)
        _set_count(status, "fullyLabeledReplicas", full)
        _set_count(status, "readyReplicas", ready)
        _set_count(status, "availableReplicas", available)
        # DeploymentReplicaSetTerminatingReplicas (beta, on by default since v1.35): a pointer, so 0 shows.
        status["terminatingReplicas"] = len(terminating)
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

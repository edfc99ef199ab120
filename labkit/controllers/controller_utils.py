"""What the Deployment and ReplicaSet controllers share: pod readiness, owner references, an
owner index, adoption and release, and expectations.

Upstream keeps these in ``pkg/controller/controller_utils.go``, ``controller_ref_manager.go`` and
``pkg/api/v1/pod/util.go``; this module is their counterpart, so a reader finds each rule where
Kubernetes keeps it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from labkit.api.selectors import Selector, selector_from_dict
from labkit.api.store import EPOCH, WatchEvent

if TYPE_CHECKING:
    from labkit.api.server import APIServer

__all__ = ["parse_time", "ready_condition", "is_pod_ready", "is_pod_active", "is_pod_terminating",
           "is_pod_available", "controller_ref", "owner_reference", "selector_of", "OwnerIndex", "claim",
           "can_adopt", "adopt", "release", "set_count", "owners_matching",
           "Expectations", "EXPECTATIONS_TIMEOUT"]

#: ``controller_utils.go: ExpectationsTimeout``: a sync waits at most this long for its creations and
#: deletions to be observed before acting again.
EXPECTATIONS_TIMEOUT = 5 * 60.0


def owners_matching(api: APIServer, kind: str, namespace: str, labels: dict[str, str]
                    ) -> list[tuple[str, str]]:
    """Keys of the ``kind`` objects whose selector matches an orphan's labels: the candidates that
    may adopt it (``GetDeploymentsForReplicaSet``, ``getPodReplicaSets``). An empty selector
    matches nothing here, as a controller never adopts by an empty selector."""
    out = []
    for owner in api.items(kind, namespace):
        sel = selector_of(owner)
        if sel is not None and not sel.empty and sel.matches(labels):
            out.append((namespace, owner["metadata"]["name"]))
    return out


def set_count(status: dict[str, Any], field: str, value: int) -> None:
    """Write a status count the way the API returns it: Deployment and ReplicaSet statuses mark
    their counts ``omitempty``, so a zero is absent rather than 0."""
    if value:
        status[field] = value
    else:
        status.pop(field, None)


@functools.lru_cache(maxsize=65536)
def parse_time(text: str | None) -> float | None:
    """Simulated seconds of an RFC 3339 time (``metav1.Time``), None for a missing one."""
    if not text:
        return None
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - EPOCH).total_seconds()


def ready_condition(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The pod's ``Ready`` condition (``podutil.GetPodReadyCondition``)."""
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return c
    return None


def is_pod_ready(pod: dict[str, Any]) -> bool:
    """``podutil.IsPodReady``: the Ready condition is True."""
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def is_pod_active(pod: dict[str, Any]) -> bool:
    """``controller.IsPodActive``: not Succeeded or Failed, and not being deleted."""
    return ((pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not pod["metadata"].get("deletionTimestamp"))


def is_pod_terminating(pod: dict[str, Any]) -> bool:
    """``controller.IsPodTerminating``: being deleted and not terminal."""
    return bool(pod["metadata"].get("deletionTimestamp")) and \
        (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def is_pod_available(pod: dict[str, Any], min_ready_seconds: int, now: float) -> bool:
    """``podutil.IsPodAvailable`` (``pkg/api/v1/pod/util.go``): Ready, and Ready for at least
    ``minReadySeconds`` (``lastTransitionTime + minReadySeconds <= now``; v1.36 compares with ``<=``)."""
    c = ready_condition(pod)
    if c is None or c.get("status") != "True":
        return False
    if not min_ready_seconds:
        return True
    since = parse_time(c.get("lastTransitionTime"))
    return since is not None and since + min_ready_seconds <= now


def controller_ref(obj: dict[str, Any]) -> dict[str, Any] | None:
    """``metav1.GetControllerOf``: the owner reference with ``controller: true``."""
    for ref in obj["metadata"].get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def owner_reference(owner: dict[str, Any]) -> dict[str, Any]:
    """``metav1.NewControllerRef``: the reference a controller puts on what it creates or adopts."""
    return {"apiVersion": owner.get("apiVersion", "apps/v1"), "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}


_SELECTORS: dict[int, tuple[dict[str, Any], Selector | None]] = {}


def selector_of(obj: dict[str, Any]) -> Selector | None:
    """``metav1.LabelSelectorAsSelector`` of ``spec.selector``, memoized by the selector mapping's
    identity (stored objects share an unchanged ``spec``, and syncs ask for it constantly)."""
    sel = obj["spec"].get("selector")
    if sel is None:
        return None
    hit = _SELECTORS.get(id(sel))
    if hit is not None and hit[0] is sel:
        return hit[1]
    if len(_SELECTORS) > 8192:
        _SELECTORS.clear()
    parsed = selector_from_dict(sel, "spec.selector")
    _SELECTORS[id(sel)] = (sel, parsed)  # the mapping is kept alive, so its id stays its own
    return parsed


class OwnerIndex:
    """Objects of one kind indexed by the uid of their controller (orphans by namespace).

    Upstream's informers carry the same index (``controller.FilterPodsByOwner`` over the pod
    indexer's ``controllerUIDIndex``), so a ReplicaSet's sync looks at its own pods, not all of
    them. Entries are the API server's stored objects: read-only.
    """

    def __init__(self, api: APIServer, kind: str) -> None:
        self._owned: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._orphans: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._where: dict[tuple[str, str], tuple[bool, str]] = {}
        api.watch(kind, self._on_event)

    def _on_event(self, ev: WatchEvent) -> None:
        meta = ev.object["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        where = self._where.pop(key, None)
        if where is not None:
            (self._owned if where[0] else self._orphans)[where[1]].pop(key, None)
        if ev.type == "DELETED":
            return
        ref = controller_ref(ev.object)
        where = (True, ref["uid"]) if ref is not None else (False, key[0])
        (self._owned if where[0] else self._orphans).setdefault(where[1], {})[key] = ev.object
        self._where[key] = where

    def owned(self, uid: str) -> Iterator[dict[str, Any]]:
        """Objects whose controller reference points at ``uid``, in creation order."""
        return iter(list(self._owned.get(uid, {}).values()))

    def orphans(self, namespace: str) -> list[dict[str, Any]]:
        """Objects in ``namespace`` without a controller reference."""
        return list(self._orphans.get(namespace, {}).values())


def claim(api: APIServer, owner: dict[str, Any], selector: Selector, candidates: list[dict[str, Any]]
          ) -> list[dict[str, Any]]:
    """``BaseControllerRefManager.ClaimObject`` (``pkg/controller/controller_ref_manager.go``).

    ``candidates`` are the owner's objects and the orphans of its namespace. An owned object that
    still matches is kept; one that no longer matches is released (its controller reference
    removed) unless the owner is being deleted; a matching orphan not being deleted is adopted
    (``ownerReferences`` gets the owner's controller reference), unless the owner, re-read
    fresh (``RecheckDeletionTimestamp``), is being deleted. Returns the claimed objects.
    """
    uid = owner["metadata"]["uid"]
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    claimed = []
    for obj in candidates:
        ref = controller_ref(obj)
        labels = obj["metadata"].get("labels") or {}
        if ref is not None:
            if ref["uid"] != uid:
                continue  # another controller's
            if selector.matches(labels):
                claimed.append(obj)
            elif not deleting:
                release(api, obj, uid)
            continue
        if deleting or not selector.matches(labels) or obj["metadata"].get("deletionTimestamp"):
            continue
        if not can_adopt(api, owner):
            continue
        adopted = adopt(api, obj, owner)
        if adopted is not None:
            claimed.append(adopted)
    return claimed


def can_adopt(api: APIServer, owner: dict[str, Any]) -> bool:
    """``RecheckDeletionTimestamp``: the owner, read fresh, still exists and is not being deleted."""
    meta = owner["metadata"]
    fresh = api.peek(owner["kind"], meta["name"], meta.get("namespace"))
    return fresh is not None and fresh["metadata"]["uid"] == meta["uid"] and not fresh["metadata"].get(
        "deletionTimestamp")


def adopt(api: APIServer, obj: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any] | None:
    """``AdoptPod`` / ``AdoptReplicaSet``: a patch adding the controller reference, conditional on
    the object's uid (a patch, so no resourceVersion precondition); None if it changed meanwhile."""
    ref = owner_reference(owner)
    meta = obj["metadata"]

    def add(o: dict[str, Any]) -> None:
        o["metadata"]["ownerReferences"] = [*(o["metadata"].get("ownerReferences") or []), ref]

    current = api.peek(obj["kind"], meta["name"], meta.get("namespace"))
    if current is None or current["metadata"]["uid"] != meta["uid"] or controller_ref(current) is not None:
        return None
    return api.mutate(obj["kind"], meta["name"], meta.get("namespace"), add)


def release(api: APIServer, obj: dict[str, Any], owner_uid: str) -> None:
    """``ReleasePod`` / ``ReleaseReplicaSet``: a patch deleting the owner reference by uid."""
    meta = obj["metadata"]

    def drop(o: dict[str, Any]) -> None:
        refs = [r for r in o["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        if refs:
            o["metadata"]["ownerReferences"] = refs
        else:
            o["metadata"].pop("ownerReferences", None)

    if api.peek(obj["kind"], meta["name"], meta.get("namespace")) is not None:
        api.mutate(obj["kind"], meta["name"], meta.get("namespace"), drop)


class Expectations:
    """``controller.UIDTrackingControllerExpectations``: creations and deletions a controller
    has asked for and not yet seen in its watch.

    A sync acts only when the earlier ones were all observed, or after
    :data:`EXPECTATIONS_TIMEOUT`: this is what keeps a ReplicaSet from creating the same
    missing pods twice while its informer lags behind its own writes.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._adds: dict[Any, int] = {}
        self._dels: dict[Any, set[str]] = {}
        self._stamp: dict[Any, float] = {}

    def satisfied(self, key: Any) -> bool:
        """``SatisfiedExpectations``: none recorded, all observed, or expired."""
        if key not in self._stamp:
            return True
        if self._adds.get(key, 0) <= 0 and not self._dels.get(key):
            return True
        return self._clock() - self._stamp[key] > EXPECTATIONS_TIMEOUT

    def expect_creations(self, key: Any, n: int) -> None:
        self._adds[key] = n
        self._dels[key] = set()
        self._stamp[key] = self._clock()

    def expect_deletions(self, key: Any, pod_keys: list[str]) -> None:
        self._adds[key] = 0
        self._dels[key] = set(pod_keys)
        self._stamp[key] = self._clock()

    def creation_observed(self, key: Any) -> None:
        if key in self._adds:
            self._adds[key] -= 1

    def deletion_observed(self, key: Any, pod_key: str) -> None:
        self._dels.get(key, set()).discard(pod_key)

    def delete(self, key: Any) -> None:
        self._adds.pop(key, None)
        self._dels.pop(key, None)
        self._stamp.pop(key, None)

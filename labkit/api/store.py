"""The simulated etcd + kube-apiserver storage layer.

Objects are plain dicts shaped exactly as the API server returns them. The store stamps
``metadata.uid``, ``resourceVersion`` (one cluster-wide counter, as etcd's revision),
``creationTimestamp`` and ``generation``, and tells watchers about every change. Watchers are
plain callbacks run synchronously inside the SimPy step that made the change: the controllers
they belong to (scheduler queue, kubelets) turn them into SimPy events themselves, the way an
informer's event handler only enqueues work.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from labkit.api.kinds import lookup

__all__ = ["APIStore", "WatchEvent", "EPOCH", "timestamp", "clone"]

#: Simulated time 0. Any fixed instant works; a fixed one keeps outputs byte-identical.
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)

ObjectKey = tuple[str, str, str]  # (kind, namespace or "", name)

#: Any spelling of a kind -> (its canonical name, namespaced): the store keys every read and write.
_KIND_INFO: dict[str, tuple[str, bool]] = {}


#: Immutable JSON scalars: shared, never copied.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def clone(value: Any) -> Any:
    """Deep copy of JSON-shaped data (dicts, lists, scalars), several times faster than
    ``copy.deepcopy``, which matters because every status update copies its object.

    Exact-type checks against a set of scalar types keep the common case to one hash lookup;
    dict and list subclasses (an ``OrderedDict`` in a learner's manifest) become plain ones.
    """
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else clone(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else clone(v) for v in value]
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def timestamp(seconds: float, micro: bool = False) -> str:
    """RFC 3339 time of simulated second ``seconds`` (``metav1.Time`` or ``MicroTime`` form).

    ``metav1.Time`` keeps whole seconds (it truncates, as ``Time.MarshalJSON`` does), so the
    common form is memoized per second: a run stamps every status change.
    """
    if micro:
        return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return _whole_second(math.floor(seconds))


@functools.lru_cache(maxsize=4096)
def _whole_second(second: int) -> str:
    return (EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WatchEvent:
    """One watch notification: ``type`` is ADDED, MODIFIED or DELETED, as in a real watch stream."""

    type: str
    kind: str
    object: dict[str, Any]
    old: dict[str, Any] | None = None


class APIStore:
    """Kind/namespace/name-keyed object store with resourceVersions and watches.

    Parameters
    ----------
    clock:
        Returns the current simulated time in seconds (the SimPy environment's ``now``).
    rng:
        The cluster's seeded random source; uids are drawn from it so that the same seed
        gives the same uids.
    """

    def __init__(self, clock: Callable[[], float], rng: random.Random) -> None:
        self._clock = clock
        self._rng = rng
        self._objects: dict[ObjectKey, dict[str, Any]] = {}
        self._by_kind: dict[str, dict[ObjectKey, dict[str, Any]]] = {}
        self._revision = 0
        self._watchers: dict[str, list[Callable[[WatchEvent], None]]] = {}

    # -- reading -------------------------------------------------------------------------
    @staticmethod
    def key(kind: str, name: str, namespace: str | None) -> ObjectKey:
        info = _KIND_INFO.get(kind)
        if info is None:  # first use of this spelling: resolve it once (lookup raises for unknown kinds)
            k = lookup(kind)
            info = _KIND_INFO[kind] = (k.kind, k.namespaced)
        return (info[0], (namespace or "default") if info[1] else "", name)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The stored object itself (not a copy): callers inside labkit must not mutate it."""
        return self._objects.get(self.key(kind, name, namespace))

    def items(self, kind: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Objects of one kind in creation order, optionally within one namespace."""
        k = lookup(kind).kind
        for (_, ns, _), obj in self._by_kind.get(k, {}).items():
            if namespace is None or ns == namespace:
                yield obj

    @property
    def revision(self) -> int:
        return self._revision

    def snapshot(self) -> dict[ObjectKey, dict[str, Any]]:
        """A shallow copy of the key → object map (objects are replaced, never mutated in place)."""
        return dict(self._objects)

    # -- writing -------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._revision += 1
        return str(self._revision)

    def new_uid(self) -> str:
        """A version-4 UUID drawn from the seeded RNG (so uids repeat with the seed)."""
        b = bytearray(self._rng.getrandbits(128).to_bytes(16, "big"))
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object, stamping the fields the API server owns; returns the stored object."""
        meta = obj.setdefault("metadata", {})
        key = self.key(obj["kind"], meta["name"], meta.get("namespace"))
        if key in self._objects:
            raise KeyError(f'{obj["kind"]} "{meta["name"]}" already exists')
        meta.setdefault("uid", self.new_uid())
        meta["resourceVersion"] = self._next_rv()
        meta.setdefault("creationTimestamp", timestamp(self._clock()))
        if obj["kind"] not in ("Pod", "Node", "Namespace", "Event", "Service", "ConfigMap", "Secret",
                               "Lease"):
            meta.setdefault("generation", 1)
        self._objects[key] = obj
        self._by_kind.setdefault(key[0], {})[key] = obj
        self._notify(WatchEvent("ADDED", key[0], obj))
        return obj

    def replace(self, obj: dict[str, Any], *, spec_changed: bool | None = None) -> dict[str, Any]:
        """Replace a stored object by a new version (optimistic concurrency is not modelled).

        ``metadata.generation`` goes up when ``spec`` changed, as for every kind with a spec
        subresource split (apiserver ``registry/rest/update.go``).
        """
        meta = obj["metadata"]
        key = self.key(obj["kind"], meta["name"], meta.get("namespace"))
        return self._replace(key, self._objects[key], obj, spec_changed)

    def _replace(self, key: ObjectKey, old: dict[str, Any], obj: dict[str, Any], spec_changed: bool | None
                 ) -> dict[str, Any]:
        meta = obj["metadata"]
        if spec_changed is None:
            spec_changed = old.get("spec") != obj.get("spec")
        meta["uid"] = old["metadata"]["uid"]
        meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
        if "generation" in old["metadata"]:
            meta["generation"] = old["metadata"]["generation"] + (1 if spec_changed else 0)
        meta["resourceVersion"] = self._next_rv()
        self._objects[key] = obj
        self._by_kind[key[0]][key] = obj
        self._notify(WatchEvent("MODIFIED", key[0], obj, old))
        return obj

    def update_fields(self, kind: str, name: str, namespace: str | None, section: str,
                      values: dict[str, Any]) -> dict[str, Any] | None:
        """Shallow write of a few top-level fields of one section; None when the object is missing.

        The new version shares everything else with the old one (see ``APIServer.update_fields``).
        """
        key = self.key(kind, name, namespace)
        old = self._objects.get(key)
        if old is None:
            return None
        new = dict(old)
        new["metadata"] = dict(old["metadata"])
        new[section] = {**(old.get(section) or {}), **values}
        return self._replace(key, old, new, section == "spec")

    def update(self, kind: str, name: str, namespace: str | None, mutate: Callable[[dict], None]) -> dict:
        """Copy-on-write update: ``mutate`` edits a deep copy, which then replaces the stored one.

        Objects handed out earlier therefore never change under their holder, as with a real
        client that holds a decoded response.
        """
        old = self._objects[self.key(kind, name, namespace)]
        new = clone(old)
        mutate(new)
        return self.replace(new)

    def update_metadata(self, kind: str, name: str, namespace: str | None,
                        mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Copy-on-write write of top-level ``metadata`` fields only: ``mutate`` edits a shallow copy
        of ``metadata`` (it may set or drop fields, not edit the maps and lists in it in place);
        ``spec`` and ``status`` are shared with the old version."""
        old = self._objects[self.key(kind, name, namespace)]
        new = dict(old)
        new["metadata"] = dict(old["metadata"])
        mutate(new["metadata"])
        return self.replace(new, spec_changed=False)

    def update_status(self, kind: str, name: str, namespace: str | None,
                      mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Copy-on-write write to the ``status`` subresource: ``mutate`` edits a copy of ``status``.

        As ``PUT .../status`` cannot change ``spec`` (``registry/core/pod/strategy.go``,
        ``podStatusStrategy.PrepareForUpdate``), the new version shares ``spec`` with the old
        one instead of copying it; only ``status`` (and the metadata the store stamps) is new.
        The kubelet writes status several times per pod, so this is the hot write path.
        """
        old = self._objects[self.key(kind, name, namespace)]
        new = dict(old)
        new["metadata"] = dict(old["metadata"])
        new["status"] = clone(old.get("status") or {})
        mutate(new["status"])
        return self.replace(new, spec_changed=False)

    def bind(self, name: str, namespace: str, node: str, mutate_status: Callable[[dict[str, Any]], None]
             ) -> dict[str, Any]:
        """The ``pods/binding`` subresource: set ``spec.nodeName`` (and let the caller adjust status).

        ``registry/core/pod/storage/storage.go`` (``setPodNodeAndMetadata``) changes only
        ``spec.nodeName`` and the PodScheduled condition, so the new version shares the rest of
        ``spec`` with the old one, as :meth:`update_status` shares ``spec``.
        """
        old = self._objects[self.key("Pod", name, namespace)]
        new = dict(old)
        new["metadata"] = dict(old["metadata"])
        new["spec"] = {**old["spec"], "nodeName": node}
        new["status"] = clone(old.get("status") or {})
        mutate_status(new["status"])
        return self.replace(new, spec_changed=False)

    def delete(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        key = self.key(kind, name, namespace)
        obj = self._objects.pop(key)
        del self._by_kind[key[0]][key]
        # The DELETED watch event carries the object at the revision of its deletion (etcd3 watcher).
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": self._next_rv()}}
        self._notify(WatchEvent("DELETED", key[0], obj))
        return obj

    # -- watching ------------------------------------------------------------------------
    def watch(self, kind: str, handler: Callable[[WatchEvent], None]) -> None:
        """Call ``handler`` for every later change of ``kind`` (an informer's event handler)."""
        self._watchers.setdefault(lookup(kind).kind, []).append(handler)

    def _notify(self, event: WatchEvent) -> None:
        for handler in self._watchers.get(event.kind, ()):
            handler(event)

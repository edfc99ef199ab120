"""The garbage collector: cascading deletion through ``ownerReferences``.

Upstream: ``pkg/controller/garbagecollector/garbagecollector.go`` (``attemptToDeleteItem``,
``processDeletingDependentsItem``, ``orphanDependents``) and its dependency graph
(``graph_builder.go``). The graph here is two maps kept up to date from watches: which objects
exist (by uid) and which objects name a given owner.

- **Background** (the default for Deployments and ReplicaSets): the API server removes the
  owner at once; its dependents then have no owner left, and the collector deletes each of
  them, in background too. A Deployment thus takes its ReplicaSets, and they their pods (which
  terminate gracefully).
- **Foreground**: the owner stays, with a ``deletionTimestamp`` and the ``foregroundDeletion``
  finalizer. The collector deletes its dependents (in foreground when they have dependents
  of their own) and removes the finalizer once no dependent with ``blockOwnerDeletion`` is left.
- **Orphan**: the owner carries the ``orphan`` finalizer; the collector removes the owner's entry
  from each dependent's ``ownerReferences``, then the finalizer.
- A dependent with another owner that still exists is kept; only the references to missing
  owners are removed.
"""

from __future__ import annotations

from typing import Any

from labkit.api.store import WatchEvent
from labkit.controllers.runtime import Controller

__all__ = ["GarbageCollector", "OWNER_KINDS"]

#: Kinds the collector builds its graph from (owners and dependents alike).
OWNER_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Pod", "ConfigMap", "Secret",
               "Service", "PersistentVolumeClaim", "EndpointSlice")

Key = tuple[str, str, str]  # (kind, namespace, name)


def _key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return obj["kind"], meta.get("namespace") or "", meta["name"]


class GarbageCollector(Controller):
    """kube-controller-manager's garbage collector, for the kinds in :data:`OWNER_KINDS`."""

    component = "garbage-collector-controller"

    def __init__(self, env, api, recorder) -> None:
        super().__init__(env, api, recorder)
        self._uids: dict[str, Key] = {}  # uid -> key of every object that exists
        self._dependents: dict[str, set[Key]] = {}  # owner uid -> dependents naming it
        self._owners: dict[Key, tuple[str, ...]] = {}  # dependent -> owner uids it names
        for kind in OWNER_KINDS:
            self.watch(kind, self._on_change)

    # -- the graph --------------------------------------------------------------------------------
    def _on_change(self, ev: WatchEvent) -> list[Key] | None:
        obj = ev.object
        meta = obj["metadata"]
        old = ev.old
        if (old is not None and not meta.get("ownerReferences") and not meta.get("deletionTimestamp")
                and not old["metadata"].get("ownerReferences") and meta["uid"] == old["metadata"]["uid"]):
            # An update of an object that names no owner and names none now, not being deleted (a
            # bare pod's binding or status write): the graph and the answer (nothing) stay the same.
            return None
        key = _key(obj)
        uid = meta["uid"]
        refs = tuple(r["uid"] for r in meta.get("ownerReferences") or [])
        for owner in self._owners.pop(key, ()):
            self._dependents.get(owner, set()).discard(key)
        if ev.type == "DELETED":
            self._uids.pop(uid, None)
            # Its dependents may have lost their last owner; its owners may be waiting for it.
            return sorted(self._dependents.get(uid, ())) + self._owner_keys(refs)
        self._uids[uid] = key
        if refs:
            self._owners[key] = refs
            for owner in refs:
                self._dependents.setdefault(owner, set()).add(key)
        keys: list[Key] = []
        if meta.get("deletionTimestamp") and {"foregroundDeletion", "orphan"} & set(meta.get("finalizers")
                                                                                   or []):
            keys.append(key)
        if refs and any(owner not in self._uids for owner in refs):
            keys.append(key)
        return keys

    def _owner_keys(self, refs: tuple[str, ...]) -> list[Key]:
        return [self._uids[owner] for owner in refs if owner in self._uids]

    # -- sync ---------------------------------------------------------------------------------------
    def sync(self, key: Key) -> None:
        kind, ns, name = key
        obj = self.api.peek(kind, name, ns or None)
        if obj is None:
            return
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and "orphan" in finalizers:
            self._orphan_dependents(obj)
            return
        if meta.get("deletionTimestamp") and "foregroundDeletion" in finalizers:
            self._delete_dependents(obj)
            return
        self._attempt_to_delete(obj)

    def _attempt_to_delete(self, obj: dict[str, Any]) -> None:
        """``attemptToDeleteItem``: delete a dependent whose owners are all gone; drop dangling refs."""
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        if not refs or meta.get("deletionTimestamp"):
            return
        missing = [r for r in refs if r["uid"] not in self._uids]
        if not missing:
            return
        if len(missing) < len(refs):
            gone = {r["uid"] for r in missing}

            def drop(o: dict[str, Any]) -> None:
                o["metadata"]["ownerReferences"] = [r for r in o["metadata"]["ownerReferences"]
                                                    if r["uid"] not in gone]
            self.api.mutate(obj["kind"], meta["name"], meta.get("namespace"), drop)
            return
        # Every owner is gone: the dependent goes too, with the policy its owner was deleted with
        # (background here; foreground owners delete their dependents themselves, below).
        self.api.delete(obj["kind"], meta["name"], meta.get("namespace"), propagation_policy="Background")

    def _delete_dependents(self, owner: dict[str, Any]) -> None:
        """``processDeletingDependentsItem``: delete the dependents, then release the owner."""
        uid = owner["metadata"]["uid"]
        blocking = False
        for kind, ns, name in sorted(self._dependents.get(uid, ())):
            dep = self.api.peek(kind, name, ns or None)
            if dep is None:
                continue
            ref = next((r for r in dep["metadata"].get("ownerReferences") or [] if r["uid"] == uid), {})
            blocking = blocking or bool(ref.get("blockOwnerDeletion"))
            if dep["metadata"].get("deletionTimestamp"):
                continue
            has_own = bool(self._dependents.get(dep["metadata"]["uid"]))
            self.api.delete(kind, name, ns or None,
                            propagation_policy="Foreground" if has_own else "Background")
        if not blocking:
            meta = owner["metadata"]
            self.api.remove_finalizer(owner["kind"], meta["name"], meta.get("namespace"),
                                      "foregroundDeletion")

    def _orphan_dependents(self, owner: dict[str, Any]) -> None:
        """``orphanDependents``: remove the owner from every dependent, then the ``orphan`` finalizer."""
        uid = owner["metadata"]["uid"]

        def drop(o: dict[str, Any]) -> None:
            refs = [r for r in o["metadata"].get("ownerReferences") or [] if r["uid"] != uid]
            if refs:
                o["metadata"]["ownerReferences"] = refs
            else:
                o["metadata"].pop("ownerReferences", None)

        for kind, ns, name in sorted(self._dependents.get(uid, ())):
            if self.api.peek(kind, name, ns or None) is not None:
                self.api.mutate(kind, name, ns or None, drop)
        meta = owner["metadata"]
        self.api.remove_finalizer(owner["kind"], meta["name"], meta.get("namespace"), "orphan")

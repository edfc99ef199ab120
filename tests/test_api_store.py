"""The simulated etcd/kube-apiserver store: resourceVersions, uids, timestamps, watches, copy-on-write.

Real clients rely on these invariants: ``resourceVersion`` only grows (one counter for the
whole cluster, as etcd's revision), a uid is a version-4 UUID that never repeats, a watch
delivers ADDED → MODIFIED… → DELETED in the order the writes happened, and an object a client
already holds never changes under it.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
from labkit.api.store import APIStore, WatchEvent, timestamp

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class Clock:
    """A settable stand-in for ``env.now``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def config_map(name: str, value: str = "1", namespace: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"v": value}}


def new_store(seed: int = 0) -> tuple[APIStore, Clock, list[WatchEvent]]:
    clock = Clock()
    store = APIStore(clock, random.Random(seed))
    seen: list[WatchEvent] = []
    store.watch("ConfigMap", seen.append)
    return store, clock, seen


def test_resource_version_is_one_cluster_wide_counter() -> None:
    """Every write (create, update, delete; any kind) takes the next revision."""
    store, _, _ = new_store()
    a = store.create(config_map("a"))
    b = store.create({"apiVersion": "v1", "kind": "Secret",
                      "metadata": {"name": "b", "namespace": "default"}})
    a2 = store.update("ConfigMap", "a", "default", lambda o: o["data"].update(v="2"))
    gone = store.delete("Secret", "b", "default")
    assert [o["metadata"]["resourceVersion"] for o in (a, b, a2, gone)] == ["1", "2", "3", "4"]
    assert store.revision == 4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["create", "update", "status", "delete"]), st.integers(0, 4)),
                max_size=40))
def test_resource_versions_only_grow_whatever_the_writes(ops: list[tuple[str, int]]) -> None:
    """Any sequence of writes: each watch event carries a larger resourceVersion than the one before,
    equal to the store's revision at the time, and the events of one object run ADDED, MODIFIED*, DELETED."""
    store, _, seen = new_store()
    for op, i in ops:
        name = f"cm-{i}"
        exists = store.get("ConfigMap", name, "default") is not None
        if op == "create" and not exists:
            store.create(config_map(name))
        elif op == "update" and exists:
            store.update("ConfigMap", name, "default", lambda o: o["data"].update(v=str(len(seen))))
        elif op == "status" and exists:
            store.update_status("ConfigMap", name, "default", lambda s: s.update(n=len(seen)))
        elif op == "delete" and exists:
            store.delete("ConfigMap", name, "default")
        if seen:
            assert int(seen[-1].object["metadata"]["resourceVersion"]) == store.revision
    versions = [int(e.object["metadata"]["resourceVersion"]) for e in seen]
    assert versions == sorted(set(versions))
    per_object: dict[str, list[str]] = {}
    for e in seen:
        per_object.setdefault(e.object["metadata"]["uid"], []).append(e.type)
    for types in per_object.values():
        assert re.fullmatch(r"ADDED(,MODIFIED)*(,DELETED)?", ",".join(types)), types


def test_uid_is_a_version_4_uuid_drawn_from_the_seed() -> None:
    """Same seed, same uids (reproducible notebooks); another seed, other uids; never a repeat."""
    def uids(seed: int) -> list[str]:
        store, _, _ = new_store(seed)
        return [store.create(config_map(f"cm-{i}"))["metadata"]["uid"] for i in range(50)]

    first = uids(1)
    assert all(UUID4.match(u) for u in first)
    assert len(set(first)) == 50
    assert uids(1) == first
    assert set(uids(2)).isdisjoint(first)


def test_cluster_uids_repeat_with_the_seed() -> None:
    def uid(seed: int) -> str:
        c = labkit.Cluster(seed=seed)
        return c.apply(config_map("settings"))[0]["metadata"]["uid"]

    assert uid(7) == uid(7) != uid(8)


def test_creation_timestamp_is_simulated_time() -> None:
    """Timestamps count from the fixed epoch in simulated seconds (metav1.Time: whole seconds, UTC)."""
    store, clock, _ = new_store()
    assert store.create(config_map("a"))["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"
    clock.now = 3661.9
    b = store.create(config_map("b"))
    assert b["metadata"]["creationTimestamp"] == "2026-01-01T01:01:01Z"
    clock.now = 7200
    updated = store.update("ConfigMap", "b", "default", lambda o: o["data"].update(v="2"))
    assert updated["metadata"]["creationTimestamp"] == "2026-01-01T01:01:01Z", "creation time never moves"


def test_timestamp_formats() -> None:
    assert timestamp(0) == "2026-01-01T00:00:00Z"
    assert timestamp(59.999) == "2026-01-01T00:00:59Z"
    assert timestamp(86400 * 31) == "2026-02-01T00:00:00Z"
    assert timestamp(1.25, micro=True) == "2026-01-01T00:00:01.250000Z"


def test_cluster_creation_timestamp_follows_run() -> None:
    c = labkit.Cluster(seed=0)
    c.run(until=90)
    assert c.apply(config_map("late"))[0]["metadata"]["creationTimestamp"] == "2026-01-01T00:01:30Z"


def test_watch_delivers_added_modified_deleted_in_order() -> None:
    """One watch stream per kind, in write order, with the previous version on MODIFIED."""
    store, _, seen = new_store()
    store.create(config_map("a"))
    store.create(config_map("b"))
    store.update("ConfigMap", "a", "default", lambda o: o["data"].update(v="2"))
    store.delete("ConfigMap", "a", "default")
    assert [(e.type, e.object["metadata"]["name"]) for e in seen] == [
        ("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "a")]
    modified = seen[2]
    assert modified.old is not None
    assert (modified.old["data"]["v"], modified.object["data"]["v"]) == ("1", "2")


def test_watch_only_sees_its_kind() -> None:
    store, _, seen = new_store()
    store.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}})
    assert seen == []


def test_deleted_event_carries_the_deletion_revision() -> None:
    """As etcd's watch does: the DELETED object shows the resourceVersion of the delete."""
    store, _, seen = new_store()
    store.create(config_map("a"))
    store.create(config_map("b"))
    store.delete("ConfigMap", "a", "default")
    assert seen[-1].object["metadata"]["resourceVersion"] == "3"


def test_generation_counts_spec_changes_only() -> None:
    store, _, _ = new_store()
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "default"},
           "spec": {"replicas": 1}, "status": {}}
    assert store.create(dep)["metadata"]["generation"] == 1
    assert store.update_status("Deployment", "d", "default", lambda s: s.update(replicas=1))["metadata"][
        "generation"] == 1
    assert store.update("Deployment", "d", "default", lambda o: o["spec"].update(replicas=2))["metadata"][
        "generation"] == 2


def test_update_is_copy_on_write() -> None:
    """An object returned earlier keeps its content after later updates, spec and status alike."""
    store, _, _ = new_store()
    store.create({**config_map("a"), "spec": {"x": [1]}, "status": {"phase": "Pending"}})
    held = store.get("ConfigMap", "a", "default")
    frozen = json.dumps(held, sort_keys=True)
    store.update("ConfigMap", "a", "default", lambda o: o["spec"]["x"].append(2))
    store.update_status("ConfigMap", "a", "default", lambda s: s.update(phase="Running"))
    store.update("ConfigMap", "a", "default", lambda o: o["metadata"].setdefault("labels", {}).update(a="b"))
    assert json.dumps(held, sort_keys=True) == frozen
    now = store.get("ConfigMap", "a", "default")
    assert now["spec"]["x"] == [1, 2]
    assert (now["status"]["phase"], now["metadata"]["labels"]) == ("Running", {"a": "b"})


def test_status_update_cannot_change_spec() -> None:
    """``update_status`` hands the mutator only ``status`` (the status subresource)."""
    store, _, _ = new_store()
    store.create({**config_map("a"), "spec": {"x": 1}})
    new = store.update_status("ConfigMap", "a", "default", lambda s: s.update(ok=True))
    assert new["spec"] == {"x": 1} and new["status"] == {"ok": True}


def test_objects_from_cluster_get_do_not_change_when_the_cluster_runs() -> None:
    """What a learner holds is a snapshot: running the cluster does not rewrite it."""
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    held = c.get("Pod", "web")
    stored = c.store.get("Pod", "web")
    frozen, frozen_stored = json.dumps(held, sort_keys=True), json.dumps(stored, sort_keys=True)
    c.run()
    assert json.dumps(held, sort_keys=True) == frozen
    assert json.dumps(stored, sort_keys=True) == frozen_stored, "the store replaces objects, never edits them"
    assert c.get("Pod", "web")["status"]["phase"] == "Running" and held["status"]["phase"] == "Pending"


def test_items_keep_creation_order_and_filter_by_namespace() -> None:
    store, _, _ = new_store()
    for name, ns in [("b", "x"), ("a", "default"), ("c", "x")]:
        store.create(config_map(name, namespace=ns))
    assert [o["metadata"]["name"] for o in store.items("ConfigMap")] == ["b", "a", "c"]
    assert [o["metadata"]["name"] for o in store.items("configmaps", "x")] == ["b", "c"]


def test_creating_an_existing_object_is_refused() -> None:
    store, _, _ = new_store()
    store.create(config_map("a"))
    with pytest.raises(KeyError, match='ConfigMap "a" already exists'):
        store.create(config_map("a"))


def test_clone_copies_every_container_and_shares_only_scalars() -> None:
    """``clone`` is the store's deep copy: nothing mutable is shared, mapping subclasses become dicts."""
    from collections import OrderedDict

    from labkit.api.store import clone

    inner = OrderedDict(b=[1, {"c": None}])
    original = {"a": inner, "s": "x", "f": 1.5, "t": True}
    copy_ = clone(original)
    assert copy_ == original
    assert type(copy_["a"]) is dict
    assert copy_["a"] is not inner and copy_["a"]["b"] is not inner["b"]
    assert copy_["a"]["b"][1] is not inner["b"][1]
    copy_["a"]["b"][1]["c"] = "changed"
    assert inner["b"][1]["c"] is None

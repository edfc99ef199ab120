"""The garbage collector: Background, Foreground and Orphan deletion through ownerReferences."""

from __future__ import annotations

import pytest

import labkit

ZONES = ["cn-hangzhou-h"]


def replicaset(name: str = "web") -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}


def owned_pod(name: str, *owners: dict) -> dict:
    # Not controller references: the ReplicaSet controller neither adopts nor releases these pods
    # (their labels do not match), so only the collector acts on them.
    refs = [{"apiVersion": o["apiVersion"], "kind": o["kind"], "name": o["metadata"]["name"],
             "uid": o["metadata"]["uid"], "controller": False, "blockOwnerDeletion": True}
            for o in owners]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"owned": "yes"}, "ownerReferences": refs},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


@pytest.fixture
def c() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool", "ecs.g7.xlarge", 2, zones=ZONES)
    # A hand-made ReplicaSet at 0 replicas owns two hand-made pods, so only the collector acts.
    (rs,) = c.apply(replicaset())
    c.apply([owned_pod("p0", rs), owned_pod("p1", rs)])
    c.run()
    return c


def names(c: labkit.Cluster, kind: str) -> list[str]:
    return [o["metadata"]["name"] for o in c.list(kind)]


def test_background_deletion_removes_the_owner_at_once_and_then_its_dependents(c):
    c.delete("ReplicaSet", "web")
    assert names(c, "ReplicaSet") == []
    c.run()
    assert names(c, "Pod") == []


def test_foreground_deletion_keeps_the_owner_readable_until_its_dependents_are_gone(c):
    c.delete("ReplicaSet", "web", propagation_policy="Foreground")
    rs = c.get("ReplicaSet", "web")
    assert rs["metadata"]["finalizers"] == ["foregroundDeletion"] and rs["metadata"]["deletionTimestamp"]
    c.run(until=c.now + 0.01)
    assert all(p["metadata"].get("deletionTimestamp") for p in c.list("Pod"))
    assert names(c, "ReplicaSet") == ["web"]  # the pods are still terminating
    c.run()
    assert names(c, "Pod") == [] and names(c, "ReplicaSet") == []


def test_orphan_deletion_leaves_the_dependents_running_without_the_owner_reference(c):
    c.delete("ReplicaSet", "web", propagation_policy="Orphan")
    c.run()
    assert names(c, "ReplicaSet") == []
    pods = c.list("Pod")
    assert [p["metadata"]["name"] for p in pods] == ["p0", "p1"]
    assert all("ownerReferences" not in p["metadata"] and p["status"]["phase"] == "Running" for p in pods)


def test_a_dependent_with_another_living_owner_is_kept_and_loses_only_the_dead_reference(c):
    (other,) = c.apply(replicaset("other"))
    web = c.get("ReplicaSet", "web")
    c.apply(owned_pod("shared", web, other))
    c.run()
    c.delete("ReplicaSet", "web")
    c.run()
    assert names(c, "Pod") == ["shared"]
    refs = c.get("Pod", "shared")["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["other"]


def test_a_pod_whose_owner_never_existed_is_collected():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool", "ecs.g7.xlarge", 1, zones=ZONES)
    ghost = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "ghost", "uid": "0" * 36}}
    c.apply(owned_pod("stray", ghost))
    c.run()
    assert names(c, "Pod") == []

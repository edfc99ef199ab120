"""The scheduler's cache keeps a deleted node's pods (``pkg/scheduler/backend/cache/cache.go``:
RemoveNode leaves a NodeInfo without its node while pods remain) and counts them again when a
Node of that name returns, so a re-created node is never over-committed (issue 8 item 15)."""

from __future__ import annotations

from typing import Any

import labkit
from labkit.scheduler.podinfo import pod_requests


def _pod(name: str, cpu: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27",
                                            "resources": {"requests": {"cpu": cpu}}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _node_manifest(obj: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "spec": obj["spec"], "status": obj["status"],
            "metadata": {"name": obj["metadata"]["name"], "labels": obj["metadata"]["labels"]}}


def _committed_cpu(c: labkit.Cluster, node: str) -> int:
    return sum(pod_requests(p["spec"]).get("cpu", 0) for p in c.list("Pod")
               if p["spec"].get("nodeName") == node
               and p["status"].get("phase") not in ("Succeeded", "Failed"))


def test_a_recreated_node_counts_the_pods_still_bound_to_its_name():
    c = labkit.Cluster(seed=0)
    obj = c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)[0]  # 3920m allocatable
    name = obj["metadata"]["name"]
    c.apply([_pod("a", "2"), _pod("b", "1")])
    c.run()
    c.delete("Node", name)
    c.apply(_node_manifest(obj))
    c.apply([_pod("x", "2"), _pod("y", "1")])
    c.run(until=c.now + 5)
    assert {p["metadata"]["name"]: p["spec"].get("nodeName") for p in c.list("Pod")} == {
        "a": name, "b": name, "x": None, "y": None}
    assert _committed_cpu(c, name) == 3000
    msg = next(e["message"] for e in c.events(involved="x") if e["reason"] == "FailedScheduling")
    assert msg.startswith("0/1 nodes are available: 1 Insufficient cpu.")


def test_a_ghost_node_is_not_offered_to_the_scheduler():
    c = labkit.Cluster(seed=0)
    obj = c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)[0]
    c.apply(_pod("a", "1"))
    c.run()
    c.delete("Node", obj["metadata"]["name"])
    c.apply(_pod("x", "100m"))
    c.run(until=c.now + 5)
    assert c.get("Pod", "x")["spec"].get("nodeName") is None
    assert c.scheduler.table.n == 0
    assert list(c.scheduler._ghosts) == [obj["metadata"]["name"]]


def test_once_pod_gc_removes_the_old_pods_the_recreated_node_is_free_again():
    c = labkit.Cluster(seed=0)
    obj = c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)[0]
    name = obj["metadata"]["name"]
    c.apply([_pod("a", "2"), _pod("b", "1")])
    c.run()
    c.delete("Node", name)
    c.run()  # PodGC deletes a and b 40-60 s later
    assert not c.list("Pod")
    assert not c.scheduler._ghosts
    c.apply(_node_manifest(obj))
    c.apply([_pod("x", "2"), _pod("y", "1")])
    c.run()
    assert all(p["spec"].get("nodeName") == name for p in c.list("Pod"))
    assert _committed_cpu(c, name) == 3000


def test_a_pod_bound_before_its_node_exists_counts_when_the_node_appears():
    c = labkit.Cluster(seed=0)
    c.apply(_pod("early", "3", node="cn-hangzhou.10.0.0.1"))
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)
    c.apply(_pod("late", "2"))
    c.run()
    assert c.get("Pod", "early")["status"]["phase"] == "Running"
    assert c.get("Pod", "late")["spec"].get("nodeName") is None

"""The pod garbage collector (``pkg/controller/podgc/gc_controller.go``): a pod bound to a node
that no longer exists is quarantined 40 s, then marked Failed with ``DisruptionTarget``
(``DeletionByPodGC``) and force-deleted at the next 20 s pass; terminating pods on an
out-of-service, NotReady node are force-deleted. Its loop alone never keeps ``c.run()`` going."""

from __future__ import annotations

from typing import Any

import labkit
from labkit.controllers.podgc import ORPHAN_MESSAGE, ORPHAN_REASON


def _cluster() -> tuple[labkit.Cluster, str]:
    c = labkit.Cluster(seed=0)
    node = c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)[0]
    return c, node["metadata"]["name"]


def _pod(name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _log(c: labkit.Cluster, name: str) -> list[tuple[float, str, str | None, list[tuple[str, str, str]]]]:
    log: list[tuple[float, str, str | None, list[tuple[str, str, str]]]] = []

    def on(ev: Any) -> None:
        if ev.object["metadata"]["name"] == name:
            st = ev.object.get("status") or {}
            conds = [(x["reason"], x["message"], x["status"]) for x in st.get("conditions") or []
                     if x["type"] == "DisruptionTarget"]
            log.append((round(c.now, 3), ev.type, st.get("phase"), conds))
    c.api.watch("Pod", on)
    return log


def test_a_pod_whose_node_was_deleted_before_it_started_stays_pending_until_pod_gc_removes_it():
    """Issue 8 item 11: the kubelet tolerates its node vanishing (no KeyError in c.run())."""
    c, node = _cluster()
    c.run(until=5)
    c.apply(_pod("web", node))
    c.delete("Node", node)
    log = _log(c, "web")
    c.run()
    # first pass after the deletion at t=20 finds the orphan; 40 s quarantine; deleted at t=60
    assert log == [(60.0, "MODIFIED", "Failed", [(ORPHAN_REASON, ORPHAN_MESSAGE, "True")]),
                   (60.0, "DELETED", "Failed", [(ORPHAN_REASON, ORPHAN_MESSAGE, "True")])]
    assert ORPHAN_MESSAGE == "PodGC: node no longer exists" and ORPHAN_REASON == "DeletionByPodGC"
    assert c.now == 60.0


def test_a_running_pod_of_a_deleted_node_is_failed_and_force_deleted_40_to_60_s_later():
    c, node = _cluster()
    c.apply(_pod("web", node))
    c.run()
    assert c.get("Pod", "web")["status"]["phase"] == "Running"
    c.run(until=21)
    c.delete("Node", node)
    log = _log(c, "web")
    c.run(until=61)
    assert c.get("Pod", "web")["status"]["phase"] == "Running"  # still quarantined (seen at t=40)
    c.run()
    assert [(t, kind, phase) for t, kind, phase, _ in log] == [(80.0, "MODIFIED", "Failed"),
                                                               (80.0, "DELETED", "Failed")]
    assert not [e for e in c.events() if e["source"]["component"] == "pod-garbage-collector"]


def test_a_node_that_comes_back_within_the_quarantine_keeps_its_pods():
    c, node = _cluster()
    obj = c.get("Node", node, None)
    c.apply(_pod("web", node))
    c.run()
    c.delete("Node", node)
    c.run(until=c.now + 25)
    again = {"apiVersion": "v1", "kind": "Node", "spec": obj["spec"], "status": obj["status"],
             "metadata": {"name": node, "labels": obj["metadata"]["labels"]}}
    c.apply(again)
    c.run(until=c.now + 200)
    assert c.get("Pod", "web")["spec"]["nodeName"] == node


def test_a_pod_bound_to_a_node_that_never_existed_is_collected():
    c, _ = _cluster()
    c.apply(_pod("lost", "no-such-node"))
    c.run()
    assert not c.list("Pod")
    assert c.now == 40.0  # the first pass runs at start-up (t=0) and finds it; 40 s quarantine


def test_pod_gc_alone_does_not_keep_the_cluster_running():
    c, node = _cluster()
    c.apply(_pod("web", node))
    c.run()
    settled = c.now
    assert settled < 5
    assert c.run() == settled


def test_a_pod_applied_just_before_its_node_is_not_an_orphan():
    c = labkit.Cluster(seed=0)
    c.apply(_pod("early", "cn-hangzhou.10.0.0.1"))
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)
    c.run()
    pod = c.get("Pod", "early")
    assert pod["status"]["phase"] == "Running" and c.now < 5


def test_terminating_pods_on_an_out_of_service_not_ready_node_are_force_deleted():
    c, node = _cluster()
    c.apply(_pod("web", node))
    c.run()
    c.fail_node(node)
    c.run(until=c.now + 60)  # NotReady (Unknown) and tainted unreachable
    c.delete("Pod", "web")
    assert c.get("Pod", "web")["metadata"]["deletionTimestamp"]
    c.patch("Node", node, {"spec": {"taints": [*(c.get("Node", node, None)["spec"].get("taints") or []),
                                               {"key": "node.kubernetes.io/out-of-service",
                                                "value": "nodeshutdown", "effect": "NoExecute"}]}},
            namespace=None)
    c.run(until=c.now + 21)
    assert not c.list("Pod")

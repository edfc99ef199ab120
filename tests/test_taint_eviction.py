"""Taint-based eviction (semantics section 11.4)."""

from __future__ import annotations

import pytest

import labkit
from labkit.api.store import timestamp
from labkit.controllers.tainteviction import matching_tolerations, min_toleration_seconds

ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
UNREACHABLE = "node.kubernetes.io/unreachable"


def setup(tolerations: list[dict] | None = None, kubelets: bool = False) -> tuple[labkit.Cluster, str]:
    c = labkit.Cluster(seed=0, kubelets=kubelets)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 3, zones=ZONES)
    name = c.list("Node")[0]["metadata"]["name"]
    spec = {"containers": [{"name": "app", "image": "nginx:1.27"}], "nodeName": name}
    if tolerations:
        spec["tolerations"] = tolerations
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec})
    c.run(until=10.001)
    return c, name


def taint_node(c: labkit.Cluster, name: str, taints: list[dict]) -> None:
    c.patch("Node", name, {"spec": {"taints": taints}}, namespace=None)


def evictions(c: labkit.Cluster) -> list[tuple[float, str]]:
    return [(e["time"], e["message"]) for e in c.event_log() if e["reason"] == "TaintManagerEviction"]


def test_pod_tolerating_unreachable_for_10_s_goes_10_s_after_the_noexecute_taint():
    c, name = setup([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                      "tolerationSeconds": 10}])
    c.fail_node(name)
    c.run()
    assert evictions(c) == [(80.0, "Marking for deletion Pod default/web")]  # NoExecute taint at 70


def test_default_tolerations_evict_300_s_after_the_taint_with_a_disruption_target():
    c, name = setup()
    c.fail_node(name)
    c.run(until=369)
    assert "deletionTimestamp" not in c.get("Pod", "web")["metadata"]
    c.run(until=371)
    p = c.get("Pod", "web")
    assert p["metadata"]["deletionTimestamp"] == timestamp(370 + 30)  # the pod's own grace period
    assert p["metadata"]["deletionGracePeriodSeconds"] == 30
    assert p["status"]["conditions"][-1] == {
        "type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
        "lastTransitionTime": timestamp(370), "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint"}


def test_untolerated_noexecute_taint_evicts_at_once():
    c, name = setup(kubelets=True)
    taint_node(c, name, [{"key": "dedicated", "value": "batch", "effect": "NoExecute"}])
    t = c.now
    c.run(until=t + 0.001)
    assert evictions(c) == [(t, "Marking for deletion Pod default/web")]
    assert c.get("Pod", "web")["metadata"]["deletionTimestamp"] == timestamp(t + 30)
    c.run()
    assert c.list("Pod") == []  # the node's kubelet stopped and removed it


def test_eviction_event_names_the_pod_without_a_uid():
    c, name = setup()
    taint_node(c, name, [{"key": "dedicated", "value": "batch", "effect": "NoExecute"}])
    c.run(until=c.now + 1)
    ev = next(e for e in c.events() if e["reason"] == "TaintManagerEviction")
    assert ev["type"] == "Normal" and ev["source"] == {"component": "taint-eviction-controller"}
    assert ev["involvedObject"] == {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": "default",
                                    "uid": "", "resourceVersion": ""}


def test_toleration_without_seconds_keeps_the_pod_forever():
    c, name = setup([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}])
    taint_node(c, name, [{"key": "dedicated", "value": "batch", "effect": "NoExecute"}])
    c.run(until=5000)
    assert evictions(c) == []
    assert "deletionTimestamp" not in c.get("Pod", "web")["metadata"]


def test_removing_the_taint_cancels_the_pending_deletion():
    c, name = setup([{"key": "dedicated", "operator": "Exists", "effect": "NoExecute",
                      "tolerationSeconds": 60}])
    taint_node(c, name, [{"key": "dedicated", "value": "batch", "effect": "NoExecute"}])
    c.run(until=c.now + 30)
    taint_node(c, name, [])
    t = c.now
    c.run()
    assert evictions(c) == [(t, "Cancelling deletion of Pod default/web")]
    assert "deletionTimestamp" not in c.get("Pod", "web")["metadata"]


def test_recovery_before_the_toleration_ends_cancels_the_eviction():
    c, name = setup()
    c.fail_node(name)
    c.run(until=200)
    c.recover_node(name)
    c.run()
    assert [m for _, m in evictions(c)] == ["Cancelling deletion of Pod default/web"]
    assert "deletionTimestamp" not in c.get("Pod", "web")["metadata"]


@pytest.mark.parametrize(("tolerations", "expected"), [
    ([], None),  # not tolerated
    ([{"operator": "Exists"}], [{"operator": "Exists"}]),
    ([{"key": "a", "operator": "Equal", "value": "x", "effect": "NoExecute"}], None),  # value differs
])
def test_matching_tolerations_need_every_taint_tolerated(tolerations, expected):
    assert matching_tolerations([("a", "y", "NoExecute")], tolerations) == expected


@pytest.mark.parametrize(("used", "seconds"), [
    ([{"tolerationSeconds": 300}, {"tolerationSeconds": 10}], 10.0),
    ([{"tolerationSeconds": 300}, {}], 300.0),
    ([{}], None),
    ([{"tolerationSeconds": -5}], 0.0),
    ([], 0.0),
])
def test_min_toleration_seconds_is_the_smallest_and_none_means_forever(used, seconds):
    assert min_toleration_seconds(used) == seconds

"""The kubelet's admission (``pkg/kubelet/lifecycle/predicate.go``): a pod bound with
``spec.nodeName`` skips the scheduler, so the kubelet refuses what does not fit, counting the
pods it has already admitted on that node. A refused pod is ``Failed`` with the reason and the
kubelet's message, and a Warning event; the scheduler no longer counts it."""

from __future__ import annotations

from typing import Any

import labkit
from labkit.api.quantity import resource_amount
from labkit.node.admission import Admission, Rejection
from labkit.scheduler.podinfo import PodInfo

G7_LARGE_CPU = 1930  # ecs.g7.large allocatable cpu, millicores


def _cluster(instance_type: str = "ecs.g7.large", **pool: Any) -> tuple[labkit.Cluster, str]:
    c = labkit.Cluster(seed=0)
    node = c.add_node_pool("pool-a", instance_type=instance_type, count=1, **pool)[0]
    return c, node["metadata"]["name"]


def _pod(name: str, node: str | None, cpu: str | None = None, **spec: Any) -> dict[str, Any]:
    ctr: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    if cpu is not None:
        ctr["resources"] = {"requests": {"cpu": cpu}}
    body: dict[str, Any] = {"containers": [ctr], **spec}
    if node is not None:
        body["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def _warnings(c: labkit.Cluster, name: str) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in c.events(involved=name) if e["type"] == "Warning"]


def test_a_bound_pod_that_does_not_fit_is_failed_out_of_cpu_with_the_kubelets_message():
    c, node = _cluster()
    c.apply(_pod("big", node, "3"))
    c.run()
    st = c.get("Pod", "big")["status"]
    message = f"Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: {G7_LARGE_CPU}"
    assert (st["phase"], st["reason"]) == ("Failed", "OutOfcpu")
    assert st["message"] == f"Pod was rejected: {message}"
    assert "containerStatuses" not in st and st["startTime"]
    assert _warnings(c, "big") == [("OutOfcpu", message)]
    ev = next(e for e in c.events(involved="big") if e["reason"] == "OutOfcpu")
    assert ev["source"] == {"component": "kubelet", "host": node}


def test_admission_counts_the_requests_of_pods_already_admitted_on_the_node():
    c, node = _cluster()
    c.apply(_pod("first", node, "1"))
    c.apply(_pod("second", node, "1"))
    c.run()
    assert c.get("Pod", "first")["status"]["phase"] == "Running"
    st = c.get("Pod", "second")["status"]
    assert st["reason"] == "OutOfcpu"
    assert st["message"] == ("Pod was rejected: Node didn't have enough resource: cpu, requested: 1000, "
                             f"used: 1000, capacity: {G7_LARGE_CPU}")


def test_a_finished_or_rejected_pod_holds_nothing_on_the_node():
    """filterOutInactivePods: a rejected (Failed) pod is not among the active pods, so the next
    pod that fits is admitted; and the scheduler frees what the failed pod held."""
    c, node = _cluster()
    c.apply(_pod("big", node, "3"))
    c.run()
    c.apply(_pod("fits", node, "1500m"))
    c.apply(_pod("scheduled", None, "400m"))
    c.run()
    assert c.get("Pod", "fits")["status"]["phase"] == "Running"
    assert c.get("Pod", "scheduled")["spec"]["nodeName"] == node
    assert c.get("Pod", "scheduled")["status"]["phase"] == "Running"


def test_memory_and_pod_count_are_checked_in_upstream_order():
    c, node = _cluster()
    huge = _pod("huge", node)
    huge["spec"]["containers"][0]["resources"] = {"requests": {"memory": "64Gi", "cpu": "5"}}
    c.apply(huge)
    c.run()
    st = c.get("Pod", "huge")["status"]
    # noderesources.Fits checks cpu before memory; only the first failure is reported.
    assert st["reason"] == "OutOfcpu"
    c2, node2 = _cluster()
    mem = _pod("mem", node2)
    mem["spec"]["containers"][0]["resources"] = {"requests": {"memory": "64Gi"}}
    c2.apply(mem)
    c2.run()
    st = c2.get("Pod", "mem")["status"]
    assert st["reason"] == "OutOfmemory"
    cap = resource_amount("memory", c2.get("Node", node2, None)["status"]["allocatable"]["memory"])
    assert st["message"] == (f"Pod was rejected: Node didn't have enough resource: memory, requested: "
                             f"{64 * 2**30}, used: 0, capacity: {cap}")


def test_a_full_node_rejects_the_next_pod_out_of_pods():
    c, node = _cluster()
    alloc_pods = int(c.get("Node", node, None)["status"]["allocatable"]["pods"])
    c.apply([_pod(f"p{i}", node) for i in range(alloc_pods + 1)])
    c.run()
    last = c.get("Pod", f"p{alloc_pods}")["status"]
    assert (last["phase"], last["reason"]) == ("Failed", "OutOfpods")
    assert last["message"] == (f"Pod was rejected: Node didn't have enough resource: pods, requested: 1, "
                               f"used: {alloc_pods}, capacity: {alloc_pods}")
    assert c.get("Pod", "p0")["status"]["phase"] == "Running"


def test_a_bound_pod_whose_node_selector_does_not_match_is_rejected_node_affinity():
    c, node = _cluster()
    c.apply(_pod("picky", node, nodeSelector={"disktype": "ssd"}))
    c.run()
    st = c.get("Pod", "picky")["status"]
    desc = "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector"
    assert (st["phase"], st["reason"]) == ("Failed", "NodeAffinity")
    assert st["message"] == f"Pod was rejected: {desc}"
    assert _warnings(c, "picky") == [("NodeAffinity", desc)]


def test_only_an_untolerated_noexecute_taint_rejects_a_bound_pod():
    c, node = _cluster(taints=[{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}])
    c.apply(_pod("noschedule-ok", node))
    c.run()
    assert c.get("Pod", "noschedule-ok")["status"]["phase"] == "Running"
    # With a NoExecute taint the taint eviction controller deletes the pod at the same instant, so
    # the kubelet's verdict is checked on its own.
    c2, node2 = _cluster(taints=[{"key": "dedicated", "value": "batch", "effect": "NoExecute"}])
    pod = c2.api.admit(_pod("evicted", node2))
    refused = Admission().check(pod, PodInfo.from_pod(pod), c2.get("Node", node2, None))
    desc = "Predicate TaintToleration failed: node(s) had taints that the pod didn't tolerate"
    assert refused == Rejection("TaintToleration", desc)
    assert refused.status_message == f"Pod was rejected: {desc}"
    tolerant = c2.api.admit(_pod("tolerant", node2, tolerations=[{"key": "dedicated", "operator": "Exists"}]))
    assert Admission().check(tolerant, PodInfo.from_pod(tolerant), c2.get("Node", node2, None)) is None


def test_a_host_port_taken_by_an_admitted_pod_rejects_the_next_node_ports():
    c, node = _cluster()
    ported = _pod("a", node)
    ported["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    second = _pod("b", node)
    second["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    c.apply(ported)
    c.apply(second)
    c.run()
    assert c.get("Pod", "a")["status"]["phase"] == "Running"
    st = c.get("Pod", "b")["status"]
    assert (st["reason"], st["message"]) == (
        "NodePorts", "Pod was rejected: Predicate NodePorts failed: node(s) didn't have free ports for the "
                     "requested pod ports")


def test_an_extended_resource_the_node_does_not_advertise_is_not_checked():
    """removeMissingExtendedResources: cluster-level extended resources are the scheduler's business."""
    c, node = _cluster()
    gpu = _pod("gpu", node)
    gpu["spec"]["containers"][0]["resources"] = {"requests": {"example.com/gpu": "1"},
                                                 "limits": {"example.com/gpu": "1"}}
    c.apply(gpu)
    c.run()
    assert c.get("Pod", "gpu")["status"]["phase"] == "Running"


def test_scheduled_pods_are_admitted_as_before():
    c, node = _cluster(instance_type="ecs.g7.xlarge")
    c.apply([_pod(f"s{i}", None, "1") for i in range(4)])
    c.run()
    phases = sorted((p["metadata"]["name"], p["status"]["phase"]) for p in c.list("Pod"))
    assert phases == [("s0", "Running"), ("s1", "Running"), ("s2", "Running"), ("s3", "Pending")]
    assert not [e for e in c.events() if e["reason"].startswith("OutOf")]

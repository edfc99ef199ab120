"""ACK's Sandboxed-Container (runV) node pools: ECS Bare Metal only, the pool label the ``runv``
RuntimeClass selects, and ACK's published pod-overhead formula."""

from __future__ import annotations

import pytest

import labkit
from labkit.cloud import ecs, sandboxed

MIB = 1024**2


def runv_pod(name: str, memory: str = "256Mi") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "runtimeClassName": "runv",
            "containers": [{"name": "app", "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "200m", "memory": memory}}}],
        },
    }


def test_the_bare_metal_row_is_the_published_ebmg7_figures():
    it = ecs.instance_type("ecs.ebmg7.32xlarge")
    assert (it.vcpu, it.memory_gib, it.max_enis, it.private_ips_per_eni) == (128, 512, 32, 20)
    assert it.bare_metal and not ecs.instance_type("ecs.g7.xlarge").bare_metal
    assert it.source.startswith("https://help.aliyun.com/")
    assert ecs.max_pods(it) == (32 - 1) * 20


@pytest.mark.parametrize("instance_type", ["ecs.g7.xlarge", "ecs.c7.2xlarge"])
def test_a_runv_pool_on_an_ordinary_ecs_vm_is_refused_and_leaves_nothing(instance_type):
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as err:
        c.add_node_pool("sandboxed", instance_type, 1, runtime_handlers=["runv"])
    assert err.value.path == "instance_type" and "ECS Bare Metal" in str(err.value)
    assert c.list("Node") == [] and "sandboxed" not in c.cloud_provider.pools
    with pytest.raises(labkit.ManifestError):  # the autoscaled template goes through the same rule
        c.add_node_pool("sandboxed", instance_type, 0, runtime_handlers=["runv"], min_size=0, max_size=3)


@pytest.mark.parametrize(
    ("request_", "mib"),
    [("0", 64), ("256Mi", 70), ("1Gi", 85), ("4Gi", 146), ("22528Mi", 512), ("64Gi", 512)],
)
def test_the_overhead_follows_acks_formula(request_, mib):
    # 64 MiB + 2 % of the request, in [64, 512] MiB, rounded up to a whole MiB
    assert sandboxed.overhead_memory(request_) == mib * MIB


def test_a_bad_request_quantity_names_the_field():
    with pytest.raises(labkit.ManifestError) as err:
        sandboxed.overhead_memory("1K")
    assert err.value.path == "request"


def test_a_runv_pod_lands_on_the_bare_metal_pool_with_its_overhead():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("general", "ecs.g7.xlarge", 2)
    c.add_node_pool("sandboxed", "ecs.ebmg7.32xlarge", 1, runtime_handlers=["runv"])
    c.apply(sandboxed.runtime_class("256Mi"))
    c.apply(runv_pod("tenant-a"))
    c.run()
    p = c.get("Pod", "tenant-a")
    node = c.get("Node", p["spec"]["nodeName"])
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "ecs.ebmg7.32xlarge"
    assert node["metadata"]["labels"][ecs.RUNV_NODE_LABEL[0]] == ecs.RUNV_NODE_LABEL[1]
    assert {h["name"] for h in node["status"]["runtimeHandlers"]} == {"runc", "runv"}
    assert p["spec"]["overhead"] == {"memory": "70Mi"}
    assert p["spec"]["nodeSelector"] == {ecs.RUNV_NODE_LABEL[0]: ecs.RUNV_NODE_LABEL[1]}
    assert p["status"]["phase"] == "Running"
    general = [n for n in c.list("Node") if n["metadata"]["name"] != node["metadata"]["name"]]
    assert all(ecs.RUNV_NODE_LABEL[0] not in n["metadata"]["labels"] for n in general)

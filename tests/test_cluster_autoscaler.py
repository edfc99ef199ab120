"""The cluster autoscaler (cluster-autoscaler 1.36.1, spec 12.3-12.6) over autoscaled ACK node pools."""

from __future__ import annotations

import re

import pytest
import yaml

import labkit
from labkit.cloud.ecs import nodepool_id
from labkit.cloud.nodepools import PROVISION_DELAY_S
from labkit.controllers.cluster_autoscaler import DEFAULTS, go_duration

CA = "cluster-autoscaler"


def deployment(
    name: str,
    replicas: int,
    cpu: str = "1",
    memory: str = "1Gi",
    namespace: str = "default",
    node_selector: dict | None = None,
    tolerations: list | None = None,
) -> dict:
    spec: dict = {
        "containers": [
            {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu, "memory": memory}}}
        ]
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def ca_events(c, reason: str) -> list[dict]:
    return [e for e in c.events() if e["reason"] == reason and e["source"]["component"] == CA]


def pool_nodes(c, pool: str) -> list[str]:
    return [
        n["metadata"]["name"]
        for n in c.list("Node", label_selector=f"alibabacloud.com/nodepool-id={nodepool_id(pool)}")
    ]


def test_flag_defaults_are_upstreams():
    assert DEFAULTS["scan_interval"] == 10 and DEFAULTS["expander"] == "least-waste"
    assert DEFAULTS["scale_down_utilization_threshold"] == 0.5
    assert DEFAULTS["scale_down_unneeded_time"] == 600 and DEFAULTS["scale_down_delay_after_add"] == 600
    assert DEFAULTS["max_node_provision_time"] == 900 and DEFAULTS["expendable_pods_priority_cutoff"] == -10
    assert go_duration(900) == "15m0s" and go_duration(3600) == "1h0m0s" and go_duration(30) == "30s"


def test_a_cluster_without_autoscaled_pools_runs_no_autoscaler_loop():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("base", "ecs.g7.xlarge", 2)
    c.run(until=100)
    assert not c.cluster_autoscaler.started and c.cluster_autoscaler.loops == 0
    with pytest.raises(KeyError):
        c.get("ConfigMap", "cluster-autoscaler-status", "kube-system")


def test_pending_pods_scale_up_the_group_that_fits_after_scan_and_provisioning_delay_then_schedule():
    c = labkit.Cluster(seed=3)
    c.add_node_pool("base", "ecs.g7.xlarge", 1)
    # a tainted pool the pods do not tolerate: its template fails TaintToleration
    c.add_node_pool(
        "gpu-like",
        "ecs.g7.xlarge",
        0,
        min_size=0,
        max_size=3,
        taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
    )
    c.add_node_pool("elastic", "ecs.g7.xlarge", 0, min_size=0, max_size=5)
    c.apply(deployment("web", 6))  # 3 fit the base node (4 vCPU), 3 wait
    c.run(until=5)
    assert len([p for p in c.list("Pod") if not p["spec"].get("nodeName")]) == 3
    c.run(until=11)
    up = ca_events(c, "ScaledUpGroup")
    assert [e["message"] for e in up] == [
        "Scale-up: setting group elastic size to 1 instead of 0 (max: 5)",
        "Scale-up: group elastic size set to 1 instead of 0 (max: 5)",
    ]
    assert up[0]["involvedObject"]["kind"] == "ConfigMap"
    assert up[0]["involvedObject"]["name"] == "cluster-autoscaler-status"
    triggered = ca_events(c, "TriggeredScaleUp")
    assert len(triggered) == 3
    assert {e["message"] for e in triggered} == {"pod triggered scale-up: [{elastic 0->1 (max: 5)}]"}
    assert pool_nodes(c, "elastic") == []  # still booting
    c.run(until=10 + PROVISION_DELAY_S[1] + 5)
    (node,) = pool_nodes(c, "elastic")
    assert pool_nodes(c, "gpu-like") == []
    created = [e for e in c.events() if e["reason"] == "Scheduled" and node in e["message"]]
    assert len(created) == 3
    inst = c.cloud_provider.instances[node]
    assert PROVISION_DELAY_S[0] <= inst.registered_s - inst.requested_s <= PROVISION_DELAY_S[1]
    c.run(until=c.now + 30)
    assert all(p["status"]["phase"] == "Running" for p in c.list("Pod"))


def test_settle_runs_until_the_scale_up_has_landed():
    c = labkit.Cluster(seed=4)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 0, min_size=0, max_size=4)
    c.apply(deployment("web", 5))
    c.run()
    assert len(pool_nodes(c, "elastic")) == 2
    assert all(p["status"]["phase"] == "Running" for p in c.list("Pod"))


def test_max_size_reached_gives_not_trigger_scale_up_with_upstream_reasons():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 1, min_size=1, max_size=1)
    c.add_node_pool("small", "ecs.g7.large", 0, min_size=0, max_size=2)
    c.apply(deployment("big", 2, cpu="3"))  # one fits the full pool's node; the other fits no template
    c.run()
    msgs = {e["message"] for e in ca_events(c, "NotTriggerScaleUp")}
    assert msgs == {"pod didn't trigger scale-up: 1 Insufficient cpu, 1 max node group size reached"}
    assert c.cloud_provider.pools["elastic"].target_size() == 1
    assert len(pool_nodes(c, "elastic")) == 1 and pool_nodes(c, "small") == []
    assert not ca_events(c, "ScaledUpGroup")


def test_least_waste_picks_the_less_wasteful_pool():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("large", "ecs.g7.4xlarge", 0, min_size=0, max_size=3)
    c.add_node_pool("small", "ecs.g7.xlarge", 0, min_size=0, max_size=3)
    c.apply(deployment("web", 3))  # 3 x (1 vCPU, 1 GiB): waste 0.25+0.81 on xlarge, 0.81+0.95 on 4xlarge
    c.run(until=15)
    (first, _) = ca_events(c, "ScaledUpGroup")
    assert first["message"] == "Scale-up: setting group small size to 1 instead of 0 (max: 3)"


@pytest.mark.parametrize(
    "expander, chosen", [("most-pods", "large"), ("price", "small"), ("priority", "large")]
)
def test_other_expanders(expander, chosen):
    c = labkit.Cluster(seed=0)
    c.cluster_autoscaler.configure(expander=expander)
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cluster-autoscaler-priority-expander", "namespace": "kube-system"},
            "data": {"priorities": "10:\n  - ^small$\n50:\n  - ^lar.*\n"},
        }
    )
    c.add_node_pool("large", "ecs.g7.4xlarge", 0, min_size=0, max_size=1)
    c.add_node_pool("small", "ecs.g7.xlarge", 0, min_size=0, max_size=1)
    c.apply(deployment("web", 8))  # one 4xlarge holds all 8; one xlarge holds 3
    c.run(until=15)
    (first, _) = ca_events(c, "ScaledUpGroup")
    assert f"group {chosen} size to 1" in first["message"]


def test_configure_refuses_unknown_flags_and_expanders():
    c = labkit.Cluster(seed=0)
    with pytest.raises(ValueError, match="did you mean scan_interval"):
        c.cluster_autoscaler.configure(scan_intervall=5)
    with pytest.raises(ValueError, match="--expander"):
        c.cluster_autoscaler.configure(expander="cheapest")
    assert (
        c.cluster_autoscaler.configure({"scale-down-unneeded-time": 300})["scale_down_unneeded_time"] == 300
    )


def scaled_up_cluster(seed: int = 0):
    c = labkit.Cluster(seed=seed)
    c.add_node_pool("base", "ecs.g7.2xlarge", 1)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 0, min_size=0, max_size=3)
    c.apply(deployment("fill", 1, cpu="7"))  # the base node is full
    c.apply(deployment("web", 2))
    c.run(until=120)
    (node,) = pool_nodes(c, "elastic")
    return c, node


def test_empty_node_is_removed_after_10_min_unneeded_and_not_within_10_min_of_the_scale_up():
    c, node = scaled_up_cluster()
    c.scale("Deployment", "web", 0)
    c.run(until=600)  # the node is empty and unneeded, but the scale-up (t=10) was < 10 min ago
    assert pool_nodes(c, "elastic") == [node]
    assert node in c.cluster_autoscaler.unneeded
    assert c.cluster_autoscaler.status()["nodeGroups"][0]["scaleDown"] == {
        "status": "CandidatesPresent",
        "candidates": 1,
        "lastProbeTime": c.cluster_autoscaler.status()["nodeGroups"][0]["scaleDown"]["lastProbeTime"],
        "lastTransitionTime": c.cluster_autoscaler.status()["nodeGroups"][0]["scaleDown"][
            "lastTransitionTime"
        ],
    }
    since = c.cluster_autoscaler.unneeded_since[node]
    c.run(until=since + 590)
    assert pool_nodes(c, "elastic") == [node]
    c.run()
    assert pool_nodes(c, "elastic") == []
    assert c.cloud_provider.pools["elastic"].target_size() == 0
    (ev,) = ca_events(c, "ScaleDownEmpty")
    assert ev["message"] == f'Scale-down: removing empty node "{node}"'
    assert ev["lastTimestamp"] >= labkit_time(since + 600)
    node_events = [
        e["message"] for e in c.events() if e["involvedObject"]["name"] == node and e["reason"] == "ScaleDown"
    ]
    assert node_events == [
        "marked the node as toBeDeleted/unschedulable",
        "nodes removed by cluster autoscaler",
    ]


def labkit_time(seconds: float) -> str:
    from labkit.api.store import timestamp

    return timestamp(seconds)


def test_underused_node_is_drained_and_its_pods_recreated_elsewhere():
    c, node = scaled_up_cluster()
    c.scale("Deployment", "fill", 0)  # base has room now
    c.scale("Deployment", "web", 1)  # 1 of 3.92 vCPU: below the 0.5 threshold (2 pods would be 0.51)
    c.run()
    assert pool_nodes(c, "elastic") == []
    (ev,) = [e for e in ca_events(c, "ScaleDown") if e["involvedObject"]["kind"] == "ConfigMap"]
    assert re.fullmatch(
        rf"Scale-down: removing node {re.escape(node)}, utilization: \{{0\.\d+ 0\.\d+ 0 cpu 0\.\d+\}}, "
        r"pods to reschedule: default/web-\w+-\w+",
        ev["message"],
    ), ev["message"]
    evicted = [e for e in c.events() if e["reason"] == "ScaleDown" and e["involvedObject"]["kind"] == "Pod"]
    assert [e["message"] for e in evicted] == ["deleting pod for node scale down"]
    web = c.list("Pod", label_selector="app=web")
    assert len(web) == 1 and all(p["spec"]["nodeName"] == "cn-hangzhou.10.0.0.1" for p in web)
    assert all(p["status"]["phase"] == "Running" for p in web)


def test_a_bare_pod_blocks_scale_down():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 2, min_size=0, max_size=3)
    a, b = pool_nodes(c, "elastic")
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "bare"},
            "spec": {
                "nodeName": a,
                "containers": [
                    {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m"}}}
                ],
            },
        }
    )
    c.run(until=1500)
    assert pool_nodes(c, "elastic") == [a]
    assert c.cluster_autoscaler.unremovable[a] == "default/bare is not replicated"


def test_kube_system_pods_block_scale_down():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 1, min_size=0, max_size=3)
    c.apply(deployment("addon", 1, cpu="100m", namespace="kube-system"))
    c.run(until=1500)
    (node,) = pool_nodes(c, "elastic")
    (pod,) = c.list("Pod", "kube-system")
    assert c.cluster_autoscaler.unremovable[node] == (
        f"non-daemonset, non-mirrored, non-pdb-assigned kube-system pod present: {pod['metadata']['name']}"
    )


def test_group_never_goes_below_min_size():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 3, min_size=2, max_size=3)
    c.run()
    assert len(pool_nodes(c, "elastic")) == 2
    assert c.cloud_provider.pools["elastic"].target_size() == 2
    assert set(c.cluster_autoscaler.unremovable.values()) == {"NodeGroupMinSizeReached"}


def test_status_configmap_shape():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 1, min_size=1, max_size=4)
    c.apply(deployment("web", 4))
    c.run(until=25)
    cm = c.get("ConfigMap", "cluster-autoscaler-status", "kube-system")
    stamp = cm["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/last-updated"]
    assert stamp == "2026-01-01 00:00:20 +0000 UTC"
    text = cm["data"]["status"]
    assert text.startswith("time: 2026-01-01 00:00:20 +0000 UTC\nautoscalerStatus: Running\nclusterWide:\n")
    assert 'lastProbeTime: "2026-01-01T00:00:20Z"' in text
    doc = yaml.safe_load(text)
    assert list(doc) == ["time", "autoscalerStatus", "clusterWide", "nodeGroups"]
    assert list(doc["clusterWide"]) == ["health", "scaleUp", "scaleDown"]
    (g,) = doc["nodeGroups"]
    assert list(g) == ["name", "health", "scaleUp", "scaleDown"]
    assert g["name"] == "elastic"
    assert list(g["health"]) == [
        "status",
        "nodeCounts",
        "cloudProviderTarget",
        "minSize",
        "maxSize",
        "lastProbeTime",
        "lastTransitionTime",
    ]
    assert g["health"]["nodeCounts"] == {
        "registered": {"total": 1, "ready": 1, "notStarted": 0},
        "longUnregistered": 0,
        "unregistered": 1,
    }
    assert (g["health"]["cloudProviderTarget"], g["health"]["minSize"], g["health"]["maxSize"]) == (2, 1, 4)
    assert g["scaleUp"]["status"] == "InProgress" and doc["clusterWide"]["scaleUp"]["status"] == "InProgress"
    assert g["scaleDown"]["status"] == "NoCandidates"
    assert doc["clusterWide"]["health"]["status"] == "Healthy"


def test_nodes_that_never_register_time_out_and_the_group_backs_off():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 0, min_size=0, max_size=3)
    c.cloud_provider.pools["elastic"].set_out_of_stock()
    c.apply(deployment("web", 1))
    c.run()
    (timeout,) = ca_events(c, "ScaleUpTimedOut")
    assert timeout["type"] == "Warning"
    assert timeout["message"] == "Nodes added to group elastic failed to register within 15m0s"
    assert c.cloud_provider.pools["elastic"].target_size() == 0
    assert c.cluster_autoscaler.status()["nodeGroups"][0]["scaleUp"]["status"] == "Backoff"
    c.run(until=c.now + 30)
    msgs = {e["message"] for e in ca_events(c, "NotTriggerScaleUp")}
    assert "pod didn't trigger scale-up: 1 in backoff after failed scale-up" in msgs


def test_expendable_pods_do_not_trigger_scale_up():
    c = labkit.Cluster(seed=0)
    c.apply(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "filler"},
            "value": -20,
        }
    )
    c.add_node_pool("elastic", "ecs.g7.xlarge", 0, min_size=0, max_size=3)
    d = deployment("web", 1)
    d["spec"]["template"]["spec"]["priorityClassName"] = "filler"
    c.apply(d)
    c.run(until=60)
    assert not ca_events(c, "ScaledUpGroup") and not ca_events(c, "NotTriggerScaleUp")


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"count": 0, "min_size": 2, "max_size": 3}, "count"),
        ({"count": 5, "min_size": 0, "max_size": 3}, "count"),
        ({"count": 1, "min_size": 3, "max_size": 2}, "min_size"),
        ({"count": 1, "min_size": -1, "max_size": 2}, "min_size"),
        ({"count": 1, "min_size": 0, "max_size": True}, "max_size"),
        ({"count": 1, "min_size": 0, "max_size": "3"}, "max_size"),
        ({"count": 1, "max_size": 3}, "min_size"),
    ],
)
def test_bad_node_pool_input_names_the_parameter(kwargs, param):
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as err:
        c.add_node_pool("elastic", "ecs.g7.xlarge", **kwargs)
    assert err.value.path == param
    assert c.list("Node") == [] and "elastic" not in c.cloud_provider.pools


def test_an_autoscaled_pool_cannot_be_added_twice_or_with_an_unknown_type():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("elastic", "ecs.g7.xlarge", 0, min_size=0, max_size=2)
    with pytest.raises(labkit.ManifestError) as err:
        c.add_node_pool("elastic", "ecs.g7.xlarge", 1)
    assert err.value.path == "name"
    with pytest.raises(labkit.ManifestError) as err:
        c.add_node_pool("typo", "ecs.g7.xlage", 0, min_size=0, max_size=2)
    assert err.value.path == "instance_type"

"""ECS instance types, ACK node sizing, and the v1 Node objects built from them (labkit.cloud)."""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import kubernetes_validate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes.utils import parse_quantity

import labkit
import labkit.cloud
from labkit.cloud import ecs
from labkit.cloud.ecs import (
    MAX_NODES_PER_POOL_ZONE,
    MAX_POOL_ZONES,
    _pool_node_ip,
    allocatable,
    instance_type,
    instance_types,
    max_pods,
    node_manifest,
    nodepool_id,
    pool_nodes,
    region_of,
    reserved,
    short_node_label,
    zones,
)
from labkit.errors import ManifestError

MIB = 1024**2
GIB = 1024**3
SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge")
RATIO = {"g": 4, "c": 2, "r": 8}  # GiB of memory per vCPU, by family letter
ALL = [it.name for it in instance_types()]
# Types a Terway ACK cluster accepts (more than 11 ENI pods), i.e. those node_manifest builds.
JOINABLE = [name for name in ALL if max_pods(name) > 11]
HANGZHOU = ["cn-hangzhou-g", "cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"]


# --- the data ------------------------------------------------------------------------------------


def test_catalogue_has_every_family_and_size_the_lab_uses():
    names = set(ALL)
    for family in ("g7", "g8i", "c7", "c8i", "r7", "r8i"):
        assert {f"ecs.{family}.{size}" for size in SIZES} <= names
    assert len([n for n in names if n.startswith("ecs.u1-")]) >= 3
    assert len([n for n in names if n.startswith("ecs.gn7i-")]) >= 2


@pytest.mark.parametrize("name", ALL)
def test_vcpu_to_memory_ratio_matches_the_family(name):
    """g is 1:4, c is 1:2, r is 1:8 (bare-metal ebmg/ebmc/ebmr too); u1-c1mN says its ratio (1:N) in
    its name."""
    it = instance_type(name)
    family = it.family.removeprefix("ebm")
    if family[0] in RATIO and family[1].isdigit():
        assert it.memory_gib == it.vcpu * RATIO[family[0]]
    elif it.family == "u1":
        assert it.memory_gib == it.vcpu * int(re.search(r"c1m(\d+)", name).group(1))
    else:
        assert it.family == "gn7i" and it.gpu >= 1 and it.gpu_model == "NVIDIA A10"


@pytest.mark.parametrize("name", ALL)
def test_every_row_is_consistent_and_sourced(name):
    it = instance_type(name)
    assert name.startswith(f"ecs.{it.family}.") or name.startswith(f"ecs.{it.family}-")
    assert str(it.generation) == re.search(r"\d", it.family).group(0)
    assert it.vcpu > 0 and it.memory_gib > 0 and it.gpu >= 0
    assert it.max_enis is not None and it.max_enis >= 2
    assert it.private_ips_per_eni is not None and it.private_ips_per_eni >= 6
    assert it.source.startswith("https://help.aliyun.com/")
    assert it.family in it.source or (it.bare_metal and "bare-metal-instance-families" in it.source)
    datetime.date.fromisoformat(it.price_date)
    assert it.price_cny_per_hour is None or (it.price_cny_per_hour > 0 and it.price_region == "cn-hangzhou")


def test_eni_figures_never_shrink_as_the_type_grows():
    for family in ("g7", "g8i", "c7", "c8i", "r7", "r8i"):
        row = [instance_type(f"ecs.{family}.{size}") for size in SIZES]
        assert [it.max_enis for it in row] == sorted(it.max_enis for it in row)
        assert [it.private_ips_per_eni for it in row] == sorted(it.private_ips_per_eni for it in row)


def test_zones_file_has_the_regions_the_lab_uses():
    assert zones("cn-hangzhou") == HANGZHOU
    assert len(zones("cn-beijing")) >= 3 and len(zones("cn-shanghai")) >= 3
    assert all(region_of(zone) == zone.rsplit("-", 1)[0] for zone in zones())


def test_unknown_instance_type_error_lists_close_matches():
    with pytest.raises(ManifestError) as caught:
        instance_type("ecs.g7.xlage")
    assert isinstance(caught.value, ValueError)
    assert caught.value.path == "instance_type" and caught.value.value == "ecs.g7.xlage"
    assert "ecs.g7.xlarge" in str(caught.value)


def test_unknown_zone_is_rejected_with_suggestions():
    with pytest.raises(ManifestError, match="cn-hangzhou-h"):
        region_of("cn-hangzou-h")


# --- node sizing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_allocatable_is_positive_and_below_capacity(name):
    it = instance_type(name)
    free, held = allocatable(name), reserved(name)
    assert 0 < free["cpu"] < it.vcpu * 1000
    assert 0 < free["memory"] < it.memory_bytes
    assert free["memory"] == it.memory_bytes - held["memory"] - 100 * MIB  # evictionHard memory.available


def test_reservation_for_2_vcpu_8_gib_matches_published_tiers():
    """2 cores: 6% + 1% = 70m; 8 GiB: 25% of 4 GiB + 20% of 4 GiB = 1843.2 MiB -> 1843 MiB."""
    assert reserved("ecs.g7.large") == {"cpu": 70, "memory": 1843 * MIB}
    assert allocatable("ecs.g7.large") == {"cpu": 1930, "memory": (8192 - 1843 - 100) * MIB}


def test_reservation_for_8_vcpu_32_gib_matches_published_tiers():
    """8 cores: 80m + 4 x 0.25% = 90m; 32 GiB: 1843.2 + 819.2 + 16 x 61.44 = 3645.44 MiB -> 3645 MiB."""
    assert reserved("ecs.g7.2xlarge") == {"cpu": 90, "memory": 3645 * MIB}
    assert reserved("ecs.c7.xlarge")["cpu"] == 80


def test_reservation_grows_with_the_instance_within_a_family():
    for family in ("g8i", "c8i", "r8i"):
        held = [reserved(f"ecs.{family}.{size}") for size in SIZES]
        assert [h["cpu"] for h in held] == sorted(h["cpu"] for h in held)
        assert [h["memory"] for h in held] == sorted(h["memory"] for h in held)


def test_terway_pod_limit_follows_ack_formula():
    """ACK's documented example: ecs.g7.4xlarge has 8 ENIs x 30 IPs, so (8 - 1) x 30 = 210 pods."""
    assert max_pods("ecs.g7.4xlarge") == 210
    assert max_pods("ecs.g7.xlarge", "terway") == (4 - 1) * 15


def test_flannel_pod_limit_is_the_cluster_setting():
    assert max_pods("ecs.g7.4xlarge", "flannel") == 64
    assert max_pods("ecs.g7.4xlarge", "flannel", pods_per_node=128) == 128


def test_unknown_network_plugin_is_rejected():
    with pytest.raises(ManifestError, match="terway, flannel"):
        max_pods("ecs.g7.xlarge", "calico")


def test_terway_node_too_small_for_ack_is_rejected_but_flannel_accepts_it():
    """u1-c1m4.large has 2 ENIs x 6 IPs: 6 Terway pods, and ACK only adds nodes with more than 11."""
    with pytest.raises(ManifestError, match="more than 11"):
        node_manifest("cn-hangzhou.10.0.0.1", "ecs.u1-c1m4.large", "cn-hangzhou-h")
    node = node_manifest("cn-hangzhou.10.0.0.1", "ecs.u1-c1m4.large", "cn-hangzhou-h", network="flannel")
    assert node["status"]["capacity"]["pods"] == "64"


# --- quantities ----------------------------------------------------------------------------------


def test_quantities_are_written_in_canonical_kubernetes_form():
    assert ecs._cpu(4000) == "4" and ecs._cpu(3920) == "3920m"
    assert ecs._binary_si(16 * GIB) == "16Gi" and ecs._binary_si(13622 * MIB) == "13622Mi"
    assert ecs._binary_si(7925980 * 1024) == "7925980Ki"  # ACK's sample capacity.memory
    assert ecs._binary_si(114022843818) == "114022843818"  # not divisible by 1024: plain bytes
    assert ecs._decimal_si(210) == "210" and ecs._decimal_si(2000) == "2k"


def test_ephemeral_storage_threshold_matches_ack_sample_to_the_byte():
    """kubelet scales by a float32 10%; ACK's sample shows 123722704Ki -> 114022843818 bytes."""
    capacity = 123722704 * 1024
    assert capacity - ecs._percentage_of(capacity, "10%") == 114022843818


@pytest.mark.parametrize("name", JOINABLE)
def test_node_quantities_round_trip_through_kubernetes_parse_quantity(name):
    it = instance_type(name)
    status = node_manifest("cn-hangzhou.10.9.0.1", name, "cn-hangzhou-h")["status"]
    cap, alloc, free = status["capacity"], status["allocatable"], allocatable(name)
    assert parse_quantity(cap["cpu"]) == it.vcpu
    assert parse_quantity(cap["memory"]) == it.memory_bytes
    assert parse_quantity(alloc["cpu"]) == Decimal(free["cpu"]) / 1000
    assert parse_quantity(alloc["memory"]) == free["memory"]
    assert parse_quantity(cap["pods"]) == parse_quantity(alloc["pods"]) == max_pods(name)
    assert parse_quantity(alloc["ephemeral-storage"]) < parse_quantity(cap["ephemeral-storage"])
    assert parse_quantity(cap.get("nvidia.com/gpu", "0")) == it.gpu


# --- Node objects --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", JOINABLE)
def test_node_manifest_passes_strict_schema_validation(name):
    node = node_manifest(
        "cn-beijing.10.1.0.7",
        name,
        "cn-beijing-h",
        labels={"workload": "web"},
        taints=[{"key": "dedicated", "value": "web", "effect": "NoSchedule"}],
        unschedulable=True,
        images=[{"names": ["docker.io/library/nginx:1.27"], "sizeBytes": 72_000_000}],
    )
    assert kubernetes_validate.validate(node, "1.36", strict=True) == "1.36"


def test_node_is_ready_with_the_kubelets_own_conditions():
    node = node_manifest("cn-hangzhou.10.0.0.1", "ecs.g7.xlarge", "cn-hangzhou-h", kubelet_version="v1.36.2")
    conditions = node["status"]["conditions"]
    assert [c["type"] for c in conditions] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert (conditions[-1]["status"], conditions[-1]["reason"]) == ("True", "KubeletReady")
    info = node["status"]["nodeInfo"]
    assert info["kubeletVersion"] == "v1.36.2"
    assert info["containerRuntimeVersion"].startswith("containerd://1.6.")
    assert (info["architecture"], info["operatingSystem"]) == ("amd64", "linux")


def test_node_labels_are_the_ones_an_ack_node_carries():
    node = node_manifest("cn-hangzhou.10.0.1.1", "ecs.g8i.xlarge", "cn-hangzhou-i", labels={"team": "a"})
    labels = node["metadata"]["labels"]
    assert labels == {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "ecs.g8i.xlarge",
        "beta.kubernetes.io/os": "linux",
        "failure-domain.beta.kubernetes.io/region": "cn-hangzhou",
        "failure-domain.beta.kubernetes.io/zone": "cn-hangzhou-i",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "cn-hangzhou.10.0.1.1",
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "ecs.g8i.xlarge",
        "team": "a",
        "topology.diskplugin.csi.alibabacloud.com/zone": "cn-hangzhou-i",
        "topology.kubernetes.io/region": "cn-hangzhou",
        "topology.kubernetes.io/zone": "cn-hangzhou-i",
    }
    assert list(labels) == sorted(labels)
    assert node["status"]["addresses"][0] == {"address": "10.0.1.1", "type": "InternalIP"}
    assert re.fullmatch(r"cn-hangzhou\.i-[0-9a-z]{20}", node["spec"]["providerID"])
    assert "unschedulable" not in node["spec"] and "taints" not in node["spec"]


def test_zone_outside_the_given_region_is_rejected():
    with pytest.raises(ManifestError, match="is in region cn-hangzhou"):
        node_manifest("n1", "ecs.g7.xlarge", "cn-hangzhou-h", region="cn-beijing")


def test_malformed_taint_is_rejected_with_its_field_path():
    with pytest.raises(ManifestError) as caught:
        node_manifest("n1", "ecs.g7.xlarge", "cn-hangzhou-h", taints=[{"key": "a", "effect": "NoExecut"}])
    assert caught.value.path == "spec.taints[0].effect"


def test_pool_nodes_are_named_the_ack_way_and_deterministically():
    first = pool_nodes("pool-a", "ecs.g7.xlarge", 3, ["cn-hangzhou-h", "cn-hangzhou-i"], cluster_id="c123")
    again = pool_nodes("pool-a", "ecs.g7.xlarge", 3, ["cn-hangzhou-h", "cn-hangzhou-i"], cluster_id="c123")
    assert first == again
    assert [n["metadata"]["name"] for n in first] == [
        "cn-hangzhou.10.0.0.1",
        "cn-hangzhou.10.0.1.1",
        "cn-hangzhou.10.0.0.2",
    ]
    labels = first[0]["metadata"]["labels"]
    assert re.fullmatch(r"np[0-9a-f]{32}", labels["alibabacloud.com/nodepool-id"])
    assert labels["ack.aliyun.com"] == "c123"
    assert len({n["spec"]["providerID"] for n in first}) == 3


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=12),
    start=st.integers(min_value=0, max_value=20),
    picked=st.lists(st.sampled_from(HANGZHOU), min_size=1, max_size=5, unique=True),
)
def test_pool_nodes_round_robin_over_zones_in_order(count, start, picked):
    nodes = pool_nodes("pool-b", "ecs.c7.2xlarge", count, picked, start_index=start)
    assert len(nodes) == count
    for i, node in zip(range(start, start + count), nodes):
        assert node["metadata"]["labels"]["topology.kubernetes.io/zone"] == picked[i % len(picked)]
    assert len({n["metadata"]["name"] for n in nodes}) == count


def test_scaling_a_pool_up_continues_the_same_nodes():
    zones_ = ["cn-shanghai-l", "cn-shanghai-m", "cn-shanghai-n"]
    whole = pool_nodes("pool-c", "ecs.r7.xlarge", 5, zones_)
    first_two = pool_nodes("pool-c", "ecs.r7.xlarge", 2, zones_)
    next_three = pool_nodes("pool-c", "ecs.r7.xlarge", 3, zones_, start_index=2)
    assert first_two + next_three == whole


def test_pools_with_different_indexes_never_share_a_node_name():
    a = pool_nodes("pool-a", "ecs.g7.xlarge", 4, ["cn-hangzhou-h"], pool_index=0)
    b = pool_nodes("pool-b", "ecs.g7.xlarge", 4, ["cn-hangzhou-h"], pool_index=1)
    assert not {n["metadata"]["name"] for n in a} & {n["metadata"]["name"] for n in b}


def test_a_pool_of_up_to_254_nodes_per_zone_keeps_the_names_of_its_own_slash_24s():
    """The first 254 nodes of each zone are 10.<pool>.<zone position>.<n>, the names notebooks use."""
    three = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
    nodes = pool_nodes("pool-a", "ecs.g7.xlarge", 3 * 254, three, pool_index=2)
    expected = [f"cn-hangzhou.10.2.{i % 3}.{i // 3 + 1}" for i in range(3 * 254)]
    assert [n["metadata"]["name"] for n in nodes] == expected
    assert nodes[0]["metadata"]["name"] == "cn-hangzhou.10.2.0.1"
    assert nodes[-1]["metadata"]["name"] == "cn-hangzhou.10.2.2.254"


def test_the_255th_node_of_a_zone_continues_sixteen_slash_24s_up():
    """Zone position z uses the third octets z, z + 16, z + 32, ...: the 255th node of the first of
    three zones is 10.2.16.1, and the second zone's 255th is 10.2.17.1 (the docstring's example)."""
    three = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
    nodes = pool_nodes("pool-a", "ecs.g7.xlarge", 3 * 254 + 5, three, pool_index=2)
    names = [n["metadata"]["name"] for n in nodes[3 * 254:]]
    assert names == ["cn-hangzhou.10.2.16.1", "cn-hangzhou.10.2.17.1", "cn-hangzhou.10.2.18.1",
                     "cn-hangzhou.10.2.16.2", "cn-hangzhou.10.2.17.2"]
    assert nodes[3 * 254]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "cn-hangzhou-h"
    assert nodes[3 * 254]["status"]["addresses"][0] == {"address": "10.2.16.1", "type": "InternalIP"}


def test_every_pool_zone_and_host_has_its_own_address_up_to_the_limits():
    """All 16 zone positions x 4,064 hosts of a pool give distinct IPs in 10.<pool>.0.0/16, none
    ending in .0 or .255, so no two zones of a pool (and no two pools) can ever collide."""
    hosts = range(1, MAX_NODES_PER_POOL_ZONE + 1)
    ips = {_pool_node_ip(7, z, h) for z in range(MAX_POOL_ZONES) for h in hosts}
    assert len(ips) == MAX_POOL_ZONES * MAX_NODES_PER_POOL_ZONE == 65_024
    octets = [tuple(map(int, ip.split("."))) for ip in ips]
    assert {o[:2] for o in octets} == {(10, 7)}
    assert all(0 <= o[2] <= 255 and 1 <= o[3] <= 254 for o in octets)


def test_a_5000_node_cluster_from_4_pools_of_1250_nodes_over_3_zones_has_distinct_names_and_ips():
    """ACK pools hold far more than 254 nodes a zone: 4 pools x 1,250 nodes build a 5,000-node
    cluster, every node with its own name, InternalIP and short explain label."""
    c = labkit.Cluster(seed=0)
    three = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
    for p in range(4):
        c.add_node_pool(f"pool-{p}", "ecs.g7.xlarge", 1250, zones=three)
    nodes = c.list("Node")
    names = {n["metadata"]["name"] for n in nodes}
    ips = {a["address"] for n in nodes for a in n["status"]["addresses"] if a["type"] == "InternalIP"}
    assert len(nodes) == len(names) == len(ips) == 5000
    assert all(name.startswith("cn-hangzhou.10.") for name in names)
    # The first node, a small-pool name notebooks use, and the last (zone i's 417th node of pool-3).
    assert {"cn-hangzhou.10.0.0.1", "cn-hangzhou.10.2.1.1", "cn-hangzhou.10.3.17.163"} <= names
    pools = {nodepool_id(f"pool-{p}"): f"pool-{p}" for p in range(4)}
    labels = {short_node_label(n, pools) for n in nodes}
    assert len(labels) == 5000
    assert "pool-1 · i · 10.1.17.1" in labels


def test_more_than_4064_nodes_in_one_zone_of_a_pool_is_a_clear_error():
    with pytest.raises(ManifestError, match="at most 4,064 nodes per zone fit one node pool") as caught:
        pool_nodes("pool-a", "ecs.g7.xlarge", 1, ["cn-hangzhou-h"], start_index=MAX_NODES_PER_POOL_ZONE)
    assert caught.value.path == "count" and caught.value.value == MAX_NODES_PER_POOL_ZONE + 1
    assert len(pool_nodes("pool-a", "ecs.g7.xlarge", 1, ["cn-hangzhou-h"],
                          start_index=MAX_NODES_PER_POOL_ZONE - 1)) == 1


def test_a_pool_over_more_than_16_zones_is_refused():
    with pytest.raises(ManifestError, match="at most 16 zones") as caught:
        pool_nodes("pool-a", "ecs.g7.xlarge", 1, HANGZHOU * 4)
    assert caught.value.path == "zones"


def test_a_pool_cannot_span_regions():
    with pytest.raises(ManifestError, match="one region"):
        pool_nodes("pool-x", "ecs.g7.xlarge", 2, ["cn-hangzhou-h", "cn-beijing-h"])


# --- the package ---------------------------------------------------------------------------------


def test_public_surface_is_documented():
    for name in labkit.cloud.__all__:
        assert f"``{name}``" in labkit.cloud.__doc__


def test_importing_labkit_cloud_stays_light():
    heavy = "{'kubernetes', 'kubernetes_validate', 'pandas', 'matplotlib'}"
    code = f"import sys, labkit.cloud; print(sorted({heavy} & set(sys.modules)))"
    repo = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert run.stdout.strip() == "[]"

"""VolumeBinding and VolumeZone: zonal disks pull pods to their zone.

Messages and reasons are upstream's (``volumebinding/binder.go``, ``volume_binding.go``,
``volumezone/volume_zone.go``); a PreFilter rejection replaces the per-node list in the
FailedScheduling message (spec section 8).
"""

from __future__ import annotations

from typing import Any

import labkit

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
DRIVER = "diskplugin.csi.alibabacloud.com"
NOT_HELPFUL = (
    "no new claims to deallocate, preemption: 0/3 nodes are available: "
    "3 Preemption is not helpful for scheduling."
)
NODE_CONFLICT = "node(s) had volume node affinity conflict"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ZONE_CONFLICT = "node(s) had no available volume zone"


def node(zone: str) -> dict[str, Any]:
    res = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": f"n-{zone}", "labels": {HOST: f"n-{zone}", ZONE: zone}},
        "status": {"capacity": dict(res), "allocatable": dict(res)},
    }


NODES = [node(z) for z in "abc"]


def claim(name: str, cls: str | None = None, size: str = "20Gi", **spec: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec},
    }
    if cls is not None:
        c["spec"]["storageClassName"] = cls
    return c


def volume(
    name: str, size: str = "20Gi", zone: str | None = None, cls: str = "", **meta: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "capacity": {"storage": size},
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": cls,
        "csi": {"driver": DRIVER, "volumeHandle": f"d-{name}"},
    }
    if zone:
        spec["nodeAffinity"] = {
            "required": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}
                ]
            }
        }
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, **meta}, "spec": spec}


def storage_class(
    name: str,
    mode: str | None = "WaitForFirstConsumer",
    zones: list[str] | None = None,
    provisioner: str = DRIVER,
    default: bool = False,
) -> dict[str, Any]:
    sc: dict[str, Any] = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": provisioner,
    }
    if mode:
        sc["volumeBindingMode"] = mode
    if zones:
        sc["allowedTopologies"] = [{"matchLabelExpressions": [{"key": ZONE, "values": zones}]}]
    if default:
        sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return sc


def pod(name: str, claim_name: str | None = None, **extra_volume: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    if claim_name is not None:
        spec["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]
    if extra_volume:
        spec["volumes"] = [{"name": "data", **extra_volume}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "db"}},
        "spec": spec,
    }


def cluster(*objects: dict[str, Any]) -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.apply(NODES)
    c.apply(list(objects))
    c.run(until=10)
    return c


def node_of(c: labkit.Cluster, name: str) -> str | None:
    return c.get("Pod", name)["spec"].get("nodeName")


def failed_scheduling(c: labkit.Cluster, name: str) -> list[str]:
    return [
        e["message"]
        for e in c.events()
        if e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == name
    ]


def verdicts(c: labkit.Cluster, name: str) -> dict[str, str]:
    return c.explain(name).frame()["filter"].to_dict()


# -- PreFilter rejections --------------------------------------------------------------------------------
def test_missing_claim_rejects_the_pod_before_any_node_is_examined() -> None:
    c = cluster(pod("db", "data"))
    assert failed_scheduling(c, "db") == [
        f'0/3 nodes are available: persistentvolumeclaim "data" not found. {NOT_HELPFUL}'
    ]


def test_unbound_immediate_claim_waits_for_the_pv_controller() -> None:
    """An Immediate class (the default binding mode) binds at claim creation, not for the pod."""
    c = cluster(storage_class("fast", mode=None), claim("data", "fast"), pod("db", "data"))
    assert failed_scheduling(c, "db") == [
        f"0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. {NOT_HELPFUL}"
    ]


def test_claim_prebound_to_a_missing_volume_is_not_bound() -> None:
    c = cluster(claim("data", "", volumeName="nowhere"), pod("db", "data"))
    assert failed_scheduling(c, "db") == [
        f"0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. {NOT_HELPFUL}"
    ]


def test_generic_ephemeral_volume_waits_for_its_claim() -> None:
    template = {
        "volumeClaimTemplate": {
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }
    }
    c = cluster(pod("db", ephemeral=template))
    assert failed_scheduling(c, "db") == [
        "0/3 nodes are available: waiting for ephemeral volume controller to create the "
        f'persistentvolumeclaim "db-data". {NOT_HELPFUL}'
    ]


def test_pods_without_claims_are_not_affected() -> None:
    c = cluster(pod("plain"))
    assert node_of(c, "plain") is not None


# -- bound claims ---------------------------------------------------------------------------------------
def test_claim_bound_to_a_zonal_volume_pins_the_pod_to_that_zone() -> None:
    c = cluster(volume("pv-b", zone="b"), claim("data", "", volumeName="pv-b"), pod("db", "data"))
    assert node_of(c, "db") == "n-b"
    assert verdicts(c, "db") == {"n-a": NODE_CONFLICT, "n-b": "", "n-c": NODE_CONFLICT}


def test_full_zone_leaves_a_bound_volume_unusable() -> None:
    tainted = {"spec": {"taints": [{"key": "maintenance", "value": "yes", "effect": "NoSchedule"}]}}
    c = labkit.Cluster(seed=0)
    c.apply([NODES[0], {**NODES[1], **tainted}, NODES[2]])
    c.apply([volume("pv-b", zone="b"), claim("data", "", volumeName="pv-b"), pod("db", "data")])
    c.run(until=10)
    assert failed_scheduling(c, "db") == [
        f"0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 {NODE_CONFLICT}. "
        "no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for "
        "scheduling."
    ]


def test_bound_claim_whose_volume_vanished_makes_every_node_unavailable() -> None:
    gone = claim("data", "", volumeName="pv-gone")
    gone["metadata"]["annotations"] = {"pv.kubernetes.io/bind-completed": "yes"}
    c = cluster(gone, pod("db", "data"))
    # VolumeBinding passes PreFilter (the claim says it is bound); VolumeZone's PreFilter then
    # cannot find the volume.
    assert failed_scheduling(c, "db") == [
        f'0/3 nodes are available: persistentvolume "pv-gone" not found. {NOT_HELPFUL}'
    ]


# -- WaitForFirstConsumer --------------------------------------------------------------------------------
def test_wait_for_first_consumer_goes_where_the_class_can_provision() -> None:
    c = cluster(storage_class("zonal", zones=["c"]), claim("data", "zonal"), pod("db", "data"))
    assert node_of(c, "db") == "n-c"
    assert verdicts(c, "db") == {"n-a": BIND_CONFLICT, "n-b": BIND_CONFLICT, "n-c": ""}


def test_provisioned_volume_is_zonal_and_later_pods_follow_it() -> None:
    """Once the pod is bound the claim is provisioned in the pod's zone; a second pod using the
    same claim can only go there (its claim is bound now)."""
    c = cluster(storage_class("zonal"), claim("data", "zonal"), pod("db", "data"))
    first = node_of(c, "db")
    pvc = c.get("PersistentVolumeClaim", "data")
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == first
    pv = c.get("PersistentVolume", pvc["spec"]["volumeName"])
    zone = first.removeprefix("n-")
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}
    ]
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["status"]["phase"] == "Bound"
    c.apply(pod("db-2", "data"))
    c.run(until=c.now + 10)
    assert node_of(c, "db-2") == first


def test_no_zone_allowed_by_the_class_means_nowhere_to_provision() -> None:
    c = cluster(storage_class("zonal", zones=["cn-shanghai-x"]), claim("data", "zonal"), pod("db", "data"))
    assert failed_scheduling(c, "db") == [f"0/3 nodes are available: 3 {BIND_CONFLICT}. {NOT_HELPFUL}"]


def test_class_without_a_provisioner_needs_a_matching_static_volume() -> None:
    local = storage_class("local", provisioner="kubernetes.io/no-provisioner")
    c = cluster(
        local,
        volume("pv-a", zone="a", cls="local"),
        volume("pv-small", size="1Gi", zone="b", cls="local"),
        claim("data", "local"),
        pod("db", "data"),
    )
    # pv-small is too small; pv-a can only be used from zone a.
    assert node_of(c, "db") == "n-a"
    assert verdicts(c, "db") == {"n-a": "", "n-b": BIND_CONFLICT, "n-c": BIND_CONFLICT}
    assert c.get("PersistentVolumeClaim", "data")["spec"]["volumeName"] == "pv-a"


def test_smallest_fitting_static_volume_is_chosen() -> None:
    c = cluster(
        storage_class("std"),
        volume("pv-big", size="100Gi", cls="std"),
        volume("pv-fit", size="30Gi", cls="std"),
        claim("data", "std"),
        pod("db", "data"),
    )
    assert node_of(c, "db") is not None
    assert c.get("PersistentVolumeClaim", "data")["spec"]["volumeName"] == "pv-fit"
    assert "claimRef" not in c.get("PersistentVolume", "pv-big")["spec"]


def test_claim_without_a_class_uses_the_default_storage_class() -> None:
    c = cluster(storage_class("zonal-default", zones=["b"], default=True), claim("data"), pod("db", "data"))
    assert node_of(c, "db") == "n-b"


def test_claim_reserved_for_another_node_only_fits_that_node() -> None:
    reserved = claim("data", "zonal")
    reserved["metadata"]["annotations"] = {"volume.kubernetes.io/selected-node": "n-a"}
    c = cluster(storage_class("zonal"), reserved, pod("db", "data"))
    assert verdicts(c, "db") == {"n-a": "", "n-b": BIND_CONFLICT, "n-c": BIND_CONFLICT}


# -- VolumeZone ------------------------------------------------------------------------------------------
def test_volume_zone_labels_must_match_the_nodes_zone() -> None:
    """A PV labelled with its zone (the older convention, no nodeAffinity) is checked by VolumeZone."""
    pv = volume("pv-legacy", labels={ZONE: "a"})
    c = cluster(pv, claim("data", "", volumeName="pv-legacy"), pod("db", "data"))
    assert node_of(c, "db") == "n-a"
    assert verdicts(c, "db") == {"n-a": "", "n-b": ZONE_CONFLICT, "n-c": ZONE_CONFLICT}


def test_volume_zone_label_may_list_several_zones() -> None:
    pv = volume("pv-multi", labels={ZONE: "a__c"})
    c = cluster(pv, claim("data", "", volumeName="pv-multi"), pod("db", "data"))
    assert verdicts(c, "db") == {"n-a": "", "n-b": ZONE_CONFLICT, "n-c": ""}


def test_beta_zone_label_on_the_volume_matches_the_nodes_ga_label() -> None:
    pv = volume("pv-beta", labels={"failure-domain.beta.kubernetes.io/zone": "b"})
    c = cluster(pv, claim("data", "", volumeName="pv-beta"), pod("db", "data"))
    assert verdicts(c, "db") == {"n-a": ZONE_CONFLICT, "n-b": "", "n-c": ZONE_CONFLICT}

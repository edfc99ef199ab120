"""``Cluster.from_real`` copies a real cluster's nodes and pods; ``labkit.compare`` lines the two up."""

from __future__ import annotations

import labkit


def kind_node(name: str, *, control_plane: bool = False) -> dict:
    """A Node as kind's kubelet registers it (4 CPUs, 8 GiB; the control plane tainted)."""
    labels = {"kubernetes.io/hostname": name}
    spec = {}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        spec["taints"] = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    size = {"cpu": "4", "memory": "8148300Ki", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {
            "capacity": dict(size),
            "allocatable": dict(size),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
        },
    }


KIND_NODES = [kind_node("kind-control-plane", control_plane=True), kind_node("kind-worker")]
RUNNING = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "cache", "namespace": "labkit-ann", "labels": {"app": "cache"}},
    "spec": {
        "nodeName": "kind-worker",
        "containers": [{"name": "redis", "image": "redis:7", "resources": {"requests": {"cpu": "3"}}}],
    },
    "status": {"phase": "Running"},
}


def seed(kube):
    for node in KIND_NODES:
        kube.seed("/api/v1/nodes", node)
    kube.seed("/api/v1/namespaces/labkit-ann/pods", RUNNING)


def test_the_twin_has_the_real_nodes_and_running_pods_and_only_reads(real, kube):
    real.ensure_namespace()
    seed(kube)
    before = len(kube.calls)
    twin = labkit.Cluster.from_real(real)
    assert {c["method"] for c in kube.calls[before:]} == {"GET"}
    nodes = {n["metadata"]["name"]: n for n in twin.list("Node")}
    assert set(nodes) == {"kind-control-plane", "kind-worker"}
    assert nodes["kind-worker"]["status"]["allocatable"]["cpu"] == "4"
    assert nodes["kind-control-plane"]["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"
    cache = twin.get("Pod", "cache")
    assert cache["spec"]["nodeName"] == "kind-worker" and cache["status"]["phase"] == "Running"


def test_what_if_on_the_twin_the_3_cpu_pod_leaves_no_room_on_the_worker(real, kube):
    real.ensure_namespace()
    seed(kube)
    twin = labkit.Cluster.from_real(real)
    twin.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "big"},
            "spec": {
                "containers": [{"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "2"}}}]
            },
        }
    )
    twin.run()
    msg = next(e["message"] for e in twin.events(involved="big") if e["reason"] == "FailedScheduling")
    assert msg.startswith("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint")


def test_compare_lines_up_placements_phases_and_messages(real, kube):
    real.ensure_namespace()
    seed(kube)
    twin = labkit.Cluster.from_real(real)
    df = labkit.compare(twin, real)
    row = df.set_index("pod").loc["cache"].to_dict()
    assert row["sim_node"] == row["real_node"] == "kind-worker" and row["same_node"]
    assert row["sim_phase"] == row["real_phase"] == "Running"
    assert list(df.columns[:3]) == ["pod", "sim_node", "real_node"] and len(df.columns) == 8

"""Safe by default: every refusal happens before a write is sent, and an override is explicit."""

from __future__ import annotations

import pytest

import labkit
from labkit.real import MANAGED_BY

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}
CLUSTER_SCOPED = [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
    {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "high"},
        "value": 1000,
    },
    {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata"}, "handler": "kata"},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
]


def writes(kube):
    return [(m, p) for m, p in kube.log() if m in ("POST", "PUT", "PATCH", "DELETE")]


def make(kubeconfig, namespace, **options):
    return labkit.RealCluster.from_kubeconfig(
        str(kubeconfig), namespace=namespace, sleep=lambda s: None, **options
    )


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease", "default"])
def test_the_clusters_own_namespaces_are_refused_before_anything_is_sent(kubeconfig, kube, namespace):
    with pytest.raises(labkit.RefusedError) as err:
        make(kubeconfig, namespace).apply(POD)
    assert namespace in str(err.value) and "allow_unmanaged_namespace" in err.value.hint
    assert kube.log() == []


def test_an_existing_namespace_labkit_did_not_create_is_refused(kubeconfig, kube):
    kube.seed("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    with pytest.raises(labkit.RefusedError, match="labkit did not create it"):
        make(kubeconfig, "team-a").apply(POD)
    assert writes(kube) == [("POST", "/api/v1/namespaces")]  # only the seed


def test_the_override_lets_the_adapter_work_in_an_unmanaged_namespace_and_still_labels(kubeconfig, kube):
    kube.seed("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    make(kubeconfig, "team-a", allow_unmanaged_namespace=True).apply(POD)
    assert kube.objects()[("pods", "team-a", "web")]["metadata"]["labels"] == {MANAGED_BY[0]: MANAGED_BY[1]}
    assert "labels" not in kube.objects()[("namespaces", None, "team-a")]["metadata"]


@pytest.mark.parametrize("doc", CLUSTER_SCOPED, ids=lambda d: d["kind"])
def test_cluster_scoped_kinds_are_refused_unless_allowed(real, kube, doc):
    with pytest.raises(labkit.RefusedError, match="cluster-scoped"):
        real.apply([POD, doc])
    assert writes(kube) == []  # not even the Pod, nor the namespace


def test_allowing_cluster_scoped_kinds_is_explicit(kubeconfig, kube):
    rc = make(kubeconfig, "labkit-ann", allow_cluster_scoped=True)
    rc.apply(CLUSTER_SCOPED[1])
    assert kube.objects()[("priorityclasses", None, "high")]["metadata"]["labels"][MANAGED_BY[0]] == "labkit"


def test_a_document_naming_another_namespace_is_refused(real, kube):
    with pytest.raises(labkit.RefusedError, match="names namespace 'kube-system'"):
        real.apply({**POD, "metadata": {"name": "web", "namespace": "kube-system"}})
    assert writes(kube) == []


def test_reads_and_writes_in_another_namespace_are_refused(real, kube):
    for call in (
        lambda: real.get("Pod", "x", namespace="kube-system"),
        lambda: real.list("Pod", namespace="default"),
        lambda: real.delete("Pod", "x", namespace="kube-system"),
    ):
        with pytest.raises(labkit.RefusedError):
            call()
    assert kube.log() == []


def test_an_existing_object_without_the_label_is_never_applied_over_scaled_or_deleted(real, kube):
    real.ensure_namespace()
    kube.seed(
        "/api/v1/namespaces/labkit-ann/pods", {**POD, "metadata": {"name": "web", "namespace": "labkit-ann"}}
    )
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "theirs", "namespace": "labkit-ann"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
            },
        },
    }
    kube.seed("/apis/apps/v1/namespaces/labkit-ann/deployments", deploy)
    before = kube.objects()
    n_writes = len(writes(kube))
    with pytest.raises(labkit.RefusedError, match="exists and labkit did not create it"):
        real.apply(POD)
    with pytest.raises(labkit.RefusedError, match="not created by labkit"):
        real.delete("Pod", "web")
    with pytest.raises(labkit.RefusedError, match="not created by labkit"):
        real.scale("Deployment", "theirs", 3)
    assert real.cleanup() == []
    assert kube.objects() == before and len(writes(kube)) == n_writes


def test_cleanup_deletes_only_labelled_objects_and_keeps_the_namespace(real, kube):
    real.apply([POD, {**POD, "metadata": {"name": "web2"}}])
    kube.seed(
        "/api/v1/namespaces/labkit-ann/pods",
        {**POD, "metadata": {"name": "theirs", "namespace": "labkit-ann"}},
    )
    assert real.cleanup() == ["Pod/web", "Pod/web2"]
    assert set(kube.objects()) == {("namespaces", None, "labkit-ann"), ("pods", "labkit-ann", "theirs")}
    assert real.cleanup(delete_namespace=True) == ["Namespace/labkit-ann"]
    assert set(kube.objects()) == {("pods", "labkit-ann", "theirs")}  # the emulator keeps orphans

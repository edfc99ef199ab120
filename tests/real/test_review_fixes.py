"""What a learner review of chapter 06 found, pinned: the context's namespace, dry runs that create
nothing, cleanup under a narrow Role, cluster-scoped deletes, and 403s that are not about RBAC."""

from __future__ import annotations

import json

import pytest

import labkit
from labkit.real import detect, planned_requests
from tests.real.conftest import TOKEN

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
}


def writes(kube):
    return [(m, p) for m, p in kube.log() if m in ("POST", "PUT", "PATCH", "DELETE")]


def test_the_contexts_namespace_is_the_default(kube, tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "student",
                "clusters": [{"name": "c", "cluster": {"server": kube.url}}],
                "users": [{"name": "u", "user": {"token": TOKEN}}],
                "contexts": [
                    {
                        "name": "student",
                        "context": {"cluster": "c", "user": "u", "namespace": "labkit-student-01"},
                    }
                ],
            }
        )
    )
    assert labkit.RealCluster.from_kubeconfig(str(cfg)).namespace == "labkit-student-01"
    assert labkit.RealCluster.from_kubeconfig(str(cfg), namespace="labkit-x").namespace == "labkit-x"


def test_a_dry_run_in_a_missing_namespace_creates_nothing_and_says_so(real, kube):
    plan = real.apply(POD, dry_run=True)
    assert plan[0]["action"] == "create" and "does not exist yet" in plan[0]["note"]
    assert writes(kube) == [] and not real.created_namespace


def test_apply_remembers_that_it_created_the_namespace(real, kube):
    real.apply(POD)
    assert real.created_namespace


@pytest.mark.parametrize(
    ("kind", "name"), [("Namespace", "labkit-bob"), ("Node", "n1"), ("PriorityClass", "high")]
)
def test_deleting_a_cluster_scoped_object_is_refused_before_sending(real, kube, kind, name):
    with pytest.raises(labkit.RefusedError, match="cluster-scoped"):
        real.delete(kind, name)
    assert kube.log() == []


def test_cleanup_skips_kinds_the_role_cannot_list(real, kube):
    real.apply(POD)
    for plural in ("daemonsets", "secrets", "serviceaccounts"):
        kube.answer(
            "GET",
            rf"/{plural}\?",
            403,
            {
                "kind": "Status",
                "code": 403,
                "reason": "Forbidden",
                "message": f'{plural} is forbidden: User "student" cannot list resource "{plural}" in '
                f'API group "" in the namespace "labkit-ann"',
            },
        )
    assert real.cleanup() == ["Pod/web"]


def test_a_terminating_namespace_is_a_403_with_its_own_hint(real, kube):
    real.ensure_namespace()
    kube.answer(
        "PATCH",
        r"/pods/web\?",
        403,
        {
            "kind": "Status",
            "code": 403,
            "reason": "Forbidden",
            "message": 'pods "web" is forbidden: unable to create new content in namespace labkit-ann '
            "because it is being terminated",
        },
    )
    with pytest.raises(labkit.ForbiddenError) as err:
        real.apply(POD)
    assert "still being deleted" in err.value.hint and err.value.verb == ""


def test_a_refused_kind_is_refused_even_when_its_manifest_would_not_validate(real):
    with pytest.raises(labkit.RefusedError, match="cluster-scoped"):
        real.apply({"apiVersion": "apps/v1", "kind": "PriorityClass", "metadata": {"name": "x"}, "spec": {}})


@pytest.mark.parametrize("namespace", ["Bad_NS!", "", "a" * 64])
def test_a_name_that_cannot_be_a_namespace_is_a_manifest_error(namespace):
    with pytest.raises(labkit.ManifestError) as err:
        planned_requests(POD, namespace=namespace) if namespace else planned_requests(POD, namespace=" ")
    assert err.value.path == "metadata.namespace"


def test_detect_uses_a_cluster_only_when_asked(monkeypatch, kubeconfig):
    monkeypatch.delenv("LABKIT_KUBECONFIG", raising=False)
    assert detect() == (None, "LABKIT_KUBECONFIG is not set")
    monkeypatch.setenv("LABKIT_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("LABKIT_NAMESPACE", "labkit-ann")
    real, why = detect()
    assert real is not None and why.startswith("v1.36.2 at ") and "namespace 'labkit-ann'" in why
    assert real._http.timeouts == (5.0, 30.0)  # the probe's short timeout is not kept

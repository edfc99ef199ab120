"""NamespaceLifecycle (``plugin/pkg/admission/namespace/lifecycle/admission.go``) and the
namespace controller: the system namespaces can't be deleted; another namespace turns
``Terminating``, refuses new content, has its objects deleted, and then goes (issue 8 item 3)."""

from __future__ import annotations

from typing import Any

import pytest

import labkit
from labkit.api.server import Forbidden, NotFound


def _pod(name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


@pytest.mark.parametrize("ns", ["default", "kube-system", "kube-public"])
def test_deleting_a_system_namespace_is_forbidden_with_upstreams_message(ns):
    c = labkit.Cluster(seed=0)
    before = c.get("Namespace", ns, None)
    with pytest.raises(Forbidden) as caught:
        c.delete("Namespace", ns, None)
    err = caught.value
    assert isinstance(err, labkit.ManifestError)
    assert (err.path, err.value) == ("metadata.name", ns)
    assert err.reason == f'namespaces "{ns}" is forbidden: this namespace may not be deleted'
    assert c.get("Namespace", ns, None) == before


def test_a_deleted_namespace_is_terminating_and_refuses_new_content():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    c.apply(_pod("web", "demo"))
    c.run()
    ns = c.delete("Namespace", "demo", None)
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]
    with pytest.raises(Forbidden) as caught:
        c.apply(_pod("late", "demo"))
    assert caught.value.path == "metadata.namespace"
    assert caught.value.reason == ('pods "late" is forbidden: unable to create new content in namespace demo '
                                   "because it is being terminated")
    c.run()
    with pytest.raises(NotFound):
        c.get("Namespace", "demo", None)
    assert c.list("Pod", namespace="demo") == []
    assert c.events(namespace="demo") == []  # its Events went with it
    # the pod terminated gracefully (the kubelet stopped it) before the namespace went
    assert [e["reason"] for e in c.event_log() if e.get("reason") == "Killing"] == ["Killing"]


def test_a_terminating_namespace_takes_its_deployments_and_their_pods():
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
    c.run()
    assert len(c.list("Pod", namespace="shop")) == 2
    c.delete("Namespace", "shop", None)
    c.run()
    assert [n["metadata"]["name"] for n in c.list("Namespace") if n["metadata"]["name"] == "shop"] == []
    for kind in ("Deployment", "ReplicaSet", "Pod"):
        assert c.list(kind, namespace="shop") == []


def test_an_update_in_a_terminating_namespace_is_still_allowed():
    """NamespaceLifecycle refuses only creates; a pod being stopped can still be updated."""
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1)
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    pod = _pod("web", "demo")
    pod["spec"]["terminationGracePeriodSeconds"] = 30
    pod["spec"]["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": 20}}}
    c.apply(pod)
    c.run()
    c.delete("Namespace", "demo", None)
    c.run(until=c.now + 1)
    labelled = c.get("Pod", "web", "demo")
    assert labelled["metadata"]["deletionTimestamp"]
    c.patch("Pod", "web", {"metadata": {"labels": {"seen": "yes"}}}, namespace="demo")
    assert c.get("Pod", "web", "demo")["metadata"]["labels"] == {"seen": "yes"}

"""On a real cluster (kind, minikube, ACK): run with ``LABKIT_KUBECONFIG=~/.kube/config make test``.

Skipped, with that reason, when ``LABKIT_KUBECONFIG`` is not set. They use their own namespace
(``labkit-test-<user>``) and clean up after themselves, whatever happens.
"""

from __future__ import annotations

import os

import pytest

import labkit
from labkit.real.config import default_namespace

pytestmark = [
    pytest.mark.real_cluster,
    pytest.mark.skipif(
        not os.environ.get("LABKIT_KUBECONFIG"),
        reason="set LABKIT_KUBECONFIG to the kubeconfig of a real cluster to run these",
    ),
]
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "my-nginx", "labels": {"app": "my-nginx"}},
    "spec": {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.27",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            }
        ]
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "my-nginx"},
    "spec": {"selector": {"app": "my-nginx"}, "ports": [{"protocol": "TCP", "port": 80, "targetPort": 80}]},
}


@pytest.fixture()
def cluster():
    rc = labkit.RealCluster.from_kubeconfig(
        os.environ["LABKIT_KUBECONFIG"], namespace=default_namespace().replace("labkit-", "labkit-test-", 1)
    )
    try:
        yield rc
    finally:
        rc.cleanup(delete_namespace=True)


def test_the_articles_pod_and_service_run_and_match_the_twin(cluster):
    assert cluster.version().startswith("v1.")
    plan = cluster.apply([POD, SERVICE], dry_run=True)
    assert [p["action"] for p in plan] == ["create", "create"]
    cluster.apply([POD, SERVICE])
    assert cluster.wait_for("Ready", timeout=180), cluster.events(involved="my-nginx")
    twin = labkit.Cluster.from_real(cluster)
    row = labkit.compare(twin, cluster).set_index("pod").loc["my-nginx"]
    assert row["real_phase"] == "Running" and row["sim_phase"] == "Running"
    assert [e["reason"] for e in cluster.events(involved="my-nginx")][:1] == ["Scheduled"]
    assert cluster.cleanup() == ["Service/my-nginx", "Pod/my-nginx"]

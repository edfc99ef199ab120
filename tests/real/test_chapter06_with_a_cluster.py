"""Chapter 06 run top to bottom *with* a cluster (kmock standing in for it): the cells tagged
``nbval-skip`` run for real, through a kubeconfig naming a workshop namespace, and none fails."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tests.real.conftest import TOKEN

REPO = Path(__file__).resolve().parents[2]
NODE = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "kind-worker", "labels": {}},
    "status": {
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True"}],
    },
}


def running(name: str, cpu: str = "100m") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "labkit-student-01",
            "creationTimestamp": "2026-12-01T00:00:00Z",
            "labels": {"app.kubernetes.io/managed-by": "labkit"},
        },
        "spec": {
            "nodeName": "kind-worker",
            "containers": [{"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": cpu}}}],
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_the_chapter_runs_against_a_cluster_in_a_workshop_namespace(kube, tmp_path):
    kube.seed("/api/v1/nodes", NODE)
    kube.seed(
        "/api/v1/namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "labkit-student-01", "labels": {"app.kubernetes.io/managed-by": "labkit"}},
        },
    )
    # The kubelet's part: list answers with the pods bound and Ready (the emulator runs no kubelet).
    pods = [running("my-nginx")] + [running(f"probe-{i}", "500m") for i in range(4)]
    kube.answer(
        "GET",
        r"^/api/v1/namespaces/labkit-student-01/pods(\?(?!watch).*)?$",
        200,
        {"kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": copy.deepcopy(pods)},
    )
    cfg = tmp_path / "student.kubeconfig"
    cfg.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "labkit-student-01",
                "clusters": [{"name": "workshop", "cluster": {"server": kube.url}}],
                "users": [{"name": "s", "user": {"token": TOKEN}}],
                "contexts": [
                    {
                        "name": "labkit-student-01",
                        "context": {"cluster": "workshop", "user": "s", "namespace": "labkit-student-01"},
                    }
                ],
            }
        )
    )
    nb = nbformat.read(REPO / "notebooks" / "solutions" / "06_real_cluster.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks" / "solutions")}},
    )
    old = os.environ.get("LABKIT_KUBECONFIG")
    os.environ["LABKIT_KUBECONFIG"] = str(cfg)  # the kernel inherits the environment
    try:
        client.execute()
    finally:
        if old is None:
            os.environ.pop("LABKIT_KUBECONFIG", None)
        else:
            os.environ["LABKIT_KUBECONFIG"] = old
    outputs = {
        i: "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in c.outputs)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
    }
    text = "\n".join(outputs.values())
    assert "Real cluster: v1.36.2" in text and "namespace 'labkit-student-01'" in text
    assert "Skipped: no cluster" not in text
    assert "probe-3" in text  # the comparison table
    deletes = [c["path"] for c in kube.calls if c["method"] == "DELETE"]
    assert "/api/v1/namespaces/labkit-student-01/services/my-nginx" in deletes
    assert not any(p.endswith("/namespaces/labkit-student-01") for p in deletes)  # not labkit's to delete
    assert all(
        c["headers"].get("User-Agent", "").startswith("labkit/")
        for c in kube.calls
        if c["path"].startswith("/api/v1/namespaces/labkit-student-01/")
    )

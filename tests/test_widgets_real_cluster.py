"""Chapter 06's panel and helpers: they work with no cluster at all and never die on odd input."""

from __future__ import annotations

import pytest

import labkit
from labkit.widgets.real_cluster import (
    ERROR_GUIDE,
    MY_NGINX,
    PLANNER_MANIFEST,
    panel,
    planner_view,
    practice_cluster,
    refusal,
    requests_table,
    simulated_placement,
)


def test_the_requests_table_shows_one_server_side_apply_per_document():
    df = requests_table(MY_NGINX)
    assert list(df["method"]) == ["PATCH", "PATCH"]
    assert list(df["path"]) == [
        "/api/v1/namespaces/labkit-ch06/pods/my-nginx",
        "/api/v1/namespaces/labkit-ch06/services/my-nginx",
    ]
    assert set(df["query"]) == {"fieldManager=labkit&force=false"}


def test_the_practice_cluster_refuses_like_a_real_one_and_fails_fast_where_a_server_is_needed():
    rc = practice_cluster()
    assert refusal(lambda: rc.delete("Pod", "coredns", namespace="kube-system")).startswith("RefusedError")
    assert refusal(lambda: practice_cluster("kube-system").apply(MY_NGINX)).startswith(
        "RefusedError: namespace 'kube-system' belongs to the cluster"
    )
    assert refusal(lambda: rc.get("Pod", "my-nginx")).startswith("UnreachableError")


def test_the_error_guide_names_every_error_the_adapter_raises():
    names = {row[0] for row in ERROR_GUIDE}
    assert names == {
        n
        for n in labkit.__all__
        if n.endswith("Error") and n not in ("DNSError", "DockerfileError", "RealClusterError")
    }


def test_the_simulated_placement_counts_pods_per_node():
    df = simulated_placement(PLANNER_MANIFEST.replace("replicas: 3", "replicas: 10"))
    assert df["pods"].sum() == 10 and df.iloc[-1]["node"] == "(not scheduled: Pending)"


@pytest.mark.parametrize(
    ("text", "namespace", "shown"),
    [
        (PLANNER_MANIFEST, "kube-system", "RefusedError"),
        ("kind: [", "labkit-ch06", "ManifestError"),
        ("apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n", "labkit-ch06", "cluster-scoped"),
        (42, "labkit-ch06", "ManifestError"),
    ],
)
def test_the_planner_shows_why_nothing_would_be_sent(text, namespace, shown):
    plan, placed = planner_view(text, namespace)
    assert shown in plan and placed == ""


def test_the_replicas_slider_rewrites_the_manifest_and_both_answers_follow():
    box = panel()
    slider = next(w for w in box.children[2].children if getattr(w, "description", "") == "replicas")
    text = box.children[1]
    plan_out, sim_out = box.children[4], box.children[6]
    before = sim_out.value
    slider.value = 8
    assert "replicas: 8" in text.value and sim_out.value != before
    assert (
        "PATCH" in plan_out.value
        and "/apis/apps/v1/namespaces/labkit-ch06/deployments/my-nginx" in plan_out.value
    )
    assert repr(box) == "Interactive panel (apply planner): run this cell to display it."


def test_the_slider_stops_placing_at_15_replicas_and_typed_replicas_win_over_it():
    df = simulated_placement(PLANNER_MANIFEST.replace("replicas: 3", "replicas: 15"))
    assert list(df["pods"]) == [7, 7, 1]  # 3920m allocatable per node holds 7 pods of 500m
    box = panel()
    slider = next(w for w in box.children[2].children if getattr(w, "description", "") == "replicas")
    button = next(w for w in box.children[2].children if getattr(w, "description", "") == "plan")
    box.children[1].value = box.children[1].value.replace("replicas: 3", "replicas: 5")
    button.click()
    assert slider.value == 5 and "replicas: 5" in box.children[1].value

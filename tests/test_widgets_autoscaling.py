"""Chapter 04's panel and runs: the HPA over time, flapping, a day with the cluster autoscaler."""

from __future__ import annotations

import time

import pytest

import labkit
import labkit.hpa
from labkit.widgets import autoscaling as A


def test_chapter_cluster_applies_the_manifests_and_settles():
    c = A.autoscaling_cluster()
    hpa = c.get("HorizontalPodAutoscaler", "web")
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    pods = c.list("Pod", label_selector="app=web")
    assert len(pods) == 2 and all(p["spec"]["nodeName"] for p in pods)
    assert all(p["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "500m" for p in pods)


def test_hpa_manifest_carries_the_settings_and_a_behavior():
    hpa = A.hpa_manifest(target=40, min_replicas=3, max_replicas=7,
                         behavior={"scaleDown": {"stabilizationWindowSeconds": 0}})
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 7
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 40
    assert hpa["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 0}}
    assert "behavior" not in A.hpa_manifest()["spec"]


def test_step_load_scales_up_to_the_ceiling_and_back_onto_the_target():
    run = A.autoscale_run("step")
    f = run.frame
    assert list(f.columns) == ["t_s", "rate_rps", "replicas", "ready", "utilization_pct", "pending", "nodes",
                               "p95_ms"]
    assert len(f) == A.RUN_S / A.EVERY_S
    assert f["replicas"].iloc[0] == 2 and f["replicas"].iloc[-1] == 10  # 3000m / 300m per pod
    assert run.timeline.summary["scale_downs"] == 0
    assert abs(float(f["utilization_pct"].iloc[-1]) - 60) <= 6
    assert all(b > a for _, a, b in run.timeline.rescales)


def test_no_scale_down_window_flaps_and_the_default_window_does_not():
    flapping = A.autoscale_run("oscillating", scale_down_window_s=0).timeline.summary
    steady = A.autoscale_run("oscillating", scale_down_window_s=None).timeline.summary
    assert flapping["scale_downs"] >= 4 and flapping["scale_ups"] >= 4
    assert steady["scale_downs"] == 0
    assert steady["pod_minutes"] > flapping["pod_minutes"]  # the window's price


def test_runs_are_kept_per_setting_and_inputs_are_clamped():
    a = A.autoscale_run("spike", target=60, min_replicas=2, max_replicas=10)
    assert A.autoscale_run("spike", target=60.0, min_replicas="2", max_replicas=10) is a
    clamped = A.autoscale_run("spike", target=500, min_replicas=0, max_replicas=99)
    assert (clamped.target, clamped.min_replicas, clamped.max_replicas) == (100, 1, 14)
    with pytest.raises(ValueError, match="choose one of"):
        A.autoscale_run("square")


def test_prefetcher_fills_the_cache_with_neighbours():
    key = A._key("daily wave", 70, 2, 10, 60, 0)
    A._RUNS.pop(key, None)
    A._PREFETCH.want([key])
    deadline = time.monotonic() + 30
    while key not in A._RUNS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert key in A._RUNS
    assert A._RUNS[key].timeline.summary == A._compute_run(key).timeline.summary  # same as in the foreground


def test_hpa_inputs_give_the_textbook_proposal():
    inputs = A.hpa_inputs({"web-a": "450m", "web-b": "420m", "web-c": "390m", "web-d": "360m"})
    result = labkit.hpa.reconcile(**inputs)
    assert result.proposal == 6 and result.replicas == 6  # ceil(4 x 81 / 60)
    within = labkit.hpa.reconcile(**A.hpa_inputs({f"web-{x}": "320m" for x in "abcd"}))
    assert within.proposal == 4  # 64% against 60%: within the tolerance


def test_panel_builds_with_its_controls_and_says_run_this_cell():
    pytest.importorskip("ipywidgets")
    box = A.autoscaling_panel(prefetch=False)
    assert repr(box) == "Interactive panel (autoscaling): run this cell to display it."
    image = box.children[-1]
    first = image.value
    assert first[:4] == b"\x89PNG"
    sliders = [w for row in box.children if hasattr(row, "children") for w in row.children]
    window = next(w for w in sliders if w.description.startswith("scale-down window"))
    window.value = 0
    assert image.value != first
    low = next(w for w in sliders if w.description == "minReplicas")
    high = next(w for w in sliders if w.description == "maxReplicas")
    high.value = 2
    low.value = 5  # above maxReplicas: the API server's message, no crash
    assert "must be greater than or equal to" in box.children[-2].value


def test_a_day_with_the_cluster_autoscaler_adds_nodes_for_the_peak_and_removes_them():
    day = A.day_run()
    f = day.timeline.frame
    assert f["nodes"].min() == 1 and f["nodes"].max() >= 3
    assert f["pending"].max() > 0  # pods waited for a node
    assert day.cost_cny < day.fixed_cost_cny
    assert set(day.cost["node_pool"]) == {"general", "elastic"}

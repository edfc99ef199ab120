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


def _pixels(png_bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGBA"))


def _panel_figure(run):
    from labkit.plots import autoscaling_figure

    return autoscaling_figure(run.frame, target=run.target, slo_ms=A.SLO_MS, title=run.title,
                              max_replicas=run.max_replicas, dpi=A.PANEL_DPI)


def test_blitted_panel_figure_has_the_pixels_of_a_full_draw():
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from labkit.plots import autoscaling_changing, autoscaling_static_key
    from labkit.widgets._panel import Blitter, png

    blitter = Blitter()
    # the first of each pattern draws the static part; the others paste it. ("step", 2, 2): p95
    # over the SLO most of the run, its area under the latency panel's gridlines
    for pattern, low, high, window in [("step", 2, 2, 300), ("step", 1, 2, 0), ("oscillating", 2, 10, 300),
                                       ("oscillating", 2, 10, 0), ("spike", 2, 3, 0), ("spike", 2, 3, 60)]:
        run = A.autoscale_run(pattern, 60, low, high, window)
        fig = _panel_figure(run)
        blitted = blitter.render(fig, autoscaling_changing(fig), autoscaling_static_key(fig, pattern))
        canvas = FigureCanvasAgg(_panel_figure(run))
        canvas.draw()
        assert (_pixels(blitted) == _pixels(png(canvas))).all(), (pattern, low, high, window)


def test_static_key_names_what_the_background_shows():
    pytest.importorskip("matplotlib")
    from labkit.plots import autoscaling_static_key

    a = autoscaling_static_key(_panel_figure(A.autoscale_run("oscillating", 60, 2, 10, 300)), "oscillating")
    assert autoscaling_static_key(_panel_figure(A.autoscale_run("oscillating", 60, 2, 10, 0)),
                                  "oscillating") == a  # the window shows only in the lines and title
    assert autoscaling_static_key(_panel_figure(A.autoscale_run("oscillating", 60, 2, 9, 300)),
                                  "oscillating") != a  # the maxReplicas line's legend
    assert autoscaling_static_key(_panel_figure(A.autoscale_run("oscillating", 50, 2, 10, 300)),
                                  "oscillating") != a  # the target and its band


def test_panel_blitter_prime_draws_the_background_a_render_then_pastes():
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from labkit.plots import autoscaling_changing, autoscaling_static_key
    from labkit.widgets._panel import png

    run = A.autoscale_run("daily wave", 60, 2, 10, 120)
    blitter = A._PanelBlitter()
    fig = _panel_figure(run)
    blitter.prime(fig, autoscaling_changing(fig), autoscaling_static_key(fig, run.pattern))
    assert len(blitter._backgrounds) == 1
    fig = _panel_figure(run)
    blitted = blitter.render(fig, autoscaling_changing(fig), autoscaling_static_key(fig, run.pattern))
    assert len(blitter._backgrounds) == 1  # pasted, not drawn again
    canvas = FigureCanvasAgg(_panel_figure(run))
    canvas.draw()
    assert (_pixels(blitted) == _pixels(png(canvas))).all()


def test_background_runs_pause_for_the_foreground_and_give_the_same_run():
    key = A._key("spike", 40, 2, 8, 120, 0)
    calls = []
    run = A._compute_run(key, pause=lambda: calls.append(1))
    assert len(calls) == A.RUN_S / A.EVERY_S  # before every sample
    assert run.timeline.summary == A._compute_run(key).timeline.summary
    assert run.frame.equals(A._compute_run(key).frame)
    # a busy foreground holds a background run; an idle one lets it through
    A._RUNS.pop(key, None)
    A._FOREGROUND_IDLE.clear()
    try:
        A._PREFETCH.want([key])
        time.sleep(0.5)
        assert key not in A._RUNS
    finally:
        A._FOREGROUND_IDLE.set()
    deadline = time.monotonic() + 30
    while key not in A._RUNS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert A._RUNS[key].frame.equals(run.frame)


def test_the_foreground_waits_for_the_run_the_prefetcher_has_under_way():
    key = A._key("step", 80, 3, 12, 60, 0)
    A._RUNS.pop(key, None)
    A._FOREGROUND_IDLE.clear()  # as during a panel update: the background run stops at its first sample
    try:
        A._PREFETCH.want([key])
        deadline = time.monotonic() + 10
        while key not in A._IN_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.01)
        assert key in A._IN_FLIGHT
        run = A._autoscale_run(*key)  # lets the background run finish, and takes it
    finally:
        A._FOREGROUND_IDLE.set()
    assert A._RUNS[key] is run
    assert A._FOREGROUND_IDLE.is_set()


def test_waiting_outside_a_panel_update_leaves_the_foreground_idle():
    key = A._key("oscillating", 70, 2, 11, 180, 0)
    A._RUNS.pop(key, None)
    A._PREFETCH.want([key])
    deadline = time.monotonic() + 10
    while key not in A._IN_FLIGHT and key not in A._RUNS and time.monotonic() < deadline:
        time.sleep(0.005)
    A._autoscale_run(*key)
    assert A._FOREGROUND_IDLE.is_set()

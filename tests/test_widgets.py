"""labkit.widgets: the timeline stepper responds to its slider and never fails on odd values."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from support import chapter00_cluster

import labkit
from labkit import timeline as tl
from labkit.widgets import step_html, timeline_stepper
from labkit.widgets.timeline import NOT_RECORDED


def parts(box: widgets.VBox) -> tuple[widgets.IntSlider, widgets.Play, widgets.Image, widgets.HTML]:
    controls, image, detail = box.children
    slider, play = controls.children
    return slider, play, image, detail


@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    return chapter00_cluster()


def test_stepper_is_a_container_with_slider_play_figure_and_detail(cluster):
    box = timeline_stepper(cluster, "Pod/my-nginx")
    slider, play, image, detail = parts(box)
    assert isinstance(box, widgets.VBox)
    assert isinstance(slider, widgets.IntSlider) and isinstance(play, widgets.Play)
    assert slider.max == play.max == len(tl.steps(cluster, "Pod/my-nginx")) - 1
    assert bytes(image.value).startswith(b"\x89PNG")
    assert "step 1 of" in detail.value and "ADDED" in detail.value


def test_moving_the_slider_changes_the_detail_and_the_figure(cluster):
    slider, _, image, detail = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    before = (bytes(image.value), detail.value)
    slider.value = 2
    assert "Scheduled" in detail.value and "cn-hangzhou." in detail.value
    assert bytes(image.value) != before[0] and detail.value != before[1]


def test_each_step_shows_the_pod_as_it_was_then(cluster):
    slider, _, _, detail = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    assert "not set (not scheduled)" in detail.value
    slider.value = slider.max
    assert "Running" in detail.value and "Ready=True" in detail.value and "172.20." in detail.value


@pytest.mark.parametrize(("value", "expected"), [(10_000, "max"), (-7, "min")])
def test_out_of_range_slider_values_are_clamped(cluster, value, expected):
    slider, _, _, detail = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    slider.value = value
    assert slider.value == getattr(slider, expected)
    assert f"step {slider.value + 1} of {slider.max + 1}" in detail.value


@pytest.mark.parametrize("index", [-1, 0, 3, 10**9])
def test_step_html_clamps_any_index(cluster, index):
    timeline = tl.steps(cluster, "Pod/my-nginx")
    i = min(max(index, 0), len(timeline) - 1)
    assert f"<b>step {i + 1} of {len(timeline)}</b>" in step_html(timeline, index)


def test_step_html_escapes_object_text():
    step = tl.Step(0.0, "kubelet", "kubelet", "Failed", "Pod/x", "<script>alert(1)</script>", "", None)
    assert "<script>" not in step_html([step], 0)


def test_empty_cluster_gives_a_disabled_stepper_that_explains_itself():
    slider, play, _, detail = parts(timeline_stepper(labkit.Cluster(seed=0)))
    assert slider.disabled and play.disabled and slider.max == 0
    assert "Nothing recorded yet" in detail.value
    slider.value = 5
    assert "Nothing recorded yet" in detail.value


def test_unrecorded_cluster_shows_events_and_says_how_to_record():
    slider, _, _, detail = parts(timeline_stepper(chapter00_cluster(recorded=False), "Pod/my-nginx"))
    assert "Scheduled" in detail.value and NOT_RECORDED in detail.value
    slider.value = slider.max
    assert "Started" in detail.value

"""labkit.widgets: the timeline stepper responds to its slider and never fails on odd values."""

from __future__ import annotations

import io
import subprocess
import sys

import ipywidgets as widgets
import numpy as np
import pytest
from PIL import Image
from support import chapter00_cluster, pixels

import labkit
from labkit import timeline as tl
from labkit.plots import steps_figure
from labkit.widgets import PANEL_TEXT, step_html, timeline_stepper
from labkit.widgets.timeline import DPI, NOT_RECORDED


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
    assert slider.max == play.max == len(tl.steps(cluster, "Pod/my-nginx"))
    assert bytes(image.value).startswith(b"\x89PNG")
    assert "step 1 of" in detail.value and "ADDED" in detail.value


def test_moving_the_slider_changes_the_detail_and_the_figure(cluster):
    slider, _, image, detail = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    before = (bytes(image.value), detail.value)
    slider.value = 3
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
    assert f"step {slider.value} of {slider.max}" in detail.value


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
    assert slider.disabled and play.disabled and slider.min == slider.max == 1
    assert "Nothing recorded yet" in detail.value
    slider.value = 5
    assert "Nothing recorded yet" in detail.value


def test_unrecorded_cluster_shows_events_and_says_how_to_record():
    slider, _, _, detail = parts(timeline_stepper(chapter00_cluster(recorded=False), "Pod/my-nginx"))
    assert "Scheduled" in detail.value and NOT_RECORDED in detail.value
    slider.value = slider.max
    assert "Started" in detail.value


def test_slider_and_text_count_steps_the_same_way_from_one(cluster):
    slider, play, _, detail = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    total = len(tl.steps(cluster, "Pod/my-nginx"))
    assert (slider.min, slider.max, play.min, play.max, slider.value) == (1, total, 1, total, 1)
    for number in (1, 3, total):
        slider.value = number
        assert f"<b>step {number} of {total}</b>" in detail.value


def test_stepper_slider_has_room_for_a_usable_track(cluster):
    """The track is what is left of the slider's width after its label and readout (~96 px)."""
    slider, _, _, _ = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    width, label = (int(v.removesuffix("px")) for v in (slider.layout.width, slider.style.description_width))
    assert width - label - 96 >= 120


@pytest.mark.parametrize("number", [1, 2, 4, 7, 10])
def test_each_step_image_is_pixel_for_pixel_a_fresh_steps_figure(cluster, number):
    """The stepper moves the cursor on one laid-out figure instead of redrawing; same pixels."""
    timeline = tl.steps(cluster, "Pod/my-nginx")
    slider, _, image, _ = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    slider.value = number
    fresh = steps_figure(timeline, title=f"Control-plane timeline of Pod/my-nginx (seed {cluster.seed})",
                         highlight=number - 1)
    fresh.set_dpi(DPI)
    shown = np.asarray(Image.open(io.BytesIO(bytes(image.value))).convert("RGBA"))
    assert np.array_equal(shown, pixels(fresh))


def test_going_back_to_a_step_shows_the_same_image(cluster):
    slider, _, image, _ = parts(timeline_stepper(cluster, "Pod/my-nginx"))
    first = bytes(image.value)
    slider.value = 5
    slider.value = 1
    assert bytes(image.value) == first


def test_unrun_stepper_says_run_this_cell_instead_of_a_vbox_repr(cluster):
    box = timeline_stepper(cluster, "Pod/my-nginx")
    text = box._repr_mimebundle_()["text/plain"]
    assert text == PANEL_TEXT.format(name="timeline stepper")
    assert text == "Interactive panel (timeline stepper): run this cell to display it."
    assert "labkit-panel" in box._dom_classes


def test_importing_labkit_widgets_does_not_import_ipywidgets_or_matplotlib():
    code = ("import sys, labkit, labkit.widgets; "
            "print(sorted({'ipywidgets', 'matplotlib'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

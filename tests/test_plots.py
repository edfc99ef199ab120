"""labkit.plots: figures have a title, axis labels with units and a legend, and are deterministic."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from support import chapter00_cluster, pixels

import labkit
from labkit import plots
from labkit import timeline as tl


@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    return chapter00_cluster()


def test_timeline_figure_has_title_axis_labels_with_units_and_legend(cluster):
    ax = plots.timeline_figure(cluster, "Pod/my-nginx").axes[0]
    assert "Pod/my-nginx" in ax.get_title() and "seed 0" in ax.get_title()
    assert ax.get_xlabel() == "simulated time (s)"
    assert ax.get_ylabel() == "component"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ADDED", "MODIFIED", "Scheduled", "Pulling", "Pulled", "Created", "Started"]


def test_timeline_rows_follow_the_request_path_api_server_on_top(cluster):
    ax = plots.timeline_figure(cluster).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["kube-apiserver", "kube-scheduler",
                                                            "kube-controller-manager", "kubelet"]
    bottom, top = ax.get_ylim()
    assert top < bottom, "the y axis is inverted so that the first row is drawn at the top"


def test_every_step_is_plotted_once(cluster):
    ax = plots.timeline_figure(cluster, "Pod/my-nginx").axes[0]
    plotted = sum(len(line.get_xdata()) for line in ax.get_lines())
    assert plotted == len(tl.steps(cluster, "Pod/my-nginx"))


def test_timeline_figure_is_identical_for_the_same_seed():
    a = plots.timeline_figure(chapter00_cluster(0), "Pod/my-nginx")
    b = plots.timeline_figure(chapter00_cluster(0), "Pod/my-nginx")
    assert np.array_equal(pixels(a), pixels(b))


@pytest.mark.parametrize("highlight", [-5, 0, 4, 10_000])
def test_highlight_is_clamped_and_adds_a_cursor(cluster, highlight):
    timeline = tl.steps(cluster, "Pod/my-nginx")
    ax = plots.steps_figure(timeline, highlight=highlight).axes[0]
    step = timeline[min(max(highlight, 0), len(timeline) - 1)]
    assert ax.get_legend().get_texts()[-1].get_text() == f"now: {step.time:.4f} s"


def test_highlight_changes_the_picture(cluster):
    timeline = tl.steps(cluster, "Pod/my-nginx")
    assert not np.array_equal(pixels(plots.steps_figure(timeline, highlight=0)),
                              pixels(plots.steps_figure(timeline, highlight=len(timeline) - 1)))


def test_empty_cluster_still_gets_a_labelled_figure():
    ax = plots.timeline_figure(labkit.Cluster(seed=0), highlight=3).axes[0]
    assert ax.get_title() and ax.get_xlabel() == "simulated time (s)"
    assert ax.get_legend() is None


def test_unrecorded_cluster_plots_its_events_only():
    ax = plots.timeline_figure(chapter00_cluster(recorded=False)).axes[0]
    # kube-controller-manager: the node lifecycle controller's RegisteredNode events
    rows = ["kube-scheduler", "kube-controller-manager", "kubelet"]
    assert [t.get_text() for t in ax.get_yticklabels()] == rows


def test_cluster_html_and_node_usage_still_show_the_pod(cluster):
    usage = plots.node_usage(cluster)
    assert sorted(sum((u["pods"] for u in usage), [])) == ["my-nginx"]
    assert "my-nginx" in cluster._repr_html_()


def test_importing_labkit_and_its_panels_does_not_import_matplotlib_or_ipywidgets():
    code = ("import sys, labkit, labkit.plots, labkit.widgets, labkit.timeline, labkit.exercises;"
            "heavy = {'matplotlib', 'ipywidgets', 'pandas'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

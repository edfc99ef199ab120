"""Chapter 02's figures: the utilization heatmap and the spreading-vs-bin-packing comparison.

Each figure has a title, axis labels with units and a legend (or a colour bar for the
heatmap's scale), and the packing measures follow their stated definitions exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from support import pixels

import labkit
from labkit import plots
from labkit.plots import PackingSample, packing_sample
from labkit.widgets.scheduling import WhatIfPod, playground_cluster, pod_manifest

GI = 1024**3
BIN_PACKING = "data/scheduler/bin-packing.yaml"


def node(name: str, cpu: str = "4", memory: str = "16Gi") -> dict[str, Any]:
    res = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"capacity": dict(res), "allocatable": dict(res)}}


def pod(name: str, cpu: str, memory: str, node_name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.37",
                                            "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}




@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    return playground_cluster()


@pytest.fixture(scope="module")
def hand_made() -> labkit.Cluster:
    """Four 4-vCPU/16-GiB nodes with known requests (pods bound by nodeName, no scheduling)."""
    c = labkit.Cluster(seed=0, kubelets=False)
    c.apply([node(n) for n in "abcd"])
    c.apply([pod("p1", "3", "1Gi", "a"), pod("p2", "1", "1Gi", "b"), pod("p3", "500m", "14Gi", "d")])
    c.run()
    return c


# -- the heatmap ---------------------------------------------------------------------------------------
def test_heatmap_has_title_labels_and_a_colour_bar_with_units(cluster):
    fig = plots.utilization_heatmap(cluster)
    ax, cax = fig.axes
    assert ax.get_title() == "Requested share of allocatable per node"
    assert ax.get_xlabel() == "resource" and ax.get_ylabel() == "node"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cpu", "memory"]
    assert cax.get_ylabel() == "requested / allocatable (%)"


def test_heatmap_cells_are_the_requested_share_of_allocatable(cluster):
    ax = plots.utilization_heatmap(cluster).axes[0]
    usage = plots.node_usage(cluster)
    data = ax.get_images()[0].get_array()
    assert data.shape == (len(usage), 2)
    for i, u in enumerate(usage):
        assert data[i, 0] == pytest.approx(100 * u["cpu_requested_m"] / u["cpu_allocatable_m"])
        assert data[i, 1] == pytest.approx(100 * u["memory_requested_bytes"] / u["memory_allocatable_bytes"])
    names = [t.get_text() for t in ax.texts if t.get_text().startswith("cn-hangzhou.")]
    assert names == [u["node"] for u in usage]


def test_what_if_pod_outlines_the_chosen_node_and_shows_before_and_after(cluster):
    manifest = pod_manifest(WhatIfPod(cpu="1", memory="2Gi"))
    chosen = cluster.explain(manifest).chosen
    fig = plots.utilization_heatmap(cluster, manifest)
    ax = fig.axes[0]
    assert chosen in ax.get_title()
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["chosen node, with the what-if pod"]
    row = [u["node"] for u in plots.node_usage(cluster)].index(chosen)
    u = plots.node_usage(cluster)[row]
    after = 100 * (u["cpu_requested_m"] + 1000) / u["cpu_allocatable_m"]
    assert ax.get_images()[0].get_array()[row, 0] == pytest.approx(after)
    assert any("\u2192" in t.get_text() for t in ax.texts)
    assert len(cluster.list("Pod")) == 8, "the what-if pod is not applied"


def test_a_pod_that_fits_nowhere_is_said_in_the_title_without_an_outline(cluster):
    fig = plots.utilization_heatmap(cluster, pod_manifest(WhatIfPod(cpu="64")))
    assert fig.axes[0].get_title().endswith("what-if pod fits on no node")
    assert not fig.legends and not fig.axes[0].patches


def test_heatmap_of_an_empty_cluster_still_draws():
    ax = plots.utilization_heatmap(labkit.Cluster(seed=0)).axes[0]
    assert any(t.get_text() == "no nodes" for t in ax.texts)


def test_heatmap_is_identical_for_the_same_seed():
    manifest = pod_manifest(WhatIfPod())
    a = plots.utilization_heatmap(playground_cluster(seed=3), manifest)
    b = plots.utilization_heatmap(playground_cluster(seed=3), manifest)
    assert np.array_equal(pixels(a), pixels(b))


# -- packing measures -----------------------------------------------------------------------------------
def test_nodes_in_use_count_nodes_holding_at_least_one_pod(hand_made):
    s = packing_sample(hand_made)
    assert (s.nodes, s.nodes_in_use, s.pods_bound) == (4, 3, 3)
    assert (s.cpu_allocatable_m, s.cpu_requested_m, s.free_cpu_m) == (16000, 4500, 11500)


def test_fragmented_cpu_is_free_cpu_where_the_reference_pod_no_longer_fits(hand_made):
    s = packing_sample(hand_made, ref_cpu="2", ref_memory="4Gi")
    # a: 1 vCPU free (too little cpu); d: 3.5 vCPU free but 2 GiB memory (too little memory);
    # b (3 vCPU, 15 GiB free) and the empty c take a 2-vCPU/4-GiB pod.
    assert s.fragmented_cpu_m == 1000 + 3500
    assert s.fragmentation_pct == pytest.approx(100 * 4500 / 11500)
    assert (s.ref_cpu_m, s.ref_memory_bytes) == (2000, 4 * GI)


def test_a_smaller_reference_pod_finds_less_fragmentation(hand_made):
    assert packing_sample(hand_made, ref_cpu="500m", ref_memory="1Gi").fragmented_cpu_m == 0


def test_a_full_cluster_has_no_free_cpu_and_zero_fragmentation():
    s = PackingSample(0.0, 1, 1, 1, 4000, 4000, 0, 2000, 4 * GI)
    assert s.free_cpu_m == 0 and s.fragmentation_pct == 0.0


def test_samples_frame_has_one_row_per_sample_and_the_fragmentation(hand_made):
    frame = plots.samples_frame({"A": [packing_sample(hand_made)], "B": [packing_sample(hand_made)] * 2})
    assert list(frame["run"]) == ["A", "B", "B"]
    assert frame.loc[0, "fragmentation_pct"] == pytest.approx(packing_sample(hand_made).fragmentation_pct)
    assert {"time_s", "nodes_in_use", "fragmented_cpu_m"} <= set(frame.columns)


# -- the comparison figures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs() -> tuple[dict[str, labkit.Cluster], dict[str, list[PackingSample]]]:
    """Twelve pods of 1 vCPU on four nodes, under each strategy, sampled after each arrival."""
    clusters, samples = {}, {}
    for name, config in (("LeastAllocated", None), ("MostAllocated", BIN_PACKING)):
        c = labkit.Cluster(seed=0, scheduler_config=config, kubelets=False)
        c.add_node_pool("pool-a", "ecs.g7.xlarge", 4)
        series = []
        for i in range(6):
            c.apply(pod(f"p{i}", "1", "2Gi"))
            c.run()
            series.append(packing_sample(c))
        clusters[name], samples[name] = c, series
    return clusters, samples


def test_bin_packing_uses_fewer_nodes_than_spreading(runs):
    _, samples = runs
    assert samples["LeastAllocated"][-1].nodes_in_use == 4
    assert samples["MostAllocated"][-1].nodes_in_use == 2


def test_cpu_per_node_figure_sorts_nodes_fullest_first_per_strategy(runs):
    clusters, _ = runs
    ax = plots.cpu_per_node_figure(clusters).axes[0]
    assert ax.get_title() and ax.get_xlabel() == "node, fullest first (rank)"
    assert ax.get_ylabel() == "cpu requested / allocatable (%)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["LeastAllocated", "MostAllocated"]
    for container in ax.containers:
        heights = [bar.get_height() for bar in container]
        assert heights == sorted(heights, reverse=True)
    most = [bar.get_height() for bar in ax.containers[1]]
    assert most[2:] == [0, 0]


def test_nodes_in_use_figure_has_one_line_per_run_and_the_cluster_size(runs):
    _, samples = runs
    ax = plots.nodes_in_use_figure(samples).axes[0]
    assert ax.get_xlabel() == "simulated time (s)" and ax.get_ylabel() == "nodes with \u2265 1 pod"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["LeastAllocated", "MostAllocated", "cluster size (4 nodes)"]
    assert list(ax.get_lines()[1].get_ydata()) == [s.nodes_in_use for s in samples["MostAllocated"]]


def test_fragmentation_figure_states_its_reference_pod_and_plots_percent(runs):
    _, samples = runs
    ax = plots.fragmentation_figure(samples).axes[0]
    assert "2 vCPU, 4 GiB" in ax.get_title()
    assert ax.get_ylabel() == "free cpu where it no longer fits (%)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["LeastAllocated", "MostAllocated"]
    assert list(ax.get_lines()[0].get_ydata()) == [s.fragmentation_pct for s in samples["LeastAllocated"]]


def test_comparison_figures_accept_no_runs():
    for fig in (plots.cpu_per_node_figure({}), plots.nodes_in_use_figure({}), plots.fragmentation_figure({})):
        assert fig.axes[0].get_title()

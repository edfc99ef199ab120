"""explain's HTML view is readable: short node labels, total first, no NaN, two kinds of blank told apart."""

from __future__ import annotations

import re

import pytest
from support import chapter02_cluster

import labkit
from labkit.cloud.ecs import short_node_label

ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]


@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    return chapter02_cluster()


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr[^>]*>(.*?)</tr>", html.split("<tbody>", 1)[1])


def test_node_labels_name_pool_zone_and_ip(cluster):
    node = cluster.get("Node", "cn-hangzhou.10.1.1.1", namespace=None)
    pools = {labkit.cloud.nodepool_id(p): p for p in ("general", "batch", "memory")}
    assert short_node_label(node, pools) == "batch · i · 10.1.1.1"


def test_a_hand_written_node_is_shown_by_its_name():
    assert short_node_label({"metadata": {"name": "worker-1"}}, {}) == "worker-1"


def test_the_html_has_no_nan_and_puts_total_next_to_the_node(cluster):
    html = cluster.explain("web-1")._repr_html_()
    assert "NaN" not in html and "nan" not in html
    headers = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)
    assert headers[0] == "node" and headers[1] == "total" and headers[2] == "filter"
    assert "memory · h · 10.2.0.1" in html


def test_the_winner_is_highlighted_and_the_weights_line_is_shown(cluster):
    e = cluster.explain("web-1")
    html = e._repr_html_()
    chosen = [r for r in _rows(html) if "&#9733;" in r]
    assert len(chosen) == 1 and e.node_labels[e.chosen] in chosen[0]
    assert "total = 3&times;TaintToleration" in html


def test_filtered_rows_and_skipped_plugins_are_two_different_blanks(cluster):
    decision = cluster.explain("cache-1")
    html = decision._repr_html_()
    assert "grey row</span>: filtered out" in html and "never scored" in html
    # Skipped plugins are folded into the legend by default, and shown as marked columns on request.
    assert "not shown: NodeAffinity, PodTopologySpread, InterPodAffinity skipped themselves" in html
    assert "title='NodeAffinity'" not in html
    asked = decision.view(["NodeAffinity", "NodeResourcesFit"])._repr_html_()
    assert "<small>skipped</small>" in asked and "<i>skipped</i> column" in asked


def test_ties_are_marked_and_explained_as_the_first_found_not_random(cluster):
    html = cluster.explain("web-1")._repr_html_()
    assert "an early-found one, not a coin toss" in html and "random" not in html
    assert sum("= " in r.split("</td>")[0] for r in _rows(html)) == 1  # memory · i ties with the winner


def test_view_restricts_the_score_columns_and_refuses_unknown_plugins(cluster):
    view = cluster.explain("web-1").view(["NodeResourcesFit"])
    headers = re.findall(r"<th[^>]*title='([^']*)'", view._repr_html_())
    assert headers == ["NodeResourcesFit"]
    with pytest.raises(ValueError, match="not a score plugin"):
        cluster.explain("web-1").view(["LeastAllocated"])


def test_a_large_cluster_shows_the_best_rows_and_says_how_many_more():
    c = labkit.Cluster(seed=0, kubelets=False)
    c.add_node_pool("big", "ecs.g7.xlarge", 120, zones=ZONES)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    e = c.explain(pod)
    html = e.view(max_rows=10)._repr_html_()
    assert len(_rows(html)) == 11 and "110 more nodes" in html and "&#9733;" in _rows(html)[0]


def test_an_unschedulable_pod_shows_its_failed_scheduling_message(cluster):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge"},
           "spec": {"containers": [{"name": "c", "image": "nginx",
                                    "resources": {"requests": {"cpu": "64"}}}]}}
    html = cluster.explain(pod)._repr_html_()
    assert "unschedulable" in html and "0/7 nodes are available" in html

"""Chapter 02's exercise checks: right answers pass, wrong ones get a hint that never gives the answer."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import chapter02_cluster

import labkit
from labkit.exercises import (
    check_deciding_plugin,
    check_pool_prediction,
    check_reason_count,
    check_toleration,
)

ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
ZONE_J = "cn-hangzhou.10.0.2.1"  # the only general-purpose node in cn-hangzhou-j
API = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api"},
       "spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
           {"weight": 50, "preference": {"matchExpressions": [
               {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["cn-hangzhou-j"]}]}}]}},
                "containers": [{"name": "api", "image": "nginx:1.27",
                                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}
BATCH_TOLERATION = {"key": "workload", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}


def chapter_cluster() -> labkit.Cluster:
    return chapter02_cluster("data/manifests/scheduling/nightly-report.yaml",
                             "data/manifests/scheduling/too-big.yaml")


@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    return chapter_cluster()


# -- exercise 1: which node, which plugin -----------------------------------------------------------
def test_the_zone_preference_decides_and_the_check_says_by_how_much(cluster, capsys):
    assert cluster.explain(API).chosen == ZONE_J
    assert check_deciding_plugin(ZONE_J, "NodeAffinity", cluster, API)
    out = capsys.readouterr().out
    assert out.startswith("Correct") and "2 x 100 = 200 points" in out


def test_plugin_names_are_matched_without_case_or_spaces(cluster, capsys):
    assert check_deciding_plugin(f" {ZONE_J} ", " nodeaffinity ", cluster, API)


@pytest.mark.parametrize(("node", "plugin"), [(..., "NodeAffinity"), (ZONE_J, ...), (..., ...)])
def test_the_unanswered_stubs_get_a_hint_about_explain(cluster, node, plugin, capsys):
    assert not check_deciding_plugin(node, plugin, cluster, API)
    out = capsys.readouterr().out
    assert out.startswith("Replace the ... above") and "c.explain(api)" in out and ZONE_J not in out


def test_a_filtered_node_is_named_as_never_a_candidate(cluster, capsys):
    assert not check_deciding_plugin("cn-hangzhou.10.1.0.1", "NodeAffinity", cluster, API)
    out = capsys.readouterr().out
    assert "filtered out" in out and "untolerated taint" in out and ZONE_J not in out


def test_a_feasible_but_lower_node_is_told_to_compare_totals(cluster, capsys):
    assert not check_deciding_plugin("cn-hangzhou.10.0.0.1", "NodeAffinity", cluster, API)
    out = capsys.readouterr().out
    assert "higher total" in out and ZONE_J not in out


def test_the_right_node_with_a_plugin_that_did_not_decide_gets_the_weighted_rule(cluster, capsys):
    assert not check_deciding_plugin(ZONE_J, "NodeResourcesFit", cluster, API)
    out = capsys.readouterr().out
    assert "weight x (score on the winner" in out and "NodeAffinity" not in out


def test_a_plugin_that_skipped_itself_cannot_have_decided(cluster, capsys):
    assert not check_deciding_plugin(ZONE_J, "PodTopologySpread", cluster, API)
    assert "skipped itself" in capsys.readouterr().out


@pytest.mark.parametrize(("node", "plugin", "expected"), [
    ("node-9", "NodeAffinity", "no node named"),
    (ZONE_J, "LeastAllocated", "not a score plugin"),
    (3, "NodeAffinity", "two strings"),
])
def test_unknown_names_and_wrong_types_are_explained(cluster, node, plugin, expected, capsys):
    assert not check_deciding_plugin(node, plugin, cluster, API)
    assert expected in capsys.readouterr().out


def test_a_pod_that_fits_nowhere_has_no_deciding_plugin(cluster, capsys):
    huge = copy.deepcopy(API)
    huge["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "64"
    assert not check_deciding_plugin(ZONE_J, "NodeAffinity", cluster, huge)
    assert "fits on no node" in capsys.readouterr().out


# -- exercise 2: one toleration -----------------------------------------------------------------------
def test_the_pod_is_pending_before_the_exercise(cluster):
    pod = cluster.get("Pod", "nightly-report")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")


@pytest.mark.parametrize("toleration", [
    BATCH_TOLERATION,
    {"key": "workload", "value": "batch", "effect": "NoSchedule"},  # operator defaults to Equal
])
def test_a_toleration_of_exactly_the_batch_taint_is_correct(cluster, toleration, capsys):
    assert check_toleration(toleration, cluster, "nightly-report")
    assert capsys.readouterr().out.startswith("Correct")
    assert not cluster.get("Pod", "nightly-report")["spec"].get("nodeName"), "the check applies nothing"


@pytest.mark.parametrize(("toleration", "expected"), [
    ({"key": "workload", "operator": "Exists", "effect": "NoSchedule"}, "workload=<any value>"),
    ({"key": "workload", "operator": "Exists"}, "workload=<any value>"),
    ({"key": "workload", "operator": "Equal", "value": "batch"}, "NoExecute"),
])
def test_a_toleration_that_works_but_tolerates_more_is_refused(cluster, toleration, expected, capsys):
    """The prompt says "no broader than it needs to be": the pod would fit, and still it is not yet right."""
    assert not check_toleration(toleration, cluster, "nightly-report")
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and "broader than it needs to be" in out and expected in out


def test_an_api_error_names_the_learners_own_toleration(cluster, capsys):
    """The defaults that admission adds come after the learner's toleration, so the path says [0]."""
    assert not check_toleration({"key": "workload", "operator": "Exists", "value": "batch"}, cluster,
                                "nightly-report")
    assert "spec.tolerations[0]" in capsys.readouterr().out


def test_a_check_cell_shows_one_paragraph_and_no_true_echo(cluster, capsys):
    verdict = check_toleration(BATCH_TOLERATION, cluster, "nightly-report")
    assert verdict and verdict._ipython_display_() is None
    assert capsys.readouterr().out.count("\n") == 1


def test_tolerating_every_taint_is_refused_as_too_broad(cluster, capsys):
    assert not check_toleration({"operator": "Exists"}, cluster, "nightly-report")
    assert "every taint" in capsys.readouterr().out


@pytest.mark.parametrize(("toleration", "expected"), [
    ({"key": "workload", "operator": "Equal", "value": "memory", "effect": "NoSchedule"}, "fits nowhere"),
    ({**BATCH_TOLERATION, "effect": "PreferNoSchedule"}, "fits nowhere"),
    ({"key": "workload", "operator": "Exists", "value": "batch"}, "refuse"),
    ([BATCH_TOLERATION], "a list"),
    ("workload=batch:NoSchedule", "expected a dict"),
])
def test_wrong_tolerations_get_a_hint(cluster, toleration, expected, capsys):
    assert not check_toleration(toleration, cluster, "nightly-report")
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and expected in out


def test_the_toleration_stub_points_to_explain_and_the_node_taints(cluster, capsys):
    assert not check_toleration(..., cluster, "nightly-report")
    out = capsys.readouterr().out
    assert 'c.explain("nightly-report")' in out and "batch" not in out


def test_a_missing_pod_is_reported_by_the_toleration_check(cluster, capsys):
    assert not check_toleration(BATCH_TOLERATION, cluster, "nope")
    assert "no Pod default/nope" in capsys.readouterr().out


# -- exercise 3: read the message ----------------------------------------------------------------------
def test_the_message_of_the_too_big_pod_is_read_per_reason(cluster, capsys):
    message = cluster.explain("analytics").message
    # Sorted as text: "2 Insufficient cpu" before "2 node(s) ..." ("I" < "n" in byte order).
    assert message.startswith("0/7 nodes are available: 2 Insufficient cpu, 2 node(s) had untolerated "
                              "taint(s), 3 Insufficient memory.")
    assert check_reason_count(3, cluster, "analytics")
    assert check_reason_count(2, cluster, "analytics", reason="Insufficient cpu")
    assert capsys.readouterr().out.count("Correct") == 2


def test_a_count_given_as_digits_is_accepted(cluster, capsys):
    assert check_reason_count(" 3 ", cluster, "analytics")


@pytest.mark.parametrize(("answer", "expected"), [
    (2, "that is the count for"),
    (7, "number of nodes in the cluster"),
    (5, "first half of the message"),
    (..., "Replace the ... above"),
    (3.0, "a whole number"),
    (True, "a whole number"),
])
def test_wrong_counts_get_a_hint(cluster, answer, expected, capsys):
    assert not check_reason_count(answer, cluster, "analytics")
    out = capsys.readouterr().out
    assert expected in out


def test_a_pod_without_failed_scheduling_events_is_reported(cluster, capsys):
    assert not check_reason_count(0, cluster, "web-1")
    assert "no FailedScheduling event" in capsys.readouterr().out


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(st.integers(-5, 50), st.text(max_size=6), st.none(), st.floats(allow_nan=False)))
def test_no_wrong_count_ever_reveals_the_right_one(cluster, capsys, answer):
    capsys.readouterr()
    right = 3
    if isinstance(answer, int) and not isinstance(answer, bool) and answer == right:
        return
    if isinstance(answer, str) and answer.strip() == str(right):
        return
    assert not check_reason_count(answer, cluster, "analytics")
    assert f"{right} Insufficient memory" not in capsys.readouterr().out


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(node=st.sampled_from(["cn-hangzhou.10.0.0.1", "cn-hangzhou.10.0.1.1", "cn-hangzhou.10.1.0.1",
                             "cn-hangzhou.10.1.1.1", "cn-hangzhou.10.2.0.1"]),
       plugin=st.sampled_from(["TaintToleration", "NodeResourcesFit", "ImageLocality", "x"]))
def test_no_wrong_plugin_answer_ever_reveals_node_or_plugin(cluster, capsys, node, plugin):
    capsys.readouterr()
    assert not check_deciding_plugin(node, plugin, cluster, API)
    out = capsys.readouterr().out
    assert ZONE_J not in out and "NodeAffinity" not in out


# -- the pool prediction ------------------------------------------------------------------------------
WEB4 = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-4", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                 "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}


def test_a_pool_prediction_is_compared_with_the_what_if_and_then_told(cluster, capsys):
    actual = check_pool_prediction("General ", cluster, WEB4)  # case and spaces forgiven
    out = capsys.readouterr().out
    assert actual and out.startswith("Correct: you predicted general") and "10.0.1.1" in out
    assert not check_pool_prediction("memory", cluster, WEB4)
    assert capsys.readouterr().out.startswith("Not what happens: you predicted memory")


@pytest.mark.parametrize(("prediction", "expected"),
                         [(..., "Replace the ... above"), ("gpu", "one of the pool"), (2, "one of the pool")])
def test_a_pool_prediction_that_names_no_pool_gets_a_pointer(cluster, prediction, expected, capsys):
    assert not check_pool_prediction(prediction, cluster, WEB4)
    assert expected in capsys.readouterr().out

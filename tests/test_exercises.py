"""labkit.exercises: checks say right or wrong, hint when wrong, and never print the answer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import chapter00_cluster

import labkit
from labkit.exercises import (
    check_node_of_pod,
    check_rollout_peak,
    check_selected_count,
    check_service_selects,
)


@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    return chapter00_cluster(recorded=False, service=False)


@pytest.fixture(scope="module")
def node(cluster) -> str:
    return cluster.get("Pod", "my-nginx")["spec"]["nodeName"]


def test_the_node_read_from_spec_node_name_is_correct(cluster, node, capsys):
    assert check_node_of_pod(node, cluster)
    assert capsys.readouterr().out.startswith("Correct")


def test_surrounding_whitespace_is_forgiven(cluster, node, capsys):
    assert check_node_of_pod(f"  {node}\n", cluster)


def test_the_unanswered_stub_gets_a_hint_not_an_error(cluster, node, capsys):
    assert not check_node_of_pod(..., cluster)
    out = capsys.readouterr().out
    assert out.startswith("Replace the ... above") and 'c.get("Pod", "my-nginx")' in out and node not in out
    assert "no answer yet" not in out


def test_another_existing_node_is_wrong_and_the_hint_hides_the_answer(cluster, node, capsys):
    other = next(n["metadata"]["name"] for n in cluster.list("Node") if n["metadata"]["name"] != node)
    assert not check_node_of_pod(other, cluster)
    out = capsys.readouterr().out
    assert "exists" in out and node not in out


@pytest.mark.parametrize("field", ["hostIP", "podIP"])
def test_an_ip_address_from_status_gets_a_hint_about_names(cluster, node, field, capsys):
    assert not check_node_of_pod(cluster.get("Pod", "my-nginx")["status"][field], cluster)
    out = capsys.readouterr().out
    assert "IP address" in out and node not in out


def test_the_whole_pod_object_is_not_an_answer(cluster, node, capsys):
    assert not check_node_of_pod(cluster.get("Pod", "my-nginx"), cluster)
    assert "whole object" in capsys.readouterr().out


def test_a_non_string_gets_a_type_hint(cluster, capsys):
    assert not check_node_of_pod(3, cluster)
    assert "got an int" in capsys.readouterr().out


def test_before_the_cluster_runs_the_check_says_so(capsys):
    assert not check_node_of_pod("anything", chapter00_cluster(recorded=False, service=False, run=False))
    assert "not been scheduled yet" in capsys.readouterr().out


def test_a_missing_pod_is_reported(cluster, capsys):
    assert not check_node_of_pod("x", cluster, pod="nope")
    assert "no Pod default/nope" in capsys.readouterr().out


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(st.text(), st.none(), st.integers(), st.lists(st.text())))
def test_no_wrong_answer_ever_reveals_the_right_one(cluster, node, capsys, answer):
    capsys.readouterr()
    if isinstance(answer, str) and answer.strip() == node:
        return
    assert not check_node_of_pod(answer, cluster)
    assert node not in capsys.readouterr().out


# -- the Service exercises of chapter 00 ---------------------------------------------------------------
@pytest.fixture(scope="module")
def with_service() -> labkit.Cluster:
    return chapter00_cluster(recorded=False)


def test_a_prediction_of_the_selected_pods_is_compared_and_then_told(with_service, capsys):
    """A prediction is committed first, so the check tells the real count either way."""
    assert check_selected_count(0, with_service)
    assert capsys.readouterr().out.startswith("Correct: you predicted 0")
    assert not check_selected_count(1, with_service)
    out = capsys.readouterr().out
    assert out.startswith("Not what happens: you predicted 1") and "matches 0 pod(s)" in out


@pytest.mark.parametrize(("prediction", "expected"), [(..., "Replace the ... above"), ("1", "got a str"),
                                                      (True, "got a bool")])
def test_a_prediction_that_is_not_a_count_gets_a_pointer(with_service, prediction, expected, capsys):
    assert not check_selected_count(prediction, with_service)
    assert expected in capsys.readouterr().out


def test_labels_that_carry_the_selector_and_the_track_are_selected(with_service, capsys):
    labels = {"app": "my-nginx", "track": "canary"}
    assert check_service_selects(labels, with_service, must_have={"track": "canary"})
    assert "extra label(s) track" in capsys.readouterr().out


@pytest.mark.parametrize(("labels", "expected"), [
    ({"track": "canary"}, "label key this pod does not have"),
    ({"app": "My-Nginx", "track": "canary"}, "values must match exactly"),
    ({"app": "my-nginx"}, "also asks for track=canary"),
    ("app=my-nginx", "that is a string"),
    ({"app": "my nginx", "track": "canary"}, "would refuse the value"),
    ({"app": "my-nginx", "track": 1}, "quote numbers"),
    ([], "got a list"),
])
def test_labels_the_service_would_not_select_get_a_hint(with_service, labels, expected, capsys):
    assert not check_service_selects(labels, with_service, must_have={"track": "canary"})
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and expected in out


# -- the Deployment exercise of chapter 00 -----------------------------------------------------------
@pytest.fixture(scope="module")
def rolled() -> labkit.Cluster:
    from labkit import timeline as tl

    k = labkit.Cluster(seed=0)
    tl.record(k)
    k.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=3,
                    zones=["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"])
    k.apply("data/manifests/my-nginx-deployment.yaml")
    k.run()
    k.patch("Deployment", "my-nginx",
            {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "my-nginx:1.1"}]}}}})
    k.run()
    return k


def test_the_rollout_peak_is_replicas_plus_the_rounded_up_surge(rolled, capsys):
    assert check_rollout_peak(4, rolled, "my-nginx")
    assert capsys.readouterr().out.startswith("Correct: you predicted 4, and the ReplicaSets' sizes added up")
    assert not check_rollout_peak(3, rolled, "my-nginx")
    assert capsys.readouterr().out.startswith("Not what happens: you predicted 3")


@pytest.mark.parametrize(("prediction", "expected"), [(..., "Replace the ... above"), ("4", "got a str")])
def test_a_rollout_peak_prediction_that_is_not_a_count_gets_a_pointer(rolled, prediction, expected, capsys):
    assert not check_rollout_peak(prediction, rolled, "my-nginx")
    assert expected in capsys.readouterr().out


def test_an_unrecorded_cluster_is_told_to_record_first(capsys):
    k = labkit.Cluster(seed=0, kubelets=False)
    k.apply("data/manifests/my-nginx-deployment.yaml")
    assert not check_rollout_peak(4, k, "my-nginx")
    assert "labkit.timeline.record" in capsys.readouterr().out


def test_the_rollout_peak_check_waits_for_a_rolling_update(capsys):
    """Before the image change there is one ReplicaSet: a right prediction must not be told it is wrong."""
    from labkit import timeline as tl

    k = labkit.Cluster(seed=0)
    tl.record(k)
    k.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=3, zones=["cn-hangzhou-h"])
    k.apply("data/manifests/my-nginx-deployment.yaml")
    k.run()
    assert not check_rollout_peak(4, k, "my-nginx")
    assert "no rolling update yet" in capsys.readouterr().out

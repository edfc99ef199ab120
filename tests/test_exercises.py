"""labkit.exercises: checks say right or wrong, hint when wrong, and never print the answer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import chapter00_cluster

import labkit
from labkit.exercises import check_node_of_pod


@pytest.fixture(scope="module")
def cluster() -> labkit.Cluster:
    return chapter00_cluster(recorded=False, service=False)


@pytest.fixture(scope="module")
def node(cluster) -> str:
    return cluster.get("Pod", "my-nginx")["spec"]["nodeName"]


def test_the_node_read_from_spec_node_name_is_correct(cluster, node, capsys):
    assert check_node_of_pod(node, cluster) is True
    assert capsys.readouterr().out.startswith("Correct")


def test_surrounding_whitespace_is_forgiven(cluster, node, capsys):
    assert check_node_of_pod(f"  {node}\n", cluster) is True


def test_the_unanswered_stub_gets_a_hint_not_an_error(cluster, node, capsys):
    assert check_node_of_pod(..., cluster) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and 'c.get("Pod", "my-nginx")' in out and node not in out


def test_another_existing_node_is_wrong_and_the_hint_hides_the_answer(cluster, node, capsys):
    other = next(n["metadata"]["name"] for n in cluster.list("Node") if n["metadata"]["name"] != node)
    assert check_node_of_pod(other, cluster) is False
    out = capsys.readouterr().out
    assert "exists" in out and node not in out


@pytest.mark.parametrize("field", ["hostIP", "podIP"])
def test_an_ip_address_from_status_gets_a_hint_about_names(cluster, node, field, capsys):
    assert check_node_of_pod(cluster.get("Pod", "my-nginx")["status"][field], cluster) is False
    out = capsys.readouterr().out
    assert "IP address" in out and node not in out


def test_the_whole_pod_object_is_not_an_answer(cluster, node, capsys):
    assert check_node_of_pod(cluster.get("Pod", "my-nginx"), cluster) is False
    assert "whole object" in capsys.readouterr().out


def test_a_non_string_gets_a_type_hint(cluster, capsys):
    assert check_node_of_pod(3, cluster) is False
    assert "got a int" in capsys.readouterr().out


def test_before_the_cluster_runs_the_check_says_so(capsys):
    assert check_node_of_pod("anything", chapter00_cluster(recorded=False, service=False, run=False)) is False
    assert "not been scheduled yet" in capsys.readouterr().out


def test_a_missing_pod_is_reported(cluster, capsys):
    assert check_node_of_pod("x", cluster, pod="nope") is False
    assert "no Pod default/nope" in capsys.readouterr().out


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(st.text(), st.none(), st.integers(), st.lists(st.text())))
def test_no_wrong_answer_ever_reveals_the_right_one(cluster, node, capsys, answer):
    capsys.readouterr()
    if isinstance(answer, str) and answer.strip() == node:
        return
    assert check_node_of_pod(answer, cluster) is False
    assert node not in capsys.readouterr().out

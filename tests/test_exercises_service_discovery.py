"""Chapter 03's exercise checks: right answers pass, wrong ones get a hint that never gives the answer.

The DNS count is a prediction, so once a number is given the check tells the real count; the
other two (a preStop lifecycle, the node an SLB leaves out) only ever hint.
"""

from __future__ import annotations

import pytest

from labkit.exercises import Verdict, check_dns_queries, check_idle_node, check_prestop
from labkit.widgets.service_discovery import service_cluster


@pytest.fixture(scope="module")
def cluster():
    c = service_cluster()
    c.dns.add_external("www.aliyun.com", "106.11.93.21")
    return c


@pytest.fixture(scope="module")
def local_cluster():
    """my-nginx-lb with externalTrafficPolicy Local and two replicas on three nodes."""
    c = service_cluster(replicas=2)
    c.apply("data/manifests/service-discovery/my-nginx-lb.yaml")
    c.patch("Service", "my-nginx-lb", {"spec": {"externalTrafficPolicy": "Local"}})
    c.run()
    return c


def _said(capsys) -> str:
    return capsys.readouterr().out


# -- exercise 1: how many DNS queries ------------------------------------------------------------------
@pytest.mark.parametrize(("name", "count"), [("www.aliyun.com", 4), ("www.aliyun.com.", 1), ("my-nginx", 1),
                                             ("my-nginx.default", 2)])
def test_the_right_count_is_correct(cluster, capsys, name, count):
    verdict = check_dns_queries(count, cluster, name)
    assert isinstance(verdict, Verdict) and verdict
    assert _said(capsys).startswith("Correct:")


def test_a_wrong_prediction_is_told_the_count_and_why(cluster, capsys):
    assert not check_dns_queries(1, cluster, "www.aliyun.com")
    out = _said(capsys)
    assert out.startswith("Not what happens: you predicted 1") and "4 queries" in out and "ndots:5" in out


def test_an_unknown_name_counts_every_query_and_says_none_answered(cluster, capsys):
    assert check_dns_queries(4, cluster, "nothing.example")
    assert "none answered (NXDOMAIN)" in _said(capsys)


@pytest.mark.parametrize(("answer", "hint"), [(..., "Replace the ..."), ("4", "got a str"),
                                              (4.0, "got a float"), (True, "got a bool"),
                                              (0, "at least one query")])
def test_dns_hints_never_give_the_count(cluster, capsys, answer, hint):
    assert not check_dns_queries(answer, cluster, "www.aliyun.com")
    out = _said(capsys)
    assert hint in out and "4 queries" not in out


# -- exercise 2: a lifecycle that loses nothing ------------------------------------------------------------
def test_a_sleep_longer_than_kube_proxy_delay_is_correct(capsys):
    assert check_prestop({"preStop": {"sleep": {"seconds": 5}}})
    assert _said(capsys).startswith("Correct: none of")


def test_a_very_long_sleep_is_correct_with_a_remark(capsys):
    assert check_prestop({"preStop": {"sleep": {"seconds": 20}}})
    assert "20 s longer to stop" in _said(capsys)


def test_a_sleep_shorter_than_the_delay_still_loses_requests(capsys):
    assert not check_prestop({"preStop": {"sleep": {"seconds": 1}}})
    out = _said(capsys)
    assert out.startswith("Not yet:") and "refused" in out and "up to 2 s" in out


def test_an_exec_hook_is_explained_as_taking_no_time_in_the_lab(capsys):
    assert not check_prestop({"preStop": {"exec": {"command": ["sleep", "5"]}}})
    assert "takes no time here" in _said(capsys)


def test_a_sleep_longer_than_the_grace_period_is_the_api_servers_message(capsys):
    assert not check_prestop({"preStop": {"sleep": {"seconds": 45}}})
    assert "terminationGracePeriodSeconds" in _said(capsys)


@pytest.mark.parametrize(("answer", "hint"), [
    (..., "Replace the ..."), ("preStop", "got a str"),
    ({"lifecycle": {"preStop": {"sleep": {"seconds": 5}}}}, "lifecycle key of its own"),
    ({"postStart": {"sleep": {"seconds": 5}}}, "which one runs before"),
    ({"preStop": 5}, "got an int"),
])
def test_prestop_hints(capsys, answer, hint):
    assert not check_prestop(answer)
    assert hint in _said(capsys)


# -- exercise 3: the node the SLB leaves out ---------------------------------------------------------
def _idle(c) -> str:
    nodes = {n["metadata"]["name"] for n in c.list("Node")}
    (idle,) = nodes - set(c.endpoints("my-nginx-lb")["node"])
    return idle


def test_the_node_without_a_pod_is_correct(local_cluster, capsys):
    assert check_idle_node(_idle(local_cluster), local_cluster, "my-nginx-lb")
    assert _said(capsys).startswith("Correct:")


def test_a_node_with_a_pod_is_told_which_pod(local_cluster, capsys):
    busy = local_cluster.endpoints("my-nginx-lb")["node"][0]
    assert not check_idle_node(busy, local_cluster, "my-nginx-lb")
    out = _said(capsys)
    assert "my-nginx-" in out and _idle(local_cluster) not in out


@pytest.mark.parametrize(("answer", "hint"), [(..., "Replace the ..."), (["a"], "collection"),
                                              (3, "got an int"), ("node-7", "no node named")])
def test_idle_node_hints(local_cluster, capsys, answer, hint):
    assert not check_idle_node(answer, local_cluster, "my-nginx-lb")
    assert hint in _said(capsys)


def test_the_policy_must_be_local_first(cluster, capsys):
    cluster.apply("data/manifests/service-discovery/my-nginx-lb.yaml")
    assert not check_idle_node("cn-hangzhou.10.0.0.1", cluster, "my-nginx-lb")
    assert "'Cluster'" in _said(capsys)

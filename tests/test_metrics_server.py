"""metrics-server as ``pkg/storage`` computes it: two points per container, the implicit first point
of a fresh container, whole nanocores, the 15 s resolution, and what ``c.metrics`` and the HPA see."""

from __future__ import annotations

import math

import pytest
from kubernetes.utils import parse_quantity
from traffic_support import web_cluster

import labkit
from labkit.api.store import timestamp
from labkit.metrics.server import METRIC_RESOLUTION, Point, _usage, cpu_quantity

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "annotations": {"labkit.io/usage-cpu": "100m"}},
       "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


def _cluster(apply_at: float):
    c = labkit.Cluster(seed=1)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=1)
    c.run(until=apply_at)
    c.apply(POD)
    c.run()
    (cgroup,) = c.dataplane.containers
    return c, cgroup.started


def cluster_with_pod_started_at(offset: float):
    """A pod applied so that its container starts ``offset`` s after a scrape instant (roughly):
    how long pull, sandbox and start take is measured on a twin cluster first."""
    _, started = _cluster(10.0)
    return _cluster(30 + offset - (started - 10.0))


def first_sample(c):
    """The first scrape instant after which the pod has a sample, and that sample."""
    while True:
        nxt = (math.floor(c.now / METRIC_RESOLUTION) + 1) * METRIC_RESOLUTION
        c.run(until=nxt + 0.001)  # run(until=t) stops before the events at t
        m = c.metrics_server.pod_metrics("default")
        if "p" in m["pods"]:
            return nxt, m


def test_a_new_pod_has_no_sample_until_two_scrapes():
    c, started = cluster_with_pod_started_at(1.0)  # 14 s before the next scrape: too young (< 15 s)...
    at, m = first_sample(c)
    # ...at its first scrape the container is 14 s old (>= 10 s, < 15 s): an implicit first point
    assert at - started == pytest.approx(14.0, abs=0.2)
    assert m["window_s"] == pytest.approx(at - started)
    c2, started2 = cluster_with_pod_started_at(8.0)  # 7 s before the next scrape: under 10 s
    at2, m2 = first_sample(c2)
    assert at2 - started2 > METRIC_RESOLUTION  # two scrapes needed
    assert m2["window_s"] == METRIC_RESOLUTION
    assert m2["pods"]["p"]["cpu"] == "100m"


def test_the_window_is_the_resolution_and_the_timestamp_the_later_scrape():
    web = web_cluster(replicas=2)
    c = web.cluster
    c.run(until=100)
    m = c.metrics_server.pod_metrics("default")
    assert m["window_s"] == 15.0
    assert m["timestamp"] == timestamp(90.0, micro=True) == "2026-01-01T00:01:30.000000Z"
    assert set(m["pods"]) == set(web.pods_by_ip())
    df = c.metrics("Pod")
    assert (df["window_s"] == 15.0).all() and (df["timestamp_s"] == 90.0).all()


def test_cpu_is_whole_nanocores_truncated_and_the_hpa_reads_millicores_rounded_up():
    prev = Point(0.0, 15.0, 1_000_000_000, 10)
    last = Point(0.0, 30.0, 1_000_000_000 + 1_000_000_007, 20)
    nanocores, memory, ts, window, _ = _usage(last, prev)
    assert (nanocores, memory, ts, window) == (66_666_667, 20, 30.0, 15.0)  # 66_666_667.13 truncated
    assert cpu_quantity(nanocores) == "67m"  # Quantity.MilliValue() rounds up
    assert parse_quantity(cpu_quantity(nanocores)) * 1000 == 67
    assert _usage(Point(0.0, 30.0, 5, 0), Point(0.0, 15.0, 6, 0)) is None  # a decreased counter: skipped
    assert _usage(Point(0.0, 30.0, 9, 0), Point(1.0, 15.0, 6, 0)) is None  # start time went backwards


def test_pod_metrics_has_the_reconcile_shape_and_parses_with_the_kubernetes_client():
    web = web_cluster(replicas=2, annotations={"labkit.io/cpu-per-request": "15m"})
    c = web.cluster
    c.traffic(web.target, rate=40, duration=60)
    c.run(until=c.now + 50)
    m = c.metrics_server.pod_metrics("default", names=web.pods_by_ip() + ["not-a-pod"])
    assert set(m) == {"timestamp", "window_s", "pods"}
    assert isinstance(m["window_s"], float) and m["timestamp"].endswith("Z") and "." in m["timestamp"]
    assert set(m["pods"]) == set(web.pods_by_ip())  # a pod without a sample is absent
    for sample in m["pods"].values():
        assert set(sample) == {"cpu", "memory", "requests_per_second"}
        cpu, rps = parse_quantity(sample["cpu"]), parse_quantity(sample["requests_per_second"])
        assert float(cpu) == pytest.approx(0.001 + 0.015 * float(rps), rel=0.02, abs=0.0011)
        assert parse_quantity(sample["memory"]) == 8 * 1024 * 1024
    assert c.metrics_server.pod_metrics("kube-system")["pods"] == {}


def test_c_metrics_frames_are_kubectl_top_pod_and_node():
    web = web_cluster(replicas=3, annotations={"labkit.io/usage-cpu": "200m",
                                               "labkit.io/usage-memory": "64Mi"})
    c = web.cluster
    c.run(until=c.now + 40)
    pods = c.metrics("Pod")
    assert list(pods.columns) == ["pod", "namespace", "cpu_m", "cpu_nanocores", "memory_bytes", "window_s",
                                  "timestamp_s"]
    assert len(pods) == 3 and (pods["cpu_m"] == 200).all() and (pods["memory_bytes"] == 64 * 2**20).all()
    assert len(c.metrics("Pod", namespace="kube-system")) == 0
    nodes = c.metrics("Node")
    assert list(nodes.columns) == ["node", "cpu_m", "cpu_percent", "memory_bytes", "memory_percent",
                                   "window_s", "timestamp_s"]
    assert len(nodes) == 3
    # the node total: its pods plus what the node itself runs (50m, 512Mi)
    per_node = {n: sum(200 for p in web.pods if p["spec"]["nodeName"] == n) for n in nodes["node"]}
    for row in nodes.to_dict("records"):
        assert row["cpu_m"] == per_node[row["node"]] + 50
    with pytest.raises(ValueError, match="kubectl top"):
        c.metrics("Deployment")


def test_a_failed_node_drops_out_and_its_pods_lose_their_samples():
    web = web_cluster(replicas=3, nodes=3)
    c = web.cluster
    c.run(until=c.now + 40)
    node = web.pods[0]["spec"]["nodeName"]
    c.fail_node(node)
    c.run(until=c.now + 16)
    gone = {p["metadata"]["name"] for p in web.pods if p["spec"]["nodeName"] == node}
    assert not gone & set(c.metrics_server.pod_metrics("default")["pods"])
    assert node not in set(c.metrics("Node")["node"])


def test_the_scrape_loop_never_keeps_run_going_alone():
    c = labkit.Cluster()
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=1)
    c.run()
    assert c.now < 60
    c.run(until=c.now + 120)
    assert c.metrics_server.scrapes >= 8
    with pytest.raises(ValueError, match="at least 10 s"):
        type(c.metrics_server)(c.env, c.api, c.dataplane, resolution=5)

"""Containers' CPU and memory as the kubelet reports them: fixed by annotations, or derived from the
requests served (``labkit.io/cpu-per-request``), capped by a CPU limit (CFS quota, spec 12.1)."""

from __future__ import annotations

import numpy as np
import pytest
from traffic_support import web_cluster
from usage_support import limited_web_cluster

import labkit
from labkit.metrics.usage import IDLE_CPU_CORES, IDLE_MEMORY_BYTES, cpu_seconds

MI = 1024 * 1024


def top(c) -> dict[str, dict]:
    return {r["pod"]: r for r in c.metrics("Pod").to_dict("records")}


def test_usage_from_annotations_is_what_metrics_server_reports():
    web = web_cluster(replicas=2, annotations={"labkit.io/usage-cpu": "250m",
                                               "labkit.io/usage-memory": "300Mi"})
    c = web.cluster
    c.run(until=c.now + 40)
    rows = top(c)
    assert set(rows) == set(web.pods_by_ip())
    for r in rows.values():
        assert r["cpu_m"] == 250 and r["memory_bytes"] == 300 * MI
        assert abs(r["cpu_nanocores"] - 250_000_000) <= 1  # truncation of Δcpu/Δt only


def test_pods_without_traffic_or_annotations_use_the_idle_baseline():
    web = web_cluster(replicas=2)
    c = web.cluster
    c.run(until=c.now + 40)
    for r in top(c).values():
        assert r["cpu_m"] == round(IDLE_CPU_CORES * 1000) and r["memory_bytes"] == IDLE_MEMORY_BYTES


def test_derived_usage_tracks_rate_times_cpu_per_request():
    web = web_cluster(replicas=2, concurrency=4, annotations={"labkit.io/cpu-per-request": "15m"})
    c = web.cluster
    t = c.traffic(web.target, rate=100, duration=120)
    c.run(until=c.now + 100)
    samples = c.metrics_server.pod_usage("default")
    assert len(samples) == 2
    for m in samples:
        # the 1m baseline plus 15m per request/s served in the window (within its edges' spans)
        assert m["cpu_nanocores"] / 1e6 == pytest.approx(1 + 15 * m["requests_per_second"], rel=0.01)
    # 100 requests/s x 0.015 core-seconds = 1.5 cores over both pods (Poisson noise in 15 s: ~2.6%)
    assert sum(m["cpu_nanocores"] for m in samples) / 1e6 == pytest.approx(1500 + 2, rel=0.1)
    # over the whole run, the counter is baseline x time + requests x cost, exactly (at whole seconds)
    c.run()
    by_pod = t.by_pod().set_index("pod")
    end = float(np.ceil(c.now))
    for sock in c.dataplane.sockets:
        n = by_pod.loc[sock.name, "requests"]
        alive = end - sock.started
        assert cpu_seconds(sock, end) == pytest.approx(IDLE_CPU_CORES * alive + 0.015 * n, rel=1e-9)


def test_a_cpu_limit_caps_usage_and_lengthens_latency():
    ann = {"labkit.io/cpu-per-request": "10m"}
    free = web_cluster(replicas=1, concurrency=4, annotations=ann)
    capped = limited_web_cluster(cpu_limit="200m", replicas=1, concurrency=4, annotations=ann)
    out = {}
    for name, web in (("free", free), ("capped", capped)):
        c = web.cluster
        t = c.traffic(web.target, rate=30, duration=60, timeout=30)  # demand 300m
        c.run(until=c.now + 50)
        out[name] = (top(c)[web.pods_by_ip()[0]], t)
        c.run()
        sock = c.dataplane.sockets[0]
        # never above the limit over any whole second (ten CFS periods)
        start = int(np.ceil(sock.started))
        cum = np.array([cpu_seconds(sock, float(k)) for k in range(start, int(c.now))])
        if name == "capped":
            assert np.diff(cum).max() <= 0.2 + 1e-9
    assert out["free"][0]["cpu_m"] == pytest.approx(301, rel=0.15)
    assert out["capped"][0]["cpu_m"] <= 200
    assert out["capped"][0]["cpu_m"] >= 190  # saturated: it uses its whole quota
    # the pod can serve 200m / 10m = 20 requests/s: latency grows, the queue builds up
    assert out["capped"][1].summary()["p50_s"] > 5 * out["free"][1].summary()["p50_s"]


@pytest.mark.parametrize("key, value", [
    ("labkit.io/cpu-per-request", "15 m"),
    ("labkit.io/cpu-per-request", "-1m"),
    ("labkit.io/usage-cpu", "lots"),
    ("labkit.io/usage-memory", "300MB"),
])
def test_annotation_validation_errors_name_the_field_path(key, value):
    c = labkit.Cluster()
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}, "annotations": {key: value}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    with pytest.raises(labkit.ManifestError) as err:
        c.apply(dep)
    assert err.value.path == f"spec.template.metadata.annotations[{key}]"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {key: value}},
           "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    with pytest.raises(labkit.ManifestError) as err:
        c.apply(pod)
    assert err.value.path == f"metadata.annotations[{key}]"

"""``mode="fluid"``: expected flows per tick through the same Services and pods. It agrees with
request-level traffic on where requests go, what the pods use and what an HPA would see, and a
simulated day takes seconds."""

from __future__ import annotations

import time

import numpy as np
import pytest
from traffic_support import web_cluster
from usage_support import limited_web_cluster

from labkit.metrics.usage import cpu_seconds
from labkit.workloads import Diurnal

ANN = {"labkit.io/cpu-per-request": "15m"}


def run_both(**kw):
    out = {}
    for mode in ("requests", "fluid"):
        web = web_cluster(replicas=4, concurrency=2, annotations=ANN, **kw)
        c = web.cluster
        t = c.traffic(web.target, rate=150, duration=300, mode=mode)
        c.run(until=c.now + 200)
        hpa = c.metrics_server.pod_usage("default")
        c.run()
        out[mode] = (c, t, hpa)
    return out


@pytest.mark.parametrize("proxy_mode", ["iptables", "ipvs"])
def test_fluid_and_requests_agree_on_served_counts_utilization_and_what_an_hpa_sees(proxy_mode):
    out = run_both(proxy_mode=proxy_mode)
    (cr, tr, hr), (cf, tf, hf) = out["requests"], out["fluid"]
    sr, sf = tr.summary(), tf.summary()
    assert set(sr) == set(sf)
    assert sf["sent"] == pytest.approx(sr["sent"], rel=0.03) and sf["failed"] == sr["failed"] == 0
    assert sf["in_flight"] == 0
    br, bf = tr.by_pod().set_index("pod"), tf.by_pod().set_index("pod")
    assert list(br.index) == list(bf.index)  # the same seed: the same pods
    assert np.allclose(bf["requests"], br["requests"], rtol=0.04)
    # M/M/2 vs the simulated queue; with ipvs rr each pod's arrivals are more regular than Poisson
    # (every 4th request: Erlang-4), so the real queue is shorter than M/M/c says
    tol = 0.1 if proxy_mode == "iptables" else 0.15
    assert np.allclose(bf["mean_s"], br["mean_s"], rtol=tol)
    assert sf["p99_s"] == pytest.approx(sr["p99_s"], rel=tol + 0.05)
    # mean utilization: CPU used per request served
    for c, t in ((cr, tr), (cf, tf)):
        end = float(np.ceil(c.now))
        per = [cpu_seconds(s, end) / t.by_pod().set_index("pod").loc[s.name, "requests"]
               for s in c.dataplane.sockets]
        assert np.allclose(per, 0.015 + 0.001 * end / (150 * 300 / 4), rtol=0.05)
    # the HPA's view at the same instant: per-pod CPU within a few % (request-level noise in 15 s)
    cpu_r = sum(m["cpu_nanocores"] for m in hr)
    cpu_f = sum(m["cpu_nanocores"] for m in hf)
    assert cpu_f == pytest.approx(cpu_r, rel=0.05)
    assert [m["window_s"] for m in hr] == [m["window_s"] for m in hf]


def test_fluid_frame_has_one_row_per_tick_per_pod_and_the_books_balance():
    web = web_cluster(replicas=3, annotations=ANN)
    c = web.cluster
    t = c.traffic(web.target, rate=90, duration=20.5, mode="fluid", tick=1.0)
    c.run()
    df = t.frame()
    assert list(df.columns) == ["t_s", "dt_s", "pod", "node", "offered", "served", "ok", "refused", "reset",
                                "timeout", "backlog", "mean_s", "p95_s", "p99_s"]
    assert len(df) == 21 * 3 and set(df["pod"]) == set(web.pods_by_ip())
    assert df["dt_s"].iloc[-1] == pytest.approx(0.5)
    assert df["offered"].sum() == pytest.approx(90 * 20.5)
    s = t.summary()
    assert s["sent"] == s["ok"] + s["failed"] + s["in_flight"] == round(90 * 20.5)
    assert (df["p99_s"] >= df["p95_s"]).all() and (df["p95_s"] >= df["mean_s"]).all()
    assert len(t.over_time(5.0)) == 5


def test_an_overloaded_fluid_pod_queues_then_times_out_and_a_cpu_limit_caps_it():
    web = limited_web_cluster(cpu_limit="200m", replicas=1, concurrency=4, annotations={
        "labkit.io/cpu-per-request": "10m"})
    c = web.cluster
    t = c.traffic(web.target, rate=40, duration=120, mode="fluid", timeout=5)  # capacity 20/s
    c.run()
    df = t.frame()
    assert df["served"].max() == pytest.approx(20.0)
    assert df["backlog"].max() == pytest.approx(20 * 5)  # what can still be answered in time
    s = t.summary()
    # at least what exceeded the capacity (20/s for the 120 s plus the 5 s of draining) times out;
    # of those served from the full backlog, the ones answered after 5 s too
    assert s["timeout"] >= 0.97 * (40 * 120 - 20 * 125) and s["ok"] <= 20 * 125
    assert s["in_flight"] == 0
    sock = c.dataplane.sockets[0]
    start = int(np.ceil(sock.started))
    cum = np.array([cpu_seconds(sock, float(k)) for k in range(start, int(c.now))])
    assert np.diff(cum).max() <= 0.2 + 1e-9


def test_a_simulated_day_of_fluid_traffic_takes_seconds():
    web = web_cluster(replicas=6, concurrency=4, annotations=ANN)
    c = web.cluster
    wall = time.perf_counter()
    t = c.traffic(web.target, rate=Diurnal(mean=200, peak=400, period=86400), duration=86400, mode="fluid")
    c.run()
    wall = time.perf_counter() - wall
    s = t.summary()
    assert s["sent"] == pytest.approx(200 * 86400, rel=0.02) and s["ok"] == s["sent"]
    assert len(c.metrics("Pod")) == 6
    assert wall < 60, wall  # about 15 s on the development machine


HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2, "maxReplicas": 8,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": 60}}}]}}


def _eventful_run(eager: bool):
    """Fluid traffic through a rolling update, a pod deletion, a node failure and HPA scale-ups,
    with the engine computing lazily (the default) or at every SimPy event (the reference)."""
    from labkit.workloads.fluid import FluidEngine

    old = FluidEngine._EAGER
    FluidEngine._EAGER = eager
    try:
        web = web_cluster(replicas=2, concurrency=2, annotations=ANN)
        c = web.cluster
        c.apply(HPA)
        samples = []
        scrape = c.metrics_server.scrape

        def recorded():
            scrape()
            samples.append((c.now, c.metrics_server.last, c.metrics_server.pod_usage("default")))

        c.metrics_server.scrape = recorded
        t = c.traffic(web.target, rate=Diurnal(mean=120, peak=200, period=600), duration=600, mode="fluid",
                      timeout=3)
        c.run(until=c.now + 90)
        views = [t.summary()]
        c.rollout_restart("Deployment", "web")
        c.run(until=c.now + 80)
        views.append(t.summary())
        pods = sorted(p["metadata"]["name"] for p in c.list("Pod") if p["metadata"]["name"].startswith("web"))
        c.delete("Pod", pods[0])
        c.run(until=c.now + 60.5)
        node = sorted(n["metadata"]["name"] for n in c.list("Node"))[1]
        c.fail_node(node)
        c.run(until=c.now + 120)
        c.recover_node(node)
        c.run()
        replicas = [r for _, _, cur, r in c.hpa_controller.history[("default", "web")] if r != cur]
        return t, views, samples, replicas, c.now
    finally:
        FluidEngine._EAGER = old


def test_the_lazy_fluid_engine_computes_what_the_eager_one_does():
    lazy, eager = _eventful_run(False), _eventful_run(True)
    (tl, vl, sl, rl, endl), (te, ve, se, re_, ende) = lazy, eager
    assert rl == re_  # the same rescales
    assert max(re_) > 2  # the HPA scaled up during the run
    assert endl == ende  # c.run() ran through the traffic (and its draining) alike
    assert vl == ve and tl.summary() == te.summary()
    fl, fe = tl.frame(), te.frame()
    assert len(fl) == len(fe) and list(fl["pod"]) == list(fe["pod"])
    assert fl["refused"].sum() > 0 and fl["timeout"].sum() > 0  # the deletion and the failure show
    for col in fl.columns:
        if fl[col].dtype.kind == "f":
            assert np.allclose(fl[col], fe[col], rtol=1e-9, atol=1e-9, equal_nan=True), col
    assert sl == se  # metrics-server saw the same points and served the same usage


def test_a_cpu_limit_that_binds_only_under_load_leaves_light_load_latency_alone_in_fluid_mode():
    """A 1-CPU limit, 30m per request: 33 requests/s of capacity. At 20 requests/s a request
    mostly runs alone and takes max(S, q/L) = max(S, 30 ms), in fluid mode as request by request
    (the fluid model once spread the limit over all four workers: 120 ms)."""
    p50 = {}
    for mode in ("requests", "fluid"):
        web = limited_web_cluster(cpu_limit="1", replicas=2, concurrency=4,
                                  annotations={"labkit.io/cpu-per-request": "30m"})
        t = web.cluster.traffic(web.target, rate=20, duration=300, mode=mode)
        web.cluster.run()
        p50[mode] = t.summary()["p50_s"]
    assert p50["fluid"] == pytest.approx(p50["requests"], rel=0.25)

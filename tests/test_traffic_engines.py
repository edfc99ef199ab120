"""The two ways of computing requests agree, and every run keeps its books.

``traffic_engine="events"`` walks arrivals one by one; ``"vectorized"`` does the same with numpy
(per-node endpoint choices, per-pod Lindley recursion). Both draw from the same per-purpose random
streams (:mod:`labkit.workloads.draws`), so the same scenario must give the same records: the
same statuses, pods, nodes, clients and sent times, and done times equal up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from traffic_support import counting_vectorized, web_cluster
from usage_support import limited_web_cluster

from labkit.workloads import Diurnal, Spike, Step, Trace

CLIENT = object()  # stands for "from_pod=the scenario's client pod"
STATUSES = {"ok", "refused", "reset", "timeout", "in_flight"}
EXACT = ["sent_s", "status", "pod", "node", "entry_node", "client", "extra_hop"]


@dataclass
class Scenario:
    """A web cluster, traffic sources started together, and actions at times after their start:
    ``("check", None)`` (only read), ``("delete", i)`` (the i-th web pod by IP), ``("fail", i)``
    (the node of the i-th pod), ``("recover", i)``, ``("scale", n)``."""

    name: str
    cluster: dict[str, Any]
    traffic: list[dict[str, Any]]
    steps: list[tuple[float, str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    frames: list[Any]
    summaries: list[list[dict[str, Any]]]  # per step, per source
    checkpoints: list[list[Any]]  # per step, per source: the frame at that instant
    vectorized_calls: int
    usage: list[tuple[str, Any, Any, float, float]] = field(default_factory=list)  # per socket


def usage_counters(c) -> list[tuple[str, Any, Any, float, float]]:
    """Per serving socket: its served-work spans and its cumulative CPU and served counters now."""
    from labkit.metrics.usage import cpu_seconds, served

    return [(s.name, np.frombuffer(s.work_start), np.frombuffer(s.work_end), cpu_seconds(s, c.now),
             served(s, c.now)) for s in c.dataplane.sockets]


def play(sc: Scenario, engine: str, *, keep_frames: bool = False) -> Outcome:
    kw = dict(sc.cluster)
    limit = kw.pop("cpu_limit", None)
    web = web_cluster(engine=engine, **kw) if limit is None else limited_web_cluster(engine, limit, **kw)
    c = web.cluster
    start = c.now
    traffics = []
    for kw in sc.traffic:
        kw = dict(kw)
        if kw.get("from_pod") is CLIENT:
            kw["from_pod"] = web.client
        traffics.append(c.traffic(web.target, **kw))
    calls = counting_vectorized(c)
    summaries, checkpoints = [], []
    for dt, action, arg in sc.steps:
        c.run(until=start + dt)
        summaries.append([t.summary() for t in traffics])
        if keep_frames:
            checkpoints.append([t.frame() for t in traffics])
        if action == "delete":
            name = web.pods[arg]["metadata"]["name"]
            if any(p["metadata"]["name"] == name for p in c.list("Pod")):  # not deleted before
                c.delete("Pod", name)
        elif action == "fail":
            c.fail_node(web.pods[arg]["spec"]["nodeName"])
        elif action == "recover":
            c.recover_node(web.pods[arg]["spec"]["nodeName"])
        elif action == "scale":
            c.scale("Deployment", "web", arg)
    c.run()
    summaries.append([t.summary() for t in traffics])
    frames = [t.frame() for t in traffics]
    if keep_frames:
        checkpoints.append(frames)
    return Outcome(frames, summaries, checkpoints, calls[0], usage_counters(c))


def assert_same_usage(a, b, where: str) -> None:
    assert [u[0] for u in a] == [u[0] for u in b], where
    for (name, s1, e1, cpu1, n1), (_, s2, e2, cpu2, n2) in zip(a, b):
        assert len(s1) == len(s2), (where, name)
        assert np.allclose(s1, s2, rtol=0, atol=1e-9), (where, name)
        assert np.allclose(e1, e2, rtol=0, atol=1e-9), (where, name)
        assert cpu1 == pytest.approx(cpu2, abs=1e-9) and n1 == pytest.approx(n2, abs=1e-9), (where, name)


TRACE = "time_s,rate\n0,100\n3,600\n6,50\n8,300\n"

SCENARIOS = [
    Scenario("iptables-c1-exponential-poisson", {"concurrency": 1}, [{"rate": 150, "duration": 20}]),
    Scenario("ipvs-rr-c8-lognormal-constant-arrivals",
             {"proxy_mode": "ipvs", "concurrency": 8, "service_time": "lognormal 20ms 0.5"},
             [{"rate": 1000, "duration": 10, "arrivals": "constant"}]),
    Scenario("iptables-c8-constant-service", {"concurrency": 8, "service_time": "constant 5ms"},
             [{"rate": 3000, "duration": 10}]),
    Scenario("nftables-overloaded-timeouts", {"proxy_mode": "nftables", "replicas": 3},
             [{"rate": 400, "duration": 10, "timeout": 0.5}]),
    # found by test_engines_agree_on_random_scenarios: latencies land on the 0.2 s timeout itself
    # (constant arrivals and service times), where the two engines' float rounding differed
    Scenario("timeout-on-the-boundary", {"replicas": 2, "service_time": "constant 10ms"},
             [{"rate": 300, "duration": 1, "arrivals": "constant", "timeout": 0.2}]),
    Scenario("ipvs-rr-two-sources", {"proxy_mode": "ipvs", "concurrency": 2, "client": True},
             [{"rate": 150, "duration": 10, "from_pod": CLIENT}, {"rate": 200, "duration": 8}]),
    Scenario("iptables-two-sources-mixed-arrivals", {"concurrency": 4},
             [{"rate": 300, "duration": 10, "arrivals": "constant"}, {"rate": 250, "duration": 12}]),
    Scenario("step", {"concurrency": 2}, [{"rate": Step(50, 350, at=4), "duration": 10}]),
    Scenario("spike", {"proxy_mode": "ipvs"}, [{"rate": Spike(50, 800, at=3, length=1), "duration": 10}]),
    Scenario("diurnal", {"concurrency": 3},
             [{"rate": Diurnal(200, 350, period=5, step=0.25), "duration": 12}]),
    Scenario("trace", {"proxy_mode": "ipvs", "concurrency": 2}, [{"rate": Trace(TRACE), "duration": 10}]),
    Scenario("iptables-pod-deleted", {"concurrency": 2},
             [{"rate": 250, "duration": 20}], [(5.0, "delete", 1), (5.7, "check", None)]),
    Scenario("ipvs-rr-pod-deleted-slow-exit",
             {"proxy_mode": "ipvs", "concurrency": 4, "service_time": "exponential 2s",
              "annotations": {"labkit.io/sigterm-exit-after": "1s"}},
             [{"rate": 8, "duration": 40}], [(6.0, "delete", 0), (6.3, "delete", 2)]),
    Scenario("iptables-node-failed-and-recovered", {"concurrency": 2},
             [{"rate": 200, "duration": 30}],
             [(5.0, "fail", 0), (12.5, "check", None), (20.0, "recover", 0)]),
    Scenario("ipvs-rr-node-failed", {"proxy_mode": "ipvs", "client": True},
             [{"rate": 120, "duration": 15, "from_pod": CLIENT}], [(3.0, "fail", 1)]),
    Scenario("ipvs-rr-scaled", {"proxy_mode": "ipvs", "concurrency": 2},
             [{"rate": 200, "duration": 20}], [(3.0, "scale", 8), (9.0, "scale", 2)]),
    # the CFS rule (service time >= k * cpu-per-request / limit) on both paths: one and four workers
    Scenario("cpu-limited-c1", {"concurrency": 1, "cpu_limit": "250m",
                                "annotations": {"labkit.io/cpu-per-request": "10m"}},
             [{"rate": 120, "duration": 10}]),
    Scenario("cpu-limited-c4", {"concurrency": 4, "cpu_limit": "500m",
                                "annotations": {"labkit.io/cpu-per-request": "20m"}},
             [{"rate": 150, "duration": 10, "timeout": 2.0}]),
]


def assert_same_records(a, b, where: str) -> None:
    assert len(a) == len(b), where
    for col in EXACT:
        assert a[col].tolist() == b[col].tolist(), (where, col)
    da, db = a["done_s"].to_numpy(), b["done_s"].to_numpy()
    assert np.array_equal(np.isnan(da), np.isnan(db)), where
    ok = ~np.isnan(da)
    assert np.allclose(da[ok], db[ok], rtol=0, atol=1e-9), (where, np.abs(da[ok] - db[ok]).max())


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_events_and_vectorized_engines_give_the_same_records(sc):
    ev = play(sc, "events", keep_frames=True)
    vec = play(sc, "vectorized", keep_frames=True)
    assert ev.vectorized_calls == 0
    assert vec.vectorized_calls > 0  # the vectorized path really ran
    assert sum(len(f) for f in ev.frames) > 200
    for i, (fe, fv) in enumerate(zip(ev.frames, vec.frames)):
        assert_same_records(fe, fv, f"{sc.name} source {i}")
    assert_same_usage(ev.usage, vec.usage, sc.name)
    assert sum(len(u[1]) for u in ev.usage) > 200  # the served-work counters were filled
    for step, (ce, cv) in enumerate(zip(ev.checkpoints, vec.checkpoints)):
        for i, (fe, fv) in enumerate(zip(ce, cv)):
            assert_same_records(fe, fv, f"{sc.name} step {step} source {i}")
    drop = {"p50_s", "p95_s", "p99_s"}  # rounded quantiles of done - sent: equal up to rounding
    for se, sv in zip(ev.summaries, vec.summaries):
        for a, b in zip(se, sv):
            assert {k: a[k] for k in a if k not in drop} == {k: b[k] for k in b if k not in drop}


def test_scenarios_reach_the_outcomes_they_are_meant_to():
    """The scenarios above are not all-ok runs: deletions refuse and reset, a failed node times out."""
    by = {sc.name: sc for sc in SCENARIOS}
    out = play(by["ipvs-rr-pod-deleted-slow-exit"], "vectorized").summaries[-1][0]
    assert out["refused"] > 0 and out["reset"] > 0, out
    out = play(by["iptables-node-failed-and-recovered"], "vectorized").summaries[-1][0]
    assert out["timeout"] > 0 and out["ok"] > 0, out
    out = play(by["nftables-overloaded-timeouts"], "vectorized").summaries[-1][0]
    assert out["timeout"] > 0, out


@pytest.mark.parametrize("engine", ["events", "vectorized"])
def test_exit_resets_what_a_hung_process_accepted(engine):
    """A hung process (``labkit.io/fail-after``) accepts connections and never answers; when it
    then exits (deleted, ``labkit.io/sigterm-exit-after: 1s``) the kernel resets what it still
    held, as for a busy process: those requests end ``reset`` at the exit, not ``timeout`` later."""
    web = web_cluster(engine=engine, replicas=1,
                      annotations={"labkit.io/fail-after": "30s", "labkit.io/sigterm-exit-after": "1s"})
    c = web.cluster
    start = c.now
    t = c.traffic(web.target, rate=20, duration=60, timeout=10)
    c.run(until=start + 35)
    c.delete("Pod", web.pods[0]["metadata"]["name"])
    c.run()
    df = t.frame()
    reset = df[df["status"] == "reset"]
    assert len(reset) > 100, df["status"].value_counts()
    exit_at = reset["done_s"].iloc[0]
    assert (reset["done_s"] == exit_at).all() and start + 35 <= exit_at <= start + 37
    # nothing the process had accepted outlives its exit
    held = df[(df["sent_s"] < exit_at) & (df["pod"] != "") & (df["status"] != "refused")]
    assert (held["done_s"] <= exit_at).all()


# -- conservation: a property of every run ----------------------------------------------------------------

def check_books(summary: dict[str, Any], frame, final: bool) -> None:
    s = summary
    assert s["sent"] == s["ok"] + s["failed"] + s["in_flight"], s
    assert s["failed"] == s["refused"] + s["reset"] + s["timeout"], s
    assert len(frame) == s["sent"], (len(frame), s)
    assert set(frame["status"].unique()) <= STATUSES
    counts = frame["status"].value_counts()
    for key in ("ok", "refused", "reset", "timeout", "in_flight"):
        assert int(counts.get(key, 0)) == s[key], (key, s)
    done = frame["done_s"].to_numpy()
    finished = frame["status"].to_numpy() != "in_flight"
    assert not np.isnan(done[finished]).any()
    assert np.isnan(done[~finished]).all()
    assert (frame["latency_s"].to_numpy()[finished] >= 0).all()
    assert (done[finished] >= frame["sent_s"].to_numpy()[finished]).all()
    if final:
        assert s["in_flight"] == 0, s


SERVICE_TIMES = ["exponential 20ms", "constant 10ms", "lognormal 15ms 0.8"]


@st.composite
def scenarios(draw) -> tuple[Scenario, str]:
    replicas = draw(st.integers(1, 5))
    cluster = {"replicas": replicas, "concurrency": draw(st.sampled_from([1, 2, 8])),
               "service_time": draw(st.sampled_from(SERVICE_TIMES)),
               "proxy_mode": draw(st.sampled_from(["iptables", "nftables", "ipvs"])),
               "client": draw(st.booleans())}
    if cluster["proxy_mode"] == "ipvs":
        cluster["ipvs_scheduler"] = draw(st.sampled_from(["rr", "rr", "lc", "sh"]))
    duration = draw(st.floats(1.0, 12.0))
    traffic = [{"rate": draw(st.sampled_from([10.0, 80.0, 300.0, 900.0])), "duration": duration,
                "arrivals": draw(st.sampled_from(["poisson", "constant"])),
                "timeout": draw(st.sampled_from([0.2, 2.0, 10.0]))}]
    if cluster["client"] and draw(st.booleans()):
        traffic[0]["from_pod"] = CLIENT
    if draw(st.booleans()):
        traffic.append({"rate": draw(st.sampled_from([20.0, 200.0])), "duration": draw(st.floats(0.5, 8.0))})
    times = sorted(draw(st.lists(st.floats(0.0, duration + 3.0), min_size=1, max_size=4)))
    steps = []
    for t in times:
        action = draw(st.sampled_from(["check", "check", "delete", "fail", "scale"]))
        arg = {"check": None, "delete": draw(st.integers(0, replicas - 1)),
               "fail": draw(st.integers(0, replicas - 1)), "scale": draw(st.integers(0, 6))}[action]
        steps.append((t, action, arg))
    engine = draw(st.sampled_from(["events", "vectorized", "auto"]))
    return Scenario("random", cluster, traffic, steps), engine


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_every_request_is_accounted_for(case):
    """At any instant, per source: sent = ok + failed + in_flight, failed = refused + reset +
    timeout, one frame row per sent request with a known status, latency ≥ 0 and done ≥ sent; once
    ``c.run()`` returns, nothing is in flight. And the past does not change: a request that had
    ended when the frame was read keeps its status and done time."""
    sc, engine = case
    out = play(sc, engine, keep_frames=True)
    last = len(out.summaries) - 1
    for step, (summaries, frames) in enumerate(zip(out.summaries, out.checkpoints)):
        for i, (s, f) in enumerate(zip(summaries, frames)):
            check_books(s, f, final=step == last)
            final = out.frames[i].iloc[:len(f)]
            assert final["sent_s"].tolist() == f["sent_s"].tolist()
            ended = (f["status"] != "in_flight").to_numpy()
            assert final["status"].to_numpy()[ended].tolist() == f["status"].to_numpy()[ended].tolist()
            assert final["done_s"].to_numpy()[ended].tolist() == f["done_s"].to_numpy()[ended].tolist()


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_engines_agree_on_random_scenarios(case):
    """The engine comparison above, on random scenarios (with their pod deletions, node failures
    and scaling at random instants), checked at every intermediate instant too."""
    sc, _ = case
    ev = play(sc, "events", keep_frames=True)
    vec = play(sc, "vectorized", keep_frames=True)
    for step, (ce, cv) in enumerate(zip(ev.checkpoints, vec.checkpoints)):
        for i, (fe, fv) in enumerate(zip(ce, cv)):
            assert_same_records(fe, fv, f"step {step} source {i}")
    assert_same_usage(ev.usage, vec.usage, "random")

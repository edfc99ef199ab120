"""Queueing theory the traffic model must reproduce: M/M/1 behind iptables, E_k/M/c behind ipvs rr,
and the load patterns' expected counts.

Each pod serves its requests first come, first served with ``labkit.io/concurrency`` workers and
exponential service times, so with Poisson arrivals the textbook formulas apply exactly; the
tests compare them with hundreds of thousands of simulated requests (fixed seeds, vectorized engine;
``tests/test_traffic_engines.py`` shows the event-driven engine gives the same records).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from traffic_support import (
    bisect,
    erlang_gi_m_c_arrival_distribution,
    erlang_gi_m_c_sigma,
    web_cluster,
)

from labkit.workloads import Constant, Diurnal, Spike, Step, Trace

MU = 50.0  # 1 / "exponential 20ms"
TOL = 0.03


def ok_latencies(web, **traffic) -> np.ndarray:
    c = web.cluster
    t = c.traffic(web.target, timeout=1e6, **traffic)
    c.run()
    s = t.summary()
    assert s["ok"] == s["sent"], s  # nothing refused or timed out: a pure queue
    df = t.frame()
    lat = df["latency_s"].to_numpy()
    return lat[len(lat) // 100:]  # a 1 % warm-up: the queues start empty


def test_iptables_spreads_poisson_traffic_into_k_mm1_queues():
    """k M/M/1 queues.

    Poisson arrivals of rate λ, each sent to one of k pods uniformly at random and independently
    (iptables' probability chain), split into k independent Poisson streams of rate λ/k (thinning).
    A pod with one worker and exponential service of mean 1/μ is then an M/M/1 queue with
    ρ = λ/(kμ). Its sojourn time (queueing + service) is exponential with rate μ − λ/k: the
    arrival finds n with probability (1−ρ)ρⁿ (PASTA) and waits n+1 exponential services, a
    geometric sum of exponentials, itself exponential of rate μ(1−ρ). So
    mean = 1/(μ − λ/k) and p99 = ln(100)/(μ − λ/k).

    k = 4, μ = 50/s, ρ = 0.7 (λ = 140/s): mean 66.7 ms, p99 307 ms; ~600,000 requests (the
    sample mean's standard error at ρ = 0.7 is then ~0.6 %, well inside the 3 % tolerance).
    """
    k, rho = 4, 0.7
    lam = rho * k * MU
    duration = 600_000 / lam  # ~600,000 requests
    web = web_cluster(replicas=k, service_time="exponential 20ms", concurrency=1)
    lat = ok_latencies(web, rate=lam, duration=duration)
    assert len(lat) >= 500_000
    rate = MU - lam / k
    mean, p99 = 1 / rate, math.log(100) / rate
    assert abs(lat.mean() / mean - 1) < TOL, (lat.mean(), mean)
    assert abs(np.quantile(lat, 0.99) / p99 - 1) < TOL, (np.quantile(lat, 0.99), p99)


def erlang_gi_m_c(k: int, lam: float, mu: float, c: int) -> dict[str, float]:
    """E_k/M/c (GI/M/c with Erlang-k interarrivals of phase rate λ), from the embedded chain.

    At arrival instants the number in system n is a Markov chain. For n ≥ c−1 its stationary
    law is geometric, q_n = C·σⁿ, with σ the root in (0, 1) of σ = A*(cμ(1−σ)) (A* the
    interarrival Laplace transform; (λ/(λ+s))^k for Erlang-k): while all c workers are busy,
    departures are Poisson of rate cμ, and a geometric guess solves the balance equations
    exactly when σ = Σ_j σ^j P(j departures in one interarrival) = A*(cμ(1−σ)).
    The probability to wait is P(W>0) = Σ_{n≥c} q_n = q_c/(1−σ) (q_0..q_{c−2} need the full chain:
    :func:`erlang_gi_m_c_arrival_distribution`), and a waiting arrival, finding c+j, waits j+1
    services of the whole pool: W | W>0 ~ Exp(θ) with θ = cμ(1−σ). Hence
    E[T] = 1/μ + P(W>0)/θ; P(T > x) = (1−P)·e^{−μx} + P·(θe^{−μx} − μe^{−θx})/(θ−μ) (θ ≠ μ).
    For c = 1, P(W>0) = σ and T ~ Exp(μ(1−σ)).
    """
    sigma = erlang_gi_m_c_sigma(k, lam, mu, c)
    q = erlang_gi_m_c_arrival_distribution(k, lam, mu, c)
    # the chain's tail is the fixed point's geometric law (a check on both computations)
    assert q[c + 1] / q[c] == pytest.approx(sigma, rel=1e-6)
    p_wait = float(q[c:].sum())
    theta = c * mu * (1 - sigma)
    if c == 1:
        assert p_wait == pytest.approx(sigma, rel=1e-6)

    def tail(x: float) -> float:
        if abs(theta - mu) < 1e-12:
            return (1 - p_wait) * math.exp(-mu * x) + p_wait * (1 + mu * x) * math.exp(-mu * x)
        return (1 - p_wait) * math.exp(-mu * x) + p_wait * (theta * math.exp(-mu * x)
                                                            - mu * math.exp(-theta * x)) / (theta - mu)

    p99 = bisect(lambda x: tail(x) - 0.01, 0.0, 100.0 / mu)
    return {"sigma": sigma, "p_wait": p_wait, "mean": 1 / mu + p_wait / theta, "p99": p99}


@pytest.mark.parametrize("workers", [1, 4])
def test_ipvs_rr_from_one_node_gives_erlang_interarrivals(workers):
    """ipvs rr from one entry node: E_k/M/c queues.

    All requests leave one client pod, so one node's kube-proxy (one rr cursor) sends the i-th
    Poisson arrival to pod i mod k. Each pod sees every k-th arrival of a Poisson stream of rate λ:
    its interarrival times are sums of k exponentials, Erlang-k (mean k/λ) — far more regular than
    Poisson, so queues are shorter than M/M/1 at the same load. With ``workers`` = c workers and
    exponential service each pod is an E_k/M/c queue; see :func:`erlang_gi_m_c` for σ and the
    sojourn time. k = 4, μ = 50/s, ρ = λ/(kcμ) = 0.7.
    """
    k, rho = 4, 0.7
    lam = rho * k * workers * MU
    web = web_cluster(replicas=k, proxy_mode="ipvs", ipvs_scheduler="rr", concurrency=workers, client=True)
    lat = ok_latencies(web, rate=lam, duration=(300_000 if workers == 1 else 400_000) / lam,
                       from_pod=web.client)
    assert len(lat) >= 290_000
    theory = erlang_gi_m_c(k, lam, MU, workers)
    assert abs(lat.mean() / theory["mean"] - 1) < TOL, (lat.mean(), theory)
    assert abs(np.quantile(lat, 0.99) / theory["p99"] - 1) < TOL, (np.quantile(lat, 0.99), theory)
    if workers == 1:
        assert theory["p99"] == pytest.approx(math.log(100) / (MU * (1 - theory["sigma"])))
        # far below the M/M/1 mean 1/(μ − λ/k) of the same load
        assert lat.mean() < 0.75 / (MU - lam / k)


# -- load patterns ------------------------------------------------------------------------------

PATTERN_DURATION = 60.0
TRACE = "time_s,rate\n0,500\n10,4000\n25,1500\n40,0\n45,2500\n"


def patterns():
    return {
        "constant": Constant(3000),
        "step": Step(1000, 6000, at=30),
        "spike": Spike(1000, 12000, at=20, length=5),
        "diurnal": Diurnal(3000, 5000, period=20, step=1),
        "trace": Trace(TRACE),
    }


@pytest.fixture(scope="module")
def pattern_runs():
    """Every pattern as its own source, all at once to one Service (counts per source are
    independent of the queues: pods of ample capacity)."""
    web = web_cluster(replicas=4, service_time="constant 1ms", concurrency=100)
    c = web.cluster
    start = c.now
    runs = {name: c.traffic(web.target, rate=p, duration=PATTERN_DURATION) for name, p in patterns().items()}
    runs["constant-arrivals"] = c.traffic(web.target, rate=Step(1000, 6000, at=30), duration=PATTERN_DURATION,
                                          arrivals="constant")
    c.run()
    return start, {name: t.frame()["sent_s"].to_numpy() - start for name, t in runs.items()}


@pytest.mark.parametrize("name", ["constant", "step", "spike", "diurnal", "trace"])
def test_poisson_count_matches_pattern_expected(pattern_runs, name):
    """Arrivals are a Poisson process of rate r(t) by time rescaling, so the count in [0, d) is
    Poisson with mean Λ(d) = ∫ r = ``pattern.expected(d)`` (std √Λ: 0.2-0.4 % here), and the count
    in a phase [a, b) is Poisson with mean Λ(b) − Λ(a)."""
    sent = pattern_runs[1][name]
    p = patterns()[name]
    assert len(sent) == pytest.approx(p.expected(PATTERN_DURATION), rel=0.02)
    assert sent.min() >= 0 and sent.max() < PATTERN_DURATION
    edges = sorted({0.0, PATTERN_DURATION, *(k for k in p.knots if k < PATTERN_DURATION)})
    if name == "diurnal":
        edges = [0.0, 5.0, 10.0, 15.0, 20.0, 40.0, 60.0]  # quarter periods, then whole ones
    for a, b in zip(edges, edges[1:]):
        want = p.expected(b) - p.expected(a)
        got = int(((sent >= a) & (sent < b)).sum())
        if want == 0:
            assert got == 0, (name, a, b)
        else:
            assert abs(got - want) < max(0.03 * want, 4 * math.sqrt(want)), (name, a, b, got, want)


def test_step_and_spike_phase_counts():
    """The phases by name: Step(1000, 6000, at=30) sends ~30,000 then ~180,000; Spike(1000, 12000,
    at=20, length=5) ~20,000, ~60,000 in the 5 s spike, ~35,000 after."""
    step = Step(1000, 6000, at=30)
    assert (step.expected(30), step.expected(60) - step.expected(30)) == (30_000, 180_000)
    spike = Spike(1000, 12000, at=20, length=5)
    assert [spike.expected(20), spike.expected(25) - spike.expected(20),
            spike.expected(60) - spike.expected(25)] == [20_000, 60_000, 35_000]


def test_constant_arrivals_are_evenly_spaced_and_exact(pattern_runs):
    """``arrivals="constant"`` puts the n-th arrival at Λ⁻¹(n): exactly ⌈Λ(d)⌉ of them, 1/r apart."""
    sent = pattern_runs[1]["constant-arrivals"]
    p = Step(1000, 6000, at=30)
    assert len(sent) == math.ceil(p.expected(PATTERN_DURATION))
    gaps = np.diff(sent)
    assert np.allclose(gaps[sent[1:] < 30], 1 / 1000, rtol=1e-6)
    assert np.allclose(gaps[sent[:-1] >= 30], 1 / 6000, rtol=1e-6)

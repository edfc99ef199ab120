"""Scenario builders and small numerics shared by the traffic tests (imported as ``traffic_support``).

:func:`web_cluster` is the one scenario: a Deployment ``web`` (``replicas`` pods with
``labkit.io/service-time`` and ``labkit.io/concurrency``) behind a selector Service ``web`` on
three ``ecs.g7.xlarge`` nodes, optionally a ``client`` pod to send from (one entry node, one
kube-proxy), run until every node's kube-proxy has programmed the endpoints. The EndpointSlice
controller makes the Service's slice; should it be missing (an older checkout), the builder
writes the slice by hand from the pods, as a selector-less Service would need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import labkit

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass
class Web:
    """A built scenario: the cluster, the Service's ``ip:80`` and the web pods (sorted by IP)."""

    cluster: labkit.Cluster
    target: str
    pods: list[dict[str, Any]]
    client: str | None

    def pods_by_ip(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.pods]


def deployment(replicas: int, service_time: str, concurrency: int, extra: dict[str, str] | None = None
               ) -> dict[str, Any]:
    ann = {"labkit.io/service-time": service_time, "labkit.io/concurrency": str(concurrency), **(extra or {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}, "annotations": ann},
                                  "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                                           "ports": [{"containerPort": 80}],
                                                           "resources": {"requests": {"cpu": "100m"}}}]}}}}


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}

CLIENT = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "labels": {"app": "client"}},
          "spec": {"containers": [{"name": "curl", "image": "curlimages/curl:8.10.1",
                                   "resources": {"requests": {"cpu": "100m"}}}]}}


def _ip_key(pod: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(x) for x in pod["status"]["podIP"].split("."))


def hand_written_slice(pods: list[dict[str, Any]]) -> dict[str, Any]:
    """The EndpointSlice the controller would write for ``pods`` (all ready)."""
    eps = [{"addresses": [p["status"]["podIP"]],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "nodeName": p["spec"]["nodeName"],
            "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": "default"}}
           for p in pods]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-handwritten", "labels": {SERVICE_NAME_LABEL: "web"}},
            "addressType": "IPv4", "ports": [{"name": "", "port": 80, "protocol": "TCP"}], "endpoints": eps}


def web_cluster(*, seed: int = 0, engine: str = "vectorized", proxy_mode: str = "iptables",
                ipvs_scheduler: str = "rr", replicas: int = 4, concurrency: int = 1,
                service_time: str = "exponential 20ms", nodes: int = 3, client: bool = False,
                annotations: dict[str, str] | None = None) -> Web:
    """The scenario of the module docstring, run until all kube-proxies have the endpoints."""
    c = labkit.Cluster(seed=seed, traffic_engine=engine, proxy_mode=proxy_mode, ipvs_scheduler=ipvs_scheduler)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=nodes)
    docs = [deployment(replicas, service_time, concurrency, annotations), SERVICE]
    if client:
        docs.append(CLIENT)
    c.apply(docs)
    c.run()
    pods = sorted(c.list("Pod", label_selector="app=web"), key=_ip_key)
    if not c.list("EndpointSlice", label_selector=f"{SERVICE_NAME_LABEL}=web"):
        c.apply(hand_written_slice(pods))
        c.run()
    # kube-proxy programs a change 0.5-2 s after it is stored, with no SimPy event of its own:
    # run past the slowest node so the first request already meets every endpoint.
    c.run(until=c.now + c.kube_proxy.propagation[1] + 0.5)
    ip = c.get("Service", "web")["spec"]["clusterIP"]
    return Web(c, f"{ip}:80", pods, "client" if client else None)


# -- numerics (scipy is not a dependency) ------------------------------------------------------------------

def bisect(f, lo: float, hi: float, tol: float = 1e-14) -> float:
    """A root of ``f`` in ``[lo, hi]`` where ``f(lo)`` and ``f(hi)`` differ in sign."""
    flo = f(lo)
    for _ in range(200):
        mid = (lo + hi) / 2
        fm = f(mid)
        if (fm > 0) == (flo > 0):
            lo, flo = mid, fm
        else:
            hi = mid
        if hi - lo < tol:
            break
    return (lo + hi) / 2


def erlang_gi_m_c_sigma(k: int, lam: float, mu: float, c: int) -> float:
    """σ of the E_k/M/c queue: the root in (0, 1) of ``σ = A*(cμ(1−σ))``, ``A*(s) = (λ/(λ+s))^k``
    (interarrivals Erlang-k of phase rate λ, mean k/λ)."""
    def f(s: float) -> float:
        return (lam / (lam + c * mu * (1 - s))) ** k - s
    # f(0) > 0, f(1) = 0 is the trivial root; f < 0 just below 1 when ρ < 1
    return bisect(f, 0.0, 1 - 1e-12)


def erlang_gi_m_c_arrival_distribution(k: int, lam: float, mu: float, c: int, n_max: int = 600) -> np.ndarray:
    """``q_n``: the number in system an arrival finds (the embedded Markov chain of GI/M/c at
    arrival instants), for Erlang-k interarrivals, truncated at ``n_max``.

    Between two arrivals the system is a pure-death process with generator ``Q`` (rate
    ``min(n, c)·μ`` from ``n`` to ``n−1``). An exponential phase of rate λ maps the state distribution
    by ``∫ λe^{−λt} e^{Qt} dt = (I − Q/λ)^{−1}``, so k phases by ``(I − Q/λ)^{−k}``. An arrival that
    finds ``n`` leaves ``n+1``: the chain's matrix is ``P = S·(I − Q/λ)^{−k}`` with ``S`` the shift.
    """
    size = n_max + 1
    q_gen = np.zeros((size, size))
    for n in range(1, size):
        rate = min(n, c) * mu
        q_gen[n, n - 1] = rate
        q_gen[n, n] = -rate
    one_phase = np.linalg.inv(np.eye(size) - q_gen / lam)
    phases = np.linalg.matrix_power(one_phase, k)
    shift = np.zeros((size, size))
    for n in range(size):
        shift[n, min(n + 1, n_max)] = 1.0
    p = shift @ phases
    # stationary distribution: π P = π, Σπ = 1
    a = np.vstack([p.T - np.eye(size), np.ones(size)])
    b = np.zeros(size + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(a, b, rcond=None)
    return pi


def chi2_sf(x: float, df: int) -> float:
    """``P(χ²_df > x)``: 1 − the regularized lower incomplete gamma ``P(df/2, x/2)`` by its series
    ``P(a, z) = z^a e^{−z} / Γ(a+1) · Σ_n z^n / ((a+1)…(a+n))`` (converges for every z)."""
    a, z = df / 2, x / 2
    term = total = 1.0
    n = 0
    while term > 1e-17 * total:
        n += 1
        term *= z / (a + n)
        total += term
    lower = math.exp(a * math.log(z) - z - math.lgamma(a + 1)) * total
    return max(0.0, 1.0 - lower)


def chi_square(counts: np.ndarray) -> float:
    """Pearson's statistic of ``counts`` against equal expected counts."""
    counts = np.asarray(counts, dtype=float)
    expected = counts.sum() / len(counts)
    return float(((counts - expected) ** 2 / expected).sum())


def counting_vectorized(c: labkit.Cluster) -> list[int]:
    """Count the engine's vectorized intervals (proves a comparison is not events against events)."""
    engine = c._traffic
    calls = [0]
    inner = engine._vectorized

    def wrapped(*args):
        calls[0] += 1
        return inner(*args)

    engine._vectorized = wrapped
    return calls

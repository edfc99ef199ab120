"""Traffic benchmark: simulated requests per wall second, labkit's engines against a tutorial SimPy model.

Run ``python benchmarks/bench_traffic.py`` (``--quick`` for 100,000 requests instead of 1,000,000).
It prints one table and exits 0; a figure below its target is marked ``MISS`` rather than failing,
because wall-clock time belongs to the machine, not to the code (tests assert on results only).

The workload: 1,000,000 requests, Poisson at 10,000/s for 100 simulated seconds, through a
ClusterIP Service (iptables mode, uniform random endpoint choice) to a Deployment of 20 pods on
3 ``ecs.g7.xlarge`` nodes, each pod one FIFO worker with exponential service of mean 1.5 ms
(ρ = 0.75), every request's record kept. Measured, each in a fresh interpreter so that peak
memory is that run's alone:

* ``labkit auto`` — ``traffic_engine="auto"`` (the vectorized path here) and ``"events"``: the
  wall time of ``c.run()`` from ``c.traffic(...)`` until the last request ended (the rest of the
  cluster — heartbeats, controllers — runs along), then ``t.frame()`` (the pandas table of the
  records) apart;
* ``tutorial SimPy`` — the model a SimPy tutorial would write for the same queues: one process
  per request, a ``simpy.Resource(capacity=1)`` per pod, ``random`` pod choice and service times,
  a tuple appended to a list per request; then the same pandas table built from the list.

Peak memory is the process's peak RSS (``resource.getrusage``) and its growth over the state
just before the timed run (imports and the cluster built). ``tracemalloc`` is not used: it slows
pure-Python code several times over and would distort the comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PODS, NODES = 20, 3
RATE = 10_000.0  # requests per second
MEAN_S = 0.0015  # exponential service time, per pod, one worker
CONCURRENCY = 1
TARGET_RPS, TARGET_RATIO = 200_000, 2.0


def rss_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # KiB on Linux, bytes on macOS


def web_manifests() -> list[dict[str, Any]]:
    ann = {"labkit.io/service-time": f"exponential {MEAN_S * 1000:g}ms",
           "labkit.io/concurrency": str(CONCURRENCY)}
    return [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": PODS, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}, "annotations": ann},
                                   "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                                            "ports": [{"containerPort": 80}],
                                                            "resources": {"requests": {"cpu": "100m"}}}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}]


def labkit_run(engine: str, requests: int) -> dict[str, Any]:
    import pandas  # noqa: F401  (imported before the clock starts, as for the tutorial model)

    import labkit

    c = labkit.Cluster(seed=0, traffic_engine=engine)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=NODES)
    c.apply(web_manifests())
    c.run()
    if not c.list("EndpointSlice", label_selector="kubernetes.io/service-name=web"):
        raise SystemExit("no EndpointSlice for the Service: this checkout has no EndpointSlice controller")
    c.run(until=c.now + 2.5)  # every node's kube-proxy has programmed the endpoints
    ip = c.get("Service", "web")["spec"]["clusterIP"]
    base = rss_mib()
    t = c.traffic(f"{ip}:80", rate=RATE, duration=requests / RATE)
    w0 = time.perf_counter()
    c.run()
    w1 = time.perf_counter()
    df = t.frame()
    w2 = time.perf_counter()
    s = t.summary()
    return {"sent": s["sent"], "ok": s["ok"], "run": w1 - w0, "frame": w2 - w1, "rows": len(df),
            "mean_s": float(df.loc[df["status"] == "ok", "latency_s"].mean()), "p99_s": s["p99_s"],
            "rss": rss_mib(), "growth": rss_mib() - base,
            "vectorized": engine != "events" and c._traffic.engine != "events"}


def tutorial_run(requests: int) -> dict[str, Any]:
    """The queues as a SimPy tutorial models them (one process per request, a Resource per pod)."""
    import random

    import pandas as pd
    import simpy

    rng = random.Random(0)
    env = simpy.Environment()
    pods = [simpy.Resource(env, capacity=CONCURRENCY) for _ in range(PODS)]
    records: list[tuple[float, float, int]] = []
    duration = requests / RATE

    def request(env, pod: int):
        sent = env.now
        with pods[pod].request() as req:
            yield req
            yield env.timeout(rng.expovariate(1 / MEAN_S))
        records.append((sent, env.now, pod))

    def clients(env):
        while True:
            yield env.timeout(rng.expovariate(RATE))
            if env.now >= duration:
                return
            env.process(request(env, rng.randrange(PODS)))

    base = rss_mib()
    env.process(clients(env))
    w0 = time.perf_counter()
    env.run()
    w1 = time.perf_counter()
    df = pd.DataFrame(records, columns=["sent_s", "done_s", "pod"])
    df["latency_s"] = df["done_s"] - df["sent_s"]
    w2 = time.perf_counter()
    return {"sent": len(records), "ok": len(records), "run": w1 - w0, "frame": w2 - w1, "rows": len(df),
            "mean_s": float(df["latency_s"].mean()), "p99_s": float(df["latency_s"].quantile(0.99)),
            "rss": rss_mib(), "growth": rss_mib() - base}


def child(kind: str, requests: int) -> None:
    out = tutorial_run(requests) if kind == "tutorial" else labkit_run(kind, requests)
    print(json.dumps(out))


def fresh(kind: str, requests: int) -> dict[str, Any]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    res = subprocess.run([sys.executable, __file__, "--child", kind, "--requests", str(requests)], env=env,
                         cwd=REPO, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{kind} run failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 requests instead of 1,000,000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    requests = args.requests or (100_000 if args.quick else 1_000_000)
    if args.child:
        child(args.child, requests)
        return
    runs = {"labkit auto": fresh("auto", requests), "labkit events": fresh("events", requests),
            "tutorial SimPy": fresh("tutorial", requests)}
    tut_rps = runs["tutorial SimPy"]["sent"] / runs["tutorial SimPy"]["run"]
    rho = RATE * MEAN_S / (PODS * CONCURRENCY)
    print(f"{requests:,} requests, Poisson {RATE:,.0f}/s, {PODS} pods x {CONCURRENCY} worker "
          f"(exponential {MEAN_S * 1000:g} ms, rho {rho:.2f}) on {NODES} nodes; M/M/1 mean latency "
          f"{1 / (1 / MEAN_S - RATE / PODS) * 1000:.2f} ms")
    head = (f"| {'model':<15} | {'run() s':>8} | {'req/s (run)':>12} | {'frame() s':>9} "
            f"| {'req/s (+frame)':>14} | {'vs tutorial':>11} | {'peak RSS':>9} | {'growth':>8} "
            f"| {'mean ms':>7} | verdict |")
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]
    for name, r in runs.items():
        rps = r["sent"] / r["run"]
        rps_frame = r["sent"] / (r["run"] + r["frame"])
        ratio = rps / tut_rps
        verdict = "" if name.startswith("tutorial") else (
            "ok" if rps >= TARGET_RPS and ratio >= TARGET_RATIO else "MISS")
        if name == "labkit auto" and not r.get("vectorized", True):
            verdict += " (events path!)"
        lines.append(f"| {name:<15} | {r['run']:>8.3f} | {rps:>12,.0f} | {r['frame']:>9.3f} "
                     f"| {rps_frame:>14,.0f} | {ratio:>10.1f}x | {r['rss']:>5.0f} MiB "
                     f"| {r['growth']:>4.0f} MiB | {r['mean_s'] * 1000:>7.2f} | {verdict:<7} |")
    print("\n".join(lines))
    print(f"targets: >= {TARGET_RPS:,} simulated requests per wall second of run() and >= {TARGET_RATIO:g}x "
          "the tutorial model's")


if __name__ == "__main__":
    main()

"""Scheduler benchmark: how fast the simulated kube-scheduler places pods on a large cluster.

Run ``python benchmarks/bench_scheduler.py`` (``--profile`` adds a cProfile of the large run,
``--quick`` runs only the small scenario). It prints one table and exits 0; a figure over its
target is marked ``MISS`` rather than failing, because wall-clock time belongs to the machine.

Scenarios (the issue's):

* **large** — 5,000 nodes from 20 ACK node pools of four ECS types over three zones, a quarter of
  them tainted ``dedicated=batch:NoSchedule``; 10,000 pods with mixed requests, 20% with a
  toleration or a preferred node affinity, 10% with a ``DoNotSchedule`` zone spread constraint.
* **small** — 100 nodes, 1,000 pods of the same mix.

Like kube-scheduler's own ``scheduler_perf`` (hollow nodes, no kubelets) the cluster runs
with ``kubelets=False``: pods are bound but never started, so the figure is the scheduler's
(queue, cycle, binding write, Scheduled event), not the kubelets'. Figures:

* pods scheduled per wall second — bound pods divided by the wall time of ``run()``;
* cycle share — the part of that time spent inside scheduling cycles (filter + score + select),
  the rest being binding writes, events, watches and the SimPy loop;
* peak memory — the process's maximum resident set size (``ru_maxrss``) after the run.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_PODS_PER_SECOND = 10_000
TARGET_PEAK_BYTES = 1 << 30
TYPES = ["ecs.g7.2xlarge", "ecs.c7.4xlarge", "ecs.r7.2xlarge", "ecs.g7.4xlarge"]
ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
TAINT = {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}


def build(nodes: int, seed: int = 0) -> Any:
    import labkit

    c = labkit.Cluster(seed=seed, kubelets=False)
    per_pool = min(250, nodes)
    for k in range(nodes // per_pool):
        c.add_node_pool(f"pool-{k:02d}", TYPES[k % 4], per_pool, zones=ZONES,
                        taints=[TAINT] if k % 4 == 3 else None)
    return c


def pods(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """The issue's mix: varied requests; 20% tolerate the taint or prefer a zone; 10% spread by zone."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        app = f"app-{i % 20}"
        requests = {"cpu": f"{rng.choice([100, 250, 500, 1000])}m",
                    "memory": f"{rng.choice([128, 256, 512, 1024])}Mi"}
        spec: dict[str, Any] = {"containers": [{"name": "main", "image": "nginx:1.27",
                                                "resources": {"requests": requests}}]}
        kind = i % 10
        if kind == 0:
            spec["tolerations"] = [{**TAINT, "operator": "Equal"}]
        elif kind == 1:
            spec["affinity"] = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 50, "preference": {"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [ZONES[i % 3]]}]}}]}}
        elif kind == 2:
            spec["topologySpreadConstraints"] = [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": app}}}]
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"pod-{i:05d}", "labels": {"app": app}}, "spec": spec})
    return out


def run(nodes: int, count: int, profile: bool = False) -> dict[str, float]:
    t0 = time.perf_counter()
    c = build(nodes)
    t1 = time.perf_counter()
    c.apply(pods(count))
    t2 = time.perf_counter()
    algorithm = c.scheduler.algorithm
    inner = algorithm.schedule
    spent = [0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        s = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - s

    algorithm.schedule = timed  # type: ignore[method-assign]
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t3 = time.perf_counter()
    c.run()
    t4 = time.perf_counter()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    bound = sum(1 for p in c.store.items("Pod") if p["spec"].get("nodeName"))
    return {"nodes": nodes, "pods": count, "setup": t1 - t0, "apply": t2 - t1, "run": t4 - t3,
            "bound": bound, "cycles": spent[0], "attempts": c.scheduler.attempts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the large run")
    parser.add_argument("--quick", action="store_true", help="only the 100-node scenario")
    args = parser.parse_args()
    scenarios = [(100, 1000)] + ([] if args.quick else [(5000, 10_000)])
    print("| scenario | nodes | pods bound | add_node_pool | apply | run() | pods/s | cycle share |")
    print("|---|---|---|---|---|---|---|---|")
    for nodes, count in scenarios:
        r = run(nodes, count, profile=args.profile and nodes == 5000)
        rate = r["bound"] / r["run"]
        verdict = "ok" if rate >= TARGET_PODS_PER_SECOND else "MISS"
        print(f"| {nodes:,} x {count:,} | {nodes:,} | {r['bound']:,.0f} | {r['setup']:.2f} s "
              f"| {r['apply']:.2f} s | {r['run']:.2f} s "
              f"| {rate:,.0f} (target >= {TARGET_PODS_PER_SECOND:,}: {verdict}) "
              f"| {r['cycles'] / r['run']:.0%} ({r['cycles'] / max(r['attempts'], 1) * 1e6:.0f} us/cycle) |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    verdict = "ok" if peak < TARGET_PEAK_BYTES else "MISS"
    print(f"\npeak memory (max RSS): {peak / 2**20:,.0f} MiB (target < 1 GiB: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

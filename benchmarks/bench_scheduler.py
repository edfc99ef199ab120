"""Scheduler benchmark: how fast the simulated kube-scheduler places pods on a large cluster.

Run ``python benchmarks/bench_scheduler.py`` (``--profile`` adds a cProfile of the large run,
``--quick`` runs only the small scenario). It prints one table and exits 0; a figure over its
target is marked ``MISS`` rather than failing, because wall-clock time belongs to the machine.

Scenarios (the issue's):

* **large** — 5,000 nodes from 20 ACK node pools of four ECS types over three zones, a quarter of
  them tainted ``dedicated=batch:NoSchedule``; 10,000 pods with mixed requests, 20% with a
  toleration or a preferred node affinity, 10% with a ``DoNotSchedule`` zone spread constraint.
* **small** — 100 nodes, 1,000 pods of the same mix.
* **distinct** (issue 13) — 5,000 nodes in four ECS node pools of 1,250 nodes over three zones;
  10,000 pods, each with its own shape: cpu ``50m + (i*37 mod 450)m``, memory
  ``64Mi + (i*53 mod 960)Mi``, 50 images, 20% with a preferred zone affinity, 10% with a
  ``ScheduleAnyway`` zone spread. Run with kubelets off (hollow nodes) and on (scheduled *and*
  Running, end to end).

``--phases`` splits each cycle's time by phase (PreFilter, Filter, the window's selection, Score)
and the rest of ``run()`` (binding writes and their Events, watches, the queue, the kubelets).

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
        c.add_node_pool(
            f"pool-{k:02d}", TYPES[k % 4], per_pool, zones=ZONES, taints=[TAINT] if k % 4 == 3 else None
        )
    return c


ZONE_KEY = "topology.kubernetes.io/zone"


def zone_preference(zone: str, weight: int = 50) -> dict[str, Any]:
    """A preferred node affinity for one zone."""
    term = {"key": ZONE_KEY, "operator": "In", "values": [zone]}
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": weight, "preference": {"matchExpressions": [term]}}]}}  # fmt: skip


def zone_spread(app: str, when: str) -> list[dict[str, Any]]:
    """One zone spread constraint (maxSkew 1) over the pods of ``app``."""
    return [{"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": {"app": app}}}]  # fmt: skip


def pod_doc(i: int, app: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i:05d}", "labels": {"app": app}},
            "spec": spec}  # fmt: skip


def pods(count: int, seed: int = 1) -> list[dict[str, Any]]:
    """The issue's mix: varied requests; 20% tolerate the taint or prefer a zone; 10% spread by zone."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        app = f"app-{i % 20}"
        requests = {"cpu": f"{rng.choice([100, 250, 500, 1000])}m",
                    "memory": f"{rng.choice([128, 256, 512, 1024])}Mi"}  # fmt: skip
        spec: dict[str, Any] = {"containers": [{"name": "main", "image": "nginx:1.27",
                                                "resources": {"requests": requests}}]}  # fmt: skip
        kind = i % 10
        if kind == 0:
            spec["tolerations"] = [{**TAINT, "operator": "Equal"}]
        elif kind == 1:
            spec["affinity"] = zone_preference(ZONES[i % 3])
        elif kind == 2:
            spec["topologySpreadConstraints"] = zone_spread(app, "DoNotSchedule")
        out.append(pod_doc(i, app, spec))
    return out


def build_distinct(kubelets: bool, seed: int = 0) -> Any:
    """Four ECS node pools of 1,250 nodes over three zones (issue 13's distinct-shape scenario)."""
    import labkit

    c = labkit.Cluster(seed=seed, kubelets=kubelets)
    for k, instance_type in enumerate(TYPES):
        c.add_node_pool(f"pool-{k}", instance_type, 1250, zones=ZONES)
    return c


def distinct_pods(count: int) -> list[dict[str, Any]]:
    """Every pod its own cpu/memory request; 50 images; 20% prefer a zone; 10% spread (ScheduleAnyway)."""
    out = []
    for i in range(count):
        app = f"app-{i % 20}"
        requests = {"cpu": f"{50 + (i * 37) % 450}m", "memory": f"{64 + (i * 53) % 960}Mi"}
        image = f"docker.io/labkit/app-{i % 50}:1.0"
        container = {"name": "main", "image": image, "resources": {"requests": requests}}
        spec: dict[str, Any] = {"containers": [container]}
        if i % 5 == 0:
            spec["affinity"] = zone_preference(ZONES[i % 3])
        elif i % 10 == 1:
            spec["topologySpreadConstraints"] = zone_spread(app, "ScheduleAnyway")
        out.append(pod_doc(i, app, spec))
    return out


PHASES = ("pre_filter", "filter_all", "_score")


def _instrument(algorithm: Any) -> dict[str, float]:
    """Wrap the cycle and its phases with timers; returns the dict they add to (seconds)."""
    spent = {"cycle": 0.0, **{p: 0.0 for p in PHASES}}

    def wrap(name: str, key: str) -> None:
        inner = getattr(algorithm, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            s = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - s

        setattr(algorithm, name, timed)

    wrap("schedule", "cycle")
    for p in PHASES:
        wrap(p, p)
    return spent


def run(
    nodes: int, count: int, profile: bool = False, *, distinct: bool = False, kubelets: bool = False
) -> dict[str, Any]:
    t0 = time.perf_counter()
    c = build_distinct(kubelets) if distinct else build(nodes)
    t1 = time.perf_counter()
    c.apply(distinct_pods(count) if distinct else pods(count))
    t2 = time.perf_counter()
    phases = _instrument(c.scheduler.algorithm)
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
    running = sum(1 for p in c.store.items("Pod") if (p.get("status") or {}).get("phase") == "Running")
    return {
        "nodes": nodes,
        "pods": count,
        "setup": t1 - t0,
        "apply": t2 - t1,
        "run": t4 - t3,
        "bound": bound,
        "running": running,
        "cycles": phases["cycle"],
        "phases": phases,
        "attempts": c.scheduler.attempts,
    }


def _row(label: str, r: dict[str, Any], counted: str = "bound") -> str:
    rate = r[counted] / r["run"]
    verdict = "ok" if rate >= TARGET_PODS_PER_SECOND else "MISS"
    return (
        f"| {label} | {r['nodes']:,} | {r[counted]:,.0f} {counted} | {r['setup']:.2f} s | {r['apply']:.2f} s "
        f"| {r['run']:.2f} s | {rate:,.0f} (target >= {TARGET_PODS_PER_SECOND:,}: {verdict}) "
        f"| {r['cycles'] / r['run']:.0%} ({r['cycles'] / max(r['attempts'], 1) * 1e6:.0f} us/cycle) |"
    )


def _phases(label: str, r: dict[str, Any]) -> str:
    n = max(r["attempts"], 1)
    ph = r["phases"]
    select = ph["cycle"] - ph["pre_filter"] - ph["filter_all"] - ph["_score"]
    rest = r["run"] - ph["cycle"]
    return (
        f"| {label} | {ph['pre_filter'] / n * 1e6:.0f} | {ph['filter_all'] / n * 1e6:.0f} "
        f"| {select / n * 1e6:.0f} | {ph['_score'] / n * 1e6:.0f} | {ph['cycle'] / n * 1e6:.0f} "
        f"| {rest / n * 1e6:.0f} |"
    )


SCENARIOS = {
    "mix-small": ("mix 100 x 1,000", dict(nodes=100, count=1000), "bound"),
    "mix": ("mix 5,000 x 10,000", dict(nodes=5000, count=10_000), "bound"),
    "distinct": ("distinct, kubelets off", dict(nodes=5000, count=10_000, distinct=True), "bound"),
    "distinct-kubelets": (
        "distinct, kubelets on",
        dict(nodes=5000, count=10_000, distinct=True, kubelets=True),
        "running",
    ),
}


def main() -> int:
    import json
    import subprocess

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the scenario (with --only)")
    parser.add_argument("--quick", action="store_true", help="only the 100-node scenario")
    parser.add_argument("--only", choices=list(SCENARIOS), help="run one scenario in this process")
    parser.add_argument("--json", action="store_true", help="with --only: print the figures as JSON")
    args = parser.parse_args()
    if args.only:
        label, kwargs, counted = SCENARIOS[args.only]
        r = run(profile=args.profile, **kwargs)
        r["peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
        if args.json:
            print(json.dumps(r))
            return 0
        runs = [(label, r, counted)]
    else:
        # Each scenario in its own process, so that each peak memory is that scenario's alone.
        runs = []
        for key in ["mix-small"] if args.quick else list(SCENARIOS):
            out = subprocess.run(
                [sys.executable, __file__, "--only", key, "--json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            label, _, counted = SCENARIOS[key]
            runs.append((label, json.loads(out.strip().splitlines()[-1]), counted))
    print("| scenario | nodes | pods | add_node_pool | apply | run() | pods/s | cycle share | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, r, counted in runs:
        verdict = "ok" if r["peak"] < TARGET_PEAK_BYTES else "MISS"
        print(f"{_row(label, r, counted)} {r['peak'] / 2**20:,.0f} MiB ({verdict}) |")
    print("\nmicroseconds per scheduling attempt, by phase")
    print("| scenario | PreFilter | Filter | window + select | PreScore + Score | cycle | rest of run() |")
    print("|---|---|---|---|---|---|---|")
    for label, r, _ in runs:
        print(_phases(label, r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

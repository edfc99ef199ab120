"""Autoscaling benchmark: a simulated day of diurnal load through the HPA and the cluster autoscaler.

Run ``python benchmarks/bench_autoscaling.py`` (``--hours 6`` for a shorter day, ``--skip-requests``
for the fluid run only). It prints one table and exits 0; a figure over its target is marked
``MISS`` rather than failing, because wall-clock time belongs to the machine.

The workload: a Deployment ``web`` (500m CPU requested per pod, 10 millicore-seconds of CPU per
request, one request served at a time, 20 ms on average) behind a Service, an ``autoscaling/v2`` HPA (60 %
CPU, 2-30 replicas), a static ``ecs.g7.xlarge`` pool of one node and an autoscaled pool of up to 10
more (the cluster autoscaler, 60-90 s to boot a node); 24 simulated hours of
``labkit.workloads.Diurnal(mean=200, peak=400)`` requests per second (17.3 million requests), once
as fluid flows (``mode="fluid"``, 1 s ticks) and once request by request (``mode="requests"``,
``keep="summary"``: exact counts and latency histograms instead of a row per request), through the
real controllers and API server. Both runs report the replicas and nodes at the peak and the
trough, the HPA's rescales, the node-hours and the cost. Each run is its own process, so its peak
RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_FLUID_S, TARGET_REQUESTS_S = 5.0, 10.0
KEEP = "summary"


def rss_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {labkit.io/service-time: "exponential 20ms", labkit.io/concurrency: "1",
                    labkit.io/cpu-per-request: "10m"}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
        resources: {requests: {cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 30
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 60}}
"""


def day(mode: str, hours: float) -> dict[str, Any]:
    import labkit
    from labkit.workloads import Diurnal

    c = labkit.Cluster(seed=0)
    c.add_node_pool("base", instance_type="ecs.g7.xlarge", count=1)
    c.add_node_pool("elastic", instance_type="ecs.g7.xlarge", count=0, min_size=0, max_size=10)
    c.apply(MANIFESTS)
    c.run()
    duration = hours * 3600
    pattern = Diurnal(mean=200, peak=400, period=86400)
    base = rss_mib()
    t = c.traffic("web:80", rate=pattern, duration=duration, mode=mode, keep=KEEP)
    samples = []
    w0 = time.perf_counter()
    step = 1800.0
    end = c.now + duration
    while c.now < end:
        c.run(until=min(end, c.now + step))
        nodes = sum(1 for n in c.list("Node") if not n["spec"].get("unschedulable"))
        samples.append((c.now, c.get("Deployment", "web")["spec"]["replicas"], nodes))
    wall = time.perf_counter() - w0
    s = t.summary()
    cost = c.cost()
    history = c.hpa_controller.history[("default", "web")]
    rescales = sum(1 for _, _, cur, new in history if new != cur)
    return {"mode": mode, "wall": wall, "sent": s["sent"], "ok": s["ok"], "failed": s["failed"],
            "p99_s": s["p99_s"], "replicas_max": max(r for _, r, _ in samples),
            "replicas_min": min(r for _, r, _ in samples), "nodes_max": max(n for *_, n in samples),
            "rescales": rescales, "node_hours": float(cost["node_hours"].sum()),
            "cost": float(cost["cost_cny"].sum()), "rss": rss_mib(), "growth": rss_mib() - base}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--skip-requests", action="store_true")
    ap.add_argument("--only", choices=["fluid", "requests"], help=argparse.SUPPRESS)  # one run, as JSON
    args = ap.parse_args()
    if args.only:
        print(json.dumps(day(args.only, args.hours)))
        return 0
    runs = []
    for mode in ["fluid"] + ([] if args.skip_requests else ["requests"]):
        out = subprocess.run([sys.executable, __file__, "--only", mode, "--hours", str(args.hours)],
                             check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    scale = 24.0 / args.hours
    print(f"{args.hours:g} simulated hours, Diurnal(mean=200, peak=400) req/s, HPA 60% CPU (2-30), "
          "cluster autoscaler (elastic pool 0-10 x ecs.g7.xlarge)")
    print("| mode     |  wall s | target (24 h) | sent       | failed | p99 s  | replicas min-max "
          "| nodes max | rescales | node-h | cost CNY | peak RSS |")
    print("|----------|---------|---------------|------------|--------|--------|------------------"
          "|-----------|----------|--------|----------|----------|")
    for r in runs:
        target = TARGET_FLUID_S if r["mode"] == "fluid" else TARGET_REQUESTS_S
        verdict = "ok" if r["wall"] * scale <= target else "MISS"
        print(f"| {r['mode']:<8} | {r['wall']:7.2f} | <= {target:g} s: {verdict:<4} | {r['sent']:>10,} | "
              f"{r['failed']:>6,} | {r['p99_s'] or 0:.4f} | "
              f"{r['replicas_min']:>7} - {r['replicas_max']:<6} | "
              f"{r['nodes_max']:>9} | {r['rescales']:>8} | {r['node_hours']:6.1f} | {r['cost']:8.2f} | "
              f"{r['rss']:5.0f} MiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Controller benchmark: how fast Deployments roll out through the simulated kube-controller-manager.

Run ``python benchmarks/bench_controllers.py`` (``--profile`` adds a cProfile of the rolling
update). It prints one table and exits 0; a figure over its target is marked ``MISS`` rather
than failing, because wall-clock time belongs to the machine.

Scenarios (the issue's), kubelets on, so every pod is scheduled, started and made Ready:

* **rolling update** -- a 1,000-replica Deployment (25%/25%) on 100 ``ecs.g7.4xlarge`` nodes,
  rolled out first, then its image changed; the figure is the wall time of ``run()`` from the
  image change to the completed rollout (every pod replaced);
* **many Deployments** -- 100 Deployments of 10 replicas each applied at once on the same kind of
  cluster; the figure is the wall time from ``apply`` to all 1,000 pods Ready.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SECONDS = 2.0
ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]


def deployment(name: str, replicas: int, image: str = "nginx:1.27") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image, "resources": {
                                      "requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}}


def cluster() -> Any:
    import labkit

    c = labkit.Cluster(seed=0)
    c.add_node_pool("general", "ecs.g7.4xlarge", 100, zones=ZONES)
    return c


def rolling_update(profile: bool = False) -> dict[str, float]:
    c = cluster()
    c.apply(deployment("web", 1000))
    t0 = time.perf_counter()
    c.run()
    t1 = time.perf_counter()
    c.patch("Deployment", "web", {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "nginx:1.28"}]}}}})
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t2 = time.perf_counter()
    c.run()
    t3 = time.perf_counter()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    status = c.rollout_status("Deployment", "web")
    assert status == 'deployment "web" successfully rolled out', status
    return {"first": t1 - t0, "run": t3 - t2, "sim": c.now, "pods": sum(1 for _ in c.api.items("Pod")),
            "syncs": c.deployment_controller.syncs + c.replicaset_controller.syncs}


def many_deployments() -> dict[str, float]:
    c = cluster()
    t0 = time.perf_counter()
    c.apply([deployment(f"app-{i:03d}", 10) for i in range(100)])
    c.run()
    t1 = time.perf_counter()
    ready = sum(1 for p in c.api.items("Pod") if any(
        x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions") or []))
    assert ready == 1000, ready
    return {"run": t1 - t0, "sim": c.now, "pods": ready,
            "syncs": c.deployment_controller.syncs + c.replicaset_controller.syncs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the rolling update")
    args = parser.parse_args()
    a = rolling_update(profile=args.profile)
    b = many_deployments()
    print("| scenario | pods | simulated | controller syncs | wall | target |")
    print("|---|---|---|---|---|---|")
    rows = (("rolling update, 1,000 replicas, 100 nodes", a), ("100 Deployments x 10 replicas to Ready", b))
    for label, r in rows:
        verdict = "ok" if r["run"] <= TARGET_SECONDS else "MISS"
        print(f"| {label} | {r['pods']:,.0f} | {r['sim']:.1f} s | {r['syncs']:,.0f} | {r['run']:.2f} s "
              f"| <= {TARGET_SECONDS:.0f} s: {verdict} |")
    print(f"\n(first rollout of the 1,000-replica Deployment, before the update: {a['first']:.2f} s wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

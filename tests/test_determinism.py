"""Same seed, same cluster history — byte for byte, in any process.

Notebooks are committed with their outputs and checked by nbval, so a run must not depend on
anything but the seed and the calls: not on dict/set iteration under hash randomization
(``PYTHONHASHSEED``), not on wall-clock time, not on a module-level RNG. The scenario mixes
two node pools (one tainted), 200 pods with varied requests, tolerations, selectors, priorities
and spread constraints, some that can never fit, and deletions between batches.

Run as a script (``python tests/test_determinism.py <seed>``) it prints the scenario's digest,
which is how the test compares processes started with different hash seeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import labkit
from labkit.api.quantity import resource_amount

REPO = Path(__file__).resolve().parent.parent
IMAGES = ["nginx:1.27", "my-nginx", "busybox:latest", "redis:7.2", "registry.k8s.io/pause:3.10"]
CPU = ["50m", "100m", "250m", "500m", "1", "1500m"]
MEMORY = ["64Mi", "128Mi", "512Mi", "1Gi", "2Gi"]


def scenario_pods(batch: int, rng: random.Random) -> list[dict[str, Any]]:
    """50 pods; the shape comes from ``rng`` (fixed), so only the cluster seed differs between runs."""
    pods = []
    for i in range(50):
        n = batch * 50 + i
        spec: dict[str, Any] = {"containers": [{"name": "app", "image": rng.choice(IMAGES)}]}
        kind = rng.random()
        if n % 17 == 0:
            spec["containers"][0]["resources"] = {"requests": {"cpu": "64"}}  # never fits
        elif kind < 0.15:
            pass  # BestEffort: the scheduler's 100m/200Mi scoring defaults
        else:
            spec["containers"][0]["resources"] = {"requests": {"cpu": rng.choice(CPU),
                                                               "memory": rng.choice(MEMORY)}}
        if kind > 0.75:
            spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "batch",
                                    "effect": "NoSchedule"}]
            spec["nodeSelector"] = {"workload": "batch"}
        if 0.6 < kind <= 0.75:
            spec["topologySpreadConstraints"] = [{
                "maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "spread"}}}]
        if n % 11 == 0:
            spec["priorityClassName"] = "high"
        if n % 13 == 0:
            spec["containers"].append({"name": "sidecar", "image": "busybox:latest",
                                       "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}})
        app = "spread" if "topologySpreadConstraints" in spec else rng.choice(["web", "api", "batch"])
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"pod-{n:03d}", "labels": {"app": app}}, "spec": spec})
    return pods


def run_scenario(seed: int) -> labkit.Cluster:
    c = labkit.Cluster(seed=seed)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 10)
    c.add_node_pool("pool-b", "ecs.c7.2xlarge", 10, labels={"workload": "batch"},
                    taints=[{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}])
    c.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"},
             "value": 1000})
    shape = random.Random(2026)
    for batch in range(4):
        c.apply(scenario_pods(batch, shape))
        c.run(until=c.now + 20)
        names = sorted(p["metadata"]["name"] for p in c.list("Pod")
                       if not p["metadata"].get("deletionTimestamp"))
        for name in shape.sample(names, 5):
            c.delete("Pod", name)
    c.run()
    return c


def outputs(c: labkit.Cluster) -> tuple[str, str]:
    return json.dumps(c.events()), json.dumps(c.list("Pod"))


def digest(seed: int) -> str:
    events, pods = outputs(run_scenario(seed))
    return hashlib.sha256((events + "\n" + pods).encode()).hexdigest()


@pytest.fixture(scope="module")
def seed_1() -> labkit.Cluster:
    return run_scenario(1)


def test_same_seed_gives_byte_identical_events_and_pods(seed_1: labkit.Cluster) -> None:
    """Two runs in one process: the same events (with uids, times, counts) and the same pods."""
    events, pods = outputs(seed_1)
    again_events, again_pods = outputs(run_scenario(1))
    assert again_events == events
    assert again_pods == pods


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_hash_randomization_does_not_leak_into_results(seed_1: labkit.Cluster, hash_seed: str) -> None:
    """A fresh interpreter with another PYTHONHASHSEED (set iteration order changes) agrees byte for byte."""
    events, pods = outputs(seed_1)
    expected = hashlib.sha256((events + "\n" + pods).encode()).hexdigest()
    env = {**os.environ, "PYTHONHASHSEED": hash_seed,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, str(Path(__file__)), "1"], env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    assert out.stdout.strip() == expected


def test_scenario_exercises_what_it_claims(seed_1: labkit.Cluster) -> None:
    """The mix is real: both pools used, some pods unschedulable, deletions happened."""
    pods = seed_1.list("Pod")
    reasons = {e["reason"] for e in seed_1.events()}
    assert {"Scheduled", "FailedScheduling", "Pulling", "Pulled", "Started", "Killing"} <= reasons
    pools = {seed_1.get("Node", p["spec"]["nodeName"])["metadata"]["labels"].get("workload")
             for p in pods if p["spec"].get("nodeName")}
    assert pools == {None, "batch"}
    assert len(pods) == 200 - 20


@pytest.mark.parametrize("seed", [2, 3])
def test_other_seeds_give_other_but_valid_histories(seed_1: labkit.Cluster, seed: int) -> None:
    """A different seed changes uids and tie-breaks, never the rules: no node over-committed, the
    64-CPU pods pending and unschedulable, every bound pod running (or stopping)."""
    c = run_scenario(seed)
    assert outputs(c) != outputs(seed_1)
    nodes = {n["metadata"]["name"]: n for n in c.list("Node")}
    used: dict[str, dict[str, int]] = {name: {"cpu": 0, "memory": 0, "pods": 0} for name in nodes}
    for p in c.list("Pod"):
        node = p["spec"].get("nodeName")
        requests = [ctr.get("resources", {}).get("requests", {}) for ctr in p["spec"]["containers"]]
        if any(r.get("cpu") == "64" for r in requests):
            assert node is None and p["status"]["phase"] == "Pending"
            assert p["status"]["conditions"][0]["reason"] == "Unschedulable"
            continue
        if node is None:
            continue
        assert p["status"]["phase"] == "Running" or p["metadata"].get("deletionTimestamp")
        for r in requests:
            for res in ("cpu", "memory"):
                used[node][res] += resource_amount(res, r.get(res, 0))
        used[node]["pods"] += 1
    for name, amounts in used.items():
        allocatable = nodes[name]["status"]["allocatable"]
        for res, amount in amounts.items():
            assert amount <= resource_amount(res, allocatable[res]), (name, res)


if __name__ == "__main__":
    print(digest(int(sys.argv[1])))

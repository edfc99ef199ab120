"""A seeded 1,000-node scenario with every default plugin active, recorded cycle by cycle.

Used by ``tests/test_scheduler_speed_equivalence.py``: the record (each pod's node or
FailedScheduling message, and ``nextStartNodeIndex`` after every cycle) was written before the
speed work of issue 13 and must stay identical after it. Regenerate only for a change that is meant
to alter placements: ``python tests/scheduler_golden_scenario.py --write``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOLDEN = Path(__file__).parent / "data" / "scheduler-golden-1000-nodes.json"
TYPES = ["ecs.g7.xlarge", "ecs.c7.2xlarge", "ecs.r7.xlarge", "ecs.g7.2xlarge"]
ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
TAINT = {"key": "dedicated", "value": "batch", "effect": "NoSchedule"}


def pods(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Distinct shapes and every plugin: taints, required and preferred node affinity, node
    selectors, pod affinity and anti-affinity, both kinds of topology spread, host ports, images,
    priorities (some preempt), and pods that fit nowhere."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "high"},
            "value": 1000,
        }
    ]
    for i in range(count):
        app = f"app-{i % 25}"
        cpu = 800 + (i * 37) % 2400 if i % 97 else 64_000  # every 97th pod fits nowhere; the cluster fills
        spec: dict[str, Any] = {
            "containers": [
                {
                    "name": "main",
                    "image": f"registry.cn-hangzhou.aliyuncs.com/lab/app-{i % 40}:1.{i % 3}",
                    "resources": {"requests": {"cpu": f"{cpu}m", "memory": f"{64 + (i * 53) % 960}Mi"}},
                }
            ]
        }
        kind = i % 12
        if kind == 0:
            spec["tolerations"] = [{**TAINT, "operator": "Equal"}]
        elif kind == 1:
            spec["affinity"] = {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": rng.choice([10, 50, 100]),
                            "preference": {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "In",
                                        "values": [ZONES[i % 3]],
                                    }
                                ]
                            },
                        }
                    ]
                }
            }
        elif kind == 2:
            spec["topologySpreadConstraints"] = [
                {
                    "maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": app}},
                }
            ]
        elif kind == 3:
            spec["topologySpreadConstraints"] = [
                {
                    "maxSkew": 2,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app": app}},
                }
            ]
        elif kind == 4:
            spec["affinity"] = {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "labelSelector": {"matchLabels": {"app": app}},
                            "topologyKey": "kubernetes.io/hostname",
                        }
                    ]
                }
            }
        elif kind == 5:
            spec["affinity"] = {
                "podAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 30,
                            "podAffinityTerm": {
                                "labelSelector": {"matchLabels": {"app": f"app-{(i + 1) % 25}"}},
                                "topologyKey": "topology.kubernetes.io/zone",
                            },
                        }
                    ]
                }
            }
        elif kind == 6:
            spec["nodeSelector"] = {"node.kubernetes.io/instance-type": TYPES[i % 4]}
        elif kind == 7:
            spec["containers"][0]["ports"] = [{"containerPort": 8080, "hostPort": 30000 + i % 5}]
        elif kind == 8:
            spec["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "topology.kubernetes.io/zone",
                                        "operator": "NotIn",
                                        "values": [ZONES[i % 3]],
                                    }
                                ]
                            }
                        ]
                    }
                }
            }
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"pod-{i:05d}", "labels": {"app": app}},
                "spec": spec,
            }
        )
    return out


def high_pods(count: int) -> list[dict[str, Any]]:
    """Applied once the cluster is full: priority 1000, so most of them preempt."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"urgent-{i:03d}", "labels": {"app": "urgent"}},
            "spec": {
                "priorityClassName": "high",
                "containers": [
                    {
                        "name": "main",
                        "image": "registry.cn-hangzhou.aliyuncs.com/lab/urgent:1.0",
                        "resources": {"requests": {"cpu": f"{3000 + 250 * (i % 4)}m", "memory": "1Gi"}},
                    }
                ],
            },
        }
        for i in range(count)
    ]


def record(nodes: int = 1000, count: int = 2200) -> dict[str, Any]:
    import labkit

    c = labkit.Cluster(seed=11, kubelets=False)
    for k in range(nodes // 250):
        c.add_node_pool(f"pool-{k}", TYPES[k], 250, zones=ZONES, taints=[TAINT] if k == 3 else None)
    algorithm = c.scheduler.algorithm
    inner = algorithm.schedule
    starts: list[int] = []

    def traced(ctx: Any, **kwargs: Any) -> Any:
        res = inner(ctx, **kwargs)
        if not kwargs.get("dry_run") and not kwargs.get("all_nodes"):
            starts.append(algorithm.next_start_node_index)
        return res

    algorithm.schedule = traced  # type: ignore[method-assign]
    c.apply(pods(count))
    c.run(until=600)
    c.apply(high_pods(3))
    c.run(until=1200)
    placements = {}
    for p in c.store.items("Pod"):
        name = p["metadata"]["name"]
        node = p["spec"].get("nodeName")
        if node:
            placements[name] = node
        else:
            msgs = [e["message"] for e in c.events(involved=name) if e["reason"] == "FailedScheduling"]
            placements[name] = f"FailedScheduling: {msgs[-1] if msgs else '(none)'}"
    preempted = sorted(e["involvedObject"]["name"] for e in c.events() if e["reason"] == "Preempted")
    return {
        "nodes": nodes,
        "pods": count,
        "placements": placements,
        "next_start_node_index": starts,
        "preempted": preempted,
    }


if __name__ == "__main__":
    if "--write" in sys.argv:
        GOLDEN.write_text(json.dumps(record(), sort_keys=True, separators=(",", ":")) + "\n")
        print(f"wrote {GOLDEN}")
    else:
        r = record()
        print(
            len(r["placements"]),
            sum(1 for v in r["placements"].values() if v.startswith("Failed")),
            len(r["next_start_node_index"]),
            len(r["preempted"]),
        )

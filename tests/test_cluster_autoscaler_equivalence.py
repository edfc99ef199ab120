"""The autoscaler's caches change no decision: a scenario of random pod bursts run once as is and
once with every loop recomputed from scratch (``_full_recompute``) gives the same event log, nodes,
instance lifetimes and status ConfigMap writes."""

from __future__ import annotations

import random

import pytest
from test_cluster_autoscaler import deployment

import labkit


def _actions(seed: int) -> list[tuple[str, int, float]]:
    rng = random.Random(f"ca-equivalence/{seed}")
    out: list[tuple[str, int, float]] = []
    for _ in range(28):
        kind = rng.choices(
            ["burst", "drop", "gpu", "delete-pod", "addon", "bare", "pdb"], [6, 4, 1, 3, 1, 1, 1]
        )[0]
        value = rng.randint(0, 14) if kind in ("burst", "drop") else rng.randint(0, 99)
        out.append((kind, value, rng.choice([5.0, 10.0, 30.0, 75.0, 160.0, 400.0])))
    return out


def _scenario(seed: int, full: bool) -> dict:
    c = labkit.Cluster(seed=seed)
    ca = c.cluster_autoscaler
    ca._full_recompute = full
    evaluations = []
    find = ca._find_unneeded

    def counted(*args, **kwargs):
        evaluations.append(c.now)
        return find(*args, **kwargs)

    ca._find_unneeded = counted
    writes: list[tuple[float, str, str]] = []

    def on_cm(ev):
        meta = ev.object["metadata"]
        if meta["name"] == "cluster-autoscaler-status":
            stamp = (meta.get("annotations") or {}).get("cluster-autoscaler.kubernetes.io/last-updated", "")
            writes.append((c.now, stamp, ev.object["data"]["status"]))

    c.api.watch("ConfigMap", on_cm)
    c.add_node_pool("base", "ecs.g7.xlarge", 1)
    ca.configure(
        scale_down_unneeded_time=120,
        scale_down_delay_after_add=60,
        max_node_provision_time=300,
        blocking_system_pod_distruption_timeout=400,
        initial_node_group_backoff_duration=120,
    )
    c.add_node_pool("elastic", "ecs.g7.xlarge", 1, min_size=0, max_size=4)
    c.add_node_pool("large", "ecs.g7.2xlarge", 0, min_size=0, max_size=2)
    c.add_node_pool("gpu", "ecs.g7.xlarge", 0, min_size=0, max_size=1, labels={"tier": "gpu"})
    c.cloud_provider.pools["gpu"].set_out_of_stock()  # its scale-ups time out and back off
    web = deployment("web", 2, cpu="1", memory="2Gi")
    web["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 45
    docs = [
        web,
        deployment("gpu", 0, cpu="500m", node_selector={"tier": "gpu"}),
        deployment("addon", 0, cpu="100m", namespace="kube-system"),
    ]
    for d in docs:
        # a deadline that never passes: a rollout stuck past it requeues its Deployment at once
        # (requeueStuckDeployment), which would only make this test slow
        d["spec"]["progressDeadlineSeconds"] = 10**8
    c.apply(docs)
    bare = 0
    for kind, value, wait in _actions(seed):
        if kind == "burst":
            c.scale("Deployment", "web", value)
        elif kind == "drop":
            c.scale("Deployment", "web", value // 4)
        elif kind == "gpu":
            c.scale("Deployment", "gpu", value % 2)
        elif kind == "addon":
            c.scale("Deployment", "addon", value % 2, "kube-system")
        elif kind == "delete-pod":
            pods = sorted(
                (p["metadata"]["namespace"], p["metadata"]["name"])
                for p in c.list("Pod")
                if not p["metadata"].get("deletionTimestamp")
            )
            if pods:
                ns, name = pods[value % len(pods)]
                c.delete("Pod", name, ns)
        elif kind == "bare":
            nodes = sorted(n["metadata"]["name"] for n in c.list("Node"))
            bare += 1
            c.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": f"bare-{bare}"},
                    "spec": {
                        "nodeName": nodes[value % len(nodes)],
                        "containers": [
                            {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "100m"}}}
                        ],
                    },
                }
            )
        elif kind == "pdb":
            name = f"pdb-{value}"
            if any(p["metadata"]["name"] == name for p in c.list("PodDisruptionBudget")):
                c.delete("PodDisruptionBudget", name)
            else:
                c.apply(
                    {
                        "apiVersion": "policy/v1",
                        "kind": "PodDisruptionBudget",
                        "metadata": {"name": name},
                        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
                    }
                )
        c.run(until=c.now + wait)
    c.run(until=c.now + 1500)
    cm = c.get("ConfigMap", "cluster-autoscaler-status", "kube-system")
    return {
        "events": c.event_log(),
        "nodes": sorted(n["metadata"]["name"] for n in c.list("Node")),
        "instances": [
            (i.node, i.pool, i.requested_s, i.registered_s, i.released_s) for i in c.cloud_provider.history
        ],
        "targets": {n: p.target_size() for n, p in c.cloud_provider.pools.items()},
        "status": (cm["metadata"]["annotations"], cm["data"]),
        "writes": writes,
        "loops": ca.loops,
        "unneeded": (list(ca.unneeded), dict(ca.unneeded_since), dict(ca.unremovable)),
        "evaluations": evaluations,
        "now": c.now,
    }


@pytest.mark.parametrize("seed", [0, 1, 2, 9])  # 9 once crashed PodTopologySpread (stale row)
def test_cached_loop_decides_exactly_as_a_full_recompute(seed):
    fast = _scenario(seed, full=False)
    full = _scenario(seed, full=True)
    assert fast["now"] == full["now"] and fast["loops"] == full["loops"]
    assert fast["events"] == full["events"]
    assert fast["nodes"] == full["nodes"]
    assert fast["instances"] == full["instances"]
    assert fast["targets"] == full["targets"]
    assert fast["status"] == full["status"]
    assert fast["writes"] == full["writes"]
    assert fast["unneeded"] == full["unneeded"]
    # the scenario exercises scale-up, scale-down and the caches
    reasons = {e["reason"] for e in fast["events"] if e["component"] == "cluster-autoscaler"}
    assert {"ScaledUpGroup", "TriggeredScaleUp"} <= reasons
    assert reasons & {"ScaleDownEmpty", "ScaleDown"}
    assert len(fast["writes"]) == fast["loops"] + 1  # created, then rewritten every loop
    assert len(full["evaluations"]) > 2 * len(fast["evaluations"])


def test_loop_stamps_match_go_time_and_rfc3339():
    from labkit.controllers.cluster_autoscaler import _rfc3339_nano, _stamps, go_time

    rng = random.Random(7)
    values = [0.0, 0.5, 10.0, 59.999999, 86399.000001, 86400.0, 1e-6, 123.456, 31536000.0]
    values += [rng.uniform(0, 1e8) for _ in range(500)] + [float(rng.randint(0, 10**9)) for _ in range(500)]
    for v in values:
        assert _stamps(v) == (go_time(v), _rfc3339_nano(v)), v

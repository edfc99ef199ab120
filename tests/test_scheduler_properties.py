"""Invariants of the simulated kube-scheduler on random clusters and random pod sequences.

Hypothesis draws 1-12 nodes (random allocatable, zone/disk labels, NoSchedule / NoExecute /
PreferNoSchedule taints, cordons) and batches of pods (no requests or cpu and/or memory,
tolerations, nodeSelector, required and preferred node affinity, priority classes, a host port),
applies them through ``labkit.Cluster`` and runs it until nothing is left to happen. Whatever the
draw, a correct scheduler never overcommits a node, binds only where every filter passed and the
score was the best, explains its totals as the weighted sum of the plugin scores, replays
identically from the same seed, and keeps its node table equal to the pods actually bound.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit
from labkit.scheduler.podinfo import pod_requests

PRIORITY_CLASSES = [
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
     "value": value}
    for name, value in (("low", -10), ("mid", 100), ("high", 1000))
]
TAINTS = [
    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    {"key": "spot", "value": "true", "effect": "PreferNoSchedule"},
    {"key": "maintenance", "effect": "NoExecute"},
    {"key": "arch", "value": "arm64", "effect": "PreferNoSchedule"},
]
TOLERATIONS = [
    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "spot", "operator": "Exists"},
    {"key": "maintenance", "operator": "Exists", "effect": "NoExecute"},
    {"operator": "Exists", "effect": "PreferNoSchedule"},
]
ZONES = ["zone-a", "zone-b", "zone-c"]


@st.composite
def nodes(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for k in range(draw(st.integers(1, 12))):
        name = f"node-{k:02d}"
        labels = {"kubernetes.io/hostname": name}
        zone = draw(st.sampled_from([None, *ZONES]))
        if zone:
            labels["topology.kubernetes.io/zone"] = zone
        disk = draw(st.sampled_from([None, "ssd", "hdd"]))
        if disk:
            labels["disktype"] = disk
        alloc = {"cpu": f"{draw(st.sampled_from([500, 1000, 2000, 3920]))}m",
                 "memory": f"{draw(st.sampled_from([512, 1024, 4096]))}Mi",
                 "pods": str(draw(st.integers(1, 8)))}
        spec: dict[str, Any] = {}
        taints = draw(st.lists(st.sampled_from(TAINTS), max_size=2, unique_by=lambda t: t["key"]))
        if taints:
            spec["taints"] = taints
        if draw(st.integers(0, 5)) == 0:
            spec["unschedulable"] = True
        out.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
                    "spec": spec, "status": {"capacity": dict(alloc), "allocatable": alloc}})
    return out


@st.composite
def pods(draw: st.DrawFn, prefix: str) -> list[dict[str, Any]]:
    out = []
    for k in range(draw(st.integers(1, 8))):
        container: dict[str, Any] = {"name": "app", "image": draw(st.sampled_from(["nginx:1.27", "redis:7"]))}
        requests = {}
        if draw(st.booleans()):
            requests["cpu"] = f"{draw(st.sampled_from([0, 100, 250, 500, 1000, 1500]))}m"
        if draw(st.booleans()):
            requests["memory"] = f"{draw(st.sampled_from([0, 64, 256, 700]))}Mi"
        if requests:
            container["resources"] = {"requests": requests}
        if draw(st.integers(0, 4)) == 0:
            container["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        spec: dict[str, Any] = {"containers": [container]}
        tolerations = draw(st.lists(st.sampled_from(TOLERATIONS), max_size=2))
        if tolerations:
            spec["tolerations"] = tolerations
        if draw(st.integers(0, 3)) == 0:
            spec["nodeSelector"] = {"disktype": draw(st.sampled_from(["ssd", "hdd"]))}
        affinity: dict[str, Any] = {}
        if draw(st.integers(0, 3)) == 0:
            zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True))
            expression = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": zones}
            affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
                {"matchExpressions": [expression]}]}
        if draw(st.booleans()):
            affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": draw(st.integers(1, 100)), "preference": {"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}}
                for zone in draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True))]
        if affinity:
            spec["affinity"] = {"nodeAffinity": affinity}
        priority = draw(st.sampled_from([None, "low", "mid", "high"]))
        if priority:
            spec["priorityClassName"] = priority
        out.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{prefix}-{k}"}, "spec": spec})
    return out


#: (nodes, pod batches applied one after another with a run in between, cluster seed)
batches = st.integers(1, 3).flatmap(lambda k: st.tuples(*(pods(f"b{i}") for i in range(k))))
scenarios = st.tuples(nodes(), batches, st.integers(0, 3))

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def simulate(scenario: tuple) -> labkit.Cluster:
    node_docs, batches, seed = scenario
    c = labkit.Cluster(seed=seed)
    c.apply(PRIORITY_CLASSES + node_docs)
    for batch in batches:
        c.apply(batch)
        c.run()
    return c


def bound_pods(c: labkit.Cluster) -> list[dict[str, Any]]:
    return [p for p in c.list("Pod") if p["spec"].get("nodeName")]


@FAST
@given(scenarios)
def test_no_node_is_overcommitted(scenario: tuple) -> None:
    """(a) On every node the bound pods' requests fit allocatable, resource by resource, and the
    pod count fits ``allocatable.pods``."""
    c = simulate(scenario)
    used: dict[str, dict[str, int]] = {}
    count: dict[str, int] = {}
    for p in bound_pods(c):
        node = p["spec"]["nodeName"]
        count[node] = count.get(node, 0) + 1
        for res, amount in pod_requests(p["spec"]).items():
            used.setdefault(node, {})[res] = used.setdefault(node, {}).get(res, 0) + amount
    table = c.scheduler.table
    for node, per_res in used.items():
        row = table.index[node]
        for res, amount in per_res.items():
            assert amount <= table.alloc[row, table.column(res)], (node, res)
    for node, n in count.items():
        assert n <= table.alloc[table.index[node], table.column("pods")], node


@FAST
@given(scenarios)
def test_every_bound_pod_passed_every_filter_and_won_the_score(scenario: tuple) -> None:
    """(b) The cycle that bound a pod examined its node and no filter rejected it there; the node
    is one of the top-scoring ties."""
    c = simulate(scenario)
    for p in bound_pods(c):
        node = p["spec"]["nodeName"]
        result = c.scheduler.records[p["metadata"]["uid"]]
        assert result.chosen_name == node
        assert result.first[result.chosen] == -1
        assert node in c.explain(p["metadata"]["name"]).ties


@FAST
@given(scenarios)
def test_total_is_the_weighted_sum_and_the_winner_has_the_best_total(scenario: tuple) -> None:
    """(c) In ``explain(pod).frame()`` the total is Σ weight × plugin score over the plugins that
    scored (NaN: skipped in PreScore), and the chosen node has the highest total."""
    c = simulate(scenario)
    for p in bound_pods(c):
        ex = c.explain(p["metadata"]["name"])
        frame = ex.frame()
        weights = ex.weights()
        scored = frame[~frame["total"].isna()]
        for node, row in scored.iterrows():
            expected = sum(weights[name] * row[name] for name in weights if not math.isnan(row[name]))
            assert row["total"] == expected, node
        if len(scored):
            assert frame.loc[ex.chosen, "total"] == scored["total"].max()
        else:
            # Exactly one feasible node: scoring is skipped and that node is taken.
            assert list(frame.index[frame["filter"] == ""]) == [ex.chosen]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios)
def test_same_seed_gives_byte_identical_events(scenario: tuple) -> None:
    """(d) Two runs from the same seed and the same calls produce the same events, byte for byte."""
    first = json.dumps(simulate(scenario).events(), sort_keys=True)
    second = json.dumps(simulate(scenario).events(), sort_keys=True)
    assert first == second


@FAST
@given(scenarios)
def test_node_table_requested_equals_the_bound_pods(scenario: tuple) -> None:
    """(e) The scheduler's incremental ``requested`` row of each node is exactly the sum of the
    requests of the pods bound there (and the pods column their number)."""
    c = simulate(scenario)
    table = c.scheduler.table
    expected = np.zeros_like(table.requested[: table.n])
    for p in bound_pods(c):
        row = table.index[p["spec"]["nodeName"]]
        for res, amount in pod_requests(p["spec"]).items():
            expected[row, table.column(res)] += amount
        expected[row, table.column("pods")] += 1
    assert (table.requested[: table.n] == expected).all()

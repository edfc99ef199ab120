"""DefaultPreemption with PodDisruptionBudgets, replayed from upstream's own test tables.

``tests/data/upstream-preemption-cases.json`` transcribes, case by case, the tables of
``pkg/scheduler/framework/plugins/defaultpreemption/default_preemption_test.go`` (kubernetes
commit 008b365) that depend on PDBs or on ``pickOneNodeForPreemption``'s order: TestPostFilter,
TestDryRunPreemption and TestSelectBestCandidate. Each case builds the snapshot (nodes, bound pods),
runs labkit's NodeResourcesFit filter over it as the cycle does, then DefaultPreemption:

- TestDryRunPreemption: every candidate node's victims (upstream compares them sorted by name) and
  its number of PDB-violating victims;
- TestSelectBestCandidate and TestPostFilter: the node preemption nominates.

Start times are upstream's nanoseconds after the epoch, written as seconds (only their order
matters, and a pod's ``status.startTime`` has one-second resolution).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from labkit.scheduler.framework import CycleContext
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.podinfo import PodInfo
from labkit.scheduler.preemption import dry_run, preempt
from labkit.scheduler.profile import REGISTRY, Profile
from labkit.scheduler.schedule_one import CycleResult, ScheduleAlgorithm

TABLE = json.loads((Path(__file__).parent / "data" / "upstream-preemption-cases.json").read_text())
CASES: list[dict[str, Any]] = TABLE["cases"]
#: Needs DryRunPreemption's candidate limit (minCandidateNodesAbsolute=2 and a seeded offset); labkit
#: evaluates every node, as upstream does with its defaults up to 1,000 nodes.
NEEDS_CANDIDATE_LIMIT = "preemption looks past numCandidates until a non-PDB violating node is found"


class _PDBs:
    """The read access DefaultPreemption needs: the PDB lister (and no live pods)."""

    def __init__(self, pdbs: list[dict[str, Any]]) -> None:
        self._pdbs = pdbs

    def items(self, kind: str, namespace: str | None = None):
        return iter(self._pdbs if kind == "PodDisruptionBudget" else [])

    def peek(self, kind: str, name: str, namespace: str | None = None) -> None:
        return None


def _pod(spec: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if spec.get("startTime") is not None:
        started = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(spec["startTime"]))
        status["startTime"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    containers = (
        [{"name": "c", "resources": {"requests": dict(spec["requests"])}}] if spec.get("requests") else []
    )
    pod_spec: dict[str, Any] = {"containers": containers, "priority": spec.get("priority") or 0}
    if spec.get("node"):
        pod_spec["nodeName"] = spec["node"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "spec": pod_spec,
        "status": status,
        "metadata": {
            "name": spec["name"],
            "namespace": spec.get("namespace", ""),
            "uid": spec.get("uid"),
            "labels": dict(spec.get("labels") or {}),
        },
    }


def _pdb(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": spec["name"], "namespace": spec.get("namespace", "")},
        "spec": {"selector": {"matchLabels": dict(spec["matchLabels"])}},
        "status": {
            "disruptionsAllowed": spec["disruptionsAllowed"],
            "disruptedPods": {p: "1970-01-01T00:00:00Z" for p in spec.get("disruptedPods") or []},
        },
    }


def _setup(case: dict[str, Any]) -> tuple[ScheduleAlgorithm, CycleContext, CycleResult]:
    table = NodeTable()
    for node in case["nodes"]:
        table.set_node(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": node["name"], "labels": dict(node.get("labels") or {})},
                "spec": {},
                "status": {"capacity": dict(node["capacity"]), "allocatable": dict(node["capacity"])},
            }
        )
    for spec in case["pods"]:
        table.add_pod(table.index[spec["node"]], PodInfo.from_pod(_pod(spec)))
    ctx = CycleContext(
        pod=PodInfo.from_pod(_pod(case["pod"])),
        table=table,
        api=_PDBs([_pdb(p) for p in case.get("pdbs") or []]),
        now=1e9,
    )
    algorithm = ScheduleAlgorithm(Profile(plugins=[REGISTRY["NodeResourcesFit"](None)], weights={}))
    first, results = algorithm.filter_all(ctx, set())
    result = CycleResult(
        pod=ctx.pod.key,
        num_nodes=table.n,
        node_names=list(table.names),
        feasible=np.flatnonzero(first < 0),
        first=first,
        filters=[(p.name, rej) for p, rej in results],
    )
    return algorithm, ctx, result


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_preemption_reproduces_upstream_case(case: dict[str, Any]) -> None:
    if case["name"] == NEEDS_CANDIDATE_LIMIT:
        pytest.skip("needs DryRunPreemption's candidate limit (minCandidateNodesAbsolute=2, seeded offset)")
    algorithm, ctx, result = _setup(case)
    expected = case["expected"]
    names = ctx.table.names
    if expected.get("victims") is not None:
        candidates, _ = dry_run(algorithm, ctx, result, list(ctx.api.items("PodDisruptionBudget")))
        got = {names[i]: sorted(p.name for p in victims) for i, (victims, _) in candidates.items()}
        assert got == expected["victims"]
        assert {names[i]: n for i, (_, n) in candidates.items()} == expected["numPDBViolations"]
        return
    outcome = preempt(algorithm, ctx, result)
    assert outcome.node is not None, outcome.message
    assert names[outcome.node] in (expected.get("acceptableNodes") or [expected["nominatedNode"]])


def test_the_table_covers_upstreams_pdb_and_picking_cases() -> None:
    by_test: dict[str, int] = {}
    for c in CASES:
        by_test[c["source"]] = by_test.get(c["source"], 0) + 1
    assert by_test == {"TestPostFilter": 1, "TestDryRunPreemption": 5, "TestSelectBestCandidate": 9}
    assert sum(1 for c in CASES if c.get("pdbs")) == 6

"""DefaultPreemption (PostFilter): find nodes where evicting lower-priority pods lets the pod in.

Upstream: ``pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go`` and
``pkg/scheduler/framework/preemption/preemption.go``. A node can be a candidate only when its
filter status was ``Unschedulable`` (not ``...AndUnresolvable``) and it holds pods of lower
priority; the dry run removes all of them, checks the filters, then reprieves victims from
the highest priority down while the pod still fits (``SelectVictimsOnNode``). The winner is
chosen by ``pickOneNodeForPreemption``'s criteria. PodDisruptionBudgets are not modelled.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from labkit.scheduler.framework import Code, CycleContext
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.podinfo import PodInfo

__all__ = ["PreemptionOutcome", "preempt", "NOT_HELPFUL", "NO_VICTIMS"]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclass
class PreemptionOutcome:
    """Either a node with victims to evict, or the per-node verdicts for the message."""

    node: int | None = None
    victims: list[PodInfo] = field(default_factory=list)
    message: str = ""


def _view_without(table: NodeTable, rows: dict[int, list[PodInfo]]) -> NodeTable:
    """A shallow copy of ``table`` with the given pods taken off their node rows."""
    view = copy.copy(table)
    view.requested = table.requested.copy()
    view.nonzero = table.nonzero.copy()
    view.pods = list(table.pods)
    view.used_ports = list(table.used_ports)
    for i, pods in rows.items():
        view.pods[i] = dict(table.pods[i])
        view.used_ports[i] = dict(table.used_ports[i])
        for p in pods:
            view.remove_pod(i, p)
    return view


def _fits_on(algorithm, ctx: CycleContext, table: NodeTable, i: int) -> tuple[bool, list[str]]:
    sub = CycleContext(pod=ctx.pod, table=table, cluster=ctx.cluster, state={})
    first, results = algorithm.filter_all(sub, set())
    k = int(first[i])
    if k < 0:
        return True, []
    return False, [r.reason for r in results[k][1] if r.mask[i]]


def preempt(algorithm, ctx: CycleContext, result) -> PreemptionOutcome:
    """Run DefaultPreemption for a pod whose cycle found no feasible node."""
    pod = ctx.pod
    n = result.num_nodes
    if pod.preemption_policy == "Never":
        return PreemptionOutcome(message="preemption: not eligible due to preemptionPolicy=Never.")
    table = ctx.table
    verdicts: dict[int, list[str]] = {}
    lower: dict[int, list[PodInfo]] = {}
    for i in range(n):
        if result.code(i) != Code.Unschedulable:
            verdicts[i] = [NOT_HELPFUL]
            continue
        victims = [p for p in table.pods[i].values() if p.priority < pod.priority]
        if not victims:
            verdicts[i] = [NO_VICTIMS]
        else:
            lower[i] = victims
    candidates: dict[int, list[PodInfo]] = {}
    if lower:
        view = _view_without(table, lower)
        sub = CycleContext(pod=pod, table=view, cluster=ctx.cluster, state={})
        first, results = algorithm.filter_all(sub, set())
        for i, victims in lower.items():
            k = int(first[i])
            if k >= 0:
                verdicts[i] = [r.reason for r in results[k][1] if r.mask[i]]
                continue
            candidates[i] = _reprieve(algorithm, ctx, table, i, victims)
    if candidates:
        node = _pick_one(candidates, table)
        return PreemptionOutcome(node=node, victims=candidates[node])
    counts: dict[str, int] = {}
    for reasons in verdicts.values():
        for r in reasons:
            counts[r] = counts.get(r, 0) + 1
    listed = ", ".join(sorted(f"{c} {r}" for r, c in counts.items()))
    return PreemptionOutcome(message=f"preemption: 0/{n} nodes are available: {listed}.")


def _reprieve(algorithm, ctx: CycleContext, table: NodeTable, i: int, victims: list[PodInfo]) -> list[PodInfo]:
    """``SelectVictimsOnNode``: add victims back, most important first, while the pod still fits."""
    ordered = sorted(victims, key=lambda p: (-p.priority, _start(p)))
    removed = list(ordered)
    for p in ordered:
        trial = [v for v in removed if v is not p]
        view = _view_without(table, {i: trial})
        fits, _ = _fits_on(algorithm, ctx, view, i)
        if fits:
            removed = trial
    return removed


def _start(p: PodInfo) -> float:
    return float((p.obj.get("status") or {}).get("startSeconds", 0.0))


def _pick_one(candidates: dict[int, list[PodInfo]], table: NodeTable) -> int:
    """``pickOneNodeForPreemption`` without PDBs: lowest highest-victim priority, then the lowest
    priority sum, then fewest victims, then the latest start of the highest-priority victims,
    then the first candidate in node order."""
    order = {int(r): k for k, r in enumerate(table.order)}

    def key(i: int) -> tuple:
        vs = candidates[i]
        highest = max(p.priority for p in vs)
        total = sum(p.priority + (1 << 31) for p in vs)
        latest = max((_start(p) for p in vs if p.priority == highest), default=0.0)
        return (highest, total, len(vs), -latest, order.get(i, 0))

    return min(candidates, key=key)


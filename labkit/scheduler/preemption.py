"""DefaultPreemption (PostFilter): find nodes where evicting lower-priority pods lets the pod in.

Upstream: ``pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go`` and
``pkg/scheduler/framework/preemption/preemption.go``. A node can be a candidate only when its
filter status was ``Unschedulable`` (not ``...AndUnresolvable``) and it holds pods of lower
priority; the dry run removes all of them from that node, checks the filters, then reprieves
victims from the most important down while the pod still fits (``SelectVictimsOnNode``), first
those whose eviction would violate a PodDisruptionBudget (``filterPodsWithPDBViolation``: each
PDB's ``status.disruptionsAllowed``, counted down per matching victim; a victim already in its
``disruptedPods`` does not count), then the others. The winner is chosen by
``pickOneNodeForPreemption``: fewest PDB violations first. Nominated pods are not added back when
other pods are filtered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from labkit.api.store import EPOCH
from labkit.scheduler.framework import Code, CycleContext
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.podinfo import PodInfo

if TYPE_CHECKING:
    from labkit.scheduler.schedule_one import CycleResult, ScheduleAlgorithm

__all__ = [
    "PreemptionOutcome",
    "preempt",
    "pdb_violations",
    "NOT_HELPFUL",
    "NO_VICTIMS",
    "NOT_ELIGIBLE_NEVER",
    "NOT_ELIGIBLE_TERMINATING",
]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
# default_preemption.go PodEligibleToPreemptOthers
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."


@dataclass
class PreemptionOutcome:
    """Either a node with victims to evict, or the PostFilter message when preemption cannot help.

    ``clears_nomination``: no candidate was found, so the pod's ``status.nominatedNodeName`` is
    cleared (``NewPostFilterResultWithNominatedNode("")``); an ineligible pod keeps it.
    """

    node: int | None = None
    victims: list[PodInfo] = field(default_factory=list)
    message: str = ""
    clears_nomination: bool = False


def _view_without(table: NodeTable, i: int, pods: list[PodInfo]) -> NodeTable:
    """A shallow copy of ``table`` with ``pods`` taken off node row ``i`` (``NodeInfo.Snapshot``)."""
    view = table.dry_run_copy()
    view.pods[i] = dict(table.pods[i])
    view.used_ports[i] = dict(table.used_ports[i])
    for p in pods:
        view.remove_pod(i, p)
    return view


def _filter_on(algorithm: ScheduleAlgorithm, ctx: CycleContext, table: NodeTable, i: int,
               skip: frozenset[str] = frozenset()) -> list[str]:
    """Reasons of the first filter that rejects node row ``i`` of ``table`` ([] when the pod fits);
    the filters whose PreFilter skipped the cycle stay skipped (``skip``)."""
    sub = CycleContext(pod=ctx.pod, table=table, api=ctx.api, now=ctx.now, state={})
    # NodeResourcesFit runs on row i alone: over the whole table it would recompute every node of
    # the dry run's copy (its row caches belong to the live table), once per node and victim.
    fit = next(((k, p) for k, p in enumerate(algorithm.profile.filter_plugins)
                if hasattr(p, "filter_rows") and p.name not in skip), None)
    first, results = algorithm.filter_all(sub, set(skip), None if fit is None else fit[0])
    k = int(first[i])
    if fit is not None and (k < 0 or k > fit[0]):
        names = fit[1].filter_names(sub)
        shorts, _ = fit[1].filter_rows(sub, names, np.array([i], dtype=np.int64))
        reasons = ["Too many pods" if res == "pods" else f"Insufficient {res}"
                   for res, short in zip(names, shorts) if short[0]]
        if reasons:
            return reasons
    return [] if k < 0 else [r.reason for r in results[k][1] if r.mask[i]]


def _terminating_by_preemption(p: PodInfo) -> bool:
    """``podTerminatingByPreemption``: deleting, with DisruptionTarget=True reason PreemptionByScheduler."""
    if not p.obj["metadata"].get("deletionTimestamp"):
        return False
    for cond in (p.obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "DisruptionTarget":
            return cond.get("status") == "True" and cond.get("reason") == "PreemptionByScheduler"
    return False


def _start_time(p: PodInfo, ctx: CycleContext) -> float:
    """``util.GetPodStartTime`` in simulated seconds: ``status.startTime``, or now for a pod that has
    not started yet (assumed or just bound). Read from the live object: the kubelet sets it after bind."""
    obj = p.obj
    store = ctx.api
    if store is not None:
        obj = store.peek("Pod", p.name, p.namespace) or obj
    started = (obj.get("status") or {}).get("startTime")
    if started:
        return (datetime.fromisoformat(started.replace("Z", "+00:00")) - EPOCH).total_seconds()
    return ctx.now


def preempt(
    algorithm: ScheduleAlgorithm, ctx: CycleContext, result: CycleResult, nominated_node: str | None = None
) -> PreemptionOutcome:
    """Run DefaultPreemption for a pod whose cycle found no feasible node.

    ``nominated_node`` is the pod's current ``status.nominatedNodeName``: while a victim on it is
    still terminating, the pod waits instead of preempting again (``PodEligibleToPreemptOthers``).
    """
    pod = ctx.pod
    table = ctx.table
    n = result.num_nodes
    if pod.preemption_policy == "Never":
        return PreemptionOutcome(message=f"preemption: {NOT_ELIGIBLE_NEVER}")
    row = table.index.get(nominated_node or "")
    if (
        row is not None
        and result.code(row) != Code.UnschedulableAndUnresolvable
        and any(p.priority < pod.priority and _terminating_by_preemption(p) for p in table.pods[row].values())
    ):
        return PreemptionOutcome(message=f"preemption: {NOT_ELIGIBLE_TERMINATING}")
    pdbs = list(ctx.api.items("PodDisruptionBudget")) if ctx.api is not None else []
    candidates, verdicts = dry_run(algorithm, ctx, result, pdbs)
    if candidates:
        node = _pick_one(candidates, ctx)
        return PreemptionOutcome(node=node, victims=candidates[node][0])
    counts: dict[str, int] = {}
    for reasons in verdicts.values():
        for r in reasons:
            counts[r] = counts.get(r, 0) + 1
    # FitError.Error() of the dry run: "<count> <reason>" strings sorted as text.
    listed = ", ".join(sorted(f"{c} {r}" for r, c in counts.items()))
    return PreemptionOutcome(
        message=f"preemption: 0/{n} nodes are available: {listed}.", clears_nomination=True
    )


def dry_run(
    algorithm: ScheduleAlgorithm, ctx: CycleContext, result: CycleResult, pdbs: list[dict]
) -> tuple[dict[int, tuple[list[PodInfo], int]], dict[int, list[str]]]:
    """``DryRunPreemption`` over every node: the candidates (node row -> victims, PDB violations) and,
    for every other node, why it is none (the reasons the PostFilter message counts)."""
    pod, table = ctx.pod, ctx.table
    verdicts: dict[int, list[str]] = {}
    candidates: dict[int, tuple[list[PodInfo], int]] = {}
    for i in range(result.num_nodes):
        if result.code(i) != Code.Unschedulable:
            # Absent from the dry run's NodeToStatus: SetAbsentNodesStatus(NOT_HELPFUL).
            verdicts[i] = [NOT_HELPFUL]
            continue
        lower = [p for p in table.pods[i].values() if p.priority < pod.priority]
        if not lower:
            verdicts[i] = [NO_VICTIMS]
            continue
        # SelectVictimsOnNode: remove every lower-priority pod from this node only, then filter.
        reasons = _filter_on(algorithm, ctx, _view_without(table, i, lower), i, result.filter_skip)
        if reasons:
            verdicts[i] = reasons
            continue
        candidates[i] = _reprieve(algorithm, ctx, i, lower, pdbs, result.filter_skip)
    return candidates, verdicts


def pdb_violations(victims: list[PodInfo], pdbs: list[dict]) -> tuple[list[PodInfo], list[PodInfo]]:
    """``filterPodsWithPDBViolation``: ``(violating, non_violating)`` in the victims' order.

    Each PDB starts with its ``status.disruptionsAllowed``; every victim in its namespace that its
    selector matches (a missing or empty selector matches nothing here) and that is not already in
    its ``disruptedPods`` takes one; a victim that drives any PDB below zero is violating.
    """
    from labkit.api.selectors import selector_from_dict

    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    selectors = [selector_from_dict((pdb.get("spec") or {}).get("selector"), "spec.selector") for pdb in pdbs]
    violating, non_violating = [], []
    for p in victims:
        labels = p.obj["metadata"].get("labels") or {}
        violated = False
        for k, pdb in enumerate(pdbs):
            sel = selectors[k]
            if (
                pdb["metadata"].get("namespace") != p.namespace
                or sel is None
                or sel.empty
                or not sel.matches(labels)
            ):
                continue
            if p.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                continue  # already processed by the eviction API: not a violation
            allowed[k] -= 1
            if allowed[k] < 0:
                violated = True
        (violating if violated else non_violating).append(p)
    return violating, non_violating


def _reprieve(
    algorithm: ScheduleAlgorithm,
    ctx: CycleContext,
    i: int,
    lower: list[PodInfo],
    pdbs: list[dict],
    skip: frozenset[str] = frozenset(),
) -> tuple[list[PodInfo], int]:
    """``SelectVictimsOnNode``: add pods back, most important first (``MoreImportantPod``: higher
    priority, then earlier start), those that would violate a PDB before the others, keeping each
    one whose return still lets the pod fit. Returns the victims (in upstream's order: the violating
    ones that could not be reprieved, then the others) and how many of them violate a PDB."""
    ordered = sorted(lower, key=lambda p: (-p.priority, _start_time(p, ctx)))
    violating, non_violating = pdb_violations(ordered, pdbs) if pdbs else ([], ordered)
    removed = list(ordered)
    victims: list[PodInfo] = []
    num_violating = 0
    for group, counts in ((violating, True), (non_violating, False)):
        for p in group:
            trial = [v for v in removed if v is not p]
            if not _filter_on(algorithm, ctx, _view_without(ctx.table, i, trial), i, skip):
                removed = trial
            else:
                victims.append(p)
                num_violating += counts
    return victims, num_violating


def _pick_one(candidates: dict[int, tuple[list[PodInfo], int]], ctx: CycleContext) -> int:
    """``pickOneNodeForPreemption``: the fewest PDB violations, then the lowest highest-victim
    priority, then the lowest priority sum, then the fewest victims, then the latest earliest-start
    among the highest-priority victims, then the first candidate in node order."""
    order = {int(r): k for k, r in enumerate(ctx.table.order)}

    def key(i: int) -> tuple:
        vs, violations = candidates[i]
        highest = max(p.priority for p in vs)
        total = sum(p.priority + (1 << 31) for p in vs)  # MaxInt32+1 keeps every term >= 0
        earliest = min(_start_time(p, ctx) for p in vs if p.priority == highest)
        return (violations, highest, total, len(vs), -earliest, order.get(i, 0))

    return min(candidates, key=key)

"""NodeResourcesFit and NodeResourcesBalancedAllocation.

Upstream: ``pkg/scheduler/framework/plugins/noderesources/`` — ``fit.go`` (Filter:
``fitsRequest``), ``least_allocated.go``, ``most_allocated.go``,
``requested_to_capacity_ratio.go``, ``resource_allocation.go`` and ``balanced_allocation.go``.
All arithmetic is int64 with Go's truncating division, except where upstream uses float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.scheduler.framework import MAX_NODE_SCORE, CycleContext, Plugin, Rejection
from labkit.scheduler.nodetable import NodeTable, RowCache
from labkit.scheduler.podinfo import PodInfo

__all__ = ["NodeResourcesFit", "NodeResourcesBalancedAllocation", "InsufficientResource",
           "insufficient_resources"]

_NATIVE = ("cpu", "memory", "ephemeral-storage")
DEFAULT_RESOURCES = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]


def _is_extended(name: str) -> bool:
    """``v1helper.IsExtendedResourceName``: a qualified name outside ``kubernetes.io/``."""
    if "/" not in name or name.startswith("requests."):
        return False
    return not name.split("/", 1)[0].endswith("kubernetes.io")


def _is_scalar(name: str) -> bool:
    """``schedutil.IsScalarResourceName``: extended, ``hugepages-*`` or ``kubernetes.io/``-prefixed."""
    return _is_extended(name) or name.startswith("hugepages-") or "kubernetes.io/" in name


def _godiv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Go's int64 division (truncates toward zero) for arrays; ``b`` must be non-zero."""
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) ^ (b < 0), -q, q)


@dataclass(frozen=True)
class InsufficientResource:
    """One entry of ``fitsRequest``'s list for one node (``noderesources.InsufficientResource``).

    ``unresolvable`` is true when the request exceeds the node's whole allocatable, so no
    eviction could make room (the filter then answers ``UnschedulableAndUnresolvable``).
    """

    resource: str
    reason: str
    requested: int
    used: int
    capacity: int
    unresolvable: bool = False


@dataclass
class _Check:
    """One resource check of ``fitsRequest`` over all node rows (the vectorized form of an entry)."""

    resource: str
    reason: str
    requested: int
    used: np.ndarray
    capacity: np.ndarray
    short: np.ndarray
    unresolvable: np.ndarray


def _check_names(pod: PodInfo, ignored: Callable[[str], bool] | None) -> list[str]:
    """The resources ``fitsRequest`` checks for this pod, in upstream's order: pods, cpu, memory,
    ephemeral-storage, then scalar resources with a non-zero request (ignored ones skipped)."""
    req = pod.requests
    names = ["pods"]
    if not any(req.get(r, 0) for r in _NATIVE) and not any(v for k, v in req.items() if k not in _NATIVE):
        return names  # a pod requesting nothing is only checked against the pod count
    names += [r for r in _NATIVE if req.get(r, 0) > 0]
    names += [r for r, v in req.items() if r not in _NATIVE and v > 0 and not (ignored and ignored(r))]
    return names


def _check_rows(t: NodeTable, pod: PodInfo, names: list[str], rows: np.ndarray) -> list[np.ndarray]:
    """For each checked resource: (short, unresolvable) over ``rows``, flattened in ``names`` order."""
    out: list[np.ndarray] = []
    for res in names:
        col = t.column(res)
        alloc = t.alloc[rows, col]
        used = t.requested[rows, col]
        if res == "pods":
            # "Too many pods" applies even to a pod that requests nothing, and is never unresolvable.
            out += [used + 1 > alloc, np.zeros(len(rows), dtype=bool)]
        else:
            amount = pod.requests[res]
            # A resource the node does not advertise has allocatable 0: any request fails, unresolvably.
            out += [amount > alloc - used, amount > alloc]
    return out


def _fit_checks(ctx: CycleContext, ignored: Callable[[str], bool] | None = None) -> list[_Check]:
    """``fitsRequest`` for every node row at once (the readable form, one entry per resource)."""
    t, pod = ctx.table, ctx.pod
    rows = np.arange(t.n, dtype=np.int64)
    names = _check_names(pod, ignored)
    arrays = _check_rows(t, pod, names, rows)
    out = []
    for k, res in enumerate(names):
        col = t.column(res)
        reason = "Too many pods" if res == "pods" else f"Insufficient {res}"
        amount = 1 if res == "pods" else pod.requests[res]
        out.append(_Check(res, reason, amount, t.requested[rows, col], t.alloc[rows, col],
                          arrays[2 * k], arrays[2 * k + 1]))
    return out


def insufficient_resources(ctx: CycleContext, row: int, ignored: Callable[[str], bool] | None = None
                           ) -> list[InsufficientResource]:
    """What ``fitsRequest`` reports for node row ``row``: the failing resources, in upstream's order,
    with the pod's request, the node's current use and its allocatable."""
    return [InsufficientResource(c.resource, c.reason, c.requested, int(c.used[row]), int(c.capacity[row]),
                                 bool(c.unresolvable[row]))
            for c in _fit_checks(ctx, ignored) if c.short[row]]


class NodeResourcesFit(Plugin):
    """Filter: does the pod's effective request fit the node's free allocatable? Score: a strategy."""

    name = "NodeResourcesFit"
    has_filter = True
    has_score = True

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        super().__init__(args)
        strategy = self.args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type", "LeastAllocated")
        self.resources = strategy.get("resources") or DEFAULT_RESOURCES
        shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or [
            {"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]
        # requested_to_capacity_ratio.go: scores are given 0..10 and scaled by MaxNodeScore/10.
        self.shape = [(int(p["utilization"]), int(p["score"]) * (MAX_NODE_SCORE // 10)) for p in shape]
        self.ignored = set(self.args.get("ignoredResources") or [])
        self.ignored_groups = set(self.args.get("ignoredResourceGroups") or [])
        self._rows = RowCache()
        self._lazy_seen: set[Any] = set()

    def _ignored(self, name: str) -> bool:
        return _is_extended(name) and (name in self.ignored or name.split("/", 1)[0] in self.ignored_groups)

    # -- Filter (fit.go: fitsRequest) --------------------------------------------------
    def filter(self, ctx: CycleContext) -> list[Rejection]:
        # fit.go Filter: every insufficient resource is a reason; the status is
        # UnschedulableAndUnresolvable when any of them exceeds the node's whole allocatable.
        t, pod = ctx.table, ctx.pod
        names = _check_names(pod, self._ignored)
        key = ("filter", tuple(sorted(pod.requests.items())), tuple(names))
        arrays = self._rows.get(t, key, lambda rows: _check_rows(t, pod, names, rows))
        shorts = [(res, arrays[2 * k], arrays[2 * k + 1]) for k, res in enumerate(names)
                  if arrays[2 * k].any()]
        if not shorts:
            return []
        unresolvable = np.zeros(t.n, dtype=bool)
        for _, short, unres in shorts:
            unresolvable |= short & unres
        # Copies: the cached arrays are refreshed in place by later cycles.
        return [Rejection("Too many pods" if res == "pods" else f"Insufficient {res}", short.copy(),
                          unresolvable) for res, short, _ in shorts]

    def filter_lazily(self, ctx: CycleContext) -> list[str] | None:
        """The reasons this pod's Filter can give (in order), when the cycle should evaluate it on
        its window only: the first pod of a shape. None: run :meth:`filter` on every node (a shape
        seen before: the second pod builds the per-row arrays, the next ones refresh a few rows)."""
        names = _check_names(ctx.pod, self._ignored)
        key = ("filter", tuple(sorted(ctx.pod.requests.items())), tuple(names))
        if key in self._lazy_seen or self._rows.has(ctx.table, key):
            return None
        if len(self._lazy_seen) > 16384:
            self._lazy_seen.clear()
        self._lazy_seen.add(key)
        return names

    def filter_names(self, ctx: CycleContext) -> list[str]:
        """The reasons this pod's Filter can give, in order (what :meth:`filter_rows` takes)."""
        return _check_names(ctx.pod, self._ignored)

    def filter_rows(self, ctx: CycleContext, names: list[str], rows: np.ndarray
                    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Filter on ``rows`` only: each reason's rejection mask over ``rows`` (``names`` order) and
        the rows whose status is UnschedulableAndUnresolvable. Same verdicts as :meth:`filter`."""
        arrays = _check_rows(ctx.table, ctx.pod, names, rows)
        shorts = [arrays[2 * k] for k in range(len(names))]
        unresolvable = np.zeros(len(rows), dtype=bool)
        for k in range(len(names)):
            unresolvable |= arrays[2 * k] & arrays[2 * k + 1]
        return shorts, unresolvable

    def insufficient(self, ctx: CycleContext, row: int) -> list[InsufficientResource]:
        """This plugin's ``fitsRequest`` list for node row ``row`` (honours ``ignoredResources``)."""
        return insufficient_resources(ctx, row, self._ignored)

    # -- Score (resource_allocation.go + the strategy) ---------------------------------
    def _requested_alloc(self, ctx: CycleContext, nodes: np.ndarray, use_requested: bool
                         ) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
        """(resource, weight, requested incl. pod, allocatable) for each configured resource."""
        t, pod = ctx.table, ctx.pod
        out = []
        for spec in self.resources:
            name, weight = spec["name"], int(spec.get("weight", 1))
            if _is_scalar(name) and pod.requests.get(name, 0) == 0:
                continue  # scalar resources count only for pods that request them
            if not t.has_column(name):
                continue
            col = t.column(name)
            alloc = t.alloc[nodes, col]
            if not use_requested and name in ("cpu", "memory"):
                idx = 0 if name == "cpu" else 1
                req = t.nonzero[nodes, idx] + (pod.nonzero_cpu if idx == 0 else pod.nonzero_memory)
            else:
                req = t.requested[nodes, col] + pod.requests.get(name, 0)
            out.append((name, weight, req, alloc))
        return out

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        pod = ctx.pod
        key = ("score", pod.nonzero_cpu, pod.nonzero_memory, tuple(sorted(pod.requests.items())))
        return self._rows.get(ctx.table, key, lambda rows: (self._score_rows(ctx, rows),), nodes)[0]

    def _score_rows(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        parts = self._requested_alloc(ctx, nodes, use_requested=False)
        total = np.zeros(len(nodes), dtype=np.int64)
        wsum = np.zeros(len(nodes), dtype=np.int64)
        if self.strategy == "RequestedToCapacityRatio":
            ftotal = np.zeros(len(nodes))
            for _, w, req, alloc in parts:
                s = self._broken_linear(req, alloc)
                # requested_to_capacity_ratio.go: resources with allocatable 0 are skipped, and only
                # positive resource scores enter the weighted mean.
                use = (alloc > 0) & (s > 0)
                ftotal += np.where(use, s * w, 0)
                wsum += np.where(use, w, 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                # math.Round: half away from zero.
                q = np.where(wsum > 0, ftotal / np.maximum(wsum, 1), 0.0)
            return np.floor(q + 0.5).astype(np.int64)
        for _, w, req, alloc in parts:
            ok = alloc > 0
            safe = np.where(ok, alloc, 1)
            if self.strategy == "MostAllocated":
                # most_allocated.go: mostRequestedScore caps requested at capacity.
                s = np.minimum(req, safe) * MAX_NODE_SCORE // safe
            else:
                # least_allocated.go: leastRequestedScore is 0 when requested > capacity.
                s = np.where(req > safe, 0, (safe - req) * MAX_NODE_SCORE // safe)
            total += np.where(ok, s * w, 0)
            wsum += np.where(ok, w, 0)
        return np.where(wsum > 0, total // np.maximum(wsum, 1), 0)

    def _broken_linear(self, req: np.ndarray, alloc: np.ndarray) -> np.ndarray:
        """``helper.BuildBrokenLinearFunction`` over utilization = req*100/alloc (100 if over)."""
        safe = np.where(alloc > 0, alloc, 1)
        util = np.where((alloc == 0) | (req > alloc), MAX_NODE_SCORE, req * MAX_NODE_SCORE // safe)
        xs = [p[0] for p in self.shape]
        ys = [p[1] for p in self.shape]
        out = np.full(util.shape, ys[-1], dtype=np.int64)
        out = np.where(util <= xs[0], ys[0], out)
        for (x1, y1), (x2, y2) in zip(self.shape, self.shape[1:]):
            inside = (util > x1) & (util <= x2)
            val = y1 + _godiv((y2 - y1) * (util - x1), np.full(util.shape, x2 - x1))
            out = np.where(inside, val, out)
        return out


class NodeResourcesBalancedAllocation(Plugin):
    """Prefer nodes whose cpu and memory stay balanced once the pod is placed (v1.36: the *change*)."""

    name = "NodeResourcesBalancedAllocation"
    has_score = True

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        super().__init__(args)
        self.resources = self.args.get("resources") or DEFAULT_RESOURCES
        self._fit = NodeResourcesFit({"scoringStrategy": {"resources": self.resources}})
        self._rows = RowCache()

    def pre_score(self, ctx: CycleContext, nodes: np.ndarray) -> bool:
        # balanced_allocation.go PreScore: best-effort pods (all configured requests 0) are skipped.
        return any(ctx.pod.requests.get(r["name"], 0) for r in self.resources)

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        key = tuple(sorted(ctx.pod.requests.items()))
        return self._rows.get(ctx.table, key, lambda rows: (self._score_rows(ctx, rows),), nodes)[0]

    def _score_rows(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        parts = self._fit._requested_alloc(ctx, nodes, use_requested=True)
        pod = ctx.pod
        after = [(req, alloc) for _, _, req, alloc in parts]
        before = [(req - pod.requests.get(name, 0), alloc) for name, _, req, alloc in parts]
        b_after = self._balance(after, len(nodes))
        b_before = self._balance(before, len(nodes))
        half = MAX_NODE_SCORE // 2
        return half + (half + b_after - b_before) // 2

    @staticmethod
    def _balance(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
        """``balancedResourceScorer``: ``int64((1 - std) * 100)`` over the fractions (capped at 1) of
        the resources with allocatable > 0; std is ``|f1 - f2| / 2`` for two of them, the population
        standard deviation for more, 0 for fewer. Sums run in resource order, as upstream's loop."""
        std = np.zeros(n)
        if not parts:
            return np.full(n, MAX_NODE_SCORE, dtype=np.int64)
        if len(parts) == 2:
            # The default (cpu, memory): std = |f1 - f2| / 2 where both are present, else 0.
            (r1, a1), (r2, a2) = parts
            p1, p2 = a1 > 0, a2 > 0
            f1 = np.minimum(r1 / np.where(p1, a1, 1), 1.0)
            f2 = np.minimum(r2 / np.where(p2, a2, 1), 1.0)
            std = np.where(p1 & p2, np.abs((f1 - f2) / 2), 0.0)
            return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)
        present = np.vstack([alloc > 0 for _, alloc in parts])
        with np.errstate(invalid="ignore", divide="ignore"):
            fracs = np.vstack([np.minimum(np.where(alloc > 0, req / np.where(alloc > 0, alloc, 1), 0.0), 1.0)
                               for req, alloc in parts])
        k = present.sum(axis=0)
        # k == 2: the first two present fractions, in resource order.
        rank = np.cumsum(present, axis=0)
        first = np.where(present & (rank == 1), fracs, 0.0).sum(axis=0)
        second = np.where(present & (rank == 2), fracs, 0.0).sum(axis=0)
        std = np.where(k == 2, np.abs((first - second) / 2), std)
        if (k > 2).any():
            total = np.zeros(n)
            for f, p in zip(fracs, present):
                total = total + np.where(p, f, 0.0)
            mean = total / np.maximum(k, 1)
            acc = np.zeros(n)
            for f, p in zip(fracs, present):
                acc = acc + np.where(p, (f - mean) * (f - mean), 0.0)
            std = np.where(k > 2, np.sqrt(acc / np.maximum(k, 1)), std)
        return ((1 - std) * MAX_NODE_SCORE).astype(np.int64)

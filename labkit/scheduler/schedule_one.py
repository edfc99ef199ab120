"""One scheduling cycle: PreFilter → Filter (round-robin, bounded search) → Score → select.

Upstream: ``pkg/scheduler/schedule_one.go`` (``schedulePod``, ``findNodesThatFitPod``,
``findNodesThatPassFilters``, ``numFeasibleNodesToFind``, ``prioritizeNodes``, ``selectHost``)
and ``pkg/scheduler/framework/runtime/framework.go``. The result keeps everything the cycle
saw, which :mod:`labkit.scheduler.explain` turns into a table.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from labkit.scheduler.framework import Code, CycleContext, Plugin, PreFilterResult, Rejection
from labkit.scheduler.profile import Profile

__all__ = ["CycleResult", "ScheduleAlgorithm", "heap_root", "num_feasible_nodes_to_find"]

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes to find before scoring (``numFeasibleNodesToFind``)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    pct = percentage
    if pct == 0:
        pct = 50 - num_all_nodes // 125
        if pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    num = num_all_nodes * pct // 100
    return max(num, MIN_FEASIBLE_NODES_TO_FIND)


def heap_root(totals: np.ndarray) -> int:
    """Index of the node ``selectHost`` picks from totals listed in the order nodes were found feasible.

    v1.36's ``selectHost`` (``pkg/scheduler/schedule_one.go``) runs Go's ``container/heap``
    ``Init`` over the scored nodes with ``Less(i, j) = total_i > total_j`` (the random
    tie-breaker is only filled in when scoring extenders are configured, so it is 0 here) and
    takes the root. ``Init`` sifts down from ``n/2 - 1`` to 0; a child replaces its parent only
    when strictly greater, and the left child wins between equal children. Only the root
    matters, and it follows from where the maxima sit: walking down from the top, a node that
    holds the maximum stays at the root of its subtree; otherwise the root comes up from the
    left subtree if that holds a maximum, else from the right one. So among the tied heap
    positions ``q`` (counted from 1) the root is the one met first on that walk: the smallest
    ``q`` once every position is left-aligned to the deepest level (``q << (D - depth(q))``),
    an ancestor (same aligned value, smaller ``q``) before its descendants.
    """
    ties = np.flatnonzero(totals == totals.max()) + 1
    if ties[0] == 1 or len(ties) == 1:  # the first node found holds the maximum: it stays on top
        return int(ties[0]) - 1
    depth = np.frexp(ties.astype(np.float64))[1] - 1  # floor(log2 q), exact below 2**53
    aligned = ties << (depth.max() - depth)
    return int(ties[np.lexsort((ties, aligned))[0]]) - 1


@dataclass
class PluginScores:
    """One score plugin's output over the scored nodes."""

    name: str
    weight: int
    raw: np.ndarray
    normalized: np.ndarray


@dataclass
class CycleResult:
    """Everything one cycle decided, in node-row terms of the table it ran on.

    Filter verdicts are kept compactly: ``first[i]`` is the index (into ``filters``) of the
    plugin that rejected node row ``i`` first, -1 when the node passed and -2 when the cycle
    never examined it; ``filters`` holds each plugin's name and rejections. Reasons are
    materialized per node only when asked for.
    """

    pod: str
    num_nodes: int
    node_names: Sequence[str]
    feasible: np.ndarray
    first: np.ndarray
    filters: list[tuple[str, list[Rejection]]] = field(default_factory=list)
    prefilter_message: str | None = None
    scores: list[PluginScores] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: Filter plugins whose PreFilter said Skip: preemption's dry runs skip them too (the framework
    #: keeps ``SkipFilterPlugins`` in the cycle state).
    filter_skip: frozenset[str] = frozenset()
    scored_rows: np.ndarray | None = None
    totals: np.ndarray | None = None
    chosen: int | None = None
    ties: Sequence[int] = field(default_factory=list)

    @property
    def chosen_name(self) -> str | None:
        return None if self.chosen is None else self.node_names[self.chosen]

    def failed_rows(self) -> np.ndarray:
        return np.flatnonzero(self.first >= 0)

    def reasons(self, i: int) -> list[str]:
        """Reasons of the first plugin that rejected node row ``i`` ([] if it passed)."""
        k = int(self.first[i])
        if k < 0:
            return []
        return [r.reason for r in self.filters[k][1] if r.mask[i]]

    def failed_plugin(self, i: int) -> str | None:
        k = int(self.first[i])
        return self.filters[k][0] if k >= 0 else None

    def code(self, i: int) -> Code:
        k = int(self.first[i])
        if k < 0:
            return Code.Success
        for r in self.filters[k][1]:
            if r.mask[i] and (bool(r.unresolvable[i]) if isinstance(r.unresolvable, np.ndarray)
                              else bool(r.unresolvable)):
                return Code.UnschedulableAndUnresolvable
        return Code.Unschedulable

    def reason_counts(self) -> dict[str, int]:
        """Nodes per distinct reason, as the FailedScheduling message counts them."""
        counts: dict[str, int] = {}
        for k, (_, rejections) in enumerate(self.filters):
            owned = self.first == k
            if not owned.any():
                continue
            for r in rejections:
                c = int(np.count_nonzero(r.mask & owned))
                if c:
                    counts[r.reason] = counts.get(r.reason, 0) + c
        return counts


class ScheduleAlgorithm:
    """The per-profile scheduling algorithm, carrying ``nextStartNodeIndex`` between cycles."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.next_start_node_index = 0
        self._filter_cache: dict[tuple[int, Hashable], tuple[int, list[Rejection], np.ndarray]] = {}
        self._score_cache: dict[tuple[str, Hashable], tuple[tuple[int, int], np.ndarray]] = {}
        self._score_seen: set[tuple[str, Hashable]] = set()

    def pre_filter(self, ctx: CycleContext
                   ) -> tuple[set[str], np.ndarray | None, PreFilterResult | None, str]:
        """``RunPreFilterPlugins``: the plugins that skip themselves, the nodes the PreFilter results
        allow (``None``: all), and the first rejection with the rejecting plugin's name (the cycle
        stops there). The cluster autoscaler runs the same on its template nodes."""
        skip: set[str] = set()
        allowed: np.ndarray | None = None
        for plugin in self.profile.filter_plugins:
            if not plugin.has_pre_filter:
                continue
            pf = plugin.pre_filter(ctx)
            if pf is None:
                continue
            if pf.skip:
                skip.add(plugin.name)
            if pf.reject is not None:
                return skip, allowed, pf, plugin.name
            if pf.node_names is not None:
                mask = np.array([nm in pf.node_names for nm in ctx.table.names], dtype=bool)
                allowed = mask if allowed is None else allowed & mask
        return skip, allowed, None, ""

    def filter_all(self, ctx: CycleContext, skip: set[str], defer: int | None = None
                   ) -> tuple[np.ndarray, list[tuple[Plugin, list]]]:
        """Run every filter on every node; return the first-failing-plugin index per node (-1 = pass).

        Plugins that declare a :meth:`~labkit.scheduler.framework.Plugin.filter_key` have their
        rejections reused while the node-level state (``NodeTable.version``) is unchanged.
        """
        t = ctx.table
        n = t.n
        first = np.full(n, -1, dtype=np.int8)  # plugin index; a profile has far fewer than 127 filters
        results: list[tuple[Plugin, list]] = []
        cache = self._filter_cache
        if len(cache) > 4096:
            cache.clear()
        for k, plugin in enumerate(self.profile.filter_plugins):
            if plugin.name in skip or k == defer:  # a deferred plugin runs on the window (schedule)
                results.append((plugin, []))
                continue
            key = plugin.filter_key(ctx.pod)
            hit = cache.get((k, key)) if key is not None else None
            if hit is not None and hit[0] == t.version and len(hit[2]) == n:
                _, rejections, mask = hit
            else:
                rejections = plugin.filter(ctx)
                mask = None
                for r in rejections:
                    mask = r.mask.copy() if mask is None else mask | r.mask
                if mask is None:
                    mask = np.zeros(n, dtype=bool)
                if key is not None:
                    cache[(k, key)] = (t.version, rejections, mask)
            results.append((plugin, rejections))
            if rejections:
                first[mask & (first < 0)] = k
        return first, results

    def raw_scores(self, plugin: Plugin, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        """A plugin's raw scores for ``nodes``, from the per-key cache when the plugin allows it."""
        key = plugin.score_key(ctx.pod)
        if key is None:
            return np.asarray(plugin.score(ctx, nodes), dtype=np.int64)
        t = ctx.table
        version = (t.version, t.images_version)
        hit = self._score_cache.get((plugin.name, key))
        if hit is None or hit[0] != version:
            if hit is None and (plugin.name, key) not in self._score_seen:
                # A key seen for the first time: score just these nodes; a second sighting caches.
                if len(self._score_seen) > 16384:
                    self._score_seen.clear()
                self._score_seen.add((plugin.name, key))
                return np.asarray(plugin.score(ctx, nodes), dtype=np.int64)
            if len(self._score_cache) > 4096:
                self._score_cache.clear()
            full = np.asarray(plugin.score(ctx, np.arange(t.n, dtype=np.int64)), dtype=np.int64)
            hit = (version, full)
            self._score_cache[(plugin.name, key)] = hit
        return hit[1][nodes]

    def schedule(self, ctx: CycleContext, *, all_nodes: bool = False, dry_run: bool = False) -> CycleResult:
        """Run one cycle for ``ctx.pod``.

        ``all_nodes`` is the teaching view: every node is filtered, and every score plugin runs on
        every node of the snapshot, including the ones a filter (or PreFilter) rejected, and also
        when no node is feasible at all (upstream's NodeResourcesFit LeastAllocated test "requested
        resources exceed node capacity" scores exactly that case). ``chosen`` is then still picked
        among the feasible nodes only: ``None``, with no ties, when there are none; the filter
        verdicts, and so the FailedScheduling message, are those of the real cycle.
        """
        t = ctx.table
        n = t.n
        res = CycleResult(pod=ctx.pod.key, num_nodes=n, node_names=t.names_snapshot(),
                          feasible=np.zeros(0, dtype=np.int64), first=np.full(n, -2, dtype=np.int8))
        if n == 0:
            res.prefilter_message = "no nodes available to schedule pods"
            return res
        # -- PreFilter ------------------------------------------------------------------
        skip, allowed, pf, rejecter = self.pre_filter(ctx)
        if pf is not None:
            res.prefilter_message = pf.reject
            unresolvable = pf.code == Code.UnschedulableAndUnresolvable
            res.filters = [(rejecter, [Rejection(pf.reject, np.ones(n, dtype=bool), unresolvable)])]
            res.first[:] = 0
            if all_nodes:
                self._score_all_nodes(ctx, res)
            return res
        # -- Filter ---------------------------------------------------------------------
        lazy = None if all_nodes else self._lazy_filter(ctx, skip)
        res.filter_skip = frozenset(skip)
        first, results = self.filter_all(ctx, skip, None if lazy is None else lazy[0])
        res.filters = [(p.name, rej) for p, rej in results]
        order = t.order
        if allowed is not None:
            # Nodes outside the PreFilter result never reach Filter (framework.go).
            msg = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
            res.filters.append(("NodeAffinity", [Rejection(msg, ~allowed, True)]))
            res.first[~allowed] = len(res.filters) - 1
            order = order[allowed[order]]
        m = len(order)
        if m == 0:
            if all_nodes:
                self._score_all_nodes(ctx, res)
            return res
        to_find = m if all_nodes else num_feasible_nodes_to_find(m, self.profile.percentage_of_nodes_to_score)
        if not self.profile.score_plugins and not all_nodes:
            to_find = 1
        # findNodesThatPassFilters: nodes[(nextStartNodeIndex+i) % len(nodes)] until enough are feasible.
        start = self.next_start_node_index % m
        if lazy is not None:
            processed = self._filter_window(ctx, lazy, first, results, order, start, to_find)
            res.filters[lazy[0]] = (lazy[1].name, results[lazy[0]][1])
        else:
            passing = np.flatnonzero(first[order] < 0)  # positions (in `order`) of feasible nodes
            split = int(np.searchsorted(passing, start))
            n_after = len(passing) - split
            if len(passing) < to_find:
                processed = m
            elif n_after >= to_find:
                processed = int(passing[split + to_find - 1]) - start + 1
            else:
                processed = m - start + int(passing[to_find - n_after - 1]) + 1
        end = start + processed
        evaluated = order[start:end] if end <= m else np.concatenate([order[start:], order[: end - m]])
        if not dry_run:
            # findNodesThatFitPod: advance by the processed count, modulo ALL nodes in the snapshot
            # (not the PreFilter subset), so a full pass leaves the index where it was.
            self.next_start_node_index = (self.next_start_node_index + processed) % n
        feasible = evaluated[first[evaluated] < 0]
        res.first[evaluated] = first[evaluated]
        res.feasible = feasible
        if len(feasible) == 0:
            if all_nodes:
                self._score_all_nodes(ctx, res)
            return res
        if len(feasible) == 1 and not all_nodes:
            res.chosen = int(feasible[0])
            res.ties = [res.chosen]
            return res
        # -- PreScore / Score / NormalizeScore ------------------------------------------
        scored = np.asarray(t.order if all_nodes else feasible, dtype=np.int64)
        totals = self._score(ctx, res, scored)
        res.feasible = feasible
        if all_nodes:
            # The teaching view scored every node; the pick is still among the feasible ones,
            # in the order the cycle found them (``feasible`` is in evaluation order).
            by_row = np.zeros(n, dtype=np.int64)
            by_row[scored] = totals
            feasible_totals = by_row[feasible]
        else:
            feasible_totals = totals
        if len(feasible_totals):
            best = feasible_totals.max()
            res.ties = feasible[np.flatnonzero(feasible_totals == best)]
            res.chosen = int(feasible[heap_root(feasible_totals)])
        return res

    def _lazy_filter(self, ctx: CycleContext, skip: set[str]) -> tuple[int, Plugin, list[str]] | None:
        """The filter to run on the cycle's window only: NodeResourcesFit for a pod shape it has not
        seen (evaluating every node would cost a full pass over the table and keep nothing)."""
        for k, plugin in enumerate(self.profile.filter_plugins):
            lazily = getattr(plugin, "filter_lazily", None)
            if lazily is not None and plugin.name not in skip:
                names = lazily(ctx)
                return None if names is None else (k, plugin, names)
        return None

    def _filter_window(self, ctx: CycleContext, lazy: tuple[int, Plugin, list[str]], first: np.ndarray,
                       results: list[tuple[Plugin, list]], order: np.ndarray, start: int, to_find: int
                       ) -> int:
        """Run the deferred filter chunk by chunk over ``order`` from ``start`` until ``to_find``
        nodes pass every filter or all were checked, as ``findNodesThatPassFilters`` walks the nodes;
        return how many positions of ``order`` the cycle processed (its ``processed`` count).

        Each node's verdict depends on that node alone, so the nodes the cycle evaluates get exactly
        the verdicts of a full pass (``first`` keeps the lowest rejecting plugin index); nodes past
        the window stay unchecked, and the cycle never reads them.
        """
        k, plugin, names = lazy
        m = len(order)
        done = found = 0
        processed = m
        rejected_chunks = []
        while done < m:
            size = min(m - done, max(64, 2 * (to_find - found)))
            lo = (start + done) % m
            rows = (order[lo:lo + size] if lo + size <= m
                    else np.concatenate((order[lo:], order[:lo + size - m])))
            shorts, unres = plugin.filter_rows(ctx, names, rows)
            rejected = np.logical_or.reduce(shorts) if len(shorts) > 1 else shorts[0]
            current = first[rows]
            if rejected.any():
                first[rows] = np.where(rejected & ((current < 0) | (current > k)), k, current)
                rejected_chunks.append((rows, shorts, unres))
                passes = (current < 0) & ~rejected
            else:
                passes = current < 0
            count = int(np.count_nonzero(passes))
            if found + count >= to_find:
                processed = done + int(np.flatnonzero(passes)[to_find - found - 1]) + 1
                break
            found += count
            done += size
        rejections = []
        if rejected_chunks:
            n = len(first)
            unresolvable = np.zeros(n, dtype=bool)
            for rows, _, unres in rejected_chunks:
                unresolvable[rows] = unres
            for r, res in enumerate(names):
                if not any(shorts[r].any() for _, shorts, _ in rejected_chunks):
                    continue
                mask = np.zeros(n, dtype=bool)
                for rows, shorts, _ in rejected_chunks:
                    mask[rows] = shorts[r]
                rejections.append(Rejection("Too many pods" if res == "pods" else f"Insufficient {res}", mask,
                                            unresolvable))
        results[k] = (plugin, rejections)
        return processed

    def _score(self, ctx: CycleContext, res: CycleResult, scored: np.ndarray) -> np.ndarray:
        """PreScore / Score / NormalizeScore over the node rows ``scored``, recorded in ``res``."""
        totals = np.zeros(len(scored), dtype=np.int64)
        for plugin in self.profile.score_plugins:
            if not plugin.pre_score(ctx, scored):
                res.skipped.append(plugin.name)
                continue
            raw = self.raw_scores(plugin, ctx, scored)
            norm = np.asarray(plugin.normalize(ctx, raw), dtype=np.int64)
            weight = self.profile.weights[plugin.name]
            res.scores.append(PluginScores(plugin.name, weight, raw, norm))
            totals += norm * weight
        if not self.profile.score_plugins:
            totals[:] = 1
        res.totals = totals
        res.scored_rows = scored
        return totals

    def _score_all_nodes(self, ctx: CycleContext, res: CycleResult) -> None:
        """The teaching view when no node is feasible: score every node anyway, choose none.

        The real cycle stops before Score here; the scores show what each plugin would have
        said, e.g. how LeastAllocated rates a node whose free capacity the pod exceeds.
        """
        self._score(ctx, res, np.asarray(ctx.table.order, dtype=np.int64))
        res.chosen = None
        res.ties = []

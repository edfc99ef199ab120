"""PodTopologySpread: keep matching pods evenly spread over zones, nodes or any other topology.

Upstream: ``pkg/scheduler/framework/plugins/podtopologyspread/{common,filtering,scoring,plugin}.go``
and ``pkg/scheduler/framework/plugins/helper/spread.go`` (``DefaultSelector``), v1.36.

Both halves need "how many pods matching this selector sit on each node" for *every* node,
every cycle. Upstream walks every pod of every node; here a :class:`PodIndex` keeps those
counts per distinct (namespace, labels) signature and per recently asked selector, updated
incrementally as pods are bound and removed, so a cycle costs a few numpy operations over the
node rows. InterPodAffinity asks the same question and keeps a :class:`PodIndex` of its own.

The ``matchLabelKeys`` of a constraint are merged into its selector here, as the scheduler
does (``filterTopologySpreadConstraints``); since v1.34 the API server also merges them at pod
creation, which gives the same selector.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.api.selectors import Requirement, Selector, selector_from_dict
from labkit.scheduler.framework import MAX_NODE_SCORE, CycleContext, Plugin, PreFilterResult, Rejection
from labkit.scheduler.plugins.helper import find_untolerated
from labkit.scheduler.plugins.nodeaffinity import required_node_affinity_mask

if TYPE_CHECKING:
    from labkit.api.server import APIServer
    from labkit.scheduler.nodetable import NodeTable
    from labkit.scheduler.podinfo import PodInfo

__all__ = [
    "PodTopologySpread", "PodIndex", "PodQuery", "AffinityGroup", "SpreadConstraint", "affinity_key",
    "default_selector", "pod_index", "ERR_CONSTRAINTS_NOT_MATCH", "ERR_NODE_LABEL_NOT_MATCH",
    "SYSTEM_DEFAULT_CONSTRAINTS",
]

# plugin.go
ERR_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_NODE_LABEL_NOT_MATCH = ERR_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"  # v1.LabelHostname
ZONE = "topology.kubernetes.io/zone"  # v1.LabelTopologyZone
#: plugin.go systemDefaultConstraints (``defaultingType: System``, the v1 default).
SYSTEM_DEFAULT_CONSTRAINTS: tuple[dict[str, Any], ...] = (
    {"topologyKey": HOSTNAME, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 3},
    {"topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway", "maxSkew": 5},
)
_MAX_INT32 = 2**31 - 1
_PRE_FILTER = "PreFilterPodTopologySpread"
_PRE_SCORE = "PreScorePodTopologySpread"
_INDEX_SYNCED = "PodIndexSynced/PodTopologySpread"


# -- counting matching pods per node ------------------------------------------------------------------
@dataclass(frozen=True)
class PodQuery:
    """Which bound pods to count on each node.

    A pod matches when, for every clause ``(namespaces, selector)``, its namespace is in
    ``namespaces`` (``None``: any namespace) and its labels match ``selector`` (``None`` is the
    nil selector, which matches nothing). ``skip_terminating`` leaves out pods that carry a
    deletionTimestamp, as PodTopologySpread does (``countPodsMatchSelector``, kubernetes#87621).
    """

    clauses: tuple[tuple[frozenset[str] | None, Selector | None], ...]
    skip_terminating: bool = False

    def matches(self, namespace: str, labels: Mapping[str, str], terminating: bool) -> bool:
        if not self.clauses or (terminating and self.skip_terminating):
            return False
        for namespaces, selector in self.clauses:
            if selector is None or (namespaces is not None and namespace not in namespaces):
                return False
            if not selector.matches(labels):
                return False
        return True


class _Counted:
    """One cached query: its per-node counts and, per pod signature, whether it matches."""

    __slots__ = ("counts", "hits")

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = counts
        self.hits: dict[int, bool] = {}


def affinity_key(p: PodInfo) -> tuple[str, str, frozenset[tuple[str, str]]]:
    """Pods with equal keys have equal pod (anti-)affinity terms: same namespace and terms, and
    the same labels when a term's matchLabelKeys/mismatchLabelKeys read them."""
    text = json.dumps([p.affinity.get("podAffinity"), p.affinity.get("podAntiAffinity")], sort_keys=True)
    return p.namespace, text, frozenset(p.labels.items()) if "atchLabelKeys" in text else frozenset()


@dataclass(eq=False)
class AffinityGroup:
    """Bound pods sharing one :func:`affinity_key`: one of them, and how many sit on each node row."""

    pod: PodInfo
    rows: dict[int, int] = field(default_factory=dict)
    _array: np.ndarray | None = field(default=None, repr=False)

    def move(self, row: int, sign: int) -> bool:
        """A member pod came to (+1) or left (-1) ``row``; True when the group is now empty."""
        self.rows[row] = self.rows.get(row, 0) + sign
        if self.rows[row] == 0:
            del self.rows[row]
        self._array = None
        return not self.rows

    def node_rows(self) -> np.ndarray:
        """The node row of every member pod (a row repeats when a node holds several)."""
        if self._array is None:
            k = len(self.rows)
            self._array = np.repeat(np.fromiter(self.rows, dtype=np.int64, count=k),
                                    np.fromiter(self.rows.values(), dtype=np.int64, count=k))
        return self._array


class PodIndex:
    """Per-node counts of bound pods matching a :class:`PodQuery`, kept up to date incrementally.

    Pods are grouped by signature (namespace, labels, terminating); a query is evaluated once
    per signature and its counts array is then maintained as pods come and go. The rows to
    revisit come from the table's row-change log (``NodeTable.rows_changed_since``): every
    bind, removal, or label/deletion update of a bound pod passes through it. A preemption
    dry-run copy (``NodeTable.dry_run_copy``) is followed as a detour from the table it was
    copied from: its own log names the rows it changed, which are set back on return.

    ``affinity_groups`` holds the bound pods that have pod affinity or anti-affinity (upstream
    ``NodeInfo.PodsWithAffinity``), grouped by :func:`affinity_key` so that pods with the same
    terms (the replicas of one workload) are one entry: a member pod and the pods per node row.
    """

    MAX_QUERIES = 256

    def __init__(self) -> None:
        self._primary: NodeTable | None = None  # the scheduler's table being followed
        self._seq = 0  # position in the primary's row-change log
        self._version = -1
        self._detour: set[int] = set()  # rows showing a dry-run copy instead of the primary
        self._names: list[str] = []
        self._seen: list[dict[str, PodInfo]] = []
        self._sig_ids: dict[tuple[str, frozenset[tuple[str, str]], bool], int] = {}
        self._sigs: list[tuple[str, dict[str, str], bool]] = []
        self._sig_rows: list[dict[int, int]] = []
        self._queries: dict[PodQuery, _Counted] = {}
        self.affinity_groups: dict[tuple[str, str, frozenset[tuple[str, str]]], AffinityGroup] = {}
        self._affinity_keys: dict[PodInfo, tuple[str, str, frozenset[tuple[str, str]]]] = {}

    # -- keeping up ---------------------------------------------------------------------------
    def sync(self, table: NodeTable) -> None:
        """Bring the counts in line with ``table``'s pods."""
        primary = self._primary
        if primary is not None and table is not primary and table.names is primary.names \
                and table.version == primary.version and table.token > primary.token:
            # A dry-run copy of the primary (copies share its node lists and come later): bring
            # the primary up to date, then apply the rows the copy changed.
            self.sync(primary)
            changed = table.rows_changed_since(0)
            rows = set(range(table.n) if changed is None else changed.tolist())
            self._apply(table, rows)
            self._detour = rows
            return
        if table is not primary:
            self._primary = table
            self._reset(table.n)
        elif table.version != self._version:
            known = len(self._names)
            if known <= table.n and table.names[:known] == self._names:
                self._grow(table.n - known)
            else:
                self._reset(table.n)  # a node left: rows were renumbered
        if table.version != self._version:
            self._names = list(table.names)
            self._version = table.version
        changed = table.rows_changed_since(self._seq)  # None: the log no longer reaches back
        rows: Any = range(table.n) if changed is None else set(changed.tolist()) | self._detour
        if changed is not None:
            # the change log may name rows of nodes removed since (a pod deleted with its node)
            rows = {i for i in rows if i < table.n}
        self._apply(table, rows)
        self._detour = set()
        self._seq = table.row_seq

    def _apply(self, table: NodeTable, rows: Iterable[int]) -> None:
        pods, seen = table.pods, self._seen
        for i in rows:
            if seen[i] != pods[i]:
                self._update_row(i, seen[i], pods[i])
                seen[i] = dict(pods[i])

    def _reset(self, n: int) -> None:
        self._seen = [{} for _ in range(n)]
        self._detour = set()  # rows of a dry-run copy of the old numbering: every row is compared anew
        self._sig_ids.clear()
        self._sigs.clear()
        self._sig_rows.clear()
        self._queries.clear()
        self.affinity_groups.clear()
        self._affinity_keys.clear()
        self._seq = -1  # before any log position: the next sync compares every row

    def _grow(self, k: int) -> None:
        self._seen.extend({} for _ in range(k))
        for c in self._queries.values():
            c.counts = np.concatenate([c.counts, np.zeros(k, dtype=np.int64)])

    def _update_row(self, i: int, old: dict[str, PodInfo], new: dict[str, PodInfo]) -> None:
        for uid, p in old.items():
            if new.get(uid) is not p:
                self._account(i, p, -1)
        for uid, p in new.items():
            if old.get(uid) is not p:
                self._account(i, p, +1)

    def _account(self, i: int, p: PodInfo, sign: int) -> None:
        key = (p.namespace, frozenset(p.labels.items()), p.terminating)
        sid = self._sig_ids.get(key)
        if sid is None:
            sid = self._sig_ids[key] = len(self._sigs)
            self._sigs.append((p.namespace, dict(p.labels), p.terminating))
            self._sig_rows.append({})
        rows = self._sig_rows[sid]
        rows[i] = rows.get(i, 0) + sign
        if rows[i] == 0:
            del rows[i]
        for q, c in self._queries.items():
            if self._hit(q, c, sid):
                c.counts[i] += sign
        if p.affinity.get("podAffinity") is not None or p.affinity.get("podAntiAffinity") is not None:
            akey = self._affinity_keys.pop(p, None) if sign < 0 else affinity_key(p)
            if akey is None:
                return
            group = self.affinity_groups.get(akey)
            if group is None:
                group = self.affinity_groups[akey] = AffinityGroup(p)
            if group.move(i, sign):
                del self.affinity_groups[akey]
            if sign > 0:
                self._affinity_keys[p] = akey

    def _hit(self, q: PodQuery, c: _Counted, sid: int) -> bool:
        hit = c.hits.get(sid)
        if hit is None:
            hit = c.hits[sid] = q.matches(*self._sigs[sid])
        return hit

    # -- asking ---------------------------------------------------------------------------------
    def counts(self, q: PodQuery) -> np.ndarray:
        """Matching pods per node row (read-only: the index updates the array in place)."""
        c = self._queries.pop(q, None)
        if c is None:
            c = _Counted(np.zeros(len(self._seen), dtype=np.int64))
            for sid, rows in enumerate(self._sig_rows):
                if rows and self._hit(q, c, sid):
                    for r, k in rows.items():
                        c.counts[r] += k
            if len(self._queries) >= self.MAX_QUERIES:
                self._queries.pop(next(iter(self._queries)))
        self._queries[q] = c  # most recently used last
        return c.counts


def pod_index(index: PodIndex, ctx: CycleContext, key: str) -> PodIndex:
    """``index``, synced with ``ctx.table`` once per cycle (``key`` names the caller's flag)."""
    if ctx.state.get(key) is not ctx.table:
        index.sync(ctx.table)
        ctx.state[key] = ctx.table
    return index


# -- constraints --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpreadConstraint:
    """``topologySpreadConstraint`` (common.go): one constraint with its selector parsed."""

    max_skew: int
    topology_key: str
    selector: Selector | None  # None: the nil selector, which matches nothing
    min_domains: int = 1
    honor_node_affinity: bool = True  # nodeAffinityPolicy (nil means Honor)
    honor_node_taints: bool = False  # nodeTaintsPolicy (nil means Ignore)


def _parse_constraint(c: dict[str, Any], pod_labels: Mapping[str, str]) -> SpreadConstraint:
    selector = selector_from_dict(c.get("labelSelector"))
    # common.go filterTopologySpreadConstraints + mergeLabelSetWithSelector: the pod's values of
    # matchLabelKeys are ANDed in; a nil selector stays nil (matches nothing).
    keys = [k for k in c.get("matchLabelKeys") or [] if k in pod_labels]
    if keys and selector is not None:
        extra = tuple(Requirement(k, "Equals", (pod_labels[k],)) for k in keys)
        selector = Selector(extra + selector.requirements)
    return SpreadConstraint(
        max_skew=int(c.get("maxSkew", 1)),
        topology_key=c.get("topologyKey", ""),
        selector=selector,
        min_domains=int(c["minDomains"]) if c.get("minDomains") is not None else 1,
        honor_node_affinity=(c.get("nodeAffinityPolicy") or "Honor") == "Honor",
        honor_node_taints=(c.get("nodeTaintsPolicy") or "Ignore") == "Honor",
    )


def default_selector(pod: PodInfo, api: APIServer | None) -> Selector:
    """``helper.DefaultSelector``: the selectors of the Services selecting the pod and of its
    controlling ReplicaSet or StatefulSet, ANDed.

    A Service with a nil selector selects nothing. ReplicationControllers are part of the
    upstream rule but are not served by the simulated API server.
    """
    store = api
    if store is None:
        return Selector()
    label_set: dict[str, str] = {}
    for svc in store.items("Service", pod.namespace):
        sel = (svc.get("spec") or {}).get("selector")
        if sel is None:
            continue  # services with nil selectors match nothing, not everything
        if all(pod.labels.get(k) == v for k, v in sel.items()):
            label_set.update(sel)
    requirements = tuple(Requirement(k, "Equals", (v,)) for k, v in label_set.items())
    owner = next((o for o in pod.obj["metadata"].get("ownerReferences") or [] if o.get("controller")), None)
    if owner is not None and owner.get("apiVersion") == "apps/v1" and owner.get("kind") in ("ReplicaSet",
                                                                                          "StatefulSet"):
        ctrl = store.peek(owner["kind"], owner.get("name", ""), pod.namespace)
        if ctrl is not None:
            other = selector_from_dict((ctrl.get("spec") or {}).get("selector"))
            if other is not None:
                requirements += other.requirements
    return Selector(requirements)


# -- the plugin --------------------------------------------------------------------------------------
@dataclass
class _Domains:
    """PreFilter's per-constraint view (filtering.go preFilterState)."""

    constraint: SpreadConstraint
    codes: np.ndarray  # per node row: code of the node's topology value, -1 where the label is absent
    matches: np.ndarray  # per value code: matching pods in that domain (0 where not a domain)
    min_match: int
    self_match: int


class PodTopologySpread(Plugin):
    """Filter for ``DoNotSchedule`` constraints, Score for ``ScheduleAnyway`` ones.

    Args (``PodTopologySpreadArgs``): ``defaultingType`` (``System``, the default, or ``List``)
    and ``defaultConstraints`` (with ``List``).
    """

    name = "PodTopologySpread"
    has_filter = True
    has_score = True
    has_pre_filter = True

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        super().__init__(args)
        self.system_defaulted = (self.args.get("defaultingType") or "System") == "System"
        self.default_constraints: list[dict[str, Any]] = (
            list(SYSTEM_DEFAULT_CONSTRAINTS) if self.system_defaulted
            else list(self.args.get("defaultConstraints") or []))
        self.index = PodIndex()
        self._selectors: dict[tuple[Any, ...], Selector] = {}
        self._selector_store: APIServer | None = None

    # -- shared --------------------------------------------------------------------------------
    def _constraints(self, ctx: CycleContext, action: str) -> list[SpreadConstraint]:
        """The pod's own constraints for ``action``, or the default ones (``buildDefaultConstraints``)."""
        pod = ctx.pod
        if pod.spread_constraints:
            return [_parse_constraint(c, pod.labels) for c in pod.spread_constraints
                    if c.get("whenUnsatisfiable") == action]
        defaults = [c for c in self.default_constraints if c.get("whenUnsatisfiable") == action]
        if not defaults:
            return []
        selector = self._default_selector(ctx)
        if selector.empty:
            return []
        return [replace(_parse_constraint(c, pod.labels), selector=selector) for c in defaults]

    def _default_selector(self, ctx: CycleContext) -> Selector:
        """:func:`default_selector`, remembered per (namespace, labels, owner) until a Service,
        ReplicaSet or StatefulSet changes (the listers' informers)."""
        store = ctx.api
        if store is None:
            return Selector()
        if store is not self._selector_store:
            for kind in ("Service", "ReplicaSet", "StatefulSet"):
                store.watch(kind, lambda _ev: self._selectors.clear())
            self._selector_store = store
            self._selectors.clear()
        pod = ctx.pod
        owners = tuple((o.get("apiVersion"), o.get("kind"), o.get("name"))
                       for o in pod.obj["metadata"].get("ownerReferences") or [] if o.get("controller"))
        key = (pod.namespace, frozenset(pod.labels.items()), owners)
        hit = self._selectors.get(key)
        if hit is None:
            if len(self._selectors) > 4096:
                self._selectors.clear()
            hit = self._selectors[key] = default_selector(pod, ctx.api)
        return hit

    def _counts(self, ctx: CycleContext, c: SpreadConstraint) -> np.ndarray:
        """``countPodsMatchSelector`` on every node: an empty (or nil) selector counts nothing."""
        if c.selector is None or c.selector.empty:
            return np.zeros(ctx.table.n, dtype=np.int64)
        index = pod_index(self.index, ctx, _INDEX_SYNCED)
        return index.counts(PodQuery(((frozenset((ctx.pod.namespace,)), c.selector),), skip_terminating=True))

    @staticmethod
    def _inclusion(ctx: CycleContext, c: SpreadConstraint, cache: dict[str, np.ndarray]) -> np.ndarray | None:
        """``matchNodeInclusionPolicies`` over all rows (None: every node passes)."""
        t = ctx.table
        mask: np.ndarray | None = None
        if c.honor_node_affinity:
            if "affinity" not in cache:
                cache["affinity"] = required_node_affinity_mask(t, ctx.pod.node_selector, ctx.pod.affinity)
            mask = cache["affinity"]
        if c.honor_node_taints:
            if "taints" not in cache:
                groups, sigs = t.taint_signatures()
                bad = np.array([find_untolerated(s, ctx.pod.tolerations, ("NoSchedule", "NoExecute"))
                                for s in sigs], dtype=bool)
                cache["taints"] = ~bad[groups] if len(sigs) else np.ones(t.n, dtype=bool)
            mask = cache["taints"] if mask is None else mask & cache["taints"]
        return mask

    # -- Filter ----------------------------------------------------------------------------------
    def _pre_filter_state(self, ctx: CycleContext) -> list[_Domains]:
        """``calPreFilterState``: count matching pods per domain over *all* nodes."""
        cons = self._constraints(ctx, "DoNotSchedule")
        if not cons:
            return []
        t = ctx.table
        codes = [t.label_codes(c.topology_key) for c in cons]
        have_all = np.ones(t.n, dtype=bool)
        for col, _ in codes:
            have_all &= col >= 0  # nodeLabelsMatchSpreadConstraints
        cache: dict[str, np.ndarray] = {}
        out: list[_Domains] = []
        for c, (col, values) in zip(cons, codes):
            eligible = have_all.copy()
            incl = self._inclusion(ctx, c, cache)
            if incl is not None:
                eligible &= incl
            counts = self._counts(ctx, c)
            domain_nodes = np.bincount(col[eligible], minlength=len(values))
            summed = np.bincount(col[eligible], weights=counts[eligible], minlength=len(values))
            matches = summed.astype(np.int64)
            domains = domain_nodes > 0
            min_match = int(matches[domains].min()) if domains.any() else _MAX_INT32
            if int(domains.sum()) < c.min_domains:
                min_match = 0  # fewer eligible domains than minDomains: the global minimum is 0
            self_match = int(c.selector is not None and c.selector.matches(ctx.pod.labels))
            out.append(_Domains(c, col, matches, min_match, self_match))
        return out

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        state = self._pre_filter_state(ctx)
        if not state:
            return PreFilterResult(skip=True)  # no DoNotSchedule constraints
        ctx.state[_PRE_FILTER] = state
        return None

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        state = ctx.state.get(_PRE_FILTER)
        if state is None:  # preemption's dry runs call Filter on a fresh state
            state = ctx.state[_PRE_FILTER] = self._pre_filter_state(ctx)
        n = ctx.table.n
        pending = np.ones(n, dtype=bool)
        missing = np.zeros(n, dtype=bool)
        skewed = np.zeros(n, dtype=bool)
        for d in state:
            # Constraints are checked in order; a node stops at the first one it fails.
            has = d.codes >= 0
            lacks = pending & ~has
            missing |= lacks
            pending &= has
            match_num = d.matches[np.where(has, d.codes, 0)] if len(d.matches) else np.zeros(n, np.int64)
            over = pending & (match_num + d.self_match - d.min_match > d.constraint.max_skew)
            skewed |= over
            pending &= ~over
        out = []
        if missing.any():
            out.append(Rejection(ERR_NODE_LABEL_NOT_MATCH, missing, True))
        if skewed.any():
            out.append(Rejection(ERR_CONSTRAINTS_NOT_MATCH, skewed, False))
        return out

    # -- Score -----------------------------------------------------------------------------------
    def pre_score(self, ctx: CycleContext, nodes: np.ndarray) -> bool:
        """``PreScore`` + ``initPreScoreState``: Skip without ScheduleAnyway constraints (own or default)."""
        t = ctx.table
        if t.n == 0:
            return False
        cons = self._constraints(ctx, "ScheduleAnyway")
        if not cons:
            return False
        # Only the pod's own constraints (or non-system defaults) require every topology key:
        # with system defaulting a node without a zone label still gets hostname spreading.
        require_all = bool(ctx.pod.spread_constraints) or not self.system_defaulted
        have_all = np.ones(t.n, dtype=bool)
        for c in cons:
            have_all &= t.label_codes(c.topology_key)[0] >= 0
        ignored = ~have_all[nodes] if require_all else np.zeros(len(nodes), dtype=bool)
        considered = nodes[~ignored]
        cache: dict[str, np.ndarray] = {}
        score = np.zeros(len(nodes), dtype=np.float64)
        for c in cons:
            col, values = t.label_codes(c.topology_key)
            counts = self._counts(ctx, c)
            if c.topology_key == HOSTNAME:
                size = len(considered)
                cnt = counts[nodes]
            else:
                # A node without the label reads as value "" (a Go map's zero value): with system
                # defaulting such filtered nodes register "" as one more topology value.
                empty = values.get("", len(values))
                eff = np.where(col >= 0, col, empty)
                registered = np.zeros(len(values) + 1, dtype=bool)
                registered[eff[considered]] = True
                size = int(registered.sum())
                counted = registered[eff]
                if require_all:
                    counted &= have_all
                incl = self._inclusion(ctx, c, cache)
                if incl is not None:
                    counted &= incl
                domain = np.bincount(eff[counted], weights=counts[counted], minlength=len(values) + 1)
                cnt = domain[eff[nodes]]
            weight = math.log(size + 2)  # topologyNormalizingWeight
            # scoreForCount, summed in constraint order as float64 like upstream.
            term = cnt.astype(np.float64) * weight + float(c.max_skew - 1)
            score = score + np.where(col[nodes] >= 0, term, 0.0)
        raw = _round_half_away(score)
        raw[ignored] = 0
        ctx.state[_PRE_SCORE] = (raw, ignored)
        return True

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        return ctx.state[_PRE_SCORE][0]

    def normalize(self, ctx: CycleContext, scores: np.ndarray) -> np.ndarray:
        """scoring.go NormalizeScore: fewer matching pods gives a higher score; ignored nodes get 0."""
        ignored = ctx.state[_PRE_SCORE][1]
        out = np.zeros(len(scores), dtype=np.int64)
        kept = scores[~ignored]
        if len(kept) == 0:
            return out
        top = max(int(kept.max()), 0)
        low = int(kept.min())
        if top == 0:
            out[~ignored] = MAX_NODE_SCORE
        else:
            out[~ignored] = MAX_NODE_SCORE * (top + low - kept) // top
        return out


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """Go's ``math.Round`` (half away from zero) for non-negative scores, exactly."""
    whole = np.trunc(x)
    return (whole + (x - whole >= 0.5)).astype(np.int64)

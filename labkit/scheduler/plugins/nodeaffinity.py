"""NodeAffinity and nodeSelector (``pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go``,
``k8s.io/component-helpers/scheduling/corev1/nodeaffinity``).

Requirements are evaluated over all nodes at once from per-label integer code columns.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np

from labkit.api.selectors import is_qualified_name, is_valid_label_value
from labkit.scheduler.framework import CycleContext, Plugin, PreFilterResult, Rejection
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.plugins.helper import default_normalize_score
from labkit.scheduler.podinfo import PodInfo

__all__ = ["NodeAffinity", "match_term", "match_terms"]

_REASON = "node(s) didn't match Pod's node affinity/selector"
_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
_REASON_CONFLICT = "pod affinity terms conflict"


def _match_expression(t: NodeTable, req: dict[str, Any]) -> np.ndarray:
    op = req.get("operator")
    key = req.get("key", "")
    values = [str(v) for v in req.get("values") or []]
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            return np.zeros(t.n, dtype=bool)
        try:
            bound = int(values[0])
        except ValueError:
            return np.zeros(t.n, dtype=bool)  # an unparsable value makes the term match nothing
        ints = t.label_ints(key)
        with np.errstate(invalid="ignore"):
            return ints > bound if op == "Gt" else ints < bound
    codes, table = t.label_codes(key)
    if op == "Exists":
        return codes >= 0
    if op == "DoesNotExist":
        return codes < 0
    wanted = np.array([table[v] for v in values if v in table], dtype=np.int64)
    hit = np.isin(codes, wanted) if len(wanted) else np.zeros(t.n, dtype=bool)
    if op == "In":
        return hit
    if op == "NotIn":
        return ~hit
    return np.zeros(t.n, dtype=bool)


def _match_field(t: NodeTable, req: dict[str, Any]) -> np.ndarray | None:
    """A ``matchFields`` requirement as a field selector over ``{"metadata.name": node name}``.

    ``nodeSelectorRequirementsAsFieldSelector`` accepts In/NotIn with exactly one value; anything
    else is a parse error (None), which makes the whole term match nothing.
    """
    values = req.get("values") or []
    if req.get("operator") not in ("In", "NotIn") or len(values) != 1:
        return None
    # fields.Set: a key the node does not have reads as "".
    fields = t.names if req.get("key") == "metadata.name" else [""] * t.n
    hit = np.array([v == values[0] for v in fields], dtype=bool)
    return hit if req["operator"] == "In" else ~hit


def _valid_expression(req: dict[str, Any]) -> bool:
    """``nodeSelectorRequirementsAsSelector`` refuses these; the refused term then matches nothing."""
    op, values = req.get("operator"), req.get("values") or []
    if is_qualified_name(req.get("key", "")):
        return False
    if op in ("In", "NotIn"):
        return bool(values) and all(isinstance(v, str) and not is_valid_label_value(v) for v in values)
    if op in ("Exists", "DoesNotExist"):
        return not values
    if op in ("Gt", "Lt"):
        return len(values) == 1
    return False


def match_term(t: NodeTable, term: dict[str, Any]) -> np.ndarray:
    """A NodeSelectorTerm: expressions and fields ANDed; a term with no requirements, or one that
    does not parse, matches nothing (``nodeSelectorTerm.match``)."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields or not all(_valid_expression(r) for r in exprs):
        return np.zeros(t.n, dtype=bool)
    out = np.ones(t.n, dtype=bool)
    for req in exprs:
        out &= _match_expression(t, req)
    for req in fields:
        hit = _match_field(t, req)
        if hit is None:
            return np.zeros(t.n, dtype=bool)
        out &= hit
    return out


def match_terms(t: NodeTable, terms: list[dict[str, Any]]) -> np.ndarray:
    """NodeSelectorTerms are ORed."""
    out = np.zeros(t.n, dtype=bool)
    for term in terms:
        out |= match_term(t, term)
    return out


def required_node_affinity_mask(t: NodeTable, node_selector: dict[str, str], affinity: dict[str, Any]
                                ) -> np.ndarray:
    """``RequiredNodeAffinity.Match`` for every node: nodeSelector AND the required terms."""
    ok = np.ones(t.n, dtype=bool)
    for key, value in node_selector.items():
        codes, table = t.label_codes(key)
        ok &= codes == table.get(value, -2)
    required = ((affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None:
        ok &= match_terms(t, required.get("nodeSelectorTerms") or [])
    return ok


class NodeAffinity(Plugin):
    name = "NodeAffinity"
    has_filter = True
    has_score = True
    has_pre_filter = True

    def _added(self) -> dict[str, Any]:
        return self.args.get("addedAffinity") or {}

    def filter_key(self, pod: PodInfo) -> Hashable:
        na = pod.affinity.get("nodeAffinity") or {}
        return pod.frozen("NodeAffinity/filter",
                          [pod.node_selector, na.get("requiredDuringSchedulingIgnoredDuringExecution")])

    def score_key(self, pod: PodInfo) -> Hashable:
        na = pod.affinity.get("nodeAffinity") or {}
        return pod.frozen("NodeAffinity/score", na.get("preferredDuringSchedulingIgnoredDuringExecution"))

    def _added_required(self) -> dict[str, Any] | None:
        """``addedNodeSelector``: the args' required terms, enforced before the pod's own."""
        return self._added().get("requiredDuringSchedulingIgnoredDuringExecution")

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        # node_affinity.go PreFilter: Skip when there is nothing to check; with matchFields on
        # metadata.name in every required term, return that node-name set (the framework then
        # evaluates only those); an empty intersection in every term is a conflict.
        pod = ctx.pod
        node_affinity = pod.affinity.get("nodeAffinity") or {}
        required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        if not pod.node_selector and required is None and self._added_required() is None:
            return PreFilterResult(skip=True)
        terms = (required or {}).get("nodeSelectorTerms") or []
        if not terms:
            return None
        names: set[str] = set()
        for term in terms:
            fields = [f for f in term.get("matchFields") or []
                      if f.get("key") == "metadata.name" and f.get("operator") == "In"]
            if not fields:
                return None
            term_names = set(fields[0].get("values") or [])
            for f in fields[1:]:
                term_names &= set(f.get("values") or [])
            names |= term_names
        if not names:
            return PreFilterResult(reject=_REASON_CONFLICT)
        return PreFilterResult(node_names=names)

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        t = ctx.table
        out: list[Rejection] = []
        enforced = np.ones(t.n, dtype=bool)
        added = self._added_required()
        if added is not None:
            # The scheduler-enforced affinity is checked first and has its own reason.
            enforced = match_terms(t, added.get("nodeSelectorTerms") or [])
            if not enforced.all():
                out.append(Rejection(_REASON_ENFORCED, ~enforced, True))
        ok = required_node_affinity_mask(t, ctx.pod.node_selector, ctx.pod.affinity)
        bad = enforced & ~ok
        if bad.any():
            out.append(Rejection(_REASON, bad, True))
        return out

    def _preferred(self, ctx: CycleContext) -> list[dict[str, Any]]:
        node_affinity = ctx.pod.affinity.get("nodeAffinity") or {}
        own = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
        added = self._added().get("preferredDuringSchedulingIgnoredDuringExecution")
        return list(own or []) + list(added or [])

    def pre_score(self, ctx: CycleContext, nodes: np.ndarray) -> bool:
        return bool(self._preferred(ctx))

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        total = np.zeros(ctx.table.n, dtype=np.int64)
        for pref in self._preferred(ctx):
            w = int(pref.get("weight", 0))
            if w == 0:
                continue
            total += np.where(match_term(ctx.table, pref.get("preference") or {}), w, 0)
        return total[nodes]

    def normalize(self, ctx: CycleContext, scores: np.ndarray) -> np.ndarray:
        return default_normalize_score(scores, reverse=False)

"""NodeAffinity and nodeSelector (``pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go``,
``k8s.io/component-helpers/scheduling/corev1/nodeaffinity``).

Requirements are evaluated over all nodes at once from per-label integer code columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labkit.api.selectors import is_qualified_name, is_valid_label_value
from labkit.scheduler.framework import CycleContext, Plugin, PreFilterResult, Rejection
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.plugins.helper import default_normalize_score

__all__ = ["NodeAffinity", "match_term", "match_terms"]

_REASON = "node(s) didn't match Pod's node affinity/selector"


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


def _match_field(t: NodeTable, req: dict[str, Any]) -> np.ndarray:
    values = set(req.get("values") or [])
    if req.get("key") != "metadata.name" or req.get("operator") not in ("In", "NotIn"):
        return np.zeros(t.n, dtype=bool)
    hit = np.array([nm in values for nm in t.names], dtype=bool)
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
    """A NodeSelectorTerm: expressions and fields ANDed; a term with no requirements matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields or not all(_valid_expression(r) for r in exprs):
        return np.zeros(t.n, dtype=bool)
    out = np.ones(t.n, dtype=bool)
    for req in exprs:
        out &= _match_expression(t, req)
    for req in fields:
        out &= _match_field(t, req)
    return out


def match_terms(t: NodeTable, terms: list[dict[str, Any]]) -> np.ndarray:
    """NodeSelectorTerms are ORed."""
    out = np.zeros(t.n, dtype=bool)
    for term in terms:
        out |= match_term(t, term)
    return out


def required_node_affinity_mask(t: NodeTable, node_selector: dict[str, str], affinity: dict[str, Any],
                                added: dict[str, Any] | None = None) -> np.ndarray:
    """``RequiredNodeAffinity.Match`` for every node: nodeSelector AND required terms (AND added affinity)."""
    ok = np.ones(t.n, dtype=bool)
    for key, value in node_selector.items():
        codes, table = t.label_codes(key)
        ok &= codes == table.get(value, -2)
    required = ((affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None:
        ok &= match_terms(t, required.get("nodeSelectorTerms") or [])
    if added:
        req2 = added.get("requiredDuringSchedulingIgnoredDuringExecution")
        if req2 is not None:
            ok &= match_terms(t, req2.get("nodeSelectorTerms") or [])
    return ok


class NodeAffinity(Plugin):
    name = "NodeAffinity"
    has_filter = True
    has_score = True
    has_pre_filter = True

    def _added(self) -> dict[str, Any]:
        return self.args.get("addedAffinity") or {}

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        # PreFilter: Skip when there is nothing to check; with matchFields on metadata.name in
        # every required term, return that node-name set (the framework evaluates only those).
        pod = ctx.pod
        required = ((pod.affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"))
        if not pod.node_selector and required is None and not self._added():
            return PreFilterResult(skip=True)
        if required is None:
            return None
        terms = required.get("nodeSelectorTerms") or []
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
            return PreFilterResult(reject=_REASON)
        return PreFilterResult(node_names=names)

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        ok = required_node_affinity_mask(ctx.table, ctx.pod.node_selector, ctx.pod.affinity, self._added())
        return [] if ok.all() else [Rejection(_REASON, ~ok, True)]

    def _preferred(self, ctx: CycleContext) -> list[dict[str, Any]]:
        own = (ctx.pod.affinity.get("nodeAffinity") or {}).get("preferredDuringSchedulingIgnoredDuringExecution")
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

"""InterPodAffinity: place pods near (or away from) pods that match a label selector.

Upstream: ``pkg/scheduler/framework/plugins/interpodaffinity/{filtering,scoring,plugin}.go`` and
``AffinityTerm`` in ``pkg/scheduler/framework/types.go`` (v1.36).

Counts of existing pods matching the incoming pod's terms come from the
:class:`~labkit.scheduler.plugins.podtopologyspread.PodIndex` (per node row, kept up to date
incrementally), then are summed per topology domain with ``numpy.bincount``. The terms of
*existing* pods (symmetry, and their preferences in Score) are evaluated once per group of
pods sharing the same terms, e.g. the replicas of one Deployment.

``matchLabelKeys``/``mismatchLabelKeys`` of a term are merged into its selector here (as
``key in (value)`` / ``key notin (value)`` with the owning pod's label values); on a real
cluster the API server does this when the pod is created, so the effect is the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.api.selectors import Requirement, Selector, selector_from_dict
from labkit.scheduler.framework import MAX_NODE_SCORE, CycleContext, Plugin, PreFilterResult, Rejection
from labkit.scheduler.plugins.podtopologyspread import (
    AffinityGroup,
    PodIndex,
    PodQuery,
    affinity_key,
    pod_index,
)
from labkit.scheduler.podinfo import PodInfo

__all__ = [
    "InterPodAffinity", "AffinityTerm", "PodTerms",
    "ERR_AFFINITY_RULES", "ERR_ANTI_AFFINITY_RULES", "ERR_EXISTING_ANTI_AFFINITY_RULES",
]

# filtering.go
ERR_EXISTING_ANTI_AFFINITY_RULES = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_AFFINITY_RULES = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY_RULES = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER = "PreFilterInterPodAffinity"
_PRE_SCORE = "PreScoreInterPodAffinity"
_INDEX_SYNCED = "PodIndexSynced/InterPodAffinity"


@dataclass(frozen=True)
class AffinityTerm:
    """``fwk.AffinityTerm``: a PodAffinityTerm with its selectors parsed.

    ``namespaces`` is the term's list, or the owning pod's namespace when the term names neither
    namespaces nor a namespaceSelector. ``namespace_selector`` is ``None`` for a nil selector
    (matches no namespace) and the empty selector for ``{}`` (every namespace).
    """

    namespaces: frozenset[str]
    namespace_selector: Selector | None
    selector: Selector | None
    topology_key: str
    weight: int = 0

    def matches(self, namespace: str, labels: Mapping[str, str], ns_labels: Mapping[str, str]) -> bool:
        """``AffinityTerm.Matches``: namespace (listed, or its labels selected) and pod labels."""
        if namespace in self.namespaces or (self.namespace_selector is not None
                                            and self.namespace_selector.matches(ns_labels)):
            return self.selector is not None and self.selector.matches(labels)
        return False


def _term(pod_ns: str, pod_labels: Mapping[str, str], raw: dict[str, Any], weight: int = 0) -> AffinityTerm:
    selector = selector_from_dict(raw.get("labelSelector"))
    if selector is not None:
        # The API server's merge of matchLabelKeys / mismatchLabelKeys (a nil selector stays nil).
        extra = tuple(Requirement(k, "In", (pod_labels[k],)) for k in raw.get("matchLabelKeys") or []
                      if k in pod_labels)
        extra += tuple(Requirement(k, "NotIn", (pod_labels[k],)) for k in raw.get("mismatchLabelKeys") or []
                       if k in pod_labels)
        if extra:
            selector = Selector(selector.requirements + extra)
    listed = raw.get("namespaces") or []
    ns_sel_raw = raw.get("namespaceSelector")
    # getNamespacesFromPodAffinityTerm
    namespaces = frozenset(listed) if listed or ns_sel_raw is not None else frozenset((pod_ns,))
    ns_selector = selector_from_dict(ns_sel_raw)
    return AffinityTerm(namespaces, ns_selector, selector, raw.get("topologyKey", ""), weight)


@dataclass(frozen=True, eq=False)
class PodTerms:
    """A pod's parsed affinity terms (``PodInfo.Required/Preferred(Anti)AffinityTerms``)."""

    required_affinity: tuple[AffinityTerm, ...]
    required_anti_affinity: tuple[AffinityTerm, ...]
    preferred_affinity: tuple[AffinityTerm, ...]
    preferred_anti_affinity: tuple[AffinityTerm, ...]

    @classmethod
    def of(cls, pod: PodInfo) -> PodTerms:
        aff = pod.affinity.get("podAffinity") or {}
        anti = pod.affinity.get("podAntiAffinity") or {}
        ns, labels = pod.namespace, pod.labels

        def required(section: dict[str, Any]) -> tuple[AffinityTerm, ...]:
            terms = section.get("requiredDuringSchedulingIgnoredDuringExecution") or []
            return tuple(_term(ns, labels, t) for t in terms)

        def preferred(section: dict[str, Any]) -> tuple[AffinityTerm, ...]:
            return tuple(_term(ns, labels, w.get("podAffinityTerm") or {}, int(w.get("weight", 0)))
                         for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or [])

        return cls(required(aff), required(anti), preferred(aff), preferred(anti))


_NO_TERMS = PodTerms((), (), (), ())


class InterPodAffinity(Plugin):
    """Required pod (anti-)affinity as a Filter, preferred terms (and other pods' terms) as a Score.

    Args (``InterPodAffinityArgs``): ``hardPodAffinityWeight`` (default 1) and
    ``ignorePreferredTermsOfExistingPods`` (default false).
    """

    name = "InterPodAffinity"
    has_filter = True
    has_score = True
    has_pre_filter = True

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        super().__init__(args)
        weight = self.args.get("hardPodAffinityWeight")
        self.hard_pod_affinity_weight = 1 if weight is None else int(weight)
        self.ignore_existing_preferred = bool(self.args.get("ignorePreferredTermsOfExistingPods"))
        self.index = PodIndex()
        self._parsed: dict[tuple[str, str, frozenset[tuple[str, str]]], PodTerms] = {}
        self._verdicts: dict[tuple[int, tuple[Any, ...]], bool] = {}

    # -- helpers ----------------------------------------------------------------------------------
    def _pod_terms(self, pod: PodInfo, key: tuple[str, str, frozenset[tuple[str, str]]] | None = None
                   ) -> PodTerms:
        """Parsed terms, shared by every pod with the same :func:`affinity_key`."""
        if pod.affinity.get("podAffinity") is None and pod.affinity.get("podAntiAffinity") is None:
            return _NO_TERMS
        key = key or affinity_key(pod)
        hit = self._parsed.get(key)
        if hit is None:
            if len(self._parsed) > 4096:
                self._parsed.clear()
                self._verdicts.clear()  # keyed by the ids of parsed terms
            hit = self._parsed[key] = PodTerms.of(pod)
        return hit

    @staticmethod
    def _namespace_labels(ctx: CycleContext) -> dict[str, str]:
        """``GetNamespaceLabelsSnapshot``: the incoming pod's namespace labels ({} if unknown)."""
        store = ctx.api
        ns = store.peek("Namespace", ctx.pod.namespace) if store is not None else None
        return dict((ns or {}).get("metadata", {}).get("labels") or {})

    @staticmethod
    def _merge_namespaces(ctx: CycleContext, term: AffinityTerm
                          ) -> tuple[frozenset[str] | None, Selector | None]:
        """``mergeAffinityTermNamespacesIfNotEmpty``: an incoming term's namespaceSelector becomes the
        list of namespaces it selects now; ``{}`` keeps meaning every namespace (returned as None)."""
        sel = term.namespace_selector
        if sel is not None and sel.empty:
            return None, term.selector
        names = set(term.namespaces)
        store = ctx.api
        if sel is not None and store is not None:
            for ns in store.items("Namespace"):
                if sel.matches(ns["metadata"].get("labels") or {}):
                    names.add(ns["metadata"]["name"])
        return frozenset(names), term.selector

    def _counts(self, ctx: CycleContext, terms: tuple[AffinityTerm, ...]) -> np.ndarray:
        """Existing pods (terminating ones included) matching *all* ``terms``, per node row."""
        clauses = tuple(self._merge_namespaces(ctx, t) for t in terms)
        return pod_index(self.index, ctx, _INDEX_SYNCED).counts(PodQuery(clauses))

    def _groups(self, ctx: CycleContext) -> list[tuple[PodTerms, AffinityGroup]]:
        """Existing pods with pod (anti-)affinity, grouped by their terms."""
        groups = pod_index(self.index, ctx, _INDEX_SYNCED).affinity_groups
        return [(self._pod_terms(group.pod, key), group) for key, group in groups.items()]

    def _matcher(self, ctx: CycleContext) -> Callable[[AffinityTerm], bool]:
        """``term.Matches(incoming pod, its namespace's labels)`` for existing pods' terms, remembered
        per term and incoming (namespace, labels): replicas ask the same question again and again."""
        pod = ctx.pod
        ns_labels = self._namespace_labels(ctx)
        sig = (pod.namespace, frozenset(pod.labels.items()), frozenset(ns_labels.items()))
        verdicts = self._verdicts
        if len(verdicts) > 65536:
            verdicts.clear()

        def matches(term: AffinityTerm) -> bool:
            key = (id(term), sig)
            hit = verdicts.get(key)
            if hit is None:
                hit = verdicts[key] = term.matches(pod.namespace, pod.labels, ns_labels)
            return hit

        return matches

    # -- Filter ----------------------------------------------------------------------------------
    def _pre_filter_state(self, ctx: CycleContext) -> dict[str, Any]:
        t = ctx.table
        pod = ctx.pod
        own = self._pod_terms(pod)
        # getExistingAntiAffinityCounts: domains holding a pod whose required anti-affinity
        # term matches the incoming pod.
        existing: dict[str, set[int]] = {}
        groups = [(terms, group) for terms, group in self._groups(ctx) if terms.required_anti_affinity]
        matches = self._matcher(ctx) if groups else None
        for terms, group in groups:
            for term in terms.required_anti_affinity:
                if matches(term):
                    codes = t.label_codes(term.topology_key)[0][group.node_rows()]
                    existing.setdefault(term.topology_key, set()).update(codes[codes >= 0].tolist())
        existing = {k: v for k, v in existing.items() if v}
        return {"terms": own, "existing": existing}

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        state = self._pre_filter_state(ctx)
        own: PodTerms = state["terms"]
        if not state["existing"] and not own.required_affinity and not own.required_anti_affinity:
            return PreFilterResult(skip=True)
        ctx.state[_PRE_FILTER] = state
        return None

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        state = ctx.state.get(_PRE_FILTER)
        if state is None:  # preemption's dry runs call Filter on a fresh state
            state = ctx.state[_PRE_FILTER] = self._pre_filter_state(ctx)
        t, pod = ctx.table, ctx.pod
        own: PodTerms = state["terms"]
        n = t.n
        affinity_fail = np.zeros(n, dtype=bool)
        if own.required_affinity:
            # satisfyPodAffinity: every term's domain must hold a pod matching *all* the terms.
            counts = self._counts(ctx, own.required_affinity)
            pods_exist = np.ones(n, dtype=bool)
            any_match = False
            for term in own.required_affinity:
                codes, values = t.label_codes(term.topology_key)
                has = codes >= 0
                affinity_fail |= ~has  # all topology labels must exist on the node
                domain = np.bincount(codes[has], weights=counts[has], minlength=len(values))
                any_match |= bool((domain > 0).any())
                if len(values):
                    pods_exist &= has & (domain[np.where(has, codes, 0)] > 0)
            # The first pod of a group with affinity to itself: allowed when no pod anywhere
            # matches and the pod matches its own terms (namespaceSelector already merged).
            own_query = PodQuery(tuple(self._merge_namespaces(ctx, term) for term in own.required_affinity))
            bootstrap = not any_match and own_query.matches(pod.namespace, pod.labels, False)
            if not bootstrap:
                affinity_fail |= ~pods_exist
        anti_fail = np.zeros(n, dtype=bool)
        for term in own.required_anti_affinity:
            codes, values = t.label_codes(term.topology_key)
            if not len(values):
                continue
            counts = self._counts(ctx, (term,))
            has = codes >= 0
            domain = np.bincount(codes[has], weights=counts[has], minlength=len(values))
            anti_fail |= has & (domain[np.where(has, codes, 0)] > 0)
        existing_fail = np.zeros(n, dtype=bool)
        for key, bad in state["existing"].items():
            existing_fail |= np.isin(t.label_codes(key)[0], np.fromiter(bad, dtype=np.int64))
        # Rules in order; a node carries the reason of the first rule it breaks.
        anti_fail &= ~affinity_fail
        existing_fail &= ~(affinity_fail | anti_fail)
        out = []
        if affinity_fail.any():
            out.append(Rejection(ERR_AFFINITY_RULES, affinity_fail, True))
        if anti_fail.any():
            out.append(Rejection(ERR_ANTI_AFFINITY_RULES, anti_fail, False))
        if existing_fail.any():
            out.append(Rejection(ERR_EXISTING_ANTI_AFFINITY_RULES, existing_fail, False))
        return out

    # -- Score -----------------------------------------------------------------------------------
    def pre_score(self, ctx: CycleContext, nodes: np.ndarray) -> bool:
        """scoring.go PreScore: build the (topologyKey, value) → weight table; Skip when it is empty."""
        t, pod = ctx.table, ctx.pod
        own = self._pod_terms(pod)
        has_preferred = bool(own.preferred_affinity or own.preferred_anti_affinity)
        if self.ignore_existing_preferred and not has_preferred:
            return False
        table: dict[str, np.ndarray] = {}
        entries: dict[str, np.ndarray] = {}

        def add(key: str, codes: np.ndarray, amounts: np.ndarray, hits: np.ndarray) -> None:
            values = t.label_codes(key)[1]
            if key not in table:
                table[key] = np.zeros(len(values), dtype=np.int64)
                entries[key] = np.zeros(len(values), dtype=bool)
            has = codes >= 0
            summed = np.bincount(codes[has], weights=amounts[has], minlength=len(values))
            table[key] += summed.astype(np.int64)
            entries[key] |= np.bincount(codes[has], weights=hits[has], minlength=len(values)) > 0

        # The incoming pod's preferred terms, matched against every existing pod.
        for sign, terms in ((1, own.preferred_affinity), (-1, own.preferred_anti_affinity)):
            for term in terms:
                counts = self._counts(ctx, (term,))
                codes = t.label_codes(term.topology_key)[0]
                add(term.topology_key, codes, counts * (sign * term.weight), counts)
        # Existing pods' required affinity (hardPodAffinityWeight) and preferred terms that match
        # the incoming pod; required anti-affinity does not score.
        groups = self._groups(ctx)
        matches = self._matcher(ctx) if groups else None
        for terms, group in groups:
            weighted = [(term, self.hard_pod_affinity_weight) for term in terms.required_affinity
                        if self.hard_pod_affinity_weight > 0]
            weighted += [(term, term.weight) for term in terms.preferred_affinity]
            weighted += [(term, -term.weight) for term in terms.preferred_anti_affinity]
            for term, weight in weighted:
                if matches(term):
                    rows = group.node_rows()
                    ones = np.ones(len(rows), dtype=np.int64)
                    add(term.topology_key, t.label_codes(term.topology_key)[0][rows], ones * weight, ones)
        if not any(e.any() for e in entries.values()):
            return False
        raw = np.zeros(len(nodes), dtype=np.int64)
        for key, weights in table.items():
            codes = t.label_codes(key)[0][nodes]
            raw += np.where(codes >= 0, weights[np.where(codes >= 0, codes, 0)], 0)
        ctx.state[_PRE_SCORE] = raw
        return True

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        return ctx.state[_PRE_SCORE]

    def normalize(self, ctx: CycleContext, scores: np.ndarray) -> np.ndarray:
        """Min–max over the scored nodes, ``int64(100 * ((s - min) / (max - min)))``; 0 when max == min."""
        if len(scores) == 0:
            return scores
        low, high = int(scores.min()), int(scores.max())
        if high - low <= 0:
            return np.zeros(len(scores), dtype=np.int64)
        return np.trunc(float(MAX_NODE_SCORE) * ((scores - low).astype(np.float64) / float(high - low))
                        ).astype(np.int64)

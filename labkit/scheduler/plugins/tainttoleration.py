"""TaintToleration (``pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go``).

Nodes are grouped by their exact taint list, so tolerations are matched once per distinct
taint set rather than once per node.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from labkit.scheduler.framework import CycleContext, Plugin, Rejection
from labkit.scheduler.plugins.helper import default_normalize_score, find_untolerated, tolerates
from labkit.scheduler.podinfo import PodInfo

__all__ = ["TaintToleration"]


class TaintToleration(Plugin):
    name = "TaintToleration"
    has_filter = True
    has_score = True

    def filter_key(self, pod: PodInfo) -> Hashable:
        return pod.frozen("tolerations", pod.tolerations)

    score_key = filter_key

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        groups, sigs = ctx.table.taint_signatures()
        tols = ctx.pod.tolerations
        bad = np.array([find_untolerated(sig, tols, ("NoSchedule", "NoExecute")) for sig in sigs], dtype=bool)
        mask = bad[groups] if len(sigs) else np.zeros(ctx.table.n, dtype=bool)
        return [Rejection("node(s) had untolerated taint(s)", mask, True)] if mask.any() else []

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        groups, sigs = ctx.table.taint_signatures()
        # PreScore keeps tolerations whose effect is empty or PreferNoSchedule.
        tols = [t for t in ctx.pod.tolerations if (t.get("effect") or "") in ("", "PreferNoSchedule")]
        counts = np.array([sum(1 for t in sig if t[2] == "PreferNoSchedule" and not any(tolerates(tol, t)
                                                                                      for tol in tols))
                           for sig in sigs], dtype=np.int64)
        return counts[groups[nodes]] if len(sigs) else np.zeros(len(nodes), dtype=np.int64)

    def normalize(self, ctx: CycleContext, scores: np.ndarray) -> np.ndarray:
        return default_normalize_score(scores, reverse=True)

"""Shared scoring helpers (``pkg/scheduler/framework/plugins/helper``)."""

from __future__ import annotations

import numpy as np

from labkit.scheduler.framework import MAX_NODE_SCORE

__all__ = ["default_normalize_score", "tolerates", "find_untolerated"]


def default_normalize_score(scores: np.ndarray, reverse: bool, max_priority: int = MAX_NODE_SCORE
                            ) -> np.ndarray:
    """``helper.DefaultNormalizeScore``: scale so the largest score becomes ``max_priority``.

    The maximum starts at 0. With it still 0, reverse mode gives every node ``max_priority``
    and normal mode leaves all at 0; otherwise ``max_priority * s // max`` (integer), and in
    reverse mode ``max_priority - that``.
    """
    scores = np.asarray(scores, dtype=np.int64)
    top = int(scores.max(initial=0))
    if top == 0:
        return np.full_like(scores, max_priority if reverse else 0)
    out = max_priority * scores // top
    return max_priority - out if reverse else out


def tolerates(toleration: dict, taint: tuple[str, str, str]) -> bool:
    """``v1.Toleration.ToleratesTaint`` (``k8s.io/api/core/v1/toleration.go``)."""
    key, value, effect = taint
    t_effect = toleration.get("effect") or ""
    if t_effect and t_effect != effect:
        return False
    t_key = toleration.get("key") or ""
    if t_key and t_key != key:
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.get("value") or "") == value
    return False  # Gt/Lt need the alpha TaintTolerationComparisonOperators gate


def find_untolerated(taints: tuple[tuple[str, str, str], ...], tolerations: list[dict],
                     effects: tuple[str, ...]) -> bool:
    """True when some taint with one of ``effects`` is tolerated by none of ``tolerations``."""
    return any(t[2] in effects and not any(tolerates(tol, t) for tol in tolerations) for t in taints)

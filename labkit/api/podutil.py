"""Helpers on Pod objects that several components share, as ``pkg/api/v1/pod/util.go`` is shared."""

from __future__ import annotations

from typing import Any

__all__ = ["update_pod_condition"]


def update_pod_condition(status: dict[str, Any], cond: dict[str, Any]) -> None:
    """``UpdatePodCondition``: replace the condition of that type (keeping its transition time when
    its status did not change) or append it."""
    conds = status.setdefault("conditions", [])
    for k, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            if c.get("status") == cond["status"]:
                cond["lastTransitionTime"] = c.get("lastTransitionTime", cond["lastTransitionTime"])
            conds[k] = cond
            return
    conds.append(cond)

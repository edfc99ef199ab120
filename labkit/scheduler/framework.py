"""The scheduling framework's vocabulary: status codes, plugin interface, cycle context.

Mirrors ``k8s.io/kube-scheduler/framework`` (``interface.go``, ``cycle_state.go``) with one
deliberate difference: extension points work on **all nodes at once** (numpy arrays indexed
by node row) instead of one node per call. A Filter returns, per reason, the mask of nodes it
rejects; a Score returns an int64 array of raw scores. The framework then applies upstream's
per-node rules (first rejecting plugin wins, round-robin search, weights) exactly.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from labkit.scheduler.nodetable import NodeTable
    from labkit.scheduler.podinfo import PodInfo

__all__ = [
    "Code", "Rejection", "PreFilterResult", "CycleContext", "Plugin",
    "MAX_NODE_SCORE", "MIN_NODE_SCORE",
]

MAX_NODE_SCORE = 100  # fwk.MaxNodeScore
MIN_NODE_SCORE = 0


class Code(IntEnum):
    """Framework status codes (``fwk.Code``); the names are upstream's."""

    Success = 0
    Error = 1
    Unschedulable = 2
    UnschedulableAndUnresolvable = 3
    Wait = 4
    Skip = 5
    Pending = 6


@dataclass
class Rejection:
    """Nodes a filter plugin rejects for one reason.

    ``unresolvable`` is a scalar or a per-node mask: where true the node's status is
    ``UnschedulableAndUnresolvable`` (preemption cannot help), else ``Unschedulable``.
    """

    reason: str
    mask: np.ndarray
    unresolvable: np.ndarray | bool = False


@dataclass
class PreFilterResult:
    """What a PreFilter may say: skip my Filter, reject the pod outright, or restrict the node set."""

    skip: bool = False
    reject: str | None = None
    code: Code = Code.UnschedulableAndUnresolvable
    node_names: set[str] | None = None


@dataclass
class CycleContext:
    """Per-cycle state shared by the plugins (``fwk.CycleState`` plus the snapshot)."""

    pod: PodInfo
    table: NodeTable
    api: Any = None  # the API server (read access to Services/ReplicaSets/PVCs... for plugins that need it)
    now: float = math.inf  # simulated seconds, for plugins that compare times (preemption)
    state: dict[str, Any] = field(default_factory=dict)


class Plugin:
    """Base class; a plugin overrides the extension points it implements.

    ``has_filter``/``has_score`` tell the framework which points a plugin takes part in
    (MultiPoint registration registers exactly the implemented ones).
    """

    name = ""
    has_filter = False
    has_score = False
    has_pre_filter = False

    def __init__(self, args: dict[str, Any] | None = None) -> None:
        self.args = dict(args or {})

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        return None

    def filter_key(self, pod: PodInfo) -> Hashable | None:
        """A key such that Filter's result depends only on it and node-level state.

        Plugins whose verdict ignores the pods on nodes (taints, affinity, cordons, names)
        return the pod fields they read; the framework then reuses the rejections for every
        pod with the same key until a node changes (``NodeTable.version``), the way pods
        stamped from one template share their verdicts. ``None`` (the default) means "depends
        on bound pods too: evaluate every cycle".
        """
        return None

    def score_key(self, pod: PodInfo) -> Hashable | None:
        """Like :meth:`filter_key`, for raw Score over all nodes (None: score every cycle)."""
        return None

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        """Rejections over all node rows (``ctx.table.n``)."""
        return []

    def pre_score(self, ctx: CycleContext, nodes: np.ndarray) -> bool:
        """Return False to Skip this plugin's Score for this pod (``fwk.Skip``)."""
        return True

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        """Raw scores (int64) for the node rows in ``nodes``."""
        raise NotImplementedError

    def normalize(self, ctx: CycleContext, scores: np.ndarray) -> np.ndarray:
        """NormalizeScore over the scored nodes; plugins without one return the scores unchanged."""
        return scores

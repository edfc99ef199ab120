"""The small node filters: NodeName, NodeUnschedulable and NodePorts.

Upstream: ``plugins/nodename/node_name.go``, ``plugins/nodeunschedulable/node_unschedulable.go``,
``plugins/nodeports/node_ports.go``.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from labkit.scheduler.framework import CycleContext, Plugin, PreFilterResult, Rejection
from labkit.scheduler.plugins.helper import tolerates
from labkit.scheduler.podinfo import PodInfo

__all__ = ["NodeName", "NodeUnschedulable", "NodePorts"]

_UNSCHEDULABLE_TAINT = ("node.kubernetes.io/unschedulable", "", "NoSchedule")


class NodeName(Plugin):
    name = "NodeName"
    has_filter = True

    def filter_key(self, pod: PodInfo) -> Hashable:
        return pod.node_name

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        want = ctx.pod.node_name
        if not want:
            return []
        t = ctx.table
        mask = np.array([nm != want for nm in t.names], dtype=bool)
        return [Rejection("node(s) didn't match the requested node name", mask, True)] if mask.any() else []


class NodeUnschedulable(Plugin):
    name = "NodeUnschedulable"
    has_filter = True

    def filter_key(self, pod: PodInfo) -> Hashable:
        return any(tolerates(tol, _UNSCHEDULABLE_TAINT) for tol in pod.tolerations)

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        t = ctx.table
        mask = t.unschedulable[: t.n].copy()
        if not mask.any():
            return []
        # A cordoned node admits pods that tolerate node.kubernetes.io/unschedulable:NoSchedule.
        if any(tolerates(tol, _UNSCHEDULABLE_TAINT) for tol in ctx.pod.tolerations):
            return []
        return [Rejection("node(s) were unschedulable", mask, True)]


class NodePorts(Plugin):
    name = "NodePorts"
    has_filter = True
    has_pre_filter = True

    def pre_filter(self, ctx: CycleContext) -> PreFilterResult | None:
        # PreFilter returns Skip for pods without host ports.
        return None if ctx.pod.host_ports else PreFilterResult(skip=True)

    def filter(self, ctx: CycleContext) -> list[Rejection]:
        t = ctx.table
        want = ctx.pod.host_ports
        if not want:  # conflicts with nothing (preemption's dry runs call Filter without PreFilter's Skip)
            return []
        mask = np.zeros(t.n, dtype=bool)
        for i, used in enumerate(t.used_ports):
            if used and any(_conflict(w, u) for w in want for u in used):
                mask[i] = True
        if not mask.any():
            return []
        return [Rejection("node(s) didn't have free ports for the requested pod ports", mask, False)]


def _conflict(want: tuple[str, str, int], used: tuple[str, str, int]) -> bool:
    """Same protocol and port, and the host IPs equal or either is 0.0.0.0
    (``HostPortInfo.CheckConflict``)."""
    if want[0] != used[0] or want[2] != used[2]:
        return False
    return want[1] == used[1] or "0.0.0.0" in (want[1], used[1])

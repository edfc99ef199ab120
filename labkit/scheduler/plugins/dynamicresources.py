"""DynamicResources (``pkg/scheduler/framework/plugins/dynamicresources/dynamicresources.go``).

Dynamic Resource Allocation (ResourceClaims for GPUs and other devices) is on by default in
v1.36, so the plugin sits in the default profile with score weight 2. The simulated API server
serves no ResourceClaims, so every pod here is a pod without claims, for which upstream's
plugin skips PreFilter/Filter and scores 0 on every node (checked against a real v1.36.2
scheduler): it shows in ``explain`` with its weight and never changes a ranking. Its PostFilter
message, ``no new claims to deallocate``, is written by :meth:`Scheduler.post_filter`.
"""

from __future__ import annotations

import numpy as np

from labkit.scheduler.framework import CycleContext, Plugin

__all__ = ["DynamicResources"]


class DynamicResources(Plugin):
    name = "DynamicResources"
    has_score = True

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        return np.zeros(len(nodes), dtype=np.int64)

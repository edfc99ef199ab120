"""ImageLocality (``pkg/scheduler/framework/plugins/imagelocality/image_locality.go``).

Prefer nodes that already hold the pod's images, weighted by how widely each image is
spread over the cluster (so one node holding a popular image does not attract everything).
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from labkit.scheduler.framework import MAX_NODE_SCORE, CycleContext, Plugin
from labkit.scheduler.podinfo import PodInfo

__all__ = ["ImageLocality"]

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


class ImageLocality(Plugin):
    name = "ImageLocality"
    has_score = True

    def score_key(self, pod: PodInfo) -> Hashable:
        return (tuple(pod.images), pod.n_containers)

    def score(self, ctx: CycleContext, nodes: np.ndarray) -> np.ndarray:
        t, pod = ctx.table, ctx.pod
        total_nodes = t.n  # all nodes in the snapshot, feasible or not
        s = np.zeros(len(nodes), dtype=np.int64)
        for image in pod.images:
            sizes = t.image_sizes(image)
            holders = int(np.count_nonzero(sizes))
            if holders == 0:
                continue
            spread = holders / total_nodes
            # scaledImageScore: int64(float64(size) * spread)
            s += (sizes[nodes].astype(np.float64) * spread).astype(np.int64)
        max_threshold = MAX_CONTAINER_THRESHOLD * max(pod.n_containers, 1)
        s = np.clip(s, MIN_THRESHOLD, max_threshold)
        return MAX_NODE_SCORE * (s - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)

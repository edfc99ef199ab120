"""Scenario builders and helpers shared by several test modules (imported as ``support``).

pytest puts ``tests/`` on ``sys.path`` (its default ``prepend`` import mode), so test modules
import this file by name.
"""

from __future__ import annotations

import numpy as np

import labkit
from labkit import timeline as tl

ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
POD = "data/manifests/my-nginx-pod.yaml"
SERVICE = "data/manifests/my-nginx-service.yaml"


def chapter00_cluster(seed: int = 0, *, recorded: bool = True, service: bool = True,
                      run: bool = True) -> labkit.Cluster:
    """Chapter 00's scenario: three equal ECS nodes, the article's Pod (and Service)."""
    c = labkit.Cluster(seed=seed)
    if recorded:
        tl.record(c)
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=3, zones=ZONES)
    c.apply(POD)
    if service:
        c.apply(SERVICE)
    if run:
        c.run()
    return c


def pixels(fig) -> np.ndarray:
    """A matplotlib figure rendered to RGBA pixels (to compare two figures exactly)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()

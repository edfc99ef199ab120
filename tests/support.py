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


def chapter02_cluster(*manifests: str, seed: int = 0) -> labkit.Cluster:
    """Chapter 02's three pools (general, tainted batch, memory) with the day-one pods, run; then
    ``manifests`` applied and run too."""
    c = labkit.Cluster(seed=seed)
    c.add_node_pool("general", "ecs.g7.xlarge", 3, zones=ZONES)
    c.add_node_pool("batch", "ecs.c7.2xlarge", 2, zones=ZONES, labels={"workload": "batch"},
                    taints=[{"key": "workload", "value": "batch", "effect": "NoSchedule"}])
    c.add_node_pool("memory", "ecs.r7.xlarge", 2, zones=ZONES, labels={"workload": "memory"})
    c.apply("data/manifests/scheduling/day-one.yaml")
    for manifest in manifests:
        c.apply(manifest)
    c.run()
    return c


def pixels(fig) -> np.ndarray:
    """A matplotlib figure rendered to RGBA pixels (to compare two figures exactly)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()

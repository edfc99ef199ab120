"""The real-cluster adapter: the simulator's calls on a real Kubernetes cluster (kind, minikube, ACK).

Only this package imports the official ``kubernetes`` client, and only when a ``RealCluster`` is
made: ``import labkit`` stays light.

==========================  ======================================================================
``RealCluster``             apply (server-side, dry run), get, list, delete, events, pods_frame,
                            scale, rollout_status, wait_for/run, cleanup; safe by default
``planned_requests``        the requests ``apply`` would send, without a cluster
``compare``                 the simulator and the real cluster side by side (placements, phases)
``twin_manifests``          a real cluster's nodes and pods as manifests for ``Cluster.from_real``
``detect``                  is a cluster configured here? (for notebook 06)
==========================  ======================================================================
"""

from __future__ import annotations

from labkit.real.cluster import FIELD_MANAGER, MANAGED_BY, PROTECTED_NAMESPACES, RealCluster, planned_requests
from labkit.real.compare import compare, detect, twin_manifests

__all__ = [
    "RealCluster",
    "planned_requests",
    "compare",
    "twin_manifests",
    "detect",
    "MANAGED_BY",
    "FIELD_MANAGER",
    "PROTECTED_NAMESPACES",
]

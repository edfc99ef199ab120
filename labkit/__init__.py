"""labkit — a Kubernetes cluster you can see, poke and measure, in a notebook.

A SimPy model of a Kubernetes cluster (API store, kube-scheduler, kubelets) that takes the
same YAML you would ``kubectl apply``, on an Alibaba-Cloud-flavoured set of ECS nodes.

Public API
==========

======================  ==============================================================================
``Cluster``             the simulated cluster (apply, run, get, list, delete, events, explain)
``ManifestError``       a manifest the API server would refuse (``.path``, ``.value``, ``.reason``)
``DNSError``            a name a pod cannot resolve: NXDOMAIN or TIMEOUT (``.name``, ``.rcode``, ``.tried``)
``DockerfileError``     a Dockerfile ``docker build`` would refuse (``.line``, ``.message``, ``.hint``)
``KUBERNETES_VERSION``  the Kubernetes minor the lab follows
``RealCluster``         the same calls on a real cluster (``kubernetes`` client, imported lazily)
``compare``             the simulator and a real cluster side by side (placements, phases, messages)
``RealClusterError``    what a real cluster refused or could not do (``.message``, ``.hint``, ``.status``)
``KubeconfigError``     no kubeconfig, or no such context in it
``UnreachableError``    the API server did not answer within the timeout
``TLSError``            the server's certificate is not the one the kubeconfig trusts
``UnauthorizedError``   401: expired or revoked credentials
``ForbiddenError``      403: RBAC lacks a verb on a resource (``.verb``, ``.resource``, ``.namespace``)
``QuotaExceededError``  403: a ResourceQuota has no room left
``NotFoundError``       404: no such object (also a ``KeyError``)
``ConflictError``       409: exists already, or another field manager owns a field
``RefusedError``        labkit refused to touch what it did not create (nothing was sent)
``workloads``           load patterns for ``Cluster.traffic`` (``Constant``, ``Step``, ``Spike``, ...)
``hpa``                 the HPA's decision as a pure function (``labkit.hpa.reconcile``)
``images``              ``docker build`` as a model: layers, build cache, digests (``labkit.images.build``)
======================  ==============================================================================
"""

from __future__ import annotations

from typing import Any

from labkit.cluster import Cluster
from labkit.errors import (
    ConflictError,
    DNSError,
    DockerfileError,
    ForbiddenError,
    KubeconfigError,
    ManifestError,
    NotFoundError,
    QuotaExceededError,
    RealClusterError,
    RefusedError,
    TLSError,
    UnauthorizedError,
    UnreachableError,
)
from labkit.version import KUBERNETES_VERSION

__all__ = ["Cluster", "ManifestError", "DNSError", "DockerfileError", "KUBERNETES_VERSION", "RealCluster",
           "compare", "RealClusterError", "KubeconfigError", "UnreachableError", "TLSError",
           "UnauthorizedError", "ForbiddenError", "QuotaExceededError", "NotFoundError", "ConflictError",
           "RefusedError", "workloads", "hpa", "images"]


def __getattr__(name: str) -> Any:
    # The real-cluster adapter pulls in the kubernetes client (~1 s to import); load it on first use.
    if name in ("RealCluster", "compare"):
        import labkit.real

        return getattr(labkit.real, name)
    if name in ("workloads", "hpa", "images"):  # loaded on first use, like the adapter (numpy, the HPA)
        import importlib

        return importlib.import_module(f"labkit.{name}")
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")

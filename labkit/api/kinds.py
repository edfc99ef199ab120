"""The kinds the simulated API server serves, declared once.

Like kr8s' ``_objects.py`` each kind states its group/version, whether it is namespaced and
its plural resource name; the store, the manifest loader and ``Cluster.get`` all read this
table, so a kind cannot be known to one and unknown to another.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Kind", "KINDS", "lookup"]


@dataclass(frozen=True)
class Kind:
    """One API kind (``apiVersion`` + ``kind``) and how it is stored."""

    api_version: str
    kind: str
    namespaced: bool
    plural: str
    #: Rule for metadata.name: "subdomain" (RFC 1123 subdomain, most kinds), "label" (RFC 1123
    #: label) or "label1035" (RFC 1035 label: Services, whose names become DNS labels).
    name_rule: str = "subdomain"


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        # core/v1 -- pkg/apis/core/validation/validation.go names the name rule of each kind
        Kind("v1", "Namespace", False, "namespaces", "label"),
        Kind("v1", "Node", False, "nodes"),
        Kind("v1", "Pod", True, "pods"),
        Kind("v1", "Service", True, "services", "label1035"),
        Kind("v1", "ConfigMap", True, "configmaps"),
        Kind("v1", "Secret", True, "secrets"),
        Kind("v1", "ServiceAccount", True, "serviceaccounts"),
        Kind("v1", "PersistentVolume", False, "persistentvolumes"),
        Kind("v1", "PersistentVolumeClaim", True, "persistentvolumeclaims"),
        Kind("v1", "Event", True, "events"),
        Kind("apps/v1", "Deployment", True, "deployments"),
        Kind("apps/v1", "ReplicaSet", True, "replicasets"),
        Kind("apps/v1", "StatefulSet", True, "statefulsets"),
        Kind("apps/v1", "DaemonSet", True, "daemonsets"),
        Kind("v1", "ReplicationController", True, "replicationcontrollers"),
        Kind("batch/v1", "Job", True, "jobs"),
        Kind("autoscaling/v2", "HorizontalPodAutoscaler", True, "horizontalpodautoscalers"),
        Kind("scheduling.k8s.io/v1", "PriorityClass", False, "priorityclasses"),
        Kind("storage.k8s.io/v1", "StorageClass", False, "storageclasses"),
        Kind("node.k8s.io/v1", "RuntimeClass", False, "runtimeclasses"),
        Kind("policy/v1", "PodDisruptionBudget", True, "poddisruptionbudgets"),
        Kind("discovery.k8s.io/v1", "EndpointSlice", True, "endpointslices"),
        Kind("coordination.k8s.io/v1", "Lease", True, "leases"),
    )
}


def lookup(kind: str) -> Kind:
    """Return the declared kind, accepting ``kubectl``-style spellings (``pods``, ``pod``, ``Pod``)."""
    if kind in KINDS:
        return KINDS[kind]
    low = kind.lower()
    for k in KINDS.values():
        if low in (k.kind.lower(), k.plural):
            return k
    known = ", ".join(sorted(KINDS))
    raise KeyError(f"unknown kind {kind!r}; the simulated API server serves: {known}")

"""The simulator next to a real cluster: ``compare`` and the digital twin behind ``Cluster.from_real``."""

from __future__ import annotations

from typing import Any

from labkit.errors import RealClusterError

__all__ = ["compare", "twin_manifests", "detect"]

#: Node status fields a twin copies: what the scheduler reads (the rest is the real kubelet's).
_NODE_STATUS = ("capacity", "allocatable", "images", "runtimeHandlers")
_POD_PHASES = ("Pending", "Running")
#: ``compare``'s columns: for each pod, its node, phase and last FailedScheduling message on each side.
COMPARE_COLUMNS = (
    "pod",
    "sim_node",
    "real_node",
    "same_node",  # fmt: skip
    "sim_phase",
    "real_phase",
    "sim_message",
    "real_message",
)


def _last_message(events: list[dict[str, Any]], pod: str, reason: str = "FailedScheduling") -> str | None:
    msgs = [
        e.get("message")
        for e in events
        if (e.get("involvedObject") or {}).get("name") == pod and e.get("reason") == reason
    ]
    return msgs[-1] if msgs else None


def compare(sim: Any, real: Any, sim_namespace: str = "default"):
    """One row per pod name found in either: node, phase and last FailedScheduling message in the
    simulator (``sim_namespace``) and on the real cluster (its namespace).

    Node names agree only when the simulator is the real cluster's twin (:meth:`labkit.Cluster.from_real`);
    ``same_node`` is None where either pod is missing or unbound."""
    import pandas as pd

    sim_pods = {p["metadata"]["name"]: p for p in sim.list("Pod", sim_namespace)}
    real_pods = {p["metadata"]["name"]: p for p in real.list("Pod")}
    sim_events, real_events = sim.events(namespace=sim_namespace), real.events()
    rows = []
    for name in sorted(set(sim_pods) | set(real_pods)):
        s, r = sim_pods.get(name), real_pods.get(name)
        s_node = (s or {}).get("spec", {}).get("nodeName")
        r_node = (r or {}).get("spec", {}).get("nodeName")
        rows.append(
            {
                "pod": name,
                "sim_node": s_node,
                "real_node": r_node,
                "same_node": (s_node == r_node) if s_node and r_node else None,
                "sim_phase": ((s or {}).get("status") or {}).get("phase"),
                "real_phase": ((r or {}).get("status") or {}).get("phase"),
                "sim_message": _last_message(sim_events, name),
                "real_message": _last_message(real_events, name),
            }
        )
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def twin_manifests(real: Any) -> list[dict[str, Any]]:
    """A real cluster's Nodes (labels, taints, capacity, allocatable, images) and its namespace's
    bound, unfinished Pods, as manifests the simulator accepts. Pods of other namespaces are not
    readable with a learner's Role and are left out (their requests are missing from the twin)."""
    nodes = []
    for node in real.list("Node"):
        status = node.get("status") or {}
        spec = node.get("spec") or {}
        twin: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node["metadata"]["name"],
                "labels": dict(node["metadata"].get("labels") or {}),
            },
            "spec": {k: spec[k] for k in ("taints", "unschedulable", "podCIDR") if k in spec},
            "status": {k: status[k] for k in _NODE_STATUS if k in status},
        }
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        if ready:
            twin["status"]["conditions"] = [
                {
                    "type": "Ready",
                    "status": ready[0].get("status", "Unknown"),
                    "reason": ready[0].get("reason", ""),
                    "message": ready[0].get("message", ""),
                }
            ]
        nodes.append(twin)
    pods = []
    for pod in real.list("Pod"):
        spec = pod.get("spec") or {}
        if not spec.get("nodeName") or (pod.get("status") or {}).get("phase") not in _POD_PHASES:
            continue
        keep = {k: v for k, v in spec.items() if k not in ("serviceAccountName", "serviceAccount", "volumes")}
        for c in keep.get("containers", []) + keep.get("initContainers", []):
            c.pop("volumeMounts", None)
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod["metadata"]["name"],
                    "namespace": "default",
                    "labels": dict(pod["metadata"].get("labels") or {}),
                },
                "spec": keep,
            }
        )
    return nodes + pods


def detect(
    path: str | None = None, context: str | None = None, namespace: str | None = None, timeout: float = 3.0
) -> tuple[Any, str]:
    """``(RealCluster, "v1.36.2 at https://..., context ..., namespace ...")`` when a kubeconfig is
    given and its server answers ``/version`` within ``timeout`` seconds; ``(None, reason)``
    otherwise. Never raises.

    A cluster is used only when asked for: ``path`` defaults to ``$LABKIT_KUBECONFIG`` (not to
    ~/.kube/config, whose current context may be a production cluster), ``context`` to
    ``$LABKIT_CONTEXT`` and ``namespace`` to ``$LABKIT_NAMESPACE`` (else the context's namespace,
    else ``labkit-<user>``). The probe uses the short timeout; the cluster returned has the
    adapter's usual ones.
    """
    import os

    from labkit.real.cluster import RealCluster

    path = path or os.environ.get("LABKIT_KUBECONFIG")
    if not path:
        return None, "LABKIT_KUBECONFIG is not set"
    context = context or os.environ.get("LABKIT_CONTEXT") or None
    namespace = namespace or os.environ.get("LABKIT_NAMESPACE") or None
    try:
        probe = RealCluster.from_kubeconfig(
            path, context, namespace, connect_timeout=timeout, read_timeout=timeout
        )
        version = probe.version()
        probe.close()
        real = RealCluster.from_kubeconfig(path, context, namespace)
    except RealClusterError as e:
        return None, e.message
    return real, (
        f"{version or 'a Kubernetes API server'} at {real.server}, context {real.context!r}, "
        f"namespace {real.namespace!r}"
    )

"""Views of the API state as records and HTML: what nodes hold, for tables and the cluster's repr.

This sits below the ``Cluster`` facade (it reads through anything with ``list(kind)``), so the
facade's notebook display and the plots above it share one source without importing each other.
"""

from __future__ import annotations

import html
from typing import Any, Protocol

__all__ = ["PALETTE", "Reader", "cluster_html", "node_usage", "endpoint_rows"]

# Okabe-Ito, colour-blind safe.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


class Reader(Protocol):
    def list(self, kind: str) -> list[dict[str, Any]]: ...


def endpoint_rows(reader: Reader, service: str, namespace: str = "default") -> list[dict[str, Any]]:
    """The endpoints of a Service's EndpointSlices, one row each (``kubectl get endpointslices -o wide``
    spread out): slice, pod, address, node, zone, the three conditions, and the ports."""
    rows = []
    for s in reader.list("EndpointSlice"):
        meta = s["metadata"]
        if meta.get("namespace") != namespace or (meta.get("labels") or {}).get(
                "kubernetes.io/service-name") != service:
            continue
        ports = ", ".join((f"{p['name']}=" if p.get("name") else "")
                          + f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in s.get("ports") or [])
        for ep in s.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            rows.append({"slice": meta["name"], "pod": (ep.get("targetRef") or {}).get("name", ""),
                         "address": ", ".join(ep.get("addresses") or []), "node": ep.get("nodeName", ""),
                         "zone": ep.get("zone", ""), "ready": cond.get("ready"),
                         "serving": cond.get("serving"), "terminating": cond.get("terminating"),
                         "ports": ports})
    rows.sort(key=lambda r: (r["pod"], r["address"]))
    return rows


def node_usage(reader: Reader) -> list[dict[str, Any]]:
    """Per node: allocatable and requested cpu (millicores) and memory (bytes), and its pods.

    ``reader`` is anything with the API server's ``list(kind)``: a ``Cluster`` or its ``APIServer``.
    """
    from labkit.api.quantity import resource_amount
    from labkit.scheduler.podinfo import pod_requests

    pods_by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in reader.list("Pod"):
        node = pod["spec"].get("nodeName")
        if node:
            pods_by_node.setdefault(node, []).append(pod)
    out = []
    for node in reader.list("Node"):
        name = node["metadata"]["name"]
        alloc = (node.get("status") or {}).get("allocatable") or {}
        cpu = mem = 0
        for p in pods_by_node.get(name, []):
            r = pod_requests(p["spec"])
            cpu += r.get("cpu", 0)
            mem += r.get("memory", 0)
        out.append({
            "node": name,
            "zone": node["metadata"].get("labels", {}).get("topology.kubernetes.io/zone", ""),
            "instance_type": node["metadata"].get("labels", {}).get("node.kubernetes.io/instance-type", ""),
            "cpu_allocatable_m": resource_amount("cpu", alloc.get("cpu", 0)),
            "cpu_requested_m": cpu,
            "memory_allocatable_bytes": resource_amount("memory", alloc.get("memory", 0)),
            "memory_requested_bytes": mem,
            "pods": [p["metadata"]["name"] for p in pods_by_node.get(name, [])],
        })
    return out


def _bar(used: int, total: int, colour: str) -> str:
    pct = 0 if total <= 0 else min(100, round(100 * used / total))
    return (f"<div style='width:120px;background:#eee;display:inline-block'>"
            f"<div style='width:{pct}%;background:{colour};height:10px'></div></div> {pct}%")


def cluster_html(reader: Reader, seed: int, now: float) -> str:
    """Nodes with cpu/memory request bars and the pods on each (the cluster's notebook view)."""
    rows = []
    for u in node_usage(reader):
        pods = ", ".join(html.escape(p) for p in u["pods"][:8]) + (" …" if len(u["pods"]) > 8 else "")
        rows.append(
            f"<tr><td>{html.escape(u['node'])}</td><td>{html.escape(u['instance_type'])}</td>"
            f"<td>{html.escape(u['zone'])}</td>"
            f"<td>{_bar(u['cpu_requested_m'], u['cpu_allocatable_m'], PALETTE[0])}</td>"
            f"<td>{_bar(u['memory_requested_bytes'], u['memory_allocatable_bytes'], PALETTE[1])}</td>"
            f"<td>{len(u['pods'])}: {pods}</td></tr>")
    pending = [p["metadata"]["name"] for p in reader.list("Pod") if not p["spec"].get("nodeName")]
    foot = f"<p>Pending (unscheduled): {', '.join(html.escape(p) for p in pending)}</p>" if pending else ""
    return (f"<div><b>labkit.Cluster</b> seed={seed}, t={now:.3f} s"
            "<table><tr><th>node</th><th>type</th><th>zone</th><th>cpu requested</th>"
            f"<th>memory requested</th><th>pods</th></tr>{''.join(rows)}</table>{foot}</div>")

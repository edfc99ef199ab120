"""Figures and HTML views built on the public API only."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from labkit.cluster import Cluster

__all__ = ["cluster_html", "node_usage", "timeline_figure", "steps_figure"]

# Okabe-Ito, colour-blind safe.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def node_usage(cluster: Cluster) -> list[dict[str, Any]]:
    """Per node: allocatable and requested cpu (millicores) and memory (bytes), and its pods."""
    from labkit.api.quantity import resource_amount
    from labkit.scheduler.podinfo import pod_requests

    pods_by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in cluster.list("Pod"):
        node = pod["spec"].get("nodeName")
        if node:
            pods_by_node.setdefault(node, []).append(pod)
    out = []
    for node in cluster.list("Node"):
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


def cluster_html(cluster: Cluster) -> str:
    """Nodes with cpu/memory request bars and the pods on each (the cluster's notebook view)."""
    rows = []
    for u in node_usage(cluster):
        pods = ", ".join(html.escape(p) for p in u["pods"][:8]) + (" …" if len(u["pods"]) > 8 else "")
        rows.append(
            f"<tr><td>{html.escape(u['node'])}</td><td>{html.escape(u['instance_type'])}</td>"
            f"<td>{html.escape(u['zone'])}</td>"
            f"<td>{_bar(u['cpu_requested_m'], u['cpu_allocatable_m'], PALETTE[0])}</td>"
            f"<td>{_bar(u['memory_requested_bytes'], u['memory_allocatable_bytes'], PALETTE[1])}</td>"
            f"<td>{len(u['pods'])}: {pods}</td></tr>")
    pending = [p["metadata"]["name"] for p in cluster.list("Pod") if not p["spec"].get("nodeName")]
    foot = f"<p>Pending (unscheduled): {', '.join(html.escape(p) for p in pending)}</p>" if pending else ""
    return (f"<div><b>labkit.Cluster</b> seed={cluster.seed}, t={cluster.now:.3f} s"
            "<table><tr><th>node</th><th>type</th><th>zone</th><th>cpu requested</th>"
            f"<th>memory requested</th><th>pods</th></tr>{''.join(rows)}</table>{foot}</div>")


#: Marker shapes paired with :data:`PALETTE`, so a reason is told apart by shape as well as colour.
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "*"]
#: Vertical distance between the lanes of different reasons within one component's row.
LANE_OFFSET = 0.22


def timeline_figure(cluster: Cluster, involved: str | None = None, highlight: int | None = None) -> Figure:
    """Events and API writes over simulated time, one row per control-plane component.

    Built from :func:`labkit.timeline.steps`, so with :func:`labkit.timeline.record` attached
    the ``kube-apiserver`` row shows every stored write to a Pod; otherwise only Events.

    Parameters
    ----------
    cluster:
        The cluster whose timeline to draw.
    involved:
        Only steps about this object (``"my-nginx"`` or ``"Pod/my-nginx"``).
    highlight:
        Index of a step to mark with a cursor (clamped into range), as the timeline widget does.

    Returns
    -------
    matplotlib.figure.Figure
        A figure not registered with pyplot (nothing global changes; it is garbage-collected
        like any object). In a notebook, ``%matplotlib inline`` displays it as a cell's result.
    """
    from labkit.timeline import steps

    title = f"Control-plane timeline of {involved or 'all objects'} (seed {cluster.seed})"
    return steps_figure(steps(cluster, involved), title=title, highlight=highlight)


def steps_figure(timeline: list[Any], title: str = "Control-plane timeline",
                 highlight: int | None = None) -> Figure:
    """Draw a list of :class:`labkit.timeline.Step` (see :func:`timeline_figure`).

    Within a row, each reason gets its own lane (a small vertical offset), so that steps a few
    milliseconds apart — a pod stored, then bound — do not hide each other on a linear time axis.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from labkit.timeline import COMPONENT_ROWS

    fig = Figure(figsize=(8.5, 3.4), layout="constrained")
    ax = fig.subplots()
    present = {s.component for s in timeline}
    rows = [r for r in COMPONENT_ROWS if r in present] + sorted(present - set(COMPONENT_ROWS))
    reasons = list(dict.fromkeys(s.reason for s in timeline))  # first appearance: stable, seed-determined
    lanes: dict[tuple[str, str], float] = {}
    for i, row in enumerate(rows):
        in_row = list(dict.fromkeys(s.reason for s in timeline if s.component == row))
        for j, reason in enumerate(in_row):
            lanes[(row, reason)] = i + (j - (len(in_row) - 1) / 2) * LANE_OFFSET
    handles = []
    for k, reason in enumerate(reasons):
        style = {"marker": MARKERS[k % len(MARKERS)], "color": PALETTE[k % len(PALETTE)], "markersize": 8,
                 "markeredgecolor": "black", "markeredgewidth": 0.6, "linestyle": "none"}
        pts = [s for s in timeline if s.reason == reason]
        ax.plot([s.time for s in pts], [lanes[(s.component, s.reason)] for s in pts], **style)
        handles.append(Line2D([], [], label=reason, **style))
    if timeline and highlight is not None:
        step = timeline[min(max(int(highlight), 0), len(timeline) - 1)]
        ax.axvline(step.time, color="0.4", linewidth=1, linestyle="--", zorder=0)
        ax.plot([step.time], [lanes[(step.component, step.reason)]], marker="o", markersize=16,
                markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.5, linestyle="none")
        handles.append(Line2D([], [], color="0.4", linewidth=1, linestyle="--",
                              label=f"now: {step.time:.4f} s"))
    if not timeline:
        ax.text(0.5, 0.5, "nothing recorded yet", transform=ax.transAxes, ha="center", va="center",
                color="0.4")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)  # first row (the API server) on top
    end = max([0.0] + [s.time for s in timeline]) or 1.0
    ax.set_xlim(-0.04 * end, 1.04 * end)
    ax.grid(axis="x", color="0.9")
    ax.set_title(title)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("component")
    if handles:
        ax.legend(handles=handles, title="reason / watch type", loc="upper left", bbox_to_anchor=(1.01, 1),
                  frameon=False, fontsize="small")
    return fig

"""Figures and HTML views built on the public API only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from labkit.cluster import Cluster

from labkit.views import PALETTE, node_usage

__all__ = ["node_usage", "timeline_figure", "steps_figure", "utilization_heatmap",
           "PackingSample", "packing_sample", "samples_frame", "cpu_per_node_figure", "nodes_in_use_figure",
           "fragmentation_figure", "STATUS_STYLE", "load_per_pod_figure", "requests_over_time_figure",
           "autoscaling_figure", "autoscaling_changing", "autoscaling_static_key", "day_figure",
           "cost_figure", "day_latency_figure", "rollout_figure", "runtime_start_figure"]



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


# -- chapter 02: where requests sit -------------------------------------------------------------------
#: Outline colour of the what-if pod's node in the heatmap (Okabe-Ito vermillion).
OVERLAY_COLOUR = "#D55E00"
#: Line styles paired with :data:`PALETTE`, so strategies differ in print and for every reader.
LINESTYLES = ["-", "--", ":", "-."]


def _pct(used: int, total: int) -> float:
    return 0.0 if total <= 0 else 100.0 * used / total


def utilization_heatmap(cluster: Cluster, pod: Any = None) -> Figure:
    """Requested share of each node's allocatable cpu and memory, with an optional what-if pod.

    The scheduler reasons about *requests*, not measured usage, so this is the picture it
    sees. With ``pod`` (a Pod manifest as ``Cluster.explain`` takes it), the node the scheduler
    would choose is outlined and its cells read ``before → after``; nothing is applied.

    Parameters
    ----------
    cluster:
        The cluster to draw.
    pod:
        Optional Pod manifest (dict or YAML text) to place as a what-if.

    Returns
    -------
    matplotlib.figure.Figure
        Rows are nodes (in the cluster's node order), columns ``cpu`` and ``memory``; colour is
        the percentage of allocatable that pods request (cividis, a colour-blind-safe scale).
    """
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    from labkit.scheduler.podinfo import pod_requests

    usage = node_usage(cluster)
    before = np.array([[_pct(u["cpu_requested_m"], u["cpu_allocatable_m"]),
                        _pct(u["memory_requested_bytes"], u["memory_allocatable_bytes"])] for u in usage])
    before = before.reshape(len(usage), 2)
    after = before.copy()
    chosen_row = None
    verdict = ""
    if pod is not None:
        from labkit.manifests import load_documents

        decision = cluster.explain(pod)
        requests = pod_requests(load_documents(pod)[0].get("spec") or {})
        cpu, mem = requests.get("cpu", 0), requests.get("memory", 0)
        names = [u["node"] for u in usage]
        if decision.chosen in names:
            chosen_row = names.index(decision.chosen)
            u = usage[chosen_row]
            after[chosen_row] = [_pct(u["cpu_requested_m"] + cpu, u["cpu_allocatable_m"]),
                                 _pct(u["memory_requested_bytes"] + mem, u["memory_allocatable_bytes"])]
            verdict = f": what-if pod \u2192 {decision.chosen}"
        else:
            verdict = ": what-if pod fits on no node"
    n = len(usage)
    # Fixed geometry in inches, and node names drawn as plain text rather than tick labels: the
    # panel redraws this figure on every change, and layout solving and tick artists would take
    # most of its 100 ms budget. The left margin holds a node name (about 1.4 in) and, left of it,
    # the "node" label; the colour bar is never shorter than its own label (about 2 in), so with
    # few nodes it reaches below the cells rather than pushing its label into the title.
    width, left, cells, row, top, bottom = 5.85, 2.0, 2.4, 0.3, 0.55, 0.95 if chosen_row is not None else 0.6
    rows_h = row * max(n, 1)
    bar_h = max(rows_h, 2.1)
    height = top + max(rows_h + bottom, bar_h + 0.25)
    ax = (fig := Figure(figsize=(width, height))).add_axes(
        (left / width, (height - top - rows_h) / height, cells / width, rows_h / height))
    cax = fig.add_axes(((left + cells + 0.15) / width, (height - top - bar_h) / height, 0.12 / width,
                        bar_h / height))
    image = ax.imshow(after if n else np.zeros((1, 2)), cmap="cividis", vmin=0, vmax=100, aspect="auto")
    for i, u in enumerate(usage):
        ax.text(-0.58, i, u['node'], ha="right", va="center", fontsize="small")
        for j in range(2):
            text = f"{before[i, j]:.0f}%"
            if i == chosen_row:
                text = f"{before[i, j]:.0f} \u2192 {after[i, j]:.0f}%"
            ax.text(j, i, text, ha="center", va="center", fontsize="small",
                    color="black" if after[i, j] > 55 else "white")
    if not n:
        ax.text(0.5, 0.5, "no nodes", transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.set_xticks([0, 1], ["cpu", "memory"])
    ax.set_yticks([])
    ax.set_xlabel("resource")
    ax.set_ylabel("node", labelpad=1.55 * 72)  # left of the longest node name
    # Centred on the figure rather than on the cells, so a long node name fits; padded clear of
    # the colour bar's top tick label.
    ax.set_title(f"Requested share of allocatable per node{verdict}", fontsize="medium",
                 x=(width / 2 - left) / cells, pad=10)
    fig.colorbar(image, cax=cax, label="requested / allocatable (%)", ticks=[0, 25, 50, 75, 100])
    if chosen_row is not None:
        ax.add_patch(Rectangle((-0.5, chosen_row - 0.5), 2, 1, fill=False, edgecolor=OVERLAY_COLOUR,
                               linewidth=3))
        fig.legend(handles=[Patch(facecolor="none", edgecolor=OVERLAY_COLOUR, linewidth=2,
                                  label="chosen node, with the what-if pod")],
                   loc="lower center", bbox_to_anchor=((left + cells / 2) / width, 0.0), frameon=False,
                   fontsize="small")
    return fig


@dataclass(frozen=True)
class PackingSample:
    """How tightly a cluster's pods are packed at one moment (one flat record per sample).

    ``fragmented_cpu_m`` is the free cpu on nodes where a reference pod (``ref_cpu_m`` and
    ``ref_memory_bytes``, e.g. the largest pod of a workload) no longer fits: capacity that is
    there but that such a pod cannot use. Requests are counted, as the scheduler counts them.
    """

    time_s: float
    nodes: int
    nodes_in_use: int
    pods_bound: int
    cpu_allocatable_m: int
    cpu_requested_m: int
    fragmented_cpu_m: int
    ref_cpu_m: int
    ref_memory_bytes: int

    @property
    def free_cpu_m(self) -> int:
        return self.cpu_allocatable_m - self.cpu_requested_m

    @property
    def fragmentation_pct(self) -> float:
        """Percent of the free cpu that is fragmented (0 when no cpu is free)."""
        return 100 * self.fragmented_cpu_m / self.free_cpu_m if self.free_cpu_m > 0 else 0.0


def packing_sample(cluster: Cluster, ref_cpu: str = "2", ref_memory: str = "4Gi") -> PackingSample:
    """Measure the cluster now: nodes with at least one pod, cpu requested, fragmented free cpu.

    Parameters
    ----------
    cluster:
        The cluster to measure (pods bound to a node count, pending ones do not).
    ref_cpu, ref_memory:
        The reference pod for fragmentation, as quantities. A node's free cpu is fragmented
        when this pod no longer fits there (too little free cpu *or* memory); the node's pod
        limit is not considered.
    """
    from labkit.api.quantity import resource_amount

    ref_cpu_m = resource_amount("cpu", ref_cpu)
    ref_mem = resource_amount("memory", ref_memory)
    usage = node_usage(cluster)
    fragmented = 0
    for u in usage:
        free_cpu = u["cpu_allocatable_m"] - u["cpu_requested_m"]
        free_mem = u["memory_allocatable_bytes"] - u["memory_requested_bytes"]
        if free_cpu < ref_cpu_m or free_mem < ref_mem:
            fragmented += max(free_cpu, 0)
    return PackingSample(
        time_s=cluster.now, nodes=len(usage), nodes_in_use=sum(1 for u in usage if u["pods"]),
        pods_bound=sum(len(u["pods"]) for u in usage),
        cpu_allocatable_m=sum(u["cpu_allocatable_m"] for u in usage),
        cpu_requested_m=sum(u["cpu_requested_m"] for u in usage),
        fragmented_cpu_m=fragmented, ref_cpu_m=ref_cpu_m, ref_memory_bytes=ref_mem)


def samples_frame(runs: dict[str, list[PackingSample]]) -> pd.DataFrame:
    """Samples of several runs as one DataFrame (a ``run`` column, then the record's fields)."""
    import dataclasses

    import pandas as pd

    rows = [{"run": name, **dataclasses.asdict(s), "fragmentation_pct": s.fragmentation_pct}
            for name, samples in runs.items() for s in samples]
    columns = ["run", *(f.name for f in dataclasses.fields(PackingSample)), "fragmentation_pct"]
    return pd.DataFrame(rows, columns=columns)


def cpu_per_node_figure(clusters: dict[str, Cluster]) -> Figure:
    """CPU requested on each node, nodes sorted fullest first, one bar colour per cluster.

    Sorting shows the *shape* of the placement: spreading gives every node a similar share,
    bin-packing a few full nodes and some empty ones.
    """
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / max(len(clusters), 1)
    most = 0
    for k, (name, cluster) in enumerate(clusters.items()):
        shares = sorted((_pct(u["cpu_requested_m"], u["cpu_allocatable_m"]) for u in node_usage(cluster)),
                        reverse=True)
        most = max(most, len(shares))
        x = np.arange(len(shares)) + (k - (len(clusters) - 1) / 2) * width
        ax.bar(x, shares, width=width, color=PALETTE[k % len(PALETTE)], edgecolor="black", linewidth=0.5,
               label=name, hatch=["", "//", "..", "xx"][k % 4])
    ax.set_xticks(range(most), [str(i + 1) for i in range(most)])
    ax.set_ylim(0, 100)
    ax.set_xlabel("node, fullest first (rank)")
    ax.set_ylabel("cpu requested / allocatable (%)")
    ax.set_title("CPU requested per node at the end of the run")
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    if clusters:
        ax.legend(title="NodeResourcesFit strategy", frameon=False)
    return fig


def _series_figure(runs: dict[str, list[PackingSample]], value, title: str, ylabel: str) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = fig.subplots()
    for k, (name, samples) in enumerate(runs.items()):
        ax.step([s.time_s for s in samples], [value(s) for s in samples], where="post", label=name,
                color=PALETTE[k % len(PALETTE)], linestyle=LINESTYLES[k % len(LINESTYLES)], linewidth=2)
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(color="0.9")
    return fig


def nodes_in_use_figure(runs: dict[str, list[PackingSample]]) -> Figure:
    """Nodes holding at least one pod over time, one line per run, with the cluster size for scale.

    A node with no pod is the one a cluster autoscaler can remove (an ECS instance less to pay for).
    """
    fig = _series_figure(runs, lambda s: s.nodes_in_use, "Nodes in use (holding at least one pod)",
                         "nodes with \u2265 1 pod")
    ax = fig.axes[0]
    size = max((s.nodes for samples in runs.values() for s in samples), default=0)
    if size:
        ax.axhline(size, color="0.3", linewidth=1, linestyle=(0, (1, 3)),
                   label=f"cluster size ({size} nodes)")
        ax.set_ylim(0, size + 1)
    if runs:
        ax.legend(title="NodeResourcesFit strategy", frameon=False, loc="lower right")
    return fig


def fragmentation_figure(runs: dict[str, list[PackingSample]]) -> Figure:
    """Share of free cpu that sits on nodes where the reference pod no longer fits, over time."""
    ref = next((s for samples in runs.values() for s in samples), None)
    what = "" if ref is None else (f" (reference pod: {ref.ref_cpu_m / 1000:g} vCPU, "
                                   f"{ref.ref_memory_bytes / 1024**3:g} GiB)")
    fig = _series_figure(runs, lambda s: s.fragmentation_pct, f"Fragmented free CPU{what}",
                         "free cpu where it no longer fits (%)")
    ax = fig.axes[0]
    ax.set_ylim(0, 105)
    if runs:
        ax.legend(title="NodeResourcesFit strategy", frameon=False)
    return fig


# -- chapter 03: traffic through a Service ---------------------------------------------------------------
#: One colour per request outcome (Okabe-Ito): answered in blue, the three failures in warm colours
#: and purple, each with its own hatch so that they differ in print too.
STATUS_STYLE = {
    "ok": (PALETTE[0], ""),
    "refused": (PALETTE[5], "//"),
    "reset": (PALETTE[1], ".."),
    "timeout": (PALETTE[3], "xx"),
}


def load_per_pod_figure(by_pod: pd.DataFrame, title: str = "", slow: tuple[str, ...] = ()) -> Figure:
    """Each pod's share of the requests and its p99 latency, side by side (``Traffic.by_pod()``).

    Parameters
    ----------
    by_pod:
        ``Traffic.by_pod()``: one row per pod with ``pod``, ``requests``, ``share`` (0..1) and
        ``p99_s`` (seconds, of the answered requests).
    title:
        What was measured (for example ``"ipvs lc, 3 replicas + a slow pod"``).
    slow:
        Pods to mark as slow (drawn hatched, in another colour, and named so in the legend).

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: requests per pod (% of all) and p99 latency per pod (ms), pods in the same order.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(7.5, 3.0))
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.2, top=0.8, wspace=0.32)
    share_ax, p99_ax = fig.subplots(1, 2)
    pods = [str(p) for p in by_pod["pod"]] if len(by_pod) else []
    labels = [_short_pod(p) for p in pods]
    x = list(range(len(pods)))
    colours = [PALETTE[1] if p in slow else PALETTE[0] for p in pods]
    hatches = ["//" if p in slow else "" for p in pods]
    share = [100 * float(s) for s in by_pod["share"]] if len(by_pod) else []
    p99 = [1000 * float(v) if v == v else 0.0 for v in by_pod["p99_s"]] if len(by_pod) else []
    for ax, values, ylabel, fmt in ((share_ax, share, "share of requests (%)", "{:.0f}%"),
                                    (p99_ax, p99, "p99 latency (ms)", "{:.0f}")):
        bars = ax.bar(x, values, color=colours, edgecolor="black", linewidth=0.5)
        for bar, hatch in zip(bars, hatches):
            bar.set_hatch(hatch)
        for xi, v in zip(x, values):
            ax.text(xi, v, fmt.format(v), ha="center", va="bottom", fontsize="small")
        ax.set_xticks(x, labels, fontsize="small")
        ax.set_xlabel("pod (name suffix)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, max(values, default=1) * 1.2 or 1)
        ax.grid(axis="y", color="0.9")
        ax.set_axisbelow(True)
    share_ax.set_title("Requests per pod", fontsize="medium")
    p99_ax.set_title("p99 latency per pod", fontsize="medium")
    handles = [Patch(facecolor=PALETTE[0], edgecolor="black", linewidth=0.5, label="Deployment pod")]
    if any(p in slow for p in pods):
        handles.append(Patch(facecolor=PALETTE[1], edgecolor="black", linewidth=0.5, hatch="//",
                             label="slow pod (5x the service time)"))
    fig.legend(handles=handles, loc="upper right", ncols=2, frameon=False, fontsize="small",
               bbox_to_anchor=(0.98, 0.99))
    fig.suptitle(title or "Load per pod", x=0.02, y=0.97, ha="left", fontsize="medium")
    return fig


def _short_pod(name: str) -> str:
    """``my-nginx-65bc5cfc77-cjtdq`` -> ``cjtdq``; ``my-nginx-slow`` -> ``slow``: the part that differs."""
    return name.rsplit("-", 1)[-1]


def requests_over_time_figure(over_time: pd.DataFrame, title: str = "", event_s: float | None = None,
                              event: str = "", start_s: float = 0.0) -> Figure:
    """Requests per second by outcome, stacked (``Traffic.over_time(1)``), with the moment of a change.

    Parameters
    ----------
    over_time:
        ``Traffic.over_time(bin_s)``: ``t_s`` and one count column per status (``ok``, ``refused``,
        ``reset``, ``timeout``).
    title:
        What happened (``"rolling update, no preStop"``).
    event_s, event:
        When the change was made (same time axis) and what it was, drawn as a dotted line.
    start_s:
        When the traffic started, on the clock of ``t_s`` (``Traffic.over_time`` counts simulated
        seconds since the cluster was created); the axis shows ``t_s - start_s``.

    Returns
    -------
    matplotlib.figure.Figure
        Stacked bars per time bin: answered requests at the bottom, then each kind of failure.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.0))
    fig.subplots_adjust(left=0.09, right=0.75, bottom=0.16, top=0.88)
    ax = fig.subplots()
    if len(over_time):
        import numpy as np

        t = np.asarray(over_time["t_s"], dtype=float) - start_s
        width = float(t[1] - t[0]) if len(t) > 1 else 1.0
        edges = np.append(t, t[-1] + width)  # each bin drawn as a step from its start to its end
        bottom = np.zeros(len(edges))
        for status, (colour, hatch) in STATUS_STYLE.items():
            counts = np.asarray(over_time[status], dtype=float) if status in over_time else np.zeros(len(t))
            top = bottom + np.append(counts, counts[-1]) / width
            # one polygon per outcome (a bar per bin would be hundreds of patches to draw)
            ax.fill_between(edges, bottom, top, step="post", facecolor=colour, hatch=hatch or None,
                            edgecolor="white" if hatch else colour, linewidth=0,
                            label=f"{status} ({counts.sum():,.0f})")
            bottom = top
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0, float(bottom.max()) * 1.15 or 1)
    if event_s is not None:
        ax.axvline(event_s - start_s, color="black", linestyle=":", linewidth=1.5, label=event or "change")
    ax.set_xlabel("time since the traffic started (s)")
    ax.set_ylabel("requests per second")
    ax.set_title(title or "Requests per second by outcome", fontsize="medium")
    ax.legend(title="outcome (count)", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              fontsize="small", title_fontsize="small")
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    return fig


# -- chapter 04: autoscaling --------------------------------------------------------------------------------
def _load_and_replicas(ax: Any, t: Any, frame: pd.DataFrame, max_replicas: int | None) -> None:
    """Offered load as a grey area (left axis) and the Deployment's replicas as steps (right axis)."""
    ax.fill_between(t, frame["rate_rps"], step="post", color="0.85", label="offered load (requests/s)")
    ax.set_ylabel("requests/s")
    ax.set_ylim(0, max(float(frame["rate_rps"].max()), 1.0) * 1.15)
    right = ax.twinx()
    right.step(t, frame["replicas"], where="post", color=PALETTE[0], linewidth=2, label="replicas (spec)")
    right.step(t, frame["ready"], where="post", color=PALETTE[1], linewidth=1.5, linestyle="--",
               label="ready pods")
    top = max(int(frame["replicas"].max()), max_replicas or 0, 1)
    if max_replicas:
        right.axhline(max_replicas, color="0.4", linewidth=1, linestyle=(0, (1, 3)),
                      label=f"maxReplicas ({max_replicas})")
    right.set_ylim(0, top * 1.2)
    right.set_ylabel("pods")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.09, 1.0), frameon=False,
              fontsize="small")


def autoscaling_figure(frame: pd.DataFrame, target: int, slo_ms: float = 100.0, title: str = "",
                       max_replicas: int | None = None, dpi: float | None = None) -> Figure:
    """One run of the HPA over time: load and replicas, CPU utilization against the target, p95
    latency against the SLO (a :class:`labkit.widgets.autoscaling.Timeline` frame).

    Parameters
    ----------
    frame:
        ``t_s``, ``rate_rps``, ``replicas``, ``ready``, ``utilization_pct`` and ``p95_ms`` per sample.
    target:
        The HPA's target utilization (%), drawn with its tolerance band (±10% of the target).
    slo_ms:
        The latency objective for p95 (ms), a dotted line.
    title, max_replicas:
        What was run; ``maxReplicas`` as a dotted line on the replicas axis.
    dpi:
        Resolution (None: matplotlib's default); the panel draws at 90 to stay quick.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes over one time axis in minutes.
    """
    import matplotlib as mpl
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.2, 5.6), dpi=dpi)
    fig.subplots_adjust(left=0.09, right=0.68, bottom=0.09, top=0.91, hspace=0.28)
    load_ax, util_ax, lat_ax = fig.subplots(3, 1, sharex=True)
    t = np.asarray(frame["t_s"], dtype=float) / 60
    _load_and_replicas(load_ax, t, frame, max_replicas)
    load_ax.set_title("Load and replicas", fontsize="medium", loc="left", y=1.0)

    util = np.asarray(frame["utilization_pct"].astype("float64"), dtype=float)
    util_ax.axhspan(target * 0.9, target * 1.1, color=PALETTE[2], alpha=0.15, linewidth=0,
                    label="tolerance (\u00b110%)")
    util_ax.axhline(target, color=PALETTE[2], linestyle="--", linewidth=1.5, label=f"target ({target}%)")
    util_ax.step(t, util, where="post", color=PALETTE[0], linewidth=2, label="what the HPA saw")
    util_ax.set_ylabel("CPU / request (%)")
    util_ax.set_ylim(0, max(np.nanmax(util) if np.isfinite(util).any() else 0, target * 1.2) * 1.1)
    util_ax.set_title("CPU utilization (average over the pods, of their requests)", fontsize="medium",
                      loc="left", y=1.0)
    util_ax.legend(loc="upper left", bbox_to_anchor=(1.09, 1.0), frameon=False, fontsize="small")

    p95 = np.asarray(frame["p95_ms"], dtype=float)
    lat_ax.step(t, p95, where="post", color=PALETTE[5], linewidth=2, label="p95 latency")
    lat_ax.axhline(slo_ms, color="black", linestyle=":", linewidth=1.5, label=f"SLO ({slo_ms:g} ms)")
    over = np.where(p95 > slo_ms, p95, np.nan)
    lat_ax.fill_between(t, slo_ms, over, step="post", color=PALETTE[5], alpha=0.25, linewidth=0,
                        label="over the SLO")
    lat_ax.set_yscale("log")
    finite = p95[np.isfinite(p95)]
    lat_ax.set_ylim(10, max(float(finite.max()) if len(finite) else 0, slo_ms) * 2)
    lat_ax.set_ylabel("p95 (ms, log)")
    lat_ax.set_title("p95 latency of the requests sent in each 15 s", fontsize="medium", loc="left", y=1.0)
    lat_ax.legend(loc="upper left", bbox_to_anchor=(1.09, 1.0), frameon=False, fontsize="small")
    lat_ax.set_xlabel("time since the traffic started (min)")
    for ax in (load_ax, util_ax, lat_ax):
        ax.set_xlim(0, float(t[-1]) if len(t) else 1)
    for ax in (load_ax, util_ax):
        ax.grid(axis="x", color="0.9")
    # The latency panel's x grid as plain lines, the same pixels as ax.grid's: they are drawn over
    # the area over the SLO, so the panel's Blitter redraws them with it (autoscaling_changing).
    lo, hi = lat_ax.get_xlim()
    for x in lat_ax.get_xticks():
        if lo <= x <= hi:
            lat_ax.axvline(x, color="0.9", linewidth=mpl.rcParams["grid.linewidth"], zorder=1.5, gid="x-grid")
    fig.suptitle(title or "The HPA at work", x=0.02, y=0.985, ha="left", fontsize="medium")
    return fig


def autoscaling_changing(fig: Figure) -> list[Any]:
    """The artists of an :func:`autoscaling_figure` that one run's data or title decides, in drawing order.

    With a :class:`labkit.widgets._panel.Blitter` keyed by :func:`autoscaling_static_key`, the
    panel draws only these over the rest (the static part: axes, ticks, legends, the load, the
    target band). Besides the data (replicas and ready pods, the utilization the HPA saw, p95 and
    its area over the SLO) and the title, they include what a full draw puts on top of the data:
    the maxReplicas and SLO lines, the spines and, in the latency panel, the x gridlines (drawn
    over the area over the SLO), so that the pixels are a full draw's.
    """
    load_ax, util_ax, lat_ax, right = fig.axes
    out: list[Any] = [util_ax.lines[-1], *util_ax.spines.values()]
    grid = [a for a in lat_ax.lines if a.get_gid() == "x-grid"]
    lines = [a for a in lat_ax.lines if a.get_gid() != "x-grid"]  # p95, then the SLO line
    out += [lat_ax.collections[-1], *grid, *lines, *lat_ax.spines.values()]
    out += [*right.lines, *right.spines.values()]
    return out + [fig._suptitle]


def autoscaling_static_key(fig: Figure, pattern: str) -> tuple[Any, ...]:
    """What the static part of an :func:`autoscaling_figure` depends on: the load (``pattern``),
    the axes' limits and the legends' texts (the target, maxReplicas)."""
    legends = tuple(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
    return (pattern, tuple((ax.get_xlim(), ax.get_ylim()) for ax in fig.axes), legends)


def day_figure(frame: pd.DataFrame, title: str = "", max_replicas: int | None = None) -> Figure:
    """A day with the HPA and the cluster autoscaler: load and replicas, pending pods, nodes.

    ``frame`` as for :func:`autoscaling_figure`, with ``pending`` and ``nodes``; the time axis is in
    hours of the day.
    """
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.2, 5.2))
    fig.subplots_adjust(left=0.09, right=0.68, bottom=0.1, top=0.9, hspace=0.32)
    load_ax, pend_ax, node_ax = fig.subplots(3, 1, sharex=True)
    t = np.asarray(frame["t_s"], dtype=float) / 3600
    _load_and_replicas(load_ax, t, frame, max_replicas)
    load_ax.set_title("Load and replicas (the HPA)", fontsize="medium", loc="left", y=1.0)
    pend_ax.step(t, frame["pending"], where="post", color=PALETTE[5], linewidth=2,
                 label="pending pods (no node yet)")
    pend_ax.set_ylabel("pods")
    pend_ax.set_ylim(0, max(int(frame["pending"].max()), 1) * 1.3)
    pend_ax.set_title("Pods waiting for a node", fontsize="medium", loc="left", y=1.0)
    pend_ax.legend(loc="upper left", bbox_to_anchor=(1.09, 1.0), frameon=False, fontsize="small")
    node_ax.step(t, frame["nodes"], where="post", color=PALETTE[2], linewidth=2, label="Ready nodes")
    node_ax.set_ylabel("nodes")
    node_ax.set_ylim(0, max(int(frame["nodes"].max()), 1) + 1)
    node_ax.set_title("Nodes (the cluster autoscaler)", fontsize="medium", loc="left", y=1.0)
    node_ax.legend(loc="upper left", bbox_to_anchor=(1.09, 1.0), frameon=False, fontsize="small")
    node_ax.set_xlabel("time of day (h)")
    node_ax.set_xticks(range(0, 25, 3))
    for ax in (load_ax, pend_ax, node_ax):
        ax.grid(axis="x", color="0.9")
        ax.set_xlim(0, 24)
    fig.suptitle(title or "A day of traffic", x=0.02, y=0.985, ha="left", fontsize="medium")
    return fig


def day_latency_figure(frames: dict[str, pd.DataFrame], slo_ms: float | None = None,
                       title: str = "The same day, two ways") -> Figure:
    """Days side by side (``{label: frame}``, frames as for :func:`day_figure`): the p95 latency per
    sample interval on top (hourly medians as thick lines over the per-interval values), the
    replicas below; the time axis in hours of the day."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.2, 4.6))
    fig.subplots_adjust(left=0.09, right=0.7, bottom=0.12, top=0.88, hspace=0.35)
    lat_ax, rep_ax = fig.subplots(2, 1, sharex=True)
    top = 0.0
    for k, (label, frame) in enumerate(frames.items()):
        colour = PALETTE[k % len(PALETTE)]
        t = np.asarray(frame["t_s"], dtype=float) / 3600
        p95 = np.asarray(frame["p95_ms"], dtype=float)
        lat_ax.plot(t, p95, color=colour, linewidth=0.6, alpha=0.35)
        hour = np.floor(t - 1e-9).astype(int)
        hours = np.unique(hour[~np.isnan(p95)])
        med = [float(np.nanmedian(p95[hour == h])) for h in hours]
        lat_ax.plot(hours + 0.5, med, color=colour, linewidth=2.2, marker="o", markersize=3,
                    label=f"{label}: p95, hourly median")
        rep_ax.step(t, frame["replicas"], where="post", color=colour, linewidth=1.8,
                    label=f"{label}: replicas")
        finite = p95[np.isfinite(p95)]
        if len(finite):
            top = max(top, float(np.percentile(finite, 99.5)))
    if slo_ms is not None:
        lat_ax.axhline(slo_ms, color="0.3", linewidth=1, linestyle="--", label=f"SLO ({slo_ms:g} ms)")
        top = max(top, slo_ms)
    lat_ax.set_ylim(0, top * 1.15 if top else 1)
    lat_ax.set_ylabel("ms")
    lat_ax.set_title("p95 latency of the answered requests", fontsize="medium", loc="left", y=1.0)
    rep_ax.set_ylabel("pods")
    rep_ax.set_title("Replicas (the HPA)", fontsize="medium", loc="left", y=1.0)
    rep_ax.set_xlabel("time of day (h)")
    rep_ax.set_xticks(range(0, 25, 3))
    for ax in (lat_ax, rep_ax):
        ax.grid(axis="x", color="0.9")
        ax.set_xlim(0, 24)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize="small")
    fig.suptitle(title, x=0.02, y=0.985, ha="left", fontsize="medium")
    return fig


def cost_figure(costs: dict[str, float], title: str = "Cost of one day") -> Figure:
    """One bar per way of running the day (CNY per day), each labelled with its value."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 2.4))
    fig.subplots_adjust(left=0.33, right=0.93, bottom=0.24, top=0.84)
    ax = fig.subplots()
    names = list(costs)
    values = [float(costs[n]) for n in names]
    bars = ax.barh(range(len(names)), values, color=[PALETTE[k % len(PALETTE)] for k in range(len(names))],
                   edgecolor="black", linewidth=0.5)
    for bar, hatch in zip(bars, ["", "//", "..", "xx"]):
        bar.set_hatch(hatch)
    for k, v in enumerate(values):
        ax.text(v, k, f" {v:.1f}", va="center", fontsize="small")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, max(values, default=1) * 1.2 or 1)
    ax.set_xlabel("cost per day (CNY, illustrative prices)")
    ax.set_title(title, fontsize="medium")
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    return fig


def rollout_figure(frame: pd.DataFrame, title: str = "Rollout time by image size") -> Figure:
    """Seconds until the last pod of a rollout started (bars), per base image (groups, labelled with the
    image's size) and per number of nodes that already held the base (colours). ``frame`` has the
    columns ``base``, ``image_MB``, ``warm_nodes`` and ``last_start_s``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.2, 3.0))
    fig.subplots_adjust(left=0.09, right=0.72, bottom=0.2, top=0.86)
    ax = fig.subplots()
    bases = list(dict.fromkeys(frame["base"]))
    warms = sorted(set(frame["warm_nodes"]))
    width = 0.8 / max(1, len(warms))
    for k, warm in enumerate(warms):
        rows = frame[frame["warm_nodes"] == warm].set_index("base")
        xs = [i - 0.4 + width * (k + 0.5) for i in range(len(bases))]
        ys = [float(rows.loc[b, "last_start_s"]) if b in rows.index else 0.0 for b in bases]
        bars = ax.bar(xs, ys, width * 0.92, color=PALETTE[k % len(PALETTE)], edgecolor="black", linewidth=0.4,
                      label=f"{warm} nodes already hold the base")
        ax.bar_label(bars, fmt="%.1f", fontsize="x-small", padding=1)
    sizes = frame.drop_duplicates("base").set_index("base")["image_MB"]
    ax.set_xticks(range(len(bases)), [f"{b}\n{sizes[b]:.0f} MB" for b in bases])
    ax.set_ylabel("last pod started (s)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize="small")
    ax.set_title(title, fontsize="medium", loc="left")
    ax.grid(axis="y", color="0.9")
    return fig


def runtime_start_figure(frame: pd.DataFrame, published: dict[str, tuple[float, float]] | None = None,
                         title: str = "Pod start by runtime") -> Figure:
    """Seconds from Scheduled to Started per pod (dots), one row per runtime, with the published
    range of the runtime's sandbox start where there is one (a bar). ``frame``: ``runtime``,
    ``start_s``; ``published``: runtime -> (low, high) seconds."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 2.6))
    fig.subplots_adjust(left=0.12, right=0.72, bottom=0.2, top=0.85)
    ax = fig.subplots()
    names = list(dict.fromkeys(frame["runtime"]))
    rng = np.random.default_rng(0)  # a fixed vertical jitter, so dots do not hide one another
    for i, name in enumerate(names):
        xs = frame.loc[frame["runtime"] == name, "start_s"].to_numpy(dtype=float)
        ax.scatter(xs, i + rng.uniform(-0.15, 0.15, len(xs)), s=18, color=PALETTE[i % len(PALETTE)],
                   edgecolor="black", linewidth=0.3, label=f"{name}: simulated pods", zorder=3)
        if published and name in published:
            lo, hi = published[name]
            ax.plot([lo, hi], [i + 0.32, i + 0.32], color=PALETTE[i % len(PALETTE)], linewidth=4, alpha=0.5,
                    solid_capstyle="butt", label=f"{name}: published sandbox start")
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(-0.6, len(names) - 0.2)
    ax.set_xlim(left=0)
    ax.set_xlabel("seconds from Scheduled to Started (image already on the node)")
    ax.grid(axis="x", color="0.9")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize="x-small")
    ax.set_title(title, fontsize="medium", loc="left")
    return fig

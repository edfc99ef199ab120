"""Chapter 02's panel: change a small ACK cluster and a pod, and see where kube-scheduler puts it.

Three plain, tested functions do the work and the widget only wires controls to them:

* :func:`playground_cluster` builds a cluster from node pools (:class:`Pool`) and places a few
  background pods on it (rebuilt only when a pool control changes);
* :func:`pod_manifest` turns the pod controls (:class:`WhatIfPod`) into a real ``v1 Pod``;
* :func:`place` asks the cluster where that pod would go (``Cluster.explain`` on a manifest, a
  what-if that applies nothing), so moving a pod control costs one scheduling cycle, not a run;
* :func:`pods_per_zone` counts the ``app=web`` pods in each zone, the numbers a zone spread
  constraint compares.

Every control accepts any value: numbers are clamped, and text that Kubernetes would refuse
shows the :class:`labkit.ManifestError` message instead of raising.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from labkit.errors import ManifestError
from labkit.widgets._panel import Blitter, clamp, panel

if TYPE_CHECKING:
    import ipywidgets

    from labkit.cluster import Cluster
    from labkit.scheduler.explain import Explanation

__all__ = [
    "Pool", "WhatIfPod", "Placement", "DEFAULT_POOLS", "INSTANCE_TYPES", "ZONES", "MAX_POOL_NODES",
    "MAX_ZONE_SKEW", "parse_taint", "parse_toleration", "parse_label", "playground_cluster", "pod_manifest",
    "place", "pods_per_zone", "zones_html", "scheduling_playground",
]

ZONES = ("cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j")
#: ECS types offered in the panel's drop-downs: general (g7, 1:4), compute (c7, 1:2), memory (r7, 1:8).
INSTANCE_TYPES = ("ecs.g7.large", "ecs.g7.xlarge", "ecs.g7.2xlarge", "ecs.c7.xlarge", "ecs.c7.2xlarge",
                  "ecs.r7.large", "ecs.r7.xlarge")
#: Node-count sliders run from 0 to this, so three pools stay a cluster one can read at a glance.
MAX_POOL_NODES = 6
#: Largest ``maxSkew`` offered for the zone spread constraint (0 turns the constraint off).
MAX_ZONE_SKEW = 5
ZONE_KEY = "topology.kubernetes.io/zone"
#: Label shared by the background pods and the what-if pod, so that a zone spread constraint
#: selecting ``app=web`` has pods to count.
APP_LABEL = ("app", "web")
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# kubectl taint syntax: key[=value]:Effect (k8s.io/kubectl/pkg/cmd/taint, ParseTaints).
_TAINT = re.compile(r"^(?P<key>[^=:\s]+)(?:=(?P<value>[^:\s]*))?:(?P<effect>[^:\s]+)$")
_TOLERATION = re.compile(r"^(?P<key>[^=:\s]+)(?:=(?P<value>[^:\s]*))?(?::(?P<effect>[^:\s]+))?$")
_LABEL = re.compile(r"^(?P<key>[^=\s]+)=(?P<value>[^=\s]*)$")
#: Background pods placed on every playground cluster (cpu, memory), cycled.
_BACKGROUND_SIZES = (("250m", "512Mi"), ("500m", "1Gi"), ("1", "2Gi"))


@dataclass(frozen=True)
class Pool:
    """One ACK node pool of the playground: ``count`` ECS nodes of one type, round-robin over :data:`ZONES`.

    ``taint`` uses ``kubectl taint`` syntax (``key[=value]:Effect``) and ``label`` is ``key=value``;
    an empty string means none.
    """

    name: str
    instance_type: str = "ecs.g7.xlarge"
    count: int = 2
    taint: str = ""
    label: str = ""


#: The chapter's three pools: general purpose, a tainted batch pool, a labelled memory pool.
DEFAULT_POOLS = (
    Pool("general", "ecs.g7.xlarge", 3),
    Pool("batch", "ecs.c7.2xlarge", 2, taint="workload=batch:NoSchedule", label="workload=batch"),
    Pool("memory", "ecs.r7.xlarge", 2, label="workload=memory"),
)


@dataclass(frozen=True)
class WhatIfPod:
    """The pod the playground places: requests, one toleration, one node affinity, a zone spread.

    Attributes
    ----------
    cpu, memory:
        Requests as Kubernetes quantities (``"500m"``, ``"1Gi"``).
    toleration:
        ``key[=value][:Effect]``: with a value the operator is ``Equal``, without one ``Exists``;
        without an effect it tolerates every effect. Empty: none.
    affinity:
        A node label ``key=value`` for node affinity; empty: none.
    affinity_mode:
        ``"required"`` (``requiredDuringSchedulingIgnoredDuringExecution``, a filter) or
        ``"preferred"`` (``preferredDuringSchedulingIgnoredDuringExecution``, a score); anything
        else ignores ``affinity``.
    zone_max_skew:
        ``maxSkew`` of a ``DoNotSchedule`` spread constraint over zones for pods labelled
        ``app=web`` (clamped to 0..:data:`MAX_ZONE_SKEW`; 0 means no constraint).
    """

    cpu: str = "500m"
    memory: str = "1Gi"
    toleration: str = ""
    affinity: str = ""
    affinity_mode: str = "required"
    zone_max_skew: int = 0


def parse_taint(text: str, path: str = "spec.taints[0]") -> dict[str, str] | None:
    """A ``v1 Taint`` from ``kubectl taint`` syntax ``key[=value]:Effect``; None for empty text.

    Raises
    ------
    ManifestError
        When the text has no effect or an unknown one.
    """
    text = (text or "").strip()
    if not text:
        return None
    m = _TAINT.match(text)
    if m is None or m["effect"] not in _EFFECTS:
        raise ManifestError(path, text, "expected key[=value]:Effect with Effect one of "
                            f"{', '.join(_EFFECTS)}, e.g. workload=batch:NoSchedule")
    taint = {"key": m["key"], "effect": m["effect"]}
    if m["value"]:
        taint["value"] = m["value"]
    return taint


def parse_toleration(text: str, path: str = "spec.tolerations[0]") -> dict[str, str] | None:
    """A ``v1 Toleration`` from ``key[=value][:Effect]``; None for empty text.

    With a value the operator is ``Equal``; without one it is ``Exists`` (any value of the key).
    Without an effect the toleration matches every effect of that key
    (``k8s.io/api/core/v1/toleration.go``, ``ToleratesTaint``).
    """
    text = (text or "").strip()
    if not text:
        return None
    m = _TOLERATION.match(text)
    if m is None or (m["effect"] is not None and m["effect"] not in _EFFECTS):
        raise ManifestError(path, text, "expected key[=value][:Effect] with Effect one of "
                            f"{', '.join(_EFFECTS)}, e.g. workload=batch:NoSchedule")
    tol = {"key": m["key"], "operator": "Equal" if m["value"] is not None else "Exists"}
    if m["value"] is not None:
        tol["value"] = m["value"]
    if m["effect"]:
        tol["effect"] = m["effect"]
    return tol


def parse_label(text: str, path: str = "metadata.labels") -> dict[str, str]:
    """``{key: value}`` from ``key=value``; ``{}`` for empty text (the key is checked on apply)."""
    text = (text or "").strip()
    if not text:
        return {}
    m = _LABEL.match(text)
    if m is None:
        raise ManifestError(path, text, "expected one label as key=value, e.g. workload=memory")
    return {m["key"]: m["value"]}



def playground_cluster(pools: tuple[Pool, ...] | list[Pool] = DEFAULT_POOLS, background: int = 8,
                       seed: int = 0) -> Cluster:
    """A cluster of the given pools with ``background`` small ``app=web`` pods already placed.

    The pods are scheduled by the default profile (``Cluster.run``); kubelets are off, since
    only placement matters here and it keeps a rebuild to a few milliseconds.

    Parameters
    ----------
    pools:
        Node pools; counts are clamped to 0..:data:`MAX_POOL_NODES`.
    background:
        How many background pods to place (clamped to 0..60), sized 250m/512Mi, 500m/1Gi and
        1/2Gi in turn.
    seed:
        The cluster's seed, which fixes its random choices. Ties between equal nodes do not
        depend on it: the pick is the root of kube-scheduler's heap (see ``heap_root``).

    Raises
    ------
    ManifestError
        For an unknown instance type, or a taint or label that Kubernetes would refuse.
    """
    import labkit

    c = labkit.Cluster(seed=seed, kubelets=False)
    for i, pool in enumerate(pools):
        taint = parse_taint(pool.taint, f"pools[{i}].taint")
        c.add_node_pool(pool.name, pool.instance_type, clamp(pool.count, 0, MAX_POOL_NODES), list(ZONES),
                        labels=parse_label(pool.label, f"pools[{i}].label") or None,
                        taints=[taint] if taint else None)
    pods = []
    for k in range(clamp(background, 0, 60)):
        cpu, memory = _BACKGROUND_SIZES[k % len(_BACKGROUND_SIZES)]
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"web-{k + 1}", "labels": dict([APP_LABEL])},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                              "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}})
    if pods:
        c.apply(pods)
    c.run()
    return c


def pod_manifest(pod: WhatIfPod, name: str = "what-if") -> dict[str, Any]:
    """The ``v1 Pod`` manifest for the pod controls (not validated here: ``Cluster.explain`` does).

    Raises
    ------
    ManifestError
        For a toleration or affinity label that cannot be parsed.
    """
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx:1.27", "resources": {
        "requests": {"cpu": str(pod.cpu).strip(), "memory": str(pod.memory).strip()}}}]}
    tol = parse_toleration(pod.toleration)
    if tol:
        spec["tolerations"] = [tol]
    label = parse_label(pod.affinity, "spec.affinity.nodeAffinity")
    if label and pod.affinity_mode in ("required", "preferred"):
        (key, value), = label.items()
        term = {"matchExpressions": [{"key": key, "operator": "In", "values": [value]}]}
        if pod.affinity_mode == "required":
            node_affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
        else:
            node_affinity = {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": term}]}
        spec["affinity"] = {"nodeAffinity": node_affinity}
    skew = clamp(pod.zone_max_skew, 0, MAX_ZONE_SKEW)
    if skew:
        spec["topologySpreadConstraints"] = [{
            "maxSkew": skew, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": dict([APP_LABEL])}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": dict([APP_LABEL])},
            "spec": spec}


@dataclass
class Placement:
    """Where a what-if pod would go, or why it could not be evaluated.

    Attributes
    ----------
    manifest:
        The Pod manifest that was evaluated (None when the controls could not make one).
    decision:
        ``Cluster.explain(manifest)`` (None when ``error`` is set).
    error:
        The :class:`labkit.ManifestError` message for invalid input, else ``""``.
    """

    manifest: dict[str, Any] | None
    decision: Explanation | None
    error: str = ""

    @property
    def chosen(self) -> str | None:
        """The node the scheduler would pick (one of :attr:`ties`), None if none fits."""
        return self.decision.chosen if self.decision else None

    @property
    def ties(self) -> list[str]:
        """Every node sharing the top score; the scheduler's heap picks an early-found one.

        Which one that is depends on the order in which the filters found the nodes feasible
        (kube-scheduler's heap over them, ``labkit.scheduler.schedule_one.heap_root``), not on a
        coin: treat any of them as a correct answer, but do not expect a fair share.
        """
        return list(self.decision.ties) if self.decision else []

    def summary_html(self) -> str:
        """One paragraph: the chosen node and its ties, the FailedScheduling message, or the error."""
        if self.error:
            return (f"<p style='color:#D55E00'><b>Invalid input</b> (nothing was evaluated): "
                    f"<code>{html.escape(self.error)}</code></p>")
        if self.decision is None:
            return "<p>No pod evaluated yet.</p>"
        if self.chosen is None:
            return (f"<p><b>Unschedulable</b>: <code>{html.escape(self.decision.message)}</code></p>")
        labels = getattr(self.decision, "node_labels", None) or {}
        others = [labels.get(t, t) for t in self.ties if t != self.chosen]
        tie = (f"; a {len(self.ties)}-way tie with {', '.join(html.escape(t) for t in others)}: "
               "the scheduler's heap took an early-found one, not a coin toss") if others else ""
        short = labels.get(self.chosen, self.chosen)
        full = f" ({html.escape(self.chosen)})" if short != self.chosen else ""
        return f"<p>Chosen node: <b>{html.escape(short)}</b>{full}{tie}</p>"

    def __repr__(self) -> str:
        if self.error:
            return f"<Placement invalid: {self.error}>"
        name = (self.manifest or {}).get("metadata", {}).get("name", "?")
        return f"<Placement {name} -> {self.chosen or 'unschedulable'}>"

    def _repr_html_(self) -> str:
        table = self.decision._repr_html_() if self.decision is not None and not self.error else ""
        return self.summary_html() + table


def place(cluster: Cluster, pod: WhatIfPod | dict[str, Any]) -> Placement:
    """Evaluate a pod on ``cluster`` as a what-if (nothing is applied); never raises on bad input.

    Parameters
    ----------
    cluster:
        Usually from :func:`playground_cluster`.
    pod:
        Pod controls, or a Pod manifest.

    Returns
    -------
    Placement
        The decision, or the ``ManifestError`` message when Kubernetes would refuse the pod.
    """
    manifest = None
    try:
        manifest = pod_manifest(pod) if isinstance(pod, WhatIfPod) else pod
        return Placement(manifest, cluster.explain(manifest))
    except ManifestError as e:
        return Placement(manifest, None, str(e))


def _zone_letter(zone: str) -> str:
    """``cn-hangzhou-h`` -> ``h``: the zone as the panel and the explain table name it."""
    return zone.rsplit("-", 1)[-1] if zone.count("-") >= 2 else zone


def pods_per_zone(cluster: Cluster, label_selector: str = "app=web") -> dict[str, int]:
    """How many bound pods matching ``label_selector`` each zone holds, zones in name order.

    These are the counts a zone spread constraint (``topologyKey: topology.kubernetes.io/zone``)
    compares: placing a pod in a zone must not leave that zone more than ``maxSkew`` above the
    emptiest one. Every zone with a node is listed, so an empty zone shows as 0.
    """
    zone_of = {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE_KEY, "")
               for n in cluster.list("Node")}
    counts = dict.fromkeys(sorted(z for z in set(zone_of.values()) if z), 0)
    for pod in cluster.list("Pod", label_selector=label_selector):
        zone = zone_of.get((pod.get("spec") or {}).get("nodeName") or "", "")
        if zone:
            counts[zone] += 1
    return counts


def zones_html(cluster: Cluster, placement: Placement | None = None) -> str:
    """One line: the ``app=web`` pods per zone, and the zone the what-if pod would join.

    For example ``app=web pods per zone: h 3 · i 3 · j 2 · the what-if pod (also app=web) →
    zone j``: with ``maxSkew`` 1 a zone already two above the emptiest one is refused.
    """
    counts = pods_per_zone(cluster, "=".join(APP_LABEL))
    per_zone = " &middot; ".join(f"<b>{html.escape(_zone_letter(z))}</b> {n}" for z, n in counts.items()) \
        or "<i>no zones (no nodes)</i>"
    where = ""
    if placement is not None and placement.decision is not None:
        if placement.chosen is None:
            where = " &middot; the what-if pod fits in no zone"
        else:
            node = cluster.get("Node", placement.chosen, None) or {}
            zone = (node.get("metadata", {}).get("labels") or {}).get(ZONE_KEY, "")
            where = (f" &middot; the what-if pod (also {'='.join(APP_LABEL)}) &rarr; zone "
                     f"<b>{html.escape(_zone_letter(zone))}</b>")
    return f"<span>{'='.join(APP_LABEL)} pods per zone: {per_zone}{where}</span>"


def _heatmap_changing(fig: Any) -> list[Any]:
    """The artists of :func:`labkit.plots.utilization_heatmap` that a pod control can change.

    Everything on the cells (the image, the numbers, the chosen node's outline, and the spines
    drawn over the image), the title and the legend, in drawing order. What stays (node names
    left of the cells, axis labels, the colour bar) is drawn once per cluster by :class:`Blitter`.
    """
    ax = fig.axes[0]
    on_cells = [t for t in ax.texts if t.get_transform() is not ax.transData or t.get_position()[0] >= -0.5]
    return [*ax.images, *ax.patches, *ax.spines.values(), *on_cells, ax.title, *fig.legends]


#: Widths in the panel. A slider's track is its width less its description and its readout
#: (about 96 px), and must stay at least 120 px wide to be worked with a mouse.
SLIDER_READOUT_PX = 96
#: Track widths of the node-count sliders and of the zone spread slider.
POOL_TRACK_PX, SKEW_TRACK_PX = 130, 150
_NAME_PX = 60


def _px(n: int) -> str:
    return f"{n}px"


def _labelled(cls: Any, label_px: int, box_px: int, **kwargs: Any) -> Any:
    """A control whose description has ``label_px`` and whose input has ``box_px``."""
    import ipywidgets as widgets

    return cls(style={"description_width": _px(label_px)},
               layout=widgets.Layout(width=_px(label_px + box_px)), **kwargs)


def scheduling_playground(pools: tuple[Pool, ...] | list[Pool] = DEFAULT_POOLS, pod: WhatIfPod = WhatIfPod(),
                          background: int = 8, seed: int = 0) -> ipywidgets.VBox:
    """Controls for three node pools and one pod; shows the placement, ``explain`` and a heatmap.

    Pool controls (node count, ECS type, taint, label) rebuild the cluster with
    :func:`playground_cluster`; pod controls only re-run :func:`place` on the cluster already
    built. Text boxes apply on Enter or when they lose focus. Every slider keeps a track of at
    least 120 px, and the rows wrap rather than overflow in a narrow notebook column.

    Parameters
    ----------
    pools, background, seed:
        The starting cluster (see :func:`playground_cluster`); the panel offers one row of
        controls per pool.
    pod:
        The starting pod controls.

    Returns
    -------
    ipywidgets.VBox
        ``children``: a VBox of pool rows, a VBox of pod rows (the last one holds the
        :func:`zones_html` line), the summary (HTML), the heatmap
        (Image) and the ``explain`` table (HTML). Its plain text is
        ``Interactive panel (scheduling playground): run this cell to display it.``
    """
    import ipywidgets as widgets

    from labkit.plots import utilization_heatmap

    pools = list(pools)
    row = widgets.Layout(flex_flow="row wrap", align_items="center")
    rows, pool_controls = [], []
    for pool in pools:
        count = _labelled(widgets.IntSlider, 44, POOL_TRACK_PX + SLIDER_READOUT_PX, description="nodes",
                          value=clamp(pool.count, 0, MAX_POOL_NODES), min=0, max=MAX_POOL_NODES,
                          continuous_update=False)
        types = list(dict.fromkeys([*INSTANCE_TYPES, pool.instance_type]))
        itype = _labelled(widgets.Dropdown, 64, 128, description="ECS type", options=types,
                          value=pool.instance_type)
        taint = _labelled(widgets.Text, 38, 194, description="taint", value=pool.taint,
                          placeholder="key=value:NoSchedule", continuous_update=False)
        label = _labelled(widgets.Text, 38, 132, description="label", value=pool.label,
                          placeholder="key=value", continuous_update=False)
        pool_controls.append((pool, count, itype, taint, label))
        name = widgets.HTML(f"<b>{html.escape(pool.name)}</b>", layout=widgets.Layout(width=_px(_NAME_PX)))
        rows.append(widgets.HBox([name, count, itype, taint, label], layout=row))
    cpu = _labelled(widgets.Text, 84, 80, value=pod.cpu, description="cpu request", continuous_update=False)
    memory = _labelled(widgets.Text, 110, 80, value=pod.memory, description="memory request",
                       continuous_update=False)
    toleration = _labelled(widgets.Text, 70, 210, value=pod.toleration, description="toleration",
                           placeholder="key=value:Effect", continuous_update=False)
    modes = ["required", "preferred"]
    mode = _labelled(widgets.Dropdown, 92, 110, description="node affinity", options=modes,
                     value=pod.affinity_mode if pod.affinity_mode in modes else "required")
    affinity = _labelled(widgets.Text, 38, 132, description="label", value=pod.affinity,
                         placeholder="key=value", continuous_update=False)
    skew = _labelled(widgets.IntSlider, 160, SKEW_TRACK_PX + SLIDER_READOUT_PX,
                     description="zone spread maxSkew", value=clamp(pod.zone_max_skew, 0, MAX_ZONE_SKEW),
                     min=0, max=MAX_ZONE_SKEW,
                     continuous_update=False)
    zones = widgets.HTML()
    summary = widgets.HTML()
    # Natural size, never stretched by its container.
    image = widgets.Image(format="png", layout=widgets.Layout(width="auto", height="auto",
                                                              object_fit="contain"))
    # The explain table can be wider than a narrow column: it scrolls inside the panel.
    table = widgets.HTML(layout=widgets.Layout(max_width="100%", margin="2px 0px", overflow="auto"))
    state: dict[str, Any] = {"cluster": None, "error": "", "generation": 0}
    blitter = Blitter()

    def current_pools() -> list[Pool]:
        return [replace(p, count=c.value, instance_type=t.value, taint=ta.value, label=la.value)
                for p, c, t, ta, la in pool_controls]

    def rebuild(_: Any = None) -> None:
        try:
            state["cluster"], state["error"] = playground_cluster(current_pools(), background, seed), ""
        except ManifestError as e:
            state["cluster"], state["error"] = None, str(e)
        state["generation"] += 1  # a new cluster: its figure's static part is drawn afresh
        update()

    def update(_: Any = None) -> None:
        what_if = WhatIfPod(cpu.value, memory.value, toleration.value, affinity.value, mode.value, skew.value)
        png = b""  # no cluster to draw: the summary says why
        line = ""
        if state["cluster"] is None:
            result = Placement(None, None, state["error"])
        else:
            result = place(state["cluster"], what_if)
            fig = utilization_heatmap(state["cluster"], result.manifest if result.decision else None)
            png = blitter.render(fig, _heatmap_changing(fig), state["generation"])
            n = clamp(skew.value, 0, MAX_ZONE_SKEW)
            rule = (f"maxSkew {n}: the pod's zone may end up at most {n} above the emptiest zone" if n
                    else "maxSkew 0: no spread constraint")
            line = f"{zones_html(state['cluster'], result)} &middot; <i>{rule}</i>"
        # Everything is computed before anything is shown, so the outputs never disagree.
        image.value = png
        table.value = result.decision._repr_html_() if result.decision is not None else ""
        zones.value = line
        summary.value = result.summary_html()

    for _, count, itype, taint, label in pool_controls:
        for control in (count, itype, taint, label):
            control.observe(rebuild, names="value")
    for control in (cpu, memory, toleration, mode, affinity, skew):
        control.observe(update, names="value")
    rebuild()
    indent = widgets.HTML("", layout=widgets.Layout(width=_px(_NAME_PX)))
    pod_box = widgets.VBox([
        widgets.HBox([widgets.HTML("<b>pod</b>", layout=widgets.Layout(width=_px(_NAME_PX))), cpu, memory,
                      toleration], layout=row),
        widgets.HBox([indent, mode, affinity, skew], layout=row),
        widgets.HBox([widgets.HTML("", layout=widgets.Layout(width=_px(_NAME_PX))), zones], layout=row),
    ])
    return panel([widgets.VBox(rows), pod_box, summary, image, table], "scheduling playground",
                 "labkit-scheduling-playground", layout=widgets.Layout(align_items="flex-start"))

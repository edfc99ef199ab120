"""Chapter 00's panel: step through the control-plane timeline and see the pod as it was stored.

The plain function :func:`step_html` renders one :class:`labkit.timeline.Step`; the widget
only adds a slider, a Play button and the timeline figure with a cursor
(:func:`labkit.plots.steps_figure`).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from labkit.timeline import APISERVER, Step, steps
from labkit.widgets._panel import panel, png

if TYPE_CHECKING:
    import ipywidgets

    from labkit.cluster import Cluster

__all__ = ["timeline_stepper", "step_html", "replicasets_html", "NOT_RECORDED"]

#: Shown when a cluster's timeline was not recorded, so pod states are unknown.
NOT_RECORDED = ("pod state not recorded: call <code>labkit.timeline.record(c)</code> right after creating "
                "the cluster, before <code>c.apply(...)</code>")
#: Resolution of the stepper's figure (dots per inch).
DPI = 80
_STATUS_COLOUR = {"True": "#009E73", "False": "#D55E00"}  # Okabe-Ito green / vermillion


def step_html(timeline: list[Step], index: int) -> str:
    """HTML for step ``index`` of ``timeline`` (clamped into range): the step and the pod at that step.

    Parameters
    ----------
    timeline:
        Steps from :func:`labkit.timeline.steps`.
    index:
        Which step; any integer is accepted and clamped, so a widget can never fail on it.
    """
    if not timeline:
        return ("<p>Nothing recorded yet: call <code>labkit.timeline.record(c)</code> before "
                "<code>c.apply(...)</code>, then <code>c.run()</code>.</p>")
    i = min(max(int(index), 0), len(timeline) - 1)
    s = timeline[i]
    what = "written at" if s.component == APISERVER else "Event stored at"
    rv = f" &middot; {what} resourceVersion {html.escape(s.resource_version)}" if s.resource_version else ""
    head = (f"<p><b>step {i + 1} of {len(timeline)}</b> &middot; t = {s.time:.4f} s &middot; "
            f"<b>{html.escape(s.component)}</b> &middot; {html.escape(s.reason)} &middot; "
            f"{html.escape(s.object)}{rv}<br><code>{html.escape(s.message)}</code></p>")
    if s.pod is None:
        rollout = replicasets_html(s)
        if rollout:
            return head + rollout
        return head + (f"<p><i>{NOT_RECORDED}</i></p>" if s.object.startswith("Pod/") else "")
    p = s.pod
    conditions = " ".join(
        f"<span style='color:{_STATUS_COLOUR.get(st, '#000000')}'>{html.escape(t)}={html.escape(st)}</span>"
        for t, st in p.conditions) or "<i>none yet</i>"
    containers = ", ".join(f"{html.escape(n)}: {html.escape(st)}" for n, st in p.containers) \
        or "<i>none yet</i>"
    rows = [
        ("metadata.resourceVersion", html.escape(p.resource_version)),
        ("metadata.labels", html.escape(", ".join(f"{k}={v}" for k, v in p.labels)) or "<i>none</i>"),
        ("spec.nodeName", html.escape(p.node_name) if p.node_name else "<i>not set (not scheduled)</i>"),
        ("status.phase", html.escape(p.phase or "")),
        ("status.podIP", html.escape(p.pod_ip) if p.pod_ip else "<i>not set</i>"),
        ("status.conditions", conditions),
        ("status.containerStatuses", containers),
    ]
    table = "".join(f"<tr><td><code>{k}</code></td><td>{v}</td></tr>" for k, v in rows)
    return (head + f"<p>Pod {html.escape(p.namespace)}/{html.escape(p.name)} as stored at this step:</p>"
            f"<table>{table}</table>")


def replicasets_html(step: Step) -> str:
    """The ReplicaSets of the Deployment a step is about, as stored at that step ("" if none).

    One row per ReplicaSet, oldest first: the sizes a rolling update moves (desired is
    ``spec.replicas``; then the pods it has, how many are ready, how many available).
    """
    kind, _, name = step.object.partition("/")
    if kind == "Deployment":
        owner = name
    elif kind == "ReplicaSet":
        owner = next((rs.owner for rs in step.replicasets if rs.name == name), "")
    else:
        return ""
    rows = [rs for rs in step.replicasets if owner and rs.owner == owner]
    if not rows:
        return ""
    body = "".join(
        f"<tr><td><code>{html.escape(rs.name)}</code></td><td>{html.escape(rs.revision)}</td>"
        f"<td>{rs.desired}</td><td>{rs.replicas}</td><td>{rs.ready}</td><td>{rs.available}</td></tr>"
        for rs in rows)
    return (f"<p>ReplicaSets of Deployment {html.escape(owner)} at this step:</p><table>"
            "<tr><th>ReplicaSet</th><th>revision</th><th>desired</th><th>pods</th><th>ready</th>"
            "<th>available</th></tr>"
            f"{body}</table>")


def timeline_stepper(cluster: Cluster, involved: str | None = None) -> ipywidgets.VBox:
    """A slider (with Play) over the timeline; each step shows the event and the pod as it was then.

    The timeline is read once, when the widget is built: run the cluster first. The slider
    counts steps from 1, as the text does ("step 3 of 10" with the slider at 3); moving it
    re-renders the figure's cursor and the step's HTML, and out-of-range values are clamped.

    Parameters
    ----------
    cluster:
        A cluster recorded with :func:`labkit.timeline.record` (otherwise only Events are shown).
    involved:
        Only steps about this object, e.g. ``"Pod/my-nginx"``.

    Returns
    -------
    ipywidgets.VBox
        ``children``: an HBox of the IntSlider (1 to the number of steps) and its Play button,
        the figure (an Image), the step's HTML. Its plain text is
        ``Interactive panel (timeline stepper): run this cell to display it.``
    """
    import ipywidgets as widgets

    timeline = steps(cluster, involved)
    title = f"Control-plane timeline of {involved or 'all objects'} (seed {cluster.seed})"
    last = max(len(timeline), 1)
    slider = widgets.IntSlider(value=1, min=1, max=last, step=1, description="step",
                               disabled=not timeline, continuous_update=False,
                               style={"description_width": "40px"}, layout=widgets.Layout(width="420px"))
    play = widgets.Play(value=1, min=1, max=last, step=1, interval=900, description="Play",
                        disabled=not timeline)
    widgets.jslink((play, "value"), (slider, "value"))
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
    detail = widgets.HTML()
    figure = _CursorFigure(timeline, title)

    def render(number: int) -> None:
        image.value = figure.png(number - 1)
        detail.value = step_html(timeline, number - 1)

    slider.observe(lambda change: render(change["new"]), names="value")
    render(slider.value)
    return panel([widgets.HBox([slider, play]), image, detail], "timeline stepper", "labkit-timeline-stepper")


class _CursorFigure:
    """:func:`labkit.plots.steps_figure` with its cursor moved, not the figure redrawn from scratch.

    The figure is built and laid out once (constrained layout, the slow part), then frozen; a
    step moves the cursor's three artists (the dashed line, the ring, the "now" legend entry) to
    where a fresh ``steps_figure(timeline, highlight=i)`` puts them, and each step's PNG is kept,
    so going back to a step costs nothing. The pixels are those of a fresh figure (tested).
    """

    def __init__(self, timeline: list[Step], title: str) -> None:
        self.timeline, self.title = timeline, title
        self._pngs: dict[int, bytes] = {}
        self._fig: Any = None

    def png(self, index: int) -> bytes:
        index = min(max(int(index), 0), max(len(self.timeline) - 1, 0))
        if index not in self._pngs:
            self._pngs[index] = self._draw(index)
        return self._pngs[index]

    def _draw(self, index: int) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        from labkit.plots import steps_figure

        fresh = steps_figure(self.timeline, title=self.title, highlight=index if self.timeline else None)
        fresh.set_dpi(DPI)
        if self._fig is None or not self.timeline:
            self._fig, self._canvas = fresh, FigureCanvasAgg(fresh)
            self._canvas.draw()  # solves the layout once
            fresh.set_layout_engine("none")
            return png(self._canvas)
        (*_, line, ring), (*_, new_line, new_ring) = self._fig.axes[0].lines, fresh.axes[0].lines
        line.set_xdata(new_line.get_xdata())
        ring.set_data(new_ring.get_xdata(), new_ring.get_ydata())
        self._fig.axes[0].get_legend().texts[-1].set_text(fresh.axes[0].get_legend().texts[-1].get_text())
        self._canvas.draw()
        return png(self._canvas)

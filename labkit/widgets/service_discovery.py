"""Chapter 03's panels: traffic through the ``my-nginx`` Service, balanced and disturbed.

Two plain, tested functions do the work and the panels only wire controls to them:

* :func:`load_balance` runs the chapter's cluster (three ECS nodes, the ``my-nginx`` Deployment
  behind the article's Service, optionally a slow extra pod that carries the Service's label) with
  one kube-proxy mode, sends 200 requests per second for a simulated minute, and returns each
  pod's share of the requests and its p99 latency;
* :func:`failure_run` runs the same cluster, sends traffic for 90 simulated seconds and, 10 s in,
  injects one disturbance (:data:`SCENARIOS`: a pod deleted, a node failed, a rolling update with
  or without a ``preStop`` sleep), and returns the requests per second by outcome.

Each result is computed once per combination of controls and kept (a run costs about 0.05-0.15 s
of wall time), so going back to a setting is instant. :func:`service_cluster` builds the cluster
both use, from the manifests in ``data/manifests/service-discovery/``.
"""

from __future__ import annotations

import copy
import functools
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.widgets._panel import clamp, panel, png

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from labkit.cluster import Cluster

__all__ = ["ZONES", "MANIFESTS", "SLOW_POD", "TARGET", "PROXY_MODES", "SCENARIOS", "MAX_REPLICAS",
           "MAX_LAG_S", "PRESTOP", "service_cluster", "LoadBalance", "load_balance", "FailureRun",
           "failure_run", "failure_summary", "load_balance_panel", "failure_panel"]

ZONES = ("cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j")
_DATA = Path(__file__).resolve().parents[2] / "data" / "manifests"
#: The chapter's manifests: the Deployment (with its app annotations), the article's Service, the
#: client pods, and the slow extra pod.
MANIFESTS = {
    "deployment": _DATA / "service-discovery" / "my-nginx.yaml",
    "service": _DATA / "my-nginx-service.yaml",
    "clients": _DATA / "service-discovery" / "clients.yaml",
    "slow": _DATA / "service-discovery" / "slow-pod.yaml",
}
SLOW_POD = "my-nginx-slow"
TARGET = "my-nginx.default.svc.cluster.local:80"
#: The proxy modes the load-balance panel offers: label -> (kube-proxy mode, ipvs scheduler).
PROXY_MODES = {
    "iptables (random)": ("iptables", "rr"),
    "nftables (random)": ("nftables", "rr"),
    "ipvs rr (round robin)": ("ipvs", "rr"),
    "ipvs lc (least connections)": ("ipvs", "lc"),
}
#: The failure panel's disturbances, injected 10 s after the traffic starts.
SCENARIOS = ("none", "delete a pod", "fail a node", "rolling update", "rolling update with preStop")
MAX_REPLICAS = 6
#: Largest kube-proxy programming delay the failure panel offers (seconds).
MAX_LAG_S = 8
#: The container lifecycle the "with preStop" scenario adds: longer than kube-proxy's default delay.
PRESTOP = {"preStop": {"sleep": {"seconds": 5}}}



@functools.cache
def _manifest(which: str) -> list[dict[str, Any]]:
    from labkit.manifests import load_documents

    return load_documents(MANIFESTS[which])


def service_cluster(replicas: int = 3, proxy_mode: str = "iptables", ipvs_scheduler: str = "rr",
                    slow_pod: bool = False, lifecycle: dict[str, Any] | None = None,
                    endpoint_propagation: tuple[float, float] = (0.5, 2.0), seed: int = 0) -> Cluster:
    """The chapter's cluster, settled: three ``ecs.g7.xlarge`` nodes, ``my-nginx`` and its Service.

    Parameters
    ----------
    replicas:
        The Deployment's replicas (clamped to 1..:data:`MAX_REPLICAS`).
    proxy_mode, ipvs_scheduler:
        kube-proxy's mode and, for ``ipvs``, its scheduler (see :class:`labkit.Cluster`).
    slow_pod:
        Also apply :data:`SLOW_POD`, a bare pod with the Service's label and 100 ms requests.
    lifecycle:
        A container ``lifecycle`` for the Deployment's pods (for example :data:`PRESTOP`).
    endpoint_propagation:
        ``(low, high)`` seconds each node's kube-proxy takes to program an endpoint change.
    seed:
        The cluster's seed.
    """
    import labkit

    c = labkit.Cluster(seed=seed, proxy_mode=proxy_mode, ipvs_scheduler=ipvs_scheduler,
                       endpoint_propagation=endpoint_propagation)
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=3, zones=list(ZONES))
    deployment = copy.deepcopy(_manifest("deployment"))
    deployment[0]["spec"]["replicas"] = clamp(replicas, 1, MAX_REPLICAS)
    if lifecycle:
        deployment[0]["spec"]["template"]["spec"]["containers"][0]["lifecycle"] = copy.deepcopy(lifecycle)
    docs = deployment + copy.deepcopy(_manifest("service")) + copy.deepcopy(_manifest("clients"))
    if slow_pod:
        docs += copy.deepcopy(_manifest("slow"))
    c.apply(docs)
    c.run()
    return c


# -- load balancing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadBalance:
    """One minute of traffic through ``my-nginx`` with one kube-proxy mode.

    Attributes
    ----------
    replicas, proxy_mode, ipvs_scheduler, slow_pod:
        The setting measured.
    summary:
        ``Traffic.summary()``: ``sent``, ``ok``, ``failed``, ``p50_s``, ``p95_s``, ``p99_s``, ...
    by_pod:
        ``Traffic.by_pod()``: requests, share, mean and p99 latency per pod.
    """

    replicas: int
    proxy_mode: str
    ipvs_scheduler: str
    slow_pod: bool
    summary: dict[str, Any]
    by_pod: pd.DataFrame

    @property
    def label(self) -> str:
        """``iptables``, ``ipvs lc``: the mode as kube-proxy's configuration names it."""
        return f"ipvs {self.ipvs_scheduler}" if self.proxy_mode == "ipvs" else self.proxy_mode

    @property
    def title(self) -> str:
        slow = " + the slow pod" if self.slow_pod else ""
        return f"kube-proxy {self.label}, {self.replicas} replica{'s' * (self.replicas != 1)}{slow}"

    def table(self) -> pd.DataFrame:
        """Per pod: ``pod``, ``node``, ``requests``, ``share_pct`` and ``p99_ms``, rounded for reading."""
        import pandas as pd

        df = self.by_pod
        return pd.DataFrame({
            "pod": df["pod"], "node": df["node"], "requests": df["requests"],
            "share_pct": (100 * df["share"].astype(float)).round(1),
            "p99_ms": (1000 * df["p99_s"].astype(float)).round(0),
        }).reset_index(drop=True)

    def summary_html(self) -> str:
        s = self.summary
        p99 = "none answered" if s["p99_s"] is None else f"{1000 * s['p99_s']:.0f} ms"
        failed = (f", <b style='color:#D55E00'>{s['failed']:,} failed</b> ({s['timeout']:,} timed out)"
                  if s["failed"] else ", none failed")
        return (f"<p><b>{html.escape(self.title)}</b>: {s['sent']:,} requests sent{failed}; "
                f"p99 latency of the answered ones <b>{p99}</b>.</p>")


@functools.lru_cache(maxsize=128)
def _load_balance(replicas: int, proxy_mode: str, ipvs_scheduler: str, slow_pod: bool, rate: float,
                  duration: float, seed: int) -> LoadBalance:
    c = service_cluster(replicas, proxy_mode, ipvs_scheduler, slow_pod, seed=seed)
    c.run(until=math.ceil(c.now))  # traffic starts on a whole second, so per-second bins are whole
    t = c.traffic(TARGET, rate=rate, duration=duration)
    c.run(until=c.now + duration + 11)  # past the last request's timeout (10 s)
    return LoadBalance(replicas, proxy_mode, ipvs_scheduler, slow_pod, t.summary(), t.by_pod())


def load_balance(replicas: int = 3, proxy_mode: str = "iptables", ipvs_scheduler: str = "rr",
                 slow_pod: bool = True, rate: float = 200, duration: float = 60, seed: int = 0
                 ) -> LoadBalance:
    """Send ``rate`` requests per second to ``my-nginx`` for ``duration`` simulated seconds.

    The traffic comes from 50 client pods spread over the three nodes, once every pod is ready.
    Results are kept per setting, so asking again costs nothing.

    Parameters
    ----------
    replicas:
        The Deployment's replicas (clamped to 1..:data:`MAX_REPLICAS`).
    proxy_mode, ipvs_scheduler:
        ``iptables``, ``nftables`` or ``ipvs``; for ipvs ``rr``, ``lc`` or ``sh``.
    slow_pod:
        Add :data:`SLOW_POD` (100 ms per request instead of 20 ms) to the Service's endpoints.
    rate, duration, seed:
        The traffic and the cluster's seed.
    """
    return _load_balance(clamp(replicas, 1, MAX_REPLICAS), str(proxy_mode), str(ipvs_scheduler),
                         bool(slow_pod), float(rate), float(duration), int(seed))


# -- failures --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FailureRun:
    """Traffic through ``my-nginx`` with one disturbance (:data:`SCENARIOS`) at ``at_s``.

    Attributes
    ----------
    scenario:
        What was done at ``at_s``.
    max_lag_s:
        The slowest a node's kube-proxy was to program an endpoint change (``endpoint_propagation``).
    at_s:
        When it was done, in seconds since the traffic started.
    what:
        What exactly was done (``deleted pod my-nginx-...``, ``failed node cn-hangzhou...``).
    summary:
        ``Traffic.summary()`` once every request has ended.
    over_time:
        ``Traffic.over_time(1)`` with ``t_s`` counted from the start of the traffic.
    """

    scenario: str
    max_lag_s: float
    at_s: float
    what: str
    summary: dict[str, Any]
    over_time: pd.DataFrame

    @property
    def failed(self) -> int:
        return int(self.summary["failed"])

    def row(self) -> dict[str, Any]:
        """One line of :func:`failure_summary`."""
        s = self.summary
        return {"scenario": self.scenario, "sent": s["sent"], "ok": s["ok"], "refused": s["refused"],
                "reset": s["reset"], "timeout": s["timeout"],
                "failed_pct": round(100 * s["failed"] / s["sent"], 2) if s["sent"] else 0.0,
                "p99_ms": None if s["p99_s"] is None else round(1000 * s["p99_s"])}


@functools.lru_cache(maxsize=64)
def _failure_run(scenario: str, max_lag_s: float, rate: float, duration: float, at_s: float,
                 seed: int) -> FailureRun:
    lifecycle = PRESTOP if scenario == "rolling update with preStop" else None
    low = min(0.5, max_lag_s)
    c = service_cluster(lifecycle=lifecycle, endpoint_propagation=(low, max_lag_s), seed=seed)
    client_node = c.get("Pod", "client")["spec"]["nodeName"]
    # The default clients stand for pods on every node; when a node dies, its own clients could not
    # send at all, so for that scenario the requests come from `client`, on a node that stays up.
    from_pod = "client" if scenario == "fail a node" else None
    c.run(until=math.ceil(c.now))  # traffic starts on a whole second, so per-second bins are whole
    t = c.traffic(TARGET, rate=rate, duration=duration, from_pod=from_pod)
    start = c.now
    c.run(until=start + at_s)
    pods = sorted(c.list("Pod", label_selector="app=my-nginx"), key=lambda p: p["metadata"]["name"])
    what = "nothing"
    if scenario == "delete a pod":
        name = pods[0]["metadata"]["name"]
        c.delete("Pod", name)
        what = f"deleted pod {name}"
    elif scenario == "fail a node":
        node = next(p["spec"]["nodeName"] for p in pods if p["spec"]["nodeName"] != client_node)
        c.fail_node(node)
        what = f"failed node {node}"
    elif scenario.startswith("rolling update"):
        c.rollout_restart("Deployment", "my-nginx")
        what = "kubectl rollout restart deployment/my-nginx"
    elif scenario != "none":
        raise ValueError(f"scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}")
    c.run(until=start + duration + 11)  # past the last request's timeout (10 s)
    over = t.over_time(1.0)
    over["t_s"] = (over["t_s"] - start).round(6)
    over.columns.name = None
    return FailureRun(scenario, max_lag_s, at_s, what, t.summary(), over)


def failure_run(scenario: str = "rolling update", max_lag_s: float = 2.0, rate: float = 200,
                duration: float = 90, at_s: float = 10, seed: int = 0) -> FailureRun:
    """Send traffic to ``my-nginx`` and disturb it ``at_s`` seconds in; results are kept per setting.

    Parameters
    ----------
    scenario:
        One of :data:`SCENARIOS`. ``"fail a node"`` fails a node that runs a ``my-nginx`` pod (not the
        one ``client`` runs on) and sends from ``client``; the others send from 50 client pods spread
        over the nodes. ``"rolling update with preStop"`` gives the pods :data:`PRESTOP` first.
    max_lag_s:
        kube-proxy's ``endpoint_propagation`` is ``(min(0.5, max_lag_s), max_lag_s)`` seconds
        (clamped to 0..:data:`MAX_LAG_S`; the default, 2 s, is the cluster's default).
    rate, duration, seed:
        Requests per second, for how long, and the cluster's seed.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}")
    lag = min(max(float(max_lag_s), 0.0), float(MAX_LAG_S))
    return _failure_run(scenario, lag, float(rate), float(duration), float(at_s), int(seed))


def failure_summary(runs: list[FailureRun]) -> pd.DataFrame:
    """One row per run: the scenario, requests sent, how each ended, the failed share and the p99."""
    import pandas as pd

    cols = ["scenario", "sent", "ok", "refused", "reset", "timeout", "failed_pct", "p99_ms"]
    return pd.DataFrame([r.row() for r in runs], columns=cols)


# -- the panels ------------------------------------------------------------------------------------------
def _table_html(df: pd.DataFrame, highlight: str | None = None, column: str = "pod") -> str:
    """A compact HTML table; the row whose ``column`` is ``highlight`` in bold."""
    cell = "padding:1px 8px;text-align:right"
    head = "".join(f"<th style='{cell}'>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        chosen = highlight is not None and r[column] == highlight
        style = "font-weight:bold;background:#eef4fb" if chosen else ""
        cells = "".join(f"<td style='{cell}'>{html.escape(_fmt(v))}</td>" for v in r)
        rows.append(f"<tr style='{style}'>{cells}</tr>")
    return (f"<table style='border-collapse:collapse;font-size:12px'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _figure_png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return png(canvas)


def _image() -> Any:
    """An Image at its natural size, never stretched by its container."""
    import ipywidgets as widgets

    return widgets.Image(format="png",
                         layout=widgets.Layout(width="auto", height="auto", object_fit="contain"))


def _labelled(cls: Any, label_px: int, box_px: int, **kwargs: Any) -> Any:
    import ipywidgets as widgets

    return cls(style={"description_width": f"{label_px}px"},
               layout=widgets.Layout(width=f"{label_px + box_px}px"), **kwargs)


#: A slider's readout takes about 96 px of its width; the track keeps at least 120 px.
SLIDER_READOUT_PX = 96
REPLICAS_TRACK_PX, LAG_TRACK_PX = 150, 170
#: The delay slider's description ("kube-proxy delay up to (s)") at the notebook's font size.
LAG_LABEL_PX = 200


def load_balance_panel(replicas: int = 3, mode: str = "iptables (random)", slow_pod: bool = True,
                       seed: int = 0) -> ipywidgets.VBox:
    """Replicas, kube-proxy mode and the slow pod; shows load and p99 per pod (:func:`load_balance`).

    Returns
    -------
    ipywidgets.VBox
        ``children``: the row of controls (replicas slider, mode drop-down, slow-pod checkbox), the
        summary (HTML), the figure (Image, :func:`labkit.plots.load_per_pod_figure`) and the table
        per pod (HTML). Its plain text is ``Interactive panel (load balancing): run this cell to
        display it.``
    """
    import ipywidgets as widgets

    from labkit.plots import load_per_pod_figure

    count = _labelled(widgets.IntSlider, 64, REPLICAS_TRACK_PX + SLIDER_READOUT_PX, description="replicas",
                      value=clamp(replicas, 1, MAX_REPLICAS), min=1, max=MAX_REPLICAS,
                      continuous_update=False)
    modes = list(PROXY_MODES)
    proxy = _labelled(widgets.Dropdown, 84, 200, description="kube-proxy", options=modes,
                      value=mode if mode in PROXY_MODES else modes[0])
    slow = widgets.Checkbox(value=bool(slow_pod), description="add the slow pod (100 ms)",
                            indent=False, layout=widgets.Layout(width="220px"))
    summary = widgets.HTML()
    image = _image()
    table = widgets.HTML(layout=widgets.Layout(max_width="100%", overflow="auto"))

    def update(_: Any = None) -> None:
        proxy_mode, scheduler = PROXY_MODES[proxy.value]
        result = load_balance(count.value, proxy_mode, scheduler, slow.value, seed=seed)
        fig = load_per_pod_figure(result.by_pod, result.title, slow=(SLOW_POD,))
        data = _figure_png(fig)
        text = _table_html(result.table(), SLOW_POD if slow.value else None)
        image.value, table.value, summary.value = data, text, result.summary_html()

    for control in (count, proxy, slow):
        control.observe(update, names="value")
    update()
    row = widgets.HBox([count, proxy, slow],
                       layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
    return panel([row, summary, image, table], "load balancing", "labkit-load-balance",
                 layout=widgets.Layout(align_items="flex-start"))


def failure_panel(scenario: str = "rolling update", max_lag_s: int = 2, seed: int = 0) -> ipywidgets.VBox:
    """A disturbance and kube-proxy's delay; shows requests per second by outcome (:func:`failure_run`).

    Returns
    -------
    ipywidgets.VBox
        ``children``: a heading, the scenario buttons, the kube-proxy delay slider, the summary
        (HTML), the figure (Image, :func:`labkit.plots.requests_over_time_figure`) and a table of
        every run looked at so far, newest first, with its delay (HTML).
    """
    import ipywidgets as widgets

    from labkit.plots import requests_over_time_figure

    heading = widgets.HTML("<b>10 s after the traffic starts:</b>")
    choice = widgets.ToggleButtons(options=list(SCENARIOS),
                                   value=scenario if scenario in SCENARIOS else "none",
                                   style={"button_width": "auto"})
    lag = _labelled(widgets.IntSlider, LAG_LABEL_PX, LAG_TRACK_PX + SLIDER_READOUT_PX,
                    description="kube-proxy delay up to (s)", value=clamp(max_lag_s, 1, MAX_LAG_S), min=1,
                    max=MAX_LAG_S, continuous_update=False)
    summary = widgets.HTML()
    image = _image()
    table = widgets.HTML(layout=widgets.Layout(max_width="100%", overflow="auto"))

    runs: dict[tuple[str, int], FailureRun] = {}  # every run looked at, newest last

    def update(_: Any = None) -> None:
        run = failure_run(choice.value, lag.value, seed=seed)
        title = f"{run.scenario}, kube-proxy delay up to {lag.value} s"
        fig = requests_over_time_figure(run.over_time, title,
                                        event_s=None if run.scenario == "none" else run.at_s,
                                        event=f"change at {run.at_s:g} s")
        data = _figure_png(fig)
        s = run.summary
        verdict = (f"<b style='color:#D55E00'>{s['failed']:,} failed</b>: {s['refused']:,} refused, "
                   f"{s['reset']:,} reset, {s['timeout']:,} timed out"
                   if s["failed"] else "<b>none failed</b>")
        text = f"<p>At 10 s: {html.escape(run.what)}. {s['sent']:,} requests, {verdict}.</p>"
        key = (run.scenario, lag.value)
        runs.pop(key, None)
        runs[key] = run
        log = failure_summary(list(reversed(runs.values())))
        log.insert(1, "delay_s", [k[1] for k in reversed(runs)])
        image.value, summary.value = data, text
        table.value = ("<p style='margin:4px 0 2px 0'><b>Your runs so far</b> (newest first)</p>"
                       + _table_html(log))

    choice.observe(update, names="value")
    lag.observe(update, names="value")
    update()
    return panel([heading, choice, lag, summary, image, table], "failure injection",
                 "labkit-failure-injection", layout=widgets.Layout(align_items="flex-start"))

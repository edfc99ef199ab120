"""Chapter 04's panel and runs: the HorizontalPodAutoscaler (and the cluster autoscaler) at work.

Plain, tested functions do the work; the panel only wires controls to them:

* :func:`autoscaling_cluster` builds the chapter's cluster from ``data/manifests/autoscaling/``: ECS
  nodes, the ``web`` Deployment (CPU requests, ``labkit.io/cpu-per-request`` so that served traffic
  is CPU usage) behind its Service, and an ``autoscaling/v2`` HPA with the settings asked for;
* :func:`record` runs a cluster while traffic flows and samples, every few seconds, what the
  chapter plots: offered rate, replicas, the CPU utilization the HPA saw, p95 latency, pending
  pods and nodes (a :class:`Timeline`);
* :func:`autoscale_run` is one such run for the panel's settings (a load pattern from
  :data:`PATTERNS`, the target, min/max and the scale-down window), kept per setting;
* :func:`day_run` is a simulated day of diurnal traffic with the HPA and the cluster autoscaler
  over an elastic node pool, in ``mode="fluid"``, with ``c.cost()`` at the end.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import html
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labkit.widgets._panel import Blitter, clamp, panel

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from labkit.cluster import Cluster
    from labkit.workloads import Pattern

__all__ = ["MANIFESTS", "TARGET", "SLO_MS", "PATTERNS", "PATTERN_NOTES", "RUN_S", "hpa_manifest",
           "autoscaling_cluster", "Timeline", "record", "p95_over_time", "AutoscaleRun", "autoscale_run",
           "scale_changes", "DayRun", "day_run", "autoscaling_panel"]

_DATA = Path(__file__).resolve().parents[2] / "data" / "manifests" / "autoscaling"
#: The chapter's manifests: the Deployment with its Service, and the HPA.
MANIFESTS = {"web": _DATA / "web.yaml", "hpa": _DATA / "hpa.yaml"}
TARGET = "web.default.svc.cluster.local:80"
#: The latency objective the chapter holds the runs to: 95% of requests answered within 100 ms.
SLO_MS = 100.0
#: How long the panel's runs last (simulated seconds), and how often they are sampled.
RUN_S = 900
EVERY_S = 15.0
#: The fluid tick of the panel's runs: one per metrics-server scrape.
TICK_S = 15.0


def _oscillating() -> Pattern:
    """90 s at 120 requests/s, 90 s at 60, and again: 8 pods' worth of CPU, then 4."""
    from labkit.workloads import Pattern

    knots = tuple(float(90 * i) for i in range(12))
    return Pattern(knots, tuple(120.0 if i % 2 == 0 else 60.0 for i in range(12)))


def _patterns() -> dict[str, Pattern]:
    from labkit.workloads import Diurnal, Spike, Step

    return {
        "step": Step(30, 150, at=60),
        "spike": Spike(30, 200, at=120, length=240),
        "oscillating": _oscillating(),
        "daily wave": Diurnal(mean=75, peak=130, period=RUN_S, step=30, peak_at=RUN_S / 2),
    }


#: The panel's load patterns (requests per second over the run), by name; built on first use.
PATTERNS = ("step", "spike", "oscillating", "daily wave")
PATTERN_NOTES = {
    "step": "30 requests/s, then 150 from 60 s on",
    "spike": "30 requests/s with 200 for 4 minutes from 120 s",
    "oscillating": "120 and 60 requests/s, 90 s each",
    "daily wave": "a day's cycle squeezed into 15 minutes: 20 to 130 requests/s",
}


@functools.cache
def _pattern(name: str) -> Pattern:
    if name not in PATTERNS:
        raise ValueError(f"pattern {name!r}: choose one of {', '.join(PATTERNS)}")
    return _patterns()[name]


@functools.cache
def _manifest(which: str) -> list[dict[str, Any]]:
    from labkit.manifests import load_documents

    return load_documents(MANIFESTS[which])


def hpa_manifest(target: int = 60, min_replicas: int = 2, max_replicas: int = 10,
                 behavior: dict[str, Any] | None = None) -> dict[str, Any]:
    """The chapter's HPA (``data/manifests/autoscaling/hpa.yaml``) with these settings.

    Parameters
    ----------
    target:
        ``averageUtilization``: the CPU usage to keep, in percent of the pods' requests.
    min_replicas, max_replicas:
        The bounds the HPA scales within.
    behavior:
        ``spec.behavior`` (``None``: none, so the API server's defaults and the 300 s window apply).
    """
    hpa = copy.deepcopy(_manifest("hpa")[0])
    spec = hpa["spec"]
    spec["minReplicas"], spec["maxReplicas"] = min_replicas, max_replicas
    spec["metrics"][0]["resource"]["target"]["averageUtilization"] = target
    if behavior is not None:
        spec["behavior"] = copy.deepcopy(behavior)
    return hpa


def autoscaling_cluster(target: int = 60, min_replicas: int = 2, max_replicas: int = 10,
                        behavior: dict[str, Any] | None = None, nodes: int = 2,
                        elastic_max: int | None = None, instance_type: str = "ecs.g7.xlarge",
                        seed: int = 0) -> Cluster:
    """The chapter's cluster, settled: ``nodes`` ECS nodes, ``web`` and its Service, and the HPA.

    Parameters
    ----------
    target, min_replicas, max_replicas, behavior:
        The HPA's settings (see :func:`hpa_manifest`).
    nodes:
        Nodes of the fixed pool ``general``.
    elastic_max:
        With a number, also an autoscaled pool ``elastic`` of the same instance type, starting
        empty (``count=0, min_size=0, max_size=elastic_max``), for the cluster autoscaler.
    instance_type, seed:
        The ECS instance type of both pools and the cluster's seed.
    """
    import labkit

    c = labkit.Cluster(seed=seed)
    c.add_node_pool("general", instance_type=instance_type, count=nodes)
    if elastic_max is not None:
        c.add_node_pool("elastic", instance_type=instance_type, count=0, min_size=0, max_size=elastic_max)
    c.apply(copy.deepcopy(_manifest("web")) + [hpa_manifest(target, min_replicas, max_replicas, behavior)])
    c.run()
    return c


# -- sampling a run ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timeline:
    """What a run looked like, sampled every ``every_s`` seconds (``frame``), and its HPA's rescales.

    ``frame`` columns: ``t_s`` (seconds since the traffic started), ``rate_rps`` (the pattern's
    offered rate), ``replicas`` (the Deployment's ``spec.replicas``), ``ready`` (its ready pods),
    ``utilization_pct`` (the HPA's ``currentAverageUtilization``, blank before its first sample),
    ``pending`` (pods of ``web`` not yet on a node), ``nodes`` (Ready nodes) and ``p95_ms`` (p95
    latency of the requests sent in the interval ending at ``t_s``).
    ``rescales``: ``(t_s, from, to)`` per change of ``spec.replicas`` by the HPA.
    """

    frame: pd.DataFrame
    rescales: tuple[tuple[float, int, int], ...]
    target: int
    every_s: float
    summary: dict[str, Any] = field(default_factory=dict)


def _ready_nodes(c: Cluster) -> int:
    n = 0
    for node in c.api.items("Node"):
        for cond in (node.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") == "True":
                n += 1
    return n


def p95_over_time(traffic: Any, start_s: float, bin_s: float, bins: int) -> list[float]:
    """p95 latency (ms) of the requests sent in each of ``bins`` bins of ``bin_s`` from ``start_s``.

    Request mode: quantiles of the requests' latencies (``keep="summary"``: of their histograms,
    ``bin_s`` a multiple of 10 s, ``start_s`` too for exact bins). Fluid mode: the p95 of the
    mixture of the ticks' latency distributions (as ``FluidTraffic.summary`` computes it over the
    whole run). NaN where nothing was answered.
    """
    import numpy as np

    out = np.full(bins, np.nan)
    if getattr(traffic, "mode", "requests") == "fluid":
        from labkit.workloads.fluid import mixture_quantile

        # FluidTraffic.over_time gives p99 only; the same mixture, at 0.95, per bin.
        a = traffic._cols()
        has = a["ok"] > 0
        if has.any():
            g = np.floor((a["t"][has] - start_s) / bin_s + 1e-9).astype(int)
            keep = (g >= 0) & (g < bins)
            if keep.any():
                rows = np.flatnonzero(has)[keep]
                q = mixture_quantile([0.95], a["ok"][rows], traffic._params(a, rows), g[keep], bins)[0]
                present = np.bincount(g[keep], minlength=bins) > 0
                out[present] = 1000 * q[present]
        return out.tolist()
    if getattr(traffic, "keeps_summary", False):  # histograms per 10 s bucket, by the bucket's start
        ot = traffic.over_time(bin_s, quantile=0.95)
        g = np.floor((ot["t_s"].to_numpy(dtype=float) - start_s) / bin_s + 1e-9).astype(int)
        ok = (g >= 0) & (g < bins) & ot["p95_s"].notna().to_numpy()
        out[g[ok]] = 1000 * ot["p95_s"].to_numpy(dtype=float)[ok]
        return out.tolist()
    df = traffic.frame()
    df = df[df["status"] == "ok"]
    if len(df):
        g = np.floor((df["sent_s"].to_numpy() - start_s) / bin_s + 1e-9).astype(int)
        lat = df["latency_s"].to_numpy()
        for k in range(bins):
            sel = lat[g == k]
            if len(sel):
                out[k] = 1000 * float(np.quantile(sel, 0.95))
    return out.tolist()


def record(c: Cluster, traffic: Any, pattern: Pattern, duration: float, every_s: float = EVERY_S,
           hpa: str = "web", app: str = "web", pause: Callable[[], None] | None = None) -> Timeline:
    """Run ``c`` for ``duration`` seconds from now, while ``traffic`` (started now) flows.

    Every ``every_s`` seconds it reads the Deployment, the HPA's status, the pods and the nodes,
    as ``kubectl get`` would (the stored objects, read without copies); afterwards it adds the p95
    latency per interval. ``pause``, if given, is called before every sample (the panel's
    background runs wait there while the foreground works); it does not change the run.
    """
    import pandas as pd

    start = c.now
    target = c.get("HorizontalPodAutoscaler", hpa)["spec"]["metrics"][0]["resource"]["target"][
        "averageUtilization"]
    rows = []
    steps = int(math.ceil(duration / every_s - 1e-9))
    api = c.api
    for k in range(1, steps + 1):
        if pause is not None:
            pause()
        c.run(until=start + min(k * every_s, duration))
        # read-only views of the stored objects: what c.get / c.list return, without the copies
        dep = api.get("Deployment", app, "default", copy=False)
        status = api.get("HorizontalPodAutoscaler", hpa, "default", copy=False).get("status") or {}
        current = ((status.get("currentMetrics") or [{}])[0].get("resource") or {}).get("current") or {}
        pods = api.list("Pod", label_selector=f"app={app}", copy=False)
        rows.append({
            "t_s": round(c.now - start, 6),
            "rate_rps": float(pattern.rate(c.now - start - 1e-9)),
            "replicas": dep["spec"]["replicas"],
            "ready": (dep.get("status") or {}).get("readyReplicas", 0),
            "utilization_pct": current.get("averageUtilization"),
            "pending": sum(1 for p in pods if not p["spec"].get("nodeName")
                           and not p["metadata"].get("deletionTimestamp")),
            "nodes": _ready_nodes(c),
        })
    frame = pd.DataFrame(rows)
    frame["utilization_pct"] = frame["utilization_pct"].astype("Float64")
    frame["p95_ms"] = p95_over_time(traffic, start, every_s, len(rows))
    frame["p95_ms"] = frame["p95_ms"].round(1)
    rescales = []
    for t, _proposal, current, replicas in c.hpa_controller.history.get(("default", hpa), []):
        if replicas != current and t >= start:
            rescales.append((round(t - start, 3), int(current), int(replicas)))
    return Timeline(frame, tuple(rescales), int(target), float(every_s), _summary(frame, traffic, rescales))


def _summary(frame: pd.DataFrame, traffic: Any, rescales: list[tuple[float, int, int]]) -> dict[str, Any]:
    s = traffic.summary()
    p95 = frame["p95_ms"]
    pod_s = float((frame["replicas"] * frame["t_s"].diff().fillna(frame["t_s"])).sum()) if len(frame) else 0.0
    over = int((p95 > SLO_MS).sum())
    return {
        "sent": s["sent"], "failed": s["failed"],
        "p95_ms": None if s["p95_s"] is None else round(1000 * s["p95_s"], 1),
        "intervals_over_slo": over, "intervals": int(p95.notna().sum()),
        "scale_ups": sum(1 for _, a, b in rescales if b > a),
        "scale_downs": sum(1 for _, a, b in rescales if b < a),
        "max_replicas": int(frame["replicas"].max()) if len(frame) else 0,
        "pod_minutes": round(pod_s / 60, 1),
    }


def scale_changes(timeline: Timeline) -> dict[str, int]:
    """How often the HPA scaled up and down in the run."""
    return {"scale_ups": timeline.summary["scale_ups"], "scale_downs": timeline.summary["scale_downs"]}


# -- the panel's runs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AutoscaleRun:
    """One run of :func:`autoscale_run`: its settings and its :class:`Timeline`."""

    pattern: str
    target: int
    min_replicas: int
    max_replicas: int
    scale_down_window_s: int | None
    timeline: Timeline

    @property
    def frame(self) -> pd.DataFrame:
        return self.timeline.frame

    @property
    def title(self) -> str:
        window = ("default 300 s" if self.scale_down_window_s is None
                  else f"{self.scale_down_window_s} s")
        return (f"{self.pattern} load, target {self.target}%, {self.min_replicas}-{self.max_replicas} "
                f"replicas, scale-down window {window}")

    def summary_html(self) -> str:
        s = self.timeline.summary
        p95 = "none answered" if s["p95_ms"] is None else f"{s['p95_ms']:.0f} ms"
        slo = (f"<b style='color:#D55E00'>{s['intervals_over_slo']} of {s['intervals']} intervals over the "
               f"{SLO_MS:.0f} ms SLO</b>" if s["intervals_over_slo"] else f"every interval within the "
               f"{SLO_MS:.0f} ms SLO")
        failed = f", <b style='color:#D55E00'>{s['failed']:,} failed</b>" if s["failed"] else ""
        return (f"<p><b>{html.escape(self.title)}</b><br>{s['scale_ups']} scale-up"
                f"{'s' * (s['scale_ups'] != 1)}, {s['scale_downs']} scale-down{'s' * (s['scale_downs'] != 1)}"
                f", at most {s['max_replicas']} replicas, {s['pod_minutes']:g} pod-minutes; p95 of all "
                f"requests {p95}; {slo}{failed}.</p>")



def behavior_with_window(window_s: int | None) -> dict[str, Any] | None:
    """``spec.behavior`` that sets only the scale-down stabilization window (None: no behavior)."""
    if window_s is None:
        return None
    return {"scaleDown": {"stabilizationWindowSeconds": int(window_s)}}


_RUNS: dict[tuple[Any, ...], AutoscaleRun] = {}
_RUNS_LOCK = threading.Lock()


#: Runs being computed now (by the prefetcher), with the event set when each is in :data:`_RUNS`.
_IN_FLIGHT: dict[tuple[Any, ...], threading.Event] = {}
#: Set while no panel update is at work: background runs wait for it between samples, so that
#: they do not take turns with the foreground for the interpreter (each would run at half speed).
_FOREGROUND_IDLE = threading.Event()
_FOREGROUND_IDLE.set()


def _pause() -> None:
    """Where a background run waits while a panel update is at work (at most a few seconds)."""
    _FOREGROUND_IDLE.wait(timeout=5)


def _compute_run(key: tuple[Any, ...], pause: Callable[[], None] | None = None) -> AutoscaleRun:
    pattern, target, min_replicas, max_replicas, window, duration, seed = key
    c = autoscaling_cluster(target, min_replicas, max_replicas, behavior_with_window(window), seed=seed)
    c.run(until=math.ceil(c.now))
    load = _pattern(pattern)
    t = c.traffic(TARGET, rate=load, duration=duration, mode="fluid", tick=TICK_S)
    timeline = record(c, t, load, duration, pause=pause)
    return AutoscaleRun(pattern, target, min_replicas, max_replicas, window, timeline)


def _autoscale_run(*key: Any, background: bool = False) -> AutoscaleRun:
    """The run for ``key``, from :data:`_RUNS` or computed (and kept).

    In the foreground, a run the prefetcher is computing is waited for (with the foreground
    marked busy the prefetcher would otherwise pause it, so the foreground computes its own copy);
    in the background (``background=True``), the run pauses between samples while a panel update
    is at work.
    """
    with _RUNS_LOCK:
        run = _RUNS.get(key)
        if run is not None:
            return run
        done = _IN_FLIGHT.get(key)
        if done is None and background:
            done = _IN_FLIGHT[key] = threading.Event()
            mine = True
        else:
            mine = False
    if done is not None and not mine:
        # the prefetcher has it under way: let it finish (it pauses only for a busy foreground)
        busy = not _FOREGROUND_IDLE.is_set()
        _FOREGROUND_IDLE.set()
        done.wait(timeout=10)
        if busy:
            _FOREGROUND_IDLE.clear()
        with _RUNS_LOCK:
            run = _RUNS.get(key)
        if run is not None:
            return run
    try:
        run = _compute_run(key, pause=_pause if background else None)
        with _RUNS_LOCK:
            run = _RUNS.setdefault(key, run)
    finally:
        if mine:
            with _RUNS_LOCK:
                _IN_FLIGHT.pop(key, None)
            done.set()
    return run


class _Prefetcher:
    """Computes the runs one control step away from the panel's setting while the learner reads.

    A run costs about a tenth of a second of wall time, half an interaction's budget; one
    background thread fills :data:`_RUNS` with the neighbours of the setting shown (newest setting
    first), so that the next move of one control usually finds its run ready. It pauses between
    samples while a panel update is at work (:data:`_FOREGROUND_IDLE`), and a foreground that asks
    for the run under way waits for it instead of computing it twice. Results are the same as
    computed in the foreground (each run builds its own cluster from its seed).
    """

    def __init__(self) -> None:
        self._wanted: list[tuple[tuple[Any, ...], bool]] = []
        self._primer: Callable[[tuple[Any, ...], AutoscaleRun], None] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def want(self, keys: list[tuple[Any, ...]],
             primer: Callable[[tuple[Any, ...], AutoscaleRun], None] | None = None) -> None:
        """Compute these runs (dropping the ones wanted before); then, if the foreground is idle,
        ``primer(key, run)`` for each (the panel draws the static part of its figure)."""
        with self._lock:
            # the runs first (they pause for the foreground); then the drawings (they cannot)
            self._wanted = [(k, False) for k in keys if k not in _RUNS]
            if primer is not None:
                self._wanted += [(k, True) for k in keys]
            self._primer = primer
        self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="labkit-autoscaling-prefetch",
                                            daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            self._wake.wait(timeout=30)
            with self._lock:
                key, draw = self._wanted.pop(0) if self._wanted else (None, False)
                primer = self._primer
                if key is None:
                    self._wake.clear()
            if key is None:
                if not self._wake.wait(timeout=30):
                    return  # idle for half a minute: stop; the next want() starts a new thread
                continue
            # a failed prefetch only means the foreground computes that run (or draws it) itself
            with contextlib.suppress(Exception):
                run = _autoscale_run(*key, background=True)
                if draw and primer is not None and _FOREGROUND_IDLE.is_set():
                    primer(key, run)


_PREFETCH = _Prefetcher()


def autoscale_run(pattern: str = "step", target: int = 60, min_replicas: int = 2, max_replicas: int = 10,
                  scale_down_window_s: int | None = None, duration: float = RUN_S, seed: int = 0
                  ) -> AutoscaleRun:
    """Send one of :data:`PATTERNS` to ``web`` for ``duration`` seconds and record what the HPA does.

    Fluid traffic (``mode="fluid"``, one tick per 15 s scrape) keeps a run near a tenth of a second
    of wall time; results are kept per setting, so going back to one costs nothing.

    Parameters
    ----------
    pattern:
        One of :data:`PATTERNS` (see :data:`PATTERN_NOTES`).
    target:
        The HPA's target CPU utilization in percent (clamped to 10..100).
    min_replicas, max_replicas:
        The HPA's bounds (clamped to 1..14, the most the two nodes hold; ``max`` at least ``min``).
    scale_down_window_s:
        ``behavior.scaleDown.stabilizationWindowSeconds`` (None: no ``behavior``, the 300 s default).
    duration, seed:
        How long the traffic lasts and the cluster's seed.
    """
    if pattern not in PATTERNS:
        raise ValueError(f"pattern {pattern!r}: choose one of {', '.join(PATTERNS)}")
    return _autoscale_run(*_key(pattern, target, min_replicas, max_replicas, scale_down_window_s, seed,
                                duration))


def _key(pattern: str, target: Any, min_replicas: Any, max_replicas: Any, window: Any, seed: Any,
         duration: float = RUN_S) -> tuple[Any, ...]:
    """The settings of a run, clamped as :func:`autoscale_run` documents (its cache key)."""
    low = clamp(min_replicas, 1, 14)
    high = max(low, clamp(max_replicas, 1, 14))
    w = None if window is None else clamp(window, 0, 3600)
    return (pattern, clamp(target, 10, 100), low, high, w, float(duration), int(seed))


# -- a day with the cluster autoscaler --------------------------------------------------------------------
@dataclass(frozen=True)
class DayRun:
    """A simulated day of diurnal traffic with the HPA and the cluster autoscaler (:func:`day_run`).

    ``timeline`` as :func:`record` samples it; ``cost`` is ``c.cost()`` at the end of the day;
    ``fixed_cost_cny`` what the same day costs with the peak's node count all day long.
    """

    timeline: Timeline
    cost: pd.DataFrame
    peak_nodes: int
    fixed_cost_cny: float
    cluster: Cluster

    @property
    def cost_cny(self) -> float:
        return round(float(self.cost["cost_cny"].sum()), 2)


@functools.lru_cache(maxsize=8)
def _day_run(mean: float, peak: float, max_replicas: int, elastic_max: int, seed: int, mode: str) -> DayRun:
    from labkit.cloud.ecs import price
    from labkit.workloads import Diurnal

    c = autoscaling_cluster(60, 2, max_replicas, nodes=1, elastic_max=elastic_max, seed=seed)
    # requests: start on a whole minute, so the summary's 10 s buckets fill whole one-minute bins
    c.run(until=math.ceil(c.now) if mode == "fluid" else 60 * math.ceil(c.now / 60))
    day = 86400.0
    load = Diurnal(mean=mean, peak=peak, period=day, step=300)
    if mode == "fluid":
        t = c.traffic(TARGET, rate=load, duration=day, mode="fluid", tick=60.0)
    else:
        t = c.traffic(TARGET, rate=load, duration=day, keep="summary")
    timeline = record(c, t, load, day, every_s=60.0)
    cost = c.cost()
    peak_nodes = int(timeline.frame["nodes"].max())
    fixed = round(peak_nodes * 24 * price("ecs.g7.xlarge").cny_per_hour, 2)
    return DayRun(timeline, cost, peak_nodes, fixed, c)


def day_run(mean: float = 150, peak: float = 280, max_replicas: int = 30, elastic_max: int = 10,
            seed: int = 0, mode: str = "fluid") -> DayRun:
    """One simulated day (86,400 s) of ``Diurnal(mean, peak)`` traffic, highest at 18:00.

    One fixed ``ecs.g7.xlarge`` node (pool ``general``) and an empty autoscaled pool ``elastic``
    (``min_size=0, max_size=elastic_max``); the HPA scales ``web`` between 2 and ``max_replicas``
    at 60%, and the cluster autoscaler adds nodes for the pods that do not fit and removes the
    ones left idle. ``mode="fluid"``: fluid traffic with one-minute ticks (a few seconds of wall
    time); ``"requests"``: every request (~13 million with the defaults, ``keep="summary"``; about
    ten seconds). Sampled every minute; kept per setting.
    """
    if mode not in ("fluid", "requests"):
        raise ValueError(f"mode {mode!r}: 'fluid' (expected flows) or 'requests' (one by one)")
    return _day_run(float(mean), float(peak), int(max_replicas), int(elastic_max), int(seed), mode)


# -- the panel ------------------------------------------------------------------------------------------
def _labelled(cls: Any, label_px: int, box_px: int, **kwargs: Any) -> Any:
    import ipywidgets as widgets

    return cls(style={"description_width": f"{label_px}px"},
               layout=widgets.Layout(width=f"{label_px + box_px}px"), **kwargs)


#: A slider's readout takes about 96 px of its width; the track keeps at least 120 px.
SLIDER_READOUT_PX = 96
TRACK_PX = 150
LABEL_PX = 150
#: The scale-down windows the panel offers (seconds; "default" is no behavior at all).
WINDOWS = (0, 60, 120, 180, 240, 300)
#: Resolution of the panel's figure (the notebook's own figures use matplotlib's default).
PANEL_DPI = 90
#: Static backgrounds the panel's Blitter keeps (about 1.5 MB each): one per pattern, target,
#: maxReplicas and axis limits seen.
BACKGROUNDS = 16


class _PanelBlitter(Blitter):
    """The panel's :class:`Blitter`, keeping :data:`BACKGROUNDS`, whose static parts the prefetcher
    can draw ahead (:meth:`prime`) from its own thread.

    :meth:`prime` only ever adds a background (under the key :meth:`Blitter.render` looks it up by),
    never removes one, so a render in the foreground never loses the one it found.
    """

    KEEP = BACKGROUNDS

    def prime(self, fig: Any, changing: Any, key: Any) -> None:
        import numpy as np
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        full = (key, tuple(fig.get_size_inches()), fig.dpi)  # as Blitter.render keys it
        if full in self._backgrounds or len(self._backgrounds) >= self.KEEP - 1:
            return
        for artist in changing:
            artist.set_animated(True)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        self._backgrounds.setdefault(full, np.array(canvas.get_renderer().buffer_rgba()))


def autoscaling_panel(pattern: str = "oscillating", target: int = 60, min_replicas: int = 2,
                      max_replicas: int = 10, scale_down_window_s: int = 300, seed: int = 0,
                      prefetch: bool = True) -> ipywidgets.VBox:
    """Load pattern, target utilization, min/max replicas and the scale-down window; shows the run.

    Returns
    -------
    ipywidgets.VBox
        ``children``: the pattern buttons, two rows of sliders (target, window; min, max), the
        summary (HTML), and the figure (Image, :func:`labkit.plots.autoscaling_figure`). Its plain
        text is ``Interactive panel (autoscaling): run this cell to display it.``

    With ``prefetch`` a background thread computes the runs one move away from the setting shown
    (:class:`_Prefetcher`), so that most moves find their run ready.
    """
    import ipywidgets as widgets

    from labkit.plots import autoscaling_changing, autoscaling_figure, autoscaling_static_key

    blitter = _PanelBlitter()
    primed: set[tuple[Any, ...]] = set()

    def figure(run: AutoscaleRun) -> Any:
        return autoscaling_figure(run.frame, target=run.target, slo_ms=SLO_MS, title=run.title,
                                  max_replicas=run.max_replicas, dpi=PANEL_DPI)

    def prime(key: tuple[Any, ...], run: AutoscaleRun) -> None:
        """In the prefetcher's thread: the static part of a neighbour's figure, if it is a new one."""
        if key in primed or key[0] == choice.value:
            return  # the same load: most likely the same static part as the figure shown
        primed.add(key)
        fig = figure(run)
        blitter.prime(fig, autoscaling_changing(fig), autoscaling_static_key(fig, run.pattern))
    choice = widgets.ToggleButtons(options=list(PATTERNS), value=pattern if pattern in PATTERNS else "step",
                                   style={"button_width": "auto"})
    note = widgets.HTML()
    width = TRACK_PX + SLIDER_READOUT_PX
    target_s = _labelled(widgets.IntSlider, LABEL_PX, width, description="target utilization (%)",
                         value=clamp(target, 30, 90), min=30, max=90, step=10, continuous_update=False)
    window_s = _labelled(widgets.SelectionSlider, LABEL_PX, width, description="scale-down window (s)",
                         options=list(WINDOWS),
                         value=min(WINDOWS, key=lambda w: abs(w - scale_down_window_s)),
                         continuous_update=False)
    low_s = _labelled(widgets.IntSlider, LABEL_PX, width, description="minReplicas",
                      value=clamp(min_replicas, 1, 6), min=1, max=6, continuous_update=False)
    high_s = _labelled(widgets.IntSlider, LABEL_PX, width, description="maxReplicas",
                       value=clamp(max_replicas, 2, 14), min=2, max=14, continuous_update=False)
    summary = widgets.HTML()
    image = widgets.Image(format="png", layout=widgets.Layout(width="auto", height="auto",
                                                              object_fit="contain"))

    def neighbours() -> list[tuple[Any, ...]]:
        """The settings one move away from the one shown, the likeliest first."""
        here = {"pattern": choice.value, "target": target_s.value, "low": low_s.value,
                "high": high_s.value, "window": window_s.value}
        w = WINDOWS.index(here["window"])
        # the window and the patterns first: the chapter's story (flapping, and what each load
        # does to it), and a pattern is one click away
        moves = [("window", WINDOWS[w + 1] if w + 1 < len(WINDOWS) else None),
                 ("window", WINDOWS[w - 1] if w > 0 else None)]
        moves += [("pattern", p) for p in PATTERNS if p != here["pattern"]]
        moves += [("target", here["target"] + 10 if here["target"] < 90 else None),
                 ("target", here["target"] - 10 if here["target"] > 30 else None),
                 ("high", here["high"] + 1 if here["high"] < 14 else None),
                 ("high", here["high"] - 1 if here["high"] > max(2, here["low"]) else None),
                 ("low", here["low"] + 1 if here["low"] < min(6, here["high"]) else None),
                 ("low", here["low"] - 1 if here["low"] > 1 else None)]
        keys = []
        for name, value in moves:
            if value is None:
                continue
            s = dict(here, **{name: value})
            keys.append(_key(s["pattern"], s["target"], s["low"], s["high"], s["window"], seed))
        return keys

    def update(_: Any = None) -> None:
        low, high = low_s.value, high_s.value
        note.value = f"<span style='color:#555'>{html.escape(PATTERN_NOTES[choice.value])}</span>"
        if high < low:
            summary.value = (f"<p><b style='color:#D55E00'>HorizontalPodAutoscaler.autoscaling \"web\" is "
                             f"invalid: spec.maxReplicas: Invalid value: {high}: must be greater than or "
                             f"equal to `minReplicas`</b> ({low}); move one of them.</p>")
            return
        _FOREGROUND_IDLE.clear()  # background runs pause until the figure is out
        try:
            run = autoscale_run(choice.value, target_s.value, low, high, window_s.value, seed=seed)
            fig = figure(run)
            # the axes, legends and load drawn once per pattern, limits and legend texts; the
            # run's lines on top (the same pixels as a full draw)
            image.value = blitter.render(fig, autoscaling_changing(fig),
                                         autoscaling_static_key(fig, run.pattern))
            summary.value = run.summary_html()
        finally:
            _FOREGROUND_IDLE.set()
        if prefetch:
            _PREFETCH.want(neighbours(), prime)

    for control in (choice, target_s, window_s, low_s, high_s):
        control.observe(update, names="value")
    update()
    rows = [widgets.HBox([target_s, window_s], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([low_s, high_s], layout=widgets.Layout(flex_flow="row wrap"))]
    return panel([widgets.HTML("<b>load pattern:</b>"), choice, note, *rows, summary, image], "autoscaling",
                 "labkit-autoscaling", layout=widgets.Layout(align_items="flex-start"))


# -- the HPA's inputs by hand ---------------------------------------------------------------------------
def hpa_inputs(samples: dict[str, str], request: str = "500m", target: int = 60, min_replicas: int = 2,
               max_replicas: int = 10, started_s_ago: float = 600.0, no_sample: tuple[str, ...] = (),
               now: float = 3600.0) -> dict[str, Any]:
    """The arguments of :func:`labkit.hpa.reconcile` for pods of ``web`` with these CPU samples.

    Every pod (``samples``' keys, then ``no_sample``) runs one container requesting ``request`` of
    CPU, started ``started_s_ago`` seconds before ``now`` and Ready since 5 s after it started;
    ``no_sample`` pods have no metrics-server sample yet. The HPA is the chapter's (as stored, no
    ``behavior``), and the Deployment's scale is the number of pods.

    Returns
    -------
    dict
        ``hpa``, ``now``, ``scale``, ``pods`` and ``metrics``, ready for ``reconcile(**inputs)``.
    """
    from labkit.controllers.podautoscaler.clock import format_time

    names = list(samples) + [p for p in no_sample if p not in samples]
    start, ready = format_time(now - started_s_ago), format_time(now - started_s_ago + 5)
    pods = [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                 "resources": {"requests": {"cpu": request}}}]},
        "status": {"phase": "Running", "startTime": start,
                   "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": ready}]},
    } for name in names]
    metrics = {"timestamp": format_time(now - 5), "window_s": 15.0,
               "pods": {name: {"cpu": cpu} for name, cpu in samples.items()}}
    hpa = hpa_manifest(target, min_replicas, max_replicas)
    hpa["metadata"]["namespace"] = "default"
    return {"hpa": hpa, "now": format_time(now), "scale": {"spec_replicas": len(names),
                                                          "status_replicas": len(names)},
            "pods": pods, "metrics": metrics}


def flapping_run(behavior: dict[str, Any] | None, seed: int = 0) -> Timeline:
    """The oscillating load of :data:`PATTERNS` against the chapter's HPA with this ``spec.behavior``.

    A fresh cluster, 15 minutes of fluid traffic; returns the :class:`Timeline`. Raises
    ``labkit.ManifestError`` when the API server refuses the HPA.
    """
    c = autoscaling_cluster(behavior=behavior, seed=seed)
    c.run(until=math.ceil(c.now))
    load = _pattern("oscillating")
    t = c.traffic(TARGET, rate=load, duration=RUN_S, mode="fluid", tick=TICK_S)
    return record(c, t, load, RUN_S)

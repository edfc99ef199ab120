"""metrics-server: the ``metrics.k8s.io`` API, served from memory (it is an addon, not etcd).

Upstream: ``kubernetes-sigs/metrics-server`` — ``cmd/metrics-server/app/options/options.go``
(``--metric-resolution``), ``pkg/scraper`` (one scrape of every node's kubelet per resolution),
``pkg/storage/pod.go`` and ``node.go`` (the last two points per container / node),
``pkg/storage/types.go`` (``resourceUsage``). Spec sections 12.2 and 2.6.

- **Scrape.** Every ``resolution`` seconds (``--metric-resolution``: 15 s, as the published
  manifests and Helm chart run it; the code default is 60 s) it reads every node's kubelet
  (``/metrics/resource``, :func:`kubelet_resource_metrics`): per running container the
  cumulative CPU time, the working set and the start time, all stamped with the scrape instant;
  per node the node totals. A failed node answers nothing: its pods and the node drop out of the
  store at that scrape (as a batch without them replaces the stored one). The scrape loop sleeps
  on daemon timeouts, so it never keeps ``c.run()`` going alone. Its first scrape is at the
  cluster's start; it is not aligned with the HPA's 15 s sync (two clocks, spec 2.6).
- **Store** (``podStorage.Store``): the new point is ``last``; the previous one moves to ``prev``
  when the container did not restart (start time before the stored timestamp); a container that
  started between 10 s (``freshContainerMinMetricsResolution``) and one resolution before its
  point gets an implicit previous point (its start time, zero CPU), so it has usage after one
  scrape; otherwise it needs two.
- **Usage** (``resourceUsage``): CPU = ``(cpu₂ − cpu₁) / (t₂ − t₁)`` in whole nanocores
  (truncated), memory = the last working set, ``window = t₂ − t₁``, ``timestamp = t₂``; a
  decreased counter or start time skips that container.
- **PodMetrics** (``podStorage.GetMetrics``) exist only when every container of the pod's last
  point has a previous point; timestamp and window are the earliest container's.

The read interface for the HPA controller is :meth:`MetricsServer.pod_metrics` (the ``metrics``
argument of ``labkit.hpa.reconcile``); ``c.metrics("Pod")`` / ``c.metrics("Node")`` are
``kubectl top pod`` / ``kubectl top node``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.api.quantity import format_bytes, format_cpu
from labkit.api.store import timestamp
from labkit.metrics.usage import (
    NODE_SYSTEM_CPU_CORES,
    NODE_SYSTEM_MEMORY_BYTES,
    counters,
    cpu_seconds,
    memory_bytes,
)

if TYPE_CHECKING:
    from labkit.api.server import APIServer
    from labkit.network.dataplane import DataPlane
    from labkit.sim import LabEnvironment

__all__ = ["MetricsServer", "Point", "kubelet_resource_metrics", "METRIC_RESOLUTION",
           "FRESH_CONTAINER_MIN_RESOLUTION", "REQUESTS_PER_SECOND"]

#: ``--metric-resolution`` as the published manifests (``manifests/base/deployment.yaml``) and the
#: Helm chart set it; ``options.go``'s own default is 60 s.
METRIC_RESOLUTION = 15.0
#: ``freshContainerMinMetricsResolution`` (``pkg/storage/pod.go``).
FRESH_CONTAINER_MIN_RESOLUTION = 10.0
#: The Pods custom metric prometheus-adapter would serve from the app's request counter.
REQUESTS_PER_SECOND = "requests_per_second"


@dataclass(frozen=True)
class Point:
    """One ``MetricsPoint``: start time, timestamp (simulated s), cumulative CPU (core·ns),
    working set (bytes), and the app's cumulative served requests (for the custom metric)."""

    start: float
    ts: float
    cpu_ns: int
    memory: int
    requests: float = 0.0


def kubelet_resource_metrics(dp: DataPlane, node: str, t: float, node_start: float
                             ) -> tuple[Point, dict[tuple[str, str], dict[str, Point]]]:
    """What node ``node``'s kubelet answers on ``/metrics/resource`` at ``t``: the node point and,
    per running pod ``(namespace, name)``, a point per running container. The decoder turns
    seconds into nanoseconds with ``uint64(value * 1e9)`` (``pkg/scraper/client/resource/decode.go``)."""
    pods: dict[tuple[str, str], dict[str, Point]] = {}
    node_cpu = NODE_SYSTEM_CPU_CORES * max(0.0, t - node_start)
    node_mem = NODE_SYSTEM_MEMORY_BYTES
    mine = dp.containers_on(node)
    gone = [s for s in mine if s.exit_at <= t]
    if gone:  # the node total keeps what exited containers used
        dp.retired_cpu[node] = dp.retired_cpu.get(node, 0.0) + sum(cpu_seconds(s, t) for s in gone)
        mine[:] = [s for s in mine if s.exit_at > t]
    node_cpu += dp.retired_cpu.get(node, 0.0)
    node_mem += dp.sandbox_memory(node)  # VM sandboxes (Kata): their RuntimeClass's memory overhead
    for sock in mine:
        if sock.started > t:
            continue
        cpu, done = counters(sock, t)
        node_cpu += cpu
        mem = memory_bytes(sock)
        node_mem += mem
        pods.setdefault((sock.namespace, sock.name), {})[sock.container] = Point(
            sock.started, t, int(cpu * 1e9), mem, done)
    return Point(node_start, t, int(node_cpu * 1e9), node_mem), pods


def _usage(last: Point, prev: Point) -> tuple[int, int, float, float, float] | None:
    """``resourceUsage`` (types.go): nanocores (truncated), bytes, timestamp, window; and the
    served-requests rate. None for a decreased start time or counter (the container is skipped)."""
    if last.start < prev.start or last.cpu_ns < prev.cpu_ns:
        return None
    window = last.ts - prev.ts
    nanocores = int((last.cpu_ns - prev.cpu_ns) / window)  # uint64(float64(Δ) / window.Seconds())
    rps = max(0.0, last.requests - prev.requests) / window
    return nanocores, last.memory, last.ts, window, rps


def cpu_quantity(nanocores: int) -> str:
    """CPU as the HPA reads it: ``Quantity.MilliValue()`` (rounded up) of the nanocore value, so
    ``48_100_000n`` is ``"49m"``, what ``metrics/client.go`` sums (``resValue.MilliValue()``)."""
    return format_cpu(-(-nanocores // 1_000_000))


class MetricsServer:
    """The metrics-server addon: scrapes kubelets, keeps two points per container, serves usage."""

    def __init__(self, env: LabEnvironment, api: APIServer, dataplane: DataPlane,
                 resolution: float = METRIC_RESOLUTION) -> None:
        if isinstance(resolution, bool) or not isinstance(resolution, (int, float)) or resolution < 10:
            # options.go: "metric-resolution should be a time duration at least 10s"
            raise ValueError(f"resolution {resolution!r}: --metric-resolution must be at least 10 s")
        self.env = env
        self.api = api
        self.dp = dataplane
        self.resolution = float(resolution)
        self._node_start: dict[str, float] = {}
        self.last: dict[tuple[str, str], dict[str, Point]] = {}
        self.prev: dict[tuple[str, str], dict[str, Point]] = {}
        self.node_last: dict[str, Point] = {}
        self.node_prev: dict[str, Point] = {}
        self.scrapes = 0
        self.last_scrape_s = float(env.now)
        api.watch("Node", self._on_node)
        for node in api.items("Node"):
            self._node_start.setdefault(node["metadata"]["name"], float(env.now))
        env.process(self._loop())

    def _on_node(self, ev: Any) -> None:
        name = ev.object["metadata"]["name"]
        if ev.type == "ADDED":
            self._node_start.setdefault(name, float(self.env.now))  # the node's boot
        elif ev.type == "DELETED":
            self._node_start.pop(name, None)

    def _loop(self):
        while True:
            self.scrape()
            yield self.env.daemon_timeout(self.resolution)

    # -- scraping and storing (pkg/scraper, pkg/storage) --------------------------------------------
    def scrape(self) -> None:
        """One tick: read every reachable node's kubelet and store the batch."""
        t = float(self.env.now)
        self.dp.sync()  # lazy writers of usage (fluid traffic) catch up to t
        nodes: dict[str, Point] = {}
        pods: dict[tuple[str, str], dict[str, Point]] = {}
        for name in sorted(self._node_start):
            if name in self.dp.down:
                continue  # the scrape times out: nothing from that node this round
            node_point, node_pods = kubelet_resource_metrics(self.dp, name, t, self._node_start[name])
            nodes[name] = node_point
            pods.update(node_pods)
        self._store_nodes(nodes)
        self._store_pods(pods)
        self.scrapes += 1
        self.last_scrape_s = t

    def _store_pods(self, batch: dict[tuple[str, str], dict[str, Point]]) -> None:
        last, prev = {}, {}
        for ref, containers in batch.items():
            new_prev = {}
            old_last = self.last.get(ref, {})
            old_prev = self.prev.get(ref, {})
            for name, p in containers.items():
                age = p.ts - p.start
                if p.start < p.ts and FRESH_CONTAINER_MIN_RESOLUTION <= age < self.resolution:
                    new_prev[name] = Point(p.start, p.start, 0, p.memory, 0.0)  # the implicit first point
                    continue
                lc = old_last.get(name)
                if lc is not None and p.start < lc.ts:  # not restarted since the stored point
                    if p.ts > lc.ts:
                        new_prev[name] = lc
                    elif name in old_prev and old_prev[name].ts < p.ts:
                        new_prev[name] = old_prev[name]
            if new_prev:
                prev[ref] = new_prev
            last[ref] = containers
        self.last, self.prev = last, prev

    def _store_nodes(self, batch: dict[str, Point]) -> None:
        prev = {}
        for name, p in batch.items():
            lp = self.node_last.get(name)
            if lp is not None:
                if p.ts > lp.ts:
                    prev[name] = lp
                elif name in self.node_prev and self.node_prev[name].ts < p.ts:
                    prev[name] = self.node_prev[name]
        self.node_last, self.node_prev = batch, prev

    # -- reading (the metrics.k8s.io API) -------------------------------------------------------------
    def _pod(self, ref: tuple[str, str]) -> dict[str, Any] | None:
        """``podStorage.GetMetrics`` for one pod: None when some container has no usage yet."""
        last, prev = self.last.get(ref), self.prev.get(ref)
        if last is None or prev is None:
            return None
        cpu = mem = 0
        rps = 0.0
        earliest = None
        containers = {}
        for name, lc in last.items():
            pc = prev.get(name)
            if pc is None:
                return None  # not every container has usage yet
            u = _usage(lc, pc)
            if u is None:
                continue  # "Skipping container usage metric"
            containers[name] = {"cpu_nanocores": u[0], "memory_bytes": u[1]}
            cpu += u[0]
            mem += u[1]
            rps += u[4]
            if earliest is None or u[2] < earliest[0]:
                earliest = (u[2], u[3])
        if earliest is None:
            return None
        return {"namespace": ref[0], "pod": ref[1], "cpu_nanocores": cpu, "memory_bytes": mem,
                "timestamp_s": earliest[0], "window_s": earliest[1], "requests_per_second": rps,
                "containers": containers}

    def _listed(self, namespace: str | None, names: Iterable[str] | None) -> list[tuple[str, str]]:
        if names is not None:
            if isinstance(names, str):
                names = [names]
            refs = [(namespace or "default", n) for n in names]
        else:
            refs = sorted(r for r in self.last if namespace is None or r[0] == namespace)
        # the API lists pods from its informer: a pod gone from the API has no PodMetrics
        return [r for r in refs if self.api.peek("Pod", r[1], r[0]) is not None]

    def pod_usage(self, namespace: str | None = None, names: Iterable[str] | None = None
                  ) -> list[dict[str, Any]]:
        """PodMetrics with the exact numbers: per pod ``cpu_nanocores``, ``memory_bytes``,
        ``timestamp_s``, ``window_s``, ``requests_per_second`` and per-container usage."""
        out = []
        for ref in self._listed(namespace, names):
            m = self._pod(ref)
            if m is not None:
                out.append(m)
        return out

    def pod_metrics(self, namespace: str, names: Iterable[str] | None = None) -> dict[str, Any]:
        """The ``metrics`` argument of ``labkit.hpa.reconcile``::

            {"timestamp": "2026-01-01T00:02:00.000000Z", "window_s": 15.0,
             "pods": {"web-7d4b9-abcde": {"cpu": "49m", "memory": "8Mi", "requests_per_second": "9633m"}}}

        A pod absent from ``pods`` has no sample (new, or not every container has two points).
        ``cpu`` is the millicores the HPA's metrics client reads (``MilliValue``, rounded up) of the
        nanocore usage; ``memory`` the working set in bytes (canonical BinarySI); the Pods custom
        metric ``requests_per_second`` (what prometheus-adapter would serve from the app's request
        counter) in milli-units, truncated. ``timestamp``/``window_s`` are those of the first pod
        listed (by name), as ``GetResourceMetric`` in ``metrics/client.go`` returns
        ``metrics.Items[0].Timestamp``; when no pod has a sample, those of the last scrape.
        """
        items = self.pod_usage(namespace, names)
        pods = {m["pod"]: {"cpu": cpu_quantity(m["cpu_nanocores"]), "memory": format_bytes(m["memory_bytes"]),
                           REQUESTS_PER_SECOND: format_cpu(math.floor(m["requests_per_second"] * 1000))}
                for m in items}
        if items:
            ts, window = items[0]["timestamp_s"], items[0]["window_s"]
        else:
            ts, window = self.last_scrape_s, self.resolution
        return {"timestamp": timestamp(ts, micro=True), "window_s": float(window), "pods": pods}

    def node_usage(self) -> list[dict[str, Any]]:
        """NodeMetrics: per node ``cpu_nanocores``, ``memory_bytes``, ``timestamp_s``, ``window_s``."""
        out = []
        for name in sorted(self.node_last):
            lp, pp = self.node_last[name], self.node_prev.get(name)
            if pp is None or self.api.peek("Node", name, None) is None:
                continue
            u = _usage(lp, pp)
            if u is not None:
                out.append({"node": name, "cpu_nanocores": u[0], "memory_bytes": u[1], "timestamp_s": u[2],
                            "window_s": u[3]})
        return out

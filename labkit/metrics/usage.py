"""Each container's cgroup counters, as the kubelet's resource metrics endpoint reports them.

The kubelet's ``/metrics/resource`` (port 10250) gives, per running container, the cumulative
CPU time (``container_cpu_usage_seconds_total``), the memory working set
(``container_memory_working_set_bytes``) and the start time, and per node the same two node
totals; metrics-server turns two such points into a rate (:mod:`labkit.metrics.server`). This
module computes those counters for the sockets/cgroups of :mod:`labkit.network.dataplane`:

- **Fixed usage.** ``labkit.io/usage-cpu: "250m"`` makes the container use 0.25 cores from its
  start; ``labkit.io/usage-memory: "300Mi"`` fixes its working set (KWOK's
  ``kwok.x-k8s.io/usage-cpu`` is the precedent).
- **Derived usage.** Otherwise CPU is an idle baseline (:data:`IDLE_CPU_CORES`) plus
  ``labkit.io/cpu-per-request`` for every request the container served, each request's cost
  spread evenly over its service span (the traffic engine's ``work_start``/``work_end``; fluid
  traffic's per-tick rows); memory is the baseline :data:`IDLE_MEMORY_BYTES`. A container without
  traffic and without annotations uses the baseline. Only the serving (first) container reads
  the pod's annotations; the pod's other containers run at the baseline.
- **CPU limit** (CFS quota, spec 12.1, ``pkg/kubelet/cm/helpers_linux.go``): per one-second bin
  (ten 100 ms CFS periods) ``usage = min(baseline + demand, limit)``, so over any window of whole
  seconds usage never exceeds the limit; the latency side is the engine's rule
  (:mod:`labkit.workloads.engine`). Nodes are taken as uncontended: CPU weights
  (``cpu.shares`` from requests) never bite, and a node's usage is not capped at its capacity.

The counters are exact at whole seconds (metrics-server scrapes at whole seconds of simulated
time); within a second the current bin is interpolated linearly. Work is folded into per-second
bins lazily, when a counter is read, so the traffic engine only appends two floats per request.
The kubelet's own sampling (cAdvisor housekeeping, 10-15 s) is not modelled: counters are exact.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.network.dataplane import AppSocket

__all__ = ["IDLE_CPU_CORES", "IDLE_MEMORY_BYTES", "NODE_SYSTEM_CPU_CORES", "NODE_SYSTEM_MEMORY_BYTES",
           "cpu_seconds", "served", "memory_bytes"]

#: An idle container's CPU: 1m (a web server between requests; illustrative).
IDLE_CPU_CORES = 0.001
#: An idle container's memory working set: 8 MiB (nginx after start; illustrative).
IDLE_MEMORY_BYTES = 8 * 1024 * 1024
#: What a node runs besides pods (kubelet, containerd, the OS): counted in the node's totals
#: (``node_cpu_usage_seconds_total``, ``node_memory_working_set_bytes``), illustrative.
NODE_SYSTEM_CPU_CORES = 0.05
NODE_SYSTEM_MEMORY_BYTES = 512 * 1024 * 1024

_GROW = 4096


class _Bins:
    """Per-second bins of one container: demanded CPU (core-seconds) and requests served."""

    __slots__ = ("b0", "demand", "done", "nw", "nf", "fin", "u_total", "d_total")

    def __init__(self, started: float) -> None:
        import numpy as np

        self.b0 = math.floor(started)  # absolute second of bin 0
        self.demand = np.zeros(_GROW)
        self.done = np.zeros(_GROW)
        self.nw = 0  # request rows folded
        self.nf = 0  # fluid rows folded
        self.fin = 0  # bins [0, fin) are summed into u_total / d_total
        self.u_total = 0.0
        self.d_total = 0.0

    def grow(self, n: int) -> None:
        import numpy as np

        if n > len(self.demand):
            size = max(n, 2 * len(self.demand))
            for name in ("demand", "done"):
                old = getattr(self, name)
                new = np.zeros(size)
                new[:len(old)] = old
                setattr(self, name, new)


def _spread(target: Any, s: Any, e: Any, w: Any, b0: int) -> None:
    """Add weight ``w[i]`` spread evenly over ``[s[i], e[i])`` into the per-second ``target``."""
    import numpy as np

    i0 = np.floor(s).astype(np.int64) - b0
    i1 = np.floor(e).astype(np.int64) - b0
    lo = int(i0.min())  # work on the bins these rows touch only
    b0 += lo
    i0, i1 = i0 - lo, i1 - lo
    target = target[lo:lo + int(i1.max()) + 2]  # a view: += writes through
    dur = e - s
    n = len(target)
    one = (i1 <= i0) | (dur <= 0)
    if one.any():
        target += np.bincount(i0[one], weights=w[one], minlength=n)[:n]
    m = ~one
    if not m.any():
        return
    i0, i1, s, e = i0[m], i1[m], s[m], e[m]
    r = w[m] / dur[m]
    target += np.bincount(i0, weights=r * ((i0 + 1 + b0) - s), minlength=n)[:n]
    target += np.bincount(i1, weights=r * (e - (i1 + b0)), minlength=n)[:n]
    mid = i1 > i0 + 1
    if mid.any():
        d = np.bincount(i0[mid] + 1, weights=r[mid], minlength=n + 1)[:n + 1]
        d -= np.bincount(i1[mid], weights=r[mid], minlength=n + 1)[:n + 1]
        target += np.cumsum(d)[:n]


def _fold(sock: AppSocket) -> _Bins:
    import numpy as np

    b = sock.usage
    if b is None:
        b = sock.usage = _Bins(sock.started)
    nw, nf = len(sock.work_start), len(sock.fluid_start)
    if nw > b.nw:
        s = np.frombuffer(sock.work_start, dtype=np.float64)[b.nw:nw]
        e = np.frombuffer(sock.work_end, dtype=np.float64)[b.nw:nw]
        b.grow(int(math.floor(float(e.max()))) - b.b0 + 2)
        if sock.cpu_per_request:
            _spread(b.demand, s, e, np.full(len(s), sock.cpu_per_request), b.b0)
        k = np.floor(e).astype(np.int64) - b.b0
        lo = int(k.min())
        counts = np.bincount(k - lo)
        b.done[lo:lo + len(counts)] += counts
        b.nw = nw
    if nf > b.nf:
        s = np.frombuffer(sock.fluid_start, dtype=np.float64)[b.nf:nf]
        e = np.frombuffer(sock.fluid_end, dtype=np.float64)[b.nf:nf]
        w = np.frombuffer(sock.fluid_n, dtype=np.float64)[b.nf:nf]
        b.grow(int(math.floor(float(e.max()))) - b.b0 + 2)
        if sock.cpu_per_request:
            _spread(b.demand, s, e, w * sock.cpu_per_request, b.b0)
        _spread(b.done, s, e, w, b.b0)
        b.nf = nf
    return b


def _usage(sock: AppSocket, b: _Bins, lo: int, hi: int) -> Any:
    """CPU core-seconds counted in bins ``[lo, hi)``: min(baseline + demand, limit) × time alive."""
    import numpy as np

    k = np.arange(lo, hi, dtype=np.float64) + b.b0
    alive = np.clip(np.minimum(k + 1, sock.exit_at) - np.maximum(k, sock.started), 0.0, 1.0)
    if sock.usage_cpu is not None:
        rate = sock.usage_cpu if sock.cpu_limit is None else min(sock.usage_cpu, sock.cpu_limit)
        return rate * alive
    b.grow(hi)
    u = IDLE_CPU_CORES * alive + b.demand[lo:hi]
    if sock.cpu_limit is not None:
        u = np.minimum(u, sock.cpu_limit * alive)
    return u


def _cumulative(sock: AppSocket, t: float, which: str) -> float:
    t = min(t, sock.exit_at)
    if t <= sock.started:
        return 0.0
    b = _fold(sock)
    kt = math.floor(t) - b.b0  # the bin t falls in
    if kt > b.fin:
        b.grow(kt + 1)
        b.u_total += float(_usage(sock, b, b.fin, kt).sum())
        b.d_total += float(b.done[b.fin:kt].sum())
        b.fin = kt
    start = max(kt + b.b0, sock.started)
    span = min(kt + b.b0 + 1, sock.exit_at) - start
    frac = (t - start) / span if span > 0 else 0.0
    if which == "cpu":
        return b.u_total + float(_usage(sock, b, kt, kt + 1)[0]) * frac
    b.grow(kt + 1)
    return b.d_total + float(b.done[kt]) * frac


def cpu_seconds(sock: AppSocket, t: float) -> float:
    """The container's cumulative CPU time at ``t`` (core-seconds since its start)."""
    return _cumulative(sock, t, "cpu")


def served(sock: AppSocket, t: float) -> float:
    """Requests the container finished serving by ``t`` (fluid traffic: expected, fractional)."""
    if not sock.serving:
        return 0.0
    return _cumulative(sock, t, "done")


def memory_bytes(sock: AppSocket) -> int:
    """The container's memory working set (bytes)."""
    return sock.usage_memory if sock.usage_memory is not None else IDLE_MEMORY_BYTES

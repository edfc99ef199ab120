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
Fluid traffic computes its ticks on demand (:class:`labkit.workloads.fluid.FluidEngine`):
metrics-server calls ``DataPlane.sync()`` before it reads; another reader during a run should too.
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


def _spread_rows(s: Any, e: Any, w: Any, b0: int) -> tuple[Any, Any, Any]:
    """Where ``w[i]`` spread evenly over ``[s[i], e[i])`` goes, as ``(bins, weights)`` with each
    row's first and last bin next to each other (added in that order, the sums do not depend on
    how the rows were batched), plus the rows that also cover whole bins in between (or None)."""
    import numpy as np

    i0 = s.astype(np.int64)  # times are >= 0: truncation is the floor
    i1 = e.astype(np.int64)
    dur = e - s
    one = (i1 <= i0) | (dur <= 0)
    if not one.any():  # every row covers two or more bins (the same values as below)
        r = w / dur
        idx = np.stack([i0, i1], axis=1).ravel() - b0
        val = np.stack([r * ((i0 + 1) - s), r * (e - i1)], axis=1).ravel()
    elif one.all():
        return i0 - b0, w, None
    else:
        r = w / np.where(one, 1.0, dur)
        first = np.where(one, w, r * ((i0 + 1) - s))
        last = np.where(one, 0.0, r * (e - i1))
        idx = np.stack([i0, np.where(one, i0, i1)], axis=1).ravel() - b0
        val = np.stack([first, last], axis=1).ravel()
    mid = ~one & (i1 > i0 + 1)
    return idx, val, ((i0[mid] + 1 - b0, i1[mid] - b0, r[mid]) if mid.any() else None)


def _add_rows(target: Any, idx: Any, val: Any, mid: Any, scale: float = 1.0) -> None:
    import numpy as np

    np.add.at(target, idx, val if scale == 1.0 else val * scale)
    if mid is not None:
        a, z, r = mid
        lo, hi = int(a.min()), int(z.max())
        d = np.bincount(a - lo, weights=r * scale, minlength=hi - lo + 1)
        d -= np.bincount(z - lo, weights=r * scale, minlength=hi - lo + 1)
        target[lo:hi] += np.cumsum(d)[:hi - lo]


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
        b.grow(int(math.floor(float(e[-1] if len(e) == 1 else e.max()))) - b.b0 + 2)
        rows = _spread_rows(s, e, w, b.b0)
        if sock.cpu_per_request:
            _add_rows(b.demand, *rows, scale=sock.cpu_per_request)
        _add_rows(b.done, *rows)
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


def _bin_usage(sock: AppSocket, b: _Bins, j: int) -> float:
    """:func:`_usage` of the one bin ``j`` (plain floats)."""
    k = float(j + b.b0)
    alive = min(max(min(k + 1, sock.exit_at) - max(k, sock.started), 0.0), 1.0)
    if sock.usage_cpu is not None:
        rate = sock.usage_cpu if sock.cpu_limit is None else min(sock.usage_cpu, sock.cpu_limit)
        return rate * alive
    u = IDLE_CPU_CORES * alive + float(b.demand[j])
    if sock.cpu_limit is not None:
        u = min(u, sock.cpu_limit * alive)
    return u


def _cumulative(sock: AppSocket, t: float, which: str) -> float:
    t = min(t, sock.exit_at)
    if t <= sock.started:
        return 0.0
    b = _fold(sock)
    kt = math.floor(t) - b.b0  # the bin t falls in
    b.grow(kt + 1)
    if kt > b.fin:
        b.u_total += float(_usage(sock, b, b.fin, kt).sum())
        b.d_total += float(b.done[b.fin:kt].sum())
        b.fin = kt
    start = max(kt + b.b0, sock.started)
    span = min(kt + b.b0 + 1, sock.exit_at) - start
    frac = (t - start) / span if span > 0 else 0.0
    if which == "cpu":
        return b.u_total + _bin_usage(sock, b, kt) * frac
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

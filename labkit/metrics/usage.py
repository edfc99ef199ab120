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
#: A request that ends within this of a read counts as finished: the traffic engine's two ways of
#: summing service times differ by ~1e-16 s, and a counter must not depend on which one ran.
_SLACK = 1e-9


class _Progress:
    """How far a container's served work has got, folded incrementally up to ``t``.

    A row's requests' worth of work (a request: 1; a fluid tick: its requests) accrues evenly over
    its span. Rows that ended by ``t`` are summed; the others stay pending (by row index: a few,
    the requests in service or queued). Reads go forward in time (metrics-server's scrapes); a
    read of the past folds again from the start.
    """

    __slots__ = ("t", "nw", "nf", "work", "done", "req", "fluid")

    def __init__(self) -> None:
        self.t = -math.inf
        self.nw = self.nf = 0  # request / fluid rows taken in
        self.work = 0.0  # requests' worth of work in the rows that ended by t
        self.done = 0.0  # requests finished by t (fluid: the expected requests of ended ticks)
        self.req: list[int] = []  # request rows still in service (or queued) at t
        self.fluid: list[int] = []  # fluid ticks still going at t


#: Up to this many rows a fold is plain Python (numpy's per-call cost would dominate).
_SMALL = 48


def _fold(t: float, starts: Any, ends: Any, weights: Any, pending: list[int], lo: int, hi: int
          ) -> tuple[float, float, list[int]]:
    """Fold the rows ``pending`` and ``[lo, hi)`` of ``(starts, ends[, weights])`` (the socket's
    arrays) at ``t``: the weight of those that ended, the passed share of the others' weight, and
    the rows still going."""
    cut = t + _SLACK
    if hi - lo + len(pending) <= _SMALL:
        ended = partial = 0.0
        keep = []
        for i in (*pending, *range(lo, hi)):
            e = ends[i]
            w = 1.0 if weights is None else weights[i]
            if e <= cut:
                ended += w
            else:
                keep.append(i)
                b = starts[i]
                if b < t:  # started, not ended: e > t > b, a positive span
                    partial += w * (t - b) / (e - b)
        return ended, partial, keep
    import numpy as np

    idx = np.arange(lo, hi) if not pending else np.concatenate((np.asarray(pending, dtype=np.int64),
                                                               np.arange(lo, hi)))
    e = np.frombuffer(ends, dtype=np.float64)[idx]
    w = None if weights is None else np.frombuffer(weights, dtype=np.float64)[idx]
    going = e > cut
    ended = float(len(e) - int(going.sum())) if w is None else float(w[~going].sum())
    if not going.any():
        return ended, 0.0, []
    idx, e = idx[going], e[going]
    b = np.frombuffer(starts, dtype=np.float64)[idx]
    on = b < t
    share = (t - b[on]) / (e[on] - b[on])
    partial = float(share.sum() if w is None else (share * w[going][on]).sum())
    return ended, partial, idx.tolist()


def _progress(sock: AppSocket, t: float) -> tuple[float, float]:
    """``(work, served)`` at ``t``: the requests' worth of work done (a request in service by the
    share of its span that has passed) and the requests finished (fluid: as the ticks go)."""
    p = sock.usage
    if p is None or t < p.t:
        p = sock.usage = _Progress()
    p.t = t
    nw, nf = len(sock.work_start), len(sock.fluid_start)
    work = p.work
    done = p.done
    if nw > p.nw or p.req:
        ended, partial, p.req = _fold(t, sock.work_start, sock.work_end, None, p.req, p.nw, nw)
        p.nw = nw
        p.work += ended
        p.done += ended
        work, done = p.work + partial, p.done
    if nf > p.nf or p.fluid:
        ended, partial, p.fluid = _fold(t, sock.fluid_start, sock.fluid_end, sock.fluid_n, p.fluid, p.nf, nf)
        p.nf = nf
        p.work += ended
        p.done += ended
        work += ended + partial
        done += ended + partial
    return work, done


class _Bins:
    """Per-second bins of a CPU-limited container's demanded CPU (core-seconds): the limit caps
    each second (ten CFS periods), so the demand must be known second by second."""

    __slots__ = ("b0", "demand", "nw", "nf", "fin", "u_total")

    def __init__(self, started: float) -> None:
        import numpy as np

        self.b0 = math.floor(started)  # absolute second of bin 0
        self.demand = np.zeros(_GROW)
        self.nw = 0  # request rows folded
        self.nf = 0  # fluid rows folded
        self.fin = 0  # bins [0, fin) are summed into u_total
        self.u_total = 0.0

    def grow(self, n: int) -> None:
        import numpy as np

        if n > len(self.demand):
            new = np.zeros(max(n, 2 * len(self.demand)))
            new[:len(self.demand)] = self.demand
            self.demand = new


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


def _limited_cpu(sock: AppSocket, t: float) -> float:
    """CPU seconds at ``t`` of a container with a CPU limit and served work: per one-second bin
    ``min(baseline + demand, limit)`` × the time alive in it; the current bin interpolated."""
    import numpy as np

    b = sock.cpu_bins
    if b is None or math.floor(t) - b.b0 < b.fin:
        b = sock.cpu_bins = _Bins(sock.started)
    q = sock.cpu_per_request
    nw, nf = len(sock.work_start), len(sock.fluid_start)
    if nw > b.nw:
        s = np.frombuffer(sock.work_start, dtype=np.float64)[b.nw:nw]
        e = np.frombuffer(sock.work_end, dtype=np.float64)[b.nw:nw]
        b.grow(int(math.floor(float(e.max()))) - b.b0 + 2)
        _spread(b.demand, s, e, np.full(len(s), q), b.b0)
        b.nw = nw
    if nf > b.nf:
        s = np.frombuffer(sock.fluid_start, dtype=np.float64)[b.nf:nf]
        e = np.frombuffer(sock.fluid_end, dtype=np.float64)[b.nf:nf]
        w = np.frombuffer(sock.fluid_n, dtype=np.float64)[b.nf:nf]
        b.grow(int(math.floor(float(e.max()))) - b.b0 + 2)
        _add_rows(b.demand, *_spread_rows(s, e, w, b.b0), scale=q)
        b.nf = nf
    kt = math.floor(t) - b.b0  # the bin t falls in
    b.grow(kt + 1)
    limit = sock.cpu_limit
    if kt > b.fin:
        k = np.arange(b.fin, kt, dtype=np.float64) + b.b0
        alive = np.clip(np.minimum(k + 1, sock.exit_at) - np.maximum(k, sock.started), 0.0, 1.0)
        b.u_total += float(np.minimum(IDLE_CPU_CORES * alive + b.demand[b.fin:kt], limit * alive).sum())
        b.fin = kt
    k0 = float(kt + b.b0)
    start = max(k0, sock.started)
    span = min(k0 + 1, sock.exit_at) - start
    if span <= 0:
        return b.u_total
    alive = min(max(span, 0.0), 1.0)
    in_bin = min(IDLE_CPU_CORES * alive + float(b.demand[kt]), limit * alive)
    return b.u_total + in_bin * (t - start) / span


def counters(sock: AppSocket, t: float) -> tuple[float, float]:
    """The container's cumulative CPU time (core-seconds since its start) and the requests it
    finished serving (fluid traffic: expected, fractional) at ``t``: what the kubelet's counters
    and the app's request counter would read."""
    t = min(t, sock.exit_at)
    if t <= sock.started:
        return 0.0, 0.0
    alive = t - sock.started
    limit = sock.cpu_limit
    if not sock.serving:
        work = done = 0.0
    else:
        work, done = _progress(sock, t)
    if sock.usage_cpu is not None:
        rate = sock.usage_cpu if limit is None else min(sock.usage_cpu, limit)
        return rate * alive, done
    q = sock.cpu_per_request
    if not q or not sock.serving:
        return (IDLE_CPU_CORES if limit is None else min(IDLE_CPU_CORES, limit)) * alive, done
    if limit is None:
        return IDLE_CPU_CORES * alive + q * work, done
    return _limited_cpu(sock, t), done


def cpu_seconds(sock: AppSocket, t: float) -> float:
    """The container's cumulative CPU time at ``t`` (core-seconds since its start)."""
    return counters(sock, t)[0]


def served(sock: AppSocket, t: float) -> float:
    """Requests the container finished serving by ``t`` (fluid traffic: expected, fractional)."""
    return counters(sock, t)[1]


def memory_bytes(sock: AppSocket) -> int:
    """The container's memory working set (bytes)."""
    return sock.usage_memory if sock.usage_memory is not None else IDLE_MEMORY_BYTES

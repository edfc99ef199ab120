"""Request-level traffic through Services: one engine for every traffic source of a cluster.

Each request is a new connection (``mode="requests"``): it leaves its client, meets the rules its
entry node's kube-proxy has programmed (:mod:`labkit.network.proxy`), is sent to one endpoint, and
is served there first come, first served by one of the pod's ``labkit.io/concurrency`` workers
for a ``labkit.io/service-time`` draw. Its outcome:

- ``ok`` — answered; ``latency_s`` is queueing plus service (the network adds nothing, except
  :data:`HOP_SECONDS` for the extra hop of external traffic with ``externalTrafficPolicy: Cluster``);
- ``refused`` — nothing accepts the connection: the Service has no endpoints (kube-proxy's REJECT
  rule), or the chosen pod is not listening (not started, after SIGTERM, or gone);
- ``reset`` — accepted, but the process exited before answering;
- ``timeout`` — no answer within the client's ``timeout``: a failed node, a hung application, a
  queue too long, or a Service IP no node has a rule for.

How it runs. Between two events of the rest of the simulation nothing a request meets can
change, so the engine processes, at each of its wake-ups, every arrival before the next SimPy
event (``env.peek()``), split further at the instants a node's kube-proxy programs a change.
Within such an interval a request's whole fate is known at its arrival: a FIFO server with ``c``
workers starts it at ``max(arrival, earliest free worker)`` (Lindley's recursion / Kiefer–Wolfowitz),
so a request costs one step and a record (columns appended, never an object). Events that do
change things — a process exiting, a node failing — patch the records of the requests they cut
short. Two interchangeable ways to do the interval's work: ``engine="events"`` walks arrivals
one by one in time order (every proxy mode and affinity); ``engine="vectorized"`` does the same
with numpy (per-node choices, then per-pod Lindley recursion with cumulative maxima), where the
proxy mode allows (``iptables``/``nftables`` random, ipvs ``rr``, no session affinity, Service IP
targets); ``"auto"`` (the default) takes the vectorized way where it can. A test checks that
both give the same records.

Served work. Every request given a worker appends its service span ``[start, end)`` to its
pod's socket (``AppSocket.work_start``/``work_end``), in arrival order on both paths: the
kubelet's CPU counters are derived from those spans (:mod:`labkit.metrics.usage`: each request
costs ``labkit.io/cpu-per-request``, spread evenly over its span, counted in per-second bins).

CPU limits (CFS quota, spec 12.1, ``pkg/kubelet/cm/helpers_linux.go``). A container with limit
``L`` cores gets at most ``L × period`` of CPU per 100 ms period, all its threads together. A
request that costs ``q`` core-seconds and is one of ``k`` requests in service shares that quota
with the others: at most ``L / k`` cores, so it needs at least ``k·q / L`` seconds. The rule:
a request's service time is ``max(draw, k·q / L)``, with ``k`` counted when it starts (itself
plus the pod's workers still busy then; :func:`throttled`). With one worker that is
``max(draw, q / L)``; when all ``c`` workers are busy the pod answers at most
``c / (c·q / L) = L / q`` requests per second, its CPU-bound capacity, and latency grows as
the queue does; a pod far from its limit keeps its drawn service times. Because ``k`` is frozen
at a request's start, overlapping requests can briefly ask for more than ``L``: the usage model
counts at most ``L`` per second (what the quota lets through), so usage never exceeds the limit
averaged over whole seconds (ten CFS periods). Both paths use the same step, so they still agree.
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_right, insort
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.workloads.draws import Draws, generator
from labkit.workloads.patterns import Pattern

if TYPE_CHECKING:
    from labkit.network.dataplane import AppSocket, DataPlane
    from labkit.network.proxy import KubeProxy, ServiceRules
    from labkit.sim import LabEnvironment

__all__ = ["TrafficEngine", "Source", "OK", "REFUSED", "RESET", "TIMEOUT", "STATUS", "HOP_SECONDS",
           "EXTRA_HOP", "SNAT"]

OK, REFUSED, RESET, TIMEOUT = 0, 1, 2, 3
EXTRA_HOP, SNAT = 1, 2  # bits of a record's ``hop``
STATUS = ("ok", "refused", "reset", "timeout")
#: How long IPVS keeps a closed TCP connection as an inactive entry (TIME_WAIT), seconds.
IPVS_TIME_WAIT_S = 120.0
#: One extra hop inside a zone's VPC (external traffic sent on to another node), illustrative.
HOP_SECONDS = 0.0002
#: An answer this close to the client's deadline (or the hang instant) still counts as in time: the
#: events path sums service times one by one, the vectorized path with cumulative sums, and the two
#: roundings (~1e-16 s) must not split a request that lands on the deadline itself.
SLACK = 1e-9
INF = math.inf
#: Compact the records (``keep="summary"`` sources) once this many rows are kept.
COMPACT_ROWS = 1 << 20
_NO_ROUTE = -(2 ** 62)  # a request no rule sent anywhere (the vectorized path's marker)


@dataclass(eq=False)
class Source:
    """One ``c.traffic(...)`` call: where requests come from, where they go, how many, when."""

    id: int
    start: float
    duration: float
    pattern: Pattern
    arrivals: str  # "poisson" | "constant"
    route: str  # "cluster" (a Service IP) | "nodeport" | "slb"
    vip: tuple[str, int, str]  # (ip, port, protocol) as the client dials it
    clients: list[tuple[str, str]]  # (client IP, node it sends from); node "" for external clients
    timeout: float
    seed: int
    entry_node: str = ""  # nodeport: the node dialled
    #: stand-in client pods (no ``from_pod``): those of a failed node are replaced on live nodes,
    #: as their Deployment would replace them, instead of going silent
    virtual: bool = False
    nodes_now: list = field(default_factory=list)  # each client's node for the current interval
    #: ``"requests"``: every request's row is kept; ``"summary"``: rows that can no longer change
    #: are folded into :attr:`summary` and dropped (:mod:`labkit.workloads.summary`)
    keep: str = "requests"
    summary: Any = None  # given by the request engine
    #: the kept rows of this source that left the engine's records when a summary source's rows
    #: were compacted (column name -> arrays, in order)
    archive: list = field(default_factory=list)
    _pos: float = 0.0  # position of the last arrival on the unit-rate (Λ) axis
    _count: int = 0
    _knots: Any = None
    _lam: Any = None
    _gaps: Draws | None = None
    _pick: Draws | None = None

    def __post_init__(self) -> None:
        self._knots, self._lam = self.pattern._table(self.duration)
        self._gaps = Draws(generator(self.seed, "traffic", self.id, "arrivals"), "exponential")
        self._pick = Draws(generator(self.seed, "traffic", self.id, "clients"), "uniform")

    @property
    def end(self) -> float:
        return self.start + self.duration

    def take(self, t1: float) -> np.ndarray:
        """Arrival times in ``[previous, t1)`` (absolute), consumed."""
        limit = float(np.interp(min(t1, self.end) - self.start, self._knots, self._lam))
        total = float(self._lam[-1])
        if t1 >= self.end:
            limit = total
        out: list[np.ndarray] = []
        if self.arrivals == "constant":
            k0 = self._count
            k1 = int(math.ceil(limit)) if t1 < self.end else int(math.ceil(total))
            ks = np.arange(k0, max(k0, k1), dtype=float)
            ks = ks[ks < limit] if t1 < self.end else ks[ks < total]
            self._count = k0 + len(ks)
            pos = ks
        else:
            while True:
                expect = max(0.0, limit - self._pos)
                m = int(expect + 6 * math.sqrt(expect) + 16)
                gaps = self._gaps.peek(m)
                cum = self._pos + np.cumsum(gaps)
                n = int(np.searchsorted(cum, limit, side="left"))
                self._gaps.take(n)
                if n:
                    out.append(cum[:n])
                    self._pos = float(cum[n - 1])
                if n < m:
                    break
            pos = np.concatenate(out) if out else np.empty(0)
        times = self.start + np.interp(pos, self._lam, self._knots)
        return times[times < min(t1, self.end)] if t1 < self.end else times


def _lindley(single: list[tuple[Any, int, int]], a: np.ndarray, st: np.ndarray, begin: np.ndarray,
             end: np.ndarray) -> None:
    """Lindley's recursion for every one-worker pod at once: in each pod's segment ``[lo, hi)`` of
    the arrivals ``a`` (its FIFO order) with service times ``st``, ``end = C + max(free,
    cummax(a − (C − st)))`` (``C`` the segment's cumulative service); fills ``begin``/``end`` and
    moves each pod's ``free``. The segments are separated by offsets of a power of two wider than
    every value's range, so one cumulative maximum serves them all; when that offset would cost
    more than ~1e-11 s of precision, pod by pod instead."""
    q = np.zeros(len(st))
    for sk, lo, hi in single:
        if sk.throttle_s:
            q[lo:hi] = sk.throttle_s
    st = np.maximum(st, q)  # the CFS rule with one worker: max(S, q / L)
    if len(single) == 1:
        sk, lo, hi = single[0]
        _lindley_one(sk, a[lo:hi], st[lo:hi], begin[lo:hi], end[lo:hi])
        return
    lens = np.array([hi - lo for _, lo, hi in single])
    heads = np.cumsum(lens) - lens
    if int(lens.sum()) == len(a):  # every pod has one worker: the segments are the whole arrays
        idx = slice(None)
        aa, ss = a, st
    else:
        idx = np.concatenate([np.arange(lo, hi) for _, lo, hi in single])
        aa, ss = a[idx], st[idx]
    c = np.cumsum(ss)
    c -= np.repeat(c[heads] - ss[heads], lens)  # each segment's own cumulative service
    x = aa - (c - ss)
    x[heads] = np.maximum(x[heads], [sk.free[0] for sk, _, _ in single])
    origin = float(x.min())
    width = float(x.max()) - origin
    span = 2.0 ** math.ceil(math.log2(width + 1.0))
    if span * len(single) > 2.0 ** 16:  # rounding beyond ~1.5e-11 s: pod by pod
        for sk, lo, hi in single:
            _lindley_one(sk, a[lo:hi], st[lo:hi], begin[lo:hi], end[lo:hi])
        return
    off = np.repeat(np.arange(len(single)) * span, lens)
    e = c + (np.maximum.accumulate((x - origin) + off) - off + origin)
    end[idx] = e
    begin[idx] = e - ss
    for (sk, _, _), last in zip(single, (heads + lens - 1).tolist()):
        sk.free[0] = float(e[last])


def _fifo_loop(free: list[float], q: float, a: np.ndarray, st: np.ndarray, begin: np.ndarray,
               end: np.ndarray, lo: int, hi: int) -> None:
    """Requests ``[lo, hi)`` one by one: each starts when it arrives or when the earliest worker is
    free (``free`` is a heap of the workers' free times), under the CFS rule when ``q``."""
    starts, ends = [], []
    push, keep_start, keep_end = heapq.heapreplace, starts.append, ends.append
    for ai, si in zip(a[lo:hi].tolist(), st[lo:hi].tolist()):
        f0 = free[0]
        start = f0 if f0 > ai else ai
        if q:
            si = throttled(free, start, si, q)
        e = start + si
        keep_start(start)
        keep_end(e)
        push(free, e)
    begin[lo:hi] = starts
    end[lo:hi] = ends


def _lindley_one(sk: Any, a: np.ndarray, st: np.ndarray, begin: np.ndarray, end: np.ndarray) -> None:
    c = np.cumsum(st)
    e = c + np.maximum(sk.free[0], np.maximum.accumulate(a - (c - st)))
    end[:] = e
    begin[:] = e - st
    sk.free[0] = float(e[-1])


def throttled(free: list[float], start: float, st: float, q: float) -> float:
    """A request's service time under its pod's CFS quota (see the module docstring): at least
    ``k * q``, ``k`` the requests in service once it starts (itself and every other worker still
    busy then), ``q = cpu-per-request / limit``."""
    k = 1
    for f in free[1:]:
        if f > start:
            k += 1
    return st if st >= k * q else k * q


class Records:
    """Per-request columns (``array.array``): appended in arrival order, patched on interruption.

    A request's index is global: rows before :attr:`base` were compacted away (final rows of
    ``keep="summary"`` sources folded into their summaries, the others moved to their source's
    archive), so row ``i`` is at position ``i - base``; :attr:`total` is the next index."""

    COLUMNS = ("sent", "done", "status", "sock", "node", "source", "client", "hop")

    def __init__(self) -> None:
        self.base = 0
        self.sent = array("d")
        self.done = array("d")
        self.status = array("b")
        self.sock = array("q")  # AppSocket index, -1 when no pod was reached
        self.node = array("q")  # entry node index (whose kube-proxy chose)
        self.source = array("q")
        self.client = array("q")
        self.hop = array("b")  # EXTRA_HOP | SNAT bits

    def __len__(self) -> int:
        return len(self.sent)

    @property
    def total(self) -> int:
        return self.base + len(self.sent)

    def columns(self, stop: int | None = None) -> dict[str, np.ndarray]:
        """The kept rows' columns as numpy views (positions ``[0, stop)``; views pin the arrays:
        drop them before more rows are appended)."""
        dtypes = {"sent": np.float64, "done": np.float64, "status": np.int8, "sock": np.int64,
                  "node": np.int64, "source": np.int64, "client": np.int64, "hop": np.int8}
        return {c: np.frombuffer(getattr(self, c), dtype=dtypes[c])[:stop] for c in self.COLUMNS}

    def drop(self, k: int) -> None:
        """Forget the first ``k`` kept rows (they were folded or archived)."""
        for c in self.COLUMNS:
            del getattr(self, c)[:k]
        self.base += k

    def extend(self, sent, done, status, sock, node, source, client, hop) -> None:
        self.sent.frombytes(np.ascontiguousarray(sent, dtype=np.float64).tobytes())
        self.done.frombytes(np.ascontiguousarray(done, dtype=np.float64).tobytes())
        self.status.frombytes(np.ascontiguousarray(status, dtype=np.int8).tobytes())
        self.sock.frombytes(np.ascontiguousarray(sock, dtype=np.int64).tobytes())
        self.node.frombytes(np.ascontiguousarray(node, dtype=np.int64).tobytes())
        self.source.frombytes(np.ascontiguousarray(source, dtype=np.int64).tobytes())
        self.client.frombytes(np.ascontiguousarray(client, dtype=np.int64).tobytes())
        self.hop.frombytes(np.ascontiguousarray(hop, dtype=np.int8).tobytes())


class TrafficEngine:
    """Every traffic source of one cluster, sharing the pods' queues."""

    def __init__(self, env: LabEnvironment, dataplane: DataPlane, proxy: KubeProxy, seed: int,
                 engine: str = "auto") -> None:
        if engine not in ("auto", "events", "vectorized"):
            raise ValueError(f"engine {engine!r}: choose 'auto', 'events' or 'vectorized'")
        self.env = env
        self.dp = dataplane
        self.proxy = proxy
        self.seed = seed
        self.engine = engine
        self.sources: list[Source] = []
        self.records = Records()
        self.nodes: list[str] = []
        self._node_index: dict[str, int] = {}
        self._node_draws: dict[str, Draws] = {}
        self._rr: dict[tuple[str, Any], int] = {}
        self._affinity: dict[tuple[str, Any], dict[str, tuple[str, float]]] = {}
        self._lc: dict[str, dict[str, list[float]]] = {}  # node -> endpoint IP -> sorted end times
        self._slb_rr: dict[Any, int] = {}
        self._processed = 0.0  # arrivals before this instant are done
        self._process = None
        self.last_done = 0.0
        dataplane.subscribe(self._interrupt)
        if not self._EAGER:
            # computed on demand: before anything that can change a request's fate (a socket, a
            # node, kube-proxy's rules), before metrics-server reads usage, before every view
            dataplane.before_change.append(self.sync)
            proxy.before_change.append(self.sync)

    # -- sources --------------------------------------------------------------------------------
    def add(self, source: Source) -> None:
        if source.keep == "summary":
            from labkit.workloads.summary import Summary

            source.summary = Summary(source.timeout)
        self.sources.append(source)
        self._processed = max(self._processed, min(source.start, float(self.env.now)))
        if self._process is None or not self._process.is_alive:
            self._process = self.env.process(self._loop())

    def node_index(self, node: str) -> int:
        i = self._node_index.get(node)
        if i is None:
            i = self._node_index[node] = len(self.nodes)
            self.nodes.append(node)
        return i

    # -- the SimPy side ---------------------------------------------------------------------------
    #: True: process arrivals at every SimPy event (the original way; a test compares the two)
    _EAGER = False

    def sync(self) -> None:
        """Process every arrival before now: nothing that could change them has happened since the
        last call (every such change calls this first, through the ``before_change`` hooks)."""
        self._advance(float(self.env.now))

    def _loop(self):
        env = self.env
        while not self._EAGER:
            active = [s for s in self.sources if s.end > self._processed]
            if active:
                yield env.timeout(max(0.0, max(s.end for s in active) - env.now))
                self._advance(float(env.now))
                continue
            if self.last_done <= env.now:
                return
            yield env.timeout(self.last_done - env.now)  # the last requests end: c.run() waits for them
        while True:
            t_next = env.peek()
            self._advance(t_next)
            active = [s for s in self.sources if s.end > self._processed]
            if active:
                wake = t_next if t_next < INF else min(s.end for s in active)
            else:
                wake = min(t_next, self.last_done)
                if self.last_done <= env.now:
                    return
            yield env.timeout(max(0.0, wake - env.now))

    def _advance(self, t_next: float) -> None:
        """Process every arrival before ``t_next``, in intervals over which no node's rules change."""
        t0 = self._processed
        if t_next <= t0:
            return
        end = min(t_next, max((s.end for s in self.sources), default=t0))
        cuts = [t for t in self.proxy.pending(t0) if t < end] + [t_next]
        for t1 in cuts:
            if t1 > t0:
                self._interval(t0, t1)
                t0 = t1
        self._processed = max(self._processed, t_next if t_next < INF else t0)
        if len(self.records) >= COMPACT_ROWS and any(s.keep == "summary" for s in self.sources):
            self.compact()

    def compact(self) -> None:
        """Fold the final rows of ``keep="summary"`` sources into their summaries (and archive
        the other sources' rows in that prefix): every row before the first one that could still
        change (a request that has not ended by now: an exit or a node failure may still cut it)."""
        rec = self.records
        cols = rec.columns()
        pending = np.flatnonzero(cols["done"] > self.env.now)
        k = int(pending[0]) if len(pending) else len(rec)
        if k == 0:
            return
        single = len(self.sources) == 1
        for s in self.sources:
            mine = slice(None) if single else (cols["source"][:k] == s.id)
            if not single and not mine.any():
                continue
            if s.summary is not None:  # (add keeps none of the views: the rows can be dropped)
                s.summary.add(*(cols[c][:k][mine] for c in ("sent", "done", "status", "sock")))
            else:
                s.archive.append({c: v[:k][mine].copy() for c, v in cols.items() if c != "source"})
        del cols
        rec.drop(k)

    # -- one interval -----------------------------------------------------------------------------
    def _interval(self, t0: float, t1: float) -> None:
        parts = []
        for s in self.sources:
            if s.end <= t0 or s.start >= t1:
                continue
            times = s.take(t1)
            if len(times):
                n = len(s.clients)
                client = (s._pick.take(len(times)) * n).astype(np.int64) if n > 1 else \
                    np.zeros(len(times), dtype=np.int64)
                parts.append((s, times, client))
        if not parts:
            return
        alive = [n for n in self.proxy.nodes if n not in self.dp.down]
        for s, _, _ in parts:
            s.nodes_now = [node if not s.virtual or node not in self.dp.down or not alive
                           else alive[i % len(alive)] for i, (_, node) in enumerate(s.clients)]
        if len(parts) == 1:
            s, times, client = parts[0]
            src = np.full(len(times), s.id, dtype=np.int64)
        else:
            times = np.concatenate([p[1] for p in parts])
            client = np.concatenate([p[2] for p in parts])
            src = np.concatenate([np.full(len(p[1]), p[0].id, dtype=np.int64) for p in parts])
            order = np.lexsort((src, times))
            times, client, src = times[order], client[order], src[order]
        if self._vectorizable(t0, parts):
            self._vectorized(t0, times, client, src)
        else:
            self._events(t0, times, client, src)

    def _vectorizable(self, t0: float, parts) -> bool:
        if self.engine == "events" or self.proxy.algorithm not in ("random", "rr"):
            return False
        for s, _, _ in parts:
            if s.route != "cluster":
                return False
            key = self.proxy.by_vip.get(s.vip)
            if key is None:
                continue
            for node in dict.fromkeys(s.nodes_now):
                rules, _ = self.proxy.rules_at(key, node, t0)
                if rules is not None and rules.affinity_timeout is not None:
                    return False
        return True

    def _draws(self, node: str) -> Draws:
        d = self._node_draws.get(node)
        if d is None:
            d = self._node_draws[node] = Draws(generator(self.seed, "kube-proxy-choice", node), "uniform")
        return d

    def _service(self, sock: AppSocket) -> Draws:
        if sock.draws is None:
            kind = "normal" if sock.service_time.dist == "lognormal" else "exponential"
            sock.draws = Draws(generator(self.seed, "service-time", sock.seed), kind)
        return sock.draws

    def _service_times(self, sock: AppSocket, n: int) -> np.ndarray:
        st = sock.service_time
        if st.dist == "constant":
            return np.full(n, st.mean_s)
        z = self._service(sock).take(n)
        if st.dist == "exponential":
            return z * st.mean_s
        return np.exp(math.log(st.mean_s) - st.sigma * st.sigma / 2 + st.sigma * z)

    def _one_service_time(self, sock: AppSocket) -> float:
        st = sock.service_time
        if st.dist == "constant":
            return st.mean_s
        z = self._service(sock).one()
        if st.dist == "exponential":
            return z * st.mean_s
        return math.exp(math.log(st.mean_s) - st.sigma * st.sigma / 2 + st.sigma * z)

    # -- the event-driven way ------------------------------------------------------------------------
    def _events(self, t0: float, times: np.ndarray, client: np.ndarray, src: np.ndarray) -> None:
        proxy, dp, rec = self.proxy, self.dp, self.records
        sources = self.sources
        algorithm = proxy.algorithm
        down = dp.down
        apps = dp.apps
        rules_cache: dict[tuple[Any, str], Any] = {}
        r_sent, r_done, r_status = rec.sent.append, rec.done.append, rec.status.append
        r_sock, r_node, r_src = rec.sock.append, rec.node.append, rec.source.append
        r_client, r_hop = rec.client.append, rec.hop.append
        idx = rec.total
        base = rec.base
        last_done = self.last_done
        for t, ci, si in zip(times.tolist(), client.tolist(), src.tolist()):
            s = sources[si]
            ip, node = s.clients[ci][0], s.nodes_now[ci]
            external = s.route != "cluster"
            if s.route == "nodeport":
                key = proxy.by_node_port.get((s.vip[1], s.vip[2]))
                node = s.entry_node
            else:
                key = proxy.by_vip.get(s.vip)
                if s.route == "slb":
                    node = self._slb_node(s, key, t)
            hop = 0
            status, done, sock_i = TIMEOUT, t + s.timeout, -1
            if key is not None and node and node not in down:
                ck = (key, node)
                rules = rules_cache.get(ck, False)
                if rules is False:
                    rules = rules_cache[ck] = proxy.rules_at(key, node, t0)[0]
                if rules is not None:
                    targets = rules.targets(node, external)
                    n = len(targets)
                    if n == 0:
                        status, done = (REFUSED, t) if not (rules.external_local if external else
                                                            rules.internal_local) or not rules.usable \
                            else (TIMEOUT, t + s.timeout)
                    else:
                        ep = self._choose(rules, targets, node, ip, t, algorithm)
                        sock = apps.get(ep.ip)
                        if sock is None:
                            status, done = REFUSED, t
                            gone = dp.last.get(ep.ip)
                            sock_i = gone.index if gone is not None else -1
                        else:
                            sock_i = sock.index
                            if sock.node in down:
                                status, done = TIMEOUT, t + s.timeout
                            elif not sock.accepts(t):
                                status, done = REFUSED, t
                            elif t >= sock.hang_at:
                                status, done = TIMEOUT, t + s.timeout
                                sock.inflight.append(idx)  # accepted: an exit resets it
                            else:
                                free = sock.free
                                st = self._one_service_time(sock)
                                q = sock.throttle_s
                                if len(free) == 1:
                                    start = free[0] if free[0] > t else t
                                    if q > st:
                                        st = q
                                    end = free[0] = start + st
                                else:
                                    start = free[0] if free[0] > t else t
                                    if q:
                                        st = throttled(free, start, st, q)
                                    end = start + st
                                    heapq.heapreplace(free, end)
                                sock.work_start.append(start)
                                sock.work_end.append(end)
                                if external and not rules.external_local:
                                    hop = SNAT  # kube-proxy masquerades: the pod sees the node's IP
                                    if sock.node != node:
                                        hop |= EXTRA_HOP
                                        end += HOP_SECONDS
                                if end > sock.hang_at + SLACK or end - t > s.timeout + SLACK:
                                    status, done = TIMEOUT, t + s.timeout
                                else:
                                    status, done = OK, end
                                infl = sock.inflight
                                while infl:
                                    head = infl[0]
                                    if head.__class__ is tuple:
                                        if head[1] > t:
                                            break
                                    elif head >= base and rec.done[head - base] > t:
                                        break  # (a compacted row had ended)
                                    infl.popleft()
                                infl.append(idx)
                                if algorithm == "lc":
                                    insort(self._lc.setdefault(node, {}).setdefault(ep.ip, []), done)
            r_sent(t)
            r_done(done)
            r_status(status)
            r_sock(sock_i)
            r_node(self.node_index(node) if node else -1)
            r_src(si)
            r_client(ci)
            r_hop(hop)
            if done > last_done:
                last_done = done
            idx += 1
        self.last_done = last_done

    def _choose(self, rules: ServiceRules, targets, node: str, client_ip: str, t: float, algorithm: str):
        n = len(targets)
        key = (node, (rules.namespace, rules.name, rules.port_name))
        if rules.affinity_timeout is not None:
            table = self._affinity.setdefault(key, {})
            seen = table.get(client_ip)
            if seen is not None and t - seen[1] <= rules.affinity_timeout:
                for ep in targets:
                    if ep.ip == seen[0]:
                        table[client_ip] = (ep.ip, t)
                        return ep
        if algorithm == "random":
            ep = targets[int(self._draws(node).one() * n)]
        elif algorithm == "rr":
            i = (self._rr.get(key, -1) + 1) % n
            self._rr[key] = i
            ep = targets[i]
        elif algorithm == "lc":
            # ip_vs_lc.c: the least ip_vs_dest_conn_overhead = active << 8 + inactive, the first such
            # destination on ties; a closed TCP connection stays an inactive entry for the
            # TIME_WAIT timeout (ip_vs_proto_tcp.c, 2 min). IPVS on each node counts its own.
            counts = self._lc.setdefault(node, {})
            best, best_n = targets[0], None
            for cand in targets:
                ends = counts.get(cand.ip)
                overhead = 0
                if ends:
                    old = bisect_right(ends, t - IPVS_TIME_WAIT_S)
                    if old:
                        del ends[:old]
                    closed = bisect_right(ends, t)
                    overhead = ((len(ends) - closed) << 8) + closed
                if best_n is None or overhead < best_n:
                    best, best_n = cand, overhead
            ep = best
        else:  # sh: net/netfilter/ipvs/ip_vs_sh.c -- ip_vs_sh_hashkey is hash_32(ip + port, 8)
            # (include/linux/hash.h, GOLDEN_RATIO_32; port 0 without the sh-port flag, as
            # kube-proxy sets none) into 256 buckets that ip_vs_sh_reassign fills round robin
            a, b, c, d = (int(x) for x in client_ip.split("."))
            addr = (a << 24) | (b << 16) | (c << 8) | d
            bucket = ((addr * 0x61C88647) & 0xFFFFFFFF) >> 24
            ep = targets[bucket % n]
        if rules.affinity_timeout is not None:
            self._affinity.setdefault(key, {})[client_ip] = (ep.ip, t)
        return ep

    def _slb_node(self, s: Source, key: Any, t: float) -> str:
        """The node the SLB's listener forwards to: round robin over its healthy backends (every
        node with ``externalTrafficPolicy: Cluster``; with ``Local`` only nodes whose kube-proxy has a
        local endpoint, as the health-check node port reports)."""
        backends = []
        for node in self.proxy.nodes:
            if node in self.dp.down:
                continue
            if key is not None:
                rules = self.proxy.rules_at(key, node, t)[0]
                if rules is not None and rules.external_local and not rules.local(node):
                    continue
            backends.append(node)
        if not backends:
            return ""
        i = (self._slb_rr.get(s.vip, -1) + 1) % len(backends)
        self._slb_rr[s.vip] = i
        return backends[i]

    # -- the vectorized way ----------------------------------------------------------------------------
    def _vectorized(self, t0: float, times: np.ndarray, client: np.ndarray, src: np.ndarray) -> None:
        """The interval's requests with numpy: each entry node's choices, then every pod's FIFO
        queue at once (grouped by pod; single-worker pods by one segmented Lindley recursion)."""
        proxy, dp = self.proxy, self.dp
        m = len(times)
        sources = self.sources
        status = np.full(m, TIMEOUT, dtype=np.int8)
        timeout = np.full(m, sources[0].timeout) if len(sources) == 1 else \
            np.asarray([s.timeout for s in sources])[src]
        done = times + timeout
        sock_idx = np.full(m, -1, dtype=np.int64)
        # the entry node of every request (as an engine node index), and the endpoint its kube-proxy picks
        if len(sources) == 1:
            ids = np.asarray([self.node_index(n) for n in sources[0].nodes_now], dtype=np.int64)
            client_node = ids[client]
        else:
            client_node = np.empty(m, dtype=np.int64)
            for s in sources:
                sel = src == s.id
                if sel.any():
                    ids = np.asarray([self.node_index(n) for n in s.nodes_now], dtype=np.int64)
                    client_node[sel] = ids[client[sel]]
        keys = [proxy.by_vip.get(s.vip) for s in sources]
        distinct = list(dict.fromkeys(keys))
        key_of_source = np.asarray([distinct.index(k) for k in keys], dtype=np.int64)
        # per request: the chosen endpoint's socket index (>= 0), a gone pod (-2 - its last socket's
        # index; -1 when none is known), or not routed (NO_ROUTE: its status stays as set)
        ref = np.full(m, _NO_ROUTE, dtype=np.int64)
        node_ids = np.flatnonzero(np.bincount(client_node)).tolist()  # small indices: no sort
        for nid in node_ids:
            node = self.nodes[nid]
            if node in dp.down:
                continue
            at_node = np.flatnonzero(client_node == nid) if len(node_ids) > 1 else np.arange(m)
            req_key = key_of_source[src[at_node]] if len(distinct) > 1 else None
            groups = []  # (its rows, endpoints, their refs, Service port)
            for j, key in enumerate(distinct):
                rules = proxy.rules_at(key, node, t0)[0] if key is not None else None
                if rules is None:
                    continue
                mine = at_node if req_key is None else at_node[req_key == j]
                if not len(mine):
                    continue
                targets = rules.targets(node, False)
                if not targets:
                    if not rules.internal_local or not rules.usable:
                        status[mine] = REFUSED
                        done[mine] = times[mine]
                    continue
                groups.append((mine, targets, self._refs(targets), key))
            if not groups:
                continue
            if proxy.algorithm == "random":  # one stream per node, in row order over its Services
                rows = groups[0][0] if len(groups) == 1 else np.sort(np.concatenate([g[0] for g in groups]))
                u = self._draws(node).take(len(rows))
                pos = {id(g): None for g in groups}
                if len(groups) == 1:
                    pos[id(groups[0])] = u
                else:
                    where = np.searchsorted(rows, np.concatenate([g[0] for g in groups]))
                    k = 0
                    for g in groups:
                        pos[id(g)] = u[where[k:k + len(g[0])]]
                        k += len(g[0])
                for g in groups:
                    mine, targets, refs, _ = g
                    ref[mine] = refs[(pos[id(g)] * len(targets)).astype(np.int64)]
            else:
                for mine, targets, refs, key in groups:
                    rk = (node, key)
                    pick = (self._rr.get(rk, -1) + 1 + np.arange(len(mine))) % len(targets)
                    self._rr[rk] = int(pick[-1])
                    ref[mine] = refs[pick]
        gone = (ref < 0) & (ref != _NO_ROUTE)
        if gone.any():
            status[gone] = REFUSED
            done[gone] = times[gone]
            sock_idx[gone] = np.where(ref[gone] == -1, -1, -2 - ref[gone])
        live = np.flatnonzero(ref >= 0)
        if len(live):
            self._serve(live, ref, times, timeout, status, done, sock_idx)
        hop = np.zeros(m, dtype=np.int8)
        self.records.extend(times, done, status, sock_idx, client_node, src, client, hop)
        if m:
            self.last_done = max(self.last_done, float(done.max()))

    def _refs(self, targets) -> np.ndarray:
        """Each endpoint's socket index (what the data plane answers at its IP), or a gone pod's."""
        apps, last = self.dp.apps, self.dp.last
        out = []
        for ep in targets:
            sock = apps.get(ep.ip)
            if sock is not None:
                out.append(sock.index)
            else:
                g = last.get(ep.ip)
                out.append(-2 - g.index if g is not None else -1)
        return np.asarray(out, dtype=np.int64)

    def _serve(self, live: np.ndarray, ref: np.ndarray, times: np.ndarray, timeout: np.ndarray,
               status: np.ndarray, done: np.ndarray, sock_idx: np.ndarray) -> None:
        """The requests that reached a pod (``live``), grouped by pod, in arrival order in each."""
        dp = self.dp
        key = ref[live]
        if int(key.max()) < 2 ** 15:
            key = key.astype(np.int16)  # numpy sorts 16-bit keys stably by radix: ~3x faster
        rows = live[np.argsort(key, kind="stable")]
        r = ref[rows]
        sock_idx[rows] = r
        heads = np.flatnonzero(np.diff(r)) + 1
        starts = np.concatenate(([0], heads))
        counts = np.diff(np.append(starts, len(rows)))
        socks = [dp.sockets[i] for i in r[starts].tolist()]
        if len(socks) == 1:
            sk = socks[0]
            listen, closed, exit_, hang = sk.listen_at, sk.closed_at, sk.exit_at, sk.hang_at
        else:
            at = np.array([(sk.listen_at, sk.closed_at, sk.exit_at, sk.hang_at) for sk in socks]).T
            listen, closed, exit_, hang = (np.repeat(col, counts) for col in at)
        t = times[rows]
        down = np.repeat(np.array([sk.node in dp.down for sk in socks]), counts)
        refused = ~down & ((t < listen) | (t >= closed) | (t >= exit_))
        hung = ~down & ~refused & (t >= hang)
        serve = ~down & ~refused & ~hung
        if refused.any():
            status[rows[refused]] = REFUSED
            done[rows[refused]] = t[refused]
        base = self.records.total
        n_serve = np.add.reduceat(serve, starts, dtype=np.int64)
        seg_end = np.cumsum(n_serve)
        sv = rows[serve]  # served rows, still grouped by pod
        a = t[serve]
        st = np.empty(len(sv))
        begin, end = np.empty(len(sv)), np.empty(len(sv))
        single = []  # (pod, lo, hi) of one-worker pods: one segmented recursion for all of them
        for g, sk in enumerate(socks):
            lo, hi = int(seg_end[g] - n_serve[g]), int(seg_end[g])
            if hi > lo:
                st[lo:hi] = self._service_times(sk, hi - lo)
                if len(sk.free) == 1:
                    single.append((sk, lo, hi))
                else:
                    _fifo_loop(sk.free, sk.throttle_s, a, st, begin, end, lo, hi)
        if single:
            _lindley(single, a, st, begin, end)
        hang_s = hang if not isinstance(hang, np.ndarray) else hang[serve]
        late = (end > hang_s + SLACK) | (end - a > timeout[sv] + SLACK)
        status[sv] = np.where(late, TIMEOUT, OK)
        done[sv] = np.where(late, a + timeout[sv], end)
        held_all = rows[hung]  # accepted, never answered: an exit resets them
        n_held = np.add.reduceat(hung, starts, dtype=np.int64) if len(held_all) else None
        held_end = np.cumsum(n_held) if n_held is not None else None
        for g, sk in enumerate(socks):
            lo, hi = int(seg_end[g] - n_serve[g]), int(seg_end[g])
            held_chunk = None
            if n_held is not None and n_held[g]:
                held = held_all[int(held_end[g] - n_held[g]):int(held_end[g])]
                held_chunk = (held + base, float(done[held].max()))
            if hi > lo:
                sk.work_start.frombytes(begin[lo:hi].tobytes())
                sk.work_end.frombytes(end[lo:hi].tobytes())
                infl = sk.inflight
                first, rdone, kept = float(a[lo]), self.records.done, self.records.base
                while infl:  # entries: a record index (events path) or (indices, latest done) chunks
                    head = infl[0]
                    if head.__class__ is tuple:
                        if head[1] > first:
                            break
                    elif head >= kept and rdone[head - kept] > first:
                        break  # (a compacted row had ended)
                    infl.popleft()
                mine = sv[lo:hi]
                infl.append((mine + base, float(done[mine].max())))
            if held_chunk is not None:
                sk.inflight.append(held_chunk)

    # -- interruptions ------------------------------------------------------------------------------------
    def _interrupt(self, what: str, subject: Any, t: float) -> None:
        if what == "exit":
            self._cut(subject, t, RESET)
        elif what == "node-down":
            for sock in self.dp.sockets:
                if sock.node == subject and sock.inflight:
                    self._cut(sock, t, TIMEOUT)
        elif what == "node-up":
            for sock in self.dp.sockets:
                if sock.node == subject:
                    sock.free = [max(t, f) for f in sock.free]
                    heapq.heapify(sock.free)

    def _cut(self, sock: AppSocket, t: float, how: int) -> None:
        """The requests ``sock`` still held at ``t`` end: reset by the exit, or never answered."""
        rec = self.records
        base = rec.base
        indices = []
        for entry in sock.inflight:
            indices.extend(entry[0].tolist() if entry.__class__ is tuple else (entry,))
        for i in indices:
            i -= base
            if i < 0:
                continue  # compacted: it had ended
            if rec.done[i] > t and rec.sent[i] < t:
                if how == RESET:
                    rec.status[i], rec.done[i] = RESET, t
                elif rec.status[i] == OK:
                    rec.status[i] = TIMEOUT
                    rec.done[i] = rec.sent[i] + self.sources[rec.source[i]].timeout
        sock.inflight.clear()
        sock.free = [t] * len(sock.free)

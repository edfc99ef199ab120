"""``c.traffic(..., mode="fluid")``: the same Services, kube-proxies and pods, traffic as expected flows.

Instead of individual requests, time is cut into ticks (``tick``, 1 s by default; the last one of
a source may be shorter). In each tick a source offers ``Λ(t+Δ) − Λ(t)`` requests (the pattern's
integral), routed as the proxy mode would in expectation:

- clients are spread over the nodes as in request mode (stand-in clients of a failed node send
  from live nodes); SLB traffic is split evenly over its healthy backend nodes (round robin),
  NodePort traffic enters its node;
- each entry node's kube-proxy splits its share over the endpoints it has programmed at the tick's
  start: evenly for iptables/nftables ``random`` and ipvs ``rr`` (and ``lc``, equal pods sharing
  evenly; session affinity changes which client goes where, not the expected split); ipvs ``sh``
  by the clients' source hashes (each client to its bucket's endpoint);
- no rule, a failed node or a hung process: the share times out; no endpoint (REJECT) or a pod not
  listening: refused. Everything is judged at the tick's start.

Each pod (worker count ``c``, mean service time ``m`` from ``labkit.io/service-time``) serves
``served = min(offered + backlog, μΔ)`` with capacity ``μ = min(c / s₁, L / q)``: ``s₁ = E[max(S, q/L)]``
is the mean service time under the CFS rule of :mod:`labkit.workloads.engine` for one request
in service (exact for exponential and constant service times, ``max(m, q/L)`` for lognormal),
``L / q`` the CPU-bound rate under a limit ``L`` with ``labkit.io/cpu-per-request`` ``q``. The
excess waits in a FIFO backlog; what lies beyond ``μ × timeout`` could not be answered before the
client's timeout and is dropped as ``timeout`` at once. After a source ends, ticks go on with no
new requests until its backlog has drained. A pod that stops serving resets its backlog.

Latency of a tick's requests: the backlog's deterministic wait ``W = (B₀ + B₁) / 2 / μ`` plus
the M/M/c sojourn time with arrival rate ``λ`` (this tick's offered rate), ``c`` servers of rate
``μ₁ = μ / c`` — mean ``W + C(c, λ/μ₁)/(cμ₁ − λ) + 1/μ₁`` (Erlang C), and the tail
``P(T > W + x) = (1 + C/(c−1−a)) e^{−μ₁x} − C/(c−1−a) e^{−(cμ₁−λ)x}`` (``a = λ/μ₁``; the
closed form of the M/M/c FIFO response time; ``(1 + Cμ₁x) e^{−μ₁x}`` when ``c − 1 = a``). When
``λ ≥ cμ₁`` the M/M/c part is the bare service time (``C = 0``) and the backlog carries the queue.
p50/p95/p99 are quantiles of that distribution, mixed over ticks and pods by answered requests
(exact for exponential service, an estimate for constant and lognormal ones). The share of served
requests with ``T`` above the client's timeout count as ``timeout``.

Usage: each tick's served requests go into the pod's cgroup counters spread over the tick
(:mod:`labkit.metrics.usage`), so metrics-server and an HPA see fluid traffic as they see requests.
Simplification: fluid sources do not share a pod's workers with one another or with request-level
traffic (each keeps its own backlog per pod).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.workloads.engine import Source

if TYPE_CHECKING:
    import pandas as pd

    from labkit.network.dataplane import AppSocket, DataPlane
    from labkit.network.proxy import KubeProxy
    from labkit.sim import LabEnvironment

__all__ = ["FluidEngine", "FluidTraffic", "DEFAULT_TICK"]

DEFAULT_TICK = 1.0
INF = math.inf
_REFUSED, _TIMEOUT = -2, -3  # fates of a share that reaches no serving pod
COLS = ("t", "dt", "sock", "offered", "served", "ok", "refused", "reset", "timeout", "backlog",
        "wait", "mu1", "lam", "c", "erlang")


def erlang_c(c: int, a: np.ndarray) -> np.ndarray:
    """Erlang C (probability of waiting) for ``c`` servers and offered load ``a`` (array); 0 where
    ``a >= c`` (overload: the backlog carries the queue instead)."""
    if c == 1:
        return np.where(a < 1, a, 0.0)  # M/M/1: the probability of waiting is rho
    b = np.ones_like(a)
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    with np.errstate(divide="ignore", invalid="ignore"):
        out = b / (1 - rho * (1 - b))
    return np.where(rho < 1, out, 0.0)


class _Tail:
    """``P(T > x)`` of fixed rows (the module docstring's M/M/c response time behind a backlog),
    with what does not depend on ``x`` computed once (the quantile search calls it often)."""

    def __init__(self, wait, mu1, lam, c, erl) -> None:
        a = lam / mu1
        d = c - 1 - a
        self.wait = wait
        self.nd = np.abs(d) > 1e-9
        self.degenerate = not bool(np.all(self.nd))
        with np.errstate(divide="ignore", invalid="ignore"):
            self.coef = np.where(self.nd, erl / np.where(self.nd, d, 1.0), 0.0)
        self.coef1 = 1 + self.coef
        self.neg_mu1 = -mu1
        self.neg_gap = -np.maximum(c * mu1 - lam, 0.0)
        self.erl_mu1 = erl * mu1

    def __call__(self, x) -> np.ndarray:
        y = np.maximum(x - self.wait, 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            e1 = np.exp(self.neg_mu1 * y)
            p = self.coef1 * e1 - self.coef * np.exp(self.neg_gap * y)
            if self.degenerate:
                p = np.where(self.nd, p, (1 + self.erl_mu1 * y) * e1)
        p = np.clip(p, 0.0, 1.0)
        return np.where(x < self.wait, 1.0, p)


def tail(x: np.ndarray, wait, mu1, lam, c, erl) -> np.ndarray:
    """``P(T > x)`` for each row (the module docstring's M/M/c response time behind a backlog)."""
    return _Tail(wait, mu1, lam, c, erl)(x)


def mean_latency(wait, mu1, lam, c, erl) -> np.ndarray:
    gap = c * mu1 - lam
    with np.errstate(divide="ignore", invalid="ignore"):
        wq = np.where(gap > 0, erl / np.where(gap > 0, gap, 1.0), 0.0)
    return wait + wq + 1 / mu1


#: The quantile search stops once every bracket is this narrow (seconds).
QUANTILE_TOL = 1e-12


def mixture_quantile(qs, weights, params, groups: np.ndarray | None = None, n_groups: int = 1
                     ) -> np.ndarray:
    """Quantiles ``qs`` of the mixture of the rows' latency distributions, weighted (per group).

    Rows with the same group and latency parameters count once, with their weights summed (a
    rate held for a minute gives sixty identical ticks); the bisection stops when every bracket
    is narrower than :data:`QUANTILE_TOL`."""
    w = np.asarray(weights, dtype=float)
    total = np.bincount(np.zeros(len(w), dtype=np.int64) if groups is None else groups, weights=w,
                        minlength=n_groups)
    out = np.full((len(qs), n_groups), np.nan)
    if not len(w):
        return out
    params = tuple(np.broadcast_to(np.asarray(p, dtype=float), w.shape) for p in params)
    hi_row = params[0] + 60.0 / params[1] + 1.0
    if groups is None:
        g = np.zeros(len(w), dtype=np.int64)
        hi0 = np.full(n_groups, float(hi_row.max()))
    else:
        g = np.asarray(groups, dtype=np.int64)
        hi0 = np.zeros(n_groups)
        np.maximum.at(hi0, g, hi_row)
    if len(w) > 1:  # identical rows once, weights summed
        order = np.lexsort(params[::-1] + (g,))
        keys = np.stack([g.astype(float)] + [p for p in params])[:, order]
        new = np.empty(len(w), dtype=bool)
        new[0] = True
        new[1:] = np.any(keys[:, 1:] != keys[:, :-1], axis=0)
        if not new.all():
            starts = np.flatnonzero(new)
            w = np.add.reduceat(w[order], starts)
            first = order[starts]
            g = g[first]
            params = tuple(p[first] for p in params)
    f = _Tail(*params)
    for j, q in enumerate(qs):
        lo, hi = np.zeros(n_groups), hi0.copy()
        target = (1 - q) * total
        for _ in range(60):
            mid = (lo + hi) / 2
            p = np.bincount(g, weights=w * f(mid[g]), minlength=n_groups)
            above = p > target
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
            if float((hi - lo).max()) <= QUANTILE_TOL:
                break
        out[j] = np.where(total > 0, hi, np.nan)
    return out


class _Fluid:
    """One fluid source: its ticks so far (columns) and its backlog per pod."""

    def __init__(self, source: Source, tick: float) -> None:
        self.src = source
        self.tick = tick
        self.k = 0  # next tick
        self.backlog: dict[int, float] = {}  # socket index -> requests waiting
        self.parts: dict[str, list[np.ndarray]] = {c: [] for c in COLS}
        self._cache: dict[str, np.ndarray] | None = None

    def t_of(self, k: int) -> float:
        return self.src.start + k * self.tick

    @property
    def busy(self) -> bool:
        return self.k * self.tick < self.src.duration or any(b > 1e-9 for b in self.backlog.values())

    def add(self, m: int, cols: dict[str, np.ndarray]) -> None:
        """One batch of ``m`` ticks: per column a ``(keys, m)`` array (row-major: key by key, as
        the rows go) or a ``(keys,)`` array constant over the ticks; a column left out is 0."""
        self.parts["t"].append((m, cols))
        self._cache = None

    def columns(self) -> dict[str, np.ndarray]:
        if self._cache is None:
            batches = self.parts["t"]
            out = {}
            rows = [len(b["sock"]) * m for m, b in batches]
            for c in COLS:
                kind = np.int64 if c in ("sock", "c") else float
                vals = []
                for (m, b), n in zip(batches, rows):
                    v = b.get(c)
                    if v is None:
                        vals.append(np.zeros(n, dtype=kind))
                    elif v.ndim == 1:  # one value per key
                        vals.append(np.repeat(v.astype(kind, copy=False), m))
                    else:
                        vals.append(v.astype(kind, copy=False).ravel())
                out[c] = np.concatenate(vals) if vals else np.empty(0, dtype=kind)
            self._cache = out
            self.parts["t"] = [(1, out)] if len(out["t"]) else []
        return self._cache


def _mean_service(sock: AppSocket) -> float:
    """``E[max(S, q/L)]`` for the socket's service-time distribution (module docstring)."""
    st, q = sock.service_time, sock.throttle_s
    if not q:
        return st.mean_s
    if st.dist == "exponential":
        return q + st.mean_s * math.exp(-q / st.mean_s)
    return max(st.mean_s, q)


class FluidEngine:
    """Every fluid source of one cluster.

    Ticks are computed lazily: a tick depends only on the routing and the pods at its start, and
    that state changes only in the data plane (a pod serves, closes, exits, is removed; a node
    fails or recovers) and in kube-proxy (a new rule version, a node joins or leaves). Both call
    :meth:`sync` before such a change (their ``before_change`` hooks), metrics-server calls it
    (through ``DataPlane.sync``) before it reads usage, and the traffic views before they read
    the ticks; :meth:`sync` computes every tick that starts before now with the state as it is.
    One SimPy process sleeps until the sources' ends (their ticks are work for ``c.run()``) and
    through the draining of their backlogs. The eager engine (``_eager``: wake at every SimPy
    event and compute the ticks before the next one) gives the same ticks; it is kept for tests.
    """

    #: wake at every SimPy event instead of computing on demand (the reference for the lazy path)
    _EAGER = False

    def __init__(self, env: LabEnvironment, dataplane: DataPlane, proxy: KubeProxy,
                 eager: bool | None = None) -> None:
        self.env = env
        self.dp = dataplane
        self.proxy = proxy
        self.sources: list[_Fluid] = []
        self._process = None
        self._eager = self._EAGER if eager is None else eager
        self._synced = -INF  # every tick that starts before this is computed
        self._mu: dict[int, float] = {}  # socket index -> capacity (requests/s): fixed per socket
        if not self._eager:
            dataplane.before_change.append(self.sync)
            proxy.before_change.append(self.sync)

    def add(self, source: Source, tick: float) -> _Fluid:
        f = _Fluid(source, tick)
        self.sources.append(f)
        if self._process is None or not self._process.is_alive:
            self._process = self.env.process(self._loop() if self._eager else self._lazy())
        return f

    def sync(self) -> None:
        """Compute every tick that starts before now (the lazy path; a no-op for the eager one)."""
        now = self.env.now
        if self._eager or now <= self._synced:
            return
        for f in self.sources:
            self._advance(f, now)
        self._synced = now

    def _lazy(self):
        env = self.env
        while True:
            self.sync()
            active = [f for f in self.sources if f.busy]
            if not active:  # every tick is computed; run on until the last one has passed
                end = max(f.t_of(f.k) for f in self.sources)
                if end <= env.now:
                    return
                yield env.timeout(end - env.now)
                continue
            # the end of what is offered, then tick by tick while a backlog drains
            wake = min(f.src.end if f.k * f.tick < f.src.duration else f.t_of(f.k) + f.tick
                       for f in active)
            yield env.timeout(max(0.0, wake - env.now))

    def _loop(self):
        env = self.env
        while True:
            t_next = env.peek()
            for f in self.sources:
                self._advance(f, t_next)
            active = [f for f in self.sources if f.busy]
            if active:
                wake = t_next if t_next < INF else min(f.t_of(f.k) for f in active)
            else:  # every tick is computed; run on until the last one has passed, as requests do
                wake = min(t_next, max(f.t_of(f.k) for f in self.sources))
                if max(f.t_of(f.k) for f in self.sources) <= env.now:
                    return
            yield env.timeout(max(0.0, wake - env.now))

    # -- routing at one instant ---------------------------------------------------------------------
    def _entry(self, s: Source, key: Any, t: float) -> list[tuple[str, float, list[int]]]:
        """(entry node, share of the source's requests, its clients) at ``t``."""
        dp, proxy = self.dp, self.proxy
        if s.route == "nodeport":
            return [(s.entry_node, 1.0, list(range(len(s.clients))))]
        if s.route == "slb":
            backends = []
            for node in proxy.nodes:
                if node in dp.down:
                    continue
                if key is not None:
                    rules = proxy.rules_at(key, node, t)[0]
                    if rules is not None and rules.external_local and not rules.local(node):
                        continue
                backends.append(node)
            n = len(s.clients)
            return [(node, 1.0 / len(backends), list(range(n))) for node in backends] or [("", 1.0, [])]
        alive = [n for n in proxy.nodes if n not in dp.down]
        by: dict[str, list[int]] = {}
        for i, (_, node) in enumerate(s.clients):
            if s.virtual and node in dp.down and alive:
                node = alive[i % len(alive)]
            by.setdefault(node, []).append(i)
        n = len(s.clients)
        return [(node, len(ids) / n, ids) for node, ids in by.items()]

    def _routes(self, s: Source, t: float) -> tuple[dict[int, float], dict[int, float], float]:
        """Where the source's requests go at ``t``: share per socket index (positive: a socket;
        ``_REFUSED``/``_TIMEOUT``: no serving pod), the gone sockets' shares (refused, named), and
        until when that routing holds (the next node that programs a change)."""
        proxy, dp = self.proxy, self.dp
        key = proxy.by_node_port.get((s.vip[1], s.vip[2])) if s.route == "nodeport" else \
            proxy.by_vip.get(s.vip)
        external = s.route != "cluster"
        shares: dict[int, float] = {}
        until = INF

        def put(k: int, w: float) -> None:
            shares[k] = shares.get(k, 0.0) + w

        for node, w, ids in self._entry(s, key, t):
            if key is None or not node or node in dp.down:
                put(_TIMEOUT, w)
                continue
            rules, u = proxy.rules_at(key, node, t)
            until = min(until, u)
            if rules is None:
                put(_TIMEOUT, w)
                continue
            targets = rules.targets(node, external)
            if not targets:
                local = rules.external_local if external else rules.internal_local
                put(_TIMEOUT if local and rules.usable else _REFUSED, w)
                continue
            n = len(targets)
            if proxy.algorithm == "sh" and ids:
                split = [0.0] * n
                for i in ids:
                    a, b, c, d = (int(x) for x in s.clients[i][0].split("."))
                    addr = (a << 24) | (b << 16) | (c << 8) | d
                    split[(((addr * 0x61C88647) & 0xFFFFFFFF) >> 24) % n] += w / len(ids)
            else:
                split = [w / n] * n
            for ep, share in zip(targets, split):
                if not share:
                    continue
                sock = dp.apps.get(ep.ip)
                if sock is None:
                    gone = dp.last.get(ep.ip)
                    put(-(gone.index + 10) if gone is not None else _REFUSED, share)
                else:
                    put(sock.index, share)
        return shares, {}, until

    # -- ticks ----------------------------------------------------------------------------------------
    def _advance(self, f: _Fluid, t_next: float) -> None:
        s = f.src
        while f.busy:
            t0 = f.t_of(f.k)
            if t0 >= t_next:
                return
            shares, _, until = self._routes(s, t0)
            # ticks starting before the next SimPy event and the next kube-proxy change
            stop = min(t_next, until)
            k1 = f.k + max(1, int(math.ceil((stop - t0) / f.tick - 1e-9)))
            if k1 * f.tick >= s.duration and f.k * f.tick < s.duration:
                k1 = min(k1, int(math.ceil(s.duration / f.tick - 1e-9)))  # the last offered tick
            ks = np.arange(f.k, k1)
            ts = s.start + ks * f.tick
            rel0 = np.minimum(ks * f.tick, s.duration)
            rel1 = np.minimum((ks + 1) * f.tick, s.duration)
            offered = np.interp(rel1, s._knots, s._lam) - np.interp(rel0, s._knots, s._lam)
            dt = np.where(rel1 > rel0, rel1 - rel0, f.tick)
            self._ticks(f, ts, dt, offered, shares)
            f.k = k1

    def _ticks(self, f: _Fluid, ts: np.ndarray, dt: np.ndarray, offered: np.ndarray,
               shares: dict[int, float]) -> None:
        """The batch's rows, one per share key and tick; the pods' sums over all their rows at once."""
        dp = self.dp
        timeout = f.src.timeout
        keys = list(shares)
        nk, m = len(keys), len(ts)
        n = np.array([shares[k] for k in keys])[:, None] * offered  # n = offered x share
        sock = np.empty(nk, dtype=np.int64)
        refused, timed = np.zeros((nk, m)), np.zeros((nk, m))
        live: list[tuple[int, AppSocket]] = []
        for j, key in enumerate(keys):
            if key in (_REFUSED, _TIMEOUT):
                sock[j] = -1
                (refused if key == _REFUSED else timed)[j] = n[j]
            elif key < 0:  # a pod that is gone: refused, named in the frame
                sock[j] = -(key + 10)
                refused[j] = n[j]
            else:
                sock[j] = key
                s = dp.sockets[key]
                if s.node in dp.down:
                    timed[j] = n[j]
                    f.backlog.pop(key, None)
                else:
                    live.append((j, s))
        cols = {"t": np.broadcast_to(ts, (nk, m)), "dt": np.broadcast_to(dt, (nk, m)), "sock": sock,
                "offered": n, "refused": refused, "timeout": timed}
        if live:
            self._serve(f, ts, dt, n, live, timeout, cols)
        f.add(m, cols)

    def _serve(self, f: _Fluid, ts: np.ndarray, dt: np.ndarray, n_all: np.ndarray,
               live: list[tuple[int, AppSocket]], timeout: float, cols: dict[str, np.ndarray]) -> None:
        """The rows of the serving pods (``live``: row index and socket), every pod at once."""
        nk, m = n_all.shape
        rows = np.array([j for j, _ in live])
        n = n_all[rows]
        socks = [s for _, s in live]
        first, last = float(ts[0]), float(ts[-1])
        if all(s.listen_at <= first and min(s.closed_at, s.exit_at, s.hang_at) > last for s in socks):
            refused = hung = np.zeros((len(socks), m), dtype=bool)  # every pod serves every tick
            serve = ~refused
        else:
            at = np.array([(s.listen_at, s.closed_at, s.exit_at, s.hang_at) for s in socks])
            refused = (ts < at[:, 0:1]) | (ts >= at[:, 1:2]) | (ts >= at[:, 2:3])
            hung = ~refused & (ts >= at[:, 3:4])
            serve = ~refused & ~hung
        mus, servers = [], []
        for s in socks:
            got = self._mu.get(s.index)
            if got is None:
                s1 = _mean_service(s)
                c = s.concurrency
                rate = c / s1
                if s.throttle_s:
                    # CPU-bound: the limit sustains 1/throttle_s requests per second, and a request
                    # alone takes max(S, q/L); so that capacity, on as many workers as it keeps busy
                    # (at most the concurrency, at least one), each serving at about max(S, q/L)
                    rate = min(rate, 1.0 / s.throttle_s)
                    c = max(1, min(c, round(rate * s1)))
                got = self._mu[s.index] = (rate, c)
            mus.append(got[0])
            servers.append(got[1])
        mu = np.array(mus)
        cs = np.array(servers, dtype=np.int64)
        mu1 = mu / cs
        lam = n / dt
        nl = len(socks)
        served, drop, b_end, wait = n.copy(), np.zeros((nl, m)), np.zeros((nl, m)), np.zeros((nl, m))
        reset = np.zeros((nl, m))
        b0 = np.array([f.backlog.get(s.index, 0.0) for s in socks])
        easy = (b0 == 0) & serve.all(axis=1) & (n <= mu[:, None] * dt).all(axis=1)
        for r in np.flatnonzero(~easy).tolist():  # the backlog recursion (cheap: plain floats)
            mu_r, b = mus[r], float(b0[r])
            cap_q = mu_r * timeout
            sv_r, n_r, serve_r = served[r], n[r], serve[r]
            dr, wr, be, rs = drop[r], wait[r], b_end[r], reset[r]
            for i in range(m):
                if not serve_r[i]:
                    sv_r[i] = 0.0
                    rs[i], b = b, 0.0
                    continue
                avail = b + n_r[i]
                cap = mu_r * dt[i]
                sv = avail if avail < cap else cap
                nb = avail - sv
                if nb > cap_q:
                    dr[i] = nb - cap_q
                    nb = cap_q
                sv_r[i], wr[i], be[i] = sv, (b + nb) / 2 / mu_r, nb
                b = nb
            f.backlog[socks[r].index] = b
        for r in np.flatnonzero(easy).tolist():
            f.backlog[socks[r].index] = 0.0
        erl = np.zeros((nl, m))
        for c in np.unique(cs).tolist():
            if c <= 1000:
                sel = cs == c
                erl[sel] = erlang_c(c, lam[sel] / mu1[sel, None])
        # P(T > timeout) <= e^{-40} in a tick without backlog: 0, without the exponentials (a day
        # of ticks adds up); decided tick by tick, so how ticks are batched changes nothing
        gap = np.minimum(mu1[:, None], cs[:, None] * mu1[:, None] - lam)
        skip = (gap > 0) & ((timeout - wait) * gap > 40) & (b_end == 0)
        late = np.zeros((nl, m))
        k = ~skip.all(axis=1)
        if k.any():
            late[k] = np.where(skip[k], 0.0, tail(np.full((int(k.sum()), m), timeout), wait[k], mu1[k, None],
                                                  lam[k], cs[k, None], erl[k]))
        ok = served * (1 - late)
        full = {"served": served, "ok": ok, "reset": reset, "backlog": b_end, "wait": wait, "lam": lam,
                "erlang": erl}
        for name, v in full.items():
            col = np.zeros((nk, m))
            col[rows] = v
            cols[name] = col
        cols["refused"][rows] = np.where(refused, n, 0.0)
        cols["timeout"][rows] = np.where(hung, n, 0.0) + drop + served * late
        per = {"mu1": mu1, "c": cs}
        for name, v in per.items():
            col = np.zeros(nk, dtype=v.dtype)
            col[rows] = v
            cols[name] = col
        te = ts + dt
        for r, s in enumerate(socks):
            work = served[r] > 0
            if work.all():
                s.fluid_start.frombytes(ts.tobytes())
                s.fluid_end.frombytes(te.tobytes())
                s.fluid_n.frombytes(served[r].tobytes())
            elif work.any():
                s.fluid_start.frombytes(ts[work].tobytes())
                s.fluid_end.frombytes(te[work].tobytes())
                s.fluid_n.frombytes(served[r][work].tobytes())


class FluidTraffic:
    """A fluid ``c.traffic(...)``: expected counts per tick and pod (see the module docstring).

    ``summary()`` has the keys of request mode, counts rounded; ``frame()`` has one row per tick
    per pod (and per tick for shares that reached no pod, ``pod`` empty)."""

    mode = "fluid"

    def __init__(self, engine: FluidEngine, fluid: _Fluid, target: str, clock: Callable[[], float]) -> None:
        self._engine = engine
        self._fluid = fluid
        self.target = target
        self._clock = clock

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<labkit Traffic (fluid) to {self.target}: sent={s['sent']} ok={s['ok']} "
                f"failed={s['failed']} "
                f"in_flight={s['in_flight']} p99={s['p99_s']}>")

    def _cols(self) -> dict[str, np.ndarray]:
        self._engine.sync()
        cols = self._fluid.columns()
        keep = cols["t"] <= self._clock()
        return {k: v[keep] for k, v in cols.items()}

    @staticmethod
    def _params(a: dict[str, np.ndarray], rows: Any = slice(None)) -> tuple:
        mu1 = np.where(a["mu1"][rows] > 0, a["mu1"][rows], 1.0)
        return (a["wait"][rows], mu1, a["lam"][rows], a["c"][rows].astype(float), a["erlang"][rows])

    def summary(self) -> dict[str, Any]:
        """As request mode: ``sent``, ``ok``, ``failed`` (``refused`` + ``reset`` + ``timeout``),
        ``in_flight`` (the backlog), p50/p95/p99 of answered requests — expected values, counts
        rounded (``ok`` is what remains, so ``sent == ok + failed + in_flight`` holds)."""
        a = self._cols()
        sent = round(float(a["offered"].sum()))
        refused, reset, timeout = (round(float(a[k].sum())) for k in ("refused", "reset", "timeout"))
        failed = refused + reset + timeout
        last: dict[int, float] = {}
        for sock, b in zip(a["sock"].tolist(), a["backlog"].tolist()):
            last[sock] = b
        in_flight = round(sum(last.values()))
        ok = sent - failed - in_flight
        served = a["ok"] > 0
        q = [None] * 3
        if served.any():
            q = mixture_quantile([0.5, 0.95, 0.99], a["ok"][served], self._params(a, served))[:, 0].tolist()
        return {"sent": sent, "ok": ok, "failed": failed, "in_flight": in_flight, "refused": refused,
                "reset": reset, "timeout": timeout,
                "p50_s": None if q[0] is None else round(q[0], 6),
                "p95_s": None if q[1] is None else round(q[1], 6),
                "p99_s": None if q[2] is None else round(q[2], 6)}

    def frame(self) -> pd.DataFrame:
        """One row per tick per pod: ``t_s`` (tick start), ``dt_s``, ``pod``, ``node``, ``offered``,
        ``served``, ``ok``, ``refused``, ``reset``, ``timeout`` (expected requests), ``backlog``
        (waiting at the tick's end), ``mean_s``, ``p95_s``, ``p99_s`` (latency of its answered requests)."""
        import pandas as pd

        a = self._cols()
        socks = self._engine.dp.sockets
        names = np.asarray([s.name for s in socks] + [""], dtype=object)
        nodes = np.asarray([s.node for s in socks] + [""], dtype=object)
        idx = np.where(a["sock"] >= 0, a["sock"], len(socks))
        has = a["served"] > 0
        mean = np.full(len(idx), np.nan)
        p95 = np.full(len(idx), np.nan)
        p99 = np.full(len(idx), np.nan)
        if has.any():
            par = self._params(a, has)
            mean[has] = mean_latency(*par)
            rows = np.flatnonzero(has)
            q = mixture_quantile([0.95, 0.99], np.ones(len(rows)), par, np.arange(len(rows)), len(rows))
            p95[has], p99[has] = q[0], q[1]
        df = pd.DataFrame({"t_s": a["t"], "dt_s": a["dt"], "pod": names[idx], "node": nodes[idx],
                           "offered": a["offered"], "served": a["served"], "ok": a["ok"],
                           "refused": a["refused"],
                           "reset": a["reset"], "timeout": a["timeout"], "backlog": a["backlog"],
                           "mean_s": mean, "p95_s": p95, "p99_s": p99})
        return df.sort_values(["t_s", "pod"], kind="stable").reset_index(drop=True)

    def by_pod(self) -> pd.DataFrame:
        """Expected requests per pod, share, answered, mean and p99 latency (as request mode)."""
        import pandas as pd

        a = self._cols()
        socks = self._engine.dp.sockets
        rows = []
        pods = sorted({(socks[i].name, socks[i].node) for i in set(a["sock"].tolist()) if i >= 0})
        keys = {p: [i for i in set(a["sock"].tolist()) if i >= 0 and (socks[i].name, socks[i].node) == p]
                for p in pods}
        total = float(a["offered"][a["sock"] >= 0].sum())
        for (pod, node), ids in keys.items():
            sel = np.isin(a["sock"], ids)
            ok_w = a["ok"][sel]
            par = self._params(a, sel)
            mean = float((mean_latency(*par) * ok_w).sum() / ok_w.sum()) if ok_w.sum() > 0 else np.nan
            p99 = float(mixture_quantile([0.99], ok_w, par)[0, 0]) if ok_w.sum() > 0 else np.nan
            req = float(a["offered"][sel].sum())
            rows.append({"pod": pod, "node": node, "requests": round(req),
                         "share": req / total if total else 0.0,
                         "ok": round(float(ok_w.sum())), "mean_s": mean, "p99_s": p99})
        return pd.DataFrame(rows, columns=["pod", "node", "requests", "share", "ok", "mean_s", "p99_s"])

    def over_time(self, bin_s: float = 1.0) -> pd.DataFrame:
        """Per time bin (by tick start): expected requests in each status and the p99 latency."""
        import pandas as pd

        a = self._cols()
        cols = ["t_s", "ok", "refused", "reset", "timeout", "in_flight", "p99_s"]
        if not len(a["t"]):
            return pd.DataFrame(columns=cols)
        tb = np.round(np.floor(a["t"] / bin_s) * bin_s, 9)
        bins, g = np.unique(tb, return_inverse=True)
        out = {"t_s": bins}
        for k in ("ok", "refused", "reset", "timeout"):
            out[k] = np.bincount(g, weights=a[k], minlength=len(bins))
        out["in_flight"] = np.zeros(len(bins))
        has = a["ok"] > 0
        p99 = np.full(len(bins), np.nan)
        if has.any():
            p99 = mixture_quantile([0.99], a["ok"][has], self._params(a, has), g[has], len(bins))[0]
        out["p99_s"] = p99
        return pd.DataFrame(out, columns=cols)

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


def tail(x: np.ndarray, wait, mu1, lam, c, erl) -> np.ndarray:
    """``P(T > x)`` for each row (the module docstring's M/M/c response time behind a backlog)."""
    y = np.maximum(x - wait, 0.0)
    a = lam / mu1
    d = c - 1 - a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        coef = np.where(np.abs(d) > 1e-9, erl / np.where(np.abs(d) > 1e-9, d, 1.0), 0.0)
        gap = np.maximum(c * mu1 - lam, 0.0)
        p = (1 + coef) * np.exp(-mu1 * y) - coef * np.exp(-gap * y)
        p = np.where(np.abs(d) > 1e-9, p, (1 + erl * mu1 * y) * np.exp(-mu1 * y))
    p = np.clip(p, 0.0, 1.0)
    return np.where(x < wait, 1.0, p)


def mean_latency(wait, mu1, lam, c, erl) -> np.ndarray:
    gap = c * mu1 - lam
    with np.errstate(divide="ignore", invalid="ignore"):
        wq = np.where(gap > 0, erl / np.where(gap > 0, gap, 1.0), 0.0)
    return wait + wq + 1 / mu1


def mixture_quantile(qs, weights, params, groups: np.ndarray | None = None, n_groups: int = 1
                     ) -> np.ndarray:
    """Quantiles ``qs`` of the mixture of the rows' latency distributions, weighted (per group)."""
    w = np.asarray(weights, dtype=float)
    g = np.zeros(len(w), dtype=np.int64) if groups is None else groups
    total = np.bincount(g, weights=w, minlength=n_groups)
    out = np.full((len(qs), n_groups), np.nan)
    if not len(w):
        return out
    hi_row = params[0] + 60.0 / params[1] + 1.0
    hi0 = np.zeros(n_groups)
    np.maximum.at(hi0, g, hi_row)
    for j, q in enumerate(qs):
        lo, hi = np.zeros(n_groups), hi0.copy()
        target = (1 - q) * total
        for _ in range(60):
            mid = (lo + hi) / 2
            p = np.bincount(g, weights=w * tail(mid[g], *params), minlength=n_groups)
            above = p > target
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
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

    def add(self, **cols: Any) -> None:
        """One batch of rows: arrays, or scalars for a column constant over the batch."""
        self.parts["t"].append((len(cols["t"]), cols))
        self._cache = None

    def columns(self) -> dict[str, np.ndarray]:
        if self._cache is None:
            batches = self.parts["t"]
            out = {}
            for c in COLS:
                kind = np.int64 if c in ("sock", "c") else float
                vals = [np.asarray(b[c], dtype=kind) if c in b and np.ndim(b[c]) else
                        np.full(n, b.get(c, 0.0), dtype=kind) for n, b in batches]
                out[c] = np.concatenate(vals) if vals else np.empty(0, dtype=kind)
            self._cache = out
            self.parts["t"] = [(len(out["t"]), out)]
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
    """Every fluid source of one cluster."""

    def __init__(self, env: LabEnvironment, dataplane: DataPlane, proxy: KubeProxy) -> None:
        self.env = env
        self.dp = dataplane
        self.proxy = proxy
        self.sources: list[_Fluid] = []
        self._process = None

    def add(self, source: Source, tick: float) -> _Fluid:
        f = _Fluid(source, tick)
        self.sources.append(f)
        if self._process is None or not self._process.is_alive:
            self._process = self.env.process(self._loop())
        return f

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
        dp = self.dp
        timeout = f.src.timeout
        for key, share in shares.items():
            n = offered * share
            if key in (_REFUSED, _TIMEOUT):
                f.add(t=ts, dt=dt, sock=-1, offered=n, refused=n if key == _REFUSED else 0.0,
                      timeout=n if key == _TIMEOUT else 0.0)
                continue
            if key < 0:  # a pod that is gone: refused, named in the frame
                f.add(t=ts, dt=dt, sock=-(key + 10), offered=n, refused=n)
                continue
            sock = dp.sockets[key]
            if sock.node in dp.down:
                f.add(t=ts, dt=dt, sock=key, offered=n, timeout=n)
                f.backlog.pop(key, None)
                continue
            refused = (ts < sock.listen_at) | (ts >= sock.closed_at) | (ts >= sock.exit_at)
            hung = ~refused & (ts >= sock.hang_at)
            serve = ~refused & ~hung
            s1 = _mean_service(sock)
            c = sock.concurrency
            mu = c / s1
            if sock.throttle_s:
                mu = min(mu, 1.0 / sock.throttle_s)
            mu1 = mu / c
            m = len(ts)
            served, drop, b_end, wait = np.zeros(m), np.zeros(m), np.zeros(m), np.zeros(m)
            reset = np.zeros(m)
            b = f.backlog.get(key, 0.0)
            cap_q = mu * timeout
            lam = n / dt
            if b == 0 and serve.all() and bool((n <= mu * dt).all()):
                served, m = n.copy(), 0  # no queue builds up: nothing to recurse over
            for i in range(m):  # the backlog recursion (cheap: plain floats)
                if not serve[i]:
                    reset[i], b = b, 0.0
                    continue
                avail = b + n[i]
                cap = mu * dt[i]
                sv = avail if avail < cap else cap
                nb = avail - sv
                if nb > cap_q:
                    drop[i] = nb - cap_q
                    nb = cap_q
                served[i], wait[i], b_end[i] = sv, (b + nb) / 2 / mu, nb
                b = nb
            f.backlog[key] = b
            m = len(ts)
            erl = erlang_c(c, lam / mu1) if c <= 1000 else np.zeros(m)
            # P(T > timeout) <= e^{-40} below: skip the exponentials (a day of ticks adds up)
            gap = min(mu1, float((c * mu1 - lam).min()))
            if gap > 0 and (timeout - float(wait.max())) * gap > 40 and not b_end.any():
                late = np.zeros(m)
            else:
                late = tail(np.full(m, timeout), wait, mu1, lam, c, erl)
            ok = served * (1 - late)
            f.add(t=ts, dt=dt, sock=key, offered=n, served=served, ok=ok,
                  refused=np.where(refused, n, 0.0), reset=reset,
                  timeout=np.where(hung, n, 0.0) + drop + served * late, backlog=b_end, wait=wait,
                  mu1=mu1, lam=lam, c=c, erlang=erl)
            work = served > 0
            if work.any():
                sock.fluid_start.frombytes(ts[work].tobytes())
                sock.fluid_end.frombytes((ts + dt)[work].tobytes())
                sock.fluid_n.frombytes(served[work].tobytes())


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

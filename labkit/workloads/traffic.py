"""What one traffic source saw: per-request records and their summary.

A :class:`Traffic` is a live view: it shows the requests sent up to the cluster's current time,
so it can be read, the cluster run on (a pod deleted, a node failed), and read again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.workloads.engine import EXTRA_HOP, OK, SNAT, STATUS, TrafficEngine

if TYPE_CHECKING:
    import pandas as pd

    from labkit.workloads.engine import Source

__all__ = ["Traffic"]

COLUMNS = ["sent_s", "done_s", "latency_s", "status", "pod", "node", "entry_node", "client", "source_ip",
           "extra_hop"]


class Traffic:
    """The requests of one ``c.traffic(...)`` call (see :mod:`labkit.workloads.engine`)."""

    def __init__(self, engine: TrafficEngine, source: Source, target: str, clock) -> None:
        self._engine = engine
        self._source = source
        self.target = target
        self._clock = clock

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<labkit Traffic to {self.target}: sent={s['sent']} ok={s['ok']} failed={s['failed']} "
                f"in_flight={s['in_flight']} p99={s['p99_s']}>")

    @property
    def keeps_summary(self) -> bool:
        """Whether this traffic keeps a summary instead of a row per request (``keep="summary"``)."""
        return self._source.summary is not None

    def _arrays(self) -> dict[str, np.ndarray]:
        """This source's rows sent so far: archived ones (see ``Records``), then the kept ones."""
        self._engine.sync()
        rec = self._engine.records
        now = self._clock()
        cols = rec.columns()
        rows = np.flatnonzero((cols["source"] == self._source.id) & (cols["sent"] <= now))
        out = {c: v[rows] for c, v in cols.items() if c != "source"}
        del cols
        if self._source.archive:
            out = {c: np.concatenate([a[c] for a in self._source.archive] + [out[c]]) for c in out}
        out["status"] = out["status"].astype(np.int64)
        out["inflight"] = out["done"] > now
        return out

    def _summary(self):
        """``keep="summary"``: the folded requests merged with the final ones still kept, and the
        in-flight count."""
        a = self._arrays()
        final = ~a["inflight"]
        merged = self._source.summary.merged(a["sent"][final], a["done"][final], a["status"][final],
                                             a["sock"][final])
        return merged, a

    def summary(self) -> dict[str, Any]:
        """``sent``, ``ok``, ``failed`` (``refused`` + ``reset`` + ``timeout``, also given apart),
        ``in_flight``, and the ``p50_s``/``p95_s``/``p99_s`` latency of the answered requests
        (None before any). Always ``sent == ok + failed + in_flight``. With ``keep="summary"`` the
        counts are exact and the latencies come from a histogram (within 2 %)."""
        if self._source.summary is not None:
            from labkit.workloads.summary import quantile

            merged, a = self._summary()
            counts = merged.counts
            q = [quantile(merged.hist, x) for x in (0.5, 0.95, 0.99)]
            inflight = int(a["inflight"].sum())
            sent = merged.sent + inflight
        else:
            a = self._arrays()
            finished = ~a["inflight"]
            counts = np.bincount(a["status"][finished], minlength=len(STATUS))
            ok_lat = (a["done"] - a["sent"])[finished & (a["status"] == OK)]
            q = np.quantile(ok_lat, [0.5, 0.95, 0.99]).tolist() if len(ok_lat) else [None] * 3
            inflight = int(a["inflight"].sum())
            sent = int(len(a["sent"]))
        return {
            "sent": int(sent),
            "ok": int(counts[0]),
            "failed": int(counts[1:].sum()),
            "in_flight": inflight,
            "refused": int(counts[1]),
            "reset": int(counts[2]),
            "timeout": int(counts[3]),
            "p50_s": None if q[0] is None else round(float(q[0]), 6),
            "p95_s": None if q[1] is None else round(float(q[1]), 6),
            "p99_s": None if q[2] is None else round(float(q[2]), 6),
        }

    def frame(self) -> pd.DataFrame:
        """One row per request sent so far: ``sent_s``, ``done_s``, ``latency_s`` (simulated
        seconds), ``status`` (``ok``/``refused``/``reset``/``timeout``, or ``in_flight`` with no
        ``done_s`` yet), ``pod`` and ``node`` that got it (empty when none did), ``entry_node``
        (whose kube-proxy chose), ``client`` (its IP), ``source_ip`` (the source address the pod
        sees: the node's for external traffic with ``externalTrafficPolicy: Cluster``, which
        kube-proxy masquerades) and ``extra_hop`` (external traffic sent on to another node)."""
        import pandas as pd

        if self._source.summary is not None:
            raise ValueError(f"traffic to {self.target} keeps a summary (keep='summary'), not a row per "
                             "request: read .summary(), .by_pod() or .over_time(), or send with "
                             "keep='requests' to get the frame")
        a = self._arrays()
        eng = self._engine
        socks = eng.dp.sockets
        names = np.asarray([s.name for s in socks] + [""], dtype=object)
        nodes = np.asarray([s.node for s in socks] + [""], dtype=object)
        entry = np.asarray(list(eng.nodes) + [""], dtype=object)
        labels = np.asarray(list(STATUS) + ["in_flight"], dtype=object)
        status = np.where(a["inflight"], len(STATUS), a["status"])
        done = np.where(a["inflight"], np.nan, a["done"])
        clients = np.asarray([c[0] for c in self._source.clients], dtype=object)
        node_ips = np.asarray([eng.proxy.node_ips.get(n, "") for n in eng.nodes] + [""], dtype=object)
        client_ip = clients[a["client"]]
        source_ip = np.where((a["hop"] & SNAT) > 0, node_ips[a["node"]], client_ip)
        return pd.DataFrame({
            "sent_s": a["sent"], "done_s": done, "latency_s": done - a["sent"],
            "status": labels[status], "pod": names[a["sock"]], "node": nodes[a["sock"]],
            "entry_node": entry[a["node"]], "client": client_ip, "source_ip": source_ip,
            "extra_hop": (a["hop"] & EXTRA_HOP) > 0,
        }, columns=COLUMNS)

    def by_pod(self) -> pd.DataFrame:
        """Requests per pod (share of the answered ones, mean and p99 latency): the load balance."""
        import pandas as pd

        cols = ["pod", "node", "requests", "share", "ok", "mean_s", "p99_s"]
        if self._source.summary is not None:
            from labkit.workloads.summary import quantile

            merged, a = self._summary()
            socks = self._engine.dp.sockets
            pods: dict[tuple[str, str], list] = {}  # (pod, node) -> [requests, ok, latency sum, hist]
            for i, (n, ok) in merged.pod_counts.items():
                p = pods.setdefault((socks[i].name, socks[i].node), [0, 0, 0.0, 0])
                p[0] += int(n)
                p[1] += int(ok)
                p[2] += merged.pod_latency.get(i, 0.0)
                p[3] = p[3] + merged.pod_hist[i]
            flying = a["sock"][a["inflight"] & (a["sock"] >= 0)]
            for i, n in zip(*np.unique(flying, return_counts=True)):
                pods.setdefault((socks[int(i)].name, socks[int(i)].node), [0, 0, 0.0, 0])[0] += int(n)
            if not pods:
                return pd.DataFrame(columns=cols)
            rows = [{"pod": pod, "node": node, "requests": n, "ok": ok,
                     "mean_s": lat / ok if ok else np.nan, "p99_s": quantile(h, 0.99) if ok else np.nan}
                    for (pod, node), (n, ok, lat, h) in sorted(pods.items())]
            out = pd.DataFrame(rows)
            out["share"] = out["requests"] / out["requests"].sum()
            return out[cols]
        df = self.frame()
        df = df[df["pod"] != ""]
        if df.empty:
            return pd.DataFrame(columns=cols)
        g = df.groupby(["pod", "node"], sort=True)
        out = g.agg(requests=("status", "size"), ok=("status", lambda s: int((s == "ok").sum())))
        lat = df[df["status"] == "ok"].groupby(["pod", "node"])["latency_s"]
        out["mean_s"] = lat.mean()
        out["p99_s"] = lat.quantile(0.99)
        out["share"] = out["requests"] / out["requests"].sum()
        return out.reset_index()[cols]

    def over_time(self, bin_s: float = 1.0, quantile: float = 0.99) -> pd.DataFrame:
        """Per time bin (by the time a request was sent): how many ended in each status, and the
        ``quantile`` of the answered ones' latency (column ``p99_s`` for 0.99, ``p95_s`` for 0.95).
        With ``keep="summary"``, ``bin_s`` is a multiple of
        :data:`labkit.workloads.summary.BUCKET_S` (10 s) and the quantile comes from a histogram."""
        import pandas as pd

        if isinstance(bin_s, bool) or not isinstance(bin_s, (int, float)) or not bin_s > 0:
            raise ValueError(f"bin_s {bin_s!r}: the width of a time bin in seconds (> 0)")
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 <= quantile <= 1:
            raise ValueError(f"quantile {quantile!r}: a fraction between 0 and 1 (0.99 for p99)")
        name = f"p{quantile * 100:g}_s"
        cols = ["t_s", *STATUS, "in_flight", name]
        if self._source.summary is not None:
            return self._over_time_summary(float(bin_s), float(quantile), cols)
        df = self.frame()
        if df.empty:
            return pd.DataFrame(columns=cols)
        df["t_s"] = (np.floor(df["sent_s"] / bin_s) * bin_s).round(9)
        counts = df.pivot_table(index="t_s", columns="status", values="sent_s", aggfunc="size", fill_value=0)
        for col in (*STATUS, "in_flight"):
            if col not in counts:
                counts[col] = 0
        lat = df[df["status"] == "ok"].groupby("t_s")["latency_s"].quantile(quantile)
        out = counts[[*STATUS, "in_flight"]].astype(int)
        out.columns.name = None
        out[name] = lat
        return out.reset_index()

    def _over_time_summary(self, bin_s: float, q: float, cols: list[str]) -> pd.DataFrame:
        import pandas as pd

        from labkit.workloads.summary import BUCKET_S, quantile

        per = bin_s / BUCKET_S
        if abs(per - round(per)) > 1e-9:
            raise ValueError(f"bin_s {bin_s!r}: this traffic keeps a summary in {BUCKET_S:g} s buckets "
                             f"(keep='summary'): choose a multiple of {BUCKET_S:g}")
        per = int(round(per))
        merged, a = self._summary()
        if merged.b0 is None and not a["inflight"].any():
            return pd.DataFrame(columns=cols)
        counts, hist = merged.bucket_counts, merged.bucket_hist
        b0 = merged.b0 if merged.b0 is not None else 0
        first = (b0 // per) * per  # bins aligned to multiples of bin_s, as floor(sent / bin_s)
        group = (np.arange(len(counts)) + b0 - first) // per
        n = int(group.max()) + 1 if len(group) else 0
        flying = np.floor(a["sent"][a["inflight"]] / BUCKET_S).astype(np.int64)
        fgroup = (flying - first) // per
        if len(fgroup):
            lo = min(0, int(fgroup.min()))
            first += lo * per
            group, fgroup = group - lo, fgroup - lo
            n = max(n - lo, int(fgroup.max()) + 1)
        by_status = np.zeros((n, len(STATUS)), dtype=np.int64)
        by_hist = np.zeros((n, merged.nbins), dtype=np.int64)
        if len(group):  # buckets in order: each bin's buckets are one run
            starts = np.flatnonzero(np.r_[True, np.diff(group) > 0])
            by_status[group[starts]] = np.add.reduceat(counts, starts, axis=0)
            by_hist[group[starts]] = np.add.reduceat(hist.astype(np.int64), starts, axis=0)
        in_flight = np.bincount(fgroup, minlength=n)[:n] if len(fgroup) else np.zeros(n, dtype=np.int64)
        used = np.flatnonzero(by_status.sum(axis=1) + in_flight > 0)
        out = pd.DataFrame({"t_s": np.round((first + used * per) * BUCKET_S, 9)})
        for j, name in enumerate(STATUS):
            out[name] = by_status[used, j]
        out["in_flight"] = in_flight[used]
        out[cols[-1]] = [quantile(by_hist[g], q) if by_hist[g].any() else np.nan for g in used.tolist()]
        return out[cols]

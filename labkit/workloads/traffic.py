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

    def _arrays(self) -> dict[str, np.ndarray]:
        self._engine.sync()
        rec = self._engine.records
        now = self._clock()
        src = np.frombuffer(rec.source, dtype=np.int64)
        sent = np.frombuffer(rec.sent, dtype=np.float64)
        rows = np.flatnonzero((src == self._source.id) & (sent <= now))
        done = np.frombuffer(rec.done, dtype=np.float64)[rows]
        status = np.frombuffer(rec.status, dtype=np.int8)[rows].astype(np.int64)
        inflight = done > now
        return {"rows": rows, "sent": sent[rows], "done": done, "status": status, "inflight": inflight,
                "sock": np.frombuffer(rec.sock, dtype=np.int64)[rows],
                "node": np.frombuffer(rec.node, dtype=np.int64)[rows],
                "client": np.frombuffer(rec.client, dtype=np.int64)[rows],
                "hop": np.frombuffer(rec.hop, dtype=np.int8)[rows]}

    def summary(self) -> dict[str, Any]:
        """``sent``, ``ok``, ``failed`` (``refused`` + ``reset`` + ``timeout``, also given apart),
        ``in_flight``, and the ``p50_s``/``p95_s``/``p99_s`` latency of the answered requests
        (None before any). Always ``sent == ok + failed + in_flight``."""
        a = self._arrays()
        finished = ~a["inflight"]
        counts = np.bincount(a["status"][finished], minlength=len(STATUS))
        ok_lat = (a["done"] - a["sent"])[finished & (a["status"] == OK)]
        q = np.quantile(ok_lat, [0.5, 0.95, 0.99]) if len(ok_lat) else [None] * 3
        return {
            "sent": int(len(a["sent"])),
            "ok": int(counts[0]),
            "failed": int(counts[1:].sum()),
            "in_flight": int(a["inflight"].sum()),
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
        df = self.frame()
        df = df[df["pod"] != ""]
        if df.empty:
            import pandas as pd

            return pd.DataFrame(columns=["pod", "node", "requests", "share", "ok", "mean_s", "p99_s"])
        g = df.groupby(["pod", "node"], sort=True)
        out = g.agg(requests=("status", "size"), ok=("status", lambda s: int((s == "ok").sum())))
        lat = df[df["status"] == "ok"].groupby(["pod", "node"])["latency_s"]
        out["mean_s"] = lat.mean()
        out["p99_s"] = lat.quantile(0.99)
        out["share"] = out["requests"] / out["requests"].sum()
        return out.reset_index()[["pod", "node", "requests", "share", "ok", "mean_s", "p99_s"]]

    def over_time(self, bin_s: float = 1.0) -> pd.DataFrame:
        """Per time bin (by the time a request was sent): how many ended in each status, and the
        p99 latency of the answered ones."""
        import pandas as pd

        df = self.frame()
        if df.empty:
            return pd.DataFrame(columns=["t_s", *STATUS, "in_flight", "p99_s"])
        df["t_s"] = (np.floor(df["sent_s"] / bin_s) * bin_s).round(9)
        counts = df.pivot_table(index="t_s", columns="status", values="sent_s", aggfunc="size", fill_value=0)
        for col in (*STATUS, "in_flight"):
            if col not in counts:
                counts[col] = 0
        p99 = df[df["status"] == "ok"].groupby("t_s")["latency_s"].quantile(0.99)
        out = counts[[*STATUS, "in_flight"]].astype(int)
        out.columns.name = None
        out["p99_s"] = p99
        return out.reset_index()

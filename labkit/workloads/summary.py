"""``c.traffic(..., keep="summary")``: what a source's requests add up to, without a row each.

A simulated day of requests is ~17 million rows (~850 MB of columns, several GB as a DataFrame).
With ``keep="summary"`` the traffic engine folds every request whose record can no longer change
(it ended before the present: nothing can reset or time it out any more) into this summary and
drops its row; the requests still in flight keep their rows. The summary holds, exactly, the
counts per status, per pod and per :data:`BUCKET_S`-second bucket of send time, and the sum of
the answered requests' latencies per pod; and, approximately, their latency distribution: a
histogram with bins :data:`RATIO` wide (each bin's upper edge is 2 % above its lower one, from
:data:`LOWEST_S` up), so a quantile read from it lies in the exact value's bin: within 2 %, and
within a fraction of that when the bin holds many requests (:func:`quantile`). The views
(``summary()``, ``by_pod()``, ``over_time()``) merge the summary with the rows still kept.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Summary", "BUCKET_S", "RATIO", "LOWEST_S", "quantile"]

#: The send-time resolution of ``over_time`` (seconds): its ``bin_s`` is a multiple of this.
BUCKET_S = 10.0
#: Width of a latency bin: its upper edge over its lower one.
RATIO = 1.02
#: The lower edge of the first latency bin (seconds); anything faster falls in it.
LOWEST_S = 1e-6
_LOG = math.log(RATIO)
_STATUSES = 4  # ok, refused, reset, timeout (labkit.workloads.engine.STATUS)


def bins_for(top_s: float) -> int:
    """How many latency bins reach ``top_s`` (a source's timeout: no answer is later)."""
    return int(math.floor(math.log(max(top_s, LOWEST_S) / LOWEST_S) / _LOG)) + 2


def latency_bin(latency: np.ndarray, n: int) -> np.ndarray:
    """Each latency's bin (``[LOWEST_S·RATIOᵏ, LOWEST_S·RATIOᵏ⁺¹)``), clipped to ``[0, n)``."""
    with np.errstate(divide="ignore"):
        k = np.floor(np.log(np.maximum(latency, LOWEST_S) / LOWEST_S) / _LOG)
    return np.clip(k, 0, n - 1).astype(np.int64)


def quantile(hist: np.ndarray, q: float) -> float | None:
    """The ``q`` quantile of a latency histogram: the value at rank ``⌊q·(N−1)⌋`` (numpy's
    ``method="lower"``; the default interpolates to the next value, which is as close when there
    are many), placed inside the bin that holds it as if the bin's values were spread evenly on a
    log scale (within the bin, so within 2 %, and usually far closer); None when it is empty."""
    total = int(hist.sum())
    if total == 0:
        return None
    rank = math.floor(q * (total - 1))
    cum = np.cumsum(hist)
    k = int(np.searchsorted(cum, rank, side="right"))
    before = int(cum[k - 1]) if k else 0
    inside = (rank - before + 0.5) / int(hist[k])
    return LOWEST_S * RATIO ** (k + inside)


class Summary:
    """The folded requests of one source (see the module docstring)."""

    def __init__(self, timeout: float) -> None:
        self.nbins = bins_for(timeout + 1.0)
        self.sent = 0
        self.counts = np.zeros(_STATUSES, dtype=np.int64)
        self.hist = np.zeros(self.nbins, dtype=np.int64)  # answered requests' latency
        self.b0: int | None = None  # bucket of row 0 of the per-bucket arrays
        self.bucket_counts = np.zeros((0, _STATUSES), dtype=np.int64)
        self.bucket_hist = np.zeros((0, self.nbins), dtype=np.int32)
        #: per socket index: [requests, ok] counts, latency sum of the ok ones, their histogram
        self.pod_counts: dict[int, np.ndarray] = {}
        self.pod_latency: dict[int, float] = {}
        self.pod_hist: dict[int, np.ndarray] = {}

    def add(self, sent: np.ndarray, done: np.ndarray, status: np.ndarray, sock: np.ndarray) -> None:
        """Fold final requests (their send and end times, status codes and socket indices)."""
        if not len(sent):
            return
        self.sent += len(sent)
        self.counts += np.bincount(status, minlength=_STATUSES)
        ok = status == 0
        lat = done[ok] - sent[ok]
        k = latency_bin(lat, self.nbins)
        self.hist += np.bincount(k, minlength=self.nbins)
        # per bucket of send time: only the buckets this batch touches
        bucket = np.floor(sent / BUCKET_S).astype(np.int64)
        lo, hi = int(bucket.min()), int(bucket.max())
        self._grow(lo, hi)
        rel, span = bucket - lo, hi - lo + 1
        at = slice(lo - self.b0, hi - self.b0 + 1)
        self.bucket_counts[at] += np.bincount(rel * _STATUSES + status,
                                              minlength=span * _STATUSES).reshape(span, _STATUSES)
        nb = self.nbins
        flat = np.bincount(rel[ok] * nb + k, minlength=span * nb)
        self.bucket_hist[at] += flat.reshape(span, nb).astype(np.int32)
        # per pod (socket index: small integers)
        hit = sock >= 0
        if not hit.any():
            return
        top = int(sock.max()) + 1
        n_all = np.bincount(sock[hit], minlength=top)
        sock_ok = sock[ok]
        good = sock_ok >= 0
        lat_sum = np.bincount(sock_ok[good], weights=lat[good], minlength=top)
        hists = np.bincount(sock_ok[good] * nb + k[good], minlength=top * nb).reshape(top, nb)
        n_ok = hists.sum(axis=1)
        for i in np.flatnonzero(n_all).tolist():
            got = self.pod_counts.setdefault(i, np.zeros(2, dtype=np.int64))
            got += (int(n_all[i]), int(n_ok[i]))
            self.pod_latency[i] = self.pod_latency.get(i, 0.0) + float(lat_sum[i])
            h = self.pod_hist.setdefault(i, np.zeros(self.nbins, dtype=np.int64))
            h += hists[i]

    def _grow(self, lo: int, hi: int) -> None:
        """Make the per-bucket arrays cover buckets ``[lo, hi]`` (capacity doubles: a run's
        buckets arrive in order)."""
        if self.b0 is None:
            self.b0 = lo
        if lo < self.b0:
            pad = self.b0 - lo
            self.bucket_counts = np.vstack((np.zeros((pad, _STATUSES), dtype=np.int64), self.bucket_counts))
            self.bucket_hist = np.vstack((np.zeros((pad, self.nbins), dtype=np.int32), self.bucket_hist))
            self.b0 = lo
        need = hi - self.b0 + 1
        if need > len(self.bucket_counts):
            size = max(need, 2 * len(self.bucket_counts))
            counts = np.zeros((size, _STATUSES), dtype=np.int64)
            counts[:len(self.bucket_counts)] = self.bucket_counts
            hist = np.zeros((size, self.nbins), dtype=np.int32)
            hist[:len(self.bucket_hist)] = self.bucket_hist
            self.bucket_counts, self.bucket_hist = counts, hist

    def merged(self, sent: np.ndarray, done: np.ndarray, status: np.ndarray, sock: np.ndarray) -> Summary:
        """A copy with more final requests folded in (the views' rows still kept)."""
        out = Summary.__new__(Summary)
        out.nbins, out.sent, out.b0 = self.nbins, self.sent, self.b0
        out.counts, out.hist = self.counts.copy(), self.hist.copy()
        out.bucket_counts, out.bucket_hist = self.bucket_counts.copy(), self.bucket_hist.copy()
        out.pod_counts = {k: v.copy() for k, v in self.pod_counts.items()}
        out.pod_latency = dict(self.pod_latency)
        out.pod_hist = {k: v.copy() for k, v in self.pod_hist.items()}
        out.add(sent, done, status, sock)
        return out

"""``keep="summary"``: requests folded into counts and histograms once final give the same counts as
every row kept, quantiles within 2 %, bounded records, and the other sources' rows untouched."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from traffic_support import web_cluster

from labkit.workloads import engine as engine_mod
from labkit.workloads.summary import BUCKET_S, RATIO, quantile


def _day(keep: str, *, second: str | None = None, compact_rows: int = 2000):
    """Three pods at 70 % load, one deleted mid-run and a node failed and recovered: resets,
    refusals and timeouts next to answers, with in-flight requests at every compaction."""
    old = engine_mod.COMPACT_ROWS
    engine_mod.COMPACT_ROWS = compact_rows
    try:
        web = web_cluster(replicas=3, concurrency=2, service_time="exponential 20ms",
                          annotations={"labkit.io/sigterm-exit-after": "0s"})  # in-flight requests reset
        c = web.cluster
        t = c.traffic(web.target, rate=200, duration=90, keep=keep, timeout=2.0)
        other = c.traffic(web.target, rate=20, duration=90, keep=second) if second else None
        c.run(until=c.now + 30)
        mid = t.summary()
        c.delete("Pod", web.pods[0]["metadata"]["name"])
        c.run(until=c.now + 20)
        c.fail_node(web.pods[1]["spec"]["nodeName"])
        c.run(until=c.now + 20)
        c.recover_node(web.pods[1]["spec"]["nodeName"])
        c.run()
        return c, t, other, mid
    finally:
        engine_mod.COMPACT_ROWS = old


@pytest.fixture(scope="module")
def pair():
    return _day("requests"), _day("summary")


def _close(a: float | None, b: float | None, rel: float = 0.02) -> bool:
    """Within 2 %: the histogram's bin (the property test below pins it against numpy's lower
    rank; the rows' quantiles interpolate towards the next value, closer still with many)."""
    return a is None and b is None or abs(a - b) <= rel * abs(a)


def test_summary_counts_are_exactly_those_of_every_row_kept(pair):
    (_, full, _, mid_full), (c, summ, _, mid_summ) = pair
    for a, b in ((mid_full, mid_summ), (full.summary(), summ.summary())):
        counts = ("sent", "ok", "failed", "in_flight", "refused", "reset", "timeout")
        assert {k: a[k] for k in counts} == {k: b[k] for k in counts}
        for q in ("p50_s", "p95_s", "p99_s"):
            assert _close(a[q], b[q]), (q, a[q], b[q])
    s = summ.summary()
    assert s["reset"] > 0 and s["timeout"] > 0 and s["refused"] > 0  # every way to fail was there
    assert c._traffic.records.base > 0  # rows were compacted away


def test_summary_by_pod_and_over_time_match_the_rows(pair):
    (_, full, _, _), (_, summ, _, _) = pair
    a, b = full.by_pod(), summ.by_pod()
    assert a[["pod", "node", "requests", "ok"]].equals(b[["pod", "node", "requests", "ok"]])
    assert np.allclose(a["share"], b["share"]) and np.allclose(a["mean_s"], b["mean_s"], rtol=1e-9)
    assert all(_close(x, y) for x, y in zip(a["p99_s"], b["p99_s"]))
    a, b = full.over_time(BUCKET_S * 3), summ.over_time(BUCKET_S * 3)
    cols = ["t_s", "ok", "refused", "reset", "timeout", "in_flight"]
    assert a[cols].reset_index(drop=True).equals(b[cols].reset_index(drop=True))
    assert all(_close(x, y) or (np.isnan(x) and np.isnan(y)) for x, y in zip(a["p99_s"], b["p99_s"]))


def test_a_summary_has_no_frame_and_only_whole_buckets(pair):
    _, (_, summ, _, _) = pair
    with pytest.raises(ValueError, match="keeps a summary"):
        summ.frame()
    with pytest.raises(ValueError, match="multiple of 10"):
        summ.over_time(15)
    with pytest.raises(ValueError, match="keep 'rows'"):
        c = web_cluster(replicas=1).cluster
        c.traffic("web:80", rate=10, duration=5, keep="rows")


def test_records_stay_bounded_while_a_long_run_is_folded():
    c, t, _, _ = _day("summary", compact_rows=500)
    assert len(c._traffic.records) < 500 + 200 * 2  # the last compaction's rest: at most ~2 s in flight
    assert t.summary()["sent"] > 17_000


def test_a_kept_source_next_to_a_summary_source_keeps_every_row():
    alone = _day("requests", second="requests", compact_rows=10**9)[2]
    mixed = _day("summary", second="requests", compact_rows=2000)[2]
    assert mixed._source.archive  # its rows left the engine's records, into its archive
    a, b = alone.frame(), mixed.frame()
    assert len(a) == len(b) > 1000
    assert a.equals(b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-4, 5.0), min_size=1, max_size=400), st.floats(0.0, 1.0))
def test_histogram_quantiles_fall_in_the_exact_values_bin(values, q):
    from labkit.workloads.summary import Summary

    lat = np.asarray(values)
    s = Summary(timeout=10.0)
    s.add(np.zeros(len(lat)), lat, np.zeros(len(lat), dtype=np.int8), np.zeros(len(lat), dtype=np.int64))
    exact = float(np.sort(lat)[int(np.floor(q * (len(lat) - 1)))])
    got = quantile(s.hist, q)
    assert exact / RATIO <= got <= exact * RATIO


def test_over_time_names_its_quantile_and_the_panels_p95_reads_a_summary(pair):
    from labkit.widgets.autoscaling import p95_over_time

    (c, full, _, _), (_, summ, _, _) = pair
    a, b = full.over_time(30, quantile=0.95), summ.over_time(30, quantile=0.95)
    assert list(a.columns)[-1] == list(b.columns)[-1] == "p95_s"
    start = 0.0  # both runs' buckets start at multiples of 30 s
    rows, hist = p95_over_time(full, start, 30, 6), p95_over_time(summ, start, 30, 6)
    assert all(_close(x, y) for x, y in zip(rows, hist) if not np.isnan(x))
    with pytest.raises(ValueError, match="quantile"):
        full.over_time(30, quantile=1.5)

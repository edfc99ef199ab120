"""The vectorized shortcuts agree with the one-at-a-time definitions they replace: the segmented
Lindley recursion with each pod's FIFO queue, and the usage fold with the served work it sums."""

from __future__ import annotations

from array import array
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.metrics import usage
from labkit.workloads.engine import _lindley

pods = st.lists(st.tuples(st.integers(1, 40), st.one_of(st.floats(0.0, 30.0), st.floats(0.0, 1e5)),
                          st.sampled_from([0.0, 0.0, 0.05])),
                min_size=1, max_size=6)


@settings(max_examples=80, deadline=None)
@given(pods, st.integers(0, 2**31))
def test_one_segmented_recursion_is_every_pods_fifo_queue(spec, seed):
    rng = np.random.default_rng(seed)
    socks, a_parts, st_parts, single, lo = [], [], [], [], 0
    for n, free, q in spec:
        socks.append(SimpleNamespace(free=[free], throttle_s=q))
        a_parts.append(np.sort(rng.uniform(0, 20, n)))
        st_parts.append(rng.exponential(0.3, n))
        single.append((socks[-1], lo, lo + n))
        lo += n
    a, s = np.concatenate(a_parts), np.concatenate(st_parts)
    begin, end = np.empty(lo), np.empty(lo)
    _lindley(single, a, s, begin, end)
    for (_n, free, q), (sk, i0, i1) in zip(spec, single):
        t = free  # one worker, first come first served: start = max(arrival, worker free)
        for i in range(i0, i1):
            start = max(a[i], t)
            t = start + max(s[i], q)
            assert abs(begin[i] - start) < 1e-9 and abs(end[i] - t) < 1e-9
        assert abs(sk.free[0] - t) < 1e-9


rows = st.lists(st.tuples(st.floats(0.0, 50.0), st.floats(0.0, 5.0), st.floats(0.0, 30.0)), max_size=120)


@settings(max_examples=80, deadline=None)
@given(rows, st.lists(st.floats(0.0, 60.0), min_size=1, max_size=5))
def test_the_usage_fold_sums_each_rows_passed_share(spec, reads):
    """Python (few rows) and numpy (many) folds, read at increasing times, give Σ w·clip((t−s)/(e−s))."""
    s = array("d", [r[0] for r in spec])
    e = array("d", [r[0] + r[1] for r in spec])
    w = array("d", [r[2] for r in spec])
    pending, ended_total = [], 0.0
    for k, t in enumerate(sorted(reads)):
        ended, partial, pending = usage._fold(t, s, e, w, pending, 0 if k == 0 else len(s), len(s))
        ended_total += ended
        expect = sum(wi * (1.0 if ei <= t + usage._SLACK else (t - si) / (ei - si) if si < t else 0.0)
                     for si, ei, wi in zip(s, e, w))
        assert abs(ended_total + partial - expect) <= 1e-9 * max(1.0, expect)


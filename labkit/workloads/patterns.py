"""Load patterns: how many requests per second arrive, as a function of time.

Every pattern is a piecewise-constant rate (requests per second) over time since the traffic
started. Arrivals are drawn by time rescaling: a Poisson process of rate ``r(t)`` is a unit-rate
Poisson process read through the cumulative rate ``Λ(t)``, so the *k*-th arrival is at
``Λ⁻¹(E₁ + … + E_k)`` with exponential ``E``; ``arrivals="constant"`` uses ``Λ⁻¹(k)`` (evenly spaced
at a constant rate). Piecewise-constant rates make ``Λ`` piecewise linear, and both directions
exact and vectorized (``numpy.interp``).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Pattern", "Constant", "Step", "Spike", "Diurnal", "Trace", "as_pattern"]


@dataclass(frozen=True)
class Pattern:
    """A rate that is ``rates[i]`` requests/s from ``knots[i]`` seconds on (the last one forever)."""

    knots: tuple[float, ...]
    rates: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.knots or self.knots[0] != 0 or len(self.knots) != len(self.rates):
            raise ValueError("a pattern starts at 0 s and has one rate per knot")
        for r in self.rates:
            if not (isinstance(r, (int, float)) and math.isfinite(r) and r >= 0):
                raise ValueError(f"rate {r!r}: requests per second are finite and not negative")
        if any(b <= a for a, b in zip(self.knots, self.knots[1:])):
            raise ValueError("pattern knots must increase")

    def rate(self, t: Any) -> Any:
        """Requests per second at ``t`` seconds after the start (array-friendly)."""
        idx = np.searchsorted(np.asarray(self.knots), t, side="right") - 1
        return np.asarray(self.rates)[idx]

    def _table(self, until: float) -> tuple[np.ndarray, np.ndarray]:
        """Knots up to ``until`` and Λ at each: the piecewise-linear cumulative rate."""
        knots = [k for k in self.knots if k < until] + [until]
        lam = [0.0]
        for i in range(1, len(knots)):
            lam.append(lam[-1] + self.rates[i - 1] * (knots[i] - knots[i - 1]))
        return np.asarray(knots, dtype=float), np.asarray(lam, dtype=float)

    def expected(self, duration: float) -> float:
        """Expected number of arrivals in ``[0, duration)`` (``Λ(duration)``)."""
        return float(self._table(duration)[1][-1])

    def mean(self, duration: float) -> float:
        return self.expected(duration) / duration if duration > 0 else 0.0


def Constant(rate: float) -> Pattern:
    """``rate`` requests per second all along."""
    return Pattern((0.0,), (float(rate),))


def Step(before: float, after: float, at: float) -> Pattern:
    """``before`` requests/s, then ``after`` from ``at`` seconds on (a launch, a failover)."""
    if at <= 0:
        return Constant(after)
    return Pattern((0.0, float(at)), (float(before), float(after)))


def Spike(base: float, peak: float, at: float, length: float) -> Pattern:
    """``base`` requests/s with ``peak`` for ``length`` seconds from ``at`` (a flash sale)."""
    if length <= 0:
        raise ValueError("a spike lasts more than 0 s")
    if at <= 0:
        return Pattern((0.0, float(length)), (float(peak), float(base)))
    return Pattern((0.0, float(at), float(at + length)), (float(base), float(peak), float(base)))


def Diurnal(mean: float, peak: float, period: float = 86400.0, step: float = 60.0,
            peak_at: float | None = None) -> Pattern:
    """A day's cycle: a sine between ``2·mean − peak`` and ``peak`` requests/s, highest at ``peak_at``
    seconds (by default three quarters into the period, 18:00 for a day starting at midnight).

    The rate is held for ``step`` seconds at the sine's average over that step, so the expected
    count per step is exact.
    """
    if peak < mean or 2 * mean - peak < 0:
        raise ValueError("a diurnal pattern needs mean <= peak <= 2 * mean (the rate never goes negative)")
    if period <= 0 or step <= 0:
        raise ValueError("period and step are positive seconds")
    amp, phase = peak - mean, (0.75 * period if peak_at is None else peak_at)
    n = max(1, int(math.ceil(period / step)))
    knots = [i * step for i in range(n)]
    rates = []
    w = 2 * math.pi / period
    for a in knots:
        b = min(a + step, period)
        # average of mean + amp*cos(w(t - phase)) over [a, b)
        integral = mean * (b - a) + amp / w * (math.sin(w * (b - phase)) - math.sin(w * (a - phase)))
        rates.append(max(0.0, integral / (b - a)))
    # repeat for a week so long runs keep cycling; beyond, the last step's rate holds
    days = 7
    all_knots = [k + d * period for d in range(days) for k in knots]
    return Pattern(tuple(all_knots), tuple(rates * days))


def Trace(source: Any, time_column: str = "time_s", rate_column: str = "rate") -> Pattern:
    """A recorded load: a CSV (path or text) with a time column (seconds from the start) and a
    rate column (requests per second from that time on)."""
    text = Path(source).read_text() if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith(".csv")) else str(source)
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or time_column not in rows[0] or rate_column not in rows[0]:
        raise ValueError(f"a trace is a CSV with columns {time_column!r} and {rate_column!r}")
    times = [float(r[time_column]) for r in rows]
    rates = [float(r[rate_column]) for r in rows]
    if times[0] != 0:
        times, rates = [0.0] + times, [0.0] + rates
    return Pattern(tuple(times), tuple(rates))


def as_pattern(rate: Any) -> Pattern:
    """A number is a :func:`Constant` rate; a :class:`Pattern` is itself."""
    if isinstance(rate, Pattern):
        return rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate < 0:
        raise ValueError(f"rate {rate!r}: give requests per second (a number >= 0) or a labkit.workloads "
                         "pattern such as Step(100, 400, at=60)")
    return Constant(float(rate))

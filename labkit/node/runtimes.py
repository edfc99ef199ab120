"""Container runtimes as the kubelet meets them through the CRI: runc, Kata Containers, gVisor, runV.

Every figure comes from ``data/runtimes.csv``, one published source per row (papers, the runtimes'
own benchmarks and docs, vendor pages), with a range where sources disagree. This module reads it
for the two things the simulated kubelet needs of a runtime handler, and for the runtime-choice
chapter's tables:

- :func:`sandbox_seconds`: how long ``RunPodSandbox`` takes (a VM boots for Kata and runV);
- :func:`slowdown`: how much longer a request takes in it, by what the request mostly does (the
  pod's ``labkit.io/workload``): ``1 / relative`` for the median published ``<kind>_relative``
  figure of the handler (runc is the reference, 1.0; a handler without a figure for that kind runs
  at 1.0: no published slowdown, none assumed). gVisor's published figures are for its older
  ``ptrace`` platform (the gVisor performance guide, 2019); its default platform today, ``systrap``,
  has no published figures and is faster;
- :func:`figures`: every row about a handler, as a DataFrame.

A handler without a published sandbox start (runc, runsc) takes :data:`SANDBOX_SECONDS`, the lab's
illustrative CNI-plus-pause-container figure. The pod overhead a RuntimeClass declares
(``overhead.podFixed``) is the scheduler's and the API server's business
(:mod:`labkit.api.defaults`, ``NodeResourcesFit``): it is a reservation, not a measurement.
"""

from __future__ import annotations

import csv
import functools
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Figure", "rows", "figures", "sandbox_seconds", "relative", "slowdown", "SANDBOX_SECONDS", "DATA"]

DATA = Path(__file__).resolve().parents[2] / "data" / "runtimes.csv"
#: ``RunPodSandbox`` with runc: the pause container and the CNI plugin (illustrative).
SANDBOX_SECONDS = 0.4


@dataclass(frozen=True)
class Figure:
    """One row of ``data/runtimes.csv``."""

    runtime: str
    handler: str
    metric: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    isolation: str
    source: str
    source_date: str
    note: str


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


@functools.cache
def rows() -> tuple[Figure, ...]:
    with DATA.open(newline="", encoding="utf-8") as f:
        return tuple(
            Figure(
                r["runtime"],
                r["handler"],
                r["metric"],
                _num(r["value"]),
                _num(r["low"]),
                _num(r["high"]),
                r["unit"],
                r["isolation"],
                r["source"],
                r["source_date"],
                r["note"],
            )
            for r in csv.DictReader(f)
        )


def figures(handler: str | None = None) -> pd.DataFrame:
    """The rows about ``handler`` (every row when None), as a DataFrame."""
    import pandas as pd

    return pd.DataFrame([f.__dict__ for f in rows() if handler is None or f.handler == handler])


@functools.cache
def sandbox_seconds(handler: str) -> float:
    """The median published ``sandbox_start_ms`` of ``handler``, in seconds; :data:`SANDBOX_SECONDS`
    when none is published (runc: the sandbox is a pause container)."""
    values = [
        f.value
        for f in rows()
        if f.handler == handler
        and f.metric == "sandbox_start_ms"
        and f.value is not None
        and f.runtime.split(" (")[0] != "Firecracker VMM"
    ]
    return round(statistics.median(values) / 1000, 4) if values else SANDBOX_SECONDS


@functools.cache
def relative(handler: str, kind: str) -> float | None:
    """The median published ``<kind>_relative`` figure of ``handler`` (throughput against runc,
    higher is faster), or None when none is published (runc itself: 1.0). gVisor's KVM rows are left
    out: the handler's platform in this lab is the one the published guide measured, ptrace."""
    if handler == "runc":
        return 1.0
    values = [f.value for f in rows() if f.handler == handler and f.metric == f"{kind}_relative"
              and f.value is not None and "KVM" not in f.runtime]
    return round(statistics.median(values), 4) if values else None


def slowdown(handler: str, kind: str = "cpu") -> float:
    """How many times longer a request that mostly does ``kind`` work takes under ``handler``."""
    got = relative(handler, kind)
    return round(1.0 / got, 4) if got else 1.0

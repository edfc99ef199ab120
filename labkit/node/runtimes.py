"""Container runtimes as the kubelet meets them through the CRI: runc, Kata Containers, gVisor, runV.

Every figure comes from ``data/runtimes.csv``, one published source per row (papers, the runtimes'
own benchmarks and docs, vendor pages), with a range where sources disagree. This module reads it
for the two things the simulated kubelet needs of a runtime handler, and for the runtime-choice
chapter's tables:

- :func:`sandbox_seconds`: how long ``RunPodSandbox`` takes (a VM boots for Kata and runV);
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

__all__ = ["Figure", "rows", "figures", "sandbox_seconds", "SANDBOX_SECONDS", "DATA"]

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

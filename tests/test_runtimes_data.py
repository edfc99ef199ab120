"""``data/runtimes.csv``: published figures about container runtimes, one source per row."""

from __future__ import annotations

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "runtimes.csv"
METRICS = {"sandbox_start_ms", "container_start_ms", "memory_overhead_mib", "cpu_overhead_m", "cpu_relative",
           "syscall_relative", "io_relative", "network_relative", "isolation", "compatibility"}


def test_every_row_names_its_source_and_a_known_metric():
    rows = list(csv.DictReader(DATA.open(encoding="utf-8")))
    assert len(rows) >= 40
    for r in rows:
        assert r["source"].strip(), r
        assert r["metric"] in METRICS, r["metric"]
        if r["metric"] in ("isolation", "compatibility"):
            assert r["note"].strip() or r["isolation"].strip()
        else:
            assert float(r["value"]) >= 0 and r["unit"].strip(), r
            if r["low"] and r["high"]:
                assert float(r["low"]) <= float(r["high"])


def test_the_five_runtimes_of_the_chapter_are_there():
    names = " ".join(r["runtime"] for r in csv.DictReader(DATA.open(encoding="utf-8")))
    for runtime in ("runc (containerd)", "Docker", "CRI-O", "Kata Containers", "gVisor"):
        assert runtime in names

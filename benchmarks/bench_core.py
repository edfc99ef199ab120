"""Core benchmark: how long a learner waits for ``import labkit``, a 1,000-pod run and chapter 00.

Run ``python benchmarks/bench_core.py`` (add ``--profile`` for a cProfile of the 1,000-pod run).
It prints one table and exits 0; a figure over its target is marked ``MISS`` rather than failing,
because wall-clock time belongs to the machine, not to the code (tests assert on results only).

Figures:

* ``import labkit`` — a fresh interpreter per sample (median of 5), start-up excluded.
* 1,000 pods on 100 nodes — ``add_node_pool`` + ``apply`` + ``run()`` until quiescent, measured in
  a fresh interpreter: *cold* is that process's first apply (it builds the schema validator),
  *warm* repeats the same workload on a new ``Cluster`` in the same process.
* CPU time (``time.process_time``) of the same runs, next to the wall time: on a shared
  machine the wall clock also counts other processes.
* pods scheduled per wall second — bound pods divided by the wall time of ``run()`` (warm).
* chapter 00 — executing ``notebooks/00_welcome_architecture.ipynb`` with nbclient, kernel start
  included (skipped with a note when the notebook or nbclient is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "00_welcome_architecture.ipynb"
NODES, PODS = 100, 1000
TARGETS = {"import": 0.3, "pods": 1.0}  # seconds


def workload() -> list[dict[str, Any]]:
    """1,000 pods stamped from one template with a few request sizes (as a Deployment would make)."""
    cpu, memory = ["100m", "250m", "500m"], ["128Mi", "256Mi", "512Mi"]
    return [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": f"web-{i:04d}", "labels": {"app": "web"}},
             "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {
                 "requests": {"cpu": cpu[i % 3], "memory": memory[i % 3]}}}]}}
            for i in range(PODS)]


def one_run() -> dict[str, float]:
    import labkit

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", NODES)
    t1 = time.perf_counter()
    c.apply(workload())
    t2 = time.perf_counter()
    c.run()
    t3 = time.perf_counter()
    cpu = time.process_time() - cpu0
    bound = sum(1 for p in c.store.items("Pod") if p["spec"].get("nodeName"))
    return {"nodes": t1 - t0, "apply": t2 - t1, "run": t3 - t2, "total": t3 - t0, "cpu": cpu, "bound": bound,
            "simulated": c.now}


def child() -> None:
    """Measured in its own interpreter so that "cold" really is the first apply of a process."""
    cold = one_run()
    warm = min((one_run() for _ in range(3)), key=lambda r: r["total"])
    print(json.dumps({"cold": cold, "warm": warm}))


def _env() -> dict[str, str]:
    """This checkout first on the path, for child interpreters and the notebook kernel."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def fresh(args: list[str]) -> str:
    return subprocess.run([sys.executable, *args], env=_env(), cwd=REPO, capture_output=True, text=True,
                          check=True).stdout


def import_seconds(samples: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import labkit; print(time.perf_counter() - t)"
    return statistics.median(float(fresh(["-c", code])) for _ in range(samples))


def notebook_seconds() -> float | str:
    if not NOTEBOOK.exists():
        return f"skipped: {NOTEBOOK.relative_to(REPO)} does not exist yet"
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        return "skipped: nbclient/nbformat not installed (pip install -e '.[test]')"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    os.environ.update(_env())  # the kernel inherits this process's environment
    t = time.perf_counter()
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    except Exception as e:  # a broken chapter is a finding to print, not a reason to lose the table
        first = str(e).splitlines()[0][:60] if str(e) else ""
        return f"failed after {time.perf_counter() - t:.1f} s: {type(e).__name__}: {first}"
    return time.perf_counter() - t


def profile() -> None:
    import cProfile
    import pstats

    one_run()  # warm: profile the steady state, not the validator build
    prof = cProfile.Profile()
    prof.enable()
    one_run()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def row(name: str, value: float | str, target: float | None = None, unit: str = "s") -> str:
    if isinstance(value, str):
        return f"| {name:<44} | {value} |"
    shown = f"{value:,.0f} {unit}" if unit != "s" else f"{value:.3f} s"
    verdict = "" if target is None else (f"  (target < {target} s: {'ok' if value < target else 'MISS'})")
    return f"| {name:<44} | {shown}{verdict} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="cProfile the warm 1,000-pod run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    if args.profile:
        sys.path.insert(0, str(REPO))
        profile()
        return
    imp = import_seconds()
    runs = json.loads(fresh([__file__, "--child"]))
    cold, warm = runs["cold"], runs["warm"]
    nb = notebook_seconds()
    lines = [
        f"| {'figure':<44} | value |",
        f"|{'-' * 46}|-------|",
        row("import labkit (median of 5 fresh processes)", imp, TARGETS["import"]),
        row(f"{PODS:,} pods on {NODES} nodes, cold (first apply)", cold["total"], TARGETS["pods"]),
        row("  CPU time of the same run (load-independent)", cold["cpu"], TARGETS["pods"]),
        row("  of which add_node_pool / apply / run", f"{cold['nodes']:.3f} / {cold['apply']:.3f} / "
                                                       f"{cold['run']:.3f} s"),
        row(f"{PODS:,} pods on {NODES} nodes, warm (best of 3)", warm["total"], TARGETS["pods"]),
        row("  CPU time of the same run (load-independent)", warm["cpu"], TARGETS["pods"]),
        row("  of which add_node_pool / apply / run", f"{warm['nodes']:.3f} / {warm['apply']:.3f} / "
                                                       f"{warm['run']:.3f} s"),
        row("pods scheduled per wall second (warm run())", warm["bound"] / warm["run"], unit="pods/s"),
        row("pods bound / simulated seconds to quiescence", f"{warm['bound']} / {warm['simulated']:.1f} s"),
        row("notebooks/00_welcome_architecture.ipynb (nbclient)", nb),
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

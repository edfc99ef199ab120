"""The public surface is small, documented in one table, and cheap to import.

SimPy's trick: the package docstring holds a table of the public names, and a test keeps it
equal to ``__all__`` so the docs and the exports cannot drift. ``import labkit`` must also stay
light — the heavy libraries (the Kubernetes client, the schema validator, pandas, matplotlib,
ipywidgets) load only inside the call that needs them — so the first notebook cell is instant.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import labkit

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("kubernetes", "kubernetes_validate", "jsonschema", "pandas", "matplotlib", "ipywidgets")
IMPORT_BUDGET_SECONDS = 0.5  # target 0.3 s; the margin keeps a busy CI machine from flaking


def documented_names() -> list[str]:
    """Names in the first column of the docstring's "Public API" table, in order."""
    doc = labkit.__doc__ or ""
    table = doc.split("Public API", 1)[1]
    return re.findall(r"^``(\w+)``\s", table, flags=re.MULTILINE)


def fresh_python(code: str) -> str:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         timeout=120, cwd=REPO)
    return out.stdout


def test_all_equals_the_docstring_table() -> None:
    """Every exported name is documented and every documented name is exported, in the same order."""
    assert documented_names() == labkit.__all__


def test_every_public_name_resolves() -> None:
    for name in labkit.__all__:
        assert getattr(labkit, name) is not None, name


def test_no_private_or_star_exports() -> None:
    assert all(not name.startswith("_") for name in labkit.__all__)
    assert len(set(labkit.__all__)) == len(labkit.__all__)


def test_manifest_error_is_a_value_error() -> None:
    assert issubclass(labkit.ManifestError, ValueError)


def test_kubernetes_version_is_a_minor() -> None:
    assert re.fullmatch(r"1\.\d+", labkit.KUBERNETES_VERSION)


def test_import_does_not_load_heavy_libraries() -> None:
    """A fresh ``import labkit`` leaves the heavy dependencies unloaded."""
    code = f"import sys, json, labkit; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    assert json.loads(fresh_python(code)) == []


def test_creating_a_cluster_does_not_load_heavy_libraries() -> None:
    """Even ``Cluster()`` and a first ``apply`` keep pandas, matplotlib, widgets and the client unloaded."""
    code = ("import sys, json, labkit; c = labkit.Cluster(seed=0); c.add_node_pool('p', 'ecs.g7.xlarge', 1); "
            "c.apply('data/manifests/my-nginx-pod.yaml'); c.run(); "
            "print(json.dumps(sorted(m for m in ('kubernetes', 'pandas', 'matplotlib', 'ipywidgets') "
            "if m in sys.modules)))")
    assert json.loads(fresh_python(code)) == []


def test_import_is_fast() -> None:
    """Median of three fresh interpreters, timing only ``import labkit`` (interpreter start-up excluded)."""
    code = "import time; t = time.perf_counter(); import labkit; print(time.perf_counter() - t)"
    seconds = statistics.median(float(fresh_python(code)) for _ in range(3))
    print(f"import labkit: {seconds * 1000:.1f} ms (median of 3)")
    assert seconds < IMPORT_BUDGET_SECONDS

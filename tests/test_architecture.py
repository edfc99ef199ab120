"""Dependencies point downward: widgets/plots → Cluster facade → components → api.

As in Kubernetes, every component is a client of the API server: nothing below the facade
imports it (or anything above it), so the scheduler, kubelets and controllers can only talk
through the API server.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "labkit"
ABOVE_COMPONENTS = ("labkit.cluster", "labkit.plots", "labkit.widgets", "labkit.exercises", "labkit.timeline",
                    "labkit.real")
COMPONENT_DIRS = ("api", "scheduler", "node", "controllers", "cloud", "kubectl", "network", "workloads")
BELOW_FACADE = [p for d in COMPONENT_DIRS for p in sorted((PACKAGE / d).rglob("*.py"))] + [
    PACKAGE / "views.py", PACKAGE / "sim.py", PACKAGE / "manifests.py", PACKAGE / "errors.py"]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", BELOW_FACADE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_components_never_import_the_facade_or_anything_above_it(path):
    bad = {m for m in imported_modules(path) if m.startswith(ABOVE_COMPONENTS)}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_the_api_package_imports_no_component():
    for path in sorted((PACKAGE / "api").rglob("*.py")):
        bad = {m for m in imported_modules(path)
               if m.startswith(("labkit.scheduler", "labkit.node", "labkit.controllers"))}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_the_facade_does_not_import_plots_or_widgets():
    imported = imported_modules(PACKAGE / "cluster.py")
    bad = {m for m in imported if m.startswith(("labkit.plots", "labkit.widgets"))}
    assert not bad

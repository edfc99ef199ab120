"""environment.yml (conda) and pyproject.toml (pip) must ask for the same packages.

Both files list every runtime dependency and the ``test`` extra with a lower bound only;
when someone bumps a bound or adds a package in one file and forgets the other, conda users
silently get a different lab. These tests compare names and lower bounds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent
#: conda-level entries that are not Python packages on PyPI.
CONDA_ONLY = {"python", "pip"}

Bounds = dict[str, "Version | None"]


def lower_bounds(requirements: list[str]) -> tuple[Bounds, list[str]]:
    """Map canonical package name -> ``>=`` bound (None if absent); also return unparsable lines."""
    bounds: Bounds = {}
    errors: list[str] = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            errors.append(f"cannot parse requirement {text!r}")
            continue
        floors = [Version(spec.version) for spec in req.specifier if spec.operator == ">="]
        bounds[canonicalize_name(req.name)] = max(floors) if floors else None
    return bounds, errors


def pyproject_requirements(pyproject: dict[str, Any]) -> list[str]:
    """Runtime dependencies plus the ``test`` extra, as written in pyproject.toml."""
    project = pyproject["project"]
    return [*project.get("dependencies", []), *project.get("optional-dependencies", {}).get("test", [])]


def environment_requirements(environment: dict[str, Any]) -> list[str]:
    """Conda dependencies (minus python and pip themselves) plus the ``pip:`` section."""
    found: list[str] = []
    for entry in environment.get("dependencies", []):
        if isinstance(entry, dict):
            found.extend(entry.get("pip", []))
        elif canonicalize_name(re.match(r"[A-Za-z0-9._-]*", entry).group()) not in CONDA_ONLY:
            found.append(entry)
    return found


def dependency_mismatches(pyproject: dict[str, Any], environment: dict[str, Any]) -> list[str]:
    """Every way the two files disagree, one line each (empty when they agree)."""
    pip, pip_errors = lower_bounds(pyproject_requirements(pyproject))
    conda, conda_errors = lower_bounds(environment_requirements(environment))
    problems = [f"pyproject.toml: {e}" for e in pip_errors] + [f"environment.yml: {e}" for e in conda_errors]
    for name in sorted(pip.keys() - conda.keys()):
        problems.append(f"{name}: in pyproject.toml but missing from environment.yml")
    for name in sorted(conda.keys() - pip.keys()):
        problems.append(f"{name}: in environment.yml but missing from pyproject.toml")
    for name in sorted(pip.keys() & conda.keys()):
        if pip[name] != conda[name]:
            problems.append(
                f"{name}: lower bound {pip[name]} in pyproject.toml, {conda[name]} in environment.yml"
            )
    return problems


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def environment() -> dict[str, Any]:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def test_environment_yml_lists_the_same_dependencies_as_pyproject(pyproject, environment):
    assert dependency_mismatches(pyproject, environment) == []


def test_every_dependency_has_a_lower_bound(pyproject):
    bounds, errors = lower_bounds(pyproject_requirements(pyproject))
    assert errors == []
    assert [name for name, floor in bounds.items() if floor is None] == []


def test_environment_pins_python_311(environment):
    assert "python=3.11" in environment["dependencies"]


def _pair(pip: list[str], conda: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    pyproject = {"project": {"dependencies": pip[:1], "optional-dependencies": {"test": pip[1:]}}}
    environment = {"dependencies": ["python=3.11", "pip", {"pip": conda}]}
    return pyproject, environment


def test_a_different_lower_bound_is_reported():
    problems = dependency_mismatches(*_pair(["simpy>=4.1", "pytest>=8"], ["simpy>=4.0", "pytest>=8"]))
    assert problems == ["simpy: lower bound 4.1 in pyproject.toml, 4.0 in environment.yml"]


def test_a_package_missing_on_either_side_is_reported():
    problems = dependency_mismatches(*_pair(["simpy>=4.1", "nbval>=0.11"], ["simpy>=4.1", "ruff>=0.5"]))
    assert problems == [
        "nbval: in pyproject.toml but missing from environment.yml",
        "ruff: in environment.yml but missing from pyproject.toml",
    ]


def test_a_test_extra_counts_like_a_runtime_dependency():
    problems = dependency_mismatches(*_pair(["simpy>=4.1", "pytest>=8"], ["simpy>=4.1", "pytest>=7"]))
    assert problems == ["pytest: lower bound 8 in pyproject.toml, 7 in environment.yml"]


def test_names_and_versions_are_compared_canonically():
    pyproject, environment = _pair(
        ["PyYAML>=6", "kubernetes_validate>=1.31.0"], ["pyyaml>=6.0", "kubernetes-validate>=1.31"]
    )
    environment["dependencies"].append("numpy >=1.26")
    pyproject["project"]["dependencies"].append("numpy>=1.26")
    assert dependency_mismatches(pyproject, environment) == []

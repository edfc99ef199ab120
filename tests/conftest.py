"""Fixtures shared by every test module (kept tiny on purpose)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for files a test leaves for humans to look at (screenshots); git-ignored."""
    path = REPO / "tests" / "artifacts"
    path.mkdir(exist_ok=True)
    return path

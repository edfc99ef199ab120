"""Chapter 01's scenarios and panel: rebuild costs by instruction order, and rollouts by image size
and warm nodes, through the public API."""

from __future__ import annotations

import pytest

from labkit.widgets.containerization import containerization_panel, rebuild, rollout


def test_dependencies_first_makes_a_code_edit_cheap_and_code_first_does_not():
    good, bad = rebuild("dependencies first", "app.py"), rebuild("code first", "app.py")
    assert good.missed == ["COPY . ."] and good.rebuilt_bytes < 50_000
    assert bad.missed == ["COPY . .", "RUN pip install --no-cache-dir -r requirements.txt"]
    assert bad.rebuilt_bytes > 12_000_000 and bad.pushed["bytes_pushed"] == bad.rebuilt_bytes
    assert rebuild("dependencies first", "nothing").missed == []


def test_a_rollout_is_as_fast_as_its_slowest_node_and_warm_nodes_skip_the_download():
    cold, half, warm = rollout("python", 0), rollout("python", 10), rollout("python", 20)
    assert len(cold.starts) == 20 and cold.starts["node"].nunique() == 20  # one pod per node
    assert warm.seconds < 2 < 10 < cold.seconds
    assert half.seconds > 10  # the cold half decides
    assert (half.starts[half.starts["warm"]]["pull_s"] < 1).all()
    assert rollout("alpine", 0).seconds < rollout("nginx", 0).seconds < cold.seconds


def test_bad_settings_are_refused_and_the_panel_clamps_odd_values():
    with pytest.raises(ValueError, match="order"):
        rebuild("sideways", "app.py")
    with pytest.raises(ValueError, match="base"):
        rollout("windows", 0)
    box = containerization_panel(order="??", edit="??", base="??", warm=99)
    assert repr(box) == "Interactive panel (build and rollout): run this cell to display it."
    html = "".join(w.value for w in box.children if isinstance(getattr(w, "value", None), str))
    assert "layer(s) again" in html and "20 nodes, 20 of which already held the base" in html

"""The scheduler's speed work changes no decision (issue 13).

A seeded 1,000-node cluster with every default plugin active (``tests/scheduler_golden_scenario.py``)
was recorded before the speed work: every pod's node or FailedScheduling message, the victims of
preemption, and ``nextStartNodeIndex`` after every cycle. The same run must give the same record.
"""

from __future__ import annotations

import json

from tests.scheduler_golden_scenario import GOLDEN, record


def test_placements_messages_and_next_start_node_index_are_unchanged():
    want = json.loads(GOLDEN.read_text())
    got = record(want["nodes"], want["pods"])
    assert got["next_start_node_index"] == want["next_start_node_index"]
    assert got["preempted"] == want["preempted"]
    diff = {
        k: (want["placements"].get(k), v)
        for k, v in got["placements"].items()
        if want["placements"].get(k) != v
    }
    assert not diff, list(diff.items())[:5]
    assert len(want["preempted"]) >= 1 and sum(
        v.startswith("FailedScheduling") for v in want["placements"].values()
    )

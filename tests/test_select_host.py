"""selectHost: the node picked among equal totals is the root of Go's container/heap, not a coin toss."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from labkit.scheduler.schedule_one import heap_root


def go_heap_init_root(totals: list[int]) -> int:
    """A line-by-line transcription of Go's ``container/heap.Init`` + ``down`` over indices.

    ``Less(i, j)`` is ``total_i > total_j`` (``nodeScoreHeap`` in
    ``pkg/scheduler/schedule_one.go``); the returned value is the original index now at the root.
    """
    h = list(range(len(totals)))

    def less(i: int, j: int) -> bool:
        return totals[h[i]] > totals[h[j]]

    n = len(h)
    for i0 in range(n // 2 - 1, -1, -1):
        i = i0
        while True:
            j1 = 2 * i + 1
            if j1 >= n:
                break
            j = j1
            j2 = j1 + 1
            if j2 < n and less(j2, j1):
                j = j2
            if not less(j, i):
                break
            h[i], h[j] = h[j], h[i]
            i = j
    return h[0]


@given(st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=300))
def test_heap_root_matches_go_heap_init(totals):
    assert heap_root(np.array(totals, dtype=np.int64)) == go_heap_init_root(totals)


def test_all_equal_totals_pick_the_first_node_found():
    assert heap_root(np.full(420, 174, dtype=np.int64)) == 0


def test_a_tie_deep_in_the_left_subtree_beats_a_shallow_one_on_the_right():
    # positions (from 0): 0 low; 1 low with child 3 high; 2 high. Left subtree wins: 3.
    assert heap_root(np.array([1, 1, 5, 5], dtype=np.int64)) == 3
    assert go_heap_init_root([1, 1, 5, 5]) == 3


def test_identical_pods_on_identical_nodes_pile_onto_few_nodes():
    """The heap's preference for early-found nodes packs identical pods (BalancedAllocation 75 vs 74)."""
    import labkit

    c = labkit.Cluster(seed=0, kubelets=False)
    c.add_node_pool("pool", instance_type="ecs.g7.8xlarge", count=20, zones=["cn-hangzhou-h"])
    pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
             "spec": {"containers": [{"name": "c", "image": "nginx",
                                      "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}
            for i in range(20)]
    c.apply(pods)
    c.run()
    nodes = {p["spec"]["nodeName"] for p in c.list("Pod")}
    again = labkit.Cluster(seed=7, kubelets=False)
    again.add_node_pool("pool", instance_type="ecs.g7.8xlarge", count=20, zones=["cn-hangzhou-h"])
    again.apply(pods)
    again.run()
    placements = [p["spec"]["nodeName"] for p in c.list("Pod")]
    assert [p["spec"]["nodeName"] for p in again.list("Pod")] == placements  # no seed in the pick
    assert len(nodes) <= 5  # a uniform random pick among ties used all 20

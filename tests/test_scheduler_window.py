"""NodeResourcesFit on the cycle's window only (issue 13) decides exactly what a full pass decides.

Property: for any table (node sizes, pods already bound, a cordoned or tainted node), any pod and any
``nextStartNodeIndex``, the cycle with the windowed filter (a pod shape seen for the first time) gives
the same feasible nodes, choice, ties, per-node verdicts on the evaluated nodes, FailedScheduling
counts and next index as the cycle that filters every node.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labkit.scheduler.framework import CycleContext
from labkit.scheduler.podinfo import PodInfo
from labkit.scheduler.profile import default_profile
from labkit.scheduler.schedule_one import ScheduleAlgorithm
from tests.test_scheduler_framework import TAINT, node, pod, table_of

NODE = st.tuples(
    st.sampled_from(["500m", "1", "2", "4"]),
    st.sampled_from(["1Gi", "2Gi", "8Gi"]),
    st.integers(0, 3),
    st.booleans(),
)


def build(nodes, bound):
    table = table_of(
        *(
            node(f"n{k:03d}", cpu, mem, taints=TAINT if tainted else None)
            for k, (cpu, mem, _, tainted) in enumerate(nodes)
        )
    )
    for k, (_, _, count, _) in enumerate(nodes):
        for j in range(count):
            bound_pod = pod(f"b{k}-{j}", bound, "256Mi", nodeName=f"n{k:03d}")
            bound_pod["metadata"]["labels"] = {"app": "db" if (k + j) % 3 == 0 else "web"}
            table.add_pod(k, PodInfo.from_pod(bound_pod))
    return table


def run(table, incoming, start, windowed):
    algorithm = ScheduleAlgorithm(default_profile())
    fit = next(p for p in algorithm.profile.filter_plugins if p.name == "NodeResourcesFit")
    if not windowed:
        fit.filter_lazily = lambda ctx: None  # every node, as before the speed work
    algorithm.next_start_node_index = start
    res = algorithm.schedule(CycleContext(pod=PodInfo.from_pod(incoming), table=table))
    evaluated = np.flatnonzero(res.first != -2)
    return {
        "feasible": [int(x) for x in res.feasible],
        "chosen": res.chosen,
        "ties": [int(x) for x in res.ties],
        "next": algorithm.next_start_node_index,
        "verdicts": {int(i): res.reasons(i) for i in evaluated},
        "codes": {int(i): res.code(i) for i in evaluated},
        "counts": res.reason_counts() if res.chosen is None else None,
    }


@settings(max_examples=150, deadline=None)
@given(
    nodes=st.lists(NODE, min_size=1, max_size=140),
    bound=st.sampled_from(["100m", "400m", "900m"]),
    cpu=st.sampled_from(["50m", "300m", "700m", "1500m", "3"]),
    memory=st.sampled_from(["64Mi", "1Gi", "6Gi"]),
    start=st.integers(0, 500),
    tolerate=st.booleans(),
    avoid_db=st.booleans(),
)
@example(
    nodes=[("500m", "1Gi", 2, False)] * 5 + [("4", "8Gi", 0, False)] * 3,
    bound="400m",
    cpu="700m",
    memory="64Mi",
    start=0,
    tolerate=False,
    avoid_db=True,
)  # nodes short of cpu *and* holding a db pod
@example(
    nodes=[("4", "8Gi", 0, False)] * 130 + [("500m", "1Gi", 3, True)] * 10,
    bound="100m",
    cpu="50m",
    memory="64Mi",
    start=125,
    tolerate=False,
    avoid_db=False,
)  # a window that wraps around the table
def test_the_windowed_filter_decides_as_a_full_pass(nodes, bound, cpu, memory, start, tolerate, avoid_db):
    """``avoid_db`` adds a filter after NodeResourcesFit (InterPodAffinity): a node both reject must
    still be counted under NodeResourcesFit, the first plugin to reject it."""
    table = build(nodes, bound)
    spec: dict = {"tolerations": [{**TAINT[0], "operator": "Equal"}]} if tolerate else {}
    if avoid_db:
        spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
    incoming = pod("incoming", cpu, memory, **spec)
    assert run(table, incoming, start, True) == run(table, incoming, start, False)

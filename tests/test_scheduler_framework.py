"""The scheduling framework around the plugins: node search, node order, queue and profiles.

Upstream: ``pkg/scheduler/schedule_one.go`` (``numFeasibleNodesToFind``, round-robin
``nextStartNodeIndex``, the one-feasible-node shortcut), ``backend/cache/node_tree.go`` (zone
interleaving), ``backend/queue/scheduling_queue.go`` (PrioritySort, backoff, moving
unschedulable pods on cluster events) and ``apis/config/v1`` (``KubeSchedulerConfiguration``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import labkit
from labkit.scheduler.explain import NOT_EVALUATED
from labkit.scheduler.framework import CycleContext
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.podinfo import PodInfo
from labkit.scheduler.preemption import NOT_ELIGIBLE_TERMINATING, preempt
from labkit.scheduler.profile import default_profile
from labkit.scheduler.queue import QueuedPod
from labkit.scheduler.schedule_one import ScheduleAlgorithm, num_feasible_nodes_to_find

ZONE = "topology.kubernetes.io/zone"


def node(name: str, cpu: str = "2", memory: str = "4Gi", *, zone: str | None = None,
         taints: list | None = None, pods: str = "110") -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, **({ZONE: zone} if zone else {})}
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints} if taints else {},
            "status": {"capacity": alloc, "allocatable": dict(alloc)}}


def pod(name: str, cpu: str | None = None, memory: str | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    if requests:
        container["resources"] = {"requests": requests}
    meta = {"name": name, "namespace": "default", "uid": name}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [container], **spec}}


TAINT = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]


def table_of(*nodes: dict[str, Any]) -> NodeTable:
    t = NodeTable()
    for n in nodes:
        t.set_node(n)
    return t


# -- numFeasibleNodesToFind --------------------------------------------------------------------
@pytest.mark.parametrize(("nodes", "percentage", "expected"), [
    (1, 0, 1), (99, 0, 99),  # under minFeasibleNodesToFind every node is evaluated
    (100, 0, 100), (1000, 0, 420), (5000, 0, 500),  # adaptive: 50 - N/125 percent
    (5625, 0, 281), (10000, 0, 500), (20000, 0, 1000),  # floor of 5 percent from 5625 nodes on
    (1000, 30, 300), (200, 10, 100), (99, 10, 99), (500, 100, 500),  # explicit percentage, min 100
])
def test_num_feasible_nodes_to_find(nodes: int, percentage: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(nodes, percentage) == expected


# -- round robin -------------------------------------------------------------------------------
def cycle(algorithm: ScheduleAlgorithm, table: NodeTable, manifest: dict[str, Any]):
    return algorithm.schedule(CycleContext(pod=PodInfo.from_pod(manifest), table=table))


def test_next_start_node_index_advances_by_the_nodes_processed() -> None:
    """200 nodes: 100 feasible nodes are enough, so each cycle examines 100 (plus any it had to
    reject on the way) and the next cycle starts where this one stopped."""
    table = table_of(*(node(f"n{k:03d}", taints=TAINT if 100 <= k < 110 else None) for k in range(200)))
    algorithm = ScheduleAlgorithm(default_profile())
    first = cycle(algorithm, table, pod("a"))
    assert algorithm.next_start_node_index == 100
    assert len(first.feasible) == 100 and set(first.feasible) == set(range(100))
    second = cycle(algorithm, table, pod("b"))
    # Rows 100-109 are rejected by TaintToleration: 100 feasible + 10 filtered = 110 processed.
    assert algorithm.next_start_node_index == 210 % 200
    assert set(second.feasible) == set(range(110, 200)) | set(range(10))
    assert set(np.flatnonzero(second.first == -2)) == set(range(10, 100))


def test_next_start_node_index_stays_when_every_node_is_examined() -> None:
    table = table_of(*(node(f"n{k:03d}") for k in range(200)))
    algorithm = ScheduleAlgorithm(default_profile())
    cycle(algorithm, table, pod("a"))
    assert algorithm.next_start_node_index == 100
    cycle(algorithm, table, pod("huge", cpu="64"))  # fits nowhere: all 200 examined
    assert algorithm.next_start_node_index == 100


def test_prefilter_node_subset_advances_the_index_modulo_all_nodes() -> None:
    """With NodeAffinity's PreFilter restricting the search to two nodes, only those are processed;
    the index still wraps around the whole snapshot (``% len(allNodes)``)."""
    table = table_of(*(node(f"n{k:03d}") for k in range(200)))
    algorithm = ScheduleAlgorithm(default_profile())
    algorithm.next_start_node_index = 199
    by_name = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}
        for name in ("n005", "n007")]}}}
    result = cycle(algorithm, table, pod("pinned", affinity=by_name))
    assert algorithm.next_start_node_index == (199 + 2) % 200
    assert sorted(result.feasible) == [5, 7]
    assert result.reasons(0) == ["node(s) didn't satisfy plugin(s) [NodeAffinity]"]


def test_cluster_explain_marks_the_nodes_the_search_never_reached() -> None:
    """300 nodes: adaptive 48 % = 144 feasible nodes are enough; the rest are 'not evaluated'."""
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool", "ecs.g7.xlarge", 300)
    c.apply(pod("web"))
    c.run()
    frame = c.explain("web").frame()
    assert (frame["filter"] == NOT_EVALUATED).sum() == 156
    assert (frame["filter"] == "").sum() == 144
    assert c.scheduler.algorithm.next_start_node_index == 144


# -- node order --------------------------------------------------------------------------------
def test_nodes_are_examined_zone_by_zone_in_turn() -> None:
    """node_tree.go: zones in order of first appearance, one node from each zone in turn; a node
    without zone labels belongs to the "" zone; a node that changes zone joins the end of it."""
    table = table_of(node("a1", zone="a"), node("a2", zone="a"), node("a3", zone="a"), node("b1", zone="b"),
                     node("b2", zone="b"), node("c1", zone="c"), node("x"))
    names = lambda: [table.names[i] for i in table.order]  # noqa: E731
    assert names() == ["a1", "b1", "c1", "x", "a2", "b2", "a3"]
    table.remove_node("a1")  # zone a keeps its place
    assert names() == ["a2", "b1", "c1", "x", "a3", "b2"]
    table.set_node(node("b1", zone="c"))
    assert names() == ["a2", "b2", "c1", "x", "a3", "b1"]
    table.remove_node("b2")
    table.set_node(node("b2", zone="b"))  # zone b emptied and came back: it goes last
    assert names() == ["a2", "c1", "x", "b2", "a3", "b1"]


def test_the_region_and_zone_pair_is_the_zone_key_beta_labels_first() -> None:
    beta = "failure-domain.beta.kubernetes.io/zone"
    n1 = node("n1", zone="z1")
    n2 = node("n2", zone="z1")
    n2["metadata"]["labels"][beta] = "z2"  # GetZoneKey reads the beta label first: zone z2
    n3 = node("n3", zone="z1")
    table = table_of(n1, n3, n2)
    assert [table.names[i] for i in table.order] == ["n1", "n2", "n3"]


def test_search_follows_the_zone_interleaved_order() -> None:
    """The feasible list (hence the ties' order) follows node_tree order, not insertion order."""
    table = table_of(*(node(f"{z}{k}", zone=z) for z in "ab" for k in range(2)))
    result = cycle(ScheduleAlgorithm(default_profile()), table, pod("p"))
    assert [table.names[i] for i in result.feasible] == ["a0", "b0", "a1", "b1"]


# -- one feasible node -------------------------------------------------------------------------
def test_exactly_one_feasible_node_skips_scoring() -> None:
    c = labkit.Cluster(seed=0)
    c.apply([node("tainted-1", taints=TAINT), node("free"), node("tainted-2", taints=TAINT)])
    c.apply(pod("web", cpu="100m"))
    c.run()
    ex = c.explain("web")
    assert ex.chosen == "free" and ex.ties == ["free"]
    frame = ex.frame()
    assert frame.drop(columns="filter").isna().all().all()
    tainted = "node(s) had untolerated taint(s)"
    assert list(frame["filter"]) == [tainted, "", tainted]
    assert c.get("Pod", "web")["spec"]["nodeName"] == "free"
    # The teaching view still scores every node.
    full = c.explain("web", all_nodes=True).frame()
    assert not full["total"].isna().any()


# -- the teaching view when nothing is feasible -------------------------------------------------
def bound(manifest: dict[str, Any], node_name: str) -> dict[str, Any]:
    return {**manifest, "spec": {**manifest["spec"], "nodeName": node_name}}


def least_allocated_exceeded() -> labkit.Cluster:
    """Upstream's LeastAllocated case "requested resources exceed node capacity"
    (noderesources/least_allocated_test.go): two 4-CPU nodes with 3 CPUs taken, a 3-CPU pod."""
    c = labkit.Cluster(seed=0)
    c.apply([node("node1", cpu="4", memory="10000"), node("node2", cpu="4", memory="10000")])
    c.apply([bound(pod("e1", cpu="3", memory="0"), "node1"),
             bound(pod("e2", cpu="3", memory="5000"), "node2")])
    c.apply(pod("big", cpu="3", memory="0"))
    c.run()
    return c


def test_all_nodes_view_scores_every_node_when_none_is_feasible() -> None:
    """explain(all_nodes=True) shows every score plugin on every node even when every node is filtered
    out, with upstream's scores for the case (node1 50, node2 25), and still chooses nothing."""
    c = least_allocated_exceeded()
    ex = c.explain("big", all_nodes=True)
    frame = ex.frame()
    assert list(frame["filter"]) == ["Insufficient cpu", "Insufficient cpu"]
    assert frame["NodeResourcesFit"].to_dict() == {"node1": 50, "node2": 25}
    assert not frame["total"].isna().any()
    assert ex.chosen is None and ex.ties == []
    assert ex.result.chosen is None and list(ex.result.ties) == [] and len(ex.result.feasible) == 0


def test_all_nodes_view_keeps_the_failed_scheduling_message() -> None:
    """Scoring for the teaching view changes no verdict: the message is the real cycle's, word for word."""
    c = least_allocated_exceeded()
    message = c.get("Pod", "big")["status"]["conditions"][0]["message"]
    assert message.startswith("0/2 nodes are available: 2 Insufficient cpu.")
    assert c.explain("big").message == message
    assert c.explain("big", all_nodes=True).message == message
    assert c.explain(pod("big", cpu="3", memory="0"), all_nodes=True).message == message


def test_recorded_cycle_of_an_unschedulable_pod_still_has_no_scores() -> None:
    """The real cycle stops before Score when nothing is feasible, so explain(pod) shows no scores."""
    c = least_allocated_exceeded()
    frame = c.explain("big").frame()
    assert frame.drop(columns="filter").isna().all().all()


def test_all_nodes_view_scores_every_node_after_a_prefilter_rejection() -> None:
    """Also when PreFilter rejects the pod outright (a missing PVC) or leaves no node to filter
    (a node-name affinity to no node), the teaching view scores every node and chooses none."""
    c = labkit.Cluster(seed=0)
    c.apply([node("node1"), node("node2"), node("node3")])
    missing = {"name": "d", "persistentVolumeClaim": {"claimName": "missing"}}
    claims = pod("claims", cpu="100m", volumes=[missing])
    ghost = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["ghost"]}]}]}}}
    c.apply([claims, pod("pinned", cpu="100m", affinity=ghost)])
    c.run()
    for name, reason in (("claims", 'persistentvolumeclaim "missing" not found'),
                         ("pinned", "node(s) didn't satisfy plugin(s) [NodeAffinity]")):
        ex = c.explain(name, all_nodes=True)
        frame = ex.frame()
        assert list(frame["filter"]) == [reason] * 3
        assert not frame[["NodeResourcesFit", "total"]].isna().any().any()
        assert ex.chosen is None and ex.ties == []
        assert c.explain(name).frame().drop(columns="filter").isna().all().all()


def test_all_nodes_view_scores_nodes_outside_the_prefilter_subset() -> None:
    """A pod pinned to one node by name: the real cycle neither filters nor scores the others, the
    teaching view scores them all and still chooses the pinned node."""
    c = labkit.Cluster(seed=0)
    c.apply([node("node1"), node("node2"), node("node3")])
    to_node2 = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node2"]}]}]}}}
    c.apply(pod("one", cpu="100m", affinity=to_node2))
    c.run()
    ex = c.explain("one", all_nodes=True)
    assert not ex.frame()["total"].isna().any()
    assert ex.chosen == "node2" and ex.ties == ["node2"]


def test_normal_cycle_scores_only_feasible_nodes() -> None:
    """Outside the teaching view nothing changed: only feasible nodes are scored."""
    table = table_of(node("a"), node("b", taints=TAINT), node("c"))
    result = cycle(ScheduleAlgorithm(default_profile()), table, pod("web", cpu="100m"))
    assert sorted(result.scored_rows) == [0, 2]
    assert result.chosen in (0, 2)


# -- queue -------------------------------------------------------------------------------------
def priority_class(name: str, value: int) -> dict[str, Any]:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value}


def scheduled_order(c: labkit.Cluster) -> list[str]:
    return [e["object"].split("/")[1] for e in c.event_log() if e["reason"] == "Scheduled"]


def test_priority_sort_higher_priority_first_then_fifo() -> None:
    c = labkit.Cluster(seed=0)
    c.apply([priority_class("high", 1000), priority_class("low", -5), node("n1", cpu="16", memory="32Gi")])
    c.apply([pod("a-low", priorityClassName="low"), pod("b-high", priorityClassName="high"), pod("c-none"),
             pod("d-high", priorityClassName="high"), pod("e-low", priorityClassName="low"), pod("f-none")])
    c.run()
    assert scheduled_order(c) == ["b-high", "d-high", "c-none", "f-none", "a-low", "e-low"]


@pytest.mark.parametrize(("attempts", "seconds"),
                         [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (6, 10), (30, 10)])
def test_backoff_doubles_from_one_second_to_ten(attempts: int, seconds: float) -> None:
    entry = QueuedPod(PodInfo.from_pod(pod("p")), 0.0, 1, attempts=attempts)
    assert entry.backoff() == seconds


def test_a_pod_is_retried_when_its_backoff_expires_after_each_cluster_event() -> None:
    """A pod that never fits: every node added moves it out of unschedulablePods, but it is only
    retried once its backoff (1, 2, 4, 8, 10, 10 s after each failure) has expired. Nodes keep
    coming until t=39.75, so the attempt at 35 s is not the last."""
    c = labkit.Cluster(seed=0)
    c.apply(pod("huge", cpu="100"))
    for k in range(80):
        c.run(until=0.5 * k + 0.25)
        c.apply(node(f"n{k:02d}"))
    c.run()
    failures = [round(e["time"], 3) for e in c.event_log() if e["reason"] == "FailedScheduling"]
    assert failures == [0.0, 1.0, 3.0, 7.0, 15.0, 25.0, 35.0, 45.0]


def test_unschedulable_pod_is_scheduled_when_a_fitting_node_is_added() -> None:
    c = labkit.Cluster(seed=0)
    c.apply([node("small", cpu="1"), pod("web", cpu="2")])
    c.run()
    assert not c.get("Pod", "web")["spec"].get("nodeName")
    c.apply(node("big", cpu="4"))
    c.run()
    assert c.get("Pod", "web")["spec"]["nodeName"] == "big"
    assert [e["reason"] for e in c.events(involved="web")][:2] == ["FailedScheduling", "Scheduled"]


# -- profiles from KubeSchedulerConfiguration --------------------------------------------------
def config(plugins: dict[str, Any] | None = None, fit_strategy: str | None = None,
           **top: Any) -> dict[str, Any]:
    profile: dict[str, Any] = {"schedulerName": "default-scheduler"}
    if plugins:
        profile["plugins"] = plugins
    if fit_strategy:
        resources = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
        profile["pluginConfig"] = [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {
            "type": fit_strategy, "resources": resources}}}]
    return {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
            "profiles": [profile], **top}


def placements(c: labkit.Cluster) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in c.list("Pod"):
        out[p["spec"]["nodeName"]] = out.get(p["spec"]["nodeName"], 0) + 1
    return out


def test_least_allocated_spreads_and_most_allocated_packs() -> None:
    workload = [pod(f"w{k}", cpu="500m", memory="1Gi") for k in range(4)]
    nodes = [node(f"n{k}") for k in range(4)]
    spread = labkit.Cluster(seed=0)
    spread.apply(nodes + workload)
    spread.run()
    assert sorted(placements(spread).values()) == [1, 1, 1, 1]
    packed = labkit.Cluster(seed=0, scheduler_config=config(fit_strategy="MostAllocated"))
    packed.apply(nodes + workload)
    packed.run()
    assert list(placements(packed).values()) == [4]


def test_percentage_of_nodes_to_score_from_the_configuration() -> None:
    c = labkit.Cluster(seed=0, scheduler_config=config(percentageOfNodesToScore=60))
    c.add_node_pool("pool", "ecs.g7.xlarge", 300)
    c.apply(pod("web"))
    c.run()
    assert (c.explain("web").frame()["filter"] == "").sum() == 180


def test_disabling_a_score_plugin_and_changing_a_weight() -> None:
    plugins = {"score": {"disabled": [{"name": "ImageLocality"}],
                         "enabled": [{"name": "NodeAffinity", "weight": 5}]}}
    c = labkit.Cluster(seed=0, scheduler_config=config(plugins=plugins))
    c.apply([node("n1", zone="a"), node("n2", zone="b")])
    prefer_b = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [
            {"key": ZONE, "operator": "In", "values": ["b"]}]}}]}}
    c.apply(pod("web", cpu="100m", affinity=prefer_b))
    c.run()
    ex = c.explain("web")
    frame = ex.frame()
    assert "ImageLocality" not in frame.columns
    assert ex.weights()["NodeAffinity"] == 5
    assert frame.loc["n2", "NodeAffinity"] == 100 and frame.loc["n1", "NodeAffinity"] == 0
    assert frame.loc["n2", "total"] - frame.loc["n1", "total"] == 500
    assert ex.chosen == "n2"


# -- explain what-if ---------------------------------------------------------------------------
def test_what_if_explain_changes_nothing() -> None:
    """Explaining an unapplied manifest runs a dry cycle: the cluster's objects, the scheduler's
    node table and its round-robin start index are all left as they were."""
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool", "ecs.g7.xlarge", 120)
    c.apply([pod(f"p{k}", cpu="100m") for k in range(3)])
    c.run()
    s = c.scheduler
    before = (c.list("Pod"), c.events(), s.algorithm.next_start_node_index,
              s.table.requested.copy(), c.now)
    ex = c.explain(pod("what-if", cpu="100m"))
    assert ex.what_if and ex.chosen is not None and len(ex.ties) > 1
    after = (c.list("Pod"), c.events(), s.algorithm.next_start_node_index,
             s.table.requested.copy(), c.now)
    assert before[:3] == after[:3] and (before[3] == after[3]).all() and before[4] == after[4]
    with pytest.raises(KeyError):
        c.get("Pod", "what-if")


# -- preemption eligibility --------------------------------------------------------------------
def test_a_nominated_pod_waits_for_its_terminating_victim() -> None:
    """``PodEligibleToPreemptOthers``: while a lower-priority victim on the nominated node is still
    terminating by preemption, the pod does not preempt again."""
    table = table_of(node("n1"))
    victim = pod("victim", cpu="1500m", priority=0, nodeName="n1")
    victim["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z"
    victim["status"] = {"conditions": [{"type": "DisruptionTarget", "status": "True",
                                        "reason": "PreemptionByScheduler"}]}
    table.add_pod(0, PodInfo.from_pod(victim))
    algorithm = ScheduleAlgorithm(default_profile())
    ctx = CycleContext(pod=PodInfo.from_pod(pod("web", cpu="1", priority=1000)), table=table)
    result = algorithm.schedule(ctx)
    assert result.chosen is None
    waiting = preempt(algorithm, ctx, result, nominated_node="n1")
    assert waiting.node is None and waiting.message == f"preemption: {NOT_ELIGIBLE_TERMINATING}"
    fresh = preempt(algorithm, ctx, result)
    assert fresh.node == 0 and [v.name for v in fresh.victims] == ["victim"]


def test_requested_to_capacity_ratio_skips_resources_the_node_does_not_have() -> None:
    """requested_to_capacity_ratio.go: a resource with allocatable 0 takes no part in the mean; with a
    bin-packing shape it would otherwise count as 100 % used and score 100."""
    args = {"scoringStrategy": {"type": "RequestedToCapacityRatio",
                                "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}],
                                "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0},
                                                                       {"utilization": 100, "score": 10}]}}}
    cfg = config()
    cfg["profiles"][0]["pluginConfig"] = [{"name": "NodeResourcesFit", "args": args}]
    c = labkit.Cluster(seed=0, scheduler_config=cfg)
    cpu_only = node("cpu-only", cpu="4")
    for key in ("capacity", "allocatable"):
        del cpu_only["status"][key]["memory"]
    c.apply([cpu_only, node("full", cpu="4", memory="1Gi"), pod("web", cpu="1")])
    c.run()
    frame = c.explain("web").frame()
    assert frame.loc["cpu-only", "NodeResourcesFit"] == 25  # cpu alone: 25 % used
    # cpu 25 and memory 19 (the 200Mi scoring stand-in of 1Gi): round((25 + 19) / 2)
    assert frame.loc["full", "NodeResourcesFit"] == 22


def test_added_affinity_from_the_configuration_has_its_own_reason() -> None:
    """NodeAffinityArgs.addedAffinity is checked before the pod's own affinity and reports
    ``node(s) didn't match scheduler-enforced node affinity``."""
    added = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["a"]}]}]}}
    cfg = config()
    cfg["profiles"][0]["pluginConfig"] = [{"name": "NodeAffinity", "args": {"addedAffinity": added}}]
    c = labkit.Cluster(seed=0, scheduler_config=cfg)
    c.apply([node("n1", zone="a"), node("n2", zone="b"), node("n3", zone="a"),
             pod("web", nodeSelector={"disktype": "ssd"})])
    c.run()
    assert c.explain("web").message == (
        "0/3 nodes are available: 1 node(s) didn't match scheduler-enforced node affinity, "
        "2 node(s) didn't match Pod's node affinity/selector. no new claims to deallocate, "
        "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")

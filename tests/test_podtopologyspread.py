"""PodTopologySpread, driven through a simulated cluster with real Node/Pod/Service YAML.

Expected numbers are upstream's test tables (``pkg/scheduler/framework/plugins/podtopologyspread/
scoring_test.go`` and ``filtering_test.go``) and the rules of spec section 1.10. Upstream's
"failedNodes" (in the snapshot, but not candidates for scoring) are tainted ``NoSchedule`` here:
they fail TaintToleration, while PodTopologySpread still counts their pods. Existing pods are
bound with ``spec.nodeName``, as upstream's ``st.MakePod().Node(...)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
from labkit.api.selectors import selector_from_dict
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.plugins.podtopologyspread import PodIndex, PodQuery, _round_half_away
from labkit.scheduler.podinfo import PodInfo

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
FOO = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
BAR = {"matchExpressions": [{"key": "bar", "operator": "Exists"}]}
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def node(name: str, labels: dict[str, str], *, failed: bool = False, cpu: str = "8") -> dict[str, Any]:
    res = {"cpu": cpu, "memory": "32Gi", "pods": "110"}
    n: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"capacity": dict(res), "allocatable": dict(res)},
    }
    if failed:
        n["spec"] = {"taints": [{"key": "failed", "value": "yes", "effect": "NoSchedule"}]}
    return n


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    on: str | None = None,
    ns: str = "default",
    cpu: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "registry.k8s.io/pause:3.10"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    p: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"containers": [container], **spec},
    }
    if on:
        p["spec"]["nodeName"] = on
    return p


def spread(skew: int, key: str, when: str, selector: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when, **extra}
    if selector is not None:
        c["labelSelector"] = selector
    return c


def bound(counts: dict[str, int], labels: dict[str, str], ns: str = "default") -> list[dict[str, Any]]:
    """``counts[node]`` pods with ``labels`` bound to each node (names p-<node>-<i>)."""
    return [pod(f"p-{n}-{i}", labels, n, ns) for n, k in counts.items() for i in range(k)]


def cluster(nodes: list[dict[str, Any]], *objects: dict[str, Any]) -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.apply(nodes)
    if objects:
        c.apply(list(objects))
    c.run(until=5)
    return c


def scores(
    c: labkit.Cluster, incoming: dict[str, Any], plugin: str = "PodTopologySpread"
) -> dict[str, float]:
    """The plugin's normalized score per node (NaN where not scored) for a what-if pod."""
    return {k: (v if math.isnan(v) else int(v)) for k, v in c.explain(incoming).frame()[plugin].items()}


def failed_scheduling(c: labkit.Cluster, name: str) -> list[str]:
    return [
        e["message"]
        for e in c.events()
        if e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == name
    ]


def hosts(*names: str, failed: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [node(f"node-{x}", {HOST: f"node-{x}"}, failed=x in failed) for x in names]


def zoned(spec: dict[str, str], failed: tuple[str, ...] = (), key: str = "zone") -> list[dict[str, Any]]:
    """Nodes node-<x> in the given zones (under label ``key``), with hostname labels."""
    return [node(f"node-{x}", {key: z, HOST: f"node-{x}"}, failed=x in failed) for x, z in spec.items()]


# -- Score: upstream TestPodTopologySpreadScore ------------------------------------------------------
def test_hostname_spread_scores_nodes_with_fewer_matching_pods_higher() -> None:
    """Matching pods spread 2/1/0/3: w = ln(4+2); normalized 100*(max+min-s)/max."""
    c = cluster(hosts("a", "b", "c", "d"), *bound({"node-a": 2, "node-b": 1, "node-d": 3}, {"foo": ""}))
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", FOO)])
    assert scores(c, incoming) == {"node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0}


@pytest.mark.parametrize(
    "skew,counts,want",
    [
        (2, (2, 1, 0, 3), (33, 66, 100, 16)),
        (3, (4, 3, 2, 1), (44, 66, 77, 100)),
    ],
)
def test_max_skew_minus_one_waters_down_the_differences(
    skew: int, counts: tuple[int, ...], want: tuple[int, ...]
) -> None:
    """``maxSkew - 1`` is added to every raw score, so a larger maxSkew narrows the spread of scores."""
    names = ("node-a", "node-b", "node-c", "node-d")
    c = cluster(hosts("a", "b", "c", "d"), *bound(dict(zip(names, counts)), {"foo": ""}))
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(skew, HOST, "ScheduleAnyway", FOO)])
    assert scores(c, incoming) == dict(zip(names, want))


def test_null_selector_counts_nothing_and_every_node_scores_100() -> None:
    c = cluster(hosts("a", "b", "c", "d"), *bound({"node-a": 2, "node-b": 1, "node-d": 3}, {"foo": ""}))
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", None)])
    assert scores(c, incoming) == {"node-a": 100, "node-b": 100, "node-c": 100, "node-d": 100}


def test_only_candidate_nodes_set_the_weight_and_are_scored() -> None:
    """4/2/1/~3~: node-y fails a filter; size is the 3 candidates, node-y's pods do not matter."""
    c = cluster(
        hosts("a", "b", "x", "y", failed=("y",)),
        *bound({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}, {"foo": ""}),
    )
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", FOO)])
    got = scores(c, incoming)
    assert (got["node-a"], got["node-b"], got["node-x"]) == (33, 83, 100)
    assert math.isnan(got["node-y"])  # filtered out: not scored


def test_candidate_without_the_topology_key_is_ignored_and_scores_0() -> None:
    """4/?2?/1/~3~: node-b lacks the key, so it scores 0 and is left out of min and max."""
    nodes = [
        node("node-a", {HOST: "node-a"}),
        node("node-b", {"n": "node-b"}),
        node("node-x", {HOST: "node-x"}),
        node("node-y", {HOST: "node-y"}, failed=True),
    ]
    c = cluster(nodes, *bound({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}, {"foo": ""}))
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", FOO)])
    got = scores(c, incoming)
    assert (got["node-a"], got["node-b"], got["node-x"]) == (16, 0, 100)


def test_zone_constraint_counts_pods_on_every_node_of_the_zone_even_non_candidates() -> None:
    """4/2/1/~3~ by zone: zone1 holds 6, zone2 holds 1 + 3 on the failed node-y."""
    c = cluster(
        zoned({"a": "zone1", "b": "zone1", "x": "zone2", "y": "zone2"}, failed=("y",)),
        *bound({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}, {"foo": ""}),
    )
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, "zone", "ScheduleAnyway", FOO)])
    got = scores(c, incoming)
    assert (got["node-a"], got["node-b"], got["node-x"]) == (75, 75, 100)


def test_two_constraints_sum_before_rounding() -> None:
    """2/~1~/2/~4~ by zone and node, candidates node-a and node-x."""
    c = cluster(
        zoned({"a": "zone1", "b": "zone1", "x": "zone2", "y": "zone2"}, failed=("b", "y")),
        *bound({"node-a": 2, "node-b": 1, "node-x": 2, "node-y": 4}, {"foo": ""}),
    )
    incoming = pod(
        "p",
        {"foo": ""},
        topologySpreadConstraints=[
            spread(1, "zone", "ScheduleAnyway", FOO),
            spread(1, HOST, "ScheduleAnyway", FOO),
        ],
    )
    got = scores(c, incoming)
    assert (got["node-a"], got["node-x"]) == (100, 63)


@pytest.mark.parametrize(
    "existing,failed,want",
    [
        # zone 2/2/1/1 and node 0/1/0/1
        (
            {
                "node-a": [{"foo": ""}],
                "node-b": [{"foo": "", "bar": ""}],
                "node-y": [{"foo": ""}, {"bar": ""}],
            },
            (),
            {"node-a": 60, "node-b": 20, "node-x": 100, "node-y": 60},
        ),
        # zone 0/0/2/2 and node 0/1/0/1
        (
            {"node-b": [{"bar": ""}], "node-x": [{"foo": ""}], "node-y": [{"foo": "", "bar": ""}]},
            (),
            {"node-a": 100, "node-b": 60, "node-x": 40, "node-y": 0},
        ),
        # zone 2/2/1/~1~ and node 0/1/0/~1~
        (
            {
                "node-a": [{"foo": ""}],
                "node-b": [{"foo": "", "bar": ""}],
                "node-y": [{"foo": ""}, {"bar": ""}],
            },
            ("y",),
            {"node-a": 50, "node-b": 25, "node-x": 100},
        ),
    ],
)
def test_constraints_with_different_selectors(
    existing: dict[str, list[dict[str, str]]], failed: tuple[str, ...], want: dict[str, int]
) -> None:
    pods = [
        pod(f"p-{n}-{i}", labels, n)
        for n, all_labels in existing.items()
        for i, labels in enumerate(all_labels)
    ]
    c = cluster(zoned({"a": "zone1", "b": "zone1", "x": "zone2", "y": "zone2"}, failed=failed), *pods)
    incoming = pod(
        "p",
        {"foo": "", "bar": ""},
        topologySpreadConstraints=[
            spread(1, "zone", "ScheduleAnyway", FOO),
            spread(1, HOST, "ScheduleAnyway", BAR),
        ],
    )
    got = scores(c, incoming)
    assert {k: got[k] for k in want} == want


def test_pods_of_other_namespaces_do_not_count() -> None:
    ns1 = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"}}
    c = cluster(
        hosts("a", "b"),
        ns1,
        pod("p-a1", {"foo": ""}, "node-a", "ns1"),
        *bound({"node-a": 1, "node-b": 2}, {"foo": ""}),
    )
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", FOO)])
    assert scores(c, incoming) == {"node-a": 100, "node-b": 33}


def test_terminating_pods_do_not_count() -> None:
    """A pod with a deletionTimestamp (still in its grace period) is left out (kubernetes#87621)."""
    c = cluster(hosts("a", "b"), pod("p-a", {"foo": ""}, "node-a"), pod("p-b", {"foo": ""}, "node-b"))
    c.delete("Pod", "p-a")  # graceful: the pod stays, terminating, until its containers stop
    assert c.get("Pod", "p-a")["metadata"].get("deletionTimestamp")
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", FOO)])
    assert scores(c, incoming) == {"node-a": 100, "node-b": 0}


def test_raw_score_is_count_times_ln_size_plus_2_plus_max_skew_minus_1_rounded() -> None:
    """Zone counts 3/1/0 over three zones, maxSkew 2: raw = round(cnt*ln(5) + 1) = 6, 3, 1;
    normalized 100*(6+1-s)//6 = 16, 66, 100 (spec 1.10)."""
    c = cluster(
        zoned({"a": "z1", "b": "z2", "c": "z3"}, key=ZONE), *bound({"node-a": 3, "node-b": 1}, {"app": "web"})
    )
    incoming = pod(
        "p",
        {"app": "web"},
        topologySpreadConstraints=[spread(2, ZONE, "ScheduleAnyway", {"matchLabels": {"app": "web"}})],
    )
    w = math.log(3 + 2)
    assert [round(k * w + 1) for k in (3, 1, 0)] == [6, 3, 1]
    e = c.explain(incoming)
    assert e.raw()["PodTopologySpread"].to_dict() == {"node-a": 6, "node-b": 3, "node-c": 1}
    assert scores(c, incoming) == {"node-a": 16, "node-b": 66, "node-c": 100}


def test_round_half_away_from_zero_like_go_math_round() -> None:
    got = _round_half_away(np.array([0.0, 0.5, 1.5, 2.5, 2.4999999, 0.49999999999999994]))
    assert got.tolist() == [0, 1, 2, 3, 2, 0]


def test_match_label_keys_restrict_counting_to_the_pods_own_revision() -> None:
    """matchLabelKeys: [pod-template-hash] ANDs the incoming pod's hash value into the selector."""
    c = cluster(
        hosts("a", "b"),
        *bound({"node-a": 3}, {"app": "web", "pod-template-hash": "old"}),
        *bound({"node-b": 1}, {"app": "web", "pod-template-hash": "new"}),
    )
    constraint = spread(
        1, HOST, "ScheduleAnyway", {"matchLabels": {"app": "web"}}, matchLabelKeys=["pod-template-hash"]
    )
    incoming = pod("p", {"app": "web", "pod-template-hash": "new"}, topologySpreadConstraints=[constraint])
    assert scores(c, incoming) == {"node-a": 100, "node-b": 0}
    plain = pod(
        "p",
        {"app": "web", "pod-template-hash": "new"},
        topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", {"matchLabels": {"app": "web"}})],
    )
    assert scores(c, plain) == {"node-a": 25, "node-b": 100}  # raw round(3 ln 4) = 4 vs round(ln 4) = 1


# -- Score: system default constraints -------------------------------------------------------------
SERVICE_FOO = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "foo"},
    "spec": {"selector": {"foo": ""}, "ports": [{"port": 80}]},
}


def test_system_default_spreading_applies_to_pods_a_service_selects() -> None:
    """No zone labels, 4/3/2/1: the hostname default (maxSkew 3) alone; nodes without a zone are
    not ignored under system defaulting (upstream: same scores as one hostname constraint)."""
    names = ("node-a", "node-b", "node-c", "node-d")
    c = cluster(hosts("a", "b", "c", "d"), SERVICE_FOO, *bound(dict(zip(names, (4, 3, 2, 1))), {"foo": ""}))
    assert scores(c, pod("p", {"foo": ""})) == {"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100}


def test_system_default_spreading_follows_the_controlling_replicaset() -> None:
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-1"},
        "spec": {
            "replicas": 10,  # the ten bound pods below: the ReplicaSet controller adopts them, keeps them
            "selector": {"matchLabels": {"foo": ""}},
            "template": {
                "metadata": {"labels": {"foo": ""}},
                "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }
    names = ("node-a", "node-b", "node-c", "node-d")
    c = cluster(hosts("a", "b", "c", "d"), rs, *bound(dict(zip(names, (4, 3, 2, 1))), {"foo": ""}))
    owned = pod("p", {"foo": ""})
    owned["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "web-1",
            "uid": c.get("ReplicaSet", "web-1")["metadata"]["uid"],
            "controller": True,
        }
    ]
    assert scores(c, owned) == {"node-a": 44, "node-b": 66, "node-c": 77, "node-d": 100}


def test_system_defaults_use_both_zone_and_hostname() -> None:
    """Zone z1 holds 2 matching pods (node-a), z2 none: hostname (skew 3) + zone (skew 5)."""
    c = cluster(
        zoned({"a": "z1", "b": "z1", "x": "z2"}, key=ZONE), SERVICE_FOO, *bound({"node-a": 2}, {"foo": ""})
    )
    w_host, w_zone = math.log(3 + 2), math.log(2 + 2)
    raw = {
        "node-a": round(2 * w_host + 2 + 2 * w_zone + 4),
        "node-b": round(0 + 2 + 2 * w_zone + 4),
        "node-x": round(0 + 2 + 0 + 4),
    }
    assert c.explain(pod("p", {"foo": ""})).raw()["PodTopologySpread"].to_dict() == raw
    top, low = max(raw.values()), min(raw.values())
    assert scores(c, pod("p", {"foo": ""})) == {k: 100 * (top + low - v) // top for k, v in raw.items()}


@pytest.mark.parametrize("service_selector", [None, {"app": "other"}])
def test_no_spread_score_without_a_selecting_service_or_controller(service_selector: dict | None) -> None:
    """PreScore Skip: nothing selects the pod (a Service with a nil selector selects nothing)."""
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]},
    }
    if service_selector is not None:
        svc["spec"]["selector"] = service_selector
    c = cluster(hosts("a", "b"), svc, *bound({"node-a": 2}, {"foo": ""}))
    assert all(math.isnan(v) for v in scores(c, pod("p", {"foo": ""})).values())


def test_do_not_schedule_constraints_alone_give_no_score() -> None:
    c = cluster(hosts("a", "b"), *bound({"node-a": 1}, {"foo": ""}))
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(5, HOST, "DoNotSchedule", FOO)])
    assert all(math.isnan(v) for v in scores(c, incoming).values())


# -- Filter ----------------------------------------------------------------------------------------
def test_failed_scheduling_message_counts_fit_and_skew_failures() -> None:
    """Spec section 8's recorded message: node-a is full, zones b and c would be skewed by 2."""
    nodes = [
        node("node-a", {HOST: "node-a", ZONE: "a"}, cpu="2"),
        node("node-b", {HOST: "node-b", ZONE: "b"}),
        node("node-c", {HOST: "node-c", ZONE: "c"}),
    ]
    c = cluster(
        nodes,
        pod("other", {"app": "batch"}, "node-a", cpu="1500m"),
        pod("w1", {"app": "web"}, "node-b"),
        pod("w2", {"app": "web"}, "node-c"),
    )
    c.apply(
        pod(
            "new",
            {"app": "web"},
            cpu="1",
            topologySpreadConstraints=[spread(1, ZONE, "DoNotSchedule", {"matchLabels": {"app": "web"}})],
        )
    )
    c.run(until=c.now + 5)
    assert failed_scheduling(c, "new")[0] == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match pod topology spread "
        "constraints. no new claims to deallocate, preemption: 0/3 nodes are available: "
        f"3 {NO_VICTIMS}."
    )


def test_node_without_the_topology_key_is_unresolvable() -> None:
    c = cluster(zoned({"a": "zone1", "x": "zone2"}))
    c.apply(pod("new", {"foo": ""}, topologySpreadConstraints=[spread(1, "rack", "DoNotSchedule", FOO)]))
    c.run(until=c.now + 5)
    assert failed_scheduling(c, "new")[0] == (
        "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints (missing "
        "required label). no new claims to deallocate, preemption: 0/2 nodes are available: "
        f"2 {PREEMPTION_NOT_HELPFUL}."
    )


SPREAD_2_1_0_3 = {"node-a": 2, "node-b": 1, "node-y": 3}
SKEW = "node(s) didn't match pod topology spread constraints"
MISSING = SKEW + " (missing required label)"


@pytest.mark.parametrize(
    "skew,labels,want",
    [
        (1, {"foo": ""}, {"node-a": SKEW, "node-b": SKEW, "node-x": "", "node-y": SKEW}),
        (2, {"foo": ""}, {"node-a": SKEW, "node-b": "", "node-x": "", "node-y": SKEW}),
        # The incoming pod does not match its own selector: self = 0.
        (1, {"bar": ""}, {"node-a": SKEW, "node-b": "", "node-x": "", "node-y": SKEW}),
    ],
)
def test_skew_filter_on_nodes(skew: int, labels: dict[str, str], want: dict[str, str]) -> None:
    """Upstream TestSingleConstraint: pods spread 2/1/0/3 by node; cnt + self - min <= maxSkew."""
    nodes = [
        node(f"node-{x}", {"zone": z, "node": f"node-{x}"})
        for x, z in {"a": "zone1", "b": "zone1", "x": "zone2", "y": "zone2"}.items()
    ]
    c = cluster(nodes, *bound(SPREAD_2_1_0_3, {"foo": ""}))
    incoming = pod("p", labels, topologySpreadConstraints=[spread(skew, "node", "DoNotSchedule", FOO)])
    assert c.explain(incoming).frame()["filter"].to_dict() == want


def test_node_missing_the_key_fails_unresolvably_and_is_no_domain() -> None:
    """Pods spread 1/2 by zone because node-b's label is misspelt ``zon``."""
    nodes = [
        node("node-a", {"zone": "zone1"}),
        node("node-b", {"zon": "zone1"}),
        node("node-x", {"zone": "zone2"}),
        node("node-y", {"zone": "zone2"}),
    ]
    c = cluster(nodes, *bound({"node-a": 1, "node-b": 1, "node-x": 1, "node-y": 1}, {"foo": ""}))
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, "zone", "DoNotSchedule", FOO)])
    e = c.explain(incoming)
    assert e.frame()["filter"].to_dict() == {"node-a": "", "node-b": MISSING, "node-x": SKEW, "node-y": SKEW}
    codes = {name: e.result.code(i).name for i, name in enumerate(e.result.node_names)}
    assert codes == {
        "node-a": "Success",
        "node-b": "UnschedulableAndUnresolvable",
        "node-x": "Unschedulable",
        "node-y": "Unschedulable",
    }


def test_pods_in_other_namespaces_and_terminating_pods_do_not_count_for_skew() -> None:
    ns = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("ns1", "ns2")]
    nodes = [node("node-a", {"node": "node-a"}), node("node-b", {"node": "node-b"})]
    c = cluster(
        nodes,
        *ns,
        pod("o1", {"foo": ""}, "node-a", "ns1"),
        pod("o2", {"foo": ""}, "node-a", "ns2"),
        pod("gone", {"foo": ""}, "node-a"),
        pod("kept", {"foo": ""}, "node-b"),
    )
    c.delete("Pod", "gone")
    assert c.get("Pod", "gone")["metadata"].get("deletionTimestamp")
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, "node", "DoNotSchedule", FOO)])
    assert c.explain(incoming).frame()["filter"].to_dict() == {"node-a": "", "node-b": SKEW}


def test_node_affinity_policy_honor_counts_only_nodes_the_pod_may_use() -> None:
    """2/~1~/~0~/3: only node-a and node-y are domains, so min is 2 and node-a fits."""
    nodes = [
        node(f"node-{x}", {"zone": z, "node": f"node-{x}"})
        for x, z in {"a": "zone1", "b": "zone1", "x": "zone2", "y": "zone2"}.items()
    ]
    c = cluster(nodes, *bound(SPREAD_2_1_0_3, {"foo": ""}))
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "node", "operator": "In", "values": ["node-a", "node-y"]}]}
                ]
            }
        }
    }
    incoming = pod(
        "p",
        {"foo": ""},
        affinity=affinity,
        topologySpreadConstraints=[spread(1, "node", "DoNotSchedule", FOO)],
    )
    filt = c.explain(incoming).frame()["filter"].to_dict()
    assert filt["node-a"] == "" and filt["node-y"] == SKEW
    ignore = pod(
        "p",
        {"foo": ""},
        affinity=affinity,
        topologySpreadConstraints=[spread(1, "node", "DoNotSchedule", FOO, nodeAffinityPolicy="Ignore")],
    )
    assert c.explain(ignore).frame()["filter"].to_dict()["node-a"] == SKEW  # min is node-x's 0 again


def test_min_domains_makes_the_global_minimum_0_when_domains_are_too_few() -> None:
    c = cluster(zoned({"a": "z1", "b": "z2"}, key=ZONE), *bound({"node-a": 1, "node-b": 1}, {"foo": ""}))
    plain = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, ZONE, "DoNotSchedule", FOO)])
    assert c.explain(plain).frame()["filter"].to_dict() == {"node-a": "", "node-b": ""}
    strict = pod(
        "p", {"foo": ""}, topologySpreadConstraints=[spread(1, ZONE, "DoNotSchedule", FOO, minDomains=3)]
    )
    assert c.explain(strict).frame()["filter"].to_dict() == {"node-a": SKEW, "node-b": SKEW}


def test_node_taints_policy_honor_drops_untolerated_nodes_from_the_domains() -> None:
    """Zone z1 has only a tainted node with no pods: with Ignore it is the minimum (0) and z2/z3
    are skewed; with Honor it is no domain, so z2 and z3 (1 pod each) are fine."""
    nodes = [
        node("node-a", {HOST: "node-a", ZONE: "z1"}, failed=True),
        node("node-b", {HOST: "node-b", ZONE: "z2"}),
        node("node-c", {HOST: "node-c", ZONE: "z3"}),
    ]
    c = cluster(nodes, *bound({"node-b": 1, "node-c": 1}, {"foo": ""}))
    ignore = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, ZONE, "DoNotSchedule", FOO)])
    assert c.explain(ignore).frame()["filter"].to_dict() == {
        "node-a": "node(s) had untolerated taint(s)",
        "node-b": SKEW,
        "node-c": SKEW,
    }
    honor = pod(
        "p",
        {"foo": ""},
        topologySpreadConstraints=[spread(1, ZONE, "DoNotSchedule", FOO, nodeTaintsPolicy="Honor")],
    )
    assert c.explain(honor).frame()["filter"].to_dict() == {
        "node-a": "node(s) had untolerated taint(s)",
        "node-b": "",
        "node-c": "",
    }


def test_replicas_spread_evenly_over_zones() -> None:
    """Six replicas with a zone DoNotSchedule constraint end up two per zone."""
    c = cluster([node(f"n{i}", {HOST: f"n{i}", ZONE: f"z{i % 3}"}) for i in range(6)])
    c.apply(
        [
            pod(
                f"web-{i}",
                {"app": "web"},
                topologySpreadConstraints=[spread(1, ZONE, "DoNotSchedule", {"matchLabels": {"app": "web"}})],
            )
            for i in range(6)
        ]
    )
    c.run(until=c.now + 10)
    zones = [
        c.get("Node", c.get("Pod", f"web-{i}")["spec"]["nodeName"])["metadata"]["labels"][ZONE]
        for i in range(6)
    ]
    assert sorted(zones) == ["z0", "z0", "z1", "z1", "z2", "z2"]


# -- the incremental pod index ---------------------------------------------------------------------
QUERIES = [
    PodQuery(
        ((frozenset({"default"}), selector_from_dict({"matchLabels": {"app": "a"}})),), skip_terminating=True
    ),
    PodQuery(((None, selector_from_dict({"matchExpressions": [{"key": "app", "operator": "Exists"}]})),)),
    PodQuery(((frozenset({"ns1"}), selector_from_dict({})),)),
]


def _info(uid: str, ns: str, app: str, terminating: bool) -> PodInfo:
    """A pod; app "b" pods carry pod anti-affinity (so they are tracked in ``affinity_groups``)."""
    meta: dict[str, Any] = {"name": uid, "namespace": ns, "uid": uid, "labels": {"app": app} if app else {}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict[str, Any] = {"containers": [{"name": "c"}]}
    if app == "b":
        spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "b"}}, "topologyKey": HOST}
                ]
            }
        }
    return PodInfo.from_pod({"metadata": meta, "spec": spec})


def _check(index: PodIndex, table: NodeTable) -> None:
    for q in QUERIES:
        assert index.counts(q).tolist() == _brute(table, q)
    affine = [sum(1 for p in table.pods[i].values() if p.affinity) for i in range(table.n)]
    grouped = [sum(g.rows.get(i, 0) for g in index.affinity_groups.values()) for i in range(table.n)]
    assert grouped == affine


def _brute(table: NodeTable, q: PodQuery) -> list[int]:
    return [
        sum(q.matches(p.namespace, p.labels, p.terminating) for p in table.pods[i].values())
        for i in range(table.n)
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "remove", "relabel", "copy", "node"]),
            st.integers(0, 5),
            st.sampled_from(["default", "ns1"]),
            st.sampled_from(["a", "b", ""]),
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_pod_index_counts_equal_a_full_recount(ops: list[tuple[str, int, str, str, bool]]) -> None:
    """Whatever binds, removals, label updates, added nodes and preemption copies happen, the
    incrementally maintained counts equal a recount of every pod (on the table and on copies)."""
    table = NodeTable()
    for i in range(3):
        table.set_node({"metadata": {"name": f"n{i}"}, "status": {"allocatable": {"pods": "110"}}})
    index = PodIndex()
    serial = 0
    for op, k, ns, app, term in ops:
        row = k % table.n
        if op == "add":
            serial += 1
            table.add_pod(row, _info(f"u{serial}", ns, app, term))
        elif op == "remove" and table.pods[row]:
            table.remove_pod(row, next(iter(table.pods[row].values())))
        elif op == "relabel" and table.pods[row]:
            old = next(iter(table.pods[row].values()))
            table.remove_pod(row, old)
            table.add_pod(row, _info(old.uid, old.namespace, app, term))
        elif op == "node":
            table.set_node({"metadata": {"name": f"n{table.n}"}, "status": {"allocatable": {"pods": "110"}}})
        elif op == "copy":
            view = table.dry_run_copy()
            view.pods[row] = dict(table.pods[row])
            for p in list(view.pods[row].values())[:1]:
                view.remove_pod(row, p)
            index.sync(view)
            _check(index, view)
        index.sync(table)
        _check(index, table)


def test_list_defaulting_applies_configured_default_constraints_to_selected_pods() -> None:
    """``PodTopologySpreadArgs{defaultingType: List}``: the configured defaults, with the selector
    derived from the pod's Services, filter as well when they say DoNotSchedule."""
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [
            {
                "pluginConfig": [
                    {
                        "name": "PodTopologySpread",
                        "args": {
                            "defaultingType": "List",
                            "defaultConstraints": [
                                {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}
                            ],
                        },
                    }
                ]
            }
        ],
    }
    c = labkit.Cluster(seed=0, scheduler_config=config)
    c.apply(zoned({"a": "z1", "b": "z2"}, key=ZONE))
    c.apply([SERVICE_FOO, *bound({"node-a": 1}, {"foo": ""})])
    c.run(until=5)
    assert c.explain(pod("p", {"foo": ""})).frame()["filter"].to_dict() == {"node-a": SKEW, "node-b": ""}
    assert c.explain(pod("q", {"other": ""})).frame()["filter"].to_dict() == {"node-a": "", "node-b": ""}


def test_teaching_view_scores_every_node() -> None:
    c = cluster(hosts("a", "b", "c", failed=("c",)), *bound({"node-a": 1}, {"foo": ""}))
    incoming = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(1, HOST, "ScheduleAnyway", FOO)])
    assert scores_all(c, incoming) == {"node-a": 0, "node-b": 100, "node-c": 100}


def scores_all(c: labkit.Cluster, incoming: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in c.explain(incoming, all_nodes=True).frame()["PodTopologySpread"].items()}

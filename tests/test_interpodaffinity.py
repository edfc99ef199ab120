"""InterPodAffinity, driven through a simulated cluster with real Node/Pod YAML.

Score expectations are upstream's ``TestPreferredAffinity`` table
(``pkg/scheduler/framework/plugins/interpodaffinity/scoring_test.go``); Filter reasons, codes
and messages follow spec sections 1.11 and 8.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import labkit

HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
S1 = {"security": "S1"}
S2 = {"security": "S2"}
CHINA, INDIA = {"region": "China"}, {"region": "India"}
AZ1, AZ2 = {"az": "az1"}, {"az": "az2"}
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"


def node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    res = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"capacity": dict(res), "allocatable": dict(res)},
    }


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    on: str | None = None,
    ns: str = "default",
    affinity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}
    if on:
        spec["nodeName"] = on
    if affinity:
        spec["affinity"] = affinity
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": spec,
    }


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def term(selector: dict[str, Any] | None, key: str, **extra: Any) -> dict[str, Any]:
    t: dict[str, Any] = {"topologyKey": key, **extra}
    if selector is not None:
        t["labelSelector"] = selector
    return t


def security_in(*values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": "security", "operator": "In", "values": list(values)}]}


def preferred(weight: int, t: dict[str, Any]) -> dict[str, Any]:
    return {"weight": weight, "podAffinityTerm": t}


def affinity(
    *,
    pref: list | None = None,
    anti_pref: list | None = None,
    req: list | None = None,
    anti_req: list | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pref or req:
        out["podAffinity"] = {
            k: v
            for k, v in (
                ("preferredDuringSchedulingIgnoredDuringExecution", pref),
                ("requiredDuringSchedulingIgnoredDuringExecution", req),
            )
            if v
        }
    if anti_pref or anti_req:
        out["podAntiAffinity"] = {
            k: v
            for k, v in (
                ("preferredDuringSchedulingIgnoredDuringExecution", anti_pref),
                ("requiredDuringSchedulingIgnoredDuringExecution", anti_req),
            )
            if v
        }
    return out


STAY_WITH_S1_IN_REGION = affinity(pref=[preferred(5, term(security_in("S1"), "region"))])
STAY_WITH_S2_IN_REGION = affinity(pref=[preferred(6, term(security_in("S2"), "region"))])
AWAY_FROM_S1_IN_AZ = affinity(anti_pref=[preferred(5, term(security_in("S1"), "az"))])
AWAY_FROM_S2_IN_AZ = affinity(anti_pref=[preferred(5, term(security_in("S2"), "az"))])
STAY_S1_REGION_AWAY_S2_AZ = affinity(
    pref=[preferred(8, term(security_in("S1"), "region"))],
    anti_pref=[preferred(5, term(security_in("S2"), "az"))],
)
HARD_AFFINITY = affinity(
    req=[
        term(security_in("S1", "value2"), "region"),
        term(
            {
                "matchExpressions": [
                    {"key": "security", "operator": "Exists"},
                    {"key": "wrongkey", "operator": "DoesNotExist"},
                ]
            },
            "region",
        ),
    ]
)


def cluster(nodes: list[dict[str, Any]], *objects: dict[str, Any], config: Any = None) -> labkit.Cluster:
    c = labkit.Cluster(seed=0, scheduler_config=config)
    c.apply(nodes)
    if objects:
        c.apply(list(objects))
    c.run(until=5)
    return c


def scores(c: labkit.Cluster, incoming: dict[str, Any]) -> dict[str, float]:
    col = c.explain(incoming).frame()["InterPodAffinity"]
    return {k: (v if math.isnan(v) else int(v)) for k, v in col.items()}


def verdicts(c: labkit.Cluster, incoming: dict[str, Any]) -> dict[str, str]:
    return c.explain(incoming).frame()["filter"].to_dict()


def failed_scheduling(c: labkit.Cluster, name: str) -> list[str]:
    return [
        e["message"]
        for e in c.events()
        if e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == name
    ]


# -- Score: upstream TestPreferredAffinity -------------------------------------------------------------
def test_no_pod_affinity_anywhere_skips_scoring() -> None:
    c = cluster([node("node1", CHINA), node("node2", INDIA), node("node3", AZ1)])
    assert all(math.isnan(v) for v in scores(c, pod("p", S1)).values())


def test_preferred_affinity_scores_the_domain_holding_matching_pods() -> None:
    c = cluster(
        [node("node1", CHINA), node("node2", INDIA), node("node3", AZ1)],
        pod("a", S1, "node1"),
        pod("b", S2, "node2"),
        pod("c", S1, "node3"),
    )
    assert scores(c, pod("p", S1, affinity=STAY_WITH_S1_IN_REGION)) == {"node1": 100, "node2": 0, "node3": 0}


def test_every_node_of_the_matching_domain_gets_the_same_score() -> None:
    c = cluster(
        [node("node1", CHINA), node("node2", {**CHINA, **AZ1}), node("node3", INDIA)], pod("a", S1, "node1")
    )
    assert scores(c, pod("p", affinity=STAY_WITH_S1_IN_REGION)) == {"node1": 100, "node2": 100, "node3": 0}


def test_domain_with_more_matching_pods_scores_higher() -> None:
    nodes = [
        node("node1", CHINA),
        node("node2", INDIA),
        node("node3", CHINA),
        node("node4", CHINA),
        node("node5", INDIA),
    ]
    pods = [
        pod(f"s2-{i}", S2, n) for i, n in enumerate(["node1", "node1", "node2", "node3", "node4", "node5"])
    ]
    c = cluster(nodes, *pods)
    assert scores(c, pod("p", S1, affinity=STAY_WITH_S2_IN_REGION)) == {
        "node1": 100,
        "node2": 0,
        "node3": 100,
        "node4": 100,
        "node5": 0,
    }


def test_existing_pods_preferred_affinity_counts_for_the_incoming_pod() -> None:
    """Symmetry: node2's pod prefers S2 pods in its region, and the incoming pod is S2."""
    c = cluster(
        [node("node1", CHINA), node("node2", INDIA), node("node3", AZ1)],
        pod("a", S1, "node1", affinity=STAY_WITH_S1_IN_REGION),
        pod("b", S2, "node2", affinity=STAY_WITH_S2_IN_REGION),
    )
    assert scores(c, pod("p", S2)) == {"node1": 0, "node2": 100, "node3": 0}


def test_existing_pods_required_affinity_scores_hard_pod_affinity_weight() -> None:
    c = cluster(
        [node("node1", CHINA), node("node2", INDIA), node("node3", AZ1)],
        pod("a", S1, "node1", affinity=HARD_AFFINITY),
        pod("b", S2, "node2", affinity=HARD_AFFINITY),
    )
    assert scores(c, pod("p", S1)) == {"node1": 100, "node2": 100, "node3": 0}


def test_hard_pod_affinity_weight_0_turns_that_contribution_off() -> None:
    config = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [{"pluginConfig": [{"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 0}}]}],
    }
    c = cluster(
        [node("node1", CHINA), node("node2", INDIA), node("node3", AZ1)],
        pod("a", S1, "node1", affinity=HARD_AFFINITY),
        config=config,
    )
    assert all(math.isnan(v) for v in scores(c, pod("p", S1)).values())


def test_preferred_anti_affinity_scores_the_domain_with_matching_pods_lowest() -> None:
    c = cluster(
        [node("node1", AZ1), node("node2", INDIA)],
        pod("a", S1, "node1"),
        pod("b", S1, "node1"),
        pod("c", S2, "node2"),
    )
    assert scores(c, pod("p", S1, affinity=AWAY_FROM_S1_IN_AZ)) == {"node1": 0, "node2": 100}


def test_existing_pods_preferred_anti_affinity_repels_the_incoming_pod() -> None:
    c = cluster(
        [node("node1", AZ1), node("node2", AZ2)],
        pod("a", S1, "node1", affinity=AWAY_FROM_S2_IN_AZ),
        pod("b", S2, "node2", affinity=AWAY_FROM_S1_IN_AZ),
    )
    assert scores(c, pod("p", S2)) == {"node1": 0, "node2": 100}


def test_affinity_anti_affinity_and_symmetry_add_up() -> None:
    """Upstream's weights per node: affinity 8, anti-affinity -5, symmetry 8 and -5."""
    c = cluster(
        [node("node1", CHINA), node("node2", AZ1), node("node3", INDIA), node("node4", AZ2)],
        pod("a", S1, "node1"),
        pod("b", S2, "node2"),
        pod("c", None, "node3", affinity=STAY_S1_REGION_AWAY_S2_AZ),
        pod("d", None, "node4", affinity=AWAY_FROM_S1_IN_AZ),
    )
    assert scores(c, pod("p", S1, affinity=STAY_S1_REGION_AWAY_S2_AZ)) == {
        "node1": 100,
        "node2": 0,
        "node3": 100,
        "node4": 0,
    }


def test_equal_raw_scores_normalize_to_0() -> None:
    """A table entry exists (so no Skip) but both nodes sum to 8: max == min gives 0 everywhere."""
    c = cluster(
        [node("node1", CHINA), node("node2", CHINA)],
        pod("a", S1, "node1"),
        pod("b", None, "node2", affinity=STAY_S1_REGION_AWAY_S2_AZ),
    )
    assert scores(c, pod("p", S1)) == {"node1": 0, "node2": 0}


def test_min_max_normalization_truncates_toward_zero() -> None:
    """Raw 8, -5 and 0: int(100 * (0 - -5) / 13) = int(38.46) = 38 (spec 1.11)."""
    c = cluster(
        [node("node1", CHINA), node("node2", AZ1), node("node3", {"other": "x"})],
        pod("a", S1, "node1"),
        pod("b", S2, "node2"),
    )
    e = c.explain(pod("p", S1, affinity=STAY_S1_REGION_AWAY_S2_AZ))
    assert e.raw()["InterPodAffinity"].to_dict() == {"node1": 8, "node2": -5, "node3": 0}
    assert scores(c, pod("p", S1, affinity=STAY_S1_REGION_AWAY_S2_AZ)) == {
        "node1": 100,
        "node2": 0,
        "node3": 38,
    }


def test_first_replica_with_preferred_anti_affinity_and_nothing_to_match_gets_no_score() -> None:
    c = cluster([node("n1", {HOST: "n1"}), node("n2", {HOST: "n2"})])
    anti = affinity(anti_pref=[preferred(100, term({"matchLabels": {"app": "web"}}, HOST))])
    assert all(math.isnan(v) for v in scores(c, pod("web-0", {"app": "web"}, affinity=anti)).values())


def test_existing_pods_term_with_namespace_selector_matches_the_incoming_pods_namespace() -> None:
    """The existing pod's term names namespace subteam2-team2 and selects team=team1 namespaces
    (upstream's namespaces are called subteam1.team1 etc., which a real API server refuses)."""
    selector_term = term(
        security_in("S1"),
        "region",
        namespaces=["subteam2-team2"],
        namespaceSelector={"matchExpressions": [{"key": "team", "operator": "In", "values": ["team1"]}]},
    )
    c = cluster(
        [node("node1", CHINA), node("node2", INDIA), node("node3", AZ1)],
        namespace("subteam1-team1", {"team": "team1"}),
        namespace("subteam1-team2", {"team": "team2"}),
        pod("a", S1, "node1", affinity=affinity(pref=[preferred(5, selector_term)])),
        pod("b", S2, "node2", affinity=STAY_WITH_S2_IN_REGION),
    )
    assert scores(c, pod("p", S1, ns="subteam1-team1")) == {"node1": 100, "node2": 0, "node3": 0}
    assert all(math.isnan(v) for v in scores(c, pod("p", S1, ns="subteam1-team2")).values())


def test_incoming_terms_apply_to_the_pods_own_namespace_unless_told_otherwise() -> None:
    c = cluster(
        [node("node1", CHINA), node("node2", INDIA)],
        namespace("other", {"team": "x"}),
        pod("a", S1, "node1", ns="other"),
        pod("b", S1, "node2"),
    )
    own = pod("p", S1, affinity=STAY_WITH_S1_IN_REGION)
    assert scores(c, own) == {"node1": 0, "node2": 100}
    listed = affinity(pref=[preferred(5, term(security_in("S1"), "region", namespaces=["other"]))])
    assert scores(c, pod("p", S1, affinity=listed)) == {"node1": 100, "node2": 0}
    by_label = affinity(
        pref=[
            preferred(5, term(security_in("S1"), "region", namespaceSelector={"matchLabels": {"team": "x"}}))
        ]
    )
    assert scores(c, pod("p", S1, affinity=by_label)) == {"node1": 100, "node2": 0}
    everywhere = affinity(pref=[preferred(5, term(security_in("S1"), "region", namespaceSelector={}))])
    # Both regions hold one S1 pod: equal raw scores (5 and 5) normalize to 0.
    assert c.explain(pod("p", S1, affinity=everywhere)).raw()["InterPodAffinity"].to_dict() == {
        "node1": 5,
        "node2": 5,
    }
    assert scores(c, pod("p", S1, affinity=everywhere)) == {"node1": 0, "node2": 0}


# -- Filter ----------------------------------------------------------------------------------------
def zones3() -> list[dict[str, Any]]:
    return [node(f"n-{z}", {HOST: f"n-{z}", ZONE: z}) for z in "abc"]


def test_required_affinity_needs_a_matching_pod_in_the_nodes_domain() -> None:
    c = cluster(zones3(), pod("db", {"app": "db"}, "n-b"))
    web = pod("web", {"app": "web"}, affinity=affinity(req=[term({"matchLabels": {"app": "db"}}, ZONE)]))
    assert verdicts(c, web) == {"n-a": AFFINITY, "n-b": "", "n-c": AFFINITY}


def test_node_without_the_topology_key_fails_required_affinity() -> None:
    c = cluster([*zones3(), node("n-none", {HOST: "n-none"})], pod("db", {"app": "db"}, "n-b"))
    web = pod("web", {"app": "web"}, affinity=affinity(req=[term({"matchLabels": {"app": "db"}}, ZONE)]))
    assert verdicts(c, web)["n-none"] == AFFINITY


def test_unmatched_required_affinity_is_unresolvable() -> None:
    c = cluster(zones3())
    c.apply(pod("web", {"app": "web"}, affinity=affinity(req=[term({"matchLabels": {"app": "db"}}, ZONE)])))
    c.run(until=c.now + 5)
    assert failed_scheduling(c, "web")[0] == (
        f"0/3 nodes are available: 3 {AFFINITY}. no new claims to deallocate, preemption: "
        "0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )


def test_first_pod_of_a_self_affine_group_may_go_anywhere() -> None:
    """Bootstrap: no pod matches anywhere and the pod matches its own terms."""
    c = cluster(zones3())
    c.apply(
        pod("web-0", {"app": "web"}, affinity=affinity(req=[term({"matchLabels": {"app": "web"}}, ZONE)]))
    )
    c.run(until=c.now + 5)
    assert c.get("Pod", "web-0")["spec"].get("nodeName")
    second = pod(
        "web-1", {"app": "web"}, affinity=affinity(req=[term({"matchLabels": {"app": "web"}}, ZONE)])
    )
    first_zone = c.get("Node", c.get("Pod", "web-0")["spec"]["nodeName"])["metadata"]["labels"][ZONE]
    assert [n for n, v in verdicts(c, second).items() if v == ""] == [f"n-{first_zone}"]


def test_required_anti_affinity_blocks_domains_with_matching_pods() -> None:
    anti = affinity(anti_req=[term({"matchLabels": {"app": "web"}}, HOST)])
    c = cluster(zones3(), *[pod(f"web-{z}", {"app": "web"}, f"n-{z}", affinity=anti) for z in "abc"])
    c.apply(pod("web-3", {"app": "web"}, affinity=anti))
    c.run(until=c.now + 5)
    assert failed_scheduling(c, "web-3")[0] == (
        f"0/3 nodes are available: 3 {ANTI}. no new claims to deallocate, preemption: "
        "0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )


def test_existing_pods_required_anti_affinity_blocks_the_incoming_pod() -> None:
    """Symmetry: the cache pod refuses web pods on its node; the web pod itself has no affinity."""
    anti = affinity(anti_req=[term({"matchLabels": {"app": "web"}}, HOST)])
    c = cluster(zones3(), pod("cache", {"app": "cache"}, "n-a", affinity=anti))
    assert verdicts(c, pod("web", {"app": "web"})) == {"n-a": EXISTING_ANTI, "n-b": "", "n-c": ""}
    assert verdicts(c, pod("batch", {"app": "batch"})) == {"n-a": "", "n-b": "", "n-c": ""}


def test_rules_are_checked_in_order_affinity_first() -> None:
    """n-a breaks all three rules and reports only the (unresolvable) affinity rule."""
    keep_away = affinity(anti_req=[term({"matchLabels": {"app": "web"}}, HOST)])
    c = cluster(
        zones3(),
        pod("cache", {"app": "cache"}, "n-a", affinity=keep_away),
        pod("other", {"app": "web"}, "n-a"),
        pod("db", {"app": "db"}, "n-b"),
    )
    web = pod(
        "web",
        {"app": "web"},
        affinity=affinity(
            req=[term({"matchLabels": {"app": "db"}}, ZONE)],
            anti_req=[term({"matchLabels": {"app": "web"}}, HOST)],
        ),
    )
    e = c.explain(web)
    assert e.frame()["filter"].to_dict() == {"n-a": AFFINITY, "n-b": "", "n-c": AFFINITY}
    codes = {name: e.result.code(i).name for i, name in enumerate(e.result.node_names)}
    assert codes["n-a"] == "UnschedulableAndUnresolvable"


def test_anti_affinity_failure_is_resolvable_by_preemption() -> None:
    anti = affinity(anti_req=[term({"matchLabels": {"app": "web"}}, HOST)])
    c = cluster(zones3(), pod("w", {"app": "web"}, "n-a"))
    e = c.explain(pod("web", {"app": "web"}, affinity=anti))
    assert e.frame()["filter"].to_dict()["n-a"] == ANTI
    assert e.result.code(e.result.node_names.index("n-a")).name == "Unschedulable"


@pytest.mark.parametrize(
    "extra,blocked",
    [
        ({}, False),  # the pod's own namespace only
        ({"namespaces": ["team-b"]}, True),
        ({"namespaceSelector": {"matchLabels": {"team": "b"}}}, True),
        ({"namespaceSelector": {}}, True),  # every namespace
    ],
)
def test_anti_affinity_namespaces(extra: dict[str, Any], blocked: bool) -> None:
    c = cluster(zones3(), namespace("team-b", {"team": "b"}), pod("w", {"app": "web"}, "n-a", ns="team-b"))
    web = pod(
        "web",
        {"app": "web"},
        affinity=affinity(anti_req=[term({"matchLabels": {"app": "web"}}, HOST, **extra)]),
    )
    assert verdicts(c, web)["n-a"] == (ANTI if blocked else "")


def test_match_label_keys_limit_anti_affinity_to_the_same_revision() -> None:
    c = cluster(
        zones3(),
        pod("old", {"app": "web", "pod-template-hash": "v1"}, "n-a"),
        pod("new", {"app": "web", "pod-template-hash": "v2"}, "n-b"),
    )
    t = term({"matchLabels": {"app": "web"}}, HOST, matchLabelKeys=["pod-template-hash"])
    web = pod("web", {"app": "web", "pod-template-hash": "v2"}, affinity=affinity(anti_req=[t]))
    assert verdicts(c, web) == {"n-a": "", "n-b": ANTI, "n-c": ""}


def test_replicas_with_hostname_anti_affinity_land_on_distinct_nodes() -> None:
    anti = affinity(anti_req=[term({"matchLabels": {"app": "web"}}, HOST)])
    c = cluster(zones3())
    c.apply([pod(f"web-{i}", {"app": "web"}, affinity=anti) for i in range(3)])
    c.run(until=c.now + 10)
    assert sorted(c.get("Pod", f"web-{i}")["spec"]["nodeName"] for i in range(3)) == ["n-a", "n-b", "n-c"]

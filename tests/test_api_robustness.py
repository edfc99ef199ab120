"""Bad input to the public calls is a ``ManifestError`` naming the field, and leaves no trace.

Regression tests for issue 8 (items 6, 7, 9, 10, 12, 13, 14): a bad label selector, a bad node
count, a time simulated time cannot reach, text that is not Unicode, explain's advice for a pod
bound by its manifest, refused calls that moved counters, and the schema cache that forgot a
non-string name.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import labkit
from labkit.cluster import MAX_TIME

KINDS = ("Namespace", "Node", "Pod", "Deployment", "ReplicaSet", "Lease", "Event")


def pod(name: Any, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **spec}}


def state(c: labkit.Cluster) -> str:
    """Everything a later call can see: every object of every kind, and the events, as JSON."""
    return json.dumps({"objects": {k: c.list(k) for k in KINDS}, "events": c.events(), "now": c.now},
                      sort_keys=True)


# -- item 6: label selectors -----------------------------------------------------------------------------
def test_a_bad_label_selector_is_a_manifest_error_in_the_api_servers_words() -> None:
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as info:
        c.list("Deployment", namespace="nope", label_selector="app=web=db")
    err = info.value
    assert err.path == "labelSelector" and err.value == "app=web=db"
    # labels.Parse: the requirement app=web parsed, then '=' where ',' or the end belongs
    assert "found '=', expected: ',' or 'end of string'" in err.reason
    assert "at character 8" in err.reason


def test_a_bad_requirement_in_a_selector_says_unable_to_parse_requirement() -> None:
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as info:
        c.list("Pod", label_selector="app in (web")
    assert info.value.path == "labelSelector"
    assert info.value.reason.startswith("invalid label selector at character")
    assert "unable to parse requirement: found 'end of string', expected: ',' or ')'" in info.value.reason


def test_a_selector_that_is_not_a_string_is_a_manifest_error() -> None:
    with pytest.raises(labkit.ManifestError) as info:
        labkit.Cluster(seed=0).list("Pod", label_selector={"app": "web"})  # type: ignore[arg-type]
    assert info.value.path == "labelSelector"


def test_listing_an_unknown_namespace_is_empty_not_an_error() -> None:
    c = labkit.Cluster(seed=0)
    assert c.list("Deployment", namespace="nope") == []
    assert c.list("Deployment", namespace="nope", label_selector="app=web") == []


# -- item 7: add_node_pool's count --------------------------------------------------------------------------
@pytest.mark.parametrize("count", [-1, 1.5, "3", True, None])
def test_a_bad_node_count_is_a_manifest_error_on_count(count) -> None:
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as info:
        c.add_node_pool("pool", "ecs.g7.xlarge", count=count)
    assert info.value.path == "count"
    assert c.list("Node") == []


@pytest.mark.parametrize(("kwargs", "path"), [
    ({"name": 5}, "name"),
    ({"zones": "cn-hangzhou-h"}, "zones"),
    ({"labels": ["app=web"]}, "labels"),
    ({"labels": {"tier": 1}}, "labels"),
    ({"taints": {"key": "gpu", "effect": "NoSchedule"}}, "taints"),
])
def test_bad_node_pool_arguments_are_manifest_errors(kwargs, path) -> None:
    args = {"name": "pool", "instance_type": "ecs.g7.xlarge", "count": 1, **kwargs}
    with pytest.raises(labkit.ManifestError) as info:
        labkit.Cluster(seed=0).add_node_pool(**args)
    assert info.value.path == path


# -- item 9: run(until) --------------------------------------------------------------------------------------
@pytest.mark.parametrize("until", [1e15, math.inf, -math.inf, math.nan, 2**63, MAX_TIME + 1, "60", True])
def test_a_time_simulated_time_cannot_reach_is_refused_and_changes_nothing(until) -> None:
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as info:
        c.run(until=until)
    assert info.value.path == "until"
    assert c.now == 0
    created = c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "later"}})
    assert created[0]["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"


def test_the_time_limit_is_the_last_second_an_rfc3339_timestamp_shows() -> None:
    from labkit.api.store import timestamp

    assert timestamp(MAX_TIME) == "9999-12-31T23:59:59Z"
    assert "9999-12-31T23:59:59Z" in str(pytest.raises(labkit.ManifestError, labkit.Cluster(seed=0).run,
                                                       until=MAX_TIME + 1).value)


def test_a_long_finite_run_works_and_later_applies_still_work() -> None:
    c = labkit.Cluster(seed=0, kubelets=False)
    assert c.run(until=1e6) == 1e6  # eleven and a half simulated days
    created = c.apply(pod("late"))
    assert created[0]["metadata"]["creationTimestamp"] == "2026-01-12T13:46:40Z"


# -- item 10: text that is not Unicode -----------------------------------------------------------------------
def test_a_lone_surrogate_is_a_manifest_error_and_the_cluster_is_unchanged() -> None:
    c = labkit.Cluster(seed=0)
    before = state(c)
    with pytest.raises(labkit.ManifestError) as info:
        c.apply("\ud800")
    assert info.value.path == ""
    assert "not valid Unicode" in info.value.reason
    assert "lone surrogate U+D800 at position 0" in info.value.reason
    assert state(c) == before


def test_a_lone_surrogate_in_yaml_text_is_located_by_line_and_column() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: w\udcffeb\n"
    with pytest.raises(labkit.ManifestError) as info:
        labkit.Cluster(seed=0).apply(text)
    assert "at position 44 (line 4, column 10)" in info.value.reason


def test_a_lone_surrogate_in_a_dict_names_the_field() -> None:
    doc = pod("web")
    doc["metadata"]["labels"] = {"app": "w\ud800"}
    with pytest.raises(labkit.ManifestError) as info:
        labkit.Cluster(seed=0).apply(doc)
    assert info.value.path == "metadata.labels.app"


# -- item 12: explain of a pod bound by its manifest ---------------------------------------------------------
def test_explain_of_a_pod_bound_by_node_name_says_it_was_not_placed_by_the_scheduler() -> None:
    c = labkit.Cluster(seed=0)
    (node,) = [n["metadata"]["name"] for n in c.add_node_pool("pool", "ecs.g7.xlarge", 1)]
    c.apply(pod("pinned", nodeName=node))
    c.run()
    with pytest.raises(ValueError) as info:
        c.explain("pinned")
    message = str(info.value)
    assert "was not placed by the scheduler" in message and f'spec.nodeName ("{node}")' in message
    assert "run the cluster first" not in message
    assert "c.explain(manifest)" in message and "all_nodes=True" in message
    assert c.explain("pinned", all_nodes=True).chosen == node  # the advice works


def test_explain_of_a_pod_for_another_scheduler_says_no_cycle_will_place_it() -> None:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool", "ecs.g7.xlarge", 1)
    c.apply(pod("other", schedulerName="my-scheduler"))
    c.run()
    with pytest.raises(ValueError, match='spec.schedulerName "my-scheduler"'):
        c.explain("other")


# -- item 13: a refused call leaves no trace -----------------------------------------------------------------
def later_calls(c: labkit.Cluster) -> str:
    """The same valid calls after whatever happened before: pools, pods, a Deployment, time."""
    c.add_node_pool("pool-b", "ecs.g7.xlarge", 2)
    c.apply([pod("web"), {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
                          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                                   "template": {"metadata": {"labels": {"app": "api"}},
                                                "spec": {"containers": [{"name": "c", "image": "api:1"}]}}}}])
    c.run()
    return state(c)


REFUSED = [
    ("a pool with a bad label value",
     lambda c: c.add_node_pool("pool-a", "ecs.g7.xlarge", 2, labels={"app": "not a label value"})),
    ("a pool with a negative count", lambda c: c.add_node_pool("pool-a", "ecs.g7.xlarge", -1)),
    ("a pool of an unknown type", lambda c: c.add_node_pool("pool-a", "ecs.nope", 2)),
    ("a pool too large for its zones",
     lambda c: c.add_node_pool("pool-a", "ecs.g7.xlarge", 5000, ["cn-hangzhou-h"])),
    ("an apply whose last document is bad", lambda c: c.apply([pod("ok"), pod("ok2"), pod(True)])),
    ("an apply with a lone surrogate", lambda c: c.apply("\ud800")),
    ("a bad selector", lambda c: c.list("Pod", label_selector="a=b=c")),
    ("a time out of range", lambda c: c.run(until=math.inf)),
    ("a what-if of a bad manifest", lambda c: c.explain(pod("x", nodeName=5))),
]


@pytest.mark.parametrize("refused", [r[1] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_refused_call_changes_no_later_outcome(refused) -> None:
    """After a refused call, the same later calls give byte-identical objects (names, IPs, uids,
    resourceVersions) and events as in a cluster that never saw it."""
    clean = labkit.Cluster(seed=0)
    clean.add_node_pool("pool-a", "ecs.g7.xlarge", 2)
    expected = later_calls(clean)

    poked = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError):
        refused(poked)
    poked.add_node_pool("pool-a", "ecs.g7.xlarge", 2)
    assert later_calls(poked) == expected


def test_a_refused_pool_does_not_move_its_node_counter() -> None:
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError):
        c.add_node_pool("pool-a", "ecs.g7.xlarge", 1, labels={"app": "not a label value"})
    names = [n["metadata"]["name"] for n in c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)]
    fresh_cluster = labkit.Cluster(seed=0)
    fresh = [n["metadata"]["name"] for n in fresh_cluster.add_node_pool("pool-a", "ecs.g7.xlarge", 1)]
    assert names == fresh


# -- item 14: the schema cache and a non-string name ---------------------------------------------------------
def test_a_boolean_name_is_explained_the_same_way_every_time() -> None:
    """YAML's ``name: yes`` is the boolean true: the schema's verdict must not be shared with a
    string-named twin that was validated (and cached) in between."""
    c = labkit.Cluster(seed=0)
    reasons = []
    for name in (True, "p23", True):
        try:
            c.apply(pod(name))
        except labkit.ManifestError as e:
            assert e.path == "metadata.name"
            reasons.append(e.reason)
    assert len(reasons) == 2 and reasons[0] == reasons[1]
    assert "expected a string, got boolean true" in reasons[1] and "YAML reads unquoted yes/no" in reasons[1]


def test_a_boolean_name_from_yaml_is_refused_after_a_string_named_twin() -> None:
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {}\n"
            "spec:\n  containers:\n  - {{name: c, image: nginx}}\n")
    c = labkit.Cluster(seed=0)
    c.apply(text.format("p23"))
    with pytest.raises(labkit.ManifestError, match="expected a string, got boolean true"):
        c.apply(text.format("yes"))

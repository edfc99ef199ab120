"""The API server's write path: generateName, optimistic concurrency, subresources, graceful deletion,
finalizers and patches."""

from __future__ import annotations

import re

import pytest

import labkit
from labkit.api.patch import json_merge, strategic_merge
from labkit.api.server import GENERATE_NAME_ALPHABET, Conflict, NotFound

ZONES = ["cn-hangzhou-h"]


def pod(name: str | None = None, **meta) -> dict:
    m = {"name": name} if name else {}
    m.update(meta)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m,
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}


@pytest.fixture
def c() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool", "ecs.g7.xlarge", 1, zones=ZONES)
    return c


def test_generate_name_appends_five_safe_characters(c):
    created = c.api.create(pod(generateName="web-7c5ddbdf54-"))
    name = created["metadata"]["name"]
    assert re.fullmatch(rf"web-7c5ddbdf54-[{GENERATE_NAME_ALPHABET}]{{5}}", name)
    assert c.get("Pod", name)["metadata"]["uid"] == created["metadata"]["uid"]


def test_generate_name_cuts_a_long_prefix_to_58_characters(c):
    name = c.api.create(pod(generateName="a" * 70))["metadata"]["name"]
    assert len(name) == 63 and name.startswith("a" * 58)


def test_an_update_with_a_stale_resource_version_is_a_conflict(c):
    c.apply(pod("web"))
    first = c.get("Pod", "web")
    c.api.update({**first, "metadata": {**first["metadata"], "labels": {"a": "1"}}})
    with pytest.raises(Conflict, match='Operation cannot be fulfilled on pods "web": the object has been'):
        c.api.update({**first, "metadata": {**first["metadata"], "labels": {"a": "2"}}})


def test_the_conflict_message_names_the_group_of_apps_kinds():
    from labkit.api.server import conflict_message

    message = conflict_message("Deployment", "web")
    assert message.startswith('Operation cannot be fulfilled on deployments.apps "web"')


def test_an_update_keeps_status_and_a_status_update_keeps_spec(c):
    c.apply(pod("web"))
    c.run()
    p = c.get("Pod", "web")
    c.api.update({**p, "status": {"phase": "Failed"}})
    assert c.get("Pod", "web")["status"]["phase"] == "Running"
    p = c.get("Pod", "web")
    c.api.update_status({**p, "spec": {**p["spec"], "schedulerName": "other"}, "status": {"phase": "Failed"}})
    got = c.get("Pod", "web")
    assert got["status"] == {"phase": "Failed"} and got["spec"]["schedulerName"] == "default-scheduler"


def test_a_running_pod_terminates_with_a_deadline_and_goes_once_its_kubelet_stopped_it(c):
    c.apply(pod("web"))
    c.run()
    t = c.now
    marked = c.delete("Pod", "web")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    assert marked["metadata"]["deletionTimestamp"] == labkit.api.store.timestamp(t + 30)
    c.run()
    with pytest.raises(KeyError):
        c.get("Pod", "web")
    assert [e["reason"] for e in c.events(involved="Pod/web")][-1] == "Killing"


def test_a_second_delete_only_shortens_the_grace_period(c):
    c.apply(pod("web"))
    c.run()
    c.delete("Pod", "web", grace_period_seconds=20)
    assert c.delete("Pod", "web", grace_period_seconds=60)["metadata"]["deletionGracePeriodSeconds"] == 20
    assert c.delete("Pod", "web", grace_period_seconds=5)["metadata"]["deletionGracePeriodSeconds"] == 5


def test_an_unscheduled_pod_and_grace_zero_delete_at_once():
    c = labkit.Cluster(seed=0)  # no nodes: the pod stays unscheduled
    c.apply(pod("web"))
    c.run()
    c.delete("Pod", "web")
    with pytest.raises(NotFound):
        c.get("Pod", "web")


def test_with_hollow_nodes_a_pod_stays_terminating_until_deleted_with_grace_zero():
    c = labkit.Cluster(seed=0, kubelets=False)
    c.add_node_pool("pool", "ecs.g7.xlarge", 1, zones=ZONES)
    c.apply(pod("web"))
    c.run()
    c.patch("Pod", "web", {"status": {"phase": "Running"}}, subresource="status")
    c.delete("Pod", "web")
    c.run()
    assert c.get("Pod", "web")["metadata"]["deletionTimestamp"]
    c.delete("Pod", "web", grace_period_seconds=0)
    with pytest.raises(KeyError):
        c.get("Pod", "web")


def test_a_finalizer_keeps_an_object_until_it_is_removed(c):
    c.apply({"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "cfg", "finalizers": ["lab/keep"]}})
    c.delete("ConfigMap", "cfg")
    assert c.get("ConfigMap", "cfg")["metadata"]["deletionTimestamp"]
    c.api.remove_finalizer("ConfigMap", "cfg", "default", "lab/keep")
    with pytest.raises(KeyError):
        c.get("ConfigMap", "cfg")


def test_unknown_propagation_policies_and_grace_periods_are_refused(c):
    c.apply(pod("web"))
    with pytest.raises(ValueError, match="propagation_policy must be one of Background, Foreground, Orphan"):
        c.delete("Pod", "web", propagation_policy="Cascade")
    with pytest.raises(ValueError, match="whole number of seconds"):
        c.delete("Pod", "web", grace_period_seconds=1.5)


def test_strategic_merge_merges_containers_by_name_and_replaces_other_lists():
    target = {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}],
                       "tolerations": [{"key": "k", "operator": "Exists"}]}}
    patch = {"spec": {"containers": [{"name": "b", "image": "y:2"}, {"name": "c", "image": "z:1"}],
                      "tolerations": [{"key": "j", "operator": "Exists"}]}}
    merged = strategic_merge(target, patch)
    assert merged["spec"]["containers"] == [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"},
                                            {"name": "c", "image": "z:1"}]
    assert merged["spec"]["tolerations"] == [{"key": "j", "operator": "Exists"}]
    deleted = strategic_merge(target, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}})
    assert [c["name"] for c in deleted["spec"]["containers"]] == ["b"]


def test_json_merge_deletes_keys_set_to_null():
    assert json_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}


def test_a_patch_that_breaks_an_api_rule_is_refused_and_changes_nothing(c):
    c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    before = c.get("Service", "web")
    with pytest.raises(labkit.ManifestError):
        c.patch("Service", "web", {"spec": {"ports": [{"port": 70000}]}})
    assert c.get("Service", "web") == before

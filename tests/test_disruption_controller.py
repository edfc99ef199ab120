"""The disruption controller keeps every PodDisruptionBudget's status as upstream's does
(pkg/controller/disruption/disruption.go)."""

from __future__ import annotations

import pytest

import labkit


def deployment(replicas: int = 3, ready_after: str | None = None) -> dict:
    template: dict = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }
    if ready_after:
        template["metadata"]["annotations"] = {"labkit.io/ready-after": ready_after}
        template["spec"]["containers"][0]["readinessProbe"] = {"httpGet": {"path": "/", "port": 80}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }


def pdb(name: str = "web", **spec) -> dict:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def cluster(*docs, until: float = 60) -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("p", "ecs.g7.xlarge", 2)
    c.apply(list(docs))
    c.run(until=until)
    return c


def counts(c: labkit.Cluster, name: str = "web") -> tuple:
    st = c.get("PodDisruptionBudget", name)["status"]
    return st["currentHealthy"], st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ({"minAvailable": 2}, (3, 2, 3, 1)),  # an integer: the pods themselves are expected
        ({"minAvailable": "50%"}, (3, 2, 3, 1)),  # 50% of the Deployment's 3, rounded up
        ({"minAvailable": "100%"}, (3, 3, 3, 0)),
        ({"maxUnavailable": 1}, (3, 2, 3, 1)),
        ({"maxUnavailable": "30%"}, (3, 2, 3, 1)),  # 30% of 3 = 0.9, rounded up to 1
        ({"maxUnavailable": "100%"}, (3, 0, 3, 3)),
        ({"minAvailable": 5}, (3, 5, 3, 0)),  # never negative
    ],
)
def test_the_status_follows_upstreams_arithmetic(spec, want):
    assert counts(cluster(deployment(), pdb(**spec))) == want


def test_the_condition_says_whether_a_disruption_is_allowed():
    c = cluster(deployment(), pdb(minAvailable=2), pdb("strict", minAvailable="100%"))
    ok = c.get("PodDisruptionBudget", "web")["status"]["conditions"][0]
    tight = c.get("PodDisruptionBudget", "strict")["status"]["conditions"][0]
    assert (ok["type"], ok["status"], ok["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")
    assert (tight["status"], tight["reason"]) == ("False", "InsufficientPods")
    assert c.get("PodDisruptionBudget", "web")["status"]["observedGeneration"] == 1


def test_only_ready_pods_not_being_deleted_are_healthy():
    c = cluster(deployment(ready_after="120s"), pdb(minAvailable=1), until=30)
    assert counts(c) == (0, 1, 3, 0)
    c.run(until=200)
    assert counts(c) == (3, 1, 3, 2)
    victim = c.list("Pod")[0]["metadata"]["name"]
    c.delete("Pod", victim)
    c.run(until=c.now + 0.5)  # the pod is terminating: not healthy, and its replacement not Ready yet
    assert counts(c)[0] == 2


def test_scaling_the_deployment_changes_the_expected_pods():
    c = cluster(deployment(), pdb(maxUnavailable=1))
    c.scale("Deployment", "web", 5)
    c.run(until=c.now + 60)
    assert counts(c) == (5, 4, 5, 1)


def test_a_pdb_that_matches_nothing_says_no_pods():
    c = cluster(
        deployment(),
        {**pdb(minAvailable=1), "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "none"}}}},
    )
    assert counts(c) == (0, 1, 0, 0)
    assert [
        (e["type"], e["reason"], e["message"])
        for e in c.events(involved="web")
        if e["involvedObject"]["kind"] == "PodDisruptionBudget"
    ] == [("Normal", "NoPods", "No matching pods found")]


def test_a_percentage_over_a_bare_pod_fails_safe():
    bare = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "solo", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }
    c = cluster(bare, pdb(minAvailable="50%"))
    st = c.get("PodDisruptionBudget", "web")["status"]
    assert st["disruptionsAllowed"] == 0
    assert (st["conditions"][0]["status"], st["conditions"][0]["reason"]) == ("False", "SyncFailed")
    warning = next(e for e in c.events(involved="web") if e["reason"] == "CalculateExpectedPodCountFailed")
    assert warning["type"] == "Warning"
    assert warning["message"] == (
        'Failed to calculate the number of expected pods: found no controller ref for pod "solo"'
    )


def test_an_empty_selector_counts_every_pod_of_the_namespace():
    c = cluster(deployment(), {**pdb(), "spec": {"minAvailable": 1, "selector": {}}})
    assert counts(c) == (3, 1, 3, 2)

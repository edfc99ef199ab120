"""The ReplicaSet controller against ``kubernetes-semantics.md`` 9.10: pods from the template,
slow start, expectations, adoption and release, status, and which pods go first."""

from __future__ import annotations

from typing import Any

import pytest
from rollout_support import hollow, is_ready, make_ready

import labkit
from labkit.api.store import timestamp
from labkit.controllers.replicaset import BURST_REPLICAS, _Facts, pods_to_delete, slow_start_batch


def replicaset(name: str = "rs", replicas: int = 2, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": {"note": "x"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}, **spec}}


def rs_pods(c: labkit.Cluster, name: str = "rs") -> list[dict[str, Any]]:
    return c.list("Pod", label_selector=f"app={name}")


def test_pods_are_made_from_the_template_with_a_controller_reference_and_events():
    c = hollow()
    (rs,) = c.apply(replicaset())
    c.run()
    pods = rs_pods(c)
    assert len(pods) == 2
    for p in pods:
        assert p["metadata"]["name"].startswith("rs-") and len(p["metadata"]["name"]) == len("rs-") + 5
        assert p["metadata"]["labels"] == {"app": "rs"} and p["metadata"]["annotations"] == {"note": "x"}
        assert p["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": rs["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
    created = [e["message"] for e in c.event_log() if e["reason"] == "SuccessfulCreate"]
    assert sorted(created) == sorted(f'Created pod: {p["metadata"]["name"]}' for p in pods)
    components = {e["component"] for e in c.event_log() if e["reason"] == "SuccessfulCreate"}
    assert components == {"replicaset-controller"}


def test_slow_start_batches_double_and_stop_at_the_first_failing_batch():
    sizes: list[int] = []
    calls = iter(range(100))

    def fn() -> Exception | None:
        i = next(calls)
        sizes.append(i)
        return ValueError("quota") if i == 4 else None  # the 5th call, inside the batch of 4

    successes, error = slow_start_batch(20, 1, fn)
    assert len(sizes) == 1 + 2 + 4 and successes == 6 and str(error) == "quota"
    assert slow_start_batch(10, 1, lambda: None) == (10, None)


def test_failed_creations_give_warning_events_and_a_replica_failure_condition(monkeypatch):
    c = hollow()
    real = c.api.create
    count = [0]

    def flaky(obj, **kw):
        if obj.get("kind") == "Pod":
            count[0] += 1
            if count[0] == 2:
                raise labkit.ManifestError("metadata", None, 'pods "x" is forbidden: exceeded quota')
        return real(obj, **kw)

    monkeypatch.setattr(c.api, "create", flaky)
    failures = []
    c.api.watch("ReplicaSet", lambda ev: failures.extend(
        (x["type"], x["status"], x["reason"]) for x in ev.object.get("status", {}).get("conditions", [])))
    c.apply(replicaset(replicas=5))
    c.run()
    # First sync: batch 1 makes one pod, batch 2 one more and one failure; the batch of 4 is never
    # tried. The ReplicaFailure status write re-queues the ReplicaSet, whose next sync (1 + 2) finishes.
    assert count[0] == 3 + 3 and len(rs_pods(c)) == 5
    warn = [e for e in c.event_log() if e["reason"] == "FailedCreate"]
    assert len(warn) == 1 and warn[0]["type"] == "Warning"
    assert warn[0]["message"] == 'Error creating: metadata: pods "x" is forbidden: exceeded quota (got None)'
    assert failures[0] == ("ReplicaFailure", "True", "FailedCreate")
    assert "conditions" not in c.get("ReplicaSet", "rs")["status"]  # cleared by the next clean sync


def test_at_most_burst_replicas_pods_are_created_per_sync():
    c = hollow(nodes=1)
    created: list[float] = []
    c.api.watch("Pod", lambda ev: created.append(c.now) if ev.type == "ADDED" else None)
    syncs_before = c.replicaset_controller.syncs
    c.apply(replicaset(replicas=BURST_REPLICAS + 20))
    c.run(until=0.0001)
    assert len(created) == BURST_REPLICAS + 20
    assert c.replicaset_controller.syncs - syncs_before >= 2


def test_a_deleted_pod_is_replaced():
    c = labkit.Cluster(seed=3)
    c.add_node_pool("pool", "ecs.g7.xlarge", 2)
    c.apply(replicaset(replicas=3))
    c.run()
    victim = rs_pods(c)[0]["metadata"]["name"]
    c.delete("Pod", victim)
    c.run()
    names = [p["metadata"]["name"] for p in rs_pods(c)]
    assert len(names) == 3 and victim not in names and all(is_ready(p) for p in rs_pods(c))


def test_a_matching_orphan_is_adopted_instead_of_a_new_pod():
    c = hollow()
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "rs"}},
             "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
    (rs,) = c.apply(replicaset(replicas=1))
    c.run()
    (pod,) = rs_pods(c)
    assert pod["metadata"]["name"] == "stray"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]


def test_a_pod_whose_labels_stop_matching_is_released_and_replaced():
    c = hollow()
    c.apply(replicaset(replicas=1))
    c.run()
    (pod,) = rs_pods(c)
    c.patch("Pod", pod["metadata"]["name"], {"metadata": {"labels": {"app": "debug"}}})
    c.run()
    released = c.get("Pod", pod["metadata"]["name"])
    assert "ownerReferences" not in released["metadata"]
    assert len(rs_pods(c)) == 1 and rs_pods(c)[0]["metadata"]["name"] != pod["metadata"]["name"]


def test_status_counts_ready_and_available_after_min_ready_seconds_inclusive():
    c = hollow()
    c.apply(replicaset(replicas=2, minReadySeconds=10))
    c.run()
    c.run(until=5)
    for p in rs_pods(c):
        make_ready(c, p["metadata"]["name"])
    c.run(until=14.9)
    st = c.get("ReplicaSet", "rs")["status"]
    assert (st["replicas"], st["readyReplicas"], st.get("availableReplicas", 0)) == (2, 2, 0)
    c.run()  # the controller re-queued itself for 5 s + 10 s; lastTransitionTime + 10 <= now counts
    st = c.get("ReplicaSet", "rs")["status"]
    assert c.now == 15 and st["availableReplicas"] == 2 and st["fullyLabeledReplicas"] == 2
    assert st["observedGeneration"] == 1 and st["terminatingReplicas"] == 0


def test_a_terminating_pod_is_counted_apart_and_replaced_at_once():
    c = hollow()
    c.apply(replicaset(replicas=2))
    c.run()
    victim = rs_pods(c)[0]["metadata"]["name"]
    c.delete("Pod", victim)  # bound, no kubelet: it stays Terminating
    c.run()
    st = c.get("ReplicaSet", "rs")["status"]
    assert st["replicas"] == 2 and st["terminatingReplicas"] == 1 and len(rs_pods(c)) == 3


def test_scaling_down_deletes_with_events():
    c = hollow()
    c.apply(replicaset(replicas=3))
    c.run()
    c.scale("ReplicaSet", "rs", 1)
    c.run()
    deleted = [e["message"] for e in c.event_log() if e["reason"] == "SuccessfulDelete"]
    assert len(deleted) == 2 and all(m.startswith("Deleted pod: rs-") for m in deleted)


# -- which pods go first (ActivePodsWithRanks) ---------------------------------------------------------
NOW = 1000.0


def pod(uid: str, *, node: str | None = "n1", phase: str = "Running", ready_at: float | None = 900.0,
        cost: int | None = None, restarts: int = 0, created: float = 800.0) -> dict[str, Any]:
    conditions = [] if ready_at is None else [{"type": "Ready", "status": "True",
                                               "lastTransitionTime": timestamp(ready_at)}]
    meta: dict[str, Any] = {"name": f"p-{uid}", "namespace": "default", "uid": uid,
                            "creationTimestamp": timestamp(created)}
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": str(cost)}
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    return {"kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def first(*pods: dict[str, Any], nodes: dict[str, int] | None = None) -> str:
    facts = [_Facts(p, None) for p in pods]
    return pods_to_delete(facts, nodes or {}, 1, NOW)[0]["metadata"]["uid"]


@pytest.mark.parametrize(("doomed", "kept", "rule"), [
    (pod("a", node=None, phase="Pending", ready_at=None), pod("b"), "unscheduled first"),
    (pod("a", phase="Pending", ready_at=None), pod("b", phase="Unknown", ready_at=None),
     "Pending before Unknown"),
    (pod("a", phase="Unknown", ready_at=None), pod("b", ready_at=None), "Unknown before Running"),
    (pod("a", ready_at=None), pod("b"), "not ready first"),
    (pod("a", cost=-5), pod("b", cost=10), "lower deletion cost first"),
    (pod("a", ready_at=990), pod("b", ready_at=910), "ready for less time first"),
    (pod("a", restarts=3), pod("b", restarts=0), "more restarts first"),
    (pod("a", created=990), pod("b", created=100), "newer first"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_deletion_order_rule(doomed, kept, rule):
    assert first(kept, doomed) == doomed["metadata"]["uid"] == first(doomed, kept)


def test_deletion_order_prefers_the_pod_on_the_more_crowded_node():
    crowded, alone = pod("z", node="n1"), pod("a", node="n2")
    assert first(alone, crowded, nodes={"n1": 3, "n2": 1}) == "z"


def test_ready_times_in_the_same_log2_bucket_fall_back_to_the_lower_uid():
    # 100 s and 110 s ago: floor(log2(1e11)) == floor(log2(1.1e11)) == 36
    older, newer = pod("b", ready_at=NOW - 110), pod("a", ready_at=NOW - 100)
    assert first(newer, older) == "a"
    older, newer = pod("a", ready_at=NOW - 110), pod("b", ready_at=NOW - 100)
    assert first(newer, older) == "a"


def test_deleting_every_pod_needs_no_ranking():
    pods = [pod("b"), pod("a")]
    chosen = pods_to_delete([_Facts(p, None) for p in pods], {}, 2, NOW)
    assert [p["metadata"]["uid"] for p in chosen] == ["b", "a"]

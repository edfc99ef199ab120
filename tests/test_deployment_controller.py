"""The Deployment controller against ``kubernetes-semantics.md`` section 9 (v1.36 rules).

Most scenarios run on hollow nodes (``kubelets=False``) with the test playing the kubelet, so
every instant a pod turns Ready is chosen here and the logs below are exact.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rollout_support import (
    ScriptedKubelet,
    SizeLog,
    deployment,
    finish_terminations,
    hollow,
    is_ready,
    make_ready,
    pods,
    ready_all,
    rolling,
    scaling_events,
)

import labkit
from labkit.controllers.deployment import (
    POD_TEMPLATE_HASH,
    compute_hash,
    go_round,
    resolve_fenceposts,
    scaled_value,
)

NEW_IMAGE = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:1.28"}]}}}}


def replica_sets(c: labkit.Cluster) -> dict[str, int]:
    return {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in c.list("ReplicaSet")}


def by_revision(c: labkit.Cluster) -> list[str]:
    """ReplicaSet names, oldest revision first."""
    def revision(rs: dict) -> int:
        return int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])

    return [rs["metadata"]["name"] for rs in sorted(c.list("ReplicaSet"), key=revision)]


def progressing(c: labkit.Cluster, name: str = "web") -> tuple[str, str, str]:
    cond = next(x for x in c.get("Deployment", name)["status"]["conditions"] if x["type"] == "Progressing")
    return cond["status"], cond["reason"], cond["message"]


def rolled_out(dep: dict, kubelet_delay: float = 2.0) -> labkit.Cluster:
    c = hollow()
    ScriptedKubelet(c, ready_after=kubelet_delay)
    c.apply(dep)
    c.run()
    return c


# -- ResolveFenceposts (9.2) ---------------------------------------------------------------------
@pytest.mark.parametrize(("replicas", "expected"),
                         [(1, (1, 0)), (3, (1, 0)), (4, (1, 1)), (10, (3, 2)), (0, (0, 0))])
def test_resolve_fenceposts_rounds_surge_up_and_unavailable_down(replicas, expected):
    surge, unavailable = resolve_fenceposts("25%", "25%", replicas)
    if replicas == 0:  # MaxUnavailable is 0 for 0 replicas; ResolveFenceposts alone gives the 0/0 -> 1 rule
        assert (surge, unavailable) == (0, 1)
    else:
        assert (surge, unavailable) == expected


def test_resolve_fenceposts_turns_zero_zero_into_one_unavailable_and_keeps_integers():
    assert resolve_fenceposts("0%", "10%", 3) == (0, 1)
    assert resolve_fenceposts(2, 0, 10) == (2, 0)
    assert resolve_fenceposts("30%", 1, 10) == (3, 1)


def test_a_percentage_without_the_sign_is_an_error_as_upstream_words_it():
    with pytest.raises(ValueError, match="invalid type: string is not a percentage"):
        scaled_value("25", 10, True)


def test_go_round_rounds_half_away_from_zero():
    assert [go_round(x) for x in (0.5, 1.5, 2.5, -0.5, -2.5, 6.92, 11.07)] == [1, 2, 3, -1, -3, 7, 11]


# -- pod-template-hash and names (9.9) ------------------------------------------------------------
def test_pod_template_hash_uses_the_safe_alphabet_is_deterministic_and_blind_to_its_own_label():
    template = deployment()["spec"]["template"]
    h = compute_hash(template)
    assert set(h) <= set("456789bcdf") and 1 <= len(h) <= 10
    assert compute_hash(template) == h
    labelled = {**template, "metadata": {"labels": {"app": "web", POD_TEMPLATE_HASH: h}}}
    assert compute_hash(labelled) == h
    other = deployment(image="nginx:1.28")["spec"]["template"]
    assert compute_hash(other) != h
    assert compute_hash(template, collision_count=1) not in (h, compute_hash(template, collision_count=2))


def test_replica_set_is_named_after_the_hash_and_carries_it_in_labels_selector_and_template():
    c = hollow()
    c.apply(deployment())
    c.run()
    (rs,) = c.list("ReplicaSet")
    h = rs["metadata"]["labels"][POD_TEMPLATE_HASH]
    assert rs["metadata"]["name"] == f"web-{h}"
    assert h == compute_hash(c.get("Deployment", "web")["spec"]["template"])
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", POD_TEMPLATE_HASH: h}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", POD_TEMPLATE_HASH: h}
    d = c.get("Deployment", "web")
    assert rs["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}]
    assert rs["metadata"]["annotations"] == {"deployment.kubernetes.io/revision": "1",
                                             "deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4"}
    assert all(p["metadata"]["labels"][POD_TEMPLATE_HASH] == h for p in pods(c))


def test_deployment_annotations_are_copied_to_the_new_replica_set_but_not_the_controllers_own():
    dep = deployment()
    dep["metadata"]["annotations"] = {"team": "a", "kubectl.kubernetes.io/last-applied-configuration": "{}"}
    c = hollow()
    c.apply(dep)
    c.run()
    (rs,) = c.list("ReplicaSet")
    assert rs["metadata"]["annotations"]["team"] == "a"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in rs["metadata"]["annotations"]


def test_min_ready_seconds_is_kept_equal_on_the_new_replica_set():
    c = hollow()
    c.apply(deployment(minReadySeconds=5))
    c.run()
    c.patch("Deployment", "web", {"spec": {"minReadySeconds": 9}})
    c.run()
    (rs,) = c.list("ReplicaSet")
    assert rs["spec"]["minReadySeconds"] == 9


# -- rolling update (9.4) --------------------------------------------------------------------------
def test_worked_example_four_replicas_scale_one_step_per_sync():
    """Semantics 9.4's table: B created at 1, A down to 3, B up to 2; then nothing until B is available."""
    c = hollow()
    c.apply(deployment(replicas=4))
    c.run()
    ready_all(c)
    c.run()
    start = len(scaling_events(c))
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    old, new = by_revision(c)
    assert [m for _, m in scaling_events(c)[start:]] == [
        f"Scaled up replica set {new} from 0 to 1",
        f"Scaled down replica set {old} from 4 to 3",
        f"Scaled up replica set {new} from 1 to 2",
    ]
    assert replica_sets(c) == {old: 3, new: 2}


def test_golden_rollout_three_replicas_default_strategy():
    c = rolled_out(deployment(replicas=3))
    log = SizeLog(c)
    start = len(scaling_events(c))
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    old, new = "web-cd48dc8ff", "web-7d8fb497dd"
    assert scaling_events(c)[start:] == [
        (2.0, f"Scaled up replica set {new} from 0 to 1"),
        (4.0, f"Scaled down replica set {old} from 3 to 2"),
        (4.0, f"Scaled up replica set {new} from 1 to 2"),
        (6.0, f"Scaled down replica set {old} from 2 to 1"),
        (6.0, f"Scaled up replica set {new} from 2 to 3"),
        (8.0, f"Scaled down replica set {old} from 1 to 0"),
    ]
    assert log.rows == [  # (time, ReplicaSet, spec.replicas, status.availableReplicas)
        (2.0, new, 1, 0), (4.0, new, 1, 1), (4.0, old, 2, 3), (4.0, new, 2, 1), (4.0, old, 2, 2),
        (6.0, new, 2, 2), (6.0, old, 1, 2), (6.0, new, 3, 2), (6.0, old, 1, 1), (8.0, new, 3, 3),
        (8.0, old, 0, 1), (8.0, old, 0, 0),
    ]
    assert c.rollout_status("Deployment", "web") == 'deployment "web" successfully rolled out'


def test_golden_rollout_ten_replicas_max_surge_three_max_unavailable_zero():
    c = rolled_out(deployment(replicas=10, strategy=rolling(3, 0)))
    log = SizeLog(c)
    start = len(scaling_events(c))
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    old, new = "web-cd48dc8ff", "web-7d8fb497dd"
    assert scaling_events(c)[start:] == [
        (2.0, f"Scaled up replica set {new} from 0 to 3"),
        (4.0, f"Scaled down replica set {old} from 10 to 7"),
        (4.0, f"Scaled up replica set {new} from 3 to 6"),
        (6.0, f"Scaled down replica set {old} from 7 to 4"),
        (6.0, f"Scaled up replica set {new} from 6 to 9"),
        (8.0, f"Scaled down replica set {old} from 4 to 1"),
        (8.0, f"Scaled up replica set {new} from 9 to 10"),
        (10.0, f"Scaled down replica set {old} from 1 to 0"),
    ]
    assert log.rows == [
        (2.0, new, 3, 0), (4.0, new, 3, 3), (4.0, old, 7, 10), (4.0, new, 6, 3), (4.0, old, 7, 7),
        (6.0, new, 6, 6), (6.0, old, 4, 7), (6.0, new, 9, 6), (6.0, old, 4, 4), (8.0, new, 9, 9),
        (8.0, old, 1, 4), (8.0, new, 10, 9), (8.0, old, 1, 1), (10.0, new, 10, 10), (10.0, old, 0, 1),
        (10.0, old, 0, 0),
    ]


def test_golden_recreate_waits_for_the_old_pods_to_be_gone():
    c = rolled_out(deployment(replicas=3, strategy={"type": "Recreate"}))
    log = SizeLog(c)
    start = len(scaling_events(c))
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    old, new = "web-cd48dc8ff", "web-7d8fb497dd"
    # The old pods terminate for 1 s (the scripted kubelet); only then is the new ReplicaSet created.
    assert scaling_events(c)[start:] == [(2.0, f"Scaled down replica set {old} from 3 to 0"),
                                         (3.0, f"Scaled up replica set {new} from 0 to 3")]
    assert log.rows == [(2.0, old, 0, 3), (2.0, old, 0, 0), (3.0, new, 3, 0), (5.0, new, 3, 3)]


def test_recreate_does_not_create_the_new_replica_set_while_an_old_pod_is_terminating():
    c = hollow()
    c.apply(deployment(replicas=2, strategy={"type": "Recreate"}))
    c.run()
    ready_all(c)
    c.run()
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    assert list(replica_sets(c).values()) == [0]
    assert all(p["metadata"].get("deletionTimestamp") for p in pods(c))
    finish_terminations(c)
    c.run()
    assert sorted(replica_sets(c).values()) == [0, 2]


# -- proportional scaling (9.6) ---------------------------------------------------------------------
def test_proportional_scaling_docs_example_ten_to_fifteen_mid_rollout_adds_three_and_two():
    c = hollow()
    c.apply(deployment(replicas=10, strategy=rolling(3, 2)))
    c.run()
    ready_all(c)
    c.run()
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()  # new pods never become ready: the rollout stops at old 8, new 5 (max-replicas 13)
    old, new = by_revision(c)
    assert replica_sets(c) == {old: 8, new: 5}
    assert c.get("ReplicaSet", new)["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] \
        == "13"
    start = len(scaling_events(c))
    c.scale("Deployment", "web", 15)
    c.run()
    assert [m for _, m in scaling_events(c)[start:]] == [f"Scaled up replica set {old} from 8 to 11",
                                                         f"Scaled up replica set {new} from 5 to 7"]
    assert all(rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "18"
               for rs in c.list("ReplicaSet"))


# -- paused, history limit (9.3, 9.8) -------------------------------------------------------------
def test_a_paused_deployment_only_scales_and_says_so_in_its_condition():
    c = rolled_out(deployment(replicas=2))
    c.patch("Deployment", "web", {"spec": {"paused": True}})
    c.run()
    assert progressing(c) == ("Unknown", "DeploymentPaused", "Deployment is paused")
    c.patch("Deployment", "web", NEW_IMAGE)
    c.scale("Deployment", "web", 4)
    c.run()
    assert list(replica_sets(c).values()) == [4]  # scaled, but no new ReplicaSet
    seen = []
    c.api.watch("Deployment", lambda ev: seen.extend(
        (x["reason"], x["message"]) for x in ev.object["status"].get("conditions", [])
        if x["type"] == "Progressing"))
    c.patch("Deployment", "web", {"spec": {"paused": False}})
    c.run()
    assert ("DeploymentResumed", "Deployment is resumed") in seen
    assert sorted(replica_sets(c).values()) == [0, 4]


def test_revision_history_limit_deletes_the_oldest_empty_replica_sets():
    c = rolled_out(deployment(replicas=2, revisionHistoryLimit=1))
    for tag in ("1.28", "1.29", "1.30"):
        c.patch("Deployment", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": f"nginx:{tag}"}]}}}})
        c.run()
    revisions = sorted(int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                       for rs in c.list("ReplicaSet"))
    assert revisions == [3, 4]


# -- conditions and messages (9.7) ------------------------------------------------------------------
def test_conditions_of_a_finished_rollout_are_available_then_progressing_with_upstream_texts():
    c = rolled_out(deployment())
    (rs,) = c.list("ReplicaSet")
    conds = [(x["type"], x["status"], x["reason"], x["message"])
             for x in c.get("Deployment", "web")["status"]["conditions"]]
    assert conds == [
        ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."),
        ("Progressing", "True", "NewReplicaSetAvailable",
         f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'),
    ]


def test_progressing_reasons_over_a_rollout_follow_upstream_wording():
    c = hollow()
    seen: list[tuple[str, str, str]] = []

    def record(ev):
        for x in ev.object.get("status", {}).get("conditions", []):
            item = (x["type"], x["reason"], x["message"])
            if x["type"] == "Progressing" and (not seen or seen[-1] != item):
                seen.append(item)

    c.api.watch("Deployment", record)
    ScriptedKubelet(c, ready_after=2.0)
    c.apply(deployment(replicas=2))
    c.run()
    (rs,) = c.list("ReplicaSet")
    name = rs["metadata"]["name"]
    assert seen == [
        ("Progressing", "NewReplicaSetCreated", f'Created new replica set "{name}"'),
        ("Progressing", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'),
        ("Progressing", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.'),
    ]
    available = [x for x in c.get("Deployment", "web")["status"]["conditions"] if x["type"] == "Available"]
    assert available[0]["status"] == "True"


def test_minimum_unavailable_condition_while_no_pod_is_ready():
    c = hollow()
    c.apply(deployment(replicas=2))
    c.run()
    cond = next(x for x in c.get("Deployment", "web")["status"]["conditions"] if x["type"] == "Available")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")


def test_progress_deadline_exceeded_is_noticed_without_other_events():
    c = hollow()
    c.apply(deployment(replicas=1, progressDeadlineSeconds=30))
    assert c.run() < 1  # the deadline check alone does not keep the cluster running
    (rs,) = c.list("ReplicaSet")
    c.run(until=30.5)
    assert progressing(c)[:2] == ("True", "ReplicaSetUpdated")
    c.run(until=40)
    assert progressing(c) == ("False", "ProgressDeadlineExceeded",
                              f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.')


def test_found_new_replica_set_when_a_deadline_is_set_on_a_deployment_without_progressing_condition():
    c = hollow()
    seen = []
    c.api.watch("Deployment", lambda ev: seen.extend(
        (x["reason"], x["message"]) for x in ev.object.get("status", {}).get("conditions", [])
        if x["type"] == "Progressing"))
    c.apply(deployment(replicas=1, progressDeadlineSeconds=2147483647))
    c.run()
    assert "conditions" in c.get("Deployment", "web")["status"] and seen == []
    (rs,) = c.list("ReplicaSet")
    c.patch("Deployment", "web", {"spec": {"progressDeadlineSeconds": 600}})
    c.run()
    assert ("FoundNewReplicaSet", f'Found new replica set "{rs["metadata"]["name"]}"') in seen


def test_set_condition_with_the_same_status_and_reason_keeps_the_old_entry_and_its_times():
    c = rolled_out(deployment(replicas=1))
    before = c.get("Deployment", "web")["status"]["conditions"]
    c.run(until=c.now + 50)
    c.scale("Deployment", "web", 1)  # no-op write path: nothing changes
    c.patch("Deployment", "web", {"metadata": {"labels": {"touched": "yes"}}})
    c.run()
    assert c.get("Deployment", "web")["status"]["conditions"] == before


# -- invariants (hypothesis) ------------------------------------------------------------------------
fencepost = st.one_of(st.integers(0, 3), st.sampled_from(["0%", "10%", "25%", "50%", "100%"]))


@settings(deadline=None, max_examples=25)
@given(replicas=st.integers(1, 10), surge=fencepost, unavailable=fencepost,
       delays=st.lists(st.floats(0.5, 8.0), min_size=1, max_size=6), seed=st.integers(0, 3))
def test_rolling_update_keeps_pods_and_availability_within_bounds_and_completes(replicas, surge, unavailable,
                                                                               delays, seed):
    if resolve_fenceposts(surge, unavailable, replicas) == (0, 1) and surge in (0, "0%") and \
            unavailable in (0, "0%"):
        return  # both 0: refused by validation upstream
    max_surge, max_unavailable = resolve_fenceposts(surge, unavailable, replicas)
    max_unavailable = min(max_unavailable, replicas)
    c = hollow(nodes=2, seed=seed)
    counter = iter(range(10**6))
    ScriptedKubelet(c, ready_after=lambda _p: delays[next(counter) % len(delays)], stop_after=0.7)
    c.apply(deployment(replicas=replicas, strategy=rolling(surge, unavailable)))
    c.run()
    assert c.rollout_status("Deployment", "web") == 'deployment "web" successfully rolled out'
    c.patch("Deployment", "web", NEW_IMAGE)
    env = c.env
    while env.work > 0:
        env.step()
        live = [p for p in c.api.items("Pod", "default") if not p["metadata"].get("deletionTimestamp")]
        assert len(live) <= replicas + max_surge
        assert sum(1 for p in live if is_ready(p)) >= replicas - max_unavailable
    assert c.rollout_status("Deployment", "web") == 'deployment "web" successfully rolled out'
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.28" for p in pods(c))


def test_same_seed_gives_the_same_event_log_with_kubelets():
    def run() -> list[tuple]:
        c = labkit.Cluster(seed=7)
        c.add_node_pool("pool", "ecs.g7.xlarge", 3)
        c.apply(deployment(replicas=4))
        c.run()
        c.patch("Deployment", "web", NEW_IMAGE)
        c.run()
        return [(e["time"], e["object"], e["reason"], e["message"]) for e in c.event_log()]

    first = run()
    assert any(r == "ScalingReplicaSet" for _, _, r, _ in first)
    assert run() == first


def test_patching_the_image_with_kubelets_rolls_every_pod():
    c = labkit.Cluster(seed=1)
    c.add_node_pool("pool", "ecs.g7.xlarge", 3)
    c.apply(deployment(replicas=3))
    c.run()
    old = {p["metadata"]["name"] for p in pods(c)}
    c.patch("Deployment", "web", NEW_IMAGE)
    c.run()
    now = pods(c)
    assert len(now) == 3 and not old & {p["metadata"]["name"] for p in now}
    assert all(is_ready(p) and p["spec"]["containers"][0]["image"] == "nginx:1.28" for p in now)
    assert c.get("Deployment", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"


def test_make_ready_helper_sets_the_ready_time_the_controller_reads():
    c = hollow()
    c.apply(deployment(replicas=1))
    c.run()
    c.run(until=4.2)
    (p,) = pods(c)
    make_ready(c, p["metadata"]["name"])
    conditions = c.get("Pod", p["metadata"]["name"])["status"]["conditions"]
    cond = next(x for x in conditions if x["type"] == "Ready")
    assert cond["lastTransitionTime"] == "2026-01-01T00:00:04Z"


def test_a_spec_the_controller_cannot_use_is_retried_then_dropped_without_crashing_the_run():
    c = hollow()
    c.apply(deployment(replicas=2))
    # A stored object the API would refuse today (as if written before its validation existed):
    # the controller's handleErr retries it with back-off and drops it after maxRetries.
    c.store.get("Deployment", "web", "default")["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = "25"
    c.deployment_controller.queue.add(("default", "web"))
    c.run()
    # 15 retries, 5 ms doubling each time: 5 ms x (2^15 - 1) later the key is dropped and run() returns.
    assert c.list("ReplicaSet") == [] and c.now == pytest.approx(0.005 * (2**15 - 1))


def test_background_delete_of_a_deployment_leaves_no_replica_set_or_pod():
    c = rolled_out(deployment(replicas=2))
    c.delete("Deployment", "web")
    c.run()
    assert c.list("ReplicaSet") == [] and pods(c) == []


def test_orphaned_replica_set_is_adopted_by_a_new_deployment_with_the_same_template():
    c = rolled_out(deployment(replicas=2))
    (rs,) = c.list("ReplicaSet")
    c.delete("Deployment", "web", propagation_policy="Orphan")
    c.run()
    assert "ownerReferences" not in c.get("ReplicaSet", rs["metadata"]["name"])["metadata"]
    before = {p["metadata"]["name"] for p in pods(c)}
    (d,) = c.apply(deployment(replicas=2))
    c.run()
    (again,) = c.list("ReplicaSet")
    assert again["metadata"]["name"] == rs["metadata"]["name"]
    assert again["metadata"]["ownerReferences"][0]["uid"] == d["metadata"]["uid"]
    assert {p["metadata"]["name"] for p in pods(c)} == before


def test_a_stuck_scale_up_past_the_progress_deadline_is_rechecked_at_the_bucket_rate_not_every_5_ms():
    """requeueStuckDeployment re-queues rate-limited after every clean sync once the deadline has
    passed; DefaultControllerRateLimiter's token bucket (10/s, burst 100) bounds that loop."""
    import labkit

    c = labkit.Cluster(seed=0)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=1)
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 1, "progressDeadlineSeconds": 10,
                      "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                          {"name": "c", "image": "nginx:1.27", "resources": {"requests": {"cpu": "1"}}}]}}}})
    c.run()
    c.run(until=c.now + 30)  # the deadline of the complete rollout has long passed
    c.scale("Deployment", "web", 10)  # most of the new pods cannot be scheduled
    before = c.deployment_controller.syncs
    c.run(until=c.now + 60)
    assert c.deployment_controller.syncs - before <= 100 + 10 * 60 + 10

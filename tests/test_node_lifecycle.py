"""Node heartbeats and the node lifecycle controller (semantics section 11.1-11.3, 11.5).

Each scenario fails a node right after a heartbeat (``c.run(until=10.001)``: the Lease was
renewed at 10 s) and records when the API shows what.
"""

from __future__ import annotations

import pytest

import labkit
from labkit.api.store import timestamp
from labkit.controllers.nodelifecycle import compute_zone_state

ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]
UNREACHABLE = "node.kubernetes.io/unreachable"


def pod(name: str, node: str | None = None, **spec) -> dict:
    spec = {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def cluster(nodes: int = 3, zones: list[str] | None = None, **kwargs) -> labkit.Cluster:
    c = labkit.Cluster(seed=0, **kwargs)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", nodes, zones=zones or ZONES)
    return c


def node_names(c: labkit.Cluster) -> list[str]:
    return [n["metadata"]["name"] for n in c.list("Node")]


def watch_ready(c: labkit.Cluster, name: str) -> list[tuple[float, str]]:
    """(time, status) of every change of the node's Ready condition."""
    log: list[tuple[float, str]] = []

    def on_node(ev) -> None:
        if ev.object["metadata"]["name"] != name or ev.old is None:
            return
        new = {c["type"]: c["status"] for c in ev.object["status"]["conditions"]}["Ready"]
        old = {c["type"]: c["status"] for c in ev.old["status"]["conditions"]}["Ready"]
        if new != old:
            log.append((c.now, new))
    c.api.watch("Node", on_node)
    return log


def test_failed_node_turns_unknown_between_50_and_55_s_after_its_last_heartbeat():
    c = cluster()
    name = node_names(c)[0]
    log = watch_ready(c, name)
    c.run(until=10.001)
    assert c.get("Lease", name, "kube-node-lease")["spec"]["renewTime"] == timestamp(10, micro=True)
    c.fail_node(name)
    c.run(until=120)
    assert len(log) == 1 and log[0][1] == "Unknown"
    assert 50 < log[0][0] - 10 <= 55
    assert 50 < log[0][0] - 10.001 <= 55


def test_timed_out_conditions_are_unknown_with_upstream_reason_and_message():
    c = cluster()
    name = node_names(c)[0]
    before = {x["type"]: x for x in c.get("Node", name, None)["status"]["conditions"]}
    c.run(until=10.001)
    c.fail_node(name)
    c.run(until=70)
    conds = c.get("Node", name, None)["status"]["conditions"]
    assert [x["type"] for x in conds] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    for x in conds:
        assert x == {"lastHeartbeatTime": before[x["type"]]["lastHeartbeatTime"],
                     "lastTransitionTime": "2026-01-01T00:01:05Z",
                     "message": "Kubelet stopped posting node status.",
                     "reason": "NodeStatusUnknown", "status": "Unknown", "type": x["type"]}


def test_failed_node_gets_unreachable_noschedule_then_noexecute_one_period_later():
    c = cluster()
    name = node_names(c)[0]
    c.run(until=10.001)
    c.fail_node(name)
    c.run(until=100)
    assert c.get("Node", name, None)["spec"]["taints"] == [
        {"effect": "NoSchedule", "key": UNREACHABLE, "timeAdded": "2026-01-01T00:01:05Z"},
        {"effect": "NoExecute", "key": UNREACHABLE, "timeAdded": "2026-01-01T00:01:10Z"},
    ]


def test_pods_of_a_failed_node_are_marked_not_ready_with_events():
    c = cluster()
    name = node_names(c)[0]
    c.apply(pod("web", name))
    c.run(until=10.001)
    ready_before = next(x for x in c.get("Pod", "web")["status"]["conditions"] if x["type"] == "Ready")
    c.fail_node(name)
    c.run(until=66)
    conds = {x["type"]: x for x in c.get("Pod", "web")["status"]["conditions"]}
    assert conds["Ready"] == {**ready_before, "status": "False", "lastTransitionTime": "2026-01-01T00:01:05Z"}
    assert conds["ContainersReady"]["status"] == "True"  # only Ready is touched
    seen = [(e["type"], e["reason"], e["message"], e["involvedObject"]["kind"], e["source"]["component"])
            for e in c.events() if e["reason"] == "NodeNotReady"]
    assert seen == [
        ("Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady", "Node", "node-controller"),
        ("Warning", "NodeNotReady", "Node is not ready", "Pod", "node-controller")]


def test_new_nodes_get_registered_node_events():
    c = cluster()
    c.run()
    events = [e for e in c.events() if e["reason"] == "RegisteredNode"]
    assert [e["message"] for e in events] == [f"Registered Node {n} in Controller" for n in node_names(c)]
    node = c.list("Node")[0]
    meta = node["metadata"]
    assert events[0]["involvedObject"] == {"apiVersion": "v1", "kind": "Node", "name": meta["name"],
                                           "namespace": "", "uid": meta["uid"], "resourceVersion": ""}
    assert events[0]["type"] == "Normal" and events[0]["source"] == {"component": "node-controller"}


def test_every_node_renews_its_lease_every_10_s():
    c = cluster(kubelets=False)
    c.run(until=25.001)
    node = c.list("Node")[0]
    name = node["metadata"]["name"]
    lease = c.get("Lease", name, "kube-node-lease")
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": name,
                                                     "uid": node["metadata"]["uid"]}]
    assert lease["spec"] == {"holderIdentity": name, "leaseDurationSeconds": 40,
                             "renewTime": "2026-01-01T00:00:20.000000Z"}
    assert "generation" not in lease["metadata"]


def test_node_status_is_reposted_every_5_minutes_without_changes():
    c = cluster(nodes=1, zones=ZONES[:1])
    name = node_names(c)[0]
    c.run(until=299)
    ready = next(x for x in c.get("Node", name, None)["status"]["conditions"] if x["type"] == "Ready")
    assert ready["lastHeartbeatTime"] == "1970-01-01T00:00:00Z"  # as registered
    c.run(until=301)
    ready = next(x for x in c.get("Node", name, None)["status"]["conditions"] if x["type"] == "Ready")
    assert ready["lastHeartbeatTime"] == "2026-01-01T00:05:00Z"
    assert ready["lastTransitionTime"] == "1970-01-01T00:00:00Z"


def test_run_settles_at_once_when_only_heartbeats_remain():
    c = cluster()
    assert c.run() == 0.0
    assert c.run() == 0.0
    c.run(until=1000)
    assert c.run() == 1000.0


def test_run_after_fail_node_goes_on_until_the_eviction():
    """The Lease expiry and the controller's running grace period hold c.run(): it returns after the
    eviction at NoExecute taint + 300 s, with the pod terminating on the dead node."""
    c = cluster()
    name = node_names(c)[0]
    c.apply(pod("web", name))
    c.run(until=10.001)
    c.fail_node(name)
    assert c.run() == 370.0  # Unknown at 65, NoExecute at 70, deletion at 370
    p = c.get("Pod", "web")
    assert p["metadata"]["deletionTimestamp"] == timestamp(370 + 30)
    assert p["status"]["phase"] == "Running"  # no kubelet reports on the dead node


def test_recovery_removes_taints_and_the_kubelet_removes_terminating_pods():
    c = cluster()
    name = node_names(c)[0]
    c.apply(pod("web", name))
    c.run(until=10.001)
    c.fail_node(name)
    c.run(until=400)
    assert c.get("Pod", "web")["metadata"]["deletionTimestamp"]
    c.recover_node(name)
    c.run()
    node = c.get("Node", name, None)
    assert "taints" not in node["spec"]
    assert {x["type"]: (x["status"], x["reason"]) for x in node["status"]["conditions"]} == {
        "MemoryPressure": ("False", "KubeletHasSufficientMemory"),
        "DiskPressure": ("False", "KubeletHasNoDiskPressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID"), "Ready": ("True", "KubeletReady")}
    assert c.list("Pod") == []
    kubelet = [(e["reason"], e["message"], e["involvedObject"]["uid"], e["source"])
               for e in c.events(involved=f"Node/{name}") if e["source"]["component"] == "kubelet"]
    assert kubelet == [(r, f"Node {name} status is now: {r}", name, {"component": "kubelet", "host": name})
                       for r in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID",
                                 "NodeReady")]


def test_fail_and_recover_an_unknown_node_raise_not_found():
    c = cluster()
    with pytest.raises(KeyError, match='nodes "nope" not found'):
        c.fail_node("nope")
    with pytest.raises(KeyError, match='nodes "nope" not found'):
        c.recover_node("nope")


def test_noexecute_taints_in_one_zone_are_rate_limited_to_one_per_10_s():
    c = cluster(nodes=6, zones=ZONES[:1])
    a, b = node_names(c)[:2]
    c.run(until=10.001)
    c.fail_node(a)
    c.fail_node(b)
    c.run(until=120)
    added = [t["timeAdded"] for n in (a, b) for t in c.get("Node", n, None)["spec"]["taints"]
             if t["effect"] == "NoExecute"]
    assert added == ["2026-01-01T00:01:10Z", "2026-01-01T00:01:20Z"]


def test_partially_disrupted_small_zone_gets_no_noexecute_taints():
    c = cluster(nodes=5, zones=ZONES[:1])
    names = node_names(c)
    c.run(until=10.001)
    for n in names[:3]:
        c.fail_node(n)
    c.run(until=120)
    assert list(c.node_lifecycle_controller.zone_states().values()) == ["PartialDisruption"]
    for n in names[:3]:
        assert [t["effect"] for t in c.get("Node", n, None)["spec"]["taints"]] == ["NoSchedule"]


def test_when_every_zone_is_down_no_noexecute_taint_is_added():
    c = cluster(nodes=1, zones=ZONES[:1])
    name = node_names(c)[0]
    c.apply(pod("web", name))
    c.run(until=10.001)
    c.fail_node(name)
    c.run(until=1000)
    assert [t["key"] + ":" + t["effect"] for t in c.get("Node", name, None)["spec"]["taints"]] == [
        UNREACHABLE + ":NoSchedule"]
    assert "deletionTimestamp" not in c.get("Pod", "web")["metadata"]


@pytest.mark.parametrize(("statuses", "state"), [
    (["True", "True"], "Normal"), (["Unknown"], "FullDisruption"), ([None, "False"], "FullDisruption"),
    (["True", "Unknown", "Unknown"], "Normal"),  # not more than 2 unhealthy
    (["True", "True", "Unknown", "Unknown", "False"], "PartialDisruption"),  # 3 of 5 = 60% >= 55%
    (["True"] * 3 + ["Unknown"] * 3, "Normal"),  # 50% < 55%
])
def test_zone_state_follows_compute_zone_state(statuses, state):
    assert compute_zone_state(statuses) == state


def test_deployment_pods_of_a_failed_node_are_replaced_elsewhere():
    c = cluster()
    c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}})
    c.run(until=10.001)
    name = c.list("Pod")[0]["spec"]["nodeName"]
    doomed = {p["metadata"]["name"] for p in c.list("Pod") if p["spec"]["nodeName"] == name}
    c.fail_node(name)
    c.run(until=400)
    live = [p for p in c.list("Pod") if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 3 and all(p["spec"]["nodeName"] != name for p in live)
    assert {p["metadata"]["name"] for p in c.list("Pod") if p["metadata"].get("deletionTimestamp")} == doomed


def test_bare_pods_of_a_failed_node_are_not_replaced():
    c = cluster()
    name = node_names(c)[0]
    c.apply(pod("web", name))
    c.run(until=10.001)
    c.fail_node(name)
    c.run(until=400)
    assert [p["metadata"]["name"] for p in c.list("Pod")] == ["web"]


def test_same_seed_same_node_failure_events():
    def scenario() -> list[dict]:
        c = cluster()
        name = node_names(c)[0]
        c.apply(pod("web", name))
        c.run(until=10.001)
        c.fail_node(name)
        c.run(until=400)
        c.recover_node(name)
        c.run()
        return c.event_log()
    assert scenario() == scenario()

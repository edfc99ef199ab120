"""kube-proxy: per-node programming delay, endpoint choice by mode, affinity and traffic policies."""

from __future__ import annotations

import pytest

import labkit
from labkit.network.proxy import IPVS_DEPRECATION_MESSAGE
from tests.network_support import web_cluster, web_yaml


def _pod_on_other_node(c, client_node):
    return next(p["metadata"]["name"] for p in c.list("Pod", label_selector="app=web")
                if p["spec"]["nodeName"] != client_node)


def test_every_node_programs_an_endpoint_change_within_the_propagation_bounds():
    c = web_cluster(endpoint_propagation=(0.5, 2.0))
    victim = c.list("Pod", label_selector="app=web")[0]["metadata"]["name"]
    t0 = c.now
    c.delete("Pod", victim)
    c.run(until=t0 + 0.01)
    history = c.kube_proxy.versions[("default", "web", "")]
    latest = history[-1]
    assert latest.created == pytest.approx(t0, abs=0.01)
    delays = [at - latest.created for at in latest.applied.values()]
    assert len(delays) == 3 and all(0.5 <= d <= 2.0 for d in delays)
    # right after the change every node still uses the deleted pod's endpoint
    view = c.proxy_view(service="web")
    assert set(view[view["pod"] == victim]["node"]) == set(c.kube_proxy.nodes)


def test_a_deleted_pod_gets_new_requests_only_until_its_removal_reaches_the_clients_node():
    c = web_cluster(client=True)
    client_node = c.get("Pod", "client")["spec"]["nodeName"]
    victim = _pod_on_other_node(c, client_node)
    t = c.traffic("web:80", rate=400, duration=30, from_pod="client")
    c.run(until=c.now + 10)
    deleted_at = c.now
    c.delete("Pod", victim)
    c.run()
    removal = next(v for v in c.kube_proxy.versions[("default", "web", "")]
                   if v.created >= deleted_at and all(e.pod != victim or not e.ready for e in v.endpoints))
    programmed = removal.applied[client_node]
    df = t.frame()
    to_victim = df[(df["pod"] == victim) & (df["sent_s"] >= deleted_at)]
    assert len(to_victim) > 0, "the client node's stale rules still send to the pod for a moment"
    assert to_victim["sent_s"].max() < programmed
    assert not ((df["pod"] == victim) & (df["sent_s"] >= programmed)).any()
    assert set(to_victim["status"]) == {"refused"}  # SIGTERM closed the listener (no preStop)


def test_rolling_update_without_prestop_drops_requests_and_with_a_longer_prestop_sleep_none():
    """SIGTERM reaches the container at once, before the endpoint's removal reaches every node's
    kube-proxy (0.5-2 s): connections to the closed listener are refused. A preStop sleep longer
    than that keeps the pod serving until every node has stopped sending to it."""
    results = {}
    for pre_stop in (None, 5):
        c = web_cluster(pre_stop=pre_stop)
        t = c.traffic("web:80", rate=200, duration=90)
        c.run(until=c.now + 20)
        c.rollout_restart("Deployment", "web")
        c.run()
        results[pre_stop] = t.summary()
    without = results[None]
    assert without["refused"] > 0 and without["ok"] + without["failed"] == without["sent"]
    assert results[5]["failed"] == 0 and results[5]["ok"] == results[5]["sent"]


def test_ipvs_mode_records_the_upstream_deprecation_warning_per_node():
    c = web_cluster(proxy_mode="ipvs")
    warnings = [e for e in c.events() if e["reason"] == "IPVSDeprecation"]
    assert len(warnings) == 3
    assert {e["type"] for e in warnings} == {"Warning"} and {e["message"] for e in warnings} == {
        IPVS_DEPRECATION_MESSAGE}
    assert {e["involvedObject"]["kind"] for e in warnings} == {"Node"}


def test_ipvs_rr_from_one_node_cycles_through_the_endpoints_in_order():
    c = web_cluster(proxy_mode="ipvs", ipvs_scheduler="rr", client=True)
    t = c.traffic("web:80", rate=50, duration=2, from_pod="client", arrivals="constant")
    c.run()
    pods = list(t.frame()["pod"])
    order = pods[:3]
    assert len(set(order)) == 3
    assert pods == [order[i % 3] for i in range(len(pods))]


def test_ipvs_lc_sends_fewer_requests_to_a_slow_pod_than_rr():
    shares = {}
    for scheduler in ("rr", "lc"):
        c = web_cluster(proxy_mode="ipvs", ipvs_scheduler=scheduler, concurrency=1)
        c.apply(_slow_pod())
        c.run()
        t = c.traffic("web:80", rate=90, duration=60)
        c.run()
        by_pod = t.by_pod().set_index("pod")
        shares[scheduler] = by_pod.loc["slow", "share"]
    assert shares["rr"] == pytest.approx(0.25, abs=0.02)
    assert shares["lc"] < shares["rr"] - 0.05


def _slow_pod() -> str:
    return """
apiVersion: v1
kind: Pod
metadata: {name: slow, labels: {app: web}, annotations: {labkit.io/service-time: "exponential 80ms"}}
spec:
  containers: [{name: nginx, image: "nginx:1.27", ports: [{containerPort: 80, name: http}]}]
"""


def test_ipvs_sh_sends_each_client_to_one_pod():
    c = web_cluster(proxy_mode="ipvs", ipvs_scheduler="sh")
    t = c.traffic("web:80", rate=300, duration=10, clients=40)
    c.run()
    df = t.frame()
    assert (df.groupby("client")["pod"].nunique() == 1).all()
    assert df["pod"].nunique() == 3


def test_client_ip_session_affinity_pins_a_client_until_the_timeout():
    extra = "\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 10}}"
    c = web_cluster(client=True, extra_service=extra)
    t = c.traffic("web:80", rate=100, duration=20, from_pod="client")
    c.run()
    assert t.frame()["pod"].nunique() == 1
    # connections more than 10 s apart: the recent-list entry has expired, each picks afresh
    sparse = c.traffic("web:80", rate=1 / 15, duration=600, from_pod="client", arrivals="constant")
    c.run()
    assert sparse.frame()["pod"].nunique() > 1


def test_internal_traffic_policy_local_uses_only_the_client_nodes_endpoints():
    c = web_cluster(client=True, replicas=2, extra_service="\n  internalTrafficPolicy: Local")
    client_node = c.get("Pod", "client")["spec"]["nodeName"]
    local = [p["metadata"]["name"] for p in c.list("Pod", label_selector="app=web")
             if p["spec"]["nodeName"] == client_node]
    t = c.traffic("web:80", rate=100, duration=10, from_pod="client")
    c.run()
    df = t.frame()
    if local:
        assert set(df["pod"]) <= set(local) and set(df["status"]) == {"ok"}
    else:  # no local endpoint: kube-proxy drops the packets, the client times out
        assert set(df["status"]) == {"timeout"}


def test_a_failed_nodes_pods_time_out_until_the_node_lifecycle_controller_marks_them_not_ready():
    c = web_cluster()
    node = c.list("Pod", label_selector="app=web")[0]["spec"]["nodeName"]
    t = c.traffic("web:80", rate=100, duration=120)
    c.run(until=c.now + 10)
    failed_at = c.now
    c.fail_node(node)
    c.run(until=failed_at + 120)
    df = t.frame()
    lost = df[(df["node"] == node) & (df["sent_s"] >= failed_at)]
    assert set(lost["status"]) == {"timeout"}
    # ~50 s of grace, then NotReady pods leave the ready endpoints, then kube-proxy programs it
    assert 40 < lost["sent_s"].max() - failed_at < 60
    later = df[(df["sent_s"] > failed_at + 60)]
    assert set(later["status"]) <= {"ok", "in_flight"}
    # the stand-in client pods of the failed node send from the live nodes instead
    assert not (df[df["sent_s"] >= failed_at]["entry_node"] == node).any()


def test_a_hung_application_answers_nothing_and_the_client_times_out():
    c = web_cluster(replicas=1, extra_annotations=', labkit.io/fail-after: "30s"')
    t = c.traffic("web:80", rate=20, duration=60, timeout=2.0)
    c.run(until=c.now + 50)
    df = t.frame()
    started = c.get("Pod", c.list("Pod", label_selector="app=web")[0]["metadata"]["name"])
    assert started
    assert "timeout" in set(df["status"])
    assert (df[df["status"] == "timeout"]["latency_s"] == 2.0).all()


def test_requests_in_progress_are_reset_when_the_process_exits():
    c = web_cluster(replicas=1, service_time="constant 3s", concurrency=8,
                    extra_annotations=', labkit.io/sigterm-exit-after: "1s"')
    t = c.traffic("web:80", rate=2, duration=20)
    c.run(until=c.now + 10)
    c.delete("Pod", c.list("Pod", label_selector="app=web")[0]["metadata"]["name"])
    c.run()
    s = t.summary()
    assert s["reset"] > 0 and s["sent"] == s["ok"] + s["failed"] + s["in_flight"]


@pytest.mark.parametrize("target, message", [
    ("web", "write host:port"),
    ("web:http", "the port after ':'"),
    ("nosuch:80", "NXDOMAIN"),
    ("172.21.15.250:80", "no Service IP"),
])
def test_a_bad_traffic_target_is_refused_with_what_to_write(target, message):
    c = web_cluster(replicas=1)
    with pytest.raises((ValueError, labkit.DNSError), match=message):
        c.traffic(target, rate=10, duration=10)


def test_traffic_to_a_service_port_it_lacks_says_so():
    c = web_cluster(replicas=1)
    with pytest.raises(ValueError, match="has no port 8080"):
        c.traffic("web:8080", rate=10, duration=10)


@pytest.mark.parametrize("kw, message", [
    ({"rate": -1}, "requests per second"),
    ({"duration": 0}, "duration"),
    ({"arrivals": "bursty"}, "poisson"),
    ({"mode": "streams"}, "mode"),
    ({"timeout": 0}, "timeout"),
])
def test_bad_traffic_parameters_are_refused(kw, message):
    c = web_cluster(replicas=1)
    args = {"rate": 10, "duration": 10, **kw}
    with pytest.raises(ValueError, match=message):
        c.traffic("web:80", **args)


def test_an_unknown_proxy_mode_is_refused_at_cluster_creation():
    with pytest.raises(ValueError, match="iptables, nftables, ipvs"):
        labkit.Cluster(proxy_mode="userspace")
    with pytest.raises(ValueError, match="not modelled"):
        labkit.Cluster(proxy_mode="ipvs", ipvs_scheduler="mh")


def test_service_time_and_concurrency_annotations_are_checked_at_apply_time():
    c = labkit.Cluster()
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(web_yaml(service_time="gaussian 20ms"))
    assert e.value.path == "spec.template.metadata.annotations[labkit.io/service-time]"
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(web_yaml(concurrency=0))
    assert "labkit.io/concurrency" in e.value.path
    assert c.list("Deployment") == []


def test_proxy_view_and_endpoints_are_readable_tables():
    c = web_cluster()
    view = c.proxy_view(service="web")
    assert list(view.columns) == ["node", "service", "port", "cluster_ip", "endpoint", "pod", "ready",
                                  "serving", "terminating", "used", "programmed_s"]
    assert len(view) == 9 and view["used"].all() and not view.isna().any().any()
    eps = c.endpoints("web")
    assert list(eps.columns) == ["slice", "pod", "address", "node", "zone", "ready", "serving", "terminating",
                                 "ports"]
    assert len(eps) == 3 and eps["ready"].all() and set(eps["ports"]) == {"80/TCP"}
    with pytest.raises(KeyError):
        c.endpoints("nosuch")


def test_a_recovered_nodes_pods_are_ready_again_and_back_in_the_endpoints():
    c = web_cluster()
    node = c.list("Pod", label_selector="app=web")[0]["spec"]["nodeName"]
    c.fail_node(node)
    c.run(until=c.now + 70)
    eps = c.endpoints("web")
    assert not eps[eps["node"] == node]["ready"].any()
    c.recover_node(node)
    c.run(until=c.now + 5)
    eps = c.endpoints("web")
    assert eps[eps["node"] == node]["ready"].all() and len(eps) == 3

"""NodePort and LoadBalancer Services: the SLB (CLB) path and externalTrafficPolicy's trade-off."""

from __future__ import annotations

import pytest

from labkit.cloud.slb import PROVISION_SECONDS
from tests.network_support import web_cluster, web_yaml


def _lb(c):
    svc = c.get("Service", "web")
    return svc["status"]["loadBalancer"]["ingress"][0]["ip"]


def test_a_load_balancer_service_gets_an_slb_address_after_provisioning():
    c = web_cluster(service_type="LoadBalancer")
    svc = c.get("Service", "web")
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.10", "ipMode": "VIP"}]
    assert 30000 <= svc["spec"]["ports"][0]["nodePort"] <= 32767
    events = [(e["reason"], e["message"], e["source"]["component"]) for e in c.events(involved="Service/web")]
    assert events == [("EnsuringLoadBalancer", "Ensuring load balancer", "service-controller"),
                      ("EnsuredLoadBalancer", "Ensured load balancer", "service-controller")]
    ensured = [e for e in c.events(involved="Service/web") if e["reason"] == "EnsuredLoadBalancer"][0]
    ensuring = [e for e in c.events(involved="Service/web") if e["reason"] == "EnsuringLoadBalancer"][0]
    assert ensured["firstTime"] > ensuring["firstTime"]
    assert PROVISION_SECONDS == 5.0


def test_changing_a_load_balancer_service_to_cluster_ip_releases_its_slb():
    c = web_cluster(service_type="LoadBalancer")
    c.apply(web_yaml())  # the same manifest with type: ClusterIP
    c.run()
    assert c.get("Service", "web")["status"]["loadBalancer"] == {}
    assert [e["reason"] for e in c.events(involved="Service/web")][-2:] == ["DeletingLoadBalancer",
                                                                          "DeletedLoadBalancer"]


def test_external_traffic_policy_cluster_spreads_over_nodes_with_masquerade_and_extra_hops():
    c = web_cluster(service_type="LoadBalancer", replicas=2)
    t = c.traffic(f"{_lb(c)}:80", rate=200, duration=10)
    c.run()
    df = t.frame()
    assert set(df["status"]) == {"ok"}
    assert df["entry_node"].nunique() == 3  # every node is a backend of the SLB
    node_ips = set(c.kube_proxy.node_ips.values())
    assert set(df["source_ip"]) <= node_ips  # the pod sees the node's address, not the client's
    assert df["extra_hop"].any() and not df["extra_hop"].all()
    hop = df[df["extra_hop"]]
    assert (hop["node"] != hop["entry_node"]).all()


def test_external_traffic_policy_local_keeps_the_client_ip_and_skips_nodes_without_a_pod():
    c = web_cluster(service_type="LoadBalancer", replicas=2,
                    extra_service="\n  externalTrafficPolicy: Local")
    t = c.traffic(f"{_lb(c)}:80", rate=200, duration=10)
    c.run()
    df = t.frame()
    assert set(df["status"]) == {"ok"}
    pod_nodes = {p["spec"]["nodeName"] for p in c.list("Pod", label_selector="app=web")}
    assert set(df["entry_node"]) == pod_nodes
    assert not df["extra_hop"].any()
    assert (df["source_ip"] == df["client"]).all()
    assert df["client"].str.startswith("198.51.100.").all()
    assert c.get("Service", "web")["spec"]["healthCheckNodePort"] >= 30000


def test_node_port_traffic_enters_on_the_dialled_node():
    c = web_cluster(service_type="NodePort")
    node = c.list("Node")[0]
    ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    port = c.get("Service", "web")["spec"]["ports"][0]["nodePort"]
    t = c.traffic(f"{ip}:{port}", rate=100, duration=10)
    c.run()
    df = t.frame()
    assert set(df["entry_node"]) == {node["metadata"]["name"]} and set(df["status"]) == {"ok"}
    assert df["pod"].nunique() == 3


def test_traffic_from_a_pod_to_an_slb_address_is_refused_with_advice():
    c = web_cluster(service_type="LoadBalancer", client=True)
    with pytest.raises(ValueError, match="from outside the cluster"):
        c.traffic(f"{_lb(c)}:80", rate=10, duration=5, from_pod="client")


def test_a_node_port_nobody_has_is_refused():
    c = web_cluster(service_type="NodePort")
    node = c.list("Node")[0]
    ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    with pytest.raises(ValueError, match="no Service has nodePort 31999"):
        c.traffic(f"{ip}:31999", rate=10, duration=5)

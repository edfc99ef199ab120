"""ClusterIP and NodePort allocation in the API server (labkit/api/serviceips.py): what
kube-apiserver's Service registry (storage/alloc.go, ipallocator, portallocator) does on a write."""

from __future__ import annotations

import ipaddress

import pytest

import labkit
from labkit.api.serviceips import NODE_PORT_RANGE, SERVICE_CIDR


def service(name: str = "web", **spec) -> dict:
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": name}, **spec},
    }


def ips_in_use(c: labkit.Cluster) -> dict[str, str]:
    return {
        s["spec"]["clusterIP"]: s["metadata"]["name"]
        for s in c.list("Service")
        if s["spec"].get("clusterIP") not in (None, "None")
    }


# -- ClusterIP -------------------------------------------------------------------------------------
def test_a_dynamic_cluster_ip_comes_from_the_upper_band_of_the_service_cidr():
    c = labkit.Cluster(seed=0, kubelets=False)
    svcs = c.apply([service(f"s{i}") for i in range(20)])
    net = ipaddress.IPv4Network(SERVICE_CIDR)
    upper_first = net.network_address + 1 + 256  # KEP-3070: the lowest 256 addresses are for requests
    for s in svcs:
        ip = ipaddress.IPv4Address(s["spec"]["clusterIP"])
        assert upper_first <= ip <= net.broadcast_address - 1
        assert s["spec"]["clusterIPs"] == [s["spec"]["clusterIP"]]
    assert len({s["spec"]["clusterIP"] for s in svcs}) == 20


def test_the_same_seed_allocates_the_same_addresses_and_ports():
    def run(seed):
        c = labkit.Cluster(seed=seed, kubelets=False)
        return [
            (s["spec"]["clusterIP"], s["spec"]["ports"][0]["nodePort"])
            for s in c.apply([service(f"s{i}", type="NodePort") for i in range(5)])
        ]

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_a_requested_cluster_ip_is_honoured():
    c = labkit.Cluster(seed=0, kubelets=False)
    [svc] = c.apply(service(clusterIP="172.21.0.20"))
    assert (svc["spec"]["clusterIP"], svc["spec"]["clusterIPs"]) == ("172.21.0.20", ["172.21.0.20"])


def test_a_cluster_ip_another_service_holds_is_refused_with_the_registry_message():
    c = labkit.Cluster(seed=0, kubelets=False)
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(service(clusterIP="172.21.0.10"))  # kube-dns has it
    assert (e.value.path, e.value.value) == ("spec.clusterIPs", ["172.21.0.10"])
    assert (
        e.value.reason == "Invalid value: failed to allocate IP 172.21.0.10: provided IP is already allocated"
    )
    assert c.api.peek("Service", "web", "default") is None


@pytest.mark.parametrize("ip", ["10.0.0.5", "172.21.16.1", "172.21.0.0", "172.21.15.255"])
def test_a_cluster_ip_outside_the_range_is_refused_naming_the_range(ip):
    c = labkit.Cluster(seed=0, kubelets=False)
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(service(clusterIP=ip))
    assert (e.value.path, e.value.value) == ("spec.clusterIPs", [ip])
    assert e.value.reason == (
        f"Invalid value: failed to allocate IP {ip}: the provided network does not match "
        "the current range (this cluster's service CIDR is 172.21.0.0/20: "
        "172.21.0.1-172.21.15.254)"
    )


def test_a_malformed_cluster_ip_is_refused_at_its_index():
    c = labkit.Cluster(seed=0, kubelets=False)
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(service(clusterIP="172.21.0.300"))
    assert (e.value.path, e.value.value) == ("spec.clusterIPs[0]", "172.21.0.300")
    assert e.value.reason == "Invalid value: must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def test_headless_and_external_name_services_get_no_address():
    c = labkit.Cluster(seed=0, kubelets=False)
    headless, ext = c.apply(
        [
            service("db", clusterIP="None"),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "ext"},
                "spec": {"type": "ExternalName", "externalName": "db.example.com"},
            },
        ]
    )
    assert (headless["spec"]["clusterIP"], headless["spec"]["clusterIPs"]) == ("None", ["None"])
    assert "clusterIP" not in ext["spec"] and "clusterIPs" not in ext["spec"]


def test_re_applying_a_service_keeps_its_cluster_ip_and_node_ports_and_writes_nothing():
    c = labkit.Cluster(seed=0, kubelets=False)
    [first] = c.apply(service(type="NodePort"))
    [again] = c.apply(service(type="NodePort"))
    assert again == first  # kubectl apply: unchanged, same resourceVersion


def test_changing_the_cluster_ip_is_refused_as_immutable():
    c = labkit.Cluster(seed=0, kubelets=False)
    [svc] = c.apply(service())
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(service(clusterIP="172.21.0.99"))
    assert (e.value.path, e.value.value) == ("spec.clusterIPs[0]", ["172.21.0.99"])
    assert e.value.reason == "Invalid value: may not change once set"
    assert c.get("Service", "web") == svc
    with pytest.raises(labkit.ManifestError, match="may not change once set"):
        c.patch("Service", "web", {"spec": {"clusterIP": "172.21.0.99", "clusterIPs": ["172.21.0.99"]}})


def test_deleting_a_service_releases_its_address_and_node_ports():
    c = labkit.Cluster(seed=0, kubelets=False)
    c.apply(service(clusterIP="172.21.0.20", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    c.delete("Service", "web")
    [again] = c.apply(
        service("other", clusterIP="172.21.0.20", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    )
    assert (again["spec"]["clusterIP"], again["spec"]["ports"][0]["nodePort"]) == ("172.21.0.20", 30080)


def test_a_refused_document_leaves_nothing_allocated():
    c = labkit.Cluster(seed=0, kubelets=False)
    before = c.api.revision
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(
            [
                service(
                    "a", clusterIP="172.21.0.20", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]
                ),
                service("b", clusterIP="172.21.0.20"),
            ]
        )  # the same address twice in one apply
    assert e.value.document == "Service/b" and e.value.reason.endswith("provided IP is already allocated")
    assert c.api.revision == before and c.api.peek("Service", "a", "default") is None
    # nothing of "a" was kept: its address and node port are free
    a, b = c.apply(
        [
            service("a", clusterIP="172.21.0.21"),
            service("b", clusterIP="172.21.0.20", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
        ]
    )
    assert b["spec"]["clusterIP"] == "172.21.0.20" and b["spec"]["ports"][0]["nodePort"] == 30080


def test_a_refused_call_holds_no_dynamic_address():
    c = labkit.Cluster(seed=0, kubelets=False)
    with pytest.raises(labkit.ManifestError):
        c.apply([service("x", type="NodePort"), service("y", clusterIP="10.0.0.1")])
    assert set(ips_in_use(c)) == {"172.21.0.1", "172.21.0.10"}
    assert c.api.services.ports == {}


# -- NodePorts -------------------------------------------------------------------------------------
def test_node_port_services_get_a_node_port_per_port_from_the_upper_band():
    c = labkit.Cluster(seed=0, kubelets=False)
    [svc] = c.apply(
        service(type="NodePort", ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}])
    )
    ports = [p["nodePort"] for p in svc["spec"]["ports"]]
    lo, hi = NODE_PORT_RANGE
    assert all(lo + 86 <= p <= hi for p in ports) and len(set(ports)) == 2  # KEP-3668: 86 ports for requests


def test_ports_with_the_same_number_share_a_node_port():
    c = labkit.Cluster(seed=0, kubelets=False)
    [svc] = c.apply(
        service(
            type="NodePort",
            ports=[
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
            ],
        )
    )
    a, b = (p["nodePort"] for p in svc["spec"]["ports"])
    assert a == b


def test_a_requested_node_port_is_honoured_and_a_taken_one_refused():
    c = labkit.Cluster(seed=0, kubelets=False)
    [a] = c.apply(service("a", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert a["spec"]["ports"][0]["nodePort"] == 30080
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(service("b", type="NodePort", ports=[{"port": 8080, "nodePort": 30080}]))
    assert (e.value.path, e.value.value, e.value.reason) == (
        "spec.ports[0].nodePort",
        30080,
        "Invalid value: provided port is already allocated",
    )
    assert str(e.value).startswith(
        "Service/b: spec.ports[0].nodePort: Invalid value: provided port is already allocated"
    )


def test_a_node_port_outside_the_range_is_refused():
    c = labkit.Cluster(seed=0, kubelets=False)
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(service(type="NodePort", ports=[{"port": 80, "nodePort": 40000}]))
    assert (e.value.path, e.value.reason) == (
        "spec.ports[0].nodePort",
        "Invalid value: provided port is not in the valid range. The range of valid ports is 30000-32767",
    )


def test_load_balancers_get_node_ports_unless_told_not_to():
    c = labkit.Cluster(seed=0, kubelets=False)
    lb, bare = c.apply(
        [
            service("lb", type="LoadBalancer"),
            service("bare", type="LoadBalancer", allocateLoadBalancerNodePorts=False),
        ]
    )
    assert lb["spec"]["allocateLoadBalancerNodePorts"] is True and lb["spec"]["ports"][0]["nodePort"]
    assert "nodePort" not in bare["spec"]["ports"][0]


def test_a_local_load_balancer_gets_a_health_check_node_port():
    c = labkit.Cluster(seed=0, kubelets=False)
    [lb] = c.apply(service("lb", type="LoadBalancer", externalTrafficPolicy="Local"))
    hc = lb["spec"]["healthCheckNodePort"]
    assert NODE_PORT_RANGE[0] <= hc <= NODE_PORT_RANGE[1] and hc != lb["spec"]["ports"][0]["nodePort"]


def test_changing_the_type_allocates_and_releases_node_ports():
    c = labkit.Cluster(seed=0, kubelets=False)
    [svc] = c.apply(service(clusterIP="172.21.0.20"))
    assert "nodePort" not in svc["spec"]["ports"][0]
    [np_] = c.apply(
        service(clusterIP="172.21.0.20", type="NodePort", ports=[{"port": 80, "nodePort": 30080}])
    )
    assert np_["spec"]["ports"][0]["nodePort"] == 30080 and np_["spec"]["clusterIP"] == "172.21.0.20"
    [back] = c.apply(service())
    assert "nodePort" not in back["spec"]["ports"][0] and back["spec"]["clusterIP"] == "172.21.0.20"
    [other] = c.apply(service("other", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert other["spec"]["ports"][0]["nodePort"] == 30080  # released


def test_external_name_to_cluster_ip_allocates_and_back_releases():
    c = labkit.Cluster(seed=0, kubelets=False)
    ext = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com"},
    }
    c.apply(ext)
    [svc] = c.apply(service(clusterIP="172.21.0.20"))
    assert svc["spec"]["clusterIP"] == "172.21.0.20"
    c.apply(ext)
    assert "clusterIP" not in c.get("Service", "web")["spec"]
    assert c.apply(service("other", clusterIP="172.21.0.20"))[0]["spec"]["clusterIP"] == "172.21.0.20"


def test_dual_stack_is_refused_in_a_single_stack_cluster():
    c = labkit.Cluster(seed=0, kubelets=False)
    with pytest.raises(labkit.ManifestError) as e:
        c.apply(service(ipFamilyPolicy="RequireDualStack"))
    assert (e.value.path, e.value.reason) == (
        "spec.ipFamilyPolicy",
        "Invalid value: this cluster is not configured for dual-stack services",
    )

"""The Services every cluster has: default/kubernetes (with the API server's EndpointSlice) and
kube-system/kube-dns, created through the API server at start-up."""

from __future__ import annotations

import labkit


def strip(obj: dict) -> dict:
    """The object without the fields the store stamps (uid, resourceVersion, times, generation)."""
    meta = {
        k: v
        for k, v in obj["metadata"].items()
        if k not in ("uid", "resourceVersion", "creationTimestamp", "generation")
    }
    return {**obj, "metadata": meta}


def test_a_fresh_cluster_lists_the_kubernetes_and_kube_dns_services():
    c = labkit.Cluster(seed=0)
    assert [
        (s["metadata"]["namespace"], s["metadata"]["name"], s["spec"]["clusterIP"]) for s in c.list("Service")
    ] == [("default", "kubernetes", "172.21.0.1"), ("kube-system", "kube-dns", "172.21.0.10")]


def test_the_kubernetes_service_is_shaped_as_kube_apiserver_creates_it():
    c = labkit.Cluster(seed=0)
    assert strip(c.get("Service", "kubernetes")) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "172.21.0.1",
            "clusterIPs": ["172.21.0.1"],
            "ipFamilyPolicy": "SingleStack",
            "ipFamilies": ["IPv4"],
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
        },
        "status": {"loadBalancer": {}},
    }


def test_the_kubernetes_endpointslice_names_the_api_server_as_the_endpoint_reconciler_writes_it():
    c = labkit.Cluster(seed=0)
    c.run()
    assert strip(c.get("EndpointSlice", "kubernetes")) == {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "kubernetes"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.168.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }
    # no selector: the EndpointSlice controller leaves the Service alone
    assert c.list("EndpointSlice", "default") == [c.get("EndpointSlice", "kubernetes")]


def test_kube_dns_is_the_coredns_addon_service_on_the_tenth_address():
    c = labkit.Cluster(seed=0)
    svc = c.get("Service", "kube-dns", "kube-system")
    assert svc["metadata"]["labels"] == {
        "k8s-app": "kube-dns",
        "kubernetes.io/cluster-service": "true",
        "kubernetes.io/name": "CoreDNS",
    }
    assert svc["metadata"]["annotations"] == {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}
    assert svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert (svc["spec"]["clusterIP"], svc["spec"]["clusterIPs"]) == ("172.21.0.10", ["172.21.0.10"])
    assert [(p["name"], p["port"], p["protocol"], p["targetPort"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP", 53),
        ("dns-tcp", 53, "TCP", 53),
        ("metrics", 9153, "TCP", 9153),
    ]


def test_kube_dns_has_an_empty_placeholder_slice_because_coredns_pods_are_not_modelled():
    c = labkit.Cluster(seed=0)
    c.run()
    [dns] = c.list("EndpointSlice", "kube-system")
    assert (dns["endpoints"], dns["ports"]) == (None, None)
    assert dns["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert c.list("Pod", "kube-system") == []


def test_the_default_addresses_cannot_be_taken_by_another_service():
    c = labkit.Cluster(seed=0)
    for ip in ("172.21.0.1", "172.21.0.10"):
        try:
            c.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "x"},
                    "spec": {"clusterIP": ip, "ports": [{"port": 80}]},
                }
            )
        except labkit.ManifestError as e:
            assert e.reason == f"Invalid value: failed to allocate IP {ip}: provided IP is already allocated"
        else:
            raise AssertionError(f"{ip} was handed out twice")

"""The EndpointSlice controller (labkit/controllers/endpointslice.py): which pods become endpoints,
their conditions (spec 3.1, 10.5), ports, slice shape and how slices are reconciled."""

from __future__ import annotations

import pytest

import labkit
from labkit.controllers.endpointslice import EndpointSliceController

ZONES = ["cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"]


def cluster(nodes: int = 3) -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=nodes, zones=ZONES)
    return c


def pod(name: str, labels: dict | None = None, annotations: dict | None = None, ports=None, **spec) -> dict:
    container = {
        "name": "app",
        "image": "nginx:1.25",
        "ports": ports if ports is not None else [{"name": "http", "containerPort": 8080}],
    }
    for key in ("readinessProbe", "lifecycle"):
        if key in spec:
            container[key] = spec.pop(key)
    meta = {"name": name, "labels": labels or {"app": "web"}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [container], **spec}}


def service(name: str = "web", ports=None, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"team": "lab"}},
        "spec": {
            "selector": {"app": "web"},
            "ports": ports or [{"name": "http", "port": 80, "targetPort": "http"}],
            **spec,
        },
    }


def slices(c: labkit.Cluster, svc: str = "web") -> list[dict]:
    return c.list("EndpointSlice", "default", label_selector=f"kubernetes.io/service-name={svc}")


def endpoints(c: labkit.Cluster, svc: str = "web") -> dict[str, dict]:
    return {ep["targetRef"]["name"]: ep for s in slices(c, svc) for ep in s["endpoints"] or []}


def conditions(c: labkit.Cluster, svc: str = "web") -> dict[str, tuple]:
    return {
        n: (e["conditions"]["ready"], e["conditions"]["serving"], e["conditions"]["terminating"])
        for n, e in endpoints(c, svc).items()
    }


READINESS = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5}


# -- the slice object ------------------------------------------------------------------------------
def test_a_three_pod_service_gets_one_slice_shaped_as_the_controller_writes_it():
    c = cluster()
    c.apply([service(), pod("web-0"), pod("web-1"), pod("web-2")])
    c.run()
    [s] = slices(c)
    svc = c.get("Service", "web")
    pods = {p["metadata"]["name"]: p for p in c.list("Pod", "default")}
    nodes = {
        n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in c.list("Node")
    }
    meta = s["metadata"]
    assert meta["name"].startswith("web-") and len(meta["name"]) == 9 and meta["generateName"] == "web-"
    assert meta["labels"] == {
        "team": "lab",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": svc["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert set(meta["annotations"]) == {"endpoints.kubernetes.io/last-change-trigger-time"}
    assert (s["addressType"], s["ports"]) == ("IPv4", [{"name": "http", "protocol": "TCP", "port": 8080}])
    assert sorted(s["endpoints"], key=lambda e: e["targetRef"]["name"]) == [
        {
            "addresses": [p["status"]["podIP"]],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": p["metadata"]["uid"]},
            "nodeName": p["spec"]["nodeName"],
            "zone": nodes[p["spec"]["nodeName"]],
        }
        for name, p in sorted(pods.items())
    ]


def test_a_service_without_pods_keeps_one_placeholder_slice_that_becomes_the_real_one():
    c = cluster()
    c.apply(service())
    c.run()
    [placeholder] = slices(c)
    assert (placeholder["endpoints"], placeholder["ports"]) == (None, None)
    c.apply(pod("web-0"))
    c.run()
    [s] = slices(c)
    assert s["metadata"]["name"] == placeholder["metadata"]["name"]  # updated in place (finalize)
    assert s["metadata"]["uid"] == placeholder["metadata"]["uid"] and len(s["endpoints"]) == 1
    c.delete("Pod", "web-0", grace_period_seconds=0)
    c.run()
    [back] = slices(c)
    assert back["metadata"]["name"] == placeholder["metadata"]["name"] and back["endpoints"] is None


def test_services_without_a_selector_and_external_names_get_no_slices():
    c = cluster()
    c.apply(
        [
            pod("web-0"),
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "manual"},
                "spec": {"ports": [{"port": 80}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "ext"},
                "spec": {
                    "type": "ExternalName",
                    "externalName": "db.example.com",
                    "selector": {"app": "web"},
                },
            },
        ]
    )
    c.run()
    assert slices(c, "manual") == [] and slices(c, "ext") == []


def test_deleting_the_service_deletes_its_slices_through_the_owner_reference():
    c = cluster()
    c.apply([service(), pod("web-0")])
    c.run()
    assert len(slices(c)) == 1
    c.delete("Service", "web")
    c.run()
    assert slices(c) == []


# -- which pods, with which conditions ----------------------------------------------------------------
def test_a_pod_whose_readiness_probe_does_not_pass_yet_is_listed_not_ready_then_ready():
    c = cluster()
    c.apply([service(), pod("web-0", annotations={"labkit.io/ready-after": "30s"}, readinessProbe=READINESS)])
    c.run(until=15)
    assert conditions(c) == {"web-0": (False, False, False)}
    c.run(until=60)
    assert conditions(c) == {"web-0": (True, True, False)}


def test_publish_not_ready_addresses_makes_every_endpoint_ready():
    c = cluster()
    c.apply(
        [
            service(publishNotReadyAddresses=True),
            pod("web-0", annotations={"labkit.io/ready-after": "30s"}, readinessProbe=READINESS),
        ]
    )
    c.run(until=15)
    assert conditions(c) == {"web-0": (True, False, False)}


def test_a_terminating_pod_stays_listed_not_ready_but_serving_until_it_is_gone():
    c = cluster()
    c.apply([service(), pod("web-0", lifecycle={"preStop": {"sleep": {"seconds": 5}}}), pod("web-1")])
    c.run()
    c.delete("Pod", "web-0")
    c.run(until=c.now + 2)  # preStop still sleeping
    assert conditions(c) == {"web-0": (False, True, True), "web-1": (True, True, False)}
    c.run()
    assert conditions(c) == {"web-1": (True, True, False)}


def test_pods_of_a_failed_node_turn_not_ready_and_not_serving_once_marked_not_ready():
    c = cluster()
    c.apply([service(), pod("web-0"), pod("web-1")])
    c.run()
    node = c.get("Pod", "web-0")["spec"]["nodeName"]
    other = c.get("Pod", "web-1")["spec"]["nodeName"]
    assert node != other
    failed_at = c.now
    c.fail_node(node)
    c.run(until=failed_at + 30)
    assert conditions(c)["web-0"] == (True, True, False)  # within the node monitor grace period
    c.run(until=failed_at + 70)  # NodeStatusUnknown; MarkPodsNotReady
    assert conditions(c) == {"web-0": (False, False, False), "web-1": (True, True, False)}


def test_pods_without_an_ip_terminal_pods_and_other_labels_are_left_out():
    c = labkit.Cluster(seed=0, kubelets=False)  # hollow nodes: pods never get an IP
    c.add_node_pool("pool-a", instance_type="ecs.g7.xlarge", count=1, zones=ZONES[:1])
    c.apply([service(), pod("web-0")])
    c.run()
    assert endpoints(c) == {}
    c.patch(
        "Pod",
        "web-0",
        {"status": {"phase": "Running", "podIP": "172.20.0.9", "podIPs": [{"ip": "172.20.0.9"}]}},
        subresource="status",
    )
    c.run()
    assert list(endpoints(c)) == ["web-0"]
    c.patch("Pod", "web-0", {"metadata": {"labels": {"app": "other"}}})
    c.run()
    assert endpoints(c) == {}
    c.patch("Pod", "web-0", {"metadata": {"labels": {"app": "web"}}})
    c.patch("Pod", "web-0", {"status": {"phase": "Failed"}}, subresource="status")
    c.run()
    assert endpoints(c) == {}


def test_hostname_is_set_only_when_the_subdomain_is_the_service_name():
    c = cluster()
    c.apply(
        [
            service(clusterIP="None"),
            pod("web-0", hostname="h0", subdomain="web"),
            pod("web-1", hostname="h1", subdomain="other"),
        ]
    )
    c.run()
    eps = endpoints(c)
    assert eps["web-0"]["hostname"] == "h0" and "hostname" not in eps["web-1"]
    assert slices(c)[0]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


# -- ports ----------------------------------------------------------------------------------------
def test_named_and_numeric_target_ports_resolve_per_pod():
    c = cluster()
    c.apply(
        [
            service(
                ports=[
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "metrics", "port": 9090, "targetPort": 9100, "protocol": "TCP"},
                ]
            ),
            pod("web-0", ports=[{"name": "http", "containerPort": 8080}]),
            pod("web-1", ports=[{"name": "http", "containerPort": 8081}]),
        ]
    )
    c.run()
    by_ports = {
        tuple((p["name"], p["port"]) for p in s["ports"]): sorted(
            e["targetRef"]["name"] for e in s["endpoints"]
        )
        for s in slices(c)
    }
    assert by_ports == {
        (("http", 8080), ("metrics", 9100)): ["web-0"],
        (("http", 8081), ("metrics", 9100)): ["web-1"],
    }


def test_a_pod_that_does_not_expose_the_named_port_goes_into_a_slice_without_it():
    c = cluster()
    c.apply(
        [
            service(
                ports=[
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "admin", "port": 81, "targetPort": "admin"},
                ]
            ),
            pod(
                "web-0",
                ports=[{"name": "http", "containerPort": 8080}, {"name": "admin", "containerPort": 9000}],
            ),
            pod("web-1", ports=[{"name": "http", "containerPort": 8080}]),
        ]
    )
    c.run()
    by_ports = {
        tuple(p["name"] for p in s["ports"]): [e["targetRef"]["name"] for e in s["endpoints"]]
        for s in slices(c)
    }
    assert by_ports == {("http", "admin"): ["web-0"], ("http",): ["web-1"]}


# -- many pods -------------------------------------------------------------------------------------
def deployment(replicas: int, image: str = "nginx:1.25") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}},
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def test_250_pods_fill_three_slices_of_at_most_100():
    c = cluster(nodes=6)
    c.apply([service(), deployment(250)])
    c.run()
    sizes = sorted(len(s["endpoints"]) for s in slices(c))
    assert len(sizes) == 3 and max(sizes) <= 100 and sum(sizes) == 250
    names = [ep["targetRef"]["name"] for s in slices(c) for ep in s["endpoints"]]
    assert len(set(names)) == 250


def test_a_rolling_update_keeps_every_pod_listed_once_and_ends_with_the_new_ones():
    c = cluster(nodes=6)
    c.apply([service(), deployment(120)])
    c.run()
    c.patch(
        "Deployment",
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}}},
    )
    c.run()
    pods = {p["metadata"]["name"] for p in c.list("Pod", "default")}
    names = [ep["targetRef"]["name"] for s in slices(c) for ep in s["endpoints"] or []]
    assert sorted(names) == sorted(pods) and len(pods) == 120
    assert all(len(s["endpoints"] or []) <= 100 for s in slices(c))


def test_max_endpoints_per_slice_is_the_controller_flag():
    with pytest.raises(labkit.ManifestError, match="between 1 and 1000"):
        EndpointSliceController(labkit.Cluster(seed=0).env, None, None, max_endpoints_per_slice=0)

"""``Cluster.apply`` takes what ``kubectl apply`` takes and stores what the API server would.

Sources: a path, multi-document YAML text, a dict, a list of dicts. What gets stored is the
object after defaulting and the default admission plugins (``pkg/apis/core/v1/defaults.go``,
``plugin/pkg/admission/{priority,runtimeclass,defaulttolerationseconds,serviceaccount}``) —
and nothing more: the scheduler's 100m/200Mi non-zero requests are a scoring convention that
never appears in the object.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import labkit

REPO = Path(__file__).resolve().parent.parent
POD_FILE = REPO / "data" / "manifests" / "my-nginx-pod.yaml"
SERVICE_FILE = REPO / "data" / "manifests" / "my-nginx-service.yaml"


def pod(name: str = "web", image: str = "nginx:1.27", labels: dict[str, str] | None = None,
        **spec) -> dict:
    meta = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "web", "image": image}], **spec}}


def deployment(replicas: int = 2, image: str = "nginx:1.27") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


@pytest.fixture
def c() -> labkit.Cluster:
    return labkit.Cluster(seed=0)


# -- sources ---------------------------------------------------------------------------------------
def test_article_manifests_are_the_seed_verbatim(c: labkit.Cluster) -> None:
    """The two files hold the article's section 4: an unlabeled Pod, a Service selecting app=my-nginx."""
    pod_obj, svc = c.apply(POD_FILE)[0], c.apply(str(SERVICE_FILE))[0]
    assert pod_obj["metadata"]["name"] == "my-nginx" and "labels" not in pod_obj["metadata"]
    assert [(x["name"], x["image"]) for x in pod_obj["spec"]["containers"]] == [("nginx", "my-nginx")]
    assert svc["spec"]["selector"] == {"app": "my-nginx"}
    assert svc["spec"]["ports"] == [{"protocol": "TCP", "port": 80, "targetPort": 80}]
    assert c.list("Pod", label_selector="app=my-nginx") == [], "the article's Service selects no pod"


def test_apply_accepts_a_relative_path_string(c: labkit.Cluster) -> None:
    """``data/manifests/...`` works as a string path, as ``kubectl apply -f`` takes it."""
    assert [o["kind"] for o in c.apply("data/manifests/my-nginx-pod.yaml")] == ["Pod"]


def test_apply_accepts_multi_document_text_in_order(c: labkit.Cluster) -> None:
    """``---`` separates documents; empty documents are skipped; objects come back in input order."""
    text = POD_FILE.read_text() + "---\n---\n" + SERVICE_FILE.read_text()
    assert [(o["kind"], o["metadata"]["name"]) for o in c.apply(text)] == [("Pod", "my-nginx"),
                                                                             ("Service", "my-nginx")]


def test_apply_accepts_a_dict_and_a_list(c: labkit.Cluster) -> None:
    """A dict is one object, a list is several; ``kind: List`` is unpacked."""
    assert len(c.apply(pod("a"))) == 1
    assert len(c.apply([pod("b"), pod("c")])) == 2
    assert len(c.apply({"apiVersion": "v1", "kind": "List", "items": [pod("d"), pod("e")]})) == 2
    assert [p["metadata"]["name"] for p in c.list("Pod")] == ["a", "b", "c", "d", "e"]


def test_apply_does_not_touch_the_callers_dict(c: labkit.Cluster) -> None:
    """Defaulting works on a copy: the learner's dict is unchanged and can be applied again."""
    manifest = pod()
    before = repr(manifest)
    c.apply(manifest)
    assert repr(manifest) == before


def test_returned_objects_are_copies(c: labkit.Cluster) -> None:
    """Mutating what apply/get/list return does not change the cluster."""
    c.apply(pod())[0]["spec"]["containers"][0]["image"] = "evil:1"
    c.get("Pod", "web")["metadata"]["name"] = "other"
    c.list("Pod")[0]["spec"]["nodeName"] = "node-x"
    stored = c.get("Pod", "web")
    assert stored["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert stored["metadata"]["name"] == "web" and "nodeName" not in stored["spec"]


def test_namespace_and_pod_in_one_apply(c: labkit.Cluster) -> None:
    """Admission sees the call's earlier documents: a Namespace can precede its pods."""
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    p = pod()
    p["metadata"]["namespace"] = "team-a"
    c.apply([ns, p])
    assert c.get("Pod", "web", namespace="team-a")["metadata"]["namespace"] == "team-a"
    assert c.get("Namespace", "team-a")["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    with pytest.raises(KeyError):
        c.get("Pod", "web")  # not in "default"


# -- Pod defaults ------------------------------------------------------------------------------------
def test_pod_defaults_match_the_api_server(c: labkit.Cluster) -> None:
    """SetDefaults_Pod/PodSpec/Container plus admission, on the article's pod."""
    spec = c.apply(POD_FILE)[0]["spec"]
    obj = c.get("Pod", "my-nginx")
    assert obj["metadata"]["namespace"] == "default"
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    assert spec["priority"] == 0
    assert spec["preemptionPolicy"] == "PreemptLowerPriority"
    ctr = spec["containers"][0]
    assert ctr["terminationMessagePath"] == "/dev/termination-log"
    assert ctr["terminationMessagePolicy"] == "File"
    assert ctr["resources"] == {}
    assert obj["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_not_ready_and_unreachable_are_tolerated_for_300_seconds(c: labkit.Cluster) -> None:
    """DefaultTolerationSeconds admission adds two NoExecute tolerations of 300 s."""
    tols = c.apply(pod())[0]["spec"]["tolerations"]
    assert tols == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]


def test_default_tolerations_are_not_duplicated(c: labkit.Cluster) -> None:
    """A pod that already tolerates not-ready keeps its own toleration (and its seconds)."""
    own = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 10}
    tols = c.apply(pod(tolerations=[own]))[0]["spec"]["tolerations"]
    assert [t["key"] for t in tols] == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    assert tols[0]["tolerationSeconds"] == 10


@pytest.mark.parametrize(("image", "policy"), [
    ("my-nginx", "Always"),
    ("nginx:latest", "Always"),
    ("registry.example.com:5000/team/app", "Always"),
    ("nginx:1.27", "IfNotPresent"),
    ("registry.example.com:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
    ("nginx:1.27@sha256:" + "a" * 64, "IfNotPresent"),
    ("nginx:latest@sha256:" + "a" * 64, "Always"),  # spec 13.1: the tag decides, not the digest
])
def test_image_pull_policy_default(c: labkit.Cluster, image: str, policy: str) -> None:
    """``Always`` for untagged or ``:latest`` images, else ``IfNotPresent`` (a port is not a tag)."""
    assert c.apply(pod(image=image))[0]["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_pull_policy_is_kept(c: labkit.Cluster) -> None:
    p = pod(image="my-nginx")
    p["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    assert c.apply(p)[0]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_limits_are_copied_to_missing_requests(c: labkit.Cluster) -> None:
    """A limit without a request makes the request equal to the limit (per resource)."""
    p = pod()
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "500m", "memory": "256Mi"},
                                               "requests": {"cpu": "250m"}}
    res = c.apply(p)[0]["spec"]["containers"][0]["resources"]
    assert res["requests"] == {"cpu": "250m", "memory": "256Mi"}


def test_scheduler_non_zero_defaults_are_not_written(c: labkit.Cluster) -> None:
    """100m CPU / 200Mi memory exist only inside the scheduler's scoring, never in the object."""
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)
    c.apply(pod())
    c.run()
    assert c.get("Pod", "web")["spec"]["containers"][0]["resources"] == {}


@pytest.mark.parametrize(("resources", "qos"), [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1000m", "memory": "1024Mi"}},
     "Guaranteed"),
    ({"limits": {"cpu": "1"}}, "Burstable"),
])
def test_qos_class(c: labkit.Cluster, resources: dict, qos: str) -> None:
    """pkg/apis/core/v1/helper/qos: Guaranteed needs cpu and memory limits equal to requests."""
    p = pod()
    p["spec"]["containers"][0]["resources"] = resources
    assert c.apply(p)[0]["status"]["qosClass"] == qos


# -- admission with other objects ---------------------------------------------------------------------
def test_priority_class_resolves_into_priority(c: labkit.Cluster) -> None:
    """The priority admission plugin turns priorityClassName into spec.priority (and its policy)."""
    c.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "batch"},
             "value": 100, "preemptionPolicy": "Never"})
    spec = c.apply(pod(priorityClassName="batch"))[0]["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (100, "Never")


def test_global_default_priority_class_applies_to_pods_without_one(c: labkit.Cluster) -> None:
    c.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "normal"},
             "value": 10, "globalDefault": True})
    spec = c.apply(pod())[0]["spec"]
    assert (spec["priorityClassName"], spec["priority"]) == ("normal", 10)


def test_priority_class_default_preemption_policy(c: labkit.Cluster) -> None:
    pc = c.apply({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"},
                  "value": 1000})[0]
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"


def test_runtime_class_overhead_and_scheduling_are_copied(c: labkit.Cluster) -> None:
    """RuntimeClass admission copies overhead.podFixed into spec.overhead and merges its nodeSelector
    and tolerations; container requests are left alone."""
    c.apply({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata"},
             "handler": "kata-qemu", "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}},
             "scheduling": {"nodeSelector": {"katacontainers.io/kata-runtime": "true"},
                            "tolerations": [{"key": "kata", "operator": "Exists", "effect": "NoSchedule"}]}})
    spec = c.apply(pod(runtimeClassName="kata"))[0]["spec"]
    assert spec["overhead"] == {"cpu": "250m", "memory": "160Mi"}
    assert spec["nodeSelector"] == {"katacontainers.io/kata-runtime": "true"}
    assert spec["tolerations"][0] == {"key": "kata", "operator": "Exists", "effect": "NoSchedule"}
    assert spec["containers"][0]["resources"] == {}


def test_runtime_class_overhead_conflict_is_refused(c: labkit.Cluster) -> None:
    c.apply({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata"},
             "handler": "kata-qemu", "overhead": {"podFixed": {"cpu": "250m"}}})
    with pytest.raises(labkit.ManifestError, match="Overhead doesn't match RuntimeClass") as info:
        c.apply(pod(runtimeClassName="kata", overhead={"cpu": "1"}))
    assert info.value.path == "spec.overhead"


# -- other kinds ----------------------------------------------------------------------------------------
def test_service_defaults(c: labkit.Cluster) -> None:
    """SetDefaults_Service: ClusterIP, no session affinity, TCP, targetPort = port, single-stack IPv4."""
    svc = c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"selector": {"app": "web"}, "ports": [{"port": 8080}]}})[0]
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["sessionAffinity"] == "None"
    assert spec["ports"] == [{"port": 8080, "protocol": "TCP", "targetPort": 8080}]
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert (spec["ipFamilies"], spec["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")
    assert "externalTrafficPolicy" not in spec
    assert svc["status"] == {"loadBalancer": {}}


@pytest.mark.parametrize("protocol", ["TCP", "UDP", "SCTP"])
def test_service_and_container_ports_accept_each_supported_protocol(c: labkit.Cluster, protocol: str) -> None:
    """validation.go's supportedPortProtocols: TCP, UDP and SCTP are the transports a port may name."""
    svc = c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
                   "spec": {"selector": {"app": "dns"}, "ports": [{"port": 53, "protocol": protocol}]}})[0]
    assert svc["spec"]["ports"][0]["protocol"] == protocol
    pod = c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dns"},
                   "spec": {"containers": [{"name": "dns", "image": "coredns/coredns:1.12.0",
                                            "ports": [{"containerPort": 53, "protocol": protocol}]}]}})[0]
    assert pod["spec"]["containers"][0]["ports"][0]["protocol"] == protocol


def test_service_may_serve_one_port_number_over_tcp_and_udp(c: labkit.Cluster) -> None:
    """Duplicates are (port, protocol) pairs: DNS's 53/TCP and 53/UDP are two ports."""
    svc = c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
                   "spec": {"selector": {"app": "dns"}, "ports": [
                       {"name": "dns", "port": 53, "protocol": "UDP"},
                       {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}})[0]
    assert [p["protocol"] for p in svc["spec"]["ports"]] == ["UDP", "TCP"]


def test_node_port_service_gets_external_traffic_policy(c: labkit.Cluster) -> None:
    svc = c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}})[0]
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"


def test_deployment_defaults(c: labkit.Cluster) -> None:
    """apps/v1 defaults: RollingUpdate 25%/25%, history 10, deadline 600 s; template gets pod defaults."""
    d = c.apply(deployment())[0]
    spec = d["spec"]
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert d["metadata"]["generation"] == 1


def test_hpa_defaults_to_80_percent_cpu(c: labkit.Cluster) -> None:
    hpa = c.apply({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                   "metadata": {"name": "web"},
                   "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                            "maxReplicas": 5}})[0]
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


# -- re-apply -----------------------------------------------------------------------------------------
def test_unchanged_reapply_keeps_resource_version(c: labkit.Cluster) -> None:
    """``kubectl apply`` of the same file again reports "unchanged": no write, same resourceVersion."""
    first = c.apply(deployment())[0]
    revision = c.store.revision
    again = c.apply(deployment())[0]
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert again["metadata"]["generation"] == 1
    assert c.store.revision == revision


def test_unchanged_reapply_of_a_running_pod_keeps_resource_version(c: labkit.Cluster) -> None:
    """The bound nodeName and kubelet status are not part of the manifest and are kept."""
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)
    c.apply(pod())
    c.run()
    before = c.get("Pod", "web")
    assert c.apply(pod())[0] == before


def test_spec_change_bumps_deployment_generation(c: labkit.Cluster) -> None:
    """metadata.generation counts spec changes; the uid and creationTimestamp stay."""
    first = c.apply(deployment(replicas=2))[0]
    second = c.apply(deployment(replicas=3))[0]
    assert second["metadata"]["generation"] == 2
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]
    assert second["spec"]["replicas"] == 3


def test_label_change_does_not_bump_generation(c: labkit.Cluster) -> None:
    c.apply(deployment())
    d = deployment()
    d["metadata"]["labels"] = {"team": "a"}
    out = c.apply(d)[0]
    assert out["metadata"]["generation"] == 1
    assert out["metadata"]["labels"] == {"team": "a"}


def test_pod_image_may_change_on_reapply(c: labkit.Cluster) -> None:
    """A live pod's image is one of the few mutable fields."""
    c.apply(pod(image="nginx:1.27"))
    assert c.apply(pod(image="nginx:1.28"))[0]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_pod_tolerations_may_only_grow(c: labkit.Cluster) -> None:
    """Adding a toleration to a live pod is allowed, removing one is not."""
    extra = {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}
    c.apply(pod())
    assert extra in c.apply(pod(tolerations=[extra]))[0]["spec"]["tolerations"]
    with pytest.raises(labkit.ManifestError, match="this apply changes spec.tolerations"):
        c.apply(pod())


def test_pod_update_names_the_changed_field(c: labkit.Cluster) -> None:
    c.apply(pod())
    with pytest.raises(labkit.ManifestError) as info:
        c.apply(pod(restartPolicy="Never"))
    assert info.value.path == "spec"
    assert "this apply changes spec.restartPolicy" in info.value.reason


# -- get / list / delete ----------------------------------------------------------------------------------
def test_get_missing_object_raises_key_error_like_kubectl(c: labkit.Cluster) -> None:
    with pytest.raises(KeyError, match='pods "x" not found'):
        c.get("Pod", "x")
    with pytest.raises(KeyError, match='services "x" not found'):
        c.get("Service", "x")


def test_kinds_accept_kubectl_spellings(c: labkit.Cluster) -> None:
    c.apply(pod())
    assert c.get("pods", "web") == c.get("pod", "web") == c.get("Pod", "web")


@pytest.mark.parametrize(("selector", "names"), [
    ("app=web", ["a", "b"]),
    ("app==web", ["a", "b"]),
    ("app!=web", ["c", "d"]),
    ("app in (web,db)", ["a", "b", "c"]),
    ("app notin (web)", ["c", "d"]),
    ("tier", ["a", "c"]),
    ("!tier", ["b", "d"]),
    ("app=web,tier=front", ["a"]),
    ("app=web,!tier", ["b"]),
])
def test_list_filters_with_kubectl_label_selectors(c: labkit.Cluster, selector: str,
                                                   names: list[str]) -> None:
    """``kubectl get pods -l <selector>``: equality, set-based and existence requirements, ANDed."""
    c.apply([pod("a", labels={"app": "web", "tier": "front"}), pod("b", labels={"app": "web"}),
             pod("c", labels={"app": "db", "tier": "back"}), pod("d")])
    assert [p["metadata"]["name"] for p in c.list("Pod", label_selector=selector)] == names


def test_list_by_namespace(c: labkit.Cluster) -> None:
    c.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    other = pod("b")
    other["metadata"]["namespace"] = "team-a"
    c.apply([pod("a"), other])
    assert [p["metadata"]["name"] for p in c.list("Pod")] == ["a", "b"]
    assert [p["metadata"]["name"] for p in c.list("Pod", namespace="team-a")] == ["b"]
    assert {n["metadata"]["name"] for n in c.list("Namespace")} >= {"default", "kube-system", "team-a"}


def test_delete_pending_pod_removes_it_at_once(c: labkit.Cluster) -> None:
    """An unbound pod has no kubelet to stop it: deletion is immediate."""
    c.apply(pod())
    c.delete("Pod", "web")
    with pytest.raises(KeyError, match='pods "web" not found'):
        c.get("Pod", "web")
    with pytest.raises(KeyError, match='pods "web" not found'):
        c.delete("Pod", "web")


def test_reapplying_a_node_manifest_keeps_the_images_its_kubelet_recorded():
    c = labkit.Cluster(seed=0)
    (node,) = c.add_node_pool("pool", "ecs.g7.xlarge", 1, zones=["cn-hangzhou-h"])
    c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
             "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
    c.run()
    recorded = c.get("Node", node["metadata"]["name"], namespace=None)["status"]["images"]
    assert recorded
    node["metadata"]["labels"]["team"] = "web"
    c.apply(node)
    again = c.get("Node", node["metadata"]["name"], namespace=None)
    assert again["metadata"]["labels"]["team"] == "web" and again["status"]["images"] == recorded


def test_an_empty_port_protocol_is_stored_as_tcp():
    c = labkit.Cluster(seed=0)
    (svc,) = c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                      "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": ""}]}})
    assert svc["spec"]["ports"][0]["protocol"] == "TCP"


def test_read_manifest_finds_a_repo_path_from_any_folder(tmp_path, monkeypatch):
    from labkit.manifests import read_manifest

    monkeypatch.chdir(tmp_path)
    assert "kind: Pod" in read_manifest("data/manifests/my-nginx-pod.yaml")

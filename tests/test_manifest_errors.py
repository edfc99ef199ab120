"""A bad manifest is refused with a learner-readable error and leaves the cluster untouched.

Every case of the corpus is a manifest the real API server (or ``kubectl apply`` before it)
refuses. Each must raise :class:`labkit.ManifestError` whose ``.path`` is the field path as
``kubectl`` prints it and whose ``.reason`` says what is wrong, and the cluster must be
byte-for-byte what it was before (same ``resourceVersion`` counter, same objects) — also when
the bad document comes second in one ``apply`` after a valid one (an apply is atomic).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
from labkit.manifests import MAX_BYTES, MAX_DEPTH


# -- builders -------------------------------------------------------------------------------------
def container(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "image": "nginx:1.27", **fields}


def pod(*containers: dict[str, Any], name: str = "web", meta: dict[str, Any] | None = None,
        **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **(meta or {})},
            "spec": {"containers": list(containers) or [container()], **spec}}


def resources(requests: dict[str, Any] | None = None, limits: dict[str, Any] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests is not None:
        res["requests"] = requests
    if limits is not None:
        res["limits"] = limits
    return pod(container(resources=res))


def affinity_term(*expressions: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": list(expressions)}]}}}


def deployment(selector: dict[str, Any], labels: dict[str, str], replicas: Any = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": selector,
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [container()]}}}}


def service(ports: list[dict[str, Any]], name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "web"}, "ports": ports, **spec}}


def hpa(min_replicas: int, max_replicas: int) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas}}


def node(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}, **fields}


def nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(depth):
        doc = {"a": doc}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}, "data": doc}


# Nine levels of nine-fold aliases: a few hundred bytes of YAML that expand to 9**9 (387 million) values.
BILLION_LAUGHS = "\n".join(
    ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "x:", f"  a: &a [{','.join(['lol'] * 9)}]"]
    + [f"  {b}: &{b} [{','.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
) + "\n"

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx:1.27
"""


@dataclass(frozen=True)
class Case:
    """One refused manifest: what to apply, where the error points and a phrase its reason holds."""

    id: str
    source: Any
    path: str
    phrase: str
    setup: Any = None  # applied first (must succeed), e.g. the pod that the bad manifest updates
    alone_only: bool = False  # not meaningful as the 2nd document of a call (e.g. "no documents")


CASES = [
    # -- decoding ------------------------------------------------------------------------------
    Case("malformed_yaml_is_refused", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [web\n", "",
         "malformed YAML at line"),
    Case("tab_indented_yaml_is_refused", "apiVersion: v1\nkind: Pod\nmetadata:\n\tname: web\n", "",
         "malformed YAML"),
    Case("scalar_document_is_refused", "just some text", "", "is a string, not a mapping"),
    Case("list_document_is_refused", "- apiVersion: v1\n- kind: Pod\n", "", "is a list, not a mapping"),
    Case("non_string_keys_are_refused",
         POD_YAML.replace("  name: web\n", "  name: web\n  labels:\n    1: one\n"), "metadata.labels",
         "field names must be strings"),
    Case("nan_value_is_refused", resources({"cpu": float("nan")}),
         "spec.containers[0].resources.requests.cpu", "NaN"),
    Case("document_larger_than_3MiB_is_refused",
         "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n  blob: " + "x" * MAX_BYTES + "\n",
         "", f"Request entity too large: limit is {MAX_BYTES}"),
    Case("document_nested_deeper_than_64_levels_is_refused", nested(MAX_DEPTH + 5),
         "data" + ".a" * MAX_DEPTH, f"nested deeper than {MAX_DEPTH} levels"),
    Case("yaml_alias_bomb_is_refused", BILLION_LAUGHS, "x", "alias bomb"),
    Case("empty_input_is_refused", "---\n---\n", "", "no documents found", alone_only=True),
    Case("non_manifest_value_is_refused", 42, "", "cannot apply a value of type integer", alone_only=True),
    # -- kind and version ------------------------------------------------------------------------
    Case("missing_kind_is_refused", {"apiVersion": "v1", "metadata": {"name": "web"}},
         "kind", "Required value"),
    Case("unknown_kind_is_refused_with_a_suggestion", {**pod(), "kind": "Pood"}, "kind",
         'no kind "Pood" is served by the simulated API server (did you mean "Pod"?)'),
    Case("wrong_api_version_is_refused", {**pod(), "apiVersion": "apps/v1"}, "apiVersion",
         'no matches for kind "Pod" in version "apps/v1": use apiVersion: v1'),
    Case("list_with_a_bad_item_is_refused",
         {"apiVersion": "v1", "kind": "List", "items": [pod(), pod(name="Web")]},
         "metadata.name", "RFC 1123 subdomain"),
    Case("list_with_a_scalar_item_is_refused", {"apiVersion": "v1", "kind": "List", "items": [pod(), "web"]},
         "items[1]", "is a string, not a mapping"),
    # -- names -----------------------------------------------------------------------------------
    Case("missing_name_is_refused", {**pod(), "metadata": {}}, "metadata.name",
         "Required value: name or generateName is required"),
    Case("generate_name_is_refused_by_apply", {**pod(), "metadata": {"generateName": "web-"}},
         "metadata.name", "generateName is not supported by kubectl apply"),
    Case("upper_case_pod_name_is_refused", pod(name="My-Nginx"), "metadata.name",
         "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"),
    Case("pod_name_over_253_characters_is_refused", pod(name="a" * 254), "metadata.name",
         "must be no more than 253 characters"),
    Case("service_name_starting_with_a_digit_is_refused", service([{"port": 80}], name="1web"),
         "metadata.name", "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                          "start with an alphabetic character"),
    Case("service_name_with_a_dot_is_refused", service([{"port": 80}], name="web.v1"), "metadata.name",
         "DNS-1035 label"),
    Case("namespace_name_with_a_dot_is_refused",
         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}}, "metadata.name",
         "a lowercase RFC 1123 label"),
    Case("upper_case_container_name_is_refused", pod(container(name="Web")), "spec.containers[0].name",
         "RFC 1123 label"),
    Case("same_object_twice_in_one_apply_is_refused", [pod(), pod()], "metadata.name",
         'Duplicate value: Pod "web" appears twice in this apply'),
    # -- schema ----------------------------------------------------------------------------------
    Case("unknown_field_is_refused_with_a_suggestion", pod(container(imagePullPolice="Always")),
         "spec.containers[0].imagePullPolice",
         'unknown field "spec.containers[0].imagePullPolice" (did you mean "imagePullPolicy"?)'),
    Case("unknown_top_level_field_is_refused", {**pod(), "specs": {}}, "specs", 'unknown field "specs"'),
    Case("quoted_replicas_is_refused",
         deployment({"matchLabels": {"app": "web"}}, {"app": "web"}, replicas="3"), "spec.replicas",
         'expected an integer, got the string "3" (write it without quotes: 3)'),
    Case("containers_as_a_mapping_is_refused",
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
          "spec": {"containers": container()}},
         "spec.containers", "expected a list, got mapping"),
    Case("unquoted_yes_label_is_refused",
         POD_YAML.replace("  name: web\n", "  name: web\n  labels:\n    enabled: yes\n"),
         "metadata.labels.enabled", "YAML reads unquoted yes/no/on/off/true/false as booleans"),
    Case("integer_env_value_is_refused", pod(container(env=[{"name": "PORT", "value": 8080}])),
         "spec.containers[0].env[0].value", 'quote it to make it a string: "8080"'),
    Case("unknown_restart_policy_is_refused", pod(restartPolicy="Sometimes"), "spec.restartPolicy",
         'Unsupported value: supported values: "Always", "OnFailure", "Never"'),
    # -- resources -------------------------------------------------------------------------------
    Case("negative_cpu_request_is_rejected", resources({"cpu": "-100m"}),
         "spec.containers[0].resources.requests.cpu", "must be greater than or equal to 0"),
    Case("cpu_lots_is_not_a_quantity", resources({"cpu": "lots"}),
         "spec.containers[0].resources.requests.cpu", "not a valid quantity"),
    Case("upper_case_kilo_suffix_is_refused", resources({"memory": "1K"}),
         "spec.containers[0].resources.requests.memory", "never upper-case K"),
    Case("gb_suffix_is_refused", resources({"memory": "1Gb"}), "spec.containers[0].resources.requests.memory",
         "drop the B"),
    Case("infinite_quantity_is_refused",
         POD_YAML + "    resources: {requests: {cpu: .inf}}\n", "spec.containers[0].resources.requests.cpu",
         "finite number"),
    Case("absurd_exponent_quantity_is_refused", resources({"cpu": "1e999999999"}),
         "spec.containers[0].resources.requests.cpu", "too large"),
    Case("request_above_limit_is_refused", resources({"cpu": "2"}, {"cpu": "1"}),
         "spec.containers[0].resources.requests.cpu", "must be less than or equal to cpu limit of 1"),
    Case("unknown_resource_name_is_refused", resources({"cpus": "1"}),
         "spec.containers[0].resources.requests.cpus", "must be a standard resource type or fully qualified"),
    Case("fractional_extended_resource_is_refused",
         resources({"nvidia.com/gpu": "0.5"}, {"nvidia.com/gpu": "0.5"}),
         "spec.containers[0].resources.limits.nvidia.com/gpu", "must be an integer"),
    Case("extended_resource_without_limit_is_refused", resources({"nvidia.com/gpu": "1"}),
         "spec.containers[0].resources.limits", "Limit must be set for non overcommitable resources"),
    Case("extended_resource_request_below_limit_is_refused",
         resources({"nvidia.com/gpu": "1"}, {"nvidia.com/gpu": "2"}),
         "spec.containers[0].resources.requests.nvidia.com/gpu",
         "must be equal to nvidia.com/gpu limit of 2"),
    Case("hugepages_without_limit_is_refused", resources({"hugepages-2Mi": "2Mi", "memory": "1Gi"}),
         "spec.containers[0].resources.limits",
         "Limit must be set for non overcommitable resources (hugepages-2Mi"),
    # -- containers and ports --------------------------------------------------------------------------
    Case("duplicate_container_names_are_refused", pod(container(), container(image="busybox:1.36")),
         "spec.containers[1].name", "Duplicate value: also used by spec.containers[0]"),
    Case("init_container_name_reused_is_refused", pod(container(), initContainers=[container()]),
         "spec.containers[0].name", "Duplicate value: also used by spec.initContainers[0]"),
    Case("missing_image_is_refused", pod({"name": "web"}), "spec.containers[0].image", "Required value"),
    Case("pod_without_containers_is_refused",
         {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": []}},
         "spec.containers", "Required value"),
    Case("container_port_zero_is_refused", pod(container(ports=[{"containerPort": 0}])),
         "spec.containers[0].ports[0].containerPort", "must be between 1 and 65535, inclusive"),
    Case("container_port_above_65535_is_refused", pod(container(ports=[{"containerPort": 70000}])),
         "spec.containers[0].ports[0].containerPort", "must be between 1 and 65535, inclusive"),
    Case("host_port_above_65535_is_refused", pod(container(ports=[{"containerPort": 80, "hostPort": 65536}])),
         "spec.containers[0].ports[0].hostPort", "must be between 1 and 65535, inclusive"),
    Case("duplicate_host_port_is_refused",
         pod(container(ports=[{"containerPort": 80, "hostPort": 8080}]),
             container(name="sidecar", ports=[{"containerPort": 81, "hostPort": 8080}])),
         "spec.containers[1].ports[0].hostPort", 'Duplicate value: "8080/TCP" is already used by '
                                                 "spec.containers[0].ports[0]"),
    # -- scheduling fields -----------------------------------------------------------------------------
    Case("toleration_exists_with_value_is_refused",
         pod(tolerations=[{"key": "dedicated", "operator": "Exists", "value": "gpu",
                           "effect": "NoSchedule"}]),
         "spec.tolerations[0].operator", "value must be empty when `operator` is 'Exists'"),
    Case("toleration_seconds_without_no_execute_is_refused",
         pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule",
                           "tolerationSeconds": 5}]),
         "spec.tolerations[0].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set"),
    Case("node_taint_with_unknown_effect_is_refused",
         node(spec={"taints": [{"key": "k", "effect": "NoRun"}]}), "spec.taints[0].effect",
         'Unsupported value: supported values: "NoExecute", "NoSchedule"'),
    Case("node_capacity_that_is_not_a_quantity_is_refused", node(status={"capacity": {"cpu": "four"}}),
         "status.capacity.cpu", "not a valid quantity"),
    Case("bad_label_key_is_refused", pod(meta={"labels": {"-app": "web"}}), "metadata.labels",
         "name part must consist of alphanumeric characters"),
    Case("label_value_with_a_space_is_refused", pod(meta={"labels": {"app": "my web"}}),
         "metadata.labels.app", "a valid label must be an empty string or consist of alphanumeric"),
    Case("bad_node_selector_value_is_refused", pod(nodeSelector={"disk": "ssd fast"}),
         "spec.nodeSelector.disk", "a valid label must be"),
    Case("node_affinity_in_without_values_is_refused",
         pod(affinity=affinity_term({"key": "zone", "operator": "In"})),
         "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
         ".matchExpressions[0].values", "must be specified when `operator` is 'In' or 'NotIn'"),
    Case("node_affinity_gt_with_non_integer_is_refused",
         pod(affinity=affinity_term({"key": "cores", "operator": "Gt", "values": ["four"]})),
         "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
         ".matchExpressions[0].values", "must be specified single value when `operator` is 'Lt' or 'Gt'"),
    Case("preferred_affinity_weight_zero_is_refused",
         pod(affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
             {"weight": 0, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}]}}),
         "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
         "must be in the range 1-100"),
    Case("topology_spread_max_skew_zero_is_refused",
         pod(topologySpreadConstraints=[{"maxSkew": 0, "topologyKey": "topology.kubernetes.io/zone",
                                         "whenUnsatisfiable": "DoNotSchedule"}]),
         "spec.topologySpreadConstraints[0].maxSkew", "must be greater than zero"),
    Case("topology_spread_unknown_when_unsatisfiable_is_refused",
         pod(topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                         "whenUnsatisfiable": "Maybe"}]),
         "spec.topologySpreadConstraints[0].whenUnsatisfiable",
         'supported values: "DoNotSchedule", "ScheduleAnyway"'),
    # -- workloads, autoscaling, services -------------------------------------------------------------
    Case("deployment_selector_not_matching_template_is_refused",
         deployment({"matchLabels": {"app": "web"}}, {"app": "api"}), "spec.template.metadata.labels",
         "`selector` does not match template `labels`"),
    Case("deployment_with_empty_selector_is_refused", deployment({}, {"app": "web"}), "spec.selector",
         "empty selector is invalid for deployment"),
    Case("hpa_min_replicas_zero_is_refused", hpa(0, 3), "spec.minReplicas",
         "must be greater than or equal to 1"),
    Case("hpa_max_below_min_is_refused", hpa(5, 3), "spec.maxReplicas",
         "must be greater than or equal to `minReplicas` (5)"),
    Case("multi_port_service_without_names_is_refused", service([{"port": 80}, {"port": 443}]),
         "spec.ports[0].name", "Required value"),
    Case("node_port_on_cluster_ip_service_is_refused", service([{"port": 80, "nodePort": 30080}]),
         "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'"),
    Case("node_port_outside_range_is_refused", service([{"port": 80, "nodePort": 80}], type="NodePort"),
         "spec.ports[0].nodePort", "The range of valid ports is 30000-32767"),
    Case("service_without_ports_is_refused", service([]), "spec.ports", "Required value"),
    # validation.go: supportedPortProtocols (validateServicePort, validateContainerPorts)
    Case("service_port_protocol_http_is_refused", service([{"port": 80, "protocol": "HTTP"}]),
         "spec.ports[0].protocol", 'Unsupported value: supported values: "SCTP", "TCP", "UDP"'),
    Case("service_port_protocol_in_lower_case_is_refused", service([{"port": 53, "protocol": "udp"}]),
         "spec.ports[0].protocol", 'write "UDP"'),
    Case("container_port_protocol_http_is_refused",
         pod(container(ports=[{"containerPort": 80, "protocol": "HTTP"}])),
         "spec.containers[0].ports[0].protocol", 'Unsupported value: supported values: "SCTP", "TCP", "UDP"'),
    Case("deployment_template_container_port_protocol_is_checked",
         {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
          "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
              "metadata": {"labels": {"app": "web"}},
              "spec": {"containers": [container(ports=[{"containerPort": 80, "protocol": "GRPC"}])]}}}},
         "spec.template.spec.containers[0].ports[0].protocol", "GRPC is an application protocol"),
    Case("system_priority_class_name_is_refused",
         {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-web"},
          "value": 5}, "metadata.name", "'system-' prefix are reserved"),
    Case("priority_value_above_one_billion_is_refused",
         {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "huge"},
          "value": 2_000_000_000}, "value", "maximum allowed value of a user defined priority is 1000000000"),
    # -- admission: what the cluster must already hold ---------------------------------------------------
    Case("pod_in_missing_namespace_is_refused", pod(meta={"namespace": "nope"}), "metadata.namespace",
         'namespaces "nope" not found'),
    Case("missing_priority_class_is_refused", pod(priorityClassName="gold"), "spec.priorityClassName",
         "no PriorityClass with name gold was found"),
    Case("missing_runtime_class_is_refused", pod(runtimeClassName="kata"), "spec.runtimeClassName",
         'RuntimeClass "kata" not found'),
    Case("pod_update_changing_resources_is_forbidden",
         resources({"cpu": "500m"}), "spec",
         "Forbidden: pod updates may not change fields other than `spec.containers[*].image`", setup=pod()),
]


def snapshot(c: labkit.Cluster) -> tuple[int, str]:
    """The store's revision counter and every stored object, as bytes that must not change."""
    objects = {"/".join(key): obj for key, obj in c.store.snapshot().items()}
    return c.store.revision, json.dumps(objects, sort_keys=True)


FIRST_YAML = POD_YAML.replace("name: web\nspec", "name: first\nspec")


def as_second_document(source: Any) -> Any:
    """The same bad input, preceded by a valid Pod in the same apply call."""
    first = pod(name="first")
    if isinstance(source, str):
        return FIRST_YAML + "---\n" + source
    if isinstance(source, list):
        return [first, *source]
    return [first, source]


def params(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.id) for case in cases]


def refused(c: labkit.Cluster, source: Any) -> labkit.ManifestError:
    before = snapshot(c)
    with pytest.raises(labkit.ManifestError) as info:
        c.apply(source)
    assert snapshot(c) == before, "a refused apply must leave the cluster unchanged"
    return info.value


def prepared(case: Case) -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    if case.setup is not None:
        c.apply(case.setup)
    return c


def test_corpus_is_large_and_ids_are_unique() -> None:
    """The corpus stays varied: at least 40 cases, each named once."""
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", params(CASES))
def test_bad_manifest_is_refused(case: Case) -> None:
    """The error names the field (``.path``) and says what is wrong (``.reason``)."""
    err = refused(prepared(case), case.source)
    assert isinstance(err, ValueError)
    assert err.path == case.path
    assert case.phrase in err.reason
    assert case.phrase in str(err)


@pytest.mark.parametrize("case", params([c for c in CASES if not c.alone_only]))
def test_bad_second_document_leaves_cluster_unchanged(case: Case) -> None:
    """Apply is atomic: a valid first document is not stored when the second one is refused."""
    c = prepared(case)
    err = refused(c, as_second_document(case.source))
    assert err.path == case.path
    assert case.phrase in err.reason
    with pytest.raises(KeyError):
        c.get("Pod", "first")


def test_yaml_error_points_at_the_line_in_the_whole_text() -> None:
    """Line numbers count from the top of the text, across ``---`` separators, as an editor shows them."""
    bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [web\n"
    assert "at line 5, column 1" in refused(labkit.Cluster(seed=0), bad).reason
    lines = FIRST_YAML.count("\n") + 1  # the first document and its "---"
    second = refused(labkit.Cluster(seed=0), FIRST_YAML + "---\n" + bad)
    assert f"at line {lines + 5}, column 1" in second.reason


def test_error_names_the_document_it_comes_from() -> None:
    """In a multi-document apply the message says which object is wrong."""
    err = refused(labkit.Cluster(seed=0), [pod(name="first"), pod(name="second", restartPolicy="Sometimes")])
    assert err.document == "Pod/second"
    assert str(err).startswith("Pod/second: spec.restartPolicy: Unsupported value")
    assert str(err).endswith("(got 'Sometimes')")


def test_namespace_created_in_a_refused_apply_does_not_exist() -> None:
    """A Namespace that precedes a bad Pod in the same call is rolled back with it."""
    c = labkit.Cluster(seed=0)
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    refused(c, [ns, pod(meta={"namespace": "team-a"}, restartPolicy="Sometimes")])
    with pytest.raises(KeyError, match='namespaces "team-a" not found'):
        c.get("Namespace", "team-a")


def test_refused_apply_leaves_nothing_for_the_scheduler() -> None:
    """Nothing of a refused call reaches the watchers: running the cluster afterwards changes nothing."""
    c = labkit.Cluster(seed=0)
    c.add_node_pool("pool-a", "ecs.g7.xlarge", 1)
    c.run()  # the node registers first (its Lease, the RegisteredNode event)
    refused(c, [pod(name="first"), pod(restartPolicy="Sometimes")])
    before = snapshot(c)
    c.run()
    assert snapshot(c) == before
    assert c.list("Pod") == []


@pytest.mark.parametrize(("data", "byte", "offset"), [
    pytest.param("name: caf\u00e9\n".encode("latin-1"), 0xE9, 9, id="latin-1"),
    pytest.param(POD_YAML.encode("utf-16"), 0xFF, 0, id="utf-16"),
    pytest.param(b"\x89PNG\r\n\x1a\n", 0x89, 0, id="binary"),
])
def test_manifest_file_that_is_not_utf8_is_a_manifest_error(tmp_path, data: bytes, byte: int,
                                                            offset: int) -> None:
    """A file in another encoding is refused as a ManifestError naming the file and the first bad
    byte, never a UnicodeDecodeError, and the cluster is unchanged."""
    path = tmp_path / "web.yaml"
    path.write_bytes(data)
    for source in (path, str(path)):
        err = refused(labkit.Cluster(seed=0), source)
        assert err.path == ""
        assert err.value == str(path)
        assert "the file is not UTF-8 text" in err.reason
        assert f"byte 0x{byte:02x} at offset {offset}" in err.reason
        assert err.reason.endswith("save it as UTF-8")


def test_non_utf8_file_after_a_valid_pod_in_one_list_leaves_the_cluster_unchanged(tmp_path) -> None:
    """Loading fails before anything is stored, so a valid document earlier in the same call is not kept."""
    path = tmp_path / "bad.yaml"
    path.write_bytes(POD_YAML.replace("nginx", "ngi\u00f1x").encode("cp1252"))
    c = labkit.Cluster(seed=0)
    c.apply(pod(name="kept"))
    refused(c, path)
    assert [p["metadata"]["name"] for p in c.list("Pod")] == ["kept"]


def test_utf8_file_with_non_ascii_text_is_accepted(tmp_path) -> None:
    """UTF-8 itself (with a byte order mark or without) still loads, non-ASCII characters included."""
    manifest = POD_YAML.replace("name: web\nspec", "name: web\n  annotations: {note: caf\u00e9}\nspec")
    for i, data in enumerate((manifest.encode("utf-8"), manifest.encode("utf-8-sig"))):
        path = tmp_path / f"web-{i}.yaml"
        path.write_bytes(data)
        (obj,) = labkit.Cluster(seed=0).apply(path)
        assert obj["metadata"]["annotations"] == {"note": "caf\u00e9"}


def test_missing_manifest_file_is_refused() -> None:
    """A path that does not exist is an error about the path, not a YAML parse of the string."""
    err = refused(labkit.Cluster(seed=0), "data/manifests/does-not-exist.yaml")
    assert err.path == "" and "no such manifest file" in err.reason


# -- the fast schema check agrees with jsonschema -----------------------------------------------------
RICH_POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "annotations": {"a": "b"}},
    "spec": {
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}],
        "containers": [{
            "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "MODE", "value": "prod"}],
            "resources": {"requests": {"cpu": "250m", "memory": 134217728}, "limits": {"cpu": 1}},
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
        }],
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
        "affinity": affinity_term({"key": "zone", "operator": "In", "values": ["a", "b"]}),
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                       "whenUnsatisfiable": "DoNotSchedule",
                                       "labelSelector": {"matchLabels": {"app": "web"}}}],
        "terminationGracePeriodSeconds": 10, "hostNetwork": False,
    },
}


def test_rich_pod_passes_every_check() -> None:
    """The rich Pod used for mutations below is itself valid (strict schema and API rules)."""
    c = labkit.Cluster(seed=0)
    c.apply(json.loads(json.dumps(RICH_POD)))


FIELD_NAMES = ["name", "image", "containers", "cpu", "extra"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70000) | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2)
    | st.dictionaries(st.sampled_from(FIELD_NAMES), inner, max_size=2),
    max_leaves=4)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_mutation_of_a_valid_pod_applies_or_raises_manifest_error(data: st.DataObject) -> None:
    """Replace or add any field of a rich, valid Pod with any JSON value: apply either stores it
    or raises ManifestError (never another exception), and a refusal changes nothing."""
    doc = json.loads(json.dumps(RICH_POD))
    path = data.draw(st.sampled_from([p for p in _paths(doc) if len(p) > 1]))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if data.draw(st.booleans()):
        parent[path[-1]] = data.draw(JSON_VALUES)
    elif isinstance(parent, dict):
        parent[data.draw(st.sampled_from(FIELD_NAMES))] = data.draw(JSON_VALUES)
    c = labkit.Cluster(seed=0)
    def state() -> tuple[int, str]:
        items = [[list(k), v] for k, v in c.store.snapshot().items()]
        return c.store.revision, json.dumps(items, sort_keys=True, default=str)

    before = state()
    try:
        c.apply(doc)
    except labkit.ManifestError:
        assert state() == before

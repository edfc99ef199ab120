"""Every kind the chapters use is validated as the v1.36 API server validates it.

Each refused case is a manifest that kube-apiserver refuses (``pkg/apis/<group>/validation``, after
the v1 defaulting that runs before validation), with the field path it prints and the start of its
reason. Each accepted case is a valid-but-odd manifest the API server stores, which labkit must not
refuse. Integer fields are bounded by their OpenAPI format (int32/int64), as Go's JSON decoding
bounds them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

import labkit
from labkit.api.defaults import builtin_objects

Mutation = Callable[[dict[str, Any]], Any]


# -- builders -------------------------------------------------------------------------------------
def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


def hpa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
                }
            ],
            "behavior": {
                "scaleUp": {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 300},
            },
        },
    }


def pdb() -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }


def pvc() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def runtime_class() -> dict[str, Any]:
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "kata"},
        "handler": "kata-qemu",
        "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}},
        "scheduling": {
            "nodeSelector": {"runtime": "kata"},
            "tolerations": [{"key": "kata", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }


def priority_class() -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "high"},
        "value": 1000,
    }


BUILDERS = {
    "pod": pod,
    "deployment": deployment,
    "service": service,
    "hpa": hpa,
    "pdb": pdb,
    "pvc": pvc,
    "runtime_class": runtime_class,
    "priority_class": priority_class,
}


def container(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else doc["spec"]
    return spec["containers"][0]


def setter(path: str, value: Any) -> Mutation:
    """A mutation that sets ``a.b[0].c`` (creating dicts on the way) to ``value``."""

    def mutate(doc: dict[str, Any]) -> None:
        parts = [int(p) if p.isdigit() else p for p in path.replace("[", ".").replace("]", "").split(".")]
        node: Any = doc
        for p in parts[:-1]:
            node = node[p] if isinstance(p, int) else node.setdefault(p, {})
        node[parts[-1]] = value

    return mutate


def probe(kind: str, **fields: Any) -> Mutation:
    return lambda doc: container(doc).__setitem__(kind, fields)


def hook(which: str, **handler: Any) -> Mutation:
    return lambda doc: container(doc).__setitem__("lifecycle", {which: handler})


def built(name: str, *mutations: Mutation) -> dict[str, Any]:
    doc = copy.deepcopy(BUILDERS[name]())
    for m in mutations:
        m(doc)
    return doc


def cluster() -> labkit.Cluster:
    c = labkit.Cluster(seed=0)
    existing = {pc["metadata"]["name"] for pc in c.list("PriorityClass")}
    for obj in builtin_objects():  # until Cluster.__init__ creates them (see test_priority_admission)
        if obj["metadata"]["name"] not in existing:
            c.api.create(obj)
    return c


HTTP = {"httpGet": {"port": 80}}


def decode(kind: str, number: int, field: str, go_type: str, version: str = "v1") -> str:
    """The BadRequest of Go's JSON decoding for a number the field's type cannot hold."""
    return (
        f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot unmarshal number '
        f"{number} into Go struct field {field} of type {go_type}"
    )


# (id, builder, mutations, expected path, expected start of the reason)
REFUSED: list[tuple[str, str, tuple[Mutation, ...], str, str]] = [
    # -- Service (validateService, validateServicePort, the NodePort allocator) -------------------------
    (
        "service_port_zero",
        "service",
        (setter("spec.ports", [{"port": 0}]),),
        "spec.ports[0].port",
        "Invalid value: must be between 1 and 65535, inclusive",
    ),
    (
        "service_target_port_too_big",
        "service",
        (setter("spec.ports", [{"port": 80, "targetPort": 70000}]),),
        "spec.ports[0].targetPort",
        "Invalid value: must be between 1 and 65535, inclusive",
    ),
    (
        "service_target_port_bad_name",
        "service",
        (setter("spec.ports", [{"port": 80, "targetPort": "http_web"}]),),
        "spec.ports[0].targetPort",
        "Invalid value: must be an IANA_SVC_NAME",
    ),
    (
        "service_unknown_type",
        "service",
        (setter("spec.type", "Internal"),),
        "spec.type",
        'Unsupported value: supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ),
    (
        "service_node_port_below_range",
        "service",
        (setter("spec.type", "NodePort"), setter("spec.ports", [{"port": 80, "nodePort": 29999}])),
        "spec.ports[0].nodePort",
        "Invalid value: provided port is not in the valid range. The range of valid ports is 30000-32767",
    ),
    (
        "service_node_port_on_cluster_ip",
        "service",
        (setter("spec.ports", [{"port": 80, "nodePort": 30080}]),),
        "spec.ports[0].nodePort",
        "Forbidden: may not be used when `type` is 'ClusterIP'",
    ),
    (
        "service_duplicate_node_port",
        "service",
        (
            setter("spec.type", "NodePort"),
            setter(
                "spec.ports",
                [{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080}],
            ),
        ),
        "spec.ports[1].nodePort",
        "Duplicate value",
    ),
    (
        "service_external_traffic_policy_on_cluster_ip",
        "service",
        (setter("spec.externalTrafficPolicy", "Local"),),
        "spec.externalTrafficPolicy",
        "Invalid value: may only be set for externally-accessible services",
    ),
    (
        "service_external_traffic_policy_unknown",
        "service",
        (setter("spec.type", "NodePort"), setter("spec.externalTrafficPolicy", "Global")),
        "spec.externalTrafficPolicy",
        'Unsupported value: supported values: "Cluster", "Local"',
    ),
    (
        "service_internal_traffic_policy_unknown",
        "service",
        (setter("spec.internalTrafficPolicy", "Node"),),
        "spec.internalTrafficPolicy",
        'Unsupported value: supported values: "Cluster", "Local"',
    ),
    (
        "service_session_affinity_unknown",
        "service",
        (setter("spec.sessionAffinity", "Cookie"),),
        "spec.sessionAffinity",
        'Unsupported value: supported values: "ClientIP", "None"',
    ),
    (
        "service_client_ip_timeout_too_long",
        "service",
        (
            setter("spec.sessionAffinity", "ClientIP"),
            setter("spec.sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 86401}}),
        ),
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
        "Invalid value: must be greater than 0 and less than 86400",
    ),
    (
        "service_health_check_node_port_without_local",
        "service",
        (setter("spec.type", "LoadBalancer"), setter("spec.healthCheckNodePort", 30500)),
        "spec.healthCheckNodePort",
        "Invalid value: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
    ),
    (
        "service_allocate_node_ports_on_node_port",
        "service",
        (setter("spec.type", "NodePort"), setter("spec.allocateLoadBalancerNodePorts", False)),
        "spec.allocateLoadBalancerNodePorts",
        "Forbidden: may only be used when `type` is 'LoadBalancer'",
    ),
    (
        "service_headless_node_port",
        "service",
        (setter("spec.type", "NodePort"), setter("spec.clusterIP", "None")),
        "spec.clusterIPs[0]",
        "Invalid value: may not be set to 'None' for NodePort services",
    ),
    (
        "service_external_name_missing",
        "service",
        (setter("spec.type", "ExternalName"),),
        "spec.externalName",
        "Required value",
    ),
    # -- HorizontalPodAutoscaler v2 ---------------------------------------------------------------------
    (
        "hpa_max_replicas_zero",
        "hpa",
        (setter("spec.maxReplicas", 0),),
        "spec.maxReplicas",
        "Required value: must be set and greater than 0",
    ),
    (
        "hpa_min_replicas_zero",
        "hpa",
        (setter("spec.minReplicas", 0),),
        "spec.minReplicas",
        "Invalid value: must be greater than or equal to 1",
    ),
    (
        "hpa_target_api_version_without_group",
        "hpa",
        (setter("spec.scaleTargetRef.apiVersion", "v1"),),
        "spec.scaleTargetRef.apiVersion",
        "Invalid value: apiVersion must specify API group",
    ),
    (
        "hpa_target_without_name",
        "hpa",
        (setter("spec.scaleTargetRef.name", ""),),
        "spec.scaleTargetRef.name",
        "Required value",
    ),
    (
        "hpa_metric_type_unknown",
        "hpa",
        (setter("spec.metrics[0].type", "Cpu"),),
        "spec.metrics[0].type",
        'Unsupported value: supported values: "ContainerResource", "External", "Object", "Pods", "Resource"',
    ),
    (
        "hpa_metric_source_missing",
        "hpa",
        (setter("spec.metrics[0].type", "Pods"),),
        "spec.metrics[0].pods",
        "Required value: must populate information for the given metric source",
    ),
    (
        "hpa_target_type_unknown",
        "hpa",
        (setter("spec.metrics[0].resource.target.type", "Percent"),),
        "spec.metrics[0].resource.target.type",
        "Invalid value: must be either Utilization, Value, or AverageValue",
    ),
    (
        "hpa_utilization_zero",
        "hpa",
        (setter("spec.metrics[0].resource.target.averageUtilization", 0),),
        "spec.metrics[0].resource.target.averageUtilization",
        "Invalid value: must be greater than 0",
    ),
    (
        "hpa_resource_target_without_value",
        "hpa",
        (setter("spec.metrics[0].resource.target", {"type": "Utilization"}),),
        "spec.metrics[0].resource.target.averageUtilization",
        "Required value: must set either a target raw value or a target utilization",
    ),
    (
        "hpa_average_value_not_positive",
        "hpa",
        (setter("spec.metrics[0].resource.target", {"type": "AverageValue", "averageValue": "0"}),),
        "spec.metrics[0].resource.target.averageValue",
        "Invalid value: must be positive",
    ),
    (
        "hpa_policy_type_unknown",
        "hpa",
        (setter("spec.behavior.scaleUp.policies[0].type", "Replicas"),),
        "spec.behavior.scaleUp.policies[0].type",
        'Unsupported value: supported values: "Percent", "Pods"',
    ),
    (
        "hpa_policy_value_zero",
        "hpa",
        (setter("spec.behavior.scaleUp.policies[0].value", 0),),
        "spec.behavior.scaleUp.policies[0].value",
        "Invalid value: must be greater than zero",
    ),
    (
        "hpa_policy_period_zero",
        "hpa",
        (setter("spec.behavior.scaleUp.policies[0].periodSeconds", 0),),
        "spec.behavior.scaleUp.policies[0].periodSeconds",
        "Invalid value: must be greater than zero",
    ),
    (
        "hpa_policy_period_above_1800",
        "hpa",
        (setter("spec.behavior.scaleUp.policies[0].periodSeconds", 1801),),
        "spec.behavior.scaleUp.policies[0].periodSeconds",
        "Invalid value: must be less than or equal to 1800",
    ),
    (
        "hpa_empty_policies",
        "hpa",
        (setter("spec.behavior.scaleUp.policies", []),),
        "spec.behavior.scaleUp.policies",
        "Required value: must specify at least one Policy",
    ),
    (
        "hpa_window_negative",
        "hpa",
        (setter("spec.behavior.scaleDown.stabilizationWindowSeconds", -1),),
        "spec.behavior.scaleDown.stabilizationWindowSeconds",
        "Invalid value: must be greater than or equal to zero",
    ),
    (
        "hpa_window_above_3600",
        "hpa",
        (setter("spec.behavior.scaleDown.stabilizationWindowSeconds", 3601),),
        "spec.behavior.scaleDown.stabilizationWindowSeconds",
        "Invalid value: must be less than or equal to 3600",
    ),
    (
        "hpa_select_policy_unknown",
        "hpa",
        (setter("spec.behavior.scaleDown.selectPolicy", "Average"),),
        "spec.behavior.scaleDown.selectPolicy",
        'Unsupported value: supported values: "Disabled", "Max", "Min"',
    ),
    # -- RuntimeClass, PriorityClass -----------------------------------------------------------------------
    (
        "runtime_class_handler_not_a_label",
        "runtime_class",
        (setter("handler", "Kata_QEMU"),),
        "handler",
        "Invalid value: a lowercase RFC 1123 label must consist of",
    ),
    (
        "runtime_class_overhead_negative",
        "runtime_class",
        (setter("overhead.podFixed.cpu", "-1"),),
        "overhead.limits[cpu]",
        "Invalid value: must be greater than or equal to 0",
    ),
    (
        "runtime_class_toleration_twice",
        "runtime_class",
        (
            setter(
                "scheduling.tolerations",
                [{"key": "kata", "operator": "Exists"}, {"key": "kata", "operator": "Exists"}],
            ),
        ),
        "scheduling.tolerations[1]",
        "Duplicate value",
    ),
    (
        "runtime_class_bad_node_selector_value",
        "runtime_class",
        (setter("scheduling.nodeSelector.runtime", "a b"),),
        "scheduling.nodeSelector.runtime",
        "Invalid value: a valid label must be",
    ),
    (
        "priority_class_preemption_policy_unknown",
        "priority_class",
        (setter("preemptionPolicy", "Always"),),
        "preemptionPolicy",
        'Unsupported value: supported values: "PreemptLowerPriority", "Never"',
    ),
    (
        "priority_class_system_name_with_wrong_value",
        "priority_class",
        (setter("metadata.name", "system-node-critical"), setter("value", 5)),
        "metadata.name",
        "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: "
        "value of "
        "system-node-critical PriorityClass must be 2000001000",
    ),
    (
        "priority_class_unknown_system_name",
        "priority_class",
        (setter("metadata.name", "system-web"),),
        "metadata.name",
        "Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: system-web is not a known system priority class",
    ),
    (
        "priority_class_value_above_user_maximum",
        "priority_class",
        (setter("value", 1_000_000_001),),
        "value",
        "Forbidden: maximum allowed value of a user defined priority is 1000000000",
    ),
    # -- PodDisruptionBudget --------------------------------------------------------------------------------
    (
        "pdb_min_available_and_max_unavailable",
        "pdb",
        (setter("spec.maxUnavailable", 1),),
        "spec",
        "Invalid value: minAvailable and maxUnavailable cannot be both set",
    ),
    (
        "pdb_min_available_negative",
        "pdb",
        (setter("spec.minAvailable", -1),),
        "spec.minAvailable",
        "Invalid value: must be greater than or equal to 0",
    ),
    (
        "pdb_min_available_not_a_percent",
        "pdb",
        (setter("spec.minAvailable", "half"),),
        "spec.minAvailable",
        "Invalid value: a valid percent string must be",
    ),
    (
        "pdb_max_unavailable_above_100_percent",
        "pdb",
        (lambda d: d["spec"].pop("minAvailable"), setter("spec.maxUnavailable", "120%")),
        "spec.maxUnavailable",
        "Invalid value: must not be greater than 100%",
    ),
    (
        "pdb_unhealthy_pod_eviction_policy_unknown",
        "pdb",
        (setter("spec.unhealthyPodEvictionPolicy", "Never"),),
        "spec.unhealthyPodEvictionPolicy",
        'Unsupported value: supported values: "AlwaysAllow", "IfHealthyBudget"',
    ),
    # -- PersistentVolumeClaim ------------------------------------------------------------------------------
    (
        "pvc_without_access_modes",
        "pvc",
        (setter("spec.accessModes", []),),
        "spec.accessModes",
        "Required value: at least 1 access mode is required",
    ),
    (
        "pvc_unknown_access_mode",
        "pvc",
        (setter("spec.accessModes", ["ReadWriteAll"]),),
        "spec.accessModes",
        'Unsupported value: supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", '
        '"ReadWriteOncePod"',
    ),
    (
        "pvc_read_write_once_pod_with_another_mode",
        "pvc",
        (setter("spec.accessModes", ["ReadWriteOncePod", "ReadOnlyMany"]),),
        "spec.accessModes",
        "Forbidden: may not use ReadWriteOncePod with other access modes",
    ),
    (
        "pvc_without_storage_request",
        "pvc",
        (setter("spec.resources", {}),),
        "spec.resources[storage]",
        "Required value",
    ),
    (
        "pvc_zero_storage",
        "pvc",
        (setter("spec.resources.requests.storage", "0"),),
        "spec.resources[storage]",
        "Invalid value: must be greater than zero",
    ),
    (
        "pvc_unknown_volume_mode",
        "pvc",
        (setter("spec.volumeMode", "File"),),
        "spec.volumeMode",
        'Unsupported value: supported values: "Block", "Filesystem"',
    ),
    # -- Pod probes, lifecycle hooks -------------------------------------------------------------------
    (
        "liveness_success_threshold_two",
        "pod",
        (probe("livenessProbe", **HTTP, successThreshold=2),),
        "spec.containers[0].livenessProbe.successThreshold",
        "Invalid value: must be 1",
    ),
    (
        "startup_success_threshold_two",
        "pod",
        (probe("startupProbe", **HTTP, successThreshold=2),),
        "spec.containers[0].startupProbe.successThreshold",
        "Invalid value: must be 1",
    ),
    (
        "readiness_with_termination_grace_period",
        "pod",
        (probe("readinessProbe", **HTTP, terminationGracePeriodSeconds=10),),
        "spec.containers[0].readinessProbe.terminationGracePeriodSeconds",
        "Invalid value: must not be set for readinessProbes",
    ),
    (
        "liveness_termination_grace_period_zero",
        "pod",
        (probe("livenessProbe", **HTTP, terminationGracePeriodSeconds=0),),
        "spec.containers[0].livenessProbe.terminationGracePeriodSeconds",
        "Invalid value: must be greater than 0",
    ),
    (
        "probe_without_handler",
        "pod",
        (probe("livenessProbe", periodSeconds=5),),
        "spec.containers[0].livenessProbe",
        "Required value: must specify a handler type",
    ),
    (
        "probe_with_two_handlers",
        "pod",
        (probe("readinessProbe", **HTTP, tcpSocket={"port": 80}),),
        "spec.containers[0].readinessProbe.tcpSocket",
        "Forbidden: may not specify more than 1 handler type",
    ),
    (
        "probe_negative_period",
        "pod",
        (probe("readinessProbe", **HTTP, periodSeconds=-1),),
        "spec.containers[0].readinessProbe.periodSeconds",
        "Invalid value: must be greater than or equal to 0",
    ),
    (
        "probe_http_port_zero",
        "pod",
        (probe("livenessProbe", httpGet={"port": 0}),),
        "spec.containers[0].livenessProbe.httpGet.port",
        "Invalid value: must be between 1 and 65535, inclusive",
    ),
    (
        "probe_http_scheme_lower_case",
        "pod",
        (probe("livenessProbe", httpGet={"port": 80, "scheme": "http"}),),
        "spec.containers[0].livenessProbe.httpGet.scheme",
        'Unsupported value: supported values: "HTTP", "HTTPS"',
    ),
    (
        "probe_exec_without_command",
        "pod",
        (probe("livenessProbe", exec={"command": []}),),
        "spec.containers[0].livenessProbe.exec.command",
        "Required value",
    ),
    (
        "probe_grpc_port_zero",
        "pod",
        (probe("livenessProbe", grpc={"port": 0}),),
        "spec.containers[0].livenessProbe.grpc.port",
        "Invalid value: must be between 1 and 65535, inclusive",
    ),
    (
        "hook_without_handler",
        "pod",
        (hook("preStop"),),
        "spec.containers[0].lifecycle.preStop",
        "Required value: must specify a handler type",
    ),
    (
        "hook_with_two_handlers",
        "pod",
        (hook("postStart", exec={"command": ["true"]}, sleep={"seconds": 1}),),
        "spec.containers[0].lifecycle.postStart.sleep",
        "Forbidden: may not specify more than 1 handler type",
    ),
    (
        "hook_sleep_longer_than_grace_period",
        "pod",
        (hook("preStop", sleep={"seconds": 31}),),
        "spec.containers[0].lifecycle.preStop.sleep",
        "Invalid value: must be non-negative and less than terminationGracePeriodSeconds (30)",
    ),
    (
        "init_container_with_probe",
        "pod",
        (setter("spec.initContainers", [{"name": "init", "image": "busybox", "readinessProbe": HTTP}]),),
        "spec.initContainers[0].readinessProbe",
        "Forbidden: may not be set for init containers without restartPolicy=Always",
    ),
    (
        "template_probe_is_checked",
        "deployment",
        (probe("livenessProbe", **HTTP, successThreshold=3),),
        "spec.template.spec.containers[0].livenessProbe.successThreshold",
        "Invalid value: must be 1",
    ),
    # -- integer formats (Go's JSON decoding of int32/int64 fields) ------------------------------------
    (
        "replicas_above_int32",
        "deployment",
        (setter("spec.replicas", 10**12),),
        "spec.replicas",
        decode("Deployment", 10**12, "DeploymentSpec.spec.replicas", "int32"),
    ),
    (
        "priority_value_below_int32",
        "priority_class",
        (setter("value", -(2**31) - 1),),
        "value",
        decode("PriorityClass", -(2**31) - 1, "PriorityClass.value", "int32"),
    ),
    (
        "grace_period_above_int64",
        "pod",
        (setter("spec.terminationGracePeriodSeconds", 10**30),),
        "spec.terminationGracePeriodSeconds",
        decode("Pod", 10**30, "PodSpec.spec.terminationGracePeriodSeconds", "int64"),
    ),
    (
        "active_deadline_above_int64",
        "pod",
        (setter("spec.activeDeadlineSeconds", 10**30),),
        "spec.activeDeadlineSeconds",
        decode("Pod", 10**30, "PodSpec.spec.activeDeadlineSeconds", "int64"),
    ),
    (
        "container_port_above_int32",
        "deployment",
        (lambda d: container(d).__setitem__("ports", [{"containerPort": 2**31}]),),
        "spec.template.spec.containers[0].ports[0].containerPort",
        decode(
            "Deployment", 2**31, "ContainerPort.spec.template.spec.containers.ports.containerPort", "int32"
        ),
    ),
    (
        "probe_period_above_int32",
        "pod",
        (probe("livenessProbe", **HTTP, periodSeconds=2**32),),
        "spec.containers[0].livenessProbe.periodSeconds",
        decode("Pod", 2**32, "Probe.spec.containers.livenessProbe.periodSeconds", "int32"),
    ),
    (
        "hpa_max_replicas_above_int32",
        "hpa",
        (setter("spec.maxReplicas", 2**31),),
        "spec.maxReplicas",
        decode(
            "HorizontalPodAutoscaler", 2**31, "HorizontalPodAutoscalerSpec.spec.maxReplicas", "int32", "v2"
        ),
    ),
    (
        "max_surge_above_int32",
        "deployment",
        (setter("spec.strategy", {"rollingUpdate": {"maxSurge": 2**40}}),),
        "spec.strategy.rollingUpdate.maxSurge",
        decode("Deployment", 2**40, "RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge", "int32"),
    ),
    (
        "min_ready_seconds_above_int32",
        "deployment",
        (setter("spec.minReadySeconds", 2**31),),
        "spec.minReadySeconds",
        decode("Deployment", 2**31, "DeploymentSpec.spec.minReadySeconds", "int32"),
    ),
]

# (id, builder, mutations): manifests the API server stores as they are (after its defaulting).
ACCEPTED: list[tuple[str, str, tuple[Mutation, ...]]] = [
    (
        "service_target_port_zero_means_the_port",
        "service",
        (setter("spec.ports", [{"port": 80, "targetPort": 0}]),),
    ),
    (
        "service_target_port_empty_string_means_the_port",
        "service",
        (setter("spec.ports", [{"port": 80, "targetPort": ""}]),),
    ),
    (
        "service_affinity_config_ignored_without_client_ip",
        "service",
        (setter("spec.sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 0}}),),
    ),
    ("service_client_ip_without_timeout", "service", (setter("spec.sessionAffinity", "ClientIP"),)),
    (
        "service_node_port_type_with_local_policy",
        "service",
        (
            setter("spec.type", "NodePort"),
            setter("spec.externalTrafficPolicy", "Local"),
            setter("spec.ports", [{"port": 80, "nodePort": 32767, "targetPort": "http"}]),
        ),
    ),
    (
        "service_headless_without_ports",
        "service",
        (setter("spec.clusterIP", "None"), setter("spec.ports", [])),
    ),
    (
        "service_external_name_with_trailing_dot",
        "service",
        (
            setter("spec.type", "ExternalName"),
            setter("spec.externalName", "db.example.com."),
            setter("spec.ports", []),
        ),
    ),
    ("service_internal_traffic_policy_local", "service", (setter("spec.internalTrafficPolicy", "Local"),)),
    (
        "hpa_behavior_without_policies_gets_the_defaults",
        "hpa",
        (setter("spec.behavior", {"scaleUp": {"selectPolicy": "Disabled"}, "scaleDown": {}}),),
    ),
    (
        "hpa_window_3600_and_period_1800",
        "hpa",
        (
            setter(
                "spec.behavior.scaleDown",
                {
                    "stabilizationWindowSeconds": 3600,
                    "policies": [{"type": "Percent", "value": 200, "periodSeconds": 1800}],
                },
            ),
        ),
    ),
    (
        "hpa_without_metrics_or_min_replicas",
        "hpa",
        (lambda d: d["spec"].pop("metrics"), lambda d: d["spec"].pop("minReplicas")),
    ),
    (
        "hpa_external_metric_with_value",
        "hpa",
        (
            setter(
                "spec.metrics",
                [
                    {
                        "type": "External",
                        "external": {
                            "metric": {"name": "queue_depth"},
                            "target": {"type": "Value", "value": "30"},
                        },
                    }
                ],
            ),
        ),
    ),
    ("pdb_with_zero_percent", "pdb", (setter("spec.minAvailable", "0%"),)),
    ("pdb_with_empty_selector", "pdb", (setter("spec.selector", {}),)),
    (
        "pvc_read_only_many_and_read_write_once",
        "pvc",
        (setter("spec.accessModes", ["ReadOnlyMany", "ReadWriteOnce"]),),
    ),
    (
        "runtime_class_with_extended_resource_overhead",
        "runtime_class",
        (setter("overhead.podFixed", {"example.com/dongle": "1"}),),
    ),
    ("priority_class_at_user_maximum_and_lowest_int32", "priority_class", (setter("value", 1_000_000_000),)),
    ("priority_class_lowest_int32", "priority_class", (setter("value", -(2**31)),)),
    (
        "liveness_success_threshold_zero_defaults_to_one",
        "pod",
        (probe("livenessProbe", **HTTP, successThreshold=0, periodSeconds=0, timeoutSeconds=0),),
    ),
    ("readiness_success_threshold_three", "pod", (probe("readinessProbe", **HTTP, successThreshold=3),)),
    ("probe_http_without_path_or_scheme", "pod", (probe("startupProbe", httpGet={"port": "http"}),)),
    ("hook_sleep_zero", "pod", (hook("preStop", sleep={"seconds": 0}),)),
    (
        "hook_sleep_equal_to_grace_period",
        "pod",
        (hook("preStop", sleep={"seconds": 60}), setter("spec.terminationGracePeriodSeconds", 60)),
    ),
    (
        "sidecar_init_container_with_probes",
        "pod",
        (
            setter(
                "spec.initContainers",
                [
                    {
                        "name": "proxy",
                        "image": "envoy",
                        "restartPolicy": "Always",
                        "readinessProbe": HTTP,
                        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                    }
                ],
            ),
        ),
    ),
    ("negative_grace_period_is_stored_as_one", "pod", (setter("spec.terminationGracePeriodSeconds", -5),)),
    ("int64_grace_period_above_int32", "pod", (setter("spec.terminationGracePeriodSeconds", 2**40),)),
    ("replicas_at_int32_maximum", "deployment", (setter("spec.replicas", 2**31 - 1),)),
]


@pytest.mark.parametrize(
    ("builder", "mutations", "path", "reason"), [pytest.param(b, m, p, r, id=i) for i, b, m, p, r in REFUSED]
)
def test_invalid_manifest_is_refused_with_the_api_servers_path_and_reason(
    builder: str, mutations: tuple[Mutation, ...], path: str, reason: str
) -> None:
    c = cluster()
    before = c.store.revision
    with pytest.raises(labkit.ManifestError) as info:
        c.apply(built(builder, *mutations))
    assert (info.value.path, info.value.reason[: len(reason)]) == (path, reason)
    assert c.store.revision == before


@pytest.mark.parametrize(("builder", "mutations"), [pytest.param(b, m, id=i) for i, b, m in ACCEPTED])
def test_valid_but_odd_manifest_is_accepted(builder: str, mutations: tuple[Mutation, ...]) -> None:
    c = cluster()
    (stored,) = c.apply(built(builder, *mutations))
    assert stored["metadata"]["uid"]


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_the_base_manifests_are_valid(builder: str) -> None:
    """The builders themselves are accepted, so each refusal above is the mutation's doing."""
    assert cluster().apply(built(builder))[0]["metadata"]["uid"]


def test_service_defaults_fill_target_port_and_client_ip_timeout() -> None:
    """SetDefaults_Service: a 0 targetPort is the port; ClientIP affinity gets 10800 s; None drops
    the config."""
    c = cluster()
    (svc,) = c.apply(
        built(
            "service",
            setter("spec.ports", [{"port": 8080, "targetPort": 0}]),
            setter("spec.sessionAffinity", "ClientIP"),
        )
    )
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert svc["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    (other,) = c.apply(
        built(
            "service",
            setter("metadata.name", "other"),
            setter("spec.sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 0}}),
        )
    )
    assert "sessionAffinityConfig" not in other["spec"]


def test_negative_pod_grace_period_is_stored_as_one_but_a_templates_is_kept() -> None:
    """Convert_v1_Pod_To_core_Pod forces 1 on Pods only; a Deployment's template keeps what was written."""
    c = cluster()
    (p,) = c.apply(built("pod", setter("spec.terminationGracePeriodSeconds", -5)))
    assert p["spec"]["terminationGracePeriodSeconds"] == 1
    (d,) = c.apply(built("deployment", setter("spec.template.spec.terminationGracePeriodSeconds", -5)))
    assert d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == -5

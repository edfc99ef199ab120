"""Defaulting and admission: what the API server adds to an object before it is stored.

Mirrors ``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Pod``, ``SetDefaults_Container``,
``SetDefaults_Service``), ``pkg/apis/apps/v1/defaults.go`` and the admission plugins that run by
default (``plugin/pkg/admission/priority``, ``defaulttolerationseconds``, ``runtimeclass``,
``serviceaccount``). The scheduler's non-zero default requests (100m CPU, 200Mi memory) are a
*scoring* convention and are deliberately **not** written into the object.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from labkit.errors import ManifestError

__all__ = ["apply_defaults", "builtin_objects", "builtin_services", "default_behavior", "image_pull_policy",
           "qos_class", "API_SERVER_ADDRESS", "API_SERVER_PORT"]

#: The address the ``kubernetes`` Service's endpoint names: kube-apiserver's ``--advertise-address``.
#: An ACK managed (Pro) cluster's control plane runs outside the user's VPC and is reached through
#: an internal load balancer whose address differs per cluster; labkit uses one illustrative
#: address outside its node (10.0.0.0/8), pod (172.20.0.0/16) and Service (172.21.0.0/20) ranges.
API_SERVER_ADDRESS = "192.168.0.1"
#: kube-apiserver's ``--secure-port`` (6443, the Service's targetPort; the Service port is 443).
API_SERVER_PORT = 6443


class Lookup(Protocol):
    """Read access to the cluster as admission sees it (the store plus this call's earlier documents)."""

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None: ...

    def items(self, kind: str, namespace: str | None = None) -> Iterator[dict[str, Any]]: ...


def image_pull_policy(image: str) -> str:
    """``SetDefaults_Container`` (``parsers.ParseImageName``): ``Always`` when the tag is ``latest``,
    given or implied (no tag and no digest), else ``IfNotPresent``; ``nginx:latest@sha256:...`` is
    ``Always``, ``nginx@sha256:...`` is not (spec 13.1)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ("latest" if not digest else None)
    return "Always" if tag == "latest" else "IfNotPresent"


def _container_defaults(c: dict[str, Any]) -> None:
    c.setdefault("imagePullPolicy", image_pull_policy(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    res = c.setdefault("resources", {})
    limits = res.get("limits") or {}
    if limits:
        # SetDefaults_Pod: a limit without a request makes the request equal to the limit.
        requests = res.setdefault("requests", {})
        for name, value in limits.items():
            requests.setdefault(name, value)
    for port in c.get("ports") or []:
        if not port.get("protocol"):
            port["protocol"] = "TCP"  # SetDefaults_ServicePort / SetDefaults_ContainerPort: "" means TCP


def qos_class(spec: dict[str, Any]) -> str:
    """The pod's QoS class (``pkg/apis/core/v1/helper/qos/qos.go``), from cpu and memory only."""
    from labkit.api.quantity import check_quantity

    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for name in ("cpu", "memory"):
            r = check_quantity(req[name], "") if name in req else None
            limit = check_quantity(lim[name], "") if name in lim else None
            if r or limit:  # a quantity set to something other than zero
                any_set = True
            if limit is None or r is None or r != limit:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    """``SetDefaults_PodSpec`` and container defaults (also used for workload templates)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("initContainers") or []:
        _container_defaults(c)
    for c in spec["containers"]:
        _container_defaults(c)


def _admit_pod(pod: dict[str, Any], lookup: Lookup) -> None:
    spec = pod["spec"]
    pod_spec_defaults(spec)
    # pkg/apis/core/v1/conversion.go (Convert_v1_Pod_To_core_Pod): a negative grace period is stored
    # as 1 (a Pod only: templates keep what was written).
    grace = spec["terminationGracePeriodSeconds"]
    if isinstance(grace, int) and grace < 0:
        spec["terminationGracePeriodSeconds"] = 1
    spec.setdefault("enableServiceLinks", True)
    # pkg/apis/core/v1/conversion.go reads the deprecated serviceAccount when serviceAccountName is empty
    # and writes the alias back on every v1 read; admission (serviceaccount) defaults it to "default".
    spec["serviceAccountName"] = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccount"] = spec["serviceAccountName"]
    # admission: priority (plugin/pkg/admission/priority, admitPod) -- resolve the class into spec.priority.
    cls_name = spec.get("priorityClassName")
    if cls_name:
        cls = lookup.get("PriorityClass", cls_name)
        if cls is None:
            raise ManifestError("spec.priorityClassName", cls_name,
                                f'Forbidden: no PriorityClass with name {cls_name} was found')
    else:
        cls = _global_default_priority_class(lookup)
    # No class at all: priority 0 (DefaultPriorityWhenNoDefaultClassExists) and PreemptLowerPriority.
    value = cls.get("value", 0) if cls is not None else 0
    policy = (cls or {}).get("preemptionPolicy", "PreemptLowerPriority")
    if spec.get("priority") is not None and spec["priority"] != value:
        raise ManifestError("spec.priority", spec["priority"],
                            f"Forbidden: the integer value of priority ({spec['priority']}) must not be "
                            f"provided in pod spec; priority admission controller computed {value} from the "
                            "given PriorityClass name")
    if spec.get("preemptionPolicy") is not None and spec["preemptionPolicy"] != policy:
        raise ManifestError("spec.preemptionPolicy", spec["preemptionPolicy"],
                            f"Forbidden: the string value of PreemptionPolicy ({spec['preemptionPolicy']}) "
                            "must not be provided in pod spec; priority admission controller computed "
                            f"{policy} from the given PriorityClass name")
    if cls is not None:
        spec["priorityClassName"] = cls["metadata"]["name"]
    spec["priority"] = value
    spec["preemptionPolicy"] = policy
    # admission: runtimeclass -- copy overhead.podFixed into spec.overhead, merge scheduling.
    rc_name = spec.get("runtimeClassName")
    if rc_name:
        rc = lookup.get("RuntimeClass", rc_name)
        if rc is None:
            raise ManifestError("spec.runtimeClassName", rc_name,
                                f'Forbidden: pod rejected: RuntimeClass "{rc_name}" not found')
        fixed = (rc.get("overhead") or {}).get("podFixed")
        if fixed:
            if spec.get("overhead") and spec["overhead"] != fixed:
                raise ManifestError("spec.overhead", spec["overhead"],
                                    "Forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's "
                                    "defined Overhead")
            spec["overhead"] = dict(fixed)
        sched = rc.get("scheduling") or {}
        for key, val in (sched.get("nodeSelector") or {}).items():
            current = spec.setdefault("nodeSelector", {})
            if key in current and current[key] != val:
                # plugin/pkg/admission/runtimeclass/admission.go: setScheduling
                raise ManifestError(f"spec.nodeSelector.{key}", current[key],
                                    f"Forbidden: conflict: runtimeClass.scheduling.nodeSelector[{key}] = "
                                    f"{val}; pod.spec.nodeSelector[{key}] = {current[key]}")
            current[key] = val
        if sched.get("tolerations"):
            spec.setdefault("tolerations", []).extend(copy.deepcopy(sched["tolerations"]))
    # admission: DefaultTolerationSeconds -- tolerate not-ready/unreachable NoExecute for 300 s.
    tols = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key and t.get("effect") in (None, "", "NoExecute") or
                   (not t.get("key") and t.get("operator") == "Exists") for t in tols):
            tols.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    pod["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}


def _global_default_priority_class(lookup: Lookup) -> dict[str, Any] | None:
    """The PriorityClass marked ``globalDefault`` (the lowest-valued one if several are)."""
    defaults = [c for c in lookup.items("PriorityClass") if c.get("globalDefault")]
    return min(defaults, key=lambda c: c.get("value", 0)) if defaults else None


def _workload(doc: dict[str, Any], lookup: Lookup) -> None:
    spec = doc["spec"]
    spec.setdefault("replicas", 1)
    if doc["kind"] == "Deployment":  # apps/v1 defaults.go: SetDefaults_Deployment
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxUnavailable", "25%")
            ru.setdefault("maxSurge", "25%")
    pod_spec_defaults(spec["template"]["spec"])


def _service(doc: dict[str, Any], lookup: Lookup) -> None:
    spec = doc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
        # registry/core/service/storage/alloc.go (initIPFamilyFields) in a single-stack IPv4 cluster:
        # a headless Service without a selector has no address to allocate, so it is RequireDualStack
        # and lists both families; any other one is SingleStack IPv4.
        headless = spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"
        if headless and not spec.get("selector"):
            spec.setdefault("ipFamilyPolicy", "RequireDualStack")
            families = spec.setdefault("ipFamilies", ["IPv4"])
            if spec["ipFamilyPolicy"] != "SingleStack" and len(families) < 2:
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        else:
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("ipFamilies", ["IPv4"])
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if timeout is None:  # DefaultClientIPServiceAffinitySeconds: three hours
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 10800}}
    for port in spec.get("ports") or []:
        if not port.get("protocol"):
            port["protocol"] = "TCP"  # SetDefaults_ServicePort / SetDefaults_ContainerPort: "" means TCP
        if port.get("targetPort") in (None, 0, ""):  # SetDefaults_Service: unset, 0 or "" means the port
            port["targetPort"] = port.get("port")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    doc.setdefault("status", {"loadBalancer": {}})


def _namespace(doc: dict[str, Any], lookup: Lookup) -> None:
    doc.setdefault("spec", {"finalizers": ["kubernetes"]})
    doc["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = doc["metadata"]["name"]
    doc["status"] = {"phase": "Active"}


def _hpa(doc: dict[str, Any], lookup: Lookup) -> None:
    spec = doc["spec"]
    spec.setdefault("minReplicas", 1)
    if isinstance(spec.get("behavior"), dict):
        spec["behavior"] = default_behavior(spec["behavior"])
    # pkg/apis/autoscaling/v2/defaults.go: an empty metric list means 80% average CPU utilization.
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def _priority_class(doc: dict[str, Any], lookup: Lookup) -> None:
    doc.setdefault("preemptionPolicy", "PreemptLowerPriority")
    name = doc["metadata"]["name"]
    old = lookup.get("PriorityClass", name)
    if old is not None:
        # ValidatePriorityClassUpdate: value and preemptionPolicy are immutable.
        if doc.get("value", 0) != old.get("value", 0):
            raise ManifestError("value", doc.get("value"), "Forbidden: may not be changed in an update.")
        if doc["preemptionPolicy"] != old.get("preemptionPolicy", "PreemptLowerPriority"):
            raise ManifestError("preemptionPolicy", doc["preemptionPolicy"],
                                "Invalid value: field is immutable")
    # admission: priority (validatePriorityClass) -- one globalDefault at most; marking an existing
    # class as default while another one is, is refused too.
    if doc.get("globalDefault"):
        default = _global_default_priority_class(lookup)
        if default is not None and default["metadata"]["name"] != name:
            raise ManifestError("globalDefault", True,
                                f"Forbidden: PriorityClass {default['metadata']['name']} is already marked "
                                "as default. Only one default can exist")


def builtin_objects() -> list[dict[str, Any]]:
    """The objects kube-apiserver creates at startup, for the caller to create through the API server.

    The system PriorityClasses (``pkg/registry/scheduling/rest/storage_scheduling.go``,
    ``AddSystemPriorityClasses``, from ``SystemPriorityClasses`` in
    ``pkg/apis/scheduling/v1/helpers.go``): kube-system pods such as CoreDNS and kube-proxy name
    them, so a cluster that lacks them refuses those pods.
    """
    return [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
         "value": value, "description": description}
        for name, value, description in (
            ("system-node-critical", 2_000_001_000,
             "Used for system critical pods that must not be moved from their current node."),
            ("system-cluster-critical", 2_000_000_000,
             "Used for system critical pods that must run in the cluster, but can be moved to another node "
             "if necessary."),
        )
    ]


def builtin_services() -> list[dict[str, Any]]:
    """The Services every cluster has, with the ``kubernetes`` Service's EndpointSlice, for the
    caller to create through the API server (after :func:`builtin_objects`).

    - ``default/kubernetes`` on the first address of the service CIDR (172.21.0.1), as
      kube-apiserver's ``kubernetesservice`` controller creates it
      (``pkg/controlplane/controller/kubernetesservice/controller.go``:
      ``CreateOrUpdateMasterServiceIfNeeded``, ``createPortAndServiceSpec``): port ``https`` 443
      to 6443, no selector, labels ``component: apiserver`` and ``provider: kubernetes``. Its
      EndpointSlice ``kubernetes`` is written by the API server's endpoint reconciler
      (``pkg/controlplane/reconcilers/lease.go`` through ``endpointsadapter.go``): only the
      ``kubernetes.io/service-name`` label (no managed-by label, no owner), one endpoint with
      :data:`API_SERVER_ADDRESS` and only ``ready: true`` among its conditions.
    - ``kube-system/kube-dns`` on the tenth address (172.21.0.10: kubeadm's and ACK's
      convention), as the CoreDNS add-on's manifest declares it
      (``cmd/kubeadm/app/phases/addons/dns/manifests.go``): ports ``dns`` 53/UDP, ``dns-tcp``
      53/TCP, ``metrics`` 9153/TCP, selector ``k8s-app: kube-dns``. The CoreDNS pods themselves
      are **not** modelled (they would take room on the nodes and change every scheduling
      scenario), so its EndpointSlice (the EndpointSlice controller's) has no endpoints.
    """
    from labkit.api.serviceips import DNS_SERVICE_IP, KUBERNETES_SERVICE_IP

    kubernetes = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": KUBERNETES_SERVICE_IP, "ipFamilyPolicy": "SingleStack",
                 "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": API_SERVER_PORT}]},
    }
    endpoints = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [API_SERVER_ADDRESS], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": API_SERVER_PORT, "protocol": "TCP"}],
    }
    dns = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"},
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
        "spec": {"clusterIP": DNS_SERVICE_IP, "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]},
    }
    return [kubernetes, endpoints, dns]


def _endpoint_port(port: dict[str, Any]) -> None:
    # pkg/apis/discovery/v1/defaults.go: SetDefaults_EndpointPort -- name "" and protocol TCP.
    port.setdefault("name", "")
    port.setdefault("protocol", "TCP")


def _endpoint_slice(doc: dict[str, Any], lookup: Lookup) -> None:
    for port in doc.get("ports") or []:
        _endpoint_port(port)


_DEFAULTS: dict[str, Callable[[dict[str, Any], Lookup], None]] = {
    "Pod": _admit_pod,
    "Deployment": _workload,
    "ReplicaSet": _workload,
    "Service": _service,
    "Namespace": _namespace,
    "HorizontalPodAutoscaler": _hpa,
    "PriorityClass": _priority_class,
    "EndpointSlice": _endpoint_slice,
}


def apply_defaults(doc: dict[str, Any], lookup: Lookup) -> dict[str, Any]:
    """Default ``doc`` in place (namespace, kind-specific defaults, admission) and return it."""
    from labkit.api.kinds import KINDS

    if KINDS[doc["kind"]].namespaced:
        doc["metadata"].setdefault("namespace", "default")
    else:
        doc["metadata"].pop("namespace", None)
    fn = _DEFAULTS.get(doc["kind"])
    if fn is not None:
        fn(doc, lookup)
    return doc


def default_behavior(behavior: dict[str, Any]) -> dict[str, Any]:
    """``SetDefaults_HorizontalPodAutoscalerBehavior`` (``pkg/apis/autoscaling/v2/defaults.go``) on a
    copy: each missing field of each direction from the defaults, a given policy list kept whole."""
    up_default = {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }
    down_default = {
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }
    out = {}
    for key, default in (("scaleUp", up_default), ("scaleDown", down_default)):
        given = dict(behavior.get(key) or {})
        rules = {**default, **{k: v for k, v in given.items() if v is not None}}
        if not given.get("policies"):
            rules["policies"] = [dict(p) for p in default["policies"]]
        out[key] = rules
    return out

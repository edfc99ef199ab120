"""API-server validation that the OpenAPI schemas cannot express.

Each rule mirrors ``pkg/apis/core/validation/validation.go`` (Pods, Services, Nodes,
Namespaces), ``pkg/apis/apps/validation/validation.go`` (Deployments, ReplicaSets),
``pkg/apis/autoscaling/validation/validation.go`` (HPAs) and
``pkg/apis/scheduling/validation/validation.go`` (PriorityClasses). Messages keep the upstream
wording ("Required value", "must be less than or equal to cpu limit", ...) followed, where it
helps a learner, by what would be valid. The first violation found is raised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from labkit.api.kinds import KINDS
from labkit.api.quantity import check_quantity, check_resource_name, is_integer_resource
from labkit.api.selectors import is_qualified_name, is_valid_label_value, regex_error, selector_from_dict
from labkit.errors import ManifestError

__all__ = ["validate", "DNS1123_LABEL", "DNS1123_SUBDOMAIN"]

# apimachinery: staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^[-a-z0-9]+$")

_NAME_MSG = {
    "label": ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
              "and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')", 63),
    "subdomain": ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                  "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')",
                  253),
    "label1035": ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                  "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name')", 63),
}
_NAME_RE = {"label": DNS1123_LABEL, "subdomain": DNS1123_SUBDOMAIN, "label1035": DNS1035_LABEL}


def check_name(value: Any, path: str, rule: str = "subdomain") -> None:
    """Raise unless ``value`` is a valid DNS-1123 label/subdomain or DNS-1035 label."""
    msg, limit = _NAME_MSG[rule]
    if not isinstance(value, str) or not value:
        why = "name or generateName is required (e.g. metadata.name: my-nginx)" if path == "metadata.name" \
            else "a name is needed"
        raise ManifestError(path, value, f"Required value: {why}")
    if len(value) > limit:
        raise ManifestError(path, value, f"Invalid value: must be no more than {limit} characters")
    if not _NAME_RE[rule].match(value):
        raise ManifestError(path, value, f"Invalid value: {msg}")


def validate(doc: dict[str, Any]) -> None:
    """Validate one schema-valid document of a known kind (raises :class:`ManifestError`)."""
    kind = KINDS[doc["kind"]]
    _validate_meta(doc.get("metadata"), kind.name_rule, kind.namespaced)
    rule = _RULES.get(kind.kind)
    if rule is not None:
        rule(doc)


def _validate_meta(meta: Any, name_rule: str, namespaced: bool) -> None:
    if not isinstance(meta, dict):
        raise ManifestError("metadata", meta, "Required value: metadata.name is needed")
    if "name" not in meta and "generateName" in meta:
        raise ManifestError("metadata.name", None,
                            "Required value: generateName is not supported by kubectl apply; set a name")
    check_name(meta.get("name"), "metadata.name", name_rule)
    if namespaced and "namespace" in meta:
        check_name(meta["namespace"], "metadata.namespace", "label")
    for field in ("labels", "annotations"):
        for key, val in (meta.get(field) or {}).items():
            err = is_qualified_name(key)
            if err:
                raise ManifestError(f"metadata.{field}", key, f"Invalid value: {err}")
            if field == "labels":
                err = is_valid_label_value(val) if isinstance(val, str) else "must be a string"
                if err:
                    raise ManifestError(f"metadata.labels.{key}", val, f"Invalid value: {err}")
    total = sum(len(k) + len(str(v)) for k, v in (meta.get("annotations") or {}).items())
    if total > 256 * 1024:
        raise ManifestError("metadata.annotations", "...", "Too long: must have at most 262144 bytes")


# -- Pods ---------------------------------------------------------------------------------------
def _label_value_error(value: Any) -> str | None:
    return is_valid_label_value(value) if isinstance(value, str) else "must be a string"


def _validate_resources(res: dict[str, Any] | None, path: str) -> None:
    """``ValidateResourceRequirements``: valid names and quantities, and requests ≤ limits."""
    if not res:
        return
    parsed: dict[str, dict[str, Any]] = {}
    for section in ("limits", "requests"):
        parsed[section] = {}
        for name, value in (res.get(section) or {}).items():
            p = f"{path}.{section}.{name}"
            check_resource_name(name, p)
            q = check_quantity(value, p)
            if is_integer_resource(name) and q != int(q):
                raise ManifestError(p, value, "Invalid value: must be an integer (extended resources "
                                    "are whole units)")
            parsed[section][name] = q
    # ValidateResourceRequirements: requests <= limits, and == limits for resources that cannot be
    # overcommitted (extended resources and hugepages; v1helper.IsOvercommitAllowed).
    for name, req in parsed["requests"].items():
        lim = parsed["limits"].get(name)
        overcommit = _overcommit_allowed(name)
        if lim is not None and req != lim and not overcommit:
            raise ManifestError(f"{path}.requests.{name}", res["requests"][name],
                                f"Invalid value: must be equal to {name} limit of {res['limits'][name]} "
                                f"({name} cannot be overcommitted: set requests equal to limits, or set "
                                "limits only)")
        if lim is not None and req > lim:
            raise ManifestError(f"{path}.requests.{name}", res["requests"][name],
                                f"Invalid value: must be less than or equal to {name} limit of "
                                f"{res['limits'][name]}")
        if lim is None and not overcommit:
            raise ManifestError(f"{path}.limits", None,
                                "Required value: Limit must be set for non overcommitable resources "
                                f"({name}: add limits: {{{name}: {res['requests'][name]}}}, or set limits "
                                "only)")


def _overcommit_allowed(name: str) -> bool:
    """``IsOvercommitAllowed`` (pkg/apis/core/v1/helper/helpers.go): native and not hugepages."""
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith("hugepages-")


def _validate_container(c: dict[str, Any], path: str, names: dict[str, str], init: bool) -> None:
    check_name(c.get("name"), f"{path}.name", "label")
    if c["name"] in names:
        raise ManifestError(f"{path}.name", c["name"], f"Duplicate value: also used by {names[c['name']]}")
    names[c["name"]] = path
    image = c.get("image")
    if not isinstance(image, str) or not image.strip():
        raise ManifestError(f"{path}.image", image, "Required value: every container needs an image")
    if image != image.strip():
        raise ManifestError(f"{path}.image", image,
                            "Invalid value: must not have leading or trailing whitespace")
    _validate_resources(c.get("resources"), f"{path}.resources")
    port_names: set[str] = set()
    for j, port in enumerate(c.get("ports") or []):
        pp = f"{path}.ports[{j}]"
        for field in ("containerPort", "hostPort"):
            v = port.get(field)
            if v is not None and not 1 <= v <= 65535:
                raise ManifestError(f"{pp}.{field}", v,
                                    "Invalid value: must be between 1 and 65535, inclusive")
        if "containerPort" not in port:
            raise ManifestError(f"{pp}.containerPort", None, "Required value")
        _check_protocol(port.get("protocol"), f"{pp}.protocol")
        pname = port.get("name")
        if pname is not None:
            _check_port_name(pname, f"{pp}.name")
            if pname in port_names:
                raise ManifestError(f"{pp}.name", pname, "Duplicate value")
            port_names.add(pname)
    policy = c.get("restartPolicy")
    if policy is not None and (not init or policy != "Always"):
        raise ManifestError(f"{path}.restartPolicy", policy,
                            'Unsupported value: only init containers may set restartPolicy, to "Always"'
                            if not init else 'Unsupported value: supported values: "Always"')


# validation.go: supportedPortProtocols, checked by validateContainerPorts and validateServicePort.
_PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
#: Application protocols learners write where the transport belongs.
_APP_PROTOCOLS = {"HTTP", "HTTPS", "HTTP2", "H2C", "GRPC", "WS", "WSS", "TLS"}


def _check_protocol(proto: Any, path: str, service: bool = False) -> None:
    """A port's ``protocol`` is the transport: TCP, UDP or SCTP, in capitals (unset defaults to TCP)."""
    if proto is None or proto == "" or proto in _PORT_PROTOCOLS:
        return  # SetDefaults_ContainerPort / SetDefaults_ServicePort: empty becomes TCP
    hint = ""
    if isinstance(proto, str) and proto.upper() in _PORT_PROTOCOLS:
        hint = f' (protocols are case-sensitive: write "{proto.upper()}")'
    elif isinstance(proto, str) and proto.upper() in _APP_PROTOCOLS:
        also = f", and name the application protocol in appProtocol: {proto.lower()}" if service else ""
        hint = f" ({proto} is an application protocol carried over TCP: leave protocol unset or write TCP" \
            f"{also})"
    raise ManifestError(path, proto, "Unsupported value: supported values: "
                        + ", ".join(f'"{p}"' for p in _PORT_PROTOCOLS) + hint)


def _check_port_name(name: str, path: str) -> None:
    # validation.IsValidPortName
    if len(name) > 15 or not IANA_SVC_NAME.match(name) or not re.search("[a-z]", name) \
            or "--" in name or name.startswith("-") or name.endswith("-"):
        raise ManifestError(path, name, "Invalid value: must be an IANA_SVC_NAME: at most 15 characters, "
                            "lower case letters, digits and '-', at least one letter (e.g. 'http')")


def _validate_tolerations(tols: list[dict[str, Any]] | None, path: str) -> None:
    # validateTolerations
    for i, t in enumerate(tols or []):
        p = f"{path}[{i}]"
        key, op = t.get("key", ""), t.get("operator", "Equal") or "Equal"
        if key:
            err = is_qualified_name(key)
            if err:
                raise ManifestError(f"{p}.key", key, f"Invalid value: {err}")
        elif op != "Exists":
            raise ManifestError(f"{p}.operator", op,
                                'Invalid value: operator must be Exists when `key` is empty, which means '
                                '"match all values and all keys"')
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            raise ManifestError(f"{p}.effect", t.get("effect"),
                                "Invalid value: effect must be 'NoExecute' when `tolerationSeconds` is set")
        if op == "Exists" and t.get("value"):
            raise ManifestError(f"{p}.operator", op,
                                "Invalid value: value must be empty when `operator` is 'Exists'")
        if op not in ("Equal", "Exists"):
            raise ManifestError(f"{p}.operator", op, 'Unsupported value: supported values: "Equal", "Exists"')
        if op == "Equal" and t.get("value"):
            err = is_valid_label_value(t["value"])
            if err:
                raise ManifestError(f"{p}.value", t["value"], f"Invalid value: {err}")
        eff = t.get("effect")
        if eff and eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ManifestError(f"{p}.effect", eff,
                                'Unsupported value: supported values: "NoExecute", "NoSchedule", '
                                '"PreferNoSchedule"')


def _validate_node_selector_term(term: dict[str, Any], path: str) -> None:
    for field in ("matchExpressions", "matchFields"):
        for j, req in enumerate(term.get(field) or []):
            p = f"{path}.{field}[{j}]"
            op, values = req.get("operator"), req.get("values") or []
            ops = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt") if field == "matchExpressions" \
                else ("In", "NotIn")
            if op not in ops:
                raise ManifestError(f"{p}.operator", op, "Unsupported value: supported values: "
                                    + ", ".join(f'"{o}"' for o in ops))
            if field == "matchFields":
                if req.get("key") != "metadata.name":
                    raise ManifestError(f"{p}.key", req.get("key"), 'Unsupported value: supported values: '
                                        '"metadata.name"')
                if len(values) != 1:
                    raise ManifestError(f"{p}.values", values,
                                        "Required value: must be only one value when `operator` is 'In' or "
                                        "'NotIn' for node field selector")
                continue
            err = is_qualified_name(req.get("key", ""))
            if err:
                raise ManifestError(f"{p}.key", req.get("key"), f"Invalid value: {err}")
            if op in ("In", "NotIn") and not values:
                raise ManifestError(f"{p}.values", values,
                                    "Required value: must be specified when `operator` is 'In' or 'NotIn'")
            if op in ("Exists", "DoesNotExist") and values:
                raise ManifestError(f"{p}.values", values,
                                    "Forbidden: may not be specified when `operator` is 'Exists' or "
                                    "'DoesNotExist'")
            if op in ("Gt", "Lt") and (len(values) != 1 or not re.fullmatch(r"-?\d+", str(values[0]))):
                raise ManifestError(f"{p}.values", values,
                                    "Required value: must be specified single value when `operator` is "
                                    "'Lt' or 'Gt' (an integer)")
            for v in values:
                err = is_valid_label_value(v)
                if err:
                    raise ManifestError(f"{p}.values", v, f"Invalid value: {err}")


def _validate_affinity(aff: dict[str, Any] | None, path: str) -> None:
    if not aff:
        return
    na = aff.get("nodeAffinity") or {}
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is not None:
        for i, term in enumerate(req.get("nodeSelectorTerms") or []):
            _validate_node_selector_term(term, f"{path}.nodeAffinity.requiredDuringSchedulingIgnoredDuring"
                                               f"Execution.nodeSelectorTerms[{i}]")
    for i, pref in enumerate(na.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
        p = f"{path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        w = pref.get("weight")
        if not isinstance(w, int) or not 1 <= w <= 100:
            raise ManifestError(f"{p}.weight", w, "Invalid value: must be in the range 1-100")
        _validate_node_selector_term(pref.get("preference") or {}, f"{p}.preference")
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = aff.get(kind) or {}
        for i, term in enumerate(pa.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
            _validate_pod_affinity_term(
                term, f"{path}.{kind}.requiredDuringSchedulingIgnoredDuringExecution[{i}]")
        for i, wt in enumerate(pa.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
            p = f"{path}.{kind}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            w = wt.get("weight")
            if not isinstance(w, int) or not 1 <= w <= 100:
                raise ManifestError(f"{p}.weight", w, "Invalid value: must be in the range 1-100")
            _validate_pod_affinity_term(wt.get("podAffinityTerm") or {}, f"{p}.podAffinityTerm")


def _validate_pod_affinity_term(term: dict[str, Any], path: str) -> None:
    key = term.get("topologyKey")
    if not key:
        raise ManifestError(f"{path}.topologyKey", key, "Required value: can not be empty")
    err = is_qualified_name(key)
    if err:
        raise ManifestError(f"{path}.topologyKey", key, f"Invalid value: {err}")
    selector_from_dict(term.get("labelSelector"), f"{path}.labelSelector")
    selector_from_dict(term.get("namespaceSelector"), f"{path}.namespaceSelector")


def _validate_spread(constraints: list[dict[str, Any]] | None, path: str) -> None:
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints or []):
        p = f"{path}[{i}]"
        if c.get("maxSkew", 0) <= 0:
            raise ManifestError(f"{p}.maxSkew", c.get("maxSkew"), "Invalid value: must be greater than zero")
        if not c.get("topologyKey"):
            raise ManifestError(f"{p}.topologyKey", c.get("topologyKey"), "Required value: can not be empty")
        wu = c.get("whenUnsatisfiable")
        if wu not in ("DoNotSchedule", "ScheduleAnyway"):
            raise ManifestError(f"{p}.whenUnsatisfiable", wu,
                                'Unsupported value: supported values: "DoNotSchedule", "ScheduleAnyway"')
        md = c.get("minDomains")
        if md is not None:
            if md <= 0:
                raise ManifestError(f"{p}.minDomains", md, "Invalid value: must be greater than zero")
            if wu != "DoNotSchedule":
                raise ManifestError(f"{p}.minDomains", md,
                                    "Invalid value: can only use minDomains if "
                                    "whenUnsatisfiable=DoNotSchedule")
        pair = (c["topologyKey"], wu)
        if pair in seen:
            raise ManifestError(f"{p}.{{topologyKey, whenUnsatisfiable}}", f"{pair[0]}, {pair[1]}",
                                "Duplicate value")
        seen.add(pair)
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            v = c.get(policy)
            if v is not None and v not in ("Honor", "Ignore"):
                raise ManifestError(f"{p}.{policy}", v,
                                    'Unsupported value: supported values: "Honor", "Ignore"')
        selector_from_dict(c.get("labelSelector"), f"{p}.labelSelector")


def validate_pod_spec(spec: dict[str, Any], path: str) -> None:
    """``ValidatePodSpec``: containers, resources, scheduling fields."""
    names: dict[str, str] = {}
    containers = spec.get("containers")
    if not containers:
        raise ManifestError(f"{path}.containers", containers,
                            "Required value: a pod needs at least one container")
    for i, c in enumerate(spec.get("initContainers") or []):
        _validate_container(c, f"{path}.initContainers[{i}]", names, init=True)
    for i, c in enumerate(containers):
        _validate_container(c, f"{path}.containers[{i}]", names, init=False)
    # AccumulateUniqueHostPorts: one (protocol, hostIP, hostPort) per pod.
    host_ports: dict[tuple[str, str, int], str] = {}
    for i, c in enumerate(containers):
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                proto = port.get("protocol", "TCP")
                key = (proto, port.get("hostIP", ""), port["hostPort"])
                here = f"{path}.containers[{i}].ports[{j}]"
                if key in host_ports:
                    raise ManifestError(f"{here}.hostPort", port["hostPort"],
                                        f"Duplicate value: \"{port['hostPort']}/{proto}\" is already used by "
                                        f"{host_ports[key]} (a host port can be bound once per pod)")
                host_ports[key] = here
    rp = spec.get("restartPolicy")
    if rp is not None and rp not in ("Always", "OnFailure", "Never"):
        raise ManifestError(f"{path}.restartPolicy", rp,
                            'Unsupported value: supported values: "Always", "OnFailure", "Never"')
    for key, val in (spec.get("nodeSelector") or {}).items():
        err = is_qualified_name(key)
        if err:
            raise ManifestError(f"{path}.nodeSelector", key, f"Invalid value: {err}")
        err = is_valid_label_value(val) if isinstance(val, str) else "must be a string"
        if err:
            raise ManifestError(f"{path}.nodeSelector.{key}", val, f"Invalid value: {err}")
    if spec.get("nodeName"):
        check_name(spec["nodeName"], f"{path}.nodeName", "subdomain")
    _validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    _validate_affinity(spec.get("affinity"), f"{path}.affinity")
    _validate_spread(spec.get("topologySpreadConstraints"), f"{path}.topologySpreadConstraints")
    if spec.get("overhead"):
        _validate_resources({"requests": spec["overhead"]}, f"{path}.overhead")
    tgps = spec.get("terminationGracePeriodSeconds")
    if tgps is not None and tgps < 0:
        raise ManifestError(f"{path}.terminationGracePeriodSeconds", tgps,
                            "Invalid value: must be greater than or equal to 0")
    pp = spec.get("preemptionPolicy")
    if pp is not None and pp not in ("Never", "PreemptLowerPriority"):
        raise ManifestError(f"{path}.preemptionPolicy", pp,
                            'Unsupported value: supported values: "Never", "PreemptLowerPriority"')
    for i, gate in enumerate(spec.get("schedulingGates") or []):
        err = is_qualified_name(gate.get("name", ""))
        if err:
            raise ManifestError(f"{path}.schedulingGates[{i}].name", gate.get("name"),
                                f"Invalid value: {err}")


def _pod(doc: dict[str, Any]) -> None:
    validate_pod_spec(doc.get("spec") or {}, "spec")


def _template_workload(doc: dict[str, Any]) -> None:
    """Deployments and ReplicaSets: selector required, and it must select the template's labels."""
    spec = doc.get("spec") or {}
    if spec.get("replicas") is not None and spec["replicas"] < 0:
        raise ManifestError("spec.replicas", spec["replicas"],
                            "Invalid value: must be greater than or equal to 0")
    sel_dict = spec.get("selector")
    if sel_dict is None:
        raise ManifestError("spec.selector", None, "Required value")
    sel = selector_from_dict(sel_dict, "spec.selector")
    if sel is None or sel.empty:
        raise ManifestError("spec.selector", sel_dict,
                            "Invalid value: empty selector is invalid for deployment")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not sel.matches(labels):
        raise ManifestError("spec.template.metadata.labels", labels,
                            f"Invalid value: `selector` does not match template `labels` (selector: {sel})")
    for key, val in labels.items():
        err = is_qualified_name(key) or _label_value_error(val)
        if err:
            raise ManifestError(f"spec.template.metadata.labels.{key}", val, f"Invalid value: {err}")
    validate_pod_spec(template.get("spec") or {}, "spec.template.spec")
    rp = (template.get("spec") or {}).get("restartPolicy")
    if rp not in (None, "Always"):
        raise ManifestError("spec.template.spec.restartPolicy", rp,
                            'Unsupported value: supported values: "Always"')
    if doc.get("kind") == "Deployment":
        _deployment_spec(spec)


#: ``IsValidPercent`` (apimachinery ``util/validation``): what a percentage string must look like.
_PERCENT = re.compile(r"^[0-9]+%$")
_PERCENT_MSG = regex_error("a valid percent string must be a numeric string followed by an ending '%'",
                            "[0-9]+%", "1%", "93%")


def _int_or_percent(value: Any, path: str) -> int | None:
    """``ValidatePositiveIntOrPercent``; returns the value as an int (percent or count), None if unset."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ManifestError(path, value, "Invalid value: must be an integer or percentage (e.g '5%')")
    if isinstance(value, str):
        if not _PERCENT.match(value):
            raise ManifestError(path, value, f"Invalid value: {_PERCENT_MSG}")
        return int(value[:-1])
    if value < 0:
        raise ManifestError(path, value, "Invalid value: must be greater than or equal to 0")
    return value


def _deployment_spec(spec: dict[str, Any]) -> None:
    """``ValidateDeploymentSpec`` / ``ValidateDeploymentStrategy`` / ``ValidateRollingUpdateDeployment``
    (``pkg/apis/apps/validation/validation.go``)."""
    for field in ("minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        value = spec.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ManifestError(f"spec.{field}", value, "Invalid value: must be greater than or equal to 0")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        raise ManifestError("spec.progressDeadlineSeconds", deadline,
                            "Invalid value: must be greater than minReadySeconds")
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type", "RollingUpdate")
    if stype not in ("Recreate", "RollingUpdate"):
        raise ManifestError("spec.strategy.type", stype,
                            'Unsupported value: supported values: "Recreate", "RollingUpdate"')
    if stype == "Recreate" and "rollingUpdate" in strategy:
        raise ManifestError("spec.strategy.rollingUpdate", strategy["rollingUpdate"],
                            "Forbidden: may not be specified when strategy `type` is 'Recreate'")
    ru = strategy.get("rollingUpdate")
    if stype != "RollingUpdate" or not isinstance(ru, dict):
        return
    path = "spec.strategy.rollingUpdate"
    unavailable = _int_or_percent(ru.get("maxUnavailable"), f"{path}.maxUnavailable")
    surge = _int_or_percent(ru.get("maxSurge"), f"{path}.maxSurge")
    if unavailable == 0 and surge == 0:
        raise ManifestError(f"{path}.maxUnavailable", ru.get("maxUnavailable"),
                            "Invalid value: may not be 0 when `maxSurge` is 0")
    if isinstance(ru.get("maxUnavailable"), str) and unavailable is not None and unavailable > 100:
        raise ManifestError(f"{path}.maxUnavailable", ru["maxUnavailable"],
                            "Invalid value: must not be greater than 100%")


def _service(doc: dict[str, Any]) -> None:
    spec = doc.get("spec") or {}
    stype = spec.get("type", "ClusterIP")
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        raise ManifestError("spec.ports", ports, "Required value: a Service needs at least one port")
    names: set[str] = set()
    seen: set[tuple[int, str]] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        if len(ports) > 1 and not port.get("name"):
            raise ManifestError(f"{p}.name", None, "Required value: ports of a multi-port Service need names")
        if port.get("name"):
            check_name(port["name"], f"{p}.name", "label")
            if port["name"] in names:
                raise ManifestError(f"{p}.name", port["name"], "Duplicate value")
            names.add(port["name"])
        num = port.get("port")
        if num is None or not 1 <= num <= 65535:
            raise ManifestError(f"{p}.port", num, "Invalid value: must be between 1 and 65535, inclusive")
        _check_protocol(port.get("protocol"), f"{p}.protocol", service=True)
        proto = port.get("protocol") or "TCP"
        if (num, proto) in seen:
            raise ManifestError(f"{p}", {"port": num, "protocol": proto}, "Duplicate value")
        seen.add((num, proto))
        tp = port.get("targetPort")
        if isinstance(tp, int) and not 1 <= tp <= 65535:
            raise ManifestError(f"{p}.targetPort", tp,
                                "Invalid value: must be between 1 and 65535, inclusive")
        if isinstance(tp, str):
            _check_port_name(tp, f"{p}.targetPort")
        np_ = port.get("nodePort")
        if np_ is not None and stype not in ("NodePort", "LoadBalancer"):
            raise ManifestError(f"{p}.nodePort", np_, "Forbidden: may not be used when `type` is 'ClusterIP'")
        if np_ is not None and not 30000 <= np_ <= 32767:
            raise ManifestError(f"{p}.nodePort", np_,
                                "Invalid value: provided port is not in the valid range. "
                                "The range of valid ports is 30000-32767")
    for key, val in (spec.get("selector") or {}).items():
        err = is_qualified_name(key) or _label_value_error(val)
        if err:
            raise ManifestError(f"spec.selector.{key}", val, f"Invalid value: {err}")
    if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        raise ManifestError("spec.type", stype,
                            'Unsupported value: supported values: "ClusterIP", "ExternalName", '
                            '"LoadBalancer", '
                            '"NodePort"')
    sa = spec.get("sessionAffinity")
    if sa is not None and sa not in ("None", "ClientIP"):
        raise ManifestError("spec.sessionAffinity", sa,
                            'Unsupported value: supported values: "ClientIP", "None"')
    timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
    if timeout is not None and not 0 < timeout <= 86400:
        raise ManifestError("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                            "Invalid value: must be greater than 0 and less than 86400")


def _node(doc: dict[str, Any]) -> None:
    status = doc.get("status") or {}
    for section in ("capacity", "allocatable"):
        for name, value in (status.get(section) or {}).items():
            check_quantity(value, f"status.{section}.{name}")
    for i, taint in enumerate((doc.get("spec") or {}).get("taints") or []):
        p = f"spec.taints[{i}]"
        err = is_qualified_name(taint.get("key", ""))
        if err:
            raise ManifestError(f"{p}.key", taint.get("key"), f"Invalid value: {err}")
        if taint.get("value"):
            err = is_valid_label_value(taint["value"])
            if err:
                raise ManifestError(f"{p}.value", taint["value"], f"Invalid value: {err}")
        if taint.get("effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ManifestError(f"{p}.effect", taint.get("effect"),
                                'Unsupported value: supported values: "NoExecute", "NoSchedule", '
                                '"PreferNoSchedule"')


def _hpa(doc: dict[str, Any]) -> None:
    spec = doc.get("spec") or {}
    mn, mx = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if mn is not None and mn < 1:
        raise ManifestError("spec.minReplicas", mn, "Invalid value: must be greater than or equal to 1 "
                            "(0 needs the HPAScaleToZero feature gate, off by default)")
    if mx is None or mx < 1:
        raise ManifestError("spec.maxReplicas", mx, "Invalid value: must be greater than 0")
    if mn is not None and mx < mn:
        raise ManifestError("spec.maxReplicas", mx, f"Invalid value: must be greater than or equal to "
                            f"`minReplicas` ({mn})")
    for i, m in enumerate(spec.get("metrics") or []):
        target = ((m.get(_metric_key(m.get("type"))) or {}).get("target")) or {}
        util = target.get("averageUtilization")
        if util is not None and util < 1:
            raise ManifestError(f"spec.metrics[{i}].{_metric_key(m.get('type'))}.target.averageUtilization",
                                util, "Invalid value: must be greater than 0")


def _metric_key(metric_type: Any) -> str:
    return {"Resource": "resource", "Pods": "pods", "Object": "object", "External": "external",
            "ContainerResource": "containerResource"}.get(metric_type, "resource")


def _priority_class(doc: dict[str, Any]) -> None:
    value = doc.get("value")
    name = doc["metadata"]["name"]
    if name.startswith("system-"):
        raise ManifestError("metadata.name", name,
                            "Forbidden: priority class names with 'system-' prefix are "
                            "reserved")
    if value is not None and value > 1_000_000_000:
        raise ManifestError("value", value, "Forbidden: maximum allowed value of a user defined priority is "
                            "1000000000")


def _runtime_class(doc: dict[str, Any]) -> None:
    check_name(doc.get("handler"), "handler", "label")
    pod_fixed = (doc.get("overhead") or {}).get("podFixed")
    if pod_fixed:
        _validate_resources({"requests": pod_fixed}, "overhead.podFixed")


_RULES: dict[str, Callable[[dict[str, Any]], None]] = {
    "Pod": _pod,
    "Deployment": _template_workload,
    "ReplicaSet": _template_workload,
    "Service": _service,
    "Node": _node,
    "HorizontalPodAutoscaler": _hpa,
    "PriorityClass": _priority_class,
    "RuntimeClass": _runtime_class,
}

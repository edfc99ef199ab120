"""API-server validation that the OpenAPI schemas cannot express.

Each rule mirrors ``pkg/apis/core/validation/validation.go`` (Pods with their probes and
lifecycle hooks, Services, Nodes, Namespaces, PersistentVolumeClaims),
``pkg/apis/apps/validation/validation.go`` (Deployments, ReplicaSets),
``pkg/apis/autoscaling/validation/validation.go`` (HPA v2 metrics and behavior),
``pkg/apis/policy/validation/validation.go`` (PodDisruptionBudgets),
``pkg/apis/node/validation/validation.go`` (RuntimeClasses),
``pkg/apis/scheduling/validation/validation.go`` (PriorityClasses) and
``pkg/apis/discovery/validation/validation.go`` (EndpointSlices). Upstream validates the object
after v1 defaulting, so rules here read a field as its default would leave it (a probe's
``successThreshold: 0`` is 1, a Service's ``targetPort: 0`` is the port). Messages keep the upstream
wording ("Required value", "must be less than or equal to cpu limit", ...) followed, where it
helps a learner, by what would be valid. The first violation found is raised. Integer bounds
(int32/int64) come first, from the schema (:mod:`labkit.api.intformats`), as decoding precedes
validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from labkit.api.annotations import check_app_annotations
from labkit.api.intformats import check_integer_formats
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
    # Decoding comes before validation: a number its Go field cannot hold is a BadRequest.
    check_integer_formats(doc)
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
    check_app_annotations(meta.get("annotations") or {}, "metadata.annotations")


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


def _validate_container(c: dict[str, Any], path: str, names: dict[str, str], init: bool,
                        grace: int | None = 30) -> None:
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
    if init and policy != "Always":
        # validateInitContainers: only restartable (sidecar) init containers may have these.
        for field in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
            if c.get(field) is not None:
                raise ManifestError(f"{path}.{field}", c[field],
                                    "Forbidden: may not be set for init containers without "
                                    "restartPolicy=Always")
        return
    _validate_lifecycle(c.get("lifecycle"), f"{path}.lifecycle", grace)
    for field in ("livenessProbe", "readinessProbe", "startupProbe"):
        _validate_probe(c.get(field), f"{path}.{field}", field, grace)


# -- probes and lifecycle hooks (validateProbe, validateHandler, validateLifecycle) ---------------------
#: The handler fields validateHandler looks at, in its order (a probe has grpc, a hook has sleep).
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_HOOK_HANDLERS = ("exec", "httpGet", "tcpSocket", "sleep")
_HTTP_HEADER = re.compile(r"^[-A-Za-z0-9]+$")


def _validate_probe(probe: Any, path: str, which: str, grace: int | None) -> None:
    """``validateLivenessProbe`` / ``validateReadinessProbe`` / ``validateStartupProbe``, on the probe as
    ``SetDefaults_Probe`` leaves it (0 means the default: timeout 1, period 10, success 1, failure 3)."""
    if not isinstance(probe, dict):
        return
    _validate_handler(probe, path, _PROBE_HANDLERS, grace)
    for field in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                  "failureThreshold"):
        value = probe.get(field)
        if _is_int(value) and value < 0:
            raise ManifestError(f"{path}.{field}", value, "Invalid value: must be greater than or equal to 0")
    tgps = probe.get("terminationGracePeriodSeconds")
    if _is_int(tgps) and tgps <= 0:
        raise ManifestError(f"{path}.terminationGracePeriodSeconds", tgps,
                            "Invalid value: must be greater than 0")
    if which == "readinessProbe" and tgps is not None:
        raise ManifestError(f"{path}.terminationGracePeriodSeconds", tgps,
                            "Invalid value: must not be set for readinessProbes")
    success = probe.get("successThreshold") or 1  # SetDefaults_Probe
    if which != "readinessProbe" and success != 1:
        raise ManifestError(f"{path}.successThreshold", success,
                            f"Invalid value: must be 1 (a {which} counts one success as healthy)")


def _validate_lifecycle(lifecycle: Any, path: str, grace: int | None) -> None:
    if not isinstance(lifecycle, dict):
        return
    for hook in ("postStart", "preStop"):
        if isinstance(lifecycle.get(hook), dict):
            _validate_handler(lifecycle[hook], f"{path}.{hook}", _HOOK_HANDLERS, grace)


def _validate_handler(handler: dict[str, Any], path: str, kinds: tuple[str, ...], grace: int | None) -> None:
    """``validateHandler``: exactly one handler type, each checked as upstream checks it."""
    present = [k for k in kinds if handler.get(k) is not None]
    if not present:
        raise ManifestError(path, handler, "Required value: must specify a handler type (one of "
                            + ", ".join(kinds) + ")")
    if len(present) > 1:
        raise ManifestError(f"{path}.{present[1]}", handler[present[1]],
                            f"Forbidden: may not specify more than 1 handler type (already has {present[0]})")
    kind = present[0]
    action, p = handler[kind], f"{path}.{kind}"
    if not isinstance(action, dict):
        return
    if kind == "exec" and not action.get("command"):
        raise ManifestError(f"{p}.command", action.get("command"), "Required value")
    if kind == "httpGet":
        _check_port_num_or_name(action.get("port"), f"{p}.port")
        scheme = action.get("scheme") or "HTTP"  # SetDefaults_HTTPGetAction; path "" becomes "/"
        if scheme not in ("HTTP", "HTTPS"):
            raise ManifestError(f"{p}.scheme", scheme, 'Unsupported value: supported values: "HTTP", "HTTPS"')
        for header in action.get("httpHeaders") or []:
            name = header.get("name") if isinstance(header, dict) else None
            if not isinstance(name, str) or not _HTTP_HEADER.match(name):
                raise ManifestError(f"{p}.httpHeaders", name, "Invalid value: " + regex_error(
                    "a valid HTTP header must consist of alphanumeric characters or '-'", "[-A-Za-z0-9]+",
                    "X-Header-Name"))
    if kind == "tcpSocket":
        _check_port_num_or_name(action.get("port"), f"{p}.port")
    if kind == "grpc":
        _check_port_num_or_name(action.get("port"), f"{p}.port")
    if kind == "sleep":
        seconds = action.get("seconds")
        if grace is not None and _is_int(seconds) and not 0 <= seconds <= grace:
            raise ManifestError(p, seconds, "Invalid value: must be non-negative and less than "
                                f"terminationGracePeriodSeconds ({grace})")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_port_num_or_name(port: Any, path: str) -> None:
    """``ValidatePortNumOrName``: 1-65535, or an IANA service name (a container port's name)."""
    if isinstance(port, str):
        _check_port_name(port, path)
    elif _is_int(port) and not 1 <= port <= 65535:
        raise ManifestError(path, port, "Invalid value: must be between 1 and 65535, inclusive")


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


def validate_pod_spec(spec: dict[str, Any], path: str, pod: bool = False) -> None:
    """``ValidatePodSpec``: containers, resources, scheduling fields.

    ``pod``: the spec of a Pod (not a template), whose negative ``terminationGracePeriodSeconds``
    the v1 conversion turns into 1 (``Convert_v1_Pod_To_core_Pod``) before validation.
    """
    names: dict[str, str] = {}
    grace = spec.get("terminationGracePeriodSeconds")
    grace = 30 if not _is_int(grace) else (1 if pod and grace < 0 else grace)  # SetDefaults_PodSpec
    containers = spec.get("containers")
    if not containers:
        raise ManifestError(f"{path}.containers", containers,
                            "Required value: a pod needs at least one container")
    for i, c in enumerate(spec.get("initContainers") or []):
        _validate_container(c, f"{path}.initContainers[{i}]", names, init=True, grace=grace)
    for i, c in enumerate(containers):
        _validate_container(c, f"{path}.containers[{i}]", names, init=False, grace=grace)
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
    # A negative terminationGracePeriodSeconds is accepted with a warning ("negative values are invalid
    # and will be treated as 1", pkg/api/pod/warnings.go); the Pod conversion stores 1.
    _check_preemption_policy(spec.get("preemptionPolicy"), f"{path}.preemptionPolicy")
    for i, gate in enumerate(spec.get("schedulingGates") or []):
        err = is_qualified_name(gate.get("name", ""))
        if err:
            raise ManifestError(f"{path}.schedulingGates[{i}].name", gate.get("name"),
                                f"Invalid value: {err}")


def _check_preemption_policy(value: Any, path: str) -> None:
    """``ValidatePreemptionPolicy`` (its values in upstream's order)."""
    if value == "":
        raise ManifestError(path, value, "Required value")
    if value is not None and value not in ("PreemptLowerPriority", "Never"):
        raise ManifestError(path, value,
                            'Unsupported value: supported values: "PreemptLowerPriority", "Never"')


def _pod(doc: dict[str, Any]) -> None:
    validate_pod_spec(doc.get("spec") or {}, "spec", pod=True)


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
    check_app_annotations((template.get("metadata") or {}).get("annotations") or {},
                          "spec.template.metadata.annotations")
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
    """``validateService`` (``pkg/apis/core/validation/validation.go``) on the Service as
    ``SetDefaults_Service`` leaves it, plus the NodePort allocator's range check."""
    spec = doc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"  # SetDefaults_Service
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"
    if not ports and not headless and stype != "ExternalName":
        raise ManifestError("spec.ports", ports, "Required value: a Service needs at least one port")
    if stype in ("LoadBalancer", "NodePort") and headless:
        raise ManifestError("spec.clusterIPs[0]", "None",
                            f"Invalid value: may not be set to 'None' for {stype} "
                            "services")
    if stype == "ExternalName":
        if spec.get("clusterIP") or spec.get("clusterIPs"):
            raise ManifestError("spec.clusterIPs", spec.get("clusterIPs") or [spec.get("clusterIP")],
                                "Forbidden: may not be set for ExternalName services")
        for field in ("ipFamilies", "ipFamilyPolicy"):
            if spec.get(field):
                raise ManifestError(f"spec.{field}", spec[field],
                                    "Forbidden: may not be set for ExternalName "
                                    "services")
        cname = spec.get("externalName")
        cname = cname[:-1] if isinstance(cname, str) and cname.endswith(".") else cname
        if not cname:
            raise ManifestError("spec.externalName", spec.get("externalName"),
                                "Required value: an ExternalName Service names a DNS name (e.g. "
                                "db.example.com)")
        check_name(cname, "spec.externalName", "subdomain")
    names: set[str] = set()
    for i, port in enumerate(ports):
        _service_port(port, f"spec.ports[{i}]", len(ports) > 1, names)
    for key, val in (spec.get("selector") or {}).items():
        err = is_qualified_name(key) or _label_value_error(val)
        if err:
            raise ManifestError(f"spec.selector.{key}", val, f"Invalid value: {err}")
    sa = spec.get("sessionAffinity") or "None"
    if sa not in ("ClientIP", "None"):
        raise ManifestError("spec.sessionAffinity", sa,
                            'Unsupported value: supported values: "ClientIP", "None"')
    if sa == "ClientIP":  # with None, SetDefaults_Service drops sessionAffinityConfig
        timeout = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        if timeout is not None and not 0 < timeout <= 86400:
            raise ManifestError("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                                "Invalid value: must be greater than 0 and less than 86400")
    if stype not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        raise ManifestError("spec.type", stype, 'Unsupported value: supported values: "ClusterIP", '
                            '"ExternalName", "LoadBalancer", "NodePort"')
    node_ports: set[tuple[str, int]] = set()
    seen: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        np_, proto = port.get("nodePort"), port.get("protocol") or "TCP"
        if np_ and stype == "ClusterIP":
            raise ManifestError(f"{p}.nodePort", np_, "Forbidden: may not be used when `type` is 'ClusterIP'")
        if np_:
            if (proto, np_) in node_ports:
                raise ManifestError(f"{p}.nodePort", np_, "Duplicate value")
            node_ports.add((proto, np_))
        if (proto, port.get("port")) in seen:
            raise ManifestError(p, {"port": port.get("port"), "protocol": proto}, "Duplicate value")
        seen.add((proto, port.get("port")))
    if spec.get("loadBalancerSourceRanges") and stype != "LoadBalancer":
        # sic: upstream spells this path with a capital L
        raise ManifestError("spec.LoadBalancerSourceRanges", spec["loadBalancerSourceRanges"],
                            "Forbidden: may only be used when `type` is 'LoadBalancer'")
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        raise ManifestError("spec.allocateLoadBalancerNodePorts", spec["allocateLoadBalancerNodePorts"],
                            "Forbidden: may only be used when `type` is 'LoadBalancer'")
    _service_traffic_policies(spec, stype)
    # The NodePort allocator (pkg/registry/core/service/portallocator) refuses a port outside
    # --service-node-port-range; it allocates only for NodePort and LoadBalancer Services.
    if stype in ("NodePort", "LoadBalancer"):
        for i, port in enumerate(ports):
            np_ = port.get("nodePort")
            if np_ and not 30000 <= np_ <= 32767:
                raise ManifestError(f"spec.ports[{i}].nodePort", np_,
                                    "Invalid value: provided port is not in the valid range. "
                                    "The range of valid ports is 30000-32767")


def _service_port(port: dict[str, Any], p: str, require_name: bool, names: set[str]) -> None:
    """``validateServicePort``."""
    if require_name and not port.get("name"):
        raise ManifestError(f"{p}.name", None, "Required value: ports of a multi-port Service need names")
    if port.get("name"):
        check_name(port["name"], f"{p}.name", "label")
        if port["name"] in names:
            raise ManifestError(f"{p}.name", port["name"], "Duplicate value")
        names.add(port["name"])
    num = port.get("port")
    if not _is_int(num) or not 1 <= num <= 65535:
        raise ManifestError(f"{p}.port", num, "Invalid value: must be between 1 and 65535, inclusive")
    _check_protocol(port.get("protocol"), f"{p}.protocol", service=True)
    tp = port.get("targetPort")
    if tp not in (None, 0, ""):  # SetDefaults_Service: 0 or "" becomes the port
        _check_port_num_or_name(tp, f"{p}.targetPort")
    ap = port.get("appProtocol")
    if ap is not None:
        err = is_qualified_name(ap)
        if err:
            raise ManifestError(f"{p}.appProtocol", ap, f"Invalid value: {err}")


def _service_traffic_policies(spec: dict[str, Any], stype: str) -> None:
    """``validateServiceExternalTrafficPolicy`` and ``validateServiceInternalTrafficFieldsValue``."""
    # apiservice.ExternallyAccessible: NodePort, LoadBalancer, or ClusterIP with externalIPs.
    external = stype in ("NodePort", "LoadBalancer") or (stype == "ClusterIP"
                                                         and bool(spec.get("externalIPs")))
    etp = spec.get("externalTrafficPolicy") or ""
    if not external and etp:
        raise ManifestError("spec.externalTrafficPolicy", etp,
                            "Invalid value: may only be set for externally-accessible services")
    if external and etp and etp not in ("Cluster", "Local"):
        raise ManifestError("spec.externalTrafficPolicy", etp,
                            'Unsupported value: supported values: "Cluster", '
                            '"Local"')
    hc = spec.get("healthCheckNodePort")
    if hc and not (stype == "LoadBalancer" and etp == "Local"):
        raise ManifestError("spec.healthCheckNodePort", hc, "Invalid value: may only be set when `type` is "
                            "'LoadBalancer' and `externalTrafficPolicy` is 'Local'")
    if hc and not 1 <= hc <= 65535:
        raise ManifestError("spec.healthCheckNodePort", hc,
                            "Invalid value: must be between 1 and 65535, inclusive")
    itp = spec.get("internalTrafficPolicy")
    if itp is not None and itp not in ("Cluster", "Local"):
        raise ManifestError("spec.internalTrafficPolicy", itp,
                            'Unsupported value: supported values: "Cluster", '
                            '"Local"')


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


# -- autoscaling/v2 (pkg/apis/autoscaling/validation/validation.go) ---------------------------------
#: ``MaxPeriodSeconds`` and ``MaxStabilizationWindowSeconds``.
MAX_PERIOD_SECONDS, MAX_STABILIZATION_WINDOW_SECONDS = 1800, 3600
#: The metric source types and the field each one fills (``validMetricSourceTypes``, sorted).
_METRIC_SOURCES = {"ContainerResource": "containerResource", "External": "external", "Object": "object",
                   "Pods": "pods", "Resource": "resource"}


def _hpa(doc: dict[str, Any]) -> None:
    """``validateHorizontalPodAutoscalerSpec`` on the HPA as ``SetDefaults_HorizontalPodAutoscaler``
    leaves it (minReplicas 1, an 80% CPU metric when there is none, behavior filled in)."""
    spec = doc.get("spec") or {}
    mn = spec.get("minReplicas")
    mn = 1 if mn is None else mn
    mx = spec.get("maxReplicas")
    if mn < 1:
        raise ManifestError("spec.minReplicas", mn, "Invalid value: must be greater than or equal to 1 "
                            "(0 needs the HPAScaleToZero feature gate, off by default)")
    if not mx:
        raise ManifestError("spec.maxReplicas", mx, "Required value: must be set and greater than 0")
    if mx < 0:
        raise ManifestError("spec.maxReplicas", mx, "Invalid value: must be greater than or equal to 1")
    if mx < mn:
        raise ManifestError("spec.maxReplicas", mx, f"Invalid value: must be greater than or equal to "
                            f"`minReplicas` ({mn})")
    ref = spec.get("scaleTargetRef") or {}
    _cross_version_ref(ref, "spec.scaleTargetRef", empty_group_ok=ref.get("kind") == "ReplicationController")
    for i, m in enumerate(spec.get("metrics") or []):
        _metric_spec(m if isinstance(m, dict) else {}, f"spec.metrics[{i}]")
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        for direction in ("scaleUp", "scaleDown"):
            if isinstance(behavior.get(direction), dict):
                _scaling_rules(behavior[direction], f"spec.behavior.{direction}")


def _path_segment_error(name: str) -> str | None:
    """``content.IsPathSegmentName``: a name that can be a URL path segment."""
    if name in (".", ".."):
        return f"may not be '{name}'"
    bad = [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    return ", ".join(bad) or None


def _cross_version_ref(ref: dict[str, Any], path: str, empty_group_ok: bool) -> None:
    """``ValidateCrossVersionObjectReference`` (kind, name, and an apiVersion with a group)."""
    for field in ("kind", "name"):
        value = ref.get(field)
        if not value:
            raise ManifestError(f"{path}.{field}", value, "Required value")
        err = _path_segment_error(value)
        if err:
            raise ManifestError(f"{path}.{field}", value, f"Invalid value: {err}")
    api_version = ref.get("apiVersion") or ""
    if api_version.count("/") > 1:
        raise ManifestError(f"{path}.apiVersion", api_version,
                            f"Invalid value: unexpected GroupVersion string: {api_version}")
    if "/" not in api_version and not empty_group_ok:
        raise ManifestError(f"{path}.apiVersion", api_version,
                            "Invalid value: apiVersion must specify API group (e.g. apps/v1 for a "
                            "Deployment)")


def _metric_spec(m: dict[str, Any], path: str) -> None:
    """``validateMetricSpec``: a known type, its source filled in (and no other), a valid target."""
    mtype = m.get("type")
    if not mtype:
        raise ManifestError(f"{path}.type", mtype, "Required value: must specify a metric source type")
    if mtype not in _METRIC_SOURCES:
        raise ManifestError(f"{path}.type", mtype, "Unsupported value: supported values: "
                            + ", ".join(f'"{t}"' for t in _METRIC_SOURCES))
    present = [f for f in ("object", "external", "pods", "resource", "containerResource")
               if m.get(f) is not None]
    if present:
        source, p = m[present[0]], f"{path}.{present[0]}"
        _METRIC_SOURCE_RULES[present[0]](source if isinstance(source, dict) else {}, p)
    expected = _METRIC_SOURCES[mtype]
    if m.get(expected) is None:
        raise ManifestError(f"{path}.{expected}", None,
                            "Required value: must populate information for the given metric source")
    for other in present:
        if other != expected:
            raise ManifestError(f"{path}.{other}", m[other],
                                "Forbidden: must populate the given metric source only")


def _metric_target(target: dict[str, Any], path: str) -> None:
    """``validateMetricTarget``."""
    ttype = target.get("type")
    if not ttype:
        raise ManifestError(f"{path}.type", ttype, "Required value: must specify a metric target type")
    if ttype not in ("Utilization", "Value", "AverageValue"):
        raise ManifestError(f"{path}.type", ttype,
                            "Invalid value: must be either Utilization, Value, or AverageValue")
    for field in ("value", "averageValue"):
        if target.get(field) is not None and check_quantity(target[field], f"{path}.{field}") <= 0:
            raise ManifestError(f"{path}.{field}", target[field], "Invalid value: must be positive")
    util = target.get("averageUtilization")
    if util is not None and util < 1:
        raise ManifestError(f"{path}.averageUtilization", util, "Invalid value: must be greater than 0")


def _metric_name(metric: Any, path: str) -> None:
    """``validateMetricIdentifier``."""
    name = metric.get("name") if isinstance(metric, dict) else None
    if not name:
        raise ManifestError(f"{path}.name", name, "Required value: must specify a metric name")
    err = _path_segment_error(name)
    if err:
        raise ManifestError(f"{path}.name", name, f"Invalid value: {err}")


def _object_source(src: dict[str, Any], path: str) -> None:
    _cross_version_ref(src.get("describedObject") or {}, f"{path}.describedObject", empty_group_ok=True)
    _metric_name(src.get("metric"), f"{path}.metric")
    target = src.get("target") or {}
    _metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        raise ManifestError(f"{path}.target.averageValue", None,
                            "Required value: must set either a target value or averageValue")


def _external_source(src: dict[str, Any], path: str) -> None:
    _metric_name(src.get("metric"), f"{path}.metric")
    target = src.get("target") or {}
    _metric_target(target, f"{path}.target")
    if target.get("value") is None and target.get("averageValue") is None:
        raise ManifestError(f"{path}.target.averageValue", None,
                            "Required value: must set either a target value for metric or a per-pod target")
    if target.get("value") is not None and target.get("averageValue") is not None:
        raise ManifestError(f"{path}.target.value", target["value"],
                            "Forbidden: may not set both a target value for metric and a per-pod target")


def _pods_source(src: dict[str, Any], path: str) -> None:
    _metric_name(src.get("metric"), f"{path}.metric")
    target = src.get("target") or {}
    _metric_target(target, f"{path}.target")
    if target.get("averageValue") is None:
        raise ManifestError(f"{path}.target.averageValue", None,
                            "Required value: must specify a positive target averageValue")


def _resource_source(src: dict[str, Any], path: str, container: bool = False) -> None:
    name = src.get("name")
    if not name:
        raise ManifestError(f"{path}.name", name, "Required value: must specify a resource name")
    if container:
        check_resource_name(name, f"{path}.name")
        if not src.get("container"):
            raise ManifestError(f"{path}.container", src.get("container"),
                                "Required value: must specify a container")
        check_name(src["container"], f"{path}.container", "label")
    target = src.get("target") or {}
    _metric_target(target, f"{path}.target")
    if target.get("averageUtilization") is None and target.get("averageValue") is None:
        raise ManifestError(f"{path}.target.averageUtilization", None,
                            "Required value: must set either a target raw value or a target utilization")
    if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
        raise ManifestError(f"{path}.target.averageValue", target["averageValue"],
                            "Forbidden: may not set both a target raw value and a target utilization")


_METRIC_SOURCE_RULES: dict[str, Callable[[dict[str, Any], str], None]] = {
    "object": _object_source, "external": _external_source, "pods": _pods_source,
    "resource": _resource_source,
    "containerResource": lambda src, path: _resource_source(src, path, container=True),
}


def _scaling_rules(rules: dict[str, Any], path: str) -> None:
    """``validateScalingRules`` / ``validateScalingPolicy``, after ``GenerateHPAScale{Up,Down}Rules``
    filled what is unset (an omitted ``policies`` gets the defaults; an empty list stays empty)."""
    window = rules.get("stabilizationWindowSeconds")
    if window is not None and window < 0:
        raise ManifestError(f"{path}.stabilizationWindowSeconds", window,
                            "Invalid value: must be greater than or equal to zero")
    if window is not None and window > MAX_STABILIZATION_WINDOW_SECONDS:
        raise ManifestError(f"{path}.stabilizationWindowSeconds", window,
                            f"Invalid value: must be less than or equal to "
                            f"{MAX_STABILIZATION_WINDOW_SECONDS}")
    select = rules.get("selectPolicy")
    if select is not None and select not in ("Disabled", "Max", "Min"):
        raise ManifestError(f"{path}.selectPolicy", select,
                            'Unsupported value: supported values: "Disabled", "Max", "Min"')
    policies = rules.get("policies")
    if policies is not None and not policies:
        raise ManifestError(f"{path}.policies", policies, "Required value: must specify at least one Policy")
    for i, policy in enumerate(policies or []):
        p = f"{path}.policies[{i}]"
        policy = policy if isinstance(policy, dict) else {}
        if policy.get("type") not in ("Pods", "Percent"):
            raise ManifestError(f"{p}.type", policy.get("type"),
                                'Unsupported value: supported values: "Percent", '
                                '"Pods"')
        value, period = policy.get("value") or 0, policy.get("periodSeconds") or 0
        if value <= 0:
            raise ManifestError(f"{p}.value", value, "Invalid value: must be greater than zero")
        if period <= 0:
            raise ManifestError(f"{p}.periodSeconds", period, "Invalid value: must be greater than zero")
        if period > MAX_PERIOD_SECONDS:
            raise ManifestError(f"{p}.periodSeconds", period,
                                f"Invalid value: must be less than or equal to {MAX_PERIOD_SECONDS}")
    tolerance = rules.get("tolerance")
    if tolerance is not None and check_quantity(tolerance, f"{path}.tolerance") < 0:
        raise ManifestError(f"{path}.tolerance", tolerance,
                            "Invalid value: must be greater than or equal to 0")


# -- scheduling.k8s.io, node.k8s.io, policy, storage ---------------------------------------------------
#: ``SystemPriorityClasses`` (pkg/apis/scheduling/v1/helpers.go): the only names with the reserved prefix.
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}
#: ``HighestUserDefinablePriority``.
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000


def _priority_class(doc: dict[str, Any]) -> None:
    """``ValidatePriorityClass``: the ``system-`` prefix is for the built-in classes, exactly as defined."""
    value = doc.get("value") or 0
    name = doc["metadata"]["name"]
    if name.startswith("system-"):
        known = SYSTEM_PRIORITY_CLASSES.get(name)
        if known is None:
            why = f"{name} is not a known system priority class"
        elif value != known:
            why = f"value of {name} PriorityClass must be {known}"
        elif doc.get("globalDefault"):
            why = f"globalDefault of {name} PriorityClass must be false"
        else:
            why = None
        if why:
            raise ManifestError("metadata.name", name,
                                "Forbidden: priority class names with 'system-' prefix are "
                                f"reserved for system use only. error: {why}")
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        raise ManifestError("value", value, "Forbidden: maximum allowed value of a user defined priority is "
                            f"{HIGHEST_USER_DEFINABLE_PRIORITY}")
    _check_preemption_policy(doc.get("preemptionPolicy"), "preemptionPolicy")


def _runtime_class(doc: dict[str, Any]) -> None:
    """``ValidateRuntimeClass``: handler a DNS label; overhead checked as container limits
    (``validateOverhead``: so upstream's paths read ``overhead.limits[cpu]``); scheduling's labels
    and tolerations, each toleration once."""
    handler = doc.get("handler")
    if not handler:
        raise ManifestError("handler", handler, "Required value")
    check_name(handler, "handler", "label")
    for name, value in ((doc.get("overhead") or {}).get("podFixed") or {}).items():
        p = f"overhead.limits[{name}]"
        check_resource_name(name, p)
        q = check_quantity(value, p)
        if is_integer_resource(name) and q != int(q):
            raise ManifestError(p, value, "Invalid value: must be an integer")
    sched = doc.get("scheduling") or {}
    for key, val in (sched.get("nodeSelector") or {}).items():
        err = is_qualified_name(key)
        if err:
            raise ManifestError("scheduling.nodeSelector", key, f"Invalid value: {err}")
        err = _label_value_error(val)
        if err:
            raise ManifestError(f"scheduling.nodeSelector.{key}", val, f"Invalid value: {err}")
    tols = sched.get("tolerations") or []
    _validate_tolerations(tols, "scheduling.tolerations")
    seen: set[tuple[Any, ...]] = set()
    for i, t in enumerate(tols):
        key = (t.get("key", ""), t.get("operator", ""), t.get("value", ""), t.get("effect", ""))
        if key in seen:
            raise ManifestError(f"scheduling.tolerations[{i}]", t, "Duplicate value")
        seen.add(key)


def _pdb(doc: dict[str, Any]) -> None:
    """``ValidatePodDisruptionBudgetSpec`` (``pkg/apis/policy/validation/validation.go``)."""
    spec = doc.get("spec") or {}
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        both = {"minAvailable": spec["minAvailable"], "maxUnavailable": spec["maxUnavailable"]}
        raise ManifestError("spec", both,
                            "Invalid value: minAvailable and maxUnavailable cannot be both set")
    for field in ("minAvailable", "maxUnavailable"):
        value = spec.get(field)
        n = _int_or_percent(value, f"spec.{field}")
        if isinstance(value, str) and n is not None and n > 100:
            raise ManifestError(f"spec.{field}", value, "Invalid value: must not be greater than 100%")
    selector_from_dict(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("AlwaysAllow", "IfHealthyBudget"):
        raise ManifestError("spec.unhealthyPodEvictionPolicy", policy,
                            'Unsupported value: supported values: "AlwaysAllow", "IfHealthyBudget"')


#: ``supportedAccessModes`` (sorted, as ``sets.List`` prints them).
_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _pvc(doc: dict[str, Any]) -> None:
    """``ValidatePersistentVolumeClaimSpec``: access modes, a positive storage request, class and mode."""
    spec = doc.get("spec") or {}
    modes = spec.get("accessModes") or []
    if not modes:
        raise ManifestError("spec.accessModes", modes, "Required value: at least 1 access mode is required")
    selector_from_dict(spec.get("selector"), "spec.selector")
    for mode in modes:
        if mode not in _ACCESS_MODES:
            raise ManifestError("spec.accessModes", mode, "Unsupported value: supported values: "
                                + ", ".join(f'"{m}"' for m in _ACCESS_MODES))
    if "ReadWriteOncePod" in modes and any(m != "ReadWriteOncePod" for m in modes):
        raise ManifestError("spec.accessModes", modes,
                            "Forbidden: may not use ReadWriteOncePod with other access modes")
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        raise ManifestError("spec.resources[storage]", None,
                            "Required value (set spec.resources.requests.storage, e.g. 1Gi)")
    if check_quantity(requests["storage"], "spec.resources.requests.storage") <= 0:
        raise ManifestError("spec.resources[storage]", requests["storage"],
                            "Invalid value: must be greater than zero")
    if spec.get("storageClassName"):
        check_name(spec["storageClassName"], "spec.storageClassName", "subdomain")
    mode = spec.get("volumeMode")
    if mode is not None and mode not in ("Block", "Filesystem"):
        raise ManifestError("spec.volumeMode", mode,
                            'Unsupported value: supported values: "Block", "Filesystem"')


# -- EndpointSlices (pkg/apis/discovery/validation/validation.go) ---------------------------------
_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
#: validation.go: maxAddresses, maxPorts, maxEndpoints.
MAX_SLICE_ADDRESSES, MAX_SLICE_PORTS, MAX_SLICE_ENDPOINTS = 100, 20000, 1000


def _endpoint_ip_error(address: str, family: int) -> str | None:
    """``IsValidIPForLegacyField`` then ``ValidateEndpointIP`` (the first reason refused, or None)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
    if ip.version != family:
        return f"must be an IPv{family} address"
    if ip.is_unspecified:
        return f"may not be unspecified ({address})"
    if ip.is_loopback:
        return "may not be in the loopback range (127.0.0.0/8, ::1/128)"
    if ip.is_link_local:
        return "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
    link_local_mc = ipaddress.ip_network("224.0.0.0/24") if family == 4 else ipaddress.ip_network("ff02::/16")
    if ip in link_local_mc:
        return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
    return None


def _endpoint_slice(doc: dict[str, Any]) -> None:
    """``ValidateEndpointSlice``: addressType, ports (names, protocols), endpoints (1-100 addresses
    of the slice's family, at most 1000 endpoints, node name, hostname)."""
    addr_type = doc.get("addressType") or ""
    if not addr_type:
        raise ManifestError("addressType", addr_type, "Required value")
    if addr_type not in _ADDRESS_TYPES:
        raise ManifestError("addressType", addr_type, "Unsupported value: supported values: "
                            + ", ".join(f'"{t}"' for t in _ADDRESS_TYPES))
    ports = doc.get("ports") or []
    if len(ports) > MAX_SLICE_PORTS:
        raise ManifestError("ports", len(ports),
                            f"Too many: {len(ports)}: must have at most {MAX_SLICE_PORTS} items")
    names: list[str] = []
    for i, port in enumerate(ports):
        p = f"ports[{i}]"
        name = port.get("name") or ""
        if name:
            check_name(name, f"{p}.name", "label")
        if name in names:
            raise ManifestError(f"{p}.name", name, "Duplicate value")
        names.append(name)
        proto = port.get("protocol") or "TCP"  # SetDefaults_EndpointPort
        if proto not in _PORT_PROTOCOLS:
            _check_protocol(proto, f"{p}.protocol")
        if port.get("appProtocol") is not None:
            err = is_qualified_name(port["appProtocol"])
            if err:
                raise ManifestError(f"{p}.appProtocol", port["appProtocol"], f"Invalid value: {err}")
    endpoints = doc.get("endpoints") or []
    if len(endpoints) > MAX_SLICE_ENDPOINTS:
        raise ManifestError("endpoints", len(endpoints),
                            f"Too many: {len(endpoints)}: must have at most {MAX_SLICE_ENDPOINTS} items")
    for i, ep in enumerate(endpoints):
        p = f"endpoints[{i}]"
        addresses = ep.get("addresses") or []
        if not addresses:
            raise ManifestError(f"{p}.addresses", addresses,
                                "Required value: must contain at least 1 address")
        if len(addresses) > MAX_SLICE_ADDRESSES:
            raise ManifestError(f"{p}.addresses", len(addresses),
                                f"Too many: {len(addresses)}: must have at most {MAX_SLICE_ADDRESSES} items")
        for j, address in enumerate(addresses):
            if addr_type == "FQDN":
                fqdn = address[:-1] if address.endswith(".") else address
                if "." not in fqdn:
                    raise ManifestError(f"{p}.addresses[{j}]", address, "Invalid value: should be a domain "
                                        "with at least two segments separated by dots")
                check_name(fqdn, f"{p}.addresses[{j}]", "subdomain")
                continue
            err = _endpoint_ip_error(address, 4 if addr_type == "IPv4" else 6)
            if err is not None:
                # sic: the family mismatch is reported on the list, the other reasons on the item
                where = f"{p}.addresses" if err.startswith("must be an IPv") else f"{p}.addresses[{j}]"
                raise ManifestError(where, address, f"Invalid value: {err}")
        if ep.get("nodeName") is not None:
            check_name(ep["nodeName"], f"{p}.nodeName", "subdomain")
        if ep.get("hostname") is not None:
            check_name(ep["hostname"], f"{p}.hostname", "label")


_RULES: dict[str, Callable[[dict[str, Any]], None]] = {
    "Pod": _pod,
    "Deployment": _template_workload,
    "ReplicaSet": _template_workload,
    "Service": _service,
    "Node": _node,
    "HorizontalPodAutoscaler": _hpa,
    "PriorityClass": _priority_class,
    "RuntimeClass": _runtime_class,
    "PodDisruptionBudget": _pdb,
    "PersistentVolumeClaim": _pvc,
    "EndpointSlice": _endpoint_slice,
}

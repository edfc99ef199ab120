"""Refuse a bad ``KubeSchedulerConfiguration`` up front, as kube-scheduler does at start-up.

kube-scheduler reads its ``--config`` in three steps, and so does :func:`decode_and_validate`:

1. **strict decoding** into the ``kubescheduler.config.k8s.io/v1`` types (an unknown field, a
   string where an ``int32`` belongs, a list where a mapping belongs are decoding errors);
2. **defaulting** (``pkg/scheduler/apis/config/v1/defaults.go``: one profile named
   ``default-scheduler`` when none is given, ``NodeResourcesFitArgs.scoringStrategy``
   ``LeastAllocated`` over cpu and memory, a resource weight of 0 read as 1, ...);
3. **validation** (``pkg/scheduler/apis/config/validation/validation.go`` and
   ``validation_pluginargs.go``), plus the checks ``frameworkruntime.NewFramework`` makes when it
   builds a profile (``ScorePlugin "Foo" does not exist``, ``repeated config for plugin``).

The first problem found is a :class:`labkit.ManifestError` with the field path as upstream
prints it (``profiles[0].pluginConfig[0].args.scoringStrategy.resources[0].weight``) and
upstream's words (``not in valid range [0-100]``, ``Required value``, ``Duplicate value``), so a
configuration that would stop a real kube-scheduler never reaches a scheduling cycle here.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from labkit.api.selectors import is_qualified_name
from labkit.errors import ManifestError

__all__ = ["decode_and_validate", "API_VERSION", "KIND", "PLUGIN_POINTS"]

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)

#: The extension points each default plugin implements (``pkg/scheduler/framework/plugins/*``);
#: a plugin enabled at a point it does not implement is refused as ``NewFramework`` refuses it.
PLUGIN_POINTS: dict[str, frozenset[str]] = {name: frozenset(points.split()) for name, points in {
    "SchedulingGates": "preEnqueue",
    "PrioritySort": "queueSort",
    "NodeUnschedulable": "filter",
    "NodeName": "filter",
    "TaintToleration": "filter preScore score",
    "NodeAffinity": "preFilter filter preScore score",
    "NodePorts": "preFilter filter",
    "NodeResourcesFit": "preFilter filter preScore score",
    "VolumeRestrictions": "preFilter filter",
    "NodeVolumeLimits": "preFilter filter",
    "VolumeBinding": "preFilter filter reserve preBind preScore score",
    "VolumeZone": "preFilter filter",
    "PodTopologySpread": "preFilter filter preScore score",
    "InterPodAffinity": "preFilter filter preScore score",
    "DynamicResources": "preEnqueue preFilter filter postFilter reserve preBind preScore score",
    "DefaultPreemption": "postFilter",
    "NodeResourcesBalancedAllocation": "preScore score",
    "ImageLocality": "score",
    "DefaultBinder": "bind",
    "NodeDeclaredFeatures": "preFilter filter",
}.items()}

#: ``config.Plugins`` fields, each a ``PluginSet``; the Go interface names for NewFramework's messages.
POINTS = {"preEnqueue": "PreEnqueuePlugin", "queueSort": "QueueSortPlugin", "preFilter": "PreFilterPlugin",
          "filter": "FilterPlugin", "postFilter": "PostFilterPlugin", "preScore": "PreScorePlugin",
          "score": "ScorePlugin", "reserve": "ReservePlugin", "permit": "PermitPlugin",
          "preBind": "PreBindPlugin", "bind": "BindPlugin", "postBind": "PostBindPlugin",
          "multiPoint": "PreFilterPlugin"}

# -- the v1 types, for strict decoding -------------------------------------------------------------
# A spec is a scalar type name, a dict of fields (a struct), ("list", spec), ("map", spec) or "any".
_PLUGIN = {"name": "string", "weight": "int32"}
_PLUGIN_SET = {"enabled": ("list", _PLUGIN), "disabled": ("list", _PLUGIN)}
_RESOURCE = {"name": "string", "weight": "int64"}
_SHAPE = ("list", {"utilization": "int32", "score": "int32"})
_TYPE_META = {"apiVersion": "string", "kind": "string"}
_SPREAD_CONSTRAINT = {"maxSkew": "int32", "topologyKey": "string", "whenUnsatisfiable": "string",
                      "labelSelector": "any", "minDomains": "int32", "nodeAffinityPolicy": "string",
                      "nodeTaintsPolicy": "string", "matchLabelKeys": ("list", "string")}
#: ``<Plugin>Args`` types (``pkg/scheduler/apis/config/v1/types_pluginargs.go``).
ARGS: dict[str, dict[str, Any]] = {
    "DefaultPreemption": {**_TYPE_META, "minCandidateNodesPercentage": "int32",
                          "minCandidateNodesAbsolute": "int32"},
    "InterPodAffinity": {**_TYPE_META, "hardPodAffinityWeight": "int32",
                         "ignorePreferredTermsOfExistingPods": "bool"},
    "NodeAffinity": {**_TYPE_META, "addedAffinity": "object"},
    "NodeResourcesBalancedAllocation": {**_TYPE_META, "resources": ("list", _RESOURCE)},
    "NodeResourcesFit": {**_TYPE_META, "ignoredResources": ("list", "string"),
                         "ignoredResourceGroups": ("list", "string"),
                         "scoringStrategy": {"type": "string", "resources": ("list", _RESOURCE),
                                             "requestedToCapacityRatio": {"shape": _SHAPE}}},
    "PodTopologySpread": {**_TYPE_META, "defaultConstraints": ("list", _SPREAD_CONSTRAINT),
                          "defaultingType": "string"},
    "VolumeBinding": {**_TYPE_META, "bindTimeoutSeconds": "int64", "shape": _SHAPE},
    "DynamicResources": {**_TYPE_META, "filterTimeout": "duration", "bindingTimeout": "duration"},
}
_PROFILE = {"schedulerName": "string", "percentageOfNodesToScore": "int32",
            "plugins": {point: _PLUGIN_SET for point in POINTS},
            "pluginConfig": ("list", {"name": "string", "args": "object"})}
_LEADER_ELECTION = {"leaderElect": "bool", "leaseDuration": "duration", "renewDeadline": "duration",
                    "retryPeriod": "duration", "resourceLock": "string", "resourceName": "string",
                    "resourceNamespace": "string"}
_CLIENT_CONNECTION = {"kubeconfig": "string", "acceptContentTypes": "string", "contentType": "string",
                      "qps": "number", "burst": "int32"}
_CONFIG = {**_TYPE_META, "parallelism": "int32", "leaderElection": _LEADER_ELECTION,
           "clientConnection": _CLIENT_CONNECTION, "enableProfiling": "bool",
           "enableContentionProfiling": "bool", "percentageOfNodesToScore": "int32",
           "podInitialBackoffSeconds": "int64", "podMaxBackoffSeconds": "int64",
           "profiles": ("list", _PROFILE), "extenders": ("list", "object"), "delayCacheUntilActive": "bool"}

_GO_TYPES = {"string": "string", "bool": "bool", "int32": "int32", "int64": "int64", "number": "float32",
             "duration": "metav1.Duration"}
_WANTED = {"string": "a string", "bool": "true or false", "int32": "an integer (int32)",
           "int64": "an integer (int64)", "number": "a number", "duration": 'a duration such as "10s"',
           "object": "a mapping", "list": "a list", "struct": "a mapping"}
#: Go's time.ParseDuration units.
_DURATION = re.compile(r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+|[-+]?0")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path else child


def _type_error(path: str, value: Any, want: str) -> ManifestError:
    from labkit.manifests import _type_name

    got = f'the string "{value}"' if isinstance(value, str) else f"{_type_name(value)} {value!r}"
    hint = ""
    if isinstance(value, str) and want in ("int32", "int64", "number"):
        try:
            float(value)
            hint = f" (write it without quotes: {value})"
        except ValueError:
            pass
    elif want == "string" and isinstance(value, bool):
        hint = " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote the value)"
    return ManifestError(path, value, f"Invalid value: expected {_WANTED.get(want, want)}, got {got}{hint} "
                         "(kube-scheduler decodes its configuration strictly)")


def _duration_seconds(text: str) -> float:
    sign = -1.0 if text.startswith("-") else 1.0
    total = sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9.]+)(ns|us|µs|μs|ms|s|m|h)", text))
    return sign * total


def _decode(value: Any, spec: Any, path: str) -> None:
    """Strict decoding: the value has the Go type of ``spec``, and a struct has only known fields."""
    if value is None or spec == "any":
        return  # JSON null decodes to the zero value
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _type_error(path, value, "struct")
        for key, item in value.items():
            if key not in spec:
                from labkit.manifests import _did_you_mean

                full = _join(path, str(key))
                raise ManifestError(full, item, f'unknown field "{full}"{_did_you_mean(str(key), spec)} '
                                    "(kube-scheduler decodes its configuration strictly)")
            _decode(item, spec[key], _join(path, key))
        return
    if isinstance(spec, tuple):
        if not isinstance(value, list):
            raise _type_error(path, value, "list")
        for i, item in enumerate(value):
            _decode(item, spec[1], f"{path}[{i}]")
        return
    if spec == "object":
        if not isinstance(value, dict):
            raise _type_error(path, value, "object")
    elif spec == "string":
        if not isinstance(value, str):
            raise _type_error(path, value, spec)
    elif spec == "bool":
        if not isinstance(value, bool):
            raise _type_error(path, value, spec)
    elif spec in ("int32", "int64"):
        low, high = INT32 if spec == "int32" else INT64
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, value, spec)
        if not low <= value <= high:
            raise ManifestError(path, value, f"Invalid value: {value} does not fit in an {spec} "
                                f"(from {low} to {high})")
    elif spec == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _type_error(path, value, spec)
    elif spec == "duration" and (not isinstance(value, str) or not _DURATION.fullmatch(value)):
        raise _type_error(path, value, spec)


# -- validation ----------------------------------------------------------------------------------
def _invalid(path: str, value: Any, why: str) -> ManifestError:
    return ManifestError(path, value, f"Invalid value: {why}")


def _unsupported(path: str, value: Any, supported: list[str]) -> ManifestError:
    opts = ", ".join(f'"{o}"' for o in supported)
    return ManifestError(path, value, f"Unsupported value: {value!r}: supported values: {opts}")


def decode_and_validate(cfg: Any, known_plugins: set[str]) -> dict[str, Any]:
    """The configuration decoded strictly, defaulted and validated; raises :class:`ManifestError`.

    Returns a defaulted deep copy (the caller's dict is not touched): ``profiles`` has at least
    one entry, each with a ``schedulerName``, and each plugin's args carry their v1 defaults.
    ``known_plugins`` are the plugin names the model can build.
    """
    if not isinstance(cfg, dict):
        raise _type_error("", cfg, "struct")
    if cfg.get("kind") != KIND or cfg.get("apiVersion") != API_VERSION:
        field = "kind" if cfg.get("kind") != KIND else "apiVersion"
        raise ManifestError(field, cfg.get(field), f"expected apiVersion: {API_VERSION}, kind: {KIND}")
    _decode(cfg, _CONFIG, "")
    for i, prof in enumerate(cfg.get("profiles") or []):
        for j, pc in enumerate((prof or {}).get("pluginConfig") or []):
            if pc and pc.get("args") is not None:
                _decode_args(pc.get("name"), pc["args"], f"profiles[{i}].pluginConfig[{j}].args")
    cfg = copy.deepcopy(cfg)
    _default(cfg)
    _validate(cfg, known_plugins)
    return cfg


def _default(cfg: dict[str, Any]) -> None:
    """``SetDefaults_KubeSchedulerConfiguration`` and the plugin args' ``SetDefaults_*`` (the parts
    that the model reads or that validation depends on)."""
    cfg.setdefault("parallelism", 16)
    cfg.setdefault("podInitialBackoffSeconds", 1)
    cfg.setdefault("podMaxBackoffSeconds", 10)
    leader = cfg.setdefault("leaderElection", {})
    if leader is None:
        leader = cfg["leaderElection"] = {}
    leader.setdefault("leaderElect", True)
    leader.setdefault("resourceLock", "leases")
    profiles = cfg.get("profiles") or []
    cfg["profiles"] = profiles = [p if p is not None else {} for p in profiles] or [{}]
    # Only a single profile gets a default name.
    if len(profiles) == 1 and profiles[0].get("schedulerName") is None:
        profiles[0]["schedulerName"] = "default-scheduler"
    for prof in profiles:
        for pc in prof.get("pluginConfig") or []:
            if pc is None:
                continue
            args = pc.get("args")
            if args is None:
                args = pc["args"] = {}
            _default_args(pc.get("name"), args)


_DEFAULT_RESOURCES = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]


def _default_args(name: Any, args: dict[str, Any]) -> None:
    if name == "NodeResourcesFit":
        if args.get("scoringStrategy") is None:
            args["scoringStrategy"] = {"type": "LeastAllocated",
                                       "resources": copy.deepcopy(_DEFAULT_RESOURCES)}
        strategy = args["scoringStrategy"]
        if not strategy.get("resources"):
            strategy["resources"] = copy.deepcopy(_DEFAULT_RESOURCES)
        for res in strategy["resources"]:
            if res is not None and not res.get("weight"):
                res["weight"] = 1
    elif name == "NodeResourcesBalancedAllocation":
        if not args.get("resources"):
            args["resources"] = copy.deepcopy(_DEFAULT_RESOURCES)
        for res in args["resources"]:
            if res is not None and not res.get("weight"):
                res["weight"] = 1
    elif name == "DefaultPreemption":
        args.setdefault("minCandidateNodesPercentage", 10)
        args.setdefault("minCandidateNodesAbsolute", 100)
    elif name == "InterPodAffinity":
        args.setdefault("hardPodAffinityWeight", 1)
    elif name == "PodTopologySpread":
        if not args.get("defaultingType"):
            args["defaultingType"] = "System"
    elif name == "VolumeBinding":
        args.setdefault("bindTimeoutSeconds", 600)


def _validate(cfg: dict[str, Any], known: set[str]) -> None:
    # validation.go: ValidateKubeSchedulerConfiguration
    leader = cfg["leaderElection"]
    if leader.get("leaderElect") and leader.get("resourceLock") != "leases":
        raise _invalid("leaderElection.resourceLock", leader.get("resourceLock"),
                       'resourceLock value must be "leases"')
    if cfg["parallelism"] <= 0:
        raise _invalid("parallelism", cfg["parallelism"], "should be an integer value greater than zero")
    burst = (cfg.get("clientConnection") or {}).get("burst")
    if burst is not None and burst < 0:
        raise _invalid("clientConnection.burst", burst, "must be non-negative")
    seen: dict[str, int] = {}
    for i, prof in enumerate(cfg["profiles"]):
        path = f"profiles[{i}]"
        if not isinstance(prof, dict):
            raise _type_error(path, prof, "struct")
        _validate_profile(prof, path, known)
        name = prof["schedulerName"]
        if name in seen:
            raise ManifestError(f"{path}.schedulerName", name,
                                f"Duplicate value: the same name as profiles[{seen[name]}].schedulerName")
        seen[name] = i
    _validate_common_queue_sort(cfg["profiles"])
    _percentage(cfg.get("percentageOfNodesToScore"), "percentageOfNodesToScore")
    if cfg["podInitialBackoffSeconds"] <= 0:
        raise _invalid("podInitialBackoffSeconds", cfg["podInitialBackoffSeconds"], "must be greater than 0")
    if cfg["podMaxBackoffSeconds"] < cfg["podInitialBackoffSeconds"]:
        raise _invalid("podMaxBackoffSeconds", cfg["podMaxBackoffSeconds"],
                       "must be greater than or equal to PodInitialBackoffSeconds")
    if cfg.get("extenders"):
        raise ManifestError("extenders", cfg["extenders"], "labkit does not model scheduler extenders "
                            "(webhooks called by kube-scheduler): remove the field")


def _percentage(value: Any, path: str) -> None:
    if value is not None and not 0 <= value <= 100:
        raise _invalid(path, value, "not in valid range [0-100]")


def _validate_profile(prof: dict[str, Any], path: str, known: set[str]) -> None:
    name = prof.get("schedulerName")
    if not name:
        raise ManifestError(f"{path}.schedulerName", name, "Required value: every profile of several needs a "
                            "schedulerName (only a single profile defaults to default-scheduler)")
    _percentage(prof.get("percentageOfNodesToScore"), f"{path}.percentageOfNodesToScore")
    plugins = prof.get("plugins") or {}
    for point in POINTS:
        pset = plugins.get(point) or {}
        seen: set[str] = set()
        for key in ("enabled", "disabled"):
            for j, p in enumerate(pset.get(key) or []):
                where = f"{path}.plugins.{point}.{key}[{j}]"
                _check_plugin(p, where, point, key, known, seen)
    seen_config: set[str] = set()
    for i, pc in enumerate(prof.get("pluginConfig") or []):
        where = f"{path}.pluginConfig[{i}]"
        if not isinstance(pc, dict) or not pc.get("name"):
            raise ManifestError(f"{where}.name", (pc or {}).get("name") if isinstance(pc, dict) else pc,
                                "Required value: name the plugin these args are for, "
                                "e.g. name: NodeResourcesFit")
        pname = pc["name"]
        if pname in seen_config:
            raise ManifestError(where, pname,
                                f'Duplicate value: "{pname}" (repeated config for plugin {pname})')
        seen_config.add(pname)
        if pname not in known and pname not in PLUGIN_POINTS:
            raise ManifestError(f"{where}.name", pname, _no_such_plugin(pname, known))
        _validate_args(pname, pc.get("args") or {}, f"{where}.args")


def _no_such_plugin(name: str, known: set[str]) -> str:
    from labkit.manifests import _did_you_mean

    return (f'plugin "{name}" does not exist{_did_you_mean(name, known | set(PLUGIN_POINTS))}; '
            "the plugins are " + ", ".join(PLUGIN_POINTS))


def _did_you_mean_plugin(name: str, known: set[str]) -> str:
    from labkit.manifests import _did_you_mean

    return _did_you_mean(name, known | set(PLUGIN_POINTS))


def _check_plugin(p: Any, where: str, point: str, key: str, known: set[str], seen: set[str]) -> None:
    if not isinstance(p, dict) or not p.get("name"):
        raise ManifestError(f"{where}.name", p.get("name") if isinstance(p, dict) else p,
                            "Required value: a plugin is named, e.g. name: NodeResourcesFit")
    name = p["name"]
    if key == "disabled":
        return  # disabling a plugin that is not there is no error ("*" disables all)
    if name in ("AzureDiskLimits", "CinderLimits", "EBSLimits", "GCEPDLimits"):
        raise _invalid(where, name, f'was invalid in version "{API_VERSION}" (KubeSchedulerConfiguration is '
                       f'version "{API_VERSION}")')
    if name not in known and name not in PLUGIN_POINTS:
        raise ManifestError(f"{where}.name", name, f'{POINTS[point]} "{name}" does not exist: '
                            + _no_such_plugin(name, known).split("; ", 1)[1]
                            + _did_you_mean_plugin(name, known))
    points = PLUGIN_POINTS.get(name)
    if point != "multiPoint" and points is not None and point not in points:
        raise ManifestError(f"{where}.name", name, f'plugin "{name}" does not extend {POINTS[point]} plugin '
                            f"(it implements {', '.join(sorted(points))})")
    if name in seen:
        raise ManifestError(f"{where}.name", name, f'plugin "{name}" already registered as "{POINTS[point]}"')
    seen.add(name)
    weight = p.get("weight")
    if weight is not None and weight < 0:
        raise _invalid(f"{where}.weight", weight, "a score weight is positive (0 or unset means 1); labkit "
                       "does not model negative weights (disable the plugin's score instead)")


def _decode_args(name: Any, args: dict[str, Any], path: str) -> None:
    spec = ARGS.get(name) if isinstance(name, str) else None
    if spec is None:
        return  # a plugin without args type: kube-scheduler passes the args on, the plugin ignores them
    kind = args.get("kind")
    if kind is not None and kind != f"{name}Args":
        raise _invalid(path, kind, f"has to match plugin args ({name} takes kind: {name}Args)")
    if args.get("apiVersion") not in (None, API_VERSION):
        raise _invalid(f"{path}.apiVersion", args["apiVersion"], f"plugin args are {API_VERSION}")
    _decode(args, spec, path)


def _validate_args(name: str, args: dict[str, Any], path: str) -> None:
    validator = _ARG_VALIDATORS.get(name)
    if validator is not None:
        validator(args, path)


# -- validation_pluginargs.go ----------------------------------------------------------------------
def _default_preemption(args: dict[str, Any], path: str) -> None:
    pct, absolute = args["minCandidateNodesPercentage"], args["minCandidateNodesAbsolute"]
    if not 0 <= pct <= 100:
        raise _invalid(f"{path}.minCandidateNodesPercentage", pct, "not in valid range [0, 100]")
    if absolute < 0:
        raise _invalid(f"{path}.minCandidateNodesAbsolute", absolute, "not in valid range [0, inf)")
    if pct == 0 and absolute == 0:
        raise _invalid(f"{path}.minCandidateNodesPercentage", pct,
                       "cannot be zero at the same time as minCandidateNodesAbsolute")


def _inter_pod_affinity(args: dict[str, Any], path: str) -> None:
    w = args["hardPodAffinityWeight"]
    if not 0 <= w <= 100:
        raise _invalid(f"{path}.hardPodAffinityWeight", w, "not in valid range [0, 100]")


def _label_name(value: str, path: str) -> None:
    why = is_qualified_name(value)
    if why:
        raise _invalid(path, value, why)


def _pod_topology_spread(args: dict[str, Any], path: str) -> None:
    kind, constraints = args["defaultingType"], args.get("defaultConstraints") or []
    if kind not in ("System", "List"):
        raise _unsupported(f"{path}.defaultingType", kind, ["List", "System"])
    if kind == "System" and constraints:
        raise _invalid(f"{path}.defaultingType", kind, "when .defaultConstraints are not empty")
    seen: dict[tuple[str, str], int] = {}
    for i, c in enumerate(constraints):
        p = f"{path}.defaultConstraints[{i}]"
        c = c or {}
        if (c.get("maxSkew") or 0) <= 0:
            raise _invalid(f"{p}.maxSkew", c.get("maxSkew", 0), "not in valid range (0, inf)")
        key = c.get("topologyKey") or ""
        if not key:
            raise ManifestError(f"{p}.topologyKey", key, "Required value: can not be empty")
        _label_name(key, f"{p}.topologyKey")
        when = c.get("whenUnsatisfiable") or ""
        if not when:
            raise ManifestError(f"{p}.whenUnsatisfiable", when, "Required value: can not be empty")
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            raise _unsupported(f"{p}.whenUnsatisfiable", when, ["DoNotSchedule", "ScheduleAnyway"])
        if c.get("labelSelector") is not None:
            raise ManifestError(f"{p}.labelSelector", c["labelSelector"],
                                "Forbidden: constraint must not define a selector, "
                                "as they deduced for each pod")
        if (key, when) in seen:
            raise ManifestError(f"{path}.defaultConstraints[{i}]", f"{{{key}, {when}}}",
                                f'Duplicate value: "{{{key}, {when}}}"')
        seen[(key, when)] = i


def _function_shape(shape: list[Any], path: str) -> None:
    if not shape:
        raise ManifestError(path, shape, "Required value: at least one point must be specified")
    points = [p or {} for p in shape]
    for i in range(1, len(points)):
        if points[i - 1].get("utilization", 0) >= points[i].get("utilization", 0):
            raise _invalid(f"{path}[{i}].utilization", points[i].get("utilization", 0),
                           "values must be sorted in increasing order")
    for i, p in enumerate(points):
        u, s = p.get("utilization", 0), p.get("score", 0)
        if not 0 <= u <= 100:
            raise _invalid(f"{path}[{i}].utilization", u, "not in valid range [0, 100]")
        if not 0 <= s <= 10:  # config.MaxCustomPriorityScore
            raise _invalid(f"{path}[{i}].score", s, "not in valid range [0, 10]")


def _resources(resources: list[Any], path: str) -> None:
    for i, r in enumerate(resources):
        r = r or {}
        w = r.get("weight", 0)
        if not 0 < w <= 100:
            raise _invalid(f"{path}[{i}].weight", w,
                           f"resource weight of {r.get('name', '')} not in valid range (0, 100]")


def _balanced_allocation(args: dict[str, Any], path: str) -> None:
    seen: set[str] = set()
    for i, r in enumerate(args["resources"]):
        r = r or {}
        name = r.get("name", "")
        if name in seen:
            raise ManifestError(f"{path}.resources[{i}].name", name, f'Duplicate value: "{name}"')
        seen.add(name)
        if r.get("weight") != 1:
            raise _invalid(f"{path}.resources[{i}].weight", r.get("weight"), "must be 1")


def _node_resources_fit(args: dict[str, Any], path: str) -> None:
    for i, res in enumerate(args.get("ignoredResources") or []):
        _label_name(res, f"{path}.ignoredResources[{i}]")
    for i, group in enumerate(args.get("ignoredResourceGroups") or []):
        if "/" in group:
            raise _invalid(f"{path}.ignoredResourceGroups[{i}]", group,
                           "resource group name can't contain '/'")
        _label_name(group, f"{path}.ignoredResourceGroups[{i}]")
    strategy = args["scoringStrategy"]
    sp = f"{path}.scoringStrategy"
    kinds = ["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"]
    if strategy.get("type") not in kinds:
        raise _unsupported(f"{sp}.type", strategy.get("type", ""), kinds)
    _resources(strategy["resources"], f"{sp}.resources")
    ratio = strategy.get("requestedToCapacityRatio")
    if strategy["type"] == "RequestedToCapacityRatio":
        if ratio is None:
            raise ManifestError(f"{sp}.requestedToCapacityRatio", None,
                                "Required value: must be specified when type is RequestedToCapacityRatio")
        _function_shape(ratio.get("shape") or [], f"{sp}.requestedToCapacityRatio.shape")
    elif ratio is not None:
        raise ManifestError(f"{sp}.requestedToCapacityRatio", ratio,
                            "Forbidden: must be nil when type is not RequestedToCapacityRatio")


def _volume_binding(args: dict[str, Any], path: str) -> None:
    if args["bindTimeoutSeconds"] < 0:
        raise _invalid(f"{path}.bindTimeoutSeconds", args["bindTimeoutSeconds"],
                       "invalid BindTimeoutSeconds, should not be a negative value")
    if args.get("shape") is not None:
        _function_shape(args["shape"], f"{path}.shape")


def _dynamic_resources(args: dict[str, Any], path: str) -> None:
    timeout = args.get("filterTimeout")
    if timeout is not None and _duration_seconds(timeout) < 0:
        raise _invalid(f"{path}.filterTimeout", timeout, "must be zero or positive")
    binding = args.get("bindingTimeout")
    if binding is not None and _duration_seconds(binding) < 1:
        raise _invalid(f"{path}.bindingTimeout", binding, "must be at least 1 second")


def _node_affinity(args: dict[str, Any], path: str) -> None:
    added = args.get("addedAffinity")
    if not added:
        return
    # The node-selector rules are the Pod API's (nodeaffinity.NewNodeSelector): checked by the API
    # server's own schema and validation on a probe pod, with the paths mapped back.
    from labkit.manifests import check_document

    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
             "spec": {"containers": [{"name": "c", "image": "probe"}], "affinity": {"nodeAffinity": added}}}
    try:
        check_document(probe)
    except ManifestError as e:
        prefix = "spec.affinity.nodeAffinity"
        where = f"{path}.addedAffinity" + (e.path[len(prefix):] if e.path.startswith(prefix) else "")
        raise ManifestError(where, e.value, e.reason.replace(prefix, f"{path}.addedAffinity")) from None


_ARG_VALIDATORS = {
    "DefaultPreemption": _default_preemption,
    "InterPodAffinity": _inter_pod_affinity,
    "NodeAffinity": _node_affinity,
    "NodeResourcesBalancedAllocation": _balanced_allocation,
    "NodeResourcesFit": _node_resources_fit,
    "PodTopologySpread": _pod_topology_spread,
    "VolumeBinding": _volume_binding,
    "DynamicResources": _dynamic_resources,
}


def _validate_common_queue_sort(profiles: list[dict[str, Any]]) -> None:
    first = ((profiles[0].get("plugins") or {}).get("queueSort") or {})
    enabled = first.get("enabled") or []
    if len(enabled) > 1:
        raise _invalid("profiles[0].plugins.queueSort.Enabled", len(enabled),
                       "only one queue sort plugin can be enabled")
    for i in range(1, len(profiles)):
        curr = (profiles[i].get("plugins") or {}).get("queueSort") or {}
        if {k: v for k, v in curr.items() if v} != {k: v for k, v in first.items() if v}:
            raise _invalid(f"profiles[{i}].plugins.queueSort", curr, "must be the same for all profiles")

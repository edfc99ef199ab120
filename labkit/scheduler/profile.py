"""Scheduler profiles: the default plugin set, and profiles built from a real
``kubescheduler.config.k8s.io/v1`` ``KubeSchedulerConfiguration``.

Upstream: ``pkg/scheduler/apis/config/v1/default_plugins.go`` (the MultiPoint list and
weights, and ``mergePluginSet`` for enable/disable) and ``pkg/scheduler/apis/config/v1/defaults.go``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.scheduler.framework import Plugin
from labkit.scheduler.plugins.dynamicresources import DynamicResources
from labkit.scheduler.plugins.imagelocality import ImageLocality
from labkit.scheduler.plugins.interpodaffinity import InterPodAffinity
from labkit.scheduler.plugins.nodeaffinity import NodeAffinity
from labkit.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from labkit.scheduler.plugins.podtopologyspread import PodTopologySpread
from labkit.scheduler.plugins.simple import NodeName, NodePorts, NodeUnschedulable
from labkit.scheduler.plugins.tainttoleration import TaintToleration
from labkit.scheduler.plugins.volumebinding import VolumeBinding, VolumeZone

__all__ = ["Profile", "default_profile", "profile_from_config", "REGISTRY", "DEFAULT_PLUGINS"]

#: Plugins labkit implements, by upstream name.
REGISTRY: dict[str, Callable[[dict[str, Any] | None], Plugin]] = {
    "NodeUnschedulable": NodeUnschedulable,
    "NodeName": NodeName,
    "TaintToleration": TaintToleration,
    "NodeAffinity": NodeAffinity,
    "NodePorts": NodePorts,
    "NodeResourcesFit": NodeResourcesFit,
    "NodeResourcesBalancedAllocation": NodeResourcesBalancedAllocation,
    "ImageLocality": ImageLocality,
    "VolumeBinding": VolumeBinding,
    "VolumeZone": VolumeZone,
    "PodTopologySpread": PodTopologySpread,
    "InterPodAffinity": InterPodAffinity,
    "DynamicResources": DynamicResources,
}

#: default_plugins.go MultiPoint order with weights (None: the plugin does not score).
#: Names without a REGISTRY entry are handled elsewhere or have nothing to do in the model:
#: SchedulingGates and PrioritySort are the queue's, DefaultPreemption and DynamicResources'
#: PostFilter are :meth:`Scheduler.post_filter`, VolumeRestrictions and NodeVolumeLimits have
#: no volume types to check, and DefaultBinder and NodeDeclaredFeatures always succeed here.
DEFAULT_PLUGINS: list[tuple[str, int | None]] = [
    ("SchedulingGates", None),
    ("PrioritySort", None),
    ("NodeUnschedulable", None),
    ("NodeName", None),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", None),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", None),
    ("NodeVolumeLimits", None),
    ("VolumeBinding", None),
    ("VolumeZone", None),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DynamicResources", 2),
    ("DefaultPreemption", None),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", None),
    ("NodeDeclaredFeatures", None),
]


@dataclass
class Profile:
    """One scheduling profile: ordered plugins, their score weights and the search percentage."""

    name: str = "default-scheduler"
    plugins: list[Plugin] = field(default_factory=list)
    weights: dict[str, int] = field(default_factory=dict)
    percentage_of_nodes_to_score: int = 0  # 0 = adaptive
    filter_plugins: list[Plugin] = field(default_factory=list)
    score_plugins: list[Plugin] = field(default_factory=list)
    preemption: bool = True  # DefaultPreemption enabled (PostFilter)
    dynamic_resources: bool = True  # DynamicResources enabled (its PostFilter message)

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        self.filter_plugins = [p for p in self.plugins if p.has_filter]
        self.score_plugins = [p for p in self.plugins if p.has_score and self.weights.get(p.name, 0) > 0]


def _build(entries: list[tuple[str, int | None]], args: dict[str, dict[str, Any]],
           score_disabled: set[str], score_weights: dict[str, int]) -> tuple[list[Plugin], dict[str, int]]:
    plugins: list[Plugin] = []
    weights: dict[str, int] = {}
    for name, weight in entries:
        factory = REGISTRY.get(name)
        if factory is None:
            continue
        plugin = factory(args.get(name))
        plugins.append(plugin)
        if plugin.has_score and name not in score_disabled:
            weights[name] = score_weights.get(name, weight if weight is not None else 1)
    return plugins, weights


def default_profile() -> Profile:
    plugins, weights = _build(DEFAULT_PLUGINS, {}, set(), {})
    return Profile(plugins=plugins, weights=weights)


def profile_from_config(config: Any) -> Profile:
    """Build the first profile of a ``KubeSchedulerConfiguration`` (dict, YAML text or path).

    Supports what an operator changes in practice: ``percentageOfNodesToScore`` (global and
    per profile), ``plugins.multiPoint``/``filter``/``score`` ``enabled``/``disabled`` (with
    ``"*"``), per-plugin ``weight``, and ``pluginConfig`` args such as
    ``NodeResourcesFitArgs.scoringStrategy`` (``LeastAllocated``, ``MostAllocated``,
    ``RequestedToCapacityRatio``).
    """
    from labkit.scheduler.configvalidation import decode_and_validate

    # kube-scheduler: cmd/kube-scheduler/app/options (strict decoding, defaults, then
    # pkg/scheduler/apis/config/validation): a bad configuration never reaches a scheduling cycle.
    cfg = decode_and_validate(_load(config), set(REGISTRY))
    prof = cfg["profiles"][0]
    plugin_sets = prof.get("plugins") or {}
    args = {pc["name"]: pc.get("args") or {} for pc in prof.get("pluginConfig") or []}

    entries = list(DEFAULT_PLUGINS)
    score_weights: dict[str, int] = {}
    score_disabled: set[str] = set()
    for point in ("multiPoint", "filter", "score"):
        pset = plugin_sets.get(point) or {}
        disabled = {p["name"] for p in pset.get("disabled") or []}
        enabled = pset.get("enabled") or []
        if point != "filter":
            # framework.go getScoreWeights: Score entries first, then MultiPoint ones; a weight of 0
            # (or none) is read as 1.
            for p in enabled:
                if point == "score" or p["name"] not in score_weights:
                    score_weights[p["name"]] = int(p.get("weight") or 1)
        if point == "score":
            score_disabled |= {n for n, _ in entries} if "*" in disabled else disabled
            for p in enabled:
                score_disabled.discard(p["name"])
            continue
        if point == "filter" and disabled:
            # Disabling a plugin's filter keeps its score (if any): modelled by dropping the filter.
            continue
        # mergePluginSet: defaults minus disabled (all with "*"), re-configured ones in place, then the rest.
        kept = [] if "*" in disabled else [(n, w) for n, w in entries if n not in disabled]
        names = [n for n, _ in kept]
        for p in enabled:
            if p["name"] not in names:
                kept.append((p["name"], p.get("weight")))
        entries = kept
    plugins, weights = _build(entries, args, score_disabled, score_weights)
    filter_disabled = {p["name"] for p in (plugin_sets.get("filter") or {}).get("disabled") or []}
    for p in plugins:
        if p.name in filter_disabled or "*" in filter_disabled:
            p.has_filter = False
    pct = prof.get("percentageOfNodesToScore")
    pct = cfg.get("percentageOfNodesToScore") if pct is None else pct
    pct = pct or 0
    post_disabled = {p["name"] for p in (plugin_sets.get("postFilter") or {}).get("disabled") or []}

    def post_filter_enabled(name: str) -> bool:
        return any(n == name for n, _ in entries) and not post_disabled & {name, "*"}

    return Profile(name=prof["schedulerName"], plugins=plugins, weights=weights,
                   percentage_of_nodes_to_score=int(pct), preemption=post_filter_enabled("DefaultPreemption"),
                   dynamic_resources=post_filter_enabled("DynamicResources"))


def _load(config: Any) -> dict[str, Any]:
    if isinstance(config, dict):
        return config
    from labkit.manifests import load_documents

    docs = load_documents(config)
    return docs[0]

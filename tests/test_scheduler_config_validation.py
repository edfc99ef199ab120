"""A bad KubeSchedulerConfiguration is refused up front, as kube-scheduler refuses it at start-up.

Strict decoding (types, unknown fields), then ``pkg/scheduler/apis/config/validation``
(``validation.go``, ``validation_pluginargs.go``) and ``NewFramework``'s checks: the first problem
is a ``ManifestError`` with upstream's field path, never a ``ValueError``/``KeyError`` from deep
inside, nor a crash at the first scheduling cycle.
"""

from __future__ import annotations

from typing import Any

import pytest

import labkit


def pod(name: str, cpu: str = "100m") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx",
                                     "resources": {"requests": {"cpu": cpu}}}]}}


def config(**top: Any) -> dict[str, Any]:
    return {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration", **top}


def plugin_config(name: str, args: Any) -> dict[str, Any]:
    return config(profiles=[{"pluginConfig": [{"name": name, "args": args}]}])


def fit(strategy: dict[str, Any]) -> dict[str, Any]:
    return plugin_config("NodeResourcesFit", {"scoringStrategy": strategy})


ARGS = "profiles[0].pluginConfig[0].args"
BAD = [
    (config(percentageOfNodesToScore="x"), "percentageOfNodesToScore", "expected an integer (int32)"),
    (config(percentageOfNodesToScore=101), "percentageOfNodesToScore", "not in valid range [0-100]"),
    (config(percentageOfNodesToScore=-1), "percentageOfNodesToScore", "not in valid range [0-100]"),
    (config(profiles=[{"percentageOfNodesToScore": 300}]), "profiles[0].percentageOfNodesToScore",
     "not in valid range [0-100]"),
    (config(profiles=["x"]), "profiles[0]", "expected a mapping"),
    (config(profiles={"schedulerName": "a"}), "profiles", "expected a list"),
    (config(profiles=[{"pluginConfig": [{}]}]), "profiles[0].pluginConfig[0].name", "Required value"),
    (config(profiles=[{"pluginConfig": ["NodeResourcesFit"]}]), "profiles[0].pluginConfig[0]",
     "expected a mapping"),
    (config(profiles=[{"pluginConfig": [{"name": "NodeResourcesFit"}, {"name": "NodeResourcesFit"}]}]),
     "profiles[0].pluginConfig[1]", "Duplicate value"),
    (config(profiles=[{"pluginConfig": [{"name": "NodeResourceFit"}]}]), "profiles[0].pluginConfig[0].name",
     'did you mean "NodeResourcesFit"'),
    (config(profiles=[{"schedulerName": "a"}, {}]), "profiles[1].schedulerName", "Required value"),
    (config(profiles=[{"schedulerName": "a"}, {"schedulerName": "a"}]), "profiles[1].schedulerName",
     "Duplicate value"),
    (config(profiles=[{"plugins": {"scor": {}}}]), "profiles[0].plugins.scor", 'did you mean "score"'),
    (config(parallelism=0), "parallelism", "should be an integer value greater than zero"),
    (config(podInitialBackoffSeconds=0), "podInitialBackoffSeconds", "must be greater than 0"),
    (config(podMaxBackoffSeconds=0), "podMaxBackoffSeconds",
     "greater than or equal to PodInitialBackoffSeconds"),
    (config(leaderElection={"leaderElect": True, "resourceLock": "endpoints"}), "leaderElection.resourceLock",
     'resourceLock value must be "leases"'),
    # plugin sets: names that exist, at points they implement, weights that are int32
    (config(profiles=[{"plugins": {"score": {"enabled": [{"name": "Foo"}]}}}]),
     "profiles[0].plugins.score.enabled[0].name", 'ScorePlugin "Foo" does not exist'),
    (config(profiles=[{"plugins": {"score": {"enabled": [{}]}}}]),
     "profiles[0].plugins.score.enabled[0].name", "Required value"),
    (config(profiles=[{"plugins": {"filter": {"enabled": [{"name": "ImageLocality"}]}}}]),
     "profiles[0].plugins.filter.enabled[0].name", 'does not extend FilterPlugin'),
    (config(profiles=[{"plugins": {"score": {"enabled": [{"name": "ImageLocality", "weight": "2"}]}}}]),
     "profiles[0].plugins.score.enabled[0].weight", "expected an integer (int32)"),
    (config(profiles=[{"plugins": {"score": {"enabled": [{"name": "ImageLocality", "weight": 2**31}]}}}]),
     "profiles[0].plugins.score.enabled[0].weight", "does not fit in an int32"),
    (config(profiles=[{"plugins": {"score": {"enabled": [{"name": "ImageLocality", "weight": -1}]}}}]),
     "profiles[0].plugins.score.enabled[0].weight", "negative weights"),
    (config(profiles=[{"plugins": {"multiPoint": {"enabled": [{"name": "EBSLimits"}]}}}]),
     "profiles[0].plugins.multiPoint.enabled[0]", "was invalid in version"),
    # NodeResourcesFitArgs
    (fit({"resources": [{"name": []}]}), f"{ARGS}.scoringStrategy.resources[0].name", "expected a string"),
    (fit({"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 101}]}),
     f"{ARGS}.scoringStrategy.resources[0].weight", "resource weight of cpu not in valid range (0, 100]"),
    (fit({"type": "Packed"}), f"{ARGS}.scoringStrategy.type", "Unsupported value"),
    (fit({}), f"{ARGS}.scoringStrategy.type", "Unsupported value"),
    (fit({"type": "RequestedToCapacityRatio"}), f"{ARGS}.scoringStrategy.requestedToCapacityRatio",
     "must be specified when type is RequestedToCapacityRatio"),
    (fit({"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": []}}),
     f"{ARGS}.scoringStrategy.requestedToCapacityRatio.shape", "at least one point must be specified"),
    (fit({"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {
        "shape": [{"utilization": 50, "score": 1}, {"utilization": 10, "score": 2}]}}),
     f"{ARGS}.scoringStrategy.requestedToCapacityRatio.shape[1].utilization", "sorted in increasing order"),
    (fit({"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {
        "shape": [{"utilization": 0, "score": 11}]}}),
     f"{ARGS}.scoringStrategy.requestedToCapacityRatio.shape[0].score", "not in valid range [0, 10]"),
    (fit({"type": "MostAllocated", "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 1}]}}),
     f"{ARGS}.scoringStrategy.requestedToCapacityRatio",
     "must be nil when type is not RequestedToCapacityRatio"),
    (plugin_config("NodeResourcesFit", {"ignoredResourceGroups": ["example.com/gpu"]}),
     f"{ARGS}.ignoredResourceGroups[0]", "can't contain '/'"),
    (plugin_config("NodeResourcesFit", {"scoringStrategy": "MostAllocated"}), f"{ARGS}.scoringStrategy",
     "expected a mapping"),
    (plugin_config("NodeResourcesFit", {"kind": "InterPodAffinityArgs"}), ARGS, "has to match plugin args"),
    (plugin_config("NodeResourcesFit", {"scoringStrateg": {}}), f"{ARGS}.scoringStrateg", "unknown field"),
    # the other plugins' args
    (plugin_config("NodeResourcesBalancedAllocation", {"resources": [{"name": "cpu", "weight": 2}]}),
     f"{ARGS}.resources[0].weight", "must be 1"),
    (plugin_config("NodeResourcesBalancedAllocation", {"resources": [{"name": "cpu"}, {"name": "cpu"}]}),
     f"{ARGS}.resources[1].name", "Duplicate value"),
    (plugin_config("InterPodAffinity", {"hardPodAffinityWeight": 101}), f"{ARGS}.hardPodAffinityWeight",
     "not in valid range [0, 100]"),
    (plugin_config("DefaultPreemption", {"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0}),
     f"{ARGS}.minCandidateNodesPercentage", "cannot be zero at the same time"),
    (plugin_config("DefaultPreemption", {"minCandidateNodesPercentage": 120}),
     f"{ARGS}.minCandidateNodesPercentage", "not in valid range [0, 100]"),
    (plugin_config("PodTopologySpread", {"defaultConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]}),
     f"{ARGS}.defaultingType", "when .defaultConstraints are not empty"),
    (plugin_config("PodTopologySpread", {"defaultingType": "List", "defaultConstraints": [
        {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]}),
     f"{ARGS}.defaultConstraints[0].maxSkew", "not in valid range (0, inf)"),
    (plugin_config("PodTopologySpread", {"defaultingType": "List", "defaultConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Sometimes"}]}),
     f"{ARGS}.defaultConstraints[0].whenUnsatisfiable", "Unsupported value"),
    (plugin_config("PodTopologySpread", {"defaultingType": "List", "defaultConstraints": [
        {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": {"app": "web"}}}]}),
     f"{ARGS}.defaultConstraints[0].labelSelector", "must not define a selector"),
    (plugin_config("PodTopologySpread", {"defaultingType": "Sometimes"}), f"{ARGS}.defaultingType",
     "Unsupported value"),
    (plugin_config("VolumeBinding", {"bindTimeoutSeconds": -1}), f"{ARGS}.bindTimeoutSeconds",
     "should not be a negative value"),
    (plugin_config("NodeAffinity", {"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Near"}]}]}}}),
     f"{ARGS}.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
     ".matchExpressions[0].operator", "Unsupported value"),
    (config(extenders=[{"urlPrefix": "http://x"}]), "extenders", "does not model scheduler extenders"),
]


@pytest.mark.parametrize(("cfg", "path", "reason"), BAD, ids=[f"{i}-{b[1]}" for i, b in enumerate(BAD)])
def test_bad_scheduler_configuration_is_refused_with_its_field_path(cfg, path, reason) -> None:
    with pytest.raises(labkit.ManifestError) as info:
        labkit.Cluster(seed=0, scheduler_config=cfg)
    assert info.value.path == path
    assert reason in info.value.reason


def test_a_refused_configuration_from_yaml_text_names_the_field() -> None:
    text = ("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
            "percentageOfNodesToScore: x\n")
    with pytest.raises(labkit.ManifestError) as info:
        labkit.Cluster(seed=0, scheduler_config=text)
    assert info.value.path == "percentageOfNodesToScore" and info.value.value == "x"


@pytest.mark.parametrize("cfg", [
    config(),
    config(profiles=[]),
    config(profiles=[{"schedulerName": "default-scheduler", "percentageOfNodesToScore": 50}],
           percentageOfNodesToScore=0, parallelism=16, podInitialBackoffSeconds=1, podMaxBackoffSeconds=10,
           leaderElection={"leaderElect": False}, clientConnection={"qps": 50, "burst": 100}),
    fit({"type": "MostAllocated"}),  # resources default to cpu and memory
    fit({"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 0}]}),  # weight 0 reads as 1
    fit({"type": "RequestedToCapacityRatio", "resources": [{"name": "cpu", "weight": 1}],
         "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0},
                                                {"utilization": 100, "score": 10}]}}),
    plugin_config("NodeResourcesFit", {"apiVersion": "kubescheduler.config.k8s.io/v1",
                                       "kind": "NodeResourcesFitArgs",
                                       "ignoredResources": ["example.com/fpga"]}),
    plugin_config("PodTopologySpread", {"defaultingType": "List", "defaultConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
         "whenUnsatisfiable": "ScheduleAnyway"}]}),
    plugin_config("DefaultPreemption", {"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 10}),
    plugin_config("NodeResourcesBalancedAllocation", {"resources": [{"name": "cpu"}]}),
    plugin_config("TaintToleration", {"anything": "goes"}),  # a plugin without args type ignores them
    config(profiles=[{"plugins": {"score": {"disabled": [{"name": "*"}],
                                            "enabled": [{"name": "NodeResourcesFit", "weight": 0}]}}}]),
    config(profiles=[{"plugins": {"multiPoint": {"disabled": [{"name": "NotAPlugin"}]}}}]),
    "data/scheduler/bin-packing.yaml",
])
def test_valid_configurations_schedule_a_pod(cfg) -> None:
    """Accepted configurations must also survive a scheduling cycle (nothing crashes later)."""
    c = labkit.Cluster(seed=0, scheduler_config=cfg)
    nodes = [n["metadata"]["name"] for n in c.add_node_pool("pool", "ecs.g7.xlarge", 2)]
    c.apply(pod("web"))
    c.run()
    assert c.get("Pod", "web")["spec"].get("nodeName") in nodes
    assert c.explain("web").chosen in nodes


def test_an_enabled_score_plugin_without_weight_counts_once() -> None:
    """framework.go getScoreWeights: a weight of 0 (or none) is read as 1, also when it replaces a
    default plugin whose default weight is higher (TaintToleration's 3)."""
    cfg = config(profiles=[{"plugins": {"score": {"enabled": [{"name": "TaintToleration"}]}}}])
    c = labkit.Cluster(seed=0, scheduler_config=cfg)
    assert c.scheduler.profile.weights["TaintToleration"] == 1
    assert labkit.Cluster(seed=0).scheduler.profile.weights["TaintToleration"] == 3


def test_the_callers_configuration_is_not_modified() -> None:
    cfg = fit({"type": "MostAllocated"})
    before = repr(cfg)
    labkit.Cluster(seed=0, scheduler_config=cfg)
    assert repr(cfg) == before

"""Priority admission and PriorityClass validation as kube-apiserver does them.

``plugin/pkg/admission/priority/admission.go`` refuses a second ``globalDefault`` class and resolves a
pod's priority from its class; ``pkg/apis/scheduling/validation`` reserves the ``system-`` prefix for
the two classes the API server creates at startup (``storage_scheduling.go``:
``AddSystemPriorityClasses``) and caps user classes at ``HighestUserDefinablePriority``.
"""

from __future__ import annotations

from typing import Any

import pytest

import labkit
from labkit.api.defaults import builtin_objects


def priority_class(name: str, value: int, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **fields,
    }


def pod(name: str = "web", namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def cluster() -> labkit.Cluster:
    """A cluster holding the built-in classes, created as Cluster.__init__ is to create them."""
    c = labkit.Cluster(seed=0)
    existing = {pc["metadata"]["name"] for pc in c.list("PriorityClass")}
    for obj in builtin_objects():
        if obj["metadata"]["name"] not in existing:
            c.api.create(obj)
    return c


def test_builtin_priority_classes_are_the_api_servers() -> None:
    """Same names, values and descriptions as SystemPriorityClasses; defaulted like any class."""
    c = cluster()
    got = {
        pc["metadata"]["name"]: (pc["value"], pc.get("globalDefault", False), pc["preemptionPolicy"])
        for pc in c.list("PriorityClass")
    }
    assert got == {
        "system-node-critical": (2_000_001_000, False, "PreemptLowerPriority"),
        "system-cluster-critical": (2_000_000_000, False, "PreemptLowerPriority"),
    }
    assert c.get("PriorityClass", "system-node-critical")["description"] == (
        "Used for system critical pods that must not be moved from their current node."
    )


@pytest.mark.parametrize(
    ("name", "value"), [("system-cluster-critical", 2_000_000_000), ("system-node-critical", 2_000_001_000)]
)
def test_kube_system_pod_naming_a_builtin_class_is_admitted_with_its_value(name: str, value: int) -> None:
    c = cluster()
    (p,) = c.apply(pod("coredns", "kube-system", priorityClassName=name))
    assert (p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (value, "PreemptLowerPriority")


def test_second_global_default_is_refused_with_upstreams_words() -> None:
    c = cluster()
    c.apply(priority_class("normal", 100, globalDefault=True))
    before = c.store.revision
    with pytest.raises(labkit.ManifestError) as info:
        c.apply(priority_class("other", 50, globalDefault=True))
    assert (info.value.path, info.value.reason) == (
        "globalDefault",
        "Forbidden: PriorityClass normal is already marked as default. Only one default can exist",
    )
    assert c.store.revision == before


def test_two_global_defaults_in_one_apply_are_refused_and_neither_is_stored() -> None:
    c = cluster()
    with pytest.raises(labkit.ManifestError, match="PriorityClass a is already marked as default"):
        c.apply([priority_class("a", 1, globalDefault=True), priority_class("b", 2, globalDefault=True)])
    assert {pc["metadata"]["name"] for pc in c.list("PriorityClass")} == {
        "system-cluster-critical",
        "system-node-critical",
    }


def test_reapplying_the_default_class_and_marking_another_class_default() -> None:
    """Re-applying the default itself is an update of the same class (allowed); marking a second
    existing class default is refused."""
    c = cluster()
    c.apply([priority_class("normal", 100, globalDefault=True), priority_class("batch", 10)])
    c.apply(priority_class("normal", 100, globalDefault=True, description="the default"))
    with pytest.raises(labkit.ManifestError, match="PriorityClass normal is already marked as default"):
        c.apply(priority_class("batch", 10, globalDefault=True))


# (id, manifest, path, reason start)
REFUSED_CLASSES = [
    (
        "user_class_with_system_prefix",
        priority_class("system-web", 5),
        "metadata.name",
        "Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: "
        "system-web is not a known system priority class",
    ),
    (
        "builtin_name_as_a_global_default",
        priority_class("system-cluster-critical", 2_000_000_000, globalDefault=True),
        "metadata.name",
        "Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: globalDefault of system-cluster-critical PriorityClass must be false",
    ),
    (
        "user_value_above_one_billion",
        priority_class("huge", 1_000_000_001),
        "value",
        "Forbidden: maximum allowed value of a user defined priority is 1000000000",
    ),
    (
        "user_value_at_system_critical",
        priority_class("critical", 2_000_000_000),
        "value",
        "Forbidden: maximum allowed value of a user defined priority is 1000000000",
    ),
    (
        "unknown_preemption_policy",
        priority_class("low", 1, preemptionPolicy="Sometimes"),
        "preemptionPolicy",
        'Unsupported value: supported values: "PreemptLowerPriority", "Never"',
    ),
]


@pytest.mark.parametrize(
    ("doc", "path", "reason"), [pytest.param(d, p, r, id=i) for i, d, p, r in REFUSED_CLASSES]
)
def test_invalid_priority_class_is_refused(doc: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(labkit.ManifestError) as info:
        cluster().apply(doc)
    assert (info.value.path, info.value.reason[: len(reason)]) == (path, reason)


def test_priority_class_value_cannot_change_in_an_update() -> None:
    c = cluster()
    c.apply(priority_class("high", 1000))
    with pytest.raises(labkit.ManifestError) as info:
        c.apply(priority_class("high", 2000))
    assert (info.value.path, info.value.reason) == ("value", "Forbidden: may not be changed in an update.")


# (id, pod spec fields, path, reason start)
REFUSED_PODS = [
    (
        "priority_other_than_the_class",
        {"priorityClassName": "high", "priority": 5},
        "spec.priority",
        "Forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission "
        "controller computed 1000 from the given PriorityClass name",
    ),
    (
        "priority_without_a_class",
        {"priority": 7},
        "spec.priority",
        "Forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission "
        "controller computed 0",
    ),
    (
        "preemption_policy_other_than_the_class",
        {"priorityClassName": "high", "preemptionPolicy": "Never"},
        "spec.preemptionPolicy",
        "Forbidden: the string value of PreemptionPolicy (Never) must not be provided in "
        "pod spec; priority admission controller computed PreemptLowerPriority from the given "
        "PriorityClass name",
    ),
    (
        "missing_class",
        {"priorityClassName": "gold"},
        "spec.priorityClassName",
        "Forbidden: no PriorityClass with name gold was found",
    ),
]


@pytest.mark.parametrize(
    ("spec", "path", "reason"), [pytest.param(s, p, r, id=i) for i, s, p, r in REFUSED_PODS]
)
def test_pod_priority_admission_refuses(spec: dict[str, Any], path: str, reason: str) -> None:
    c = cluster()
    c.apply(priority_class("high", 1000))
    with pytest.raises(labkit.ManifestError) as info:
        c.apply(pod(**spec))
    assert (info.value.path, info.value.reason[: len(reason)]) == (path, reason)


def test_pod_without_a_class_gets_the_global_default_and_its_policy() -> None:
    c = cluster()
    c.apply(priority_class("normal", 100, globalDefault=True, preemptionPolicy="Never"))
    (p,) = c.apply(pod(preemptionPolicy="Never"))
    assert (p["spec"]["priorityClassName"], p["spec"]["priority"], p["spec"]["preemptionPolicy"]) == (
        "normal",
        100,
        "Never",
    )

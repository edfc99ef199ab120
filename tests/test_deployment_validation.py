"""Deployment specs the API server refuses (``pkg/apis/apps/validation/validation.go``), with its wording."""

from __future__ import annotations

import copy

import pytest

import labkit
from labkit.api.selectors import regex_error

BASE = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
PERCENT = ("Invalid value: a valid percent string must be a numeric string followed by an ending '%' "
           "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")


def deployment(**spec) -> dict:
    d = copy.deepcopy(BASE)
    d["spec"].update(spec)
    return d


@pytest.mark.parametrize(("spec", "path", "reason"), [
    ({"strategy": {"rollingUpdate": {"maxSurge": "25"}}}, "spec.strategy.rollingUpdate.maxSurge", PERCENT),
    ({"strategy": {"rollingUpdate": {"maxUnavailable": "abc"}}}, "spec.strategy.rollingUpdate.maxUnavailable",
     PERCENT),
    ({"strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}},
     "spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: may not be 0 when `maxSurge` is 0"),
    ({"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}},
     "spec.strategy.rollingUpdate.maxUnavailable", "Invalid value: must not be greater than 100%"),
    ({"strategy": {"rollingUpdate": {"maxSurge": -1}}}, "spec.strategy.rollingUpdate.maxSurge",
     "Invalid value: must be greater than or equal to 0"),
    ({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}, "spec.strategy.rollingUpdate",
     "Forbidden: may not be specified when strategy `type` is 'Recreate'"),
    ({"minReadySeconds": 30, "progressDeadlineSeconds": 30}, "spec.progressDeadlineSeconds",
     "Invalid value: must be greater than minReadySeconds"),
    ({"revisionHistoryLimit": -1}, "spec.revisionHistoryLimit",
     "Invalid value: must be greater than or equal to 0"),
])
def test_an_invalid_deployment_is_refused_with_the_api_servers_field_path_and_reason(spec, path, reason):
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as err:
        c.apply(deployment(**spec))
    assert err.value.path == path and err.value.reason == reason
    assert c.list("Deployment") == []


@pytest.mark.parametrize("ru", [{"maxSurge": 0, "maxUnavailable": 1},
                                {"maxSurge": "100%", "maxUnavailable": 0},
                                {"maxSurge": 5, "maxUnavailable": "100%"}])
def test_valid_rolling_update_bounds_are_accepted(ru):
    c = labkit.Cluster(seed=0)
    (d,) = c.apply(deployment(strategy={"type": "RollingUpdate", "rollingUpdate": ru}))
    assert d["spec"]["strategy"]["rollingUpdate"] == ru


def test_a_replicaset_gets_no_revision_history_limit_default():
    c = labkit.Cluster(seed=0)
    rs = {**copy.deepcopy(BASE), "kind": "ReplicaSet"}
    (stored,) = c.apply(rs)
    assert "revisionHistoryLimit" not in stored["spec"]


def test_regex_error_matches_apimachinery_to_the_character():
    assert regex_error("msg", "x+") == "msg (regex used for validation is 'x+')"
    assert regex_error("msg", "x+", "a", "b") == "msg (e.g. 'a',  or 'b', regex used for validation is 'x+')"

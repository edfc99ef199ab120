"""labkit.io/* duration annotations are checked at apply time, so a typo never fails inside the kubelet."""

from __future__ import annotations

import pytest

import labkit
from labkit.api.annotations import parse_duration


def pod(annotations: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "annotations": annotations},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


@pytest.mark.parametrize(("text", "seconds"), [("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600),
                                               ("1.5s", 1.5)])
def test_go_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("bad", ["10", "ten seconds", "5 s", "-1s", ""])
def test_a_bad_pod_annotation_duration_is_refused_with_its_path_and_nothing_is_stored(bad):
    c = labkit.Cluster(seed=0)
    with pytest.raises(labkit.ManifestError) as err:
        c.apply(pod({"labkit.io/ready-after": bad}))
    assert err.value.path == "metadata.annotations[labkit.io/ready-after]"
    assert err.value.reason.startswith("Invalid value: not a duration")
    assert c.list("Pod") == []


def test_a_bad_template_annotation_is_refused_on_the_deployment():
    c = labkit.Cluster(seed=0)
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"},
                                            "annotations": {"labkit.io/sigterm-exit-after": "soon"}},
                               "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
    with pytest.raises(labkit.ManifestError) as err:
        c.apply(d)
    assert err.value.path == "spec.template.metadata.annotations[labkit.io/sigterm-exit-after]"


def test_other_annotations_are_not_read_as_durations():
    c = labkit.Cluster(seed=0)
    (stored,) = c.apply(pod({"team": "ten seconds", "labkit.io/fail-after": "2m"}))
    assert stored["metadata"]["annotations"]["labkit.io/fail-after"] == "2m"

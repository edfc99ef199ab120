"""Chapter 01's checks: the first build-cache miss (a prediction), where a bare name is pushed, and the
defaulted pull policy read from a Pod."""

from __future__ import annotations

import pytest

import labkit
import labkit.exercises as E


def test_first_miss_right_and_wrong_predictions_are_told():
    v = E.check_first_miss(3, "dependencies first", "requirements.txt")
    assert v and "line 3, `COPY requirements.txt .`" in v.message and "3 layer(s) rebuilt" in v.message
    w = E.check_first_miss(5, "dependencies first", "requirements.txt")
    assert not w and w.message.startswith("Not what happens: you predicted line 5 (`COPY . .`)")
    assert "line 3" in w.message  # told once predicted
    assert E.check_first_miss(3, "code first", "app.py")  # code first: COPY . . is line 3


def test_first_miss_stub_type_and_range_get_hints_without_the_answer():
    stub = E.check_first_miss(..., "dependencies first", "requirements.txt")
    assert not stub and stub.message.startswith("Replace the ... above") and "3" not in stub.message
    assert "got a str" in E.check_first_miss("3").message
    assert "lines 1 to 6" in E.check_first_miss(9).message


@pytest.mark.parametrize("answer", ["docker.io/library/my-nginx", "docker.io/library/my-nginx:latest",
                                    " docker.io/library/my-nginx "])
def test_push_target_accepts_the_full_docker_hub_name(answer):
    assert E.check_push_target(answer)


@pytest.mark.parametrize(("answer", "hint"), [
    ("my-nginx", "write the registry too"),
    ("docker.io/my-nginx", "which namespace does Docker Hub put"),  # the library/ namespace left out
    ("docker.io/foo/library/my-nginx", "which namespace does Docker Hub put"),
    ("docker.io/library/my-nginx:1.0", "which tag does a bare name mean"),
    ("registry.cn-hangzhou.aliyuncs.com/lab/my-nginx", "not where the bare name goes"),
    ("docker.io/library/nginx", "names nginx"),
    ("Docker.io/library/My-Nginx", "would accept"),
    (42, "got an int"),
])
def test_push_target_hints(answer, hint):
    v = E.check_push_target(answer)
    assert not v and hint in v.message and "library/my-nginx" not in v.message.replace(str(answer), "")


def test_pull_policy_is_read_from_the_pod():
    c = labkit.Cluster(seed=0)
    c.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": n},
              "spec": {"containers": [{"name": "c", "image": img}]}}
             for n, img in (("bare", "my-nginx"), ("pinned", "nginx:1.27"))])
    assert E.check_pull_policy("Always", c, "bare") and E.check_pull_policy("IfNotPresent", c, "pinned")
    wrong = E.check_pull_policy("IfNotPresent", c, "bare")
    assert not wrong and "not what the API server wrote" in wrong.message
    assert "not a pull policy" in E.check_pull_policy("Sometimes", c, "bare").message
    assert E.check_pull_policy(..., c, "bare").message.startswith("Replace the ... above")
    assert "no Pod default/missing" in E.check_pull_policy("Always", c, "missing").message

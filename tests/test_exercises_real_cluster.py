"""Chapter 06's checks: a prediction of refusals, the RBAC rule a 403 asks for, and apply's request."""

from __future__ import annotations

import pytest

from labkit.exercises import check_apply_request, check_rbac_rule, check_refused
from labkit.widgets.real_cluster import MY_NGINX

MESSAGE = (
    'deployments.apps "my-nginx" is forbidden: User "system:serviceaccount:labkit-ch06:student" cannot '
    'patch resource "deployments" in API group "apps" in the namespace "labkit-ch06"'
)
RULE = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}


@pytest.mark.parametrize("guess", [{"b", "c", "d"}, ["B", "c", "d"], "b, c d"])
def test_the_refusal_prediction_is_right_for_b_c_d_however_written(guess, capsys):
    assert check_refused(guess)
    assert "(a) apply a Pod to your namespace: sent" in capsys.readouterr().out


def test_a_malformed_prediction_is_echoed_as_written(capsys):
    assert not check_refused("bxz")
    assert "got 'bxz'" in capsys.readouterr().out


def test_a_wrong_prediction_is_told_after_it_is_made(capsys):
    assert not check_refused({"a", "b"})
    out = capsys.readouterr().out
    assert out.startswith("Not what happens: you predicted ['a', 'b']") and "(d)" in out


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (..., "Replace the ... above"),
        ({"z"}, "a set of letters among a, b, c, d"),
        (3, "a set of letters"),
    ],
)
def test_the_refusal_check_points_to_the_start_or_the_form(answer, says, capsys):
    assert not check_refused(answer)
    assert says in capsys.readouterr().out


def test_the_rbac_rule_is_exactly_what_the_message_asks(capsys):
    assert check_rbac_rule(RULE, MESSAGE)
    assert 'patch on deployments in group "apps"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        (..., "Replace the ... above"),
        ("apps", "a dict"),
        ({"apiGroups": ["apps"], "resources": ["deployments"]}, "verbs too"),
        ({**RULE, "verbs": "create"}, "rule['verbs'] is a list of strings"),
        ({**RULE, "verbs": ["*"]}, "wildcard"),
        ({**RULE, "apiGroups": [""]}, "apiGroups:"),
        ({**RULE, "resources": ["Deployment"]}, "resources:"),
        ({**RULE, "verbs": ["get"]}, "verbs:"),
    ],
)
def test_a_wrong_rule_gets_a_hint_that_does_not_give_it_away(rule, says, capsys):
    assert not check_rbac_rule(rule, MESSAGE)
    out = capsys.readouterr().out
    assert says in out and '"patch"' not in out


def test_the_apply_request_is_the_patch_of_the_service_by_name(capsys):
    path = "/api/v1/namespaces/labkit-ch06/services/my-nginx"
    assert check_apply_request(("patch", path), MY_NGINX, "Service", "labkit-ch06")
    assert not check_apply_request(
        ("POST", "/api/v1/namespaces/labkit-ch06/services"), MY_NGINX, "Service", "labkit-ch06"
    )
    assert "read the method in the Service's row" in capsys.readouterr().out
    assert not check_apply_request(("PATCH", "/api/v1/services/my-nginx"), MY_NGINX, "Service", "labkit-ch06")
    assert not check_apply_request("PATCH", MY_NGINX, "Service", "labkit-ch06")

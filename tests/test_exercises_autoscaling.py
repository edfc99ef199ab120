"""Chapter 04's checks: the HPA's proposal (a prediction) and a behavior that stops flapping."""

from __future__ import annotations

import labkit.exercises as E
from labkit.widgets.autoscaling import hpa_inputs

SAMPLES = {"web-a": "450m", "web-b": "420m", "web-c": "390m", "web-d": "360m"}


def test_proposal_right_answer_is_told_with_the_arithmetic(capsys):
    v = E.check_hpa_proposal(6, hpa_inputs(SAMPLES))
    assert v and "81%" in v.message and "ceil(1.350 x 4 pods) = 6" in v.message


def test_proposal_wrong_prediction_is_told_the_answer_once_made():
    v = E.check_hpa_proposal(5, hpa_inputs(SAMPLES))
    assert not v and v.message.startswith("Not what happens: you predicted 5")
    assert "proposes 6" in v.message


def test_proposal_within_tolerance_says_no_change():
    v = E.check_hpa_proposal(4, hpa_inputs({f"web-{x}": "320m" for x in "abcd"}))
    assert v and "within the 10% tolerance" in v.message


def test_proposal_stub_and_wrong_type_get_hints_without_the_answer():
    stub = E.check_hpa_proposal(..., hpa_inputs(SAMPLES))
    assert not stub and stub.message.startswith("Replace the ... above") and "6" not in stub.message
    text = E.check_hpa_proposal("6", hpa_inputs(SAMPLES))
    assert not text and "got a str" in text.message
    flag = E.check_hpa_proposal(True, hpa_inputs(SAMPLES))
    assert not flag and "got a bool" in flag.message


def test_flapping_fix_accepts_a_window_longer_than_the_dip():
    v = E.check_flapping_fix({"scaleDown": {"stabilizationWindowSeconds": 120}})
    assert v and "0 scale-downs" in v.message


def test_flapping_fix_accepts_no_window_field_and_says_the_default_applies():
    v = E.check_flapping_fix({})
    assert v and "300 s applies" in v.message


def test_flapping_fix_refuses_the_flapping_behavior_and_a_rate_limit_alone():
    v = E.check_flapping_fix({"scaleDown": {"stabilizationWindowSeconds": 0}})
    assert not v and "still scaled down" in v.message
    one_a_minute = [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    limited = E.check_flapping_fix({"scaleDown": {"stabilizationWindowSeconds": 0, "policies": one_a_minute}})
    assert not limited


def test_flapping_fix_shapes_and_invalid_values_get_hints():
    assert "Replace the ... above" in E.check_flapping_fix(...).message
    assert "got an int" in E.check_flapping_fix(300).message
    assert "not a larger part" in E.check_flapping_fix({"behavior": {}}).message
    bad = E.check_flapping_fix({"scaleDown": {"stabilizationWindowSeconds": -1}})
    assert not bad and "refuse" in bad.message and "stabilizationWindowSeconds" in bad.message

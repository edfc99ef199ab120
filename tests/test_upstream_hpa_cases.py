"""Every case of ``upstream-hpa-cases.json`` (the v1.36 replica calculator and controller tests).

Calculator cases go through the public ``labkit.hpa.reconcile`` with the upstream fixture's
constants (CPU initialization period 2 min, initial readiness delay 10 s) and compare the
calculator's proposal before clamping; controller cases run the stage they pin down
(stabilization or limits, each path) or, for ``reconcile``, one whole sync.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labkit import hpa
from labkit.controllers.podautoscaler import normalize as nz
from labkit.controllers.podautoscaler.clock import format_time

CASES = json.loads((Path(__file__).parent / "data" / "upstream-hpa-cases.json").read_text())["cases"]
CALCULATOR = [c for c in CASES if c.get("kind") != "controller"]
CONTROLLER = [c for c in CASES if c.get("kind") == "controller"]
NOW = 10_000.0
CONFIG = hpa.Config(cpu_initialization_period=120.0, initial_readiness_delay=10.0)
WINDOW = 60.0


def _pod(p: dict[str, Any], resource_metric: bool) -> dict[str, Any]:
    """A two-container pod as the upstream fixture builds it, from the neutral description."""
    start = NOW - (30.0 if p.get("start") == "hot" else 600.0)
    request = p.get("request_milli")
    containers = []
    for i in range(2):
        c: dict[str, Any] = {"name": f"container-{i}", "image": "nginx"}
        if request is not None:
            share = request // 2 if i == 0 else request - request // 2
            c["resources"] = {"requests": {"cpu": f"{share}m"}}
        containers.append(c)
    meta: dict[str, Any] = {"name": p["name"], "namespace": "default"}
    if p.get("deleting"):
        meta["deletionTimestamp"] = format_time(NOW + 30)
    status = {
        "phase": p.get("phase", "Running"),
        "startTime": format_time(start),
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if p.get("ready") else "False",
                "lastTransitionTime": format_time(start - 1),
            }
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": containers},
        "status": status,
    }


def _calculator_run(case: dict[str, Any]) -> hpa.Reconciliation:
    inputs = case["inputs"]
    fn = case["function"]
    current = inputs["current_replicas"]
    pods = [_pod(p, fn == "GetResourceReplicas") for p in inputs.get("pods") or []]
    metrics: dict[str, Any] = {"timestamp": format_time(NOW), "window_s": WINDOW, "pods": {}}
    for p in inputs.get("pods") or []:
        if fn == "GetResourceReplicas" and p.get("usage_milli") is not None:
            metrics["pods"][p["name"]] = {"cpu": f"{p['usage_milli']}m"}
        if fn == "GetMetricReplicas" and p.get("metric_milli") is not None:
            metrics["pods"][p["name"]] = {"qps": f"{p['metric_milli']}m"}
    for name, value in (inputs.get("extra_metrics_for_unknown_pods_milli") or {}).items():
        metrics["pods"][name] = {"cpu": f"{value}m"}
    if fn in ("GetObjectMetricReplicas", "GetExternalMetricReplicas"):
        pods = [
            _pod(
                {
                    "name": f"test-pod-{i}",
                    "phase": "Running",
                    "ready": i < inputs["ready_pods"],
                    "start": "cool",
                    "request_milli": 1000,
                },
                False,
            )
            for i in range(current)
        ]
    value = f"{inputs.get('metric_value_milli')}m"
    metric: dict[str, Any]
    if fn == "GetResourceReplicas":
        metric = {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": inputs["target_utilization_percent"]},
            },
        }
    elif fn == "GetMetricReplicas":
        metric = {
            "type": "Pods",
            "pods": {
                "metric": {"name": "qps"},
                "target": {
                    "type": "AverageValue",
                    "averageValue": f"{inputs['target_average_value_milli']}m",
                },
            },
        }
    elif fn.startswith("GetObject"):
        metrics["object"] = {"qps": value}
        target = (
            {"type": "Value", "value": f"{inputs['target_value_milli']}m"}
            if fn == "GetObjectMetricReplicas"
            else {"type": "AverageValue", "averageValue": f"{inputs['target_average_value_milli']}m"}
        )
        metric = {
            "type": "Object",
            "object": {
                "metric": {"name": "qps"},
                "target": target,
                "describedObject": {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "name": "main-route",
                },
            },
        }
    else:
        metrics["external"] = {"qps": [value]}
        target = (
            {"type": "Value", "value": f"{inputs['target_value_milli']}m"}
            if fn == "GetExternalMetricReplicas"
            else {"type": "AverageValue", "averageValue": f"{inputs['target_average_value_milli']}m"}
        )
        metric = {"type": "External", "external": {"metric": {"name": "qps"}, "target": target}}
    manifest = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "test-hpa", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 100_000,
            "metrics": [metric],
        },
    }
    scale = {"spec_replicas": current, "status_replicas": current}
    return hpa.reconcile(
        manifest,
        now=format_time(NOW),
        scale=scale,
        pods=pods,
        metrics=metrics,
        config=hpa.Config(
            tolerance=inputs.get("tolerance", 0.1),
            cpu_initialization_period=120.0,
            initial_readiness_delay=10.0,
        ),
    )


@pytest.mark.parametrize("case", CALCULATOR, ids=lambda c: f"{c['id']}-{c['name']}")
def test_calculator_case(case):
    result = _calculator_run(case)
    calc = result.calculations[0]
    expected = case["expected"]
    if "error_contains" in expected:
        assert not hasattr(calc, "replicas"), f"expected an error, got {calc}"
        assert expected["error_contains"] in calc.error
        return
    assert not hasattr(calc, "error") or calc.error is None, getattr(calc, "error", None)
    assert calc.replicas == expected["replicas"]
    if "utilization_percent" in expected:
        assert calc.utilization == expected["utilization_percent"]
    for key in ("raw_average_milli", "usage_average_milli", "usage_milli"):
        if key in expected:
            assert calc.raw_average == expected[key]
    derived = case.get("derived") or {}
    assert set(calc.unready) == set(derived.get("unready", []))
    assert set(calc.missing) == set(derived.get("missing", []))
    assert set(calc.ignored) == set(derived.get("ignored", []))


def _recs(items):
    return [nz.Timestamped(r["replicas"], NOW - r["age_s"]) for r in items or []]


def _events(items):
    return [nz.ScaleEvent(e["change"], NOW - e["age_s"]) for e in items or []]


@pytest.mark.parametrize("case", CONTROLLER, ids=lambda c: f"{c['id']}-{c['name']}")
def test_controller_case(case):
    inputs, expected, stage = case["inputs"], case["expected"], case["stage"]
    if stage == "stabilize-legacy":
        got = nz.stabilize_legacy(_recs(inputs["recommendations"]), inputs["proposal"], NOW, 300.0)
        assert got == expected["stabilized_replicas"]
    elif stage == "limit-legacy":
        got, reason = nz.limit_legacy(
            inputs["current_replicas"], inputs["proposal"], inputs["min_replicas"], inputs["max_replicas"]
        )
        assert (got, reason) == (expected["replicas"], expected["scaling_limited_reason"])
    elif stage == "stabilize-behavior":
        got, _ = nz.stabilize_with_behavior(
            _recs(inputs["recommendations"]),
            inputs["proposal"],
            inputs["current_replicas"],
            NOW,
            inputs["scale_up_stabilization_window_s"],
            inputs["scale_down_stabilization_window_s"],
        )
        assert got == expected["stabilized_replicas"]
    elif stage == "limit-behavior":
        got, reason, _ = nz.limit_with_behavior(
            inputs["current_replicas"],
            inputs["proposal"],
            inputs["min_replicas"],
            inputs["max_replicas"],
            nz.default_behavior(inputs["behavior"]),
            _events(inputs.get("scale_up_events")),
            _events(inputs.get("scale_down_events")),
            NOW,
        )
        assert (got, reason) == (expected["replicas"], expected["scaling_limited_reason"])
    else:
        result = _reconcile_case(inputs)
        assert result.replicas == expected["replicas"]
        conditions = [{k: c[k] for k in ("type", "status", "reason")} for c in result.status["conditions"]]
        assert conditions == expected["conditions"]
        if "event" in expected:
            assert result.events == [expected["event"]]
        if "utilization_percent" in expected:
            assert (
                result.status["currentMetrics"][0]["resource"]["current"]["averageUtilization"]
                == expected["utilization_percent"]
            )


def _reconcile_case(inputs: dict[str, Any]) -> hpa.Reconciliation:
    calc = inputs["calculator"]
    pods = [_pod(p, True) for p in calc["pods"]]
    metrics = {
        "timestamp": format_time(NOW),
        "window_s": WINDOW,
        "pods": {
            p["name"]: {"cpu": f"{p['usage_milli']}m"}
            for p in calc["pods"]
            if p.get("usage_milli") is not None
        },
    }
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": inputs["min_replicas"],
        "maxReplicas": inputs["max_replicas"],
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": calc["target_utilization_percent"],
                    },
                },
            }
        ],
    }
    if "behavior" in inputs:
        spec["behavior"] = inputs["behavior"]
    state = None
    if inputs.get("recommendations") is not None:
        state = hpa.HPAState(
            _recs(inputs["recommendations"]),
            _events(inputs.get("scale_up_events")),
            _events(inputs.get("scale_down_events")),
        )
    manifest = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "test-hpa", "namespace": "default"},
        "spec": spec,
    }
    return hpa.reconcile(
        manifest,
        now=format_time(NOW),
        scale={"spec_replicas": inputs["current_replicas"], "status_replicas": inputs["current_replicas"]},
        pods=pods,
        metrics=metrics,
        state=state,
        config=CONFIG,
    )

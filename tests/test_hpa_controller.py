"""The HPA controller in a running cluster: sync timing, scaling on served load, stabilization,
bad targets, explain_hpa, and the invariants (bounds, windows) under random load."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import labkit
from tests.network_support import web_yaml

HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: {kind}, name: {target}}}
  minReplicas: {min}
  maxReplicas: {max}
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: {target_pct}}}}}
{behavior}"""


def _cluster(
    replicas=2,
    cpu_per_request="20m",
    min_=2,
    max_=10,
    target_pct=50,
    behavior="",
    target="web",
    kind="Deployment",
    seed=0,
):
    c = labkit.Cluster(seed=seed)
    c.add_node_pool("general", instance_type="ecs.g7.xlarge", count=3)
    app = web_yaml(replicas=replicas, extra_annotations=f', labkit.io/cpu-per-request: "{cpu_per_request}"')
    app = app.replace(
        "ports: [{containerPort: 80, name: http}]",
        "ports: [{containerPort: 80, name: http}]\n        resources: {requests: {cpu: 500m}}",
    )
    c.apply(
        app
        + "---"
        + HPA.format(min=min_, max=max_, target_pct=target_pct, behavior=behavior, target=target, kind=kind)
    )
    c.run()
    return c


def test_an_hpa_is_synced_15_s_after_it_appears_then_15_s_after_each_sync_finished():
    c = _cluster()
    created = 0.0  # applied at the start
    c.run(until=created + 100)
    times = [t for t, *_ in c.hpa_controller.history[("default", "web")]]
    assert times[0] == pytest.approx(created + 15, abs=1e-6)
    gaps = {round(b - a, 6) for a, b in zip(times, times[1:])}
    assert gaps == {15.002}


def test_served_load_scales_the_deployment_up_to_the_target_utilization():
    """60 req/s x 20m per request = 1200m of CPU; at 50% of 500m requests that takes 5 pods."""
    c = _cluster()
    c.traffic("web:80", rate=60, duration=400)
    c.run(until=c.now + 240)
    assert c.get("Deployment", "web")["spec"]["replicas"] == 5
    hpa = c.get("HorizontalPodAutoscaler", "web")
    assert hpa["status"]["currentReplicas"] == 5 and hpa["status"]["desiredReplicas"] == 5
    assert 40 <= hpa["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] <= 60
    rescales = [
        e["message"]
        for e in c.events(involved="HorizontalPodAutoscaler/web")
        if e["reason"] == "SuccessfulRescale"
    ]
    assert rescales and all(
        m.endswith("reason: cpu resource utilization (percentage of request) above target") for m in rescales
    )
    assert [c["type"] for c in hpa["status"]["conditions"]] == [
        "AbleToScale",
        "ScalingActive",
        "ScalingLimited",
    ]


def test_scale_down_waits_for_the_five_minute_stabilization_window():
    c = _cluster()
    c.traffic("web:80", rate=60, duration=200)
    c.run(until=c.now + 200)
    peak = c.get("Deployment", "web")["spec"]["replicas"]
    assert peak >= 4
    quiet = c.now
    c.run(until=quiet + 240)  # the load is gone, but recommendations of the last 300 s were higher
    assert c.get("Deployment", "web")["spec"]["replicas"] == peak
    c.run(until=quiet + 400)
    assert c.get("Deployment", "web")["spec"]["replicas"] == 2  # minReplicas
    downs = [
        e
        for e in c.events(involved="HorizontalPodAutoscaler/web")
        if e["message"].endswith("All metrics below target")
    ]
    assert downs


def test_an_hpa_whose_target_does_not_exist_reports_failed_get_scale():
    c = _cluster(target="nosuch")
    c.run(until=c.now + 20)
    hpa = c.get("HorizontalPodAutoscaler", "web")
    cond = hpa["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("AbleToScale", "False", "FailedGetScale")
    assert cond["message"] == (
        "the HPA controller was unable to get the target's current scale: "
        'deployments.apps "nosuch" not found'
    )
    events = [
        (e["type"], e["reason"], e["message"]) for e in c.events(involved="HorizontalPodAutoscaler/web")
    ]
    assert ("Warning", "FailedGetScale", 'deployments.apps "nosuch" not found') in events


def test_an_hpa_without_samples_reports_failed_get_resource_metric_and_does_not_scale():
    c = _cluster()
    c.hpa_controller.metrics = lambda ns, names: {"pods": {}}
    c.run(until=c.now + 20)
    hpa = c.get("HorizontalPodAutoscaler", "web")
    active = next(x for x in hpa["status"]["conditions"] if x["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "unable to get metrics for resource cpu: no metrics returned from resource "
        "metrics API"
    )
    reasons = [e["reason"] for e in c.events(involved="HorizontalPodAutoscaler/web")]
    assert reasons == ["FailedGetResourceMetric", "FailedComputeMetricsReplicas"]
    assert c.get("Deployment", "web")["spec"]["replicas"] == 2


def test_explain_hpa_tells_each_pods_fate_and_every_step():
    c = _cluster()
    with pytest.raises(ValueError, match="not been synced yet"):
        c.explain_hpa("web")
    c.traffic("web:80", rate=60, duration=100)
    c.run(until=c.now + 40)
    e = c.explain_hpa("web")
    steps = list(e.steps()["step"])
    assert steps[0] == "scale" and "metric" in steps and "stabilize" in steps and steps[-1] == "result"
    frame = e.frame()
    assert list(frame.columns) == ["metric", "pod", "sample", "request", "group", "why", "assumed"]
    assert set(frame["group"]) <= {"counted", "unready", "missing", "ignored", "extraneous"}
    assert "Pods and samples" in e._repr_html_()
    with pytest.raises(KeyError):
        c.explain_hpa("nosuch")


def test_explain_hpa_sets_new_pods_aside_until_their_samples_are_trustworthy():
    """After a scale-up the new pods have no sample for one or two scrapes (missing), then a sample
    taken less than one window after they turned Ready (unready, CPU initialization period)."""
    c = _cluster()
    c.traffic("web:80", rate=60, duration=200)
    seen: set[str] = set()
    why: set[str] = set()
    for _ in range(8):
        c.run(until=c.now + 15)
        frame = c.explain_hpa("web").frame()
        seen |= set(frame["group"])
        why |= set(frame[frame["group"] != "counted"]["why"])
    assert "counted" in seen and ("missing" in seen or "unready" in seen)
    assert why <= {
        "no sample yet",
        "sample not a full window after its Ready transition (CPU initialization period)",
        "not Ready, within the CPU initialization period",
        "phase Pending",
        "being deleted",
    }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.integers(0, 120),
    min_=st.integers(1, 3),
    span=st.integers(0, 5),
    step=st.booleans(),
    seed=st.integers(0, 3),
)
def test_replicas_stay_within_bounds_and_never_scale_down_inside_the_window(rate, min_, span, step, seed):
    max_ = min_ + span
    c = _cluster(replicas=min_, min_=min_, max_=max_, seed=seed)
    pattern = labkit.workloads.Step(rate, rate // 3, at=150) if step else rate
    c.traffic("web:80", rate=pattern, duration=300)
    c.run(until=c.now + 600)
    history = c.hpa_controller.history[("default", "web")]
    for t, _proposal, current, replicas in history:
        assert min_ <= replicas <= max_ or replicas == current
        if replicas < current:  # a scale-down: every proposal of the last 300 s was at most that
            recent = [p for (u, p, _, _) in history if t - 300 <= u <= t and p is not None]
            assert max(recent) <= replicas
    assert min_ <= c.get("Deployment", "web")["spec"]["replicas"] <= max_


def _step_day(mode: str):
    c = _cluster(max_=12)
    c.traffic("web:80", rate=labkit.workloads.Step(30, 90, at=120), duration=600, mode=mode)
    c.run(until=c.now + 600)
    return c


def test_fluid_and_request_level_traffic_drive_the_hpa_to_the_same_replica_counts():
    """The same step of load, request by request and as fluid flows: the HPA sees the same CPU
    (cpu-per-request x served requests), so it decides the same sizes. 90 req/s x 20m = 1800m;
    at 50 % of 500m requests that is 7.2, so 8 pods."""
    runs = {mode: _step_day(mode) for mode in ("requests", "fluid")}
    sizes = {
        m: [new for _, _, _, new in c.hpa_controller.history[("default", "web")]] for m, c in runs.items()
    }
    assert sizes["requests"][-1] == sizes["fluid"][-1] == 8
    assert len(sizes["requests"]) == len(sizes["fluid"])
    assert max(abs(a - b) for a, b in zip(sizes["requests"], sizes["fluid"])) <= 1
    util = {
        m: c.get("HorizontalPodAutoscaler", "web")["status"]["currentMetrics"][0]["resource"]["current"][
            "averageUtilization"
        ]
        for m, c in runs.items()
    }
    assert abs(util["requests"] - util["fluid"]) <= 5

"""One HPA sync as a pure function: ``labkit.hpa.reconcile``.

``reconcileAutoscaler`` of ``pkg/controller/podautoscaler/horizontal.go`` (v1.36) without the
API calls: the controller (:mod:`labkit.controllers.podautoscaler.controller`) reads the scale,
the pods and the metrics, calls :func:`reconcile`, and writes what it returns. Order of a sync
(spec section 2.5): the scale was read (AbleToScale ``SucceededGetScale``); the first sight of an
HPA records the current size as a recommendation; the guards (target scaled to zero, above
``maxReplicas``, below ``minReplicas``); otherwise every metric's proposal (the largest wins,
failed metrics allowed only when not scaling down), the rescale reason, stabilization and limits
on the legacy or the ``behavior`` path; the event and the status. The returned object keeps each
stage's value (:attr:`Reconciliation.proposal`, :attr:`stabilized`, :attr:`replicas`) and a
step-by-step :attr:`trace` for ``Cluster.explain_hpa``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from labkit.api.quantity import format_cpu, parse_quantity, to_millis
from labkit.controllers.podautoscaler import normalize as nz
from labkit.controllers.podautoscaler import replica_calculator as rc
from labkit.controllers.podautoscaler.clock import format_time, parse_time

__all__ = ["reconcile", "Config", "HPAState", "Reconciliation", "CONDITION_ORDER"]

CONDITION_ORDER = ("AbleToScale", "ScalingActive", "ScalingLimited")
STABILIZED_MESSAGES = {
    "ScaleUpStabilized": "recent recommendations were lower than current one, applying the lowest recent "
    "recommendation",
    "ScaleDownStabilized": "recent recommendations were higher than current one, applying the highest recent "
    "recommendation",
    "ReadyForNewScale": "recommended size matches current size",
}


@dataclass(frozen=True)
class Config:
    """kube-controller-manager's HPA flags (``--horizontal-pod-autoscaler-*``), v1.36 defaults."""

    tolerance: float = 0.1
    cpu_initialization_period: float = 300.0
    initial_readiness_delay: float = 30.0
    downscale_stabilization: float = 300.0
    sync_period: float = 15.0


@dataclass
class HPAState:
    """What a controller process remembers of one HPA between syncs (``a.recommendations``,
    ``a.scaleUpEvents``, ``a.scaleDownEvents``); a restart of the controller forgets it."""

    recommendations: list[nz.Timestamped] = field(default_factory=list)
    scale_up_events: list[nz.ScaleEvent] = field(default_factory=list)
    scale_down_events: list[nz.ScaleEvent] = field(default_factory=list)

    def copy(self) -> HPAState:
        return HPAState([nz.Timestamped(r.replicas, r.time) for r in self.recommendations],
                        [nz.ScaleEvent(e.change, e.time, e.outdated) for e in self.scale_up_events],
                        [nz.ScaleEvent(e.change, e.time, e.outdated) for e in self.scale_down_events])


@dataclass
class Reconciliation:
    """The outcome of one sync."""

    replicas: int  # the target's spec.replicas after the sync
    status: dict[str, Any]
    events: list[dict[str, str]]
    state: HPAState
    trace: list[dict[str, Any]]
    current: int = 0
    proposal: int | None = None  # the metrics' proposal (largest), before stabilization
    metric_name: str = ""
    reason: str = ""  # the rescale reason of the event
    stabilized: int | None = None
    rescale: bool = False
    calculations: list[Any] = field(default_factory=list)  # per metric: Calculation or error text
    policies: list[dict[str, Any]] = field(default_factory=list)


class _Sync:
    """The mutable state of one sync: the HPA's status being rebuilt, the events, the trace."""

    def __init__(self, hpa: dict[str, Any], now: float) -> None:
        self.hpa = hpa
        self.now = now
        old = hpa.get("status") or {}
        self.conditions = [dict(c) for c in old.get("conditions") or []]
        self.last_scale_time = old.get("lastScaleTime")
        self.old_desired = old.get("desiredReplicas", 0)
        self.events: list[dict[str, str]] = []
        self.trace: list[dict[str, Any]] = []

    def condition(self, type_: str, status: str, reason: str, message: str) -> None:
        """``setCondition``: lastTransitionTime moves only when the status changes; a new type goes last."""
        stamp = format_time(int(self.now))  # metav1.Time: whole seconds
        for c in self.conditions:
            if c["type"] == type_:
                if c["status"] != status:
                    c["lastTransitionTime"] = stamp
                c.update(status=status, reason=reason, message=message)
                return
        self.conditions.append(
            {
                "type": type_,
                "status": status,
                "lastTransitionTime": stamp,
                "reason": reason,
                "message": message,
            }
        )

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append({"type": type_, "reason": reason, "message": message})

    def step(self, name: str, **data: Any) -> None:
        self.trace.append({"step": name, **data})

    def status(
        self, current: int, desired: int, metrics: list[dict[str, Any]] | None, rescale: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        last = format_time(int(self.now)) if rescale else self.last_scale_time
        if last:
            out["lastScaleTime"] = last
        out["currentReplicas"] = current
        out["desiredReplicas"] = desired
        if metrics:
            out["currentMetrics"] = metrics
        if self.conditions:
            out["conditions"] = self.conditions
        return out


def reconcile(
    hpa: dict[str, Any],
    now: Any,
    scale: dict[str, Any],
    pods: list[dict[str, Any]],
    metrics: dict[str, Any] | None,
    state: HPAState | None = None,
    *,
    config: Config | None = None,
    scale_error: str | None = None,
) -> Reconciliation:
    """One sync of ``hpa`` (an ``autoscaling/v2`` HorizontalPodAutoscaler as stored).

    Parameters
    ----------
    now:
        The sync's time, RFC 3339 (fractions allowed), or simulated seconds.
    scale:
        ``{"spec_replicas": int, "status_replicas": int}`` of the target's scale subresource.
    pods:
        The pods the target's selector returns, as the API returns them.
    metrics:
        ``{"timestamp", "window_s", "pods": {name: {"cpu": "48m", "memory": "75Mi", <Pods metric>: ...}}}``
        as metrics-server (and a custom metrics adapter) report them; optionally ``"object": {name:
        value}`` and ``"external": {name: [values]}``. A pod absent from ``"pods"`` has no sample.
    state:
        The controller's memory from the previous call (None: the controller sees the HPA for the
        first time).
    scale_error:
        The error reading the scale returned, if it failed (AbleToScale ``FailedGetScale``).
    """
    config = config or Config()
    t = parse_time(now) if isinstance(now, str) else float(now)
    sync = _Sync(hpa, t)
    spec = hpa.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    state = HPAState() if state is None else state.copy()
    if scale_error is not None:
        sync.event("Warning", "FailedGetScale", scale_error)
        sync.condition(
            "AbleToScale",
            "False",
            "FailedGetScale",
            f"the HPA controller was unable to get the target's current scale: {scale_error}",
        )
        sync.step("scale", error=scale_error)
        status = sync.status(
            (hpa.get("status") or {}).get("currentReplicas", 0), sync.old_desired, None, False
        )
        return Reconciliation(
            (hpa.get("status") or {}).get("currentReplicas", 0), status, sync.events, state, sync.trace
        )
    sync.condition(
        "AbleToScale",
        "True",
        "SucceededGetScale",
        "the HPA controller was able to get the target's current scale",
    )
    current = int(scale["spec_replicas"])
    status_replicas = int(scale.get("status_replicas", current))
    sync.step(
        "scale",
        target=f"{ref.get('kind')}/{ref.get('name')}",
        spec_replicas=current,
        status_replicas=status_replicas,
    )
    if not state.recommendations:
        # recordInitialRecommendation: a controller that first sees the HPA remembers the current size
        state.recommendations.append(nz.Timestamped(current, t))
        sync.step("first sight", recorded=current)
    min_replicas = spec.get("minReplicas", 1)
    max_replicas = spec["maxReplicas"]
    behavior = nz.default_behavior(spec["behavior"]) if spec.get("behavior") is not None else None
    result = Reconciliation(current, {}, sync.events, state, sync.trace, current=current)
    desired, reason, rescale = 0, "", True
    statuses: list[dict[str, Any]] | None = None
    if current == 0:
        rescale = False
        sync.condition(
            "ScalingActive",
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        )
        sync.step("guard", rule="the target is scaled to zero: autoscaling is disabled")
    elif current > max_replicas:
        reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        sync.step("guard", rule=reason, desired=desired)
    elif current < min_replicas:
        reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        sync.step("guard", rule=reason, desired=desired)
    else:
        proposal, name, statuses, failed = _compute_metrics(
            sync, spec, current, status_replicas, pods, metrics or {}, config, result
        )
        if proposal is None:
            status = sync.status(current, sync.old_desired, statuses, False)
            result.status = status
            sync.event("Warning", "FailedComputeMetricsReplicas", failed or "")
            sync.step(
                "result",
                replicas=current,
                rescale=False,
                why="no valid metric: the controller does not scale",
            )
            return result
        result.proposal, result.metric_name = proposal, name
        metric_for_reason = name if proposal > desired else ""
        desired = max(desired, proposal)
        if desired > current:
            reason = f"{metric_for_reason} above target"
        if desired < current:
            reason = "All metrics below target"
        if behavior is None:
            desired = _normalize_legacy(
                sync, result, state, current, desired, min_replicas, max_replicas, config
            )
        else:
            desired = _normalize_behavior(
                sync, result, state, behavior, current, desired, min_replicas, max_replicas, config
            )
        rescale = desired != current
    result.reason = reason
    if rescale:
        sync.condition(
            "AbleToScale",
            "True",
            "SucceededRescale",
            f"the HPA controller was able to update the target scale to {desired}",
        )
        sync.event("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
        nz.store_scale_event(behavior, state.scale_up_events, state.scale_down_events, current, desired, t)
    else:
        desired = current
    result.replicas, result.rescale = desired, rescale
    result.status = sync.status(current, desired, statuses, rescale)
    sync.step("result", replicas=desired, rescale=rescale, reason=reason)
    return result


def _normalize_legacy(
    sync: _Sync,
    result: Reconciliation,
    state: HPAState,
    current: int,
    proposal: int,
    min_replicas: int,
    max_replicas: int,
    config: Config,
) -> int:
    """``normalizeDesiredReplicas`` (no ``spec.behavior``)."""
    window = config.downscale_stabilization
    considered = [
        (round(sync.now - r.time, 6), r.replicas)
        for r in state.recommendations
        if not r.time < sync.now - window
    ]
    stabilized = nz.stabilize_legacy(state.recommendations, proposal, sync.now, window)
    result.stabilized = stabilized
    reason = "ScaleDownStabilized" if stabilized != proposal else "ReadyForNewScale"
    sync.condition("AbleToScale", "True", reason, STABILIZED_MESSAGES[reason])
    sync.step(
        "stabilize",
        path="legacy",
        window_s=window,
        proposal=proposal,
        recommendations=considered,
        stabilized=stabilized,
        rule=f"the highest of the proposal and the recommendations at most {window:g} s old",
    )
    desired, limit = nz.limit_legacy(current, stabilized, min_replicas, max_replicas)
    _limited(sync, desired, stabilized, limit)
    sync.step(
        "limit",
        path="legacy",
        stabilized=stabilized,
        desired=desired,
        reason=limit,
        scale_up_limit=max(2 * current, 4),
        min_replicas=min_replicas,
        max_replicas=max_replicas,
    )
    return desired


def _normalize_behavior(
    sync: _Sync,
    result: Reconciliation,
    state: HPAState,
    behavior: dict[str, Any],
    current: int,
    proposal: int,
    min_replicas: int,
    max_replicas: int,
    config: Config,
) -> int:
    """``normalizeDesiredReplicasWithBehaviors``."""
    up_window = behavior["scaleUp"].get("stabilizationWindowSeconds", 0)
    down_window = behavior["scaleDown"].get("stabilizationWindowSeconds")
    if down_window is None:  # maybeInitScaleDownStabilizationWindow: the controller's flag
        down_window = config.downscale_stabilization
    considered = [(round(sync.now - r.time, 6), r.replicas) for r in state.recommendations]
    stabilized, why = nz.stabilize_with_behavior(
        state.recommendations, proposal, current, sync.now, up_window, down_window
    )
    result.stabilized = stabilized
    reason = why if stabilized != proposal else "ReadyForNewScale"
    sync.condition("AbleToScale", "True", reason, STABILIZED_MESSAGES[reason])
    sync.step(
        "stabilize",
        path="behavior",
        up_window_s=up_window,
        down_window_s=down_window,
        proposal=proposal,
        recommendations=considered,
        stabilized=stabilized,
        rule="between the lowest recommendation younger than the scale-up window and the highest "
        "younger than the scale-down window, starting from the current size",
    )
    desired, limit, shown = nz.limit_with_behavior(
        current,
        stabilized,
        min_replicas,
        max_replicas,
        behavior,
        state.scale_up_events,
        state.scale_down_events,
        sync.now,
    )
    result.policies = shown
    _limited(sync, desired, stabilized, limit)
    sync.step(
        "limit",
        path="behavior",
        stabilized=stabilized,
        desired=desired,
        reason=limit,
        policies=shown,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
    )
    return desired


def _limited(sync: _Sync, desired: int, stabilized: int, reason: str) -> None:
    sync.condition(
        "ScalingLimited", "True" if desired != stabilized else "False", reason, nz.LIMIT_MESSAGES[reason]
    )


# -- metrics (computeReplicasForMetrics) -----------------------------------------------------------
def _compute_metrics(
    sync: _Sync,
    spec: dict[str, Any],
    current: int,
    status_replicas: int,
    pods: list[dict[str, Any]],
    metrics: dict[str, Any],
    config: Config,
    result: Reconciliation,
) -> tuple[int | None, str, list[dict[str, Any]], str | None]:
    specs = spec.get("metrics") or []
    tolerances = _tolerances(spec, config)
    statuses: list[dict[str, Any]] = []
    replicas, name = 0, ""
    invalid, first_error, first_condition = 0, None, None
    for metric in specs:
        try:
            proposal, metric_name, status, calc = _one_metric(
                metric, current, status_replicas, pods, metrics, sync.now, tolerances, config, sync
            )
        except _MetricFailed as failure:
            statuses.append({"type": ""})  # the zero MetricStatus upstream leaves for a failed metric
            result.calculations.append(failure)
            sync.step("metric", metric=_describe(metric), error=failure.error)
            if invalid == 0:
                first_error, first_condition = failure.error, failure.condition
            invalid += 1
            continue
        statuses.append(status)
        result.calculations.append(calc)
        sync.step("metric", metric=metric_name, proposal=proposal, calculation=calc)
        if replicas == 0 or proposal > replicas:
            replicas, name = proposal, metric_name
    error = None
    if first_error is not None:
        error = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first_error}"
    if invalid >= len(specs) or (invalid > 0 and replicas < current):
        reason, message = first_condition
        sync.condition("ScalingActive", "False", reason, message)
        return None, "", statuses, error
    sync.condition(
        "ScalingActive",
        "True",
        "ValidMetricFound",
        f"the HPA was able to successfully calculate a replica count from {name}",
    )
    sync.step(
        "proposal",
        replicas=replicas,
        metric=name,
        rule="the largest proposal of the metrics (the first one on ties)",
    )
    return replicas, name, statuses, error


class _MetricFailed(Exception):
    def __init__(self, error: str, reason: str, event: str) -> None:
        super().__init__(error)
        self.error = error
        self.condition = (reason, f"the HPA was unable to compute the replica count: {event}")


def _fail(sync: _Sync, reason: str, event_message: str, wrapped: str) -> _MetricFailed:
    """``getUnableComputeReplicaCountCondition``: a Warning event and the ScalingActive condition."""
    sync.event("Warning", reason, event_message)
    return _MetricFailed(wrapped, reason, event_message)


def _tolerances(spec: dict[str, Any], config: Config) -> rc.Tolerances:
    """The flag's tolerance, replaced per direction by ``behavior.scaleUp/scaleDown.tolerance``
    (HPAConfigurableTolerance, beta and on in v1.36) when ``spec.behavior`` is set."""
    behavior = spec.get("behavior")
    down = up = config.tolerance
    if behavior is not None:
        d = (behavior.get("scaleDown") or {}).get("tolerance")
        u = (behavior.get("scaleUp") or {}).get("tolerance")
        down = float(parse_quantity(d)) if d is not None else down
        up = float(parse_quantity(u)) if u is not None else up
    return rc.Tolerances(down, up)


def _millis(value: Any) -> int:
    """``Quantity.MilliValue()`` of a quantity string or number (memoized: samples repeat)."""
    return _millis_of(value) if isinstance(value, str) else to_millis(parse_quantity(value))


@lru_cache(maxsize=65536)
def _millis_of(text: str) -> int:
    return to_millis(parse_quantity(text))


def _samples(metrics: dict[str, Any], key: str, container: str = "") -> dict[str, rc.Sample]:
    ts = metrics.get("timestamp")
    base_t = parse_time(ts) if isinstance(ts, str) else float(ts or 0.0)
    window = float(metrics.get("window_s", 15.0))
    out = {}
    for pod, values in (metrics.get("pods") or {}).items():
        if container:
            values = ((values or {}).get("containers") or {}).get(container) or {}
        if key not in (values or {}):
            continue
        pts = values.get("timestamp")
        out[pod] = rc.Sample(
            _millis(values[key]),
            parse_time(pts) if isinstance(pts, str) else base_t,
            float(values.get("window_s", window)),
        )
    return out


def _one_metric(
    metric: dict[str, Any],
    current: int,
    status_replicas: int,
    pods: list[dict[str, Any]],
    metrics: dict[str, Any],
    now: float,
    tol: rc.Tolerances,
    config: Config,
    sync: _Sync,
) -> tuple[int, str, dict[str, Any], rc.Calculation]:
    kind = metric.get("type")
    init, delay = config.cpu_initialization_period, config.initial_readiness_delay
    if kind in ("Resource", "ContainerResource"):
        src = metric.get("resource" if kind == "Resource" else "containerResource") or {}
        res, target = src.get("name"), src.get("target") or {}
        container = src.get("container", "") if kind == "ContainerResource" else ""
        reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
        wrap = (
            f"failed to get {res} resource metric value"
            if kind == "Resource"
            else f"failed to get {res} container resource metric value"
        )
        samples = _samples(metrics, res, container)
        try:
            if target.get("averageValue") is not None:
                calc = rc.raw_resource_replicas(
                    current, _millis(target["averageValue"]), res, pods, samples, now, tol, init, delay
                )
                name = f"{res} resource"
                value = {"averageValue": format_cpu(calc.raw_average)}
            elif target.get("averageUtilization") is None:
                raise rc.CalcError(
                    "invalid resource metric source: neither an average utilization target nor "
                    "an average value (usage) target was set"
                )
            else:
                calc = rc.resource_replicas(
                    current,
                    int(target["averageUtilization"]),
                    res,
                    pods,
                    samples,
                    now,
                    tol,
                    init,
                    delay,
                    container,
                )
                name = (
                    f"{res} resource utilization (percentage of request)"
                    if kind == "Resource"
                    else f"{res} container resource utilization (percentage of request)"
                )
                value = {"averageUtilization": calc.utilization, "averageValue": format_cpu(calc.raw_average)}
        except rc.CalcError as e:
            what = "usage" if target.get("averageValue") is not None else "utilization"
            text = (
                str(e) if str(e).startswith("invalid resource metric") else f"failed to get {res} {what}: {e}"
            )
            raise _fail(sync, reason, text, f"{wrap}: {text}") from None
        body = {"name": res, "current": value}
        if kind == "ContainerResource":
            body["container"] = container
        return (
            calc.replicas,
            name,
            {"type": kind, "resource" if kind == "Resource" else "containerResource": body},
            calc,
        )
    if kind == "Pods":
        src = metric.get("pods") or {}
        mname = (src.get("metric") or {}).get("name", "")
        target = src.get("target") or {}
        samples = _samples(metrics, mname)
        try:
            if not samples:
                raise rc.CalcError(
                    f"unable to get metric {mname}: no metrics returned from custom metrics API"
                )
            calc = rc.plain_metric_replicas(
                current,
                _millis(target.get("averageValue", 0)),
                "",
                pods,
                samples,
                now,
                tol,
                init,
                delay,
                "pods metric",
            )
        except rc.CalcError as e:
            raise _fail(
                sync, "FailedGetPodsMetric", str(e), f"failed to get pods metric value: {e}"
            ) from None
        status = {
            "type": "Pods",
            "pods": {
                "metric": _identifier(src.get("metric") or {}),
                "current": {"averageValue": format_cpu(calc.raw_average)},
            },
        }
        return calc.replicas, f"pods metric {mname}", status, calc
    if kind == "Object":
        src = metric.get("object") or {}
        mname = (src.get("metric") or {}).get("name", "")
        target, obj = src.get("target") or {}, src.get("describedObject") or {}
        raw = (metrics.get("object") or {}).get(mname)
        try:
            if raw is None:
                raise rc.CalcError(
                    f"unable to get metric {mname}: {obj.get('kind')} on "
                    f"{(sync.hpa.get('metadata') or {}).get('namespace', 'default')} "
                    f"{obj.get('name')}/no metrics returned from custom metrics API"
                )
            if target.get("type") == "Value" and target.get("value") is not None:
                calc = rc.object_replicas(current, _millis(target["value"]), _millis(raw), tol, pods)
                value, name = {"value": format_cpu(calc.raw_average)}, f"{obj.get('kind')} metric {mname}"
            elif target.get("type") == "AverageValue" and target.get("averageValue") is not None:
                calc = rc.object_per_pod_replicas(
                    status_replicas, _millis(target["averageValue"]), _millis(raw), tol
                )
                value = {"averageValue": format_cpu(calc.raw_average)}
                name = f"external metric {mname}({_go_selector((src.get('metric') or {}).get('selector'))})"
            else:
                raise rc.CalcError(
                    "invalid object metric source: neither a value target nor an average value target was set"
                )
        except rc.CalcError as e:
            raise _fail(
                sync, "FailedGetObjectMetric", str(e), f"failed to get object metric value: {e}"
            ) from None
        status = {
            "type": "Object",
            "object": {
                "describedObject": obj,
                "metric": _identifier(src.get("metric") or {}),
                "current": value,
            },
        }
        return calc.replicas, name, status, calc
    if kind == "External":
        src = metric.get("external") or {}
        mname = (src.get("metric") or {}).get("name", "")
        target = src.get("target") or {}
        raw = (metrics.get("external") or {}).get(mname)
        values = [] if raw is None else [_millis(v) for v in (raw if isinstance(raw, list) else [raw])]
        selector = _go_selector((src.get("metric") or {}).get("selector"))
        try:
            if target.get("type") == "AverageValue" and target.get("averageValue") is not None:
                calc = rc.external_per_pod_replicas(
                    status_replicas, _millis(target["averageValue"]), values, tol
                )
                value = {"averageValue": format_cpu(calc.raw_average)}
            elif target.get("type") == "Value" and target.get("value") is not None:
                calc = rc.external_replicas(current, _millis(target["value"]), values, tol, pods)
                value = {"value": format_cpu(calc.raw_average)}
            else:
                raise rc.CalcError(
                    "invalid external metric source: neither a value target nor an average value "
                    "target was set"
                )
        except rc.CalcError as e:
            text = str(e)
            if text.startswith("no metrics returned"):
                ns = (sync.hpa.get("metadata") or {}).get("namespace", "default")
                text = f"unable to get external metric {ns}/{mname}/{selector}: {text}"
            raise _fail(
                sync, "FailedGetExternalMetric", text, f"failed to get external metric value: {text}"
            ) from None
        status = {
            "type": "External",
            "external": {"metric": _identifier(src.get("metric") or {}), "current": value},
        }
        return calc.replicas, f"external metric {mname}({selector})", status, calc
    error = f'unknown metric source type "{kind}"'
    raise _fail(sync, "InvalidMetricSourceType", error, error)


def _identifier(metric: dict[str, Any]) -> dict[str, Any]:
    out = {"name": metric.get("name", "")}
    if metric.get("selector") is not None:
        out["selector"] = metric["selector"]
    return out


def _describe(metric: dict[str, Any]) -> str:
    kind = metric.get("type", "")
    src = (
        metric.get(
            {
                "Resource": "resource",
                "ContainerResource": "containerResource",
                "Pods": "pods",
                "Object": "object",
                "External": "external",
            }.get(kind, ""),
            {},
        )
        or {}
    )
    return f"{kind} {src.get('name') or (src.get('metric') or {}).get('name', '')}".strip()


def _go_selector(selector: dict[str, Any] | None) -> str:
    """A ``*metav1.LabelSelector`` printed with ``%+v`` (its generated ``String()``)."""
    if selector is None:
        return "<nil>"
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key')},Operator:{e.get('operator')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )

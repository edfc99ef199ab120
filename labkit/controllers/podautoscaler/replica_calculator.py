"""The HPA's replica calculator: from pods and metric samples to a proposed replica count.

A line-by-line model of ``pkg/controller/podautoscaler/replica_calculator.go`` and
``metrics/utilization.go`` (v1.36): the integer arithmetic, the grouping of pods into ready,
unready, missing and ignored (``groupPods``), the conservative re-computation when pods are set
aside, and the errors with upstream's wording. Values are milli-units, as upstream's
``MilliValue()``. Every function also returns a :class:`Calculation` that records what it did,
for ``Cluster.explain_hpa``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "CalcError",
    "Calculation",
    "Tolerances",
    "Sample",
    "group_pods",
    "pod_requests",
    "resource_replicas",
    "raw_resource_replicas",
    "plain_metric_replicas",
    "object_replicas",
    "object_per_pod_replicas",
    "external_replicas",
    "external_per_pod_replicas",
    "MAX_INT32",
]

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1


class CalcError(Exception):
    """A calculation that fails, with upstream's error text."""


@dataclass(frozen=True)
class Tolerances:
    """``isWithin``: ``1 - down <= ratio <= 1 + up``, both ends included."""

    down: float = 0.1
    up: float = 0.1

    def within(self, ratio: float) -> bool:
        return (1.0 - self.down) <= ratio <= (1.0 + self.up)


@dataclass(frozen=True)
class Sample:
    """One pod's metric sample (``metricsclient.PodMetric``): milli-units, time and window (s)."""

    value: int
    timestamp: float
    window: float


@dataclass
class Calculation:
    """What one calculator call did, step by step (the explanation's raw material)."""

    path: str
    current_replicas: int
    target: int  # milli-units, or percent for utilization
    replicas: int = 0
    ready: list[str] = field(default_factory=list)
    unready: dict[str, str] = field(default_factory=dict)  # pod -> why
    missing: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)  # pod -> why
    samples: dict[str, int] = field(default_factory=dict)  # first-pass samples used
    requests: dict[str, int] = field(default_factory=dict)
    ratio: float | None = None
    utilization: int | None = None
    raw_average: int | None = None  # rawUtilization / usage (the reported value)
    within_tolerance: bool | None = None
    assumed: dict[str, int] = field(default_factory=dict)  # second pass: pod -> assumed value
    new_ratio: float | None = None
    outcome: str = ""  # which return of the upstream function gave the result
    error: str | None = None


def group_pods(
    pods: list[dict[str, Any]],
    samples: dict[str, Sample],
    resource: str,
    now: float,
    cpu_init_period: float,
    initial_readiness_delay: float,
    calc: Calculation,
) -> tuple[int, set[str], set[str], set[str]]:
    """``groupPods``: (readyPodCount, unready, missing, ignored), with each pod's reason kept."""
    ready_count = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        name = pod["metadata"]["name"]
        st = pod.get("status") or {}
        phase = st.get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase == "Failed":
            ignored.add(name)
            calc.ignored[name] = (
                "being deleted" if pod["metadata"].get("deletionTimestamp") else "phase Failed"
            )
            continue
        if phase == "Pending":
            unready.add(name)
            calc.unready[name] = "phase Pending"
            continue
        sample = samples.get(name)
        if sample is None:
            missing.add(name)
            calc.missing.append(name)
            continue
        if resource == "cpu":
            cond = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
            start = _time(st.get("startTime"))
            why = ""
            if cond is None or start is None:
                why = "no Ready condition" if cond is None else "no start time"
            else:
                transition = _time(cond.get("lastTransitionTime")) or 0.0
                if start + cpu_init_period > now:
                    # still within the CPU initialization period
                    if cond.get("status") == "False":
                        why = "not Ready, within the CPU initialization period"
                    elif sample.timestamp < transition + sample.window:
                        why = (
                            "sample not a full window after its Ready transition (CPU initialization period)"
                        )
                elif cond.get("status") == "False" and start + initial_readiness_delay > transition:
                    why = "not Ready and never was"
            if why:
                unready.add(name)
                calc.unready[name] = why
                continue
        ready_count += 1
        calc.ready.append(name)
    return ready_count, unready, missing, ignored


def pod_requests(pods: list[dict[str, Any]], resource: str, container: str = "") -> dict[str, int]:
    """``calculatePodRequests``: each pod's request in milli-units (containers and restartable init
    containers; pod-level requests when set and no container is named)."""
    from labkit.api.quantity import parse_quantity, to_millis

    out: dict[str, int] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        name = pod["metadata"]["name"]
        pod_level = ((spec.get("resources") or {}).get("requests") or {}).get(resource)
        if pod_level is not None and not container:  # PodLevelResources (beta, on)
            out[name] = to_millis(parse_quantity(pod_level))
            continue
        containers = list(spec.get("containers") or [])
        containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        total = 0
        for c in containers:
            if container and c.get("name") != container:
                continue
            req = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if req is None:
                raise CalcError(f"missing request for {resource} in container {c.get('name')} of Pod {name}")
            total += _request_millis(req) if isinstance(req, str) else to_millis(parse_quantity(req))
        out[name] = total
    return out


def _utilization_ratio(
    samples: dict[str, int], requests: dict[str, int], target: int
) -> tuple[float, int, int]:
    """``GetResourceUtilizationRatio``: (ratio, utilization %, raw average)."""
    total = req_total = n = 0
    for name, value in samples.items():
        req = requests.get(name)
        if req is None:
            continue  # an extraneous metric
        total += value
        req_total += req
        n += 1
    if req_total == 0:
        raise CalcError("no metrics returned matched known pods")
    utilization = _go_div(total * 100, req_total)
    return utilization / target, utilization, _go_div(total, n)


def _usage_ratio(samples: dict[str, int], target: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: (ratio, average)."""
    usage = _go_div(sum(samples.values()), len(samples))
    return usage / target, usage


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    pods: list[dict[str, Any]],
    samples: dict[str, Sample],
    now: float,
    tol: Tolerances,
    cpu_init_period: float,
    initial_readiness_delay: float,
    container: str = "",
) -> Calculation:
    """``GetResourceReplicas`` (a Resource metric with a target ``averageUtilization``)."""
    calc = Calculation("utilization", current, target_utilization)
    if not samples:
        raise CalcError(
            f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        )
    ready_count, unready, missing, metrics = _usable_samples(
        calc, pods, samples, resource, now, cpu_init_period, initial_readiness_delay
    )
    requests = pod_requests(pods, resource, container)
    calc.samples, calc.requests = dict(metrics), requests
    ratio, utilization, raw = _utilization_ratio(metrics, requests, target_utilization)
    calc.ratio, calc.utilization, calc.raw_average = ratio, utilization, raw
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        return _first_pass(calc, current, ratio, ready_count, tol)
    if missing:
        if ratio < 1.0:
            fallback = max(100, target_utilization)
            for name in missing:
                metrics[name] = calc.assumed[name] = _go_div(requests[name] * fallback, 100)
        elif ratio > 1.0:
            for name in missing:
                metrics[name] = calc.assumed[name] = 0
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = calc.assumed[name] = 0
    new_ratio, _, _ = _utilization_ratio(metrics, requests, target_utilization)
    return _second_pass(calc, current, ratio, new_ratio, len(metrics), tol)


def _usable_samples(
    calc: Calculation,
    pods: list[dict[str, Any]],
    samples: dict[str, Sample],
    resource: str,
    now: float,
    cpu_init_period: float,
    initial_readiness_delay: float,
) -> tuple[int, set[str], set[str], dict[str, int]]:
    """``groupPods`` then ``removeMetricsForPods`` for the ignored and unready pods (samples of pods
    the selector did not return stay): (readyPodCount, unready, missing, the samples left)."""
    if not pods:
        raise CalcError("no pods returned by selector while calculating replica count")
    ready_count, unready, missing, ignored = group_pods(
        pods, samples, resource, now, cpu_init_period, initial_readiness_delay, calc
    )
    metrics = {k: s.value for k, s in samples.items() if k not in ignored and k not in unready}
    if not metrics:
        raise CalcError("did not receive metrics for targeted pods (pods might be unready)")
    return ready_count, unready, missing, metrics


def _first_pass(
    calc: Calculation, current: int, ratio: float, ready_count: int, tol: Tolerances
) -> Calculation:
    """No pod set aside: the current count within tolerance, else ``ceil(ratio x readyPodCount)``."""
    calc.within_tolerance = tol.within(ratio)
    if calc.within_tolerance:
        calc.replicas, calc.outcome = current, "within tolerance"
    else:
        calc.replicas, calc.outcome = _ceil(ratio * ready_count), "ratio x ready pods"
    return calc


def _second_pass(
    calc: Calculation, current: int, ratio: float, new_ratio: float, n: int, tol: Tolerances
) -> Calculation:
    calc.new_ratio = new_ratio
    calc.within_tolerance = tol.within(new_ratio)
    if calc.within_tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        calc.replicas = current
        calc.outcome = (
            "within tolerance after re-computation"
            if calc.within_tolerance
            else "re-computation would change the scale direction"
        )
        return calc
    replicas = _ceil(new_ratio * n)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        calc.replicas, calc.outcome = current, "the count of pods considered would change the scale direction"
        return calc
    calc.replicas, calc.outcome = replicas, "new ratio x pods considered"
    return calc


def plain_metric_replicas(
    current: int,
    target: int,
    resource: str,
    pods: list[dict[str, Any]],
    samples: dict[str, Sample],
    now: float,
    tol: Tolerances,
    cpu_init_period: float,
    initial_readiness_delay: float,
    path: str,
) -> Calculation:
    """``calcPlainMetricReplicas``: a Pods metric, or a Resource metric with ``averageValue``."""
    calc = Calculation(path, current, target)
    ready_count, unready, missing, metrics = _usable_samples(
        calc, pods, samples, resource, now, cpu_init_period, initial_readiness_delay
    )
    calc.samples = dict(metrics)
    ratio, usage = _usage_ratio(metrics, target)
    calc.ratio, calc.raw_average = ratio, usage
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        return _first_pass(calc, current, ratio, ready_count, tol)
    if missing:
        value = target if ratio < 1.0 else 0  # on a scale-down exactly the target, else 0
        for name in missing:
            metrics[name] = calc.assumed[name] = value
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = calc.assumed[name] = 0
    new_ratio, _ = _usage_ratio(metrics, target)
    return _second_pass(calc, current, ratio, new_ratio, len(metrics), tol)


def raw_resource_replicas(
    current: int,
    target: int,
    resource: str,
    pods: list[dict[str, Any]],
    samples: dict[str, Sample],
    now: float,
    tol: Tolerances,
    cpu_init_period: float,
    initial_readiness_delay: float,
) -> Calculation:
    """``GetRawResourceReplicas`` (a Resource metric with a target ``averageValue``)."""
    if not samples:
        raise CalcError(
            f"unable to get metrics for resource {resource}: no metrics returned from resource metrics API"
        )
    return plain_metric_replicas(
        current,
        target,
        resource,
        pods,
        samples,
        now,
        tol,
        cpu_init_period,
        initial_readiness_delay,
        "resource average value",
    )


def _usage_ratio_replicas(
    calc: Calculation, current: int, ratio: float, tol: Tolerances, pods: list[dict[str, Any]]
) -> Calculation:
    """``getUsageRatioReplicaCount`` for Object and External Value targets."""
    calc.ratio = ratio
    if current != 0:
        calc.within_tolerance = tol.within(ratio)
        if calc.within_tolerance:
            calc.replicas, calc.outcome = current, "within tolerance"
            return calc
        if not pods:
            raise CalcError(
                "unable to calculate ready pods: no pods returned by selector while calculating replica count"
            )
        ready = sum(
            1
            for p in pods
            if (p.get("status") or {}).get("phase") == "Running"
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )
        calc.ready = [p["metadata"]["name"] for p in pods]
        calc.replicas, calc.outcome = min(_ceil(ratio * ready), MAX_INT32), "ratio x ready pods"
    else:
        calc.replicas, calc.outcome = min(_ceil(ratio), MAX_INT32), "scale from zero: ceil(ratio)"
    return calc


def object_replicas(
    current: int, target: int, value: int, tol: Tolerances, pods: list[dict[str, Any]]
) -> Calculation:
    """``GetObjectMetricReplicas`` (an Object metric with a ``value`` target)."""
    calc = Calculation("object value", current, target)
    calc.raw_average = value
    return _usage_ratio_replicas(calc, current, value / target, tol, pods)


def external_replicas(
    current: int, target: int, values: list[int], tol: Tolerances, pods: list[dict[str, Any]]
) -> Calculation:
    """``GetExternalMetricReplicas``: the sum of every series (capped at int64), as a ``value``."""
    if not values:
        raise CalcError("no metrics returned from external metrics API")
    usage = min(sum(values), MAX_INT64)
    calc = Calculation("external value", current, target)
    calc.raw_average = usage
    return _usage_ratio_replicas(calc, current, usage / target, tol, pods)


def object_per_pod_replicas(
    status_replicas: int, target: int, value: int, tol: Tolerances, path: str = "object average value"
) -> Calculation:
    """``GetObjectPerPodMetricReplicas`` (and the External per-pod form): against
    ``status.replicas``."""
    calc = Calculation(path, status_replicas, target)
    replicas = status_replicas
    ratio = value / (target * replicas) if replicas else math.inf
    calc.ratio = ratio
    calc.within_tolerance = tol.within(ratio)
    if not calc.within_tolerance:
        replicas = _ceil(value / target)
        calc.outcome = "ceil(value / target)"
    else:
        calc.outcome = "within tolerance"
    calc.replicas = replicas
    calc.raw_average = _ceil(value / status_replicas) if status_replicas else 0
    return calc


def external_per_pod_replicas(
    status_replicas: int, target: int, values: list[int], tol: Tolerances
) -> Calculation:
    """``GetExternalPerPodMetricReplicas``."""
    if not values:
        raise CalcError("no metrics returned from external metrics API")
    return object_per_pod_replicas(
        status_replicas, target, min(sum(values), MAX_INT64), tol, "external average value"
    )


@lru_cache(maxsize=4096)
def _request_millis(text: str) -> int:
    """A container request's ``MilliValue()``, memoized (every sync reads the same few)."""
    from labkit.api.quantity import parse_quantity, to_millis

    return to_millis(parse_quantity(text))


def _go_div(a: int, b: int) -> int:
    """Go's integer division truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _ceil(x: float) -> int:
    """``int32(math.Ceil(x))``."""
    return int(math.ceil(x))


def _time(text: Any) -> float | None:
    """Seconds since the lab's epoch for an RFC 3339 time (fractions allowed), None when absent."""
    if not text:
        return None
    from labkit.controllers.podautoscaler.clock import parse_time

    return parse_time(text)

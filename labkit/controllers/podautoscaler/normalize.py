"""From a proposal to the replica count: stabilization windows and rate limits.

``pkg/controller/podautoscaler/horizontal.go`` (v1.36): ``stabilizeRecommendation`` and
``convertDesiredReplicasWithRules`` (no ``spec.behavior``), ``stabilizeRecommendationWithBehaviors``,
``convertDesiredReplicasWithBehaviorRate``, ``calculateScaleUpLimitWithScalingRules``,
``calculateScaleDownLimitWithBehaviors``, ``getReplicasChangePerPeriod`` and ``storeScaleEvent``.
The window edges follow the code: the legacy path keeps a recommendation whose age is *at most*
the window (``Before(cutoff)`` drops only older ones), the behavior path one *younger* than it
(``After(cutoff)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from labkit.api.defaults import default_behavior

__all__ = [
    "Timestamped",
    "ScaleEvent",
    "stabilize_legacy",
    "limit_legacy",
    "stabilize_with_behavior",
    "limit_with_behavior",
    "store_scale_event",
    "default_behavior",
    "LIMIT_MESSAGES",
]

LIMIT_MESSAGES = {
    "DesiredWithinRange": "the desired count is within the acceptable range",
    "TooFewReplicas": "the desired replica count is less than the minimum replica count",
    "TooManyReplicas": "the desired replica count is more than the maximum replica count",
    "ScaleUpLimit": "the desired replica count is increasing faster than the maximum scale rate",
    "ScaleDownLimit": "the desired replica count is decreasing faster than the maximum scale rate",
}
MIN_INT32, MAX_INT32 = -(2**31), 2**31 - 1


@dataclass
class Timestamped:
    """``timestampedRecommendation``."""

    replicas: int
    time: float


@dataclass
class ScaleEvent:
    """``timestampedScaleEvent``: an absolute change, when, and whether it may be overwritten."""

    change: int
    time: float
    outdated: bool = False


def stabilize_legacy(recs: list[Timestamped], proposal: int, now: float, window: float) -> int:
    """``stabilizeRecommendation``: the highest of the proposal and the recommendations at most
    ``window`` old; the proposal then overwrites the *last* entry older than that, or is appended."""
    best = proposal
    old = -1
    cutoff = now - window
    for i, rec in enumerate(recs):
        if rec.time < cutoff:
            old = i
        elif rec.replicas > best:
            best = rec.replicas
    if old >= 0:
        recs[old] = Timestamped(proposal, now)
    else:
        recs.append(Timestamped(proposal, now))
    return best


def limit_legacy(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str]:
    """``convertDesiredReplicasWithRules``: ``max(2 x current, 4)`` per sync, then min/max."""
    scale_up_limit = max(2 * current, 4)
    if max_replicas > scale_up_limit:
        upper, reason_up = scale_up_limit, "ScaleUpLimit"
    else:
        upper, reason_up = max_replicas, "TooManyReplicas"
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas"
    if desired > upper:
        return upper, reason_up
    return desired, "DesiredWithinRange"


def stabilize_with_behavior(
    recs: list[Timestamped], proposal: int, current: int, now: float, up_window: float, down_window: float
) -> tuple[int, str]:
    """``stabilizeRecommendationWithBehaviors``: (stabilized, the AbleToScale reason if it differs)."""
    up_rec = down_rec = proposal
    up_cutoff, down_cutoff = now - up_window, now - down_window
    old = -1
    for i, rec in enumerate(recs):
        if rec.time > up_cutoff:
            up_rec = min(rec.replicas, up_rec)
        if rec.time > down_cutoff:
            down_rec = max(rec.replicas, down_rec)
        if rec.time < up_cutoff and rec.time < down_cutoff:
            old = i
    result = current
    if result < up_rec:
        result = up_rec
    if result > down_rec:
        result = down_rec
    if old >= 0:
        recs[old] = Timestamped(proposal, now)
    else:
        recs.append(Timestamped(proposal, now))
    return result, ("ScaleUpStabilized" if proposal >= current else "ScaleDownStabilized")


def _change_in_period(period: float, events: list[ScaleEvent], now: float) -> int:
    """``getReplicasChangePerPeriod``: the changes younger than ``period``."""
    cutoff = now - period
    return sum(e.change for e in events if e.time > cutoff)


def _scale_up_limit(
    current: int, up: list[ScaleEvent], down: list[ScaleEvent], rules: dict[str, Any], now: float
) -> tuple[int, list[dict[str, Any]]]:
    """``calculateScaleUpLimitWithScalingRules``; also each policy's proposal, for the explanation."""
    select = rules.get("selectPolicy", "Max")
    if select == "Disabled":
        return current, []
    pick, result = (min, MAX_INT32) if select == "Min" else (max, MIN_INT32)
    shown = []
    for policy in rules.get("policies") or []:
        period = policy["periodSeconds"]
        start = current - _change_in_period(period, up, now) + _change_in_period(period, down, now)
        if policy["type"] == "Pods":
            proposed = start + policy["value"]
        else:  # Percent: rounded up, so that a small percentage still adds a pod
            proposed = int(math.ceil(start * (1 + policy["value"] / 100)))
        shown.append({**policy, "period_start": start, "allows": proposed})
        result = pick(result, proposed)
    return result, shown


def _scale_down_limit(
    current: int, up: list[ScaleEvent], down: list[ScaleEvent], rules: dict[str, Any], now: float
) -> tuple[int, list[dict[str, Any]]]:
    """``calculateScaleDownLimitWithBehaviors`` (a Percent policy truncates toward zero)."""
    select = rules.get("selectPolicy", "Max")
    if select == "Disabled":
        return current, []
    pick, result = (max, MIN_INT32) if select == "Min" else (min, MAX_INT32)
    shown = []
    for policy in rules.get("policies") or []:
        period = policy["periodSeconds"]
        start = current - _change_in_period(period, up, now) + _change_in_period(period, down, now)
        if policy["type"] == "Pods":
            proposed = start - policy["value"]
        else:
            proposed = int(start * (1 - policy["value"] / 100))
        shown.append({**policy, "period_start": start, "allows": proposed})
        result = pick(result, proposed)
    return result, shown


def limit_with_behavior(
    current: int,
    desired: int,
    min_replicas: int,
    max_replicas: int,
    behavior: dict[str, Any],
    up: list[ScaleEvent],
    down: list[ScaleEvent],
    now: float,
) -> tuple[int, str, list[dict[str, Any]]]:
    """``convertDesiredReplicasWithBehaviorRate``: (replicas, ScalingLimited reason, policies shown)."""
    if desired > current:
        limit, shown = _scale_up_limit(current, up, down, behavior["scaleUp"], now)
        limit = max(limit, current)  # no further scale-up until the events age out
        if max_replicas > limit:
            allowed, reason = limit, "ScaleUpLimit"
        else:
            allowed, reason = max_replicas, "TooManyReplicas"
        if desired > allowed:
            return allowed, reason, shown
        return desired, "DesiredWithinRange", shown
    if desired < current:
        limit, shown = _scale_down_limit(current, up, down, behavior["scaleDown"], now)
        limit = min(limit, current)
        if min_replicas < limit:
            allowed, reason = limit, "ScaleDownLimit"
        else:
            allowed, reason = min_replicas, "TooFewReplicas"
        if desired < allowed:
            return allowed, reason, shown
        return desired, "DesiredWithinRange", shown
    return desired, "DesiredWithinRange", []


def store_scale_event(
    behavior: dict[str, Any] | None,
    up: list[ScaleEvent],
    down: list[ScaleEvent],
    prev: int,
    new: int,
    now: float,
) -> None:
    """``storeScaleEvent``: only with ``spec.behavior``; an event older than the direction's longest
    policy period is marked outdated and the last such one is overwritten."""
    if behavior is None:
        return
    if new > prev:
        events, rules, change = up, behavior["scaleUp"], new - prev
    else:
        events, rules, change = down, behavior["scaleDown"], prev - new
    longest = max((p["periodSeconds"] for p in rules.get("policies") or []), default=0)
    cutoff = now - longest
    for e in events:
        if e.time < cutoff:
            e.outdated = True
    old = -1
    for i, e in enumerate(events):
        if e.outdated:
            old = i
    event = ScaleEvent(change, now)
    if old >= 0:
        events[old] = event
    else:
        events.append(event)

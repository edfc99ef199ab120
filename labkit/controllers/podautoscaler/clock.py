"""RFC 3339 times of the HPA's inputs as seconds of simulated time (fractions kept)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from labkit.api.store import EPOCH, timestamp

__all__ = ["parse_time", "format_time"]


@lru_cache(maxsize=4096)  # the same timestamps come back at every sync (pods' start times, conditions)
def parse_time(text: str) -> float:
    """``"2026-01-01T00:05:00.25Z"`` -> seconds since :data:`labkit.api.store.EPOCH` (naive times are UTC)."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return (t - EPOCH).total_seconds()


def format_time(seconds: float) -> str:
    """Seconds since the epoch -> RFC 3339 with microseconds when they are not zero."""
    if seconds == int(seconds):
        return timestamp(seconds)  # memoized per second
    from datetime import timedelta

    t = EPOCH + timedelta(seconds=seconds)
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

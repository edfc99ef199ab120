"""Stopping a container (preStop, SIGTERM, SIGKILL) and the CrashLoopBackOff delay.

Upstream: ``pkg/kubelet/kuberuntime/kuberuntime_container.go`` (``killContainer``,
``executePreStopHook``, ``minimumGracePeriodInSeconds``), ``kuberuntime_manager.go``
(``doBackOff``) and ``staging/src/k8s.io/client-go/util/flowcontrol/backoff.go``.

Simplifications:

- A preStop hook takes its ``sleep.seconds`` (an ``exec`` or ``httpGet`` hook takes no time), and
  only an ``exec`` hook whose command is ``["false"]`` or ``["/bin/false"]`` fails.
- The stop signal is SIGTERM (no image ``STOPSIGNAL``), and the application exits
  ``labkit.io/sigterm-exit-after`` after it (default: the kubelet's short stop time); it exits
  with 143 then, or with 137 when SIGKILL comes first: an application never exits with 0.
- Sidecar ordering (sidecars stopped after the regular containers) is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

__all__ = ["Backoff", "Stop", "stop_container", "MIN_GRACE_SECONDS"]

#: kuberuntime_container.go: ``minimumGracePeriodInSeconds``, a stop is never shorter.
MIN_GRACE_SECONDS = 2
SIGTERM_EXIT, SIGKILL_EXIT = 143, 137  # 128 + the signal number
#: kuberuntime_manager.go / kubelet.go: ``backOffPeriod`` and ``MaxContainerBackOff``.
BACKOFF_INITIAL, BACKOFF_MAX = 10.0, 300.0


@dataclass
class Stop:
    """How one stop went, for the container's terminated state."""

    exit_code: int


def stop_container(env: simpy.Environment, container: dict[str, Any], grace: int, exit_after: float,
                   on_hook_failed: Callable[[], None], on_sigterm: Callable[[], None]):
    """``killContainer`` after its Killing event: a SimPy generator whose value is a :class:`Stop`.

    ``exit_after`` is how long the application takes to exit once it got SIGTERM.
    """
    remaining = grace
    pre_stop = (container.get("lifecycle") or {}).get("preStop")
    if pre_stop and grace > 0:
        start = env.now
        hook = float((pre_stop.get("sleep") or {}).get("seconds", 0))
        # executePreStopHook waits for the hook at most the grace period.
        yield env.timeout(min(hook, grace))
        if (pre_stop.get("exec") or {}).get("command") in (["false"], ["/bin/false"]):
            on_hook_failed()
        remaining = grace - int(env.now - start)  # whole seconds, as time.Duration.Seconds() truncated
    remaining = max(remaining, MIN_GRACE_SECONDS)
    on_sigterm()
    if exit_after < remaining:
        yield env.timeout(exit_after)
        return Stop(SIGTERM_EXIT)
    yield env.timeout(remaining)  # the runtime sends SIGKILL
    return Stop(SIGKILL_EXIT)


class Backoff:
    """``flowcontrol.Backoff`` for container restarts: one entry per pod and container."""

    def __init__(self, initial: float = BACKOFF_INITIAL, cap: float = BACKOFF_MAX) -> None:
        self.initial = initial
        self.cap = cap
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (delay, lastUpdate)

    def _expired(self, event_time: float, last_update: float) -> bool:
        # hasExpired: an exit more than 2 x the cap after the last update starts afresh.
        return event_time - last_update > 2 * self.cap

    def in_backoff_since(self, key: str, finished_at: float, now: float) -> bool:
        """``IsInBackOffSince``: wait while less than the current delay passed since ``finished_at``."""
        entry = self._entries.get(key)
        if entry is None or self._expired(finished_at, entry[1]):
            return False
        return now - finished_at < entry[0]

    def get(self, key: str) -> float:
        return self._entries[key][0]

    def next(self, key: str, finished_at: float, now: float) -> None:
        """``Next``: create the entry at the initial delay, or double it (capped)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(finished_at, entry[1]):
            self._entries[key] = (self.initial, now)
        else:
            self._entries[key] = (min(entry[0] * 2, self.cap), now)

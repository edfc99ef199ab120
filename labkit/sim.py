"""Simulated time that knows when the cluster has settled.

A real cluster never stops: kubelets post heartbeats, controllers resync. ``Cluster.run()``
without ``until`` must still return, once only such periodic loops are left. So every event
scheduled in SimPy counts as *work* unless it is a :class:`DaemonTimeout`, the timeout that
periodic loops sleep on; :meth:`LabEnvironment.settle` steps until no work is left. A daemon
loop's wake-up that writes something (a heartbeat that changes a condition) makes the
watchers schedule ordinary events, which are work again.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import simpy
from simpy.events import NORMAL, Timeout

__all__ = ["DaemonTimeout", "LabEnvironment"]


class DaemonTimeout(Timeout):
    """A timeout that alone does not keep the simulation running (periodic loops sleep on it)."""

    daemon = True


class LabEnvironment(simpy.Environment):
    """A SimPy environment that counts scheduled non-daemon events (``work``)."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self.work = 0

    def schedule(self, event: Any, priority: int = NORMAL, delay: float = 0) -> None:
        if not getattr(event, "daemon", False):
            self.work += 1
        super().schedule(event, priority, delay)

    def step(self) -> None:
        if self._queue and not getattr(self._queue[0][3], "daemon", False):
            self.work -= 1
        super().step()

    def daemon_timeout(self, delay: float) -> DaemonTimeout:
        """Sleep ``delay`` seconds in a periodic loop."""
        return DaemonTimeout(self, delay)

    def settle(self) -> None:
        """Run until only daemon events (periodic loops) are scheduled."""
        with fewer_collections():
            while self.work > 0:
                self.step()


#: Allocations between two young-generation collections while the simulation runs (CPython's default is 700).
RUN_GC_THRESHOLD = 50_000


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while simulated time advances.

    A run allocates millions of short-lived, acyclic dicts (object versions, watch events) that
    reference counting frees at once; with CPython's default threshold the collector still
    starts every 700 allocations and re-traverses the cluster's live objects, which was a fifth
    of a large run's wall time. The previous thresholds are restored afterwards; nothing but
    the timing of collecting reference cycles changes.
    """
    before = gc.get_threshold()
    if before[0] >= RUN_GC_THRESHOLD or before[0] == 0:
        yield
        return
    gc.set_threshold(RUN_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)

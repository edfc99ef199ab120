"""A small controller runtime: watch → work queue keyed by object → one sync per key.

Upstream: ``staging/src/k8s.io/client-go/util/workqueue`` (``queue.go``, ``delaying_queue.go``,
``default_rate_limiters.go``) and the controller pattern of ``pkg/controller/*``. What matters
for fidelity is the queue's coalescing: a key added while it is already waiting is synced
once; a key added while its sync runs is synced again afterwards, never twice at once. That is
why a burst of watch events (a ReplicaSet's pods turning ready one by one) produces fewer
Deployment syncs than events, and it shapes the sequence of ReplicaSet sizes in a rollout.

Failures are retried with ``DefaultControllerRateLimiter``: the larger of a per-item exponential
back-off (5 ms doubling, at most 1000 s) and a token bucket shared by the queue (10 adds per
second, bursts of 100); a :class:`Conflict` from an update on stale data is the usual failure.
The bucket is what keeps a controller that re-queues a key after every clean sync (the
Deployment controller's ``requeueStuckDeployment`` once a progress deadline has passed) at ten
syncs a second instead of one every 5 ms.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["Controller", "WorkQueue", "SyncError", "BASE_DELAY", "MAX_DELAY"]

BASE_DELAY = 0.005  # ItemExponentialFailureRateLimiter base
MAX_DELAY = 1000.0  # ... and cap
BUCKET_QPS, BUCKET_BURST = 10.0, 100  # BucketRateLimiter: rate.NewLimiter(rate.Limit(10), 100)


class SyncError(Exception):
    """A sync that failed for a reason of its own (a pod it could not create): retried with back-off."""


class WorkQueue:
    """A coalescing work queue with delayed and rate-limited adds, for one controller."""

    def __init__(self, env: LabEnvironment) -> None:
        self.env = env
        self._queue: deque[Hashable] = deque()
        self._dirty: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._tokens, self._tokens_at = float(BUCKET_BURST), 0.0
        self._wake: Any = None

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: Hashable) -> None:
        """Queue ``key`` unless it is already waiting (``queue.go: Add``)."""
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # re-queued by done()
        self._queue.append(key)
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def add_after(self, key: Hashable, delay: float, *, daemon: bool = False) -> None:
        """Queue ``key`` after ``delay`` simulated seconds (``delaying_queue.go: AddAfter``).

        ``daemon=True`` is for a periodic check (a progress deadline) that alone should not
        keep ``Cluster.run()`` from settling.
        """
        if delay <= 0:
            self.add(key)
            return
        timer = self.env.daemon_timeout(delay) if daemon else self.env.timeout(delay)
        timer.callbacks.append(lambda _ev: self.add(key))

    def add_rate_limited(self, key: Hashable) -> None:
        """Retry ``key`` after the larger of 5 ms × 2^failures (at most 1000 s) and the wait for a
        token of the queue's bucket (``MaxOfRateLimiter`` of ``default_rate_limiters.go``)."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, max(min(BASE_DELAY * 2 ** n, MAX_DELAY), self._bucket_delay()))

    def _bucket_delay(self) -> float:
        """``rate.Limiter.Reserve().Delay()``: tokens refill at 10/s up to 100; each add takes one."""
        now = float(self.env.now)
        self._tokens = min(float(BUCKET_BURST), self._tokens + (now - self._tokens_at) * BUCKET_QPS)
        self._tokens_at = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / BUCKET_QPS

    def num_requeues(self, key: Hashable) -> int:
        """How often ``key`` was retried since it last synced cleanly (``NumRequeues``)."""
        return self._failures.get(key, 0)

    def forget(self, key: Hashable) -> None:
        """The key synced cleanly: reset its back-off."""
        self._failures.pop(key, None)

    def get(self):
        """A SimPy generator that waits for the next key and marks it processing."""
        while not self._queue:
            self._wake = self.env.event()
            yield self._wake
        key = self._queue.popleft()
        self._dirty.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: Hashable) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)


class Controller:
    """Base class: subclasses watch kinds, map events to keys, and implement :meth:`sync`.

    ``sync(key)`` runs at the simulated instant its key is taken from the queue and must not
    yield; it reads and writes through :attr:`api`. An exception from the API server's
    :class:`~labkit.api.server.Conflict` (or ``NotFound`` for an object deleted meanwhile) puts
    the key back with back-off, as upstream's ``handleErr`` does.
    """

    #: The name in Events' ``source.component`` (``deployment-controller``, ...).
    component = "controller"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        self.env = env
        self.api = api
        self.recorder = recorder
        self.queue = WorkQueue(env)
        self.syncs = 0
        env.process(self._worker())

    def watch(self, kind: str, to_key: Callable[[Any], Hashable | list[Hashable] | None]) -> None:
        """Enqueue ``to_key(event)`` (one key, a list of keys, or None) for every change of ``kind``."""
        add = self.queue.add

        def handler(ev: Any) -> None:
            keys = to_key(ev)
            if keys is None:
                return
            if type(keys) is list:
                for key in keys:
                    add(key)
            else:
                add(keys)
        self.api.watch(kind, handler)

    def _worker(self):
        from labkit.api.server import Conflict, NotFound

        while True:
            key = yield from self.queue.get()
            try:
                self.syncs += 1
                self.sync(key)
            except (Conflict, NotFound, SyncError):
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    def sync(self, key: Hashable) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.recorder.emit(obj, type_, reason, message, self.component)

"""The scheduling queue (``pkg/scheduler/backend/queue/scheduling_queue.go``).

Three parts, as upstream: an **activeQ** ordered by PrioritySort (higher ``spec.priority``
first, then the earlier queue timestamp), a **backoffQ** for pods whose last attempt failed
recently (backoff 1 s doubling per attempt up to 10 s), and **unschedulablePods**, parked
until a cluster event that might make them schedulable moves them back.

Simplification: every node or pod change moves all parked pods (upstream asks each failing
plugin's QueueingHint whether the event matters) and the 5-minute periodic flush is left out.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import simpy

    from labkit.scheduler.podinfo import PodInfo

__all__ = ["SchedulingQueue", "QueuedPod", "INITIAL_BACKOFF", "MAX_BACKOFF"]

INITIAL_BACKOFF = 1.0  # --pod-initial-backoff-seconds
MAX_BACKOFF = 10.0  # --pod-max-backoff-seconds


@dataclass
class QueuedPod:
    """``QueuedPodInfo``: the pod plus its queue bookkeeping."""

    info: PodInfo
    timestamp: float
    seq: int
    attempts: int = 0
    last_failure: float = 0.0
    unschedulable_plugins: set[str] = field(default_factory=set)

    def backoff(self) -> float:
        """``calculateBackoffDuration``: 1 s, doubled per failed attempt, capped at 10 s."""
        d = INITIAL_BACKOFF
        for _ in range(1, self.attempts):
            d *= 2
            if d >= MAX_BACKOFF:
                return MAX_BACKOFF
        return d


class SchedulingQueue:
    """Priority queue with backoff and an unschedulable pool, driven by SimPy events."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._active: list[tuple[int, float, int, str]] = []
        self._pods: dict[str, QueuedPod] = {}  # uid -> entry, for every pod the queue knows
        self._in_active: set[str] = set()
        self.unschedulable: dict[str, QueuedPod] = {}
        self._backoff: set[str] = set()
        self._seq = 0
        self._wakeup: simpy.Event | None = None

    def __len__(self) -> int:
        return len(self._in_active)

    def add(self, info: PodInfo) -> None:
        """A new pending pod enters activeQ (``Add``)."""
        self._seq += 1
        entry = QueuedPod(info, self.env.now, self._seq)
        self._pods[info.uid] = entry
        self._push(entry)

    def update(self, info: PodInfo) -> None:
        """A pending pod changed (labels, gates, ...): refresh it and give it another try."""
        entry = self._pods.get(info.uid)
        if entry is None:
            self.add(info)
            return
        entry.info = info
        if info.uid in self.unschedulable:
            del self.unschedulable[info.uid]
            self._push(entry)

    def remove(self, uid: str) -> None:
        """The pod was bound or deleted: forget it everywhere."""
        self._pods.pop(uid, None)
        self._in_active.discard(uid)
        self.unschedulable.pop(uid, None)
        self._backoff.discard(uid)

    def _push(self, entry: QueuedPod) -> None:
        uid = entry.info.uid
        if uid in self._in_active:
            return
        self._in_active.add(uid)
        heapq.heappush(self._active, (-entry.info.priority, entry.timestamp, entry.seq, uid))
        if self._wakeup is not None and not self._wakeup.triggered:
            self._wakeup.succeed()

    def pop(self) -> QueuedPod | None:
        """Next pod by priority then queue time, or None when activeQ is empty."""
        while self._active:
            _, _, _, uid = heapq.heappop(self._active)
            if uid in self._in_active:
                self._in_active.discard(uid)
                entry = self._pods.get(uid)
                if entry is not None:
                    entry.attempts += 1
                    return entry
        return None

    def wait(self) -> simpy.Event:
        """An event that fires when activeQ gets a pod."""
        self._wakeup = self.env.event()
        return self._wakeup

    def park(self, entry: QueuedPod, plugins: set[str]) -> None:
        """The cycle failed: park the pod in unschedulablePods (``AddUnschedulableIfNotPresent``)."""
        entry.last_failure = self.env.now
        entry.unschedulable_plugins = plugins
        self.unschedulable[entry.info.uid] = entry

    def requeue(self, entry: QueuedPod) -> None:
        """Send a pod straight back through backoff (used after preemption nominated a node)."""
        entry.last_failure = self.env.now
        self._to_backoff(entry)

    def move_all(self, event: str) -> None:
        """``MoveAllToActiveOrBackoffQueue``: a cluster event may have made parked pods schedulable."""
        if not self.unschedulable:
            return
        parked = sorted(self.unschedulable.values(), key=lambda e: e.seq)
        self.unschedulable.clear()
        for entry in parked:
            self._to_backoff(entry)

    def _to_backoff(self, entry: QueuedPod) -> None:
        remaining = entry.last_failure + entry.backoff() - self.env.now
        if remaining <= 0:
            self._push(entry)
            return
        uid = entry.info.uid
        if uid in self._backoff:
            return
        self._backoff.add(uid)

        def release(_: object, entry: QueuedPod = entry) -> None:
            if entry.info.uid in self._backoff:
                self._backoff.discard(entry.info.uid)
                if entry.info.uid in self._pods:
                    self._push(entry)

        self.env.timeout(remaining).callbacks.append(release)

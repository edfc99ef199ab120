"""The scheduling queue (``pkg/scheduler/backend/queue/scheduling_queue.go``).

Three parts, as upstream: an **activeQ** ordered by PrioritySort (higher ``spec.priority``
first, then the earlier queue timestamp), a **backoffQ** for pods whose last attempt failed
recently (backoff 1 s doubling per attempt up to 10 s), and **unschedulablePods**, parked
until a cluster event that might make them schedulable moves them back.

A parked pod is moved back only by a cluster event that one of the plugins that rejected it
registers for (each plugin's ``EventsToRegister``, see :data:`EVENTS`). Simplification: the
plugins' QueueingHint functions, which look inside the event (did the deleted pod free enough
cpu?), are not modelled, and neither is the 5-minute periodic flush of parked pods.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import simpy

    from labkit.scheduler.podinfo import PodInfo

__all__ = ["SchedulingQueue", "QueuedPod", "EVENTS", "INITIAL_BACKOFF", "MAX_BACKOFF"]

#: Which cluster events each plugin registers for (``EventsToRegister`` in each plugin's source,
#: reduced to the event kinds the simulator produces). A pod rejected by a plugin not listed
#: here (or with no recorded plugin) is moved by every event.
EVENTS: dict[str, frozenset[str]] = {
    "NodeUnschedulable": frozenset({"NodeAdd", "NodeUpdate"}),
    "NodeName": frozenset({"NodeAdd"}),
    "TaintToleration": frozenset({"NodeAdd", "NodeUpdate"}),
    "NodeAffinity": frozenset({"NodeAdd", "NodeUpdate"}),
    "NodePorts": frozenset({"NodeAdd", "NodeUpdate", "AssignedPodDelete"}),
    "NodeResourcesFit": frozenset({"NodeAdd", "NodeUpdate", "AssignedPodDelete"}),
    "PodTopologySpread": frozenset({"NodeAdd", "NodeUpdate", "NodeDelete", "AssignedPodAdd",
                                    "AssignedPodUpdate", "AssignedPodDelete"}),
    "InterPodAffinity": frozenset({"NodeAdd", "NodeUpdate", "AssignedPodAdd", "AssignedPodUpdate",
                                   "AssignedPodDelete"}),
    "VolumeBinding": frozenset({"NodeAdd", "NodeUpdate", "PersistentVolumeClaim", "PersistentVolume",
                                "StorageClass"}),
    "VolumeZone": frozenset({"NodeAdd", "NodeUpdate", "PersistentVolumeClaim", "PersistentVolume",
                             "StorageClass"}),
}

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
        """``MoveAllToActiveOrBackoffQueue``: ``event`` may have made parked pods schedulable.

        Only pods rejected by a plugin that registers for ``event`` move (to backoffQ while
        their backoff runs, else to activeQ).
        """
        if not self.unschedulable:
            return
        moved = [e for e in self.unschedulable.values() if _interested(e.unschedulable_plugins, event)]
        for entry in sorted(moved, key=lambda e: e.seq):
            del self.unschedulable[entry.info.uid]
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


def _interested(plugins: set[str], event: str) -> bool:
    return not plugins or any(event in EVENTS.get(p, (event,)) for p in plugins)

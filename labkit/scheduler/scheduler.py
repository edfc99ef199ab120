"""kube-scheduler as a SimPy process: watch pods and nodes, schedule one pod at a time, bind.

Upstream: ``pkg/scheduler/scheduler.go``, ``schedule_one.go`` (``ScheduleOne``,
``handleSchedulingFailure``), ``eventhandlers.go`` and the FitError message in
``pkg/scheduler/framework/types.go``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from labkit.api.podutil import update_pod_condition
from labkit.api.store import WatchEvent, timestamp
from labkit.scheduler.framework import CycleContext
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.podinfo import PodInfo
from labkit.scheduler.preemption import PreemptionOutcome, preempt
from labkit.scheduler.profile import Profile
from labkit.scheduler.queue import SchedulingQueue
from labkit.scheduler.schedule_one import CycleResult, ScheduleAlgorithm

if TYPE_CHECKING:
    import simpy

    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer

__all__ = ["Scheduler", "failed_scheduling_message", "CYCLE_SECONDS", "DRA_POSTFILTER", "NO_NODES_AVAILABLE"]

#: Simulated time from popping a pod to its binding landing (a real cycle takes milliseconds).
CYCLE_SECONDS = 0.005
#: The DynamicResources PostFilter's message for pods without claims (it runs before preemption).
DRA_POSTFILTER = "no new claims to deallocate"
#: schedule_one.go ErrNoNodesAvailable: the whole message when the snapshot has no nodes.
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def failed_scheduling_message(result: CycleResult, post_filter: list[str]) -> str:
    """``FitError.Error()`` (``pkg/scheduler/framework/types.go``), the FailedScheduling message.

    ``0/N nodes are available:`` then either the PreFilter rejection or every distinct filter
    reason as ``"<count> <reason>"``, the whole strings sorted as text (so ``10 ...`` sorts before
    ``2 ...``), and ``.``; then, after one space, the PostFilter plugins' messages joined with
    ``", "`` (they bring their own final period). A snapshot without nodes is not a FitError:
    ``schedulePod`` returns ``ErrNoNodesAvailable`` and PostFilter never runs.
    """
    n = result.num_nodes
    if n == 0:
        return NO_NODES_AVAILABLE
    head = f"0/{n} nodes are available:"
    if result.prefilter_message is not None:
        head += f" {result.prefilter_message}."
    else:
        parts = sorted(f"{c} {r}" for r, c in result.reason_counts().items())
        if parts:
            head += f" {', '.join(parts)}."
    tail = ", ".join(m for m in post_filter if m)
    return f"{head} {tail}" if tail else head


class Scheduler:
    """The default scheduler of one simulated cluster."""

    def __init__(self, env: simpy.Environment, api: APIServer, recorder: EventRecorder,
                 profile: Profile) -> None:
        self.env = env
        self.api = api
        self.recorder = recorder
        self.profile = profile
        self.table = NodeTable()
        self.algorithm = ScheduleAlgorithm(profile)
        self.queue = SchedulingQueue(env)
        self.records: dict[str, CycleResult] = {}  # pod uid -> its latest cycle
        self.attempts = 0
        self._assumed: dict[str, int] = {}  # pod uid -> node row, between Reserve and Bind
        self._bound: dict[str, tuple[str, PodInfo]] = {}  # pod uid -> (node name, info)
        # backend/cache/cache.go keeps a NodeInfo without a Node while pods remain on it (a node
        # deleted under its pods, or a pod bound by spec.nodeName before its Node exists): node
        # name -> pod uid -> info. Not part of any snapshot; a Node of that name takes them back.
        self._ghosts: dict[str, dict[str, PodInfo]] = {}
        api.watch("Node", self._on_node)
        api.watch("Pod", self._on_pod)
        for kind in ("PersistentVolumeClaim", "PersistentVolume", "StorageClass"):
            api.watch(kind, self._on_storage)
        env.process(self._run())

    # -- informers -----------------------------------------------------------------------
    def _on_node(self, ev: WatchEvent) -> None:
        name = ev.object["metadata"]["name"]
        if ev.type == "DELETED":
            if name in self.table.index:
                # cache.go RemoveNode: the NodeInfo stays, without its node, while pods remain.
                pods = self.table.pods[self.table.index[name]]
                if pods:
                    self._ghosts[name] = dict(pods)
                self.table.remove_node(name)
        else:
            row = self.table.index.get(name)
            old = self.table.nodes[row] if row is not None else None
            if old is not None and _node_sched_view(old) == _node_sched_view(ev.object):
                if (old.get("status") or {}).get("images") != (ev.object.get("status") or {}).get("images"):
                    self.table.set_images(row, ev.object)  # a pull finished: only ImageLocality cares
                else:
                    self.table.nodes[row] = ev.object  # a status heartbeat: nothing the scheduler reads
                return
            row = self.table.set_node(ev.object)
            # cache.go AddNode: a node whose name has a ghost NodeInfo gets its pods back.
            for info in self._ghosts.pop(name, {}).values():
                self.table.add_pod(row, info)
        self.queue.move_all("Node" + _ACTION[ev.type])

    def _on_storage(self, ev: WatchEvent) -> None:
        self.queue.move_all(ev.kind)

    def _responsible(self, pod: dict[str, Any]) -> bool:
        return (pod.get("spec") or {}).get("schedulerName", "default-scheduler") == self.profile.name

    def _on_pod(self, ev: WatchEvent) -> None:
        pod = ev.object
        uid = pod["metadata"]["uid"]
        node = (pod.get("spec") or {}).get("nodeName")
        if ev.type == "DELETED" or (node and (pod.get("status") or {}).get("phase") in _TERMINAL):
            # scheduler.go newPodInformer watches pods with status.phase!=Succeeded,!=Failed: a
            # terminal pod leaves the scheduler's view as if deleted, and frees its node.
            self.queue.remove(uid)
            accounted = uid in self._bound
            self._forget(uid)
            if node and accounted:
                self.queue.move_all("AssignedPodDelete")
            return
        if node:
            if uid in self._assumed:
                return  # our own binding landing; already accounted at Reserve
            if uid not in self._bound:
                self._account(uid, node, PodInfo.from_pod(pod))
                self.queue.move_all("AssignedPodAdd")
            elif pod["metadata"].get("labels") != (ev.old or {}).get("metadata", {}).get("labels") or \
                    bool(pod["metadata"].get("deletionTimestamp")) != self._bound[uid][1].terminating:
                self._forget(uid)
                self._account(uid, node, PodInfo.from_pod(pod))
                self.queue.move_all("AssignedPodUpdate")
            return
        if not self._responsible(pod) or pod["metadata"].get("deletionTimestamp"):
            return
        info = PodInfo.from_pod(pod)
        if info.scheduling_gates:
            if ev.type == "ADDED" or not _gated(ev.old):
                self._mark_gated(pod)
            self.queue.remove(uid)
            return
        if ev.type == "ADDED":
            self.queue.add(info)
        elif ev.old is not None and (ev.old.get("spec") != pod.get("spec")
                                     or ev.old["metadata"].get("labels") != pod["metadata"].get("labels")):
            self.queue.update(info)

    def _account(self, uid: str, node: str, info: PodInfo) -> None:
        i = self.table.index.get(node)
        if i is None:
            self._ghosts.setdefault(node, {})[uid] = info  # cache.go AddPod on a node not yet seen
        else:
            self.table.add_pod(i, info)
        self._bound[uid] = (node, info)

    def _forget(self, uid: str) -> None:
        bound = self._bound.pop(uid, None)
        self._assumed.pop(uid, None)
        if bound is None:
            return
        row = self.table.index.get(bound[0])
        if row is not None:
            self.table.remove_pod(row, bound[1])
            return
        ghost = self._ghosts.get(bound[0])
        if ghost is not None:
            ghost.pop(uid, None)
            if not ghost:
                del self._ghosts[bound[0]]  # cache.go removeNodeInfoFromList: the last pod took it

    def _mark_gated(self, pod: dict[str, Any]) -> None:
        msg = "Scheduling is blocked due to non-empty scheduling gates"
        self._set_condition(pod, "False", "SchedulingGated", msg)

    # -- the loop ------------------------------------------------------------------------
    def _run(self):
        while True:
            entry = self.queue.pop()
            if entry is None:
                yield self.queue.wait()
                continue
            pod = self.api.peek("Pod", entry.info.name, entry.info.namespace)
            stale = pod is None or pod["metadata"]["uid"] != entry.info.uid
            if stale or (pod.get("spec") or {}).get("nodeName"):
                self.queue.remove(entry.info.uid)
                continue
            yield from self._schedule_one(entry)

    def _schedule_one(self, entry):
        info = entry.info
        ctx = CycleContext(pod=info, table=self.table, api=self.api, now=self.env.now)
        self.attempts += 1
        result = self.algorithm.schedule(ctx)
        self.records[info.uid] = result
        if result.chosen is not None:
            row = result.chosen
            node = self.table.names[row]
            # Reserve/assume: account the pod now so the next cycle sees it (cache.AssumePod).
            self.table.add_pod(row, info)
            self._assumed[info.uid] = row
            self._bound[info.uid] = (node, info)
            self.queue.remove(info.uid)
            yield self.env.timeout(CYCLE_SECONDS)
            self._bind(info, node)
            return
        # handleSchedulingFailure. PostFilter runs only for a FitError (not for an empty snapshot);
        # RunPostFilterPlugins stops at the first success, whose message is empty.
        pod = self.api.peek("Pod", info.name, info.namespace)
        current = ((pod or {}).get("status") or {}).get("nominatedNodeName")
        outcome, post = self.post_filter(ctx, result, nominated_node=current)
        nominated = None
        if outcome is not None and outcome.node is not None:
            nominated = self.table.names[outcome.node]
        elif outcome is not None:
            nominated = "" if outcome.clears_nomination and current else None
        message = failed_scheduling_message(result, post)
        if pod is not None:
            self.recorder.emit(pod, "Warning", "FailedScheduling", message, "default-scheduler")
            self._set_condition(pod, "False", "Unschedulable", message, nominated=nominated)
        if outcome is not None and outcome.node is not None:
            # prepareCandidate: evict the victims; the pod retries after its backoff.
            for victim in outcome.victims:
                self._evict(victim, info, self.table.names[outcome.node])
            self.queue.requeue(entry)
        else:
            self.queue.park(entry, _rejectors(result))
        yield self.env.timeout(CYCLE_SECONDS)

    def post_filter(self, ctx: CycleContext, result: CycleResult, nominated_node: str | None = None
                    ) -> tuple[PreemptionOutcome | None, list[str]]:
        """``RunPostFilterPlugins`` in profile order: DynamicResources, then DefaultPreemption.

        Returns the preemption outcome and the PostFilter messages for the FitError: none when
        preemption found a candidate (a success ends the PostFilter run with an empty message),
        and none for an empty snapshot (PostFilter runs only for a FitError).
        """
        if not result.num_nodes:
            return None, []
        messages = [DRA_POSTFILTER] if self.profile.dynamic_resources else []
        if not self.profile.preemption:
            return None, messages
        outcome = preempt(self.algorithm, ctx, result, nominated_node=nominated_node)
        if outcome.node is not None:
            return outcome, []
        return outcome, [*messages, outcome.message]

    def _evict(self, victim: PodInfo, preemptor: PodInfo, node: str) -> None:
        pod = self.api.peek("Pod", victim.name, victim.namespace)
        if pod is None:
            return
        self.recorder.emit(pod, "Normal", "Preempted",
                           f"Preempted by pod {preemptor.uid} on node {node}", "default-scheduler")
        if pod["metadata"].get("deletionTimestamp"):
            return
        now = timestamp(self.env.now)

        def disruption(st: dict[str, Any]) -> None:
            # preemption.go (prepareCandidate): the victim gets DisruptionTarget before its deletion.
            update_pod_condition(st, {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                                   "lastTransitionTime": now, "reason": "PreemptionByScheduler",
                                   "message": "default-scheduler: preempting to accommodate a higher "
                                              "priority pod"})

        self.api.mutate_status("Pod", victim.name, victim.namespace, disruption)
        self.api.delete("Pod", victim.name, victim.namespace)

    def _bind(self, info: PodInfo, node: str) -> None:
        pod = self.api.peek("Pod", info.name, info.namespace)
        self._assumed.pop(info.uid, None)
        if pod is None or pod["metadata"]["uid"] != info.uid or node not in self.table.index:
            self._forget(info.uid)
            return
        now = timestamp(self.env.now)

        def scheduled(status: dict[str, Any]) -> None:
            # The binding subresource also sets PodScheduled=True (pkg/registry/core/pod/storage).
            status.pop("nominatedNodeName", None)
            update_pod_condition(status, {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                       "lastTransitionTime": now})

        bound = self.api.bind(info.name, info.namespace, node, scheduled)
        self.queue.move_all("AssignedPodAdd")
        message = f"Successfully assigned {info.namespace}/{info.name} to {node}"
        self.recorder.emit(bound, "Normal", "Scheduled", message, "default-scheduler")

    def _set_condition(self, pod: dict[str, Any], status: str, reason: str, message: str,
                       nominated: str | None = None) -> None:
        now = timestamp(self.env.now)
        current = next((c for c in (pod.get("status") or {}).get("conditions") or []
                        if c.get("type") == "PodScheduled"), None)
        same = current is not None and current.get("status") == status and current.get("reason") == reason \
            and current.get("message") == message
        current_nomination = (pod.get("status") or {}).get("nominatedNodeName") or ""
        if same and (nominated is None or current_nomination == nominated):
            return

        def mutate(p: dict[str, Any]) -> None:
            st = p.setdefault("status", {})
            update_pod_condition(st, {"type": "PodScheduled", "status": status, "lastProbeTime": None,
                                   "lastTransitionTime": now, "reason": reason, "message": message})
            if nominated:
                st["nominatedNodeName"] = nominated
            elif nominated is not None:
                st.pop("nominatedNodeName", None)  # an empty nominatedNodeName clears it

        self.api.mutate("Pod", pod["metadata"]["name"], pod["metadata"]["namespace"], mutate)


_ACTION = {"ADDED": "Add", "MODIFIED": "Update", "DELETED": "Delete"}
_TERMINAL = ("Succeeded", "Failed")


def _rejectors(result: CycleResult) -> set[str]:
    """Plugins that rejected the pod on some node (the framework's ``UnschedulablePlugins``)."""
    return {name for k, (name, rejections) in enumerate(result.filters)
            if rejections and (result.first == k).any()}




def _gated(pod: dict[str, Any] | None) -> bool:
    return bool(pod and (pod.get("spec") or {}).get("schedulingGates"))


def _node_sched_view(node: dict[str, Any]) -> tuple:
    """The parts of a Node the scheduler reads (heartbeats and conditions do not matter)."""
    status = node.get("status") or {}
    return (node["metadata"].get("labels"), node.get("spec"), status.get("allocatable"),
            status.get("capacity"))

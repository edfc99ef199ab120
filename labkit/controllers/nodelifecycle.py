"""The node lifecycle controller: notice dead nodes, mark them, taint them.

Upstream: ``pkg/controller/nodelifecycle/node_lifecycle_controller.go`` (v1.36) with
``pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go`` and
``pkg/controller/util/node/controller_utils.go``. Three loops, as upstream:

- ``monitorNodeHealth`` every ``--node-monitor-period`` (5 s): a node whose Ready heartbeat and
  Lease have not changed for ``--node-monitor-grace-period`` (50 s; 60 s before its first Ready
  condition) gets its Ready and pressure conditions set to Unknown, a ``NodeNotReady`` event,
  and its pods ``Ready=False``. The *next* pass, which sees the node NotReady/Unknown, queues
  it for a NoExecute taint (``processTaintBaseEviction`` reads the condition as it was observed
  before this pass's update, so the NoExecute taint comes one period after the NoSchedule one);
  a Ready node loses its NoExecute taints. Zone states (``handleDisruption``) set the rate of
  each zone's queue.
- ``doNoScheduleTaintingPass`` on every node change: NoSchedule taints that mirror the
  conditions (``not-ready``, ``unreachable``, pressures, ``network-unavailable``) and
  ``spec.unschedulable``.
- ``doNoExecuteTaintingPass`` (every 100 ms upstream): each zone's queue, behind a token bucket
  of ``--node-eviction-rate`` 0.1 nodes/s with burst 1, adds ``not-ready:NoExecute`` or
  ``unreachable:NoExecute``. The taint eviction controller (:mod:`labkit.controllers.tainteviction`)
  then evicts the pods.

Simulation notes. The monitor loop sleeps on daemon timeouts, so it alone never keeps
``Cluster.run()`` going; but while something is bound to happen it holds its next pass as
work: a node not heard from for longer than one period whose Ready is not yet Unknown (its
grace period is running), and a node whose Ready condition changed since the last pass (the
next pass acts on it). The NoExecute queue is run right after each monitor pass and, while a
zone waits for a token, at the instant the token is due (on the 100 ms grid): that wait is work.

Simplifications: the pod-update path (``processPod``: a pod that turns Ready on a NotReady node
is marked again) is not modelled, nor the node-deletion side of pod GC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from labkit.api.store import EPOCH, WatchEvent, timestamp
from labkit.controllers.runtime import Controller
from labkit.node.heartbeat import NODE_LEASE_NAMESPACE

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["NodeLifecycleController", "PodsByNode", "NODE_MONITOR_PERIOD", "NODE_MONITOR_GRACE_PERIOD",
           "NODE_STARTUP_GRACE_PERIOD", "NODE_EVICTION_RATE", "SECONDARY_NODE_EVICTION_RATE",
           "LARGE_CLUSTER_SIZE_THRESHOLD", "UNHEALTHY_ZONE_THRESHOLD", "NOT_READY_TAINT_KEY",
           "UNREACHABLE_TAINT_KEY"]

# cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go and the cloud-provider defaults.
NODE_MONITOR_PERIOD = 5.0
NODE_MONITOR_GRACE_PERIOD = 50.0
NODE_STARTUP_GRACE_PERIOD = 60.0
NODE_EVICTION_RATE = 0.1
SECONDARY_NODE_EVICTION_RATE = 0.01
LARGE_CLUSTER_SIZE_THRESHOLD = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55
#: scheduler.NodeEvictionPeriod: how often doNoExecuteTaintingPass runs.
NODE_EVICTION_PERIOD = 0.1

NOT_READY_TAINT_KEY = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT_KEY = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
#: nodeConditionToTaintKeyStatusMap: the NoSchedule taint each condition state maps to.
CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": NOT_READY_TAINT_KEY, "Unknown": UNREACHABLE_TAINT_KEY},
    "MemoryPressure": {"True": "node.kubernetes.io/memory-pressure"},
    "DiskPressure": {"True": "node.kubernetes.io/disk-pressure"},
    "NetworkUnavailable": {"True": "node.kubernetes.io/network-unavailable"},
    "PIDPressure": {"True": "node.kubernetes.io/pid-pressure"},
}
_CONDITION_TAINT_KEYS = frozenset(k for m in CONDITION_TAINTS.values() for k in m.values())
#: tryUpdateNodeHealth: the conditions a silent node's are set to Unknown (not NetworkUnavailable).
_UNKNOWN_ON_TIMEOUT = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
#: isNodeExcludedFromDisruptionChecks.
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"

# Zone states (ZoneState).
INITIAL, NORMAL = "Initial", "Normal"
FULL_DISRUPTION, PARTIAL_DISRUPTION = "FullDisruption", "PartialDisruption"


class PodsByNode:
    """The pod informer's ``spec.nodeName`` index: pod keys per node, in the order they were bound."""

    def __init__(self, api: APIServer) -> None:
        self._by_node: dict[str, dict[tuple[str, str], None]] = {}
        self._node_of: dict[tuple[str, str], str] = {}
        api.watch("Pod", self._on_pod)

    def _on_pod(self, ev: WatchEvent) -> None:
        if ev.type == "MODIFIED" and ev.old is not None and ev.old["spec"] is ev.object["spec"]:
            return  # a status write: spec.nodeName did not move
        meta = ev.object["metadata"]
        key = (meta["namespace"], meta["name"])
        node = None if ev.type == "DELETED" else ev.object["spec"].get("nodeName")
        old = self._node_of.get(key)
        if old == node:
            return
        if old is not None:
            del self._by_node[old][key]
            del self._node_of[key]
        if node:
            self._by_node.setdefault(node, {})[key] = None
            self._node_of[key] = node

    def keys(self, node: str) -> list[tuple[str, str]]:
        """(namespace, name) of the pods bound to ``node``."""
        return list(self._by_node.get(node, ()))


@dataclass
class _Health:
    """nodeHealthData: what the controller last saw of a node, and when it last heard from it."""

    heartbeat: str | None  # the Ready condition's lastHeartbeatTime (None: no Ready condition)
    transition: str | None
    probe: float  # probeTimestamp: when the controller last saw the heartbeat or the Lease move
    ready_transition: float
    lease_renew: str | None = None
    #: The Node object as a pass left it Ready, without NoExecute taints and not queued; while the
    #: stored object is this very one nothing the pass reads has changed but the Lease and the clock.
    steady: dict[str, Any] | None = None
    zone: str = ""
    counted: bool = True  # not excluded from the disruption checks


class TokenBucket:
    """``flowcontrol.NewTokenBucketRateLimiter(qps, 1)``, full at creation; ``qps <= 0`` never
    accepts (``NewFakeNeverRateLimiter``)."""

    def __init__(self, qps: float, now: float) -> None:
        self.qps = qps
        self._tokens = 1.0
        self._at = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self._tokens = min(1.0, self._tokens + (now - self._at) * self.qps)
        self._at = now
        if self._tokens >= 1.0 - 1e-9:
            self._tokens -= 1.0
            return True
        return False

    def next_token(self) -> float:
        """When the next token is due (``inf`` for a bucket that never refills)."""
        if self.qps <= 0:
            return math.inf
        return self._at + (1.0 - self._tokens) / self.qps


class RateLimitedQueue:
    """``RateLimitedTimedQueue`` over a ``UniqueQueue``: a node stays in the set after it was
    processed (so it is not queued twice) until :meth:`remove` forgets it."""

    def __init__(self, qps: float, now: float) -> None:
        self.limiter = TokenBucket(qps, now)
        self._set: set[str] = set()
        self._queue: dict[str, float] = {}  # name -> processAt, in the order added

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, name: str, now: float) -> bool:
        if name in self._set:
            return False
        self._set.add(name)
        self._queue[name] = now
        return True

    def remove(self, name: str) -> bool:
        if name not in self._set:
            return False
        self._set.discard(name)
        self._queue.pop(name, None)
        return True

    def queued(self, name: str) -> bool:
        """Whether ``name`` is in the queue's set (waiting, or tainted and not yet forgotten)."""
        return name in self._set

    def swap_limiter(self, qps: float, now: float) -> None:
        """``SwapLimiter``: a new bucket (full), drained if the old one was empty."""
        if self.limiter.qps == qps:
            return
        new = TokenBucket(qps, now)
        if qps > 0 and not self.limiter.try_accept(now):
            new.try_accept(now)
        self.limiter = new

    def try_(self, now: float, fn) -> None:
        """``Try``: process heads while the limiter gives tokens; ``fn(name) -> (done, retry_after)``."""
        while self._queue:
            if not self.limiter.try_accept(now):
                return
            name = min(self._queue, key=self._queue.__getitem__)  # the heap's head (ties: first added)
            if now < self._queue[name]:
                return
            done, wait = fn(name)
            if done:
                del self._queue[name]  # RemoveFromQueue: it stays in the set
            else:
                self._queue[name] = now + wait


def zone_key(node: dict[str, Any]) -> str:
    """``nodetopology.GetZoneKey``: region and zone (beta labels first), ``""`` when neither is set."""
    labels = node["metadata"].get("labels") or {}
    zone = labels.get("failure-domain.beta.kubernetes.io/zone", labels.get("topology.kubernetes.io/zone", ""))
    region = labels.get("failure-domain.beta.kubernetes.io/region",
                        labels.get("topology.kubernetes.io/region", ""))
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def _condition(node: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c["type"] == type_:
            return c
    return None


def _has_taint(node: dict[str, Any], key: str, effect: str) -> bool:
    """``taintutils.TaintExists`` (``MatchTaint``: same key and effect)."""
    return any(t["key"] == key and t["effect"] == effect for t in node.get("spec", {}).get("taints") or [])


def _seconds(stamp: str) -> float:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - EPOCH).total_seconds()


class NodeLifecycleController(Controller):
    """``node-controller`` of kube-controller-manager (the node lifecycle controller)."""

    component = "node-controller"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        super().__init__(env, api, recorder)
        self.pods = PodsByNode(api)
        self._health: dict[str, _Health] = {}
        self._known: dict[str, str] = {}  # knownNodeSet: name -> uid
        self._zone_states: dict[str, str] = {}
        self._tainters: dict[str, RateLimitedQueue] = {}  # zoneNoExecuteTainter
        self._next_pass = 0.0
        self._held: float | None = None  # the next pass is already held as work
        self._retry_at: float | None = None  # a NoExecute tainting pass is scheduled
        self.passes = 0
        # renewTime of each node Lease, kept from a Lease watch (push: O(1) per renewal) so that a
        # monitor pass reads a dict instead of fetching 5,000 Leases; the same value a GET would give.
        self._renewals: dict[str, str | None] = {
            lease["metadata"]["name"]: (lease.get("spec") or {}).get("renewTime")
            for lease in api.items("Lease", NODE_LEASE_NAMESPACE)}
        api.watch("Lease", self._on_lease)
        self.watch("Node", self._on_node)
        env.process(self._monitor_loop())

    # -- watches ----------------------------------------------------------------------------
    def _on_lease(self, ev: WatchEvent) -> None:
        meta = ev.object["metadata"]
        if meta.get("namespace") != NODE_LEASE_NAMESPACE:
            return
        if ev.type == "DELETED":
            self._renewals.pop(meta["name"], None)
        else:
            self._renewals[meta["name"]] = (ev.object.get("spec") or {}).get("renewTime")

    def _on_node(self, ev: WatchEvent) -> str | None:
        """Queue the node for ``doNoScheduleTaintingPass`` when what it maps from changed; hold the
        next monitor pass when the Ready condition changed (that pass acts on it)."""
        if ev.type == "DELETED":
            return None
        node, old = ev.object, ev.old
        if old is not None:
            ready, was = _condition(node, "Ready"), _condition(old, "Ready")
            if (ready or {}).get("status") != (was or {}).get("status"):
                self._hold_next_pass()
            if _noschedule_inputs(node) == _noschedule_inputs(old):
                return None
        return node["metadata"]["name"]

    def _hold_next_pass(self) -> None:
        if self._held != self._next_pass:
            self._held = self._next_pass
            self.env.timeout(max(self._next_pass - self.env.now, 0.0))

    # -- doNoScheduleTaintingPass -------------------------------------------------------------
    def sync(self, key: str) -> None:
        node = self.api.peek("Node", key)
        if node is None:
            return
        wanted: list[str] = []
        for cond in (node.get("status") or {}).get("conditions") or []:
            taint_key = CONDITION_TAINTS.get(cond["type"], {}).get(cond["status"])
            if taint_key is not None:
                wanted.append(taint_key)
        if (node.get("spec") or {}).get("unschedulable"):
            wanted.append(UNSCHEDULABLE_TAINT_KEY)
        have = [t["key"] for t in (node.get("spec") or {}).get("taints") or []
                if t["effect"] == "NoSchedule" and (t["key"] in _CONDITION_TAINT_KEYS
                                                    or t["key"] == UNSCHEDULABLE_TAINT_KEY)]
        add = [k for k in wanted if k not in have]
        remove = [k for k in have if k not in wanted]
        if add or remove:
            self._swap_taints(key, [(k, "NoSchedule") for k in add], [(k, "NoSchedule") for k in remove])

    def _swap_taints(self, name: str, add: list[tuple[str, str]], remove: list[tuple[str, str]]) -> None:
        """``SwapNodeControllerTaint``: ``AddOrUpdateTaintOnNode`` (each new taint stamped with
        ``timeAdded``), then ``RemoveTaintOffNode``: two writes, as upstream."""
        now = timestamp(self.env.now)
        if add:
            def add_taints(n: dict[str, Any]) -> None:
                taints = n["spec"].setdefault("taints", [])
                for key, effect in add:
                    new = {"effect": effect, "key": key, "timeAdded": now}
                    for i, t in enumerate(taints):
                        if t["key"] == key and t["effect"] == effect:
                            taints[i] = new
                            break
                    else:
                        taints.append(new)
            self.api.mutate("Node", name, None, add_taints)
        node = self.api.peek("Node", name)
        if remove and node is not None and any(_has_taint(node, k, e) for k, e in remove):
            def remove_taints(n: dict[str, Any]) -> None:
                kept = [t for t in n["spec"].get("taints") or [] if (t["key"], t["effect"]) not in remove]
                if kept:
                    n["spec"]["taints"] = kept
                else:
                    n["spec"].pop("taints", None)
            self.api.mutate("Node", name, None, remove_taints)

    # -- monitorNodeHealth ---------------------------------------------------------------------
    def _monitor_loop(self):
        while True:
            now = float(self.env.now)
            self._next_pass = now + NODE_MONITOR_PERIOD
            # The wake-up is scheduled before any hold, so that at the next pass's instant the pass
            # runs before its hold is consumed (SimPy orders equal times by scheduling order).
            wake = self.env.daemon_timeout(NODE_MONITOR_PERIOD)
            if self._monitor(now):
                self._hold_next_pass()
            self._no_execute_pass()
            yield wake

    def _monitor(self, now: float) -> bool:
        """One ``monitorNodeHealth`` pass; True when a node's grace period is running."""
        self.passes += 1
        nodes = list(self.api.items("Node"))
        health_of, known, zone_states = self._health, self._known, self._zone_states
        added = []
        for node in nodes:  # classifyNodes
            if node["metadata"]["name"] not in known:
                added.append(node)
                continue
            health = health_of.get(node["metadata"]["name"])
            # A steady node is the very object its zone was computed from.
            zone = health.zone if health is not None and health.steady is node else zone_key(node)
            if zone not in zone_states:
                self._add_zone(node, now)  # a known node in a zone forgotten meanwhile
        for node in added:
            name = node["metadata"]["name"]
            self._node_event(node, "RegisteredNode", f"Registered Node {name} in Controller")
            known[name] = node["metadata"]["uid"]
            self._add_zone(node, now)
            self._mark_reachable(node, zone_key(node))
        if len(known) > len(nodes):  # every listed node is known now: the rest were deleted
            names = {n["metadata"]["name"] for n in nodes}
            for name in [n for n in known if n not in names]:
                gone = {"metadata": {"name": name, "uid": known.pop(name)}}
                self._node_event(gone, "RemovingNode", f"Removing Node {name} from Controller")
                health_of.pop(name, None)
        waiting = False
        renewals = self._renewals
        # zone -> [Ready nodes, nodes] counted for the disruption checks (ComputeZoneState's inputs).
        zone_counts: dict[str, list[int]] = {}
        for node in nodes:
            name = node["metadata"]["name"]
            health = health_of.get(name)
            if health is not None and health.steady is node:
                # The common case, kept cheap for 5,000 nodes: what the full path below would do
                # for an unchanged, Ready, untainted node (_observe_lease inlined).
                renew = renewals.get(name)
                if renew is not None and (health.lease_renew is None or health.lease_renew < renew):
                    health.lease_renew = renew
                    health.probe = now
                if now <= health.probe + NODE_MONITOR_GRACE_PERIOD:
                    if health.counted:
                        counts = zone_counts.get(health.zone)
                        if counts is None:
                            zone_counts[health.zone] = [1, 1]
                        else:
                            counts[0] += 1
                            counts[1] += 1
                    if not waiting and now - health.probe > NODE_MONITOR_PERIOD:
                        waiting = True
                    continue
            node, observed, current = self._try_update_health(node, now)
            zone = zone_key(node)
            counted = EXCLUDE_DISRUPTION_LABEL not in (node["metadata"].get("labels") or {})
            if counted:
                counts = zone_counts.setdefault(zone, [0, 0])
                counts[0] += current == "True"
                counts[1] += 1
            if current is None:
                continue
            self._process_taint_based_eviction(node, zone, observed, now)
            if current != "True" and observed == "True":
                # RecordNodeStatusChange, then MarkPodsNotReady.
                self._node_event(node, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
                self._mark_pods_not_ready(name)
            health = health_of[name]
            if current != "Unknown" and now - health.probe > NODE_MONITOR_PERIOD:
                waiting = True
            final = self.api.peek("Node", name)
            steady = (current == "True" and observed == "True" and final is not None
                      and not any(_has_taint(final, k, "NoExecute") for k in (UNREACHABLE_TAINT_KEY,
                                                                            NOT_READY_TAINT_KEY))
                      and not self._tainters[zone].queued(name))
            health.steady, health.zone, health.counted = (final if steady else None), zone, counted
        self._handle_disruption(zone_counts, nodes, now)
        return waiting

    def _node_event(self, node: dict[str, Any], reason: str, message: str) -> None:
        """``RecordNodeEvent``: a Normal event on the node (referenced by name and uid only)."""
        ref = {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": node["metadata"]["name"], "uid": node["metadata"].get("uid", "")}}
        self.event(ref, "Normal", reason, message)

    def _try_update_health(self, node: dict[str, Any], now: float
                           ) -> tuple[dict[str, Any], str, str | None]:
        """``tryUpdateNodeHealth``: refresh the last-heard time; past the grace period set the
        conditions Unknown. Returns the node (as written), the Ready status observed before this
        pass's update and the current one (None when the node has no Ready condition)."""
        name = node["metadata"]["name"]
        ready = _condition(node, "Ready")
        health = self._health.get(name)
        if ready is None:
            observed = "Unknown"  # a fake condition stamped with the creation time
            grace = NODE_STARTUP_GRACE_PERIOD
            if health is None:
                created = _seconds(node["metadata"]["creationTimestamp"])
                health = _Health(None, None, created, created)
            else:
                health.heartbeat = health.transition = None
        else:
            observed = ready["status"]
            grace = NODE_MONITOR_GRACE_PERIOD
            beat, moved = ready.get("lastHeartbeatTime"), ready.get("lastTransitionTime")
            if health is None or health.heartbeat is None:
                # First sight of the node (or of its Ready condition): assume now.
                health = _Health(beat, moved, now, now, health.lease_renew if health else None)
            elif health.heartbeat != beat:
                transition = now if health.transition != moved else health.ready_transition
                health = _Health(beat, moved, now, transition, health.lease_renew)
        self._observe_lease(name, health, now)
        self._health[name] = health
        current = observed if ready is not None else None
        if now > health.probe + grace:
            node, current = self._mark_unknown(node, ready, health, now)
        return node, observed, current

    def _observe_lease(self, name: str, health: _Health, now: float) -> None:
        """"Always update the probe time if node lease is renewed" (a newer ``renewTime``)."""
        renew = self._renewals.get(name)
        if renew is not None and (health.lease_renew is None or health.lease_renew < renew):
            health.lease_renew = renew
            health.probe = now

    def _mark_unknown(self, node: dict[str, Any], ready: dict[str, Any] | None, health: _Health, now: float
                      ) -> tuple[dict[str, Any], str | None]:
        """The grace period is over: Ready, MemoryPressure, DiskPressure, PIDPressure -> Unknown."""
        if ready is not None and ready["status"] == "Unknown":
            return node, "Unknown"  # the write happens only when the Ready condition changes
        stamp = timestamp(now)
        created = node["metadata"]["creationTimestamp"]

        def unknown(status: dict[str, Any]) -> None:
            existing = {c["type"]: c for c in status.setdefault("conditions", [])}
            for type_ in _UNKNOWN_ON_TIMEOUT:
                cond = existing.get(type_)
                if cond is None:
                    status["conditions"].append({
                        "lastHeartbeatTime": created, "lastTransitionTime": stamp,
                        "message": "Kubelet never posted node status.", "reason": "NodeStatusNeverUpdated",
                        "status": "Unknown", "type": type_})
                elif cond["status"] != "Unknown":
                    cond.update(lastTransitionTime=stamp, message="Kubelet stopped posting node status.",
                                reason="NodeStatusUnknown", status="Unknown")

        node = self.api.mutate_status("Node", node["metadata"]["name"], None, unknown)
        ready = _condition(node, "Ready")
        health.heartbeat = ready.get("lastHeartbeatTime")
        health.transition = ready.get("lastTransitionTime")
        health.ready_transition = now
        return node, "Unknown"

    def _mark_pods_not_ready(self, node: str) -> None:
        """``MarkPodsNotReady``: each pod's Ready condition to False (reason and message kept), and a
        Warning ``NodeNotReady`` event on each pod whose condition changed."""
        stamp = timestamp(self.env.now)
        for ns, name in self.pods.keys(node):
            pod = self.api.peek("Pod", name, ns)
            if pod is None:
                continue
            conds = (pod.get("status") or {}).get("conditions") or []
            ready = next((c for c in conds if c["type"] == "Ready"), None)
            if ready is None or ready["status"] == "False":
                continue  # UpdatePodCondition reports no change: no write, no event

            def not_ready(status: dict[str, Any]) -> None:
                for c in status["conditions"]:
                    if c["type"] == "Ready":
                        c["status"] = "False"
                        c["lastTransitionTime"] = stamp

            self.api.mutate_status("Pod", name, ns, not_ready)
            self.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    # -- NoExecute taints ------------------------------------------------------------------------
    def _add_zone(self, node: dict[str, Any], now: float) -> None:
        """``addPodEvictorForNewZone``."""
        zone = zone_key(node)
        if zone not in self._zone_states:
            self._zone_states[zone] = INITIAL
            self._tainters[zone] = RateLimitedQueue(NODE_EVICTION_RATE, now)

    def _process_taint_based_eviction(self, node: dict[str, Any], zone: str, observed: str, now: float
                                      ) -> None:
        name = node["metadata"]["name"]
        if observed in ("False", "Unknown"):
            taint, opposite = ((NOT_READY_TAINT_KEY, UNREACHABLE_TAINT_KEY) if observed == "False"
                               else (UNREACHABLE_TAINT_KEY, NOT_READY_TAINT_KEY))
            if _has_taint(node, opposite, "NoExecute"):
                self._swap_taints(name, [(taint, "NoExecute")], [(opposite, "NoExecute")])  # swap at once
            else:
                # markNodeForTainting: forget the node if its taint is missing, then queue it.
                queue = self._tainters[zone]
                if not _has_taint(node, taint, "NoExecute"):
                    queue.remove(name)
                queue.add(name, now)
        elif observed == "True":
            self._mark_reachable(node, zone)

    def _mark_reachable(self, node: dict[str, Any], zone: str) -> None:
        """``markNodeAsReachable``: drop both NoExecute taints (``RemoveTaintOffNode`` each, a write
        only when present) and forget the node in its zone queue."""
        name = node["metadata"]["name"]
        if node.get("spec", {}).get("taints"):
            for key in (UNREACHABLE_TAINT_KEY, NOT_READY_TAINT_KEY):
                current = self.api.peek("Node", name)
                if current is not None and _has_taint(current, key, "NoExecute"):
                    self._swap_taints(name, [], [(key, "NoExecute")])
        self._tainters[zone].remove(name)

    def _no_execute_pass(self) -> None:
        """``doNoExecuteTaintingPass``: each zone's queue, as far as its token bucket allows."""
        now = float(self.env.now)
        self._retry_at = None
        due = math.inf
        for queue in self._tainters.values():
            queue.try_(now, self._taint_no_execute)
            if len(queue):
                due = min(due, queue.limiter.next_token())
        if due < math.inf:
            # The 100 ms loop would find the token at its first tick at or after it is due.
            at = math.ceil(round(due / NODE_EVICTION_PERIOD, 6)) * NODE_EVICTION_PERIOD
            if at <= now:
                at = now + NODE_EVICTION_PERIOD
            self._retry_at = at
            timer = self.env.timeout(at - now)
            timer.callbacks.append(lambda _ev, at=at: self._retry(at))

    def _retry(self, at: float) -> None:
        if self._retry_at == at:
            self._no_execute_pass()

    def _taint_no_execute(self, name: str) -> tuple[bool, float]:
        node = self.api.peek("Node", name)
        if node is None:
            return True, 0.0
        ready = _condition(node, "Ready")
        if ready is None:
            return False, 0.05
        if ready["status"] in ("False", "Unknown"):
            taint, opposite = ((NOT_READY_TAINT_KEY, UNREACHABLE_TAINT_KEY) if ready["status"] == "False"
                               else (UNREACHABLE_TAINT_KEY, NOT_READY_TAINT_KEY))
            self._swap_taints(name, [(taint, "NoExecute")], [(opposite, "NoExecute")])
        return True, 0.0  # a Ready node is dropped from the queue without a taint

    # -- handleDisruption ------------------------------------------------------------------------
    def _handle_disruption(self, zone_conditions: dict[str, list[int]], nodes: list[dict[str, Any]],
                           now: float) -> None:
        """``handleDisruption``; ``zone_conditions`` holds [Ready nodes, nodes] per zone."""
        new_states: dict[str, str] = {}
        all_are_fully_disrupted = True
        for zone, (ready, total) in zone_conditions.items():
            state = _zone_state(ready, total - ready)
            if state != FULL_DISRUPTION:
                all_are_fully_disrupted = False
            new_states[zone] = state
            self._zone_states.setdefault(zone, INITIAL)
        all_were_fully_disrupted = True
        for zone in list(self._zone_states):
            if zone not in zone_conditions:
                del self._zone_states[zone]
                continue
            if self._zone_states[zone] != FULL_DISRUPTION:
                all_were_fully_disrupted = False
                break
        if all_are_fully_disrupted and all_were_fully_disrupted:
            return
        if all_are_fully_disrupted:
            # Every zone is down: the controller assumes it is the one cut off ("master disruption
            # mode"), removes the NoExecute taints and stops tainting.
            for node in nodes:
                self._mark_reachable(node, zone_key(node))
            for zone in self._zone_states:
                self._tainters[zone].swap_limiter(0.0, now)
                self._zone_states[zone] = FULL_DISRUPTION
            return
        if all_were_fully_disrupted:
            # Leaving it: every node counts as just heard from, and each zone gets its limiter back.
            for node in nodes:
                health = self._health.get(node["metadata"]["name"])
                if health is not None:
                    health.probe = health.ready_transition = now
            for zone in self._zone_states:
                new = new_states.get(zone, "")
                self._set_limiter(zone, zone_conditions.get(zone, (0, 0))[1], new, now)
                self._zone_states[zone] = new
            return
        for zone, state in self._zone_states.items():
            # A zone without nodes that the removal loop above did not reach gets the zero state "".
            new = new_states.get(zone, "")
            if state != new:
                self._set_limiter(zone, zone_conditions.get(zone, (0, 0))[1], new, now)
                self._zone_states[zone] = new

    def _set_limiter(self, zone: str, size: int, state: str, now: float) -> None:
        """``setLimiterInZone``: Normal and FullDisruption 0.1/s; PartialDisruption 0.01/s, or 0 in a
        zone of at most ``--large-cluster-size-threshold`` nodes (``ReducedQPSFunc``)."""
        if state == PARTIAL_DISRUPTION:
            qps = SECONDARY_NODE_EVICTION_RATE if size > LARGE_CLUSTER_SIZE_THRESHOLD else 0.0
        elif state in (NORMAL, FULL_DISRUPTION):
            qps = NODE_EVICTION_RATE
        else:
            return
        self._tainters[zone].swap_limiter(qps, now)

    def zone_states(self) -> dict[str, str]:
        """The state of each zone (``region:\\x00:zone`` keys), as the last pass computed it."""
        return dict(self._zone_states)


def compute_zone_state(statuses: list[str | None]) -> str:
    """``ComputeZoneState``: no Ready node ⇒ FullDisruption; more than 2 not Ready and at least 55%
    ⇒ PartialDisruption; otherwise Normal."""
    ready = sum(1 for s in statuses if s == "True")
    return _zone_state(ready, len(statuses) - ready)


def _zone_state(ready: int, not_ready: int) -> str:
    """:func:`compute_zone_state` from the counts."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (not_ready + ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return PARTIAL_DISRUPTION
    return NORMAL


def _noschedule_inputs(node: dict[str, Any]) -> tuple:
    """What doNoScheduleTaintingPass reads: condition statuses, spec.unschedulable, the taints."""
    spec = node.get("spec") or {}
    conds = tuple((c["type"], c["status"]) for c in (node.get("status") or {}).get("conditions") or [])
    taints = tuple((t["key"], t["effect"]) for t in spec.get("taints") or [])
    return conds, bool(spec.get("unschedulable")), taints

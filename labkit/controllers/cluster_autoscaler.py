"""The cluster autoscaler (kubernetes/autoscaler ``cluster-autoscaler``, tag ``cluster-autoscaler-1.36.1``).

One loop (``StaticAutoscaler.RunOnce``, ``core/static_autoscaler.go``) every ``--scan-interval``
over the autoscaled ACK node pools (:mod:`labkit.cloud.nodepools`, the cloud provider's node
groups). Each loop, in upstream's order:

1. **Cluster state** (``clusterstate/clusterstate.go``): registered, ready and unregistered nodes
   per group; a scale-up whose nodes did not register within ``--max-node-provision-time`` ends
   with ``ScaleUpTimedOut``, the target goes back down and the group backs off (5 min doubling to
   30 min, reset after 3 h: ``utils/backoff/exponential_backoff.go``).
2. **Scale-up** (``core/scaleup/orchestrator/orchestrator.go``): pods the scheduler marked
   ``PodScheduled=False/Unschedulable``, minus expendable ones (priority below
   ``--expendable-pods-priority-cutoff``) and those the autoscaler's own scheduling simulation
   places on existing or upcoming nodes (``processors/podinjection``, ``filter_out_schedulable.go``);
   for each group a template node (``TemplateNodeInfo``) checked with **the lab's scheduler
   PreFilter and Filter plugins** (the same plugin objects kube-scheduler runs; upstream vendors
   the scheduler framework the same way, ``simulator/framework``); the binpacking estimator
   (``estimator/binpacking_estimator.go``); the expander chain (``expander/``); one group
   increased per loop. Events with upstream's messages (``processors/status/
   eventing_scale_up_processor.go``, ``core/scaleup/orchestrator/executor.go``).
3. **Scale-down** (``core/scaledown/planner``, ``eligibility/eligibility.go``,
   ``simulator/utilization/info.go``, ``simulator/drainability/rules``, ``core/scaledown/actuation``):
   utilization, unneeded time, drainability, a rescheduling simulation, then actuation: taint
   ``ToBeDeletedByClusterAutoscaler``, delete the pods (a graceful pod deletion: their
   controllers recreate them elsewhere), release the instance.
4. The status ConfigMap ``kube-system/cluster-autoscaler-status`` (``clusterstate/api/types.go``,
   ``utils/status/status_configmap.go``), written through the API every loop.

Configuration: :meth:`ClusterAutoscaler.configure` takes upstream's flags with ``_`` for ``-``
(``scan_interval=10``, ``expander="least-waste,random"``, ...); durations in seconds. Defaults
are :data:`DEFAULTS` (spec 12.3, ``config/flags/flags.go``).

The loop sleeps on daemon timeouts, so an idle autoscaler does not keep ``Cluster.run()`` going;
but a loop with something to do is pending work (an unschedulable pod it has not looked at yet,
nodes still on their way, unneeded nodes waiting out ``--scale-down-unneeded-time``, a drain).
The loop starts only when the first autoscaled node pool is added: a cluster without one does no
autoscaler work at all.

Simplifications (stated, not hidden): one expansion option per group (no
``--balance-similar-node-groups``); no soft ``DeletionCandidateOfClusterAutoscaler`` taint; pods
are deleted, not evicted through the Eviction API, and DaemonSet pods are left to PodGC;
PodDisruptionBudgets block only when their ``status.disruptionsAllowed`` (kept by
:mod:`labkit.controllers.disruption`) is 0; ``NotTriggerScaleUp`` parts are sorted (upstream's
order follows Go map iteration and is not fixed); the ``price`` expander uses a fixed preferred
node (4 vCPU, 16 GiB, upstream's fallback ``defaultPreferredNode``) and prices pods at the
per-vCPU and per-GiB rates the illustrative ECS prices are built from.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.api.quantity import resource_amount
from labkit.api.selectors import selector_from_dict
from labkit.api.server import NotFound
from labkit.api.store import EPOCH, WatchEvent
from labkit.cloud.ecs import ECI_RATES_CNY_PER_HOUR, price
from labkit.controllers.controller_utils import parse_time
from labkit.scheduler.framework import CycleContext
from labkit.scheduler.nodetable import NodeTable
from labkit.scheduler.podinfo import PodInfo
from labkit.scheduler.profile import default_profile
from labkit.scheduler.schedule_one import ScheduleAlgorithm

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.cloud.nodepools import ECSCloud, NodePool
    from labkit.sim import LabEnvironment

__all__ = [
    "ClusterAutoscaler",
    "DEFAULTS",
    "EXPANDERS",
    "TO_BE_DELETED_TAINT",
    "STATUS_NAMESPACE",
    "PRIORITY_CONFIGMAP",
    "go_duration",
    "go_time",
]

COMPONENT = "cluster-autoscaler"
#: ``config/flags/flags.go`` defaults (spec 12.3); durations in seconds.
DEFAULTS: dict[str, Any] = {
    "scan_interval": 10.0,
    "expander": "least-waste",
    "max_node_provision_time": 900.0,
    "scale_down_enabled": True,
    "scale_down_utilization_threshold": 0.5,
    "scale_down_unneeded_time": 600.0,
    "scale_down_unready_time": 1200.0,
    "scale_down_delay_after_add": 600.0,
    "scale_down_delay_after_delete": 0.0,
    "scale_down_delay_after_failure": 180.0,
    "max_graceful_termination_sec": 600,
    "max_pod_eviction_time": 120.0,
    "skip_nodes_with_system_pods": True,
    "blocking_system_pod_distruption_timeout": 3600.0,
    "skip_nodes_with_local_storage": True,
    "skip_nodes_with_custom_controller_pods": True,
    "expendable_pods_priority_cutoff": -10,
    "new_pod_scale_up_delay": 0.0,
    "max_nodes_total": 0,
    "initial_node_group_backoff_duration": 300.0,
    "max_node_group_backoff_duration": 1800.0,
    "node_group_backoff_reset_timeout": 10800.0,
    "max_scale_down_parallelism": 10,
    "max_drain_parallelism": 1,
    "node_delete_delay_after_taint": 5.0,
    "write_status_configmap": True,
    "status_config_map_name": "cluster-autoscaler-status",
    "ignore_daemonsets_utilization": False,
    "ignore_mirror_pods_utilization": False,
    "balance_similar_node_groups": False,
    "max_total_unready_percentage": 45.0,
    "ok_total_unready_count": 3,
}
EXPANDERS = ("random", "most-pods", "least-waste", "price", "priority")
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"  # utils/taints/taints.go
SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
SAFE_TO_EVICT_LOCAL_VOLUMES = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
STATUS_NAMESPACE = "kube-system"
LAST_UPDATED = "cluster-autoscaler.kubernetes.io/last-updated"
PRIORITY_CONFIGMAP = "cluster-autoscaler-priority-expander"  # expander/priority/priority.go
POD_LONG_TERMINATING_EXTRA = 30.0  # utils/drain: PodLongTerminatingExtraThreshold
POD_EVICTION_HEADROOM = 30.0  # core/scaledown/actuation/drain.go
DRAIN_POLL = 5.0
# expander/price/price.go
_PREFERRED_NODE = (4000, 16 * 1024**3)  # defaultPreferredNode: 4 cpu, 16 GiB
_STABILIZATION_POD = (500, 500 * 1024**2)  # priceStabilizationPod: 0.5 cpu, 500 MiB
_GPU_UNFITNESS = 1000.0
# simulator/drainability: the controller kinds that count as "replicated" and the API error text
_REPLICATED = {
    "ReplicationController": (
        "replication controller for {ns}/{pod} is not available, err: {err}",
        "replicationcontrollers",
    ),
    "Job": ("job for {ns}/{pod} is not available: err: {err}", "jobs.batch"),
    "ReplicaSet": ("replica set for {ns}/{pod} is not available, err: {err}", "replicasets.apps"),
    "StatefulSet": ("statefulset for {ns}/{pod} is not available: err: {err}", "statefulsets.apps"),
}
_TERMINAL = ("Succeeded", "Failed")
# Kinds besides Pods and Nodes that the scale-down evaluation reads (the drainability rules'
# controllers and PDBs, the scheduler Filter plugins' PVCs/PVs/StorageClasses/Namespaces and
# default spread selectors): any change to one of them makes the next loop evaluate afresh.
_INPUT_KINDS = (
    "ReplicaSet",
    "StatefulSet",
    "ReplicationController",
    "Job",
    "PodDisruptionBudget",
    "Namespace",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "Service",
)
# Place-holders for the per-loop timestamps in the cached status text.
_PROBE_MARK = "\x00probe\x00"
_TIME_MARK = "\x00time\x00"
# A time-driven verdict (long-terminating pod, young kube-system pod) is re-evaluated this long
# before it could flip, so that float rounding never lets a cached verdict outlive its truth.
_DEADLINE_MARGIN = 1e-3


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for whole seconds: ``15m0s``, ``1h0m0s``, ``30s``."""
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def go_time(seconds: float) -> str:
    """Simulated time in Go's ``2006-01-02 15:04:05.999999999 -0700 MST`` layout (UTC)."""
    t = EPOCH + timedelta(seconds=seconds)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"


def _rfc3339_nano(seconds: float) -> str:
    """``metav1.Time`` as yaml.v2 writes it (``time.Time``: RFC 3339 with nanoseconds, zeros trimmed)."""
    t = EPOCH + timedelta(seconds=seconds)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


_DAYS: dict[int, str] = {}  # days since EPOCH (a midnight) -> "YYYY-MM-DD"


def _stamps(seconds: float) -> tuple[str, str]:
    """:func:`go_time` and :func:`_rfc3339_nano` of one instant, from one conversion."""
    whole = int(seconds)
    if whole == seconds and whole >= 0:  # whole seconds (most loops): no datetime arithmetic
        d, rest = divmod(whole, 86400)
        day = _DAYS.get(d)
        if day is None:
            day = _DAYS[d] = (EPOCH + timedelta(days=d)).strftime("%Y-%m-%d")
        h, rest = divmod(rest, 3600)
        m, sec = divmod(rest, 60)
        clock = f"{h:02d}:{m:02d}:{sec:02d}"
        return f"{day} {clock} +0000 UTC", f"{day}T{clock}Z"
    t = EPOCH + timedelta(seconds=seconds)
    us = t.microsecond
    frac = f".{us:06d}".rstrip("0") if us else ""
    day = f"{t.year:04d}-{t.month:02d}-{t.day:02d}"
    clock = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}{frac}"
    return f"{day} {clock} +0000 UTC", f"{day}T{clock}Z"


def _yaml(value: Any, indent: int = 0) -> list[str]:
    """A small YAML writer laid out as gopkg.in/yaml.v2 lays out the status (2-space maps,
    list items at their key's indentation, timestamps quoted)."""
    pad = " " * indent
    lines: list[str] = []
    for key, v in value.items():
        if isinstance(v, Mapping):
            lines.append(f"{pad}{key}:")
            lines.extend(_yaml(v, indent + 2))
        elif isinstance(v, list):
            lines.append(f"{pad}{key}:")
            for item in v:
                sub = _yaml(item, indent + 2)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
        else:
            lines.append(f"{pad}{key}: {v}")
    return lines


@dataclass
class Option:
    """``expander.Option``: grow ``group`` by ``count`` nodes to place ``pods``."""

    group: NodePool
    count: int
    pods: list[PodInfo]
    template: dict[str, Any] = field(repr=False)


@dataclass
class _Backoff:
    until: float
    duration: float
    last_failure: float
    reason: str = ""
    message: str = ""


def _node_ready(node: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )


def _unschedulable(pod: dict[str, Any]) -> bool:
    if (pod.get("spec") or {}).get("nodeName") or pod["metadata"].get("deletionTimestamp"):
        return False
    return any(
        c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _controller(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")), None)


class ClusterAutoscaler:
    """The cluster autoscaler of one simulated cluster (``c.cluster_autoscaler``)."""

    component = COMPONENT

    def __init__(
        self,
        env: LabEnvironment,
        api: APIServer,
        recorder: EventRecorder,
        cloud: ECSCloud,
        rng: random.Random,
    ) -> None:
        self.env = env
        self.api = api
        self.recorder = recorder
        self.cloud = cloud
        self.rng = rng
        self.options: dict[str, Any] = dict(DEFAULTS)
        self.algorithm = ScheduleAlgorithm(default_profile())
        self.loops = 0
        self.started = False
        self.last_scale_up = -math.inf
        self.last_scale_down_delete = -math.inf
        self.last_scale_down_failure = -math.inf
        self.unneeded_since: dict[str, float] = {}
        self.unneeded: list[str] = []
        self.unremovable: dict[str, str] = {}  # node -> why it cannot go (last loop)
        self.deleting: set[str] = set()
        self.backoff: dict[str, _Backoff] = {}
        self.scale_ups: dict[str, tuple[float, int]] = {}  # group -> (time, increase) awaiting nodes
        self.last_decision: dict[str, Any] = {}
        self._transitions: dict[tuple[str, str], tuple[str, float]] = {}
        self._dirty = False
        self._wake: Any = None
        self._held = False
        self._checking = False
        self._next_pass = 0.0
        # -- caches (decisions, events and status are the same as recomputing every loop) --
        #: Private switch for tests: recompute everything every loop (the reference behaviour).
        self._full_recompute = False
        self._gen = 0  # bumped by every watch event on a kind the loop reads
        self._lists: tuple[int, list[dict[str, Any]], list[dict[str, Any]]] | None = None
        self._unschedulable_pods: list[dict[str, Any]] = []
        self._ready: dict[str, bool] = {}  # node name -> Ready, for the listed nodes
        self._infos: dict[str, tuple[dict[str, Any], PodInfo]] = {}  # pod uid -> (object, info)
        self._sd_cache: tuple[Any, ...] | None = None  # last scale-down evaluation and its inputs
        self._deadline = math.inf
        self._status_key: Any = None
        self._facts_cache: tuple[Any, ...] | None = None
        self._status_text = ""
        cloud._on_added.append(self._group_added)

    # -- configuration --------------------------------------------------------------------------
    def configure(self, flags: Mapping[str, Any] | None = None, **more: Any) -> dict[str, Any]:
        """Set autoscaler flags by upstream name (``-`` or ``_``): ``configure(expander="price")``,
        ``configure({"scale-down-unneeded-time": 300})``. Durations are seconds. Returns the options."""
        given = {**dict(flags or {}), **more}
        new = dict(self.options)
        for raw, value in given.items():
            key = str(raw).lstrip("-").replace("-", "_")
            if key not in DEFAULTS:
                close = difflib.get_close_matches(key, DEFAULTS, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise ValueError(f"unknown cluster autoscaler flag {raw!r}{hint}")
            default = DEFAULTS[key]
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"--{key.replace('_', '-')} is true or false, not {value!r}")
            elif isinstance(default, (int, float)):
                negative_ok = key == "expendable_pods_priority_cutoff"
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or (value < 0 and not negative_ok)
                ):
                    raise ValueError(f"--{key.replace('_', '-')} is a non-negative number, not {value!r}")
            new[key] = value
        names = [e.strip() for e in str(new["expander"]).split(",")]
        bad = [e for e in names if e not in EXPANDERS]
        if bad or not names:
            raise ValueError(
                f"--expander {new['expander']!r}: choose from {', '.join(EXPANDERS)} "
                "(a comma-separated list is applied in turn); grpc is not modelled"
            )
        if new["scan_interval"] <= 0:
            raise ValueError("--scan-interval must be positive")
        if new["balance_similar_node_groups"]:
            raise ValueError("--balance-similar-node-groups=true is not modelled")
        self.options = new
        return dict(new)

    # -- the loop -------------------------------------------------------------------------------
    def _group_added(self, _pool: NodePool) -> None:
        self._dirty = True
        if self.started:
            self._hold()
            return
        self.started = True
        self.api.watch("Pod", self._on_pod)
        self.api.watch("Node", self._on_node)
        for kind in _INPUT_KINDS:
            with contextlib.suppress(KeyError):  # a kind the simulated API server does not serve
                self.api.watch(kind, self._on_input)
        self.env.process(self._run())

    def _on_input(self, _ev: WatchEvent) -> None:
        self._gen += 1

    def _on_pod(self, ev: WatchEvent) -> None:
        self._gen += 1
        pod = ev.object
        if ev.type == "DELETED":
            self._infos.pop(pod["metadata"].get("uid", ""), None)
        if (
            ev.type == "DELETED"
            or (pod.get("spec") or {}).get("nodeName")
            and (pod.get("status") or {}).get("phase") in _TERMINAL
        ):
            self._dirty = True  # a node may have become unneeded
            self._hold()
        elif _unschedulable(pod):
            self._dirty = True
            self._hold()

    def _on_node(self, ev: WatchEvent) -> None:
        self._gen += 1
        if ev.type != "MODIFIED":
            self._dirty = True
            self._hold()

    def _run(self):
        while True:
            self.run_once()
            yield self._sleep()

    def _busy(self) -> bool:
        """Work the next loop will do: something changed, nodes on their way, unneeded nodes, drains."""
        if self._dirty or self.deleting or self.unneeded:
            return True
        return any(i.registered_s is None for g in self.cloud.node_groups() for i in g.instances())

    def _sleep(self):
        wake = self.env.event()
        self._wake = wake
        interval = float(self.options["scan_interval"])
        self._next_pass = self.env.now + interval
        self._held = self._busy()
        timer = (self.env.timeout if self._held else self.env.daemon_timeout)(interval)
        timer.callbacks.append(lambda _ev: wake.succeed() if not wake.triggered else None)
        return wake

    def _hold(self) -> None:
        """Something to do appeared while the loop sleeps on a daemon timeout: make the wait work."""
        if self._wake is None or self._held or self._wake.triggered or self._checking:
            return
        self._checking = True
        self.env.timeout(0).callbacks.append(self._hold_if_busy)

    def _hold_if_busy(self, _ev: Any) -> None:
        self._checking = False
        wake = self._wake
        if self._held or wake.triggered or not self._busy():
            return
        self._held = True
        keep = self.env.timeout(max(0.0, self._next_pass - self.env.now))
        keep.callbacks.append(lambda _ev: wake.succeed() if not wake.triggered else None)

    def run_once(self) -> None:
        """One ``RunOnce``: cluster state, scale-up, scale-down, status ConfigMap."""
        self.loops += 1
        self._dirty = False
        now = float(self.env.now)
        groups = self.cloud.node_groups()
        if not groups:
            return
        self._check_provisioning(groups, now)
        nodes, pods = self._read_lists()
        decision: dict[str, Any] = {"time": now, "scale_up": None, "not_triggered": {}, "scale_down": []}
        self.last_decision = decision
        scaled_up = self._scale_up(groups, nodes, pods, now, decision)
        if scaled_up:
            # static_autoscaler.go: a loop that scaled up does not also scale down.
            self.unneeded = []
        elif self.options["scale_down_enabled"]:
            self._scale_down(nodes, pods, now, decision)
        else:
            self.unneeded = []
        if self.options["write_status_configmap"]:
            self._write_status(groups, nodes, now)

    def _read_lists(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Nodes and non-terminal pods from the API, re-listed only after a Pod or Node watch event
        (stored objects are replaced on every change, never edited in place)."""
        cached = self._lists
        if self._full_recompute or cached is None or cached[0] != self._gen:
            nodes = list(self.api.items("Node"))
            pods = [
                p for p in self.api.items("Pod") if (p.get("status") or {}).get("phase") not in _TERMINAL
            ]
            cached = self._lists = (self._gen, nodes, pods)
            self._unschedulable_pods = [p for p in pods if _unschedulable(p)]
            self._ready = {n["metadata"]["name"]: _node_ready(n) for n in nodes}
        return cached[1], cached[2]

    def _info(self, pod: dict[str, Any]) -> PodInfo:
        """``PodInfo.from_pod``, kept per pod object (a changed pod is a new object)."""
        if self._full_recompute:
            return PodInfo.from_pod(pod)
        uid = pod["metadata"].get("uid", "")
        hit = self._infos.get(uid)
        if hit is not None and hit[0] is pod:
            return hit[1]
        info = PodInfo.from_pod(pod)
        self._infos[uid] = (pod, info)
        return info

    # -- cluster state --------------------------------------------------------------------------
    def _check_provisioning(self, groups: list[NodePool], now: float) -> None:
        """``clusterstate.updateScaleRequests`` / ``handleInstanceCreationErrors``: a scale-up whose
        nodes did not register in time times out; its instances are dropped and the group backs off."""
        limit = float(self.options["max_node_provision_time"])
        for g in groups:
            insts = g.instances()
            late = [i for i in insts if i.registered_s is None and now - i.requested_s >= limit]
            if not late:
                if not any(i.registered_s is None for i in insts):
                    self.scale_ups.pop(g.name, None)
                continue
            self._event_status(
                "Warning",
                "ScaleUpTimedOut",
                f"Nodes added to group {g.name} failed to register within {go_duration(limit)}",
            )
            g.decrease_target_size(-len(late))
            self.scale_ups.pop(g.name, None)
            self._back_off(
                g, now, "timeout", f"Scale-up timed out for node group {g.name} after {go_duration(limit)}"
            )

    def _back_off(self, g: NodePool, now: float, code: str, message: str) -> None:
        """``exponentialBackoff.Backoff``: initial duration, doubling up to the max, reset after 3 h."""
        prev = self.backoff.get(g.name)
        initial = float(self.options["initial_node_group_backoff_duration"])
        if prev is None or now - prev.last_failure > float(self.options["node_group_backoff_reset_timeout"]):
            duration = initial
        else:
            duration = min(2 * prev.duration, float(self.options["max_node_group_backoff_duration"]))
        self.backoff[g.name] = _Backoff(now + duration, duration, now, code, message)

    def _in_backoff(self, g: NodePool, now: float) -> bool:
        b = self.backoff.get(g.name)
        return b is not None and now < b.until

    # -- simulation helpers ----------------------------------------------------------------------
    def _snapshot(
        self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]], upcoming: bool = True
    ) -> tuple[NodeTable, dict[str, list[tuple[dict[str, Any], PodInfo]]]]:
        """The autoscaler's ClusterSnapshot: every Node with its bound pods, plus upcoming nodes."""
        table = NodeTable()
        for node in nodes:
            table.set_node(node)
        if upcoming:
            for g in self.cloud.node_groups():
                for inst in g.instances():
                    if inst.registered_s is None and inst.node not in table.index:
                        table.set_node(inst.manifest)
        by_node: dict[str, list[tuple[dict[str, Any], PodInfo]]] = {}
        for pod in pods:
            name = (pod.get("spec") or {}).get("nodeName")
            if not name or name not in table.index:
                continue
            info = self._info(pod)
            table.add_pod(table.index[name], info)
            by_node.setdefault(name, []).append((pod, info))
        return table, by_node

    def _filter(self, info: PodInfo, table: NodeTable) -> tuple[np.ndarray, Any]:
        """PreFilter + Filter of the scheduler's plugins for ``info`` on every row of ``table``.

        Returns the per-row pass mask and a function giving a row's reasons (the first rejecting
        plugin's, as the scheduler reports them)."""
        n = table.n
        if n == 0:
            return np.zeros(0, dtype=bool), lambda i: []
        ctx = CycleContext(pod=info, table=table, api=self.api, now=self.env.now)
        skip, allowed, pf, _ = self.algorithm.pre_filter(ctx)
        if pf is not None:
            return np.zeros(n, dtype=bool), lambda i, reject=pf.reject: [reject]
        first, results = self.algorithm.filter_all(ctx, skip)
        ok = first < 0
        if allowed is not None:
            ok = ok & allowed

        def reasons(i: int) -> list[str]:
            if allowed is not None and not allowed[i]:
                return ["node(s) didn't satisfy plugin(s) [NodeAffinity]"]
            k = int(first[i])
            if k < 0:
                return []
            return [r.reason for r in results[k][1] if r.mask[i]]

        return ok, reasons

    def _place(self, info: PodInfo, table: NodeTable, rows: np.ndarray | None = None) -> int | None:
        """The first node (in the scheduler's node order) where the pod passes the filters."""
        ok, _ = self._filter(info, table)
        if rows is not None:
            keep = np.zeros(table.n, dtype=bool)
            keep[rows] = True
            ok = ok & keep
        for row in table.order:
            if ok[row]:
                return int(row)
        return None

    # -- scale-up ---------------------------------------------------------------------------------
    def _scale_up(
        self,
        groups: list[NodePool],
        nodes: list[dict[str, Any]],
        pods: list[dict[str, Any]],
        now: float,
        decision: dict[str, Any],
    ) -> bool:
        cutoff = self.options["expendable_pods_priority_cutoff"]
        delay = float(self.options["new_pod_scale_up_delay"])
        pending = []
        for pod in self._unschedulable_pods:  # _read_lists: the pods with _unschedulable(pod)
            if int((pod.get("spec") or {}).get("priority") or 0) < cutoff:
                continue  # expendable
            created = parse_time(pod["metadata"].get("creationTimestamp"))
            if delay and created is not None and now - created < delay:
                continue
            pending.append(pod)
        if not pending:
            return False
        # filter_out_schedulable.go: pods that fit existing or upcoming nodes wait for the scheduler.
        pending.sort(key=lambda p: -int((p.get("spec") or {}).get("priority") or 0))
        table, _ = self._snapshot(nodes, pods)
        remaining: list[tuple[dict[str, Any], PodInfo]] = []
        for pod in pending:
            info = self._info(pod)
            row = self._place(info, table)
            if row is not None:
                table.add_pod(row, info)
            else:
                remaining.append((pod, info))
        if not remaining:
            return False
        upcoming = sum(1 for g in groups for i in g.instances() if i.registered_s is None)
        total = len(nodes) + upcoming
        max_total = int(self.options["max_nodes_total"])
        if max_total and total >= max_total:
            for pod, _ in remaining:
                self._not_triggered(
                    pod, "pod didn't trigger scale-up: max total nodes in cluster reached", decision
                )
            return False
        rejected: dict[str, dict[str, int]] = {info.uid: {} for _, info in remaining}
        options: list[Option] = []
        for g in groups:
            skip = None
            if self._in_backoff(g, now):
                skip = "in backoff after failed scale-up"
            elif g.target_size() >= g.max_size():
                skip = "max node group size reached"
            if skip is not None:
                for _, info in remaining:
                    rejected[info.uid][skip] = rejected[info.uid].get(skip, 0) + 1
                continue
            cap = g.max_size() - g.target_size()
            if max_total:
                cap = min(cap, max_total - total)
            option = self._estimate(g, nodes, pods, remaining, cap, rejected)
            if option is not None:
                options.append(option)
        if not options:
            for pod, info in remaining:
                parts = sorted(f"{c} {r}" for r, c in rejected[info.uid].items())
                self._not_triggered(pod, "pod didn't trigger scale-up: " + ", ".join(parts), decision)
            return False
        best = self._expand(options)
        return self._execute(best, now, decision)

    def _estimate(
        self,
        g: NodePool,
        nodes: list[dict[str, Any]],
        pods: list[dict[str, Any]],
        remaining: list[tuple[dict[str, Any], PodInfo]],
        cap: int,
        rejected: dict[str, dict[str, int]],
    ) -> Option | None:
        """Template check, then the binpacking estimator, for one group."""
        template = g.template_node()
        table, _ = self._snapshot(nodes, pods)
        first = table.set_node(_named(template, f"template-node-for-{g.name}-0"))
        fitting: list[PodInfo] = []
        for _, info in remaining:
            ok, reasons = self._filter(info, table)
            if ok[first]:
                fitting.append(info)
            else:
                for reason in reasons(first):
                    rejected[info.uid][reason] = rejected[info.uid].get(reason, 0) + 1
        if not fitting or cap <= 0:
            return None
        # binpacking_estimator.go: pods sorted by their share of the template, largest first
        alloc = (template.get("status") or {}).get("allocatable") or {}
        cpu = max(1, resource_amount("cpu", alloc.get("cpu", "0")))
        mem = max(1, resource_amount("memory", alloc.get("memory", "0")))
        ordered = sorted(
            fitting, key=lambda p: -(p.requests.get("cpu", 0) / cpu + p.requests.get("memory", 0) / mem)
        )
        rows: list[int] = []
        placed: list[PodInfo] = []
        last: int | None = None
        for info in ordered:
            row = None
            if rows:
                ok, _ = self._filter(info, table)
                if last is not None and ok[last]:
                    row = last
                else:
                    row = next((r for r in rows if ok[r]), None)
            if row is None and len(rows) < cap:
                new = (
                    first
                    if not rows
                    else table.set_node(_named(template, f"template-node-for-{g.name}-{len(rows)}"))
                )
                ok, _ = self._filter(info, table)
                if ok[new]:
                    rows.append(new)
                    row = new
            if row is None:
                continue
            table.add_pod(row, info)
            placed.append(info)
            last = row
        if not rows:
            return None
        return Option(g, len(rows), placed, template)

    def _expand(self, options: list[Option]) -> Option:
        """The expander chain (``expander/factory/chain.go``): each strategy narrows the options;
        what ties at the end is settled at random (from the cluster seed)."""
        for name in (e.strip() for e in str(self.options["expander"]).split(",")):
            if len(options) <= 1:
                break
            options = self._strategy(name, options)
        return options[0] if len(options) == 1 else self.rng.choice(options)

    def _strategy(self, name: str, options: list[Option]) -> list[Option]:
        if name == "random":
            return [self.rng.choice(options)]
        if name == "most-pods":  # expander/mostpods
            most = max(len(o.pods) for o in options)
            return [o for o in options if len(o.pods) == most]
        if name == "least-waste":  # expander/waste/waste.go
            scored = [(self._waste(o), o) for o in options]
            low = min(s for s, _ in scored)
            return [o for s, o in scored if s == low]
        if name == "price":
            scored = [(self._price_score(o), o) for o in options]
            scored = [(s, o) for s, o in scored if s is not None]
            if not scored:
                return options
            low = min(s for s, _ in scored)
            return [next(o for s, o in scored if s == low)]  # price.go keeps the first best option
        if name == "priority":
            return self._priority(options)
        return options

    @staticmethod
    def _waste(o: Option) -> float:
        """``(nodes x capacity - requested) / (nodes x capacity)`` for cpu plus the same for memory;
        requests of the pods' regular containers, the node's capacity (waste.go)."""
        cap = (o.template.get("status") or {}).get("capacity") or {}
        node_cpu = resource_amount("cpu", cap.get("cpu", "0"))
        node_mem = resource_amount("memory", cap.get("memory", "0"))
        req_cpu = req_mem = 0
        for p in o.pods:
            for c in p.obj.get("spec", {}).get("containers") or []:
                r = (c.get("resources") or {}).get("requests") or {}
                if "cpu" in r:
                    req_cpu += resource_amount("cpu", r["cpu"])
                if "memory" in r:
                    req_mem += resource_amount("memory", r["memory"])
        avail_cpu, avail_mem = node_cpu * o.count, node_mem * o.count
        return (avail_cpu - req_cpu) / avail_cpu + (avail_mem - req_mem) / avail_mem

    @staticmethod
    def _price_score(o: Option) -> float | None:
        """price.go: ``unfitness x (nodes price + stabilization) / (pods price + stabilization)``."""
        node_price = price(o.group.instance_type).cny_per_hour
        if node_price is None:
            return None
        rates = ECI_RATES_CNY_PER_HOUR

        def pod_price(cpu_m: int, mem: int) -> float:
            return cpu_m / 1000 * rates["cpu"] + mem / 1024**3 * rates["memory_gib"]

        stab = pod_price(*_STABILIZATION_POD)
        pods = sum(pod_price(p.requests.get("cpu", 0), p.requests.get("memory", 0)) for p in o.pods)
        sub = (node_price * o.count + stab) / (pods + stab)
        cap = (o.template.get("status") or {}).get("capacity") or {}
        cpu = resource_amount("cpu", cap.get("cpu", "0"))
        mem = resource_amount("memory", cap.get("memory", "0"))
        # preferred.go SimpleNodeUnfitness: max of the cpu and memory ratios, whichever way round
        unfit = max(
            _PREFERRED_NODE[0] / cpu,
            cpu / _PREFERRED_NODE[0],
            _PREFERRED_NODE[1] / mem,
            mem / _PREFERRED_NODE[1],
        )
        suppressed = (unfit - 1.0) * (1.0 - math.tanh((o.count - 1) / 15.0)) + 1.0
        if "nvidia.com/gpu" in cap:
            suppressed = _GPU_UNFITNESS
        return suppressed * sub

    def _priority(self, options: list[Option]) -> list[Option]:
        """expander/priority/priority.go: the highest priority whose regexes match a group name."""
        cm = self.api.peek("ConfigMap", PRIORITY_CONFIGMAP, STATUS_NAMESPACE)
        if cm is None:
            return options
        text = (cm.get("data") or {}).get("priorities")
        if text is None:
            self.recorder.emit(
                cm,
                "Warning",
                "PriorityConfigMapInvalid",
                "Wrong configmap for priority expander, doesn't contain priorities key. Ignoring update.",
                COMPONENT,
            )
            return options
        try:
            import yaml

            raw = yaml.safe_load(text) or {}
            table = {int(k): [re.compile(str(x)) for x in (v or [])] for k, v in raw.items()}
        except Exception as e:  # noqa: BLE001 - any parse problem is the ConfigMap's
            self.recorder.emit(
                cm,
                "Warning",
                "PriorityConfigMapInvalid",
                f"Wrong configuration for priority expander: {e}. Ignoring update.",
                COMPONENT,
            )
            return options
        best: list[Option] = []
        top = -1
        for o in options:
            found = False
            for prio in sorted(table, reverse=True):
                if prio < top:
                    break
                if any(r.search(o.group.name) for r in table[prio]):
                    if prio > top:
                        top, best = prio, []
                    best.append(o)
                    found = True
                    break
            if not found:
                self.recorder.emit(
                    cm,
                    "Warning",
                    "PriorityConfigMapNotMatchedGroup",
                    f"Priority expander: node group {o.group.name} not found in priority "
                    "expander configuration. The group won't be used.",
                    COMPONENT,
                )
        if not best:
            self.recorder.emit(
                cm,
                "Warning",
                "PriorityConfigMapNoGroupMatched",
                "Priority expander: no priorities info found for any of the expansion options. "
                "Falling back to random choice.",
                COMPONENT,
            )
            return options
        return best

    def _execute(self, o: Option, now: float, decision: dict[str, Any]) -> bool:
        """executor.go ``executeScaleUp``: set the new size, with upstream's events."""
        g = o.group
        old = g.target_size()
        new = min(old + o.count, g.max_size())
        mx = g.max_size()
        self._event_status(
            "Normal",
            "ScaledUpGroup",
            f"Scale-up: setting group {g.name} size to {new} instead of {old} (max: {mx})",
        )
        try:
            g.increase_size(new - old)
        except ValueError as e:
            self._event_status("Warning", "FailedToScaleUpGroup", f"Scale-up failed for group {g.name}: {e}")
            self._back_off(g, now, "cloudProviderError", str(e))
            return False
        self._event_status(
            "Normal",
            "ScaledUpGroup",
            f"Scale-up: group {g.name} size set to {new} instead of {old} (max: {mx})",
        )
        message = f"pod triggered scale-up: [{{{g.name} {old}->{new} (max: {mx})}}]"
        for info in o.pods:
            pod = self.api.peek("Pod", info.name, info.namespace)
            if pod is not None:
                self.recorder.emit(pod, "Normal", "TriggeredScaleUp", message, COMPONENT)
        self.last_scale_up = now
        self.scale_ups[g.name] = (now, new - old)
        decision["scale_up"] = {
            "group": g.name,
            "from": old,
            "to": new,
            "max": mx,
            "pods": [i.key for i in o.pods],
        }
        return True

    def _not_triggered(self, pod: dict[str, Any], message: str, decision: dict[str, Any]) -> None:
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        decision["not_triggered"][key] = message
        self.recorder.emit(pod, "Normal", "NotTriggerScaleUp", message, COMPONENT)

    # -- scale-down -----------------------------------------------------------------------------
    def _scale_down(
        self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]], now: float, decision: dict[str, Any]
    ) -> None:
        opts = self.options
        # The candidate evaluation reads only the API objects (watched: ``_gen``), the nodes being
        # deleted, the groups' sizes, the options and the clock (through the time-driven drain rules,
        # whose next possible flip is ``_deadline``): with none of those changed its result stands.
        key = (
            self._lists[0] if self._lists is not None else None,
            frozenset(self.deleting),
            self.cloud.version,
            [(g.name, g.target_size(), g.min_size()) for g in self.cloud.node_groups()],
        )
        cached = self._sd_cache
        if (
            not self._full_recompute
            and cached is not None
            and now < cached[1]
            and cached[0] == key
            and cached[2] == opts
        ):
            unneeded, moves, utils, unremovable = cached[3:]
            self.unremovable = dict(unremovable)
        else:
            self._deadline = math.inf
            unneeded, moves, utils = self._find_unneeded(nodes, pods, now)
            self._sd_cache = (
                key, self._deadline - _DEADLINE_MARGIN, dict(opts), unneeded, moves, utils,
                dict(self.unremovable),
            )
        self.unneeded_since = {n: self.unneeded_since.get(n, now) for n in unneeded}
        self.unneeded = list(unneeded)
        decision["unneeded"] = list(unneeded)
        if not unneeded:
            return  # nothing to delete (what follows only picks among the unneeded nodes)
        in_cooldown = (
            now < self.last_scale_up + float(opts["scale_down_delay_after_add"])
            or now < self.last_scale_down_delete + float(opts["scale_down_delay_after_delete"])
            or now < self.last_scale_down_failure + float(opts["scale_down_delay_after_failure"])
        )
        if in_cooldown:
            return
        empty, drain = [], []
        for name in unneeded:
            node = self.api.peek("Node", name)
            wait = float(
                opts["scale_down_unneeded_time"]
                if node is not None and _node_ready(node)
                else opts["scale_down_unready_time"]
            )
            if now - self.unneeded_since[name] < wait:
                continue
            (drain if moves[name] else empty).append(name)
        budget = int(opts["max_scale_down_parallelism"]) - len(self.deleting)
        drains_running = sum(1 for n in self.deleting if self._draining.get(n))
        chosen = [(n, True) for n in empty[: max(0, budget)]]
        budget -= len(chosen)
        drain_slots = min(max(0, budget), int(opts["max_drain_parallelism"]) - drains_running)
        chosen += [(n, False) for n in drain[: max(0, drain_slots)]]
        for name, is_empty in chosen:
            decision["scale_down"].append(name)
            self._start_deletion(name, moves[name], utils[name], is_empty, now)

    def _find_unneeded(
        self, nodes: list[dict[str, Any]], pods: list[dict[str, Any]], now: float
    ) -> tuple[list[str], dict[str, list[dict[str, Any]]], dict[str, tuple[float, float, str, float]]]:
        """planner.go ``categorizeNodes``: the nodes that could go now (utilization, drainability,
        a place for their pods), with the pods each would move and its utilization."""
        opts = self.options
        snapshot: tuple[NodeTable, dict[str, list[tuple[dict[str, Any], PodInfo]]]] | None = None
        removable: dict[str, int] = {}
        for g in self.cloud.node_groups():
            being_deleted = sum(1 for n in self.deleting if self.cloud.node_group_for(n) is g)
            removable[g.name] = g.target_size() - being_deleted - g.min_size()
        unneeded: list[str] = []
        moves: dict[str, list[dict[str, Any]]] = {}
        utils: dict[str, tuple[float, float, str, float]] = {}
        self.unremovable = {}
        planned: set[str] = set()
        for node in nodes:
            name = node["metadata"]["name"]
            g = self.cloud.node_group_for(name)
            if g is None or name in self.deleting:
                continue
            if any(t.get("key") == TO_BE_DELETED_TAINT for t in (node.get("spec") or {}).get("taints") or []):
                continue
            if (node["metadata"].get("annotations") or {}).get(SCALE_DOWN_DISABLED) == "true":
                self.unremovable[name] = "ScaleDownDisabledAnnotation"
                continue
            if snapshot is None:  # built on first need: nodes outside the groups never need it
                snapshot = self._snapshot(nodes, pods, upcoming=False)
            table, by_node = snapshot
            on_node = by_node.get(name, [])
            ready = _node_ready(node)
            util = self._utilization(node, on_node, now)
            utils[name] = util
            if ready and util[3] > float(opts["scale_down_utilization_threshold"]):
                self.unremovable[name] = "NotUnderutilized"
                continue
            if removable.get(g.name, 0) <= 0:
                self.unremovable[name] = "NodeGroupMinSizeReached"
                continue
            to_move, blocked = self._pods_to_move(on_node, now)
            if blocked:
                self.unremovable[name] = blocked
                continue
            if not self._simulate_removal(name, to_move, on_node, table, planned):
                self.unremovable[name] = "NoPlaceToMovePods"
                continue
            removable[g.name] -= 1
            planned.add(name)
            unneeded.append(name)
            moves[name] = [p for p, _ in to_move]
        return unneeded, moves, utils

    def _utilization(
        self, node: dict[str, Any], on_node: list[tuple[dict[str, Any], PodInfo]], now: float
    ) -> tuple[float, float, str, float]:
        """``utilization.Calculate``: requests over allocatable, cpu and memory; the larger wins."""
        alloc = (node.get("status") or {}).get("allocatable") or {}
        cpu_alloc = resource_amount("cpu", alloc.get("cpu", "0"))
        mem_alloc = resource_amount("memory", alloc.get("memory", "0"))
        cpu = mem = 0
        for pod, info in on_node:
            if self._long_terminating_noted(pod, now):
                continue
            if self.options["ignore_daemonsets_utilization"] and "DaemonSet" in info.owner_kinds:
                continue
            if self.options["ignore_mirror_pods_utilization"] and MIRROR_ANNOTATION in (
                pod["metadata"].get("annotations") or {}
            ):
                continue
            cpu += info.requests.get("cpu", 0)
            mem += info.requests.get("memory", 0)
        cu = cpu / cpu_alloc if cpu_alloc else 0.0
        mu = mem / mem_alloc if mem_alloc else 0.0
        return (cu, mu, "cpu", cu) if cu > mu else (cu, mu, "memory", mu)

    @staticmethod
    def _long_terminating(pod: dict[str, Any], now: float) -> bool:
        """``drain.IsPodLongTerminating``: deletionTimestamp + grace period + 30 s is in the past."""
        deleted = parse_time(pod["metadata"].get("deletionTimestamp"))
        if deleted is None:
            return False
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30) or 0
        return deleted + grace + POD_LONG_TERMINATING_EXTRA < now

    def _long_terminating_noted(self, pod: dict[str, Any], now: float) -> bool:
        """:meth:`_long_terminating`, noting when a pod not yet long-terminating becomes so."""
        if self._long_terminating(pod, now):
            return True
        deleted = parse_time(pod["metadata"].get("deletionTimestamp"))
        if deleted is not None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30) or 0
            self._deadline = min(self._deadline, deleted + grace + POD_LONG_TERMINATING_EXTRA)
        return False

    def _pods_to_move(
        self, on_node: list[tuple[dict[str, Any], PodInfo]], now: float
    ) -> tuple[list[tuple[dict[str, Any], PodInfo]], str | None]:
        """The drainability rules in order (``simulator/drainability/rules``); the first that decides wins."""
        opts = self.options
        move: list[tuple[dict[str, Any], PodInfo]] = []
        for pod, info in on_node:
            meta = pod["metadata"]
            ann = meta.get("annotations") or {}
            ns, name = meta["namespace"], meta["name"]
            if MIRROR_ANNOTATION in ann or self._long_terminating_noted(pod, now):
                continue  # mirror and long-terminating pods are skipped
            ref = _controller(pod)
            kind = (ref or {}).get("kind")
            if kind == "DaemonSet":
                continue  # DaemonSet pods do not block
            if ann.get(SAFE_TO_EVICT) == "true":
                move.append((pod, info))
                continue
            if (pod.get("status") or {}).get("phase") in _TERMINAL:
                continue
            if kind in _REPLICATED:
                template, plural = _REPLICATED[kind]
                if self.api.peek(kind, ref["name"], ns) is None:
                    return [], template.format(ns=ns, pod=name, err=f'{plural} "{ref["name"]}" not found')
            elif ref is None or opts["skip_nodes_with_custom_controller_pods"]:
                return [], f"{ns}/{name} is not replicated"
            if ns == "kube-system" and opts["skip_nodes_with_system_pods"] and not self._pdb_for(pod):
                created = parse_time(meta.get("creationTimestamp")) or 0.0
                timeout = float(opts["blocking_system_pod_distruption_timeout"])
                if now - created < timeout:
                    self._deadline = min(self._deadline, created + timeout)
                    return (
                        [],
                        f"non-daemonset, non-mirrored, non-pdb-assigned kube-system pod present: {name}",
                    )
            if ann.get(SAFE_TO_EVICT) == "false":
                return [], f"pod annotated as not safe to evict present: {name}"
            if opts["skip_nodes_with_local_storage"] and self._local_storage(pod):
                return [], f"pod with local storage present: {name}"
            for pdb in self._pdb_for(pod):
                if ((pdb.get("status") or {}).get("disruptionsAllowed", 1) or 0) < 1:
                    return [], f"not enough pod disruption budget to move {ns}/{name}"
            move.append((pod, info))
        return move, None

    def _pdb_for(self, pod: dict[str, Any]) -> list[dict[str, Any]]:
        labels = pod["metadata"].get("labels") or {}
        out = []
        for pdb in self.api.items("PodDisruptionBudget", pod["metadata"]["namespace"]):
            sel = selector_from_dict((pdb.get("spec") or {}).get("selector"))
            if sel is not None and sel.matches(labels):
                out.append(pdb)
        return out

    @staticmethod
    def _local_storage(pod: dict[str, Any]) -> bool:
        safe = {
            v.strip()
            for v in ((pod["metadata"].get("annotations") or {}).get(SAFE_TO_EVICT_LOCAL_VOLUMES, "")).split(
                ","
            )
            if v.strip()
        }
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            local = "hostPath" in vol or (
                "emptyDir" in vol and (vol.get("emptyDir") or {}).get("medium") != "Memory"
            )
            if local and vol.get("name") not in safe:
                return True
        return False

    def _simulate_removal(
        self,
        name: str,
        to_move: list[tuple[dict[str, Any], PodInfo]],
        on_node: list[tuple[dict[str, Any], PodInfo]],
        table: NodeTable,
        planned: set[str],
    ) -> bool:
        """``simulator.RemovalSimulator``: every pod to move finds another node (not this one, not one
        already planned for removal or being deleted). Success is kept in the snapshot for the next node."""
        if not to_move:
            return True
        row = table.index[name]
        excluded = {table.index[n] for n in planned | self.deleting if n in table.index} | {row}
        rows = np.array([r for r in range(table.n) if r not in excluded], dtype=np.int64)
        for _, info in on_node:
            table.remove_pod(row, info)
        done: list[tuple[int, PodInfo]] = []
        for _, info in to_move:
            target = self._place(_unbound(info), table, rows)
            if target is None:
                for r, i in done:
                    table.remove_pod(r, i)
                for _, i in on_node:
                    table.add_pod(row, i)
                return False
            moved = _unbound(info)
            table.add_pod(target, moved)
            done.append((target, moved))
        return True

    # -- actuation --------------------------------------------------------------------------------
    @property
    def _draining(self) -> dict[str, bool]:
        return self.__dict__.setdefault("_drain_flags", {})

    def _start_deletion(
        self,
        name: str,
        to_move: list[dict[str, Any]],
        util: tuple[float, float, str, float],
        empty: bool,
        now: float,
    ) -> None:
        """actuator.go: taint the node, events, then drain and delete in the background."""
        node = self.api.peek("Node", name)
        g = self.cloud.node_group_for(name)
        if node is None or g is None:
            return
        self.deleting.add(name)
        self._draining[name] = not empty
        stamp = str(int((EPOCH + timedelta(seconds=now)).timestamp()))

        def taint(n: dict[str, Any]) -> None:
            spec = n.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or [] if t.get("key") != TO_BE_DELETED_TAINT]
            taints.append({"key": TO_BE_DELETED_TAINT, "value": stamp, "effect": "NoSchedule"})
            spec["taints"] = taints

        node = self.api.mutate("Node", name, None, taint)
        self.recorder.emit(
            node, "Normal", "ScaleDown", "marked the node as toBeDeleted/unschedulable", COMPONENT
        )
        if empty:
            self._event_status("Normal", "ScaleDownEmpty", f'Scale-down: removing empty node "{name}"')
        else:
            info = f"{{{_go_float(util[0])} {_go_float(util[1])} 0 {util[2]} {_go_float(util[3])}}}"
            names = ",".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in to_move)
            self._event_status(
                "Normal",
                "ScaleDown",
                f"Scale-down: removing node {name}, utilization: {info}, pods to reschedule: {names}",
            )
        self.unneeded_since.pop(name, None)
        self.env.process(self._drain_and_delete(name, g, to_move))

    def _drain_and_delete(self, name: str, g: NodePool, to_move: list[dict[str, Any]]):
        max_grace = int(self.options["max_graceful_termination_sec"])
        keys = [(p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"]) for p in to_move]
        for ns, pod_name, uid in keys:
            pod = self.api.peek("Pod", pod_name, ns)
            if pod is None or pod["metadata"]["uid"] != uid:
                continue
            self.recorder.emit(pod, "Normal", "ScaleDown", "deleting pod for node scale down", COMPONENT)
            grace = min(int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)), max_grace)
            with contextlib.suppress(NotFound):
                self.api.delete("Pod", pod_name, ns, grace_period_seconds=grace)
        waited = 0.0
        limit = max_grace + POD_EVICTION_HEADROOM
        while keys and waited < limit:
            keys = [
                (ns, n, uid)
                for ns, n, uid in keys
                if (p := self.api.peek("Pod", n, ns)) is not None and p["metadata"]["uid"] == uid
            ]
            if not keys:
                break
            yield self.env.timeout(DRAIN_POLL)
            waited += DRAIN_POLL
        yield self.env.timeout(float(self.options["node_delete_delay_after_taint"]))
        node = self.api.peek("Node", name)
        try:
            if keys:
                raise ValueError(
                    f"Failed to drain node /{name}, due to following errors: pods remaining after "
                    f"timeout: {len(keys)}"
                )
            if node is not None:
                self.recorder.emit(
                    node, "Normal", "ScaleDown", "nodes removed by cluster autoscaler", COMPONENT
                )
            g.delete_nodes([name])
            self.last_scale_down_delete = float(self.env.now)
        except ValueError as e:
            self.last_scale_down_failure = float(self.env.now)
            if node is not None:
                self.recorder.emit(
                    node, "Warning", "ScaleDownFailed", f"failed to delete node: {e}", COMPONENT
                )

                def untaint(n: dict[str, Any]) -> None:
                    spec = n.setdefault("spec", {})
                    spec["taints"] = [
                        t for t in spec.get("taints") or [] if t.get("key") != TO_BE_DELETED_TAINT
                    ]
                    if not spec["taints"]:
                        del spec["taints"]

                self.api.mutate("Node", name, None, untaint)
        finally:
            self.deleting.discard(name)
            self._draining.pop(name, None)
            self._dirty = True

    # -- status ConfigMap ---------------------------------------------------------------------------
    def _status_cm(self) -> dict[str, Any]:
        name = self.options["status_config_map_name"]
        cm = self.api.peek("ConfigMap", name, STATUS_NAMESPACE)
        if cm is None:
            cm = self.api.create(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": name,
                        "namespace": STATUS_NAMESPACE,
                        "annotations": {LAST_UPDATED: go_time(self.env.now)},
                    },
                    "data": {"status": f"time: {go_time(self.env.now)}\nautoscalerStatus: Initializing\n"},
                }
            )
        return cm

    def _event_status(self, type_: str, reason: str, message: str) -> None:
        self.recorder.emit(self._status_cm(), type_, reason, message, COMPONENT)

    def _cond(self, scope: str, kind: str, status: str, now: float) -> dict[str, Any]:
        """A condition's probe (a place-holder filled in with every write) and transition times."""
        prev = self._transitions.get((scope, kind))
        since = prev[1] if prev is not None and prev[0] == status else now
        self._transitions[(scope, kind)] = (status, since)
        return {"lastProbeTime": f'"{_PROBE_MARK}"', "lastTransitionTime": f'"{_rfc3339_nano(since)}"'}

    def status(self) -> dict[str, Any]:
        """The last status written, parsed back (``yaml.safe_load`` of ``data.status``)."""
        import yaml

        cm = self.api.peek("ConfigMap", self.options["status_config_map_name"], STATUS_NAMESPACE)
        return yaml.safe_load(cm["data"]["status"]) if cm else {}

    def _count_facts(
        self, node_names: list[str], creating: int, long_unregistered: int, nodes: dict[str, Any]
    ) -> tuple[int, int, int, int, int]:
        """(registered, ready, being deleted, long unregistered, unregistered) node counts."""
        ready_of = self._ready
        ready = sum(1 for n in node_names if ready_of[n])
        deleting = sum(1 for n in node_names if n in self.deleting) if self.deleting else 0
        return len(node_names), ready, deleting, long_unregistered, creating

    @staticmethod
    def _counts_doc(facts: tuple[int, int, int, int, int]) -> dict[str, Any]:
        total, ready, deleting, long_unregistered, creating = facts
        unready = total - ready
        registered: dict[str, Any] = {"total": total, "ready": ready, "notStarted": 0}
        if deleting:
            registered["beingDeleted"] = deleting
        if unready:
            registered["unready"] = {"total": unready, "resourceUnready": 0}
        return {"registered": registered, "longUnregistered": long_unregistered, "unregistered": creating}

    def _healthy(self, ready: int, unready: int) -> str:
        """clusterstate.IsClusterHealthy: unready above both the count and the percentage is unhealthy."""
        total = ready + unready
        bad = (
            unready > int(self.options["ok_total_unready_count"])
            and unready > float(self.options["max_total_unready_percentage"]) / 100 * total
        )
        return "Unhealthy" if bad else "Healthy"

    def _write_status(self, groups: list[NodePool], nodes: list[dict[str, Any]], now: float) -> None:
        """The status ConfigMap, rewritten every loop. Its text is laid out again only when some
        status, count or size in it changed; otherwise the last layout gets this loop's times."""
        # What the statuses and counts are read from; they also depend on the clock, through
        # instances that may yet overstay the provisioning time and backoffs that may yet end.
        sig = (
            self._lists[0] if self._lists is not None else None,
            self.cloud.version,
            frozenset(self.deleting),
            tuple(self.unneeded),
            tuple(self.backoff.items()),
            [(g.name, g.target_size(), g.min_size(), g.max_size()) for g in groups],
        )
        cached = self._facts_cache
        if (
            not self._full_recompute
            and cached is not None
            and now < cached[1]
            and cached[0] == sig
            and cached[2] == self.options
        ):
            key = cached[3]
            group_facts, counts, health, up, _ = key
        else:
            self._deadline = math.inf
            group_facts, counts, health, up = self._status_facts(groups, nodes, now)
            key = (tuple(group_facts), counts, health, up, len(self.unneeded))
            self._facts_cache = (sig, self._deadline - _DEADLINE_MARGIN, dict(self.options), key)
        if self._full_recompute or key != self._status_key:
            # The same statuses as the last layout mean the same transition times (``_cond``).
            self._status_text = self._status_layout(list(group_facts), counts, health, up, now)
            self._status_key = key
        stamp, probe = _stamps(now)
        text = self._status_text.replace(_PROBE_MARK, probe).replace(_TIME_MARK, stamp)
        self._status_cm()

        def write(cm: dict[str, Any]) -> None:
            cm.setdefault("metadata", {}).setdefault("annotations", {})[LAST_UPDATED] = stamp
            cm["data"] = {"status": text}

        self.api.mutate("ConfigMap", self.options["status_config_map_name"], STATUS_NAMESPACE, write)

    def _status_facts(
        self, groups: list[NodePool], nodes: list[dict[str, Any]], now: float
    ) -> tuple[list[tuple[Any, ...]], tuple[int, int, int, int, int], str, str]:
        """Per group and cluster-wide: health, node counts, sizes, scale-up status, candidates.
        Notes in ``_deadline`` when a creating instance will overstay or a backoff end."""
        by_name = {n["metadata"]["name"]: n for n in nodes}
        limit = float(self.options["max_node_provision_time"])
        all_creating = all_long = 0
        group_facts = []
        for g in groups:
            insts = g.instances()
            names = [i.node for i in insts if i.registered_s is not None and i.node in by_name]
            creating = sum(1 for i in insts if i.registered_s is None)
            long_unreg = 0
            for i in insts:
                if i.registered_s is None:
                    if now - i.requested_s >= limit:
                        long_unreg += 1
                    else:
                        self._deadline = min(self._deadline, i.requested_s + limit)
            all_creating += creating
            all_long += long_unreg
            counts = self._count_facts(names, creating, long_unreg, by_name)
            health = self._healthy(counts[1], counts[0] - counts[1])
            if self._in_backoff(g, now):
                self._deadline = min(self._deadline, self.backoff[g.name].until)
                up = "Backoff"
            elif creating:
                up = "InProgress"
            else:
                up = "NoActivity"
            backoff = None
            if up == "Backoff":
                b = self.backoff[g.name]
                backoff = (b.reason, b.message)
            cand = sum(1 for n in self.unneeded if n in names) if self.unneeded else 0
            sizes = (g.target_size(), g.min_size(), g.max_size())
            group_facts.append((g.name, health, counts, sizes, up, backoff, cand))
        counts = self._count_facts(list(by_name), all_creating, all_long, by_name)
        health = self._healthy(counts[1], counts[0] - counts[1])
        up = "InProgress" if all_creating else "NoActivity"
        return group_facts, counts, health, up

    def _status_layout(
        self, group_facts: list[tuple[Any, ...]], counts: tuple[int, ...], health: str, up: str, now: float
    ) -> str:
        """``status_configmap.go``'s YAML, with place-holders for the loop's time and probe times."""
        group_docs = []
        for name, g_health, g_counts, (target, lo, hi), g_up, backoff, cand in group_facts:
            scope = f"group/{name}"
            up_doc: dict[str, Any] = {"status": g_up}
            if backoff is not None:
                up_doc["backoffInfo"] = {"errorCode": backoff[0], "errorMessage": backoff[1]}
            down_doc: dict[str, Any] = {"status": "CandidatesPresent" if cand else "NoCandidates"}
            if cand:
                down_doc["candidates"] = cand
            group_docs.append(
                {
                    "name": name,
                    "health": {
                        "status": g_health,
                        "nodeCounts": self._counts_doc(g_counts),
                        "cloudProviderTarget": target,
                        "minSize": lo,
                        "maxSize": hi,
                        **self._cond(scope, "health", g_health, now),
                    },
                    "scaleUp": {**up_doc, **self._cond(scope, "scaleUp", g_up, now)},
                    "scaleDown": {**down_doc, **self._cond(scope, "scaleDown", down_doc["status"], now)},
                }
            )
        down: dict[str, Any] = {"status": "CandidatesPresent" if self.unneeded else "NoCandidates"}
        if self.unneeded:
            down["candidates"] = len(self.unneeded)
        doc = {
            "time": _TIME_MARK,
            "autoscalerStatus": "Running",
            "clusterWide": {
                "health": {
                    "status": health,
                    "nodeCounts": self._counts_doc(counts),
                    **self._cond("cluster", "health", health, now),
                },
                "scaleUp": {"status": up, **self._cond("cluster", "scaleUp", up, now)},
                "scaleDown": {**down, **self._cond("cluster", "scaleDown", down["status"], now)},
            },
            "nodeGroups": group_docs,
        }
        return "\n".join(_yaml(doc)) + "\n"


def _named(template: dict[str, Any], name: str) -> dict[str, Any]:
    node = {
        **template,
        "metadata": {
            **template["metadata"],
            "name": name,
            "labels": {**template["metadata"]["labels"], "kubernetes.io/hostname": name},
        },
    }
    return node


def _unbound(info: PodInfo) -> PodInfo:
    """A copy of a bound pod's info as if unbound (for the rescheduling simulation)."""
    obj = info.obj
    spec = {k: v for k, v in (obj.get("spec") or {}).items() if k != "nodeName"}
    copy = PodInfo.from_pod({**obj, "spec": spec})
    copy.uid = info.uid + "/moved"
    return copy


def _go_float(x: float) -> str:
    """Go's ``%v`` of a float64 (shortest representation, as ``strconv.FormatFloat(x, 'g', -1, 64)``)."""
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    return repr(x)

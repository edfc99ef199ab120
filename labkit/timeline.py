"""The control-plane timeline as flat records: every write to a Pod and every Event, in store order.

Components never call each other: the scheduler and the kubelet each *watch* the API server
and write back to it. :func:`record` attaches one more watcher — the way a controller's
informer does — and keeps, for every change, a :class:`Step` that says who reported what and
the :class:`PodState` of the pod as stored at that moment. Because every write (Events
included) takes the next value of the store's single revision counter, as etcd's revision,
ordering steps by ``resourceVersion`` gives the order in which things really happened.

A store's watchers only see changes made after they subscribe, so call :func:`record` right
after creating the cluster, before ``apply``. Without a recording, :func:`steps` falls back
to the event log alone (no API writes and no pod states).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from labkit.api.store import WatchEvent
    from labkit.cluster import Cluster

__all__ = ["PodState", "ReplicaSetState", "Step", "Recorder", "record", "steps", "to_frame", "APISERVER",
           "COMPONENT_ROWS"]

#: Row name of steps that are writes stored by the API server (etcd) rather than reported Events.
APISERVER = "kube-apiserver"
#: Event ``source.component`` → the control-plane binary that reported it. The scheduler reports
#: under its profile's ``schedulerName`` (``default-scheduler``); controllers under their own names.
_BINARY = {
    "default-scheduler": "kube-scheduler",
    "kubelet": "kubelet",
    "deployment-controller": "kube-controller-manager",
    "replicaset-controller": "kube-controller-manager",
    "endpoint-slice-controller": "kube-controller-manager",
    "horizontal-pod-autoscaler": "kube-controller-manager",
    "node-controller": "kube-controller-manager",
    "cluster-autoscaler": "cluster-autoscaler",
}
#: Rows in the order a request travels: stored, scheduled, reconciled, run on a node.
COMPONENT_ROWS = (APISERVER, "kube-scheduler", "kube-controller-manager", "cluster-autoscaler", "kubelet")
#: Columns of :func:`to_frame`: Kubernetes field names where the value is one.
FRAME_COLUMNS = ["time_s", "component", "reason", "object", "resourceVersion", "phase", "nodeName", "ready",
                 "message"]


@dataclass(frozen=True)
class PodState:
    """A pod as stored at one ``resourceVersion``: the fields a learner follows through its life.

    ``conditions`` are ``(type, status)`` pairs in the order of ``status.conditions``;
    ``containers`` are ``(name, state)`` pairs such as ``("nginx", "waiting: ContainerCreating")``.
    """

    name: str
    namespace: str
    uid: str
    resource_version: str
    phase: str | None
    node_name: str | None
    pod_ip: str | None
    labels: tuple[tuple[str, str], ...]
    conditions: tuple[tuple[str, str], ...]
    containers: tuple[tuple[str, str], ...]
    deleting: bool

    @classmethod
    def of(cls, pod: dict[str, Any], resource_version: str | None = None) -> PodState:
        meta = pod["metadata"]
        status = pod.get("status") or {}
        return cls(
            name=meta["name"],
            namespace=meta.get("namespace") or "default",
            uid=meta.get("uid", ""),
            resource_version=resource_version or meta.get("resourceVersion", ""),
            phase=status.get("phase"),
            node_name=(pod.get("spec") or {}).get("nodeName"),
            pod_ip=status.get("podIP"),
            labels=tuple(sorted((meta.get("labels") or {}).items())),
            conditions=tuple((c["type"], c["status"]) for c in status.get("conditions") or []),
            containers=tuple((c["name"], _container_state(c)) for c in status.get("containerStatuses") or []),
            deleting=bool(meta.get("deletionTimestamp")),
        )

    @property
    def ready(self) -> bool:
        """The ``Ready`` condition is ``True`` (what a Service's endpoints wait for)."""
        return dict(self.conditions).get("Ready") == "True"


@dataclass(frozen=True)
class ReplicaSetState:
    """A ReplicaSet as stored at one ``resourceVersion``: the sizes a rollout moves.

    ``owner`` is the name of the Deployment that controls it ("" for a bare ReplicaSet);
    ``revision`` its ``deployment.kubernetes.io/revision`` annotation.
    """

    name: str
    namespace: str
    uid: str
    owner: str
    revision: str
    desired: int
    replicas: int
    ready: int
    available: int
    terminating: int
    deleting: bool
    annotations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, rs: dict[str, Any]) -> ReplicaSetState:
        meta = rs["metadata"]
        status = rs.get("status") or {}
        owner = next((r["name"] for r in meta.get("ownerReferences") or []
                      if r.get("kind") == "Deployment" and r.get("controller")), "")
        return cls(
            name=meta["name"], namespace=meta.get("namespace") or "default", uid=meta.get("uid", ""),
            owner=owner,
            revision=(meta.get("annotations") or {}).get("deployment.kubernetes.io/revision", ""),
            desired=int((rs.get("spec") or {}).get("replicas", 1)), replicas=int(status.get("replicas", 0)),
            ready=int(status.get("readyReplicas", 0)), available=int(status.get("availableReplicas", 0)),
            terminating=int(status.get("terminatingReplicas") or 0),
            deleting=bool(meta.get("deletionTimestamp")),
            annotations=tuple(sorted((meta.get("annotations") or {}).items())),
        )


@dataclass(frozen=True)
class Step:
    """One line of the timeline: an API write to a Pod, or an Event a component reported.

    Attributes
    ----------
    time:
        Simulated seconds.
    component:
        The row it belongs to: ``kube-apiserver`` for stored writes, else the binary that
        reported the Event (``kube-scheduler``, ``kubelet``, ...).
    source:
        As the object says it: the watch type's writer is the API server itself; for an Event
        its ``source.component`` (``default-scheduler``, ``kubelet``).
    reason:
        The Event's reason (``Scheduled``, ``Pulling`` ...), or the watch type of a write
        (``ADDED``, ``MODIFIED``, ``DELETED``).
    object:
        ``Kind/name`` of the object involved.
    message:
        The Event's message, or which fields the write changed.
    resource_version:
        The store revision this step took ("" in an events-only fallback).
    pod:
        The involved pod as stored at this step, or None (not a pod, or not recorded).
    replicasets:
        Every recorded ReplicaSet as stored at this step (the sizes of a rollout), oldest first.
    """

    time: float
    component: str
    source: str
    reason: str
    object: str
    message: str
    resource_version: str
    pod: PodState | None
    replicasets: tuple[ReplicaSetState, ...] = ()


class Recorder:
    """Watches Pods and Events of one cluster and keeps the timeline (see :func:`record`)."""

    def __init__(self, cluster: Cluster) -> None:
        # A weak reference: the store (owned by the cluster) holds this recorder's handlers, and
        # the module registry holds this recorder; neither may keep the cluster alive.
        self._cluster = weakref.ref(cluster)
        self.steps: list[Step] = []
        self._pods: dict[str, PodState] = {
            pod["metadata"]["uid"]: PodState.of(pod) for pod in cluster.store.items("Pod")
        }
        self._replicasets: dict[str, ReplicaSetState] = {
            rs["metadata"]["uid"]: ReplicaSetState.of(rs) for rs in cluster.store.items("ReplicaSet")
        }
        cluster.store.watch("Pod", self._on_pod)
        cluster.store.watch("ReplicaSet", self._on_replicaset)
        cluster.store.watch("Event", self._on_event)

    def _now(self) -> float:
        cluster = self._cluster()
        return cluster.now if cluster is not None else float("nan")

    def _revision(self) -> str:
        cluster = self._cluster()
        return str(cluster.store.revision) if cluster is not None else ""

    def _on_pod(self, ev: WatchEvent) -> None:
        # DELETED carries the last stored object; its revision is the store's current one.
        rv = self._revision() if ev.type == "DELETED" else None
        state = PodState.of(ev.object, rv)
        old = self._pods.get(state.uid)
        if ev.type == "DELETED":
            self._pods.pop(state.uid, None)
            message = "deleted from the store"
        else:
            self._pods[state.uid] = state
            message = _changes(old if ev.type == "MODIFIED" else None, state)
        self.steps.append(Step(self._now(), APISERVER, APISERVER, ev.type, f"Pod/{state.name}", message,
                               state.resource_version, state, self._rs_snapshot()))

    def _rs_snapshot(self) -> tuple[ReplicaSetState, ...]:
        return tuple(self._replicasets.values())

    def _on_replicaset(self, ev: WatchEvent) -> None:
        state = ReplicaSetState.of(ev.object)
        old = self._replicasets.get(state.uid)
        if ev.type == "DELETED":
            self._replicasets.pop(state.uid, None)
            message, rv = "deleted from the store", self._revision()
        else:
            self._replicasets[state.uid] = state
            message, rv = _rs_changes(old if ev.type == "MODIFIED" else None, state), None
        self.steps.append(Step(self._now(), APISERVER, APISERVER, ev.type, f"ReplicaSet/{state.name}",
                               message, rv or ev.object["metadata"]["resourceVersion"], None,
                               self._rs_snapshot()))

    def _on_event(self, ev: WatchEvent) -> None:
        if ev.type == "DELETED":
            return
        e = ev.object
        io = e["involvedObject"]
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        message = e.get("message", "")
        if e.get("count", 1) > 1:
            message += f" (x{e['count']})"
        pod = self._pods.get(io.get("uid", "")) if io["kind"] == "Pod" else None
        self.steps.append(Step(self._now(), _BINARY.get(source, source), source, e.get("reason", ""),
                               f'{io["kind"]}/{io["name"]}', message, e["metadata"]["resourceVersion"], pod,
                               self._rs_snapshot()))


_RECORDERS: weakref.WeakKeyDictionary[Cluster, Recorder] = weakref.WeakKeyDictionary()


def record(cluster: Cluster) -> Recorder:
    """Start recording the timeline of ``cluster`` (idempotent); call it before ``apply``.

    Returns
    -------
    Recorder
        The recorder; :func:`steps` finds it again from the cluster.
    """
    rec = _RECORDERS.get(cluster)
    if rec is None:
        rec = _RECORDERS[cluster] = Recorder(cluster)
    return rec


def steps(cluster: Cluster, involved: str | None = None) -> list[Step]:
    """The timeline so far, in store order.

    Parameters
    ----------
    cluster:
        A cluster; with :func:`record` attached, API writes to Pods and pod states are included,
        otherwise only the Events of ``cluster.event_log()``.
    involved:
        Keep only steps about this object: a name (``"my-nginx"``) or ``"Kind/name"``
        (``"Pod/my-nginx"``), as ``Cluster.events(involved=...)``. For ``"Deployment/<name>"``
        the steps of its ReplicaSets are kept too (their writes and Events): the rollout.
    """
    rec = _RECORDERS.get(cluster)
    if rec is not None:
        out = list(rec.steps)
    else:
        out = [Step(e["time"], _BINARY.get(e["component"], e["component"]), e["component"], e["reason"],
                    e["object"], e["message"], "", None) for e in cluster.event_log()]
    if involved:
        owned: set[str] = set()
        if involved.startswith("Deployment/"):
            deployment = involved.split("/", 1)[1]
            owned = {f"ReplicaSet/{rs.name}" for s in out for rs in s.replicasets if rs.owner == deployment}
        out = [s for s in out if involved in (s.object, s.object.split("/", 1)[1]) or s.object in owned]
    return out


def to_frame(timeline: list[Step]) -> pd.DataFrame:
    """The steps as a pandas DataFrame, one row each, with the pod's phase, node and readiness."""
    import pandas as pd

    rows = [{
        "time_s": s.time,
        "component": s.component,
        "reason": s.reason,
        "object": s.object,
        "resourceVersion": s.resource_version,
        "phase": s.pod.phase if s.pod else None,
        "nodeName": s.pod.node_name if s.pod else None,
        "ready": s.pod.ready if s.pod else None,
        "message": s.message,
    } for s in timeline]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def _container_state(cs: dict[str, Any]) -> str:
    state = cs.get("state") or {}
    for key in ("waiting", "running", "terminated"):
        if key in state:
            reason = (state[key] or {}).get("reason")
            return f"{key}: {reason}" if reason else key
    return "unknown"


def _rs_changes(old: ReplicaSetState | None, new: ReplicaSetState) -> str:
    """Which sizes a ReplicaSet write set or changed (``spec.replicas`` and the status counts)."""
    fields = (("spec.replicas", "desired"), ("status.replicas", "replicas"),
              ("status.readyReplicas", "ready"), ("status.availableReplicas", "available"),
              ("status.terminatingReplicas", "terminating"))
    if old is None:
        return f"created (spec.replicas={new.desired})"
    parts = [f"{path}={getattr(new, attr)}" for path, attr in fields
             if getattr(old, attr) != getattr(new, attr)]
    if new.deleting and not old.deleting:
        parts.append("metadata.deletionTimestamp set")
    if new.revision != old.revision:
        parts.append(f"revision={new.revision}")
    if new.annotations != old.annotations:
        was = dict(old.annotations)
        parts += [f"metadata.annotations[{k}]={v}" for k, v in new.annotations if was.get(k) != v]
    return "; ".join(parts) or "status updated (conditions or observedGeneration)"


def _changes(old: PodState | None, new: PodState) -> str:
    """Which followed fields a write set or changed, in ``kubectl`` field-path words."""
    if old is None:
        return f"created (status.phase={new.phase})"
    parts = []
    if new.labels != old.labels:
        parts.append("metadata.labels=" + (",".join(f"{k}={v}" for k, v in new.labels) or "{}"))
    if new.deleting and not old.deleting:
        parts.append("metadata.deletionTimestamp set")
    if new.node_name != old.node_name:
        parts.append(f"spec.nodeName={new.node_name}")
    if new.phase != old.phase:
        parts.append(f"status.phase={new.phase}")
    if new.pod_ip != old.pod_ip:
        parts.append(f"status.podIP={new.pod_ip}")
    before = dict(old.conditions)
    parts += [f"{t}={s}" for t, s in new.conditions if before.get(t) != s]
    was = dict(old.containers)
    parts += [f"{n} {st}" for n, st in new.containers if was.get(n) != st]
    return "; ".join(parts) or "status updated"

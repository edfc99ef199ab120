"""The kubelet: run a bound pod (Pending → ContainerCreating → Running), probe, restart and stop it.

Upstream: ``pkg/kubelet/kubelet.go`` (``SyncPod``), ``pkg/kubelet/kuberuntime``
(sandbox, then init containers, then containers: pull → create → start; ``computePodActions``
for restarts), ``pkg/kubelet/images/image_manager.go`` (pull events) and ``pkg/kubelet/status``
(conditions). Probes live in :mod:`labkit.node.prober`, stopping containers and the
CrashLoopBackOff delay in :mod:`labkit.node.termination`, conditions and phase in
:mod:`labkit.node.status`. Times are simulated: a sandbox takes its runtime handler's start time
(:mod:`labkit.node.runtimes`), a pull the missing layers' bytes at the registry's bandwidth and
their unpacking (:mod:`labkit.node.images`), create/start a few tens of milliseconds. Each
delay carries a little seeded jitter so timelines do not line up artificially.

Simplifications: init containers complete immediately after starting; every public image can be
pulled; the application never exits on its own (only a kill stops it); a pod deleted before
any container ran is removed without a status write; a later, shorter grace period does not
cut a running stop short; a crash-looping container waits out its back-off on daemon timeouts
(``c.run()`` returns while it is in CrashLoopBackOff: run with ``until`` to watch it restart).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit.api.annotations import WORKLOAD
from labkit.api.quantity import resource_amount
from labkit.api.store import WatchEvent, timestamp
from labkit.images.registry import PullError, Registry
from labkit.node.admission import Admission, Rejection
from labkit.node.images import IMAGE_GC_PERIOD_S, NodeImages, images_to_free, pull_seconds
from labkit.node.prober import (
    PROBE_FIELDS,
    SUCCESS,
    AppModel,
    ContainerView,
    ProbeSpec,
    ProbeWorker,
    probe_output,
)
from labkit.node.runtimes import SANDBOX_SECONDS, sandbox_seconds, slowdown
from labkit.node.status import containers_ready, pod_phase, set_condition
from labkit.node.termination import Backoff, stop_container
from labkit.scheduler.podinfo import PodInfo, normalized_image_name

if TYPE_CHECKING:
    import simpy

    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.network.dataplane import AppSocket, DataPlane

__all__ = ["Kubelets", "go_duration", "SYNC_SECONDS", "SANDBOX_SECONDS"]

SYNC_SECONDS = 0.05  # watch delay + pod worker start
CREATE_SECONDS = 0.05
START_SECONDS = 0.08
STOP_SECONDS = 0.3  # the application's exit after SIGTERM unless labkit.io/sigterm-exit-after says otherwise
#: pod_workers.go: a sync that failed (CrashLoopBackOff) is retried after ``backOffPeriod``
#: (kubelet.go, 10 s) jittered by ``workerBackOffPeriodJitterFactor`` (0.5).
RESYNC_BACKOFF_SECONDS, RESYNC_JITTER = 10.0, 0.5
#: nodestatus: at most this many images in node.status.images (kubelet nodeStatusMaxImages)
NODE_STATUS_MAX_IMAGES = 50


#: Second octets of the 172.x.0.0/16 blocks that nodes' pod /24s come from, in order.
_POD_CIDR_OCTETS = (20, *range(22, 32))


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` after ``Truncate(time.Millisecond)`` ("523ms", "1.5s", "1m2.5s")."""
    ms = int(seconds * 1000 + 1e-6)  # durations are whole nanoseconds: anything finer is float noise
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, frac = divmod(rem, 1000)
    sec = f"{s}.{frac:03d}".rstrip("0").rstrip(".") if frac else f"{s}"
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


@dataclass(eq=False)
class _Container:
    """One regular container as the runtime knows it (the kubelet's view between status writes)."""

    spec: dict[str, Any]
    probes: dict[str, ProbeWorker] = field(default_factory=dict)
    id: str = ""
    image_id: str = ""
    running: bool = False
    started_at: float = 0.0
    terminating: bool = False  # SIGTERM sent
    finished_at: float = 0.0
    restarts: int = 0
    state: dict[str, Any] | None = None
    last_state: dict[str, Any] | None = None
    exited: Any = None  # a SimPy event that fires when the current run ends
    socket: AppSocket | None = None  # the application answering on the pod IP (first container)

    @property
    def started(self) -> bool:
        """prober_manager.go ``isContainerStarted``: running, and the startup probe (if any) passed."""
        startup = self.probes.get("startup")
        return self.running and (startup is None or startup.result == SUCCESS)

    @property
    def ready(self) -> bool:
        readiness = self.probes.get("readiness")
        return self.started and (readiness is None or readiness.result == SUCCESS)


@dataclass(eq=False)
class _Pod:
    uid: str
    namespace: str
    name: str
    node: str
    spec: dict[str, Any]
    app: AppModel
    containers: dict[str, _Container]
    pod_ip: str = ""
    deleting: bool = False
    handler: str = "runc"  # the runtime handler its sandbox runs with

    @property
    def full_name(self) -> str:
        """``format.Pod``: ``<name>_<namespace>(<uid>)``."""
        return f"{self.name}_{self.namespace}({self.uid})"


class Kubelets:
    """One kubelet per node behind a single pod watch (dispatch by ``spec.nodeName``)."""

    def __init__(self, env: simpy.Environment, api: APIServer, recorder: EventRecorder, rng: random.Random,
                 dataplane: DataPlane | None = None, registry: Registry | None = None) -> None:
        self.env = env
        #: where the nodes' container runtimes pull images from (labkit.images.registry)
        self.registry = registry if registry is not None else Registry()
        #: the node kernels' view of which application answers on which pod IP (for traffic)
        self.dataplane = dataplane
        self.api = api
        self.recorder = recorder
        self.rng = rng
        self.images: dict[str, NodeImages] = {}  # node -> its images and layers (containerd's store)
        self._running: set[str] = set()  # pod uids with a worker
        self._stopping: set[str] = set()  # pod uids whose containers are being stopped
        self._pod_cidr: dict[str, int] = {}
        self._next_ip: dict[str, int] = {}
        self._used_ips: dict[str, set[int]] = {}  # node -> host numbers in use in its /24
        self._pullers: dict[str, simpy.Resource] = {}
        self._pods: dict[str, _Pod] = {}  # pod uid -> runtime state, while the pod is on a node
        self.backoff = Backoff()  # one per kubelet in reality; keys carry the pod uid, so one suffices
        self.image_backoff = Backoff()  # image_manager.go: pull back-off per pod and image, 10 s to 300 s
        self._gc = None  # the image garbage collector's loop, from the first node on
        self._down: set[str] = set()  # nodes whose kubelet is stopped (Cluster.fail_node)
        self._admission: dict[str, Admission] = {}  # node -> its admitted pods (predicate.go)
        self._rejected: set[str] = set()  # pod uids refused by admission, until their status is Failed
        # Pods bound to a node name without a Node (not yet created, or deleted): node -> uid ->
        # (namespace, name). A Node that appears under that name goes through them, as a kubelet
        # that registers lists the pods bound to it.
        self._unknown: dict[str, dict[str, tuple[str, str]]] = {}
        api.watch("Pod", self._on_pod)
        api.watch("Node", self._on_node)

    def _on_node(self, ev: WatchEvent) -> None:
        name = ev.object["metadata"]["name"]
        if ev.type == "ADDED":
            store = NodeImages()
            for img in (ev.object.get("status") or {}).get("images") or []:
                size = int(img.get("sizeBytes", 0))
                for nm in img.get("names") or []:  # preloaded: their layers are on the node
                    try:
                        got = self.registry.resolve(nm)
                        layers = got.layers
                    except PullError:
                        got, layers = None, ()
                    if not layers:
                        digest = "sha256:" + hashlib.sha256(f"preloaded/{nm}".encode()).hexdigest()
                        layers = ((digest, size, size),)
                    store.add(normalized_image_name(nm), got.digest if got else layers[0][0], layers,
                              float(self.env.now))
            self.images[name] = store
            if self._gc is None:
                self._gc = self.env.process(self._image_gc())
            self._pod_cidr.setdefault(name, len(self._pod_cidr))  # a name that returns keeps its /24
            self._next_ip.setdefault(name, 2)
            self._used_ips.setdefault(name, set())
            self._admission[name] = Admission()
            for uid, (ns, pod_name) in self._unknown.pop(name, {}).items():
                pod = self.api.peek("Pod", pod_name, ns)
                if pod is not None and pod["metadata"]["uid"] == uid:
                    self._on_pod(WatchEvent("MODIFIED", "Pod", pod))
        elif ev.type == "DELETED":
            self._node_gone(name)

    def _node_gone(self, name: str) -> None:
        """The Node object is gone, and with it (in this model) the machine and its kubelet.

        Nothing on it is started, stopped or reported any more: its pods keep their last status
        (``Pending`` if they never started) until the pod GC removes them
        (:mod:`labkit.controllers.podgc`). Workers in flight find the node missing at their next
        step and end there."""
        self.images.pop(name, None)
        adm = self._admission.pop(name, None)
        waiting = self._unknown.setdefault(name, {})
        for uid, rt in list(self._pods.items()):
            if rt.node != name:
                continue
            del self._pods[uid]
            for ctr in rt.containers.values():
                for worker in ctr.probes.values():
                    worker.stop()
            self._sandbox_gone(rt)
            waiting[uid] = (rt.namespace, rt.name)
        for uid, held in (adm.pods.items() if adm is not None else ()):
            waiting.setdefault(uid, (held.namespace, held.name))
        if not waiting:
            del self._unknown[name]

    def _on_pod(self, ev: WatchEvent) -> None:
        pod = ev.object
        node = (pod.get("spec") or {}).get("nodeName")
        uid = pod["metadata"]["uid"]
        if ev.type == "DELETED":
            gone = self._pods.pop(uid, None)
            for ctr in (gone.containers.values() if gone else ()):
                for worker in ctr.probes.values():
                    worker.stop()
            if gone is not None:
                self._sandbox_gone(gone)
            if node:
                self._release(uid, node)
                waiting = self._unknown.get(node)
                if waiting is not None:
                    waiting.pop(uid, None)
            return
        if not node:
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            self._release(uid, node)  # filterOutInactivePods: a terminal pod holds nothing
            self._unknown.get(node, {}).pop(uid, None)
            return
        if node not in self.images:
            self._unknown.setdefault(node, {})[uid] = (pod["metadata"]["namespace"], pod["metadata"]["name"])
            return
        if node in self._down:
            return
        if pod["metadata"].get("deletionTimestamp"):
            if uid not in self._stopping:
                self._stopping.add(uid)
                self.env.process(self._terminate(pod))
            return
        if uid in self._running:
            return
        adm = self._admission[node]
        if uid not in adm:
            if uid in self._rejected:
                return
            # HandlePodAdditions -> canAdmitPod: the pod joins the node's active pods or is rejected.
            info = PodInfo.from_pod(pod)
            refused = adm.check(pod, info, self.api.peek("Node", node))
            if refused is not None:
                self._rejected.add(uid)
                meta = pod["metadata"]
                self.env.process(self._reject(meta["namespace"], meta["name"], uid, node, refused))
                return
            adm.add(uid, info, pod["metadata"]["namespace"], pod["metadata"]["name"])
        if phase != "Pending":
            return
        self._running.add(uid)
        if uid not in self._pods:
            self._add_pod(pod, node)
        self.env.process(self._pod_worker(pod["metadata"]["namespace"], pod["metadata"]["name"], uid, node))

    def _sandbox_gone(self, rt: _Pod) -> None:
        """The pod's network namespace is removed: nothing answers on its IP any more, and the IP
        goes back to the node's range."""
        if rt.pod_ip:
            self._used_ips.get(rt.node, set()).discard(int(rt.pod_ip.rsplit(".", 1)[1]))
        if self.dataplane is not None and rt.pod_ip:
            self.dataplane.remove(rt.pod_ip, float(self.env.now))
        if self.dataplane is not None:
            self.dataplane.sandboxes.pop(rt.uid, None)

    def _release(self, uid: str, node: str) -> None:
        self._rejected.discard(uid)
        adm = self._admission.get(node)
        if adm is not None:
            adm.remove(uid)

    def _reject(self, ns: str, name: str, uid: str, node: str, refused: Rejection):
        """``kubelet.go: rejectPod``: a Warning event and the status ``Failed`` with the reason.

        The status manager's write keeps the pod's conditions and QoS class and stamps
        ``startTime``; no container status is written, as no container was ever created."""
        yield self.env.timeout(self._jitter(SYNC_SECONDS))
        pod = self._current(ns, name, uid)
        if pod is None:
            self._rejected.discard(uid)
            return
        self._event(pod, refused.reason, refused.message, node, None, "Warning")
        now = timestamp(self.env.now)

        def failed(st: dict[str, Any]) -> None:
            st["phase"] = "Failed"
            st["reason"] = refused.reason
            st["message"] = refused.status_message
            st.setdefault("startTime", now)

        self.api.mutate_status("Pod", name, ns, failed)

    def set_node_down(self, node: str, down: bool) -> None:
        """A failed node's kubelet acts on no pod update (``Cluster.fail_node``). Back up, it goes
        through the pods bound to it, as a restarted kubelet lists them: deleted ones are stopped
        and removed, pending ones started."""
        if down:
            self._down.add(node)
            return
        self._down.discard(node)
        for pod in [p for p in self.api.items("Pod") if p["spec"].get("nodeName") == node]:
            self._on_pod(WatchEvent("MODIFIED", "Pod", pod))
        # The status manager's sync puts back what the node lifecycle controller overwrote while
        # the node was silent (Ready=False on its pods): status_manager.go syncs the kubelet's
        # view of every pod whose API status differs from it.
        for rt in [rt for rt in self._pods.values() if rt.node == node and not rt.deleting]:
            self._sync_status(rt)

    def _add_pod(self, pod: dict[str, Any], node: str) -> None:
        """``HandlePodAdditions``: runtime state, and ``probeManager.AddPod`` starts one worker per
        container and probe type (``prober_manager.go``), before any container exists."""
        meta = pod["metadata"]
        rt = _Pod(meta["uid"], meta["namespace"], meta["name"], node, pod["spec"], AppModel.from_pod(pod),
                  {c["name"]: _Container(c) for c in pod["spec"]["containers"]})
        self._pods[rt.uid] = rt
        for ctr in rt.containers.values():
            for kind in PROBE_FIELDS:
                spec = ProbeSpec.from_container(kind, ctr.spec)
                if spec is not None:
                    ctr.probes[kind] = self._worker(rt, ctr, spec)

    def _worker(self, rt: _Pod, ctr: _Container, spec: ProbeSpec) -> ProbeWorker:
        def view() -> ContainerView | None:
            if self._pods.get(rt.uid) is not rt or not ctr.id:
                return None
            return ContainerView(ctr.id, ctr.running, not ctr.running, ctr.started, ctr.started_at,
                                 rt.deleting, ctr.terminating, rt.spec.get("restartPolicy", "Always"), rt.app,
                                 lambda s: probe_output(s, ctr.spec, rt.pod_ip))

        def emit(message: str) -> None:
            pod = self.api.peek("Pod", rt.name, rt.namespace)
            if pod is not None and pod["metadata"]["uid"] == rt.uid:
                self._event(pod, "Unhealthy", message, rt.node, ctr.spec["name"], "Warning")

        return ProbeWorker(self.env, spec, view, lambda w, result: self._on_probe_result(rt, ctr, w, result),
                           emit)

    def _on_probe_result(self, rt: _Pod, ctr: _Container, worker: ProbeWorker, result: str) -> None:
        """A published verdict (``results.Manager`` updates feed the kubelet's sync loop)."""
        kind = worker.spec.kind
        if not ctr.running:
            return
        if result == "Failure" and kind in ("liveness", "startup"):
            if not rt.deleting and not ctr.terminating:
                self.env.process(self._probe_kill(rt, ctr, worker.spec))
            return
        self._sync_status(rt)
        readiness = ctr.probes.get("readiness")
        if kind == "startup" and result == SUCCESS and readiness is not None:
            readiness.poke(trigger=True)  # UpdatePodStatus: started but not ready -> probe now
        for other in ctr.probes.values():
            other.poke()

    # -- helpers --------------------------------------------------------------------------
    def _puller(self, node: str) -> simpy.Resource:
        if node not in self._pullers:
            import simpy

            self._pullers[node] = simpy.Resource(self.env, capacity=1)
        return self._pullers[node]

    def _resync(self) -> float:
        """When the pod worker retries a failed sync (``backOffPeriod`` with jitter)."""
        return round(RESYNC_BACKOFF_SECONDS * (1 + RESYNC_JITTER * self.rng.random()), 4)

    def _jitter(self, base: float) -> float:
        return round(base * (0.8 + 0.4 * self.rng.random()), 4)

    def _current(self, ns: str, name: str, uid: str) -> dict[str, Any] | None:
        """The pod, unless it was deleted, replaced, or its node is gone (nothing runs it any more)."""
        pod = self.api.peek("Pod", name, ns)
        if pod is None or pod["metadata"]["uid"] != uid or pod["metadata"].get("deletionTimestamp"):
            return None
        if pod["spec"].get("nodeName") not in self.images:
            return None
        return pod

    def _event(self, pod: dict[str, Any], reason: str, message: str, node: str, container: str | None = None,
               type_: str = "Normal") -> None:
        field = self._field_path(pod, container) if container is not None else None
        self.recorder.emit(pod, type_, reason, message, "kubelet", host=node, field_path=field)

    @staticmethod
    def _field_path(pod: dict[str, Any], container: str) -> str:
        for section in ("initContainers", "containers"):
            if any(c["name"] == container for c in pod["spec"].get(section) or []):
                return f"spec.{section}{{{container}}}"
        return f"spec.containers{{{container}}}"

    def _pod_ip(self, node: str) -> str:
        # Flannel-style: each node owns a /24 of the pod CIDR, ACK's default container CIDR
        # 172.20.0.0/16 for the first 256 nodes, then 172.22-31.x (172.21.0.0/20 is the service
        # CIDR), then 10.128.0.0/9.
        # host-local IPAM: the next free address after the last one handed out, wrapping round
        # (.0, .1 -- the bridge -- and .255 are never given)
        used = self._used_ips[node]
        n = self._next_ip[node]
        for _ in range(253):
            if n not in used:
                break
            n = n + 1 if n < 254 else 2
        used.add(n)
        self._next_ip[node] = n + 1 if n < 254 else 2
        i = self._pod_cidr[node]
        block, third = divmod(i, 256)
        if block < len(_POD_CIDR_OCTETS):
            return f"172.{_POD_CIDR_OCTETS[block]}.{third}.{n}"
        block -= len(_POD_CIDR_OCTETS)
        return f"10.{128 + block}.{third}.{n}"

    def _node_ip(self, node: str) -> str:
        obj = self.api.peek("Node", node)
        for addr in ((obj or {}).get("status") or {}).get("addresses") or []:
            if addr.get("type") == "InternalIP":
                return addr["address"]
        return ""

    def _patch_status(self, ns: str, name: str, uid: str, mutate) -> dict[str, Any] | None:
        if self._current(ns, name, uid) is None:
            return None
        # The kubelet's status manager writes the status subresource (PUT .../pods/<name>/status).
        return self.api.mutate_status("Pod", name, ns, mutate)

    # -- SyncPod -----------------------------------------------------------------------------
    def _pod_worker(self, ns: str, name: str, uid: str, node: str):
        """The pod worker: one SyncPod run, after which the pod may get a new worker."""
        try:
            yield from self._sync_pod(ns, name, uid, node)
        finally:
            self._running.discard(uid)

    def _sync_pod(self, ns: str, name: str, uid: str, node: str):
        env = self.env
        yield env.timeout(self._jitter(SYNC_SECONDS))
        pod = self._current(ns, name, uid)
        if pod is None:
            return
        spec = pod["spec"]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        names = [c["name"] for c in spec["containers"]]
        now = timestamp(env.now)
        unready = f"containers with unready status: [{' '.join(names)}]"

        def first_status(st: dict[str, Any]) -> None:
            st["phase"] = "Pending"
            st["hostIP"] = self._node_ip(node)
            st["hostIPs"] = [{"ip": st["hostIP"]}] if st["hostIP"] else []
            st["startTime"] = now
            cond = {c["type"]: c for c in st.get("conditions") or []}
            init_ok = not inits
            incomplete = f"containers with incomplete status: [{' '.join(inits)}]"
            st["conditions"] = [
                {"type": "PodReadyToStartContainers", "status": "False", "lastProbeTime": None,
                 "lastTransitionTime": now},
                {"type": "Initialized", "status": "True" if init_ok else "False", "lastProbeTime": None,
                 "lastTransitionTime": now,
                 **({} if init_ok else {"reason": "ContainersNotInitialized", "message": incomplete})},
                {"type": "Ready", "status": "False", "lastProbeTime": None, "lastTransitionTime": now,
                 "reason": "ContainersNotReady", "message": unready},
                {"type": "ContainersReady", "status": "False", "lastProbeTime": None,
                 "lastTransitionTime": now, "reason": "ContainersNotReady", "message": unready},
                cond.get("PodScheduled", {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                          "lastTransitionTime": now}),
            ]
            waiting = "PodInitializing" if inits else "ContainerCreating"
            st["containerStatuses"] = [self._waiting(c, waiting) for c in spec["containers"]]
            if inits:
                st["initContainerStatuses"] = [self._waiting(c, "PodInitializing")
                                               for c in spec["initContainers"]]
            st.setdefault("qosClass", "BestEffort")

        if self._patch_status(ns, name, uid, first_status) is None:
            return
        # RunPodSandbox with the pod's runtime handler (its RuntimeClass's; runc without one): a
        # network namespace + CNI gives the pod its IP; Kata and runV boot a VM first.
        handler = yield from self._sandbox_handler(ns, name, uid, node, spec)
        if handler is None:
            return
        rt = self._pods.get(uid)
        if rt is not None:
            rt.handler = handler
        yield env.timeout(self._jitter(sandbox_seconds(handler)))
        memory = (spec.get("overhead") or {}).get("memory")
        if memory is not None and self.dataplane is not None and self._pods.get(uid) is not None:
            # the VM's memory sits in the pod's cgroup beside its containers: the node's total counts it
            self.dataplane.sandboxes[uid] = (node, resource_amount("memory", memory))
        ip = self._pod_ip(node)

        rt = self._pods.get(uid)
        if rt is not None:
            rt.pod_ip = ip

        def sandbox_ready(st: dict[str, Any]) -> None:
            st["podIP"] = ip
            st["podIPs"] = [{"ip": ip}]
            _set(st, "PodReadyToStartContainers", "True", timestamp(env.now))

        if self._patch_status(ns, name, uid, sandbox_ready) is None:
            return
        for c in spec.get("initContainers") or []:
            ok = yield from self._start_container(ns, name, uid, node, c, init=True)
            if not ok:
                return
        if inits:
            def initialized(st: dict[str, Any]) -> None:
                st = _set(st, "Initialized", "True", timestamp(env.now))
                for c in st["containerStatuses"]:
                    c["state"] = {"waiting": {"reason": "ContainerCreating"}}
            self._patch_status(ns, name, uid, initialized)
        for c in spec["containers"]:
            ok = yield from self._start_container(ns, name, uid, node, c, init=False)
            if not ok:
                return

    @staticmethod
    def _waiting(c: dict[str, Any], reason: str) -> dict[str, Any]:
        return {"name": c["name"], "image": c["image"], "imageID": "", "ready": False, "restartCount": 0,
                "started": False, "state": {"waiting": {"reason": reason}}}

    def _start_container(self, ns: str, name: str, uid: str, node: str, c: dict[str, Any], init: bool):
        env = self.env
        pod = self._current(ns, name, uid)
        if pod is None:
            return False
        image = c["image"]
        key = normalized_image_name(image)
        store = self.images[node]
        policy = c.get("imagePullPolicy", "IfNotPresent")
        if policy == "Never" and key not in store:
            self._event(pod, "ErrImageNeverPull",
                        f'Container image "{image}" is not present with pull policy of Never', node,
                        c["name"], "Warning")
            return False
        if policy == "Always" or key not in store:
            ok = yield from self._pull(ns, name, uid, node, c, init)
            if not ok:
                return False
        else:
            self._event(pod, "Pulled", f'Container image "{image}" already present on machine and can be '
                        "accessed by the pod", node, c["name"])
        yield env.timeout(self._jitter(CREATE_SECONDS))
        pod = self._current(ns, name, uid)
        if pod is None:
            return False
        # kuberuntime_container.go (v1.36): startContainer records "Container created" / "Container started".
        self._event(pod, "Created", "Container created", node, c["name"])
        yield env.timeout(self._jitter(START_SECONDS))
        pod = self._current(ns, name, uid)
        if pod is None:
            return False
        self._event(pod, "Started", "Container started", node, c["name"])
        started = timestamp(env.now)
        section = "initContainerStatuses" if init else "containerStatuses"
        store = self.images.get(node)
        digest = _image_id(image, store.images[key][0]) if store is not None and key in store else ""
        if store is not None and key in store:
            store.last_used[key] = float(env.now)

        if not init:
            rt = self._pods.get(uid)
            if rt is None:
                return False
            ctr = rt.containers[c["name"]]
            if ctr.state is not None:
                ctr.restarts += 1  # a replacement container
                ctr.last_state = ctr.state
            suffix = f"/{ctr.restarts}" if ctr.restarts else ""
            ctr.id = "containerd://" + hashlib.sha256(f"{uid}/{c['name']}{suffix}".encode()).hexdigest()
            ctr.image_id = digest
            ctr.running, ctr.terminating, ctr.started_at = True, False, env.now
            ctr.state = {"running": {"startedAt": started}}
            ctr.exited = env.event()
            if self.dataplane is not None and ctr.spec is rt.spec["containers"][0] and rt.pod_ip:
                # The first container serves the pod's traffic (labkit.network.dataplane).
                kind = (pod["metadata"].get("annotations") or {}).get(WORKLOAD, "cpu")
                ctr.socket = self.dataplane.serve(pod, rt.pod_ip, node, float(env.now), rt.app.ready_after,
                                                  rt.app.fail_after, ctr.restarts, slowdown(rt.handler, kind))
            elif self.dataplane is not None:
                # The others only have a cgroup: their resource usage (labkit.metrics.usage).
                ctr.socket = self.dataplane.run(pod, c["name"], node, float(env.now), ctr.restarts)
            self._sync_status(rt)
            for worker in ctr.probes.values():
                # UpdatePodStatus after the start: a started container without a readiness verdict
                # triggers an immediate readiness probe (prober_manager.go).
                worker.poke(trigger=worker.spec.kind == "readiness" and ctr.started)
            return True

        def mark(st: dict[str, Any]) -> None:
            for cs in st.get(section) or []:
                if cs["name"] == c["name"]:
                    cs["imageID"] = digest
                    cs["started"] = False
                    cs["ready"] = True
                    cs["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                                  "startedAt": started, "finishedAt": started}}
                    cid = hashlib.sha256(f"{uid}/{c['name']}".encode()).hexdigest()
                    cs["containerID"] = f"containerd://{cid}"

        self._patch_status(ns, name, uid, mark)
        return True

    # -- status ------------------------------------------------------------------------------
    def _sync_status(self, rt: _Pod, terminal: bool = False) -> None:
        """The status manager's write: container statuses from the runtime, then phase
        (``getPhase``) and the Ready / ContainersReady conditions (``status/generate.go``).
        Nothing is written when nothing changed."""
        pod = self.api.peek("Pod", rt.name, rt.namespace)
        if pod is None or pod["metadata"]["uid"] != rt.uid or self._pods.get(rt.uid) is not rt:
            return  # deleted, or its node is gone
        policy = rt.spec.get("restartPolicy", "Always")

        def will_restart(cs: dict[str, Any]) -> bool:
            if terminal:
                return False  # a pod being deleted ends whatever its restart policy
            code = cs["state"]["terminated"]["exitCode"]
            return policy == "Always" or (policy == "OnFailure" and code != 0)

        now = timestamp(self.env.now)
        old = pod.get("status") or {}
        st = {**old, "containerStatuses": [dict(cs) for cs in old.get("containerStatuses") or []],
              "conditions": [dict(cond) for cond in old.get("conditions") or []]}
        for cs in st["containerStatuses"]:
            ctr = rt.containers.get(cs["name"])
            if ctr is None or ctr.state is None:
                continue
            cs["imageID"] = ctr.image_id
            cs["ready"] = ctr.ready
            cs["restartCount"] = ctr.restarts
            cs["started"] = ctr.started
            cs["state"] = ctr.state
            if ctr.last_state is not None:
                cs["lastState"] = ctr.last_state
            cs["containerID"] = ctr.id
        phase = pod_phase(rt.spec, st["containerStatuses"], will_restart)
        if phase != "Pending" or st.get("phase") != "Pending":
            st["phase"] = phase
        status, reason, message = containers_ready(rt.spec, st["containerStatuses"], st["phase"])
        set_condition(st, "ContainersReady", status, reason, message, now)
        set_condition(st, "Ready", status, reason, message, now)
        if st != old:
            self.api.mutate_status("Pod", rt.name, rt.namespace, lambda s: (s.clear(), s.update(st)))

    # -- restarts ------------------------------------------------------------------------------
    def _probe_kill(self, rt: _Pod, ctr: _Container, spec: ProbeSpec):
        """``computePodActions``: a container that failed its liveness or startup probe is killed
        and, unless the restart policy is Never, started again (``kuberuntime_manager.go``)."""
        yield self.env.timeout(self._jitter(SYNC_SECONDS))
        pod = self._current(rt.namespace, rt.name, rt.uid)
        if pod is None or not ctr.running or ctr.terminating:
            return
        restart = rt.spec.get("restartPolicy", "Always") != "Never"
        message = f"Container {ctr.spec['name']} failed {spec.kind} probe"
        if restart:
            message += ", will be restarted"
        self._event(pod, "Killing", message, rt.node, ctr.spec["name"])
        # The probe's own terminationGracePeriodSeconds, else the pod's.
        grace = spec.termination_grace if spec.termination_grace is not None \
            else rt.spec.get("terminationGracePeriodSeconds", 30)
        yield from self._stop(rt, ctr, grace, self._exit_after(rt))
        yield from self._restart(rt, ctr)

    def _exit_after(self, rt: _Pod) -> float:
        """How long the application takes to exit after SIGTERM."""
        if rt.app.sigterm_exit_after is not None:
            return rt.app.sigterm_exit_after
        return self._jitter(STOP_SECONDS)

    def _stop(self, rt: _Pod, ctr: _Container, grace: int, exit_after: float):
        """``killContainer`` after the Killing event; the container's run ends with its exit code."""
        def hook_failed() -> None:
            pod = self.api.peek("Pod", rt.name, rt.namespace)
            if pod is not None and pod["metadata"]["uid"] == rt.uid:
                # The error text is withheld so that secrets cannot leak (kuberuntime_container.go).
                self._event(pod, "FailedPreStopHook", "PreStopHook failed", rt.node, ctr.spec["name"],
                            "Warning")

        def sigterm() -> None:
            ctr.terminating = True
            if ctr.socket is not None:
                self.dataplane.close(ctr.socket, float(self.env.now))
            for worker in ctr.probes.values():
                worker.poke()

        result = yield from stop_container(self.env, ctr.spec, grace, exit_after, hook_failed, sigterm)
        ctr.running = False
        ctr.finished_at = self.env.now
        if ctr.socket is not None:
            self.dataplane.exit(ctr.socket, float(self.env.now))
            ctr.socket = None
        code = result.exit_code
        ctr.state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                    "startedAt": ctr.state["running"]["startedAt"],
                                    "finishedAt": timestamp(self.env.now), "containerID": ctr.id}}
        ctr.exited.succeed()
        for worker in ctr.probes.values():
            worker.poke()
        if not rt.deleting:
            self._sync_status(rt)

    def _restart(self, rt: _Pod, ctr: _Container):
        """Restart an exited container as its pod's restart policy allows, with CrashLoopBackOff
        (``doBackOff``): each sync while the back-off lasts writes the waiting state and a BackOff event."""
        name = ctr.spec["name"]
        policy = rt.spec.get("restartPolicy", "Always")
        code = ctr.state["terminated"]["exitCode"]
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            return
        key = f"{rt.uid}/{name}"
        yield self.env.timeout(self._jitter(SYNC_SECONDS))  # PLEG notices the exit, the pod worker syncs
        while True:
            pod = self._current(rt.namespace, rt.name, rt.uid)
            if pod is None or self._pods.get(rt.uid) is not rt:
                return
            if not self.backoff.in_backoff_since(key, ctr.finished_at, self.env.now):
                break
            self._event(pod, "BackOff", f"Back-off restarting failed container {name} in pod {rt.full_name}",
                        rt.node, name, "Warning")
            delay = go_duration(self.backoff.get(key))
            ctr.last_state = ctr.state if "terminated" in ctr.state else ctr.last_state
            message = f"back-off {delay} restarting failed container={name} pod={rt.full_name}"
            ctr.state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
            self._sync_status(rt)
            # The pod worker retries the failed sync later: a periodic loop, so a daemon wait.
            yield self.env.daemon_timeout(self._resync())
        self.backoff.next(key, ctr.finished_at, self.env.now)
        if "waiting" in ctr.state:
            ctr.state = ctr.last_state  # the replacement's lastState is the run that ended
        yield from self._start_container(rt.namespace, rt.name, rt.uid, rt.node, ctr.spec, init=False)

    def _pull(self, ns: str, name: str, uid: str, node: str, c: dict[str, Any], init: bool):
        """``EnsureImageExists`` from ``Pulling`` on: the runtime fetches the manifest and the layers
        the node lacks; a failure is ``ErrImagePull``, after which the pod worker retries on its
        resync while the back-off (10 s doubling to 300 s, per pod and image) lasts, each time
        ``ImagePullBackOff``. True once the image is on the node; False if the pod went away."""
        env = self.env
        image, key = c["image"], normalized_image_name(c["image"])
        backoff_key = f"{uid}/{image}"
        error, failed_at = "", 0.0
        while True:
            pod = self._current(ns, name, uid)
            if pod is None:
                return False
            if error and self.image_backoff.in_backoff_since(backoff_key, failed_at, env.now):
                self._event(pod, "BackOff", f'Back-off pulling image "{image}"', node, c["name"])
                self._waiting_status(ns, name, uid, c["name"], init, "ImagePullBackOff",
                                     f'Back-off pulling image "{image}": ErrImagePull: {error}')
                self._event(pod, "Failed", "Error: ImagePullBackOff", node, c["name"], "Warning")
                yield env.daemon_timeout(self._resync())
                continue
            self._event(pod, "Pulling", f'Pulling image "{image}"', node, c["name"])
            asked = env.now
            # serializeImagePulls defaults to true: one pull at a time per node, in request order.
            with self._puller(node).request() as turn:
                yield turn
                store = self.images.get(node)
                if store is None:
                    return False
                try:
                    got = self.registry.resolve(image)
                except PullError as e:
                    yield env.timeout(self._jitter(self.registry.host(_registry_of(image)).rtt_s))
                    error = str(e)
                    got = None
                else:
                    missing = store.missing(got.layers)
                    seconds = self._jitter(pull_seconds(got.host.rtt_s, got.host.down_bytes_per_s, missing))
                    yield env.timeout(seconds)
                    fresh = key not in store
                    store.add(key, got.digest, got.layers, float(env.now))
            pod = self._current(ns, name, uid)
            if pod is None:
                return False
            if got is not None:
                took, waited = go_duration(seconds), go_duration(env.now - asked)
                self._event(pod, "Pulled", f'Successfully pulled image "{image}" in {took} ({waited} '
                            f"including waiting). Image size: {got.size_bytes} bytes.", node, c["name"])
                if fresh:
                    self._record_image(node, key, got.size_bytes)
                return True
            failed_at = env.now
            self._event(pod, "Failed", f'Failed to pull image "{image}": {error}', node, c["name"], "Warning")
            self._event(pod, "Failed", "Error: ErrImagePull", node, c["name"], "Warning")
            self._waiting_status(ns, name, uid, c["name"], init, "ErrImagePull", error)
            self.image_backoff.next(backoff_key, failed_at, env.now)
            yield env.daemon_timeout(self._resync())

    def _sandbox_handler(self, ns: str, name: str, uid: str, node: str, spec: dict[str, Any]):
        """The CRI handler for the pod's sandbox, once the node offers it; None if the pod went away.

        ``kuberuntime_sandbox.go``: the handler is the RuntimeClass's ``handler``; a handler the
        node's containerd lacks fails ``RunPodSandbox`` (``FailedCreatePodSandBox``), and the pod
        worker retries on its resync, each time failing again, until the pod is deleted."""
        rc_name = spec.get("runtimeClassName")
        while True:
            handler = "runc"
            if rc_name:
                rc = self.api.peek("RuntimeClass", rc_name, None)
                handler = rc["handler"] if rc is not None else ""
            node_obj = self.api.peek("Node", node, None)
            status = (node_obj or {}).get("status") or {}
            offered = {h.get("name") for h in status.get("runtimeHandlers") or []}
            if handler and (handler in offered or (handler == "runc" and not offered)):
                return handler
            pod = self._current(ns, name, uid)
            if pod is None:
                return None
            why = (f'no runtime for "{handler}" is configured' if handler else
                   f'RuntimeClass "{rc_name}" not found')
            self._event(pod, "FailedCreatePodSandBox", "Failed to create pod sandbox: rpc error: code = "
                        f"Unknown desc = failed to get sandbox runtime: {why}", node, None, "Warning")
            yield self.env.daemon_timeout(self._resync())

    def _waiting_status(self, ns: str, name: str, uid: str, container: str, init: bool, reason: str,
                        message: str) -> None:
        section = "initContainerStatuses" if init else "containerStatuses"

        def mutate(st: dict[str, Any]) -> None:
            for cs in st.get(section) or []:
                if cs["name"] == container:
                    cs["state"] = {"waiting": {"reason": reason, "message": message}}

        self._patch_status(ns, name, uid, mutate)

    def _image_gc(self):
        """``image_gc_manager.go`` every ``ImageGCPeriod`` (5 min) on every node: above 85% of the
        image filesystem (the node's ``ephemeral-storage``), delete unused images down to 80%
        (:func:`labkit.node.images.images_to_free`), or say ``FreeDiskSpaceFailed``."""

        while True:
            yield self.env.daemon_timeout(IMAGE_GC_PERIOD_S)
            now = float(self.env.now)
            used: dict[str, set[str]] = {}  # node -> the images its pods' containers use
            for rt in self._pods.values():
                for c in [*(rt.spec.get("initContainers") or []), *rt.spec["containers"]]:
                    used.setdefault(rt.node, set()).add(normalized_image_name(c["image"]))
            for node, store in list(self.images.items()):
                node_obj = self.api.peek("Node", node, None)
                if node_obj is None or node in self._down:
                    continue
                capacity = resource_amount("ephemeral-storage",
                                           (node_obj.get("status") or {}).get("capacity", {}).get(
                                               "ephemeral-storage", "0"))
                if capacity <= 0:
                    continue
                names, to_free, freed = images_to_free(store, capacity, used.get(node, set()), now)
                for name in names:
                    store.remove(name)
                if names:
                    self._forget_images(node, set(names))
                if to_free and freed < to_free:
                    used = 100 - (capacity - store.used_bytes()) * 100 // capacity
                    self.recorder.emit(node_obj, "Warning", "FreeDiskSpaceFailed",
                                       _disk_message(used, capacity, freed), "kubelet", host=node)

    def _forget_images(self, node: str, names: set[str]) -> None:
        def mutate(n: dict[str, Any]) -> None:
            st = n.setdefault("status", {})
            st["images"] = [i for i in st.get("images") or [] if not set(i.get("names") or []) & names]
        self.api.mutate("Node", node, None, mutate)

    def _record_image(self, node: str, key: str, size: int) -> None:
        """Add a pulled image to ``node.status.images``: the largest first, at most
        ``nodeStatusMaxImages`` (50) of them (``nodestatus/setters.go: Images``)."""
        def mutate(n: dict[str, Any]) -> None:
            imgs = n.setdefault("status", {}).setdefault("images", [])
            imgs.append({"names": [key], "sizeBytes": size})
            imgs.sort(key=lambda i: -i["sizeBytes"])
            del imgs[NODE_STATUS_MAX_IMAGES:]
        if self.api.peek("Node", node) is not None:
            self.api.mutate("Node", node, None, mutate)

    def _terminate(self, pod: dict[str, Any]):
        """A deleted pod on this node: stop its running containers (``killPod``), then remove the object.

        The API server set ``deletionTimestamp``; every running container gets a Killing event and
        is stopped in parallel (preStop hook, SIGTERM, SIGKILL at the end of the grace period,
        ``kuberuntime_container.go: killContainer``) while readiness probes keep running. The pod's
        terminal phase is written (``getPhase``: Succeeded when every container exited with 0, else
        Failed) and the kubelet deletes the pod with grace period 0 (``status_manager.go:
        canBeDeleted``), which removes it from the API.
        """
        meta = pod["metadata"]
        node = pod["spec"]["nodeName"]
        stop_time = self._jitter(STOP_SECONDS)
        try:
            rt = self._pods.get(meta["uid"])
            waits = []
            if rt is not None:
                rt.deleting = True
                grace = meta.get("deletionGracePeriodSeconds",
                                 pod["spec"].get("terminationGracePeriodSeconds", 30))
                exit_after = rt.app.sigterm_exit_after if rt.app.sigterm_exit_after is not None else stop_time
                for ctr in rt.containers.values():
                    for worker in ctr.probes.values():
                        worker.poke()
                    if ctr.running and not ctr.terminating:
                        name = ctr.spec["name"]
                        self._event(pod, "Killing", f"Stopping container {name}", node, name)
                        waits.append(self.env.process(self._stop(rt, ctr, grace, exit_after)))
                    elif ctr.running:
                        waits.append(ctr.exited)  # already being stopped (a probe kill)
            if waits:
                yield self.env.all_of(waits)
                self._sync_status(rt, terminal=True)
            else:
                yield self.env.timeout(stop_time)  # nothing ran: only the sandbox goes
            current = self.api.peek("Pod", meta["name"], meta["namespace"])
            if current is not None and current["metadata"]["uid"] == meta["uid"] and node in self.images:
                # (a node deleted meanwhile took its kubelet: the pod GC force-deletes the pod)
                self.api.delete("Pod", meta["name"], meta["namespace"], grace_period_seconds=0)
        finally:
            self._stopping.discard(meta["uid"])


def _set(st: dict[str, Any], type_: str, status: str, now: str) -> dict[str, Any]:
    for c in st.get("conditions") or []:
        if c["type"] == type_:
            if c["status"] != status:
                c["lastTransitionTime"] = now
            c["status"] = status
            if status == "True":
                c.pop("reason", None)
                c.pop("message", None)
    return st


def _registry_of(image: str) -> str:
    from labkit.images.reference import ImageReferenceError, parse_reference

    try:
        return parse_reference(image).registry
    except ImageReferenceError:
        return "docker.io"


def _image_id(image: str, digest: str) -> str:
    """``imageID`` as containerd reports it: the repository's normalized name and the manifest digest."""
    from labkit.images.reference import ImageReferenceError, parse_reference

    try:
        return f"{parse_reference(image).name}@{digest}"
    except ImageReferenceError:
        return digest


def _disk_message(used_percent: int, capacity: int, freed: int) -> str:
    """``image_gc_manager.go: freeSpace``'s FreeDiskSpaceFailed message (``formatSize``: GiB, one decimal)."""
    return (f"Insufficient free disk space on the node's image filesystem ({used_percent}% of "
            f"{capacity / 2**30:.1f} GiB used). Failed to free sufficient space by deleting unused images "
            f"(freed {freed} bytes). Investigate disk usage, as it could be used by active images, logs, "
            "volumes, or other data.")

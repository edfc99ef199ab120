"""The kubelet: take a bound pod from Pending through ContainerCreating to Running.

Upstream: ``pkg/kubelet/kubelet.go`` (``SyncPod``), ``pkg/kubelet/kuberuntime``
(sandbox, then init containers, then containers: pull → create → start),
``pkg/kubelet/images/image_manager.go`` (pull events) and ``pkg/kubelet/status`` (conditions).
Times are simulated: a sandbox takes :data:`SANDBOX_SECONDS`, a pull its bytes over the
node's bandwidth (:mod:`labkit.node.images`), create/start a few tens of milliseconds. Each
delay carries a little seeded jitter so timelines do not line up artificially.

Simplifications: no probes (a started container is Ready at once), init containers complete
immediately after starting, and every image can be pulled.
"""

from __future__ import annotations

import hashlib
import random
from typing import TYPE_CHECKING, Any

from labkit.api.store import WatchEvent, timestamp
from labkit.node.images import REGISTRY_RTT, image_size, pull_seconds
from labkit.scheduler.podinfo import normalized_image_name

if TYPE_CHECKING:
    import simpy

    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer

__all__ = ["Kubelets", "go_duration", "SYNC_SECONDS", "SANDBOX_SECONDS"]

SYNC_SECONDS = 0.05  # watch delay + pod worker start
SANDBOX_SECONDS = 0.4  # RunPodSandbox with the CNI plugin (illustrative)
CREATE_SECONDS = 0.05
START_SECONDS = 0.08
STOP_SECONDS = 0.3


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


class Kubelets:
    """One kubelet per node behind a single pod watch (dispatch by ``spec.nodeName``)."""

    def __init__(self, env: simpy.Environment, api: APIServer, recorder: EventRecorder, rng: random.Random
                 ) -> None:
        self.env = env
        self.api = api
        self.recorder = recorder
        self.rng = rng
        self.images: dict[str, dict[str, int]] = {}  # node -> image cache (normalized name -> bytes)
        self._running: set[str] = set()  # pod uids with a worker
        self._stopping: set[str] = set()  # pod uids whose containers are being stopped
        self._pod_cidr: dict[str, int] = {}
        self._next_ip: dict[str, int] = {}
        self._pullers: dict[str, simpy.Resource] = {}
        api.watch("Pod", self._on_pod)
        api.watch("Node", self._on_node)

    def _on_node(self, ev: WatchEvent) -> None:
        name = ev.object["metadata"]["name"]
        if ev.type == "ADDED":
            cache: dict[str, int] = {}
            for img in (ev.object.get("status") or {}).get("images") or []:
                for nm in img.get("names") or []:
                    cache[normalized_image_name(nm)] = int(img.get("sizeBytes", 0))
            self.images[name] = cache
            self._pod_cidr[name] = len(self._pod_cidr)
            self._next_ip[name] = 2
        elif ev.type == "DELETED":
            self.images.pop(name, None)

    def _on_pod(self, ev: WatchEvent) -> None:
        pod = ev.object
        node = (pod.get("spec") or {}).get("nodeName")
        uid = pod["metadata"]["uid"]
        if ev.type == "DELETED" or not node or node not in self.images:
            return
        if pod["metadata"].get("deletionTimestamp"):
            if uid not in self._stopping:
                self._stopping.add(uid)
                self.env.process(self._terminate(pod))
            return
        if uid in self._running:
            return
        if pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Pending":
            return
        self._running.add(uid)
        self.env.process(self._pod_worker(pod["metadata"]["namespace"], pod["metadata"]["name"], uid, node))

    # -- helpers --------------------------------------------------------------------------
    def _puller(self, node: str) -> simpy.Resource:
        if node not in self._pullers:
            import simpy

            self._pullers[node] = simpy.Resource(self.env, capacity=1)
        return self._pullers[node]

    def _jitter(self, base: float) -> float:
        return round(base * (0.8 + 0.4 * self.rng.random()), 4)

    def _current(self, ns: str, name: str, uid: str) -> dict[str, Any] | None:
        pod = self.api.peek("Pod", name, ns)
        if pod is None or pod["metadata"]["uid"] != uid or pod["metadata"].get("deletionTimestamp"):
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
        # Flannel-style: each node owns a /24 of the pod CIDR (ACK's Flannel default 172.20.0.0/16).
        n = self._next_ip[node]
        self._next_ip[node] = n + 1
        return f"172.20.{self._pod_cidr[node]}.{n}"

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
        # RunPodSandbox: network namespace + CNI gives the pod its IP.
        yield env.timeout(self._jitter(SANDBOX_SECONDS))
        ip = self._pod_ip(node)

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
        cache = self.images[node]
        policy = c.get("imagePullPolicy", "IfNotPresent")
        if policy == "Never" and key not in cache:
            self._event(pod, "ErrImageNeverPull",
                        f'Container image "{image}" is not present with pull policy of Never', node,
                        c["name"], "Warning")
            return False
        if policy == "Always" or key not in cache:
            self._event(pod, "Pulling", f'Pulling image "{image}"', node, c["name"])
            asked = env.now
            # serializeImagePulls defaults to true: one pull at a time per node, in request order.
            with self._puller(node).request() as turn:
                yield turn
                # Layers already on the node (cached, or pulled while we waited) only cost the
                # registry round trip that checks the manifest.
                seconds = self._jitter(pull_seconds(image) if key not in cache else REGISTRY_RTT)
                yield env.timeout(seconds)
                cached = key in cache
                cache[key] = cache.get(key) or image_size(image)
            pod = self._current(ns, name, uid)
            if pod is None:
                return False
            size = cache[key]
            took, waited = go_duration(seconds), go_duration(env.now - asked)
            self._event(pod, "Pulled", f'Successfully pulled image "{image}" in {took} ({waited} including '
                        f"waiting). Image size: {size} bytes.", node, c["name"])
            if not cached:
                self._record_image(node, key, size)
        else:
            self._event(pod, "Pulled", f'Container image "{image}" already present on machine and can be '
                        "accessed by the pod", node, c["name"])
        yield env.timeout(self._jitter(CREATE_SECONDS))
        pod = self._current(ns, name, uid)
        if pod is None:
            return False
        self._event(pod, "Created", f"Created container: {c['name']}", node, c["name"])
        yield env.timeout(self._jitter(START_SECONDS))
        pod = self._current(ns, name, uid)
        if pod is None:
            return False
        self._event(pod, "Started", f"Started container {c['name']}", node, c["name"])
        started = timestamp(env.now)
        section = "initContainerStatuses" if init else "containerStatuses"
        sha = hashlib.sha256(key.encode()).hexdigest()
        digest = f"docker.io/library/{key.split(':')[0]}@sha256:{sha}" if "/" not in key \
            else f"{key.split(':')[0]}@sha256:{sha}"

        def mark(st: dict[str, Any]) -> None:
            for cs in st.get(section) or []:
                if cs["name"] == c["name"]:
                    cs["imageID"] = digest
                    cs["started"] = not init
                    cs["ready"] = not init or cs.get("ready", False)
                    if init:
                        cs["ready"] = True
                        cs["state"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                                      "startedAt": started, "finishedAt": started}}
                    else:
                        cs["state"] = {"running": {"startedAt": started}}
                    cid = hashlib.sha256(f"{uid}/{c['name']}".encode()).hexdigest()
                    cs["containerID"] = f"containerd://{cid}"
            if not init and not any("waiting" in cs["state"] for cs in st.get("containerStatuses") or []):
                # getPhase (pkg/kubelet/kubelet_pods.go): no container left waiting -> Running, in the same
                # status as the last container's start; without probes a started container is ready, so
                # ContainersReady and Ready turn True with it (pkg/kubelet/status/generate.go).
                st["phase"] = "Running"
                _set(st, "ContainersReady", "True", started)
                _set(st, "Ready", "True", started)

        self._patch_status(ns, name, uid, mark)
        return True

    def _record_image(self, node: str, key: str, size: int) -> None:
        """Add a pulled image to ``node.status.images`` (the kubelet's node status reports them)."""
        def mutate(n: dict[str, Any]) -> None:
            imgs = n.setdefault("status", {}).setdefault("images", [])
            imgs.append({"names": [key], "sizeBytes": size})
        if self.api.peek("Node", node) is not None:
            self.api.mutate("Node", node, None, mutate)

    def _terminate(self, pod: dict[str, Any]):
        """A deleted pod on this node: stop its containers (``killPod``), then remove the object.

        The API server set ``deletionTimestamp``; the kubelet stops every container (a Killing
        event each) and, once they are gone, deletes the pod with grace period 0
        (``status_manager.go: canBeDeleted``), which removes it from the API.
        """
        meta = pod["metadata"]
        node = pod["spec"]["nodeName"]
        try:
            for c in pod["spec"]["containers"]:
                self._event(pod, "Killing", f"Stopping container {c['name']}", node, c["name"])
            yield self.env.timeout(self._jitter(STOP_SECONDS))
            current = self.api.peek("Pod", meta["name"], meta["namespace"])
            if current is not None and current["metadata"]["uid"] == meta["uid"]:
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

"""The nodes' kernels: which pod IP answers on which node, and which nodes are reachable.

Packets in a real cluster meet two kinds of state that no API object holds: the application's
listening socket inside each pod's network namespace, and the rules kube-proxy programmed into
each node's kernel (:mod:`labkit.network.proxy`). This module holds the first. The kubelet writes
it as the runtime starts and stops containers (:meth:`DataPlane.serve`, :meth:`close`,
:meth:`exit`, :meth:`remove`); the facade marks failed nodes; the traffic model
(:mod:`labkit.workloads`) reads it. Nothing here talks to the API server.

Simplifications, each stated once: the pod's first container serves the traffic; it accepts
connections from its start plus ``labkit.io/ready-after`` until SIGTERM (a graceful server closes
its listener at once and finishes what it accepted until it exits, when the rest is reset); from
``labkit.io/fail-after`` on it accepts connections but never answers (a hung process); a pod on a
failed node answers nothing (the client times out); a connection to the IP of a pod that is gone
fails at once, as if refused (on a real node it may take an ARP timeout to fail with "no route to
host").

Each running container also has a cgroup: the kubelet's resource metrics (cumulative CPU time,
memory working set) are read from it (:mod:`labkit.metrics.usage`). The serving container's
socket doubles as its cgroup and carries what drives the usage: ``labkit.io/cpu-per-request``,
``labkit.io/usage-cpu``/``usage-memory``, its CPU limit (CFS quota, spec 12.1) and the work the
traffic model served there (:attr:`AppSocket.work_start`/``work_end``, one row per request given
a worker; :attr:`AppSocket.fluid_start`/``fluid_end``/``fluid_n`` for fluid traffic). The pod's
other containers get a socket that never listens (``ip == ""``, :meth:`DataPlane.run`), so they
have a cgroup with the idle baseline and nothing else; the pod-level annotations describe the
serving container.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.api.annotations import (
    CONCURRENCY,
    CPU_PER_REQUEST,
    DEFAULT_CONCURRENCY,
    DEFAULT_SERVICE_TIME,
    SERVICE_TIME,
    USAGE_CPU,
    USAGE_MEMORY,
    ServiceTime,
    parse_concurrency,
    parse_cpu,
    parse_memory,
    parse_service_time,
)

__all__ = ["AppSocket", "DataPlane", "app_params", "usage_params"]

INF = math.inf
DEFAULT_ST = ServiceTime("constant", 1.0)  # a container that serves nothing


def app_params(pod: dict[str, Any]) -> tuple[ServiceTime, int]:
    """The pod's ``labkit.io/service-time`` and ``labkit.io/concurrency`` (validated at apply time)."""
    ann = pod["metadata"].get("annotations") or {}
    where = "metadata.annotations"
    st = parse_service_time(ann.get(SERVICE_TIME, DEFAULT_SERVICE_TIME), f"{where}[{SERVICE_TIME!r}]")
    conc = parse_concurrency(ann[CONCURRENCY], f"{where}[{CONCURRENCY!r}]") if CONCURRENCY in ann \
        else DEFAULT_CONCURRENCY
    return st, conc


def usage_params(pod: dict[str, Any], container: int = 0) -> dict[str, Any]:
    """What drives container ``container``'s resource usage: for the serving (first) container the
    pod's ``labkit.io/cpu-per-request`` (core-seconds), ``usage-cpu`` (cores) and ``usage-memory``
    (bytes) annotations; for every container its CPU limit in cores (``resources.limits.cpu``,
    the CFS quota of ``pkg/kubelet/cm/helpers_linux.go``), or None."""
    ann = pod["metadata"].get("annotations") or {} if container == 0 else {}
    where = "metadata.annotations"
    spec = ((pod.get("spec") or {}).get("containers") or [{}])[container] if container >= 0 else {}
    limit = ((spec.get("resources") or {}).get("limits") or {}).get("cpu")
    return {
        "container": spec.get("name", ""),
        "cpu_per_request": parse_cpu(ann[CPU_PER_REQUEST], f"{where}[{CPU_PER_REQUEST!r}]")
        if CPU_PER_REQUEST in ann else 0.0,
        "usage_cpu": parse_cpu(ann[USAGE_CPU], f"{where}[{USAGE_CPU!r}]") if USAGE_CPU in ann else None,
        "usage_memory": parse_memory(ann[USAGE_MEMORY], f"{where}[{USAGE_MEMORY!r}]")
        if USAGE_MEMORY in ann else None,
        # MilliValue (ceil), as the kubelet computes the quota from it (MilliCPUToQuota)
        "cpu_limit": _limit_cores(limit),
    }


def _limit_cores(limit: Any) -> float | None:
    if limit is None:
        return None
    from labkit.api.quantity import check_quantity, to_millis

    m = to_millis(check_quantity(limit, "resources.limits.cpu"))
    # helpers_linux.go MilliCPUToQuota: quota = max(1000 µs, milliCPU * period / 1000), period 100 ms
    quota_us = max(1000, m * 100_000 // 1000)
    return quota_us / 100_000


@dataclass(eq=False)
class AppSocket:
    """One running application behind a pod IP, from its container's start to its exit.

    Times are simulated seconds. A restarted container is a new socket (the old one exited),
    so a request never survives a restart. The traffic model keeps its per-server state in
    ``free`` (when each of the ``concurrency`` workers is next free) and ``inflight``.
    """

    ip: str
    namespace: str
    name: str
    uid: str
    node: str
    service_time: ServiceTime
    concurrency: int
    seed: str
    listen_at: float
    hang_at: float = INF
    closed_at: float = INF  # SIGTERM: the listener is closed
    exit_at: float = INF  # the process exited: what it still held is reset
    index: int = -1  # dense id, given by the DataPlane
    free: list[float] = field(default_factory=list)
    inflight: deque = field(default_factory=deque)
    draws: Any = None  # the traffic model's service-time stream
    # -- the container's cgroup (labkit.metrics.usage) --------------------------------------
    container: str = ""
    started: float = 0.0  # the container's start (its CPU counter is 0 then)
    cpu_per_request: float = 0.0  # core-seconds one request costs (labkit.io/cpu-per-request)
    usage_cpu: float | None = None  # fixed usage in cores (labkit.io/usage-cpu)
    usage_memory: int | None = None  # fixed working set in bytes (labkit.io/usage-memory)
    cpu_limit: float | None = None  # cores per period the CFS quota allows (None: no limit)
    #: per request given a worker: when its service started and ended (the CPU it costs is spread
    #: evenly over that span); appended by the traffic engine, in the same order on both paths
    work_start: array = field(default_factory=lambda: array("d"))
    work_end: array = field(default_factory=lambda: array("d"))
    #: fluid traffic: per tick, ``fluid_n`` requests served evenly over [start, end)
    fluid_start: array = field(default_factory=lambda: array("d"))
    fluid_end: array = field(default_factory=lambda: array("d"))
    fluid_n: array = field(default_factory=lambda: array("d"))
    usage: Any = None  # labkit.metrics.usage's incremental state (served work)
    cpu_bins: Any = None  # ... and its per-second CPU under a limit

    @property
    def serving(self) -> bool:
        return self.ip != ""

    #: The CPU-bound service time of one request alone, ``cpu-per-request / limit`` (0 when
    #: unlimited); with ``k`` requests in service it is ``k`` times that (engine docstring).
    throttle_s: float = 0.0

    def __post_init__(self) -> None:
        if self.cpu_limit is not None and self.cpu_per_request:
            self.throttle_s = self.cpu_per_request / self.cpu_limit

    def accepts(self, t: float) -> bool:
        """Whether a new connection at ``t`` is accepted (else it is refused)."""
        return self.listen_at <= t < self.closed_at and t < self.exit_at


class DataPlane:
    """Pod IPs and their applications, node reachability, and whoever wants to hear of changes."""

    def __init__(self) -> None:
        self.apps: dict[str, AppSocket] = {}  # pod IP -> the socket answering there now
        self.last: dict[str, AppSocket] = {}  # pod IP -> the last socket it had (records name the pod)
        self.sockets: list[AppSocket] = []  # every socket ever, by index (records refer to them)
        self.containers: list[AppSocket] = []  # every container's cgroup ever, serving or not
        self._by_uid: dict[str, list[AppSocket]] = {}  # pod uid -> its containers' cgroups
        self._by_node: dict[str, list[AppSocket]] = {}  # node -> its containers not yet read as exited
        self.retired_cpu: dict[str, float] = {}  # node -> CPU seconds of its exited containers
        #: pod uid -> (node, bytes): what a VM sandbox (Kata) takes outside the pod's containers, as
        #: its RuntimeClass's overhead declares; the node's memory total counts it
        self.sandboxes: dict[str, tuple[str, int]] = {}
        self.down: set[str] = set()  # failed nodes
        self._listeners: list[Callable[[str, Any, float], None]] = []
        #: called before any change to what answers where (and before usage is read): lazy readers
        #: (the fluid traffic engine) catch up to the present with the state as it was
        self.before_change: list[Callable[[], None]] = []

    def sync(self) -> None:
        """Let every lazy reader catch up to the present (see :attr:`before_change`)."""
        for fn in self.before_change:
            fn()

    def subscribe(self, fn: Callable[[str, Any, float], None]) -> None:
        """``fn(what, subject, t)`` for "exit" (an AppSocket) and "node-down"/"node-up" (a node name)."""
        self._listeners.append(fn)

    def _tell(self, what: str, subject: Any, t: float) -> None:
        for fn in self._listeners:
            fn(what, subject, t)

    # -- written by the kubelet --------------------------------------------------------------
    def serve(self, pod: dict[str, Any], ip: str, node: str, started: float, ready_after: float,
              fail_after: float | None, restarts: int, slowdown: float = 1.0) -> AppSocket:
        """The pod's serving container started at ``started``: its application answers on ``ip``;
        each request takes ``slowdown`` times its ``labkit.io/service-time`` (its runtime's cost,
        :func:`labkit.node.runtimes.slowdown`)."""
        self.sync()
        meta = pod["metadata"]
        st, conc = app_params(pod)
        if slowdown != 1.0:
            st = ServiceTime(st.dist, st.mean_s * slowdown, st.sigma)
        old = self.apps.get(ip)
        if old is not None and old.exit_at == INF:
            self.exit(old, started)
        sock = AppSocket(ip, meta["namespace"], meta["name"], meta["uid"], node, st, conc,
                         f"{meta['uid']}/{restarts}", started + ready_after,
                         started + fail_after if fail_after is not None else INF,
                         index=len(self.sockets), free=[started] * conc, started=started,
                         **usage_params(pod, 0))
        self.sockets.append(sock)
        self.apps[ip] = sock
        self.last[ip] = sock
        self._add_container(sock)
        return sock

    def run(self, pod: dict[str, Any], container: str, node: str, started: float, restarts: int
            ) -> AppSocket:
        """A container that serves no traffic started: only its cgroup (resource usage) exists."""
        meta = pod["metadata"]
        names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        i = names.index(container) if container in names else -1
        # the first container without a pod IP still follows the pod's annotations
        params = usage_params(pod, i) if i >= 0 else {"container": container}
        sock = AppSocket("", meta["namespace"], meta["name"], meta["uid"], node, DEFAULT_ST, 1,
                         f"{meta['uid']}/{container}/{restarts}", INF, started=started, **params)
        self._add_container(sock)
        return sock

    def containers_on(self, node: str) -> list[AppSocket]:
        """The node's cgroups not yet read as exited (the metrics reader prunes this list)."""
        return self._by_node.setdefault(node, [])

    def _add_container(self, sock: AppSocket) -> None:
        self.containers.append(sock)
        self._by_node.setdefault(sock.node, []).append(sock)
        mine = self._by_uid.setdefault(sock.uid, [])
        mine[:] = [s for s in mine if s.exit_at == INF]
        mine.append(sock)

    def close(self, sock: AppSocket, t: float) -> None:
        """SIGTERM reached the application: it stops accepting new connections."""
        self.sync()
        sock.closed_at = min(sock.closed_at, t)

    def exit(self, sock: AppSocket, t: float) -> None:
        """The process exited: connections it still held are reset."""
        if sock.exit_at != INF:
            return
        self.sync()
        sock.exit_at = t
        sock.closed_at = min(sock.closed_at, t)
        self._tell("exit", sock, t)

    def sandbox_memory(self, node: str) -> int:
        """Bytes the node's pod sandboxes take beyond their containers."""
        return sum(b for n, b in self.sandboxes.values() if n == node)

    def remove(self, ip: str, t: float) -> None:
        """The pod's sandbox is gone: nothing answers on ``ip`` any more."""
        self.sync()
        sock = self.apps.pop(ip, None)
        if sock is not None:
            self.exit(sock, t)
            for other in self._by_uid.pop(sock.uid, []):  # the sandbox takes every container with it
                if other.exit_at == INF:
                    other.exit_at = other.closed_at = t

    # -- written by the facade (Cluster.fail_node / recover_node) ----------------------------
    def set_node_down(self, node: str, down: bool, t: float) -> None:
        self.sync()
        if down and node not in self.down:
            self.down.add(node)
            self._tell("node-down", node, t)
        elif not down and node in self.down:
            self.down.discard(node)
            self._tell("node-up", node, t)

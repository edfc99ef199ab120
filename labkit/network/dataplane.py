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
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.api.annotations import (
    CONCURRENCY,
    DEFAULT_CONCURRENCY,
    DEFAULT_SERVICE_TIME,
    SERVICE_TIME,
    ServiceTime,
    parse_concurrency,
    parse_service_time,
)

__all__ = ["AppSocket", "DataPlane", "app_params"]

INF = math.inf


def app_params(pod: dict[str, Any]) -> tuple[ServiceTime, int]:
    """The pod's ``labkit.io/service-time`` and ``labkit.io/concurrency`` (validated at apply time)."""
    ann = pod["metadata"].get("annotations") or {}
    where = "metadata.annotations"
    st = parse_service_time(ann.get(SERVICE_TIME, DEFAULT_SERVICE_TIME), f"{where}[{SERVICE_TIME!r}]")
    conc = parse_concurrency(ann[CONCURRENCY], f"{where}[{CONCURRENCY!r}]") if CONCURRENCY in ann \
        else DEFAULT_CONCURRENCY
    return st, conc


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

    def accepts(self, t: float) -> bool:
        """Whether a new connection at ``t`` is accepted (else it is refused)."""
        return self.listen_at <= t < self.closed_at and t < self.exit_at


class DataPlane:
    """Pod IPs and their applications, node reachability, and whoever wants to hear of changes."""

    def __init__(self) -> None:
        self.apps: dict[str, AppSocket] = {}  # pod IP -> the socket answering there now
        self.last: dict[str, AppSocket] = {}  # pod IP -> the last socket it had (records name the pod)
        self.sockets: list[AppSocket] = []  # every socket ever, by index (records refer to them)
        self.down: set[str] = set()  # failed nodes
        self.node_ips: dict[str, str] = {}  # node name -> InternalIP
        self._listeners: list[Callable[[str, Any, float], None]] = []

    def subscribe(self, fn: Callable[[str, Any, float], None]) -> None:
        """``fn(what, subject, t)`` for "exit" (an AppSocket) and "node-down"/"node-up" (a node name)."""
        self._listeners.append(fn)

    def _tell(self, what: str, subject: Any, t: float) -> None:
        for fn in self._listeners:
            fn(what, subject, t)

    # -- written by the kubelet --------------------------------------------------------------
    def serve(self, pod: dict[str, Any], ip: str, node: str, started: float, ready_after: float,
              fail_after: float | None, restarts: int) -> AppSocket:
        """The pod's serving container started at ``started``: its application answers on ``ip``."""
        meta = pod["metadata"]
        st, conc = app_params(pod)
        old = self.apps.get(ip)
        if old is not None and old.exit_at == INF:
            self.exit(old, started)
        sock = AppSocket(ip, meta["namespace"], meta["name"], meta["uid"], node, st, conc,
                         f"{meta['uid']}/{restarts}", started + ready_after,
                         started + fail_after if fail_after is not None else INF,
                         index=len(self.sockets), free=[started] * conc)
        self.sockets.append(sock)
        self.apps[ip] = sock
        self.last[ip] = sock
        return sock

    def close(self, sock: AppSocket, t: float) -> None:
        """SIGTERM reached the application: it stops accepting new connections."""
        sock.closed_at = min(sock.closed_at, t)

    def exit(self, sock: AppSocket, t: float) -> None:
        """The process exited: connections it still held are reset."""
        if sock.exit_at != INF:
            return
        sock.exit_at = t
        sock.closed_at = min(sock.closed_at, t)
        self._tell("exit", sock, t)

    def remove(self, ip: str, t: float) -> None:
        """The pod's sandbox is gone: nothing answers on ``ip`` any more."""
        sock = self.apps.pop(ip, None)
        if sock is not None:
            self.exit(sock, t)

    # -- written by the facade (Cluster.fail_node / recover_node) ----------------------------
    def set_node_down(self, node: str, down: bool, t: float) -> None:
        if down and node not in self.down:
            self.down.add(node)
            self._tell("node-down", node, t)
        elif not down and node in self.down:
            self.down.discard(node)
            self._tell("node-up", node, t)

"""Probe workers: readiness, liveness and startup probes as the kubelet runs them.

Upstream: ``pkg/kubelet/prober/worker.go`` (one worker per container and probe type, thresholds,
on-hold after a liveness or startup verdict), ``pkg/kubelet/prober/prober_manager.go``
(``UpdatePodStatus``: a started container without a readiness verdict triggers an immediate
readiness probe), ``pkg/kubelet/prober/prober.go`` (the ``Unhealthy`` event wording),
``pkg/apis/core/v1/defaults.go`` (``SetDefaults_Probe``) and ``pkg/probe/{http,tcp,exec,grpc}``
(what a failed attempt prints).

What a probe sees is the simulated application described by the pod's annotations
(``labkit.io/ready-after``: it answers only after that long since its container started;
``labkit.io/fail-after``: it stops answering after that long; and it stops answering once it
got SIGTERM).

Simplifications:

- A probe attempt takes no simulated time, so ``timeoutSeconds`` never triggers.
- The kubelet counts as up for long, so workers skip upstream's random first sleep after a
  kubelet restart.
- The immediate readiness probe is triggered when a container starts and when its startup probe
  succeeds (upstream triggers it on every pod sync while the container is not ready).
- A probe that could not run (``probe errored``) and the ``ProbeWarning`` of redirects do not
  happen: the simulated application always answers or refuses.
- A worker sleeps on a daemon timeout (it never keeps ``c.run()`` going) unless the
  application's scripted behaviour still has a verdict to change, so ``c.run()`` returns once
  no probe can change anything any more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

from labkit.api.annotations import FAIL_AFTER, READY_AFTER, SIGTERM_EXIT_AFTER, parse_duration

__all__ = ["ProbeSpec", "ProbeWorker", "AppModel", "parse_duration", "probe_output"]

SUCCESS, FAILURE, UNKNOWN = "Success", "Failure", "Unknown"
#: worker.go: the result a worker publishes before its first verdict.
INITIAL_RESULT = {"readiness": FAILURE, "liveness": SUCCESS, "startup": UNKNOWN}
#: The container field holding each probe type, in the order the prober manager adds workers.
PROBE_FIELDS = {"readiness": "readinessProbe", "liveness": "livenessProbe", "startup": "startupProbe"}

@dataclass(frozen=True)
class ProbeSpec:
    """One probe with upstream's defaults filled in (``SetDefaults_Probe``)."""

    kind: str  # readiness | liveness | startup
    handler: str  # httpGet | tcpSocket | exec | grpc
    action: dict[str, Any]
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace: int | None = None  # liveness and startup only

    @classmethod
    def from_container(cls, kind: str, container: dict[str, Any]) -> ProbeSpec | None:
        probe = container.get(PROBE_FIELDS[kind])
        if not probe:
            return None
        handler = next((h for h in ("httpGet", "tcpSocket", "exec", "grpc") if h in probe), "exec")
        return cls(kind, handler, probe.get(handler) or {},
                   initial_delay=int(probe.get("initialDelaySeconds", 0)),
                   period=int(probe.get("periodSeconds", 10)),
                   timeout=int(probe.get("timeoutSeconds", 1)),
                   success_threshold=int(probe.get("successThreshold", 1)),
                   failure_threshold=int(probe.get("failureThreshold", 3)),
                   termination_grace=probe.get("terminationGracePeriodSeconds"))


@dataclass(frozen=True)
class AppModel:
    """The simulated application in one container: when it answers its probes."""

    ready_after: float = 0.0
    fail_after: float | None = None
    sigterm_exit_after: float | None = None  # None: the kubelet's default stop time

    @classmethod
    def from_pod(cls, pod: dict[str, Any]) -> AppModel:
        ann = pod["metadata"].get("annotations") or {}
        where = "metadata.annotations"

        def get(key: str) -> float | None:
            return parse_duration(ann[key], f"{where}[{key!r}]") if key in ann else None

        return cls(get(READY_AFTER) or 0.0, get(FAIL_AFTER), get(SIGTERM_EXIT_AFTER))

    def answers(self, elapsed: float, terminating: bool) -> bool:
        """Whether a probe ``elapsed`` seconds after the container started succeeds."""
        if terminating or elapsed < self.ready_after:
            return False
        return self.fail_after is None or elapsed < self.fail_after

    def changes_after(self, elapsed: float) -> list[float]:
        """Elapsed times from ``elapsed`` on at which the answer may differ (for "is anything left")."""
        return [elapsed] + [t for t in (self.ready_after, self.fail_after) if t is not None and t > elapsed]


def probe_output(spec: ProbeSpec, container: dict[str, Any], pod_ip: str) -> str:
    """What a failed attempt prints, as ``pkg/probe`` words it for a refusing application."""
    if spec.handler == "httpGet":
        # pkg/probe/http/http.go: a status outside 200-399.
        return "HTTP probe failed with statuscode: 503"
    if spec.handler == "tcpSocket":
        # pkg/probe/tcp/tcp.go returns the dial error; nothing listens on the port.
        host = spec.action.get("host") or pod_ip
        return f"dial tcp {host}:{_port(spec.action.get('port'), container)}: connect: connection refused"
    if spec.handler == "grpc":
        # pkg/probe/grpc/grpc.go: the health service answered NOT_SERVING.
        return 'service unhealthy (responded with "NOT_SERVING")'
    # pkg/probe/exec/exec.go: a non-zero exit is a failure whose output is what the command
    # printed; the simulated command prints nothing.
    return ""


def _port(port: Any, container: dict[str, Any]) -> Any:
    if isinstance(port, str) and not port.isdigit():
        for p in container.get("ports") or []:
            if p.get("name") == port:
                return p["containerPort"]
    return port


class ProbeWorker:
    """``prober/worker.go``: probes one container periodically and publishes verdicts.

    The kubelet supplies ``view()`` (the container as the status manager knows it: a
    :class:`ContainerView` or None) and ``publish(worker, result)`` (called only when the
    published result changes, like ``results.Manager``), and ``emit(message)`` for the
    ``Unhealthy`` events.
    """

    def __init__(self, env: simpy.Environment, spec: ProbeSpec, view: Callable[[], ContainerView | None],
                 publish: Callable[[ProbeWorker, str], None], emit: Callable[[str], None]) -> None:
        self.env = env
        self.spec = spec
        self._view = view
        self._publish = publish
        self._emit = emit
        self.result = INITIAL_RESULT[spec.kind]
        self.container_id = ""
        self.on_hold = False
        self.stopped = False
        self.attempts: list[tuple[float, bool]] = []  # (time, succeeded) of every attempt, for timelines
        self._last: str | None = None
        self._run = 0
        self._trigger = False
        self._wake: simpy.Event = env.event()
        self.process = env.process(self._loop())

    # -- the kubelet's side ---------------------------------------------------------------------
    def poke(self, trigger: bool = False) -> None:
        """Something changed (a container started or stopped, the pod is deleted): re-decide the
        sleep; ``trigger`` also asks for an immediate probe (the buffered ``manualTriggerCh``)."""
        self._trigger = self._trigger or trigger
        if not self._wake.triggered:
            self._wake.succeed()

    def stop(self) -> None:
        self.stopped = True
        self.poke()

    # -- the loop -----------------------------------------------------------------------------------
    def _loop(self):
        next_tick = self.env.now
        while self._do_probe():
            while next_tick <= self.env.now:
                next_tick += self.spec.period  # time.Ticker: the phase is the worker's start
            while True:
                delay = next_tick - self.env.now
                # A daemon timeout never keeps c.run() going; an ordinary one does, while the
                # application's script can still change this worker's verdict.
                tick = self.env.timeout(delay) if self._pending() else self.env.daemon_timeout(delay)
                yield tick | self._wake
                if self._wake.triggered:
                    self._wake = self.env.event()
                if self.stopped:
                    return
                if tick.processed or self._trigger:
                    self._trigger = False
                    break

    def _pending(self) -> bool:
        """Whether a later probe could still publish something other than the current result."""
        v = self._view()
        if self.stopped or v is None or not v.running:
            return False
        fresh = v.container_id != self.container_id  # a replacement: the next probe resumes from the start
        if self.on_hold and not fresh:
            return False
        result = INITIAL_RESULT[self.spec.kind] if fresh else self.result
        if self.spec.kind == "startup":
            return not v.started
        if not v.started or (v.deleting and self.spec.kind == "liveness"):
            return False
        elapsed = max(self.env.now - v.started_at, float(self.spec.initial_delay))
        want = {v.app.answers(t, v.terminating) for t in v.app.changes_after(elapsed)}
        if v.deleting:
            want.add(False)  # the application will get SIGTERM
        return want != {result == SUCCESS}

    def _do_probe(self) -> bool:
        """``worker.doProbe``: returns whether the worker keeps going."""
        v = self._view()
        if v is None:
            return not self.stopped  # no container yet, or the pod is gone
        if v.container_id != self.container_id:
            self.container_id = v.container_id
            self.on_hold = False  # a new container: resume probing with the initial result
            self._last, self._run = None, 0
            self._set(INITIAL_RESULT[self.spec.kind])
        if self.on_hold:
            return True
        if not v.running:
            self._set(FAILURE)
            return not v.exited or v.restart_policy != "Never"
        if v.deleting and self.spec.kind in ("liveness", "startup"):
            self._set(SUCCESS)  # a quiet shutdown: deletion stops liveness and startup probing
            return False
        if int(self.env.now - v.started_at) < self.spec.initial_delay:
            return True
        if v.started == (self.spec.kind == "startup"):
            return True  # startup probes until started; the others only after
        ok = v.app.answers(self.env.now - v.started_at, v.terminating)
        self.attempts.append((self.env.now, ok))
        result = SUCCESS if ok else FAILURE
        if not ok:
            # prober.go: one event per failed attempt (the recorder merges repeats).
            self._emit(f"{self.spec.kind.capitalize()} probe failed: {v.output(self.spec)}")
        if result == self._last:
            self._run += 1
        else:
            self._last, self._run = result, 1
        threshold = self.spec.failure_threshold if result == FAILURE else self.spec.success_threshold
        if self._run < threshold:
            return True
        self._set(result)
        if self.spec.kind == "startup" or (self.spec.kind == "liveness" and result == FAILURE):
            # Paused until the container is replaced (a startup verdict is final for this one).
            self.on_hold = True
            self._run = 0
        return True

    def _set(self, result: str) -> None:
        if result != self.result:
            self.result = result
            self._publish(self, result)


@dataclass
class ContainerView:
    """What a worker reads about its container (the kubelet builds it from its runtime state)."""

    container_id: str
    running: bool
    exited: bool
    started: bool
    started_at: float
    deleting: bool
    terminating: bool  # SIGTERM sent: the application stops answering
    restart_policy: str
    app: AppModel
    output: Callable[[ProbeSpec], str]

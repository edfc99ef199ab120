"""The ``labkit.io/*`` pod annotations that say what the simulated application does.

They keep a manifest valid on a real cluster, which ignores them (KWOK's ``kwok.x-k8s.io/usage-cpu``
is the precedent), while the simulator reads them: ``labkit.io/ready-after`` (when probes start
passing), ``labkit.io/fail-after`` (when they start failing), ``labkit.io/sigterm-exit-after``
(how long the app takes to exit on SIGTERM), ``labkit.io/service-time`` (how long one request takes),
``labkit.io/concurrency`` (how many requests one pod serves at once), ``labkit.io/cpu-per-request``
(the CPU one request costs, in millicore-seconds: ``"15m"``) and ``labkit.io/usage-cpu`` /
``labkit.io/usage-memory`` (a fixed usage, overriding the derived one: ``"250m"``, ``"300Mi"``;
see :mod:`labkit.metrics.usage`) and ``labkit.io/workload`` (what a request mostly spends its time
on, ``cpu``, ``syscall``, ``io`` or ``network``: a sandboxed runtime slows each kind by its own
published factor, :mod:`labkit.node.runtimes`). The API server checks them
at apply time, so a badly written value is refused with its field path instead of failing later
inside the kubelet or the traffic model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from labkit.errors import ManifestError

__all__ = ["READY_AFTER", "FAIL_AFTER", "SIGTERM_EXIT_AFTER", "SERVICE_TIME", "CONCURRENCY",
           "CPU_PER_REQUEST", "USAGE_CPU", "USAGE_MEMORY", "DURATION_ANNOTATIONS", "ServiceTime",
           "WORKLOAD", "WORKLOADS", "parse_duration", "parse_service_time", "parse_concurrency", "parse_cpu",
           "parse_memory", "check_app_annotations"]

READY_AFTER = "labkit.io/ready-after"
FAIL_AFTER = "labkit.io/fail-after"
SIGTERM_EXIT_AFTER = "labkit.io/sigterm-exit-after"
SERVICE_TIME = "labkit.io/service-time"
CONCURRENCY = "labkit.io/concurrency"
CPU_PER_REQUEST = "labkit.io/cpu-per-request"
USAGE_CPU = "labkit.io/usage-cpu"
USAGE_MEMORY = "labkit.io/usage-memory"
DURATION_ANNOTATIONS = (READY_AFTER, FAIL_AFTER, SIGTERM_EXIT_AFTER)
WORKLOAD = "labkit.io/workload"
#: The kinds of work a request may mostly do (``data/runtimes.csv`` has a relative figure for each).
WORKLOADS = ("cpu", "syscall", "io", "network")
#: What an application without the annotations does: one request at a time, 10 ms on average.
DEFAULT_SERVICE_TIME = "exponential 10ms"
DEFAULT_CONCURRENCY = 1
MAX_CONCURRENCY = 100_000

# time.ParseDuration's units (µs in either spelling of mu)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|\u00b5s|\u03bcs|ms|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6,
         "ns": 1e-9}


def parse_duration(text: Any, where: str) -> float:
    """Seconds of a Go duration string (``"10s"``, ``"1m30s"``, ``"500ms"``), as the annotations take.

    Raises :class:`labkit.ManifestError` at ``where`` for anything else.
    """
    parts = _DURATION.findall(text) if isinstance(text, str) else []
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ManifestError(where, text, 'Invalid value: not a duration; write it as Go does, e.g. "10s", '
                                         '"1m30s" or "500ms"')
    return sum(float(n) * _UNIT[u] for n, u in parts)


@dataclass(frozen=True)
class ServiceTime:
    """The distribution of one request's service time: ``exponential``, ``constant`` or ``lognormal``.

    ``mean_s`` is the mean in seconds for all three; ``sigma`` is the standard deviation of the
    logarithm (lognormal only), so ``lognormal 20ms 0.5`` has a mean of 20 ms and a median of
    ``20 ms * exp(-0.5**2 / 2)`` = 17.6 ms.
    """

    dist: str
    mean_s: float
    sigma: float = 0.0


def parse_service_time(text: Any, where: str) -> ServiceTime:
    """``"exponential 20ms"`` | ``"constant 5ms"`` | ``"lognormal 20ms 0.5"`` (see :class:`ServiceTime`)."""
    words = text.split() if isinstance(text, str) else []
    hint = ('Invalid value: write "exponential 20ms", "constant 5ms" or "lognormal 20ms 0.5" '
            "(distribution, mean, and for lognormal the sigma of the log)")
    if not words or words[0] not in ("exponential", "constant", "lognormal") or \
            len(words) != (3 if words[0] == "lognormal" else 2):
        raise ManifestError(where, text, hint)
    mean = parse_duration(words[1], where)
    if mean <= 0:
        raise ManifestError(where, text, "Invalid value: the mean service time must be greater than 0")
    sigma = 0.0
    if words[0] == "lognormal":
        try:
            sigma = float(words[2])
        except ValueError:
            raise ManifestError(where, text, hint) from None
        if not 0 < sigma <= 5:
            raise ManifestError(where, text, "Invalid value: the lognormal sigma must be in (0, 5]")
    return ServiceTime(words[0], mean, sigma)


def parse_concurrency(text: Any, where: str) -> int:
    """How many requests a pod serves at once (a positive integer written as a string)."""
    if not isinstance(text, str) or not text.isdigit() or not 1 <= int(text) <= MAX_CONCURRENCY:
        raise ManifestError(where, text, "Invalid value: a whole number of requests from 1 to "
                                         f'{MAX_CONCURRENCY}, written as a string (e.g. "8")')
    return int(text)


def _quantity(text: Any, where: str, what: str, example: str) -> Any:
    from labkit.api.quantity import check_quantity

    if not isinstance(text, str):
        raise ManifestError(where, text,
                            f'Invalid value: {what} is a quantity written as a string, e.g. "{example}"')
    return check_quantity(text, where)  # the API grammar; >= 0 (ValidateNonnegativeQuantity's words)


def parse_cpu(text: Any, where: str, what: str = "a CPU amount") -> float:
    """Cores of a CPU quantity string (``"250m"`` -> 0.25), as requests and limits are written.

    ``labkit.io/usage-cpu`` is cores in use; ``labkit.io/cpu-per-request`` is core-seconds per
    request written in the same units (``"15m"``: 15 millicore-seconds = 0.015 core-seconds).
    """
    return float(_quantity(text, where, what, "15m"))


def parse_memory(text: Any, where: str) -> int:
    """Bytes of a memory quantity string (``"300Mi"``), rounded up as ``Quantity.Value()`` does."""
    from labkit.api.quantity import to_units

    return to_units(_quantity(text, where, "a memory amount", "300Mi"))


def check_app_annotations(annotations: dict[str, Any], path: str) -> None:
    """Refuse a ``labkit.io/*`` annotation that does not parse (``path`` is the annotations')."""
    for key in DURATION_ANNOTATIONS:
        if key in annotations:
            parse_duration(annotations[key], f"{path}[{key}]")
    if SERVICE_TIME in annotations:
        parse_service_time(annotations[SERVICE_TIME], f"{path}[{SERVICE_TIME}]")
    if CONCURRENCY in annotations:
        parse_concurrency(annotations[CONCURRENCY], f"{path}[{CONCURRENCY}]")
    for key in (CPU_PER_REQUEST, USAGE_CPU):
        if key in annotations:
            parse_cpu(annotations[key], f"{path}[{key}]")
    if USAGE_MEMORY in annotations:
        parse_memory(annotations[USAGE_MEMORY], f"{path}[{USAGE_MEMORY}]")
    if WORKLOAD in annotations and annotations[WORKLOAD] not in WORKLOADS:
        raise ManifestError(f"{path}[{WORKLOAD}]", annotations[WORKLOAD],
                            "Unsupported value: what a request mostly does, one of " + ", ".join(WORKLOADS))

"""The ``labkit.io/*`` pod annotations that say what the simulated application does.

They keep a manifest valid on a real cluster, which ignores them (KWOK's ``kwok.x-k8s.io/usage-cpu``
is the precedent), while the simulator reads them: ``labkit.io/ready-after`` (when probes start
passing), ``labkit.io/fail-after`` (when they start failing), ``labkit.io/sigterm-exit-after``
(how long the app takes to exit on SIGTERM). The API server checks them at apply time, so a badly
written duration is refused with its field path instead of failing later inside the kubelet.
"""

from __future__ import annotations

import re
from typing import Any

from labkit.errors import ManifestError

__all__ = ["READY_AFTER", "FAIL_AFTER", "SIGTERM_EXIT_AFTER", "DURATION_ANNOTATIONS", "parse_duration",
           "check_app_annotations"]

READY_AFTER = "labkit.io/ready-after"
FAIL_AFTER = "labkit.io/fail-after"
SIGTERM_EXIT_AFTER = "labkit.io/sigterm-exit-after"
DURATION_ANNOTATIONS = (READY_AFTER, FAIL_AFTER, SIGTERM_EXIT_AFTER)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: Any, where: str) -> float:
    """Seconds of a Go duration string (``"10s"``, ``"1m30s"``, ``"500ms"``), as the annotations take.

    Raises :class:`labkit.ManifestError` at ``where`` for anything else.
    """
    parts = _DURATION.findall(text) if isinstance(text, str) else []
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ManifestError(where, text, 'Invalid value: not a duration; write it as Go does, e.g. "10s", '
                                         '"1m30s" or "500ms"')
    return sum(float(n) * _UNIT[u] for n, u in parts)


def check_app_annotations(annotations: dict[str, Any], path: str) -> None:
    """Refuse a ``labkit.io/*`` duration annotation that does not parse (``path`` is the annotations')."""
    for key in DURATION_ANNOTATIONS:
        if key in annotations:
            parse_duration(annotations[key], f"{path}[{key}]")

"""Errors a learner sees.

A bad manifest must say *where* it is wrong (a field path as ``kubectl`` prints it),
*what* value was there, and *why* it is refused, so ``ManifestError`` carries all three. A name
that does not resolve must say which names the resolver actually asked for (the search path), so
``DNSError`` carries them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DNSError", "DockerfileError", "ManifestError"]


class ManifestError(ValueError):
    """A manifest that the API server would refuse.

    Attributes
    ----------
    path:
        Field path inside the object, e.g. ``spec.containers[0].resources.requests.cpu``
        (empty string when the whole document is at fault).
    value:
        The offending value as it was written.
    reason:
        One sentence saying what is wrong and what would be valid.
    document:
        Optional ``"Kind/name"`` (or document index) so multi-document input can be traced.
    """

    def __init__(self, path: str, value: Any, reason: str, document: str | None = None) -> None:
        self.path = path
        self.value = value
        self.reason = reason
        self.document = document
        where = f"{document}: " if document else ""
        field = f"{path}: " if path else ""
        shown = _short(value)
        super().__init__(f"{where}{field}{reason} (got {shown})")


class DNSError(LookupError):
    """A name the pod's resolver could not resolve (``getaddrinfo`` would fail).

    The message starts with the outcome (``NXDOMAIN``, or ``TIMEOUT`` when no nameserver in the
    pod's resolv.conf answers) and lists every name the resolver sent, in order, so a learner
    sees the search path at work.

    Attributes
    ----------
    name:
        The name as the client wrote it (``"web"``, ``"web.other"``, ``"www.aliyun.com."``).
    rcode:
        ``"NXDOMAIN"`` or ``"TIMEOUT"``.
    tried:
        The fully qualified names queried, in order (``["web.default.svc.cluster.local.", ...]``).
    """

    def __init__(self, name: str, rcode: str, tried: list[str], message: str) -> None:
        self.name = name
        self.rcode = rcode
        self.tried = list(tried)
        super().__init__(message)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DockerfileError(ValueError):
    """A Dockerfile that ``docker build`` would refuse, with where and what to change.

    Attributes
    ----------
    line:
        The 1-based line of the instruction at fault (its first line; 0 for the whole file).
    message:
        BuildKit's own words (``dockerfile parse error on line N: <message>``).
    hint:
        What to write instead, for a learner (may be empty).
    """

    def __init__(self, line: int, message: str, hint: str = "") -> None:
        self.line = line
        self.message = message
        self.hint = hint
        where = f"dockerfile parse error on line {line}: " if line else ""
        super().__init__(f"{where}{message}" + (f" -- {hint}" if hint else ""))

"""Errors a learner sees.

A bad manifest must say *where* it is wrong (a field path as ``kubectl`` prints it),
*what* value was there, and *why* it is refused, so ``ManifestError`` carries all three. A name
that does not resolve must say which names the resolver actually asked for (the search path), so
``DNSError`` carries them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DNSError", "DockerfileError", "ManifestError", "RealClusterError", "KubeconfigError", "UnreachableError",
    "TLSError", "UnauthorizedError", "ForbiddenError", "QuotaExceededError", "NotFoundError", "ConflictError",
    "RefusedError",
]


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


# -- the real-cluster adapter (labkit.real) ---------------------------------------------------------
# Defined here, not in labkit.real, so a notebook can catch them without importing the kubernetes
# client. None of them ever carries a token, a client key or a password: messages name the server,
# the context, the namespace and the request, nothing that authenticates.


class RealClusterError(RuntimeError):
    """Something a real cluster refused or could not do, in words a learner can act on.

    Attributes
    ----------
    hint:
        What to try next (may be empty).
    status:
        The HTTP status the API server answered (0 when no answer came).
    """

    def __init__(self, message: str, hint: str = "", status: int = 0) -> None:
        self.message = message
        self.hint = hint
        self.status = status
        super().__init__(message + (f" -- {hint}" if hint else ""))


class KubeconfigError(RealClusterError):
    """No kubeconfig, an unreadable one, or a context it does not have."""


class UnreachableError(RealClusterError):
    """The API server did not answer within the timeout (down, wrong address, firewall)."""


class TLSError(RealClusterError):
    """The TLS handshake failed: the server's certificate is not the one the kubeconfig trusts."""


class UnauthorizedError(RealClusterError):
    """401: the server does not accept the credentials (expired token, wrong certificate)."""


class ForbiddenError(RealClusterError):
    """403: authenticated, but RBAC does not allow this verb on this resource.

    Attributes ``verb``, ``resource``, ``api_group`` and ``namespace`` name the missing permission
    (empty strings where the server's message did not say).
    """

    def __init__(self, message: str, hint: str = "", status: int = 403, *, verb: str = "", resource: str = "",
                 api_group: str = "", namespace: str = "") -> None:
        self.verb, self.resource, self.api_group, self.namespace = verb, resource, api_group, namespace
        super().__init__(message, hint, status)


class QuotaExceededError(RealClusterError):
    """403: a ResourceQuota in the namespace has no room for this object."""


class NotFoundError(RealClusterError, KeyError):
    """404: no such object (or no such kind on this server)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return RuntimeError.__str__(self)


class ConflictError(RealClusterError):
    """409: the object exists already, or another field manager owns a field this apply sets."""


class RefusedError(RealClusterError):
    """labkit itself refused: the request would touch something the adapter did not create (another
    namespace, a cluster-scoped kind, an object without the ``app.kubernetes.io/managed-by=labkit``
    label). Nothing was sent."""

"""One HTTP request to a real API server, and every way it can fail, mapped to a labkit error.

Built on the official client's pieces (``kubernetes.client.Configuration`` for the kubeconfig's
server, TLS and credentials, ``ApiClient`` for authentication headers, its ``RESTClientObject`` over
urllib3), but the paths are built here from :mod:`labkit.api.kinds`, so the adapter sends exactly
the requests ``kubectl`` would and a test can read them back from a mock's request log.

Why not the generated ``CoreV1Api`` methods: they raise the client's ``ApiException`` with the
response headers and body attached, retry nothing, and hide which request was sent; mapping their
failures onto learner-facing errors would mean parsing the same Status bodies anyway.

Rules kept here:

- every request carries ``User-Agent: labkit/<version>`` (what a cluster's audit log shows);
- bounded timeouts (connect 5 s, read 30 s by default): an unreachable server fails, never hangs;
- urllib3's own retries are off; only idempotent reads and watches are retried, 3 times with
  back-off (0.2, 0.4, 0.8 s), on no answer, 429 and 5xx;
- no error text ever includes a header, so no token reaches a message, a repr or a log.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from labkit.errors import (
    ConflictError,
    ForbiddenError,
    ManifestError,
    NotFoundError,
    QuotaExceededError,
    RealClusterError,
    TLSError,
    UnauthorizedError,
    UnreachableError,
)

__all__ = ["Transport", "USER_AGENT", "status_error"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labkit")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


USER_AGENT = f"labkit/{_version()}"
#: Back-off between the retries of an idempotent read (seconds).
BACKOFF_S = (0.2, 0.4, 0.8)
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# apiserver: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go
# (forbiddenMessage): `<resource> "<name>" is forbidden: User "<u>" cannot <verb> resource "<res>" in API
# group "<g>" in the namespace "<ns>"` (", cluster-scope" or "at the cluster scope" otherwise).
_FORBIDDEN = re.compile(
    r'cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"'
    r'(?: in the namespace "(?P<namespace>[^"]+)")?'
)


@dataclass
class Response:
    """A decoded answer: HTTP status and the JSON body (None for an empty one)."""

    status: int
    body: Any
    raw: Any = field(default=None, repr=False)


class Transport:
    """Requests to one API server with one set of credentials (never shown: see ``__repr__``)."""

    def __init__(
        self,
        configuration: Any,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        sleep: Any = time.sleep,
    ) -> None:
        configuration.retries = False  # urllib3 retries nothing; reads are retried below, writes never
        self._api = client.ApiClient(configuration)
        self._api.user_agent = USER_AGENT
        self.server = configuration.host.rstrip("/")
        self.timeouts = (connect_timeout, read_timeout)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"Transport(server={self.server!r})"

    def close(self) -> None:
        self._api.close()

    # -- one request -----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        stream: bool = False,
        read_timeout: float | None = None,
        document: dict[str, Any] | None = None,
    ) -> Response:
        """Send one request; a 2xx answer comes back decoded, anything else raises a labkit error.

        ``document`` is the manifest a write came from: a 422's field paths are read against it so
        the :class:`~labkit.ManifestError` shows the value that was written. Reads (GET) are retried.
        """
        attempts = len(BACKOFF_S) + 1 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                return self._once(method, path, query, body, content_type, stream, read_timeout, document)
            except RealClusterError as err:
                retryable = isinstance(err, UnreachableError) or err.status in _RETRYABLE_STATUS
                if attempt + 1 >= attempts or not retryable:
                    raise
                self._sleep(BACKOFF_S[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        body: Any,
        content_type: str,
        stream: bool,
        read_timeout: float | None,
        document: dict[str, Any] | None,
    ) -> Response:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = content_type
        self._api.update_params_for_auth(headers, [], ["BearerToken"], path, method, body)
        url = self.server + path + (f"?{urlencode(query)}" if query else "")
        where = f"{method} {path}"
        timeout = (self.timeouts[0], read_timeout if read_timeout is not None else self.timeouts[1])
        try:
            resp = self._api.rest_client.request(
                method, url, headers=headers, body=body, _request_timeout=timeout
            )
        except ApiException as e:  # the client turns an SSL failure into status 0
            if "SSL" in (e.reason or ""):
                raise TLSError(
                    f"{self.server} failed the TLS handshake ({_first_line(e.reason)})",
                    "the kubeconfig's certificate-authority-data must be the cluster's CA, and "
                    "the server address the one on its certificate",
                ) from None
            raise UnreachableError(f"{where} to {self.server} failed: {_first_line(e.reason)}") from None
        except urllib3.exceptions.SSLError as e:
            raise TLSError(
                f"{self.server} failed the TLS handshake ({_first_line(str(e))})",
                "check certificate-authority-data and the server address",
            ) from None
        except urllib3.exceptions.HTTPError as e:
            kind = "did not answer" if "timed out" in str(e).lower() else "could not be reached"
            raise UnreachableError(
                f"{self.server} {kind} within {self.timeouts[0]:g} s ({type(e).__name__})",
                "is the cluster running (kind: `docker ps`; ACK: the console's cluster status) and is "
                "the kubeconfig's server address right? From outside a VPC, ACK needs its public endpoint",
            ) from None
        if stream and 200 <= resp.status < 300:
            return Response(resp.status, None, raw=resp.response)
        data = resp.read() if not stream else resp.response.read()
        decoded = _decode(data)
        if 200 <= resp.status < 300:
            return Response(resp.status, decoded)
        raise status_error(resp.status, decoded, where, document)


def _first_line(text: str | None) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no detail"


def _decode(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return {"message": data[:300].decode("utf-8", "replace")}


def _value_at(document: dict[str, Any] | None, path: str) -> Any:
    """The value a field path (``spec.containers[0].image``) names in ``document``, or None."""
    node: Any = document
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path or ""):
        if node is None:
            return None
        if part.startswith("["):
            i = int(part[1:-1])
            node = node[i] if isinstance(node, list) and i < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def status_error(status: int, body: Any, where: str, document: dict[str, Any] | None = None) -> Exception:
    """A labkit error for an API server's non-2xx answer (its ``metav1.Status`` body)."""
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or body.get("reason") or f"HTTP {status}")
    reason = body.get("reason", "")
    if status == 401:
        return UnauthorizedError(
            f"{where}: the API server did not accept your credentials (401 Unauthorized)",
            "the token or client certificate in the kubeconfig has expired or was revoked: get a fresh "
            "kubeconfig (kind: `kind export kubeconfig`; ACK: console, cluster, Connection Information)",
            status,
        )
    if status == 403 and "exceeded quota" in message:
        return QuotaExceededError(
            f"{where}: {message}",
            "delete something in the namespace or ask for a larger ResourceQuota "
            "(`kubectl describe resourcequota`)",
            status,
        )
    if status == 403 and "being terminated" in message:
        return ForbiddenError(
            f"{where}: {message} (403 Forbidden)",
            "the namespace is still being deleted: wait until it is gone (a minute or so), then apply again",
            status,
        )
    if status == 403 and "service account" in message.lower() and "not found" in message:
        return ForbiddenError(
            f"{where}: {message} (403 Forbidden)",
            "the namespace was created a moment ago and its default ServiceAccount is not "
            "there yet: retry in a few seconds",
            status,
        )
    if status == 403:
        m = _FORBIDDEN.search(message)
        if m:
            verb, res, group, ns = m["verb"], m["resource"], m["group"], m["namespace"] or ""
            scope = f'in namespace "{ns}"' if ns else "cluster-wide"
            return ForbiddenError(
                f"{where}: RBAC does not allow you to {verb} {res} {scope} (403 Forbidden)",
                f'ask for a Role with apiGroups: ["{group}"], resources: ["{res}"], verbs: ["{verb}"]'
                + ("" if ns else " (a ClusterRole: the resource is cluster-scoped)"),
                status,
                verb=verb,
                resource=res,
                api_group=group,
                namespace=ns,
            )
        return ForbiddenError(
            f"{where}: {message} (403 Forbidden)",
            "an admission check refused the request: the message says which",
            status,
        )
    if status == 404:
        return NotFoundError(f"{where}: {message} (404 Not Found)", "", status)
    if status == 409:
        hint = (
            "another field manager owns a field this manifest sets: apply with force=True to take it over"
            if "conflict" in message.lower() and reason != "AlreadyExists"
            else "the object changed or exists already: get it again and retry"
        )
        return ConflictError(f"{where}: {message} (409 Conflict)", hint, status)
    if status == 422:
        causes = (body.get("details") or {}).get("causes") or []
        kind_name = (
            "/".join(
                x
                for x in (
                    (body.get("details") or {}).get("kind", ""),
                    (body.get("details") or {}).get("name", ""),
                )
                if x
            )
            or None
        )
        if causes:
            first = causes[0]
            path = first.get("field", "")
            text = first.get("message", message)
            more = f" (and {len(causes) - 1} more)" if len(causes) > 1 else ""
            return ManifestError(path, _value_at(document, path), f"{text}{more}", document=kind_name)
        return ManifestError("", None, message, document=kind_name)
    return RealClusterError(f"{where}: {message} (HTTP {status})", "", status)

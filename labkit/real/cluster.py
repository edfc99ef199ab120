"""``RealCluster``: the simulator's calls against a real Kubernetes cluster, safe by default.

Safety rules, all enforced before a write is sent (a refusal is :class:`labkit.RefusedError`):

- one namespace (the one named, else the kubeconfig context's, else ``labkit-<user>``). It is
  created, labelled ``app.kubernetes.io/managed-by=labkit``, when missing. One that exists without
  that label, or is ``kube-system``, ``kube-public``, ``kube-node-lease`` or ``default``, is refused
  unless ``allow_unmanaged_namespace=True``;
- every object the adapter writes carries the managed-by label; an existing object without it is
  never applied over or deleted, and :meth:`RealCluster.cleanup` deletes only labelled objects;
- cluster-scoped kinds (Node, PriorityClass, RuntimeClass, a Namespace...) are neither applied nor
  deleted unless ``allow_cluster_scoped=True`` (reading Nodes is allowed);
- ``apply`` validates every document locally (the simulator's loader and the OpenAPI schemas), then
  sends every document as a server-side dry run, and writes only when the server accepted all of
  them: a document the server refuses leaves the objects unchanged (the namespace may already have
  been created). Each dry run sees the namespace as it is: quota is checked per document, and the
  pods a Deployment creates only later, by its ReplicaSet.

Objects come back as the API server returns them, the same dict shapes as :class:`labkit.Cluster`.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from labkit.api.kinds import Kind
from labkit.errors import ForbiddenError, ManifestError, NotFoundError, RealClusterError, RefusedError
from labkit.real.config import Connection, default_namespace
from labkit.real.config import from_kubeconfig as _load_kubeconfig
from labkit.real.config import in_cluster as _load_in_cluster
from labkit.real.paths import kind_of, path
from labkit.real.transport import Response, Transport

__all__ = ["RealCluster", "MANAGED_BY", "PROTECTED_NAMESPACES", "FIELD_MANAGER", "planned_requests", "screen"]

#: The label every object the adapter creates carries, and the only thing ``cleanup`` deletes.
MANAGED_BY = ("app.kubernetes.io/managed-by", "labkit")
#: Namespaces the adapter never works in without ``allow_unmanaged_namespace=True``.
PROTECTED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
#: Server-side apply's field manager (``kubectl apply --server-side --field-manager=labkit``).
FIELD_MANAGER = "labkit"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
#: The kinds ``cleanup`` looks through, owners before what they own (their pods go with them).
CLEANUP_KINDS = (
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "ReplicaSet",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Service",
    "Pod",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "PersistentVolumeClaim",
)
_SERVER_FIELDS = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")


def _labelled(obj: dict[str, Any] | None) -> bool:
    return ((obj or {}).get("metadata") or {}).get("labels", {}).get(MANAGED_BY[0]) == MANAGED_BY[1]


def _apply_request(
    doc: dict[str, Any], kind: Kind, namespace: str, *, dry_run: bool, force: bool
) -> dict[str, Any]:
    """The one PATCH server-side apply sends for ``doc`` in ``namespace``."""
    meta = doc.get("metadata") or {}
    if not meta.get("name"):
        raise ManifestError(
            "metadata.name",
            meta.get("name"),
            "Required value: server-side apply needs a name (generateName works only with create)",
            document=kind.kind,
        )
    body = copy.deepcopy(doc)
    body.setdefault("metadata", {})
    if kind.namespaced:
        body["metadata"]["namespace"] = namespace
    body["metadata"]["labels"] = {**(body["metadata"].get("labels") or {}), MANAGED_BY[0]: MANAGED_BY[1]}
    query = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
    if dry_run:
        query["dryRun"] = "All"
    return {
        "method": "PATCH",
        "path": path(kind, namespace, meta["name"]),
        "query": query,
        "content_type": APPLY_PATCH,
        "body": body,
    }


def screen(
    docs: list[dict[str, Any]], namespace: str, *, allow_cluster_scoped: bool = False
) -> list[tuple[dict[str, Any], Kind]]:
    """Validate every document and apply the adapter's refusals, before anything is sent.

    Each document passes the simulator's checks (the OpenAPI schema of its kind and, for the kinds the
    simulator serves, the API server's validation): a bad one raises ``ManifestError``. A
    cluster-scoped kind (unless ``allow_cluster_scoped``) or a document naming another namespace
    raises :class:`labkit.RefusedError`. Returns ``(document, kind)`` pairs.
    """
    from labkit.api.kinds import KINDS
    from labkit.manifests import check_document, check_schema

    plan = []
    for i, doc in enumerate(docs):  # the refusals first: a refused document is never even validated
        k = kind_of(doc.get("kind"))
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        if not k.namespaced and not allow_cluster_scoped:
            raise RefusedError(
                f"{k.kind}/{name} is cluster-scoped: it would change the whole cluster, not your namespace",
                "pass allow_cluster_scoped=True to RealCluster if you mean it",
            )
        ns = (doc.get("metadata") or {}).get("namespace") if name is not None else None
        if k.namespaced and ns and ns != namespace:
            raise RefusedError(
                f"document {i + 1} ({k.kind}/{name}) names namespace {ns!r}; this RealCluster "
                f"works only in {namespace!r}",
                "drop metadata.namespace or change it",
            )
        plan.append((doc, k))
    for doc, k in plan:
        if k.kind in KINDS:
            check_document(doc)
        else:
            check_schema(doc)
    return plan


def check_namespace(namespace: str, *, allow_unmanaged_namespace: bool = False) -> None:
    """Refuse the cluster's own namespaces (:data:`PROTECTED_NAMESPACES`) unless explicitly allowed;
    a name that cannot be a namespace is a ``ManifestError``."""
    import re

    if not isinstance(namespace, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", namespace):
        raise ManifestError(
            "metadata.namespace",
            namespace,
            "Invalid value: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')",
        )
    if namespace in PROTECTED_NAMESPACES and not allow_unmanaged_namespace:
        raise RefusedError(
            f"namespace {namespace!r} belongs to the cluster, not to labkit",
            "use your own namespace (the default labkit-<user>), or pass "
            "allow_unmanaged_namespace=True if you really mean it",
        )


def planned_requests(
    source: Any,
    namespace: str | None = None,
    *,
    force: bool = False,
    allow_cluster_scoped: bool = False,
    allow_unmanaged_namespace: bool = False,
) -> list[dict[str, Any]]:
    """What :meth:`RealCluster.apply` would send for ``source``, without a cluster.

    Each entry is ``{"method", "path", "query", "content_type", "body"}``; the body is the manifest
    with the namespace and the managed-by label set. The same checks as ``apply`` run first: a bad
    manifest raises ``ManifestError``, a refused one :class:`labkit.RefusedError`.
    """
    from labkit.manifests import load_documents

    ns = namespace or default_namespace()
    check_namespace(ns, allow_unmanaged_namespace=allow_unmanaged_namespace)
    return [
        _apply_request(doc, k, ns, dry_run=False, force=force)
        for doc, k in screen(load_documents(source), ns, allow_cluster_scoped=allow_cluster_scoped)
    ]


def _strip(obj: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(obj or {})
    out.pop("status", None)
    for key in _SERVER_FIELDS:
        out.get("metadata", {}).pop(key, None)
    return out


def _changes(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Field paths that differ between two objects (``spec.replicas``, ``metadata.labels.app``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after)):
            out += _changes(before.get(key), after.get(key), f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if before == after else [prefix or "."]


def _time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class RealCluster:
    """A real cluster behind the simulator's calls. Build one with :meth:`from_kubeconfig` or
    :meth:`in_cluster`; nothing is sent until the first call."""

    def __init__(
        self,
        connection: Connection,
        namespace: str | None = None,
        *,
        allow_unmanaged_namespace: bool = False,
        allow_cluster_scoped: bool = False,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = connection.server
        self.context = connection.context
        self.namespace = namespace or connection.namespace or default_namespace()
        self.allow_unmanaged_namespace = allow_unmanaged_namespace
        self.allow_cluster_scoped = allow_cluster_scoped
        self._http = Transport(
            connection.configuration, connect_timeout=connect_timeout, read_timeout=read_timeout, sleep=sleep
        )
        self._sleep = sleep
        self._namespace_checked = False
        #: True once this object created its namespace (``cleanup(delete_namespace=True)`` is then safe).
        self.created_namespace = False

    @classmethod
    def from_kubeconfig(
        cls, path: str | None = None, context: str | None = None, namespace: str | None = None, **options: Any
    ) -> RealCluster:
        """A kubeconfig context (``path`` defaults to ``$LABKIT_KUBECONFIG``, ``$KUBECONFIG``,
        ~/.kube/config; ``context`` to its current context); ``namespace`` to ``labkit-<user>``."""
        return cls(_load_kubeconfig(path, context), namespace, **options)

    @classmethod
    def in_cluster(cls, namespace: str | None = None, **options: Any) -> RealCluster:
        """The pod's own ServiceAccount, for a notebook served on the cluster (JupyterHub)."""
        return cls(_load_in_cluster(), namespace, **options)

    def __repr__(self) -> str:
        return f"RealCluster(server={self.server!r}, context={self.context!r}, namespace={self.namespace!r})"

    def close(self) -> None:
        self._http.close()

    # -- plumbing ------------------------------------------------------------------------------
    def _send(self, method: str, url: str, **kw: Any) -> Response:
        return self._http.request(method, url, **kw)

    def _kind_ns(self, kind: str, namespace: str | None, *, write: bool = False) -> tuple[Kind, str]:
        """The kind and namespace of a call, refused before sending when outside the rules: another
        namespace, or (for a write) a cluster-scoped kind without ``allow_cluster_scoped``."""
        k = kind_of(kind)
        ns = namespace or self.namespace
        if k.namespaced and ns != self.namespace:
            raise RefusedError(
                f"{k.kind} in namespace {ns!r}: this RealCluster works only in {self.namespace!r}",
                "make another RealCluster for that namespace",
            )
        if write and not k.namespaced and not self.allow_cluster_scoped:
            raise RefusedError(
                f"{k.kind} is cluster-scoped: changing it would change the whole cluster, not your namespace",
                "pass allow_cluster_scoped=True to RealCluster if you mean it",
            )
        return k, ns

    def version(self) -> str:
        """The server's ``gitVersion`` (``GET /version``), e.g. ``v1.36.2``."""
        return (self._send("GET", "/version").body or {}).get("gitVersion", "")

    def ensure_namespace(self, *, dry_run: bool = False) -> dict[str, Any] | None:
        """Check (once) that the namespace is one the adapter may use, creating it when missing
        (``created_namespace`` then says so). With ``dry_run`` a missing namespace is not created and
        None is returned."""
        ns_kind = kind_of("Namespace")
        url = path(ns_kind, None, self.namespace)
        check_namespace(self.namespace, allow_unmanaged_namespace=self.allow_unmanaged_namespace)
        try:
            ns = self._send("GET", url).body
        except NotFoundError:
            if dry_run:
                return None
            body = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": self.namespace, "labels": {MANAGED_BY[0]: MANAGED_BY[1]}},
            }
            ns = self._send("POST", path(ns_kind), body=body, document=body).body
            self.created_namespace = True
        else:
            if not _labelled(ns) and not self.allow_unmanaged_namespace:
                raise RefusedError(
                    f"namespace {self.namespace!r} exists but labkit did not create it (no "
                    f"{MANAGED_BY[0]}={MANAGED_BY[1]} label)",
                    "pick another namespace, or pass allow_unmanaged_namespace=True",
                )
        self._namespace_checked = True
        return ns

    def _ready(self) -> None:
        if not self._namespace_checked:
            self.ensure_namespace()

    # -- kubectl apply --------------------------------------------------------------------------
    def apply(self, source: Any, *, dry_run: bool = False, force: bool = False) -> list[dict[str, Any]]:
        """Server-side apply (field manager ``labkit``) of a path, YAML text, a dict or a list.

        Every document is validated locally, then each goes to the server as a dry run; only
        when all of it is accepted are the real writes sent. With ``dry_run=True`` nothing is
        written and each document's entry says what would change:
        ``{"object": "Pod/my-nginx", "action": "create"|"update"|"unchanged", "changes": [paths],
        "object_after": what the server would store}``. ``force=True`` takes over fields another
        field manager owns (otherwise that is a :class:`labkit.ConflictError`).
        """
        from labkit.manifests import load_documents

        plan = screen(load_documents(source), self.namespace, allow_cluster_scoped=self.allow_cluster_scoped)
        namespace_exists = self._namespace_checked or self.ensure_namespace(dry_run=dry_run) is not None
        current = []
        for doc, k in plan:
            name = doc["metadata"].get("name") if doc.get("metadata") else None
            try:
                existing = (
                    self._send("GET", path(k, self.namespace, name)).body
                    if name and (namespace_exists or not k.namespaced)
                    else None
                )
            except NotFoundError:
                existing = None
            if existing is not None and not _labelled(existing):
                raise RefusedError(
                    f"{k.kind}/{name} exists and labkit did not create it", "apply under another name"
                )
            current.append(existing)
        if dry_run and not namespace_exists:
            # The server cannot dry-run objects in a namespace that does not exist yet: say so.
            return [
                {
                    "object": f"{k.kind}/{doc['metadata']['name']}",
                    "action": "create",
                    "changes": [],
                    "object_after": None,
                    "note": f"namespace {self.namespace!r} does not exist yet (apply creates it): "
                    "not checked by the server",
                }
                for doc, k in plan
            ]
        trial = [
            self._send(**self._request(doc, k, dry_run=True, force=force), document=doc).body
            for doc, k in plan
        ]
        if dry_run:
            out = []
            for (doc, k), before, after in zip(plan, current, trial, strict=True):
                changes = _changes(_strip(before), _strip(after)) if before is not None else []
                action = "create" if before is None else ("update" if changes else "unchanged")
                out.append(
                    {
                        "object": f"{k.kind}/{doc['metadata']['name']}",
                        "action": action,
                        "changes": changes,
                        "object_after": after,
                    }
                )
            return out
        return [
            self._send(**self._request(doc, k, dry_run=False, force=force), document=doc).body
            for doc, k in plan
        ]

    def _request(self, doc: dict[str, Any], kind: Kind, *, dry_run: bool, force: bool) -> dict[str, Any]:
        req = _apply_request(doc, kind, self.namespace, dry_run=dry_run, force=force)
        return {
            "method": req["method"],
            "url": req["path"],
            "query": req["query"],
            "content_type": req["content_type"],
            "body": req["body"],
        }

    # -- kubectl get / delete -------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The object as the API server returns it; :class:`labkit.NotFoundError` (a ``KeyError``) when
        missing. Cluster-scoped kinds (Nodes) may be read."""
        k, ns = self._kind_ns(kind, namespace)
        return self._send("GET", path(k, ns, name)).body

    def list(
        self, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects of ``kind`` in the namespace (cluster-scoped kinds: all), filtered like ``kubectl -l``.

        The selector goes to the server and is applied again here, so a server that ignores it (a
        mock) gives the same answer as one that does not."""
        from labkit.api.selectors import parse_selector

        k, ns = self._kind_ns(kind, namespace)
        query = {"labelSelector": label_selector} if label_selector else None
        body = self._send("GET", path(k, ns), query=query).body or {}
        items = body.get("items") or []
        for item in items:  # a list's items omit apiVersion and kind; the simulator's objects have them
            item.setdefault("apiVersion", k.api_version)
            item.setdefault("kind", k.kind)
        if label_selector:
            sel = parse_selector(label_selector)
            items = [o for o in items if sel.matches((o.get("metadata") or {}).get("labels") or {})]
        return sorted(items, key=lambda o: o["metadata"]["name"])

    def delete(
        self,
        kind: str,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = "Background",
        grace_period_seconds: int | None = None,
    ) -> dict[str, Any]:
        """``kubectl delete`` of an object labkit created (others are refused, nothing is sent)."""
        k, ns = self._kind_ns(kind, namespace, write=True)
        url = path(k, ns, name)
        obj = self._send("GET", url).body
        if not _labelled(obj):
            raise RefusedError(f"{k.kind}/{name} was not created by labkit: not deleting it")
        opts: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if propagation_policy:
            opts["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            opts["gracePeriodSeconds"] = grace_period_seconds
        return self._send("DELETE", url, body=opts).body

    def cleanup(self, *, delete_namespace: bool = False) -> list[str]:
        """Delete every object in the namespace that carries the managed-by label (and, with
        ``delete_namespace=True``, the namespace itself when labkit created it). Returns
        ``["Kind/name", ...]`` in the order deleted; objects without the label are left alone."""
        selector = f"{MANAGED_BY[0]}={MANAGED_BY[1]}"
        gone = []
        for kind in CLEANUP_KINDS:
            try:
                objs = self.list(kind, label_selector=selector)
            except (NotFoundError, ForbiddenError):  # a kind this server does not serve, or RBAC hides
                continue
            for obj in objs:
                if not _labelled(obj):
                    continue
                name = obj["metadata"]["name"]
                try:
                    self.delete(kind, name)
                except NotFoundError:  # its owner's deletion took it already
                    continue
                gone.append(f"{kind}/{name}")
        if delete_namespace:
            k = kind_of("Namespace")
            ns = self._send("GET", path(k, None, self.namespace)).body
            if _labelled(ns):
                self._send(
                    "DELETE",
                    path(k, None, self.namespace),
                    body={"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"},
                )
                gone.append(f"Namespace/{self.namespace}")
        return gone

    def service_account_token(self, name: str, expiration_seconds: int = 3600) -> str:
        """A bound token for a ServiceAccount labkit created (the TokenRequest API,
        ``kubectl create token``). Returned, never printed or logged."""
        k = kind_of("ServiceAccount")
        url = path(k, self.namespace, name)
        if not _labelled(self._send("GET", url).body):
            raise RefusedError(f"ServiceAccount/{name} was not created by labkit: no token for it")
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": int(expiration_seconds)},
        }
        answer = self._send("POST", f"{url}/token", body=body).body or {}
        token = (answer.get("status") or {}).get("token")
        if not token:
            raise RealClusterError(f"POST {url}/token returned no token")
        return token

    # -- kubectl scale / rollout status ------------------------------------------------------------
    def scale(self, kind: str, name: str, replicas: int, namespace: str | None = None) -> dict[str, Any]:
        """``kubectl scale``: a merge patch of the ``scale`` subresource (only ``spec.replicas``)."""
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise ManifestError(
                "replicas",
                replicas,
                "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0",
            )
        k, ns = self._kind_ns(kind, namespace, write=True)
        if not _labelled(self._send("GET", path(k, ns, name)).body):
            raise RefusedError(f"{k.kind}/{name} was not created by labkit: not scaling it")
        return self._send(
            "PATCH",
            path(k, ns, name, "scale"),
            body={"spec": {"replicas": replicas}},
            content_type=MERGE_PATCH,
        ).body

    def rollout_status(self, kind: str, name: str, namespace: str | None = None) -> str:
        """``kubectl rollout status`` for the current state, in kubectl's words."""
        from labkit.kubectl.rollout import deployment_status

        if kind_of(kind).kind != "Deployment":
            raise ValueError(f"no status viewer has been implemented for {kind}")
        return deployment_status(self.get("Deployment", name, namespace))

    # -- observing ------------------------------------------------------------------------------
    def events(self, namespace: str | None = None, involved: str | None = None) -> list[dict[str, Any]]:
        """Events in the namespace, oldest first; ``involved`` filters by ``name`` or ``Kind/name``."""
        out = []
        for ev in self.list("Event", namespace):
            io = ev.get("involvedObject") or {}
            if involved and involved not in (io.get("name"), f"{io.get('kind')}/{io.get('name')}"):
                continue
            out.append(ev)
        out.sort(
            key=lambda e: (
                e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or "",
                e["metadata"]["name"],
            )
        )
        return out

    def pods_frame(self, namespace: str | None = None):
        """Pods as a DataFrame with the simulator's columns; times in seconds after the first pod's
        creation (scheduled: the PodScheduled condition; running: the first container start)."""
        import pandas as pd

        from labkit.scheduler.podinfo import pod_requests

        pods = self.list("Pod", namespace)
        t0 = min((_time(p["metadata"].get("creationTimestamp")) or 0 for p in pods), default=0)
        rows = []
        for pod in pods:
            st = pod.get("status") or {}
            conds = {c["type"]: c for c in st.get("conditions") or []}
            started = [
                _time(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
                for cs in st.get("containerStatuses") or []
            ]
            started = [s for s in started if s is not None]
            req = pod_requests(pod.get("spec") or {})

            def rel(t: float | None) -> float | None:
                return None if t is None else round(t - t0, 3)

            scheduled = conds.get("PodScheduled", {})
            rows.append(
                {
                    "name": pod["metadata"]["name"],
                    "namespace": pod["metadata"].get("namespace"),
                    "node": (pod.get("spec") or {}).get("nodeName"),
                    "phase": st.get("phase"),
                    "ready": conds.get("Ready", {}).get("status") == "True",
                    "cpu_request_m": req.get("cpu", 0),
                    "memory_request_bytes": req.get("memory", 0),
                    "created_s": rel(_time(pod["metadata"].get("creationTimestamp"))),
                    "scheduled_s": rel(_time(scheduled.get("lastTransitionTime")))
                    if scheduled.get("status") == "True"
                    else None,
                    "running_s": rel(min(started)) if started else None,
                }
            )
        cols = [
            "name",
            "namespace",
            "node",
            "phase",
            "ready",
            "cpu_request_m",
            "memory_request_bytes",
            "created_s",
            "scheduled_s",
            "running_s",
        ]
        return pd.DataFrame(rows, columns=cols)

    # -- waiting --------------------------------------------------------------------------------
    def wait_for(
        self,
        condition: str | Callable[[dict[str, Any]], bool] = "Ready",
        names: list[str] | None = None,
        timeout: float = 60.0,
    ) -> bool:
        """Watch the namespace's pods until every one (or every one of ``names``) meets ``condition``:
        ``"bound"`` (``spec.nodeName`` set), ``"Ready"`` (the Ready condition, or a finished pod), or a
        function of the pod. Returns False when ``timeout`` seconds pass first (it never hangs longer)."""
        test = _condition(condition)
        deadline = time.monotonic() + timeout
        state: dict[str, dict[str, Any]] = {}
        version = None
        pod = kind_of("Pod")
        while True:
            if version is None:  # list, then watch from the list's resourceVersion
                body = self._send("GET", path(pod, self.namespace)).body or {}
                state = {p["metadata"]["name"]: p for p in body.get("items") or []}
                version = (body.get("metadata") or {}).get("resourceVersion") or ""
            if _all_met(state, names, test):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            version = self._watch(pod, version, state, names, test, left)

    def _watch(
        self,
        pod: Kind,
        version: str,
        state: dict[str, dict[str, Any]],
        names: list[str] | None,
        test: Callable[[dict[str, Any]], bool],
        left: float,
    ) -> str | None:
        """One watch request (at most ``left`` seconds); returns the resourceVersion to resume from,
        or None to list again (the stream broke or said 410 Gone)."""
        query = {"watch": "true", "timeoutSeconds": max(1, int(left)), "allowWatchBookmarks": "true"}
        if version and version != "...":
            query["resourceVersion"] = version
        try:
            raw = self._send(
                "GET", path(pod, self.namespace), query=query, stream=True, read_timeout=min(left, 5.0)
            ).raw
        except RealClusterError:
            self._sleep(min(0.5, max(left, 0)))
            return None
        try:
            buf = b""
            for chunk in raw.stream(4096, decode_content=True):
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR":
                        return None
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    version = rv or version
                    name = (obj.get("metadata") or {}).get("name")
                    if ev.get("type") == "DELETED":
                        state.pop(name, None)
                    elif ev.get("type") in ("ADDED", "MODIFIED") and name:
                        state[name] = obj
                    if _all_met(state, names, test):
                        return version
        except Exception:  # a read timeout or a broken stream: the caller lists again if time is left
            return None
        finally:
            raw.release_conn()
        return version

    def run(self, until: float = 60.0) -> bool:
        """Wait up to ``until`` seconds for every pod in the namespace to be Ready (the simulator's
        ``run`` advances simulated time; a real cluster's time cannot be advanced)."""
        return self.wait_for("Ready", timeout=until)


def _condition(condition: str | Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any]], bool]:
    if callable(condition):
        return condition
    if condition == "bound":
        return lambda p: bool((p.get("spec") or {}).get("nodeName"))
    if condition == "Ready":

        def ready(p: dict[str, Any]) -> bool:
            st = p.get("status") or {}
            if st.get("phase") in ("Succeeded", "Failed"):
                return True
            return any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or []
            )

        return ready
    raise ValueError(f'condition must be "bound", "Ready" or a function of the pod, not {condition!r}')


def _all_met(
    state: dict[str, dict[str, Any]], names: list[str] | None, test: Callable[[dict[str, Any]], bool]
) -> bool:
    if names is not None:
        return all(n in state and test(state[n]) for n in names)
    return all(test(p) for p in state.values())

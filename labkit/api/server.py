"""The simulated kube-apiserver: the one place where objects are validated, admitted and stored.

Every component (scheduler, kubelets, controllers, the garbage collector) and the ``Cluster``
facade write through an :class:`APIServer`, never into the store directly, as every
Kubernetes component is a client of kube-apiserver. The write path follows
``staging/src/k8s.io/apiserver/pkg/registry/rest/{create,update,delete}.go`` and
``registry/generic/registry/store.go``: validation, then admission (defaults, priority,
RuntimeClass overhead, default tolerations), then one atomic commit that stamps ``uid``,
``resourceVersion`` and ``creationTimestamp``.

What it reproduces:

- ``generateName``: the prefix cut to 58 characters plus 5 characters from
  ``bcdfghjklmnpqrstvwxz2456789`` (``apiserver/pkg/storage/names/generate.go``).
- Optimistic concurrency: an update that carries a ``resourceVersion`` other than the stored one
  raises :class:`Conflict` with upstream's message, and the caller retries on fresh data.
- The status subresource: ``update`` keeps the stored ``status``, ``update_status`` keeps ``spec``.
- Graceful deletion (``registry/core/pod/strategy.go: CheckGracefulDelete``): a bound, running
  pod gets ``deletionTimestamp = now + grace`` and ``deletionGracePeriodSeconds``; an unbound or
  finished pod, or grace 0, goes at once; a later delete can only shorten the grace period.
- Finalizers and ``propagationPolicy`` (``rest/delete.go``): ``Foreground`` adds
  ``foregroundDeletion``, ``Orphan`` adds ``orphan``; an object with finalizers stays (with a
  ``deletionTimestamp``) until the last one is removed. The garbage collector
  (:mod:`labkit.controllers.garbagecollector`) acts on them.
- The Service registry's ClusterIP and NodePort allocators (:mod:`labkit.api.serviceips`): a
  Service gets its addresses when the write that creates it commits, keeps them on updates and
  gives them back when it is deleted.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from labkit.api.defaults import apply_defaults
from labkit.api.kinds import lookup
from labkit.api.selectors import parse_selector
from labkit.api.serviceips import Reservations, ServiceAllocator
from labkit.api.store import APIStore, WatchEvent, clone, timestamp
from labkit.errors import ManifestError

__all__ = ["APIServer", "Conflict", "Forbidden", "NotFound", "GENERATE_NAME_ALPHABET", "IMMORTAL_NAMESPACES"]

#: ``apimachinery/pkg/util/rand/rand.go``: consonants and digits that cannot spell words.
GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
#: ``names.SimpleNameGenerator``: the prefix is cut to leave room for 5 random characters.
MAX_GENERATED_PREFIX = 58
#: Kinds whose ``status`` is a subresource (an update of the main resource keeps it).
STATUS_SUBRESOURCE = frozenset({"Pod", "Node", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet",
                                "HorizontalPodAutoscaler", "PersistentVolume", "PersistentVolumeClaim",
                                "Service", "Namespace", "PodDisruptionBudget"})
#: Kinds whose status strategy takes metadata (annotations) from the request and keeps only spec.
STATUS_KEEPS_ONLY_SPEC = frozenset({"Deployment", "ReplicaSet"})
#: Workload kinds whose default ``propagationPolicy`` is Background (``DefaultGarbageCollectionPolicy``).
BACKGROUND_BY_DEFAULT = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})
PROPAGATION_POLICIES = ("Background", "Foreground", "Orphan")
#: NamespaceLifecycle (``plugin/pkg/admission/namespace/lifecycle/admission.go``): never deleted.
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class NotFound(KeyError):
    """404: ``pods "web" not found``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class Conflict(Exception):
    """409: the update was made against an older ``resourceVersion``; re-read and retry."""


class Forbidden(ManifestError):
    """403 from admission, a :class:`labkit.ManifestError`: ``reason`` is the API server's message,
    e.g. ``namespaces "kube-system" is forbidden: this namespace may not be deleted``."""


def forbidden_message(kind: str, name: str, why: str) -> str:
    """``apimachinery/pkg/api/errors: NewForbidden``: ``<resource> "<name>" is forbidden: <why>``."""
    k = lookup(kind)
    group = k.api_version.split("/")[0] if "/" in k.api_version else ""
    resource = f"{k.plural}.{group}" if group else k.plural
    return f'{resource} "{name}" is forbidden: {why}'


class _Pending:
    """Admission's view during one apply call: the store overlaid with the call's earlier documents."""

    def __init__(self, store: APIStore) -> None:
        self.store = store
        # kind -> key -> object: admission asks for one kind at a time (a pod's PriorityClass), and
        # a call may carry thousands of pods, so the overlay is indexed by kind.
        self.new: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}
        # ClusterIPs and node ports this call's Services will hold once it commits.
        self.services = Reservations()

    def add(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = APIStore.key(obj["kind"], meta["name"], meta.get("namespace"))
        self.new.setdefault(key[0], {})[key] = obj

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        key = APIStore.key(kind, name, namespace)
        hit = self.new.get(key[0], {}).get(key)
        return hit if hit is not None else self.store.get(kind, name, namespace)

    def items(self, kind: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        k = lookup(kind).kind
        new = self.new.get(k, {})
        for key, obj in new.items():
            if namespace is None or key[1] == namespace:
                yield obj
        for obj in self.store.items(k, namespace):
            if APIStore.key(k, obj["metadata"]["name"], obj["metadata"].get("namespace")) not in new:
                yield obj


def conflict_message(kind: str, name: str) -> str:
    """``apimachinery/pkg/api/errors: NewConflict`` as ``registry/generic/registry/store.go`` words it."""
    k = lookup(kind)
    group = k.api_version.split("/")[0] if "/" in k.api_version else ""
    resource = f"{k.plural}.{group}" if group else k.plural
    return (f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again")


class APIServer:
    """kube-apiserver over an :class:`~labkit.api.store.APIStore` (its etcd).

    Reads hand out the stored objects themselves when ``copy=False`` (as an informer's lister
    hands out its cache: the caller must not mutate them) and copies otherwise.

    Parameters
    ----------
    store:
        The object store.
    clock:
        Simulated seconds now.
    rng:
        The seeded source for ``generateName`` suffixes.
    ip_rng:
        The seeded source for dynamic ClusterIP and NodePort allocations.
    name_rngs:
        Kinds whose ``generateName`` suffixes come from a source of their own (the cluster gives
        EndpointSlices one, so that adding a Service does not change the names of later pods;
        upstream's suffixes are random anyway).
    """

    def __init__(self, store: APIStore, clock: Callable[[], float], rng: random.Random, *,
                 ip_rng: random.Random | None = None, name_rngs: dict[str, random.Random] | None = None
                 ) -> None:
        self.store = store
        self._clock = clock
        self._rng = rng
        self._name_rngs = dict(name_rngs or {})
        # pkg/registry/core/service/storage: the ClusterIP and NodePort allocators, kept current
        # from the Service watch (a Service deleted by any path gives its addresses back).
        self.services = ServiceAllocator(ip_rng if ip_rng is not None else random.Random("labkit/serviceips"))
        for svc in store.items("Service"):
            self.services.observe(WatchEvent("ADDED", "Service", svc))
        store.watch("Service", self.services.observe)

    # -- reads ----------------------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = "default", *, copy: bool = True
            ) -> dict[str, Any]:
        """The object, or :class:`NotFound` (``pods "web" not found``)."""
        k = lookup(kind)
        obj = self.store.get(k.kind, name, namespace if k.namespaced else None)
        if obj is None:
            raise NotFound(f'{k.plural} "{name}" not found')
        return clone(obj) if copy else obj

    def peek(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The stored object or None, without a copy (read-only, like an informer's cache)."""
        return self.store.get(kind, name, namespace)

    def items(self, kind: str, namespace: str | None = None) -> Iterator[dict[str, Any]]:
        """Stored objects of ``kind`` in creation order, without copies (read-only)."""
        return self.store.items(kind, namespace)

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None,
             *, copy: bool = True) -> list[dict[str, Any]]:
        """Objects of ``kind`` (all namespaces when ``namespace`` is None), filtered like ``kubectl -l``."""
        sel = parse_selector(label_selector) if label_selector else None
        out = []
        for obj in self.store.items(kind, namespace):
            if sel is None or sel.matches(obj["metadata"].get("labels") or {}):
                out.append(clone(obj) if copy else obj)
        return out

    def watch(self, kind: str, handler: Callable[[WatchEvent], None]) -> None:
        """Call ``handler`` for every later change of ``kind``."""
        self.store.watch(kind, handler)

    @property
    def revision(self) -> int:
        return self.store.revision

    # -- create and apply -----------------------------------------------------------------------
    def create(self, obj: dict[str, Any], *, schema: bool = False) -> dict[str, Any]:
        """POST: validate, admit and store one new object (``generateName`` honoured); returns it.

        Components create objects from templates the API server already validated, so the
        OpenAPI schema pass (the slow part) runs only with ``schema=True``; the API server's
        own rules always run. Raises :class:`labkit.ManifestError` for an invalid object and
        ``KeyError`` for a name that exists.
        """
        from labkit.manifests import check_document

        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(obj)
        check_document(obj, schema=schema)
        pending = _Pending(self.store)
        obj = apply_defaults(obj, pending)
        self._check_namespace(obj, pending, creating=True)
        if self.store.get(obj["kind"], meta["name"], meta.get("namespace")) is not None:
            raise KeyError(f'{lookup(obj["kind"]).plural} "{meta["name"]}" already exists')
        if obj["kind"] == "Service":
            self.services.prepare(obj, None, pending.services)
        return self.store.create(obj)

    def admit(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A dry-run create (``--dry-run=server``): the object validated and admitted, not stored."""
        from labkit.manifests import check_document

        obj = clone(obj)
        check_document(obj)
        pending = _Pending(self.store)
        obj = apply_defaults(obj, pending)
        if obj["kind"] == "Service":
            old = self.store.get("Service", obj["metadata"]["name"], obj["metadata"].get("namespace"))
            self.services.prepare(obj, old, pending.services, dry_run=True)
        return obj

    def _generate_name(self, obj: dict[str, Any]) -> str:
        prefix = obj["metadata"]["generateName"][:MAX_GENERATED_PREFIX]
        rng = self._name_rngs.get(obj["kind"], self._rng)
        for _ in range(16):
            name = prefix + "".join(rng.choice(GENERATE_NAME_ALPHABET) for _ in range(5))
            if self.store.get(obj["kind"], name, obj["metadata"].get("namespace")) is None:
                return name
        raise KeyError(f"no free name for generateName {prefix!r}")

    def apply(self, docs: list[dict[str, Any]], schema_sample: bool = False) -> list[dict[str, Any]]:
        """``kubectl apply`` of loaded documents, atomically: all are validated first, then stored.

        ``schema_sample``: only the first document gets the schema pass (node pools, whose
        nodes share one shape). Returns the stored objects (copies), in input order.
        """
        from labkit.manifests import check_document

        pending = _Pending(self.store)
        prepared: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for i, doc in enumerate(docs):
            label = _doc_label(doc, i, len(docs))
            try:
                check_document(doc, schema=not schema_sample or i == 0)
                _check_unique(doc, pending)
                obj = apply_defaults(doc, pending)
                old = self._check_update(obj, pending)
                self._check_namespace(obj, pending, creating=old is None)
                if obj["kind"] == "Service":  # provisional until the call commits
                    self.services.prepare(obj, old, pending.services)
            except ManifestError as e:
                if e.document is None and (len(docs) > 1 or label):
                    raise type(e)(e.path, e.value, e.reason, document=label) from None
                raise
            pending.add(obj)
            prepared.append((obj, old))
        return [clone(self._commit(obj, old)) for obj, old in prepared]

    def _check_namespace(self, obj: dict[str, Any], pending: _Pending, creating: bool = True) -> None:
        ns = obj["metadata"].get("namespace")
        if not ns:
            return
        namespace = pending.get("Namespace", ns)
        if namespace is None:
            raise ManifestError("metadata.namespace", ns,
                                f'namespaces "{ns}" not found (create the Namespace first)')
        if creating and (namespace.get("status") or {}).get("phase") == "Terminating":
            # NamespaceLifecycle: no new objects in a namespace being deleted (updates still pass).
            raise Forbidden("metadata.namespace", ns, forbidden_message(
                obj["kind"], obj["metadata"]["name"],
                f"unable to create new content in namespace {ns} because it is being terminated"))

    def _check_update(self, obj: dict[str, Any], pending: _Pending) -> dict[str, Any] | None:
        meta = obj["metadata"]
        old = self.store.get(obj["kind"], meta["name"], meta.get("namespace"))
        if old is None or obj["kind"] != "Pod":
            return old
        # pkg/apis/core/validation/validation.go: ValidatePodUpdate -- a live pod's spec is immutable
        # except for the fields listed in the message; compare with those fields taken from the old spec.
        a, b = old["spec"], clone(obj["spec"])
        if b.get("nodeName") is None and a.get("nodeName"):
            b["nodeName"] = a["nodeName"]  # bound by the scheduler, not by the manifest
        for section in ("containers", "initContainers"):
            for ca, cb in zip(a.get(section) or [], b.get(section) or []):
                cb["image"] = ca["image"]
        if "activeDeadlineSeconds" in b and (a.get("activeDeadlineSeconds") is None
                                             or 0 < b["activeDeadlineSeconds"] <= a["activeDeadlineSeconds"]):
            b["activeDeadlineSeconds"] = a.get("activeDeadlineSeconds")  # may be set, or shortened
            if b["activeDeadlineSeconds"] is None:
                del b["activeDeadlineSeconds"]
        old_tols = a.get("tolerations") or []
        if all(t in (b.get("tolerations") or []) for t in old_tols):
            b["tolerations"] = old_tols  # only additions to existing tolerations
        if a.get("terminationGracePeriodSeconds", 0) < 0 and b.get("terminationGracePeriodSeconds") == 1:
            b["terminationGracePeriodSeconds"] = a["terminationGracePeriodSeconds"]
        if a != b:
            where = _first_difference(a, b, "spec")
            raise ManifestError(
                "spec", where,
                "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
                f"to 1 if it was previously negative); this apply changes {where} -- delete the pod and "
                "create it again to change that (or let a Deployment replace its pods)")
        return old

    def _commit(self, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        if old is None:
            return self.store.create(obj)
        if obj["kind"] == "Node":
            # A Node manifest carries its status (capacity, allocatable); the images a kubelet
            # recorded since stay unless the manifest lists images of its own.
            new = obj
            for field in ("uid", "resourceVersion", "creationTimestamp"):
                new["metadata"][field] = old["metadata"][field]
            old_images = (old.get("status") or {}).get("images")
            if old_images and not (new.get("status") or {}).get("images"):
                new.setdefault("status", {})["images"] = old_images
        else:
            new = clone(old)
            for field in ("spec", "data", "value", "handler", "overhead", "scheduling", "globalDefault",
                          "preemptionPolicy", "description"):
                if field in obj:
                    new[field] = obj[field]
            if obj["kind"] == "Pod" and old["spec"].get("nodeName"):
                new["spec"]["nodeName"] = old["spec"]["nodeName"]
        for key in ("labels", "annotations"):
            if key in obj["metadata"]:
                new["metadata"][key] = obj["metadata"][key]
            else:
                new["metadata"].pop(key, None)
        if new == old:
            return old  # kubectl apply: "unchanged" (no write, same resourceVersion)
        return self.store.replace(new)

    # -- update -----------------------------------------------------------------------------------
    def update(self, obj: dict[str, Any], *, validate: bool = False) -> dict[str, Any]:
        """PUT of the main resource: ``metadata`` (labels, annotations, finalizers, ownerReferences)
        and ``spec``; the stored ``status`` is kept for kinds with a status subresource.

        A ``resourceVersion`` in ``obj`` other than the stored one raises :class:`Conflict`.
        Removing the last finalizer of an object being deleted removes the object. ``validate``:
        decode and validate the new object as a user's request is (schema and API rules), for
        writes that come from a person (``kubectl scale``, ``patch``) rather than a controller
        writing what it computed from validated objects.
        """
        if validate:
            from labkit.manifests import check_document

            check_document({k: v for k, v in obj.items() if k != "status"}, schema=True)
        old = self._current(obj)
        new = clone(obj)
        if obj["kind"] in STATUS_SUBRESOURCE:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        for field in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if field in old["metadata"]:
                new["metadata"][field] = old["metadata"][field]
            else:
                new["metadata"].pop(field, None)
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new["kind"] == "Service" and "spec" in new:
            self.services.prepare(new, old, Reservations())  # keeps, allocates, releases node ports
        if new == old:
            return old  # a no-op update writes no new revision
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                and old["metadata"].get("finalizers"):
            # The last finalizer is gone: the deletion completes. (A pod in its grace period has no
            # finalizer to lose: an update, say a new label, leaves it terminating.)
            self.store.replace(new)
            return self.store.delete(new["kind"], new["metadata"]["name"], new["metadata"].get("namespace"))
        return self.store.replace(new)

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT ``.../status``: only ``status`` changes (``spec`` and ``metadata`` stay as stored)."""
        old = self._current(obj)
        new = dict(old)
        new["metadata"] = dict(old["metadata"])
        new["status"] = clone(obj.get("status") or {})
        if obj["kind"] in STATUS_KEEPS_ONLY_SPEC and obj["metadata"].get("annotations") is not None:
            # registry/apps/deployment/strategy.go (deploymentStatusStrategy.PrepareForUpdate) keeps
            # only spec (and labels) from storage: the deployment controller writes its revision
            # annotation together with status.
            new["metadata"]["annotations"] = dict(obj["metadata"]["annotations"])
        if new["status"] == old.get("status") and new["metadata"] == old["metadata"]:
            return old
        return self.store.replace(new, spec_changed=False)

    def _current(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        old = self.store.get(obj["kind"], meta["name"], meta.get("namespace"))
        if old is None:
            raise NotFound(f'{lookup(obj["kind"]).plural} "{meta["name"]}" not found')
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise Conflict(conflict_message(obj["kind"], meta["name"]))
        return old

    def mutate(self, kind: str, name: str, namespace: str | None, fn: Callable[[dict[str, Any]], None]
               ) -> dict[str, Any]:
        """Read-modify-write of the whole object in one step (a component's update on fresh data)."""
        return self.store.update(kind, name, namespace, fn)

    def mutate_status(self, kind: str, name: str, namespace: str | None,
                      fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read-modify-write of ``status`` only (the kubelet's and controllers' hot write path)."""
        return self.store.update_status(kind, name, namespace, fn)

    def update_fields(self, kind: str, name: str, namespace: str | None, section: str,
                      values: dict[str, Any]) -> dict[str, Any]:
        """Set a few top-level fields of one section (``spec`` or ``status``) without copying the rest.

        For small writes that happen very often, such as a kubelet renewing its node's Lease every
        10 s: the new version shares every other field with the old one, as the status and binding
        writes share ``spec``.
        """
        new = self.store.update_fields(kind, name, namespace, section, values)
        if new is None:
            raise NotFound(f'{lookup(kind).plural} "{name}" not found')
        return new

    def bind(self, name: str, namespace: str, node: str, mutate_status: Callable[[dict[str, Any]], None]
             ) -> dict[str, Any]:
        """``POST pods/<name>/binding``: set ``spec.nodeName`` (the scheduler's one write)."""
        return self.store.bind(name, namespace, node, mutate_status)

    def replace_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Store a new version of an Event (the recorder's count bump)."""
        return self.store.replace(event)

    def create_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Store an Event as the recorder builds it (no admission: events are not user input)."""
        return self.store.create(event)

    # -- patch ------------------------------------------------------------------------------------
    def patch(self, kind: str, name: str, namespace: str | None, patch: dict[str, Any],
              subresource: str | None = None) -> dict[str, Any]:
        """``kubectl patch``: strategic merge for built-in kinds (lists of named items merge by
        name), then an update of the main resource or, with ``subresource="status"``, of status."""
        from labkit.api.patch import strategic_merge

        if subresource not in (None, "status"):
            raise ValueError(f'subresource must be None or "status", not {subresource!r}')
        if not isinstance(patch, dict):
            raise ManifestError("", patch, "a patch is a mapping of the fields to change")
        current = self.get(kind, name, namespace)
        merged = strategic_merge(current, patch)
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if subresource == "status":
            return clone(self.update_status(merged))
        return clone(self.update(merged, validate=True))

    # -- delete -----------------------------------------------------------------------------------
    def delete(self, kind: str, name: str, namespace: str | None = "default", *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None
               ) -> dict[str, Any]:
        """DELETE with ``propagationPolicy`` and ``gracePeriodSeconds``; returns the object as left.

        Pods terminate gracefully (see the module docstring); Foreground and Orphan put a
        finalizer on the object for the garbage collector; Background (the default) removes the
        object now and lets the garbage collector delete its dependents.
        """
        k = lookup(kind)
        ns = namespace if k.namespaced else None
        obj = self.store.get(k.kind, name, ns)
        if obj is None:
            raise NotFound(f'{k.plural} "{name}" not found')
        if propagation_policy is not None and propagation_policy not in PROPAGATION_POLICIES:
            raise ValueError(f"propagation_policy must be one of {', '.join(PROPAGATION_POLICIES)}, "
                             f"not {propagation_policy!r}")
        if grace_period_seconds is not None and (isinstance(grace_period_seconds, bool)
                                                 or not isinstance(grace_period_seconds, int)):
            raise ValueError(f"grace_period_seconds must be a whole number of seconds, "
                             f"not {grace_period_seconds!r}")
        if k.kind == "Pod":
            return self._delete_pod(obj, grace_period_seconds)
        if k.kind == "Namespace" and (name in IMMORTAL_NAMESPACES
                                      or (obj.get("spec") or {}).get("finalizers")):
            return self._delete_namespace(obj)
        finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(propagation_policy or "")
        if finalizer is None and not obj["metadata"].get("finalizers"):
            return self.store.delete(k.kind, name, ns)
        now = timestamp(self._clock())

        def mark(o: dict[str, Any]) -> None:
            m = o["metadata"]
            m.setdefault("deletionTimestamp", now)
            m.setdefault("deletionGracePeriodSeconds", 0)
            if finalizer and finalizer not in (m.get("finalizers") or []):
                m["finalizers"] = [*(m.get("finalizers") or []), finalizer]

        return self.store.update(k.kind, name, ns, mark)

    def _delete_namespace(self, obj: dict[str, Any]) -> dict[str, Any]:
        """NamespaceLifecycle refuses ``default``, ``kube-system`` and ``kube-public``; any other
        namespace with ``spec.finalizers`` becomes ``Terminating`` (``registry/core/namespace/
        storage``): the namespace controller deletes its content, drops the finalizer and deletes
        it again, which removes it."""
        name = obj["metadata"]["name"]
        if name in IMMORTAL_NAMESPACES:
            raise Forbidden("metadata.name", name,
                            forbidden_message("Namespace", name, "this namespace may not be deleted"))
        if obj["metadata"].get("deletionTimestamp"):
            return obj
        now = timestamp(self._clock())

        def mark(o: dict[str, Any]) -> None:
            o["metadata"]["deletionTimestamp"] = now
            o["metadata"]["deletionGracePeriodSeconds"] = 0
            o.setdefault("status", {})["phase"] = "Terminating"

        return self.store.update("Namespace", name, None, mark)

    def _delete_pod(self, pod: dict[str, Any], grace: int | None) -> dict[str, Any]:
        meta = pod["metadata"]
        name, ns = meta["name"], meta["namespace"]
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        grace = max(grace, 0) if grace >= 0 else 1  # rest/delete.go: a negative period becomes 1
        phase = (pod.get("status") or {}).get("phase")
        if not pod["spec"].get("nodeName") or phase in ("Succeeded", "Failed"):
            grace = 0  # CheckGracefulDelete: nothing runs it, so nothing to wait for
        if grace == 0 and not meta.get("finalizers"):
            return self.store.delete("Pod", name, ns)
        deadline = self._clock() + grace
        if meta.get("deletionTimestamp"):
            # A second delete may only shorten the period (the deadline moves earlier).
            current = meta.get("deletionGracePeriodSeconds", 0)
            if grace >= current:
                return pod
            deadline = self._clock() + grace

        def mark(m: dict[str, Any]) -> None:
            m["deletionTimestamp"] = timestamp(deadline)
            m["deletionGracePeriodSeconds"] = grace

        return self.store.update_metadata("Pod", name, ns, mark)  # spec and status stay as stored

    def remove_finalizer(self, kind: str, name: str, namespace: str | None, finalizer: str) -> dict[str, Any]:
        """Drop one finalizer; an object being deleted goes once its last finalizer is gone."""
        obj = self.get(kind, name, namespace, copy=True)
        fins = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        if fins:
            obj["metadata"]["finalizers"] = fins
        else:
            obj["metadata"].pop("finalizers", None)
        return self.update(obj)


def _doc_label(doc: dict[str, Any], i: int, total: int) -> str | None:
    kind = doc.get("kind")
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
    if isinstance(kind, str) and isinstance(name, str):
        return f"{kind}/{name}"
    return f"document {i + 1}" if total > 1 else None


def _check_unique(doc: dict[str, Any], pending: _Pending) -> None:
    """One object once per call: a second copy would make the call's outcome depend on order."""
    meta = doc["metadata"]
    key = APIStore.key(doc["kind"], meta["name"], meta.get("namespace"))
    if key in pending.new.get(key[0], {}):
        raise ManifestError("metadata.name", meta["name"],
                            f'Duplicate value: {doc["kind"]} "{meta["name"]}" appears twice in this apply; '
                            "keep one copy (or apply the two versions one after the other)")


def _first_difference(a: Any, b: Any, path: str) -> str:
    """Field path of the first place where ``a`` and ``b`` differ (for an error message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return path

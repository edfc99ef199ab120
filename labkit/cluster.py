"""``labkit.Cluster``: a simulated Kubernetes cluster you drive with real YAML.

The facade wires the components once — API store, event recorder, kube-scheduler, kubelets —
and exposes the calls a learner makes with ``kubectl``: apply, get, list, delete, events. Time
only moves in :meth:`Cluster.run`, so every result is reproducible from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from labkit.api.defaults import apply_defaults
from labkit.api.events import EventRecorder
from labkit.api.kinds import lookup
from labkit.api.selectors import parse_selector
from labkit.api.store import APIStore, WatchEvent, clone, timestamp
from labkit.errors import ManifestError
from labkit.manifests import check_document, load_documents
from labkit.version import KUBERNETES_PATCH_VERSION

__all__ = ["Cluster"]

SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
DEFAULT_ZONES = ("cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j")


class _Pending:
    """Admission's view during one apply call: the store overlaid with the call's earlier documents."""

    def __init__(self, store: APIStore) -> None:
        self.store = store
        # kind -> key -> object: admission asks for one kind at a time (a pod's PriorityClass), and
        # a call may carry thousands of pods, so the overlay is indexed by kind.
        self.new: dict[str, dict[tuple[str, str, str], dict[str, Any]]] = {}

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


class Cluster:
    """A seeded, simulated Kubernetes cluster.

    Parameters
    ----------
    seed:
        Every random choice (uids, timing jitter) comes from this seed; ties between equally
        scored nodes are settled as the real scheduler's heap settles them, with no randomness
        (see :func:`labkit.scheduler.schedule_one.heap_root`). The same seed and the same calls
        give the same events.
    scheduler_config:
        A ``kubescheduler.config.k8s.io/v1`` ``KubeSchedulerConfiguration`` (dict, YAML text
        or path) for the scheduler's profile; the default profile when omitted.
    kubelets:
        ``False`` runs no kubelets: pods are bound but never start, as with the hollow nodes of
        kube-scheduler's own ``scheduler_perf`` benchmarks. For measuring the scheduler alone.
    """

    def __init__(self, seed: int = 0, scheduler_config: Any = None, *, kubelets: bool = True) -> None:
        import simpy

        from labkit.node.kubelet import Kubelets
        from labkit.scheduler.profile import default_profile, profile_from_config
        from labkit.scheduler.scheduler import Scheduler

        self.seed = seed
        self.env = simpy.Environment()
        clock = self._clock
        self.store = APIStore(clock, random.Random(f"labkit/{seed}/uid"))
        self.recorder = EventRecorder(self.store, clock)
        profile = profile_from_config(scheduler_config) if scheduler_config is not None else default_profile()
        self.scheduler = Scheduler(self.env, self.store, self.recorder, profile, cluster=self)
        self.kubelets = Kubelets(self.env, self.store, self.recorder, random.Random(f"labkit/{seed}/kubelet"),
                                 cluster=self) if kubelets else None
        self._pools: dict[str, int] = {}
        self._timeline: dict[str, dict[str, float]] = {}
        self.store.watch("Pod", self._track_pod)
        for ns in SYSTEM_NAMESPACES:
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            self.store.create(apply_defaults(namespace, _Pending(self.store)))

    def _clock(self) -> float:
        return self.env.now

    # -- time ------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated seconds since the cluster was created."""
        return float(self.env.now)

    def run(self, until: float | None = None) -> float:
        """Advance simulated time to ``until`` seconds (absolute, as in SimPy), or until nothing is
        left to happen (``None``). Returns the new :attr:`now`."""
        if until is None:
            self.env.run()
        elif until > self.env.now:
            self.env.run(until=until)
        return self.now

    # -- kubectl apply -------------------------------------------------------------------
    def apply(self, source: Any) -> list[dict[str, Any]]:
        """Create or update objects from a path, YAML text (multi-document), a dict or a list.

        Validation happens for every document before anything is stored: one bad document
        raises :class:`labkit.ManifestError` and leaves the cluster unchanged. Returns the
        stored objects (copies), in input order.
        """
        return self._apply(load_documents(source))

    def _apply(self, docs: list[dict[str, Any]], schema_sample: bool = False) -> list[dict[str, Any]]:
        """``apply`` on loaded documents; ``schema_sample``: only the first gets the schema pass."""
        pending = _Pending(self.store)
        prepared: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for i, doc in enumerate(docs):
            label = _doc_label(doc, i, len(docs))
            try:
                check_document(doc, schema=not schema_sample or i == 0)
                _check_unique(doc, pending)
                obj = apply_defaults(doc, pending)
                old = self._check_update(obj, pending)
                self._check_namespace(obj, pending)
            except ManifestError as e:
                if e.document is None and (len(docs) > 1 or label):
                    raise ManifestError(e.path, e.value, e.reason, document=label) from None
                raise
            pending.add(obj)
            prepared.append((obj, old))
        return [clone(self._commit(obj, old)) for obj, old in prepared]

    def _check_namespace(self, obj: dict[str, Any], pending: _Pending) -> None:
        ns = obj["metadata"].get("namespace")
        if ns and pending.get("Namespace", ns) is None:
            raise ManifestError("metadata.namespace", ns,
                                f'namespaces "{ns}" not found (create the Namespace first)')

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
            # A Node manifest carries its status (capacity, allocatable, images): take it whole.
            new = obj
            for field in ("uid", "resourceVersion", "creationTimestamp"):
                new["metadata"][field] = old["metadata"][field]
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

    # -- kubectl get / delete ------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = "default") -> dict[str, Any]:
        """The object as the API server returns it (a copy); ``KeyError`` when it does not exist."""
        k = lookup(kind)
        obj = self.store.get(k.kind, name, namespace if k.namespaced else None)
        if obj is None:
            raise KeyError(f'{k.plural} "{name}" not found')
        return clone(obj)

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None
             ) -> list[dict[str, Any]]:
        """Objects of ``kind`` (all namespaces when ``namespace`` is None), filtered like ``kubectl -l``."""
        sel = parse_selector(label_selector) if label_selector else None
        out = []
        for obj in self.store.items(kind, namespace):
            if sel is None or sel.matches(obj["metadata"].get("labels") or {}):
                out.append(clone(obj))
        return out

    def delete(self, kind: str, name: str, namespace: str | None = "default") -> dict[str, Any]:
        """Delete an object. A running pod terminates gracefully: it carries a ``deletionTimestamp``
        until its kubelet has stopped the containers (run the cluster to see it go)."""
        k = lookup(kind)
        ns = namespace if k.namespaced else None
        if self.store.get(k.kind, name, ns) is None:
            raise KeyError(f'{k.plural} "{name}" not found')
        if k.kind == "Pod":
            return clone(self._delete_pod(ns or "default", name))
        return clone(self.store.delete(k.kind, name, ns))

    def _delete_pod(self, namespace: str, name: str, reason: str = "") -> dict[str, Any]:
        pod = self.store.get("Pod", name, namespace)
        assert pod is not None
        if pod["metadata"].get("deletionTimestamp"):
            return pod  # already terminating
        if not pod["spec"].get("nodeName"):
            return self.store.delete("Pod", name, namespace)  # no kubelet to stop it: gone at once
        grace = pod["spec"].get("terminationGracePeriodSeconds", 30)

        def mark(p: dict[str, Any]) -> None:
            p["metadata"]["deletionTimestamp"] = timestamp(self.env.now + grace)
            p["metadata"]["deletionGracePeriodSeconds"] = grace
            if reason:
                st = p.setdefault("status", {})
                st.setdefault("conditions", []).append(
                    {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                     "lastTransitionTime": timestamp(self.env.now), "reason": "PreemptionByScheduler",
                     "message": "default-scheduler: preempting to accommodate a higher priority pod"})

        marked = self.store.update("Pod", name, namespace, mark)
        self.env.process(self._finish_delete(marked))
        return marked

    def _finish_delete(self, pod: dict[str, Any]):
        if self.kubelets is not None:
            yield from self.kubelets.stop_pod(pod)
        else:
            yield self.env.timeout(0)
        cur = self.store.get("Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])
        if cur is not None and cur["metadata"]["uid"] == pod["metadata"]["uid"]:
            self.store.delete("Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])

    # -- observing --------------------------------------------------------------------------
    def events(self, namespace: str | None = None, involved: str | None = None) -> list[dict[str, Any]]:
        """Events, oldest first (``kubectl get events --sort-by=.firstTimestamp``).

        ``involved`` filters by object name (``"my-nginx"``) or ``"Kind/name"``.
        """
        out = []
        for ev in self.store.items("Event", namespace):
            io = ev["involvedObject"]
            if involved and involved not in (io["name"], f'{io["kind"]}/{io["name"]}'):
                continue
            out.append(clone(ev))
        out.sort(key=lambda e: (e["firstTime"], int(e["metadata"]["resourceVersion"])))
        return out

    def event_log(self) -> list[dict[str, Any]]:
        """Every event emission in order (repeats included), as flat records for timelines."""
        return [dict(e) for e in self.recorder.log]

    def _track_pod(self, ev: WatchEvent) -> None:
        uid = ev.object["metadata"]["uid"]
        marks = self._timeline.setdefault(uid, {})
        now = float(self.env.now)
        if ev.type == "ADDED":
            marks.setdefault("created", now)
        st = ev.object.get("status") or {}
        if ev.object["spec"].get("nodeName"):
            marks.setdefault("scheduled", now)
        if st.get("phase") == "Running":
            marks.setdefault("running", now)

    def pods_frame(self, namespace: str | None = None):
        """Pods as a pandas DataFrame: name, namespace, node, phase, ready, requests and times (s)."""
        import pandas as pd

        from labkit.scheduler.podinfo import pod_requests

        rows = []
        for pod in self.store.items("Pod", namespace):
            st = pod.get("status") or {}
            req = pod_requests(pod["spec"])
            marks = self._timeline.get(pod["metadata"]["uid"], {})
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions") or [])
            rows.append({
                "name": pod["metadata"]["name"],
                "namespace": pod["metadata"]["namespace"],
                "node": pod["spec"].get("nodeName"),
                "phase": st.get("phase"),
                "ready": ready,
                "cpu_request_m": req.get("cpu", 0),
                "memory_request_bytes": req.get("memory", 0),
                "created_s": marks.get("created"),
                "scheduled_s": marks.get("scheduled"),
                "running_s": marks.get("running"),
            })
        cols = ["name", "namespace", "node", "phase", "ready", "cpu_request_m", "memory_request_bytes",
                "created_s", "scheduled_s", "running_s"]
        return pd.DataFrame(rows, columns=cols)

    # -- nodes -----------------------------------------------------------------------------------
    def add_node_pool(self, name: str, instance_type: str, count: int, zones: list[str] | None = None, *,
                      labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None,
                      network: str = "terway") -> list[dict[str, Any]]:
        """Add ``count`` ECS nodes of ``instance_type`` (an ACK node pool), round-robin over ``zones``.

        Allocatable follows :func:`labkit.cloud.ecs.allocatable`; nodes are applied as real
        ``v1 Node`` objects, so they pass the same validation as a Node manifest.
        """
        from labkit.cloud.ecs import pool_nodes

        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative integer, got {count!r}")
        start = self._pools.get(name, 0)
        pool_index = list(self._pools).index(name) if name in self._pools else len(self._pools)
        nodes = pool_nodes(name, instance_type, count, zones or list(DEFAULT_ZONES), start_index=start,
                           labels=labels, taints=taints, network=network, pool_index=pool_index,
                           kubelet_version=KUBERNETES_PATCH_VERSION)
        self._pools[name] = start + count
        # The pool's nodes share one shape: the first takes the schema pass for all of them.
        return self._apply(nodes, schema_sample=True) if nodes else []

    def explain(self, pod: Any, namespace: str = "default", all_nodes: bool = False):
        """Why a pod was placed where it was (see :class:`labkit.scheduler.explain.Explanation`).

        ``pod`` is the name of an applied pod — the decision recorded by the cycle that placed
        (or failed to place) it — or a Pod manifest, evaluated as a what-if without applying it.
        ``all_nodes=True`` is the teaching view: every score plugin on every node, computed
        against the cluster as it is now (without the pod itself).
        """
        from labkit.scheduler.explain import Explanation

        s = self.scheduler
        weights = [(p.name, s.profile.weights[p.name]) for p in s.profile.score_plugins]
        if isinstance(pod, str) and "\n" not in pod and not pod.endswith((".yaml", ".yml")):
            obj = self.store.get("Pod", pod, namespace)
            if obj is None:
                raise KeyError(f'pods "{pod}" not found')
            uid = obj["metadata"]["uid"]
            if not all_nodes:
                result = s.records.get(uid)
                if result is None:
                    raise ValueError(f"pod {namespace}/{pod} has not been through a scheduling cycle yet "
                                     "(run the cluster first)")
                return Explanation(f"{namespace}/{pod}", result, weights, self._message(obj),
                                   node_labels=self._node_labels())
            # The teaching view asks where the pod *could* go: evaluate it unbound, as it was queued.
            status = {k: v for k, v in (obj.get("status") or {}).items() if k != "nominatedNodeName"}
            spec = {k: v for k, v in obj["spec"].items() if k != "nodeName"}
            unbound = {**obj, "spec": spec, "status": status}
            return self._what_if(unbound, weights, all_nodes=True, exclude_uid=uid)
        docs = load_documents(pod)
        if len(docs) != 1 or docs[0].get("kind") != "Pod":
            raise ManifestError("kind", docs[0].get("kind"), "explain takes one Pod manifest")
        doc = docs[0]
        check_document(doc)
        obj = apply_defaults(doc, _Pending(self.store))
        obj["metadata"].setdefault("uid", "what-if")
        return self._what_if(obj, weights, all_nodes=all_nodes)

    def _message(self, pod: dict[str, Any]) -> str:
        for c in (pod.get("status") or {}).get("conditions") or []:
            if c["type"] == "PodScheduled" and c["status"] == "False":
                return c.get("message", "")
        return ""

    def _what_if(self, obj: dict[str, Any], weights, all_nodes: bool, exclude_uid: str | None = None):
        from labkit.scheduler.explain import Explanation
        from labkit.scheduler.framework import CycleContext
        from labkit.scheduler.podinfo import PodInfo
        from labkit.scheduler.scheduler import failed_scheduling_message

        s = self.scheduler
        info = PodInfo.from_pod(obj)
        bound = s._bound.get(exclude_uid or "")
        row = s.table.index.get(bound[0]) if bound else None
        if row is not None:
            s.table.remove_pod(row, bound[1])
        try:
            ctx = CycleContext(pod=info, table=s.table, cluster=self)
            result = s.algorithm.schedule(ctx, all_nodes=all_nodes, dry_run=True)
            message = ""
            if not len(result.feasible):
                _, post = s.post_filter(ctx, result)
                message = failed_scheduling_message(result, post)
        finally:
            if row is not None:
                s.table.add_pod(row, bound[1])
        name = f'{obj["metadata"].get("namespace", "default")}/{obj["metadata"]["name"]}'
        return Explanation(name, result, weights, message, what_if=True, node_labels=self._node_labels())

    def _node_labels(self) -> dict[str, str]:
        """Short node names for explain's HTML view: ``general · h · 10.0.0.1``."""
        from labkit.cloud.ecs import nodepool_id, short_node_label

        pools = {nodepool_id(name): name for name in self._pools}
        return {n["metadata"]["name"]: short_node_label(n, pools) for n in self.store.items("Node")}

    # -- notebook display ---------------------------------------------------------------------
    def _repr_html_(self) -> str:
        from labkit.plots import cluster_html

        return cluster_html(self)

    def __repr__(self) -> str:
        nodes = sum(1 for _ in self.store.items("Node"))
        pods = sum(1 for _ in self.store.items("Pod"))
        return f"<labkit.Cluster seed={self.seed} t={self.now:.3f}s nodes={nodes} pods={pods}>"


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

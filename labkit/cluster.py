"""``labkit.Cluster``: a simulated Kubernetes cluster you drive with real YAML.

The facade wires the components once — API store, event recorder, kube-scheduler, kubelets —
and exposes the calls a learner makes with ``kubectl``: apply, get, list, delete, events. Time
only moves in :meth:`Cluster.run`, so every result is reproducible from the seed.
"""

from __future__ import annotations

import math
import random
import re
from datetime import datetime, timezone
from numbers import Real
from typing import Any

from labkit.api.defaults import builtin_objects, builtin_services
from labkit.api.events import EventRecorder
from labkit.api.server import APIServer
from labkit.api.store import EPOCH, APIStore, WatchEvent, clone
from labkit.errors import ManifestError
from labkit.manifests import load_documents
from labkit.version import KUBERNETES_PATCH_VERSION

__all__ = ["Cluster"]

SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
#: The last simulated second an RFC 3339 timestamp can show (9999-12-31T23:59:59Z; ``metav1.Time``
#: marshals only years 0-9999), counted from :data:`labkit.api.store.EPOCH`.
MAX_TIME = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc) - EPOCH).total_seconds()
DEFAULT_ZONES = ("cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j")


def _check_until(until: Any) -> None:
    """Refuse a ``run(until=...)`` that simulated time cannot reach (see :meth:`Cluster.run`)."""
    if isinstance(until, bool) or not isinstance(until, Real):
        raise ManifestError("until", until, "Invalid value: until is a number of simulated seconds since the "
                            "cluster was created, e.g. c.run(until=c.now + 60), or None to run until settled")
    if not math.isfinite(until) or until > MAX_TIME:
        raise ManifestError("until", until, f"Invalid value: must be finite and at most {MAX_TIME:.0f} s "
                            "(9999-12-31T23:59:59Z, the last instant an RFC 3339 timestamp can show)")


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
    proxy_mode, ipvs_scheduler:
        kube-proxy's ``mode`` (``iptables``, the default, ``nftables`` or ``ipvs``) and, for ipvs,
        its ``--ipvs-scheduler`` (``rr``, the default, ``lc`` or ``sh``; see :mod:`labkit.network.proxy`).
    endpoint_propagation:
        ``(low, high)``: each node's kube-proxy programs an endpoint change between ``low`` and
        ``high`` seconds after the API server stored it (default 0.5–2.0 s).
    traffic_engine:
        ``"auto"`` (default), ``"events"`` or ``"vectorized"``: how :meth:`traffic` computes
        requests (all give the same records; see :mod:`labkit.workloads.engine`).
    """

    def __init__(self, seed: int = 0, scheduler_config: Any = None, *, kubelets: bool = True,
                 proxy_mode: str = "iptables", ipvs_scheduler: str = "rr",
                 endpoint_propagation: tuple[float, float] = (0.5, 2.0), traffic_engine: str = "auto"
                 ) -> None:
        from labkit.cloud.slb import LoadBalancerController
        from labkit.controllers.deployment import DeploymentController
        from labkit.controllers.endpointslice import EndpointSliceController
        from labkit.controllers.garbagecollector import GarbageCollector
        from labkit.controllers.namespace import NamespaceController
        from labkit.controllers.nodelifecycle import NodeLifecycleController
        from labkit.controllers.podgc import PodGC
        from labkit.controllers.replicaset import ReplicaSetController
        from labkit.controllers.tainteviction import TaintEvictionController
        from labkit.network.dataplane import DataPlane
        from labkit.network.proxy import KubeProxy
        from labkit.node.heartbeat import NodeHeartbeats
        from labkit.node.kubelet import Kubelets
        from labkit.scheduler.profile import default_profile, profile_from_config
        from labkit.scheduler.scheduler import Scheduler
        from labkit.sim import LabEnvironment

        self.seed = seed
        self.env = LabEnvironment()
        clock = self._clock
        self.store = APIStore(clock, random.Random(f"labkit/{seed}/uid"))
        self.api = APIServer(self.store, clock, random.Random(f"labkit/{seed}/names"),
                             ip_rng=random.Random(f"labkit/{seed}/serviceips"),
                             name_rngs={"EndpointSlice": random.Random(f"labkit/{seed}/names/EndpointSlice")})
        self.recorder = EventRecorder(self.api, clock)
        profile = profile_from_config(scheduler_config) if scheduler_config is not None else default_profile()
        self.scheduler = Scheduler(self.env, self.api, self.recorder, profile)
        # kube-controller-manager: workload controllers (always on, also with hollow nodes)
        self.replicaset_controller = ReplicaSetController(self.env, self.api, self.recorder)
        self.deployment_controller = DeploymentController(self.env, self.api, self.recorder)
        # kube-controller-manager
        self.garbage_collector = GarbageCollector(self.env, self.api, self.recorder)
        # Every node's kubelet reports (Lease, node status), hollow nodes too; the heartbeats start
        # before the node lifecycle controller so that its first pass finds the Leases.
        self.heartbeats = NodeHeartbeats(self.env, self.api, self.recorder)
        self.node_lifecycle_controller = NodeLifecycleController(self.env, self.api, self.recorder)
        self.taint_eviction_controller = TaintEvictionController(self.env, self.api, self.recorder)
        self.pod_gc = PodGC(self.env, self.api, self.recorder)
        self.namespace_controller = NamespaceController(self.env, self.api, self.recorder)
        self.endpointslice_controller = EndpointSliceController(self.env, self.api, self.recorder)
        from labkit.controllers.disruption import DisruptionController

        self.disruption_controller = DisruptionController(self.env, self.api, self.recorder)
        # The node kernels (which pod IP answers) and kube-proxy on every node (their Service rules)
        self.dataplane = DataPlane()
        self.kube_proxy = KubeProxy(self.env, self.api, self.recorder, seed, mode=proxy_mode,
                                    ipvs_scheduler=ipvs_scheduler, propagation=endpoint_propagation)
        if traffic_engine not in ("auto", "events", "vectorized"):
            raise ValueError(f"traffic_engine {traffic_engine!r}: choose 'auto', 'events' or 'vectorized'")
        self._traffic_engine_mode = traffic_engine
        self._traffic = None
        # ACK's cloud controller manager: an SLB (CLB) for every LoadBalancer Service
        self.load_balancer_controller = LoadBalancerController(self.env, self.api, self.recorder)
        from labkit.images.registry import Registry

        #: the container registries (ACR, Docker Hub): ``c.registry.push(image, reference)`` is docker push
        self.registry = Registry()
        self.kubelets = Kubelets(self.env, self.api, self.recorder, random.Random(f"labkit/{seed}/kubelet"),
                                 self.dataplane, self.registry) if kubelets else None
        # The metrics-server addon: scrapes every kubelet each --metric-resolution (15 s)
        from labkit.metrics.server import MetricsServer

        self.metrics_server = MetricsServer(self.env, self.api, self.dataplane)
        # kube-controller-manager: the HorizontalPodAutoscaler controller, a metrics.k8s.io client
        from labkit.controllers.podautoscaler.controller import HorizontalController

        self.hpa_controller = HorizontalController(self.env, self.api, self.recorder,
                                                   self.metrics_server.pod_metrics)
        self._fluid = None
        self._pools: dict[str, int] = {}
        # ECS node pools (the cloud provider's node groups) and the cluster autoscaler, whose loop starts
        # with the first autoscaled pool (labkit.cloud.nodepools, labkit.controllers.cluster_autoscaler)
        from labkit.cloud.nodepools import ECSCloud
        from labkit.controllers.cluster_autoscaler import ClusterAutoscaler

        self.cloud_provider = ECSCloud(self.env, self.api, random.Random(f"labkit/{seed}/ecs"))
        self.cluster_autoscaler = ClusterAutoscaler(self.env, self.api, self.recorder, self.cloud_provider,
                                                    random.Random(f"labkit/{seed}/cluster-autoscaler"))
        self._timeline: dict[str, dict[str, float]] = {}
        self.api.watch("Pod", self._track_pod)
        for ns in SYSTEM_NAMESPACES:
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            self.api.create(namespace)
        for obj in builtin_objects():  # system-node-critical, system-cluster-critical
            self.api.create(obj)
        for obj in builtin_services():  # default/kubernetes (and its EndpointSlice), kube-system/kube-dns
            self.api.create(obj)

    def _clock(self) -> float:
        return self.env.now

    # -- time ------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated seconds since the cluster was created."""
        return float(self.env.now)

    @property
    def dns(self) -> Any:
        """The cluster DNS (:class:`labkit.network.dns.ClusterDNS`): CoreDNS's ``kubernetes`` plugin
        answering from the API, and each pod's resolver (``c.dns.resolve("web", from_pod="client")``).
        Built on first use."""
        dns = self.__dict__.get("_dns")
        if dns is None:
            from labkit.network.dns import ClusterDNS

            dns = self._dns = ClusterDNS(self.api)
        return dns

    def run(self, until: float | None = None) -> float:
        """Advance simulated time to ``until`` seconds (absolute, as in SimPy), or until nothing is
        left to happen (``None``). Returns the new :attr:`now`.

        Every object carries RFC 3339 timestamps of simulated time (``creationTimestamp``, Lease
        renewals, Events), and RFC 3339 ends at 9999-12-31T23:59:59Z, so ``until`` must be a finite
        number of at most :data:`MAX_TIME` seconds (about 7,970 years); anything else is refused with
        :class:`labkit.ManifestError` (path ``until``) and time does not move. Simulated time is not
        free: the periodic loops (heartbeats every 10 s, node monitor every 5 s) run through it, about
        0.1-0.3 s of real time per simulated day for a small cluster.
        """
        if until is not None:
            _check_until(until)
        if until is None:
            self.env.settle()
        elif until > self.env.now:
            from labkit.sim import fewer_collections

            with fewer_collections():
                self.env.run(until=until)
        return self.now

    @classmethod
    def from_real(cls, real: Any, seed: int = 0, **options: Any) -> Cluster:
        """A simulated twin of a real cluster, to ask "what would happen if" on a copy.

        ``real`` is a :class:`labkit.RealCluster`; the twin gets its Nodes (names, labels, taints,
        capacity, allocatable, images) and the bound, unfinished Pods of its namespace (in the twin's
        ``default`` namespace), started and settled. Pods of namespaces the learner cannot read are
        not copied, so the twin's nodes look emptier than the real ones. Reads only; the real
        cluster is not changed. ``options`` go to :class:`Cluster`.
        """
        from labkit.real.compare import twin_manifests

        docs = twin_manifests(real)
        twin = cls(seed=seed, **options)
        nodes = [d for d in docs if d["kind"] == "Node"]
        pods = [d for d in docs if d["kind"] != "Node"]
        if nodes:
            twin.apply(nodes)
        if pods:
            twin.apply(pods)
        twin.run()
        return twin

    # -- kubectl apply -------------------------------------------------------------------
    def apply(self, source: Any) -> list[dict[str, Any]]:
        """Create or update objects from a path, YAML text (multi-document), a dict or a list.

        Validation happens for every document before anything is stored: one bad document
        raises :class:`labkit.ManifestError` and leaves the cluster unchanged. Returns the
        stored objects (copies), in input order.
        """
        return self._apply(load_documents(source))

    def _apply(self, docs: list[dict[str, Any]], schema_sample: bool = False) -> list[dict[str, Any]]:
        return self.api.apply(docs, schema_sample=schema_sample)

    # -- kubectl get / delete ------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = "default") -> dict[str, Any]:
        """The object as the API server returns it (a copy); ``KeyError`` when it does not exist."""
        return self.api.get(kind, name, namespace)

    def list(self, kind: str, namespace: str | None = None, label_selector: str | None = None
             ) -> list[dict[str, Any]]:
        """Objects of ``kind`` (all namespaces when ``namespace`` is None), filtered like ``kubectl -l``."""
        return self.api.list(kind, namespace, label_selector)

    def delete(self, kind: str, name: str, namespace: str | None = "default", *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None
               ) -> dict[str, Any]:
        """``kubectl delete``: a running pod terminates gracefully (it carries a ``deletionTimestamp``
        until its kubelet has stopped the containers: run the cluster to see it go); a Deployment or
        ReplicaSet takes its dependents with it (``propagation_policy`` Background, the default,
        Foreground or Orphan). ``grace_period_seconds=0`` removes a pod at once."""
        return clone(self.api.delete(kind, name, namespace, propagation_policy=propagation_policy,
                                     grace_period_seconds=grace_period_seconds))

    def patch(self, kind: str, name: str, patch: dict[str, Any], namespace: str | None = "default",
              subresource: str | None = None) -> dict[str, Any]:
        """``kubectl patch``: a strategic merge patch (lists of named items merge by name);
        ``subresource="status"`` writes status, as a kubelet or a controller does."""
        return self.api.patch(kind, name, namespace, patch, subresource=subresource)

    # -- kubectl scale / rollout (labkit.kubectl.rollout) -----------------------------------------
    def scale(self, kind: str, name: str, replicas: int, namespace: str = "default") -> dict[str, Any]:
        """``kubectl scale``: set ``spec.replicas`` of a Deployment or ReplicaSet; returns it (a copy)."""
        from labkit.kubectl.rollout import scale

        return clone(scale(self.api, kind, name, replicas, namespace))

    def rollout_status(self, kind: str, name: str, namespace: str = "default") -> str:
        """``kubectl rollout status`` for the current state, in kubectl's words, e.g.
        ``Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...``
        or ``deployment "web" successfully rolled out``."""
        from labkit.kubectl.rollout import rollout_status

        return rollout_status(self.api, kind, name, namespace)

    def rollout_history(self, kind: str, name: str, namespace: str = "default") -> list[dict[str, Any]]:
        """``kubectl rollout history``: ``[{"revision", "change_cause", "replicaset"}]``, oldest first."""
        from labkit.kubectl.rollout import rollout_history

        return rollout_history(self.api, kind, name, namespace)

    def rollout_undo(self, kind: str, name: str, to_revision: int | None = None, namespace: str = "default"
                     ) -> str:
        """``kubectl rollout undo [--to-revision=N]``: the previous (or the given) revision's template
        back into the Deployment; run the cluster to see the rollout. ``ValueError`` as kubectl words it
        (``unable to find specified revision 7 in history``)."""
        from labkit.kubectl.rollout import rollout_undo

        return rollout_undo(self.api, kind, name, to_revision, namespace)

    def rollout_restart(self, kind: str, name: str, namespace: str = "default") -> str:
        """``kubectl rollout restart``: stamp ``kubectl.kubernetes.io/restartedAt`` on the pod template."""
        from labkit.kubectl.rollout import rollout_restart

        return rollout_restart(self.api, kind, name, self.now, namespace)

    # -- observing --------------------------------------------------------------------------
    def events(self, namespace: str | None = None, involved: str | None = None) -> list[dict[str, Any]]:
        """Events, oldest first (``kubectl get events --sort-by=.firstTimestamp``).

        ``involved`` filters by object name (``"my-nginx"``) or ``"Kind/name"``.
        """
        out = []
        for ev in self.api.items("Event", namespace):
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
        for pod in self.api.items("Pod", namespace):
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
                      network: str = "terway", min_size: int | None = None, max_size: int | None = None,
                      runtime_handlers: tuple[str, ...] | list[str] = ("runc",)) -> list[dict[str, Any]]:
        """Add ``count`` ECS nodes of ``instance_type`` (an ACK node pool), round-robin over ``zones``.

        Allocatable follows :func:`labkit.cloud.ecs.allocatable`; nodes are applied as real
        ``v1 Node`` objects, so they pass the same validation as a Node manifest.

        With ``min_size`` and ``max_size`` the pool is an autoscaled node group (an ACK node pool
        with auto scaling, backed by an ESS scaling group): ``count`` is its starting size, and the
        cluster autoscaler (:attr:`cluster_autoscaler`) resizes it within ``[min_size, max_size]``;
        new instances register as Nodes after the provisioning delay
        (:data:`labkit.cloud.nodepools.PROVISION_DELAY_S`, illustrative). Requires
        ``0 <= min_size <= count <= max_size``. An autoscaled pool is added once; calling again
        with the name of an existing pool without ``min_size``/``max_size`` adds nodes to it.

        ``runtime_handlers`` are the container runtimes the nodes' containerd offers (reported in
        ``status.runtimeHandlers``): ``runc`` always; ACK's sandboxed-container pools (ECS Bare Metal)
        add ``runv``. A pod whose RuntimeClass names a handler its node lacks never gets a sandbox
        (``FailedCreatePodSandBox``): a RuntimeClass's ``scheduling.nodeSelector`` keeps it away.
        """
        from labkit.cloud.ecs import pool_nodes
        from labkit.cloud.nodepools import NodePool

        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ManifestError("count", count,
                                "Invalid value: the number of nodes is a non-negative integer (e.g. count=3)")
        autoscaled = min_size is not None or max_size is not None
        if autoscaled:
            for param, value in (("min_size", min_size), ("max_size", max_size)):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ManifestError(param, value, f"Invalid value: an autoscaled node pool needs {param} "
                                        "as a non-negative integer (e.g. min_size=0, max_size=10)")
            assert min_size is not None and max_size is not None
            if min_size > max_size:
                raise ManifestError("min_size", min_size, f"Invalid value: min_size must not exceed max_size "
                                    f"({max_size})")
            if count < min_size:
                raise ManifestError("count", count, f"Invalid value: the starting size must be at least "
                                    f"min_size ({min_size})")
            if count > max_size:
                raise ManifestError("count", count, f"Invalid value: the starting size must be at most "
                                    f"max_size ({max_size})")
        existing = self.cloud_provider.pools.get(name)
        if existing is not None and (autoscaled or existing.autoscaled):
            raise ManifestError("name", name, "Invalid value: an autoscaled node pool of this name exists "
                                "(or is being made one); the cluster autoscaler sizes it, pick another name")
        start = self._pools.get(name, 0)
        pool_index = list(self._pools).index(name) if name in self._pools else len(self._pools)
        zone_list = zones or list(DEFAULT_ZONES)
        handlers = tuple(runtime_handlers)
        for h in handlers:
            if not isinstance(h, str) or not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", h) or len(h) > 63:
                raise ManifestError("runtime_handlers", h, "Invalid value: a runtime handler is a DNS label "
                                    '(lower-case letters, digits and "-"), e.g. "kata-qemu"')
        if "runc" not in handlers:
            handlers = ("runc", *handlers)
        nodes = pool_nodes(name, instance_type, count, zone_list, start_index=start,
                           labels=labels, taints=taints, network=network, pool_index=pool_index,
                           kubelet_version=KUBERNETES_PATCH_VERSION, runtime_handlers=handlers)
        pool = existing
        if pool is None:
            pool = NodePool(self.cloud_provider, name, instance_type, zone_list, labels=labels, taints=taints,
                            network=network, pool_index=pool_index, kubelet_version=KUBERNETES_PATCH_VERSION,
                            min_size=min_size, max_size=max_size, runtime_handlers=handlers)
            if autoscaled:
                pool.template_node()  # the template must be a valid Node (instance type, zones, Terway)
        # The pool's nodes share one shape: the first takes the schema pass for all of them.
        # The node counter moves only once the nodes are stored: a refused call leaves no trace.
        out = self._apply(nodes, schema_sample=True) if nodes else []
        self._pools[name] = start + count
        pool.next_index = start + count
        pool.registered(nodes)
        if existing is None:
            self.cloud_provider.add_pool(pool)
        return out

    def cost(self):
        """What the node pools have cost so far (a DataFrame, one row per pool and instance type).

        Columns: ``node_pool``, ``instance_type``, ``instances`` (ever launched), ``node_hours`` (each
        instance from the moment it was requested, for an autoscaled pool's new nodes the scale-up,
        until it was released, or until now; pay-as-you-go ECS is billed by the second),
        ``price_cny_per_hour``, ``cost_cny`` and where the price comes from (``price_kind``:
        ``illustrative`` for every CPU type today, ``none`` for GPU types; ``price_source``). Prices
        are ``data/cloud/ecs_prices.csv`` (see ``data/cloud/README.md``): illustrative figures, not
        Alibaba Cloud list prices; never use them for real budgeting.
        """
        import pandas as pd

        from labkit.cloud.ecs import price

        rows = []
        for r in self.cloud_provider.node_hours(self.now):
            p = price(r["instance_type"])
            hours = r["seconds"] / 3600.0
            rows.append({"node_pool": r["pool"], "instance_type": r["instance_type"],
                         "instances": r["instances"], "node_hours": hours,
                         "price_cny_per_hour": p.cny_per_hour,
                         "cost_cny": hours * p.cny_per_hour if p.cny_per_hour is not None else float("nan"),
                         "price_kind": p.kind, "price_source": p.source})
        cols = ["node_pool", "instance_type", "instances", "node_hours", "price_cny_per_hour", "cost_cny",
                "price_kind", "price_source"]
        return pd.DataFrame(rows, columns=cols)

    def fail_node(self, name: str) -> None:
        """The node's kubelet stops, as if the machine died or lost its network.

        Its Lease and node status stop being renewed and it acts on no pod. With the defaults
        (spec 11.5): 50–55 s after its last heartbeat the node lifecycle controller sets its
        conditions to ``Unknown`` (``NodeNotReady`` event, its pods ``Ready=False``) and taints it
        ``node.kubernetes.io/unreachable:NoSchedule``; one monitor period (5 s) later
        ``unreachable:NoExecute``; 300 s after that (the default ``tolerationSeconds``) the taint
        eviction controller deletes its pods, which stay ``Terminating`` while the node is down.
        A Deployment's replacement pods appear about 5 min 50 s to 6 min after the failure; bare
        pods are not replaced.

        ``c.run()`` goes on until that has happened: the expiry of the node's Lease and the
        controller's running grace period count as pending work, and so do pending evictions.
        ``c.run(until=c.now + 400)`` stops at a chosen instant instead.
        Raises ``KeyError`` (``nodes "<name>" not found``) for an unknown node.
        """
        self._node(name)
        self.heartbeats.stop(name)
        self.dataplane.set_node_down(name, True, self.now)
        if self.kubelets is not None:
            self.kubelets.set_node_down(name, True)

    def recover_node(self, name: str) -> None:
        """The node's kubelet is back: it posts its status at once (``Ready`` again, a ``NodeReady``
        event) and renews its Lease; the node lifecycle controller removes the NoSchedule taint at
        once and the NoExecute taint at its next pass (within 5 s), cancelling evictions still
        pending; the kubelet stops and removes the pods that were deleted meanwhile.
        Raises ``KeyError`` for an unknown node.
        """
        self._node(name)
        self.heartbeats.resume(name)
        self.dataplane.set_node_down(name, False, self.now)
        if self.kubelets is not None:
            self.kubelets.set_node_down(name, False)

    def _node(self, name: str) -> dict[str, Any]:
        return self.api.get("Node", name, None, copy=False)

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
            obj = self.api.peek("Pod", pod, namespace)
            if obj is None:
                raise KeyError(f'pods "{pod}" not found')
            uid = obj["metadata"]["uid"]
            if not all_nodes:
                result = s.records.get(uid)
                if result is None:
                    raise ValueError(self._no_cycle_reason(obj, namespace, pod))
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
        obj = self.api.admit(doc)
        obj["metadata"].setdefault("uid", "what-if")
        return self._what_if(obj, weights, all_nodes=all_nodes)

    def _no_cycle_reason(self, obj: dict[str, Any], namespace: str, name: str) -> str:
        """Why the pod has no recorded scheduling cycle, with advice that fits the reason."""
        spec = obj.get("spec") or {}
        what_if = ("for a what-if, c.explain(manifest) evaluates a Pod manifest without applying it, and "
                   f'c.explain("{name}", all_nodes=True) scores every node for this pod as if it were '
                   "unbound")
        if spec.get("nodeName"):
            # kube-scheduler only takes pods without spec.nodeName (eventhandlers.go: assignedPod).
            return (f"pod {namespace}/{name} was not placed by the scheduler: its manifest names its node in "
                    f'spec.nodeName ("{spec["nodeName"]}"), so it went straight to that node\'s kubelet and '
                    f"never had a scheduling cycle; {what_if}")
        scheduler_name = spec.get("schedulerName", "default-scheduler")
        if scheduler_name != self.scheduler.profile.name:
            return (f'pod {namespace}/{name} asks for spec.schedulerName "{scheduler_name}", a scheduler the '
                    f'cluster does not run (its profile is "{self.scheduler.profile.name}"), so no cycle '
                    f"will ever place it; {what_if}")
        if spec.get("schedulingGates"):
            gates = ", ".join(str((g or {}).get("name")) for g in spec["schedulingGates"])
            return (f"pod {namespace}/{name} is held by spec.schedulingGates ({gates}): the scheduler does "
                    "not try it until the gates are removed; " + what_if)
        return f"pod {namespace}/{name} has not been through a scheduling cycle yet (run the cluster first)"

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
            ctx = CycleContext(pod=info, table=s.table, api=self.api, now=self.env.now)
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
        return {n["metadata"]["name"]: short_node_label(n, pools) for n in self.api.items("Node")}

    # -- service discovery views ------------------------------------------------------------------
    def endpoints(self, service: str, namespace: str = "default"):
        """The Service's endpoints as its EndpointSlices list them (a DataFrame, one row per endpoint:
        slice, pod, address, node, zone, ready, serving, terminating, ports)."""
        import pandas as pd

        from labkit.views import endpoint_rows

        self.api.get("Service", service, namespace, copy=False)  # KeyError for an unknown Service
        cols = ["slice", "pod", "address", "node", "zone", "ready", "serving", "terminating", "ports"]
        return pd.DataFrame(endpoint_rows(self.api, service, namespace), columns=cols)

    def proxy_view(self, node: str | None = None, service: str | None = None, namespace: str = "default"):
        """What each node's kube-proxy has programmed *now* (a DataFrame): per node, Service port and
        endpoint, its conditions, whether new connections use it (``used``), and when the node
        programmed that version (``programmed_s``). Right after a change, nodes differ: some still
        send to endpoints the EndpointSlice no longer lists."""
        import pandas as pd

        nodes = [node] if node is not None else list(self.kube_proxy.nodes)
        if node is not None:
            self._node(node)
        rows = []
        for n in nodes:
            for r in self.kube_proxy.view(n):
                if service is None or r["service"] == f"{namespace}/{service}":
                    rows.append({"node": n, **r})
        cols = ["node", "service", "port", "cluster_ip", "endpoint", "pod", "ready", "serving", "terminating",
                "used", "programmed_s"]
        return pd.DataFrame(rows, columns=cols)

    # -- autoscaling (labkit.controllers.podautoscaler) --------------------------------------------
    def explain_hpa(self, name: str, namespace: str = "default"):
        """The HPA's last sync, step by step (``labkit.controllers.podautoscaler.explain.HPAExplanation``):
        every pod's sample and whether it was counted, set aside as unready or missing, or ignored,
        and why; the usage ratio and the tolerance; each metric's proposal; the stabilized
        recommendation and its window; the limit that applied; the final count, conditions and
        events. ``.frame()`` per pod, ``.steps()`` per step, a table in a notebook. The controller
        syncs every 15 s: ``ValueError`` until it has synced this HPA once."""
        from labkit.controllers.podautoscaler.explain import HPAExplanation

        self.api.get("HorizontalPodAutoscaler", name, namespace, copy=False)  # KeyError when unknown
        result = self.hpa_controller.last.get((namespace, name))
        if result is None:
            raise ValueError(f"horizontalpodautoscaler {namespace}/{name} has not been synced yet: the "
                             "controller syncs every HPA 15 s after it appears, then every 15 s (run the "
                             "cluster, e.g. c.run(until=c.now + 20))")
        return HPAExplanation(f"{namespace}/{name}", result, self.hpa_controller.synced_at[(namespace, name)])

    # -- traffic (labkit.workloads) --------------------------------------------------------------
    def traffic(self, target: str, rate: Any = 100, duration: float = 60, arrivals: str = "poisson",
                from_pod: str | None = None, mode: str = "requests", *, namespace: str = "default",
                timeout: float = 10.0, clients: int = 50, tick: float = 1.0, keep: str = "requests"):
        """Send requests to ``target`` (``"host:port"``) from now on, for ``duration`` simulated seconds.

        ``rate`` is requests per second, or a pattern (``labkit.workloads.Step(100, 400, at=60)``,
        ``Spike``, ``Diurnal``, ``Trace``); ``arrivals`` ``"poisson"`` or ``"constant"``. The host is a
        Service name (resolved as ``from_pod``'s resolver would, in ``namespace``), a ClusterIP, a
        ``LoadBalancer`` Service's SLB address, or a node IP with a nodePort. Without ``from_pod``
        the requests come from ``clients`` client pods spread over the nodes (or, for SLB and
        NodePort addresses, from outside). Every request is a new connection (``mode="requests"``).

        Nothing happens until the cluster runs; the returned :class:`labkit.workloads.Traffic` shows
        the requests sent so far (``.frame()``, ``.summary()``, ``.by_pod()``, ``.over_time()``), so
        one can run a while, delete a pod or fail a node, and run on. ``c.run()`` goes on until the
        last request has ended.

        ``mode="fluid"`` sends expected flows instead of requests: per ``tick`` seconds the offered
        requests are split over the endpoints as the proxy mode would in expectation, each pod serves
        what its capacity allows and latency comes from an M/M/c formula
        (:mod:`labkit.workloads.fluid`); the same summary keys, a frame with one row per tick and pod,
        the same CPU usage for metrics-server; a simulated day takes seconds.

        ``keep="summary"`` (request mode) keeps no row per request once it has ended: exact counts
        per status, pod and 10 s bucket, and latency histograms (quantiles within 2 %), so a day of
        17 million requests needs megabytes, not gigabytes; ``.frame()`` is then unavailable
        (:mod:`labkit.workloads.summary`). Fluid traffic keeps one row per tick and pod either way.
        """
        from labkit.workloads.engine import TrafficEngine
        from labkit.workloads.routing import make_source
        from labkit.workloads.traffic import Traffic

        if mode not in ("requests", "fluid"):
            raise ValueError(f"mode {mode!r}: choose 'requests' (one connection each) or 'fluid' (expected "
                             "flows per tick, for long runs)")
        if mode == "fluid":
            from labkit.workloads.fluid import FluidEngine, FluidTraffic

            if isinstance(tick, bool) or not isinstance(tick, (int, float)) or not 0 < tick <= 3600:
                raise ValueError(f"tick {tick!r}: the fluid tick in seconds (> 0, at most 3600)")
            if self._fluid is None:
                self._fluid = FluidEngine(self.env, self.dataplane, self.kube_proxy)
            fluid = self._fluid
            source = make_source(len(fluid.sources), target, rate, duration, arrivals, from_pod, namespace,
                                 timeout, clients, now=self.now, seed=self.seed, api=self.api,
                                 proxy=self.kube_proxy, dataplane=self.dataplane, resolve=self.dns.resolve,
                                 keep=keep)
            return FluidTraffic(fluid, fluid.add(source, float(tick)), target, self._clock)
        if self._traffic is None:
            self._traffic = TrafficEngine(self.env, self.dataplane, self.kube_proxy, self.seed,
                                          self._traffic_engine_mode)
        engine = self._traffic
        source = make_source(len(engine.sources), target, rate, duration, arrivals, from_pod, namespace,
                             timeout, clients, now=self.now, seed=self.seed, api=self.api,
                             proxy=self.kube_proxy, dataplane=self.dataplane, resolve=self.dns.resolve,
                             keep=keep)
        engine.add(source)
        return Traffic(engine, source, target, self._clock)

    # -- kubectl top (labkit.metrics) ------------------------------------------------------------
    def metrics(self, kind: str = "Pod", namespace: str | None = None):
        """``kubectl top pod`` / ``kubectl top node``: usage as metrics-server reports it (a DataFrame).

        ``"Pod"``: one row per pod with a sample — ``pod``, ``namespace``, ``cpu_m`` (millicores,
        rounded up as ``kubectl top`` and the HPA read them), ``cpu_nanocores`` (metrics-server's
        exact value), ``memory_bytes`` (working set), ``window_s`` and ``timestamp_s`` (simulated
        seconds of the later scrape). A pod started less than one or two scrapes (15 s each) ago is
        not listed yet. ``"Node"``: ``node``, ``cpu_m``, ``cpu_percent``, ``memory_bytes``,
        ``memory_percent`` (of allocatable, as ``kubectl top node``), ``window_s``, ``timestamp_s``.
        See :mod:`labkit.metrics.server`.
        """
        import pandas as pd

        ms = self.metrics_server
        if kind.lower() in ("pod", "pods", "po"):
            cols = ["pod", "namespace", "cpu_m", "cpu_nanocores", "memory_bytes", "window_s",
                    "timestamp_s"]
            rows = [{"pod": m["pod"], "namespace": m["namespace"],
                     "cpu_m": -(-m["cpu_nanocores"] // 1_000_000),
                     "cpu_nanocores": m["cpu_nanocores"], "memory_bytes": m["memory_bytes"],
                     "window_s": m["window_s"], "timestamp_s": m["timestamp_s"]}
                    for m in ms.pod_usage(namespace)]
            return pd.DataFrame(rows, columns=cols)
        if kind.lower() in ("node", "nodes", "no"):
            from labkit.api.quantity import resource_amount

            cols = ["node", "cpu_m", "cpu_percent", "memory_bytes", "memory_percent", "window_s",
                    "timestamp_s"]
            rows = []
            for m in ms.node_usage():
                alloc = (self._node(m["node"]).get("status") or {}).get("allocatable") or {}
                cpu_m = -(-m["cpu_nanocores"] // 1_000_000)
                a_cpu = resource_amount("cpu", alloc.get("cpu", "0"))
                a_mem = resource_amount("memory", alloc.get("memory", "0"))
                rows.append({"node": m["node"], "cpu_m": cpu_m,
                             "cpu_percent": int(cpu_m * 100 // a_cpu) if a_cpu else None,
                             "memory_bytes": m["memory_bytes"],
                             "memory_percent": int(m["memory_bytes"] * 100 // a_mem) if a_mem else None,
                             "window_s": m["window_s"], "timestamp_s": m["timestamp_s"]})
            return pd.DataFrame(rows, columns=cols)
        raise ValueError(f'kind {kind!r}: c.metrics takes "Pod" (kubectl top pod) or "Node" '
                         "(kubectl top node)")

    # -- notebook display ---------------------------------------------------------------------
    def _repr_html_(self) -> str:
        from labkit.views import cluster_html

        return cluster_html(self.api, self.seed, self.now)

    def __repr__(self) -> str:
        nodes = sum(1 for _ in self.api.items("Node"))
        pods = sum(1 for _ in self.api.items("Pod"))
        return f"<labkit.Cluster seed={self.seed} t={self.now:.3f}s nodes={nodes} pods={pods}>"

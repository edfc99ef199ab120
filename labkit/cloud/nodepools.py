"""ACK node pools as node groups: the small ECS "cloud provider" the cluster autoscaler drives.

An ACK node pool with auto scaling is backed by an Auto Scaling (ESS) scaling group; the
cluster autoscaler sees it as one ``cloudprovider.NodeGroup``
(``kubernetes/autoscaler: cluster-autoscaler/cloudprovider/cloud_provider.go`` at tag
``cluster-autoscaler-1.36.1``; the Alibaba Cloud implementation is
``cloudprovider/alicloud/alicloud_auto_scaling_group.go``). This module models exactly the calls
the autoscaler makes:

========================  =====================================================================
``NodePool.min_size``      ``MinSize()``; ``max_size``: ``MaxSize()``
``target_size``            ``TargetSize()``: the scaling group's desired capacity
``increase_size(delta)``   ``IncreaseSize``: ECS instances are created; each registers as a Node
                           after the provisioning delay (instance creation, boot, kubelet join)
``delete_nodes(names)``    ``DeleteNodes``: the instances are released and their Nodes go
``decrease_target_size``   ``DecreaseTargetSize``: drop instances that never registered
``template_node()``        ``TemplateNodeInfo``: the Node a new instance of the pool would become
``instances()``            ``Nodes()``: instances with their state (creating or running)
========================  =====================================================================

Every instance's lifetime (from the moment it was requested until it was released) is kept
for :meth:`ECSCloud.node_hours`, which ``Cluster.cost()`` prices.

**Provisioning delay — illustrative.** No Alibaba Cloud page retrievable while this was written
(2026-11-26) gives a figure for how long an ESS scale-out takes until the node is Ready (ACK's
"Node scaling" overview only says node instant scaling is *faster* than node auto scaling). The
lab therefore draws each instance's delay uniformly from :data:`PROVISION_DELAY_S`, 60-90 s, a
clearly illustrative figure of the usual order for a cloud VM to be created, boot and join; the
draw comes from the cluster seed. Change ``cloud.provision_delay_s`` to try other figures.

Simplifications: one instance type per pool (ESS can list several), no stock or quota checks
unless a pool is marked out of stock (:meth:`NodePool.set_out_of_stock`, a teaching knob: its
new instances never come up, as when ECS has no stock of the type in the zone), and a Node
deleted through the API is taken as its instance being released (ACK's "remove node" with
"release ECS instance"), so its billing stops there.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit.api.server import NotFound
from labkit.api.store import WatchEvent, timestamp
from labkit.cloud.ecs import instance_type as lookup_instance_type
from labkit.cloud.ecs import pool_nodes

if TYPE_CHECKING:
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["ECSCloud", "Instance", "NodePool", "PROVISION_DELAY_S"]

#: ILLUSTRATIVE (see the module docstring): seconds from ``IncreaseSize`` until the Node registers.
PROVISION_DELAY_S = (60.0, 90.0)


@dataclass
class Instance:
    """One ECS instance of a node pool and the Node it becomes."""

    node: str
    pool: str
    zone: str
    manifest: dict[str, Any] = field(repr=False)
    requested_s: float
    registered_s: float | None = None
    released_s: float | None = None

    @property
    def state(self) -> str:
        """``Creating`` (requested, not yet a Node), ``Running`` (registered) or ``Released``."""
        if self.released_s is not None:
            return "Released"
        return "Running" if self.registered_s is not None else "Creating"


class NodePool:
    """One ACK node pool; with ``min_size``/``max_size`` an autoscaled node group."""

    def __init__(
        self,
        cloud: ECSCloud,
        name: str,
        instance_type: str,
        zones: list[str],
        *,
        labels: dict[str, str] | None,
        taints: list[dict[str, Any]] | None,
        network: str,
        pool_index: int,
        kubelet_version: str,
        min_size: int | None = None,
        max_size: int | None = None,
        runtime_handlers: tuple[str, ...] = ("runc",),
    ) -> None:
        self.cloud = cloud
        self.runtime_handlers = tuple(runtime_handlers)
        self.name = name
        self.instance_type = lookup_instance_type(instance_type).name
        self.zones = list(zones)
        self.labels = dict(labels or {})
        self.taints = [dict(t) for t in taints or ()]
        self.network = network
        self.pool_index = pool_index
        self.kubelet_version = kubelet_version
        self.autoscaled = min_size is not None or max_size is not None
        self._min = int(min_size or 0)
        self._max = int(max_size) if max_size is not None else 0
        self.next_index = 0
        self._target = 0
        self.out_of_stock = False
        self._instances: tuple[int, list[Instance]] = (-1, [])  # (cloud version, live instances)

    # -- cloudprovider.NodeGroup ----------------------------------------------------------------
    def id(self) -> str:
        return self.name

    def min_size(self) -> int:
        return self._min

    def max_size(self) -> int:
        return self._max

    def target_size(self) -> int:
        return self._target

    def instances(self) -> list[Instance]:
        """Instances not yet released, oldest first (``NodeGroup.Nodes()``)."""
        version, live = self._instances
        if version != self.cloud.version:
            live = [i for i in self.cloud.instances.values() if i.pool == self.name and i.released_s is None]
            self._instances = (self.cloud.version, live)
        return list(live)

    def increase_size(self, delta: int) -> list[Instance]:
        """``IncreaseSize``: raise the desired capacity; new instances register after the delay."""
        if delta <= 0:
            raise ValueError("size increase must be positive")
        if self.autoscaled and self._target + delta > self._max:
            raise ValueError(f"size increase too large - desired:{self._target + delta} max:{self._max}")
        self._target += delta
        return [self.cloud._launch(self, self._build(), registered=False) for _ in range(delta)]

    def delete_nodes(self, names: list[str]) -> None:
        """``DeleteNodes``: release the instances behind these Nodes (the desired capacity drops)."""
        if self.autoscaled and self._target - len(names) < self._min:
            raise ValueError("min size reached, nodes will not be deleted")
        for name in names:
            inst = self.cloud.instances.get(name)
            if inst is None or inst.pool != self.name or inst.released_s is not None:
                raise ValueError(f"node {name} does not belong to node group {self.name}")
        for name in names:
            self.cloud._release(self.cloud.instances[name], shrink=True)
            with contextlib.suppress(NotFound):
                self.cloud.api.delete("Node", name, None)

    def decrease_target_size(self, delta: int) -> None:
        """``DecreaseTargetSize``: give up ``delta`` instances that have not registered (newest first)."""
        if delta >= 0:
            raise ValueError("size decrease must be negative")
        creating = [i for i in self.instances() if i.registered_s is None]
        if -delta > len(creating):
            raise ValueError(
                f"attempt to delete existing nodes targetSize:{self._target} delta:{delta} "
                f"existingNodes: {self._target - len(creating)}"
            )
        for inst in reversed(creating[len(creating) + delta :]):
            self.cloud._release(inst, shrink=True)

    def template_node(self) -> dict[str, Any]:
        """``TemplateNodeInfo``: the Node the pool's next instance would register as."""
        node = self._build()
        node["metadata"]["name"] = f"template-node-for-{self.name}"
        node["metadata"]["labels"]["kubernetes.io/hostname"] = node["metadata"]["name"]
        self.next_index -= 1  # a template takes no name
        return node

    def set_out_of_stock(self, value: bool = True) -> None:
        """Teaching knob: while set, new instances of this pool are never delivered (ECS has no stock)."""
        self.out_of_stock = bool(value)

    # -- helpers --------------------------------------------------------------------------------
    def _build(self) -> dict[str, Any]:
        (node,) = pool_nodes(
            self.name,
            self.instance_type,
            1,
            self.zones,
            start_index=self.next_index,
            labels=self.labels,
            taints=self.taints,
            network=self.network,
            pool_index=self.pool_index,
            kubelet_version=self.kubelet_version,
            heartbeat_time=timestamp(self.cloud.env.now),
            runtime_handlers=self.runtime_handlers,
        )
        self.next_index += 1
        return node

    def build_nodes(self, count: int) -> list[dict[str, Any]]:
        """Manifests of ``count`` new nodes for the facade's immediate (non-autoscaled) creation."""
        return [self._build() for _ in range(count)]

    def registered(self, nodes: list[dict[str, Any]]) -> None:
        """The facade stored these Nodes at once (``add_node_pool``'s starting nodes)."""
        for node in nodes:
            self.cloud._launch(self, node, registered=True)
        self._target += len(nodes)


class ECSCloud:
    """The ECS instances of every node pool of one cluster, and their lifetimes."""

    def __init__(self, env: LabEnvironment, api: APIServer, rng: random.Random) -> None:
        self.env = env
        self.api = api
        self.rng = rng
        self.pools: dict[str, NodePool] = {}
        self.instances: dict[str, Instance] = {}  # node name -> instance (released ones kept)
        self.history: list[Instance] = []  # every instance ever launched, for node-hours
        self.provision_delay_s = PROVISION_DELAY_S
        self._on_added: list[Any] = []  # callbacks when an autoscaled pool appears
        #: Bumped whenever a pool or instance appears or an instance is released, so that callers
        #: (the autoscaler's caches) can tell when ``node_group_for`` answers may have changed.
        self.version = 0
        self._groups: tuple[int, list[NodePool]] = (-1, [])
        api.watch("Node", self._on_node)

    def add_pool(self, pool: NodePool) -> NodePool:
        self.pools[pool.name] = pool
        self.version += 1
        if pool.autoscaled:
            for callback in self._on_added:
                callback(pool)
        return pool

    def node_groups(self) -> list[NodePool]:
        """The autoscaled pools (``CloudProvider.NodeGroups()``)."""
        version, groups = self._groups
        if version != self.version:
            groups = [p for p in self.pools.values() if p.autoscaled]
            self._groups = (self.version, groups)
        return list(groups)

    def node_group_for(self, node_name: str) -> NodePool | None:
        """``CloudProvider.NodeGroupForNode``: the autoscaled pool owning the node, or None."""
        inst = self.instances.get(node_name)
        if inst is None or inst.released_s is not None:
            return None
        pool = self.pools.get(inst.pool)
        return pool if pool is not None and pool.autoscaled else None

    def node_hours(self, now: float) -> list[dict[str, Any]]:
        """Per pool and instance type: seconds its instances have existed (requested to released)."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for pool in self.pools.values():
            out[(pool.name, pool.instance_type)] = {
                "pool": pool.name,
                "instance_type": pool.instance_type,
                "seconds": 0.0,
                "instances": 0,
            }
        for inst in self.history:
            it = inst.manifest["metadata"]["labels"].get("node.kubernetes.io/instance-type", "")
            row = out.setdefault(
                (inst.pool, it), {"pool": inst.pool, "instance_type": it, "seconds": 0.0, "instances": 0}
            )
            end = inst.released_s if inst.released_s is not None else now
            row["seconds"] += max(0.0, end - inst.requested_s)
            row["instances"] += 1
        return list(out.values())

    # -- instance lifecycle ----------------------------------------------------------------------
    def _launch(self, pool: NodePool, node: dict[str, Any], registered: bool) -> Instance:
        name = node["metadata"]["name"]
        zone = node["metadata"]["labels"].get("topology.kubernetes.io/zone", "")
        inst = Instance(node=name, pool=pool.name, zone=zone, manifest=node, requested_s=float(self.env.now))
        if registered:
            inst.registered_s = inst.requested_s
        self.instances[name] = inst
        self.history.append(inst)
        self.version += 1
        if not registered and not pool.out_of_stock:
            low, high = self.provision_delay_s
            delay = self.rng.uniform(low, high) if high > low else float(low)
            self.env.process(self._boot(inst, delay))
        return inst

    def _boot(self, inst: Instance, delay: float):
        yield self.env.timeout(delay)  # ordinary timeout: a node on its way is pending work
        if inst.released_s is not None:
            return
        node = inst.manifest
        stamp = timestamp(self.env.now)
        for cond in node["status"]["conditions"]:
            cond["lastHeartbeatTime"] = cond["lastTransitionTime"] = stamp
        inst.registered_s = float(self.env.now)
        self.version += 1
        self.api.create(node)  # the kubelet registers its Node

    def _release(self, inst: Instance, shrink: bool) -> None:
        if inst.released_s is not None:
            return
        inst.released_s = float(self.env.now)
        self.version += 1
        pool = self.pools.get(inst.pool)
        if shrink and pool is not None:
            pool._target = max(0, pool._target - 1)

    def _on_node(self, ev: WatchEvent) -> None:
        if ev.type != "DELETED":
            return
        inst = self.instances.get(ev.object["metadata"]["name"])
        if inst is not None and inst.released_s is None and inst.registered_s is not None:
            self._release(inst, shrink=True)  # the Node went: its instance is released

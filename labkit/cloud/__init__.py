"""Alibaba Cloud: ECS instance types, zones, and the ACK Nodes built from them.

========================  ===============================================================
Instance types
--------------------------------------------------------------------------------------------
``InstanceType``          one ECS instance type (vCPU, memory, GPUs, ENIs, sourced price)
``instance_type``         look one up by name; unknown names raise with close matches
``instance_types``        every instance type in ``data/cloud/ecs_instance_types.csv``
Zones
--------------------------------------------------------------------------------------------
``zones``                 zone IDs in ``data/cloud/zones.csv``, optionally of one region
``region_of``             the region a zone belongs to
Node sizing
--------------------------------------------------------------------------------------------
``reserved``              CPU and memory kept back per node (GKE's tiers standing in for ACK's)
``allocatable``           capacity minus reservation minus the kubelet eviction threshold
``max_pods``              ACK's pod limit: Terway from ENIs, Flannel fixed per cluster
Node objects
--------------------------------------------------------------------------------------------
``node_manifest``         one ``v1 Node`` as the API server returns it for an ACK worker
``pool_nodes``            the Nodes of one node pool, round-robin over its zones
``nodepool_id``           ACK-style node pool ID derived from a pool name
``short_node_label``      ``general · h · 10.0.0.1``: pool, zone and IP of a node, for tables
Sandboxed containers
--------------------------------------------------------------------------------------------
``sandboxed``             ACK's runV: the ``runv`` RuntimeClass and its published pod overhead
========================  ===============================================================
"""

from __future__ import annotations

from labkit.cloud.ecs import (
    InstanceType,
    allocatable,
    instance_type,
    instance_types,
    max_pods,
    node_manifest,
    nodepool_id,
    pool_nodes,
    region_of,
    reserved,
    short_node_label,
    zones,
)

__all__ = [
    "InstanceType",
    "allocatable",
    "instance_type",
    "instance_types",
    "max_pods",
    "node_manifest",
    "nodepool_id",
    "pool_nodes",
    "region_of",
    "reserved",
    "short_node_label",
    "zones",
]

"""Alibaba Cloud ECS instance types and the ``v1 Node`` objects ACK builds from them.

A learner adds a node pool by naming a real ECS instance type (``ecs.g7.xlarge``); this module
turns that name into the Node an ACK cluster would show: capacity from the instance type,
allocatable after the per-node reservation, a pod limit from the network plugin, and the labels,
provider ID and node name ACK uses. The data lives in ``data/cloud/*.csv`` (sourced and dated,
see ``data/cloud/README.md``) and is read with the standard ``csv`` module once, on first use,
so importing ``labkit`` stays cheap.

Two rules here come from Alibaba Cloud, one is a stand-in:

* Pod limit: ACK's documented formula (Terway: ENIs and IPs per ENI; Flannel: chosen per cluster).
* Node naming, provider ID and labels: as ACK nodes show them (``cn-hangzhou.10.0.0.1``).
* Reserved CPU/memory: ACK documents a default reservation policy, but its formula could not be
  retrieved, so GKE's published tiered formula stands in for it (see :func:`reserved`).
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import ipaddress
import struct
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from labkit.errors import ManifestError

__all__ = [
    "DEFAULT_FLANNEL_PODS_PER_NODE",
    "DEFAULT_KUBELET_VERSION",
    "ECI_RATES_CNY_PER_HOUR",
    "InstanceType",
    "Price",
    "MAX_NODES_PER_POOL_ZONE",
    "MAX_POOL_ZONES",
    "RUNV_HANDLER",
    "RUNV_NODE_LABEL",
    "allocatable",
    "instance_type",
    "instance_types",
    "max_pods",
    "node_manifest",
    "nodepool_id",
    "pool_nodes",
    "price",
    "region_of",
    "reserved",
    "short_node_label",
    "zones",
]

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "cloud"

MIB = 1024**2
GIB = 1024**3

#: Used when the caller does not pass the version (``labkit.version.KUBERNETES_PATCH_VERSION``
#: is the value the lab follows; the caller passes it so this module needs no import of it).
DEFAULT_KUBELET_VERSION = "v1.36.2"
#: Flannel's pods-per-node is chosen when the ACK cluster is created ("Pods per Node"); 64 is the
#: value in ACK's own sample ``kubectl describe node`` output (resource reservation policy page).
DEFAULT_FLANNEL_PODS_PER_NODE = 64
#: A Terway node joins an ACK cluster only if its ENI pod limit is greater than this
#: (ACK "Manage pod capacity on nodes", per-node pod limit, Terway shared ENI mode note).
_TERWAY_MIN_PODS_EXCLUSIVE = 11
#: Root disk behind ``ephemeral-storage``; ACK's sample node reports ~118 GiB, i.e. a 120 GiB disk.
DEFAULT_SYSTEM_DISK_GIB = 120

# kubelet defaults: pkg/kubelet/apis/config/v1beta1/defaults_linux.go (DefaultEvictionHard)
_EVICTION_MEMORY_AVAILABLE = 100 * MIB
_EVICTION_NODEFS_AVAILABLE = "10%"

# Illustrative node software, as seen on ACK nodes running Alibaba Cloud Linux 3 with containerd.
_OS_IMAGE = "Alibaba Cloud Linux 3.2104 U12 (OpenAnolis Edition)"
_KERNEL_VERSION = "5.10.134-19.2.al8.x86_64"
_CONTAINER_RUNTIME_VERSION = "containerd://1.6.38"
#: Condition timestamps when the caller gives none: simulated time zero.
EPOCH = "1970-01-01T00:00:00Z"

_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NETWORKS = ("terway", "flannel")


@dataclass(frozen=True)
class InstanceType:
    """One ECS instance type, one row of ``data/cloud/ecs_instance_types.csv``.

    Attributes
    ----------
    name:
        Instance type ID as ECS spells it, e.g. ``ecs.g7.xlarge``.
    family:
        Instance family, e.g. ``g7`` (general purpose, 1:4), ``c7`` (compute, 1:2), ``r7``
        (memory, 1:8), ``u1`` (universal), ``gn7i`` (GPU).
    generation:
        The digit in the family name (Alibaba Cloud's naming convention).
    vcpu, memory_gib:
        Nominal vCPUs and memory (GiB) from the instance family table.
    gpu, gpu_model:
        GPUs per instance and their model (0 and ``None`` for CPU-only types).
    max_enis, private_ips_per_eni:
        ENIs the type accepts (including the primary one) and private IPv4 addresses per ENI;
        ``None`` where no source confirmed the number. Terway's pod limit is built from them.
    price_cny_per_hour, price_region, price_date:
        Illustrative pay-as-you-go price, the region it was sought for and the date checked;
        the price is ``None`` where no published figure was found.
    source:
        URL of the Alibaba Cloud page the row was read from.
    """

    name: str
    family: str
    generation: int
    vcpu: int
    memory_gib: float
    gpu: int
    gpu_model: str | None
    max_enis: int | None
    private_ips_per_eni: int | None
    price_cny_per_hour: float | None
    price_region: str | None
    price_date: str | None
    source: str

    @property
    def memory_bytes(self) -> int:
        """Nominal memory in bytes (what the lab reports as ``capacity.memory``)."""
        return round(self.memory_gib * GIB)

    @property
    def bare_metal(self) -> bool:
        """An ECS Bare Metal Instance type: its family name starts with ``ebm`` (Alibaba Cloud's
        naming convention: ebmg, ebmc, ebmr, ebmhf, ebmgn). No hypervisor sits under it, so a pod's VM
        uses the CPU's virtualization directly."""
        return self.family.startswith("ebm")


def _optional(text: str) -> str | None:
    return text or None


def _optional_int(text: str) -> int | None:
    return int(text) if text else None


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, InstanceType]:
    with (DATA_DIR / "ecs_instance_types.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        row["instance_type"]: InstanceType(
            name=row["instance_type"],
            family=row["family"],
            generation=int(row["generation"]),
            vcpu=int(row["vcpu"]),
            memory_gib=float(row["memory_gib"]),
            gpu=int(row["gpu"]),
            gpu_model=_optional(row["gpu_model"]),
            max_enis=_optional_int(row["max_enis"]),
            private_ips_per_eni=_optional_int(row["private_ips_per_eni"]),
            price_cny_per_hour=float(row["price_cny_per_hour"]) if row["price_cny_per_hour"] else None,
            price_region=_optional(row["price_region"]),
            price_date=_optional(row["price_date"]),
            source=row["source"],
        )
        for row in rows
    }


@lru_cache(maxsize=1)
def _zone_table() -> dict[str, str]:
    with (DATA_DIR / "zones.csv").open(newline="", encoding="utf-8") as handle:
        return {row["zone_id"]: row["region"] for row in csv.DictReader(handle)}


def instance_types() -> list[InstanceType]:
    """Every instance type the lab knows, in the order of the CSV."""
    return list(_catalogue().values())


def instance_type(name: str | InstanceType) -> InstanceType:
    """Look up an ECS instance type by name (an :class:`InstanceType` is returned as is).

    Raises
    ------
    ManifestError
        For an unknown name; the message suggests the closest known names, because a typo such
        as ``ecs.g7.xlage`` is the usual cause.
    """
    if isinstance(name, InstanceType):
        return name
    catalogue = _catalogue()
    if name in catalogue:
        return catalogue[name]
    close = difflib.get_close_matches(str(name), catalogue, n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(close)}?"
        if close
        else "families known: " + ", ".join(sorted({it.family for it in catalogue.values()}))
    )
    raise ManifestError(
        "instance_type", name, f"unknown ECS instance type; {hint} (see data/cloud/ecs_instance_types.csv)"
    )


_lookup = instance_type  # node_manifest and pool_nodes take a parameter of the same name


def zones(region: str | None = None) -> list[str]:
    """Zone IDs the lab knows (``data/cloud/zones.csv``), optionally of one region only."""
    return [zone for zone, owner in _zone_table().items() if region is None or owner == region]


def region_of(zone: str) -> str:
    """The region a zone belongs to, e.g. ``cn-hangzhou`` for ``cn-hangzhou-h``.

    Raises
    ------
    ManifestError
        For a zone not in ``data/cloud/zones.csv``, with the closest known zone IDs.
    """
    table = _zone_table()
    if zone in table:
        return table[zone]
    close = difflib.get_close_matches(str(zone), table, n=3, cutoff=0.6) or sorted(table)
    raise ManifestError("zone", zone, f"unknown zone; known zones include {', '.join(close)}")


# --- per-node reservation ------------------------------------------------------------------------
# STAND-IN. ACK documents a default "resource reservation policy" (kubeReserved and systemReserved
# each half of the reservation; Allocatable = Capacity - Reserved - Eviction-Threshold),
# https://www.alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/user-guide/resource-reservation-policy
# but the formula part of that page could not be retrieved, so GKE's published tiers are used:
# https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#memory_and_cpu_reservations
# Each tier is (upper bound, share of the amount that falls inside the tier).
_CPU_TIERS_CORES = (
    (1, Fraction(6, 100)),
    (2, Fraction(1, 100)),
    (4, Fraction(5, 1000)),
    (None, Fraction(25, 10000)),
)
_MEMORY_TIERS_MIB = (
    (4 * 1024, Fraction(25, 100)),
    (8 * 1024, Fraction(20, 100)),
    (16 * 1024, Fraction(10, 100)),
    (128 * 1024, Fraction(6, 100)),
    (None, Fraction(2, 100)),
)
_SMALL_MACHINE_MEMORY_MIB = 255  # GKE: machines with less than 1 GiB of memory


def _tiered(amount: Fraction, tiers: Sequence[tuple[int | None, Fraction]]) -> Fraction:
    total, lower = Fraction(0), 0
    for upper, share in tiers:
        top = amount if upper is None else min(amount, Fraction(upper))
        if top > lower:
            total += (top - lower) * share
        if upper is None or amount <= upper:
            break
        lower = upper
    return total


def reserved(it: str | InstanceType) -> dict[str, int]:
    """CPU (millicores) and memory (bytes) kept back for kubelet, runtime and OS on one node.

    This is **GKE's** published tiered reservation, standing in for ACK's default policy, whose
    formula could not be retrieved (ACK's own sample shows a 4-vCPU/8-GiB node keeping 100m CPU
    and about 2 GiB back, somewhat more than this formula). CPU: 6% of the first core, 1% of
    the second, 0.5% of the next two, 0.25% of every core above four. Memory: 255 MiB below
    1 GiB; otherwise 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the
    next 112 and 2% above 128 GiB. Results are rounded down to whole millicores and whole MiB,
    the units kubelet reservations are written in (1843 MiB for 8 GiB, as providers using the
    same tiers publish it). The memory eviction threshold is *not* included; see
    :func:`allocatable`.
    """
    it = instance_type(it)
    cpu_m = _tiered(Fraction(it.vcpu), _CPU_TIERS_CORES) * 1000
    memory_mib = Fraction(it.memory_bytes, MIB)
    if memory_mib < 1024:
        reserved_mib = Fraction(_SMALL_MACHINE_MEMORY_MIB)
    else:
        reserved_mib = _tiered(memory_mib, _MEMORY_TIERS_MIB)
    return {"cpu": int(cpu_m), "memory": int(reserved_mib) * MIB}


def allocatable(it: str | InstanceType) -> dict[str, int]:
    """What the scheduler may hand out: capacity minus :func:`reserved` minus eviction threshold.

    Kubernetes' node-allocatable rule, ``Allocatable = Capacity - Reserved - Eviction-Threshold``
    (kubelet: pkg/kubelet/cm/node_container_manager_linux.go, GetNodeAllocatableReservation adds
    kube/system reserved and the hard eviction thresholds); the memory threshold is kubelet's
    default hard eviction ``memory.available<100Mi``. CPU has no eviction threshold. Returns
    ``{"cpu": millicores, "memory": bytes}``.
    """
    it = instance_type(it)
    held = reserved(it)
    return {
        "cpu": it.vcpu * 1000 - held["cpu"],
        "memory": it.memory_bytes - held["memory"] - _EVICTION_MEMORY_AVAILABLE,
    }


def max_pods(
    it: str | InstanceType, network: str = "terway", *, pods_per_node: int = DEFAULT_FLANNEL_PODS_PER_NODE
) -> int:
    """Most pods ACK lets one node of this type run (its ``capacity.pods``).

    Source: ACK "Manage pod capacity on nodes"
    (https://www.alibabacloud.com/help/en/ack/ack-managed-and-ack-dedicated/user-guide/adjusting-the-number-of-node-pods).

    * ``terway`` (shared ENI mode): ``(EniQuantity - 1) * EniPrivateIpAddressQuantity``; the
      primary ENI carries the node itself, every secondary ENI hands its private IPs to pods.
      ``ecs.g7.4xlarge``: (8 - 1) * 30 = 210.
    * ``flannel``: fixed per node, chosen when the cluster is created (``pods_per_node``).

    Raises
    ------
    ManifestError
        For another network plugin, or a Terway type whose ENI figures are unknown.
    """
    it = instance_type(it)
    if network == "flannel":
        return pods_per_node
    if network != "terway":
        raise ManifestError("network", network, f"unknown network plugin; use one of {', '.join(_NETWORKS)}")
    if it.max_enis is None or it.private_ips_per_eni is None:
        raise ManifestError(
            "instance_type", it.name, "its ENI figures are not in the data, so Terway's pod limit is unknown"
        )
    return (it.max_enis - 1) * it.private_ips_per_eni


# --- Kubernetes quantity serialization -----------------------------------------------------------
# apimachinery: staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go (CanonicalizeBytes):
# DecimalSI keeps exponents that are multiples of 3 (so 3920m, 4, 2k); BinarySI strips as many
# factors of 1024 as divide exactly (8Gi, 7925980Ki, or plain bytes when 1024 does not divide).


def _decimal_si(value: int) -> str:
    suffixes = ("", "k", "M", "G", "T", "P", "E")
    power = 0
    while value and value % 1000 == 0 and power < len(suffixes) - 1:
        value //= 1000
        power += 1
    return f"{value}{suffixes[power]}"


def _cpu(millicores: int) -> str:
    return _decimal_si(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def _binary_si(value: int) -> str:
    if -1024 < value < 1024:
        return _decimal_si(value)
    suffixes = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
    power = 0
    while value % 1024 == 0 and power < len(suffixes) - 1:
        value //= 1024
        power += 1
    return f"{value}{suffixes[power]}"


def _percentage_of(capacity: int, percent: str) -> int:
    # kubelet: pkg/kubelet/eviction/api/types.go, GetThresholdQuantity; the percentage is a
    # float32, so 10% is 0.10000000149..., which is why real nodes show odd byte counts.
    share = struct.unpack("f", struct.pack("f", float(percent.rstrip("%")) / 100))[0]
    return int(float(capacity) * share)


# --- Node objects ---------------------------------------------------------------------------------


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _instance_id(node_name: str) -> str:
    # ECS instance IDs are "i-" plus 20 lowercase letters/digits; derived from the name so the
    # same node always gets the same ID.
    number = int.from_bytes(_digest(node_name), "big")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    chars = []
    for _ in range(20):
        number, rest = divmod(number, 36)
        chars.append(alphabet[rest])
    return "i-" + "".join(chars)


def _internal_ip(node_name: str, region: str) -> str | None:
    prefix = region + "."
    if not node_name.startswith(prefix):
        return None
    try:
        return str(ipaddress.IPv4Address(node_name[len(prefix) :]))
    except ValueError:
        return None


def _checked_taints(taints: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    checked = []
    for i, taint in enumerate(taints or ()):
        if not taint.get("key"):
            raise ManifestError(f"spec.taints[{i}].key", taint.get("key"), "a taint needs a non-empty key")
        if taint.get("effect") not in _TAINT_EFFECTS:
            raise ManifestError(
                f"spec.taints[{i}].effect",
                taint.get("effect"),
                f"a taint effect must be one of {', '.join(_TAINT_EFFECTS)}",
            )
        checked.append(dict(taint))
    return checked


#: The runtime handler every ACK node has: runc through containerd.
DEFAULT_RUNTIME_HANDLERS = ("runc",)
#: The runtime handler of ACK's Sandboxed-Container (runV) node pools.
RUNV_HANDLER = "runv"
#: The label ACK puts on the nodes of a Sandboxed-Container pool; the ``runv`` RuntimeClass selects it
#: (ACK "Comparison of Docker, containerd, and Sandboxed-Container": before Kubernetes 1.16 pods had
#: to name it in their nodeSelector, since then the RuntimeClass carries it).
RUNV_NODE_LABEL = ("alibabacloud.com/sandboxed-container", "Sandboxed-Container.runv")


def node_manifest(
    name: str,
    instance_type: str | InstanceType,
    zone: str,
    *,
    region: str | None = None,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, Any]] | None = None,
    unschedulable: bool = False,
    images: Sequence[Mapping[str, Any]] | None = None,
    network: str = "terway",
    pods_per_node: int = DEFAULT_FLANNEL_PODS_PER_NODE,
    kubelet_version: str = DEFAULT_KUBELET_VERSION,
    heartbeat_time: str = EPOCH,
    runtime_handlers: Sequence[str] = DEFAULT_RUNTIME_HANDLERS,
) -> dict[str, Any]:
    """A ``v1 Node`` shaped as the API server returns it for a Ready ACK worker.

    Capacity is the instance type's nominal vCPUs and memory (a real kubelet reports the
    kernel's ``MemTotal``, a few percent lower), a system disk of :data:`DEFAULT_SYSTEM_DISK_GIB`
    GiB as ``ephemeral-storage``, ``nvidia.com/gpu`` on GPU types and :func:`max_pods` pods.
    Allocatable follows :func:`allocatable`, plus kubelet's default ``nodefs.available<10%``
    for ephemeral storage. Labels are the ones an ACK node carries,
    legacy ``beta.kubernetes.io/*`` and ``failure-domain.beta.kubernetes.io/*`` included;
    ``labels`` adds more, but the kubelet's own labels win, as they do on a real node.
    Server-set metadata (uid, resourceVersion, creationTimestamp) is left to the API store, and
    so is the ``node.kubernetes.io/unschedulable`` taint the node lifecycle controller adds.

    Parameters
    ----------
    name:
        Node name; in ACK style ``<region>.<private IP>``, which also gives the InternalIP.
    instance_type:
        ECS instance type name (or :class:`InstanceType`).
    zone:
        Zone ID; the region is looked up from it unless ``region`` is given (and must agree).
    taints:
        Taints in API shape (``{"key", "value", "effect"}``).
    images:
        ``status.images`` entries in API shape (``{"names": [...], "sizeBytes": n}``).
    runtime_handlers:
        The CRI runtime handlers the node's containerd is configured with, reported in
        ``status.runtimeHandlers`` (KEP-3857, beta since v1.31): ``runc`` on every ACK node; a
        sandboxed-container pool adds ``runv`` (Kata-based), a Kata install ``kata-qemu``...
    network, pods_per_node:
        Network plugin deciding ``capacity.pods``; see :func:`max_pods`.
    kubelet_version:
        ``status.nodeInfo.kubeletVersion``; pass ``labkit.version.KUBERNETES_PATCH_VERSION``.
    heartbeat_time:
        RFC 3339 time stamped on the node conditions.

    Raises
    ------
    ManifestError
        Unknown instance type or zone, a zone outside ``region``, a malformed taint, or a Terway
        node whose ENI pod limit is too small for ACK to let it join.
    """
    it = _lookup(instance_type)
    zone_region = region_of(zone)
    if region is not None and region != zone_region:
        raise ManifestError("region", region, f"zone {zone} is in region {zone_region}, not {region}")
    if RUNV_HANDLER in runtime_handlers and not it.bare_metal:
        # ACK "Create a sandboxed container node pool", Limits: "Only ECS Bare Metal Instance types
        # are supported" (https://www.alibabacloud.com/help/doc-detail/140541.htm).
        raise ManifestError(
            "instance_type",
            it.name,
            "ACK runs Sandboxed-Container (runv) node pools only on ECS Bare Metal Instance types "
            "(families ebmg, ebmc, ebmr...: e.g. ecs.ebmg7.32xlarge), which need no nested virtualization",
        )
    pods = max_pods(it, network, pods_per_node=pods_per_node)
    if network == "terway" and pods <= _TERWAY_MIN_PODS_EXCLUSIVE:
        raise ManifestError(
            "instance_type",
            it.name,
            f"with Terway this type holds only {pods} pods ((ENIs - 1) x IPs per ENI) and ACK adds a "
            f"node only if that is more than {_TERWAY_MIN_PODS_EXCLUSIVE}; pick a larger type or Flannel",
        )

    disk = DEFAULT_SYSTEM_DISK_GIB * GIB
    free = allocatable(it)
    capacity = {
        "cpu": _cpu(it.vcpu * 1000),
        "ephemeral-storage": _binary_si(disk),
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": _binary_si(it.memory_bytes),
        "pods": _decimal_si(pods),
    }
    alloc = dict(
        capacity,
        cpu=_cpu(free["cpu"]),
        memory=_binary_si(free["memory"]),
        **{"ephemeral-storage": _binary_si(disk - _percentage_of(disk, _EVICTION_NODEFS_AVAILABLE))},
    )
    if it.gpu:
        capacity["nvidia.com/gpu"] = alloc["nvidia.com/gpu"] = _decimal_si(it.gpu)
    # The API server writes maps (ResourceList, labels) with sorted keys, as Go's encoding/json does.
    capacity, alloc = dict(sorted(capacity.items())), dict(sorted(alloc.items()))

    kubelet_labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": it.name,
        "beta.kubernetes.io/os": "linux",
        "failure-domain.beta.kubernetes.io/region": zone_region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": it.name,
        "topology.diskplugin.csi.alibabacloud.com/zone": zone,
        "topology.kubernetes.io/region": zone_region,
        "topology.kubernetes.io/zone": zone,
    }
    if RUNV_HANDLER in runtime_handlers:
        kubelet_labels[RUNV_NODE_LABEL[0]] = RUNV_NODE_LABEL[1]
    spec: dict[str, Any] = {"providerID": f"{zone_region}.{_instance_id(name)}"}
    checked_taints = _checked_taints(taints)
    if checked_taints:
        spec["taints"] = checked_taints
    if unschedulable:
        spec["unschedulable"] = True

    addresses = [{"address": name, "type": "Hostname"}]
    ip = _internal_ip(name, zone_region)
    if ip is not None:
        addresses.insert(0, {"address": ip, "type": "InternalIP"})

    digest = _digest(name)
    # kubelet: pkg/kubelet/nodestatus/setters.go; conditions in the order the kubelet appends them,
    # Ready last.
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    status: dict[str, Any] = {
        "addresses": addresses,
        "allocatable": alloc,
        "capacity": capacity,
        "conditions": [
            {
                "lastHeartbeatTime": heartbeat_time,
                "lastTransitionTime": heartbeat_time,
                "message": message,
                "reason": reason,
                "status": state,
                "type": kind,
            }
            for kind, state, reason, message in conditions
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": "amd64",
            "bootID": str(uuid.UUID(bytes=digest[16:32])),
            "containerRuntimeVersion": _CONTAINER_RUNTIME_VERSION,
            "kernelVersion": _KERNEL_VERSION,
            "kubeProxyVersion": "",  # deprecated field; current kubelets leave it empty
            "kubeletVersion": kubelet_version,
            "machineID": digest[:16].hex(),
            "operatingSystem": "linux",
            "osImage": _OS_IMAGE,
            "systemUUID": str(uuid.UUID(bytes=digest[:16])).upper(),
        },
    }
    if images:
        status["images"] = [dict(image) for image in images]
    features = {"recursiveReadOnlyMounts": True, "userNamespaces": True}
    status["runtimeHandlers"] = [{"name": h, "features": dict(features)} for h in runtime_handlers]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": dict(sorted({**dict(labels or {}), **kubelet_labels}.items()))},
        "spec": spec,
        "status": status,
    }


def nodepool_id(pool_name: str) -> str:
    """ACK-style node pool ID (``np`` + 32 hex digits), derived from the pool name."""
    return "np" + _digest("nodepool/" + pool_name).hex()[:32]


def short_node_label(node: Mapping[str, Any], pool_names: Mapping[str, str]) -> str:
    """A node as a learner reads it: ``general · h · 10.0.0.1`` (pool, zone letter, private IP).

    ACK names a node ``<region>.<private IP>`` and its pool only by ID
    (``alibabacloud.com/nodepool-id``); ``pool_names`` maps those IDs back to the names given to
    ``add_node_pool``. A part that cannot be read (a hand-written Node) is left out, and a node
    with none of them is shown by its full name.
    """
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    name = meta.get("name", "")
    region = labels.get("topology.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone", "")
    pool = pool_names.get(labels.get("alibabacloud.com/nodepool-id", ""), "")
    if region and zone.startswith(region + "-"):
        zone = zone[len(region) + 1:]
    ip = name[len(region) + 1:] if region and name.startswith(region + ".") else name
    return " · ".join(part for part in (pool, zone, ip) if part)


#: Zones one node pool may span: zone position ``z`` uses the third octets ``z, z + 16, ...``.
MAX_POOL_ZONES = 16
#: Nodes of one pool in one zone: 16 blocks (third octets ``z`` to ``z + 240``) of 254 hosts.
MAX_NODES_PER_POOL_ZONE = 16 * 254


def _pool_node_ip(pool_index: int, position: int, host: int) -> str:
    """Private IP of a pool's ``host``-th node (from 1) in the zone at ``position`` (see pool_nodes)."""
    block, n = divmod(host - 1, 254)
    return f"10.{pool_index}.{position + MAX_POOL_ZONES * block}.{n + 1}"


def pool_nodes(
    pool_name: str,
    instance_type: str | InstanceType,
    count: int,
    zones: Sequence[str],
    *,
    start_index: int = 0,
    pool_index: int = 0,
    cluster_id: str | None = None,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, Any]] | None = None,
    network: str = "terway",
    pods_per_node: int = DEFAULT_FLANNEL_PODS_PER_NODE,
    kubelet_version: str = DEFAULT_KUBELET_VERSION,
    heartbeat_time: str = EPOCH,
    runtime_handlers: Sequence[str] = ("runc",),
) -> list[dict[str, Any]]:
    """The Nodes of one ACK node pool: ``count`` nodes from index ``start_index`` on.

    Nodes are named as ACK names them, ``<region>.<private IP>``. The IP is deterministic and
    readable: ``10.<pool_index>.<zone position>.<n>`` for a zone's first 254 nodes, where the
    zone position is the zone's place in ``zones`` and ``n`` counts that pool's nodes in that
    zone from 1. Node ``i`` goes to ``zones[i % len(zones)]`` (round-robin in the order given),
    so scaling a pool up by calling again with ``start_index`` equal to the old size continues
    the same pattern. Each node carries the pool label ``alibabacloud.com/nodepool-id`` and, if
    ``cluster_id`` is given, ACK's cluster label ``ack.aliyun.com``.

    Larger pools: a zone's next 254 nodes continue in ``10.<pool_index>.<z + 16>.1-254``, then
    ``<z + 32>``, ... up to ``<z + 240>``; the third octet is ``z + 16 * ((n - 1) // 254)`` and
    the last one ``(n - 1) % 254 + 1``. So a pool spans at most :data:`MAX_POOL_ZONES` (16)
    zones and holds at most :data:`MAX_NODES_PER_POOL_ZONE` (16 * 254 = 4,064) nodes per zone,
    and no two zones or pools ever share an address (pool ``p`` owns ``10.p.0.0/16``). For
    example, node 763 of a three-zone pool 2 (the 255th in its first zone) is ``10.2.16.1``.

    Parameters
    ----------
    pool_index:
        The pool's ordinal in its cluster (0-255); pools with different ordinals never share an IP.

    Raises
    ------
    ManifestError
        Bad counts or indexes, no zones or more than 16, zones from more than one region (an ACK
        cluster lives in one region), more than 4,064 nodes in one zone, or anything
        :func:`node_manifest` refuses.
    """
    if not isinstance(pool_name, str) or not pool_name:
        raise ManifestError("name", pool_name, "Invalid value: a node pool is named by a non-empty string, "
                            'e.g. "pool-a"')
    if isinstance(count, bool) or not isinstance(count, int):
        raise ManifestError("count", count, "Invalid value: the number of nodes is an integer, e.g. 3")
    if count < 0:
        raise ManifestError("count", count, "a node pool cannot have a negative number of nodes")
    if isinstance(zones, (str, bytes)) or not isinstance(zones, Sequence) or \
            not all(isinstance(z, str) for z in zones):
        raise ManifestError("zones", zones,
                            'Invalid value: zones are a list of zone names, e.g. ["cn-hangzhou-h"]')
    if labels is not None and (not isinstance(labels, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items())):
        raise ManifestError("labels", labels, 'Invalid value: labels are a mapping of strings to strings, '
                            'e.g. {"workload": "batch"} (quote numbers and booleans)')
    if taints is not None and (isinstance(taints, (str, bytes, Mapping)) or not isinstance(taints, Sequence)
                               or not all(isinstance(t, Mapping) for t in taints)):
        raise ManifestError("taints", taints, 'Invalid value: taints are a list of mappings, e.g. '
                            '[{"key": "gpu", "value": "true", "effect": "NoSchedule"}]')
    if start_index < 0:
        raise ManifestError("start_index", start_index, "node indexes start at 0")
    if not 0 <= pool_index <= 255:
        raise ManifestError("pool_index", pool_index, "a pool index must be between 0 and 255")
    if not zones:
        raise ManifestError("zones", list(zones), "a node pool needs at least one zone")
    if len(zones) > MAX_POOL_ZONES:
        raise ManifestError("zones", list(zones), f"a node pool spans at most {MAX_POOL_ZONES} zones (its "
                            f"addresses give each zone every {MAX_POOL_ZONES}th /24 of the pool's /16)")
    regions = {region_of(zone) for zone in zones}
    if len(regions) > 1:
        raise ManifestError("zones", list(zones), "all zones of a node pool must be in one region")
    (region,) = regions
    pool_labels = {**dict(labels or {}), "alibabacloud.com/nodepool-id": nodepool_id(pool_name)}
    if cluster_id is not None:
        pool_labels["ack.aliyun.com"] = cluster_id

    nodes = []
    for i in range(start_index, start_index + count):
        position, host = i % len(zones), i // len(zones) + 1
        if host > MAX_NODES_PER_POOL_ZONE:
            raise ManifestError(
                "count", start_index + count,
                f"the pool would hold {start_index + count:,} nodes, but "
                f"at most {MAX_NODES_PER_POOL_ZONE:,} nodes per zone fit one node pool (the pool's /16 "
                f"gives each zone {MAX_NODES_PER_POOL_ZONE // 254} blocks of 254 addresses): spread it "
                f"over more zones, or add another node pool",
            )
        name = f"{region}.{_pool_node_ip(pool_index, position, host)}"
        nodes.append(
            node_manifest(
                name,
                instance_type,
                zones[position],
                labels=pool_labels,
                taints=taints,
                network=network,
                pods_per_node=pods_per_node,
                kubelet_version=kubelet_version,
                heartbeat_time=heartbeat_time,
                runtime_handlers=runtime_handlers,
            )
        )
    return nodes


# --- prices ---------------------------------------------------------------------------------------
#: The per-vCPU and per-GiB pay-as-you-go rates (CNY per hour) the illustrative ECS prices are built
#: from: Alibaba Cloud ECI's billing page ("vCPU 0.000049 元/秒 (0.1764 元/小时)", "内存 0.00000613
#: 元/秒 (0.0221 元/小时)"), https://help.aliyun.com/zh/eci/product-overview/elastic-container-instances,
#: read through a third-party mirror of that page on 2026-11-26. They are ECI rates, not ECS list
#: prices; see data/cloud/README.md.
ECI_RATES_CNY_PER_HOUR = {"cpu": 0.1764, "memory_gib": 0.0221}


@dataclass(frozen=True)
class Price:
    """An hourly pay-as-you-go price and where it comes from.

    ``kind`` is ``"sourced"`` (a figure read from an Alibaba Cloud page, the instance type CSV's
    ``price_cny_per_hour``), ``"illustrative"`` (``data/cloud/ecs_prices.csv``, built from a stated
    rule) or ``"none"`` (no figure; ``cny_per_hour`` is None).
    """

    instance_type: str
    cny_per_hour: float | None
    kind: str
    region: str | None
    date: str | None
    source: str


@lru_cache(maxsize=1)
def _price_table() -> dict[str, dict[str, str]]:
    with (DATA_DIR / "ecs_prices.csv").open(newline="", encoding="utf-8") as handle:
        return {row["instance_type"]: row for row in csv.DictReader(handle)}


def price(it: str | InstanceType) -> Price:
    """The hourly pay-as-you-go price of an instance type in cn-hangzhou, with its source.

    A sourced figure in ``ecs_instance_types.csv`` wins; otherwise the illustrative row of
    ``ecs_prices.csv``; otherwise no price. Never use these for real budgeting.
    """
    it = instance_type(it)
    if it.price_cny_per_hour is not None:
        return Price(it.name, it.price_cny_per_hour, "sourced", it.price_region, it.price_date, it.source)
    row = _price_table().get(it.name)
    if row is None or not row["price_cny_per_hour"]:
        basis = row["basis"] if row else "no price in data/cloud/ecs_prices.csv"
        return Price(it.name, None, "none", row["region"] if row else None, row["date"] if row else None,
                     basis)
    return Price(it.name, float(row["price_cny_per_hour"]), row["price_kind"], row["region"], row["date"],
                 row["basis"])

"""The scheduler's snapshot of the cluster, as arrays over nodes.

kube-scheduler takes a ``Snapshot`` of ``NodeInfo`` structs each cycle
(``pkg/scheduler/backend/cache/snapshot.go``). Here the same facts live in numpy arrays with one
row per node, updated incrementally when a pod is bound or removed, so a plugin's Filter or
Score for *all* nodes is a handful of array operations rather than a Python loop per node.

Rows stay in the order nodes were added; :attr:`NodeTable.order` is the node order the
scheduler iterates in, which upstream's node tree interleaves by zone
(``pkg/scheduler/backend/cache/node_tree.go``: one node from each zone in turn).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterable
from typing import Any

import numpy as np

from labkit.api.quantity import resource_amount
from labkit.scheduler.podinfo import PodInfo, normalized_image_name

__all__ = ["NodeTable", "RowCache", "BASE_RESOURCES", "zone_key"]

_VERSIONS = itertools.count(1)

#: Columns every table has; extended resources (``example.com/gpu``, hugepages) are appended.
BASE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")

# utilnode.GetZoneKey reads the deprecated beta labels first.
ZONE_LABELS = ("failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/zone")
REGION_LABELS = ("failure-domain.beta.kubernetes.io/region", "topology.kubernetes.io/region")


def zone_key(labels: dict[str, str]) -> str:
    """``utilnode.GetZoneKey`` (``component-helpers/node/topology``): region and zone joined, or ""
    when the node has neither."""
    region = next((labels[k] for k in REGION_LABELS if k in labels), "")
    zone = next((labels[k] for k in ZONE_LABELS if k in labels), "")
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


class NodeTable:
    """Array-backed node state: allocatable, requested, labels, taints, images, pods."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.resources: list[str] = list(BASE_RESOURCES)
        self._col: dict[str, int] = {r: i for i, r in enumerate(self.resources)}
        self._cap = 16
        self.alloc = np.zeros((self._cap, len(self.resources)), dtype=np.int64)
        self.requested = np.zeros_like(self.alloc)  # actual requests; the "pods" column counts pods
        self.nonzero = np.zeros((self._cap, 2), dtype=np.int64)  # cpu, memory with scoring stand-ins
        self.unschedulable = np.zeros(self._cap, dtype=bool)
        self.labels: list[dict[str, str]] = []
        self.taints: list[list[dict[str, Any]]] = []
        self.images: list[dict[str, int]] = []  # normalized image name -> size in bytes
        self.pods: list[dict[str, PodInfo]] = []  # pod uid -> PodInfo, per node
        self.used_ports: list[dict[tuple[str, str, int], int]] = []
        self.nodes: list[dict[str, Any]] = []
        self._order: np.ndarray | None = None
        self._names_snapshot: tuple[int, tuple[str, ...]] | None = None
        #: Identity of this table (a dry-run copy gets its own), for caches that outlive a cycle.
        self.token = next(_VERSIONS)
        # Rows whose pods changed, in order: caches of per-row results refresh just those rows.
        self._row_log: list[int] = []
        self._row_log_base = 0
        self._zones: dict[str, list[str]] = {}  # node_tree.go: zone key -> node names, zones in order
        self._label_codes: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        self._label_ints: dict[str, np.ndarray] = {}
        self._taint_sig: tuple[np.ndarray, list[tuple[tuple[str, str, str], ...]]] | None = None
        self._image_cols: dict[str, np.ndarray] = {}
        # Bumped on any node-level change; caches key on it. Drawn from one process-wide counter
        # so two tables never share a version (a copy made for a preemption dry run does, on
        # purpose: its node-level facts are the same).
        self.version = next(_VERSIONS)
        self.images_version = next(_VERSIONS)

    # -- size ----------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.names)

    def column(self, resource: str) -> int:
        """Column of ``resource``, adding one (allocatable 0 everywhere) the first time it is seen."""
        col = self._col.get(resource)
        if col is None:
            col = len(self.resources)
            self.resources.append(resource)
            self._col[resource] = col
            pad = np.zeros((self.alloc.shape[0], 1), dtype=np.int64)
            self.alloc = np.hstack([self.alloc, pad])
            self.requested = np.hstack([self.requested, pad])
        return col

    def has_column(self, resource: str) -> bool:
        return resource in self._col

    def _grow(self) -> None:
        self._cap *= 2
        for attr in ("alloc", "requested", "nonzero", "unschedulable"):
            old = getattr(self, attr)
            new = np.zeros((self._cap, *old.shape[1:]), dtype=old.dtype)
            new[: old.shape[0]] = old
            setattr(self, attr, new)

    # -- nodes ---------------------------------------------------------------------------
    def set_node(self, node: dict[str, Any]) -> int:
        """Add a node or refresh its node-level facts (labels, taints, allocatable, images)."""
        name = node["metadata"]["name"]
        i = self.index.get(name)
        old_zone = None if i is None else zone_key(self.labels[i])
        if i is None:
            i = self.n
            if i >= self._cap:
                self._grow()
            self.names.append(name)
            self.index[name] = i
            self.labels.append({})
            self.taints.append([])
            self.images.append({})
            self.pods.append({})
            self.used_ports.append({})
            self.nodes.append(node)
        self.nodes[i] = node
        status = node.get("status") or {}
        alloc = status.get("allocatable") or status.get("capacity") or {}
        self.alloc[i, :] = 0
        for res, value in alloc.items():
            col = self.column(res)
            self.alloc[i, col] = resource_amount(res, value)
        spec = node.get("spec") or {}
        self.unschedulable[i] = bool(spec.get("unschedulable"))
        self.labels[i] = dict(node["metadata"].get("labels") or {})
        zone = zone_key(self.labels[i])
        if zone != old_zone:
            # node_tree.go updateNode: a node whose zone changed leaves its old zone and joins the
            # end of the new one (addNode appends; a new zone goes after the existing ones).
            if old_zone is not None:
                self._leave_zone(name, old_zone)
            self._zones.setdefault(zone, []).append(name)
        self.taints[i] = list(spec.get("taints") or [])
        imgs: dict[str, int] = {}
        for img in status.get("images") or []:
            for nm in img.get("names") or []:
                imgs[normalized_image_name(nm)] = int(img.get("sizeBytes", 0))
        self.images[i] = imgs
        self._invalidate()
        return i

    def _leave_zone(self, name: str, zone: str) -> None:
        members = self._zones[zone]
        members.remove(name)
        if not members:
            del self._zones[zone]  # removeZone: a zone that comes back later goes last

    def remove_node(self, name: str) -> None:
        """Drop a node: rows are compacted (rare operation, O(N))."""
        i = self.index.pop(name)
        self._leave_zone(name, zone_key(self.labels[i]))
        keep = [j for j in range(self.n) if j != i]
        n = self.n
        for attr in ("alloc", "requested", "nonzero", "unschedulable"):
            arr = getattr(self, attr)
            arr[: n - 1] = arr[keep]
            arr[n - 1] = 0
        for attr in ("names", "labels", "taints", "images", "pods", "used_ports", "nodes"):
            getattr(self, attr).pop(i)
        self.index = {nm: j for j, nm in enumerate(self.names)}
        self._invalidate()

    def _invalidate(self) -> None:
        self.version = next(_VERSIONS)
        self.images_version = next(_VERSIONS)
        self._label_codes.clear()
        self._label_ints.clear()
        self._taint_sig = None
        self._image_cols.clear()
        self._order = None

    def set_images(self, i: int, node: dict[str, Any]) -> None:
        """Refresh only a node's image list (the kubelet reports pulls); other caches stay valid."""
        self.nodes[i] = node
        imgs: dict[str, int] = {}
        for img in (node.get("status") or {}).get("images") or []:
            for nm in img.get("names") or []:
                imgs[normalized_image_name(nm)] = int(img.get("sizeBytes", 0))
        self.images[i] = imgs
        self.images_version = next(_VERSIONS)
        for image, col in self._image_cols.items():
            col[i] = imgs.get(image, 0)

    def names_snapshot(self) -> tuple[str, ...]:
        """Node names by row, as an immutable tuple shared by every cycle until a node changes."""
        if self._names_snapshot is None or self._names_snapshot[0] != self.version:
            self._names_snapshot = (self.version, tuple(self.names))
        return self._names_snapshot[1]

    @property
    def order(self) -> np.ndarray:
        """Node rows in the scheduler's iteration order (computed lazily after node changes)."""
        if self._order is None:
            self._order = self._zone_interleaved_order()
        return self._order

    def _zone_interleaved_order(self) -> np.ndarray:
        # node_tree.go list(): one node from each zone in turn, zones in their tree order.
        lists = [[self.index[nm] for nm in members] for members in self._zones.values()]
        out: list[int] = []
        depth = 0
        while len(out) < self.n:
            for members in lists:
                if depth < len(members):
                    out.append(members[depth])
            depth += 1
        return np.asarray(out, dtype=np.int64)

    # -- pods ----------------------------------------------------------------------------
    def add_pod(self, i: int, pod: PodInfo) -> None:
        """Account a pod bound (or assumed) on node row ``i``."""
        self.pods[i][pod.uid] = pod
        self._account(i, pod, +1)

    def remove_pod(self, i: int, pod: PodInfo) -> None:
        if self.pods[i].pop(pod.uid, None) is not None:
            self._account(i, pod, -1)

    @property
    def row_seq(self) -> int:
        """Count of pod changes so far (a position in the row-change log)."""
        return self._row_log_base + len(self._row_log)

    def rows_changed_since(self, seq: int) -> np.ndarray | None:
        """Rows whose pods changed since ``seq`` (deduplicated), or None if the log no longer reaches back."""
        if seq < self._row_log_base:
            return None
        return np.fromiter(set(self._row_log[seq - self._row_log_base:]), dtype=np.int64)

    def dry_run_copy(self) -> NodeTable:
        """A copy whose pods can be changed without touching this table (preemption's dry runs).

        Node-level facts and their caches are shared (same ``version``); pod accounting is
        copied and the copy gets its own ``token``, so per-row caches never mix the two.
        """
        view = copy.copy(self)
        view.requested = self.requested.copy()
        view.nonzero = self.nonzero.copy()
        view.pods = list(self.pods)
        view.used_ports = list(self.used_ports)
        view.token = next(_VERSIONS)
        view._row_log = []
        view._row_log_base = 0
        return view

    def _account(self, i: int, pod: PodInfo, sign: int) -> None:
        self._row_log.append(i)
        if len(self._row_log) > 65536:
            self._row_log_base += len(self._row_log)
            self._row_log.clear()
        for res, amount in pod.requests.items():
            col = self.column(res)
            self.requested[i, col] += sign * amount
        self.requested[i, self._col["pods"]] += sign
        self.nonzero[i, 0] += sign * pod.nonzero_cpu
        self.nonzero[i, 1] += sign * pod.nonzero_memory
        ports = self.used_ports[i]
        for port in pod.host_ports:
            ports[port] = ports.get(port, 0) + sign
            if ports[port] <= 0:
                del ports[port]

    # -- cached columns ------------------------------------------------------------------
    def label_codes(self, key: str) -> tuple[np.ndarray, dict[str, int]]:
        """Per-node integer code of label ``key`` (-1 where absent) and the value → code map."""
        hit = self._label_codes.get(key)
        if hit is None:
            codes: dict[str, int] = {}
            arr = np.full(self.n, -1, dtype=np.int64)
            for i, labels in enumerate(self.labels):
                v = labels.get(key)
                if v is not None:
                    arr[i] = codes.setdefault(v, len(codes))
            hit = (arr, codes)
            self._label_codes[key] = hit
        return hit

    def label_ints(self, key: str) -> np.ndarray:
        """Label ``key`` parsed as an integer per node (NaN where absent or not an integer), for Gt/Lt."""
        hit = self._label_ints.get(key)
        if hit is None:
            hit = np.full(self.n, np.nan)
            for i, labels in enumerate(self.labels):
                v = labels.get(key)
                if v is not None:
                    with contextlib.suppress(ValueError):  # not an integer: Gt/Lt never match it
                        hit[i] = int(v)
            self._label_ints[key] = hit
        return hit

    def taint_signatures(self) -> tuple[np.ndarray, list[tuple[tuple[str, str, str], ...]]]:
        """Nodes grouped by their exact taint list: (per-node group id, taints of each group)."""
        if self._taint_sig is None:
            groups: dict[tuple[tuple[str, str, str], ...], int] = {}
            arr = np.zeros(self.n, dtype=np.int64)
            for i, taints in enumerate(self.taints):
                sig = tuple((t.get("key", ""), t.get("value", "") or "", t.get("effect", "")) for t in taints)
                arr[i] = groups.setdefault(sig, len(groups))
            self._taint_sig = (arr, list(groups))
        return self._taint_sig

    def image_sizes(self, image: str) -> np.ndarray:
        """Size of ``image`` on each node (0 where the node does not hold it)."""
        hit = self._image_cols.get(image)
        if hit is None:
            hit = np.array([imgs.get(image, 0) for imgs in self.images], dtype=np.int64)
            self._image_cols[image] = hit
        return hit

    def pods_on(self, indices: Iterable[int]) -> Iterable[tuple[int, PodInfo]]:
        for i in indices:
            for p in self.pods[i].values():
                yield i, p


class RowCache:
    """Per-key arrays over node rows that refresh only the rows whose pods changed.

    A plugin whose per-node result depends on the node and the pods on it (NodeResourcesFit,
    BalancedAllocation) computes it once per pod *shape* (same requests) over all rows, then,
    for the next pod of that shape, recomputes only the rows where pods were bound or removed
    in between — usually a handful, where a full pass touches every node. A shape seen for the
    first time is computed for the asked rows only (a cycle scores only the feasible nodes it
    found): a workload whose every pod has its own requests would otherwise pay for every node,
    every cycle, and keep nothing. Arrays returned by :meth:`get` without ``rows`` are updated in
    place later: copy what must outlive the cycle.
    """

    def __init__(self, limit: int = 512) -> None:
        self._entries: dict[Any, list[Any]] = {}
        self._seen: set[Any] = set()
        self._limit = limit

    def has(self, table: NodeTable, key: Any) -> bool:
        """Whether :meth:`get` for ``key`` would refresh cached arrays (not compute every row)."""
        e = self._entries.get(key)
        return (e is not None and e[0] == table.token and e[1] == table.version and e[3] == table.n
                and e[2] >= table._row_log_base)

    def get(self, table: NodeTable, key: Any, compute: Any, rows: np.ndarray | None = None
            ) -> tuple[np.ndarray, ...]:
        """``compute(rows)`` returns a tuple of arrays for ``rows`` (an index array). With ``rows``
        the result covers those rows only; without, every row."""
        n = table.n
        e = self._entries.get(key)
        if e is not None and e[0] == table.token and e[1] == table.version and e[3] == n:
            changed = table.rows_changed_since(e[2])
            if changed is not None:
                if len(changed):
                    for full, part in zip(e[4], compute(changed)):
                        full[changed] = part
                e[2] = table.row_seq
                return e[4] if rows is None else tuple(a[rows] for a in e[4])
        if rows is not None and key not in self._seen:
            if len(self._seen) >= 4 * self._limit:
                self._seen.clear()
            self._seen.add(key)  # the second cycle of this shape builds the full arrays
            return tuple(np.asarray(a) for a in compute(rows))
        if len(self._entries) >= self._limit:
            self._entries.clear()
        arrays = tuple(np.array(a) for a in compute(np.arange(n, dtype=np.int64)))
        self._entries[key] = [table.token, table.version, table.row_seq, n, arrays]
        return arrays if rows is None else tuple(a[rows] for a in arrays)

"""What the scheduler needs to know about a pod, computed once when the pod is queued.

kube-scheduler keeps a ``PodInfo`` with pre-parsed affinity terms and requests beside each
pod (``pkg/scheduler/framework/types.go``); this is the same idea: the API object stays a dict,
and the hot path reads typed fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from labkit.api.quantity import resource_amount

__all__ = ["PodInfo", "pod_requests", "normalized_image_name", "DEFAULT_MILLI_CPU", "DEFAULT_MEMORY"]

# pkg/scheduler/util/pod_resources.go: scoring stand-ins for containers that request nothing.
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


def _container_requests(c: dict[str, Any]) -> dict[str, int]:
    req = ((c.get("resources") or {}).get("requests")) or {}
    return {name: resource_amount(name, value) for name, value in req.items()}


def _nonzero(req: dict[str, int]) -> tuple[int, int]:
    """(cpu, memory) with the 100m/200Mi stand-ins for *absent* keys (an explicit 0 stays 0)."""
    return req.get("cpu", DEFAULT_MILLI_CPU), req.get("memory", DEFAULT_MEMORY)


def pod_requests(spec: dict[str, Any], *, non_zero: bool = False) -> dict[str, int]:
    """The pod's effective request, as ``k8s.io/component-helpers/resource.PodRequests`` computes it.

    Regular containers and sidecars (init containers with ``restartPolicy: Always``) add up;
    a classic init container runs alone, next to the sidecars started before it, so the
    effective request per resource is ``max(sum(regular)+sum(sidecars), max(init_i +
    sidecars before i))``. ``spec.overhead`` is added last. With ``non_zero`` only cpu and
    memory are returned, each container counting 100m / 200Mi where the key is absent (the
    scoring convention, ``pkg/scheduler/util/pod_resources.go``).
    """
    def reqs(c: dict[str, Any]) -> dict[str, int]:
        r = _container_requests(c)
        if non_zero:
            cpu, mem = _nonzero(r)
            return {"cpu": cpu, "memory": mem}
        return r

    total: dict[str, int] = {}
    for c in spec.get("containers") or []:
        for k, v in reqs(c).items():
            total[k] = total.get(k, 0) + v
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for c in spec.get("initContainers") or []:
        r = reqs(c)
        if c.get("restartPolicy") == "Always":
            for k, v in r.items():
                sidecars[k] = sidecars.get(k, 0) + v
                total[k] = total.get(k, 0) + v
        else:
            for k in set(r) | set(sidecars):
                init_max[k] = max(init_max.get(k, 0), r.get(k, 0) + sidecars.get(k, 0))
    for k, v in init_max.items():
        total[k] = max(total.get(k, 0), v)
    for name, value in (spec.get("overhead") or {}).items():
        if non_zero and name not in ("cpu", "memory"):
            continue
        total[name] = total.get(name, 0) + resource_amount(name, value)
    if non_zero:
        total.setdefault("cpu", 0)
        total.setdefault("memory", 0)
    return total


def normalized_image_name(name: str) -> str:
    """Append ``:latest`` when the image has no tag (``imagelocality.normalizedImageName``)."""
    if "@" in name:
        return name
    if ":" not in name.rsplit("/", 1)[-1]:
        return name + ":latest"
    return name


@dataclass(eq=False)
class PodInfo:
    """Typed view of a pod for the scheduler's hot path."""

    obj: dict[str, Any]
    namespace: str
    name: str
    uid: str
    labels: dict[str, str]
    priority: int
    preemption_policy: str
    requests: dict[str, int]
    nonzero_cpu: int
    nonzero_memory: int
    host_ports: list[tuple[str, str, int]]
    tolerations: list[dict[str, Any]]
    node_selector: dict[str, str]
    affinity: dict[str, Any]
    node_name: str
    images: list[str]
    n_containers: int
    spread_constraints: list[dict[str, Any]]
    scheduling_gates: list[dict[str, Any]]
    owner_kinds: list[str] = field(default_factory=list)
    terminating: bool = False
    #: Per-pod memo of derived values (plugins' cache keys), computed once per pod.
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def frozen(self, name: str, value: Any) -> str:
        """``value`` as canonical JSON, memoized under ``name`` (a hashable cache key)."""
        hit = self.memo.get(name)
        if hit is None:
            hit = self.memo[name] = json.dumps(value, sort_keys=True, default=str)
        return hit

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_pod(cls, pod: dict[str, Any]) -> PodInfo:
        spec = pod.get("spec") or {}
        meta = pod["metadata"]
        reqs = pod_requests(spec)
        nz = pod_requests(spec, non_zero=True)
        ports: list[tuple[str, str, int]] = []
        # nodeports.getContainerPorts: regular containers and sidecars (restartable init containers).
        sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        for c in sidecars + list(spec.get("containers") or []):
            for p in c.get("ports") or []:
                if p.get("hostPort"):
                    ports.append((p.get("protocol", "TCP"), p.get("hostIP") or "0.0.0.0", int(p["hostPort"])))
        containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
        return cls(
            obj=pod,
            namespace=meta.get("namespace", "default"),
            name=meta["name"],
            uid=meta.get("uid", ""),
            labels=dict(meta.get("labels") or {}),
            priority=int(spec.get("priority") or 0),
            preemption_policy=spec.get("preemptionPolicy") or "PreemptLowerPriority",
            requests=reqs,
            nonzero_cpu=nz["cpu"],
            nonzero_memory=nz["memory"],
            host_ports=ports,
            tolerations=list(spec.get("tolerations") or []),
            node_selector=dict(spec.get("nodeSelector") or {}),
            affinity=dict(spec.get("affinity") or {}),
            node_name=spec.get("nodeName") or "",
            images=[normalized_image_name(c["image"]) for c in containers if c.get("image")],
            n_containers=len(containers),
            spread_constraints=list(spec.get("topologySpreadConstraints") or []),
            scheduling_gates=list(spec.get("schedulingGates") or []),
            owner_kinds=[o.get("kind", "") for o in meta.get("ownerReferences") or [] if o.get("controller")],
            terminating=bool(meta.get("deletionTimestamp")),
        )

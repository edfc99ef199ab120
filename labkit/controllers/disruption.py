"""The disruption controller: the status of every PodDisruptionBudget.

Upstream: ``pkg/controller/disruption/disruption.go`` (``trySync``, ``getExpectedPodCount``,
``getExpectedScale``, ``countHealthyPods``, ``updatePdbStatus``) and
``pkg/apis/policy/helper`` (``UpdateDisruptionAllowedCondition``). For one PDB:

- its pods: the pods of its namespace that its selector matches (policy/v1: ``{}`` matches every
  pod of the namespace, a missing selector none);
- ``expectedPods`` and ``desiredHealthy``: with ``maxUnavailable``, the sum of the scales of the pods'
  controllers minus ``maxUnavailable`` (a percentage of that sum, rounded up), at least 0; with an
  integer ``minAvailable``, the number of pods and ``minAvailable``; with a percentage
  ``minAvailable``, the controllers' scale and that percentage of it, rounded up;
- ``currentHealthy``: the pods not being deleted, not recently disrupted (``disruptedPods``, 2 min),
  and Ready;
- ``disruptionsAllowed``: ``currentHealthy - desiredHealthy``, 0 when negative or when nothing is
  expected;
- the condition ``DisruptionAllowed``: True with reason ``SufficientPods``, or False with
  ``InsufficientPods``; a pod without a controller (when the scale is needed) makes the sync fail:
  ``SyncFailed``, no disruption allowed, and the Warning event ``CalculateExpectedPodCountFailed``.

The scale of a pod's controller is a ReplicaSet's ``spec.replicas``, or that of the Deployment owning
the ReplicaSet, a StatefulSet's or a ReplicationController's. A PDB that matches no pod gets the
Normal event ``NoPods`` (``No matching pods found``).

The scheduler's DefaultPreemption reads ``disruptionsAllowed`` and ``disruptedPods``
(:mod:`labkit.scheduler.preemption`); the cluster autoscaler reads ``disruptionsAllowed``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from labkit.api.selectors import selector_from_dict
from labkit.api.store import WatchEvent, timestamp
from labkit.controllers.controller_utils import controller_ref, is_pod_ready, parse_time
from labkit.controllers.runtime import Controller

if TYPE_CHECKING:
    from labkit.api.events import EventRecorder
    from labkit.api.server import APIServer
    from labkit.sim import LabEnvironment

__all__ = ["DisruptionController", "pdb_selects", "DELETION_TIMEOUT"]

#: ``DeletionTimeout``: how long a pod in ``disruptedPods`` is not counted as healthy (2 min).
DELETION_TIMEOUT = 120.0
_SCALED_KINDS = ("ReplicaSet", "StatefulSet", "ReplicationController")


def pdb_selects(pdb: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether the disruption controller counts a pod with ``labels`` under ``pdb`` (policy/v1:
    an empty selector matches every pod, a missing one none)."""
    sel = selector_from_dict((pdb.get("spec") or {}).get("selector"), "spec.selector")
    return sel is not None and sel.matches(labels)


def _scaled(value: Any, total: int) -> int:
    """``intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)``."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


class DisruptionController(Controller):
    """kube-controller-manager's ``disruption`` controller."""

    component = "controllermanager"

    def __init__(self, env: LabEnvironment, api: APIServer, recorder: EventRecorder) -> None:
        super().__init__(env, api, recorder)
        self._count = 0  # PDBs in the cluster: with none, a pod event costs one comparison
        self.watch("PodDisruptionBudget", self._pdb_key)
        self.watch("Pod", self._pod_keys)
        for kind in ("ReplicaSet", "Deployment", "StatefulSet", "ReplicationController"):
            self.watch(kind, self._owner_keys)

    # -- event handlers -------------------------------------------------------------------------
    def _pdb_key(self, ev: WatchEvent) -> Hashable:
        meta = ev.object["metadata"]
        if ev.type == "ADDED":
            self._count += 1
        elif ev.type == "DELETED":
            self._count -= 1
        return (meta["namespace"], meta["name"])

    def _keys_for(self, namespace: str, labels: dict[str, str]) -> list[Hashable] | None:
        if not self._count:
            return None
        keys: list[Hashable] = [
            (namespace, pdb["metadata"]["name"])
            for pdb in self.api.items("PodDisruptionBudget", namespace)
            if pdb_selects(pdb, labels)
        ]
        return keys or None

    def _pod_keys(self, ev: WatchEvent) -> list[Hashable] | None:
        meta = ev.object["metadata"]
        keys = self._keys_for(meta["namespace"], meta.get("labels") or {})
        old = ev.old
        if old is not None and (old["metadata"].get("labels") or {}) != (meta.get("labels") or {}):
            keys = list(
                dict.fromkeys(
                    (keys or [])
                    + (self._keys_for(meta["namespace"], old["metadata"].get("labels") or {}) or [])
                )
            )
        return keys or None

    def _owner_keys(self, ev: WatchEvent) -> list[Hashable] | None:
        if not self._count:
            return None
        meta = ev.object["metadata"]
        template = ((ev.object.get("spec") or {}).get("template") or {}).get("metadata") or {}
        return self._keys_for(meta["namespace"], template.get("labels") or {})

    # -- sync -------------------------------------------------------------------------------------
    def sync(self, key: Hashable) -> None:
        namespace, name = key  # type: ignore[misc]
        pdb = self.api.peek("PodDisruptionBudget", name, namespace)
        if pdb is None:
            return
        pods = [
            p for p in self.api.items("Pod", namespace) if pdb_selects(pdb, p["metadata"].get("labels") or {})
        ]
        if not pods:
            self.event(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            expected, desired = self._expected(pdb, pods)
        except LookupError as err:
            self.event(
                pdb,
                "Warning",
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {err}",
            )
            self._write(pdb, None, err)
            return
        disrupted = dict((pdb.get("status") or {}).get("disruptedPods") or {})
        now = self.env.now
        for pod_name, when in list(disrupted.items()):  # buildDisruptedPodMap: drop the expired
            t = parse_time(when)
            if t is not None and t + DELETION_TIMEOUT <= now:
                del disrupted[pod_name]
        healthy = 0
        for p in pods:
            if p["metadata"].get("deletionTimestamp"):
                continue
            t = parse_time(disrupted.get(p["metadata"]["name"]))
            if t is not None and t + DELETION_TIMEOUT > now:
                continue
            if is_pod_ready(p):
                healthy += 1
        self._write(pdb, (healthy, desired, expected, disrupted), None)

    def _expected(self, pdb: dict[str, Any], pods: list[dict[str, Any]]) -> tuple[int, int]:
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            expected = self._scale(pods)
            return expected, max(0, expected - _scaled(spec["maxUnavailable"], expected))
        minimum = spec.get("minAvailable")
        if isinstance(minimum, int):
            return len(pods), minimum
        expected = self._scale(pods)
        return expected, _scaled(minimum, expected)

    def _scale(self, pods: list[dict[str, Any]]) -> int:
        """``getExpectedScale``: the summed scale of the pods' controllers, each counted once."""
        seen: dict[tuple[str, str], int] = {}
        for pod in pods:
            ref = controller_ref(pod)
            if ref is None:
                raise LookupError(f'found no controller ref for pod "{pod["metadata"]["name"]}"')
            namespace = pod["metadata"]["namespace"]
            owner = (
                self.api.peek(ref["kind"], ref["name"], namespace) if ref["kind"] in _SCALED_KINDS else None
            )
            if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
                raise LookupError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            if ref["kind"] == "ReplicaSet":
                parent = controller_ref(owner)
                if parent is not None and parent["kind"] == "Deployment":
                    deployment = self.api.peek("Deployment", parent["name"], namespace)
                    if deployment is not None and deployment["metadata"].get("uid") == parent.get("uid"):
                        owner = deployment
            key = (owner["kind"], owner["metadata"]["name"])
            seen[key] = int((owner.get("spec") or {}).get("replicas", 1))
        return sum(seen.values())

    def _write(
        self, pdb: dict[str, Any], counts: tuple[int, int, int, dict[str, str]] | None, err: Exception | None
    ) -> None:
        """``updatePdbStatus`` (or ``failSafe`` when ``counts`` is None), writing only on a change."""
        old = pdb.get("status") or {}
        generation = pdb["metadata"].get("generation", 1)
        if counts is None:
            status = {**old, "disruptionsAllowed": 0, "observedGeneration": generation}
            condition = ("False", "SyncFailed", str(err))
        else:
            healthy, desired, expected, disrupted = counts
            allowed = healthy - desired
            if expected <= 0 or allowed <= 0:
                allowed = 0
            status = {
                "currentHealthy": healthy,
                "desiredHealthy": desired,
                "expectedPods": expected,
                "disruptionsAllowed": allowed,
                "observedGeneration": generation,
            }
            if disrupted:
                status["disruptedPods"] = disrupted
            condition = ("True", "SufficientPods", "") if allowed > 0 else ("False", "InsufficientPods", "")
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "DisruptionAllowed"]
        prior = next((c for c in old.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
        state, reason, message = condition
        changed = prior is None or prior.get("status") != state
        conditions.append(
            {
                "type": "DisruptionAllowed",
                "status": state,
                "reason": reason,
                "message": message,
                "observedGeneration": generation,
                "lastTransitionTime": timestamp(self.env.now) if changed else prior["lastTransitionTime"],
            }
        )
        status["conditions"] = conditions
        if status == old:
            return
        self.api.update_status({**pdb, "status": status})

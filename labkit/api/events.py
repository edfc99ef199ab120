"""Events, as ``client-go/tools/record`` writes them.

Each call creates a ``v1 Event`` through the API server; a repeat of the same (object, reason, message,
source) bumps ``count`` and ``lastTimestamp`` of the existing one, as the recorder's
``EventCorrelator`` does, so a pod that fails to schedule ten times shows ``(x10)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labkit.api.store import timestamp

if TYPE_CHECKING:
    from labkit.api.server import APIServer

__all__ = ["EventRecorder"]


class EventRecorder:
    """Record Events about objects into the store."""

    def __init__(self, api: APIServer, clock: Callable[[], float]) -> None:
        self._api = api
        self._clock = clock
        self._seen: dict[tuple[str, ...], str] = {}
        self._serial = 0
        self.log: list[dict[str, Any]] = []  # every emission in order, for timelines

    def emit(self, obj: dict[str, Any], type_: str, reason: str, message: str, component: str,
             host: str | None = None, field_path: str | None = None) -> dict[str, Any]:
        now = self._clock()
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        involved = {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj["kind"],
            "name": meta["name"],
            "namespace": namespace,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if obj["kind"] == "Node":
            involved["namespace"] = ""
        if field_path:
            involved["fieldPath"] = field_path
        source = {"component": component, **({"host": host} if host else {})}
        key = (obj["kind"], namespace, meta["name"], meta.get("uid", ""), field_path or "", reason, message,
               component, host or "")
        self.log.append({"time": now, "type": type_, "reason": reason, "message": message,
                         "object": f'{obj["kind"]}/{meta["name"]}', "namespace": namespace,
                         "component": component, "host": host or ""})
        existing = self._seen.get(key)
        if existing is not None:
            ev = self._api.peek("Event", existing, namespace)
            if ev is not None:
                def bump(e: dict[str, Any]) -> None:
                    e["count"] += 1
                    e["lastTimestamp"] = timestamp(now)
                    e["time"] = now
                return self._api.mutate("Event", existing, namespace, bump)
        self._serial += 1
        # client-go names events "<object name>.<unix nanoseconds in hex>"; the serial keeps them unique.
        nanos = int(round(now * 1e9)) + self._serial
        name = f'{meta["name"]}.{nanos:x}'
        ev = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "source": source,
            "reportingComponent": component,
            "reportingInstance": host or component,
            "firstTimestamp": timestamp(now),
            "lastTimestamp": timestamp(now),
            "count": 1,
            "time": now,
            "firstTime": now,
        }
        self._api.create_event(ev)
        self._seen[key] = name
        return ev

"""The namespace controller: empty a namespace being deleted, then let it go.

Upstream: ``pkg/controller/namespace/namespace_controller.go`` and
``deletion/namespaced_resources_deleter.go``. Deleting a Namespace (other than the immortal
``default``, ``kube-system`` and ``kube-public``, which NamespaceLifecycle refuses) leaves it
``Terminating`` with a ``deletionTimestamp``; from then on the API server refuses new objects in
it. The controller deletes every object in the namespace (pods terminate gracefully, workloads
go with the default propagation), and once nothing but Events is left it removes the
``kubernetes`` entry of ``spec.finalizers`` and deletes the namespace, which removes it.

Simplifications: every kind is deleted in one pass (no discovery, no per-resource conditions
such as ``NamespaceDeletionContentFailure``); Events do not hold the namespace back.
"""

from __future__ import annotations

from typing import Any

from labkit.api.kinds import KINDS
from labkit.api.store import WatchEvent
from labkit.controllers.runtime import Controller

__all__ = ["NamespaceController", "NAMESPACED_KINDS"]

#: Kinds whose objects live in a namespace, in declaration order.
NAMESPACED_KINDS = tuple(k.kind for k in KINDS.values() if k.namespaced)


class NamespaceController(Controller):
    """kube-controller-manager's namespace controller."""

    component = "namespace-controller"

    def __init__(self, env, api, recorder) -> None:
        super().__init__(env, api, recorder)
        self._terminating: set[str] = set()
        self.watch("Namespace", self._on_namespace)
        for kind in NAMESPACED_KINDS:
            if kind != "Event":
                self.watch(kind, self._on_content)

    def _on_namespace(self, ev: WatchEvent) -> str | None:
        name = ev.object["metadata"]["name"]
        if ev.type == "DELETED" or not ev.object["metadata"].get("deletionTimestamp"):
            self._terminating.discard(name)
            return None
        self._terminating.add(name)
        return name

    def _on_content(self, ev: WatchEvent) -> str | None:
        if not self._terminating or ev.type != "DELETED":
            return None
        ns = ev.object["metadata"].get("namespace")
        return ns if ns in self._terminating else None

    def sync(self, key: Any) -> None:
        ns = self.api.peek("Namespace", key)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        remaining = False
        for kind in NAMESPACED_KINDS:
            for obj in list(self.api.items(kind, key)):
                meta = obj["metadata"]
                if kind != "Event":
                    remaining = True
                if not meta.get("deletionTimestamp"):
                    self.api.delete(kind, meta["name"], key)
        if remaining:
            return  # the content's DELETED events bring the namespace back

        def finalize(o: dict[str, Any]) -> None:
            spec = o.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != "kubernetes"]
            if not spec["finalizers"]:
                del spec["finalizers"]

        self.api.mutate("Namespace", key, None, finalize)
        self.api.delete("Namespace", key, None)

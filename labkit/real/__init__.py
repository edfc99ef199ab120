"""``RealCluster``: the same calls against a real cluster (a later issue builds it out)."""

from __future__ import annotations

__all__ = ["RealCluster"]


class RealCluster:
    """Placeholder for the real-cluster adapter (chapter 06)."""

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, context: str | None = None,
                        namespace: str | None = None) -> RealCluster:
        raise NotImplementedError("the real-cluster adapter is not built yet (chapter 06)")

"""The node's image store and what a pull costs (the container runtime's side of ``EnsureImageExists``).

A node keeps layers by digest (containerd's content store): a pull fetches the manifest (one round
trip to the registry), downloads only the layers the node lacks and unpacks them. The time is the
round trip, plus the missing compressed bytes at the registry's download bandwidth (containerd
downloads up to 3 layers at once, ``max_concurrent_downloads``, sharing that bandwidth), plus the
missing uncompressed bytes at :data:`UNPACK_BYTES_PER_SECOND`. With every layer present a pull is
the round trip alone (``imagePullPolicy: Always`` on a warm node). Figures: the registry hosts of
:mod:`labkit.images.registry` and the unpack rate here are illustrative.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["pull_seconds", "UNPACK_BYTES_PER_SECOND", "NodeImages"]

#: Decompressing and writing layers to the snapshotter (overlayfs on an ESSD), illustrative.
UNPACK_BYTES_PER_SECOND = 150_000_000


def pull_seconds(rtt_s: float, down_bytes_per_s: float, missing: Sequence[tuple[str, int, int]]) -> float:
    """Round trip, download of the missing layers ``(digest, compressed, uncompressed)``, unpack."""
    return (rtt_s + sum(c for _, c, _ in missing) / down_bytes_per_s
            + sum(u for _, _, u in missing) / UNPACK_BYTES_PER_SECOND)


class NodeImages:
    """One node's images (name as the pod wrote it, normalized with ``:latest``) and layers."""

    __slots__ = ("images", "layers")

    def __init__(self) -> None:
        self.images: dict[str, tuple[str, int]] = {}  # name -> (manifest digest, compressed size)
        self.layers: dict[str, tuple[int, int]] = {}  # layer digest -> (compressed, uncompressed)

    def __contains__(self, name: str) -> bool:
        return name in self.images

    def missing(self, layers: Sequence[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        return [x for x in layers if x[0] not in self.layers]

    def add(self, name: str, digest: str, layers: Sequence[tuple[str, int, int]]) -> None:
        for d, c, u in layers:
            self.layers[d] = (c, u)
        self.images[name] = (digest, sum(c for _, c, _ in layers))

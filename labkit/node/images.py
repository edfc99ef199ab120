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

__all__ = ["pull_seconds", "UNPACK_BYTES_PER_SECOND", "NodeImages", "images_to_free", "IMAGE_GC_PERIOD_S"]

#: Decompressing and writing layers to the snapshotter (overlayfs on an ESSD), illustrative.
UNPACK_BYTES_PER_SECOND = 150_000_000


def pull_seconds(rtt_s: float, down_bytes_per_s: float, missing: Sequence[tuple[str, int, int]]) -> float:
    """Round trip, download of the missing layers ``(digest, compressed, uncompressed)``, unpack."""
    return (rtt_s + sum(c for _, c, _ in missing) / down_bytes_per_s
            + sum(u for _, _, u in missing) / UNPACK_BYTES_PER_SECOND)


class NodeImages:
    """One node's images (name as the pod wrote it, normalized with ``:latest``) and layers, with what
    the image garbage collector needs: when each image was first seen and last used."""

    __slots__ = ("images", "layers", "image_layers", "first_seen", "last_used")

    def __init__(self) -> None:
        self.images: dict[str, tuple[str, int]] = {}  # name -> (manifest digest, compressed size)
        self.layers: dict[str, tuple[int, int]] = {}  # layer digest -> (compressed, uncompressed)
        self.image_layers: dict[str, tuple[str, ...]] = {}  # name -> its layer digests
        self.first_seen: dict[str, float] = {}
        self.last_used: dict[str, float] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.images

    def missing(self, layers: Sequence[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        return [x for x in layers if x[0] not in self.layers]

    def add(self, name: str, digest: str, layers: Sequence[tuple[str, int, int]], now: float = 0.0) -> None:
        for d, c, u in layers:
            self.layers[d] = (c, u)
        self.images[name] = (digest, sum(c for _, c, _ in layers))
        self.image_layers[name] = tuple(d for d, _, _ in layers)
        self.first_seen.setdefault(name, now)
        self.last_used.setdefault(name, now)

    def used_bytes(self) -> int:
        """What the layers take on the image filesystem (their unpacked size)."""
        return sum(u for _, u in self.layers.values())

    def remove(self, name: str) -> int:
        """Delete an image; the bytes of its layers no other image on the node shares."""
        own = self.image_layers.pop(name, ())
        for table in (self.images, self.first_seen, self.last_used):
            table.pop(name, None)
        shared = {d for layers in self.image_layers.values() for d in layers}
        freed = 0
        for d in own:
            if d not in shared and d in self.layers:
                freed += self.layers.pop(d)[1]
        return freed


#: ``image_gc_manager.go`` and the kubelet's defaults (spec 13.5).
IMAGE_GC_HIGH_PERCENT, IMAGE_GC_LOW_PERCENT = 85, 80
IMAGE_MINIMUM_GC_AGE_S = 120.0
IMAGE_GC_PERIOD_S = 300.0


def images_to_free(store: NodeImages, capacity: int, in_use: set[str], now: float
                   ) -> tuple[list[str], int, int]:
    """One run of ``freeSpace``: the unused images to delete, oldest last use first (ties: first seen
    earlier), skipping those first seen less than 2 minutes ago, until ``capacity x (100 - low) / 100
    - available`` bytes are freed; and (bytes to free, bytes freed). Nothing when usage is under the
    high threshold (``usage% = 100 - available x 100 / capacity``, integer)."""
    available = capacity - store.used_bytes()
    usage = 100 - available * 100 // capacity
    if usage < IMAGE_GC_HIGH_PERCENT:
        return [], 0, 0
    to_free = capacity * (100 - IMAGE_GC_LOW_PERCENT) // 100 - available
    order = sorted((n for n in store.images if n not in in_use),
                   key=lambda n: (store.last_used[n], store.first_seen[n]))
    chosen, freed = [], 0
    probe = NodeImages()
    probe.layers, probe.image_layers = dict(store.layers), dict(store.image_layers)
    for name in order:
        if freed >= to_free:
            break
        if now - store.first_seen[name] < IMAGE_MINIMUM_GC_AGE_S:
            continue
        freed += probe.remove(name)
        chosen.append(name)
    return chosen, to_free, freed

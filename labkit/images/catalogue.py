"""Base images the lab knows: published sizes from ``data/images.csv`` (a source and date per row).

A row gives an image's compressed size (what a registry stores and a pull downloads), its
uncompressed size (what it takes on a node's disk), its layer count and, where the source lists
them, each layer's compressed size (``layer_bytes``). Without those, the lab splits the published
total into that many layers (halving: the OS layer first and largest, as in most official images).
Each layer gets a digest derived from the image's name, so two builds on the same base share them.
An image not in the catalogue is assumed to be :data:`UNKNOWN_BYTES`.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from labkit.images.reference import ImageReferenceError, parse_reference

__all__ = ["BaseImage", "base_image", "catalogue", "UNKNOWN_BYTES", "DATA"]

DATA = Path(__file__).resolve().parents[2] / "data" / "images.csv"
#: The compressed size assumed for an image the catalogue lacks (illustrative: a mid-size base).
UNKNOWN_BYTES = 100 * 1024 * 1024
#: Compressed to uncompressed, when a row gives only the compressed size (gzip on a Linux userland
#: is typically 2-3x; illustrative).
EXPANSION = 2.5


@dataclass(frozen=True)
class BaseImage:
    """One catalogue row (or the stand-in for an unknown image)."""

    image: str  # the reference as written in the catalogue
    compressed_bytes: int
    uncompressed_bytes: int
    layers: int
    source: str
    known: bool = True
    #: each layer's compressed size, where the source lists them (else the total is split)
    layer_bytes: tuple[int, ...] = ()

    def layer_sizes(self) -> list[tuple[int, int]]:
        """(compressed, uncompressed) per layer: the published layer sizes where known (the size on
        disk shared out in proportion), else the totals split by halving; exact in sum."""
        if self.layer_bytes:
            unc = [int(self.uncompressed_bytes * c / self.compressed_bytes) for c in self.layer_bytes]
            unc[0] += self.uncompressed_bytes - sum(unc)
            return list(zip(self.layer_bytes, unc))
        n = max(1, self.layers)
        weights = [2.0**-k for k in range(n)]
        total = sum(weights)
        comp = [int(self.compressed_bytes * w / total) for w in weights]
        unc = [int(self.uncompressed_bytes * w / total) for w in weights]
        comp[0] += self.compressed_bytes - sum(comp)
        unc[0] += self.uncompressed_bytes - sum(unc)
        return list(zip(comp, unc))

    def layer_digests(self) -> list[str]:
        return [
            "sha256:" + hashlib.sha256(f"{self.image}#layer{k}".encode()).hexdigest()
            for k in range(max(1, self.layers))
        ]


def _key(ref: str) -> str:
    try:
        return str(parse_reference(ref))
    except ImageReferenceError:
        return ref


@functools.cache
def catalogue() -> dict[str, BaseImage]:
    """Every image of ``data/images.csv``, by normalized reference (``docker.io/library/nginx:1.27``).

    An image may have two rows, each with its own source: one for the compressed size (and its
    layer count: the registry's manifest) and one for the size on disk (a local scan)."""
    rows: dict[str, list[dict[str, str]]] = {}
    with DATA.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.setdefault(_key(row["image"]), []).append(row)
    out: dict[str, BaseImage] = {}
    for key, group in rows.items():
        packed = next((r for r in group if r["compressed_bytes"]), None)
        disk = next((r for r in group if r["uncompressed_bytes"]), None)
        comp = int(packed["compressed_bytes"]) if packed else 0
        unc = int(disk["uncompressed_bytes"]) if disk else int(comp * EXPANSION)
        if not comp:
            comp = int(unc / EXPANSION)
        layers = next((int(r["layers"]) for r in ([packed] if packed else []) + group if r["layers"]), 1)
        sources = "; ".join(dict.fromkeys(r["source"] for r in group))
        sizes = tuple(int(x) for x in (packed or {}).get("layer_bytes", "").split(";") if x)
        if sizes and (len(sizes) != layers or sum(sizes) != comp):
            raise ValueError(f"data/images.csv, {group[0]['image']}: layer_bytes must be its {layers} "
                             f"layers, summing to compressed_bytes ({comp})")
        out[key] = BaseImage(group[0]["image"], comp, unc, layers, sources, layer_bytes=sizes)
    return out


def base_image(ref: str) -> BaseImage:
    """The catalogue's row for ``ref`` (by normalized name and tag), or an unknown-image stand-in."""
    got = catalogue().get(_key(ref))
    if got is not None:
        return got
    return BaseImage(ref, UNKNOWN_BYTES, int(UNKNOWN_BYTES * EXPANSION), 3, "", known=False)

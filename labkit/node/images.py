"""Image sizes and pull times for the simulated kubelet.

Sizes come from ``data/images.csv`` (illustrative, with a source per row); an image not
listed is taken as :data:`DEFAULT_IMAGE_BYTES`. A pull costs a registry round trip plus the
bytes over the node's bandwidth — the simplest model that still shows why a cached image
starts faster (later chapters refine it with layers and ACR).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from labkit.scheduler.podinfo import normalized_image_name

__all__ = ["image_size", "pull_seconds", "DEFAULT_IMAGE_BYTES", "PULL_BYTES_PER_SECOND", "REGISTRY_RTT"]

DATA = Path(__file__).resolve().parents[2] / "data" / "images.csv"
DEFAULT_IMAGE_BYTES = 100 * 1024 * 1024
#: Illustrative in-VPC pull bandwidth from a registry (ACR) to one ECS node.
PULL_BYTES_PER_SECOND = 40 * 1024 * 1024
#: Illustrative registry round trip (token, manifest) before the first byte.
REGISTRY_RTT = 0.4


@functools.cache
def _sizes() -> dict[str, int]:
    if not DATA.exists():
        return {}
    with DATA.open(newline="", encoding="utf-8") as f:
        return {normalized_image_name(row["image"]): int(row["size_bytes"]) for row in csv.DictReader(f)}


def image_size(image: str) -> int:
    return _sizes().get(normalized_image_name(image), DEFAULT_IMAGE_BYTES)


def pull_seconds(image: str) -> float:
    return REGISTRY_RTT + image_size(image) / PULL_BYTES_PER_SECOND

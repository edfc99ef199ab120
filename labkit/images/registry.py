"""Container registries: where images are pushed and where nodes pull them from.

A registry stores blobs (layers) by digest and manifests by ``repository:tag``
(https://distribution.github.io/distribution/spec/api/ : a push uploads a blob only when a ``HEAD``
says it is missing, then puts the manifest). The lab keeps one :class:`Registry` per cluster with
the hosts below; ``c.registry.push(image, "registry.cn-hangzhou.aliyuncs.com/lab/app:1.0")`` is
``docker push``.

What a pull can find (:meth:`Registry.resolve`):

- an image pushed in this lab, on its host;
- a base image of ``data/images.csv`` on its public registry (Docker Hub, ``gcr.io``,
  ``registry.k8s.io``);
- on a public registry, any other name: a stand-in of
  :data:`labkit.images.catalogue.UNKNOWN_BYTES` (the lab cannot know what Docker Hub holds);
- on an ACR host (``*.aliyuncs.com``) only what was pushed: anything else is ``not found``, and the
  kubelet reports ``ErrImagePull``.

Bandwidths and round trips are illustrative (no citable figure for a given ECS instance): an ACR
instance in the cluster's region is reached over the VPC, Docker Hub over the internet.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

from labkit.images.catalogue import base_image
from labkit.images.reference import ImageReferenceError, parse_reference

__all__ = ["Registry", "RegistryHost", "PullError", "Resolved", "DEFAULT_HOSTS"]

MB = 1_000_000


@dataclass(frozen=True)
class RegistryHost:
    """One registry endpoint: to a node, a round trip before the first byte (token, manifest) and a
    download bandwidth; from the learner's machine, an upload bandwidth for pushes."""

    name: str
    kind: str  # "acr" | "public"
    rtt_s: float
    down_bytes_per_s: float
    up_bytes_per_s: float


#: Illustrative figures: ACR in-region over the VPC, Docker Hub and other public registries over
#: the internet from an ACK node (often much slower from mainland China), uploads from a laptop.
DEFAULT_HOSTS = {
    "registry.cn-hangzhou.aliyuncs.com": RegistryHost(
        "registry.cn-hangzhou.aliyuncs.com", "acr", 0.05, 100 * MB, 10 * MB
    ),
    "registry-vpc.cn-hangzhou.aliyuncs.com": RegistryHost(
        "registry-vpc.cn-hangzhou.aliyuncs.com", "acr", 0.02, 200 * MB, 10 * MB
    ),
    "docker.io": RegistryHost("docker.io", "public", 0.4, 40 * MB, 10 * MB),
}
_PUBLIC = RegistryHost("", "public", 0.4, 40 * MB, 10 * MB)
_ACR = RegistryHost("", "acr", 0.05, 100 * MB, 10 * MB)


class PullError(Exception):
    """What the runtime answers when a pull fails (the kubelet's ``ErrImagePull`` message)."""


@dataclass(frozen=True)
class Resolved:
    """A manifest found: its digest, its layers ``(digest, compressed, uncompressed)`` and host."""

    reference: str  # normalized, with its tag
    digest: str
    layers: tuple[tuple[str, int, int], ...]
    host: RegistryHost

    @property
    def size_bytes(self) -> int:
        return sum(c for _, c, _ in self.layers)


@dataclass
class Registry:
    """The registries a cluster's nodes pull from (see the module docstring)."""

    hosts: dict[str, RegistryHost] = field(default_factory=lambda: dict(DEFAULT_HOSTS))
    blobs: dict[str, set[str]] = field(default_factory=dict)  # host -> layer digests stored
    manifests: dict[str, Resolved] = field(default_factory=dict)  # normalized reference -> manifest

    def host(self, name: str) -> RegistryHost:
        got = self.hosts.get(name)
        if got is not None:
            return got
        template = _ACR if name.endswith(".aliyuncs.com") else _PUBLIC
        return RegistryHost(
            name, template.kind, template.rtt_s, template.down_bytes_per_s, template.up_bytes_per_s
        )

    def push(self, image: Any, reference: str) -> dict[str, Any]:
        """``docker push``: upload the layers the host lacks, then the manifest under ``reference``.

        Returns ``{"reference", "digest", "layers_pushed", "layers_skipped", "bytes_pushed",
        "seconds"}`` (the upload time at the host's bandwidth, plus a round trip per layer checked).
        """
        try:
            ref = parse_reference(reference)
        except ImageReferenceError as e:
            raise ValueError(f"push {reference!r}: {e}") from None
        host = self.host(ref.registry)
        stored = self.blobs.setdefault(host.name, set())
        pushed = skipped = sent = 0
        for layer in image.layers:
            if layer.digest in stored:
                skipped += 1  # "Layer already exists"
                continue
            stored.add(layer.digest)
            pushed += 1
            sent += layer.size_bytes
        key = str(ref)
        self.manifests[key] = Resolved(
            key,
            image.digest,
            tuple((x.digest, x.size_bytes, x.uncompressed_bytes) for x in image.layers),
            host,
        )
        return {
            "reference": key,
            "digest": image.digest,
            "layers_pushed": pushed,
            "layers_skipped": skipped,
            "bytes_pushed": sent,
            "seconds": round(host.rtt_s * len(image.layers) + sent / host.up_bytes_per_s, 3),
        }

    def resolve(self, image: str) -> Resolved:
        """The manifest a pull of ``image`` (as written in a pod) gets, or :class:`PullError` with
        containerd's message."""
        try:
            ref = parse_reference(image)
        except ImageReferenceError as e:
            raise PullError(f'failed to pull and unpack image "{image}": {e}') from None
        key = str(ref)
        got = self.manifests.get(key)
        if got is not None:
            return got
        host = self.host(ref.registry)
        missing = PullError(
            f'rpc error: code = NotFound desc = failed to pull and unpack image "{key}": failed to '
            f'resolve reference "{key}": {key}: not found'
        )
        if host.kind == "acr":
            raise missing  # an ACR repository holds only what was pushed to it
        return _public(key, host)


@functools.lru_cache(maxsize=1024)
def _public(key: str, host: RegistryHost) -> Resolved:
    """A public image's manifest: its catalogue layers, or the stand-in's (the same on every pull)."""
    base = base_image(key)
    digest = "sha256:" + hashlib.sha256(f"manifest/{key}".encode()).hexdigest()
    layers = tuple((d, c, u) for d, (c, u) in zip(base.layer_digests(), base.layer_sizes()))
    return Resolved(key, digest, layers, host)

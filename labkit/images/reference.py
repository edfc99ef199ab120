"""Image references as the container runtime and the kubelet read them.

Upstream: ``github.com/distribution/reference`` ``normalize.go`` (``ParseNormalizedNamed``: the
registry, ``docker.io/library/`` for official images) and ``reference.go`` (the grammar);
``kubernetes/kubernetes`` ``pkg/util/parsers/parsers.go`` (``ParseImageName``: no tag and no
digest means ``latest``). Spec section 13.1 (the ``imagePullPolicy`` default is the API server's:
``labkit.api.defaults.image_pull_policy``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Reference", "parse_reference", "ImageReferenceError"]

DEFAULT_REGISTRY = "docker.io"
# reference.go: path components are lower-case alphanumerics joined by separators
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?$"
)
_HEX64 = re.compile(r"^[a-f0-9]{64}$")


class ImageReferenceError(ValueError):
    """An image reference the runtime would refuse (``invalid reference format``)."""


@dataclass(frozen=True)
class Reference:
    """A parsed reference: ``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None
    original: str

    @property
    def name(self) -> str:
        """``registry/repository`` (what ``docker.io/library/nginx`` is to ``nginx``)."""
        return f"{self.registry}/{self.repository}"

    @property
    def implied_tag(self) -> str | None:
        """The tag the kubelet uses: ``latest`` when neither tag nor digest is given."""
        return self.tag if self.tag is not None or self.digest is not None else "latest"

    def __str__(self) -> str:
        out = self.name
        if self.implied_tag is not None:
            out += f":{self.implied_tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(ref: str) -> Reference:
    """``ParseNormalizedNamed`` plus the implied tag; :class:`ImageReferenceError` when malformed."""
    if not isinstance(ref, str) or not ref:
        raise ImageReferenceError("invalid reference format: an image reference is empty")
    rest, digest = ref, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise ImageReferenceError(f"invalid reference format: digest {digest!r} is not <algorithm>:<hex>")
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:  # a ':' after the last '/' starts the tag (before it: a registry port)
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise ImageReferenceError(
                f"invalid reference format: tag {tag!r} (letters, digits, '_', '.', '-'; at most 128)"
            )
    if _HEX64.match(rest) and tag is None and digest is None:
        raise ImageReferenceError(
            f"invalid repository name ({rest}), cannot specify 64-byte hexadecimal strings"
        )
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        registry, path = first, remainder
        if not _DOMAIN.match(registry):
            raise ImageReferenceError(f"invalid reference format: registry {registry!r}")
    else:
        registry, path = DEFAULT_REGISTRY, rest
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if path.lower() != path:
        raise ImageReferenceError(f"invalid reference format: repository name ({path}) must be lowercase")
    if not _PATH.match(path):
        raise ImageReferenceError(f"invalid reference format: repository name {path!r}")
    return Reference(registry, path, tag, digest, ref)

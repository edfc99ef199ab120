"""Container images as ``docker build`` makes them and registries and nodes keep them.

``labkit.images.build(dockerfile, context, cache=...)`` parses a real Dockerfile
(:mod:`labkit.images.dockerfile`), builds it with BuildKit's cache rules into layers with digests
(:mod:`labkit.images.build`) on bases from ``data/images.csv`` (:mod:`labkit.images.catalogue`);
:mod:`labkit.images.reference` reads image references as the runtime does.
"""

from labkit.images.build import BuildCache, Image, Layer, build
from labkit.images.reference import ImageReferenceError, Reference, parse_reference

__all__ = ["build", "BuildCache", "Image", "Layer", "parse_reference", "Reference", "ImageReferenceError"]

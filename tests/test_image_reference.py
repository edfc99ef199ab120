"""Image references normalized as ``distribution/reference`` does (spec 13.1)."""

from __future__ import annotations

import pytest

from labkit.images import ImageReferenceError, parse_reference

DIGEST = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("ref", "name", "tag"),
    [
        ("nginx", "docker.io/library/nginx", "latest"),
        ("nginx:1.27", "docker.io/library/nginx", "1.27"),
        ("bitnami/redis", "docker.io/bitnami/redis", "latest"),
        ("index.docker.io/nginx", "docker.io/library/nginx", "latest"),
        ("localhost/app", "localhost/app", "latest"),
        ("localhost:5000/app:2", "localhost:5000/app", "2"),
        (
            "registry.cn-hangzhou.aliyuncs.com/lab/my-nginx:1.0",
            "registry.cn-hangzhou.aliyuncs.com/lab/my-nginx",
            "1.0",
        ),
        ("gcr.io/distroless/static-debian12", "gcr.io/distroless/static-debian12", "latest"),
        (f"nginx@{DIGEST}", "docker.io/library/nginx", None),
        (f"nginx:1.27@{DIGEST}", "docker.io/library/nginx", "1.27"),
    ],
)
def test_references_normalize_as_the_runtime_reads_them(ref, name, tag):
    r = parse_reference(ref)
    assert (r.name, r.implied_tag) == (name, tag)


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("Nginx", "must be lowercase"),
        ("team/App:1", "must be lowercase"),
        ("nginx:bad tag", "tag"),
        ("nginx@sha256:xyz", "digest"),
        ("0" * 64, "64-byte hexadecimal"),
        ("", "empty"),
    ],
)
def test_malformed_references_are_refused(ref, why):
    with pytest.raises(ImageReferenceError, match=why):
        parse_reference(ref)

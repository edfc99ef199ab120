"""``labkit.images.build`` follows BuildKit's cache rules (spec 13.7): a table of edits, each with the
first instruction that misses; layers, sizes and digests; multi-stage builds."""

from __future__ import annotations

import pytest

import labkit
from labkit.images import BuildCache, build

APP = """FROM python:3.12-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1
ARG VERSION=1.0
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN python -m compileall .
LABEL version=$VERSION
CMD ["python", "app.py"]
"""
CONTEXT = {"requirements.txt": "flask==3.0.3\n", "app.py": "print('hi')\n", "README.md": "# app\n"}


def _first_miss(image) -> int | None:
    return next((s["line"] for s in image.steps if not s["cached"]), None)


def _rebuild(edit):
    """Build APP once, then again after ``edit`` (Dockerfile, context, kwargs -> the same, changed)."""
    cache = BuildCache()
    build(APP, dict(CONTEXT), cache=cache)
    text, ctx, kw = edit(APP, dict(CONTEXT), {})
    return build(text, ctx, cache=cache, **kw)


EDITS = [
    # (what changed, edit, first missed line or None)
    ("nothing", lambda t, c, k: (t, c, k), None),
    ("app.py edited", lambda t, c, k: (t, {**c, "app.py": "print('hello')\n"}, k), 7),
    (
        "app.py saved again unchanged (a new mtime)",
        lambda t, c, k: (t, {**c, "app.py": "print('hi')\n"}, k),
        None,
    ),
    ("requirements.txt edited", lambda t, c, k: (t, {**c, "requirements.txt": "flask==3.1.0\n"}, k), 5),
    ("a new file in the context", lambda t, c, k: (t, {**c, "docs.md": "more"}, k), 7),
    ("the base image", lambda t, c, k: (t.replace("python:3.12-slim", "python:3.12"), c, k), 1),
    ("WORKDIR", lambda t, c, k: (t.replace("WORKDIR /app", "WORKDIR /srv"), c, k), 2),
    ("an ENV value", lambda t, c, k: (t.replace("PYTHONUNBUFFERED=1", "PYTHONUNBUFFERED=0"), c, k), 3),
    (
        "a build arg: misses at its first use, the next RUN",
        lambda t, c, k: (t, c, {"build_args": {"VERSION": "2"}}),
        6,
    ),
    (
        "the RUN command's text",
        lambda t, c, k: (t.replace("pip install -r", "pip install --no-cache-dir -r"), c, k),
        6,
    ),
    ("CMD: config only", lambda t, c, k: (t.replace('"app.py"', '"main.py"'), c, k), 10),
    ("LABEL: config only", lambda t, c, k: (t.replace("version=$VERSION", "version=fixed"), c, k), 9),
    ("--no-cache", lambda t, c, k: (t, c, {"no_cache": True}), 1),
]


@pytest.mark.parametrize("what,edit,line", EDITS, ids=[e[0] for e in EDITS])
def test_the_first_missed_instruction_after_an_edit(what, edit, line):
    image = _rebuild(edit)
    assert _first_miss(image) == line, image.frame()[["line", "instruction", "cached", "reason"]]
    if line is not None:  # a miss invalidates every later step that makes a layer or sets the state
        later = [
            s
            for s in image.steps
            if s["line"] > line and not s["instruction"].startswith(("ARG", "LABEL", "CMD"))
        ]
        assert all(not s["cached"] for s in later)


def test_config_only_instructions_do_not_invalidate_later_layers():
    text = 'FROM alpine:3.20\nCMD ["sh"]\nRUN echo one\n'
    cache = BuildCache()
    build(text, cache=cache)
    again = build(text.replace('["sh"]', '["ash"]'), cache=cache)
    assert [s["cached"] for s in again.steps] == [
        True,
        False,
        True,
    ]  # BuildKit; the classic builder rebuilt it


def test_instruction_order_decides_what_an_edit_costs():
    good = APP
    bad = APP.replace(
        "COPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n",
        "COPY . .\nRUN pip install -r requirements.txt\n",
    )
    edited = {**CONTEXT, "app.py": "print('hello')\n"}
    rebuilt = {}
    for name, text in (("good", good), ("bad", bad)):
        cache = BuildCache()
        build(text, CONTEXT, cache=cache)
        image = build(text, edited, cache=cache)
        rebuilt[name] = [
            s["instruction"] for s in image.steps if not s["cached"] and s["instruction"].startswith("RUN")
        ]
    assert rebuilt["good"] == ["RUN python -m compileall ."]
    assert rebuilt["bad"] == ["RUN pip install -r requirements.txt", "RUN python -m compileall ."]


def test_layers_sizes_and_digests():
    cache = BuildCache()
    a = build(APP, CONTEXT, cache=cache, sizes={"RUN pip install -r requirements.txt": 14_000_000})
    base = labkit.images.catalogue.base_image("python:3.12-slim")
    assert len(a.layers) == max(1, base.layers) + 4  # the base's, two COPY and two RUN layers
    assert sum(x.size_bytes for x in a.layers[: max(1, base.layers)]) == base.compressed_bytes
    pip = next(x for x in a.layers if x.created_by.startswith("RUN pip"))
    assert pip.size_bytes == 14_000_000
    reqs = next(x for x in a.layers if x.created_by.startswith("COPY requirements"))
    assert reqs.uncompressed_bytes == 512 + 512 + 1024  # one tar header, one block, the end blocks
    b = build(APP, CONTEXT, cache=BuildCache(), sizes={"RUN pip install -r requirements.txt": 14_000_000})
    assert b.digest == a.digest and [x.digest for x in b.layers] == [
        x.digest for x in a.layers
    ]  # reproducible
    other = build("FROM python:3.12-slim\nCOPY app.py /srv/\n", CONTEXT)
    shared = {x.digest for x in other.layers} & {x.digest for x in a.layers}
    assert len(shared) == max(1, base.layers)  # the base's layers: stored and pulled once


def test_a_multi_stage_build_keeps_only_the_last_stage_and_builds_what_it_needs():
    text = (
        "FROM golang:1.23 AS build\nWORKDIR /src\nCOPY main.go .\nRUN go build -o /out/app .\n"
        "FROM alpine:3.20 AS unused\nRUN echo never built\n"
        "FROM gcr.io/distroless/static-debian12\nCOPY --from=build /src/main.go /app.go\nUSER nonroot\n"
        'ENTRYPOINT ["/app"]\n'
    )
    image = build(text, {"main.go": "package main\n"})
    assert {s["stage"] for s in image.steps} == {"build", "2"}  # BuildKit skips the unused stage
    assert image.base == "gcr.io/distroless/static-debian12"
    assert image.config["User"] == "nonroot" and image.config["Entrypoint"] == ["/app"]
    assert image.layers[-1].created_by.startswith("COPY --from=build")
    assert build(text, {"main.go": "package main\n"}, target="build").base == "golang:1.23"


def test_build_args_reach_from_and_env():
    text = "ARG TAG=3.20\nFROM alpine:${TAG}\nARG NAME=world\nENV GREETING=hello-$NAME\n"
    image = build(text, build_args={"NAME": "ack"})
    assert image.base == "alpine:3.20" and "GREETING=hello-ack" in image.config["Env"]


def test_bad_context_values_are_refused_clearly():
    with pytest.raises(ValueError, match="a size in bytes"):
        build("FROM alpine\n", {"big.bin": -1})
    with pytest.raises(ValueError, match="content"):
        build("FROM alpine\n", {"x": 1.5})

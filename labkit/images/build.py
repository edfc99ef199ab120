"""``docker build`` as a model: a Dockerfile and its context into layers, with BuildKit's cache.

Spec section 13.7 (the docs pages https://docs.docker.com/build/cache/ and
https://docs.docker.com/build/cache/invalidation/, ``moby/buildkit``
``frontend/dockerfile/dockerfile2llb/convert.go``):

- Each step is looked up in the cache under its parent's key; the first miss invalidates that
  step and every later step of the same stage (their keys derive from the missed one).
- ``FROM`` is keyed on the base image's digest; ``RUN`` on its command plus the build environment
  (every ``ENV`` and every ``ARG`` in scope, ``WORKDIR``, ``USER``, ``SHELL``); ``COPY``/``ADD`` on a
  checksum of the contents of what they copy (not file times); a declared ``ARG`` costs nothing
  until a later step uses it.
- ``CMD``, ``ENTRYPOINT``, ``EXPOSE``, ``LABEL``, ``STOPSIGNAL``, ``HEALTHCHECK``, ``VOLUME`` change
  only the image's config: no layer, and (BuildKit) not in later steps' keys; ``ENV``, ``WORKDIR``,
  ``USER``, ``SHELL`` are, as they change how later steps run.
- Multi-stage: each stage has its own chain; only the stages the target needs are built;
  ``COPY --from`` is keyed on what it copies out of the stage.

Layers: ``RUN``, ``COPY`` and ``ADD`` add one each. A ``COPY`` layer's size is a tar of the files
(512-byte headers, 512-byte blocks) and its compressed size the gzip of their contents (given as
text or bytes), or their size when given only as a size. The lab does not run commands: a ``RUN``
layer is :data:`RUN_LAYER_BYTES` unless ``sizes`` names it. Digests are SHA-256 of what defines a
layer, so identical layers dedupe in registries and on nodes.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any

from labkit.errors import DockerfileError
from labkit.images.catalogue import base_image
from labkit.images.dockerfile import Instruction, parse, substitute
from labkit.images.reference import ImageReferenceError, parse_reference

__all__ = ["Layer", "Image", "BuildCache", "build", "RUN_LAYER_BYTES"]

#: A RUN step's layer when ``sizes`` does not give it (illustrative: the lab runs no commands).
RUN_LAYER_BYTES = 1024 * 1024
METADATA = {
    "CMD",
    "ENTRYPOINT",
    "EXPOSE",
    "LABEL",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "VOLUME",
    "MAINTAINER",
    "ONBUILD",
}


def _sha(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Layer:
    """One layer: its digest, compressed size (pushed and pulled), size on disk, and its origin."""

    digest: str
    size_bytes: int
    uncompressed_bytes: int
    created_by: str


@dataclass
class Image:
    """A built image: layers in order, its config, and what each instruction did (``steps``)."""

    layers: tuple[Layer, ...]
    config: dict[str, Any]
    steps: list[dict[str, Any]]
    base: str

    @property
    def size_bytes(self) -> int:
        """Compressed size: what a push of every layer or a pull onto an empty node transfers."""
        return sum(layer.size_bytes for layer in self.layers)

    @property
    def uncompressed_bytes(self) -> int:
        return sum(layer.uncompressed_bytes for layer in self.layers)

    @property
    def config_digest(self) -> str:
        return "sha256:" + _sha("config", self.config, [layer.digest for layer in self.layers])

    @property
    def digest(self) -> str:
        """The manifest's digest: the config and the layers (what ``image@sha256:...`` names)."""
        return "sha256:" + _sha(
            "manifest", self.config_digest, [(x.digest, x.size_bytes) for x in self.layers]
        )

    def frame(self):
        """``steps`` as a DataFrame (``docker build`` output as a table)."""
        import pandas as pd

        return pd.DataFrame(
            self.steps, columns=["stage", "line", "instruction", "cached", "size_bytes", "digest", "reason"]
        )

    def __repr__(self) -> str:
        hits = sum(1 for s in self.steps if s["cached"])
        return (
            f"<labkit Image {self.digest[:19]}: {len(self.layers)} layers, {self.size_bytes:,} bytes "
            f"compressed; {hits}/{len(self.steps)} steps cached>"
        )


@dataclass
class BuildCache:
    """The builder's cache, carried from build to build: step key -> the layer it made (or None)."""

    entries: dict[str, Layer | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def clear(self) -> None:
        self.entries.clear()


@dataclass
class _Stage:
    name: str
    index: int
    instructions: list[Instruction]
    key: str = ""
    layers: list[Layer] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (content digest, size)
    outputs: list[str] = field(default_factory=list)  # RUN keys: what the stage's commands produced
    base: str = ""


def _context_files(context: dict[str, Any] | None) -> dict[str, tuple[str, int, int]]:
    """path -> (content digest, size, gzip size) of the build context."""
    out = {}
    for path, content in (context or {}).items():
        p = posixpath.normpath(str(path).lstrip("/"))
        if isinstance(content, bool) or not isinstance(content, (str, bytes, int)):
            raise ValueError(f"context[{path!r}]: a file's content (str or bytes) or its size in bytes (int)")
        if isinstance(content, int):
            if content < 0:
                raise ValueError(f"context[{path!r}]: a size in bytes (>= 0), got {content}")
            out[p] = (_sha("size-only", p, content), content, content)
        else:
            data = content.encode() if isinstance(content, str) else content
            out[p] = (hashlib.sha256(data).hexdigest(), len(data), len(gzip.compress(data, mtime=0)))
    return out


def _tar_bytes(sizes: list[int]) -> int:
    """A tar of files of these sizes: a 512-byte header each, contents in 512-byte blocks, and the
    two zero blocks at the end."""
    return sum(512 + -(-s // 512) * 512 for s in sizes) + 1024


def _match(files: dict[str, Any], src: str) -> list[str]:
    src = posixpath.normpath(src.lstrip("/")) if src not in (".", "./", "/") else "."
    if src == ".":
        return sorted(files)
    if any(ch in src for ch in "*?["):
        return sorted(p for p in files if fnmatch.fnmatchcase(p, src))
    return sorted(p for p in files if p == src or p.startswith(src + "/"))


def build(
    dockerfile: str,
    context: dict[str, Any] | None = None,
    cache: BuildCache | None = None,
    build_args: dict[str, str] | None = None,
    target: str | None = None,
    no_cache: bool = False,
    sizes: dict[str, int] | None = None,
) -> Image:
    """Build ``dockerfile`` with ``context`` (file -> content, or a size in bytes).

    ``cache`` (a :class:`BuildCache`) carries the cache to the next build; ``build_args`` are
    ``--build-arg`` values; ``target`` the stage to build (default: the last); ``no_cache`` is
    ``--no-cache``; ``sizes`` gives layer sizes by instruction text (``{"RUN go build -o /app .": 9e6}``).
    A malformed Dockerfile raises :class:`labkit.DockerfileError` with the line.
    """
    cache = cache if cache is not None else BuildCache()
    build_args = {str(k): str(v) for k, v in (build_args or {}).items()}
    sizes = dict(sizes or {})
    files = _context_files(context)
    instructions = parse(dockerfile)
    meta: dict[str, str] = {}
    stages: list[_Stage] = []
    for ins in instructions:
        if ins.name == "FROM":
            words = ins.args
            name = words[2].lower() if len(words) == 3 else ""
            if name and any(s.name == name for s in stages):
                raise DockerfileError(
                    ins.line, f'duplicate stage name "{name}"', "give each stage its own name"
                )
            stages.append(_Stage(name, len(stages), [ins]))
        elif not stages:  # an ARG before the first FROM: usable in FROM lines
            for key, value in ins.pairs:
                meta[key] = build_args.get(key, value if value is not None else "")
        else:
            stages[-1].instructions.append(ins)
    by_name = {s.name: s for s in stages if s.name}
    if target is not None and target.lower() not in by_name:
        raise DockerfileError(
            0,
            f'target stage "{target}" could not be found',
            "stages: " + ", ".join(by_name) if by_name else "this Dockerfile names no stages",
        )
    chosen = by_name[target.lower()] if target is not None else stages[-1]
    needed = _needed(stages, by_name, chosen, meta)
    steps: list[dict[str, Any]] = []
    for stage in stages:
        if stage.index in needed:
            _build_stage(stage, stages, by_name, meta, build_args, files, cache, no_cache, sizes, steps)
    return Image(
        tuple(chosen.layers),
        dict(chosen.config, Env=[f"{k}={v}" for k, v in chosen.env.items()]),
        steps,
        chosen.base,
    )


def _stage_ref(ref: str, stages: list[_Stage], by_name: dict[str, _Stage], before: int) -> _Stage | None:
    got = by_name.get(ref.lower())
    if got is None and ref.isdigit():
        got = stages[int(ref)] if int(ref) < len(stages) else None
    if got is not None and got.index >= before:
        return None
    return got


def _needed(
    stages: list[_Stage], by_name: dict[str, _Stage], chosen: _Stage, meta: dict[str, str]
) -> set[int]:
    """The stages ``chosen`` depends on (``FROM <stage>``, ``COPY --from``), itself included."""
    out: set[int] = set()
    todo = [chosen]
    while todo:
        st = todo.pop()
        if st.index in out:
            continue
        out.add(st.index)
        first = st.instructions[0]
        refs = [substitute(first.args[0], meta, first.line)]
        refs += [i.flags["from"] for i in st.instructions if i.name == "COPY" and "from" in i.flags]
        for ref in refs:
            dep = by_name.get(ref.lower()) or (
                stages[int(ref)] if ref.isdigit() and int(ref) < len(stages) else None
            )
            if dep is not None:
                if dep.index >= st.index:
                    line = (
                        first.line
                        if ref == refs[0]
                        else next(i.line for i in st.instructions if i.flags.get("from") == ref)
                    )
                    raise DockerfileError(
                        line,
                        f"circular dependency detected on stage: {ref}",
                        "a stage can use only the stages above it",
                    )
                todo.append(dep)
    return out


def _build_stage(
    stage: _Stage,
    stages: list[_Stage],
    by_name: dict[str, _Stage],
    meta: dict[str, str],
    build_args: dict[str, str],
    files: dict[str, tuple[str, int, int]],
    cache: BuildCache,
    no_cache: bool,
    sizes: dict[str, int],
    steps: list[dict[str, Any]],
) -> None:
    first = stage.instructions[0]
    ref = substitute(first.args[0], meta, first.line)
    missed = False  # a step of this stage missed: every later one does too (its key is new)

    def step(ins: Instruction, key: str, layer_of: Any, reason: str, advance: bool = True) -> None:
        nonlocal missed
        hit = not no_cache and key in cache.entries
        layer = cache.entries[key] if hit else layer_of()
        cache.entries[key] = layer
        why = "" if hit else ("an earlier step of this stage missed" if missed else reason)
        if advance:
            missed = missed or not hit
            stage.key = key
        if layer is not None:
            stage.layers.append(layer)
        steps.append(
            {
                "stage": stage.name or str(stage.index),
                "line": ins.line,
                "instruction": ins.original,
                "cached": hit,
                "size_bytes": layer.size_bytes if layer is not None else 0,
                "digest": layer.digest if layer is not None else None,
                "reason": why,
            }
        )

    parent = _stage_ref(ref, stages, by_name, stage.index)
    if parent is not None:  # FROM <an earlier stage>
        stage.layers = list(parent.layers)
        stage.env, stage.config = dict(parent.env), dict(parent.config)
        stage.files, stage.outputs, stage.base = dict(parent.files), list(parent.outputs), parent.base
        stage.key = parent.key
        steps.append(
            {
                "stage": stage.name or str(stage.index),
                "line": first.line,
                "instruction": first.original,
                "cached": True,
                "size_bytes": 0,
                "digest": None,
                "reason": "",
            }
        )
    else:
        try:
            parsed = parse_reference(ref)
        except ImageReferenceError as e:
            raise DockerfileError(first.line, f'failed to parse stage name "{ref}": {e}') from None
        base = base_image(str(parsed))
        stage.base = ref
        digests, sized = base.layer_digests(), base.layer_sizes()
        base_layers = [
            Layer(d, c, u, f"{ref} (base layer {k + 1}/{len(digests)})")
            for k, (d, (c, u)) in enumerate(zip(digests, sized))
        ]
        key = _sha("FROM", str(parsed), digests)
        hit = not no_cache and key in cache.entries
        cache.entries[key] = None
        stage.key = key
        stage.layers = base_layers
        missed = not hit
        steps.append(
            {
                "stage": stage.name or str(stage.index),
                "line": first.line,
                "instruction": first.original,
                "cached": hit,
                "size_bytes": sum(x.size_bytes for x in base_layers),
                "digest": None,
                "reason": ""
                if hit
                else (
                    "pulled: first use of this base"
                    if base.known
                    else "pulled: not in data/images.csv, 100 MiB assumed"
                ),
            }
        )
    for ins in stage.instructions[1:]:
        scope = {**stage.args, **stage.env}
        name = ins.name
        if name == "ARG":
            for key_, value in ins.pairs:
                default = substitute(value, scope, ins.line) if value is not None else meta.get(key_, "")
                stage.args[key_] = build_args.get(key_, default)
            steps.append(
                {
                    "stage": stage.name or str(stage.index),
                    "line": ins.line,
                    "instruction": ins.original,
                    "cached": True,
                    "size_bytes": 0,
                    "digest": None,
                    "reason": "",
                }
            )
        elif name == "ENV":
            for key_, value in ins.pairs:
                stage.env[key_] = substitute(value or "", {**stage.args, **stage.env}, ins.line)
            step(ins, _sha(stage.key, "ENV", stage.env), lambda: None, "its value is new")
        elif name in ("WORKDIR", "USER", "SHELL"):
            if name == "WORKDIR":
                path = substitute(ins.args[0], scope, ins.line)
                stage.config["WorkingDir"] = posixpath.normpath(
                    posixpath.join(stage.config.get("WorkingDir", "/"), path)
                )
                value: Any = stage.config["WorkingDir"]
            elif name == "USER":
                value = stage.config["User"] = substitute(ins.args[0], scope, ins.line)
            else:
                value = stage.config["Shell"] = list(ins.args)
            step(ins, _sha(stage.key, name, value), lambda: None, f"its {name.lower()} is new")
        elif name == "RUN":
            text = ins.original
            key = _sha(
                stage.key,
                "RUN",
                ins.args,
                ins.json,
                sorted(stage.env.items()),
                sorted(stage.args.items()),
                stage.config.get("WorkingDir", "/"),
                stage.config.get("User", ""),
                stage.config.get("Shell"),
                ins.flags,
                ins.heredocs,
            )
            size = int(sizes.get(text, RUN_LAYER_BYTES))

            def run_layer(key: str = key, size: int = size, text: str = text) -> Layer:
                return Layer("sha256:" + _sha("layer", key), size, size, text)

            step(ins, key, run_layer, "its command or build environment (ENV, ARG) is new")
            stage.outputs.append(stage.key)
        elif name in ("COPY", "ADD"):
            _copy(ins, stage, stages, by_name, files, scope, sizes, step)
        elif name in METADATA:
            _metadata(ins, stage, scope)
            step(
                ins,
                _sha(stage.key, name, ins.original),
                lambda: None,
                "the image config changed",
                advance=False,
            )


def _copy(
    ins: Instruction,
    stage: _Stage,
    stages: list[_Stage],
    by_name: dict[str, _Stage],
    files: dict[str, tuple[str, int, int]],
    scope: dict[str, str],
    sizes: dict[str, int],
    step: Any,
) -> None:
    *srcs, dest = [substitute(a, scope, ins.line) for a in ins.args]
    dest = posixpath.join(stage.config.get("WorkingDir", "/"), dest)
    source = ins.flags.get("from")
    picked: list[tuple[str, str, int, int]] = []  # (path, digest, size, gzip size)
    if source is not None:
        other = _stage_ref(source, stages, by_name, stage.index)
        if other is None:
            raise DockerfileError(
                ins.line,
                f"COPY --from={source}: no build stage named {source} above this one",
                "name a stage (FROM <image> AS <name>) before using it in --from",
            )
        tracked = {p: (d, s) for p, (d, s) in other.files.items()}
        for src in srcs:
            for p in _match(tracked, src.lstrip("/")):
                d, s = tracked[p]
                picked.append((p, d, s, s))
        checksum = _sha([p[:2] for p in picked], other.outputs if not picked else [])
    else:
        for src in srcs:
            if src.startswith(("http://", "https://")) and ins.name == "ADD":
                picked.append((src, _sha("url", src), RUN_LAYER_BYTES, RUN_LAYER_BYTES))
                continue
            if src in ins.heredocs:
                data = ins.heredocs[src].encode()
                picked.append(
                    (src, hashlib.sha256(data).hexdigest(), len(data), len(gzip.compress(data, mtime=0)))
                )
                continue
            got = _match(files, src)
            if not got:
                have = ", ".join(sorted(files)[:6]) or "nothing"
                raise DockerfileError(
                    ins.line,
                    f'failed to compute cache key: "/{src.lstrip("/")}": not found',
                    f"the build context has {have}",
                )
            picked += [(p, *files[p]) for p in got]
        checksum = _sha([p[:2] for p in picked])
    key = _sha(
        stage.key,
        ins.name,
        checksum,
        dest,
        {k: v for k, v in ins.flags.items() if k != "from"},
        stage.config.get("User", ""),
    )
    text = ins.original
    given = sizes.get(text)
    unc = (
        int(given)
        if given is not None
        else (_tar_bytes([p[2] for p in picked]) if picked else RUN_LAYER_BYTES)
    )
    comp = (
        int(given)
        if given is not None
        else (sum(p[3] for p in picked) + 512 * len(picked) if picked else RUN_LAYER_BYTES)
    )

    def copy_layer() -> Layer:
        return Layer("sha256:" + _sha("layer", key), comp, unc, text)

    step(
        ins,
        key,
        copy_layer,
        "the files it copies changed" if source is None else "what it copies from that stage changed",
    )
    for p, d, s, _ in picked:
        target = (
            dest
            if not dest.endswith("/") and len(picked) == 1
            else posixpath.join(dest, posixpath.basename(p))
        )
        stage.files[target.lstrip("/")] = (d, s)


def _metadata(ins: Instruction, stage: _Stage, scope: dict[str, str]) -> None:
    cfg = stage.config
    if ins.name == "CMD":
        cfg["Cmd"] = ins.args if ins.json else ["/bin/sh", "-c", *ins.args]
    elif ins.name == "ENTRYPOINT":
        cfg["Entrypoint"] = ins.args if ins.json else ["/bin/sh", "-c", *ins.args]
    elif ins.name == "EXPOSE":
        for port in ins.args:
            p = substitute(port, scope, ins.line)
            cfg.setdefault("ExposedPorts", {})[p if "/" in p else f"{p}/tcp"] = {}
    elif ins.name == "LABEL":
        for k, v in ins.pairs:
            cfg.setdefault("Labels", {})[k] = substitute(v or "", scope, ins.line)
    elif ins.name == "STOPSIGNAL":
        cfg["StopSignal"] = ins.args[0]
    elif ins.name == "VOLUME":
        for v in ins.args:
            cfg.setdefault("Volumes", {})[v] = {}
    elif ins.name == "HEALTHCHECK":
        cfg["Healthcheck"] = ins.args

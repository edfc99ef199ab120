"""``kubectl apply`` for the simulated cluster: load, validate, default.

Three gates, in the order a real request meets them:

1. **Decoding** — YAML that parses, documents that are mappings, a known ``apiVersion``/``kind``,
   and a size/depth budget (the real API server refuses bodies over 3 MiB).
2. **Schema** — the OpenAPI schema of :data:`labkit.KUBERNETES_VERSION` from
   ``kubernetes-validate``, in *strict* mode, so an unknown field is an error as with
   ``kubectl apply`` (server-side field validation ``Strict``).
3. **API-server validation** — the rules a schema cannot express
   (``pkg/apis/core/validation/validation.go`` and friends, see :mod:`labkit.api.validation`).

Every failure is a :class:`labkit.ManifestError` naming the field path. Nothing is stored
until every document of the call has passed, so one bad document leaves the cluster unchanged.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from labkit.api import validation
from labkit.api.kinds import KINDS
from labkit.api.store import clone
from labkit.errors import ManifestError
from labkit.version import KUBERNETES_VERSION

__all__ = ["load_documents", "check_document", "MAX_BYTES", "MAX_DEPTH"]

#: kube-apiserver's request body limit (``--max-request-bytes`` defaults to 3 MiB).
MAX_BYTES = 3 * 1024 * 1024
#: Nesting deeper than this is refused before schema validation (real objects stay far below it).
MAX_DEPTH = 64
#: Values (mapping entries + list items + scalars) one call may carry; guards YAML alias bombs.
MAX_NODES = 200_000


def load_documents(source: Any) -> list[dict[str, Any]]:
    """Turn ``source`` into a list of manifest dicts (deep copies: the caller's data is never touched).

    ``source`` may be a path (``str`` naming an existing file or a :class:`~pathlib.Path`),
    YAML text with one or more ``---``-separated documents, a dict, or a list of dicts.
    Empty documents (a lone ``---``) are skipped as ``kubectl`` skips them; ``kind: List``
    documents are unpacked.
    """
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and len(source) < 4096 and _looks_like_path(source)
    ):
        path = _resolve(Path(source))
        if not path.is_file():
            raise ManifestError("", str(source), "no such manifest file")
        if path.stat().st_size > MAX_BYTES:
            raise ManifestError("", str(path), _TOO_LARGE)
        docs = _parse_yaml(path.read_text(encoding="utf-8"))
    elif isinstance(source, str):
        if len(source.encode("utf-8", "replace")) > MAX_BYTES:
            raise ManifestError("", f"<{len(source)} characters>", _TOO_LARGE)
        docs = _parse_yaml(source)
    elif isinstance(source, Mapping):
        docs = [source]
    elif isinstance(source, Iterable) and not isinstance(source, (bytes, bytearray)):
        docs = list(source)
    else:
        raise ManifestError("", source, f"cannot apply a value of type {_type_name(source)}: pass a file "
                            "path, YAML text, a dict or a list of dicts")

    out: list[dict[str, Any]] = []
    budget = [MAX_NODES]
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        where = f"document {i + 1}"
        if not isinstance(doc, Mapping):
            raise ManifestError("", doc, f"{where} is a {_type_name(doc)}, not a mapping: a manifest is a "
                                "YAML mapping of fields (apiVersion:, kind:, metadata:, ...)")
        _check_shape(doc, "", 0, budget, where)
        doc = clone(dict(doc))
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for j, item in enumerate(doc["items"]):
                if not isinstance(item, dict):
                    raise ManifestError(f"items[{j}]", item, f"{where} is a List whose item {j} is a "
                                        f"{_type_name(item)}, not a mapping (each item is one object)")
                out.append(item)
        else:
            out.append(doc)
    if not out:
        raise ManifestError("", source if not isinstance(source, str) else source[:80], "no documents found")
    return out


#: The repository (or source tree) root: relative paths such as ``data/manifests/x.yaml`` that do
#: not exist from the working directory are looked up here, so the same call works from the repo
#: root and from a notebook in ``notebooks/`` or ``notebooks/solutions/``.
ROOT = Path(__file__).resolve().parents[1]


def _resolve(path: Path) -> Path:
    if path.is_file() or path.is_absolute():
        return path
    return ROOT / path if (ROOT / path).is_file() else path


_TOO_LARGE = (f"Request entity too large: limit is {MAX_BYTES} (the API server refuses request bodies over "
              "3 MiB; split the manifest, or keep big data out of it)")

#: YAML/JSON names for the Python types a decoder produces (a learner wrote YAML, not Python).
_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list",
               dict: "mapping", type(None): "null"}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml", ".json")) or os.path.sep in text and os.path.exists(text)


def _parse_yaml(text: str) -> list[Any]:
    import yaml  # PyYAML: cheap, but only needed here

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return list(yaml.load_all(text, Loader=loader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ManifestError("", _excerpt(text, mark), f"malformed YAML{where}: {problem}") from None
    except RecursionError:
        raise ManifestError("", text[:40], f"YAML nested deeper than {MAX_DEPTH} levels") from None


def _excerpt(text: str, mark: Any) -> str:
    if mark is None:
        return text[:60]
    lines = text.splitlines()
    return lines[mark.line] if 0 <= mark.line < len(lines) else text[:60]


def _check_shape(value: Any, path: str, depth: int, budget: list[int], where: str) -> None:
    """Refuse absurdly deep or large values before anything else walks them."""
    budget[0] -= 1
    if budget[0] < 0:
        # Name the top-level field that holds the flood: deeper positions only say where counting stopped.
        top = path.split(".", 1)[0].split("[", 1)[0]
        raise ManifestError(top, "...", f"{where} expands to more than {MAX_NODES} values (a YAML alias "
                            "bomb? anchors (&) repeated through aliases (*) multiply)")
    if depth > MAX_DEPTH:
        raise ManifestError(path, "...", f"{where} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ManifestError(path, k, f"field names must be strings, got the {_type_name(k)} {k!r} "
                                    f"(quote it in YAML: \"{k}\":)")
            _check_shape(v, f"{path}.{k}" if path else k, depth + 1, budget, where)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_shape(v, f"{path}[{i}]", depth + 1, budget, where)
    elif isinstance(value, float) and value != value:
        raise ManifestError(path, value, "Invalid value: NaN (not a number) cannot be stored in a manifest")


def check_document(doc: dict[str, Any]) -> None:
    """Run the schema and API-server validation on one decoded document (raises ManifestError)."""
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ManifestError("kind", kind, "Required value: every manifest names its kind, e.g. kind: Pod")
    if not isinstance(api_version, str) or not api_version:
        raise ManifestError("apiVersion", api_version, "Required value: e.g. apiVersion: v1")
    known = KINDS.get(kind)
    if known is None:
        raise ManifestError(
            "kind", kind, f'no kind "{kind}" is served by the simulated API server'
            f"{_did_you_mean(kind, KINDS)}; it serves " + ", ".join(sorted(KINDS)),
        )
    if known.api_version != api_version:
        raise ManifestError(
            "apiVersion", api_version,
            f'no matches for kind "{kind}" in version "{api_version}": use apiVersion: {known.api_version}',
        )
    _schema_check(doc)
    validation.validate(doc)


def _schema_check(doc: dict[str, Any]) -> None:
    # The verdict of a schema does not depend on metadata.name (a plain string there), so
    # documents that differ only by name share one validation: applying 1,000 pods stamped
    # from one template costs one schema pass.
    meta = doc.get("metadata")
    if isinstance(meta, dict) and "name" in meta:
        probe = {**doc, "metadata": {**meta, "name": "x"}}
    else:
        probe = doc
    try:
        # No default=str: a YAML date and the string of that date must not share a verdict.
        key = json.dumps(probe, sort_keys=True)
    except (TypeError, ValueError):
        key = None
    if key is not None and key in _VALID:
        return
    try:
        valid = _fast_validator(doc["apiVersion"], doc["kind"])(doc)
    except _Unsupported:
        valid = False  # a keyword the fast path does not know: let jsonschema decide
    if not valid:
        errors = list(_validator(doc["apiVersion"], doc["kind"]).iter_errors(doc))
        if errors:
            raise _schema_error(errors)
    if key is not None and len(_VALID) < 10_000:
        _VALID.add(key)


_VALID: set[str] = set()


@functools.cache
def _schema_dir() -> Path:
    """kubernetes-validate's strict schemas for :data:`KUBERNETES_VERSION` (its newest patch).

    Located from the package's data without importing it: ``kubernetes_validate`` imports
    ``jsonschema`` at the top, which only the error path needs.
    """
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("manifests are checked with kubernetes-validate: "
                                  "pip install kubernetes-validate")
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    prefix, suffix = f"v{KUBERNETES_VERSION}.", "-local-strict"
    patches = [d for d in root.iterdir() if d.name.startswith(prefix) and d.name.endswith(suffix)]
    if not patches:
        raise FileNotFoundError(f"this kubernetes-validate has no strict schemas for Kubernetes "
                                f"{KUBERNETES_VERSION}: upgrade it")
    return max(patches, key=lambda d: int(d.name[len(prefix):-len(suffix)]))


@functools.cache
def _schema(api_version: str, kind: str) -> dict[str, Any]:
    import re

    # kubernetes-validate's file names: "<kind>-<group>-<version>.json", group without its domain.
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return json.loads((_schema_dir() / f"{kind.lower()}-{group}.json").read_text(encoding="utf-8"))


@functools.cache
def _definitions() -> dict[str, Any]:
    return json.loads((_schema_dir() / "_definitions.json").read_text(encoding="utf-8"))


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    """The reference validator: ``jsonschema``'s ``Draft202012Validator`` on kubernetes-validate's
    strict schemas, built once per kind (``kubernetes_validate.validate`` re-reads the files on
    every call). It runs only for documents the fast check refused, to explain what is wrong.
    """
    _import_jsonschema()
    import jsonschema
    from referencing import Registry, Resource

    schema, defs = _schema(api_version, kind), _definitions()
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


class _Unsupported(Exception):
    """The schema uses a keyword the fast check does not implement."""


# JSON Schema's type tests (jsonschema's draft 2020-12 type checker): a bool is not a number, and
# an integral float counts as an integer.
_IS_TYPE: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}
#: Keywords that annotate and never reject (``format`` is not asserted without a format checker).
_ANNOTATIONS = frozenset({"description", "format", "$schema", "$id", "default", "title"})


@functools.cache
def _fast_validator(api_version: str, kind: str) -> Callable[[Any], bool]:
    """A yes/no schema check compiled to closures, ~10x faster than ``jsonschema``'s validator.

    It implements exactly the keywords the Kubernetes schemas use (``type``, ``properties``,
    ``additionalProperties``, ``required``, ``items``, ``enum``, ``oneOf``, ``$ref``) and raises
    :class:`_Unsupported` on any other, so a "yes" always agrees with ``jsonschema`` (a test
    compares the two on the whole error corpus) and a "no" hands over to ``jsonschema`` for the
    message. Definitions compile on first use, which also handles recursive schemas.
    """
    defs = _definitions()["$defs"]
    table: dict[str, Callable[[Any], bool]] = {}

    def ref(target: str) -> Callable[[Any], bool]:
        name = target.rsplit("/", 1)[-1]

        def check(v: Any) -> bool:
            fn = table.get(name)
            if fn is None:
                fn = table[name] = compile_(defs[name])
            return fn(v)
        return check

    def compile_(node: dict[str, Any]) -> Callable[[Any], bool]:
        checks: list[Callable[[Any], bool]] = []
        props = {k: compile_(sub) for k, sub in (node.get("properties") or {}).items()}
        for key, val in node.items():
            if key == "$ref":
                checks.append(ref(val))
            elif key == "type":
                tests = [_IS_TYPE[t] for t in (val if isinstance(val, list) else [val])]
                checks.append(lambda v, tests=tests: any(t(v) for t in tests))
            elif key == "properties":
                checks.append(lambda v, props=props: not isinstance(v, dict)
                              or all(props[k](x) for k, x in v.items() if k in props))
            elif key == "additionalProperties":
                if val is False:
                    checks.append(lambda v, props=props: not isinstance(v, dict)
                                  or all(k in props for k in v))
                elif val is not True:
                    extra = compile_(val)
                    checks.append(lambda v, props=props, extra=extra: not isinstance(v, dict)
                                  or all(extra(x) for k, x in v.items() if k not in props))
            elif key == "required":
                checks.append(lambda v, val=val: not isinstance(v, dict) or all(k in v for k in val))
            elif key == "items":
                item = compile_(val)
                checks.append(lambda v, item=item: not isinstance(v, list) or all(item(x) for x in v))
            elif key == "enum":
                checks.append(lambda v, val=val: any(_json_equal(v, e) for e in val))
            elif key == "oneOf":
                subs = [compile_(sub) for sub in val]
                checks.append(lambda v, subs=subs: sum(1 for sub in subs if sub(v)) == 1)
            elif key not in _ANNOTATIONS and not key.startswith("x-kubernetes-"):
                raise _Unsupported(key)
        return lambda v: all(check(v) for check in checks)

    return compile_(_schema(api_version, kind))


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema's ``enum`` means it: ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _import_jsonschema() -> None:
    """Import ``jsonschema`` without the optional ``rfc3987_syntax`` (about 0.8 s of import time).

    ``jsonschema._format`` imports ``rfc3987_syntax`` when it is installed (Jupyter's
    ``jsonschema[format-nongpl]`` pulls it in), and that module compiles a Lark grammar at import
    only to check the ``iri`` string format. The lab never checks formats (the Kubernetes schemas
    are validated without a format checker, as ``kubernetes-validate`` does), so the first
    ``apply`` of a session hides that module while ``jsonschema`` loads. The one side effect: in
    this process, ``jsonschema.FormatChecker`` does not know the ``iri`` formats.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # `import` now raises ImportError
    try:
        import jsonschema  # noqa: F401
    finally:
        del sys.modules["rfc3987_syntax"]


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _schema_error(errors: list[Any]) -> ManifestError:
    import jsonschema

    best = jsonschema.exceptions.best_match(errors)
    # Prefer the most specific error inside anyOf/oneOf (int-or-string, quantities, ...).
    while best.context:
        best = jsonschema.exceptions.best_match(best.context)
    path = _path(best.absolute_path)
    value = best.instance
    if best.validator == "additionalProperties":
        allowed = set(best.schema.get("properties", {}))
        extra = sorted(k for k in value if k not in allowed) if isinstance(value, dict) else []
        name = extra[0] if extra else "?"
        full = f"{path}.{name}" if path else name
        hint = _did_you_mean(name, allowed)
        return ManifestError(full, value.get(name) if isinstance(value, dict) else None,
                             f'unknown field "{full}"{hint} (kubectl apply refuses unknown fields)')
    if best.validator == "required":
        missing = best.message.split("'")[1] if "'" in best.message else "?"
        full = f"{path}.{missing}" if path else missing
        return ManifestError(full, None, f'Required value: "{missing}" must be set here')
    if best.validator == "type":
        return ManifestError(path, value, _type_message(best.validator_value, value))
    if best.validator == "enum":
        opts = ", ".join(f'"{o}"' for o in best.validator_value)
        return ManifestError(path, value, f"Unsupported value: supported values: {opts}")
    return ManifestError(path, value, best.message)


_SCHEMA_TYPES = {"integer": "an integer", "number": "a number", "string": "a string",
                 "boolean": "true or false", "object": "a mapping", "array": "a list"}


def _type_message(want: Any, value: Any) -> str:
    """``Invalid value: expected an integer, got the string "3" (write it without quotes: 3)``."""
    wanted = [w for w in (want if isinstance(want, list) else [want]) if w != "null"]
    text = " or ".join(_SCHEMA_TYPES.get(w, w) for w in wanted)
    got = f'the string "{value}"' if isinstance(value, str) else \
        f"{_type_name(value)} {json.dumps(value, default=str)}"
    hint = ""
    if isinstance(value, str) and {"integer", "number"} & set(wanted):
        try:
            float(value)
            hint = f" (write it without quotes: {value})"
        except ValueError:
            pass
    elif "string" in wanted and isinstance(value, bool):
        hint = " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote the value, e.g. \"yes\")"
    elif "string" in wanted and isinstance(value, (int, float)):
        hint = f' (quote it to make it a string: "{value}")'
    elif "string" in wanted and hasattr(value, "isoformat"):
        hint = f' (YAML reads an unquoted date as a date: quote it, "{value.isoformat()}")'
    return f"Invalid value: expected {text}, got {got}{hint}"


def _did_you_mean(name: str, allowed: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""

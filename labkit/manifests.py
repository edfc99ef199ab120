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
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from labkit.api import validation
from labkit.api.kinds import KINDS
from labkit.api.store import clone
from labkit.errors import ManifestError
from labkit.version import KUBERNETES_VERSION

__all__ = ["load_documents", "check_document", "check_schema", "read_manifest", "MAX_BYTES", "MAX_DEPTH"]

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
        docs = _parse_yaml(_decode_utf8(path.read_bytes(), str(path)))
    elif isinstance(source, str):
        if len(source.encode("utf-8", "replace")) > MAX_BYTES:
            raise ManifestError("", f"<{len(source)} characters>", _TOO_LARGE)
        _check_unicode(source, "")
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
        doc = _decode_nulls(clone(dict(doc)))
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


def read_manifest(path: str | Path) -> str:
    """The text of a manifest file, found as ``Cluster.apply`` finds it (for showing YAML in a notebook).

    A relative path is tried from the working directory, then from the repository root, so
    ``read_manifest("data/manifests/my-nginx-pod.yaml")`` works from any notebook folder.
    """
    resolved = _resolve(Path(path))
    return _decode_utf8(resolved.read_bytes(), str(path))


def _resolve(path: Path) -> Path:
    if path.is_file() or path.is_absolute():
        return path
    return ROOT / path if (ROOT / path).is_file() else path


_TOO_LARGE = (f"Request entity too large: limit is {MAX_BYTES} (the API server refuses request bodies over "
              "3 MiB; split the manifest, or keep big data out of it)")

#: YAML/JSON names for the Python types a decoder produces (a learner wrote YAML, not Python).
_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list",
               dict: "mapping", type(None): "null"}


def _decode_utf8(data: bytes, value: str) -> str:
    """The text of a manifest file, which the lab reads as UTF-8 only.

    A file saved in another encoding (Latin-1, Windows-1252, UTF-16 from some editors) or a
    binary file is a :class:`ManifestError` naming the first byte that is not UTF-8 (and its
    offset, so a hex dump finds it), never a ``UnicodeDecodeError``.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ManifestError("", value, f"the file is not UTF-8 text{hint} (byte 0x{data[e.start]:02x} at "
                            f"offset {e.start}): save it as UTF-8") from None


#: UTF-16 surrogate code points: a Python string can hold them (``"\\ud800"``, or text decoded with
#: ``surrogateescape``), but they are not characters, and no UTF-8 (what the API server speaks) has them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_unicode(text: str, path: str) -> None:
    """Refuse text with a lone surrogate (it cannot be sent to an API server: it is not Unicode text)."""
    if text.isascii():
        return
    bad = _SURROGATE.search(text)
    if bad is None:
        return
    i = bad.start()
    line = text.count("\n", 0, i) + 1
    column = i - (text.rfind("\n", 0, i) + 1) + 1
    where = f" (line {line}, column {column})" if "\n" in text else ""
    raise ManifestError(path, text if len(text) <= 80 else text[max(0, i - 20):i + 20],
                        f"not valid Unicode text: a lone surrogate U+{ord(bad.group()):04X} at position {i}"
                        f"{where}, which no UTF-8 text can hold (a broken escape such as \"\\ud800\", or "
                        "bytes decoded with errors='surrogateescape'?)")


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


def _decode_nulls(value: Any) -> Any:
    """Read ``null`` the way the API server's JSON decoding does, in place.

    A field set to ``null`` is the same as an unset field (Go decodes it to a nil pointer, slice
    or map, and the object is served back without it), so such keys are dropped; a ``null`` list
    item decodes to the item type's zero value: ``{}`` for objects, ``""`` for strings.
    """
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _decode_nulls(v)
    elif isinstance(value, list):
        zero: Any = "" if any(isinstance(v, str) for v in value) else {}
        for i, v in enumerate(value):
            if v is None:
                value[i] = {} if isinstance(zero, dict) else ""
            else:
                _decode_nulls(v)
    return value


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
    if isinstance(value, str):
        _check_unicode(value, path)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ManifestError(path, k, f"field names must be strings, got the {_type_name(k)} {k!r} "
                                    f"(quote it in YAML: \"{k}\":)")
            _check_unicode(k, path)
            _check_shape(v, f"{path}.{k}" if path else k, depth + 1, budget, where)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_shape(v, f"{path}[{i}]", depth + 1, budget, where)
    elif isinstance(value, float) and value != value:
        raise ManifestError(path, value, "Invalid value: NaN (not a number) cannot be stored in a manifest")


def check_document(doc: dict[str, Any], *, schema: bool = True) -> None:
    """Run the schema and API-server validation on one decoded document (raises ManifestError).

    ``schema=False`` skips only the OpenAPI pass, for documents labkit generated from a template
    whose first instance passed it (the nodes of one node pool differ only in names and values).
    """
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
    if schema:
        _schema_check(doc)
    validation.validate(doc)


def check_schema(doc: dict[str, Any]) -> None:
    """Only the OpenAPI pass of :func:`check_document`, for kinds the simulator does not serve but a
    real cluster does (the real-cluster adapter's RBAC and quota objects)."""
    _schema_check(doc)


def _schema_check(doc: dict[str, Any]) -> None:
    # The verdict of a schema does not depend on the text of metadata.name (the schema says only
    # "a string"), so documents that differ only by that text share one validation: applying 1,000
    # pods stamped from one template costs one schema pass. Only a *string* name is replaced: a
    # name of another type (YAML's `name: yes` is the boolean true) fails the schema, and must not
    # share the verdict of a string name.
    meta = doc.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("name"), str):
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
    errors = list(_validator(doc["apiVersion"], doc["kind"]).iter_errors(doc))
    if errors:
        raise _schema_error(errors)
    if key is not None and len(_VALID) < 10_000:
        _VALID.add(key)


_VALID: set[str] = set()


@functools.cache
def _validator(api_version: str, kind: str) -> Any:
    """``jsonschema``'s ``Draft202012Validator`` on kubernetes-validate's strict schemas for
    :data:`KUBERNETES_VERSION`, built once per kind.

    It is what ``kubernetes_validate.validate(doc, version, strict=True)`` builds, but that
    function re-reads and re-compiles the schema files on every call (~13 ms a document); the
    compiled validator is reused here. Importing ``kubernetes_validate`` (and ``jsonschema``)
    costs about a second, paid at the first ``apply`` of a session, never by ``import labkit``.
    """
    import re

    import jsonschema
    from kubernetes_validate import utils as kv
    from referencing import Registry, Resource

    version = [v for v in kv.all_versions() if kv.major_minor(v) == KUBERNETES_VERSION][-1]
    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    # kubernetes-validate's file names: "<kind>-<group>-<version>.json", group without its domain.
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{group}.json", version)
    defs = kv.schema_contents(f"{schema_dir}/_definitions.json", version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


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

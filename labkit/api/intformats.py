"""Integer bounds from the OpenAPI schema: an ``int32`` field holds an int32, an ``int64`` an int64.

kube-apiserver decodes a request body into Go structs before any validation runs, and Go's
``encoding/json`` (``sigs.k8s.io/json``) refuses a number that overflows the field's type with a
``BadRequest``::

    Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number
    1000000000000 into Go struct field DeploymentSpec.spec.replicas of type int32

JSON Schema does not enforce ``format`` on integers, so the schema pass accepts such numbers. This
module is the one place that bounds them, for every kind: the field's type is read from the
``format`` (``int32``/``int64``) that kubernetes-validate's schema carries, so no field is listed by
hand. ``IntOrString`` fields (``maxSurge``, ``targetPort``, ``minAvailable``) hold an int32.

Cheap by construction: a document is walked once for integers outside the int32 range (which every
integer format accepts); only such a number costs a look into the schema.
"""

from __future__ import annotations

import functools
from typing import Any

from labkit.errors import ManifestError
from labkit.version import KUBERNETES_VERSION

__all__ = ["check_integer_formats", "INT32", "INT64"]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_BOUNDS = {"int32": INT32, "int64": INT64}
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


def check_integer_formats(doc: dict[str, Any]) -> None:
    """Raise :class:`ManifestError` for the first integer that its field's Go type cannot hold."""
    suspects: list[tuple[tuple[Any, ...], Any]] = []
    _collect(doc, (), suspects)
    for parts, value in suspects:
        found = _field_type(doc["apiVersion"], doc["kind"], parts)
        if found is None:
            continue
        fmt, struct, names = found
        lo, hi = _BOUNDS[fmt]
        if lo <= value <= hi:
            continue
        kind, version = doc["kind"], doc["apiVersion"].rsplit("/", 1)[-1]
        shown = _go_number(value)
        raise ManifestError(
            _path(parts), value,
            f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot unmarshal number '
            f"{shown} into Go struct field {struct}.{'.'.join(names)} of type {fmt} "
            f"(an {fmt} field holds {lo} to {hi})")


def _collect(value: Any, parts: tuple[Any, ...], out: list[tuple[tuple[Any, ...], Any]]) -> None:
    """Integers (or integral floats, which JSON Schema counts as integers) outside the int32 range."""
    if isinstance(value, dict):
        for k, v in value.items():
            _collect(v, (*parts, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _collect(v, (*parts, i), out)
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT32[0] <= value <= INT32[1]:
            out.append((parts, value))
    elif isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")) \
            and value.is_integer() and not INT32[0] <= value <= INT32[1]:
        out.append((parts, value))


def _go_number(value: Any) -> str:
    """The number as the JSON body carries it (kubectl sends YAML's 1e30 as ``1e+30``)."""
    if isinstance(value, float):  # Go's json.Marshal: plain digits below 1e21, exponent form above
        return str(int(value)) if abs(value) < 1e21 else repr(value)
    return str(value)


def _path(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _field_type(api_version: str, kind: str, parts: tuple[Any, ...]
                ) -> tuple[str, str, list[str]] | None:
    """``(format, Go struct, JSON field names)`` of the field at ``parts``, or None if unbounded."""
    schemas = _schemas(api_version, kind)
    if schemas is None:
        return None
    node, defs = schemas
    struct, names = kind, []
    for part in parts:
        node, ref = _deref(node, defs)
        if ref is not None:
            struct = ref.rsplit(".", 1)[-1]  # Go names the innermost struct and the whole JSON path
        if isinstance(part, int):
            node = node.get("items")
        else:
            props = node.get("properties") or {}
            node = props.get(part) if part in props else node.get("additionalProperties")
            names.append(part)
        if not isinstance(node, dict):
            return None
    node, ref = _deref(node, defs)
    if ref == _INT_OR_STRING:
        return "int32", struct, names
    fmt = node.get("format")
    return (fmt, struct, names) if fmt in _BOUNDS else None


def _deref(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref_name = None
    for _ in range(8):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            break
        ref_name = ref.rsplit("/", 1)[-1]
        node = defs.get(ref_name) or {}
    return node, ref_name


@functools.cache
def _schemas(api_version: str, kind: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """kubernetes-validate's strict schema of the kind and the shared definitions (loaded once)."""
    import re

    from kubernetes_validate import utils as kv

    version = [v for v in kv.all_versions() if kv.major_minor(v) == KUBERNETES_VERSION][-1]
    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:  # a kind without a schema file: nothing to bound
        return None
    defs = kv.schema_contents(f"{schema_dir}/_definitions.json", version)
    return schema, defs.get("$defs") or defs.get("definitions") or {}

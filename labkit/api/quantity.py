"""Kubernetes resource quantities: ``500m``, ``1.5Gi``, ``1e3``.

A learner writes quantities as strings in YAML; the API server checks them against a
strict grammar, stores them exactly (never as floats) and the scheduler compares integers:
CPU in millicores, everything else in whole units (bytes, pods, GPUs). This module does the
same three steps:

1. :func:`check_quantity` accepts exactly what the API server accepts and explains a refusal
   in words a learner can act on ("write ``1Ki`` or ``1k``, not ``1K``");
2. the value is computed by the official Python client's ``parse_quantity`` (so labkit and a
   notebook using ``kubernetes.utils`` never disagree), then rounded the way the API server
   rounds (up to ``1n``);
3. :func:`to_millis` / :func:`to_units` turn it into the integers the scheduler uses, rounding
   **up** like ``Quantity.MilliValue()`` / ``Value()``; :func:`format_cpu` and
   :func:`format_bytes` print them back in canonical form.

Why the client is loaded from its file
--------------------------------------
``import kubernetes`` executes the package ``__init__``, which imports the whole generated
client (about 1.1 s); ``import labkit`` must stay under 0.3 s. ``kubernetes/utils/quantity.py``
itself only imports :mod:`decimal`, so :func:`_client_quantity` locates the installed package
with :func:`importlib.util.find_spec` (which does not execute it) and executes just that one
file, once, on first use.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from decimal import Decimal
from functools import cache
from types import ModuleType
from typing import Any

from labkit.api.selectors import is_qualified_name
from labkit.errors import ManifestError

__all__ = [
    "parse_quantity",
    "check_quantity",
    "to_millis",
    "to_units",
    "resource_amount",
    "format_cpu",
    "format_bytes",
    "check_resource_name",
    "is_integer_resource",
]


# -- the official client's parser, loaded without importing the `kubernetes` package ----------
@cache
def _client_quantity() -> ModuleType:
    """Execute ``kubernetes/utils/quantity.py`` on its own and return it as a module."""
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("labkit needs the official Kubernetes client: pip install kubernetes")
    path = os.path.join(spec.submodule_search_locations[0], "utils", "quantity.py")
    file_spec = importlib.util.spec_from_file_location("labkit._k8s_quantity", path)
    if file_spec is None or file_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


def parse_quantity(value: Any) -> Decimal:
    """The official client's ``kubernetes.utils.parse_quantity``.

    It is more lenient than the API server (it accepts ``1K``, ``" 1"`` and ``1_000``); use
    :func:`check_quantity` for anything a learner wrote.
    """
    return _client_quantity().parse_quantity(value)


# -- the API server's grammar -----------------------------------------------------------------
# apimachinery: staging/src/k8s.io/apimachinery/pkg/api/resource/suffix.go (newSuffixer)
_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DIGITS = "0123456789"
_SUFFIX_LETTERS = "eEinumkKMGTP"
_INT64_MAX = 2**63 - 1
_EXPONENT = re.compile(r"[+-]?[0-9]+")

_HINT = (
    "use a number with an optional suffix such as 500m, 2, 1.5; memory suffixes are Ki, Mi, Gi "
    "(powers of 1024) or k, M, G (powers of 1000)"
)


def _split(text: str) -> tuple[bool, str, str, str] | None:
    """Split a quantity into (negative, integer digits, fraction digits, suffix).

    A port of ``parseQuantityString`` (apimachinery: staging/src/k8s.io/apimachinery/pkg/api/
    resource/quantity.go), quirks included: ``.5``, ``5.``, ``1.G`` and even ``.`` or ``+``
    (zero) are accepted. Returns ``None`` where upstream returns ``ErrFormatWrong``.
    """
    pos, end = 0, len(text)
    negative = False
    if pos < end and text[0] in "+-":
        negative = text[0] == "-"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return negative, "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or "0"
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        return None
    return negative, num, denom, text[suffix_start:]


def _suffix_is_known(suffix: str) -> bool:
    """``quantitySuffixer.interpret`` (suffix.go): SI tables, then ``e<int>``/``E<int>``."""
    if suffix in _DECIMAL_SI or suffix in _BINARY_SI:
        return True
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]):
        return abs(int(suffix[1:])) <= _INT64_MAX  # strconv.ParseInt(..., 10, 64)
    return False


def _why_not(text: str, suffix: str | None) -> str:
    """A learner-sized explanation of why ``text`` is not a quantity."""
    if any(c.isspace() for c in text):
        parts = text.split()
        number, rest = parts[0], "".join(parts[1:])
        if _suffix_is_known(rest) and number.lstrip("+-").replace(".", "", 1).isdigit():
            return f"remove the space: write {number}{rest}, not {text}"
        if number.lstrip("+-").replace(".", "", 1).isdigit():
            return (f"a quantity is a number and an optional suffix, with no space and no unit word: "
                    f"write {number} (cores for cpu), or {number}Gi for memory, not {text}")
        return "remove the spaces: a quantity is a number and an optional suffix, such as 500m or 1Gi"
    if "," in text:
        return "use a dot for decimals (1.5), not a comma"
    tail = suffix if suffix is not None else text.lstrip("+-.0123456789")
    letter = tail[:1]
    if letter and letter.upper() in "KMGTPE":
        binary = f"{letter.upper()}i"
        decimal = "k" if letter.upper() == "K" else letter.upper()
        if tail in (letter + "b", letter + "B", letter + "iB", letter + "ib"):
            return f"drop the B: quantities have no unit letter; write 1{binary} (1024-based) or 1{decimal}"
        if tail == "K":
            return "the kilo suffix is lower-case k (1000) or Ki (1024), never upper-case K"
        if tail == letter.lower() + "i":
            return f"binary suffixes start with a capital letter: {binary}, not {tail}"
    return ""


def _invalid(value: Any, path: str, why: str = "") -> ManifestError:
    detail = f"{why}; {_HINT}" if why else _HINT
    return ManifestError(path, value, f"Invalid value: not a valid quantity: {detail}")


def _text_of(value: Any, path: str) -> str:
    """The string the API server would parse, from what YAML produced."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        raise _invalid(value, path, "true/false is not a quantity (YAML reads yes/no/on/off as booleans)")
    if value is None:
        # The API server decodes null as zero (Quantity.UnmarshalJSON); labkit refuses it because
        # a learner who left the value empty has almost certainly forgotten to write it.
        raise _invalid(value, path, "the value is missing (YAML reads an empty value as null)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(value, path, "it must be a finite number")
        # repr gives the shortest form that round-trips (0.1 -> "0.1"), as kubectl's JSON does;
        # Decimal(0.1) would carry the binary float error into the millicores.
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _invalid(value, path, "it must be a finite number")
        return str(value)
    if isinstance(value, str):
        # Quantity.UnmarshalJSON trims surrounding whitespace before ParseQuantity.
        return value.strip()
    raise _invalid(value, path, f"it must be a number or a string, not a {type(value).__name__}")


def check_quantity(value: Any, path: str, *, allow_negative: bool = False) -> Decimal:
    """Validate a manifest value as the API server would and return it parsed.

    Parameters
    ----------
    value:
        What YAML produced: a string (``"500m"``), an int or a float. Booleans, null, NaN and
        infinities are refused, as are strings outside the API grammar (``1K``, ``1 Gi``,
        ``1Gb``, ``""``).
    path:
        Field path used in the error, e.g. ``spec.containers[0].resources.requests.cpu``.
    allow_negative:
        Requests, limits, capacity and allocatable must be ``>= 0``
        (``ValidateNonnegativeQuantity``); pass ``True`` only where the API allows a sign.

    Returns
    -------
    Decimal
        The exact value, with precision finer than ``1n`` rounded up (away from zero) and
        binary-suffixed values capped at 2^63-1, as ``ParseQuantity`` stores them.

    Raises
    ------
    ManifestError
        With ``Invalid value: ...`` and a hint that names the valid suffixes.
    """
    if type(value) is str:
        hit = _PARSED.get((value, allow_negative))
        if hit is not None:
            return hit
    text = _text_of(value, path)
    if not text:
        raise _invalid(value, path, "it is empty")
    parts = _split(text)
    if parts is None:
        raise _invalid(value, path, _why_not(text, None))
    negative, num, denom, suffix = parts
    if not _suffix_is_known(suffix):
        raise _invalid(value, path, _why_not(text, suffix))
    # Rebuild the number in a form Decimal always reads (".5" -> "0.5", "1." -> "1", "+" -> "0").
    canonical = f"{'-' if negative else ''}{num}{'.' + denom if denom else ''}{suffix}"
    try:
        q = parse_quantity(canonical)
    except (ValueError, ArithmeticError) as exc:  # an exponent too large for Decimal
        raise _invalid(value, path, str(exc)) from exc
    q = _round_up_to_nano(q)
    if suffix in _BINARY_SI and q.copy_abs() > _INT64_MAX:
        q = Decimal(_INT64_MAX).copy_sign(q)  # ParseQuantity: "The max is just a simple cap."
    if q.copy_abs() > _INT64_MAX:
        # Upstream keeps such values as inf.Dec, but every consumer (MilliValue, Value) overflows
        # int64; refuse them rather than let arithmetic on them run away.
        raise ManifestError(path, value, "Invalid value: too large: must be below 2^63 (9223372036854775807)")
    if q < 0 and not allow_negative:
        # pkg/apis/core/validation/validation.go: ValidateNonnegativeQuantity
        raise ManifestError(path, value, "Invalid value: must be greater than or equal to 0")
    q = q if q else Decimal(0)  # no "-0"
    if type(value) is str and len(_PARSED) < _PARSED_MAX:
        _PARSED[(value, allow_negative)] = q  # Decimals are immutable: safe to hand out again
    return q


#: Valid quantity strings already parsed: every pod a ReplicaSet creates repeats its template's.
_PARSED: dict[tuple[str, bool], Decimal] = {}
_PARSED_MAX = 4096


def _round_up_to_nano(q: Decimal) -> Decimal:
    """``amount.Round(amount, Nano, inf.RoundUp)`` in ``ParseQuantity`` (quantity.go): away from zero."""
    sign, digits, exponent = q.as_tuple()
    if not isinstance(exponent, int) or exponent >= -9:
        return q
    coefficient = int("".join(map(str, digits)) or "0")
    nanos = -(-coefficient // 10 ** (-9 - exponent))
    return Decimal((sign, tuple(int(d) for d in str(nanos)), -9))


# -- integers the scheduler uses ----------------------------------------------------------------
def _ceil_scaled(q: Decimal, shift: int) -> int:
    """``ceil(q * 10**shift)`` in exact integer arithmetic (no Decimal context rounding)."""
    sign, digits, exponent = q.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"{q} is not a finite quantity")
    coefficient = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    e = exponent + shift
    if e >= 0:
        return coefficient * 10**e
    return -(-coefficient // 10**-e)


def to_millis(q: Decimal) -> int:
    """Ceiling to whole milli-units: ``0.5m`` of CPU is scheduled as ``1m``.

    Mirrors ``Quantity.MilliValue()`` ("ceil(q * 1000)", quantity.go); CPU is accounted in
    integer millicores everywhere in kube-scheduler.
    """
    return _ceil_scaled(q, 3)


def to_units(q: Decimal) -> int:
    """Ceiling to whole units: ``0.4`` bytes is ``1`` byte (``Quantity.Value()`` rounds up)."""
    return _ceil_scaled(q, 0)


# ResourceQuota spells CPU as requests.cpu / limits.cpu (pkg/apis/core/types.go).
_MILLI_RESOURCES = frozenset({"cpu", "requests.cpu", "limits.cpu"})


def resource_amount(name: str, value: Any) -> int:
    """The integer kube-scheduler uses for ``value`` of resource ``name``.

    ``cpu`` becomes millicores (``MilliValue``); memory, ephemeral-storage, hugepages-*,
    pods and extended resources (``nvidia.com/gpu``) become whole units (``Value``). The value
    is checked with :func:`check_quantity` (path = the resource name), signs allowed.
    """
    q = check_quantity(value, name, allow_negative=True)
    return to_millis(q) if name in _MILLI_RESOURCES else to_units(q)


# -- canonical serialization (Quantity.String / CanonicalizeBytes) ------------------------------
_DECIMAL_SUFFIX_BY_EXPONENT = {e: s for s, e in _DECIMAL_SI.items()}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def _format_decimal(mantissa: int, exponent: int) -> str:
    """DecimalSI canonical form of ``mantissa * 10**exponent`` (``AsCanonicalBytes``, amount.go).

    Strip factors of 10, then bring the exponent down to a multiple of 3: the largest SI suffix
    that leaves no fraction (``1500m``, ``2``, ``1k``).
    """
    if mantissa == 0:
        return "0"
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3 or exponent > 18:
        mantissa *= 10
        exponent -= 1
    return f"{mantissa}{_DECIMAL_SUFFIX_BY_EXPONENT[exponent]}"


def format_cpu(millis: int) -> str:
    """Millicores in canonical form: ``250`` -> ``"250m"``, ``2000`` -> ``"2"``, ``1500`` -> ``"1500m"``."""
    return _format_decimal(millis, -3)


def format_bytes(n: int) -> str:
    """Bytes in canonical BinarySI form: ``"1536Mi"``, ``"8Gi"``, ``"512"``, ``"0"``.

    ``CanonicalizeBytes`` (quantity.go) prints a BinarySI value between -1024 and 1024 as
    DecimalSI, so 1000 bytes prints as ``"1k"``; larger values take the largest binary suffix
    that divides them exactly (``1025`` stays ``"1025"``).
    """
    if -1024 < n < 1024:
        return _format_decimal(n, 0)
    power = 0
    while power < len(_BINARY_SUFFIXES) - 1 and n % 1024 == 0:
        n //= 1024
        power += 1
    return f"{n}{_BINARY_SUFFIXES[power]}"


# -- resource names -----------------------------------------------------------------------------
# pkg/apis/core/helper/helpers.go: standardContainerResources, standardResources, integerResources
_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
_INTEGER_RESOURCES = frozenset(
    {
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_STANDARD_RESOURCES = (
    _CONTAINER_RESOURCES
    | _INTEGER_RESOURCES
    | {f"{kind}.{name}" for kind in ("requests", "limits") for name in _CONTAINER_RESOURCES}
    | {"storage", "requests.storage"}
)
_HUGEPAGES_PREFIX = "hugepages-"


def _is_native(name: str) -> bool:
    """``IsNativeResource``: unprefixed, or in the ``kubernetes.io/`` namespace."""
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    """``IsExtendedResourceName``: vendor-prefixed, not ``requests.*``, valid as a quota name."""
    if _is_native(name) or name.startswith("requests."):
        return False
    return is_qualified_name(f"requests.{name}") is None


def is_integer_resource(name: str) -> bool:
    """``IsIntegerResourceName``: object counts and extended resources (``nvidia.com/gpu``).

    Their quantities must be whole numbers (``ValidateResourceQuantityValue`` rejects a value
    whose ``MilliValue() % 1000 != 0`` with "must be an integer").
    """
    return name in _INTEGER_RESOURCES or _is_extended(name)


def check_resource_name(name: Any, path: str) -> None:
    """Validate a key of ``resources.requests`` / ``resources.limits`` of a container.

    Mirrors ``validateContainerResourceName`` (pkg/apis/core/validation/validation.go): a
    qualified name that is either ``cpu``, ``memory``, ``ephemeral-storage``,
    ``hugepages-<size>`` or a domain-prefixed extended resource such as ``nvidia.com/gpu``.
    ``storage`` is refused here: it belongs to a PersistentVolumeClaim.

    Rules about the *values* that depend on the name are left to the caller: extended resources
    must be integers (:func:`is_integer_resource`), and extended resources and hugepages cannot
    be overcommitted, so they need a limit and a request equal to it.
    """
    if not isinstance(name, str):
        raise ManifestError(path, name, "Invalid value: a resource name must be a string")
    err = is_qualified_name(name)
    if err:
        raise ManifestError(path, name, f"Invalid value: {err}")
    valid = (
        "containers may request cpu, memory, ephemeral-storage, hugepages-<size>, or an extended "
        "resource with a domain prefix such as nvidia.com/gpu"
    )
    if "/" not in name:
        if name in _CONTAINER_RESOURCES or name.startswith(_HUGEPAGES_PREFIX):
            return
        lower = name.lower()
        hint = f' (did you mean "{lower}"?)' if lower in _CONTAINER_RESOURCES else ""
        if name in _STANDARD_RESOURCES or name.startswith("requests." + _HUGEPAGES_PREFIX):
            raise ManifestError(
                path, name, f"Invalid value: must be a standard resource for containers: {valid}"
            )
        raise ManifestError(
            path, name, f"Invalid value: must be a standard resource type or fully qualified{hint}: {valid}"
        )
    if not _is_native(name) and not _is_extended(name):
        raise ManifestError(
            path, name, f"Invalid value: doesn't follow extended resource name standard: {valid}"
        )

"""Label selectors, as ``kubectl get -l`` and ``metav1.LabelSelector`` express them.

Services, Deployments, topology spread and pod affinity all pick pods through a label
selector, so getting the semantics exactly right matters for every chapter: ``!=`` and
``notin`` also match objects that lack the key, ``{}`` matches everything, and a missing
(``null``) selector matches nothing. Two front ends build one :class:`Selector`:

- :func:`parse_selector` reads the string grammar (``environment in (production, qa),tier``),
  a port of the lexer and recursive-descent parser in apimachinery
  ``staging/src/k8s.io/apimachinery/pkg/labels/selector.go``;
- :func:`selector_from_dict` reads a ``matchLabels``/``matchExpressions`` mapping, following
  ``LabelSelectorAsSelector`` (``staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go``)
  and the API validation of it (``.../apis/meta/v1/validation/validation.go``).

``str(selector)`` prints the kubectl form with requirements sorted by key, like upstream
``String()``, so ``parse_selector(str(s)) == s``. :func:`is_qualified_name` and
:func:`is_valid_label_value` are the label key/value rules, reused for ``metadata.labels``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labkit.errors import ManifestError

__all__ = [
    "Requirement",
    "Selector",
    "parse_selector",
    "selector_from_dict",
    "is_qualified_name",
    "is_valid_label_value",
    "regex_error",
]

# -- label keys and values ----------------------------------------------------------------------
# apimachinery: staging/src/k8s.io/apimachinery/pkg/api/validate/content/kube.go, dns.go, errors.go
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = rf"{_DNS1123_LABEL_FMT}(\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_KEY = re.compile(_LABEL_KEY_FMT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """``RegexError`` (``apimachinery/pkg/util/validation/validation.go``), to the character: each
    example is followed by ``', '`` and joined with ``' or '``, so two examples read
    ``(e.g. 'a',  or 'b', regex used for validation is '...')``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len_error(n: int) -> str:
    return f"must be no more than {n} bytes"


def is_qualified_name(key: Any) -> str | None:
    """Why ``key`` is not a valid label key (``IsQualifiedName``), or ``None`` if it is.

    A key is ``[prefix/]name``: the optional prefix a lowercase DNS subdomain (at most 253
    bytes), the name at most 63 bytes of ``[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?``.
    Messages are upstream's, joined with ``"; "`` as ``validateLabelKey`` does.
    """
    if not isinstance(key, str):
        return "must be a string"
    parts = key.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        return (
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        )
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if len(prefix.encode()) > 253:
                errs.append("prefix part " + _max_len_error(253))
            if not _DNS1123_SUBDOMAIN.fullmatch(prefix):
                errs.append(
                    "prefix part "
                    + regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com")
                )
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _LABEL_KEY.fullmatch(name):
        errs.append(
            "name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return "; ".join(errs) or None


def is_valid_label_value(value: Any) -> str | None:
    """Why ``value`` is not a valid label value (``IsValidLabelValue``), or ``None`` if it is.

    Empty is allowed; otherwise at most 63 bytes of the label-name character set.
    """
    if not isinstance(value, str):
        return "must be a string"
    errs = []
    if len(value.encode()) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return "; ".join(errs) or None


# -- requirements and selectors -------------------------------------------------------------------
_SET_OPERATORS = ("In", "NotIn")
_EXACT_OPERATORS = ("Equals", "NotEquals", "Gt", "Lt")
_UNARY_OPERATORS = ("Exists", "DoesNotExist")
_INT64 = re.compile(r"[+-]?[0-9]+")  # what strconv.ParseInt(v, 10, 64) accepts (range checked apart)


def _as_int64(text: str) -> int | None:
    if not _INT64.fullmatch(text):
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One ``key <operator> values`` condition (``labels.Requirement``).

    Attributes
    ----------
    key:
        A label key, e.g. ``app.kubernetes.io/name``.
    operator:
        ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, ``Equals``, ``NotEquals``, ``Gt`` or
        ``Lt``. ``=`` and ``==`` both become ``Equals`` (upstream keeps ``==`` apart only to
        print it back).
    values:
        Stored sorted and de-duplicated: a set, as upstream treats it.

    Construction validates like ``NewRequirement`` and raises :class:`ValueError`.
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.values, str):
            raise TypeError("values must be a sequence of strings, not one string")
        values = tuple(sorted(set(self.values)))
        object.__setattr__(self, "values", values)
        err = is_qualified_name(self.key)
        if err:
            raise ValueError(f"invalid label key {self.key!r}: {err}")
        op = self.operator
        if op in _SET_OPERATORS and not values:
            raise ValueError("for 'in', 'notin' operators, values set can't be empty")
        if op in _EXACT_OPERATORS and len(values) != 1:
            raise ValueError(f"operator {op} requires exactly one value")
        if op in _UNARY_OPERATORS and values:
            raise ValueError("values set must be empty for exists and does not exist")
        if op not in _SET_OPERATORS + _EXACT_OPERATORS + _UNARY_OPERATORS:
            supported = ", ".join(
                f'"{o}"' for o in sorted(_SET_OPERATORS + _EXACT_OPERATORS + _UNARY_OPERATORS)
            )
            raise ValueError(f"unsupported operator {op!r}: supported values: {supported}")
        if op in ("Gt", "Lt") and _as_int64(values[0]) is None:
            raise ValueError(f"for 'Gt', 'Lt' operators, the value must be an integer (got {values[0]!r})")
        for v in values:
            err = is_valid_label_value(v)
            if err:
                raise ValueError(f"invalid value {v!r} for label {self.key!r}: {err}")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether an object with these labels satisfies the requirement (``Requirement.Matches``).

        ``NotIn`` and ``NotEquals`` match an object that lacks the key; ``Gt``/``Lt`` need the
        key with an integer value.
        """
        op = self.operator
        present = self.key in labels
        if op in ("In", "Equals"):
            return present and labels[self.key] in self.values
        if op in ("NotIn", "NotEquals"):
            return not present or labels[self.key] not in self.values
        if op == "Exists":
            return present
        if op == "DoesNotExist":
            return not present
        have = _as_int64(labels[self.key]) if present else None
        if have is None:
            return False
        want = int(self.values[0])
        return have > want if op == "Gt" else have < want

    def __str__(self) -> str:
        """The kubectl form (``Requirement.String``): ``a=b``, ``a!=b``, ``a in (x,y)``, ``!a``."""
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        if self.operator in _SET_OPERATORS:
            word = "in" if self.operator == "In" else "notin"
            return f"{self.key} {word} ({','.join(self.values)})"
        symbol = {"Equals": "=", "NotEquals": "!=", "Gt": ">", "Lt": "<"}[self.operator]
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """The AND of its requirements (``labels.internalSelector``).

    Requirements are kept sorted by key, as upstream ``Add`` and ``Parse`` keep them, so two
    selectors written in a different order compare equal and print the same.
    """

    requirements: tuple[Requirement, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", tuple(sorted(self.requirements, key=lambda r: r.key)))

    @property
    def empty(self) -> bool:
        """True when there is no requirement: the selector matches every object."""
        return not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement matches ``labels``."""
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        """The kubectl ``-l`` form, e.g. ``app=web,tier notin (cache)``; ``""`` when empty."""
        return ",".join(str(r) for r in self.requirements)


# -- the string grammar (kubectl -l) --------------------------------------------------------------
# apimachinery: staging/src/k8s.io/apimachinery/pkg/labels/selector.go (Lexer, Parser)
_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),><"
_SYMBOLS = frozenset({")", ",", "!", "==", "=", ">", "<", "!=", "("})
_IDENT, _END = "identifier", "end of string"
_KEYWORDS = {"in": "in", "notin": "notin"}
_BINARY_OPERATORS = {
    "in": "In",
    "notin": "NotIn",
    "=": "Equals",
    "==": "Equals",
    "!=": "NotEquals",
    ">": "Gt",
    "<": "Lt",
}


def _lex(text: str) -> list[tuple[str, str, int]]:
    """Tokens as ``(kind, literal, position)``; kind is the symbol itself, a keyword, or identifier."""
    tokens = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            tokens.append((_END, "", pos))
            return tokens
        start = pos
        if text[pos] in _SPECIAL:
            # scanSpecialSymbol: extend while the buffer is still an operator ("!" -> "!=").
            pos += 1
            while pos < end and text[pos] in _SPECIAL and text[start : pos + 1] in _SYMBOLS:
                pos += 1
            literal = text[start:pos]
            tokens.append((literal, literal, start))
            continue
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        literal = text[start:pos]
        tokens.append((_KEYWORDS.get(literal, _IDENT), literal, start))


class _SelectorSyntaxError(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


class _Parser:
    """Recursive descent over the tokens, one method per upstream parser function.

    "Values" context (upstream ``ParserContext``) reads the keywords ``in``/``notin`` as
    plain identifiers, so ``in in (in)`` is a valid selector, as upstream.
    """

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.i = 0

    def _peek(self, values: bool = True) -> tuple[str, str, int]:
        kind, literal, pos = self.tokens[self.i]
        return (_IDENT if values and kind in _KEYWORDS else kind), literal or _END, pos

    def _take(self, values: bool = True) -> tuple[str, str, int]:
        token = self._peek(values)
        self.i += 1
        return token

    def parse(self) -> list[Requirement]:
        requirements = []
        while True:
            kind, literal, pos = self._peek()
            if kind == _END:
                return requirements
            if kind not in (_IDENT, "!"):
                raise _SelectorSyntaxError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'", pos
                )
            requirements.append(self._requirement())
            kind, literal, pos = self._take()
            if kind == _END:
                return requirements
            if kind != ",":
                raise _SelectorSyntaxError(f"found '{literal}', expected: ',' or 'end of string'", pos)
            kind, literal, pos = self._peek()
            if kind not in (_IDENT, "!"):
                raise _SelectorSyntaxError(f"found '{literal}', expected: identifier after ','", pos)

    def _requirement(self) -> Requirement:
        start = self._peek()[2]
        try:
            key, operator = self._key_and_infer_operator()
            values: set[str] = set()
            if operator is None:
                operator = self._operator()
                values = self._values() if operator in _SET_OPERATORS else self._exact_value()
            return Requirement(key, operator, tuple(values))
        except _SelectorSyntaxError as exc:
            raise _SelectorSyntaxError(f"unable to parse requirement: {exc}", exc.position) from None
        except ValueError as exc:  # NewRequirement's checks on the values
            raise _SelectorSyntaxError(f"unable to parse requirement: {exc}", start) from None

    def _key_and_infer_operator(self) -> tuple[str, str | None]:
        operator = None
        kind, literal, pos = self._take()
        if kind == "!":
            operator = "DoesNotExist"
            kind, literal, pos = self._take()
        if kind != _IDENT:
            raise _SelectorSyntaxError(f"found '{literal}', expected: identifier", pos)
        err = is_qualified_name(literal)
        if err:
            raise _SelectorSyntaxError(f"invalid label key {literal!r}: {err}", pos)
        if operator is None and self._peek()[0] in (_END, ","):
            operator = "Exists"
        return literal, operator

    def _operator(self) -> str:
        kind, literal, pos = self._take(values=False)
        if kind not in _BINARY_OPERATORS:
            raise _SelectorSyntaxError(f"found '{literal}', expected: in, notin, =, ==, !=, gt, lt", pos)
        return _BINARY_OPERATORS[kind]

    def _values(self) -> set[str]:
        kind, literal, pos = self._take()
        if kind != "(":
            raise _SelectorSyntaxError(f"found '{literal}', expected: '('", pos)
        kind, literal, pos = self._peek()
        if kind == ")":  # "x in ()" means the empty value
            self._take()
            return {""}
        if kind not in (_IDENT, ","):
            raise _SelectorSyntaxError(f"found '{literal}', expected: ',', ')' or identifier", pos)
        values = self._identifiers()
        self._take()  # the ")" _identifiers stopped at
        return values

    def _identifiers(self) -> set[str]:
        """``parseIdentifiersList``: empty entries (``(a,,b)``, ``(,a)``) are the empty value."""
        values: set[str] = set()
        while True:
            kind, literal, pos = self._take()
            if kind == _IDENT:
                values.add(literal)
                kind, literal, pos = self._peek()
                if kind == ")":
                    return values
                if kind != ",":
                    raise _SelectorSyntaxError(f"found '{literal}', expected: ',' or ')'", pos)
            elif kind == ",":
                if not values:
                    values.add("")
                following = self._peek()[0]
                if following == ")":
                    values.add("")
                    return values
                if following == ",":
                    values.add("")
            else:
                raise _SelectorSyntaxError(f"found '{literal}', expected: ',', or identifier", pos)

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_END, ","):  # "a=" means the empty value
            return {""}
        kind, literal, pos = self._take()
        if kind != _IDENT:
            raise _SelectorSyntaxError(f"found '{literal}', expected: identifier", pos)
        return {literal}


def parse_selector(text: str) -> Selector:
    """Parse a kubectl ``-l`` selector (``labels.Parse``).

    Grammar: requirements separated by ``,`` (AND); each is ``key``, ``!key``, ``key=value``
    (or ``==``), ``key!=value``, ``key in (v1,v2)``, ``key notin (v1)``, ``key>n`` or ``key<n``;
    whitespace between tokens is ignored. ``""`` is the empty selector (matches everything).

    Raises
    ------
    ManifestError
        (a ``ValueError``) with path ``labelSelector``, the text as value and a reason saying
        where the text went wrong and what was expected there, with upstream's wording (the
        kube-apiserver answers a bad ``?labelSelector=`` with ``labels.Parse``'s error), e.g.
        ``found 'y', expected: ',' or ')'``, and a caret under the offending character.
    """
    if not isinstance(text, str):
        raise ManifestError("labelSelector", text, f"Invalid value: a label selector is a string such as "
                            f"\"app=web,tier in (frontend)\", not a {type(text).__name__}")
    try:
        requirements = _Parser(text).parse()
    except _SelectorSyntaxError as exc:
        caret = " " * exc.position + "^"
        raise ManifestError(
            "labelSelector", text,
            f"invalid label selector at character {exc.position + 1}: {exc}\n  {text}\n  {caret}\n",
        ) from None
    return Selector(tuple(requirements))


# -- metav1.LabelSelector ---------------------------------------------------------------------------
_SELECTOR_FIELDS = ("matchLabels", "matchExpressions")
_EXPRESSION_FIELDS = ("key", "operator", "values")
_SELECTOR_OPERATORS = ("DoesNotExist", "Exists", "In", "NotIn")


def _check_fields(obj: Any, allowed: tuple[str, ...], path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise ManifestError(path, obj, f"Invalid value: {what} must be a mapping with {', '.join(allowed)}")
    for name in obj:
        if name not in allowed:
            raise ManifestError(
                f"{path}.{name}", obj[name], f'unknown field "{name}": {what} has only {", ".join(allowed)}'
            )
    return obj


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ManifestError(
            path, value, 'Invalid value: must be a string; quote it in YAML, e.g. "1" or "true"'
        )
    return value


def selector_from_dict(sel: Mapping[str, Any] | None, path: str = "selector") -> Selector | None:
    """Build a :class:`Selector` from a ``metav1.LabelSelector`` mapping.

    ``None`` (the field is absent or null) returns ``None``: upstream treats it as matching
    nothing, and each caller decides what an absent selector means for its object. ``{}``
    returns the empty selector, which matches everything. ``matchLabels`` entries become
    ``Equals`` requirements; ``matchExpressions`` take ``In``, ``NotIn``, ``Exists`` or
    ``DoesNotExist`` (not ``Gt``/``Lt``, which only node selectors have).

    Raises
    ------
    ManifestError
        At the offending field path (``spec.selector.matchExpressions[0].operator``), with the
        API server's wording (``ValidateLabelSelector``).
    """
    if sel is None:
        return None
    sel = _check_fields(sel, _SELECTOR_FIELDS, path, "a label selector")
    requirements = []
    labels_path = f"{path}.matchLabels"
    labels = sel.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise ManifestError(
            labels_path, labels, "Invalid value: matchLabels must be a mapping of label keys to values"
        )
    for key, value in labels.items():
        err = is_qualified_name(key)
        if err:
            raise ManifestError(labels_path, key, f"Invalid value: {err}")
        err = is_valid_label_value(_string(value, f"{labels_path}.{key}"))
        if err:
            raise ManifestError(f"{labels_path}.{key}", value, f"Invalid value: {err}")
        requirements.append(Requirement(key, "Equals", (value,)))
    expressions = sel.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise ManifestError(
            f"{path}.matchExpressions", expressions, "Invalid value: matchExpressions must be a list"
        )
    for i, expr in enumerate(expressions):
        requirements.append(_requirement_from_dict(expr, f"{path}.matchExpressions[{i}]"))
    return Selector(tuple(requirements))


def _requirement_from_dict(expr: Any, path: str) -> Requirement:
    """``ValidateLabelSelectorRequirement`` then ``NewRequirement``, with field paths."""
    expr = _check_fields(expr, _EXPRESSION_FIELDS, path, "a selector requirement")
    operator = expr.get("operator")
    values = expr.get("values") or []
    if not isinstance(values, list):
        raise ManifestError(f"{path}.values", values, "Invalid value: values must be a list of strings")
    if operator in ("In", "NotIn"):
        if not values:
            raise ManifestError(
                f"{path}.values",
                values,
                "Required value: must be specified when `operator` is 'In' or 'NotIn'",
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            raise ManifestError(
                f"{path}.values",
                values,
                "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
    else:
        supported = ", ".join(f'"{o}"' for o in _SELECTOR_OPERATORS)
        raise ManifestError(
            f"{path}.operator",
            operator,
            f"Invalid value: not a valid selector operator: supported values: {supported}",
        )
    key = expr.get("key")
    err = is_qualified_name(key)
    if err:
        raise ManifestError(f"{path}.key", key, f"Invalid value: {err}")
    for j, value in enumerate(values):
        err = is_valid_label_value(_string(value, f"{path}.values[{j}]"))
        if err:
            raise ManifestError(f"{path}.values[{j}]", value, f"Invalid value: {err}")
    return Requirement(key, operator, tuple(values))

"""Label selectors: the kubectl ``-l`` grammar, match semantics, and ``metav1.LabelSelector`` mappings.

Grammar cases follow apimachinery ``staging/src/k8s.io/apimachinery/pkg/labels/selector_test.go``
(``TestSelectorParse``, ``TestToString``) and the examples in the Kubernetes "Labels and
Selectors" concept page.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit.api.selectors import (
    Requirement,
    Selector,
    is_qualified_name,
    is_valid_label_value,
    parse_selector,
    selector_from_dict,
)
from labkit.errors import ManifestError


@pytest.mark.parametrize(
    ("text", "requirements", "printed"),
    [
        (
            "environment in (production, qa)",
            [("environment", "In", ("production", "qa"))],
            "environment in (production,qa)",
        ),
        (
            "tier notin (frontend,backend)",
            [("tier", "NotIn", ("backend", "frontend"))],
            "tier notin (backend,frontend)",
        ),
        ("partition", [("partition", "Exists", ())], "partition"),
        ("!partition", [("partition", "DoesNotExist", ())], "!partition"),
        ("a=b,c!=d", [("a", "Equals", ("b",)), ("c", "NotEquals", ("d",))], "a=b,c!=d"),
        ("  a = b ,\tc ", [("a", "Equals", ("b",)), ("c", "Exists", ())], "a=b,c"),
        ("a==b", [("a", "Equals", ("b",))], "a=b"),
        ("z=1,a=2", [("a", "Equals", ("2",)), ("z", "Equals", ("1",))], "a=2,z=1"),  # sorted by key
        (
            "x in (foo,,baz),y,z notin ()",
            [("x", "In", ("", "baz", "foo")), ("y", "Exists", ()), ("z", "NotIn", ("",))],
            "x in (,baz,foo),y,z notin ()",
        ),
        ("a=", [("a", "Equals", ("",))], "a="),
        ("in in (in)", [("in", "In", ("in",))], "in in (in)"),  # keywords read as identifiers
        ("x>1,y<7", [("x", "Gt", ("1",)), ("y", "Lt", ("7",))], "x>1,y<7"),
        (
            "app.kubernetes.io/name=web",
            [("app.kubernetes.io/name", "Equals", ("web",))],
            "app.kubernetes.io/name=web",
        ),
        ("", [], ""),
    ],
)
def test_kubectl_selector_grammar(text, requirements, printed):
    selector = parse_selector(text)
    assert selector == Selector(tuple(Requirement(*r) for r in requirements))
    assert str(selector) == printed


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("a in (x y)", 9, "expected: ',' or ')'"),
        ("a b", 3, "expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b,", 5, "identifier after ','"),
        (",a", 1, "expected: !, identifier, or 'end of string'"),
        ("!a=b", 3, "expected: ',' or 'end of string'"),
        ("a in x", 6, "expected: '('"),
        ("a in (x", 8, "found 'end of string'"),
        ("a=b=c", 4, "expected: ',' or 'end of string'"),
        ("a/b/c=d", 1, "a valid label key"),
        ("-a=b", 1, "name part must consist of alphanumeric"),
        ("a=-b", 1, "a valid label must be an empty string"),
        ("a>b", 1, "the value must be an integer"),
        ("x=" + "v" * 64, 1, "must be no more than 63 bytes"),
    ],
)
def test_bad_selector_says_where_and_what_was_expected(text, where, expected):
    with pytest.raises(ValueError) as info:
        parse_selector(text)
    message = str(info.value)
    assert f"at character {where}:" in message
    assert expected in message
    assert text in message


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("tier!=frontend", {"app": "web"}, True),  # != matches objects without the key
        ("tier notin (frontend,backend)", {}, True),  # so does notin
        ("tier notin (frontend,backend)", {"tier": "backend"}, False),
        ("tier=frontend", {}, False),
        ("tier in (frontend)", {"tier": "frontend"}, True),
        ("partition", {"partition": ""}, True),
        ("!partition", {"partition": "x"}, False),
        ("a=", {"a": ""}, True),
        ("a=", {}, False),
        ("env in (prod,qa),tier!=db", {"env": "qa", "tier": "web"}, True),  # comma is AND
        ("env in (prod,qa),tier!=db", {"env": "qa", "tier": "db"}, False),
        ("gen>3", {"gen": "4"}, True),
        ("gen>3", {"gen": "three"}, False),  # Gt/Lt need an integer label value
        ("gen<3", {}, False),
        ("", {"any": "thing"}, True),  # the empty selector matches everything
    ],
)
def test_selector_match_semantics(text, labels, matches):
    assert parse_selector(text).matches(labels) is matches


def test_dict_selector_combines_match_labels_and_expressions():
    selector = selector_from_dict(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["frontend", "cache"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        },
        "spec.selector",
    )
    assert str(selector) == "app=web,!canary,tier in (cache,frontend)"
    assert selector.matches({"app": "web", "tier": "cache"})
    assert not selector.matches({"app": "web", "tier": "cache", "canary": "yes"})


def test_empty_dict_selector_matches_everything_and_nil_selects_nothing():
    everything = selector_from_dict({})
    assert everything is not None and everything.empty and everything.matches({"a": "b"})
    assert selector_from_dict({"matchLabels": {}, "matchExpressions": []}).empty
    assert selector_from_dict(None) is None


@pytest.mark.parametrize(
    ("selector", "path", "reason"),
    [
        (
            {"matchExpressions": [{"key": "a", "operator": "Foo", "values": ["x"]}]},
            "spec.selector.matchExpressions[0].operator",
            'not a valid selector operator: supported values: "DoesNotExist", "Exists", "In", "NotIn"',
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In"}]},
            "spec.selector.matchExpressions[0].values",
            "Required value: must be specified when `operator` is 'In' or 'NotIn'",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "spec.selector.matchExpressions[0].values",
            "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
            "spec.selector.matchExpressions[0].operator",
            "not a valid selector operator",
        ),
        (
            {"matchExpressions": [{"key": "bad key", "operator": "Exists"}]},
            "spec.selector.matchExpressions[0].key",
            "name part must consist of alphanumeric",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["ok", "-bad"]}]},
            "spec.selector.matchExpressions[0].values[1]",
            "a valid label must be an empty string",
        ),
        ({"matchLabels": {"app": 1}}, "spec.selector.matchLabels.app", "quote it in YAML"),
        ({"matchLabels": {"a/b/c": "x"}}, "spec.selector.matchLabels", "a valid label key"),
        ({"matchLabel": {"app": "web"}}, "spec.selector.matchLabel", 'unknown field "matchLabel"'),
        ({"matchExpressions": {"key": "a"}}, "spec.selector.matchExpressions", "must be a list"),
        ("app=web", "spec.selector", "must be a mapping"),
    ],
)
def test_invalid_dict_selector_names_the_field(selector, path, reason):
    with pytest.raises(ManifestError) as info:
        selector_from_dict(selector, "spec.selector")
    assert info.value.path == path
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("a_b-c.d", True),
        ("A1", True),
        ("", False),
        ("-app", False),
        ("app-", False),
        ("a/b/c", False),
        ("/app", False),
        ("Example.com/app", False),
        ("x" * 63, True),
        ("x" * 64, False),
        ("a" * 254 + "/b", False),
    ],
)
def test_label_key_rules(key, ok):
    assert (is_qualified_name(key) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("v1.2_3-x", True), ("-x", False), ("a b", False), ("x" * 64, False), (1, False)],
)
def test_label_value_rules(value, ok):
    assert (is_valid_label_value(value) is None) is ok


def test_requirement_construction_validates_like_new_requirement():
    with pytest.raises(ValueError, match="values set can't be empty"):
        Requirement("a", "In", ())
    with pytest.raises(ValueError, match="must be empty"):
        Requirement("a", "Exists", ("x",))
    with pytest.raises(ValueError, match="supported values"):
        Requirement("a", "Near", ("x",))


# -- round trip ---------------------------------------------------------------------------------
_ALNUM = "abzAZ09"
_NAMES = st.builds(
    lambda first, middle, last: first + middle + last if middle else first,
    st.sampled_from(_ALNUM),
    st.text(alphabet=_ALNUM + "-_.", max_size=6),
    st.sampled_from(_ALNUM),
)
_DNS_LABELS = st.builds(lambda a, b: a + b, st.sampled_from("abz09"), st.text(alphabet="abz09", max_size=3))
_PREFIXES = st.lists(_DNS_LABELS, min_size=1, max_size=3).map(".".join)
_KEYS = st.one_of(
    st.sampled_from(["app", "tier", "in", "notin", "env"]),
    _NAMES,
    st.builds(lambda p, n: f"{p}/{n}", _PREFIXES, _NAMES),
)
_VALUES = st.one_of(st.sampled_from(["", "web", "db", "in", "notin", "1", "42"]), _NAMES)


@st.composite
def _requirements(draw):
    key = draw(_KEYS)
    op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Equals", "NotEquals", "Gt", "Lt"]))
    if op in ("In", "NotIn"):
        values = tuple(draw(st.lists(_VALUES, min_size=1, max_size=4)))
    elif op in ("Gt", "Lt"):
        values = (str(draw(st.integers(min_value=0, max_value=10**6))),)
    elif op in ("Equals", "NotEquals"):
        values = (draw(_VALUES),)
    else:
        values = ()
    return Requirement(key, op, values)


_LABEL_MAPS = st.dictionaries(
    st.sampled_from(["app", "tier", "in", "env", "gen"]),
    st.sampled_from(["", "web", "db", "in", "1", "42", "7"]),
    max_size=4,
)


@given(st.lists(_requirements(), max_size=5), st.lists(_LABEL_MAPS, min_size=1, max_size=5))
def test_printed_selector_parses_back_to_an_equivalent_selector(requirements, label_maps):
    selector = Selector(tuple(requirements))
    again = parse_selector(str(selector))
    assert again == selector
    for labels in label_maps:
        assert again.matches(labels) == selector.matches(labels)

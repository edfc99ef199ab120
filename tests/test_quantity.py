"""Resource quantities: the API server's grammar, exact values, and the integers the scheduler uses.

Expected values come from apimachinery's ``quantity_test.go`` (``TestQuantityParse``,
``TestQuantityString``) and the Kubernetes docs ("Resource Management for Pods and Containers").
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit.api.quantity import (
    check_quantity,
    check_resource_name,
    format_bytes,
    format_cpu,
    is_integer_resource,
    parse_quantity,
    resource_amount,
    to_millis,
    to_units,
)
from labkit.errors import ManifestError

REPO = Path(__file__).resolve().parent.parent
PATH = "spec.containers[0].resources.requests.cpu"


@pytest.mark.parametrize(
    ("written", "millicores"),
    [
        ("100m", 100),
        ("0.1", 100),
        ("1", 1000),
        ("1e3", 1_000_000),
        ("1E-3", 1),
        ("2.5", 2500),
        ("+1", 1000),
        (".5", 500),  # upstream accepts a missing integer part ...
        ("5.", 5000),  # ... and a missing fraction
        ("0.1m", 1),  # finer than 1m: rounded up, never down to nothing
        ("0.5m", 1),
        (1, 1000),  # YAML int
        (0.5, 500),  # YAML float
        (0.1, 100),  # read as "0.1", not as the binary float 0.1000000000000000055...
    ],
)
def test_cpu_quantity_becomes_ceiling_millicores(written, millicores):
    assert resource_amount("cpu", written) == millicores


@pytest.mark.parametrize(
    ("written", "units"),
    [
        ("1.5Gi", 1_610_612_736),
        ("128974848", 128_974_848),
        ("129e6", 129_000_000),
        ("129M", 129_000_000),
        ("123Mi", 128_974_848),
        ("1Ki", 1024),
        ("1k", 1000),
        ("1.G", 1_000_000_000),  # "we currently allow 1.G" (quantity.go)
        ("0.4", 1),  # a fraction of a byte is rounded up
        ("400m", 1),  # 400m of memory is 0.4 bytes: valid, and rounded up
        ("9Ei", 2**63 - 1),  # binary values are capped at the int64 maximum
        (" 2Gi ", 2 * 1024**3),  # UnmarshalJSON trims surrounding whitespace
    ],
)
def test_memory_quantity_becomes_ceiling_units(written, units):
    assert resource_amount("memory", written) == units


def test_quoted_and_unquoted_yaml_numbers_agree():
    assert check_quantity("1", PATH) == check_quantity(1, PATH) == check_quantity(1.0, PATH) == 1


def test_value_finer_than_a_nanounit_is_rounded_up_like_the_api_server():
    # TestQuantityParse: "3.001n" -> 4n, "0.00000012345" -> 124n
    assert check_quantity("3.001n", PATH) == Decimal("4e-9")
    assert check_quantity("0.00000012345", PATH) == Decimal("124e-9")


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("1K", "lower-case k"),
        ("1Gb", "drop the B"),
        ("512MB", "drop the B"),
        ("ki", "capital letter"),
        ("1gi", "capital letter"),
        ("1 Gi", "remove the space"),
        ("1,5", "dot for decimals"),
        ("lots", "suffix such as 500m"),
        ("", "empty"),
        (True, "booleans"),
        (None, "missing"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (["1"], "not a list"),
        ("1e", "suffix such as 500m"),  # "E" alone is exa; "e" needs an exponent
        ("1e3Ki", "suffix such as 500m"),
        ("1.1.M", "suffix such as 500m"),
        ("0.1mi", "suffix such as 500m"),
        ("1i", "suffix such as 500m"),
    ],
)
def test_value_outside_the_api_grammar_is_rejected_with_a_hint(written, hint):
    with pytest.raises(ManifestError) as info:
        check_quantity(written, PATH)
    assert info.value.path == PATH
    assert info.value.value is written
    assert hint in info.value.reason
    assert "Ki, Mi, Gi" in info.value.reason


_SUFFIX_FACTORS = {
    **{
        s: Decimal(10) ** e
        for s, e in {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12}.items()
    },
    **{s: Decimal(1024) ** p for s, p in {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4}.items()},
    **{f"{e}{x}": Decimal(10) ** int(x) for e in "eE" for x in ("3", "-3", "+6", "0", "06")},
}


@given(
    st.sampled_from(["", "+"]),
    st.text(alphabet="0123456789", min_size=1, max_size=6),
    st.one_of(st.just(""), st.text(alphabet="0123456789", max_size=4).map(lambda d: "." + d)),
    st.sampled_from(sorted(_SUFFIX_FACTORS)),
)
def test_every_string_in_the_api_grammar_is_accepted_and_exact(sign, digits, fraction, suffix):
    """<sign><digits>[.<digits>]<suffix>: the value is number x suffix, rounded up to 1n."""
    expected = Decimal(digits + (fraction if fraction != "." else "")) * _SUFFIX_FACTORS[suffix]
    got = check_quantity(sign + digits + fraction + suffix, PATH)
    assert expected <= got < expected + Decimal("1e-9")


@pytest.mark.parametrize("written", ["-1", "-100m", -1, "-0.5Gi"])
def test_negative_request_is_rejected(written):
    with pytest.raises(ManifestError, match="must be greater than or equal to 0"):
        check_quantity(written, PATH)


def test_negative_value_passes_where_the_caller_allows_a_sign():
    assert check_quantity("-100m", PATH, allow_negative=True) == Decimal("-0.1")


@pytest.mark.parametrize("written", ["1", "100m", "1.5Gi", "129e6", "0.1", "123Mi"])
def test_value_equals_the_official_client_parse_quantity(written):
    assert check_quantity(written, PATH) == parse_quantity(written)


def test_rounding_is_a_ceiling():
    assert to_millis(Decimal("0.0001")) == 1
    assert to_millis(Decimal("1.0001")) == 1001
    assert to_units(Decimal("0.4")) == 1
    assert to_units(Decimal("2")) == 2
    assert to_units(Decimal("-1.5")) == -1


@pytest.mark.parametrize(
    ("millis", "text"),
    [
        (250, "250m"),
        (2000, "2"),
        (1500, "1500m"),
        (0, "0"),
        (1_000_000, "1k"),
        (1080, "1080m"),
        (-250, "-250m"),
    ],
)
def test_cpu_prints_in_canonical_form(millis, text):
    assert format_cpu(millis) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1536 * 1024**2, "1536Mi"),  # 1.5Gi
        (8 * 1024**3, "8Gi"),
        (0, "0"),
        (512, "512"),
        (1025, "1025"),  # TestQuantityString: no binary suffix divides it
        (1000, "1k"),  # below 1024 a BinarySI value prints as DecimalSI
        (300 * 1024**2, "300Mi"),
        (1024**4, "1Ti"),
    ],
)
def test_bytes_print_in_canonical_form(n, text):
    assert format_bytes(n) == text


@given(st.integers(min_value=0, max_value=2**53))
def test_cpu_format_round_trips(millis):
    assert resource_amount("cpu", format_cpu(millis)) == millis


@given(st.integers(min_value=0, max_value=2**62))
def test_bytes_format_round_trips(n):
    assert resource_amount("memory", format_bytes(n)) == n


@given(st.decimals(min_value=0, max_value=10**6, places=9, allow_nan=False, allow_infinity=False))
def test_millis_never_undercount_a_request(q):
    """Rounding up guarantees a pod is never scheduled with less than it asked for."""
    millis = to_millis(q)
    assert Decimal(millis) / 1000 >= q > Decimal(millis - 1) / 1000


@pytest.mark.parametrize(
    "name",
    [
        "cpu",
        "memory",
        "ephemeral-storage",
        "hugepages-2Mi",
        "example.com/gpu",
        "nvidia.com/gpu",
        "kubernetes.io/x",
    ],
)
def test_container_resource_name_is_accepted(name):
    check_resource_name(name, f"resources.requests.{name}")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("gpu", "must be a standard resource type or fully qualified"),
        ("CPU", 'did you mean "cpu"'),
        ("storage", "must be a standard resource for containers"),
        ("pods", "must be a standard resource for containers"),
        ("requests.example.com/gpu", "doesn't follow extended resource name standard"),
        ("example.com/", "name part must be non-empty"),
        ("Example.com/gpu", "prefix part a lowercase RFC 1123 subdomain"),
        (7, "must be a string"),
    ],
)
def test_invalid_container_resource_name_is_rejected(name, reason):
    with pytest.raises(ManifestError) as info:
        check_resource_name(name, "resources.limits")
    assert reason in info.value.reason


def test_extended_resources_and_object_counts_are_integer_resources():
    assert is_integer_resource("example.com/foo")
    assert is_integer_resource("pods")
    assert not is_integer_resource("cpu")
    assert not is_integer_resource("hugepages-2Mi")
    # ValidateResourceQuantityValue: MilliValue() % 1000 != 0 -> "must be an integer"
    assert to_millis(check_quantity("500m", "x")) % 1000 != 0


def test_loading_the_client_parser_does_not_import_the_kubernetes_package():
    """`import kubernetes` costs about a second; labkit executes only utils/quantity.py."""
    code = (
        "import sys; from labkit.api.quantity import parse_quantity; "
        "assert parse_quantity('1') == 1; "
        "assert 'kubernetes' not in sys.modules, sorted(m for m in sys.modules if 'kube' in m)"
    )
    subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )

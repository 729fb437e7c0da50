"""Tests for torchinit.patterns.NameGlob."""

from __future__ import annotations

import dataclasses
import fnmatch
import random
import re
from typing import Any

import pytest

from torchinit import ArgumentTypeError, InvalidArgumentError, NameGlob, TorchInitError

MATCHES = [
    # literal names match the whole name only
    ("fc", "fc", True),
    ("fc", "fc2", False),
    ("fc", "head.fc", False),
    ("fc", "fc.weight", False),
    ("fc.weight", "fc.weight", True),
    ("fc.weight", "fc.weights", False),
    # '*' stays within one component
    ("*", "fc", True),
    ("*", "fc.weight", False),
    ("fc*", "fc", True),
    ("fc*", "fc12", True),
    ("*.weight", "fc.weight", True),
    ("*.weight", "head.fc.weight", False),
    ("*.weight", "weight", False),
    ("layer*.0.conv1", "layer1.0.conv1", True),
    ("layer*.0.conv1", "layer4.0.conv1", True),
    ("layer*.0.conv1", "layer1.0.conv10", False),
    ("layer*.conv", "layer1.0.conv", False),
    ("*n*", "conv", True),
    ("*n*", "con.v", False),
    # '?' is one character within a component
    ("fc?", "fc1", True),
    ("fc?", "fc", False),
    ("fc?", "fc12", False),
    ("a?b", "a.b", False),
    ("a?b", "axb", True),
    ("??", "ab", True),
    # character sets
    ("conv[12]", "conv1", True),
    ("conv[12]", "conv2", True),
    ("conv[12]", "conv3", False),
    ("bn[1-3].weight", "bn2.weight", True),
    ("bn[1-3].weight", "bn4.weight", False),
    ("conv[!1]", "conv2", True),
    ("conv[!1]", "conv1", False),
    ("conv[!12]", "conv3", True),
    ("conv[!12]", "conv2", False),
    ("[ab]*", "alpha", True),
    ("[ab]*", "gamma", False),
    # '**' at the start: zero or more whole components
    ("**.bias", "bias", True),
    ("**.bias", "fc.bias", True),
    ("**.bias", "a.b.c.bias", True),
    ("**.bias", "fc.bias_k", False),
    ("**.bias", "bias.x", False),
    ("**.bias", "xbias", False),
    # '**' in the middle
    ("a.**.b", "a.b", True),
    ("a.**.b", "a.x.b", True),
    ("a.**.b", "a.x.y.b", True),
    ("a.**.b", "ab", False),
    ("a.**.b", "a.b.c", False),
    ("a.**.b", "xa.b", False),
    ("a.**.b", "a.xb", False),
    # '**' at the end
    ("layer4.**", "layer4", True),
    ("layer4.**", "layer4.1.bn2.weight", True),
    ("layer4.**", "layer40.conv", False),
    ("layer4.**", "layer", False),
    ("layer4.**", "x.layer4.conv", False),
    # '**' alone and combined
    ("**", "fc", True),
    ("**", "a.b.c", True),
    ("**.**", "a.b", True),
    ("**.bn*.weight", "layer1.0.bn3.weight", True),
    ("**.bn*.weight", "bn1.weight", True),
    ("**.bn*.weight", "layer1.0.bn3.bias", False),
    ("**.0.**", "layer1.0.conv1.weight", True),
    ("**.0.**", "layer1.10.conv1.weight", False),
    # the root module's name is "" (zero components): only '**' matches it
    ("**", "", True),
    ("**.**", "", True),
    ("*", "", False),
    ("fc", "", False),
    ("**.bias", "", False),
    ("layer4.**", "", False),
    # case-sensitive
    ("FC", "fc", False),
    ("fc", "FC", False),
    ("Conv*", "Conv2d", True),
    ("conv*", "Conv2d", False),
    # regex metacharacters are literal
    ("a+b", "a+b", True),
    ("a+b", "aab", False),
    ("(x)", "(x)", True),
    ("(x)", "x", False),
    ("a$", "a$", True),
    ("a|b", "a", False),
    ("a\\d", "a\\d", True),
    ("a\\d", "a1", False),
    ("a{2}", "aa", False),
    ("a]b", "a]b", True),
]


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [pytest.param(p, n, e, id=f"{p}~{n}") for p, n, e in MATCHES],
)
def test_matches(pattern: str, name: str, expected: bool) -> None:
    assert NameGlob(pattern).matches(name) is expected


@pytest.mark.parametrize(("pattern", "name"), [("a[!x]b", "a.b"), ("fc[!0-9]weight", "fc.weight")])
def test_negated_set_stays_within_one_component(pattern: str, name: str) -> None:
    assert not NameGlob(pattern).matches(name)


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        ("fc", True),
        ("fc.weight", True),
        ("layer1.0.conv1", True),
        ("a]b", True),
        ("fc*", False),
        ("fc?", False),
        ("fc[12]", False),
        ("**.bias", False),
        ("layer4.**", False),
        ("a.*.b", False),
    ],
)
def test_is_literal(pattern: str, literal: bool) -> None:
    assert NameGlob(pattern).is_literal is literal


def test_a_literal_glob_matches_exactly_its_pattern() -> None:
    glob = NameGlob("layer1.0.conv1.weight")
    assert glob.is_literal
    assert glob.matches("layer1.0.conv1.weight")
    assert not glob.matches("layer1.0.conv1")
    assert not glob.matches("xlayer1.0.conv1.weight")


@pytest.mark.parametrize(
    ("pattern", "error", "message"),
    [
        ("", InvalidArgumentError, "must not be empty (got '')"),
        (
            "a**",
            InvalidArgumentError,
            "'**' must stand alone between dots (e.g. 'a.**.b') (got 'a**')",
        ),
        (
            "**b.c",
            InvalidArgumentError,
            "'**' must stand alone between dots (e.g. 'a.**.b') (got '**b.c')",
        ),
        (
            "a.***",
            InvalidArgumentError,
            "'**' must stand alone between dots (e.g. 'a.**.b') (got 'a.***')",
        ),
        ("a..b", InvalidArgumentError, "empty component between dots (got 'a..b')"),
        (".a", InvalidArgumentError, "empty component between dots (got '.a')"),
        ("a.", InvalidArgumentError, "empty component between dots (got 'a.')"),
        ("[ab", InvalidArgumentError, "unclosed '[' (got '[ab')"),
        ("layer.[0-9", InvalidArgumentError, "unclosed '[' (got 'layer.[0-9')"),
        ("a[.]b", InvalidArgumentError, "unclosed '[' (got 'a[.]b')"),
        (3, ArgumentTypeError, "must be a string glob (got 3)"),
        (None, ArgumentTypeError, "must be a string glob (got None)"),
        (b"fc", ArgumentTypeError, "must be a string glob (got b'fc')"),
    ],
    ids=repr,
)
def test_errors(pattern: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(TorchInitError) as info:
        NameGlob(pattern)
    assert type(info.value) is error
    assert str(info.value) == message
    builtin = TypeError if error is ArgumentTypeError else ValueError
    assert isinstance(info.value, builtin)


@pytest.mark.parametrize("pattern", ["[]", "[!]"])
def test_malformed_sets_raise_torchinit_errors(pattern: str) -> None:
    # as in fnmatch, a ']' right after '[' or '[!' is a member, so these sets never close
    with pytest.raises(InvalidArgumentError) as info:
        NameGlob(pattern)
    assert str(info.value) == f"unclosed '[' (got {pattern!r})"


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("[]a]", "]", True),
        ("[]a]", "a", True),
        ("[]a]", "b", False),
        ("a[\\]", "a\\", True),
        ("x[^a]", "x^", True),
        ("x[^a]", "xb", False),
    ],
)
def test_set_members_are_literal(pattern: str, name: str, expected: bool) -> None:
    assert NameGlob(pattern).matches(name) is expected


def test_name_glob_is_a_frozen_value() -> None:
    glob = NameGlob("**.bias")
    with pytest.raises(dataclasses.FrozenInstanceError):
        glob.pattern = "x"  # type: ignore[misc]
    assert glob == NameGlob("**.bias")
    assert glob != NameGlob("**.weight")
    assert hash(glob) == hash(NameGlob("**.bias"))
    assert repr(glob) == "NameGlob(pattern='**.bias')"
    assert glob.matches("fc.bias")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        # a backtracking regex tries every split of the name between the '**' (minutes here)
        (".".join(["**"] * 12) + ".bias_k", ".".join(["layer"] * 20), False),
        (".".join(["**"] * 12) + ".bias_k", ".".join(["layer"] * 19 + ["bias_k"]), True),
        ("**.a.**.a.**.a.**.a.**.a.**.b", ".".join(["a"] * 60), False),
        # ... or every split of one component between the '*'
        ("*a" * 8 + "*b", "a" * 40, False),
        ("*a" * 8 + "*b", "a" * 40 + "b", True),
        ("*a" * 30 + "*b", "a" * 2000, False),
        ("x.*?*?*?*?*?*?*?*?*c", "x." + "ab" * 50, False),
    ],
    ids=lambda value: value if isinstance(value, bool) else str(len(value)),
)
def test_adversarial_globs_match_without_backtracking(
    pattern: str, name: str, expected: bool
) -> None:
    assert NameGlob(pattern).matches(name) is expected


def _reference_matches(pattern: str, name: str) -> bool:
    """The documented semantics, written the slow and obvious way: '**' tries every number of
    components, other components are fnmatch globs on one component."""
    globs = pattern.split(".")
    parts = name.split(".") if name else []

    def match(i: int, j: int) -> bool:
        if i == len(globs):
            return j == len(parts)
        if globs[i] == "**":
            return any(match(i + 1, k) for k in range(j, len(parts) + 1))
        return j < len(parts) and fnmatch.fnmatchcase(parts[j], globs[i]) and match(i + 1, j + 1)

    return match(0, 0)


def test_matches_agrees_with_a_slow_reference_on_random_globs() -> None:
    rng = random.Random(0)
    atoms = ["a", "b", "*", "?", "[ab]", "[!a]", "[a-b]", "]", "^", "-"]
    disagreements = []
    matched = 0

    def component() -> str:
        if rng.random() < 0.25:
            return "**"
        # '**' within a component is an error, so runs of stars become one star
        return re.sub(r"\*+", "*", "".join(rng.choices(atoms, k=rng.randint(1, 4))))

    for _ in range(5_000):
        pattern = ".".join(component() for _ in range(rng.randint(1, 4)))
        name = ".".join(
            "".join(rng.choices("ab]^-", k=rng.randint(1, 4))) for _ in range(rng.randint(0, 5))
        )
        expected = _reference_matches(pattern, name)
        matched += expected
        if NameGlob(pattern).matches(name) is not expected:
            disagreements.append((pattern, name, expected))
    assert disagreements == []
    # the draw is not trivially one-sided
    assert 250 < matched < 4_750

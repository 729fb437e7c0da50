"""Tests for torchinit.errors: the message template, its helpers and the error classes."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import torchinit
from torchinit import errors
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    MissingDependencyError,
    OutOfRangeError,
    PlanError,
    PolicyFileError,
    RegistryError,
    TorchInitError,
    TorchInitWarning,
    UnknownNameError,
    closest,
)

ERROR_CLASSES = [
    (InvalidArgumentError, ValueError),
    (OutOfRangeError, RuntimeError),
    (ArgumentTypeError, TypeError),
    (UnknownNameError, KeyError),
    (RegistryError, ValueError),
    (PlanError, ValueError),
    (PolicyFileError, ValueError),
    (MissingDependencyError, ImportError),
]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "bad"),
        ({"path": "a.b"}, "a.b: bad"),
        ({"got": 3}, "bad (got 3)"),
        ({"got": "x"}, "bad (got 'x')"),
        ({"got": None}, "bad (got None)"),
        ({"got": ""}, "bad (got '')"),
        ({"got": [1, "a"]}, "bad (got [1, 'a'])"),
        ({"where": "policy.yaml:7"}, "policy.yaml:7: bad"),
        ({"path": "a.b", "got": 0}, "a.b: bad (got 0)"),
        ({"where": "f.yaml:7", "path": "rules[2].weight"}, "f.yaml:7: rules[2].weight: bad"),
        ({"where": "layer1.weight", "got": 1.5}, "layer1.weight: bad (got 1.5)"),
        (
            {"where": "f.yaml:7", "path": "rules[2].weight", "got": "x"},
            "f.yaml:7: rules[2].weight: bad (got 'x')",
        ),
        ({"path": "", "where": "", "got": False}, "bad (got False)"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_template(kwargs: dict[str, Any], expected: str) -> None:
    error = TorchInitError("bad", **kwargs)
    assert str(error) == expected
    assert error.args == (expected,)


def test_attributes_are_kept() -> None:
    error = InvalidArgumentError("must be > 0", path="normal.std", got=-1, where="p.yaml:3")
    assert error.problem == "must be > 0"
    assert error.path == "normal.std"
    assert error.got == -1
    assert error.where == "p.yaml:3"
    assert error.has_value


@pytest.mark.parametrize(
    ("kwargs", "has_value"),
    [({}, False), ({"path": "x"}, False), ({"got": None}, True), ({"got": 0}, True)],
)
def test_has_value(kwargs: dict[str, Any], has_value: bool) -> None:
    assert TorchInitError("bad", **kwargs).has_value is has_value


def test_prefixed_without_a_path() -> None:
    error = ArgumentTypeError("must be a Strategy", got=3)
    prefixed = error.prefixed("rules[0].weight")
    assert type(prefixed) is ArgumentTypeError
    assert str(prefixed) == "rules[0].weight: must be a Strategy (got 3)"
    assert prefixed.path == "rules[0].weight"
    assert str(error) == "must be a Strategy (got 3)"


def test_prefixed_with_a_path() -> None:
    error = InvalidArgumentError("must be >= 0", path="normal.std", got=-1, where="p.yaml:3")
    prefixed = error.prefixed("rules[0].weight")
    assert type(prefixed) is InvalidArgumentError
    assert str(prefixed) == "p.yaml:3: rules[0].weight.normal.std: must be >= 0 (got -1)"
    assert prefixed.got == -1
    assert prefixed.where == "p.yaml:3"
    assert error.path == "normal.std"


def test_prefixed_twice_and_without_value() -> None:
    error = UnknownNameError("unknown argument", path="std")
    twice = error.prefixed("normal").prefixed("rules[1]")
    assert str(twice) == "rules[1].normal.std: unknown argument"
    assert not twice.has_value
    assert type(twice) is UnknownNameError


def test_located() -> None:
    error = InvalidArgumentError("must be >= 0", path="normal.std", got=-1)
    located = error.located("policy.yaml:7")
    assert type(located) is InvalidArgumentError
    assert str(located) == "policy.yaml:7: normal.std: must be >= 0 (got -1)"
    assert located.path == "normal.std"
    assert error.where == ""


def test_located_in_front_of_an_existing_where() -> None:
    error = PlanError("no rule matched", where="layer1.0.conv1.weight")
    located = error.located("resnet.yaml:3")
    assert str(located) == "resnet.yaml:3: layer1.0.conv1.weight: no rule matched"
    assert located.where == "resnet.yaml:3: layer1.0.conv1.weight"
    assert not located.has_value


def test_located_and_prefixed_compose() -> None:
    error = InvalidArgumentError("must be > 0", path="gain", got=0)
    both = error.prefixed("rules[0].weight.orthogonal").located("p.yaml:9")
    assert str(both) == "p.yaml:9: rules[0].weight.orthogonal.gain: must be > 0 (got 0)"


def test_key_error_subclass_str_is_not_quoted() -> None:
    error = UnknownNameError("unknown strategy", path="rules[0].weight", got="nrmal")
    message = "rules[0].weight: unknown strategy (got 'nrmal')"
    assert str(error) == message
    # a plain KeyError quotes its message; UnknownNameError does not
    assert str(KeyError(message)) == repr(message)
    assert isinstance(error, KeyError)
    with pytest.raises(KeyError) as info:
        raise error
    assert str(info.value) == message


@pytest.mark.parametrize(("cls", "builtin"), ERROR_CLASSES, ids=lambda c: c.__name__)
def test_pickle_round_trip_with_a_value(cls: type[TorchInitError], builtin: type) -> None:
    error = cls("must be > 0", path="normal.std", got=-1, where="p.yaml:3")
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is cls
    assert str(restored) == str(error) == "p.yaml:3: normal.std: must be > 0 (got -1)"
    assert (restored.problem, restored.path, restored.got, restored.where) == (
        error.problem,
        error.path,
        error.got,
        error.where,
    )
    assert isinstance(restored, builtin)


@pytest.mark.parametrize(("cls", "builtin"), ERROR_CLASSES, ids=lambda c: c.__name__)
def test_copy_keeps_the_message(cls: type[TorchInitError], builtin: type) -> None:
    error = cls("missing required argument", path="sparse.sparsity")
    assert str(copy.copy(error)) == "sparse.sparsity: missing required argument"
    assert not copy.copy(error).has_value


@pytest.mark.parametrize(
    "round_trip",
    [lambda error: pickle.loads(pickle.dumps(error)), copy.deepcopy],
    ids=["pickle", "deepcopy"],
)
def test_round_trip_without_a_value_keeps_the_message(round_trip: Any) -> None:
    error = ArgumentTypeError("missing required argument", path="sparse.sparsity")
    restored = round_trip(error)
    assert str(restored) == "sparse.sparsity: missing required argument"
    assert not restored.has_value


@pytest.mark.parametrize(("cls", "builtin"), ERROR_CLASSES, ids=lambda c: c.__name__)
def test_error_classes_subclass_torchinit_error_and_their_builtin(
    cls: type[TorchInitError], builtin: type
) -> None:
    assert issubclass(cls, TorchInitError)
    assert issubclass(cls, builtin)
    error = cls("bad", path="x", got=1)
    with pytest.raises(builtin):
        raise error
    with pytest.raises(TorchInitError):
        raise error


def test_every_public_error_class_is_covered() -> None:
    public_errors = {
        getattr(errors, name)
        for name in errors.__all__
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), BaseException)
        and getattr(errors, name) not in (TorchInitError, TorchInitWarning)
    }
    assert public_errors == {cls for cls, _ in ERROR_CLASSES}
    for name in errors.__all__:
        if name != "closest":
            assert getattr(torchinit, name) is getattr(errors, name)


def test_torchinit_error_is_an_exception_and_warning_is_a_user_warning() -> None:
    assert issubclass(TorchInitError, Exception)
    assert issubclass(TorchInitWarning, UserWarning)
    assert not issubclass(TorchInitWarning, TorchInitError)


@pytest.mark.parametrize(
    ("name", "candidates", "expected"),
    [
        ("kaiming_norml", ["kaiming_normal", "kaiming_uniform", "normal"], "kaiming_normal"),
        ("nrmal", ["normal", "uniform"], "normal"),
        ("stdd", ["mean", "std"], "std"),
        ("xyz", ["normal", "uniform"], None),
        ("normal", [], None),
        ("normal", ["normal", "normals"], "normal"),
        # case-insensitive, returning the candidate as spelled
        ("VGG", ["vgg", "resnet"], "vgg"),
        ("Kaiming_Normal", ["kaiming_normal", "normal"], "kaiming_normal"),
        ("vgg", ["VGG16", "ResNet"], "VGG16"),
    ],
)
def test_closest(name: str, candidates: list[str], expected: str | None) -> None:
    assert closest(name, candidates) == expected


def test_closest_accepts_any_iterable() -> None:
    assert closest("abd", iter(["abc", "xyz"])) == "abc"
    assert closest("alpah", {"alpha": 1, "beta": 2}) == "alpha"
    assert closest("bta", (name for name in ["beta", "gamma"])) == "beta"


def test_a_value_too_large_to_print_does_not_break_the_message() -> None:
    # repr of an int past Python's int-to-str digit limit raises ValueError
    error = InvalidArgumentError("must be small", path="normal.std", got=10**5000)
    assert str(error) == "normal.std: must be small (got <int too large to print>)"

"""Tests for torchinit.fans: fans and gains agree with torch.nn.init and validate their input."""

from __future__ import annotations

import math
import typing
import warnings
from typing import Any

import pytest
import torch

from torchinit import ArgumentTypeError, InvalidArgumentError, calculate_fan, calculate_fans
from torchinit import calculate_gain as torchinit_calculate_gain
from torchinit.errors import TorchInitError
from torchinit.fans import FAN_MODES, NONLINEARITIES, TORCH_NONLINEARITIES, is_empty

SHAPES = [
    (3, 4),
    (4, 3),
    (1, 1),
    (0, 5),
    (5, 0),
    (0, 0),
    (8, 3, 5),
    (8, 3, 0),
    (16, 8, 3, 3),
    (64, 3, 7, 7),
    (10, 20, 1, 1),
    (4, 0, 3, 3),
    (4, 3, 0, 3),
    (2, 3, 4, 5, 6),
    (2, 3, 4, 0, 6),
    (2, 2, 2, 2, 2, 2),
]


def _shape_id(shape: Any) -> str | None:
    if not isinstance(shape, tuple):
        return None  # let pytest name the other parameters
    return "x".join(map(str, shape)) or "scalar"


def _torch_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    return torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_calculate_fans_matches_torch(shape: tuple[int, ...]) -> None:
    expected = _torch_fans(shape)
    assert calculate_fans(torch.empty(shape)) == expected
    assert calculate_fans(shape) == expected
    assert calculate_fans(list(shape)) == expected
    assert calculate_fans(torch.Size(shape)) == expected


@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_calculate_fans_returns_ints(shape: tuple[int, ...]) -> None:
    fan_in, fan_out = calculate_fans(shape)
    assert type(fan_in) is int
    assert type(fan_out) is int


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((64, 3, 7, 7), (147, 3136)),
        ((256, 128), (128, 256)),
        ((6, 3, 5), (15, 30)),
        ((4, 0, 3, 3), (0, 36)),
    ],
    ids=_shape_id,
)
def test_calculate_fans_known_values(shape: tuple[int, ...], expected: tuple[int, int]) -> None:
    assert calculate_fans(shape) == expected


def test_calculate_fans_of_a_meta_tensor() -> None:
    assert calculate_fans(torch.empty(64, 32, 3, 3, device="meta")) == (288, 576)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ((5,), "(5,)"),
        ((), "()"),
        ([7], "(7,)"),
        (torch.empty(5), "(5,)"),
        (torch.tensor(1.0), "()"),
    ],
    ids=["tuple", "empty-tuple", "list", "vector", "scalar-tensor"],
)
def test_calculate_fans_needs_two_dimensions(value: Any, shown: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        calculate_fans(value)
    assert str(info.value) == (
        f"shape: fans need a tensor with at least 2 dimensions (got {shown})"
    )
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TorchInitError)


@pytest.mark.parametrize(
    ("shape", "fan_in", "fan_out", "fan_avg", "fan_geo_avg"),
    [
        ((10, 20), 20.0, 10.0, 15.0, math.sqrt(200.0)),
        ((10, 40), 40.0, 10.0, 25.0, 20.0),
        ((64, 3, 7, 7), 147.0, 3136.0, 1641.5, math.sqrt(147 * 3136)),
        ((5, 0), 0.0, 5.0, 2.5, 0.0),
        ((2, 3, 4, 5, 6), 360.0, 240.0, 300.0, math.sqrt(360 * 240)),
    ],
    ids=_shape_id,
)
def test_calculate_fan_modes(
    shape: tuple[int, ...], fan_in: float, fan_out: float, fan_avg: float, fan_geo_avg: float
) -> None:
    modes = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": fan_avg, "fan_geo_avg": fan_geo_avg}
    for mode, expected in modes.items():
        value = calculate_fan(shape, mode)
        assert value == expected
        assert type(value) is float
        assert calculate_fan(torch.empty(shape), mode) == expected


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("shape", [(10, 20), (64, 3, 7, 7), (8, 3, 5)], ids=_shape_id)
def test_calculate_fan_matches_torch_correct_fan(shape: tuple[int, ...], mode: str) -> None:
    expected = torch.nn.init._calculate_correct_fan(torch.empty(shape), mode)
    assert calculate_fan(shape, mode) == expected


def test_fan_modes() -> None:
    assert FAN_MODES == ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")


def test_fan_geo_avg_is_jax_geometric_mean() -> None:
    # JAX's variance_scaling: denominator = (fan_in * fan_out) ** 0.5, here with a receptive
    # field: fan_in = 3 * 25 = 75, fan_out = 48 * 25 = 1200, sqrt(90000) = 300
    assert calculate_fan((48, 3, 5, 5), "fan_geo_avg") == 300.0
    assert calculate_fan((48, 3, 5, 5), "fan_geo_avg") == (75 * 1200) ** 0.5


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        (
            "fan_avgg",
            InvalidArgumentError,
            "mode: must be one of ['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'] (got 'fan_avgg')",
        ),
        (
            "FAN_IN",
            InvalidArgumentError,
            "mode: must be one of ['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'] (got 'FAN_IN')",
        ),
        (
            1,
            ArgumentTypeError,
            "mode: must be one of ['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'] (got 1)",
        ),
    ],
)
def test_calculate_fan_bad_mode(mode: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(TorchInitError) as info:
        calculate_fan((10, 20), mode)
    assert type(info.value) is error
    assert str(info.value) == message


def test_calculate_fan_of_a_vector() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        calculate_fan((5,), "fan_in")
    assert str(info.value) == "shape: fans need a tensor with at least 2 dimensions (got (5,))"


# --------------------------------------------------------------------------- gains


def test_nonlinearities_are_torch_s() -> None:
    torch_names = typing.get_args(
        typing.get_type_hints(torch.nn.init.calculate_gain)["nonlinearity"]
    )
    assert torch_names == TORCH_NONLINEARITIES
    assert NONLINEARITIES[: len(torch_names)] == torch_names
    assert len(NONLINEARITIES) == len(set(NONLINEARITIES))


@pytest.mark.parametrize("nonlinearity", TORCH_NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity: str) -> None:
    value = torchinit_calculate_gain(nonlinearity)
    assert value == torch.nn.init.calculate_gain(nonlinearity)
    assert type(value) is float


@pytest.mark.parametrize("param", [0.2, None, 0.0, 0, 1, 3.5, -0.2])
def test_calculate_gain_leaky_relu_matches_torch(param: float | None) -> None:
    assert torchinit_calculate_gain("leaky_relu", param) == torch.nn.init.calculate_gain(
        "leaky_relu", param
    )


@pytest.mark.parametrize(
    ("nonlinearity", "param", "expected"),
    [
        ("linear", None, 1.0),
        ("conv1d", None, 1.0),
        ("conv2d", None, 1.0),
        ("conv3d", None, 1.0),
        ("conv_transpose1d", None, 1.0),
        ("conv_transpose2d", None, 1.0),
        ("conv_transpose3d", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5.0 / 3.0),
        ("relu", None, math.sqrt(2.0)),
        ("selu", None, 0.75),
        ("leaky_relu", None, 1.4141428569978354),
        ("leaky_relu", 0.2, math.sqrt(2.0 / 1.04)),
        ("leaky_relu", 0, math.sqrt(2.0)),
        ("leaky_relu", 1.0, 1.0),
        ("leaky_relu", math.sqrt(5), math.sqrt(1.0 / 3.0)),
    ],
)
def test_calculate_gain_values(nonlinearity: str, param: float | None, expected: float) -> None:
    assert math.isclose(torchinit_calculate_gain(nonlinearity, param), expected, rel_tol=1e-15)


def test_calculate_gain_exact_seed_values() -> None:
    assert torchinit_calculate_gain("relu") == math.sqrt(2.0)
    assert torchinit_calculate_gain("tanh") == 5.0 / 3.0
    assert torchinit_calculate_gain("leaky_relu") == 1.4141428569978354


def test_calculate_gain_ignores_param_for_other_nonlinearities() -> None:
    assert torchinit_calculate_gain("relu", 0.5) == math.sqrt(2.0)
    assert torchinit_calculate_gain("tanh", 3) == 5.0 / 3.0


@pytest.mark.parametrize(
    ("nonlinearity", "error"),
    [
        ("rleu", InvalidArgumentError),
        ("ReLU", InvalidArgumentError),
        ("", InvalidArgumentError),
        # torch raises ValueError for a non-string too ("Unsupported nonlinearity 3")
        (3, InvalidArgumentError),
        (None, InvalidArgumentError),
    ],
    ids=repr,
)
def test_calculate_gain_unknown_nonlinearity(nonlinearity: Any, error: type[Exception]) -> None:
    with pytest.raises(TorchInitError) as info:
        torchinit_calculate_gain(nonlinearity)
    assert type(info.value) is error
    hint = "; did you mean 'relu'?" if nonlinearity in ("rleu", "ReLU") else ""
    assert str(info.value) == (
        f"nonlinearity: must be one of {list(NONLINEARITIES)}{hint} (got {nonlinearity!r})"
    )


@pytest.mark.parametrize(
    ("param", "error", "message"),
    [
        # ValueError, as torch's "negative_slope True not a valid number"
        ("0.2", InvalidArgumentError, "param: must be a number (got '0.2')"),
        (True, InvalidArgumentError, "param: must be a number (got True)"),
        ([0.2], InvalidArgumentError, "param: must be a number (got [0.2])"),
        (float("nan"), InvalidArgumentError, "param: must be finite (got nan)"),
        (float("inf"), InvalidArgumentError, "param: must be finite (got inf)"),
    ],
    ids=repr,
)
def test_calculate_gain_bad_param(param: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(TorchInitError) as info:
        torchinit_calculate_gain("leaky_relu", param)
    assert type(info.value) is error
    assert str(info.value) == message
    builtin = TypeError if error is ArgumentTypeError else ValueError
    assert isinstance(info.value, builtin)


def test_is_empty_warns_like_torch_for_a_zero_element_tensor() -> None:
    with pytest.warns(
        UserWarning, match="^Initializing zero-element tensors is a no-op$"
    ) as record:
        assert is_empty(torch.empty(3, 0), stacklevel=1)
    assert record[0].filename == __file__  # stacklevel=1: the line that called is_empty


def test_is_empty_is_silent_for_a_tensor_with_elements() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not is_empty(torch.empty(2, 3), stacklevel=1)


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [("leaky_relu", True), ("leaky_relu", "0.2"), ("rleu", None), (3, None), (None, None)],
    ids=repr,
)
def test_calculate_gain_raises_torchs_exception_type(nonlinearity: Any, param: Any) -> None:
    with pytest.raises(Exception) as theirs:  # noqa: PT011 - its type is what is compared
        torch.nn.init.calculate_gain(nonlinearity, param)
    assert type(theirs.value) is ValueError
    with pytest.raises(InvalidArgumentError):
        torchinit_calculate_gain(nonlinearity, param)

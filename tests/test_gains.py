"""torchinit.gains: the fixed-point gain of any activation, and calculate_gain's new names."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional

import torchinit
from torchinit.errors import ArgumentTypeError, InvalidArgumentError
from torchinit.fans import NONLINEARITIES, TORCH_NONLINEARITIES
from torchinit.gains import ACTIVATIONS, activation_gain, named_gain, second_moment

ROOT = Path(__file__).resolve().parents[1]

# where each activation's derivative jumps: quad is told, so that its reference is exact
KINKS = {"hardswish": [-3, 3], "hardsigmoid": [-3, 3], "relu6": [0, 6], "hardtanh": [-1, 1]}


def test_the_names_are_torch_s_then_the_activations() -> None:
    assert TORCH_NONLINEARITIES + tuple(ACTIVATIONS) == NONLINEARITIES


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_the_quadrature_agrees_with_scipy(name: str) -> None:
    integrate = pytest.importorskip("scipy.integrate")
    activation = ACTIVATIONS[name]

    def integrand(x: float) -> float:
        value = float(activation(torch.tensor([x], dtype=torch.float64), None)[0])
        return value * value * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    reference, error = integrate.quad(
        integrand, -40, 40, points=KINKS.get(name, [0]), epsabs=1e-15, epsrel=1e-13, limit=400
    )
    assert error < 1e-12
    assert second_moment(lambda x: activation(x, None)) == pytest.approx(reference, rel=1e-12)


def test_relu_gives_sqrt_2_and_selu_1() -> None:
    # the criterion is He et al.'s for ReLU; SELU is built to have a unit second moment
    assert activation_gain(torch.relu) == pytest.approx(math.sqrt(2), rel=1e-14)
    assert activation_gain(torch.selu) == pytest.approx(1.0, rel=1e-12)
    assert activation_gain(lambda x: x) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize(
    ("name", "param", "function"),
    [
        ("gelu", None, nn.GELU()),
        ("gelu_tanh", None, nn.GELU(approximate="tanh")),
        ("silu", None, nn.SiLU()),
        ("swish", None, functional.silu),
        ("mish", None, nn.Mish()),
        ("elu", None, nn.ELU()),
        ("elu", 0.5, nn.ELU(alpha=0.5)),
        ("celu", 2.0, nn.CELU(alpha=2.0)),
        ("softplus", 2.0, nn.Softplus(beta=2.0)),
        ("hardswish", None, nn.Hardswish()),
        ("hardsigmoid", None, nn.Hardsigmoid()),
        ("relu6", None, nn.ReLU6()),
        ("hardtanh", None, nn.Hardtanh()),
        ("softsign", None, nn.Softsign()),
    ],
)
def test_a_name_gives_the_gain_of_its_module(name: str, param: float | None, function) -> None:
    assert torchinit.calculate_gain(name, param) == torchinit.calculate_gain(function)


@pytest.mark.parametrize(
    ("name", "activation"),
    [("gelu", functional.gelu), ("silu", functional.silu), ("mish", functional.mish)],
)
def test_the_gain_keeps_unit_variance_through_a_wide_layer(name: str, activation) -> None:
    # the check: one wide Linear with the gain, fed the activation of unit-variance
    # pre-activations, gives unit variance within 3%; ReLU's gain does not
    generator = torch.Generator().manual_seed(0)
    inputs = activation(torch.randn(4096, 2048, generator=generator))
    layer = nn.Linear(2048, 2048, bias=False).requires_grad_(False)
    for nonlinearity, holds in [(name, True), ("relu", False)]:
        torchinit.KaimingNormal(nonlinearity=nonlinearity)(layer.weight, generator=generator)
        variance = float((inputs @ layer.weight.T).var())
        assert (abs(variance - 1) <= 0.03) is holds, (nonlinearity, variance)


def test_a_deep_gelu_stack_holds_its_variance() -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(512, 512, generator=generator)
    layer = nn.Linear(512, 512, bias=False).requires_grad_(False)
    stds = []
    for _ in range(30):
        torchinit.KaimingNormal(nonlinearity="gelu")(layer.weight, generator=generator)
        x = layer(functional.gelu(x))
        stds.append(float(x.std()))
    assert 0.8 < stds[-1] < 1.25, stds


def test_calculate_gain_table_is_what_it_computes() -> None:
    doc = torchinit.calculate_gain.__doc__ or ""
    page = (ROOT / "docs" / "guide" / "gains.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\s*([a-z0-9_]+(?: / [a-z0-9_]+)?)\s+(\d\.\d{6})\b", doc, re.M)
    assert len(rows) == len(ACTIVATIONS) - 2  # swish and celu share their row
    for names, value in rows:
        for name in names.split(" / "):
            assert f"{torchinit.calculate_gain(name):.6f}" == value, name
            assert re.search(rf"`{name}`.*\| {value} \|", page), name


def test_torch_s_names_keep_torch_s_values_and_the_criterion_is_documented() -> None:
    assert torchinit.calculate_gain("tanh") == 5.0 / 3
    assert torchinit.calculate_gain("selu") == 0.75
    assert torchinit.calculate_gain("sigmoid") == 1.0
    page = (ROOT / "docs" / "guide" / "gains.md").read_text(encoding="utf-8")
    for function, shown in [(torch.sigmoid, "1.846"), (torch.tanh, "1.593"), (torch.selu, "1.0")]:
        assert f"{activation_gain(function):.3f}".startswith(shown)
        assert shown in page


def test_named_gains_are_computed_once() -> None:
    named_gain.cache_clear()
    torchinit.calculate_gain("mish")
    torchinit.calculate_gain("mish")
    assert named_gain.cache_info().hits == 1


def test_a_module_with_float32_parameters_is_evaluated_in_float32() -> None:
    prelu = nn.PReLU(init=0.0)  # ReLU, with a float32 parameter that float64 inputs refuse
    assert torchinit.calculate_gain(prelu) == pytest.approx(math.sqrt(2), rel=1e-6)


@pytest.mark.parametrize(
    ("function", "error", "message"),
    [
        (
            lambda x: x.sum(),
            ArgumentTypeError,
            "nonlinearity: must map a 1-D tensor to a tensor of the same shape (an elementwise "
            "activation) (got 'test_bad_callables_are_refused_clearly.<locals>.<lambda>')",
        ),
        (
            lambda x: torch.exp(x * x / 4),
            InvalidArgumentError,
            "nonlinearity: grows too fast: E[f(z)^2] for z ~ N(0, 1) is not finite "
            "(got 'test_bad_callables_are_refused_clearly.<locals>.<lambda>')",
        ),
        (
            lambda x: x * 0,
            InvalidArgumentError,
            "nonlinearity: E[f(z)^2] for z ~ N(0, 1) must be finite and positive (got 0.0)",
        ),
        (
            lambda x: x.numpy(),
            ArgumentTypeError,
            "nonlinearity: must map a 1-D tensor to a tensor of the same shape (an elementwise "
            "activation) (got 'test_bad_callables_are_refused_clearly.<locals>.<lambda>')",
        ),
    ],
    ids=["not-elementwise", "too-fast", "zero", "not-a-tensor"],
)
def test_bad_callables_are_refused_clearly(function, error, message) -> None:
    with pytest.raises(error) as caught:
        torchinit.calculate_gain(function)
    assert str(caught.value) == message.replace(
        "test_bad_callables_are_refused_clearly.<locals>.<lambda>",
        function.__qualname__,
    )


def test_a_callable_that_cannot_take_a_float_tensor_is_refused() -> None:
    def integer_only(x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("expected an integer tensor")

    with pytest.raises(ArgumentTypeError) as caught:
        torchinit.calculate_gain(integer_only)
    assert str(caught.value) == (
        "nonlinearity: cannot be evaluated on a float64 or float32 tensor: expected an integer "
        "tensor (got 'test_a_callable_that_cannot_take_a_float_tensor_is_refused.<locals>."
        "integer_only')"
    )


def test_a_misspelt_name_suggests_the_closest() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.calculate_gain("gleu")
    assert "did you mean 'gelu'?" in str(caught.value)


# --------------------------------------------------------------------------- in strategies


@pytest.mark.parametrize("strategy", [torchinit.KaimingNormal, torchinit.KaimingUniform])
def test_kaiming_takes_the_new_names(strategy) -> None:
    kaiming = strategy(mode="fan_out", nonlinearity="silu", a=0.3)  # a: leaky_relu's only
    expected = torchinit.calculate_gain("silu") ** 2
    assert kaiming.as_variance_scaling().scale == pytest.approx(expected, rel=1e-15)
    generator = torch.Generator().manual_seed(0)
    weight = kaiming(torch.empty(400, 300), generator=generator)
    assert float(weight.std()) == pytest.approx(math.sqrt(expected / 400), rel=0.01)


def test_kaiming_with_a_new_name_on_an_intercepted_tensor_goes_through_the_law() -> None:
    # torch's kaiming_normal_ does not know 'gelu': the strategy draws its law through
    # torch.nn.init.normal_ instead, with the same values as the direct draw
    class Logged(torch.Tensor):
        pass

    kaiming = torchinit.KaimingNormal(nonlinearity="gelu")
    plain = kaiming(torch.empty(64, 32), generator=torch.Generator().manual_seed(3))
    logged = torch.empty(64, 32).as_subclass(Logged)
    kaiming(logged, generator=torch.Generator().manual_seed(3))
    assert torch.equal(plain, logged.as_subclass(torch.Tensor))


def test_a_yaml_policy_names_the_new_gains(tmp_path) -> None:
    policy = torchinit.Policy.from_yaml(
        "rules:\n  - match: {type: Linear}\n"
        "    weight: {kaiming_normal: {nonlinearity: gelu}}\n    bias: zeros\n"
    )
    model = nn.Sequential(nn.Linear(256, 256), nn.GELU())
    report = torchinit.init_model(model, policy, seed=0)
    assert report["0.weight"].strategy == torchinit.KaimingNormal(nonlinearity="gelu")
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.Policy.from_yaml(
            "rules:\n  - match: {type: Linear}\n"
            "    weight: {kaiming_normal: {nonlinearity: sillu}}\n"
        )
    assert "rules[0].weight.kaiming_normal.nonlinearity: " in str(caught.value)
    assert "did you mean 'silu'?" in str(caught.value)

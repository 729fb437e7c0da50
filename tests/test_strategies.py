"""Tests for torchinit.strategies: torch parity, RNG use, distributions, validation, registry."""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import pathlib
import pickle
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import torchinit
from torchinit import (
    STRATEGIES,
    ArgumentTypeError,
    Constant,
    Dirac,
    Eye,
    InvalidArgumentError,
    JaxGlorotNormal,
    JaxHeNormal,
    KaimingNormal,
    KaimingUniform,
    LecunNormal,
    LecunUniform,
    Normal,
    Ones,
    Orthogonal,
    OutOfRangeError,
    RegistryError,
    ScaledEye,
    Sparse,
    Strategy,
    TorchDefault,
    TorchInitError,
    TruncNormal,
    TruncNormalInverseCDF,
    Uniform,
    UnknownNameError,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zeros,
    calculate_gain,
    get_strategy,
    register_strategy,
    to_strategy,
)
from torchinit.seeding import KeyedSeeding
from torchinit.strategies import constant_fill, drawing_from, grad_free_call, reset_method_name

init = nn.init

# std of a standard normal truncated to [-2, 2], as Keras and JAX hard-code it.
TRUNCATED_NORMAL_STD = 0.87962566103423978

#: The names registered by torchinit whose strategy is a ``torch.nn.init.<name>_`` function.
MIRRORED_NAMES = {
    "uniform",
    "normal",
    "constant",
    "zeros",
    "ones",
    "eye",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "trunc_normal",
    "orthogonal",
    "sparse",
}
#: Mirrored strategies that draw random numbers (and so take a generator).
RANDOM_NAMES = MIRRORED_NAMES - {"constant", "zeros", "ones", "eye", "dirac"}

#: (nonlinearity, a) pairs for the Kaiming strategies, and the gain each must give.
KAIMING_NONLINEARITIES = [
    ("relu", 0.0),
    ("leaky_relu", 0.2),
    ("tanh", 0.0),
    ("linear", 0.0),
    ("selu", 0.0),
]
ANALYTIC_GAIN = {
    ("relu", 0.0): math.sqrt(2.0),
    ("leaky_relu", 0.2): math.sqrt(2.0 / (1.0 + 0.2**2)),
    ("leaky_relu", 0.0): math.sqrt(2.0),
    ("tanh", 0.0): 5.0 / 3.0,
    ("linear", 0.0): 1.0,
    ("selu", 0.0): 0.75,
}


@dataclasses.dataclass(frozen=True)
class Ref:
    """A ``torch.nn.init`` call with fixed arguments: ``Ref(fn, ...)(tensor, generator)``."""

    fn: Callable[..., torch.Tensor]
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    random: bool = True

    def __call__(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        kwargs = dict(self.kwargs)
        if self.random:
            kwargs["generator"] = generator
        return self.fn(tensor, *self.args, **kwargs)


def ref(fn: Callable[..., torch.Tensor], *args: Any, random: bool = True, **kwargs: Any) -> Ref:
    return Ref(fn, args, tuple(kwargs.items()), random)


def _shape_id(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _mirror_cases() -> Iterator[Any]:
    relu_gain = calculate_gain("relu")
    cases: list[tuple[Strategy, Ref, tuple[int, ...], torch.dtype]] = [
        (Uniform(), ref(init.uniform_), (32, 16), torch.float32),
        (Uniform(-0.5, 0.25), ref(init.uniform_, -0.5, 0.25), (8, 4, 3, 3), torch.float32),
        (Uniform(-1, 1), ref(init.uniform_, -1.0, 1.0), (100,), torch.float64),
        (Normal(), ref(init.normal_), (32, 16), torch.float32),
        (Normal(0.3, 0.02), ref(init.normal_, 0.3, 0.02), (8, 4, 3, 3), torch.float32),
        (Normal(std=0.5), ref(init.normal_, 0.0, 0.5), (64,), torch.bfloat16),
        (Constant(0.63), ref(init.constant_, 0.63, random=False), (5, 7), torch.float32),
        (Constant(-2), ref(init.constant_, -2.0, random=False), (4, 2, 3, 3), torch.float64),
        (Zeros(), ref(init.zeros_, random=False), (5, 7), torch.float32),
        (Zeros(), ref(init.zeros_, random=False), (4, 2, 3, 3), torch.float32),
        (Ones(), ref(init.ones_, random=False), (5, 7), torch.float32),
        (Ones(), ref(init.ones_, random=False), (11,), torch.float16),
        (Eye(), ref(init.eye_, random=False), (5, 7), torch.float32),
        (Eye(), ref(init.eye_, random=False), (7, 5), torch.float64),
        (Dirac(), ref(init.dirac_, random=False), (4, 4, 3, 3), torch.float32),
        (Dirac(), ref(init.dirac_, random=False), (6, 3, 5), torch.float32),
        (Dirac(groups=2), ref(init.dirac_, 2, random=False), (6, 3, 3), torch.float32),
        (Dirac(groups=2), ref(init.dirac_, 2, random=False), (4, 2, 3, 3, 3), torch.float32),
        (XavierUniform(), ref(init.xavier_uniform_), (24, 40), torch.float32),
        (XavierUniform(), ref(init.xavier_uniform_), (16, 8, 3, 3), torch.float32),
        (
            XavierUniform(gain=relu_gain),
            ref(init.xavier_uniform_, relu_gain),
            (16, 8, 3, 3),
            torch.float32,
        ),
        (XavierNormal(), ref(init.xavier_normal_), (24, 40), torch.float64),
        (
            XavierNormal(gain=relu_gain),
            ref(init.xavier_normal_, relu_gain),
            (16, 8, 3, 3),
            torch.float32,
        ),
        (TruncNormal(), ref(init.trunc_normal_), (32, 16), torch.float32),
        (
            TruncNormal(mean=0.1, std=0.5, a=-0.3, b=0.8),
            ref(init.trunc_normal_, 0.1, 0.5, -0.3, 0.8),
            (8, 4, 3, 3),
            torch.float32,
        ),
        (
            TruncNormal(std=0.02, a=-0.04, b=0.04),
            ref(init.trunc_normal_, 0.0, 0.02, -0.04, 0.04),
            (300,),
            torch.float64,
        ),
        (Orthogonal(), ref(init.orthogonal_), (6, 10), torch.float32),
        (Orthogonal(), ref(init.orthogonal_), (10, 6), torch.float32),
        (Orthogonal(gain=2.0), ref(init.orthogonal_, 2.0), (8, 4, 3, 3), torch.float32),
        (Sparse(0.1), ref(init.sparse_, 0.1), (20, 10), torch.float32),
        (Sparse(0.5, std=0.02), ref(init.sparse_, 0.5, 0.02), (20, 10), torch.float32),
        (Sparse(sparsity=0.5), ref(init.sparse_, 0.5), (7, 3), torch.float64),
    ]
    for shape in [(16, 8, 3, 3), (24, 40)]:
        for mode in ("fan_in", "fan_out"):
            for nonlinearity, a in KAIMING_NONLINEARITIES:
                kwargs = {"a": a, "mode": mode, "nonlinearity": nonlinearity}
                cases.append(
                    (
                        KaimingUniform(**kwargs),
                        ref(init.kaiming_uniform_, **kwargs),
                        shape,
                        torch.float32,
                    )
                )
                cases.append(
                    (
                        KaimingNormal(**kwargs),
                        ref(init.kaiming_normal_, **kwargs),
                        shape,
                        torch.float32,
                    )
                )
    cases.append((KaimingUniform(), ref(init.kaiming_uniform_), (24, 40), torch.float32))
    cases.append((KaimingNormal(), ref(init.kaiming_normal_), (24, 40), torch.float32))
    for strategy, reference, shape, dtype in cases:
        dtype_id = str(dtype).removeprefix("torch.")
        yield pytest.param(
            strategy,
            reference,
            shape,
            dtype,
            id=f"{strategy.describe()}-{_shape_id(shape)}-{dtype_id}",
        )


MIRROR_CASES = list(_mirror_cases())
RANDOM_MIRROR_CASES = [case for case in MIRROR_CASES if case.values[0].name in RANDOM_NAMES]


def _filled_with_nan(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    # NaN everywhere, so an entry that a strategy fails to write makes torch.equal fail.
    return torch.full(shape, float("nan"), dtype=dtype)


# --------------------------------------------------------------------------- torch parity


def test_mirror_cases_cover_every_mirrored_strategy() -> None:
    covered = {case.values[0].name for case in MIRROR_CASES}
    assert covered == MIRRORED_NAMES
    mirrored = {name for name in STRATEGIES if hasattr(init, f"{name}_")}
    assert mirrored == MIRRORED_NAMES


@pytest.mark.parametrize(("strategy", "reference", "shape", "dtype"), MIRROR_CASES)
def test_matches_torch_under_global_seed(
    strategy: Strategy, reference: Ref, shape: tuple[int, ...], dtype: torch.dtype
) -> None:
    torch.manual_seed(1234)
    tensor = _filled_with_nan(shape, dtype)
    result = strategy(tensor)
    state_after_ours = torch.get_rng_state()
    next_after_ours = torch.rand(1)

    torch.manual_seed(1234)
    expected = reference(_filled_with_nan(shape, dtype), None)
    state_after_torch = torch.get_rng_state()
    next_after_torch = torch.rand(1)

    assert result is tensor
    assert result.dtype == dtype
    assert torch.equal(result, expected)
    assert torch.equal(state_after_ours, state_after_torch)
    assert torch.equal(next_after_ours, next_after_torch)


#: torch.nn.init.sparse_ passes its generator to normal_ but not to the randperm that picks the
#: zeros (pytorch/pytorch#98200); Sparse draws those from the generator too, so with a generator
#: it deliberately differs from torch (see test_sparse_with_generator_draws_the_zeros_from_it).
GENERATOR_PARITY_CASES = [case for case in MIRROR_CASES if case.values[0].name != "sparse"]


@pytest.mark.parametrize(("strategy", "reference", "shape", "dtype"), GENERATOR_PARITY_CASES)
def test_matches_torch_with_generator(
    strategy: Strategy, reference: Ref, shape: tuple[int, ...], dtype: torch.dtype
) -> None:
    torch.manual_seed(5)
    global_before = torch.get_rng_state()
    ours = torch.Generator().manual_seed(99)
    theirs = torch.Generator().manual_seed(99)

    result = strategy(_filled_with_nan(shape, dtype), generator=ours)
    expected = reference(_filled_with_nan(shape, dtype), theirs)

    assert torch.equal(result, expected)
    assert torch.equal(ours.get_state(), theirs.get_state())
    assert torch.equal(torch.get_rng_state(), global_before)


def _sparse_drawing_everything_from(
    tensor: torch.Tensor, sparsity: float, std: float, generator: torch.Generator
) -> torch.Tensor:
    """torch.nn.init.sparse_'s algorithm, with the generator given to its randperm too."""
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    with torch.no_grad():
        tensor.normal_(0, std, generator=generator)
        for column in range(cols):
            tensor[torch.randperm(rows, generator=generator)[:num_zeros], column] = 0
    return tensor


@pytest.mark.parametrize(
    ("sparsity", "std", "shape", "dtype"),
    [
        (0.1, 0.01, (20, 10), torch.float32),
        (0.5, 0.02, (20, 10), torch.float32),
        (0.5, 0.01, (7, 3), torch.float64),
        (0.0, 1.0, (5, 4), torch.float32),
    ],
)
def test_sparse_with_generator_draws_the_zeros_from_it(
    sparsity: float, std: float, shape: tuple[int, int], dtype: torch.dtype
) -> None:
    torch.manual_seed(5)
    global_before = torch.get_rng_state()
    ours = torch.Generator().manual_seed(99)
    theirs = torch.Generator().manual_seed(99)

    result = Sparse(sparsity, std=std)(_filled_with_nan(shape, dtype), generator=ours)
    expected = _sparse_drawing_everything_from(
        _filled_with_nan(shape, dtype), sparsity, std, theirs
    )

    assert torch.equal(result, expected)
    assert torch.equal(ours.get_state(), theirs.get_state())
    assert torch.equal(torch.get_rng_state(), global_before)


# --------------------------------------------------------------------------- generators

RANDOM_STRATEGIES = [
    pytest.param(Uniform(-0.1, 0.1), (16, 32), id="uniform"),
    pytest.param(Normal(0.0, 0.02), (16, 32), id="normal"),
    pytest.param(torchinit.FanUniform(mode="fan_out"), (16, 32), id="fan_uniform"),
    pytest.param(TruncNormal(std=0.5, a=-0.5, b=0.5), (16, 32), id="trunc_normal"),
    pytest.param(TruncNormalInverseCDF(std=0.5, a=-0.5, b=0.5), (16, 32), id="trunc_normal_icdf"),
    pytest.param(XavierUniform(), (16, 8, 3, 3), id="xavier_uniform"),
    pytest.param(XavierNormal(), (16, 8, 3, 3), id="xavier_normal"),
    pytest.param(KaimingUniform(nonlinearity="relu"), (16, 8, 3, 3), id="kaiming_uniform"),
    pytest.param(KaimingNormal(mode="fan_out"), (16, 8, 3, 3), id="kaiming_normal"),
    pytest.param(Orthogonal(), (12, 20), id="orthogonal"),
    pytest.param(Sparse(0.3), (20, 10), id="sparse"),
    pytest.param(VarianceScaling(2.0, "fan_in", "normal"), (16, 32), id="vs-normal"),
    pytest.param(VarianceScaling(1.0, "fan_out", "uniform"), (16, 32), id="vs-uniform"),
    pytest.param(VarianceScaling(1.0, "fan_avg"), (16, 32), id="vs-truncated_normal"),
    pytest.param(LecunNormal(), (16, 32), id="lecun_normal"),
    pytest.param(LecunUniform(), (16, 32), id="lecun_uniform"),
]


@pytest.mark.parametrize(("strategy", "shape"), RANDOM_STRATEGIES)
def test_generator_is_deterministic(strategy: Strategy, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    first = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(5))
    torch.rand(3)  # a global draw in between must not matter
    second = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second)


@pytest.mark.parametrize(("strategy", "shape"), RANDOM_STRATEGIES)
def test_generator_leaves_global_rng_alone(strategy: Strategy, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    global_before = torch.get_rng_state()
    strategy(torch.empty(shape), generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), global_before)


@pytest.mark.parametrize(("strategy", "shape"), RANDOM_STRATEGIES)
def test_generator_seed_matters(strategy: Strategy, shape: tuple[int, ...]) -> None:
    first = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(5))
    other = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(6))
    assert not torch.equal(first, other)


@pytest.mark.parametrize(("strategy", "shape"), RANDOM_STRATEGIES)
def test_generator_is_advanced(strategy: Strategy, shape: tuple[int, ...]) -> None:
    generator = torch.Generator().manual_seed(5)
    first = strategy(torch.empty(shape), generator=generator)
    second = strategy(torch.empty(shape), generator=generator)
    assert not torch.equal(first, second)


@pytest.mark.parametrize(("strategy", "shape"), RANDOM_STRATEGIES)
def test_without_generator_draws_from_global_rng(
    strategy: Strategy, shape: tuple[int, ...]
) -> None:
    torch.manual_seed(21)
    from_global = strategy(torch.empty(shape))
    seeded = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(21))
    assert torch.equal(from_global, seeded)


# --------------------------------------------------------------------------- distributions

WIDE = (128, 512)  # 65,536 values; fan_in 512, fan_out 128, fan_avg 320
CONV = (64, 32, 5, 5)  # 51,200 values; fan_in 800, fan_out 1600, fan_avg 1200
MIN_SAMPLES = 50_000
KS_MIN_P = 1e-4
SIGMAS = 5.0


def _fans(shape: tuple[int, ...]) -> dict[str, float]:
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    return {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2,
        "fan_geo_avg": math.sqrt(fan_in * fan_out),
    }


def _normal(mean: float, std: float) -> Any:
    return stats.norm(loc=mean, scale=std)


def _uniform(low: float, high: float) -> Any:
    return stats.uniform(loc=low, scale=high - low)


def _symmetric_uniform(std: float) -> Any:
    bound = math.sqrt(3.0) * std
    return _uniform(-bound, bound)


def _truncated(mean: float, std: float, low: float, high: float) -> Any:
    return stats.truncnorm((low - mean) / std, (high - mean) / std, loc=mean, scale=std)


def _variance_scaling_truncated(std: float) -> Any:
    inner = std / TRUNCATED_NORMAL_STD
    return stats.truncnorm(-2.0, 2.0, loc=0.0, scale=inner)


def assert_follows(samples: np.ndarray, dist: Any) -> None:
    """KS test plus mean/std within ``SIGMAS`` standard errors of the analytic values."""
    n = samples.size
    assert n >= MIN_SAMPLES
    p_value = stats.kstest(samples, dist.cdf).pvalue
    assert p_value > KS_MIN_P, f"KS p-value {p_value:.3g}"
    mean, std = float(dist.mean()), float(dist.std())
    assert abs(samples.mean() - mean) <= SIGMAS * std / math.sqrt(n), (samples.mean(), mean)
    # relative standard error of a sample std is about 1/sqrt(2n) for a normal, and smaller
    # for the lighter-tailed uniform and truncated normal
    assert abs(samples.std(ddof=1) / std - 1.0) <= SIGMAS / math.sqrt(2 * n), (
        samples.std(ddof=1),
        std,
    )


def _draw(strategy: Strategy, shape: tuple[int, ...], seed: int = 2024) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    tensor = strategy(torch.empty(shape), generator=generator)
    return tensor.flatten().double().numpy()


def _distribution_cases() -> Iterator[Any]:
    yield "normal-standard", Normal(), WIDE, _normal(0.0, 1.0)
    yield "normal-shifted", Normal(0.3, 0.02), WIDE, _normal(0.3, 0.02)
    yield "uniform-default", Uniform(), WIDE, _uniform(0.0, 1.0)
    yield "uniform-custom", Uniform(-0.5, 0.25), CONV, _uniform(-0.5, 0.25)
    yield "trunc_normal-default", TruncNormal(), WIDE, _truncated(0.0, 1.0, -2.0, 2.0)
    yield (
        "trunc_normal-asymmetric",
        TruncNormal(mean=0.1, std=0.5, a=-0.3, b=0.8),
        WIDE,
        _truncated(0.1, 0.5, -0.3, 0.8),
    )
    yield (
        "trunc_normal-absolute-bounds",
        TruncNormal(std=0.02),
        WIDE,
        _truncated(0.0, 0.02, -2.0, 2.0),
    )
    yield "trunc_normal_icdf-default", TruncNormalInverseCDF(), WIDE, _truncated(0.0, 1.0, -2, 2)
    yield (
        "trunc_normal_icdf-asymmetric",
        TruncNormalInverseCDF(mean=0.1, std=0.5, a=-0.3, b=0.8),
        WIDE,
        _truncated(0.1, 0.5, -0.3, 0.8),
    )
    relu_gain = math.sqrt(2.0)
    for shape_id, shape in (("wide", WIDE), ("conv", CONV)):
        fans = _fans(shape)
        for gain_id, gain in (("gain1", 1.0), ("relu-gain", relu_gain)):
            std = gain * math.sqrt(2.0 / (fans["fan_in"] + fans["fan_out"]))
            yield (
                f"xavier_uniform-{gain_id}-{shape_id}",
                XavierUniform(gain=gain),
                shape,
                _symmetric_uniform(std),
            )
            yield (
                f"xavier_normal-{gain_id}-{shape_id}",
                XavierNormal(gain=gain),
                shape,
                _normal(0.0, std),
            )
    fans = _fans(WIDE)
    for mode in ("fan_in", "fan_out"):
        for nonlinearity, a in KAIMING_NONLINEARITIES:
            std = ANALYTIC_GAIN[(nonlinearity, a)] / math.sqrt(fans[mode])
            kwargs = {"a": a, "mode": mode, "nonlinearity": nonlinearity}
            yield (
                f"kaiming_uniform-{mode}-{nonlinearity}",
                KaimingUniform(**kwargs),
                WIDE,
                _symmetric_uniform(std),
            )
            yield (
                f"kaiming_normal-{mode}-{nonlinearity}",
                KaimingNormal(**kwargs),
                WIDE,
                _normal(0.0, std),
            )
    conv_fans = _fans(CONV)
    yield (
        "kaiming_normal-default-conv",
        KaimingNormal(),
        CONV,
        _normal(0.0, math.sqrt(2.0 / conv_fans["fan_in"])),
    )
    for mode in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        std = math.sqrt(2.0 / fans[mode])
        yield (
            f"variance_scaling-normal-{mode}",
            VarianceScaling(2.0, mode, "normal"),
            WIDE,
            _normal(0.0, std),
        )
        yield (
            f"variance_scaling-uniform-{mode}",
            VarianceScaling(2.0, mode, "uniform"),
            WIDE,
            _symmetric_uniform(std),
        )
        yield (
            f"variance_scaling-truncated_normal-{mode}",
            VarianceScaling(2.0, mode, "truncated_normal"),
            WIDE,
            _variance_scaling_truncated(std),
        )
    yield (
        "variance_scaling-truncated_normal-conv",
        VarianceScaling(0.5, "fan_out", "truncated_normal"),
        CONV,
        _variance_scaling_truncated(math.sqrt(0.5 / conv_fans["fan_out"])),
    )
    for shape_id, shape in (("wide", WIDE), ("conv", CONV)):
        std = math.sqrt(1.0 / _fans(shape)["fan_in"])
        yield f"lecun_normal-{shape_id}", LecunNormal(), shape, _variance_scaling_truncated(std)
        yield f"lecun_uniform-{shape_id}", LecunUniform(), shape, _symmetric_uniform(std)
        # JAX's and Keras's glorot_normal and he_normal: truncated at 2 of the inner std
        glorot_std = math.sqrt(2.0 / (_fans(shape)["fan_in"] + _fans(shape)["fan_out"]))
        yield (
            f"jax_glorot_normal-{shape_id}",
            JaxGlorotNormal(),
            shape,
            _variance_scaling_truncated(glorot_std),
        )
        yield (
            f"jax_he_normal-{shape_id}",
            JaxHeNormal(),
            shape,
            _variance_scaling_truncated(math.sqrt(2.0) * std),
        )
    fans = _fans(CONV)
    yield (
        "fan_uniform-fan_geo_avg",
        torchinit.FanUniform(mode="fan_geo_avg"),
        CONV,
        _uniform(-1 / math.sqrt(fans["fan_geo_avg"]), 1 / math.sqrt(fans["fan_geo_avg"])),
    )


# every case draws from its own seed, so that the cases are not all the same uniform draws
DISTRIBUTION_CASES = [
    pytest.param(strategy, shape, dist, 1000 + index, id=case_id)
    for index, (case_id, strategy, shape, dist) in enumerate(_distribution_cases())
]


@pytest.mark.parametrize(("strategy", "shape", "dist", "seed"), DISTRIBUTION_CASES)
def test_distribution(strategy: Strategy, shape: tuple[int, ...], dist: Any, seed: int) -> None:
    samples = _draw(strategy, shape, seed)
    assert_follows(samples, dist)
    low, high = dist.support()
    assert samples.min() >= low
    assert samples.max() <= high


@pytest.mark.parametrize(
    ("strategy", "shape", "dist", "seed"),
    [case for case in DISTRIBUTION_CASES if "truncated" in case.id or "lecun_normal" in case.id],
)
def test_variance_scaling_truncated_normal_has_the_asked_std(
    strategy: Strategy, shape: tuple[int, ...], dist: Any, seed: int
) -> None:
    vs = strategy.as_variance_scaling() if isinstance(strategy, LecunNormal) else strategy
    assert isinstance(vs, VarianceScaling)
    expected_std = math.sqrt(vs.scale / _fans(shape)[vs.mode])
    assert math.isclose(vs.std(shape), expected_std, rel_tol=1e-12)
    # the rescaled truncation really has the asked standard deviation
    assert math.isclose(float(dist.std()), expected_std, rel_tol=1e-12)
    # and the draws are cut at two inner standard deviations
    samples = _draw(strategy, shape, seed)
    assert np.abs(samples).max() <= 2.0 * expected_std / TRUNCATED_NORMAL_STD * (1 + 1e-6)


def test_truncated_normal_constant_is_the_std_of_a_normal_truncated_at_two() -> None:
    assert math.isclose(stats.truncnorm(-2.0, 2.0).std(), TRUNCATED_NORMAL_STD, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("samples_from", "dist"),
    [
        pytest.param(Normal(0.0, 1.0), _normal(0.0, 1.05), id="std-5%-off"),
        pytest.param(Normal(0.0, 1.0), _normal(0.03, 1.0), id="mean-off"),
        pytest.param(
            Uniform(-math.sqrt(3), math.sqrt(3)), _normal(0.0, 1.0), id="uniform-vs-normal"
        ),
        pytest.param(
            TruncNormal(),
            _variance_scaling_truncated(TRUNCATED_NORMAL_STD * 1.03),
            id="truncated-scale-off",
        ),
    ],
)
def test_distribution_check_rejects_wrong_distributions(samples_from: Strategy, dist: Any) -> None:
    samples = _draw(samples_from, WIDE)
    with pytest.raises(AssertionError):
        assert_follows(samples, dist)


@pytest.mark.parametrize("sparsity", [0.1, 0.5])
def test_sparse_nonzero_entries_are_normal(sparsity: float) -> None:
    rows, cols = 1000, 100
    std = 0.02
    tensor = Sparse(sparsity, std=std)(
        torch.empty(rows, cols), generator=torch.Generator().manual_seed(11)
    )
    zeros_per_column = (tensor == 0).sum(dim=0)
    assert zeros_per_column.tolist() == [math.ceil(sparsity * rows)] * cols
    nonzero = tensor[tensor != 0].double().numpy()
    assert_follows(nonzero, _normal(0.0, std))


# --------------------------------------------------------------------------- variance scaling


def _named_std(strategy: Strategy, shape: tuple[int, ...]) -> float:
    """The std of the named strategy, from its own formula (not from VarianceScaling)."""
    fans = _fans(shape)
    if isinstance(strategy, (XavierUniform, XavierNormal)):
        return strategy.gain * math.sqrt(2.0 / (fans["fan_in"] + fans["fan_out"]))
    if isinstance(strategy, (KaimingUniform, KaimingNormal)):
        gain = init.calculate_gain(strategy.nonlinearity, strategy.a)
        return gain / math.sqrt(fans[strategy.mode])
    if isinstance(strategy, (LecunNormal, LecunUniform)):
        return math.sqrt(1.0 / fans["fan_in"])
    if isinstance(strategy, JaxGlorotNormal):
        return math.sqrt(2.0 / (fans["fan_in"] + fans["fan_out"]))
    if isinstance(strategy, JaxHeNormal):
        return math.sqrt(2.0 / fans["fan_in"])
    raise AssertionError(strategy)


AS_VARIANCE_SCALING = [
    pytest.param(XavierUniform(), VarianceScaling(1.0, "fan_avg", "uniform"), id="xavier_uniform"),
    pytest.param(
        XavierUniform(gain=3.0), VarianceScaling(9.0, "fan_avg", "uniform"), id="xavier_uniform-3"
    ),
    pytest.param(XavierNormal(), VarianceScaling(1.0, "fan_avg", "normal"), id="xavier_normal"),
    pytest.param(
        XavierNormal(gain=2.0), VarianceScaling(4.0, "fan_avg", "normal"), id="xavier_normal-2"
    ),
    pytest.param(KaimingUniform(), VarianceScaling(2.0, "fan_in", "uniform"), id="kaiming_uniform"),
    pytest.param(
        KaimingUniform(mode="fan_out", nonlinearity="relu"),
        VarianceScaling(2.0, "fan_out", "uniform"),
        id="kaiming_uniform-relu-fan_out",
    ),
    pytest.param(
        KaimingUniform(a=0.2),
        VarianceScaling(2.0 / 1.04, "fan_in", "uniform"),
        id="kaiming_uniform-leaky0.2",
    ),
    pytest.param(
        KaimingUniform(a=math.sqrt(5)),
        VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
        id="kaiming_uniform-sqrt5",
    ),
    pytest.param(
        KaimingNormal(mode="fan_out", nonlinearity="relu"),
        VarianceScaling(2.0, "fan_out", "normal"),
        id="kaiming_normal-relu-fan_out",
    ),
    pytest.param(
        KaimingNormal(nonlinearity="tanh"),
        VarianceScaling(25.0 / 9.0, "fan_in", "normal"),
        id="kaiming_normal-tanh",
    ),
    pytest.param(
        KaimingNormal(nonlinearity="selu"),
        VarianceScaling(0.5625, "fan_in", "normal"),
        id="kaiming_normal-selu",
    ),
    pytest.param(
        KaimingNormal(nonlinearity="linear"),
        VarianceScaling(1.0, "fan_in", "normal"),
        id="kaiming_normal-linear",
    ),
    pytest.param(
        LecunNormal(), VarianceScaling(1.0, "fan_in", "truncated_normal"), id="lecun_normal"
    ),
    pytest.param(LecunUniform(), VarianceScaling(1.0, "fan_in", "uniform"), id="lecun_uniform"),
    pytest.param(
        JaxGlorotNormal(),
        VarianceScaling(1.0, "fan_avg", "truncated_normal"),
        id="jax_glorot_normal",
    ),
    pytest.param(
        JaxHeNormal(), VarianceScaling(2.0, "fan_in", "truncated_normal"), id="jax_he_normal"
    ),
]


@pytest.mark.parametrize(("strategy", "expected"), AS_VARIANCE_SCALING)
def test_as_variance_scaling_parameters(strategy: Any, expected: VarianceScaling) -> None:
    vs = strategy.as_variance_scaling()
    assert isinstance(vs, VarianceScaling)
    assert vs.mode == expected.mode
    assert vs.distribution == expected.distribution
    assert math.isclose(vs.scale, expected.scale, rel_tol=1e-12)


@pytest.mark.parametrize(("strategy", "expected"), AS_VARIANCE_SCALING)
@pytest.mark.parametrize("shape", [(24, 40), (16, 8, 3, 3)], ids=_shape_id)
def test_as_variance_scaling_has_the_same_std(
    strategy: Any, expected: VarianceScaling, shape: tuple[int, ...]
) -> None:
    assert math.isclose(
        strategy.as_variance_scaling().std(shape), _named_std(strategy, shape), rel_tol=1e-12
    )


@pytest.mark.parametrize(("strategy", "expected"), AS_VARIANCE_SCALING)
@pytest.mark.parametrize("shape", [(24, 40), (16, 8, 3, 3)], ids=_shape_id)
def test_as_variance_scaling_draws_the_same_values(
    strategy: Any, expected: VarianceScaling, shape: tuple[int, ...]
) -> None:
    named_generator = torch.Generator().manual_seed(8)
    vs_generator = torch.Generator().manual_seed(8)
    named = strategy(torch.empty(shape), generator=named_generator)
    general = strategy.as_variance_scaling()(torch.empty(shape), generator=vs_generator)
    assert torch.allclose(named, general, rtol=1e-6, atol=0.0)
    assert torch.equal(named_generator.get_state(), vs_generator.get_state())


@pytest.mark.parametrize(
    ("strategy", "shape", "expected"),
    [
        (VarianceScaling(2.0, "fan_in", "normal"), (256, 128), 0.125),
        (VarianceScaling(1.0, "fan_out"), (64, 3, 7, 7), 1.0 / 56.0),
        (VarianceScaling(3.0, "fan_avg", "uniform"), (10, 20), math.sqrt(0.2)),
        (VarianceScaling(1.0, "fan_in"), (4, 2, 3, 3, 3), math.sqrt(1.0 / 54.0)),
        (VarianceScaling(0.5, "fan_avg"), [100, 300], math.sqrt(0.5 / 200.0)),
    ],
)
def test_variance_scaling_std(strategy: VarianceScaling, shape: Any, expected: float) -> None:
    assert math.isclose(strategy.std(shape), expected, rel_tol=1e-12)
    assert math.isclose(strategy.std(torch.empty(shape)), expected, rel_tol=1e-12)


def test_variance_scaling_fan_geo_avg_std() -> None:
    # fan_in 75, fan_out 1200: the geometric mean is 300, as JAX's (fan_in * fan_out) ** 0.5
    assert VarianceScaling(3.0, "fan_geo_avg", "normal").std((48, 3, 5, 5)) == 0.1
    assert torchinit.FanUniform(mode="fan_geo_avg").law((48, 3, 5, 5)).params == (
        -1 / math.sqrt(300.0),
        1 / math.sqrt(300.0),
    )


def test_untruncated_normal_is_stored_as_normal() -> None:
    keras_spelling = VarianceScaling(2.0, "fan_in", "untruncated_normal")
    assert keras_spelling.distribution == "normal"
    assert keras_spelling == VarianceScaling(2.0, "fan_in", "normal")
    assert hash(keras_spelling) == hash(VarianceScaling(2.0, "fan_in", "normal"))
    assert keras_spelling.to_spec() == {
        "variance_scaling": {"scale": 2.0, "mode": "fan_in", "distribution": "normal"}
    }
    first = keras_spelling(torch.empty(30, 40), generator=torch.Generator().manual_seed(3))
    second = torch.empty(30, 40).normal_(
        0.0, math.sqrt(2 / 40), generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(first, second)
    assert "untruncated_normal" not in torchinit.strategies.DISTRIBUTIONS


def test_jax_named_strategies_are_registered_apart_from_torch() -> None:
    assert get_strategy("jax_glorot_normal") == JaxGlorotNormal()
    assert get_strategy("jax_he_normal") == JaxHeNormal()
    assert JaxGlorotNormal().to_spec() == "jax_glorot_normal"
    assert JaxHeNormal().describe() == "jax_he_normal()"
    # same variance as torch's xavier_normal/kaiming_normal, but a truncated law: the largest
    # value of 65,536 torch draws lies past the truncated law's bound
    for jax_like, torch_like in (
        (JaxGlorotNormal(), XavierNormal()),
        (JaxHeNormal(), KaimingNormal()),
    ):
        bound = jax_like.law(WIDE).params[3]
        assert _draw(jax_like, WIDE).max() <= bound
        assert np.abs(_draw(torch_like, WIDE)).max() > bound


def test_variance_scaling_std_of_a_vector_is_refused() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        VarianceScaling().std((5,))
    assert str(info.value) == "shape: fans need a tensor with at least 2 dimensions (got (5,))"


def test_variance_scaling_defaults() -> None:
    assert VarianceScaling() == VarianceScaling(1.0, "fan_in", "truncated_normal")
    assert LecunNormal().as_variance_scaling() == VarianceScaling()


# --------------------------------------------------------------------------- immutability

FIELD_EXAMPLES = [
    pytest.param(Constant(0.5), "val", id="constant"),
    pytest.param(Uniform(), "a", id="uniform"),
    pytest.param(Normal(), "std", id="normal"),
    pytest.param(TruncNormal(), "b", id="trunc_normal"),
    pytest.param(Dirac(), "groups", id="dirac"),
    pytest.param(Orthogonal(), "gain", id="orthogonal"),
    pytest.param(Sparse(0.1), "sparsity", id="sparse"),
    pytest.param(XavierUniform(), "gain", id="xavier_uniform"),
    pytest.param(XavierNormal(), "gain", id="xavier_normal"),
    pytest.param(KaimingUniform(), "mode", id="kaiming_uniform"),
    pytest.param(KaimingNormal(), "a", id="kaiming_normal"),
    pytest.param(VarianceScaling(), "scale", id="variance_scaling"),
    pytest.param(Zeros(), "anything", id="zeros"),
    pytest.param(LecunNormal(), "scale", id="lecun_normal"),
    pytest.param(TorchDefault(), "anything", id="torch_default"),
]


@pytest.mark.parametrize(("strategy", "field"), FIELD_EXAMPLES)
def test_strategies_are_frozen(strategy: Strategy, field: str) -> None:
    before = strategy.arguments()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(strategy, field, 2)
    assert strategy.arguments() == before


def test_every_registered_strategy_is_a_frozen_dataclass() -> None:
    for name in ("constant", "zeros", "normal", "kaiming_normal", "variance_scaling", "sparse"):
        cls = STRATEGIES[name]
        assert dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    frozen = [
        cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        for name, cls in STRATEGIES.items()
        if name in MIRRORED_NAMES | {"variance_scaling", "lecun_normal", "lecun_uniform"}
    ]
    assert len(frozen) == len(MIRRORED_NAMES) + 3
    assert all(frozen)


def test_equality_and_hash() -> None:
    assert Normal(0.0, 0.01) == Normal(0.0, 0.01)
    assert hash(Normal(0.0, 0.01)) == hash(Normal(0.0, 0.01))
    assert Normal(0.0, 0.01) != Normal(0.0, 0.02)
    assert Zeros() == Zeros()
    assert Zeros() != Ones()
    assert KaimingNormal(mode="fan_out") != KaimingUniform(mode="fan_out")
    assert len({Normal(std=1), Normal(std=1.0), Normal(), Zeros(), Zeros()}) == 2
    assert {KaimingNormal(): "k"}[KaimingNormal(a=0)] == "k"


@pytest.mark.parametrize(
    ("strategy", "field", "value"),
    [
        (Normal(std=1), "std", 1.0),
        (Normal(mean=-2), "mean", -2.0),
        (Uniform(a=-1, b=1), "a", -1.0),
        (Uniform(a=-1, b=1), "b", 1.0),
        (Constant(1), "val", 1.0),
        (TruncNormal(a=-1, b=3), "b", 3.0),
        (Sparse(sparsity=0, std=1), "sparsity", 0.0),
        (Sparse(sparsity=0, std=1), "std", 1.0),
        (Orthogonal(gain=2), "gain", 2.0),
        (XavierUniform(gain=2), "gain", 2.0),
        (KaimingNormal(a=0), "a", 0.0),
        (VarianceScaling(scale=2), "scale", 2.0),
    ],
)
def test_numbers_are_normalised_to_float(strategy: Strategy, field: str, value: float) -> None:
    stored = getattr(strategy, field)
    assert type(stored) is float
    assert stored == value


def test_int_and_float_arguments_give_equal_strategies() -> None:
    assert Normal(std=1).std == 1.0
    assert Normal(std=1) == Normal(std=1.0)
    assert repr(Normal(std=1)) == "Normal(mean=0.0, std=1.0)"
    assert Dirac(groups=2).groups == 2
    assert type(Dirac(groups=2).groups) is int


# --------------------------------------------------------------------------- check_shape

FAN_BASED = [
    XavierUniform(),
    XavierNormal(),
    KaimingUniform(),
    KaimingNormal(),
    Orthogonal(),
    VarianceScaling(),
    LecunNormal(),
    LecunUniform(),
]


@pytest.mark.parametrize("strategy", FAN_BASED, ids=lambda s: s.name)
@pytest.mark.parametrize("shape", [(5,), ()], ids=_shape_id)
def test_check_shape_fan_based_needs_two_dimensions(
    strategy: Strategy, shape: tuple[int, ...]
) -> None:
    assert strategy.check_shape(shape) == "needs a tensor with at least 2 dimensions"


@pytest.mark.parametrize("strategy", FAN_BASED, ids=lambda s: s.name)
@pytest.mark.parametrize("shape", [(3, 4), (4, 2, 3, 3), (2, 2, 2, 2, 2, 2)], ids=_shape_id)
def test_check_shape_fan_based_accepts_matrices_and_kernels(
    strategy: Strategy, shape: tuple[int, ...]
) -> None:
    assert strategy.check_shape(shape) is None


@pytest.mark.parametrize(
    ("strategy", "shape", "expected"),
    [
        (Eye(), (2, 3, 4), "needs a tensor with exactly 2 dimensions"),
        (Eye(), (2, 3), None),
        (Sparse(0.1), (2, 3, 4), "needs a tensor with exactly 2 dimensions"),
        (Sparse(0.1), (20, 3), None),
        (Dirac(), (3, 3), "needs a tensor with 3 to 5 dimensions"),
        (Dirac(), (2, 2, 2, 2, 2, 2), "needs a tensor with 3 to 5 dimensions"),
        (Dirac(), (3, 3, 3), None),
        (Dirac(groups=2), (3, 3, 3), "needs dimension 0 divisible by groups=2"),
        (Dirac(groups=2), (6, 2, 3, 3), None),
        (Dirac(groups=3), (4, 2, 3, 3, 3), "needs dimension 0 divisible by groups=3"),
        (Dirac(groups=2), (4,), "needs a tensor with 3 to 5 dimensions"),
        (Ones(), (5,), None),
        (Ones(), (), None),
        (Zeros(), (5,), None),
        (Constant(2.0), (5,), None),
        (Uniform(), (5,), None),
        (Normal(), (), None),
        (TruncNormal(), (5,), None),
        (TorchDefault(), (5,), None),
    ],
    ids=lambda value: _shape_id(value) if isinstance(value, tuple) else None,
)
def test_check_shape(strategy: Strategy, shape: tuple[int, ...], expected: str | None) -> None:
    assert strategy.check_shape(shape) == expected


@pytest.mark.parametrize("shape", [(), (5,), (3, 4, 5), (4, 2, 3, 3)], ids=_shape_id)
@pytest.mark.parametrize("strategy", [Eye(), Sparse(0.5)], ids=lambda s: s.name)
def test_check_shape_refuses_everything_but_matrices(
    strategy: Strategy, shape: tuple[int, ...]
) -> None:
    assert strategy.check_shape(shape) is not None


CHECK_SHAPE_STRATEGIES = [
    Uniform(),
    Normal(),
    Constant(0.5),
    Zeros(),
    Ones(),
    Eye(),
    Dirac(),
    Dirac(groups=2),
    XavierUniform(),
    XavierNormal(),
    KaimingUniform(),
    KaimingNormal(),
    TruncNormal(),
    Orthogonal(),
    Sparse(0.5),
    VarianceScaling(),
    LecunNormal(),
    LecunUniform(),
]


@pytest.mark.parametrize("strategy", CHECK_SHAPE_STRATEGIES, ids=lambda s: s.describe())
@pytest.mark.parametrize(
    "shape",
    [(), (5,), (4, 6), (3, 4, 5), (4, 2, 3, 3), (4, 2, 3, 3, 3), (2, 2, 2, 2, 2, 2)],
    ids=_shape_id,
)
def test_check_shape_agrees_with_calling(strategy: Strategy, shape: tuple[int, ...]) -> None:
    problem = strategy.check_shape(shape)
    tensor = torch.empty(shape)
    if problem is None:
        assert strategy(tensor, generator=torch.Generator().manual_seed(0)) is tensor
    else:
        with pytest.raises((ValueError, TorchInitError)):
            strategy(tensor, generator=torch.Generator().manual_seed(0))


# --------------------------------------------------------------------------- validation

VALIDATION_ERRORS = [
    (
        lambda: KaimingNormal(mode="fanin"),
        InvalidArgumentError,
        "kaiming_normal.mode: must be one of ['fan_in', 'fan_out'] (got 'fanin')",
    ),
    (
        lambda: KaimingNormal(mode="fan_avg"),
        InvalidArgumentError,
        "kaiming_normal.mode: must be one of ['fan_in', 'fan_out'] (got 'fan_avg')",
    ),
    (
        lambda: KaimingUniform(mode=3),
        ArgumentTypeError,
        "kaiming_uniform.mode: must be one of ['fan_in', 'fan_out'] (got 3)",
    ),
    (
        lambda: KaimingUniform(nonlinearity="rleu"),
        InvalidArgumentError,
        f"kaiming_uniform.nonlinearity: must be one of {list(torchinit.fans.NONLINEARITIES)}; "
        "did you mean 'relu'? (got 'rleu')",
    ),
    (
        lambda: KaimingNormal(a=-0.1),
        OutOfRangeError,
        "kaiming_normal.a: must be >= 0 (got -0.1)",
    ),
    (
        lambda: KaimingNormal(a="0.1"),
        InvalidArgumentError,  # torch: ValueError("negative_slope 0.1 not a valid number")
        "kaiming_normal.a: must be a number (got '0.1')",
    ),
    (lambda: Normal(std=-1), OutOfRangeError, "normal.std: must be >= 0 (got -1)"),
    (lambda: Normal(std="0.1"), ArgumentTypeError, "normal.std: must be a number (got '0.1')"),
    (lambda: Normal(std=True), ArgumentTypeError, "normal.std: must be a number (got True)"),
    (lambda: Normal(mean=False), ArgumentTypeError, "normal.mean: must be a number (got False)"),
    (
        lambda: Normal(mean=float("nan")),
        InvalidArgumentError,
        "normal.mean: must be finite (got nan)",
    ),
    (
        lambda: Normal(std=float("inf")),
        InvalidArgumentError,
        "normal.std: must be finite (got inf)",
    ),
    (lambda: Normal(std=None), ArgumentTypeError, "normal.std: must be a number (got None)"),
    (lambda: Uniform(a=1, b=0), OutOfRangeError, "uniform.b: must be >= a=1.0 (got 0)"),
    (lambda: Uniform(a="0"), ArgumentTypeError, "uniform.a: must be a number (got '0')"),
    (
        lambda: Uniform(b=float("-inf")),
        InvalidArgumentError,
        "uniform.b: must be finite (got -inf)",
    ),
    (
        lambda: TruncNormal(a=1, b=1),
        OutOfRangeError,
        "trunc_normal.b: must be > a=1.0 (got 1)",
    ),
    (
        lambda: TruncNormal(std=-0.5),
        InvalidArgumentError,
        "trunc_normal.std: must be > 0 (got -0.5)",
    ),
    (lambda: TruncNormal(a=True), ArgumentTypeError, "trunc_normal.a: must be a number (got True)"),
    (
        lambda: Sparse(sparsity=1.0),
        InvalidArgumentError,
        "sparse.sparsity: must be in [0, 1) (got 1.0)",
    ),
    (
        lambda: Sparse(sparsity=1),
        InvalidArgumentError,
        "sparse.sparsity: must be in [0, 1) (got 1)",
    ),
    (
        lambda: Sparse(sparsity=-0.1),
        InvalidArgumentError,
        "sparse.sparsity: must be in [0, 1) (got -0.1)",
    ),
    (
        lambda: Sparse(sparsity="0.5"),
        ArgumentTypeError,
        "sparse.sparsity: must be a number (got '0.5')",
    ),
    (lambda: Sparse(0.5, std=-1), OutOfRangeError, "sparse.std: must be >= 0 (got -1)"),
    (lambda: Dirac(groups=0), InvalidArgumentError, "dirac.groups: must be >= 1 (got 0)"),
    (lambda: Dirac(groups=1.0), ArgumentTypeError, "dirac.groups: must be an integer (got 1.0)"),
    (lambda: Dirac(groups=True), ArgumentTypeError, "dirac.groups: must be an integer (got True)"),
    (
        lambda: XavierUniform(gain=0),
        InvalidArgumentError,
        "xavier_uniform.gain: must be > 0 (got 0)",
    ),
    (
        lambda: XavierNormal(gain=-1.5),
        InvalidArgumentError,
        "xavier_normal.gain: must be > 0 (got -1.5)",
    ),
    (lambda: Orthogonal(gain=0), InvalidArgumentError, "orthogonal.gain: must be > 0 (got 0)"),
    (
        lambda: Constant(float("inf")),
        InvalidArgumentError,
        "constant.val: must be finite (got inf)",
    ),
    (lambda: Constant(None), ArgumentTypeError, "constant.val: must be a number (got None)"),
    (lambda: Constant(True), ArgumentTypeError, "constant.val: must be a number (got True)"),
    (
        lambda: VarianceScaling(distribution="gauss"),
        InvalidArgumentError,
        "variance_scaling.distribution: must be one of ['normal', 'truncated_normal', 'uniform', "
        "'untruncated_normal'] (got 'gauss')",
    ),
    (
        lambda: VarianceScaling(distribution=None),
        ArgumentTypeError,
        "variance_scaling.distribution: must be one of ['normal', 'truncated_normal', 'uniform', "
        "'untruncated_normal'] (got None)",
    ),
    (
        lambda: VarianceScaling(mode="fan_inn"),
        InvalidArgumentError,
        "variance_scaling.mode: must be one of ['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'] "
        "(got 'fan_inn')",
    ),
    (
        lambda: VarianceScaling(scale=0),
        InvalidArgumentError,
        "variance_scaling.scale: must be > 0 (got 0)",
    ),
    (
        lambda: VarianceScaling(scale=float("nan")),
        InvalidArgumentError,
        "variance_scaling.scale: must be finite (got nan)",
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [pytest.param(*case, id=case[2]) for case in VALIDATION_ERRORS],
)
def test_validation_error_messages(
    build: Callable[[], Strategy], error: type[TorchInitError], message: str
) -> None:
    with pytest.raises(TorchInitError) as info:
        build()
    assert type(info.value) is error
    assert str(info.value) == message
    builtin = ValueError if issubclass(error, InvalidArgumentError) else TypeError
    assert isinstance(info.value, builtin)
    # a bad range is what torch raises RuntimeError for
    assert isinstance(info.value, RuntimeError) is (error is OutOfRangeError)


# --------------------------------------------------------------------------- get_strategy


def test_get_strategy_builds_by_name() -> None:
    built = get_strategy("kaiming_normal", mode="fan_out", nonlinearity="relu")
    assert built == KaimingNormal(mode="fan_out", nonlinearity="relu")
    assert get_strategy("zeros") == Zeros()
    assert get_strategy("normal", std=0.01) == Normal(std=0.01)
    assert get_strategy("sparse", sparsity=0.25) == Sparse(0.25)
    assert get_strategy("lecun_normal") == LecunNormal()


BUILTIN_NAMES = MIRRORED_NAMES | {
    "variance_scaling",
    "fan_uniform",
    "fan_trunc_normal",
    "padded_normal",
    "trunc_normal_icdf",
    "lecun_normal",
    "lecun_uniform",
    "torch_default",
}


def test_every_builtin_strategy_is_registered_and_public() -> None:
    assert set(STRATEGIES) >= BUILTIN_NAMES
    for name in BUILTIN_NAMES:
        cls = STRATEGIES[name]
        assert cls.name == name
        assert getattr(torchinit, cls.__name__) is cls
        assert cls.__name__ in torchinit.__all__


def test_get_strategy_typo_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_strategy("kaiming_norml")
    message = str(info.value)
    assert message == (
        "unknown strategy; did you mean 'kaiming_normal'? "
        f"available: {sorted(STRATEGIES)} (got 'kaiming_norml')"
    )
    assert not message.startswith(("'", '"'))
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, TorchInitError)


def test_get_strategy_unknown_name_without_suggestion() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_strategy("qqqqqq")
    assert str(info.value) == f"unknown strategy; available: {sorted(STRATEGIES)} (got 'qqqqqq')"


def test_get_strategy_unknown_argument_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_strategy("normal", stdd=0.1)
    assert str(info.value) == (
        "normal.stdd: unknown argument; did you mean 'std'? normal takes ['mean', 'std'] (got 0.1)"
    )
    assert isinstance(info.value, KeyError)


def test_get_strategy_unknown_argument_without_suggestion() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_strategy("zeros", value=0)
    assert str(info.value) == "zeros.value: unknown argument; zeros takes [] (got 0)"


def test_get_strategy_missing_required_argument() -> None:
    with pytest.raises(ArgumentTypeError) as info:
        get_strategy("sparse")
    assert str(info.value) == "sparse.sparsity: missing required argument"
    assert isinstance(info.value, TypeError)
    assert not info.value.has_value


def test_get_strategy_passes_validation_errors_through() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        get_strategy("kaiming_uniform", mode="fanin")
    assert str(info.value) == (
        "kaiming_uniform.mode: must be one of ['fan_in', 'fan_out'] (got 'fanin')"
    )


# --------------------------------------------------------------------------- to_strategy


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("zeros", Zeros()),
        ({"normal": {"std": 0.01}}, Normal(std=0.01)),
        ({"zeros": None}, Zeros()),
        ({"zeros": {}}, Zeros()),
        (
            {"kaiming_normal": {"mode": "fan_out", "nonlinearity": "relu"}},
            KaimingNormal(mode="fan_out", nonlinearity="relu"),
        ),
        ({"sparse": {"sparsity": 0.1}}, Sparse(0.1)),
    ],
    ids=repr,
)
def test_to_strategy_accepts(spec: Any, expected: Strategy) -> None:
    assert to_strategy(spec) == expected
    assert to_strategy(spec, path="rules[0].weight") == expected


def test_to_strategy_returns_a_strategy_unchanged() -> None:
    strategy = Normal(std=0.5)
    assert to_strategy(strategy) is strategy


REJECTED_SPECS = [
    (
        3,
        ArgumentTypeError,
        "rules[0].weight: must be a Strategy, a strategy name, a one-key mapping "
        "{name: {arguments}} or a function of a tensor (got 3)",
    ),
    (
        {"a": 1, "b": 2},
        ArgumentTypeError,
        "rules[0].weight: must be a Strategy, a strategy name, a one-key mapping "
        "{name: {arguments}} or a function of a tensor (got {'a': 1, 'b': 2})",
    ),
    (
        {},
        ArgumentTypeError,
        "rules[0].weight: must be a Strategy, a strategy name, a one-key mapping "
        "{name: {arguments}} or a function of a tensor (got {})",
    ),
    (
        Normal,
        ArgumentTypeError,
        "rules[0].weight: is a strategy class, not a strategy; build one: Normal() "
        "(got <class 'torchinit.strategies.basic.Normal'>)",
    ),
    (
        dict,
        ArgumentTypeError,
        "rules[0].weight: must be a Strategy, a strategy name, a one-key mapping "
        "{name: {arguments}} or a function of a tensor (got <class 'dict'>)",
    ),
    (
        {"normal": 5},
        ArgumentTypeError,
        "rules[0].weight.normal: arguments must be a mapping of name to value (got 5)",
    ),
    (
        {"normal": {"std": -1}},
        OutOfRangeError,
        "rules[0].weight.normal.std: must be >= 0 (got -1)",
    ),
    (
        {"normal": {"sdt": 1}},
        UnknownNameError,
        "rules[0].weight.normal.sdt: unknown argument; did you mean 'std'? "
        "normal takes ['mean', 'std'] (got 1)",
    ),
    (
        {"sparse": {}},
        ArgumentTypeError,
        "rules[0].weight.sparse.sparsity: missing required argument",
    ),
]


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [pytest.param(*case, id=case[2]) for case in REJECTED_SPECS],
)
def test_to_strategy_rejects_with_path(spec: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(TorchInitError) as info:
        to_strategy(spec, path="rules[0].weight")
    assert type(info.value) is error
    assert str(info.value) == message


def test_to_strategy_rejects_without_path() -> None:
    with pytest.raises(ArgumentTypeError) as info:
        to_strategy(3)
    assert str(info.value) == (
        "must be a Strategy, a strategy name, a one-key mapping {name: {arguments}} or a "
        "function of a tensor (got 3)"
    )
    with pytest.raises(InvalidArgumentError) as invalid:
        to_strategy({"normal": {"std": -1}})
    assert str(invalid.value) == "normal.std: must be >= 0 (got -1)"


@pytest.mark.parametrize("spec", ["nrmal", {"nrmal": {"std": 1}}, {"nrmal": 5}], ids=repr)
def test_to_strategy_unknown_name_with_path(spec: Any) -> None:
    with pytest.raises(UnknownNameError) as info:
        to_strategy(spec, path="rules[0].weight")
    assert str(info.value) == (
        "rules[0].weight: unknown strategy; did you mean 'normal'? "
        f"available: {sorted(STRATEGIES)} (got 'nrmal')"
    )


def test_to_strategy_non_string_argument_name() -> None:
    with pytest.raises(TorchInitError) as info:
        to_strategy({"normal": {1: 2}}, path="rules[0].weight")
    assert str(info.value).startswith("rules[0].weight.normal")


SPEC_ROUND_TRIP = [
    Zeros(),
    Ones(),
    Constant(0.5),
    Eye(),
    Dirac(groups=2),
    Uniform(-0.1, 0.1),
    Normal(0.0, 0.01),
    TruncNormal(std=0.02, a=-0.04, b=0.04),
    Orthogonal(gain=2.0),
    Sparse(0.1, std=0.02),
    XavierUniform(gain=2.0),
    XavierNormal(),
    KaimingUniform(a=0.2, mode="fan_out"),
    KaimingNormal(mode="fan_out", nonlinearity="relu"),
    VarianceScaling(2.0, "fan_avg", "uniform"),
    LecunNormal(),
    LecunUniform(),
    TorchDefault(),
]


@pytest.mark.parametrize("strategy", SPEC_ROUND_TRIP, ids=lambda s: s.describe())
def test_to_spec_round_trips_through_to_strategy(strategy: Strategy) -> None:
    assert to_strategy(strategy.to_spec()) == strategy


def test_to_spec_and_describe() -> None:
    assert Normal(0.0, 0.01).to_spec() == {"normal": {"mean": 0.0, "std": 0.01}}
    assert Zeros().to_spec() == "zeros"
    assert TorchDefault().to_spec() == "torch_default"
    assert KaimingNormal(mode="fan_out", nonlinearity="relu").to_spec() == {
        "kaiming_normal": {"a": 0.0, "mode": "fan_out", "nonlinearity": "relu"}
    }
    assert Dirac(groups=2).to_spec() == {"dirac": {"groups": 2}}
    assert KaimingNormal(mode="fan_out", nonlinearity="relu").describe() == (
        "kaiming_normal(a=0.0, mode='fan_out', nonlinearity='relu')"
    )
    assert Zeros().describe() == "zeros()"
    assert Normal(0.0, 0.01).describe() == "normal(mean=0.0, std=0.01)"
    assert list(TruncNormal().arguments()) == ["mean", "std", "a", "b"]
    assert LecunUniform().arguments() == {}


# --------------------------------------------------------------------------- register_strategy


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered by a test; removed afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        STRATEGIES.remove(name)


@dataclasses.dataclass(frozen=True)
class _Fill(Strategy):
    value: float = 0.5

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return init.constant_(tensor, self.value)


@dataclasses.dataclass(frozen=True)
class _OtherFill(Strategy):
    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return init.constant_(tensor, -1.0)


def test_register_strategy_and_build_it(registered: list[str]) -> None:
    registered.append("test_fill")

    @register_strategy("test_fill")
    @dataclasses.dataclass(frozen=True)
    class Fill(_Fill):
        pass

    assert STRATEGIES["test_fill"] is Fill
    assert Fill.name == "test_fill"
    built = get_strategy("test_fill", value=0.25)
    assert built == Fill(0.25)
    assert built(torch.empty(3)).tolist() == [0.25, 0.25, 0.25]
    assert to_strategy({"test_fill": {"value": 2.0}}) == Fill(2.0)
    assert Fill(0.25).to_spec() == {"test_fill": {"value": 0.25}}


def test_register_strategy_refuses_a_taken_name(registered: list[str]) -> None:
    registered.append("test_taken")

    @register_strategy("test_taken")
    @dataclasses.dataclass(frozen=True)
    class First(_Fill):
        pass

    with pytest.raises(RegistryError) as info:
        register_strategy("test_taken")(_OtherFill)
    assert str(info.value) == (
        "name: a strategy named 'test_taken' is already registered; "
        "pass overwrite=True to replace it (got 'test_taken')"
    )
    assert isinstance(info.value, ValueError)
    assert STRATEGIES["test_taken"] is First


def test_register_strategy_refuses_a_builtin_name() -> None:
    @dataclasses.dataclass(frozen=True)
    class Impostor(_Fill):
        pass

    with pytest.raises(RegistryError):
        register_strategy("normal")(Impostor)
    assert STRATEGIES["normal"] is Normal
    assert Normal.name == "normal"
    assert Impostor.name == ""


def test_register_strategy_overwrite(registered: list[str]) -> None:
    registered.append("test_over")

    @register_strategy("test_over")
    @dataclasses.dataclass(frozen=True)
    class First(_Fill):
        pass

    @register_strategy("test_over", overwrite=True)
    @dataclasses.dataclass(frozen=True)
    class Second(_OtherFill):
        pass

    assert STRATEGIES["test_over"] is Second
    assert get_strategy("test_over")(torch.empty(2)).tolist() == [-1.0, -1.0]


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        (int, "<class 'int'>"),
        (Normal(), "Normal(mean=0.0, std=1.0)"),
        (len, "<built-in function len>"),
    ],
)
def test_register_strategy_refuses_non_strategies(entry: Any, shown: str) -> None:
    with pytest.raises(ArgumentTypeError) as info:
        register_strategy("test_not_a_strategy")(entry)
    assert str(info.value) == (
        f"strategy 'test_not_a_strategy': must be a subclass of torchinit.Strategy (got {shown})"
    )
    assert "test_not_a_strategy" not in STRATEGIES


def test_register_strategy_refuses_a_bad_name() -> None:
    @dataclasses.dataclass(frozen=True)
    class Fill(_Fill):
        pass

    with pytest.raises(RegistryError) as info:
        register_strategy("my-fill")(Fill)
    assert str(info.value) == "name: strategy names must be Python identifiers (got 'my-fill')"
    assert "my-fill" not in STRATEGIES


# --------------------------------------------------------------------------- TorchDefault


def test_torch_default_refuses_a_bare_tensor() -> None:
    with pytest.raises(ArgumentTypeError) as info:
        TorchDefault()(torch.empty(3, 3))
    assert str(info.value) == (
        "torch_default: resets a whole layer and cannot fill a lone tensor; use it in a policy rule"
    )
    assert TorchDefault.module_level
    assert not Normal.module_level


def _reference_reset(module: nn.Module, seed: int) -> torch.Tensor:
    """Reset ``module`` under ``torch.manual_seed(seed)``; return the global state after it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module.reset_parameters()  # type: ignore[operator]
        return torch.get_rng_state()


def test_torch_default_reset_with_generator_matches_manual_seed() -> None:
    expected = nn.Linear(16, 8)
    state_after_reference = _reference_reset(expected, seed=7)

    layer = nn.Linear(16, 8)
    torch.manual_seed(123)
    global_before = torch.get_rng_state()
    generator = torch.Generator().manual_seed(7)
    TorchDefault().reset(layer, generator=generator)

    assert torch.equal(layer.weight, expected.weight)
    assert torch.equal(layer.bias, expected.bias)
    assert torch.equal(torch.get_rng_state(), global_before)
    # the generator was advanced exactly as the default generator would have been
    assert torch.equal(generator.get_state(), state_after_reference)


def test_torch_default_reset_without_generator_uses_global_rng() -> None:
    expected = nn.Conv2d(3, 4, 3)
    _reference_reset(expected, seed=3)
    layer = nn.Conv2d(3, 4, 3)
    torch.manual_seed(3)
    TorchDefault().reset(layer)
    assert torch.equal(layer.weight, expected.weight)
    assert torch.equal(layer.bias, expected.bias)


def test_torch_default_reset_uses_underscore_reset_parameters() -> None:
    expected = nn.MultiheadAttention(8, 2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        expected._reset_parameters()
    layer = nn.MultiheadAttention(8, 2)
    TorchDefault().reset(layer, generator=torch.Generator().manual_seed(4))
    assert torch.equal(layer.in_proj_weight, expected.in_proj_weight)


def test_torch_default_reset_of_a_layer_without_reset_method() -> None:
    with pytest.raises(InvalidArgumentError) as info:
        TorchDefault().reset(nn.ReLU())
    assert str(info.value) == (
        "torch_default: has no reset_parameters() or _reset_parameters() method (got 'ReLU')"
    )


class _FailingReset(nn.Module):
    def reset_parameters(self) -> None:
        torch.rand(10)
        raise RuntimeError("boom")


def test_torch_default_reset_restores_global_rng_when_reset_fails() -> None:
    torch.manual_seed(9)
    global_before = torch.get_rng_state()
    with pytest.raises(RuntimeError, match="boom"):
        TorchDefault().reset(_FailingReset(), generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), global_before)


# every torch layer with a reset method; modules() of the composite ones are reset one by one
_TORCH_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "Linear": lambda: nn.Linear(5, 3),
    "Bilinear": lambda: nn.Bilinear(3, 4, 2),
    "Conv1d": lambda: nn.Conv1d(2, 4, 3),
    "Conv2d": lambda: nn.Conv2d(2, 4, 3, groups=2),
    "Conv3d": lambda: nn.Conv3d(2, 3, 2),
    "ConvTranspose1d": lambda: nn.ConvTranspose1d(2, 4, 3),
    "ConvTranspose2d": lambda: nn.ConvTranspose2d(2, 4, 3, groups=2),
    "ConvTranspose3d": lambda: nn.ConvTranspose3d(2, 3, 2),
    "Embedding": lambda: nn.Embedding(6, 3, padding_idx=0),
    "EmbeddingBag": lambda: nn.EmbeddingBag(6, 3, padding_idx=1),
    "MultiheadAttention": lambda: nn.MultiheadAttention(8, 2, add_bias_kv=True),
    "MultiheadAttention-kdim": lambda: nn.MultiheadAttention(8, 2, kdim=4, vdim=6),
    "RNN": lambda: nn.RNN(3, 4, num_layers=2),
    "LSTM": lambda: nn.LSTM(3, 4, proj_size=2),
    "GRU": lambda: nn.GRU(3, 4, bidirectional=True),
    "RNNCell": lambda: nn.RNNCell(3, 4),
    "LSTMCell": lambda: nn.LSTMCell(3, 4),
    "GRUCell": lambda: nn.GRUCell(3, 4),
    "LayerNorm": lambda: nn.LayerNorm(4),
    "BatchNorm1d": lambda: nn.BatchNorm1d(4),
    "BatchNorm2d": lambda: nn.BatchNorm2d(4),
    "GroupNorm": lambda: nn.GroupNorm(2, 4),
    "InstanceNorm1d": lambda: nn.InstanceNorm1d(4, affine=True, track_running_stats=True),
    "RMSNorm": lambda: nn.RMSNorm(4),
    "PReLU": lambda: nn.PReLU(3),
    "Transformer": lambda: nn.Transformer(8, 2, 1, 1, 16, batch_first=True),
    "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
    "TransformerDecoderLayer": lambda: nn.TransformerDecoderLayer(8, 2, 16, batch_first=True),
}


def _reset_each(model: nn.Module, reset: Callable[[nn.Module, torch.Generator], None]) -> None:
    """Reset every module of ``model`` that has a reset method, each from its keyed generator."""
    keyed = KeyedSeeding(3, model)
    for name, module in model.named_modules():
        if reset_method_name(module) is not None:
            reset(module, keyed.generator([name or "layer"], TorchDefault()))


def _swapped_reset(module: nn.Module, generator: torch.Generator) -> None:
    """The reset as ``drawing_from`` once did it: the generator's state swapped into torch's
    default generator around the call, the advanced state handed back."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.set_state(generator.get_state())
        getattr(module, reset_method_name(module) or "")()
        generator.set_state(torch.default_generator.get_state())


@pytest.mark.parametrize("build", _TORCH_LAYERS.values(), ids=_TORCH_LAYERS.keys())
def test_torch_default_keyed_reset_of_every_torch_layer_draws_as_the_default_generator(
    build: Callable[[], nn.Module],
) -> None:
    torch.manual_seed(0)
    layer = build()
    expected = copy.deepcopy(layer)
    states: list[torch.Tensor] = []
    expected_states: list[torch.Tensor] = []

    def reset(module: nn.Module, generator: torch.Generator) -> None:
        TorchDefault().reset(module, generator=generator)
        states.append(generator.get_state())

    def swapped(module: nn.Module, generator: torch.Generator) -> None:
        _swapped_reset(module, generator)
        expected_states.append(generator.get_state())

    global_before = torch.get_rng_state()
    _reset_each(layer, reset)
    assert torch.equal(torch.get_rng_state(), global_before)
    _reset_each(expected, swapped)
    assert len(states) == len(expected_states) > 0
    assert all(map(torch.equal, states, expected_states))
    expected_values = expected.state_dict()
    for name, value in layer.state_dict().items():
        assert torch.equal(value, expected_values[name]), name


class _DropoutReset(nn.Module):
    """A layer whose reset draws through dropout, which takes no generator."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3, 4))

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.copy_(nn.functional.dropout(torch.ones(3, 4), 0.5))


def test_torch_default_refuses_a_reset_that_would_draw_from_the_global_generator() -> None:
    layer = _DropoutReset()
    before = torch.get_rng_state()
    with pytest.raises(InvalidArgumentError) as info:
        TorchDefault().reset(layer, generator=torch.Generator())
    assert str(info.value) == (
        "torch_default: would draw from torch's global random number generator "
        "(aten.bernoulli_.float) although a generator was given (seed= or generator=); use "
        "random functions that take generator= (torch.nn.init's, Tensor.normal_, "
        "torch.randn, ...), which get it (got '_DropoutReset')"
    )
    assert torch.equal(torch.get_rng_state(), before)  # refused before it drew
    assert torch.equal(layer.weight, torch.ones(3, 4))


def test_drawing_from_without_a_generator_draws_from_the_global_one() -> None:
    torch.manual_seed(2)
    expected = torch.randn(3)
    torch.manual_seed(2)
    with drawing_from(None):
        drawn = torch.randn(3)
    assert torch.equal(drawn, expected)


class _PausingLinear(nn.Linear):
    """``nn.Linear(4, 3)`` whose reset calls ``between()`` between its two draws."""

    def __init__(self) -> None:
        # a plain function, not a bound method: a meta model's layer is deep-copied
        self.between: Callable[[], object] = lambda: None
        super().__init__(4, 3)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.between()
        init.uniform_(self.bias, -0.5, 0.5)


def _pausing_model(device: str = "cpu") -> nn.Sequential:
    with torch.device(device):
        return nn.Sequential(nn.Linear(3, 4), _PausingLinear())


class _Worker(threading.Thread):
    """Runs ``work`` on its own thread; :meth:`finish` joins it and re-raises its error."""

    def __init__(self, work: Callable[[], object], on_error: Callable[[], object]) -> None:
        super().__init__()
        self.work = work
        self.on_error = on_error  # releases the threads that wait for this one
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.work()
        except BaseException as error:
            self.error = error
            self.on_error()

    def finish(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


# how a test asks for drawing from a generator: keyed (seed=), or generator= (a fresh one)
_DRAWING: dict[str, Callable[[], dict[str, Any]]] = {
    "seed": lambda: {"seed": 3},
    "generator": lambda: {"generator": torch.Generator().manual_seed(3)},
}


@pytest.mark.parametrize("options", _DRAWING.values(), ids=_DRAWING.keys())
def test_a_layer_reset_and_a_thread_using_the_global_generator_do_not_disturb_each_other(
    options: Callable[[], dict[str, Any]],
) -> None:
    expected = _pausing_model()
    torchinit.init_model(expected, "torch_default", **options())
    torch.manual_seed(0)
    expected_drawn = [torch.randn(5), torch.randn(5)]

    model = _pausing_model()
    paused, resume = threading.Event(), threading.Event()

    def between() -> None:
        paused.set()
        resume.wait()

    model[1].between = between
    torch.manual_seed(0)
    worker = _Worker(lambda: torchinit.init_model(model, "torch_default", **options()), paused.set)
    paused.wait()
    drawn = [torch.randn(5)]  # while the reset stands between its two draws
    resume.set()
    worker.finish()
    drawn.append(torch.randn(5))

    assert all(map(torch.equal, drawn, expected_drawn))
    assert all(map(torch.equal, model.parameters(), expected.parameters()))


@pytest.mark.parametrize("options", _DRAWING.values(), ids=_DRAWING.keys())
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_layer_resets_on_four_threads_at_once_equal_the_sequential_ones(
    options: Callable[[], dict[str, Any]], device: str
) -> None:
    # a meta model's parameters that no rule sets get their layer's default init
    policy: str | torchinit.Policy = "torch_default"
    if device == "meta":
        policy = torchinit.Policy([torchinit.Rule(name="0", weight="zeros")])
    materialize = {"device": "cpu"} if device == "meta" else {}
    expected = _pausing_model(device)
    torchinit.init_model(expected, policy, **materialize, **options())

    models = [_pausing_model(device) for _ in range(4)]
    # every thread makes its first draw before any makes its second
    barrier = threading.Barrier(len(models))
    for model in models:
        model[1].between = lambda: barrier.wait()
    workers = [
        _Worker(
            functools.partial(torchinit.init_model, model, policy, **materialize, **options()),
            barrier.abort,
        )
        for model in models
    ]
    for worker in workers:
        worker.finish()

    for model in models:
        assert all(map(torch.equal, model.parameters(), expected.parameters()))


# --------------------------------------------------------------------------- zero-element tensors

ZERO_SHAPES = [(0, 3), (3, 0), (0, 0), (0, 3, 3, 3), (4, 0, 3, 3)]
ZERO_MIRRORS = [
    (Uniform(), ref(init.uniform_)),
    (Normal(), ref(init.normal_)),
    (Constant(0.5), ref(init.constant_, 0.5, random=False)),
    (Zeros(), ref(init.zeros_, random=False)),
    (Ones(), ref(init.ones_, random=False)),
    (Eye(), ref(init.eye_, random=False)),
    (Dirac(), ref(init.dirac_, random=False)),
    (XavierUniform(), ref(init.xavier_uniform_)),
    (XavierNormal(), ref(init.xavier_normal_)),
    (KaimingUniform(), ref(init.kaiming_uniform_)),
    (KaimingNormal(), ref(init.kaiming_normal_)),
    (TruncNormal(), ref(init.trunc_normal_)),
    (Orthogonal(), ref(init.orthogonal_)),
    (Sparse(0.5), ref(init.sparse_, 0.5)),
]


def _outcome(call: Callable[[], torch.Tensor]) -> tuple[type[BaseException] | None, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
            error = None
        except Exception as exc:
            error = type(exc)
    return error, [str(warning.message) for warning in caught]


@pytest.mark.parametrize(
    ("strategy", "reference"),
    [pytest.param(*case, id=case[0].name) for case in ZERO_MIRRORS],
)
@pytest.mark.parametrize("shape", ZERO_SHAPES, ids=_shape_id)
def test_zero_element_tensors_behave_like_torch(
    strategy: Strategy, reference: Ref, shape: tuple[int, ...]
) -> None:
    if strategy.check_shape(shape) is not None:
        # a shape the strategy refuses anyway: torch refuses it too
        with pytest.raises(ValueError, match="Only tensors with"):
            reference(torch.empty(shape), None)
        return
    tensor = torch.empty(shape)
    ours = _outcome(lambda: strategy(tensor, generator=torch.Generator().manual_seed(0)))
    theirs = _outcome(lambda: reference(torch.empty(shape), torch.Generator().manual_seed(0)))
    assert ours == theirs


@pytest.mark.parametrize(
    ("strategy", "shape"),
    [
        (VarianceScaling(mode="fan_in"), (0, 3)),
        (VarianceScaling(mode="fan_out"), (3, 0)),
        (VarianceScaling(mode="fan_avg"), (0, 3, 3, 3)),
        (LecunNormal(), (0, 5)),
        (LecunUniform(), (0, 5, 3, 3)),
    ],
    ids=lambda value: _shape_id(value) if isinstance(value, tuple) else value.describe(),
)
def test_zero_element_tensors_with_a_positive_fan(
    strategy: Strategy, shape: tuple[int, ...]
) -> None:
    tensor = torch.empty(shape)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert strategy(tensor, generator=torch.Generator().manual_seed(0)) is tensor


@pytest.mark.parametrize(
    ("strategy", "shape"),
    [
        (VarianceScaling(mode="fan_in"), (3, 0)),
        (VarianceScaling(mode="fan_out"), (0, 3)),
        (LecunNormal(), (4, 0, 3, 3)),
        (LecunUniform(), (3, 0)),
    ],
    ids=lambda value: _shape_id(value) if isinstance(value, tuple) else value.describe(),
)
def test_zero_element_tensors_with_a_zero_fan(strategy: Strategy, shape: tuple[int, ...]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tensor = torch.empty(shape)
        assert strategy(tensor) is tensor


# --------------------------------------------------------------------------- dtypes and grads

ALL_STRATEGIES = [
    Uniform(-0.1, 0.1),
    Normal(0.0, 0.02),
    Constant(0.5),
    Zeros(),
    Ones(),
    Eye(),
    Dirac(),
    XavierUniform(),
    XavierNormal(),
    KaimingUniform(),
    KaimingNormal(),
    TruncNormal(std=0.02),
    Orthogonal(),
    Sparse(0.5),
    VarianceScaling(),
    VarianceScaling(distribution="normal"),
    VarianceScaling(distribution="uniform"),
    LecunNormal(),
    LecunUniform(),
]


def _shape_for(strategy: Strategy) -> tuple[int, ...]:
    return (6, 4, 3) if isinstance(strategy, Dirac) else (12, 8)


def _dtype_cases() -> Iterator[Any]:
    for dtype in (torch.float64, torch.bfloat16, torch.float16):
        for strategy in ALL_STRATEGIES:
            if isinstance(strategy, Orthogonal) and dtype != torch.float64:
                continue  # torch's QR has no half-precision CPU kernel; see the test below
            yield pytest.param(strategy, dtype, id=f"{strategy.describe()}-{dtype}")


@pytest.mark.parametrize(("strategy", "dtype"), list(_dtype_cases()))
def test_dtype_and_device_are_kept(strategy: Strategy, dtype: torch.dtype) -> None:
    tensor = torch.full(_shape_for(strategy), float("nan"), dtype=dtype)
    result = strategy(tensor, generator=torch.Generator().manual_seed(0))
    assert result is tensor
    assert result.dtype == dtype
    assert result.device == torch.device("cpu")
    assert result.shape == _shape_for(strategy)
    assert bool(torch.isfinite(result).all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_orthogonal_in_half_precision_fails_like_torch(dtype: torch.dtype) -> None:
    error, _ = _outcome(lambda: init.orthogonal_(torch.empty(4, 4, dtype=dtype)))
    assert _outcome(lambda: Orthogonal()(torch.empty(4, 4, dtype=dtype)))[0] is error


@pytest.mark.parametrize("strategy", ALL_STRATEGIES, ids=lambda s: s.describe())
def test_fills_a_parameter_that_requires_grad(strategy: Strategy) -> None:
    parameter = nn.Parameter(torch.full(_shape_for(strategy), float("nan")))
    result = strategy(parameter, generator=torch.Generator().manual_seed(0))
    assert result is parameter
    assert parameter.requires_grad
    assert parameter.grad_fn is None
    assert bool(torch.isfinite(parameter).all())


@dataclasses.dataclass(frozen=True)
class _InPlace(Strategy):
    """A user strategy that writes with a plain in-place op, not through torch.nn.init."""

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return tensor.uniform_(-1.0, 1.0, generator=generator)


def test_user_strategy_fills_a_parameter_that_requires_grad() -> None:
    parameter = nn.Parameter(torch.zeros(4, 3))
    # the plain op alone is refused on a leaf that requires grad
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        parameter.uniform_()
    result = _InPlace()(parameter, generator=torch.Generator().manual_seed(0))
    assert result is parameter
    assert parameter.requires_grad
    assert parameter.grad_fn is None
    assert bool((parameter != 0).all())


# --------------------------------------------------------------------------- CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_generator_matches_torch() -> None:
    shape = (64, 32, 3, 3)
    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state()
    ours = torch.Generator(device="cuda").manual_seed(17)
    theirs = torch.Generator(device="cuda").manual_seed(17)

    result = KaimingNormal(mode="fan_out", nonlinearity="relu")(
        torch.empty(shape, device="cuda"), generator=ours
    )
    expected = init.kaiming_normal_(
        torch.empty(shape, device="cuda"), mode="fan_out", nonlinearity="relu", generator=theirs
    )
    assert result.device.type == "cuda"
    assert torch.equal(result, expected)
    assert torch.equal(ours.get_state(), theirs.get_state())
    assert torch.equal(torch.get_rng_state(), cpu_state)
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_torch_default_reset_with_cuda_generator() -> None:
    expected = nn.Linear(32, 16, device="cuda")
    with torch.random.fork_rng(devices=[torch.cuda.current_device()]):
        torch.cuda.manual_seed(5)
        expected.reset_parameters()
    layer = nn.Linear(32, 16, device="cuda")
    cuda_state = torch.cuda.get_rng_state()
    TorchDefault().reset(layer, generator=torch.Generator(device="cuda").manual_seed(5))
    assert torch.equal(layer.weight, expected.weight)
    assert torch.equal(layer.bias, expected.bias)
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)


# --------------------------------------------------------------------------- fan_uniform


@pytest.mark.parametrize(("shape", "mode"), [((1000, 1280), "fan_out"), ((16, 8, 3, 3), "fan_in")])
def test_fan_uniform_equals_the_hand_written_bound(shape: tuple[int, ...], mode: str) -> None:
    """torchvision's EfficientNet: init_range = 1.0 / math.sqrt(m.out_features)."""
    fan_in, fan_out = torchinit.calculate_fans(shape)
    fan = fan_out if mode == "fan_out" else fan_in
    torch.manual_seed(3)
    bound = 1.0 / math.sqrt(fan)
    expected = torch.nn.init.uniform_(torch.empty(shape), -bound, bound)
    torch.manual_seed(3)
    actual = torchinit.FanUniform(mode=mode)(torch.empty(shape))
    assert torch.equal(actual, expected)


def test_fan_uniform_is_variance_scaling_and_follows_its_distribution() -> None:
    strategy = torchinit.FanUniform(gain=2.0, mode="fan_avg")
    shape = (300, 200)
    vs = strategy.as_variance_scaling()
    assert vs == torchinit.VarianceScaling(4.0 / 3.0, "fan_avg", "uniform")
    bound = 2.0 / math.sqrt(250.0)
    assert math.isclose(vs.std(shape) * math.sqrt(3.0), bound, rel_tol=1e-12)
    sample = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(0))
    assert float(sample.abs().max()) <= bound
    assert (
        stats.kstest(sample.flatten().double().numpy(), "uniform", args=(-bound, 2 * bound)).pvalue
        > 1e-4
    )


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda: torchinit.FanUniform(gain=0),
            InvalidArgumentError,
            "fan_uniform.gain: must be > 0 (got 0)",
        ),
        (
            lambda: torchinit.FanUniform(mode="fan"),
            InvalidArgumentError,
            "fan_uniform.mode: must be one of ['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'] "
            "(got 'fan')",
        ),
    ],
)
def test_fan_uniform_validation(build: Any, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        build()
    assert str(info.value) == message


# --------------------------------------------------------------------------- padded_normal


def test_padded_normal_draws_like_normal_then_zeroes_the_row() -> None:
    torch.manual_seed(5)
    expected = torch.nn.init.normal_(torch.empty(10, 4), 0.0, 0.02)
    expected[3].zero_()
    torch.manual_seed(5)
    actual = torchinit.PaddedNormal(std=0.02, padding_idx=3)(torch.empty(10, 4))
    assert torch.equal(actual, expected)
    torch.manual_seed(5)
    plain = torchinit.PaddedNormal(std=0.02)(torch.empty(10, 4))
    torch.manual_seed(5)
    assert torch.equal(plain, torch.nn.init.normal_(torch.empty(10, 4), 0.0, 0.02))


def test_padded_normal_checks_the_row_against_the_shape() -> None:
    assert torchinit.PaddedNormal(padding_idx=-1).check_shape((4, 3)) is None
    assert torchinit.PaddedNormal(padding_idx=4).check_shape((4, 3)) == (
        "padding_idx=4 is outside dimension 0 of size 4"
    )
    with pytest.raises(ArgumentTypeError) as info:
        torchinit.PaddedNormal(padding_idx=1.5)
    assert str(info.value) == "padded_normal.padding_idx: must be an integer (got 1.5)"


def test_from_attr_optional_passes_none_on() -> None:
    spec = {
        "padded_normal": {"std": 0.02, "padding_idx": {"attr": "padding_idx", "optional": True}}
    }
    strategy = to_strategy(spec)
    assert strategy.bind(torch.nn.Embedding(5, 2)) == torchinit.PaddedNormal(std=0.02)
    assert strategy.bind(torch.nn.Embedding(5, 2, padding_idx=1)) == torchinit.PaddedNormal(
        std=0.02, padding_idx=1
    )
    required = to_strategy({"padded_normal": {"padding_idx": {"attr": "padding_idx"}}})
    with pytest.raises(InvalidArgumentError) as info:
        required.bind(torch.nn.Embedding(5, 2))
    assert str(info.value) == (
        "padded_normal.padding_idx: the layer's (Embedding) attribute 'padding_idx' is None "
        "and no default is given"
    )


# --------------------------------------------------------------------------- fan_trunc_normal


def test_fan_trunc_normal_equals_torchvisions_vit_patch_init() -> None:
    """torchvision's ViT: trunc_normal_(conv_proj.weight, std=math.sqrt(1 / fan_in))."""
    shape = (64, 3, 16, 16)
    torch.manual_seed(2)
    expected = torch.nn.init.trunc_normal_(torch.empty(shape), std=math.sqrt(1 / (3 * 16 * 16)))
    torch.manual_seed(2)
    assert torch.equal(torchinit.FanTruncNormal()(torch.empty(shape)), expected)


def test_fan_trunc_normal_truncates_at_absolute_bounds() -> None:
    strategy = torchinit.FanTruncNormal(scale=4.0, mode="fan_out", a=-0.05, b=0.1)
    sample = strategy(torch.empty(400, 100), generator=torch.Generator().manual_seed(0))
    assert float(sample.min()) >= -0.05
    assert float(sample.max()) <= 0.1
    std = math.sqrt(4.0 / 400)
    law = stats.truncnorm(-0.05 / std, 0.1 / std, scale=std)
    assert stats.kstest(sample.flatten().double().numpy(), law.cdf).pvalue > 1e-4


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: torchinit.FanTruncNormal(scale=0), "fan_trunc_normal.scale: must be > 0 (got 0)"),
        (lambda: torchinit.FanTruncNormal(a=1, b=0), "fan_trunc_normal.b: must be > a=1.0 (got 0)"),
        (
            lambda: torchinit.FanTruncNormal(mode="in"),
            "fan_trunc_normal.mode: must be one of ['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'] "
            "(got 'in')",
        ),
    ],
)
def test_fan_trunc_normal_validation(build: Any, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        build()
    assert str(info.value) == message


# --------------------------------------------------------------------------- gate_constant


def test_gate_constant_fills_one_gate():
    tensor = torchinit.GateConstant(gates=3, index=2, value=-1.5, fill=0.25)(torch.empty(6, 2))
    expected = torch.tensor([[0.25] * 2] * 4 + [[-1.5] * 2] * 2)
    assert torch.equal(tensor, expected)
    assert torchinit.get_strategy(
        "gate_constant", gates=4, index=1, value=1
    ) == torchinit.GateConstant(4, 1, 1.0)


def test_gate_constant_round_trips_through_yaml():
    rule = torchinit.Rule(
        torch.nn.LSTM, params={"bias_ih*": torchinit.GateConstant(gates=4, index=1, value=1.0)}
    )
    policy = torchinit.Policy([rule])
    assert torchinit.Policy.from_yaml(policy.to_yaml()) == policy


@pytest.mark.parametrize(
    ("arguments", "kind", "message"),
    [
        (
            {"gates": 0, "index": 0, "value": 1.0},
            InvalidArgumentError,
            "gate_constant.gates: must be >= 1 (got 0)",
        ),
        (
            {"gates": 4, "index": 4, "value": 1.0},
            InvalidArgumentError,
            "gate_constant.index: must be < gates=4 (got 4)",
        ),
        (
            {"gates": 4, "index": -1, "value": 1.0},
            InvalidArgumentError,
            "gate_constant.index: must be >= 0 (got -1)",
        ),
        (
            {"gates": 4.0, "index": 1, "value": 1.0},
            ArgumentTypeError,
            "gate_constant.gates: must be an integer (got 4.0)",
        ),
        (
            {"gates": 4, "index": 1, "value": "1"},
            ArgumentTypeError,
            "gate_constant.value: must be a number (got '1')",
        ),
        (
            {"gates": 4, "index": 1, "value": 1.0, "fill": math.inf},
            InvalidArgumentError,
            "gate_constant.fill: must be finite (got inf)",
        ),
        (
            {"gates": 4, "index": 1},
            ArgumentTypeError,
            "gate_constant.value: missing required argument",
        ),
    ],
)
def test_gate_constant_argument_errors(arguments, kind, message):
    with pytest.raises(kind) as excinfo:
        torchinit.get_strategy("gate_constant", **arguments)
    assert str(excinfo.value) == message


def test_gate_constant_refuses_a_shape_before_touching_anything():
    assert (
        torchinit.GateConstant(4, 1, 1.0).check_shape((6,))
        == "needs dimension 0 divisible by gates=4"
    )
    assert (
        torchinit.GateConstant(4, 1, 1.0).check_shape(())
        == "needs a tensor with at least 1 dimension"
    )
    layer = torch.nn.Linear(3, 6)
    before = layer.bias.clone()
    policy = torchinit.Policy(
        [torchinit.Rule(torch.nn.Linear, bias=torchinit.GateConstant(gates=4, index=1, value=1.0))]
    )
    with pytest.raises(torchinit.PlanError) as excinfo:
        torchinit.init_model(layer, policy)
    assert str(excinfo.value) == (
        "bias: rules[0].bias.gate_constant: needs dimension 0 divisible by gates=4 (got (6,))"
    )
    assert torch.equal(layer.bias, before)


# --------------------------------------------------------------------------- elementwise laws

LAW_CASES = [
    torchinit.Constant(0.25),
    torchinit.Zeros(),
    torchinit.Ones(),
    torchinit.Uniform(-0.5, 0.25),
    torchinit.Normal(0.1, 0.02),
    torchinit.PaddedNormal(std=0.02, padding_idx=-2),
    torchinit.VarianceScaling(2.0, "fan_out", "normal"),
    torchinit.VarianceScaling(0.5, "fan_avg", "uniform"),
    torchinit.XavierUniform(gain=1.5),
    torchinit.XavierNormal(),
    torchinit.KaimingUniform(a=0.1, mode="fan_out", nonlinearity="leaky_relu"),
    torchinit.KaimingNormal(mode="fan_out", nonlinearity="relu"),
    torchinit.FanUniform(mode="fan_out"),
    torchinit.LecunUniform(),
]


@pytest.mark.parametrize("strategy", LAW_CASES, ids=str)
def test_a_law_draws_exactly_what_the_strategy_draws(strategy: torchinit.Strategy) -> None:
    """The law's parameters are the strategy's, to the last bit: drawing the law with
    ``normal_``/``uniform_``/``fill_`` from the same generator gives the strategy's values."""
    shape = (24, 16, 3, 3)
    law = strategy.law(shape)
    assert law is not None
    expected = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(3))
    drawn = torch.empty(shape)
    generator = torch.Generator().manual_seed(3)
    if law.kind == "constant":
        drawn.fill_(law.params[0])
    elif law.kind == "uniform":
        drawn.uniform_(*law.params, generator=generator)
    else:
        assert law.kind == "normal"
        drawn.normal_(*law.params, generator=generator)
    if law.zero_row is not None:
        drawn[law.zero_row] = 0.0
    assert torch.equal(drawn, expected)


# LeCun normal on a (24, 16, 3, 3) weight: fan_in 144, std corrected for the [-2, 2] truncation
LECUN_STD = (1 / 144) ** 0.5 / 0.87962566103423978


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        (torchinit.TruncNormal(0.1, 0.02, -0.5, 0.5), (0.1, 0.02, -0.5, 0.5)),
        (torchinit.FanTruncNormal(scale=4.0, a=-1.0, b=1.0), (0.0, 2 / 12, -1.0, 1.0)),
        (torchinit.LecunNormal(), (0.0, LECUN_STD, -2 * LECUN_STD, 2 * LECUN_STD)),
    ],
    ids=str,
)
def test_truncated_laws(strategy: torchinit.Strategy, params: tuple[float, ...]) -> None:
    law = strategy.law((24, 16, 3, 3))
    assert law is not None
    assert law.kind == "trunc_normal"
    assert law.params == pytest.approx(params, rel=1e-12)


@pytest.mark.parametrize(
    "strategy",
    [
        torchinit.Eye(),
        torchinit.Dirac(),
        torchinit.Orthogonal(),
        torchinit.Sparse(0.5),
        torchinit.GateConstant(gates=4, index=1, value=1.0),
    ],
    ids=str,
)
def test_strategies_whose_elements_are_not_independent_have_no_law(
    strategy: torchinit.Strategy,
) -> None:
    assert strategy.law((8, 4, 3, 3)) is None


# --------------------------------------------------------------------------- fast paths

#: Strategies whose call does torch.nn.init's tensor method itself when nothing intercepts it
#: (standard deviations and bounds computed once per shape).
FAST_PATH_CASES = [
    (
        KaimingNormal(mode="fan_out", nonlinearity="relu"),
        ref(init.kaiming_normal_, mode="fan_out", nonlinearity="relu"),
    ),
    (KaimingNormal(a=0.2), ref(init.kaiming_normal_, a=0.2)),
    (KaimingUniform(nonlinearity="tanh"), ref(init.kaiming_uniform_, nonlinearity="tanh")),
    (XavierNormal(gain=2.0), ref(init.xavier_normal_, 2.0)),
    (XavierUniform(), ref(init.xavier_uniform_)),
    (Normal(0.3, 0.02), ref(init.normal_, 0.3, 0.02)),
    (Uniform(-0.5, 0.25), ref(init.uniform_, -0.5, 0.25)),
    (Constant(0.63), ref(init.constant_, 0.63, random=False)),
    (Zeros(), ref(init.zeros_, random=False)),
    (Ones(), ref(init.ones_, random=False)),
]
FAST_PATH_IDS = [strategy.describe() for strategy, _ in FAST_PATH_CASES]


@pytest.mark.parametrize(("strategy", "reference"), FAST_PATH_CASES, ids=FAST_PATH_IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_fast_paths_match_torch_shape_after_shape(
    strategy: Strategy, reference: Ref, dtype: torch.dtype
) -> None:
    # shapes come back in between others, so that a value kept for the wrong shape shows
    shapes = [(8, 8), (3, 5), (8, 8), (5, 3), (4, 2, 3, 3), (3, 5), (16, 4, 1), (8, 8)]
    ours = torch.Generator().manual_seed(3)
    theirs = torch.Generator().manual_seed(3)
    for shape in shapes:
        result = strategy(_filled_with_nan(shape, dtype), generator=ours)
        expected = reference(_filled_with_nan(shape, dtype), theirs)
        assert torch.equal(result, expected), shape
    assert torch.equal(ours.get_state(), theirs.get_state())


@pytest.mark.parametrize(("strategy", "reference"), FAST_PATH_CASES, ids=FAST_PATH_IDS)
def test_fast_paths_draw_from_the_global_rng_like_torch(strategy: Strategy, reference: Ref) -> None:
    shapes = [(6, 4), (4, 6), (6, 4)]
    torch.manual_seed(11)
    result = [strategy(torch.empty(shape)) for shape in shapes]
    state_after_ours = torch.get_rng_state()
    torch.manual_seed(11)
    expected = [reference(torch.empty(shape), None) for shape in shapes]
    assert all(torch.equal(a, b) for a, b in zip(result, expected, strict=True))
    assert torch.equal(state_after_ours, torch.get_rng_state())


class _Recording(torch.overrides.TorchFunctionMode):
    """Records every call a TorchFunctionMode sees (and lets it through)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Any] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls.append(func)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize(("strategy", "reference"), FAST_PATH_CASES, ids=FAST_PATH_IDS)
def test_fast_paths_leave_intercepted_calls_to_torch(strategy: Strategy, reference: Ref) -> None:
    # under a TorchFunctionMode (as for a tensor subclass with __torch_function__) the
    # strategy calls torch.nn.init, so the mode sees what it sees of the hand-written call
    # (under no_grad, as in init_model: otherwise it also sees the strategy enter no_grad)
    with torch.no_grad(), _Recording() as ours:
        strategy(torch.empty(6, 4))
    with torch.no_grad(), _Recording() as theirs:
        reference(torch.empty(6, 4), None)
    assert ours.calls == theirs.calls
    assert ours.calls


@pytest.mark.parametrize(
    ("strategy", "value"),
    [(Zeros(), 0.0), (Ones(), 1.0), (Constant(1.0), None), (Normal(), None)],
)
def test_constant_fill_names_the_value_of_zeros_and_ones(
    strategy: Strategy, value: float | None
) -> None:
    assert constant_fill(strategy) == value


def test_constant_fill_ignores_subclasses_that_fill_otherwise() -> None:
    @dataclasses.dataclass(frozen=True)
    class Halves(Zeros):
        def __call__(
            self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
        ) -> torch.Tensor:
            return tensor.fill_(0.5)

    assert constant_fill(Halves()) is None


@pytest.mark.parametrize("grad_enabled", [True, False])
def test_calls_leave_the_grad_mode_as_they_found_it(grad_enabled: bool) -> None:
    weight = nn.Parameter(torch.empty(4, 4))
    with torch.set_grad_enabled(grad_enabled):
        result = KaimingNormal()(weight)
        assert torch.is_grad_enabled() is grad_enabled
    assert result is weight
    assert result.grad_fn is None


def test_grad_free_call_is_the_call_without_its_no_grad_wrapper() -> None:
    @dataclasses.dataclass(frozen=True)
    class Halves(Strategy):
        def __call__(
            self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
        ) -> torch.Tensor:
            return tensor.fill_(0.5)

    call = grad_free_call(Halves())
    assert call is not Halves.__call__
    with torch.no_grad():
        weight = nn.Parameter(torch.empty(3))
        assert call(Halves(), weight) is weight
    assert torch.equal(weight, torch.full((3,), 0.5))
    # outside no_grad, the unwrapped call fails as an in-place op on a leaf that needs grad does
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        call(Halves(), nn.Parameter(torch.empty(3)))


def test_grad_free_call_of_a_builtin_strategy_draws_like_the_call() -> None:
    strategy = KaimingNormal(mode="fan_out")
    torch.manual_seed(2)
    expected = strategy(torch.empty(6, 4))
    torch.manual_seed(2)
    with torch.no_grad():
        result = grad_free_call(strategy)(strategy, torch.empty(6, 4), generator=None)
    assert torch.equal(result, expected)


# --------------------------------------------------------------------------- the call


@dataclasses.dataclass(frozen=True)
class _Quarters(Strategy):
    """A user strategy written the current way: it implements initialize()."""

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        assert not torch.is_grad_enabled()
        return tensor.fill_(0.25)


def test_the_call_runs_initialize_under_no_grad() -> None:
    parameter = nn.Parameter(torch.empty(2, 3))
    assert torch.is_grad_enabled()
    assert _Quarters()(parameter) is parameter
    assert torch.is_grad_enabled()
    assert parameter.requires_grad
    assert parameter.grad_fn is None
    assert torch.equal(parameter, torch.full((2, 3), 0.25))


def test_the_call_passes_the_generator_to_initialize() -> None:
    @dataclasses.dataclass(frozen=True)
    class Draw(Strategy):
        def initialize(
            self, tensor: torch.Tensor, generator: torch.Generator | None
        ) -> torch.Tensor:
            return tensor.normal_(generator=generator)

    result = Draw()(torch.empty(5), generator=torch.Generator().manual_seed(4))
    assert torch.equal(result, torch.empty(5).normal_(generator=torch.Generator().manual_seed(4)))


def test_a_strategy_without_initialize_refuses_to_fill() -> None:
    @dataclasses.dataclass(frozen=True)
    class Nothing(Strategy):
        pass

    with pytest.raises(NotImplementedError, match=r"^Nothing does not implement initialize\(\)$"):
        Nothing()(torch.empty(2))


def test_the_readme_strategy_overriding_call_fills_a_parameter_that_requires_grad(
    registered: list[str],
) -> None:
    """The README's example: a strategy that overrides __call__ rather than initialize."""
    registered.append("scaled_normal")

    @torchinit.register_strategy("scaled_normal")
    @dataclasses.dataclass(frozen=True)
    class ScaledNormal(torchinit.Strategy):
        std: float = 0.02
        depth: int = 1

        def __call__(self, tensor, *, generator=None):
            return torch.nn.init.normal_(
                tensor, 0.0, self.std / (2 * self.depth) ** 0.5, generator=generator
            )

    parameter = nn.Parameter(torch.empty(8, 4))
    strategy = torchinit.get_strategy("scaled_normal", depth=8)
    assert strategy(parameter, generator=torch.Generator().manual_seed(1)) is parameter
    expected = init.normal_(
        torch.empty(8, 4), 0.0, 0.005, generator=torch.Generator().manual_seed(1)
    )
    assert torch.equal(parameter, expected)
    assert parameter.requires_grad
    assert parameter.grad_fn is None
    model = nn.Linear(4, 8)
    torchinit.init_model(model, torchinit.Policy([torchinit.Rule(nn.Linear, weight=strategy)]))
    assert model.weight.std() < 0.01


def test_a_subclass_overriding_call_may_call_the_template() -> None:
    @dataclasses.dataclass(frozen=True)
    class Doubled(Normal):
        def __call__(
            self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
        ) -> torch.Tensor:
            return super().__call__(tensor, generator=generator).mul_(2.0)

    parameter = nn.Parameter(torch.empty(6))
    Doubled(std=0.5)(parameter, generator=torch.Generator().manual_seed(0))
    expected = torch.empty(6).normal_(0.0, 0.5, generator=torch.Generator().manual_seed(0)) * 2.0
    assert torch.equal(parameter, expected)
    with torch.no_grad():
        grad_free = grad_free_call(Doubled(std=0.5))
        result = grad_free(
            Doubled(std=0.5), torch.empty(6), generator=torch.Generator().manual_seed(0)
        )
    assert torch.equal(result, expected)


def test_grad_free_call_picks_initialize_or_the_overriding_call() -> None:
    assert grad_free_call(KaimingNormal()) is KaimingNormal.initialize
    assert grad_free_call(Normal()) is Normal.initialize
    assert grad_free_call(_Quarters()) is _Quarters.initialize
    # a __call__ written in the class: the function itself, without the no_grad entry
    call = grad_free_call(_InPlace())
    assert call is not _InPlace.__call__
    assert call.__qualname__ == "_InPlace.__call__"

    @dataclasses.dataclass(frozen=True)
    class Inherits(_InPlace):
        pass

    assert grad_free_call(Inherits()) is call


# --------------------------------------------------------------------------- pickling

PICKLED = [
    *ALL_STRATEGIES,
    torchinit.PaddedNormal(std=0.02, padding_idx=0),
    torchinit.GateConstant(gates=4, index=1, value=1.0),
    torchinit.FanUniform(gain=2.0, mode="fan_out"),
    torchinit.FanTruncNormal(scale=2.0),
    TorchDefault(),
    to_strategy({"trunc_normal": {"std": {"attr": "stddev", "default": 0.1}}}),
]


@pytest.mark.parametrize("strategy", PICKLED, ids=lambda s: s.describe())
@pytest.mark.parametrize("copy_", [lambda s: pickle.loads(pickle.dumps(s)), copy.deepcopy])
def test_strategies_pickle_and_copy(strategy: Strategy, copy_: Callable[[Any], Any]) -> None:
    restored = copy_(strategy)
    assert restored == strategy
    assert type(restored) is type(strategy)
    assert restored.to_spec() == strategy.to_spec()
    assert repr(restored) == repr(strategy)


# --------------------------------------------------------------------------- fan-based laws

FAN_STRATEGIES = [
    VarianceScaling(2.0, "fan_out", "normal"),
    VarianceScaling(0.5, "fan_avg", "uniform"),
    VarianceScaling(1.0, "fan_in", "truncated_normal"),
    XavierUniform(gain=1.5),
    XavierNormal(),
    KaimingUniform(a=0.1, mode="fan_out", nonlinearity="leaky_relu"),
    KaimingNormal(mode="fan_out", nonlinearity="relu"),
    torchinit.FanUniform(mode="fan_avg"),
    torchinit.FanTruncNormal(scale=2.0, a=-0.1, b=0.1),
    LecunNormal(),
    LecunUniform(),
]


@pytest.mark.parametrize("strategy", FAN_STRATEGIES, ids=lambda s: s.describe())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_fan_strategies_draw_the_same_through_torch(strategy: Strategy, dtype: torch.dtype) -> None:
    """Under a TorchFunctionMode a fan-based strategy calls torch.nn.init; without, it draws its
    law with the tensor method: the two give the same values, shape after shape."""
    shapes = [(8, 8), (3, 5), (8, 8), (4, 2, 3, 3)]
    ours, theirs = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for shape in shapes:
        direct = strategy(_filled_with_nan(shape, dtype), generator=ours)
        with _Recording() as mode:
            through_torch = strategy(_filled_with_nan(shape, dtype), generator=theirs)
        assert mode.calls
        assert torch.equal(direct, through_torch), shape
    assert torch.equal(ours.get_state(), theirs.get_state())


@pytest.mark.parametrize(
    "strategy", [VarianceScaling(), torchinit.FanUniform(), LecunUniform()], ids=str
)
def test_the_zero_element_warning_points_at_the_callers_line(strategy: Strategy) -> None:
    with pytest.warns(UserWarning, match="zero-element") as record:
        strategy(torch.empty(0, 3))
    assert record[0].filename == __file__


def test_the_fast_path_keeps_a_bounded_number_of_draws() -> None:
    from torchinit.strategies import fan

    strategy = XavierNormal(gain=1.25)
    for rows in range(1, fan._FAST_DRAWS_KEPT + 100):
        strategy(torch.empty(rows, 2))
    assert 0 < len(fan._fast_draws) <= fan._FAST_DRAWS_KEPT


# --------------------------------------------------------------------------- zero-element


#: Each registered strategy with arguments it can be built from, for shape-generic checks.
STRATEGY_EXAMPLES = {
    "sparse": {"sparsity": 0.5},
    "constant": {"val": 0.5},
    "gate_constant": {"gates": 1, "index": 0, "value": 1.0},
    "checkpoint": {"path": "weights.safetensors"},
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 3, 3, 3)], ids=str)
def test_zero_element_warning_is_what_warns_if_empty_says(
    name: str, shape: tuple[int, ...]
) -> None:
    strategy = get_strategy(name, **STRATEGY_EXAMPLES.get(name, {}))
    if strategy.module_level or strategy.by_name or strategy.check_shape(shape) is not None:
        pytest.skip("not a tensor strategy for this shape")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        strategy(torch.empty(shape), generator=torch.Generator().manual_seed(0))
    expected = [(UserWarning, "Initializing zero-element tensors is a no-op")]
    assert [(w.category, str(w.message)) for w in caught] == (
        expected if strategy.warns_if_empty() else []
    )


@pytest.mark.parametrize(
    ("strategy", "torch_call"),
    [
        (KaimingUniform(), init.kaiming_uniform_),
        (KaimingNormal(), init.kaiming_normal_),
        (XavierUniform(), init.xavier_uniform_),
        (XavierNormal(), init.xavier_normal_),
        (Orthogonal(), init.orthogonal_),
        (Normal(), init.normal_),
        (Uniform(), init.uniform_),
        (TruncNormal(), init.trunc_normal_),
        (Zeros(), init.zeros_),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Strategy) else "",
)
def test_zero_element_warnings_match_torch(
    strategy: Strategy, torch_call: Callable[..., torch.Tensor]
) -> None:
    for shape in [(0, 1), (4, 0)]:
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            strategy(torch.empty(shape))
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            torch_call(torch.empty(shape))
        assert [(w.category, str(w.message)) for w in ours] == [
            (w.category, str(w.message)) for w in theirs
        ]
        assert strategy.warns_if_empty() == bool(theirs)


# --------------------------------------------------------------------------- exception types


def _raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as error:  # the test compares whatever was raised
        return error
    raise AssertionError("nothing was raised")


def _w(*shape: int) -> torch.Tensor:
    return torch.empty(shape)


#: (case, torch's call, ours): ours must raise an instance of the type torch raises.
SAME_ERRORS: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
    ("kaiming bad mode", lambda: init.kaiming_normal_(_w(3, 4), mode="fanin"),
     lambda: KaimingNormal(mode="fanin")),
    ("kaiming bad nonlinearity", lambda: init.kaiming_uniform_(_w(3, 4), nonlinearity="rleu"),
     lambda: KaimingUniform(nonlinearity="rleu")),
    ("kaiming nonlinearity None", lambda: init.kaiming_uniform_(_w(3, 4), nonlinearity=None),
     lambda: KaimingUniform(nonlinearity=None)),
    ("kaiming slope True", lambda: init.kaiming_uniform_(_w(3, 4), a=True),
     lambda: KaimingUniform(a=True)),
    ("kaiming slope str", lambda: init.kaiming_normal_(_w(3, 4), a="0.1"),
     lambda: KaimingNormal(a="0.1")),
    ("kaiming 1-D", lambda: init.kaiming_uniform_(_w(4)), lambda: KaimingUniform()(_w(4))),
    ("xavier 1-D", lambda: init.xavier_normal_(_w(4)), lambda: XavierNormal()(_w(4))),
    ("variance scaling 1-D", lambda: init.kaiming_normal_(_w(4)),
     lambda: VarianceScaling()(_w(4))),
    ("lecun 1-D", lambda: init.kaiming_normal_(_w(4)), lambda: LecunNormal()(_w(4))),
    ("eye 3-D", lambda: init.eye_(_w(2, 3, 4)), lambda: Eye()(_w(2, 3, 4))),
    ("dirac 2-D", lambda: init.dirac_(_w(3, 4)), lambda: Dirac()(_w(3, 4))),
    ("dirac groups", lambda: init.dirac_(_w(3, 4, 5), 2), lambda: Dirac(2)(_w(3, 4, 5))),
    ("sparse 3-D", lambda: init.sparse_(_w(2, 3, 4), 0.5), lambda: Sparse(0.5)(_w(2, 3, 4))),
    ("sparse 1-D with a generator",
     lambda: init.sparse_(_w(4), 0.5, generator=torch.Generator()),
     lambda: Sparse(0.5)(_w(4), generator=torch.Generator())),
    ("orthogonal 1-D", lambda: init.orthogonal_(_w(4)), lambda: Orthogonal()(_w(4))),
    ("uniform bound str", lambda: init.uniform_(_w(3), "x"), lambda: Uniform("x")),
    ("normal mean str", lambda: init.normal_(_w(3), "x"), lambda: Normal("x")),
    ("constant None", lambda: init.constant_(_w(3), None), lambda: Constant(None)),
    ("sparsity str", lambda: init.sparse_(_w(3, 4), "x"), lambda: Sparse("x")),
    ("xavier gain str", lambda: init.xavier_normal_(_w(3, 4), gain="x"),
     lambda: XavierNormal(gain="x")),
    ("uniform a > b", lambda: init.uniform_(_w(3), 1.0, 0.0), lambda: Uniform(1.0, 0.0)),
    ("normal std < 0", lambda: init.normal_(_w(3), 0.0, -1.0), lambda: Normal(0.0, -1.0)),
    ("trunc_normal a > b", lambda: init.trunc_normal_(_w(3), a=1.0, b=0.0),
     lambda: TruncNormal(a=1.0, b=0.0)),
    ("sparse std < 0", lambda: init.sparse_(_w(3, 4), 0.5, std=-1.0),
     lambda: Sparse(0.5, std=-1.0)),
]  # fmt: skip


@pytest.mark.parametrize(("torch_call", "ours"), [c[1:] for c in SAME_ERRORS],
                         ids=[c[0] for c in SAME_ERRORS])  # fmt: skip
def test_errors_have_torchs_exception_type(
    torch_call: Callable[[], object], ours: Callable[[], object]
) -> None:
    expected = type(_raised(torch_call))
    assert expected in (ValueError, TypeError, RuntimeError)
    assert isinstance(_raised(ours), expected)


def test_sparse_with_a_generator_refuses_a_3d_tensor_with_torchs_message() -> None:
    with pytest.raises(ValueError, match=r"^Only tensors with 2 dimensions are supported$"):
        Sparse(0.5)(torch.empty(2, 3, 4), generator=torch.Generator())


# --------------------------------------------------------------------------- functions


def _linear_pair() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))


def _values(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _uniform_returning_none(tensor: torch.Tensor) -> None:
    tensor.uniform_(-1, 1)


FUNCTION_FORMS = {
    "function": (init.zeros_, lambda t, g: init.zeros_(t)),
    "lambda": (lambda t: t.normal_(0, 0.02), lambda t, g: t.normal_(0, 0.02, generator=g)),
    "partial": (
        functools.partial(init.kaiming_normal_, mode="fan_out"),
        lambda t, g: init.kaiming_normal_(t, mode="fan_out", generator=g),
    ),
    "nested": (
        lambda t: init.sparse_(t, 0.5),  # normal_ then randperm, without a generator
        lambda t, g: Sparse(0.5)(t, generator=g),
    ),
    "returns None": (
        _uniform_returning_none,
        lambda t, g: t.uniform_(-1, 1, generator=g),
    ),
}


@pytest.mark.parametrize("form", list(FUNCTION_FORMS))
def test_function_strategy_draws_as_the_hand_written_call(form: str) -> None:
    function, by_hand = FUNCTION_FORMS[form]
    model, expected = _linear_pair(), _linear_pair()
    policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight=function, bias=init.zeros_)])
    torch.manual_seed(0)
    torchinit.init_model(model, policy)
    torch.manual_seed(0)
    with torch.no_grad():
        for layer in expected:
            assert isinstance(layer, nn.Linear)
            by_hand(layer.weight, None)
            layer.bias.zero_()
    assert all(map(torch.equal, _values(model), _values(expected)))


@pytest.mark.parametrize("form", list(FUNCTION_FORMS))
def test_function_strategy_takes_the_generator_and_leaves_the_global_one(form: str) -> None:
    function, by_hand = FUNCTION_FORMS[form]
    model, expected = _linear_pair(), _linear_pair()
    policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight=function)])
    before = torch.get_rng_state()
    torchinit.init_model(model, policy, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.get_rng_state(), before)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for layer in expected:
            assert isinstance(layer, nn.Linear)
            by_hand(layer.weight, generator)
    weights = [layer.weight for layer in model]  # type: ignore[union-attr]
    assert all(map(torch.equal, weights, [layer.weight for layer in expected]))  # type: ignore[union-attr]


@pytest.mark.parametrize("form", list(FUNCTION_FORMS))
def test_function_strategy_keyed_is_reproducible_and_leaves_the_global_generator(
    form: str,
) -> None:
    function, _ = FUNCTION_FORMS[form]
    policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight=function)])
    first, second = _linear_pair(), _linear_pair()
    before = torch.get_rng_state()
    torchinit.init_model(first, policy, seed=3)
    torchinit.init_model(second, policy, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(map(torch.equal, _values(first)[::2], _values(second)[::2]))
    other = _linear_pair()
    torchinit.init_model(other, policy, seed=4)
    assert form in ("function",) or not torch.equal(first[0].weight, other[0].weight)  # type: ignore[arg-type]


def test_function_strategy_keyed_values_come_from_the_keyed_generator() -> None:
    from torchinit.seeding import KeyedSeeding

    model = nn.Linear(3, 4)
    strategy = to_strategy(lambda t: t.normal_(0, 0.02))
    torchinit.init_model(
        model, torchinit.Policy([torchinit.Rule(nn.Linear, weight=strategy)]), seed=5
    )
    generator = KeyedSeeding(5, model).generator(["weight"], strategy)
    expected = torch.empty(4, 3).normal_(0, 0.02, generator=generator)
    assert torch.equal(model.weight.detach(), expected)


def test_function_strategy_refuses_a_draw_from_the_global_generator() -> None:
    strategy = to_strategy(lambda t: t.copy_(nn.functional.dropout(torch.ones_like(t), 0.5)))
    before = torch.get_rng_state()
    with pytest.raises(InvalidArgumentError) as info:
        strategy(torch.empty(3, 4), generator=torch.Generator())
    assert str(info.value) == (
        f"{strategy.describe()}: would draw from torch's global random number generator "
        "(aten.bernoulli_.float) although a generator was given (seed= or generator=); use "
        "random functions that take generator= (torch.nn.init's, Tensor.normal_, "
        "torch.randn, ...), which get it"
    )
    assert torch.equal(torch.get_rng_state(), before)  # refused before it drew


def test_function_strategy_refuses_a_function_returning_another_tensor() -> None:
    strategy = to_strategy(lambda t: t * 2)
    with pytest.raises(ArgumentTypeError) as info:
        strategy(torch.ones(3, 4))
    assert str(info.value) == (
        f"{strategy.describe()}: returned a different tensor; a strategy fills the tensor it "
        "is given in place and returns it (or None) (got 'tensor of shape (3, 4)')"
    )


def test_function_strategy_accepts_a_view_of_the_tensor() -> None:
    tensor = torch.zeros(3, 4)
    returned = to_strategy(lambda t: t.view(-1).fill_(1.0))(tensor)
    assert returned is tensor
    assert torch.equal(tensor, torch.ones(3, 4))


def test_function_strategy_descriptions() -> None:
    first, second = (lambda t: t.zero_()), (lambda t: t.zero_())  # one line, two lambdas
    line = first.__code__.co_firstlineno
    one, two = to_strategy(first).describe(), to_strategy(second).describe()
    where = "test_function_strategy_descriptions.<locals>.<lambda> at test_strategies.py"
    assert one == f"{where}:{line}:32"  # the column of the lambda's body
    assert two == f"{where}:{line}:55"
    assert to_strategy(init.zeros_).describe() == "torch.nn.init.zeros_"
    partial = functools.partial(init.kaiming_normal_, mode="fan_out", nonlinearity="relu")
    assert (
        to_strategy(partial).describe()
        == "torch.nn.init.kaiming_normal_(mode='fan_out', nonlinearity='relu')"
    )

    def local(t: torch.Tensor) -> None:
        t.zero_()

    assert to_strategy(local).describe() == (
        "test_function_strategy_descriptions.<locals>.local at test_strategies.py:"
        f"{local.__code__.co_firstlineno}"
    )
    assert to_strategy(torch.Tensor.zero_).describe() == "torch._C.TensorBase.zero_"


def test_function_strategy_in_a_report_and_in_its_json() -> None:
    policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight=init.zeros_)])
    report = torchinit.init_model(nn.Linear(2, 2), policy)
    assert "torch.nn.init.zeros_" in str(report)
    assert report.to_dict()["entries"][0]["strategy"] == {"function": "torch.nn.init.zeros_"}


def test_a_policy_holding_a_function_cannot_be_written_as_yaml() -> None:
    policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight="zeros", bias=init.zeros_)])
    for write in (policy.to_dict, policy.to_yaml):
        with pytest.raises(ArgumentTypeError) as info:
            write()
        assert str(info.value) == (
            "rules[0].bias: a function cannot be written as YAML, which names strategies; "
            "register a Strategy subclass (torchinit.register_strategy) and name it instead "
            "(got 'torch.nn.init.zeros_')"
        )


def test_function_strategy_refuses_a_class() -> None:
    with pytest.raises(ArgumentTypeError) as info:
        torchinit.FunctionStrategy(dict)
    assert str(info.value) == (
        "must be a function of a tensor (a torch.nn.init function, a functools.partial of "
        "one, a lambda), not a class (got <class 'dict'>)"
    )


def test_function_strategy_generator_does_not_reach_other_threads() -> None:
    # the mode is thread-local: a thread drawing meanwhile draws from the global generator
    started, finish = threading.Event(), threading.Event()
    drawn: list[torch.Tensor] = []

    def meanwhile(tensor: torch.Tensor) -> None:
        worker = threading.Thread(
            target=lambda: (started.wait(), drawn.append(torch.randn(3)), finish.set())
        )
        worker.start()
        started.set()
        finish.wait()
        worker.join()
        tensor.normal_()

    torch.manual_seed(11)
    expected = torch.randn(3)
    torch.manual_seed(11)
    to_strategy(meanwhile)(torch.empty(2), generator=torch.Generator().manual_seed(0))
    assert torch.equal(drawn[0], expected)


_KEYED_LAMBDA_SCRIPT = """
import torch, torchinit
from torch import nn
model = nn.Linear(3, 4)
policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight=lambda t: t.normal_(0, 0.02))])
torchinit.init_model(model, policy, seed=9)
print(repr(model.weight.detach().flatten().tolist()))
"""


@pytest.mark.slow
def test_function_strategy_keyed_values_are_the_same_in_two_processes(
    tmp_path: pathlib.Path,
) -> None:
    script = tmp_path / "keyed_lambda.py"
    script.write_text(_KEYED_LAMBDA_SCRIPT)
    runs = [
        subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            check=True,
            cwd=pathlib.Path(__file__).parent,
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert len(eval(runs[0])) == 12


def test_a_std_past_the_float_range_is_refused() -> None:
    # float(10**400) raises OverflowError: it escaped as that before
    with pytest.raises(InvalidArgumentError) as caught:
        Normal(std=10**400)
    assert str(caught.value) == (
        "normal.std: must be within ±1.8e+308 (the float range) (got 1" + "0" * 194 + " ... 00000)"
    )


# --------------------------------------------------------------------------- scaled eye


def test_scaled_eye_is_gain_times_torch_eye() -> None:
    assert ScaledEye(0.5)(torch.empty(2, 3)).tolist() == [[0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]
    assert torch.equal(ScaledEye()(_filled_with_nan((5, 3))), init.eye_(torch.empty(5, 3)))
    assert torch.equal(
        ScaledEye(-2.0)(_filled_with_nan((4, 6))), init.eye_(torch.empty(4, 6)) * -2.0
    )
    assert ScaledEye(2).gain == 2.0
    assert get_strategy("scaled_eye", gain=3.0) == ScaledEye(3.0)


def test_scaled_eye_errors() -> None:
    assert ScaledEye().check_shape((2, 3, 4)) == "needs a tensor with exactly 2 dimensions"
    with pytest.raises(ArgumentTypeError) as info:
        ScaledEye("1")  # type: ignore[arg-type]
    assert str(info.value) == "scaled_eye.gain: must be a number (got '1')"


# --------------------------------------------------------------------------- trunc_normal_icdf

ICDF_CASES = [
    pytest.param((0.0, 0.02, -2.0, 2.0), id="timm-default"),
    pytest.param((0.1, 0.5, -0.3, 0.8), id="asymmetric"),
    pytest.param((0.0, 1.0, 1.5, 4.0), id="one-tail"),
]
ICDF_DTYPES = [torch.float32, torch.bfloat16]


def _inverse_cdf_by_hand(
    tensor: torch.Tensor, mean: float, std: float, a: float, b: float
) -> torch.Tensor:
    """The operation sequence, written out: uniform between the CDF values, erfinv, scale."""
    phi_a = (1.0 + math.erf((a - mean) / std / math.sqrt(2.0))) / 2.0
    phi_b = (1.0 + math.erf((b - mean) / std / math.sqrt(2.0))) / 2.0
    tensor.uniform_(2 * phi_a - 1, 2 * phi_b - 1)
    tensor.erfinv_().mul_(std * math.sqrt(2.0)).add_(mean)
    return tensor.clamp_(min=a, max=b)


def _inverse_cdf_pair(
    reference: Callable[..., torch.Tensor], args: tuple[float, ...], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The reference under a global seed; ours under the same global seed and a generator."""
    torch.manual_seed(11)
    expected = reference(torch.empty(300, 70, dtype=dtype), *args)
    torch.manual_seed(11)
    global_draw = TruncNormalInverseCDF(*args)(torch.empty(300, 70, dtype=dtype))
    generator = torch.Generator().manual_seed(11)
    generated = TruncNormalInverseCDF(*args)(torch.empty(300, 70, dtype=dtype), generator=generator)
    return expected, global_draw, generated


@pytest.mark.parametrize("dtype", ICDF_DTYPES)
@pytest.mark.parametrize("args", ICDF_CASES)
def test_trunc_normal_icdf_is_the_operation_sequence(
    args: tuple[float, ...], dtype: torch.dtype
) -> None:
    expected, global_draw, generated = _inverse_cdf_pair(_inverse_cdf_by_hand, args, dtype)
    assert global_draw.dtype == dtype
    assert torch.equal(global_draw, expected)
    assert torch.equal(generated, expected)


@pytest.mark.parametrize("dtype", ICDF_DTYPES)
@pytest.mark.parametrize("args", ICDF_CASES)
@pytest.mark.parametrize("library", ["timm.layers.weight_init", "mmengine.model.weight_init"])
def test_trunc_normal_icdf_is_bit_equal_to_timm_and_mmengine(
    library: str, args: tuple[float, ...], dtype: torch.dtype
) -> None:
    weight_init = pytest.importorskip(library)
    expected, global_draw, generated = _inverse_cdf_pair(weight_init.trunc_normal_, args, dtype)
    assert torch.equal(global_draw, expected)
    assert torch.equal(generated, expected)


def test_trunc_normal_icdf_keeps_the_inverse_cdfs_half_precision_defect() -> None:
    # as documented: in bfloat16 some draws land on a (erfinv(-1) = -inf, clamped); not in float32
    strategy = TruncNormalInverseCDF(std=0.02)
    generator = torch.Generator().manual_seed(0)
    half = strategy(torch.empty(100_000, dtype=torch.bfloat16), generator=generator)
    assert 0 < int((half == -2.0).sum()) < 1000
    full = strategy(torch.empty(100_000), generator=generator)
    assert float(full.abs().max()) < 0.2


def test_trunc_normal_icdf_draws_other_bits_than_torchs_trunc_normal() -> None:
    # torch 2.14 draws by rejection; the two strategies share a law, not a sampler
    generator = torch.Generator().manual_seed(4)
    ours = TruncNormalInverseCDF(std=0.02)(torch.empty(1000), generator=generator)
    generator = torch.Generator().manual_seed(4)
    torchs = TruncNormal(std=0.02)(torch.empty(1000), generator=generator)
    assert not torch.equal(ours, torchs)


def test_trunc_normal_icdf_shares_trunc_normals_fields_checks_and_law() -> None:
    strategy = get_strategy("trunc_normal_icdf", std=0.02, a=-0.04, b=0.04)
    assert strategy == TruncNormalInverseCDF(0.0, 0.02, -0.04, 0.04)
    assert strategy != TruncNormal(0.0, 0.02, -0.04, 0.04)
    assert strategy.law((3, 4)) == TruncNormal(0.0, 0.02, -0.04, 0.04).law((3, 4))
    assert to_strategy({"trunc_normal_icdf": {"std": 0.02, "a": -0.04, "b": 0.04}}) == strategy
    with pytest.raises(InvalidArgumentError) as info:
        TruncNormalInverseCDF(std=0.0)
    assert str(info.value) == "trunc_normal_icdf.std: must be > 0 (got 0.0)"


def test_trunc_normal_icdf_under_keyed_seeding_draws_the_law(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # with seed= the engine draws the law with torchinit's own sampler, never initialize()
    def refuse(*args: object) -> torch.Tensor:
        raise AssertionError("initialize() called under keyed seeding")

    monkeypatch.setattr(TruncNormalInverseCDF, "initialize", refuse)
    model = nn.Linear(500, 200, bias=False)
    policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight=TruncNormalInverseCDF(std=0.02))])
    torchinit.init_model(model, policy, seed=5)
    sample = model.weight.detach().flatten().double().numpy()
    assert_follows(sample, _truncated(0.0, 0.02, -2.0, 2.0))

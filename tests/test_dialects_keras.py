"""torchinit.dialects.keras: Keras initializer configs and jax.nn.initializers names.

Three kinds of checks: the strategy each config or name becomes (exact, no Keras or JAX
needed); the values drawn against the laws Keras and JAX publish, written out here (KS and
moments, with scipy); and, where jax and keras import, against their own samples (two-sample
KS and moments). The ``test_row_*`` tests back the rows of the table "Same name, different
law" in docs/guide/dialects.md, one test per row.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import torchinit
from torchinit import (
    ArgumentTypeError,
    Constant,
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
    ScaledEye,
    Strategy,
    TorchInitError,
    TruncNormal,
    Uniform,
    UnknownNameError,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zeros,
    from_jax,
    from_keras,
    to_strategy,
)
from torchinit.dialects.keras import JAX_INITIALIZERS, KERAS_INITIALIZERS
from torchinit.strategies import TRUNCATED_NORMAL_STD

KS_MIN_P = 1e-4
# two samples from laws that differ (a plain normal against the truncated one of the same
# variance) give p far below this with 65,536 values each
KS_DIFFERENT_P = 1e-8
SIGMAS = 5.0
WIDE = (128, 512)  # torch layout (out, in): fan_in 512, fan_out 128
CONV = (64, 32, 3, 3)  # torch layout (out, in, kh, kw): fan_in 288, fan_out 576


def _jax_layout(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The JAX/Keras kernel shape of a torch weight shape: (out, in, *k) -> (*k, in, out)."""
    return (*shape[2:], shape[1], shape[0])


def _draw(strategy: Strategy, shape: tuple[int, ...], seed: int = 7) -> np.ndarray:
    tensor = strategy(torch.empty(shape), generator=torch.Generator().manual_seed(seed))
    return tensor.double().numpy()


def _assert_same_law(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Two samples from one law: two-sample KS, and means and stds within SIGMAS standard
    errors of each other."""
    ours, theirs = ours.ravel().astype(np.float64), theirs.ravel().astype(np.float64)
    p_value = stats.ks_2samp(ours, theirs).pvalue
    assert p_value > KS_MIN_P, f"KS p-value {p_value:.3g}"
    n = min(ours.size, theirs.size)
    scale = max(ours.std(), theirs.std())
    assert abs(ours.mean() - theirs.mean()) <= SIGMAS * scale * math.sqrt(2.0 / n)
    assert abs(ours.std() / theirs.std() - 1.0) <= SIGMAS / math.sqrt(n)


def _assert_follows(samples: np.ndarray, dist: Any) -> None:
    """One sample against an analytic law: KS, mean, std and support."""
    samples = samples.ravel()
    n = samples.size
    p_value = stats.kstest(samples, dist.cdf).pvalue
    assert p_value > KS_MIN_P, f"KS p-value {p_value:.3g}"
    mean, std = float(dist.mean()), float(dist.std())
    assert abs(samples.mean() - mean) <= SIGMAS * std / math.sqrt(n)
    assert abs(samples.std(ddof=1) / std - 1.0) <= SIGMAS / math.sqrt(2 * n)
    low, high = dist.support()
    assert low <= samples.min()
    assert samples.max() <= high


def _truncated_at_two(std: float) -> Any:
    """JAX's/Keras's variance-scaling truncated normal with variance std²: a normal of std
    ``std / .8796...`` cut at ±2 of that std."""
    return stats.truncnorm(-2.0, 2.0, scale=std / TRUNCATED_NORMAL_STD)


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


# --------------------------------------------------------------------------- Keras: mapping

KERAS_CASES = [
    ({"class_name": "GlorotNormal", "config": {"seed": None}}, JaxGlorotNormal()),
    ({"class_name": "GlorotUniform", "config": {"seed": 3}}, XavierUniform()),
    ({"class_name": "HeNormal", "config": {}}, JaxHeNormal()),
    ({"class_name": "HeUniform", "config": {}}, KaimingUniform(nonlinearity="relu")),
    ({"class_name": "LecunNormal", "config": {}}, LecunNormal()),
    ({"class_name": "LecunUniform", "config": {}}, LecunUniform()),
    (
        {"class_name": "VarianceScaling", "config": {}},
        VarianceScaling(1.0, "fan_in", "truncated_normal"),
    ),
    (
        {
            "class_name": "VarianceScaling",
            "config": {"scale": 2.0, "mode": "fan_out", "distribution": "uniform"},
        },
        VarianceScaling(2.0, "fan_out", "uniform"),
    ),
    # Keras reads "normal" (in any case) as the truncated normal, "untruncated_normal" as normal
    (
        {"class_name": "VarianceScaling", "config": {"distribution": "normal"}},
        VarianceScaling(1.0, "fan_in", "truncated_normal"),
    ),
    (
        {"class_name": "VarianceScaling", "config": {"distribution": "Untruncated_Normal"}},
        VarianceScaling(1.0, "fan_in", "normal"),
    ),
    ({"class_name": "RandomNormal", "config": {}}, Normal(0.0, 0.05)),
    ({"class_name": "RandomNormal", "config": {"mean": 1, "stddev": 0.5}}, Normal(1.0, 0.5)),
    ({"class_name": "RandomUniform", "config": {}}, Uniform(-0.05, 0.05)),
    ({"class_name": "RandomUniform", "config": {"minval": 0, "maxval": 2}}, Uniform(0.0, 2.0)),
    ({"class_name": "TruncatedNormal", "config": {}}, TruncNormal(0.0, 0.05, -0.1, 0.1)),
    (
        {"class_name": "TruncatedNormal", "config": {"mean": 1.0, "stddev": 0.25}},
        TruncNormal(1.0, 0.25, 0.5, 1.5),
    ),
    ({"class_name": "Zeros", "config": {}}, Zeros()),
    ({"class_name": "Ones", "config": {}}, Ones()),
    ({"class_name": "Constant", "config": {}}, Constant(0.0)),
    ({"class_name": "Constant", "config": {"value": 3}}, Constant(3.0)),
    ({"class_name": "Identity", "config": {}}, ScaledEye(1.0)),
    ({"class_name": "Identity", "config": {"gain": 0.5}}, ScaledEye(0.5)),
    ({"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": 1}}, Orthogonal(2.0)),
    # Keras 3's serialized form
    (
        {
            "module": "keras.initializers",
            "class_name": "HeNormal",
            "config": {"seed": None, "input_axes": None, "output_axes": None},
            "registered_name": None,
        },
        JaxHeNormal(),
    ),
    # tf.keras 2's names and TF1-era dtype keys
    ({"class_name": "GlorotNormalV2", "config": {"seed": None}}, JaxGlorotNormal()),
    ({"class_name": "he_normalV2", "config": {"seed": None}}, JaxHeNormal()),
    (
        {"class_name": "GlorotUniform", "config": {"seed": None, "dtype": "float32"}},
        XavierUniform(),
    ),
    ({"class_name": "glorot_uniform"}, XavierUniform()),
    ({"class_name": "zeros", "config": None}, Zeros()),
    # bare names, and Keras's aliases
    ("he_normal", JaxHeNormal()),
    ("GlorotNormal", JaxGlorotNormal()),
    ("random_normal", Normal(0.0, 0.05)),
    ("normal", Normal(0.0, 0.05)),
    ("uniform", Uniform(-0.05, 0.05)),
    ("zero", Zeros()),
    ("one", Ones()),
    ("truncated_normal", TruncNormal(0.0, 0.05, -0.1, 0.1)),
    ("variance_scaling", VarianceScaling()),
    ("IdentityInitializer", ScaledEye()),
    ("OrthogonalInitializer", Orthogonal()),
]


@pytest.mark.parametrize(("config", "expected"), KERAS_CASES, ids=repr)
def test_from_keras(config: Any, expected: Strategy) -> None:
    strategy = from_keras(config)
    assert strategy == expected
    assert type(strategy) is type(expected)
    # every result is plain data too: a YAML policy can hold it
    assert to_strategy(strategy.to_spec()) == strategy


def test_imported_strategies_in_a_yaml_policy() -> None:
    policy = torchinit.Policy(
        [
            torchinit.Rule(nn.Linear, weight=from_keras("HeNormal"), bias=from_keras("Zeros")),
            torchinit.Rule(
                nn.Conv2d, weight=from_jax("variance_scaling", 1.0, "fan_geo_avg", "normal")
            ),
        ]
    )
    text = policy.to_yaml()
    assert "weight: jax_he_normal" in text
    assert "{scale: 1.0, mode: fan_geo_avg, distribution: normal}" in text
    assert torchinit.Policy.from_yaml(text) == policy
    written = torchinit.Policy.from_yaml(
        "rules:\n"
        "  - match: {type: Linear}\n"
        "    weight: {variance_scaling: {mode: fan_geo_avg, distribution: untruncated_normal}}\n"
    )
    assert written.rules[0].strategies[0] == (
        "weight",
        VarianceScaling(1.0, "fan_geo_avg", "normal"),
    )


def test_from_keras_covers_every_class() -> None:
    covered = {config["class_name"] for config, _ in KERAS_CASES if isinstance(config, dict)} & set(
        KERAS_INITIALIZERS
    )
    assert covered == set(KERAS_INITIALIZERS)
    assert len(KERAS_INITIALIZERS) == 15


def test_from_keras_does_not_change_the_config() -> None:
    config = {"class_name": "VarianceScaling", "config": {"distribution": "Normal", "seed": 1}}
    from_keras(config)
    assert config == {
        "class_name": "VarianceScaling",
        "config": {"distribution": "Normal", "seed": 1},
    }


KERAS_ERRORS = [
    (
        {"class_name": "VarianceScaling", "config": {"mode": "fan_inn"}},
        InvalidArgumentError,
        "keras: config.mode: must be one of ['fan_in', 'fan_out', 'fan_avg']; did you mean "
        "'fan_in'? (got 'fan_inn')",
    ),
    (
        {"class_name": "VarianceScaling", "config": {"mode": "fan_geo_avg"}},
        InvalidArgumentError,
        "keras: config.mode: must be one of ['fan_in', 'fan_out', 'fan_avg']; did you mean "
        "'fan_avg'? (got 'fan_geo_avg')",
    ),
    (
        {"class_name": "VarianceScaling", "config": {"distribution": "gauss"}},
        InvalidArgumentError,
        "keras: config.distribution: must be one of ['truncated_normal', "
        "'untruncated_normal', 'uniform', 'normal'] (got 'gauss')",
    ),
    (
        {"class_name": "VarianceScaling", "config": {"distribution": "Gauss"}},
        InvalidArgumentError,
        "keras: config.distribution: must be one of ['truncated_normal', "
        "'untruncated_normal', 'uniform', 'normal'] (got 'Gauss')",
    ),
    (
        {"class_name": "VarianceScaling", "config": {"mode": None}},
        ArgumentTypeError,
        "keras: config.mode: must be one of ['fan_in', 'fan_out', 'fan_avg'] (got None)",
    ),
    (
        {"class_name": "VarianceScaling", "config": {"distribution": 1}},
        ArgumentTypeError,
        "keras: config.distribution: must be a string (got 1)",
    ),
    (
        {"class_name": "VarianceScaling", "config": {"scale": 0}},
        InvalidArgumentError,
        "keras: config.scale: must be > 0 (got 0)",
    ),
    (
        {"class_name": "VarianceScaling", "config": {"input_axes": [0]}},
        InvalidArgumentError,
        "keras: config.input_axes: only None is supported: torch weights are (out, in, "
        "*kernel), where Keras's default axes give the same fans (got [0])",
    ),
    (
        {"class_name": "HeNormal", "config": {"output_axes": [-1]}},
        InvalidArgumentError,
        "keras: config.output_axes: only None is supported: torch weights are (out, in, "
        "*kernel), where Keras's default axes give the same fans (got [-1])",
    ),
    (
        {"class_name": "GlorotNormall", "config": {}},
        UnknownNameError,
        "keras: class_name: unknown Keras initializer; did you mean 'GlorotNormal'? known: "
        f"{list(KERAS_INITIALIZERS)} (got 'GlorotNormall')",
    ),
    (
        "he_normall",
        UnknownNameError,
        "keras: unknown Keras initializer; did you mean 'he_normal'? known: "
        f"{list(KERAS_INITIALIZERS)} (got 'he_normall')",
    ),
    (
        {"class_name": "RandomNormal", "config": {"std": 0.1}},
        UnknownNameError,
        "keras: config.std: unknown argument; did you mean 'stddev'? RandomNormal takes "
        "['mean', 'stddev', 'seed'] (got 0.1)",
    ),
    (
        {"class_name": "RandomNormal", "config": {"stddev": -1}},
        OutOfRangeError,
        "keras: config.stddev: must be >= 0 (got -1)",
    ),
    (
        {"class_name": "RandomUniform", "config": {"minval": 1, "maxval": 0}},
        OutOfRangeError,
        "keras: config.maxval: must be >= minval=1.0 (got 0)",
    ),
    (
        {"class_name": "TruncatedNormal", "config": {"stddev": 0}},
        InvalidArgumentError,
        "keras: config.stddev: must be > 0 (got 0)",
    ),
    (
        {"class_name": "Constant", "config": {"value": [1, 2]}},
        ArgumentTypeError,
        "keras: config.value: must be a number (got [1, 2])",
    ),
    (
        {"class_name": "Orthogonal", "config": {"gain": -1}},
        InvalidArgumentError,
        "keras: config.gain: must be > 0 (got -1)",
    ),
    (
        {"class_name": "Zeros", "config": {"value": 1}},
        UnknownNameError,
        "keras: config.value: unknown argument; Zeros takes [] (got 1)",
    ),
    (
        {"class_nam": "Zeros"},
        UnknownNameError,
        "keras: class_nam: unknown key; did you mean 'class_name'? allowed: ['class_name', "
        "'config', 'module', 'registered_name'] (got 'Zeros')",
    ),
    (
        {"config": {}},
        ArgumentTypeError,
        "keras: class_name: missing: every Keras config names its class",
    ),
    (
        {"class_name": "Zeros", "config": [1]},
        ArgumentTypeError,
        "keras: config: must be a mapping of argument to value (got [1])",
    ),
    (
        3,
        ArgumentTypeError,
        "keras: must be an initializer name or a {'class_name': ..., 'config': {...}} mapping "
        "(for a Keras initializer object, pass keras.initializers.serialize(obj)) (got 3)",
    ),
]


@pytest.mark.parametrize(("config", "error", "message"), KERAS_ERRORS, ids=repr)
def test_from_keras_errors(config: Any, error: type[TorchInitError], message: str) -> None:
    with pytest.raises(TorchInitError) as info:
        from_keras(config)
    assert type(info.value) is error
    assert str(info.value) == message


# --------------------------------------------------------------------------- JAX: mapping

JAX_CASES = [
    (("zeros",), {}, Zeros()),
    (("ones",), {}, Ones()),
    (("constant", -7), {}, Constant(-7.0)),
    (("constant",), {"value": 0.5, "dtype": "float32"}, Constant(0.5)),
    (("uniform",), {}, Uniform(0.0, 0.01)),
    (("uniform", 10.0), {}, Uniform(0.0, 10.0)),
    (("normal",), {}, Normal(0.0, 0.01)),
    (("normal",), {"stddev": 0.02}, Normal(0.0, 0.02)),
    (("truncated_normal",), {}, TruncNormal(0.0, 0.01, -0.02, 0.02)),
    (("truncated_normal", 0.5), {"lower": -1.0, "upper": 3.0}, TruncNormal(0.0, 0.5, -0.5, 1.5)),
    (
        ("variance_scaling", 2.0, "fan_in", "normal"),
        {},
        VarianceScaling(2.0, "fan_in", "normal"),
    ),
    (
        ("variance_scaling",),
        {"scale": 1.0, "mode": "fan_geo_avg", "distribution": "truncated_normal"},
        VarianceScaling(1.0, "fan_geo_avg", "truncated_normal"),
    ),
    (
        ("variance_scaling", 1.0, "fan_avg", "uniform"),
        {"in_axis": -2, "out_axis": (-1,), "batch_axis": ()},
        VarianceScaling(1.0, "fan_avg", "uniform"),
    ),
    (("glorot_normal",), {}, JaxGlorotNormal()),
    (("xavier_normal",), {}, JaxGlorotNormal()),
    (("glorot_uniform",), {}, XavierUniform()),
    (("xavier_uniform",), {"in_axis": -2, "out_axis": -1}, XavierUniform()),
    (("he_normal",), {}, JaxHeNormal()),
    (("kaiming_normal",), {}, JaxHeNormal()),
    (("he_uniform",), {}, KaimingUniform(nonlinearity="relu")),
    (("kaiming_uniform",), {}, KaimingUniform(nonlinearity="relu")),
    (("lecun_normal",), {"batch_axis": []}, LecunNormal()),
    (("lecun_uniform",), {}, LecunUniform()),
    (("orthogonal",), {}, Orthogonal(1.0)),
    (("orthogonal", 2.0), {"column_axis": -1}, Orthogonal(2.0)),
    (("jax.nn.initializers.he_normal",), {}, JaxHeNormal()),
    (("flax.linen.initializers.lecun_normal",), {}, LecunNormal()),
]


@pytest.mark.parametrize(("args", "kwargs", "expected"), JAX_CASES, ids=repr)
def test_from_jax(args: tuple[Any, ...], kwargs: dict[str, Any], expected: Strategy) -> None:
    strategy = from_jax(*args, **kwargs)
    assert strategy == expected
    assert type(strategy) is type(expected)
    assert to_strategy(strategy.to_spec()) == strategy


def test_from_jax_covers_every_name() -> None:
    covered = {args[0] for args, _, _ in JAX_CASES}
    assert covered >= set(JAX_INITIALIZERS)
    assert len(JAX_INITIALIZERS) == 18


_VS = ("variance_scaling", 1.0, "fan_in", "normal")

JAX_ERRORS = [
    (
        ("variance_scaling", 1.0, "fan_inn", "normal"),
        {},
        InvalidArgumentError,
        "jax: variance_scaling.mode: must be one of ['fan_in', 'fan_out', 'fan_avg', "
        "'fan_geo_avg']; did you mean 'fan_in'? (got 'fan_inn')",
    ),
    (
        ("variance_scaling", 1.0, "fan_in", "untruncated_normal"),
        {},
        InvalidArgumentError,
        "jax: variance_scaling.distribution: must be one of ['truncated_normal', 'normal', "
        "'uniform']; did you mean 'truncated_normal'? (got 'untruncated_normal')",
    ),
    (
        ("variance_scaling", -1.0, "fan_in", "normal"),
        {},
        InvalidArgumentError,
        "jax: variance_scaling.scale: must be > 0 (got -1.0)",
    ),
    (
        ("variance_scaling", 1.0),
        {},
        ArgumentTypeError,
        "jax: variance_scaling.mode: missing required argument",
    ),
    (
        _VS,
        {"in_axis": 0},
        InvalidArgumentError,
        "jax: variance_scaling.in_axis: only the default -2 is supported: torch weights are "
        "(out, in, *kernel), where the default axes give the same fans (got 0)",
    ),
    (
        ("he_normal",),
        {"out_axis": (-2, -1)},
        InvalidArgumentError,
        "jax: he_normal.out_axis: only the default -1 is supported: torch weights are "
        "(out, in, *kernel), where the default axes give the same fans (got (-2, -1))",
    ),
    (
        ("lecun_normal",),
        {"batch_axis": 0},
        InvalidArgumentError,
        "jax: lecun_normal.batch_axis: only the default () is supported: torch weights are "
        "(out, in, *kernel), where the default axes give the same fans (got 0)",
    ),
    (
        ("orthogonal",),
        {"column_axis": 0},
        InvalidArgumentError,
        "jax: orthogonal.column_axis: only the default -1 is supported: torch weights are "
        "(out, in, *kernel), where the default axes give the same fans (got 0)",
    ),
    (
        ("glorot_normal",),
        {"dtype": "complex64"},
        InvalidArgumentError,
        "jax: glorot_normal.dtype: complex dtypes are not supported (the tensor's dtype "
        "decides) (got 'complex64')",
    ),
    (
        ("he_normall",),
        {},
        UnknownNameError,
        f"jax: name: unknown initializer; did you mean 'he_normal'? known: "
        f"{list(JAX_INITIALIZERS)} (got 'he_normall')",
    ),
    (
        ("normal",),
        {"std": 0.1},
        UnknownNameError,
        "jax: normal.std: unknown argument; did you mean 'stddev'? normal takes ['stddev', "
        "'dtype'] (got 0.1)",
    ),
    (
        ("normal", 0.1),
        {"stddev": 0.2},
        ArgumentTypeError,
        "jax: normal.stddev: given both by position and by name (got 0.2)",
    ),
    (
        ("zeros", 0.1),
        {},
        ArgumentTypeError,
        "jax: zeros: takes at most 0 positional arguments (got (0.1,))",
    ),
    (
        ("normal", -0.1),
        {},
        OutOfRangeError,
        "jax: normal.stddev: must be >= 0 (got -0.1)",
    ),
    (
        ("uniform", -1),
        {},
        OutOfRangeError,
        "jax: uniform.scale: must be >= 0 (got -1)",
    ),
    (
        ("truncated_normal", 0.1),
        {"lower": 1.0, "upper": 1.0},
        OutOfRangeError,
        "jax: truncated_normal.upper: must be > lower=1.0 (got 1.0)",
    ),
    (
        ("truncated_normal", 0.0),
        {},
        InvalidArgumentError,
        "jax: truncated_normal.stddev: must be > 0 (got 0.0)",
    ),
    (
        ("constant",),
        {},
        ArgumentTypeError,
        "jax: constant.value: missing required argument",
    ),
    (
        (None,),
        {},
        UnknownNameError,
        f"jax: name: unknown initializer; known: {list(JAX_INITIALIZERS)} (got None)",
    ),
]


@pytest.mark.parametrize(("args", "kwargs", "error", "message"), JAX_ERRORS, ids=repr)
def test_from_jax_errors(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[TorchInitError], message: str
) -> None:
    with pytest.raises(TorchInitError) as info:
        from_jax(*args, **kwargs)
    assert type(info.value) is error
    assert str(info.value) == message


@pytest.mark.slow
def test_importers_import_neither_keras_nor_jax(tmp_path: Any) -> None:
    code = (
        "import sys, torchinit\n"
        "torchinit.from_keras('he_normal'); torchinit.from_jax('he_normal')\n"
        "print(sorted(m for m in ('keras', 'jax', 'tensorflow') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- published laws


PUBLISHED_LAWS = [
    # Keras/JAX: variance scale/fan; truncated normal cut at ±2 inner stds, rescaled
    pytest.param(
        from_keras("GlorotNormal"), WIDE, _truncated_at_two(math.sqrt(2 / 640)), id="glorot_normal"
    ),
    pytest.param(
        from_keras("HeNormal"), CONV, _truncated_at_two(math.sqrt(2 / 288)), id="he_normal"
    ),
    pytest.param(
        from_keras("LecunNormal"), CONV, _truncated_at_two(math.sqrt(1 / 288)), id="lecun_normal"
    ),
    pytest.param(
        from_keras("GlorotUniform"),
        WIDE,
        stats.uniform(-math.sqrt(6 / 640), 2 * math.sqrt(6 / 640)),
        id="glorot_uniform",
    ),
    pytest.param(
        from_keras("HeUniform"),
        CONV,
        stats.uniform(-math.sqrt(6 / 288), 2 * math.sqrt(6 / 288)),
        id="he_uniform",
    ),
    pytest.param(
        from_jax("variance_scaling", 3.0, "fan_geo_avg", "truncated_normal"),
        CONV,
        _truncated_at_two(math.sqrt(3 / math.sqrt(288 * 576))),
        id="fan_geo_avg",
    ),
    # Keras TruncatedNormal: absolute cut at mean ± 2 stddev, no rescale
    pytest.param(
        from_keras({"class_name": "TruncatedNormal", "config": {"mean": 0.1, "stddev": 0.2}}),
        WIDE,
        stats.truncnorm(-2.0, 2.0, loc=0.1, scale=0.2),
        id="keras_truncated_normal",
    ),
    # JAX truncated_normal: stddev * (standard normal truncated to [lower, upper])
    pytest.param(
        from_jax("truncated_normal", 0.2, lower=-1.0, upper=3.0),
        WIDE,
        stats.truncnorm(-1.0, 3.0, scale=0.2),
        id="jax_truncated_normal",
    ),
    pytest.param(from_jax("uniform", 0.5), WIDE, stats.uniform(0.0, 0.5), id="jax_uniform"),
    pytest.param(from_jax("normal"), WIDE, stats.norm(scale=0.01), id="jax_normal"),
    pytest.param(from_keras("RandomNormal"), WIDE, stats.norm(scale=0.05), id="keras_normal"),
    pytest.param(from_keras("RandomUniform"), WIDE, stats.uniform(-0.05, 0.1), id="keras_uniform"),
]


@pytest.mark.parametrize(("strategy", "shape", "dist"), PUBLISHED_LAWS)
def test_draws_follow_the_published_law(
    strategy: Strategy, shape: tuple[int, ...], dist: Any
) -> None:
    _assert_follows(_draw(strategy, shape), dist)


def test_identity_and_orthogonal_read_the_transposed_layout() -> None:
    # Keras's Identity((in, out)) is eye(in, out); its transpose is torch's (out, in) eye
    keras_kernel = np.eye(3, 5) * 0.5
    torch_weight = _draw(from_keras({"class_name": "Identity", "config": {"gain": 0.5}}), (5, 3))
    assert np.array_equal(torch_weight, keras_kernel.T)
    # an orthogonal conv weight, flattened as torch and as JAX/Keras flatten it
    weight = _draw(from_jax("orthogonal", 2.0), (8, 4, 3, 3))
    torch_matrix = weight.reshape(8, -1)  # (out, in * k): orthogonal rows, times the scale
    assert np.allclose(torch_matrix @ torch_matrix.T, 4.0 * np.eye(8), atol=1e-5)
    jax_matrix = weight.transpose(2, 3, 1, 0).reshape(-1, 8)  # (*k, in, out) -> (k * in, out)
    assert np.allclose(jax_matrix.T @ jax_matrix, 4.0 * np.eye(8), atol=1e-5)


# --------------------------------------------------------------------------- against JAX


@pytest.fixture(scope="module")
def jax() -> Any:
    return pytest.importorskip("jax")


def _jax_samples(jax: Any, initializer: Any, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Samples of a JAX initializer for a torch weight shape, drawn in JAX's layout."""
    return np.asarray(initializer(jax.random.key(seed), _jax_layout(shape), jax.numpy.float32))


AGAINST_JAX = [
    (("glorot_normal",), {}, WIDE),
    (("xavier_normal",), {}, CONV),
    (("glorot_uniform",), {}, CONV),
    (("he_normal",), {}, CONV),
    (("kaiming_normal",), {}, WIDE),
    (("he_uniform",), {}, WIDE),
    (("kaiming_uniform",), {}, CONV),
    (("lecun_normal",), {}, WIDE),
    (("lecun_uniform",), {}, CONV),
    (("variance_scaling", 2.0, "fan_geo_avg", "truncated_normal"), {}, CONV),
    (("variance_scaling", 0.5, "fan_out", "normal"), {}, WIDE),
    (("variance_scaling", 1.0, "fan_avg", "uniform"), {}, CONV),
    (("normal",), {}, WIDE),
    (("normal", 0.3), {}, WIDE),
    (("uniform",), {}, WIDE),
    (("uniform", 4.0), {}, WIDE),
    (("truncated_normal",), {}, WIDE),
    (("truncated_normal", 0.5), {"lower": -1.0, "upper": 0.5}, WIDE),
    (("orthogonal", 1.5), {}, (256, 256)),
]


@pytest.mark.parametrize(("args", "kwargs", "shape"), AGAINST_JAX, ids=repr)
def test_against_jax_samples(
    jax: Any, args: tuple[Any, ...], kwargs: dict[str, Any], shape: tuple[int, ...]
) -> None:
    name, *arguments = args
    theirs = _jax_samples(jax, getattr(jax.nn.initializers, name)(*arguments, **kwargs), shape)
    _assert_same_law(_draw(from_jax(*args, **kwargs), shape), theirs)


def test_against_jax_constants(jax: Any) -> None:
    for name, arguments in (("zeros", None), ("ones", None), ("constant", (-7.0,))):
        initializer = getattr(jax.nn.initializers, name)
        if arguments is not None:
            initializer = initializer(*arguments)
        theirs = _jax_samples(jax, initializer, (3, 4))
        ours = _draw(from_jax(name, *(arguments or ())), (3, 4))
        assert np.array_equal(ours, theirs.T)


# --------------------------------------------------------------------------- against Keras


@pytest.fixture(scope="module")
def keras() -> Any:
    pytest.importorskip("jax")
    if "keras" not in sys.modules:
        # Keras picks its backend when first imported; tensorflow is not a test dependency
        os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"needs Keras on its jax backend, not {keras.backend.backend()}")
    return keras


AGAINST_KERAS = [
    ({"class_name": "GlorotNormal", "config": {"seed": 1}}, WIDE),
    ({"class_name": "GlorotUniform", "config": {"seed": 1}}, CONV),
    ({"class_name": "HeNormal", "config": {"seed": 1}}, CONV),
    ({"class_name": "HeUniform", "config": {"seed": 1}}, WIDE),
    ({"class_name": "LecunNormal", "config": {"seed": 1}}, CONV),
    ({"class_name": "LecunUniform", "config": {"seed": 1}}, WIDE),
    ({"class_name": "VarianceScaling", "config": {"seed": 1, "distribution": "normal"}}, WIDE),
    (
        {
            "class_name": "VarianceScaling",
            "config": {
                "seed": 1,
                "scale": 2.0,
                "mode": "fan_avg",
                "distribution": "untruncated_normal",
            },
        },
        CONV,
    ),
    (
        {
            "class_name": "VarianceScaling",
            "config": {"seed": 1, "mode": "fan_out", "distribution": "uniform"},
        },
        CONV,
    ),
    ({"class_name": "RandomNormal", "config": {"seed": 1}}, WIDE),
    ({"class_name": "RandomUniform", "config": {"seed": 1, "minval": 0.0, "maxval": 3.0}}, WIDE),
    ({"class_name": "TruncatedNormal", "config": {"seed": 1}}, WIDE),
    ({"class_name": "TruncatedNormal", "config": {"seed": 1, "mean": 1.0, "stddev": 0.5}}, WIDE),
    ({"class_name": "Orthogonal", "config": {"seed": 1, "gain": 0.5}}, (256, 256)),
]


@pytest.mark.parametrize(("config", "shape"), AGAINST_KERAS, ids=repr)
def test_against_keras_samples(keras: Any, config: dict[str, Any], shape: tuple[int, ...]) -> None:
    theirs = np.asarray(keras.initializers.get(config)(_jax_layout(shape)))
    _assert_same_law(_draw(from_keras(config), shape), theirs)


def test_against_keras_constants(keras: Any) -> None:
    for config in ("zeros", "ones", {"class_name": "Constant", "config": {"value": 2.5}}):
        theirs = np.asarray(keras.initializers.get(config)((3, 4)))
        assert np.array_equal(_draw(from_keras(config), (4, 3)), theirs.T)
    theirs = np.asarray(keras.initializers.Identity(gain=3.0)((3, 5)))
    assert np.array_equal(
        _draw(from_keras({"class_name": "Identity", "config": {"gain": 3.0}}), (5, 3)), theirs.T
    )


# --------------------------------------------------------------------------- the table's rows
# Each row of docs/guide/dialects.md's table, from the laws written out (scipy); the same
# strategies against JAX's and Keras's own samples are test_against_jax_samples and
# test_against_keras_samples above.


def _torch_draw(function: Any, shape: tuple[int, ...], **kwargs: Any) -> np.ndarray:
    generator = torch.Generator().manual_seed(1)
    return function(torch.empty(shape), generator=generator, **kwargs).double().numpy().ravel()


def _ks_p(samples: np.ndarray, dist: Any) -> float:
    return float(stats.kstest(samples.ravel(), dist.cdf).pvalue)


def test_row_glorot_normal() -> None:
    """torch's xavier_normal_ is a plain normal; JAX's glorot_normal/xavier_normal and Keras's
    GlorotNormal the truncated one of the same variance: torchinit's jax_glorot_normal."""
    std = math.sqrt(2 / 640)
    torch_values = _torch_draw(nn.init.xavier_normal_, WIDE)
    _assert_follows(torch_values, stats.norm(scale=std))
    assert _ks_p(torch_values, _truncated_at_two(std)) < KS_DIFFERENT_P
    _assert_follows(_draw(from_jax("xavier_normal"), WIDE), _truncated_at_two(std))
    assert from_jax("xavier_normal") == from_keras("GlorotNormal") == JaxGlorotNormal()
    assert from_jax("glorot_normal") != XavierNormal()


def test_row_he_normal() -> None:
    """torch's kaiming_normal_ is a plain normal; JAX's he_normal/kaiming_normal and Keras's
    HeNormal the truncated one: torchinit's jax_he_normal."""
    std = math.sqrt(2 / 512)
    torch_values = _torch_draw(nn.init.kaiming_normal_, WIDE, nonlinearity="relu")
    _assert_follows(torch_values, stats.norm(scale=std))
    assert _ks_p(torch_values, _truncated_at_two(std)) < KS_DIFFERENT_P
    _assert_follows(_draw(from_jax("kaiming_normal"), WIDE), _truncated_at_two(std))
    assert from_jax("kaiming_normal") == from_keras("he_normal") == JaxHeNormal()
    assert from_jax("he_normal") != KaimingNormal(nonlinearity="relu")


def test_row_lecun_normal() -> None:
    """JAX's and Keras's lecun_normal are the truncated normal, as torchinit's."""
    _assert_follows(_draw(LecunNormal(), CONV), _truncated_at_two(math.sqrt(1 / 288)))
    assert from_keras("LecunNormal") == from_jax("lecun_normal") == LecunNormal()


def test_row_lecun_normal_timm() -> None:
    """timm's lecun_normal_ is the truncated normal too (its variance_scaling_'s default
    distribution, 'normal', is the plain one)."""
    weight_init = pytest.importorskip("timm.layers.weight_init")
    torch.manual_seed(3)
    timm_values = torch.empty(CONV)
    weight_init.lecun_normal_(timm_values)
    _assert_same_law(_draw(LecunNormal(), CONV), timm_values.numpy())
    torch.manual_seed(3)
    plain = torch.empty(WIDE)
    weight_init.variance_scaling_(plain)
    _assert_follows(plain.double().numpy(), stats.norm(scale=math.sqrt(1 / 512)))


def test_row_trunc_normal() -> None:
    """torch's trunc_normal_ cuts at absolute values (std .02 within ±2: nothing is cut);
    JAX's truncated_normal at lower/upper stddevs; Keras's TruncatedNormal at mean ± 2
    stddev."""
    torch_values = _torch_draw(nn.init.trunc_normal_, WIDE, std=0.02)
    _assert_follows(torch_values, stats.norm(scale=0.02))
    assert TruncNormal(std=0.02).law(WIDE).params == (0.0, 0.02, -2.0, 2.0)
    jax_like = from_jax("truncated_normal", 0.02)
    assert jax_like == from_keras({"class_name": "TruncatedNormal", "config": {"stddev": 0.02}})
    assert jax_like == TruncNormal(0.0, 0.02, -0.04, 0.04)
    ours = _draw(jax_like, WIDE)
    _assert_follows(ours, stats.truncnorm(-2.0, 2.0, scale=0.02))
    assert _ks_p(torch_values, stats.truncnorm(-2.0, 2.0, scale=0.02)) < KS_DIFFERENT_P


def test_row_trunc_normal_timm() -> None:
    """timm's trunc_normal_ (its ViTs: std .02) has torch's absolute bounds: nothing is cut.
    It draws by the inverse CDF, as trunc_normal_icdf does, bit for bit."""
    weight_init = pytest.importorskip("timm.layers.weight_init")
    torch.manual_seed(5)
    timm_tensor = weight_init.trunc_normal_(torch.empty(WIDE), std=0.02)
    torch.manual_seed(5)
    assert torch.equal(torchinit.TruncNormalInverseCDF(std=0.02)(torch.empty(WIDE)), timm_tensor)
    timm_values = timm_tensor.double().numpy()
    _assert_follows(timm_values, stats.norm(scale=0.02))
    _assert_same_law(_draw(TruncNormal(std=0.02), WIDE), timm_values)
    assert _ks_p(timm_values, stats.truncnorm(-2.0, 2.0, scale=0.02)) < KS_DIFFERENT_P


def test_row_uniform() -> None:
    """torch's uniform_ is U(a, b), [0, 1) by default, as torchinit's uniform; JAX's
    uniform(scale) is U[0, scale), 1e-2 by default; Keras's RandomUniform is U(-.05, .05)."""
    _assert_follows(_torch_draw(nn.init.uniform_, WIDE), stats.uniform(0.0, 1.0))
    assert Uniform() == Uniform(0.0, 1.0)
    assert from_jax("uniform") == Uniform(0.0, 0.01)
    _assert_follows(_draw(from_jax("uniform"), WIDE), stats.uniform(0.0, 0.01))
    assert from_keras("RandomUniform") == Uniform(-0.05, 0.05)


def test_row_normal_defaults() -> None:
    """The default std: torch's normal_ 1, JAX's normal 1e-2, Keras's RandomNormal 0.05."""
    _assert_follows(_torch_draw(nn.init.normal_, WIDE), stats.norm(scale=1.0))
    assert Normal() == Normal(0.0, 1.0)
    assert from_jax("normal") == Normal(0.0, 0.01)
    assert from_keras("RandomNormal") == Normal(0.0, 0.05)
    assert from_keras("normal") == Normal(0.0, 0.05)


def test_row_variance_scaling_normal() -> None:
    """VarianceScaling(distribution='normal'): the plain normal in JAX and torchinit, the
    truncated normal in Keras (whose plain normal is 'untruncated_normal')."""
    std = math.sqrt(1 / 512)
    ours = from_jax("variance_scaling", 1.0, "fan_in", "normal")
    _assert_follows(_draw(ours, WIDE), stats.norm(scale=std))
    keras_plain = {
        "class_name": "VarianceScaling",
        "config": {"distribution": "untruncated_normal"},
    }
    assert from_keras(keras_plain) == ours == VarianceScaling(1.0, "fan_in", "untruncated_normal")
    keras_normal = from_keras(
        {"class_name": "VarianceScaling", "config": {"distribution": "normal"}}
    )
    _assert_follows(_draw(keras_normal, WIDE), _truncated_at_two(std))


def test_row_orthogonal() -> None:
    """torch's orthogonal_(gain), JAX's orthogonal(scale) and Keras's Orthogonal(gain): one
    law on transposed layouts (torch: orthogonal rows of (out, in·k); JAX/Keras: orthogonal
    columns of (k·in, out))."""
    ours = _draw(from_jax("orthogonal", 1.5), (64, 128))
    assert np.allclose(ours @ ours.T, 2.25 * np.eye(64), atol=1e-4)
    torch_values = _torch_draw(nn.init.orthogonal_, (64, 128), gain=1.5).reshape(64, 128)
    assert np.allclose(torch_values @ torch_values.T, 2.25 * np.eye(64), atol=1e-4)
    assert from_keras({"class_name": "Orthogonal", "config": {"gain": 1.5}}) == Orthogonal(1.5)


def test_row_same_law_uniform_names() -> None:
    """glorot_uniform/he_uniform: the same law everywhere (torchinit's xavier_uniform and
    kaiming_uniform with nonlinearity='relu', bit for bit torch's)."""
    cases = (
        (from_jax("glorot_uniform"), nn.init.xavier_uniform_, {}, math.sqrt(6 / 640)),
        (
            from_keras("HeUniform"),
            nn.init.kaiming_uniform_,
            {"nonlinearity": "relu"},
            math.sqrt(6 / 512),
        ),
    )
    for strategy, torch_function, kwargs, bound in cases:
        ours = _draw(strategy, WIDE, seed=1).ravel()
        assert np.array_equal(ours, _torch_draw(torch_function, WIDE, **kwargs))
        _assert_follows(ours, stats.uniform(-bound, 2 * bound))


def test_top_level_names() -> None:
    assert torchinit.from_keras is from_keras
    assert torchinit.from_jax is from_jax
    assert {"from_keras", "from_jax", "JaxGlorotNormal", "JaxHeNormal", "ScaledEye"} <= set(
        torchinit.__all__
    )


def test_every_row_of_the_table_names_its_test() -> None:
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "dialects.md"
    table = page.read_text(encoding="utf-8").split("## Same name, different law")[1]
    table = table.split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == 9
    named = set()
    for row in rows:
        tests = re.findall(r"`(test_row_\w+)`", row.rsplit("|", 2)[-2])
        assert tests, row
        named.update(tests)
    defined = {name for name in globals() if name.startswith("test_row_")}
    assert named == defined

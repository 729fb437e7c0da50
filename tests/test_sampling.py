"""torchinit.sampling: the fast truncated normal follows torch's truncated distribution."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import torchinit
from torchinit.sampling import trunc_normal_, trunc_normal_std_

N = 200_000

# (mean, std, a, b): central, asymmetric, one-sided tails, narrow, far tails (inverse CDF in
# float64, and beyond float64's CDF where exponential rejection takes over)
INTERVALS = [
    (0.0, 1.0, -2.0, 2.0),
    (0.0, 0.02, -0.04, 0.04),
    (1.0, 2.0, -1.0, 8.0),
    (0.0, 1.0, 0.5, 1.0),
    (0.0, 1.0, 3.0, 5.0),
    (0.0, 1.0, -6.0, -4.0),
    (0.0, 1.0, 8.0, 9.0),
    (0.0, 1.0, -0.1, 0.1),
    (0.0, 1.0, 35.0, 36.0),
    (0.0, 1.0, -41.0, -40.0),
    (0.0, 1.0, 50.0, 50.01),
    (0.0, 0.02, -2.0, 2.0),
]


@pytest.mark.parametrize(("mean", "std", "a", "b"), INTERVALS, ids=str)
def test_samples_follow_the_truncated_normal(mean: float, std: float, a: float, b: float) -> None:
    sample = trunc_normal_(
        torch.empty(N, dtype=torch.float64),
        mean,
        std,
        a,
        b,
        generator=torch.Generator().manual_seed(0),
    )
    assert float(sample.min()) >= a
    assert float(sample.max()) <= b
    law = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    values = sample.numpy()
    assert stats.kstest(values, law.cdf).pvalue > 1e-4
    tolerance = 6 * law.std() / math.sqrt(N)
    assert abs(values.mean() - law.mean()) <= tolerance
    assert abs(values.std() / law.std() - 1) <= 6 / math.sqrt(2 * N)


def test_same_distribution_as_torch() -> None:
    ours = trunc_normal_(
        torch.empty(N), 0.0, 0.5, -0.3, 0.9, generator=torch.Generator().manual_seed(1)
    )
    theirs = torch.nn.init.trunc_normal_(
        torch.empty(N), 0.0, 0.5, -0.3, 0.9, generator=torch.Generator().manual_seed(2)
    )
    assert stats.ks_2samp(ours.numpy(), theirs.numpy()).pvalue > 1e-4


def test_generator_determinism_and_global_rng_untouched() -> None:
    state = torch.get_rng_state()
    first = trunc_normal_(torch.empty(1000), generator=torch.Generator().manual_seed(3))
    second = trunc_normal_(torch.empty(1000), generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)
    assert torch.equal(torch.get_rng_state(), state)
    third = trunc_normal_(torch.empty(1000), generator=torch.Generator().manual_seed(4))
    assert not torch.equal(first, third)


def test_in_place_keeps_dtype_and_non_contiguous_views() -> None:
    base = torch.zeros(64, 32, dtype=torch.float64)
    view = base.t()
    assert trunc_normal_(view, std=0.1, a=-0.2, b=0.2, generator=torch.Generator()) is view
    assert view.dtype == torch.float64
    assert float(base.abs().max()) <= 0.2
    assert float(base.abs().min()) > 0
    half = trunc_normal_(torch.empty(100, dtype=torch.bfloat16), generator=torch.Generator())
    assert half.dtype == torch.bfloat16


def test_std_units_variant() -> None:
    sample = trunc_normal_std_(
        torch.empty(N, dtype=torch.float64), 1.0, 0.02, generator=torch.Generator().manual_seed(5)
    )
    assert float(sample.min()) >= 1.0 - 0.04
    assert float(sample.max()) <= 1.0 + 0.04
    law = stats.truncnorm(-2, 2, loc=1.0, scale=0.02)
    assert stats.kstest(sample.numpy(), law.cdf).pvalue > 1e-4


def test_zero_element_tensor_warns_like_torch() -> None:
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        trunc_normal_(torch.empty(0, 3))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"std": 0.0}, torchinit.InvalidArgumentError, "trunc_normal_.std: must be > 0 (got 0.0)"),
        (
            {"a": 1.0, "b": 1.0},
            torchinit.InvalidArgumentError,
            "trunc_normal_.b: must be > a=1.0 (got 1.0)",
        ),
        (
            {"mean": "0"},
            torchinit.ArgumentTypeError,
            "trunc_normal_.mean: must be a number (got '0')",
        ),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error) as info:
        trunc_normal_(torch.empty(3), **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message

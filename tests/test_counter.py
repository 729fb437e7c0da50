"""torchinit.counter: Philox4x32-10's known answers, the ops the samplers use, a NumPy
reference of the same arithmetic, the laws, and the subset property."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from torchinit import counter
from torchinit.counter import normal, philox4x32, trunc_normal, uniform
from torchinit.errors import InvalidArgumentError, OutOfRangeError

KEY = 0x0123456789ABCDEF
N = 20_000

# Random123's kat_vectors, philox4x32 with 10 rounds: (counter, key, expected output)
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("count", "key", "expected"), KNOWN_ANSWERS)
def test_philox_known_answers(
    count: tuple[int, ...], key: tuple[int, int], expected: tuple[int, ...]
) -> None:
    words = philox4x32(key, torch.tensor(count, dtype=torch.int64))
    assert tuple(words.tolist()) == expected


def test_philox_key_as_tensor_and_batch() -> None:
    counters = torch.tensor([c for c, _, _ in KNOWN_ANSWERS], dtype=torch.int64)
    keys = torch.tensor([k for _, k, _ in KNOWN_ANSWERS], dtype=torch.int64)
    expected = [list(e) for _, _, e in KNOWN_ANSWERS]
    assert philox4x32(keys, counters).tolist() == expected


# --- the ops the samplers use -------------------------------------------------------------

ALLOWED_OPS = {
    # integers and bits
    "aten.__lshift__.Scalar",
    "aten.__rshift__.Scalar",
    "aten.bitwise_and.Scalar",
    "aten.bitwise_and.Tensor",
    "aten.bitwise_or.Scalar",
    "aten.bitwise_xor.Tensor",
    "aten.bitwise_xor.Scalar",
    "aten.bitwise_not.default",
    # the same, in place
    "aten.__ilshift__.Scalar",
    "aten.__irshift__.Scalar",
    "aten.bitwise_and_.Scalar",
    "aten.bitwise_xor_.Scalar",
    "aten.bitwise_xor_.Tensor",
    "aten.add_.Tensor",
    "aten.mul_.Tensor",
    # arithmetic (div checked below to have tensors on both sides)
    "aten.add.Tensor",
    "aten.sub.Tensor",
    "aten.mul.Tensor",
    "aten.div.Tensor",
    # comparisons and selection
    "aten.eq.Scalar",
    "aten.ge.Scalar",
    "aten.gt.Scalar",
    "aten.le.Scalar",
    "aten.lt.Scalar",
    "aten.where.self",
    # casts (checked below to be exact) and bit reinterpretation
    "aten._to_copy.default",
    "aten.view.dtype",
    # creation, views, indexing
    "aten.arange.start",
    "aten.arange.default",
    "aten.empty.memory_format",
    "aten.full.default",
    "aten.full_like.default",
    "aten.scalar_tensor.default",
    "aten.lift_fresh.default",
    "aten.detach.default",
    "aten.view.default",
    "aten.slice.Tensor",
    "aten.unbind.int",
    "aten.stack.default",
    "aten.split.Tensor",
    "aten.cat.default",
    "aten.index.Tensor",
    "aten.index_put_.default",
}
FORBIDDEN_OPS = {
    "aten.sqrt.default",
    "aten.log.default",
    "aten.cos.default",
    "aten.sin.default",
    "aten.exp.default",
    "aten.pow.Tensor_Scalar",
    "aten.addcmul.default",
    "aten.addcdiv.default",
    "aten.lerp.Scalar",
    "aten.lerp.Tensor",
    "aten.normal_.default",
    "aten.uniform_.default",
    "aten.frexp.Tensor",
    "aten.ldexp.Tensor",
}


class _OpRecorder(TorchDispatchMode):
    """Records every aten op, the argument kinds of divisions and the value range of casts."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: set[str] = set()
        self.divisions: set[tuple[str, ...]] = set()
        self.inexact_casts: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = str(func)
        self.ops.add(name)
        if name.startswith("aten.div"):
            self.divisions.add(tuple(type(arg).__name__ for arg in args))
        result = func(*args, **(kwargs or {}))
        if name == "aten._to_copy.default":
            self._check_cast(args[0], result)
        return result

    def _check_cast(self, source: torch.Tensor, result: torch.Tensor) -> None:
        # integers must fit the float's mantissa; float64 -> float32 is the one rounding cast
        limits = {torch.float32: 2**24, torch.float64: 2**53}
        if source.dtype == torch.int64 and result.dtype in limits and source.numel():
            if int(source.abs().max()) > limits[result.dtype]:
                self.inexact_casts.append(f"{source.dtype} -> {result.dtype}")
        elif source.is_floating_point() and result.dtype == torch.int64:
            self.inexact_casts.append(f"{source.dtype} -> {result.dtype}")


SAMPLERS = {
    "uniform32": lambda: uniform(KEY, 3, 500, torch.float32),
    "uniform64": lambda: uniform(KEY, 3, 500, torch.float64),
    "normal32": lambda: normal(KEY, 3, 500, torch.float32),
    "normal64": lambda: normal(KEY, 3, 500, torch.float64),
    "trunc_normal": lambda: trunc_normal(KEY, 3, 500, -0.5, 1.0, torch.float32),
    "draw_constant": lambda: counter.draw("constant", (0.5,), KEY, torch.arange(3, 500)),
    "draw_uniform": lambda: counter.draw("uniform", (-0.1, 0.3), KEY, torch.arange(3, 500)),
    "draw_normal": lambda: counter.draw("normal", (0.1, 0.02), KEY, torch.arange(3, 500)),
    "draw_trunc_normal": lambda: counter.draw(
        "trunc_normal", (0.0, 0.02, -0.01, 0.04), KEY, torch.arange(3, 500)
    ),
}


@pytest.mark.parametrize("block", [counter.BLOCK, 128])
@pytest.mark.parametrize("name", list(SAMPLERS))
def test_samplers_use_only_exact_ops(
    name: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counter, "BLOCK", block)
    with _OpRecorder() as recorder:
        SAMPLERS[name]()
    assert recorder.ops <= ALLOWED_OPS, sorted(recorder.ops - ALLOWED_OPS)
    assert not recorder.ops & FORBIDDEN_OPS
    assert recorder.divisions <= {("Tensor", "Tensor")}
    assert recorder.inexact_casts == []


def test_recorder_sees_forbidden_ops() -> None:
    with _OpRecorder() as recorder:
        x = torch.ones(4, dtype=torch.float64)
        (x / 3.0).sqrt().log()
        torch.full((2,), 2**30, dtype=torch.int64).to(torch.float32)
    assert {"aten.sqrt.default", "aten.log.default"} <= recorder.ops
    assert ("Tensor", "float") in recorder.divisions
    assert recorder.inexact_casts == ["torch.int64 -> torch.float32"]


# --- a pure-NumPy reference of the same arithmetic -----------------------------------------

_M32 = np.uint64(0xFFFFFFFF)


def _np_philox(key: tuple[int, int], words: list[np.ndarray]) -> list[np.ndarray]:
    # uint64 holds the full 32x32-bit product, unlike the int64 tensors
    c0, c1, c2, c3 = words
    k0 = np.full_like(c0, key[0])
    k1 = np.full_like(c0, key[1])
    for round_index in range(counter.PHILOX_ROUNDS):
        if round_index:
            k0 = (k0 + np.uint64(counter.PHILOX_W0)) & _M32
            k1 = (k1 + np.uint64(counter.PHILOX_W1)) & _M32
        p0 = c0 * np.uint64(counter.PHILOX_M0)
        p1 = c2 * np.uint64(counter.PHILOX_M1)
        c0, c1, c2, c3 = (
            (p1 >> np.uint64(32)) ^ c1 ^ k0,
            p1 & _M32,
            (p0 >> np.uint64(32)) ^ c3 ^ k1,
            p0 & _M32,
        )
    return [c0, c1, c2, c3]


def _np_words(key: int, index: np.ndarray, attempt: int = 0) -> list[np.ndarray]:
    zero = np.zeros_like(index)
    return _np_philox(
        (key & 0xFFFFFFFF, key >> 32),
        [index & _M32, index >> np.uint64(32), zero, zero + np.uint64(attempt)],
    )


def _np_bits53(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    return (high >> np.uint64(5)) * np.uint64(2**26) + (low >> np.uint64(6))


def _np_horner(coefficients: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    result = np.full_like(x, coefficients[-1])
    for coefficient in reversed(coefficients[:-1]):
        result = result * x + coefficient
    return result


def _np_normal(key: int, index: np.ndarray, attempt: int = 0) -> np.ndarray:
    w0, w1, w2, w3 = _np_words(key, index, attempt)
    u = (_np_bits53(w0, w1) + np.uint64(1)).astype(np.float64) * 2.0**-53
    mantissa, exponent = np.frexp(u)
    small = mantissa < counter.HALF_SQRT2
    mantissa = np.where(small, mantissa * 2.0, mantissa)
    exponent = np.where(small, exponent - 1, exponent).astype(np.float64)
    f = mantissa - 1.0
    s = f / (f + 2.0)
    log_u = exponent * counter.LN2_HI + (
        exponent * counter.LN2_LO + s * _np_horner(counter.LOG_COEFFICIENTS, s * s) * 2.0
    )
    t = log_u * -2.0
    positive = t > 0.0
    m, e = np.frexp(np.where(positive, t, 1.0))
    odd = (e % 2) == 1
    m = np.where(odd, m * 2.0, m)
    e = np.where(odd, e - 1, e)
    root = m * counter.SQRT_START[1] + counter.SQRT_START[0]
    for _ in range(counter.SQRT_NEWTON_STEPS):
        root = (root + m / root) * 0.5
    radius = np.where(positive, np.ldexp(root, e // 2), 0.0)
    angle = _np_bits53(w2, w3)
    octant = (angle >> np.uint64(50)).astype(np.int64)
    phi = (angle & np.uint64(2**50 - 1)).astype(np.float64) * 2.0**-50 * counter.QUARTER_PI
    phi2 = phi * phi
    sin_phi = phi * _np_horner(counter.SIN_COEFFICIENTS, phi2)
    cos_phi = _np_horner(counter.COS_COEFFICIENTS, phi2)
    cos_angle = (
        np.array(counter.OCTANT_COS)[octant] * cos_phi
        - np.array(counter.OCTANT_SIN)[octant] * sin_phi
    )
    return radius * cos_angle


def test_uniform_equals_numpy_reference() -> None:
    w0, w1, _, _ = _np_words(KEY, np.arange(100, 5100, dtype=np.uint64))
    expected32 = (w0 >> np.uint64(8)).astype(np.float32) * np.float32(2.0**-24)
    expected64 = _np_bits53(w0, w1).astype(np.float64) * 2.0**-53
    assert np.array_equal(uniform(KEY, 100, 5100, torch.float32).numpy(), expected32)
    assert np.array_equal(uniform(KEY, 100, 5100, torch.float64).numpy(), expected64)


def test_normal_equals_numpy_reference() -> None:
    expected = _np_normal(KEY, np.arange(100, 5100, dtype=np.uint64))
    assert np.array_equal(normal(KEY, 100, 5100, torch.float64).numpy(), expected)
    assert np.array_equal(
        normal(KEY, 100, 5100, torch.float32).numpy(), expected.astype(np.float32)
    )


def _np_trunc_normal(
    key: int, index: np.ndarray, mean: float, std: float, a: float, b: float
) -> np.ndarray:
    result = np.full(index.shape, np.nan)
    pending = np.arange(index.size)
    for attempt in range(counter.MAX_ATTEMPTS):
        values = _np_normal(key, index[pending], attempt) * std + mean
        accepted = (values >= a) & (values <= b)
        result[pending[accepted]] = values[accepted]
        pending = pending[~accepted]
        if pending.size == 0:
            return result
    raise AssertionError("the reference ran out of attempts")


def test_trunc_normal_equals_numpy_reference() -> None:
    index = np.arange(100, 5100, dtype=np.uint64)
    expected = _np_trunc_normal(KEY, index, 0.0, 1.0, -0.5, 1.0)
    got = trunc_normal(KEY, 100, 5100, -0.5, 1.0, torch.float64).numpy()
    assert np.array_equal(got, expected)
    assert np.array_equal(
        trunc_normal(KEY, 100, 5100, -0.5, 1.0, torch.float32).numpy(),
        expected.astype(np.float32),
    )


def test_draw_equals_numpy_reference_at_scattered_indices() -> None:
    index = np.array([7, 3, 2**40 + 5, 123_456_789, 0, 3], dtype=np.uint64)
    at = torch.from_numpy(index.astype(np.int64))
    w0, w1, _, _ = _np_words(KEY, index)
    uniform53 = _np_bits53(w0, w1).astype(np.float64) * 2.0**-53
    cases = {
        ("uniform", (-0.25, 0.75)): uniform53 * (0.75 - -0.25) + -0.25,
        ("normal", (0.5, 0.02)): _np_normal(KEY, index) * 0.02 + 0.5,
        ("trunc_normal", (0.0, 0.02, -0.01, 0.04)): _np_trunc_normal(
            KEY, index, 0.0, 0.02, -0.01, 0.04
        ),
        ("constant", (0.125,)): np.full(index.shape, 0.125),
    }
    for (kind, params), expected in cases.items():
        got = counter.draw(kind, params, KEY, at)
        assert got.dtype == torch.float64
        assert np.array_equal(got.numpy(), expected), kind


def test_draw_refuses_unknown_kinds() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        counter.draw("laplace", (0.0, 1.0), KEY, torch.arange(3))
    assert str(caught.value) == (
        "draw.kind: must be one of ['constant', 'normal', 'trunc_normal', 'uniform'] "
        "(got 'laplace')"
    )


# --- the polynomials -----------------------------------------------------------------------


def test_log_and_sqrt_accuracy() -> None:
    x = torch.logspace(-300, 300, 20_001, dtype=torch.float64)
    unit = torch.linspace(2.0**-53, 1.0, 20_001, dtype=torch.float64)
    for values in (x, unit):
        logs = counter.log(values).tolist()
        roots = counter.sqrt(values).tolist()
        for value, got_log, got_root in zip(values.tolist(), logs, roots, strict=True):
            expected = math.log(value)
            assert abs(got_log - expected) <= 1e-13 * max(abs(expected), 1e-300), value
            assert abs(got_root - math.sqrt(value)) <= 1e-15 * math.sqrt(value), value
    assert counter.sqrt(torch.zeros(1, dtype=torch.float64)).item() == 0.0


def test_cos_accuracy() -> None:
    bits = torch.linspace(0, 2**53 - 1, 20_001, dtype=torch.float64).to(torch.int64)
    got = counter.cos_turns(bits, 53).tolist()
    for k, value in zip(bits.tolist(), got, strict=True):
        # the reference's own angle is rounded: allow a few float64 ulps of 2 pi
        assert abs(value - math.cos(2 * math.pi * k / 2**53)) <= 2e-15, k


# --- the laws ------------------------------------------------------------------------------


def test_uniform_law() -> None:
    stats = pytest.importorskip("scipy.stats")
    for dtype in (torch.float32, torch.float64):
        values = uniform(KEY, 0, N, dtype).double().numpy()
        assert values.min() >= 0.0
        assert values.max() < 1.0
        assert stats.kstest(values, "uniform").pvalue > 1e-3
        assert abs(values.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)


def test_normal_law() -> None:
    stats = pytest.importorskip("scipy.stats")
    for dtype in (torch.float32, torch.float64):
        values = normal(KEY, 0, N, dtype).double().numpy()
        assert stats.kstest(values, "norm").pvalue > 1e-3
        assert abs(values.mean()) < 5 / math.sqrt(N)
        assert abs(values.std() - 1.0) < 5 / math.sqrt(2 * N)


@pytest.mark.parametrize(("a", "b"), [(-2.0, 2.0), (0.5, 1.0), (-3.0, -1.5)])
def test_trunc_normal_law(a: float, b: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    values = trunc_normal(KEY, 0, N, a, b, torch.float64).numpy()
    assert values.min() >= a
    assert values.max() <= b
    law = stats.truncnorm(a, b)
    assert stats.kstest(values, law.cdf).pvalue > 1e-3
    assert abs(values.mean() - law.mean()) < 5 * law.std() / math.sqrt(N)


# --- the point of a counter: any subset ----------------------------------------------------


@pytest.mark.parametrize("sampler", ["uniform", "normal", "trunc_normal"])
def test_subset_is_slice_of_whole(sampler: str) -> None:
    draw = {
        "uniform": lambda start, stop: uniform(KEY, start, stop),
        "normal": lambda start, stop: normal(KEY, start, stop),
        "trunc_normal": lambda start, stop: trunc_normal(KEY, start, stop, 0.0, 0.5),
    }[sampler]
    whole = draw(0, 3000)
    for start, stop in [(0, 1), (17, 1041), (2999, 3000), (5, 5), (1024, 3000)]:
        assert torch.equal(draw(start, stop), whole[start:stop])


@pytest.mark.parametrize("sampler", [uniform, normal, trunc_normal])
def test_block_size_does_not_change_values(sampler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = sampler(KEY, 5, 1000)
    monkeypatch.setattr(counter, "BLOCK", 100)
    assert torch.equal(sampler(KEY, 5, 1000), whole)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("sampler", [uniform, normal, trunc_normal])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_equals_cpu_bit_for_bit(sampler: Any, dtype: torch.dtype) -> None:
    on_cpu = sampler(KEY, 7, 100_007, dtype=dtype)
    on_cuda = sampler(KEY, 7, 100_007, dtype=dtype, device="cuda")
    assert on_cuda.device.type == "cuda"
    assert torch.equal(on_cuda.cpu(), on_cpu)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize(
    ("kind", "params"),
    [("uniform", (-0.3, 0.1)), ("normal", (0.0, 0.02)), ("trunc_normal", (0.0, 1.0, -0.5, 2.0))],
)
def test_cuda_draw_equals_cpu_bit_for_bit(kind: str, params: tuple[float, ...]) -> None:
    # more than one accelerator block, scattered indices
    index = torch.arange(0, 3 * counter.ACCELERATOR_BLOCK, 3)
    on_cuda = counter.draw(kind, params, KEY, index.cuda())
    assert on_cuda.device.type == "cuda"
    assert torch.equal(on_cuda.cpu(), counter.draw(kind, params, KEY, index))


def test_streams_and_keys_differ() -> None:
    base = uniform(KEY, 0, 100)
    assert not torch.equal(base, uniform(KEY, 0, 100, stream=1))
    assert not torch.equal(base, uniform(KEY + 1, 0, 100))
    assert not torch.equal(base, uniform(KEY + 2**32, 0, 100))


def test_large_indices() -> None:
    # indices past 2**32 use the counter's second word
    start = 2**32 - 2
    assert torch.equal(uniform(KEY, start, start + 4)[2:], uniform(KEY, 2**32, 2**32 + 2))
    assert not torch.equal(uniform(KEY, 0, 2), uniform(KEY, 2**32, 2**32 + 2))


# --- errors --------------------------------------------------------------------------------


def test_errors() -> None:
    with pytest.raises(OutOfRangeError) as info:
        uniform(2**64, 0, 3)
    assert str(info.value) == "uniform.key: must be < 2**64 (got 18446744073709551616)"
    with pytest.raises(InvalidArgumentError) as info:
        normal(-1, 0, 3)
    assert str(info.value) == "normal.key: must be >= 0 (got -1)"
    with pytest.raises(InvalidArgumentError) as info:
        normal(1, 5, 3)
    assert str(info.value) == "normal.stop: must be >= 5 (got 3)"
    with pytest.raises(InvalidArgumentError) as info:
        normal(1, 0, 3, torch.float16)
    assert str(info.value) == (
        "normal.dtype: must be torch.float32 or torch.float64 (got torch.float16)"
    )
    with pytest.raises(OutOfRangeError) as info:
        trunc_normal(1, 0, 3, 1.0, 0.0)
    assert str(info.value) == "trunc_normal.b: must be > a=1.0 (got 0.0)"
    with pytest.raises(InvalidArgumentError) as info:
        trunc_normal(1, 0, 10, 8.0, 9.0)
    assert str(info.value) == (
        "trunc_normal: 10 elements outside [a, b] after 1024 attempts; the interval holds too "
        "little of the normal's mass (got (8.0, 9.0))"
    )

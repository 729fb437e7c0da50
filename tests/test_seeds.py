"""The seed write-ups' torch.nn.init snippets: torchinit gives exactly plain torch's values.

The cases live in ``examples/seeds.py`` (loaded from its path: ``examples`` is not a package).
Each has a plain torch function and a torchinit function, ``seed -> module or tensor``; here
both run under two seeds and must agree bit for bit, draw the same amount of random numbers,
and actually do something (a case whose two sides both did nothing would prove nothing).
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
import yaml
from torch import nn

import torchinit

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SEED_FILES = ROOT.parent / "shared" / "seeds"
DATA = Path(__file__).resolve().parent / "data"
SEEDS = (0, 1)


def _load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


seeds = _load_example("seeds")
CASES = seeds.CASES
CASE_IDS = [f"{i:02d}-{case.name}" for i, case in enumerate(CASES)]


def tensors(result: Any) -> dict[str, torch.Tensor]:
    if isinstance(result, nn.Module):
        return {key: value.detach().clone() for key, value in result.state_dict().items()}
    assert isinstance(result, torch.Tensor), f"a case returned {type(result).__name__}"
    return {"tensor": result.detach().clone()}


def assert_identical(expected: Any, got: Any) -> None:
    left, right = tensors(expected), tensors(got)
    assert left.keys() == right.keys()
    for key in left:
        assert left[key].dtype == right[key].dtype, key
        assert left[key].shape == right[key].shape, key
        assert torch.equal(left[key], right[key]), f"{key} differs"


def differs(first: Any, second: Any) -> bool:
    left, right = tensors(first), tensors(second)
    return left.keys() != right.keys() or any(
        not torch.equal(left[key], right[key]) for key in left
    )


def run(fn: Any, seed: int) -> tuple[Any, torch.Tensor]:
    """``fn(seed)`` and the state of torch's global generator right after it."""
    result = fn(seed)
    return result, torch.get_rng_state()


@pytest.fixture(autouse=True)
def _restore_global_rng() -> Any:
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


def test_every_seed_file_has_cases() -> None:
    assert len(seeds.SECTIONS) == 5
    assert all(seeds.SECTIONS.values())
    assert len({case.name for case in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torchinit_equals_plain_torch(case: Any, seed: int) -> None:
    expected, rng_after_torch = run(case.torch_fn, seed)
    got, rng_after_torchinit = run(case.torchinit_fn, seed)
    assert_identical(expected, got)
    # the same amount of random numbers drawn: code that runs next sees the same stream
    assert torch.equal(rng_after_torch, rng_after_torchinit), "drew a different amount"
    if case.expect is not None:
        assert case.expect(got), "the result lacks the property the seed states"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_case_draws_random_numbers_where_it_should(case: Any) -> None:
    first, second = case.torchinit_fn(SEEDS[0]), case.torchinit_fn(SEEDS[1])
    if case.build is None:  # calculate_gain: nothing to build, nothing random
        before = torch.get_rng_state()
        case.torchinit_fn(SEEDS[0])
        assert torch.equal(before, torch.get_rng_state())
        assert not differs(first, second)
        return
    _, rng_after_build = run(case.build, SEEDS[0])
    _, rng_after_init = run(case.torchinit_fn, SEEDS[0])
    if case.random:
        assert not torch.equal(rng_after_build, rng_after_init), "the init drew nothing"
        assert differs(first, second), "two seeds gave the same result"
    else:
        assert torch.equal(rng_after_build, rng_after_init), "a constant init drew numbers"
        if isinstance(first, torch.Tensor):
            assert not differs(first, second)


BUILT = [(case_id, case) for case_id, case in zip(CASE_IDS, CASES, strict=True) if case.build]


@pytest.mark.parametrize("case", [case for _, case in BUILT], ids=[case_id for case_id, _ in BUILT])
def test_case_changes_what_it_builds(case: Any) -> None:
    # If the initialization left the built object as it was, plain torch and torchinit would
    # agree without proving anything.
    before, after = case.build(SEEDS[0]), case.torchinit_fn(SEEDS[0])
    assert differs(before, after), "the initialization changed nothing"
    for key, value in tensors(after).items():
        assert not value.is_floating_point() or bool(value.isfinite().all()), key


def test_gain_values_the_seeds_print() -> None:
    assert torchinit.calculate_gain("leaky_relu") == 1.4141428569978354
    assert torchinit.calculate_gain("relu") == math.sqrt(2.0)
    assert torchinit.calculate_gain("tanh") == 5.0 / 3.0


def test_apply_order_matters_where_a_layer_has_its_own_and_child_parameters() -> None:
    # net.apply visits children first. Only a layer with parameters of its own and child
    # layers with parameters tells the two orders apart: here a Linear with a Linear inside.
    class AdaptedLinear(nn.Linear):
        def __init__(self) -> None:
            super().__init__(8, 8)
            self.adapter = nn.Linear(8, 8)

    def build() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(AdaptedLinear(), nn.ReLU(), nn.Linear(8, 2))

    expected = build().apply(seeds.weights_init_by_type)
    in_apply_order = build()
    torchinit.init_model(in_apply_order, seeds.XAVIER_NORMAL_APPLY)
    assert_identical(expected, in_apply_order)
    in_modules_order = build()
    torchinit.init_model(in_modules_order, seeds.XAVIER_NORMAL_APPLY, order="modules")
    assert differs(expected, in_modules_order)


def test_strategies_fill_parameters_without_no_grad() -> None:
    # like torch.nn.init's functions, the built-in strategies need no torch.no_grad()
    linear = nn.Linear(6, 4)
    result = torchinit.XavierUniform()(linear.weight)
    assert result is linear.weight
    assert result.requires_grad
    assert result.grad_fn is None


# nn.init.xavier_uniform_(...), init.kaiming_normal_(...), the deprecated nn.init.constant(...)
# and, in seeds.py, references such as with_torch=nn.init.eye_: the function name, no "_"
_INIT_FUNCTION = re.compile(r"\b(?:nn\.)?init\.([a-z_]+?)_?\b")


def _summary() -> dict[str, set[str]]:
    """``tests/data/seed_writeups.yaml``: the init functions each write-up calls, by file."""
    data = yaml.safe_load((DATA / "seed_writeups.yaml").read_text(encoding="utf-8"))
    return {item["file"]: set(item["calls"]) for item in data["writeups"]}


def test_every_init_function_of_the_seeds_has_a_case() -> None:
    used = set().union(*_summary().values())
    covered = set(_INIT_FUNCTION.findall((EXAMPLES / "seeds.py").read_text(encoding="utf-8")))
    assert len(used) >= 14, "the summary lists fewer functions than the write-ups call"
    assert used <= covered, f"no case for {sorted(used - covered)}"


@pytest.mark.skipif(
    not SEED_FILES.is_dir(),
    reason="the write-ups (shared/seeds/) are not beside this clone; the summary in "
    "tests/data/seed_writeups.yaml was checked against them where they are",
)
def test_the_summary_lists_every_init_call_of_the_seeds() -> None:
    summary = _summary()
    assert sorted(summary) == sorted(path.name for path in SEED_FILES.glob("*.txt"))
    for name, listed in summary.items():
        text = (SEED_FILES / name).read_text(encoding="utf-8")
        used: set[str] = set()
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
            used.update(_INIT_FUNCTION.findall(block))
        assert used == listed, name


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "expected_line"),
    [
        ("seeds.py", r"^all \d+ cases identical to plain torch\.nn\.init"),
        ("quickstart.py", r"^\d+ tensors initialized"),
        ("custom_policy.py", r"^torchinit: policy 'smallnet' on SmallNet \(order=modules\): \d+"),
    ],
    ids=["seeds", "quickstart", "custom_policy"],
)
def test_example_runs(script: str, expected_line: str) -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert re.search(expected_line, completed.stdout, re.M), completed.stdout[-2000:]

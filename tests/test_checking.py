"""torchinit.checking: a model's tensors against its policy's laws, without data."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import torchinit
from torchinit.checking import law_moments
from torchinit.errors import InvalidArgumentError
from torchinit.strategies import Law


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(8, 32, 3),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * 4, 64),
        nn.Embedding(50, 16, padding_idx=3),
    )


PADDING = torchinit.FromAttr("padding_idx")
POLICY = torchinit.Policy(
    [
        torchinit.Rule(nn.Conv2d, weight=torchinit.KaimingNormal(mode="fan_out"), bias="zeros"),
        torchinit.Rule(nn.BatchNorm2d, weight="ones", bias="zeros"),
        torchinit.Rule(nn.Linear, weight=torchinit.TruncNormal(std=0.02), bias="uniform"),
        torchinit.Rule(
            nn.Embedding,
            weight={
                "padded_normal": {"std": 0.5, "padding_idx": torchinit.FromAttr("padding_idx")}
            },
        ),
    ]
)


def _initialized(seed: int = 0) -> nn.Module:
    model = _net()
    torchinit.init_model(model, POLICY, seed=seed)
    return model


def test_a_model_initialized_by_the_policy_passes() -> None:
    report = torchinit.check(_initialized(), POLICY)
    assert report.ok
    verdicts = {entry.name: entry.verdict for entry in report.tensors}
    assert verdicts == dict.fromkeys(
        ["0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias", "5.weight"], "ok"
    )
    assert report["0.weight"].expected_std == pytest.approx(math.sqrt(2 / (32 * 9)))
    assert report["5.weight"].numel == 49 * 16  # the padding row left out


@pytest.mark.parametrize("seed", range(100))
def test_no_false_alarm_over_many_draws(seed: int) -> None:
    # small tensors, where the standard errors are widest and their formulas matter most
    model = nn.Sequential(nn.Linear(6, 5), nn.Conv1d(3, 4, 2))
    policy = torchinit.Policy(
        [
            torchinit.Rule(nn.Linear, weight="xavier_uniform", bias="uniform"),
            torchinit.Rule(nn.Conv1d, weight="kaiming_normal", bias=torchinit.TruncNormal()),
        ]
    )
    torchinit.init_model(model, policy, seed=seed)
    assert torchinit.check(model, policy).ok


def test_a_layer_left_at_another_init_is_a_suspect() -> None:
    model = _initialized()
    # seeded: drawn from the global generator's state of the moment, about 1 draw in 200 has a
    # mean far enough from 0 to be named first, ahead of the std this test reads
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model[4].reset_parameters()  # a checkpoint that kept torch's default for the head
    report = torchinit.check(model, POLICY)
    assert [entry.name for entry in report.suspects] == ["4.weight", "4.bias"]
    # torch's U(-1/sqrt(128), 1/sqrt(128)) where the policy says TruncNormal(std=0.02)
    assert report["4.weight"].problem.startswith("std 0.05")
    assert "x the law's 0.02 (" in report["4.weight"].problem


def test_a_fan_mix_up_is_named() -> None:
    model = _net()
    mixed = torchinit.Policy([torchinit.Rule(nn.Conv2d, weight=torchinit.KaimingNormal())])
    torchinit.init_model(model, mixed, seed=0)  # mode='fan_in', where the policy says fan_out
    problem = torchinit.check(model, POLICY, include="0.weight").suspects[0].problem
    assert problem == (
        "std 0.1643 is 1.97x the law's 0.08333 (66.0 standard errors); mode='fan_in' would fit"
    )


def test_a_std_ten_percent_off_is_found() -> None:
    layer = nn.Linear(256, 256)
    torchinit.Normal(std=0.11)(layer.weight, generator=torch.Generator().manual_seed(0))
    report = torchinit.check(
        layer, torchinit.Policy([torchinit.Rule(nn.Linear, weight=torchinit.Normal(std=0.1))])
    )
    assert [entry.name for entry in report.suspects] == ["weight"]
    assert "is 1.1x the law's 0.1 (" in report.suspects[0].problem


def test_constants_must_be_exact() -> None:
    model = _initialized()
    with torch.no_grad():
        model[1].bias[5] = 1e-7
    report = torchinit.check(model, POLICY)
    assert [(entry.name, entry.problem) for entry in report.suspects] == [
        ("1.bias", "1 of 32 values are not 0")
    ]


def test_a_padding_row_must_stay_zero() -> None:
    model = _initialized()
    with torch.no_grad():
        model[5].weight[3, 0] = 0.1
    assert torchinit.check(model, POLICY)["5.weight"].problem == "row 3 should be zeros"


def test_non_finite_values_are_suspects() -> None:
    model = _initialized()
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = float("nan")
    assert torchinit.check(model, POLICY)["0.weight"].problem == "has NaN or infinite values"


def test_what_cannot_be_checked_says_why() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1), nn.LSTM(2, 2))
    policy = torchinit.Policy(
        [
            torchinit.Rule(nn.Linear, weight="orthogonal", bias="normal"),
            torchinit.Rule(nn.LSTM, weight_ih_l0="torch_default", bias_ih_l0="torch_default"),
        ]
    )
    torchinit.init_model(model, policy, seed=0)
    report = torchinit.check(model, policy)
    unchecked = {entry.name: entry.problem for entry in report.tensors if entry.verdict != "ok"}
    assert unchecked["0.weight"] == "no elementwise law"
    assert unchecked["1.bias"] == "fewer than 2 elements"
    assert unchecked["2.weight_ih_l0"] == "no elementwise law"
    text = str(report)
    assert text.splitlines()[1:] == [
        "  unchecked (no elementwise law): 0.weight, 1.weight, 2.weight_ih_l0, 2.bias_ih_l0",
        "  unchecked (fewer than 2 elements): 1.bias",
    ]


def test_a_meta_model_is_unchecked() -> None:
    with torch.device("meta"):
        model = nn.Linear(4, 4)
    policy = torchinit.Policy([torchinit.Rule(nn.Linear, weight="zeros", bias="zeros")])
    report = torchinit.check(model, policy)
    assert {entry.problem for entry in report.tensors} == {"on the meta device"}


def test_check_changes_nothing() -> None:
    model = _initialized()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    rng = torch.get_rng_state()
    torchinit.check(model, POLICY)
    assert torch.equal(torch.get_rng_state(), rng)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_the_report_prints_and_is_json_ready() -> None:
    model = _initialized()
    with torch.no_grad():
        model[1].bias.fill_(float("inf"))
    report = torchinit.check(model, POLICY)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert data["tensors"][3]["name"] == "1.bias"
    assert data["tensors"][3]["strategy"] == "zeros"
    assert str(report).splitlines() == [
        "check <policy> on Sequential: 6 ok, 1 suspect, 0 unchecked (0 not set by the policy); "
        "tolerance 6 standard errors",
        "  suspect 1.bias: zeros(): has NaN or infinite values",
    ]


@pytest.mark.parametrize("sigmas", [0, -1, "6", True, float("nan")])
def test_sigmas_must_be_a_positive_number(sigmas: object) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.check(nn.Linear(2, 2), "lecun", sigmas=sigmas)
    assert str(caught.value) == f"sigmas: must be a number > 0 (got {sigmas!r})"


@pytest.mark.parametrize(
    "law",
    [
        Law("trunc_normal", (0.0, 1.0, -2.0, 2.0)),
        Law("trunc_normal", (0.5, 2.0, -1.0, 6.0)),
        Law("trunc_normal", (0.0, 0.02, -0.04, 0.04)),
        Law("trunc_normal", (0.5, 2.0, -math.inf, 0.5)),
        Law("uniform", (-3.0, 1.0)),
        Law("normal", (1.0, 0.5)),
    ],
    ids=repr,
)
def test_law_moments_agree_with_scipy(law: Law) -> None:
    stats = pytest.importorskip("scipy.stats")
    mean, std, support = law_moments(law)
    if law.kind == "trunc_normal":
        mu, sigma, a, b = law.params
        reference = stats.truncnorm((a - mu) / sigma, (b - mu) / sigma, loc=mu, scale=sigma)
        assert support == (a, b)
    elif law.kind == "uniform":
        reference = stats.uniform(law.params[0], law.params[1] - law.params[0])
        assert support == law.params
    else:
        reference = stats.norm(*law.params)
        assert support is None
    assert mean == pytest.approx(reference.mean(), rel=1e-12, abs=1e-15)
    assert std == pytest.approx(reference.std(), rel=1e-12)


def test_law_moments_of_a_constant() -> None:
    assert law_moments(Law("constant", (3.0,))) == (3.0, 0.0, (3.0, 3.0))

"""torchinit.engine: resolution, precedence, traversal order, all-or-nothing, execution."""

from __future__ import annotations

import collections
import copy
import dataclasses
import functools
import logging
import sys
import warnings
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

import torchinit as ti


class Block(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, width)
        # a layer with parameters of its own and children: pre-order and apply order differ
        self.scale = nn.Parameter(torch.ones(width))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.blocks = nn.Sequential(Block(), Block())
        self.head = nn.Linear(4, 10)


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        key: value.clone()
        for key, value in model.state_dict().items()
        if not isinstance(value, nn.parameter.UninitializedTensorMixin)
    }


def assert_same_state(a: nn.Module | dict[str, torch.Tensor], b: nn.Module) -> None:
    left = a if isinstance(a, dict) else state(a)
    right = state(b)
    assert left.keys() == right.keys()
    for key in left:
        assert torch.equal(left[key], right[key]), key


KAIMING = ti.KaimingNormal(mode="fan_out", nonlinearity="relu")
POLICY = ti.Policy(
    [
        ti.Rule(nn.Conv2d, weight=KAIMING, bias=ti.Normal(0.0, 0.1)),
        ti.Rule(nn.BatchNorm2d, weight=ti.Uniform(0.5, 1.5), bias="zeros"),
        ti.Rule(nn.Linear, weight=ti.XavierUniform(), bias=ti.Normal(0.0, 0.01)),
        ti.Rule(Block, scale=ti.Normal(1.0, 0.1)),
    ],
    name="test",
)


def hand_written(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if module.bias is not None:
            nn.init.normal_(module.bias, 0.0, 0.1)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.uniform_(module.weight, 0.5, 1.5)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.normal_(module.bias, 0.0, 0.01)
    elif isinstance(module, Block):
        nn.init.normal_(module.scale, 1.0, 0.1)


# --------------------------------------------------------------------------- traversal order


@pytest.mark.parametrize("seed", [0, 7])
def test_modules_order_matches_a_modules_loop(seed: int) -> None:
    torch.manual_seed(seed)
    expected = Net()
    actual = copy.deepcopy(expected)
    torch.manual_seed(seed)
    for module in expected.modules():
        hand_written(module)
    torch.manual_seed(seed)
    ti.init_model(actual, POLICY)
    assert_same_state(expected, actual)
    assert torch.equal(torch.rand(3), (torch.manual_seed(seed), torch.rand(3))[1]) is False


@pytest.mark.parametrize("seed", [0, 7])
def test_apply_order_matches_model_apply(seed: int) -> None:
    torch.manual_seed(seed)
    expected = Net()
    actual = copy.deepcopy(expected)
    in_modules_order = copy.deepcopy(expected)
    torch.manual_seed(seed)
    expected.apply(hand_written)
    torch.manual_seed(seed)
    ti.init_model(actual, POLICY, order="apply")
    assert_same_state(expected, actual)
    torch.manual_seed(seed)
    ti.init_model(in_modules_order, POLICY)
    assert not torch.equal(in_modules_order.blocks[1].fc.weight, actual.blocks[1].fc.weight)


def test_policy_order_is_the_default_and_init_model_overrides_it() -> None:
    apply_policy = ti.Policy(POLICY.rules, order="apply")
    torch.manual_seed(1)
    a = Net()
    b = copy.deepcopy(a)
    c = copy.deepcopy(a)
    torch.manual_seed(1)
    ti.init_model(a, apply_policy)
    torch.manual_seed(1)
    ti.init_model(b, POLICY, order="apply")
    torch.manual_seed(1)
    report = ti.init_model(c, apply_policy, order="modules")
    assert_same_state(a, b)
    assert report.order == "modules"
    assert not torch.equal(a.blocks[1].fc.weight, c.blocks[1].fc.weight)


# --------------------------------------------------------------------------- precedence


def test_later_rule_wins_and_overridden_strategy_draws_nothing() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    expected = copy.deepcopy(model)
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, weight=ti.Normal(), bias=ti.Normal()),
            ti.Rule(name="0", weight="ones"),
        ]
    )
    torch.manual_seed(3)
    report = ti.init_model(model, policy)
    torch.manual_seed(3)
    nn.init.ones_(expected[0].weight)
    nn.init.normal_(expected[0].bias)
    nn.init.normal_(expected[1].weight)
    nn.init.normal_(expected[1].bias)
    assert_same_state(expected, model)
    assert report["0.weight"].rule == 1
    assert report["0.bias"].rule == 0


def test_zero_init_residual_style_override_after_general_norm_rule() -> None:
    model = Net()
    policy = ti.Policy(
        [
            ti.Rule(nn.BatchNorm2d, weight="ones", bias="zeros"),
            ti.Rule(Block, params={"bn.weight": ti.Zeros()}),
        ]
    )
    report = ti.init_model(model, policy)
    for block in model.blocks:
        assert torch.equal(block.bn.weight, torch.zeros(4))
        assert torch.equal(block.bn.bias, torch.zeros(4))
    assert report["blocks.0.bn.weight"].rule_label == "Block"


def test_parameter_rule_with_types_restricts_owner() -> None:
    model = Net()
    report = ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, param="**.bias", init="ones")]))
    assert torch.equal(model.head.bias, torch.ones(10))
    assert report["stem.bias"].status == "unmatched"
    assert [e.name for e in report.initialized] == [
        "blocks.0.fc.bias",
        "blocks.1.fc.bias",
        "head.bias",
    ]


def test_glob_parameter_keys_match_the_layers_own_parameters() -> None:
    lstm = nn.LSTM(4, 8, num_layers=2)
    rule = ti.Rule(nn.LSTM, params={"weight_hh_*": ti.Orthogonal(), "bias_*": "zeros"})
    report = ti.init_model(lstm, ti.Policy([rule]))
    assert [e.name for e in report.initialized] == [
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hh_l1",
        "bias_ih_l1",
        "bias_hh_l1",
    ]
    w = lstm.weight_hh_l1
    assert torch.allclose(w.T @ w, torch.eye(8), atol=1e-5)


def test_name_glob_rule_matches_whole_dotted_names() -> None:
    model = Net()
    report = ti.plan(model, ti.Policy([ti.Rule(name="blocks.*.fc", weight="zeros")]))
    assert [e.name for e in report.initialized] == ["blocks.0.fc.weight", "blocks.1.fc.weight"]


# --------------------------------------------------------------------------- identity and sharing


def test_parameters_are_filled_in_place_and_never_replaced() -> None:
    model = Net().double()
    before = {name: p for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ti.init_model(model, POLICY)
    after = dict(model.named_parameters())
    assert all(before[name] is after[name] for name in before)
    assert all(p.dtype == torch.float64 and p.requires_grad for p in after.values())
    assert all(p.grad_fn is None for p in after.values())
    assert optimizer.param_groups[0]["params"][0] is model.stem.weight


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.embed.weight


def test_tied_parameter_is_initialized_once_under_all_its_names() -> None:
    model = Tied()
    policy = ti.Policy([ti.Rule((nn.Embedding, nn.Linear), weight=ti.Normal(0.0, 0.02))])
    torch.manual_seed(5)
    report = ti.init_model(model, policy)
    torch.manual_seed(5)
    expected = torch.empty(10, 4).normal_(0.0, 0.02)
    assert torch.equal(model.embed.weight, expected)
    assert model.lm_head.weight is model.embed.weight
    entry = report["lm_head.weight"]
    assert entry.name == "embed.weight"
    assert entry.aliases == ("lm_head.weight",)
    assert len(report.initialized) == 1


def test_shared_module_is_visited_once() -> None:
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    torch.manual_seed(0)
    report = ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal())]))
    torch.manual_seed(0)
    assert torch.equal(shared.weight, torch.empty(3, 3).normal_())
    assert report["0.weight"].aliases == ("2.weight",)


# --------------------------------------------------------------------------- slots


def test_none_slot_is_skipped_and_reported() -> None:
    conv = nn.Conv2d(3, 4, 3, bias=False)
    report = ti.init_model(conv, ti.Policy([ti.Rule(nn.Conv2d, weight=KAIMING, bias="zeros")]))
    entry = report["bias"]
    assert entry.status == "skipped"
    assert entry.reason == "is None (e.g. a layer built with bias=False)"
    assert "skipped: bias: is None" in str(report)


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors is a no-op")
def test_zero_element_tensor_is_skipped_and_reported() -> None:
    model = nn.Linear(0, 3)
    report = ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(), bias="ones")]))
    assert report["weight"].status == "skipped"
    assert report["weight"].reason == "zero-element tensor (nothing to initialize)"
    assert torch.equal(model.bias, torch.ones(3))


def test_frozen_parameters_are_initialized_unless_skip_frozen() -> None:
    model = nn.Linear(3, 3)
    model.weight.requires_grad_(False)
    policy = ti.Policy([ti.Rule(nn.Linear, weight="zeros", bias="zeros")])
    ti.init_model(model, policy)
    assert torch.equal(model.weight, torch.zeros(3, 3))
    model = nn.Linear(3, 3)
    model.weight.requires_grad_(False)
    before = model.weight.clone()
    report = ti.init_model(model, policy, skip_frozen=True)
    assert torch.equal(model.weight, before)
    assert report["weight"].reason == "frozen (requires_grad=False) and skip_frozen=True"
    assert torch.equal(model.bias, torch.zeros(3))


def test_include_missing_keys_initializes_only_the_new_parts() -> None:
    pretrained = Net()
    model = Net()
    model.head = nn.Linear(4, 5)
    backbone = {k: v for k, v in pretrained.state_dict().items() if not k.startswith("head.")}
    missing = model.load_state_dict(backbone, strict=False).missing_keys
    assert missing == ["head.weight", "head.bias"]
    report = ti.init_model(model, POLICY, include=missing)
    for key, value in backbone.items():
        assert torch.equal(model.state_dict()[key], value), key
    assert [e.name for e in report.initialized] == ["head.weight", "head.bias"]
    assert "stem.weight" in report.excluded


def test_exclude_glob() -> None:
    model = Net()
    before = state(model)
    report = ti.init_model(model, POLICY, exclude="blocks.**")
    assert torch.equal(model.blocks[0].conv.weight, before["blocks.0.conv.weight"])
    assert not torch.equal(model.stem.weight, before["stem.weight"])
    assert "blocks.1.fc.bias" in report.excluded


def test_weight_norm_parametrization_sets_the_effective_weight() -> None:
    layer = nn.Linear(5, 3)
    parametrizations.weight_norm(layer)
    originals = [p for _, p in layer.named_parameters()]
    generator = torch.Generator().manual_seed(0)
    report = ti.init_model(
        layer, ti.Policy([ti.Rule(nn.Linear, weight=ti.Orthogonal())]), generator=generator
    )
    expected = nn.init.orthogonal_(torch.empty(3, 5), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(layer.weight, expected, atol=1e-6)
    assert [p for _, p in layer.named_parameters()] == originals
    assert report["weight"].status == "initialized"
    # the originals' names select the parametrized tensor too
    report = ti.plan(
        layer,
        ti.Policy([ti.Rule(nn.Linear, weight="ones")]),
        include=["parametrizations.weight.original1"],
    )
    assert report["weight"].status == "initialized"


def _spectral_pair() -> tuple[nn.Module, nn.Module]:
    """Two models with the same names: one whose weights are spectral-normed, one plain."""
    plain = nn.Sequential(nn.Linear(64, 128), nn.Conv2d(16, 32, 3))
    normed = nn.Sequential(nn.Linear(64, 128), nn.Conv2d(16, 32, 3))
    for layer in normed:
        parametrizations.spectral_norm(layer)
    return plain, normed


@pytest.mark.parametrize("seed", [None, 3])
def test_spectral_norm_is_brought_up_to_the_new_weight(seed: int | None) -> None:
    plain, normed = _spectral_pair()
    policy = ti.Policy([ti.Rule((nn.Linear, nn.Conv2d), weight=ti.Normal(0.0, 0.02))])
    torch.manual_seed(1)
    ti.init_model(plain, policy, seed=seed)
    after_plain = torch.get_rng_state()
    torch.manual_seed(1)
    ti.init_model(normed, policy, seed=seed)
    # the same draws, and no more of them: the power iteration starts from the layer's vectors
    assert torch.equal(torch.get_rng_state(), after_plain)
    for plain_layer, layer in zip(plain, normed, strict=True):
        assert torch.equal(layer.parametrizations.weight.original, plain_layer.weight)
    # in eval mode sigma is not updated: it must be the new weight's already (it was 10 to 34)
    normed.eval()
    for layer in normed:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), 2).item()
        assert 0.999 < sigma < 1.01


def test_a_spectral_norm_that_cannot_be_refreshed_is_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, normed = _spectral_pair()
    normed.eval()  # a forward in eval mode runs no power iteration
    # as if torch's private _SpectralNorm had changed
    monkeypatch.delattr(type(normed[0].parametrizations.weight[0]), "_power_method")
    policy = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02))])
    with pytest.warns(ti.TorchInitWarning) as caught:
        ti.init_model(normed, policy)
    assert [str(w.message) for w in caught] == [
        "torchinit: 0.weight: cannot refresh the spectral norm's power iteration (this torch's "
        "spectral_norm has changed); sigma stays the old weight's until a forward pass in "
        "training mode"
    ]


class NoInverse(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


def test_parametrization_without_right_inverse_is_refused_up_front() -> None:
    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", NoInverse())
    with pytest.raises(ti.PlanError) as info:
        ti.init_model(layer, ti.Policy([ti.Rule(nn.Linear, weight="zeros")]))
    assert str(info.value) == (
        "weight: rules[0].weight: parametrization NoInverse has no right_inverse, so its "
        "original tensor cannot be set from an initial value"
    )


# --------------------------------------------------------------------------- torch_default


def test_torch_default_runs_the_layers_reset_with_the_generator() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.LayerNorm(3))
    policy = ti.Policy([ti.Rule(nn.Linear, weight="torch_default", bias="zeros")])
    global_state = torch.get_rng_state()
    ti.init_model(model, policy, generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), global_state)
    expected = nn.Linear(3, 3)
    torch.manual_seed(5)
    expected.reset_parameters()
    assert torch.equal(model[0].weight, expected.weight)
    assert torch.equal(model[0].bias, torch.zeros(3))


def test_torch_default_leaves_parameters_it_is_not_given_alone() -> None:
    mha = nn.MultiheadAttention(8, 2)
    before = state(mha)
    torch.manual_seed(0)
    ti.init_model(mha, ti.Policy([ti.Rule(nn.MultiheadAttention, in_proj_weight="torch_default")]))
    assert not torch.equal(mha.in_proj_weight, before["in_proj_weight"])
    for key in ("in_proj_bias", "out_proj.weight", "out_proj.bias"):
        assert torch.equal(mha.state_dict()[key], before[key]), key


class NoReset(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(2, 2))


def test_torch_default_on_a_layer_without_reset_is_refused() -> None:
    with pytest.raises(ti.PlanError) as info:
        ti.plan(NoReset(), ti.Policy([ti.Rule(NoReset, weight="torch_default")]))
    assert str(info.value) == (
        "weight: rules[0].weight: torch_default: the layer has no reset_parameters() or "
        "_reset_parameters() (got 'NoReset')"
    )


# --------------------------------------------------------------------------- generator


def test_generator_makes_init_independent_of_the_global_rng() -> None:
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    global_state = torch.get_rng_state()
    ti.init_model(a, POLICY, generator=torch.Generator().manual_seed(11))
    torch.rand(100)
    ti.init_model(b, POLICY, generator=torch.Generator().manual_seed(11))
    assert_same_state(a, b)
    c = Net()
    ti.init_model(c, POLICY, generator=torch.Generator().manual_seed(12))
    assert not torch.equal(a.blocks[1].fc.weight, c.blocks[1].fc.weight)
    torch.set_rng_state(global_state)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_model_matches_a_hand_loop_on_cuda() -> None:
    model = Net().cuda()
    expected = copy.deepcopy(model)
    torch.cuda.manual_seed(4)
    for module in expected.modules():
        hand_written(module)
    torch.cuda.manual_seed(4)
    ti.init_model(model, POLICY)
    assert_same_state(expected, model)
    assert model.stem.weight.is_cuda


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_generator_on_a_cuda_model_is_refused() -> None:
    model = nn.Linear(2, 2).cuda()
    with pytest.raises(ti.PlanError, match="the generator is on cpu but the tensor is on cuda"):
        ti.init_model(
            model, ti.Policy([ti.Rule(nn.Linear, weight="zeros")]), generator=torch.Generator()
        )


# --------------------------------------------------------------------------- all or nothing


@pytest.mark.parametrize(
    ("model_factory", "policy", "options", "error", "message"),
    [
        (
            Net,
            ti.Policy(
                [ti.Rule(nn.Linear, weight=ti.Normal()), ti.Rule(param="**.bias", init=KAIMING)]
            ),
            {},
            ti.PlanError,
            "stem.bias: rules[1].init.kaiming_normal: needs a tensor with at least 2 "
            "dimensions (got (4,))",
        ),
        (
            Net,
            ti.Policy(
                [ti.Rule(nn.Linear, weight=ti.Normal()), ti.Rule(nn.Conv2d, weight=ti.Eye())]
            ),
            {},
            ti.PlanError,
            "stem.weight: rules[1].weight.eye: needs a tensor with exactly 2 dimensions "
            "(got (4, 3, 3, 3))",
        ),
        (
            Net,
            ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal()), ti.Rule(nn.Conv2d, wieght="zeros")]),
            {},
            ti.PlanError,
            "rules[1].wieght: layer 'stem' (Conv2d) has no parameter 'wieght'; did you mean "
            "'weight'? its parameters are ['weight', 'bias']",
        ),
        (
            Net,
            ti.Policy([ti.Rule(Block, params={"bn.running_mean": "zeros"})]),
            {},
            ti.PlanError,
            "rules[0].bn.running_mean: layer 'blocks.0' (Block) has no parameter "
            "'bn.running_mean'; its parameters are ['scale', "
            "'conv.weight', 'bn.weight', 'bn.bias', 'fc.weight', 'fc.bias']",
        ),
        (
            lambda: nn.Sequential(nn.Linear(2, 2), nn.LazyLinear(3)),
            ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal())]),
            {},
            ti.PlanError,
            "1.weight: rules[0].weight: is an uninitialized lazy parameter; run a forward pass "
            "with a sample input before initializing (got 'LazyLinear')",
        ),
        (
            Net,
            "resnet",
            {"zero_init_residul": True},
            ti.UnknownNameError,
            "resnet.zero_init_residul: unknown option; did you mean 'zero_init_residual'? "
            "preset 'resnet' takes ['zero_init_residual', 'residual_norms'] (got True)",
        ),
        (
            Net,
            POLICY,
            {"zero_init_residual": True},
            ti.InvalidArgumentError,
            "options: only presets take options; put them in the Policy's rules instead "
            "(got {'zero_init_residual': True})",
        ),
        (Net, "resnt", {}, ti.UnknownNameError, None),
        (
            Net,
            42,
            {},
            ti.ArgumentTypeError,
            "policy: must be a preset name, a Policy, a YAML file path or a policy mapping "
            "(got 42)",
        ),
    ],
)
def test_bad_input_raises_and_changes_nothing(
    model_factory, policy, options, error, message
) -> None:
    torch.manual_seed(0)
    model = model_factory()
    before = state(model)
    rng = torch.get_rng_state()
    with pytest.raises(error) as info:
        ti.init_model(model, policy, **options)
    assert isinstance(info.value, ti.TorchInitError)
    if message is not None:
        assert str(info.value) == message
    else:
        assert "did you mean 'resnet'?" in str(info.value)
    assert torch.equal(torch.get_rng_state(), rng)
    assert_same_state(before, model)


class IntParam(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.index = nn.Parameter(torch.zeros(3, dtype=torch.long), requires_grad=False)


def test_non_floating_point_parameter_is_refused() -> None:
    with pytest.raises(ti.PlanError) as info:
        ti.init_model(IntParam(), ti.Policy([ti.Rule(param="index", init="ones")]))
    assert str(info.value) == (
        "index: rules[0].init: only floating-point tensors can be initialized (got torch.int64)"
    )


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("order", "preorder", "order: must be one of ['modules', 'apply'] (got 'preorder')"),
        ("skip_frozen", 1, "skip_frozen: must be true or false (got 1)"),
        ("strict", "yes", "strict: must be true or false (got 'yes')"),
        ("include", 3, "include: must be a glob or an iterable of names/globs (got 3)"),
        ("exclude", ["a..b"], "exclude[0]: empty component between dots (got 'a..b')"),
        ("generator", 3, "generator: must be a torch.Generator or None (got 3)"),
        ("progress", "yes", "progress: must be true or false (got 'yes')"),
    ],
)
def test_engine_keyword_errors(keyword: str, value: object, message: str) -> None:
    with pytest.raises(ti.TorchInitError) as info:
        ti.init_model(Net(), POLICY, **{keyword: value})
    assert str(info.value) == message


def test_model_must_be_a_module() -> None:
    with pytest.raises(ti.ArgumentTypeError) as info:
        ti.init_model(torch.zeros(3), POLICY)  # type: ignore[arg-type]
    assert str(info.value) == "model: must be a torch.nn.Module (got 'Tensor')"


def test_policy_matching_nothing_warns_or_fails_under_strict() -> None:
    model = nn.Sequential(nn.LayerNorm(3))
    with pytest.warns(
        ti.TorchInitWarning, match="policy 'vgg' matches nothing in Sequential"
    ) as record:
        ti.init_model(model, "vgg")
    assert record[0].filename == __file__  # the warning points at the caller's line
    with pytest.raises(ti.PlanError) as info:
        ti.init_model(model, "vgg", strict=True)
    assert str(info.value) == "policy: policy 'vgg' matches nothing in Sequential"


def two_layers() -> nn.Module:
    return nn.Sequential(
        collections.OrderedDict([("conv", nn.Conv2d(3, 4, 3)), ("classifier", nn.Linear(4, 2))])
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            ti.Rule(name="classifer", weight="ones"),
            "rules[1].match.name: matches no layer of Sequential; did you mean 'classifier'? "
            "(got 'classifer')",
        ),
        (
            ti.Rule(param="**.wieght", init="ones", label="weights"),
            "rules[1].match.param: rule 'weights' matches no parameter of Sequential; "
            "did you mean 'conv.weight'? (got '**.wieght')",
        ),
        (
            ti.Rule(nn.Conv1d, weight="ones"),
            "rules[1].match.type: matches no layer of Sequential; did you mean 'Conv2d'? "
            "its layer classes are ['Conv2d', 'Linear', 'Sequential'] (got 'Conv1d')",
        ),
        (
            ti.Rule(nn.Linear, params={"w*x": "ones"}),
            "rules[1].w*x: matches layers of Sequential (e.g. 'classifier') but none of their "
            "parameters; their parameters are ['bias', 'weight'] (got 'w*x')",
        ),
    ],
)
def test_a_rule_matching_nothing_warns_or_fails_under_strict(rule: ti.Rule, message: str) -> None:
    policy = ti.Policy([ti.Rule(nn.Conv2d, weight="zeros"), rule])
    model = two_layers()
    with pytest.warns(ti.TorchInitWarning) as record:
        report = ti.init_model(model, policy)
    assert [str(w.message) for w in record] == [message]
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert torch.equal(model.conv.weight, torch.zeros(4, 3, 3, 3))  # the others still apply
    assert report.unused_rules == (f"rules[1] {rule.describe()}",)
    with pytest.raises(ti.PlanError) as info:
        ti.init_model(model, policy, strict=True)
    assert str(info.value) == message


def test_a_yaml_rule_matching_nothing_is_named_by_its_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n"
        "  - match: {type: Conv2d}\n"
        "    weight: zeros\n"
        "  - match: {name: classifer}\n"
        "    weight: ones\n"
    )
    with pytest.raises(ti.PlanError) as info:
        ti.plan(two_layers(), path, strict=True)
    assert str(info.value) == (
        f"{path}:4: rules[1].match.name: matches no layer of Sequential; "
        "did you mean 'classifier'? (got 'classifer')"
    )


def test_an_optional_rule_may_match_nothing() -> None:
    rule = ti.Rule(name="classifer", weight="ones", optional=True)
    policy = ti.Policy([ti.Rule(nn.Conv2d, weight="zeros"), rule])
    report = ti.plan(two_layers(), policy, strict=True)  # no warning, no error
    assert report.unused_rules == ("rules[1] name='classifer'",)


def test_preset_rules_matching_nothing_are_not_worth_a_warning() -> None:
    # resnet's GroupNorm and Linear rules match nothing here; the user's own rule is named
    policy = ti.get_preset("resnet").then(ti.Rule(name="classifer", weight="ones"))
    with pytest.warns(ti.TorchInitWarning) as record:
        ti.plan(two_layers(), policy)
    assert [str(w.message)[:20] for w in record] == ["rules[2].match.name:"]


@pytest.mark.parametrize(
    ("keyword", "message"),
    [
        (
            "include",
            "include[1]: matches no parameter of Sequential; did you mean 'classifier.weight'? "
            "(got 'classifier.wieght')",
        ),
        (
            "exclude",
            "exclude[1]: matches no parameter of Sequential; did you mean 'classifier.weight'? "
            "(got 'classifier.wieght')",
        ),
    ],
)
def test_include_or_exclude_entries_matching_nothing_warn_or_fail_under_strict(
    keyword: str, message: str
) -> None:
    model = two_layers()
    names = ["conv.*", "classifier.wieght", "**.bias"]
    with pytest.warns(ti.TorchInitWarning) as record:
        ti.init_model(model, "torch_default", **{keyword: names})
    assert [str(w.message) for w in record] == [message]
    assert record[0].filename == __file__
    with pytest.raises(ti.PlanError) as info:
        ti.init_model(model, "torch_default", strict=True, **{keyword: names})
    assert str(info.value) == message


def test_include_names_of_tied_and_parametrized_tensors_match() -> None:
    model = two_layers()
    parametrizations.weight_norm(model.classifier)
    model.extra = model.conv  # a second name for the conv layer
    names = ["classifier.parametrizations.weight.original0", "extra.weight"]
    policy = ti.Policy([ti.Rule(param="**", init="zeros")])
    ti.plan(model, policy, include=names, strict=True)  # no warning, no error


class Exploding(ti.Strategy):
    name = "exploding"

    def __call__(self, tensor: torch.Tensor, *, generator: torch.Generator | None = None):
        raise RuntimeError("boom")


def test_runtime_failure_of_a_strategy_names_the_tensor() -> None:
    with pytest.raises(RuntimeError, match="boom") as info:
        ti.init_model(nn.Linear(2, 2), ti.Policy([ti.Rule(nn.Linear, bias=Exploding())]))
    assert any("while initializing 'bias'" in note for note in info.value.__notes__)


# --------------------------------------------------------------------------- plan


def test_plan_touches_nothing_and_draws_nothing() -> None:
    model = Net()
    before = state(model)
    rng = torch.get_rng_state()
    report = ti.plan(model, POLICY)
    assert torch.equal(torch.get_rng_state(), rng)
    assert_same_state(before, model)
    assert report.applied is False
    assert len(report.initialized) == 16
    assert report.unmatched == []


# --------------------------------------------------------------------------- type names


def test_optional_type_names_may_be_missing_from_the_model() -> None:
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, type_names=["Conv1D"], optional=True, weight="zeros"),
            ti.Rule(type_names=["Conv1D"], optional=True, weight="ones"),
        ]
    )
    report = ti.plan(nn.Sequential(nn.Linear(2, 2)), policy)
    assert report["0.weight"].rule == 0
    assert report.unused_rules == ("rules[1] Conv1D",)


def test_required_type_names_must_name_a_class_of_the_model() -> None:
    policy = ti.Policy([ti.Rule(type_names=["Conv1D"], weight="ones")])
    with pytest.raises(ti.PlanError) as info:
        ti.plan(nn.Sequential(nn.Linear(2, 2)), policy)
    assert str(info.value) == (
        "rules[0].match.type: no layer class of this name in torch.nn or in the model; "
        "did you mean 'Conv1d'? (got 'Conv1D')"
    )


def test_type_names_resolve_to_the_models_classes_and_their_bases() -> None:
    report = ti.plan(Net(), ti.Policy([ti.Rule(type_names=["Block"], scale="zeros")]))
    assert [e.name for e in report.initialized] == ["blocks.0.scale", "blocks.1.scale"]


def test_several_rules_may_name_the_same_class_of_the_model() -> None:
    policy = ti.Policy(
        [
            ti.Rule(type_names=["Block"], scale="ones"),
            ti.Rule(type_names=["Block"], name="blocks.1", scale="zeros"),
        ]
    )
    report = ti.plan(Net(), policy)
    assert [(e.name, e.rule) for e in report.initialized] == [
        ("blocks.0.scale", 0),
        ("blocks.1.scale", 1),
    ]


# --------------------------------------------------------------------------- many small layers


def small_layers(pairs: int = 6) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(pairs):
        layers += [nn.Linear(5, 3), nn.LayerNorm(3)]
    return nn.Sequential(*layers)


SMALL = ti.Policy(
    [
        ti.Rule(nn.Linear, weight=ti.KaimingNormal(nonlinearity="relu"), bias="zeros"),
        ti.Rule(nn.LayerNorm, weight="ones", bias="zeros"),
    ]
)


def small_hand_loop(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_zeros_and_ones_filled_by_the_engine_keep_the_rng_stream(dtype: torch.dtype) -> None:
    model = small_layers().to(dtype)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    expected = copy.deepcopy(model)
    torch.manual_seed(3)
    small_hand_loop(expected)
    after_loop = torch.rand(4)
    torch.manual_seed(3)
    report = ti.init_model(model, SMALL)
    assert torch.equal(torch.rand(4), after_loop)
    assert_same_state(expected, model)
    assert len(report.initialized) == 24


def test_zeros_subclass_with_its_own_fill_is_called() -> None:
    @dataclasses.dataclass(frozen=True)
    class Halves(ti.Zeros):
        def __call__(
            self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
        ) -> torch.Tensor:
            return tensor.fill_(0.5)

    model = small_layers(2)
    ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, bias=Halves())]))
    assert all(torch.equal(model[i].bias, torch.full((3,), 0.5)) for i in (0, 2))


class TaggedParameter(nn.Parameter):
    """A Parameter subclass (with Parameter's disabled __torch_function__)."""


class RecordedParameter(nn.Parameter):
    """A Parameter subclass that sees the calls made on it."""

    calls: ClassVar[list[Any]] = []

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        cls.calls.append(func)
        return torch.Tensor.__torch_function__.__func__(cls, func, types, args, kwargs or {})


def test_parameter_subclasses_are_filled_like_parameters() -> None:
    model = small_layers(1)
    model[0].bias = TaggedParameter(torch.full((3,), float("nan")))
    model[1].weight = TaggedParameter(torch.full((3,), float("nan")))
    model[1].bias = RecordedParameter(torch.full((3,), float("nan")))
    RecordedParameter.calls.clear()
    ti.init_model(model, SMALL)
    assert type(model[0].bias) is TaggedParameter
    assert torch.equal(model[0].bias, torch.zeros(3))
    assert torch.equal(model[1].weight, torch.ones(3))
    assert torch.equal(model[1].bias, torch.zeros(3))
    assert torch.Tensor.zero_ in RecordedParameter.calls


def test_each_slot_reports_the_rules_it_overrode() -> None:
    # slots picked alike share their bookkeeping; each must still report its own history
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.Conv1d(2, 2, 1))
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, weight="ones", bias="ones"),
            ti.Rule(name="1", weight="zeros"),
            ti.Rule(param="**.weight", init=ti.Normal()),
            ti.Rule(name="2", weight="zeros", bias="zeros"),
        ]
    )
    report = ti.plan(model, policy)
    assert [report[f"{i}.weight"].overridden for i in range(4)] == [
        (0,),
        (0, 1),
        (0, 2),
        (),
    ]
    assert [report[f"{i}.weight"].rule for i in range(4)] == [2, 2, 3, 2]
    assert [report[f"{i}.bias"].overridden for i in range(3)] == [(), (), (0,)]
    assert [report[f"{i}.bias"].rule for i in range(3)] == [0, 0, 3]


def test_a_shape_check_passed_by_one_tensor_still_refuses_another() -> None:
    # the check runs once per strategy and shape: a second shape is checked anew
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3), nn.Conv1d(3, 3, 1))
    before = state(model)
    policy = ti.Policy([ti.Rule(param="**.weight", init="eye")])
    with pytest.raises(ti.PlanError, match=r"2\.weight.*exactly 2 dimensions"):
        ti.init_model(model, policy)
    assert_same_state(before, model)


def test_a_check_that_reads_the_dtype_sees_every_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    # a check added to the one check function sees a float16 tensor even when a float32 one
    # of the same shape and rule was checked before it (a fast path by shape alone would not)
    from torchinit.engine import planning

    judge = planning.Checks.judge

    def refusing_half(self: planning.Checks, *facts: Any) -> planning.Verdict:
        assignment, _, _, _, dtype, _, _ = facts
        if assignment is not None and dtype == torch.float16:
            raise ti.PlanError("float16 is refused here", path=assignment.path)
        return judge(self, *facts)

    monkeypatch.setattr(planning.Checks, "judge", refusing_half)
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    model[1].half()
    before = state(model)
    policy = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(), bias="zeros")])
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, policy)
    assert str(caught.value) == "rules[0].weight: float16 is refused here"
    assert_same_state(before, model)
    assert ti.plan(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4)), policy).unmatched == []


def test_a_meta_tensor_after_a_cpu_one_of_its_shape_is_refused() -> None:
    # the device is read for every tensor: one on the meta device after a CPU one of the same
    # shape and rule is refused
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    model[1].weight = nn.Parameter(torch.empty(4, 4, device="meta"))
    before = state(model)
    policy = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal())])
    with pytest.raises(ti.InvalidArgumentError, match=r"meta device \(e\.g\. '1\.weight'\)"):
        ti.init_model(model, policy, generator=torch.Generator())
    assert torch.equal(model[0].weight, before["0.weight"])


# --------------------------------------------------------------------------- zero-element


def _empty_linear() -> nn.Linear:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own reset warns about the empty weight
        return nn.Linear(0, 4)


@pytest.mark.parametrize("seed", [None, 0], ids=["in-order", "keyed"])
@pytest.mark.parametrize(
    "weight",
    [
        "kaiming_uniform",
        "kaiming_normal",
        ti.KaimingNormal(mode="fan_out"),
        nn.init.kaiming_uniform_,
        functools.partial(nn.init.kaiming_normal_, mode="fan_out"),
    ],
    ids=repr,
)
def test_zero_element_tensor_warns_as_torch_kaiming(weight: Any, seed: int | None) -> None:
    # torch's test_kaiming_{uniform,normal}_warning_on_0element_tensor, through a policy
    model = _empty_linear()
    policy = ti.Policy([ti.Rule(nn.Linear, weight=weight, bias="zeros")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = ti.init_model(model, policy, seed=seed)
    assert [(w.category, str(w.message)) for w in caught] == [
        (UserWarning, "Initializing zero-element tensors is a no-op")
    ]
    assert caught[0].filename == __file__  # the line that called init_model, as torch's
    assert [entry.name for entry in report.skipped] == ["weight"]


@pytest.mark.parametrize("seed", [None, 0], ids=["in-order", "keyed"])
@pytest.mark.parametrize("weight", ["xavier_uniform", "normal", "orthogonal", nn.init.zeros_])
def test_zero_element_tensor_is_silent_where_torch_is(weight: Any, seed: int | None) -> None:
    model = _empty_linear()
    policy = ti.Policy([ti.Rule(nn.Linear, weight=weight, bias="zeros")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ti.init_model(model, policy, seed=seed)


def test_plan_does_not_warn_for_a_zero_element_tensor() -> None:
    # nothing is initialized by plan: the report says the tensor is skipped, and why
    policy = ti.Policy([ti.Rule(nn.Linear, weight="kaiming_uniform", bias="zeros")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = ti.plan(_empty_linear(), policy)
    assert [entry.name for entry in report.skipped] == ["weight"]


# --------------------------------------------------------------------------- progress

PROGRESS_POLICY = ti.Policy([ti.Rule(nn.Linear, weight="ones", bias="zeros")], name="ones")


def no_progress_bars(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make tqdm and rich fail to import, as if not installed."""
    for name in ("tqdm", "tqdm.auto", "rich", "rich.progress"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize("seed", [None, 0])
def test_progress_without_a_bar_logs_every_tenth(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, seed: int | None
) -> None:
    no_progress_bars(monkeypatch)
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(10)])
    with caplog.at_level(logging.INFO, logger="torchinit"):
        ti.init_model(model, PROGRESS_POLICY, progress=True, seed=seed)
    assert {record.name for record in caplog.records} == {"torchinit.progress"}
    messages = [record.getMessage() for record in caplog.records]
    if seed is None:  # in order: a line every 2 of the 20 tensors
        assert messages == [
            f"torchinit ones: {10 * step}% ({2 * step}/20 tensors)" for step in range(1, 11)
        ]
    else:  # keyed: the chunks of all tensors are drawn together, at the end
        assert messages == ["torchinit ones: 100% (20/20 tensors)"]
    assert all(torch.equal(layer.weight, torch.ones(2, 2)) for layer in model)


def test_progress_counts_layer_resets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    no_progress_bars(monkeypatch)
    model = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2, bias=False), nn.Conv1d(2, 2, 1))
    policy = ti.Policy(
        [ti.Rule(name="**", params={"*": "torch_default"}), ti.Rule(nn.Linear, bias="zeros")]
    )
    with caplog.at_level(logging.INFO, logger="torchinit"):
        ti.init_model(model, policy, progress=True)
    # a layer's reset counts the tensors it sets
    assert [record.getMessage() for record in caplog.records] == [
        "torchinit <policy>: 20% (1/5 tensors)",  # Linear's reset sets its weight only
        "torchinit <policy>: 40% (2/5 tensors)",
        "torchinit <policy>: 60% (3/5 tensors)",
        "torchinit <policy>: 100% (5/5 tensors)",
    ]


def test_progress_is_a_tqdm_bar_on_stderr(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("tqdm")
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(3)])
    with caplog.at_level(logging.INFO, logger="torchinit"):
        ti.init_model(model, PROGRESS_POLICY, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "torchinit ones: 100%" in captured.err
    assert "6/6" in captured.err
    assert caplog.records == []


def test_progress_without_tqdm_is_a_rich_bar_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("rich")
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    ti.init_model(nn.Linear(2, 2), PROGRESS_POLICY, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "torchinit ones" in captured.err
    assert "100%" in captured.err


def test_no_progress_by_default(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="torchinit"):
        ti.init_model(nn.Linear(2, 2), PROGRESS_POLICY)
    assert capsys.readouterr() == ("", "")
    assert caplog.records == []


# --------------------------------------------------------------------------- wrapped models


WRAPPERS = [
    pytest.param(nn.DataParallel, "module.", id="DataParallel"),
    pytest.param(torch.compile, "_orig_mod.", id="torch.compile"),
    pytest.param(lambda m: torch.compile(nn.DataParallel(m)), "_orig_mod.module.", id="both"),
]
# a layer rule by name, a parameter rule by name, a glob over the blocks' convs
NAMED = ti.Policy(
    [
        ti.Rule(name="head", weight="zeros", bias="ones"),
        ti.Rule(param="blocks.*.fc.bias", init=ti.Constant(0.5)),
        ti.Rule(name="blocks.*.conv", weight=ti.Normal(0.0, 0.1)),
    ]
)


def seeded_net() -> Net:
    torch.manual_seed(0)
    return Net()


def assert_same_as_bare(bare: nn.Module, wrapped: nn.Module, prefix: str) -> None:
    wrapped_state = state(wrapped)
    assert list(wrapped_state) == [prefix + key for key in state(bare)]
    for key, value in state(bare).items():
        assert torch.equal(value, wrapped_state[prefix + key]), key


def init_both(
    wrap: Any, wrapped_kwargs: dict[str, Any] | None = None, **kwargs: Any
) -> tuple[Net, nn.Module, ti.InitReport]:
    """A Net and a wrapped Net, both built and initialized from the same seeds, the wrapped one
    with ``wrapped_kwargs`` if given."""
    bare = seeded_net()
    torch.manual_seed(1)
    ti.init_model(bare, **kwargs)
    wrapped = wrap(seeded_net())
    torch.manual_seed(1)
    return bare, wrapped, ti.init_model(wrapped, **(wrapped_kwargs or kwargs))


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS)
def test_name_and_param_globs_match_the_wrapped_models_names(wrap, prefix: str) -> None:
    bare, wrapped, report = init_both(wrap, policy=NAMED, strict=True)
    assert_same_as_bare(bare, wrapped, prefix)
    # the report keeps the wrapped model's names, as its state_dict does
    assert report[f"{prefix}head.weight"].rule == 0
    assert report[f"{prefix}blocks.1.fc.bias"].rule == 1
    assert report[f"{prefix}blocks.0.conv.weight"].rule == 2
    assert report.unused_rules == ()


@pytest.mark.parametrize("order", ["modules", "apply"])
@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS)
def test_wrappers_are_not_layers_in_either_order(wrap, prefix: str, order: str) -> None:
    # a rule on every layer with a reset: the wrappers add none, in modules or apply order
    policy = ti.Policy([ti.Rule(nn.Module, params={"*": "torch_default"}), *POLICY.rules])
    bare, wrapped, report = init_both(wrap, policy=policy, order=order)
    assert_same_as_bare(bare, wrapped, prefix)
    assert report.unmatched == []


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS)
def test_globs_written_with_the_wrappers_prefix_match_too(wrap, prefix: str) -> None:
    written = ti.Policy(
        [
            ti.Rule(name=f"{prefix}head", weight="zeros", bias="ones"),
            ti.Rule(param=f"{prefix}blocks.*.fc.bias", init=ti.Constant(0.5)),
            ti.Rule(name=f"{prefix}blocks.*.conv", weight=ti.Normal(0.0, 0.1)),
        ]
    )
    bare = seeded_net()
    torch.manual_seed(1)
    ti.init_model(bare, NAMED)
    wrapped = wrap(seeded_net())
    torch.manual_seed(1)
    ti.init_model(wrapped, written, strict=True)
    assert_same_as_bare(bare, wrapped, prefix)


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS)
def test_top_level_globs_see_the_bare_names_not_the_wrapper(wrap, prefix: str) -> None:
    # '*' names the model's children; on the wrapped model it must not also name the model
    # inside the wrapper ('module', '_orig_mod'), which has no weight
    policy = ti.Policy([ti.Rule(name="*", weight="zeros")])
    with pytest.raises(ti.PlanError, match="layer 'blocks'"):
        ti.plan(seeded_net(), policy)
    with pytest.raises(ti.PlanError, match=f"layer '{prefix}blocks'"):
        ti.plan(wrap(seeded_net()), policy)
    report = ti.plan(wrap(seeded_net()), ti.Policy([ti.Rule(name="*", params={"*": "zeros"})]))
    assert [entry.name for entry in report.initialized] == [
        f"{prefix}{name}" for name in ("stem.weight", "stem.bias", "head.weight", "head.bias")
    ]


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS)
def test_include_and_exclude_match_the_wrapped_models_names(wrap, prefix: str) -> None:
    for selection in ({"include": ["blocks.**", "head.weight"]}, {"exclude": "blocks.0.**"}):
        bare, wrapped, report = init_both(wrap, policy=POLICY, strict=True, **selection)
        assert_same_as_bare(bare, wrapped, prefix)
        assert report.excluded, selection
    # written with the prefix, as in the wrapper's state_dict
    bare, wrapped, _ = init_both(
        wrap,
        {"policy": POLICY, "include": f"{prefix}blocks.**", "exclude": f"{prefix}blocks.1.bn.*"},
        policy=POLICY,
        include="blocks.**",
        exclude="blocks.1.bn.*",
    )
    assert_same_as_bare(bare, wrapped, prefix)


@pytest.mark.parametrize(("wrap", "prefix"), WRAPPERS)
def test_a_glob_matching_nothing_on_a_wrapped_model_suggests_its_bare_name(
    wrap, prefix: str
) -> None:
    model = wrap(seeded_net())
    with pytest.warns(ti.TorchInitWarning) as caught:
        ti.plan(model, POLICY, exclude="blocks.0.fc.weigth")
    assert str(caught[0].message) == (
        "exclude[0]: matches no parameter of Net; did you mean 'blocks.0.fc.weight'? "
        "(got 'blocks.0.fc.weigth')"
    )
    rules = [*POLICY.rules, ti.Rule(param=f"{prefix}haed.bias", init="zeros")]
    with pytest.raises(ti.PlanError) as raised:
        ti.plan(model, ti.Policy(rules), strict=True)
    assert str(raised.value) == (
        "rules[4].match.param: matches no parameter of Net; did you mean 'head.bias'? "
        f"(got '{prefix}haed.bias')"
    )


def scripted(model: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        # torch.jit is deprecated in recent torch releases
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(model)


def test_a_scripted_model_is_refused_before_anything_is_touched() -> None:
    model = scripted(nn.Sequential(nn.Linear(2, 2)))
    before = state(model)
    policy = ti.Policy([ti.Rule(name="0", weight="zeros")])
    for call in (ti.plan, ti.init_model):
        with pytest.raises(ti.ArgumentTypeError) as raised:
            call(model, policy)
        assert str(raised.value) == (
            "model: torch.jit.script modules are not supported; initialize the eager module, "
            "then script it (got 'RecursiveScriptModule')"
        )
    assert_same_state(before, model)


def test_a_scripted_layer_inside_an_eager_model_is_refused_by_name() -> None:
    model = nn.Sequential(nn.Linear(2, 2), scripted(nn.Linear(2, 2)))
    before = state(model)
    with pytest.raises(ti.ArgumentTypeError) as raised:
        ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, weight="zeros")]))
    assert str(raised.value) == (
        "1: model: torch.jit.script modules are not supported; initialize the eager module, "
        "then script it (got 'RecursiveScriptModule')"
    )
    assert_same_state(before, model)


# --------------------------------------------------------------------------- filled by name


def checkpoint_of(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """Save values unlike ``model``'s, under its parameter names, to ``path`` (torch.save)."""
    tensors = {name: torch.randn_like(value) for name, value in model.named_parameters()}
    torch.save(tensors, path)
    return tensors


def from_file(path: Path, glob: str = "**") -> ti.Rule:
    return ti.Rule(param=glob, init=ti.Checkpoint(path))


def test_a_checkpoint_under_seed_is_copied_and_the_others_keep_their_keyed_values(
    tmp_path: Path,
) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    saved = checkpoint_of(tmp_path / "w.pt", model)
    drawn = ti.Rule(nn.Linear, weight=ti.Normal(0.0, 1.0), bias=ti.Uniform(-1.0, 1.0))
    report = ti.init_model(model, ti.Policy([drawn, from_file(tmp_path / "w.pt", "0.*")]), seed=3)
    reference = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    ti.init_model(reference, ti.Policy([drawn]), seed=3)
    assert torch.equal(model[0].weight, saved["0.weight"])
    assert torch.equal(model[0].bias, saved["0.bias"])
    assert torch.equal(model[1].weight, reference[1].weight)
    assert torch.equal(model[1].bias, reference[1].bias)
    assert report["0.weight"].reason == f"key '0.weight' of {str(tmp_path / 'w.pt')!r}"


@pytest.mark.parametrize("seed", [None, 5])
def test_a_meta_model_is_materialized_and_read_from_a_checkpoint(
    tmp_path: Path, seed: int | None
) -> None:
    saved = checkpoint_of(tmp_path / "w.pt", Net())
    with torch.device("meta"):
        model = Net()
    ti.init_model(model, ti.Policy([from_file(tmp_path / "w.pt")]), device="cpu", seed=seed)
    for name, value in model.named_parameters():
        assert torch.equal(value, saved[name]), name
    assert model.blocks[0].bn.running_var.eq(1.0).all()


def test_a_wrapped_model_is_read_by_its_bare_names(tmp_path: Path) -> None:
    saved = checkpoint_of(tmp_path / "w.pt", nn.Sequential(nn.Linear(3, 4)))
    wrapped = nn.DataParallel(nn.Sequential(nn.Linear(3, 4)))
    report = ti.init_model(wrapped, ti.Policy([from_file(tmp_path / "w.pt")]))
    assert torch.equal(wrapped.module[0].weight, saved["0.weight"])
    assert report["module.0.bias"].reason == f"key '0.bias' of {str(tmp_path / 'w.pt')!r}"


class Doubled(nn.Module):
    """A parametrization whose right_inverse gives back exactly what it is handed."""

    def forward(self, original: torch.Tensor) -> torch.Tensor:
        return 2 * original

    def right_inverse(self, value: torch.Tensor) -> torch.Tensor:
        return value / 2


def test_a_parametrized_tensor_is_set_to_the_checkpoint_value(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4))
    parametrize.register_parametrization(model[0], "weight", Doubled())
    value = torch.randn(4, 3)
    torch.save({"0.weight": value}, tmp_path / "w.pt")
    ti.init_model(model, ti.Policy([from_file(tmp_path / "w.pt", "0.weight")]))
    assert torch.equal(model[0].weight, value)


def test_a_checkpoint_rule_overridden_by_a_later_one_reads_nothing(tmp_path: Path) -> None:
    torch.save({"weight": torch.zeros(9)}, tmp_path / "w.pt")  # would be a shape error
    policy = ti.Policy([from_file(tmp_path / "w.pt"), ti.Rule(nn.Linear, weight="ones")])
    report = ti.init_model(nn.Linear(3, 4), policy, exclude="bias")
    assert report["weight"].strategy == ti.Ones()
    assert report["weight"].overridden == (0,)


class _SilencedInit(torch.overrides.TorchFunctionMode):
    """What Lightning's ``Fabric.init_module(empty_init=True)`` installs: every
    ``torch.nn.init`` function returns its tensor untouched."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if getattr(func, "__module__", None) == "torch.nn.init":
            return kwargs.get("tensor", args[0] if args else None)
        return func(*args, **kwargs)


def test_init_model_refuses_to_run_where_torch_nn_init_is_silenced() -> None:
    model = nn.Linear(3, 4)
    with torch.no_grad():
        model.weight.fill_(3.0)
    before = torch.random.get_rng_state()
    with _SilencedInit(), pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, "torch_default")
    assert str(caught.value).startswith(
        "init_model: torch.nn.init's functions are disabled here (a __torch_function__ mode "
    )
    assert str(caught.value).endswith(
        "call init_model after the `with` block (got ['_SilencedInit'])"
    )
    assert bool((model.weight == 3.0).all())
    assert torch.equal(torch.random.get_rng_state(), before)  # the check draws nothing


def test_a_torch_function_mode_that_lets_torch_nn_init_run_is_no_obstacle() -> None:
    calls: list[str] = []

    class Counting(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            calls.append(getattr(func, "__name__", ""))
            return func(*args, **(kwargs or {}))

    model = nn.Linear(3, 4)
    with torch.no_grad():
        model.weight.fill_(3.0)
    with Counting():
        ti.init_model(model, "torch_default")
    assert "kaiming_uniform_" in calls
    assert not bool((model.weight == 3.0).any())

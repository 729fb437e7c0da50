"""
Every seed snippet next to its torchinit twin
=============================================

Every ``torch.nn.init`` snippet of the project's seed write-ups, next to its torchinit twin.

The write-ups (``shared/seeds/000_*.txt`` to ``004_*.txt``, in Chinese) teach weight
initialization with plain ``torch.nn.init`` code. For each snippet this file has

* the plain torch code, as the seed writes it (with its typos fixed where noted), and
* the same initialization written with torchinit: a strategy object called on the tensor
  (``torchinit.Zeros()(linear.weight)``) for the tensor-level snippets, or
  ``torchinit.init_model(model, torchinit.Policy([...]))`` for the ``for m in model.modules()``
  loops and ``model.apply(fn)`` functions.

Both start from the same ``torch.manual_seed(seed)`` and build the same layers, so they draw the
same random numbers: the script checks that the results are identical (``torch.equal``) and
prints one line per snippet. ``tests/test_seeds.py`` imports :data:`CASES` and checks the same
under two seeds.

Calling a torchinit strategy on a ``Parameter`` needs no ``torch.no_grad()``: like
``torch.nn.init``'s functions (which they call), the built-in strategies fill the tensor without
recording it for autograd.

Run from the repository root::

    python examples/seeds.py
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import init

import torchinit
from torchinit import Policy, Rule

# --------------------------------------------------------------------------- the case table


@dataclasses.dataclass(frozen=True)
class Case:
    """One seed snippet: plain torch and torchinit, each a function ``seed -> result``.

    The result is a tensor or a module (compare every tensor of its ``state_dict``).

    Attributes:
        name: the snippet, shortly (``zeros_(linear.weight)``).
        source: where it is in its seed file (``test004``, ``Xavier Initialization``).
        torch_fn: the seed's plain torch code.
        torchinit_fn: the same initialization with torchinit.
        build: the object before any initialization (``None`` when there is none); lets the
            tests check what the initialization itself changed and how many random numbers
            it drew.
        random: whether the initialization draws random numbers.
        expect: a property of the result that the seed states or prints (``w.sum()`` is 3).
    """

    name: str
    source: str
    torch_fn: Callable[[int], Any]
    torchinit_fn: Callable[[int], Any]
    build: Callable[[int], Any] | None
    random: bool = True
    expect: Callable[[Any], bool] | None = None


def case(
    name: str,
    source: str,
    build: Callable[[int], Any],
    *,
    with_torch: Callable[[Any], object],
    with_torchinit: Callable[[Any], object],
    random: bool = True,
    expect: Callable[[Any], bool] | None = None,
) -> Case:
    """A case that builds an object, then initializes it in place one way or the other."""

    def torch_fn(seed: int) -> Any:
        target = build(seed)
        with_torch(target)
        return target

    def torchinit_fn(seed: int) -> Any:
        target = build(seed)
        with_torchinit(target)
        return target

    return Case(name, source, torch_fn, torchinit_fn, build, random, expect)


def init_with(policy: Policy) -> Callable[[nn.Module], torchinit.InitReport]:
    """``model -> torchinit.init_model(model, policy)``."""
    return lambda model: torchinit.init_model(model, policy)


# --------------------------------------------------------------------------- builders
# Every builder seeds torch's global generator first, so that the plain torch version and the
# torchinit version of a case build the very same layers and then draw the same numbers.


def linear_6x4(seed: int) -> nn.Linear:
    """Seed 000's layer: ``nn.Linear(in_features=6, out_features=4)``."""
    torch.manual_seed(seed)
    return nn.Linear(in_features=6, out_features=4)


def empty(*shape: int) -> Callable[[int], torch.Tensor]:
    """A builder of the seeds' ``torch.empty(*shape)`` (or the old ``torch.Tensor(*shape)``).

    Filled with NaN rather than left uninitialized: an element an initializer forgot would
    stay NaN, and ``torch.equal`` is false for tensors holding NaN.
    """

    def build(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return torch.full(shape, math.nan)

    return build


def small_cnn(seed: int) -> nn.Sequential:
    """The ``model`` of seed 001's loops, which the seed never defines: a small conv net."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 16, kernel_size=3, padding=1),
        nn.GroupNorm(4, 16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


def small_cnn_used_norms(seed: int) -> nn.Sequential:
    """:func:`small_cnn` with its norm layers moved away from weight 1 / bias 0.

    A fresh norm layer already has weight 1 and bias 0, so setting them again would show
    nothing. Start from norm layers as a trained model has them (or as old PyTorch made them:
    BatchNorm weight ~ U(0, 1), says seed 003).
    """
    model = small_cnn(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.uniform_(m.weight)
            nn.init.uniform_(m.bias, -0.5, 0.5)
    return model


# --------------------------------------------------------------------------- checks on results


def all_equal_to(value: float) -> Callable[[torch.Tensor], bool]:
    return lambda tensor: torch.equal(tensor, torch.full_like(tensor, value))


def weight_equal_to(value: float) -> Callable[[nn.Module], bool]:
    return lambda layer: all_equal_to(value)(layer.weight)


def is_eye(tensor: torch.Tensor) -> bool:
    return torch.equal(tensor, torch.eye(*tensor.shape))


def is_orthogonal(tensor: torch.Tensor) -> bool:
    rows = tensor.shape[0]
    return torch.allclose(tensor @ tensor.T, torch.eye(rows), atol=1e-5)


def zeros_per_column(sparsity: float) -> Callable[[torch.Tensor], bool]:
    # sparse_ zeroes ceil(sparsity * rows) entries of every column
    def check(tensor: torch.Tensor) -> bool:
        wanted = math.ceil(sparsity * tensor.shape[0])
        return bool(((tensor == 0).sum(dim=0) == wanted).all())

    return check


# =========================================================================== seed 000
# 000_52d4d96cb155f834.txt: test001 ... test007 each build nn.Linear(6, 4) and fill its weight
# with one torch.nn.init function. A torchinit strategy is an object holding the arguments;
# calling it fills the tensor in place, like the torch.nn.init function it names.
# (Its "参考2" snippet assigns net.weight.data = torch.tensor(...): no torch.nn.init there.)

SEED_000 = [
    case(
        "zeros_(linear.weight)",
        "test004",
        linear_6x4,
        with_torch=lambda linear: nn.init.zeros_(linear.weight),
        with_torchinit=lambda linear: torchinit.Zeros()(linear.weight),
        random=False,
        expect=weight_equal_to(0.0),
    ),
    case(
        "ones_(linear.weight)",
        "test003",
        linear_6x4,
        with_torch=lambda linear: nn.init.ones_(linear.weight),
        with_torchinit=lambda linear: torchinit.Ones()(linear.weight),
        random=False,
        expect=weight_equal_to(1.0),
    ),
    case(
        "constant_(linear.weight, 0.63)",
        "test002",
        linear_6x4,
        with_torch=lambda linear: nn.init.constant_(linear.weight, 0.63),
        with_torchinit=lambda linear: torchinit.Constant(0.63)(linear.weight),
        random=False,
        expect=weight_equal_to(0.63),
    ),
    case(
        "uniform_(linear.weight)",
        "test001",
        linear_6x4,
        with_torch=lambda linear: nn.init.uniform_(linear.weight),
        with_torchinit=lambda linear: torchinit.Uniform()(linear.weight),  # U(0, 1)
    ),
    case(
        "normal_(linear.weight, mean=0, std=1)",
        "test005",
        linear_6x4,
        with_torch=lambda linear: nn.init.normal_(linear.weight, mean=0, std=1),
        with_torchinit=lambda linear: torchinit.Normal(mean=0, std=1)(linear.weight),
    ),
    case(
        "xavier_normal_(linear.weight)",
        "test007",
        linear_6x4,
        with_torch=lambda linear: nn.init.xavier_normal_(linear.weight),
        with_torchinit=lambda linear: torchinit.XavierNormal()(linear.weight),
    ),
    case(
        "xavier_uniform_(linear.weight)",
        "test007",
        linear_6x4,
        with_torch=lambda linear: nn.init.xavier_uniform_(linear.weight),
        with_torchinit=lambda linear: torchinit.XavierUniform()(linear.weight),
    ),
    case(
        "kaiming_normal_(linear.weight, nonlinearity='relu', mode='fan_in')",
        "test006",
        linear_6x4,
        with_torch=lambda linear: nn.init.kaiming_normal_(
            linear.weight, nonlinearity="relu", mode="fan_in"
        ),
        with_torchinit=lambda linear: torchinit.KaimingNormal(mode="fan_in", nonlinearity="relu")(
            linear.weight
        ),
    ),
    case(
        "kaiming_uniform_(linear.weight, nonlinearity='relu', mode='fan_out')",
        "test006",
        linear_6x4,
        with_torch=lambda linear: nn.init.kaiming_uniform_(
            linear.weight, nonlinearity="relu", mode="fan_out"
        ),
        with_torchinit=lambda linear: torchinit.KaimingUniform(mode="fan_out", nonlinearity="relu")(
            linear.weight
        ),
    ),
]


# =========================================================================== seed 001
# 001_bf35c3fa67ee913d.txt, first part: loops over a model's layers. The seed never defines
# `model`; small_cnn() stands in for it. A loop "for m in model.modules(): if isinstance(m, T):
# init(m.weight)" is one Rule(T, weight=...) of a Policy: rules match layers with isinstance,
# in model.modules() order, and a parameter no rule names is left as it was.


def xavier_uniform_loop(model: nn.Module) -> None:
    """Seed 001, "Xavier Initialization", default method."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)


XAVIER_UNIFORM = Policy(
    [Rule((nn.Conv2d, nn.Linear), weight=torchinit.XavierUniform())], name="xavier_uniform"
)


def xavier_uniform_relu_loop(model: nn.Module) -> None:
    """Seed 001, "Xavier Initialization" with a gain.

    The seed writes ``m.weight()``, which fails (a Parameter is not callable); ``m.weight`` is
    what it means.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("relu"))


XAVIER_UNIFORM_RELU = Policy(
    [
        Rule(
            (nn.Conv2d, nn.Linear),
            weight=torchinit.XavierUniform(gain=torchinit.calculate_gain("relu")),
        )
    ],
    name="xavier_uniform_relu",
)


def he_loop(model: nn.Module) -> None:
    """Seed 001, "He et. al Initialization" (nonlinearity stays leaky_relu, a=0)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in")


HE = Policy(
    [Rule((nn.Conv2d, nn.Linear), weight=torchinit.KaimingNormal(mode="fan_in"))], name="he"
)


def orthogonal_loop(model: nn.Module) -> None:
    """Seed 001, "正交初始化". The seed calls the deprecated alias ``nn.init.orthogonal``."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(m.weight)


ORTHOGONAL = Policy(
    [Rule((nn.Conv2d, nn.Linear), weight=torchinit.Orthogonal())], name="orthogonal"
)


def batchnorm_loop(model: nn.Sequential) -> None:
    """Seed 001, "Batchnorm Initialization" (deprecated ``nn.init.constant`` in the seed).

    ``for m in model`` walks only the top level of a Sequential; a Rule matches BatchNorm2d
    layers at any depth, which is the same here and what the loop means. (``name="*"`` would
    restrict the rule to top-level layers: ``*`` never crosses a dot.)
    """
    for m in model:
        if isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


BATCHNORM = Policy(
    [Rule(nn.BatchNorm2d, weight=torchinit.Constant(1), bias=torchinit.Constant(0))],
    name="batchnorm",
)


def conv1_7x7(seed: int) -> nn.Conv2d:
    """Seed 001, "单层初始化": ``nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)``."""
    torch.manual_seed(seed)
    return nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)


def conv1_with_torch(conv1: nn.Conv2d) -> None:
    # the seed uses the deprecated aliases nn.init.xavier_uniform / nn.init.constant
    nn.init.xavier_uniform_(conv1.weight)
    nn.init.constant_(conv1.bias, 0.1)


def conv1_with_torchinit(conv1: nn.Conv2d) -> None:
    torchinit.XavierUniform()(conv1.weight)
    torchinit.Constant(0.1)(conv1.bias)


class Net(nn.Module):
    """The ``Net`` of seed 001's "模型初始化", which the seed never defines: LeNet-5."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU()
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 8 * 8, 120), nn.ReLU(), nn.Linear(120, 10)
        )


def new_net(seed: int) -> Net:
    torch.manual_seed(seed)
    return Net()


def weights_init_by_class_name(m: nn.Module) -> None:
    """Seed 001, "模型初始化", first version: matches layers by class name."""
    classname = m.__class__.__name__
    if classname.find("Conv2d") != -1:
        nn.init.xavier_normal_(m.weight.data)
        nn.init.constant_(m.bias.data, 0.0)
    elif classname.find("Linear") != -1:
        nn.init.xavier_normal_(m.weight)
        nn.init.constant_(m.bias, 0.0)


def weights_init_by_type(m: nn.Module) -> None:
    """Seed 001, "模型初始化", the recommended version: matches layers with isinstance."""
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_normal_(m.weight)
        nn.init.constant_(m.bias, 0.0)


# net.apply(fn) calls fn on the children of a module before the module itself; order="apply"
# walks the model in that order. (For Net it makes no difference: only a layer that has
# parameters of its own *and* sub-layers with parameters comes at another place.)
XAVIER_NORMAL_APPLY = Policy(
    [Rule((nn.Conv2d, nn.Linear), weight=torchinit.XavierNormal(), bias=torchinit.Constant(0.0))],
    name="weights_init",
    order="apply",
)

SEED_001_MODELS = [
    case(
        "for m in model.modules(): xavier_uniform_(m.weight)",
        "Xavier Initialization",
        small_cnn,
        with_torch=xavier_uniform_loop,
        with_torchinit=init_with(XAVIER_UNIFORM),
    ),
    case(
        "... xavier_uniform_(m.weight, gain=calculate_gain('relu'))",
        "Xavier Initialization (gain)",
        small_cnn,
        with_torch=xavier_uniform_relu_loop,
        with_torchinit=init_with(XAVIER_UNIFORM_RELU),
    ),
    case(
        "... kaiming_normal_(m.weight, mode='fan_in')",
        "He et. al Initialization",
        small_cnn,
        with_torch=he_loop,
        with_torchinit=init_with(HE),
    ),
    case(
        "... orthogonal(m.weight)",
        "正交初始化",
        small_cnn,
        with_torch=orthogonal_loop,
        with_torchinit=init_with(ORTHOGONAL),
    ),
    case(
        "for m in model: BatchNorm2d constant(weight, 1), constant(bias, 0)",
        "Batchnorm Initialization",
        small_cnn_used_norms,
        with_torch=batchnorm_loop,
        with_torchinit=init_with(BATCHNORM),
        random=False,
    ),
    case(
        "conv1 = Conv2d(3, 64, 7, 2, 3); xavier_uniform(weight); constant(bias, 0.1)",
        "单层初始化",
        conv1_7x7,
        with_torch=conv1_with_torch,
        with_torchinit=conv1_with_torchinit,
        expect=lambda conv1: all_equal_to(0.1)(conv1.bias),
    ),
    case(
        "net.apply(weights_init) by class name: xavier_normal_ + bias 0",
        "模型初始化",
        new_net,
        with_torch=lambda net: net.apply(weights_init_by_class_name),
        with_torchinit=init_with(XAVIER_NORMAL_APPLY),
    ),
    case(
        "net.apply(weights_init) by isinstance: xavier_normal_ + bias 0",
        "模型初始化 (isinstance)",
        new_net,
        with_torch=lambda net: net.apply(weights_init_by_type),
        with_torchinit=init_with(XAVIER_NORMAL_APPLY),
    ),
]

# 001_bf35c3fa67ee913d.txt, second part: the torch.nn.init cheat sheet. The seed fills one
# tensor w = torch.empty(2, 3) again and again; here each line starts afresh from the seed.
SEED_001_TENSORS = [
    case(
        "uniform_(w)",
        "cheat sheet #1",
        empty(2, 3),
        with_torch=nn.init.uniform_,
        with_torchinit=torchinit.Uniform(),
    ),
    case(
        "normal_(w)",
        "cheat sheet #2",
        empty(2, 3),
        with_torch=nn.init.normal_,
        with_torchinit=torchinit.Normal(),
    ),
    case(
        "constant_(w, 0.3)",
        "cheat sheet #3",
        empty(2, 3),
        with_torch=lambda w: nn.init.constant_(w, 0.3),
        with_torchinit=torchinit.Constant(0.3),
        random=False,
        expect=all_equal_to(0.3),
    ),
    case(
        "eye_(w) on 2x3",
        "cheat sheet #4",
        empty(2, 3),
        with_torch=nn.init.eye_,
        with_torchinit=torchinit.Eye(),
        random=False,
        expect=is_eye,
    ),
    case(
        "dirac_(w1) on 3x16x5x5; w1.sum() is 3",
        "cheat sheet #5, dirac",
        empty(3, 16, 5, 5),
        with_torch=nn.init.dirac_,
        with_torchinit=torchinit.Dirac(),
        random=False,
        expect=lambda w: float(w.sum()) == 3.0,
    ),
    case(
        "xavier_uniform_(w, gain=calculate_gain('relu'))",
        "cheat sheet #6",
        empty(2, 3),
        with_torch=lambda w: nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain("relu")),
        with_torchinit=torchinit.XavierUniform(gain=torchinit.calculate_gain("relu")),
    ),
    case(
        "xavier_normal_(w)",
        "cheat sheet #7",
        empty(2, 3),
        with_torch=nn.init.xavier_normal_,
        with_torchinit=torchinit.XavierNormal(),
    ),
    case(
        "kaiming_uniform_(w, mode='fan_in', nonlinearity='relu')",
        "cheat sheet #8",
        empty(2, 3),
        with_torch=lambda w: nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu"),
        with_torchinit=torchinit.KaimingUniform(mode="fan_in", nonlinearity="relu"),
    ),
    case(
        "kaiming_normal_(w, mode='fan_out', nonlinearity='relu')",
        "cheat sheet #9",
        empty(2, 3),
        with_torch=lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"),
        with_torchinit=torchinit.KaimingNormal(mode="fan_out", nonlinearity="relu"),
    ),
    case(
        "orthogonal_(w) on 2x3",
        "cheat sheet #10",
        empty(2, 3),
        with_torch=nn.init.orthogonal_,
        with_torchinit=torchinit.Orthogonal(),
        expect=is_orthogonal,
    ),
    case(
        "sparse_(w, sparsity=0.1) on 2x3",
        "cheat sheet #11",
        empty(2, 3),
        with_torch=lambda w: nn.init.sparse_(w, sparsity=0.1),
        with_torchinit=torchinit.Sparse(sparsity=0.1),
        expect=zeros_per_column(0.1),
    ),
    # the signature the seed quotes under "He et. al Initialization" (and seed 002 as
    # kaiming_uniform(tensor, a=0, mode='fan_in')): all defaults, leaky_relu with slope a=0
    case(
        "kaiming_uniform_(tensor, a=0, mode='fan_in', nonlinearity='leaky_relu')",
        "He et. al Initialization",
        empty(3, 5),
        with_torch=lambda w: nn.init.kaiming_uniform_(
            w, a=0, mode="fan_in", nonlinearity="leaky_relu"
        ),
        with_torchinit=torchinit.KaimingUniform(a=0, mode="fan_in", nonlinearity="leaky_relu"),
    ),
    # the per-function sections further down, on w = torch.Tensor(3, 5) (seed 002 quotes
    # xavier_uniform/xavier_normal(tensor, gain=1) and kaiming_normal(tensor, a=0, mode='fan_in')
    # too, with the deprecated names)
    case(
        "xavier_uniform_(w, gain=1) on 3x5",
        "Xavier均匀分布",
        empty(3, 5),
        with_torch=lambda w: nn.init.xavier_uniform_(w, gain=1),
        with_torchinit=torchinit.XavierUniform(gain=1),
    ),
    case(
        "xavier_normal_(b, gain=1) on 3x4",
        "Xavier正态分布",
        empty(3, 4),
        with_torch=lambda b: nn.init.xavier_normal_(b, gain=1),
        with_torchinit=torchinit.XavierNormal(gain=1),
    ),
    case(
        "kaiming_normal_(w, a=0, mode='fan_in') on 3x5",
        "kaiming均匀分布",
        empty(3, 5),
        with_torch=lambda w: nn.init.kaiming_normal_(w, a=0, mode="fan_in"),
        with_torchinit=torchinit.KaimingNormal(a=0, mode="fan_in"),
    ),
    case(
        "constant_(w, 1.2) on 3x5",
        "常数初始化",
        empty(3, 5),
        with_torch=lambda w: nn.init.constant_(w, 1.2),
        with_torchinit=torchinit.Constant(1.2),
        random=False,
        expect=all_equal_to(1.2),
    ),
    case(
        "eye_(w) on 3x5",
        "单位矩阵初始化",
        empty(3, 5),
        with_torch=nn.init.eye_,
        with_torchinit=torchinit.Eye(),
        random=False,
        expect=is_eye,
    ),
    case(
        "orthogonal_(w) on 3x5",
        "正交初始化",
        empty(3, 5),
        with_torch=nn.init.orthogonal_,
        with_torchinit=torchinit.Orthogonal(),
        expect=is_orthogonal,
    ),
    case(
        "sparse_(w, sparsity=0.1) on 3x5",
        "稀疏初始化",
        empty(3, 5),
        with_torch=lambda w: nn.init.sparse_(w, sparsity=0.1),
        with_torchinit=torchinit.Sparse(sparsity=0.1),
        expect=zeros_per_column(0.1),
    ),
]

# calculate_gain: seed 001 prints calculate_gain('leaky_relu') = 1.4141428569978354 (slope 0.01);
# seed 004 §3.3 asks for 'relu' (sqrt 2) and 'tanh' (5/3). Both return Python floats; the case
# packs them into a float64 tensor, which holds them exactly.
GAINS = ("relu", "tanh", "leaky_relu")

CALCULATE_GAIN = Case(
    "calculate_gain('relu'), ('tanh'), ('leaky_relu') = 1.4141428569978354",
    "§3.3; seed 001 计算增益calculate_gain",
    torch_fn=lambda seed: torch.tensor(
        [nn.init.calculate_gain(name) for name in GAINS], dtype=torch.float64
    ),
    torchinit_fn=lambda seed: torch.tensor(
        [torchinit.calculate_gain(name) for name in GAINS], dtype=torch.float64
    ),
    build=None,
    random=False,
    expect=lambda gains: gains.tolist() == [math.sqrt(2.0), 5.0 / 3.0, 1.4141428569978354],
)


# =========================================================================== seed 002
# 002_a358db89841fff76.txt: numpy snippets (out of scope), the signatures of xavier_uniform,
# xavier_normal, kaiming_uniform and kaiming_normal (deprecated names; the same calls are in
# the seed 001 cases above), and weights_init(module_list):


def weights_init_002(module_list: nn.ModuleList) -> None:
    """Seed 002's ``weights_init``, its evident intent.

    As written it takes ``model_list`` but loops over ``module_list``; it also sets BatchNorm's
    ``eps``/``momentum`` and ``inplace`` of an ``nn.LeakReLU`` (a typo of ``nn.LeakyReLU``):
    settings, not initialization, left out here.
    """
    for m in module_list:
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight)
            if m.bias is not None:
                m.bias.data.fill_(0)


# a missing bias (bias=False) is simply skipped by a Rule: the report lists it as skipped
KAIMING_CONV = Policy(
    [Rule(nn.Conv2d, weight=torchinit.KaimingNormal(), bias=torchinit.Zeros())], name="weights_init"
)


def module_list(seed: int) -> nn.ModuleList:
    torch.manual_seed(seed)
    return nn.ModuleList(
        [
            nn.Conv2d(3, 16, 3),
            nn.BatchNorm2d(16),
            nn.LeakyReLU(),
            nn.Conv2d(16, 32, 3, bias=False),
            nn.BatchNorm2d(32),
            nn.LeakyReLU(),
        ]
    )


SEED_002 = [
    case(
        "weights_init(module_list): Conv2d kaiming_normal_ + bias.fill_(0)",
        "pytorch",
        module_list,
        with_torch=weights_init_002,
        with_torchinit=init_with(KAIMING_CONV),
    ),
]


# =========================================================================== seed 003
# 003_caa8f841b801a69a.txt lost its code blocks; its prose describes torch's default init
# (Linear/Conv2d: kaiming_uniform_ with a=sqrt(5)) and the init loops of torchvision's ResNet
# and VGG, which torchinit ships as the presets "resnet" and "vgg".


def default_init_loop(model: nn.Module) -> None:
    """Re-run the layers' own default init (``reset_parameters``)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.reset_parameters()


TORCH_DEFAULT = Policy(
    [Rule((nn.Conv2d, nn.Linear), weight="torch_default", bias="torch_default")],
    name="torch_default",
)


def resnet_loop(model: nn.Module) -> None:
    """torchvision ``ResNet.__init__``'s loop, as seed 003 describes it."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


def vgg_loop(model: nn.Module) -> None:
    """torchvision ``VGG.__init__``'s loop, as seed 003 describes it."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


SEED_003 = [
    case(
        "Linear default: kaiming_uniform_(weight, a=math.sqrt(5))",
        "四 Linear的初始化",
        linear_6x4,
        with_torch=lambda linear: nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5)),
        with_torchinit=lambda linear: torchinit.KaimingUniform(a=math.sqrt(5))(linear.weight),
    ),
    case(
        "m.reset_parameters() for Conv2d and Linear",
        "四 pytorch参数初始化方法",
        small_cnn,
        with_torch=default_init_loop,
        with_torchinit=init_with(TORCH_DEFAULT),
    ),
    case(
        "ResNet init loop",
        "四 ResNet初始化",
        small_cnn_used_norms,
        with_torch=resnet_loop,
        with_torchinit=lambda model: torchinit.init_model(model, "resnet"),
    ),
    case(
        "VGG init loop",
        "四 VGG",
        small_cnn_used_norms,
        with_torch=vgg_loop,
        with_torchinit=lambda model: torchinit.init_model(model, "vgg"),
    ),
]


# =========================================================================== seed 004
# 004_22d35819be4b9e0d.txt: §4.1 one layer by hand, §4.2 model.apply(init_weights),
# §4.3 a model that initializes itself in __init__. (§3.3's calculate_gain is CALCULATE_GAIN.)


def layer_64x32(seed: int) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(64, 32)


def layer_with_torch(layer: nn.Linear) -> None:
    nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))
    nn.init.constant_(layer.bias, 0.0)


def layer_with_torchinit(layer: nn.Linear) -> None:
    torchinit.XavierUniform(gain=torchinit.calculate_gain("tanh"))(layer.weight)
    torchinit.Constant(0.0)(layer.bias)


def init_weights(m: nn.Module) -> None:
    """Seed 004 §4.2, as written."""
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# model.apply order; a layer built with bias=False has no bias to set and is skipped, which
# is what the "if m.bias is not None" lines do. The BatchNorm2d rule matches nothing in this
# model: optional=True says that is expected (else it is a warning); the report lists it under
# "matched nothing".
INIT_WEIGHTS = Policy(
    [
        Rule(nn.Linear, weight=torchinit.XavierUniform(), bias=torchinit.Zeros()),
        Rule(
            nn.Conv2d,
            weight=torchinit.KaimingNormal(mode="fan_out", nonlinearity="relu"),
            bias=torchinit.Zeros(),
        ),
        Rule(nn.BatchNorm2d, weight=torchinit.Ones(), bias=torchinit.Zeros(), optional=True),
    ],
    name="init_weights",
    order="apply",
)


def seed_004_model(seed: int) -> nn.Sequential:
    """Seed 004 §4.2's model, as written."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Linear(16 * 10 * 10, 10))


class CustomNet(nn.Module):
    """Seed 004 §4.3, as written: the model initializes itself at the end of ``__init__``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.fc1 = nn.Linear(32 * 26 * 26, 10)

        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)


CUSTOM_NET = Policy(
    [
        Rule(nn.Conv2d, weight=torchinit.KaimingNormal(nonlinearity="relu")),
        Rule(nn.Linear, weight=torchinit.XavierNormal()),
    ],
    name="CustomNet",
)


class TorchinitCustomNet(CustomNet):
    """The same network, its ``_init_weights`` written with torchinit."""

    def _init_weights(self) -> None:
        torchinit.init_model(self, CUSTOM_NET)


class UninitializedCustomNet(CustomNet):
    """The same layers with only PyTorch's defaults (the tests' starting point)."""

    def _init_weights(self) -> None:
        pass


def seeded(seed: int, cls: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(seed)
    return cls()


SEED_004 = [
    CALCULATE_GAIN,
    case(
        "xavier_uniform_(layer.weight, gain=calculate_gain('tanh')); constant_(bias, 0.0)",
        "§4.1",
        layer_64x32,
        with_torch=layer_with_torch,
        with_torchinit=layer_with_torchinit,
        expect=lambda layer: all_equal_to(0.0)(layer.bias),
    ),
    case(
        "model.apply(init_weights)",
        "§4.2",
        seed_004_model,
        with_torch=lambda model: model.apply(init_weights),
        with_torchinit=init_with(INIT_WEIGHTS),
    ),
    Case(
        "CustomNet._init_weights",
        "§4.3",
        torch_fn=lambda seed: seeded(seed, CustomNet),
        torchinit_fn=lambda seed: seeded(seed, TorchinitCustomNet),
        build=lambda seed: seeded(seed, UninitializedCustomNet),
    ),
]


# --------------------------------------------------------------------------- all of them

SECTIONS: dict[str, list[Case]] = {
    "000_52d4d96cb155f834.txt": SEED_000,
    "001_bf35c3fa67ee913d.txt": [*SEED_001_MODELS, *SEED_001_TENSORS],
    "002_a358db89841fff76.txt": SEED_002,
    "003_caa8f841b801a69a.txt": SEED_003,
    "004_22d35819be4b9e0d.txt": SEED_004,
}

CASES: list[Case] = [case for cases in SECTIONS.values() for case in cases]


def tensors(result: Any) -> dict[str, torch.Tensor]:
    """The tensors to compare: a module's whole ``state_dict``, or the tensor itself."""
    if isinstance(result, nn.Module):
        return dict(result.state_dict())
    if isinstance(result, torch.Tensor):
        return {"tensor": result}
    raise TypeError(f"a case must return a module or a tensor, not {type(result).__name__}")


def identical(expected: Any, got: Any) -> bool:
    """Whether two results hold the same tensors with the same values, dtypes and shapes."""
    left, right = tensors(expected), tensors(got)
    return left.keys() == right.keys() and all(
        left[key].dtype == right[key].dtype and torch.equal(left[key], right[key]) for key in left
    )


def main(seed: int = 0) -> int:
    failures = 0
    for seed_file, cases in SECTIONS.items():
        print(f"\n{seed_file}")
        for each in cases:
            same = identical(each.torch_fn(seed), each.torchinit_fn(seed))
            holds = each.expect is None or each.expect(each.torchinit_fn(seed))
            if same and holds:
                verdict = "identical"
            elif same:
                verdict = "identical, but not what the seed says"
            else:
                verdict = "DIFFERENT"
            failures += not (same and holds)
            print(f"  [{each.source}] {each.name}: {verdict}")
    print()
    if failures:
        print(f"{failures} of {len(CASES)} cases failed")
        return 1
    print(f"all {len(CASES)} cases identical to plain torch.nn.init (seed {seed})")
    return 0


# no sys.exit(0) on success: the docs build runs this file in its own process
if __name__ == "__main__" and main() != 0:
    sys.exit(1)

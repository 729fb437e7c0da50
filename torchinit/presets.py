"""Presets: named policy factories, each reproducing a library's own initialization.

A preset is a function of keyword-only options that returns a :class:`~torchinit.Policy`;
``init_model(model, "resnet", zero_init_residual=True)`` calls it with the options. Presets
never import the library they reproduce: they match its layers by ``torch.nn`` types, and
use its own classes only when that library is already imported (a model of it exists).

=========  ===========================================  ==================================
preset     reproduces                                   checked
=========  ===========================================  ==================================
resnet     ``torchvision.models.ResNet.__init__``       bit-exact, resnet18/34/50/101,
                                                        resnext50_32x4d, wide_resnet50_2
vgg        ``torchvision.models.VGG.__init__``          bit-exact, vgg11/13/16/19 (+ _bn)
=========  ===========================================  ==================================
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from torchinit import _validate
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, UnknownNameError
from torchinit.policy import Policy, Rule
from torchinit.registry import Registry
from torchinit.strategies import KaimingNormal, Normal, Ones, Zeros

__all__ = ["PRESETS", "available_presets", "get_preset", "register_preset"]

PresetFactory = Callable[..., Policy]
PRESETS: Registry[PresetFactory] = Registry("preset")

_OPTION_CHECKS: dict[Any, Callable[[Any, str], Any]] = {
    bool: _validate.boolean,
    int: _validate.integer,
    float: _validate.number,
    str: _validate.string,
}


def register_preset(
    name: str, *, overwrite: bool = False
) -> Callable[[PresetFactory], PresetFactory]:
    """Register a preset: a function of keyword-only options returning a Policy.

    Options annotated ``bool``, ``int``, ``float`` or ``str`` are type-checked before the
    function is called; unknown options are refused with the list of known ones.

    Args:
        name: the preset's name; registering a taken name needs ``overwrite=True``.
        overwrite: replace an existing preset.

    Example:
        >>> from torch import nn
        >>> from torchinit import Policy, Rule, Normal
        >>> @register_preset("tiny_normal", overwrite=True)
        ... def tiny_normal(*, std: float = 0.02) -> Policy:
        ...     rule = Rule(nn.Linear, weight=Normal(0.0, std), bias="zeros")
        ...     return Policy([rule], name="tiny_normal")
        >>> get_preset("tiny_normal", std=0.01).rules[0].strategies[0][1]
        Normal(mean=0.0, std=0.01)
    """

    def register(factory: PresetFactory) -> PresetFactory:
        if not callable(factory):
            raise ArgumentTypeError("must be callable", path=f"preset {name!r}", got=factory)
        for option in inspect.signature(factory).parameters.values():
            if option.kind is not inspect.Parameter.KEYWORD_ONLY:
                raise ArgumentTypeError(
                    "preset options must be keyword-only (def preset(*, option=...))",
                    path=f"{name}.{option.name}",
                )
        PRESETS.add(name, factory, overwrite=overwrite)
        return factory

    return register


def available_presets() -> list[str]:
    """The names of the registered presets, sorted."""
    return sorted(PRESETS)


def get_preset(name: str, /, **options: Any) -> Policy:
    """Build the policy of preset ``name`` with ``options``.

    Example:
        >>> get_preset("resnet").name
        'resnet'
    """
    factory = PRESETS.lookup(name, "preset")
    signature = inspect.signature(factory)
    accepted = list(signature.parameters)
    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # annotations that cannot be evaluated are simply not checked
        hints = {}
    for key, value in options.items():
        if key not in signature.parameters:
            hint = _validate.closest_hint(key, accepted)
            raise UnknownNameError(
                f"unknown option;{hint} preset {name!r} takes {accepted}",
                path=f"{name}.{key}",
                got=value,
            )
        check = _OPTION_CHECKS.get(hints.get(key))
        if check is not None:
            check(value, f"{name}.{key}")
    policy = factory(**options)
    if not isinstance(policy, Policy):
        raise ArgumentTypeError("preset must return a Policy", path=name, got=type(policy).__name__)
    return policy


#: The normalization layers whose weight "zero-init residual" options may zero.
NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.RMSNorm,
)


def _torchvision_class(module: str, name: str) -> type[nn.Module] | None:
    # Only when the user already imported torchvision: presets never import it themselves.
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return cls if isinstance(cls, type) and issubclass(cls, nn.Module) else None


@register_preset("resnet")
def resnet(*, zero_init_residual: bool = False, residual_norms: Sequence[str] = ()) -> Policy:
    """torchvision's ResNet init (``torchvision/models/resnet.py``), bit for bit.

    He et al., "Deep Residual Learning for Image Recognition" (2016); zero-init of the last
    norm of each residual branch: Goyal et al., "Accurate, Large Minibatch SGD" (2017).

    * ``Conv2d``: weight ``kaiming_normal(mode='fan_out', nonlinearity='relu')``; bias untouched;
    * ``BatchNorm2d`` and ``GroupNorm``: weight 1, bias 0;
    * ``Linear`` and everything else: left as built (PyTorch's defaults).

    Args:
        zero_init_residual: zero the weight of the last norm layer of each residual branch,
            so that each block starts as the identity. For torchvision models: ``bn3`` of
            every ``Bottleneck`` and ``bn2`` of every ``BasicBlock``.
        residual_norms: for your own ResNet-like models, globs naming those last norm layers
            (e.g. ``["layer*.*.bn3"]``), zeroed when ``zero_init_residual`` is true. Only
            normalization layers (:data:`NORM_LAYERS`) match. Required with
            ``zero_init_residual`` unless torchvision is imported.

    Example:
        >>> get_preset("resnet", zero_init_residual=True, residual_norms=["**.bn2"]).name
        'resnet'
    """
    if isinstance(residual_norms, str) or not all(isinstance(g, str) for g in residual_norms):
        raise ArgumentTypeError(
            "must be a list of globs naming norm layers",
            path="resnet.residual_norms",
            got=residual_norms,
        )
    blocks = [
        (cls, norm)
        for block, norm in (("Bottleneck", "bn3"), ("BasicBlock", "bn2"))
        if (cls := _torchvision_class("torchvision.models.resnet", block)) is not None
    ]
    if zero_init_residual and not residual_norms and not blocks:
        raise InvalidArgumentError(
            "needs residual_norms=[...] (globs naming the last norm layer of each residual "
            "branch) for a model that is not torchvision's",
            path="resnet.zero_init_residual",
            got=True,
        )
    rules = [
        Rule(nn.Conv2d, weight=KaimingNormal(mode="fan_out", nonlinearity="relu"), label="conv"),
        Rule((nn.BatchNorm2d, nn.GroupNorm), weight=Ones(), bias=Zeros(), label="norm"),
    ]
    if zero_init_residual:
        rules.extend(
            Rule(cls, params={f"{norm}.weight": Zeros()}, label=f"zero-init {cls.__name__}.{norm}")
            for cls, norm in blocks
        )
        rules.extend(
            Rule(NORM_LAYERS, name=glob, weight=Zeros(), label="zero-init residual")
            for glob in residual_norms
        )
    return Policy(rules, name="resnet")


@register_preset("vgg")
def vgg() -> Policy:
    """torchvision's VGG init (``torchvision/models/vgg.py``, ``init_weights=True``), bit for bit.

    Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition"
    (2015).

    * ``Conv2d``: weight ``kaiming_normal(mode='fan_out', nonlinearity='relu')``, bias 0;
    * ``BatchNorm2d``: weight 1, bias 0;
    * ``Linear``: weight ``normal(0, 0.01)``, bias 0.

    Example:
        >>> [rule.describe() for rule in get_preset("vgg").rules]
        ['conv', 'norm', 'linear']
    """
    return Policy(
        [
            Rule(
                nn.Conv2d,
                weight=KaimingNormal(mode="fan_out", nonlinearity="relu"),
                bias=Zeros(),
                label="conv",
            ),
            Rule(nn.BatchNorm2d, weight=Ones(), bias=Zeros(), label="norm"),
            Rule(nn.Linear, weight=Normal(0.0, 0.01), bias=Zeros(), label="linear"),
        ],
        name="vgg",
    )

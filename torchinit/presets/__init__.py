"""Presets: named policy factories, each reproducing a library's own initialization.

A preset is a function of keyword-only options that returns a :class:`~torchinit.Policy`;
``init_model(model, "resnet", zero_init_residual=True)`` calls it with the options. Presets
never import the library they reproduce: they match its layers by ``torch.nn`` types, and
use its own classes only when that library is already imported (a model of it exists).

This package holds the registry; the presets live in one module per family:

* :mod:`torchinit.presets.torchvision`: torchvision's CNN families, bit-exact with their
  init loops, and ``torch_default``;
* :mod:`torchinit.presets.vit`: torchvision's ViT, Swin, MaxViT and timm's ViT modes;
* :mod:`torchinit.presets.transformers`: GPT-2, BERT, nanoGPT, LLaMA-style;
* :mod:`torchinit.presets.classic`: Fixup, zero-init residual, muP, LeCun, orthogonal RNN.
"""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any

from torch import nn

from torchinit import _validate
from torchinit.errors import ArgumentTypeError, UnknownNameError, did_you_mean
from torchinit.policy import Policy
from torchinit.registry import Registry

__all__ = ["PRESETS", "available_presets", "get_preset", "loaded_class", "register_preset"]

PresetFactory = Callable[..., Policy]
#: The registered presets, mapping each name to the policy factory ``init_model`` calls.
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
        >>> PRESETS.remove("tiny_normal")
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
    """Build the policy of preset ``name`` with ``options``; its rules are all ``optional``.

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
            raise UnknownNameError(
                did_you_mean("unknown option", key, accepted, f"preset {name!r} takes {accepted}"),
                path=f"{name}.{key}",
                got=value,
            )
        check = _OPTION_CHECKS.get(hints.get(key))
        if check is not None:
            check(value, f"{name}.{key}")
    policy = factory(**options)
    if not isinstance(policy, Policy):
        raise ArgumentTypeError("preset must return a Policy", path=name, got=type(policy).__name__)
    # a preset covers layers a given model may lack (GroupNorm in a ResNet): none of its rules
    # is worth a warning for matching nothing; rules a user adds to it are not optional
    rules = [rule.as_optional() for rule in policy.rules]
    return Policy(rules, name=policy.name, order=policy.order)


def loaded_class(module: str, name: str) -> type[nn.Module] | None:
    """The layer class ``module.name`` if that module is already imported, else ``None``.

    Presets use it to match a library's own classes (torchvision's ``Bottleneck``) without
    ever importing the library: if the module is not loaded, no model of it exists.

    Example:
        >>> loaded_class("torch.nn", "Linear")
        <class 'torch.nn.modules.linear.Linear'>
        >>> loaded_class("no_such_library.layers", "Block") is None
        True
    """
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return cls if isinstance(cls, type) and issubclass(cls, nn.Module) else None


# the families register their presets on import
from torchinit.presets import classic as classic  # noqa: E402
from torchinit.presets import torchvision as torchvision  # noqa: E402
from torchinit.presets import transformers as transformers  # noqa: E402
from torchinit.presets import vit as vit  # noqa: E402

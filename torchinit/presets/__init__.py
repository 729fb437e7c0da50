"""Presets: named policy factories, each reproducing a library's own initialization.

A preset is a function of keyword-only options that returns a :class:`~torchinit.Policy`;
``init_model(model, "resnet", zero_init_residual=True)`` calls it with the options. Presets
never import the library they reproduce: they match its layers by ``torch.nn`` types, and
use its own classes only when that library is already imported (a model of it exists).

An option whose default is :class:`FromModel` is read from the model when it is not given
(``gpt2``'s ``n_layer`` from ``model.config.n_layer``): an explicit option always wins, and
an option that can be read neither way is an error, never a silent guess. The policy records
every option's value and where it came from (``Policy.options``, ``InitReport.options``).

This package holds the registry; the presets live in one module per family:

* :mod:`torchinit.presets.torchvision`: torchvision's CNN families, bit-exact with their
  init loops, and ``torch_default``;
* :mod:`torchinit.presets.vit`: torchvision's ViT, Swin, MaxViT and timm's ViT modes;
* :mod:`torchinit.presets.transformers`: GPT-2, BERT, nanoGPT, LLaMA-style;
* :mod:`torchinit.presets.classic`: Fixup, zero-init residual, muP, LeCun, orthogonal RNN;
* :mod:`torchinit.presets.llm`: Megatron-LM, GPT-NeoX, OLMo-core, DeepNet, T-Fixup.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from torchinit import _validate
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    UnknownNameError,
    did_you_mean,
)
from torchinit.policy import Policy
from torchinit.registry import Registry

__all__ = [
    "PRESETS",
    "FromModel",
    "available_presets",
    "get_preset",
    "loaded_class",
    "register_preset",
]

PresetFactory = Callable[..., Policy]
#: The registered presets, mapping each name to the policy factory ``init_model`` calls.
PRESETS: Registry[PresetFactory] = Registry("preset")

_OPTION_CHECKS: dict[Any, Callable[[Any, str], Any]] = {
    bool: _validate.boolean,
    int: _validate.integer,
    float: _validate.number,
    str: _validate.string,
}


#: How a :class:`FromModel` reads a value its attribute paths do not give: called with the
#: model and the preset's other options, it returns ``(value, source)``, or why it found none.
ModelReader = Callable[[nn.Module, Mapping[str, Any]], tuple[Any, str] | str]

_NO_DEFAULT: Any = inspect.Parameter.empty


@dataclasses.dataclass(frozen=True, init=False, repr=False)
class FromModel:
    """A preset option's default: the value is read from the model when the option is not given.

    ``paths`` are attribute paths on the model, tried in order (``"config.n_layer"`` reads
    ``model.config.n_layer``; an attribute that is ``None`` counts as absent); ``read``, if
    given, is tried after them and may compute the value (count layers, say). When nothing
    gives a value the option's ``default`` is used; without one the option is required, and
    ``init_model`` refuses the model with a message naming what it looked for. Used as the
    default in the preset's signature; ``torchinit list`` and ``help()`` show what is read.

    Args:
        *paths: dotted attribute paths on the model, tried in order.
        default: the value when the model gives none (a real default, not a guess of the
            model's shape); omitted: the option must then be given.
        read: a function ``(model, other_options) -> (value, source)``, or a string saying
            why it found no value, tried after ``paths``.
        reads: what ``read`` reads, for messages and ``torchinit list`` (``"a count of the
            layers matching last_layers"``); default: the function's name.

    Example:
        >>> import torch
        >>> from torchinit import Policy, Rule, Normal
        >>> @register_preset("tiny_deep", overwrite=True)
        ... def tiny_deep(*, depth: int = FromModel("config.depth", "depth")) -> Policy:
        ...     rule = Rule(torch.nn.Linear, weight=Normal(0.0, 0.02 / depth), bias="zeros")
        ...     return Policy([rule], name="tiny_deep")
        >>> model = torch.nn.Linear(2, 2)
        >>> model.depth = 4
        >>> get_preset("tiny_deep", model=model).options["depth"]
        (4, 'model.depth')
        >>> get_preset("tiny_deep", model=model, depth=2).options["depth"]
        (2, 'given')
        >>> PRESETS.remove("tiny_deep")
    """

    paths: tuple[str, ...]
    default: Any
    read: ModelReader | None
    reads: str

    def __init__(
        self,
        *paths: str,
        default: Any = _NO_DEFAULT,
        read: ModelReader | None = None,
        reads: str | None = None,
    ) -> None:
        for index, path in enumerate(paths):
            if not isinstance(path, str) or not all(p.isidentifier() for p in path.split(".")):
                raise ArgumentTypeError(
                    "must be a dotted attribute path", path=f"FromModel.paths[{index}]", got=path
                )
        if read is not None and not callable(read):
            raise ArgumentTypeError("must be callable", path="FromModel.read", got=read)
        if not paths and read is None:
            raise InvalidArgumentError("needs an attribute path or read=", path="FromModel")
        described = [f"model.{path}" for path in paths]
        if read is not None:
            described.append(reads or f"{getattr(read, '__name__', 'read')}()")
        object.__setattr__(self, "paths", paths)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "read", read)
        object.__setattr__(self, "reads", " or ".join(described))

    def __repr__(self) -> str:
        # shown as the option's default by inspect.signature: torchinit list, help(), the docs
        default = "" if self.default is _NO_DEFAULT else f", else {self.default!r}"
        return f"<from {self.reads}{default}>"

    def lookup(self, model: nn.Module, options: Mapping[str, Any]) -> tuple[Any, str] | str:
        """The value ``model`` gives and where it was read (``"model.config.n_layer"``), or
        why it gives none."""
        for path in self.paths:
            value: Any = model
            for part in path.split("."):
                value = getattr(value, part, None)
                if value is None:
                    break
            else:
                return value, f"model.{path}"
        if self.read is not None:
            return self.read(model, options)
        parents = {path.rpartition(".")[0] for path in self.paths}
        if len(parents) == 1:
            (parent,) = parents
            leaves = " or ".join(path.rpartition(".")[2] for path in self.paths)
            return f"{'model.' + parent if parent else 'the model'} has no {leaves}"
        return f"the model has no {self.reads}"


def register_preset(
    name: str, *, overwrite: bool = False
) -> Callable[[PresetFactory], PresetFactory]:
    """Register a preset: a function of keyword-only options returning a Policy.

    Options annotated ``bool``, ``int``, ``float`` or ``str`` are type-checked before the
    function is called; unknown options are refused with the list of known ones. An option
    whose default is :class:`FromModel` is read from the model when not given.

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
            if option.name == "model":
                # init_model(model, preset, **options) and get_preset(..., model=) take it
                raise ArgumentTypeError(
                    "a preset option cannot be named 'model'", path=f"{name}.{option.name}"
                )
        PRESETS.add(name, factory, overwrite=overwrite)
        return factory

    return register


def available_presets() -> list[str]:
    """The names of the registered presets, sorted."""
    return sorted(PRESETS)


def get_preset(name: str, /, *, model: nn.Module | None = None, **options: Any) -> Policy:
    """Build the policy of preset ``name`` with ``options`` (for ``model`` if given); its rules
    are all ``optional``.

    Options not given take their default; a :class:`FromModel` default is read from
    ``model`` (``gpt2``'s ``n_layer`` from ``model.config.n_layer``), and without a model (or
    when the model has no such attribute) falls back to its own default, if it has one, or
    is refused: pass the option. The policy's ``options`` record each option's value and
    source: ``"given"``, ``"default"`` or the attribute path read.

    Example:
        >>> get_preset("resnet").name
        'resnet'
        >>> get_preset("gpt2", n_layer=2).options["initializer_range"]
        (0.02, 'default')
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

    def check(key: str, value: Any) -> None:
        checker = _OPTION_CHECKS.get(hints.get(key))
        if checker is not None:
            checker(value, f"{name}.{key}")

    resolved: dict[str, tuple[Any, str]] = {}
    for key, value in options.items():
        check(key, value)  # what the user typed, before anything is read from the model
        resolved[key] = (value, "given")
    # plain defaults first: a FromModel reader may depend on them (fixup counts last_layers)
    from_model = []
    for key, parameter in signature.parameters.items():
        if key in resolved:
            continue
        if isinstance(parameter.default, FromModel):
            from_model.append(key)
        elif parameter.default is not inspect.Parameter.empty:
            resolved[key] = (parameter.default, "default")
    for key in from_model:
        value, source = _read_option(name, key, signature.parameters[key].default, model, resolved)
        if source != "default":
            check(key, value)  # read from the model: checked as if given
        resolved[key] = (value, source)
    ordered = {key: resolved[key] for key in signature.parameters if key in resolved}
    policy = factory(**{key: value for key, (value, _) in ordered.items()})
    if not isinstance(policy, Policy):
        raise ArgumentTypeError("preset must return a Policy", path=name, got=type(policy).__name__)
    # a preset covers layers a given model may lack (GroupNorm in a ResNet): none of its rules
    # is worth a warning for matching nothing; rules a user adds to it are not optional
    rules = [rule.as_optional() for rule in policy.rules]
    return Policy(rules, name=policy.name, order=policy.order, options=ordered)


def _read_option(
    preset: str,
    key: str,
    marker: FromModel,
    model: nn.Module | None,
    options: Mapping[str, tuple[Any, str]],
) -> tuple[Any, str]:
    """Option ``key`` of ``preset``, not given: read from ``model``, else its default."""
    if model is not None:
        found = marker.lookup(model, {k: value for k, (value, _) in options.items()})
        if not isinstance(found, str):
            return found
        why = found
    else:
        why = f"there is no model to read it from ({marker.reads})"
    if marker.default is not _NO_DEFAULT:
        return marker.default, "default"
    got = {"got": type(model).__name__} if model is not None else {}
    raise InvalidArgumentError(
        f"not given and {why}; pass {key}=...", path=f"{preset}.{key}", **got
    )


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
from torchinit.presets import llm as llm  # noqa: E402
from torchinit.presets import timm as timm  # noqa: E402
from torchinit.presets import torchvision as torchvision  # noqa: E402
from torchinit.presets import transformers as transformers  # noqa: E402
from torchinit.presets import vit as vit  # noqa: E402

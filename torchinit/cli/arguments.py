"""The command's arguments: ``--option KEY=VALUE``, ``--model-kwargs`` and MODEL specs."""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from torchinit.config import parse_scalar
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    UnknownNameError,
    did_you_mean,
)

__all__ = [
    "call_arguments",
    "load_model",
    "model_kwargs",
    "parse_option",
    "preset_options",
    "resolve_model",
]

# --------------------------------------------------------------------------- arguments


def parse_option(text: str) -> tuple[str, Any]:
    """Parse a ``--option key=value`` argument into ``(key, value)``.

    The value is read as a YAML scalar, as in policy files (``true``, ``3``, ``1e-6``, ``null``;
    anything else is a string), or as JSON when it starts with ``[`` or ``{`` and is valid JSON
    (a list or an object).

    Example:
        >>> parse_option("zero_init_residual=true")
        ('zero_init_residual', True)
        >>> parse_option('residual_norms=["layer*.*.bn2"]')
        ('residual_norms', ['layer*.*.bn2'])
    """
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key:
        raise argparse.ArgumentTypeError(
            f"expected key=value, e.g. zero_init_residual=true: {text!r}"
        )
    if raw.lstrip().startswith(("[", "{")):
        try:
            return key, json.loads(raw)
        except json.JSONDecodeError:
            pass  # not JSON after all: a plain value, like any other
    return key, parse_scalar(raw)


def preset_options(pairs: Sequence[tuple[str, Any]] | None) -> dict[str, Any]:
    """The ``--option`` pairs as a dict; a key given twice is an error, not "last wins"."""
    options: dict[str, Any] = {}
    for key, value in pairs or ():
        if key in options:
            raise InvalidArgumentError("is given twice", path=f"--option {key}", got=value)
        options[key] = value
    return options


def model_kwargs(text: str | None) -> dict[str, Any]:
    """The ``--model-kwargs`` JSON object (``{}`` when not given)."""
    if text is None:
        return {}
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgumentError(
            f"is not valid JSON: {error}", path="--model-kwargs", got=text
        ) from None
    if not isinstance(kwargs, dict):
        raise ArgumentTypeError(
            "must be a JSON object, e.g. '{\"num_classes\": 10}'", path="--model-kwargs", got=kwargs
        )
    return kwargs


# --------------------------------------------------------------------------- the model


def load_model(spec: str, kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """Build the model that ``spec`` (``package.module:callable``) names.

    The module is imported, the callable looked up (it may be dotted: ``module:Class.create``)
    and called with ``kwargs``.

    Raises:
        TorchInitError: with a clear message when the spec has no ``:``, the module cannot be
            imported, the attribute is missing or not callable, the call fails, or its result
            is not a ``torch.nn.Module``.
    """
    return resolve_model(spec)(**(kwargs or {}))


def resolve_model(spec: str) -> Callable[..., nn.Module]:
    """The function that builds the model ``spec`` names: imported and checked, not yet called."""
    module_name, separator, attribute = spec.partition(":")
    if not separator or not module_name or not attribute:
        raise InvalidArgumentError(
            "must be package.module:callable, e.g. torchvision.models:resnet50",
            path="MODEL",
            got=spec,
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a model file may raise anything while it is imported
        raise InvalidArgumentError(
            f"cannot import module {module_name!r}: {type(error).__name__}: {error}",
            path="MODEL",
            got=spec,
        ) from None
    target: Any = module
    for depth, part in enumerate(attribute.split(".")):
        if not hasattr(target, part):
            owner = ".".join([module_name, *attribute.split(".")[:depth]])
            public = [name for name in dir(target) if not name.startswith("_")]
            raise UnknownNameError(
                did_you_mean(f"{owner!r} has no attribute {part!r}", part, public),
                path="MODEL",
                got=spec,
            )
        target = getattr(target, part)
    if not callable(target):
        raise ArgumentTypeError(
            f"{module_name}.{attribute} is not callable (its type is {type(target).__name__})",
            path="MODEL",
            got=spec,
        )

    def build(**kwargs: Any) -> nn.Module:
        call = f"{module_name}.{attribute}({call_arguments(kwargs)})"
        try:
            model = target(**kwargs)
        except Exception as error:  # the user's constructor may raise anything
            raise InvalidArgumentError(
                f"{call} failed: {type(error).__name__}: {error}", path="MODEL", got=spec
            ) from None
        if not isinstance(model, nn.Module):
            raise ArgumentTypeError(
                f"{call} returned a value of type {type(model).__name__}, not a torch.nn.Module",
                path="MODEL",
                got=spec,
            )
        return model

    return build


def call_arguments(kwargs: Mapping[str, Any]) -> str:
    """``num_classes=10, ...``: keyword arguments as they would be written in a call."""
    return ", ".join(f"{key}={value!r}" for key, value in kwargs.items())

"""The command's arguments: ``--option KEY=VALUE``, ``--model-kwargs``, ``--config`` and MODEL
specs."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from torchinit.config import parse_scalar
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    TorchInitError,
    UnknownNameError,
    did_you_mean,
)

__all__ = [
    "call_arguments",
    "load_model",
    "model_config",
    "model_kwargs",
    "parse_option",
    "parse_shape",
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
    try:
        if raw.lstrip().startswith(("[", "{")):
            try:
                return key, json.loads(raw)
            except json.JSONDecodeError:
                pass  # not JSON after all: a plain value, like any other
        return key, parse_scalar(raw)
    except ValueError as error:  # an int past Python's digit limit, in JSON or a scalar
        problem = error.problem if isinstance(error, TorchInitError) else str(error)
        raise argparse.ArgumentTypeError(f"{key}: {problem}") from None


def parse_shape(text: str) -> tuple[int, ...]:
    """Parse ``--input-shape 8,3,224,224`` into ``(8, 3, 224, 224)``.

    Example:
        >>> parse_shape("8, 3,32,32")
        (8, 3, 32, 32)
    """
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(size <= 0 for size in shape):
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas, e.g. 8,3,224,224: {text!r}"
        )
    return shape


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
    return _json_object(text, "--model-kwargs", got=text)


def model_config(path: str | None) -> dict[str, Any] | None:
    """The ``--config`` file's JSON object (``None`` when not given)."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidArgumentError(
            f"cannot read the file: {error.strerror or error}", path="--config", got=path
        ) from None
    return _json_object(text, "--config", got=path)


def _json_object(text: str, option: str, *, got: str) -> dict[str, Any]:
    """The JSON object ``text`` given with ``option`` (``got``: what the user wrote)."""
    try:
        value = json.loads(text)
    except ValueError as error:  # a JSONDecodeError, or an int past Python's digit limit
        raise InvalidArgumentError(f"is not valid JSON: {error}", path=option, got=got) from None
    if not isinstance(value, dict):
        raise ArgumentTypeError(
            "must be a JSON object, e.g. '{\"num_classes\": 10}'", path=option, got=value
        )
    return value


# --------------------------------------------------------------------------- the model


def load_model(
    spec: str, kwargs: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None
) -> nn.Module:
    """Build the model ``spec`` names: ``package.module:callable`` or ``path/file.py:callable``.

    The module is imported (a file is imported as the module named by its stem, so its
    ``if __name__ == "__main__":`` block does not run), the callable looked up (it may be
    dotted: ``module:Class.create``) and called with ``kwargs``. With ``config`` (the
    ``--config`` JSON file), a class that has a ``config_class`` (a Hugging Face model) is
    called with ``config_class(**config)`` first; any other callable takes its keys as
    keyword arguments, beside ``kwargs``.

    Example:
        >>> load_model("torch.nn:Linear", {"out_features": 3}, {"in_features": 2})
        Linear(in_features=2, out_features=3, bias=True)

    Raises:
        TorchInitError: with a clear message when the spec has no ``:``, the module or file
            cannot be imported, the attribute is missing or not callable, the call fails, or
            its result is not a ``torch.nn.Module``.
    """
    return resolve_model(spec, config)(**(kwargs or {}))


def resolve_model(spec: str, config: Mapping[str, Any] | None = None) -> Callable[..., nn.Module]:
    """The function that builds the model ``spec`` names, from ``config`` (see
    :func:`load_model`) and its keyword arguments: imported and checked, not yet called."""
    # the last colon: a Windows path has one after its drive letter
    module_name, separator, attribute = spec.rpartition(":")
    if not separator or not module_name or not attribute:
        raise InvalidArgumentError(
            "must be package.module:callable or path/to/file.py:callable, e.g. "
            "torchvision.models:resnet50",
            path="MODEL",
            got=spec,
        )
    is_file = module_name.endswith(".py") or "/" in module_name or os.sep in module_name
    module = _import_file(module_name, spec) if is_file else _import_module(module_name, spec)
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
    name = f"{module.__name__}.{attribute}"
    if not callable(target):
        raise ArgumentTypeError(
            f"{name} is not callable (its type is {type(target).__name__})",
            path="MODEL",
            got=spec,
        )
    config_class = getattr(target, "config_class", None) if config is not None else None
    made_config = None if config_class is None else _make_config(config_class, config or {})

    def build(**kwargs: Any) -> nn.Module:
        if made_config is not None:
            args: tuple[Any, ...] = (made_config,)
            call = f"{name}({type(made_config).__name__}(...)"
            call += f", {call_arguments(kwargs)})" if kwargs else ")"
        else:
            args = ()
            kwargs = _merged(config or {}, kwargs)
            call = f"{name}({call_arguments(kwargs)})"
        try:
            model = target(*args, **kwargs)
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


def _import_module(module_name: str, spec: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except Exception as error:  # a model file may raise anything while it is imported
        raise InvalidArgumentError(
            f"cannot import module {module_name!r}: {type(error).__name__}: {error}",
            path="MODEL",
            got=spec,
        ) from None


def _import_file(file_name: str, spec: str) -> ModuleType:
    """Import a Python file as the module named by its stem, as ``import stem`` would from its
    folder: not as ``__main__``, so that the script's ``if __name__ == "__main__":`` block
    does not run."""
    path = Path(file_name).resolve()
    if not path.is_file():
        raise InvalidArgumentError(f"no such file {file_name!r}", path="MODEL", got=spec)
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        loaded_from = getattr(loaded, "__file__", None)
        if loaded_from is not None and Path(loaded_from).resolve() == path:
            return loaded
        raise InvalidArgumentError(
            f"cannot import {file_name!r} as module {name!r}: a module of that name is already "
            f"imported (from {loaded_from or 'built-in'}); rename the file",
            path="MODEL",
            got=spec,
        )
    installed = _installed_origin(name)
    if installed is not None and installed != path:
        # registered under that name, the file would replace the installed module for every
        # later import in this process
        raise InvalidArgumentError(
            f"cannot import {file_name!r} as module {name!r}: an installed module has that "
            f"name (at {installed}); rename the file",
            path="MODEL",
            got=spec,
        )
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise InvalidArgumentError(f"cannot import {file_name!r}", path="MODEL", got=spec)
    module = importlib.util.module_from_spec(module_spec)
    # its siblings import as they do when the script runs (`python path/file.py`)
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    # registered first: a dataclass or a pickled class looks its module up while it is defined
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:  # a model file may raise anything while it is imported
        del sys.modules[name]
        raise InvalidArgumentError(
            f"cannot import {file_name!r}: {type(error).__name__}: {error}",
            path="MODEL",
            got=spec,
        ) from None
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    return module


def _installed_origin(name: str) -> Path | None:
    """Where the top-level module ``name`` would be imported from, if anywhere (nothing is
    imported to find out)."""
    if "." in name or not name.isidentifier():
        return None
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    if found.has_location and found.origin:
        return Path(found.origin).resolve()
    return Path(found.origin or name)  # 'built-in', 'frozen', a namespace package


def _make_config(config_class: Callable[..., Any], config: Mapping[str, Any]) -> Any:
    """A model's config object (``GPT2Config(**config)``) from the ``--config`` JSON object."""
    try:
        return config_class(**config)
    except Exception as error:  # a config class may raise anything for a bad value
        name = getattr(config_class, "__name__", repr(config_class))
        raise InvalidArgumentError(
            f"{name}(**config) failed: {type(error).__name__}: {error}", path="--config"
        ) from None


def _merged(config: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``--config`` keys and the ``--model-kwargs``: a key in both is an error, not a
    silent override."""
    for key in kwargs:
        if key in config:
            raise InvalidArgumentError(
                "is also in --config; give it once", path=f"--model-kwargs {key}", got=kwargs[key]
            )
    return {**config, **kwargs}


def call_arguments(kwargs: Mapping[str, Any]) -> str:
    """``num_classes=10, ...``: keyword arguments as they would be written in a call."""
    return ", ".join(f"{key}={value!r}" for key, value in kwargs.items())

"""timm: a new classifier head, initialized by a policy while every other tensor stays as it is.

``model.reset_classifier(num_classes)`` replaces a timm model's head with layers drawn by
PyTorch's defaults (timm's own init runs only when the model is built). :func:`reset_head`
replaces it and initializes the new head, and nothing else, with a policy: the usual step
after loading a pretrained backbone for a new task.

timm itself is never imported here: the model's own ``reset_classifier()`` and
``get_classifier()`` (every timm model has both) say where the head is, so a ``head.fc`` under
a ``head.norm`` (ConvNeXt) or the two heads of a distilled DeiT are found by the model.
Building a timm model and initializing all of it with a preset needs nothing from this module:
see ``docs/guide/timm.md``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from torchinit import _validate
from torchinit.config import resolve_policy
from torchinit.engine import init_model
from torchinit.errors import ArgumentTypeError, InvalidArgumentError
from torchinit.policy import Policy
from torchinit.report import InitReport

__all__ = ["head_names", "reset_head"]


def head_names(model: nn.Module) -> list[str]:
    """The full names of a timm model's classifier layers, as ``get_classifier()`` gives them.

    Example:
        >>> import timm
        >>> head_names(timm.create_model("convnext_atto", pretrained=False))
        ['head.fc']
    """
    found = _timm_method(model, "get_classifier")()
    heads = found if isinstance(found, tuple) else (found,)
    names = [name for name, module in model.named_modules() if any(module is h for h in heads)]
    if len(names) != len(heads):
        raise InvalidArgumentError(
            "get_classifier() returned layers that are not submodules of the model",
            path="model",
            got=type(model).__name__,
        )
    return names


def reset_head(
    model: nn.Module,
    num_classes: int,
    policy: str | os.PathLike[str] | Policy | Mapping[str, Any],
    *,
    global_pool: str | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    scheme_version: int | None = None,
    strict: bool = False,
    **options: Any,
) -> InitReport:
    """Give a timm model a new classifier (``reset_classifier``) and initialize only it.

    The policy is resolved first, so a bad policy raises before the head is replaced. Then
    ``model.reset_classifier(num_classes[, global_pool])`` builds the new head and
    :func:`torchinit.init_model` initializes the tensors of the layers
    ``model.get_classifier()`` returns (``include=``), by the policy's rules for them: every
    other tensor of the model is left bit for bit as it was.

    Args:
        model: a timm model (anything with ``reset_classifier()`` and ``get_classifier()``).
        num_classes: the new number of classes (at least 1: 0 removes the head, leaving
            nothing to initialize).
        policy: what :func:`torchinit.init_model` takes: a preset name (``"timm_vit"`` with
            ``mode="jax"`` zeroes a ViT head), a YAML file, a ``Policy`` or a policy mapping.
        global_pool: passed to ``reset_classifier`` when given (the model's own default
            otherwise).
        seed: keyed seeding, as :func:`torchinit.init_model`: the head's values are a
            function of the seed and the tensors' names, whatever timm drew when it built them.
        generator: draw from this generator instead of torch's global one (not with ``seed``).
        scheme_version: with ``seed``, the keyed scheme (:func:`torchinit.init_model`).
        strict: a rule (unless ``optional``) that matches nothing is an error, not a warning.
        **options: options of the preset named by ``policy``.

    Returns:
        The :class:`~torchinit.InitReport`: the head's tensors initialized, every other
        tensor ``excluded`` (a rule matched it) or ``unmatched``, and left as it was.

    Example:
        >>> import timm, torchinit
        >>> from torchinit.integrations.timm import reset_head
        >>> model = timm.create_model("resnet18", pretrained=False)
        >>> head = {"rules": [{"match": {"type": "Linear"}, "weight": {"normal": {"std": 0.01}},
        ...                    "bias": "zeros"}]}
        >>> report = reset_head(model, 10, head, seed=0)
        >>> model.fc.out_features, report["fc.weight"].strategy
        (10, Normal(mean=0.0, std=0.01))
    """
    reset_classifier = _timm_method(model, "reset_classifier")
    _timm_method(model, "get_classifier")
    _validate.integer(num_classes, "num_classes", minimum=1)
    if global_pool is not None:
        _validate.string(global_pool, "global_pool")
    resolved = resolve_policy(policy, options, model=model)
    if global_pool is None:
        reset_classifier(num_classes)
    else:
        reset_classifier(num_classes, global_pool=global_pool)
    return init_model(
        model,
        resolved,
        include=[f"{name}.**" for name in head_names(model)],
        seed=seed,
        generator=generator,
        scheme_version=scheme_version,
        strict=strict,
    )


def _timm_method(model: Any, method: str) -> Callable[..., Any]:
    """``model``'s method ``method`` (a timm model's ``reset_classifier``/``get_classifier``)."""
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError("must be a torch.nn.Module", path="model", got=type(model).__name__)
    if not callable(getattr(model, method, None)):
        raise ArgumentTypeError(
            f"must be a timm model: {type(model).__name__} has no {method}()",
            path="model",
            got=type(model).__name__,
        )
    found: Callable[..., Any] = getattr(model, method)
    return found

"""Whole-layer resets: :class:`TorchDefault` runs a layer's own ``reset_parameters()``."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import nn

from torchinit.errors import ArgumentTypeError, InvalidArgumentError
from torchinit.strategies._draws import drawing_from
from torchinit.strategies.base import Strategy
from torchinit.strategies.spec import register_strategy

__all__ = ["TorchDefault", "reset_method_name"]


def reset_method_name(module: nn.Module) -> str | None:
    """The name of ``module``'s own reset method (``reset_parameters`` or ``_reset_parameters``)."""
    for name in ("reset_parameters", "_reset_parameters"):
        if callable(getattr(module, name, None)):
            return name
    return None


@register_strategy("torch_default")
@dataclasses.dataclass(frozen=True)
class TorchDefault(Strategy):
    """The layer's own default init: its ``reset_parameters()`` (``_reset_parameters()``).

    This strategy works on a whole layer, not one tensor: a policy that gives it to any
    parameter of a layer calls that layer's reset method once, where the layer comes in the
    traversal order, before the layer's other parameters are set. The reset method sets every
    parameter of the layer (and, for normalization layers, resets running statistics); the
    policy engine restores the parameters that the call is not meant to change, so the random
    numbers drawn for those are wasted, exactly as a hand-written call would waste them.

    With a ``generator`` (``generator=``, or ``seed=``, which hands each layer its own), the
    reset draws from it through :func:`~torchinit.strategies.drawing_from`: the values are
    those the reset draws from the default generator set to the generator's state, torch's
    global generators are not touched, and resets on other threads do not affect each other.
    A reset that would draw from a global generator all the same (a random operation that
    takes no generator) is refused before it draws.

    Example:
        >>> import torchinit
        >>> layer = torch.nn.Linear(4, 2)
        >>> rule = torchinit.Rule(torch.nn.Linear, weight="torch_default", bias="torch_default")
        >>> report = torchinit.init_model(layer, torchinit.Policy([rule]))
        >>> report["weight"].strategy
        TorchDefault()
    """

    module_level: ClassVar[bool] = True

    def reset(self, module: nn.Module, *, generator: torch.Generator | None = None) -> None:
        """Call ``module``'s own reset method, drawing from ``generator`` if given."""
        method = reset_method_name(module)
        if method is None:
            raise InvalidArgumentError(
                "has no reset_parameters() or _reset_parameters() method",
                path=f"{self.name}",
                got=type(module).__name__,
            )
        with drawing_from(generator, path=self.name, got=type(module).__name__):
            getattr(module, method)()

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise ArgumentTypeError(
            "resets a whole layer and cannot fill a lone tensor; use it in a policy rule",
            path=self.name,
        )

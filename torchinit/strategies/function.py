"""Plain functions as strategies: ``Rule(nn.Linear, weight=nn.init.zeros_)``, a lambda, a
``functools.partial``; and the generator they are handed under ``seed=``/``generator=``."""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import types
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from torchinit.errors import ArgumentTypeError
from torchinit.strategies._draws import drawing_from
from torchinit.strategies.base import Strategy

__all__ = ["FunctionStrategy", "describe_callable"]

# the part of a repr that changes from one process to the next
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _location(code: types.CodeType) -> str:
    """``file.py:12`` (``file.py:12:30`` for a lambda: its body's column tells apart two
    lambdas on one line). Only the file's base name: the key of keyed seeding must be the
    same on every machine."""
    place = f"{os.path.basename(code.co_filename)}:{code.co_firstlineno}"
    if code.co_name == "<lambda>":
        columns = [column for _, _, column, _ in code.co_positions() if column]
        if columns:
            place += f":{min(columns) + 1}"
    return place


def describe_callable(function: Callable[..., Any]) -> str:
    """A readable description of ``function``, the same in every process (no addresses).

    A module-level function by its qualified name; a partial with its arguments; a lambda or
    a function defined inside another one by its location as well, so that two of them read
    differently.

    Example:
        >>> import functools
        >>> describe_callable(functools.partial(torch.nn.init.kaiming_normal_, mode="fan_out"))
        "torch.nn.init.kaiming_normal_(mode='fan_out')"
        >>> describe_callable(lambda t: t.zero_())  # doctest: +ELLIPSIS
        '<lambda> at <doctest ...>:1:29'
    """
    if isinstance(function, functools.partial):
        arguments = [repr(value) for value in function.args]
        arguments += [f"{key}={value!r}" for key, value in function.keywords.items()]
        text = f"{describe_callable(function.func)}({', '.join(arguments)})"
    elif isinstance(function, (types.FunctionType, types.MethodType)):
        code = function.__code__
        qualname = function.__qualname__
        module = function.__module__
        text = qualname if module in (None, "__main__") else f"{module}.{qualname}"
        if "<" in qualname:  # a lambda or a local function: only its place tells it apart
            text = f"{qualname} at {_location(code)}"
    elif hasattr(function, "__qualname__"):  # a builtin or a method of a C type
        owner = getattr(function, "__objclass__", None)
        home = getattr(function, "__module__", None) or getattr(owner, "__module__", None)
        text = function.__qualname__ if home is None else f"{home}.{function.__qualname__}"
    else:
        text = repr(function)
        if _ADDRESS.search(text):
            text = f"{type(function).__module__}.{type(function).__qualname__} object"
    return _ADDRESS.sub("", text)


@dataclasses.dataclass(frozen=True, eq=False)
class FunctionStrategy(Strategy):
    """A plain function used as a strategy: ``function(tensor)`` fills ``tensor`` in place.

    What :func:`~torchinit.to_strategy` (and so every ``Rule``) makes of a callable that is not
    a :class:`Strategy`: a ``torch.nn.init`` function (``nn.init.zeros_``), a
    ``functools.partial`` of one (``partial(nn.init.kaiming_normal_, mode="fan_out")``), a
    lambda (``lambda t: t.normal_(0, 0.02)``) or any function of one tensor. The function is
    called with the tensor alone, under ``torch.no_grad()``; it may return the tensor (or a
    view of it) or ``None``. Returning another tensor is an error, not a silent copy: a
    strategy fills the tensor it is given, as ``torch.nn.init``'s functions do.

    Without a generator the function draws from torch's global generator, exactly as the
    hand-written call would. With one (``init_model(..., generator=g)``, or ``seed=``, which
    hands each tensor its own), the function is run inside a torch function mode that adds
    ``generator=`` to every random call that has none: ``torch.nn.init``'s functions, the
    tensor methods (``normal_``, ``uniform_``, ``bernoulli_``, ``random_``,
    ``exponential_``, ``geometric_``, ``log_normal_``, ``cauchy_``, ...) and ``torch.randn``,
    ``rand``, ``randint``, ``randperm``, ``normal``, ... A random operation that would draw
    from a global generator all the same (one that takes no generator, such as dropout) is
    refused before it draws: nothing is drawn from the global generator silently. Both modes
    are thread-local: other threads are not affected.

    Reports show it by :attr:`description` (:func:`describe_callable`); keyed seeding keys
    its values by that description too (a lambda by its file and line, so two lambdas draw
    differently). Policies holding one cannot be written as YAML, which names strategies.
    The function is opaque: no shape is refused at planning (an error comes when the tensor is
    filled, naming it), and under ``seed=`` the tensor is drawn whole.

    Args:
        function: a callable taking a tensor; not a class.

    Example:
        >>> import functools
        >>> strategy = FunctionStrategy(functools.partial(torch.nn.init.constant_, val=0.5))
        >>> strategy.describe()
        'torch.nn.init.constant_(val=0.5)'
        >>> strategy(torch.empty(2)).tolist()
        [0.5, 0.5]
    """

    function: Callable[..., Any]
    description: str = dataclasses.field(init=False)

    name: ClassVar[str] = "function"

    def __post_init__(self) -> None:
        if isinstance(self.function, type) or not callable(self.function):
            raise ArgumentTypeError(_NOT_A_FUNCTION, got=self.function)
        object.__setattr__(self, "description", describe_callable(self.function))

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        # without a generator, the function draws where the hand-written call would
        with drawing_from(generator, path=self.description):
            returned = self.function(tensor)
        if returned is not None and not _same_memory(returned, tensor):
            raise ArgumentTypeError(
                "returned a different tensor; a strategy fills the tensor it is given in place "
                "and returns it (or None)",
                path=self.description,
                got=_short(returned),
            )
        return tensor

    def warns_if_empty(self) -> bool:
        function = self.function
        while isinstance(function, functools.partial):
            function = function.func
        return function in (nn.init.kaiming_uniform_, nn.init.kaiming_normal_)

    def arguments(self) -> dict[str, Any]:
        return {"function": self.description}

    def to_spec(self) -> dict[str, Any]:
        """``{"function": description}``: what reports write and keyed seeding keys by.

        Not a spec :func:`~torchinit.to_strategy` reads back (no strategy is registered
        under ``function``): a policy holding a function cannot be written as YAML.
        """
        return {self.name: self.description}

    def describe(self) -> str:
        return self.description


_NOT_A_FUNCTION = (
    "must be a function of a tensor (a torch.nn.init function, a functools.partial of one, a "
    "lambda), not a class"
)


def _same_memory(returned: Any, tensor: torch.Tensor) -> bool:
    """Whether ``returned`` is ``tensor`` or a view of its memory."""
    if returned is tensor:
        return True
    if not isinstance(returned, torch.Tensor):
        return False
    return bool(
        returned.device == tensor.device
        and returned.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
    )


def _short(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)}"
    return value

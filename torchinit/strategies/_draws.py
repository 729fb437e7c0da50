"""Drawing from a given generator: code that takes no generator (a layer's
``reset_parameters()``, a lambda) is run so that every random number it draws comes from it.

Two thread-local torch modes do it, without touching torch's global generators: one adds
``generator=`` to the random calls that have none, the other refuses, before it draws, any
random operation that would still use a global generator. :class:`FunctionStrategy` and
:class:`TorchDefault` both draw through :func:`drawing_from`.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from torchinit.errors import InvalidArgumentError

__all__ = ["drawing_from"]


@contextlib.contextmanager
def drawing_from(
    generator: torch.Generator | None, *, path: str = "drawing_from", got: str | None = None
) -> Iterator[None]:
    """Make the code run inside draw its random numbers from ``generator`` (this thread only).

    Every random torch call that gets no generator (``torch.nn.init``'s functions, nested
    calls included, ``Tensor.uniform_``, ``normal_``, ..., ``torch.randn``, ``rand``, ...) is
    given ``generator``, which advances as the default generator would have: a CPU generator
    in state S draws what the default generator set to S would. Torch's global generators are
    not touched, and other threads, which may draw from them meanwhile, are not affected: the
    modes doing it are thread-local. A random operation that takes no generator (dropout) is
    refused before it draws. With ``generator=None`` the code runs as it is, drawing from the
    global generators.

    Args:
        generator: the generator to draw from, or ``None``.
        path: the key path a refused operation's error starts with (what runs).
        got: the value that error names (such as the layer type), if any.

    Raises:
        InvalidArgumentError: inside, for a random operation that would draw from a global
            generator although ``generator`` was given.

    Example:
        >>> layer = torch.nn.Linear(4, 2)
        >>> with drawing_from(torch.Generator().manual_seed(0)):
        ...     layer.reset_parameters()
        >>> expected = torch.nn.Linear(4, 2)
        >>> with torch.random.fork_rng(devices=[]):
        ...     _ = torch.manual_seed(0)
        ...     expected.reset_parameters()
        >>> torch.equal(layer.weight, expected.weight)
        True
    """
    if generator is None:
        yield
        return
    with _SupplyGenerator(generator), _RefuseGlobalDraws(path, got):
        yield


# torch's random functions and tensor methods, which all take ``generator=`` as a keyword
_RANDOM: frozenset[Any] = frozenset(
    [
        *(
            getattr(torch.Tensor, name)
            for name in (
                "normal_",
                "uniform_",
                "bernoulli_",
                "random_",
                "exponential_",
                "geometric_",
                "log_normal_",
                "cauchy_",
                "bernoulli",
                "multinomial",
            )
        ),
        *(
            getattr(torch, name)
            for name in (
                "rand",
                "randn",
                "randint",
                "randperm",
                "rand_like",
                "randn_like",
                "randint_like",
                "normal",
                "bernoulli",
                "multinomial",
                "poisson",
            )
        ),
    ]
)

# torch.nn.init's functions that take a generator (it may come positionally: bind to find it)
_INIT_SIGNATURES: dict[Any, inspect.Signature] = {
    function: inspect.signature(function)
    for function in vars(nn.init).values()
    if inspect.isfunction(function)
    and function.__module__ == nn.init.__name__
    and not function.__name__.startswith("_")
    and "generator" in inspect.signature(function).parameters
}


class _SupplyGenerator(TorchFunctionMode):
    """Adds ``generator=`` to every random torch call that gets none, while a function runs.

    Torch function modes are thread-local, so a callable run on one thread does not lend its
    generator to another. Inside its own handler the mode is off: a ``torch.nn.init``
    function it completes runs, nested calls included, with the generator it was given.
    """

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.generator = generator

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = {} if kwargs is None else kwargs
        if func in _RANDOM:
            if kwargs.get("generator") is None:
                kwargs = {**kwargs, "generator": self.generator}
        else:
            signature = _INIT_SIGNATURES.get(func)
            if signature is not None:
                bound = signature.bind(*args, **kwargs)
                if bound.arguments.get("generator") is None:
                    bound.arguments["generator"] = self.generator
                    args, kwargs = bound.args, bound.kwargs
        return func(*args, **kwargs)


class _RefuseGlobalDraws(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Refuses every random operation that gets no generator, before it draws.

    Below :class:`_SupplyGenerator`: what reaches it without a generator is a random
    operation that takes none (dropout) or one called in a way no mode can reach. It sees the
    operations torch actually runs (``aten``), which say whether they draw
    (``nondeterministic_seeded``) and from which generator. Thread-local, as the other.
    """

    def __init__(self, path: str, got: str | None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.path = path
        self.got = got

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = {} if kwargs is None else kwargs
        if (
            torch.Tag.nondeterministic_seeded in func.tags
            and _generator_of(func, args, kwargs) is None
        ):
            problem = (
                f"would draw from torch's global random number generator ({func}) although a "
                "generator was given (seed= or generator=); use random functions that take "
                "generator= (torch.nn.init's, Tensor.normal_, torch.randn, ...), which get it"
            )
            if self.got is None:
                raise InvalidArgumentError(problem, path=self.path)
            raise InvalidArgumentError(problem, path=self.path, got=self.got)
        return func(*args, **kwargs)


def _generator_of(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The generator an ``aten`` operation was given (``None`` for none, or if it takes none)."""
    if "generator" in kwargs:
        return kwargs["generator"]
    for position, argument in enumerate(func._schema.arguments):
        if argument.name == "generator":
            return args[position] if position < len(args) else None
    return None

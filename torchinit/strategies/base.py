"""The strategy protocol: :class:`Strategy` (its call, shape check and law) and :class:`Law`."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, Protocol, cast

import torch

__all__ = [
    "Law",
    "LawKind",
    "Strategy",
    "TensorSource",
    "grad_free_call",
    "intercepted",
    "set_field",
]

LawKind = Literal["constant", "uniform", "normal", "trunc_normal"]

#: Whether a call on the tensor may be intercepted (a ``__torch_function__`` on its type, or a
#: TorchFunctionMode). Strategies then call ``torch.nn.init`` itself, so that whatever
#: intercepts sees the hand-written call; otherwise they may call the tensor method that
#: ``torch.nn.init``'s function comes down to, with the same arguments and the same values.
intercepted = torch.overrides.has_torch_function_variadic


@dataclasses.dataclass(frozen=True)
class Law:
    """The distribution a strategy draws every element of a tensor from, independently.

    Keyed seeding (:mod:`torchinit.seeding`) fills a tensor chunk by chunk from its strategy's
    law, in parallel, and a rank of a sharded tensor fills only its own part. Strategies whose
    elements are not independent (orthogonal, sparse, eye, dirac, ...) have no law and are drawn
    whole.

    Attributes:
        kind: ``constant``, ``uniform``, ``normal`` or ``trunc_normal``.
        params: ``(value,)``, ``(low, high)``, ``(mean, std)`` or ``(mean, std, a, b)`` (a and
            b absolute, as in ``torch.nn.init.trunc_normal_``).
        zero_row: a row (index into dimension 0, non-negative) set to zero after drawing, such
            as an embedding's padding row; ``None`` for none.

    Example:
        >>> from torchinit import Normal
        >>> Normal(0.0, 0.02).law((4, 3))
        Law(kind='normal', params=(0.0, 0.02), zero_row=None)
    """

    kind: LawKind
    params: tuple[float, ...]
    zero_row: int | None = None


class TensorSource(Protocol):
    """Where a by-name strategy (:attr:`Strategy.by_name`) reads one tensor's values from,
    found when the plan is built: a key of an opened checkpoint file."""

    def read(self, indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """The values (a CPU tensor, possibly memory-mapped): the whole tensor, or with
        ``indices`` (per dim, the increasing global indices a shard holds) only those."""
        ...

    def describe(self) -> str:
        """Where the values come from, for the report: ``key 'fc.weight' of 'r50.safetensors'``."""
        ...


class Strategy:
    """Base class of initialization strategies.

    A strategy is an immutable value (subclasses are frozen dataclasses) holding its arguments
    and nothing else. Calling it fills a tensor in place and returns it, like
    ``torch.nn.init``'s functions::

        strategy(tensor, generator=None) -> tensor

    The call enters ``torch.no_grad()`` (so that a strategy may fill a Parameter that requires
    grad) and runs :meth:`initialize`, which subclasses implement. A subclass may instead
    override ``__call__`` itself (the README's example does): ``__init_subclass__`` wraps that
    ``__call__`` so that it too runs under ``torch.no_grad()``, and changes nothing else.

    Subclasses set ``min_ndim``/``max_ndim`` (or override :meth:`check_shape`) so that a policy
    can refuse a tensor it cannot fill before touching any tensor.
    """

    name: ClassVar[str] = ""
    min_ndim: ClassVar[int] = 0
    max_ndim: ClassVar[int | None] = None
    #: Strategies that reset a whole layer rather than fill one tensor (see TorchDefault).
    module_level: ClassVar[bool] = False
    #: Strategies that copy what the tensor's name points to (see Checkpoint) rather than
    #: draw: the engine calls :meth:`locate` for each tensor when it builds the plan and copies
    #: what it found when it applies it. They draw nothing and have no :meth:`law`.
    by_name: ClassVar[bool] = False
    #: Arguments that take a mapping of their own (Checkpoint's ``keys``): in plain data a
    #: mapping argument is otherwise a value read from the layer (``{attr: stddev}``).
    mapping_arguments: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None:
            cls.__call__ = _under_no_grad(call)  # type: ignore[method-assign]

    def __call__(
        self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        # The policy engine calls initialize() with gradients already off (grad_free_call):
        # entering the context manager anyway cost more than filling a small tensor.
        if not torch.is_grad_enabled():
            return self.initialize(tensor, generator)
        with torch.no_grad():
            return self.initialize(tensor, generator)

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Fill ``tensor`` in place (gradients are off) and return it."""
        raise NotImplementedError(f"{type(self).__name__} does not implement initialize()")

    def check_shape(self, shape: Sequence[int]) -> str | None:
        """Return why a tensor of ``shape`` cannot be filled, or ``None`` if it can."""
        ndim = len(shape)
        if self.min_ndim <= ndim and (self.max_ndim is None or ndim <= self.max_ndim):
            return None
        if self.max_ndim is None:
            plural = "" if self.min_ndim == 1 else "s"
            return f"needs a tensor with at least {self.min_ndim} dimension{plural}"
        if self.max_ndim == self.min_ndim:
            return f"needs a tensor with exactly {self.min_ndim} dimensions"
        return f"needs a tensor with {self.min_ndim} to {self.max_ndim} dimensions"

    def warns_if_empty(self) -> bool:
        """Whether filling a zero-element tensor warns ``Initializing zero-element tensors is a
        no-op`` (a ``UserWarning``), as ``torch.nn.init.kaiming_uniform_``/``kaiming_normal_``
        do; the other ``torch.nn.init`` functions fill nothing without a word.

        The policy engine skips zero-element tensors without calling the strategy; for those
        whose strategy says ``True`` here it warns in its place, seeded or not.
        """
        return False

    def law(self, shape: tuple[int, ...]) -> Law | None:
        """The elementwise law of the values drawn for a tensor of ``shape``, or ``None``.

        ``None`` (the default) means the elements are not drawn independently of each other;
        keyed seeding then draws the tensor whole with the strategy's call.
        """
        return None

    def locate(
        self, names: Sequence[str], shape: tuple[int, ...], opened: dict[str, Any]
    ) -> TensorSource:
        """For a :attr:`by_name` strategy: where the tensor of global ``shape`` called
        ``names`` (its names in the model without wrapper prefixes, the first one first) is
        read from. Raises :class:`~torchinit.PlanError` (its key path relative to the
        strategy) when it cannot be. ``opened`` is shared by one plan's strategies, to open
        each file once."""
        raise NotImplementedError(f"{type(self).__name__} is not filled by name")

    def arguments(self) -> dict[str, Any]:
        """The strategy's arguments by name, in declaration order."""
        if not hasattr(self, "__dataclass_fields__"):
            return {}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(cast(Any, self))}

    def to_spec(self) -> str | dict[str, dict[str, Any]]:
        """The strategy as plain data: ``"zeros"`` or ``{"normal": {"mean": 0.0, "std": 0.01}}``."""
        args = self.arguments()
        return {self.name: args} if args else self.name

    def describe(self) -> str:
        """A short readable form, e.g. ``kaiming_normal(mode='fan_out', nonlinearity='relu')``."""
        args = ", ".join(f"{key}={value!r}" for key, value in self.arguments().items())
        return f"{self.name}({args})"


def _under_no_grad(call: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A subclass's own ``__call__``, run under ``torch.no_grad()`` as :meth:`Strategy.__call__`
    runs :meth:`~Strategy.initialize`; :func:`grad_free_call` hands out ``call`` itself."""

    @functools.wraps(call)
    def wrapped(*args: Any, **kwargs: Any) -> torch.Tensor:
        if not torch.is_grad_enabled():
            return call(*args, **kwargs)
        with torch.no_grad():
            return call(*args, **kwargs)

    wrapped.without_no_grad = call  # type: ignore[attr-defined]
    return wrapped


def grad_free_call(strategy: Strategy) -> Callable[..., torch.Tensor]:
    """What ``strategy``'s call runs once gradients are off, called as ``call(strategy, tensor,
    generator=...)``: its class's :meth:`~Strategy.initialize`, or the class's own
    ``__call__`` for a strategy written that way.

    For the policy engine, which applies a plan under ``torch.no_grad()`` already: there the
    call would only check that, once per tensor.
    """
    cls = type(strategy)
    call = cls.__call__
    if call is Strategy.__call__:
        return cls.initialize
    return cast(Callable[..., torch.Tensor], getattr(call, "without_no_grad", call))


def set_field(strategy: Strategy, field: str, value: Any) -> None:
    """Set a field of a frozen strategy to its normalised value (``1`` -> ``1.0``), in
    ``__post_init__``: frozen dataclasses may only do that through ``object.__setattr__``."""
    object.__setattr__(strategy, field, value)

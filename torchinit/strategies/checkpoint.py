"""Tensors read from a checkpoint file: the ``checkpoint`` strategy.

A policy rule can fill tensors from a file instead of drawing them, so "load the backbone, then
Kaiming for the new head" is one policy (the last rule wins, as always)::

    Policy([
        Rule(name="**", params={"*": Checkpoint("r50.safetensors")}),
        Rule(nn.Linear, name="fc", weight=KaimingNormal(), bias="zeros"),
    ])

The tensor called ``MODEL_PREFIX + rest`` in the model is read from ``CHECKPOINT_PREFIX + rest``
in the file (``keys``; the longest model prefix that matches wins). Everything is checked when
the plan is built, from the file's header: that each key exists, its shape, that it holds
floating-point values. Values of another floating-point dtype are cast, as
``load_state_dict`` does. A ``.safetensors`` file is read tensor by tensor, memory-mapped, so
a checkpoint is never read whole; ``.pt``/``.pth`` files are read with
``torch.load(weights_only=True, mmap=True)`` only. See ``docs/guide/checkpoints.md``.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

import torch

from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    MissingDependencyError,
    PlanError,
    did_you_mean,
)
from torchinit.strategies.base import Strategy, set_field
from torchinit.strategies.spec import register_strategy

__all__ = ["SUFFIXES", "Checkpoint", "CheckpointFile", "CheckpointTensor", "KeyMap"]

#: The checkpoint files read, by suffix: safetensors (preferred) or a ``torch.save`` file.
SUFFIXES = {".safetensors": "safetensors", ".pt": "torch", ".pth": "torch"}

# safetensors' names of the floating-point dtypes (the header holds these strings)
_SAFETENSORS_FLOATS = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
# the entries of a torch.save file that hold the state_dict, tried in this order (Lightning
# saves {"state_dict": ...}; DeiT, MAE and many research repositories {"model": ...})
_NESTED = ("state_dict", "model")
_SAFETENSORS_EXTRA = (
    "reading a .safetensors checkpoint needs safetensors: pip install torchinit[safetensors]"
)


class CheckpointFile:
    """A checkpoint file opened for reading: its keys, shapes and dtypes (a ``.safetensors``
    file's header only), and each tensor read when asked, alone.

    Args:
        path: a ``.safetensors``, ``.pt`` or ``.pth`` file.

    Raises:
        PlanError: the file is missing or cannot be read (key path ``checkpoint.path``).
        MissingDependencyError: a ``.safetensors`` file without the safetensors package.

    Example:
        >>> import tempfile, torch
        >>> from safetensors.torch import save_file
        >>> path = tempfile.mkdtemp() + "/w.safetensors"
        >>> save_file({"weight": torch.arange(6.0).view(2, 3)}, path)
        >>> opened = CheckpointFile(path)
        >>> opened.entries
        {'weight': ((2, 3), torch.float32)}
        >>> opened.read("weight", (torch.tensor([1]), torch.tensor([0, 2])))
        tensor([[3., 5.]])
    """

    def __init__(self, path: str) -> None:
        self.path = path
        #: every key with its shape and dtype (safetensors' name for a dtype torch lacks here)
        self.entries: dict[str, tuple[tuple[int, ...], torch.dtype | str]] = {}
        if not os.path.isfile(path):
            raise PlanError("no such checkpoint file", path="checkpoint.path", got=path)
        self._state: Any
        if SUFFIXES[Path(path).suffix.lower()] == "safetensors":
            self._state = _open_safetensors(path)
            names = self._state.keys()  # a safe_open is no mapping: keys() is its method
            for key in names:
                part = self._state.get_slice(key)
                kind = part.get_dtype()
                dtype = _SAFETENSORS_FLOATS.get(kind, kind)
                self.entries[key] = (tuple(part.get_shape()), dtype)
        else:
            self._state = _load_torch(path)
            for key, value in self._state.items():
                self.entries[key] = (tuple(value.shape), value.dtype)

    def read(self, key: str, indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """The CPU tensor at ``key``; with ``indices`` (per dim, increasing global indices),
        only the elements of that block, read from the smallest slice holding them."""
        safetensors = not isinstance(self._state, dict)
        if indices is None or not indices:
            whole: torch.Tensor = self._state.get_tensor(key) if safetensors else self._state[key]
            return whole
        source = self._state.get_slice(key) if safetensors else self._state[key]
        lows = [int(held[0]) if len(held) else 0 for held in indices]
        spans = zip(lows, map(_span, indices), strict=True)
        part = source[tuple(slice(low, low + span) for low, span in spans)]
        for dim, (low, held) in enumerate(zip(lows, indices, strict=True)):
            if part.shape[dim] != len(held):  # strided: the slice holds more than the shard
                part = part.index_select(dim, held - low)
        return cast(torch.Tensor, part)


def _span(held: torch.Tensor) -> int:
    """How many indices the slice from the first to the last of ``held`` covers."""
    return int(held[-1] - held[0]) + 1 if len(held) else 0


def _open_safetensors(path: str) -> Any:
    try:
        from safetensors import safe_open
    except ImportError:
        raise MissingDependencyError(_SAFETENSORS_EXTRA, path="checkpoint.path", got=path) from None
    try:
        return safe_open(path, framework="pt")
    # safetensors raises its own SafetensorError (and OSError) for a file it cannot parse
    except Exception as error:
        raise PlanError(
            f"cannot be read as safetensors: {error}", path="checkpoint.path", got=path
        ) from None


def _load_torch(path: str) -> dict[str, torch.Tensor]:
    """The state_dict in a ``torch.save`` file, memory-mapped: a mapping of name to tensor, or
    such a mapping under ``state_dict`` or ``model``; entries that are not tensors are left out."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PlanError(
            f"cannot be read with torch.load(weights_only=True, mmap=True): {problem}",
            path="checkpoint.path",
            got=path,
        ) from None
    for key in _NESTED:
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping):
        raise PlanError(
            "holds no state_dict (a mapping of name to tensor, or one under 'state_dict' or "
            "'model')",
            path="checkpoint.path",
            got=path,
        )
    return {
        key: value
        for key, value in data.items()
        if isinstance(key, str) and isinstance(value, torch.Tensor)
    }


@dataclasses.dataclass(frozen=True)
class CheckpointTensor:
    """One tensor of an opened checkpoint: where a :class:`Checkpoint` reads a model's tensor
    (found when the plan is built; see :meth:`Checkpoint.locate`)."""

    file: CheckpointFile
    key: str

    def read(self, indices: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """The values: the whole tensor, or with ``indices`` a shard's block."""
        return self.file.read(self.key, indices)

    def describe(self) -> str:
        return f"key {self.key!r} of {self.file.path!r}"


class KeyMap(tuple[tuple[str, str], ...]):
    """:class:`Checkpoint`'s ``keys`` as it holds them: (model prefix, checkpoint prefix)
    pairs, in order; a tuple, so that the strategy is hashable, shown as the mapping it is.

    Example:
        >>> KeyMap([("backbone.", "")])
        {'backbone.': ''}
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(dict(self))


@register_strategy("checkpoint")
@dataclasses.dataclass(frozen=True)
class Checkpoint(Strategy):
    """Fill each tensor with its values in a checkpoint file, found by the tensor's name.

    The tensor called ``MODEL_PREFIX + rest`` in the model (its full dotted name, without the
    ``module.``/``_orig_mod.`` of wrappers) is read from ``CHECKPOINT_PREFIX + rest``; the
    longest model prefix the name starts with wins, and a name that starts with none of them
    is an error. ``{"backbone.": ""}`` reads ``backbone.conv1.weight`` from ``conv1.weight``
    (a checkpoint of the bare backbone); ``{"": "backbone."}`` strips a prefix the checkpoint
    has, as mmengine's ``Pretrained(prefix="backbone.")``. A tied tensor is read under the
    first of its names that the file has.

    When the plan is built the file is opened (a ``.safetensors`` header only) and every key
    is checked before any tensor is touched: it exists (else a
    :class:`~torchinit.PlanError` naming the tensor, the key and the closest key the file
    has), its shape is the model's, its values are floating-point (values of another
    floating-point dtype are cast to the model's, as ``load_state_dict`` does). Applied, each
    tensor is read on its own, memory-mapped, and copied in place; a DTensor shard reads only
    its own elements. Nothing is drawn: the strategy has no law, and ``seed=`` does not
    change what it sets.

    It reads tensors by their name, so it is used in a policy rule: calling it on a bare
    tensor is an error.

    Args:
        path: the file: ``.safetensors`` (preferred: read lazily), ``.pt`` or ``.pth`` (read
            with ``torch.load(weights_only=True, mmap=True)``: a state_dict, or one under
            ``state_dict`` or ``model``). In a YAML policy a relative path is relative to the
            policy file's folder.
        keys: model prefix -> checkpoint prefix; default ``{"": ""}`` (the same names).

    Example:
        >>> import tempfile, torch, torchinit
        >>> from safetensors.torch import save_file
        >>> path = tempfile.mkdtemp() + "/linear.safetensors"
        >>> save_file({"weight": torch.ones(2, 3), "bias": torch.zeros(2)}, path)
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2))
        >>> policy = torchinit.Policy([
        ...     torchinit.Rule(param="0.*", init=Checkpoint(path, keys={"0.": ""})),
        ... ])
        >>> report = torchinit.init_model(model, policy)
        >>> model[0].weight.tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
        >>> report["0.bias"].reason.startswith("key 'bias' of ")
        True
    """

    path: str
    keys: Mapping[str, str] | tuple[tuple[str, str], ...] = KeyMap([("", "")])

    by_name: ClassVar[bool] = True
    mapping_arguments: ClassVar[tuple[str, ...]] = ("keys",)

    def __post_init__(self) -> None:
        path = self.path
        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentTypeError("must be a file path", path="checkpoint.path", got=path)
        path = os.fspath(path)
        if Path(path).suffix.lower() not in SUFFIXES:
            raise InvalidArgumentError(
                f"must end in one of {list(SUFFIXES)}", path="checkpoint.path", got=path
            )
        set_field(self, "path", path)
        set_field(self, "keys", _prefix_pairs(self.keys))

    @property
    def prefixes(self) -> KeyMap:
        """``keys`` as (model prefix, checkpoint prefix) pairs, in the order given."""
        return cast(KeyMap, self.keys)

    def checkpoint_key(self, name: str) -> str | None:
        """The key ``name`` (a bare name in the model) is read from, or ``None`` if no model
        prefix matches it.

        Example:
            >>> rule = Checkpoint("b.pt", keys={"backbone.": "", "backbone.fc.": "head."})
            >>> rule.checkpoint_key("backbone.fc.weight"), rule.checkpoint_key("neck.0.bias")
            ('head.weight', None)
        """
        matching = [pair for pair in self.prefixes if name.startswith(pair[0])]
        if not matching:
            return None
        model, checkpoint = max(matching, key=lambda pair: len(pair[0]))
        return checkpoint + name[len(model) :]

    def locate(
        self, names: Sequence[str], shape: tuple[int, ...], opened: dict[str, Any]
    ) -> CheckpointTensor:
        file = opened.get(self.path)
        if file is None:
            file = opened[self.path] = CheckpointFile(self.path)
        keys = [key for key in map(self.checkpoint_key, names) if key is not None]
        if not keys:
            raise PlanError(
                f"the name starts with none of the model prefixes {[m for m, _ in self.prefixes]}",
                path="checkpoint.keys",
                got=names[0],
            )
        key = next((key for key in keys if key in file.entries), None)
        if key is None:
            raise PlanError(
                did_you_mean(f"no such key in {self.path!r}", keys[0], file.entries),
                path="checkpoint",
                got=keys[0],
            )
        stored, dtype = file.entries[key]
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise PlanError(
                f"key {key!r} of {self.path!r} holds {dtype} values; only floating-point "
                "tensors are read",
                path="checkpoint",
                got=dtype,
            )
        if stored != shape:
            raise PlanError(
                f"the model's shape {shape} differs from the checkpoint's at key {key!r} of "
                f"{self.path!r}",
                path="checkpoint",
                got=stored,
            )
        return CheckpointTensor(file, key)

    def initialize(self, tensor: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise ArgumentTypeError(
            "reads each tensor by its name in the model; use it in a policy rule "
            "(torchinit.init_model), not on a bare tensor",
            path=self.name,
        )

    def arguments(self) -> dict[str, Any]:
        return {"path": self.path, "keys": dict(self.prefixes)}


def _prefix_pairs(keys: Any) -> KeyMap:
    """``keys`` (a mapping, or the pairs a Checkpoint holds) as checked pairs."""
    pairs = tuple(keys.items()) if isinstance(keys, Mapping) else keys
    well_formed = isinstance(pairs, tuple) and all(
        isinstance(pair, tuple)
        and len(pair) == 2
        and all(isinstance(prefix, str) for prefix in pair)
        for pair in pairs
    )
    if not well_formed:
        raise ArgumentTypeError(
            "must be a mapping of model prefix to checkpoint prefix (strings)",
            path="checkpoint.keys",
            got=keys,
        )
    if not pairs:
        raise InvalidArgumentError(
            "must map at least one model prefix ('' for every name)",
            path="checkpoint.keys",
            got=keys,
        )
    if len({model for model, _ in pairs}) != len(pairs):
        raise InvalidArgumentError("gives a model prefix twice", path="checkpoint.keys", got=keys)
    return KeyMap(pairs)

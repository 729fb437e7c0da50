"""Models built on the meta device: materialize and initialize in one pass.

``init_model(model, policy, device="cpu", seed=N)`` on a model whose tensors are on the meta
device (``with torch.device("meta"): model = Net()``, or FSDP2's meta-device flow):

1. the plan is resolved and validated on the meta model, before any memory is allocated;
2. every meta tensor is replaced by an uninitialized one on ``device`` (``nn.Module.to_empty``'s
   ``_apply``); ties that this breaks (``lm_head.weight is wte.weight``) are restored;
3. buffers get their proper values: a layer's registered buffer restorer (norm layers'
   ``reset_running_stats()``; Hugging Face rotary embeddings' ``inv_freq`` recomputed from the
   config; your own with :func:`register_buffer_init`); a buffer nothing can restore is an
   error before anything is allocated, naming it;
4. the policy runs; parameters no rule sets (unmatched, excluded, frozen with ``skip_frozen``)
   get their layer's own default init (``torch_default``, keyed when ``seed`` is given), so that
   no tensor is left holding uninitialized memory. A parameter whose layer has no
   ``reset_parameters()`` and that no rule sets is an error, before anything is allocated.

Peak memory is the model's parameter and buffer bytes plus a few chunk buffers
(``bench/meta_init_rss.py`` measures it): tensors are allocated uninitialized and written once.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Callable, Iterable
from typing import Any, cast

import torch
from torch import nn

from torchinit.errors import ArgumentTypeError, InvalidArgumentError, PlanError
from torchinit.registry import Registry

__all__ = ["BufferInit", "register_buffer_init"]

#: Sets the buffers of a freshly materialized layer (on its device) to their initial values.
BufferInit = Callable[[nn.Module], None]


@dataclasses.dataclass(frozen=True)
class _Restorer:
    matches: Callable[[nn.Module], bool]
    buffers: tuple[str, ...]
    restore: BufferInit
    name: str


# by the full name of the layer class or predicate, oldest first
_RESTORERS: Registry[_Restorer] = Registry("buffer init", identifiers=False)


def register_buffer_init(
    layer: type[nn.Module] | Callable[[nn.Module], bool],
    buffers: Iterable[str],
    *,
    overwrite: bool = False,
) -> Callable[[BufferInit], BufferInit]:
    """Register how to give a layer's buffers their values after materialization from meta.

    When several registrations match a layer, the newest wins (so that yours override the
    built-in ones). A layer class or predicate can be registered once, unless ``overwrite``.

    Args:
        layer: a layer class (subclasses included) or a predicate on the layer.
        buffers: the names of the layer's own buffers the function sets.
        overwrite: replace an earlier registration for the same ``layer`` (it becomes the
            newest).

    Example:
        >>> import math, torch, torchinit
        >>> class Scale(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.register_buffer("factor", torch.tensor(math.pi))
        >>> @register_buffer_init(Scale, buffers=["factor"])
        ... def _(layer):
        ...     layer.factor.fill_(math.pi)
        >>> with torch.device("meta"):
        ...     model = torch.nn.Sequential(torch.nn.Linear(2, 2), Scale())
        >>> _ = torchinit.init_model(model, "torch_default", device="cpu", seed=0)
        >>> round(float(model[1].factor), 4)
        3.1416
    """
    names = tuple(buffers)
    matches: Callable[[nn.Module], bool]
    if isinstance(layer, type):
        if not issubclass(layer, nn.Module):
            raise ArgumentTypeError(
                "must be an nn.Module class or a predicate", path="layer", got=layer
            )
        cls = layer

        def is_instance(module: nn.Module) -> bool:
            return isinstance(module, cls)

        matches, label = is_instance, cls.__qualname__
    elif callable(layer):
        matches, label = layer, getattr(layer, "__qualname__", repr(layer))
    else:
        raise ArgumentTypeError(
            "must be an nn.Module class or a predicate", path="layer", got=layer
        )
    key = f"{getattr(layer, '__module__', None)}.{label}"
    if not names or not all(isinstance(name, str) for name in names):
        raise ArgumentTypeError(
            "must be a non-empty list of buffer names", path="buffers", got=buffers
        )

    def decorate(fn: BufferInit) -> BufferInit:
        if overwrite:
            _RESTORERS.remove(key)  # an overwriting registration is the newest
        _RESTORERS.add(key, _Restorer(matches, names, fn, label))
        return fn

    return decorate


def _has_running_stats(module: nn.Module) -> bool:
    return callable(getattr(module, "reset_running_stats", None))


@register_buffer_init(_has_running_stats, ["running_mean", "running_var", "num_batches_tracked"])
def _reset_running_stats(module: nn.Module) -> None:
    module.reset_running_stats()  # type: ignore[operator]


def _is_hf_rotary(module: nn.Module) -> bool:
    return (
        type(module).__name__.endswith("RotaryEmbedding")
        and hasattr(module, "config")
        and hasattr(module, "rope_type")
        and "inv_freq" in module._buffers
    )


@register_buffer_init(_is_hf_rotary, ["inv_freq", "original_inv_freq"])
def _recompute_rotary(module: nn.Module) -> None:
    """Hugging Face's rotary embeddings compute ``inv_freq`` from the config at construction."""
    rope_type = module.rope_type
    if rope_type == "default":
        compute: Any = module.compute_default_rope_parameters
    else:
        from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

        compute = ROPE_INIT_FUNCTIONS[str(rope_type)]
    inv_freq, _ = compute(module.config)
    for name in ("inv_freq", "original_inv_freq"):
        buffer = module._buffers.get(name)
        if buffer is not None:
            buffer.copy_(inv_freq)


def _restorer(module: nn.Module, names: list[str]) -> _Restorer | None:
    for restorer in reversed(list(_RESTORERS.values())):
        if restorer.matches(module) and set(names) <= set(restorer.buffers):
            return restorer
    return None


# --------------------------------------------------------------------------- device checks


def target_device(device: Any, path: str = "device") -> torch.device | None:
    """``device=`` (the argument named ``path``) as a ``torch.device`` (``None`` stays
    ``None``)."""
    if device is None:
        return None
    if not isinstance(device, (str, torch.device, int)) or isinstance(device, bool):
        raise ArgumentTypeError("must be a torch.device, a device string or None", path=path,
                                got=device)  # fmt: skip
    try:
        result = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InvalidArgumentError(
            f"is not a device ({str(error).splitlines()[0]})", path=path, got=device
        ) from None
    if result.type == "meta":
        raise InvalidArgumentError(
            "is the device to materialize on; it cannot be meta", path=path, got=str(device)
        )
    return result


def _same_device(actual: torch.device, wanted: torch.device) -> bool:
    indices = (actual.index, wanted.index)
    return actual.type == wanted.type and (None in indices or indices[0] == indices[1])


def _tensors(model: nn.Module) -> Iterable[tuple[str, torch.Tensor]]:
    yield from model.named_parameters(remove_duplicate=True)
    yield from model.named_buffers(remove_duplicate=True)


def _scan(
    model: nn.Module, device: torch.device
) -> tuple[list[str], list[tuple[str, torch.device]]]:
    """Names of the meta tensors, and of the tensors on another device than ``device``."""
    meta: list[str] = []
    elsewhere: list[tuple[str, torch.device]] = []
    for name, tensor in _tensors(model):
        if tensor.is_meta:
            meta.append(name)
        elif not _same_device(tensor.device, device):
            elsewhere.append((name, tensor.device))
    return meta, elsewhere


@dataclasses.dataclass
class Materialization:
    """What :func:`prepare` found on a meta model, and how to materialize it."""

    device: torch.device  # meta: only planned, the device is not known (plan() without device=)
    ties: list[list[tuple[nn.Module, str]]]
    restorers: list[tuple[nn.Module, _Restorer]]
    twins: dict[int, nn.Module] = dataclasses.field(default_factory=dict)

    def materialize(self, model: nn.Module) -> None:
        """Allocate every meta tensor on the device (uninitialized), re-tie, restore buffers."""
        device = self.device
        cast(Any, model)._apply(lambda t: torch.empty_like(t, device=device) if t.is_meta else t)
        for group in self.ties:
            owner, local = group[0]
            shared = owner._parameters[local]
            for module, name in group[1:]:
                module._parameters[name] = shared
        with torch.no_grad():
            for module, restorer in self.restorers:
                restorer.restore(module)

    def keep_twin(self, module: nn.Module) -> None:
        """Keep a meta copy of ``module``: its keyed default init is drawn on a CPU twin."""
        if id(module) not in self.twins:
            self.twins[id(module)] = copy.deepcopy(module)

    def cpu_twin(self, module: nn.Module) -> nn.Module:
        """A CPU copy of ``module`` (uninitialized): resets draw on it from a CPU generator."""
        return self.twins.pop(id(module)).to_empty(device="cpu")


def prepare(
    model: nn.Module, device: torch.device | None, *, planning: bool = False
) -> Materialization | None:
    """Check ``device=`` against ``model``; for a meta model, plan its materialization.

    Returns ``None`` when the model has no meta tensor (then ``device`` must name the model's
    device) or when ``device`` is ``None`` (the engine then refuses the meta tensors it meets
    with :func:`meta_without_device`: no extra pass over a big model for the common case).
    ``planning`` (``plan()``, which allocates nothing, so needs no device) makes a meta model
    without ``device`` planned as if it were to be materialized, on a device not known yet
    (``meta`` stands for it); a model is taken for a meta model by its first tensor, so the
    common case still costs no pass over the model.
    Raises, touching nothing, for a model on another device, or a buffer nothing can restore.
    """
    if device is None:
        if planning and _first_is_meta(model):
            return Materialization(torch.device("meta"), _ties(model), _restorers(model))
        return None
    meta, elsewhere = _scan(model, device)
    if not meta:
        if elsewhere:
            name, actual = elsewhere[0]
            raise InvalidArgumentError(
                f"the model is on {actual} (e.g. {name!r}), not on the meta device; "
                f"device= only materializes meta models: move the model with .to() instead",
                path="device",
                got=str(device),
            )
        return None
    if elsewhere:
        name, actual = elsewhere[0]
        raise InvalidArgumentError(
            f"the model mixes meta tensors with tensors on {actual} (e.g. {name!r}); "
            "materializing would leave it on two devices",
            path="device",
            got=str(device),
        )
    return Materialization(device, _ties(model), _restorers(model))


def _first_is_meta(model: nn.Module) -> bool:
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return first is not None and first.is_meta


def meta_without_device(name: str) -> InvalidArgumentError:
    """The error for a meta tensor met without ``device=``."""
    return InvalidArgumentError(
        f"the model has tensors on the meta device (e.g. {name!r}); pass "
        "device='cpu' or 'cuda' to materialize and initialize them",
        path="device",
        got=None,
    )


def _ties(model: nn.Module) -> list[list[tuple[nn.Module, str]]]:
    owners: dict[int, list[tuple[nn.Module, str]]] = {}
    for module in model.modules():
        for local, parameter in module._parameters.items():
            if parameter is not None:
                places = owners.setdefault(id(parameter), [])
                if (module, local) not in places:
                    places.append((module, local))
    return [places for places in owners.values() if len(places) > 1]


def find_restorers(
    model: nn.Module, *, every: bool = False
) -> tuple[list[tuple[nn.Module, _Restorer]], list[str]]:
    """The restorer of each layer holding a meta buffer (``every``: any buffer), and the
    names of the buffers nothing can restore."""
    found: list[tuple[nn.Module, _Restorer]] = []
    missing: list[str] = []
    for prefix, module in model.named_modules():
        names = [name for name, buffer in module._buffers.items() if buffer is not None]
        if not names or not (every or any(module._buffers[name].is_meta for name in names)):
            continue
        restorer = _restorer(module, names)
        if restorer is None:
            missing += [f"{prefix}.{name}" if prefix else name for name in names]
        else:
            found.append((module, restorer))
    return found, missing


def _restorers(model: nn.Module) -> list[tuple[nn.Module, _Restorer]]:
    found, missing = find_restorers(model)
    if missing:
        raise PlanError(
            f"buffers {missing} are on the meta device and torchinit cannot compute their "
            "values; register how with torchinit.register_buffer_init(LayerClass, buffers=[...]), "
            "or build the model with those buffers on a real device",
            path="device",
        )
    return found

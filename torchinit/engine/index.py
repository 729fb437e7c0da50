"""The model index: every layer and tensor slot of a model, with all their names, in order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Literal

import torch
from torch import nn
from torch.nn.utils import parametrize

from torchinit._wrappers import bare_glob, bare_name, unwrap
from torchinit.errors import ArgumentTypeError
from torchinit.patterns import NameGlob

SlotKind = Literal["param", "parametrized", "none"]


@dataclasses.dataclass(eq=False, slots=True)
class Slot:
    """One initializable tensor: a parameter, a parametrized tensor, or an empty ``None`` slot."""

    module: nn.Module
    local: str
    kind: SlotKind
    names: list[str]
    position: int
    parameter: nn.Parameter | None = None
    # names of the parametrization's original tensors, so include/exclude can use them
    underlying: tuple[str, ...] = ()

    @property
    def all_names(self) -> list[str]:
        return [*self.names, *self.underlying]

    def value(self) -> torch.Tensor | None:
        if self.kind == "param":
            return self.parameter
        if self.kind == "parametrized":
            # reading the tensor runs its parametrizations, which may update their buffers
            # (spectral_norm's power iteration, in training mode): looking must not change them
            buffers = list(parametrization_list(self.module, self.local).buffers())
            with torch.no_grad():
                kept = [buffer.clone() for buffer in buffers]
                value = getattr(self.module, self.local)
                for buffer, saved in zip(buffers, kept, strict=True):
                    buffer.copy_(saved)
            assert isinstance(value, torch.Tensor)
            return value
        return None


def join(prefix: str, local: str) -> str:
    return f"{prefix}.{local}" if prefix else local


def walk(
    model: nn.Module, *, children_first: bool = False, root: str = ""
) -> Iterator[tuple[str, nn.Module]]:
    """Every layer under ``model`` with its full dotted name, once per name (a layer shared by
    two parents comes twice): in ``model.named_modules(remove_duplicate=False)`` order, or, with
    ``children_first``, in ``model.apply`` order (timm's ``named_apply(depth_first=True)``).
    ``root`` is ``model``'s own name, the start of every other name."""
    stack: list[tuple[str, nn.Module, bool]] = [(root, model, False)]
    push = stack.append
    while stack:
        name, module, expanded = stack.pop()
        if expanded:
            yield name, module
            continue
        if children_first:
            push((name, module, True))
        else:
            yield name, module
        children = module._modules
        if children:
            prefix = f"{name}." if name else ""
            for local, child in reversed(children.items()):
                if child is not None:
                    push((prefix + local, child, False))


# the only types _is_parametrization_container accepts: one isinstance check rules out the rest
_CONTAINERS = (parametrize.ParametrizationList, nn.ModuleDict)
# the layers the index looks twice at: one isinstance check on every layer rules out the rest
_SPECIAL = (*_CONTAINERS, torch.jit.ScriptModule)


def _is_parametrization_container(name: str, module: nn.Module) -> bool:
    # torch's own bookkeeping modules for parametrizations are not layers a rule should see
    return isinstance(module, parametrize.ParametrizationList) or (
        name.endswith("parametrizations") and isinstance(module, nn.ModuleDict)
    )


def _refuse_script(name: str, module: nn.Module) -> None:
    # a scripted layer is no instance of its eager class (type rules would skip it silently),
    # has no Python reset_parameters and keeps its tensors in C++: refused before anything runs
    raise ArgumentTypeError(
        "torch.jit.script modules are not supported; initialize the eager module, then script it",
        where=name,
        path="model",
        got=type(module).__name__,
    )


class ModelIndex:
    """Every layer and tensor slot of a model, with all their names, in traversal order.

    The wrappers around the model that prefix its names (``DataParallel``, ``torch.compile``:
    see :mod:`torchinit._wrappers`) are not layers: the index starts at the model inside them,
    ``model``, with the names the wrapper gives (``_orig_mod.fc.weight``); rules match the bare
    names (:meth:`bare`, :meth:`glob`).
    """

    def __init__(self, model: nn.Module, order: str) -> None:
        model, prefix = unwrap(model)
        self.model = model
        self.prefix = prefix
        root = prefix[:-1]
        # each layer and its names, by the layer's id, in model.modules() order
        self.layers: dict[int, tuple[nn.Module, list[str]]] = {}
        for name, module in walk(model, root=root):
            if isinstance(module, _SPECIAL):
                if isinstance(module, torch.jit.ScriptModule):
                    _refuse_script(name, module)
                if _is_parametrization_container(name, module):
                    continue
            known = self.layers.get(id(module))
            if known is None:
                self.layers[id(module)] = (module, [name])
            else:
                known[1].append(name)
        if order == "modules":
            self.modules = list(self.layers.values())
        else:
            # first visit wins
            walked = walk(model, children_first=True, root=root)
            applied = {id(module): None for _, module in walked}
            self.modules = [self.layers[key] for key in applied if key in self.layers]
        self.slots: list[Slot] = []
        # a parameter's slot by the parameter's id (under any of its layers, when it is tied);
        # the other slots (None, parametrized) by their layer's id and local name
        self.by_parameter: dict[int, Slot] = {}
        self.no_parameter: dict[tuple[int, str], Slot] = {}
        slots = self.slots
        by_parameter = self.by_parameter
        for module, module_names in self.modules:
            if "parametrizations" in module._modules:
                for local, underlying in parametrized(module):
                    slot = Slot(
                        module,
                        local,
                        "parametrized",
                        [join(prefix, local) for prefix in module_names],
                        len(slots),
                        None,
                        tuple(join(prefix, u) for prefix in module_names for u in underlying),
                    )
                    slots.append(slot)
                    self.no_parameter[(id(module), local)] = slot
            single = module_names[0] if len(module_names) == 1 else None
            for local, parameter in module._parameters.items():
                if single is not None:
                    full = [f"{single}.{local}" if single else local]
                else:
                    full = [join(prefix, local) for prefix in module_names]
                if parameter is None:
                    slot = Slot(module, local, "none", full, len(slots))
                    self.no_parameter[(id(module), local)] = slot
                else:
                    slot = Slot(module, local, "param", full, len(slots), parameter)
                    shared = by_parameter.setdefault(id(parameter), slot)
                    if shared is not slot:
                        # a tied parameter: one slot, initialized once, known by all its names
                        shared.names.extend(name for name in full if name not in shared.names)
                        continue
                slots.append(slot)

    def bare(self, names: list[str]) -> list[str]:
        """``names``, names in the model, without the wrappers' prefix: the names globs match."""
        prefix = self.prefix
        return [bare_name(name, prefix) for name in names] if prefix else names

    def glob(self, glob: NameGlob) -> NameGlob:
        """``glob``, to match bare names with (see :func:`~torchinit._wrappers.bare_glob`)."""
        return bare_glob(glob, self.prefix) if self.prefix else glob

    def slot(self, module: nn.Module, local: str) -> Slot | None:
        """The slot that ``module``, a layer of the model, calls ``local``."""
        parameter = module._parameters.get(local)
        if parameter is not None:
            return self.by_parameter[id(parameter)]
        return self.no_parameter.get((id(module), local))

    def own_slots(self, module: nn.Module) -> list[tuple[str, Slot]]:
        """The slots of ``module``, a layer of the model, by local name, in their order."""
        return [
            (local, slot)
            for local in own_names(module)
            if (slot := self.slot(module, local)) is not None
        ]


def own_names(module: nn.Module) -> list[str]:
    """The local names of ``module``'s own slots: parametrized tensors, then parameters."""
    return [local for local, _ in parametrized(module)] + list(module._parameters)


def parametrization_list(module: nn.Module, local: str) -> parametrize.ParametrizationList:
    """The parametrizations torch applies to ``module``'s tensor ``local``."""
    plist = _parametrizations(module)[local]
    assert isinstance(plist, parametrize.ParametrizationList)
    return plist


def _parametrizations(module: nn.Module) -> nn.ModuleDict:
    """The ``ModuleDict`` of parametrization lists torch puts on a parametrized module."""
    container = module.parametrizations
    assert isinstance(container, nn.ModuleDict)
    return container


def parametrized(module: nn.Module) -> list[tuple[str, list[str]]]:
    """The parametrized tensors of ``module``: their names and their original tensors' names."""
    # cheaper than parametrize.is_parametrized, whose failing getattr dominates big models
    if not isinstance(module._modules.get("parametrizations"), nn.ModuleDict):
        return []
    return [
        (
            local,
            [
                f"parametrizations.{local}.{name}"
                for name, _ in plist.named_parameters(recurse=False)
            ],
        )
        for local, plist in _parametrizations(module).items()
    ]

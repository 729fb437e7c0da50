"""LSUV: rescale each layer's weights until its output has the std asked for, on real inputs.

Mishkin & Matas, "All you need is a good init" (ICLR 2016): after any init (the paper's is
orthonormal), go through the layers with weights in the order the forward pass calls them;
for each, run the inputs, measure the std ``s`` of the layer's output and multiply its
weight by ``target_std / s``, until ``|s - target_std| <= tol`` or ``max_iter`` rescalings.
Because the layers before it are done first, each layer is scaled for the signal it really
gets. The forward pass stops at the layer being measured, so a layer costs the forward up to
it.

Example:
    >>> import torch, torchinit
    >>> layers = [torch.nn.Linear(64, 64) for _ in range(10)]
    >>> model = torch.nn.Sequential(*[m for layer in layers for m in (layer, torch.nn.Tanh())])
    >>> inputs = torch.randn(256, 64, generator=torch.Generator().manual_seed(0))
    >>> report = torchinit.lsuv(model, inputs, generator=torch.Generator().manual_seed(0))
    >>> report.converged, round(report["18"].final_std, 1)
    (True, 1.0)
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, cast

import torch
from torch import nn

from torchinit import _validate
from torchinit._table import summarise
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, TorchInitWarning
from torchinit.families import Conv, ConvTranspose
from torchinit.patterns import NameGlob
from torchinit.probe import Mode, Probe, first_tensor, run
from torchinit.strategies import Orthogonal

__all__ = ["LSUV_TYPES", "LSUVLayer", "LSUVReport", "lsuv"]

#: The layer types :func:`lsuv` rescales by default. ``nn.MultiheadAttention`` is rescaled
#: through its output projection (which it applies without calling it as a module).
LSUV_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, *Conv, *ConvTranspose, nn.MultiheadAttention)


@dataclasses.dataclass(frozen=True)
class LSUVLayer:
    """What :func:`lsuv` did to one layer.

    Attributes:
        name: the layer's name.
        type: its class name.
        initial_std: its output's std before (``None`` if it was never called).
        final_std: after.
        scale: the factor its weight was multiplied by, in all.
        iterations: the rescalings made.
        converged: whether ``|final_std - target_std| <= tol``.
    """

    name: str
    type: str
    initial_std: float | None
    final_std: float | None
    scale: float
    iterations: int
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class LSUVReport:
    """The layers :func:`lsuv` went through, in forward order, and those it could not.

    Attributes:
        target_std, tol: what was asked.
        layers: one :class:`LSUVLayer` per layer, in the order the forward pass called them
            (layers never called come last, unconverged).
    """

    target_std: float
    tol: float
    layers: tuple[LSUVLayer, ...]

    @property
    def converged(self) -> bool:
        """Whether every layer reached the tolerance."""
        return all(layer.converged for layer in self.layers)

    def __getitem__(self, name: str) -> LSUVLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def __str__(self) -> str:
        header = ("layer", "type", "std before", "std after", "scale", "iterations")
        rows = [header] + [
            (
                layer.name,
                layer.type,
                _number(layer.initial_std),
                _number(layer.final_std) + ("" if layer.converged else " (!)"),
                f"{layer.scale:.4g}",
                str(layer.iterations),
            )
            for layer in self.layers
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                 for row in rows]  # fmt: skip
        missed = [layer.name for layer in self.layers if not layer.converged]
        verdict = (
            f"every layer within {self.tol:g} of std {self.target_std:g}"
            if not missed
            else f"not within {self.tol:g} of std {self.target_std:g}: "
            + summarise(missed, "layers")
        )
        return "\n".join([f"lsuv: {len(self.layers)} layers, {verdict}", *map(str.rstrip, lines)])

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "target_std": self.target_std,
            "tol": self.tol,
            "converged": self.converged,
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


class _Measured(Exception):  # noqa: N818 (not an error: it ends a forward pass early)
    """Raised by the hook of the layer being measured, to stop the forward pass there."""


def lsuv(
    model: nn.Module,
    inputs: Any,
    *,
    target_std: float = 1.0,
    tol: float = 0.1,
    max_iter: int = 10,
    types: Sequence[type[nn.Module]] | type[nn.Module] = LSUV_TYPES,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    orthogonal: bool = False,
    generator: torch.Generator | None = None,
    mode: Mode | None = "eval",
) -> LSUVReport:
    """Layer-sequential unit-variance init (Mishkin & Matas 2016): rescale each layer's weight
    until its output's std on ``inputs`` is within ``tol`` of ``target_std``.

    Run it after a policy (``init_model(model, "...")``), or with ``orthogonal=True`` for the
    paper's orthonormal pre-init (weights from :class:`~torchinit.Orthogonal`, biases zero).
    Layers are taken in the order the forward pass first calls them; the weight of each is
    multiplied by ``target_std / std`` until ``|std - target_std| <= tol`` or ``max_iter``
    rescalings (then a :class:`~torchinit.TorchInitWarning` names it: a layer whose output is
    mostly its bias, say). The model is run under :class:`torchinit.probe.Probe`: no hook,
    mode, buffer (BatchNorm statistics), gradient or global random state changes; only the
    rescaled weights (and, with ``orthogonal``, the pre-initialized tensors) do. The result
    depends on nothing but the model, the inputs and ``generator``.

    Args:
        model: the model.
        inputs: one batch: a tensor (``model(inputs)``), a tuple (``model(*inputs)``) or a
            dict (``model(**inputs)``).
        target_std: the std each layer's output is brought to, ``> 0``.
        tol: how close, ``> 0``.
        max_iter: the most rescalings per layer, ``>= 1``.
        types: the layer classes to rescale (subclasses included): by default Linear,
            Conv*, ConvTranspose* and MultiheadAttention (through its output projection).
        include: only layers whose name matches one of these globs.
        exclude: never layers whose name matches one of these.
        orthogonal: first draw every rescaled layer's weight orthonormal and zero its bias.
        generator: where ``orthogonal`` draws from (default: torch's global generator).
        mode: ``"eval"`` (default: dropout off, BatchNorm on its running statistics),
            ``"train"``, or ``None`` for the model's own.

    Returns:
        An :class:`LSUVReport`: per layer, the std before and after, the scale and the
        rescalings made.
    """
    target_std = _validate.positive(target_std, "target_std")
    tol = _validate.positive(tol, "tol")
    max_iter = _validate.integer(max_iter, "max_iter", minimum=1)
    _validate.boolean(orthogonal, "orthogonal")
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError("must be a torch.nn.Module", path="model", got=type(model).__name__)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ArgumentTypeError(
            "must be a torch.Generator or None", path="generator", got=generator
        )
    targets = _targets(model, types, _globs(include, "include"), _globs(exclude, "exclude"))
    if orthogonal:
        with torch.no_grad():
            for _, module, _ in targets:
                weights, biases = _tensors(module)
                for weight in weights:
                    Orthogonal()(weight, generator=generator)
                for bias in biases:
                    bias.zero_()
    with Probe(model, mode=mode) as probe, torch.no_grad():
        order = _forward_order(model, inputs, targets, probe)
        rows = [_rescale(model, inputs, target, probe, target_std, tol, max_iter)
                for target in order]  # fmt: skip
    called = {id(module) for _, module, _ in order}
    rows += [
        LSUVLayer(name, type(module).__name__, None, None, 1.0, 0, False)
        for name, module, _ in targets
        if id(module) not in called
    ]
    report = LSUVReport(target_std, tol, tuple(rows))
    missed = [row for row in rows if not row.converged]
    if missed:
        warnings.warn(
            f"lsuv: {summarise([_why(row) for row in missed], 'layers')}: not within {tol:g} "
            f"of std {target_std:g}",
            TorchInitWarning,
            stacklevel=2,
        )
    return report


def _why(row: LSUVLayer) -> str:
    if row.initial_std is None:
        return f"{row.name} (never called)"
    return f"{row.name} (std {row.final_std:.4g} after {row.iterations} rescalings)"


_Target = tuple[str, nn.Module, torch.Tensor]


def _is_attention(module: nn.Module) -> bool:
    return isinstance(module, nn.MultiheadAttention)


def _tensors(module: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """A layer's weights and biases (an attention layer's projections, packed or not)."""
    layer: Any = module
    if _is_attention(module):
        weights = [getattr(layer, name) for name in _ATTENTION_WEIGHTS] + [layer.out_proj.weight]
        biases = [layer.in_proj_bias, layer.out_proj.bias]
    else:
        weights, biases = [getattr(layer, "weight", None)], [getattr(layer, "bias", None)]
    return _present(weights), _present(biases)


_ATTENTION_WEIGHTS = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")


def _present(tensors: list[Any]) -> list[torch.Tensor]:
    return [tensor for tensor in tensors if isinstance(tensor, torch.Tensor)]


def _targets(
    model: nn.Module,
    types: Sequence[type[nn.Module]] | type[nn.Module],
    include: list[NameGlob] | None,
    exclude: list[NameGlob] | None,
) -> list[_Target]:
    """The layers to rescale, with the weight that scales each one's output."""
    classes = (types,) if isinstance(types, type) else tuple(types)
    if not all(isinstance(cls, type) and issubclass(cls, nn.Module) for cls in classes):
        raise ArgumentTypeError("must be nn.Module classes", path="types", got=types)
    # the output projection of an attention layer is applied by it, never called as a module
    inside_attention = {
        id(cast(Any, module).out_proj) for module in model.modules() if _is_attention(module)
    }
    targets = []
    for name, module in model.named_modules():
        if not isinstance(module, classes) or id(module) in inside_attention:
            continue
        if include is not None and not any(glob.matches(name) for glob in include):
            continue
        if exclude is not None and any(glob.matches(name) for glob in exclude):
            continue
        # the weight that scales the output: an attention layer's is its output projection's
        weight = _tensors(module)[0][-1:]
        if weight and weight[0].numel() > 0:
            targets.append((name, module, weight[0]))
    return targets


def _globs(value: Any, path: str) -> list[NameGlob] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    return [NameGlob(item) for item in items]


def _forward_order(
    model: nn.Module, inputs: Any, targets: list[_Target], probe: Probe
) -> list[_Target]:
    """The targets in the order one forward pass first calls them."""
    first_calls: dict[int, int] = {}
    handles = []
    for _, module, _ in targets:

        def seen(called: nn.Module, _output: Any) -> None:
            first_calls.setdefault(id(called), len(first_calls))

        handles.append(probe.on_output(module, seen))
    run(model, inputs)
    for handle in handles:
        handle.remove()
    called = [target for target in targets if id(target[1]) in first_calls]
    return sorted(called, key=lambda target: first_calls[id(target[1])])


def _measure(model: nn.Module, inputs: Any, module: nn.Module, probe: Probe) -> float:
    """The std of ``module``'s output at its first call, running the model up to there."""
    measured: list[float] = []

    def hook(_module: nn.Module, output: Any) -> None:
        tensor = first_tensor(output)
        measured.append(math.nan if tensor is None else float(tensor.double().std()))
        raise _Measured

    handle = probe.on_output(module, hook)
    try:
        run(model, inputs)
    except _Measured:
        pass
    finally:
        handle.remove()
    if not measured:
        raise InvalidArgumentError(
            "the model's forward pass stopped calling a layer it called before",
            path="inputs",
            got=type(module).__name__,
        )
    return measured[0]


def _rescale(
    model: nn.Module,
    inputs: Any,
    target: _Target,
    probe: Probe,
    target_std: float,
    tol: float,
    max_iter: int,
) -> LSUVLayer:
    name, module, weight = target
    std = initial = _measure(model, inputs, module, probe)
    scale, iterations = 1.0, 0
    while abs(std - target_std) > tol and iterations < max_iter and math.isfinite(std) and std > 0:
        factor = target_std / std
        weight.mul_(factor)
        scale *= factor
        iterations += 1
        std = _measure(model, inputs, module, probe)
    converged = abs(std - target_std) <= tol
    return LSUVLayer(name, type(module).__name__, initial, std, scale, iterations, converged)

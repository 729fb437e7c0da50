"""How a signal travels through a freshly initialized model: :func:`diagnose` runs one forward
and one backward pass with hooks and reports, per layer call, the size of the output and of the
gradient arriving at it (He et al. 2015's forward and backward analysis, measured);
:func:`compare_policies` does it for several policies on the same model.

The model is run under :class:`torchinit.probe.Probe`, which leaves it exactly as it was: no
hook stays behind, parameters keep their ``.grad`` and ``requires_grad``, modules their training
flags, buffers (BatchNorm's running statistics) their values, and torch's global random number
generators their states.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from torchinit import _validate
from torchinit.checking import law_moments
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, MissingDependencyError
from torchinit.probe import Mode, Probe, first_tensor, rng_preserved, run
from torchinit.report import InitReport, ReportEntry

__all__ = [
    "Comparison",
    "Diagnosis",
    "LayerRow",
    "ParamRow",
    "compare_policies",
    "diagnose",
]

# the seed of the default loss's fixed projection: its own generator, never the global one
_PROJECTION_SEED = 0
# an output within this fraction of its activation's range from a bound is "saturated"
_SATURATION_MARGIN = 0.01
_PLOT_EXTRA = "plot needs matplotlib: pip install torchinit[plot]"


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """One call of one module during the probe: its output, and the gradient arriving at it.

    Attributes:
        name: the module's name in the model (``""`` for the model itself).
        call: 0 for the module's first call in the pass, 1 for its second, ...
        type: the module's class name.
        out_mean: mean of the output's elements.
        out_std: their standard deviation (population: divided by n).
        out_rms: their root mean square, ``sqrt(mean(y**2))``.
        zero_fraction: the fraction of elements exactly 0 (dead ReLUs).
        saturated_fraction: for bounded activations (``Tanh``, ``Sigmoid``, ``Hardtanh``,
            ``ReLU6``, ``Hardsigmoid``, ``Softsign``), the fraction of elements within 1% of
            the range from a bound; ``None`` for other modules.
        grad_std: standard deviation of the gradient of the loss with respect to the output;
            ``None`` without a backward pass, or where no gradient reaches the output on its
            way to a parameter that requires grad.
    """

    name: str
    call: int
    type: str
    out_mean: float
    out_std: float
    out_rms: float
    zero_fraction: float
    saturated_fraction: float | None
    grad_std: float | None

    @property
    def label(self) -> str:
        """The module's name, with ``#call`` from its second call on (``layer1.0.relu#1``)."""
        name = self.name or "(model)"
        return f"{name}#{self.call}" if self.call else name


@dataclasses.dataclass(frozen=True)
class ParamRow:
    """One parameter of the model (tied parameters once, under their first name).

    Attributes:
        name: the parameter's name.
        shape: its shape.
        std: the standard deviation of its values (population: divided by n).
        target_std: the standard deviation of the law the report's strategy drew it from
            (:func:`torchinit.checking.law_moments`); ``None`` without a report, for a
            parameter the report did not initialize, or a strategy without an elementwise law
            (orthogonal, layer resets).
    """

    name: str
    shape: tuple[int, ...]
    std: float
    target_std: float | None


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` measured: a row per module call and a row per parameter.

    ``str(diagnosis)`` is a table, :meth:`to_dict` JSON-ready data, :meth:`plot` a PNG.

    Attributes:
        model: the model's class name.
        mode: ``"train"`` or ``"eval"``: the mode the pass ran the model in (its modules may
            have had their own, with ``mode=None``).
        layers: one :class:`LayerRow` per module call, in the order the calls returned.
        params: one :class:`ParamRow` per parameter, in ``named_parameters`` order.
    """

    model: str
    mode: Mode
    layers: tuple[LayerRow, ...]
    params: tuple[ParamRow, ...]

    def __str__(self) -> str:
        return self.format_table()

    def format_table(self) -> str:
        """The layer rows, then the parameter rows, as text tables (``-`` for ``None``)."""
        layer_lines = _table(
            ("layer", "type", "out_mean", "out_std", "out_rms", "zero", "saturated", "grad_std"),
            [
                (
                    row.label,
                    row.type,
                    _number(row.out_mean),
                    _number(row.out_std),
                    _number(row.out_rms),
                    _number(row.zero_fraction),
                    _number(row.saturated_fraction),
                    _number(row.grad_std),
                )
                for row in self.layers
            ],
        )
        param_lines = _table(
            ("parameter", "shape", "std", "target_std"),
            [
                (row.name, "x".join(map(str, row.shape)), _number(row.std), _number(row.target_std))
                for row in self.params
            ],
        )
        head = (
            f"torchinit.diagnose: {self.model} ({self.mode} mode): "
            f"{len(self.layers)} layer calls, {len(self.params)} parameters"
        )
        return "\n".join([head, *layer_lines, "", *param_lines])

    def to_dict(self) -> dict[str, Any]:
        """The diagnosis as JSON-ready data (``nan``/``inf`` statistics become ``None``)."""
        return {
            "model": self.model,
            "mode": self.mode,
            "layers": [_json_row(dataclasses.asdict(row)) for row in self.layers],
            "params": [
                _json_row({**dataclasses.asdict(row), "shape": list(row.shape)})
                for row in self.params
            ],
        }

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Write a PNG to ``path``: the output std (forward) and the gradient std (backward) of
        each layer call, by depth, on a log scale.

        Needs matplotlib (``pip install torchinit[plot]``); pyplot's global state is not used.
        """
        _plot({self.model: self}, path)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """What :func:`compare_policies` measured: one :class:`Diagnosis` per policy.

    ``str(comparison)`` is a table with a row per layer call and, per policy, its output std
    and gradient std; :meth:`plot` draws a line per policy.

    Attributes:
        diagnoses: the diagnosis of each policy, by its label.
    """

    diagnoses: dict[str, Diagnosis]

    def __str__(self) -> str:
        return self.format_table()

    def format_table(self) -> str:
        """A row per layer call (of the first policy's model), the stds of every policy."""
        labels = list(self.diagnoses)
        by_policy = [
            {(row.name, row.call): row for row in diagnosis.layers}
            for diagnosis in self.diagnoses.values()
        ]
        first = next(iter(self.diagnoses.values()), None)
        layers = first.layers if first is not None else ()
        rows = []
        for depth, row in enumerate(layers):
            cells = [str(depth), row.label]
            for found in by_policy:
                same = found.get((row.name, row.call))
                cells.append(_number(same.out_std if same is not None else None))
                cells.append(_number(same.grad_std if same is not None else None))
            rows.append(tuple(cells))
        headers = ["depth", "layer"]
        for label in labels:
            headers += [f"{label} out_std", f"{label} grad_std"]
        return "\n".join(_table(tuple(headers), rows))

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON-ready data: each policy's :meth:`Diagnosis.to_dict`."""
        return {label: diagnosis.to_dict() for label, diagnosis in self.diagnoses.items()}

    def plot(self, path: str | os.PathLike[str]) -> None:
        """Write a PNG to ``path``: forward and backward std by depth, a line per policy, on a
        log scale (He et al. 2015, figure 3). Needs matplotlib (``pip install torchinit[plot]``).
        """
        _plot(self.diagnoses, path)


def diagnose(
    model: nn.Module,
    inputs: torch.Tensor | tuple[Any, ...] | Mapping[str, Any],
    *,
    loss: Callable[[Any], torch.Tensor] | None = None,
    mode: Mode | None = None,
    backward: bool = True,
    report: InitReport | None = None,
) -> Diagnosis:
    """Run one forward and one backward pass and measure each layer's output and gradient.

    The He et al. (2015) analysis, measured rather than derived: with a good initialization
    the output std of the layers stays of one size from the first to the last, and so does the
    std of the gradient arriving at them; with a poor one it shrinks or grows geometrically
    with depth. ``diagnose`` leaves the model exactly as it found it (it runs it under
    :class:`torchinit.probe.Probe`).

    A row is made for each call of a module that has no children or has parameters of its own
    (``nn.MultiheadAttention``): a module called twice (torchvision's ``BasicBlock.relu``)
    gives two rows, ``call`` 0 and 1. The rows follow the order in which the calls returned.
    The statistics are those of the output's first floating-point tensor (depth first through
    tuples, lists, dicts and Hugging Face ``ModelOutput``); a call whose output holds none
    gives no row. They are taken as the call returns, before an in-place activation that
    follows can change the output.

    Without ``loss``, the backward pass starts from ``sum(y * r)``, where ``y`` is the model
    output's first floating-point tensor and ``r`` a fixed standard-normal draw of its shape
    (its own generator, seed 0): the gradient arriving at the output then has std 1 whatever
    the output's size, so the ``grad_std`` of the other rows is the backward pass's own gain.
    The gradients are taken with ``torch.autograd.grad`` with respect to the parameters that
    require grad: no ``.grad`` is written, and a model whose parameters are all frozen gets no
    ``grad_std``.

    Args:
        model: the model, on any device.
        inputs: a tensor (``model(inputs)``), a tuple (``model(*inputs)``) or a mapping
            (``model(**inputs)``); token ids and other non-floating inputs are fine.
        loss: ``loss(output) -> scalar tensor``, called on whatever the model returns.
        mode: ``"train"`` or ``"eval"``: the whole model in that mode for the pass; ``None``:
            each module in its current mode (a frozen BatchNorm in a model in train mode stays
            in eval mode). The modules' flags are restored afterwards.
        backward: run the backward pass (``grad_std``); ``False`` for forward statistics only.
        report: the :class:`~torchinit.InitReport` of the ``init_model`` call that
            initialized the model: each parameter's ``target_std`` is read from it.

    Returns:
        A :class:`Diagnosis`.

    Example:
        >>> import torch, torchinit
        >>> from torch import nn
        >>> layers = [nn.Sequential(nn.Linear(256, 256), nn.ReLU()) for _ in range(8)]
        >>> model = nn.Sequential(*layers)
        >>> kaiming = torchinit.Rule(
        ...     nn.Linear, weight=torchinit.KaimingNormal(nonlinearity="relu"), bias="zeros")
        >>> report = torchinit.init_model(model, torchinit.Policy([kaiming]), seed=0)
        >>> x = torch.randn(128, 256, generator=torch.Generator().manual_seed(0))
        >>> diagnosis = torchinit.diagnose(model, x, report=report)
        >>> first, last = diagnosis.layers[0], diagnosis.layers[-1]
        >>> first.label, last.label, round(last.zero_fraction, 1)
        ('0.0', '7.1', 0.5)
        >>> 0.3 < last.out_std / first.out_std < 3
        True
        >>> row = diagnosis.params[0]
        >>> row.name, round(row.target_std, 4), abs(row.std / row.target_std - 1) < 0.01
        ('0.0.weight', 0.0884, True)
    """
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError("must be a torch.nn.Module", path="model", got=model)
    probe = Probe(model, mode=mode)
    _validate.boolean(backward, "backward")
    if report is not None and not isinstance(report, InitReport):
        raise ArgumentTypeError("must be an InitReport or None", path="report", got=report)
    if loss is not None and not callable(loss):
        raise ArgumentTypeError("must be callable or None", path="loss", got=loss)
    if not isinstance(inputs, (torch.Tensor, tuple, Mapping)):
        raise ArgumentTypeError(
            "must be a tensor, a tuple of positional arguments or a mapping of keyword arguments",
            path="inputs",
            got=type(inputs).__name__,
        )
    run_mode: Mode = mode if mode is not None else ("train" if model.training else "eval")
    with probe:
        layers = _measure(probe, inputs, loss, backward)
    return Diagnosis(
        model=type(model).__name__,
        mode=run_mode,
        layers=layers,
        params=_param_rows(model, report),
    )


def compare_policies(
    build_model: Callable[[], nn.Module],
    policies: Sequence[Any] | Mapping[str, Any],
    inputs: torch.Tensor | tuple[Any, ...] | Mapping[str, Any],
    *,
    seed: int = 0,
    loss: Callable[[Any], torch.Tensor] | None = None,
    mode: Mode | None = None,
) -> Comparison:
    """Diagnose the same model under several policies (Kaiming vs Xavier vs torch's default).

    For each policy, ``build_model()`` makes a fresh model, ``init_model(model, policy,
    seed=seed)`` initializes it (keyed seeding: every policy draws from the same seed), and
    :func:`diagnose` measures it with ``inputs``. Torch's global random number generators are
    left as they were, ``build_model``'s own draws included.

    Args:
        build_model: a callable taking no argument and returning a new model.
        policies: the policies (preset names, YAML paths, :class:`~torchinit.Policy`), labelled
            by their name (a ``Policy`` without one is ``policies[i]``); or a mapping from
            labels of your choice to policies.
        inputs: as for :func:`diagnose`.
        seed: the seed of ``init_model``.
        loss: as for :func:`diagnose`.
        mode: as for :func:`diagnose`.

    Returns:
        A :class:`Comparison`.

    Example:
        >>> import torch, torchinit
        >>> from torch import nn
        >>> def build():
        ...     layers = [nn.Sequential(nn.Linear(64, 64), nn.ReLU()) for _ in range(20)]
        ...     return nn.Sequential(*layers)
        >>> policies = {
        ...     "kaiming": torchinit.Policy([torchinit.Rule(
        ...         nn.Linear, weight=torchinit.KaimingNormal(nonlinearity="relu"), bias="zeros")]),
        ...     "xavier": torchinit.Policy([
        ...         torchinit.Rule(nn.Linear, weight="xavier_normal", bias="zeros")]),
        ...     "torch default": "torch_default",
        ... }
        >>> x = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
        >>> comparison = torchinit.compare_policies(build, policies, x)
        >>> stds = {label: d.layers[-1].out_std for label, d in comparison.diagnoses.items()}
        >>> stds["kaiming"] > 0.1, stds["xavier"] < 1e-3
        (True, True)
        >>> print(comparison)  # doctest: +ELLIPSIS
        depth  layer  kaiming out_std  kaiming grad_std  xavier out_std ...
    """
    from torchinit.engine import init_model

    if not callable(build_model):
        raise ArgumentTypeError("must be a callable returning a model", path="build_model")
    if isinstance(policies, Mapping):
        labelled = list(policies.items())
    elif isinstance(policies, (list, tuple)):
        labelled = [(_policy_label(policy, index), policy) for index, policy in enumerate(policies)]
    else:
        raise ArgumentTypeError(
            "must be a list of policies or a mapping of labels to policies",
            path="policies",
            got=policies,
        )
    if not labelled:
        raise InvalidArgumentError("must hold at least one policy", path="policies", got=policies)
    labels = [str(label) for label, _ in labelled]
    for label in labels:
        if labels.count(label) > 1:
            raise InvalidArgumentError(
                "two policies have this label; pass a mapping of labels to policies",
                path="policies",
                got=label,
            )
    diagnoses: dict[str, Diagnosis] = {}
    # build_model's own draws (layer constructors) come from the global generator too
    with rng_preserved():
        for label, policy in labelled:
            model = build_model()
            if not isinstance(model, nn.Module):
                raise ArgumentTypeError(
                    "must return a torch.nn.Module", path="build_model()", got=model
                )
            report = init_model(model, policy, seed=seed)
            diagnoses[str(label)] = diagnose(model, inputs, loss=loss, mode=mode, report=report)
    return Comparison(diagnoses)


def _policy_label(policy: Any, index: int) -> str:
    name = getattr(policy, "name", None)
    if isinstance(policy, (str, os.PathLike)):
        return os.fspath(policy)
    return name if isinstance(name, str) and name else f"policies[{index}]"


def _saturation_bounds(module: nn.Module) -> tuple[float, float] | None:
    """The range of a bounded activation's output, or ``None`` for any other module."""
    if isinstance(module, nn.Hardtanh):  # ReLU6 too
        return float(module.min_val), float(module.max_val)
    if isinstance(module, (nn.Tanh, nn.Softsign)):
        return -1.0, 1.0
    if isinstance(module, (nn.Sigmoid, nn.Hardsigmoid)):
        return 0.0, 1.0
    return None


@dataclasses.dataclass
class _Call:
    """A module call as the hooks see it: forward statistics as tensors (read once at the
    end, so that a CUDA model is synchronised once), and the gradient's std once it arrives."""

    name: str
    call: int
    type: str
    stats: torch.Tensor
    saturated: bool
    grad_std: torch.Tensor | None = None


def _measure(
    probe: Probe,
    inputs: Any,
    loss: Callable[[Any], torch.Tensor] | None,
    backward: bool,
) -> tuple[LayerRow, ...]:
    model = probe.model
    calls: list[_Call] = []
    counts: dict[str, int] = {}

    def hook_for(name: str) -> Callable[[nn.Module, Any], None]:
        def hook(module: nn.Module, output: Any) -> None:
            index = counts.get(name, 0)
            counts[name] = index + 1
            tensor = first_tensor(output)
            if tensor is None:
                return
            bounds = _saturation_bounds(module)
            stats = _forward_stats(tensor.detach(), bounds)
            record = _Call(name, index, type(module).__name__, stats, bounds is not None)
            calls.append(record)
            if backward and tensor.requires_grad:
                probe.on_grad(tensor, _grad_hook(record))

        return hook

    for name, module in model.named_modules():
        if not module._modules or module._parameters:
            probe.on_output(module, hook_for(name))
    with torch.enable_grad():
        output = run(model, inputs)
        if backward:
            _backward(model, output, loss)
    return _rows(calls)


def _forward_stats(tensor: torch.Tensor, bounds: tuple[float, float] | None) -> torch.Tensor:
    """mean, std, rms, zero fraction and saturated fraction (0 when unbounded), in float32."""
    values = tensor.float()
    mean = values.mean()
    std = values.std(correction=0)
    rms = values.square().mean().sqrt()
    zero = (values == 0).float().mean()
    if bounds is None:
        saturated = torch.zeros((), device=values.device)
    else:
        low, high = bounds
        margin = (high - low) * _SATURATION_MARGIN
        saturated = ((values <= low + margin) | (values >= high - margin)).float().mean()
    return torch.stack([mean, std, rms, zero, saturated])


def _grad_hook(record: _Call) -> Callable[[torch.Tensor], None]:
    def hook(grad: torch.Tensor) -> None:
        record.grad_std = grad.detach().float().std(correction=0)

    return hook


def _backward(model: nn.Module, output: Any, loss: Callable[[Any], torch.Tensor] | None) -> None:
    if loss is None:
        target = first_tensor(output)
        if target is None:
            raise ArgumentTypeError(
                "the model's output holds no floating-point tensor; pass loss= or backward=False",
                path="diagnose",
                got=type(output).__name__,
            )
        generator = torch.Generator(device=target.device).manual_seed(_PROJECTION_SEED)
        projection = torch.randn(
            target.shape, generator=generator, device=target.device, dtype=torch.float32
        )
        value = (target.float() * projection).sum()
    else:
        value = loss(output)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise ArgumentTypeError(
                "must return a tensor of one element", path="loss(output)", got=value
            )
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    if value.requires_grad and parameters:
        # with respect to the parameters, not .backward(): no .grad is written anywhere (an
        # input that requires grad included); the tensor hooks on the way fire all the same
        torch.autograd.grad(value.reshape(()), parameters, allow_unused=True)


def _rows(calls: Sequence[_Call]) -> tuple[LayerRow, ...]:
    if not calls:
        return ()
    stats = torch.stack([record.stats for record in calls]).tolist()
    grads = [record.grad_std for record in calls]
    present = [grad for grad in grads if grad is not None]
    values = iter(torch.stack(present).tolist() if present else [])
    grad_values = [next(values) if grad is not None else None for grad in grads]
    return tuple(
        LayerRow(
            name=record.name,
            call=record.call,
            type=record.type,
            out_mean=mean,
            out_std=std,
            out_rms=rms,
            zero_fraction=zero,
            saturated_fraction=saturated if record.saturated else None,
            grad_std=grad,
        )
        for record, (mean, std, rms, zero, saturated), grad in zip(
            calls, stats, grad_values, strict=True
        )
    )


def _param_rows(model: nn.Module, report: InitReport | None) -> tuple[ParamRow, ...]:
    entries: dict[str, ReportEntry] = {}
    if report is not None:
        for entry in report.entries:
            for name in (entry.name, *entry.aliases):
                entries[name] = entry
    rows = []
    for name, parameter in model.named_parameters():
        shape = tuple(parameter.shape)
        with torch.no_grad():
            std = parameter.detach().float().std(correction=0).item() if parameter.numel() else 0.0
        found = entries.get(name)
        target = None
        if found is not None and found.status == "initialized" and found.strategy is not None:
            law = found.strategy.law(shape)
            target = law_moments(law)[1] if law is not None else None
        rows.append(ParamRow(name=name, shape=shape, std=std, target_std=target))
    return tuple(rows)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    # JSON has no nan/inf; a diverged model's statistics are "not a number" to a reader anyway
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in row.items()
    }


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]


def _plot(diagnoses: Mapping[str, Diagnosis], path: str | os.PathLike[str]) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(_PLOT_EXTRA, path="plot", got=os.fspath(path)) from None
    figure = Figure(figsize=(10, 4), layout="constrained")
    forward, backward = figure.subplots(1, 2)
    for label, diagnosis in diagnoses.items():
        depths = range(len(diagnosis.layers))
        forward.plot(depths, [row.out_std for row in diagnosis.layers], label=label)
        grads = [row.grad_std if row.grad_std is not None else math.nan for row in diagnosis.layers]
        backward.plot(depths, grads, label=label)
    for axes, title in ((forward, "forward: output std"), (backward, "backward: gradient std")):
        axes.set_yscale("log", nonpositive="mask")
        axes.set_xlabel("layer call (depth)")
        axes.set_title(title)
        axes.legend()
    figure.savefig(os.fspath(path), format="png")

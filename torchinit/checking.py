"""Check, without data, that a model's tensors look drawn as a policy says.

:func:`check` plans the policy on the model (touching nothing), and compares each tensor the
policy sets with its strategy's law (:meth:`~torchinit.Strategy.law`): a constant must be
exact; a uniform, normal or truncated normal law gives the mean and standard deviation that
``n`` independent draws have, up to their standard errors,

.. math::
    \\operatorname{se}(\\bar x) = \\sigma / \\sqrt{n}, \\qquad
    \\operatorname{se}(s) \\approx \\sigma \\sqrt{(\\kappa - 1) / (4 n)}

(``κ`` the law's kurtosis: 3 for a normal, 1.8 for a uniform, at most 3 for a truncated
normal, so 3 is used there: a looser bound). A tensor whose mean or std is more than
``sigmas`` standard errors off (6 by default: a false alarm about once in 500 million tensors),
or that has values outside a bounded law's support, or non-finite values, is a *suspect*,
with the reason said: a layer a checkpoint left at another init, a fan mix-up
(``mode='fan_in'`` for ``'fan_out'``: the report says which mode would fit), a std off by a
gain. Tensors with fewer than two elements, and strategies without an elementwise law
(orthogonal, sparse, eye, dirac, a layer's own reset, a callable), are ``unchecked``.

Example:
    >>> import torch, torchinit
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(16, 64, 3), torch.nn.BatchNorm2d(64))
    >>> _ = torchinit.init_model(model, "resnet", seed=0)
    >>> torchinit.check(model, "resnet").ok
    True
    >>> _ = torchinit.init_model(model, torchinit.Policy([torchinit.Rule(
    ...     torch.nn.Conv2d, weight=torchinit.KaimingNormal(mode="fan_in"))]), seed=0)
    >>> print(torchinit.check(model, "resnet").suspects[0].problem)
    std 0.1178 is 2x the law's 0.05893 (135.6 standard errors); mode='fan_in' would fit
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from typing import Any, Literal, cast

import torch
from torch import nn

from torchinit import distributed
from torchinit._table import summarise
from torchinit.engine.api import plan
from torchinit.errors import InvalidArgumentError
from torchinit.fans import FAN_MODES
from torchinit.policy import Policy
from torchinit.strategies import Law, Strategy

__all__ = ["CheckReport", "TensorCheck", "Verdict", "check"]

Verdict = Literal["ok", "suspect", "unchecked"]

# kurtosis of each law (a truncated normal's is below 3: 3 bounds its std's error from above)
_KURTOSIS = {"normal": 3.0, "uniform": 1.8, "trunc_normal": 3.0}


@dataclasses.dataclass(frozen=True)
class TensorCheck:
    """One tensor set by the policy, against its strategy's law.

    Attributes:
        name: the tensor's name.
        strategy: the strategy the policy gives it.
        verdict: ``ok``, ``suspect`` or ``unchecked``.
        problem: why it is a suspect, or why it is unchecked; ``None`` when ok.
        expected_mean, expected_std: the law's mean and std (``None`` without a law).
        mean, std: the tensor's (``None`` when unchecked).
        numel: elements compared (a zeroed padding row left out).
    """

    name: str
    strategy: Strategy
    verdict: Verdict
    problem: str | None = None
    expected_mean: float | None = None
    expected_std: float | None = None
    mean: float | None = None
    std: float | None = None
    numel: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-ready data (non-finite numbers as strings)."""
        return {
            field.name: _json_number(getattr(self, field.name))
            if field.name != "strategy"
            else self.strategy.to_spec()
            for field in dataclasses.fields(self)
        }


def _json_number(value: Any) -> Any:
    return repr(value) if isinstance(value, float) and not math.isfinite(value) else value


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """What :func:`check` found: one :class:`TensorCheck` per tensor the policy sets.

    ``str(report)`` lists the suspects and the unchecked tensors; :meth:`to_dict` is
    JSON-ready.

    Attributes:
        policy: the policy's name.
        model: the model's class name.
        sigmas: the tolerance, in standard errors.
        tensors: the checks, in the plan's order.
        not_set: the tensors the policy does not set (not checked).
    """

    policy: str
    model: str
    sigmas: float
    tensors: tuple[TensorCheck, ...]
    not_set: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether no tensor is a suspect."""
        return not self.suspects

    @property
    def suspects(self) -> list[TensorCheck]:
        """The tensors that do not look drawn from their strategy's law."""
        return [entry for entry in self.tensors if entry.verdict == "suspect"]

    def __getitem__(self, name: str) -> TensorCheck:
        for entry in self.tensors:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def summary(self) -> str:
        """One line: how many tensors were ok, suspect, unchecked."""
        counts = {verdict: 0 for verdict in ("ok", "suspect", "unchecked")}
        for entry in self.tensors:
            counts[entry.verdict] += 1
        return (
            f"check {self.policy} on {self.model}: {counts['ok']} ok, {counts['suspect']} "
            f"suspect, {counts['unchecked']} unchecked ({len(self.not_set)} not set by the "
            f"policy); tolerance {self.sigmas:g} standard errors"
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        for entry in self.suspects:
            lines.append(f"  suspect {entry.name}: {entry.strategy.describe()}: {entry.problem}")
        unchecked: dict[str, list[str]] = {}
        for entry in self.tensors:
            if entry.verdict == "unchecked":
                unchecked.setdefault(entry.problem or "", []).append(entry.name)
        for reason, names in unchecked.items():
            lines.append(f"  unchecked ({reason}): {summarise(names)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "policy": self.policy,
            "model": self.model,
            "sigmas": self.sigmas,
            "ok": self.ok,
            "tensors": [entry.to_dict() for entry in self.tensors],
            "not_set": list(self.not_set),
        }


def check(
    model: nn.Module,
    policy: str | os.PathLike[str] | Policy,
    *,
    sigmas: float = 6.0,
    order: str | None = None,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    strict: bool = False,
    **options: Any,
) -> CheckReport:
    """Check that ``model``'s tensors look drawn as ``policy`` says, from the tensors alone.

    Plans ``policy`` on ``model`` (see :func:`torchinit.plan`; nothing is touched, no random
    number drawn), then compares every tensor the plan sets with its strategy's law: see the
    module docstring for the test and its tolerance. Use it on a model loaded from a
    checkpoint, or after your own init code, to find the layers that were not initialized as
    the policy says.

    Args:
        model: the model (not on the meta device).
        policy: a preset name, a YAML policy file or a :class:`~torchinit.Policy`.
        sigmas: how many standard errors a mean or std may be off, ``> 0``.
        order, include, exclude, strict, options: as for :func:`torchinit.plan`.

    Returns:
        A :class:`CheckReport`; ``report.ok`` is whether nothing is suspect.

    Example:
        >>> import torch, torchinit
        >>> _ = torch.manual_seed(0)
        >>> layer = torch.nn.Linear(256, 128)  # torch's default init, not LeCun's
        >>> report = torchinit.check(layer, "lecun")
        >>> [(entry.name, entry.verdict) for entry in report.suspects]
        [('weight', 'suspect'), ('bias', 'suspect')]
        >>> print(report.suspects[0].problem)
        std 0.03602 is 0.576x the law's 0.0625 (108.5 standard errors)
    """
    if isinstance(sigmas, bool) or not isinstance(sigmas, (int, float)) or not sigmas > 0:
        raise InvalidArgumentError("must be a number > 0", path="sigmas", got=sigmas)
    report = plan(
        model, policy, order=order, include=include, exclude=exclude, strict=strict, **options
    )
    tensors = dict(_named_tensors(model))
    checks = []
    not_set = []
    for entry in report.entries:
        if entry.status != "initialized" or entry.strategy is None:
            not_set.append(entry.name)
            continue
        checks.append(_check_tensor(entry.name, entry.strategy, tensors.get(entry.name), sigmas))
    return CheckReport(report.policy, report.model, float(sigmas), tuple(checks), tuple(not_set))


def _named_tensors(model: nn.Module) -> Iterable[tuple[str, torch.Tensor]]:
    """Every parameter and buffer by name, and every parametrized tensor by its own name."""
    yield from model.named_parameters(remove_duplicate=False)
    yield from model.named_buffers(remove_duplicate=False)
    for module_name, module in model.named_modules(remove_duplicate=False):
        for local in getattr(module, "parametrizations", {}):
            yield (f"{module_name}.{local}" if module_name else local), getattr(module, local)


def _check_tensor(
    name: str, strategy: Strategy, tensor: torch.Tensor | None, sigmas: float
) -> TensorCheck:
    def unchecked(reason: str) -> TensorCheck:
        return TensorCheck(name, strategy, "unchecked", reason)

    if tensor is None:
        return unchecked("not a tensor of the model")
    if tensor.is_meta:
        return unchecked("on the meta device")
    if distributed.is_dtensor(tensor):
        return unchecked("a DTensor: check its full_tensor()")
    law = strategy.law(tuple(tensor.shape))
    if law is None:
        return unchecked("no elementwise law")
    shape = tuple(tensor.shape)
    values = tensor.detach().to(torch.float64)
    if law.zero_row is not None:
        row = values[law.zero_row]
        if bool((row != 0).any()):
            return _suspect(name, strategy, f"row {law.zero_row} should be zeros")
        values = torch.cat([values[: law.zero_row], values[law.zero_row + 1 :]])
    values = values.reshape(-1)
    if not bool(torch.isfinite(values).all()):
        return _suspect(name, strategy, "has NaN or infinite values")
    if law.kind == "constant":
        wrong = values != law.params[0]
        if bool(wrong.any()):
            return _suspect(
                name,
                strategy,
                f"{int(wrong.sum())} of {values.numel()} values are not {law.params[0]:g}",
            )
        return TensorCheck(name, strategy, "ok", None, law.params[0], 0.0, law.params[0], 0.0,
                           values.numel())  # fmt: skip
    if values.numel() < 2:
        return unchecked("fewer than 2 elements")
    return _compare(name, strategy, law, values, shape, sigmas)


def _suspect(name: str, strategy: Strategy, problem: str) -> TensorCheck:
    return TensorCheck(name, strategy, "suspect", problem)


def law_moments(law: Law) -> tuple[float, float, tuple[float, float] | None]:
    """The mean, std and support (``None`` when unbounded) of one element drawn from ``law``.

    ``constant(c)``: ``c``, 0, ``(c, c)``; ``uniform(a, b)``: the midpoint,
    :math:`(b - a)/\\sqrt{12}`, ``(a, b)``; ``normal``: its own; ``trunc_normal(mean, std,
    a, b)``: the moments of the normal truncated to ``[a, b]``. This is the ``target_std`` of
    :func:`torchinit.diagnose` too.

    Example:
        >>> from torchinit import TruncNormal, Uniform
        >>> mean, std, support = law_moments(TruncNormal(std=1.0, a=-2.0, b=2.0).law((3, 3)))
        >>> round(mean, 6), round(std, 6), support
        (0.0, 0.879626, (-2.0, 2.0))
        >>> round(law_moments(Uniform(-1.0, 1.0).law((3, 3)))[1], 6)
        0.57735
    """
    if law.kind == "constant":
        value = law.params[0]
        return value, 0.0, (value, value)
    if law.kind == "uniform":
        low, high = law.params
        return (low + high) / 2, (high - low) / math.sqrt(12), (low, high)
    if law.kind == "normal":
        return law.params[0], law.params[1], None
    mean, std, a, b = law.params
    alpha, beta = (a - mean) / std, (b - mean) / std
    mass = _cdf(beta) - _cdf(alpha)
    shift = (_pdf(alpha) - _pdf(beta)) / mass
    variance = 1 + (_times_pdf(alpha) - _times_pdf(beta)) / mass - shift * shift
    return mean + std * shift, std * math.sqrt(variance), (a, b)


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) if math.isfinite(x) else 0.0


def _times_pdf(x: float) -> float:
    return x * _pdf(x) if math.isfinite(x) else 0.0


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _compare(
    name: str,
    strategy: Strategy,
    law: Law,
    values: torch.Tensor,
    shape: tuple[int, ...],
    sigmas: float,
) -> TensorCheck:
    expected_mean, expected_std, support = law_moments(law)
    std_t, mean_t = torch.std_mean(values)
    mean, std, n = float(mean_t), float(std_t), values.numel()
    found = TensorCheck(name, strategy, "ok", None, expected_mean, expected_std, mean, std, n)
    problems = []
    if support is not None:
        low, high = float(values.min()), float(values.max())
        if low < support[0] or high > support[1]:
            problems.append(
                f"values in [{low:.4g}, {high:.4g}], outside the law's [{support[0]:.4g}, "
                f"{support[1]:.4g}]"
            )
    mean_error = expected_std / math.sqrt(n)
    std_error = expected_std * math.sqrt((_KURTOSIS[law.kind] - 1) / (4 * n))
    if abs(mean - expected_mean) > sigmas * mean_error:
        off = abs(mean - expected_mean) / mean_error
        problems.append(f"mean {mean:.4g}, not {expected_mean:.4g} ({off:.1f} standard errors)")
    if abs(std - expected_std) > sigmas * std_error:
        off = abs(std - expected_std) / std_error
        problem = (
            f"std {std:.4g} is {std / expected_std:.3g}x the law's {expected_std:.4g} "
            f"({off:.1f} standard errors)"
        )
        fits = _modes_that_fit(strategy, shape, std, std_error, sigmas, law)
        problems.append(problem + (f"; {fits} would fit" if fits else ""))
    if not problems:
        return found
    return dataclasses.replace(found, verdict="suspect", problem="; ".join(problems))


def _modes_that_fit(
    strategy: Strategy,
    shape: tuple[int, ...],
    std: float,
    std_error: float,
    sigmas: float,
    law: Law,
) -> str:
    """``mode='…'`` when the strategy with another fan mode has a std the tensor fits."""
    mode = getattr(strategy, "mode", None)
    if not isinstance(mode, str):
        return ""
    for other in FAN_MODES:
        if other == mode:
            continue
        try:
            changed = dataclasses.replace(cast(Any, strategy), mode=other)
        except (TypeError, ValueError):
            continue  # a mode this strategy does not take
        other_law = changed.law(shape)
        if other_law is None or other_law.kind != law.kind:
            continue
        other_std = law_moments(other_law)[1]
        if abs(std - other_std) <= sigmas * std_error * other_std / law_moments(law)[1]:
            return f"mode={other!r}"
    return ""

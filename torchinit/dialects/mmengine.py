"""mmengine's ``init_cfg`` as a torchinit policy: :func:`from_mmengine`.

OpenMMLab's models (mmdet, mmseg, mmpretrain, ...) write their init as ``init_cfg`` dicts on
``BaseModule``\\ s, applied by mmengine's ``initialize(module, init_cfg)`` and
``BaseModule.init_weights()``. :func:`from_mmengine` turns one such config, a list of them, or
every ``init_cfg`` of a model into a :class:`~torchinit.Policy` that sets each tensor to what
mmengine 0.10 sets it to. mmengine itself is never imported: a config is plain data, and a
model is read through its attributes (``init_cfg``, ``init_weights``, ``is_init``).

What each part of an ``init_cfg`` becomes (mmengine's defaults throughout):

* ``Constant(val)``: ``Constant(val)``;
* ``Xavier(gain=1, distribution='normal')``: ``XavierNormal(gain)`` or ``XavierUniform(gain)``;
* ``Normal(mean=0, std=1)``: ``Normal(mean, std)``;
* ``TruncNormal(mean=0, std=1, a=-2, b=2)``: ``TruncNormalInverseCDF(mean, std, a, b)``
  (``trunc_normal_icdf``: mmengine's inverse-CDF sampler, not torch 2.14's rejection);
* ``Uniform(a=0, b=1)``: ``Uniform(a, b)``;
* ``Kaiming(a=0, mode='fan_out', nonlinearity='relu', distribution='normal')``:
  ``KaimingNormal`` or ``KaimingUniform(a, mode, nonlinearity)``;
* ``Caffe2Xavier()``: ``KaimingUniform(a=1, mode='fan_in', nonlinearity='leaky_relu')``;
* ``Pretrained(checkpoint, prefix=None)``: ``Checkpoint(checkpoint, keys={module prefix:
  prefix})``;
* ``bias=b`` / ``bias_prob=p``: ``Constant(b)`` / ``Constant(-log((1 - p) / p))`` on biases;
* ``layer=[...]``: ``Rule(class_names=...)``, the class or a direct base has the name (not
  ``isinstance``);
* ``override=dict(name=n, ...)``: rules on every tensor called ``weight``/``bias`` under the
  submodule ``n``, whatever its layers (mmengine's ``wholemodule``).

Every entry becomes one rule for the weights and one for the biases, labelled with the entry's
key path and what it was (``init_cfg[1] Kaiming(layer=Conv2d)``,
``backbone.init_cfg[0].override[0] Constant(name=reg)``), so a plan shows what each entry
became. The rules come in mmengine's order (a model's: a module's entries, then its children's
``init_weights``, then its ``Pretrained`` entries), and the last rule wins, as the last write
does in mmengine.

**Draw order.** torchinit draws each tensor once, in one pass over the model
(``order="apply"``, mmengine's ``module.apply`` order); mmengine draws entry by entry, and an
overridden tensor twice (the outer entry's draw, then the override's). Constants and loaded
tensors are the same either way, and every drawn tensor has the same law, but the random
numbers a tensor gets differ once a model has two random entries. :func:`init_like_mmengine`
applies the same rules in mmengine's order, one :func:`~torchinit.init_model` call per entry
(:func:`mmengine_passes`), so that the tensors are bit-equal to mmengine's under the same seed,
``TruncNormal`` included: mmengine draws it by the inverse CDF (its copy of an older torch
``trunc_normal_``), and so does ``TruncNormalInverseCDF``, in the same operations.

Where torchinit differs on purpose: a ``Pretrained`` key the checkpoint lacks is an error (mmengine
loads with ``strict=False`` and leaves the tensor), buffers are not loaded (``running_mean``),
only local ``.safetensors``/``.pt``/``.pth`` files are read (no ``torchvision://`` or URLs),
and ``map_location`` is ignored (tensors are copied onto the model's device). An entry with
neither ``layer`` nor ``override`` initializes nothing in mmengine: here it is a warning.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from torchinit.config import read_policy_text, yaml_data
from torchinit.engine import init_model
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    PolicyFileError,
    TorchInitError,
    TorchInitWarning,
    UnknownNameError,
    caller_stacklevel,
    did_you_mean,
)
from torchinit.policy import Policy, Rule
from torchinit.report import InitReport
from torchinit.strategies import (
    Checkpoint,
    Constant,
    KaimingNormal,
    KaimingUniform,
    Normal,
    Strategy,
    TruncNormalInverseCDF,
    Uniform,
    XavierNormal,
    XavierUniform,
)

__all__ = [
    "bias_init_with_prob",
    "from_mmengine",
    "init_like_mmengine",
    "load_init_cfg",
    "mmengine_passes",
]

_MISSING: Any = object()

# each init type's own arguments and mmengine 0.10's defaults (mmengine/model/weight_init.py)
_ARGUMENTS: dict[str, dict[str, Any]] = {
    "Constant": {"val": _MISSING},
    "Xavier": {"gain": 1, "distribution": "normal"},
    "Normal": {"mean": 0, "std": 1},
    "TruncNormal": {"mean": 0, "std": 1, "a": -2, "b": 2},
    "Uniform": {"a": 0, "b": 1},
    "Kaiming": {"a": 0, "mode": "fan_out", "nonlinearity": "relu", "distribution": "normal"},
    "Caffe2Xavier": {},
    "Pretrained": {"checkpoint": _MISSING, "prefix": None, "map_location": "cpu"},
}
# what every type but Pretrained also takes (mmengine's BaseInit)
_COMMON = {"bias": 0, "bias_prob": None, "layer": None}
INIT_TYPES: tuple[str, ...] = tuple(_ARGUMENTS)


def _weight_strategy(kind: str, args: Mapping[str, Any]) -> Strategy:
    """The strategy an init type of mmengine fills a layer's ``weight`` with."""
    if kind == "Constant":
        return Constant(args["val"])
    if kind == "Xavier":
        xavier: Any = _by_distribution(args, XavierNormal, XavierUniform)
        return cast(Strategy, xavier(gain=args["gain"]))
    if kind == "Normal":
        return Normal(args["mean"], args["std"])
    if kind == "TruncNormal":
        return TruncNormalInverseCDF(args["mean"], args["std"], args["a"], args["b"])
    if kind == "Uniform":
        return Uniform(args["a"], args["b"])
    if kind == "Kaiming":
        kaiming: Any = _by_distribution(args, KaimingNormal, KaimingUniform)
        return cast(
            Strategy, kaiming(a=args["a"], mode=args["mode"], nonlinearity=args["nonlinearity"])
        )
    if kind == "Caffe2Xavier":
        # Caffe2's XavierFill is torch's kaiming_uniform_ with these arguments
        return KaimingUniform(a=1, mode="fan_in", nonlinearity="leaky_relu")
    raise InvalidArgumentError("not an init type with a weight strategy", path="type", got=kind)


def _by_distribution(
    args: Mapping[str, Any], normal: type[Strategy], uniform: type[Strategy]
) -> type[Strategy]:
    distribution = args["distribution"]
    if distribution == "normal":
        return normal
    if distribution == "uniform":
        return uniform
    raise InvalidArgumentError(
        "must be one of ['uniform', 'normal']", path="distribution", got=distribution
    )


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias that makes a sigmoid output ``prior_prob`` (mmengine's
    ``bias_init_with_prob``, the focal-loss prior of RetinaNet).

    .. math:: b = -\\log\\frac{1 - p}{p}

    Example:
        >>> round(bias_init_with_prob(0.01), 6)
        -4.59512
    """
    return -math.log((1 - prior_prob) / prior_prob)


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One init_cfg entry (or override), checked: where it was written and what it does."""

    path: str  # the key path in the source config: "backbone.init_cfg[0].override[1]"
    kind: str
    args: dict[str, Any]  # every argument of the type, defaults filled in
    given: tuple[str, ...]  # the arguments the config wrote, shown in the label
    scope: str  # the module it initializes: its full name ("" for the root)
    layers: tuple[str, ...]  # mmengine's layer: class names (empty for a whole-module entry)
    whole: bool  # an override: every layer under the scope
    has_override: bool = False

    @property
    def label(self) -> str:
        shown = [f"{key}={self.args[key]}" for key in self.given]
        if self.whole:
            shown.insert(0, f"name={self.scope.rpartition('.')[2]}")
        elif self.layers:
            shown.insert(0, f"layer={'|'.join(self.layers)}")
        return f"{self.path} {self.kind}({', '.join(shown)})"

    def rules(self) -> list[Rule]:
        """The entry as rules: its weights, then its biases (Pretrained: every tensor)."""
        under = f"{self.scope}.**." if self.scope else "**."
        match: dict[str, Any] = {"class_names": self.layers, "label": self.label}
        if self.kind == "Pretrained":
            prefix = f"{self.scope}." if self.scope else ""
            keys = {prefix: self.args["prefix"] or ""}
            try:
                init = Checkpoint(self.args["checkpoint"], keys=keys)
            except TorchInitError as error:
                got = {"got": error.got} if error.has_value else {}
                path = f"{self.path}.checkpoint"
                raise type(error)(error.problem, path=path, **got) from None
            return [Rule(param=f"{under}*", init=init, **match)]
        # a layer entry matches what it finds (mmengine skips layers the model lacks), and a
        # whole-module entry need not find biases; its weights must be there
        return [
            Rule(
                param=f"{under}weight",
                init=_at(self.path, lambda: _weight_strategy(self.kind, self.args)),
                optional=not self.whole,
                **match,
            ),
            Rule(param=f"{under}bias", init=Constant(self.args["bias"]), optional=True, **match),
        ]


def _at(path: str, build: Callable[[], Strategy]) -> Strategy:
    """``build()``, its errors put at ``path`` in the source config."""
    try:
        return build()
    except TorchInitError as error:
        # a strategy's key path starts with its own name (normal.std): the config's has none
        key = error.path.partition(".")[2] or error.path
        got = {"got": error.got} if error.has_value else {}
        raise type(error)(error.problem, path=f"{path}.{key}", **got) from None


def _entries_of(config: Any, path: str, scope: str, model: nn.Module | None) -> Iterator[_Entry]:
    """The entries of ``config`` (a dict or a list of dicts, written at ``path``, for the
    module called ``scope``), overrides after their entry, in mmengine's order."""
    for where, raw in _listed(config, path):
        yield from _item_entries(raw, where, scope, model)


def _item_entries(
    raw: Mapping[str, Any], where: str, scope: str, model: nn.Module | None
) -> Iterator[_Entry]:
    outer = _entry(raw, where, scope, layered=True)
    yield outer
    override = raw.get("override")
    if override is not None:
        yield from _overrides(override, outer, raw, f"{where}.override", model)


def _listed(config: Any, path: str) -> list[tuple[str, Mapping[str, Any]]]:
    """The dicts of ``config`` (a dict or a list of them) with their key paths."""
    if isinstance(config, Mapping):
        return [(path, config)]
    if isinstance(config, list):
        for index, raw in enumerate(config):
            if not isinstance(raw, Mapping):
                raise ArgumentTypeError("must be a dict", path=f"{path}[{index}]", got=raw)
        return [(f"{path}[{index}]", raw) for index, raw in enumerate(config)]
    raise ArgumentTypeError("must be a dict or a list of dicts", path=path, got=config)


def _entry(raw: Mapping[str, Any], path: str, scope: str, *, layered: bool) -> _Entry:
    kind = raw.get("type", _MISSING)
    if kind is _MISSING:
        raise InvalidArgumentError(
            f"required: one of {list(INIT_TYPES)}", path=f"{path}.type", got=dict(raw)
        )
    if kind not in _ARGUMENTS:
        raise UnknownNameError(
            did_you_mean(
                f"unknown init type {kind!r}", kind, INIT_TYPES, f"known: {list(INIT_TYPES)}"
            ),
            path=f"{path}.type",
            got=kind,
        )
    allowed = dict(_ARGUMENTS[kind])
    if kind != "Pretrained":
        allowed.update(_COMMON)
    given = {key: value for key, value in raw.items() if key not in ("type", "override")}
    for key in given:
        if key not in allowed:
            raise UnknownNameError(
                did_you_mean(
                    f"{kind} takes no argument {key!r}",
                    key,
                    allowed,
                    f"it takes {sorted(allowed)}",
                ),
                path=f"{path}.{key}",
                got=given[key],
            )
    args = {**allowed, **given}
    for key, value in args.items():
        if value is _MISSING:
            raise InvalidArgumentError(f"required by {kind}", path=f"{path}.{key}")
    layers: tuple[str, ...] = ()
    if kind != "Pretrained":
        args["bias"] = _bias(args, path)
        layer = args.pop("layer")
        layers = _layer_names(layer, f"{path}.layer") if layered else ()
        args.pop("bias_prob")
    else:
        _pretrained_source(args, path)
    # bias_prob is shown as the bias it gives
    shown = tuple(dict.fromkeys("bias" if key == "bias_prob" else key for key in given))
    shown = tuple(key for key in shown if key != "layer")
    has_override = layered and raw.get("override") is not None
    return _Entry(path, str(kind), args, shown, scope, layers, not layered, has_override)


def _bias(args: Mapping[str, Any], path: str) -> float:
    bias, prob = args["bias"], args["bias_prob"]
    if isinstance(bias, bool) or not isinstance(bias, (int, float)):
        raise ArgumentTypeError("must be a number", path=f"{path}.bias", got=bias)
    if prob is None:
        return float(bias)
    # mmengine refuses an int probability too (bias_prob=1 is surely not meant)
    if not isinstance(prob, float):
        raise ArgumentTypeError("must be a float", path=f"{path}.bias_prob", got=prob)
    if not 0.0 < prob < 1.0:
        raise InvalidArgumentError("must be in (0, 1)", path=f"{path}.bias_prob", got=prob)
    return bias_init_with_prob(prob)


def _layer_names(layer: Any, path: str) -> tuple[str, ...]:
    if layer is None:
        return ()
    names = [layer] if isinstance(layer, str) else layer
    if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
        raise ArgumentTypeError("must be a class name or a list of them", path=path, got=layer)
    return tuple(names)


def _pretrained_source(args: Mapping[str, Any], path: str) -> None:
    checkpoint = args["checkpoint"]
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise ArgumentTypeError("must be a file path", path=f"{path}.checkpoint", got=checkpoint)
    if "://" in os.fspath(checkpoint):
        raise InvalidArgumentError(
            "torchinit reads local .safetensors/.pt/.pth files only; download it first",
            path=f"{path}.checkpoint",
            got=checkpoint,
        )
    prefix = args["prefix"]
    if prefix is not None and not isinstance(prefix, str):
        raise ArgumentTypeError("must be a string or None", path=f"{path}.prefix", got=prefix)


def _overrides(
    override: Any,
    outer: _Entry,
    raw: Mapping[str, Any],
    path: str,
    model: nn.Module | None,
) -> Iterator[_Entry]:
    # the outer entry as an override without arguments takes it: without layer and override
    inherited = {key: value for key, value in raw.items() if key not in ("override", "layer")}
    for where, item in _listed(override, path):
        name = item.get("name")
        if name is None:
            raise InvalidArgumentError(
                "required: the name of the submodule to initialize",
                path=f"{where}.name",
                got=dict(item),
            )
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError("must be an attribute name", path=f"{where}.name", got=name)
        rest = {key: value for key, value in item.items() if key != "name"}
        if not rest:
            config = inherited
        elif "type" not in rest:
            raise InvalidArgumentError(
                "required when the override has keys other than 'name'",
                path=f"{where}.type",
                got=dict(item),
            )
        else:
            config = rest
        scope = f"{outer.scope}.{name}" if outer.scope else name
        if model is not None:
            _check_attribute(model, outer.scope, name, f"{where}.name")
        yield _entry(config, where, scope, layered=False)


def _check_attribute(model: nn.Module, scope: str, name: str, path: str) -> None:
    """mmengine's check: the module has an attribute ``name``; here also: it is a layer."""
    owner = model.get_submodule(scope) if scope else model
    if not isinstance(getattr(owner, name, None), nn.Module):
        children = [child for child, _ in owner.named_children()]
        raise InvalidArgumentError(
            did_you_mean(
                f"{type(owner).__name__} {scope or '(the model)'!r} has no submodule of this name",
                name,
                children,
                f"its submodules are {children}",
            ),
            path=path,
            got=name,
        )


def _model_entries(model: nn.Module) -> list[_Entry]:
    """Every ``init_cfg`` entry of ``model`` in the order ``model.init_weights()`` applies
    them: a module's own entries, its children's (those with ``init_weights``, not yet
    initialized), then its ``Pretrained`` entries."""
    if not hasattr(model, "init_cfg"):
        raise ArgumentTypeError(
            "must be an mmengine BaseModule (with init_cfg), an init_cfg dict or a list of them",
            path="init_cfg",
            got=type(model).__name__,
        )
    found: list[_Entry] = []
    _walk_module(model, "", model, found)
    return found


def _walk_module(module: nn.Module, name: str, model: nn.Module, found: list[_Entry]) -> None:
    if getattr(module, "is_init", False):
        return
    config = getattr(module, "init_cfg", None)
    path = f"{name}.init_cfg" if name else "init_cfg"
    later: list[_Entry] = []
    if config:
        for where, raw in _listed(config, path):
            # mmengine loads Pretrained entries (with their overrides) after the children
            pretrained = raw.get("type") == "Pretrained"
            (later if pretrained else found).extend(_item_entries(raw, where, name, model))
    prefix = f"{name}." if name else ""
    for local, child in module.named_children():
        if not hasattr(child, "init_weights") or getattr(child, "is_init", False):
            continue
        init_weights = getattr(type(child), "init_weights", None)
        if getattr(init_weights, "__qualname__", "") != "BaseModule.init_weights":
            warnings.warn(
                f"torchinit: {prefix + local} ({type(child).__name__}) has its own "
                "init_weights(), which is not reproduced: only the init_cfg entries are "
                "imported",
                TorchInitWarning,
                stacklevel=caller_stacklevel(),
            )
        _walk_module(child, prefix + local, model, found)
    found.extend(later)


def _entries(source: Any, model: nn.Module | None) -> list[_Entry]:
    if isinstance(source, nn.Module):
        if model is not None and model is not source:
            raise InvalidArgumentError(
                "is for an init_cfg given as data; a model is read on its own",
                path="model",
                got=type(model).__name__,
            )
        return _model_entries(source)
    if model is not None and not isinstance(model, nn.Module):
        raise ArgumentTypeError("must be an nn.Module or None", path="model", got=model)
    return list(_entries_of(source, "init_cfg", "", model))


def _passes(source: Any, model: nn.Module | None) -> list[tuple[_Entry, list[Rule]]]:
    passes = []
    for entry in _entries(source, model):
        if not entry.layers and not entry.whole and entry.kind != "Pretrained":
            if entry.has_override:
                continue  # its overrides do the work
            warnings.warn(
                f"torchinit: {entry.path}: has neither layer nor override, so it initializes "
                "nothing (mmengine ignores it too)",
                TorchInitWarning,
                stacklevel=caller_stacklevel(),
            )
            continue
        passes.append((entry, entry.rules()))
    if not passes:
        raise InvalidArgumentError(
            "initializes nothing: no entry has a layer, an override or a checkpoint",
            path="init_cfg",
            got=source if not isinstance(source, nn.Module) else type(source).__name__,
        )
    return passes


def from_mmengine(
    init_cfg: Mapping[str, Any] | Sequence[Mapping[str, Any]] | nn.Module,
    *,
    model: nn.Module | None = None,
    name: str | None = None,
) -> Policy:
    """Turn an mmengine ``init_cfg`` into a policy that initializes a model as mmengine 0.10
    does (see :mod:`torchinit.dialects.mmengine` for each init type).

    The policy draws each tensor once, in ``model.apply`` order: constants, biases and loaded
    tensors equal mmengine's; drawn tensors follow the same law with other random numbers
    (:func:`init_like_mmengine` draws them in mmengine's order, bit-equal).

    Args:
        init_cfg: a config dict, a list of them (applied in order, as mmengine's
            ``initialize(module, init_cfg)``), or an mmengine ``BaseModule``: every
            ``init_cfg`` of the model in the order ``model.init_weights()`` applies them
            (a module's entries, then its children's, then its ``Pretrained`` ones).
        model: with a config given as data, the model it is for: each override's ``name``
            is checked against it now (mmengine raises for a name the module lacks; without
            ``model`` it is a rule that matches nothing, an error under ``strict=True``).
        name: the policy's name in reports (default ``"mmengine"``).

    Raises:
        TorchInitError: an entry mmengine would refuse, or that torchinit cannot express,
            with its key path in the source config (``init_cfg[0].type: unknown init type
            'Kaimng'; did you mean 'Kaiming'? ...``).

    Example:
        >>> import torch, torchinit
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        >>> policy = torchinit.from_mmengine([
        ...     dict(type="Kaiming", layer="Conv2d"),
        ...     dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
        ... ])
        >>> report = torchinit.init_model(model, policy)
        >>> report["0.weight"].rule_label
        'init_cfg[0] Kaiming(layer=Conv2d)'
        >>> model[1].weight.unique().tolist(), model[1].bias.unique().tolist()
        ([1.0], [0.0])
    """
    rules = [rule for _, rules in _passes(init_cfg, model) for rule in rules]
    return Policy(rules, name="mmengine" if name is None else name, order="apply")


def mmengine_passes(
    init_cfg: Mapping[str, Any] | Sequence[Mapping[str, Any]] | nn.Module,
    *,
    model: nn.Module | None = None,
) -> list[Policy]:
    """The rules of :func:`from_mmengine`, one policy per ``init_cfg`` entry (each override
    its own), in the order mmengine applies them: applied one after the other in
    ``model.apply`` order, they draw what mmengine draws (an overridden tensor twice).

    Example:
        >>> passes = mmengine_passes(dict(type="Normal", std=0.01, layer="Linear",
        ...                               override=dict(name="head")))
        >>> [policy.name for policy in passes]
        ['init_cfg Normal(layer=Linear, std=0.01)', 'init_cfg.override Normal(name=head, std=0.01)']
    """
    return [
        Policy(rules, name=entry.label, order="apply") for entry, rules in _passes(init_cfg, model)
    ]


def init_like_mmengine(
    model: nn.Module,
    init_cfg: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    generator: torch.Generator | None = None,
) -> list[InitReport]:
    """Initialize ``model`` as mmengine does, drawing in mmengine's order: the tensors are
    bit-equal to ``model.init_weights()`` (or ``initialize(model, init_cfg)``) under the same
    seed.

    Applies :func:`mmengine_passes` one after the other with :func:`~torchinit.init_model`
    (``order="apply"``): every entry draws every tensor it matches, even one a later entry
    overwrites, as mmengine does. Prefer :func:`from_mmengine` (one pass, one report, keyed
    seeding, meta models) unless the exact random numbers matter.

    Args:
        model: the model (an mmengine ``BaseModule`` when ``init_cfg`` is not given).
        init_cfg: a config dict or list of them, applied to ``model`` as mmengine's
            ``initialize(model, init_cfg)``; default: the model's own ``init_cfg``\\ s.
        generator: draw from this generator instead of torch's global one.

    Returns:
        One :class:`~torchinit.InitReport` per pass, in order.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
        >>> reports = init_like_mmengine(model, dict(type="Uniform", a=-1, b=1, layer="Linear"))
        >>> reports[0]["1.bias"].strategy
        Constant(val=0.0)
    """
    source = model if init_cfg is None else init_cfg
    passes = mmengine_passes(source, model=None if init_cfg is None else model)
    reports = []
    for policy in passes:
        with warnings.catch_warnings():
            # a pass whose layers the model lacks matches nothing, as in mmengine: silent
            warnings.filterwarnings("ignore", "policy .* matches nothing", TorchInitWarning)
            reports.append(init_model(model, policy, generator=generator))
    return reports


def load_init_cfg(path: str | os.PathLike[str], key: str = "init_cfg") -> Any:
    """Read an ``init_cfg`` from a file, executing nothing.

    * ``.py`` (an mmengine config): the value of the top-level assignment ``key = ...``,
      read from the syntax tree. Literals, ``dict(...)`` with keyword arguments, lists and
      tuples are allowed; anything else (a name, a call, ``_base_`` inheritance) is an error
      naming its line. The file is never run, with or without mmengine installed: a config
      file is code, and reading an ``init_cfg`` should not execute it.
    * ``.json``, ``.yaml``/``.yml``: the document, or its ``key`` entry when the document
      is a mapping that has it (YAML parsed as policy files are, with ``safe_load``'s tags
      only and the same bounds).

    The file is read as a policy file is (:func:`torchinit.config.read_policy_text`): at most
    1 MiB, UTF-8.

    Raises:
        PolicyFileError: the file is missing or unreadable, or holds no ``key`` (where:
            the file and line).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "retinanet.py"
        >>> _ = path.write_text("init_cfg = dict(type='Normal', layer='Conv2d', std=0.01)\\n")
        >>> load_init_cfg(path)
        {'type': 'Normal', 'layer': 'Conv2d', 'std': 0.01}
    """
    where = os.fspath(path)
    text = read_policy_text(path)
    suffix = os.path.splitext(where)[1].lower()
    if suffix == ".py":
        return _python_init_cfg(text, where, key)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise PolicyFileError(f"invalid JSON: {error}", where=where) from None
    elif suffix in (".yaml", ".yml"):
        data = yaml_data(text, where)
    else:
        raise PolicyFileError(
            "must end in .py, .json, .yaml or .yml", where=where, path="path", got=suffix
        )
    if isinstance(data, Mapping) and key in data:
        return data[key]
    return data


def _python_init_cfg(text: str, where: str, key: str) -> Any:
    try:
        tree = ast.parse(text, filename=where)
    except SyntaxError as error:
        raise PolicyFileError(
            f"invalid Python: {error.msg}", where=f"{where}:{error.lineno}"
        ) from None
    found = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(target, ast.Name) and target.id == key for target in node.targets)
    ]
    if not found:
        names = [
            target.id
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        ]
        raise PolicyFileError(
            did_you_mean(f"no top-level assignment '{key} = ...'", key, names),
            where=where,
        )
    value = found[-1].value
    return _literal(value, where)


def _literal(node: ast.expr, where: str) -> Any:
    """The value of a literal, a list, a tuple, a dict or ``dict(key=literal, ...)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        if node.args or any(keyword.arg is None for keyword in node.keywords):
            raise _not_literal(node, where)
        return {keyword.arg: _literal(keyword.value, where) for keyword in node.keywords}
    if isinstance(node, ast.List):
        return [_literal(item, where) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_literal(item, where) for item in node.elts)
    if isinstance(node, ast.Dict):
        if any(item is None for item in node.keys):
            raise _not_literal(node, where)
        return {
            _literal(k, where): _literal(v, where)
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        }
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise _not_literal(node, where) from None


def _not_literal(node: ast.expr, where: str) -> PolicyFileError:
    return PolicyFileError(
        "init_cfg must be written with literals, lists and dict(...): the file is not run",
        where=f"{where}:{node.lineno}",
        got=ast.unparse(node),
    )

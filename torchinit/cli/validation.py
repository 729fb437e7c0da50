"""``torchinit validate`` without a model: what torch.nn alone can check in a policy file.

Two things are checked: layer type names that are not torch.nn classes but nearly are
(``Conv2D``: a typo, unless the model has such a class) and the parameter keys of rules whose
types are all torch.nn classes (``wieght`` of a ``Linear`` rule), probed on the meta device.
Everything else (the model's own classes, name and parameter globs, dotted keys) can only be
checked against a model, and is listed as left for ``--model``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from torchinit import families
from torchinit.config import SourceLines
from torchinit.engine.matching import layer_type_names
from torchinit.errors import PolicyFileError, TorchInitError, UnknownNameError, did_you_mean
from torchinit.policy import Policy, Rule

__all__ = ["Findings", "check_without_model", "parameter_names"]

# the argument given to a layer's required parameters when it is probed: small, and large
# enough for the variants below (proj_size=2 must be below hidden_size)
_PROBE_SIZE = 4
# set in the variants: every tensor a layer can have exists with one of them (bias, affine,
# bidirectional, num_layers=2 for `_l1`, kdim for MultiheadAttention's q_proj_weight, ...)
_VARIANT_INT = 2
# never varied: they place or type the tensors, they do not name them
_NOT_VARIED = frozenset({"device", "dtype"})
# a layer number in an RNN parameter name (`weight_ih_l3`): any number is as good as another
_NUMBER = re.compile(r"[0-9]+")


@dataclasses.dataclass
class Findings:
    """What :func:`check_without_model` found: errors, and what only a model can tell.

    Args:
        errors: likely typos in layer type names; parameter keys no named layer type has.
        model_types: type names that may name classes of the model (``Bottleneck``).
        unchecked_keys: parameter keys of rules on such types, or dotted or glob keys
            (``rules[2].bn2.weight``).
        globs: the name and parameter globs (``rules[3].match.name 'head.*'``).
    """

    errors: list[TorchInitError] = dataclasses.field(default_factory=list)
    model_types: list[str] = dataclasses.field(default_factory=list)
    unchecked_keys: list[str] = dataclasses.field(default_factory=list)
    globs: list[str] = dataclasses.field(default_factory=list)


def check_without_model(policy: Policy, lines: SourceLines) -> Findings:
    """Check the rules of a policy file against torch.nn, before any model is at hand.

    Only the rules written in the file are checked (a preset it ``extends:`` is tested).

    Example:
        >>> from torchinit.config import load_policy_with_lines
        >>> text = "rules:\\n- match: {type: Linear}\\n  wieght: zeros\\n"
        >>> for error in check_without_model(*load_policy_with_lines(text)).errors:
        ...     print(error)
        <string>:3: rules[0].wieght: Linear has no parameter 'wieght'; did you mean 'weight'? its parameters are ['weight', 'bias']
    """  # noqa: E501
    findings = Findings()
    file_rules = [rule for rule in policy.rules if rule.source is not None]
    for index, rule in enumerate(file_rules):
        path = f"rules[{index}]"
        typos = list(_type_name_errors(rule, path, lines))
        findings.errors.extend(typos)
        typo_names = {typo.got for typo in typos}
        findings.model_types.extend(
            name
            for name in rule.type_names
            if name not in typo_names
            and name not in findings.model_types
            and families.family_named(name) is None
        )
        for key in ("name", "param"):
            glob = getattr(rule, key)
            if glob is not None:
                findings.globs.append(f"{path}.match.{key} {glob!r}")
        known = _known_parameters(rule)
        for key, _ in rule.strategies:
            key_path = f"{path}.{key}"
            if known is None or "." in key or any(char in key for char in "*?["):
                findings.unchecked_keys.append(key_path)
            elif _NUMBER.sub("#", key) in {_NUMBER.sub("#", name) for name in known}:
                continue
            elif any(key.startswith(f"{name}_") for name in known):
                # weight_g, weight_orig: added by weight_norm or pruning, on the model
                findings.unchecked_keys.append(key_path)
            else:
                findings.errors.append(_key_error(rule, key, key_path, known, lines))
    return findings


def _type_name_errors(rule: Rule, path: str, lines: SourceLines) -> Iterator[TorchInitError]:
    """The short type names that are not torch.nn classes but nearly are (``Conv2D``)."""
    if rule.optional:
        return  # the names of a library's classes that a model may lack (Hugging Face's Conv1D)
    key_path = f"{path}.match.type"
    for name in rule.type_names:
        near = [known for known in layer_type_names() if _one_edit_apart(name, known)]
        if "." in name or not near or families.family_named(name) is not None:
            continue
        problem = did_you_mean(
            "not a torch.nn layer class or family",
            name,
            near,
            "If it names a class of your model, check the policy with --model",
        )
        # the line of `type:`: a rule keeps its torch.nn classes apart from the other names,
        # so the name's place in the YAML list is not known here
        yield UnknownNameError(problem, path=key_path, got=name, where=lines.where(key_path))


def _one_edit_apart(name: str, known: str) -> bool:
    """Whether ``name`` is a likely typo of ``known``: the same but for case, or, for names of
    five letters or more, one letter added, dropped, changed or swapped with its neighbour.

    Stricter than the did-you-mean hints: a near name here is an error, and a model's own
    class (``LlamaRMSNorm``, ``LayerNorm2d``) must not look like a typo of a torch.nn one.
    """
    a, b = name.lower(), known.lower()
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) != len(b):
        shorter, longer = sorted((a, b), key=len)
        return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))
    differ = [i for i in range(len(a)) if a[i] != b[i]]
    if len(differ) == 1:
        return True
    first, *rest = differ
    return rest == [first + 1] and a[first] == b[first + 1] and a[first + 1] == b[first]


def _known_parameters(rule: Rule) -> set[str] | None:
    """The parameter names the rule's layer types can have; ``None`` when only a model can
    tell (a type that is not a torch.nn class, or that cannot be probed; no type at all)."""
    named = [families.family_named(name) for name in rule.type_names]
    if any(family is None for family in named) or not (rule.types or named):
        return None
    known: set[str] = set()
    for cls in (*rule.types, *(cls for family in named if family for cls in family)):
        names = parameter_names(cls) if vars(nn).get(cls.__name__) is cls else None
        if names is None:
            return None
        known |= names
    return known


def _key_error(
    rule: Rule, key: str, key_path: str, known: set[str], lines: SourceLines
) -> PolicyFileError:
    types = [cls.__name__ for cls in rule.types] + list(rule.type_names)  # families
    listed = sorted(known, key=_slot_order)
    if len(types) == 1:
        problem, then = f"{types[0]} has no parameter {key!r}", f"its parameters are {listed}"
    else:
        problem = f"none of {', '.join(types)} has a parameter {key!r}"
        then = f"their parameters are {listed}"
    where = lines.where(key_path if key_path in lines.lines else _under_params(key_path))
    return PolicyFileError(did_you_mean(problem, key, listed, then), path=key_path, where=where)


def _under_params(key_path: str) -> str:
    """``rules[0].params.x`` for ``rules[0].x``: where a key given under ``params:`` is."""
    rule_path, _, key = key_path.partition(".")
    return f"{rule_path}.params.{key}"


def _slot_order(name: str) -> tuple[int, str]:
    # weights first, then biases, then the rest: the order torch registers them in most layers
    return (0 if name.startswith("weight") else 1 if name.startswith("bias") else 2, name)


@functools.cache
def parameter_names(cls: type[nn.Module]) -> frozenset[str] | None:
    """Every parameter name an instance of the torch.nn layer ``cls`` can have.

    Instances are built on the meta device with small arguments from the signature: the
    defaults, each flag or optional size changed in turn, and all changed at once (an LSTM's
    ``bias_hh_l1_reverse`` needs both ``num_layers=2`` and ``bidirectional=True``). ``None``
    when the layer cannot be built so.

    Example:
        >>> sorted(parameter_names(nn.LSTM))[:4]
        ['bias_hh_l0', 'bias_hh_l0_reverse', 'bias_hh_l1', 'bias_hh_l1_reverse']
    """
    required, variants = _probe_arguments(cls)
    names: set[str] = set()
    # the user asked about a file, not about a layer's warnings for arguments made up here
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    # flags all on (not flipped): bias=True beside bidirectional=True and num_layers=2
    everything = {
        key: True if isinstance(value, bool) else value
        for variant in variants
        for key, value in variant.items()
    }
    with stack, torch.device("meta"):
        try:
            names.update(cls(**required)._parameters)
        except Exception:  # a layer whose arguments the signature does not tell
            return None
        for variant in [*variants, everything]:
            try:
                names.update(cls(**required, **variant)._parameters)
            except Exception:  # a combination the layer refuses: the others still count
                continue
    return frozenset(names)


def _probe_arguments(cls: type[nn.Module]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The required arguments to build ``cls`` with, and the variants to try."""
    parameters = list(inspect.signature(cls).parameters.values())
    named = [p for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if not named and issubclass(cls, nn.RNNBase):
        # RNN, LSTM and GRU take (*args, **kwargs) and pass them on after their mode
        base = inspect.signature(nn.RNNBase).parameters.values()
        named = [p for p in base if p.name != "mode"]
    required: dict[str, Any] = {}
    variants: list[dict[str, Any]] = []
    for parameter in named:
        if parameter.name in _NOT_VARIED or parameter.name.startswith("_"):
            continue
        default = parameter.default
        if default is parameter.empty:
            required[parameter.name] = _PROBE_SIZE
        elif isinstance(default, bool):
            variants.append({parameter.name: not default})
        elif default is None or (type(default) is int and default in (0, 1)):
            variants.append({parameter.name: _VARIANT_INT})
    return required, variants

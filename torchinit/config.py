"""YAML policies: say in a file what the Python API says, validated before any tensor is touched.

A policy file::

    name: resnet                      # optional; shown in reports
    order: modules                    # optional: modules (default) or apply
    extends: resnet                   # optional: start from a preset ...
    options: {zero_init_residual: true}   # ... with these options
    rules:                            # later rules win for the same tensor
      - match: {type: Conv2d}         # type (one or a list), name (glob), param (glob)
        weight: {kaiming_normal: {mode: fan_out, nonlinearity: relu}}
      - match: {type: [BatchNorm2d, GroupNorm]}
        weight: ones
        bias: zeros
      - match: {param: "**.bias"}
        init: zeros
      - match: {type: [Conv2d, Linear]}
        weight: {trunc_normal: {std: {attr: stddev, default: 0.1}, a: -2, b: 2}}
      - match: {type: [Linear, Conv1D], optional: true}   # Conv1D may be absent: skip it
        weight: {normal: {std: 0.02}}

Parsing uses PyYAML's ``SafeLoader`` to compose the document (no tag ever constructs a Python
object; any tag other than the standard ``!!str``/``!!int``/``!!float``/``!!bool``/``!!null``/
``!!map``/``!!seq`` is refused) and resolves plain scalars by the YAML 1.2 core schema:
``1e-6`` and ``-2.`` are floats, only ``true``/``false`` are booleans (``yes``, ``no``, ``on``,
``off`` stay strings, so a boolean option given as ``yes`` is an error), ``012`` is the integer
12. A key given twice in one mapping is an error. Errors name the file and line:
``policy.yaml:7: rules[1].weight.kaiming_normal.mode: must be one of ['fan_in', 'fan_out']
(got 'fanin')``.

Layer types are names: ``Conv2d`` (a ``torch.nn`` class), ``Bottleneck`` (a class of the model
being initialized, or one of its bases) or a full name ``torchvision.models.resnet.Bottleneck``.
Names are resolved against ``torch.nn`` and the model's own classes when the policy is applied;
nothing is ever imported.

A ``checkpoint`` strategy's relative ``path`` (``{checkpoint: {path: r50.safetensors}}``) is
relative to the policy file's folder, so a file and its checkpoint can move together; in YAML
text (not a file) it stays relative to the working directory. A policy read from a file holds
the joined path (``to_yaml`` writes it so).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from torchinit import _validate
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    PolicyFileError,
    TorchInitError,
    UnknownNameError,
    did_you_mean,
    key_path,
)
from torchinit.policy import Policy, Rule
from torchinit.presets import get_preset
from torchinit.strategies import Checkpoint, FunctionStrategy, Strategy, to_strategy

__all__ = [
    "SourceLines",
    "is_policy_file",
    "load_policy",
    "load_policy_with_lines",
    "parse_scalar",
    "plain_data",
    "policy_from_dict",
    "policy_to_dict",
    "policy_to_yaml",
    "read_policy_text",
    "resolve_policy",
    "yaml_data",
]

TOP_KEYS = ("name", "order", "extends", "options", "rules")
MATCH_KEYS = ("type", "name", "param", "optional", "class_name")
RULE_KEYS = ("match", "label", "init", "params")

_STANDARD_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
}
_NULL = re.compile(r"~|null|Null|NULL|")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"([-+]?)\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
# Bounds on what a policy may cost to read, checked while PyYAML composes the document (it
# composes node by node, as the parser reads): dense YAML costs PyYAML about 50 us per node,
# so a hostile file is refused after about a second, wherever its excess lies
# (bench/yaml_limits.py). The same node bound applies again to the document with its aliases
# expanded (alias bombs). The largest shipped policy has under 200 nodes.
_MAX_NODES = 20_000
_MAX_DEPTH = 100
# Checked before parsing: comments and long scalars cost no nodes (about 1 s per MiB).
_MAX_BYTES = 1 << 20


class _ByteCount(int):
    """A size that an error message shows with its unit: ``(got 12582912 bytes)``."""

    def __repr__(self) -> str:
        return f"{int(self)} bytes"


def _check_size(size: int, source: str) -> None:
    if size > _MAX_BYTES:
        raise PolicyFileError(
            f"larger than {_MAX_BYTES} bytes, the limit for a policy",
            where=source,
            got=_ByteCount(size),
        )


def read_policy_text(path: str | os.PathLike[str]) -> str:
    """The text of a policy source file, read as policy files are: at most 1 MiB (refused by
    its size), UTF-8 (a bad byte is an error at its line), a :class:`PolicyFileError` for a
    file that cannot be read. Also reads the files that become policies, such as mmengine's
    ``init_cfg`` files (:func:`torchinit.dialects.mmengine.load_init_cfg`).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "p.yaml"
        >>> _ = path.write_text("rules: []\\n")
        >>> read_policy_text(path)
        'rules: []\\n'
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            # reading one byte past the limit bounds a pipe or a /proc file too, which report
            # no size
            data = file.read(_MAX_BYTES + 1)
            size = max(os.fstat(file.fileno()).st_size, len(data))
    except OSError as error:
        raise PolicyFileError(
            f"cannot read the policy file: {error.strerror}", got=str(path)
        ) from None
    except ValueError:  # os functions refuse a NUL byte in a path
        raise PolicyFileError(
            "cannot read the policy file: the path contains a NUL byte", got=str(path)
        ) from None
    _check_size(size, str(path))
    return _decode(data, str(path))


class _Bound(yaml.YAMLError):
    """A document past one of the bounds, noticed at ``mark`` while it was being composed."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(problem)
        self.problem, self.mark = problem, mark


class _Loader(yaml.SafeLoader):
    """SafeLoader that resolves no implicit tags (torchinit resolves plain scalars itself) and
    stops composing at the first node past ``_MAX_NODES`` or ``_MAX_DEPTH``."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 (PyYAML's class attribute)

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._composed = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._composed += 1
        self._depth += 1
        try:
            if self._composed > _MAX_NODES:
                self._refuse(_too_many_nodes())
            if self._depth > _MAX_DEPTH:
                self._refuse(_too_deep())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _refuse(self, problem: str) -> None:
        raise _Bound(problem, self.peek_event().start_mark)  # type: ignore[no-untyped-call]


def _too_many_nodes() -> str:
    return f"more than {_MAX_NODES} YAML nodes (aliases?)"


def _too_deep() -> str:
    return f"nested more than {_MAX_DEPTH} levels deep"


def parse_scalar(value: str) -> Any:
    """A plain (unquoted) YAML scalar, by the YAML 1.2 core schema.

    Example:
        >>> [parse_scalar(text) for text in ["1e-6", "-2.", "yes", "true", "012", "~"]]
        [1e-06, -2.0, 'yes', True, 12, None]

    Raises:
        InvalidArgumentError: a decimal integer longer than Python converts
            (``sys.int_info.str_digits_check_threshold``).
    """
    if _NULL.fullmatch(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.fullmatch(value):
        try:
            return int(value, 10)
        except ValueError:  # past Python's int-to-str digit limit (sys.int_info)
            raise InvalidArgumentError(
                f"is an integer of {len(value.lstrip('+-'))} digits, too long to read",
                got=value,
            ) from None
    if _OCT.fullmatch(value):
        return int(value[2:], 8)
    if _HEX.fullmatch(value):
        return int(value[2:], 16)
    if _FLOAT.fullmatch(value):
        return float(value)
    if match := _INF.fullmatch(value):
        return -math.inf if match.group(1) == "-" else math.inf
    if _NAN.fullmatch(value):
        return math.nan
    return value


@dataclasses.dataclass(frozen=True)
class SourceLines:
    """Where each key path of a policy file is: ``rules[0].match.type`` on line 2."""

    source: str
    lines: Mapping[str, int]

    def where(self, path: str) -> str:
        """``file:line`` of the deepest part of ``path`` that has a line.

        Example:
            >>> SourceLines("p.yaml", {"rules[0]": 2}).where("rules[0].weight.normal")
            'p.yaml:2'
        """
        while path:
            if path in self.lines:
                return f"{self.source}:{self.lines[path]}"
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return f"{self.source}:{self.lines.get('', 1)}"


def yaml_data(text: str, source: str) -> Any:
    """YAML text as plain Python data, parsed as policy files are: safe tags only, bounded in
    nodes and depth, duplicate and merge keys refused, every error a
    :class:`PolicyFileError` at ``source:line``.

    Example:
        >>> yaml_data("a: [1, 2.5]\\n", "<string>")
        {'a': [1, 2.5]}
    """
    return _Document(text, source).data


class _Document:
    """A composed YAML document turned into plain Python, with the line of every key path."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines: dict[str, int] = {}
        self._nodes = 0
        self._active: set[int] = set()
        try:
            node = yaml.compose(text, Loader=_Loader)
        except _Bound as bound:
            raise PolicyFileError(bound.problem, where=f"{source}:{bound.mark.line + 1}") from None
        except yaml.MarkedYAMLError as error:
            raise _syntax_error(error, source) from None
        except yaml.YAMLError as error:
            raise PolicyFileError(f"invalid YAML: {error}", where=source) from None
        self.data = None if node is None else self._convert(node, "")

    def where(self, path: str) -> str:
        """``file:line`` of the deepest part of ``path`` that has a line."""
        return SourceLines(self.source, self.lines).where(path)

    def _error(self, node: yaml.Node, problem: str, path: str, **got: Any) -> PolicyFileError:
        line = node.start_mark.line + 1
        return PolicyFileError(problem, where=f"{self.source}:{line}", path=path, **got)

    def _convert(self, node: yaml.Node, path: str) -> Any:
        self._nodes += 1
        if self._nodes > _MAX_NODES:  # aliases expanded: composition counted each once
            raise self._error(node, _too_many_nodes(), path)
        if id(node) in self._active:
            raise self._error(node, "recursive alias (a node that contains itself)", path)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _STANDARD_TAGS:
            raise PolicyFileError(
                "unsafe or unknown YAML tag; policy files hold plain YAML data only",
                where=f"{self.source}:{node.start_mark.line + 1}",
                path=path,
                got=node.tag,
            )
        kind = node.tag.rsplit(":", 1)[1]
        if isinstance(node, yaml.ScalarNode) and kind in ("map", "seq"):
            raise self._error(node, f"is not a valid !!{kind}", path, got=node.value)
        if not isinstance(node, yaml.ScalarNode) and kind not in ("map", "seq"):
            raise self._error(node, f"a !!{kind} must be a single value", path)
        if isinstance(node, yaml.ScalarNode):
            return self._convert_scalar(node, path)
        self._active.add(id(node))
        try:
            return self._convert_collection(node, path)
        finally:
            self._active.discard(id(node))

    def _convert_collection(self, node: yaml.Node, path: str) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = (
                self._convert(key_node, path)
                if isinstance(key_node, yaml.ScalarNode)
                else key_node.tag.rsplit(":", 1)[-1]
            )
            if key_node.tag == "tag:yaml.org,2002:merge" or key == "<<":
                raise self._error(key_node, "merge keys ('<<') are not supported", path)
            if not isinstance(key, str):
                raise PolicyFileError(
                    "keys must be strings",
                    where=f"{self.source}:{key_node.start_mark.line + 1}",
                    path=path,
                    got=key,
                )
            child = key_path(path, key)
            if key in result:
                raise PolicyFileError(
                    "duplicate key",
                    where=f"{self.source}:{key_node.start_mark.line + 1}",
                    path=child,
                    got=key,
                )
            self.lines[child] = key_node.start_mark.line + 1
            result[key] = self._convert(value_node, child)
        return result

    def _convert_scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        tag = node.tag.rsplit(":", 1)[1]
        if node.style is not None and tag == "str":  # quoted (or block) scalars are strings
            value: Any = node.value
        else:  # plain, or quoted with an explicit tag such as !!float '1e-3'
            try:
                value = parse_scalar(node.value)
            except TorchInitError as error:
                raise self._error(node, error.problem, path, got=node.value) from None
        if tag == "str":
            return value
        expected: Any = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[tag]
        if not isinstance(value, expected) or (tag == "int" and isinstance(value, bool)):
            raise PolicyFileError(
                f"is not a valid !!{tag}",
                where=f"{self.source}:{node.start_mark.line + 1}",
                path=path,
                got=node.value,
            )
        return float(value) if tag == "float" else value


def _syntax_error(error: yaml.MarkedYAMLError, source: str) -> PolicyFileError:
    """PyYAML's error at the line where it noticed the problem, and where the construct it was
    reading began: an unclosed bracket or quote is noticed lines after it was opened."""
    mark = error.problem_mark or error.context_mark
    where = f"{source}:{mark.line + 1}" if mark is not None else source
    problem = error.problem or error.context or "cannot be parsed"
    began = error.context_mark
    if error.context and error.problem and began is not None:
        at = f"{source}:{began.line + 1}, column {began.column + 1}"
        problem = f"{problem}, {error.context} that starts at {at}"
    elif error.context and error.problem:
        problem = f"{problem}, {error.context}"
    return PolicyFileError(f"invalid YAML: {problem}", where=where)


def is_policy_file(policy: object) -> bool:
    """Whether ``init_model`` treats ``policy`` as a file: any ``os.PathLike``, or a string
    ending in ``.yaml``/``.yml``."""
    if isinstance(policy, os.PathLike):
        return True
    return (
        isinstance(policy, str)
        and "\n" not in policy
        and policy.lower().endswith((".yaml", ".yml"))
    )


def load_policy(
    source: str | os.PathLike[str],
    *,
    options: Mapping[str, Any] | None = None,
    model: nn.Module | None = None,
) -> Policy:
    """Load a policy from a YAML file (a path) or from YAML text.

    Args:
        source: a path (``os.PathLike`` or a string ending in ``.yaml``/``.yml``), or the
            YAML text itself.
        options: preset options that override the file's ``options:`` (the file must use
            ``extends:``).
        model: the model the policy is for: the preset named by ``extends:`` reads the options
            neither the file nor ``options`` give from it, as ``init_model`` does (see
            :func:`torchinit.get_preset`).

    Raises:
        PolicyFileError: the file is missing, is not valid YAML, or uses an unsafe tag.
        TorchInitError: any invalid content, with ``file:line:`` in front.
    """
    return load_policy_with_lines(source, options=options, model=model)[0]


def load_policy_with_lines(
    source: str | os.PathLike[str],
    *,
    options: Mapping[str, Any] | None = None,
    model: nn.Module | None = None,
) -> tuple[Policy, SourceLines]:
    r""":func:`load_policy`, and the line of every key path of the file (for later checks).

    Example:
        >>> text = "rules:\n- match: {type: Linear}\n  bias: zeros\n"
        >>> policy, lines = load_policy_with_lines(text)
        >>> lines.where("rules[0].bias")
        '<string>:3'
    """
    if is_policy_file(source):
        text, name = read_policy_text(source), str(source)
    else:
        text, name = str(source), "<string>"
        _check_size(len(text.encode("utf-8", "surrogatepass")), name)
    document = _Document(text, name)
    try:
        policy = policy_from_dict(document.data, options=options, source=document, model=model)
    except TorchInitError as error:
        if error.where.startswith(name):
            raise
        raise error.located(document.where(error.path)) from None
    if is_policy_file(source):
        policy = _relative_to(policy, Path(source).parent)
    if policy.name is None and is_policy_file(source):
        # an unnamed file is reported under its file name rather than as '<policy>'
        policy = Policy(
            policy.rules, name=Path(source).stem, order=policy.order, options=policy.options
        )
    return policy, SourceLines(name, document.lines)


def _relative_to(policy: Policy, folder: Path) -> Policy:
    """``policy`` with each relative checkpoint path made relative to ``folder``, the policy
    file's: a file names its checkpoint wherever the process runs from, as a config does."""

    def resolved(strategy: Strategy) -> Strategy:
        if isinstance(strategy, Checkpoint) and not os.path.isabs(strategy.path):
            # pathlib, not os.path.join: a file in the working directory gives "r50.safetensors",
            # not "./r50.safetensors", in the plan and the report
            return dataclasses.replace(strategy, path=str(folder / strategy.path))
        return strategy

    rules = [
        dataclasses.replace(
            rule,
            # no types is stored as (), which the constructor refuses; it takes None
            types=rule.types or None,  # type: ignore[arg-type]
            init=None if rule.init is None else resolved(rule.init),
            params=tuple((key, resolved(strategy)) for key, strategy in rule.strategies),
        )
        for rule in policy.rules
    ]
    return Policy(rules, name=policy.name, order=policy.order, options=policy.options)


def _decode(data: bytes, source: str) -> str:
    """A policy file's bytes as text: UTF-8, or an error at the line of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        bad = data[error.start : error.end]
        raise PolicyFileError(
            f"is not UTF-8 text: {error.reason} at byte {error.start}",
            where=f"{source}:{line}",
            got=bad,
        ) from None


def resolve_policy(
    policy: object, options: Mapping[str, Any] | None = None, *, model: nn.Module | None = None
) -> Policy:
    """The :class:`~torchinit.Policy` that ``policy`` names, as ``init_model`` reads it.

    Args:
        policy: a ``Policy`` (returned as it is), a YAML file path (see :func:`is_policy_file`),
            a preset name, or a policy as a mapping in the YAML schema: a ``dict`` or an
            OmegaConf ``DictConfig`` (read by :func:`policy_from_dict`).
        options: preset options: for a preset name, or for a file or mapping that
            ``extends:`` a preset.
        model: the model it is for: options a preset reads from the model
            (:class:`~torchinit.presets.FromModel`) come from it when not given.

    Example:
        >>> resolve_policy("vgg").rules[0].label
        'conv'
    """
    # Hydra passes a preset's list options (``residual_norms``) as ListConfig nodes
    options = plain_data(options or {})
    if isinstance(policy, Policy):
        if options:
            raise InvalidArgumentError(
                "only presets take options; put them in the Policy's rules instead",
                path="options",
                got=dict(options),
            )
        return policy
    if is_policy_file(policy):
        return load_policy(policy, options=options, model=model)  # type: ignore[arg-type]
    if isinstance(policy, str):
        return get_preset(policy, model=model, **options)
    if isinstance(policy, Mapping):  # a DictConfig is a Mapping too
        return policy_from_dict(policy, options=options, model=model)
    raise ArgumentTypeError(
        "must be a preset name, a Policy, a YAML file path or a policy mapping",
        path="policy",
        got=policy,
    )


def plain_data(data: Any) -> Any:
    """``data`` with every OmegaConf node in it (``DictConfig``, ``ListConfig``) turned into
    plain dicts and lists, interpolations resolved; anything else is returned as it is.

    omegaconf is never imported here: a node can only exist once its user has imported it.

    Example:
        >>> plain_data({"rules": [{"match": {"type": "Linear"}, "bias": "zeros"}]})["rules"][0]
        {'match': {'type': 'Linear'}, 'bias': 'zeros'}

    Raises:
        InvalidArgumentError: an interpolation that cannot be resolved or a missing value
            (``???``), at its key path in the whole OmegaConf config.
    """
    omegaconf = sys.modules.get("omegaconf")
    if omegaconf is None:
        return data
    nodes = (omegaconf.DictConfig, omegaconf.ListConfig)

    def convert(value: Any) -> Any:
        if isinstance(value, nodes):
            try:
                return omegaconf.OmegaConf.to_container(value, resolve=True, throw_on_missing=True)
            except omegaconf.errors.OmegaConfBaseException as error:
                # OmegaConf's message goes on with its own "full_key: ..." lines
                problem = str(error).split("\n", 1)[0]
                raise InvalidArgumentError(
                    f"cannot be resolved by OmegaConf: {problem}", path=error.full_key or ""
                ) from None
        if isinstance(value, Mapping):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    return convert(data)


def policy_from_dict(
    data: Any,
    *,
    options: Mapping[str, Any] | None = None,
    source: _Document | None = None,
    model: nn.Module | None = None,
) -> Policy:
    """Build a :class:`~torchinit.Policy` from plain data (the YAML schema as dicts/lists).

    ``data`` may be, or hold, OmegaConf nodes (a Hydra config's ``DictConfig``): they are
    read as plain data with their interpolations resolved (:func:`plain_data`).
    ``options`` override the data's ``options:``; ``model`` is the model the policy is for,
    read by the preset named by ``extends:`` as :func:`torchinit.get_preset` says.

    Example:
        >>> policy = policy_from_dict({"rules": [{"match": {"type": "Linear"}, "bias": "zeros"}]})
        >>> policy.rules[0].types
        (<class 'torch.nn.modules.linear.Linear'>,)
    """
    data = plain_data(data)
    if not isinstance(data, Mapping):
        raise ArgumentTypeError("a policy must be a mapping with a 'rules' list", got=data)
    _check_keys(data, TOP_KEYS, "")
    if data.get("options") is not None and not isinstance(data["options"], Mapping):
        raise ArgumentTypeError(
            "must be a mapping of option to value", path="options", got=data["options"]
        )
    file_options = dict(data.get("options") or {})
    file_options.update(options or {})
    for key in file_options:
        if not isinstance(key, str):
            raise ArgumentTypeError("option names must be strings", path="options", got=key)
    extends = data.get("extends")
    base: Policy | None = None
    if extends is not None:
        _validate.string(extends, "extends")
        try:
            base = get_preset(extends, model=model, **file_options)
        except TorchInitError as error:
            raise _as_file_error(error, extends) from None
    elif file_options:
        raise InvalidArgumentError(
            "options are for the preset named by extends: (add 'extends: <preset>')",
            path="options",
            got=file_options,
        )
    raw_rules = data.get("rules", [] if base is not None else None)
    if raw_rules is None:
        raise InvalidArgumentError(
            "a policy needs a 'rules' list (or 'extends: <preset>')", path="rules"
        )
    if not isinstance(raw_rules, list):
        raise ArgumentTypeError("must be a list of rules", path="rules", got=raw_rules)
    if not raw_rules and base is None:
        raise InvalidArgumentError("must contain at least one rule", path="rules", got=[])
    rules = list(base.rules) if base is not None else []
    for index, raw in enumerate(raw_rules):
        path = f"rules[{index}]"
        where = source.where(path) if source is not None else None
        try:
            rules.append(_rule_from_dict(raw, where))
        except TorchInitError as error:
            raise error.prefixed(path) from None
    name = data.get("name", base.name if base is not None else None)
    order = data.get("order", base.order if base is not None else "modules")
    return Policy(rules, name=name, order=order, options=base.options if base is not None else None)


def _as_file_error(error: TorchInitError, preset: str) -> TorchInitError:
    """A preset's error with the file's key path: ``options.x`` for option ``x``."""
    if error.path.startswith(f"{preset}."):
        path = "options." + error.path[len(preset) + 1 :]
    elif error.path == "preset":
        path = "extends"
    else:
        return error
    got = {"got": error.got} if error.has_value else {}
    return type(error)(error.problem, path=path, where=error.where, **got)


def _check_keys(
    data: Mapping[str, Any], allowed: Sequence[str], path: str, *, extra: bool = False
) -> None:
    for key in data:
        if key in allowed or extra:
            continue
        raise UnknownNameError(
            did_you_mean("unknown key", str(key), allowed, f"allowed: {list(allowed)}"),
            path=key_path(path, str(key)),
            got=data[key],
        )


def _rule_from_dict(raw: Any, where: str | None) -> Rule:
    if not isinstance(raw, Mapping):
        raise ArgumentTypeError("a rule must be a mapping with a 'match' key", got=raw)
    match = raw.get("match")
    if match is None:
        raise InvalidArgumentError(
            "every rule needs match: {type: ..., name: ..., param: ...}", path="match"
        )
    if not isinstance(match, Mapping) or not match:
        raise ArgumentTypeError(
            "must be a mapping with type, name and/or param", path="match", got=match
        )
    _check_keys(match, MATCH_KEYS, "match")
    types, type_names = _types_from_names(match.get("type"))
    class_names = match.get("class_name", ())
    if isinstance(class_names, str):
        class_names = (class_names,)
    if not isinstance(class_names, (list, tuple)) or not all(
        isinstance(n, str) and n for n in class_names
    ):
        raise ArgumentTypeError(
            "must be a layer class name or a list of them",
            path="match.class_name",
            got=match["class_name"],
        )
    strategies: dict[str, Any] = {
        key: to_strategy(spec, key) for key, spec in raw.items() if key not in RULE_KEYS
    }
    params = raw.get("params")
    if params is not None:
        if not isinstance(params, Mapping):
            raise ArgumentTypeError(
                "must be a mapping of parameter name to strategy", path="params", got=params
            )
        for key, spec in params.items():
            if key in strategies:
                raise InvalidArgumentError(
                    "this parameter is given twice: as a rule key and under params:",
                    path=f"params.{key}",
                )
            strategies[key] = to_strategy(spec, f"params.{key}")
    for key in ("name", "param"):
        if key in match and not isinstance(match[key], str):
            raise ArgumentTypeError("must be a glob string", path=f"match.{key}", got=match[key])
    return Rule(
        types or None,
        name=match.get("name"),
        param=match.get("param"),
        init=to_strategy(raw["init"], "init") if raw.get("init") is not None else None,
        params=strategies,
        label=raw.get("label"),
        type_names=type_names,
        optional=_validate.boolean(match.get("optional", False), "match.optional"),
        source=where,
        class_names=class_names,
    )


def _types_from_names(value: Any) -> tuple[tuple[type[nn.Module], ...], tuple[str, ...]]:
    if value is None:
        return (), ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ArgumentTypeError(
            "must be a layer class name or a list of them", path="match.type", got=value
        )
    types: list[type[nn.Module]] = []
    deferred: list[str] = []
    for name in names:
        cls = _known_class(name)
        if cls is None:
            deferred.append(name)
        else:
            types.append(cls)
    return tuple(types), tuple(deferred)


def _known_class(name: str) -> type[nn.Module] | None:
    """The class ``name`` names in torch.nn, or in an already imported module; never imports."""
    module_name, _, attr = name.rpartition(".")
    loaded = nn if not module_name else sys.modules.get(module_name)
    # the module's own attributes, not getattr: a module's __getattr__ may import code
    # (torch's imports torch._inductor for the name 'torch._inductor')
    found = vars(loaded).get(attr) if loaded is not None else None
    return found if isinstance(found, type) and issubclass(found, nn.Module) else None


def _type_name(cls: type[nn.Module]) -> str:
    short: str = cls.__name__
    if vars(nn).get(short) is cls:
        return short
    return f"{cls.__module__}.{cls.__qualname__}"


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """The policy as plain data, in the YAML schema (``Policy.from_dict`` reads it back)."""
    data: dict[str, Any] = {}
    if policy.name is not None:
        data["name"] = policy.name
    data["order"] = policy.order
    for index, rule in enumerate(policy.rules):
        for key, strategy in [*rule.strategies, ("init", rule.init)]:
            if isinstance(strategy, FunctionStrategy):
                # YAML names its strategies; a function has no name that reads back to it
                raise ArgumentTypeError(
                    "a function cannot be written as YAML, which names strategies; register "
                    "a Strategy subclass (torchinit.register_strategy) and name it instead",
                    path=f"rules[{index}].{key}",
                    got=strategy.describe(),
                )
    data["rules"] = [_rule_to_dict(rule) for rule in policy.rules]
    return data


def _rule_to_dict(rule: Rule) -> dict[str, Any]:
    match: dict[str, Any] = {}
    names = [_type_name(cls) for cls in rule.types] + list(rule.type_names)
    if names:
        match["type"] = names[0] if len(names) == 1 else names
    if rule.name is not None:
        match["name"] = rule.name
    if rule.param is not None:
        match["param"] = rule.param
    if rule.class_names:
        names = list(rule.class_names)
        match["class_name"] = names[0] if len(names) == 1 else names
    if rule.optional:
        match["optional"] = True
    data: dict[str, Any] = {"match": match}
    if rule.label is not None:
        data["label"] = rule.label
    if rule.init is not None:
        data["init"] = rule.init.to_spec()
    specs = {key: strategy.to_spec() for key, strategy in rule.strategies}
    if any(key in RULE_KEYS for key in specs):
        # a name that clashes with a rule key must go under params:, and all go there so
        # that their order (which decides between two keys naming one tensor) is kept
        data["params"] = specs
    else:
        data.update(specs)
    return data


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes every string the YAML 1.2 core schema would read as non-string."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if parse_scalar(value) != value or value != value.strip() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def policy_to_yaml(policy: Policy) -> str:
    """The policy as YAML text; :func:`load_policy` reads it back to an equal policy."""
    text: str = yaml.dump(
        policy_to_dict(policy),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    return text

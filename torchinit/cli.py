"""The ``torchinit`` command: list strategies and presets, plan, validate and apply policies.

::

    torchinit list
    torchinit show resnet
    torchinit show vgg --yaml > my_policy.yaml
    torchinit plan torchvision.models:resnet50 resnet --option zero_init_residual=true
    torchinit validate policy.yaml --model torchvision.models:resnet50
    torchinit apply torchvision.models:resnet50 policy.yaml --manual-seed 0 --out weights.pt

``MODEL`` is ``package.module:callable``, called with no arguments or with ``--model-kwargs``
(a JSON object). ``POLICY`` is a preset name or a YAML file. Errors go to stderr as
``torchinit: error: <message>`` with exit code 1 (usage errors: argparse's exit code 2).
``python -m torchinit`` is the same command.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import inspect
import json
import os
import shutil
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import torch
from torch import nn

from torchinit import __version__
from torchinit.config import (
    is_policy_file,
    load_policy,
    parse_scalar,
    policy_to_yaml,
    resolve_policy,
)
from torchinit.engine import init_model, plan
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    TorchInitError,
    TorchInitWarning,
    UnknownNameError,
    did_you_mean,
)
from torchinit.policy import ORDERS, Policy, Rule
from torchinit.presets import PRESETS
from torchinit.report import InitReport
from torchinit.strategies import STRATEGIES

__all__ = ["build_parser", "load_model", "main", "parse_option"]

PROG = "torchinit"
#: Formats ``apply`` can write, by file extension.
SAVE_FORMATS = {".pt": "torch", ".pth": "torch", ".safetensors": "safetensors"}
#: ``torch.manual_seed`` accepts any integer in this range.
SEED_RANGE = (-(2**63), 2**64 - 1)

_Handler = Callable[[argparse.Namespace], int]

# --------------------------------------------------------------------------- help texts

_MAIN_EXAMPLES = """\
Examples:
  torchinit list
  torchinit show resnet
  torchinit show vgg --yaml > my_policy.yaml
  torchinit plan torchvision.models:resnet50 resnet
  torchinit validate policy.yaml --model torchvision.models:resnet50
  torchinit apply torchvision.models:resnet50 resnet --manual-seed 0 --out weights.pt

Run 'torchinit COMMAND --help' for a command's options.
"""

_MODEL_HELP = (
    "the model, as package.module:callable (e.g. torchvision.models:resnet50); the callable "
    "is called with no arguments, or with --model-kwargs"
)
_POLICY_HELP = "a preset name (see 'torchinit list') or a YAML policy file (.yaml/.yml)"

_LIST_EXAMPLE = """\
Example:
  torchinit list
"""

_SHOW_EXAMPLE = """\
Example:
  torchinit show resnet
  torchinit show gpt2 --option n_layer=24
  torchinit show vgg --yaml > my_policy.yaml
  torchinit show my_policy.yaml

--yaml writes the policy as a commented YAML file that loads back to an equal policy: a
preset to copy and edit when you installed torchinit without its configs/ folder.
"""

_PLAN_EXAMPLE = """\
Example:
  torchinit plan torchvision.models:resnet18 resnet
  torchinit plan torchvision.models:resnet18 resnet --option zero_init_residual=true
  torchinit plan mypkg.models:Net resnet --model-kwargs '{"num_classes": 10}' \\
      --option zero_init_residual=true --option 'residual_norms=["layer*.*.bn2"]'
  torchinit plan torchvision.models:resnet18 policy.yaml --json

The table fits the terminal's width (COLUMNS); --json gives every detail.
"""

_VALIDATE_EXAMPLE = """\
Example:
  torchinit validate policy.yaml
  torchinit validate policy.yaml --model torchvision.models:resnet18

Without --model, only the file is checked; layer type names that are not torch.nn classes
(e.g. Bottleneck) are resolved against the model when the policy is applied, and listed.
With --model, the policy is also planned on the model (strict: it must match something).
"""

_APPLY_EXAMPLE = """\
Example:
  torchinit apply torchvision.models:resnet18 resnet --manual-seed 0 --out resnet18.pt

is the same as, in Python:

  torch.manual_seed(0)
  model = torchvision.models.resnet18()
  torchinit.init_model(model, "resnet")
  torch.save(model.state_dict(), "resnet18.pt")

With --seed N the initialization itself is keyed (init_model(..., seed=N)): the same
values for a tensor whatever the model's layout, threads, wrappers or device.

--out FILE.pt or .pth: torch.save(model.state_dict()); .safetensors:
safetensors.torch.save_model (needs 'pip install safetensors').
"""


# --------------------------------------------------------------------------- arguments


def parse_option(text: str) -> tuple[str, Any]:
    """Parse a ``--option key=value`` argument into ``(key, value)``.

    The value is read as a YAML scalar, as in policy files (``true``, ``3``, ``1e-6``, ``null``;
    anything else is a string), or as JSON when it starts with ``[`` or ``{`` and is valid JSON
    (a list or an object).

    Example:
        >>> parse_option("zero_init_residual=true")
        ('zero_init_residual', True)
        >>> parse_option('residual_norms=["layer*.*.bn2"]')
        ('residual_norms', ['layer*.*.bn2'])
    """
    key, separator, raw = text.partition("=")
    key = key.strip()
    if not separator or not key:
        raise argparse.ArgumentTypeError(
            f"expected key=value, e.g. zero_init_residual=true: {text!r}"
        )
    if raw.lstrip().startswith(("[", "{")):
        try:
            return key, json.loads(raw)
        except json.JSONDecodeError:
            pass  # not JSON after all: a plain value, like any other
    return key, parse_scalar(raw)


def _options(pairs: Sequence[tuple[str, Any]] | None) -> dict[str, Any]:
    """The ``--option`` pairs as a dict; a key given twice is an error, not "last wins"."""
    options: dict[str, Any] = {}
    for key, value in pairs or ():
        if key in options:
            raise InvalidArgumentError("is given twice", path=f"--option {key}", got=value)
        options[key] = value
    return options


def _model_kwargs(text: str | None) -> dict[str, Any]:
    """The ``--model-kwargs`` JSON object (``{}`` when not given)."""
    if text is None:
        return {}
    try:
        kwargs = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidArgumentError(
            f"is not valid JSON: {error}", path="--model-kwargs", got=text
        ) from None
    if not isinstance(kwargs, dict):
        raise ArgumentTypeError(
            "must be a JSON object, e.g. '{\"num_classes\": 10}'", path="--model-kwargs", got=kwargs
        )
    return kwargs


# --------------------------------------------------------------------------- the model


def load_model(spec: str, kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """Build the model that ``spec`` (``package.module:callable``) names.

    The module is imported, the callable looked up (it may be dotted: ``module:Class.create``)
    and called with ``kwargs``.

    Raises:
        TorchInitError: with a clear message when the spec has no ``:``, the module cannot be
            imported, the attribute is missing or not callable, the call fails, or its result
            is not a ``torch.nn.Module``.
    """
    return _resolve_model(spec)(**(kwargs or {}))


def _resolve_model(spec: str) -> Callable[..., nn.Module]:
    """The function that builds the model ``spec`` names: imported and checked, not yet called."""
    module_name, separator, attribute = spec.partition(":")
    if not separator or not module_name or not attribute:
        raise InvalidArgumentError(
            "must be package.module:callable, e.g. torchvision.models:resnet50",
            path="MODEL",
            got=spec,
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # a model file may raise anything while it is imported
        raise InvalidArgumentError(
            f"cannot import module {module_name!r}: {type(error).__name__}: {error}",
            path="MODEL",
            got=spec,
        ) from None
    target: Any = module
    for depth, part in enumerate(attribute.split(".")):
        if not hasattr(target, part):
            owner = ".".join([module_name, *attribute.split(".")[:depth]])
            public = [name for name in dir(target) if not name.startswith("_")]
            raise UnknownNameError(
                did_you_mean(f"{owner!r} has no attribute {part!r}", part, public),
                path="MODEL",
                got=spec,
            )
        target = getattr(target, part)
    if not callable(target):
        raise ArgumentTypeError(
            f"{module_name}.{attribute} is not callable (its type is {type(target).__name__})",
            path="MODEL",
            got=spec,
        )

    def build(**kwargs: Any) -> nn.Module:
        call = f"{module_name}.{attribute}({_call_arguments(kwargs)})"
        try:
            model = target(**kwargs)
        except Exception as error:  # the user's constructor may raise anything
            raise InvalidArgumentError(
                f"{call} failed: {type(error).__name__}: {error}", path="MODEL", got=spec
            ) from None
        if not isinstance(model, nn.Module):
            raise ArgumentTypeError(
                f"{call} returned a value of type {type(model).__name__}, not a torch.nn.Module",
                path="MODEL",
                got=spec,
            )
        return model

    return build


def _call_arguments(kwargs: Mapping[str, Any]) -> str:
    """``num_classes=10, ...``: keyword arguments as they would be written in a call."""
    return ", ".join(f"{key}={value!r}" for key, value in kwargs.items())


# --------------------------------------------------------------------------- commands


def _width() -> int:
    """The terminal's width (``COLUMNS`` when set)."""
    return shutil.get_terminal_size().columns


def _cmd_list(args: argparse.Namespace) -> int:
    """``torchinit list``: the registered strategies and presets, with their defaults."""
    width = _width()
    sections = {
        "strategies (arguments, with their defaults)": {
            name: _signature(cls) or "(no arguments)" for name, cls in STRATEGIES.items()
        },
        "presets (options, with their defaults)": {
            name: _signature(factory) or "(no options)" for name, factory in PRESETS.items()
        },
    }
    indent = 4 + max(len(name) for entries in sections.values() for name in entries)
    blocks = []
    for title, entries in sections.items():
        lines = [f"{title}:"]
        for name, arguments in entries.items():
            lines.append(
                textwrap.fill(
                    arguments,
                    max(width, indent + 20),
                    initial_indent=f"  {name}".ljust(indent),
                    subsequent_indent=" " * indent,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        blocks.append("\n".join(lines))
    print("\n\n".join(blocks))
    return 0


def _signature(function: Callable[..., Any]) -> str:
    """``a=0.0, mode='fan_in'``: the parameters of a strategy class or preset, with defaults."""
    parameters = inspect.signature(function).parameters.values()
    return ", ".join(
        str(parameter.replace(annotation=inspect.Parameter.empty)) for parameter in parameters
    )


def _cmd_show(args: argparse.Namespace) -> int:
    """``torchinit show``: a policy's rules as a table, or as a commented YAML file."""
    options = _options(args.option)
    policy = resolve_policy(args.policy, options)
    if is_policy_file(args.policy):
        about = f"policy {policy.name or '<policy>'!r} from {args.policy}"
    else:
        preset = PRESETS.lookup(args.policy, "policy")
        settings = {**_defaults(preset), **options}
        about = f"preset {args.policy!r}" + (f" ({_call_arguments(settings)})" if settings else "")
        summary = (inspect.getdoc(preset) or "").split("\n", 1)[0].replace("``", "")
        about += f": {summary}" if summary else ""
    if args.yaml:
        print(_commented_yaml(policy, about), end="")
        return 0
    _print_wrapped(about)
    print(f"order: {policy.order}; the last rule that matches a tensor wins")
    print()
    print(_rules_table(policy.rules))
    return 0


def _defaults(factory: Callable[..., Any]) -> dict[str, Any]:
    """A preset's options with their default values."""
    parameters = inspect.signature(factory).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _matches(rule: Rule) -> str:
    """What ``rule`` matches, e.g. ``type Conv2d|Linear, name 'head.*'``."""
    parts = []
    types = [cls.__name__ for cls in rule.types] + list(rule.type_names)
    if types:
        optional = " (if the model has it)" if rule.optional_types else ""
        parts.append("type " + "|".join(types) + optional)
    if rule.name is not None:
        parts.append(f"name {rule.name!r}")
    if rule.param is not None:
        parts.append(f"param {rule.param!r}")
    return ", ".join(parts) or "every layer"


def _rules_table(rules: Sequence[Rule]) -> str:
    """The rules as a table: one line per tensor a rule sets (rule, label, matches, sets)."""
    rows = [("rule", "label", "matches", "tensor", "strategy")]
    for index, rule in enumerate(rules):
        sets = [("(matched)", rule.init)] if rule.init is not None else list(rule.strategies)
        for position, (key, strategy) in enumerate(sets):
            first = position == 0
            head = (f"rules[{index}]", rule.label or "", _matches(rule)) if first else ("",) * 3
            rows.append((*head, key, strategy.describe()))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[4]])
        for row in rows
    )


def _commented_yaml(policy: Policy, about: str) -> str:
    """``policy`` as YAML with a header saying how to use it and a comment above each rule."""
    header = [
        *textwrap.wrap(f"torchinit {__version__}, `torchinit show --yaml`: {about}", 98),
        "",
        "Edit it, then check and use it:",
        "    torchinit validate this.yaml --model package.module:Model",
        "    torchinit plan package.module:Model this.yaml",
        '    torchinit.init_model(model, "this.yaml")',
        "",
        "Precedence: the last rule that matches a tensor wins (general rules first, then the",
        "exceptions). Layer types are torch.nn class names or the model's own classes, resolved",
        "when the policy is applied; nothing is imported.",
    ]
    lines = [f"# {line}".rstrip() for line in header]
    rule_index = -1
    for line in policy_to_yaml(policy).splitlines():
        if line.startswith("- "):  # a rule: the rules list is the document's last, top-level key
            rule_index += 1
            rule = policy.rules[rule_index]
            lines.append(f"# rules[{rule_index}] {rule.describe()}: {_matches(rule)}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def _plan_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of plan/init_model that plan and apply share."""
    return {
        "order": args.order,
        "include": args.include,
        "exclude": args.exclude,
        "strict": args.strict,
        **_options(args.option),
    }


def _cmd_plan(args: argparse.Namespace) -> int:
    """``torchinit plan``: the report of :func:`torchinit.plan`, as a table or as JSON."""
    kwargs = _plan_options(args)
    model = load_model(args.model, _model_kwargs(args.model_kwargs))
    report = plan(model, args.policy, **kwargs)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format_table(_width()))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    """``torchinit validate``: load a policy file; with ``--model``, plan it there (strict)."""
    options = _options(args.option)
    if args.model is None and args.model_kwargs is not None:
        raise InvalidArgumentError("needs --model", path="--model-kwargs", got=args.model_kwargs)
    # the model first: importing it imports its library, whose classes presets may use
    model = load_model(args.model, _model_kwargs(args.model_kwargs)) if args.model else None
    policy = load_policy(Path(args.policy), options=options)
    report = plan(model, policy, strict=True) if model is not None else None
    count = len(policy.rules)
    print(f"{args.policy}: ok ({count} {'rule' if count == 1 else 'rules'})")
    if report is not None:
        _print_summary(report)
        return 0
    type_names = list(dict.fromkeys(name for rule in policy.rules for name in rule.type_names))
    if type_names:
        _print_wrapped(
            "layer types resolved against the model when the policy is applied: "
            + ", ".join(type_names)
        )
    return 0


def _print_summary(report: InitReport) -> None:
    """Print the report's summary line and the rules that matched nothing."""
    _print_wrapped(report.summary())
    for rule in report.unused_rules:
        _print_wrapped(f"matched nothing: {rule}")


def _print_wrapped(line: str) -> None:
    """Print ``line`` wrapped to the terminal's width, continuation lines indented."""
    print(textwrap.fill(line, _width(), subsequent_indent="    ", break_on_hyphens=False))


def _cmd_apply(args: argparse.Namespace) -> int:
    """``torchinit apply``: seed, build, initialize, save the state_dict, print the report."""
    kwargs = _plan_options(args)
    out = Path(args.out)
    save = _saver(out)
    low, high = SEED_RANGE
    if not low <= args.manual_seed <= high:
        raise InvalidArgumentError(
            f"must be between {low} and {high}", path="--manual-seed", got=args.manual_seed
        )
    build = _resolve_model(args.model)
    model_kwargs = _model_kwargs(args.model_kwargs)
    # seeded before the model is built, like `torch.manual_seed(N); model = ctor()`
    torch.manual_seed(args.manual_seed)
    if args.meta:
        # built without memory, then allocated on the CPU tensor by tensor while initialized
        with torch.device("meta"):
            model = build(**model_kwargs)
        report = init_model(model, args.policy, seed=args.seed, device="cpu", **kwargs)
    else:
        model = build(**model_kwargs)
        report = init_model(model, args.policy, seed=args.seed, **kwargs)
    try:
        save(model, out)
    except OSError as error:
        raise InvalidArgumentError(
            f"cannot write the file: {error.strerror or error}", path="--out", got=str(out)
        ) from None
    print(report.format_table(_width()))
    print(f"saved the state_dict to {out}")
    return 0


def _saver(out: Path) -> Callable[[nn.Module, Path], None]:
    """How ``apply`` writes ``out``, chosen by its extension; checked before anything is done."""
    kind = SAVE_FORMATS.get(out.suffix.lower())
    if kind is None:
        raise InvalidArgumentError(
            f"unknown file extension; use one of {list(SAVE_FORMATS)}", path="--out", got=str(out)
        )
    if not out.parent.is_dir():
        raise InvalidArgumentError("its folder does not exist", path="--out", got=str(out))
    if kind == "torch":
        return _save_torch
    if kind == "safetensors":
        try:
            # imported by name: safetensors is optional, and not needed for .pt files
            writer = importlib.import_module("safetensors.torch")
        except ImportError:
            raise InvalidArgumentError(
                "writing .safetensors needs the safetensors package: pip install safetensors",
                path="--out",
                got=str(out),
            ) from None
        return functools.partial(_save_safetensors, writer.save_model)
    raise AssertionError(f"no writer for {kind!r}")


def _save_torch(model: nn.Module, out: Path) -> None:
    """``torch.save(model.state_dict(), out)``."""
    torch.save(model.state_dict(), out)


def _save_safetensors(save_model: Callable[..., Any], model: nn.Module, out: Path) -> None:
    """``safetensors.torch.save_model(model, out)``.

    ``save_model``, not ``save_file``: it writes tied tensors once, as the format requires.
    """
    save_model(model, str(out))


# --------------------------------------------------------------------------- the parser


def build_parser() -> argparse.ArgumentParser:
    """The ``torchinit`` argument parser, with its four commands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Weight-initialization policies for PyTorch models.",
        epilog=_MAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, summary: str, example: str, handler: _Handler
    ) -> argparse.ArgumentParser:
        """Add the subcommand ``name``, with ``example`` as its help's epilog."""
        sub = commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=example,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(handler=handler)
        return sub

    command(
        "list",
        "List the strategies (with their arguments) and presets (with their options).",
        _LIST_EXAMPLE,
        _cmd_list,
    )

    show_parser = command(
        "show",
        "Print a preset's (or policy file's) rules as a table, or as a YAML file to edit.",
        _SHOW_EXAMPLE,
        _cmd_show,
    )
    show_parser.add_argument("policy", metavar="POLICY", help=_POLICY_HELP)
    _add_option(show_parser)
    show_parser.add_argument(
        "--yaml",
        action="store_true",
        help="print the policy as a commented YAML file (loads back to an equal policy)",
    )

    plan_parser = command(
        "plan",
        "Show what a policy would do to each tensor of a model, touching nothing.",
        _PLAN_EXAMPLE,
        _cmd_plan,
    )
    plan_parser.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    plan_parser.add_argument("policy", metavar="POLICY", help=_POLICY_HELP)
    _add_model_kwargs(plan_parser)
    _add_policy_arguments(plan_parser)
    plan_parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (report.to_dict())"
    )

    validate_parser = command(
        "validate",
        "Check a YAML policy file, and optionally that it applies to a model.",
        _VALIDATE_EXAMPLE,
        _cmd_validate,
    )
    validate_parser.add_argument("policy", metavar="POLICY.yaml", help="the policy file")
    validate_parser.add_argument(
        "--model", metavar="MODEL", help="also plan the policy on this model: " + _MODEL_HELP
    )
    _add_model_kwargs(validate_parser)
    _add_option(validate_parser)

    apply_parser = command(
        "apply",
        "Initialize a model with a policy and save its state_dict.",
        _APPLY_EXAMPLE,
        _cmd_apply,
    )
    apply_parser.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    apply_parser.add_argument("policy", metavar="POLICY", help=_POLICY_HELP)
    apply_parser.add_argument(
        "--manual-seed",
        metavar="N",
        type=int,
        required=True,
        help="seed torch's global random number generator with torch.manual_seed(N) before "
        "the model is built",
    )
    apply_parser.add_argument(
        "--seed",
        metavar="N",
        type=int,
        help="keyed seeding: each initialized tensor's values depend only on N, its name and "
        "its strategy (init_model(..., seed=N)); --manual-seed still seeds the build",
    )
    apply_parser.add_argument(
        "--meta",
        action="store_true",
        help="build the model on the meta device and materialize it on the CPU while "
        "initializing (init_model(..., device='cpu')): parameters no rule sets get their "
        "layer's default init; for models too big to hold twice",
    )
    apply_parser.add_argument(
        "--out",
        metavar="FILE",
        required=True,
        help="where to save the state_dict: .pt/.pth (torch.save) or .safetensors",
    )
    _add_model_kwargs(apply_parser)
    _add_policy_arguments(apply_parser)
    return parser


def _add_model_kwargs(parser: argparse.ArgumentParser) -> None:
    """Add ``--model-kwargs``."""
    parser.add_argument(
        "--model-kwargs",
        metavar="JSON",
        help="keyword arguments for MODEL, as a JSON object, e.g. '{\"num_classes\": 10}'",
    )


def _add_option(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--option KEY=VALUE``."""
    parser.add_argument(
        "--option",
        metavar="KEY=VALUE",
        action="append",
        type=parse_option,
        help="a preset option (repeatable); VALUE is a YAML scalar (true, 3, 1e-6, text) or "
        "a JSON list/object, e.g. 'residual_norms=[\"layer*.*.bn2\"]'",
    )


def _add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments forwarded to plan/init_model: options, order, include/exclude, strict."""
    _add_option(parser)
    parser.add_argument(
        "--order", choices=ORDERS, help="traversal order (default: the policy's own)"
    )
    parser.add_argument(
        "--include",
        metavar="GLOB",
        action="append",
        help="only initialize the tensors whose name matches (repeatable)",
    )
    parser.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        help="never initialize the tensors whose name matches (repeatable)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="a policy that matches nothing is an error"
    )


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the ``torchinit`` command with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 on an error (printed to stderr as
        ``torchinit: error: <message>``). Usage errors exit through argparse, with code 2.
    """
    args = build_parser().parse_args(argv)
    handler: _Handler = args.handler
    with warnings.catch_warnings(), _cwd_importable():
        warnings.showwarning = _show_warning(warnings.showwarning)
        try:
            return handler(args)
        except TorchInitError as error:
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        except BrokenPipeError:
            # the reader went away (`torchinit plan ... | head`): no traceback for that; stdout
            # goes to devnull so that flushing it at exit does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1


@contextlib.contextmanager
def _cwd_importable() -> Iterator[None]:
    """Put the current directory on ``sys.path`` while a command runs, as ``python -m``
    does, so that MODEL may name a module there; take it off again afterwards."""
    cwd = os.getcwd()
    if cwd in sys.path:
        yield
        return
    sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if cwd in sys.path:
            sys.path.remove(cwd)


def _show_warning(default: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints torchinit's warnings as ``torchinit: warning:``."""

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, TorchInitWarning):
            print(f"{PROG}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    return show

"""The commands: ``list``, ``show``, ``plan``, ``validate``, ``apply``, ``check``,
``diagnose`` and ``convert``, each a function of the parsed arguments that prints its result
and returns the exit code."""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import inspect
import json
import os
import pickle
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from torchinit import __version__
from torchinit.checking import check
from torchinit.cli.arguments import (
    call_arguments,
    load_model,
    model_config,
    model_kwargs,
    preset_options,
    resolve_model,
)
from torchinit.cli.validation import check_without_model
from torchinit.config import (
    is_policy_file,
    load_policy_with_lines,
    policy_to_yaml,
    resolve_policy,
)
from torchinit.diagnosis import diagnose
from torchinit.engine import init_model, plan
from torchinit.errors import InvalidArgumentError, TorchInitError
from torchinit.policy import Policy, Rule
from torchinit.presets import PRESETS, FromModel
from torchinit.report import InitReport
from torchinit.strategies import STRATEGIES

__all__ = [
    "cmd_apply",
    "cmd_check",
    "cmd_convert",
    "cmd_diagnose",
    "cmd_list",
    "cmd_plan",
    "cmd_show",
    "cmd_validate",
    "terminal_width",
]

#: Formats ``apply`` can write, by file extension.
SAVE_FORMATS = {".pt": "torch", ".pth": "torch", ".safetensors": "safetensors"}
#: ``torch.manual_seed`` accepts any integer in this range.
SEED_RANGE = (-(2**63), 2**64 - 1)


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` when set)."""
    return shutil.get_terminal_size().columns


def cmd_list(args: argparse.Namespace) -> int:
    """``torchinit list``: the registered strategies and presets, with their defaults."""
    width = terminal_width()
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


def cmd_convert(args: argparse.Namespace) -> int:
    """``torchinit convert mmengine FILE``: an ``init_cfg`` as a YAML policy."""
    from torchinit.dialects.mmengine import from_mmengine, load_init_cfg

    if args.dialect != "mmengine":
        raise InvalidArgumentError("must be 'mmengine'", path="dialect", got=args.dialect)
    init_cfg = load_init_cfg(args.file, args.key)
    try:
        policy = from_mmengine(init_cfg)
    except TorchInitError as error:
        raise error.located(args.file) from None
    print(f"# from the {args.key} of {args.file} (torchinit convert mmengine)")
    print(policy_to_yaml(policy), end="")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """``torchinit show``: a policy's rules as a table, or as a commented YAML file."""
    options = preset_options(args.option)
    policy = resolve_policy(args.policy, options)
    if is_policy_file(args.policy):
        about = f"policy {policy.name or '<policy>'!r} from {args.policy}"
    else:
        preset = PRESETS.lookup(args.policy, "policy")
        settings = {name: value for name, (value, _) in policy.options.items()}
        about = f"preset {args.policy!r}" + (f" ({call_arguments(settings)})" if settings else "")
        summary = (inspect.getdoc(preset) or "").split("\n", 1)[0].replace("``", "")
        about += f": {summary}" if summary else ""
        about += _read_from_model(preset)
    if args.yaml:
        print(_commented_yaml(policy, about), end="")
        return 0
    _print_wrapped(about)
    print(f"order: {policy.order}; the last rule that matches a tensor wins")
    print()
    print(_rules_table(policy.rules))
    return 0


def _read_from_model(factory: Callable[..., Any]) -> str:
    """`` Read from the model when not given: n_layer (model.config.n_layer), ...``: what
    ``init_model`` reads from the model for the options ``show`` (which has none) was not
    given."""
    parameters = inspect.signature(factory).parameters.values()
    read = [f"{p.name} {p.default!r}" for p in parameters if isinstance(p.default, FromModel)]
    return f" Read from the model when not given: {', '.join(read)}." if read else ""


def _matches(rule: Rule) -> str:
    """What ``rule`` matches, e.g. ``type Conv2d|Linear, name 'head.*'``."""
    parts = []
    types = [cls.__name__ for cls in rule.types] + list(rule.type_names)
    if types:
        # every preset rule is optional: only a class the model may not have is worth a note
        optional = " (if the model has it)" if rule.optional and rule.type_names else ""
        parts.append("type " + "|".join(types) + optional)
    if rule.class_names:
        parts.append("class_name " + "|".join(rule.class_names))
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


def _planpreset_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of plan/init_model that plan and apply share."""
    return {
        "order": args.order,
        "include": args.include,
        "exclude": args.exclude,
        "strict": args.strict,
        **preset_options(args.option),
    }


def _seed_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyed-seeding keyword arguments of init_model that apply and diagnose take."""
    return {"seed": args.seed, "scheme_version": args.scheme_version}


def cmd_plan(args: argparse.Namespace) -> int:
    """``torchinit plan``: the report of :func:`torchinit.plan`, as a table or as JSON."""
    kwargs = _planpreset_options(args)
    # on meta, nothing is allocated: a model of any size is planned in seconds
    with torch.device("meta") if args.meta else contextlib.nullcontext():
        model = load_model(args.model, model_kwargs(args.model_kwargs), model_config(args.config))
    report = plan(model, args.policy, **kwargs)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.format_table(terminal_width()))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """``torchinit validate``: load a policy file; with ``--model``, plan it there (strict)."""
    options = preset_options(args.option)
    if args.model is None:
        for option, value in (("--model-kwargs", args.model_kwargs), ("--config", args.config)):
            if value is not None:
                raise InvalidArgumentError("needs --model", path=option, got=value)
    # the model first: importing it imports its library, whose classes presets may use
    model = (
        load_model(args.model, model_kwargs(args.model_kwargs), model_config(args.config))
        if args.model
        else None
    )
    policy, lines = load_policy_with_lines(Path(args.policy), options=options, model=model)
    count = f"{len(policy.rules)} {'rule' if len(policy.rules) == 1 else 'rules'}"
    if model is not None:
        report = plan(model, policy, strict=True)
        print(f"{args.policy}: ok ({count})")
        _print_summary(report)
        return 0
    findings = check_without_model(policy, lines)
    if findings.errors:
        for error in findings.errors:
            print(f"torchinit: error: {error}", file=sys.stderr)
        return 1
    print(f"{args.policy}: ok ({count})")
    left = {
        "layer types that may be the model's own classes": findings.model_types,
        "parameter keys": findings.unchecked_keys,
        "name and param globs": findings.globs,
    }
    if not any(left.values()):
        print("nothing is left for --model: every layer type and parameter key was checked")
        return 0
    print("left for --model (checked when the policy is applied to a model):")
    for what, items in left.items():
        if items:
            _print_wrapped(f"  {what}: {', '.join(items)}")
    return 0


def _print_summary(report: InitReport) -> None:
    """Print the report's summary line and the rules that matched nothing."""
    _print_wrapped(report.summary())
    for rule in report.unused_rules:
        _print_wrapped(f"matched nothing: {rule}")


def _print_wrapped(line: str) -> None:
    """Print ``line`` wrapped to the terminal's width, continuation lines indented."""
    print(textwrap.fill(line, terminal_width(), subsequent_indent="    ", break_on_hyphens=False))


def cmd_apply(args: argparse.Namespace) -> int:
    """``torchinit apply``: seed, build, initialize, save the state_dict, print the report."""
    kwargs = {**_planpreset_options(args), **_seed_options(args)}
    kwargs["progress"] = sys.stderr.isatty() if args.progress is None else args.progress
    kwargs["rollback"] = args.rollback
    out = Path(args.out)
    save = _saver(out, force=args.force)
    # without --manual-seed, --seed seeds the build too: the tensors no rule sets keep the
    # values the constructor drew, and the saved file must not depend on the run
    manual_seed = args.manual_seed if args.manual_seed is not None else args.seed
    if manual_seed is None:
        raise InvalidArgumentError(
            "give --manual-seed N or --seed N (or both): the saved weights must be reproducible",
            path="--manual-seed",
        )
    low, high = SEED_RANGE
    if not low <= manual_seed <= high:
        option = "--manual-seed" if args.manual_seed is not None else "--seed"
        raise InvalidArgumentError(
            f"must be between {low} and {high}", path=option, got=manual_seed
        )
    build = resolve_model(args.model, model_config(args.config))
    build_kwargs = model_kwargs(args.model_kwargs)
    # seeded before the model is built, like `torch.manual_seed(N); model = ctor()`
    torch.manual_seed(manual_seed)
    if args.meta:
        # built without memory, then allocated on the CPU tensor by tensor while initialized
        with torch.device("meta"):
            model = build(**build_kwargs)
        report = init_model(model, args.policy, device="cpu", **kwargs)
    else:
        model = build(**build_kwargs)
        report = init_model(model, args.policy, **kwargs)
    try:
        _write_atomically(save, model, out)
    except OSError as error:
        raise InvalidArgumentError(
            f"cannot write the file: {error.strerror or error}", path="--out", got=str(out)
        ) from None
    print(report.format_table(terminal_width()))
    print(f"saved the state_dict to {out}")
    return 0


def _saver(out: Path, *, force: bool = False) -> Callable[[nn.Module, Path], None]:
    """How ``apply`` writes ``out``, chosen by its extension; checked before anything is done
    (an existing file is only replaced with ``force``)."""
    kind = SAVE_FORMATS.get(out.suffix.lower())
    if kind is None:
        raise InvalidArgumentError(
            f"unknown file extension; use one of {list(SAVE_FORMATS)}", path="--out", got=str(out)
        )
    if not out.parent.is_dir():
        raise InvalidArgumentError("its folder does not exist", path="--out", got=str(out))
    if out.is_dir():
        raise InvalidArgumentError("is a folder; give a file name", path="--out", got=str(out))
    if out.exists() and not force:
        raise InvalidArgumentError(
            "the file exists; pass --force to replace it", path="--out", got=str(out)
        )
    # the file is written beside its final name, then renamed over it
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise InvalidArgumentError("its folder is not writable", path="--out", got=str(out))
    if kind == "torch":
        return _save_torch
    if kind == "safetensors":
        writer = _safetensors("writing", "--out", out)
        return functools.partial(_save_safetensors, writer.save_model)
    raise AssertionError(f"no writer for {kind!r}")


def _write_atomically(save: Callable[[nn.Module, Path], None], model: nn.Module, out: Path) -> None:
    """``save(model, out)`` through a temporary file in ``out``'s folder, renamed over ``out``
    when complete: a run killed or failing mid-write leaves the previous file as it was, and
    no partial file under either name."""
    descriptor, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(descriptor)
    temporary = Path(name)
    try:
        # mkstemp makes the file private (0600); the saved file gets the usual mode
        os.chmod(temporary, 0o666 & ~_umask())
        save(model, temporary)
        os.replace(temporary, out)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary file behind
        temporary.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _save_torch(model: nn.Module, out: Path) -> None:
    """``torch.save(model.state_dict(), out)``."""
    torch.save(model.state_dict(), out)


def _save_safetensors(save_model: Callable[..., Any], model: nn.Module, out: Path) -> None:
    """``safetensors.torch.save_model(model, out)``.

    ``save_model``, not ``save_file``: it writes tied tensors once, as the format requires.
    """
    save_model(model, str(out))


def cmd_check(args: argparse.Namespace) -> int:
    """``torchinit check``: build the model, load ``--weights``, compare each tensor the policy
    sets with its strategy's law (:func:`torchinit.check`); exit 1 if any is a suspect."""
    if args.manual_seed is not None:
        torch.manual_seed(args.manual_seed)
    model = load_model(args.model, model_kwargs(args.model_kwargs), model_config(args.config))
    missing: list[str] = []
    if args.weights is not None:
        missing = _load_weights(model, Path(args.weights))
    report = check(model, args.policy, sigmas=args.sigmas, **_planpreset_options(args))
    if args.json:
        print(json.dumps({**report.to_dict(), "not_in_weights": missing}, indent=2))
    else:
        for line in str(report).splitlines():
            _print_wrapped(line)
        if missing:
            _print_wrapped(f"not in --weights (checked as built): {', '.join(missing)}")
    return 0 if report.ok else 1


def _safetensors(doing: str, flag: str, file: Path) -> Any:
    """``safetensors.torch``, imported by name when a .safetensors file is met: the package is
    optional, and not needed for .pt files."""
    try:
        return importlib.import_module("safetensors.torch")
    except ImportError:
        raise InvalidArgumentError(
            f"{doing} .safetensors needs the safetensors package: pip install safetensors",
            path=flag,
            got=str(file),
        ) from None


def _load_weights(model: nn.Module, path: Path) -> list[str]:
    """Load the state_dict in ``path`` (.safetensors, or a torch.save file, read with
    ``weights_only=True``) into ``model``; the keys the file lacks are returned, a key the
    model lacks is an error."""
    try:
        if path.suffix.lower() == ".safetensors":
            state = _safetensors("reading", "--weights", path).load_file(str(path))
        else:
            state = _torch_load(path, "--weights")
    except OSError as error:
        raise InvalidArgumentError(
            f"cannot read the file: {error.strerror or error}", path="--weights", got=str(path)
        ) from None
    if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
        raise InvalidArgumentError(
            "must hold a state_dict (a dict of tensors by name)", path="--weights", got=str(path)
        )
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise InvalidArgumentError(
            f"has tensors the model does not: {', '.join(result.unexpected_keys[:5])}"
            + (" ..." if len(result.unexpected_keys) > 5 else ""),
            path="--weights",
            got=str(path),
        )
    return list(result.missing_keys)


def _torch_load(path: Path, option: str) -> Any:
    """``torch.load(path, weights_only=True)`` onto the CPU; a file that cannot be read, or
    that holds more than tensors and plain containers (pickled code), is an error naming
    ``option``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise InvalidArgumentError(
            f"cannot read the file: {error.strerror or error}", path=option, got=str(path)
        ) from None
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidArgumentError(
            f"cannot be read with weights_only=True: {first}", path=option, got=str(path)
        ) from None


def cmd_diagnose(args: argparse.Namespace) -> int:
    """``torchinit diagnose``: build the model, initialize it with the policy, and measure one
    forward and backward pass (:func:`torchinit.diagnose`): a table, or JSON; ``--plot``."""
    if args.manual_seed is not None:
        torch.manual_seed(args.manual_seed)
    model = load_model(args.model, model_kwargs(args.model_kwargs), model_config(args.config))
    report = init_model(model, args.policy, **_seed_options(args), **_planpreset_options(args))
    if args.inputs is not None:
        inputs = _diagnose_inputs(Path(args.inputs))
    else:
        generator = torch.Generator().manual_seed(args.manual_seed or 0)
        inputs = torch.randn(args.input_shape, generator=generator)
    diagnosis = diagnose(model, inputs, mode=args.mode, report=report)
    if args.plot is not None:
        try:
            diagnosis.plot(args.plot)
        except OSError as error:
            raise InvalidArgumentError(
                f"cannot write the file: {error.strerror or error}", path="--plot", got=args.plot
            ) from None
    if args.json:
        print(json.dumps(diagnosis.to_dict(), indent=2))
    else:
        print(diagnosis)
        if args.plot is not None:
            print(f"wrote the plot to {args.plot}")
    return 0


def _diagnose_inputs(path: Path) -> torch.Tensor | tuple[Any, ...] | dict[str, Any]:
    """The inputs in a torch.save file: a tensor, positional arguments (a tuple or a list) or
    keyword arguments (a dict with string keys)."""
    inputs = _torch_load(path, "--inputs")
    if isinstance(inputs, list):
        inputs = tuple(inputs)
    if isinstance(inputs, dict) and all(isinstance(key, str) for key in inputs):
        return inputs
    if isinstance(inputs, (torch.Tensor, tuple)):
        return inputs
    raise InvalidArgumentError(
        "must hold a tensor, a tuple or list of positional arguments, or a dict of keyword "
        "arguments",
        path="--inputs",
        got=str(path),
    )

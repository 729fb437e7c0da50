"""The ``torchinit`` argument parser, its help texts, and :func:`main`."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import TextIO

from torchinit import __version__
from torchinit.cli.arguments import parse_option, parse_shape
from torchinit.cli.commands import (
    cmd_apply,
    cmd_check,
    cmd_convert,
    cmd_diagnose,
    cmd_list,
    cmd_plan,
    cmd_show,
    cmd_validate,
)
from torchinit.errors import TorchInitError, TorchInitWarning
from torchinit.policy import ORDERS
from torchinit.seeding import VERSIONS

__all__ = ["build_parser", "main"]

PROG = "torchinit"

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
  torchinit check torchvision.models:resnet50 resnet --weights weights.pt
  torchinit diagnose torchvision.models:resnet50 resnet --input-shape 8,3,224,224
  torchinit convert mmengine retinanet_head.py > retinanet_head.yaml

Run 'torchinit COMMAND --help' for a command's options.
"""

_MODEL_HELP = (
    "the model, as package.module:callable (e.g. torchvision.models:resnet50) or "
    "path/to/file.py:callable (imported, not run as a script); the callable is called with "
    "no arguments, or with --config and --model-kwargs"
)
_POLICY_HELP = "a preset name (see 'torchinit list') or a YAML policy file (.yaml/.yml)"

_LIST_EXAMPLE = """\
Example:
  torchinit list
"""

_CONVERT_EXAMPLE = """\
Example:
  torchinit convert mmengine configs/retinanet_head.py > retinanet_head.yaml
  torchinit convert mmengine init.json --key init_cfg

FILE is a Python config (the top-level 'init_cfg = ...' assignment, read from its syntax tree:
the file is never run), or a JSON/YAML file holding the init_cfg or a mapping with an init_cfg
key. The YAML printed is a policy: 'torchinit plan MODEL retinanet_head.yaml' shows what each
init_cfg entry became.
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
  torchinit plan models/mynet.py:MyNet policy.yaml
  torchinit plan transformers:GPT2LMHeadModel gpt2 --config gpt2.json

The table fits the terminal's width (COLUMNS); --json gives every detail.
"""

_VALIDATE_EXAMPLE = """\
Example:
  torchinit validate policy.yaml
  torchinit validate policy.yaml --model torchvision.models:resnet18

Without --model, the file is checked against torch.nn: type names that nearly are torch.nn
classes (Conv2D) and parameter keys that no torch.nn type of the rule has (wieght) are
errors; what only a model can tell (e.g. Bottleneck, name globs) is listed. With --model,
the policy is also planned on the model (strict: it must match something).
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
values for a tensor whatever the model's layout, threads, wrappers or device. Without
--manual-seed, --seed's N also seeds the build (torch.manual_seed(N)), so that the tensors
no rule sets are reproducible too. --scheme-version 3 (with --seed) selects the
counter-based keyed scheme (init_model(..., seed=N, scheme_version=3)): each element from
its own counter, drawn on the tensor's device; on a CPU it is slower than scheme 2, the
default.

--out FILE.pt or .pth: torch.save(model.state_dict()); .safetensors:
safetensors.torch.save_model (needs 'pip install safetensors'). The file is written
beside FILE and renamed into place when complete, so an interrupted run leaves no
partial file; an existing FILE is replaced only with --force.
"""

_CHECK_EXAMPLE = """\
Example:
  torchinit check torchvision.models:resnet18 resnet --weights resnet18.pt
  torchinit check transformers:GPT2LMHeadModel gpt2 --config gpt2.json --weights model.safetensors

Every tensor the policy sets is compared with its strategy's law: a constant must be exact;
the mean and std of a random draw must be within --sigmas standard errors of the law's
(6: a false alarm about once in 500 million tensors), and its values within a bounded law's
support. Exit status 1 when a tensor is a suspect. Without --weights, the model is checked as
its constructor left it (seeded with --manual-seed N).
"""

_DIAGNOSE_EXAMPLE = """\
Example:
  torchinit diagnose torchvision.models:resnet18 resnet --input-shape 8,3,224,224
  torchinit diagnose torchvision.models:resnet18 xavier --input-shape 8,3,224,224 --plot out.png
  torchinit diagnose mypkg.models:Net policy.yaml --inputs batch.pt --mode eval --json

is the same as, in Python:

  torch.manual_seed(0)   # with --manual-seed 0
  model = torchvision.models.resnet18()
  report = torchinit.init_model(model, "resnet")
  x = torch.randn(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
  print(torchinit.diagnose(model, x, report=report))

One forward and one backward pass: per layer call, the std of the output and of the gradient
arriving at it; with a good init both stay of one size from the first layer to the last.
--input-shape draws standard-normal inputs from their own generator, seeded with
--manual-seed's N (0 without it); --inputs reads them from a torch.save file (a tensor, a
tuple or list of positional arguments, or a dict of keyword arguments), with
weights_only=True. --plot needs matplotlib (pip install torchinit[plot]).
"""


# --------------------------------------------------------------------------- the parser


def build_parser() -> argparse.ArgumentParser:
    """The ``torchinit`` argument parser, with its commands."""
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
        cmd_list,
    )

    show_parser = command(
        "show",
        "Print a preset's (or policy file's) rules as a table, or as a YAML file to edit.",
        _SHOW_EXAMPLE,
        cmd_show,
    )
    show_parser.add_argument("policy", metavar="POLICY", help=_POLICY_HELP)
    _add_option(show_parser)
    show_parser.add_argument(
        "--yaml",
        action="store_true",
        help="print the policy as a commented YAML file (loads back to an equal policy)",
    )

    convert_parser = command(
        "convert",
        "Print another system's init config (mmengine's init_cfg) as a torchinit YAML policy.",
        _CONVERT_EXAMPLE,
        cmd_convert,
    )
    convert_parser.add_argument("dialect", choices=["mmengine"], help="the system: mmengine")
    convert_parser.add_argument("file", metavar="FILE", help="a .py, .json, .yaml or .yml file")
    convert_parser.add_argument(
        "--key",
        default="init_cfg",
        help="the variable (Python) or key (JSON/YAML) holding the config (default: init_cfg)",
    )

    plan_parser = command(
        "plan",
        "Show what a policy would do to each tensor of a model, touching nothing.",
        _PLAN_EXAMPLE,
        cmd_plan,
    )
    _add_model_and_policy(plan_parser)
    _add_model_kwargs(plan_parser)
    _add_policy_arguments(plan_parser)
    plan_parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (report.to_dict())"
    )
    plan_parser.add_argument(
        "--meta",
        action="store_true",
        help="build the model on the meta device: plans a model of any size without "
        "allocating or drawing its tensors",
    )

    validate_parser = command(
        "validate",
        "Check a YAML policy file, and optionally that it applies to a model.",
        _VALIDATE_EXAMPLE,
        cmd_validate,
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
        cmd_apply,
    )
    _add_model_and_policy(apply_parser)
    apply_parser.add_argument(
        "--manual-seed",
        metavar="N",
        type=int,
        help="seed torch's global random number generator with torch.manual_seed(N) before "
        "the model is built (default: --seed's N; one of the two is required)",
    )
    _add_seed_arguments(apply_parser, "; without --manual-seed, also seeds the build")
    apply_parser.add_argument(
        "--meta",
        action="store_true",
        help="build the model on the meta device and materialize it on the CPU while "
        "initializing (init_model(..., device='cpu')): parameters no rule sets get their "
        "layer's default init; for models too big to hold twice",
    )
    apply_parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show progress over the tensors being initialized, on stderr (default: when "
        "stderr is a terminal); a bar needs tqdm (pip install torchinit[progress]) or rich",
    )
    apply_parser.add_argument(
        "--no-rollback",
        dest="rollback",
        action="store_false",
        help="do not copy the tensors to be written first (init_model(..., rollback=False)): "
        "saves their size in memory; a failure then leaves the model partly initialized, "
        "which the command does not save anyway",
    )
    apply_parser.add_argument(
        "--out",
        metavar="FILE",
        required=True,
        help="where to save the state_dict: .pt/.pth (torch.save) or .safetensors; written to "
        "a temporary file in the same folder, then renamed into place",
    )
    apply_parser.add_argument(
        "--force", action="store_true", help="replace the --out file if it exists"
    )
    _add_model_kwargs(apply_parser)
    _add_policy_arguments(apply_parser)

    check_parser = command(
        "check",
        "Check, without data, that a model's tensors look drawn as a policy says.",
        _CHECK_EXAMPLE,
        cmd_check,
    )
    _add_model_and_policy(check_parser)
    check_parser.add_argument(
        "--weights",
        metavar="FILE",
        help="load this state_dict into the model first: .safetensors, or a torch.save file "
        "(.pt/.pth, read with weights_only=True); keys it lacks are checked as built",
    )
    check_parser.add_argument(
        "--sigmas",
        metavar="K",
        type=float,
        default=6.0,
        help="how many standard errors a tensor's mean or std may be off (default: 6)",
    )
    check_parser.add_argument(
        "--manual-seed",
        metavar="N",
        type=int,
        help="torch.manual_seed(N) before the model is built",
    )
    check_parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (report.to_dict())"
    )
    _add_model_kwargs(check_parser)
    _add_policy_arguments(check_parser)

    diagnose_parser = command(
        "diagnose",
        "Initialize a model with a policy and measure how a signal travels through it.",
        _DIAGNOSE_EXAMPLE,
        cmd_diagnose,
    )
    _add_model_and_policy(diagnose_parser)
    inputs = diagnose_parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument(
        "--input-shape",
        metavar="N,C,...",
        type=parse_shape,
        help="random standard-normal inputs of this shape, e.g. 8,3,224,224",
    )
    inputs.add_argument(
        "--inputs",
        metavar="FILE.pt",
        help="the inputs, from a torch.save file (read with weights_only=True): a tensor, a "
        "tuple or list of positional arguments, or a dict of keyword arguments",
    )
    diagnose_parser.add_argument(
        "--mode",
        choices=("eval", "train"),
        help="run the whole model in this mode (default: each module in its own, as built)",
    )
    diagnose_parser.add_argument(
        "--manual-seed",
        metavar="N",
        type=int,
        help="torch.manual_seed(N) before the model is built; also seeds --input-shape's draw",
    )
    _add_seed_arguments(diagnose_parser)
    diagnose_parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also write a PNG of the output and gradient std by depth (needs matplotlib)",
    )
    diagnose_parser.add_argument(
        "--json", action="store_true", help="print the diagnosis as JSON (diagnosis.to_dict())"
    )
    _add_model_kwargs(diagnose_parser)
    _add_policy_arguments(diagnose_parser)
    return parser


def _add_model_and_policy(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``MODEL`` and ``POLICY``."""
    parser.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    parser.add_argument("policy", metavar="POLICY", help=_POLICY_HELP)


def _add_model_kwargs(parser: argparse.ArgumentParser) -> None:
    """Add ``--model-kwargs`` and ``--config``."""
    parser.add_argument(
        "--model-kwargs",
        metavar="JSON",
        help="keyword arguments for MODEL, as a JSON object, e.g. '{\"num_classes\": 10}'",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.json",
        help="a JSON file: for a class with a config_class (a Hugging Face model, e.g. "
        "transformers:GPT2LMHeadModel), MODEL(config_class(**json)); for any other callable, "
        "its keys are keyword arguments, beside --model-kwargs",
    )


def _add_seed_arguments(parser: argparse.ArgumentParser, seed_also: str = "") -> None:
    """Add ``--seed N`` and ``--scheme-version {2,3}``, init_model's ``seed`` and
    ``scheme_version`` (``seed_also`` ends ``--seed``'s help)."""
    parser.add_argument(
        "--seed",
        metavar="N",
        type=int,
        help="keyed seeding: each initialized tensor's values depend only on N, its name and "
        f"its strategy (init_model(..., seed=N)){seed_also}",
    )
    parser.add_argument(
        "--scheme-version",
        type=int,
        choices=VERSIONS,
        help="with --seed, the keyed scheme (init_model(..., scheme_version=V)): 2 (the "
        "default) draws chunks of torch's CPU generators; 3 is counter-based, each element "
        "from its own counter on the tensor's device, slower on a CPU",
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
        "--strict",
        action="store_true",
        help="a policy, a rule or an --include/--exclude entry that matches nothing is an "
        "error (default: a warning)",
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
    """Put the current directory on ``sys.path`` while a command runs, so that MODEL may name
    a module there; take it off again afterwards.

    It goes last, not first as ``python -m`` puts it: a module there is found only when no
    installed one has its name, so a ``torchvision.py`` in the folder never runs in place of
    torchvision (for MODEL, or for any import while the command runs).
    """
    cwd = os.getcwd()
    if cwd in sys.path:
        yield
        return
    sys.path.append(cwd)
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

"""torchinit.cli: the ``torchinit`` command.

The tests run the command in-process through ``main(argv)``, the code the console script and
``python -m torchinit`` run. Only what needs a real process starts one (the console script,
``python -m torchinit``, its exit code and ``sys.path``); those are marked slow and never get
a timeout a loaded machine could hit.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import torchinit as ti
from torchinit.cli import load_model, main, parse_option
from torchinit.cli.validation import parameter_names

ROOT = Path(__file__).resolve().parents[1]
# Subprocesses start in tests/, not in the repository root: `python -m` puts its working
# directory first on sys.path, which would import the source tree's torchinit instead of the
# installed one when the suite runs against the wheel.
CWD = ROOT / "tests"

tv_models = pytest.importorskip("torchvision.models", reason="torchvision is not installed")


def run(
    *args: str, columns: int = 100, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m torchinit ARGS`` in ``tests/``, with a terminal COLUMNS wide."""
    environment = {**os.environ, "COLUMNS": str(columns), "PYTHONIOENCODING": "utf-8"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "torchinit", *args],
        cwd=CWD,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=environment,
    )


@dataclasses.dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run ``main(argv)`` in this process; exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # main puts the cwd on it

    def call(*argv: str, columns: int = 100) -> Result:
        monkeypatch.setenv("COLUMNS", str(columns))
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def row(name: str, description: str) -> str:
    """A line of `torchinit list`: the name padded to the widest registered name."""
    width = max(len(n) for n in [*ti.STRATEGIES, *ti.PRESETS])
    return f"  {name.ljust(width)}  {description}"


# --------------------------------------------------------------------------- list


def test_list_shows_strategies_with_defaults_and_presets_with_options(
    cli: Callable[..., Result],
) -> None:
    result = cli("list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == "strategies (arguments, with their defaults):"
    assert row("kaiming_normal", "a=0.0, mode='fan_in', nonlinearity='leaky_relu'") in lines
    assert row("sparse", "sparsity, std=0.01") in lines
    assert row("zeros", "(no arguments)") in lines
    assert "presets (options, with their defaults):" in lines
    assert row("resnet", "zero_init_residual=False, residual_norms=()") in lines
    assert row("vgg", "(no options)") in lines
    # a wrapped description continues on lines indented past the names
    listed = {line.split()[0] for line in lines if line.startswith("  ") and line[2] != " "}
    assert listed == set(ti.STRATEGIES) | set(ti.PRESETS)


def test_list_reads_the_registries(cli: Callable[..., Result]) -> None:
    @dataclasses.dataclass(frozen=True)
    class Scaled(ti.Strategy):
        factor: float = 0.5

        def __call__(
            self, tensor: torch.Tensor, *, generator: torch.Generator | None = None
        ) -> torch.Tensor:
            return tensor.mul_(self.factor)

    ti.register_strategy("cli_test_scaled")(Scaled)
    try:
        result = cli("list")
    finally:
        ti.STRATEGIES.remove("cli_test_scaled")
    assert result.code == 0
    assert row("cli_test_scaled", "factor=0.5") in result.out.splitlines()


# --------------------------------------------------------------------------- show


def test_show_prints_a_presets_rules_one_line_per_tensor(cli: Callable[..., Result]) -> None:
    result = cli("show", "vgg")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "preset 'vgg': torchvision's VGG init (torchvision/models/vgg.py, init_weights=True), "
        "bit for bit.",
        "order: modules; the last rule that matches a tensor wins",
        "",
        "rule      label   matches           tensor  strategy",
        "rules[0]  conv    type Conv2d       weight  "
        "kaiming_normal(a=0.0, mode='fan_out', nonlinearity='relu')",
        "                                    bias    zeros()",
        "rules[1]  norm    type BatchNorm2d  weight  ones()",
        "                                    bias    zeros()",
        "rules[2]  linear  type Linear       weight  normal(mean=0.0, std=0.01)",
        "                                    bias    zeros()",
    ]


def test_show_names_the_options_and_parameter_rules(cli: Callable[..., Result]) -> None:
    result = cli("show", "gpt2", "--option", "n_layer=2")
    assert result.code == 0, result.err
    assert result.out.startswith("preset 'gpt2' (n_layer=2, initializer_range=0.02): ")
    assert "type Linear|Conv1D (if the model has it)" in result.out
    last = result.out.splitlines()[-1].split()
    std = 0.02 / (2 * 2) ** 0.5
    assert last == [
        "rules[3]", "scaled", "residual", "c_proj", "param", "'**.c_proj.weight'", "(matched)",
        "normal(mean=0.0,", f"std={std})",
    ]  # fmt: skip


@pytest.mark.parametrize("preset", sorted(ti.PRESETS))
def test_show_yaml_loads_back_to_the_preset(
    cli: Callable[..., Result],
    tmp_path: Path,
    preset: str,
    options_without_model: dict[str, dict[str, object]],
) -> None:
    options = options_without_model.get(preset, {})
    given = [arg for key, value in options.items() for arg in ("--option", f"{key}={value}")]
    result = cli("show", preset, *given, "--yaml")
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith(f"# torchinit {ti.__version__}, `torchinit show --yaml`: ")
    path = write(tmp_path / "policy.yaml", result.out)
    assert ti.Policy.from_yaml(path) == ti.get_preset(preset, **options)
    # one comment above each rule, naming it as the report does
    rules = ti.get_preset(preset, **options).rules
    comments = [line for line in result.out.splitlines() if line.startswith("# rules[")]
    assert len(comments) == len(rules)
    assert comments[0].startswith(f"# rules[0] {rules[0].describe()}: ")


def test_show_yaml_with_options_loads_back_to_the_preset_with_them(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    result = cli("show", "nanogpt", "--option", "n_layer=6", "--yaml")
    assert result.code == 0, result.err
    assert "preset 'nanogpt' (n_layer=6" in result.out
    path = write(tmp_path / "policy.yaml", result.out)
    assert ti.Policy.from_yaml(path) == ti.get_preset("nanogpt", n_layer=6)
    assert ti.Policy.from_yaml(path) != ti.get_preset("nanogpt", n_layer=12)


def test_show_says_which_options_come_from_the_model(cli: Callable[..., Result]) -> None:
    result = cli("show", "gpt2", "--option", "n_layer=2")
    assert result.code == 0, result.err
    about = " ".join(result.out.split("\norder: ")[0].split())
    assert about.endswith(
        "Read from the model when not given: n_layer <from model.config.n_layer or "
        "model.config.num_hidden_layers>, initializer_range <from "
        "model.config.initializer_range, else 0.02>."
    )
    assert "preset 'vgg'" in cli("show", "vgg").out  # no such sentence without such options
    assert "Read from the model" not in cli("show", "vgg").out


def test_show_without_a_model_needs_the_options_read_from_the_model(
    cli: Callable[..., Result],
) -> None:
    result = cli("show", "gpt2")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "torchinit: error: gpt2.n_layer: not given and there is no model to read it from "
        "(model.config.n_layer or model.config.num_hidden_layers); pass n_layer=...\n"
    )


def test_list_shows_what_presets_read_from_the_model(cli: Callable[..., Result]) -> None:
    result = cli("list")
    assert result.code == 0
    listed = " ".join(result.out.split())
    assert (
        "gpt2 n_layer=<from model.config.n_layer or model.config.num_hidden_layers>, "
        "initializer_range=<from model.config.initializer_range, else 0.02> bert"
    ) in listed
    assert "fixup num_branches=<from a count of the layers matching last_layers>," in listed


def test_show_a_policy_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = write(tmp_path / "mine.yaml", cli("show", "resnet", "--yaml").out)
    result = cli("show", str(path))
    assert result.code == 0, result.err
    assert result.out.startswith(f"policy 'resnet' from {path}\n")
    assert "rules[1]  norm   type BatchNorm2d|GroupNorm  weight  ones()" in result.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "resnt"], "torchinit: error: preset: unknown preset; did you mean 'resnet'?"),
        (["show", "vgg", "--option", "x=1"], "torchinit: error: vgg.x: unknown option;"),
        (["show", "missing.yaml"], "torchinit: error: cannot read the policy file:"),
    ],
)
def test_show_errors(cli: Callable[..., Result], argv: list[str], message: str) -> None:
    result = cli(*argv)
    assert result.code == 1
    assert result.err.startswith(message), result.err


# --------------------------------------------------------------------------- plan


def test_plan_prints_the_reports_table(cli: Callable[..., Result]) -> None:
    result = cli("plan", "torchvision.models:resnet18", "resnet", columns=200)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        "torchinit: policy 'resnet' on ResNet (order=modules): 60 tensors to initialize, "
        "2 unmatched, 0 skipped, 0 excluded"
    )
    assert lines[1].split() == ["name", "shape", "rule", "strategy"]
    conv1 = [cell.strip() for cell in lines[2].split("  ") if cell.strip()]
    assert conv1 == [
        "conv1.weight",
        "(64, 3, 7, 7)",
        "rules[0] conv",
        "kaiming_normal(a=0.0, mode='fan_out', nonlinearity='relu')",
    ]
    assert lines[-1] == "unmatched (left as they were): fc.weight, fc.bias"
    # wide enough, the output is str(report) itself
    assert result.out == str(ti.plan(tv_models.resnet18(), "resnet")) + "\n"


def test_plan_json_is_report_to_dict(cli: Callable[..., Result]) -> None:
    result = cli("plan", "torchvision.models:resnet18", "resnet", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == ti.plan(tv_models.resnet18(), "resnet").to_dict()


def test_plan_with_a_yaml_policy(tmp_path: Path, cli: Callable[..., Result]) -> None:
    policy = write(
        tmp_path / "policy.yaml",
        "name: mine\n"
        "rules:\n"
        "  - match: {type: Conv2d}\n"
        "    weight: {kaiming_uniform: {mode: fan_in}}\n"
        "  - match: {type: Linear}\n"
        "    weight: {normal: {std: 0.01}}\n"
        "    bias: zeros\n",
    )
    result = cli("plan", "torchvision.models:resnet18", str(policy), "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data == ti.plan(tv_models.resnet18(), policy).to_dict()
    entries = {entry["name"]: entry for entry in data["entries"]}
    assert entries["fc.weight"]["strategy"] == {"normal": {"mean": 0.0, "std": 0.01}}
    assert entries["conv1.weight"]["rule"] == 0
    assert data["unmatched"][:2] == ["bn1.weight", "bn1.bias"]


def test_plan_options_are_typed_and_json_lists_are_read(cli: Callable[..., Result]) -> None:
    result = cli(
        "plan",
        "torchvision.models:resnet18",
        "resnet",
        "--option",
        "zero_init_residual=true",
        "--option",
        'residual_norms=["layer1.*.bn1"]',
        "--json",
    )
    assert result.code == 0, result.err
    expected = ti.plan(
        tv_models.resnet18(), "resnet", zero_init_residual=True, residual_norms=["layer1.*.bn1"]
    )
    assert json.loads(result.out) == expected.to_dict()
    assert expected["layer1.0.bn1.weight"].strategy == ti.Zeros()
    assert expected["layer2.0.bn2.weight"].strategy == ti.Zeros()  # BasicBlock's bn2


def test_plan_model_kwargs_and_forwarded_arguments(cli: Callable[..., Result]) -> None:
    result = cli(
        "plan",
        "torchvision.models:resnet18",
        "vgg",
        "--model-kwargs",
        '{"num_classes": 10}',
        "--exclude",
        "fc.bias",
        "--order",
        "apply",
        "--json",
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    entries = {entry["name"]: entry for entry in data["entries"]}
    assert entries["fc.weight"]["shape"] == [10, 512]
    assert entries["fc.bias"]["status"] == "excluded"
    assert data["order"] == "apply"


def test_plan_meta_builds_the_model_on_the_meta_device(
    cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[nn.Module] = []

    def plan(model: nn.Module, policy: object, **kwargs: object) -> ti.InitReport:
        planned.append(model)
        return ti.plan(model, policy, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("torchinit.cli.commands.plan", plan)
    kwargs = '{"in_features": 4096, "out_features": 8192}'
    result = cli("plan", "torch.nn:Linear", "torch_default", "--meta", "--model-kwargs", kwargs)
    assert (result.code, result.err) == (0, "")
    assert planned[0].weight.is_meta
    assert "(8192, 4096)" in result.out
    assert cli("plan", "torch.nn:Linear", "torch_default", "--model-kwargs", kwargs).out == (
        result.out
    )
    assert not planned[1].weight.is_meta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("flag=true", ("flag", True)),
        ("flag=false", ("flag", False)),
        ("flag=yes", ("flag", "yes")),  # the YAML 1.2 core schema, as in policy files
        ("count=3", ("count", 3)),
        ("eps=1e-6", ("eps", 1e-6)),
        ("nothing=null", ("nothing", None)),
        ("name=layer*.bn2", ("name", "layer*.bn2")),
        ('globs=["a.*", "b"]', ("globs", ["a.*", "b"])),
        ('table={"k": 1}', ("table", {"k": 1})),
        ("text=[not json", ("text", "[not json")),
        ("pair=a=b", ("pair", "a=b")),
    ],
)
def test_option_values(text: str, expected: tuple[str, object]) -> None:
    assert parse_option(text) == expected


def test_option_without_a_value_is_a_usage_error(cli: Callable[..., Result]) -> None:
    result = cli("plan", "torch.nn:Identity", "resnet", "--option", "zero_init_residual")
    assert result.code == 2
    assert "argument --option: expected key=value" in result.err


def test_option_given_twice_is_an_error(cli: Callable[..., Result]) -> None:
    args = ["--option", "zero_init_residual=true", "--option", "zero_init_residual=false"]
    result = cli("plan", "torchvision.models:resnet18", "resnet", *args)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "torchinit: error: --option zero_init_residual: is given twice (got False)\n"
    )


@pytest.mark.filterwarnings("default::torchinit.errors.TorchInitWarning")
def test_a_policy_that_matches_nothing_warns(cli: Callable[..., Result]) -> None:
    result = cli("plan", "torch.nn:Identity", "resnet")
    assert result.code == 0
    assert result.err == "torchinit: warning: policy 'resnet' matches nothing in Identity\n"


def test_strict_makes_a_policy_that_matches_nothing_an_error(cli: Callable[..., Result]) -> None:
    strict = cli("plan", "torch.nn:Identity", "resnet", "--strict")
    assert (strict.code, strict.out) == (1, "")
    assert strict.err == ("torchinit: error: policy: policy 'resnet' matches nothing in Identity\n")


def test_unknown_preset_suggests_the_closest_name(cli: Callable[..., Result]) -> None:
    result = cli("plan", "torch.nn:Identity", "resnt")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(
        "torchinit: error: preset: unknown preset; did you mean 'resnet'? available: ["
    )
    assert result.err.endswith(" (got 'resnt')\n")


# --------------------------------------------------------------------------- MODEL


@pytest.mark.slow
def test_python_m_torchinit_exits_1_with_the_error_on_stderr() -> None:
    result = run("plan", "torchvision.models.resnet18", "resnet")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "torchinit: error: MODEL: must be package.module:callable or path/to/file.py:callable, "
        "e.g. torchvision.models:resnet50 (got 'torchvision.models.resnet18')\n"
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "torchvision.models.resnet18",
            "MODEL: must be package.module:callable or path/to/file.py:callable, e.g. "
            "torchvision.models:resnet50 (got 'torchvision.models.resnet18')",
        ),
        (
            ":resnet18",
            "MODEL: must be package.module:callable or path/to/file.py:callable, e.g. "
            "torchvision.models:resnet50 (got ':resnet18')",
        ),
        (
            "no_such_module_for_torchinit:Net",
            "MODEL: cannot import module 'no_such_module_for_torchinit': ModuleNotFoundError: "
            "No module named 'no_such_module_for_torchinit' "
            "(got 'no_such_module_for_torchinit:Net')",
        ),
        (
            "torchvision.models:resnet19",
            "MODEL: 'torchvision.models' has no attribute 'resnet19'; did you mean "
            "'resnet18'? (got 'torchvision.models:resnet19')",
        ),
        (
            "no_such_dir/net.py:Net",
            "MODEL: no such file 'no_such_dir/net.py' (got 'no_such_dir/net.py:Net')",
        ),
        (
            "math:pi",
            "MODEL: math.pi is not callable (its type is float) (got 'math:pi')",
        ),
        (
            "collections:OrderedDict",
            "MODEL: collections.OrderedDict() returned a value of type OrderedDict, not a "
            "torch.nn.Module (got 'collections:OrderedDict')",
        ),
        (
            "torch.nn:Linear",
            "MODEL: torch.nn.Linear() failed: TypeError: Linear.__init__() missing 2 required "
            "positional arguments: 'in_features' and 'out_features' (got 'torch.nn:Linear')",
        ),
    ],
)
def test_model_spec_errors(cli: Callable[..., Result], spec: str, message: str) -> None:
    result = cli("plan", spec, "resnet")
    assert (result.code, result.out) == (1, "")
    assert result.err == f"torchinit: error: {message}\n"


def test_model_kwargs_errors(cli: Callable[..., Result]) -> None:
    bad_json = cli("plan", "torch.nn:Linear", "resnet", "--model-kwargs", "{in_features: 2}")
    assert bad_json.code == 1
    assert bad_json.err == (
        "torchinit: error: --model-kwargs: is not valid JSON: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1) (got '{in_features: 2}')\n"
    )
    not_object = cli("plan", "torch.nn:Linear", "resnet", "--model-kwargs", "[2, 3]")
    assert not_object.err == (
        "torchinit: error: --model-kwargs: must be a JSON object, e.g. "
        "'{\"num_classes\": 10}' (got [2, 3])\n"
    )
    wrong = cli("plan", "torch.nn:Linear", "resnet", "--model-kwargs", '{"in_features": 2}')
    assert wrong.err == (
        "torchinit: error: MODEL: torch.nn.Linear(in_features=2) failed: TypeError: "
        "Linear.__init__() missing 1 required positional argument: 'out_features' "
        "(got 'torch.nn:Linear')\n"
    )


def test_main_takes_the_cwd_off_sys_path_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "cwdmodel.py", "import torch\ndef net():\n    return torch.nn.Linear(2, 2)\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "cwdmodel", raising=False)
    assert main(["plan", "cwdmodel:net", "torch_default"]) == 0
    assert "cwdmodel" in sys.modules  # the model was found in the cwd
    assert str(tmp_path) not in sys.path
    capsys.readouterr()


def test_a_module_in_the_cwd_never_shadows_an_installed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]
) -> None:
    name = "i12_installed_models"
    installed = tmp_path / "site-packages"
    (installed / name).mkdir(parents=True)
    (tmp_path / "work").mkdir()
    write(
        installed / name / "__init__.py",
        "import torch\ndef net():\n    return torch.nn.Linear(2, 2)\n",
    )
    cwd = tmp_path / "work"
    write(cwd / f"{name}.py", "raise RuntimeError('the copy in the current folder ran')\n")
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", [*sys.path, str(installed)])
    # registered, then removed: the test takes out whatever module it imports
    monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, name)
    result = cli("plan", f"{name}:net", "torch_default")
    assert (result.code, result.err) == (0, "")
    assert sys.modules[name].__file__ == str(installed / name / "__init__.py")


def test_a_model_file_never_replaces_an_installed_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]
) -> None:
    name = "i12_installed_models"
    installed = tmp_path / "site-packages" / name / "__init__.py"
    installed.parent.mkdir(parents=True)
    write(installed, "")
    (tmp_path / "models").mkdir()
    script = write(
        tmp_path / "models" / f"{name}.py",
        "import torch\ndef net():\n    return torch.nn.Linear(2, 2)\n",
    )
    monkeypatch.setattr(sys, "path", [*sys.path, str(installed.parent.parent)])
    monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, name)
    result = cli("plan", f"{script}:net", "torch_default")
    assert result.err == (
        f"torchinit: error: MODEL: cannot import {str(script)!r} as module {name!r}: an "
        f"installed module has that name (at {installed}); rename the file "
        f"(got '{script}:net')\n"
    )
    assert name not in sys.modules


def test_load_model_calls_dotted_attributes_with_kwargs() -> None:
    model = load_model("torch.nn:Linear", {"in_features": 2, "out_features": 3})
    assert isinstance(model, nn.Linear)
    assert model.weight.shape == (3, 2)


SCRIPT = """\
import torch
from torch import nn

from helper_for_script import WIDTH


class Net(nn.Module):
    def __init__(self, width: int = WIDTH, classes: int = 2) -> None:
        super().__init__()
        self.fc = nn.Linear(width, classes)


if __name__ == "__main__":
    raise SystemExit("the script's main block ran")
"""


@pytest.fixture
def script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``models/script_net.py`` (importing a sibling module) under ``tmp_path``, the cwd."""
    folder = tmp_path / "models"
    folder.mkdir()
    write(folder / "helper_for_script.py", "WIDTH = 3\n")
    path = write(folder / "script_net.py", SCRIPT)
    monkeypatch.chdir(tmp_path)
    for name in ("script_net", "helper_for_script"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return path


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_model_from_a_file_does_not_run_its_main_block(
    cli: Callable[..., Result], script: Path, absolute: bool
) -> None:
    spec = f"{script if absolute else 'models/script_net.py'}:Net"
    result = cli("plan", spec, "torch_default", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["model"] == "Net"
    assert [entry["shape"] for entry in data["entries"]] == [[2, 3], [2]]
    assert sys.modules["script_net"].__file__ == str(script)  # imported under its stem
    assert str(script.parent) not in sys.path  # the sibling was found while it was imported


def test_model_file_named_like_an_imported_module_is_refused(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "json.py", "raise SystemExit('must not run')\n")
    monkeypatch.chdir(tmp_path)
    result = cli("plan", "json.py:Net", "torch_default")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "torchinit: error: MODEL: cannot import 'json.py' as module 'json': a module of that "
        f"name is already imported (from {json.__file__}); rename the file (got 'json.py:Net')\n"
    )


def test_config_keys_are_keyword_arguments_beside_model_kwargs(
    cli: Callable[..., Result], script: Path
) -> None:
    config = write(script.parent / "net.json", '{"width": 5}')
    result = cli(
        "plan", "models/script_net.py:Net", "torch_default",
        "--config", str(config), "--model-kwargs", '{"classes": 4}', "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["entries"][0]["shape"] == [4, 5]
    twice = cli(
        "plan", "models/script_net.py:Net", "torch_default",
        "--config", str(config), "--model-kwargs", '{"width": 4}',
    )  # fmt: skip
    assert (twice.code, twice.out) == (1, "")
    assert twice.err == (
        "torchinit: error: --model-kwargs width: is also in --config; give it once (got 4)\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "--config: cannot read the file: No such file or directory (got '<path>')"),
        ("{width: 3}", "--config: is not valid JSON: Expecting property name enclosed in "
         "double quotes: line 1 column 2 (char 1) (got '<path>')"),
        ("[3]", "--config: must be a JSON object, e.g. '{\"num_classes\": 10}' (got [3])"),
    ],
    ids=["missing", "not-json", "not-an-object"],
)  # fmt: skip
def test_config_errors(
    cli: Callable[..., Result], tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "config.json"
    if text is not None:
        write(path, text)
    result = cli("plan", "torch.nn:Identity", "torch_default", "--config", str(path))
    assert (result.code, result.out) == (1, "")
    assert result.err == f"torchinit: error: {message.replace('<path>', str(path))}\n"


def test_a_hugging_face_model_is_built_from_its_config_class(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    config = transformers.GPT2Config(
        n_layer=1, n_embd=8, n_head=2, vocab_size=16, n_positions=8, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    path = tmp_path / "gpt2.json"
    config.to_json_file(path)  # as save_pretrained writes it
    result = cli(
        "plan", "transformers:GPT2LMHeadModel", "gpt2", "--config", str(path), "--json"
    )  # fmt: skip
    assert result.code == 0, result.err
    expected = ti.plan(transformers.GPT2LMHeadModel(config), "gpt2")
    assert json.loads(result.out) == expected.to_dict()
    bad = write(tmp_path / "bad.json", '{"n_embd": 8, "n_head": 3}')
    failed = cli("plan", "transformers:GPT2LMHeadModel", "gpt2", "--config", str(bad))
    assert failed.code == 1
    assert failed.err.startswith(
        "torchinit: error: MODEL: transformers.GPT2LMHeadModel(GPT2Config(...)) failed: "
    )


# --------------------------------------------------------------------------- validate

BROKEN = "rules:\n  - match: {type: Conv2d}\n    weight: {kaiming_normal: {mode: fanin}}\n"
NEEDS_BOTTLENECK = "rules:\n  - match: {type: Bottleneck}\n    bn3.weight: zeros\n"
GOOD = (
    "rules:\n"
    "  - match: {type: Conv2d}\n"
    "    weight: {kaiming_normal: {mode: fan_out, nonlinearity: relu}}\n"
    "  - match: {type: [BatchNorm2d, GroupNorm]}\n"
    "    weight: ones\n"
    "    bias: zeros\n"
    "  - match: {type: BasicBlock}\n"
    "    bn2.weight: zeros\n"
)


def test_validate_a_good_file_lists_what_is_left_for_the_model(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    policy = write(
        tmp_path / "policy.yaml", GOOD + '  - match: {name: "layer*.0"}\n    bias: zeros\n'
    )
    result = cli("validate", str(policy))
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        f"{policy}: ok (4 rules)\n"
        "left for --model (checked when the policy is applied to a model):\n"
        "  layer types that may be the model's own classes: BasicBlock\n"
        "  parameter keys: rules[2].bn2.weight, rules[3].bias\n"
        "  name and param globs: rules[3].match.name 'layer*.0'\n"
    )


def test_validate_says_when_nothing_is_left_for_the_model(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    policy = write(tmp_path / "policy.yaml", "rules:\n  - match: {type: Linear}\n    bias: zeros\n")
    result = cli("validate", str(policy))
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[1] == (
        "nothing is left for --model: every layer type and parameter key was checked"
    )


def test_validate_against_a_model(tmp_path: Path, cli: Callable[..., Result]) -> None:
    policy = write(tmp_path / "policy.yaml", GOOD)
    result = cli("validate", str(policy), "--model", "torchvision.models:resnet18")
    assert (result.code, result.err) == (0, "")
    ok, *summary = result.out.splitlines()
    assert ok == f"{policy}: ok (3 rules)"
    expected = ti.plan(tv_models.resnet18(), policy, strict=True).summary()
    assert " ".join(line.strip() for line in summary) == expected  # wrapped to the terminal


def test_validate_a_broken_file_prints_file_and_line(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    policy = write(tmp_path / "policy.yaml", BROKEN)
    result = cli("validate", str(policy))
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"torchinit: error: {policy}:3: rules[0].weight.kaiming_normal.mode: must be one of "
        "['fan_in', 'fan_out'] (got 'fanin')\n"
    )


def test_validate_with_a_model_that_lacks_a_type(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    policy = write(tmp_path / "policy.yaml", NEEDS_BOTTLENECK)
    assert cli("validate", str(policy)).code == 0  # Bottleneck may be in the model ...
    result = cli("validate", str(policy), "--model", "torchvision.models:resnet18")
    assert (result.code, result.out) == (1, "")  # ... it is not in resnet18
    assert result.err == (
        f"torchinit: error: {policy}:2: rules[0].match.type: no layer class of this name in "
        "torch.nn or in the model (got 'Bottleneck')\n"
    )


TYPOS = """\
rules:
  - match: {type: [Linear, Conv2D]}
    weight: ones
  - match: {type: Linear}
    wieght: zeros
  - match: {type: [LSTM, GRU]}
    params: {weight_ih_l3_reverse: orthogonal, bias_hr: zeros}
  - match: {type: Embeding}
    weight: {normal: {std: 0.02}}
"""


def test_validate_without_a_model_finds_typos_in_types_and_keys(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    policy = write(tmp_path / "policy.yaml", TYPOS)
    result = cli("validate", str(policy))
    assert (result.code, result.out) == (1, "")
    model_hint = "If it names a class of your model, check the policy with --model"
    rnn = sorted(parameter_names(nn.LSTM), key=lambda n: (not n.startswith("weight"), n))
    assert result.err.splitlines() == [
        f"torchinit: error: {policy}:2: rules[0].match.type: not a torch.nn layer class or family; "
        f"did you mean 'Conv2d'? {model_hint} (got 'Conv2D')",
        f"torchinit: error: {policy}:5: rules[1].wieght: Linear has no parameter 'wieght'; "
        "did you mean 'weight'? its parameters are ['weight', 'bias']",
        f"torchinit: error: {policy}:7: rules[2].bias_hr: none of LSTM, GRU has a parameter "
        f"'bias_hr'; did you mean 'bias_ih_l1'? their parameters are {rnn}",
        f"torchinit: error: {policy}:8: rules[3].match.type: not a torch.nn layer class or family; "
        f"did you mean 'Embedding'? {model_hint} (got 'Embeding')",
    ]


@pytest.mark.parametrize(
    ("layer", "keys"),
    [
        ("LSTM", ["weight_ih_l0", "weight_hh_l7", "bias_ih_l2_reverse", "weight_hr_l1_reverse"]),
        ("GRU", ["weight_ih_l1_reverse", "bias_hh_l0"]),
        ("BatchNorm2d", ["weight", "bias"]),  # affine=False has none: still valid keys
        ("LayerNorm", ["weight", "bias"]),
        ("MultiheadAttention", ["in_proj_weight", "q_proj_weight", "bias_k", "bias_v"]),
        ("Linear", ["weight_g", "weight_orig"]),  # weight_norm, pruning: left for the model
        ("Embedding", ["weight"]),
    ],
)
def test_validate_without_a_model_accepts_every_parameter_a_layer_can_have(
    tmp_path: Path, cli: Callable[..., Result], layer: str, keys: list[str]
) -> None:
    rule = "\n".join(f"    {key}: zeros" for key in keys)
    policy = write(tmp_path / "policy.yaml", f"rules:\n  - match: {{type: {layer}}}\n{rule}\n")
    result = cli("validate", str(policy))
    assert (result.code, result.err) == (0, "")


@pytest.mark.parametrize(
    "name",
    ["LlamaRMSNorm", "LayerNorm2d", "Conv2dSame", "BatchNormAct2d", "GRN", "MLP", "Block"],
)
def test_validate_without_a_model_leaves_model_classes_to_the_model(
    tmp_path: Path, cli: Callable[..., Result], name: str
) -> None:
    policy = write(tmp_path / "policy.yaml", f"rules:\n  - match: {{type: {name}}}\n    x: ones\n")
    result = cli("validate", str(policy))
    assert (result.code, result.err) == (0, "")
    assert f"layer types that may be the model's own classes: {name}\n" in result.out


def test_validate_without_a_model_takes_optional_rules_as_they_are(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    # Hugging Face's Conv1D is one letter's case from torch's Conv1d: optional says it is meant
    policy = write(
        tmp_path / "policy.yaml",
        "rules:\n  - match: {type: Conv1D, optional: true}\n    weight: ones\n",
    )
    assert cli("validate", str(policy)).code == 0


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.stem)
def test_validate_without_a_model_passes_every_shipped_config(
    cli: Callable[..., Result], config: Path
) -> None:
    options = ["--option", 'residual_norms=["**.bn2"]'] if config.stem == "resnet_zero_init" else []
    result = cli("validate", str(config), *options)
    assert (result.code, result.err) == (0, "")


def test_a_type_typo_suggests_a_public_class_over_a_private_base(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    policy = write(
        tmp_path / "policy.yaml", "rules:\n  - match: {type: ConvNd}\n    weight: ones\n"
    )
    result = cli("validate", str(policy), "--model", "torchvision.models:resnet18")
    assert result.code == 1
    assert "did you mean 'Conv3d'?" in result.err, result.err  # was '_ConvNd'


CONFIGURED_MODEL = """\
import types
import torch


def net(n_layer=2):
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    model.config = types.SimpleNamespace(n_layer=n_layer)
    return model
"""


def test_validate_and_plan_read_preset_options_from_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]
) -> None:
    write(tmp_path / "configuredmodel.py", CONFIGURED_MODEL)
    policy = write(tmp_path / "policy.yaml", "extends: gpt2\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "configuredmodel", raising=False)
    result = cli("validate", str(policy), "--model", "configuredmodel:net")
    assert (result.code, result.err) == (0, ""), result.err
    assert result.out.startswith(f"{policy}: ok (4 rules)\n")
    # without a model the depth is missing: the same message as the API's
    result = cli("validate", str(policy))
    assert result.code == 1
    assert result.err.startswith(f"torchinit: error: {policy}:1: options.n_layer: not given ")
    result = cli(
        "plan", "configuredmodel:net", "gpt2", "--json", "--model-kwargs", '{"n_layer": 8}'
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["options"]["n_layer"] == {
        "value": 8,
        "source": "model.config.n_layer",
    }


def test_validate_missing_file(tmp_path: Path, cli: Callable[..., Result]) -> None:
    missing = tmp_path / "missing.yaml"
    result = cli("validate", str(missing))
    assert result.code == 1
    assert result.err == (
        "torchinit: error: cannot read the policy file: No such file or directory "
        f"(got {str(missing)!r})\n"
    )


# --------------------------------------------------------------------------- apply


def test_apply_saves_what_the_python_one_liner_gives(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    out = tmp_path / "resnet18.pt"
    result = cli(
        "apply", "torchvision.models:resnet18", "resnet", "--manual-seed", "7", "--out", str(out)
    )
    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    assert lines[0].startswith("torchinit: policy 'resnet' on ResNet (order=modules): 60 tensors")
    assert lines[-1] == f"saved the state_dict to {out}"

    torch.manual_seed(7)
    model = tv_models.resnet18()
    ti.init_model(model, "resnet")
    expected = model.state_dict()
    saved = torch.load(out)
    assert list(saved) == list(expected)
    for name, tensor in expected.items():
        assert torch.equal(saved[name], tensor), name


TIED_MODEL = """\
from torch import nn


class Tied(nn.Module):
    def __init__(self, vocab: int = 16, dim: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.body = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab)
        self.head.weight = self.embed.weight
"""

TIED_POLICY = """\
rules:
  - match: {type: Embedding}
    weight: {normal: {std: 0.02}}
  - match: {type: Linear}
    bias: zeros
"""


def test_apply_to_safetensors_saves_tied_weights_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]
) -> None:
    if importlib.util.find_spec("safetensors") is None:
        pytest.skip("safetensors is not installed")
    import safetensors.torch

    write(tmp_path / "tiedmodel.py", TIED_MODEL)
    policy = write(tmp_path / "tied.yaml", TIED_POLICY)
    out = tmp_path / "tied.safetensors"
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tiedmodel", raising=False)
    result = cli("apply", "tiedmodel:Tied", str(policy), "--manual-seed", "3", "--out", str(out))
    assert (result.code, result.err) == (0, "")

    tied = importlib.import_module("tiedmodel")
    torch.manual_seed(3)
    expected = tied.Tied()
    ti.init_model(expected, policy)
    assert len(safetensors.torch.load_file(out)) == len(expected.state_dict()) - 1
    loaded = tied.Tied()
    safetensors.torch.load_model(loaded, out)
    assert loaded.head.weight is loaded.embed.weight
    for name, tensor in expected.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_apply_refuses_an_unknown_extension_before_doing_anything(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    # the model is not even imported: the extension is checked first
    out = tmp_path / "weights.bin"
    result = cli("apply", "no_such_module:Net", "resnet", "--manual-seed", "0", "--out", str(out))
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "torchinit: error: --out: unknown file extension; use one of "
        f"['.pt', '.pth', '.safetensors'] (got {str(out)!r})\n"
    )
    assert not out.exists()
    no_folder = tmp_path / "missing" / "weights.pt"
    result = cli(
        "apply", "torch.nn:Identity", "resnet", "--manual-seed", "0", "--out", str(no_folder)
    )
    assert (
        result.err
        == f"torchinit: error: --out: its folder does not exist (got {str(no_folder)!r})\n"
    )


def test_a_number_too_long_to_read_is_an_error_line(cli: Callable[..., Result]) -> None:
    # Python refuses to read an int of more than 4300 digits: a ValueError traceback before
    digits = "9" * 5000
    result = cli(
        "plan", "torch.nn:Linear", "torch_default", "--model-kwargs", f'{{"in_features": {digits}}}'
    )
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(
        "torchinit: error: --model-kwargs: is not valid JSON: Exceeds the limit (4300 digits) "
        "for integer string conversion"
    )
    result = cli("show", "resnet", "--option", f"zero_init_residual={digits}")
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        "torchinit show: error: argument --option: zero_init_residual: is an integer of 5000 "
        "digits, too long to read"
    )


def test_apply_refuses_an_existing_file_unless_forced(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    out = tmp_path / "w.pt"
    out.write_bytes(b"previous")
    argv = (
        "apply", "torch.nn:Linear", "torch_default", "--manual-seed", "0", "--out", str(out),
        "--model-kwargs", '{"in_features": 2, "out_features": 3}',
    )  # fmt: skip
    result = cli(*argv)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"torchinit: error: --out: the file exists; pass --force to replace it (got {str(out)!r})\n"
    )
    assert out.read_bytes() == b"previous"
    result = cli(*argv, "--force")
    assert (result.code, result.err) == (0, "")
    assert list(torch.load(out)) == ["weight", "bias"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_apply_failing_mid_write_keeps_the_previous_file(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    if suffix == ".safetensors" and importlib.util.find_spec("safetensors") is None:
        pytest.skip("safetensors is not installed")
    import torchinit.cli.commands as commands

    def write_half_then_fail(*args: Any) -> None:
        Path(args[-1]).write_bytes(b"partial")  # the path is the writer's last argument
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(commands.torch, "save", write_half_then_fail)
    if suffix == ".safetensors":
        import safetensors.torch

        monkeypatch.setattr(safetensors.torch, "save_model", write_half_then_fail)
    out = tmp_path / f"w{suffix}"
    out.write_bytes(b"previous")
    result = cli(
        "apply", "torch.nn:Linear", "torch_default", "--manual-seed", "0", "--out", str(out),
        "--model-kwargs", '{"in_features": 2, "out_features": 3}', "--force",
    )  # fmt: skip
    assert result.code == 1
    assert result.err == (
        "torchinit: error: --out: cannot write the file: No space left on device "
        f"(got {str(out)!r})\n"
    )
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_apply_to_a_folder_is_an_error_line(tmp_path: Path, cli: Callable[..., Result]) -> None:
    out = tmp_path / "weights.pt"
    out.mkdir()
    result = cli(
        "apply", "torch.nn:Identity", "torch_default", "--manual-seed", "0", "--out", str(out),
        "--force",
    )  # fmt: skip
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"torchinit: error: --out: is a folder; give a file name (got {str(out)!r})\n"
    )


def test_apply_into_an_unwritable_folder_is_an_error_line(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user (root?) can write to a read-only folder")
        out = folder / "w.pt"
        result = cli(
            "apply", "torch.nn:Identity", "torch_default", "--manual-seed", "0", "--out", str(out)
        )
        assert (result.code, result.out) == (1, "")
        assert result.err == (
            f"torchinit: error: --out: its folder is not writable (got {str(out)!r})\n"
        )
    finally:
        folder.chmod(0o700)


def test_apply_to_safetensors_without_the_package_says_how_to_install_it(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    out = tmp_path / "weights.safetensors"
    result = cli("apply", "torch.nn:Identity", "resnet", "--manual-seed", "0", "--out", str(out))
    assert result.code == 1
    assert result.err == (
        "torchinit: error: --out: writing .safetensors needs the safetensors package: "
        f"pip install safetensors (got {str(out)!r})\n"
    )


def test_apply_needs_a_seed(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "weights.pt"
    result = cli("apply", "torch.nn:Identity", "resnet", "--out", str(out))
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "torchinit: error: --manual-seed: give --manual-seed N or --seed N (or both): the "
        "saved weights must be reproducible\n"
    )
    assert not out.exists()


def test_apply_with_only_seed_seeds_the_build_too(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    # the resnet preset leaves fc as built: its values come from the build's random numbers
    outs = [tmp_path / "first.pt", tmp_path / "second.pt"]
    for out in outs:
        torch.manual_seed(len(out.name))  # a different global state before each run
        result = cli(
            "apply", "torchvision.models:resnet18", "resnet", "--seed", "5", "--out", str(out)
        )
        assert (result.code, result.err) == (0, "")
    first, second = (torch.load(out) for out in outs)
    torch.manual_seed(5)
    model = tv_models.resnet18()
    ti.init_model(model, "resnet", seed=5)
    for name, tensor in model.state_dict().items():
        assert torch.equal(first[name], tensor), name
        assert torch.equal(second[name], tensor), name


@pytest.mark.parametrize(
    ("flags", "terminal", "shown"),
    [
        ([], False, False),
        ([], True, True),
        (["--progress"], False, True),
        (["--no-progress"], True, False),
    ],
)
def test_apply_progress_on_stderr_by_default_when_it_is_a_terminal(
    cli: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    flags: list[str],
    terminal: bool,
    shown: bool,
) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    out = str(tmp_path / "w.pt")
    result = cli(
        "apply", "torch.nn:Linear", "torch_default", "--manual-seed", "0", "--out", out,
        "--model-kwargs", '{"in_features": 2, "out_features": 3}', *flags,
    )  # fmt: skip
    assert result.code == 0
    assert ("torchinit torch_default: 100%" in result.err) is shown
    assert ("2/2" in result.err) is shown


def test_apply_scheme_version_3_saves_what_init_model_with_it_gives(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    saved = {}
    for version in ("2", "3"):
        out = tmp_path / f"scheme{version}.pt"
        argv = ["--seed", "5", "--scheme-version", version, "--out", str(out)]
        result = cli("apply", *LINEAR, *argv)
        assert (result.code, result.err) == (0, "")
        saved[version] = torch.load(out)
    for version, state in saved.items():
        torch.manual_seed(5)
        model = nn.Linear(6, 3)
        ti.init_model(model, "lecun", seed=5, scheme_version=int(version))
        assert list(state) == list(model.state_dict())
        for name, tensor in model.state_dict().items():
            assert torch.equal(state[name], tensor), (version, name)
    assert not torch.equal(saved["2"]["weight"], saved["3"]["weight"])


def test_apply_scheme_version_without_seed_is_the_librarys_error(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "w.pt"
    argv = ["--manual-seed", "0", "--scheme-version", "3", "--out", str(out)]
    result = cli("apply", *LINEAR, *argv)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "torchinit: error: scheme_version: selects a keyed seeding scheme: give seed= too (got 3)\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["apply", "diagnose"])
def test_scheme_version_is_2_or_3(cli: Callable[..., Result], command: str) -> None:
    result = cli(command, *LINEAR, "--seed", "0", "--scheme-version", "4")
    assert result.code == 2
    assert result.err.splitlines()[-1] == (
        f"torchinit {command}: error: argument --scheme-version: invalid choice: 4 "
        "(choose from 2, 3)"
    )


def test_apply_seed_out_of_torch_range(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = str(tmp_path / "w.pt")
    result = cli("apply", "torch.nn:Identity", "resnet", "--manual-seed", str(2**64), "--out", out)
    assert result.code == 1
    assert result.err == (
        "torchinit: error: --manual-seed: must be between -9223372036854775808 and "
        "18446744073709551615 (got 18446744073709551616)\n"
    )


# --------------------------------------------------------------------------- help and layout


def test_help_of_the_command_shows_examples(cli: Callable[..., Result]) -> None:
    result = cli("--help")
    assert result.code == 0
    assert "Examples:" in result.out


@pytest.mark.parametrize("command", ["list", "plan", "validate", "apply"])
def test_help_of_every_subcommand_shows_an_example(
    cli: Callable[..., Result], command: str
) -> None:
    result = cli(command, "--help")
    assert result.code == 0
    assert "Example:" in result.out
    assert f"torchinit {command}" in result.out.split("Example:")[1]


def test_no_command_is_a_usage_error(cli: Callable[..., Result]) -> None:
    result = cli()
    assert result.code == 2
    assert "the following arguments are required: COMMAND" in result.err


def test_output_fits_a_narrow_terminal(cli: Callable[..., Result]) -> None:
    for args in (["plan", "torchvision.models:resnet18", "resnet"], ["list"]):
        result = cli(*args, columns=60)
        assert result.code == 0, result.err
        lines = result.out.splitlines()
        assert len(lines) > 10
        assert max(map(len, lines)) <= 60, max(lines, key=len)


@pytest.mark.slow
def test_console_script_finds_a_model_in_the_current_directory(tmp_path: Path) -> None:
    # unlike `python -m`, a console script does not put the cwd on sys.path: main does
    found = shutil.which(
        "torchinit", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    if found is None:
        pytest.skip("the torchinit script is not installed (pip install -e .)")
    write(tmp_path / "cwdmodel.py", "import torch\ndef net():\n    return torch.nn.Linear(2, 2)\n")
    result = subprocess.run(
        [found, "plan", "cwdmodel:net", "torch_default", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ti.plan(nn.Linear(2, 2), "torch_default").to_dict()


# --------------------------------------------------------------------------- the suite itself

#: the least timeout a test may give a subprocess: a loaded CI machine is slow
MIN_SUBPROCESS_TIMEOUT = 300


#: the calls of subprocess (and of its Popen objects) that take a timeout
SUBPROCESS_CALLS = {"run", "call", "check_call", "check_output", "Popen", "communicate", "wait"}


def short_timeouts(source: str) -> list[int]:
    """The lines of ``source`` that give a subprocess call a timeout under the minimum."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name not in SUBPROCESS_CALLS:
            continue
        for keyword in node.keywords:
            if keyword.arg != "timeout":
                continue
            value = keyword.value
            if isinstance(value, ast.Constant) and value.value is None:
                continue
            seconds = value.value if isinstance(value, ast.Constant) else None
            # a computed timeout cannot be checked here: it counts as too short
            if not isinstance(seconds, (int, float)) or seconds < MIN_SUBPROCESS_TIMEOUT:
                lines.append(node.lineno)
    return lines


def test_short_timeouts_finds_them() -> None:
    source = (
        "subprocess.run(args, timeout=60)\n"
        "subprocess.run(args, timeout=600)\n"
        "process.communicate(timeout=limit)\n"
        "subprocess.run(args, timeout=None)\n"
        "queue.get(timeout=1)\n"
    )
    assert short_timeouts(source) == [1, 3]


def test_no_test_gives_a_subprocess_a_short_timeout() -> None:
    short = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "tests").glob("**/*.py"))
        for line in short_timeouts(path.read_text(encoding="utf-8"))
    ]
    assert short == [], f"subprocess timeouts under {MIN_SUBPROCESS_TIMEOUT} s: {short}"


def test_validate_without_a_model_knows_the_families(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    # a family is neither a typo nor a class left for the model; its keys are probed
    policy = write(
        tmp_path / "policy.yaml",
        "rules:\n  - match: {type: [Conv, ConvTranspose]}\n    weight: ones\n"
        "  - match: {type: torchinit.families.Embeddings}\n    weight: zeros\n",
    )
    result = cli("validate", str(policy))
    assert (result.code, result.err) == (0, "")
    assert "may be the model's own classes" not in result.out
    typo = write(tmp_path / "typo.yaml", "rules:\n  - match: {type: BatchNorm}\n    wieght: ones\n")
    result = cli("validate", str(typo))
    assert result.code == 1
    assert result.err == (
        f"torchinit: error: {typo}:3: rules[0].wieght: BatchNorm has no parameter 'wieght'; "
        "did you mean 'weight'? its parameters are ['weight', 'bias']\n"
    )


# --------------------------------------------------------------------------- check


def test_check_passes_weights_saved_by_apply(tmp_path: Path, cli: Callable[..., Result]) -> None:
    out = tmp_path / "resnet18.pt"
    cli("apply", "torchvision.models:resnet18", "resnet", "--seed", "3", "--out", str(out))
    argv = ["check", "torchvision.models:resnet18", "resnet", "--weights", str(out)]
    result = cli(*argv, columns=80)
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "check resnet on ResNet: 60 ok, 0 suspect, 0 unchecked (2 not set by the policy);",
        "    tolerance 6 standard errors",
    ]


def test_check_finds_a_head_left_at_its_default(tmp_path: Path, cli: Callable[..., Result]) -> None:
    torch.manual_seed(0)
    model = tv_models.vgg11(num_classes=10)
    ti.init_model(model, "vgg", seed=0)
    model.classifier[6].reset_parameters()  # what a fine-tuning script forgot to initialize
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("features.0.")}
    weights = tmp_path / "vgg.pt"
    torch.save(state, weights)
    argv = ["check", "torchvision.models:vgg11", "vgg", "--weights", str(weights)]
    result = cli(*argv, "--model-kwargs", '{"num_classes": 10}', "--manual-seed", "0", "--json")
    assert result.code == 1
    data = json.loads(result.out)
    assert [t["name"] for t in data["tensors"] if t["verdict"] == "suspect"] == [
        "classifier.6.weight",
        "classifier.6.bias",
    ]
    assert data["not_in_weights"] == ["features.0.weight", "features.0.bias"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"extra.weight": torch.zeros(1)}, "has tensors the model does not: extra.weight"),
        ([torch.zeros(1)], "must hold a state_dict (a dict of tensors by name)"),
    ],
    ids=["unexpected-key", "not-a-dict"],
)
def test_check_refuses_weights_of_another_model(
    tmp_path: Path, cli: Callable[..., Result], content: object, message: str
) -> None:
    weights = tmp_path / "w.pt"
    torch.save(content, weights)
    result = cli("check", "torch.nn:Linear", "lecun", "--model-kwargs", '{"in_features": 2, '
                 '"out_features": 2}', "--weights", str(weights))  # fmt: skip
    assert result.code == 1
    assert result.err == f"torchinit: error: --weights: {message} (got {str(weights)!r})\n"


# --------------------------------------------------------------------------- diagnose

LINEAR = ("torch.nn:Linear", "lecun", "--model-kwargs", '{"in_features": 6, "out_features": 3}')


def diagnosed_linear(
    inputs: Any, *, manual_seed: int = 0, mode: Any = None, **init: Any
) -> ti.Diagnosis:
    """What `torchinit diagnose` on LINEAR should find: the same steps, in Python (``init``:
    init_model's keyword arguments)."""
    torch.manual_seed(manual_seed)
    model = nn.Linear(6, 3)
    report = ti.init_model(model, "lecun", **init)
    return ti.diagnose(model, inputs, mode=mode, report=report)


def seeded_inputs(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_diagnose_prints_the_table_of_the_python_call(cli: Callable[..., Result]) -> None:
    result = cli("diagnose", *LINEAR, "--input-shape", "5,6", "--manual-seed", "3")
    assert (result.code, result.err) == (0, "")
    assert result.out == f"{diagnosed_linear(seeded_inputs(5, 6, seed=3), manual_seed=3)}\n"
    assert result.out.splitlines()[0] == (
        "torchinit.diagnose: Linear (train mode): 1 layer calls, 2 parameters"
    )


def test_diagnose_json_in_eval_mode(cli: Callable[..., Result]) -> None:
    argv = ["--input-shape", "5,6", "--mode", "eval", "--manual-seed", "0", "--json"]
    result = cli("diagnose", *LINEAR, *argv)
    assert (result.code, result.err) == (0, "")
    expected = diagnosed_linear(seeded_inputs(5, 6, seed=0), mode="eval")
    assert json.loads(result.out) == expected.to_dict()
    assert json.loads(result.out)["mode"] == "eval"


def test_diagnose_takes_the_scheme_version(cli: Callable[..., Result]) -> None:
    argv = ["--input-shape", "5,6", "--seed", "5", "--scheme-version", "3", "--json"]
    result = cli("diagnose", *LINEAR, *argv)
    assert (result.code, result.err) == (0, "")
    expected = diagnosed_linear(seeded_inputs(5, 6, seed=0), seed=5, scheme_version=3)
    scheme_2 = diagnosed_linear(seeded_inputs(5, 6, seed=0), seed=5, scheme_version=2)
    assert json.loads(result.out) == expected.to_dict() != scheme_2.to_dict()


@pytest.mark.parametrize(
    "saved",
    [
        lambda x: x,
        lambda x: (x,),
        lambda x: [x],
        lambda x: {"input": x},
    ],
    ids=["tensor", "tuple", "list", "keywords"],
)
def test_diagnose_reads_inputs_from_a_file(
    tmp_path: Path, cli: Callable[..., Result], saved: Callable[[torch.Tensor], Any]
) -> None:
    x = seeded_inputs(4, 6, seed=7)
    path = tmp_path / "inputs.pt"
    torch.save(saved(x), path)
    result = cli("diagnose", *LINEAR, "--inputs", str(path), "--manual-seed", "0", "--json")
    assert (result.code, result.err) == (0, "")
    assert json.loads(result.out) == diagnosed_linear(x).to_dict()


def test_diagnose_writes_the_plot(tmp_path: Path, cli: Callable[..., Result]) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    out = tmp_path / "diagnosis.png"
    result = cli("diagnose", *LINEAR, "--input-shape", "5,6", "--plot", str(out))
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[-1] == f"wrote the plot to {out}"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diagnose_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = tmp_path / "diagnosis.png"
    result = cli("diagnose", *LINEAR, "--input-shape", "5,6", "--plot", str(out))
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"torchinit: error: plot: plot needs matplotlib: pip install torchinit[plot] "
        f"(got {str(out)!r})\n"
    )


def test_diagnose_plot_into_a_missing_folder(tmp_path: Path, cli: Callable[..., Result]) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    out = tmp_path / "missing" / "diagnosis.png"
    result = cli("diagnose", *LINEAR, "--input-shape", "5,6", "--plot", str(out))
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"torchinit: error: --plot: cannot write the file: No such file or directory "
        f"(got {str(out)!r})\n"
    )


@pytest.mark.parametrize("content", ["text", {1: torch.ones(1)}], ids=["string", "integer-keys"])
def test_diagnose_refuses_inputs_it_cannot_pass(
    tmp_path: Path, cli: Callable[..., Result], content: object
) -> None:
    path = tmp_path / "inputs.pt"
    torch.save(content, path)
    result = cli("diagnose", *LINEAR, "--inputs", str(path))
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "torchinit: error: --inputs: must hold a tensor, a tuple or list of positional "
        f"arguments, or a dict of keyword arguments (got {str(path)!r})\n"
    )


def test_diagnose_inputs_are_read_with_weights_only(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    path = tmp_path / "inputs.pt"
    torch.save(nn.Linear(1, 1), path)  # a pickled module: code, not tensors
    result = cli("diagnose", *LINEAR, "--inputs", str(path))
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(
        "torchinit: error: --inputs: cannot be read with weights_only=True:"
    )
    assert result.err.endswith(f"(got {str(path)!r})\n")
    missing = tmp_path / "missing.pt"
    result = cli("diagnose", *LINEAR, "--inputs", str(missing))
    assert result.err == (
        f"torchinit: error: --inputs: cannot read the file: No such file or directory "
        f"(got {str(missing)!r})\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "one of the arguments --input-shape --inputs is required"),
        (
            ["--input-shape", "8,0"],
            "argument --input-shape: expected positive integers separated by commas, e.g. "
            "8,3,224,224: '8,0'",
        ),
        (
            ["--input-shape", "5,6", "--inputs", "x.pt"],
            "argument --inputs: not allowed with argument --input-shape",
        ),
    ],
    ids=["no-inputs", "bad-shape", "both"],
)
def test_diagnose_usage_errors(cli: Callable[..., Result], argv: list[str], message: str) -> None:
    result = cli("diagnose", *LINEAR, *argv)
    assert result.code == 2
    assert result.err.splitlines()[-1] == f"torchinit diagnose: error: {message}"


# convert: another system's init config as a YAML policy

_MMENGINE_HEAD = """\
_base_ = ['./retinanet_base.py']  # never read: the file is not run
init_cfg = dict(type='Normal', layer='Conv2d', std=0.01,
                override=dict(type='Normal', name='retina_cls', std=0.01, bias_prob=0.01))
"""


def test_convert_mmengine_prints_a_policy_equal_to_from_mmengine(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    from torchinit.dialects.mmengine import from_mmengine, load_init_cfg

    source = write(tmp_path / "head.py", _MMENGINE_HEAD)
    result = cli("convert", "mmengine", str(source))
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith(f"# from the init_cfg of {source} (torchinit convert mmengine)\n")
    policy = ti.Policy.from_yaml(write(tmp_path / "head.yaml", result.out))
    assert policy == from_mmengine(load_init_cfg(source))
    assert policy.rules[2].label == (
        "init_cfg.override Normal(name=retina_cls, std=0.01, bias=-4.59511985013459)"
    )


def test_convert_mmengine_reads_json_and_yaml_under_a_key(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    entry = {"type": "Kaiming", "layer": "Conv2d"}
    json_file = write(
        tmp_path / "cfg.json", json.dumps({"model": {"init": [entry]}, "init": [entry]})
    )
    yaml_file = write(tmp_path / "cfg.yaml", "- {type: Kaiming, layer: Conv2d}\n")
    outputs = [
        cli("convert", "mmengine", str(json_file), "--key", "init").out.split("\n", 1)[1],
        cli("convert", "mmengine", str(yaml_file)).out.split("\n", 1)[1],
    ]
    assert outputs[0] == outputs[1]
    assert "kaiming_normal: {a: 0.0, mode: fan_out, nonlinearity: relu}" in outputs[0]


def test_convert_mmengine_errors_name_the_file_line_and_key_path(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    typo = write(tmp_path / "typo.py", "init_cfg = [dict(type='Kaimng', layer='Conv2d')]\n")
    result = cli("convert", "mmengine", str(typo))
    assert result.code == 1
    assert result.err.startswith(
        f"torchinit: error: {typo}: init_cfg[0].type: unknown init type 'Kaimng'; did you "
        "mean 'Kaiming'?"
    )
    code = write(tmp_path / "code.py", "std = 0.01\ninit_cfg = dict(type='Normal', std=std)\n")
    result = cli("convert", "mmengine", str(code))
    assert (result.code, result.err) == (
        1,
        f"torchinit: error: {code}:2: init_cfg must be written with literals, lists and "
        "dict(...): the file is not run (got 'std')\n",
    )
    result = cli("convert", "mmengine", str(code), "--key", "init_cfgs")
    assert result.err == (
        f"torchinit: error: {code}: no top-level assignment 'init_cfgs = ...'; did you mean "
        "'init_cfg'?\n"
    )

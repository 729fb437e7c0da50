"""examples/: every example runs and prints what its docstring promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# each test runs an example in a subprocess
pytestmark = pytest.mark.slow


def run(name: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart() -> None:
    pytest.importorskip("torchvision")
    out = run("quickstart.py")
    assert "tensors initialized" in out
    assert "fc.weight" in out


def test_custom_policy() -> None:
    assert run("custom_policy.py").strip()


def test_large_model() -> None:
    out = run("large_model.py")
    assert "torchinit-keyed v2 seed=0" in out.replace("\n    ", " ")
    assert "5,256,704 parameters materialized on the CPU" in out
    assert "the same values on 1 and" in out
    assert out.rstrip().endswith("True")


def test_apply_weights_init() -> None:
    out = run("apply_weights_init.py")
    assert "order=apply): 8 tensors initialized" in out
    assert "identical to model.apply(weights_init): True\n" in out
    assert "rules[0] Conv|ConvTranspose" in out
    assert out.rstrip().endswith("identical to model.apply(dcgan_weights_init): True")


def test_torchvision_bit_exact() -> None:
    pytest.importorskip("torchvision")
    out = run("torchvision_bit_exact.py")
    assert re.search(r"^[1-9]\d* tensors compared, 0 differ$", out, re.M), out
    assert out.rstrip().endswith("bit-exact with torchvision's init_weights=True: True")


def test_yaml_policy() -> None:
    out = run("yaml_policy.py")
    assert "policy.yaml: 4 rules, order=modules" in out
    assert "17 tensors initialized, 0 unmatched" in out
    assert "round trip through to_yaml(): equal" in out
    assert "policy.yaml:16: rules[3].in_proj_weight: unknown strategy; did you mean" in out


def test_lsuv_deep_mlp() -> None:
    rows = {}
    for line in run("lsuv_deep_mlp.py").splitlines()[1:]:
        name, *numbers = line.rsplit(maxsplit=3)
        rows[name.strip()] = [float(number) for number in numbers]
    assert list(rows) == ["N(0, 0.01)", "Xavier", "Kaiming", "LSUV"]
    # the first two do not train: the loss stays at the labels' entropy; the others do
    for name in ("N(0, 0.01)", "Xavier"):
        assert rows[name][0] < 1e-3
        assert rows[name][2] > 0.97 * rows[name][1] - 0.1
    for name in ("Kaiming", "LSUV"):
        assert rows[name][0] > 0.3
        assert rows[name][2] < 0.75 * rows["N(0, 0.01)"][2]


def test_activation_gains() -> None:
    rows = {}
    for line in run("activation_gains.py").splitlines()[1:]:
        activation, gain, _, slope, *stds = line.split()
        rows[activation, gain] = (float(slope), [float(std) for std in stds])
    assert list(rows) == [("gelu", "gelu"), ("gelu", "relu"), ("silu", "silu"), ("silu", "relu")]
    for name in ("gelu", "silu"):
        slope, stds = rows[name, name]
        assert 1.1 < slope < 1.2  # unit variance is an unstable fixed point
        assert all(0.85 < std < 1.15 for std in stds[:2])  # layers 1 and 10
        assert rows[name, "relu"][1][-1] < 0.01  # ReLU's gain: the signal is gone


def test_he_init_depth() -> None:
    lines = run("he_init_depth.py").splitlines()
    assert lines[0] == "output std by depth"
    assert lines[9] == "gradient std by depth"
    assert (
        lines[1].split() == lines[10].split() == ["depth", "default", "xavier", "kaiming", "lsuv"]
    )
    assert lines[-1].startswith("add --plot FILE.png")
    forward = {int(line.split()[0]): [float(x) for x in line.split()[1:]] for line in lines[2:9]}
    backward = {int(line.split()[0]): [float(x) for x in line.split()[1:]] for line in lines[11:18]}
    default, xavier, kaiming, lsuv = forward[30]
    # measured (seed 0): 0.0157, 1.68e-05, 0.459, 0.586
    assert 0.3 <= kaiming <= 3
    assert 0.3 <= lsuv <= 3  # LSUV brings each Linear's output to std 1: its ReLU's is 0.58
    assert xavier < 1e-3
    assert default < 0.05  # what is left is the biases' signal, not the input's
    # backward from the last layer (std 1) to the first: measured 6.2e-12, 3.9e-05, 1, 0.95
    default, xavier, kaiming, lsuv = backward[1]
    assert default < 1e-9
    assert xavier < 1e-3
    assert 0.3 <= kaiming <= 3
    assert 0.3 <= lsuv <= 3


def test_torchtitan_style() -> None:
    out = run("torchtitan_style.py")
    assert "policy 'llama3' on FSDPTransformer" in out
    assert "21 tensors to initialize, 0 unmatched, 0 skipped, 0 excluded" in out
    assert "name='layers.1.*.w[o23]' (over rules[1])  trunc_normal(mean=0.0, std=0.01," in out
    assert out.rstrip().endswith(
        "FSDP2-sharded parameters and buffers equal the unsharded init: True"
    )

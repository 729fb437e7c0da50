"""examples/: every example runs and prints what its docstring promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(name: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300
    )
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

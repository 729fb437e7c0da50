"""What ``pip install`` gives users: the installed package is the whole source package.

These tests need the package installed from its wheel (``TORCHINIT_TEST_INSTALLED=1``, as
``.ci/run`` runs the suite; ``tests/conftest.py`` then refuses a torchinit imported from the
source tree). In an editable install they are skipped, with that reason.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from pathlib import Path

import pytest

import torchinit

SOURCE = Path(__file__).resolve().parents[1] / "torchinit"

pytestmark = pytest.mark.skipif(
    os.environ.get("TORCHINIT_TEST_INSTALLED") != "1",
    reason="checks the installed wheel: run with TORCHINIT_TEST_INSTALLED=1 against a "
    "non-editable install, as .ci/run does",
)


def _installed_files() -> set[str]:
    """The package's files that the wheel installed (listed in its RECORD and present)."""
    files = importlib.metadata.files("torchinit") or []
    return {
        file.as_posix()
        for file in files
        if file.parts[0] == "torchinit"
        and "__pycache__" not in file.parts
        and Path(str(file.locate())).is_file()
    }


def test_the_wheel_holds_every_module_of_the_source_package() -> None:
    source = {
        f"torchinit/{path.relative_to(SOURCE).as_posix()}"
        for path in SOURCE.rglob("*")
        if path.is_file() and (path.suffix == ".py" or path.name == "py.typed")
    }
    installed = _installed_files()
    assert source - installed == set(), "left out of the wheel"
    assert installed - source == set(), "in the wheel but not in the source package"


def test_the_wheel_installs_nothing_but_the_package_and_its_script() -> None:
    distribution = importlib.metadata.distribution("torchinit")
    tops = {file.parts[0] for file in distribution.files or []}
    assert tops - {"torchinit", f"torchinit-{torchinit.__version__}.dist-info", ".."} == set()
    scripts = [file.name for file in distribution.files or [] if file.parts[0] == ".."]
    assert scripts == ["torchinit"]  # the console script; no tests, bench or examples


def test_the_installed_package_is_imported() -> None:
    installed = Path(str(importlib.metadata.distribution("torchinit").locate_file("torchinit")))
    assert Path(torchinit.__file__).resolve().parent == installed.resolve()


def test_version_is_single_sourced() -> None:
    assert importlib.metadata.version("torchinit") == torchinit.__version__


def test_the_console_script_is_installed() -> None:
    scripts = Path(sys.executable).parent
    assert shutil.which("torchinit", path=str(scripts)) is not None

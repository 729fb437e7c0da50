"""The built API reference documents every public name.

Reads the inventory of the last docs build, ``docs/_build/html/objects.inv``. Without one
the test is skipped, or fails when ``TORCHINIT_REQUIRE_DOCS=1`` (CI builds the docs first).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import zlib
from pathlib import Path
from types import ModuleType

import pytest

import torchinit

DOCS = Path(__file__).resolve().parents[1] / "docs"
INVENTORY = DOCS / "_build" / "html" / "objects.inv"
BUILD = "sphinx-build -W --keep-going -b html docs docs/_build/html"
# name domain:role priority uri display-name
_ENTRY = re.compile(r"(?P<name>.+?)\s+(?P<domain>\S+?):(?P<role>\S+)\s+-?\d+\s+\S*\s+.*")


def public_modules() -> list[ModuleType]:
    """torchinit and every module under it with no path part starting with ``_``."""
    names = [
        info.name
        for info in pkgutil.walk_packages(torchinit.__path__, "torchinit.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return [torchinit, *(importlib.import_module(name) for name in names)]


def documented_python_names(inventory: Path) -> set[str]:
    """The Python objects of a Sphinx ``objects.inv`` (version 2: 4 header lines, then zlib)."""
    data = inventory.read_bytes()
    header = data.split(b"\n", 4)
    assert header[0] == b"# Sphinx inventory version 2", header[0]
    names = set()
    for line in zlib.decompress(header[4]).decode().splitlines():
        entry = _ENTRY.fullmatch(line)
        if entry is not None and entry["domain"] == "py":
            names.add(entry["name"])
    return names


def built_inventory() -> set[str]:
    if not INVENTORY.exists():
        reason = f"the docs are not built ({INVENTORY} is missing): run `{BUILD}` first"
        if os.environ.get("TORCHINIT_REQUIRE_DOCS") == "1":
            pytest.fail(f"TORCHINIT_REQUIRE_DOCS=1 but {reason}")
        pytest.skip(reason)
    return documented_python_names(INVENTORY)


def test_public_modules_are_found() -> None:
    names = [module.__name__ for module in public_modules()]
    assert "torchinit.presets" in names
    assert not [name for name in names if "._" in name]


def test_every_public_name_is_in_the_api_reference() -> None:
    inventory = built_inventory()
    modules = public_modules()
    missing = []
    for module in modules:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            # documented once, under any public module that exports the same object
            aliases = {
                f"{other.__name__}.{name}"
                for other in modules
                if name in getattr(other, "__all__", ()) and getattr(other, name) is obj
            }
            if not aliases & inventory:
                missing.append(f"{module.__name__}.{name}")
    assert not missing, f"not in the built API reference (rebuild with `{BUILD}`): {missing}"


def test_the_inventory_check_can_fail() -> None:
    inventory = built_inventory()
    assert "torchinit.init_model" in inventory
    assert "torchinit.no_such_name" not in inventory


def test_contributing_lists_every_module_of_the_package() -> None:
    """CONTRIBUTING.md's "Where things live" names every module of the source package."""
    contributing = (DOCS.parent / "CONTRIBUTING.md").read_text(encoding="utf-8")
    source = DOCS.parent / "torchinit"
    modules = {f"torchinit/{path.relative_to(source).as_posix()}" for path in source.rglob("*.py")}
    listed = set(re.findall(r"^\| `(torchinit/[\w/]+\.py)` \|", contributing, re.M))
    assert modules - listed == set(), "missing from CONTRIBUTING.md"
    assert listed - modules == set(), "listed in CONTRIBUTING.md but gone"

"""Shared test helpers.

``torchvision_init_disabled`` switches off *only* a torchvision model file's own init loop, so
that a test can run torchinit's preset in its place and compare the result with torchvision's
own model bit for bit.

torchvision's model files call ``nn.init.kaiming_normal_(...)`` (or ``torch.nn.init.*_`` or
``init.*_``) through their module globals. Patching ``torch.nn.init`` itself would be wrong: the
layer constructors (``nn.Conv2d(...)`` and so on) call ``torch.nn.init`` too, in their
``reset_parameters``, and those calls must still happen and draw their random numbers. So the
helper replaces, in the torchvision model module only, each global that *is* ``torch``,
``torch.nn`` or ``torch.nn.init`` (or a ``torch.nn.init`` function imported by name) with a proxy
that forwards everything to the real object except the in-place ``*_`` init functions, which
become no-ops returning their tensor. Constructors still resolve to the real classes.

With ``TORCHINIT_TEST_INSTALLED=1`` (as ``.ci/run`` sets when it runs the suite against the built
wheel) the session refuses to start if ``torchinit`` was imported from this source tree rather
than from the installed package: a green run would otherwise prove nothing about the wheel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import random
import types
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch
import torch.nn
import torch.nn.init

import torchinit

SOURCE_TREE = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("TORCHINIT_TEST_INSTALLED") != "1":
        return
    imported = Path(torchinit.__file__).resolve().parent
    if imported.is_relative_to(SOURCE_TREE):
        raise pytest.UsageError(
            f"TORCHINIT_TEST_INSTALLED=1, but torchinit was imported from the source tree "
            f"({imported}): run pytest from a folder outside the repository, with the wheel "
            f"installed (not pip install -e), and pass the tests folder by path"
        )


@pytest.fixture(autouse=True)
def _seeded_global_rng(request: pytest.FixtureRequest) -> None:
    """Every test starts torch's and Python's global generators from its own fixed seed.

    A test that draws from the global generator without seeding it otherwise sees whatever
    state the tests before it left, so its outcome depends on which tests ran first (``-k``,
    ``-x``, a new test file) and a statistical check fails once in a few hundred orders. The
    seed comes from the test's file and name (not its node id, which names the folder pytest
    ran from): the same test draws the same numbers in every run, every selection, and
    against the installed wheel; different tests draw different ones.
    """
    name = request.node.nodeid.partition("::")[2]
    seed = zlib.crc32(f"{request.node.path.name}::{name}".encode())
    torch.manual_seed(seed)
    random.seed(seed)


@dataclasses.dataclass
class SuppressedCalls:
    """The names of the ``torch.nn.init`` functions a disabled module tried to call."""

    calls: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)


def _is_inplace_init(name: str, value: Any) -> bool:
    return name.endswith("_") and not name.startswith("_") and callable(value)


def _noop(name: str, record: SuppressedCalls) -> Callable[..., Any]:
    def noop(tensor: Any = None, *args: Any, **kwargs: Any) -> Any:
        record.calls.append(name)
        return tensor

    noop.__name__ = name
    return noop


class _Proxy(types.ModuleType):
    """A stand-in for a module: forwards attribute lookups, except the overridden ones."""

    def __init__(self, real: types.ModuleType, overrides: dict[str, Any]) -> None:
        super().__init__(real.__name__, real.__doc__)
        self._real = real
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return f"<init-disabled proxy of {self._real.__name__}>"


def _proxies(record: SuppressedCalls) -> dict[int, Any]:
    """Proxies of ``torch.nn.init``, ``torch.nn`` and ``torch``, keyed by the real object's id."""
    real_init = torch.nn.init
    noops = {
        name: _noop(name, record)
        for name, value in vars(real_init).items()
        if _is_inplace_init(name, value)
    }
    init_proxy = _Proxy(real_init, noops)
    nn_proxy = _Proxy(torch.nn, {"init": init_proxy})
    torch_proxy = _Proxy(torch, {"nn": nn_proxy})
    proxies: dict[int, Any] = {
        id(real_init): init_proxy,
        id(torch.nn): nn_proxy,
        id(torch): torch_proxy,
    }
    for name, noop in noops.items():
        proxies[id(getattr(real_init, name))] = noop
    return proxies


@contextlib.contextmanager
def torchvision_init_disabled(*modules: types.ModuleType | str) -> Iterator[SuppressedCalls]:
    """Disable the init loops written in ``modules`` (e.g. ``torchvision.models.resnet``).

    A module may be given by name (``"torchvision.models.googlenet"``).

    Inside the ``with`` block, the calls that code in those modules makes to
    ``torch.nn.init``'s in-place functions do nothing (and are recorded in the yielded
    :class:`SuppressedCalls`); every other use of ``torch``/``nn`` there is unchanged, and layer
    constructors run their own ``reset_parameters`` as usual. The globals are restored on exit.

    Raises ``AssertionError`` if a module has no global through which it could reach
    ``torch.nn.init``: there would be nothing to disable, and a test relying on it would prove
    nothing.
    """
    record = SuppressedCalls()
    proxies = _proxies(record)
    with contextlib.ExitStack() as stack:
        for given in modules:
            module = importlib.import_module(given) if isinstance(given, str) else given
            assert isinstance(module, types.ModuleType), (
                f"expected a module or a module name, got {given!r} (some torchvision model "
                "modules are shadowed by a function of the same name, e.g. "
                "torchvision.models.googlenet: pass 'torchvision.models.googlenet' instead)"
            )
            patched = []
            for name, value in list(vars(module).items()):
                proxy = proxies.get(id(value))
                if proxy is not None:
                    stack.enter_context(mock.patch.object(module, name, proxy))
                    patched.append(name)
            assert patched, f"{module.__name__} has no global referring to torch.nn.init"
        yield record


@pytest.fixture
def init_disabled() -> Callable[..., contextlib.AbstractContextManager[SuppressedCalls]]:
    """The :func:`torchvision_init_disabled` context manager (tests/ is not a package)."""
    return torchvision_init_disabled


@pytest.fixture
def tv_models() -> types.ModuleType:
    """``torchvision.models``, or skip the test when torchvision is not installed."""
    pytest.importorskip("torchvision", reason="torchvision is not installed")
    import torchvision.models

    return torchvision.models


@pytest.fixture(scope="session")
def options_without_model() -> dict[str, dict[str, Any]]:
    """For each built-in preset, values of the options it can only read from a model (and so
    needs given where there is none); the ``configs/`` twins are written for these."""
    return {
        "gpt2": {"n_layer": 12},
        "nanogpt": {"n_layer": 12},
        "fixup": {"num_branches": 16},
        "mup": {"width_mult": 1.0},
        "megatron": {"num_layers": 24},
        "gpt_neox": {"num_layers": 24, "hidden_size": 1024},
        "deepnet": {"num_layers": 12},
        "t_fixup": {"num_layers": 6},
    }

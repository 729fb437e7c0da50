"""Tests for torchinit.registry.Registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from torchinit.errors import RegistryError, TorchInitError, UnknownNameError
from torchinit.registry import Registry


@pytest.fixture
def widgets() -> Registry[int]:
    registry: Registry[int] = Registry("widget")
    registry.add("beta", 2)
    registry.add("alpha", 1)
    return registry


def test_add_and_get(widgets: Registry[int]) -> None:
    assert widgets["alpha"] == 1
    assert widgets["beta"] == 2
    assert widgets.kind == "widget"


def test_is_a_mapping_in_insertion_order(widgets: Registry[int]) -> None:
    assert isinstance(widgets, Mapping)
    assert list(widgets) == ["beta", "alpha"]
    assert len(widgets) == 2
    assert "alpha" in widgets
    assert "gamma" not in widgets
    assert list(widgets.items()) == [("beta", 2), ("alpha", 1)]
    assert list(widgets.values()) == [2, 1]
    assert widgets.get("gamma") is None
    assert widgets.get("gamma", 7) == 7
    assert widgets == {"alpha": 1, "beta": 2}
    assert dict(widgets) == {"beta": 2, "alpha": 1}


def test_getitem_of_a_missing_name_is_a_key_error(widgets: Registry[int]) -> None:
    with pytest.raises(KeyError):
        widgets["gamma"]


def test_duplicate_is_refused(widgets: Registry[int]) -> None:
    with pytest.raises(RegistryError) as info:
        widgets.add("alpha", 10)
    assert str(info.value) == (
        "name: a widget named 'alpha' is already registered; "
        "pass overwrite=True to replace it (got 'alpha')"
    )
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, TorchInitError)
    assert widgets["alpha"] == 1


def test_overwrite_replaces_in_place(widgets: Registry[int]) -> None:
    widgets.add("beta", 20, overwrite=True)
    assert widgets["beta"] == 20
    assert list(widgets) == ["beta", "alpha"]
    assert len(widgets) == 2


def test_overwrite_of_a_new_name_adds_it(widgets: Registry[int]) -> None:
    widgets.add("gamma", 3, overwrite=True)
    assert widgets["gamma"] == 3


@pytest.mark.parametrize("name", ["1abc", "a-b", "a.b", "a b", "", 3, None], ids=repr)
def test_non_identifier_names_are_refused(widgets: Registry[int], name: Any) -> None:
    with pytest.raises(RegistryError) as info:
        widgets.add(name, 9)
    assert str(info.value) == f"name: widget names must be Python identifiers (got {name!r})"
    assert len(widgets) == 2


@pytest.mark.parametrize("name", ["_private", "x2", "CamelCase", "ünïcode"])
def test_identifier_names_are_accepted(widgets: Registry[int], name: str) -> None:
    widgets.add(name, 5)
    assert widgets[name] == 5


def test_lookup_returns_the_entry(widgets: Registry[int]) -> None:
    assert widgets.lookup("alpha", "cfg.kind") == 1


def test_lookup_miss_suggests_the_closest(widgets: Registry[int]) -> None:
    with pytest.raises(UnknownNameError) as info:
        widgets.lookup("alpah", "cfg.kind")
    message = str(info.value)
    assert message == (
        "cfg.kind: unknown widget; did you mean 'alpha'? available: ['alpha', 'beta'] (got 'alpah')"
    )
    assert not message.startswith("'")
    assert isinstance(info.value, KeyError)


def test_lookup_miss_without_suggestion(widgets: Registry[int]) -> None:
    with pytest.raises(UnknownNameError) as info:
        widgets.lookup("zzzzz", "")
    assert str(info.value) == "unknown widget; available: ['alpha', 'beta'] (got 'zzzzz')"


@pytest.mark.parametrize("name", [3, None, ["alpha"]], ids=repr)
def test_lookup_of_a_non_string(widgets: Registry[int], name: Any) -> None:
    with pytest.raises(UnknownNameError) as info:
        widgets.lookup(name, "cfg")
    assert str(info.value) == f"cfg: unknown widget; available: ['alpha', 'beta'] (got {name!r})"


def test_lookup_in_an_empty_registry() -> None:
    registry: Registry[int] = Registry("preset")
    with pytest.raises(UnknownNameError) as info:
        registry.lookup("resnet", "")
    assert str(info.value) == "unknown preset; available: [] (got 'resnet')"


def test_remove(widgets: Registry[int]) -> None:
    widgets.remove("alpha")
    assert "alpha" not in widgets
    assert list(widgets) == ["beta"]
    widgets.add("alpha", 11)
    assert widgets["alpha"] == 11


def test_remove_of_a_missing_name_is_a_no_op(widgets: Registry[int]) -> None:
    widgets.remove("gamma")
    assert list(widgets) == ["beta", "alpha"]


def test_decorator_registers_and_returns_the_entry() -> None:
    registry: Registry[Any] = Registry("factory")

    @registry.decorator("make")
    def make() -> int:
        return 1

    assert registry["make"] is make
    assert make() == 1
    with pytest.raises(RegistryError):
        registry.decorator("make")(lambda: 2)
    assert registry["make"] is make

    def replacement() -> int:
        return 2

    assert registry.decorator("make", overwrite=True)(replacement) is replacement
    assert registry["make"] is replacement


def test_registries_are_independent() -> None:
    first: Registry[int] = Registry("a")
    second: Registry[int] = Registry("b")
    first.add("x", 1)
    assert "x" not in second

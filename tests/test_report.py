"""torchinit.report: the table, JSON form and lookups of InitReport."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import types
import weakref
from collections.abc import Callable

import pytest
from torch import nn

import torchinit as ti
from torchinit import _table as table_module
from torchinit.report import new_entry


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.embed = nn.Embedding(4, 8)
        self.head = nn.Linear(8, 4, bias=False)
        self.head.weight = self.embed.weight
        self.extra = nn.Linear(8, 8)


POLICY = ti.Policy(
    [
        ti.Rule(nn.Conv2d, weight=ti.KaimingNormal(mode="fan_out"), bias="zeros", label="conv"),
        ti.Rule(nn.BatchNorm2d, weight="ones", bias="zeros"),
        ti.Rule(nn.Embedding, weight=ti.Normal(0.0, 0.02)),
        ti.Rule(nn.GroupNorm, weight="ones", optional=True),  # the model has none
    ],
    name="demo",
)


@pytest.fixture
def report() -> ti.InitReport:
    return ti.init_model(Model(), POLICY, exclude="bn.bias")


def test_entries_are_in_traversal_order_with_statuses(report: ti.InitReport) -> None:
    assert [(e.name, e.status) for e in report] == [
        ("conv.weight", "initialized"),
        ("conv.bias", "skipped"),
        ("bn.weight", "initialized"),
        ("bn.bias", "excluded"),
        ("embed.weight", "initialized"),
        ("extra.weight", "unmatched"),
        ("extra.bias", "unmatched"),
    ]
    assert report.unmatched == ["extra.weight", "extra.bias"]
    assert report.excluded == ["bn.bias"]
    assert [e.name for e in report.skipped] == ["conv.bias"]
    assert report.unused_rules == ("rules[3] GroupNorm",)
    assert len(report) == 7


def test_lookup_by_any_name(report: ti.InitReport) -> None:
    entry = report["head.weight"]
    assert entry.name == "embed.weight"
    assert entry.strategy == ti.Normal(0.0, 0.02)
    assert entry.rule == 2
    assert entry.rule_label == "Embedding"
    assert entry.shape == (4, 8)
    assert entry.dtype == "torch.float32"
    with pytest.raises(KeyError):
        report["nope"]


def test_str_is_a_readable_table(report: ti.InitReport) -> None:
    assert str(report).splitlines() == [
        "torchinit: policy 'demo' on Model (order=modules): 3 tensors initialized, "
        "2 unmatched, 1 skipped, 1 excluded",
        "name                          shape         rule                  strategy",
        "conv.weight                   (8, 3, 3, 3)  rules[0] conv         "
        "kaiming_normal(a=0.0, mode='fan_out', nonlinearity='leaky_relu')",
        "bn.weight                     (8,)          rules[1] BatchNorm2d  ones()",
        "embed.weight (= head.weight)  (4, 8)        rules[2] Embedding    "
        "normal(mean=0.0, std=0.02)",
        "skipped: conv.bias: is None (e.g. a layer built with bias=False)",
        "excluded by include/exclude: bn.bias",
        "unmatched (left as they were): extra.weight, extra.bias",
        "matched nothing: rules[3] GroupNorm",
    ]


def test_plan_summary_says_nothing_was_done() -> None:
    report = ti.plan(nn.Linear(2, 2), ti.Policy([ti.Rule(nn.Linear, weight="ones")]))
    assert report.summary() == (
        "torchinit: policy '<policy>' on Linear (order=modules): 1 tensor to initialize, "
        "1 unmatched, 0 skipped, 0 excluded"
    )


def test_the_table_says_which_options_were_read_from_the_model() -> None:
    model = nn.Sequential(nn.Linear(4, 4))
    model.config = types.SimpleNamespace(n_layer=3)  # type: ignore[assignment]
    report = ti.plan(model, "nanogpt")
    assert report.options == {"n_layer": (3, "model.config.n_layer")}
    assert str(report).splitlines()[-1] == (
        "options read from the model: n_layer=3 (model.config.n_layer)"
    )
    given = ti.plan(model, "nanogpt", n_layer=2)
    assert given.options == {"n_layer": (2, "given")}
    assert "options read from the model" not in str(given)


def test_to_dict_is_json_ready(report: ti.InitReport) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert data["policy"] == "demo"
    assert data["applied"] is True
    assert data["unmatched"] == ["extra.weight", "extra.bias"]
    assert data["entries"][0] == {
        "name": "conv.weight",
        "shape": [8, 3, 3, 3],
        "dtype": "torch.float32",
        "status": "initialized",
        "rule": 0,
        "rule_label": "conv",
        "strategy": {"kaiming_normal": {"a": 0.0, "mode": "fan_out", "nonlinearity": "leaky_relu"}},
        "reason": None,
        "aliases": [],
        "overridden": [],
    }
    assert data["entries"][4]["aliases"] == ["head.weight"]
    assert data["unused_rules"] == ["rules[3] GroupNorm"]


def test_overridden_rules_are_reported() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, weight="ones"),
            ti.Rule(param="**.weight", init="zeros"),
            ti.Rule(name="1", weight=ti.Normal()),
        ]
    )
    report = ti.plan(model, policy)
    assert report["0.weight"].overridden == (0,)
    assert report["1.weight"].overridden == (0, 1)
    assert report["1.weight"].rule == 2
    assert "rules[2] name='1' (over rules[0], rules[1])" in str(report)


# --------------------------------------------------------------------------- the table's layout


@pytest.fixture(scope="module")
def resnet_report() -> ti.InitReport:
    tv_models = pytest.importorskip("torchvision.models", reason="torchvision is not installed")
    return ti.plan(tv_models.resnet18(), "resnet")


def test_format_table_without_width_is_str(resnet_report: ti.InitReport) -> None:
    assert resnet_report.format_table() == str(resnet_report)
    assert resnet_report.format_table(1000) == str(resnet_report)


def _table_rows(text: str) -> list[str]:
    """The rows of the table in ``format_table``'s text, after the header line."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["name", "shape"])
    return lines[header + 1 :]


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120])
def test_format_table_fits_the_width(resnet_report: ti.InitReport, width: int) -> None:
    text = resnet_report.format_table(width)
    assert max(map(len, text.splitlines())) <= width
    # a strategy's continuation lines start blank, under its column
    rows = [row for row in _table_rows(text) if not row.startswith(" ")]
    count = len(resnet_report.initialized)
    assert all(row.startswith(("conv1.", "bn1.", "layer")) for row in rows[:count])
    assert rows[count].startswith("unmatched (left as they were):")  # then wrapped


def test_format_table_wraps_strategies_at_80_columns(resnet_report: ti.InitReport) -> None:
    rows = _table_rows(resnet_report.format_table(80))
    # the arguments left at their defaults go first (a=0.0); the others wrap, none is cut
    assert rows[:5] == [
        "conv1.weight              64x3x7x7     #0 conv  kaiming_normal(mode='fan_out',",
        "                                                nonlinearity='relu')",
        "bn1.weight                64           #1 norm  ones()",
        "bn1.bias                  64           #1 norm  zeros()",
        "layer1.0.conv1.weight     64x64x3x3    #0 conv  kaiming_normal(mode='fan_out',",
    ]
    downsample = rows.index(
        "layer2…wnsample.0.weight  128x64x1x1   #0 conv  kaiming_normal(mode='fan_out',"
    )
    assert (
        rows[downsample + 1]
        == "                                                nonlinearity='relu')"
    )


def test_format_table_shortens_sensibly(resnet_report: ti.InitReport) -> None:
    # shapes and rules get their compact forms before a strategy loses an argument
    rows = _table_rows(resnet_report.format_table(100))
    assert rows[0] == (
        "conv1.weight               64x3x7x7     #0 conv  "
        "kaiming_normal(mode='fan_out', nonlinearity='relu')"
    )
    # too narrow to wrap it without cutting the names: the strategy is cut
    rows = _table_rows(resnet_report.format_table(60))
    assert rows[0].split() == ["conv1.weight", "64x3x7x7", "#0", "conv", "kaiming_nor…"]
    assert "layer2…wnsample.0.weight  128x64x1x1   #0 conv  kaiming_nor…" in rows


def test_format_table_wraps_between_arguments_only() -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    strategy = ti.TruncNormal(mean=0.5, std=0.25, a=-1.0, b=3.0)
    report = ti.plan(model, ti.Policy([ti.Rule(nn.Linear, weight=strategy)]))
    assert _table_rows(report.format_table(44))[:4] == [
        "0.weight  2x2    #0 Linear  trunc_normal(",
        "                            mean=0.5,",
        "                            std=0.25,",
        "                            a=-1.0, b=3.0)",
    ]
    # narrower, a piece would not fit a line: one line, cut
    assert _table_rows(report.format_table(40))[0] == "0.weight  2x2    #0 Linear  trunc_norma…"


def test_format_table_elides_the_middle_of_long_names() -> None:
    deep = nn.Sequential()
    deep.add_module("encoder", nn.ModuleDict({"blocks_with_a_long_name": nn.Linear(2, 2)}))
    report = ti.plan(deep, ti.Policy([ti.Rule(nn.Linear, weight="ones", bias="zeros")]))
    rows = _table_rows(report.format_table(50))
    assert rows[:2] == [
        "encoder…ng_name.weight  2x2    #0 Linear  ones()",
        "encoder…long_name.bias  2      #0 Linear  zeros()",
    ]


def test_long_name_lists_are_summarised() -> None:
    model = nn.Sequential(*(nn.Linear(2, 2) for _ in range(12)))
    for layer in model[:9]:
        layer.weight.requires_grad_(False)
    policy = ti.Policy([ti.Rule(nn.Linear, weight="ones")])
    report = ti.plan(model, policy, skip_frozen=True, exclude="1[01].weight")
    assert str(report).splitlines()[3:] == [
        "skipped: 9 tensors: 0.weight, 1.weight, 2.weight, 3.weight, 4.weight, … 4 more: "
        "frozen (requires_grad=False) and skip_frozen=True",
        "excluded by include/exclude: 10.weight, 11.weight",
        "unmatched (left as they were): 12 tensors: 0.bias, 1.bias, 2.bias, 3.bias, 4.bias, "
        "… 7 more",
    ]
    assert report.format_table(80).splitlines()[4:] == [
        "skipped: 9 tensors: 0.weight, 1.weight, 2.weight, 3.weight, 4.weight, … 4 more:",
        "    frozen (requires_grad=False) and skip_frozen=True",
        "excluded by include/exclude: 10.weight, 11.weight",
        "unmatched (left as they were): 12 tensors: 0.bias, 1.bias, 2.bias, 3.bias,",
        "    4.bias, … 7 more",
    ]


def test_skipped_tensors_are_listed_by_reason() -> None:
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 2), nn.Linear(2, 2, bias=False))
    model[1].requires_grad_(False)
    policy = ti.Policy([ti.Rule(nn.Linear, weight="ones", bias="zeros")])
    report = ti.plan(model, policy, skip_frozen=True)
    assert str(report).splitlines()[4:] == [
        "skipped: 0.bias, 2.bias: is None (e.g. a layer built with bias=False)",
        "skipped: 1.weight, 1.bias: frozen (requires_grad=False) and skip_frozen=True",
    ]


def test_many_aliases_are_summarised() -> None:
    shared = nn.Linear(2, 2)
    report = ti.plan(nn.Sequential(*[shared] * 10), ti.Policy([ti.Rule(nn.Linear, weight="ones")]))
    assert _table_rows(str(report))[0] == (
        "0.weight (= 9 names: 1.weight, 2.weight, 3.weight, 4.weight, 5.weight, … 4 more)  "
        "(2, 2)  rules[0] Linear  ones()"
    )
    assert _table_rows(report.format_table(60))[0] == ("0.weight (= …)  2x2    #0 Linear  ones()")


def test_printing_describes_each_strategy_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # printing a report of 100,000 tensors once cost ten times planning them: a signature read
    # and an entry built for every row
    calls: list[object] = []
    signature = table_module.inspect.signature

    def counted(obj: Callable[..., object]) -> object:
        calls.append(obj)
        return signature(obj)

    model = nn.Sequential(*(nn.Linear(2, 2) for _ in range(20)))
    strategy = ti.KaimingNormal(nonlinearity="relu")
    report = ti.plan(model, ti.Policy([ti.Rule(nn.Linear, weight=strategy, bias="zeros")]))
    monkeypatch.setattr(table_module.inspect, "signature", counted)
    monkeypatch.setattr(table_module, "_DEFAULTS", weakref.WeakKeyDictionary())
    for width in (None, 80, 60):
        report.format_table(width)
    assert calls == [ti.KaimingNormal, ti.Zeros]
    assert "entries" not in vars(report)
    # a report with its entries prints alike
    assert str(report) == str(_constructed(report))


def test_format_table_width_is_checked(resnet_report: ti.InitReport) -> None:
    assert resnet_report.format_table(10) == resnet_report.format_table(40)
    with pytest.raises(ti.InvalidArgumentError, match=r"^width: must be >= 1 \(got 0\)$"):
        resnet_report.format_table(0)
    with pytest.raises(ti.ArgumentTypeError, match=r"^width: must be an integer"):
        resnet_report.format_table("80")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- entries


def test_entries_the_engine_builds_equal_constructed_ones() -> None:
    fields = {
        "name": "0.weight",
        "shape": (8, 3),
        "dtype": "torch.float32",
        "status": "initialized",
        "rule": 1,
        "rule_label": "Linear",
        "strategy": ti.Normal(0.0, 0.02),
        "reason": None,
        "aliases": ("1.weight",),
        "overridden": (0,),
    }
    built = new_entry(**fields)  # type: ignore[arg-type]
    constructed = ti.ReportEntry(**fields)  # type: ignore[arg-type]
    assert built == constructed
    assert hash(built) == hash(constructed)
    assert repr(built) == repr(constructed)
    assert vars(built) == vars(constructed)
    assert dataclasses.asdict(built) == dataclasses.asdict(constructed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.name = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- reports from rows


def _constructed(report: ti.InitReport) -> ti.InitReport:
    """``report`` built by ``InitReport(...)`` from its fields (its entries read)."""
    fields = {field.name: getattr(report, field.name) for field in dataclasses.fields(report)}
    return ti.InitReport(**fields)


def _engine_report() -> ti.InitReport:
    return ti.init_model(Model(), POLICY, exclude="bn.bias")


def test_engine_reports_build_their_entries_when_first_read() -> None:
    report = _engine_report()
    assert "entries" not in vars(report)
    entries = report.entries
    assert report.entries is entries
    assert [entry.name for entry in entries] == [
        "conv.weight",
        "conv.bias",
        "bn.weight",
        "bn.bias",
        "embed.weight",
        "extra.weight",
        "extra.bias",
    ]
    assert entries[4] == ti.ReportEntry(
        name="embed.weight",
        shape=(4, 8),
        dtype="torch.float32",
        status="initialized",
        rule=2,
        rule_label="Embedding",
        strategy=ti.Normal(0.0, 0.02),
        aliases=("head.weight",),
    )
    assert entries[1] == ti.ReportEntry(
        name="conv.bias",
        shape=None,
        dtype=None,
        status="skipped",
        rule=0,
        rule_label="conv",
        strategy=ti.Zeros(),
        reason="is None (e.g. a layer built with bias=False)",
    )


@pytest.mark.parametrize(
    "read",
    [
        lambda report: report,
        lambda report: dataclasses.replace(report),
        lambda report: pickle.loads(pickle.dumps(report)),
        copy.copy,
        copy.deepcopy,
    ],
    ids=["itself", "replace", "pickle", "copy", "deepcopy"],
)
def test_engine_reports_equal_constructed_ones(
    read: Callable[[ti.InitReport], ti.InitReport],
) -> None:
    report = read(_engine_report())
    constructed = _constructed(_engine_report())
    assert report == constructed
    assert constructed == report
    assert repr(report) == repr(constructed)
    assert hash(report) == hash(constructed)
    assert str(report) == str(constructed)
    assert report.to_dict() == constructed.to_dict()
    assert dataclasses.asdict(report) == dataclasses.asdict(constructed)


def test_engine_reports_pickle_their_entries_not_their_rows() -> None:
    restored = pickle.loads(pickle.dumps(_engine_report()))
    assert set(vars(restored)) == {field.name for field in dataclasses.fields(restored)}


def test_entries_stay_a_required_frozen_field() -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'entries'"):
        ti.InitReport(policy="p", model="m", order="modules", applied=True)  # type: ignore[call-arg]
    report = _engine_report()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.entries = ()  # type: ignore[misc]

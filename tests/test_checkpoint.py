"""torchinit.strategies.checkpoint: tensors read from a .safetensors/.pt file, by name."""

from __future__ import annotations

import collections
import pathlib
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import torchinit as ti
from torchinit.strategies.checkpoint import CheckpointFile

safetensors_torch = pytest.importorskip("safetensors.torch")


def save(path: pathlib.Path, tensors: dict[str, torch.Tensor]) -> str:
    """Save ``tensors`` to ``path`` (.safetensors, or torch.save for .pt/.pth); its str."""
    if path.suffix == ".safetensors":
        safetensors_torch.save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    else:
        torch.save(tensors, path)
    return str(path)


def net() -> nn.Sequential:
    return nn.Sequential(
        collections.OrderedDict(
            backbone=nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)), head=nn.Linear(4, 2)
        )
    )


def backbone_file(tmp_path: pathlib.Path, suffix: str = ".safetensors") -> dict[str, torch.Tensor]:
    """A checkpoint of a bare backbone (names without 'backbone.'), saved as ckpt<suffix>."""
    torch.manual_seed(0)
    tensors = dict(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4)).state_dict())
    tensors = {k: torch.randn_like(v) for k, v in tensors.items()}
    save(tmp_path / f"ckpt{suffix}", tensors)
    return tensors


def backbone_policy(path: str | pathlib.Path, **keys: str) -> ti.Policy:
    return ti.Policy(
        [ti.Rule(param="backbone.**", init=ti.Checkpoint(path, keys=keys or {"backbone.": ""}))]
    )


# --------------------------------------------------------------------------- the strategy


def test_the_python_and_plain_data_forms_are_one_strategy() -> None:
    strategy = ti.Checkpoint("r50.safetensors", keys={"backbone.": ""})
    spec = {"checkpoint": {"path": "r50.safetensors", "keys": {"backbone.": ""}}}
    assert strategy.to_spec() == spec
    assert ti.to_strategy(spec) == strategy
    assert repr(strategy) == "Checkpoint(path='r50.safetensors', keys={'backbone.': ''})"
    assert strategy.describe() == "checkpoint(path='r50.safetensors', keys={'backbone.': ''})"
    assert ti.Checkpoint(pathlib.Path("a.pt")) == ti.Checkpoint("a.pt", keys={"": ""})
    assert hash(strategy) == hash(ti.to_strategy(spec))
    assert strategy.law((2, 3)) is None


def test_the_longest_matching_model_prefix_wins() -> None:
    strategy = ti.Checkpoint("a.pt", keys={"": "model.", "backbone.": "", "backbone.fc.": "h."})
    assert strategy.checkpoint_key("backbone.fc.weight") == "h.weight"
    assert strategy.checkpoint_key("backbone.conv.weight") == "conv.weight"
    assert strategy.checkpoint_key("neck.bias") == "model.neck.bias"
    assert ti.Checkpoint("a.pt", keys={"backbone.": ""}).checkpoint_key("neck.bias") is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"path": "weights.bin"},
            "checkpoint.path: must end in one of ['.safetensors', '.pt', '.pth'] "
            "(got 'weights.bin')",
        ),
        ({"path": 3}, "checkpoint.path: must be a file path (got 3)"),
        (
            {"path": "a.pt", "keys": {"backbone.": 0}},
            "checkpoint.keys: must be a mapping of model prefix to checkpoint prefix (strings) "
            "(got {'backbone.': 0})",
        ),
        (
            {"path": "a.pt", "keys": {}},
            "checkpoint.keys: must map at least one model prefix ('' for every name) (got {})",
        ),
        (
            {"path": "a.pt", "keys": (("a.", ""), ("a.", "b."))},
            "checkpoint.keys: gives a model prefix twice (got (('a.', ''), ('a.', 'b.')))",
        ),
    ],
)
def test_bad_arguments_are_refused_when_built(arguments: dict, message: str) -> None:
    with pytest.raises(ti.TorchInitError) as caught:
        ti.Checkpoint(**arguments)
    assert str(caught.value) == message


def test_a_bare_tensor_cannot_be_filled() -> None:
    with pytest.raises(ti.ArgumentTypeError) as caught:
        ti.Checkpoint("a.pt")(torch.empty(2))
    assert str(caught.value) == (
        "checkpoint: reads each tensor by its name in the model; use it in a policy rule "
        "(torchinit.init_model), not on a bare tensor"
    )


@pytest.mark.slow
def test_import_torchinit_does_not_import_safetensors() -> None:
    code = "import sys, torchinit; print('safetensors' in sys.modules)"
    root = pathlib.Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- the file


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_block_is_read_from_the_smallest_slice_holding_it(
    tmp_path: pathlib.Path, suffix: str
) -> None:
    whole = torch.arange(42.0).view(6, 7)
    opened = CheckpointFile(save(tmp_path / f"w{suffix}", {"w": whole}))
    assert opened.entries == {"w": ((6, 7), torch.float32)}
    rows, strided = torch.tensor([2, 3, 4]), torch.tensor([1, 4, 6])
    assert torch.equal(opened.read("w", (rows, strided)), whole[2:5][:, [1, 4, 6]])
    assert torch.equal(opened.read("w"), whole)
    empty = torch.tensor([], dtype=torch.int64)
    assert opened.read("w", (empty, strided)).shape == (0, 3)


def test_a_dtensor_shard_reads_its_own_elements(tmp_path: pathlib.Path) -> None:
    placements = pytest.importorskip("torch.distributed.tensor")
    whole = torch.arange(30.0).view(5, 6)
    opened = CheckpointFile(save(tmp_path / "w.safetensors", {"w": whole}))
    for coordinate in ((0, 0), (0, 1), (1, 1)):
        indices = ti.distributed.local_indices(
            (5, 6), (2, 2), coordinate, [placements.Shard(0), placements.Shard(1)]
        )
        expected = whole[indices[0]][:, indices[1]]
        assert torch.equal(opened.read("w", indices), expected)


@pytest.mark.parametrize("nesting", [None, "state_dict", "model"])
def test_a_torch_file_holds_a_state_dict_at_the_top_or_under_state_dict_or_model(
    tmp_path: pathlib.Path, nesting: str | None
) -> None:
    tensors = {"weight": torch.randn(2, 3), "bias": torch.randn(2)}
    data = tensors if nesting is None else {nesting: tensors, "epoch": 3}
    torch.save(data, tmp_path / "a.pth")
    model = nn.Linear(3, 2)
    ti.init_model(model, ti.Policy([ti.Rule(param="*", init=ti.Checkpoint(tmp_path / "a.pth"))]))
    assert torch.equal(model.weight, tensors["weight"])
    assert torch.equal(model.bias, tensors["bias"])


class Run:
    """An object that weights_only=True refuses to unpickle."""


def test_a_torch_file_with_objects_is_refused(tmp_path: pathlib.Path) -> None:
    torch.save({"weight": torch.zeros(2, 3), "run": Run()}, tmp_path / "a.pt")
    policy = ti.Policy([ti.Rule(nn.Linear, weight=ti.Checkpoint(tmp_path / "a.pt"))])
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(nn.Linear(3, 2), policy)
    message = str(caught.value)
    assert message.startswith(
        "weight: rules[0].weight.checkpoint.path: cannot be read with "
        "torch.load(weights_only=True, mmap=True): Weights only load failed."
    )
    assert message.endswith(f"(got {str(tmp_path / 'a.pt')!r})")


def test_a_torch_file_without_a_state_dict_is_refused(tmp_path: pathlib.Path) -> None:
    torch.save([torch.zeros(2)], tmp_path / "a.pt")
    policy = ti.Policy([ti.Rule(nn.Linear, bias=ti.Checkpoint(tmp_path / "a.pt"))])
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(nn.Linear(3, 2), policy)
    assert str(caught.value) == (
        "bias: rules[0].bias.checkpoint.path: holds no state_dict (a mapping of name to "
        f"tensor, or one under 'state_dict' or 'model') (got {str(tmp_path / 'a.pt')!r})"
    )


def test_a_missing_file_is_a_plan_error(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "none.safetensors")
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(net(), backbone_policy(path))
    assert str(caught.value) == (
        f"backbone.0.weight: rules[0].init.checkpoint.path: no such checkpoint file (got {path!r})"
    )


def test_a_file_that_is_not_safetensors_is_a_plan_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"not a header")
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(net(), backbone_policy(path))
    assert str(caught.value).startswith(
        "backbone.0.weight: rules[0].init.checkpoint.path: cannot be read as safetensors: "
    )


def test_without_safetensors_the_extra_is_named(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backbone_file(tmp_path)
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ti.MissingDependencyError) as caught:
        ti.plan(net(), backbone_policy(tmp_path / "ckpt.safetensors"))
    assert str(caught.value) == (
        "backbone.0.weight: rules[0].init.checkpoint.path: reading a .safetensors checkpoint "
        "needs safetensors: pip install torchinit[safetensors] "
        f"(got {str(tmp_path / 'ckpt.safetensors')!r})"
    )


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_a_prefix_is_added_and_the_report_says_where_each_tensor_came_from(
    tmp_path: pathlib.Path, suffix: str
) -> None:
    tensors = backbone_file(tmp_path, suffix)
    model = net()
    head = model.head.weight.detach().clone()
    report = ti.init_model(model, backbone_policy(tmp_path / f"ckpt{suffix}"))
    for name, value in tensors.items():
        assert torch.equal(model.get_parameter(f"backbone.{name}"), value), name
    assert torch.equal(model.head.weight, head)
    path = str(tmp_path / f"ckpt{suffix}")
    assert report["backbone.1.bias"].reason == f"key '1.bias' of {path!r}"
    assert report["backbone.1.bias"].strategy == ti.Checkpoint(path, keys={"backbone.": ""})
    assert report.unmatched == ["head.weight", "head.bias"]


def test_a_prefix_the_checkpoint_has_is_stripped_as_mmengine_pretrained(
    tmp_path: pathlib.Path,
) -> None:
    whole = net()
    save(tmp_path / "full.safetensors", dict(whole.state_dict()))
    backbone = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    ti.init_model(backbone, ti.Policy([ti.Rule(param="**", init=ti.Checkpoint(
        tmp_path / "full.safetensors", keys={"": "backbone."}))]))  # fmt: skip
    for name, value in backbone.named_parameters():
        assert torch.equal(value, whole.get_parameter(f"backbone.{name}")), name


def test_values_of_another_dtype_are_cast(tmp_path: pathlib.Path) -> None:
    tensors = {"weight": torch.randn(2, 3, dtype=torch.float64), "bias": torch.randn(2)}
    save(tmp_path / "a.safetensors", tensors)
    model = nn.Linear(3, 2).to(torch.bfloat16)
    ti.init_model(model, ti.Policy([ti.Rule(param="*", init=ti.Checkpoint(
        tmp_path / "a.safetensors"))]))  # fmt: skip
    assert model.weight.dtype == torch.bfloat16
    assert torch.equal(model.weight, tensors["weight"].to(torch.bfloat16))
    assert torch.equal(model.bias, tensors["bias"].to(torch.bfloat16))


def test_a_missing_key_names_the_tensor_the_rule_and_the_closest_key(
    tmp_path: pathlib.Path,
) -> None:
    save(tmp_path / "a.safetensors", {"0.weight": torch.zeros(4, 3), "0.bias": torch.zeros(4)})
    model = net()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    policy = ti.Policy(
        [
            ti.Rule(param="**", init=ti.Ones()),
            ti.Rule(param="backbone.**", init=ti.Checkpoint(
                tmp_path / "a.safetensors", keys={"backbone.": ""})),
        ]
    )  # fmt: skip
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, policy)
    path = str(tmp_path / "a.safetensors")
    assert str(caught.value) == (
        f"backbone.1.weight: rules[1].init.checkpoint: no such key in {path!r}; did you mean "
        "'0.weight'? (got '1.weight')"
    )
    # planned before anything was written
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_a_shape_mismatch_names_both_shapes(tmp_path: pathlib.Path) -> None:
    path = save(tmp_path / "a.safetensors", {"weight": torch.zeros(3, 3)})
    policy = ti.Policy([ti.Rule(nn.Linear, weight=ti.Checkpoint(path))])
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(nn.Linear(3, 2), policy)
    assert str(caught.value) == (
        "weight: rules[0].weight.checkpoint: the model's shape (2, 3) differs from the "
        f"checkpoint's at key 'weight' of {path!r} (got (3, 3))"
    )


def test_integer_values_are_refused(tmp_path: pathlib.Path) -> None:
    path = save(tmp_path / "a.safetensors", {"bias": torch.arange(2)})
    policy = ti.Policy([ti.Rule(nn.Linear, bias=ti.Checkpoint(path))])
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(nn.Linear(3, 2), policy)
    assert str(caught.value) == (
        f"bias: rules[0].bias.checkpoint: key 'bias' of {path!r} holds I64 values; only "
        "floating-point tensors are read (got 'I64')"
    )


def test_a_name_under_no_model_prefix_is_a_plan_error(tmp_path: pathlib.Path) -> None:
    backbone_file(tmp_path)
    policy = ti.Policy(
        [ti.Rule(param="**", init=ti.Checkpoint(
            tmp_path / "ckpt.safetensors", keys={"backbone.": ""}))]
    )  # fmt: skip
    with pytest.raises(ti.PlanError) as caught:
        ti.plan(net(), policy)
    assert str(caught.value) == (
        "head.weight: rules[0].init.checkpoint.keys: the name starts with none of the model "
        "prefixes ['backbone.'] (got 'head.weight')"
    )


def test_a_tied_tensor_is_read_under_the_first_name_the_file_has(tmp_path: pathlib.Path) -> None:
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 5, bias=False))
    model[1].weight = model[0].weight
    value = torch.randn(5, 3)
    path = save(tmp_path / "a.safetensors", {"1.weight": value})
    report = ti.init_model(model, ti.Policy([ti.Rule(param="**", init=ti.Checkpoint(path))]))
    assert torch.equal(model[0].weight, value)
    assert report["0.weight"].reason == f"key '1.weight' of {path!r}"


# --------------------------------------------------------------------------- done when


RESNET_POLICY = """\
name: finetune
rules:
  - match: {param: "**"}
    init: {checkpoint: {path: resnet50.safetensors}}
  - match: {type: Linear, name: fc}
    weight: {kaiming_normal: {mode: fan_in, nonlinearity: relu}}
    bias: zeros
  - match: {type: BatchNorm2d}
    weight: ones
    bias: zeros
"""


@pytest.mark.slow
def test_a_resnet50_backbone_from_a_file_with_a_new_head_in_one_yaml_policy(
    tmp_path: pathlib.Path,
) -> None:
    torchvision = pytest.importorskip("torchvision")
    pretrained = torchvision.models.resnet50()  # the 1000-class fc is in the file too
    saved = dict(pretrained.state_dict())
    save(tmp_path / "resnet50.safetensors", saved)
    (tmp_path / "policy.yaml").write_text(RESNET_POLICY)
    model = torchvision.models.resnet50(num_classes=10)
    generator = torch.Generator().manual_seed(7)
    report = ti.init_model(model, tmp_path / "policy.yaml", generator=generator)

    norms = {name for name, layer in model.named_modules() if isinstance(layer, nn.BatchNorm2d)}
    for name, value in model.named_parameters():
        layer, _, local = name.rpartition(".")
        if layer in norms:
            assert torch.equal(value, torch.full_like(value, local == "weight")), name
        elif layer != "fc":
            assert torch.equal(value, saved[name]), name  # bit for bit
    expected = torch.empty(10, 2048)
    nn.init.kaiming_normal_(expected, nonlinearity="relu", generator=torch.manual_seed(7))
    assert torch.equal(model.fc.weight, expected)
    assert torch.equal(model.fc.bias, torch.zeros(10))
    from_file = [entry.name for entry in report.initialized if entry.rule == 0]
    convs = [name for name, layer in model.named_modules() if isinstance(layer, nn.Conv2d)]
    assert from_file == [f"{name}.weight" for name in convs]
    assert len(from_file) == 53
    path = str(tmp_path / "resnet50.safetensors")
    assert report["conv1.weight"].reason == f"key 'conv1.weight' of {path!r}"

    # the same policy in Python
    python = ti.Policy(
        [
            ti.Rule(param="**", init=ti.Checkpoint(tmp_path / "resnet50.safetensors")),
            ti.Rule(nn.Linear, name="fc", weight=ti.KaimingNormal(nonlinearity="relu"),
                    bias="zeros"),
            ti.Rule(nn.BatchNorm2d, weight="ones", bias="zeros"),
        ],
        name="finetune",
    )  # fmt: skip
    assert ti.Policy.from_yaml(tmp_path / "policy.yaml") == python
    again = torchvision.models.resnet50(num_classes=10)
    ti.init_model(again, python, generator=torch.Generator().manual_seed(7))
    for (name, value), other in zip(model.named_parameters(), again.parameters(), strict=True):
        assert torch.equal(value, other), name


def test_yaml_reads_the_keys_mapping(tmp_path: pathlib.Path) -> None:
    tensors = backbone_file(tmp_path)
    policy = ti.Policy.from_yaml(
        textwrap.dedent(f"""\
            rules:
              - match: {{param: "backbone.**"}}
                init:
                  checkpoint:
                    path: {tmp_path / "ckpt.safetensors"}
                    keys: {{"backbone.": ""}}
            """)
    )
    assert policy == backbone_policy(tmp_path / "ckpt.safetensors")
    assert ti.Policy.from_yaml(policy.to_yaml()) == policy
    model = net()
    ti.init_model(model, policy)
    assert torch.equal(model.backbone[0].weight, tensors["0.weight"])

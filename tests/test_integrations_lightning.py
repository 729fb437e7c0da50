"""Lightning: the patterns of docs/guide/lightning.md give the values of a plain ``init_model``.

``LightningModule.configure_model`` (the model built on meta or directly) under a CPU
``Trainer``, and ``Fabric.init_module(empty_init=True)``: with keyed seeding, the parameters
Lightning trains from are bit-equal to the same policy and seed applied outside Lightning.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import torchinit as ti

lightning = pytest.importorskip("lightning")

SEED = 11
POLICY = ti.Policy(
    [
        ti.Rule(nn.Linear, weight=ti.KaimingNormal(nonlinearity="relu"), bias="zeros"),
        ti.Rule(nn.LayerNorm, weight="ones", bias="zeros"),
    ]
)


def net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))


def reference() -> dict[str, torch.Tensor]:
    """The same policy and seed, outside Lightning."""
    model = net()
    ti.init_model(model, POLICY, seed=SEED)
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def values(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def assert_same(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert got.keys() == expected.keys()
    for name, value in got.items():
        assert torch.equal(value, expected[name]), name


class Classifier(lightning.LightningModule):
    """The pattern of the guide: the model is built, and initialized, in ``configure_model``."""

    def __init__(self, on_meta: bool) -> None:
        super().__init__()
        self.on_meta = on_meta
        self.model: nn.Module | None = None
        self.at_fit_start: dict[str, torch.Tensor] = {}

    def configure_model(self) -> None:
        if self.model is not None:  # called again by each fit/validate/test: keep the weights
            return
        if self.on_meta:
            with torch.device("meta"):
                self.model = net()
            device = self.trainer.strategy.root_device
            ti.init_model(self.model, POLICY, device=device, seed=SEED)
        else:
            self.model = net()
            ti.init_model(self.model, POLICY, seed=SEED)

    def on_fit_start(self) -> None:
        # after the strategy's setup and before the first step: what training starts from
        assert self.model is not None
        self.at_fit_start = values(self.model)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        assert self.model is not None
        inputs, labels = batch
        return nn.functional.cross_entropy(self.model(inputs), labels)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.training_step(batch, batch_idx)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader() -> DataLoader[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(8, 4, generator=generator), torch.arange(8) % 2)
    return DataLoader(data, batch_size=4)


def trainer() -> Any:
    return lightning.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


@pytest.mark.parametrize("on_meta", [True, False], ids=["meta", "direct"])
def test_configure_model_starts_training_from_the_policy(on_meta: bool) -> None:
    module = Classifier(on_meta)
    trainer().fit(module, loader())
    assert_same(module.at_fit_start, reference())
    assert module.model is not None
    assert not torch.equal(module.model[0].weight, module.at_fit_start["0.weight"])  # trained


def test_configure_model_called_again_keeps_the_trained_weights() -> None:
    module = Classifier(on_meta=True)
    run = trainer()
    run.fit(module, loader())
    assert module.model is not None
    trained = values(module.model)
    run.validate(module, loader(), verbose=False)
    assert_same(values(module.model), trained)


def test_fabric_empty_init_then_init_model_gives_the_same_values() -> None:
    fabric = lightning.Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = net()  # uninitialized memory: Lightning skips torch.nn.init's calls
    report = ti.init_model(model, POLICY, device=fabric.device, seed=SEED)
    assert report.unmatched == []  # every parameter is set: none keeps the garbage
    model = fabric.setup(model)
    assert_same(values(model.module), reference())


def test_inside_fabric_empty_init_init_model_refuses_to_run() -> None:
    """Why the guide says to call ``init_model`` after the block: inside it, Lightning makes
    ``torch.nn.init``'s functions no-ops, and strategies fill through them (here
    ``torch_default``: ``Linear.reset_parameters`` calls ``torch.nn.init.kaiming_uniform_``),
    so ``init_model`` raises instead of reporting tensors it could not set."""
    fabric = lightning.Fabric(accelerator="cpu", devices=1)
    with fabric.init_module(empty_init=True):
        model = nn.Linear(3, 4)
        with torch.no_grad():
            model.weight.fill_(3.0)
        with pytest.raises(ti.PlanError, match=r"^init_model: torch.nn.init's functions are "):
            ti.init_model(model, "torch_default", seed=SEED)
        assert ti.plan(model, "torch_default").unmatched == []  # planning touches nothing
    assert bool((model.weight == 3.0).all())
    ti.init_model(model, "torch_default", seed=SEED)
    assert not bool((model.weight == 3.0).any())

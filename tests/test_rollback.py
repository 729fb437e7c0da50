"""torchinit.engine.rollback: a failure while init_model writes leaves the model and RNG as
they were (or, with rollback=False, the note lists what was written)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations

import torchinit as ti
from torchinit import seeding
from torchinit.engine import rollback


class BoomError(RuntimeError):
    pass


def failing_on(call: int, error: type[BaseException] = BoomError) -> Callable[[torch.Tensor], None]:
    """A strategy function that draws, and raises on its ``call``-th tensor after drawing."""
    calls = [0]

    def draw(tensor: torch.Tensor) -> None:
        calls[0] += 1
        tensor.normal_()
        if calls[0] == call:
            raise error("strategy failed")

    return draw


def small_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 4),
        nn.BatchNorm1d(4),
        parametrizations.spectral_norm(nn.Linear(4, 4)),
        nn.Linear(4, 4),
        nn.Linear(4, 4),
    )
    model[1].running_mean.fill_(5.0)  # a torch_default reset would zero it
    model[4].weight = model[3].weight  # tied
    return model


def copy_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def assert_unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert after.keys() == before.keys()
    changed = [name for name, tensor in before.items() if not torch.equal(after[name], tensor)]
    assert changed == []


class RaisingReset(nn.Linear):
    """A layer whose reset_parameters writes its weight, then raises."""

    def reset_parameters(self) -> None:
        if hasattr(self, "armed"):
            nn.init.normal_(self.weight)
            raise BoomError("reset failed")
        super().reset_parameters()


def in_order_policy(fail_on: int, error: type[BaseException] = BoomError) -> ti.Policy:
    # weights 0, 2 (spectral norm), 3 (tied with 4): the third is the tied Linear's
    return ti.Policy(
        [
            ti.Rule(nn.Linear, weight=failing_on(fail_on, error), bias="zeros"),
            ti.Rule(nn.BatchNorm1d, weight="torch_default", bias="torch_default"),
        ]
    )


RESTORED = (
    "torchinit: init_model failed part-way and rolled back: the model's tensors and torch's "
    "random state are as they were before the call"
)


@pytest.mark.parametrize(
    "case",
    ["global_rng", "generator", "keyboard_interrupt", "reset_raises"],
)
def test_a_failure_in_order_restores_the_model_and_the_rng(case: str) -> None:
    model = small_model()
    generator = torch.Generator().manual_seed(7) if case == "generator" else None
    error: type[BaseException] = KeyboardInterrupt if case == "keyboard_interrupt" else BoomError
    policy = in_order_policy(3, error)
    if case == "reset_raises":
        model[3] = RaisingReset(4, 4)
        model[3].armed = True
        policy = ti.Policy([*policy.rules, ti.Rule(RaisingReset, weight="torch_default")])
    before = copy_of(model)
    global_state = torch.get_rng_state()
    generator_state = None if generator is None else generator.get_state()
    with pytest.raises(error) as raised:
        ti.init_model(model, policy, generator=generator)
    assert raised.value.__notes__[-1] == RESTORED
    assert_unchanged(model, before)
    assert torch.equal(torch.get_rng_state(), global_state)
    if generator is not None:
        assert torch.equal(generator.get_state(), generator_state)


def test_a_failure_after_a_layer_reset_restores_its_buffers() -> None:
    model = small_model()
    before = copy_of(model)
    with pytest.raises(BoomError):
        ti.init_model(model, in_order_policy(3))
    assert float(model[1].running_mean[0]) == 5.0
    assert_unchanged(model, before)


def test_the_tensors_restored_are_the_same_objects() -> None:
    model = small_model()
    parameters = list(model.parameters())
    with pytest.raises(BoomError):
        ti.init_model(model, in_order_policy(3))
    assert all(a is b for a, b in zip(model.parameters(), parameters, strict=True))
    assert model[4].weight is model[3].weight


@pytest.fixture
def failing_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the keyed draw of chunk 1 of every tensor of more than one chunk raise."""
    draw = seeding._draw
    lock = threading.Lock()
    seen = [0]

    def second_chunk_fails(law: Any, out: torch.Tensor, generator: Any) -> None:
        draw(law, out, generator)
        if out.numel() == seeding.CHUNK_ELEMENTS:
            with lock:
                seen[0] += 1
                if seen[0] == 2:
                    raise BoomError("chunk failed")

    monkeypatch.setattr(seeding, "_draw", second_chunk_fails)


def big_model() -> nn.Module:
    torch.manual_seed(0)
    # 3 chunks in the first weight: the others are drawn while one fails
    return nn.Sequential(nn.Linear(1024, 3 * 1024), nn.BatchNorm1d(3 * 1024), nn.Linear(8, 8))


@pytest.mark.usefixtures("failing_chunk")
def test_a_failing_keyed_chunk_restores_the_model() -> None:
    model = big_model()
    model[1].running_var.fill_(3.0)
    before = copy_of(model)
    global_state = torch.get_rng_state()
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02), bias="torch_default"),
            ti.Rule(nn.BatchNorm1d, weight="torch_default", bias="zeros"),
        ]
    )
    with pytest.raises(BoomError) as raised:
        ti.init_model(model, policy, seed=0)
    assert raised.value.__notes__[-1] == RESTORED
    assert_unchanged(model, before)
    assert torch.equal(torch.get_rng_state(), global_state)


def test_a_failing_keyed_call_leaves_what_other_threads_drew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # keyed init never draws from the global generator: rolling it back would undo the draws
    # another thread made while init_model ran
    model = big_model()
    before = copy_of(model)
    draw = seeding._draw
    lock = threading.Lock()
    failed = []

    def another_thread_draws_then_fail(law: Any, out: torch.Tensor, generator: Any) -> None:
        draw(law, out, generator)
        with lock:
            if failed:
                return
            failed.append(True)
            worker = threading.Thread(target=torch.randn, args=(5,))
            worker.start()
            worker.join()
            raise BoomError("chunk failed")

    monkeypatch.setattr(seeding, "_draw", another_thread_draws_then_fail)
    torch.manual_seed(1)
    with pytest.raises(BoomError):
        ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal())]), seed=0)
    after_failure = torch.get_rng_state()
    torch.manual_seed(1)
    torch.randn(5)
    assert torch.equal(after_failure, torch.get_rng_state())
    assert_unchanged(model, before)


@pytest.mark.usefixtures("failing_chunk")
def test_a_failing_keyed_chunk_without_rollback_names_the_tensors_written() -> None:
    model = big_model()
    policy = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02), bias="torch_default")])
    with pytest.raises(BoomError) as raised:
        ti.init_model(model, policy, seed=0, rollback=False)
    assert raised.value.__notes__[-1] == (
        "torchinit: init_model(rollback=False) failed part-way: the model is partly "
        "initialized (tensors written: 0.bias, 2.bias; possibly partly written: 0.weight, "
        "2.weight); torch's random state was not restored"
    )


@pytest.mark.parametrize("keyed", [False, True])
@pytest.mark.parametrize("rollback", [True, False])
def test_a_failing_meta_model_goes_back_to_the_meta_device(keyed: bool, rollback: bool) -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 4))
    model[2].weight = model[0].weight
    tensors = [*model.parameters(), *model.buffers()]
    global_state = torch.get_rng_state()
    # 0.weight, then 2.bias (its layer's default init, drawn from the global RNG in order)
    policy = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(), bias=failing_on(2))])
    with pytest.raises(BoomError) as raised:
        ti.init_model(model, policy, device="cpu", seed=0 if keyed else None, rollback=rollback)
    assert raised.value.__notes__[-1] == (
        "torchinit: init_model failed part-way and rolled back: the model is back on the meta "
        "device and torch's random state as it was before the call"
    )
    assert all(
        a is b for a, b in zip([*model.parameters(), *model.buffers()], tensors, strict=True)
    )
    assert all(tensor.is_meta for tensor in tensors)
    assert model[2].weight is model[0].weight
    assert torch.equal(torch.get_rng_state(), global_state)


def test_without_rollback_the_note_lists_the_tensors_written_in_order() -> None:
    model = small_model()
    with pytest.raises(BoomError) as raised:
        ti.init_model(model, in_order_policy(3), rollback=False)
    first, *notes = raised.value.__notes__
    assert first.startswith(
        "torchinit: while initializing '3.weight' with failing_on.<locals>.draw"
    )
    assert notes == [
        "torchinit: init_model(rollback=False) failed part-way: the model is partly "
        "initialized (tensors written: 0.weight, 0.bias, 1.weight, 1.bias, 1.running_mean, "
        "1.running_var, 1.num_batches_tracked, 2.weight, 2.bias; possibly partly written: "
        "3.weight); torch's random state was not restored",
    ]
    assert float(model[1].running_mean[0]) == 0.0  # reset, and left so


def test_without_rollback_a_long_list_is_given_whole() -> None:
    model = nn.Sequential(*(nn.Linear(2, 2, bias=False) for _ in range(12)))
    policy = ti.Policy([ti.Rule(nn.Linear, weight=failing_on(12))])
    with pytest.raises(BoomError) as raised:
        ti.init_model(model, policy, rollback=False)
    written = ", ".join(f"{i}.weight" for i in range(11))
    assert (
        f"(tensors written: {written}; possibly partly written: 11.weight)"
        in (raised.value.__notes__[-1])
    )


def test_a_failure_before_anything_is_written_without_rollback() -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    policy = ti.Policy([ti.Rule(nn.Linear, weight=failing_on(1, KeyboardInterrupt))])
    with pytest.raises(KeyboardInterrupt) as raised:
        ti.init_model(model, policy, rollback=False)
    note = raised.value.__notes__[-1]
    assert "(tensors written: none; possibly partly written: 0.weight)" in note


DRAWING = ti.Policy(
    [
        ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02), bias="torch_default"),
        ti.Rule(nn.BatchNorm1d, weight="torch_default"),
    ]
)


@pytest.mark.parametrize("seed", [None, 3])
def test_rollback_does_not_change_any_value(seed: int | None) -> None:
    results = []
    for rollback_on in (True, False):
        model = small_model()
        torch.manual_seed(1)
        ti.init_model(model, DRAWING, seed=seed, rollback=rollback_on)
        results.append((copy_of(model), torch.get_rng_state()))
    (with_copy, state), (without, state_without) = results
    assert with_copy.keys() == without.keys()
    assert all(torch.equal(with_copy[name], without[name]) for name in with_copy)
    assert torch.equal(state, state_without)


def test_a_big_copy_warns_at_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollback, "WARN_BYTES", 100)
    model = nn.Sequential(nn.Linear(8, 8))
    with pytest.warns(ti.TorchInitWarning) as caught:
        ti.init_model(model, "torch_default")
    assert [str(w.message) for w in caught] == [
        "init_model: rollback: copies 288 bytes of tensors before writing, so that a failure "
        "can restore them (rollback=False skips the copy)"
    ]
    assert caught[0].filename == __file__
    with warnings.catch_warnings(record=True) as none:
        warnings.simplefilter("always")
        ti.init_model(model, "torch_default", rollback=False)
        ti.init_model(model, "torch_default", seed=0, rollback=False)
    assert none == []


def test_rollback_must_be_a_boolean() -> None:
    with pytest.raises(ti.ArgumentTypeError) as raised:
        ti.init_model(nn.Linear(2, 2), "torch_default", rollback="no")  # type: ignore[arg-type]
    assert str(raised.value) == "rollback: must be true or false (got 'no')"


def test_a_failure_after_a_checkpoint_was_read_restores_what_it_read(tmp_path: Any) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    torch.save({"0.weight": torch.ones(4, 4), "0.bias": torch.ones(4)}, tmp_path / "w.pt")
    before = copy_of(model)
    policy = ti.Policy(
        [
            ti.Rule(param="0.*", init=ti.Checkpoint(tmp_path / "w.pt")),
            ti.Rule(param="1.weight", init=failing_on(1)),
        ]
    )
    with pytest.raises(BoomError) as raised:
        ti.init_model(model, policy)
    assert raised.value.__notes__[-1] == RESTORED
    assert_unchanged(model, before)


@pytest.mark.usefixtures("failing_chunk")
def test_a_failing_keyed_chunk_restores_what_a_checkpoint_set(tmp_path: Any) -> None:
    model = big_model()
    torch.save({"2.weight": torch.ones(8, 8), "2.bias": torch.ones(8)}, tmp_path / "w.pt")
    before = copy_of(model)
    policy = ti.Policy(
        [
            ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02), bias="zeros"),
            ti.Rule(param="2.*", init=ti.Checkpoint(tmp_path / "w.pt")),
        ]
    )
    with pytest.raises(BoomError) as raised:
        ti.init_model(model, policy, seed=0, exclude="1.*")
    assert raised.value.__notes__[-1] == RESTORED
    assert_unchanged(model, before)

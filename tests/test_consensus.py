"""torchinit.engine.consensus: the seed check across the ranks of a sharded model.

The two-rank tests spawn two real processes (gloo on the loopback interface, one CPU mesh of
two ranks) once per module; each runs every case and saves what ``init_model`` raised. The
one-rank tests run a gloo group of one rank in this process, on an in-memory store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from gloo_ranks import gloo_group, two_rank_results
from torch import nn

import torchinit as ti
from torchinit.engine import consensus

dist = pytest.importorskip("torch.distributed", reason="torch is built without distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with the gloo backend is unavailable", allow_module_level=True)

from torch.distributed.device_mesh import init_device_mesh  # noqa: E402
from torch.distributed.fsdp import fully_shard  # noqa: E402

SEED = 2026
POLICY = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.02), bias="zeros")])
OTHER_POLICY = ti.Policy([ti.Rule(nn.Linear, weight=ti.Normal(0.0, 0.03), bias="zeros")])
BROKEN_POLICY = ti.Policy([ti.Rule(nn.Linear, nosuch=ti.Normal(0.0, 1.0))])
BROKEN = (
    "rules[0].nosuch: layer '0' (Linear) has no parameter 'nosuch'; its parameters are "
    "['weight', 'bias']"
)
SAME = (
    "every rank must call init_model with the same policy, options, seed and torchinit "
    "version; nothing was initialized"
)


def sharded(mesh: Any) -> nn.Sequential:
    """Built on meta and sharded by FSDP2: init_model materializes it (device="cpu")."""
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3))
    fully_shard(model, mesh=mesh)
    return model


def attempt(model: nn.Module, policy: ti.Policy, seed: int) -> str:
    try:
        ti.init_model(model, policy, device="cpu", seed=seed)
    except ti.PlanError as error:
        return str(error)
    return "no error"


def two_ranks(rank: int, port: int, out: str) -> None:
    """One rank of the two-process run: rank 1 differs from rank 0 in each case but the first."""
    with gloo_group(rank, 2, port):
        mesh = init_device_mesh("cpu", (2,))
        # checked over each of its dimensions in turn
        hsdp = init_device_mesh("cpu", (1, 2), mesh_dim_names=("replicate", "shard"))
        second = rank == 1
        result = {
            "torchinit": ti.__file__,
            "same": attempt(sharded(mesh), POLICY, SEED),
            "seed": attempt(sharded(mesh), POLICY, SEED + second),
            "broken": attempt(sharded(mesh), BROKEN_POLICY if second else POLICY, SEED),
            "policy": attempt(sharded(mesh), OTHER_POLICY if second else POLICY, SEED),
            "hsdp_same": attempt(sharded(hsdp), POLICY, SEED),
            "hsdp_seed": attempt(sharded(hsdp), POLICY, SEED + second),
        }
        torch.save(result, Path(out) / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return two_rank_results(two_ranks, tmp_path_factory.mktemp("ranks"))


@pytest.mark.slow
def test_ranks_that_agree_pass(ranks: list[dict[str, Any]]) -> None:
    for result in ranks:
        assert result["torchinit"] == ti.__file__  # the code under test, not an installed copy
        assert result["same"] == "no error"
        assert result["hsdp_same"] == "no error"


@pytest.mark.slow
def test_a_different_seed_fails_on_every_rank(ranks: list[dict[str, Any]]) -> None:
    expected = (
        f"seed check: seed: differs across ranks: {SAME} (got {{'rank 0': 2026, 'rank 1': 2027}})"
    )
    assert [result["seed"] for result in ranks] == [expected, expected]
    assert [result["hsdp_seed"] for result in ranks] == [expected, expected]


@pytest.mark.slow
def test_a_rank_whose_planning_fails_is_named_by_the_others(ranks: list[dict[str, Any]]) -> None:
    assert ranks[0]["broken"] == (
        "seed check: planning failed on rank 1 (the error there says why); nothing was initialized"
    )
    assert ranks[1]["broken"] == BROKEN


@pytest.mark.slow
def test_a_different_policy_fails_on_every_rank(ranks: list[dict[str, Any]]) -> None:
    # what each rank sent: the digest of its plan, the same as on one process
    digests = [plan_digest(policy)[:12] for policy in (POLICY, OTHER_POLICY)]
    expected = (
        f"seed check: policy: differs across ranks: {SAME} "
        f"(got {{'rank 0': '{digests[0]}', 'rank 1': '{digests[1]}'}})"
    )
    assert [result["policy"] for result in ranks] == [expected, expected]


def prepared(model: nn.Module, policy: ti.Policy, order: str | None = None) -> Any:
    """The plan and keyed seeding ``init_model(model, policy, seed=SEED)`` works from."""
    from torchinit.engine.api import _prepare

    return _prepare(
        model,
        policy,
        {},
        generator=None,
        order=order,
        skip_frozen=False,
        include=None,
        exclude=None,
        strict=False,
        seed=SEED,
        scheme_version=None,
        device=None,
        planning=False,
    )[:2]


def plan_digest(policy: ti.Policy) -> str:
    """The digest of ``policy``'s plan on the test model, in hex."""
    model = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3))
    return consensus.plan_digest(*prepared(model, policy)).hex()


# --------------------------------------------------------------------------- one rank


@pytest.fixture(scope="module")
def mesh() -> Iterator[Any]:
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


def refuse_collectives(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a collective was made")

    monkeypatch.setattr(dist, "all_gather", refuse)


def test_a_model_without_dtensors_makes_no_collective(
    mesh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dist.is_initialized()
    refuse_collectives(monkeypatch)
    model = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3))
    ti.init_model(model, POLICY, seed=SEED)
    with torch.device("meta"):
        on_meta = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3))
    ti.init_model(on_meta, POLICY, device="cpu", seed=SEED)
    assert torch.equal(on_meta[0].weight, model[0].weight)


def test_plan_makes_no_collective(mesh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model = sharded(mesh)
    refuse_collectives(monkeypatch)
    assert ti.plan(model, POLICY, seed=SEED)["0.weight"].shape == (6, 4)


def test_a_sharded_model_makes_one_collective(mesh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    gather = dist.all_gather

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["group"])
        return gather(*args, **kwargs)

    monkeypatch.setattr(dist, "all_gather", counted)
    model = sharded(mesh)
    ti.init_model(model, POLICY, device="cpu", seed=SEED)
    assert calls == [mesh.get_group()]
    reference = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3))
    ti.init_model(reference, POLICY, seed=SEED)
    assert torch.equal(model[0].weight.full_tensor(), reference[0].weight)


class Late:
    """A collective that never completes in time."""

    def wait(self, timeout: Any) -> None:
        raise RuntimeError(f"Operation timed out after {timeout}")


def test_a_rank_that_does_not_answer_in_time_fails_the_check(
    mesh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    waited = []

    def late(*args: Any, **kwargs: Any) -> Late:
        waited.append(kwargs["async_op"])
        return Late()

    monkeypatch.setattr(dist, "all_gather", late)
    model = sharded(mesh)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY, device="cpu", seed=SEED, seed_check_timeout=2.5)
    assert str(caught.value) == (
        "seed check: seed_check_timeout: not every rank of the device mesh answered within the "
        "timeout (does every rank call init_model on this model?); nothing was initialized "
        "(got 2.5)"
    )
    assert str(caught.value.__cause__) == "Operation timed out after 0:00:02.500000"
    assert waited == [True]
    assert all(p.is_meta for p in model.parameters())


def test_the_rank_whose_planning_fails_takes_part_then_raises_its_own_error(
    mesh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = []
    gather = dist.all_gather

    def recorded(parts: list[torch.Tensor], record: torch.Tensor, **kwargs: Any) -> Any:
        sent.append(record.clone())
        return gather(parts, record, **kwargs)

    monkeypatch.setattr(dist, "all_gather", recorded)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(sharded(mesh), BROKEN_POLICY, device="cpu", seed=SEED)
    assert str(caught.value) == BROKEN
    assert len(sent) == 1
    assert consensus._decode(sent[0])["failed"]


def test_the_timeout_must_be_positive() -> None:
    with pytest.raises(ti.InvalidArgumentError) as caught:
        ti.init_model(nn.Linear(2, 2), POLICY, seed_check_timeout=0)
    assert str(caught.value) == "seed_check_timeout: must be > 0 (got 0)"


def test_the_plan_digest_follows_the_policy_not_the_order() -> None:
    assert plan_digest(POLICY) != plan_digest(OTHER_POLICY)
    # its own parameters, then its child's (modules) or the child's first (apply)
    model = nn.MultiheadAttention(4, 2)
    plans = [prepared(model, POLICY, order) for order in ("modules", "apply")]
    assert [[row[0] for row in built.report_rows] for built, _ in plans] == [
        [["in_proj_weight"], ["in_proj_bias"], ["out_proj.weight"], ["out_proj.bias"]],
        [["out_proj.weight"], ["out_proj.bias"], ["in_proj_weight"], ["in_proj_bias"]],
    ]
    assert consensus.plan_digest(*plans[0]) == consensus.plan_digest(*plans[1])

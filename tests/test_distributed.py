"""torchinit.distributed: keyed init of FSDP2/DTensor parameters equals the unsharded init.

The two-rank tests spawn two real processes (gloo on the loopback interface, one CPU mesh of
two ranks) once per module and compare, here, each parameter's ``full_tensor()`` with an
unsharded twin initialized in this process. The one-rank tests run a gloo group of one rank in
this process, on an in-memory store.
"""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import torchinit as ti

dist = pytest.importorskip("torch.distributed", reason="torch is built without distributed")
if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with the gloo backend is unavailable", allow_module_level=True)

from torch.distributed.device_mesh import init_device_mesh  # noqa: E402
from torch.distributed.fsdp import fully_shard  # noqa: E402
from torch.distributed.tensor import (  # noqa: E402
    DTensor,
    Partial,
    Replicate,
    Shard,
    distribute_tensor,
)
from torch.distributed.tensor.placement_types import _StridedShard  # noqa: E402

SEED = 2026
POLICY = ti.Policy(
    [
        ti.Rule(
            nn.Linear,
            weight=ti.TruncNormal(std=0.02, a=-0.04, b=0.04),
            bias=ti.Uniform(-1.0, 1.0),
        ),
        # the tests' smaller models lack some of these layers
        ti.Rule(
            nn.Linear,
            name="even",
            weight=ti.Normal(0.0, 1.0),
            bias=ti.Constant(0.5),
            optional=True,
        ),
        ti.Rule(nn.Linear, name="ortho", weight=ti.Orthogonal(), optional=True),
        ti.Rule(nn.Embedding, weight=ti.PaddedNormal(0.0, 1.0, padding_idx=3), optional=True),
    ]
)
UNSUPPORTED = (
    "unsupported.weight: rules[0].weight: keyed init supports the DTensor placements Shard, "
    "_StridedShard and Replicate only, not Partial(sum) (got (Partial(sum),))"
)


def sharded_net() -> nn.Sequential:
    """Every case FSDP2 shards over two ranks (rows: rank 0 gets the first ceil(n / 2))."""
    layers: collections.OrderedDict[str, nn.Module] = collections.OrderedDict()
    layers["uneven"] = nn.Linear(7, 5)  # 3 + 2 rows
    layers["single"] = nn.Linear(5, 1)  # rank 1 has no rows
    layers["even"] = nn.Linear(3, 4)  # 2 + 2 rows; normal and constant
    layers["embed"] = nn.Embedding(5, 4, padding_idx=3)  # the padding row is on rank 1
    layers["ortho"] = nn.Linear(4, 7)  # no law: drawn whole, 4 + 3 rows kept
    # 1.1M weights, two chunks; rank 1's rows start at element 550,000, inside chunk 0
    layers["big"] = nn.Linear(1100, 1000)
    return nn.Sequential(layers)


def replicated_net(mesh: Any, row_mesh: Any) -> nn.Sequential:
    """A replicated weight, and rows sharded over the second dimension of a 2-D mesh."""
    model = nn.Sequential(collections.OrderedDict(rep=nn.Linear(3, 5), hsdp=nn.Linear(9, 5)))
    with torch.no_grad():
        model.rep.weight = nn.Parameter(distribute_tensor(model.rep.weight, mesh, [Replicate()]))
        model.hsdp.weight = nn.Parameter(
            distribute_tensor(model.hsdp.weight, row_mesh, [Replicate(), Shard(0)])
        )
    return model


def unsupported_net(mesh: Any) -> nn.Sequential:
    """A supported parameter first, then a partial sum."""
    model = nn.Sequential(
        collections.OrderedDict(first=nn.Linear(4, 6), unsupported=nn.Linear(4, 6))
    )
    with torch.no_grad():
        model.first.weight = nn.Parameter(distribute_tensor(model.first.weight, mesh, [Shard(0)]))
        model.unsupported.weight = nn.Parameter(
            DTensor.from_local(model.unsupported.weight.detach().clone(), mesh, [Partial()])
        )
    return model


def full(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter's global value (a collective: every rank calls it)."""
    return {
        name: (p.full_tensor() if isinstance(p, DTensor) else p).detach().clone()
        for name, p in model.named_parameters()
    }


def local(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        name: (p.to_local() if isinstance(p, DTensor) else p).detach().clone()
        for name, p in model.named_parameters()
    }


def two_ranks(rank: int, port: int, out: str) -> None:
    """One rank of the two-process run: every case, results saved by rank 0."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)  # two ranks on two cores
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        mesh = init_device_mesh("cpu", (2,))
        row_mesh = init_device_mesh("cpu", (1, 2))
        torch.manual_seed(rank)  # different garbage on each rank: keyed init must not care

        model = sharded_net()
        for layer in model:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        parameters = [id(p) for p in model.parameters()]
        shard_rows = {name: p.to_local().shape[0] for name, p in model.named_parameters()}
        ti.init_model(model, POLICY, seed=SEED)
        same_parameters = parameters == [id(p) for p in model.parameters()]
        sharded = full(model)

        replicated = replicated_net(mesh, row_mesh)
        ti.init_model(replicated, POLICY, seed=SEED)
        replicated_local = local(replicated)

        refused = unsupported_net(mesh)
        before = local(refused)
        try:
            ti.init_model(refused, POLICY, seed=SEED)
            message = "no error"
        except ti.PlanError as error:
            message = str(error)
        unchanged = all(torch.equal(before[k], v) for k, v in local(refused).items())

        result = {
            "torchinit": ti.__file__,
            "sharded": sharded,
            "shard_rows": shard_rows,
            "same_parameters": same_parameters,
            "replicated_local": replicated_local,
            "message": message,
            "unchanged": unchanged,
        }
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("ranks")
    torch.multiprocessing.start_processes(
        two_ranks, args=(free_port(), str(out)), nprocs=2, start_method="spawn"
    )
    return [torch.load(out / f"rank{rank}.pt", weights_only=False) for rank in range(2)]


@pytest.mark.slow
def test_fsdp2_shards_hold_the_unsharded_values(ranks: list[dict[str, Any]]) -> None:
    reference = sharded_net()
    ti.init_model(reference, POLICY, seed=SEED)
    expected = dict(reference.named_parameters())
    for result in ranks:
        assert result["torchinit"] == ti.__file__  # the code under test, not an installed copy
        assert result["sharded"].keys() == expected.keys()
        for name, value in result["sharded"].items():
            assert torch.equal(value, expected[name]), name
        assert result["same_parameters"]
    assert torch.equal(expected["embed.weight"][3], torch.zeros(4))


@pytest.mark.slow
def test_the_two_ranks_cover_every_kind_of_shard(ranks: list[dict[str, Any]]) -> None:
    """The cases above happen: uneven and empty shards, a boundary inside a chunk."""
    rows = [result["shard_rows"] for result in ranks]
    assert (rows[0]["uneven.weight"], rows[1]["uneven.weight"]) == (3, 2)
    assert (rows[0]["single.weight"], rows[1]["single.weight"]) == (1, 0)
    assert (rows[0]["ortho.weight"], rows[1]["ortho.weight"]) == (4, 3)
    assert rows[0]["embed.weight"] == 3
    boundary = rows[0]["big.weight"] * 1100
    assert 0 < boundary < ti.seeding.CHUNK_ELEMENTS < 1000 * 1100


@pytest.mark.slow
def test_replicated_and_2d_mesh_parameters_hold_the_unsharded_values(
    ranks: list[dict[str, Any]],
) -> None:
    reference = nn.Sequential(collections.OrderedDict(rep=nn.Linear(3, 5), hsdp=nn.Linear(9, 5)))
    ti.init_model(reference, POLICY, seed=SEED)
    assert torch.equal(ranks[0]["replicated_local"]["rep.weight"], reference.rep.weight)
    assert torch.equal(ranks[1]["replicated_local"]["rep.weight"], reference.rep.weight)
    hsdp = torch.cat([result["replicated_local"]["hsdp.weight"] for result in ranks])
    assert torch.equal(hsdp, reference.hsdp.weight)


@pytest.mark.slow
def test_an_unsupported_placement_is_refused_before_anything_is_touched(
    ranks: list[dict[str, Any]],
) -> None:
    for result in ranks:
        assert result["message"] == UNSUPPORTED
        assert result["unchanged"]


# --------------------------------------------------------------------------- one rank


@pytest.fixture(scope="module")
def mesh() -> Iterator[Any]:
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


def one_rank_net(mesh: Any, placement: Any) -> nn.Sequential:
    model = nn.Sequential(
        collections.OrderedDict(first=nn.Linear(4, 6), unsupported=nn.Linear(4, 6))
    )
    with torch.no_grad():
        model.first.weight = nn.Parameter(distribute_tensor(model.first.weight, mesh, [Shard(0)]))
        model.unsupported.weight = nn.Parameter(
            DTensor.from_local(model.unsupported.weight.detach().clone(), mesh, [placement])
        )
    return model


def test_one_rank_fsdp2_gets_the_unsharded_values(mesh: Any) -> None:
    model = sharded_net()
    fully_shard(model, mesh=mesh)
    ti.init_model(model, POLICY, seed=SEED)
    reference = sharded_net()
    ti.init_model(reference, POLICY, seed=SEED)
    for name, value in full(model).items():
        assert torch.equal(value, dict(reference.named_parameters())[name]), name


def test_fsdp2_built_on_the_meta_device_gets_the_unsharded_values(mesh: Any) -> None:
    with torch.device("meta"):
        model = sharded_net()
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    ti.init_model(model, POLICY, seed=SEED)
    reference = sharded_net()
    ti.init_model(reference, POLICY, seed=SEED)
    for name, value in full(model).items():
        assert torch.equal(value, dict(reference.named_parameters())[name]), name


def test_fsdp2_on_meta_materialized_by_init_model_gets_the_unsharded_values(mesh: Any) -> None:
    """torchtitan's flow in one call: meta, fully_shard, init_model(device=..., seed=...)."""
    with torch.device("meta"):
        model = sharded_net()
    fully_shard(model, mesh=mesh)
    ti.init_model(model, POLICY, device="cpu", seed=SEED)
    reference = sharded_net()
    ti.init_model(reference, POLICY, seed=SEED)
    for name, value in full(model).items():
        assert torch.equal(value, dict(reference.named_parameters())[name]), name


def test_fsdp2_on_meta_with_parameters_no_rule_sets_is_refused(mesh: Any) -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    fully_shard(model, mesh=mesh)
    linear_only = ti.Policy([ti.Rule(nn.Linear, weight="zeros", bias="zeros")])
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, linear_only, device="cpu", seed=SEED)
    assert str(caught.value) == (
        "device: parameters ['1.weight (no rule matched)', '1.bias (no rule matched)'] are "
        "sharded (DTensor) on the meta device and no rule sets them; a layer's default init "
        "cannot be drawn shard by shard: add rules for them"
    )
    assert all(p.is_meta for p in model.parameters())


def test_a_non_contiguous_local_shard_gets_the_unsharded_values(mesh: Any) -> None:
    model = nn.Linear(6, 4)
    transposed = torch.zeros(6, 4).t()
    model.weight = nn.Parameter(DTensor.from_local(transposed, mesh, [Replicate()]))
    assert not model.weight.to_local().is_contiguous()
    ti.init_model(model, POLICY, seed=SEED)
    reference = nn.Linear(6, 4)
    ti.init_model(reference, POLICY, seed=SEED)
    assert torch.equal(model.weight.to_local(), reference.weight)
    assert model.weight.to_local().data_ptr() == transposed.data_ptr()


@pytest.mark.parametrize(
    ("placement", "shown"),
    [(Partial(), "Partial(sum)"), (Partial("max"), "Partial(max)")],
)
def test_each_unsupported_placement_is_refused(mesh: Any, placement: Any, shown: str) -> None:
    model = one_rank_net(mesh, placement)
    before = local(model)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "unsupported.weight: rules[0].weight: keyed init supports the DTensor placements "
        f"Shard, _StridedShard and Replicate only, not {shown} (got ({shown},))"
    )
    assert all(torch.equal(before[k], v) for k, v in local(model).items())


def test_without_seed_a_dtensor_parameter_is_refused(mesh: Any) -> None:
    model = one_rank_net(mesh, Replicate())
    before = local(model)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY)
    assert str(caught.value) == (
        "first.weight: rules[0].weight: a DTensor (FSDP2) parameter needs keyed seeding: pass "
        "seed= (torch's random ops on DTensors follow the global tensor only on CUDA-like "
        "meshes, and some strategies do not run on DTensors) (got (Shard(dim=0),))"
    )
    assert all(torch.equal(before[k], v) for k, v in local(model).items())


def test_torch_default_on_a_dtensor_parameter_is_refused(mesh: Any) -> None:
    model = one_rank_net(mesh, Replicate())
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, ti.Policy([ti.Rule(nn.Linear, weight=ti.TorchDefault())]), seed=0)
    assert str(caught.value) == (
        "first.weight: rules[0].weight: torch_default resets the layer through torch's DTensor "
        "random ops, which do not give the unsharded values; use a tensor strategy "
        "(got (Shard(dim=0),))"
    )


class Twice(nn.Module):
    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return 2 * weight

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / 2


def test_a_parametrized_dtensor_is_refused(mesh: Any) -> None:
    model = one_rank_net(mesh, Replicate())
    nn.utils.parametrize.register_parametrization(model.first, "weight", Twice())
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "first.weight: rules[0].weight: a parametrized tensor whose value is a DTensor cannot "
        "be initialized (got (Shard(dim=0),))"
    )


def test_a_local_shard_that_disagrees_with_the_placements_is_refused(mesh: Any) -> None:
    model = nn.Linear(4, 6)
    # six local rows, but a global shape of five: no split of five rows gives six
    wrong = DTensor.from_local(torch.zeros(6, 4), mesh, [Shard(0)], shape=(5, 4), stride=(4, 1))
    model.weight = nn.Parameter(wrong)
    with pytest.raises(ti.PlanError) as caught:
        ti.init_model(model, POLICY, seed=SEED)
    assert str(caught.value) == (
        "weight: rules[0].weight: DTensor's split of the placements gives a shard of shape "
        "(5, 4), but the local shard has shape (6, 4) (got (Shard(dim=0),))"
    )
    assert torch.equal(model.weight.to_local(), torch.zeros(6, 4))


@pytest.mark.parametrize(
    ("shape", "mesh_shape", "coordinate", "placements", "expected"),
    [
        # uneven, as torch.chunk: 7 columns are 2 + 2 + 2 + 1, 5 are 2 + 2 + 1 + 0
        ((2, 7), (4,), (3,), [Shard(1)], [[0, 1], [6]]),
        ((2, 5), (4,), (3,), [Shard(1)], [[0, 1], []]),
        # a 2-D block, and two mesh dims splitting one tensor dim left to right
        ((5, 9), (2, 2), (1, 0), [Shard(0), Shard(1)], [[3, 4], [0, 1, 2, 3, 4]]),
        ((9,), (2, 2), (1, 1), [Shard(0), Shard(0)], [[7, 8]]),
        # FSDP2 over TP: the rows of the TP shard a rank holds are two runs
        ((8, 2), (2, 2), (1, 0), [_StridedShard(0, sf=2), Shard(0)], [[2, 3], [0, 1]]),
        ((8, 2), (2, 2), (0, 1), [_StridedShard(0, sf=2), Shard(0)], [[4, 5], [0, 1]]),
        # uneven: TP rank 0 holds rows 0 to 4, FSDP rank 0 the first three of them
        ((9, 1), (2, 2), (0, 0), [_StridedShard(0, sf=2), Shard(0)], [[0, 1, 2], [0]]),
        ((9, 1), (2, 2), (1, 1), [_StridedShard(0, sf=2), Shard(0)], [[7, 8], [0]]),
        ((3, 4), (2,), (1,), [Replicate()], [[0, 1, 2], [0, 1, 2, 3]]),
        ((), (2,), (1,), [Replicate()], []),
    ],
)
def test_local_indices_follow_dtensors_split(
    shape: tuple[int, ...],
    mesh_shape: tuple[int, ...],
    coordinate: tuple[int, ...],
    placements: list[Any],
    expected: list[list[int]],
) -> None:
    held = ti.distributed.local_indices(shape, mesh_shape, coordinate, placements)
    assert [index.tolist() for index in held] == expected


@pytest.mark.slow
def test_importing_torchinit_does_not_import_dtensor() -> None:
    code = "import sys, torchinit; print('torch.distributed.tensor' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"

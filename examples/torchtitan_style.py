"""
torchtitan's flow: meta, FSDP2, to_empty, init_weights
=======================================================

A Llama-style model initialized the way torchtitan does it, with a torchinit policy.

torchtitan builds its models on the meta device, shards them with FSDP2 (``fully_shard``),
allocates them with ``model.to_empty(device=...)`` and then calls
``model.init_weights(buffer_device=...)``. Here ``init_weights`` is one call to
:func:`torchinit.integrations.torchtitan.init_weights`: the rotary table (a buffer) is
recomputed, then every parameter gets torchtitan's Llama init from a policy (depth-scaled
output projections included). Keyed seeding makes the sharded values equal, bit for bit, to
the unsharded model's, on any number of ranks. This runs one rank of a gloo process group on
the CPU; torchtitan itself is not needed.

Run from the repository root (needs nothing beyond torch)::

    python examples/torchtitan_style.py
"""

import math

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from torch.nn import functional

import torchinit
from torchinit.integrations.torchtitan import init_weights

VOCAB, DIM, HEADS, LAYERS, HIDDEN, SEQ = 256, 64, 4, 2, 172, 32
SEED = 0


class Rotary(nn.Module):
    """The rotary table, ``freqs_cis``: a buffer computed from the shape, never saved."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("freqs_cis", self.table(), persistent=False)

    @staticmethod
    def table() -> torch.Tensor:
        inv_freq = 1.0 / 10000 ** (torch.arange(0, DIM // HEADS, 2).float() / (DIM // HEADS))
        angles = torch.outer(torch.arange(SEQ).float(), inv_freq)
        return torch.polar(torch.ones_like(angles), angles)


# after to_empty the table holds garbage: this is how torchinit recomputes it (in place, on
# the buffer's device)
@torchinit.register_buffer_init(Rotary, buffers=["freqs_cis"])
def _(rotary: Rotary) -> None:
    rotary.freqs_cis.copy_(rotary.table())


def rotate(x: torch.Tensor, freqs_cis: torch.Tensor) -> torch.Tensor:
    pairs = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(pairs * freqs_cis[: x.shape[1], None]).flatten(3).type_as(x)


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.wq, self.wk, self.wv, self.wo = (nn.Linear(DIM, DIM, bias=False) for _ in range(4))

    def forward(self, x: torch.Tensor, freqs_cis: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        q, k, v = (w(x).view(batch, seq, HEADS, -1) for w in (self.wq, self.wk, self.wv))
        q, k = rotate(q, freqs_cis), rotate(k, freqs_cis)
        out = functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        return self.wo(out.transpose(1, 2).reshape(batch, seq, DIM))


class FeedForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w1 = nn.Linear(DIM, HIDDEN, bias=False)
        self.w2 = nn.Linear(HIDDEN, DIM, bias=False)
        self.w3 = nn.Linear(DIM, HIDDEN, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(functional.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention_norm, self.ffn_norm = nn.RMSNorm(DIM), nn.RMSNorm(DIM)
        self.attention, self.feed_forward = Attention(), FeedForward()

    def forward(self, x: torch.Tensor, freqs_cis: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.attention_norm(x), freqs_cis)
        return x + self.feed_forward(self.ffn_norm(x))


def llama_policy() -> torchinit.Policy:
    """torchtitan's Llama init: output projections of layer i at std 0.02 / sqrt(2 (i + 1))."""
    rules = [
        torchinit.Rule(nn.Embedding, weight=torchinit.Normal(0.0, 1.0)),
        torchinit.Rule(nn.Linear, weight=torchinit.TruncNormal(std=0.02)),
        torchinit.Rule(nn.RMSNorm, weight="ones"),
    ]
    for layer in range(LAYERS):
        std = 0.02 / math.sqrt(2 * (layer + 1))
        rules.append(
            torchinit.Rule(
                nn.Linear,
                name=f"layers.{layer}.*.w[o23]",  # attention.wo, feed_forward.w2 and w3
                weight=torchinit.TruncNormal(std=std),
            )
        )
    final = DIM**-0.5
    rules.append(
        torchinit.Rule(
            nn.Linear,
            name="output",
            weight=torchinit.TruncNormal(std=final, a=-3 * final, b=3 * final),
        )
    )
    return torchinit.Policy(rules, name="llama3")


POLICY = llama_policy()


class Transformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tok_embeddings = nn.Embedding(VOCAB, DIM)
        self.rotary = Rotary()
        self.layers = nn.ModuleList(Block() for _ in range(LAYERS))
        self.norm = nn.RMSNorm(DIM)
        self.output = nn.Linear(DIM, VOCAB, bias=False)

    def init_weights(self, buffer_device: torch.device | None = None) -> None:
        """What torchtitan's trainer calls after ``model.to_empty(device=...)``."""
        init_weights(self, POLICY, seed=SEED, buffer_device=buffer_device)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tok_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, self.rotary.freqs_cis)
        return self.output(self.norm(x))


# one rank of a gloo group on an in-memory store: no launcher, no port
dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
try:
    mesh = init_device_mesh("cpu", (1,))
    with torch.device("meta"):
        model = Transformer()
    for block in model.layers:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    print(torchinit.plan(model, POLICY, seed=SEED))

    # torchtitan's trainer, after parallelizing
    model.to_empty(device="cpu")
    with torch.no_grad():
        model.init_weights(buffer_device=None)

    reference = Transformer()  # unsharded, built on the CPU
    reference.init_weights()
    expected = {**dict(reference.named_parameters()), **dict(reference.named_buffers())}
    got = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    same = all(
        torch.equal(value.full_tensor() if isinstance(value, DTensor) else value, expected[name])
        for name, value in got.items()
    )
    tokens = torch.randint(VOCAB, (2, SEQ), generator=torch.Generator().manual_seed(0))
    loss = functional.cross_entropy(model(tokens).flatten(0, 1), tokens.flatten())
    print(f"loss at init: {loss.item():.3f} (log {VOCAB} = {math.log(VOCAB):.3f})")
    print(f"FSDP2-sharded parameters and buffers equal the unsharded init: {same}")
finally:
    dist.destroy_process_group()

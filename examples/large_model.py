"""
A large model on the meta device
================================

A model too big to build twice: on the meta device, then materialized while initialized.

``with torch.device("meta")`` builds the model without allocating a byte. ``init_model(model,
"nanogpt", device="cpu", seed=0)`` then validates the plan on the meta model, allocates each
tensor on the CPU and fills it once: memory grows by the parameter bytes and no more. With
``seed=`` the values are keyed: each tensor's values depend only on the seed, its name and
its strategy, so they are the same on any number of threads, on CPU or CUDA, on one process
or sharded with FSDP2 across many.

Run from the repository root (needs nothing beyond torch)::

    python examples/large_model.py
"""

import torch
from torch import nn

import torchinit

N_LAYER, WIDTH, VOCAB = 4, 256, 8192


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(WIDTH)
        self.attn = nn.ModuleDict(
            {"c_attn": nn.Linear(WIDTH, 3 * WIDTH), "c_proj": nn.Linear(WIDTH, WIDTH)}
        )
        self.ln_2 = nn.LayerNorm(WIDTH)
        self.mlp = nn.ModuleDict(
            {"c_fc": nn.Linear(WIDTH, 4 * WIDTH), "c_proj": nn.Linear(4 * WIDTH, WIDTH)}
        )


class GPT(nn.Module):
    """nanoGPT's layout (the forward pass is left out: this example only initializes)."""

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(VOCAB, WIDTH)
        self.h = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(WIDTH)
        self.lm_head = nn.Linear(WIDTH, VOCAB, bias=False)
        self.lm_head.weight = self.wte.weight  # tied


def build_and_init(threads: int) -> GPT:
    torch.set_num_threads(threads)
    with torch.device("meta"):
        model = GPT()
    torchinit.init_model(model, "nanogpt", n_layer=N_LAYER, device="cpu", seed=0)
    return model


with torch.device("meta"):
    preview = GPT()
print(torchinit.plan(preview, "nanogpt", n_layer=N_LAYER, device="cpu", seed=0))

threads = torch.get_num_threads()
one, many = build_and_init(1), build_and_init(max(2, threads))
torch.set_num_threads(threads)
assert one.lm_head.weight is one.wte.weight, "the tie is restored after materialization"
pairs = zip(one.state_dict().values(), many.state_dict().values(), strict=True)
same = all(torch.equal(a, b) for a, b in pairs)
print(f"{sum(p.numel() for p in one.parameters()):,} parameters materialized on the CPU")
print(f"the same values on 1 and {max(2, threads)} threads: {same}")

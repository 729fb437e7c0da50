"""Models the benchmarks build from code (no downloads): a nanoGPT-style GPT-2 of any size."""

from __future__ import annotations

from torch import nn


class Block(nn.Module):
    """A GPT-2 block with nanoGPT's parameter names (``c_attn``, ``c_fc``, ``c_proj``)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = nn.ModuleDict(
            {"c_attn": nn.Linear(d_model, 3 * d_model), "c_proj": nn.Linear(d_model, d_model)}
        )
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = nn.ModuleDict(
            {"c_fc": nn.Linear(d_model, 4 * d_model), "c_proj": nn.Linear(4 * d_model, d_model)}
        )


class GPT(nn.Module):
    """nanoGPT's GPT layout (forward left out: the benchmarks only initialize it).

    ``GPT()`` is GPT-2 small: 12 layers, width 768, 50,257 tokens, 1,024 positions, about
    124M parameters with the tied ``lm_head``.
    """

    def __init__(
        self, n_layer: int = 12, d_model: int = 768, vocab: int = 50257, n_ctx: int = 1024
    ) -> None:
        super().__init__()
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(vocab, d_model),
                "wpe": nn.Embedding(n_ctx, d_model),
                "h": nn.ModuleList(Block(d_model) for _ in range(n_layer)),
                "ln_f": nn.LayerNorm(d_model),
            }
        )
        self.lm_head = nn.Linear(d_model, vocab, bias=False)
        self.lm_head.weight = self.transformer["wte"].weight

"""What the benchmarks share: their command line and header, the models they build from code
(no downloads) and torchvision's ResNet init loop as a baseline."""

from __future__ import annotations

import argparse
import os
import types

import torch
from torch import nn


def parse_rounds(doc: str, default: int) -> int:
    """The ``--rounds`` argument of a benchmark whose module docstring is ``doc``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=default, help="timed rounds (median)")
    rounds = parser.parse_args().rounds
    if rounds < 1:
        parser.error("--rounds must be >= 1")
    return int(rounds)


def print_machine(rounds: int, versions: str = "") -> None:
    """The header every benchmark prints: versions, cores, threads, rounds."""
    print(f"torch {torch.__version__}{versions}")
    print(f"os.cpu_count() = {os.cpu_count()}, torch.get_num_threads() = {torch.get_num_threads()}")
    print(f"rounds = {rounds}")
    print()


def torchvision_resnet_loop(model: nn.Module) -> None:
    """The init loop of ``torchvision.models.ResNet.__init__`` (zero_init_residual=False)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


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
    124M parameters with the tied ``lm_head``. Like nanoGPT's, it keeps its config in
    ``config``, where the ``nanogpt`` preset reads ``n_layer``.
    """

    def __init__(
        self, n_layer: int = 12, d_model: int = 768, vocab: int = 50257, n_ctx: int = 1024
    ) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(n_layer=n_layer, n_embd=d_model, vocab_size=vocab)
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

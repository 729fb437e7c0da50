"""
A policy in a YAML file
=======================

A policy file says what the Python API says, so the init choices can live next to the rest
of a training config and be reviewed in pull requests. This example writes one, checks it,
applies it to a small transformer, and shows what a mistake in the file looks like: the
whole file is validated when it is loaded, and every error names the file and the line.

The same file works from the command line::

    torchinit validate policy.yaml
    torchinit plan MODEL policy.yaml

Run from the repository root (needs nothing beyond torch and PyYAML)::

    python examples/yaml_policy.py
"""

import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

import torchinit

POLICY = """\
# GPT-2-like init: small normal weights, zero biases, LayerNorm as the identity
name: small-transformer
rules:
  - match: {type: [Linear, Embedding]}
    label: weights
    weight: {normal: {mean: 0.0, std: 0.02}}
  - match: {param: "**.*bias"}      # every bias, in any layer (in_proj_bias too)
    label: biases
    init: zeros
  - match: {type: LayerNorm}
    label: norms
    weight: ones
    bias: zeros
  - match: {type: MultiheadAttention}
    label: attention
    in_proj_weight: xavier_uniform
"""


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 1000, width: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.block = nn.TransformerEncoderLayer(width, nhead=4, dim_feedforward=128)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)


folder = Path(tempfile.mkdtemp())
path = folder / "policy.yaml"
path.write_text(POLICY)

# %%
# Load and apply. ``init_model`` also takes the path directly (any ``os.PathLike``, or a
# string ending in ``.yaml``/``.yml``); loading it first shows that a file is just a policy.

policy = torchinit.Policy.from_yaml(path)
print(f"{path.name}: {len(policy.rules)} rules, order={policy.order}")

model = TinyTransformer()
report = torchinit.init_model(model, path, generator=torch.Generator().manual_seed(0))
print(report)

# %%
# A policy and its YAML text convert both ways, exactly.

assert torchinit.Policy.from_yaml(policy.to_yaml()) == policy
print("round trip through to_yaml(): equal")

# %%
# A typo is caught when the file is loaded, before any tensor is touched, with the file, the
# line, the key path and the valid choices.

path.write_text(POLICY.replace("xavier_uniform", "xavier_unifrom"))
try:
    torchinit.Policy.from_yaml(path)
except torchinit.TorchInitError as error:
    print(f"{type(error).__name__}: {str(error).replace(str(folder), '...')}")

shutil.rmtree(folder)

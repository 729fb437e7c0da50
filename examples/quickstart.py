"""
Quickstart: a torchvision ResNet-50 in one call
===============================================

Initialize a whole torchvision ResNet-50 with one call.

``torchinit.init_model(model, "resnet")`` applies torchinit's ``"resnet"`` preset, which does
what torchvision's own ``ResNet.__init__`` does: Kaiming-normal conv weights (``fan_out``,
ReLU gain), BatchNorm weight 1 and bias 0. ``zero_init_residual=True`` also zeroes the weight
of the last BatchNorm of every residual block, so that each block starts as the identity
(Goyal et al., 2017).

``init_model`` returns a report: which rule gave which strategy to each tensor, which tensors
no rule matched (here the final ``fc`` layer, which keeps PyTorch's default init, as in
torchvision), and which rules matched nothing (the preset's zero-init rule for ``BasicBlock``,
the block of ResNet-18/34, has nothing to do in a ResNet-50).

Run from the repository root (needs torchvision)::

    python examples/quickstart.py
"""

import torch
import torchvision

import torchinit

torch.manual_seed(0)  # the preset draws from torch's global generator, like torch.nn.init
model = torchvision.models.resnet50(weights=None)

report = torchinit.init_model(model, "resnet", zero_init_residual=True)
print(report)
print(f"{len(report.initialized)} tensors initialized")

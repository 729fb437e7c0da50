"""
Bit for bit with torchvision's own init
=======================================

torchvision's GoogLeNet builds its layers (each drawing PyTorch's default init) and then,
with ``init_weights=True``, runs its own loop over ``model.modules()``: truncated normals for
the conv and linear weights, ones and zeros for the BatchNorms. ``init_weights=False`` skips
that loop.

torchinit's ``"googlenet"`` preset is that loop written as a policy. Under the same seed,
building the model *without* torchvision's loop and applying the preset gives exactly the
tensors torchvision gives *with* it: ``torch.equal`` on every parameter and buffer. The tests
check every bit-exact preset this way (``tests/test_presets.py``).

Run from the repository root (needs torchvision)::

    python examples/torchvision_bit_exact.py
"""

import torch
import torchvision

import torchinit

torch.manual_seed(0)
reference = torchvision.models.googlenet(weights=None, init_weights=True)

torch.manual_seed(0)
model = torchvision.models.googlenet(weights=None, init_weights=False)
report = torchinit.init_model(model, "googlenet")
print(report.summary())

pairs = zip(reference.state_dict().items(), model.state_dict().values(), strict=True)
different = [name for (name, expected), got in pairs if not torch.equal(expected, got)]
print(f"{len(reference.state_dict())} tensors compared, {len(different)} differ")
print(f"bit-exact with torchvision's init_weights=True: {not different}")

"""
From ``model.apply(weights_init)`` to a policy
==============================================

The most common init code in PyTorch tutorials is a ``weights_init`` function handed to
``model.apply``; the project's seed write-ups teach it too::

    def weights_init(m):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_normal_(m.weight)
            nn.init.constant_(m.bias, 0.0)

    net.apply(weights_init)

With torchinit the same choice is a :class:`torchinit.Policy`: one rule per kind of layer,
checked before any tensor is touched, with a report of what each rule set. ``model.apply``
visits a module's children before the module itself; ``order="apply"`` walks the model in
that order, so the policy draws the same random numbers, in the same order, as the function.

Both sides below start from the same seed and the same freshly built network; the script
checks that they give identical tensors. A second hook, DCGAN's, tests class names
(``classname.find('Conv') != -1``); its policy uses the layer families of
:mod:`torchinit.families` instead.

Run from the repository root (needs nothing beyond torch)::

    python examples/apply_weights_init.py
"""

import torch
from torch import nn

import torchinit
from torchinit import Constant, Normal, Policy, Rule, XavierNormal, families


class LeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU()
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 8 * 8, 120), nn.ReLU(), nn.Linear(120, 10)
        )


# %%
# The plain PyTorch way: a function called on every module.


def weights_init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_normal_(m.weight)
        nn.init.constant_(m.bias, 0.0)


torch.manual_seed(0)
with_apply = LeNet()
with_apply.apply(weights_init)

# %%
# The torchinit way: the same choice as data. A strategy may be a name (``"zeros"``) or an
# object with arguments (``Constant(0.0)``).

policy = Policy(
    [Rule((nn.Conv2d, nn.Linear), weight=XavierNormal(), bias=Constant(0.0))],
    name="weights_init",
    order="apply",
)

torch.manual_seed(0)
with_policy = LeNet()
report = torchinit.init_model(with_policy, policy)
print(report)

# %%
# Same seed, same layers, same order of draws: the same tensors.

pairs = zip(with_apply.state_dict().values(), with_policy.state_dict().values(), strict=True)
same = all(torch.equal(expected, got) for expected, got in pairs)
print(f"identical to model.apply(weights_init): {same}")

# %%
# DCGAN's hook tests class names: ``find('Conv')`` is meant for ``Conv2d`` and
# ``ConvTranspose2d``, but would also catch a ``ConvBlock`` of yours. The families say which
# layers are meant, with public classes (no ``_ConvNd``); in YAML, ``type: [Conv, ConvTranspose]``.


def dcgan_weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def generator() -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(16, 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(True),
        nn.ConvTranspose2d(8, 3, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


dcgan = Policy(
    [
        Rule((families.Conv, families.ConvTranspose), weight=Normal(0.0, 0.02)),
        Rule(families.BatchNorm, weight=Normal(1.0, 0.02), bias="zeros"),
    ],
    name="dcgan",
    order="apply",
)

torch.manual_seed(0)
with_hook = generator()
with_hook.apply(dcgan_weights_init)
torch.manual_seed(0)
with_families = generator()
print(torchinit.init_model(with_families, dcgan))
pairs = zip(with_hook.state_dict().values(), with_families.state_dict().values(), strict=True)
same = all(torch.equal(expected, got) for expected, got in pairs)
print(f"identical to model.apply(dcgan_weights_init): {same}")

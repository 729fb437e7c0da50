"""
A hand-written policy for your own model
========================================

A :class:`torchinit.Policy` is an ordered list of rules. This example shows the three ways a
rule can pick tensors:

* by layer type: ``Rule(nn.Conv2d, weight=...)`` (``isinstance``, so subclasses match too);
* by layer name: ``Rule(name="head", weight=...)``, a glob on the layer's dotted name;
* by parameter name: ``Rule(param="**.bias", init="zeros")``, a glob on the full name of the
  parameter, whatever layer it is in;

and the precedence between them: when several rules give a strategy to the same tensor, the
last one wins, so general rules come first and exceptions after them. ``torchinit.plan``
shows what a policy would do without touching the model; ``init_model(..., generator=...)``
draws every random number from that generator, so the result does not depend on what else
used torch's global random state.

Run from the repository root::

    python examples/custom_policy.py
"""

import torch
from torch import nn

import torchinit
from torchinit import KaimingNormal, Normal, Rule, XavierUniform


class SmallNet(nn.Module):
    """A small CNN feature extractor, an MLP on top, and a classifier head."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.mlp = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh())
        self.head = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(self.features(x)))


policy = torchinit.Policy(
    [
        # type rules: what every layer of a kind gets
        Rule(nn.Conv2d, weight=KaimingNormal(mode="fan_out", nonlinearity="relu")),
        Rule(nn.BatchNorm2d, weight="ones"),  # its bias: see the parameter rule
        Rule(nn.Linear, weight=XavierUniform(gain=torchinit.calculate_gain("tanh"))),
        # a parameter rule: every bias of the model, in any kind of layer
        Rule(param="**.bias", init="zeros"),
        # a name rule, after the Linear rule so that it wins for the head: small weights give
        # near-uniform class probabilities at the start
        Rule(name="head", weight=Normal(std=0.01), label="classifier head"),
    ],
    name="smallnet",
)

model = SmallNet()

# What would happen, before anything is touched (no tensor changes, no random number drawn).
plan = torchinit.plan(model, policy)
print(plan.summary())
head = plan["head.weight"]
print(f"head.weight would get {head.strategy} from rule {head.rule_label!r}")
print()

report = torchinit.init_model(model, policy, generator=torch.Generator().manual_seed(0))
print(report)

# Every parameter is set by the policy, and every random number came from the generator: a
# model built under another global seed, initialized with the same generator seed, is equal.
torch.manual_seed(123)
other = SmallNet()
torchinit.init_model(other, policy, generator=torch.Generator().manual_seed(0))
same = all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters(), strict=True))
print(f"\nsame generator seed, same weights: {same}")

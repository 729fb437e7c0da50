"""timm's own inits of its convolutional families: ``timm_convnext``.

timm builds a ConvNeXt and then initializes it in one loop after construction
(``named_apply(_init_weights, self)`` at the end of ``ConvNeXt.__init__``), so, unlike the
vision transformers of :mod:`torchinit.presets.vit`, the loop can be replayed bit for bit:
switched off, or run again from the same generator state, it draws what the preset draws.

=============  ===============================  ==============================================
preset         reproduces                       checked (tests/test_presets_timm.py)
=============  ===============================  ==============================================
timm_convnext  ``timm/models/convnext.py``      bit-exact (convnext_atto, convnext_nano,
                                                convnextv2_atto: every tensor ``torch.equal``)
=============  ===============================  ==============================================

timm draws with its own ``trunc_normal_``, an inverse-CDF sampler (torch's before 2.14), hence
``trunc_normal_icdf`` here, not ``trunc_normal`` (torch 2.14's rejection sampler: the same law,
other bits). The ``convnext`` preset is torchvision's loop, which calls torch's.
"""

from __future__ import annotations

from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError
from torchinit.policy import Policy, Rule
from torchinit.presets import get_preset, register_preset  # noqa: F401 (the example)
from torchinit.strategies import TruncNormalInverseCDF, Zeros

__all__: list[str] = []


@register_preset("timm_convnext")
def timm_convnext(*, head_init_scale: float = 1.0) -> Policy:
    """timm's ConvNeXt init (``timm/models/convnext.py``, ``_init_weights``), bit for bit.

    Liu et al., "A ConvNet for the 2020s" (2022); ConvNeXt-V2 (Woo et al., 2023) shares the
    class and the init in timm (its GRN parameters are left as built, zeros, as in timm).

    * ``Conv2d`` and ``Linear``: weight ``trunc_normal_icdf(std=0.02)`` (timm's
      ``trunc_normal_``: absolute bounds ±2, nothing truncated in practice), bias 0;
    * norms, layer-scale ``gamma`` and GRN parameters: left as built (timm's loop does not
      touch them either).

    timm's ``named_apply`` visits children before their parents (``order='apply'``); the
    layers it draws are all leaves, so the draws come in the model's module order.

    Args:
        head_init_scale: timm's ``head_init_scale``, by which timm multiplies the head's
            ``Linear`` weight and bias after drawing them. Only ``1.0`` (timm's default, a
            no-op bit for bit) is supported: no strategy draws and then multiplies, and drawing
            with ``std * head_init_scale`` instead rounds differently, so other values would
            give the same law but other bits. They are refused rather than approximated.

    Example:
        >>> get_preset("timm_convnext").rules[0].strategies[0]
        ('weight', TruncNormalInverseCDF(mean=0.0, std=0.02, a=-2.0, b=2.0))
    """
    scale = _validate.number(head_init_scale, "timm_convnext.head_init_scale")
    if scale != 1.0:
        raise InvalidArgumentError(
            "only 1.0 (timm's default) is reproduced bit for bit: timm multiplies the drawn "
            "head weight and bias by it, which no strategy does; initialize the head yourself "
            "after init_model for other values",
            path="timm_convnext.head_init_scale",
            got=head_init_scale,
        )
    return Policy(
        [
            Rule(
                (nn.Conv2d, nn.Linear),
                weight=TruncNormalInverseCDF(std=0.02),
                bias=Zeros(),
                label="conv/linear",
            )
        ],
        name="timm_convnext",
        order="apply",
    )

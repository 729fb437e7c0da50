"""Vision transformers: torchvision's ViT, Swin and MaxViT, and timm's ViT init modes.

Their originals initialize while the model is built (a layer's tensors are drawn inside its
constructor, between other layers' draws), so replaying them bit for bit after construction is
impossible. These presets are proven **distributionally** instead: every tensor gets the same
strategy with the same arguments as in the original, and ``tests/test_presets_vit.py`` checks,
under fixed seeds, that constant tensors are equal and that random ones pass a two-sample KS
test and a standard-deviation check against the original (and against the analytic value).

=========  ==============================================  =================================
preset     reproduces                                      checked (tests/test_presets_vit.py)
=========  ==============================================  =================================
vit        ``torchvision/models/vision_transformer.py``    distributional (custom, vit_b_32)
swin       ``torchvision/models/swin_transformer.py``      distributional (swin_t, swin_v2_t)
maxvit     ``torchvision/models/maxvit.py``                distributional (maxvit_t)
timm_vit   ``timm/models/vision_transformer.py``           distributional, each ``mode``
=========  ==============================================  =================================

Tensors that the original leaves to the layer's own defaults (``LayerNorm`` 1/0, Swin's patch
conv, the attention ``out_proj.weight`` of ``nn.MultiheadAttention``) are left as they are, as
the CNN presets leave ResNet's ``fc``: the reports list them as unmatched.
"""

from __future__ import annotations

import math

from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError, did_you_mean
from torchinit.policy import Policy, Rule
from torchinit.presets import (  # noqa: F401 (the examples use get_preset)
    get_preset,
    loaded_class,
    register_preset,
)
from torchinit.strategies import (
    Constant,
    FanTruncNormal,
    FromAttr,
    LecunNormal,
    Normal,
    TruncNormal,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zeros,
    to_strategy,
)

__all__ = ["TIMM_VIT_MODES"]

#: The ``weight_init`` modes of timm's ``VisionTransformer`` that ``timm_vit`` reproduces.
TIMM_VIT_MODES: tuple[str, ...] = ("", "jax", "jax_nlhb", "moco")


def _multihead_attention() -> Rule:
    """``nn.MultiheadAttention._reset_parameters``: what the layer does when it is built."""
    return Rule(
        nn.MultiheadAttention,
        params={
            "in_proj_weight": XavierUniform(),
            "q_proj_weight": XavierUniform(),
            "k_proj_weight": XavierUniform(),
            "v_proj_weight": XavierUniform(),
            "in_proj_bias": Zeros(),
            "out_proj.bias": Zeros(),
            # a glob: with add_bias_kv=False these are plain None attributes, not parameters
            "bias_[kv]": XavierNormal(),
        },
        label="attention",
    )


@register_preset("vit")
def vit() -> Policy:
    """torchvision's VisionTransformer init (``torchvision/models/vision_transformer.py``).

    Dosovitskiy et al., "An Image is Worth 16x16 Words" (2021). Distributionally equal to the
    original (see the module docstring); the names are torchvision's, matched at any depth.

    * ``nn.MultiheadAttention``: its own ``_reset_parameters``: ``in_proj_weight``
      ``xavier_uniform``, ``in_proj_bias`` and ``out_proj.bias`` 0 (``out_proj.weight`` keeps
      ``nn.Linear``'s default, as in the original);
    * the ``Linear`` layers of each ``mlp`` block (``**.mlp.*``, i.e. ``mlp.0``, ``mlp.3``):
      weight ``xavier_uniform``, bias N(0, 1e-6²);
    * the patch embedding ``conv_proj``: weight ``trunc_normal_(std=sqrt(1/fan_in))`` with
      torch's absolute bounds ±2 (``fan_trunc_normal()``), bias 0;
    * the conv stem's last 1×1 conv ``conv_proj.conv_last`` (``conv_stem_configs``): weight
      N(0, 2/out_channels) (``variance_scaling(2, 'fan_out', 'normal')``), bias 0;
    * ``heads.pre_logits`` (``representation_size``): as ``conv_proj``; ``heads.head``: 0/0;
    * ``encoder.pos_embedding`` N(0, 0.02²); ``class_token`` 0;
    * ``LayerNorm``: left as built (1/0).

    Example:
        >>> [rule.describe() for rule in get_preset("vit").rules][:3]
        ['attention', 'mlp', 'patch embedding']
    """
    fan_in_trunc_normal = FanTruncNormal()
    return Policy(
        [
            _multihead_attention(),
            Rule(
                nn.Linear,
                name="**.mlp.*",
                weight=XavierUniform(),
                bias=Normal(0.0, 1e-6),
                label="mlp",
            ),
            Rule(
                nn.Conv2d,
                name="**.conv_proj",
                weight=fan_in_trunc_normal,
                bias=Zeros(),
                label="patch embedding",
            ),
            Rule(
                nn.Conv2d,
                name="**.conv_proj.conv_last",
                weight=VarianceScaling(2.0, "fan_out", "normal"),
                bias=Zeros(),
                label="conv stem last",
            ),
            Rule(
                nn.Linear,
                name="**.heads.pre_logits",
                weight=fan_in_trunc_normal,
                bias=Zeros(),
                label="pre-logits",
            ),
            Rule(nn.Linear, name="**.heads.head", weight=Zeros(), bias=Zeros(), label="head"),
            Rule(param="**.pos_embedding", init=Normal(0.0, 0.02), label="position embedding"),
            Rule(param="**.class_token", init=Zeros(), label="class token"),
        ],
        name="vit",
    )


@register_preset("swin")
def swin() -> Policy:
    """torchvision's Swin Transformer v1 and v2 init (``torchvision/models/swin_transformer.py``).

    Liu et al., "Swin Transformer" (2021) and "Swin Transformer V2" (2022). Distributionally
    equal to the original (see the module docstring).

    * every ``Linear``: weight ``trunc_normal(std=0.02)`` (absolute bounds ±2), bias 0. The
      blocks' MLPs are drawn ``xavier_uniform`` with bias N(0, 1e-6²) while the model is built,
      and v2 zeroes the middle third of each ``qkv`` bias, but ``SwinTransformer``'s final
      loop overwrites all of that, v2's ``cpb_mlp`` included;
    * ``relative_position_bias_table`` (v1): ``trunc_normal(std=0.02)``;
    * ``logit_scale`` (v2): the constant log(10);
    * the patch ``Conv2d`` and ``LayerNorm``: left as built (PyTorch's defaults).

    Example:
        >>> get_preset("swin").rules[0].strategies[0]
        ('weight', TruncNormal(mean=0.0, std=0.02, a=-2.0, b=2.0))
    """
    return Policy(
        [
            Rule(nn.Linear, weight=TruncNormal(std=0.02), bias=Zeros(), label="linear"),
            Rule(
                param="**.relative_position_bias_table",
                init=TruncNormal(std=0.02),
                label="relative position bias",
            ),
            Rule(param="**.logit_scale", init=Constant(math.log(10.0)), label="logit scale"),
        ],
        name="swin",
    )


@register_preset("maxvit")
def maxvit() -> Policy:
    """torchvision's MaxViT init (``torchvision/models/maxvit.py``).

    Tu et al., "MaxViT: Multi-Axis Vision Transformer" (2022). Distributionally equal to the
    original (see the module docstring).

    * ``Conv2d`` and ``Linear``: weight N(0, 0.02²), bias 0;
    * ``BatchNorm2d``: weight 1, bias 0;
    * ``relative_position_bias_table`` (drawn while the model is built, untouched by
      ``MaxVit._init_weights``): ``trunc_normal(std=0.02)``;
    * ``LayerNorm``: left as built (1/0).

    Example:
        >>> [rule.describe() for rule in get_preset("maxvit").rules]
        ['conv/linear', 'norm', 'relative position bias']
    """
    return Policy(
        [
            Rule(
                (nn.Conv2d, nn.Linear),
                weight=Normal(0.0, 0.02),
                bias=Zeros(),
                label="conv/linear",
            ),
            Rule(nn.BatchNorm2d, weight=Constant(1.0), bias=Constant(0.0), label="norm"),
            Rule(
                param="**.relative_position_bias_table",
                init=TruncNormal(std=0.02),
                label="relative position bias",
            ),
        ],
        name="maxvit",
    )


def _check_timm_vit_options(mode: str, head_bias: float | None) -> float:
    """Validate ``timm_vit``'s options; return the head's bias."""
    if mode not in TIMM_VIT_MODES:
        raise InvalidArgumentError(
            did_you_mean(
                f"must be one of {list(TIMM_VIT_MODES)}", mode, [m for m in TIMM_VIT_MODES if m]
            ),
            path="timm_vit.mode",
            got=mode,
        )
    if head_bias is None:
        if mode == "jax_nlhb":
            raise InvalidArgumentError(
                "mode 'jax_nlhb' needs head_bias=-log(num_classes) (torchinit cannot compute "
                "it from the model), e.g. head_bias=-math.log(1000)",
                path="timm_vit.head_bias",
                got=None,
            )
        return 0.0
    if not mode.startswith("jax"):
        raise InvalidArgumentError(
            f"is used by modes 'jax' and 'jax_nlhb' only, not by mode {mode!r}",
            path="timm_vit.head_bias",
            got=head_bias,
        )
    return _validate.number(head_bias, "timm_vit.head_bias")


def _timm_layer_scale() -> Rule:
    """timm's ``LayerScale.reset_parameters``: ``gamma`` = ``init_values``.

    The class is named in full (a user's own ``LayerScale`` may lack ``init_values``) and is
    optional. Where timm is imported the rule holds the class itself, as a YAML file naming
    it is resolved to, so that the preset and its YAML twin compare equal either way.
    """
    gamma = to_strategy({"constant": {"val": FromAttr("init_values")}})
    cls = loaded_class("timm.layers.layer_scale", "LayerScale")
    if cls is not None:
        return Rule(cls, optional=True, gamma=gamma, label="layer scale")
    return Rule(
        type_names=["timm.layers.layer_scale.LayerScale"],
        optional=True,
        gamma=gamma,
        label="layer scale",
    )


@register_preset("timm_vit")
def timm_vit(*, mode: str = "", head_bias: float | None = None) -> Policy:
    """timm's VisionTransformer init modes (``timm/models/vision_transformer.py``).

    ``VisionTransformer(weight_init=mode)`` runs ``init_weights(mode)``, which draws the
    position embedding and the tokens, then ``named_apply``\\ s one of
    ``init_weights_vit_timm``/``_jax``/``_moco`` children first (hence ``order='apply'``).
    Distributionally equal to the original (see the module docstring). In every mode:

    * ``pos_embed``: ``trunc_normal(std=0.02)`` (timm's ``trunc_normal_``, absolute bounds
      ±2); ``cls_token`` and ``reg_token``: N(0, 1e-6²);
    * timm's ``LayerScale``: ``gamma`` = the layer's ``init_values``;
    * ``LayerNorm``: left as built (1/0).

    By mode:

    * ``""`` (timm's default): every ``Linear`` ``trunc_normal(std=0.02)``, bias 0; the patch
      ``Conv2d`` left as built;
    * ``"jax"``: every ``Linear`` ``xavier_uniform``, bias 0, but N(0, 1e-6²) for layers with
      ``mlp`` in their name (timm: ``'mlp' in name``, here the glob ``**.*mlp*.**``); layers
      named ``head*`` (timm: ``name.startswith('head')``): weight 0, bias ``head_bias``;
      ``Conv2d``: ``lecun_normal`` (truncated at ±2 std, rescaled by 0.8796, as timm's
      ``trunc_normal_tf_``-based ``lecun_normal_``), bias 0;
    * ``"jax_nlhb"``: ``"jax"`` with the head bias -log(num_classes), given as ``head_bias``;
    * ``"moco"``: every ``Linear`` ``xavier_uniform``, bias 0; layers with ``qkv`` in their
      name U(±sqrt(6 / (out/3 + in))), Xavier with the fan split in three, which is
      ``xavier_uniform(gain=sqrt(2))`` when ``out_features == 3 * in_features`` (timm's
      ``Attention`` unless ``head_dim`` is set apart from ``dim / num_heads``); the patch
      ``Conv2d`` left as built.

    Not covered: ``fix_init=True`` (rescales by layer index), the ``init_weights`` of
    ``attn_pool`` (MAP head) and of ``ResPostBlock``, DeiT's ``dist_token``.

    Args:
        mode: ``""``, ``"jax"``, ``"jax_nlhb"`` or ``"moco"``, as timm's ``weight_init``.
        head_bias: the head's bias in the ``jax`` modes (default 0); required for
            ``"jax_nlhb"``, where timm uses ``-log(num_classes)``.

    Example:
        >>> policy = get_preset("timm_vit", mode="jax_nlhb", head_bias=-math.log(1000))
        >>> policy.rules[-1].strategies[1]
        ('bias', Constant(val=-6.907755278982137))
    """
    _validate.string(mode, "timm_vit.mode")
    bias = _check_timm_vit_options(mode, head_bias)
    common = [
        Rule(param="**.pos_embed", init=TruncNormal(std=0.02), label="position embedding"),
        Rule(param="**.cls_token", init=Normal(0.0, 1e-6), label="class token"),
        Rule(param="**.reg_token", init=Normal(0.0, 1e-6), label="register tokens"),
        _timm_layer_scale(),
    ]
    if mode == "":
        by_mode = [Rule(nn.Linear, weight=TruncNormal(std=0.02), bias=Zeros(), label="linear")]
    elif mode in ("jax", "jax_nlhb"):
        by_mode = [
            Rule(nn.Linear, weight=XavierUniform(), bias=Zeros(), label="linear"),
            Rule(nn.Linear, name="**.*mlp*.**", bias=Normal(0.0, 1e-6), label="mlp bias"),
            Rule(nn.Conv2d, weight=LecunNormal(), bias=Zeros(), label="conv"),
            Rule(nn.Linear, name="head*.**", weight=Zeros(), bias=Constant(bias), label="head"),
        ]
    elif mode == "moco":
        by_mode = [
            Rule(nn.Linear, weight=XavierUniform(), bias=Zeros(), label="linear"),
            Rule(
                nn.Linear,
                name="**.*qkv*.**",
                weight=XavierUniform(gain=math.sqrt(2.0)),
                label="qkv",
            ),
        ]
    else:
        raise AssertionError(f"unreachable: mode {mode!r} was validated")
    return Policy([*common, *by_mode], name="timm_vit", order="apply")

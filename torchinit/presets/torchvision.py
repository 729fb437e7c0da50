"""torchvision's CNN families: presets that reproduce their init loops bit for bit.

=============  ===========================================  ==============================
preset         reproduces                                   checked (tests/test_presets.py)
=============  ===========================================  ==============================
resnet         ``torchvision/models/resnet.py``             bit-exact
vgg            ``torchvision/models/vgg.py``                bit-exact
mobilenet_v2   ``torchvision/models/mobilenetv2.py``        bit-exact
mobilenet_v3   ``torchvision/models/mobilenetv3.py``        bit-exact
efficientnet   ``torchvision/models/efficientnet.py``       bit-exact (v1 and v2)
mnasnet        ``torchvision/models/mnasnet.py``            bit-exact
densenet       ``torchvision/models/densenet.py``           bit-exact
regnet         ``torchvision/models/regnet.py``             bit-exact
convnext       ``torchvision/models/convnext.py``           bit-exact
squeezenet     ``torchvision/models/squeezenet.py``         bit-exact
googlenet      ``torchvision/models/googlenet.py``          bit-exact
inception      ``torchvision/models/inception.py``          bit-exact
torch_default  each layer's ``reset_parameters()``          bit-exact replay of construction
=============  ===========================================  ==============================

How they are checked: ``torch.manual_seed(s); torchvision.models.X()`` is compared tensor by
tensor with the same constructor run with only torchvision's own loop disabled, followed by
``init_model(model, preset)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError
from torchinit.policy import Policy, Rule
from torchinit.presets import (  # noqa: F401 (the examples use get_preset)
    get_preset,
    loaded_class,
    register_preset,
)
from torchinit.strategies import (
    Constant,
    FanUniform,
    FromAttr,
    KaimingNormal,
    KaimingUniform,
    Normal,
    Ones,
    TorchDefault,
    TruncNormal,
    VarianceScaling,
    Zeros,
    to_strategy,
)

__all__ = ["NORM_LAYERS"]

#: The normalization layers whose weight "zero-init residual" options may zero.
NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.RMSNorm,
)


@register_preset("resnet")
def resnet(*, zero_init_residual: bool = False, residual_norms: Sequence[str] = ()) -> Policy:
    """torchvision's ResNet init (``torchvision/models/resnet.py``), bit for bit.

    He et al., "Deep Residual Learning for Image Recognition" (2016); zero-init of the last
    norm of each residual branch: Goyal et al., "Accurate, Large Minibatch SGD" (2017).

    * ``Conv2d``: weight ``kaiming_normal(mode='fan_out', nonlinearity='relu')``; bias untouched;
    * ``BatchNorm2d`` and ``GroupNorm``: weight 1, bias 0;
    * ``Linear`` and everything else: left as built (PyTorch's defaults).

    Args:
        zero_init_residual: zero the weight of the last norm layer of each residual branch,
            so that each block starts as the identity. For torchvision models: ``bn3`` of
            every ``Bottleneck`` and ``bn2`` of every ``BasicBlock``.
        residual_norms: for your own ResNet-like models, globs naming those last norm layers
            (e.g. ``["layer*.*.bn3"]``), zeroed when ``zero_init_residual`` is true. Only
            normalization layers (:data:`NORM_LAYERS`) match. Required with
            ``zero_init_residual`` unless torchvision is imported.

    Example:
        >>> get_preset("resnet", zero_init_residual=True, residual_norms=["**.bn2"]).name
        'resnet'
    """
    residual_norms = _validate.globs(residual_norms, "resnet.residual_norms", what="norm layers")
    blocks = [
        (cls, norm)
        for block, norm in (("Bottleneck", "bn3"), ("BasicBlock", "bn2"))
        if (cls := loaded_class("torchvision.models.resnet", block)) is not None
    ]
    if zero_init_residual and not residual_norms and not blocks:
        raise InvalidArgumentError(
            "needs residual_norms=[...] (globs naming the last norm layer of each residual "
            "branch) for a model that is not torchvision's",
            path="resnet.zero_init_residual",
            got=True,
        )
    rules = [
        Rule(nn.Conv2d, weight=KaimingNormal(mode="fan_out", nonlinearity="relu"), label="conv"),
        Rule((nn.BatchNorm2d, nn.GroupNorm), weight=Ones(), bias=Zeros(), label="norm"),
    ]
    if zero_init_residual:
        rules.extend(
            Rule(cls, params={f"{norm}.weight": Zeros()}, label=f"zero-init {cls.__name__}.{norm}")
            for cls, norm in blocks
        )
        rules.extend(
            Rule(NORM_LAYERS, name=glob, weight=Zeros(), label="zero-init residual")
            for glob in residual_norms
        )
    return Policy(rules, name="resnet")


@register_preset("vgg")
def vgg() -> Policy:
    """torchvision's VGG init (``torchvision/models/vgg.py``, ``init_weights=True``), bit for bit.

    Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition"
    (2015).

    * ``Conv2d``: weight ``kaiming_normal(mode='fan_out', nonlinearity='relu')``, bias 0;
    * ``BatchNorm2d``: weight 1, bias 0;
    * ``Linear``: weight ``normal(0, 0.01)``, bias 0.

    Example:
        >>> [rule.describe() for rule in get_preset("vgg").rules]
        ['conv', 'norm', 'linear']
    """
    return Policy(
        [
            Rule(
                nn.Conv2d,
                weight=KaimingNormal(mode="fan_out", nonlinearity="relu"),
                bias=Zeros(),
                label="conv",
            ),
            Rule(nn.BatchNorm2d, weight=Ones(), bias=Zeros(), label="norm"),
            Rule(nn.Linear, weight=Normal(0.0, 0.01), bias=Zeros(), label="linear"),
        ],
        name="vgg",
    )


def _torchvision_cnn(name: str, linear: Rule, *, norms: tuple[type[nn.Module], ...]) -> Policy:
    """The loop MobileNet, EfficientNet and MNASNet share, with their own Linear rule."""
    return Policy(
        [
            Rule(
                nn.Conv2d,
                weight=KaimingNormal(mode="fan_out"),
                bias=Zeros(),
                label="conv",
            ),
            Rule(norms, weight=Ones(), bias=Zeros(), label="norm"),
            linear,
        ],
        name=name,
    )


@register_preset("mobilenet_v2")
def mobilenet_v2() -> Policy:
    """torchvision's MobileNetV2 init (``torchvision/models/mobilenetv2.py``), bit for bit.

    Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (2018).

    * ``Conv2d``: weight ``kaiming_normal(mode='fan_out')`` (leaky_relu gain, a=0), bias 0;
    * ``BatchNorm2d`` and ``GroupNorm``: weight 1, bias 0;
    * ``Linear``: weight ``normal(0, 0.01)``, bias 0.

    Example:
        >>> [rule.describe() for rule in get_preset("mobilenet_v2").rules]
        ['conv', 'norm', 'linear']
    """
    linear = Rule(nn.Linear, weight=Normal(0.0, 0.01), bias=Zeros(), label="linear")
    return _torchvision_cnn("mobilenet_v2", linear, norms=(nn.BatchNorm2d, nn.GroupNorm))


@register_preset("mobilenet_v3")
def mobilenet_v3() -> Policy:
    """torchvision's MobileNetV3 init (``torchvision/models/mobilenetv3.py``), bit for bit.

    Howard et al., "Searching for MobileNetV3" (2019). The same rules as ``mobilenet_v2``.

    Example:
        >>> get_preset("mobilenet_v3").rules == get_preset("mobilenet_v2").rules
        True
    """
    linear = Rule(nn.Linear, weight=Normal(0.0, 0.01), bias=Zeros(), label="linear")
    return _torchvision_cnn("mobilenet_v3", linear, norms=(nn.BatchNorm2d, nn.GroupNorm))


@register_preset("efficientnet")
def efficientnet() -> Policy:
    """torchvision's EfficientNet v1/v2 init (``torchvision/models/efficientnet.py``), bit for bit.

    Tan & Le, "EfficientNet" (2019) and "EfficientNetV2" (2021).

    * ``Conv2d``: weight ``kaiming_normal(mode='fan_out')``, bias 0;
    * ``BatchNorm2d`` and ``GroupNorm``: weight 1, bias 0;
    * ``Linear``: weight U(±1/sqrt(out_features)) (``fan_uniform(mode='fan_out')``), bias 0.

    Example:
        >>> get_preset("efficientnet").rules[2].strategies[0]
        ('weight', FanUniform(gain=1.0, mode='fan_out'))
    """
    linear = Rule(nn.Linear, weight=FanUniform(mode="fan_out"), bias=Zeros(), label="linear")
    return _torchvision_cnn("efficientnet", linear, norms=(nn.BatchNorm2d, nn.GroupNorm))


@register_preset("mnasnet")
def mnasnet() -> Policy:
    """torchvision's MNASNet init (``torchvision/models/mnasnet.py``), bit for bit.

    Tan et al., "MnasNet: Platform-Aware Neural Architecture Search for Mobile" (2019).

    * ``Conv2d``: weight ``kaiming_normal(mode='fan_out', nonlinearity='relu')``, bias 0;
    * ``BatchNorm2d``: weight 1, bias 0;
    * ``Linear``: weight ``kaiming_uniform(mode='fan_out', nonlinearity='sigmoid')``, bias 0.

    Example:
        >>> get_preset("mnasnet").rules[2].strategies[0][1].nonlinearity
        'sigmoid'
    """
    return Policy(
        [
            Rule(
                nn.Conv2d,
                weight=KaimingNormal(mode="fan_out", nonlinearity="relu"),
                bias=Zeros(),
                label="conv",
            ),
            Rule(nn.BatchNorm2d, weight=Ones(), bias=Zeros(), label="norm"),
            Rule(
                nn.Linear,
                weight=KaimingUniform(mode="fan_out", nonlinearity="sigmoid"),
                bias=Zeros(),
                label="linear",
            ),
        ],
        name="mnasnet",
    )


@register_preset("densenet")
def densenet() -> Policy:
    """torchvision's DenseNet init (``torchvision/models/densenet.py``), bit for bit.

    Huang et al., "Densely Connected Convolutional Networks" (2017).

    * ``Conv2d``: weight ``kaiming_normal()`` (fan_in, leaky_relu gain, a=0);
    * ``BatchNorm2d``: weight 1, bias 0;
    * ``Linear``: bias 0 (the weight keeps PyTorch's default).

    Example:
        >>> [key for key, _ in get_preset("densenet").rules[2].strategies]
        ['bias']
    """
    return Policy(
        [
            Rule(nn.Conv2d, weight=KaimingNormal(), label="conv"),
            Rule(nn.BatchNorm2d, weight=Constant(1.0), bias=Constant(0.0), label="norm"),
            Rule(nn.Linear, bias=Constant(0.0), label="linear"),
        ],
        name="densenet",
    )


@register_preset("regnet")
def regnet() -> Policy:
    """torchvision's RegNet init (``torchvision/models/regnet.py``), bit for bit.

    Radosavovic et al., "Designing Network Design Spaces" (2020).

    * ``Conv2d``: weight N(0, 2 / fan_out) with fan_out = kh·kw·out_channels, i.e.
      ``variance_scaling(2, 'fan_out', 'normal')`` (computed as ``sqrt(2 / fan_out)``, as
      torchvision does, which ``kaiming_normal``'s ``sqrt(2) / sqrt(fan_out)`` is not);
    * ``BatchNorm2d``: weight 1, bias 0;
    * ``Linear``: weight ``normal(0, 0.01)``, bias 0.

    Example:
        >>> get_preset("regnet").rules[0].strategies[0]
        ('weight', VarianceScaling(scale=2.0, mode='fan_out', distribution='normal'))
    """
    return Policy(
        [
            Rule(nn.Conv2d, weight=VarianceScaling(2.0, "fan_out", "normal"), label="conv"),
            Rule(nn.BatchNorm2d, weight=Ones(), bias=Zeros(), label="norm"),
            Rule(nn.Linear, weight=Normal(0.0, 0.01), bias=Zeros(), label="linear"),
        ],
        name="regnet",
    )


@register_preset("convnext")
def convnext() -> Policy:
    """torchvision's ConvNeXt init (``torchvision/models/convnext.py``), bit for bit.

    Liu et al., "A ConvNet for the 2020s" (2022).

    * ``Conv2d`` and ``Linear``: weight ``trunc_normal(std=0.02)``, bias 0. As in
      torchvision, the bounds are the defaults a=-2, b=2, absolute values: at std 0.02 nothing
      is truncated in practice (``trunc_normal``'s ``a``/``b`` are not multiples of std).

    Example:
        >>> get_preset("convnext").rules[0].strategies[0]
        ('weight', TruncNormal(mean=0.0, std=0.02, a=-2.0, b=2.0))
    """
    return Policy(
        [
            Rule(
                (nn.Conv2d, nn.Linear),
                weight=TruncNormal(std=0.02),
                bias=Zeros(),
                label="conv/linear",
            )
        ],
        name="convnext",
    )


@register_preset("squeezenet")
def squeezenet(*, final_conv: str = "classifier.1") -> Policy:
    """torchvision's SqueezeNet init (``torchvision/models/squeezenet.py``), bit for bit.

    Iandola et al., "SqueezeNet" (2016).

    * ``Conv2d``: weight ``kaiming_uniform()`` (fan_in, leaky_relu gain, a=0), bias 0;
    * the final conv (``classifier.1`` in torchvision's model): weight ``normal(0, 0.01)``.

    Args:
        final_conv: glob naming the final conv layer, for models laid out differently.

    Example:
        >>> get_preset("squeezenet").rules[1].describe()
        'final conv'
    """
    return Policy(
        [
            Rule(nn.Conv2d, weight=KaimingUniform(), bias=Constant(0.0), label="conv"),
            Rule(name=final_conv, weight=Normal(0.0, 0.01), label="final conv"),
        ],
        name="squeezenet",
    )


@register_preset("googlenet")
def googlenet() -> Policy:
    """torchvision's GoogLeNet init (``torchvision/models/googlenet.py``), bit for bit.

    Szegedy et al., "Going Deeper with Convolutions" (2015).

    * ``Conv2d`` and ``Linear``: weight ``trunc_normal(0, 0.01, a=-2, b=2)`` (biases untouched);
    * ``BatchNorm2d``: weight 1, bias 0.

    Example:
        >>> get_preset("googlenet").rules[0].strategies[0][1].std
        0.01
    """
    return Policy(
        [
            Rule(
                (nn.Conv2d, nn.Linear),
                weight=TruncNormal(0.0, 0.01, -2.0, 2.0),
                label="conv/linear",
            ),
            Rule(nn.BatchNorm2d, weight=Constant(1.0), bias=Constant(0.0), label="norm"),
        ],
        name="googlenet",
    )


@register_preset("inception")
def inception() -> Policy:
    """torchvision's Inception v3 init (``torchvision/models/inception.py``), bit for bit.

    Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (2016).

    * ``Conv2d`` and ``Linear``: weight ``trunc_normal(0, std, a=-2, b=2)`` where ``std`` is
      the layer's own ``stddev`` attribute, 0.1 where it has none (torchvision sets 0.001 on
      the aux head's ``fc``);
    * ``BatchNorm2d``: weight 1, bias 0.

    Example:
        >>> get_preset("inception").rules[0].strategies[0][1].describe()
        "trunc_normal(mean=0.0, std=attr('stddev', default=0.1), a=-2.0, b=2.0)"
    """
    weight = to_strategy(
        {"trunc_normal": {"mean": 0.0, "std": FromAttr("stddev", 0.1), "a": -2.0, "b": 2.0}}
    )
    return Policy(
        [
            Rule((nn.Conv2d, nn.Linear), weight=weight, label="conv/linear"),
            Rule(nn.BatchNorm2d, weight=Constant(1.0), bias=Constant(0.0), label="norm"),
        ],
        name="inception",
    )


@register_preset("torch_default")
def torch_default() -> Policy:
    """Every layer's own default init: its ``reset_parameters()`` (or ``_reset_parameters()``).

    Each layer with parameters of its own is reset once, in ``model.modules()`` order, which
    for most models is the order they were built in: the result then equals what building the
    model under the same seed gives. torchvision's ``alexnet`` and ``shufflenet_v2`` have no
    init of their own and use this. A layer with parameters but no reset method is an error.

    Example:
        >>> get_preset("torch_default").rules[0].strategies
        (('*', TorchDefault()),)
    """
    return Policy(
        [Rule(nn.Module, params={"*": TorchDefault()}, label="layer default")],
        name="torch_default",
    )

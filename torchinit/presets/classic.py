"""Classic and scale-aware policies: Fixup, generic zero-init of residual branches, muP,
LeCun (SELU) and orthogonal RNN init.

==================  ==========================================  ================================
preset              source                                      checked (test_presets_classic)
==================  ==========================================  ================================
fixup               Zhang et al. 2019; ``hongyi-zhang/Fixup``   exact zeros; KS + std per tensor
zero_init_residual  Goyal et al. 2017; torchvision, timm        bit-exact, same tensors zeroed
mup                 Yang et al. 2022; the ``mup`` package       bit-exact vs ``mup.init``
lecun               Klambauer et al. 2017 (SELU)                KS + std; bit-exact untruncated
orthogonal_rnn      Saxe et al. 2014; Jozefowicz et al. 2015    bit-exact vs a hand loop; KS
==================  ==========================================  ================================

These presets never import torchvision, timm or mup: a library's own layer classes are matched
by name (``optional`` type names, resolved against the model's classes), so the same policy
serializes to the same YAML whether or not the library is imported.

The forget-gate bias of LSTMs is a slice of a bias tensor, which no whole-tensor strategy can
set; :class:`GateConstant` (``gate_constant``) fills one gate's rows of a gate-stacked tensor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError
from torchinit.policy import Policy, Rule
from torchinit.presets import (  # noqa: F401 (the examples use get_preset)
    FromModel,
    get_preset,
    loaded_class,
    register_preset,
)
from torchinit.presets.torchvision import NORM_LAYERS
from torchinit.strategies import (
    GateConstant,
    KaimingNormal,
    LecunNormal,
    Normal,
    Ones,
    Orthogonal,
    Strategy,
    VarianceScaling,
    XavierUniform,
    Zeros,
)

__all__: list[str] = []

#: Convolutions and linear layers: the "weight layers" of Fixup, LeCun and muP.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# --------------------------------------------------------------------------- helpers


def _library_rule(full_name: str, **kwargs: Any) -> Rule:
    """A rule on a library's layer class named in full, never importing the library.

    If the class's module is imported, the rule holds the class itself, as loading the
    policy's YAML twin gives; otherwise it holds the name (resolved against the model's
    classes when applied) and is optional: a model without that class skips it.
    """
    module, _, name = full_name.rpartition(".")
    cls = loaded_class(module, name)
    if cls is not None:
        return Rule(cls, optional=True, **kwargs)
    return Rule(type_names=[full_name], optional=True, **kwargs)


# --------------------------------------------------------------------------- fixup


def _branch_end_rules(last: Sequence[str]) -> list[Rule]:
    """Fixup's rules zeroing the last layer of each branch: one per glob of ``last_layers``."""
    return [
        Rule(WEIGHT_LAYERS, name=glob, weight=Zeros(), bias=Zeros(), label="branch end (zero)")
        for glob in last
    ]


def _count_branches(model: nn.Module, options: Mapping[str, Any]) -> tuple[int, str] | str:
    """L for Fixup: the number of layers of ``model`` its branch-end rules would zero."""
    last = _validate.globs(options["last_layers"], "fixup.last_layers", what="layers")
    ends = _branch_end_rules(last)
    names: dict[int, list[str]] = {}
    layers: dict[int, nn.Module] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names.setdefault(id(module), []).append(name)
        layers[id(module)] = module
    count = sum(
        any(rule.matches_type(module) and rule.matches_module_name(names[key]) for rule in ends)
        for key, module in layers.items()
    )
    if count == 0:
        return f"no conv or linear layer of the model matches last_layers {list(last)} to count"
    return count, "model: the layers matching last_layers"


# typed Any: in the signature it stands for the int counted from the model
#: Fixup's L: counted, the layers of the model that ``last_layers`` names.
NUM_BRANCHES: Any = FromModel(
    read=_count_branches, reads="a count of the layers matching last_layers"
)


@register_preset("fixup")
def fixup(
    *,
    num_branches: int = NUM_BRANCHES,
    layers_per_branch: int = 3,
    branch_layers: Sequence[str] = ("layer*.*.conv1", "layer*.*.conv2"),
    last_layers: Sequence[str] = ("layer*.*.conv3",),
    classifier: str = "fc",
    mode: str = "fan_out",
    scalar_biases: Sequence[str] = ("**.bias[0-9]*",),
    scalar_scales: Sequence[str] = ("**.scale",),
) -> Policy:
    """Fixup init for residual networks without normalization (Zhang et al. 2019).

    Zhang, Dauphin & Ma, "Fixup Initialization: Residual Learning Without Normalization"
    (ICLR 2019); reference code ``hongyi-zhang/Fixup``
    (``imagenet/models/fixup_resnet_imagenet.py``).
    With L residual branches of m weight layers each:

    * every conv and linear layer: He init, ``kaiming_normal(mode, nonlinearity='relu')``,
      bias 0 (the reference code uses ``fan_out``: std ``sqrt(2 / (out_channels·kh·kw))``);
    * the other layers of each branch (``branch_layers``): He init scaled by
      ``L^(-1/(2m-2))``, i.e. ``variance_scaling(2·L^(-1/(m-1)), mode, 'normal')``;
    * the last layer of each branch (``last_layers``) and the classifier: weight and bias 0;
    * Fixup's scalar biases (``bias1a``...) 0 and scalar multipliers (``scale``) 1.

    Unlike the reference code, which leaves the stem conv at PyTorch's default, the stem gets
    He init too (the paper: "every other layer" uses a standard init).

    The defaults fit a torchvision-style ResNet-50 built without normalization
    (``resnet50(norm_layer=nn.Identity)``) and the reference ``fixup_resnet50``:
    ``Bottleneck`` branches of 3 convs. For BasicBlock nets (ResNet-18/34) pass
    ``layers_per_branch=2, branch_layers=["layer*.*.conv1"], last_layers=["layer*.*.conv2"]``.
    L is counted from the model: the conv and linear layers ``last_layers`` names, one per
    branch (16 in ResNet-50, 8 in ResNet-18); a model with none of them is refused unless
    ``num_branches`` is given.

    Args:
        num_branches: L, the number of residual branches, ``>= 1``; default: counted from the
            model (the layers matching ``last_layers``).
        layers_per_branch: m, the number of weight layers in each branch, ``>= 2``.
        branch_layers: globs naming the branches' layers other than the last.
        last_layers: globs naming the last layer of each branch (zeroed).
        classifier: glob naming the final Linear layer (zeroed).
        mode: ``fan_in`` or ``fan_out``, the fan of the He init.
        scalar_biases: parameter globs of Fixup's scalar biases (set to 0).
        scalar_scales: parameter globs of Fixup's scalar multipliers (set to 1).

    Example:
        >>> get_preset("fixup", num_branches=16).rules[1].strategies[0][1]
        VarianceScaling(scale=0.5, mode='fan_out', distribution='normal')
        >>> import torch
        >>> net = torch.nn.Sequential()
        >>> for name in ("layer1", "layer2"):
        ...     block = torch.nn.Module()
        ...     block.conv1, block.conv2 = torch.nn.Conv2d(4, 4, 3), torch.nn.Conv2d(4, 4, 3)
        ...     net.add_module(name, torch.nn.Sequential(block))
        >>> policy = get_preset("fixup", model=net, last_layers=["layer*.*.conv2"])
        >>> policy.options["num_branches"]
        (2, 'model: the layers matching last_layers')
    """
    branches = _validate.integer(num_branches, "fixup.num_branches", minimum=1)
    m = _validate.integer(layers_per_branch, "fixup.layers_per_branch", minimum=2)
    branch = _validate.globs(branch_layers, "fixup.branch_layers", what="layers")
    last = _validate.globs(last_layers, "fixup.last_layers", what="layers")
    if not last:
        raise InvalidArgumentError(
            "must name the last layer of each branch", path="fixup.last_layers", got=[]
        )
    biases = _validate.globs(scalar_biases, "fixup.scalar_biases", what="parameters")
    scales = _validate.globs(scalar_scales, "fixup.scalar_scales", what="parameters")
    _validate.choice(mode, ("fan_in", "fan_out"), "fixup.mode")
    he = KaimingNormal(mode=mode, nonlinearity="relu")  # type: ignore[arg-type]
    scaled = VarianceScaling(2.0 * branches ** (-1.0 / (m - 1)), mode, "normal")  # type: ignore[arg-type]
    rules = [Rule(WEIGHT_LAYERS, weight=he, bias=Zeros(), label="he")]
    rules.extend(
        Rule(WEIGHT_LAYERS, name=glob, weight=scaled, label="branch (scaled)") for glob in branch
    )
    rules.extend(_branch_end_rules(last))
    rules.append(Rule(nn.Linear, name=classifier, weight=Zeros(), bias=Zeros(), label="classifier"))
    rules.extend(Rule(param=glob, init=Zeros(), label="scalar bias") for glob in biases)
    rules.extend(Rule(param=glob, init=Ones(), label="scalar scale") for glob in scales)
    return Policy(rules, name="fixup")


# --------------------------------------------------------------------------- zero-init residual

#: The last norm layer of each residual branch in the libraries' own blocks.
LIBRARY_RESIDUAL_NORMS: tuple[tuple[str, str], ...] = (
    ("torchvision.models.resnet.Bottleneck", "bn3"),
    ("torchvision.models.resnet.BasicBlock", "bn2"),
    ("timm.models.resnet.Bottleneck", "bn3"),
    ("timm.models.resnet.BasicBlock", "bn2"),
)


@register_preset("zero_init_residual")
def zero_init_residual(*, norms: Sequence[str] = (), library_blocks: bool = True) -> Policy:
    """Zero the weight of the last layer of each residual branch, and touch nothing else.

    Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour" (2017): with the
    last norm's scale at 0 each block starts as the identity. This preset only zeroes those
    weights; everything else is left unmatched, so use it after another init (two
    ``init_model`` calls, or ``extends:`` in YAML).

    * ``library_blocks``: ``bn3.weight`` of every ``Bottleneck`` and ``bn2.weight`` of every
      ``BasicBlock`` of torchvision (``resnet*(zero_init_residual=True)``) and of timm's
      ``timm.models.resnet`` (its blocks' ``zero_init_last()``), matched by class, so a
      Bottleneck's own ``bn2`` is never hit;
    * ``norms``: for any other residual model, globs naming the last norm (or conv/linear)
      layer of each branch, e.g. ``["blocks.*.norm2"]``; only that layer's weight is zeroed.

    Args:
        norms: globs naming the last norm/conv/linear layer of each residual branch.
        library_blocks: include torchvision's and timm's ResNet blocks.

    Example:
        >>> policy = get_preset("zero_init_residual", norms=["blocks.*.norm2"])
        >>> [rule.describe() for rule in policy.rules][-1]
        'zero-init residual'
    """
    globs = _validate.globs(norms, "zero_init_residual.norms", what="layers")
    _validate.boolean(library_blocks, "zero_init_residual.library_blocks")
    if not globs and not library_blocks:
        raise InvalidArgumentError(
            "needs at least one glob when library_blocks is false",
            path="zero_init_residual.norms",
            got=[],
        )
    rules = []
    if library_blocks:
        for full_name, norm in LIBRARY_RESIDUAL_NORMS:
            library = full_name.split(".")[0]
            block = full_name.rpartition(".")[2]
            rules.append(
                _library_rule(
                    full_name,
                    params={f"{norm}.weight": Zeros()},
                    label=f"zero-init {library} {block}.{norm}",
                )
            )
    rules.extend(
        Rule((*NORM_LAYERS, *WEIGHT_LAYERS), name=glob, weight=Zeros(), label="zero-init residual")
        for glob in globs
    )
    return Policy(rules, name="zero_init_residual")


# --------------------------------------------------------------------------- muP


def _hidden_width_mult(model: nn.Module, options: Mapping[str, Any]) -> tuple[float, str] | str:
    """The width multiplier mup's ``set_base_shapes`` gave the hidden (width x width) weights."""
    mults = set()
    for parameter in model.parameters():
        infshape = getattr(parameter, "infshape", None)
        if infshape is not None and infshape.ninf() == 2:
            mults.add(float(infshape.width_mult()))
    if len(mults) == 1:
        return mults.pop(), "model: the hidden parameters' infshape.width_mult()"
    if mults:
        return f"the model's hidden parameters have different width multipliers {sorted(mults)}"
    return "no hidden parameter of the model has mup's infshape (mup.set_base_shapes)"


# typed Any: in the signature it stands for the float read from the model
#: muP's width multiplier, as mup's ``set_base_shapes`` recorded it on the parameters.
WIDTH_MULT: Any = FromModel(read=_hidden_width_mult, reads="the hidden parameters' mup infshape")


@register_preset("mup")
def mup(
    *,
    width_mult: float = WIDTH_MULT,
    std: float = 0.02,
    readout_zero: bool = True,
    input_layers: Sequence[str] = (),
    readout: Sequence[str] = (),
) -> Policy:
    """Maximal update parametrization (μP) init for width-scaled networks.

    Yang et al., "Tensor Programs V: Tuning Large Neural Networks via Zero-Shot Hyperparameter
    Transfer" (2022); the ``mup`` package's ``mup.init.normal_`` after ``set_base_shapes``,
    with ``MuReadout`` output layers. With ``width_mult`` = width / base width:

    * hidden weights (both dimensions scale with width: ``Linear``, convs,
      ``MultiheadAttention``'s projections): ``normal(0, std · width_mult^-1/2)``;
    * input weights (fan-in fixed: every ``Embedding``, and the layers named by
      ``input_layers``, e.g. an MLP's first layer or a ViT's patch embedding):
      ``normal(0, std)``;
    * the readout (every ``mup.MuReadout``, and the Linear layers named by ``readout``): 0
      with ``readout_zero``, else ``normal(0, std)`` (constant: ``MuReadout`` divides its input
      by the width multiplier in ``forward``, so a plain ``nn.Linear`` readout is not μP);
      a ``MuSharedReadout`` tied to the embedding is never zeroed: the shared matrix gets the
      embedding's ``normal(0, std)``, as with the mup package;
    * every bias 0; norm layers weight 1, bias 0.

    muP is an init *and* a forward/optimizer parametrization: use ``mup.MuReadout``, attention
    scaled by 1/d and ``mup.MuAdam``/``MuSGD`` as the mup package says; this preset is the init.
    mup attaches each parameter's width multiplier to the parameter (``p.infshape``, set by
    ``mup.set_base_shapes``): when ``width_mult`` is not given it is read from there, and
    must be the same for every hidden parameter (one multiplier for the whole model, as when
    every width dimension is scaled together); a model without ``infshape`` needs it given.

    Args:
        width_mult: width / base width, ``> 0``; default: the hidden parameters'
            ``infshape.width_mult()``.
        std: the base-width standard deviation, ``> 0``.
        readout_zero: zero the readout (recommended by the mup package) instead of
            ``normal(0, std)``.
        input_layers: globs naming Linear/conv layers whose fan-in does not scale with width.
        readout: globs naming readout Linear layers that are not ``MuReadout``.

    Example:
        >>> get_preset("mup", width_mult=4.0).rules[0].strategies[0]
        ('weight', Normal(mean=0.0, std=0.01))
    """
    mult = _validate.positive(width_mult, "mup.width_mult")
    base = _validate.positive(std, "mup.std")
    _validate.boolean(readout_zero, "mup.readout_zero")
    inputs = _validate.globs(input_layers, "mup.input_layers", what="layers")
    readouts = _validate.globs(readout, "mup.readout", what="layers")
    hidden = Normal(0.0, base * mult**-0.5)  # the float mup.init.normal_ computes
    fixed = Normal(0.0, base)
    out: Strategy = Zeros() if readout_zero else fixed
    norms = tuple(cls for cls in NORM_LAYERS if cls is not nn.RMSNorm)
    rules = [
        Rule(WEIGHT_LAYERS, weight=hidden, bias=Zeros(), label="hidden"),
        Rule(
            nn.MultiheadAttention,
            params={"*proj_weight": hidden, "in_proj_bias": Zeros()},
            label="hidden attention",
        ),
        Rule(nn.Embedding, weight=fixed, label="input embedding"),
        *(Rule(WEIGHT_LAYERS, name=glob, weight=fixed, label="input") for glob in inputs),
        Rule(norms, weight=Ones(), bias=Zeros(), label="norm"),
        Rule(nn.RMSNorm, weight=Ones(), label="rms norm"),
        _library_rule("mup.layer.MuReadout", weight=out, bias=Zeros(), label="readout"),
        # a readout tied to the embedding keeps the embedding's init (as in mup)
        _library_rule("mup.layer.MuSharedReadout", weight=fixed, label="tied readout"),
        *(
            Rule(nn.Linear, name=glob, weight=out, bias=Zeros(), label="readout")
            for glob in readouts
        ),
    ]
    return Policy(rules, name="mup")


# --------------------------------------------------------------------------- LeCun / SELU


@register_preset("lecun")
def lecun(*, truncated: bool = True) -> Policy:
    """LeCun normal init for self-normalizing (SELU) networks.

    LeCun et al., "Efficient BackProp" (1998); Klambauer et al., "Self-Normalizing Neural
    Networks" (2017): weights with variance ``1 / fan_in``, biases 0.

    * ``Linear`` and convs: ``lecun_normal`` (JAX/Keras: truncated at ±2σ of the inner normal,
      rescaled to variance ``1/fan_in``), or with ``truncated=False`` PyTorch's recommendation
      in ``nn.SELU``'s docs, ``kaiming_normal(nonlinearity='linear')`` = N(0, 1/fan_in);
    * biases: 0. Everything else is left as built.

    Args:
        truncated: truncated normal (JAX/Keras) rather than PyTorch's plain normal.

    Example:
        >>> get_preset("lecun", truncated=False).rules[0].strategies[0][1].nonlinearity
        'linear'
    """
    _validate.boolean(truncated, "lecun.truncated")
    weight: Strategy = LecunNormal() if truncated else KaimingNormal(nonlinearity="linear")
    return Policy([Rule(WEIGHT_LAYERS, weight=weight, bias=Zeros(), label="lecun")], name="lecun")


# --------------------------------------------------------------------------- orthogonal RNN


@register_preset("orthogonal_rnn")
def orthogonal_rnn(*, forget_bias: float = 1.0) -> Policy:
    """Orthogonal recurrent weights, Xavier input weights, LSTM forget-gate bias.

    Saxe et al., "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks" (2014) for orthogonal recurrent matrices; Jozefowicz et al., "An Empirical
    Exploration of Recurrent Network Architectures" (2015) for the forget-gate bias of 1; the
    same as Keras's LSTM defaults (``glorot_uniform``, ``orthogonal``, ``unit_forget_bias``).
    For every ``nn.RNN``/``GRU``/``LSTM`` and their cells:

    * ``weight_hh*``: ``orthogonal()`` on the whole gate-stacked matrix (as Keras);
    * ``weight_ih*`` and the LSTM projection ``weight_hr*``: ``xavier_uniform()``;
    * biases 0, except the forget-gate rows of LSTM ``bias_ih*`` (rows ``hidden:2*hidden``,
      gate order i, f, g, o): ``forget_bias``. PyTorch adds ``bias_ih`` and ``bias_hh``, so
      setting it on ``bias_ih`` only gives an effective forget bias of ``forget_bias``.

    Args:
        forget_bias: the LSTM forget-gate bias.

    Example:
        >>> get_preset("orthogonal_rnn").rules[1].strategies[0]
        ('bias_ih*', GateConstant(gates=4, index=1, value=1.0, fill=0.0))
    """
    forget = _validate.number(forget_bias, "orthogonal_rnn.forget_bias")
    return Policy(
        [
            Rule(
                (nn.RNNBase, nn.RNNCellBase),
                params={
                    "weight_ih*": XavierUniform(),
                    "weight_hh*": Orthogonal(),
                    "weight_hr*": XavierUniform(),
                    "bias_*": Zeros(),
                },
                label="recurrent",
            ),
            Rule(
                (nn.LSTM, nn.LSTMCell),
                params={"bias_ih*": GateConstant(gates=4, index=1, value=forget)},
                label="lstm forget gate",
            ),
        ],
        name="orthogonal_rnn",
    )

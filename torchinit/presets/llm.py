"""Presets for the named init schemes of large-language-model codebases and papers: Megatron-LM,
GPT-NeoX, OLMo-core, DeepNet (DeepNorm) and T-Fixup.

* ``megatron``: Megatron-LM, ``megatron/core/utils.py`` (``init_method_normal``,
  ``scaled_init_method_normal``) as ``TransformerConfig`` sets them up;
* ``gpt_neox``: GPT-NeoX, ``megatron/model/init_functions.py`` (``get_init_methods``:
  ``normal``, ``scaled_normal``, ``small_init``, ``wang_init``, ...);
* ``olmo_core``: OLMo-core, ``olmo_core/nn/transformer/init.py`` (``InitMethod``: ``normal``,
  ``llama``, ``llama_depth``, ``fan_in``);
* ``deepnet``: Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers" (the
  paper's pseudo-code);
* ``t_fixup``: Huang et al. 2020, "Improving Transformer Optimization Through Better
  Initialization"; reference code ``layer6ai-labs/T-Fixup``.

None of these codebases is a package that installs here (Megatron-LM and GPT-NeoX need their
own launchers, OLMo-core its CUDA stack; DeepNet and T-Fixup are papers): the tests
(``tests/test_presets_llm.py``) write each scheme's few lines out and compare the draws with
them (KS test and std), and check every tensor's planned law against the formula.

**Layer roles are name globs.** These schemes treat a linear layer by what it does: the
residual output projections (attention out, MLP down) get a depth-scaled std, DeepNet's
query/key keep gain 1 while value, output and FFN get β. The defaults name the layers of
Hugging Face LLaMA-style models (``*.self_attn.{q,k,v,o}_proj``, ``*.mlp.{gate,up,down}_proj``),
GPT-2/nanoGPT (``c_attn``, ``attn.c_proj``, ``c_fc``, ``mlp.c_proj``), Megatron-LM/GPT-NeoX
(``query_key_value``, ``dense``, ``dense_h_to_4h``, ``dense_4h_to_h``, Megatron-core's
``linear_qkv``, ``linear_proj``, ``linear_fc1``, ``linear_fc2``), OLMo-core (``w_q``...,
``attention.w_out``, ``feed_forward.w1/w2/w3``) and fairseq/torchscale (``q_proj``...,
``out_proj``, ``fc1``, ``fc2``); every preset takes them as options (lists of globs) for other
names. A fused query/key/value matrix (``c_attn``, ``query_key_value``) is one tensor: a
scheme that treats value apart from query and key (DeepNet, T-Fixup) cannot scale a third of
it, so those presets need separate projections (see their docstrings).

**Depth and width are options read from the model**: ``num_layers`` from
``model.config.num_hidden_layers`` (or ``n_layer``, ``num_layers``, OLMo-core's
``model.n_layers``), ``hidden_size``/``d_model`` from ``model.config.hidden_size`` (or
``n_embd``, ``d_model``, OLMo-core's ``model.d_model``). An option a scheme needs and the
model does not give must be passed: never a guess. Options only some init methods use
(``gpt_neox``'s ``hidden_size`` for ``small_init``) are required only by those.

Linear layers are ``torch.nn.Linear`` and Hugging Face's ``Conv1D`` (GPT-2's projections,
matched by name, never imported); every scheme here draws them with a fixed std or Xavier's
symmetric fans, which a transposed weight does not change.

A tied LM head (``lm_head.weight`` is the embedding matrix) is one tensor, drawn once: the
embedding rule comes last in every preset, so it keeps the embedding's init, as these
codebases do (they skip the output layer's init when it is tied).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError, did_you_mean
from torchinit.policy import Policy, Rule
from torchinit.presets import (  # noqa: F401 (the examples use get_preset)
    FromModel,
    get_preset,
    register_preset,
)
from torchinit.presets.transformers import layer_norm, rms_norm
from torchinit.strategies import (
    Normal,
    Strategy,
    TruncNormal,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zeros,
)

__all__: list[str] = []

# --------------------------------------------------------------------------- layer roles

#: Separate query and key projections: Hugging Face/fairseq ``q_proj``, OLMo-core ``w_q``.
QUERY_KEY: tuple[str, ...] = ("**.q_proj", "**.k_proj", "**.w_q", "**.w_k")
#: Separate value projections.
VALUE: tuple[str, ...] = ("**.v_proj", "**.w_v")
#: Attention output projections (a residual branch's last layer).
ATTENTION_OUTPUT: tuple[str, ...] = (
    "**.o_proj",  # Hugging Face LLaMA-style
    "**.out_proj",  # fairseq, torchscale, torch.nn.MultiheadAttention
    "**.attn.c_proj",  # GPT-2, nanoGPT
    "**.attention.dense",  # GPT-NeoX
    "**.self_attention.dense",  # Megatron-LM (legacy)
    "**.linear_proj",  # Megatron-core
    "**.attention.w_out",  # OLMo-core
)
#: The gate of a gated MLP (SwiGLU): ``act(gate(x)) * up(x)``.
FFN_GATE: tuple[str, ...] = ("**.gate_proj", "**.feed_forward.w1")
#: An MLP's input projection (the "up" half of a gated one).
FFN_UP: tuple[str, ...] = (
    "**.up_proj",
    "**.c_fc",
    "**.dense_h_to_4h",
    "**.linear_fc1",
    "**.mlp.linear1",  # GPT-NeoX's current ParallelMLP
    "**.fc1",
    "**.feed_forward.w3",
)
#: An MLP's output projection (a residual branch's last layer).
FFN_DOWN: tuple[str, ...] = (
    "**.down_proj",
    "**.mlp.c_proj",
    "**.dense_4h_to_h",
    "**.linear_fc2",
    "**.mlp.linear2",
    "**.fc2",
    "**.feed_forward.w2",
)
#: The residual output projections Megatron-LM and GPT-NeoX give ``output_layer_init_method``.
OUTPUT_LAYERS: tuple[str, ...] = ATTENTION_OUTPUT + FFN_DOWN
#: Every MLP projection: DeepNet's and T-Fixup's "FFN".
FFN: tuple[str, ...] = FFN_GATE + FFN_UP + FFN_DOWN

# typed Any: in the signatures they stand for the int read from the model
_LAYER_PATHS = ("config.num_hidden_layers", "config.n_layer", "config.num_layers", "n_layers")
_WIDTH_PATHS = ("config.hidden_size", "config.n_embd", "config.d_model", "d_model")
#: The number of transformer blocks; required.
NUM_LAYERS: Any = FromModel(*_LAYER_PATHS)
#: The number of transformer blocks, for the init methods that use it.
NUM_LAYERS_IF_NEEDED: Any = FromModel(*_LAYER_PATHS, default=None)
#: The model width, for the init methods that use it.
HIDDEN_SIZE_IF_NEEDED: Any = FromModel(*_WIDTH_PATHS, default=None)
#: The decoder's depth M of an encoder-decoder model.
DECODER_LAYERS: Any = FromModel("config.decoder_layers", "config.num_decoder_layers", default=None)
#: The MLP's hidden width (OLMo-core ``fan_in``'s ``w2``).
FFN_HIDDEN_SIZE: Any = FromModel("config.intermediate_size", default=None)
#: OLMo-core's ``embed_scale`` (the model's attribute; usually none).
EMBED_SCALE: Any = FromModel("embed_scale", default=None)

ARCHITECTURES: tuple[str, ...] = ("decoder", "encoder", "encoder_decoder")


# --------------------------------------------------------------------------- helpers


def _norms() -> list[Rule]:
    """Norm layers as every one of these codebases builds them: weight 1, bias 0."""
    return [layer_norm(), rms_norm()]


def _method(value: Any, methods: Sequence[str], path: str) -> str:
    """An init method's name, a typo answered with the closest one."""
    _validate.string(value, path)
    if value not in methods:
        raise InvalidArgumentError(
            did_you_mean("unknown init method", value, methods, f"known: {list(methods)}"),
            path=path,
            got=value,
        )
    return str(value)


def _needed(value: Any, path: str, marker: FromModel, needed_by: str) -> int:
    """An integer option an init method needs: given or read from the model, else refused."""
    if value is None:
        key = path.rpartition(".")[2]
        raise InvalidArgumentError(
            f"needed by {needed_by}; not given and not read from the model "
            f"({marker.reads}); pass {key}=...",
            path=path,
        )
    return _validate.integer(value, path, minimum=1)


def _scoped(scope: str | None, globs: Sequence[str]) -> tuple[str, ...]:
    """``globs`` under the layer glob ``scope`` (``**.encoder`` + ``**.fc1``), or as they are."""
    return tuple(globs) if scope is None else tuple(f"{scope}.{glob}" for glob in globs)


def _linear(**kwargs: Any) -> Rule:
    """A rule on linear layers: ``nn.Linear`` and Hugging Face's ``Conv1D`` (GPT-2's)."""
    return Rule(nn.Linear, type_names=["Conv1D"], optional=True, **kwargs)


def _named(globs: Sequence[str], weight: Strategy, label: str) -> list[Rule]:
    """One rule per glob giving the linear layers it names ``weight``."""
    return [_linear(name=glob, weight=weight, label=label) for glob in globs]


def _trunc(std: float) -> TruncNormal:
    """OLMo-core's ``init_linear``: a normal truncated at three of its standard deviations."""
    return TruncNormal(0.0, std, -3 * std, 3 * std)


# --------------------------------------------------------------------------- Megatron-LM


@register_preset("megatron")
def megatron(
    *,
    num_layers: int = NUM_LAYERS,
    init_method_std: float = 0.02,
    embedding_init_method_std: float | None = None,
    output_layers: Sequence[str] = OUTPUT_LAYERS,
) -> Policy:
    """Megatron-LM's default init (``megatron/core/transformer/transformer_config.py``).

    Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models Using Model
    Parallelism" (2019). ``TransformerConfig.__post_init__`` sets ``init_method`` to
    ``init_method_normal(init_method_std)`` and ``output_layer_init_method`` to
    ``scaled_init_method_normal(init_method_std, num_layers)`` (``megatron/core/utils.py``),
    which attention's ``linear_proj`` and the MLP's ``linear_fc2`` use:

    * every ``Linear`` (``linear_qkv``, ``linear_fc1``, the untied ``output_layer``):
      weight ``normal(0, σ)``, bias 0, σ = ``init_method_std``;
    * the residual output projections (``output_layers``):
      ``normal(0, σ / sqrt(2 · num_layers))``;
    * ``Embedding`` (word and position): ``normal(0, embedding_init_method_std)``, σ when
      not given;
    * ``LayerNorm``: weight 1, bias 0; RMS norms: weight 1.

    Not reproduced: hybrid (Mamba) models' multiplier 1 (``gpt_neox``'s
    ``single_residual_scaled_normal`` is that law) and the ``use_mup`` variants.

    Args:
        num_layers: the number of transformer blocks; default: the model's
            ``config.num_hidden_layers`` (``n_layer``, ``num_layers``), required without one.
        init_method_std: σ, Megatron's ``--init-method-std``.
        embedding_init_method_std: the embeddings' std; default: σ.
        output_layers: globs naming the residual output projections.

    Example:
        >>> policy = get_preset("megatron", num_layers=8)
        >>> policy.rules[3].describe(), policy.rules[3].strategies[0][1]
        ('output_layer_init_method', Normal(mean=0.0, std=0.005))
    """
    layers = _validate.integer(num_layers, "megatron.num_layers", minimum=1)
    sigma = _validate.positive(init_method_std, "megatron.init_method_std")
    embedding_std = (
        sigma
        if embedding_init_method_std is None
        else _validate.positive(embedding_init_method_std, "megatron.embedding_init_method_std")
    )
    outputs = _validate.globs(output_layers, "megatron.output_layers", what="layers")
    scaled = Normal(0.0, sigma / math.sqrt(2.0 * layers))  # multiplier 2.0: two residuals
    return Policy(
        [
            _linear(weight=Normal(0.0, sigma), bias=Zeros(), label="init_method"),
            *_norms(),
            *_named(outputs, scaled, "output_layer_init_method"),
            Rule(nn.Embedding, weight=Normal(0.0, embedding_std), label="embedding_init_method"),
        ],
        name="megatron",
    )


# --------------------------------------------------------------------------- GPT-NeoX

#: GPT-NeoX's init methods this preset reproduces (``megatron/model/init_functions.py``).
NEOX_METHODS: tuple[str, ...] = (
    "normal",
    "scaled_normal",
    "single_residual_scaled_normal",
    "small_init",
    "wang_init",
    "xavier_uniform",
    "xavier_normal",
)


def _neox_strategy(
    method: str, key: str, *, sigma: float, num_layers: Any, hidden_size: Any
) -> Strategy:
    """GPT-NeoX's ``get_init_methods``: the strategy of one init method."""
    path = f"gpt_neox.{key}"

    def depth() -> int:
        return _needed(
            num_layers, "gpt_neox.num_layers", NUM_LAYERS_IF_NEEDED, f"{path} {method!r}"
        )

    def width() -> int:
        return _needed(
            hidden_size, "gpt_neox.hidden_size", HIDDEN_SIZE_IF_NEEDED, f"{path} {method!r}"
        )

    if method == "normal":
        return Normal(0.0, sigma)
    elif method == "scaled_normal":
        return Normal(0.0, sigma / math.sqrt(2 * depth()))
    elif method == "single_residual_scaled_normal":
        return Normal(0.0, sigma / math.sqrt(1 * depth()))
    elif method == "small_init":
        return Normal(0.0, math.sqrt(2 / (5 * width())))
    elif method == "wang_init":
        return Normal(0.0, 2 / depth() / math.sqrt(width()))
    elif method == "xavier_uniform":
        return XavierUniform()
    elif method == "xavier_normal":
        return XavierNormal()
    else:
        raise AssertionError(f"unreachable: init method {method!r} was validated")


@register_preset("gpt_neox")
def gpt_neox(
    *,
    init_method: str = "small_init",
    output_layer_init_method: str = "wang_init",
    num_layers: int = NUM_LAYERS_IF_NEEDED,
    hidden_size: int = HIDDEN_SIZE_IF_NEEDED,
    init_method_std: float = 0.02,
    output_layers: Sequence[str] = OUTPUT_LAYERS,
) -> Policy:
    """GPT-NeoX's init methods (``EleutherAI/gpt-neox``, ``megatron/model/init_functions.py``).

    Black et al., "GPT-NeoX-20B: An Open-Source Autoregressive Language Model" (2022).
    ``get_init_methods(args)`` returns ``init_method``, used by every linear layer
    (``query_key_value``, ``dense_h_to_4h``/``linear1``, the untied ``final_linear``) and
    the embeddings, and ``output_layer_init_method``, used by the residual output projections
    (attention ``dense``, MLP ``dense_4h_to_h``/``linear2``). With σ = ``init_method_std``,
    L = ``num_layers``, d = ``hidden_size``, each method is a draw:

    * ``normal``: N(0, σ); ``scaled_normal``: N(0, σ / sqrt(2L));
      ``single_residual_scaled_normal``: N(0, σ / sqrt(L)) (one residual per layer, Mamba);
    * ``small_init``: N(0, sqrt(2 / (5d))) (Nguyen & Salazar, "Transformers without Tears",
      2019);
    * ``wang_init``: N(0, 2 / L / sqrt(d)) (Ben Wang's Mesh-Transformer-JAX);
    * ``xavier_uniform``, ``xavier_normal``: torch's, gain 1.

    Biases 0, ``LayerNorm`` weight 1 and bias 0, RMS norms weight 1. The defaults,
    ``small_init`` and ``wang_init``, are what GPT-NeoX's own configs use (``configs/20B.yml``,
    ``configs/pythia/*.yml``); GPT-NeoX's argument defaults, ``normal`` and ``scaled_normal``,
    are the ``megatron`` preset. Not reproduced: ``orthogonal`` and ``scaled_orthogonal``,
    and the ``use_mup`` variants (use the ``mup`` preset).

    Args:
        init_method: the method of every layer but the output projections.
        output_layer_init_method: the method of the ``output_layers``.
        num_layers: L, for the methods that use it; default: the model's
            ``config.num_hidden_layers`` (``n_layer``, ``num_layers``).
        hidden_size: d, for ``small_init`` and ``wang_init``; default: the model's
            ``config.hidden_size`` (``n_embd``, ``d_model``).
        init_method_std: σ, GPT-NeoX's ``init_method_std``.
        output_layers: globs naming the residual output projections.

    Example:
        >>> policy = get_preset("gpt_neox", num_layers=4, hidden_size=100)
        >>> policy.rules[0].strategies[0][1], policy.rules[3].strategies[0][1]
        (Normal(mean=0.0, std=0.06324555320336758), Normal(mean=0.0, std=0.05))
    """
    inner = _method(init_method, NEOX_METHODS, "gpt_neox.init_method")
    outer = _method(output_layer_init_method, NEOX_METHODS, "gpt_neox.output_layer_init_method")
    sigma = _validate.positive(init_method_std, "gpt_neox.init_method_std")
    outputs = _validate.globs(output_layers, "gpt_neox.output_layers", what="layers")
    sizes = {"sigma": sigma, "num_layers": num_layers, "hidden_size": hidden_size}
    weight = _neox_strategy(inner, "init_method", **sizes)
    output = _neox_strategy(outer, "output_layer_init_method", **sizes)
    return Policy(
        [
            _linear(weight=weight, bias=Zeros(), label=f"init_method ({inner})"),
            *_norms(),
            *_named(outputs, output, f"output_layer_init_method ({outer})"),
            Rule(nn.Embedding, weight=weight, label=f"embedding init_method ({inner})"),
        ],
        name="gpt_neox",
    )


# --------------------------------------------------------------------------- OLMo-core

#: OLMo-core's ``InitMethod`` members this preset reproduces (all but ``normalized``).
OLMO_METHODS: tuple[str, ...] = ("normal", "llama", "llama_depth", "fan_in")


@register_preset("olmo_core")
def olmo_core(
    *,
    init_method: str = "normal",
    init_std: float = 0.02,
    embedding_init_std: float | None = None,
    d_model: int = HIDDEN_SIZE_IF_NEEDED,
    num_layers: int = NUM_LAYERS_IF_NEEDED,
    ffn_hidden_size: int = FFN_HIDDEN_SIZE,
    embed_scale: float | None = EMBED_SCALE,
    blocks: Sequence[str] = ("**.blocks", "**.layers"),
    attention_output: Sequence[str] = ("**.o_proj", "**.attention.w_out"),
    ffn_up: Sequence[str] = ("**.feed_forward.w3", "**.up_proj"),
    ffn_down: Sequence[str] = ("**.feed_forward.w2", "**.down_proj"),
    lm_head: Sequence[str] = ("**.lm_head.w_out", "**.lm_head"),
) -> Policy:
    """OLMo-core's ``InitMethod`` (``allenai/OLMo-core``, ``olmo_core/nn/transformer/init.py``).

    Groeneveld et al., "OLMo: Accelerating the Science of Language Models" (2024).
    ``Transformer.init_weights`` resets the norms, then asks its ``init_method`` for each
    tensor. ``init_linear`` draws ``trunc_normal(0, std, a=-3·std, b=3·std)`` (written
    T(std) below) and zeroes the bias. With σ = ``init_std``, d = ``d_model``,
    L = ``num_layers``, i the block's index:

    =====================  ============  ==============  ===================  =============
    tensor                 ``normal``    ``llama``       ``llama_depth``      ``fan_in``
    =====================  ============  ==============  ===================  =============
    embeddings             T(σ_emb)      N(0, 1)         N(0, 1)              N(0, 1/scale)
    q, k, v, fused qkv     T(σ)          T(σ)            T(σ)                 T(d^-1/2)
    attention ``w_out``    T(σ)          T(σ/√(2L))      T(σ/√(2(i+1)))       T(d^-1/2)
    MLP ``w1`` (gate)      T(σ)          T(σ)            T(σ)                 T(d^-1/2)
    MLP ``w3`` (up)        T(σ)          T(σ/√(2L))      T(σ/√(2(i+1)))       T(d^-1/2)
    MLP ``w2`` (down)      T(σ)          T(σ/√(2L))      T(σ/√(2(i+1)))       T(h^-1/2)
    LM head ``w_out``      T(σ)          T(d^-1/2)       T(d^-1/2)            T(d^-1/2)
    =====================  ============  ==============  ===================  =============

    σ_emb is ``embedding_init_std`` (σ when not given), h the MLP's hidden size, ``scale``
    the model's ``embed_scale`` (1 without one). In ``llama`` the MLP's ``w2`` gets the
    scaled std because ``init_feed_forward`` reuses the variable ``std`` it scaled for
    ``w3``. ``fan_in`` is ``1/sqrt(in_features)`` per layer: d for every projection out of
    the residual stream, h for ``w2``; attention's ``w_out`` takes ``n_heads · head_dim``
    inputs, taken here to be d (OLMo-core's default ``head_dim = d_model / n_heads``).
    Other linear layers (an attention gate ``w_g``) get the q/k/v std. Norms: weight 1,
    bias 0 (their ``reset_parameters``). Not reproduced: ``normalized`` (nGPT: it also
    normalizes the matrices), and the MoE layers.

    Args:
        init_method: one of ``normal`` (OLMo-core's default), ``llama``, ``llama_depth``,
            ``fan_in``.
        init_std: σ, ``TransformerConfig.init_std``.
        embedding_init_std: σ_emb (``normal`` only); default: σ.
        d_model: d, for ``llama``, ``llama_depth`` and ``fan_in``; default: the model's
            ``d_model`` or ``config.hidden_size``.
        num_layers: L, for ``llama`` and ``llama_depth``; default: the model's
            ``n_layers`` or ``config.num_hidden_layers``.
        ffn_hidden_size: h, for ``fan_in``; default: ``config.intermediate_size``.
        embed_scale: ``fan_in``'s embedding scale; default: the model's ``embed_scale``.
        blocks: globs naming the list of blocks, whose children are named by their index
            (``blocks.0``, ``layers.0``): ``llama_depth`` reads i from the name.
        attention_output: globs naming attention's output projection.
        ffn_up: globs naming the MLP's up projection (``w3``).
        ffn_down: globs naming the MLP's down projection (``w2``).
        lm_head: globs naming the (untied) output layer.

    Example:
        >>> policy = get_preset("olmo_core", init_method="llama", d_model=64, num_layers=2)
        >>> policy.rules[-1].strategies[0][1]
        Normal(mean=0.0, std=1.0)
    """
    method = _method(init_method, OLMO_METHODS, "olmo_core.init_method")
    sigma = _validate.positive(init_std, "olmo_core.init_std")
    embedding_std = (
        sigma
        if embedding_init_std is None
        else _validate.positive(embedding_init_std, "olmo_core.embedding_init_std")
    )
    block_globs = _validate.globs(blocks, "olmo_core.blocks", what="layers")
    out_globs = _validate.globs(attention_output, "olmo_core.attention_output", what="layers")
    up_globs = _validate.globs(ffn_up, "olmo_core.ffn_up", what="layers")
    down_globs = _validate.globs(ffn_down, "olmo_core.ffn_down", what="layers")
    head_globs = _validate.globs(lm_head, "olmo_core.lm_head", what="layers")
    needed_by = f"olmo_core.init_method {method!r}"

    def width() -> int:
        return _needed(d_model, "olmo_core.d_model", HIDDEN_SIZE_IF_NEEDED, needed_by)

    def depth() -> int:
        return _needed(num_layers, "olmo_core.num_layers", NUM_LAYERS_IF_NEEDED, needed_by)

    scaled = [*out_globs, *up_globs, *down_globs]
    embedding: Strategy
    rules: list[Rule] = []
    if method == "normal":
        rules.append(_linear(weight=_trunc(sigma), bias=Zeros(), label="init_linear"))
        embedding = _trunc(embedding_std)
    elif method == "llama":
        rules.append(_linear(weight=_trunc(sigma), bias=Zeros(), label="init_linear"))
        rules += _named(scaled, _trunc(sigma / (2 * depth()) ** 0.5), "llama: depth-scaled")
        rules += _named(head_globs, _trunc(width() ** -0.5), "final w_out")
        embedding = Normal(0.0, 1.0)
    elif method == "llama_depth":
        rules.append(_linear(weight=_trunc(sigma), bias=Zeros(), label="init_linear"))
        for index in range(depth()):
            weight = _trunc(sigma / (2 * (index + 1)) ** 0.5)
            for block in block_globs:
                rules += _named(
                    _scoped(f"{block}.{index}", scaled), weight, f"llama_depth: block {index}"
                )
        rules += _named(head_globs, _trunc(width() ** -0.5), "final w_out")
        embedding = Normal(0.0, 1.0)
    elif method == "fan_in":
        hidden = _needed(ffn_hidden_size, "olmo_core.ffn_hidden_size", FFN_HIDDEN_SIZE, needed_by)
        scale = (
            1.0 if embed_scale is None else _validate.positive(embed_scale, "olmo_core.embed_scale")
        )
        rules.append(_linear(weight=_trunc(width() ** -0.5), bias=Zeros(), label="fan_in"))
        rules += _named(down_globs, _trunc(hidden**-0.5), "fan_in: w2")
        embedding = Normal(0.0, 1.0 / scale)
    else:
        raise AssertionError(f"unreachable: init method {method!r} was validated")
    # OLMo-core's norms and their bias: reset_parameters() before the init method runs
    rules += _norms()
    rules.append(Rule(nn.Embedding, weight=embedding, label="embeddings"))
    return Policy(rules, name="olmo_core")


# --------------------------------------------------------------------------- DeepNet


def _architecture(value: Any, path: str, decoder_layers: Any) -> tuple[str, int | None]:
    """The architecture and, for an encoder-decoder, the decoder's depth M."""
    architecture = _validate.choice(value, ARCHITECTURES, path)
    if architecture != "encoder_decoder":
        return architecture, None
    preset = path.partition(".")[0]
    m = _needed(
        decoder_layers, f"{preset}.decoder_layers", DECODER_LAYERS, "architecture 'encoder_decoder'"
    )
    return architecture, m


def _scopes(
    architecture: str, encoder: str, decoder: str, preset: str
) -> list[tuple[str, str | None]]:
    """(part, layer glob scoping its rules) for each stack of ``architecture``."""
    if architecture == "encoder_decoder":
        return [
            ("encoder", _validate.string(encoder, f"{preset}.encoder")),
            ("decoder", _validate.string(decoder, f"{preset}.decoder")),
        ]
    return [(architecture, None)]


def _scaled_layers(value: Any, attention_output: Any, ffn: Any, preset: str) -> list[str]:
    """The globs of the layers DeepNet and T-Fixup scale down: the value and attention
    output projections and the MLP's."""
    return [
        *_validate.globs(value, f"{preset}.value", what="layers"),
        *_validate.globs(attention_output, f"{preset}.attention_output", what="layers"),
        *_validate.globs(ffn, f"{preset}.ffn", what="layers"),
    ]


@register_preset("deepnet")
def deepnet(
    *,
    architecture: str = "decoder",
    num_layers: int = NUM_LAYERS,
    decoder_layers: int = DECODER_LAYERS,
    query_key: Sequence[str] = QUERY_KEY,
    value: Sequence[str] = VALUE,
    attention_output: Sequence[str] = ATTENTION_OUTPUT,
    ffn: Sequence[str] = FFN,
    encoder: str = "**.encoder",
    decoder: str = "**.decoder",
) -> Policy:
    """DeepNet's init for DeepNorm transformers (Wang et al. 2022).

    Wang, Ma, Dong, Huang, Zhang & Wei, "DeepNet: Scaling Transformers to 1,000 Layers"
    (2022), Figure 2's pseudo-code: ``xavier_normal_(w, gain=β)`` for the FFN, value and
    output projections, ``xavier_normal_(w, gain=1)`` for query and key. β (and α, the
    residual's weight in ``LN(α·x + f(x))``, which is part of the forward pass, not of the
    init) depend on the architecture, N encoder layers and M decoder layers:

    ===============  =======================  ========================
    architecture     α                        β
    ===============  =======================  ========================
    encoder-only     (2N)^(1/4)               (8N)^(-1/4)
    decoder-only     (2M)^(1/4)               (8M)^(-1/4)
    enc-dec encoder  0.81·(N⁴M)^(1/16)        0.87·(N⁴M)^(-1/16)
    enc-dec decoder  (3M)^(1/4)               (12M)^(-1/4)
    ===============  =======================  ========================

    Only those projections are touched, as in the paper: embeddings, the LM head, biases and
    norms keep their init (combine with a base scheme: ``init_model`` it first, or
    ``extends:`` in YAML). A fused query/key/value matrix (``c_attn``, ``query_key_value``)
    cannot be split into gain 1 and gain β and is not matched. torchscale's implementation
    divides its own init (fairseq's Xavier-uniform, gain 1/√2 on q/k/v) by 1/β instead, and
    uses 1.15·(N⁴M)^(-1/16) for the enc-dec encoder; this preset follows the paper.

    Args:
        architecture: ``decoder`` (GPT-style), ``encoder`` (BERT-style) or
            ``encoder_decoder``.
        num_layers: the stack's depth (M decoder-only, N encoder-only; N, the encoder's,
            for ``encoder_decoder``); default: the model's ``config.num_hidden_layers``
            (``n_layer``, ``num_layers``), required without one.
        decoder_layers: M for ``encoder_decoder``; default: the model's
            ``config.decoder_layers`` (``num_decoder_layers``).
        query_key: globs naming the query and key projections (gain 1).
        value: globs naming the value projections (gain β).
        attention_output: globs naming the attention output projections (gain β).
        ffn: globs naming the MLP projections (gain β).
        encoder: glob naming the encoder (``encoder_decoder`` only): its layers get the
            encoder's β.
        decoder: glob naming the decoder (``encoder_decoder`` only).

    Example:
        >>> policy = get_preset("deepnet", num_layers=32)
        >>> policy.rules[-1].strategies[0][1]
        XavierNormal(gain=0.25)
    """
    arch, m = _architecture(architecture, "deepnet.architecture", decoder_layers)
    n = _validate.integer(num_layers, "deepnet.num_layers", minimum=1)
    qk = _validate.globs(query_key, "deepnet.query_key", what="layers")
    scaled = _scaled_layers(value, attention_output, ffn, "deepnet")
    rules: list[Rule] = []
    for part, scope in _scopes(arch, encoder, decoder, "deepnet"):
        if m is None:  # a single stack, encoder or decoder: the same β
            beta = math.pow(8.0 * n, -0.25)
        elif part == "encoder":
            beta = 0.87 * math.pow(n**4 * m, -0.0625)
        elif part == "decoder":
            beta = math.pow(12.0 * m, -0.25)
        else:
            raise AssertionError(f"unreachable: part {part!r} was validated")
        rules += _named(_scoped(scope, qk), XavierNormal(gain=1.0), f"deepnet {part} q/k")
        rules += _named(_scoped(scope, scaled), XavierNormal(gain=beta), f"deepnet {part} beta")
    return Policy(rules, name="deepnet")


# --------------------------------------------------------------------------- T-Fixup


@register_preset("t_fixup")
def t_fixup(
    *,
    architecture: str = "decoder",
    num_layers: int = NUM_LAYERS,
    decoder_layers: int = DECODER_LAYERS,
    value: Sequence[str] = VALUE,
    attention_output: Sequence[str] = ATTENTION_OUTPUT,
    ffn: Sequence[str] = FFN,
    encoder: str = "**.encoder",
    decoder: str = "**.decoder",
) -> Policy:
    """T-Fixup: transformers trained without warmup or layer norm (Huang et al. 2020).

    Huang, Perez, Ba & Volkovs, "Improving Transformer Optimization Through Better
    Initialization" (ICML 2020), Algorithm 1; reference code ``layer6ai-labs/T-Fixup``
    (``fairseq/modules/transformer_layer.py``, ``fixup_initialization``). With N encoder
    layers and M decoder layers:

    * every ``Linear``: Xavier (``xavier_uniform``), bias 0;
    * input embeddings: N(0, d^(-1/2)) (d the embedding dim) scaled by (9N)^(-1/4) in the
      encoder and (9M)^(-1/4) in the decoder, i.e. std ``sqrt(s² / d)``;
    * each encoder block's value and output projections and MLP: Xavier scaled by
      0.67·N^(-1/4); each decoder block's (self- and cross-attention): by (9M)^(-1/4);
      scaling a Xavier-uniform draw by c is ``xavier_uniform(gain=c)``;
    * layer norms (T-Fixup removes them; if the model has them): weight 1, bias 0.

    A decoder-only model uses the decoder's scales with M = ``num_layers``; an encoder-only
    one the encoder's with N = ``num_layers``. In an encoder-decoder model an embedding the
    ``encoder`` glob names by any of its names (a matrix shared with the encoder, BART's
    ``shared``) gets the encoder's scale, as in the reference code, which scales a shared
    matrix in the encoder only; the others get the decoder's. A fused query/key/value
    matrix gets plain Xavier: its value third is not scaled (use separate projections).
    The reference code keeps fairseq's gain 1/√2 on q/k (and multiplies v by √2 to undo
    it), zeroes the embeddings' padding row and draws an untied output projection from
    N(0, d^(-1/2)); the paper's Xavier is used here for all linear layers.

    Args:
        architecture: ``decoder``, ``encoder`` or ``encoder_decoder``.
        num_layers: the stack's depth (N for ``encoder`` and ``encoder_decoder``, M for
            ``decoder``); default: the model's ``config.num_hidden_layers`` (``n_layer``,
            ``num_layers``), required without one.
        decoder_layers: M for ``encoder_decoder``; default: the model's
            ``config.decoder_layers`` (``num_decoder_layers``).
        value: globs naming the value projections.
        attention_output: globs naming the attention output projections.
        ffn: globs naming the MLP projections.
        encoder: glob naming the encoder (``encoder_decoder`` only).
        decoder: glob naming the decoder (``encoder_decoder`` only).

    Example:
        >>> policy = get_preset("t_fixup", num_layers=9)
        >>> policy.rules[-1].strategies[0][1]
        VarianceScaling(scale=0.1111111111111111, mode='fan_in', distribution='normal')
    """
    arch, m = _architecture(architecture, "t_fixup.architecture", decoder_layers)
    n = _validate.integer(num_layers, "t_fixup.num_layers", minimum=1)
    scaled = _scaled_layers(value, attention_output, ffn, "t_fixup")
    rules = [_linear(weight=XavierUniform(), bias=Zeros(), label="xavier")]
    embeddings: list[tuple[bool, Rule]] = []
    for part, scope in _scopes(arch, encoder, decoder, "t_fixup"):
        depth = m if part == "decoder" and m is not None else n
        if part == "encoder":
            gain = 0.67 * depth ** (-1.0 / 4.0)
        elif part == "decoder":
            gain = (9 * depth) ** (-1.0 / 4.0)
        else:
            raise AssertionError(f"unreachable: part {part!r} was validated")
        rules += _named(_scoped(scope, scaled), XavierUniform(gain=gain), f"t_fixup {part}")
        embedding_scale = (9 * depth) ** (-1.0 / 4.0)
        embedding = VarianceScaling(embedding_scale**2, "fan_in", "normal")
        # the encoder's embeddings are named by its glob; every other one is the decoder's
        scoped = part == "encoder" and scope is not None
        rule = Rule(
            nn.Embedding,
            name=f"{scope}.**" if scoped else None,
            weight=embedding,
            label=f"t_fixup {part} embedding",
        )
        embeddings.append((scoped, rule))
    rules += _norms()
    # the unscoped embedding rule first, so that the encoder's wins in its scope
    rules += [rule for scoped, rule in sorted(embeddings, key=lambda pair: pair[0])]
    return Policy(rules, name="t_fixup")

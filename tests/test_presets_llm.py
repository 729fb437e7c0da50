"""The presets of the LLM codebases' schemes (``torchinit/presets/llm.py``): "megatron",
"gpt_neox", "olmo_core", "deepnet" and "t_fixup".

Megatron-LM, GPT-NeoX and OLMo-core do not install here (they need their own launchers,
apex/TransformerEngine or CUDA builds), and DeepNet and T-Fixup are papers with research
forks of fairseq/torchscale. So each scheme's reference is **written out in this file**: its
few lines re-expressed in plain torch, following the source the preset's docstring cites
(``megatron/core/utils.py``; GPT-NeoX's ``megatron/model/init_functions.py``; OLMo-core's
``olmo_core/nn/transformer/init.py``, with its control flow; DeepNet's pseudo-code; T-Fixup's
``fixup_initialization``, which scales a Xavier draw after the fact). The models are tiny
Hugging Face LLaMA, GPT-NeoX, GPT-2 and BART models built from configs (nothing is
downloaded) and small stand-ins with Megatron-core, OLMo-core and fairseq layer names.

Every preset is checked three ways:

* **analytic**: the law the plan gives each tensor has exactly the formula's parameters;
* **distributional**: the preset's draws against the reference's, tensor by tensor: a
  two-sample KS test (p > 1e-4), stds within 6/sqrt(2n) of each other and of the law's std;
  constant tensors (biases, norms) equal exactly. The candidate is filled with noise first,
  so a rule that did not fire cannot pass;
* its errors, each message asserted.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import types
from collections.abc import Callable

import pytest
import torch
from torch import nn

import torchinit
from torchinit import ArgumentTypeError, InvalidArgumentError, Policy
from torchinit.checking import law_moments
from torchinit.strategies import Law

os.environ["HF_HUB_OFFLINE"] = "1"  # build models from configs only: never download
stats = pytest.importorskip("scipy.stats", reason="scipy is needed for the KS tests")

SEED, OTHER_SEED = 0, 1
D, HIDDEN, VOCAB, L = 64, 256, 512, 2
SIGMA = 0.02
CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")

InitFn = Callable[[torch.Tensor], object]


# --------------------------------------------------------------------------- models


def _module(**children: nn.Module) -> nn.Module:
    module = nn.Module()
    for name, child in children.items():
        module.add_module(name, child)
    return module


def _megatron_gpt(n_layer: int = L) -> nn.Module:
    """A stand-in with Megatron-core's GPTModel names (``linear_qkv``, ``linear_proj``...)."""

    def layer() -> nn.Module:
        return _module(
            input_layernorm=nn.LayerNorm(D),
            self_attention=_module(linear_qkv=nn.Linear(D, 3 * D), linear_proj=nn.Linear(D, D)),
            pre_mlp_layernorm=nn.LayerNorm(D),
            mlp=_module(linear_fc1=nn.Linear(D, HIDDEN), linear_fc2=nn.Linear(HIDDEN, D)),
        )

    model = _module(
        embedding=_module(
            word_embeddings=nn.Embedding(VOCAB, D), position_embeddings=nn.Embedding(128, D)
        ),
        decoder=_module(
            layers=nn.ModuleList(layer() for _ in range(n_layer)), final_layernorm=nn.LayerNorm(D)
        ),
        output_layer=nn.Linear(D, VOCAB, bias=False),
    )
    model.config = types.SimpleNamespace(num_layers=n_layer, hidden_size=D)
    return model


def _olmo(n_layer: int = L, *, tied: bool = False) -> nn.Module:
    """A stand-in with OLMo-core's Transformer names (``blocks.0.attention.w_q``...)."""

    def block() -> nn.Module:
        return _module(
            attention=_module(
                w_q=nn.Linear(D, D, bias=False),
                w_k=nn.Linear(D, D, bias=False),
                w_v=nn.Linear(D, D, bias=False),
                w_out=nn.Linear(D, D, bias=False),
            ),
            attention_norm=nn.RMSNorm(D),
            feed_forward=_module(
                w1=nn.Linear(D, HIDDEN, bias=False),
                w2=nn.Linear(HIDDEN, D, bias=False),
                w3=nn.Linear(D, HIDDEN, bias=False),
            ),
            feed_forward_norm=nn.RMSNorm(D),
        )

    model = _module(
        embeddings=nn.Embedding(VOCAB, D),
        blocks=nn.ModuleDict({str(i): block() for i in range(n_layer)}),
        lm_head=_module(norm=nn.RMSNorm(D), w_out=nn.Linear(D, VOCAB, bias=False)),
    )
    if tied:
        model.lm_head.w_out.weight = model.embeddings.weight
    model.d_model, model.n_layers = D, n_layer
    return model


def _fairseq(encoder_layers: int, decoder_layers: int) -> nn.Module:
    """A stand-in with fairseq/torchscale names; ``decoder_layers=0``: an encoder only."""

    def attention() -> nn.Module:
        projections = ("q_proj", "k_proj", "v_proj", "out_proj")
        return _module(**{name: nn.Linear(D, D) for name in projections})

    def layer(cross: bool) -> nn.Module:
        parts = {"self_attn": attention(), "self_attn_layer_norm": nn.LayerNorm(D)}
        if cross:
            parts["encoder_attn"] = attention()
        parts.update(fc1=nn.Linear(D, HIDDEN), fc2=nn.Linear(HIDDEN, D))
        parts["final_layer_norm"] = nn.LayerNorm(D)
        return _module(**parts)

    def stack(depth: int, cross: bool) -> nn.Module:
        layers = nn.ModuleList(layer(cross) for _ in range(depth))
        return _module(embed_tokens=nn.Embedding(VOCAB, D), layers=layers)

    parts = {"encoder": stack(encoder_layers, False)}
    if decoder_layers:
        parts["decoder"] = stack(decoder_layers, True)
    model = _module(**parts)
    model.config = types.SimpleNamespace(
        num_hidden_layers=encoder_layers, decoder_layers=decoder_layers or None
    )
    return model


def _hf(name: str, **settings: object) -> nn.Module:
    transformers = pytest.importorskip(
        "transformers", reason="transformers builds the Hugging Face models"
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    common = dict(vocab_size=VOCAB, bos_token_id=0, eos_token_id=0)
    common.update(settings)
    config = getattr(transformers, f"{name}Config")(**common)
    return getattr(transformers, f"{name}ForCausalLM" if name != "GPT2" else "GPT2LMHeadModel")(
        config
    )


def _llama() -> nn.Module:
    return _hf(
        "Llama",
        num_hidden_layers=L,
        hidden_size=D,
        intermediate_size=HIDDEN,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )


def _neox() -> nn.Module:
    return _hf(
        "GPTNeoX",
        num_hidden_layers=L,
        hidden_size=D,
        intermediate_size=HIDDEN,
        num_attention_heads=2,
        max_position_embeddings=64,
    )


def _gpt2() -> nn.Module:
    return _hf("GPT2", n_layer=L, n_embd=D, n_head=2, n_positions=64)


# --------------------------------------------------------------------------- the comparison


def _scrambled(model: nn.Module) -> nn.Module:
    """A copy with every parameter overwritten by U(-1, 1) noise (its own generator)."""
    model = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-1.0, 1.0, generator=generator)
    return model


def _tolerance(n: int) -> float:
    return 6 / math.sqrt(2 * n)


def _laws(report: torchinit.InitReport) -> dict[str, Law]:
    """Each initialized tensor's law, by every one of its names."""
    laws = {}
    for entry in report.initialized:
        law = entry.strategy.law(entry.shape)
        for name in (entry.name, *entry.aliases):
            laws[name] = law
    return laws


def _check_against_reference(
    model: nn.Module,
    reference: Callable[[nn.Module], set[str]],
    preset: str,
    **options: object,
) -> tuple[dict[str, Law], torchinit.InitReport]:
    """Initialize a copy of ``model`` by ``reference`` (it returns the names it set) and a
    scrambled copy by the preset; compare every tensor the reference set. Returns the laws
    the preset planned, by tensor name, and its report."""
    expected = copy.deepcopy(model)
    torch.manual_seed(SEED)
    with torch.no_grad():
        touched = reference(expected)
    candidate = _scrambled(model)
    torch.manual_seed(OTHER_SEED)
    report = torchinit.init_model(candidate, preset, **options)
    laws = _laws(report)
    planned = {entry.name for entry in report.initialized}
    assert planned == touched, f"the preset sets {sorted(planned ^ touched)} differently"
    got, want = candidate.state_dict(), expected.state_dict()
    random = 0
    for name in sorted(touched):
        x, y = got[name].flatten().double(), want[name].flatten().double()
        if bool((y == y[0]).all()):
            assert torch.equal(x, y), f"{name}: expected exactly the reference's values"
            continue
        random += 1
        assert x.numel() >= 4096, f"{name}: too few entries for the KS test to have power"
        pvalue = stats.ks_2samp(x.numpy(), y.numpy()).pvalue
        assert pvalue > 1e-4, f"{name}: KS test rejects (p={pvalue:.2e})"
        assert abs(float(x.std() / y.std()) - 1) < _tolerance(x.numel()), name
        _, law_std, _ = law_moments(laws[name])
        for who, tensor in (("preset", x), ("reference", y)):
            relative = float(tensor.std()) / law_std - 1
            assert abs(relative) < _tolerance(tensor.numel()), f"{name} ({who})"
    assert random > 0
    return laws, report


def _reset_norms_and_biases(model: nn.Module, touched: set[str]) -> None:
    """What every one of these codebases does besides its weights: biases 0, norms reset."""
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(module, (nn.LayerNorm, nn.RMSNorm)) or type(module).__name__.endswith(
            "RMSNorm"
        ):
            for key, parameter in module.named_parameters(recurse=False):
                (nn.init.ones_ if key == "weight" else nn.init.zeros_)(parameter)
                touched.add(prefix + key)
        elif isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
            touched.add(prefix + "bias")


def _leaf(name: str) -> str:
    return name.rpartition(".")[2]


def _normal(std: float) -> InitFn:
    return functools.partial(nn.init.normal_, mean=0.0, std=std)


# --------------------------------------------------------------------------- Megatron-LM


def _megatron_reference(model: nn.Module, *, num_layers: int, sigma: float = SIGMA) -> set[str]:
    """megatron/core: TransformerConfig's init_method and output_layer_init_method, and where
    the GPT model's layers use them."""
    init_method = _normal(sigma)
    output_layer_init_method = _normal(sigma / math.sqrt(2.0 * num_layers))
    residual_outputs = ("linear_proj", "linear_fc2", "o_proj", "down_proj", "dense", "c_proj")
    touched: set[str] = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            is_output = _leaf(name) in residual_outputs and "lm_head" not in name
            (output_layer_init_method if is_output else init_method)(module.weight)
            touched.add(f"{name}.weight")
        elif isinstance(module, nn.Embedding):
            init_method(module.weight)  # embedding_init_method: init_method_std by default
            touched.add(f"{name}.weight")
    _reset_norms_and_biases(model, touched)
    return touched


def test_megatron_on_megatron_core_names():
    model = _megatron_gpt()
    laws, report = _check_against_reference(
        model, functools.partial(_megatron_reference, num_layers=L), "megatron"
    )
    scaled = Law("normal", (0.0, SIGMA / math.sqrt(2.0 * L)))
    assert laws["decoder.layers.1.self_attention.linear_proj.weight"] == scaled
    assert laws["decoder.layers.0.mlp.linear_fc2.weight"] == scaled
    assert laws["decoder.layers.0.self_attention.linear_qkv.weight"] == Law("normal", (0.0, SIGMA))
    assert laws["output_layer.weight"] == Law("normal", (0.0, SIGMA))
    assert laws["embedding.position_embeddings.weight"] == Law("normal", (0.0, SIGMA))
    assert report.options["num_layers"] == (L, "model.config.num_layers")


def test_megatron_on_llama_reads_its_config():
    model = _llama()
    laws, report = _check_against_reference(
        model, functools.partial(_megatron_reference, num_layers=L), "megatron"
    )
    assert laws["model.layers.0.self_attn.o_proj.weight"].params[1] == SIGMA / math.sqrt(4.0)
    assert laws["model.layers.0.mlp.gate_proj.weight"].params[1] == SIGMA
    assert report.options["num_layers"] == (L, "model.config.num_hidden_layers")
    assert report.unmatched == []


def test_megatron_embedding_std_and_hf_conv1d():
    """GPT-2's Conv1D projections count as linear layers; ``c_proj`` is both residual outputs."""
    model = _gpt2()
    report = torchinit.plan(model, "megatron", embedding_init_method_std=0.01)
    laws = _laws(report)
    scaled = SIGMA / math.sqrt(2.0 * L)
    assert laws["transformer.h.0.attn.c_proj.weight"] == Law("normal", (0.0, scaled))
    assert laws["transformer.h.1.mlp.c_proj.weight"] == Law("normal", (0.0, scaled))
    assert laws["transformer.h.0.attn.c_attn.weight"] == Law("normal", (0.0, SIGMA))
    # the tied LM head keeps the embedding's init
    assert laws["lm_head.weight"] == laws["transformer.wte.weight"] == Law("normal", (0.0, 0.01))
    assert report.unmatched == []


# --------------------------------------------------------------------------- GPT-NeoX


def _neox_method(method: str, *, sigma: float, num_layers: int, dim: int) -> InitFn:
    """GPT-NeoX's get_init_methods, one method."""
    if method == "normal":
        return _normal(sigma)
    if method == "scaled_normal":
        return _normal(sigma / math.sqrt(2 * num_layers))
    if method == "small_init":
        return _normal(math.sqrt(2 / (5 * dim)))
    if method == "wang_init":
        return _normal(2 / num_layers / math.sqrt(dim))
    if method == "xavier_normal":
        return nn.init.xavier_normal_
    raise ValueError(method)


def _neox_reference(
    model: nn.Module, *, init_method: str, output_layer_init_method: str
) -> set[str]:
    """GPT-NeoX: init_method on query_key_value, dense_h_to_4h, the embeddings and the
    untied output; output_layer_init_method on attention.dense and dense_4h_to_h."""
    sizes = {"sigma": SIGMA, "num_layers": L, "dim": D}
    inner = _neox_method(init_method, **sizes)
    outer = _neox_method(output_layer_init_method, **sizes)
    touched: set[str] = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            is_output = name.endswith(("attention.dense", "dense_4h_to_h"))
            (outer if is_output else inner)(module.weight)
            touched.add(f"{name}.weight")
        elif isinstance(module, nn.Embedding):
            inner(module.weight)
            touched.add(f"{name}.weight")
    _reset_norms_and_biases(model, touched)
    return touched


@pytest.mark.parametrize(
    ("init_method", "output_layer_init_method"),
    [("small_init", "wang_init"), ("normal", "scaled_normal"), ("xavier_normal", "wang_init")],
)
def test_gpt_neox_on_gpt_neox(init_method, output_layer_init_method):
    model = _neox()
    reference = functools.partial(
        _neox_reference,
        init_method=init_method,
        output_layer_init_method=output_layer_init_method,
    )
    options = {"init_method": init_method, "output_layer_init_method": output_layer_init_method}
    laws, report = _check_against_reference(model, reference, "gpt_neox", **options)
    assert report.options["num_layers"] == (L, "model.config.num_hidden_layers")
    assert report.options["hidden_size"] == (D, "model.config.hidden_size")
    dense = laws["gpt_neox.layers.0.attention.dense.weight"]
    if output_layer_init_method == "wang_init":
        assert dense == Law("normal", (0.0, 2 / L / math.sqrt(D)))
    if init_method == "small_init":
        small = Law("normal", (0.0, math.sqrt(2 / (5 * D))))
        assert laws["gpt_neox.embed_in.weight"] == small
        assert laws["gpt_neox.layers.1.attention.query_key_value.weight"] == small


def test_gpt_neox_single_residual_and_xavier_uniform_laws():
    policy = torchinit.get_preset(
        "gpt_neox",
        init_method="xavier_uniform",
        output_layer_init_method="single_residual_scaled_normal",
        num_layers=4,
    )
    assert policy.rules[0].strategies[0][1] == torchinit.XavierUniform()
    assert policy.rules[3].strategies[0][1] == torchinit.Normal(0.0, SIGMA / math.sqrt(4))


# --------------------------------------------------------------------------- OLMo-core


def _olmo_reference(
    model: nn.Module,
    *,
    method: str,
    std: float = SIGMA,
    hidden: int = HIDDEN,
    tied: bool = False,
) -> set[str]:
    """OLMo-core's Transformer.init_weights with its InitMethod, in its own control flow
    (``std`` is reassigned as it goes, as in init_feed_forward)."""
    d_model, num_blocks = model.d_model, model.n_layers

    def init_linear(m: nn.Linear, std: float) -> None:
        nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-3 * std, b=3 * std)

    touched = {f"{name}" for name, _ in model.named_parameters()}
    for module in model.modules():
        if isinstance(module, nn.RMSNorm):
            module.reset_parameters()
    if method in ("llama", "llama_depth"):
        nn.init.normal_(model.embeddings.weight)
    elif method == "fan_in":
        nn.init.normal_(model.embeddings.weight, std=1.0)
    else:
        w = model.embeddings.weight
        nn.init.trunc_normal_(w, mean=0.0, std=std, a=-3 * std, b=3 * std)
    for key, block in model.blocks.items():
        block_idx, att, ff = int(key), block.attention, block.feed_forward
        block_std = std
        for w in (att.w_q, att.w_k, att.w_v):
            init_linear(w, w.in_features**-0.5 if method == "fan_in" else block_std)
        if method == "fan_in":
            block_std = att.w_out.in_features**-0.5
        elif method == "llama":
            block_std = block_std / (2 * num_blocks) ** 0.5
        elif method == "llama_depth":
            block_std = block_std / (2 * (block_idx + 1)) ** 0.5
        init_linear(att.w_out, block_std)
        block_std = std
        init_linear(ff.w1, ff.w1.in_features**-0.5 if method == "fan_in" else block_std)
        if method == "fan_in":
            block_std = ff.w3.in_features**-0.5
        elif method == "llama":
            block_std = block_std / (2 * num_blocks) ** 0.5
        elif method == "llama_depth":
            block_std = block_std / (2 * (block_idx + 1)) ** 0.5
        init_linear(ff.w3, block_std)
        if method == "fan_in":
            block_std = ff.w2.in_features**-0.5
        init_linear(ff.w2, block_std)
    if not tied:
        head_std = d_model**-0.5 if method != "normal" else std
        init_linear(model.lm_head.w_out, head_std)
    return touched


@pytest.mark.parametrize("method", ["normal", "llama", "llama_depth", "fan_in"])
def test_olmo_core_on_olmo_core_names(method):
    model = _olmo(n_layer=3)
    options = {"init_method": method, "ffn_hidden_size": HIDDEN}
    reference = functools.partial(_olmo_reference, method=method)
    laws, report = _check_against_reference(model, reference, "olmo_core", **options)
    trunc = lambda std: Law("trunc_normal", (0.0, std, -3 * std, 3 * std))  # noqa: E731
    w2 = laws["blocks.2.feed_forward.w2.weight"]
    if method == "normal":
        assert set(laws.values()) == {trunc(SIGMA), Law("constant", (1.0,))}
    elif method == "llama":
        assert w2 == trunc(SIGMA / (2 * 3) ** 0.5)
        assert laws["blocks.0.feed_forward.w1.weight"] == trunc(SIGMA)
        assert laws["lm_head.w_out.weight"] == trunc(D**-0.5)
        assert laws["embeddings.weight"] == Law("normal", (0.0, 1.0))
    elif method == "llama_depth":
        for index in range(3):
            scaled = trunc(SIGMA / (2 * (index + 1)) ** 0.5)
            assert laws[f"blocks.{index}.attention.w_out.weight"] == scaled
            assert laws[f"blocks.{index}.feed_forward.w3.weight"] == scaled
    elif method == "fan_in":
        assert w2 == trunc(HIDDEN**-0.5)
        assert laws["blocks.0.attention.w_k.weight"] == trunc(D**-0.5)
    else:
        raise AssertionError(method)
    assert report.options["d_model"] == (D, "model.d_model")
    assert report.options["num_layers"] == (3, "model.n_layers")


def test_olmo_core_tied_head_keeps_the_embedding_init():
    model = _olmo(tied=True)
    reference = functools.partial(_olmo_reference, method="llama", tied=True)
    laws, report = _check_against_reference(model, reference, "olmo_core", init_method="llama")
    assert laws["lm_head.w_out.weight"] == Law("normal", (0.0, 1.0))
    assert report["embeddings.weight"].aliases == ("lm_head.w_out.weight",)


def test_olmo_core_llama_on_hugging_face_llama():
    report = torchinit.plan(_llama(), "olmo_core", init_method="llama_depth")
    laws = _laws(report)
    trunc = lambda std: Law("trunc_normal", (0.0, std, -3 * std, 3 * std))  # noqa: E731
    assert laws["model.layers.1.self_attn.o_proj.weight"] == trunc(SIGMA / 4**0.5)
    assert laws["model.layers.1.mlp.down_proj.weight"] == trunc(SIGMA / 4**0.5)
    assert laws["model.layers.0.mlp.up_proj.weight"] == trunc(SIGMA / 2**0.5)
    assert laws["model.layers.0.mlp.gate_proj.weight"] == trunc(SIGMA)
    assert laws["lm_head.weight"] == trunc(D**-0.5)
    assert report.options["d_model"] == (D, "model.config.hidden_size")


# --------------------------------------------------------------------------- DeepNet


def _deepnet_reference(model: nn.Module, *, betas: dict[str, float]) -> set[str]:
    """DeepNet's pseudo-code: xavier_normal_(gain=β) on ffn, v_proj, out_proj; gain 1 on
    q_proj, k_proj; β by the stack (the top-level child) the layer is in."""
    touched: set[str] = set()
    for name, parameter in model.named_parameters():
        if not name.endswith(".weight") or parameter.dim() != 2:
            continue
        beta = betas[name.partition(".")[0]]
        layer = name.rsplit(".", 2)[-2]
        if layer in ("fc1", "fc2", "v_proj", "out_proj"):
            nn.init.xavier_normal_(parameter, gain=beta)
        elif layer in ("q_proj", "k_proj"):
            nn.init.xavier_normal_(parameter, gain=1)
        else:
            continue
        touched.add(name)
    return touched


@pytest.mark.parametrize(
    ("architecture", "n", "m"),
    [("encoder", 3, 0), ("encoder_decoder", 3, 2)],
)
def test_deepnet_on_fairseq_names(architecture, n, m):
    model = _fairseq(n, m)
    if architecture == "encoder":
        betas = {"encoder": (8 * n) ** -0.25}
    else:
        betas = {"encoder": 0.87 * (n**4 * m) ** (-1 / 16), "decoder": (12 * m) ** -0.25}
    reference = functools.partial(_deepnet_reference, betas=betas)
    laws, report = _check_against_reference(model, reference, "deepnet", architecture=architecture)
    for part, beta in betas.items():
        fc2 = laws[f"{part}.layers.0.fc2.weight"]
        assert fc2 == Law("normal", (0.0, beta * math.sqrt(2.0 / (D + HIDDEN))))
        q = laws[f"{part}.layers.0.self_attn.q_proj.weight"]
        assert q == Law("normal", (0.0, math.sqrt(2.0 / (D + D))))
    assert report.options["num_layers"] == (n, "model.config.num_hidden_layers")
    if m:
        assert report.options["decoder_layers"] == (m, "model.config.decoder_layers")
        cross = laws["decoder.layers.1.encoder_attn.v_proj.weight"]
        assert math.isclose(cross.params[1], betas["decoder"] * math.sqrt(2.0 / (2 * D)))
    # only the projections: embeddings, biases and norms keep their init
    assert "encoder.embed_tokens.weight" in report.unmatched


def test_deepnet_decoder_only_on_llama():
    report = torchinit.plan(_llama(), "deepnet")
    laws = _laws(report)
    beta = math.pow(8.0 * L, -0.25)
    gate = laws["model.layers.0.mlp.gate_proj.weight"]
    assert gate == Law("normal", (0.0, beta * math.sqrt(2.0 / (D + HIDDEN))))
    assert laws["model.layers.1.self_attn.k_proj.weight"].params[1] == math.sqrt(2.0 / (2 * D))
    assert laws["model.layers.1.self_attn.v_proj.weight"].params[1] == beta * math.sqrt(
        2.0 / (2 * D)
    )
    assert "lm_head.weight" in report.unmatched


def _bart(encoder_layers: int = 3, decoder_layers: int = 2) -> nn.Module:
    transformers = pytest.importorskip("transformers", reason="transformers builds BART")
    config = transformers.BartConfig(
        vocab_size=VOCAB,
        d_model=D,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        encoder_ffn_dim=HIDDEN,
        decoder_ffn_dim=HIDDEN,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        max_position_embeddings=64,
    )
    return transformers.BartForConditionalGeneration(config)


def test_deepnet_encoder_decoder_on_bart_reads_both_depths():
    report = torchinit.plan(_bart(), "deepnet", architecture="encoder_decoder")
    assert report.options["num_layers"] == (3, "model.config.num_hidden_layers")
    assert report.options["decoder_layers"] == (2, "model.config.decoder_layers")
    encoder_beta = 0.87 * (3**4 * 2) ** (-1 / 16)
    decoder_beta = (12 * 2) ** -0.25
    gains = {
        "model.encoder.layers.2.fc2.weight": encoder_beta,
        "model.encoder.layers.0.self_attn.v_proj.weight": encoder_beta,
        "model.encoder.layers.0.self_attn.k_proj.weight": 1.0,
        "model.decoder.layers.1.encoder_attn.v_proj.weight": decoder_beta,
        "model.decoder.layers.1.encoder_attn.out_proj.weight": decoder_beta,
        "model.decoder.layers.0.self_attn.q_proj.weight": 1.0,
    }
    for name, gain in gains.items():
        assert math.isclose(report[name].strategy.gain, gain, rel_tol=1e-12), name


# --------------------------------------------------------------------------- T-Fixup


def _t_fixup_reference(model: nn.Module, *, encoder_layers: int, decoder_layers: int) -> set[str]:
    """T-Fixup's reference code re-expressed: Xavier-uniform linear layers, N(0, d^-1/2)
    embeddings, then each stack's weights multiplied by its scale after the draw."""
    touched: set[str] = set()
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            touched.add(f"{name}.weight")
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0, std=module.embedding_dim**-0.5)
            touched.add(f"{name}.weight")
    _reset_norms_and_biases(model, touched)
    scales = {"encoder": 0.67 * encoder_layers ** (-1.0 / 4.0)}
    embedding_scales = {"encoder": (9 * encoder_layers) ** (-1 / 4)}
    if decoder_layers:
        scales["decoder"] = embedding_scales["decoder"] = (9 * decoder_layers) ** (-1.0 / 4.0)
    for name, parameter in model.named_parameters():
        stack = name.partition(".")[0]
        if name.endswith(("fc1.weight", "fc2.weight", "out_proj.weight", "v_proj.weight")):
            parameter.mul_(scales[stack])
        elif name.endswith("embed_tokens.weight"):
            parameter.mul_(embedding_scales[stack])
    return touched


@pytest.mark.parametrize(
    ("architecture", "n", "m"),
    [("encoder", 4, 0), ("encoder_decoder", 3, 2)],
)
def test_t_fixup_on_fairseq_names(architecture, n, m):
    model = _fairseq(n, m)
    reference = functools.partial(_t_fixup_reference, encoder_layers=n, decoder_layers=m)
    laws, _ = _check_against_reference(model, reference, "t_fixup", architecture=architecture)
    scale = 0.67 * n ** (-1 / 4)
    bound = scale * math.sqrt(6.0 / (D + HIDDEN))
    (low, high) = laws["encoder.layers.0.fc1.weight"].params
    assert math.isclose(high, bound, rel_tol=1e-12)
    assert low == -high
    q_bound = laws["encoder.layers.0.self_attn.q_proj.weight"].params[1]
    assert q_bound == math.sqrt(6.0 / (2 * D))  # q and k: plain Xavier
    embedding = laws["encoder.embed_tokens.weight"]
    assert math.isclose(embedding.params[1], (9 * n) ** -0.25 * D**-0.5, rel_tol=1e-12)
    if m:
        out = laws["decoder.layers.1.encoder_attn.out_proj.weight"].params[1]
        assert math.isclose(out, (9 * m) ** -0.25 * math.sqrt(6.0 / (2 * D)), rel_tol=1e-12)
        embedding = laws["decoder.embed_tokens.weight"]
        assert math.isclose(embedding.params[1], (9 * m) ** -0.25 * D**-0.5, rel_tol=1e-12)


def test_t_fixup_decoder_only_on_llama():
    report = torchinit.plan(_llama(), "t_fixup")
    laws = _laws(report)
    scale = (9 * L) ** -0.25
    down = laws["model.layers.0.mlp.down_proj.weight"].params[1]
    assert math.isclose(down, scale * math.sqrt(6.0 / (D + HIDDEN)), rel_tol=1e-12)
    assert laws["model.layers.0.self_attn.q_proj.weight"].params[1] == math.sqrt(6.0 / (2 * D))
    assert math.isclose(laws["model.embed_tokens.weight"].params[1], scale * D**-0.5, rel_tol=1e-12)
    assert laws["model.layers.0.input_layernorm.weight"] == Law("constant", (1.0,))


def test_t_fixup_shared_bart_embedding_takes_the_encoders_scale():
    """As the reference code with shared embeddings: the encoder scales the shared matrix
    by (9N)^(-1/4), the decoder leaves it."""
    report = torchinit.plan(_bart(), "t_fixup", architecture="encoder_decoder")
    shared = report["model.shared.weight"]
    assert "model.decoder.embed_tokens.weight" in shared.aliases
    assert math.isclose(shared.strategy.scale, (9 * 3) ** -0.5, rel_tol=1e-12)
    positions = report["model.decoder.embed_positions.weight"].strategy
    assert math.isclose(positions.scale, (9 * 2) ** -0.5, rel_tol=1e-12)
    assert report.unmatched == []


# --------------------------------------------------------------------------- twins, errors

TWIN_OPTIONS = {
    "megatron": {"num_layers": 24},
    "gpt_neox": {"num_layers": 24, "hidden_size": 1024},
    "olmo_core": {},
    "deepnet": {"num_layers": 12},
    "t_fixup": {"num_layers": 6},
}


@pytest.mark.parametrize("name", sorted(TWIN_OPTIONS))
def test_yaml_twin_equals_the_preset(name):
    loaded = Policy.from_yaml(os.path.join(CONFIGS, f"{name}.yaml"))
    assert loaded == torchinit.get_preset(name, **TWIN_OPTIONS[name])
    other = {key: value + 1 for key, value in TWIN_OPTIONS[name].items()}
    if other:  # and the twin is written for those options, not any
        assert loaded != torchinit.get_preset(name, **other)


@pytest.mark.parametrize(
    ("preset", "options", "error", "message"),
    [
        (
            "gpt_neox",
            {"num_layers": 4},
            InvalidArgumentError,
            "gpt_neox.hidden_size: needed by gpt_neox.init_method 'small_init'; not given and "
            "not read from the model (model.config.hidden_size or model.config.n_embd or "
            "model.config.d_model or model.d_model); pass hidden_size=...",
        ),
        (
            "gpt_neox",
            {"init_method": "normal", "output_layer_init_method": "scaled_normal"},
            InvalidArgumentError,
            "gpt_neox.num_layers: needed by gpt_neox.output_layer_init_method 'scaled_normal'; "
            "not given and not read from the model (model.config.num_hidden_layers or "
            "model.config.n_layer or model.config.num_layers or model.n_layers); "
            "pass num_layers=...",
        ),
        (
            "gpt_neox",
            {"init_method": "wang", "num_layers": 2, "hidden_size": 8},
            InvalidArgumentError,
            "gpt_neox.init_method: unknown init method; did you mean 'wang_init'? known: "
            "['normal', 'scaled_normal', 'single_residual_scaled_normal', 'small_init', "
            "'wang_init', 'xavier_uniform', 'xavier_normal'] (got 'wang')",
        ),
        (
            "olmo_core",
            {"init_method": "lama"},
            InvalidArgumentError,
            "olmo_core.init_method: unknown init method; did you mean 'llama'? known: "
            "['normal', 'llama', 'llama_depth', 'fan_in'] (got 'lama')",
        ),
        (
            "olmo_core",
            {"init_method": 3},
            ArgumentTypeError,
            "olmo_core.init_method: must be a string (got 3)",
        ),
        (
            "olmo_core",
            {"init_method": "fan_in", "d_model": 8},
            InvalidArgumentError,
            "olmo_core.ffn_hidden_size: needed by olmo_core.init_method 'fan_in'; not given "
            "and not read from the model (model.config.intermediate_size); "
            "pass ffn_hidden_size=...",
        ),
        (
            "olmo_core",
            {"init_method": "llama", "num_layers": 2},
            InvalidArgumentError,
            "olmo_core.d_model: needed by olmo_core.init_method 'llama'; not given and not "
            "read from the model (model.config.hidden_size or model.config.n_embd or "
            "model.config.d_model or model.d_model); pass d_model=...",
        ),
        (
            "deepnet",
            {"num_layers": 6, "architecture": "encoder_decoder"},
            InvalidArgumentError,
            "deepnet.decoder_layers: needed by architecture 'encoder_decoder'; not given and "
            "not read from the model (model.config.decoder_layers or "
            "model.config.num_decoder_layers); pass decoder_layers=...",
        ),
        (
            "t_fixup",
            {"num_layers": 6, "architecture": "seq2seq"},
            InvalidArgumentError,
            "t_fixup.architecture: must be one of ['decoder', 'encoder', 'encoder_decoder'] "
            "(got 'seq2seq')",
        ),
        (
            "megatron",
            {"num_layers": 6, "output_layers": "**.dense"},
            ArgumentTypeError,
            "megatron.output_layers: must be a list of globs naming layers (got '**.dense')",
        ),
        (
            "megatron",
            {"num_layers": 6, "embedding_init_method_std": -1.0},
            InvalidArgumentError,
            "megatron.embedding_init_method_std: must be > 0 (got -1.0)",
        ),
        (
            "deepnet",
            {"num_layers": 0},
            InvalidArgumentError,
            "deepnet.num_layers: must be >= 1 (got 0)",
        ),
    ],
)
def test_errors(preset, options, error, message):
    with pytest.raises(error) as raised:
        torchinit.get_preset(preset, **options)
    assert str(raised.value) == message


def test_depth_the_model_cannot_give_is_refused():
    with pytest.raises(InvalidArgumentError) as raised:
        torchinit.plan(nn.Sequential(nn.Linear(4, 4)), "megatron")
    assert str(raised.value) == (
        "megatron.num_layers: not given and the model has no model.config.num_hidden_layers or "
        "model.config.n_layer or model.config.num_layers or model.n_layers; pass num_layers=... "
        "(got 'Sequential')"
    )

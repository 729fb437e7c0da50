"""The language-model presets: "gpt2", "bert", "llama" (Hugging Face) and "nanogpt".

Hugging Face initializes while the model is built (``post_init`` runs once per
``PreTrainedModel`` in the stack, GPT-2's ``Conv1D`` and ``c_proj`` weights are drawn two and
three times, the LM head is drawn before it is tied), so no single pass after construction can
replay its random numbers: these presets are checked **distributionally**. The reference is the
real ``transformers`` model built from a small config (nothing is downloaded) under one seed;
the candidate is the same model built under another seed, then initialized by the preset. For
every tensor of the two state_dicts:

* constant tensors (ones, zeros) and buffers are equal exactly;
* random tensors pass a two-sample Kolmogorov-Smirnov test (p > 1e-4), their stds agree
  (|std_ours / std_ref - 1| < 6 / sqrt(2n)), and both agree with the analytic std
  (``initializer_range``, or ``initializer_range / sqrt(2 n_layer)`` for GPT-2's ``c_proj``).

nanoGPT is not a package: a nanoGPT-shaped model is written here, and the preset is checked
against nanoGPT's published scheme (the analytic std of every tensor, and its ``_init_weights``
written out as in nanoGPT's ``model.py``).

Tied matrices (``wte``/``lm_head``) are one entry of the report, with an alias, and are drawn
once: the preset is bit-exact with a hand-written loop that draws every distinct parameter once,
in Hugging Face's children-first order, and leaves the global RNG where that loop leaves it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import types
import warnings
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn

import torchinit
from torchinit import (
    ArgumentTypeError,
    InvalidArgumentError,
    Normal,
    Ones,
    UnknownNameError,
    Zeros,
)

os.environ["HF_HUB_OFFLINE"] = "1"  # build models from configs only: never download
stats = pytest.importorskip("scipy.stats", reason="scipy is needed for the KS tests")

SEED, OTHER_SEED = 0, 1
N_LAYER = 2
STD = 0.02
# big enough for the KS test to have power (the smallest random tensor has 8192 entries)
HIDDEN, VOCAB, POSITIONS, INTERMEDIATE = 128, 2000, 128, 512


# --------------------------------------------------------------------------- helpers


def _hf() -> object:
    return pytest.importorskip(
        "transformers", reason="transformers is needed to compare with Hugging Face's own init"
    )


def _quiet_hf_logging() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()


def _build(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return factory()


def _gpt2(**config: object) -> Callable[[], nn.Module]:
    transformers = _hf()
    _quiet_hf_logging()
    settings = dict(
        n_layer=N_LAYER,
        n_embd=HIDDEN,
        n_head=2,
        vocab_size=VOCAB,
        n_positions=POSITIONS,
        bos_token_id=0,
        eos_token_id=0,
    )
    settings.update(config)
    cfg = transformers.GPT2Config(**settings)  # type: ignore[attr-defined]
    return lambda: transformers.GPT2LMHeadModel(cfg)  # type: ignore[attr-defined]


def _bert(**config: object) -> Callable[[], nn.Module]:
    transformers = _hf()
    _quiet_hf_logging()
    settings = dict(
        num_hidden_layers=N_LAYER,
        hidden_size=HIDDEN,
        num_attention_heads=2,
        intermediate_size=INTERMEDIATE,
        vocab_size=VOCAB,
        max_position_embeddings=POSITIONS,
        type_vocab_size=32,  # 32 x 128 token-type entries: enough for the KS test
        initializer_range=STD,
    )
    settings.update(config)
    cfg = transformers.BertConfig(**settings)  # type: ignore[attr-defined]
    return lambda: transformers.BertForMaskedLM(cfg)  # type: ignore[attr-defined]


def _llama(**config: object) -> Callable[[], nn.Module]:
    transformers = _hf()
    _quiet_hf_logging()
    settings = dict(
        num_hidden_layers=N_LAYER,
        hidden_size=HIDDEN,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=INTERMEDIATE,
        vocab_size=VOCAB,
        max_position_embeddings=POSITIONS,
        bos_token_id=0,
        eos_token_id=0,
    )
    settings.update(config)
    cfg = transformers.LlamaConfig(**settings)  # type: ignore[attr-defined]
    return lambda: transformers.LlamaForCausalLM(cfg)  # type: ignore[attr-defined]


def _scrambled(model: nn.Module) -> nn.Module:
    """``model`` with every parameter overwritten by U(-1, 1) noise (its own generator).

    Hugging Face models are initialized when they are built: without this, a preset that did
    nothing would pass the comparisons. Buffers are left alone (the presets do not set them).
    """
    generator = torch.Generator().manual_seed(12345)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(-1.0, 1.0, generator=generator)
    return model


def _is_constant(tensor: torch.Tensor) -> bool:
    flat = tensor.flatten()
    return bool((flat == flat[0]).all())


def _tolerance(n: int) -> float:
    return 6 / math.sqrt(2 * n)


def _assert_same_distribution(
    name: str, ours: torch.Tensor, reference: torch.Tensor, analytic_std: float
) -> None:
    x, y = ours.flatten().double(), reference.flatten().double()
    n = min(x.numel(), y.numel())
    assert n >= 4096, f"{name}: too few entries ({n}) for the KS test to have power"
    pvalue = stats.ks_2samp(x.numpy(), y.numpy()).pvalue
    assert pvalue > 1e-4, f"{name}: KS test rejects (p={pvalue:.2e})"
    tolerance = _tolerance(n)
    ratio = float(x.std() / y.std())
    assert abs(ratio - 1) < tolerance, f"{name}: std ratio {ratio:.4f} (ours/reference)"
    for who, tensor in (("ours", x), ("reference", y)):
        relative = float(tensor.std()) / analytic_std - 1
        assert abs(relative) < _tolerance(tensor.numel()), (
            f"{name} ({who}): std {float(tensor.std()):.5f}, analytic {analytic_std:.5f}"
        )


def _compare(
    reference: nn.Module,
    model: nn.Module,
    analytic_std: Callable[[str], float],
    *,
    padding_rows: dict[str, int] | None = None,
) -> tuple[int, int]:
    """Compare every state_dict tensor; returns (constant tensors, random tensors) compared."""
    expected, actual = reference.state_dict(), model.state_dict()
    assert list(actual) == list(expected)
    buffers = {name for name, _ in reference.named_buffers()}
    padding_rows = padding_rows or {}
    constant = random = 0
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape, name
        assert got.dtype == want.dtype, name
        if name in buffers or _is_constant(want):
            assert torch.equal(got, want), f"{name}: expected exactly the reference's values"
            constant += 1
            continue
        if name in padding_rows:
            # Hugging Face zeroes this row after the draw; compare the other rows
            keep = torch.ones(want.shape[0], dtype=torch.bool)
            keep[padding_rows[name]] = False
            want, got = want[keep], got[keep]
        _assert_same_distribution(name, got, want, analytic_std(name))
        random += 1
    return constant, random


def _post_order(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """Modules in ``model.apply`` order (children first), with their names."""
    names = {id(module): name for name, module in model.named_modules()}
    visited: list[nn.Module] = []
    model.apply(visited.append)
    for module in visited:
        yield names[id(module)], module


def _next_random() -> torch.Tensor:
    return torch.rand(4)


# --------------------------------------------------------------------------- Hugging Face


def test_gpt2_preset_matches_huggingface_distributionally():
    factory = _gpt2()
    reference = _build(factory, SEED)
    model = _scrambled(_build(factory, OTHER_SEED))
    scaled = STD / math.sqrt(2 * N_LAYER)
    analytic = lambda name: scaled if name.endswith("c_proj.weight") else STD  # noqa: E731
    with pytest.raises(AssertionError):  # before the preset runs, the comparison fails
        _compare(reference, model, analytic)

    torch.manual_seed(SEED)
    report = torchinit.init_model(model, "gpt2")  # n_layer and initializer_range: the config's

    constant, random = _compare(reference, model, analytic)
    # per block: c_attn, c_proj (attention), c_fc, c_proj (MLP) weights; then wte, wpe, lm_head
    assert random == 4 * N_LAYER + 3
    # LayerNorm weights and biases, Conv1D biases, ln_f, and the causal-mask buffers if any
    assert constant == len(reference.state_dict()) - random
    assert report.unmatched == []
    c_proj = [e.name for e in report.initialized if e.rule_label == "scaled residual c_proj"]
    assert c_proj == [
        f"transformer.h.{i}.{part}.c_proj.weight" for i in range(2) for part in ("attn", "mlp")
    ]
    assert report["transformer.h.0.attn.c_attn.weight"].strategy == Normal(0.0, STD)
    assert report.options == {
        "n_layer": (N_LAYER, "model.config.n_layer"),
        "initializer_range": (STD, "model.config.initializer_range"),
    }


def test_gpt2_preset_scaled_std_really_differs_from_unscaled():
    """So that the c_proj check can fail: the scaled and unscaled draws are told apart."""
    factory = _gpt2()
    reference = _build(factory, SEED)
    model = _scrambled(_build(factory, OTHER_SEED))
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, "gpt2", n_layer=12)  # given: wins over the config's 2
    assert report.options["n_layer"] == (12, "given")
    assert report["transformer.h.0.mlp.c_proj.weight"].strategy == Normal(0.0, STD / 24**0.5)
    with pytest.raises(AssertionError, match="c_proj"):
        _compare(
            reference,
            model,
            lambda name: STD / math.sqrt(2 * N_LAYER) if name.endswith("c_proj.weight") else STD,
        )


def test_bert_preset_matches_huggingface_distributionally():
    factory = _bert()
    reference = _build(factory, SEED)
    model = _scrambled(_build(factory, OTHER_SEED))
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, "bert")
    assert report.options == {"initializer_range": (STD, "model.config.initializer_range")}

    word = "bert.embeddings.word_embeddings.weight"
    pad = reference.config.pad_token_id
    assert pad == 0
    # Hugging Face zeroes the padding row, and so does the preset (padded_normal)
    assert torch.equal(reference.state_dict()[word][pad], torch.zeros(HIDDEN))
    padding_rows = {word: pad, "cls.predictions.decoder.weight": pad}
    constant, random = _compare(reference, model, lambda name: STD, padding_rows=padding_rows)
    # q, k, v, attention output, intermediate, output per layer; the MLM transform; three
    # embeddings; the decoder is tied to the word embeddings but listed under both names
    assert random == 6 * N_LAYER + 1 + 3 + 1
    assert constant == len(reference.state_dict()) - random
    assert report.unmatched == []
    # children first: the decoder comes before its parent, whose bias it shares
    assert report["cls.predictions.decoder.bias"].aliases == ("cls.predictions.bias",)
    assert report[word].aliases == ("cls.predictions.decoder.weight",)


def test_bert_preset_zeroes_the_padding_row():
    model = _scrambled(_build(_bert(), OTHER_SEED))
    torchinit.init_model(model, "bert")
    embedding = model.bert.embeddings.word_embeddings
    assert torch.equal(embedding.weight[embedding.padding_idx], torch.zeros(HIDDEN))


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
def test_llama_preset_matches_huggingface_distributionally(tied):
    factory = _llama(tie_word_embeddings=tied)
    reference = _build(factory, SEED)
    model = _scrambled(_build(factory, OTHER_SEED))
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, "llama")

    constant, random = _compare(reference, model, lambda name: STD)
    # q, k, v, o, gate, up, down per layer; embed_tokens and lm_head
    assert random == 7 * N_LAYER + 2
    assert constant == len(reference.state_dict()) - random  # the RMSNorm weights
    assert constant == 2 * N_LAYER + 1
    assert report.unmatched == []
    norms = [e.name for e in report.initialized if e.rule_label == "rms norm"]
    assert len(norms) == 2 * N_LAYER + 1
    assert (report["model.embed_tokens.weight"].aliases == ("lm_head.weight",)) is tied


def test_llama_preset_sets_rmsnorm_ones_after_training_changed_them():
    model = _scrambled(_build(_llama(), OTHER_SEED))
    torchinit.init_model(model, "llama")
    assert torch.equal(model.model.norm.weight, torch.ones(HIDDEN))
    assert torch.equal(model.model.layers[1].input_layernorm.weight, torch.ones(HIDDEN))


def test_presets_leave_huggingface_models_parameters_in_place():
    model = _build(_gpt2(), OTHER_SEED)
    before = dict(model.named_parameters(remove_duplicate=False))
    torchinit.init_model(model, "gpt2")
    after = dict(model.named_parameters(remove_duplicate=False))
    assert all(before[name] is after[name] for name in before)
    assert model.lm_head.weight is model.transformer.wte.weight


# --------------------------------------------------------------------------- options from config


def _huggingface_init(model: nn.Module, modules: list[str]) -> None:
    """Hugging Face's own ``_init_weights`` on ``modules`` of ``model``, in this order."""
    for name in modules:
        model._init_weights(model.get_submodule(name))  # type: ignore[operator]


def test_gpt2_c_proj_depth_from_the_config_is_bit_exact_with_huggingface():
    """Hugging Face's ``_init_weights`` on an attention or MLP module draws only its
    ``c_proj.weight``, with the config's depth: the preset's draw of the same tensors, in the
    same order, is bit for bit the same (0.02 / sqrt(2 * 3), not 0.02 / sqrt(24))."""
    factory = _gpt2(n_layer=3, initializer_range=0.03)
    reference, model = _build(factory, OTHER_SEED), _scrambled(_build(factory, OTHER_SEED))
    modules = [f"transformer.h.{i}.{part}" for i in range(3) for part in ("attn", "mlp")]
    torch.manual_seed(SEED)
    _huggingface_init(reference, modules)
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, "gpt2", include="**.c_proj.weight")
    for name in modules:
        assert torch.equal(
            model.get_submodule(name).c_proj.weight, reference.get_submodule(name).c_proj.weight
        ), name
    assert report["transformer.h.2.mlp.c_proj.weight"].strategy == Normal(0.0, 0.03 / 6**0.5)
    assert report.options == {
        "n_layer": (3, "model.config.n_layer"),
        "initializer_range": (0.03, "model.config.initializer_range"),
    }


@pytest.mark.parametrize(
    ("preset", "factory", "layers"),
    [
        ("gpt2", lambda: _gpt2(initializer_range=0.05), ["transformer.h.{}.attn.c_attn"]),
        (
            "bert",
            lambda: _bert(initializer_range=0.05),
            ["bert.encoder.layer.{}.attention.self.query"],
        ),
        ("llama", lambda: _llama(initializer_range=0.05), ["model.layers.{}.mlp.up_proj"]),
    ],
    ids=["gpt2", "bert", "llama"],
)
def test_initializer_range_from_the_config_is_bit_exact_with_huggingface(preset, factory, layers):
    build = factory()
    reference, model = _build(build, OTHER_SEED), _scrambled(_build(build, OTHER_SEED))
    modules = [layer.format(i) for i in range(N_LAYER) for layer in layers]
    torch.manual_seed(SEED)
    _huggingface_init(reference, modules)
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, preset, include=[f"{name}.*" for name in modules])
    for name in modules:
        for key, tensor in reference.get_submodule(name).state_dict().items():
            assert torch.equal(model.get_submodule(name).state_dict()[key], tensor), (name, key)
    assert report.options["initializer_range"] == (0.05, "model.config.initializer_range")
    assert report[f"{modules[0]}.weight"].strategy == Normal(0.0, 0.05)


@pytest.mark.parametrize(
    ("wrap", "prefix"),
    [(nn.DataParallel, "module."), (torch.compile, "_orig_mod.")],
    ids=["DataParallel", "torch.compile"],
)
def test_gpt2_preset_on_a_wrapped_model_reads_its_config_and_names(wrap, prefix):
    factory = _gpt2(n_layer=3, initializer_range=0.03)
    bare, wrapped = _build(factory, OTHER_SEED), wrap(_build(factory, OTHER_SEED))
    torch.manual_seed(SEED)
    torchinit.init_model(bare, "gpt2")
    torch.manual_seed(SEED)
    report = torchinit.init_model(wrapped, "gpt2")
    assert report.options == {
        "n_layer": (3, "model.config.n_layer"),
        "initializer_range": (0.03, "model.config.initializer_range"),
    }
    # the c_proj name rule, scaled by the depth
    assert report[f"{prefix}transformer.h.2.mlp.c_proj.weight"].strategy == Normal(
        0.0, 0.03 / 6**0.5
    )
    expected, got = bare.state_dict(), wrapped.state_dict()
    assert list(got) == [prefix + key for key in expected]
    for key, value in expected.items():
        assert torch.equal(value, got[prefix + key]), key


def test_llama_depth_comes_from_num_hidden_layers():
    """Hugging Face's LLaMA config names the depth num_hidden_layers: gpt2's second path."""
    model = _build(_llama(), OTHER_SEED)
    report = torchinit.plan(model, "gpt2")
    assert report.options["n_layer"] == (N_LAYER, "model.config.num_hidden_layers")


def test_a_model_without_config_needs_the_depth_given():
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.init_model(_OwnLM(), "gpt2")
    assert str(caught.value) == (
        "gpt2.n_layer: not given and model.config has no n_layer or num_hidden_layers; "
        "pass n_layer=... (got '_OwnLM')"
    )
    with pytest.raises(InvalidArgumentError) as caught:
        torchinit.get_preset("nanogpt")
    assert str(caught.value) == (
        "nanogpt.n_layer: not given and there is no model to read it from "
        "(model.config.n_layer or model.config.num_hidden_layers); pass n_layer=..."
    )
    # initializer_range has a real default: a model without a config gets 0.02, so recorded
    report = torchinit.plan(_OwnLM(), "gpt2", n_layer=4)
    assert report.options == {"n_layer": (4, "given"), "initializer_range": (0.02, "default")}
    assert report.to_dict()["options"] == {
        "n_layer": {"value": 4, "source": "given"},
        "initializer_range": {"value": 0.02, "source": "default"},
    }


def test_values_read_from_the_config_are_checked_as_given_ones():
    model = _OwnLM()
    model.config = types.SimpleNamespace(n_layer="2", initializer_range=0.0)  # type: ignore[assignment]
    with pytest.raises(ArgumentTypeError, match=r"^gpt2\.n_layer: must be an integer \(got '2'\)$"):
        torchinit.plan(model, "gpt2")
    with pytest.raises(InvalidArgumentError, match=r"^bert\.initializer_range: must be > 0"):
        torchinit.plan(model, "bert")


# --------------------------------------------------------------------------- tied weights


def _hand_written_gpt2(model: nn.Module, *, draw_tied_twice: bool = False) -> None:
    """GPT-2's scheme written out, children first; each Parameter drawn once (or twice if tied)."""
    from transformers.pytorch_utils import Conv1D

    scaled = STD / math.sqrt(2 * N_LAYER)
    seen: set[int] = set()
    with torch.no_grad():
        for name, module in _post_order(model):
            for local, parameter in module.named_parameters(recurse=False):
                if id(parameter) in seen and not draw_tied_twice:
                    continue
                seen.add(id(parameter))
                if isinstance(module, nn.LayerNorm):
                    (nn.init.ones_ if local == "weight" else nn.init.zeros_)(parameter)
                elif local == "bias":
                    nn.init.zeros_(parameter)
                elif name.endswith("c_proj"):
                    nn.init.normal_(parameter, 0.0, scaled)
                else:
                    assert isinstance(module, (nn.Linear, nn.Embedding, Conv1D)), name
                    nn.init.normal_(parameter, 0.0, STD)


def test_gpt2_tied_embedding_is_one_entry_and_drawn_once():
    factory = _gpt2()
    expected = _build(factory, OTHER_SEED)
    torch.manual_seed(SEED)
    _hand_written_gpt2(expected)
    expected_next = _next_random()

    twice = _build(factory, OTHER_SEED)
    torch.manual_seed(SEED)
    _hand_written_gpt2(twice, draw_tied_twice=True)
    twice_next = _next_random()

    model = _scrambled(_build(factory, OTHER_SEED))
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, "gpt2")  # the depth: the config's

    # bit for bit the loop that draws the tied matrix once, and the RNG is where it left it
    for name, tensor in expected.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    assert torch.equal(_next_random(), expected_next)
    # drawing it twice (as nanoGPT and Hugging Face's post_init do) is told apart
    assert not torch.equal(twice_next, expected_next)

    entry = report["transformer.wte.weight"]
    assert entry.aliases == ("lm_head.weight",)
    assert [e.name for e in report.entries].count("lm_head.weight") == 0
    assert entry.rule_label == "embedding"  # the later matching rule wins; same strategy
    assert entry.overridden == (0,)


# --------------------------------------------------------------------------- nanoGPT


class _LayerNorm(nn.Module):
    """nanoGPT's LayerNorm: an optional bias (torch's LayerNorm had no bias=False then)."""

    def __init__(self, ndim: int, bias: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None


class _CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, bias: bool) -> None:
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)


class _MLP(nn.Module):
    def __init__(self, n_embd: int, bias: bool) -> None:
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)


class _Block(nn.Module):
    def __init__(self, n_embd: int, bias: bool) -> None:
        super().__init__()
        self.ln_1 = _LayerNorm(n_embd, bias)
        self.attn = _CausalSelfAttention(n_embd, bias)
        self.ln_2 = _LayerNorm(n_embd, bias)
        self.mlp = _MLP(n_embd, bias)


class _NanoGPT(nn.Module):
    """The layout of nanoGPT's ``GPT`` (model.py), without its init (PyTorch's defaults)."""

    def __init__(self, n_layer: int, bias: bool, n_embd: int = HIDDEN) -> None:
        super().__init__()
        self.config = types.SimpleNamespace(n_layer=n_layer, n_embd=n_embd, bias=bias)
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(VOCAB, n_embd),
                wpe=nn.Embedding(POSITIONS, n_embd),
                drop=nn.Dropout(0.0),
                h=nn.ModuleList([_Block(n_embd, bias) for _ in range(n_layer)]),
                ln_f=_LayerNorm(n_embd, bias),
            )
        )
        self.lm_head = nn.Linear(n_embd, VOCAB, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying, as nanoGPT

    def published_init(self) -> None:
        """nanoGPT's own init, as in its ``GPT.__init__`` and ``GPT._init_weights``."""

        def _init_weights(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        self.apply(_init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))


LINEARS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def _nanogpt_std(n_layer: int) -> Callable[[str], float]:
    return lambda name: 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_nanogpt_preset_follows_the_published_scheme(bias):
    n_layer = 3
    # as after some training: the preset must set every tensor
    model = _scrambled(_build(lambda: _NanoGPT(n_layer, bias), OTHER_SEED))
    torch.manual_seed(SEED)
    report = torchinit.init_model(model, "nanogpt")  # n_layer: nanoGPT's model.config.n_layer
    assert report.options == {"n_layer": (n_layer, "model.config.n_layer")}
    expected_std = _nanogpt_std(n_layer)

    random = 0
    for name, tensor in model.state_dict().items():
        if name.rpartition(".")[0].rpartition(".")[2].startswith("ln_"):
            fill = 1.0 if name.endswith("weight") else 0.0
            assert torch.equal(tensor, torch.full_like(tensor, fill)), name
        elif name.endswith("bias"):
            assert torch.equal(tensor, torch.zeros_like(tensor)), name
        else:
            x = tensor.flatten().double().numpy()
            std = expected_std(name)
            assert stats.kstest(x, "norm", args=(0.0, std)).pvalue > 1e-4, name
            assert abs(float(tensor.std()) / std - 1) < _tolerance(tensor.numel()), name
            random += 1
    # wte (= lm_head), wpe, and c_attn, c_proj, c_fc, c_proj per block
    assert random == 2 + 1 + 4 * n_layer
    assert report["transformer.wte.weight"].aliases == ("lm_head.weight",)
    assert model.lm_head.weight is model.transformer.wte.weight
    assert report.unmatched == []
    # the Linear rule names bias: the layers built without one are reported as skipped
    linears = [f"transformer.h.{i}.{p}" for i in range(n_layer) for p in LINEARS]
    expected_skipped = {"lm_head.bias"} | (set() if bias else {f"{n}.bias" for n in linears})
    assert {e.name for e in report.skipped} == expected_skipped


def test_nanogpt_preset_matches_nanogpts_own_init_distributionally():
    n_layer = 3
    reference = _build(lambda: _NanoGPT(n_layer, bias=True), SEED)
    reference.published_init()
    model = _scrambled(_build(lambda: _NanoGPT(n_layer, bias=True), OTHER_SEED))
    torchinit.init_model(model, "nanogpt", n_layer=n_layer)
    constant, random = _compare(reference, model, _nanogpt_std(n_layer))
    assert random == 2 + 1 + 4 * n_layer  # state_dict lists the tied matrix under both names
    assert constant == 2 * (2 * n_layer + 1) + 4 * n_layer  # ln weights/biases, linear biases


def test_nanogpt_tied_matrix_is_drawn_once_where_nanogpt_draws_it_twice():
    def count_draws(init: Callable[[nn.Module], None]) -> int:
        model = _NanoGPT(1, bias=False)
        calls: list[int] = []
        original = torch.Tensor.normal_

        def counting(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
            calls.append(tensor.data_ptr())
            return original(tensor, *args, **kwargs)  # type: ignore[arg-type]

        torch.Tensor.normal_ = counting  # type: ignore[method-assign]
        try:
            init(model)
        finally:
            torch.Tensor.normal_ = original  # type: ignore[method-assign]
        return calls.count(model.lm_head.weight.data_ptr())

    assert count_draws(lambda m: m.published_init()) == 2  # type: ignore[operator]
    assert count_draws(lambda m: torchinit.init_model(m, "nanogpt", n_layer=1)) == 1


# --------------------------------------------------------------------------- own models, options


class _OwnLM(nn.Module):
    """A language model of one's own: torch.nn layers only, no Hugging Face class."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 16, padding_idx=0)
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                dict(
                    norm=nn.RMSNorm(16),
                    ln_1=nn.LayerNorm(16),
                    c_attn=nn.Linear(16, 48),
                    c_proj=nn.Linear(16, 16),
                )
            )
            for _ in range(2)
        )
        self.head = nn.Linear(16, 100, bias=False)


@pytest.mark.parametrize("preset", ["gpt2", "bert", "nanogpt", "llama"])
def test_presets_plan_a_model_without_huggingface_classes(preset):
    model = _OwnLM()
    # no config: the depth must be given (initializer_range has a default)
    options = {"n_layer": 2} if preset in ("gpt2", "nanogpt") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = torchinit.plan(model, preset, strict=True, **options)
    assert {e.name for e in report.initialized} >= {"embed.weight", "head.weight"}
    assert report["blocks.0.c_proj.weight"].strategy.std > 0  # type: ignore[union-attr]
    if preset == "llama":
        assert report["blocks.1.norm.weight"].strategy == Ones()
    if preset in ("gpt2", "nanogpt"):
        assert report["blocks.0.c_proj.weight"].rule_label == "scaled residual c_proj"
    torchinit.init_model(model, preset, **options)


@pytest.mark.slow
def test_presets_do_not_import_transformers():
    code = (
        "import sys, torch, torchinit\n"
        "model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 4))\n"
        "for name in ('gpt2', 'bert', 'nanogpt', 'llama'):\n"
        "    depth = {'n_layer': 2} if name in ('gpt2', 'nanogpt') else {}\n"
        "    torchinit.init_model(model, name, **depth)\n"
        "assert 'transformers' not in sys.modules, 'transformers was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("preset", "options", "error", "message"),
    [
        ("gpt2", {"n_layer": 0}, InvalidArgumentError, "gpt2.n_layer: must be >= 1 (got 0)"),
        ("gpt2", {"n_layer": 2.0}, ArgumentTypeError, "gpt2.n_layer: must be an integer (got 2.0)"),
        (
            "gpt2",
            {"n_layers": 2},
            UnknownNameError,
            "gpt2.n_layers: unknown option; did you mean 'n_layer'? preset 'gpt2' takes "
            "['n_layer', 'initializer_range'] (got 2)",
        ),
        (
            "gpt2",
            {"n_layer": 2, "initializer_range": 0},
            InvalidArgumentError,
            "gpt2.initializer_range: must be > 0 (got 0)",
        ),
        (
            "bert",
            {"initializer_rang": 0.1},
            UnknownNameError,
            "bert.initializer_rang: unknown option; did you mean 'initializer_range'? preset "
            "'bert' takes ['initializer_range'] (got 0.1)",
        ),
        (
            "nanogpt",
            {"n_layer": -1},
            InvalidArgumentError,
            "nanogpt.n_layer: must be >= 1 (got -1)",
        ),
        (
            "nanogpt",
            {"initializer_range": 0.02},
            UnknownNameError,
            "nanogpt.initializer_range: unknown option; preset 'nanogpt' takes ['n_layer'] "
            "(got 0.02)",
        ),
        (
            "llama",
            {"initializer_range": True},
            ArgumentTypeError,
            "llama.initializer_range: must be a number (got True)",
        ),
        (
            "llama",
            {"initializer_range": float("inf")},
            InvalidArgumentError,
            "llama.initializer_range: must be finite (got inf)",
        ),
    ],
)
def test_preset_option_errors(preset, options, error, message):
    with pytest.raises(error) as caught:
        torchinit.get_preset(preset, **options)
    assert str(caught.value) == message
    # init_model refuses them the same way, before touching the model
    model = nn.Linear(2, 2)
    before = model.weight.detach().clone()
    with pytest.raises(error):
        torchinit.init_model(model, preset, **options)
    assert torch.equal(model.weight, before)


def test_preset_options_reach_the_strategies():
    policy = torchinit.get_preset("gpt2", n_layer=6, initializer_range=0.01)
    assert policy.rules[0].strategies == (("weight", Normal(0.0, 0.01)), ("bias", Zeros()))
    assert policy.rules[-1].init == Normal(0.0, 0.01 / math.sqrt(12))
    ((key, embedding),) = torchinit.get_preset("bert", initializer_range=0.05).rules[1].strategies
    assert key == "weight"
    assert embedding.bind(nn.Embedding(4, 2, padding_idx=0)) == torchinit.PaddedNormal(
        0.0, 0.05, padding_idx=0
    )
    assert torchinit.get_preset("nanogpt", n_layer=2).rules[2].init == Normal(0.0, 0.01)
    assert torchinit.get_preset("llama", initializer_range=0.006).rules[0].strategies[0] == (
        "weight",
        Normal(0.0, 0.006),
    )
    for name in ("gpt2", "bert", "nanogpt", "llama"):
        depth = {"n_layer": 2} if name in ("gpt2", "nanogpt") else {}
        assert torchinit.get_preset(name, **depth).order == "apply"

"""Language-model presets: Hugging Face GPT-2 and BERT, nanoGPT, LLaMA-style models.

=======  =========================================  ============================================
preset   reproduces                                 checked (tests/test_presets_transformers.py)
=======  =========================================  ============================================
gpt2     ``transformers`` ``GPT2PreTrainedModel``   distributionally, vs the real model
bert     ``transformers`` ``BertPreTrainedModel``   distributionally (padding row: not yet)
nanogpt  nanoGPT's ``GPT._init_weights``            vs its published scheme (analytic std)
llama    ``transformers`` ``LlamaPreTrainedModel``  distributionally, vs the real model
=======  =========================================  ============================================

Why not bit for bit: Hugging Face initializes while the model is built. Every
``PreTrainedModel`` runs ``post_init()`` at the end of its ``__init__``, so a head model
(``GPT2LMHeadModel``) runs it twice, once for its base model and once for itself; GPT-2's
``Conv1D`` draws its weight in its constructor, then ``_init_weights`` draws it again, and
the residual projections ``c_proj`` a third time with the scaled std; the ``lm_head`` matrix is
drawn before ``tie_weights()`` replaces it by the embedding. The random numbers the finished
model holds are therefore not the start of any sequence a single pass after construction could
draw. The presets give every tensor the distribution Hugging Face's last draw gives it, and
draw each tensor once (tied matrices once, whatever their number of names).

Options come from the model when not given: ``n_layer`` from ``model.config.n_layer`` or
``model.config.num_hidden_layers`` (Hugging Face's configs, nanoGPT's ``GPTConfig``),
``initializer_range`` from ``model.config.initializer_range`` (0.02 for a model without one).
A depth the model does not state must be given: ``init_model(model, "gpt2")`` on a model
without a config is refused rather than given GPT-2 small's 12 layers.

Presets never import ``transformers``: its classes (``Conv1D``, ``LlamaRMSNorm``,
``BertLMPredictionHead``) are named with ``type_names`` and ``optional=True``, so the
same preset also works on a model of your own that has only ``torch.nn`` layers.

Embeddings use ``padded_normal`` with ``padding_idx`` read from the layer
(``FromAttr("padding_idx", optional=True)``): like Hugging Face, the whole table is drawn from
the normal and the padding row (BERT's ``word_embeddings[pad_token_id]``) is then zeroed; an
embedding without padding gets a plain normal.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from torchinit import _validate
from torchinit.policy import Policy, Rule
from torchinit.presets import (  # noqa: F401 (the examples use get_preset)
    FromModel,
    get_preset,
    register_preset,
)
from torchinit.strategies import FromAttr, Normal, Ones, Zeros

__all__: list[str] = []

# typed Any: a FromModel stands, in the signatures, for the int or float read from the model
#: The number of transformer blocks: Hugging Face's and nanoGPT's configs name it so.
N_LAYER: Any = FromModel("config.n_layer", "config.num_hidden_layers")
#: The std of the normal draws; 0.02 (every Hugging Face config's default) without a config.
INITIALIZER_RANGE: Any = FromModel("config.initializer_range", default=0.02)


def _std(value: float, path: str) -> float:
    return _validate.positive(value, path)


def layer_norm() -> Rule:
    """``nn.LayerNorm``: weight 1, bias 0, as every language-model codebase builds it."""
    return Rule(nn.LayerNorm, weight=Ones(), bias=Zeros(), label="norm")


def rms_norm() -> Rule:
    """RMS norms (``torch.nn.RMSNorm`` and Hugging Face's ``LlamaRMSNorm``): weight 1."""
    return Rule(
        nn.RMSNorm, type_names=["LlamaRMSNorm"], optional=True, weight=Ones(), label="rms norm"
    )


def _layers(std: float, *, conv1d: bool = False) -> list[Rule]:
    """Hugging Face's base ``_init_weights`` for the layers a language model has."""
    linear = Rule(
        nn.Linear,
        type_names=["Conv1D"] if conv1d else (),
        optional=conv1d,
        weight=Normal(0.0, std),
        bias=Zeros(),
        label="linear/conv1d" if conv1d else "linear",
    )
    padded = {"mean": 0.0, "std": std, "padding_idx": FromAttr("padding_idx", optional=True)}
    embedding = Rule(nn.Embedding, weight={"padded_normal": padded}, label="embedding")
    return [linear, embedding]


@register_preset("gpt2")
def gpt2(*, n_layer: int = N_LAYER, initializer_range: float = INITIALIZER_RANGE) -> Policy:
    """Hugging Face's GPT-2 init (``transformers/models/gpt2/modeling_gpt2.py``).

    Radford et al., "Language Models are Unsupervised Multitask Learners" (2019): residual
    projections scaled by 1/√N, N = 2·n_layer residual layers (attention and MLP per block).

    * ``Linear`` and Hugging Face's ``Conv1D``: weight ``normal(0, initializer_range)``, bias 0;
    * ``Embedding`` (``wte``, ``wpe``): weight ``normal(0, initializer_range)``;
    * ``LayerNorm``: weight 1, bias 0;
    * every ``c_proj.weight`` (attention and MLP output projections):
      ``normal(0, initializer_range / sqrt(2 * n_layer))``.

    ``lm_head.weight`` is tied to ``wte.weight``: it is drawn once. Order ``apply`` (children
    first), as Hugging Face's ``post_init``. Distributionally equal to the model as
    ``transformers`` builds it, not bit for bit (see the module's docstring).

    Args:
        n_layer: the number of transformer blocks; default: the model's
            ``config.n_layer`` (or ``config.num_hidden_layers``), required without one.
        initializer_range: the std of the normal draws; default: the model's
            ``config.initializer_range``, else 0.02.

    Example:
        >>> policy = get_preset("gpt2", n_layer=2)
        >>> policy.rules[-1].param, policy.rules[-1].init
        ('**.c_proj.weight', Normal(mean=0.0, std=0.01))
        >>> policy.options["n_layer"], policy.options["initializer_range"]
        ((2, 'given'), (0.02, 'default'))
    """
    n_layer = _validate.integer(n_layer, "gpt2.n_layer", minimum=1)
    std = _std(initializer_range, "gpt2.initializer_range")
    return Policy(
        [
            *_layers(std, conv1d=True),
            layer_norm(),
            Rule(
                param="**.c_proj.weight",
                init=Normal(0.0, std / math.sqrt(2 * n_layer)),
                label="scaled residual c_proj",
            ),
        ],
        name="gpt2",
        order="apply",
    )


@register_preset("bert")
def bert(*, initializer_range: float = INITIALIZER_RANGE) -> Policy:
    """Hugging Face's BERT init (``transformers/models/bert/modeling_bert.py``).

    Devlin et al., "BERT: Pre-training of Deep Bidirectional Transformers" (2019).

    * ``Linear``: weight ``normal(0, initializer_range)``, bias 0;
    * ``Embedding`` (word, position, token type): weight ``normal(0, initializer_range)``,
      the padding row zeroed;
    * ``LayerNorm``: weight 1, bias 0;
    * Hugging Face's ``BertLMPredictionHead``: its output ``bias`` 0 (tied to
      ``decoder.bias``).

    Not yet: Hugging Face also zeroes ``word_embeddings.weight[pad_token_id]`` (the
    embedding's ``padding_idx`` row); no torchinit strategy can zero one row after a normal
    draw, so that row keeps its draw. The MLM decoder is tied to the word embeddings and is
    drawn once. Order ``apply``, as Hugging Face. Distributionally equal to the model as
    ``transformers`` builds it, not bit for bit.

    Args:
        initializer_range: the std of the normal draws; default: the model's
            ``config.initializer_range``, else 0.02.

    Example:
        >>> [rule.describe() for rule in get_preset("bert").rules]
        ['linear', 'embedding', 'norm', 'mlm head bias']
    """
    std = _std(initializer_range, "bert.initializer_range")
    return Policy(
        [
            *_layers(std),
            layer_norm(),
            Rule(
                type_names=["BertLMPredictionHead"],
                optional=True,
                bias=Zeros(),
                label="mlm head bias",
            ),
        ],
        name="bert",
        order="apply",
    )


@register_preset("nanogpt")
def nanogpt(*, n_layer: int = N_LAYER) -> Policy:
    """Karpathy's nanoGPT init (``model.py``, ``GPT.__init__`` and ``GPT._init_weights``).

    nanoGPT is not a package: this follows its published scheme.

    * ``Linear``: weight ``normal(0, 0.02)``, bias 0 (where the layer has one);
    * ``Embedding`` (``wte``, ``wpe``): weight ``normal(0, 0.02)``;
    * every ``c_proj.weight``: ``normal(0, 0.02 / sqrt(2 * n_layer))``;
    * layer norms: weight 1, bias 0, as nanoGPT builds them: ``nn.LayerNorm``, and nanoGPT's
      own ``LayerNorm`` class (optional bias) by its parameter names ``ln_*.weight`` /
      ``ln_*.bias``.

    nanoGPT ties ``lm_head.weight`` to ``transformer.wte.weight`` before ``self.apply``, so
    it draws that matrix twice (as an Embedding, then as a Linear); this preset draws it once.
    Order ``apply``, as nanoGPT.

    Args:
        n_layer: the number of transformer blocks; default: the model's ``config.n_layer``
            (nanoGPT's ``GPT`` keeps its ``GPTConfig`` there), required without one.

    Example:
        >>> get_preset("nanogpt", n_layer=8).rules[2].init.std
        0.005
    """
    n_layer = _validate.integer(n_layer, "nanogpt.n_layer", minimum=1)
    return Policy(
        [
            *_layers(0.02),
            Rule(
                param="**.c_proj.weight",
                init=Normal(0.0, 0.02 / math.sqrt(2 * n_layer)),
                label="scaled residual c_proj",
            ),
            layer_norm(),
            Rule(param="**.ln_*.weight", init=Ones(), label="ln weight"),
            Rule(param="**.ln_*.bias", init=Zeros(), label="ln bias"),
        ],
        name="nanogpt",
        order="apply",
    )


@register_preset("llama")
def llama(*, initializer_range: float = INITIALIZER_RANGE) -> Policy:
    """Hugging Face's LLaMA init (``transformers/models/llama/modeling_llama.py``).

    Touvron et al., "LLaMA: Open and Efficient Foundation Language Models" (2023).
    ``LlamaPreTrainedModel`` uses ``PreTrainedModel._init_weights`` unchanged:

    * ``Linear``: weight ``normal(0, initializer_range)``, bias 0 where there is one;
    * ``Embedding``: weight ``normal(0, initializer_range)``;
    * RMS norms (``torch.nn.RMSNorm`` and Hugging Face's ``LlamaRMSNorm``): weight 1.

    Hugging Face treats every class whose name contains ``RMSNorm`` as an RMS norm; for
    other families' classes add a rule: ``policy.then(Rule(type_names=["MistralRMSNorm"],
    weight="ones"))``. Not yet: with ``pad_token_id`` set, Hugging Face zeroes the embedding's
    padding row (as ``bert``). With ``tie_word_embeddings`` the tied matrix is drawn once.
    Order ``apply``. Distributionally equal to the model as ``transformers`` builds it.

    Args:
        initializer_range: the std of the normal draws; default: the model's
            ``config.initializer_range``, else 0.02.

    Example:
        >>> get_preset("llama").rules[2].type_names
        ('LlamaRMSNorm',)
    """
    std = _std(initializer_range, "llama.initializer_range")
    return Policy(
        [
            *_layers(std),
            rms_norm(),
        ],
        name="llama",
        order="apply",
    )

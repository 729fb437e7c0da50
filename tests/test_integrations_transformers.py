"""torchinit.integrations.transformers against the real transformers: tiny BERT and Llama models
saved locally with ``save_pretrained`` and reloaded with a new or resized head."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

import torchinit
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, MissingDependencyError
from torchinit.integrations.transformers import (
    from_pretrained,
    init_missing,
    not_loaded,
    use_policy,
)

# from_pretrained and use_policy need transformers 5 (the test extra installs the newest)
transformers = pytest.importorskip("transformers", minversion="5.0")
safetensors_torch = pytest.importorskip("safetensors.torch")

# values no Hugging Face init gives, so that a head left to Hugging Face cannot pass
HEAD = torchinit.Policy.from_dict(
    {
        "name": "head",
        "rules": [
            {
                "match": {"name": "classifier", "optional": True},
                "weight": {"uniform": {"a": 2.0, "b": 3.0}},
                "bias": {"constant": {"val": 0.25}},
            },
            {
                "match": {"name": "score", "optional": True},
                "weight": {"normal": {"mean": 5.0, "std": 0.5}},
            },
        ],
    }
)
EMBEDDING = torchinit.Policy.from_dict(
    {"rules": [{"match": {"type": "Embedding"}, "weight": {"normal": {"mean": 4.0}}}]}
)


def bert_config(**overrides: Any) -> Any:
    sizes = {
        "vocab_size": 64,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 37,
        "max_position_embeddings": 16,
    }
    return transformers.BertConfig(**{**sizes, **overrides})


def llama_config(**overrides: Any) -> Any:
    sizes = {
        "vocab_size": 64,
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 32,
        "tie_word_embeddings": True,
        "pad_token_id": 0,
    }
    return transformers.LlamaConfig(**{**sizes, **overrides})


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three locally saved "pretrained" models: a BERT base, a BERT classifier of 2 labels, a
    Llama language model with tied embeddings."""
    root = tmp_path_factory.mktemp("pretrained")
    torch.manual_seed(0)
    models = {
        "bert": transformers.BertModel(bert_config()),
        "bert2": transformers.BertForSequenceClassification(bert_config(num_labels=2)),
        "llama": transformers.LlamaForCausalLM(llama_config()),
    }
    for name, model in models.items():
        model.save_pretrained(root / name)
    return {name: root / name for name in models}


def checkpoint(directory: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = safetensors_torch.load_file(directory / "model.safetensors")
    return tensors


def assert_loaded_as_saved(
    model: torch.nn.Module, directory: Path, not_loaded_names: list[str], prefix: str = ""
) -> None:
    """Every tensor the checkpoint gives the model, but those not loaded, is bit-equal to it."""
    state = model.state_dict()
    compared = 0
    for key, saved_tensor in checkpoint(directory).items():
        name = prefix + key
        if name in not_loaded_names:
            continue
        assert torch.equal(state[name], saved_tensor), name
        compared += 1
    assert compared >= 15


def reference(model_class: Any, config: Any, policy: Any, names: list[str]) -> dict[str, Any]:
    """The values ``policy`` gives ``names`` with seed 0 on a model built afresh."""
    fresh = model_class(config)
    torchinit.init_model(fresh, policy, seed=0)
    state = fresh.state_dict()
    return {name: state[name] for name in names}


def assert_rng_untouched(load: Any) -> Any:
    before = torch.random.get_rng_state()
    result = load()
    assert torch.equal(torch.random.get_rng_state(), before), "the global generator was drawn"
    return result


def test_a_new_bert_classifier_follows_the_policy_and_hf_draws_nothing(
    saved: dict[str, Path],
) -> None:
    loaded = assert_rng_untouched(
        lambda: from_pretrained(
            transformers.BertForSequenceClassification,
            saved["bert"],
            HEAD,
            init_options={"seed": 0},
        )
    )
    names = ["classifier.bias", "classifier.weight"]
    assert sorted(loaded.loading_info["missing_keys"]) == names
    assert sorted(entry.name for entry in loaded.report.initialized) == names
    assert_loaded_as_saved(loaded.model, saved["bert"], names, prefix="bert.")
    expected = reference(transformers.BertForSequenceClassification, bert_config(), HEAD, names)
    for name in names:
        assert torch.equal(loaded.model.state_dict()[name], expected[name]), name


def test_a_resized_bert_classifier_follows_the_policy_and_hf_draws_nothing(
    saved: dict[str, Path],
) -> None:
    loaded = assert_rng_untouched(
        lambda: from_pretrained(
            transformers.BertForSequenceClassification,
            saved["bert2"],
            HEAD,
            init_options={"seed": 0},
            num_labels=3,
            ignore_mismatched_sizes=True,
        )
    )
    names = ["classifier.bias", "classifier.weight"]
    assert loaded.loading_info["missing_keys"] == set()
    assert sorted(key for key, _, _ in loaded.loading_info["mismatched_keys"]) == names
    assert sorted(entry.name for entry in loaded.report.initialized) == names
    assert loaded.model.classifier.weight.shape == (3, 32)
    assert_loaded_as_saved(loaded.model, saved["bert2"], names)
    config = bert_config(num_labels=3)
    expected = reference(transformers.BertForSequenceClassification, config, HEAD, names)
    for name in names:
        assert torch.equal(loaded.model.state_dict()[name], expected[name]), name


def test_init_missing_replaces_what_hf_drew_for_a_resized_head(saved: dict[str, Path]) -> None:
    before = torch.random.get_rng_state()
    model, info = transformers.BertForSequenceClassification.from_pretrained(
        saved["bert2"], num_labels=3, ignore_mismatched_sizes=True, output_loading_info=True
    )
    # plain from_pretrained draws the head: the RNG checks above can fail
    assert not torch.equal(torch.random.get_rng_state(), before)
    names = ["classifier.bias", "classifier.weight"]
    assert not_loaded(model, info) == names

    report = init_missing(model, info, HEAD, seed=0)

    assert sorted(entry.name for entry in report.initialized) == names
    assert_loaded_as_saved(model, saved["bert2"], names)
    config = bert_config(num_labels=3)
    expected = reference(transformers.BertForSequenceClassification, config, HEAD, names)
    for name in names:
        assert torch.equal(model.state_dict()[name], expected[name]), name


def test_a_new_llama_score_head_follows_the_policy_and_hf_draws_nothing(
    saved: dict[str, Path],
) -> None:
    loaded = assert_rng_untouched(
        lambda: from_pretrained(
            transformers.LlamaForSequenceClassification,
            saved["llama"],
            HEAD,
            init_options={"seed": 0},
        )
    )
    assert loaded.loading_info["missing_keys"] == {"score.weight"}
    assert [entry.name for entry in loaded.report.initialized] == ["score.weight"]
    assert_loaded_as_saved(loaded.model, saved["llama"], ["score.weight"])
    model_class = transformers.LlamaForSequenceClassification
    expected = reference(model_class, llama_config(), HEAD, ["score.weight"])
    assert torch.equal(loaded.model.score.weight, expected["score.weight"])


def test_a_resized_tied_llama_vocabulary_is_drawn_once_through_the_embedding(
    saved: dict[str, Path],
) -> None:
    loaded = assert_rng_untouched(
        lambda: from_pretrained(
            transformers.LlamaForCausalLM,
            saved["llama"],
            EMBEDDING,
            init_options={"seed": 0},
            vocab_size=80,
            ignore_mismatched_sizes=True,
        )
    )
    name = "model.embed_tokens.weight"
    assert {key for key, _, _ in loaded.loading_info["mismatched_keys"]} == {name}
    assert [entry.name for entry in loaded.report.initialized] == [name]
    model = loaded.model
    assert model.lm_head.weight is model.model.embed_tokens.weight  # still tied
    assert_loaded_as_saved(model, saved["llama"], [name])
    expected = reference(
        transformers.LlamaForCausalLM, llama_config(vocab_size=80), EMBEDDING, [name]
    )
    assert torch.equal(model.model.embed_tokens.weight, expected[name])


def test_post_init_follows_the_policy_on_full_names_and_hf_draws_nothing_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[torch.Tensor] = []
    for function, original in list(transformers.initialization.TORCH_INIT_FUNCTIONS.items()):

        def recording(
            tensor: torch.Tensor, *args: Any, _original: Any = original, **kw: Any
        ) -> Any:
            drawn.append(tensor)
            return _original(tensor, *args, **kw)

        monkeypatch.setitem(transformers.initialization.TORCH_INIT_FUNCTIONS, function, recording)
    base_init = transformers.PreTrainedModel.init_weights

    with use_policy(HEAD, seed=0) as reports:
        model = transformers.BertForSequenceClassification(bert_config())

    assert transformers.PreTrainedModel.init_weights is base_init
    assert len(reports) == 1  # the inner BertModel is left to the outer post_init
    names = ["classifier.bias", "classifier.weight"]
    assert sorted(entry.name for entry in reports[0].initialized) == names
    assert not any(tensor is model.classifier.weight for tensor in drawn)
    assert not any(tensor is model.classifier.bias for tensor in drawn)
    # Hugging Face still initializes what the policy does not set
    assert any(tensor is model.bert.pooler.dense.weight for tensor in drawn)
    expected = reference(transformers.BertForSequenceClassification, bert_config(), HEAD, names)
    for name in names:
        assert torch.equal(model.state_dict()[name], expected[name]), name


def test_use_policy_leaves_other_threads_alone() -> None:
    built: list[Any] = []
    with use_policy(HEAD, seed=0) as reports:
        thread = threading.Thread(
            target=lambda: built.append(transformers.BertForSequenceClassification(bert_config()))
        )
        thread.start()
        thread.join()
    assert reports == []
    assert not built[0].classifier.bias.eq(0.25).any()


def test_init_missing_refuses_include() -> None:
    model = torch.nn.Linear(2, 2)
    info = {"missing_keys": {"weight"}, "mismatched_keys": set()}
    with pytest.raises(InvalidArgumentError) as caught:
        init_missing(model, info, HEAD, include=["bias"])
    assert str(caught.value) == (
        "include: is set from the loading info (missing and mismatched keys): use exclude= to "
        "leave some of them out (got ['bias'])"
    )


def test_not_loaded_refuses_what_is_not_a_loading_info() -> None:
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ArgumentTypeError) as caught:
        not_loaded(model, [("weight",)])  # type: ignore[arg-type]
    assert str(caught.value) == (
        "loading_info: must be the dictionary from_pretrained(..., output_loading_info=True) "
        "returns (got 'list')"
    )
    with pytest.raises(InvalidArgumentError) as caught_key:
        not_loaded(model, {"missing_keys": set()})
    assert str(caught_key.value) == (
        "loading_info: has no 'mismatched_keys': give the dictionary from_pretrained(..., "
        "output_loading_info=True) returns (got ['missing_keys'])"
    )
    with pytest.raises(ArgumentTypeError) as caught_entry:
        not_loaded(model, {"missing_keys": set(), "mismatched_keys": ["weight"]})
    assert str(caught_entry.value) == (
        "loading_info.mismatched_keys[0]: must be a (name, checkpoint shape, model shape) "
        "tuple (got 'weight')"
    )
    with pytest.raises(ArgumentTypeError) as caught_keys:
        not_loaded(model, {"missing_keys": "weight", "mismatched_keys": []})
    assert str(caught_keys.value) == (
        "loading_info.missing_keys: must be a set or list of keys (got 'weight')"
    )


def test_from_pretrained_refuses_output_loading_info_and_include(saved: dict[str, Path]) -> None:
    model_class = transformers.BertForSequenceClassification
    with pytest.raises(InvalidArgumentError) as caught:
        from_pretrained(model_class, saved["bert"], HEAD, output_loading_info=False)
    assert str(caught.value) == (
        "output_loading_info: is always on: the loading info is returned as "
        "Loaded.loading_info (got False)"
    )
    with pytest.raises(ArgumentTypeError) as caught_options:
        from_pretrained(model_class, saved["bert"], HEAD, init_options=0)  # type: ignore[arg-type]
    assert str(caught_options.value) == (
        "init_options: must be a mapping of init_model keywords (got 0)"
    )


def test_transformers_4_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # by its import name: loading a model may put a new module object in sys.modules
    monkeypatch.setattr("transformers.__version__", "4.46.3")
    with pytest.raises(MissingDependencyError) as caught, use_policy(HEAD):
        pass
    assert str(caught.value) == (
        "use_policy: needs transformers 5 or later (models built on meta, loaded tensors "
        "flagged _is_hf_initialized): pip install torchinit[transformers], or use "
        "init_missing() (got '4.46.3')"
    )


def test_transformers_absent_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers: ImportError
    with pytest.raises(MissingDependencyError) as caught:
        from_pretrained(object, "unused", HEAD)
    assert str(caught.value) == (
        "from_pretrained: needs transformers: pip install torchinit[transformers]"
    )


class LoadsWithoutInit:
    """A class whose from_pretrained never initializes what it did not load."""

    @classmethod
    def from_pretrained(cls, path: str, **kwargs: Any) -> tuple[torch.nn.Module, dict[str, Any]]:
        return torch.nn.Linear(2, 2), {"missing_keys": {"weight"}, "mismatched_keys": set()}


def test_from_pretrained_refuses_a_class_that_loads_otherwise() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        from_pretrained(LoadsWithoutInit, "unused", HEAD)
    assert str(caught.value) == (
        "from_pretrained: did not initialize the tensors it did not load once, as "
        "transformers 5.x does: this model class loads differently; use init_missing() after "
        "from_pretrained (got 'Linear')"
    )

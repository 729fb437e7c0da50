"""Hugging Face ``transformers``: a policy for what ``from_pretrained`` did not load, and for
``post_init()``.

Three entry points, for transformers 5.x (tested on the version the ``test`` extra installs):

* :func:`init_missing`: after ``model, info = Cls.from_pretrained(..., output_loading_info=True)``,
  initialize the tensors the checkpoint did not give: its ``missing_keys`` and its
  ``mismatched_keys`` (a head resized with ``ignore_mismatched_sizes=True`` is listed there,
  not under ``missing_keys``). Hugging Face has already drawn values for them; the policy's
  replace them.
* :func:`from_pretrained`: the same, with the loading done here, so that Hugging Face draws
  nothing for the tensors the policy sets: they are initialized by the policy and flagged
  ``_is_hf_initialized`` before Hugging Face initializes what it did not load, which its
  guarded ``transformers.initialization`` functions then skip.
* :func:`use_policy`: a context in which building a model (its ``post_init()``) initializes
  it with a policy, evaluated on the full names of the finished model.

Tied weights (``lm_head.weight`` tied to the input embedding) are never initialized through
their tied name: they are what they are tied to.

Hugging Face's own initialization is reached through two of its methods,
``PreTrainedModel._initialize_missing_keys`` (what ``from_pretrained`` did not load) and
``PreTrainedModel.init_weights`` (``post_init()``), replaced on the class for the duration of
the call or the ``with`` block, and only for the thread that entered it. transformers 4.x
(whose ``from_pretrained`` built models differently) is refused by these two; :func:`init_missing`
reads nothing but the loading info, and its 4.x form (lists instead of sets) is accepted too,
untested.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

from torchinit.engine import init_model
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, MissingDependencyError
from torchinit.report import InitReport

__all__ = ["Loaded", "from_pretrained", "init_missing", "not_loaded", "use_policy"]

# the attribute Hugging Face sets on a tensor it must not initialize again (loaded, tied).
_HF_FLAG = "_is_hf_initialized"
_EXTRA = "pip install torchinit[transformers]"
_LOADING_KEYS = ("missing_keys", "mismatched_keys")
# Hooks replace a method of PreTrainedModel: one replacement at a time, re-entrant so that
# use_policy() may surround from_pretrained() in the same thread.
_HOOK_LOCK = threading.RLock()


@dataclasses.dataclass(frozen=True)
class Loaded:
    """What :func:`from_pretrained` returns.

    Attributes:
        model: the loaded model.
        report: what the policy did to the tensors the checkpoint did not give (every other
            tensor is reported ``excluded``).
        loading_info: Hugging Face's ``output_loading_info``: ``missing_keys``,
            ``unexpected_keys``, ``mismatched_keys``, ``error_msgs``.
    """

    model: nn.Module
    report: InitReport
    loading_info: dict[str, Any]


def not_loaded(model: nn.Module, loading_info: Mapping[str, Any]) -> list[str]:
    """The names of the tensors ``from_pretrained`` did not load: missing and mismatched keys.

    Tied names (``model.all_tied_weights_keys``: ``lm_head.weight`` when it is the input
    embedding) are left out: they take the value of what they are tied to.

    Args:
        model: the model ``from_pretrained`` returned.
        loading_info: its ``output_loading_info=True`` dictionary; only ``missing_keys`` and
            ``mismatched_keys`` (entries ``(name, checkpoint shape, model shape)``) are read.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 3))
        >>> info = {"missing_keys": {"1.bias"}, "mismatched_keys": {("1.weight", (2, 4), (3, 4))}}
        >>> not_loaded(model, info)
        ['1.bias', '1.weight']
    """
    if not isinstance(loading_info, Mapping):
        raise ArgumentTypeError(
            "must be the dictionary from_pretrained(..., output_loading_info=True) returns",
            path="loading_info",
            got=type(loading_info).__name__,
        )
    absent = [key for key in _LOADING_KEYS if key not in loading_info]
    if absent:
        raise InvalidArgumentError(
            f"has no {absent[0]!r}: give the dictionary from_pretrained(..., "
            "output_loading_info=True) returns",
            path="loading_info",
            got=sorted(loading_info),
        )
    names = set(_names(loading_info["missing_keys"], "missing_keys"))
    for position, entry in enumerate(_names(loading_info["mismatched_keys"], "mismatched_keys")):
        if not isinstance(entry, (tuple, list)) or not entry or not isinstance(entry[0], str):
            raise ArgumentTypeError(
                "must be a (name, checkpoint shape, model shape) tuple",
                path=f"loading_info.mismatched_keys[{position}]",
                got=entry,
            )
        names.add(entry[0])
    return sorted(names - set(getattr(model, "all_tied_weights_keys", None) or ()))


def _names(value: Any, key: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(
            "must be a set or list of keys", path=f"loading_info.{key}", got=value
        )
    # sets (5.x) or lists (4.x), in a fixed order for the messages
    return sorted(value, key=repr)


def init_missing(
    model: nn.Module,
    loading_info: Mapping[str, Any],
    policy: str | os.PathLike[str] | Any,
    **options: Any,
) -> InitReport:
    """Initialize with ``policy`` the tensors ``from_pretrained`` did not load.

    :func:`torchinit.init_model` with ``include=`` :func:`not_loaded`: the missing keys and the
    mismatched keys (a head resized with ``ignore_mismatched_sizes=True``), tied names left
    out. Every loaded tensor is left as it is (reported ``excluded``, or ``unmatched`` when no
    rule names it); a not-loaded tensor no rule sets keeps Hugging Face's init.
    Hugging Face has drawn its own values for these tensors first: :func:`from_pretrained`
    spares that draw.

    Args:
        model: the model ``from_pretrained`` returned.
        loading_info: its ``output_loading_info=True`` dictionary.
        policy: a preset name, a YAML file or a :class:`~torchinit.Policy`.
        **options: the other keywords of :func:`torchinit.init_model` (``seed=``,
            ``generator=``, ``strict=``, ``exclude=``, a preset's options) but ``include``.

    Returns:
        The :class:`~torchinit.InitReport` of the call.

    Example:
        >>> import torch, torchinit
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 3))
        >>> info = {"missing_keys": {"1.weight", "1.bias"}, "mismatched_keys": set()}
        >>> head = torchinit.Policy([torchinit.Rule(torch.nn.Linear, weight="zeros")])
        >>> report = init_missing(model, info, head, seed=0)
        >>> [entry.name for entry in report.initialized], report.excluded
        (['1.weight'], ['0.weight'])
    """
    return init_model(model, policy, include=not_loaded(model, loading_info), **_checked(options))


def from_pretrained(
    model_class: Any,
    path: str | os.PathLike[str],
    policy: str | os.PathLike[str] | Any,
    *,
    init_options: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Loaded:
    """``model_class.from_pretrained(path, **kwargs)``, with ``policy`` for what it does not load.

    The tensors the checkpoint does not give (missing keys, mismatched keys with
    ``ignore_mismatched_sizes=True``) are initialized with the policy as soon as
    ``from_pretrained`` has allocated them, and flagged ``_is_hf_initialized``, so that Hugging
    Face's initialization of the not-loaded tensors skips them and draws no random number for
    them (with ``seed=`` in ``init_options``, the global generator is not touched at all when
    the policy sets every such tensor). Those the policy leaves alone get Hugging Face's init.
    Loaded tensors are never written.

    Args:
        model_class: a ``PreTrainedModel`` class or an ``AutoModel...`` class.
        path: the directory ``save_pretrained`` wrote (or a hub name, where downloads work).
        policy: a preset name, a YAML file or a :class:`~torchinit.Policy`.
        init_options: keywords of :func:`torchinit.init_model` but ``include`` (``seed``,
            ``generator``, ``strict``, ...).
        **kwargs: keywords of ``from_pretrained`` (``num_labels=3``,
            ``ignore_mismatched_sizes=True``, ``dtype``) but ``output_loading_info``: the
            loading info is always returned.

    Returns:
        A :class:`Loaded`: the model, the policy's report and the loading info.

    Raises:
        MissingDependencyError: transformers is not installed, or older than 5.

    Example:
        >>> import tempfile, torch, torchinit, transformers
        >>> config = transformers.BertConfig(
        ...     hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37
        ... )
        >>> head = torchinit.Policy([torchinit.Rule(name="classifier", weight="xavier_uniform")])
        >>> with tempfile.TemporaryDirectory() as saved:
        ...     transformers.BertModel(config).save_pretrained(saved)
        ...     loaded = from_pretrained(
        ...         transformers.BertForSequenceClassification, saved, head,
        ...         init_options={"seed": 0},
        ...     )
        >>> [entry.name for entry in loaded.report.initialized]
        ['classifier.weight']
        >>> sorted(loaded.loading_info["missing_keys"])
        ['classifier.bias', 'classifier.weight']
    """
    base = _pretrained_model_class("from_pretrained")
    if "output_loading_info" in kwargs:
        raise InvalidArgumentError(
            "is always on: the loading info is returned as Loaded.loading_info",
            path="output_loading_info",
            got=kwargs["output_loading_info"],
        )
    options = _checked(_mapping(init_options, "init_options"))
    reports: list[InitReport] = []

    def take_over(model: nn.Module, initialize: Callable[[], Any]) -> Any:
        # exactly what Hugging Face is about to initialize: every state-dict tensor it has
        # not flagged (loaded tensors and tied names are flagged by then)
        names = [
            name
            for name, tensor in model.state_dict(keep_vars=True).items()
            if not getattr(tensor, _HF_FLAG, False)
        ]
        with _meta_set_aside(model):
            reports.append(_policy_first(model, policy, names, options))
        return initialize()

    with _hooked(base, "_initialize_missing_keys", take_over):
        model, loading_info = model_class.from_pretrained(path, output_loading_info=True, **kwargs)
    if len(reports) != 1:
        raise InvalidArgumentError(
            "did not initialize the tensors it did not load once, as transformers 5.x does: "
            "this model class loads differently; use init_missing() after from_pretrained",
            path="from_pretrained",
            got=type(model).__name__,
        )
    return Loaded(model=model, report=reports[0], loading_info=dict(loading_info))


@contextlib.contextmanager
def use_policy(policy: str | os.PathLike[str] | Any, **options: Any) -> Iterator[list[InitReport]]:
    """Make ``post_init()`` (Hugging Face's init when a model is built) follow ``policy``.

    Inside the ``with`` block, building a ``PreTrainedModel`` initializes it with
    :func:`torchinit.init_model` (the policy's globs see the full names of the finished model),
    then flags the tensors the policy set ``_is_hf_initialized``, so that Hugging Face's own
    init draws nothing for them, and then runs it for the rest (and ties the weights).

    A model built inside another one (``BertModel`` inside ``BertForSequenceClassification``)
    is left to the outer model's ``post_init()``, which initializes the whole. Models built on
    the meta device (``from_pretrained`` builds them so) are left to Hugging Face, which does
    not initialize them then. A model class that overrides ``init_weights`` without calling
    ``PreTrainedModel.init_weights`` is not reached.

    Args:
        policy: a preset name, a YAML file or a :class:`~torchinit.Policy`.
        **options: keywords of :func:`torchinit.init_model` (``seed=``, ``generator=``, ...).

    Yields:
        A list to which the report of each model built in the block is appended.

    Raises:
        MissingDependencyError: transformers is not installed, or older than 5.

    Example:
        >>> import torch, torchinit, transformers
        >>> config = transformers.BertConfig(
        ...     hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37
        ... )
        >>> head = torchinit.Policy([torchinit.Rule(name="classifier", weight="zeros")])
        >>> with use_policy(head, seed=0) as reports:
        ...     model = transformers.BertForSequenceClassification(config)
        >>> [entry.name for entry in reports[0].initialized]
        ['classifier.weight']
        >>> bool(model.classifier.weight.eq(0).all())
        True
    """
    base = _pretrained_model_class("use_policy")
    reports: list[InitReport] = []

    def take_over(model: nn.Module, init_weights: Callable[[], Any]) -> Any:
        if _inside_another_model(model, base):
            return None
        if any(tensor.is_meta for tensor in model.parameters()):
            return init_weights()
        reports.append(_policy_first(model, policy, None, options))
        return init_weights()

    with _hooked(base, "init_weights", take_over):
        yield reports


def _policy_first(
    model: nn.Module, policy: Any, include: list[str] | None, options: Mapping[str, Any]
) -> InitReport:
    """Initialize with ``policy`` and flag what it set, so that Hugging Face's init, run next,
    skips it (its ``transformers.initialization`` functions return at the flag)."""
    report = init_model(model, policy, include=include, **options)
    tensors = _tensors(model)
    for entry in report.initialized:
        setattr(tensors[entry.name], _HF_FLAG, True)
    return report


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of ``model`` by each of its names (tied ones by all)."""
    tensors: dict[str, torch.Tensor] = dict(model.named_parameters(remove_duplicate=False))
    tensors.update(model.named_buffers(remove_duplicate=False))
    return tensors


@contextlib.contextmanager
def _meta_set_aside(model: nn.Module) -> Iterator[None]:
    """Within the block, the model's tensors still on the meta device are the tensor they are
    to be tied to, or else ``None``.

    When Hugging Face initializes what it did not load, tied names (``lm_head.weight``) are
    still on meta: they are tied right after. The engine refuses a meta tensor without
    ``device=`` even when ``include=`` leaves it out. Tied early, the tensor has the names it
    will have in the finished model, so keyed seeding (which keys a tied tensor by the smallest
    of its names) gives the values ``init_model(model, policy, seed=...)`` would.
    """
    tied = getattr(model, "all_tied_weights_keys", None) or {}
    tensors = _tensors(model)
    aside = []
    for prefix, module in model.named_modules(remove_duplicate=False):
        for slots in (module._parameters, module._buffers):
            for name, tensor in slots.items():
                if tensor is not None and tensor.is_meta:
                    source = tensors.get(tied.get(f"{prefix}.{name}" if prefix else name, ""))
                    early = source if source is not None and not source.is_meta else None
                    aside.append((slots, name, tensor, early))
    for slots, name, _, early in aside:
        slots[name] = early
    try:
        yield
    finally:
        for slots, name, tensor, _ in aside:
            slots[name] = tensor


@contextlib.contextmanager
def _hooked(
    base: type, method: str, hook: Callable[[nn.Module, Callable[[], Any]], Any]
) -> Iterator[None]:
    """Within the block, ``base.method(model, ...)`` called from this thread runs
    ``hook(model, call_original)``; other threads get the original."""
    original = base.__dict__[method]
    thread = threading.get_ident()

    @functools.wraps(original)
    def replacement(model: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != thread:
            return original(model, *args, **kwargs)
        return hook(model, functools.partial(original, model, *args, **kwargs))

    with _HOOK_LOCK:
        setattr(base, method, replacement)
        try:
            yield
        finally:
            setattr(base, method, original)


def _inside_another_model(model: nn.Module, base: type) -> bool:
    """Whether ``model`` is being built inside the ``__init__`` of another ``PreTrainedModel``
    (whose own ``post_init()`` will initialize the whole, with the full names)."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            builder = frame.f_locals.get("self")
            if builder is not model and isinstance(builder, base):
                return True
        frame = frame.f_back
    return False


def _pretrained_model_class(where: str) -> type:
    """``transformers.PreTrainedModel``, for transformers 5 or later."""
    try:
        import transformers
    except ImportError:
        raise MissingDependencyError(f"needs transformers: {_EXTRA}", path=where) from None
    major = transformers.__version__.split(".")[0]
    if not major.isdigit() or int(major) < 5:
        raise MissingDependencyError(
            f"needs transformers 5 or later (models built on meta, loaded tensors flagged "
            f"{_HF_FLAG}): {_EXTRA}, or use init_missing()",
            path=where,
            got=transformers.__version__,
        )
    base: type = transformers.PreTrainedModel
    return base


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ArgumentTypeError("must be a mapping of init_model keywords", path=path, got=value)
    return value


def _checked(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """``options`` for init_model, refused if they set ``include`` (the loading info does)."""
    if "include" in options:
        raise InvalidArgumentError(
            "is set from the loading info (missing and mismatched keys): use exclude= to "
            "leave some of them out",
            path="include",
            got=options["include"],
        )
    return options

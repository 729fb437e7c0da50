"""The public API: :func:`plan` and :func:`init_model`.

Both make one preparation call: it checks the arguments, resolves the policy, walks the model
in the chosen order, decides for every tensor which rule and strategy apply (the last matching
rule wins) and checks everything that could go wrong (missing parameter names, lazy or
non-floating-point parameters, shapes a strategy cannot fill, a generator on the wrong device)
before the first tensor is touched: a policy that fails leaves the model unchanged. A failure
while tensors are written is rolled back (:mod:`torchinit.engine.rollback`).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import torch
from torch import nn

from torchinit import _validate
from torchinit._wrappers import unwrap
from torchinit.config import resolve_policy
from torchinit.engine import consensus
from torchinit.engine.execution import execute
from torchinit.engine.planning import Checks, Plan, build_plan
from torchinit.errors import ArgumentTypeError, InvalidArgumentError, PlanError, TorchInitError
from torchinit.materialize import Materialization, prepare, target_device
from torchinit.patterns import NameGlob
from torchinit.policy import ORDERS, Order, Policy
from torchinit.report import InitReport, new_report
from torchinit.seeding import KeyedSeeding

__all__ = ["init_model", "plan"]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a policy is planned (and applied).

    Planning allocates a few small objects per tensor; on a model of 10,000 layers the
    collections they set off (full passes over the model's own objects, or, once planning is
    over, a pass over all of them at the next allocation) took longer than the planning
    itself (``bench/engine_overhead.py``: 10,000 modules at about 2x the hand loop instead of
    about 1x). The plan makes no reference cycles: reference counting frees it when the call
    returns, so the collector only ever meets what the caller keeps (the report). Cycles a
    strategy makes while the plan is applied wait for the next collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _prepare(
    model: nn.Module,
    policy: Any,
    options: Mapping[str, Any],
    *,
    generator: torch.Generator | None,
    order: str | None,
    skip_frozen: bool,
    include: str | Iterable[str] | None,
    exclude: str | Iterable[str] | None,
    strict: bool,
    seed: int | None,
    scheme_version: int | None,
    device: Any,
    planning: bool,
) -> tuple[Plan, KeyedSeeding | None, Materialization | None]:
    """Check the arguments and resolve ``policy`` against ``model``: the validated plan, and
    the keyed seeding and materialization it is to be applied with (``planning``: for
    :func:`plan`, which needs no ``device=`` for a meta model)."""
    keyed = _keyed(seed, scheme_version, generator, model)
    meta = _materialization(model, device, planning)
    # a preset reads the model inside the wrappers (model.config, its layers' bare names)
    resolved = resolve_policy(policy, options, model=unwrap(model)[0])
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ArgumentTypeError(
            "must be a torch.Generator or None", path="generator", got=generator
        )
    if order is not None:
        order = _validate.choice(order, ORDERS, "order")
    _validate.boolean(skip_frozen, "skip_frozen")
    _validate.boolean(strict, "strict")
    built = build_plan(
        model,
        resolved,
        order=cast(Order, resolved.order if order is None else order),
        strict=strict,
        includes=_globs(include, "include"),
        excludes=_globs(exclude, "exclude"),
        checks=Checks(generator=generator, skip_frozen=skip_frozen, keyed=keyed, meta=meta),
    )
    return built, keyed, meta


def _globs(value: Any, path: str) -> list[NameGlob] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise ArgumentTypeError(
            "must be a glob or an iterable of names/globs", path=path, got=value
        )
    globs = []
    for index, item in enumerate(items):
        try:
            globs.append(NameGlob(item))
        except TorchInitError as error:
            raise error.prefixed(f"{path}[{index}]") from None
    return globs


def _keyed(
    seed: int | None,
    scheme_version: int | None,
    generator: torch.Generator | None,
    model: nn.Module,
) -> KeyedSeeding | None:
    if seed is None:
        if scheme_version is not None:
            raise InvalidArgumentError(
                "selects a keyed seeding scheme: give seed= too",
                path="scheme_version",
                got=scheme_version,
            )
        return None
    if generator is not None:
        raise InvalidArgumentError(
            "give either seed= (keyed seeding) or generator=, not both", path="seed", got=seed
        )
    return KeyedSeeding(seed, model, scheme_version)


def _refuse_disabled_init_functions() -> None:
    """Raise if ``torch.nn.init``'s functions do nothing here.

    Lightning's ``Fabric.init_module(empty_init=True)`` (and code written like it) installs a
    ``__torch_function__`` mode that turns every ``torch.nn.init`` call into a no-op. Strategies
    and layers' ``reset_parameters()`` fill through those functions, so inside such a block
    the tensors would keep their memory while the report said "initialized". One call on a
    one-element tensor finds out; it draws no random number.
    """
    probe = torch.zeros(1, device="cpu")
    nn.init.constant_(probe, 1.0)
    # a fake or otherwise unusual tensor class cannot be read: its modes are not the ones
    # that silence torch.nn.init, so there is nothing to check
    if type(probe) is torch.Tensor and probe.item() != 1.0:
        stack = getattr(torch.overrides, "_get_current_function_mode_stack", list)
        modes = [type(mode).__qualname__ for mode in stack()]
        raise PlanError(
            "torch.nn.init's functions are disabled here (a __torch_function__ mode turns "
            "them into no-ops, as Lightning's Fabric.init_module(empty_init=True) does), so "
            "the model would keep its uninitialized memory: call init_model after the `with` "
            "block",
            path="init_model",
            got=modes,
        )


def _materialization(model: nn.Module, device: Any, planning: bool) -> Materialization | None:
    """Check ``model`` and ``device=``; for a meta model, how to materialize it."""
    if not isinstance(model, nn.Module):
        raise ArgumentTypeError("must be a torch.nn.Module", path="model", got=type(model).__name__)
    return prepare(model, target_device(device), planning=planning)


def _report(plan: Plan, *, applied: bool, keyed: KeyedSeeding | None) -> InitReport:
    return new_report(
        seeding=keyed.describe() if keyed is not None else None,
        policy=plan.policy.name or "<policy>",
        model=type(plan.model).__name__,
        order=plan.order,
        applied=applied,
        rows=plan.report_rows,
        unused_rules=tuple(plan.unused_rules),
        options=dict(plan.policy.options),
    )


@_gc_paused()
def plan(
    model: nn.Module,
    policy: str | os.PathLike[str] | Policy | Mapping[str, Any],
    *,
    order: str | None = None,
    skip_frozen: bool = False,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    strict: bool = False,
    seed: int | None = None,
    scheme_version: int | None = None,
    device: str | torch.device | None = None,
    **options: Any,
) -> InitReport:
    """Resolve ``policy`` against ``model`` and report what :func:`init_model` would do.

    Touches no tensor and draws no random number. Raises the same errors as
    :func:`init_model` would, before it touched anything. Like :func:`init_model`, it pauses
    Python's cyclic garbage collector while it runs.

    A model on the meta device needs no ``device=`` here: nothing is allocated, and the plan
    is the one ``init_model(model, policy, device=...)`` would follow (parameters no rule
    sets are reported with their layer's default init). Planning a big model this way costs
    neither its memory nor the time to draw its values (``torchinit plan --meta``).

    Takes the arguments of :func:`init_model` but ``generator``.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
        >>> report = plan(model, "resnet")
        >>> report["0.weight"].strategy
        KaimingNormal(a=0.0, mode='fan_out', nonlinearity='relu')
        >>> with torch.device("meta"):
        ...     big = torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.LayerNorm(4096))
        >>> plan(big, "torch_default")["0.weight"].shape
        (4096, 4096)
    """
    built, keyed, _ = _prepare(
        model,
        policy,
        options,
        generator=None,
        order=order,
        skip_frozen=skip_frozen,
        include=include,
        exclude=exclude,
        strict=strict,
        seed=seed,
        scheme_version=scheme_version,
        device=device,
        planning=True,
    )
    return _report(built, applied=False, keyed=keyed)


@_gc_paused()
def init_model(
    model: nn.Module,
    policy: str | os.PathLike[str] | Policy | Mapping[str, Any],
    *,
    generator: torch.Generator | None = None,
    order: str | None = None,
    skip_frozen: bool = False,
    include: str | Iterable[str] | None = None,
    exclude: str | Iterable[str] | None = None,
    strict: bool = False,
    seed: int | None = None,
    scheme_version: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    rollback: bool = True,
    seed_check_timeout: float = consensus.DEFAULT_TIMEOUT,
    **options: Any,
) -> InitReport:
    """Initialize ``model``'s parameters in place with a policy or preset.

    The whole plan is resolved and validated first; then each tensor is filled in place under
    ``torch.no_grad()``, in traversal order, at most once. ``Parameter`` objects are never
    replaced, so optimizers and hooks keep working; dtype and device are preserved.

    Python's cyclic garbage collector (``gc``) is paused for the duration of the call, in
    the whole process (other threads included), and resumed on return if it was enabled:
    collections set off by planning's small allocations cost more than planning itself on
    models of thousands of layers. Reference cycles a strategy makes wait for the next
    collection after the call.

    Args:
        model: the model. Wrapped in ``nn.DataParallel``/``DistributedDataParallel`` or
            ``torch.compile``, rules, ``include``/``exclude`` and presets see the model
            inside, by its names without the ``module.``/``_orig_mod.`` prefix (a glob
            written with it matches too); the report keeps the prefixed names.
            ``torch.jit.script`` modules are refused.
        policy: a preset name (see :func:`torchinit.available_presets`), a YAML policy file
            (an ``os.PathLike`` or a string ending in ``.yaml``/``.yml``), a
            :class:`~torchinit.Policy`, or a policy as a mapping in the YAML schema (a
            ``dict``, or an OmegaConf ``DictConfig`` as Hydra passes it).
        generator: draw every random number from this generator instead of torch's global
            one (it must be on the tensors' device).
        order: ``"modules"`` (``model.modules()`` pre-order, torchvision's loops) or
            ``"apply"`` (children first, ``model.apply``/Hugging Face); default: the policy's.
        skip_frozen: leave parameters with ``requires_grad=False`` alone.
        include: only initialize tensors whose name matches one of these globs or names
            (e.g. the ``missing_keys`` of ``load_state_dict(strict=False)``).
        exclude: never initialize tensors whose name matches one of these.
        strict: make a policy, a rule (unless ``optional``) or an ``include``/``exclude``
            entry that matches nothing in the model an error instead of a warning.
        seed: keyed seeding (:mod:`torchinit.seeding`): every tensor's values are a pure
            function of the seed, its name and its strategy, independent of traversal order,
            other parameters, wrappers and device; torch's global generator is not touched.
            Not with ``generator``.
        scheme_version: with ``seed``, the keyed scheme: ``2`` (the default: each chunk of
            a tensor drawn by torch's CPU generators, fast on a CPU) or ``3`` (counter-based,
            :mod:`torchinit.counter`: every element drawn on the tensor's own device from its
            own counter, so a shard draws only its elements; slower on a CPU). The two give
            different values; the report records which was used.
        device: for a model on the meta device, where to materialize it
            (:mod:`torchinit.materialize`): its tensors are allocated there and initialized in
            one pass; parameters no rule sets get their layer's default init, buffers their
            proper values. On any other model it must name the model's device (a no-op).
        progress: show progress over the tensors being initialized: a tqdm bar on stderr
            (``pip install torchinit[progress]``), else a rich bar if rich is installed, else
            ``logging`` INFO lines at every 10% on the ``torchinit.progress`` logger. Off, it
            costs nothing.
        rollback: on any failure while tensors are written (a strategy or a layer's
            ``reset_parameters()`` raising, ``KeyboardInterrupt``, out of memory), put the
            model's tensors and the random state the call drew from (``generator``, or with
            neither ``generator`` nor ``seed`` the global CPU and initialized CUDA generators)
            back as they were before the call, then re-raise with
            a note saying so. The cost: a copy of every tensor to be written, made before the
            first write on the tensor's own device, so 1x the bytes written in extra peak
            memory and the time of a copy (a warning says so above
            :data:`torchinit.engine.rollback.WARN_BYTES`, 1 GiB). ``False`` skips the copy
            and restores nothing: the error's note lists the tensors written. A model on the
            meta device is always put back on the meta device (and the random state
            restored), at no cost. Errors the plan finds are raised before anything is
            written, either way.
        seed_check_timeout: seconds to wait for the other ranks in the seed check
            (:mod:`torchinit.engine.consensus`), made only for a model holding DTensor
            parameters: every rank of their device mesh compares the seed, the keyed scheme
            with torchinit's version and a digest of the plan, and on any difference (or a
            rank whose planning failed) every rank raises a :class:`~torchinit.PlanError`
            before touching a tensor.
        **options: options of the preset (e.g. ``zero_init_residual=True`` for ``"resnet"``).
            Options a preset reads from the model (``gpt2``'s ``n_layer`` from
            ``model.config``) need not be given; given, they win. The report's ``options``
            say where each value came from.

    Returns:
        An :class:`~torchinit.InitReport`: which rule and strategy set each tensor, and what
        nothing matched.

    Example:
        >>> import torch, torchinit
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
        >>> report = torchinit.init_model(model, "resnet")
        >>> report.unmatched
        ['0.bias']
    """
    _validate.boolean(progress, "progress")
    _validate.boolean(rollback, "rollback")
    timeout = _validate.positive(seed_check_timeout, "seed_check_timeout")
    prepare = functools.partial(
        _prepare,
        model,
        policy,
        options,
        generator=generator,
        order=order,
        skip_frozen=skip_frozen,
        include=include,
        exclude=exclude,
        strict=strict,
        seed=seed,
        scheme_version=scheme_version,
        device=device,
        planning=False,
    )
    _refuse_disabled_init_functions()
    built, keyed, meta = consensus.checked(model, prepare, timeout)
    with torch.no_grad():
        execute(built, generator, keyed, meta, progress=progress, rollback=rollback)
    return _report(built, applied=True, keyed=keyed)

"""Run a model to measure it, and leave it exactly as it was.

:class:`Probe` is what data-dependent tools (:func:`torchinit.lsuv`, diagnostics) run a model
under: it sets the train/eval mode asked for, and on exit removes every hook it registered and
restores every module's ``training`` flag, every buffer (BatchNorm running statistics and
``num_batches_tracked``), every parameter's ``.grad`` and ``requires_grad``, torch's global
random state (CPU, and CUDA when initialized: dropout in training mode draws from it) and
the fused attention fast path it turns off (which skips the hooks of the layers inside
``nn.MultiheadAttention`` and ``nn.TransformerEncoderLayer``). Parameters are not restored:
a tool that changes them (LSUV) means to.

Example:
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    >>> with Probe(model, mode="train") as probe:
    ...     seen = []
    ...     _ = probe.on_output(model[0], lambda module, output: seen.append(output.shape))
    ...     _ = run(model, torch.randn(8, 4))
    >>> seen, model[0]._forward_hooks, int(model[1].num_batches_tracked)
    ([torch.Size([8, 4])], OrderedDict(), 0)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from torchinit import _validate

__all__ = ["MODES", "Mode", "Probe", "first_tensor", "rng_preserved", "run"]

Mode = Literal["eval", "train"]
MODES: tuple[str, ...] = ("eval", "train")


class Probe:
    """Hooks on a model, and everything needed to put the model back as it was on exit.

    Args:
        model: the model.
        mode: ``"eval"`` or ``"train"`` for the duration; ``None`` keeps each module's own.
    """

    def __init__(self, model: nn.Module, *, mode: Mode | None = None) -> None:
        if mode is not None:
            _validate.choice(mode, MODES, "mode")
        self.model = model
        self.mode = mode
        self._handles: list[RemovableHandle] = []
        self._exit = contextlib.ExitStack()

    def __enter__(self) -> Probe:
        model = self.model
        training = [(module, module.training) for module in model.modules()]
        # by slot, not only by value: a module that assigns itself a new buffer tensor during
        # the pass gets its own tensor back, with its values
        buffers = [
            (module, name, buffer, buffer.detach().clone())
            for module in model.modules()
            for name, buffer in module._buffers.items()
            if buffer is not None
        ]
        parameters = [(p, p.grad, p.requires_grad) for p in model.parameters()]
        mha = getattr(torch.backends, "mha", None)
        fast_path = mha.get_fastpath_enabled() if mha is not None else None

        def restore() -> None:
            for handle in self._handles:
                handle.remove()
            self._handles.clear()
            for module, flag in training:
                module.training = flag
            with torch.no_grad():
                for module, name, buffer, value in buffers:
                    module._buffers[name] = buffer
                    buffer.copy_(value)
            for parameter, grad, requires_grad in parameters:
                parameter.grad = grad
                parameter.requires_grad_(requires_grad)
            if mha is not None:
                mha.set_fastpath_enabled(fast_path)

        self._exit.enter_context(rng_preserved())
        self._exit.callback(restore)
        if mha is not None:
            mha.set_fastpath_enabled(False)
        if self.mode is not None:
            model.train(self.mode == "train")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._exit.close()

    def on_output(
        self, module: nn.Module, hook: Callable[[nn.Module, Any], None]
    ) -> RemovableHandle:
        """Call ``hook(module, output)`` after each call of ``module``; removed on exit."""

        def observe(called: nn.Module, _args: Any, output: Any) -> None:
            hook(called, output)  # what it returns is dropped: a probe never changes an output

        handle = module.register_forward_hook(observe)
        self._handles.append(handle)
        return handle

    def on_grad(
        self, tensor: torch.Tensor, hook: Callable[[torch.Tensor], None]
    ) -> RemovableHandle:
        """Call ``hook(grad)`` when the gradient with respect to ``tensor`` is computed; removed
        on exit (``tensor`` may outlive the probe: a layer that returns its input unchanged
        hands back the caller's own tensor).

        Example:
            >>> layer = torch.nn.Linear(2, 2)
            >>> x = torch.ones(1, 2, requires_grad=True)
            >>> with Probe(layer) as probe:
            ...     seen = []
            ...     _ = probe.on_grad(x, lambda grad: seen.append(grad.shape))
            ...     run(layer, x).sum().backward()
            >>> seen, x._backward_hooks
            ([torch.Size([1, 2])], OrderedDict())
        """

        def observe(grad: torch.Tensor) -> None:
            hook(grad)  # what it returns is dropped: a probe never changes a gradient

        handle: RemovableHandle = tensor.register_hook(observe)  # type: ignore[no-untyped-call]
        self._handles.append(handle)
        return handle


@contextlib.contextmanager
def rng_preserved() -> Iterator[None]:
    """Restore torch's global random state on leaving the block, even on an error: the CPU
    generator, and every CUDA device's when CUDA is initialized.

    Example:
        >>> before = torch.get_rng_state()
        >>> with rng_preserved():
        ...     _ = torch.randn(3)
        >>> torch.equal(torch.get_rng_state(), before)
        True
    """
    cpu_state = torch.get_rng_state()
    cuda_states = (
        torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None  # type: ignore[no-untyped-call]
    )
    try:
        yield
    finally:
        torch.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def run(model: nn.Module, inputs: Any) -> Any:
    """``model(*inputs)`` for a tuple, ``model(**inputs)`` for a mapping, else ``model(inputs)``."""
    if isinstance(inputs, tuple):
        return model(*inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(inputs)


def first_tensor(output: Any) -> torch.Tensor | None:
    """The first floating-point tensor in a module's output: the output itself, or the first
    in a tuple/list, a dict or a Hugging Face ``ModelOutput`` (a dict), depth first."""
    if isinstance(output, torch.Tensor):
        return output if output.is_floating_point() else None
    items = output.values() if isinstance(output, Mapping) else output
    if isinstance(items, (tuple, list)) or isinstance(output, Mapping):
        for item in items:
            found = first_tensor(item)
            if found is not None:
                return found
    return None

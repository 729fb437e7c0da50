"""Wrappers that prefix a model's names, seen through: ``DataParallel``/DDP, ``torch.compile``.

``nn.DataParallel(model)`` and ``DistributedDataParallel`` name every tensor ``module.<name>``;
``torch.compile(model)`` names them ``_orig_mod.<name>``. torchinit sees through both, the same
way everywhere (keyed seeding, rules' ``name=``/``param=`` globs, ``include=``/``exclude=``,
presets reading the model): the wrappers are not layers, and a glob is matched against the
*bare* name, the wrapped model's own (``fc.weight``). A glob written with the wrapper's prefix
(``_orig_mod.fc.weight``, copied from the wrapper's ``state_dict``) has the prefix removed first,
so it matches too. Reports keep the names ``model.named_parameters()`` gives (prefixed).
"""

from __future__ import annotations

import functools
import sys
from typing import cast

from torch import nn

from torchinit.patterns import NameGlob

__all__ = ["bare_glob", "bare_name", "unwrap"]


def unwrap(model: nn.Module) -> tuple[nn.Module, str]:
    """The model inside the prefixing wrappers around ``model``, and the prefix they add.

    Example:
        >>> inner, prefix = unwrap(nn.DataParallel(nn.Linear(2, 2)))
        >>> type(inner).__name__, prefix
        ('Linear', 'module.')
    """
    prefix = ""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            prefix, model = prefix + "module.", cast(nn.Module, model.module)
        elif _is_compiled(model):
            prefix, model = prefix + "_orig_mod.", cast(nn.Module, model._orig_mod)
        else:
            return model, prefix


def _is_compiled(model: nn.Module) -> bool:
    """Whether ``model`` is ``torch.compile``'s wrapper around a module (``_orig_mod``)."""
    # torch._dynamo is imported only if already loaded: no model is compiled without it, and
    # importing it costs seconds
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")
    wrapper = getattr(eval_frame, "OptimizedModule", None)
    return (
        isinstance(wrapper, type)
        and isinstance(model, wrapper)
        and isinstance(getattr(model, "_orig_mod", None), nn.Module)
    )


def bare_name(name: str, prefix: str) -> str:
    """``name``, a name in the wrapped model, without the wrappers' ``prefix``.

    The wrapped model itself (``_orig_mod``, the prefix without its dot) is the root, ``""``.

    Example:
        >>> bare_name("_orig_mod.fc.weight", "_orig_mod."), bare_name("module", "module.")
        ('fc.weight', '')
    """
    if name.startswith(prefix):
        return name[len(prefix) :]
    return "" if prefix and name == prefix[:-1] else name


@functools.lru_cache(maxsize=1024)
def bare_glob(glob: NameGlob, prefix: str) -> NameGlob:
    """The glob to match bare names with: ``glob`` without the wrappers' ``prefix`` if it was
    written with it (as copied from the wrapper's ``state_dict``), else ``glob`` itself.

    Example:
        >>> bare_glob(NameGlob("module.fc.*"), "module.").pattern
        'fc.*'
        >>> bare_glob(NameGlob("**.bias"), "module.").pattern
        '**.bias'
    """
    if prefix and glob.pattern.startswith(prefix) and len(glob.pattern) > len(prefix):
        return NameGlob(glob.pattern[len(prefix) :])
    return glob

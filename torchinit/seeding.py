"""Keyed seeding: each tensor's values are a pure function of (seed, its name, its strategy).

``init_model(model, policy, seed=N)`` gives every tensor its own CPU generator, seeded from
a SHA-256 digest of the scheme name and version, ``N``, the tensor's full dotted name and the
strategy with its arguments. The values therefore do not depend on:

* the traversal order or on which other parameters the model has (nothing is shared
  between tensors);
* the number of threads (each tensor is drawn from its own generator);
* wrappers that prefix names: the prefixes of ``DistributedDataParallel``/``DataParallel``
  (``module.``) and ``torch.compile`` (``_orig_mod.``) on the model passed in are removed
  from the key; a tied parameter is keyed by the smallest of its names;
* the device: values are drawn on the CPU and copied to the tensor's device, so a CUDA model
  gets the same values bit for bit as a CPU one.

Keyed init never touches torch's global random state. The report records the scheme and its
version; ``tests/test_seeding.py`` pins golden values so that no release changes them silently.
Without ``seed`` nothing changes: the global generator (or ``generator=``) is used, and the
presets stay bit-exact with the libraries they reproduce.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

import torch
from torch import nn

from torchinit import _validate
from torchinit.errors import InvalidArgumentError
from torchinit.strategies import Strategy

__all__ = ["SCHEME", "VERSION", "KeyedSeeding"]

SCHEME = "torchinit-keyed"
VERSION = 1
_MAX_SEED = 2**64 - 1


def _wrapper_prefix(model: nn.Module) -> str:
    """The name prefix that wrappers around ``model`` add (``module.``, ``_orig_mod.``)."""
    prefix = ""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            prefix, model = prefix + "module.", cast(nn.Module, model.module)
        elif type(model).__name__ == "OptimizedModule" and isinstance(
            getattr(model, "_orig_mod", None), nn.Module
        ):
            prefix, model = prefix + "_orig_mod.", cast(nn.Module, model._orig_mod)
        else:
            return prefix


class KeyedSeeding:
    """The per-tensor generators of one ``init_model(..., seed=N)`` call.

    Args:
        seed: the seed, an integer in ``[0, 2**64)``.
        model: the model passed to ``init_model`` (wrappers included).

    Example:
        >>> keyed = KeyedSeeding(0, torch.nn.Linear(2, 2))
        >>> keyed.key_name(["weight"])
        'weight'
    """

    def __init__(self, seed: Any, model: nn.Module) -> None:
        self.seed = _validate.integer(seed, "seed", minimum=0)
        if self.seed > _MAX_SEED:
            raise InvalidArgumentError("must be < 2**64", path="seed", got=seed)
        self.prefix = _wrapper_prefix(model)

    def key_name(self, names: list[str]) -> str:
        """The name a tensor is keyed by: without wrapper prefixes, the smallest if tied."""
        stripped = [n[len(self.prefix) :] if n.startswith(self.prefix) else n for n in names]
        return min(stripped)

    def generator(self, names: list[str], strategy: Strategy) -> torch.Generator:
        """A CPU generator seeded from (scheme, version, seed, name, strategy)."""
        payload = json.dumps(
            [SCHEME, VERSION, self.seed, self.key_name(names), strategy.to_spec()],
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(payload.encode("utf-8")).digest()
        return torch.Generator(device="cpu").manual_seed(int.from_bytes(digest[:8], "little"))

    def describe(self) -> dict[str, Any]:
        """What the report records: ``{"scheme": ..., "version": ..., "seed": ...}``."""
        return {"scheme": SCHEME, "version": VERSION, "seed": self.seed}

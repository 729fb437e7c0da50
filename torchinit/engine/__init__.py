"""The policy engine: resolve a policy against a model, validate the whole plan, then apply it.

One module per step: :mod:`~torchinit.engine.index` (every tensor slot of the model with all
its names), :mod:`~torchinit.engine.matching` (rules to slots), :mod:`~torchinit.engine.planning`
(each slot's fate, every check), :mod:`~torchinit.engine.execution` (in order, keyed, meta) and
:mod:`~torchinit.engine.api` (:func:`plan` and :func:`init_model`).
"""

from torchinit.engine.api import init_model, plan

__all__ = ["init_model", "plan"]

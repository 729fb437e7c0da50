"""Initialization strategies: small immutable values that fill one tensor in place.

Every ``torch.nn.init`` function has a strategy class here, registered under the function's name
without the trailing underscore (``kaiming_normal``). Named strategies draw exactly the random
numbers ``torch.nn.init`` draws, in the same order, from the same generator: a policy made of
them reproduces a hand-written loop bit for bit.

:class:`VarianceScaling` is the one general formula (Keras/JAX's ``variance_scaling``); the
Xavier, Kaiming and LeCun strategies are specialisations of it, and ``as_variance_scaling()``
says which of its parameters each one fixes.

Every strategy validates its arguments when it is built, so a bad value fails before any tensor
is touched, with a message such as
``kaiming_normal.mode: must be one of ['fan_in', 'fan_out'] (got 'fanin')``.

Where things live: :mod:`~torchinit.strategies.base` (the :class:`Strategy` protocol and
:class:`Law`), :mod:`~torchinit.strategies.spec` (the registry, names and plain data),
:mod:`~torchinit.strategies.basic` (constants, uniform and normal draws, structured fills),
:mod:`~torchinit.strategies.fan` (the fan-based family),
:mod:`~torchinit.strategies.function` (plain functions as strategies),
:mod:`~torchinit.strategies.checkpoint` (tensors read from a checkpoint file, by name),
:mod:`~torchinit.strategies.layer` (whole-layer resets) and ``_draws`` (:func:`drawing_from`:
code that takes no generator, drawing from a given one; both of the last two use it).
"""

from torchinit.strategies._draws import drawing_from
from torchinit.strategies.base import Law, LawKind, Strategy, TensorSource, grad_free_call
from torchinit.strategies.basic import (
    Constant,
    Dirac,
    Eye,
    GateConstant,
    Normal,
    Ones,
    Orthogonal,
    PaddedNormal,
    ScaledEye,
    Sparse,
    TruncNormal,
    TruncNormalInverseCDF,
    Uniform,
    Zeros,
    constant_fill,
)
from torchinit.strategies.checkpoint import Checkpoint, CheckpointFile
from torchinit.strategies.fan import (
    DISTRIBUTION_ALIASES,
    DISTRIBUTIONS,
    KAIMING_MODES,
    TRUNCATED_NORMAL_STD,
    Distribution,
    FanStrategy,
    FanTruncNormal,
    FanUniform,
    JaxGlorotNormal,
    JaxHeNormal,
    KaimingMode,
    KaimingNormal,
    KaimingUniform,
    LecunNormal,
    LecunUniform,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
)
from torchinit.strategies.function import FunctionStrategy, describe_callable
from torchinit.strategies.layer import TorchDefault, reset_method_name
from torchinit.strategies.spec import (
    STRATEGIES,
    AttrStrategy,
    FromAttr,
    get_strategy,
    register_strategy,
    to_strategy,
)

__all__ = [
    "DISTRIBUTIONS",
    "DISTRIBUTION_ALIASES",
    "KAIMING_MODES",
    "STRATEGIES",
    "TRUNCATED_NORMAL_STD",
    "AttrStrategy",
    "Checkpoint",
    "CheckpointFile",
    "Constant",
    "Dirac",
    "Distribution",
    "Eye",
    "FanStrategy",
    "FanTruncNormal",
    "FanUniform",
    "FromAttr",
    "FunctionStrategy",
    "GateConstant",
    "JaxGlorotNormal",
    "JaxHeNormal",
    "KaimingMode",
    "KaimingNormal",
    "KaimingUniform",
    "Law",
    "LawKind",
    "LecunNormal",
    "LecunUniform",
    "Normal",
    "Ones",
    "Orthogonal",
    "PaddedNormal",
    "ScaledEye",
    "Sparse",
    "Strategy",
    "TensorSource",
    "TorchDefault",
    "TruncNormal",
    "TruncNormalInverseCDF",
    "Uniform",
    "VarianceScaling",
    "XavierNormal",
    "XavierUniform",
    "Zeros",
    "constant_fill",
    "describe_callable",
    "drawing_from",
    "get_strategy",
    "grad_free_call",
    "register_strategy",
    "reset_method_name",
    "to_strategy",
]

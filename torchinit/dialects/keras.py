"""Keras initializer configs and ``jax.nn.initializers`` names, as torchinit strategies.

:func:`from_keras` reads a Keras initializer config (Keras 3's or tf.keras 2's
``{"class_name": ..., "config": {...}}``, or a bare name such as ``"he_normal"``) and
:func:`from_jax` a ``jax.nn.initializers`` name with its arguments; each returns the strategy
that draws from the same law. Neither imports keras or jax.

Same names, different laws: JAX's and Keras's ``glorot_normal``/``he_normal`` (and JAX's
aliases ``xavier_normal``/``kaiming_normal``) are *truncated* normals, so they become
:class:`~torchinit.JaxGlorotNormal`/:class:`~torchinit.JaxHeNormal`, never torch's
``xavier_normal``/``kaiming_normal``; Keras's ``VarianceScaling(distribution="normal")`` is
the truncated normal too (its plain normal is ``untruncated_normal``); JAX's ``uniform(scale)``
draws from U[0, scale), not from a symmetric interval; JAX's ``truncated_normal`` cuts at
``lower``/``upper`` *standard deviations* and Keras's ``TruncatedNormal`` at ``mean ± 2
stddev``, where torch's bounds are absolute values. The guide page "Keras and JAX
initializers" has the whole table.

**Layouts.** A Keras or JAX kernel is stored ``(in, out)`` (a convolution's ``(*kernel, in,
out)``), a torch weight ``(out, in, *kernel)``. The fans mean the same in both: ``fan_in`` is
``in × receptive field`` and ``fan_out`` is ``out × receptive field``, so a variance-scaling
law is the same law on either layout, and an orthogonal (or identity) matrix is one on the
other's transposed layout. JAX's ``in_axis``/``out_axis``/``batch_axis`` and
``orthogonal``'s ``column_axis``, and Keras 3's ``input_axes``/``output_axes``, name other
axes of a JAX/Keras array: only their defaults (the layout above) are accepted.

**Seeds.** A Keras config's ``seed`` is accepted and ignored: torchinit cannot replay Keras's
random streams, and its values come from ``init_model(..., seed=...)`` or the generator
handed to the strategy. ``dtype`` arguments are ignored too (the tensor's dtype decides),
except a complex one, which is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torchinit import _validate
from torchinit.errors import (
    ArgumentTypeError,
    InvalidArgumentError,
    OutOfRangeError,
    TorchInitError,
    UnknownNameError,
    did_you_mean,
    key_path,
)
from torchinit.strategies.base import Strategy
from torchinit.strategies.basic import (
    Constant,
    Normal,
    Ones,
    Orthogonal,
    ScaledEye,
    TruncNormal,
    Uniform,
    Zeros,
)
from torchinit.strategies.fan import (
    JaxGlorotNormal,
    JaxHeNormal,
    KaimingUniform,
    LecunNormal,
    LecunUniform,
    VarianceScaling,
    XavierUniform,
)

__all__ = ["JAX_INITIALIZERS", "KERAS_INITIALIZERS", "from_jax", "from_keras"]

_REQUIRED: Any = object()

#: Keras's fan modes (JAX adds ``fan_geo_avg``).
_KERAS_MODES = ("fan_in", "fan_out", "fan_avg")
_JAX_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
#: Keras's distribution names (lower-cased first, as Keras does) and the law each one is:
#: Keras reads ``normal`` as the truncated normal.
_KERAS_DISTRIBUTIONS = {
    "truncated_normal": "truncated_normal",
    "untruncated_normal": "normal",
    "uniform": "uniform",
    "normal": "truncated_normal",
}
_JAX_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


@dataclasses.dataclass(frozen=True)
class _Initializer:
    """One initializer of another library: its arguments in order, with their defaults
    (``_REQUIRED`` for none), and the strategy its checked arguments make."""

    parameters: Mapping[str, Any]
    build: Callable[[dict[str, Any], str], Strategy]


def _arguments(
    initializer: _Initializer,
    owner: str,
    path: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """``args`` and ``kwargs`` by parameter name, defaults filled in, as Python would bind
    them to ``owner``'s signature (with torchinit's errors, under ``path``)."""
    names = list(initializer.parameters)
    if len(args) > len(names):
        raise ArgumentTypeError(
            f"takes at most {len(names)} positional arguments", path=path, got=tuple(args)
        )
    values = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in initializer.parameters:
            problem = did_you_mean("unknown argument", key, names, f"{owner} takes {names}")
            raise UnknownNameError(problem, path=key_path(path, str(key)), got=value)
        if key in values:
            raise ArgumentTypeError(
                "given both by position and by name", path=key_path(path, key), got=value
            )
        values[key] = value
    for key, default in initializer.parameters.items():
        if key not in values:
            if default is _REQUIRED:
                raise ArgumentTypeError("missing required argument", path=key_path(path, key))
            values[key] = default
    return values


# --------------------------------------------------------------------------- shared checks


def _upper_bound(low: float, high: Any, low_name: str, path: str, *, strict: bool) -> float:
    """``high`` checked against the lower bound ``low`` (named ``low_name``)."""
    result = _validate.number(high, path)
    if result < low or (strict and result == low):
        relation = ">" if strict else ">="
        raise OutOfRangeError(f"must be {relation} {low_name}={low}", path=path, got=high)
    return result


def _real_dtype(value: Any, path: str) -> None:
    """A ``dtype`` argument: ignored (the tensor's dtype decides), unless it is complex, whose
    laws differ (JAX draws a complex value's modulus and phase)."""
    if "complex" in str(getattr(value, "__name__", value)):
        raise InvalidArgumentError(
            "complex dtypes are not supported (the tensor's dtype decides)", path=path, got=value
        )


def _default_axes(value: Any, default: tuple[int, ...], path: str) -> None:
    """An axis argument: only its default (the layout torch's fans are read from)."""
    given = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if value is None or given != default:
        shown = default[0] if len(default) == 1 else default
        raise InvalidArgumentError(
            f"only the default {shown!r} is supported: torch weights are (out, in, *kernel), "
            "where the default axes give the same fans",
            path=path,
            got=value,
        )


def _keras_axes(value: Any, path: str) -> None:
    if value is not None:
        raise InvalidArgumentError(
            "only None is supported: torch weights are (out, in, *kernel), where Keras's "
            "default axes give the same fans",
            path=path,
            got=value,
        )


# --------------------------------------------------------------------------- Keras


def _keras_variance_scaling(args: dict[str, Any], at: str) -> Strategy:
    scale = _validate.positive(args["scale"], key_path(at, "scale"))
    mode = _validate.choice(args["mode"], _KERAS_MODES, key_path(at, "mode"), suggest=True)
    distribution = args["distribution"]
    path = key_path(at, "distribution")
    _validate.string(distribution, path)
    # Keras lower-cases the name before reading it
    law = _validate.choice(
        distribution.lower(), list(_KERAS_DISTRIBUTIONS), path, suggest=True, shown=distribution
    )
    _keras_axes(args["input_axes"], key_path(at, "input_axes"))
    _keras_axes(args["output_axes"], key_path(at, "output_axes"))
    return VarianceScaling(scale, mode, _KERAS_DISTRIBUTIONS[law])  # type: ignore[arg-type]


def _keras_fixed(strategy: Strategy) -> Callable[[dict[str, Any], str], Strategy]:
    """A Keras variance-scaling specialisation: only the axes to check."""

    def build(args: dict[str, Any], at: str) -> Strategy:
        _keras_axes(args["input_axes"], key_path(at, "input_axes"))
        _keras_axes(args["output_axes"], key_path(at, "output_axes"))
        return strategy

    return build


def _keras_random_normal(args: dict[str, Any], at: str) -> Strategy:
    mean = _validate.number(args["mean"], key_path(at, "mean"))
    return Normal(mean, _validate.non_negative(args["stddev"], key_path(at, "stddev")))


def _keras_random_uniform(args: dict[str, Any], at: str) -> Strategy:
    low = _validate.number(args["minval"], key_path(at, "minval"))
    high = _upper_bound(low, args["maxval"], "minval", key_path(at, "maxval"), strict=False)
    return Uniform(low, high)


def _keras_truncated_normal(args: dict[str, Any], at: str) -> Strategy:
    # Keras cuts at mean ± 2 stddev and does not rescale
    mean = _validate.number(args["mean"], key_path(at, "mean"))
    std = _validate.positive(args["stddev"], key_path(at, "stddev"))
    return TruncNormal(mean, std, mean - 2.0 * std, mean + 2.0 * std)


def _keras_constant(args: dict[str, Any], at: str) -> Strategy:
    return Constant(_validate.number(args["value"], key_path(at, "value")))


def _keras_identity(args: dict[str, Any], at: str) -> Strategy:
    return ScaledEye(_validate.number(args["gain"], key_path(at, "gain")))


def _keras_orthogonal(args: dict[str, Any], at: str) -> Strategy:
    return Orthogonal(_validate.positive(args["gain"], key_path(at, "gain")))


def _fixed(strategy: Strategy) -> Callable[[dict[str, Any], str], Strategy]:
    return lambda args, at: strategy


_SEED = {"seed": None}
_KERAS_AXES = {"input_axes": None, "output_axes": None}

_KERAS: dict[str, _Initializer] = {
    "Constant": _Initializer({"value": 0.0}, _keras_constant),
    "GlorotNormal": _Initializer({**_SEED, **_KERAS_AXES}, _keras_fixed(JaxGlorotNormal())),
    "GlorotUniform": _Initializer({**_SEED, **_KERAS_AXES}, _keras_fixed(XavierUniform())),
    "HeNormal": _Initializer({**_SEED, **_KERAS_AXES}, _keras_fixed(JaxHeNormal())),
    "HeUniform": _Initializer(
        {**_SEED, **_KERAS_AXES}, _keras_fixed(KaimingUniform(nonlinearity="relu"))
    ),
    "Identity": _Initializer({"gain": 1.0}, _keras_identity),
    "LecunNormal": _Initializer({**_SEED, **_KERAS_AXES}, _keras_fixed(LecunNormal())),
    "LecunUniform": _Initializer({**_SEED, **_KERAS_AXES}, _keras_fixed(LecunUniform())),
    "Ones": _Initializer({}, _fixed(Ones())),
    "Orthogonal": _Initializer({"gain": 1.0, **_SEED}, _keras_orthogonal),
    "RandomNormal": _Initializer({"mean": 0.0, "stddev": 0.05, **_SEED}, _keras_random_normal),
    "RandomUniform": _Initializer(
        {"minval": -0.05, "maxval": 0.05, **_SEED}, _keras_random_uniform
    ),
    "TruncatedNormal": _Initializer(
        {"mean": 0.0, "stddev": 0.05, **_SEED}, _keras_truncated_normal
    ),
    "VarianceScaling": _Initializer(
        {
            "scale": 1.0,
            "mode": "fan_in",
            "distribution": "truncated_normal",
            **_SEED,
            **_KERAS_AXES,
        },
        _keras_variance_scaling,
    ),
    "Zeros": _Initializer({}, _fixed(Zeros())),
}

#: The Keras initializer classes :func:`from_keras` reads (each also by its snake_case name,
#: tf.keras 2's ``...V2`` names and Keras's aliases ``normal``, ``uniform``, ``zero``, ``one``).
KERAS_INITIALIZERS: tuple[str, ...] = tuple(_KERAS)

_KERAS_SNAKE = {
    "Constant": "constant",
    "GlorotNormal": "glorot_normal",
    "GlorotUniform": "glorot_uniform",
    "HeNormal": "he_normal",
    "HeUniform": "he_uniform",
    "Identity": "identity",
    "LecunNormal": "lecun_normal",
    "LecunUniform": "lecun_uniform",
    "Ones": "ones",
    "Orthogonal": "orthogonal",
    "RandomNormal": "random_normal",
    "RandomUniform": "random_uniform",
    "TruncatedNormal": "truncated_normal",
    "VarianceScaling": "variance_scaling",
    "Zeros": "zeros",
}
# every spelling Keras 3 and tf.keras 2 deserialize, to its class
_KERAS_NAMES: dict[str, str] = {
    **{name: name for name in _KERAS},
    **{snake: name for name, snake in _KERAS_SNAKE.items()},
    **{f"{name}V2": name for name in _KERAS},
    **{f"{snake}V2": name for name, snake in _KERAS_SNAKE.items() if "_" in snake},
    "normal": "RandomNormal",
    "uniform": "RandomUniform",
    "zero": "Zeros",
    "one": "Ones",
    "IdentityInitializer": "Identity",
    "OrthogonalInitializer": "Orthogonal",
}
# the keys of a serialized Keras object besides class_name and config (Keras 3 adds them)
_KERAS_OBJECT_KEYS = ("class_name", "config", "module", "registered_name")
# accepted in every config and ignored: tf.keras 2's TF1-style initializers saved their dtype
_KERAS_IGNORED = ("dtype",)


def from_keras(config: str | Mapping[str, Any]) -> Strategy:
    """The strategy that draws what a Keras initializer draws, from its config.

    Reads the serialized form of Keras 3 and tf.keras 2 (``keras.initializers.serialize``,
    the ``kernel_initializer`` entry of a layer's config)::

        {"class_name": "HeNormal", "config": {"seed": None}}

    or a bare name (``"he_normal"``, ``"GlorotUniform"``), with Keras's defaults for every
    argument the config leaves out (``RandomNormal``: stddev 0.05; ``RandomUniform``: ±0.05;
    ``TruncatedNormal``: stddev 0.05, cut at mean ± 2·stddev, not rescaled; ``Orthogonal``
    and ``Identity``: gain 1).

    =================================  ====================================================
    Keras                              strategy
    =================================  ====================================================
    ``GlorotNormal``                   :class:`~torchinit.JaxGlorotNormal` (truncated)
    ``GlorotUniform``                  :class:`~torchinit.XavierUniform` (the same law)
    ``HeNormal``                       :class:`~torchinit.JaxHeNormal` (truncated)
    ``HeUniform``                      ``KaimingUniform(nonlinearity='relu')``
    ``LecunNormal``, ``LecunUniform``  ``LecunNormal()``, ``LecunUniform()``
    ``VarianceScaling``                ``VarianceScaling``; Keras's ``normal`` is
                                       ``truncated_normal``, its ``untruncated_normal``
                                       is ``normal``
    ``RandomNormal(mean, stddev)``     ``Normal(mean, stddev)``
    ``RandomUniform(minval, maxval)``  ``Uniform(minval, maxval)``
    ``TruncatedNormal(mean, stddev)``  ``TruncNormal(mean, stddev, mean - 2·stddev,
                                       mean + 2·stddev)``
    ``Orthogonal(gain)``               ``Orthogonal(gain)``
    ``Identity(gain)``                 ``ScaledEye(gain)``
    ``Zeros``, ``Ones``                ``Zeros()``, ``Ones()``
    ``Constant(value)``                ``Constant(value)``
    =================================  ====================================================

    ``seed`` is accepted and ignored: torchinit cannot replay Keras's random streams (seed
    ``init_model`` instead). ``input_axes``/``output_axes`` must be ``None`` (Keras's
    default layout gives the fans torch's layout gives; see the module docstring). Errors
    name the key in the config: ``keras: config.mode: must be one of [...] (got 'fan_inn')``.

    Args:
        config: a Keras initializer config, or the name of a Keras initializer.

    Raises:
        UnknownNameError: an initializer or argument Keras does not have (with the closest
            name).
        InvalidArgumentError: a value Keras or torchinit refuses.
        ArgumentTypeError: a config that is neither a name nor a mapping, or a value of the
            wrong type.

    Example:
        >>> from_keras({"class_name": "HeNormal", "config": {"seed": None}})
        JaxHeNormal()
        >>> from_keras("random_normal")
        Normal(mean=0.0, std=0.05)
        >>> from_keras({"class_name": "VarianceScaling", "config": {"distribution": "Normal"}})
        VarianceScaling(scale=1.0, mode='fan_in', distribution='truncated_normal')
        >>> from_keras(
        ...     {"class_name": "VarianceScaling", "config": {"distribution": "untruncated_normal"}}
        ... )
        VarianceScaling(scale=1.0, mode='fan_in', distribution='normal')
    """
    try:
        return _from_keras(config)
    except TorchInitError as error:
        raise error.located("keras") from None


def _from_keras(config: Any) -> Strategy:
    if isinstance(config, str):
        return _keras_strategy(config, "", {}, "config")
    if not isinstance(config, Mapping):
        raise ArgumentTypeError(
            "must be an initializer name or a {'class_name': ..., 'config': {...}} mapping "
            "(for a Keras initializer object, pass keras.initializers.serialize(obj))",
            got=config,
        )
    for key in config:
        if key not in _KERAS_OBJECT_KEYS:
            problem = did_you_mean(
                "unknown key", key, _KERAS_OBJECT_KEYS, f"allowed: {list(_KERAS_OBJECT_KEYS)}"
            )
            raise UnknownNameError(problem, path=str(key), got=config[key])
    if "class_name" not in config:
        raise ArgumentTypeError("missing: every Keras config names its class", path="class_name")
    arguments = config.get("config")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise ArgumentTypeError(
            "must be a mapping of argument to value", path="config", got=arguments
        )
    return _keras_strategy(config["class_name"], "class_name", arguments, "config")


def _keras_strategy(name: Any, name_path: str, arguments: Mapping[str, Any], at: str) -> Strategy:
    if not isinstance(name, str) or name not in _KERAS_NAMES:
        problem = did_you_mean(
            "unknown Keras initializer", name, _KERAS_NAMES, f"known: {list(_KERAS)}"
        )
        raise UnknownNameError(problem, path=name_path, got=name)
    initializer = _KERAS[_KERAS_NAMES[name]]
    given = {key: value for key, value in arguments.items() if key not in _KERAS_IGNORED}
    return initializer.build(_arguments(initializer, name, at, (), given), at)


# --------------------------------------------------------------------------- JAX


def _jax_dtype(args: dict[str, Any], at: str) -> None:
    _real_dtype(args["dtype"], key_path(at, "dtype"))


def _jax_fan_axes(args: dict[str, Any], at: str) -> None:
    _jax_dtype(args, at)
    _default_axes(args["in_axis"], (-2,), key_path(at, "in_axis"))
    _default_axes(args["out_axis"], (-1,), key_path(at, "out_axis"))
    _default_axes(args["batch_axis"], (), key_path(at, "batch_axis"))


def _jax_fixed(strategy: Strategy) -> Callable[[dict[str, Any], str], Strategy]:
    """A JAX variance-scaling specialisation: only the axes and dtype to check."""

    def build(args: dict[str, Any], at: str) -> Strategy:
        _jax_fan_axes(args, at)
        return strategy

    return build


def _jax_variance_scaling(args: dict[str, Any], at: str) -> Strategy:
    _jax_fan_axes(args, at)
    scale = _validate.positive(args["scale"], key_path(at, "scale"))
    mode = _validate.choice(args["mode"], _JAX_MODES, key_path(at, "mode"), suggest=True)
    distribution = _validate.choice(
        args["distribution"], _JAX_DISTRIBUTIONS, key_path(at, "distribution"), suggest=True
    )
    return VarianceScaling(scale, mode, distribution)  # type: ignore[arg-type]


def _jax_constant(args: dict[str, Any], at: str) -> Strategy:
    _jax_dtype(args, at)
    return Constant(_validate.number(args["value"], key_path(at, "value")))


def _jax_uniform(args: dict[str, Any], at: str) -> Strategy:
    # JAX: U[0, 1) times scale, so U[0, scale): not symmetric around 0
    _jax_dtype(args, at)
    return Uniform(0.0, _validate.non_negative(args["scale"], key_path(at, "scale")))


def _jax_normal(args: dict[str, Any], at: str) -> Strategy:
    _jax_dtype(args, at)
    return Normal(0.0, _validate.non_negative(args["stddev"], key_path(at, "stddev")))


def _jax_truncated_normal(args: dict[str, Any], at: str) -> Strategy:
    # JAX: stddev times a standard normal truncated to [lower, upper], not rescaled
    _jax_dtype(args, at)
    std = _validate.positive(args["stddev"], key_path(at, "stddev"))
    lower = _validate.number(args["lower"], key_path(at, "lower"))
    upper = _upper_bound(lower, args["upper"], "lower", key_path(at, "upper"), strict=True)
    return TruncNormal(0.0, std, lower * std, upper * std)


def _jax_orthogonal(args: dict[str, Any], at: str) -> Strategy:
    _jax_dtype(args, at)
    _default_axes(args["column_axis"], (-1,), key_path(at, "column_axis"))
    return Orthogonal(_validate.positive(args["scale"], key_path(at, "scale")))


_JAX_FAN_AXES = {"in_axis": -2, "out_axis": -1, "batch_axis": (), "dtype": None}

_JAX: dict[str, _Initializer] = {
    "zeros": _Initializer({}, _fixed(Zeros())),
    "ones": _Initializer({}, _fixed(Ones())),
    "constant": _Initializer({"value": _REQUIRED, "dtype": None}, _jax_constant),
    "uniform": _Initializer({"scale": 1e-2, "dtype": None}, _jax_uniform),
    "normal": _Initializer({"stddev": 1e-2, "dtype": None}, _jax_normal),
    "truncated_normal": _Initializer(
        {"stddev": 1e-2, "dtype": None, "lower": -2.0, "upper": 2.0}, _jax_truncated_normal
    ),
    "variance_scaling": _Initializer(
        {"scale": _REQUIRED, "mode": _REQUIRED, "distribution": _REQUIRED, **_JAX_FAN_AXES},
        _jax_variance_scaling,
    ),
    "glorot_uniform": _Initializer(_JAX_FAN_AXES, _jax_fixed(XavierUniform())),
    "glorot_normal": _Initializer(_JAX_FAN_AXES, _jax_fixed(JaxGlorotNormal())),
    "xavier_uniform": _Initializer(_JAX_FAN_AXES, _jax_fixed(XavierUniform())),
    "xavier_normal": _Initializer(_JAX_FAN_AXES, _jax_fixed(JaxGlorotNormal())),
    "he_uniform": _Initializer(_JAX_FAN_AXES, _jax_fixed(KaimingUniform(nonlinearity="relu"))),
    "he_normal": _Initializer(_JAX_FAN_AXES, _jax_fixed(JaxHeNormal())),
    "kaiming_uniform": _Initializer(_JAX_FAN_AXES, _jax_fixed(KaimingUniform(nonlinearity="relu"))),
    "kaiming_normal": _Initializer(_JAX_FAN_AXES, _jax_fixed(JaxHeNormal())),
    "lecun_uniform": _Initializer(_JAX_FAN_AXES, _jax_fixed(LecunUniform())),
    "lecun_normal": _Initializer(_JAX_FAN_AXES, _jax_fixed(LecunNormal())),
    "orthogonal": _Initializer({"scale": 1.0, "column_axis": -1, "dtype": None}, _jax_orthogonal),
}

#: The ``jax.nn.initializers`` names :func:`from_jax` reads.
JAX_INITIALIZERS: tuple[str, ...] = tuple(_JAX)

# how the names are written in code; flax.linen.initializers re-exports jax's
_JAX_PREFIXES = ("jax.nn.initializers.", "nn.initializers.", "flax.linen.initializers.")


def from_jax(name: str, /, *args: Any, **kwargs: Any) -> Strategy:
    """The strategy that draws what a ``jax.nn.initializers`` initializer draws.

    ``from_jax("he_normal")`` for ``jax.nn.initializers.he_normal()``,
    ``from_jax("variance_scaling", 2.0, "fan_in", "uniform")`` for
    ``variance_scaling(2.0, "fan_in", "uniform")``: the name, then the arguments of the JAX
    function that builds the initializer, by position or by name, with JAX's defaults.

    ======================================  ==============================================
    ``jax.nn.initializers``                 strategy
    ======================================  ==============================================
    ``glorot_normal``, ``xavier_normal``    :class:`~torchinit.JaxGlorotNormal` (truncated)
    ``glorot_uniform``, ``xavier_uniform``  :class:`~torchinit.XavierUniform` (same law)
    ``he_normal``, ``kaiming_normal``       :class:`~torchinit.JaxHeNormal` (truncated)
    ``he_uniform``, ``kaiming_uniform``     ``KaimingUniform(nonlinearity='relu')``
    ``lecun_normal``, ``lecun_uniform``     ``LecunNormal()``, ``LecunUniform()``
    ``variance_scaling(s, m, d)``           ``VarianceScaling(s, m, d)``, ``fan_geo_avg``
                                            too
    ``normal(stddev=1e-2)``                 ``Normal(0, stddev)``
    ``uniform(scale=1e-2)``                 ``Uniform(0, scale)``: U[0, scale), not
                                            symmetric
    ``truncated_normal(s, lower, upper)``   ``TruncNormal(0, s, lower·s, upper·s)``
    ``orthogonal(scale=1)``                 ``Orthogonal(scale)``
    ``zeros``, ``ones``, ``constant``       ``Zeros()``, ``Ones()``, ``Constant(value)``
    ======================================  ==============================================

    ``truncated_normal(stddev=1e-2, lower=-2, upper=2)`` cuts at ``lower``/``upper``
    *stddevs* and does not rescale. A JAX kernel is ``(in, out)`` (``(*kernel, in, out)``)
    and a torch weight ``(out, in, *kernel)``: with JAX's default axes the fans are the same,
    so ``in_axis``, ``out_axis``, ``batch_axis`` and ``column_axis`` may only be given their
    defaults. ``dtype`` is ignored
    (the tensor's dtype decides) unless it is complex, which is refused. The name may carry
    its module (``"jax.nn.initializers.he_normal"``). Errors name the argument:
    ``jax: variance_scaling.mode: must be one of [...] (got 'fan_inn')``.

    Args:
        name: a name of :data:`JAX_INITIALIZERS`.
        *args: the JAX function's arguments, by position.
        **kwargs: the JAX function's arguments, by name.

    Raises:
        UnknownNameError: a name or argument JAX does not have (with the closest name).
        InvalidArgumentError: a value JAX or torchinit refuses, or a non-default axis.
        ArgumentTypeError: a missing required argument, a value of the wrong type.

    Example:
        >>> from_jax("kaiming_normal")
        JaxHeNormal()
        >>> from_jax("truncated_normal", 0.02)
        TruncNormal(mean=0.0, std=0.02, a=-0.04, b=0.04)
        >>> from_jax("variance_scaling", 1.0, "fan_geo_avg", "normal")
        VarianceScaling(scale=1.0, mode='fan_geo_avg', distribution='normal')
    """
    try:
        return _from_jax(name, args, kwargs)
    except TorchInitError as error:
        raise error.located("jax") from None


def _from_jax(name: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Strategy:
    if isinstance(name, str):
        for prefix in _JAX_PREFIXES:
            name = name.removeprefix(prefix)
    if not isinstance(name, str) or name not in _JAX:
        problem = did_you_mean("unknown initializer", name, _JAX, f"known: {list(_JAX)}")
        raise UnknownNameError(problem, path="name", got=name)
    initializer = _JAX[name]
    return initializer.build(_arguments(initializer, name, name, args, kwargs), name)

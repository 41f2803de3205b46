"""Small helpers shared by the transforms: argument checks and scalar maths.

Nothing here is public API. Every helper works under ``jit``: the checks only
look at static information (Python numbers, shapes), never at traced values.
Tree maths that optax has (``optax.tree.vdot``, ``norm``, ``cast``, ``where``,
``bias_correction``...) is used from optax directly; what is here adds the
one thing optax lacks: accumulation in a dtype of at least float32.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax


def check_int(
    fn_name: str,
    name: str,
    value: Any,
    meaning: str,
    minimum: int = 1,
    maximum: int | None = None,
) -> Any:
    """Checks that a structural integer argument is an int in its range.

    Args:
      fn_name: the public function that got it, for the message.
      name: the argument's name.
      value: the argument; a traced value (inside ``inject_hyperparams``, where
        structural integers belong in ``static_args``) is returned unchecked.
      meaning: what the integer stands for, in the user's words.
      minimum: the least value allowed.
      maximum: the largest value allowed, if any.

    Returns:
      ``value`` as a Python int (unchanged when traced).

    Raises:
      TypeError: ``value`` is not an integer (a bool, a float, a string...).
      ValueError: ``value`` is outside ``[minimum, maximum]``.
    """
    if isinstance(value, jax.core.Tracer):
        return value
    integral = isinstance(value, (int, np.integer)) or (
        isinstance(value, (np.ndarray, jax.Array))
        and value.ndim == 0
        and jnp.issubdtype(value.dtype, jnp.integer)
    )
    if isinstance(value, bool) or not integral:
        raise TypeError(
            f"{fn_name}: {name} must be a Python int ({meaning}), got {value!r}."
        )
    value = int(value)
    if maximum is None and value < minimum:
        kind = "a positive integer" if minimum == 1 else f"at least {minimum}"
        raise ValueError(
            f"{fn_name}: {name} must be {kind} ({meaning}), got {value!r}."
        )
    if maximum is not None and not minimum <= value <= maximum:
        raise ValueError(
            f"{fn_name}: {name} must satisfy {minimum} <= {name} <= {maximum}"
            f" ({meaning}), got {value!r}."
        )
    return value


FLAX_HELP = (
    " With a Flax Linen TrainState use `glyder_optax.training.TrainState`"
    " (Flax's own `apply_gradients` passes no extra argument to `tx.update`)"
    " or `glyder_optax.training.make_linen_train_step`; with Flax NNX,"
    " `glyder_optax.training.make_nnx_train_step`; in a plain optax loop,"
    " `glyder_optax.training.make_train_step`."
)


def require(name: str, value: Any, fn_name: str, how: str, what: str = "") -> None:
    """Raises a ValueError naming a missing extra argument and how to pass it.

    ``what`` says what the argument is (a sentence, may be empty); the message
    ends with where the train-step helpers of ``glyder_optax.training`` fit.
    """
    if value is None:
        raise ValueError(
            f"{fn_name} needs the extra argument `{name}`: pass it as a keyword to"
            f" `update`, e.g. `opt.update(grads, state, params, {name}={how})`."
            f"{what}{FLAX_HELP}"
        )


def scalar_dtype(params: Any) -> jnp.dtype:
    """Dtype for scalar statistics: the params' lowest float, at least float32.

    Scalars such as loss gaps and squared norms overflow or lose all precision in
    float16/bfloat16, so they are kept in float32 (or float64 with float64
    params); this is the only state that is wider than the parameters.
    """
    low = optax.tree.dtype(params, "lowest")
    if not jnp.issubdtype(low, jnp.floating):
        low = jnp.float32
    return jnp.promote_types(low, jnp.float32)


def wide_dtype(x: jax.Array) -> jnp.dtype:
    """The dtype of ``x`` promoted to at least float32 (per-leaf statistics)."""
    return jnp.promote_types(x.dtype, jnp.float32)


def wide_zeros(params: Any) -> Any:
    """Zeros shaped like ``params``, each leaf in float32 or wider."""
    return jax.tree.map(lambda p: jnp.zeros(p.shape, wide_dtype(p)), params)


def scalar_value(value: Any, dtype: jnp.dtype, fn_name: str) -> jax.Array:
    """Checks that the loss ``value`` is a scalar and casts it to ``dtype``."""
    if jnp.ndim(value) != 0:
        raise ValueError(
            f"{fn_name}: `value` must be a scalar loss (e.g. the mean minibatch"
            f" loss), got an array of shape {jnp.shape(value)}. Reduce it with"
            " `jnp.mean` before passing it."
        )
    return jnp.asarray(value).astype(dtype)


def vdot(a: Any, b: Any, dtype: jnp.dtype) -> jax.Array:
    """<a, b> over trees, accumulated in ``dtype`` (float32 or wider)."""
    return optax.tree.vdot(optax.tree.cast(a, dtype), optax.tree.cast(b, dtype))


def sq_norm(tree: Any, dtype: jnp.dtype) -> jax.Array:
    """Squared l2 norm of a tree, accumulated in ``dtype`` (float32 or wider)."""
    return optax.tree.norm(optax.tree.cast(tree, dtype), squared=True)


def all_finite(tree: Any) -> jax.Array:
    """Whether every entry of every leaf is finite (no overflow, unlike a norm)."""
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in leaves]))


def zeros_unless(ok: jax.Array, tree: Any) -> Any:
    """``tree`` where ``ok``, else zeros: the one way a step is skipped.

    Zeros (not ``0 * tree``) so that a NaN gradient gives a zero update.
    """
    return jax.tree.map(lambda u: jnp.where(ok, u, jnp.zeros_like(u)), tree)


def scale_or_zero(step: jax.Array, ok: jax.Array, updates: Any) -> Any:
    """Returns ``step * updates`` where ``ok``, else zeros; keeps leaf dtypes."""
    scaled = jax.tree.map(lambda u: (step * u).astype(u.dtype), updates)
    return zeros_unless(ok, scaled)

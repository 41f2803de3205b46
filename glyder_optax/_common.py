"""Small helpers shared by the transforms: argument checks and scalar maths.

Nothing here is public API. Every helper works under ``jit``: the checks only
look at static information (Python numbers, shapes), never at traced values.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax


def check_positive_int(name: str, value: Any) -> None:
    """Raises if a concrete structural integer is not a positive integer.

    Traced values (inside ``inject_hyperparams``) cannot be checked: structural
    integers belong in its ``static_args``.
    """
    try:
        number = float(value)
    except jax.errors.ConcretizationTypeError:
        return
    except TypeError as e:
        raise TypeError(f"{name} must be a positive integer, got {value!r}.") from e
    if not (number > 0 and number == int(number)):
        raise ValueError(
            f"{name} must be a positive integer (the number of optimization steps"
            f" planned for the run), got {value!r}."
        )


def require(name: str, value: Any, fn_name: str, how: str) -> None:
    """Raises a ValueError naming a missing extra argument and how to pass it."""
    if value is None:
        raise ValueError(
            f"{fn_name} needs the extra argument `{name}`: pass it as a keyword to"
            f" `update`, e.g. `opt.update(grads, state, params, {name}={how})`."
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


def scalar_value(value: Any, dtype: jnp.dtype, fn_name: str) -> jax.Array:
    """Checks that the loss ``value`` is a scalar and casts it to ``dtype``."""
    if jnp.ndim(value) != 0:
        raise ValueError(
            f"{fn_name}: `value` must be a scalar loss (e.g. the mean minibatch"
            f" loss), got an array of shape {jnp.shape(value)}. Reduce it with"
            " `jnp.mean` before passing it."
        )
    return jnp.asarray(value).astype(dtype)


def sq_norm(tree: Any, dtype: jnp.dtype) -> jax.Array:
    """Squared l2 norm of a tree, accumulated in ``dtype`` (float32 or wider)."""
    return optax.tree.norm(optax.tree.cast(tree, dtype), squared=True)


def scale_or_zero(step: jax.Array, ok: jax.Array, updates: Any) -> Any:
    """Returns ``step * updates`` where ``ok``, else zeros; keeps leaf dtypes.

    Zeros (not ``0 * updates``) so that a NaN gradient gives a zero update.
    """
    step = jnp.where(ok, step, 0)
    return jax.tree.map(lambda u: jnp.where(ok, step * u, 0).astype(u.dtype), updates)

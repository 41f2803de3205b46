"""Readers of an optimizer state, for logging: what no single transform owns."""

from __future__ import annotations

import jax
import optax

from glyder_optax._glyder_parts import GlyderState
from glyder_optax._inexact_polyak import InexactPolyakState

_COUNTING = (GlyderState, InexactPolyakState)


def skipped_steps(opt_state: optax.OptState) -> jax.Array:
    """The number of steps skipped for a non-finite input (a zero update).

    GLyDER counts a non-finite gradient or base direction; Inexact Polyak a
    non-finite loss or gradient. Works on any chain or wrapper holding exactly
    one :class:`~glyder_optax.GlyderState` or
    :class:`~glyder_optax.InexactPolyakState`.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import glyder_optax as go
      >>> opt = go.inexact_polyak_sgd(total_steps=10)
      >>> params = jnp.ones(2)
      >>> state = opt.init(params)
      >>> _, state = opt.update(jnp.full(2, jnp.nan), state, params, value=1.0)
      >>> print(go.skipped_steps(state))
      1
    """
    is_counting = lambda x: isinstance(x, _COUNTING)
    found = [
        s for s in jax.tree.leaves(opt_state, is_leaf=is_counting) if is_counting(s)
    ]
    if len(found) != 1:
        raise ValueError(
            "skipped_steps: the optimizer state must hold exactly one GlyderState"
            f" or InexactPolyakState, found {len(found)}."
        )
    return found[0].skipped


def glyder_state(opt_state: optax.OptState) -> GlyderState:
    """Returns the :class:`GlyderState` inside an optimizer state, for logging.

    Works on the state of :func:`glyder` or any chain or wrapper holding
    exactly one :class:`GlyderState` (``eta``, ``numerator``, ``curvature``...).
    """
    found = optax.tree.get(opt_state, "GlyderState")
    if found is None:
        raise ValueError("opt_state holds no GlyderState.")
    return found

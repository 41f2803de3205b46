"""Readers of an optimizer state, for logging, and its vmap axes: what no single
transform owns."""

from __future__ import annotations

from typing import Any

import jax
import optax

from glyder_optax._glyder_parts import GlyderState
from glyder_optax._inexact_polyak import InexactPolyakState
from glyder_optax._zigzag import ZigzagMultipleState

_COUNTING = (GlyderState, InexactPolyakState)
# States whose `count` a vmapped batch can share: GLyDER's with
# shared_count=True, the zig-zag multiple's (it counts every update).
_SHARED_COUNTS = (GlyderState, ZigzagMultipleState)


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


def share_glyder_count(opt_states: optax.OptState) -> tuple[optax.OptState, Any]:
    """Vmapped GLyDER states with one shared ``count``, and their ``in_axes``.

    ``opt_states`` is ``jax.vmap(opt.init)(params)`` for an ``opt`` built with
    ``shared_count=True``; every :class:`GlyderState` ``count`` in it (equal
    across the batch) becomes one unbatched count with axis ``None``, and so
    does every :class:`ZigzagMultipleState` ``count`` (which counts every
    update: :func:`glyder_sgd`'s zig-zag multiple). Use the axes as
    ``in_axes`` and ``out_axes`` of the state in ``jax.vmap(step)``: the
    refresh and the zig-zag reading then stay conditionals
    (:func:`jax.lax.cond`), so ``refresh_every=k`` costs what one run pays
    instead of running the estimate every step, and the reading stops after
    its window.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import glyder_optax as go
      >>> opt = go.glyder(optax.identity(), refresh_every=10, shared_count=True)
      >>> states, axes = go.share_glyder_count(jax.vmap(opt.init)(jnp.ones((4, 3))))
      >>> print(go.glyder_state(states).count.shape, go.glyder_state(axes).count)
      () None
    """
    shares = lambda x: isinstance(x, _SHARED_COUNTS)
    axes = jax.tree.map(
        lambda s: (
            type(s)(*(None if f == "count" else 0 for f in s._fields))
            if shares(s)
            else 0
        ),
        opt_states,
        is_leaf=shares,
    )
    shared = jax.tree.map(
        lambda s: s._replace(count=s.count[0]) if shares(s) else s,
        opt_states,
        is_leaf=shares,
    )
    return shared, axes

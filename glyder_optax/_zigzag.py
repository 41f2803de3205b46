r"""The zig-zag multiple: a longer step where the first steps flip.

Over its first :math:`W` updates the transformation reads the mean cosine
between consecutive updates,

.. math::
  \bar c = \frac{1}{|P|} \sum_{t \in P} \frac{\langle u_t, u_{t-1}\rangle}
  {\|u_t\|\,\|u_{t-1}\|},

over the pairs :math:`P` of consecutive nonzero finite updates, then
multiplies every later update by :math:`m = \kappa` if :math:`\bar c < c_0`
and by 1 otherwise, held for the run.

All of it is our design, for GLyDER over SGD (:func:`glyder_optax.glyder_sgd`),
from the study's twentieth round (``docs/glyder_study.md``). GLyDER's step is
greedy: it minimises a quadratic model along the gradient. Where the inputs
are badly scaled, one stiff direction holds the gradient, and at twice the
greedy step (``glyder_sgd``'s default) each step flips its sign along it
(mean cosine over the first 32 steps: -0.93 on breast-raw, -0.60 on
wine-raw, against 0.02 to 0.32 on most standardised data, where the
minibatches' noise decorrelates consecutive steps); there a tuned run takes
far longer steps than the greedy one, which the flat directions need. Of the
statistics read over the first steps (the step's share of the parameters'
norm, the loss's progress, the Polyak step over GLyDER's, this cosine) only
this one separated the workloads that want a larger multiple. Over nine
seeds it lowered ``glyder_sgd(flood_level=0.01)``'s worst ratio to the tuned
SGD cosine on the zoo from 1.42 to 1.37 and left the held-out zoo's at 1.28
(1.29 before), with no workload moved from within 1.10x to outside it.

It runs the other way from delta-bar-delta (Jacobs), which lengthens a step
whose consecutive gradients agree and shortens one whose gradients flip: here
the flip says that the greedy step is held by one stiff direction, not that
it is too long for the run.

The reading keeps one copy of the update (the size of the parameters) in the
state. It is a :func:`jax.lax.cond` every step whose reading branch runs only
while the window lasts (on a GPU the predicate is copied to the host).

References:
  Jacobs, `Increased rates of convergence through learning rate adaptation
  <https://doi.org/10.1016/0893-6080(88)90003-2>`_, Neural Networks, 1988
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common

_NAME = "scale_by_zigzag_multiple"


class ZigzagMultipleState(NamedTuple):
    """State of :func:`scale_by_zigzag_multiple`."""

    previous: optax.Updates  # the last nonzero finite update read (zeros before).
    cosine_sum: jax.Array  # float32, the sum of the cosines of the pairs read.
    pairs: jax.Array  # int32, the pairs of consecutive nonzero finite updates read.
    count: jax.Array  # int32, the updates seen.
    multiple: jax.Array  # float32, 1 over the window, then 1 or `factor`, held.


def _read(updates, state, window, threshold, factor):
    """``state`` after reading ``updates`` (its cosine with the previous
    nonzero finite update, and it kept as the previous); on the window's last
    update, the multiple chosen."""
    norm = jnp.sqrt(_common.sq_norm(updates, jnp.float32))
    prev_norm = jnp.sqrt(_common.sq_norm(state.previous, jnp.float32))
    ok = (norm > 0) & jnp.isfinite(norm)
    pair = ok & (prev_norm > 0)
    dot = _common.vdot(updates, state.previous, jnp.float32)
    cosine = jnp.where(pair, dot / jnp.where(pair, norm * prev_norm, 1.0), 0.0)
    cosine_sum = state.cosine_sum + cosine
    pairs = state.pairs + pair.astype(jnp.int32)
    zigzag = (pairs > 0) & (cosine_sum < threshold * pairs)  # the mean below
    last = state.count == window - 1
    multiple = jnp.where(last & zigzag, factor, state.multiple)
    return state._replace(
        previous=jax.tree.map(
            lambda u, p: jnp.where(ok, u.astype(p.dtype), p), updates, state.previous
        ),
        cosine_sum=cosine_sum,
        pairs=pairs,
        multiple=multiple.astype(jnp.float32),
    )


def scale_by_zigzag_multiple(
    window: int = 32,
    threshold: jax.typing.ArrayLike = 0.0,
    factor: jax.typing.ArrayLike = 2.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Multiplies the updates by ``factor`` after a window whose steps flip.

    Over the first ``window`` updates it passes them unchanged and reads the
    mean cosine :math:`\bar c` between consecutive nonzero finite ones; from
    then on it multiplies each update by ``factor`` if :math:`\bar c <`
    ``threshold``, else by 1 (no pair read: 1). Updates that are zero or not
    finite are passed on (times the multiple) and not read. The module's
    docstring has the rule's evidence; all of it is our design.

    Args:
      window: :math:`W`, the updates read, a positive int.
      threshold: :math:`c_0`, the mean cosine below which the multiple is set.
      factor: :math:`\kappa`, the multiple then, a positive number.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs`; its ``update`` needs
      neither ``params`` nor extra arguments (any are accepted and ignored).

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import glyder_optax as go
      >>> # Twice the exact step on x**2 / 2: each step flips the sign of x.
      >>> opt = optax.chain(optax.sgd(2.0), go.scale_by_zigzag_multiple(window=4))
      >>> x = jnp.array([1.0])
      >>> state, xs = opt.init(x), []
      >>> for _ in range(5):
      ...   updates, state = opt.update(x, state, x)  # the gradient is x
      ...   x = optax.apply_updates(x, updates)
      ...   xs.append(float(x[0]))
      >>> print(xs)  # times 2 from the fifth step: 1 - 4 = -3
      [-1.0, 1.0, -1.0, 1.0, -3.0]
      >>> print(state[1].multiple)
      2.0
    """
    window = _common.check_int(_NAME, "window", window, "the updates read")
    if not isinstance(factor, jax.core.Tracer) and not float(factor) > 0:
        raise ValueError(
            f"{_NAME}: factor must be positive (the multiple after the window),"
            f" got {factor!r}; glyder_sgd(zigzag_window=None) turns the rule off."
        )

    def init_fn(params):
        return ZigzagMultipleState(
            previous=optax.tree.zeros_like(params),
            cosine_sum=jnp.zeros([], jnp.float32),
            pairs=jnp.zeros([], jnp.int32),
            count=jnp.zeros([], jnp.int32),
            multiple=jnp.ones([], jnp.float32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        scaled = jax.tree.map(lambda u: (state.multiple * u).astype(u.dtype), updates)
        state = jax.lax.cond(
            state.count < window,
            lambda u, s: _read(u, s, window, threshold, factor),
            lambda u, s: s,
            updates,
            state,
        )
        return scaled, state._replace(count=optax.safe_increment(state.count))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)

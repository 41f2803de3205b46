r"""A flood level: no step on a minibatch whose loss is at or below it.

Ishida et al. keep the training loss from falling below a *flood level*
:math:`b`: they minimise :math:`|f - b| + b`, which is gradient descent while
the minibatch loss is above :math:`b` and ascent below it. On a small
training set, cross-entropy driven towards 0 makes the logits grow and the
held-out loss rise; the level stops that without held-out data.

.. math::
  u_t \leftarrow \begin{cases} u_t & f_B(x_t) > b \\ 0 & f_B(x_t) \le b
  \end{cases}

What is from the paper: the level :math:`b` on the minibatch loss
:math:`f_B`. What is ours: no step at or below the level instead of an
ascent step, as a transformation chained after any optimizer (its own state
advances as usual); a loss that is not finite leaves the update whole (the
optimizer's own safeguards see it). It is a select over the update, not
``optax.transforms.conditionally_mask``: that one runs its inner transform
under :func:`jax.lax.cond`, whose predicate a GPU copies to the host every
step, and its state counts calls, not the flooded steps.

:math:`b` is in the loss's units: the study's evidence is for cross-entropy
in nats, where ``level=0.01`` after GLyDER lowered the held-out loss on most
of the workloads that overfit, left the raw inputs' as they were, and cost
on two (breast-std and iris-std over SGD; ``docs/glyder_study.md``, the
sixteenth round).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common

_NAME = "flood_gate"


class FloodGateState(NamedTuple):
    """State of :func:`flood_gate`."""

    flooded: jax.Array  # int32, the steps whose loss was at or below the level.


def flood_gate(level: jax.typing.ArrayLike) -> optax.GradientTransformationExtraArgs:
    r"""Zeroes the update where the minibatch loss is at or below ``level``.

    Chain it after an optimizer: the update :math:`u_t` is kept where
    :math:`f_B(x_t) > b` and is 0 otherwise (a flood level, Ishida et al.,
    with no step in place of their ascent step; the module's docstring has
    what is ours).

    Args:
      level: :math:`b`, in the loss's units (0.01 for cross-entropy in nats is
        the study's choice over GLyDER; see :func:`glyder_optax.glyder_sgd`).

    Returns:
      A :class:`optax.GradientTransformationExtraArgs` whose ``update`` takes the
      extra keyword argument ``value``: the minibatch loss at ``params``.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import flood_gate
      >>> opt = optax.chain(optax.sgd(0.25), flood_gate(0.1))
      >>> f = lambda x: jnp.sum(x**2)
      >>> params = jnp.array([1.0, 0.5])
      >>> state = opt.init(params)
      >>> for _ in range(4):
      ...   value, grad = jax.value_and_grad(f)(params)
      ...   updates, state = opt.update(grad, state, params, value=value)
      ...   params = optax.apply_updates(params, updates)
      ...   print(f"{f(params):.4f}")
      0.3125
      0.0781
      0.0781
      0.0781
      >>> int(state[1].flooded)  # the last two steps: the loss 0.078 <= 0.1
      2

    References:
      Ishida et al., `Do We Need Zero Training Loss After Achieving Zero
      Training Error? <https://arxiv.org/abs/2002.08709>`_, ICML 2020
    """

    def init_fn(params: optax.Params):
        del params
        return FloodGateState(flooded=jnp.zeros([], jnp.int32))

    def update_fn(
        updates: optax.Updates,
        state: FloodGateState,
        params: optax.Params | None = None,
        *,
        value=None,
        **extra_args,
    ):
        del params, extra_args
        _common.require(
            "value",
            value,
            _NAME,
            "loss",
            " It is the minibatch loss that the gate compares with `level`.",
        )
        dtype = _common.wide_dtype(jnp.asarray(value))
        value = _common.scalar_value(value, dtype, _NAME)
        flooded = value <= jnp.asarray(level, dtype)  # False where value is NaN
        count = jnp.where(flooded, optax.safe_increment(state.flooded), state.flooded)
        return _common.zeros_unless(~flooded, updates), FloodGateState(count)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)

r"""DecSPS: the decreasing stochastic Polyak stepsize.

Orvieto et al. make the stochastic Polyak step (SPS) converge on
non-interpolating problems by dividing it by a growing
:math:`c_k = c_0\sqrt{k+1}` and never letting the step grow:

.. math::
  \gamma_k = \frac{1}{c_k}\min\left\{\frac{f_B(x_k) - l^\star}{\|g_k\|^2},
  \; c_{k-1}\gamma_{k-1}\right\}, \qquad c_{-1}\gamma_{-1} = c_0\gamma_b,

and :math:`x_{k+1} = x_k - \gamma_k g_k`. The steps are non-increasing and
:math:`\gamma_b` bounds the first one.

What is from the paper and the authors' code: the rule above and the defaults
``c0=1``, ``gamma_b=10``, ``f_min=0``. What is ours: the gap
:math:`f_B - l^\star` is clamped at 0 (the paper assumes :math:`f_B \ge
l^\star`; a negative gap would flip the step); a zero gradient gives a zero
update; a non-finite loss or gradient gives a zero update and leaves the state
as it was. The state keeps :math:`c_{k-1}\gamma_{k-1}` (the bound on the next
step before division) and the counter.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common

_NAME = "scale_by_decsps"


class DecSPSState(NamedTuple):
    """State of :func:`scale_by_decsps`."""

    count: jax.Array  # number of finite steps taken, int32.
    bound: jax.Array  # c_{k-1} * gamma_{k-1}; c0 * gamma_b before the first step.


def scale_by_decsps(
    c0: jax.typing.ArrayLike = 1.0,
    gamma_b: jax.typing.ArrayLike = 10.0,
    f_min: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Scales updates by the DecSPS stepsize :math:`\gamma_k` (sign preserved).

    Args:
      c0: :math:`c_0`, the scale of :math:`c_k = c_0\sqrt{k+1}`.
      gamma_b: :math:`\gamma_b`, bound on the first step (times ``c0``).
      f_min: :math:`l^\star`, a lower bound on the minibatch losses.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs` whose ``update`` takes the
      extra keyword argument ``value``: the minibatch loss at ``params``.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import scale_by_decsps
      >>> tx = optax.chain(scale_by_decsps(), optax.scale_by_learning_rate(1.0))
      >>> f = lambda x: jnp.sum(x**2)
      >>> params = jnp.array([1.0, 2.0])
      >>> state = tx.init(params)
      >>> for _ in range(3):
      ...   value, grad = jax.value_and_grad(f)(params)
      ...   updates, state = tx.update(grad, state, params, value=value)
      ...   params = optax.apply_updates(params, updates)
      ...   print(f"{f(params):.4f}")
      1.2500
      0.5224
      0.2643

    References:
      Orvieto et al., `Dynamics of SGD with Stochastic Polyak Stepsizes:
      Truly Adaptive Variants and Convergence to Exact Solution
      <https://arxiv.org/abs/2205.04583>`_, 2022
    """

    def init_fn(params: optax.Params):
        dtype = _common.scalar_dtype(params)
        return DecSPSState(
            count=jnp.zeros([], jnp.int32),
            bound=jnp.asarray(c0 * gamma_b, dtype),
        )

    def update_fn(
        updates: optax.Updates,
        state,
        params: optax.Params | None = None,
        *,
        value=None,
        **extra_args,
    ):
        del params, extra_args
        _common.require("value", value, _NAME, "loss")
        dtype = state.bound.dtype
        value = _common.scalar_value(value, dtype, _NAME)
        grad_sq = _common.sq_norm(updates, dtype)

        gap = jnp.maximum(value - jnp.asarray(f_min, dtype), 0)
        sps = jnp.where(grad_sq > 0, gap / jnp.where(grad_sq > 0, grad_sq, 1), jnp.inf)
        c_k = jnp.asarray(c0, dtype) * jnp.sqrt(state.count.astype(dtype) + 1)
        gamma = jnp.minimum(sps, state.bound) / c_k

        ok = jnp.isfinite(value) & jnp.isfinite(grad_sq)
        new_updates = _common.scale_or_zero(gamma, ok & (grad_sq > 0), updates)
        new_state = DecSPSState(
            count=optax.safe_increment(state.count), bound=c_k * gamma
        )
        return new_updates, optax.tree.where(ok, new_state, state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def decsps(
    learning_rate: optax.ScalarOrSchedule = 1.0,
    c0: jax.typing.ArrayLike = 1.0,
    gamma_b: jax.typing.ArrayLike = 10.0,
    f_min: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    """SGD with the DecSPS stepsize; ``learning_rate`` = 1 is the paper's method.

    See :func:`scale_by_decsps` for the maths and the arguments.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import decsps
      >>> opt = decsps()
      >>> params = jnp.array([1.0, 2.0])
      >>> state = opt.init(params)
      >>> value, grad = jax.value_and_grad(lambda x: jnp.sum(x**2))(params)
      >>> updates, state = opt.update(grad, state, params, value=value)
      >>> print(optax.apply_updates(params, updates))
      [0.5 1. ]

    References:
      Orvieto et al., `Dynamics of SGD with Stochastic Polyak Stepsizes:
      Truly Adaptive Variants and Convergence to Exact Solution
      <https://arxiv.org/abs/2205.04583>`_, 2022
    """
    return optax.chain(
        scale_by_decsps(c0=c0, gamma_b=gamma_b, f_min=f_min),
        optax.scale_by_learning_rate(learning_rate),
    )

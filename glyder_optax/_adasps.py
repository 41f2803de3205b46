r"""AdaSPS: the adaptive stochastic Polyak stepsize.

Jiang and Stich damp the stochastic Polyak step by the square root of the
accumulated loss gaps, and never let it grow:

.. math::
  \eta_t = \min\left\{\frac{f_{B_t}(x_t) - l^\star}{c_p \|g_t\|^2}
  \frac{1}{\sqrt{\sum_{s \le t} (f_{B_s}(x_s) - l^\star)}},\; \eta_{t-1}
  \right\}, \qquad \eta_{-1} = \infty,

and :math:`x_{t+1} = x_t - \eta_t g_t`. The gaps under the root are not
squared.

As reconstructed from the paper and a third-party implementation (the rule
above); the default :math:`c_p = 1/\sqrt{f_{B_0}(x_0) - l^\star}`, which makes
the first step the plain Polyak step, is from recollection of the authors'
setting and unverified. Ours: gaps are clamped at 0 (the paper assumes
:math:`f_B \ge l^\star`), a zero first gap sets :math:`c_p = 1`, a zero
gradient gives a zero update, and a non-finite loss or gradient gives a zero
update and leaves the state as it was.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common

_NAME = "scale_by_adasps"


class AdaSPSState(NamedTuple):
    """State of :func:`scale_by_adasps`."""

    count: jax.Array  # number of finite steps taken, int32.
    gap_sum: jax.Array  # sum over past steps of max(f_B - f_min, 0).
    eta: jax.Array  # the previous stepsize eta_{t-1}; inf before the first step.
    c_p: jax.Array  # the constant c_p (set on the first step if not given).


def scale_by_adasps(
    c_p: jax.typing.ArrayLike | None = None,
    f_min: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""Scales updates by the AdaSPS stepsize :math:`\eta_t` (sign preserved).

    Args:
      c_p: :math:`c_p`; ``None`` sets it on the first step to
        :math:`1/\sqrt{f_{B_0}(x_0) - l^\star}`.
      f_min: :math:`l^\star`, a lower bound on the minibatch losses.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs` whose ``update`` takes the
      extra keyword argument ``value``: the minibatch loss at ``params``.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import scale_by_adasps
      >>> tx = optax.chain(scale_by_adasps(), optax.scale_by_learning_rate(1.0))
      >>> f = lambda x: jnp.sum(x**2)
      >>> params = jnp.array([1.0, 2.0])
      >>> state = tx.init(params)
      >>> for _ in range(3):
      ...   value, grad = jax.value_and_grad(f)(params)
      ...   updates, state = tx.update(grad, state, params, value=value)
      ...   params = optax.apply_updates(params, updates)
      ...   print(f"{f(params):.4f}")
      1.2500
      0.3820
      0.1223

    References:
      Jiang and Stich, `Adaptive SGD with Polyak stepsize and Line-search:
      Robust Convergence and Variance Reduction
      <https://arxiv.org/abs/2308.06058>`_, 2023
    """

    def init_fn(params: optax.Params):
        dtype = _common.scalar_dtype(params)
        return AdaSPSState(
            count=jnp.zeros([], jnp.int32),
            gap_sum=jnp.zeros([], dtype),
            eta=jnp.asarray(jnp.inf, dtype),
            c_p=jnp.asarray(0.0 if c_p is None else c_p, dtype),
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
        dtype = state.gap_sum.dtype
        value = _common.scalar_value(value, dtype, _NAME)
        grad_sq = _common.sq_norm(updates, dtype)

        gap = jnp.maximum(value - jnp.asarray(f_min, dtype), 0)
        if c_p is None:
            first_c_p = jnp.where(gap > 0, jax.lax.rsqrt(jnp.where(gap > 0, gap, 1)), 1)
            c = jnp.where(state.count == 0, first_c_p, state.c_p)
        else:
            c = state.c_p
        gap_sum = state.gap_sum + gap
        denom = c * grad_sq * jnp.sqrt(gap_sum)
        candidate = jnp.where(denom > 0, gap / jnp.where(denom > 0, denom, 1), jnp.inf)
        eta = jnp.minimum(candidate, state.eta)

        ok = jnp.isfinite(value) & jnp.isfinite(grad_sq)
        new_updates = _common.scale_or_zero(eta, ok & jnp.isfinite(eta), updates)
        new_state = AdaSPSState(
            count=optax.safe_increment(state.count), gap_sum=gap_sum, eta=eta, c_p=c
        )
        return new_updates, optax.tree.where(ok, new_state, state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def adasps(
    learning_rate: optax.ScalarOrSchedule = 1.0,
    c_p: jax.typing.ArrayLike | None = None,
    f_min: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    """SGD with the AdaSPS stepsize; ``learning_rate`` = 1 is the paper's method.

    See :func:`scale_by_adasps` for the maths and the arguments.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import adasps
      >>> opt = adasps()
      >>> params = jnp.array([1.0, 2.0])
      >>> state = opt.init(params)
      >>> value, grad = jax.value_and_grad(lambda x: jnp.sum(x**2))(params)
      >>> updates, state = opt.update(grad, state, params, value=value)
      >>> print(optax.apply_updates(params, updates))
      [0.5 1. ]

    References:
      Jiang and Stich, `Adaptive SGD with Polyak stepsize and Line-search:
      Robust Convergence and Variance Reduction
      <https://arxiv.org/abs/2308.06058>`_, 2023
    """
    return optax.chain(
        scale_by_adasps(c_p=c_p, f_min=f_min),
        optax.scale_by_learning_rate(learning_rate),
    )

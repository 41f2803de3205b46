r"""Inexact Polyak stepsize: parameter-free clipped gradient descent.

The Polyak step :math:`(f(x) - f^\star)/\|\nabla f(x)\|^2` implicitly estimates
the tuned hyperparameters of clipped gradient descent under
:math:`(L_0, L_1)`-smoothness, but needs :math:`f^\star`. Takezawa et al.
replace :math:`f^\star` by a lower bound :math:`l^\star \le f^\star` and damp
the step by :math:`\sqrt{T}`, the planned number of steps:

.. math::
  x_{t+1} = x_t - \frac{f(x_t) - l^\star}{\sqrt{T}\,\|\nabla f(x_t)\|^2}
  \nabla f(x_t).

For convex :math:`(L_0, L_1)`-smooth :math:`f` the best iterate satisfies
:math:`f(x_{best}) - f^\star = O((L_0 \|x_0 - x^\star\|^2 + f^\star - l^\star)
/ \sqrt{T})`, asymptotically independent of :math:`L_1`.

What is from the paper (Algorithm 1): the step above with ``T = total_steps``
fixed in advance, ``l* = f_min`` (0 for non-negative losses), no epsilon, cap
or clip, and the best iterate returned. What is ours: ``eps`` and the
``'ips+'`` variant (the gap clamped at 0 when a minibatch loss dips below
``f_min``), both off by default; a zero gradient gives a zero update; a
non-finite loss or gradient gives a zero update and leaves the state as it
was. Evidence: the repository's ``docs/inexact_polyak.md``.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common

_NAME = "scale_by_inexact_polyak"


class InexactPolyakState(NamedTuple):
    """State of :func:`scale_by_inexact_polyak`."""

    best_value: jax.Array  # lowest finite loss seen so far (inf before any).
    # params at best_value; None unless track_best=True.
    best_params: optax.Params | None
    step_size: jax.Array  # the last step size taken (0 before any), for logging.
    skipped: jax.Array  # int32, steps with a non-finite loss or gradient.


def scale_by_inexact_polyak(
    total_steps: int,
    f_min: jax.typing.ArrayLike = 0.0,
    eps: jax.typing.ArrayLike = 0.0,
    variant: Literal["ips", "ips+"] = "ips",
    track_best: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Scales updates by the Inexact Polyak stepsize (sign preserved).

    Multiplies the incoming updates :math:`g` by
    :math:`(f - l^\star) / (\sqrt{T} (\|g\|^2 + \epsilon))`, where ``f`` is the
    extra argument ``value``. Chain :func:`optax.scale_by_learning_rate` after it
    (or use :func:`inexact_polyak_sgd`) to descend.

    Args:
      total_steps: :math:`T`, the number of steps planned for the run (not the
        running counter). A positive integer; a static argument under
        :func:`optax.inject_hyperparams`.
      f_min: :math:`l^\star`, a lower bound on the loss (0 for non-negative
        losses).
      eps: added to :math:`\|g\|^2` in the denominator (0 in the paper).
      variant: ``'ips'`` (the paper) or ``'ips+'``, which clamps
        :math:`f - l^\star` at 0 so a loss below ``f_min`` gives no step.
      track_best: keep the lowest loss and the params at which it was seen (one
        extra copy of the params; ``update`` then needs ``params``). Read them
        with :func:`inexact_polyak_best_params`.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs` whose ``update`` takes the
      extra keyword argument ``value``: the (minibatch) loss at ``params``.

    Raises:
      ValueError: ``total_steps <= 0``, an unknown ``variant``, a missing or
        non-scalar ``value``.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import scale_by_inexact_polyak
      >>> f = lambda x: jnp.sum(x**2)
      >>> tx = optax.chain(scale_by_inexact_polyak(total_steps=4),
      ...                  optax.scale_by_learning_rate(1.0))
      >>> params = jnp.array([1.0, 2.0])
      >>> state = tx.init(params)
      >>> for _ in range(4):
      ...   value, grad = jax.value_and_grad(f)(params)
      ...   updates, state = tx.update(grad, state, params, value=value)
      ...   params = optax.apply_updates(params, updates)
      ...   print(f"{f(params):.4f}")
      2.8125
      1.5820
      0.8899
      0.5006

    References:
      Takezawa et al., `Parameter-free Clipped Gradient Descent Meets Polyak
      <https://arxiv.org/abs/2405.15010>`_, 2024
    """
    _common.check_int(
        _NAME, "total_steps", total_steps, "the number of steps planned for the run"
    )
    if variant not in ("ips", "ips+"):
        raise ValueError(f"variant must be 'ips' or 'ips+', got {variant!r}.")

    def init_fn(params: optax.Params):
        dtype = _common.scalar_dtype(params)
        # A copy, so the state never aliases (or donates) the live params.
        best_params = jax.tree.map(jnp.copy, params) if track_best else None
        return InexactPolyakState(
            best_value=jnp.asarray(jnp.inf, dtype),
            best_params=best_params,
            step_size=jnp.zeros([], dtype),
            skipped=jnp.zeros([], jnp.int32),
        )

    def update_fn(
        updates: optax.Updates,
        state,
        params: optax.Params | None = None,
        *,
        value=None,
        **extra_args,
    ):
        del extra_args
        _common.require("value", value, _NAME, "loss")
        dtype = state.best_value.dtype
        value = _common.scalar_value(value, dtype, _NAME)
        grad_sq = _common.sq_norm(updates, dtype)

        gap = value - jnp.asarray(f_min, dtype)
        if variant == "ips+":
            gap = jnp.maximum(gap, 0)
        denom = jnp.sqrt(jnp.asarray(total_steps, dtype)) * (grad_sq + eps)
        finite = jnp.isfinite(value) & jnp.isfinite(grad_sq)
        ok = finite & (denom > 0)
        step = gap / jnp.where(ok, denom, 1)
        new_updates = _common.scale_or_zero(step, ok, updates)

        improved = finite & (value < state.best_value)
        best_value = jnp.where(improved, value, state.best_value)
        best_params = state.best_params
        if track_best:
            if params is None:
                raise ValueError(
                    f"{_NAME}(track_best=True) needs `params` in `update`."
                )
            best_params = optax.tree.where(improved, params, best_params)
        step_size = jnp.where(ok, step, state.step_size)
        skipped = jnp.where(finite, state.skipped, optax.safe_increment(state.skipped))
        new_state = InexactPolyakState(best_value, best_params, step_size, skipped)
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def inexact_polyak_sgd(
    total_steps: int,
    f_min: jax.typing.ArrayLike = 0.0,
    learning_rate: optax.ScalarOrSchedule = 1.0,
    eps: jax.typing.ArrayLike = 0.0,
    variant: Literal["ips", "ips+"] = "ips",
    track_best: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Gradient descent with the Inexact Polyak stepsize.

    ``learning_rate`` multiplies the paper's step; 1.0 is the paper's method and
    needs no tuning. See :func:`scale_by_inexact_polyak` for the maths and the
    other arguments.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import inexact_polyak_sgd
      >>> f = lambda x: jnp.sum(jnp.abs(x)) + jnp.sum(x**4)
      >>> opt = inexact_polyak_sgd(total_steps=100)
      >>> params = jnp.array([3.0, -2.0])
      >>> state = opt.init(params)
      >>> for _ in range(100):
      ...   value, grad = jax.value_and_grad(f)(params)
      ...   updates, state = opt.update(grad, state, params, value=value)
      ...   params = optax.apply_updates(params, updates)
      >>> print(f"{f(params):.3f}")
      0.007

    References:
      Takezawa et al., `Parameter-free Clipped Gradient Descent Meets Polyak
      <https://arxiv.org/abs/2405.15010>`_, 2024
    """
    return optax.chain(
        scale_by_inexact_polyak(
            total_steps=total_steps,
            f_min=f_min,
            eps=eps,
            variant=variant,
            track_best=track_best,
        ),
        optax.scale_by_learning_rate(learning_rate),
    )


def _tracked_state(opt_state: optax.OptState, fn_name: str) -> InexactPolyakState:
    found = optax.tree.get(opt_state, "InexactPolyakState")
    if found is None:
        raise ValueError(f"{fn_name}: opt_state holds no InexactPolyakState.")
    if found.best_params is None:
        raise ValueError(
            f"{fn_name}: the best params were not tracked: build the optimizer"
            " with track_best=True, e.g. inexact_polyak_sgd(total_steps,"
            " track_best=True)."
        )
    return found


def inexact_polyak_best_params(opt_state: optax.OptState) -> optax.Params:
    """Returns the params at the lowest loss seen, from an optimizer state.

    Works on the state of :func:`inexact_polyak_sgd`, or any chain or wrapper
    holding exactly one :class:`InexactPolyakState` built with
    ``track_best=True``: the params passed to ``update`` with the lowest
    ``value``. That value is :func:`inexact_polyak_best_value`.
    """
    return _tracked_state(opt_state, "inexact_polyak_best_params").best_params


def inexact_polyak_best_value(opt_state: optax.OptState) -> jax.Array:
    """Returns the lowest loss passed as ``value`` (with ``track_best=True``)."""
    return _tracked_state(opt_state, "inexact_polyak_best_value").best_value

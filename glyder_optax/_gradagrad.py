r"""GradaGrad: an AdaGrad-family method whose step size can grow.

AdaGrad divides by the square root of a sum of squared gradients, so its
steps can only shrink and its learning rate must be tuned. Defazio, Zhou and
Xiao replace the sum by an accumulation that can also signal "grow": with
:math:`g_k` the gradient and :math:`g_{k-1}` the previous one,

.. math::
  v_k = \|g_k\|^2 - \rho \langle g_k, g_{k-1} \rangle .

If :math:`v_k \ge 0` (successive gradients disagree, or agree weakly) the
accumulator grows, :math:`a_{k+1} = a_k + v_k`, and the scale stays,
:math:`\gamma_{k+1} = \gamma_k`. Otherwise (successive gradients agree: the
steps are too short) :math:`v_k` is capped at :math:`-r a_k`, the accumulator
stays, and the scale grows,

.. math::
  \gamma_{k+1} = \gamma_k \sqrt{1 - v_k / a_k}, \qquad v_k \ge -r a_k .

The step is :math:`x_{k+1} = x_k - \eta\,\gamma_{k+1} g_k / \sqrt{a_{k+1}}`,
with :math:`\eta` the ``learning_rate`` of :func:`gradagrad` (the initial
scale: the transform starts from :math:`\gamma_0 = 1`, :math:`a_0 = 0`,
:math:`g_{-1} = 0`).

**As reconstructed** from a third-party restatement of the paper (no official
code exists; the rule above is unverified against the paper's algorithm box):
the quantity :math:`v_k` with :math:`\rho = 2`, the growth of the accumulator
on :math:`v_k \ge 0`, the cap at :math:`-r a_k` with :math:`r \in [0, 1]` and
the multiplicative growth of :math:`\gamma`. Ours: the default ``r = 1`` (one
step grows the scale by at most :math:`\sqrt 2`); the per-coordinate variant
(``per_coordinate=True``: the same rule coordinate by coordinate, with
products in place of inner products); the first step (with
:math:`g_{-1} = 0` it is a normalised step of length :math:`\eta`); a
coordinate (or a tree) whose accumulator is still zero gets a zero update; a
non-finite gradient gives a zero update and leaves the state as it was.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common


class GradaGradState(NamedTuple):
    """State of :func:`scale_by_gradagrad`."""

    count: jax.Array  # number of finite steps taken, int32.
    prev_grad: optax.Updates  # g_{k-1}, the previous input gradient (zeros at first).
    # a_k: a scalar, or a tree like params if per_coordinate.
    accumulator: jax.Array | optax.Updates
    # gamma_k (starts at 1): a scalar, or a tree if per_coordinate.
    scale: jax.Array | optax.Updates


def _grow(v, a, scale, r):
    """One GradaGrad accumulator/scale update, elementwise or on scalars."""
    v = jnp.where(v >= 0, v, jnp.maximum(v, -r * a))
    positive = a > 0
    growth = jnp.sqrt(1 - jnp.minimum(v, 0) / jnp.where(positive, a, 1))
    new_a = a + jnp.maximum(v, 0)
    return new_a, scale * jnp.where(positive, growth, 1)


def _step(g, a, scale):
    """gamma * g / sqrt(a) (in a wide dtype), zero where a == 0."""
    ok = a > 0
    return jnp.where(ok, scale * g * jax.lax.rsqrt(jnp.where(ok, a, 1)), 0)


def _per_coordinate_step(updates, state, rho, r):
    """(updates, accumulator, scale, finite) with one accumulator a coordinate."""
    v = jax.tree.map(
        lambda g, h, a: (
            g.astype(a.dtype) * (g.astype(a.dtype) - rho * h.astype(a.dtype))
        ),
        updates,
        state.prev_grad,
        state.accumulator,
    )
    grown = jax.tree.map(
        lambda v_, a, s: _grow(v_, a, s, r), v, state.accumulator, state.scale
    )
    accumulator, scale = jax.tree.transpose(
        jax.tree.structure(v), jax.tree.structure((0, 0)), grown
    )
    new_updates = jax.tree.map(
        lambda g, a, s: _step(g.astype(a.dtype), a, s).astype(g.dtype),
        updates,
        accumulator,
        scale,
    )
    return (
        new_updates,
        accumulator,
        scale,
        jnp.isfinite(_common.sq_norm(updates, jnp.float32)),
    )


def _global_step(updates, state, rho, r):
    """(updates, accumulator, scale, finite) with one accumulator for the tree."""
    dtype = state.accumulator.dtype
    grad_sq = _common.sq_norm(updates, dtype)
    inner = _common.vdot(updates, state.prev_grad, dtype)
    accumulator, scale = _grow(grad_sq - rho * inner, state.accumulator, state.scale, r)
    factor = _step(jnp.ones([], dtype), accumulator, scale)
    new_updates = jax.tree.map(lambda g: (factor * g).astype(g.dtype), updates)
    return new_updates, accumulator, scale, jnp.isfinite(grad_sq) & jnp.isfinite(inner)


def scale_by_gradagrad(
    rho: jax.typing.ArrayLike = 2.0,
    r: jax.typing.ArrayLike = 1.0,
    per_coordinate: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Scales updates by the GradaGrad factor :math:`\gamma/\sqrt{a}` (sign kept).

    Args:
      rho: :math:`\rho`, the weight of :math:`\langle g_k, g_{k-1}\rangle` in
        :math:`v_k`; 2 as reconstructed.
      r: :math:`r \in [0, 1]`, the cap :math:`v_k \ge -r a_k`; it bounds one
        step's growth of the scale by :math:`\sqrt{1 + r}`.
      per_coordinate: ``False`` (default): one accumulator and one scale for
        the whole tree (inner products and squared norms); ``True``: one per
        coordinate (the accumulator and scale are trees like the params, kept
        in float32 or wider). Structural: pass it in ``static_args`` of
        ``optax.inject_hyperparams``.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs`; no extra argument needed.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import scale_by_gradagrad
      >>> tx = optax.chain(scale_by_gradagrad(), optax.scale_by_learning_rate(0.1))
      >>> f = lambda x: jnp.sum(x**2)
      >>> params = jnp.array([1.0, 2.0])
      >>> state = tx.init(params)
      >>> for _ in range(3):
      ...   updates, state = tx.update(jax.grad(f)(params), state, params)
      ...   params = optax.apply_updates(params, updates)
      ...   print(f"{f(params):.4f}")
      4.5628
      4.0042
      3.3353

    References:
      Defazio, Zhou and Xiao, `Grad-GradaGrad? A Non-Monotone Adaptive
      Stochastic Gradient Method <https://arxiv.org/abs/2206.06900>`_, 2022
    """

    def init_fn(params: optax.Params):
        if per_coordinate:
            accumulator = _common.wide_zeros(params)
            scale = jax.tree.map(jnp.ones_like, accumulator)
        else:
            accumulator = jnp.zeros([], _common.scalar_dtype(params))
            scale = jnp.ones_like(accumulator)
        return GradaGradState(
            count=jnp.zeros([], jnp.int32),
            prev_grad=optax.tree.zeros_like(params),
            accumulator=accumulator,
            scale=scale,
        )

    def update_fn(
        updates: optax.Updates, state, params: optax.Params | None = None, **extra_args
    ):
        del params, extra_args
        step = _per_coordinate_step if per_coordinate else _global_step
        new_updates, accumulator, scale, ok = step(updates, state, rho, r)
        new_updates = _common.zeros_unless(ok, new_updates)
        new_state = GradaGradState(
            count=optax.safe_increment(state.count),
            prev_grad=jax.tree.map(
                lambda g, h: g.astype(h.dtype), updates, state.prev_grad
            ),
            accumulator=accumulator,
            scale=scale,
        )
        return new_updates, optax.tree.where(ok, new_state, state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def gradagrad(
    learning_rate: optax.ScalarOrSchedule,
    rho: jax.typing.ArrayLike = 2.0,
    r: jax.typing.ArrayLike = 1.0,
    per_coordinate: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""GradaGrad: AdaGrad whose scale grows while successive gradients agree.

    ``learning_rate`` is the initial scale :math:`\eta` (the first step has
    length :math:`\eta`); the method then grows or shrinks the effective step
    on its own. See :func:`scale_by_gradagrad` for the maths (as reconstructed
    from a third-party restatement of the paper) and the arguments.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import gradagrad
      >>> opt = gradagrad(learning_rate=1.0)
      >>> params = jnp.array([3.0, 4.0])
      >>> state = opt.init(params)
      >>> grad = jax.grad(lambda x: jnp.sum(x**2))(params)
      >>> updates, state = opt.update(grad, state, params)
      >>> print(optax.apply_updates(params, updates))  # a step of length 1
      [2.4 3.2]

    References:
      Defazio, Zhou and Xiao, `Grad-GradaGrad? A Non-Monotone Adaptive
      Stochastic Gradient Method <https://arxiv.org/abs/2206.06900>`_, 2022
    """
    return optax.chain(
        scale_by_gradagrad(rho=rho, r=r, per_coordinate=per_coordinate),
        optax.scale_by_learning_rate(learning_rate),
    )

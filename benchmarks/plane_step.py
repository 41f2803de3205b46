r"""A study candidate (the thirty-seventh round): the locally optimal step in a plane.

GLyDER chooses one number, the step along the base's direction :math:`d`.
Over heavy-ball momentum that leaves the momentum fixed, and on the
regressions from zeros a greedy step along the heavy ball loses the race to
a tuned rate by 10-400x (``docs/glyder_study.md``). Here two numbers are
chosen, from the quadratic model in the plane of :math:`d` (the minibatch
gradient) and the last step :math:`x_t - x_{t-1} = -q`: the step
:math:`u = -(a\,d + b\,q)`, a heavy ball with rate :math:`a` and momentum
:math:`b`. With :math:`n = (\langle g, d\rangle, \langle g, q\rangle)` and
:math:`C` the curvature in the plane (:math:`C_{11} = d^\top H d`,
:math:`C_{12} = d^\top H q`, :math:`C_{22} = q^\top H q`), the model
:math:`-a n_1 - b n_2 + \tfrac12 (a, b) C (a, b)^\top` is least at
:math:`C (a, b)^\top = n`: on a quadratic with exact gradients that is
conjugate gradients. ``g`` and ``H`` are the independent batch's
(``obj_fn``), by one linearisation of its gradient.

Our design, as GLyDER's (``glyder_optax.glyder``): debiased EMAs of
:math:`n` and :math:`C` (the entries with :math:`q` only from refreshes where
:math:`q \ne 0`), one refresh every ``refresh_every`` steps with :math:`(a,
b)` held in between, :math:`a` grown at most ``max_growth`` a step,
:math:`b` clipped to ``[0, max_momentum]`` (then :math:`a = (n_1 - b C_{12})
/ C_{11}`), :math:`C_{11}` floored at ``min_curvature * ||d||^2``, the
model's decrease at most :math:`f_B - f_{min}` (GLyDER's model floor), a
non-finite estimate keeping the state; then :math:`a` times the linear decay
over ``total_steps`` and the whole step bounded to ``max_step_ratio`` of the
parameters' norm (times :math:`2/L` past two weight leaves, as the momentum
alias). Not in the library.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import glyder_optax as go
from glyder_optax import _common
from glyder_optax._glyder_aliases import _scaled_by_depth
from glyder_optax._glyder_parts import bound_step_by_params


class PlaneState(NamedTuple):
    count: jax.Array  # steps taken
    previous: optax.Params  # x_{t-1}: the last step is params - previous
    slopes: jax.Array  # EMA of (<g, d>, <g, q>), shape (2,)
    curvature: jax.Array  # EMA of the curvature in the plane, shape (2, 2)
    weights: jax.Array  # the EMAs' debiasing sums, shape (2, 2) (the diagonal: n's)
    coefficients: jax.Array  # (a, b), held between refreshes


def plane_estimate(obj_fn, params, d, q):
    """``(f, n, C)`` on ``obj_fn``'s batch: the value, the slopes along ``d``
    and ``q``, and the curvature in their plane (one linearisation of
    ``value_and_grad``, two tangents)."""
    (value, g), tangent = jax.linearize(jax.value_and_grad(obj_fn), params)
    hd, hq = tangent(d)[1], tangent(q)[1]
    n = jnp.stack([optax.tree.vdot(g, d), optax.tree.vdot(g, q)])
    c12 = 0.5 * (optax.tree.vdot(d, hq) + optax.tree.vdot(q, hd))
    c = jnp.array([[optax.tree.vdot(d, hd), c12], [c12, optax.tree.vdot(q, hq)]])
    return value, n, c


def solve_plane(n, c, max_momentum):
    """``(a, b)`` with ``C (a, b) = n``; ``b`` clipped to ``[0, max_momentum]``
    (0 where ``C`` is singular), then ``a`` the best rate given ``b``, at
    least 0."""
    det = c[0, 0] * c[1, 1] - c[0, 1] ** 2
    solvable = det > 1e-6 * c[0, 0] * c[1, 1]
    b = (c[0, 0] * n[1] - c[0, 1] * n[0]) / jnp.where(solvable, det, 1.0)
    b = jnp.clip(jnp.where(solvable, b, 0.0), 0.0, max_momentum)
    a = jnp.maximum(n[0] - b * c[0, 1], 0.0) / c[0, 0]
    return jnp.stack([a, b])


def _floored(value, n, c, d_sq, min_curvature, f_min):
    """``C`` with ``C_11`` at least ``min_curvature * ||d||^2``, then scaled
    up where the model's decrease ``n^T C^+ n / 2`` (along ``d`` alone where
    ``C`` is singular) would exceed ``value - f_min``."""
    c = c.at[0, 0].set(jnp.maximum(c[0, 0], min_curvature * d_sq))
    a, b = solve_plane(n, c, jnp.inf)
    decrease = 0.5 * (a * n[0] + b * n[1])
    room = value - f_min
    scale = jnp.where((decrease > room) & (room > 0), decrease / room, 1.0)
    return c * scale


def _refresh(state, estimate, mask, smoothing, max_growth, max_momentum, steps):
    """The state after one estimate: EMAs folded where ``mask``, ``(a, b)``
    solved, ``a`` grown at most ``max_growth ** steps``."""
    n, c = estimate
    fold = lambda old, new: jnp.where(
        mask, smoothing * old + (1 - smoothing) * new, old
    )
    weights = fold(state.weights, jnp.ones_like(state.weights))
    curv = fold(state.curvature, c)
    slopes = jnp.where(
        jnp.diag(mask), smoothing * state.slopes + (1 - smoothing) * n, state.slopes
    )
    safe = jnp.where(weights > 0, weights, 1.0)
    a, b = solve_plane(slopes / jnp.diag(safe), curv / safe, max_momentum)
    a_prev = state.coefficients[0]
    a = jnp.where(a_prev > 0, jnp.minimum(a, a_prev * max_growth**steps), a)
    return state._replace(
        slopes=slopes, curvature=curv, weights=weights, coefficients=jnp.stack([a, b])
    )


def scale_by_plane_step(
    total_steps: int | None,
    refresh_every: int = 20,
    smoothing: float = 0.9,
    max_growth: float = 1.05,
    max_momentum: float = 0.9,
    min_curvature: float = 1e-8,
    f_min: float = 0.0,
    multiple: float = 1.0,
) -> optax.GradientTransformationExtraArgs:
    """The step ``-(multiple s_t a d + b q)`` (descent sign; ``s_t`` the
    linear decay over ``total_steps``, 1 where ``None``), ``(a, b)`` as in the
    module docstring; ``update`` needs ``params`` and ``obj_fn``. The
    ``multiple`` scales the rate alone: on the whole step it would scale the
    momentum too, past 1 where it is above ``1 / b``."""
    if total_steps is None:
        decay = lambda count: 1.0
    else:
        decay = go.linear_decay_schedule(1.0, total_steps)

    def init_fn(params):
        dtype = _common.scalar_dtype(params)
        return PlaneState(
            count=jnp.zeros([], jnp.int32),
            previous=params,
            slopes=jnp.zeros(2, dtype),
            curvature=jnp.zeros((2, 2), dtype),
            weights=jnp.zeros((2, 2), dtype),
            coefficients=jnp.zeros(2, dtype),
        )

    def update_fn(updates, state, params=None, *, obj_fn=None, **extra_args):
        del extra_args
        if params is None or obj_fn is None:
            raise ValueError("scale_by_plane_step needs `params` and `obj_fn`.")
        q = optax.tree.sub(state.previous, params)

        def refreshed(state):
            value, n, c = plane_estimate(obj_fn, params, updates, q)
            n, c = n.astype(state.slopes.dtype), c.astype(state.slopes.dtype)
            d_sq = optax.tree.norm(updates, squared=True)
            c = _floored(value, n, c, d_sq, min_curvature, f_min)
            ok = _common.all_finite((value, n, c))
            has_q = jnp.stack([True, optax.tree.norm(q, squared=True) > 0])
            mask = has_q[:, None] & has_q[None, :] & ok
            steps = jnp.where(state.count == 0, 1, refresh_every)
            new = _refresh(
                state, (n, c), mask, smoothing, max_growth, max_momentum, steps
            )
            return optax.tree.where(ok, new, state)

        due = state.count % refresh_every == 0
        state = jax.lax.cond(due, refreshed, lambda s: s, state)
        a, b = state.coefficients
        rate = multiple * decay(state.count) * a
        step = jax.tree.map(
            lambda d, q_: -(rate * d + b * q_).astype(d.dtype),
            updates,
            q,
        )
        step = _common.zeros_unless(_common.all_finite(step), step)
        state = state._replace(count=optax.safe_increment(state.count), previous=params)
        return step, state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def plane_step(
    total_steps: int,
    max_step_ratio: float | None = 0.01,
    **options: Any,
) -> optax.GradientTransformationExtraArgs:
    """:func:`scale_by_plane_step` on the raw gradient, then the bound (times
    ``2 / L`` past two weight leaves; ``None`` for none)."""
    core = scale_by_plane_step(total_steps, **options)

    def build(ratio):
        bound = [] if ratio is None else [bound_step_by_params(ratio)]
        return optax.chain(core, *bound)

    return _scaled_by_depth(build, max_step_ratio, True)


def plane_coefficients(opt_state) -> jax.Array:
    """``(a, b)`` of the :class:`PlaneState` inside ``opt_state``."""
    return optax.tree.get(opt_state, "PlaneState").coefficients


def trace(task_name: str, seed: int = 0, points: int = 8, **options: Any) -> list:
    """One run of :func:`plane_step` (``options``) on the benchmark task
    ``task_name`` with the harness's seed ``seed`` and batches: ``points``
    rows ``(step, minibatch loss, a, b)`` spread over the budget, then the
    task's held-out metric at the end."""
    from benchmarks import runner, tasks  # the harness, only for this reading

    task = tasks.get(task_name)
    k_init, k_data = jax.random.split(jax.random.key(seed))
    tx = plane_step(task.steps, **options)

    @jax.jit
    def step(params, state, t):
        batch = task.batch(runner.batch_indices(task, k_data, t))
        value, grad = jax.value_and_grad(task.loss)(params, batch)
        following = task.batch(runner.batch_indices(task, k_data, t + 1))
        obj_fn = lambda p: task.loss(p, following)
        updates, state = tx.update(grad, state, params, obj_fn=obj_fn)
        return optax.apply_updates(params, updates), state, value

    params = task.init(k_init)
    state, rows = tx.init(params), []
    shown = {round(i * (task.steps - 1) / max(points - 1, 1)) for i in range(points)}
    for t in range(task.steps):
        params, state, value = step(params, state, jnp.asarray(t))
        if t in shown:
            a, b = plane_coefficients(state)
            rows.append((t, float(value), float(a), float(b)))
    metric = float(task.evaluate(params)[task.metric])
    return [*rows, (task.metric, metric)]


if __name__ == "__main__":  # python -m benchmarks.plane_step TASK [--free]
    import sys

    free = {"max_step_ratio": None} if "--free" in sys.argv else {}
    *rows, (name, metric) = trace(sys.argv[1], **free)
    for t, value, a, b in rows:
        print(f"step {t:4d}  loss {value:.3g}  a {a:.3g}  b {b:.3g}")
    print(f"{name} {metric:.3g}")

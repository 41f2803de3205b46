"""GradaGrad (global and per-coordinate) against NumPy references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from minibatch_least_squares import run_on_gradients

import glyder_optax as go

# Least squares with cycling minibatches: gradients that sometimes agree with
# the previous one (the scale grows) and sometimes do not (the sum grows).
RNG = np.random.default_rng(1)
A = RNG.normal(size=(8, 3))
Y = RNG.normal(size=8)
X0 = np.array([2.0, -1.0, 0.5])


def grad_at(x, t):
    idx = np.array([(2 * t) % 8, (2 * t + 1) % 8])
    return A[idx].T @ (A[idx] @ x - Y[idx]) / 2


def reference(lr, rho, r, per_coordinate, n_steps):
    """The rule written out with branches, one coordinate at a time if asked."""
    x = X0.copy()
    shape = x.shape if per_coordinate else ()
    a, scale, prev = np.zeros(shape), np.ones(shape), np.zeros_like(x)
    xs, branches = [], set()
    for t in range(n_steps):
        g = grad_at(x, t)
        v = g * g - rho * g * prev if per_coordinate else g @ g - rho * g @ prev
        a, scale, v = np.atleast_1d(a), np.atleast_1d(scale), np.atleast_1d(v)
        for j in range(v.size):
            if v[j] >= 0:
                a[j] += v[j]
                branches.add("sum grows")
            else:
                v_j = max(v[j], -r * a[j])
                scale[j] *= np.sqrt(1 - v_j / a[j])
                branches.add("scale grows")
        if not per_coordinate:
            a, scale = a[0], scale[0]
        x = x - lr * scale / np.sqrt(a) * g
        prev = g
        xs.append(x.copy())
    return np.array(xs), branches, (a, scale)


def run(opt, n_steps):
    return run_on_gradients(opt, n_steps, X0, grad_at)


@pytest.mark.parametrize("per_coordinate", [False, True])
@pytest.mark.parametrize(
    ("lr", "rho", "r"), [(0.05, 2.0, 1.0), (0.3, 2.0, 0.2), (0.01, 1.5, 0.5)]
)
def test_matches_numpy(per_coordinate, lr, rho, r):
    opt = go.gradagrad(lr, rho=rho, r=r, per_coordinate=per_coordinate)
    got, state = run(opt, 20)
    want, branches, (a, scale) = reference(lr, rho, r, per_coordinate, 20)
    assert branches == {"sum grows", "scale grows"}, "both branches are exercised"
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(state[0].accumulator, a, rtol=1e-12)
    np.testing.assert_allclose(state[0].scale, scale, rtol=1e-12)
    assert int(state[0].count) == 20


@pytest.mark.parametrize("per_coordinate", [False, True])
def test_first_step_is_normalised(per_coordinate):
    # g_{-1} = 0: a = ||g||^2 (or g_j^2), so the first step is lr * g / ||g||
    # (or lr * sign(g_j) per coordinate).
    opt = go.gradagrad(0.5, per_coordinate=per_coordinate)
    params, grad = jnp.zeros(2), jnp.array([3.0, -4.0])
    updates, _ = opt.update(grad, opt.init(params), params)
    want = [-0.3, 0.4] if not per_coordinate else [-0.5, 0.5]
    np.testing.assert_allclose(updates, want, rtol=1e-6)


def test_cap_bounds_the_growth_of_the_scale():
    # The same gradient twice: v = -||g||^2 = -a. With r = 0.3 the cap binds
    # and the scale grows by sqrt(1.3); with r = 0 it never grows.
    for r, growth in [(0.3, np.sqrt(1.3)), (0.0, 1.0), (1.0, np.sqrt(2.0))]:
        opt = go.scale_by_gradagrad(r=r)
        params, grad = jnp.zeros(3), jnp.array([1.0, 2.0, 2.0])
        state = opt.init(params)
        _, state = opt.update(grad, state, params)
        updates, state = opt.update(grad, state, params)
        np.testing.assert_allclose(state.scale, growth, rtol=1e-6)
        np.testing.assert_allclose(state.accumulator, 9.0, rtol=1e-6)
        np.testing.assert_allclose(updates, growth * grad / 3.0, rtol=1e-6)


def test_the_step_grows_when_gradients_keep_agreeing():
    # A tiny learning rate on a parabola: gradients point the same way every
    # step, and the effective step gamma / sqrt(a) keeps growing (AdaGrad's
    # would shrink).
    opt = go.scale_by_gradagrad()
    params = jnp.array([100.0, -50.0])
    state = opt.init(params)
    factors = []
    for _ in range(30):
        grad = 2 * params
        updates, state = opt.update(grad, state, params)
        params = params - 1e-3 * updates
        factors.append(float(updates[0] / grad[0]))
    assert factors[-1] > 3 * factors[1]


@pytest.mark.parametrize("per_coordinate", [False, True])
def test_zero_and_non_finite_gradients(per_coordinate):
    opt = go.gradagrad(1.0, per_coordinate=per_coordinate)
    params = jnp.ones(3)
    state = opt.init(params)
    updates, state = opt.update(jnp.zeros(3), state, params)
    np.testing.assert_array_equal(updates, jnp.zeros(3))
    updates, state = opt.update(jnp.array([1.0, 0.0, 2.0]), state, params)
    assert jnp.all(jnp.isfinite(updates))
    updates, new_state = opt.update(jnp.array([jnp.nan, 1.0, 1.0]), state, params)
    np.testing.assert_array_equal(updates, jnp.zeros(3))
    for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)


def test_per_coordinate_state_is_a_wide_tree_like_params():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.ones(3, jnp.float32)}
    state = go.scale_by_gradagrad(per_coordinate=True).init(params)
    assert jax.tree.structure(state.accumulator) == jax.tree.structure(params)
    assert state.accumulator["w"].dtype == jnp.float32
    assert state.prev_grad["w"].dtype == jnp.bfloat16
    glob = go.scale_by_gradagrad().init(params)
    assert glob.accumulator.shape == () and glob.accumulator.dtype == jnp.float32

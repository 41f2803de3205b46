"""MDA against a NumPy reference; x0 is a copy and never moves."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from minibatch_least_squares import run_on_gradients

import glyder_optax as go

RNG = np.random.default_rng(2)
A = RNG.normal(size=(8, 3))
Y = RNG.normal(size=8)
X0 = np.array([2.0, -1.0, 0.5])


def grad_at(x, t):
    idx = np.array([(3 * t) % 8, (3 * t + 1) % 8])
    return A[idx].T @ (A[idx] @ x - Y[idx]) / 2


def reference(lr_at, momentum, n_steps):
    x, s, xs = X0.copy(), np.zeros(3), []
    for k in range(n_steps):
        lam = lr_at(k) * np.sqrt(k + 1)
        s = s + lam * grad_at(x, k)
        z = X0 - s / np.sqrt(k + 1)
        x = momentum * x + (1 - momentum) * z
        xs.append(x.copy())
    return np.array(xs)


def run(opt, n_steps):
    return run_on_gradients(opt, n_steps, X0, grad_at)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("schedule", [False, True])
def test_matches_numpy(momentum, schedule):
    lr_at = (lambda k: 0.1 / (1 + 0.2 * k)) if schedule else (lambda k: 0.05)
    learning_rate = lr_at if schedule else 0.05
    got, state = run(go.mda(learning_rate, momentum=momentum), 15)
    np.testing.assert_allclose(got, reference(lr_at, momentum, 15), rtol=1e-12)
    assert int(state.count) == 15


def test_x0_never_moves():
    params = {"w": jnp.array([[1.0, 2.0]]), "b": jnp.array([-3.0])}
    opt = go.mda(0.1)
    state = opt.init(params)
    for _ in range(5):
        grads = jax.tree.map(lambda p: 2 * p + 1, params)
        updates, state = jax.jit(opt.update)(grads, state, params)
        params = optax.apply_updates(params, updates)
    np.testing.assert_array_equal(state.x0["w"], [[1.0, 2.0]])
    np.testing.assert_array_equal(state.x0["b"], [-3.0])
    assert not np.allclose(params["w"], [[1.0, 2.0]])


def test_x0_is_a_copy_that_survives_donated_params():
    # An alias of the params (optax.contrib.madgrad's jax.tree.map(lambda x: x))
    # would be deleted with them when a training step donates its params.
    params = jnp.array([1.0, 2.0, 3.0])
    state = go.mda(0.1).init(params)
    jax.jit(lambda p: p * 2, donate_argnums=0)(params)
    assert params.is_deleted()
    assert not state.x0.is_deleted()
    np.testing.assert_array_equal(state.x0, [1.0, 2.0, 3.0])


def test_first_step():
    # s = lr g, z = x0 - lr g, x1 = x0 - (1 - momentum) lr g.
    opt = go.mda(0.2, momentum=0.75)
    params, grad = jnp.array([1.0, -1.0]), jnp.array([2.0, 4.0])
    updates, _ = opt.update(grad, opt.init(params), params)
    np.testing.assert_allclose(updates, -0.25 * 0.2 * grad, rtol=1e-6)


def test_needs_params():
    opt = go.mda(0.1)
    with pytest.raises(ValueError, match="needs them"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


def test_non_finite_gradient_gives_zero_update_and_keeps_state():
    opt = go.mda(0.1)
    params = jnp.ones(3)
    state = opt.init(params)
    _, state = opt.update(jnp.ones(3), state, params)
    updates, new_state = opt.update(jnp.array([1.0, jnp.inf, 0.0]), state, params)
    np.testing.assert_array_equal(updates, jnp.zeros(3))
    for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)


def test_low_precision_params_keep_a_wide_sum():
    params = jnp.ones(4, jnp.bfloat16)
    opt = go.mda(0.1)
    state = opt.init(params)
    updates, state = opt.update(jnp.ones(4, jnp.bfloat16), state, params)
    assert updates.dtype == jnp.bfloat16
    assert state.grad_sum.dtype == jnp.float32 and state.x0.dtype == jnp.bfloat16

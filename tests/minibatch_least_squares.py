"""A least-squares problem with minibatches, shared by the Polyak-family tests.

Different losses and gradients at every step, so that the NumPy references
exercise every branch of the step-size rules.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

RNG = np.random.default_rng(0)
A = RNG.normal(size=(8, 3))
Y = RNG.normal(size=8)


def batch_loss(x, idx):
    r = A[idx] @ x - Y[idx]
    return 0.5 * np.mean(r**2), A[idx].T @ r / len(idx)


def batches(n_steps):
    return [np.array([(2 * t) % 8, (2 * t + 1) % 8]) for t in range(n_steps)]


def run_optax(opt, n_steps, x0):
    with jax.enable_x64(True):
        x = jnp.asarray(x0, jnp.float64)
        state = opt.init(x)
        xs = []
        for idx in batches(n_steps):
            value, grad = batch_loss(np.asarray(x), idx)
            updates, state = opt.update(
                jnp.asarray(grad), state, x, value=jnp.asarray(value)
            )
            x = optax.apply_updates(x, updates)
            xs.append(np.asarray(x))
        return np.array(xs), state


def run_on_gradients(opt, n_steps, x0, grad_at):
    """Runs ``opt`` in float64 on ``grad_at(x, t)`` (NumPy); no extra args.

    Returns the iterates, shape ``(n_steps, *x0.shape)``, and the last state.
    """
    with jax.enable_x64(True):
        x = jnp.asarray(x0)
        state = opt.init(x)
        xs = []
        for t in range(n_steps):
            grad = jnp.asarray(grad_at(np.asarray(x), t))
            updates, state = opt.update(grad, state, x)
            x = optax.apply_updates(x, updates)
            xs.append(np.asarray(x))
        return np.array(xs), state


def run_numpy(step_size_fn, n_steps, x0):
    x, xs = np.array(x0, float), []
    for t, idx in enumerate(batches(n_steps)):
        value, grad = batch_loss(x, idx)
        x = x - step_size_fn(t, value, grad) * grad
        xs.append(x.copy())
    return np.array(xs)


X0 = np.array([2.0, -1.0, 0.5])


def check_zero_gradient_gives_zero_update(opt):
    """A zero gradient does not move; the next nonzero one gives a finite step."""
    params = jnp.ones(3)
    state = opt.init(params)
    updates, state = opt.update(jnp.zeros(3), state, params, value=1.0)
    np.testing.assert_array_equal(updates, jnp.zeros(3))
    updates, _ = opt.update(jnp.ones(3), state, params, value=1.0)
    assert jnp.all(jnp.isfinite(updates))

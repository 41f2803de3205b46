"""SGD with momentum is stochastic primal averaging (SPA), exactly.

SPA (Defazio 2020): z_{k+1} = z_k - eta_k g(x_k), x_{k+1} = (1 - c_k) x_k +
c_k z_{k+1}, z_0 = x_0. Eliminating z gives the heavy ball
x_{k+1} = x_k - c_k eta_k g_k + beta_k (x_k - x_{k-1}), with
beta_k = (c_k / c_{k-1}) (1 - c_{k-1}). optax.sgd keeps m_{k+1} = g_k + b_k m_k
and steps by a_k m_{k+1}, so a_k = c_k eta_k and b_k = beta_k a_{k-1} / a_k.
With constant parameters: a = c eta, b = 1 - c (the usual eta = a / (1 - b)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from minibatch_least_squares import run_on_gradients

RNG = np.random.default_rng(4)
A = RNG.normal(size=(10, 4))
Y = RNG.normal(size=10)
X0 = np.array([1.0, -1.0, 2.0, 0.0])
STEPS = 25


def grad_at(x, t):
    idx = np.array([(3 * t) % 10, (3 * t + 1) % 10])
    return A[idx].T @ (A[idx] @ x - Y[idx]) / 2


def spa(eta, c):
    """Stochastic primal averaging with per-step eta_k and c_k."""
    x, z, xs = X0.copy(), X0.copy(), []
    for k in range(STEPS):
        z = z - eta[k] * grad_at(x, k)
        x = (1 - c[k]) * x + c[k] * z
        xs.append(x)
    return np.array(xs)


def run_optax(opt):
    return run_on_gradients(opt, STEPS, X0, grad_at)[0]


@pytest.mark.parametrize(("lr", "momentum"), [(0.1, 0.9), (0.05, 0.5), (0.3, 0.0)])
def test_constant_sgd_momentum_is_spa(lr, momentum):
    c = 1 - momentum
    got = run_optax(optax.sgd(lr, momentum=momentum))
    want = spa(np.full(STEPS, lr / c), np.full(STEPS, c))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_time_varying_spa_is_sgd_with_scheduled_momentum():
    k = np.arange(STEPS)
    c = 1 / (1 + 0.4 * k)  # momentum 1 - c_k grows, as the paper advises
    eta = 0.2 * np.ones(STEPS)
    eta[10:] = 0.1  # and a step drop in eta
    a = c * eta
    beta = np.concatenate([[0.0], c[1:] / c[:-1] * (1 - c[:-1])])
    b = np.concatenate([[0.0], beta[1:] * a[:-1] / a[1:]])
    with jax.enable_x64(True):
        a_j, b_j = jnp.asarray(a), jnp.asarray(b)
        opt = optax.inject_hyperparams(optax.sgd)(
            learning_rate=lambda step: a_j[step], momentum=lambda step: b_j[step]
        )
    got = run_optax(opt)
    np.testing.assert_allclose(got, spa(eta, c), rtol=1e-12, atol=1e-14)


def test_stepped_learning_rate_needs_the_momentum_correction():
    # Constant c, eta dropped once: SPA is SGD with b_k = (1 - c) a_{k-1} / a_k,
    # and the naive choice (momentum 1 - c throughout) is not SPA.
    c = 0.25
    eta = np.where(np.arange(STEPS) < 12, 0.4, 0.2)
    a = c * eta
    b = np.concatenate([[0.0], (1 - c) * a[:-1] / a[1:]])
    with jax.enable_x64(True):
        a_j, b_j = jnp.asarray(a), jnp.asarray(b)
        opt = optax.inject_hyperparams(optax.sgd)(
            learning_rate=lambda step: a_j[step], momentum=lambda step: b_j[step]
        )
    got = run_optax(opt)
    np.testing.assert_allclose(got, spa(eta, np.full(STEPS, c)), rtol=1e-12)
    # And the naive choice (keep momentum 1 - c, scale the learning rate) is
    # not SPA once eta changes: the equivalence needs the b_k correction.
    with jax.enable_x64(True):
        naive = optax.inject_hyperparams(optax.sgd)(
            learning_rate=lambda step: a_j[step], momentum=1 - c
        )
    assert not np.allclose(run_optax(naive), spa(eta, np.full(STEPS, c)), rtol=1e-6)

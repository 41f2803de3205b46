"""TAPS / MOTAPS against a NumPy transcription of the authors' loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glyder_optax as go

RNG = np.random.default_rng(3)
N = 6
A = RNG.normal(size=(N, 3))
Y = RNG.normal(size=N)
X0 = np.array([1.0, -2.0, 0.5])
REG = 0.1


def loss_and_grad(x, idx):
    """Mean over the minibatch of 0.5 (a_i x - y_i)^2 + 0.5 reg ||x||^2."""
    r = A[idx] @ x - Y[idx]
    value = 0.5 * np.mean(r**2) + 0.5 * REG * x @ x
    return value, A[idx].T @ r / len(idx) + REG * x


def batches(batch, n_steps, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.choice(N, size=batch, replace=False) for _ in range(n_steps)]


def reference(idx_list, lr, tau_lr, tau0, beta):
    """StochOpt-py's ``taps`` loop in averaging form, with the minibatch rule."""
    lr = lr / (1 - beta)  # the code's pre-scaling for momentum
    x, z = X0.copy(), X0.copy()
    alpha, tau, xs = np.zeros(N), tau0, []
    batch = len(idx_list[0])
    per_epoch = -(-N // batch)
    for t, idx in enumerate(idx_list):
        value, g = loss_and_grad(x, idx)
        gamma = (value - alpha[idx].mean()) / (g @ g + 1 / batch)
        alpha[idx] += lr * gamma / batch
        z = z - lr * gamma * g
        x = beta * x + (1 - beta) * z
        if (t + 1) % per_epoch == 0:
            mean = alpha.mean()
            tau = (1 - tau_lr) * tau + tau_lr * (N / (N + 1)) * mean
            alpha = alpha + lr * (tau - mean)
        xs.append(x.copy())
    return np.array(xs), alpha, tau


def run(opt, idx_list):
    with jax.enable_x64(True):
        x = jnp.asarray(X0)
        state = opt.init(x)
        xs = []
        for idx in idx_list:
            value, grad = loss_and_grad(np.asarray(x), idx)
            updates, state = opt.update(
                jnp.asarray(grad), state, x, value=value, indices=jnp.asarray(idx)
            )
            x = optax.apply_updates(x, updates)
            xs.append(np.asarray(x))
        return np.array(xs), state[0]


@pytest.mark.parametrize("batch", [1, 2, 4])
@pytest.mark.parametrize(
    ("lr", "tau_lr", "tau0", "beta"),
    [(0.8, 0.0, 0.0, 0.0), (0.5, 0.3, 0.1, 0.0), (0.5, 0.3, 0.0, 0.6)],
    ids=["taps", "motaps", "motaps_momentum"],
)
def test_matches_numpy(batch, lr, tau_lr, tau0, beta):
    idx_list = batches(batch, 14)
    opt = go.sps_moving_target(
        N, learning_rate=lr, tau_lr=tau_lr, tau0=tau0, momentum=beta
    )
    got, state = run(opt, idx_list)
    want, alpha, tau = reference(idx_list, lr, tau_lr, tau0, beta)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(state.targets, alpha, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(state.mean_target, alpha.mean(), rtol=1e-11)
    np.testing.assert_allclose(state.tau, tau, rtol=1e-11, atol=1e-13)


def test_defaults_are_the_authors_convex_ones():
    lr = 1 / (1 + 0.25 * REG * np.exp(REG))
    idx_list = batches(1, 2 * N)
    with jax.enable_x64(True):  # the default is computed at construction
        opt = go.sps_moving_target(N, reg=REG)
    got, state = run(opt, idx_list)
    want, _, tau = reference(idx_list, lr, 0.9 - 0.899 * lr, 0.0, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-11)
    np.testing.assert_allclose(state.tau, tau, rtol=1e-11)
    assert tau != 0.0


def test_one_target_per_sample_and_only_sampled_ones_move_within_an_epoch():
    # n = 6, |B| = 2: the epoch update runs after steps 3, 6, ...
    opt = go.sps_moving_target(N, learning_rate=0.5, tau_lr=0.5)
    x = jnp.asarray(X0, jnp.float32)
    state = opt.init(x)
    assert state[0].targets.shape == (N,)
    for step, idx in enumerate([np.array([0, 3]), np.array([5, 1]), np.array([2, 4])]):
        before = np.asarray(state[0].targets)
        value, grad = loss_and_grad(np.asarray(x, float), idx)
        updates, state = opt.update(
            jnp.asarray(grad, jnp.float32), state, x, value=value, indices=idx
        )
        x = optax.apply_updates(x, updates)
        after = np.asarray(state[0].targets)
        assert after.shape == (N,)
        if step < 2:  # within the epoch: exactly the sampled targets changed
            changed = np.flatnonzero(after != before)
            np.testing.assert_array_equal(changed, np.sort(idx))
            assert float(state[0].tau) == 0.0
        else:  # end of the epoch: tau moved and every target shifted
            assert float(state[0].tau) != 0.0
            assert np.all(after != before)


def test_scalar_index_means_one_sample():
    opt = go.sps_moving_target(3, learning_rate=1.0, tau_lr=0.0)
    params = jnp.zeros(2)
    updates, state = opt.update(
        jnp.array([0.0, -1.0]), opt.init(params), params, value=0.5, indices=2
    )
    # Gamma = 0.5 / (1 + 1): the step and the sampled target.
    np.testing.assert_allclose(updates, [0.0, 0.25])
    np.testing.assert_allclose(state[0].targets, [0.0, 0.0, 0.25])


def test_missing_or_bad_indices():
    opt = go.sps_moving_target(4)
    params = jnp.zeros(2)
    state = opt.init(params)
    with pytest.raises(ValueError, match=r"`indices`.*indices="):
        opt.update(jnp.ones(2), state, params, value=1.0)
    with pytest.raises(ValueError, match=r"`value`.*value="):
        opt.update(jnp.ones(2), state, params, indices=jnp.arange(2))
    with pytest.raises(TypeError, match="must be integer sample indices"):
        opt.update(jnp.ones(2), state, params, value=1.0, indices=jnp.ones(2))


def test_non_finite_loss_gives_zero_update_and_keeps_state():
    opt = go.sps_moving_target(4, learning_rate=0.5)
    params = jnp.ones(2)
    state = opt.init(params)
    _, state = opt.update(jnp.ones(2), state, params, value=1.0, indices=jnp.array([1]))
    updates, new_state = opt.update(
        jnp.ones(2), state, params, value=jnp.nan, indices=jnp.array([2])
    )
    np.testing.assert_array_equal(updates, jnp.zeros(2))
    for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("num_samples", "error", "match"),
    [
        (0, ValueError, "num_samples must be a positive integer"),
        (-1, ValueError, "num_samples must be a positive integer"),
        (2.5, TypeError, "num_samples must be a Python int"),
    ],
)
def test_rejects_bad_num_samples(num_samples, error, match):
    with pytest.raises(error, match=match):
        go.sps_moving_target(num_samples)

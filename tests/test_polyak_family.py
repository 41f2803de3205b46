"""Inexact Polyak, DecSPS and AdaSPS against NumPy references, step by step."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glyder_optax as go

# A least-squares problem with minibatches: different losses and gradients at
# every step, so that the references exercise every branch of the rules.
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


def run_numpy(step_size_fn, n_steps, x0):
    x, xs = np.array(x0, float), []
    for t, idx in enumerate(batches(n_steps)):
        value, grad = batch_loss(x, idx)
        x = x - step_size_fn(t, value, grad) * grad
        xs.append(x.copy())
    return np.array(xs)


X0 = np.array([2.0, -1.0, 0.5])


# --- Inexact Polyak -------------------------------------------------------------


@pytest.mark.parametrize("total_steps", [1, 100, 10_000])
@pytest.mark.parametrize("f_min", [0.0, -0.5])
def test_inexact_polyak_matches_numpy(total_steps, f_min):
    def ref(t, value, grad):
        return (value - f_min) / (np.sqrt(total_steps) * grad @ grad)

    got, _ = run_optax(go.inexact_polyak_sgd(total_steps, f_min=f_min), 12, X0)
    np.testing.assert_allclose(got, run_numpy(ref, 12, X0), rtol=1e-12)


def test_inexact_polyak_with_one_step_and_f_star_is_optax_polyak():
    f_star = 0.3
    ours, _ = run_optax(go.inexact_polyak_sgd(total_steps=1, f_min=f_star), 12, X0)
    theirs, _ = run_optax(
        optax.polyak_sgd(max_learning_rate=jnp.inf, f_min=f_star), 12, X0
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_inexact_polyak_zero_gradient_gives_zero_update():
    opt = go.inexact_polyak_sgd(total_steps=100)
    params = jnp.ones(3)
    updates, state = opt.update(jnp.zeros(3), opt.init(params), params, value=2.0)
    np.testing.assert_array_equal(updates, jnp.zeros(3))
    assert all(jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(state) if x.ndim)


@pytest.mark.parametrize(("variant", "expected"), [("ips", 0.1), ("ips+", 0.0)])
def test_inexact_polyak_loss_below_f_min(variant, expected):
    # value - f_min = -1, ||g||^2 = 1, T = 100: the paper's rule steps by -1/10
    # (uphill); ips+ clamps the gap at 0 and does not move.
    opt = go.inexact_polyak_sgd(total_steps=100, f_min=1.0, variant=variant)
    params, grad = jnp.zeros(1), jnp.ones(1)
    updates, _ = opt.update(grad, opt.init(params), params, value=0.0)
    np.testing.assert_allclose(updates, [expected], atol=1e-7)


@pytest.mark.parametrize("total_steps", [0, -3, 2.5])
def test_inexact_polyak_rejects_bad_total_steps(total_steps):
    with pytest.raises(ValueError, match="total_steps must be a positive integer"):
        go.inexact_polyak_sgd(total_steps=total_steps)


def test_inexact_polyak_rejects_non_scalar_value():
    opt = go.inexact_polyak_sgd(total_steps=10)
    params = jnp.ones(3)
    with pytest.raises(ValueError, match=r"`value` must be a scalar.*shape \(3,\)"):
        opt.update(params, opt.init(params), params, value=jnp.ones(3))


def test_inexact_polyak_rejects_unknown_variant():
    with pytest.raises(ValueError, match="variant must be 'ips' or 'ips\\+'"):
        go.scale_by_inexact_polyak(10, variant="sps")


def test_inexact_polyak_tracks_best_iterate():
    opt = go.inexact_polyak_sgd(total_steps=4, track_best=True)
    values = [3.0, 1.0, 2.0, jnp.nan]
    params_seen = [jnp.full(2, float(i)) for i in range(4)]
    state = opt.init(params_seen[0])
    for value, params in zip(values, params_seen):
        _, state = opt.update(jnp.ones(2), state, params, value=value)
    best_value, best_params = go.inexact_polyak_best_params(state)
    assert best_value == 1.0
    np.testing.assert_array_equal(best_params, params_seen[1])


def test_best_params_accessor_explains_missing_tracking():
    opt = go.inexact_polyak_sgd(total_steps=4)
    with pytest.raises(ValueError, match="track_best=True"):
        go.inexact_polyak_best_params(opt.init(jnp.ones(2)))


# --- DecSPS ---------------------------------------------------------------------


def decsps_reference(c0, gamma_b, f_min):
    bound = [c0 * gamma_b]

    def step_size(t, value, grad):
        c_t = c0 * np.sqrt(t + 1)
        gamma = min((value - f_min) / (grad @ grad), bound[0]) / c_t
        bound[0] = c_t * gamma
        return gamma

    return step_size


@pytest.mark.parametrize(("c0", "gamma_b"), [(1.0, 10.0), (0.5, 0.1), (2.0, 1000.0)])
def test_decsps_matches_numpy(c0, gamma_b):
    got, state = run_optax(go.decsps(c0=c0, gamma_b=gamma_b), 15, X0)
    want = run_numpy(decsps_reference(c0, gamma_b, 0.0), 15, X0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert int(state[0].count) == 15


def test_decsps_steps_never_increase():
    opt = go.scale_by_decsps()
    state = opt.init(X0)
    steps = []
    for idx in batches(20):
        value, grad = batch_loss(X0, idx)
        updates, state = opt.update(jnp.asarray(grad), state, value=value)
        steps.append(float(updates[0] / grad[0]))
    assert all(b <= a * (1 + 1e-6) for a, b in itertools.pairwise(steps))


# --- AdaSPS ---------------------------------------------------------------------


def adasps_reference(c_p, f_min):
    mem = {"sum": 0.0, "eta": np.inf, "c_p": c_p}

    def step_size(t, value, grad):
        gap = value - f_min
        if mem["c_p"] is None:
            mem["c_p"] = 1 / np.sqrt(gap)
        mem["sum"] += gap
        cand = gap / (mem["c_p"] * (grad @ grad) * np.sqrt(mem["sum"]))
        mem["eta"] = min(cand, mem["eta"])
        return mem["eta"]

    return step_size


@pytest.mark.parametrize("c_p", [None, 0.5, 3.0])
def test_adasps_matches_numpy(c_p):
    got, _ = run_optax(go.adasps(c_p=c_p), 15, X0)
    want = run_numpy(adasps_reference(c_p, 0.0), 15, X0)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_adasps_first_step_is_the_polyak_step():
    value, grad = batch_loss(X0, batches(1)[0])
    got, _ = run_optax(go.adasps(), 1, X0)
    np.testing.assert_allclose(got[0], X0 - value / (grad @ grad) * grad, rtol=1e-12)


@pytest.mark.parametrize("factory", [go.decsps, go.adasps])
def test_zero_gradient_gives_zero_update(factory):
    opt = factory()
    params = jnp.ones(3)
    state = opt.init(params)
    updates, state = opt.update(jnp.zeros(3), state, params, value=1.0)
    np.testing.assert_array_equal(updates, jnp.zeros(3))
    updates, _ = opt.update(jnp.ones(3), state, params, value=1.0)
    assert jnp.all(jnp.isfinite(updates))

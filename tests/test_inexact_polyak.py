"""Inexact Polyak against a NumPy reference, optax's Polyak, and bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from minibatch_least_squares import X0, run_numpy, run_optax

import glyder_optax as go


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


@pytest.mark.parametrize(
    ("total_steps", "error", "match"),
    [
        (0, ValueError, "total_steps must be a positive integer"),
        (-3, ValueError, "total_steps must be a positive integer"),
        (2.5, TypeError, "total_steps must be a Python int"),
    ],
)
def test_inexact_polyak_rejects_bad_total_steps(total_steps, error, match):
    with pytest.raises(error, match=match):
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
    np.testing.assert_array_equal(go.inexact_polyak_best_params(state), params_seen[1])
    assert go.inexact_polyak_best_value(state) == 1.0
    # The NaN loss was skipped and counted; the step size is the last finite one.
    assert int(go.skipped_steps(state)) == 1
    np.testing.assert_allclose(state[0].step_size, 0.5)  # 2 / (sqrt(4) * 2)


def test_best_params_accessor_explains_missing_tracking():
    opt = go.inexact_polyak_sgd(total_steps=4)
    with pytest.raises(ValueError, match="track_best=True"):
        go.inexact_polyak_best_params(opt.init(jnp.ones(2)))

"""DecSPS against a NumPy reference, step by step."""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np
import pytest
from minibatch_least_squares import (
    X0,
    batch_loss,
    batches,
    check_zero_gradient_gives_zero_update,
    run_numpy,
    run_optax,
)

import glyder_optax as go


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


def test_zero_gradient_gives_zero_update():
    check_zero_gradient_gives_zero_update(go.decsps())

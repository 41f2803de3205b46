"""AdaSPS against a NumPy reference, step by step."""

from __future__ import annotations

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


def test_zero_gradient_gives_zero_update():
    check_zero_gradient_gives_zero_update(go.adasps())

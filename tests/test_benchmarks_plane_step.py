"""The thirty-seventh round's candidate: the locally optimal step in a plane."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks import methods, plane_step

EXACT = {
    "refresh_every": 1,
    "smoothing": 0.0,
    "max_growth": jnp.inf,
    "max_momentum": jnp.inf,
    "f_min": -jnp.inf,
}


def _run(tx, f, x, steps):
    state = tx.init(x)
    for _ in range(steps):
        updates, state = tx.update(jax.grad(f)(x), state, x, obj_fn=f)
        x = optax.apply_updates(x, updates)
    return x, state


def test_the_plane_estimate_is_the_quadratics_slopes_and_curvature():
    a = jnp.array([[3.0, 1.0], [1.0, 2.0]])
    f = lambda x: 0.5 * x @ a @ x
    x, d, q = jnp.array([1.0, -1.0]), jnp.array([1.0, 0.5]), jnp.array([0.0, 2.0])
    value, n, c = plane_step.plane_estimate(f, x, d, q)
    g = a @ x
    np.testing.assert_allclose(value, f(x), rtol=1e-6)
    np.testing.assert_allclose(n, [g @ d, g @ q], rtol=1e-6)
    basis = jnp.stack([d, q])
    np.testing.assert_allclose(c, basis @ a @ basis.T, rtol=1e-6)


def test_exact_planes_are_conjugate_gradients_on_a_quadratic():
    # Three distinct eigenvalues: conjugate gradients ends in three steps.
    with jax.enable_x64(True):
        a = jnp.diag(jnp.array([1.0, 4.0, 20.0]))
        f = lambda x: 0.5 * x @ a @ x
        tx = plane_step.scale_by_plane_step(None, **EXACT)
        x = jnp.ones(3)
        first, _ = _run(tx, f, x, 1)
        g = a @ x
        line_search = x - (g @ g) / (g @ a @ g) * g  # steepest descent, exact
        np.testing.assert_allclose(first, line_search, rtol=1e-12)
        last, _ = _run(tx, f, x, 3)
        assert f(last) < 1e-25


def test_the_momentum_is_clipped_and_the_rate_is_then_the_best_given_it():
    n, c = jnp.array([1.0, 2.0]), jnp.array([[2.0, 0.5], [0.5, 1.0]])
    a, b = plane_step.solve_plane(n, c, 10.0)
    np.testing.assert_allclose(c @ jnp.array([a, b]), n, rtol=1e-6)
    a, b = plane_step.solve_plane(n, c, 0.5)  # the free b is 2/1.75 > 0.5
    assert b == 0.5
    np.testing.assert_allclose(a, (1.0 - 0.5 * 0.5) / 2.0, rtol=1e-6)
    a, b = plane_step.solve_plane(n, jnp.array([[2.0, 0.0], [0.0, 0.0]]), 0.9)
    assert (a, b) == (0.5, 0.0)  # no plane: the line along d


def test_a_non_finite_estimate_keeps_the_state_and_takes_no_step():
    tx = plane_step.scale_by_plane_step(10)
    x = jnp.array([1.0, 2.0])
    f = lambda p: 0.5 * jnp.sum(p**2)
    _, state = _run(tx, f, x, 1)
    updates, after = tx.update(
        jnp.array([jnp.nan, 1.0]), state._replace(count=jnp.asarray(0)), x, obj_fn=f
    )
    assert not np.any(updates)
    np.testing.assert_array_equal(after.coefficients, state.coefficients)
    np.testing.assert_array_equal(after.curvature, state.curvature)


def test_the_first_step_holds_no_momentum_and_the_state_keeps_its_dtype():
    tx = plane_step.scale_by_plane_step(10, refresh_every=2)
    f = lambda p: jnp.sum((p - 1.0) ** 2)
    x, state = _run(tx, f, jnp.zeros(4), 1)
    assert plane_step.plane_coefficients(state)[1] == 0.0
    _, later = _run(tx, f, x, 3)
    for leaf, first in zip(jax.tree.leaves(later), jax.tree.leaves(tx.init(x))):
        assert leaf.dtype == first.dtype and leaf.shape == first.shape


def test_update_without_obj_fn_says_what_is_missing():
    tx = plane_step.scale_by_plane_step(10)
    with pytest.raises(ValueError, match="obj_fn"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2))


def test_the_multiple_scales_the_rate_and_not_the_momentum():
    f = lambda p: 0.5 * jnp.sum(jnp.array([1.0, 10.0]) * p**2)
    x = jnp.array([1.0, 1.0])
    base = plane_step.scale_by_plane_step(None, refresh_every=2, smoothing=0.0)
    _, state = _run(base, f, x, 3)
    a, b = plane_step.plane_coefficients(state)
    g, q = jax.grad(f)(x), jnp.array([0.5, -0.25])
    state = state._replace(count=jnp.asarray(1), previous=x + q)  # a held step
    for multiple in (1.0, 3.0):
        tx = plane_step.scale_by_plane_step(None, refresh_every=2, multiple=multiple)
        updates, _ = tx.update(g, state, x, obj_fn=f)
        np.testing.assert_allclose(updates, -(multiple * a * g + b * q), rtol=1e-6)


@pytest.mark.parametrize(
    "name",
    ["glyder-plane", "glyder-plane-k5", "glyder-plane-free", "glyder-plane-budget"],
)
def test_the_plane_entries_are_registered_against_momentum(name):
    method = methods.get(name)
    assert method.base == "momentum" and method.extra_args == ("obj_fn",)


def test_the_trace_reads_the_rate_and_momentum_over_the_budget():
    *rows, (name, metric) = plane_step.trace("fresh4-tanh-d12", points=3)
    assert [r[0] for r in rows] == [0, 174, 349] and name == "test_loss"
    assert rows[0][3] == 0.0  # no last step at the first: no momentum
    assert all(np.isfinite(r[1]) and r[2] > 0 for r in rows) and np.isfinite(metric)

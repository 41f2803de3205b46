"""Conformance suite: every public transform behaves as optax expects.

Mirrors what optax's ``contrib/_common_test.py`` checks, over the registry in
``conformance_registry.py``, plus our own robustness checks.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conformance_registry import CASES

# --- the targets of optax's contrib suite -------------------------------------


def parabola(dtype):
    final = jnp.array([1.0, -1.0, 1.0], dtype=dtype)
    return (
        jnp.array([-1.0, 10.0, 1.0], dtype=dtype),
        final,
        lambda p: jnp.sum((p - final) ** 2),
    )


def rosenbrock(dtype):
    a, b = 1.0, 100.0
    return (
        jnp.array([0.0, 0.0], dtype=dtype),
        jnp.array([a, a**2], dtype=dtype),
        lambda p: (a - p[0]) ** 2 + b * (p[1] - p[0] ** 2) ** 2,
    )


def matrix_parabola(dtype):
    final = jnp.array([[3.0, -2.0], [1.0, 4.0]], dtype=dtype)
    return (
        jnp.zeros((2, 2), dtype=dtype),
        final,
        lambda p: jnp.sum((p - final) ** 2),
    )


def mixed_tree(dtype):
    f1 = jnp.array([1.0, -1.0, 2.0], dtype=dtype)
    f2 = jnp.array([[1.0, 0.0], [-1.0, 1.0]], dtype=dtype)
    return (
        (jnp.zeros((3,), dtype=dtype), jnp.zeros((2, 2), dtype=dtype)),
        (f1, f2),
        lambda p: jnp.sum((p[0] - f1) ** 2) + jnp.sum((p[1] - f2) ** 2),
    )


TARGETS = (parabola, rosenbrock, matrix_parabola, mixed_tree)


def make_step(opt, case, objective, extra=None):
    def step(params, state):
        grads = jax.grad(objective)(params)
        kwargs = {**case.build_extras(objective, params), **(extra or {})}
        updates, state = opt.update(grads, state, params, **kwargs)
        return optax.apply_updates(params, updates), state

    return step


def float_leaves(tree):
    return [
        x
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)
    ]


parametrize_cases = pytest.mark.parametrize("case", CASES, ids=str)


# --- optax's checks -----------------------------------------------------------


@parametrize_cases
def test_accepts_unknown_extra_args_without_recompiling(case):
    opt = case.make()
    params, _, objective = rosenbrock(jnp.float32)
    step = jax.jit(make_step(opt, case, objective, {"an_unexpected_extra_arg": 1}))
    state = opt.init(params)
    params, state = step(params, state)
    params, state = step(params, state)
    assert step._cache_size() == 1, "update recompiles on the second call"


@parametrize_cases
def test_map_params_is_a_no_op(case):
    opt = case.make()
    params, _, _ = mixed_tree(jnp.float32)
    state = opt.init(params)
    mapped = optax.tree.map_params(opt, lambda v: v, state)
    assert jax.tree.structure(mapped) == jax.tree.structure(state)


@parametrize_cases
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.__name__)
def test_converges_in_30k_steps(case, target, request):
    if target.__name__ in case.known_slow:
        reason = case.known_slow[target.__name__]
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    opt = case.make()
    params, final, objective = target(jnp.float32)
    step = make_step(opt, case, objective)

    def body(carry, _):
        return step(*carry), None

    (params, _), _ = jax.jit(lambda p, s: jax.lax.scan(body, (p, s), length=30_000))(
        params, opt.init(params)
    )
    for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(final)):
        np.testing.assert_allclose(got, want, rtol=3e-2, atol=3e-2)


@parametrize_cases
def test_inject_hyperparams_gives_the_same_step(case):
    opt = case.make()
    injected = optax.inject_hyperparams(case.factory, static_args=case.static_args)(
        **case.kwargs
    )
    params = [-jnp.ones((2, 3)), jnp.ones((2, 5, 2))]
    objective = lambda p: optax.tree.norm(p, squared=True) + 1.0
    grads = jax.grad(objective)(params)
    extras = case.build_extras(objective, params)

    updates, state = jax.jit(opt.update)(grads, opt.init(params), params, **extras)
    updates_i, state_i = jax.jit(injected.update)(
        grads, injected.init(params), params, **extras
    )
    for a, b in zip(jax.tree.leaves(updates_i), jax.tree.leaves(updates)):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(state_i.inner_state), jax.tree.leaves(state)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@parametrize_cases
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_updates_keep_the_params_dtype(case, dtype):
    opt = case.make()
    objective = lambda x: jnp.sum(x**2)
    params = jnp.array([1.0, 2.0], dtype=dtype)
    grads = jax.grad(objective)(params)
    updates, _ = jax.jit(opt.update)(
        grads, jax.jit(opt.init)(params), params, **case.build_extras(objective, params)
    )
    assert updates.dtype == params.dtype


@parametrize_cases
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_works_inside_multisteps(case, dtype):
    opt = optax.MultiSteps(case.make(), every_k_schedule=4)
    objective = lambda x: jnp.sum(x**2)
    params = jnp.array([1.0, 2.0], dtype=dtype)
    grads = jax.grad(objective)(params)
    updates, _ = jax.jit(opt.update)(
        grads, jax.jit(opt.init)(params), params, **case.build_extras(objective, params)
    )
    np.testing.assert_array_equal(updates, jnp.zeros_like(grads))


@parametrize_cases
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_state_dtype_and_shape_stable_under_cond(case, dtype):
    with jax.enable_x64(dtype == "float64"):
        opt = case.make()
        params, _, objective = parabola(jnp.dtype(dtype))

        @jax.jit
        def step(params, state):
            extras = case.build_extras(objective, params)
            if "value" in extras:  # confuse the dtype on purpose, as optax does
                confusing = jnp.float16 if dtype != "float16" else jnp.bfloat16
                extras["value"] = extras["value"].astype(confusing)
            grads = jax.grad(objective)(params)
            cond = jax.random.randint(jax.random.key(0), (), 0, 2) == 0
            updates, state = jax.lax.cond(
                cond,
                lambda: opt.update(grads, state, params, **extras),
                lambda: (params, state),
            )
            return optax.apply_updates(params, updates), state

        state = opt.init(params)
        for _ in range(2):
            params, state = step(params, state)
            assert jax.tree.leaves(params)[0].dtype == jnp.dtype(dtype)


@parametrize_cases
def test_constant_schedule_equals_constant_learning_rate(case):
    lr = inspect.signature(case.factory).parameters.get("learning_rate")
    if lr is None or lr.annotation not in (
        optax.ScalarOrSchedule,
        "optax.ScalarOrSchedule",
    ):
        pytest.skip("no schedulable learning_rate")
    params, _, objective = parabola(jnp.float32)
    results = []
    for learning_rate in (optax.constant_schedule(1e-3), 1e-3):
        opt = case.make(learning_rate=learning_rate)
        step = jax.jit(make_step(opt, case, objective))
        p, s = params, opt.init(params)
        for _ in range(10):
            p, s = step(p, s)
        results.append(p)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


# --- ours ---------------------------------------------------------------------


@parametrize_cases
@pytest.mark.parametrize("bad", ["nan_grad", "inf_grad", "nan_value", "inf_value"])
def test_non_finite_input_leaves_no_nan_in_state(case, bad):
    opt = case.make()
    params, _, objective = mixed_tree(jnp.float32)
    good_step = jax.jit(make_step(opt, case, objective))
    state = opt.init(params)
    params, state = good_step(params, state)

    grads = jax.grad(objective)(params)
    extras = case.build_extras(objective, params)
    poison = jnp.nan if bad.startswith("nan") else jnp.inf
    if bad.endswith("grad"):
        grads = jax.tree.map(lambda g: g.at[..., 0].set(poison), grads)
    elif "value" in extras:
        extras["value"] = jnp.asarray(poison)
    else:
        pytest.skip("takes no loss value")
    _, state = jax.jit(opt.update)(grads, state, params, **extras)
    for leaf in float_leaves(state):
        assert not jnp.any(jnp.isnan(leaf)), f"NaN in the state after {bad}"

    # The state is not poisoned: the next finite step gives finite params.
    params, state = good_step(params, state)
    for leaf in jax.tree.leaves(params):
        assert jnp.all(jnp.isfinite(leaf))


@parametrize_cases
def test_missing_extra_arg_is_named_in_the_error(case):
    if not case.extra_args:
        pytest.skip("needs no extra argument")
    opt = case.make()
    params, _, objective = parabola(jnp.float32)
    grads = jax.grad(objective)(params)
    extras = case.build_extras(objective, params)
    for name in case.extra_args:
        partial = {k: v for k, v in extras.items() if k != name}
        with pytest.raises(ValueError, match=rf"`{name}`.*update\(.*{name}="):
            opt.update(grads, opt.init(params), params, **partial)

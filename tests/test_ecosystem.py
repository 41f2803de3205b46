"""Every transform inside optax's wrappers, with bf16 params, and checkpointed.

Parameterised over the conformance registry, so a new method is covered by
its one ``Case`` line.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest
from conformance_registry import CASES

parametrize_cases = pytest.mark.parametrize("case", CASES, ids=str)


def two_part_problem():
    """A tree of two leaves: 'w' (trained) and 'frozen'; a smooth loss."""
    target = {"w": jnp.array([1.0, -2.0, 0.5]), "frozen": jnp.array([3.0, 1.0])}
    params = {"w": jnp.zeros(3), "frozen": jnp.zeros(2)}
    objective = lambda p: (
        jnp.sum((p["w"] - target["w"]) ** 2)
        + jnp.sum((p["frozen"] - target["frozen"]) ** 2)
    )
    return params, objective


def run(opt, case, params, objective, steps, state=None):
    step = jax.jit(
        lambda p, s: _step(opt, case, objective, p, s),
    )
    state = opt.init(params) if state is None else state
    for _ in range(steps):
        params, state = step(params, state)
    return params, state


def _step(opt, case, objective, params, state):
    grads = jax.grad(objective)(params)
    updates, state = opt.update(
        grads, state, params, **case.build_extras(objective, params)
    )
    return optax.apply_updates(params, updates), state


def _around_the_mask(case, wrap):
    """Builds ``case`` under ``wrap`` (a function transform -> masked transform).

    A method that needs every parameter (``case.mask_inside``) refuses to be
    wrapped, with an error that says where the mask goes; it is then built with
    the mask around its inner transform instead, or, where it has none
    (``case.refuses_mask``), ``None`` is returned: the error is what is checked.
    """
    if case.mask_inside is None and not case.refuses_mask:
        return wrap(case.make())
    params, objective = two_part_problem()
    with pytest.raises(ValueError, match="Put the mask inside"):
        run(wrap(case.make()), case, params, objective, 1)
    if case.refuses_mask:
        return None
    return case.make(**{case.mask_inside: wrap(case.kwargs[case.mask_inside])})


@parametrize_cases
def test_masked_leaves_the_masked_out_leaf_alone(case):
    params, objective = two_part_problem()
    # masked passes the raw gradient through for masked-out leaves: zero them.
    opt = _around_the_mask(
        case,
        lambda tx: optax.chain(
            optax.masked(tx, {"w": True, "frozen": False}),
            optax.masked(optax.set_to_zero(), {"w": False, "frozen": True}),
        ),
    )
    if opt is None:
        return
    new_params, _ = run(opt, case, params, objective, 5)
    np.testing.assert_array_equal(new_params["frozen"], params["frozen"])
    assert not np.allclose(new_params["w"], params["w"])


@parametrize_cases
def test_partition_with_a_frozen_group(case):
    params, objective = two_part_problem()
    opt = _around_the_mask(
        case,
        lambda tx: optax.partition(
            {"ours": tx, "frozen": optax.set_to_zero()},
            {"w": "ours", "frozen": "frozen"},
        ),
    )
    if opt is None:
        return
    new_params, _ = run(opt, case, params, objective, 5)
    np.testing.assert_array_equal(new_params["frozen"], params["frozen"])
    assert not np.allclose(new_params["w"], params["w"])


@parametrize_cases
def test_apply_if_finite_skips_a_nan_step(case):
    params, objective = two_part_problem()
    opt = optax.apply_if_finite(case.make(), max_consecutive_errors=3)
    params, state = run(opt, case, params, objective, 2)
    nan_grads = jax.tree.map(lambda x: jnp.full_like(x, jnp.nan), params)
    updates, new_state = opt.update(
        nan_grads, state, params, **case.build_extras(objective, params)
    )
    for u in jax.tree.leaves(updates):
        np.testing.assert_array_equal(u, jnp.zeros_like(u))
    assert int(new_state.notfinite_count) == 1
    # The inner state is unchanged: the next finite step equals a step from
    # the old state.
    a, _ = _step(opt, case, objective, params, new_state)
    b, _ = _step(opt, case, objective, params, state)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


@parametrize_cases
def test_bf16_params_keep_bf16_and_scalar_state_is_at_least_f32(case):
    params, objective = two_part_problem()
    params = optax.tree.cast(params, jnp.bfloat16)
    opt = case.make()
    # 30 steps: GLyDER's gnb estimate along one direction is a one-sample
    # (chi-square, 1 dof) draw, so its first steps may overshoot on this problem.
    new_params, state = run(opt, case, params, objective, 30)
    assert all(x.dtype == jnp.bfloat16 for x in jax.tree.leaves(new_params))
    for leaf in jax.tree.leaves(state):
        if jnp.ndim(leaf) == 0 and jnp.issubdtype(leaf.dtype, jnp.floating):
            assert jnp.finfo(leaf.dtype).bits >= 32, "scalar statistic below f32"
    loss0 = float(objective(optax.tree.cast(params, jnp.float32)))
    loss1 = float(objective(optax.tree.cast(new_params, jnp.float32)))
    assert loss1 < loss0


@parametrize_cases
def test_checkpoint_resume_is_bit_exact(case, tmp_path):
    params, objective = two_part_problem()
    straight, _ = run(case.make(), case, params, objective, 6)

    mid_params, mid_state = run(case.make(), case, params, objective, 3)
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp_path / "ckpt", {"params": mid_params, "opt_state": mid_state})
    # A fresh optimizer object; its init gives the structure to restore into.
    fresh = case.make()
    target = {"params": params, "opt_state": fresh.init(params)}
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    with ocp.StandardCheckpointer() as ckpt:
        restored = ckpt.restore(tmp_path / "ckpt", abstract)
    resumed, _ = run(
        fresh, case, restored["params"], objective, 3, state=restored["opt_state"]
    )
    for x, y in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight)):
        np.testing.assert_array_equal(x, y)

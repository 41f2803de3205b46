"""flood_gate: the update kept above the level, zeroed at or below it."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glyder_optax as go

G = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(0.5)}


def _run(gate, values, updates=G):
    state = gate.init(updates)
    outs = []
    for v in values:
        out, state = gate.update(updates, state, None, value=jnp.float32(v))
        outs.append(out)
    return outs, state


def test_the_update_passes_above_the_level_and_is_zero_at_or_below_it():
    outs, state = _run(go.flood_gate(0.1), [0.5, 0.1000001, 0.1, 0.02, 3.0])
    for out, kept in zip(outs, [True, True, False, False, True]):
        chex.assert_trees_all_equal(out, G if kept else optax.tree.zeros_like(G))
    assert state.flooded.dtype == jnp.int32 and int(state.flooded) == 2


def test_a_non_finite_loss_leaves_the_update_whole_and_is_not_counted():
    outs, state = _run(go.flood_gate(0.1), [float("nan"), float("inf"), -np.inf])
    chex.assert_trees_all_equal(outs[0], G)
    chex.assert_trees_all_equal(outs[1], G)
    # -inf is below any level: no step
    chex.assert_trees_all_equal(outs[2], optax.tree.zeros_like(G))
    assert int(state.flooded) == 1


def test_a_nan_update_below_the_level_becomes_zeros_not_nan():
    bad = {"w": jnp.array([jnp.nan, 1.0]), "b": jnp.array(jnp.inf)}
    outs, _ = _run(go.flood_gate(0.1), [0.0], updates=bad)
    chex.assert_trees_all_equal(outs[0], optax.tree.zeros_like(bad))


def test_after_an_optimizer_it_freezes_the_params_once_the_loss_is_at_the_level():
    opt = optax.chain(optax.sgd(0.25), go.flood_gate(0.1))
    f = lambda x: jnp.sum(x**2)
    params, losses = jnp.array([1.0, 0.5]), []
    state = opt.init(params)
    for _ in range(5):
        value, grad = jax.value_and_grad(f)(params)
        updates, state = opt.update(grad, state, params, value=value)
        params = optax.apply_updates(params, updates)
        losses.append(float(f(params)))
    # each step halves x (f / 4) until f = 0.078 <= 0.1
    np.testing.assert_allclose(losses, [0.3125] + [0.078125] * 4)
    assert int(state[1].flooded) == 3


def test_missing_value_names_the_argument_and_the_training_helpers():
    gate = go.flood_gate(0.1)
    with pytest.raises(ValueError, match=r"value.*make_nnx_train_step"):
        gate.update(G, gate.init(G), None)


def test_a_non_scalar_value_is_refused_with_the_fix():
    gate = go.flood_gate(0.1)
    with pytest.raises(ValueError, match=r"jnp\.mean"):
        gate.update(G, gate.init(G), None, value=jnp.ones(3))


def test_jitted_it_compiles_once_and_accepts_other_extra_args():
    gate = go.flood_gate(0.1)
    traces = []

    @jax.jit
    def step(state, value):
        traces.append(1)
        return gate.update(G, state, None, value=value, obj_fn=None)

    state = gate.init(G)
    for v in (0.5, 0.05, 0.2):
        _, state = step(state, jnp.float32(v))
    assert len(traces) == 1 and int(state.flooded) == 1


def test_inject_hyperparams_gives_the_same_updates():
    injected = optax.inject_hyperparams(go.flood_gate)(level=0.1)
    plain = go.flood_gate(0.1)
    a, sa = _run(injected, [0.5, 0.05])
    b, sb = _run(plain, [0.5, 0.05])
    chex.assert_trees_all_equal(a, b)
    assert int(sa.inner_state.flooded) == int(sb.flooded) == 1


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_updates_keep_their_dtype_and_the_state_its_structure(dtype):
    updates = optax.tree.cast(G, dtype)
    gate = go.flood_gate(0.1)
    state = gate.init(updates)
    for v in (0.5, 0.05):
        out, new = gate.update(updates, state, None, value=jnp.asarray(v, dtype))
        chex.assert_trees_all_equal_dtypes(out, updates)
        chex.assert_trees_all_equal_structs(new, state)
        state = new

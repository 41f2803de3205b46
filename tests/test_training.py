"""Train-step helpers: a plain optax loop, Linen TrainState and NNX, jitted."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn
from flax import nnx

import glyder_optax as go
from glyder_optax import training

# A small 3-class problem: 4 features, a tanh MLP learns it.
RNG = np.random.default_rng(0)
XS = RNG.normal(size=(256, 4)).astype(np.float32)
YS = (XS[:, 0] > 0).astype(np.int32) + (XS[:, 1] > 0.5).astype(np.int32)


def batch_at(t, size=32):
    i = (np.arange(size) + size * t) % len(XS)
    return jnp.asarray(XS[i]), jnp.asarray(YS[i])


def ce(logits, labels):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def test_split_batch_halves_every_leaf():
    batch = {"x": jnp.arange(10).reshape(5, 2), "y": jnp.arange(5)}
    a, b = training.split_batch(batch)
    np.testing.assert_array_equal(a["y"], [0, 1, 2])
    np.testing.assert_array_equal(b["y"], [3, 4])
    np.testing.assert_array_equal(b["x"], [[6, 7], [8, 9]])
    with pytest.raises(ValueError, match="leading"):
        training.split_batch((jnp.ones(3), jnp.ones(4)))


def test_independent_extras_evaluate_on_the_estimate_batch():
    loss_fn = lambda w, b: jnp.mean(b[0] @ w)
    logits_fn = lambda w, b: b[0] @ jnp.stack([w, -w], -1)
    batch = batch_at(1)
    extras = training.independent_extras(loss_fn, batch, logits_fn)
    w = jnp.ones(4)
    assert set(extras) == {"obj_fn", "logits_fn"}
    np.testing.assert_allclose(extras["obj_fn"](w), loss_fn(w, batch))
    np.testing.assert_allclose(extras["logits_fn"](w), logits_fn(w, batch))
    assert set(training.independent_extras(loss_fn, batch)) == {"obj_fn"}


def linear_loss(w, batch):
    return ce(batch[0] @ w, batch[1])


def linear_logits(w, batch):
    return batch[0] @ w


def test_plain_optax_step_equals_a_hand_written_one():
    opt = go.glyder(optax.scale_by_adam(), estimator="gauss_newton")
    step = jax.jit(training.make_train_step(opt, linear_loss, linear_logits))
    w = jnp.zeros((4, 3))
    state = opt.init(w)
    w_ref, state_ref = w, state
    for t in range(5):
        batch, nxt = batch_at(t), batch_at(t + 1)
        w, state, _ = step(w, state, batch, nxt)
        g = jax.grad(linear_loss)(w_ref, batch)
        updates, state_ref = opt.update(
            g,
            state_ref,
            w_ref,
            obj_fn=lambda p: linear_loss(p, nxt),
            logits_fn=lambda p: linear_logits(p, nxt),
        )
        w_ref = optax.apply_updates(w_ref, updates)
        np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-6)
    assert step._cache_size() == 1


def test_plain_optax_step_takes_glyders_static_refresh():
    # refresh=(t % 4 == 0) through the step's extra arguments, jitted as a
    # static argument: two programs, the lax.cond schedule's run.
    opt = go.glyder(optax.scale_by_adam(), refresh_every=4)
    make = lambda: training.make_train_step(opt, linear_loss)
    static = jax.jit(make(), static_argnames="refresh")
    default = jax.jit(make())
    w = w_ref = jnp.zeros((4, 3))
    state = state_ref = opt.init(w)
    for t in range(9):
        w, state, _ = static(w, state, batch_at(t), refresh=t % 4 == 0)
        w_ref, state_ref, _ = default(w_ref, state_ref, batch_at(t))
    np.testing.assert_allclose(w, w_ref, rtol=1e-5, atol=1e-6)
    assert int(go.glyder_state(state).refreshes) == 3
    assert static._cache_size() == 2


def test_plain_step_splits_the_batch_when_no_estimate_batch():
    opt = go.glyder(optax.identity(), smoothing=0.0)
    step = jax.jit(training.make_train_step(opt, linear_loss))
    w = jnp.asarray(RNG.normal(size=(4, 3)), jnp.float32)
    batch = batch_at(0)
    first, second = training.split_batch(batch)
    _, state, loss = step(w, opt.init(w), batch)
    np.testing.assert_allclose(loss, linear_loss(w, first), rtol=1e-6)
    g1 = jax.grad(linear_loss)(w, first)
    g2 = jax.grad(linear_loss)(w, second)
    np.testing.assert_allclose(
        go.glyder_state(state).numerator, jnp.vdot(g2, g1), rtol=1e-5
    )


def test_the_same_step_serves_a_value_based_method():
    # value is passed too: a Polyak-type method runs through the same helper.
    opt = go.decsps()
    step = jax.jit(training.make_train_step(opt, linear_loss))
    w = jnp.zeros((4, 3))
    state = opt.init(w)
    losses = []
    for t in range(20):
        w, state, loss = step(w, state, batch_at(t), batch_at(t + 1))
        losses.append(float(loss))
    assert losses[-1] < losses[0]


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(jnp.tanh(nn.Dense(16)(x)))


def test_linen_train_state_forwards_extra_args_and_trains():
    model = MLP()
    params = model.init(jax.random.key(0), XS[:1])
    opt = go.glyder(optax.trace(0.9))
    state = training.TrainState.create(apply_fn=model.apply, params=params, tx=opt)
    loss_fn = lambda p, b: ce(model.apply(p, b[0]), b[1])
    step = jax.jit(training.make_linen_train_step(loss_fn))
    first = None
    for t in range(60):
        state, loss = step(state, batch_at(t), batch_at(t + 1))
        first = float(loss) if first is None else first
        if t == 1:  # Flax's create() starts `step` as a Python int: 2 traces.
            cache_size = step._cache_size()
    full = (jnp.asarray(XS), jnp.asarray(YS))
    assert float(loss_fn(state.params, full)) < 0.6 * first
    s = go.glyder_state(state.opt_state)
    # glyder's default refresh: every 20 steps (0, 20, 40).
    assert (int(s.count), int(s.refreshes)) == (60, 3) and float(s.eta) > 0
    assert int(state.step) == 60
    assert step._cache_size() == cache_size


def test_linen_apply_gradients_still_replaces_fields():
    opt = go.glyder(optax.identity())
    state = training.TrainState.create(
        apply_fn=None, params=jnp.ones(2), tx=optax.sgd(0.1)
    )
    new = state.apply_gradients(grads=jnp.ones(2), step=jnp.asarray(7))
    # A field: replaced (Flax's class raises on `step`), not passed to update.
    assert int(new.step) == 7
    np.testing.assert_allclose(new.params, [0.9, 0.9])
    state = training.TrainState.create(apply_fn=None, params=jnp.ones(2), tx=opt)
    with pytest.raises(ValueError, match="obj_fn"):
        state.apply_gradients(grads=jnp.ones(2))


class NNXMLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(4, 16, rngs=rngs)
        self.out = nnx.Linear(16, 3, rngs=rngs)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden(x)))


@pytest.mark.parametrize("estimator", ["taylor", "gauss_newton"])
def test_nnx_optimizer_step_trains(estimator):
    model = NNXMLP(nnx.Rngs(0))
    opt = go.glyder(optax.scale_by_adam(), estimator=estimator)
    optimizer = nnx.Optimizer(model, opt, wrt=nnx.Param)
    loss_fn = lambda m, b: ce(m(b[0]), b[1])
    logits_fn = lambda m, b: m(b[0])
    step = nnx.jit(training.make_nnx_train_step(loss_fn, logits_fn))
    first = None
    for t in range(60):
        loss = step(model, optimizer, batch_at(t), batch_at(t + 1))
        first = float(loss) if first is None else first
    full = (jnp.asarray(XS), jnp.asarray(YS))
    assert float(loss_fn(model, full)) < 0.6 * first
    s = go.glyder_state(optimizer.opt_state)
    # glyder's default refresh: every 20 steps (0, 20, 40).
    assert (int(s.count), int(s.refreshes)) == (60, 3) and float(s.eta) > 0


def test_nnx_obj_fn_sees_the_params_it_is_given():
    # obj_fn rebuilds the model from the params passed to tx.update: the
    # numerator is <grad on the estimate batch, d>, checked against Linen-free
    # maths on the pure state.
    model = NNXMLP(nnx.Rngs(1))
    opt = go.glyder(optax.identity(), smoothing=0.0)
    optimizer = nnx.Optimizer(model, opt, wrt=nnx.Param)
    loss_fn = lambda m, b: ce(m(b[0]), b[1])
    batch, nxt = batch_at(0), batch_at(1)
    g1 = nnx.grad(loss_fn)(model, batch)
    g2 = nnx.grad(loss_fn)(model, nxt)
    want = optax.tree.vdot(nnx.as_pure(g1), nnx.as_pure(g2))
    training.make_nnx_train_step(loss_fn)(model, optimizer, batch, nxt)
    np.testing.assert_allclose(
        go.glyder_state(optimizer.opt_state).numerator, want, rtol=1e-4
    )


def test_steps_forward_other_extra_args_and_the_callers_win():
    # `indices` (SPS moving target) goes to update as it is; an extra argument
    # the helper also builds (`value`) is the caller's when given.
    opt = go.sps_moving_target(num_samples=len(XS))
    step = jax.jit(training.make_train_step(opt, linear_loss))
    w = jnp.zeros((4, 3))
    idx = jnp.arange(32)
    _, state, loss = step(w, opt.init(w), batch_at(0), batch_at(1), indices=idx)
    g = jax.grad(linear_loss)(w, batch_at(0))
    _, want = opt.update(g, opt.init(w), w, value=loss, indices=idx)
    np.testing.assert_allclose(state[0].targets, want[0].targets, rtol=1e-6)
    assert float(jnp.abs(state[0].targets[:32]).sum()) > 0
    assert float(jnp.abs(state[0].targets[32:]).sum()) == 0
    _, state, _ = step(
        w, opt.init(w), batch_at(0), batch_at(1), indices=idx, value=loss + 1.0
    )
    _, want = opt.update(g, opt.init(w), w, value=loss + 1.0, indices=idx)
    np.testing.assert_allclose(state[0].targets, want[0].targets, rtol=1e-6)


def test_linen_train_state_step_compiles_once():
    model = nn.Dense(2)
    x = jnp.ones((4, 3))
    params = model.init(jax.random.key(0), x)
    state = training.TrainState.create(
        apply_fn=model.apply, params=params, tx=go.decsps()
    )
    loss = lambda p: jnp.mean(model.apply(p, x) ** 2)

    @jax.jit
    def step(state):
        value, grads = jax.value_and_grad(loss)(state.params)
        return state.apply_gradients(grads=grads, value=value)

    state = step(step(state))
    assert step._cache_size() == 1
    assert int(state.step) == 2

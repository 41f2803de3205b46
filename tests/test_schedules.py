"""linear_decay_schedule and schedule_from_array against their formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glyder_optax as go

# --- linear_decay_schedule ----------------------------------------------------


@pytest.mark.parametrize("total_steps", [2, 7, 1000])
def test_linear_decay_equals_its_formula_and_ends_at_exactly_zero(total_steps):
    peak = 0.3
    schedule = go.linear_decay_schedule(peak, total_steps)
    counts = np.arange(total_steps + 5)
    got = np.asarray(jax.jit(jax.vmap(schedule))(jnp.asarray(counts)))
    t = np.minimum(counts, total_steps - 1)
    want = peak * (total_steps - 1 - t) / (total_steps - 1)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    assert got[0] == np.float32(peak)
    # Exactly 0 on the last step and after it (optax.linear_schedule is not).
    assert np.all(got[total_steps - 1 :] == 0.0)
    assert float(optax.linear_schedule(peak, 0.0, total_steps)(total_steps - 1)) > 0


@pytest.mark.parametrize("count_dtype", [jnp.int64, jnp.int32])  # int32: optax's
def test_linear_decay_in_float64_is_the_formula_to_rounding(count_dtype):
    with jax.enable_x64(True):
        schedule = go.linear_decay_schedule(1.0, 11)
        warm = go.linear_decay_schedule(1.0, 11, warmup_steps=3)
        counts = [jnp.asarray(t, count_dtype) for t in range(11)]
        assert schedule(counts[0]).dtype == warm(counts[0]).dtype == jnp.float64
        got = np.array([float(jax.jit(schedule)(t)) for t in counts])
        got_warm = np.array([float(warm(t)) for t in counts])
    np.testing.assert_allclose(got, (10 - np.arange(11)) / 10, rtol=1e-15)
    np.testing.assert_allclose(got_warm[:3], np.arange(3) / 3, rtol=1e-15)
    np.testing.assert_allclose(got_warm[3:], (10 - np.arange(3, 11)) / 7, rtol=1e-15)


def test_linear_decay_with_warmup_equals_its_formula():
    total, warmup, peak = 20, 5, 2.0
    schedule = go.linear_decay_schedule(peak, total, warmup_steps=warmup)
    got = np.asarray([float(schedule(t)) for t in range(total + 2)])
    t = np.arange(total + 2)
    decay = peak * np.clip(total - 1 - t, 0, None) / (total - 1 - warmup)
    want = np.where(t < warmup, peak * t / warmup, decay)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=0)
    assert got[0] == 0.0 and got[warmup] == peak and got[total - 1] == 0.0
    assert np.argmax(got) == warmup


def test_linear_decay_is_an_optax_learning_rate_under_jit_and_scan():
    total, peak = 12, 0.1
    opt = optax.sgd(go.linear_decay_schedule(peak, total))
    objective = lambda x: 0.5 * jnp.sum(x**2)

    def body(carry, _):
        x, state = carry
        updates, state = opt.update(jax.grad(objective)(x), state, x)
        return (optax.apply_updates(x, updates), state), None

    x0 = jnp.array([1.0, -2.0])
    (x, _), _ = jax.jit(lambda x, s: jax.lax.scan(body, (x, s), length=total))(
        x0, opt.init(x0)
    )
    # Gradient descent on 0.5 x^2 multiplies x by (1 - lr_t) at every step.
    lrs = peak * (total - 1 - np.arange(total)) / (total - 1)
    np.testing.assert_allclose(x, np.asarray(x0) * np.prod(1 - lrs), rtol=1e-5)


def test_linear_decay_accepts_a_traced_peak_and_does_not_recompile():
    fn = jax.jit(lambda peak, t: go.linear_decay_schedule(peak, 10)(t))
    assert float(fn(2.0, 1)) == pytest.approx(2.0 * 8 / 9)
    fn(3.0, 5)
    assert fn._cache_size() == 1
    injected = optax.inject_hyperparams(optax.sgd)(
        learning_rate=go.linear_decay_schedule(0.5, 4)
    )
    state = injected.init(jnp.zeros(2))
    lrs = []
    for _ in range(4):
        _, state = injected.update(jnp.ones(2), state)
        lrs.append(float(state.hyperparams["learning_rate"]))
    np.testing.assert_allclose(lrs, [0.5, 0.5 * 2 / 3, 0.5 / 3, 0.0], rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"total_steps": 0}, ValueError, "at least 2"),
        ({"total_steps": -3}, ValueError, "at least 2"),
        ({"total_steps": 1}, ValueError, "at least 2"),
        ({"total_steps": 10.0}, TypeError, "Python int"),
        ({"total_steps": 10, "warmup_steps": -1}, ValueError, "warmup_steps"),
        ({"total_steps": 10, "warmup_steps": 9}, ValueError, "total_steps - 2 = 8"),
        ({"total_steps": 10, "warmup_steps": 2.5}, TypeError, "warmup_steps"),
    ],
)
def test_linear_decay_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        go.linear_decay_schedule(1.0, **kwargs)


# --- schedule_from_array ------------------------------------------------------


def test_schedule_equals_the_array_at_every_step():
    values = np.random.default_rng(0).uniform(size=50).astype(np.float32)
    values[-1] = 0.0
    schedule = go.schedule_from_array(values, peak_value=2.0)
    got = jax.jit(jax.vmap(schedule))(jnp.arange(50))
    np.testing.assert_array_equal(got, 2.0 * values)
    # Past the end: the last value (0 for a refined schedule).
    assert float(schedule(50)) == 0.0 and float(schedule(10**6)) == 0.0


@pytest.mark.parametrize("total_steps", [2, 17, 99, 400])
def test_schedule_resamples_by_linear_interpolation(total_steps):
    values = np.random.default_rng(1).uniform(size=50)
    values[-1] = 0.0
    schedule = go.schedule_from_array(values, total_steps=total_steps)
    got = np.asarray(jax.vmap(schedule)(jnp.arange(total_steps)))
    want = np.interp(np.linspace(0, 49, total_steps), np.arange(50), values)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got[0] == np.float32(values[0]) and got[-1] == 0.0


def test_schedule_upsampled_by_an_integer_factor_hits_every_original_value():
    values = np.array([0.25, 1.0, 0.5, 0.0], np.float32)
    schedule = go.schedule_from_array(values, total_steps=7)
    got = np.asarray([float(schedule(t)) for t in range(7)])
    np.testing.assert_array_equal(got[::2], values)
    np.testing.assert_allclose(got[1::2], (values[:-1] + values[1:]) / 2, rtol=1e-7)


def test_resampled_linear_decay_is_linear_decay():
    schedule = go.schedule_from_array(
        np.asarray(jax.vmap(go.linear_decay_schedule(1.0, 10))(jnp.arange(10))),
        total_steps=1000,
        peak_value=0.1,
    )
    reference = go.linear_decay_schedule(0.1, 1000)
    counts = jnp.arange(1000)
    np.testing.assert_allclose(
        jax.vmap(schedule)(counts), jax.vmap(reference)(counts), atol=1e-7
    )


def test_schedule_from_array_is_an_optax_learning_rate():
    values = np.array([0.5, 1.0, 0.25, 0.0])
    opt = optax.sgd(go.schedule_from_array(values, peak_value=0.1))
    x = jnp.ones(2)
    state = opt.init(x)
    update = jax.jit(opt.update)
    for v in values:
        updates, state = update(jnp.ones(2), state)
        np.testing.assert_allclose(updates, -0.1 * v * np.ones(2), rtol=1e-6)
    assert update._cache_size() == 1


@pytest.mark.parametrize(
    ("values", "kwargs", "error", "match"),
    [
        (np.ones((3, 2)), {}, ValueError, "1-D"),
        (np.ones(1), {}, ValueError, "at least 2"),
        (np.array([1.0, np.nan, 0.0]), {}, ValueError, "finite"),
        (np.ones(4), {"total_steps": 1}, ValueError, "at least 2"),
    ],
)
def test_schedule_from_array_rejects_bad_arguments(values, kwargs, error, match):
    with pytest.raises(error, match=match):
        go.schedule_from_array(values, **kwargs)


def test_schedule_from_array_builds_under_jit_with_a_traced_peak():
    values = np.linspace(1.0, 0.0, 5)

    @jax.jit
    def lr_at(peak, count):
        return go.schedule_from_array(values, peak_value=peak)(count)

    np.testing.assert_allclose(lr_at(0.5, 2), 0.25)
    np.testing.assert_allclose(lr_at(2.0, 1), 1.5)

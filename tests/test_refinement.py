"""The gradient-norm recorder, the smoothing and refine_schedule.

References are written here in NumPy: the closed form by explicit loops, the
median filter by an explicit window median.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glyder_optax as go

# --- NumPy references ---------------------------------------------------------


def closed_form_reference(norms, kind):
    """eta_t = w_t sum_{p>t} w_p, normalised to max 1, by explicit loops."""
    norms = np.asarray(norms, np.float64)
    w = norms**-2.0 if kind == "sgd" else 1.0 / norms
    eta = np.array([w[t] * sum(w[t + 1 :]) for t in range(len(w))])
    return eta / eta.max()


def smoothing_reference(x, width):
    """The authors' smoothing by hand: reflect-pad the end over 2*width, window
    medians with edge values repeated (nearest), strip the pad."""
    x = np.asarray(x, np.float64)
    n, half = x.size, width // 2
    padded = np.concatenate([x, x[-2 : -2 - 2 * width : -1]])  # reflection
    edged = np.concatenate(
        [np.full(half, padded[0]), padded, np.full(half, padded[-1])]
    )
    return np.array([np.median(edged[i : i + width]) for i in range(n)])


# --- refine_schedule ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("scale", [1e-20, 3.0, 1e20])
@pytest.mark.parametrize("tau", [0.0, 0.1, 0.5])
def test_constant_norms_give_exact_linear_decay(kind, scale, tau):
    total = 301
    eta = go.refine_schedule(np.full(total, scale), kind=kind, tau=tau)
    want = (total - 1 - np.arange(total)) / (total - 1)
    np.testing.assert_allclose(eta, want, rtol=1e-14, atol=0)
    assert eta[-1] == 0.0 and eta[0] == 1.0
    schedule = go.linear_decay_schedule(1.0, total)
    np.testing.assert_allclose(eta, jax.vmap(schedule)(jnp.arange(total)), rtol=1e-6)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_closed_form_matches_the_loop_reference(kind):
    norms = np.random.default_rng(0).lognormal(size=40)
    eta = go.refine_schedule(norms, kind=kind, tau=0.0)
    np.testing.assert_allclose(eta, closed_form_reference(norms, kind), rtol=1e-12)
    assert eta.shape == (40,) and eta.dtype == np.float64
    assert eta.max() == 1.0 and eta[-1] == 0.0 and np.all(eta >= 0)


@pytest.mark.parametrize("tau", [0.05, 0.1, 0.3])
def test_smoothing_is_the_reflect_padded_nearest_median_filter(tau):
    norms = np.random.default_rng(1).lognormal(size=200)
    width = round(tau * 200)
    width += 1 - width % 2
    smoothed = go.smooth_norms(norms, tau)
    np.testing.assert_array_equal(smoothed, smoothing_reference(norms, width))
    eta = go.refine_schedule(norms, tau=tau)
    np.testing.assert_allclose(eta, closed_form_reference(smoothed, "sgd"), rtol=1e-12)


def test_smoothing_drops_non_finite_and_non_positive_norms():
    norms = [1.0, np.nan, 2.0, np.inf, 3.0, 0.0, -1.0, 4.0]
    np.testing.assert_array_equal(go.smooth_norms(norms, tau=0.0), [1, 2, 3, 4])
    np.testing.assert_allclose(
        go.refine_schedule(norms, tau=0.0), closed_form_reference([1, 2, 3, 4], "sgd")
    )


def test_median_filter_removes_isolated_spikes():
    norms = np.full(500, 2.0)
    norms[[3, 100, 250, 498]] = [50.0, 1e-3, 80.0, 1e-4]
    want = (499 - np.arange(500)) / 499
    np.testing.assert_allclose(go.refine_schedule(norms), want, rtol=1e-14)
    # Without the filter the spikes show.
    assert np.max(np.abs(go.refine_schedule(norms, tau=0.0) - want)) > 0.1


def _profiles(total):
    t = np.arange(total) / total
    return {
        "flat": np.ones(total),
        "high_early": 1 + 9 * np.exp(-t * 10),
        "rising_late": 1 + 4 * np.clip((t - 0.7) / 0.3, 0, None) ** 2,
        "falling_late": 1 - 0.5 * np.clip((t - 0.6) / 0.4, 0, None),
    }


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_synthetic_profiles_give_warmup_and_faster_or_slower_annealing(kind):
    total = 1000
    eta = {
        name: go.refine_schedule(norms, kind=kind)
        for name, norms in _profiles(total).items()
    }
    half, late = total // 2, 9 * total // 10
    # Flat: linear decay, peak at step 0, 1/2 at mid-run.
    assert np.argmax(eta["flat"]) == 0
    assert eta["flat"][half] == pytest.approx((total - 1 - half) / (total - 1))
    # High early norms: a warm-up (small first steps, the peak well inside).
    assert eta["high_early"][0] < 0.2
    assert np.argmax(eta["high_early"]) > 0.1 * total
    # Rising late: peak at 0, faster than linear annealing.
    assert np.argmax(eta["rising_late"]) == 0
    assert eta["rising_late"][half] < eta["flat"][half] - 0.05
    assert eta["rising_late"][late] < eta["flat"][late] / 4
    # Falling late: flat then a drop, slower than linear annealing.
    assert eta["falling_late"][half] > eta["flat"][half] + 0.05
    assert eta["falling_late"][late] > 2 * eta["flat"][late]
    for e in eta.values():
        assert e.max() == 1.0 and e[-1] == 0.0


@pytest.mark.parametrize("new_total", [2, 250, 1000, 4000])
def test_refine_resamples_the_smoothed_norms(new_total):
    norms = _profiles(1000)["high_early"]
    eta = go.refine_schedule(norms, total_steps=new_total)
    smoothed = go.smooth_norms(norms)
    resampled = np.interp(np.linspace(0, 999, new_total), np.arange(1000), smoothed)
    np.testing.assert_allclose(eta, closed_form_reference(resampled, "sgd"), rtol=1e-9)
    assert eta.shape == (new_total,) and eta[-1] == 0.0 and eta.max() == 1.0
    if new_total >= 250:  # the warm-up keeps its place as a fraction of the run
        base = go.refine_schedule(norms)
        assert np.argmax(eta) / new_total == pytest.approx(
            np.argmax(base) / 1000, abs=0.01
        )


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((np.ones(5),), {"kind": "adagrad"}, "kind"),
        ((np.ones((5, 2)),), {}, "1-D"),
        (([np.nan, 1.0, np.inf],), {}, "fewer than 2"),
        ((np.ones(5),), {"total_steps": 1}, "total_steps"),
        ((np.ones(5),), {"tau": -0.1}, "tau"),
    ],
)
def test_refine_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        go.refine_schedule(*args, **kwargs)


# --- the recorder -------------------------------------------------------------


def _least_squares(seed=0, n=64, d=5):
    rng = np.random.default_rng(seed)
    a = jnp.asarray(rng.normal(size=(n, d)), jnp.float32)
    b = jnp.asarray(rng.normal(size=n), jnp.float32)
    params = {"w": jnp.zeros(d), "b": jnp.zeros(())}
    loss = lambda p, idx: 0.5 * jnp.mean((a[idx] @ p["w"] + p["b"] - b[idx]) ** 2)
    return params, loss


@pytest.mark.parametrize("ord", [1, 2])
def test_recorder_in_a_jitted_scan_gives_the_norms_computed_outside(ord):
    steps, batch = 30, 8
    params, loss = _least_squares()
    opt = optax.chain(go.record_grad_norms(steps, ord=ord), optax.sgd(0.1))
    batches = jax.random.randint(jax.random.key(0), (steps, batch), 0, 64)

    def body(carry, idx):
        p, state = carry
        grads = jax.grad(loss)(p, idx)
        updates, state = opt.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), grads

    (_, state), grads = jax.jit(lambda p, s: jax.lax.scan(body, (p, s), batches))(
        params, opt.init(params)
    )
    flat = np.concatenate(
        [np.asarray(g, np.float64).reshape(steps, -1) for g in jax.tree.leaves(grads)],
        axis=1,
    )
    want = np.linalg.norm(flat, ord=ord, axis=1)
    got = go.recorded_grad_norms(state)
    assert got.shape == (steps,) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)

    # The same norms, step by step in Python, outside any jit.
    p, s = params, opt.init(params)
    for k in range(steps):
        g = jax.grad(loss)(p, batches[k])
        u, s = opt.update(g, s, p)
        p = optax.apply_updates(p, u)
        assert float(optax.tree.norm(g, ord=ord)) == pytest.approx(got[k], rel=1e-6)


def test_recorder_is_the_identity_on_updates_and_prefers_the_grad_extra_arg():
    rec = go.record_grad_norms(4)
    updates = {"a": jnp.array([3.0, 4.0], jnp.bfloat16), "b": jnp.ones((2, 2))}
    state = rec.init(updates)
    out, state = rec.update(updates, state)
    assert jax.tree.map(lambda x, y: x is y, out, updates) == {"a": True, "b": True}
    raw = jax.tree.map(lambda x: 2 * x, updates)
    out, state = rec.update(updates, state, grad=raw)  # deep in a chain
    np.testing.assert_allclose(
        go.recorded_grad_norms(state), [np.sqrt(29), 2 * np.sqrt(29)]
    )
    assert state.norms.dtype == jnp.float32


def test_recorder_after_a_scaling_records_the_raw_grad_only_when_passed():
    opt = optax.chain(optax.scale(10.0), go.record_grad_norms(2))
    g = jnp.array([0.6, 0.8])
    state = opt.init(g)
    _, state = opt.update(g, state)
    _, state = opt.update(g, state, grad=g)
    np.testing.assert_allclose(go.recorded_grad_norms(state), [10.0, 1.0], rtol=1e-6)


def test_steps_past_the_buffer_are_not_recorded_and_the_accessor_warns():
    rec = go.record_grad_norms(3)
    state = rec.init(jnp.zeros(1))
    update = jax.jit(rec.update)
    for k in range(1, 6):
        _, state = update(jnp.array([float(k)]), state)
    assert int(state.count) == 5
    np.testing.assert_array_equal(state.norms, [1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="last 2 norms were not recorded"):
        np.testing.assert_array_equal(go.recorded_grad_norms(state), [1, 2, 3])
    assert update._cache_size() == 1


def test_partial_buffer_returns_only_the_recorded_steps():
    rec = go.record_grad_norms(10)
    state = rec.init(jnp.zeros(2))
    assert go.recorded_grad_norms(state).shape == (0,)
    _, state = rec.update(jnp.array([1.0, 0.0]), state)
    np.testing.assert_array_equal(go.recorded_grad_norms(state), [1.0])


def test_non_finite_gradient_is_recorded_as_inf_and_recording_goes_on():
    rec = go.record_grad_norms(4)
    state = rec.init(jnp.zeros(2))
    _, state = rec.update(jnp.array([np.nan, 1.0]), state)
    _, state = rec.update(jnp.array([np.inf, 1.0]), state)
    _, state = rec.update(jnp.array([0.0, 2.0]), state)
    _, state = rec.update(jnp.array([0.0, 3.0]), state)
    norms = go.recorded_grad_norms(state)
    np.testing.assert_array_equal(norms, [np.inf, np.inf, 2.0, 3.0])
    # refine_schedule drops them.
    assert go.smooth_norms(norms, tau=0).tolist() == [2.0, 3.0]


def test_recorder_inside_multisteps_records_the_accumulated_gradient():
    k = 3
    opt = optax.MultiSteps(
        optax.chain(go.record_grad_norms(4), optax.sgd(0.1)), every_k_schedule=k
    )
    grads = np.random.default_rng(2).normal(size=(2 * k, 3)).astype(np.float32)
    params = jnp.zeros(3)
    state = opt.init(params)
    update = jax.jit(opt.update)
    for g in grads:
        _, state = update(jnp.asarray(g), state, params)
    mean_grads = grads.reshape(2, k, 3).mean(axis=1)
    np.testing.assert_allclose(
        go.recorded_grad_norms(state), np.linalg.norm(mean_grads, axis=1), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("dtype", "want"),
    [("bfloat16", "float32"), ("float32", "float32"), ("float64", "float64")],
)
def test_buffer_dtype_is_float32_or_wider(dtype, want):
    with jax.enable_x64(dtype == "float64"):
        rec = go.record_grad_norms(2)
        params = jnp.ones(3, dtype)
        state = rec.init(params)
        _, state = jax.jit(rec.update)(params, state)
        assert state.norms.dtype == jnp.dtype(want)
        assert state.count.dtype == jnp.int32


def test_recorder_under_vmap_and_inject_hyperparams():
    rec = go.record_grad_norms(2)
    grads = jnp.array([[3.0, 4.0], [6.0, 8.0]])
    states = jax.vmap(rec.init)(grads)
    _, states = jax.vmap(rec.update)(grads, states)
    np.testing.assert_allclose(go.recorded_grad_norms(states), [[5.0], [10.0]])

    injected = optax.inject_hyperparams(
        lambda learning_rate: optax.chain(
            go.record_grad_norms(2), optax.sgd(learning_rate)
        )
    )(learning_rate=0.1)
    state = injected.init(grads[0])
    _, state = injected.update(grads[0], state)
    np.testing.assert_allclose(go.recorded_grad_norms(state), [5.0])


def test_accessor_needs_exactly_one_recorder():
    with pytest.raises(ValueError, match="found 0"):
        go.recorded_grad_norms(optax.sgd(0.1).init(jnp.zeros(2)))
    two = optax.chain(go.record_grad_norms(2), go.record_grad_norms(2))
    with pytest.raises(ValueError, match="found 2"):
        go.recorded_grad_norms(two.init(jnp.zeros(2)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"num_steps": 0}, "positive integer"), ({"num_steps": 5, "ord": 3}, "ord")],
)
def test_recorder_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        go.record_grad_norms(**kwargs)


# --- the workflow -------------------------------------------------------------


def test_workflow_record_refine_rerun_uses_the_refined_schedule():
    steps, peak = 40, 0.2
    params, loss = _least_squares(seed=3)
    batches = jax.random.randint(jax.random.key(1), (steps, 4), 0, 64)

    def run(opt):
        def body(carry, idx):
            p, state = carry
            updates, state = opt.update(jax.grad(loss)(p, idx), state, p)
            return (optax.apply_updates(p, updates), state), None

        (p, state), _ = jax.jit(lambda p, s: jax.lax.scan(body, (p, s), batches))(
            params, opt.init(params)
        )
        return p, state

    # Run 1: linear decay, recording.
    _, state = run(
        optax.chain(
            go.record_grad_norms(steps),
            optax.sgd(go.linear_decay_schedule(peak, steps)),
        )
    )
    norms = go.recorded_grad_norms(state)
    assert norms.shape == (steps,) and np.all(norms > 0)
    refined = go.refine_schedule(norms)
    assert refined.shape == (steps,) and refined[-1] == 0.0

    # Run 2: SGD with the refined schedule, against a NumPy replay.
    got, _ = run(optax.sgd(go.schedule_from_array(refined, peak_value=peak)))
    p = jax.tree.map(lambda x: np.asarray(x, np.float64), params)
    for k in range(steps):
        g = jax.grad(loss)(jax.tree.map(jnp.asarray, p), batches[k])
        lr = peak * np.float32(refined[k])
        p = jax.tree.map(lambda x, gx: x - lr * np.asarray(gx, np.float64), p, g)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(p)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("static_args", [("num_steps",), ()])
def test_recorder_under_inject_hyperparams_needs_static_args(static_args):
    injected = optax.inject_hyperparams(go.record_grad_norms, static_args=static_args)
    with pytest.raises(ValueError, match=r"structural.*static_args=\('num_steps'"):
        injected(num_steps=3, ord=1).init(jnp.ones(2))


def test_recorder_under_inject_hyperparams_with_static_args_runs_under_jit():
    injected = optax.inject_hyperparams(
        go.record_grad_norms, static_args=("num_steps", "ord")
    )(num_steps=3, ord=1)
    state = injected.init(jnp.ones(2))
    _, state = jax.jit(injected.update)(jnp.array([1.0, -2.0]), state)
    np.testing.assert_allclose(go.recorded_grad_norms(state), [3.0])

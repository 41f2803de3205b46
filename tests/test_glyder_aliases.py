"""The per-base aliases (``_glyder_aliases.py``): each is exactly the
recommendation it names, built from ``glyder``; the decay over Adam comes
after the trust region; bad budgets are refused; NNX trains with them.

The conformance suite (``tests/conformance_registry.py``) runs the aliases
through every optax check as well.
"""

from __future__ import annotations

import functools
import inspect

import chex
import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glyder_optax as go
from glyder_optax import training
from glyder_optax._glyder_aliases import scale_from_zeros
from glyder_optax._glyder_parts import bound_step_by_params

X = jax.random.normal(jax.random.key(0), (32, 4))
Y = X @ jnp.arange(1.0, 5.0) + 3.0


def loss(params, i):
    return jnp.mean((X[i] @ params["w"] + params["b"] - Y[i]) ** 2)


def logits(params, i):
    """Two-class logits of the regression (for the Gauss-Newton estimator)."""
    z = X[i] @ params["w"] + params["b"]
    return jnp.stack([z, -z], axis=-1)


def run(opt, steps=12, params=None, nan_at=None):
    """The updates of ``steps`` steps and the final state, the gradient and
    ``obj_fn`` (and ``logits_fn``) on the two halves of the data in turn; the
    gradient NaN at step ``nan_at``."""
    params = {"w": jnp.ones(4), "b": jnp.zeros(())} if params is None else params

    @jax.jit
    def step(p, s, t):
        i = jnp.arange(16) + 16 * (t % 2)
        j = jnp.arange(16) + 16 * ((t + 1) % 2)
        g = jax.grad(loss)(p, i)
        g = jax.tree.map(lambda x: jnp.where(t == nan_at, jnp.nan, x), g)
        extras = {"obj_fn": lambda q: loss(q, j), "logits_fn": lambda q: logits(q, j)}
        u, s = opt.update(g, s, p, value=loss(p, i), **extras)
        return optax.apply_updates(p, u), s, u

    state, updates = opt.init(params), []
    for t in range(steps):
        params, state, u = step(params, state, t)
        updates.append(u)
    return updates, state


def _adam_decayed_after(total_steps, **kwargs):
    decay = go.linear_decay_schedule(1.0, total_steps)
    return optax.chain(
        go.glyder(optax.scale_by_adam(), **kwargs), optax.scale_by_schedule(decay)
    )


def _adam_zigzag(
    total_steps=None, window=32, max_step_ratio=0.01, adam=None, large_share=0.2,
    lift=True, zeros=None, at_once=True, **kwargs,
):  # fmt: skip
    """glyder over Adam (with ``zeros``, its step times it from zeros), then
    one reader of its unbounded steps: its bound (with ``large_share``,
    halved after the window where the first steps are ``large_share`` of the
    norm, less than half of it, and agree; with ``lift``, none from zeros,
    from the second step with ``at_once``, else after the window) and the
    step and bound times 4 where they zig-zag (threshold 0.94), then the
    decay."""
    adam = optax.scale_by_adam() if adam is None else adam
    bounded = max_step_ratio is not None
    reader = go.scale_by_zigzag_multiple(
        window, 0.94, 4.0, large_share=large_share, share_steps=min(8, window),
        max_step_ratio=max_step_ratio,
        growth_share=None if large_share is None else 0.5, grow=1.0,
        scale_step=bounded, from_zeros=jnp.inf if lift and bounded else None,
        from_zeros_at_once=at_once and lift and bounded,
    )  # fmt: skip
    from_zeros = [] if zeros is None else [scale_from_zeros(zeros)]
    parts = [go.glyder(adam, max_step_ratio=None, **kwargs), *from_zeros, reader]
    if total_steps is not None:
        decay = go.linear_decay_schedule(1.0, total_steps)
        parts.append(optax.scale_by_schedule(decay))
    return optax.chain(*parts)


def _zigzag(
    base=None,
    window=32,
    max_step_ratio=0.03,
    learning_rate=2.0,
    large_share=0.25,
    threshold=0.0,
    zeros=None,
    **kwargs,
):
    """glyder over ``base`` (SGD's identity by default), the zig-zag multiple
    (its shorter step read over the first 8 steps) between its learning rate
    and its trust region; with ``zeros``, the step times it from zeros first."""
    base = optax.identity() if base is None else base
    glyder = go.glyder(base, learning_rate=learning_rate, max_step_ratio=None, **kwargs)
    from_zeros = [] if zeros is None else [scale_from_zeros(zeros)]
    zigzag = go.scale_by_zigzag_multiple(
        window, threshold, large_share=large_share, share_steps=min(8, window)
    )
    return optax.chain(
        glyder, *from_zeros, zigzag, bound_step_by_params(max_step_ratio)
    )


_sgd_zigzag = functools.partial(_zigzag, None)


def _momentum_zigzag(trace=None, window=32, large_share=0.15, **kwargs):
    """glyder over the trace with its decay and the multiple 800 / T (1
    without a budget; squared from zeros), the zig-zag multiple (threshold
    0.8) before the 1% bound."""
    trace = optax.trace(0.9) if trace is None else trace
    budget = kwargs.get("total_steps")
    multiple = 1.0 if budget is None else 800 / budget
    zeros = min(multiple, max(1.0, 4 / multiple))  # the square, capped at 4
    zeros = None if budget is None or multiple <= 1 else zeros
    kwargs = {
        "max_step_ratio": 0.01,
        "learning_rate": multiple,
        "zeros": zeros,
        **kwargs,
    }
    return _zigzag(trace, window, large_share=large_share, threshold=0.8, **kwargs)


EQUAL = {
    "sgd": (lambda: go.glyder_sgd(), _sgd_zigzag),
    "sgd-args": (
        lambda: go.glyder_sgd(
            learning_rate=1.0, zigzag_window=4, refresh_every=3, seed=2
        ),
        lambda: _sgd_zigzag(4, learning_rate=1.0, refresh_every=3, seed=2),
    ),
    "sgd-no-shorter-step": (
        lambda: go.glyder_sgd(zigzag_window=4, large_share=None),
        lambda: _sgd_zigzag(4, large_share=None),
    ),
    "sgd-no-zigzag": (
        lambda: go.glyder_sgd(zigzag_window=None),
        lambda: go.glyder(optax.identity(), learning_rate=2.0, max_step_ratio=0.03),
    ),
    "sgd-no-bound": (
        lambda: go.glyder_sgd(max_step_ratio=None, zigzag_window=4),
        lambda: optax.chain(
            go.glyder(optax.identity(), learning_rate=2.0, max_step_ratio=None),
            go.scale_by_zigzag_multiple(4, large_share=0.25, share_steps=4),
        ),
    ),
    "momentum": (
        lambda: go.glyder_momentum(300),
        lambda: _momentum_zigzag(total_steps=300),
    ),
    "momentum-args": (
        lambda: go.glyder_momentum(
            300, momentum=0.5, nesterov=True, zigzag_window=4, refresh_every=2
        ),
        lambda: _momentum_zigzag(
            optax.trace(0.5, nesterov=True), 4, total_steps=300, refresh_every=2
        ),
    ),
    "momentum-no-shorter-step": (
        lambda: go.glyder_momentum(300, zigzag_window=4, large_share=None),
        lambda: _momentum_zigzag(window=4, large_share=None, total_steps=300),
    ),
    "momentum-no-zigzag": (
        lambda: go.glyder_momentum(300, zigzag_window=None),
        lambda: optax.chain(  # the multiple, 4 in all from zeros, then the bound
            go.glyder(
                optax.trace(0.9), learning_rate=800 / 300, total_steps=300,
                max_step_ratio=None,
            ),
            scale_from_zeros(4 / (800 / 300)),
            bound_step_by_params(0.01),
        ),
    ),
    "momentum-no-budget": (
        lambda: go.glyder_momentum(),
        lambda: _momentum_zigzag(),
    ),
    "adam": (lambda: go.glyder_adam(10), lambda: _adam_zigzag(10)),
    "adam-args": (
        lambda: go.glyder_adam(
            10, b1=0.8, eps=1e-6, max_step_ratio=None, zigzag_window=4,
            refresh_every=3, skip_non_finite=False,
        ),
        lambda: _adam_zigzag(
            10, 4, None, optax.scale_by_adam(b1=0.8, eps=1e-6), refresh_every=3,
            skip_non_finite=False,
        ),
    ),
    "adam-no-budget": (lambda: go.glyder_adam(), lambda: _adam_zigzag()),
    "adam-no-zigzag": (
        lambda: go.glyder_adam(
            10, zigzag_window=None, large_share=None, from_zeros=None
        ),
        lambda: _adam_decayed_after(10),
    ),
    "adam-no-zigzag-no-budget": (
        lambda: go.glyder_adam(
            zigzag_window=None, large_share=None, from_zeros=None
        ),
        lambda: go.glyder(optax.scale_by_adam()),
    ),
    "adam-not-halved": (
        lambda: go.glyder_adam(10, large_share=None),
        lambda: _adam_zigzag(10, large_share=None),
    ),
    "adam-halved-from-a-third": (
        lambda: go.glyder_adam(10, large_share=0.3),
        lambda: _adam_zigzag(10, large_share=0.3),
    ),
    "adam-halved-args": (
        lambda: go.glyder_adam(
            10, b1=0.8, max_step_ratio=0.02, zigzag_window=4, large_share=0.2,
            refresh_every=3,
        ),
        lambda: _adam_zigzag(
            10, 4, 0.02, optax.scale_by_adam(0.8), 0.2, refresh_every=3
        ),
    ),
    "adam-halved-no-bound": (
        lambda: go.glyder_adam(
            10, max_step_ratio=None, zigzag_window=4, large_share=0.2
        ),
        lambda: _adam_zigzag(10, 4, None, large_share=0.2),
    ),
    "adam-not-lifted": (
        lambda: go.glyder_adam(10, from_zeros=None),
        lambda: _adam_zigzag(10, lift=False),
    ),
    "adam-not-halved-no-budget": (
        lambda: go.glyder_adam(large_share=None),
        lambda: _adam_zigzag(large_share=None),
    ),
}  # fmt: skip


def assert_same_run(got, want):
    (got_updates, got_state), (want_updates, want_state) = got, want
    assert jax.tree.structure(got_state) == jax.tree.structure(want_state)
    for a, b in zip(
        jax.tree.leaves((got_updates, got_state)),
        jax.tree.leaves((want_updates, want_state)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", EQUAL)
def test_each_alias_is_the_recommendation_it_names(case):
    alias, written = EQUAL[case]
    assert_same_run(run(alias()), run(written()))


# Every argument away from its default (a NaN gradient at step 4, so that
# skip_non_finite and shared_count show; f_min close to the loss, so that
# its floor binds; the Gauss-Newton estimator): the alias passes each on.
SHARED = {
    "learning_rate": 0.7,
    "max_step_ratio": 0.05,
    "refresh_every": 3,
    "estimator": "gnb",
    "f_min": 5.0,
    "seed": 3,
    "skip_non_finite": False,
    "shared_count": True,
}
EVERY_ARGUMENT = {
    "sgd": (
        lambda: go.glyder_sgd(zigzag_window=5, large_share=0.3, **SHARED),
        lambda: _sgd_zigzag(5, large_share=0.3, **SHARED),
    ),
    "momentum": (
        lambda: go.glyder_momentum(
            9, momentum=0.5, nesterov=True, zigzag_window=5, large_share=0.3,
            budget_multiple=False, **SHARED,
        ),
        lambda: _momentum_zigzag(
            optax.trace(0.5, nesterov=True), 5, 0.3, total_steps=9, zeros=None,
            **SHARED,
        ),
    ),
    "adam": (
        lambda: go.glyder_adam(
            9, b1=0.8, b2=0.99, eps=1e-6, zigzag_window=5, large_share=0.3,
            **SHARED,
        ),
        lambda: _adam_zigzag(
            9, 5, adam=optax.scale_by_adam(0.8, 0.99, 1e-6), large_share=0.3,
            **SHARED,
        ),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", EVERY_ARGUMENT)
def test_each_alias_passes_every_argument_on(case):
    alias, written = EVERY_ARGUMENT[case]
    assert_same_run(run(alias(), nan_at=4), run(written(), nan_at=4))
    # The arguments matter here: the defaults make another run.
    default = {"sgd": go.glyder_sgd, "momentum": go.glyder_momentum}
    other = default.get(case, go.glyder_adam)()
    with pytest.raises(AssertionError):
        assert_same_run(run(other, nan_at=4), run(written(), nan_at=4))


# Levels that the minibatch losses (23 to 26 over Adam, falling to 21.2 over
# momentum and to 17 over SGD in these 12 steps) cross, so that the gate acts.
FLOODED = {
    "sgd": (
        lambda: go.glyder_sgd(flood_level=21.0),
        lambda: optax.chain(go.glyder_sgd(), go.flood_gate(21.0)),
    ),
    "momentum": (
        lambda: go.glyder_momentum(10, flood_level=22.0),
        lambda: optax.chain(go.glyder_momentum(10), go.flood_gate(22.0)),
    ),
    "adam": (
        lambda: go.glyder_adam(10, flood_level=23.0),
        lambda: optax.chain(_adam_zigzag(10), go.flood_gate(23.0)),
    ),
    "adam-no-budget": (
        lambda: go.glyder_adam(flood_level=23.0),
        lambda: optax.chain(_adam_zigzag(), go.flood_gate(23.0)),
    ),
}


@pytest.mark.parametrize("case", FLOODED)
def test_a_flood_level_chains_the_gate_after_the_recommendation(case):
    alias, written = FLOODED[case]
    got = run(alias())
    assert_same_run(got, run(written()))
    flooded = int(got[1][-1].flooded)
    assert 0 < flooded < 12
    zero = [not any(np.any(x) for x in jax.tree.leaves(u)) for u in got[0]]
    assert sum(zero) >= flooded  # and the last steps of a budget


def test_without_value_a_flood_level_names_the_missing_argument():
    opt = go.glyder_sgd(flood_level=0.01)
    params = {"w": jnp.ones(4), "b": jnp.zeros(())}
    i = jnp.arange(16)
    g = jax.grad(loss)(params, i)
    with pytest.raises(ValueError, match="flood_gate needs the extra argument `value`"):
        opt.update(g, opt.init(params), params, obj_fn=lambda q: loss(q, i))


@pytest.mark.parametrize(
    "factory",
    [
        go.glyder_sgd,
        go.glyder_momentum,
        go.glyder_adam,
        functools.partial(go.glyder, optax.identity()),
    ],
)
def test_an_injected_budget_is_refused_with_the_fix(factory):
    opt = optax.inject_hyperparams(factory)(total_steps=10)
    params = {"w": jnp.ones(4), "b": jnp.zeros(())}
    grad = jax.grad(loss)(params, jnp.arange(16))
    with pytest.raises(ValueError, match=r"static_args=\('total_steps',\)"):
        jax.jit(lambda g, s, p: opt.update(g, s, p, obj_fn=lambda q: loss(q, 0)))(
            grad, opt.init(params), params
        )


def test_over_adam_the_decay_shortens_the_bounded_step():
    # Far from the minimum the trust region binds at every step: the alias's
    # step is s_t * 1% of ||x||, s_t = 1 - t / (T - 1); glyder(total_steps=T)
    # decays before the bound, which hides the decay (1% at every step).
    total = 5
    params = {"w": 0.1 * jnp.ones(4), "b": jnp.asarray(0.1)}
    for opt, shrinks in (
        (go.glyder_adam(total), True),
        (go.glyder(optax.scale_by_adam(), total_steps=total), False),
    ):
        updates, _ = run(opt, steps=total - 1, params=params)
        p = params
        for t, u in enumerate(updates):
            s_t = 1 - t / (total - 1) if shrinks else 1.0
            want = s_t * 0.01 * float(optax.tree.norm(p))
            np.testing.assert_allclose(float(optax.tree.norm(u)), want, rtol=1e-5)
            p = optax.apply_updates(p, u)  # fmt: skip


@pytest.mark.parametrize("alias", [go.glyder_momentum, go.glyder_adam])
def test_the_last_step_of_the_budget_is_zero(alias):
    updates, _ = run(alias(4), steps=4)
    assert float(optax.tree.norm(updates[2])) > 0
    for leaf in jax.tree.leaves(updates[3]):
        np.testing.assert_array_equal(leaf, jnp.zeros_like(leaf))


# A decay needs two steps (it is 0 on the last); the multiple over SGD, one.
BAD_BUDGETS = [(alias, 1) for alias in (go.glyder_momentum, go.glyder_adam)] + [
    (alias, bad)
    for alias in (go.glyder_sgd, go.glyder_momentum, go.glyder_adam)
    for bad in (0, -3, 2.5, "100")
]


@pytest.mark.parametrize("alias, bad", BAD_BUDGETS)
def test_a_bad_budget_is_refused_by_name(alias, bad):
    with pytest.raises((ValueError, TypeError), match=f"{alias.__name__}.*total_steps"):
        alias(total_steps=bad)


def test_the_sgd_aliases_budget_error_says_what_it_sets():
    with pytest.raises(ValueError, match=r"learning_rate \* 800 / total_steps"):
        go.glyder_sgd(total_steps=0)
    go.glyder_sgd(total_steps=1)  # one step is a budget: no decay to end


@pytest.mark.parametrize(
    "learning_rate, want",
    [
        (2.0, 4.0),  # 2 * 800 / 400
        (0.5, 1.0),
        (lambda t: 2.0 / (1.0 + t), lambda t: 4.0 / (1.0 + t)),  # a schedule
    ],
)
def test_the_sgd_alias_scales_its_multiple_by_800_over_the_budget(learning_rate, want):
    got, _ = run(go.glyder_sgd(learning_rate, total_steps=400), steps=40)
    ref, _ = run(go.glyder_sgd(want), steps=40)
    chex.assert_trees_all_close(got, ref, rtol=1e-6)


def test_the_sgd_alias_at_800_steps_is_the_alias_without_a_budget():
    got, _ = run(go.glyder_sgd(total_steps=800), steps=40)
    ref, _ = run(go.glyder_sgd(), steps=40)
    chex.assert_trees_all_equal(got, ref)


def test_the_momentum_alias_lengthens_its_multiple_by_800_over_a_short_budget():
    free = {"max_step_ratio": None}  # unbounded, so that the multiple shows
    got, _ = run(go.glyder_momentum(400, **free), steps=40)
    fixed = {"budget_multiple": False, **free}
    ref, _ = run(go.glyder_momentum(400, learning_rate=2.0, **fixed), steps=40)
    chex.assert_trees_all_close(got, ref, rtol=1e-6)  # 800 / 400
    asked, _ = run(go.glyder_momentum(400, budget_multiple=True, **free), steps=40)
    chex.assert_trees_all_equal(asked, got)
    plain, _ = run(go.glyder_momentum(400, **fixed), steps=40)
    pairs = zip(jax.tree.leaves(got), jax.tree.leaves(plain))
    assert not all(np.allclose(a, b) for a, b in pairs)
    # without a budget there is no multiple to scale: asked for, refused
    with pytest.raises(ValueError, match=r"budget_multiple=True .* pass total_steps"):
        go.glyder_momentum(budget_multiple=True)
    alone, _ = run(go.glyder_momentum(budget_multiple=False, **free), steps=40)
    chex.assert_trees_all_equal(alone, run(go.glyder_momentum(**free), steps=40)[0])


@pytest.mark.parametrize("total_steps", [800, 3000])
def test_the_momentum_alias_keeps_its_multiple_over_a_long_budget(total_steps):
    # max(1, 800 / T): from 800 steps on, the alias's own multiple.
    free = {"max_step_ratio": None}
    got, _ = run(go.glyder_momentum(total_steps, **free), steps=40)
    fixed = {"budget_multiple": False, **free}
    chex.assert_trees_all_equal(
        got, run(go.glyder_momentum(total_steps, **fixed), steps=40)[0]
    )


ZEROS = {"w": jnp.zeros(4), "b": jnp.zeros(())}


def test_from_zeros_the_momentum_alias_squares_its_multiple_over_the_budget():
    free = {"max_step_ratio": None}  # unbounded, so that the multiple shows
    got, _ = run(go.glyder_momentum(400, **free), 40, ZEROS)
    fixed = {"budget_multiple": False, **free}
    ref, _ = run(go.glyder_momentum(400, learning_rate=4.0, **fixed), 40, ZEROS)
    chex.assert_trees_all_close(got, ref, rtol=1e-6)  # (800 / 400) ** 2
    asked, _ = run(go.glyder_momentum(400, budget_from_zeros=True, **free), 40, ZEROS)
    chex.assert_trees_all_equal(asked, got)
    off = go.glyder_momentum(400, budget_from_zeros=False, **free)
    before, _ = run(go.glyder_momentum(400, learning_rate=2.0, **fixed), 40, ZEROS)
    chex.assert_trees_all_close(run(off, 40, ZEROS)[0], before, rtol=1e-6)


@pytest.mark.parametrize(
    ("total_steps", "params"), [(400, None), (800, ZEROS), (3000, ZEROS)]
)
def test_the_squared_multiple_leaves_other_starts_and_long_budgets_alone(
    total_steps, params
):
    # A standard start, or from zeros at 800 steps or more: the steps of the
    # alias before the thirty-seventh round.
    got, _ = run(go.glyder_momentum(total_steps), 40, params)
    opt = go.glyder_momentum(total_steps, budget_from_zeros=False)
    chex.assert_trees_all_close(got, run(opt, 40, params)[0], rtol=1e-6)


def test_the_squared_multiple_needs_the_multiple_over_the_budget():
    for kwargs in ({}, {"total_steps": 400, "budget_multiple": False}):
        with pytest.raises(ValueError, match=r"budget_from_zeros .* pass total_steps"):
            go.glyder_momentum(budget_from_zeros=True, **kwargs)


def test_from_zeros_sgd_squares_and_adam_can_lengthen_the_step_by_the_budget():
    # SGD's multiple 2 * 800 / T times 800 / T more by default (4 at 400
    # steps, the cap's value), Adam's step times 800 / T where asked, where the
    # parameters start at zero.
    sgd = go.glyder_sgd(total_steps=400)
    want = _sgd_zigzag(learning_rate=4.0, zeros=2.0)
    assert_same_run(run(sgd, 40, ZEROS), run(want, 40, ZEROS))
    adam = go.glyder_adam(400, budget_from_zeros=True)
    assert_same_run(run(adam, 40, ZEROS), run(_adam_zigzag(400, zeros=2.0), 40, ZEROS))


@pytest.mark.parametrize(
    ("alias", "on", "off"),
    [
        (go.glyder_sgd, {}, {"budget_from_zeros": False}),
        (go.glyder_adam, {"budget_from_zeros": True}, {}),
    ],
)
@pytest.mark.parametrize(
    ("total_steps", "params"), [(400, None), (800, ZEROS), (3000, ZEROS)]
)
def test_sgd_and_adam_from_zeros_leave_other_starts_and_long_budgets_alone(
    alias, on, off, total_steps, params
):
    got, _ = run(alias(total_steps=total_steps, **on), 40, params)
    want, _ = run(alias(total_steps=total_steps, **off), 40, params)
    chex.assert_trees_all_close(got, want, rtol=1e-6)


def test_adam_from_zeros_at_once_lifts_the_bound_from_the_second_step():
    # From zeros no bound at all: GLyDER's steps over Adam, then the decay
    # (the lift takes precedence over the zig-zag multiple); from another
    # start the alias of the thirty-ninth round bit for bit.
    at_once = go.glyder_adam(40)
    want, _ = run(_adam_decayed_after(40, max_step_ratio=None), 40, ZEROS)
    chex.assert_trees_all_close(run(at_once, 40, ZEROS)[0], want, rtol=1e-5, atol=1e-6)
    got, _ = run(at_once, 40)
    before, _ = run(go.glyder_adam(40, from_zeros_at_once=False), 40)
    chex.assert_trees_all_equal(got, before)
    after_window, _ = run(go.glyder_adam(40, from_zeros_at_once=False), 40, ZEROS)
    want, _ = run(_adam_zigzag(40, at_once=False), 40, ZEROS)
    chex.assert_trees_all_equal(after_window, want)


@pytest.mark.parametrize("alias", [go.glyder_sgd, go.glyder_adam])
def test_sgd_and_adam_from_zeros_need_the_budget(alias):
    with pytest.raises(ValueError, match=r"budget_from_zeros .* pass total_steps"):
        alias(budget_from_zeros=True)


@pytest.mark.parametrize("cap", [4.0, None])
@pytest.mark.parametrize("total_steps", [100, 300, 600, 800])
def test_the_capped_square_from_zeros(total_steps, cap):
    # From zeros the multiple min(b ** 2, max(b, 4)), b = max(1, 800 / T), by
    # default: b at 100 steps (8 > 4), 4 at 300, the square at 600, 1 from
    # 800 on (b ** 2 uncapped); over SGD twice that (its learning_rate 2),
    # b = 800 / T.
    b = max(1.0, 800 / total_steps)
    total = b**2 if cap is None else min(b**2, max(b, cap))
    capped = {} if cap == 4.0 else {"zeros_cap": cap}  # 4: the default
    free = {"max_step_ratio": None}  # unbounded, so that the multiple shows
    got, _ = run(go.glyder_momentum(total_steps, **capped, **free), 12, ZEROS)
    fixed = {"budget_multiple": False, "learning_rate": total, **free}
    want, _ = run(go.glyder_momentum(total_steps, **fixed), 12, ZEROS)
    chex.assert_trees_all_close(got, want, rtol=1e-4)  # float32 rounding
    sgd = {"total_steps": total_steps, **free}
    got, _ = run(go.glyder_sgd(**capped, **sgd), 12, ZEROS)
    lr = 2.0 * total / (800 / total_steps)
    want, _ = run(go.glyder_sgd(lr, budget_from_zeros=False, **sgd), 12, ZEROS)
    chex.assert_trees_all_close(got, want, rtol=1e-4)


def test_a_cap_of_ones_own_needs_the_square():
    for alias, kwargs in (
        (go.glyder_momentum, {"total_steps": 300, "budget_from_zeros": False}),
        (go.glyder_momentum, {"total_steps": 300, "budget_multiple": False}),
        (go.glyder_momentum, {}),
        (go.glyder_sgd, {"total_steps": 300, "budget_from_zeros": False}),
        (go.glyder_sgd, {}),
    ):
        alias(**kwargs)  # the default cap: nothing to refuse
        for cap in (8.0, None):
            with pytest.raises(ValueError, match=r"zeros_cap=.* or drop zeros_cap"):
                alias(zeros_cap=cap, **kwargs)


def test_scale_from_zeros_reads_the_start_at_init():
    tx = scale_from_zeros(3.0)
    u = jnp.array([1.0, -2.0])
    from_zeros, _ = tx.update(u, tx.init(jnp.zeros(2)))
    np.testing.assert_array_equal(from_zeros, 3.0 * u)
    elsewhere, _ = tx.update(u, tx.init(jnp.array([0.0, 1e-3])))
    np.testing.assert_array_equal(elsewhere, u)


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(4, 16, rngs=rngs)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden(x)))[:, 0]


@pytest.mark.parametrize(
    "make",
    [
        go.glyder_sgd,
        lambda: go.glyder_momentum(60),
        lambda: go.glyder_adam(60),
        # the helper passes `value`; a level below any loss here never acts
        lambda: go.glyder_sgd(flood_level=1e-6),
        lambda: go.glyder_momentum(60, flood_level=1e-6),
    ],
)
def test_nnx_trains_with_each_alias(make):
    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, make(), wrt=nnx.Param)
    loss_fn = lambda m, b: jnp.mean((m(b[0]) - b[1]) ** 2)
    step = nnx.jit(training.make_nnx_train_step(loss_fn))
    halves = [(X[:16], Y[:16]), (X[16:], Y[16:])]
    first = float(loss_fn(model, (X, Y)))
    for t in range(60):
        step(model, optimizer, halves[t % 2], halves[(t + 1) % 2])
    # 60 steps: the trust region lets the norm of the params grow 1% a step.
    assert float(loss_fn(model, (X, Y))) < 0.8 * first
    assert int(go.glyder_state(optimizer.opt_state).refreshes) == 3


def test_the_static_refresh_reaches_glyder_through_the_adam_chain():
    # update(..., refresh=bool) passes through optax.chain to GLyDER (the
    # schedule ignores it): held at step 0, refreshed off the schedule at 1.
    opt = go.glyder_adam(10, skip_non_finite=False)
    params = {"w": jnp.ones(4), "b": jnp.zeros(())}
    grad = jax.grad(loss)(params, jnp.arange(16))
    obj_fn = lambda q: loss(q, jnp.arange(16, 32))

    def step(state, refresh):
        return opt.update(grad, state, params, obj_fn=obj_fn, refresh=refresh)[1]

    state = step(opt.init(params), False)
    assert int(go.glyder_state(state).refreshes) == 0
    state = step(state, True)
    assert int(go.glyder_state(state).refreshes) == 1
    jaxpr = jax.make_jaxpr(lambda s: step(s, False))(state)
    assert str(jaxpr).count("cond[") == 1  # the zig-zag multiple's reading only


def test_glyder_adam_halves_its_bound_only_below_half_the_norm():
    # The first 4 unbounded steps' median share of the parameters' norm:
    # 0.28 from w = 4 (halved), 0.52 from w = 6 and 1.96 from w = 1 (a start
    # whose parameters must grow: not halved); each run's mean cosine is
    # above 0.94, so the zig-zag multiple is not 4.
    for scale, share, halving in (
        (4.0, 0.278, 0.5),
        (6.0, 0.519, 1.0),
        (1.0, 1.96, 1.0),
    ):
        params = {"w": scale * jnp.ones(4), "b": jnp.zeros(())}
        _, state = run(go.glyder_adam(10, zigzag_window=4), steps=6, params=params)
        (reader,) = [
            s
            for s in jax.tree.leaves(
                state, is_leaf=lambda x: isinstance(x, go.ZigzagMultipleState)
            )
            if isinstance(s, go.ZigzagMultipleState)
        ]
        np.testing.assert_allclose(np.median(reader.shares), share, rtol=2e-3)
        assert float(reader.multiple) == halving


def test_glyder_adam_without_the_halving_is_the_twenty_fifth_rounds_chain():
    # One reader with its bound (scale_step) against the round's two
    # transforms: GLyDER's own bound, then 4 times the bounded step.
    written = optax.chain(
        go.glyder(optax.scale_by_adam()),
        go.scale_by_zigzag_multiple(4, 0.94, 4.0),
        optax.scale_by_schedule(go.linear_decay_schedule(1.0, 10)),
    )
    for scale in (1.0, 3.0, 16.0):  # a reading of 4 from w = 3 and w = 16
        params = {"w": scale * jnp.ones(4), "b": jnp.zeros(())}
        alias = go.glyder_adam(10, zigzag_window=4, large_share=None, from_zeros=None)
        got, _ = run(alias, 9, params)
        want, _ = run(written, 9, params)
        for g, w in zip(got, want):
            for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(w)):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_glyder_adam_passes_per_unit_direction_to_glyder():
    # Without the reader the alias is GLyDER (bounded) then the decay; the
    # estimates per unit direction change eta (Adam's directions' norms
    # differ from step to step; 7.021 against 7.046 after 9 steps).
    params = {"w": 10.0 * jnp.ones(4), "b": jnp.zeros(())}
    etas = []
    for unit in (False, True):
        alias = go.glyder_adam(
            10,
            zigzag_window=None,
            large_share=None,
            from_zeros=None,
            per_unit_direction=unit,
            refresh_every=1,
        )
        written = optax.chain(
            go.glyder(optax.scale_by_adam(), per_unit_direction=unit, refresh_every=1),
            optax.scale_by_schedule(go.linear_decay_schedule(1.0, 10)),
        )
        got, state = run(alias, 9, params)
        want, _ = run(written, 9, params)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        etas.append(float(go.glyder_state(state).eta))
    assert abs(etas[1] - etas[0]) > 2e-3 * etas[0]


def test_glyder_adam_passes_refresh_first_to_glyder():
    # A refresh at each of the first 3 steps, then at counts 20, 40...
    _, state = run(go.glyder_adam(30, refresh_first=3), steps=25)
    assert int(go.glyder_state(state).refreshes) == 4
    _, state = run(go.glyder_adam(30), steps=25)
    assert int(go.glyder_state(state).refreshes) == 2


def test_glyder_adam_refuses_the_halving_without_its_window():
    with pytest.raises(ValueError, match="pass large_share=None and from_zeros=None"):
        go.glyder_adam(10, zigzag_window=None)  # large_share is 0.2 by default
    with pytest.raises(ValueError, match="from_zeros=None too"):
        go.glyder_adam(10, zigzag_window=None, large_share=None)


def test_glyder_adam_lifts_its_bound_from_zeros_at_once_or_after_the_window():
    # From zeros the first step is unbounded and the bound after it is 1% of
    # that one step's norm; the alias lifts it from the second step, or,
    # with from_zeros_at_once=False, after the window. The updates are those
    # of from_zeros=None until then, then longer.
    zeros = {"w": jnp.zeros(4), "b": jnp.zeros(())}
    kept, _ = run(go.glyder_adam(40, zigzag_window=4, from_zeros=None), 12, zeros)
    for at_once, lifted_from in ((False, 4), (True, 1)):
        opt = go.glyder_adam(40, zigzag_window=4, from_zeros_at_once=at_once)
        lifted, state = run(opt, 12, zeros)
        for a, b in zip(lifted[:lifted_from], kept[:lifted_from]):
            chex.assert_trees_all_equal(a, b)
        (reader,) = [
            x
            for x in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, "zero_start"))
            if hasattr(x, "zero_start")
        ]
        assert bool(reader.zero_start) and float(reader.multiple) == np.inf
        step = lifted[lifted_from]
        assert optax.tree.norm(step) > 2 * optax.tree.norm(kept[lifted_from])
    # from a nonzero start nothing is read as zeros: the same steps
    ones = {"w": jnp.ones(4), "b": jnp.zeros(())}
    same, _ = run(go.glyder_adam(40, zigzag_window=4), 12, ones)
    kept, _ = run(go.glyder_adam(40, zigzag_window=4, from_zeros=None), 12, ones)
    chex.assert_trees_all_equal(same, kept)


@pytest.mark.parametrize(
    "alias, default",
    [
        (lambda **kw: go.glyder_sgd(zigzag_window=4, **kw), None),
        (
            lambda **kw: go.glyder_momentum(
                40, zigzag_window=4, budget_multiple=False, **kw
            ),
            1.0,
        ),
    ],
)
def test_sgd_and_momentum_can_keep_their_step_from_zeros(alias, default):
    # From zeros the first steps are large against the norm (here 77% to
    # 100%) and agree: halved with from_zeros=None (glyder_sgd's default),
    # kept with 1 (glyder_momentum's). From a nonzero start the option reads
    # nothing (the study's tests: the same steps).
    zeros = {"w": jnp.zeros(4), "b": jnp.zeros(())}
    for from_zeros, multiple in ((1.0, 1.0), (None, 0.5)):
        _, state = run(alias(from_zeros=from_zeros), 8, zeros)
        (reader,) = [
            x
            for x in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, "zero_start"))
            if hasattr(x, "zero_start")
        ]
        assert bool(reader.zero_start) == (from_zeros is not None)
        assert float(reader.multiple) == multiple
    name = "glyder_sgd" if default is None else "glyder_momentum"
    signature = inspect.signature(getattr(go, name))
    assert signature.parameters["from_zeros"].default == default


def _stack(depth):
    """``depth`` 3x3 weight matrices and a bias, ||params|| = 10, far from the
    minimum of :func:`_far_loss` (every step bound)."""
    tree = {
        f"w{i}": jnp.full((3, 3), 10.0 / (3 * np.sqrt(depth))) for i in range(depth)
    }
    return {**tree, "b": jnp.zeros(3)}


def _far_loss(params):
    return 0.5 * sum(jnp.sum((leaf - 50.0) ** 2) for leaf in jax.tree.leaves(params))


def _depth_steps(opt, params, steps=6):
    def step(carry, _):
        p, state = carry
        u, state = opt.update(jax.grad(_far_loss)(p), state, p, obj_fn=_far_loss)
        return (optax.apply_updates(p, u), state), u

    run_ = lambda: jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return jax.jit(run_)()[1]


def test_weight_leaves_counts_the_leaves_of_two_or_more_dimensions():
    from glyder_optax._glyder_aliases import weight_leaves

    assert weight_leaves(_stack(4)) == 4
    assert weight_leaves({"k": jnp.ones((3, 3, 1, 8)), "b": jnp.ones(8)}) == 1
    assert weight_leaves(jnp.ones(5)) == 0


@pytest.mark.parametrize(
    "alias",
    [functools.partial(go.glyder_adam, 10, depth_scaled=True), go.glyder_momentum],
)
@pytest.mark.parametrize("depth, ratio", [(1, 0.01), (2, 0.01), (4, 0.005), (5, 0.004)])
def test_the_bound_is_divided_by_half_the_number_of_weight_leaves(alias, depth, ratio):
    # Deeper than two weight matrices, the alias is itself at the bound
    # 1% * 2 / L, step for step; its first step is that share of ||params||.
    params = _stack(depth)
    steps = _depth_steps(alias(), params)
    want = _depth_steps(alias(max_step_ratio=ratio, depth_scaled=False), params)
    chex.assert_trees_all_equal(steps, want)
    first = optax.tree.norm(jax.tree.map(lambda u: u[0], steps))
    assert float(first) == pytest.approx(ratio * 10.0, rel=1e-5)


@pytest.mark.parametrize(
    "alias",
    [
        functools.partial(go.glyder_adam, 10),  # off by default over Adam
        functools.partial(go.glyder_momentum, depth_scaled=False),
    ],
)
def test_without_depth_scaling_a_deep_network_keeps_the_bound(alias):
    steps = _depth_steps(alias(), _stack(4))
    first = optax.tree.norm(jax.tree.map(lambda u: u[0], steps))
    assert float(first) == pytest.approx(0.01 * 10.0, rel=1e-5)


def test_an_injected_bound_is_divided_by_depth_too():
    injected = optax.inject_hyperparams(go.glyder_momentum)(max_step_ratio=0.01)
    params = _stack(4)
    steps = _depth_steps(injected, params)
    want = _depth_steps(go.glyder_momentum(), params)
    chex.assert_trees_all_close(steps, want, rtol=1e-6)
    first = optax.tree.norm(jax.tree.map(lambda u: u[0], steps))
    assert float(first) == pytest.approx(0.005 * 10.0, rel=1e-5)


def test_an_injected_alias_takes_depth_scaled_as_given():
    # optax.inject_hyperparams leaves a bool alone (not a hyperparameter).
    params = _stack(4)
    for scaled, ratio in ((False, 0.01), (True, 0.005)):
        injected = optax.inject_hyperparams(go.glyder_momentum)(depth_scaled=scaled)
        steps = _depth_steps(injected, params)
        first = optax.tree.norm(jax.tree.map(lambda u: u[0], steps))
        assert float(first) == pytest.approx(ratio * 10.0, rel=1e-5)

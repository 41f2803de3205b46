"""scale_by_zigzag_multiple: the multiple read from the window's consecutive
cosines (hand-worked), held after it, in ``glyder_sgd``; dtypes and structure
stable, nothing non-finite read, bad arguments refused."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import glyder_optax as go


def _run(tx, steps, params=None):
    params = {"a": jnp.zeros(2)} if params is None else params
    state, out = tx.init(params), []
    for u in steps:
        scaled, state = tx.update({"a": jnp.array(u)}, state)
        out.append(scaled["a"])
    return out, state


def test_the_multiple_is_set_after_a_window_whose_steps_flip():
    tx = go.scale_by_zigzag_multiple(window=3, threshold=0.0, factor=2.0)
    out, state = _run(tx, ([1.0, 0.0], [-1.0, 1.0], [np.nan, 0.0], [3.0, 4.0]))
    # One pair read (cos = -1/sqrt(2)); the non-finite update is passed on,
    # not read; the third update ends the window: from the fourth, times 2.
    assert int(state.pairs) == 1 and int(state.count) == 4
    np.testing.assert_allclose(state.cosine_sum, -1 / np.sqrt(2), rtol=1e-6)
    np.testing.assert_array_equal(state.previous["a"], [-1.0, 1.0])
    np.testing.assert_allclose(state.previous_norm, np.sqrt(2), rtol=1e-6)
    np.testing.assert_array_equal(out[1], [-1.0, 1.0])
    assert np.isnan(out[2][0])
    np.testing.assert_array_equal(out[3], [6.0, 8.0])
    assert float(state.multiple) == 2.0 and state.multiple.dtype == jnp.float32


@pytest.mark.parametrize(
    ("second", "threshold", "expected"),
    [
        ([1.0, 1.0], 0.0, 1.0),  # cos 0.71: no zig-zag
        ([-1.0, 1.0], -0.8, 1.0),  # cos -0.71, above the threshold
        ([-1.0, 0.1], -0.8, 3.0),  # cos -0.995
        ([0.0, 0.0], 0.0, 1.0),  # no pair read: kept at 1
    ],
)
def test_the_multiple_is_held_after_the_window(second, threshold, expected):
    tx = go.scale_by_zigzag_multiple(window=2, threshold=threshold, factor=3.0)
    out, state = _run(tx, ([1.0, 0.0], second, [-5.0, 0.0], [5.0, 0.0]))
    # After the window nothing more is read: the last two updates' flip
    # moves neither the multiple nor the sum.
    assert float(state.multiple) == expected
    assert int(state.pairs) == (0 if second == [0.0, 0.0] else 1)
    np.testing.assert_allclose(out[-1], [5.0 * expected, 0.0])


def test_glyder_sgd_doubles_its_step_where_its_steps_flip():
    # On x**2 / 2 GLyDER's step is exact (eta = 1): twice it (alpha = 2)
    # sends x to -x, every cosine is -1, and after the window of 4 the step
    # is 4x: x = 1 - 4 = -3. Without the rule x keeps flipping.
    f = lambda x: 0.5 * jnp.sum(x**2)

    def trajectory(opt):
        x, state, xs = jnp.array([1.0]), opt.init(jnp.array([1.0])), []
        for _ in range(5):
            updates, state = opt.update(jax.grad(f)(x), state, x, obj_fn=f)
            x = optax.apply_updates(x, updates)
            xs.append(float(x[0]))
        return xs

    kwargs = {"max_step_ratio": None, "zigzag_window": 4}
    np.testing.assert_allclose(
        trajectory(go.glyder_sgd(**kwargs)), [-1, 1, -1, 1, -3], rtol=1e-6
    )
    kwargs["zigzag_window"] = None
    np.testing.assert_allclose(
        trajectory(go.glyder_sgd(**kwargs)), [-1, 1, -1, 1, -1], rtol=1e-6
    )


def test_a_shared_count_keeps_the_reading_a_cond_under_vmap_with_the_same_result():
    # glyder_sgd(shared_count=True) vmapped over two starts, its counts shared
    # (share_glyder_count): the zig-zag reading stays a cond (one more than
    # without the rule) and each start ends where it ends alone. The first
    # start flips (a quadratic's exact step, twice); the second, at the
    # minimum, reads no pair and keeps the multiple 1.
    f = lambda w: 0.5 * jnp.sum(w**2)
    ws = jnp.array([[1.0, -2.0], [0.0, 0.0]])

    def make(window):
        kwargs = {"max_step_ratio": None, "refresh_every": 1, "shared_count": True}
        return go.glyder_sgd(zigzag_window=window, **kwargs)

    def vmapped(opt):
        def one(w, s):
            updates, s = opt.update(jax.grad(f)(w), s, w, obj_fn=f)
            return w + updates, s

        state, axes = go.share_glyder_count(jax.vmap(opt.init)(ws))
        return one, jax.vmap(one, in_axes=(0, axes), out_axes=(0, axes)), state

    one, step, state = vmapped(make(3))
    zigzag = optax.tree.get(state, "ZigzagMultipleState")
    assert zigzag.count.shape == () and zigzag.previous.shape == (2, 2)
    conds = lambda opt: str(jax.make_jaxpr(vmapped(opt)[1])(ws, vmapped(opt)[2]))
    assert conds(make(3)).count("cond[") == conds(make(None)).count("cond[") + 1
    w_shared = ws
    for _ in range(6):
        w_shared, state = jax.jit(step)(w_shared, state)
    np.testing.assert_array_equal(
        optax.tree.get(state, "ZigzagMultipleState").multiple, [2.0, 1.0]
    )
    for i in range(2):
        w, s = ws[i], make(3).init(ws[i])
        for _ in range(6):
            w, s = one(w, s)
        np.testing.assert_allclose(w_shared[i], w, rtol=1e-6)


def test_large_agreeing_steps_are_shortened_after_the_window():
    # ||x|| = 1, window 4, 2 shares read: 0.5 and ||(0.4, 0.1)|| = 0.41
    # (median 0.46 >= 0.25); the cosines 0.97, 1, 0.95 (mean >= 0.05).
    params = {"a": jnp.array([1.0, 0.0])}
    agree = ([0.5, 0.0], [0.4, 0.1], [0.3, 0.0], [0.3, 0.1], [1.0, 0.0])

    def run(updates, scale=1.0, later_params=params, **kwargs):
        tx = go.scale_by_zigzag_multiple(4, large_share=0.25, share_steps=2, **kwargs)
        state, out = tx.init(params), []
        for t, u in enumerate(updates):
            now = params if t < 2 else later_params
            step, state = tx.update({"a": scale * jnp.array(u)}, state, now)
            out.append(step["a"])
        return out, state

    out, state = run(agree)
    # The parameters are read over the share steps only.
    nan_later = run(agree, later_params={"a": jnp.array([np.nan, 0.0])})[1]
    chex.assert_trees_all_equal(nan_later, state)
    np.testing.assert_allclose(state.shares, [0.5, np.hypot(0.4, 0.1)], rtol=1e-6)
    np.testing.assert_allclose(out[3], [0.3, 0.1], rtol=1e-6)  # the window's
    np.testing.assert_allclose(out[4], [0.5, 0.0], rtol=1e-6)
    assert float(state.multiple) == 0.5 and state.multiple.dtype == jnp.float32
    assert float(run(agree, shrink=0.25)[1].multiple) == 0.25
    assert float(run(agree, scale=0.5)[1].multiple) == 1.0  # median share 0.23
    assert float(run(agree, agree=0.99)[1].multiple) == 1.0  # mean cosine 0.97
    # A non-finite update reads as a share of 0: the median 0.21, no shorter
    # step (and nothing non-finite in the state).
    nan_first = ([np.nan, 0.0], *agree[1:])
    _, state = run(nan_first)
    np.testing.assert_allclose(state.shares, [0.0, np.hypot(0.4, 0.1)], rtol=1e-6)
    assert float(state.multiple) == 1.0
    flip = ([0.5, 0.0], [-0.5, 0.0], [0.5, 0.0], [-0.5, 0.0], [1.0, 0.0])
    assert float(run(flip)[1].multiple) == 2.0  # large, but they flip
    # Zero parameters: no share can be read (0), nothing infinite kept.
    tx = go.scale_by_zigzag_multiple(4, large_share=0.25, share_steps=2)
    zero = {"a": jnp.zeros(2)}
    state = tx.init(zero)
    for u in agree:
        _, state = tx.update({"a": jnp.array(u)}, state, zero)
    np.testing.assert_array_equal(state.shares, [0.0, 0.0])
    assert float(state.multiple) == 1.0


def test_with_a_bound_the_multiple_scales_the_bound():
    # ||x|| = 10, rho = 1%: the bound 0.1 over the window of 4; the shares
    # read before it (5 and 4.1, agreeing): the multiple 1/2, the bound 0.05.
    params = {"a": jnp.array([10.0, 0.0])}
    tx = go.scale_by_zigzag_multiple(
        4, large_share=0.25, share_steps=2, max_step_ratio=0.01
    )
    state, out = tx.init(params), []
    for u in ([50.0, 0.0], [40.0, 10.0], [0.03, 0.04], [30.0, 0.0], [30.0, 40.0]):
        step, state = tx.update({"a": jnp.array(u)}, state, params)
        out.append(np.asarray(step["a"]))
    np.testing.assert_allclose(
        state.shares, [5.0, np.hypot(40.0, 10.0) / 10], rtol=1e-6
    )
    np.testing.assert_allclose(out[0], [0.1, 0.0], rtol=1e-6)
    np.testing.assert_allclose(
        out[1], np.array([4.0, 1.0]) * 0.1 / np.hypot(4, 1), rtol=1e-6
    )
    np.testing.assert_allclose(out[2], [0.03, 0.04], rtol=1e-6)  # within: whole
    np.testing.assert_allclose(out[4], [0.03, 0.04], rtol=1e-6)  # 0.05: (3, 4)/100
    assert float(state.multiple) == 0.5
    # A flip widens the bound instead (factor 3): 0.3 after the window.
    tx = go.scale_by_zigzag_multiple(2, factor=3.0, max_step_ratio=0.01)
    state = tx.init(params)
    for u in ([1.0, 0.0], [-1.0, 0.0], [0.0, 40.0]):
        step, state = tx.update({"a": jnp.array(u)}, state, params)
    np.testing.assert_allclose(step["a"], [0.0, 0.3], rtol=1e-6)
    # Parameters of norm 0 leave the update whole.
    zero = {"a": jnp.zeros(2)}
    step, _ = tx.update({"a": jnp.array([5.0, 0.0])}, tx.init(zero), zero)
    np.testing.assert_array_equal(step["a"], [5.0, 0.0])


def test_without_large_share_no_share_is_read():
    tx = go.scale_by_zigzag_multiple(window=2, share_steps=100)  # not checked
    state = tx.init({"a": jnp.ones(2)})
    assert state.shares.shape == (1,)  # one unread 0: orbax saves no empty array
    for u in ([1.0, 0.0], [1.0, 0.0], [1.0, 0.0]):
        _, state = tx.update({"a": jnp.array(u)}, state)  # no params needed
    assert float(state.multiple) == 1.0


@pytest.mark.parametrize("max_step_ratio", [None, 0.5])
def test_dtypes_and_structure_are_stable_under_jit(max_step_ratio):
    params = {"w": jnp.ones(3, jnp.bfloat16), "b": jnp.zeros((), jnp.float32)}
    tx = go.scale_by_zigzag_multiple(window=2, max_step_ratio=max_step_ratio)
    update = jax.jit(tx.update)
    state = tx.init(params)
    first = jax.tree.map(lambda x: (x.shape, x.dtype), state)
    for sign in (1.0, -1.0, 1.0):
        u = jax.tree.map(lambda p: (sign * jnp.ones_like(p)).astype(p.dtype), params)
        out, state = update(u, state, params)
        assert jax.tree.map(lambda x: (x.shape, x.dtype), state) == first
        assert jax.tree.map(lambda x: x.dtype, out) == {
            "w": jnp.bfloat16,
            "b": jnp.float32,
        }
    assert update._cache_size() == 1
    assert float(state.multiple) == 2.0  # the bf16 and f32 leaves flipped


def test_inject_hyperparams_changes_the_factor_before_the_window_ends():
    tx = optax.inject_hyperparams(go.scale_by_zigzag_multiple, static_args="window")(
        window=2, threshold=0.0, factor=2.0
    )
    state = tx.init({"a": jnp.zeros(2)})
    state.hyperparams["factor"] = jnp.asarray(5.0)
    for u in ([1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]):
        out, state = tx.update({"a": jnp.array(u)}, state)
    np.testing.assert_allclose(out["a"], [5.0, 0.0])


def test_inject_hyperparams_changes_the_share_and_the_shrink():
    make = optax.inject_hyperparams(
        go.scale_by_zigzag_multiple, static_args=("window", "share_steps")
    )
    params = {"a": jnp.ones(1)}  # steps of a share 1 that agree
    for large_share, shrink, expected in ((0.5, 0.25, 0.25), (2.0, 0.25, 1.0)):
        tx = make(window=2, large_share=0.5, shrink=0.5, share_steps=1)
        state = tx.init(params)
        state.hyperparams["large_share"] = jnp.asarray(large_share)
        state.hyperparams["shrink"] = jnp.asarray(shrink)
        for _ in range(3):
            out, state = tx.update({"a": jnp.ones(1)}, state, params)
        np.testing.assert_allclose(out["a"], [expected])


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match="window"):
        go.scale_by_zigzag_multiple(window=0)
    with pytest.raises(TypeError, match="window must be a Python int"):
        go.scale_by_zigzag_multiple(window=2.5)
    with pytest.raises(ValueError, match="zigzag_window=None"):
        go.scale_by_zigzag_multiple(factor=0.0)
    with pytest.raises(ValueError, match="window"):
        go.glyder_sgd(zigzag_window=0)
    with pytest.raises(ValueError, match="shrink must be positive"):
        go.scale_by_zigzag_multiple(large_share=0.25, shrink=-1.0)
    with pytest.raises(ValueError, match="share_steps"):
        go.scale_by_zigzag_multiple(4, large_share=0.25, share_steps=5)
    for kwargs in ({"large_share": 0.25}, {"max_step_ratio": 0.01}):
        tx = go.scale_by_zigzag_multiple(**kwargs)
        with pytest.raises(ValueError, match="needs the extra argument `params`"):
            tx.update({"a": jnp.ones(2)}, tx.init({"a": jnp.ones(2)}))


def test_steps_large_against_the_norm_lift_the_bound_after_the_window():
    # Parameters of norm 10; the shares read are 5 and 4.12 (median 4.56 >= 3):
    # after the window the bound (1%, 0.1) is lifted and a step passes whole;
    # it takes precedence over the halving of large shares.
    params = {"a": jnp.array([6.0, 8.0])}
    tx = go.scale_by_zigzag_multiple(
        2, large_share=0.25, share_steps=2, max_step_ratio=0.01, growth_share=3.0
    )
    state = tx.init(params)
    for u in ([50.0, 0.0], [40.0, 10.0], [30.0, 40.0]):
        step, state = tx.update({"a": jnp.array(u)}, state, params)
    np.testing.assert_allclose(state.shares, [5.0, np.hypot(40.0, 10.0) / 10])
    assert float(state.multiple) == np.inf
    np.testing.assert_array_equal(step["a"], [30.0, 40.0])
    # A finite grow widens it (times 4: 0.4); shares below the growth share
    # leave the halving.
    for growth_share, grow, expected in ((3.0, 4.0, 0.4), (5.0, 4.0, 0.05)):
        tx = go.scale_by_zigzag_multiple(
            2,
            large_share=0.25,
            share_steps=2,
            max_step_ratio=0.01,
            growth_share=growth_share,
            grow=grow,
        )
        state = tx.init(params)
        for u in ([50.0, 0.0], [40.0, 10.0], [30.0, 40.0]):
            step, state = tx.update({"a": jnp.array(u)}, state, params)
        np.testing.assert_allclose(optax.tree.norm(step), expected, rtol=1e-6)


def test_a_growth_share_alone_reads_shares_and_needs_params():
    params = {"a": jnp.ones(2)}
    for growth_share, expected in ((0.5, 3.0), (2.0, 1.0)):  # shares of 1
        tx = go.scale_by_zigzag_multiple(8, growth_share=growth_share, grow=3.0)
        state = tx.init(params)
        assert state.shares.shape == (8,)
        with pytest.raises(ValueError, match="growth_share"):
            tx.update({"a": jnp.ones(2)}, state)
        for _ in range(9):
            out, state = tx.update({"a": jnp.ones(2)}, state, params)
        np.testing.assert_array_equal(state.shares, np.ones(8))
        np.testing.assert_array_equal(out["a"], [expected, expected])
    with pytest.raises(ValueError, match="grow=inf lifts a bound"):
        go.scale_by_zigzag_multiple(growth_share=0.5)
    with pytest.raises(ValueError, match="grow must be positive"):
        go.scale_by_zigzag_multiple(growth_share=0.5, grow=0.0, max_step_ratio=0.01)


def test_a_growth_share_is_built_inside_jit():
    # A harness builds its optimizer inside a jitted init; the check on a
    # finite grow must not turn a Python number into a traced one.
    @jax.jit
    def init(params):
        tx = go.scale_by_zigzag_multiple(8, growth_share=0.5, grow=1.0)
        return tx.init(params).multiple

    assert init({"a": jnp.ones(2)}) == 1.0


def test_scale_step_takes_a_longer_step_within_the_wider_bound():
    # |x| = 10 and rho = 0.1: a bound of 1; steps that flip set the multiple 4
    # after a window of 2, the bound 4. With scale_step the update is 4 times
    # longer too: min(4|u|, 4); without it min(|u|, 4).
    params = {"a": jnp.array([10.0, 0.0])}
    for size, scaled, alone in ((0.5, 2.0, 0.5), (3.0, 4.0, 3.0)):
        for scale_step, want in ((True, scaled), (False, alone)):
            tx = go.scale_by_zigzag_multiple(
                2, 0.0, 4.0, max_step_ratio=0.1, scale_step=scale_step
            )
            state, norms = tx.init(params), []
            for t in range(4):
                u = {"a": jnp.array([size * (-1) ** t, 0.0])}
                out, state = tx.update(u, state, params)
                norms.append(float(optax.tree.norm(out)))
            np.testing.assert_allclose(norms, [min(size, 1.0)] * 2 + [want] * 2)


def test_scale_step_leaves_a_shrink_to_the_bound():
    # Steps of 3 that agree, 30% of |x| = 10: the bound (rho = 1, 10) is
    # halved to 5 after the window, and a step of 3 inside it is left whole.
    params = {"a": jnp.array([10.0, 0.0])}
    tx = go.scale_by_zigzag_multiple(
        2, large_share=0.25, share_steps=2, max_step_ratio=1.0, scale_step=True
    )
    state = tx.init(params)
    for _ in range(3):
        out, state = tx.update({"a": jnp.array([3.0, 0.0])}, state, params)
    assert float(state.multiple) == 0.5
    np.testing.assert_allclose(out["a"], [3.0, 0.0])
    out, _ = tx.update({"a": jnp.array([8.0, 0.0])}, state, params)
    np.testing.assert_allclose(out["a"], [5.0, 0.0], rtol=1e-6)


def test_scale_step_needs_a_bound():
    with pytest.raises(ValueError, match="pass max_step_ratio, or scale_step=False"):
        go.scale_by_zigzag_multiple(scale_step=True)


def test_a_start_from_zeros_sets_its_own_multiple():
    # From zeros the first update is read at a norm of 0: from_zeros after the
    # window, over every other rule; from a nonzero start the rules as before.
    zeros, ones = {"a": jnp.zeros(2)}, {"a": jnp.ones(2)}
    tx = go.scale_by_zigzag_multiple(
        3, large_share=0.25, share_steps=2, max_step_ratio=0.01, from_zeros=jnp.inf
    )
    for params, zero_start, multiple, norm in (
        (zeros, True, np.inf, 5.0),  # the bound lifted
        (ones, False, 0.5, 0.005 * np.sqrt(2)),  # halved: large steps that agree
    ):
        state = tx.init(params)
        for t in range(4):
            p = params if t == 0 else ones  # only the first update's norm is read
            step, state = tx.update({"a": jnp.array([3.0, 4.0])}, state, p)
        assert bool(state.zero_start) == zero_start
        assert float(state.multiple) == multiple
        np.testing.assert_allclose(optax.tree.norm(step), norm, rtol=1e-6)
    # A finite multiple scales the bound (1% of sqrt(2), times 4: 0.0566),
    # with scale_step the step too (0.005 -> 0.02).
    for scale_step, expected in ((False, 0.005), (True, 0.02)):
        tx = go.scale_by_zigzag_multiple(
            2, max_step_ratio=0.01, from_zeros=4.0, scale_step=scale_step
        )
        state = tx.init(zeros)
        for p in (zeros, ones, ones):
            step, state = tx.update({"a": jnp.array([0.003, 0.004])}, state, p)
        np.testing.assert_allclose(optax.tree.norm(step), expected, rtol=1e-6)
    # without a bound it scales the update
    tx = go.scale_by_zigzag_multiple(2, from_zeros=3.0)
    state = tx.init(zeros)
    for p in (zeros, ones, ones):
        step, state = tx.update({"a": jnp.array([0.1, 0.2])}, state, p)
    np.testing.assert_allclose(step["a"], [0.3, 0.6], rtol=1e-6)


def test_from_zeros_at_once_sets_the_multiple_from_the_second_update():
    # From zeros the bound is lifted from the second update, not after the
    # window (1% of the first step's norm over it without); another start
    # keeps the window's bound.
    zeros, ones = {"a": jnp.zeros(2)}, {"a": jnp.ones(2)}
    update = {"a": jnp.array([3.0, 4.0])}
    for at_once, start, norm in (
        (True, zeros, 5.0),
        (False, zeros, 0.01 * np.sqrt(2)),
        (True, ones, 0.01 * np.sqrt(2)),
    ):
        tx = go.scale_by_zigzag_multiple(
            3, max_step_ratio=0.01, from_zeros=jnp.inf, from_zeros_at_once=at_once
        )
        state = tx.init(start)
        _, state = tx.update(update, state, start)
        step, state = tx.update(update, state, ones)
        np.testing.assert_allclose(optax.tree.norm(step), norm, rtol=1e-6)
        assert float(state.multiple) == (np.inf if at_once and start is zeros else 1)
    with pytest.raises(ValueError, match=r"pass from_zeros .*, or from_zeros_at_once"):
        go.scale_by_zigzag_multiple(from_zeros_at_once=True)


def test_from_zeros_needs_params_and_a_bound_to_lift():
    with pytest.raises(ValueError, match="from_zeros=inf lifts a bound"):
        go.scale_by_zigzag_multiple(from_zeros=jnp.inf)
    with pytest.raises(ValueError, match="from_zeros must be positive"):
        go.scale_by_zigzag_multiple(from_zeros=0.0, max_step_ratio=0.01)
    tx = go.scale_by_zigzag_multiple(from_zeros=2.0)
    with pytest.raises(ValueError, match="from_zeros"):
        tx.update({"a": jnp.ones(2)}, tx.init({"a": jnp.ones(2)}))
    # without it, nothing is read: a start from zeros is not marked
    tx = go.scale_by_zigzag_multiple(2)
    state = tx.init({"a": jnp.zeros(2)})
    _, state = tx.update({"a": jnp.ones(2)}, state, {"a": jnp.zeros(2)})
    assert not bool(state.zero_start)

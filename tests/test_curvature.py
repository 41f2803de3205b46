"""The directional curvature estimators against NumPy references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from glyder_optax import curvature

# Jitted (the function argument static): op-by-op dispatch of nested jvps is slow.
HVP = jax.jit(curvature.hvp, static_argnums=0)
SLOPE = jax.jit(curvature.slope_and_curvature, static_argnums=0)
GN = jax.jit(curvature.gauss_newton, static_argnums=0)
GNB = jax.jit(curvature.gnb, static_argnums=0)
RNG = np.random.default_rng(0)
# Multinomial logistic regression: 12 examples, 4 features, 3 classes.
X = RNG.normal(size=(12, 4))
Y = RNG.integers(0, 3, size=12)
W0 = {"w": RNG.normal(size=(4, 3)) * 0.5, "b": RNG.normal(size=3) * 0.1}
D = {"w": RNG.normal(size=(4, 3)), "b": RNG.normal(size=3)}


def logits_fn(p):
    return jnp.asarray(X) @ p["w"] + p["b"]


def ce_loss(p):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits_fn(p), Y))


def numpy_gauss_newton(p, d):
    z = X @ p["w"] + p["b"]
    prob = np.exp(z - z.max(-1, keepdims=True))
    prob /= prob.sum(-1, keepdims=True)
    dz = X @ d["w"] + d["b"]
    mean = (prob * dz).sum(-1)
    return np.mean((prob * dz**2).sum(-1) - mean**2)


def as_jnp(tree, dtype=jnp.float64):
    return jax.tree.map(lambda x: jnp.asarray(x, dtype), tree)


def test_hvp_on_a_quadratic_gives_the_gradient_and_dAd():
    with jax.enable_x64(True):
        a = RNG.normal(size=(5, 5))
        a = a @ a.T
        b = RNG.normal(size=5)
        x, d = RNG.normal(size=5), RNG.normal(size=5)
        f = lambda x: 0.5 * x @ jnp.asarray(a) @ x - jnp.asarray(b) @ x
        g, c = HVP(f, jnp.asarray(x), jnp.asarray(d))
        np.testing.assert_allclose(g, a @ x - b, rtol=1e-12)
        np.testing.assert_allclose(c, d @ a @ d, rtol=1e-12)
        s, c2 = SLOPE(f, jnp.asarray(x), jnp.asarray(d))
        np.testing.assert_allclose(s, (a @ x - b) @ d, rtol=1e-12)
        np.testing.assert_allclose(c2, d @ a @ d, rtol=1e-12)
        v, s3, c3 = jax.jit(curvature.taylor_along, static_argnums=0)(
            f, jnp.asarray(x), jnp.asarray(d)
        )
        np.testing.assert_allclose(v, 0.5 * x @ a @ x - b @ x, rtol=1e-12)
        assert (s3, c3) == (s, c2)


def test_hvp_equals_gauss_newton_on_multinomial_logistic_regression():
    with jax.enable_x64(True):
        p, d = as_jnp(W0), as_jnp(D)
        g, c_hvp = HVP(ce_loss, p, d)
        c_gn = GN(logits_fn, p, d)
        np.testing.assert_allclose(c_gn, numpy_gauss_newton(W0, D), rtol=1e-12)
        np.testing.assert_allclose(c_hvp, c_gn, rtol=1e-10)
        np.testing.assert_allclose(
            optax.tree.vdot(g, d), jax.jvp(ce_loss, (p,), (d,))[1], rtol=1e-10
        )
        _, c_fwd = SLOPE(ce_loss, p, d)
        np.testing.assert_allclose(c_fwd, c_gn, rtol=1e-10)


def test_gauss_newton_takes_any_leading_batch_shape():
    with jax.enable_x64(True):
        p, d = as_jnp(W0), as_jnp(D)
        flat = GN(logits_fn, p, d)
        shaped = GN(lambda q: logits_fn(q).reshape(3, 4, 3), p, d)
        np.testing.assert_allclose(shaped, flat, rtol=1e-12)


def test_gnb_mean_is_gauss_newton_within_three_standard_errors():
    with jax.enable_x64(True):
        p, d = as_jnp(W0), as_jnp(D)
        keys = jax.random.split(jax.random.key(1), 20_000)
        samples = jax.vmap(lambda k: GNB(logits_fn, p, d, k))(keys)
        exact = GN(logits_fn, p, d)
        mean = np.mean(samples)
        se = np.std(samples) / np.sqrt(len(samples))
        assert abs(mean - exact) < 3 * se, (mean, exact, se)
        assert np.all(np.asarray(samples) >= 0)
        # Not a constant: the estimator really samples.
        assert np.std(samples) > 0.1 * exact


def test_gnb_is_batch_times_squared_bartlett_gradient_along_d():
    # The reverse-mode formula of Sophia: u = grad of the mean CE on labels
    # sampled from softmax(logits); gnb = B * <u, d>^2. Same key, same labels.
    with jax.enable_x64(True):
        p, d = as_jnp(W0), as_jnp(D)
        key = jax.random.key(3)
        labels = jax.random.categorical(key, logits_fn(p), axis=-1)

        def sampled_ce(q):
            return jnp.mean(
                optax.softmax_cross_entropy_with_integer_labels(logits_fn(q), labels)
            )

        u = jax.grad(sampled_ce)(p)
        want = len(X) * optax.tree.vdot(u, d) ** 2
        np.testing.assert_allclose(GNB(logits_fn, p, d, key), want, rtol=1e-10)


def test_gauss_newton_is_not_the_hessian_off_linear_models_and_never_negative():
    # A two-layer tanh model: the Hessian has a term in the logits' second
    # derivatives that the Gauss-Newton matrix drops; GN stays >= 0.
    with jax.enable_x64(True):
        p = {
            "w1": jnp.asarray(RNG.normal(size=(4, 6))),
            "w2": jnp.asarray(RNG.normal(size=(6, 3))),
        }
        logits = lambda q: jnp.tanh(jnp.asarray(X) @ q["w1"]) @ q["w2"]
        loss = lambda q: jnp.mean(
            optax.softmax_cross_entropy_with_integer_labels(logits(q), Y)
        )
        gns, hvps = [], []
        for i in range(8):
            d = jax.tree.map(
                lambda x, k=i: jax.random.normal(jax.random.key(k), x.shape), p
            )
            gns.append(GN(logits, p, d))
            hvps.append(HVP(loss, p, d)[1])
        assert min(gns) >= 0
        assert not np.allclose(gns, hvps, rtol=1e-3)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_estimates_are_float32_for_low_precision_params(dtype):
    p, d = as_jnp(W0, dtype), as_jnp(D, dtype)
    loss = lambda q: jnp.mean(
        optax.softmax_cross_entropy_with_integer_labels(
            (jnp.asarray(X, dtype) @ q["w"] + q["b"]).astype(jnp.float32), Y
        )
    )
    lf = lambda q: jnp.asarray(X, dtype) @ q["w"] + q["b"]
    outs = [
        HVP(loss, p, d)[1],
        *SLOPE(loss, p, d),
        GN(lf, p, d),
        GNB(lf, p, d, jax.random.key(0)),
    ]
    for out in outs:
        assert out.dtype == jnp.float32 and out.shape == ()
    ref = numpy_gauss_newton(W0, D)
    np.testing.assert_allclose(outs[3], ref, rtol=5e-2)


def test_scalar_logits_are_rejected():
    with pytest.raises(ValueError, match="num_classes"):
        GN(lambda q: jnp.sum(q), jnp.ones(3), jnp.ones(3))

"""The greedy step along the gradient (``python -m benchmarks along``)."""

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import along, tasks


def test_profile_finds_the_exact_line_search_step_on_the_quadratic():
    task = tasks.get("quadratic")
    params = task.init(jax.random.key(0))
    data = task.batch(jnp.arange(task.n_train, dtype=jnp.int32))
    f = lambda p: task.loss(p, data)
    g = jax.grad(f)(params)
    curvature = jax.jvp(jax.grad(f), (params,), (g,))[1]
    exact = float(jnp.vdot(g, g) / jnp.vdot(g, curvature))
    out = along.profile(task, params)
    # The grid's best step is within half a decade of the exact one, and the
    # loss along the gradient is the quadratic's: 1 - s g.g / f + ... at s.
    assert abs(np.log10(out["best_step"] / exact)) <= 0.5
    assert out["loss"] == float(f(params))
    for s, ratio in zip(along.SCALES, out["ratios"]):
        model = f(params) - s * jnp.vdot(g, g) + 0.5 * s**2 * jnp.vdot(g, curvature)
        np.testing.assert_allclose(ratio, float(model) / out["loss"], rtol=1e-3)


def test_run_reports_each_method_and_its_own_step():
    text = along.run("quadratic", ["sgd-cosine", "glyder-sgd-paper"], steps=5)
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]
    assert [r.split(" | ")[0] for r in rows] == ["| sgd-cosine", "| glyder-sgd-paper"]
    step = float(rows[1].split(" | ")[1])  # GLyDER's eta, from its log
    assert step > 0

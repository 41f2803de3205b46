"""How long a greedy step along the gradient is, where a run ended.

For each method: one run of seed 0 (a tuned entry runs its grid and keeps the
learning rate with the best final metric), then, at its final params, the
training loss over the whole training set along its full-batch gradient,
``f(x - s g) / f(x)`` for ``s`` on a log grid, and the best ``s`` of the
grid: the exact line search step, the step a greedy method (GLyDER over SGD)
aims at. A tuned fixed step far above it that still trains is what a greedy
step cannot follow (``python -m benchmarks along --help``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common, methods, runner, tasks

SCALES = tuple(10.0 ** np.arange(-8.0, 0.25, 0.5))


def final_params(task: tasks.Task, method: methods.Method, steps: int):
    """(params at the end of seed 0's run, its step scale: the tuned lr or the
    method's last logged value (GLyDER's eta), or None)."""
    res = runner.train(task, method, seeds=(0,), steps=steps, eval_points=1)
    final = res.evals[task.metric][:, 0, -1]
    best = int(np.argmin(np.where(np.isfinite(final), final, np.inf)))
    params = jax.tree.map(lambda x: x[best, 0], res.params)
    if res.lrs is not None:
        return params, res.lrs[best]
    return params, None if res.logged is None else float(res.logged[best, 0, -1])


def profile(task: tasks.Task, params, scales=SCALES) -> dict:
    """``f(x - s g) / f(x)`` over ``scales``, on the whole training set."""
    data = task.batch(jnp.arange(task.n_train, dtype=jnp.int32))
    loss = lambda p: task.loss(p, data)
    f0, g = jax.value_and_grad(loss)(params)
    along = jax.jit(
        jax.vmap(lambda s: loss(jax.tree.map(lambda p, u: p - s * u, params, g)))
    )
    ratios = np.asarray(along(jnp.asarray(scales, jnp.float32))) / float(f0)
    ratios = np.where(np.isfinite(ratios), ratios, np.inf)
    best = int(np.argmin(ratios))
    return {"loss": float(f0), "ratios": ratios.tolist(), "best_step": scales[best]}


def run(task_name: str, names, steps: int | None = None) -> str:
    task = tasks.get(task_name)
    steps = steps or task.steps
    rows = []
    for name in names:
        params, scale = final_params(task, methods.get(name), steps)
        p = profile(task, params)
        rows.append(
            [
                name,
                "-" if scale is None else scale,
                p["loss"],
                p["best_step"],
                min(p["ratios"]),
            ]
            + [p["ratios"][i] for i in range(0, len(SCALES), 4)]
        )
    head = ["method", "its step (lr or eta)", "train loss", "best s", "f(best)/f"]
    head += [f"f(s={SCALES[i]:.0e})/f" for i in range(0, len(SCALES), 4)]
    title = (
        f"{task_name}, {steps} steps, seed 0: the training loss along the"
        " full-batch gradient at each run's final params\n\n"
    )
    return title + common.markdown_table(head, rows)

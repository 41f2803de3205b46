"""Training runs: a grid x seeds of one method on one task as one program.

:func:`train` compiles one jitted step function: a ``lax.scan`` over a chunk
of steps, ``jax.vmap``-ed over seeds and over the learning-rate grid. The
optimizer is built *inside* the vmapped function from the traced learning
rate (``method.build(lr, info)``; schedules get a traced peak), so every grid
point shares one compilation. Minibatches are gathered inside the scan from
device-resident arrays: each seed has its own key, which fixes both the model
initialisation and the batch order (a fresh permutation per epoch, from
``fold_in(key, epoch)``, or sampling with replacement for charlm). Every method
sees the same initialisations and batches for the same seed.

The run is split into ``eval_points`` chunks (one compiled chunk length, plus
at most one for a remainder); between chunks the task's held-out metrics are
evaluated (vmapped as well) and a progress bar advances.

Sharding: the leading (grid) axis of the carry can be laid out on a device
mesh: ``mesh = jax.make_mesh((n,), ('runs',))`` and
``jax.device_put(carry, NamedSharding(mesh, P('runs')))``; jit then runs each
device's share of grid points with no communication (runs are independent).
:func:`train` does this when more than one device is visible and the grid
size is a multiple of the device count (:func:`shard_runs`).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from benchmarks.methods import Method, TaskInfo
from benchmarks.tasks import Task


@dataclasses.dataclass
class RunResult:
    """Outputs of :func:`train`; arrays have leading axes (grid, seed)."""

    lrs: list[float] | None  # the grid; None for untuned methods (one point).
    seeds: list[int]
    eval_steps: list[int]  # steps at which metrics were evaluated (0 first).
    evals: dict[str, np.ndarray]  # metric -> (G, S, len(eval_steps)).
    train_loss: np.ndarray  # (G, S, steps): minibatch loss before each update.
    eta: np.ndarray | None  # (G, S, steps): GLyDER's eta after each update.
    params: Any  # final params, leaves (G, S, ...).
    opt_state: Any  # final optimizer states, leaves (G, S, ...).
    wall_s: float  # wall time of the run, compilation included.


def task_info(task: Task, steps: int, prepared: Any = None) -> TaskInfo:
    return TaskInfo(
        task=task.name,
        total_steps=steps,
        n_train=task.n_train,
        batch_size=task.batch_size or task.n_train,
        has_logits=task.logits is not None,
        f_star=task.f_star,
        prepared=prepared,
    )


def batch_indices(task: Task, key: jax.Array, t: jax.Array) -> jax.Array:
    """Sample indices of step ``t``'s minibatch for the seed with ``key``."""
    n, size = task.n_train, task.batch_size
    if size is None:
        return jnp.arange(n, dtype=jnp.int32)
    if task.sampling == "replacement":
        return jax.random.randint(jax.random.fold_in(key, t), (size,), 0, n)
    per_epoch = n // size
    perm = jax.random.permutation(jax.random.fold_in(key, t // per_epoch), n)
    return jax.lax.dynamic_slice(perm, ((t % per_epoch) * size,), (size,))


def _extra_args(method: Method, task: Task, key, t, params, idx, value):
    needed, out = method.extra_args, {}
    if "value" in needed:
        out["value"] = value
    if "indices" in needed:
        out["indices"] = idx

    # The independent batch (the next one) is gathered inside the closures,
    # so it is traced where they are called: inside GLyDER's refresh branch,
    # not paid on the steps that hold eta.
    def nxt():
        return task.batch(batch_indices(task, key, t + 1))

    if "obj_fn" in needed:
        out["obj_fn"] = lambda p: task.loss(p, nxt())
    if "logits_fn" in needed:
        out["logits_fn"] = lambda p: task.logits(p, nxt())
    return out


def _programs(task: Task, method: Method, info: TaskInfo, batched: bool = True):
    """(init, chunk, evaluate), each vmapped over (grid, seed) and jitted.

    ``batched=False`` gives the same programs for one run (scalar ``lr`` and
    ``seed``), not vmapped: under ``vmap`` a ``lax.cond`` whose predicate
    depends on the (batched) state runs both branches, so only an unbatched
    program shows the per-step cost a single training run pays.
    """

    def build(lr):
        return method.build(lr if method.tuned else None, info)

    def init_one(lr, seed):
        k_init, k_data = jax.random.split(jax.random.key(seed))
        params = task.init(k_init)
        return params, build(lr).init(params), k_data

    def chunk_one(lr, carry, t0, length):
        opt = build(lr)

        def step(carry, t):
            params, state, key = carry
            idx = batch_indices(task, key, t)
            value, grad = jax.value_and_grad(task.loss)(params, task.batch(idx))
            extra = _extra_args(method, task, key, t, params, idx, value)
            updates, state = opt.update(grad, state, params, **extra)
            # GLyDER's step multiplier, for the eta curves (None otherwise).
            glyder = optax.tree.get(state, "GlyderState")
            eta = None if glyder is None else glyder.eta
            return (optax.apply_updates(params, updates), state, key), (value, eta)

        return jax.lax.scan(step, carry, t0 + jnp.arange(length))

    def eval_one(carry):
        params, state, _ = carry
        if method.eval_params is not None:
            params = method.eval_params(state, params)
        return task.evaluate(params)

    def grid(f, in_axes):
        return jax.vmap(jax.vmap(f, in_axes[1]), in_axes[0]) if batched else f

    init = jax.jit(grid(init_one, ((0, None), (None, 0))))
    chunk = jax.jit(
        grid(chunk_one, ((0, 0, None, None), (None, 0, None, None))),
        static_argnums=3,
    )
    evaluate = jax.jit(grid(eval_one, (0, 0)))
    return init, chunk, evaluate


def shard_runs(tree: Any, size: int) -> Any:
    """Lays the leading (grid) axis over all devices when it divides evenly."""
    devices = jax.devices()
    if len(devices) == 1 or size % len(devices):
        return tree
    mesh = jax.make_mesh((len(devices),), ("runs",))
    return jax.device_put(tree, NamedSharding(mesh, P("runs")))


def train(
    task: Task,
    method: Method,
    seeds: Sequence[int] = (0, 1, 2),
    steps: int | None = None,
    eval_points: int = 10,
    prepared: Any = None,
    progress=None,
) -> RunResult:
    """Runs ``method`` on ``task`` for its whole grid x ``seeds``."""
    start = time.perf_counter()
    steps = steps or task.steps
    info = task_info(task, steps, prepared)
    lrs = method.grid if method.tuned else (1.0,)
    init, chunk, evaluate = _programs(task, method, info)
    lr_arr = shard_runs(jnp.asarray(lrs, jnp.float32), len(lrs))
    carry = init(lr_arr, jnp.asarray(seeds, jnp.int32))
    carry = shard_runs(carry, len(lrs))

    n_chunks = max(1, min(eval_points, steps))
    size = steps // n_chunks
    lengths = [size] * (n_chunks - 1) + [steps - size * (n_chunks - 1)]
    evals, losses, etas, eval_steps, t = [evaluate(carry)], [], [], [0], 0
    bar = (
        progress(total=steps, desc=f"{task.name} {method.name}", leave=False)
        if (progress)
        else None
    )
    for length in lengths:
        carry, (loss, eta) = chunk(lr_arr, carry, jnp.asarray(t, jnp.int32), length)
        t += length
        evals.append(evaluate(carry))
        losses.append(loss)
        etas.append(eta)
        eval_steps.append(t)
        if bar is not None:
            jax.block_until_ready(loss)
            bar.update(length)
    if bar is not None:
        bar.close()
    evals = {k: np.stack([np.asarray(e[k]) for e in evals], -1) for k in evals[0]}
    params, state, _ = carry
    return RunResult(
        lrs=list(lrs) if method.tuned else None,
        seeds=list(seeds),
        eval_steps=eval_steps,
        evals=evals,
        train_loss=np.concatenate([np.asarray(x) for x in losses], -1),
        eta=None
        if etas[0] is None
        else np.concatenate([np.asarray(x) for x in etas], -1),
        params=params,
        opt_state=state,
        wall_s=time.perf_counter() - start,
    )


# ----------------------------------------------------------------------------
# Summaries (shared with report.py, which recomputes them from JSON).


def seed_median(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Median over seeds; a non-finite run counts as +inf (diverged)."""
    return np.median(np.where(np.isfinite(x), x, np.inf), axis=axis)


def downsample(curve: np.ndarray, points: int = 250) -> tuple[list[int], np.ndarray]:
    """Window means of a (..., steps) curve at <= ``points`` steps."""
    steps = curve.shape[-1]
    edges = np.unique(np.linspace(0, steps, min(points, steps) + 1).astype(int))
    means = np.stack(
        [curve[..., a:b].mean(-1) for a, b in itertools.pairwise(edges)], -1
    )
    return [int(b) for b in edges[1:]], means

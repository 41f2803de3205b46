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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from benchmarks.tasks import Task, TaskInfo, task_info

if TYPE_CHECKING:  # the registry imports nothing from here, nor this from it
    from benchmarks.methods import Method

# The share of the training set that an ``obj_batch="holdout"`` entry keeps
# out of training and draws its estimate batches from.
HOLDOUT_FRACTION = 0.2
# The share that an ``obj_batch="validation"`` entry keeps out of training,
# and the most examples of it that its ``val_fn`` evaluates (always the same).
VALIDATION_FRACTION = 0.1
VALIDATION_MAX = 256


@dataclasses.dataclass
class RunResult:
    """Outputs of :func:`train`; arrays have leading axes (grid, seed)."""

    lrs: list[float] | None  # the grid; None for untuned methods (one point).
    seeds: list[int]
    eval_steps: list[int]  # steps at which metrics were evaluated (0 first).
    evals: dict[str, np.ndarray]  # metric -> (G, S, len(eval_steps)).
    train_loss: np.ndarray  # (G, S, steps): minibatch loss before each update.
    logged: np.ndarray | None  # (G, S, steps): method.log(state) after each update.
    params: Any  # final params, leaves (G, S, ...).
    opt_state: Any  # final optimizer states, leaves (G, S, ...).
    wall_s: float  # wall time of the run, compilation included.


def batch_indices(
    task: Task, key: jax.Array, t: jax.Array, n: int | None = None
) -> jax.Array:
    """Sample indices of step ``t``'s minibatch for the seed with ``key``.

    ``n`` (default: all of the task's ``n_train``) restricts the draw to the
    first ``n`` training examples.
    """
    n, size = n or task.n_train, task.batch_size
    if size is None:
        return jnp.arange(n, dtype=jnp.int32)
    size = min(size, n)
    if task.sampling == "replacement":
        return jax.random.randint(jax.random.fold_in(key, t), (size,), 0, n)
    if task.sampling == "stream":  # consecutive examples from a per-seed start
        start = jax.random.randint(key, (), 0, n) + t * size
        return (start + jnp.arange(size, dtype=jnp.int32)) % n
    per_epoch = n // size
    perm = jax.random.permutation(jax.random.fold_in(key, t // per_epoch), n)
    return jax.lax.dynamic_slice(perm, ((t % per_epoch) * size,), (size,))


def holdout_split(task: Task, fraction: float = HOLDOUT_FRACTION) -> tuple[int, int]:
    """(examples trained on, examples held out) of an ``obj_batch="holdout"``
    run; with ``VALIDATION_FRACTION``, of a ``"validation"`` run."""
    held = max(1, round(fraction * task.n_train))
    return task.n_train - held, held


def validation_indices(task: Task) -> jax.Array:
    """The fixed held-out examples that a ``"validation"`` run's ``val_fn``
    evaluates: the first ``VALIDATION_MAX`` of its held-out split."""
    fit, held = holdout_split(task, VALIDATION_FRACTION)
    return fit + jnp.arange(min(held, VALIDATION_MAX), dtype=jnp.int32)


def _batches(method: Method, task: Task, key, t):
    """(gradient batch indices, a closure gathering the obj_fn batch)."""
    if method.obj_batch == "holdout":
        fit, held = holdout_split(task)
        idx = batch_indices(task, key, t, fit)
        draw = jax.random.fold_in(jax.random.fold_in(key, 2**30), t)
        est = fit + jax.random.randint(draw, idx.shape, 0, held)
        return idx, lambda: task.batch(est)
    if method.obj_batch == "validation":
        fit, _ = holdout_split(task, VALIDATION_FRACTION)
        idx = batch_indices(task, key, t, fit)
        return idx, lambda: task.batch(batch_indices(task, key, t + 1, fit))
    idx = batch_indices(task, key, t)
    if method.obj_batch == "same":
        return idx, lambda: task.batch(idx)
    if method.obj_batch == "split":
        half = idx.shape[0] // 2
        return idx[:half], lambda: task.batch(idx[half:])
    # The next batch is gathered inside the closure, so it is traced where it
    # is called: inside GLyDER's refresh branch, not paid on held steps.
    return idx, lambda: task.batch(batch_indices(task, key, t + 1))


class PerExampleObjective:
    """``obj_fn`` (params -> the mean loss on the estimate batch) whose
    ``each(params)`` gives the loss of every example of that batch, the
    penalty included (a classifier's cross-entropy): for the study's
    estimators that look at the examples one by one."""

    def __init__(self, task: Task, obj_batch):
        self.task, self.obj_batch = task, obj_batch

    def __call__(self, params):
        return self.task.loss(params, self.obj_batch())

    def each(self, params):
        batch = self.obj_batch()
        losses = optax.losses.softmax_cross_entropy_with_integer_labels(
            self.task.logits(params, batch), batch["y"]
        )
        if self.task.penalty is not None:
            losses = losses + self.task.penalty(params)
        return losses


def _extra_args(method: Method, task: Task, idx, value, obj_batch) -> dict[str, Any]:
    needed, out = method.extra_args, {}
    if "value" in needed:
        out["value"] = value
    if "indices" in needed:
        out["indices"] = idx
    if "obj_fn_each" in needed:  # obj_fn, also example by example
        out["obj_fn"] = PerExampleObjective(task, obj_batch)
    elif "obj_fn" in needed:
        out["obj_fn"] = lambda p: task.loss(p, obj_batch())
    if "logits_fn" in needed:
        out["logits_fn"] = lambda p: task.logits(p, obj_batch())
    if "val_fn" in needed:
        out["val_fn"] = lambda p: task.loss(p, task.batch(validation_indices(task)))
    return out


def programs(task: Task, method: Method, info: TaskInfo, batched: bool = True):
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
            idx, obj_batch = _batches(method, task, key, t)
            value, grad = jax.value_and_grad(task.loss)(params, task.batch(idx))
            extra = _extra_args(method, task, idx, value, obj_batch)
            updates, state = opt.update(grad, state, params, **extra)
            logged = None if method.log is None else method.log(state)
            return (optax.apply_updates(params, updates), state, key), (value, logged)

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


def _prepared_info(task: Task, method: Method, steps: int, prepared: Any) -> TaskInfo:
    """The task's info, with the result of the method's prepare hook (run here
    unless ``prepared`` is given)."""
    if prepared is None and method.prepare is not None:
        prepared = method.prepare(task, task_info(task, steps), train)
    return task_info(task, steps, prepared)


def single_run(task: Task, method: Method, steps: int) -> Callable[[], Any]:
    """One training run as a user runs it, for timing: a callable that runs
    ``steps`` steps from a fixed start (seed 0; the middle of the grid for a
    tuned entry) as one jitted, unbatched scan and blocks until it is done.

    Not vmapped: under ``vmap`` a ``lax.cond`` whose predicate is batched (e.g.
    GLyDER's refresh every k steps) runs both branches, so only an unbatched
    program shows the per-step cost that one training run pays.
    """
    lr = None if not method.tuned else method.grid[len(method.grid) // 2]
    info = _prepared_info(task, method, steps, None)
    init, chunk, _ = programs(task, method, info, batched=False)
    lr = jnp.asarray(1.0 if lr is None else lr, jnp.float32)
    carry = init(lr, jnp.asarray(0, jnp.int32))
    t0 = jnp.asarray(0, jnp.int32)
    return lambda: jax.block_until_ready(chunk(lr, carry, t0, steps))


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
    info = _prepared_info(task, method, steps, prepared)
    lrs = method.grid if method.tuned else (1.0,)
    init, chunk, evaluate = programs(task, method, info)
    lr_arr = shard_runs(jnp.asarray(lrs, jnp.float32), len(lrs))
    carry = init(lr_arr, jnp.asarray(seeds, jnp.int32))
    carry = shard_runs(carry, len(lrs))

    n_chunks = max(1, min(eval_points, steps))
    size = steps // n_chunks
    lengths = [size] * (n_chunks - 1) + [steps - size * (n_chunks - 1)]
    evals, losses, logs, eval_steps, t = [evaluate(carry)], [], [], [0], 0
    bar = (
        progress(total=steps, desc=f"{task.name} {method.name}", leave=False)
        if (progress)
        else None
    )
    for length in lengths:
        carry, (loss, logged) = chunk(lr_arr, carry, jnp.asarray(t, jnp.int32), length)
        t += length
        evals.append(evaluate(carry))
        losses.append(loss)
        logs.append(logged)
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
        logged=None
        if method.log is None
        else np.concatenate([np.asarray(x) for x in logs], -1),
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

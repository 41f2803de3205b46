"""GLyDER design ablation on sklearn digits (an MLP, minibatches, public API only).

Each GLyDER design choice switched off in turn, over an SGD and an Adam base,
untuned (learning_rate=1), a few seeds: held-out loss and accuracy at the end,
the worst over seeds, whether any run diverged, and the median eta.

    .venv/bin/python -m benchmarks.glyder_ablation            # ~2 min, 2 CPUs
    .venv/bin/python -m benchmarks.glyder_ablation --steps 200 --seeds 1
    .venv/bin/python -m benchmarks.glyder_ablation --overhead  # ms per step
    .venv/bin/python -m benchmarks.glyder_ablation --task lad  # a harness task

Writes a Markdown table to stdout and JSON to results/glyder_ablation/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import glyder_optax as go

BATCH = 64
VARIANTS = {
    # name: (glyder kwargs, estimate batch: "next" | "same" | "split")
    "default (hvp, b=0.9, cap 1.05, k=1, next batch)": ({}, "next"),
    "no smoothing (b=0)": ({"smoothing": 0.0}, "next"),
    "no growth cap": ({"max_growth": jnp.inf}, "next"),
    "same batch as the gradient": ({}, "same"),
    "split batch (halves)": ({}, "split"),
    "gauss_newton": ({"estimator": "gauss_newton"}, "next"),
    "gnb": ({"estimator": "gnb"}, "next"),
    "k=10": ({"refresh_every": 10}, "next"),
    "no secant curvature": ({"secant": False}, "next"),
    "no f_min floor": ({"f_min": None}, "next"),
    "neither secant nor f_min": ({"secant": False, "f_min": None}, "next"),
}
BASES = {"sgd": optax.identity, "adam": optax.scale_by_adam}


def data():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x))
    x, y = x[perm], y[perm].astype(np.int32)
    return (x[:1400], y[:1400]), (x[1400:], y[1400:])


def init_mlp(key, sizes=(64, 64, 10)):
    params = []
    for k, (m, n) in zip(
        jax.random.split(key, len(sizes) - 1), itertools.pairwise(sizes)
    ):
        params.append((jax.random.normal(k, (m, n)) / np.sqrt(m), jnp.zeros(n)))
    return params


def logits_fn(params, batch):
    h = batch[0]
    for w, b in params[:-1]:
        h = jnp.tanh(h @ w + b)
    w, b = params[-1]
    return h @ w + b


def loss_fn(params, batch):
    logits = logits_fn(params, batch)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]))


def make_run(
    opt, source, steps, train, track_eta=True, loss_fn=loss_fn, logits_fn=logits_fn
):
    if callable(train):  # a harness task's batch(indices)
        batch = train
    else:
        xs, ys = jnp.asarray(train[0]), jnp.asarray(train[1])

        def batch(idx):
            return xs[idx], ys[idx]

    @jax.jit
    def run(params, order):
        state = opt.init(params)

        def body(carry, t):
            params, state = carry
            cur = batch(order[t])
            if source == "next":
                est = batch(order[t + 1])
            elif source == "same":
                est = cur
            else:
                cur, est = go.training.split_batch(cur)
            grads = jax.grad(loss_fn)(params, cur)
            extra = {"obj_fn": lambda p: loss_fn(p, est)}
            if logits_fn is not None:
                extra["logits_fn"] = lambda p: logits_fn(p, est)
            updates, state = opt.update(grads, state, params, **extra)
            eta = go.glyder_state(state).eta if track_eta else jnp.zeros([])
            return (optax.apply_updates(params, updates), state), eta

        (params, _), etas = jax.lax.scan(body, (params, state), jnp.arange(steps))
        return params, etas

    return run


def orders(seed, steps, n, size=BATCH):
    rng = np.random.default_rng(seed)
    per_epoch = n // size
    epochs = (steps + 1) // per_epoch + 1
    idx = np.concatenate(
        [rng.permutation(n)[: per_epoch * size] for _ in range(epochs)]
    )
    return jnp.asarray(idx.reshape(-1, size)[: steps + 1])


def task_rows(task_name, steps, seeds):
    """The variants on a harness task (``benchmarks.tasks``), by its metric."""
    from benchmarks import tasks

    task = tasks.get(task_name)
    size = task.batch_size or task.n_train
    rows = []
    for base_name, base in BASES.items():
        for name, (kwargs, source) in VARIANTS.items():
            if task.logits is None and kwargs.get("estimator", "hvp") != "hvp":
                continue
            run = make_run(
                go.glyder(base(), **kwargs),
                source,
                steps,
                task.batch,
                loss_fn=task.loss,
                logits_fn=task.logits,
            )
            finals, etas = [], []
            for seed in range(seeds):
                params = task.init(jax.random.key(seed))
                params, eta = run(params, orders(seed, steps, task.n_train, size))
                finals.append(float(task.evaluate(params)[task.metric]))
                etas.append(np.asarray(eta))
            rows.append(
                {
                    "base": base_name,
                    "variant": name,
                    "metric": task.metric,
                    "median": float(np.median(finals)),
                    "worst": float(np.max(finals)),
                    "finite": bool(np.all(np.isfinite(finals))),
                    "eta_max": float(np.max(np.concatenate(etas))),
                }
            )
            print(rows[-1], flush=True)
    print(f"\n{task_name}: {seeds} seeds, {steps} steps, learning_rate=1\n")
    print(f"| base | variant | {task.metric} median / worst | max eta |")
    print("|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['base']} | {r['variant']} | {r['median']:.3g} / {r['worst']:.3g}"
            f" | {r['eta_max']:.3g} |"
        )
    return rows


def overhead(train, steps=300, repeats=5):
    """Seconds per step of the scanned train step: base alone vs GLyDER k=1, 10."""
    params = init_mlp(jax.random.key(0))
    order = orders(0, steps, len(train[0]))
    rows = []
    for base_name, base in BASES.items():
        configs = {
            "base (lr 0.1)": optax.chain(base(), optax.scale_by_learning_rate(0.1)),
            "glyder k=1": go.glyder(base()),
            "glyder k=10": go.glyder(base(), refresh_every=10),
        }
        for name, opt in configs.items():
            run = make_run(opt, "next", steps, train, track_eta=name != "base (lr 0.1)")
            jax.block_until_ready(run(params, order))  # compile
            best = np.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                jax.block_until_ready(run(params, order))
                best = min(best, time.perf_counter() - t0)
            rows.append(
                {"base": base_name, "opt": name, "ms_per_step": 1e3 * best / steps}
            )
            print(rows[-1], flush=True)
    print("\n| base | optimizer | ms / step (best of 5) | vs base |\n|---|---|---|---|")
    for r in rows:
        ref = next(x for x in rows if x["base"] == r["base"])["ms_per_step"]
        print(
            f"| {r['base']} | {r['opt']} | {r['ms_per_step']:.3f} |"
            f" {r['ms_per_step'] / ref:.2f}x |"
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="results/glyder_ablation")
    parser.add_argument(
        "--overhead", action="store_true", help="time base vs GLyDER steps only"
    )
    parser.add_argument("--task", help="a harness task instead of the MLP, e.g. lad")
    args = parser.parse_args(argv)
    if args.task:
        rows = task_rows(args.task, args.steps, args.seeds)
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{args.task}.json").write_text(json.dumps(rows, indent=1))
        return
    train, test = data()
    if args.overhead:
        rows = overhead(train)
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "overhead.json").write_text(json.dumps(rows, indent=1))
        return
    test_batch = (jnp.asarray(test[0]), jnp.asarray(test[1]))
    rows = []
    for base_name, base in BASES.items():
        for name, (kwargs, source) in VARIANTS.items():
            opt = go.glyder(base(), **kwargs)
            run = make_run(opt, source, args.steps, train)
            losses, accs, etas, diverged = [], [], [], False
            t0 = time.perf_counter()
            for seed in range(args.seeds):
                params = init_mlp(jax.random.key(seed))
                params, eta = run(params, orders(seed, args.steps, len(train[0])))
                loss = float(loss_fn(params, test_batch))
                acc = float(
                    jnp.mean(jnp.argmax(logits_fn(params, test_batch), -1) == test[1])
                )
                diverged |= not np.isfinite(loss) or loss > 10
                losses.append(loss)
                accs.append(acc)
                etas.append(np.asarray(eta))
            seconds = time.perf_counter() - t0
            rows.append(
                {
                    "base": base_name,
                    "variant": name,
                    "test_loss_mean": float(np.mean(losses)),
                    "test_loss_worst": float(np.max(losses)),
                    "test_acc_mean": float(np.mean(accs)),
                    "diverged": bool(diverged),
                    "eta_median": float(np.median(np.concatenate(etas))),
                    "eta_last": float(np.mean([e[-1] for e in etas])),
                    "seconds": seconds,
                }
            )
            print(rows[-1], flush=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(
        json.dumps({"args": vars(args), "rows": rows}, indent=1)
    )
    print(f"\n{args.seeds} seeds, {args.steps} steps, batch {BATCH}, MLP 64-64-10,")
    print("sklearn digits (1400 train / 397 held out), learning_rate=1 (untuned)\n")
    print(
        "| base | variant | held-out loss (mean / worst) | acc | diverged |"
        " eta median / last |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['base']} | {r['variant']} | {r['test_loss_mean']:.3f} /"
            f" {r['test_loss_worst']:.3f} | {r['test_acc_mean']:.3f} |"
            f" {'yes' if r['diverged'] else 'no'} | {r['eta_median']:.3g} /"
            f" {r['eta_last']:.3g} |"
        )


if __name__ == "__main__":
    main()

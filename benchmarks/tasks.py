"""Benchmark tasks: a model, its data on device, a loss, held-out metrics.

Every task is offline: its data is a formula, synthetic (fixed seed), one of
scikit-learn's bundled data sets, or Python's bundled documentation text
(``pydoc_data.topics``). A :class:`Task` is pure: ``loss(params, batch)`` and
``evaluate(params)`` are jit-able functions of a params pytree, ``batch(idx)``
gathers a minibatch from device-resident arrays by sample indices, so a whole
training run is one ``lax.scan`` (see :mod:`benchmarks.runner`).

Metrics: ``gap`` is the full training objective minus f* (f* exact, from a
linear program, or from a full-batch L-BFGS solve in float64); ``test_loss``
is the held-out loss (nats per example, or nats per character for charlm);
``test_acc`` the held-out accuracy. Each task names its ``metric`` (what tuning
and ratios use, lower is better) and a ``secondary`` one for the tables.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

Batch = Any
Params = Any


@dataclasses.dataclass(frozen=True)
class Task:
    """One benchmark problem. All functions are pure and jit-able."""

    name: str
    init: Callable[[jax.Array], Params]  # PRNG key -> params (seed-dependent).
    loss: Callable[[Params, Batch], jax.Array]  # mean loss on a batch.
    batch: Callable[[jax.Array], Batch]  # int32 sample indices -> batch.
    evaluate: Callable[[Params], dict[str, jax.Array]]  # scalar metrics.
    n_train: int  # samples that indices range over.
    batch_size: int | None  # None: full batch (deterministic gradients).
    steps: int  # the full-suite step budget.
    metric: str  # key of evaluate() that tuning and ratios use (lower = better).
    secondary: str | None = None  # a second metric for the tables.
    logits: Callable[[Params, Batch], jax.Array] | None = None  # classifiers, charlm.
    # 'epochs' (reshuffle each epoch), 'replacement', or 'stream' (consecutive
    # examples of data stored in random order, from a random start per seed:
    # for data seen about once, where a permutation per step costs too much).
    sampling: str = "epochs"
    f_star: float | None = None  # optimal training objective, where known.
    description: str = ""
    # The training loss's penalty term (an L2 weight decay), where it has one:
    # params -> the part of loss() that is not the data's.
    penalty: Callable[[Params], jax.Array] | None = None


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """What a method's builder may know about the task it runs on."""

    task: str
    total_steps: int
    n_train: int
    batch_size: int  # n_train for full-batch tasks.
    has_logits: bool
    f_star: float | None
    prepared: Any = None  # the result of the entry's prepare hook, if any.
    penalty: Callable[[Params], jax.Array] | None = None  # Task.penalty


def task_info(task: Task, steps: int, prepared: Any = None) -> TaskInfo:
    return TaskInfo(
        task=task.name,
        total_steps=steps,
        n_train=task.n_train,
        batch_size=task.batch_size or task.n_train,
        has_logits=task.logits is not None,
        f_star=task.f_star,
        prepared=prepared,
        penalty=task.penalty,
    )


# ----------------------------------------------------------------------------
# Helpers.


def _split(n: int, test_fraction: float, seed: int = 0):
    perm = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_fraction)
    return perm[n_test:], perm[:n_test]


def _standardise(x_train, x_test):
    mean, std = x_train.mean(0), x_train.std(0)
    std = np.where(std > 0, std, 1.0)
    return (x_train - mean) / std, (x_test - mean) / std


def _gather(arrays: dict[str, jax.Array]) -> Callable[[jax.Array], Batch]:
    return lambda idx: {k: v[idx] for k, v in arrays.items()}


def _xent(logits, labels):
    return optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def _accuracy(logits, labels):
    return jnp.mean(jnp.argmax(logits, -1) == labels)


def _l2(params, weight):
    return 0.5 * weight * optax.tree.norm(params, squared=True)


# ----------------------------------------------------------------------------
# l0l1: the Inexact Polyak paper's (L0, L1)-smooth scalar (benchmarks/l0l1.py
# runs the paper's figure; this is the same function as a task of the harness).

L0L1_L1 = 10.0


def l0l1(l1: float = L0L1_L1, steps: int = 1000) -> Task:
    from benchmarks import l0l1 as paper

    gap = paper.gap_fn(l1)
    return Task(
        name="l0l1",
        init=lambda key: jnp.asarray(paper.X0, jnp.float32),
        loss=lambda x, batch: gap(x) + paper.F_STAR,
        batch=lambda idx: {},
        evaluate=lambda x: {"gap": gap(x)},
        n_train=1,
        batch_size=None,
        steps=steps,
        metric="gap",
        f_star=paper.F_STAR,
        description=f"(L0, L1)-smooth scalar, L1={l1:g}, x0={paper.X0}, f*=1",
    )


# ----------------------------------------------------------------------------
# quadratic: 0.5 sum_i h_i (x_i - x*_i - z_ji)^2 averaged over samples j.


def quadratic(
    dim: int = 50,
    condition: float = 100.0,
    noise: float = 1.0,
    n: int = 1024,
    batch_size: int = 32,
    steps: int = 1000,
) -> Task:
    """Ill-conditioned quadratic; ``noise`` scales the per-sample shifts z_j.

    The minibatch gradient is h * (x - x* - mean_batch(z)), so its noise is
    controlled by ``noise`` (0: deterministic). The objective's minimiser is
    x* + mean(z) and f - f* = 0.5 sum h (x - x* - mean z)^2 exactly.
    """
    rng = np.random.default_rng(0)
    h = jnp.asarray(np.geomspace(1.0 / condition, 1.0, dim), jnp.float32)
    x_star = rng.normal(size=dim)
    z = noise * rng.normal(size=(n, dim))
    centre = jnp.asarray(x_star + z.mean(0), jnp.float32)
    f_star = float(0.5 * np.sum(np.asarray(h) * z.var(0)))
    data = {"z": jnp.asarray(z, jnp.float32)}
    x_star = jnp.asarray(x_star, jnp.float32)

    def loss(x, batch):
        r = x - x_star - batch["z"]
        return 0.5 * jnp.mean(jnp.sum(h * r**2, -1))

    return Task(
        name="quadratic",
        init=lambda key: jnp.zeros(dim, jnp.float32),
        loss=loss,
        batch=_gather(data),
        evaluate=lambda x: {"gap": 0.5 * jnp.sum(h * (x - centre) ** 2)},
        n_train=n,
        batch_size=batch_size,
        steps=steps,
        metric="gap",
        f_star=f_star,
        description=f"d={dim}, condition {condition:g}, noise {noise:g}, n={n}",
    )


# ----------------------------------------------------------------------------
# Multinomial logistic regression with a small L2 term.

LOGREG_L2 = 1e-3


def _logreg_data(name: str):
    from sklearn import datasets

    if name == "synthetic":
        x, y = datasets.make_classification(
            n_samples=2000,
            n_features=20,
            n_informative=10,
            n_classes=3,
            random_state=0,
        )
    else:
        loader = {
            "digits": datasets.load_digits,
            "breast_cancer": datasets.load_breast_cancer,
            "wine": datasets.load_wine,
            "iris": datasets.load_iris,
        }[name]
        x, y = loader(return_X_y=True)
    return np.asarray(x, np.float64), np.asarray(y)


def _lbfgs_min(fun: Callable, x0: Any, iters: int = 500) -> float:
    """min fun by full-batch optax.lbfgs, in float64."""
    with jax.enable_x64(True):
        x0 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), x0)
        opt = optax.lbfgs()
        value_and_grad = optax.value_and_grad_from_state(fun)

        @jax.jit
        def solve(x):
            def body(carry, _):
                x, state = carry
                value, grad = value_and_grad(x, state=state)
                updates, state = opt.update(
                    grad, state, x, value=value, grad=grad, value_fn=fun
                )
                return (optax.apply_updates(x, updates), state), None

            (x, _), _ = jax.lax.scan(body, (x, opt.init(x)), length=iters)
            return fun(x)

        return float(solve(x0))


def logreg(name: str, batch_size: int = 32, steps: int = 1000) -> Task:
    x, y = _logreg_data(name)
    train, test = _split(len(y), 0.3)
    x_train, x_test = _standardise(x[train], x[test])
    n_classes = int(y.max()) + 1
    dim = x.shape[1]

    def logits(params, batch):
        return batch["x"] @ params["w"] + params["b"]

    def objective(params, batch):
        return _xent(logits(params, batch), batch["y"]) + _l2(params["w"], LOGREG_L2)

    init = lambda key: {
        "w": jnp.zeros((dim, n_classes), jnp.float32),
        "b": jnp.zeros(n_classes, jnp.float32),
    }
    f_star = _lbfgs_min(
        lambda p: objective(p, {"x": jnp.asarray(x_train), "y": y[train]}),
        init(None),
    )
    tr = {"x": jnp.asarray(x_train, jnp.float32), "y": jnp.asarray(y[train])}
    te = {"x": jnp.asarray(x_test, jnp.float32), "y": jnp.asarray(y[test])}

    def evaluate(params):
        return {
            "gap": objective(params, tr) - f_star,
            "test_loss": _xent(logits(params, te), te["y"]),
            "test_acc": _accuracy(logits(params, te), te["y"]),
        }

    return Task(
        name=f"logreg-{name}",
        init=init,
        loss=objective,
        batch=_gather(tr),
        evaluate=evaluate,
        n_train=len(train),
        batch_size=min(batch_size, len(train)),
        steps=steps,
        metric="gap",
        secondary="test_loss",
        logits=logits,
        f_star=f_star,
        description=(
            f"{name}: n_train={len(train)}, d={dim}, {n_classes} classes, "
            f"L2 {LOGREG_L2:g}, f* by L-BFGS (float64)"
        ),
    )


# ----------------------------------------------------------------------------
# Least-absolute-deviation regression (non-smooth), f* from a linear program.


def lad(n: int = 1024, dim: int = 20, batch_size: int = 64, steps: int = 1000) -> Task:
    from scipy.optimize import linprog

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, dim))
    y = x @ rng.normal(size=dim) + rng.laplace(size=n)
    # min_w mean|x w - y| as an LP over (w, t): min sum t, -t <= x w - y <= t.
    eye = np.eye(n)
    sol = linprog(
        np.concatenate([np.zeros(dim), np.ones(n) / n]),
        A_ub=np.block([[x, -eye], [-x, -eye]]),
        b_ub=np.concatenate([y, -y]),
        bounds=[(None, None)] * dim + [(0, None)] * n,
        method="highs",
    )
    f_star = float(sol.fun)
    data = {"x": jnp.asarray(x, jnp.float32), "y": jnp.asarray(y, jnp.float32)}

    def loss(w, batch):
        return jnp.mean(jnp.abs(batch["x"] @ w - batch["y"]))

    return Task(
        name="lad",
        init=lambda key: jnp.zeros(dim, jnp.float32),
        loss=loss,
        batch=_gather(data),
        evaluate=lambda w: {"gap": loss(w, data) - f_star},
        n_train=n,
        batch_size=batch_size,
        steps=steps,
        metric="gap",
        f_star=f_star,
        description=f"n={n}, d={dim}, Laplace noise, f* by linear program",
    )


# ----------------------------------------------------------------------------
# Digits classifiers: a 2-layer MLP (plain pytree) and a small CNN (Flax NNX).


def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    train, test = _split(len(y), 0.3)
    x = np.asarray(x, np.float32) / 16.0
    return (
        {"x": jnp.asarray(x[train]), "y": jnp.asarray(y[train])},
        {"x": jnp.asarray(x[test]), "y": jnp.asarray(y[test])},
    )


def _classifier(
    name,
    init,
    logits,
    tr,
    te,
    batch_size,
    steps,
    description,
    weight_decay=0.0,
    sampling="epochs",
):
    """A classifier scored on held-out cross-entropy (accuracy secondary).

    ``weight_decay`` adds ``0.5 * weight_decay * ||params||^2`` to the training
    loss (every method sees it); the held-out loss is the plain cross-entropy.
    """

    def evaluate(params):
        out = logits(params, te)
        return {"test_loss": _xent(out, te["y"]), "test_acc": _accuracy(out, te["y"])}

    def loss(params, batch):
        value = _xent(logits(params, batch), batch["y"])
        return value + _l2(params, weight_decay) if weight_decay else value

    return Task(
        name=name,
        init=init,
        loss=loss,
        batch=_gather(tr),
        evaluate=evaluate,
        n_train=int(tr["y"].shape[0]),
        batch_size=batch_size,
        steps=steps,
        metric="test_loss",
        secondary="test_acc",
        logits=logits,
        sampling=sampling,
        description=description,
        penalty=functools.partial(_l2, weight=weight_decay) if weight_decay else None,
    )


def mlp_digits(hidden: int = 128, batch_size: int = 64, steps: int = 1000) -> Task:
    tr, te = _digits()

    def init(key):
        k1, k2 = jax.random.split(key)
        glorot = jax.nn.initializers.glorot_normal()
        return {
            "w1": glorot(k1, (64, hidden), jnp.float32),
            "b1": jnp.zeros(hidden, jnp.float32),
            "w2": glorot(k2, (hidden, 10), jnp.float32),
            "b2": jnp.zeros(10, jnp.float32),
        }

    def logits(p, batch):
        h = jax.nn.relu(batch["x"] @ p["w1"] + p["b1"])
        return h @ p["w2"] + p["b2"]

    return _classifier(
        "mlp-digits",
        init,
        logits,
        tr,
        te,
        batch_size,
        steps,
        f"64-{hidden}-10 ReLU MLP, digits 70/30 split",
    )


def _nnx_task_parts(make_model: Callable[[jax.Array], Any]):
    """(init, apply) of a pure function of an NNX model's nnx.Param state."""
    from flax import nnx

    graphdef, _ = nnx.split(make_model(jax.random.key(0)), nnx.Param)
    init = lambda key: nnx.split(make_model(key), nnx.Param)[1]
    apply = lambda params, *args: nnx.merge(graphdef, params)(*args)
    return init, apply


def cnn_digits(
    batch_size: int = 64, steps: int = 500, name: str = "cnn-digits"
) -> Task:
    from flax import nnx

    class CNN(nnx.Module):
        def __init__(self, rngs: nnx.Rngs):
            self.conv1 = nnx.Conv(1, 8, (3, 3), rngs=rngs)
            self.conv2 = nnx.Conv(8, 16, (3, 3), strides=(2, 2), rngs=rngs)
            self.head = nnx.Linear(16 * 16, 10, rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.conv1(x.reshape(-1, 8, 8, 1)))
            x = nnx.relu(self.conv2(x))
            return self.head(x.reshape(x.shape[0], -1))

    tr, te = _digits()
    init, apply = _nnx_task_parts(lambda key: CNN(nnx.Rngs(key)))
    logits = lambda params, batch: apply(params, batch["x"])
    return _classifier(
        name,
        init,
        logits,
        tr,
        te,
        batch_size,
        steps,
        "Flax NNX CNN: conv3x3(8) conv3x3/2(16) linear, digits 8x8, 70/30",
    )


# ----------------------------------------------------------------------------
# charlm: a small causal character-level transformer (Flax NNX).


def _topics_text() -> str:
    import pydoc_data.topics

    return "".join(
        pydoc_data.topics.topics[k] for k in sorted(pydoc_data.topics.topics)
    )


def charlm(
    layers: int = 2,
    dim: int = 128,
    heads: int = 4,
    context: int = 64,
    batch_size: int = 16,
    steps: int = 500,
    eval_windows: int = 128,
    name: str = "charlm",
) -> Task:
    """Held-out nats/char on ``eval_windows`` fixed, evenly spaced windows."""
    from flax import nnx

    text = _topics_text()
    vocab = sorted(set(text))
    tokens = np.asarray([vocab.index(c) for c in text], np.int32)
    cut = int(0.9 * len(tokens))
    train_tok, test_tok = jnp.asarray(tokens[:cut]), jnp.asarray(tokens[cut:])
    n_windows = cut - context - 1
    starts = np.linspace(0, len(tokens) - cut - context - 1, eval_windows)
    eval_starts = jnp.asarray(starts.astype(np.int32))

    class Block(nnx.Module):
        def __init__(self, rngs):
            self.ln1 = nnx.LayerNorm(dim, rngs=rngs)
            self.attn = nnx.MultiHeadAttention(heads, dim, decode=False, rngs=rngs)
            self.ln2 = nnx.LayerNorm(dim, rngs=rngs)
            self.up = nnx.Linear(dim, 4 * dim, rngs=rngs)
            self.down = nnx.Linear(4 * dim, dim, rngs=rngs)

        def __call__(self, x, mask):
            x = x + self.attn(self.ln1(x), mask=mask)
            return x + self.down(nnx.gelu(self.up(self.ln2(x))))

    class Transformer(nnx.Module):
        def __init__(self, rngs):
            self.embed = nnx.Embed(len(vocab), dim, rngs=rngs)
            self.pos = nnx.Param(
                0.02 * jax.random.normal(rngs.params(), (context, dim))
            )
            self.blocks = nnx.List([Block(rngs) for _ in range(layers)])
            self.ln = nnx.LayerNorm(dim, rngs=rngs)
            self.head = nnx.Linear(dim, len(vocab), rngs=rngs)

        def __call__(self, tok):
            x = self.embed(tok) + self.pos[...]
            mask = nnx.make_causal_mask(tok)
            for block in self.blocks:
                x = block(x, mask)
            return self.head(self.ln(x))

    init, apply = _nnx_task_parts(lambda key: Transformer(nnx.Rngs(key)))

    def windows(source, starts):
        idx = starts[:, None] + jnp.arange(context + 1)
        return source[idx]

    def logits(params, batch):  # (windows, context, symbols): one example a token
        return apply(params, batch["win"][:, :-1])

    def loss(params, batch):
        return _xent(logits(params, batch), batch["win"][:, 1:])

    def evaluate(params):
        batch = {"win": windows(test_tok, eval_starts)}
        out, labels = logits(params, batch), batch["win"][:, 1:]
        return {"test_loss": _xent(out, labels), "test_acc": _accuracy(out, labels)}

    return Task(
        name=name,
        init=init,
        loss=loss,
        batch=lambda idx: {"win": windows(train_tok, idx)},
        evaluate=evaluate,
        n_train=n_windows,
        batch_size=batch_size,
        steps=steps,
        metric="test_loss",
        secondary="test_acc",  # next-character accuracy
        sampling="replacement",
        logits=logits,
        description=(
            f"causal transformer, {layers} layers, d={dim}, {heads} heads, "
            f"context {context}, pydoc_data.topics ({len(text)} chars, "
            f"{len(vocab)} symbols), 90/10 split, held-out nats/char"
        ),
    )


# ----------------------------------------------------------------------------
# The registry: name -> builder (builders are cached; data loads once).

TASKS: dict[str, Callable[..., Task]] = {
    "l0l1": l0l1,
    "quadratic": quadratic,
    "logreg-digits": functools.partial(logreg, "digits"),
    "logreg-breast_cancer": functools.partial(logreg, "breast_cancer"),
    "logreg-wine": functools.partial(logreg, "wine"),
    "logreg-iris": functools.partial(logreg, "iris", batch_size=16),
    "logreg-synthetic": functools.partial(logreg, "synthetic"),
    "lad": lad,
    "mlp-digits": mlp_digits,
    "cnn-digits": cnn_digits,
    "charlm": charlm,
}


def registry() -> dict[str, Callable[..., Task]]:
    """Every task by name: the harness's (:data:`TASKS`) and every zoo's
    (:data:`benchmarks.zoo.ZOOS`)."""
    from benchmarks import zoo

    return {**TASKS, **{n: b for workloads in zoo.ZOOS for n, b in workloads.items()}}


@functools.cache
def get(name: str) -> Task:
    """The task registered as ``name`` (built once per process)."""
    known = registry()
    if name not in known:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(known)}")
    return known[name]()

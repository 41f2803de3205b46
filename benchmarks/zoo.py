"""The workload zoo: what users vary on a task, each a workload of its own.

Learning-rate-free methods are judged on many workloads at once (AlgoPerf:
time to reach a tuned baseline's validation target, over every workload), and
one bad workload sinks a method. The zoo varies what users change without
thinking on small offline classifiers: the input scaling (standardised,
``[0, 1]``, raw), the data size (a small training set trained for many epochs
without weight decay, prone to overfit; a large synthetic one seen once), weight
decay on or off, the batch size (16 / 256), the budget (short / long), and it
keeps the harness's networks (the MLP and the Flax NNX CNN on digits, the
char-level transformer at a smaller size). Every workload is scored on its
held-out cross-entropy (``test_loss``; ``test_acc`` secondary) at its own step
budget.

Data: scikit-learn's bundled data sets (digits, breast cancer, wine, iris) and
``make_classification`` (fixed seeds), nothing downloaded. :data:`HELD_OUT` is a
second zoo of workloads on which no design choice was made (``--suite
zoo-heldout``), to check the choices made on the first; :data:`GROWTH` a third
(``--suite zoo-growth``) whose parameters must grow from a small start, and
:data:`GROWTH_HELD_OUT` (``--suite zoo-growth-heldout``) a fourth, to check the
choices made on the third; :data:`FRESH` (``--suite zoo-fresh``) a fifth,
written after the GLyDER study's twenty-ninth round, to check them all, and
:data:`FRESH2` (``--suite zoo-fresh2``) a sixth, written in its thirty-first
round before any run, to check the choice that round made on the fifth, and
:data:`FRESH3` (``--suite zoo-fresh3``) a seventh, written in its
thirty-sixth round before any run, every budget below 800 steps, and
:data:`FRESH4` (``--suite zoo-fresh4``) an eighth, written in its
thirty-seventh round before any run, every workload from zeros below 800 steps,
and :data:`FRESH5` (``--suite zoo-fresh5``) a ninth, of the same kind, written
in the same round after the eighth had run, before any run of its own, and
:data:`FRESH6` (``--suite zoo-fresh6``) a tenth, of the same kind, written in
the thirty-eighth round before any run, and :data:`FRESH7` (``--suite
zoo-fresh7``) an eleventh, from zeros at 150 to 390 steps, written in the same
round after the tenth had run, before any run of its own, and :data:`FRESH8`
(``--suite zoo-fresh8``) a twelfth, written in the thirty-ninth round before
any run, that mixes the starts again to check every default, and
:data:`FRESH9` (``--suite zoo-fresh9``) a thirteenth, of the same kind,
written in the fortieth round before any run, and :data:`FRESH10`
(``--suite zoo-fresh10``) a fourteenth, of the same kind, written in the
forty-first round before any run. :data:`FROM_ZEROS` (``--suite zoo-zeros``)
gathers every zoo's workloads whose parameters start at zero.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import tasks

SCALINGS = ("std", "01", "raw")


def _scale(x_train, x_test, scaling: str):
    """Standardised (train mean and std), min-max to [0, 1] (train range), or raw."""
    if scaling == "std":
        return tasks._standardise(x_train, x_test)
    if scaling == "01":
        lo, hi = x_train.min(0), x_train.max(0)
        span = np.where(hi > lo, hi - lo, 1.0)
        return (x_train - lo) / span, (x_test - lo) / span
    if scaling == "raw":
        return x_train, x_test
    raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")


# make_classification's arguments, the raw version's feature scales (log10
# range) and offsets (in units of the scale), and the held-out size.
SYNTHETIC = {
    "synth": (  # the zoo's: 5 classes, 40 features, seen once
        {"n_samples": 74_000, "n_features": 40, "n_informative": 20,
         "n_redundant": 10, "n_classes": 5, "flip_y": 0.05, "random_state": 1},
        (-1, 2),
        10,
    ),
    "synth2": (  # the held-out zoo's: 3 classes, 20 features
        {"n_samples": 30_000, "n_features": 20, "n_informative": 8,
         "n_redundant": 4, "n_classes": 3, "class_sep": 0.8, "flip_y": 0.02,
         "random_state": 11},
        (0, 3),
        5,
    ),
    "synth3": (  # the fresh zoo's: 10 classes, 30 features
        {"n_samples": 40_000, "n_features": 30, "n_informative": 15,
         "n_redundant": 5, "n_classes": 10, "n_clusters_per_class": 1,
         "flip_y": 0.03, "random_state": 23},
        (-2, 2),
        20,
    ),
}  # fmt: skip


def _synthetic(name: str):
    """``make_classification`` data; ``<name>_raw``: each feature times 10^U(lo,
    hi), plus an offset of U(-o, o) times that scale (the generator's seed)."""
    from sklearn import datasets

    kwargs, (lo, hi), offset = SYNTHETIC[name.removesuffix("_raw")]
    x, y = datasets.make_classification(**kwargs)
    if name.endswith("_raw"):
        rng = np.random.default_rng(kwargs["random_state"])
        scale = 10 ** rng.uniform(lo, hi, x.shape[1])
        x = x * scale + rng.uniform(-offset, offset, x.shape[1]) * scale
    return np.asarray(x, np.float64), np.asarray(y), 10_000


@functools.cache
def _dataset(name: str):
    """(x, y, n_test) of a bundled data set or of :data:`SYNTHETIC`'s."""
    from sklearn import datasets

    if name.removesuffix("_raw") in SYNTHETIC:
        return _synthetic(name)
    if name == "moons":  # two interleaved half-circles, 2 features
        x, y = datasets.make_moons(n_samples=3000, noise=0.3, random_state=5)
        return np.asarray(x, np.float64), np.asarray(y), 900
    loader = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "iris": datasets.load_iris,
    }[name]
    x, y = loader(return_X_y=True)
    return np.asarray(x, np.float64), np.asarray(y), round(0.3 * len(y))


def _mlp_init(
    sizes: Sequence[int], init_scale: float = 1.0, zero_head: bool = False
) -> Callable[[jax.Array], list]:
    """Glorot-normal weights times ``init_scale`` (the last layer's zero with
    ``zero_head``), zero biases."""
    glorot = jax.nn.initializers.glorot_normal()
    shapes = list(itertools.pairwise(sizes))

    def init(key):
        keys = jax.random.split(key, len(shapes))
        scales = [init_scale] * len(shapes)
        scales[-1] = 0.0 if zero_head else init_scale
        return [
            {
                "w": s * glorot(k, shape, jnp.float32),
                "b": jnp.zeros(shape[1], jnp.float32),
            }
            for k, shape, s in zip(keys, shapes, scales)
        ]

    return init


ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu}


def _mlp_logits(params, batch, activation="relu"):
    h, act = batch["x"], ACTIVATIONS[activation]
    for layer in params[:-1]:
        h = act(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]


def _noisy_labels(y, n_classes: int, share: float):
    """``y`` with a ``share`` of its labels (a fixed choice) drawn again
    uniformly over the classes (so some keep their label)."""
    rng = np.random.default_rng(17)
    flip = rng.random(len(y)) < share
    return np.where(flip, rng.integers(0, n_classes, len(y)), y)


def mlp(
    data: str,
    scaling: str = "std",
    n_train: int | None = None,
    batch_size: int = 64,
    steps: int = 1000,
    weight_decay: float = 0.0,
    hidden: Sequence[int] = (128,),
    init_scale: float = 1.0,
    zero_head: bool = False,
    activation: str = "relu",
    label_noise: float = 0.0,
    name: str | None = None,
) -> tasks.Task:
    """An MLP classifier on a tabular data set, scored on held-out loss.

    The held-out split is fixed (30% of a bundled set, 10,000 examples of
    ``synth``); ``n_train`` keeps the first ``n_train`` training examples of a
    fixed permutation (a small-data workload); the scaling statistics come from
    the training examples only. ``init_scale`` multiplies the Glorot-normal
    weights (0 with ``hidden=()``: a softmax regression from zeros);
    ``zero_head`` starts the last layer at zero; ``activation`` is one of
    :data:`ACTIVATIONS`; ``label_noise`` draws that share of the training
    labels again at random (the held-out labels stay clean).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}"
        )
    x, y, n_test = _dataset(data)
    perm = np.random.default_rng(0).permutation(len(y))
    test, train = perm[:n_test], perm[n_test:]
    train = train[:n_train] if n_train else train
    x_train, x_test = _scale(x[train], x[test], scaling)
    n_classes = int(y.max()) + 1
    y_train = (
        _noisy_labels(y[train], n_classes, label_noise) if label_noise else y[train]
    )
    as_device = lambda a, dtype: jnp.asarray(np.asarray(a, dtype))
    tr = {"x": as_device(x_train, np.float32), "y": as_device(y_train, np.int32)}
    te = {"x": as_device(x_test, np.float32), "y": as_device(y[test], np.int32)}
    sizes = (x.shape[1], *hidden, n_classes)
    epochs = steps * batch_size / len(train)
    model = (
        f"{activation if activation != 'relu' else 'ReLU'} MLP"
        if hidden
        else "softmax regression"
    )
    start = {0.0: ", from zeros", 1.0: ""}.get(init_scale, f", weights x{init_scale:g}")
    start += ", last layer zero" if zero_head else ""
    return tasks._classifier(
        name or f"mlp-{data}-{scaling}",
        _mlp_init(sizes, init_scale, zero_head),
        functools.partial(_mlp_logits, activation=activation),
        tr,
        te,
        min(batch_size, len(train)),
        steps,
        (
            f"{'-'.join(map(str, sizes))} {model}, {data} ({scaling} inputs), "
            f"n_train={len(train)}, {epochs:.3g} epochs"
            + (f", weight decay {weight_decay:g}" if weight_decay else "")
            + (f", {label_noise:.0%} of training labels redrawn" if label_noise else "")
            + start
        ),
        weight_decay=weight_decay,
        sampling="stream" if epochs <= 2 else "epochs",
    )


def tanh_regression(
    n: int = 1024,
    dim: int = 16,
    batch_size: int = 64,
    steps: int = 400,
    name: str = "growth-tanh-regression",
    seed: int = 0,
    noise: float = 0.0,
) -> tasks.Task:
    r"""The README's quick start as a workload: :math:`y = \tanh(x^\top w_*)`,
    :math:`x, w_* \sim N(0, I)`, fitted from :math:`w = 0` by the squared error
    of :math:`\tanh(x^\top w)`; scored on ``n`` more examples (``test_loss``,
    their mean squared error). ``seed`` 0 gives the README's data; ``noise``
    adds :math:`N(0, \sigma^2)` to every target (the held-out loss's floor is
    then :math:`\sigma^2`)."""
    kx, kw = jax.random.split(jax.random.key(seed))  # seed 0: the README's data
    w_star = jax.random.normal(kw, (dim,))
    tr = {"x": jax.random.normal(kx, (n, dim))}
    te = {"x": jax.random.normal(jax.random.key(seed + 1), (n, dim))}
    noise_keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 7))
    for split, k in zip((tr, te), noise_keys):
        split["y"] = jnp.tanh(split["x"] @ w_star)
        if noise:
            split["y"] = split["y"] + noise * jax.random.normal(k, (n,))

    def loss(w, batch):
        return jnp.mean((jnp.tanh(batch["x"] @ w) - batch["y"]) ** 2)

    return tasks.Task(
        name=name,
        init=lambda key: jnp.zeros(dim, jnp.float32),
        loss=loss,
        batch=tasks._gather(tr),
        evaluate=lambda w: {"test_loss": loss(w, te)},
        n_train=n,
        batch_size=batch_size,
        steps=steps,
        metric="test_loss",
        description=(
            f"tanh regression from zeros, d={dim}, n_train={n}, "
            f"{steps * batch_size / n:.3g} epochs"
            + (f", noise {noise:g}" if noise else "")
            + (" (the README's quick start)" if (seed, noise) == (0, 0.0) else "")
        ),
    )


def mlp_regression(
    hidden: Sequence[int] = (64,),
    batch_size: int = 32,
    steps: int = 800,
    name: str = "mlp-diabetes",
) -> tasks.Task:
    """A ReLU MLP regression on scikit-learn's diabetes data (442 patients, 10
    features), features and target standardised on the training split, scored
    on the held-out mean squared error (``test_loss``; 1 is the mean's)."""
    from sklearn import datasets

    x, y = datasets.load_diabetes(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))
    n_test = round(0.3 * len(y))
    test, train = perm[:n_test], perm[n_test:]
    x_train, x_test = tasks._standardise(x[train], x[test])
    mean, std = y[train].mean(), y[train].std()
    as_device = lambda a: jnp.asarray(np.asarray(a, np.float32))
    tr = {"x": as_device(x_train), "y": as_device((y[train] - mean) / std)}
    te = {"x": as_device(x_test), "y": as_device((y[test] - mean) / std)}
    sizes = (x.shape[1], *hidden, 1)

    def loss(params, batch):
        return jnp.mean((_mlp_logits(params, batch)[:, 0] - batch["y"]) ** 2)

    return tasks.Task(
        name=name,
        init=_mlp_init(sizes),
        loss=loss,
        batch=tasks._gather(tr),
        evaluate=lambda params: {"test_loss": loss(params, te)},
        n_train=len(train),
        batch_size=batch_size,
        steps=steps,
        metric="test_loss",
        description=(
            f"{'-'.join(map(str, sizes))} ReLU MLP regression, diabetes (std "
            f"inputs and target), n_train={len(train)}, "
            f"{steps * batch_size / len(train):.3g} epochs"
        ),
    )


def _named(builder: Callable[..., tasks.Task], name: str, **kwargs):
    return functools.partial(builder, name=name, **kwargs)


def _from_zeros(name: str, data: str, **kwargs):
    """A softmax regression from zeros: :func:`mlp` with no hidden layer, its
    weights 0."""
    return _named(mlp, name, data=data, hidden=(), init_scale=0.0, **kwargs)


# name -> builder. Budgets: 1000 steps unless the workload varies the budget.
ZOO: dict[str, Callable[[], tasks.Task]] = {
    # digits (1258 training examples), batch 64: ~51 epochs at 1000 steps.
    "zoo-digits-01": _named(mlp, "zoo-digits-01", data="digits", scaling="01"),
    "zoo-digits-std": _named(mlp, "zoo-digits-std", data="digits", scaling="std"),
    "zoo-digits-raw": _named(mlp, "zoo-digits-raw", data="digits", scaling="raw"),
    "zoo-digits-wd": _named(
        mlp, "zoo-digits-wd", data="digits", scaling="std", weight_decay=1e-3
    ),
    "zoo-digits-bs16": _named(
        mlp, "zoo-digits-bs16", data="digits", scaling="std", batch_size=16
    ),
    "zoo-digits-bs256": _named(
        mlp, "zoo-digits-bs256", data="digits", scaling="std", batch_size=256
    ),
    "zoo-digits-short": _named(
        mlp, "zoo-digits-short", data="digits", scaling="std", steps=200
    ),
    "zoo-digits-long": _named(
        mlp, "zoo-digits-long", data="digits", scaling="std", steps=3000
    ),
    "zoo-digits-small": _named(
        mlp,
        "zoo-digits-small",
        data="digits",
        scaling="std",
        n_train=200,
        batch_size=32,
    ),
    "zoo-digits-deep": _named(
        mlp, "zoo-digits-deep", data="digits", scaling="std", hidden=(128, 128, 128)
    ),
    # breast cancer (398 training examples), batch 32: ~80 epochs, no decay.
    "zoo-breast-std": _named(
        mlp, "zoo-breast-std", data="breast_cancer", scaling="std", batch_size=32
    ),
    "zoo-breast-01": _named(
        mlp, "zoo-breast-01", data="breast_cancer", scaling="01", batch_size=32
    ),
    "zoo-breast-raw": _named(
        mlp, "zoo-breast-raw", data="breast_cancer", scaling="raw", batch_size=32
    ),
    "zoo-breast-wd": _named(
        mlp,
        "zoo-breast-wd",
        data="breast_cancer",
        scaling="std",
        batch_size=32,
        weight_decay=1e-3,
    ),
    # (wine, 125 training examples, was dropped: the tuned Adam cosine at lr 0.32
    # reaches a held-out loss of exactly 0 in float32, a softmax saturated on
    # all 54 held-out examples, a target no other method reaches.)
    # synthetic, 64,000 training examples seen once (batch 64 x 1000 steps).
    "zoo-synth-std": _named(mlp, "zoo-synth-std", data="synth", scaling="std"),
    "zoo-synth-raw": _named(mlp, "zoo-synth-raw", data="synth_raw", scaling="raw"),
    "zoo-synth-bs256": _named(
        mlp, "zoo-synth-bs256", data="synth", scaling="std", batch_size=256, steps=250
    ),
    # The harness's networks.
    "zoo-cnn-digits": functools.partial(tasks.cnn_digits, name="zoo-cnn-digits"),
    "zoo-charlm-small": functools.partial(
        tasks.charlm, layers=1, dim=64, steps=300, name="zoo-charlm-small"
    ),
}

# The held-out zoo: workloads that no design choice was made on. They were
# written (2026-12-04) before any method was run on them, to check the
# choices made on the zoo above: other data (iris, wine, a second synthetic
# set), other scales of raw inputs, other widths and depths. Not in --suite zoo.
HELD_OUT: dict[str, Callable[[], tasks.Task]] = {
    # wine (125 training examples, features up to ~1700), 128 epochs.
    "heldout-wine-raw": _named(
        mlp, "heldout-wine-raw", data="wine", scaling="raw", batch_size=32, steps=500
    ),
    # iris (105 training examples), ~76 epochs.
    "heldout-iris-std": _named(
        mlp, "heldout-iris-std", data="iris", scaling="std", batch_size=16, steps=500
    ),
    "heldout-iris-raw": _named(
        mlp, "heldout-iris-raw", data="iris", scaling="raw", batch_size=16, steps=500
    ),
    # a second synthetic set, 20,000 training examples seen 1.6 times.
    "heldout-synth2-std": _named(
        mlp, "heldout-synth2-std", data="synth2", scaling="std", steps=500
    ),
    "heldout-synth2-raw": _named(
        mlp, "heldout-synth2-raw", data="synth2_raw", scaling="raw", steps=500
    ),
    # other widths and depths.
    "heldout-digits-wide": _named(
        mlp,
        "heldout-digits-wide",
        data="digits",
        scaling="std",
        batch_size=32,
        steps=1500,
        hidden=(512,),
    ),
    "heldout-breast-deep": _named(
        mlp,
        "heldout-breast-deep",
        data="breast_cancer",
        scaling="std",
        batch_size=32,
        hidden=(64, 64, 64),
    ),
    # small data, [0, 1] inputs and weight decay together.
    "heldout-digits-01-small-wd": _named(
        mlp,
        "heldout-digits-01-small-wd",
        data="digits",
        scaling="01",
        n_train=400,
        batch_size=32,
        weight_decay=1e-3,
    ),
}

# The growth zoo: workloads whose parameters must grow from a small start (the
# zoo's all start from a standard initialisation). Written (2026-12-06) before
# any method ran on them, after the README's quick start, a regression from
# zeros, showed the bounded steps of GLyDER over Adam 68 times a tuned Adam
# cosine's final loss; after the first run only the regression's data changed,
# to the README's own keys (its final losses moved by 0.2% to 12%). Not in
# --suite zoo.
GROWTH: dict[str, Callable[[], tasks.Task]] = {
    # softmax regressions from zeros (convex), 1000 steps.
    "growth-digits-linear0": _from_zeros("growth-digits-linear0", "digits"),
    "growth-digits-raw-linear0": _from_zeros(
        "growth-digits-raw-linear0",
        data="digits",
        scaling="raw",
    ),
    "growth-breast-linear0": _from_zeros(
        "growth-breast-linear0",
        data="breast_cancer",
        batch_size=32,
    ),
    # the zoo's digits MLP from a tenth of its initialisation, and with its
    # last layer at zero (as many networks start their heads).
    "growth-digits-init0.1": _named(
        mlp, "growth-digits-init0.1", data="digits", init_scale=0.1
    ),
    "growth-digits-zerohead": _named(
        mlp, "growth-digits-zerohead", data="digits", zero_head=True
    ),
    "growth-tanh-regression": tanh_regression,
}

# The held-out growth zoo: written (2026-12-06, the twenty-seventh round of the
# GLyDER study) before any method ran on them, to check the rules chosen on the
# growth zoo above: other data from zeros, other small starts (one between a
# tenth and a standard initialisation), other regressions, one with noisy
# targets. Not in --suite zoo-growth.
GROWTH_HELD_OUT: dict[str, Callable[[], tasks.Task]] = {
    # softmax regressions from zeros on other data.
    "growth2-wine-linear0": _from_zeros(
        "growth2-wine-linear0",
        data="wine",
        batch_size=32,
        steps=500,
    ),
    "growth2-iris-linear0": _from_zeros(
        "growth2-iris-linear0",
        data="iris",
        batch_size=16,
        steps=500,
    ),
    "growth2-synth-linear0": _from_zeros("growth2-synth-linear0", "synth"),
    # MLPs from small starts: breast cancer from a tenth, digits from 0.3.
    "growth2-breast-init0.1": _named(
        mlp,
        "growth2-breast-init0.1",
        data="breast_cancer",
        batch_size=32,
        init_scale=0.1,
    ),
    "growth2-digits-init0.3": _named(
        mlp, "growth2-digits-init0.3", data="digits", init_scale=0.3
    ),
    # tanh regressions from zeros: smaller, and larger with noisy targets.
    "growth2-tanh-d8": _named(
        tanh_regression,
        "growth2-tanh-d8",
        n=256,
        dim=8,
        batch_size=32,
        seed=2,
    ),
    "growth2-tanh-d32-noisy": _named(
        tanh_regression,
        "growth2-tanh-d32-noisy",
        n=2048,
        dim=32,
        steps=600,
        seed=4,
        noise=0.1,
    ),
}

# The fresh zoo: written (2026-12-06, before the thirtieth round of the GLyDER
# study) before any method ran on them, after twenty-nine rounds of choices made
# on the zoo, the held-out zoo and the growth zoos, to measure how far those
# choices carry: what none of those zoos has (two-feature moons, other
# activations, noisy labels, a regression, ten classes, batch 8, a long run
# on tiny data). Not in any other suite.
FRESH: dict[str, Callable[[], tasks.Task]] = {
    # two interleaved half-circles (2100 training examples), ~12 epochs.
    "fresh-moons-std": _named(
        mlp, "fresh-moons-std", data="moons", batch_size=32, steps=800, hidden=(64, 64)
    ),
    # the same from 200 examples, a tanh MLP, 48 epochs.
    "fresh-moons-small-tanh": _named(
        mlp,
        "fresh-moons-small-tanh",
        data="moons",
        n_train=200,
        batch_size=16,
        steps=600,
        hidden=(32,),
        activation="tanh",
    ),
    # a fifth of the training labels redrawn at random, ~51 epochs.
    "fresh-digits-noisy": _named(
        mlp, "fresh-digits-noisy", data="digits", label_noise=0.2
    ),
    # tiny data trained long: wine (125), batch 16, ~190 epochs.
    "fresh-wine-std-long": _named(
        mlp, "fresh-wine-std-long", data="wine", batch_size=16, steps=1500
    ),
    "fresh-breast-01-wide": _named(
        mlp,
        "fresh-breast-01-wide",
        data="breast_cancer",
        scaling="01",
        steps=600,
        hidden=(512,),
    ),
    # ten classes, 30 features (30,000 training examples).
    "fresh-synth3-raw-deep": _named(
        mlp,
        "fresh-synth3-raw-deep",
        data="synth3_raw",
        scaling="raw",
        batch_size=128,
        steps=800,
        hidden=(256, 128),
    ),
    "fresh-synth3-std-gelu": _named(
        mlp,
        "fresh-synth3-std-gelu",
        data="synth3",
        steps=600,
        hidden=(128, 128),
        activation="gelu",
    ),
    # iris in [0, 1], batch 8, ~61 epochs.
    "fresh-iris-01-bs8": _named(
        mlp, "fresh-iris-01-bs8", data="iris", scaling="01", batch_size=8, steps=800
    ),
    # a regression: diabetes (309), mean squared error, ~83 epochs.
    "fresh-diabetes-mlp": _named(mlp_regression, "fresh-diabetes-mlp"),
}

# Four workloads on which the calibrated baseline's one configuration is chosen
# (then frozen): different data, scalings, sizes and an NNX network.
CALIBRATION = ("zoo-digits-01", "zoo-breast-01", "zoo-synth-std", "zoo-cnn-digits")

# A sixth zoo, written in the GLyDER study's thirty-first round before any
# method ran on it: the fresh zoo had been looked at to choose that round's
# candidate, so the choice is checked here. Each workload again varies what
# no other zoo does, and each is small enough to tune in seconds.
FRESH2: dict[str, Callable[[], tasks.Task]] = {
    # moons in [0, 1] from 400 examples, batch 4, 8 epochs.
    "fresh2-moons-01-bs4": _named(
        mlp,
        "fresh2-moons-01-bs4",
        data="moons",
        scaling="01",
        n_train=400,
        batch_size=4,
        steps=800,
        hidden=(32, 32),
    ),
    # digits in [0, 1], two tanh layers, ~36 epochs.
    "fresh2-digits-01-tanh": _named(
        mlp,
        "fresh2-digits-01-tanh",
        data="digits",
        scaling="01",
        steps=700,
        hidden=(64, 64),
        activation="tanh",
    ),
    # wine's raw features (scales 0.1 to 1000), GELU, ~150 epochs.
    "fresh2-wine-raw-gelu": _named(
        mlp,
        "fresh2-wine-raw-gelu",
        data="wine",
        scaling="raw",
        batch_size=32,
        steps=600,
        activation="gelu",
    ),
    # breast cancer, large batches, a short budget (~64 epochs of 398).
    "fresh2-breast-std-bs128-short": _named(
        mlp,
        "fresh2-breast-std-bs128-short",
        data="breast_cancer",
        batch_size=128,
        steps=200,
    ),
    # iris standardised, 256 hidden units, ~76 epochs.
    "fresh2-iris-std-wide": _named(
        mlp,
        "fresh2-iris-std-wide",
        data="iris",
        batch_size=16,
        steps=500,
        hidden=(256,),
    ),
    # synth2 in [0, 1] from 1000 examples, ~26 epochs.
    "fresh2-synth2-01-small": _named(
        mlp,
        "fresh2-synth2-01-small",
        data="synth2",
        scaling="01",
        n_train=1000,
        batch_size=32,
        steps=800,
    ),
    # a tenth of digits' labels redrawn, with weight decay.
    "fresh2-digits-noisy-wd": _named(
        mlp,
        "fresh2-digits-noisy-wd",
        data="digits",
        label_noise=0.1,
        weight_decay=1e-3,
        steps=800,
    ),
    # the diabetes regression with two hidden layers, batch 16, ~52 epochs.
    "fresh2-diabetes-deep": _named(
        mlp_regression,
        "fresh2-diabetes-deep",
        hidden=(64, 64),
        batch_size=16,
        steps=1000,
    ),
    # synth3 (ten classes) in [0, 1], a narrow net, under one epoch.
    "fresh2-synth3-01": _named(
        mlp, "fresh2-synth3-01", data="synth3", scaling="01", steps=500, hidden=(64,)
    ),
}

# A seventh zoo, written in the GLyDER study's thirty-sixth round before any
# method ran on it. That round chose glyder_momentum's multiple over the budget,
# max(1, 800 / T), after seeing every other zoo; the rule acts only below 800
# steps, so every budget here is shorter, from standard starts and from small
# ones (a check of the choice, not a place to make one).
FRESH3: dict[str, Callable[[], tasks.Task]] = {
    # digits standardised on a short budget, ~15 epochs.
    "fresh3-digits-std-short": _named(
        mlp, "fresh3-digits-std-short", data="digits", steps=300
    ),
    # breast cancer in [0, 1], batch 16, ~16 epochs.
    "fresh3-breast-01-bs16": _named(
        mlp,
        "fresh3-breast-01-bs16",
        data="breast_cancer",
        scaling="01",
        batch_size=16,
        steps=400,
        hidden=(64,),
    ),
    # wine standardised through tanh, batch 16, ~38 epochs.
    "fresh3-wine-std-tanh": _named(
        mlp,
        "fresh3-wine-std-tanh",
        data="wine",
        batch_size=16,
        steps=300,
        hidden=(64,),
        activation="tanh",
    ),
    # moons from 600 examples, three hidden layers, ~32 epochs.
    "fresh3-moons-std-deep": _named(
        mlp,
        "fresh3-moons-std-deep",
        data="moons",
        n_train=600,
        batch_size=32,
        steps=600,
        hidden=(64, 64, 64),
    ),
    # synth2's raw features, large batches, a short budget (~1.6 epochs).
    "fresh3-synth2-raw-short": _named(
        mlp,
        "fresh3-synth2-raw-short",
        data="synth2_raw",
        scaling="raw",
        batch_size=128,
        steps=250,
    ),
    # iris's raw features (centimetres), batch 16, ~46 epochs.
    "fresh3-iris-raw-bs16": _named(
        mlp,
        "fresh3-iris-raw-bs16",
        data="iris",
        scaling="raw",
        batch_size=16,
        steps=300,
    ),
    # a wider tanh regression from zeros on other data, 300 steps.
    "fresh3-tanh-d24": _named(
        tanh_regression, "fresh3-tanh-d24", dim=24, seed=5, steps=300
    ),
    # a softmax regression from zeros on breast cancer, 500 steps.
    "fresh3-breast-linear0-short": _from_zeros(
        "fresh3-breast-linear0-short",
        data="breast_cancer",
        batch_size=32,
        steps=500,
    ),
    # the digits MLP from a fifth of its initialisation, 500 steps.
    "fresh3-digits-init0.2-short": _named(
        mlp, "fresh3-digits-init0.2-short", data="digits", steps=500, init_scale=0.2
    ),
}

# An eighth zoo, written in the GLyDER study's thirty-seventh round before any
# method ran on it. That round's candidate lengthens glyder_momentum's step
# from zeros (the parameters all 0 at init) below 800 steps, chosen after
# seeing every zoo above; every workload here starts from zeros with a budget
# under 800 steps, so that the rule acts on each (a check, not a choice).
FRESH4: dict[str, Callable[[], tasks.Task]] = {
    # tanh regressions from zeros: smaller and short, noisy, small batches.
    "fresh4-tanh-d12": _named(
        tanh_regression, "fresh4-tanh-d12", dim=12, seed=9, batch_size=32, steps=350
    ),
    "fresh4-tanh-d20-noisy": _named(
        tanh_regression, "fresh4-tanh-d20-noisy", dim=20, seed=13, noise=0.1, steps=500
    ),
    "fresh4-tanh-d16-bs16": _named(
        tanh_regression,
        "fresh4-tanh-d16-bs16",
        dim=16,
        seed=21,
        batch_size=16,
        steps=600,
    ),
    # softmax regressions from zeros on every bundled data set.
    "fresh4-wine-linear0": _from_zeros(
        "fresh4-wine-linear0",
        data="wine",
        batch_size=16,
        steps=300,
    ),
    "fresh4-digits-01-linear0": _from_zeros(
        "fresh4-digits-01-linear0",
        data="digits",
        scaling="01",
        steps=600,
    ),
    "fresh4-iris-raw-linear0": _from_zeros(
        "fresh4-iris-raw-linear0",
        data="iris",
        scaling="raw",
        batch_size=16,
        steps=400,
    ),
    "fresh4-synth3-linear0": _from_zeros(
        "fresh4-synth3-linear0",
        data="synth3",
        batch_size=128,
        steps=250,
    ),
    "fresh4-moons-linear0": _from_zeros(
        "fresh4-moons-linear0",
        data="moons",
        batch_size=32,
        steps=300,
    ),
    "fresh4-breast-01-linear0": _from_zeros(
        "fresh4-breast-01-linear0",
        data="breast_cancer",
        scaling="01",
        batch_size=32,
        steps=700,
    ),
}

# A ninth zoo, written in the thirty-seventh round after the eighth had failed
# that round's candidate on its geometric mean alone, and before any method
# ran on it: a second check of the candidate, every workload again from zeros
# below 800 steps, other data, scalings, batches and budgets.
FRESH5: dict[str, Callable[[], tasks.Task]] = {
    "fresh5-tanh-d10-bs8": _named(
        tanh_regression, "fresh5-tanh-d10-bs8", dim=10, seed=31, batch_size=8, steps=500
    ),
    "fresh5-tanh-d28-noisy": _named(
        tanh_regression, "fresh5-tanh-d28-noisy", dim=28, seed=37, noise=0.05, steps=400
    ),
    "fresh5-tanh-d16-n256": _named(
        tanh_regression,
        "fresh5-tanh-d16-n256",
        n=256,
        dim=16,
        seed=41,
        batch_size=32,
        steps=300,
    ),
    "fresh5-wine-01-linear0": _from_zeros(
        "fresh5-wine-01-linear0",
        data="wine",
        scaling="01",
        batch_size=8,
        steps=400,
    ),
    "fresh5-digits-std-linear0": _from_zeros(
        "fresh5-digits-std-linear0",
        data="digits",
        batch_size=32,
        steps=500,
    ),
    "fresh5-iris-std-linear0": _from_zeros(
        "fresh5-iris-std-linear0",
        data="iris",
        batch_size=8,
        steps=300,
    ),
    "fresh5-breast-raw-linear0": _from_zeros(
        "fresh5-breast-raw-linear0",
        data="breast_cancer",
        scaling="raw",
        steps=600,
    ),
    "fresh5-synth2-linear0": _from_zeros(
        "fresh5-synth2-linear0",
        data="synth2",
        batch_size=256,
        steps=200,
    ),
    "fresh5-moons-01-linear0": _from_zeros(
        "fresh5-moons-01-linear0",
        data="moons",
        scaling="01",
        batch_size=16,
        steps=700,
    ),
}

# A tenth zoo, written in the GLyDER study's thirty-eighth round before any
# method ran on it. That round's candidates square the multiple over the
# budget from zeros over SGD and Adam, as glyder_momentum's since the
# thirty-seventh; every workload here starts from zeros with a budget under 800
# steps, so that they act on each (a check, not a choice).
FRESH6: dict[str, Callable[[], tasks.Task]] = {
    "fresh6-tanh-d8": _named(
        tanh_regression, "fresh6-tanh-d8", dim=8, seed=51, batch_size=32, steps=250
    ),
    "fresh6-tanh-d24-bs16-noisy": _named(
        tanh_regression,
        "fresh6-tanh-d24-bs16-noisy",
        dim=24,
        seed=53,
        noise=0.02,
        batch_size=16,
        steps=700,
    ),
    "fresh6-tanh-d14-n512": _named(
        tanh_regression, "fresh6-tanh-d14-n512", n=512, dim=14, seed=57, steps=450
    ),
    "fresh6-digits-raw-linear0": _from_zeros(
        "fresh6-digits-raw-linear0",
        data="digits",
        scaling="raw",
        steps=400,
    ),
    "fresh6-wine-std-linear0": _from_zeros(
        "fresh6-wine-std-linear0",
        data="wine",
        batch_size=32,
        steps=250,
    ),
    "fresh6-iris-01-linear0": _from_zeros(
        "fresh6-iris-01-linear0",
        data="iris",
        scaling="01",
        batch_size=16,
        steps=600,
    ),
    "fresh6-breast-std-linear0": _from_zeros(
        "fresh6-breast-std-linear0",
        data="breast_cancer",
        batch_size=16,
        steps=350,
    ),
    "fresh6-synth-raw-linear0": _from_zeros(
        "fresh6-synth-raw-linear0",
        data="synth_raw",
        scaling="raw",
        batch_size=128,
        steps=300,
    ),
    "fresh6-synth3-01-linear0": _from_zeros(
        "fresh6-synth3-01-linear0",
        data="synth3",
        scaling="01",
        batch_size=32,
        steps=600,
    ),
}

# An eleventh zoo, written in the thirty-eighth round after the tenth had run
# on seeds 0-2, before any run of its own. That round's second candidate caps
# the squared multiple from zeros at 4, which acts below 400 steps; every
# workload here starts from zeros with a budget of 150 to 390 steps.
FRESH7: dict[str, Callable[[], tasks.Task]] = {
    "fresh7-tanh-d6": _named(
        tanh_regression, "fresh7-tanh-d6", dim=6, seed=61, batch_size=32, steps=200
    ),
    "fresh7-tanh-d20-bs8": _named(
        tanh_regression, "fresh7-tanh-d20-bs8", dim=20, seed=67, batch_size=8, steps=350
    ),
    "fresh7-tanh-d12-noisy": _named(
        tanh_regression, "fresh7-tanh-d12-noisy", dim=12, seed=71, noise=0.05, steps=300
    ),
    "fresh7-tanh-d32-n512": _named(
        tanh_regression,
        "fresh7-tanh-d32-n512",
        n=512,
        dim=32,
        seed=73,
        batch_size=32,
        steps=380,
    ),
    "fresh7-digits-01-bs16-linear0": _from_zeros(
        "fresh7-digits-01-bs16-linear0",
        data="digits",
        scaling="01",
        batch_size=16,
        steps=300,
    ),
    "fresh7-wine-raw-linear0": _from_zeros(
        "fresh7-wine-raw-linear0",
        data="wine",
        scaling="raw",
        batch_size=16,
        steps=350,
    ),
    "fresh7-iris-std-bs32-linear0": _from_zeros(
        "fresh7-iris-std-bs32-linear0",
        data="iris",
        batch_size=32,
        steps=180,
    ),
    "fresh7-breast-01-bs8-linear0": _from_zeros(
        "fresh7-breast-01-bs8-linear0",
        data="breast_cancer",
        scaling="01",
        batch_size=8,
        steps=250,
    ),
    "fresh7-synth2-raw-linear0": _from_zeros(
        "fresh7-synth2-raw-linear0",
        data="synth2_raw",
        scaling="raw",
        steps=150,
    ),
}

# A twelfth zoo, written in the thirty-ninth round before any run: a check of
# every default out of the sample that chose it. The eighth to the eleventh
# zoos start from zeros; this one mixes the starts again (from zeros below and
# above 400 steps, the standard start on small data trained for many epochs, a
# start that must grow, a budget above 800 steps).
FRESH8: dict[str, Callable[[], tasks.Task]] = {
    "fresh8-tanh-d10-bs16": _named(
        tanh_regression,
        "fresh8-tanh-d10-bs16",
        dim=10,
        seed=81,
        batch_size=16,
        steps=320,
    ),
    "fresh8-tanh-d18-n768-noisy": _named(
        tanh_regression,
        "fresh8-tanh-d18-n768-noisy",
        n=768,
        dim=18,
        seed=83,
        noise=0.03,
        batch_size=32,
        steps=550,
    ),
    "fresh8-digits-std-bs32-linear0": _from_zeros(
        "fresh8-digits-std-bs32-linear0",
        data="digits",
        batch_size=32,
        steps=220,
    ),
    "fresh8-breast-raw-linear0": _from_zeros(
        "fresh8-breast-raw-linear0",
        data="breast_cancer",
        scaling="raw",
        batch_size=32,
        steps=500,
    ),
    "fresh8-wine-std-mlp": _named(
        mlp, "fresh8-wine-std-mlp", data="wine", batch_size=16, steps=600, hidden=(64,)
    ),
    "fresh8-iris-raw-tanh": _named(
        mlp,
        "fresh8-iris-raw-tanh",
        data="iris",
        scaling="raw",
        batch_size=16,
        steps=400,
        hidden=(32,),
        activation="tanh",
    ),
    "fresh8-digits-small-gelu": _named(
        mlp,
        "fresh8-digits-small-gelu",
        data="digits",
        n_train=400,
        batch_size=32,
        steps=900,
        activation="gelu",
    ),
    "fresh8-synth3-std-init0.1": _named(
        mlp, "fresh8-synth3-std-init0.1", data="synth3", steps=500, init_scale=0.1
    ),
    "fresh8-moons-std-deep": _named(
        mlp,
        "fresh8-moons-std-deep",
        data="moons",
        batch_size=32,
        steps=700,
        hidden=(32, 32),
    ),
    "fresh8-breast-01-noisy": _named(
        mlp,
        "fresh8-breast-01-noisy",
        data="breast_cancer",
        scaling="01",
        batch_size=16,
        steps=450,
        hidden=(64,),
        label_noise=0.1,
    ),
}

# A thirteenth zoo, written in the fortieth round before any run: a check of a
# candidate over Adam that acts only from zeros (the bound lifted at once), and
# of every default, out of the sample that chose them. Half start from zeros
# (three realisable or nearly realisable regressions, two softmax regressions,
# one above 800 steps); the rest are networks from standard starts and one from
# weights x0.3, budgets from 180 to 1200 steps.
FRESH9: dict[str, Callable[[], tasks.Task]] = {
    "fresh9-tanh-d14-bs32": _named(
        tanh_regression,
        "fresh9-tanh-d14-bs32",
        dim=14,
        seed=91,
        batch_size=32,
        steps=260,
    ),
    "fresh9-tanh-d22-bs16-noisy": _named(
        tanh_regression,
        "fresh9-tanh-d22-bs16-noisy",
        dim=22,
        seed=93,
        noise=0.05,
        batch_size=16,
        steps=600,
    ),
    "fresh9-tanh-d6-n256": _named(
        tanh_regression,
        "fresh9-tanh-d6-n256",
        n=256,
        dim=6,
        seed=95,
        batch_size=16,
        steps=180,
    ),
    "fresh9-wine-raw-bs16-linear0": _from_zeros(
        "fresh9-wine-raw-bs16-linear0",
        data="wine",
        scaling="raw",
        batch_size=16,
        steps=300,
    ),
    "fresh9-digits-01-linear0-long": _from_zeros(
        "fresh9-digits-01-linear0-long",
        data="digits",
        scaling="01",
        steps=900,
    ),
    "fresh9-moons-std-gelu": _named(
        mlp,
        "fresh9-moons-std-gelu",
        data="moons",
        batch_size=32,
        steps=500,
        hidden=(64,),
        activation="gelu",
    ),
    "fresh9-breast-std-init0.3": _named(
        mlp,
        "fresh9-breast-std-init0.3",
        data="breast_cancer",
        batch_size=32,
        steps=400,
        init_scale=0.3,
    ),
    "fresh9-iris-01-wide": _named(
        mlp,
        "fresh9-iris-01-wide",
        data="iris",
        scaling="01",
        batch_size=8,
        steps=600,
        hidden=(256,),
    ),
    "fresh9-synth2-std-deep-long": _named(
        mlp,
        "fresh9-synth2-std-deep-long",
        data="synth2",
        steps=1200,
        hidden=(64, 64),
    ),
    "fresh9-digits-raw-tanh": _named(
        mlp,
        "fresh9-digits-raw-tanh",
        data="digits",
        scaling="raw",
        steps=500,
        activation="tanh",
    ),
}

# A fourteenth zoo, written in the forty-first round before any run: every
# default checked once more out of the sample that chose it. Six start from
# zeros (three tanh regressions, three softmax regressions, one of them above
# 800 steps), four are networks from standard or shrunk starts; budgets from
# 220 to 900 steps, batches from 16 to 64; no synthetic data (the slowest).
FRESH10: dict[str, Callable[[], tasks.Task]] = {
    "fresh10-tanh-d9-bs16": _named(
        tanh_regression,
        "fresh10-tanh-d9-bs16",
        dim=9,
        seed=101,
        batch_size=16,
        steps=280,
    ),
    "fresh10-tanh-d26-bs32-noisy": _named(
        tanh_regression,
        "fresh10-tanh-d26-bs32-noisy",
        dim=26,
        seed=103,
        noise=0.03,
        batch_size=32,
        steps=450,
    ),
    "fresh10-tanh-d12-n384": _named(
        tanh_regression,
        "fresh10-tanh-d12-n384",
        n=384,
        dim=12,
        seed=105,
        batch_size=16,
        steps=220,
    ),
    "fresh10-iris-01-bs16-linear0": _from_zeros(
        "fresh10-iris-01-bs16-linear0",
        data="iris",
        scaling="01",
        batch_size=16,
        steps=260,
    ),
    "fresh10-breast-std-bs16-linear0": _from_zeros(
        "fresh10-breast-std-bs16-linear0",
        data="breast_cancer",
        batch_size=16,
        steps=320,
    ),
    "fresh10-digits-raw-linear0-long": _from_zeros(
        "fresh10-digits-raw-linear0-long",
        data="digits",
        scaling="raw",
        steps=900,
    ),
    "fresh10-wine-01-wide": _named(
        mlp,
        "fresh10-wine-01-wide",
        data="wine",
        scaling="01",
        batch_size=16,
        steps=400,
        hidden=(256,),
    ),
    "fresh10-moons-01-deep": _named(
        mlp,
        "fresh10-moons-01-deep",
        data="moons",
        scaling="01",
        steps=500,
        hidden=(64, 64),
    ),
    "fresh10-digits-std-gelu-init0.5": _named(
        mlp,
        "fresh10-digits-std-gelu-init0.5",
        data="digits",
        steps=400,
        activation="gelu",
        init_scale=0.5,
    ),
    "fresh10-breast-raw-tanh": _named(
        mlp,
        "fresh10-breast-raw-tanh",
        data="breast_cancer",
        scaling="raw",
        batch_size=32,
        steps=350,
        activation="tanh",
    ),
}


def starts_from_zeros(builder: Callable[[], tasks.Task]) -> bool:
    """Whether a zoo workload's parameters start at zero, read from its
    builder without building it: a tanh regression, or an MLP whose weights
    are scaled by 0 (a softmax regression from zeros)."""
    func = getattr(builder, "func", builder)
    keywords = getattr(builder, "keywords", {})
    return func is tanh_regression or (
        func is mlp and keywords.get("init_scale", 1.0) == 0.0
    )


ZOOS = (
    ZOO,
    HELD_OUT,
    GROWTH,
    GROWTH_HELD_OUT,
    FRESH,
    FRESH2,
    FRESH3,
    FRESH4,
    FRESH5,
    FRESH6,
    FRESH7,
    FRESH8,
    FRESH9,
    FRESH10,
)

# Every zoo's workloads from zeros (the regressions where the aliases read a
# start at zero): one suite to check a rule that acts only there.
FROM_ZEROS: dict[str, Callable[[], tasks.Task]] = {
    name: builder
    for workloads in ZOOS
    for name, builder in workloads.items()
    if starts_from_zeros(builder)
}

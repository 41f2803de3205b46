"""The method registry: every optimizer the harness runs, one entry each.

An entry (:class:`Method`) knows

* ``build(lr, info)``: the optax transform. ``lr`` is a traced scalar (one
  point of ``grid``; the runner vmaps over the grid) or ``None`` for entries
  without a grid; ``info`` (:class:`TaskInfo`) is what the builder may need to
  know about the task (``total_steps``, ``n_train``, ``batch_size``, ...).
* ``grid``: learning rates to tune over (geometric), or ``None`` (defaults).
* ``extra_args``: the keyword arguments its ``update`` needs, out of
  :data:`EXTRA_ARGS`; the runner passes exactly these, nothing else.
* ``base``: the base optimizer it is compared with (``sgd``, ``momentum``,
  ``adam``); ``family``: ``baseline`` (from optax) or ``ours``.
* optional ``eval_params(opt_state, params)``: the point to evaluate (the
  iterate the method returns: schedule-free's average, Inexact Polyak's best);
  ``prepare(task, info, train)``: a pre-run whose result reaches ``build`` as
  ``info.prepared`` (e.g. a recording run for a refined schedule; ``train`` is
  :func:`benchmarks.runner.train`); ``log(opt_state)``: a scalar to record at
  every step (GLyDER's ``eta``), named ``log_label``; ``obj_batch``: where the
  batch of ``obj_fn``/``logits_fn`` comes from (:data:`OBJ_BATCHES`);
  ``needs_logits``: skip tasks without logits; ``calibrated``: the one frozen
  configuration used on every workload (the calibrated baseline).

Adding a method is one line (see docs/benchmarks.md)::

    register(Method("mine", lambda lr, info: mine(), extra_args=("value",)))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import optax
import optax.contrib

import glyder_optax as go
from benchmarks.tasks import TaskInfo

# What the runner can pass to update(), each computed only for entries that ask:
EXTRA_ARGS = {
    "value": "loss at params on the current minibatch (a scalar)",
    "obj_fn": "params -> loss on the NEXT minibatch (independent of the current)",
    "logits_fn": "params -> logits on that same next minibatch (classifiers only)",
    "indices": "int32 sample indices of the current minibatch, shape (batch,)",
    "obj_fn_each": "obj_fn (passed under that name) with an `each` method: params"
    " -> the loss of every example of its batch (classifiers only)",
    "val_fn": "params -> loss on a fixed held-out share of the training set that"
    " the run never trains on (obj_batch='validation' only)",
}
# Where the batch of obj_fn / logits_fn comes from:
OBJ_BATCHES = {
    "next": "the next minibatch of the run (independent of the current one)",
    "same": "the current minibatch (the one the gradient is computed on)",
    "split": "the current minibatch's second half (the gradient uses the first)",
    "holdout": "a minibatch of a held-out split of the training set, never"
    " trained on (the run trains on the rest)",
    "validation": "the next minibatch of the 90% of the training set the run"
    " trains on; val_fn's examples are the other 10%",
}


Builder = Callable[[Any, TaskInfo], optax.GradientTransformation]


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    build: Builder
    grid: tuple[float, ...] | None = None
    extra_args: tuple[str, ...] = ()
    base: str = "sgd"
    family: str = "baseline"
    eval_params: Callable[[Any, Any], Any] | None = None
    prepare: Callable[[Any, TaskInfo, Callable], Any] | None = None
    log: Callable[[Any], Any] | None = None
    log_label: str = ""
    obj_batch: str = "next"
    needs_logits: bool = False
    calibrated: bool = False
    description: str = ""

    def __post_init__(self):
        unknown = set(self.extra_args) - set(EXTRA_ARGS)
        if unknown:
            raise ValueError(f"{self.name}: unknown extra args {sorted(unknown)}")
        if self.base not in BASES:
            raise ValueError(f"{self.name}: base must be one of {BASES}")
        if self.obj_batch not in OBJ_BATCHES:
            raise ValueError(f"{self.name}: obj_batch must be one of {OBJ_BATCHES}")
        if "val_fn" in self.extra_args and self.obj_batch != "validation":
            raise ValueError(f"{self.name}: val_fn needs obj_batch='validation'")

    @property
    def tuned(self) -> bool:
        return self.grid is not None

    @property
    def category(self) -> str:
        """``tuned`` (a grid per workload), ``calibrated`` or ``self-tuning``."""
        if self.calibrated:
            return "calibrated"
        return "tuned" if self.tuned else "self-tuning"

    def runs_on(self, task) -> bool:
        wants = {"logits_fn", "obj_fn_each"} & set(self.extra_args)
        return not (self.needs_logits or wants) or task.logits is not None


BASES = ("sgd", "momentum", "adam")
METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is registered twice")
    METHODS[method.name] = method
    return method


def geometric(lo_exp: float, hi_exp: float, step: float = 0.5) -> tuple[float, ...]:
    """10**lo_exp ... 10**hi_exp with ratio 10**step (default sqrt(10))."""
    n = round((hi_exp - lo_exp) / step) + 1
    return tuple(float(x) for x in np.logspace(lo_exp, hi_exp, n))


# Geometric grids, ratio sqrt(10), 8 points each.
GRIDS = {
    "sgd": geometric(-3.0, 0.5),
    "momentum": geometric(-3.5, 0.0),
    "adam": geometric(-4.0, -0.5),
}
WARMUP_FRACTION = 0.05


def schedule(kind: str, peak: Any, total_steps: int) -> optax.ScalarOrSchedule:
    """``peak`` (possibly traced) times an optax schedule from 1 to 0."""
    if kind == "constant":
        return peak
    if kind == "cosine":
        unit = optax.cosine_decay_schedule(1.0, total_steps)
    elif kind == "linear":
        unit = optax.linear_schedule(1.0, 0.0, total_steps)
    elif kind == "warmup_cosine":
        warmup = max(1, round(WARMUP_FRACTION * total_steps))
        unit = optax.warmup_cosine_decay_schedule(
            0.0, 1.0, warmup, max(total_steps, warmup + 1)
        )
    else:
        raise ValueError(f"unknown schedule {kind!r}")
    return lambda count: peak * unit(count)


SCHEDULES = ("constant", "cosine", "linear", "warmup_cosine")
BASE_FACTORIES = {
    "sgd": optax.sgd,
    "momentum": lambda lr: optax.sgd(lr, momentum=0.9),
    "adam": optax.adam,
}

# ----------------------------------------------------------------------------
# Baselines from optax: base x schedule over a learning-rate grid.

for _base, _factory in BASE_FACTORIES.items():
    for _kind in SCHEDULES:
        register(
            Method(
                f"{_base}-{_kind}",
                lambda lr, info, f=_factory, k=_kind: f(
                    schedule(k, lr, info.total_steps)
                ),
                grid=GRIDS[_base],
                base=_base,
                description=f"optax {_base}, {_kind} schedule",
            )
        )

register(
    Method(
        "clipped_sgd",
        lambda lr, info: optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(lr)),
        grid=GRIDS["sgd"],
        base="sgd",
        description="clip_by_global_norm(1) + sgd",
    )
)
register(
    Method(
        "schedule_free_sgd",
        lambda lr, info: optax.contrib.schedule_free_sgd(lr),
        grid=GRIDS["momentum"],
        base="momentum",
        eval_params=optax.contrib.schedule_free_eval_params,
    )
)
register(
    Method(
        "schedule_free_adamw",
        lambda lr, info: optax.contrib.schedule_free_adamw(lr),
        grid=GRIDS["adam"],
        base="adam",
        eval_params=optax.contrib.schedule_free_eval_params,
    )
)

register(
    Method(
        "schedule_free_adamw-default",
        lambda lr, info: optax.contrib.schedule_free_adamw(),
        base="adam",
        eval_params=optax.contrib.schedule_free_eval_params,
        description="optax.contrib.schedule_free_adamw at its defaults (lr 0.0025)",
    )
)

# The calibrated baseline (Kasimbeg et al. 2025): one NAdamW + warm-up-cosine
# configuration for every workload. ``nadamw-warmup_cosine`` is its grid;
# ``python -m benchmarks calibrate`` picks the learning rate with the lowest
# worst-case held-out ratio over zoo.CALIBRATION; it is frozen here.
CALIBRATED_LR = (
    1e-2  # python -m benchmarks calibrate --targets results/zoo (2026-12-03)
)


def _nadamw(lr, info):
    return optax.nadamw(schedule("warmup_cosine", lr, info.total_steps))


register(
    Method(
        "nadamw-warmup_cosine",
        _nadamw,
        grid=GRIDS["adam"],
        base="adam",
        family="calibration",  # not a reference for the ratios
        description="optax.nadamw (weight decay 1e-4), 5% warm-up then cosine",
    )
)
register(
    Method(
        "calibrated_nadamw",
        lambda lr, info: _nadamw(CALIBRATED_LR, info),
        base="adam",
        calibrated=True,
        description=f"nadamw-warmup_cosine at lr {CALIBRATED_LR:.3g} everywhere",
    )
)

# Untuned baselines from optax, at their defaults.
register(Method("prodigy", lambda lr, info: optax.contrib.prodigy(), base="adam"))
register(
    Method("dadapt_adamw", lambda lr, info: optax.contrib.dadapt_adamw(), base="adam")
)
register(
    Method(
        "mechanize_adam",
        lambda lr, info: optax.contrib.mechanize(optax.adam(1.0)),
        base="adam",
        description="mechanize(adam(1.0))",
    )
)
register(
    Method(
        "momo",
        lambda lr, info: optax.contrib.momo(),
        extra_args=("value",),
        base="momentum",
    )
)
register(
    Method(
        "momo_adam",
        lambda lr, info: optax.contrib.momo_adam(),
        extra_args=("value",),
        base="adam",
    )
)
register(Method("dog", lambda lr, info: optax.contrib.dog(), base="sgd"))
register(Method("cocob", lambda lr, info: optax.contrib.cocob(), base="sgd"))
register(
    Method(
        "polyak_sgd",
        lambda lr, info: optax.polyak_sgd(),
        extra_args=("value",),
        base="sgd",
        description="optax.polyak_sgd defaults (max lr 1, f_min 0)",
    )
)

# ----------------------------------------------------------------------------
# Ours (glyder_optax), at their defaults.


def _best_params(opt_state, params):
    del params  # Inexact Polyak returns its best iterate, not the last one.
    return go.inexact_polyak_best_params(opt_state)


for _name, _best in (("inexact_polyak", True), ("inexact_polyak-last", False)):
    register(
        Method(
            _name,
            lambda lr, info, best=_best: go.inexact_polyak_sgd(
                total_steps=info.total_steps, track_best=best
            ),
            extra_args=("value",),
            base="sgd",
            family="ours",
            eval_params=_best_params if _best else None,
            description=(
                "scored on the iterate it returns (inexact_polyak_best_params)"
                if _best
                else "scored on the last iterate"
            ),
        )
    )
register(
    Method(
        "decsps",
        lambda lr, info: go.decsps(),
        extra_args=("value",),
        base="sgd",
        family="ours",
    )
)
register(
    Method(
        "adasps",
        lambda lr, info: go.adasps(),
        extra_args=("value",),
        base="sgd",
        family="ours",
    )
)


# GLyDER over each base direction (unit scale, descent sign), untuned. Each
# variant is one entry per base, ``glyder-{base}{suffix}``: the defaults (no
# suffix), the design ablation (``python -m benchmarks run --suite
# glyder-ablation``) and the alpha grid (alpha = glyder's learning_rate), the
# sensitivity study. A variant is (glyder kwargs, obj_batch, description).
GLYDER_BASES = {
    "sgd": optax.identity,
    "momentum": lambda: optax.trace(0.9),
    "adam": optax.scale_by_adam,
}
# The paper's settings (glyder's defaults before the robustness study): a
# refresh every step, eta held as it is, no trust region. The ablation's
# variants and the study's candidates are each one change from them.
SECANT = {"secant": True}  # at every refresh: glyder()'s default until "auto"
PAPER = {
    "refresh_every": 1,
    "cap_held_step": False,
    "max_step_ratio": None,
    **SECANT,
}
RELATIVE_TRUST = 0.01
GLYDER_VARIANTS = {
    "": ({}, "next", "glyder()'s defaults (k=20, cap, TR 1%, secant='auto')"),
    "-paper": ({}, "next", "the paper's settings (taylor, b=0.9, cap 1.05, k=1)"),
    "-gn": ({"estimator": "gauss_newton"}, "next", "exact Gauss-Newton curvature"),
    "-gnb": ({"estimator": "gnb"}, "next", "Gauss-Newton-Bartlett (sampled)"),
    "-k10": ({"refresh_every": 10}, "next", "estimates every 10 steps"),
    "-b0": ({"smoothing": 0.0}, "next", "no smoothing (b=0)"),
    "-nocap": ({"max_growth": float("inf")}, "next", "no growth cap"),
    "-same": ({}, "same", "estimates on the gradient's own batch"),
    "-split": ({}, "split", "gradient and estimate on the two batch halves"),
    "-nosecant": ({"secant": False}, "next", "no secant curvature"),
    "-nofmin": ({"f_min": None}, "next", "no f_min model floor"),
    "-neither": ({"secant": False, "f_min": None}, "next", "neither safeguard"),
}
ALPHA_GRID = geometric(-1.0, 2.0)  # 0.1 ... 100, 7 points
SHRINK_GRID = (0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0)  # 1.0: the defaults
# Relaxed steps, alpha > 1 (2: the stability edge of the quadratic along d).
RELAX_GRID = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
PEAK_GRID = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)  # linear decay's peak alpha


def _glyder_eta(opt_state):
    return go.glyder_state(opt_state).eta


def _glyder_entry(
    name,
    base,
    build,
    obj_batch,
    description,
    logits=False,
    val=False,
    value=False,
    obj_fn_each=False,
    log=_glyder_eta,
    log_label="GLyDER eta",
    **more,
):
    """A GLyDER entry: ``build(lr, info)`` the transform; logs ``eta``
    unless given another ``log``."""
    extra = ("logits_fn",) * logits + ("val_fn",) * val + ("value",) * value
    extra += ("obj_fn_each",) * obj_fn_each
    return Method(
        name,
        build,
        extra_args=("obj_fn",) + extra,
        base=base,
        family="ours",
        log=log,
        log_label=log_label,
        obj_batch=obj_batch,
        description=description,
        **more,
    )


# Linear decay of a scale from 1 to 0 over the budget.


def _decay(info):
    return go.linear_decay_schedule(1.0, info.total_steps)


ONCE = 2**30  # refresh_every longer than any budget: one estimate, at count 0
# What a step costs, piece by piece (timed by ``benchmarks overhead``, not
# scored on the zoo): glyder()'s defaults with one estimate only (count 0), so
# that the time is the per-step work alone, then with the wrapper's pieces of
# it off in turn; and the defaults with a refresh every step.
COST_VARIANTS = {
    "-cost-once": (
        {"refresh_every": ONCE},
        "glyder()'s defaults, one estimate (count 0): the per-step work alone",
    ),
    "-cost-once-nofinite": (
        {"refresh_every": ONCE, "skip_non_finite": False},
        "-cost-once without apply_if_finite around the base",
    ),
    "-cost-once-notr": (
        {"refresh_every": ONCE, "max_step_ratio": None},
        "-cost-once without the trust region",
    ),
    "-cost-once-bare": (
        {
            "refresh_every": ONCE,
            "skip_non_finite": False,
            "max_step_ratio": None,
            "cap_held_step": False,
        },
        "-cost-once without apply_if_finite, the trust region or the held cap",
    ),
    "-cost-k1": ({"refresh_every": 1}, "glyder()'s defaults, a refresh every step"),
}


def _with_kwargs(direction, kwargs, alpha=None, wrap=None):
    """GLyDER over ``direction()`` with ``kwargs``; alpha = the grid point, or
    ``alpha(info)`` where given; ``wrap(glyder, info)`` around it if given."""

    def build(lr, info):
        if alpha is not None:
            kwargs_lr = {"learning_rate": alpha(info)}
        else:
            kwargs_lr = {} if lr is None else {"learning_rate": lr}
        glyder = go.glyder(direction(), **kwargs, **kwargs_lr)
        return glyder if wrap is None else wrap(glyder, info)

    return build


def _glyder_entries(base, direction):
    """Every GLyDER entry over one base but the study's candidates
    (:mod:`benchmarks.glyder_study`): the variants, the grids and the cost
    variants."""
    for suffix, (kwargs, batch, text) in GLYDER_VARIANTS.items():
        build = _with_kwargs(direction, kwargs if suffix == "" else {**PAPER, **kwargs})
        yield suffix, build, batch, text, {"logits": "estimator" in kwargs}
    yield (
        "-alpha",
        _with_kwargs(direction, PAPER),
        "next",
        "GLyDER (taylor) with alpha on a grid: sensitivity",
        {"grid": ALPHA_GRID},
    )
    # The grids below were measured before secant="auto": they keep the secant.
    yield (
        "-scaled",
        _with_kwargs(direction, SECANT),
        "next",
        "k=20, cap, TR 1% with alpha on a grid from 0.1 to 1: the shrunk step",
        {"grid": SHRINK_GRID},
    )
    yield (
        "-relaxed",
        _with_kwargs(direction, SECANT),
        "next",
        "k=20, cap, TR 1% with alpha on a grid from 1 to 4: the relaxed step",
        {"grid": RELAX_GRID},
    )
    yield (
        "-ld-peak",
        lambda lr, info: go.glyder(
            direction(), learning_rate=lr, total_steps=info.total_steps, **SECANT
        ),
        "next",
        "k=20, cap, TR 1%, alpha = linear decay from a peak on a grid 0.5 ... 4",
        {"grid": PEAK_GRID},
    )
    for suffix, (kwargs, text) in COST_VARIANTS.items():
        yield suffix, _with_kwargs(direction, kwargs), "next", text, {}


for _base, _direction in GLYDER_BASES.items():
    for _suffix, _build, _batch, _text, _more in _glyder_entries(_base, _direction):
        register(
            _glyder_entry(
                f"glyder-{_base}{_suffix}", _base, _build, _batch, _text, **_more
            )
        )


def _sgd_alias(info):
    return go.glyder_sgd()


def _momentum_alias(info):
    # The alias before the thirty-sixth round (its runs in the study's
    # folders): "glyder_momentum-zeros-cap4" builds glyder_momentum(T) now.
    return go.glyder_momentum(info.total_steps, budget_multiple=False)


def _adam_alias(info):
    return go.glyder_adam(info.total_steps)


def _made(make):
    """An untuned entry's ``build``: ``make(info)``, the grid's ``lr`` unused."""
    return lambda lr, info: make(info)


def _register_untuned(name, base, make, description, **more):
    """Registers the untuned GLyDER entry ``make(info)`` (the next batch's
    ``obj_fn``; ``more`` as in :func:`_glyder_entry`)."""
    register(_glyder_entry(name, base, _made(make), "next", description, **more))


# The library's per-base aliases, as a user writes them: the recommendations
# of the study (glyder_sgd and glyder_momentum built what the entries
# glyder-sgd-k20-hold-tr0.03-x2 and glyder-momentum-k20-hold-tr-ld-secauto
# build until the zig-zag multiple of the twentieth round, and of the
# twenty-second over momentum, went between their multiples and their
# bounds; glyder_adam chains the decay after glyder, where
# glyder-adam-k20-hold-tr0.01decay-ld decays the bound instead). The study's
# later rounds wrap each of them: (entry name, base, make(info), as written).
ALIASES = (
    ("glyder_sgd", "sgd", _sgd_alias, "go.glyder_sgd()"),
    (
        "glyder_momentum",
        "momentum",
        _momentum_alias,
        "go.glyder_momentum(total_steps=T, budget_multiple=False): the alias"
        " before the thirty-sixth round",
    ),
    ("glyder_adam", "adam", _adam_alias, "go.glyder_adam(total_steps=T)"),
)
for _name, _base, _make, _text in ALIASES:
    _register_untuned(_name, _base, _make, _text)


# Prodigy and D-Adaptation given the same linear-decay shape, as their users do.
for _name, _factory in (
    ("prodigy", optax.contrib.prodigy),
    ("dadapt_adamw", optax.contrib.dadapt_adamw),
):
    register(
        Method(
            f"{_name}-ld",
            lambda lr, info, f=_factory: f(learning_rate=_decay(info)),
            base="adam",
            description=f"optax.contrib.{_name}, learning rate = linear decay 1 -> 0",
        )
    )


# Linear decay to exactly 0 (optax.linear_schedule leaves peak/T on the last
# step), and the schedule refined from the gradient norms of the best
# linear-decay run (its prepare hook tunes linear decay with the norm recorder
# in the chain, then refines; the refined entry tunes its peak on the same grid).
REFINE_KIND = {"sgd": ("sgd", 2), "momentum": ("sgd", 2), "adam": ("adam", 1)}

for _base, _factory in BASE_FACTORIES.items():
    register(
        Method(
            f"{_base}-linear_decay",
            lambda lr, info, f=_factory: f(
                go.linear_decay_schedule(lr, info.total_steps)
            ),
            grid=GRIDS[_base],
            base=_base,
            family="ours",
            description=f"optax {_base}, linear decay ending at exactly 0",
        )
    )

    def _prepare(task, info, train, base=_base, factory=_factory):
        _, ord_ = REFINE_KIND[base]
        recording = Method(
            f"{base}-linear_decay-recorded",
            lambda lr, info: optax.chain(
                go.record_grad_norms(info.total_steps, ord=ord_),
                factory(go.linear_decay_schedule(lr, info.total_steps)),
            ),
            grid=GRIDS[base],
            base=base,
        )
        res = train(task, recording, seeds=(0,), steps=info.total_steps)
        final = res.evals[task.metric][:, 0, -1]  # one seed
        best = int(np.argmin(np.where(np.isfinite(final), final, np.inf)))
        norms = optax.tree.get(res.opt_state, "GradNormRecorderState").norms
        return np.asarray(norms[best, 0])

    register(
        Method(
            f"{_base}-refined",
            lambda lr, info, f=_factory, b=_base: f(
                go.schedule_from_array(
                    go.refine_schedule(info.prepared, kind=REFINE_KIND[b][0]),
                    total_steps=info.total_steps,
                    peak_value=lr,
                )
            ),
            grid=GRIDS[_base],
            base=_base,
            family="ours",
            prepare=_prepare,
            description="schedule refined from the best linear-decay run's norms",
        )
    )

# The seed papers' other methods.
register(
    Method(
        "gradagrad",
        lambda lr, info: go.gradagrad(lr),
        grid=geometric(-3.0, 1.0),
        base="sgd",
        family="ours",
        description="GradaGrad (reconstructed), global; lr = initial scale",
    )
)
register(
    Method(
        "gradagrad-coord",
        lambda lr, info: go.gradagrad(lr, per_coordinate=True),
        grid=geometric(-3.0, 0.0),
        base="adam",
        family="ours",
        description="GradaGrad (reconstructed), per coordinate",
    )
)
register(
    Method(
        "mda",
        lambda lr, info: go.mda(lr),
        grid=geometric(-3.0, 1.5),
        base="momentum",
        family="ours",
        description="modernized dual averaging, momentum 0.9",
    )
)
register(
    Method(
        "sps_moving_target",
        lambda lr, info: go.sps_moving_target(num_samples=info.n_train),
        extra_args=("value", "indices"),
        base="sgd",
        family="ours",
        description="MOTAPS at its convex defaults (reg = 0)",
    )
)


def get(name: str) -> Method:
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


# The robustness study's candidates and rounds register themselves on import
# (after everything above, which they build on).
from benchmarks import glyder_study  # noqa: E402, F401

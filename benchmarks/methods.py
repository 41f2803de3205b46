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
* optional ``eval_params(opt_state, params)``: the point to evaluate
  (schedule-free's averaged iterate); ``prepare(task, info)``: a pre-run whose
  result reaches ``build`` as ``info.prepared`` (e.g. a recording run for a
  refined schedule; it may call :func:`benchmarks.runner.train`);
  ``needs_logits``: skip tasks without logits.

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

# What the runner can pass to update(), each computed only for entries that ask:
EXTRA_ARGS = {
    "value": "loss at params on the current minibatch (a scalar)",
    "obj_fn": "params -> loss on the NEXT minibatch (independent of the current)",
    "logits_fn": "params -> logits on that same next minibatch (classifiers only)",
    "indices": "int32 sample indices of the current minibatch, shape (batch,)",
}


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
    prepare: Callable[[Any, TaskInfo], Any] | None = None
    needs_logits: bool = False
    description: str = ""

    def __post_init__(self):
        unknown = set(self.extra_args) - set(EXTRA_ARGS)
        if unknown:
            raise ValueError(f"{self.name}: unknown extra args {sorted(unknown)}")
        if self.base not in BASES:
            raise ValueError(f"{self.name}: base must be one of {BASES}")

    @property
    def tuned(self) -> bool:
        return self.grid is not None

    def runs_on(self, task) -> bool:
        return not (self.needs_logits or "logits_fn" in self.extra_args) or (
            task.logits is not None
        )


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

register(
    Method(
        "inexact_polyak",
        lambda lr, info: go.inexact_polyak_sgd(total_steps=info.total_steps),
        extra_args=("value",),
        base="sgd",
        family="ours",
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


# GLyDER over each base direction (unit scale, descent sign), untuned; the
# alpha-grid entries are the sensitivity study (alpha = glyder's learning_rate).
GLYDER_BASES = {
    "sgd": optax.identity,
    "momentum": lambda: optax.trace(0.9),
    "adam": optax.scale_by_adam,
}
ALPHA_GRID = geometric(-1.0, 2.0)  # 0.1 ... 100, 7 points

for _base, _direction in GLYDER_BASES.items():
    register(
        Method(
            f"glyder-{_base}",
            lambda lr, info, d=_direction: go.glyder(d()),
            extra_args=("obj_fn",),
            base=_base,
            family="ours",
            description="GLyDER (hvp) over the base direction, alpha = 1",
        )
    )
    register(
        Method(
            f"glyder-{_base}-gn",
            lambda lr, info, d=_direction: go.glyder(d(), estimator="gauss_newton"),
            extra_args=("obj_fn", "logits_fn"),
            base=_base,
            family="ours",
            description="GLyDER (exact Gauss-Newton curvature), alpha = 1",
        )
    )
    register(
        Method(
            f"glyder-{_base}-k10",
            lambda lr, info, d=_direction: go.glyder(d(), refresh_every=10),
            extra_args=("obj_fn",),
            base=_base,
            family="ours",
            description="GLyDER (hvp), estimates every 10 steps, alpha = 1",
        )
    )
    register(
        Method(
            f"glyder-{_base}-alpha",
            lambda lr, info, d=_direction: go.glyder(d(), learning_rate=lr),
            grid=ALPHA_GRID,
            extra_args=("obj_fn",),
            base=_base,
            family="ours",
            description="GLyDER (hvp) with alpha on a grid: sensitivity",
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

    def _prepare(task, info, base=_base, factory=_factory):
        from benchmarks import runner

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
        res = runner.train(task, recording, seeds=(0,), steps=info.total_steps)
        final = runner.seed_median(res.evals[task.metric][..., -1:], axis=1)[:, 0]
        best = int(np.argmin(final))
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

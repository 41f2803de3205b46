r"""Schedule refinement from recorded gradient norms.

Defazio et al. bound the last iterate of SGD on a convex problem in terms of
the schedule and the gradient norms :math:`\|g_t\|` of the run. Given the norms
of a previous run, the schedule minimising the bound is, in closed form,

.. math::
  \eta_t \propto w_t \sum_{p > t} w_p, \qquad
  w_t = \|g_t\|_2^{-2} \;\text{(SGD)}, \qquad
  w_t = \|g_t\|_1^{-1} \;\text{(Adam-like methods)},

normalised to a maximum of 1, with :math:`\eta_{T-1} = 0`. Constant norms give
linear decay; large early norms give a warm-up; norms rising near the end give
faster-than-linear annealing, norms falling near the end a flat-then-drop
shape.

The workflow has three parts:

1. run 1, usually with :func:`glyder_optax.linear_decay_schedule`, with
   :func:`record_grad_norms` in the chain: it writes each step's gradient
   norm into a fixed-size buffer of its state, inside the compiled step;
2. on the host, :func:`recorded_grad_norms` reads the buffer back and
   :func:`refine_schedule` smooths the norms and applies the closed form;
3. run 2 uses :func:`glyder_optax.schedule_from_array` (the refined values
   times a peak learning rate, resampled to the new run's length).

What is from the paper and the authors' pipeline: the closed form and its two
weightings, the last step at 0, the normalisation to max 1, and the smoothing
(non-finite norms dropped; a median filter of odd width about ``tau * T``,
``tau = 0.1``, run with nearest-edge handling on the norms padded at the end by
reflection over twice the width, the pad then stripped; the smoothed norms
resampled to the new run's length). What is ours: the in-graph recorder (a
``GradientTransformation`` that is the identity on the updates), dropping
non-positive norms with the non-finite ones (a zero norm would be an infinite
weight), and rescaling the norms by their median before the closed form (it is
scale-invariant; this only avoids overflow). Caveat: the recorded norms come
from a run that already used a schedule (linear decay, usually), and the
refined schedule changes the trajectory whose norms it was computed from;
the bound is for convex problems, and for networks the result is a heuristic.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from glyder_optax import _common

_NAME = "record_grad_norms"


class GradNormRecorderState(NamedTuple):
    """State of :func:`record_grad_norms`."""

    count: jax.Array  # number of update calls so far, int32 (saturates).
    norms: jax.Array  # [num_steps] norms of steps 0..num_steps-1; 0 if unwritten.


def record_grad_norms(
    num_steps: int, ord: Literal[1, 2] = 2
) -> optax.GradientTransformationExtraArgs:
    r"""Records each step's gradient norm in the state; identity on the updates.

    On update ``k`` it writes :math:`\|g_k\|` (``ord=2``: Euclidean, for SGD
    refinement; ``ord=1``: sum of absolute values, for Adam refinement) into
    ``state.norms[k]``, in float32 (float64 with float64 params), with no host
    callback: it works under ``jit``, ``lax.scan``, ``vmap`` and inside
    ``optax.chain``, ``optax.MultiSteps`` and ``optax.inject_hyperparams``.

    Which gradient: the extra argument ``grad`` when it is passed (optax's name
    for the raw gradient deep in a chain), else the incoming updates, i.e. the
    raw gradient when the recorder comes first in the chain. Inside
    ``optax.MultiSteps`` the inner state only advances on the steps that emit
    an update, so the recorder (first in the inner chain) records one norm per
    optimizer step, that of the accumulated gradient.

    Steps past the buffer (update ``k >= num_steps``) are not recorded: the
    buffer keeps the first ``num_steps`` norms and ``count`` keeps counting, so
    :func:`recorded_grad_norms` can warn. A non-finite norm is written as
    ``+inf`` (no NaN is kept in the state; :func:`refine_schedule` drops
    non-finite entries as the authors do).

    Args:
      num_steps: the buffer length, usually the run's ``total_steps``.
      ord: 2 or 1, the norm recorded.

    Both are structural Python ints: under :func:`optax.inject_hyperparams`
    pass ``static_args=('num_steps', 'ord')`` (a JAX array is rejected with a
    message that says so).

    Returns:
      An :class:`optax.GradientTransformationExtraArgs` that passes the updates
      through unchanged; its state is a :class:`GradNormRecorderState`.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import record_grad_norms, recorded_grad_norms
      >>> opt = optax.chain(record_grad_norms(num_steps=3), optax.sgd(0.25))
      >>> params = jnp.array([3.0, 4.0])
      >>> state = opt.init(params)
      >>> for _ in range(3):
      ...   grads = jax.grad(lambda x: jnp.sum(x**2))(params)
      ...   updates, state = opt.update(grads, state, params)
      ...   params = optax.apply_updates(params, updates)
      >>> print(recorded_grad_norms(state))
      [10.   5.   2.5]

    References:
      Defazio et al., `Optimal Linear Decay Learning Rate Schedules and Further
      Refinements <https://arxiv.org/abs/2310.07831>`_, 2023
    """
    for name, value in (("num_steps", num_steps), ("ord", ord)):
        if isinstance(value, jax.Array):  # traced, or made an array by a wrapper
            raise ValueError(
                f"{_NAME}: `{name}` is structural (it fixes the buffer's shape or"
                " the norm computed), so it must be a Python int, got a JAX"
                " array. Under optax.inject_hyperparams, list it in static_args:"
                " optax.inject_hyperparams(glyder_optax.record_grad_norms,"
                " static_args=('num_steps', 'ord'))(num_steps=..., ord=...)."
            )
    num_steps = _common.check_int(
        _NAME, "num_steps", num_steps, "the length of the norm buffer"
    )
    if ord not in (1, 2):
        raise ValueError(
            f"{_NAME}: ord must be 1 (l1 norms, for Adam refinement) or 2 (l2,"
            f" for SGD), got {ord!r}."
        )

    def init_fn(params: optax.Params):
        return GradNormRecorderState(
            count=jnp.zeros([], jnp.int32),
            norms=jnp.zeros([num_steps], _common.scalar_dtype(params)),
        )

    def update_fn(
        updates: optax.Updates,
        state,
        params: optax.Params | None = None,
        *,
        grad=None,
        **extra_args,
    ):
        del params, extra_args
        dtype = state.norms.dtype
        source = optax.tree.cast(updates if grad is None else grad, dtype)
        norm = optax.tree.norm(source, ord=ord).astype(dtype)
        norm = jnp.where(jnp.isfinite(norm), norm, jnp.inf)
        norms = state.norms.at[state.count].set(norm, mode="drop")
        return updates, GradNormRecorderState(optax.safe_increment(state.count), norms)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def recorded_grad_norms(opt_state: Any) -> np.ndarray:
    """The norms recorded so far, read from an optimizer state on the host.

    Args:
      opt_state: the state of :func:`record_grad_norms`, or any optimizer state
        containing exactly one (a chain, ``MultiSteps``, ``inject_hyperparams``).

    Returns:
      A NumPy array of the first ``min(count, num_steps)`` recorded norms
      (``[..., n]`` when the state has leading batch dimensions, e.g. from
      ``vmap``; ``n`` is then taken from the largest count). Warns when steps
      were not recorded because the buffer was full.

    Raises:
      ValueError: if the state holds no recorder or more than one.
    """
    found = [
        s
        for s in jax.tree.leaves(
            opt_state, is_leaf=lambda x: isinstance(x, GradNormRecorderState)
        )
        if isinstance(s, GradNormRecorderState)
    ]
    if len(found) != 1:
        raise ValueError(
            "recorded_grad_norms: the optimizer state must contain exactly one"
            f" GradNormRecorderState, found {len(found)}; pass that state itself."
        )
    count = int(np.max(np.asarray(found[0].count)))
    norms = np.asarray(found[0].norms)
    size = norms.shape[-1]
    if count > size:
        warnings.warn(
            f"recorded_grad_norms: {count} updates but a buffer of {size}: the"
            f" last {count - size} norms were not recorded.",
            stacklevel=2,
        )
    return norms[..., : min(count, size)]


def smooth_norms(norms: Any, tau: float = 0.1) -> np.ndarray:
    """The authors' smoothing: drop non-finite, median filter, reflected end.

    Non-finite and non-positive norms are dropped; the rest go through a median
    filter (:func:`scipy.ndimage.median_filter`, ``mode="nearest"``) of odd
    width ``max(1, round(tau * n))`` (made odd by adding 1), applied to the
    norms padded at the end by reflection over twice the width; the pad is then
    stripped. ``tau = 0`` disables the filter.

    Args:
      norms: 1-D array of per-step norms.
      tau: filter width as a fraction of the number of kept norms.

    Returns:
      A float64 NumPy array, shorter than ``norms`` if entries were dropped.
    """
    from scipy import ndimage  # host-side only; scipy is not a core dependency.

    x = np.asarray(norms, np.float64)
    if x.ndim != 1:
        raise ValueError(f"refine_schedule: norms must be 1-D, got shape {x.shape}.")
    x = x[np.isfinite(x) & (x > 0)]
    if x.size < 2:
        raise ValueError(
            "refine_schedule: fewer than 2 finite positive norms to refine from."
        )
    if not tau >= 0:
        raise ValueError(f"refine_schedule: tau must be >= 0, got {tau!r}.")
    width = max(1, round(tau * x.size))
    width += 1 - width % 2
    if width == 1:
        return x
    padded = np.pad(x, (0, 2 * width), mode="reflect")
    return ndimage.median_filter(padded, size=width, mode="nearest")[: x.size]


def refine_schedule(
    norms: Any,
    kind: Literal["sgd", "adam"] = "sgd",
    tau: float = 0.1,
    total_steps: int | None = None,
) -> np.ndarray:
    r"""The refined schedule :math:`\eta_t \propto w_t \sum_{p>t} w_p` (max 1).

    The norms are smoothed by :func:`smooth_norms`, resampled by linear
    interpolation to ``total_steps`` values (first and last aligned) when given,
    then weighted by :math:`w_t = \|g_t\|^{-2}` (``kind="sgd"``, record l2
    norms) or :math:`w_t = \|g_t\|^{-1}` (``kind="adam"``, record l1 norms with
    ``record_grad_norms(..., ord=1)``). The result ends at exactly 0 and its
    maximum is 1: multiply it by a peak learning rate, e.g. with
    :func:`glyder_optax.schedule_from_array`. Runs on the host (NumPy, SciPy).

    Args:
      norms: 1-D array of per-step gradient norms from a previous run, e.g.
        ``recorded_grad_norms(state)``.
      kind: ``"sgd"`` or ``"adam"``, the weighting.
      tau: median-filter width as a fraction of the run (0 disables it).
      total_steps: length of the schedule; ``None`` keeps the number of kept
        norms.

    Returns:
      A float64 NumPy array of ``total_steps`` multipliers in ``[0, 1]``.

    Examples:
      Constant norms give linear decay:

      >>> import numpy as np
      >>> from glyder_optax import refine_schedule
      >>> print(refine_schedule(np.full(5, 3.0)))
      [1.   0.75 0.5  0.25 0.  ]

      Large early norms give a warm-up:

      >>> print(refine_schedule([8.0, 4.0, 2.0, 1.0, 1.0, 1.0], tau=0).round(2))
      [0.03 0.1  0.38 1.   0.5  0.  ]

    References:
      Defazio et al., `Optimal Linear Decay Learning Rate Schedules and Further
      Refinements <https://arxiv.org/abs/2310.07831>`_, 2023
    """
    if kind not in ("sgd", "adam"):
        raise ValueError(
            f"refine_schedule: kind must be 'sgd' or 'adam', got {kind!r}."
        )
    x = smooth_norms(norms, tau)
    if total_steps is not None:
        _common.check_int(
            "refine_schedule",
            "total_steps",
            total_steps,
            "the length of the refined schedule",
            minimum=2,
        )
        if total_steps != x.size:
            x = np.interp(np.linspace(0, x.size - 1, total_steps), np.arange(x.size), x)
    x = x / np.median(x)
    w = x**-2 if kind == "sgd" else 1 / x
    tail = np.append(np.cumsum(w[::-1])[::-1][1:], 0.0)  # sum_{p > t} w_p
    eta = w * tail
    return eta / eta.max()

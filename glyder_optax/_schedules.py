r"""Linear decay to zero, and refined schedules as optax schedules.

Defazio et al. bound the last iterate of SGD on convex problems in terms of the
whole schedule :math:`\eta_0, \dots, \eta_{T-1}`; with gradient norms of
constant size the minimiser of the bound is linear decay,

.. math::
  \eta_t = \eta_{\max} \frac{T - 1 - t}{T - 1}, \qquad t = 0, \dots, T - 1,

which ends at exactly 0 on the last step (``optax.linear_schedule(peak, 0, T)``
leaves :math:`\eta_{\max}/T` there). :func:`linear_decay_schedule` is this
schedule, with an optional linear warm-up (our addition, as in the paper's
experiments); :func:`schedule_from_array` turns a schedule computed on the host
(e.g. by :func:`glyder_optax.refine_schedule`) into an optax schedule for a run
of any length.

What is from the paper: the linear-decay shape ending at 0 on the last step.
What is ours: the warm-up form (from 0 at step 0 to the peak at
``warmup_steps``, as ``optax.warmup_*`` schedules with ``init_value=0``), the
value 0 for every count past the last step, and the resampling rule of
:func:`schedule_from_array` (linear interpolation with the first and last
steps aligned).

Both return plain ``count -> learning rate`` functions: ``jit``-able, with no
Python branching on ``count``, usable as any ``optax.ScalarOrSchedule``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from glyder_optax import _common


def _check_total_steps(
    total_steps: Any,
    fn_name: str,
    sets: str = "the schedule's shape",
    meaning: str = "the number of steps of the run; the schedule is 0 on step"
    " total_steps - 1, so a shorter run never moves",
    minimum: int = 2,
) -> int:
    """``total_steps`` as a Python int; ``sets`` and ``meaning`` (what it sets,
    what it is) for the error messages, a linear decay's by default."""
    if isinstance(total_steps, jax.core.Tracer):
        raise ValueError(
            f"{fn_name}: total_steps is traced (a hyperparameter of"
            f" optax.inject_hyperparams?). It sets {sets}, so it"
            " must be a Python int: pass static_args=('total_steps',) to"
            " optax.inject_hyperparams."
        )
    return _common.check_int(
        fn_name, "total_steps", total_steps, meaning, minimum=minimum
    )


def linear_decay_schedule(
    peak_value: jax.typing.ArrayLike,
    total_steps: int,
    warmup_steps: int = 0,
) -> optax.Schedule:
    r"""Linear decay from ``peak_value`` to exactly 0 on step ``total_steps - 1``.

    With ``w = warmup_steps`` and ``T = total_steps``:

    .. math::
      \eta_t = \begin{cases}
        \eta_{\max}\, t / w & t < w \\
        \eta_{\max}\, (T - 1 - t) / (T - 1 - w) & w \le t \le T - 1 \\
        0 & t \ge T - 1
      \end{cases}

    The remaining-step count :math:`T - 1 - t` is computed in integers, so the
    last step is exactly 0.

    Args:
      peak_value: the peak learning rate :math:`\eta_{\max}` (may be traced,
        e.g. under ``optax.inject_hyperparams`` or ``vmap``).
      total_steps: ``T``, the number of steps of the run (at least 2).
      warmup_steps: ``w``, steps of linear warm-up from 0 (``0 <= w <= T - 2``).

    Returns:
      A schedule ``count -> learning rate``.

    Examples:
      >>> from glyder_optax import linear_decay_schedule
      >>> schedule = linear_decay_schedule(1.0, total_steps=5)
      >>> [float(schedule(t)) for t in range(6)]
      [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
      >>> warm = linear_decay_schedule(1.0, total_steps=6, warmup_steps=2)
      >>> [round(float(warm(t)), 4) for t in range(6)]
      [0.0, 0.5, 1.0, 0.6667, 0.3333, 0.0]

    References:
      Defazio et al., `Optimal Linear Decay Learning Rate Schedules and Further
      Refinements <https://arxiv.org/abs/2310.07831>`_, 2023
    """
    total_steps = _check_total_steps(total_steps, "linear_decay_schedule")
    warmup = _common.check_int(
        "linear_decay_schedule",
        "warmup_steps",
        warmup_steps,
        f"steps of warm-up, at most total_steps - 2 = {total_steps - 2}: the"
        " peak must come before the last step, which is 0",
        minimum=0,
        maximum=total_steps - 2,
    )
    decay = total_steps - 1 - warmup  # >= 1

    def schedule(count):
        count = jnp.asarray(count)
        real = jnp.result_type(float)  # float64 under x64, not int32's float32
        remaining = jnp.clip(total_steps - 1 - count, 0, decay).astype(real)
        frac = remaining / decay
        if warmup > 0:
            ramp = jnp.clip(count, 0).astype(real) / warmup
            frac = jnp.where(count < warmup, ramp, frac)
        return peak_value * frac

    return schedule


def schedule_from_array(
    values: jax.typing.ArrayLike,
    total_steps: int | None = None,
    peak_value: jax.typing.ArrayLike = 1.0,
) -> optax.Schedule:
    r"""An optax schedule from per-step values, resampled to ``total_steps``.

    With ``n = len(values)`` and ``T = total_steps`` (``n`` when ``None``), the
    learning rate at step ``t`` is ``peak_value * v(t (n - 1) / (T - 1))``,
    where ``v`` interpolates ``values`` linearly (:func:`jax.numpy.interp`):
    the first and last steps of the new run take the first and last values.
    When ``T == n`` it is a lookup, ``peak_value * values[t]``, exact at every
    step. Counts past ``T - 1`` keep the last value (0 for a refined schedule).

    Args:
      values: 1-D array of per-step multipliers, e.g. the output of
        :func:`glyder_optax.refine_schedule` (max 1, last 0).
      total_steps: length of the run that will use the schedule; ``None``
        means ``len(values)``.
      peak_value: multiplier of ``values`` (the peak learning rate when
        ``max(values) == 1``; may be traced).

    Returns:
      A schedule ``count -> learning rate`` (float32 values).

    Examples:
      >>> from glyder_optax import schedule_from_array
      >>> schedule = schedule_from_array([0.5, 1.0, 0.0], peak_value=0.1)
      >>> [round(float(schedule(t)), 4) for t in range(4)]
      [0.05, 0.1, 0.0, 0.0]
      >>> longer = schedule_from_array([0.5, 1.0, 0.0], total_steps=5)
      >>> [float(longer(t)) for t in range(5)]
      [0.5, 0.75, 1.0, 0.5, 0.0]
    """
    table = jnp.asarray(values, jnp.float32)
    if table.ndim != 1 or table.shape[0] < 2:
        raise ValueError(
            "schedule_from_array: values must be a 1-D array of at least 2 steps,"
            f" got shape {table.shape}."
        )
    try:  # checked on the host when the values are concrete (even under jit)
        finite = bool(np.all(np.isfinite(np.asarray(values, np.float32))))
    except jax.errors.TracerArrayConversionError:
        finite = True  # traced values cannot be checked
    if not finite:
        raise ValueError("schedule_from_array: values must all be finite.")
    n = table.shape[0]
    total = (
        n
        if total_steps is None
        else _check_total_steps(total_steps, "schedule_from_array")
    )

    if total == n:

        def schedule(count):
            index = jnp.clip(jnp.asarray(count), 0, n - 1)
            return peak_value * table[index]

    else:
        grid = jnp.arange(n, dtype=jnp.float32)

        def schedule(count):
            # count (n - 1) is an exact integer in float32 (below 2**24), so the
            # last step maps to position n - 1 exactly.
            count = jnp.clip(jnp.asarray(count), 0, total - 1).astype(jnp.float32)
            position = count * (n - 1) / (total - 1)
            return peak_value * jnp.interp(position, grid, table)

    return schedule

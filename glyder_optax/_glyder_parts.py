"""GLyDER's parts: its state, the checks of ``update``'s arguments, the
estimator by name, and one refresh (an estimate folded into the EMAs, under the
safeguards, each a small pure function).

The maths and the reasons are in the docstring of ``glyder_optax._glyder``,
which builds the transform from these. Nothing here is public API.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from glyder_optax import _common, curvature

_NAME = "scale_by_glyder"
Estimator = Literal["taylor", "gauss_newton", "gnb", "hvp"]


class GlyderState(NamedTuple):
    """State of :func:`scale_by_glyder`. Scalars in float32 or wider."""

    count: jax.Array  # int32, finite steps taken (refresh when count % k == 0).
    refreshes: jax.Array  # int32, estimates folded into the EMAs (debiasing).
    numerator_ema: jax.Array  # EMA of n = <g_B, d> (not debiased).
    curvature_ema: jax.Array  # EMA of the floored c = d^T H_B d (not debiased).
    eta: jax.Array  # the current step multiplier (0 before the first refresh).
    numerator: jax.Array  # last finite raw n, for logging.
    curvature: jax.Array  # last finite raw c (before the floor), for logging.
    direction_sq: jax.Array  # ||d||^2 at the last refresh (the held step's cap).
    # int32, the base's sign: +1 descent (optax.scale_by_adam()), -1 already
    # negated (optax.adam(1e-3)), set on the first active step from <grad, d>
    # (+1 when update gets no `grad`); 0 before. Applied to d thereafter.
    sign: jax.Array
    skipped: jax.Array  # int32, steps with a non-finite direction or gradient.
    estimator_state: optax.OptState  # the estimator's own (gnb: its PRNG key).


def estimator_from_name(
    estimator: Estimator | curvature.DirectionalEstimator, seed: int
):
    if isinstance(estimator, curvature.DirectionalEstimator):
        return estimator
    if estimator == "hvp":
        warnings.warn(
            "scale_by_glyder: estimator='hvp' is deprecated, use 'taylor' (the"
            " curvature comes from a forward-over-forward Taylor pass, not a"
            " Hessian-vector product; the numbers are the same).",
            DeprecationWarning,
            stacklevel=3,
        )
        estimator = "taylor"
    factories: dict[str, Callable[[], curvature.DirectionalEstimator]] = {
        "taylor": curvature.taylor_estimator,
        "gauss_newton": curvature.gauss_newton_estimator,
        "gnb": functools.partial(curvature.gnb_estimator, seed),
    }
    if estimator not in factories:
        raise ValueError(
            f"{_NAME}: estimator must be one of {(*factories, 'hvp')} or a"
            f" curvature.DirectionalEstimator, got {estimator!r}."
        )
    return factories[estimator]()


def _has_masked_leaves(tree: Any) -> bool:
    is_masked = lambda x: isinstance(x, optax.MaskedNode)
    return any(map(is_masked, jax.tree.leaves(tree, is_leaf=is_masked)))


def _is_nnx_state(params: Any) -> bool:
    return type(params).__module__.startswith("flax.nnx")


def _explain_nnx_errors(obj_fn: Callable, params: Any) -> Callable:
    """obj_fn, whose TypeError on an nnx.State says how to write it."""

    def wrapped(p):
        try:
            return obj_fn(p)
        except TypeError as e:
            raise TypeError(
                f"{_NAME}: obj_fn raised {type(e).__name__}: {e}. Under"
                " nnx.Optimizer, obj_fn receives the params as an nnx.State"
                f" ({type(params).__name__}), not the model: rebuild it with"
                " `nnx.merge(graphdef, params, rest)`, or build the step with"
                " `glyder_optax.training.make_nnx_train_step(loss_fn)`, which"
                " does it for you."
            ) from e

    return wrapped


def check_scalar_loss(value: jax.Array) -> None:
    """obj_fn must return a scalar (checked on shapes, at trace time)."""
    if jnp.ndim(value) != 0:
        raise ValueError(
            f"{_NAME}: `obj_fn` must return a scalar loss (the mean over the"
            f" independent batch), got an array of shape {jnp.shape(value)}."
            " Reduce it with `jnp.mean` inside obj_fn."
        )


def check_update_args(
    params: Any, obj_fn: Callable | None, logits_fn: Any, needs_logits: bool
) -> Callable:
    """Raises on a missing or misplaced argument; returns obj_fn to call."""
    _common.require(
        "obj_fn",
        obj_fn,
        _NAME,
        "loss_on_another_batch",
        " `obj_fn` receives the params pytree that `update` got and returns the"
        " mean loss on an independent batch (not the gradient's).",
    )
    if needs_logits:
        _common.require("logits_fn", logits_fn, _NAME, "logits_on_another_batch")
    if params is None:
        raise ValueError(f"{_NAME} needs `params` in `update`.")
    if _has_masked_leaves(params):
        raise ValueError(
            f"{_NAME} got params with masked-out leaves (optax.MaskedNode):"
            " it is inside optax.masked or optax.partition, so it cannot"
            " call obj_fn, which needs every parameter. Put the mask inside"
            " GLyDER instead: glyder(optax.partition({'train': base,"
            " 'frozen': optax.set_to_zero()}, labels)), or mask the base"
            " with optax.masked and zero the other leaves. The per-base"
            " aliases (glyder_sgd, glyder_momentum, glyder_adam) have no base"
            " to mask: write them as glyder over optax.identity(),"
            " optax.trace(0.9) or optax.scale_by_adam() with the mask inside."
        )
    return _explain_nnx_errors(obj_fn, params) if _is_nnx_state(params) else obj_fn


def init_state(params: optax.Params, estimator_state: optax.OptState) -> GlyderState:
    zero = jnp.zeros([], _common.scalar_dtype(params))
    int0 = jnp.zeros([], jnp.int32)
    return GlyderState(
        count=int0,
        refreshes=int0,
        numerator_ema=zero,
        curvature_ema=zero,
        eta=zero,
        numerator=zero,
        curvature=zero,
        direction_sq=zero,
        sign=int0,
        skipped=int0,
        estimator_state=estimator_state,
    )


def _detect_sign(
    sign: jax.Array, active: jax.Array, grad: Any, d: Any, dtype: jnp.dtype
) -> jax.Array:
    """The base's sign, set once, on the first active step: <grad, d> < 0 is -1."""
    found = 1 if grad is None else jnp.where(_common.vdot(grad, d, dtype) < 0, -1, 1)
    return jnp.where((sign == 0) & active, found, sign).astype(sign.dtype)


def sign_factor(state: GlyderState) -> jax.Array:
    """The base's sign as a factor: -1 flips; +1 and 0 (not yet found) keep."""
    return jnp.where(state.sign < 0, -1, 1).astype(state.eta.dtype)


def observe_direction(state: GlyderState, d: optax.Updates, grad: Any):
    """The direction's squared norm; whether it is finite and a step.

    A zero direction (e.g. a base that rejected a non-finite gradient) is not
    a step: no estimate, the state is left as it was. The state comes back
    with the base's sign and the count of skipped steps brought up to date.
    ``d`` itself is not flipped: the sign is a factor of the step and of the
    refresh's slopes (:func:`sign_factor`), where a flipped copy of ``d``
    would cost two passes over the parameters a step.
    """
    d_sq = _common.sq_norm(d, state.eta.dtype)
    finite = jnp.isfinite(d_sq)
    active = finite & (d_sq > 0)
    sign = _detect_sign(state.sign, active, grad, d, state.eta.dtype)
    skip = ~finite if grad is None else ~finite | ~_common.all_finite(grad)
    skipped = jnp.where(skip, optax.safe_increment(state.skipped), state.skipped)
    return d_sq, finite, active, state._replace(sign=sign, skipped=skipped)


class Safeguards(NamedTuple):
    """The hyperparameters of the refresh (possibly traced)."""

    smoothing: jax.typing.ArrayLike
    refresh_every: int
    min_curvature: jax.typing.ArrayLike
    max_growth: jax.typing.ArrayLike
    eta_max: jax.typing.ArrayLike | None
    f_min: jax.typing.ArrayLike | None
    per_unit_direction: jax.typing.ArrayLike
    refresh_first: int


def _secant_floor(n: jax.Array, n_probe: jax.Array, eta_prev: jax.Array):
    """(n - n^-) / eta_prev: the mean curvature over the last step; 0 at first."""
    c_sec = (n - n_probe) / jnp.where(eta_prev > 0, eta_prev, 1)
    return jnp.where(eta_prev > 0, c_sec, 0)


def check_refresh(refresh: Any) -> None:
    """``update``'s ``refresh`` is ``None`` or a Python (or NumPy) bool."""
    if refresh is None or isinstance(refresh, (bool, np.bool_)):
        return
    raise ValueError(
        f"{_NAME}: update's `refresh` must be None (a refresh every"
        " refresh_every steps, under lax.cond) or a Python bool, known when the"
        f" step is traced; got {type(refresh).__name__}. Make it a static"
        ' argument of your jitted step, jax.jit(step, static_argnames="refresh"),'
        " and pass refresh=(t % refresh_every == 0) with t a Python int; or"
        " leave it None."
    )


def check_secant(secant: Any) -> bool | str:
    """``secant`` is True, False or ``"auto"``."""
    if secant is True or secant is False or secant == "auto":
        return secant
    raise ValueError(
        f"{_NAME}: secant must be True (a probe at every refresh), False (none)"
        f' or "auto" (a probe only where the curvature is flat), got {secant!r}.'
    )


def _model_floor(value: jax.Array, n: jax.Array, f_min: jax.Array):
    """n^2 / (2 (f_B - f_min)): the quadratic model stays above f_min."""
    gap = value - f_min
    return jnp.where(gap > 0, n**2 / (2 * jnp.where(gap > 0, gap, 1)), 0)


def _min_curvature_floor(min_curvature: jax.Array, d_sq: jax.Array):
    """min_curvature * ||d||^2: a floor on the directional smoothness."""
    return min_curvature * d_sq


def secant_probe(
    secant: bool | str,
    estimate: curvature.DirectionalEstimate,
    min_curvature: jax.typing.ArrayLike,
    d_sq: jax.Array,
    probe: Callable[[], jax.Array],
) -> jax.Array | None:
    """The secant probe's slope ``n^-``, or ``None`` without the secant.

    With ``secant="auto"`` the probe runs only where the estimated curvature
    is at most the ``min_curvature`` floor: where the estimator sees no
    positive curvature (LAD, hinge, the flat pieces of a ReLU network).
    Elsewhere ``n^- = n``, a secant floor of 0.
    """
    if secant is False:
        return None
    if secant is True:
        return probe()
    slope = estimate.slope
    floor = _min_curvature_floor(jnp.asarray(min_curvature, d_sq.dtype), d_sq)
    flat = estimate.curvature <= floor
    return jax.lax.cond(flat, lambda: probe().astype(slope.dtype), lambda: slope)


def _growth_cap(eta_prev: jax.Array, max_growth: jax.Array, steps):
    """eta grows at most by max_growth per step since the last refresh."""
    return jnp.where(eta_prev > 0, eta_prev * max_growth**steps, jnp.inf)


def _steps_since_refresh(count: jax.Array, guards: Safeguards, dtype):
    """The steps since the last scheduled refresh, at a refresh at ``count``:
    ``refresh_every`` (a Python int without ``refresh_first``); with
    ``refresh_first`` (an array of ``dtype``), 1 over the first
    ``refresh_first`` steps (a refresh at each), and ``count - refresh_first
    + 1`` at the first refresh after them where that is shorter."""
    first = guards.refresh_first
    if isinstance(first, int) and first == 0:
        return guards.refresh_every
    since = jnp.clip(count - first + 1, 1, guards.refresh_every)
    return jnp.where(first > 0, since, guards.refresh_every).astype(dtype)


def _eta_max_cap(cap: jax.Array, eta_max: jax.Array | None):
    """The optional upper bound on eta."""
    return cap if eta_max is None else jnp.minimum(cap, eta_max)


def _ratio(num_hat: jax.Array, cur_hat: jax.Array):
    """max(N, 0) / C, inf where C <= 0 (then only the caps bound eta)."""
    safe = jnp.where(cur_hat > 0, cur_hat, 1)
    return jnp.where(cur_hat > 0, jnp.maximum(num_hat, 0) / safe, jnp.inf)


def _per_unit_direction(n, c, d_sq, on):
    """(n, c) / ||d||^2 where ``on``: the estimates per unit direction, so
    that the large ones of the first steps do not outweigh later ones."""
    scale = jnp.where(jnp.asarray(on, bool) & (d_sq > 0), d_sq, 1)
    return n / scale, c / scale


def refresh_state(
    state: GlyderState,
    estimate: curvature.DirectionalEstimate,
    n_probe: jax.Array | None,
    d_sq: jax.Array,
    guards: Safeguards,
) -> GlyderState:
    """Folds one estimate into the EMAs; a non-finite one keeps the state."""
    dtype = state.eta.dtype
    cast = lambda x: jnp.asarray(x, dtype)
    check_scalar_loss(estimate.value)
    value, n, c = (x.astype(dtype) for x in estimate)
    floors = [_min_curvature_floor(cast(guards.min_curvature), d_sq)]
    if n_probe is not None:
        floors.append(_secant_floor(n, n_probe.astype(dtype), state.eta))
    if guards.f_min is not None:
        floors.append(_model_floor(value, n, cast(guards.f_min)))
    c_floored = functools.reduce(jnp.maximum, floors, c)

    n_ema, c_ema = _per_unit_direction(n, c_floored, d_sq, guards.per_unit_direction)
    b = cast(guards.smoothing)
    # The EMAs, written as before optax.tree.update_moment (whose operand
    # order gives other roundings under the CPU's fused multiply-add).
    num = b * state.numerator_ema + (1 - b) * n_ema
    cur = b * state.curvature_ema + (1 - b) * c_ema
    refreshes = optax.safe_increment(state.refreshes)
    num_hat, cur_hat = optax.tree.bias_correction(
        (num, cur), b, refreshes.astype(dtype)
    )
    steps = _steps_since_refresh(state.count, guards, dtype)
    cap = _growth_cap(state.eta, cast(guards.max_growth), steps)
    eta_max = None if guards.eta_max is None else cast(guards.eta_max)
    eta = jnp.minimum(_ratio(num_hat, cur_hat), _eta_max_cap(cap, eta_max))
    new = state._replace(
        refreshes=refreshes,
        numerator_ema=num,
        curvature_ema=cur,
        eta=eta,
        numerator=n,
        curvature=c,
        direction_sq=d_sq,
    )
    # Nothing non-finite enters the state: every estimate, the secant probe's
    # slope included (through cur).
    ok = jnp.isfinite(value) & jnp.all(jnp.isfinite(jnp.stack([num, cur, eta, n, c])))
    return optax.tree.where(ok, new, state)


def held_eta(state: GlyderState, d_sq: jax.Array, cap_held_step: jax.typing.ArrayLike):
    """eta, scaled down where ``cap_held_step`` and ``d`` is longer than at the
    last refresh, so that the step is no longer than the refreshed one."""
    shrink = jnp.asarray(cap_held_step, bool) & (d_sq > state.direction_sq)
    ratio = state.direction_sq / jnp.where(shrink, d_sq, 1)
    return jnp.where(shrink, state.eta * jnp.sqrt(ratio), state.eta)


def bound_step_by_params(ratio: jax.typing.ArrayLike) -> optax.GradientTransformation:
    """Scales ``updates`` down to norm ``ratio * ||params||`` where larger.

    A relative trust region on the whole step (our design for GLyDER's
    ``max_step_ratio``); needs ``params``. Params of norm 0 (a model started
    at zeros) leave the step as it is, as LAMB's trust ratio does.
    """

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                "glyder(max_step_ratio=...) needs `params` in `update`; pass"
                " them, or turn the trust region off with max_step_ratio=None."
            )
        params_norm = optax.tree.norm(params)
        bound = ratio * params_norm
        norm = optax.tree.norm(updates)
        shrink = (norm > bound) & (params_norm > 0)
        scale = jnp.where(shrink, bound / jnp.where(shrink, norm, 1.0), 1.0)
        return optax.tree.scale(scale, updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def with_raw_gradient(
    *transforms: optax.GradientTransformation,
) -> optax.GradientTransformationExtraArgs:
    """``optax.chain(*transforms)`` whose ``update`` also passes the incoming
    gradient as the extra argument ``grad`` (optax's name; unless given), for
    GLyDER's sign of the base."""
    inner = optax.chain(*transforms)

    def update_fn(updates, state, params=None, **extra_args):
        extra_args.setdefault("grad", updates)
        return inner.update(updates, state, params, **extra_args)

    return optax.GradientTransformationExtraArgs(inner.init, update_fn)

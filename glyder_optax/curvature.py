r"""Directional curvature estimators: :math:`d^\top H d` along one direction.

Pure functions used by :func:`glyder_optax.scale_by_glyder`, usable alone. Each
returns the curvature of a minibatch objective along a direction ``d`` (a
pytree shaped like ``params``), accumulated in float32 (or float64 with float64
params), never in the params' low precision.

- :func:`taylor_along` (and :func:`slope_and_curvature`): the "1-d
  projection" of the paper, :math:`d^\top H d` with the value and the slope,
  from one forward-over-forward pass; any loss; negative off convexity.
  :func:`hvp` gives the same curvature with the gradient, forward over reverse.
- :func:`gauss_newton`: the exact directional Gauss-Newton curvature of the
  mean softmax cross-entropy (our addition): one forward-mode pass of the
  logits; never negative; no sampling.
- :func:`gnb`: the Gauss-Newton-Bartlett estimator (as in Sophia), unbiased for
  :func:`gauss_newton`, from the same forward-mode pass (no backward pass).

:func:`scale_by_glyder <glyder_optax.scale_by_glyder>` takes them through one
interface, a :class:`DirectionalEstimator` (``init``, ``estimate``), as
:func:`optax.contrib.sophia` takes its Hessian estimator: each estimator keeps
its own state (:func:`gnb_estimator` its PRNG key; the others none).
:func:`taylor_estimator` gives :math:`(f, \nabla f^\top d, d^\top H d)` from
:func:`taylor_along`; :func:`gauss_newton_estimator` and :func:`gnb_estimator`
take :math:`f` and the slope from :func:`value_and_slope` and the curvature
from the logits. :func:`slope_at` is the secant probe: the slope along ``d``
at a point on the line.

Conventions (chosen so that the three agree on multinomial logistic
regression): ``obj_fn(params)`` is the *mean* loss over the batch;
``logits_fn(params)`` returns logits of shape ``(..., num_classes)``, every
leading index one example, and the loss it stands for is the mean softmax
cross-entropy over all leading indices, so :math:`B` is the product of the
leading dimensions. For this loss the Hessian is the Gauss-Newton matrix plus a
term in the logits' second derivatives, zero for models linear in the params:
:func:`hvp` equals :func:`gauss_newton` there, and :func:`gnb` equals it in
expectation. Terms of ``obj_fn`` outside the cross-entropy (weight decay, a
regulariser) are not seen by the Gauss-Newton estimators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jax
import optax

from glyder_optax._directional import (
    gauss_newton,
    gnb,
    hvp,
    slope_and_curvature,
    slope_at,
    taylor_along,
    value_and_slope,
)

__all__ = [
    "DirectionalEstimate",
    "DirectionalEstimator",
    "GNBState",
    "gauss_newton",
    "gauss_newton_estimator",
    "gnb",
    "gnb_estimator",
    "hvp",
    "slope_and_curvature",
    "slope_at",
    "taylor_along",
    "taylor_estimator",
    "value_and_slope",
]


class DirectionalEstimate(NamedTuple):
    """What an estimator returns: the second-order model along ``d``."""

    value: jax.Array  # f_B at params.
    slope: jax.Array  # n = <grad f_B, d>.
    curvature: jax.Array  # c = d^T H_B d, or its Gauss-Newton estimate.


class _EstimateFn(Protocol):
    def __call__(
        self,
        state: Any,
        params: optax.Params,
        d: optax.Updates,
        *,
        obj_fn: Callable[[Any], jax.Array],
        logits_fn: Callable[[Any], jax.Array] | None,
    ) -> tuple[DirectionalEstimate, Any]: ...


class DirectionalEstimator(NamedTuple):
    """A curvature estimator along a direction, with its own state.

    ``init(params) -> state``; ``estimate(state, params, d, *, obj_fn,
    logits_fn) -> (DirectionalEstimate, state)``. ``needs_logits`` says
    whether ``logits_fn`` is required. GLyDER passes ``d`` as the base
    outputs it and multiplies the slope by the base's sign, so the slope must
    be odd in ``d`` and the value and curvature even, as a directional
    derivative's are.
    """

    init: Callable[[optax.Params], Any]
    estimate: _EstimateFn
    needs_logits: bool


def _no_state(params: optax.Params) -> optax.EmptyState:
    del params
    return optax.EmptyState()


def taylor_estimator() -> DirectionalEstimator:
    """Value, slope and :math:`d^\top H d` from :func:`taylor_along`; any loss."""

    def estimate(state, params, d, *, obj_fn, logits_fn):
        del logits_fn
        return DirectionalEstimate(*taylor_along(obj_fn, params, d)), state

    return DirectionalEstimator(_no_state, estimate, needs_logits=False)


def gauss_newton_estimator() -> DirectionalEstimator:
    """Value and slope of ``obj_fn``, curvature from :func:`gauss_newton`."""

    def estimate(state, params, d, *, obj_fn, logits_fn):
        value, slope = value_and_slope(obj_fn, params, d)
        c = gauss_newton(logits_fn, params, d)
        return DirectionalEstimate(value, slope, c), state

    return DirectionalEstimator(_no_state, estimate, needs_logits=True)


class GNBState(NamedTuple):
    """State of :func:`gnb_estimator`."""

    key: jax.Array  # uint32 PRNG key for the sampled labels.


def gnb_estimator(seed: int = 0) -> DirectionalEstimator:
    """Value and slope of ``obj_fn``, curvature from :func:`gnb` (sampled)."""

    def init(params):
        del params
        return GNBState(key=jax.random.PRNGKey(seed))

    def estimate(state, params, d, *, obj_fn, logits_fn):
        key, sub = jax.random.split(state.key)
        value, slope = value_and_slope(obj_fn, params, d)
        c = gnb(logits_fn, params, d, sub)
        return DirectionalEstimate(value, slope, c), GNBState(key)

    return DirectionalEstimator(init, estimate, needs_logits=True)

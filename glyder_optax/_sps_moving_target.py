r"""TAPS and MOTAPS: the stochastic Polyak stepsize with a (moving) target.

Gower, Defazio and Rabbat give every training sample :math:`i` a target
:math:`\alpha_i` for its loss and take a Polyak step towards it, on the
parameters and on the target together (SGD on the interpolation equations
:math:`f_i(x) = \alpha_i`). On sample :math:`i`, with :math:`f_i` its loss and
:math:`g_i` its gradient at :math:`x`:

.. math::
  \Gamma = \frac{f_i(x) - \alpha_i}{\|g_i\|^2 + 1}, \qquad
  \alpha_i \leftarrow \alpha_i + \eta\,\Gamma, \qquad
  z \leftarrow z - \eta\,\Gamma\, g_i, \qquad
  x \leftarrow \beta x + (1 - \beta) z .

Once per epoch the total target :math:`\tau` moves towards the mean target
and every target shifts towards :math:`\tau`:

.. math::
  \tau \leftarrow (1 - \eta_\tau)\,\tau + \eta_\tau \frac{n}{n+1}
  \bar\alpha, \qquad
  \alpha_j \leftarrow \alpha_j + \eta\,(\tau - \bar\alpha)\ \forall j,
  \qquad \bar\alpha = \tfrac1n \textstyle\sum_j \alpha_j .

:math:`\eta_\tau = 0` keeps :math:`\tau = \tau_0` fixed (TAPS); :math:`\eta_\tau
> 0` is MOTAPS. All targets start at 0.

From the paper and the authors' code (StochOpt-py, ``taps``): the rules above;
the epoch update uses the mean before the shift and the new :math:`\tau`; with
momentum :math:`\beta` the code pre-scales :math:`\eta` by
:math:`1/(1-\beta)` (for the targets too), so that :math:`x` moves like SGD
with momentum :math:`\beta` and step :math:`\eta\Gamma`; the convex defaults
:math:`\eta = 1/(1 + 0.25\,\lambda e^{\lambda})` (:math:`\lambda` the L2
regularisation of the problem, ``reg``), :math:`\eta_\tau = 0.9 - 0.899\,\eta`,
:math:`\tau_0 = 0`, :math:`\beta = 0`.

Ours:

* The minibatch extension: with :math:`B` the sampled indices and :math:`f_B`,
  :math:`g_B` the minibatch mean loss and gradient, the same projection on the
  equation :math:`f_B(x) = \tfrac{1}{|B|}\sum_{i \in B} \alpha_i` gives
  :math:`\Gamma = (f_B - \bar\alpha_B) / (\|g_B\|^2 + 1/|B|)` and
  :math:`\alpha_i \leftarrow \alpha_i + \eta\Gamma/|B|` for :math:`i \in B`;
  :math:`|B| = 1` is the paper's rule. Repeated indices in a batch count once
  each (their increments add up).
* The epoch update runs after every :math:`\lceil n/|B| \rceil`-th step (the
  code: after every :math:`n`-th single-sample step), counting finite steps.
* Momentum is applied in its heavy-ball form, :math:`m \leftarrow \beta m +
  (1-\beta)\,\eta\Gamma g`, :math:`x \leftarrow x - m` (with the pre-scaled
  :math:`\eta`), which equals the code's averaging form :math:`z, x` exactly
  (stochastic primal averaging; tested against the code's form) and
  needs no ``params``; the buffer :math:`m` is kept even when :math:`\beta = 0`
  so that the state's structure does not depend on a hyperparameter.
* A non-finite loss or gradient gives a zero update and leaves the state as it
  was; indices outside :math:`[0, n)` are dropped from the target update.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common

_NAME = "scale_by_sps_moving_target"


class SPSMovingTargetState(NamedTuple):
    """State of :func:`scale_by_sps_moving_target`."""

    count: jax.Array  # number of finite steps taken, int32.
    targets: jax.Array  # alpha: one scalar per training sample, shape (n,).
    mean_target: jax.Array  # the mean of alpha (kept in step, not recomputed).
    tau: jax.Array  # the total target.
    momentum_buffer: optax.Updates  # m = x_{k-1} - x_k (heavy-ball form), like params.


def default_learning_rate(reg: jax.typing.ArrayLike) -> jax.Array:
    r"""The authors' convex default :math:`\eta = 1/(1 + 0.25\,\lambda e^\lambda)`."""
    reg = jnp.asarray(reg)
    return 1 / (1 + 0.25 * reg * jnp.exp(reg))


def _check_indices(indices: jax.typing.ArrayLike) -> jax.Array:
    indices = jnp.reshape(jnp.asarray(indices), (-1,))
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        raise TypeError(
            f"{_NAME}: `indices` must be integer sample indices, got dtype"
            f" {indices.dtype}."
        )
    return indices


def _target_step(targets, mean_target, indices, value, grad_sq, lr):
    """Gamma, and the targets moved by the Polyak step on (x, alpha_B)."""
    n, batch = targets.shape[0], indices.shape[0]
    valid = (indices >= 0) & (indices < n)
    batch_targets = jnp.where(valid, targets[jnp.clip(indices, 0, n - 1)], 0)
    gap = value - jnp.sum(batch_targets) / batch
    gamma = gap / (grad_sq + 1 / batch)
    increment = jnp.where(valid, lr * gamma / batch, 0)
    targets = targets.at[indices].add(increment, mode="drop")
    return gamma, targets, mean_target + jnp.sum(increment) / n


def _epoch_update(end_of_epoch, tau, targets, mean_target, t_lr, lr):
    """At the end of an epoch: move tau, shift every target towards it."""
    n = targets.shape[0]
    new_tau = (1 - t_lr) * tau + t_lr * (n / (n + 1)) * mean_target
    shift = lr * (new_tau - mean_target)
    return (
        jnp.where(end_of_epoch, new_tau, tau),
        jnp.where(end_of_epoch, targets + shift, targets),
        jnp.where(end_of_epoch, mean_target + shift, mean_target),
    )


def _rates(momentum, learning_rate, tau_lr, dtype):
    """(beta, the step's learning rate / (1 - beta), the targets' rate)."""
    beta = jnp.asarray(momentum, dtype)
    t_lr = 0.9 - 0.899 * jnp.asarray(learning_rate, dtype)
    t_lr = t_lr if tau_lr is None else jnp.asarray(tau_lr, dtype)
    return beta, jnp.asarray(learning_rate, dtype) / (1 - beta), t_lr


def _heavy_ball(buffer, step, beta, ok):
    """(the new buffer beta * buffer + step, the update: it where ok, else 0)."""
    buffer = jax.tree.map(lambda m, u: (beta * m + u).astype(m.dtype), buffer, step)
    return buffer, _common.zeros_unless(ok, buffer)


def scale_by_sps_moving_target(
    num_samples: int,
    learning_rate: jax.typing.ArrayLike = 1.0,
    tau_lr: jax.typing.ArrayLike | None = None,
    tau0: jax.typing.ArrayLike = 0.0,
    momentum: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""The TAPS/MOTAPS step :math:`x_k - x_{k+1}` (sign preserved).

    Without momentum this scales the gradient by :math:`\eta\,\Gamma`; the
    alias :func:`sps_moving_target` adds the sign.

    Args:
      num_samples: :math:`n`, the number of training samples; the state holds
        one target per sample. Structural: pass it in ``static_args`` of
        ``optax.inject_hyperparams``.
      learning_rate: :math:`\eta`, the step on the targets and on :math:`z`
        (with momentum, pre-scaled by :math:`1/(1-\beta)` here, as the authors'
        code does).
      tau_lr: :math:`\eta_\tau`; ``None`` gives the authors' convex default
        :math:`0.9 - 0.899\,\eta`; 0 gives TAPS.
      tau0: :math:`\tau_0`, the initial total target.
      momentum: :math:`\beta`, momentum in the averaging form of the code.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs` whose ``update`` takes the
      extra keyword arguments ``value``, the mean loss of the minibatch at
      ``params``, and ``indices``, the integer indices in :math:`[0, n)` of the
      samples in the minibatch (shape ``(batch_size,)``; a scalar for one
      sample). The batch size must stay the same from step to step.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import scale_by_sps_moving_target
      >>> tx = optax.chain(scale_by_sps_moving_target(num_samples=2), optax.scale(-1))
      >>> data = jnp.array([1.0, 3.0])
      >>> loss = lambda x, i: 0.5 * jnp.mean((x - data[i]) ** 2)
      >>> params = jnp.array(0.0)
      >>> state = tx.init(params)
      >>> for i in [0, 1, 0, 1]:
      ...   idx = jnp.array([i])
      ...   value, grad = jax.value_and_grad(loss)(params, idx)
      ...   updates, state = tx.update(grad, state, params, value=value, indices=idx)
      ...   params = optax.apply_updates(params, updates)
      >>> print(state[0].targets.shape)  # one target per sample
      (2,)

    References:
      Gower, Defazio and Rabbat, `Stochastic Polyak Stepsize with a Moving
      Target <https://arxiv.org/abs/2106.11851>`_, 2021
    """
    _common.check_int(
        _NAME, "num_samples", num_samples, "the number of training samples"
    )

    def init_fn(params: optax.Params):
        dtype = _common.scalar_dtype(params)
        return SPSMovingTargetState(
            count=jnp.zeros([], jnp.int32),
            targets=jnp.zeros([num_samples], dtype),
            mean_target=jnp.zeros([], dtype),
            tau=jnp.asarray(tau0, dtype),
            momentum_buffer=optax.tree.zeros_like(params),
        )

    def update_fn(
        updates: optax.Updates,
        state,
        params: optax.Params | None = None,
        *,
        value=None,
        indices=None,
        **extra,
    ):
        del params, extra
        _common.require("value", value, _NAME, "loss")
        _common.require("indices", indices, _NAME, "batch_indices")
        dtype = state.targets.dtype
        value = _common.scalar_value(value, dtype, _NAME)
        indices = _check_indices(indices)
        batch = indices.shape[0]
        n = state.targets.shape[0]
        beta, lr, t_lr = _rates(momentum, learning_rate, tau_lr, dtype)

        # The Polyak step on (x, alpha_B) towards f_B(x) = mean(alpha_B).
        grad_sq = _common.sq_norm(updates, dtype)
        gamma, targets, mean_target = _target_step(
            state.targets, state.mean_target, indices, value, grad_sq, lr
        )

        count = optax.safe_increment(state.count)
        end_of_epoch = count % (-(-n // batch)) == 0
        tau, targets, mean_target = _epoch_update(
            end_of_epoch, state.tau, targets, mean_target, t_lr, lr
        )

        ok = jnp.isfinite(value) & jnp.isfinite(grad_sq)
        step = _common.scale_or_zero((1 - beta) * lr * gamma, ok, updates)
        buffer, new_updates = _heavy_ball(state.momentum_buffer, step, beta, ok)
        new_updates = optax.tree.cast_like(new_updates, updates)
        new_state = SPSMovingTargetState(
            count=count,
            targets=targets,
            mean_target=mean_target,
            tau=tau,
            momentum_buffer=buffer,
        )
        return new_updates, optax.tree.where(ok, new_state, state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sps_moving_target(
    num_samples: int,
    learning_rate: jax.typing.ArrayLike | None = None,
    reg: jax.typing.ArrayLike = 0.0,
    tau_lr: jax.typing.ArrayLike | None = None,
    tau0: jax.typing.ArrayLike = 0.0,
    momentum: jax.typing.ArrayLike = 0.0,
) -> optax.GradientTransformationExtraArgs:
    r"""SGD with the moving-target Polyak step (MOTAPS; TAPS with ``tau_lr=0``).

    ``update`` needs the extra keyword arguments ``value`` (the minibatch mean
    loss at ``params``) and ``indices`` (the minibatch's sample indices, integers
    in :math:`[0, n)`). See :func:`scale_by_sps_moving_target` for the maths.

    Args:
      num_samples: :math:`n`, the number of training samples (static).
      learning_rate: :math:`\eta`; ``None`` gives the authors' convex default
        :math:`1/(1 + 0.25\,\lambda e^\lambda)` from ``reg``.
      reg: :math:`\lambda`, the L2 regularisation of the training loss; only
        used for the default ``learning_rate``.
      tau_lr: :math:`\eta_\tau`; ``None`` gives :math:`0.9 - 0.899\,\eta`;
        0 gives TAPS.
      tau0: :math:`\tau_0`, the initial total target.
      momentum: :math:`\beta`. As in the authors' code, :math:`\eta` is then
        pre-scaled by :math:`1/(1-\beta)` for the targets and the averaging
        sequence, which makes the parameters move like SGD with momentum
        :math:`\beta` and step :math:`\eta\Gamma`.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs`.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from glyder_optax import sps_moving_target
      >>> data = jnp.array([1.0, 3.0])
      >>> loss = lambda x, i: 0.5 * jnp.mean((x - data[i]) ** 2)
      >>> opt = sps_moving_target(num_samples=2)  # reg = 0: learning_rate 1
      >>> params = jnp.array(0.0)
      >>> state = opt.init(params)
      >>> idx = jnp.array([0])
      >>> value, grad = jax.value_and_grad(loss)(params, idx)  # 0.5, -1
      >>> updates, state = opt.update(grad, state, params, value=value, indices=idx)
      >>> print(optax.apply_updates(params, updates))  # Gamma = 0.5 / (1 + 1)
      0.25
      >>> print(state[0].targets)  # only the sampled target moved
      [0.25 0.  ]

    References:
      Gower, Defazio and Rabbat, `Stochastic Polyak Stepsize with a Moving
      Target <https://arxiv.org/abs/2106.11851>`_, 2021
    """
    lr = default_learning_rate(reg) if learning_rate is None else learning_rate
    return optax.chain(
        scale_by_sps_moving_target(
            num_samples, learning_rate=lr, tau_lr=tau_lr, tau0=tau0, momentum=momentum
        ),
        optax.scale(-1.0),
    )

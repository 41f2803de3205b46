"""Train-step helpers: the extra arguments of ``update`` from an independent batch.

Methods in this package take extra keyword arguments in ``update``: ``value``
(the loss at ``params``), ``obj_fn`` (params -> loss on an *independent* batch,
for GLyDER) and ``logits_fn`` (params -> that batch's logits, for GLyDER's
Gauss-Newton modes). The helpers below build all of them for every step, so one
train step serves every method (``update`` ignores the extra arguments it does
not use), in three settings:

- a plain optax loop: :func:`make_train_step`;
- a Flax Linen ``TrainState``: :class:`TrainState`, whose ``apply_gradients``
  forwards extra arguments to ``tx.update`` (Flax's does not), and
  :func:`make_linen_train_step`;
- a Flax NNX ``nnx.Optimizer``: :func:`make_nnx_train_step` (``obj_fn`` rebuilds
  the model from the params state with ``nnx.merge``).

The independent batch (our design; the paper uses additional minibatches) is
either passed as ``estimate_batch`` (e.g. the next batch of the stream) or, when
it is ``None``, the second half of the current batch, the gradient being taken
on the first half (:func:`split_batch`). Every step function is pure and meant
to be jitted (``jax.jit`` or ``nnx.jit``); the loss and logits functions are
closed over, the batches are arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

try:
    from flax import nnx
    from flax.training import train_state
except ImportError as e:  # flax is an optional extra
    raise ImportError(
        "glyder_optax.training needs flax, an optional dependency: "
        'pip install "glyder-optax[flax]"'
    ) from e


def split_batch(batch: Any) -> tuple[Any, Any]:
    """Splits every leaf of ``batch`` in two halves along its leading axis.

    Returns ``(first, second)``; with an odd batch size the first half gets the
    extra example. The leading axis must be the same for every leaf.
    """
    sizes = {x.shape[0] for x in jax.tree.leaves(batch)}
    if len(sizes) != 1:
        raise ValueError(f"batch leaves have different leading sizes {sizes}.")
    half = (sizes.pop() + 1) // 2
    return (
        jax.tree.map(lambda x: x[:half], batch),
        jax.tree.map(lambda x: x[half:], batch),
    )


def independent_extras(
    loss_fn: Callable[[Any, Any], jax.Array],
    estimate_batch: Any,
    logits_fn: Callable[[Any, Any], jax.Array] | None = None,
) -> dict[str, Callable]:
    """The extra arguments built from an independent batch.

    Args:
      loss_fn: (params, batch) -> scalar mean loss.
      estimate_batch: the independent batch.
      logits_fn: optional (params, batch) -> logits ``(..., num_classes)``.

    Returns:
      ``{'obj_fn': params -> loss_fn(params, estimate_batch)}``, plus
      ``'logits_fn'`` when ``logits_fn`` is given.
    """
    extras = {"obj_fn": lambda p: loss_fn(p, estimate_batch)}
    if logits_fn is not None:
        extras["logits_fn"] = lambda p: logits_fn(p, estimate_batch)
    return extras


def _batches(batch, estimate_batch):
    if estimate_batch is None:
        return split_batch(batch)
    return batch, estimate_batch


def _extras(loss, loss_fn, estimate_batch, logits_fn, extra_args):
    # value, obj_fn, logits_fn; the caller's extra arguments win on a clash.
    built = independent_extras(loss_fn, estimate_batch, logits_fn)
    return {"value": loss, **built, **extra_args}


def make_train_step(
    opt: optax.GradientTransformation,
    loss_fn: Callable[[Any, Any], jax.Array],
    logits_fn: Callable[[Any, Any], jax.Array] | None = None,
) -> Callable:
    """A train step for a plain optax loop.

    Args:
      opt: any optax transformation (extra arguments it does not take are
        ignored, as optax's ``GradientTransformationExtraArgs`` do).
      loss_fn: (params, batch) -> scalar mean loss.
      logits_fn: optional (params, batch) -> logits, for GLyDER's Gauss-Newton
        modes.

    Returns:
      ``step(params, opt_state, batch, estimate_batch=None, **extra_args) ->
      (params, opt_state, loss)``: the gradient and ``value`` on ``batch`` (its
      first half when ``estimate_batch`` is None), ``obj_fn`` and ``logits_fn``
      on ``estimate_batch`` (the second half); ``extra_args`` go to
      ``opt.update`` as they are (and override the built ones of the same
      name), e.g. ``indices=`` the sample indices of the gradient batch (of its
      first half, :func:`split_batch`, when ``estimate_batch`` is None), or
      GLyDER's static ``refresh`` (then jit with
      ``static_argnames="refresh"``). Jit it.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import glyder_optax as go
      >>> X = jax.random.normal(jax.random.key(0), (32, 3))
      >>> batch = (X, X @ jnp.array([1.0, -2.0, 0.5]))
      >>> loss_fn = lambda w, b: jnp.mean((b[0] @ w - b[1]) ** 2)
      >>> opt = go.glyder(optax.identity())
      >>> step = jax.jit(go.training.make_train_step(opt, loss_fn))
      >>> w = jnp.zeros(3)
      >>> state = opt.init(w)
      >>> for _ in range(30):
      ...   w, state, loss = step(w, state, batch)
      >>> print(bool(loss_fn(w, batch) < 1e-6))
      True
    """

    def step(params, opt_state, batch, estimate_batch=None, **extra_args):
        batch, estimate_batch = _batches(batch, estimate_batch)
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        extras = _extras(loss, loss_fn, estimate_batch, logits_fn, extra_args)
        updates, opt_state = opt.update(grads, opt_state, params, **extras)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


class TrainState(train_state.TrainState):
    """Flax Linen ``TrainState`` whose ``apply_gradients`` forwards extra args.

    ``state.apply_gradients(grads=g, value=loss, obj_fn=f)``: keyword arguments
    that are fields of the state are ``replace``-d, as in Flax; every other
    keyword goes to ``tx.update`` (Flax's ``TrainState`` calls ``tx.update``
    with no extra arguments). ``create`` starts ``step`` as an int32 array
    (Flax starts it as a Python int, which costs a second compile of a jitted
    step).
    """

    @classmethod
    def create(cls, *, apply_fn, params, tx, **kwargs):
        state = super().create(apply_fn=apply_fn, params=params, tx=tx, **kwargs)
        return state.replace(step=jnp.zeros([], jnp.int32))

    def apply_gradients(self, *, grads, **kwargs):
        fields = set(self.__dataclass_fields__)
        replaced = {k: v for k, v in kwargs.items() if k in fields}
        extras = {k: v for k, v in kwargs.items() if k not in fields}
        updates, new_opt_state = self.tx.update(
            grads, self.opt_state, self.params, **extras
        )
        return self.replace(
            **{
                "step": self.step + 1,
                "params": optax.apply_updates(self.params, updates),
                "opt_state": new_opt_state,
                **replaced,
            }
        )


def make_linen_train_step(
    loss_fn: Callable[[Any, Any], jax.Array],
    logits_fn: Callable[[Any, Any], jax.Array] | None = None,
) -> Callable:
    """A train step for a Linen :class:`TrainState`.

    Args:
      loss_fn: (params, batch) -> scalar mean loss (it calls the model's
        ``apply``).
      logits_fn: optional (params, batch) -> logits.

    Returns:
      ``step(state, batch, estimate_batch=None, **extra_args) -> (state,
      loss)``, with the batches and ``extra_args`` used as in
      :func:`make_train_step`. Jit it.
    """

    def step(state, batch, estimate_batch=None, **extra_args):
        batch, estimate_batch = _batches(batch, estimate_batch)
        loss, grads = jax.value_and_grad(loss_fn)(state.params, batch)
        extras = _extras(loss, loss_fn, estimate_batch, logits_fn, extra_args)
        return state.apply_gradients(grads=grads, **extras), loss

    return step


def make_nnx_train_step(
    loss_fn: Callable[[nnx.Module, Any], jax.Array],
    logits_fn: Callable[[nnx.Module, Any], jax.Array] | None = None,
) -> Callable:
    """A train step for an NNX model and ``nnx.Optimizer``.

    ``nnx.Optimizer.update`` passes ``tx.update`` the params as a pure state
    (arrays, no ``Variable``); ``obj_fn`` rebuilds the model from it with
    ``nnx.merge`` (the other state, e.g. batch statistics, is taken as it is
    now and not updated by the estimate).

    Args:
      loss_fn: (model, batch) -> scalar mean loss.
      logits_fn: optional (model, batch) -> logits.

    Returns:
      ``step(model, optimizer, batch, estimate_batch=None, **extra_args) ->
      loss``, updating ``model`` and ``optimizer`` in place, the batches and
      ``extra_args`` used as in :func:`make_train_step`. Jit it with
      ``nnx.jit``.
    """

    def step(model, optimizer, batch, estimate_batch=None, **extra_args):
        batch, estimate_batch = _batches(batch, estimate_batch)
        loss, grads = nnx.value_and_grad(loss_fn)(model, batch)
        graphdef, _, rest = nnx.split(model, optimizer.wrt, ...)

        def as_model(params):
            return nnx.merge(graphdef, params, rest)

        def pure_loss(params, batch):
            return loss_fn(as_model(params), batch)

        def pure_logits(params, batch):
            return logits_fn(as_model(params), batch)

        logits = None if logits_fn is None else pure_logits
        extras = _extras(loss, pure_loss, estimate_batch, logits, extra_args)
        optimizer.update(model, grads, **extras)
        return loss

    return step

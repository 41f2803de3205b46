r"""The zig-zag multiple: a longer step where the first steps flip, and
optionally a shorter one where they are large and agree (or a longer one
where they are larger still against the parameters' norm).

Over its first :math:`W` updates the transformation reads the mean cosine
between consecutive updates,

.. math::
  \bar c = \frac{1}{|P|} \sum_{t \in P} \frac{\langle u_t, u_{t-1}\rangle}
  {\|u_t\|\,\|u_{t-1}\|},

over the pairs :math:`P` of consecutive nonzero finite updates, then
multiplies every later update by :math:`m = \kappa` if :math:`\bar c < c_0`
and by 1 otherwise, held for the run. With a share :math:`s_0`
(``large_share``), also by :math:`m = \sigma` (``shrink``) where
:math:`\bar c` is at least an agreement :math:`a` and the median of
:math:`\|u_t\| / \|x_t\|` over the first :math:`K` updates is at least
:math:`s_0`; with a growth share :math:`g_0` (``growth_share``), by :math:`m
= \gamma` (``grow``) where that median is at least :math:`g_0`.

All of it is our design, for GLyDER over SGD (:func:`glyder_optax.glyder_sgd`),
from the study's twentieth round (``docs/glyder_study.md``), and over momentum.
GLyDER's step is greedy: it minimises a quadratic model along the gradient.
Where the inputs are badly scaled, one stiff direction holds the gradient, and
at twice the greedy step (``glyder_sgd``'s default) each step flips its sign
along it (mean cosine over the first 32 steps: -0.93 on breast-raw, -0.60 on
wine-raw, against 0.02 to 0.32 on most standardised data, where the
minibatches' noise decorrelates consecutive steps); there a tuned run takes far
longer steps than the greedy one, which the flat directions need. Of the
statistics read over the first steps (the step's share of the parameters' norm,
the loss's progress, the Polyak step over GLyDER's, this cosine) only this one
separated the workloads that want a larger multiple. Over nine seeds it lowered
``glyder_sgd(flood_level=0.01)``'s worst ratio to the tuned SGD cosine on the
zoo from 1.42 to 1.37 and left the held-out zoo's at 1.28 (1.29 before), with
no workload moved from within 1.10x to outside it.

The shorter step (the twenty-first round) reads the other end of the same
statistics. Most workloads that want a multiple below 2 (the standardised
digits with the small network, iris-std, digits-wide: 0.25 to 1) take first
steps of a quarter of the parameters' norm or more (medians over the first 8
steps 0.30 to 0.36, against 0.02 to 0.15 on every workload that wants 2 or
more, two aside; digits-deep and charlm-small want less with small steps),
and their consecutive steps agree (mean cosine 0.04 to 0.32); the cosine
keeps out a large first step that is only noise. Halving the multiple there
(``glyder_sgd``'s ``large_share=0.25``, ``agree`` 0.05) lowered
``glyder_sgd(flood_level=0.01)``'s nine-seed worst ratio on the held-out zoo
from 1.28 (iris-std) to 1.18 and its geometric mean from 1.10 to 1.07, and
left the zoo's worst at 1.37 (geometric mean 1.04 to 1.03), no workload
moved outside 1.10x. Its cost is speed: a halved step reaches the tuned
target later on the standardised digits, and the pooled profile score of
the held-out zoo fell from 0.250 to 0.234 (the zoo's rose from 0.223 to
0.235; DoG, the best of the others, 0.214 and 0.164).

Over heavy-ball momentum (:func:`glyder_optax.glyder_momentum`, the
twenty-second round) the same reading applies to the momentum's steps, whose
smoothing keeps every cosine positive: there the raw inputs read 0.49 to 0.74
(breast-raw, synth-raw, synth2-raw, wine-raw) and every other workload 0.94 to
1.0, so the threshold is 0.8; the standardised digits, iris-std and
digits-wide take first steps of 19% to 25% of the norm (1% to 11% elsewhere),
so ``large_share`` is 0.15. Over nine seeds with the level it lowered the
zoo's worst ratio to the tuned momentum cosine from 1.96 (breast-raw, now
1.05) to 1.57 and the held-out zoo's geometric mean from 1.12 to 1.02.

Over Adam (:func:`glyder_optax.glyder_adam`, the twenty-third round) the 1%
bound holds every first step, so a multiple of the step would change
nothing: with ``max_step_ratio`` the multiple scales the bound instead.
Adam's first moment keeps every cosine above 0.9; the standardised digits,
iris-std and digits-wide take unbounded first steps of 21% to 34% of the
norm (2% to 14% elsewhere) and want a bound of 0.25% to 0.5%, so there the
bound is halved (``glyder_adam(large_share=0.2)``; the threshold 0.94,
below which the factor 1 leaves the bound as it is). Over nine seeds without
the level it lowered the held-out zoo's worst ratio to the tuned Adam cosine
from 2.65 (iris-std, now 1.04) to 2.61 and its geometric mean from 1.62 to
1.40, and left the zoo's at 1.73. A run whose parameters must grow from a
small start reads the same large steps, larger still (the README's
regression from zeros: 56% to 71% of the norm), and there halving the bound
halves the growth it allows (the loss after 400 steps 0.0098 -> 0.078). So
it was an option until the twenty-sixth round, which kept the bound from a
median share of 0.5 (``growth_share=0.5, grow=1``: at most 0.444 from the
zoos' standard starts, 0.516 and more from zeros or a tenth of the
initialisation, nine seeds) and made it the default; one transform reads
both of ``glyder_adam``'s multiples (``scale_step``). The raw inputs, which
read a cosine below 0.94 and want a wider bound, were not helped by one
from the 33rd step: their steps are within 1% to 2% of the norm by then.

``growth_share`` (the twenty-fourth round, lost; off by default) reads the
same shares for a start the parameters must grow from. From zeros, Adam's
first unbounded steps are 53% to 72% of the norm (from a tenth of the
initialisation, 2.7 to 47 times it), against at most 41% on the zoo and the
held-out zoo (seeds 0-2), which the rule therefore leaves alone. Lifting the
bound after 32 steps from a share of 50% takes the README's regression from
zeros from 57 times the tuned Adam cosine's final loss to 0.04 times it. But
the classifiers started small want the bound: the digits MLP from a tenth of
its initialisation goes from 1.11 to 32 times (3.5 with no bound from the
first step), the softmax regression from zeros from 2.0 to 2.9 (seeds 0-2).

``from_zeros`` (the twenty-seventh round, our design) reads the start itself:
whether the parameters' norm is 0 at the first update. A bound relative to
that norm has nothing to be relative to there: the first step is unbounded
and every later bound a fraction of that one step's norm, whatever the
problem's scale. Of the benchmark's four zoos, exactly the regressions and
softmax regressions from zeros start there (no standard start, nor a tenth of
one, on any of nine seeds), with no threshold to choose. Lifting Adam's bound
after 32 steps from zeros (``glyder_adam``'s default) takes the growth zoo's
worst ratio to the tuned Adam cosine from 68.9 (the README's regression, now
0.22) to 2.31 (the softmax regression on standardised digits, 1.77 before),
and the held-out growth zoo's, written before the rule ran, from 197 to 4.03
(nine seeds). Widening it 4 or 16 times with the step lost. Over momentum
(``glyder_momentum``'s ``from_zeros=1``) the first steps from zeros are large
against the norm and agree, so the halving acted; the multiple 1 there takes
the regression from 901 to 423 times the tuned momentum cosine. Over SGD the
same takes it from 14.0 to 4.46 times, but the optimality gaps of the
benchmark's convex tasks, which start from zeros too, from 74.9 at worst to
516 times (nine seeds): off by default there (``glyder_sgd(from_zeros=1.0)``).

It runs the other way from delta-bar-delta (Jacobs), which lengthens a step
whose consecutive gradients agree and shortens one whose gradients flip: here
the flip says that the greedy step is held by one stiff direction, not that
it is too long for the run.

The reading keeps one copy of the update (the size of the parameters) and its
norm in the state, and with ``large_share`` :math:`K` floats. It is one
:func:`jax.lax.switch` every step (on a GPU its index is copied to the host):
the reading branch runs only while the window lasts, and the one that also
writes a share only over the first :math:`K` steps. With ``large_share`` the
parameters' norm is taken every step, outside the switch, and only the norm
enters it: XLA copies a tree that a branch receives, and a bound chained
after this transformation (as in the aliases) takes the same norm, which XLA
then computes once. On the CPU, in the compiled loop of ``python -m
benchmarks traffic``'s held steps, that takes ``glyder_momentum``'s
transformation from 8 passes over the parameters a step after the window to
6 (the alias without it: none).

References:
  Jacobs, `Increased rates of convergence through learning rate adaptation
  <https://doi.org/10.1016/0893-6080(88)90003-2>`_, Neural Networks, 1988
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from glyder_optax import _common
from glyder_optax._glyder_parts import bound_step_by_params

_NAME = "scale_by_zigzag_multiple"


class ZigzagMultipleState(NamedTuple):
    """State of :func:`scale_by_zigzag_multiple`."""

    previous: optax.Updates  # the last nonzero finite update read (zeros before).
    previous_norm: jax.Array  # float32, the norm of `previous`, kept to read it once.
    cosine_sum: jax.Array  # float32, the sum of the cosines of the pairs read.
    pairs: jax.Array  # int32, the pairs of consecutive nonzero finite updates read.
    shares: jax.Array  # float32 [share_steps], the first updates' share of the
    # parameters' norm (0 where not finite or the update is 0); [1], unread,
    # without large_share.
    count: jax.Array  # int32, the updates seen.
    zero_start: jax.Array  # bool, the parameters' norm was 0 at the first update
    # (read with from_zeros; else False).
    multiple: jax.Array  # float32, 1 over the window, then 1, `factor`, `shrink`
    # or `grow` (inf, with a bound: the bound lifted).


class _Rule(NamedTuple):
    """The arguments of :func:`scale_by_zigzag_multiple` (static ones: ints, None)."""

    window: int
    threshold: jax.typing.ArrayLike
    factor: jax.typing.ArrayLike
    large_share: jax.typing.ArrayLike | None
    agree: jax.typing.ArrayLike
    shrink: jax.typing.ArrayLike
    growth_share: jax.typing.ArrayLike | None
    grow: jax.typing.ArrayLike
    from_zeros: jax.typing.ArrayLike | None
    from_zeros_at_once: bool


def _read_share(params_norm, state, norm):
    """``state.shares`` with the share of an update of norm ``norm`` in the
    parameters' norm ``params_norm`` written at ``state.count`` (read while it
    is below their number)."""
    share = norm / params_norm
    share = jnp.where(jnp.isfinite(share) & (norm > 0), share, 0.0)  # unread: 0
    return state.shares.at[state.count].set(share, mode="drop")  # (vmap's select)


def _chosen(cosine_sum, pairs, shares, zero_start, rule):
    """The multiple set at the window's end: ``factor`` where the mean cosine
    is below ``threshold``; ``shrink`` where it is at least ``agree`` and the
    median share at least ``large_share``; ``grow`` where the median share is
    at least ``growth_share``; ``from_zeros`` from a start at zero; else 1."""
    mean_below = lambda c: (pairs > 0) & (cosine_sum < c * pairs)
    multiple = jnp.where(mean_below(rule.threshold), rule.factor, 1.0)
    median = jnp.median(shares)  # unused without a share rule (XLA drops it)
    if rule.large_share is not None:
        large = median >= rule.large_share
        agree = (pairs > 0) & ~mean_below(rule.agree)
        multiple = jnp.where(
            ~mean_below(rule.threshold) & agree & large, rule.shrink, multiple
        )
    if rule.growth_share is not None:
        multiple = jnp.where(median >= rule.growth_share, rule.grow, multiple)
    if rule.from_zeros is not None:
        multiple = jnp.where(zero_start, rule.from_zeros, multiple)
    return multiple


def _read(updates, params_norm, state, rule, share):
    """``state`` after reading ``updates`` (its cosine with the previous
    nonzero finite update, and it kept as the previous; with ``share``, its
    share of the parameters' norm); on the window's last update, the
    multiple chosen."""
    norm = jnp.sqrt(_common.sq_norm(updates, jnp.float32))
    ok = (norm > 0) & jnp.isfinite(norm)
    pair = ok & (state.previous_norm > 0)
    dot = _common.vdot(updates, state.previous, jnp.float32)
    scale = jnp.where(pair, norm * state.previous_norm, 1.0)
    cosine = jnp.where(pair, dot / scale, 0.0)
    cosine_sum = state.cosine_sum + cosine
    pairs = state.pairs + pair.astype(jnp.int32)
    shares = _read_share(params_norm, state, norm) if share else state.shares
    zero_start = state.zero_start
    if rule.from_zeros is not None:
        zero_start = jnp.where(state.count == 0, params_norm == 0, zero_start)
    last = state.count == rule.window - 1
    if rule.from_zeros_at_once:  # from zeros, the multiple from the next update
        last = last | ((state.count == 0) & zero_start)
    chosen = _chosen(cosine_sum, pairs, shares, zero_start, rule)
    multiple = jnp.where(last, chosen, state.multiple)
    return state._replace(
        previous=jax.tree.map(
            lambda u, p: jnp.where(ok, u.astype(p.dtype), p), updates, state.previous
        ),
        previous_norm=jnp.where(ok, norm, state.previous_norm),
        cosine_sum=cosine_sum,
        pairs=pairs,
        shares=shares,
        zero_start=zero_start,
        multiple=multiple.astype(jnp.float32),
    )


def _branch(count, window, share_steps):
    """Which of :func:`scale_by_zigzag_multiple`'s branches runs at ``count``:
    0 after the window, 1 reading, 2 reading a share too (``share_steps``
    ``None``: never)."""
    reading = jnp.where(count < window, 1, 0)
    if share_steps is None:
        return reading
    return jnp.where((reading == 1) & (count < share_steps), 2, reading)


def _check_multiples(multiples, max_step_ratio):
    """Each ``(name, value, lifts)``: a positive multiple (``None`` or traced:
    unchecked); an infinite one that ``lifts`` needs a bound to lift."""
    for name, value, lifts in multiples:
        if value is None or isinstance(value, jax.core.Tracer):
            continue
        if not float(value) > 0:
            raise ValueError(
                f"{_NAME}: {name} must be positive (a multiple after the window),"
                f" got {value!r}; glyder_sgd(zigzag_window=None) turns the rule off."
            )
        if lifts and max_step_ratio is None and math.isinf(float(value)):
            raise ValueError(
                f"{_NAME}: {name}=inf lifts a bound, and there is none to lift;"
                f" pass max_step_ratio, or a finite {name} (a multiple of the"
                " update)."
            )


def scale_by_zigzag_multiple(
    window: int = 32,
    threshold: jax.typing.ArrayLike = 0.0,
    factor: jax.typing.ArrayLike = 2.0,
    *,
    large_share: float | None = None,
    agree: jax.typing.ArrayLike = 0.05,
    shrink: jax.typing.ArrayLike = 0.5,
    share_steps: int = 8,
    max_step_ratio: jax.typing.ArrayLike | None = None,
    growth_share: float | None = None,
    grow: jax.typing.ArrayLike = jnp.inf,
    scale_step: bool = False,
    from_zeros: jax.typing.ArrayLike | None = None,
    from_zeros_at_once: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Multiplies the updates by ``factor`` after a window whose steps flip.

    Over the first ``window`` updates it passes them unchanged and reads the
    mean cosine :math:`\bar c` between consecutive nonzero finite ones; from
    then on it multiplies each update by ``factor`` if :math:`\bar c <`
    ``threshold``, else by 1 (no pair read: 1). Updates that are zero or not
    finite are passed on (times the multiple) and not read. The module's
    docstring has the rule's evidence; all of it is our design.

    With ``large_share``, the other way too: where :math:`\bar c \ge`
    ``agree`` (and :math:`\ge` ``threshold``) and the median over the first
    ``share_steps`` updates of their share of the parameters' norm,
    :math:`\|u_t\| / \|x_t\|`, is at least ``large_share``, the multiple
    is ``shrink``: large steps that agree (the twenty-first round).

    With ``max_step_ratio`` :math:`\rho`, the multiple :math:`m` scales a
    trust region instead of the update: each update is scaled down to norm
    :math:`m \rho \|x_t\|` where larger (parameters of norm 0 leave it
    whole). That is for updates that such a bound holds from the first step,
    as it holds GLyDER's over Adam (:func:`glyder_optax.glyder_adam`), where
    a multiple of the update itself would change nothing (the twenty-third
    round). The shares read are those of the updates before the bound.
    With ``scale_step`` a multiple above 1 scales the update too: one reader
    gives a longer step within a wider bound where the steps zig-zag and a
    shorter bound where they are large (:func:`glyder_optax.glyder_adam`).

    Args:
      window: :math:`W`, the updates read, a positive int.
      threshold: :math:`c_0`, the mean cosine below which the multiple is set.
      factor: :math:`\kappa`, the multiple then, a positive number.
      large_share: the median share of the norm from which the steps are
        large, a Python number; ``None`` (default) turns the shorter step off.
      agree: the mean cosine from which the steps agree.
      shrink: the multiple where they are large and agree, a positive number.
      share_steps: the first updates whose shares are read, an int from 1 to
        ``window`` (with ``large_share``).
      max_step_ratio: :math:`\rho`, a fraction of the parameters' norm: the
        bound that the multiple scales; ``None`` (default) scales the update.
      growth_share: the median share of the norm from which the parameters
        must grow (a start from zeros or near them), a Python number; ``None``
        (default) turns the longer step off. It takes precedence over
        ``factor`` and ``shrink``.
      grow: the multiple then, a positive number; ``inf`` (default, only with
        ``max_step_ratio``) lifts the bound.
      scale_step: with ``max_step_ratio``, a finite multiple above 1 (a
        ``factor``, ``grow`` or ``from_zeros`` above 1) also scales the
        update: the step and its bound grow together, :math:`\min(m\,u, m
        \rho \|x_t\|)` in norm. A multiple below 1, or an infinite one,
        scales the bound alone. The update read is the one before the
        multiple.
      from_zeros: the multiple where the parameters' norm is 0 at the first
        update (a start from zeros, where a bound relative to that norm is
        anchored to the first step alone), a positive number; ``inf`` (only
        with ``max_step_ratio``) lifts the bound. ``None`` (default) reads
        nothing. It takes precedence over every other rule.
      from_zeros_at_once: with ``from_zeros``, its multiple from the second
        update on where the start is from zeros, not from the window's end
        (the fortieth round: a bound anchored to the first step holds the
        steps of the window back); other starts are unchanged.

    Returns:
      A :class:`optax.GradientTransformationExtraArgs`; its ``update`` needs
      ``params`` with ``large_share``, ``growth_share`` or ``max_step_ratio``
      (else neither ``params`` nor extra arguments; any are accepted and
      ignored).

    Raises:
      TypeError: for a ``window`` or ``share_steps`` that is not an int.
      ValueError: for a ``window`` or ``share_steps`` out of range, a
        ``factor``, ``shrink``, ``grow`` or ``from_zeros`` that is not
        positive, an infinite ``grow`` or ``from_zeros`` or ``scale_step``
        without ``max_step_ratio``, ``from_zeros_at_once`` without
        ``from_zeros``, or ``params`` missing with
        ``large_share``, ``growth_share``, ``from_zeros`` or
        ``max_step_ratio``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import glyder_optax as go
      >>> # Twice the exact step on x**2 / 2: each step flips the sign of x.
      >>> opt = optax.chain(optax.sgd(2.0), go.scale_by_zigzag_multiple(window=4))
      >>> x = jnp.array([1.0])
      >>> state, xs = opt.init(x), []
      >>> for _ in range(5):
      ...   updates, state = opt.update(x, state, x)  # the gradient is x
      ...   x = optax.apply_updates(x, updates)
      ...   xs.append(float(x[0]))
      >>> print(xs)  # times 2 from the fifth step: 1 - 4 = -3
      [-1.0, 1.0, -1.0, 1.0, -3.0]
      >>> print(state[1].multiple)
      2.0

      Steps of a quarter of the norm that agree are halved after the window:

      >>> opt = optax.chain(
      ...     optax.sgd(0.25),
      ...     go.scale_by_zigzag_multiple(window=4, large_share=0.2, share_steps=2),
      ... )
      >>> x = jnp.array([4.0])
      >>> state, xs = opt.init(x), []
      >>> for _ in range(5):
      ...   updates, state = opt.update(x, state, x)
      ...   x = optax.apply_updates(x, updates)
      ...   xs.append(float(x[0]))
      >>> print(xs)  # x * 0.75 four times, then x * 0.875
      [3.0, 2.25, 1.6875, 1.265625, 1.107421875]
    """
    window = _common.check_int(_NAME, "window", window, "the updates read")
    reads_shares = large_share is not None or growth_share is not None
    if reads_shares:  # else no share is read
        share_steps = _common.check_int(
            _NAME,
            "share_steps",
            share_steps,
            "the updates whose shares are read",
            maximum=None if isinstance(window, jax.core.Tracer) else window,
        )
    _check_multiples(
        (
            ("factor", factor, False),
            ("shrink", shrink, False),
            ("grow", grow, growth_share is not None),
            ("from_zeros", from_zeros, True),
        ),
        max_step_ratio,
    )
    if from_zeros_at_once and from_zeros is None:
        raise ValueError(
            f"{_NAME}: from_zeros_at_once sets the multiple from_zeros from the"
            " second update, and from_zeros is None; pass from_zeros (inf lifts"
            " the bound), or from_zeros_at_once=False."
        )
    if scale_step and max_step_ratio is None:
        raise ValueError(
            f"{_NAME}: scale_step scales the update with its bound, and there is"
            " no bound; without max_step_ratio the multiple scales the update"
            " already: pass max_step_ratio, or scale_step=False."
        )
    rule = _Rule(
        window,
        threshold,
        factor,
        large_share,
        agree,
        shrink,
        growth_share,
        grow,
        from_zeros,
        from_zeros_at_once,
    )
    reads_norm = reads_shares or from_zeros is not None

    def init_fn(params):
        return ZigzagMultipleState(
            previous=optax.tree.zeros_like(params),
            previous_norm=jnp.zeros([], jnp.float32),
            cosine_sum=jnp.zeros([], jnp.float32),
            pairs=jnp.zeros([], jnp.int32),
            # Without large_share one unread 0 (orbax saves no empty array).
            shares=jnp.zeros([share_steps if reads_shares else 1], jnp.float32),
            count=jnp.zeros([], jnp.int32),
            zero_start=jnp.zeros([], bool),
            multiple=jnp.ones([], jnp.float32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if reads_norm or max_step_ratio is not None:
            _common.require(
                "params",
                params,
                _NAME,
                "params",
                " With large_share or growth_share the steps' share of the"
                " parameters' norm is read, with from_zeros that norm at the"
                " first step; with max_step_ratio the steps are bounded by it.",
            )
        if max_step_ratio is None:
            scaled = jax.tree.map(
                lambda u: (state.multiple * u).astype(u.dtype), updates
            )
        else:
            bound = bound_step_by_params(max_step_ratio * state.multiple)
            stepped = updates
            if scale_step:  # a longer step within the wider bound
                m = state.multiple
                step = jnp.where(jnp.isfinite(m) & (m > 1), m, 1.0)
                stepped = optax.tree.scale(step, updates)
            scaled, _ = bound.update(stepped, optax.EmptyState(), params)
            scaled = jax.tree.map(lambda s, u: s.astype(u.dtype), scaled, updates)
        # The parameters' norm, not the parameters, enters the switch: a tree
        # in a branch's operands is copied there (XLA), a norm also taken
        # by a bound after this is computed once.
        params_norm = None
        if reads_norm:
            params_norm = jnp.sqrt(_common.sq_norm(params, jnp.float32))
        branches = [
            lambda u, p, s: s,
            lambda u, p, s: _read(u, p, s, rule, share=False),
            lambda u, p, s: _read(u, p, s, rule, share=True),
        ]
        steps = share_steps if reads_shares else None
        index = _branch(state.count, window, steps)
        state = jax.lax.switch(
            index, branches[: 2 if steps is None else 3], updates, params_norm, state
        )
        return scaled, state._replace(count=optax.safe_increment(state.count))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)

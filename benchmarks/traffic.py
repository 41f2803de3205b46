"""Memory traffic of a held step: the optimizer's update alone, from XLA's HLO.

``python -m benchmarks traffic [--width W] [--methods ...] [--out DIR]``

The parameters of ``scaling``'s MLP (input 64, two hidden layers of width
``W > 64``, 10 classes: about ``W**2`` parameters in the largest leaf, ``[W, W]``)
and a fixed gradient. Each method's ``update`` and ``optax.apply_updates``
run ``--steps`` times in one jitted ``lax.fori_loop`` (the gradient scaled by
``1 + 1e-6 i`` at step ``i``, so that XLA cannot hoist the optimizer's work on
it out of the loop). No model runs: what is measured is the optimizer's own
cost, which decides a step's time where the model is cheap beside it (large
models with small batches). GLyDER's entries refresh only at their first
step (``refresh_every=methods.ONCE``): every timed step is a held one. The
``-static`` entries pass ``refresh=False`` at every step (GLyDER's static
refresh; they never refresh, which changes no cost): a held step with no
``lax.cond`` of the refresh's, and with ``-nofinite`` none at all.

From the compiled loop body:

- ``passes``: the reads and writes of arrays the size of the largest leaf,
  summed over the body's kernels: XLA's memory traffic in units of one pass
  over that leaf. Where memory bandwidth bounds the step, its time follows
  this count;
- ``kernels``: the body's fusions and the other ops that launch work: what
  a GPU launches per step, where launches bound the step (small models).

A ``lax.cond`` runs one branch. A branch that only hands its operands on
(XLA may copy them) is counted where there is one: the branch of
``scale_by_zigzag_multiple`` after its window, which the aliases take from
their 33rd step. Else a branch that moves no array of that size is taken to
be the held branch of GLyDER's refresh (the branch a held step takes); at any
other conditional (``optax.apply_if_finite``'s), the costlier branch is
counted, the one taken on a finite step. Also measured: the time
per step on the backend at hand, the median of ``--repeats`` timed loops,
the methods timed in turn, and its ratio to the first method's.

Writes ``traffic.json`` and ``traffic.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import pathlib
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

import glyder_optax as go
from benchmarks import common, methods, scaling

IN = scaling.IN
HELD = {"refresh_every": methods.ONCE}  # a refresh at the first step only
T = 10**6  # the budget of the recommendations' decays (long: ~1 over the run)
_LR = optax.scale(-1e-3)


def _static_held(opt: optax.GradientTransformation) -> optax.GradientTransformation:
    """``opt`` with ``refresh=False`` at every step: no ``lax.cond`` to run.

    It never refreshes, so ``eta`` stays 0; a held step costs the same.
    """
    update = functools.partial(opt.update, refresh=False)
    return optax.GradientTransformationExtraArgs(opt.init, update)


METHODS: dict[str, Callable[[], optax.GradientTransformation]] = {
    "adam": lambda: optax.chain(optax.scale_by_adam(), _LR),
    "adam-if-finite": lambda: optax.apply_if_finite(
        optax.chain(optax.scale_by_adam(), _LR), 2**31 - 1
    ),
    "sgd": lambda: _LR,
    "momentum": lambda: optax.chain(optax.trace(0.9), _LR),
    # The per-base aliases (the study's recommendations).
    "glyder-sgd-rec": lambda: go.glyder_sgd(**HELD),
    "glyder-momentum-rec": lambda: go.glyder_momentum(T, **HELD),
    "glyder-adam-rec": lambda: go.glyder_adam(T, **HELD),
    "glyder-adam": lambda: go.glyder(optax.scale_by_adam(), **HELD),
    "glyder-adam-notr": lambda: go.glyder(
        optax.scale_by_adam(), max_step_ratio=None, **HELD
    ),
    "glyder-adam-nofinite": lambda: go.glyder(
        optax.scale_by_adam(), skip_non_finite=False, **HELD
    ),
    "glyder-adam-static": lambda: _static_held(go.glyder(optax.scale_by_adam())),
    "glyder-adam-static-nofinite": lambda: _static_held(
        go.glyder(optax.scale_by_adam(), skip_non_finite=False)
    ),
}
DEFAULT_METHODS = ("adam", "adam-if-finite", "glyder-adam", "glyder-adam-rec")


# --------------------------------------------------------------------------- HLO

_INST = re.compile(r"\s*(?:ROOT )?%?([\w.\-]+) = (.*?) ([a-z][\w\-]*)\((.*)$")
_FREE = {"parameter", "get-tuple-element", "tuple", "bitcast", "constant"}


def _computations(text: str) -> dict[str, str]:
    """The HLO module's computations by name (each a block of text)."""
    out = {}
    for block in re.split(r"\n(?=\S)", text):
        m = re.match(r"(?:ENTRY )?%?([\w.\-]+) ", block)
        if m:
            out[m.group(1)] = block
    return out


def _branches(line: str) -> list[str]:
    """The branch computations named on a ``conditional`` line."""
    found = re.findall(
        r"(?:true_computation|false_computation)=%?([\w.\-]+)"
        r"|branch_computations=\{([^}]*)\}",
        line,
    )
    names = ",".join(a or b for a, b in found).split(",")
    return [n.strip().lstrip("%") for n in names if n.strip()]


def _passes_through(comps: dict[str, str], name: str) -> bool:
    """Whether a branch only hands its operands on (copies them at most)."""
    ops = (_INST.match(line) for line in comps[name].splitlines()[1:])
    return all(m.group(3) in _FREE | {"copy"} for m in ops if m)


def _cost(comps: dict[str, str], name: str, leaf: str) -> tuple[int, int]:
    """(passes over ``leaf``, kernels) of one computation, branches resolved."""
    passes = kernels = 0
    types: dict[str, str] = {}
    for line in comps[name].splitlines()[1:]:
        m = _INST.match(line)
        if not m:
            continue
        inst, rtype, op, rest = m.groups()
        types[inst] = rtype
        if op in _FREE:
            continue
        if op in ("while", "call"):  # a call: e.g. XLA:GPU's command buffers
            callee = re.search(r"(?:body|to_apply)=%?([\w.\-]+)", line).group(1)
            p, k = _cost(comps, callee, leaf)
        elif op == "conditional":
            branches = _branches(line)
            costs = [_cost(comps, b, leaf) for b in branches]
            through = [c for b, c in zip(branches, costs) if _passes_through(comps, b)]
            held = min(costs)
            p, k = through[0] if through else held if held[0] == 0 else max(costs)
            k += 1  # the conditional itself (on a GPU, a wait for its predicate)
        else:
            args = re.split(r", (?:kind|calls|metadata|to_apply|dimensions)=", rest)[0]
            operands = re.findall(r"%([\w.\-]+)", args)
            p = rtype.count(leaf) + sum(types.get(o, "").count(leaf) for o in operands)
            k = 1
        passes, kernels = passes + p, kernels + k
    return passes, kernels


def loop_cost(hlo_text: str, leaf: str) -> tuple[int, int]:
    """(passes, kernels) of one step: the body of the module's ``while`` loop.

    ``leaf`` is the largest leaf's HLO shape (``"f32[300,300]"``).
    """
    comps = _computations(hlo_text)
    bodies = re.findall(r" while\(.*?body=%?([\w.\-]+)", hlo_text)
    if len(bodies) != 1:
        raise ValueError(f"expected one while loop in the HLO, found {len(bodies)}")
    return _cost(comps, bodies[0], leaf)


# --------------------------------------------------------------------------- run


def tree_for(width: int) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """``scaling``'s MLP parameters and a gradient of the same shapes."""
    params = scaling.init_mlp(jax.random.key(0), width)
    keys = jax.random.split(jax.random.key(1), len(params))
    grad = {
        name: 0.01 * jax.random.normal(k, p.shape)
        for k, (name, p) in zip(keys, params.items())
    }
    return params, grad


def _sq_loss(params: Any) -> jax.Array:
    """The refresh's objective (one refresh, at the first step; untimed)."""
    return 0.5 * optax.tree.norm(params, squared=True)


def loop(opt: optax.GradientTransformation, steps: int) -> Callable:
    """``steps`` updates in a jitted ``fori_loop``; params and state donated."""
    opt = optax.with_extra_args_support(opt)

    def run(params, state, grad):
        def body(i, carry):
            p, s = carry
            g = jax.tree.map(lambda x: x * (1.0 + 1e-6 * i), grad)
            updates, s = opt.update(g, s, p, obj_fn=_sq_loss)
            return optax.apply_updates(p, updates), s

        return jax.lax.fori_loop(0, steps, body, (params, state))

    return jax.jit(run, donate_argnums=(0, 1))


def measure(
    names: Sequence[str], width: int, steps: int, repeats: int
) -> list[dict[str, Any]]:
    """Passes, kernels and time per step of each method (timed in turn)."""
    params, grad = tree_for(width)
    leaf = f"f32[{width},{width}]"
    runs, rows = {}, []
    for name in names:
        opt = METHODS[name]()
        fn = loop(opt, steps)
        carry = jax.tree.map(jnp.copy, (params, opt.init(params)))
        passes, kernels = loop_cost(fn.lower(*carry, grad).compile().as_text(), leaf)
        runs[name] = [fn, jax.block_until_ready(fn(*carry, grad)), []]
        rows.append({"method": name, "passes": passes, "kernels": kernels})
    for _ in range(repeats):
        for name in names:
            run = runs[name]
            start = time.perf_counter()
            run[1] = jax.block_until_ready(run[0](*run[1], grad))
            run[2].append((time.perf_counter() - start) / steps)
    base = statistics.median(runs[names[0]][2])
    for row in rows:
        ms = statistics.median(runs[row["method"]][2])
        row.update(ms_per_step=1e3 * ms, vs_first=ms / base)
    return rows


def to_markdown(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The table of ``rows``, under a line saying what was measured."""
    first = rows[0]["method"]
    header = ["method", "passes over the largest leaf", "kernels", "ms / step"]
    table = common.markdown_table(
        [*header, f"time / {first}'s"],
        [
            [r["method"], r["passes"], r["kernels"], r["ms_per_step"], r["vs_first"]]
            for r in rows
        ],
    )
    env = meta["environment"]
    return (
        f"Held steps of the optimizer alone: {meta['params']:,} parameters (the"
        f" largest leaf {meta['leaf']}), {env['backend']} ({env['devices'][0]}),"
        f" {meta['steps']} steps x {meta['repeats']} repeats.\n\n{table}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks traffic",
        description=__doc__.splitlines()[0],
        formatter_class=common.HelpFormatter,
    )
    parser.add_argument("--width", type=int, default=3130, help="hidden width W")
    parser.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"comma-separated, the first the reference; of: {', '.join(METHODS)}",
    )
    parser.add_argument("--steps", type=int, default=10, help="steps per timed loop")
    parser.add_argument("--repeats", type=int, default=7, help="timed loops")
    parser.add_argument("--out", default="results/traffic", help="output folder")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.methods.split(",") if n.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    for flag in ("width", "steps", "repeats"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag} must be positive, got {getattr(args, flag)}")
    if args.width <= IN:
        parser.error(
            f"--width must be above {IN} (the input size), for [W, W] to be the"
            f" largest leaf; got {args.width}"
        )
    rows = measure(names, args.width, args.steps, args.repeats)
    params, _ = tree_for(args.width)
    meta = {
        "params": optax.tree.size(params),
        "leaf": f"f32[{args.width},{args.width}]",
        "steps": args.steps,
        "repeats": args.repeats,
        "environment": common.environment(),
    }
    out = pathlib.Path(args.out)
    common.write_json(out / "traffic.json", {**meta, "rows": rows})
    table = to_markdown(meta, rows)
    (out / "traffic.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

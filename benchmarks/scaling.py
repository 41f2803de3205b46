"""Cost vs model size: per-step time, memory and state of GLyDER and Inexact Polyak.

``python -m benchmarks.scaling [--quick] [--vmap] [--sizes 1e4 1e5 ...]``

An MLP (input 64, two hidden tanh layers of width ``w``, 10 classes, softmax
cross-entropy, batch 32) at sizes from ~1e4 to ~1e7 parameters, trained with

- ``base``: Adam, ``optax.chain(optax.scale_by_adam(), optax.scale(-1e-3))``;
- ``glyder_k1`` / ``glyder_k10``: ``go.glyder(optax.scale_by_adam(),
  refresh_every=k)``, ``obj_fn`` the loss on the next (independent) batch;
- ``inexact_polyak``: ``go.inexact_polyak_sgd(total_steps)``, ``value=``;
- ``base_if_finite``: the base inside ``optax.apply_if_finite``, as
  ``go.glyder`` wraps it by default (``skip_non_finite=True``): the part of
  GLyDER's cost between refreshes that is not GLyDER's own.

Measured, all in the same run:

- per-step time: each method's steps run inside one jitted ``lax.fori_loop``
  (no Python dispatch; a multiple of 10 steps per repeat, so ``k=10``
  refreshes exactly once per 10 steps); the methods are timed in turn
  (interleaved), ``--repeats`` times; the median, and its ratio to the base's;
- memory: the compiled single step's ``memory_analysis()`` (XLA's buffer
  assignment: argument + output + temp - alias bytes, params and state
  donated), and where the backend reports it (GPU, TPU; not CPU) the device's
  ``memory_stats()['peak_bytes_in_use']`` after the timing;
- optimizer state: ``optax.tree.size`` of the state over that of the params
  (parameter copies) and the bytes beyond the base's;
- the compiled HLO of one GLyDER update with a refresh (``--hlo``, on by
  default): its ``dot`` ops, classified by layer, against one plain forward
  pass of the loss (see :func:`hlo_forward_passes`).

``--trace-steps N``: after each size's timing, ``N`` more steps of each
method run under the JAX profiler (untimed), written to
``trace-paramsP.json.gz`` under ``--out`` (Perfetto JSON; on a GPU it lists
every kernel of a step).

``--vmap``: the same step vmapped over 8 seeds (params, batches and optimizer
state all batched), GLyDER ``k=10`` against ``k=1`` and the base, vmapped and
not. Under ``vmap`` GLyDER's refresh ``lax.cond`` has a batched predicate and
becomes a select that runs both branches.

Writes ``scaling.json`` and ``scaling.md`` under ``--out``
(``results/scaling`` by default).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import re
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import glyder_optax as go
from benchmarks import common

IN, OUT, BATCH, POOL = 64, 10, 32, 4
DEFAULT_SIZES = (1e4, 1e5, 1e6, 1e7)
QUICK_SIZES = (2e3,)
METHODS = ("base", "glyder_k1", "glyder_k10", "inexact_polyak", "base_if_finite")
BASE_LR = 1e-3


# --------------------------------------------------------------------------- model


def width_for(num_params: float) -> int:
    """Hidden width ``w`` whose MLP has about ``num_params`` parameters."""
    # w^2 + (IN + OUT + 2) w + OUT = n
    b = IN + OUT + 2
    return max(4, round((-b + math.sqrt(b * b + 4 * (num_params - OUT))) / 2))


def init_mlp(key: jax.Array, width: int) -> dict[str, jax.Array]:
    k1, k2, k3 = jax.random.split(key, 3)
    return {
        "w1": jax.random.normal(k1, (IN, width)) / math.sqrt(IN),
        "b1": jnp.zeros(width),
        "w2": jax.random.normal(k2, (width, width)) / math.sqrt(width),
        "b2": jnp.zeros(width),
        "w3": jax.random.normal(k3, (width, OUT)) / math.sqrt(width),
        "b3": jnp.zeros(OUT),
    }


def loss(p: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    h = jnp.tanh(x @ p["w1"] + p["b1"])
    h = jnp.tanh(h @ p["w2"] + p["b2"])
    logits = h @ p["w3"] + p["b3"]
    return optax.losses.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def data_pool(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``POOL`` batches: step ``t`` uses batch ``t % POOL``, ``obj_fn`` the next."""
    kx, ky = jax.random.split(key)
    x = jax.random.normal(kx, (POOL, BATCH, IN))
    y = jax.random.randint(ky, (POOL, BATCH), 0, OUT)
    return x, y


def make_opt(name: str, total_steps: int) -> optax.GradientTransformationExtraArgs:
    if name == "base":
        return optax.chain(optax.scale_by_adam(), optax.scale(-BASE_LR))
    if name == "glyder_k1":
        return go.glyder(optax.scale_by_adam(), refresh_every=1)
    if name in ("glyder_k10", "glyder_k10_static"):  # static: the loop chooses
        return go.glyder(optax.scale_by_adam(), refresh_every=10)
    if name in ("glyder_k1_shared", "glyder_k10_shared"):
        k = 1 if name == "glyder_k1_shared" else 10
        return go.glyder(optax.scale_by_adam(), refresh_every=k, shared_count=True)
    if name == "inexact_polyak":
        return go.inexact_polyak_sgd(total_steps=total_steps)
    if name == "base_if_finite":
        # The base as go.glyder wraps it (skip_non_finite=True): what a
        # GLyDER step costs between refreshes, less GLyDER's own scalars.
        base = optax.apply_if_finite(optax.scale_by_adam(), 2**31 - 1)
        return optax.chain(base, optax.scale(-BASE_LR))
    raise ValueError(name)


def make_step(name: str, opt, refresh: bool | None = None):
    """``step(params, state, x, y, x_ind, y_ind) -> (params, state, loss)``.

    ``refresh``: GLyDER's static ``refresh`` argument (``None``: its
    ``lax.cond`` every ``refresh_every`` steps).
    """

    def step(params, state, x, y, x_ind, y_ind):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        if name.startswith("glyder"):
            obj_fn = lambda p: loss(p, x_ind, y_ind)
            updates, state = opt.update(
                grads, state, params, obj_fn=obj_fn, refresh=refresh
            )
        elif name == "inexact_polyak":
            updates, state = opt.update(grads, state, params, value=value)
        else:
            updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, value

    return step


def make_loop(
    step, vmapped: bool = False, state_axes: Any = 0, held_step=None, k: int = 10
):
    """Jitted ``loop(params, state, pool, t0, n)``: ``n`` steps from count ``t0``.

    With ``held_step``, the loop runs blocks of ``k`` steps (``n`` and ``t0``
    multiples of ``k``): ``step`` first, then ``held_step`` ``k - 1`` times,
    so that the choice of a refresh is static (GLyDER's ``refresh``).
    """
    if vmapped:
        axes = {"in_axes": (0, state_axes, 0, 0, 0, 0), "out_axes": (0, state_axes, 0)}
        step = jax.vmap(step, **axes)
        held_step = held_step and jax.vmap(held_step, **axes)

    def loop(params, state, pool, t0, n):
        xs, ys = pool

        def body(i, carry, step=step):
            params, state, _ = carry
            t = t0 + i
            j = (t + 1) % POOL
            batch = (xs[..., t % POOL, :, :], ys[..., t % POOL, :])
            ind = (xs[..., j, :, :], ys[..., j, :])
            return step(params, state, *batch, *ind)

        value = jnp.zeros(xs.shape[:-3])
        if held_step is None:
            return jax.lax.fori_loop(0, n, body, (params, state, value))

        def block(b, carry):
            held = lambda i, c: body(k * b + i, c, step=held_step)
            return jax.lax.fori_loop(1, k, held, body(k * b, carry))

        return jax.lax.fori_loop(0, n // k, block, (params, state, value))

    return jax.jit(loop, donate_argnums=(0, 1))


def tree_bytes(tree: Any) -> int:
    return int(sum(np.dtype(x.dtype).itemsize * x.size for x in jax.tree.leaves(tree)))


def memory_of(compiled) -> dict[str, int]:
    m = compiled.memory_analysis()
    if m is None:
        return {}
    out = {
        "argument": int(m.argument_size_in_bytes),
        "output": int(m.output_size_in_bytes),
        "temp": int(m.temp_size_in_bytes),
        "alias": int(m.alias_size_in_bytes),
    }
    out["total"] = out["argument"] + out["output"] + out["temp"] - out["alias"]
    return out


def device_peak_bytes() -> int | None:
    stats = jax.devices()[0].memory_stats()
    if not stats:
        return None
    return int(stats.get("peak_bytes_in_use", 0)) or None


# ------------------------------------------------------------------------- timing


def _time(loop, carry, pool, t0, n) -> tuple[float, Any]:
    start = time.perf_counter()
    params, state, value = loop(*carry, pool, jnp.int32(t0), jnp.int32(n))
    jax.block_until_ready((params, state, value))
    return time.perf_counter() - start, (params, state)


def time_methods(
    setups: dict[str, dict[str, Any]],
    pool,
    repeats: int,
    min_rep_s: float,
    max_steps: int,
) -> dict[str, list[float]]:
    """Interleaved repeats; returns per-step seconds per method and repeat.

    ``setups[name]`` holds ``loop`` and ``carry`` (params, state); the steps
    per repeat are a multiple of 10, chosen from the base's warm-up so that a
    repeat lasts about ``min_rep_s``, the same for every method.
    """
    t = 0
    # Warm-up: compile and run 10 steps of each.
    first = {}
    for name, s in setups.items():
        _, s["carry"] = _time(s["loop"], s["carry"], pool, t, 10)  # compiles
        first[name], s["carry"] = _time(s["loop"], s["carry"], pool, t + 10, 10)
    t += 20
    per_step = max(min(first.values()) / 10, 1e-7)
    n = int(min(math.ceil(min_rep_s / (10 * per_step)), max(max_steps // 10, 1)))
    n = 10 * max(n, 1)  # whole blocks of 10 steps
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(repeats):
        for name, s in setups.items():
            dt, s["carry"] = _time(s["loop"], s["carry"], pool, t, n)
            times[name].append(dt / n)
        t += n
    return times


def trace_runs(
    setups: dict[str, dict[str, Any]],
    pool,
    steps: int,
    label: str,
    out: pathlib.Path,
) -> pathlib.Path:
    """``steps`` more steps of each method under the JAX profiler, untimed.

    Each method's run is a ``TraceAnnotation`` named ``"{method} {label}"``;
    on a GPU the trace also holds every kernel, so a step's kernels can be
    counted and timed offline. Written as one flat file,
    ``out/trace-{label}.json.gz`` (Perfetto's JSON), and returned.
    """
    log_dir = out / f"trace-{label}"
    shutil.rmtree(log_dir, ignore_errors=True)  # a crashed run's leftovers
    jax.profiler.start_trace(str(log_dir), create_perfetto_trace=True)
    try:
        for name, s in setups.items():
            with jax.profiler.TraceAnnotation(f"{name} {label}"):
                _, s["carry"] = _time(s["loop"], s["carry"], pool, 0, steps)
    finally:
        jax.profiler.stop_trace()
    (found,) = log_dir.glob("plugins/profile/*/perfetto_trace.json.gz")
    dest = out / f"trace-{label}.json.gz"
    found.replace(dest)
    shutil.rmtree(log_dir)
    return dest


def scaling_rows(
    sizes: Sequence[float],
    repeats: int,
    min_rep_s: float,
    max_steps: int,
    total_steps: int = 1000,
    methods: Sequence[str] = METHODS,
    trace_steps: int = 0,
    out: pathlib.Path | None = None,
) -> list[dict[str, Any]]:
    """One row per size: time, memory and state per method.

    ``trace_steps > 0``: after the timing, that many more steps of each
    method are traced into ``out`` (:func:`trace_runs`).
    """
    if trace_steps and out is None:
        raise ValueError("scaling_rows: trace_steps > 0 needs `out`, a folder.")
    rows = []
    for target in sizes:
        width = width_for(target)
        params = init_mlp(jax.random.key(0), width)
        num_params = int(optax.tree.size(params))
        pool = data_pool(jax.random.key(1))
        setups, row = {}, {"target": target, "width": width, "params": num_params}
        for name in methods:
            opt = make_opt(name, total_steps)
            step = make_step(name, opt)
            state = opt.init(params)
            copies = optax.tree.size(state) / num_params
            row[f"{name}_state_elements"] = int(optax.tree.size(state))
            row[f"{name}_state_copies"] = copies
            row[f"{name}_state_bytes"] = tree_bytes(state)
            xs, ys = pool
            compiled = (
                jax.jit(step, donate_argnums=(0, 1))
                .lower(params, state, xs[0], ys[0], xs[1], ys[1])
                .compile()
            )
            row[f"{name}_memory"] = memory_of(compiled)
            setups[name] = {
                "loop": make_loop(step),
                # Copies: donated buffers must be distinct (init shares zeros).
                "carry": jax.tree.map(jnp.copy, (params, state)),
            }
        for name in methods:
            row[f"{name}_extra_state_bytes_vs_base"] = (
                row[f"{name}_state_bytes"] - row["base_state_bytes"]
            )
        times = time_methods(setups, pool, repeats, min_rep_s, max_steps)
        for name, ts in times.items():
            row[f"{name}_step_s"] = statistics.median(ts)
            row[f"{name}_step_s_all"] = ts
        base = row["base_step_s"]
        for name in methods:
            row[f"{name}_time_ratio"] = row[f"{name}_step_s"] / base
            mem = row[f"{name}_memory"].get("total")
            base_mem = row["base_memory"].get("total")
            row[f"{name}_memory_ratio"] = mem / base_mem if mem and base_mem else None
        row["device_peak_bytes"] = device_peak_bytes()
        if trace_steps:
            label = f"params{num_params}"  # a file name the device tool returns
            trace = trace_runs(setups, pool, trace_steps, label, out)
            row["trace"] = str(trace)
        rows.append(row)
        print(
            f"params={num_params:>9d} base {1e3 * base:8.3f} ms/step | "
            + " ".join(f"{n}={row[f'{n}_time_ratio']:.2f}x" for n in methods[1:]),
            flush=True,
        )
        del setups
    return rows


# ---------------------------------------------------------------------- vmap


def vmap_rows(
    target: float, seeds: int, repeats: int, min_rep_s: float, max_steps: int
) -> dict[str, Any]:
    """GLyDER k=10 vs k=1 vs base per-step time, vmapped over seeds and not.

    The vmapped run adds ``glyder_k{1,10}_shared``: ``shared_count=True``
    with GLyDER's count unbatched (:func:`glyder_optax.share_glyder_count`),
    so its ``lax.cond`` stays a cond. Both runs add ``glyder_k10_static``:
    the refreshes chosen by the loop (``refresh=True`` then 9 steps of
    ``refresh=False``), with no ``lax.cond`` to become a select.
    """
    width = width_for(target)
    out: dict[str, Any] = {"target": target, "width": width, "seeds": seeds}
    for vmapped in (False, True):
        names = ("base", "glyder_k1", "glyder_k10", "glyder_k10_static")
        if vmapped:
            names += ("glyder_k1_shared", "glyder_k10_shared")
        pool = data_pool(jax.random.key(1))
        if vmapped:
            keys = jax.random.split(jax.random.key(0), seeds)
            params = jax.vmap(lambda k: init_mlp(k, width))(keys)
            pool = jax.vmap(data_pool)(jax.random.split(jax.random.key(1), seeds))
        else:
            params = init_mlp(jax.random.key(0), width)
        setups = {}
        for name in names:
            opt = make_opt(name, 1000)
            state = jax.vmap(opt.init)(params) if vmapped else opt.init(params)
            axes = 0
            if name.endswith("_shared"):
                state, axes = go.share_glyder_count(state)
            static = name.endswith("_static")
            step = make_step(name, opt, refresh=True if static else None)
            held = make_step(name, opt, refresh=False) if static else None
            setups[name] = {
                "loop": make_loop(step, vmapped, axes, held_step=held),
                # Copies: donated buffers must be distinct (init shares zeros).
                "carry": jax.tree.map(jnp.copy, (params, state)),
            }
        times = time_methods(setups, pool, repeats, min_rep_s, max_steps)
        tag = "vmap" if vmapped else "single"
        med = {n: statistics.median(times[n]) for n in names}
        for n in names:
            out[f"{tag}_{n}_step_s"] = med[n]
        out[f"{tag}_k10_over_k1"] = med["glyder_k10"] / med["glyder_k1"]
        out[f"{tag}_k10_over_base"] = med["glyder_k10"] / med["base"]
        out[f"{tag}_k1_over_base"] = med["glyder_k1"] / med["base"]
        out[f"{tag}_static_k10_over_base"] = med["glyder_k10_static"] / med["base"]
        if "glyder_k10_shared" in med:
            out[f"{tag}_shared_k10_over_k1"] = (
                med["glyder_k10_shared"] / med["glyder_k1_shared"]
            )
            out[f"{tag}_shared_k10_over_base"] = med["glyder_k10_shared"] / med["base"]
    out["params"] = int(optax.tree.size(init_mlp(jax.random.key(0), width)))
    print(
        f"vmap over {seeds} seeds, {out['params']} params: k10/k1 "
        f"{out['single_k10_over_k1']:.2f} (single) {out['vmap_k10_over_k1']:.2f}"
        " (vmapped)",
        flush=True,
    )
    return out


# ------------------------------------------------------------------------ HLO

_DOT = re.compile(
    r"(?:ROOT )?%([\w.\-]+) = (\w+\[[\d,]*\])\S* dot\(%([\w.\-]+), %([\w.\-]+)\)"
)
_DEF = re.compile(r"(?:ROOT )?%([\w.\-]+) = (\w+\[[\d,]*\])")


def hlo_dots(hlo_text: str) -> list[dict[str, str]]:
    """Every ``dot`` of an optimized HLO module with its operand shapes.

    The dots sit inside fusions, whose operands are the fusion's parameters:
    shapes are looked up per computation.
    """
    dots, shapes, comp = [], {}, None
    for line in hlo_text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith("{"):
            comp, shapes = line.split()[0].lstrip("%"), {}
            if comp == "ENTRY":
                comp = line.split()[1].lstrip("%")
            continue
        s = line.strip()
        m = _DEF.match(s)
        if m:
            shapes[m.group(1)] = m.group(2)
        m = _DOT.match(s)
        if m:
            meta = re.search(r'op_name="([^"]+)"', s)
            dots.append(
                {
                    "computation": comp,
                    "out": m.group(2),
                    "lhs": shapes.get(m.group(3), "?"),
                    "rhs": shapes.get(m.group(4), "?"),
                    "op_name": meta.group(1) if meta else "",
                }
            )
    return dots


def hlo_forward_passes(width: int = 128) -> dict[str, Any]:
    """Counts the forward passes of ``obj_fn`` in one compiled GLyDER refresh.

    Method: ``jax.jit(update).lower(...).compile().as_text()`` of one
    ``update`` call of ``go.glyder(optax.scale_by_adam())`` (``k=1``, the
    state at count 0: a refresh), the optimized HLO; its ``dot`` ops are
    counted, and those of the first layer (lhs the independent batch's
    inputs, ``f32[32,64]``, rhs a ``f32[64,w]`` matrix) separately, against
    the same counts for one plain forward pass of the loss (``jax.jit(loss)``:
    3 dots, 1 in the first layer) and one ``value_and_grad``. A forward-mode
    pass through the first layer costs ``x @ W1`` (the primal, one per point
    where the loss is evaluated) and ``x @ d1`` (the tangent, the same at
    every point): the number of first-layer dots minus one is the number of
    points where ``obj_fn`` is evaluated, i.e. of forward passes, if XLA
    merged the repeated tangent ``x @ d1``; a duplicate pass would show as
    more.
    """
    params = init_mlp(jax.random.key(0), width)
    (xs, ys) = data_pool(jax.random.key(1))
    x, y, x_ind, y_ind = xs[0], ys[0], xs[1], ys[1]
    grads = jax.grad(loss)(params, x, y)
    first = (f"f32[{BATCH},{IN}]", f"f32[{IN},{width}]")

    def summary(fn, *args) -> dict[str, Any]:
        text = jax.jit(fn).lower(*args).compile().as_text()
        dots = hlo_dots(text)
        layer1 = [d for d in dots if (d["lhs"], d["rhs"]) == first]
        return {
            "dots": len(dots),
            "first_layer_dots": len(layer1),
            "first_layer_op_names": sorted(d["op_name"] for d in layer1),
            "dot_shapes": [f"{d['lhs']} x {d['rhs']} -> {d['out']}" for d in dots],
        }

    out: dict[str, Any] = {
        "width": width,
        "method": " ".join(
            hlo_forward_passes.__doc__.split("Method: ")[1].split("\n\n")[0].split()
        ),
        "forward": summary(loss, params, x_ind, y_ind),
        "value_and_grad": summary(jax.value_and_grad(loss), params, x, y),
    }
    for tag, kwargs in [
        # The secant at every refresh, so its pass is in the count (under
        # glyder's default "auto" it sits in a cond of its own).
        ("glyder_update", {"secant": True}),
        ("glyder_update_no_secant", {"secant": False}),
    ]:
        opt = go.glyder(optax.scale_by_adam(), **kwargs)
        state = opt.init(params)

        def update(grads, state, params, x_ind, y_ind, opt=opt):
            return opt.update(
                grads, state, params, obj_fn=lambda p: loss(p, x_ind, y_ind)
            )

        out[tag] = summary(update, grads, state, params, x_ind, y_ind)
    passes, why = forward_passes(
        out["forward"]["first_layer_dots"], out["glyder_update"]["first_layer_dots"]
    )
    out["forward_passes_in_refresh"] = passes
    if why:
        out["forward_passes_unknown_because"] = why
    out["dots_over_forward"] = out["glyder_update"]["dots"] / out["forward"]["dots"]
    return out


def forward_passes(
    forward_first: int, refresh_first: int
) -> tuple[int | None, str | None]:
    """Forward passes in a refresh from first-layer dot counts, or why not.

    A refresh's first-layer dots are one ``x @ W1`` per point evaluated plus
    the shared tangent ``x @ d1``. The count holds only where the plain
    forward pass shows its one first-layer dot: a backend that rewrites dots
    (XLA:GPU merges dots that share an operand, and may reshape them) leaves
    nothing to count, and then the answer is ``None`` with the reason.
    """
    if forward_first != 1:
        return None, (
            f"the plain forward pass shows {forward_first} first-layer dots, not 1:"
            " this backend rewrites the dots (merged or reshaped), so they do not"
            " count passes; the dots' shapes are in the JSON"
        )
    return refresh_first - 1, None


# ------------------------------------------------------------------------ output


def _mib(b: int | None) -> str:
    return "n/a" if not b else f"{b / 2**20:.2f}"


def _passes_text(h: dict[str, Any]) -> str:
    if h["forward_passes_in_refresh"] is None:
        return f"not counted ({h['forward_passes_unknown_because']})"
    return str(h["forward_passes_in_refresh"])


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# GLyDER and Inexact Polyak: cost vs model size",
        "",
        f"`{result['command']}`, {result['wall_s']:.0f} s wall,"
        f" backend {result['environment'].get('backend')},"
        f" {os.cpu_count()} CPUs, load average {result['loadavg_start']} before"
        f" and {result['loadavg_end']} after.",
        "Per-step time: median over interleaved repeats, as a ratio to the base"
        " (Adam). Memory: compiled single step's `memory_analysis()`"
        " (argument + output + temp - alias), ratio to the base. State:"
        " optimizer-state elements / parameter count.",
        "",
    ]
    rows = result.get("rows", [])
    if rows:
        lines += [
            "| params | base ms/step | GLyDER k=1 | GLyDER k=10 | Inexact Polyak"
            " | base in apply_if_finite | base MiB | mem k=1 | mem k=10 | mem IPS"
            " | state copies base / k=1 / k=10 / IPS | GLyDER extra state bytes |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for r in rows:
            ratios = " | ".join(
                f"{r[f'{n}_time_ratio']:.2f}x" if f"{n}_time_ratio" in r else "n/a"
                for n in METHODS[1:]
            )
            mems = " | ".join(
                "n/a"
                if r[f"{n}_memory_ratio"] is None
                else f"{r[f'{n}_memory_ratio']:.2f}x"
                for n in METHODS[1:4]
            )
            copies = " / ".join(f"{r[f'{n}_state_copies']:.4f}" for n in METHODS[:4])
            lines.append(
                f"| {r['params']:,} | {1e3 * r['base_step_s']:.3f} | {ratios}"
                f" | {_mib(r['base_memory'].get('total'))} | {mems} | {copies}"
                f" | {r['glyder_k1_extra_state_bytes_vs_base']} |"
            )
        lines.append("")
    v = result.get("vmap")
    if v:
        lines += [
            f"## vmap over {v['seeds']} seeds ({v['params']:,} params)",
            "",
            "| | k=10 / k=1 | k=10 / base | k=1 / base | base ms/step |",
            "|---|---:|---:|---:|---:|",
        ]
        for tag in ("single", "vmap"):
            lines.append(
                f"| {'vmapped' if tag == 'vmap' else 'not vmapped'}"
                f" | {v[f'{tag}_k10_over_k1']:.2f} | {v[f'{tag}_k10_over_base']:.2f}"
                f" | {v[f'{tag}_k1_over_base']:.2f}"
                f" | {1e3 * v[f'{tag}_base_step_s']:.3f} |"
            )
        if "vmap_shared_k10_over_k1" in v:
            lines.append(
                f"| vmapped, GLyDER's count shared (in_axes None)"
                f" | {v['vmap_shared_k10_over_k1']:.2f}"
                f" | {v['vmap_shared_k10_over_base']:.2f} | | |"
            )
        for tag in ("single", "vmap"):
            if f"{tag}_static_k10_over_base" in v:
                lines.append(
                    f"| {'vmapped' if tag == 'vmap' else 'not vmapped'}, the"
                    " refresh chosen by the loop (static `refresh`, no lax.cond)"
                    f" | | {v[f'{tag}_static_k10_over_base']:.2f} | | |"
                )
        lines.append("")
    h = result.get("hlo")
    if h:
        lines += [
            "## Forward passes in one compiled GLyDER refresh (HLO)",
            "",
            f"MLP width {h['width']}. {h['method']}",
            "",
            "| program | dots | first-layer dots |",
            "|---|---:|---:|",
        ]
        for tag in ("forward", "value_and_grad", "glyder_update"):
            lines.append(f"| {tag} | {h[tag]['dots']} | {h[tag]['first_layer_dots']} |")
        t = "glyder_update_no_secant"
        lines += [
            f"| {t} | {h[t]['dots']} | {h[t]['first_layer_dots']} |",
            "",
            f"Forward passes of `obj_fn` in a refresh:"
            f" {_passes_text(h)}; dots: {h['dots_over_forward']:.1f}x"
            " a plain forward pass.",
            "",
        ]
    return "\n".join(lines)


def _environment() -> dict[str, Any]:
    try:
        from benchmarks.common import environment

        return environment()
    except Exception:  # the harness may be mid-rewrite; record the basics
        return {"jax": jax.__version__, "backend": jax.default_backend()}


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks scaling",
        description=__doc__.splitlines()[0],
        formatter_class=common.HelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="+",
        default=None,
        help="parameter counts to build MLPs for (default: 1e4 1e5 1e6 1e7;"
        " --quick: tiny)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="interleaved timing rounds (default: 5; --quick: 2)",
    )
    parser.add_argument(
        "--min-rep-s",
        type=float,
        default=None,
        help="seconds each timed scan"
        " should last at least (sets its steps; default: 0.3; --quick: 0.01)",
    )
    parser.add_argument(
        "--max-steps", type=int, default=2000, help="at most this many steps a scan"
    )
    parser.add_argument("--vmap", action="store_true", help="add the vmap section")
    parser.add_argument(
        "--vmap-only", action="store_true", help="only the vmap section"
    )
    parser.add_argument(
        "--vmap-size",
        type=float,
        default=None,
        help="parameters of the vmap section's MLP (default: 1e5)",
    )
    parser.add_argument(
        "--seeds", type=int, default=8, help="seeds vmapped in the vmap section"
    )
    parser.add_argument(
        "--no-hlo", action="store_true", help="skip the HLO forward-pass count"
    )
    parser.add_argument(
        "--trace-steps",
        type=int,
        default=0,
        help="after the timing, trace this many more steps of each method"
        " per size with the JAX profiler (untimed): --out/trace-paramsN.json.gz,"
        " Perfetto JSON; on a GPU it lists every kernel (default: 0, none)",
    )
    parser.add_argument("--out", default="results/scaling", help="output folder")
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = args.sizes or (QUICK_SIZES if quick else DEFAULT_SIZES)
    repeats = args.repeats or (2 if quick else 5)
    min_rep_s = args.min_rep_s or (0.01 if quick else 0.3)
    max_steps = 50 if quick else args.max_steps

    start = time.perf_counter()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "command": "python -m benchmarks.scaling "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "environment": _environment(),
        # Timings are only as good as the machine is quiet: the load before.
        "loadavg_start": _loadavg(),
        "sizes": list(sizes),
        "repeats": repeats,
        "batch": BATCH,
        "memory_source": "compiled.memory_analysis(): argument + output + temp"
        " - alias bytes of one jitted step (params, state donated);"
        " device_peak_bytes from jax.devices()[0].memory_stats() where available",
    }
    if not args.vmap_only:
        # --quick leaves out the diagnostic base_if_finite (two compiles).
        methods = METHODS[:4] if quick else METHODS
        result["rows"] = scaling_rows(
            sizes,
            repeats,
            min_rep_s,
            max_steps,
            methods=methods,
            trace_steps=args.trace_steps,
            out=out,
        )
    if args.vmap or args.vmap_only:
        vsize = args.vmap_size or (2e3 if quick else 1e5)
        result["vmap"] = vmap_rows(vsize, args.seeds, repeats, min_rep_s, max_steps)
    if not args.no_hlo:
        result["hlo"] = hlo_forward_passes(width=16 if quick else 128)
    result["wall_s"] = time.perf_counter() - start
    result["loadavg_end"] = _loadavg()
    (out / "scaling.json").write_text(json.dumps(result, indent=2, default=float))
    md = markdown(result)
    (out / "scaling.md").write_text(md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())

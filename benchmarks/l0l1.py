"""The (L0, L1)-smooth synthetic of the Inexact Polyak paper (its Figure 1).

f(x) = (L0 L1^2 / 72) x^4 + (L0 / 4) x^2 + f*, scalar x, L0 = 1, x0 = 5,
f* = 1 and the lower bound l* = 0, for L1 in {1, 10, 100, 1000}. GD and
clipped GD use the paper's tuned hyperparameters; every method is the public
optax / glyder_optax transform, run in float64 in one jitted ``lax.scan``.
The gap f(x) - f* is computed without adding f* (no cancellation).

Reported: the gap of the best iterate so far (the paper's Algorithm 1 returns
the best iterate, and its guarantee is on it), for every method alike. The
last iterate of IPS is shown too: it oscillates around x* (near the optimum the
gap f - l* stays near f* = 1 while the gradient vanishes).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import glyder_optax as go
from benchmarks import common

L0 = 1.0
X0 = 5.0
F_STAR = 1.0
L1_VALUES = (1.0, 10.0, 100.0, 1000.0)
# The paper's tuned values, per L1.
GD_LR = {1.0: 1e-1, 10.0: 1e-3, 100.0: 1e-5, 1000.0: 1e-7}
CLIP = {1.0: 20.0, 10.0: 10.0, 100.0: 10.0, 1000.0: 10.0}
SHORT_STEPS = 500
LONG_STEPS = 10_000
IPS_HORIZONS = (100, 1_000, 10_000)


def gap_fn(l1: float) -> Callable[[jax.Array], jax.Array]:
    return lambda x: (L0 * l1**2 / 72) * x**4 + (L0 / 4) * x**2


def run_method(opt: optax.GradientTransformation, l1: float, steps: int) -> np.ndarray:
    """Gaps f(x_t) - f* of the iterates t = 0..steps (x_0 included)."""
    gap = gap_fn(l1)

    def body(carry, _):
        x, state = carry
        g, grad = jax.value_and_grad(gap)(x)
        updates, state = opt.update(grad, state, x, value=g + F_STAR)
        x = optax.apply_updates(x, updates)
        return (x, state), gap(x)

    x0 = jnp.asarray(X0, jnp.float64)
    _, gaps = jax.jit(lambda x, s: jax.lax.scan(body, (x, s), length=steps))(
        x0, opt.init(x0)
    )
    return np.concatenate([[float(gap(x0))], np.asarray(gaps)])


def methods(
    l1: float, long_steps: int
) -> dict[str, tuple[optax.GradientTransformation, int]]:
    short = min(SHORT_STEPS, long_steps)
    return {
        "GD (tuned)": (optax.sgd(GD_LR[l1]), short),
        "clipped GD (tuned)": (
            optax.chain(optax.clip_by_global_norm(CLIP[l1]), optax.sgd(0.1)),
            short,
        ),
        "Polyak (f* known)": (
            optax.polyak_sgd(max_learning_rate=jnp.inf, f_min=F_STAR),
            short,
        ),
        "DecSPS": (go.decsps(), long_steps),
        "AdaSPS": (go.adasps(), long_steps),
        "Inexact Polyak": (go.inexact_polyak_sgd(total_steps=long_steps), long_steps),
    }


def run(out: pathlib.Path, long_steps: int = LONG_STEPS, progress=None) -> str:
    """Runs the benchmark, writes JSON, Markdown and PNG under ``out``.

    Runs in float64, scoped to this call (``jax.enable_x64``), so the rest of
    the process, e.g. other tests in a pytest worker, keeps JAX's default.
    """
    with jax.enable_x64(True):
        return _run(out, long_steps, progress)


def _run(out: pathlib.Path, long_steps: int, progress) -> str:
    horizons = tuple(t for t in IPS_HORIZONS if t <= long_steps) or (long_steps,)
    curves: dict[str, dict[str, list[float]]] = {}  # best-so-far gaps
    last: dict[str, dict[str, float]] = {}  # last-iterate gaps
    jobs = [(l1, name) for l1 in L1_VALUES for name in methods(l1, long_steps)]
    jobs += [(l1, f"IPS T={t}") for l1 in L1_VALUES for t in horizons]
    for l1, name in progress(jobs, desc="l0l1") if progress else jobs:
        if name.startswith("IPS T="):
            t = int(name.split("=")[1])
            opt, steps = go.inexact_polyak_sgd(total_steps=t), t
        else:
            opt, steps = methods(l1, long_steps)[name]
        gaps = run_method(opt, l1, steps)
        curves.setdefault(str(l1), {})[name] = np.minimum.accumulate(gaps).tolist()
        last.setdefault(str(l1), {})[name] = float(gaps[-1])

    names = list(methods(1.0, long_steps))
    rows = [[name] + [curves[str(l1)][name][-1] for l1 in L1_VALUES] for name in names]
    rows += [
        [f"IPS T={t}"] + [curves[str(l1)][f"IPS T={t}"][-1] for l1 in L1_VALUES]
        for t in horizons
    ]
    rows.append(
        [f"IPS T={long_steps}, last iterate"]
        + [last[str(l1)]["Inexact Polyak"] for l1 in L1_VALUES]
    )
    worst = {r[0]: float(max(r[1:])) for r in rows}
    header = ["method (best-iterate gap f - f*)"] + [f"L1={l1:g}" for l1 in L1_VALUES]
    table = common.markdown_table(
        header + ["worst over L1"], [r + [worst[r[0]]] for r in rows]
    )
    table += (
        f"\n\nGD, clipped GD and Polyak run {min(SHORT_STEPS, long_steps)} steps;"
        f" DecSPS, AdaSPS and IPS {long_steps} (float64, x0={X0}, L0={L0})."
    )

    out.mkdir(parents=True, exist_ok=True)
    common.write_json(
        out / "l0l1.json",
        {
            "benchmark": "l0l1",
            "config": {"L0": L0, "x0": X0, "f_star": F_STAR, "long_steps": long_steps},
            "environment": common.environment(),
            "curves": curves,
            "best_gap": {r[0]: dict(zip(map(str, L1_VALUES), r[1:])) for r in rows},
            "last_gap": last,
        },
    )
    (out / "l0l1.md").write_text(table + "\n")
    plot(curves, out / "l0l1.png")
    return table


def plot(curves: dict[str, dict[str, list[float]]], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(curves), figsize=(4 * len(curves), 3.4), sharey=True
    )
    for ax, (l1, by_method) in zip(np.atleast_1d(axes), curves.items()):
        for name, gaps in by_method.items():
            if name.startswith("IPS T=") and not name.endswith("=1000"):
                continue
            ax.loglog(np.arange(1, len(gaps) + 1), np.maximum(gaps, 1e-300), label=name)
        ax.set_xlabel("step")
        ax.set_title(f"L1 = {float(l1):g}", fontsize=9)
        ax.set_ylim(1e-12, 1e8)
    np.atleast_1d(axes)[0].set_ylabel("best f(x) - f* so far")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

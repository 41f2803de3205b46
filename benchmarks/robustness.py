r"""Tuning robustness of annealed schedules: the rho sweep (Attia & Koren 2025).

A learning rate picked on a geometric grid of ratio :math:`\rho` can be off by a
factor up to :math:`\rho`. For SGD on stochastic convex problems the paper shows
an error of :math:`O(\rho/\sqrt{T})` for a fixed stepsize (and
:math:`1/\sqrt{t}`), but :math:`O(\rho^{1/(2p+1)}/\sqrt{T})` for polynomial
decay :math:`\eta_0 (1 - t/T)^p` (linear: :math:`\rho^{1/3}`; cosine behaves as
:math:`p = 2` near the end: :math:`\rho^{1/5}`). The gain is for over-estimated
learning rates.

What is run: plain SGD (``optax.sgd``) with each schedule of ``SCHEDULES`` times
a peak :math:`\eta` from a geometric grid of ratio 2 (``GRID_SIZE`` values),
over ``seeds`` seeds, on three problems; all (schedule, eta, seed) runs of a
problem are one ``vmap``-ed, jitted ``lax.scan``. The error is measured at the
final iterate:

* ``lad``: least-absolute-deviation regression, streaming (a fresh sample per
  step, batch 1): :math:`a \sim N(0, I_{20})`, :math:`y = a^\top x^\star +
  \text{Laplace}(1)`. Lipschitz, non-smooth. The error is the exact excess
  population risk, :math:`s\sqrt{2/\pi} + 2b\,e^{s^2/2b^2}\Phi(-s/b) - b` with
  :math:`s = \|x - x^\star\|`, computed on the host in float64.
* ``logistic``: logistic regression on a fixed synthetic data set (n = 4096,
  d = 20, labels drawn from a logistic model), minibatches of 16 sampled with
  replacement; the error is :math:`f(x) - f^\star` on the whole data set,
  :math:`f^\star` from Newton's method in float64.
* ``mlp``: a 64-16-10 tanh MLP on sklearn's digits (1797 images, inputs in
  [0, 1]), minibatches of 16; the error is the final full-data training loss
  (non-convex: :math:`f^\star` unknown, taken as 0).

Reported per (problem, schedule), with :math:`\eta_{best}` the grid value of
least seed-mean error: the curve err(eta) / err(eta_best) against
eta / eta_best (the plot), and the worst over-estimation ratio
:math:`R(\rho) = \max_{\eta_{best} \le \eta \le \rho \eta_{best}}
\text{err}(\eta) / \text{err}(\eta_{best})` for rho = 2, 4, ..., 64 (n/a
where :math:`\rho\eta_{best}` leaves the grid), with the least-squares slope
of :math:`\log R` on :math:`\log\rho` printed beside the theory's
:math:`1/(2p+1)`. The under-estimation side is kept in the JSON.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import glyder_optax as go
from benchmarks import common

SEEDS = 8
STEPS = 3000
GRID_SIZE = 15
RHOS = (2, 4, 8, 16, 32, 64)

# name -> (shape with peak 1 for a run of T steps, theory exponent 1/(2p+1)).
SCHEDULES: dict[str, tuple[Callable[[int], optax.Schedule], float]] = {
    "constant": (lambda T: optax.constant_schedule(1.0), 1.0),
    "1/sqrt(t+1)": (lambda T: lambda c: jax.lax.rsqrt(c + 1.0), 1.0),
    "linear": (lambda T: go.linear_decay_schedule(1.0, T), 1 / 3),
    "cosine": (lambda T: optax.cosine_decay_schedule(1.0, T), 1 / 5),
    "(1-t/T)^0.5": (lambda T: optax.polynomial_schedule(1.0, 0.0, 0.5, T), 1 / 2),
    "(1-t/T)^1": (lambda T: optax.polynomial_schedule(1.0, 0.0, 1.0, T), 1 / 3),
    "(1-t/T)^2": (lambda T: optax.polynomial_schedule(1.0, 0.0, 2.0, T), 1 / 5),
    "(1-t/T)^3": (lambda T: optax.polynomial_schedule(1.0, 0.0, 3.0, T), 1 / 7),
}


@dataclasses.dataclass(frozen=True)
class Problem:
    """A stochastic problem: SGD runs from ``init(key)``.

    ``grad(x, key)`` is a stochastic gradient; ``summary(x)`` (in the compiled
    program) and ``to_error(summary)`` (on the host, float64) give the error of
    a final iterate. The grid is ``eta_center * 2**k`` for ``k`` in ``powers``.
    """

    name: str
    description: str
    init: Callable[[jax.Array], Any]
    grad: Callable[[Any, jax.Array], Any]
    summary: Callable[[Any], jax.Array]
    to_error: Callable[[np.ndarray], np.ndarray]
    eta_center: float
    powers: tuple[int, ...]


def lad_problem(steps: int, d: int = 20, scale: float = 1.0) -> Problem:
    x_star = jnp.asarray(np.random.default_rng(0).normal(size=d), jnp.float32)

    def grad(x, key):
        ka, kn = jax.random.split(key)
        a = jax.random.normal(ka, (d,))
        y = a @ x_star + scale * jax.random.laplace(kn)
        return jnp.sign(a @ x - y) * a

    def to_error(s):
        from scipy.special import log_ndtr

        s = np.asarray(s, np.float64)
        u = s / scale
        tail = 2 * scale * np.exp(u**2 / 2 + log_ndtr(-u))
        return s * np.sqrt(2 / np.pi) + tail - scale

    return Problem(
        name="lad",
        description=f"LAD regression, streaming, d={d}, Laplace({scale}), batch 1",
        init=lambda key: jnp.zeros(d),
        grad=grad,
        summary=lambda x: jnp.linalg.norm(x - x_star),
        to_error=to_error,
        # D / (G sqrt(T)) with D ~ ||x*|| ~ sqrt(d) and G ~ ||a|| ~ sqrt(d).
        eta_center=float(1 / np.sqrt(steps)),
        powers=tuple(range(-4, -4 + GRID_SIZE)),
    )


def logistic_problem(
    steps: int, n: int = 4096, d: int = 20, batch: int = 16
) -> Problem:
    del steps
    rng = np.random.default_rng(1)
    a = rng.normal(size=(n, d))
    w_true = rng.normal(size=d) * 2 / np.sqrt(d)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-a @ w_true))).astype(np.float64)
    w_star = _newton_logistic(a, y)
    a32, y32 = jnp.asarray(a, jnp.float32), jnp.asarray(y, jnp.float32)
    w32 = jnp.asarray(w_star, jnp.float32)

    def losses(x, idx=None):
        aa, yy = (a32, y32) if idx is None else (a32[idx], y32[idx])
        z = aa @ x
        return jax.nn.softplus(z) - yy * z

    def grad(x, key):
        idx = jax.random.randint(key, (batch,), 0, n)
        return jax.grad(lambda x: jnp.mean(losses(x, idx)))(x)

    return Problem(
        name="logistic",
        description=f"logistic regression, n={n}, d={d}, batch {batch}",
        init=lambda key: jnp.zeros(d),
        grad=grad,
        summary=lambda x: jnp.mean(losses(x) - losses(w32)),
        to_error=lambda e: np.asarray(e, np.float64),
        eta_center=0.05,
        powers=tuple(range(-4, -4 + GRID_SIZE)),
    )


def _newton_logistic(a: np.ndarray, y: np.ndarray, iters: int = 50) -> np.ndarray:
    w = np.zeros(a.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-a @ w))
        g = a.T @ (p - y) / len(y)
        h = (a * (p * (1 - p))[:, None]).T @ a / len(y)
        w = w - np.linalg.solve(h, g)
    return w


def mlp_problem(steps: int, hidden: int = 16, batch: int = 16) -> Problem:
    del steps
    from sklearn.datasets import load_digits

    digits = load_digits()
    x_all = jnp.asarray(digits.data / 16.0, jnp.float32)
    y_all = jnp.asarray(digits.target, jnp.int32)
    n, d = x_all.shape

    def init(key):
        k1, k2 = jax.random.split(key)
        return {
            "w1": jax.random.normal(k1, (d, hidden)) / np.sqrt(d),
            "b1": jnp.zeros(hidden),
            "w2": jax.random.normal(k2, (hidden, 10)) / np.sqrt(hidden),
            "b2": jnp.zeros(10),
        }

    def loss(p, x, y):
        logits = jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

    def grad(p, key):
        idx = jax.random.randint(key, (batch,), 0, n)
        return jax.grad(loss)(p, x_all[idx], y_all[idx])

    return Problem(
        name="mlp",
        description=f"MLP 64-{hidden}-10 (tanh) on sklearn digits, batch {batch}",
        init=init,
        grad=grad,
        summary=lambda p: loss(p, x_all, y_all),
        to_error=lambda e: np.asarray(e, np.float64),
        eta_center=0.1,
        powers=tuple(range(-5, -5 + GRID_SIZE)),
    )


def _as_f32(schedule: Callable) -> Callable:
    return lambda count: jnp.asarray(schedule(count), jnp.float32)


def simulate(problem: Problem, etas: np.ndarray, seeds: int, steps: int) -> np.ndarray:
    """Errors of shape [schedule, eta, seed], one compiled program."""
    # One dtype for every branch of the switch, whatever jax_enable_x64 says.
    shapes = [_as_f32(make(steps)) for make, _ in SCHEDULES.values()]

    def one(schedule_index, eta, seed):
        init_key, key = jax.random.split(jax.random.key(seed))
        opt = optax.sgd(lambda c: eta * jax.lax.switch(schedule_index, shapes, c))
        x0 = problem.init(init_key)

        def body(carry, t):
            x, state = carry
            g = problem.grad(x, jax.random.fold_in(key, t))
            updates, state = opt.update(g, state, x)
            return (optax.apply_updates(x, updates), state), None

        (x, _), _ = jax.lax.scan(body, (x0, opt.init(x0)), jnp.arange(steps))
        return problem.summary(x)

    batched = jax.vmap(jax.vmap(jax.vmap(one, (None, None, 0)), (None, 0, None)),
                       (0, None, None))  # fmt: skip
    summary = jax.jit(batched)(
        jnp.arange(len(shapes)), jnp.asarray(etas, jnp.float32), jnp.arange(seeds)
    )
    errors = problem.to_error(np.asarray(summary))
    return np.where(np.isfinite(errors), errors, np.inf)


def ratios(etas: np.ndarray, mean_err: np.ndarray) -> dict[str, Any]:
    """eta_best and the worst error ratios within rho of it, over and under."""
    best = int(np.argmin(mean_err))
    rel = mean_err / mean_err[best]
    over, under = {}, {}
    for rho in RHOS:
        hi, lo = best + int(np.log2(rho)), best - int(np.log2(rho))
        over[rho] = float(rel[best : hi + 1].max()) if hi < len(etas) else np.nan
        under[rho] = float(rel[lo : best + 1].max()) if lo >= 0 else np.nan
    return {
        "eta_best": float(etas[best]),
        "best_at_grid_edge": best in (0, len(etas) - 1),
        "over": over,
        "under": under,
        "ratio_curve": rel.tolist(),
    }


def fitted_slope(ratio_by_rho: dict[int, float]) -> float:
    """Least-squares slope of log R on log rho over the finite points."""
    pts = [(np.log(r), np.log(v)) for r, v in ratio_by_rho.items() if np.isfinite(v)]
    if len(pts) < 2:
        return float("nan")
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def run(
    out: pathlib.Path,
    *,
    seeds: int = SEEDS,
    steps: int = STEPS,
    problems: Sequence[str] = ("lad", "logistic", "mlp"),
    progress=None,
) -> str:
    """Runs the sweep; writes robustness.json, robustness.md, robustness.png.

    Args:
      out: output folder.
      seeds: seeds per (schedule, eta).
      steps: T, the number of SGD steps of every run.
      problems: names among ``lad``, ``logistic``, ``mlp``.
      progress: optional ``tqdm``-like wrapper of an iterable.

    Returns:
      The Markdown table.
    """
    builders = {"lad": lad_problem, "logistic": logistic_problem, "mlp": mlp_problem}
    results: dict[str, Any] = {}
    items = list(problems)
    for name in progress(items, desc="robustness") if progress else items:
        problem = builders[name](steps)
        etas = problem.eta_center * 2.0 ** np.asarray(problem.powers, np.float64)
        start = time.perf_counter()
        errors = simulate(problem, etas, seeds, steps)
        wall = time.perf_counter() - start
        mean_err = errors.mean(axis=-1)
        results[name] = {
            "description": problem.description,
            "etas": etas.tolist(),
            "wall_s": wall,
            "schedules": {
                s: {
                    **ratios(etas, mean_err[i]),
                    "mean_error": mean_err[i].tolist(),
                    "errors": errors[i].tolist(),
                }
                for i, s in enumerate(SCHEDULES)
            },
        }
        for s, r in results[name]["schedules"].items():
            r["slope"] = fitted_slope(r["over"])
            r["theory_slope"] = SCHEDULES[s][1]

    header = ["problem", "schedule", "eta_best"]
    header += [f"rho={r}" for r in RHOS] + ["fitted slope", "1/(2p+1)"]
    rows = []
    for name, res in results.items():
        for s, r in res["schedules"].items():
            edge = " (edge)" if r["best_at_grid_edge"] else ""
            rows.append(
                [name, s, f"{r['eta_best']:.3g}{edge}"]
                + [r["over"][rho] if np.isfinite(r["over"][rho]) else "n/a"
                   for rho in RHOS]
                + [round(r["slope"], 2), round(r["theory_slope"], 3)]
            )  # fmt: skip
    table = common.markdown_table(header, rows)
    table += (
        "\n\nWorst error ratio err(eta)/err(eta_best) over eta_best <= eta <= rho"
        f" eta_best (seed means), plain SGD, T={steps}, {seeds} seeds, grid ratio"
        f" 2 ({GRID_SIZE} values). Wall time: "
        + ", ".join(f"{n} {res['wall_s']:.1f} s" for n, res in results.items())
        + "."
    )

    out.mkdir(parents=True, exist_ok=True)
    common.write_json(
        out / "robustness.json",
        {
            "benchmark": "robustness",
            "config": {"seeds": seeds, "steps": steps, "rhos": list(RHOS)},
            "environment": common.environment(),
            "results": results,
        },
    )
    (out / "robustness.md").write_text(table + "\n")
    plot(results, out / "robustness.png")
    return table


def plot(results: dict[str, Any], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(
        2, len(names), figsize=(4.2 * len(names), 7), squeeze=False
    )
    for j, name in enumerate(names):
        etas = np.asarray(results[name]["etas"])
        for s, r in results[name]["schedules"].items():
            curve = np.asarray(r["ratio_curve"])
            axes[0, j].loglog(etas / r["eta_best"], curve, marker=".", label=s)
            rho = np.asarray(RHOS, float)
            over = np.asarray([r["over"][k] for k in RHOS], float)
            axes[1, j].loglog(rho, over, marker="o", label=f"{s} ({r['slope']:.2f})")
        axes[0, j].set_title(results[name]["description"], fontsize=8)
        axes[0, j].set_xlabel("eta / eta_best")
        axes[0, j].set_ylabel("err(eta) / err(eta_best)")
        axes[0, j].set_ylim(0.8, 1e3)
        axes[1, j].set_xlabel("rho")
        axes[1, j].set_ylabel("worst ratio, eta in [eta_best, rho eta_best]")
        axes[1, j].legend(fontsize=6, title="schedule (slope)", title_fontsize=6)
    axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

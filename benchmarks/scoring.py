"""AlgoPerf-style scoring: time to a tuned target, performance profiles.

Per workload, the **target** is the best held-out metric (median over seeds,
at the end of the budget) of the tuned cosine grids (:data:`TARGET_METHODS`,
any base). A method's **time to target** is the fraction of the budget at the
first evaluation at which its median curve is at or below the target (``inf``
if it never is); the evaluation at step 0 does not count. Steps, not seconds:
a step of GLyDER costs more than a step of its base (``python -m benchmarks
overhead``), so its times are optimistic by that ratio.

**Performance profile** (Dolan and More 2002, as AlgoPerf): with ``t[m, w]``
the time of method ``m`` on workload ``w`` and ``r = t[m, w] / min_m t[m,
w]`` (the best method's time on that workload), ``rho_m(tau)`` is the share
of workloads with ``r <= tau``. The **score** is the area under ``rho_m`` for
``tau`` from 1 to :data:`TAU_MAX`, normalised to [0, 1]: 1 is the fastest on
every workload, 0 never within ``TAU_MAX`` times the fastest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TARGET_METHODS = ("sgd-cosine", "momentum-cosine", "adam-cosine")
TAU_MAX = 4.0


def time_to_target(
    curve: Sequence[float], eval_steps: Sequence[int], target: float
) -> float:
    """Fraction of the budget (the last of ``eval_steps``) at which ``curve``
    first reaches ``target``; ``inf`` if it never does (step 0 excluded)."""
    curve = np.asarray(curve, np.float64)[1:]
    hit = np.nonzero(np.isfinite(curve) & (curve <= target))[0]
    return eval_steps[hit[0] + 1] / eval_steps[-1] if len(hit) else np.inf


def target(summary: Mapping[str, Mapping[str, Any]]) -> float | None:
    """The best final value of the tuned cosine entries; None if none ran."""
    values = [summary[n]["value"] for n in TARGET_METHODS if n in summary]
    return min(values) if values else None


def profile_ratios(times: Mapping[str, Mapping[str, float]]) -> dict[str, np.ndarray]:
    """``{method: r per workload}`` from ``{workload: {method: time}}``; a
    method not run on a workload counts as never reaching its target."""
    methods = sorted({m for per in times.values() for m in per})
    out = {m: [] for m in methods}
    for per in times.values():
        best = min(per.values())
        for m in methods:
            t = per.get(m, np.inf)
            out[m].append(t / best if np.isfinite(t) else np.inf)
    return {m: np.asarray(r) for m, r in out.items()}


def profile(ratios: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """``rho(tau)``: the share of workloads whose ratio is at most ``tau``."""
    return np.mean(ratios[None, :] <= taus[:, None], axis=1)


def profile_score(ratios: np.ndarray, tau_max: float = TAU_MAX) -> float:
    """The area under ``rho`` on [1, tau_max] over ``tau_max - 1`` (exact: each
    workload adds ``tau_max - r`` where ``r <= tau_max``)."""
    inside = np.where(ratios <= tau_max, tau_max - np.maximum(ratios, 1.0), 0.0)
    return float(np.mean(inside) / (tau_max - 1.0))


def plot_profiles(
    ratios: Mapping[str, np.ndarray], categories: Mapping[str, str], path
) -> None:
    """One PNG: ``rho_m(tau)`` for every method, tau from 1 to TAU_MAX."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    taus = np.linspace(1.0, TAU_MAX, 301)
    styles = {"self-tuning": "-", "calibrated": "--", "tuned": ":"}
    fig, ax = plt.subplots(figsize=(9, 5.5))
    cmap = plt.get_cmap("tab20")
    order = sorted(ratios, key=lambda m: -profile_score(ratios[m]))
    for i, m in enumerate(order):
        ax.step(
            taus,
            profile(ratios[m], taus),
            where="post",
            color=cmap(i % 20),
            ls=styles.get(categories.get(m, ""), "-"),
            lw=1.8 if m.startswith("glyder") else 1.1,
            label=f"{m} ({profile_score(ratios[m]):.2f})",
        )
    ax.set_xlabel("tau: time to target / the fastest method's time on the workload")
    ax.set_ylabel("share of workloads reached within tau")
    ax.set_title(
        "Performance profiles (solid: self-tuning at defaults, dashed:"
        " calibrated, dotted: tuned per workload); score in brackets",
        fontsize=9,
    )
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

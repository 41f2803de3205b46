"""Tables and plots from the per-task JSON files of ``python -m benchmarks run``.

Everything here reads only the JSON payloads, so ``python -m benchmarks
report DIR`` rebuilds the Markdown table and the PNGs of a finished run.

Per task and method (medians over seeds; a diverged seed counts as +inf):

* the primary metric at the end of the run (lower is better), for the best
  grid point of a tuned method (chosen by that same median: the tuned
  baseline is the best grid point by held-out metric), or at the defaults;
* ``vs base``: ratio to the best tuned *baseline* (optax, with a grid) of the
  same base optimizer (sgd / momentum / adam); ``vs best``: ratio to the best
  tuned baseline overall (``inf`` for a diverged method, or a nonzero value
  against a reference of exactly 0; ``-`` where there is no reference);
* tuning cost: runs x steps to come within 2% of the best tuned baseline:
  runs = grid size for a tuned method (one run per grid point, the sweep it
  takes to find that point), 1 for an untuned one; steps = the first
  evaluated step at which the median curve of the chosen configuration is
  within 2% of the best (``-`` if it never is);
* ``edge``: the chosen learning rate is the end of the grid (widen it).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import numpy as np

from benchmarks import common, scoring

WITHIN = 1.02


def _median(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.median(np.where(np.isfinite(x), x, np.inf), axis=1)


def ratio(value: float, reference: float) -> float:
    """value / reference, where a reference of exactly 0 (an optimum reached in
    float32) gives 1 for a value of 0 and inf for any other."""
    if reference == 0:
        return 1.0 if value == 0 else np.inf
    return value / reference


def is_tuned_baseline(run: dict[str, Any]) -> bool:
    """Whether a payload's method entry is a reference for ``vs base``: a
    baseline (optax) searched over a grid of learning rates."""
    return run["family"] == "baseline" and run["grid"] is not None


def summarise(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-method summary of one task's payload (see the module docstring)."""
    metric, secondary = payload["metric"], payload.get("secondary")
    out: dict[str, dict[str, Any]] = {}
    for name, run in payload["methods"].items():
        curves = _median(run["evals"][metric])  # (G, E)
        best = int(np.argmin(curves[:, -1]))
        grid = run["grid"]
        out[name] = {
            "base": run["base"],
            "family": run["family"],
            "tuned": grid is not None,
            "lr": None if grid is None else grid[best],
            "edge": grid is not None and best in (0, len(grid) - 1),
            "runs": 1 if grid is None else len(grid),
            "value": float(curves[best, -1]),
            "secondary": (
                float(_median(run["evals"][secondary])[best, -1]) if secondary else None
            ),
            "curve": curves[best],
            "best_index": best,
            "wall_s": run["wall_s"],
            "category": run.get("category", "tuned" if grid else "self-tuning"),
        }
    runs = payload["methods"]
    refs = {n: s for n, s in out.items() if is_tuned_baseline(runs[n])}
    overall = min((s["value"] for s in refs.values()), default=np.nan)
    for s in out.values():
        same = [r["value"] for r in refs.values() if r["base"] == s["base"]]
        s["vs_base"] = ratio(s["value"], min(same)) if same else np.nan
        s["vs_best"] = ratio(s["value"], overall)
        hit = np.nonzero(s["curve"] <= WITHIN * overall)[0]
        s["cost"] = s["runs"] * payload["eval_steps"][hit[0]] if len(hit) else None
    goal = scoring.target(out)
    for s in out.values():
        s["target"] = goal
        s["vs_target"] = np.nan if goal is None else ratio(s["value"], goal)
        s["time"] = (
            np.nan
            if goal is None
            else scoring.time_to_target(s["curve"], payload["eval_steps"], goal)
        )
    return out


def _fmt_ratio(x: float) -> str:
    if np.isnan(x):  # no reference (no tuned baseline of that base)
        return "-"
    return "inf" if np.isinf(x) else f"{x:.3g}"  # inf: diverged, or vs a 0


def task_table(payload: dict[str, Any]) -> str:
    summary = summarise(payload)
    metric, secondary = payload["metric"], payload.get("secondary")
    header = ["method", "base", "lr", metric]
    header += [secondary] if secondary else []
    header += ["vs base", "vs best", "time to target", "tuning cost", "wall s"]
    rows = []
    order = sorted(summary, key=lambda n: (summary[n]["family"] != "baseline", n))
    for name in order:
        s = summary[name]
        lr = (
            "default"
            if s["lr"] is None
            else f"{s['lr']:.2g}" + (" edge" if s["edge"] else "")
        )
        row = [name + (" (ours)" if s["family"] == "ours" else ""), s["base"], lr]
        row += [s["value"]] + ([s["secondary"]] if secondary else [])
        row += [_fmt_ratio(s["vs_base"]), _fmt_ratio(s["vs_best"])]
        row += [_fmt_ratio(s["time"])]
        row += ["-" if s["cost"] is None else f"{s['cost']:,}", f"{s['wall_s']:.1f}"]
        rows.append(row)
    head = (
        f"### {payload['task']}: {payload['description']}\n\n"
        f"{payload['steps']} steps, batch {payload['batch_size']}, seeds "
        f"{payload['seeds']} (median), metric `{metric}` (lower is better)\n\n"
    )
    return head + common.markdown_table(header, rows)


LEGEND = """\
**How to read these tables.** Every figure is a median over seeds of the
configuration shown (a diverged seed counts as +inf).

- `lr`: the chosen point of a tuned method's grid (the best final median of
  the task's metric); `default` for a method without a grid; `edge`: the chosen
  point is an end of the grid (the grid may be too narrow).
- the metric column: the task's metric at the end of the budget (lower is
  better); the next column, where there is one, its secondary metric there.
- `vs base`: the metric / the best tuned optax baseline of the same base
  optimizer (sgd, momentum or adam), any schedule; `vs best`: / the best tuned
  optax baseline overall. `inf`: diverged, or nonzero against a reference of
  exactly 0; `-`: no reference (no tuned baseline of that base ran).
- `time to target`: the fraction of the budget at which the method's median
  curve first reaches the target, the best final metric of the tuned cosine
  grids (sgd-, momentum-, adam-cosine, any base); `inf`: never; `-`: no
  target (no tuned cosine ran on the task).
- `tuning cost`: runs x steps to come within 2% of the best tuned baseline:
  runs = the grid size for a tuned method, 1 otherwise; steps = the first
  evaluated step within 2%; `-`: never.
- Leaderboard: `category` is `self-tuning` (one configuration, the method's
  defaults, everywhere), `calibrated` (one configuration chosen once on a
  calibration subset, then frozen) or `tuned` (a grid searched per workload:
  its cost is not in its score); `profile score` the normalised area under
  its performance profile (1 = fastest to target on every workload; see
  `profiles.png`); `reached` the workloads on which it reaches the target;
  `vs target` the final metric / the target (worst and geometric mean over
  workloads); `vs base (worst)` the worst `vs base`.
- `<task>.png`: left, the minibatch training loss (window means); middle,
  the task's metric at each evaluation; right (when a method logs a value per
  step, e.g. GLyDER's eta), that value on a log axis: gaps are steps where it
  is 0 (GLyDER before its first estimate, or while the estimated slope along
  the direction is not positive), which a log axis cannot show.
"""


def leaderboard(payloads: list[dict[str, Any]]) -> tuple[str, dict, dict]:
    """The leaderboard over the tasks with a target, and the profile inputs
    (``{method: ratios}``, ``{method: category}``)."""
    sums = {p["task"]: summarise(p) for p in payloads}
    sums = {t: s for t, s in sums.items() if scoring.target(s) is not None}
    if not sums:
        return "", {}, {}
    ratios = scoring.profile_ratios(
        {t: {m: v["time"] for m, v in s.items()} for t, s in sums.items()}
    )
    categories = {m: v["category"] for s in sums.values() for m, v in s.items()}
    rows = []
    for m, r in ratios.items():
        runs = [s[m] for s in sums.values() if m in s]
        vs = np.asarray([x["vs_target"] for x in runs])
        base = np.asarray([x["vs_base"] for x in runs])
        base = base[~np.isnan(base)]
        times = np.asarray([x["time"] for x in runs])
        rows.append(
            [
                m,
                categories[m],
                round(scoring.profile_score(r), 3),
                f"{int(np.sum(np.isfinite(times)))}/{len(sums)}",
                _fmt_ratio(float(np.median(times))),
                _fmt_ratio(float(np.max(vs))),
                _fmt_ratio(float(np.exp(np.mean(np.log(vs))))),
                _fmt_ratio(float(np.max(base))) if len(base) else "-",
            ]
        )
    order = {"self-tuning": 0, "calibrated": 1, "tuned": 2}
    rows.sort(key=lambda row: (order.get(row[1], 3), -row[2]))
    header = ["method", "category", "profile score", "reached", "median time"]
    header += ["vs target (worst)", "vs target (geo mean)", "vs base (worst)"]
    text = (
        f"### Leaderboard over {len(sums)} workloads (time to target, "
        f"performance profile tau 1..{scoring.TAU_MAX:g})\n\n"
        + common.markdown_table(header, rows)
    )
    return text, ratios, categories


def suite_table(payloads: list[dict[str, Any]]) -> str:
    """The legend, the leaderboard, one table per task, then the ratios."""
    board, _, _ = leaderboard(payloads)
    parts = [LEGEND] + ([board] if board else [])
    parts += [task_table(p) for p in payloads]
    names = sorted({n for p in payloads for n in p["methods"]})
    sums = {p["task"]: summarise(p) for p in payloads}
    rows = [
        [n] + [_fmt_ratio(sums[t][n]["vs_best"]) if n in sums[t] else "" for t in sums]
        for n in names
    ]
    parts.append(
        "### ratio to the best tuned baseline (per task, median over seeds)\n\n"
        + common.markdown_table(["method", *sums], rows)
    )
    return "\n\n".join(parts) + "\n"


def plot_task(payload: dict[str, Any], path: pathlib.Path) -> None:
    """Training loss (window means) and the metric vs step, best config each;
    a third panel with GLyDER's eta curves when the task ran GLyDER."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(payload)
    labels = {r["log_label"] for r in payload["methods"].values() if "logged" in r}
    has_eta = bool(labels)
    fig, axes = plt.subplots(
        1, 3 if has_eta else 2, figsize=(16 if has_eta else 11, 4.2)
    )
    ax1, ax2 = axes[:2]
    cmap = plt.get_cmap("tab20")
    for i, (name, run) in enumerate(sorted(payload["methods"].items())):
        s = summary[name]
        style = dict(
            color=cmap(i % 20),
            lw=1.8 if s["family"] == "ours" else 1.0,
            ls="-" if s["family"] == "ours" else ("--" if s["tuned"] else ":"),
            label=name,
        )
        loss = np.asarray(run["train_loss"], np.float64)[s["best_index"]]
        ax1.plot(run["curve_steps"], np.where(np.isfinite(loss), loss, np.nan), **style)
        curve = np.where(np.isfinite(s["curve"]), s["curve"], np.nan)
        ax2.plot(payload["eval_steps"], curve, **style)
        if "logged" in run:
            eta = np.asarray(run["logged"], np.float64)[s["best_index"]]
            axes[2].plot(run["curve_steps"], np.where(eta > 0, eta, np.nan), **style)
    floor = payload.get("f_star")
    ax1.set_title(
        "minibatch loss (median over seeds)"
        + (f", f*={floor:.4g}" if floor is not None else ""),
        fontsize=9,
    )
    ax2.set_title(f"{payload['metric']} (median over seeds)", fontsize=9)
    if has_eta:
        axes[2].set_title(
            f"{', '.join(sorted(labels))} (window means, median over seeds; gaps: 0)",
            fontsize=9,
        )
        axes[2].legend(fontsize=6)
    for ax in axes:
        ax.set_xlabel("step")
        ax.set_yscale("log")
    ax2.legend(fontsize=6, ncol=2)
    fig.suptitle(payload["task"], fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load(paths: list[pathlib.Path]) -> list[dict[str, Any]]:
    files: list[pathlib.Path] = []
    for p in paths:
        files += sorted(p.glob("*.json")) if p.is_dir() else [p]
    payloads = [json.loads(f.read_text()) for f in files]
    return [p for p in payloads if p.get("benchmark") == "harness"]


def write(payloads: list[dict[str, Any]], out: pathlib.Path) -> str:
    """Writes ``out``/results.md and one PNG per task; returns the table."""
    out.mkdir(parents=True, exist_ok=True)
    table = suite_table(payloads)
    (out / "results.md").write_text(table)
    for p in payloads:
        plot_task(p, out / f"{p['task']}.png")
    write_profiles(payloads, out)
    return table


def write_profiles(payloads: list[dict[str, Any]], out: pathlib.Path) -> None:
    """``out``/profiles.png, where some task has a target."""
    _, ratios, categories = leaderboard(payloads)
    if ratios:
        scoring.plot_profiles(ratios, categories, out / "profiles.png")

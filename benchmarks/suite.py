"""Suites (which tasks, methods, seeds and steps) and the ``run`` command.

``run`` trains every selected method on every selected task (each one grid x
seeds program, :func:`benchmarks.runner.train`) and writes, under ``--out``:
``<task>.json`` (config, environment, curves, per-method summaries),
``<task>.png`` (loss curves), and ``results.md`` (the tables of all tasks).
With ``merge``, the methods of an existing ``<task>.json`` that were not run
again are kept (its steps and seeds must match), so one method can be re-run
or added without the others; the file lists the git commit of every merge.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks import (
    common,
    glyder_study,
    methods,
    report,
    runner,
    scoring,
    tasks,
    zoo,
)


@dataclasses.dataclass(frozen=True)
class Suite:
    tasks: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    steps: int | None  # None: each task's own budget.
    eval_points: int


QUICK_METHODS = (
    "sgd-cosine",
    "momentum-cosine",
    "adam-cosine",
    "adam-constant",
    "prodigy",
    "dog",
    "schedule_free_adamw",
    "polyak_sgd",
    "inexact_polyak",
    "decsps",
    "adasps",
    "glyder-sgd",
    "glyder-adam",
)

# Every self-tuning method at its defaults, ours and optax's, the calibrated
# baseline, and the per-workload tuned cosine grids that set the targets.
ZOO_METHODS = (
    "sgd-cosine",
    "momentum-cosine",
    "adam-cosine",
    "calibrated_nadamw",
    "prodigy",
    "dadapt_adamw",
    "dog",
    "mechanize_adam",
    "cocob",
    "momo",
    "momo_adam",
    "schedule_free_adamw-default",
    "polyak_sgd",
    "inexact_polyak",
    "inexact_polyak-last",
    "decsps",
    "adasps",
    "glyder_sgd",
    "glyder_momentum-zeros-cap4",  # go.glyder_momentum(total_steps=T)
    "glyder_adam",
    "glyder-sgd",
    "glyder-momentum",
    "glyder-adam",
    "glyder-sgd-paper",
    "glyder-momentum-paper",
    "glyder-adam-paper",
)
# Ablation-only variants, the study's candidates and the cost attribution's
# entries stay out of the full suite (it has GLyDER's defaults, -gn, -k10 and
# the alpha grid).
STUDY_ONLY = {
    *(v for v in methods.GLYDER_VARIANTS if v not in ("", "-paper", "-gn", "-k10")),
    *glyder_study.GLYDER_CANDIDATES,
    *methods.COST_VARIANTS,
}
FULL_METHODS = tuple(
    name
    for name in methods.METHODS
    if not any(name.endswith(v) for v in STUDY_ONLY)
    and name not in ("nadamw-warmup_cosine", "prodigy-ld", "dadapt_adamw-ld")
)
# The README's main command: the targets, the calibrated baseline, the
# self-tuning methods most used, and GLyDER over each base, with and without
# the flood level recommended for cross-entropy.
ZOO_QUICK_METHODS = (
    "sgd-cosine",
    "momentum-cosine",
    "adam-cosine",
    "calibrated_nadamw",
    "prodigy",
    "dadapt_adamw",
    "dog",
    "schedule_free_adamw-default",
    "inexact_polyak",
    "glyder_sgd",
    "glyder_momentum-zeros-cap4",  # go.glyder_momentum(total_steps=T)
    "glyder_adam",
    "glyder_sgd-level0.01",
    "glyder_adam-level0.01",
)
ABLATION_METHODS = tuple(
    f"glyder-{base}{suffix}"
    for base in ("sgd", "adam")
    for suffix in methods.GLYDER_VARIANTS
)

STUDY_METHODS = (
    *(
        f"glyder-{base}{suffix}"
        for base in methods.GLYDER_BASES
        for suffix in ("-k10", *glyder_study.GLYDER_CANDIDATES)
    ),
    "prodigy-ld",
    "dadapt_adamw-ld",
)


def _zoo_suite(workloads) -> Suite:
    """A zoo's workloads, every zoo entry, seeds 0-2, each workload's own budget."""
    return Suite(
        tasks=tuple(workloads),
        methods=ZOO_METHODS,
        seeds=(0, 1, 2),
        steps=None,
        eval_points=25,
    )


SUITES = {
    "quick": Suite(
        tasks=("l0l1", "quadratic", "logreg-breast_cancer", "mlp-digits"),
        methods=QUICK_METHODS,
        seeds=(0, 1, 2),
        steps=300,
        eval_points=10,
    ),
    "zoo": _zoo_suite(zoo.ZOO),
    "zoo-heldout": _zoo_suite(zoo.HELD_OUT),
    "zoo-growth": _zoo_suite(zoo.GROWTH),
    "zoo-growth-heldout": _zoo_suite(zoo.GROWTH_HELD_OUT),
    "zoo-fresh": _zoo_suite(zoo.FRESH),
    "zoo-fresh2": _zoo_suite(zoo.FRESH2),
    "zoo-fresh3": _zoo_suite(zoo.FRESH3),
    "zoo-fresh4": _zoo_suite(zoo.FRESH4),
    "zoo-fresh5": _zoo_suite(zoo.FRESH5),
    "zoo-fresh6": _zoo_suite(zoo.FRESH6),
    "zoo-fresh7": _zoo_suite(zoo.FRESH7),
    "zoo-fresh8": _zoo_suite(zoo.FRESH8),
    "zoo-fresh9": _zoo_suite(zoo.FRESH9),
    "zoo-fresh10": _zoo_suite(zoo.FRESH10),
    "zoo-zeros": _zoo_suite(zoo.FROM_ZEROS),
    "zoo-quick": Suite(
        tasks=("zoo-digits-std", "zoo-breast-std", "zoo-digits-small", "zoo-synth-std"),
        methods=ZOO_QUICK_METHODS,
        seeds=(0, 1, 2),
        steps=300,
        eval_points=20,
    ),
    "glyder-ablation": Suite(
        tasks=("mlp-digits", "zoo-breast-std", "lad"),
        methods=ABLATION_METHODS,
        seeds=(0, 1, 2),
        steps=600,
        eval_points=20,
    ),
    "glyder-study": Suite(
        tasks=(
            "zoo-digits-short",
            "zoo-digits-small",
            "zoo-digits-01",
            "zoo-breast-01",
            "zoo-breast-std",
            "zoo-synth-std",
        ),
        methods=STUDY_METHODS,
        seeds=(0, 1, 2),
        steps=None,
        eval_points=25,
    ),
    "full": Suite(
        tasks=tuple(tasks.TASKS),
        methods=FULL_METHODS,
        seeds=(0, 1, 2),
        steps=None,
        eval_points=20,
    ),
}


def payload(
    task: tasks.Task, steps: int, seeds: Sequence[int], results: dict[str, Any]
) -> dict[str, Any]:
    """The JSON of one task's run (curves for every grid point and seed)."""
    runs = {}
    eval_steps = None
    for name, (method, res) in results.items():
        eval_steps = res.eval_steps
        curve_steps, losses = runner.downsample(res.train_loss)
        runs[name] = {
            "base": method.base,
            "family": method.family,
            "category": method.category,
            "grid": res.lrs,
            "extra_args": list(method.extra_args),
            "description": method.description,
            "wall_s": res.wall_s,
            # metric -> [grid][seed][eval point]
            "evals": {k: v.tolist() for k, v in res.evals.items()},
            # median over seeds of window-mean minibatch losses, [grid][point]
            "curve_steps": curve_steps,
            "train_loss": runner.seed_median(losses).tolist(),
        }
        if res.logged is not None:  # method.log per step, same windows
            logged = runner.seed_median(runner.downsample(res.logged)[1])
            runs[name]["logged"] = logged.tolist()  # [grid][point]
            # the log after the first step, [grid][seed]
            runs[name]["logged_first"] = np.asarray(res.logged)[:, :, 0].tolist()
            runs[name]["log_label"] = method.log_label
    out = {
        "benchmark": "harness",
        "task": task.name,
        "description": task.description,
        "metric": task.metric,
        "secondary": task.secondary,
        "f_star": task.f_star,
        "steps": steps,
        "batch_size": task.batch_size or task.n_train,
        "n_train": task.n_train,
        "seeds": list(seeds),
        "eval_steps": eval_steps,
        "environment": common.environment(),
        "methods": runs,
    }
    out["summary"] = {
        name: {k: v for k, v in s.items() if k != "curve"}
        for name, s in report.summarise(out).items()
    }
    return out


def merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``new`` with the methods of ``old`` it did not run (same task and run)."""
    for key in ("description", "batch_size", "steps", "seeds", "eval_steps"):
        if old[key] != new[key]:
            raise ValueError(
                f"cannot merge into {old['task']}.json: its {key} is {old[key]},"
                f" this run's is {new[key]}; use another --out or the same {key}."
            )
    out = {**new, "methods": {**old["methods"], **new["methods"]}}
    out["merges"] = [
        *old.get("merges", [old["environment"].get("git_commit")]),
        new["environment"].get("git_commit"),
    ]
    out["summary"] = {
        name: {k: v for k, v in s.items() if k != "curve"}
        for name, s in report.summarise(out).items()
    }
    return out


def run(
    suite: Suite,
    out: pathlib.Path,
    progress=None,
    log=print,
    merge: bool = False,
    log_runs: bool = False,
) -> str:
    """Runs ``suite``; writes JSON, PNG and Markdown under ``out``.

    ``progress`` (e.g. tqdm) draws bars; ``log_runs`` logs one line per
    finished run instead (for logs, where bars do not read well).
    """
    start = time.perf_counter()
    selected = [methods.get(m) for m in suite.methods]
    payloads = []
    for task_name in suite.tasks:
        task = tasks.get(task_name)
        steps = suite.steps or task.steps
        todo = [m for m in selected if m.runs_on(task)]
        results = {}
        bar = progress(todo, desc=task_name) if progress else todo
        for method in bar:
            res = runner.train(
                task,
                method,
                seeds=suite.seeds,
                steps=steps,
                eval_points=suite.eval_points,
                progress=progress,
            )
            results[method.name] = (method, res)
            if log_runs:
                final = runner.seed_median(res.evals[task.metric][..., -1])
                log(
                    f"{task_name} {method.name}: {task.metric} {np.min(final):.4g}"
                    f" ({res.wall_s:.1f} s)"
                )
        p = payload(task, steps, suite.seeds, results)
        p["config"] = {**dataclasses.asdict(suite), "steps": steps}
        if merge and (out / f"{task.name}.json").exists():
            p = merged(json.loads((out / f"{task.name}.json").read_text()), p)
        common.write_json(out / f"{task.name}.json", p)
        report.plot_task(p, out / f"{task.name}.png")
        payloads.append(p)
        log(f"{task_name}: {np.sum([r.wall_s for _, r in results.values()]):.1f} s")
    table = report.suite_table(payloads)
    table += f"\nwall time {time.perf_counter() - start:.0f} s\n"
    (out / "results.md").write_text(table)
    report.write_profiles(payloads, out)
    return table


def calibrate(
    out: pathlib.Path,
    seeds: Sequence[int] = (0, 1, 2),
    targets: pathlib.Path | None = None,
    **options,
) -> str:
    """Chooses the calibrated baseline's learning rate on zoo.CALIBRATION.

    Runs ``nadamw-warmup_cosine``'s grid on the calibration workloads and
    picks the learning rate whose worst final held-out ratio to the target is
    the lowest (minimax, as the zoo is scored). The targets come from the
    ``<task>.json`` files in ``targets`` (a zoo run with the same seeds), or
    are run here (the tuned cosine grids). ``options`` go to :func:`run`.
    Freeze the result by hand in ``methods.CALIBRATED_LR``.
    """
    grid = "nadamw-warmup_cosine"
    chosen = Suite(
        tasks=zoo.CALIBRATION,
        methods=(grid,) if targets else (*scoring.TARGET_METHODS, grid),
        seeds=tuple(seeds),
        steps=None,
        eval_points=SUITES["zoo"].eval_points,
    )
    run(chosen, out, **options)
    rows, lrs = [], None
    for t in zoo.CALIBRATION:
        p = json.loads((out / f"{t}.json").read_text())
        ref = json.loads(((targets or out) / f"{t}.json").read_text())
        goal = scoring.target(report.summarise(ref))
        lrs = p["methods"][grid]["grid"]
        rows.append(
            report._median(p["methods"][grid]["evals"][p["metric"]])[:, -1] / goal
        )
    worst = np.max(rows, axis=0)
    best = int(np.argmin(worst))
    table = [[f"{lr:.3g}", *[r[i] for r in rows], worst[i]] for i, lr in enumerate(lrs)]
    text = (
        f"{grid}: final held-out metric / target per calibration workload\n\n"
        + common.markdown_table(["lr", *zoo.CALIBRATION, "worst"], table)
        + f"\n\nchosen: lr {lrs[best]:.6g} (worst ratio {worst[best]:.3g})\n"
    )
    (out / "calibration.md").write_text(text)
    return text

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

from benchmarks import common, methods, report, runner, tasks


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

SUITES = {
    "quick": Suite(
        tasks=("l0l1", "quadratic", "logreg-breast_cancer", "mlp-digits"),
        methods=QUICK_METHODS,
        seeds=(0, 1, 2),
        steps=300,
        eval_points=10,
    ),
    "full": Suite(
        tasks=tuple(tasks.TASKS),
        methods=tuple(methods.METHODS),
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
        if res.eta is not None:  # GLyDER: eta curve, same windows, [grid][point]
            runs[name]["eta"] = runner.seed_median(runner.downsample(res.eta)[1])
            runs[name]["eta"] = runs[name]["eta"].tolist()
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
) -> str:
    """Runs ``suite``; writes JSON, PNG and Markdown under ``out``."""
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
            prepared = None
            if method.prepare is not None:
                prepared = method.prepare(task, runner.task_info(task, steps))
            res = runner.train(
                task,
                method,
                seeds=suite.seeds,
                steps=steps,
                eval_points=suite.eval_points,
                prepared=prepared,
                progress=progress,
            )
            results[method.name] = (method, res)
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
    return table

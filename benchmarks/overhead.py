"""Per-step cost of each transform relative to its base optimizer.

Each method runs as one jitted ``lax.scan`` of ``steps`` training steps on one
task (one seed, one learning rate: the middle of its grid, or its defaults),
in this process, not vmapped (a single run, as a user trains: under
``vmap`` a ``lax.cond``, e.g. GLyDER's refresh every k steps, runs both
branches). Every program is compiled and run once first (warm-up, not
timed); then ``repeats`` rounds time every program once each, interleaved, so
drifts in machine load hit all of them alike. Reported: the median time of a
method divided by the median of its base (``{base}-constant``: plain optax
sgd / sgd with momentum 0.9 / adam), never an absolute time. The step includes
the loss and gradient (and any extra args the method asks for), as in use.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from benchmarks import common, methods, runner, tasks


def measure(
    task_name: str = "mlp-digits",
    names: Sequence[str] | None = None,
    steps: int = 200,
    repeats: int = 7,
    progress=None,
) -> dict[str, dict[str, float]]:
    """``{method: {"base": base_name, "ratio": median_t / median_t_base}}``."""
    task = tasks.get(task_name)
    names = list(names or methods.METHODS)
    bases = {methods.get(n).base + "-constant" for n in names}
    todo = [methods.get(n) for n in dict.fromkeys([*bases, *names])]
    todo = [m for m in todo if m.runs_on(task)]
    programs = {}
    for m in progress(todo, desc="compile") if progress else todo:
        programs[m.name] = runner.single_run(task, m, steps)
        programs[m.name]()  # warm-up: compile and first run, not timed
    times: dict[str, list[float]] = {n: [] for n in programs}
    rounds = range(repeats)
    for _ in progress(rounds, desc="repeats") if progress else rounds:
        for name, fn in programs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    median = {n: float(np.median(t)) for n, t in times.items()}
    return {
        m.name: {
            "base": m.base + "-constant",
            "ratio": median[m.name] / median[m.base + "-constant"],
        }
        for m in todo
        if m.name in names
    }


def table(result: dict[str, dict[str, float]], task_name: str, steps: int) -> str:
    rows = [[n, r["base"], r["ratio"]] for n, r in result.items()]
    return (
        f"Per-step time / base's per-step time, {task_name}, jitted scan of "
        f"{steps} steps, median of interleaved repeats\n\n"
        + common.markdown_table(["method", "base", "time ratio"], rows)
    )


def run(out, task_name, names, steps, repeats, progress=None) -> str:
    result = measure(task_name, names, steps, repeats, progress)
    text = table(result, task_name, steps)
    common.write_json(
        out / "overhead.json",
        {
            "benchmark": "overhead",
            "config": {"task": task_name, "steps": steps, "repeats": repeats},
            "environment": common.environment(),
            "ratios": result,
        },
    )
    (out / "overhead.md").write_text(text + "\n")
    return text

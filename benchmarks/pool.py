"""Seeds pooled across runs, and the noise floor of the zoo's score.

``python -m benchmarks run`` scores a method on each workload by the median
of its seeds (three in the zoo). Runs of the same workloads on other seeds
(``run --seeds 3,4,5 --out OTHER``) pool here. Per workload, a method's value
is the median over every seed of every run, and its ``vs base`` is that over
the best tuned baseline of the same base, with the baseline's learning rate
chosen on the pooled seeds (as ``report`` chooses it on one run's). The same
figures come for each run alone, and ``--leaderboard`` gives ``report``'s
leaderboard (time to target, performance profile scores) of each run and of
the pool, over the methods every run has. ``--bootstrap`` resamples the
pooled seeds (paired: the same draw for an entry and its reference) and
counts the workloads whose 90% interval of ``vs base`` lies wholly above the
bar: the misses that the seeds cannot explain. ``--early-stop`` gives each
entry's ``vs base`` at an oracle's early stop, the lowest point of its pooled
median curve: a miss still above the bar there is one that no annealing that
only ends the same trajectory sooner can mend. ``--calibrate`` tells what
the bar asks, by the tuned baselines themselves: their best single learning
rate for every workload (the default an untuned user would want), each
workload's best learning rate one grid step off, and each entry against that
resolution of the tuning (:func:`against_step`): where an entry is beyond
both the bar and its tuned reference one grid step off. ``--held-out-lr`` makes
every choice (the tuned baselines' learning rates, the reference) on the
first run's seeds and scores on the later runs' seeds alone, so that the
reference no longer profits from choosing on the seeds it is scored on.
``--stable-reference`` takes every tuned baseline only at the learning rates
where each pooled seed ends finite and no higher than it started
(:func:`stable`): a lowest median can sit at a learning rate whose other
seeds blow up, a target no user would keep.

Folders joined by a comma are one run: several zoos run on the same seeds
(``pool results/zoo,results/fresh results/zoo-s345,results/fresh-s345``)
are scored as one set of workloads, the AlgoPerf way, where one bad workload
of any zoo sinks the worst case and the profile score.

The **noise floor** is what the score can resolve. Each tuned baseline is
kept at the learning rate chosen on the first run and re-scored on each later
run's seeds, against its value on the first run. A ratio above 1.10 there is
the reference missing a 1.10x bar against itself.

A spec ``name:i`` takes grid point ``i`` of an entry with a grid (e.g.
``glyder-adam-relaxed:3``); a bare name takes its best point, as ``report``
does.
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from benchmarks import common, report

BAR = 1.10  # the zoo's bar on `vs base` (issue #15)

Payload = dict[str, Any]


def by_workload(runs: Sequence[Sequence[Payload]]) -> dict[str, list[Payload]]:
    """``{task: [its payload in run 0, run 1, ...]}`` over the tasks every run
    has. Raises where two runs share a seed (it would count twice), or where
    one run holds a task twice (two zoos joined into one run must hold other
    workloads)."""
    for run in runs:
        counts = collections.Counter(p["task"] for p in run)
        twice = sorted(t for t, n in counts.items() if n > 1)
        if twice:
            raise ValueError(
                f"pool: one run holds {', '.join(twice)} twice: folders joined"
                " by a comma must hold different workloads (other seeds of the"
                " same workloads are another run, after a space)"
            )
    tables = [{p["task"]: p for p in run} for run in runs]
    tasks = sorted(set.intersection(*(set(t) for t in tables)))
    out = {t: [table[t] for table in tables] for t in tasks}
    for task, payloads in out.items():
        seeds = [s for p in payloads for s in p["seeds"]]
        if len(seeds) != len(set(seeds)):
            raise ValueError(
                f"pool: the runs share seeds on {task} ({seeds}): pool runs made"
                " with different --seeds"
            )
    return out


def _eval_steps(payloads: Sequence[Payload]) -> list[int]:
    """The runs' common evaluation steps; raises where they differ."""
    steps = payloads[0]["eval_steps"]
    if any(p["eval_steps"] != steps for p in payloads):
        task = payloads[0]["task"]
        raise ValueError(f"pool: the runs of {task} differ in eval_steps")
    return steps


def merge(payloads: Sequence[Payload], names: Sequence[str] | None = None) -> Payload:
    """One payload holding the seeds of every run (the evaluations joined on
    the seed axis), over ``names`` (default: the methods every run has), for
    ``report``'s summaries and leaderboard. Its other curves (minibatch loss,
    logs) are the first run's."""
    first = payloads[0]
    _eval_steps(payloads)
    if names is None:
        everywhere = lambda n: all(n in p["methods"] for p in payloads)
        names = [n for n in first["methods"] if everywhere(n)]

    def joined(name: str) -> dict[str, Any]:
        runs = [p["methods"][name] for p in payloads]
        evals = {
            k: np.concatenate([np.asarray(r["evals"][k], float) for r in runs], 1)
            for k in runs[0]["evals"]
        }
        return {**runs[0], "evals": {k: v.tolist() for k, v in evals.items()}}

    seeds = [s for p in payloads for s in p["seeds"]]
    return {**first, "seeds": seeds, "methods": {n: joined(n) for n in names}}


def _curves(payload: Payload, name: str) -> np.ndarray:
    """(grid points, seeds, evaluations) of the primary metric; non-finite
    is +inf."""
    x = np.asarray(payload["methods"][name]["evals"][payload["metric"]], np.float64)
    return np.where(np.isfinite(x), x, np.inf)


def _finals(payload: Payload, name: str) -> np.ndarray:
    """(grid points, seeds): the final primary metric; non-finite is +inf."""
    return _curves(payload, name)[:, :, -1]


def pooled_medians(
    payloads: Sequence[Payload], name: str, resample: np.ndarray | None = None
) -> np.ndarray:
    """Per grid point, the median final metric over the seeds of every run
    (or over the seeds at the indices ``resample``, in run order)."""
    x = np.concatenate([_finals(p, name) for p in payloads], 1)
    return np.median(x if resample is None else x[:, resample], 1)


def parse_spec(spec: str) -> tuple[str, int | None]:
    """``'name:i'`` -> (name, i); ``'name'`` -> (name, None)."""
    name, _, index = spec.partition(":")
    return name, int(index) if index else None


def reference(
    payloads: Sequence[Payload], base: str, resample: np.ndarray | None = None
) -> float | None:
    """The best tuned baseline of ``base`` over the pooled seeds (None: none)."""
    names = _tuned_of(payloads, base)
    values = [pooled_medians(payloads, n, resample).min() for n in names]
    return min(values) if values else None


def _tuned_of(payloads: Sequence[Payload], base: str | None = None) -> list[str]:
    """The tuned baselines of ``base`` (default: of any base) that every run
    has."""
    runs = [p["methods"] for p in payloads]
    return [
        n
        for n, r in runs[0].items()
        if report.is_tuned_baseline(r) and base in (None, r["base"])
        if all(n in m for m in runs)
    ]


def trains_on_every_seed(payloads: Sequence[Payload], name: str) -> np.ndarray:
    """Per grid point of ``name``: whether every pooled seed ends finite and
    no higher than it started (its value at the first evaluation, step 0)."""
    x = np.concatenate([_curves(p, name) for p in payloads], 1)
    return np.all(x[:, :, -1] <= x[:, :, 0], axis=1)


def stable(
    workloads: Mapping[str, Sequence[Payload]],
) -> tuple[dict[str, list[Payload]], list[list[Any]]]:
    """The workloads with each tuned baseline's grid points that fail a
    pooled seed (:func:`trains_on_every_seed`) scored +inf on every seed,
    so that no reference, target or tuned choice is made there; and a row
    per baseline that lost a point (task, name, the learning rates dropped,
    its best learning rate and median before and after). A baseline whose
    every point fails a seed is kept whole, and its row says so."""
    out, rows = {}, []
    for task, payloads in workloads.items():
        out[task] = list(payloads)
        for name in _tuned_of(payloads):
            keep = trains_on_every_seed(payloads, name)
            if keep.all():
                continue
            before = pooled_medians(payloads, name)
            if keep.any():
                out[task] = [_drop_points(p, name, keep) for p in out[task]]
            after = pooled_medians(out[task], name)
            grid = payloads[0]["methods"][name]["grid"]
            rows.append([_short(task), name, *_dropped_row(grid, keep, before, after)])
    return out, rows


def _dropped_row(grid, keep: np.ndarray, before: np.ndarray, after: np.ndarray):
    """[the learning rates dropped, the best one and its median before ->
    after] of one baseline, for :func:`stable`'s table."""
    dropped = ", ".join(f"{grid[i]:.3g}" for i in np.flatnonzero(~keep))
    return [
        dropped if keep.any() else f"none (every point fails: {dropped})",
        f"{grid[np.argmin(before)]:.3g} -> {grid[np.argmin(after)]:.3g}",
        f"{before.min():.3g} -> {after.min():.3g}",
    ]


def _drop_points(payload: Payload, name: str, keep: np.ndarray) -> Payload:
    """A copy of ``payload`` with ``name``'s primary metric +inf (every seed,
    every evaluation) at the grid points ``keep`` leaves out."""
    run, metric = payload["methods"][name], payload["metric"]
    x = np.asarray(run["evals"][metric], np.float64)
    x[~keep] = np.inf
    run = {**run, "evals": {**run["evals"], metric: x.tolist()}}
    return {**payload, "methods": {**payload["methods"], name: run}}


def _chosen_on_first(
    payloads: Sequence[Payload], name: str, point: int | None = None
) -> tuple[float, float]:
    """``name`` at ``point`` (default: its best on run 0's seeds): (its median
    on run 0's seeds, its median over the later runs' seeds)."""
    on_first = np.median(_finals(payloads[0], name), 1)
    point = int(np.argmin(on_first)) if point is None else point
    return float(on_first[point]), float(pooled_medians(payloads[1:], name)[point])


def _entry_and_reference(
    payloads: Sequence[Payload], spec: str, resample: np.ndarray | None = None
) -> tuple[str, int | None, float] | None:
    """(name, grid index, the pooled reference of its base); None where the
    entry or the reference is missing from a run."""
    name, index = parse_spec(spec)
    if not all(name in p["methods"] for p in payloads):
        return None
    ref = reference(payloads, payloads[0]["methods"][name]["base"], resample)
    return None if ref is None else (name, index, ref)


def vs_base(
    payloads: Sequence[Payload], spec: str, resample: np.ndarray | None = None
) -> float | None:
    """``spec``'s pooled value over the pooled reference of its base (on the
    seeds ``resample`` picks, if given); None where the entry or the
    reference is missing from a run."""
    found = _entry_and_reference(payloads, spec, resample)
    if found is None:
        return None
    name, index, ref = found
    medians = pooled_medians(payloads, name, resample)
    return report.ratio(float(medians.min() if index is None else medians[index]), ref)


def ratios(
    workloads: Mapping[str, Sequence[Payload]],
    spec: str,
    runs: Sequence[int] | None = None,
) -> dict[str, float]:
    """``{task: vs base}`` over the runs ``runs`` (indices; default all)."""
    out = {}
    for task, payloads in workloads.items():
        chosen = payloads if runs is None else [payloads[i] for i in runs]
        r = vs_base(chosen, spec)
        if r is not None:
            out[task] = r
    return out


def interval(
    payloads: Sequence[Payload], spec: str, draws: int = 1000, level: float = 0.9
) -> tuple[float, float] | None:
    """A paired bootstrap interval of the pooled ``vs base``: the seeds drawn
    with replacement, the same draw for the entry and its reference (a seed
    fixes the initialisation and the data order of both)."""
    if vs_base(payloads, spec) is None:
        return None
    n = sum(len(p["seeds"]) for p in payloads)
    rng = np.random.default_rng(0)
    values = [vs_base(payloads, spec, rng.integers(0, n, n)) for _ in range(draws)]
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def stopped(payloads: Sequence[Payload], spec: str) -> tuple[float, float] | None:
    """An oracle's early stop: the lowest value along ``spec``'s pooled
    median curve (step 0 excluded) over the pooled reference of its base,
    and the share of the budget where it is; None where ``vs base`` is.

    The grid point is ``vs base``'s (the best final, or ``name:i``'s). A
    ratio still above the bar here is one that no stop of this trajectory,
    and so no annealing that only ends it sooner, brings within the bar.
    """
    found = _entry_and_reference(payloads, spec)
    if found is None:
        return None
    name, index, ref = found
    steps = _eval_steps(payloads)
    curves = np.median(np.concatenate([_curves(p, name) for p in payloads], 1), 1)
    point = int(np.argmin(curves[:, -1])) if index is None else index
    best = int(np.argmin(curves[point, 1:])) + 1
    return report.ratio(float(curves[point, best]), ref), steps[best] / steps[-1]


def oracle_point(payloads: Sequence[Payload], spec: str) -> tuple[float, float] | None:
    """The grid value of ``spec``'s entry where its pooled median is lowest,
    and its ``vs base`` there: the oracle's choice on one workload. None where
    the entry has no grid, ``spec`` names a point (``name:i``) or ``vs base``
    is None."""
    name, index = parse_spec(spec)
    found = _entry_and_reference(payloads, spec)
    if found is None or index is not None or not payloads[0]["methods"][name]["grid"]:
        return None
    grid, ref = payloads[0]["methods"][name]["grid"], found[2]
    medians = pooled_medians(payloads, name)
    best = int(np.argmin(medians))
    return grid[best], report.ratio(float(medians[best]), ref)


def _logged_entries(payloads: Sequence[Payload], spec: str):
    """``spec``'s entry in each run and its grid point (``vs base``'s unless
    the spec names one), or None where a run has no log of it."""
    name, index = parse_spec(spec)
    entries = [p["methods"].get(name) for p in payloads]
    if not all(e is not None and "logged" in e for e in entries):
        return None
    if index is None:
        index = int(np.argmin(pooled_medians(payloads, name)))
    return entries, index


def logged_median(payloads: Sequence[Payload], spec: str, until: int) -> float | None:
    """The median of ``spec``'s logged curve (the seeds' median, as each run
    stores it) over its points at steps <= ``until``, the median over the
    runs; the grid point is ``vs base``'s. None where a run has no log."""
    found = _logged_entries(payloads, spec)
    if found is None:
        return None
    entries, index = found
    values = []
    for entry in entries:
        logged = np.asarray(entry["logged"], np.float64)[index]
        keep = np.asarray(entry["curve_steps"]) <= until
        values.append(np.median(logged[keep]) if keep.any() else np.nan)
    return float(np.median(values))


def logged_curve(
    payloads: Sequence[Payload], spec: str, points: int = 9
) -> tuple[list[int], list[float]] | None:
    """``spec``'s logged curve (the seeds' median, as each run stores it; the
    median over the runs) at ``points`` of its stored steps, evenly spaced
    from the first to the last; the grid point is ``vs base``'s. None where
    a run has no log."""
    found = _logged_entries(payloads, spec)
    if found is None:
        return None
    entries, index = found
    steps = entries[0]["curve_steps"]
    if any(e["curve_steps"] != steps for e in entries):
        raise ValueError(f"pool: the runs of {spec} log at different steps")
    curves = [np.asarray(e["logged"], np.float64)[index] for e in entries]
    median = np.median(np.stack(curves), axis=0)
    picked = np.unique(np.linspace(0, len(steps) - 1, points).round().astype(int))
    return [int(steps[i]) for i in picked], [float(median[i]) for i in picked]


def per_seed(
    payloads: Sequence[Payload], spec: str
) -> tuple[list[int], list[float], list[float] | None] | None:
    """Each pooled seed of ``spec`` (at ``vs base``'s grid point unless the
    spec names one): (the seeds, in run order; its final metric over the
    pooled reference of its base, seed by seed; its log after the first
    step, seed by seed, or None where a run does not store it). None where
    the entry or the reference is missing from a run. A tuned baseline's
    row is its own best point over the reference: the seeds' spread that
    the reference's median hides."""
    found = _entry_and_reference(payloads, spec)
    if found is None:
        return None
    name, index, ref = found
    if index is None:
        index = int(np.argmin(pooled_medians(payloads, name)))
    finals = np.concatenate([_finals(p, name)[index] for p in payloads])
    runs = [p["methods"][name] for p in payloads]
    firsts = None
    if all("logged_first" in r for r in runs):
        firsts = [float(v) for r in runs for v in r["logged_first"][index]]
    seeds = [int(s) for p in payloads for s in p["seeds"]]
    return seeds, [report.ratio(float(v), ref) for v in finals], firsts


def noise_floor(workloads: Mapping[str, Sequence[Payload]], name: str, run: int):
    """``{task: ratio}``: the tuned ``name`` at the learning rate chosen on run
    0, its median on run ``run``'s seeds over its median on run 0's."""
    out = {}
    for task, payloads in workloads.items():
        pair = (payloads[0], payloads[run])
        if all(name in p["methods"] for p in pair):
            first, again = _chosen_on_first(pair, name)
            out[task] = report.ratio(again, first)
    return out


def held_out(payloads: Sequence[Payload], spec: str) -> float | None:
    """``spec``'s ``vs base`` with every choice made on run 0's seeds and the
    score on the later runs' seeds: free of the winner's curse.

    The reference is the tuned baseline of ``spec``'s base that is best on
    run 0, at the grid point best on run 0; a bare tuned ``spec`` likewise
    takes its grid point from run 0. Both are then scored by their median
    over the seeds of runs 1, 2, ... . Chosen on the seeds it is scored on
    (:func:`vs_base`), the reference profits from the seeds' noise, which
    the untuned entry does not. None with one run, or where the entry or a
    reference is missing from a run.
    """
    name, index = parse_spec(spec)
    if len(payloads) < 2 or not all(name in p["methods"] for p in payloads):
        return None
    tuned = _tuned_of(payloads, payloads[0]["methods"][name]["base"])
    if not tuned:
        return None
    choices = [_chosen_on_first(payloads, n) for n in tuned]
    ref = min(choices, key=lambda c: c[0])[1]  # best on run 0, scored on the rest
    return report.ratio(_chosen_on_first(payloads, name, index)[1], ref)


def off_by_one(payloads: Sequence[Payload], name: str) -> tuple[float, float] | None:
    """The tuned ``name`` one grid step either side of its best point, over
    its best (pooled medians): (the better side, the worse side); the one
    neighbour twice at an end of the grid; None where a run lacks ``name``
    or its grid has one point."""
    if not all(name in p["methods"] for p in payloads):
        return None
    medians = pooled_medians(payloads, name)
    best = int(np.argmin(medians))
    sides = [medians[j] for j in (best - 1, best + 1) if 0 <= j < len(medians)]
    if not sides:
        return None
    off = sorted(report.ratio(float(v), float(medians[best])) for v in sides)
    return off[0], off[-1]


def against_step(payloads: Sequence[Payload], spec: str) -> tuple[float, float] | None:
    """``spec``'s pooled `vs base`, and the reference of its base one grid
    step off its best point on the better side (:func:`off_by_one`: how far
    a tuned learning rate falls by missing its best by one step of the
    grid); None where either is missing."""
    found = _entry_and_reference(payloads, spec)
    if found is None:
        return None
    base = payloads[0]["methods"][found[0]]["base"]
    best = min(
        _tuned_of(payloads, base), key=lambda n: pooled_medians(payloads, n).min()
    )
    off = off_by_one(payloads, best)
    return None if off is None else (vs_base(payloads, spec), off[0])


def one_rate(
    workloads: Mapping[str, Sequence[Payload]], name: str
) -> tuple[int, dict[str, float]] | None:
    """The grid point of the tuned ``name`` with the lowest worst `vs base`
    over the workloads that have it, the same on each (chosen in hindsight,
    as a default learning rate would be), and its ``{task: vs base}``; None
    where no workload has ``name`` in every run."""
    have = {
        t: ps for t, ps in workloads.items() if all(name in p["methods"] for p in ps)
    }
    if not have:
        return None
    points = len(next(iter(have.values()))[0]["methods"][name]["grid"])
    each = [ratios(have, f"{name}:{i}") for i in range(points)]
    best = min(range(points), key=lambda i: (max(each[i].values()), i))
    return best, each[best]


def rule_of(
    workloads: Mapping[str, Sequence[Payload]], spec: str, field: str
) -> dict[Any, tuple[float, dict[str, float]]] | None:
    """The best rule of the workloads' ``field`` (``steps`` or
    ``batch_size``) for the grid entry ``spec``: per value of ``field``, the
    grid point with the lowest worst `vs base` over the workloads with that
    value (:func:`one_rate`), as ``{value: (grid value, {task: vs base})}``.
    Chosen on the workloads it scores, as :func:`oracle_point` is: the most
    that any rule reading ``field`` alone could give. None where the entry
    has no grid in every run."""
    name, index = parse_spec(spec)
    first = next(iter(workloads.values()))[0]["methods"].get(name)
    if index is not None or first is None or not first["grid"]:
        return None
    groups: dict[Any, dict[str, Sequence[Payload]]] = collections.defaultdict(dict)
    for task, payloads in workloads.items():
        groups[payloads[0].get(field)][task] = payloads
    out = {}
    for value, have in groups.items():
        found = one_rate(have, name)
        if found is not None:
            out[value] = (first["grid"][found[0]], found[1])
    return out or None


def against(
    workloads: Mapping[str, Sequence[Payload]], specs: Sequence[str], base: str
) -> dict[str, list[Payload]]:
    """The workloads with the self-tuning entries of ``specs`` scored against
    the tuned baselines of ``base`` instead of their own base's (e.g.
    GLyDER over SGD against the tuned momentum cosine). Raises where the
    runs have no tuned baseline of ``base``, or where ``specs`` names a
    tuned baseline (its reference is its own)."""
    first = next(iter(workloads.values()))[0]["methods"]
    tuned = {n for n, r in first.items() if report.is_tuned_baseline(r)}
    bases = sorted({first[n]["base"] for n in tuned})
    if base not in bases:
        raise ValueError(
            f"pool: --against {base}: the runs have tuned baselines of"
            f" {', '.join(bases)} only"
        )
    names = {parse_spec(s)[0] for s in specs}
    if names & tuned:
        listed = ", ".join(sorted(names & tuned))
        raise ValueError(
            f"pool: --against scores self-tuning entries; {listed} is a tuned"
            " baseline, scored against its own base"
        )

    def rebased(payload: Payload) -> Payload:
        runs = payload["methods"]
        runs = {n: {**r, "base": base} if n in names else r for n, r in runs.items()}
        return {**payload, "methods": runs}

    return {t: [rebased(p) for p in ps] for t, ps in workloads.items()}


# The columns of :func:`summary`.
SUMMARY_HEAD = ["worst", "where", "geometric mean", f"within {BAR:.2f}x"]


def summary(values: Mapping[str, float]) -> list[Any]:
    """[worst, where, geometric mean, within the bar] of ``{task: ratio}``."""
    worst = max(values, key=lambda t: values[t])
    logs = [math.log(v) if v > 0 else -math.inf for v in values.values()]
    within = sum(v <= BAR for v in values.values())
    return [
        values[worst],
        _short(worst),
        math.exp(sum(logs) / len(logs)),
        f"{within}/{len(values)}",
    ]


def _short(task: str) -> str:
    return task.removeprefix("zoo-")


def _seeds(payloads: Sequence[Payload]) -> str:
    return ",".join(str(s) for p in payloads for s in p["seeds"])


def tables(
    runs: Sequence[Sequence[Payload]],
    specs: Sequence[str],
    per_workload: bool = False,
    leaderboards: bool = False,
    bootstrap: bool = False,
    early_stop: bool = False,
    calibrate: bool = False,
    held_out_lr: bool = False,
    stable_reference: bool = False,
    oracle: bool = False,
    logged_until: int | None = None,
    logged_curve_of: str | None = None,
    per_seed_of: str | None = None,
    oracle_by: str | None = None,
    against_base: str | None = None,
) -> str:
    """The Markdown report: each spec per run and pooled; the noise floor of
    each tuned baseline; optionally the pooled ratio on every workload, a
    bootstrap over seeds of which misses of the bar the seeds cannot
    explain, an oracle's early stop (:func:`stopped`), the bar calibrated
    on the tuned baselines (:func:`one_rate`, :func:`off_by_one`), the
    scores with the learning rates chosen on the first run and scored on the
    later ones (:func:`held_out`), and the leaderboards (time to target,
    profile scores) per run and pooled; with ``oracle`` each grid entry's
    best point per workload (:func:`oracle_point`), with ``logged_until``
    each entry's logged value over the first steps (:func:`logged_median`),
    with ``logged_curve_of`` (a workload) each entry's logged curve there
    (:func:`logged_curve`), with ``per_seed_of`` (a workload) each entry's
    seeds there (:func:`per_seed`), with ``oracle_by`` each grid entry's best rule of
    that field (:func:`rule_of`). With ``against_base`` every entry of ``specs`` is
    scored against that base's tuned baselines (:func:`against`). With
    ``stable_reference`` every table takes the tuned baselines only at
    learning rates that train on every pooled seed (:func:`stable`), and a
    table of what that drops comes first."""
    workloads = by_workload(runs)
    if not workloads:
        raise ValueError("pool: the runs have no task in common")
    dropped = ""
    if stable_reference:
        workloads, rows = stable(workloads)
        dropped = _dropped_table(rows) + "\n\n"
    if against_base is not None:
        workloads = against(workloads, specs, against_base)
        dropped += f"Every entry against the tuned baselines of {against_base}\n\n"
    choices = _choices(next(iter(workloads.values())))
    head = ["entry", "seeds", *SUMMARY_HEAD]
    rows = []
    for spec in specs:
        for chosen, label in choices:
            values = ratios(workloads, spec, chosen)
            if values:
                rows.append([spec, label, *summary(values)])
    text = dropped + (
        f"`vs base` over {len(workloads)} workloads, each run alone and pooled"
        " (the median over every seed; the tuned baseline's learning rate"
        " chosen on the same seeds)\n\n" + common.markdown_table(head, rows)
    )
    text += "\n\n" + _noise_table(workloads, choices)
    if per_workload:
        text += "\n\n" + _per_workload_table(workloads, specs)
    if bootstrap:
        text += "\n\n" + _bootstrap_table(workloads, specs)
    if early_stop:
        text += "\n\n" + _stopped_table(workloads, specs)
    if calibrate:
        text += "\n\n" + _calibration_table(workloads)
        text += "\n\n" + _step_table(workloads, specs)
    if held_out_lr:
        text += "\n\n" + _held_out_table(workloads, specs)
    if oracle:
        text += "\n\n" + _oracle_table(workloads, specs)
    if logged_until is not None:
        text += "\n\n" + _logged_table(workloads, specs, logged_until)
    if logged_curve_of is not None:
        text += "\n\n" + _logged_curve_table(workloads, specs, logged_curve_of)
    if per_seed_of is not None:
        text += "\n\n" + _per_seed_table(workloads, specs, per_seed_of)
    if oracle_by is not None:
        text += "\n\n" + _rule_table(workloads, specs, oracle_by)
    if leaderboards:
        text += "\n\n" + _leaderboards(workloads, choices)
    return text + "\n"


def _dropped_table(rows: Sequence[Sequence[Any]]) -> str:
    text = (
        "Stable references: each tuned baseline only at learning rates where"
        " every pooled seed ends finite and no higher than it started"
    )
    if not rows:
        return text + ": every point of every baseline trains on every seed"
    head = ["workload", "tuned baseline", "learning rates dropped"]
    head += ["its best learning rate", "its best median"]
    return text + "; the points dropped\n\n" + common.markdown_table(head, rows)


def _each(workloads: Mapping[str, Sequence[Payload]], fn, spec: str) -> dict:
    """``{task: fn(payloads, spec)}`` over the workloads where it is not None."""
    found = {t: fn(ps, spec) for t, ps in workloads.items()}
    return {t: v for t, v in found.items() if v is not None}


def _bootstrap_table(workloads: Mapping[str, Sequence[Payload]], specs) -> str:
    """Per spec, the workloads whose pooled 90% interval is wholly above the
    bar (a miss the seeds cannot explain), wholly within it, or across it."""
    rows = []
    for spec in specs:
        bounds = _each(workloads, interval, spec)
        above = sorted(bounds, key=lambda t: -bounds[t][0])
        above = [t for t in above if bounds[t][0] > BAR]
        within = sum(hi <= BAR for _, hi in bounds.values())
        undecided = len(bounds) - len(above) - within
        misses = ", ".join(f"{_short(t)} {bounds[t][0]:.3g}" for t in above)
        rows.append([spec, len(above), within, undecided, misses or "-"])
    head = ["entry", f"above {BAR:.2f}x", "within", "undecided"]
    head += ["above: workload, lower bound"]
    return (
        "Pooled seeds, paired bootstrap (1000 draws of the seeds, 90% interval"
        f" of `vs base`): above = the interval's lower bound over {BAR:.2f}\n\n"
        + common.markdown_table(head, rows)
    )


def _stopped_table(workloads: Mapping[str, Sequence[Payload]], specs) -> str:
    """Per spec, the pooled `vs base` at the end and at an oracle's early
    stop, and the workloads still above the bar when stopped."""
    rows = []
    for spec in specs:
        found = _each(workloads, stopped, spec)
        if not found:
            continue
        best = {t: ratio for t, (ratio, _) in found.items()}
        above = sorted((t for t in best if best[t] > BAR), key=lambda t: -best[t])
        where = ", ".join(
            f"{_short(t)} {best[t]:.3g} @{found[t][1]:.2f}" for t in above
        )
        worst, at, geo, within = summary(best)
        final = summary(ratios(workloads, spec))[0]
        rows.append([spec, final, worst, at, geo, within, where or "-"])
    head = ["entry", "worst at the end", "worst stopped", "where", "geometric mean"]
    head += [f"within {BAR:.2f}x", "above when stopped: workload, ratio @share"]
    return (
        "An oracle's early stop: the lowest point of the pooled median curve"
        " (step 0 excluded) over the same reference, and the share of the"
        " budget where it is\n\n" + common.markdown_table(head, rows)
    )


def _calibration_table(workloads: Mapping[str, Sequence[Payload]]) -> str:
    """Per tuned baseline, what the bar asks: one learning rate for every
    workload, and each workload's own best learning rate one grid step off."""
    rows = []
    for name in _tuned_baselines(workloads):
        found = one_rate(workloads, name)
        if found is None:
            continue
        point, values = found
        first = next(ps for t, ps in workloads.items() if t in values)
        lr = first[0]["methods"][name]["grid"][point]
        rows.append([name, f"one for every workload ({lr:.2g})", *summary(values)])
        off = _each(workloads, off_by_one, name)
        for side, label in ((0, "the better side"), (1, "the worse side")):
            values = {t: v[side] for t, v in off.items()}
            rows.append([name, f"one grid step off, {label}", *summary(values)])
    head = ["tuned baseline", "learning rate", *SUMMARY_HEAD]
    return (
        "What the bar asks, told by the tuned baselines themselves (pooled"
        " seeds): one learning rate for every workload, the grid point with"
        " the lowest worst case chosen in hindsight; and each workload's best"
        " learning rate one grid step off, over that best\n\n"
        + common.markdown_table(head, rows)
    )


def _step_table(workloads: Mapping[str, Sequence[Payload]], specs) -> str:
    """Per spec, its `vs base` against the tuning's own resolution
    (:func:`against_step`): the workloads where it is above both the bar
    and its reference one grid step off."""
    rows = []
    for spec in specs:
        found = _each(workloads, against_step, spec)
        if not found:
            continue
        over = {t: r / off for t, (r, off) in found.items()}
        worst = max(over, key=lambda t: over[t])
        beyond = [t for t, (r, off) in found.items() if r > max(BAR, off)]
        beyond.sort(key=lambda t: -over[t])
        where = ", ".join(
            f"{_short(t)} {found[t][0]:.3g} ({found[t][1]:.3g})" for t in beyond
        )
        within = f"{len(found) - len(beyond)}/{len(found)}"
        rows.append([spec, over[worst], _short(worst), within, where or "-"])
    head = ["entry", "worst `vs base` over one step off", "where"]
    head += [
        f"within {BAR:.2f}x or one step off",
        "beyond both: workload, vs base (one step off)",
    ]
    return (
        "Each entry against the tuning's own resolution: its `vs base` over"
        " the tuned reference of its base one grid step off its best, on the"
        " better side\n\n" + common.markdown_table(head, rows)
    )


def _held_out_table(workloads: Mapping[str, Sequence[Payload]], specs) -> str:
    """Per spec, `vs base` with the choices made on the first run and the
    score on the later runs (:func:`held_out`), then on every workload."""
    found = {spec: _each(workloads, held_out, spec) for spec in specs}
    found = {spec: values for spec, values in found.items() if values}
    if not found:
        return "Held-out learning rates: none (one run, or no reference)"
    head = ["entry", *SUMMARY_HEAD]
    rows = [[spec, *summary(values)] for spec, values in found.items()]
    first = _seeds(next(iter(workloads.values()))[:1])
    return (
        f"Held-out learning rates: each tuned baseline (and tuned entry) at"
        f" its best on seeds {first}, the reference the baseline best there;"
        " every entry scored on the later runs' seeds alone\n\n"
        + common.markdown_table(head, rows)
        + "\n\n"
        + _workload_table(list(workloads), found, "entry")
    )


def _choices(payloads: Sequence[Payload]) -> list[tuple[list[int] | None, str]]:
    """(run indices or None for all, label): each run, then the pool if the
    runs are more than one."""
    out = [([i], _seeds([p])) for i, p in enumerate(payloads)]
    if len(payloads) > 1:
        out.append((None, f"{_seeds(payloads)} (pooled)"))
    return out


def _leaderboards(workloads: Mapping[str, Sequence[Payload]], choices) -> str:
    """``report``'s leaderboard of each run and of the pool, over the methods
    every run has (a profile score depends on who else runs)."""
    common_names = {
        t: [n for n in ps[0]["methods"] if all(n in p["methods"] for p in ps)]
        for t, ps in workloads.items()
    }
    note = _partial_note(common_names)
    parts = [note] if note else []
    for chosen, label in choices:
        merged = [
            merge(ps if chosen is None else [ps[i] for i in chosen], common_names[t])
            for t, ps in workloads.items()
        ]
        board, _, _ = report.leaderboard(merged)
        parts.append(f"Seeds {label}, the methods every run has:\n\n{board}")
    return "\n\n".join(parts)


def _partial_note(names_by_workload: Mapping[str, Sequence[str]]) -> str:
    """A warning naming the methods that only some workloads have (their
    profile scores count the others as never reached), or ``""``."""
    counts = collections.Counter(n for ns in names_by_workload.values() for n in ns)
    total = len(names_by_workload)
    partial = [f"{n} ({c} of {total})" for n, c in sorted(counts.items()) if c < total]
    if not partial:
        return ""
    return (
        "Not on every workload (their profile scores and worst cases are not"
        " comparable with the others' until they run on the rest):"
        f" {', '.join(partial)}."
    )


def _tuned_baselines(workloads: Mapping[str, Sequence[Payload]]) -> list[str]:
    names = {
        n
        for payloads in workloads.values()
        for n, r in payloads[0]["methods"].items()
        if report.is_tuned_baseline(r)
    }
    return sorted(names)


def _noise_table(workloads: Mapping[str, Sequence[Payload]], choices) -> str:
    labels = [label for chosen, label in choices if chosen is not None]
    rows = []
    for name in _tuned_baselines(workloads):
        for run in range(1, len(labels)):
            values = noise_floor(workloads, name, run)
            if values:
                rows.append([name, labels[run], *summary(values)])
    head = ["tuned baseline", "re-run on seeds", *SUMMARY_HEAD]
    return (
        f"Noise floor: each tuned baseline at the learning rate chosen on seeds"
        f" {labels[0]}, its median on the later run's seeds over that on"
        f" {labels[0]}\n\n"
        + (common.markdown_table(head, rows) if rows else "(one run: none)")
    )


def _oracle_table(workloads: Mapping[str, Sequence[Payload]], specs) -> str:
    """A row per workload, by budget: its steps and batch size, and each grid
    entry's best point with its ``vs base`` there."""
    found = {spec: _each(workloads, oracle_point, spec) for spec in specs}
    found = {spec: points for spec, points in found.items() if points}
    if not found:
        return "The oracle's points: no entry of --methods has a grid"
    size = lambda t: (workloads[t][0].get("steps"), workloads[t][0].get("batch_size"))
    rows = [
        [_short(t), *size(t)]
        + [f"{v[t][0]:.3g} ({v[t][1]:.3g})" if t in v else "-" for v in found.values()]
        for t in sorted(workloads, key=lambda t: (size(t)[0] or 0, t))
    ]
    head = ["workload", "steps", "batch size"]
    head += [f"{spec}: best point (`vs base`)" for spec in found]
    return (
        "The oracle's points: each grid entry's best grid point on each"
        " workload (pooled seeds), the workloads by budget\n\n"
        + common.markdown_table(head, rows)
    )


def _rule_table(workloads: Mapping[str, Sequence[Payload]], specs, field: str) -> str:
    """Each grid entry's best rule of ``field``: a row per value (its
    workloads, the point chosen, the worst there), then the rule's summary
    beside the best single point's and each workload's best point's."""
    found = {spec: rule_of(workloads, spec, field) for spec in specs}
    found = {spec: rule for spec, rule in found.items() if rule}
    label = field.replace("_", " ")
    if not found:
        return f"The best rule of {label}: no entry of --methods has a grid"
    rows, sums = [], []
    for spec, rule in found.items():
        for value in sorted(rule, key=lambda v: (v is None, v or 0)):
            point, values = rule[value]
            worst = max(values, key=lambda t: values[t])
            rows.append([spec, value, len(values), point, values[worst], _short(worst)])
        joined = {t: r for _, values in rule.values() for t, r in values.items()}
        single = one_rate(workloads, parse_spec(spec)[0])
        grid = next(iter(workloads.values()))[0]["methods"][spec]["grid"]
        best = {t: v[1] for t, v in _each(workloads, oracle_point, spec).items()}
        sums.append([spec, f"one point, {grid[single[0]]:.3g}", *summary(single[1])])
        sums.append([spec, f"the best rule of {label}", *summary(joined)])
        sums.append([spec, "each workload's best point", *summary(best)])
    head = ["entry", label, "workloads", "point", "worst", "where"]
    sum_head = ["entry", "choice", *SUMMARY_HEAD]
    return (
        f"The best rule of {label}: per value, the grid point with the lowest"
        f" worst `vs base` over its workloads (chosen on them: the most any"
        f" rule reading {label} alone could give)\n\n"
        + common.markdown_table(head, rows)
        + "\n\n"
        + common.markdown_table(sum_head, sums)
    )


def _logged_table(workloads: Mapping[str, Sequence[Payload]], specs, until: int) -> str:
    """A row per spec that logs, a column per workload: its logged value over
    the steps up to ``until``."""
    median = functools.partial(logged_median, until=until)
    found = {spec: _each(workloads, median, spec) for spec in specs}
    found = {spec: values for spec, values in found.items() if values}
    if not found:
        return "Logged values: no entry of --methods logs one"
    return (
        f"Logged values: the median of each entry's log (its `log_label`) over"
        f" steps <= {until}, the seeds' median curve, over the runs\n\n"
        + _workload_table(list(workloads), found, "entry (logged)")
    )


def _held(workloads: Mapping[str, Sequence[Payload]], task: str, flag: str):
    """``task``'s runs, or a ValueError that names the workloads held."""
    if task not in workloads:
        raise ValueError(
            f"pool: {flag} {task}: the runs do not hold it; they hold"
            f" {', '.join(workloads)}"
        )
    return workloads[task]


def _logged_curve_table(
    workloads: Mapping[str, Sequence[Payload]], specs, task: str
) -> str:
    """A row per spec that logs: its logged curve on ``task``."""
    payloads = _held(workloads, task, "--logged-curve")
    found = {spec: logged_curve(payloads, spec) for spec in specs}
    found = {spec: curve for spec, curve in found.items() if curve is not None}
    if not found:
        return f"Logged curves on {task}: no entry of --methods logs one"
    steps = next(iter(found.values()))[0]
    rows = [[spec, *values] for spec, (_, values) in found.items()]
    return (
        f"Logged curves on {task}: each entry's log (its `log_label`), the"
        " seeds' median curve, over the runs, at its stored steps\n\n"
        + common.markdown_table(["entry (logged) at step", *map(str, steps)], rows)
    )


def _per_seed_table(
    workloads: Mapping[str, Sequence[Payload]], specs, task: str
) -> str:
    """Two rows per spec on ``task``: its seeds' ratios, and where stored
    their logs after the first step (:func:`per_seed`)."""
    payloads = _held(workloads, task, "--per-seed")
    rows, seeds = [], []
    for spec in specs:
        found = per_seed(payloads, spec)
        if found is None:
            continue
        seeds, values, firsts = found
        rows.append([f"{spec}: vs base", *values])
        if firsts is not None:
            rows.append([f"{spec}: log after step 1", *firsts])
    if not rows:
        return f"Seeds on {task}: no entry of --methods is there with its reference"
    return (
        f"Seeds on {task}: each seed's final metric over the pooled reference"
        " of the entry's base (a tuned baseline at its best point), and its"
        " log (its `log_label`) after the first step where the run stores it\n\n"
        + common.markdown_table(["entry, seed", *map(str, seeds)], rows)
    )


def _per_workload_table(workloads: Mapping[str, Sequence[Payload]], specs) -> str:
    found = {spec: ratios(workloads, spec) for spec in specs}
    return _workload_table(list(workloads), found, "entry (pooled)")


def _workload_table(
    columns: Sequence[str], found: Mapping[str, Mapping[str, float]], label: str
) -> str:
    """A row per spec of ``found`` (``{spec: {task: ratio}}``), a column per
    task (NaN where a spec lacks it)."""
    rows = [[spec, *(v.get(t, math.nan) for t in columns)] for spec, v in found.items()]
    return common.markdown_table([label, *map(_short, columns)], rows)

"""Command line of the benchmark harness: ``python -m benchmarks --help``.

list        tasks (the zoo's included), methods (grid, extra args) and suites
run         train methods x tasks (grid x seeds as one program each); writes
            <task>.json, <task>.png, results.md (legend, leaderboard, tables)
            and profiles.png under --out
calibrate   choose the calibrated baseline's one learning rate on the zoo's
            calibration workloads
overhead    per-step time of each transform / its base (ratios only)
scaling     cost vs model size (time, memory, state copies), vmap cost
kernels     kernels per step, from the profiler traces of scaling --trace-steps
traffic     a held step's memory traffic and kernels, the optimizer alone
report      rebuild results.md and the PNGs from JSON files
pool        seeds pooled across runs of the same workloads (per run and
            pooled), and the noise floor of the tuned baselines
l0l1        the Inexact Polyak paper's Figure 1 (float64)
robustness  tuning robustness of annealed schedules
along       the training loss along the gradient where a run ended: the
            greedy step's length against the run's own

Each command's options: python -m benchmarks COMMAND --help.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from tqdm.auto import tqdm

from benchmarks import common


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


_Help = common.HelpFormatter


def _csv(text: str) -> tuple[str, ...]:
    out = tuple(x.strip() for x in text.split(",") if x.strip())
    if not out:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return out


def _paths(text: str) -> list[pathlib.Path]:
    return [pathlib.Path(x) for x in _csv(text)]


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in _csv(text))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"seeds must be integers: {text!r}") from e


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from e
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _known(parser, kind: str, names, known) -> None:
    unknown = [n for n in names or () if n not in known]
    if unknown:
        parser.error(
            f"unknown {kind} {', '.join(map(repr, unknown))}"
            " (python -m benchmarks list shows them)"
        )


def _parser() -> argparse.ArgumentParser:
    from benchmarks import suite

    parser = _Parser(
        prog="python -m benchmarks", description=__doc__, formatter_class=_Help
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name, text):
        return sub.add_parser(name, help=text, description=text, formatter_class=_Help)

    p = command("l0l1", "the Inexact Polyak paper's Figure 1 (float64)")
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("results/l0l1"),
        help="output folder",
    )
    p.add_argument(
        "--steps",
        type=_positive,
        default=None,
        help="steps of DecSPS, AdaSPS and IPS (default: the paper's 10000)",
    )

    p = command("robustness", "tuning robustness of annealed schedules")
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("results/robustness"),
        help="output folder",
    )
    p.add_argument("--seeds", type=_positive, default=None, help="seeds (default: 8)")
    p.add_argument("--steps", type=_positive, default=None, help="T (default: 3000)")
    p.add_argument(
        "--problems", type=_csv, default=None, help="of lad,logistic,mlp (default: all)"
    )

    command("list", "tasks, methods and suites")
    sub.add_parser(
        "scaling",
        help="cost vs model size: per-step time, memory and state copies of"
        " GLyDER and Inexact Polyak vs their base (its options: scaling --help)",
        add_help=False,
    ).add_argument("options", nargs=argparse.REMAINDER)

    p = command("run", "train methods x tasks; JSON, PNG, Markdown")
    p.add_argument(
        "--suite", choices=tuple(suite.SUITES), default="quick", help="what to run"
    )
    p.add_argument("--tasks", type=_csv, help="comma-separated (default: the suite's)")
    p.add_argument(
        "--methods", type=_csv, help="comma-separated (default: the suite's)"
    )
    p.add_argument(
        "--seeds", type=_seeds, help="comma-separated ints (default: the suite's)"
    )
    p.add_argument(
        "--steps",
        type=_positive,
        help="steps per run (default: the suite's, or each task's own budget)",
    )
    p.add_argument(
        "--eval-points",
        type=_positive,
        help="held-out evaluations per run (default: the suite's)",
    )
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help="output folder (default: results/<suite>)",
    )
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the other methods of an existing <task>.json in --out"
        " (same steps and seeds): re-run or add methods without the rest",
    )

    p = command("calibrate", "choose the calibrated baseline's learning rate")
    p.add_argument("--seeds", type=_seeds, default=(0, 1, 2), help="comma-separated")
    p.add_argument(
        "--targets",
        type=pathlib.Path,
        default=None,
        help="a zoo run's folder to take the targets from (default: run the"
        " tuned cosine grids here)",
    )
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("results/calibration"),
        help="output folder",
    )

    p = command("overhead", "per-step time ratio of each transform to its base")
    p.add_argument("--tasks", type=_csv, default=("mlp-digits",), help="one task")
    p.add_argument("--methods", type=_csv, help="comma-separated (default: all)")
    p.add_argument("--steps", type=_positive, default=200, help="steps per timed scan")
    p.add_argument("--repeats", type=_positive, default=7, help="interleaved rounds")
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=pathlib.Path("results/overhead"),
        help="output folder",
    )

    p = command("along", "the greedy step along the gradient where runs ended")
    p.add_argument("--tasks", type=_csv, default=("zoo-synth-raw",), help="one task")
    p.add_argument(
        "--methods",
        type=_csv,
        default=("sgd-cosine", "glyder-sgd-paper", "glyder-sgd"),
        help="comma-separated",
    )
    p.add_argument(
        "--steps", type=_positive, help="steps per run (default: the task's budget)"
    )

    p = command("pool", "seeds pooled across runs; the score's noise floor")
    p.add_argument(
        "runs",
        type=_paths,
        nargs="+",
        help="run folders (or JSON files) of the same workloads on other seeds;"
        " folders joined by a comma are one run (several zoos on the same"
        " seeds, scored as one set of workloads)",
    )
    p.add_argument(
        "--methods",
        type=_csv,
        required=True,
        help="comma-separated; name:i takes grid point i of an entry with a grid",
    )
    p.add_argument(
        "--per-workload",
        action="store_true",
        help="also the pooled `vs base` of every entry on every workload",
    )
    p.add_argument(
        "--bootstrap",
        action="store_true",
        help="also a paired bootstrap over the pooled seeds: the workloads"
        " whose 90%% interval of `vs base` is wholly above 1.10",
    )
    p.add_argument(
        "--early-stop",
        action="store_true",
        help="also the pooled `vs base` at an oracle's early stop: the lowest"
        " point of each entry's median curve, and where",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="also what the bar asks, by the tuned baselines themselves: one"
        " learning rate for every workload, each one's best one grid step off,"
        " and each entry against that step",
    )
    p.add_argument(
        "--held-out-lr",
        action="store_true",
        help="also `vs base` with every learning rate and the reference chosen"
        " on the first run's seeds, scored on the later runs' seeds alone",
    )
    p.add_argument(
        "--leaderboard",
        action="store_true",
        help="also the leaderboards (time to target, profile scores) of each"
        " run and of the pool, over the methods every run has",
    )
    p.add_argument(
        "--stable-reference",
        action="store_true",
        help="take each tuned baseline only at learning rates where every"
        " pooled seed ends finite and no higher than it started",
    )
    p.add_argument(
        "--oracle",
        action="store_true",
        help="also each grid entry's best grid point on each workload, the"
        " workloads ordered by their budget",
    )
    p.add_argument(
        "--logged-until",
        type=_positive,
        metavar="STEP",
        help="also the median of each entry's logged value (e.g. GLyDER's eta)"
        " over the steps up to STEP, per workload",
    )
    p.add_argument(
        "--logged-curve",
        metavar="TASK",
        help="also each entry's logged curve (e.g. GLyDER's eta) on the"
        " workload TASK, the seeds' median, at nine of its stored steps",
    )
    p.add_argument(
        "--per-seed",
        metavar="TASK",
        help="also each entry's seeds on the workload TASK: each seed's final"
        " metric over the reference, and its log after the first step (runs"
        " made since the forty-second round store it)",
    )
    p.add_argument(
        "--oracle-by",
        choices=("steps", "batch_size"),
        help="also each grid entry's best rule of the workloads' FIELD: per"
        " value, the grid point with the lowest worst `vs base` (chosen in"
        " hindsight: the most a rule reading FIELD alone could give)",
    )
    p.add_argument(
        "--against",
        metavar="BASE",
        help="score every entry against the tuned baselines of BASE (e.g."
        " momentum) instead of its own base's",
    )

    p = command("report", "rebuild tables and plots from JSON files")
    p.add_argument("paths", type=pathlib.Path, nargs="+", help="JSON files or dirs")
    p.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help="output folder (default: the first path's folder)",
    )
    return parser


def _check(parser, args) -> None:
    """Unknown task or method names: a one-line error, exit status 2."""
    from benchmarks import methods, tasks

    if args.command in ("run", "overhead", "along"):
        _known(parser, "task", args.tasks, tasks.registry())
        _known(parser, "method", args.methods, methods.METHODS)


def _progress():
    """Bars on a terminal; one line per finished run in a log."""
    if sys.stdout.isatty():
        return {"progress": tqdm, "log": tqdm.write}
    return {"progress": None, "log": print, "log_runs": True}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["scaling"]:  # its own parser: python -m benchmarks.scaling
        from benchmarks import scaling

        return scaling.main(argv[1:])
    if argv[:1] == ["kernels"]:  # its own parser too
        from benchmarks import kernels

        return kernels.main(argv[1:])
    if argv[:1] == ["traffic"]:  # its own parser too
        from benchmarks import traffic

        return traffic.main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    _check(parser, args)
    start = time.perf_counter()
    bar = tqdm if sys.stdout.isatty() else None
    if args.command == "l0l1":
        from benchmarks import l0l1

        steps = args.steps or l0l1.LONG_STEPS
        print(l0l1.run(args.out, long_steps=steps, progress=bar))
        print(f"\nwrote {args.out}/l0l1.{{json,md,png}}")
    elif args.command == "robustness":
        from benchmarks import robustness

        options = {"seeds": args.seeds, "steps": args.steps, "problems": args.problems}
        options = {k: v for k, v in options.items() if v is not None}
        print(robustness.run(args.out, progress=bar, **options))
        print(f"wrote {args.out}/robustness.{{json,md,png}}")
    elif args.command == "list":
        _list()
    elif args.command == "run":
        import dataclasses

        from benchmarks import suite

        chosen = suite.SUITES[args.suite]
        overrides = {
            "tasks": args.tasks,
            "methods": args.methods,
            "seeds": args.seeds,
            "steps": args.steps,
            "eval_points": args.eval_points,
        }
        chosen = dataclasses.replace(
            chosen, **{k: v for k, v in overrides.items() if v is not None}
        )
        out = args.out or pathlib.Path("results") / args.suite
        print(suite.run(chosen, out, merge=args.merge, **_progress()))
        print(f"wrote {out}/results.md, profiles.png, <task>.json and <task>.png")
    elif args.command == "calibrate":
        from benchmarks import suite

        print(suite.calibrate(args.out, args.seeds, args.targets, **_progress()))
        print(f"wrote {args.out}/calibration.md")
    elif args.command == "overhead":
        from benchmarks import overhead

        task = args.tasks[0]
        print(overhead.run(args.out, task, args.methods, args.steps, args.repeats, bar))
        print(f"wrote {args.out}/overhead.{{json,md}}")
    elif args.command == "along":
        from benchmarks import along

        print(along.run(args.tasks[0], args.methods, args.steps))
    elif args.command == "pool":
        from benchmarks import pool, report

        folders = [[report.load([path]) for path in paths] for paths in args.runs]
        if not all(map(all, folders)):
            parser.error("a run folder holds no harness JSON files")
        runs = [[p for folder in group for p in folder] for group in folders]
        try:
            text = pool.tables(
                runs,
                args.methods,
                per_workload=args.per_workload,
                leaderboards=args.leaderboard,
                bootstrap=args.bootstrap,
                early_stop=args.early_stop,
                calibrate=args.calibrate,
                held_out_lr=args.held_out_lr,
                stable_reference=args.stable_reference,
                oracle=args.oracle,
                logged_until=args.logged_until,
                logged_curve_of=args.logged_curve,
                per_seed_of=args.per_seed,
                oracle_by=args.oracle_by,
                against_base=args.against,
            )
        except ValueError as e:
            parser.error(str(e))
        print(text)
    elif args.command == "report":
        from benchmarks import report

        payloads = report.load(args.paths)
        if not payloads:
            parser.error("no harness JSON files found")
        out = args.out or (
            args.paths[0] if args.paths[0].is_dir() else args.paths[0].parent
        )
        print(report.write(payloads, out))
    print(f"wall time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def _list() -> None:
    from benchmarks import methods, suite, tasks

    print("tasks:")
    for name in tasks.registry():
        print(f"  {name}")
    print("\nmethods (name, base, family, grid, extra args):")
    for m in methods.METHODS.values():
        grid = (
            "-"
            if m.grid is None
            else f"{len(m.grid)} lrs {m.grid[0]:.2g}..{m.grid[-1]:.2g}"
        )
        extra = ",".join(m.extra_args)
        print(f"  {m.name:24s} {m.base:9s} {m.family:9s} {grid:22s} {extra}")
    for name, s in suite.SUITES.items():
        print(
            f"\nsuite {name}: tasks {','.join(s.tasks)}; {len(s.methods)} methods;"
            f" seeds {s.seeds}; steps {s.steps or 'per task'}"
        )


if __name__ == "__main__":
    sys.exit(main())

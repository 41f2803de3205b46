"""Command line of the benchmark harness: ``python -m benchmarks --help``.

list      tasks, methods (grid, extra args) and suites
run       train methods x tasks (grid x seeds as one program each); writes
          <task>.json, <task>.png and results.md under --out
overhead  per-step time of each transform / its base (ratios only)
report    rebuild results.md and the PNGs from JSON files
l0l1      the Inexact Polyak paper's Figure 1 (float64)
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from tqdm.auto import tqdm


def _csv(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _seeds(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in _csv(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("l0l1", help="the Inexact Polyak paper's Figure 1 (float64)")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results/l0l1"))
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps of DecSPS, AdaSPS and IPS (default 10000)",
    )

    p = sub.add_parser("robustness", help="tuning robustness of annealed schedules")
    p.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("results/robustness")
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds (default 8)")
    p.add_argument("--steps", type=int, default=None, help="T (default 3000)")
    p.add_argument("--problems", type=_csv, default=None, help="lad,logistic,mlp")

    sub.add_parser("list", help="tasks, methods and suites")

    p = sub.add_parser("run", help="train methods x tasks; JSON, PNG, Markdown")
    p.add_argument("--suite", choices=("quick", "full"), default="quick")
    p.add_argument("--tasks", type=_csv, help="comma-separated (default: suite's)")
    p.add_argument("--methods", type=_csv, help="comma-separated (default: suite's)")
    p.add_argument("--seeds", type=_seeds, help="comma-separated ints")
    p.add_argument("--steps", type=int, help="steps per run (default: suite's)")
    p.add_argument("--eval-points", type=int, help="evaluations per run")
    p.add_argument("--out", type=pathlib.Path, default=None)
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the other methods of an existing <task>.json in --out"
        " (same steps and seeds): re-run or add methods without the rest",
    )

    p = sub.add_parser("overhead", help="per-step time ratio of each transform")
    p.add_argument("--tasks", type=_csv, default=("mlp-digits",), help="one task")
    p.add_argument("--methods", type=_csv, help="comma-separated (default: all)")
    p.add_argument("--steps", type=int, default=200, help="steps per timed scan")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results/overhead"))

    p = sub.add_parser("report", help="rebuild tables and plots from JSON files")
    p.add_argument("paths", type=pathlib.Path, nargs="+", help="JSON files or dirs")
    p.add_argument("--out", type=pathlib.Path, default=None)

    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.command == "l0l1":
        from benchmarks import l0l1

        steps = args.steps or l0l1.LONG_STEPS
        print(l0l1.run(args.out, long_steps=steps, progress=tqdm))
        print(f"\nwrote {args.out}/l0l1.{{json,md,png}}")
    elif args.command == "robustness":
        from benchmarks import robustness

        options = {"seeds": args.seeds, "steps": args.steps, "problems": args.problems}
        options = {k: v for k, v in options.items() if v is not None}
        print(robustness.run(args.out, progress=tqdm, **options))
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
        print(suite.run(chosen, out, progress=tqdm, log=tqdm.write, merge=args.merge))
        print(f"wrote {out}/results.md, {out}/<task>.json and {out}/<task>.png")
    elif args.command == "overhead":
        from benchmarks import overhead

        task = args.tasks[0]
        print(
            overhead.run(args.out, task, args.methods, args.steps, args.repeats, tqdm)
        )
        print(f"wrote {args.out}/overhead.{{json,md}}")
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
    for name in tasks.TASKS:
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

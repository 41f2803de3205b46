"""Command line of the benchmark harness: ``python -m benchmarks --help``."""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from tqdm.auto import tqdm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("l0l1", help="the Inexact Polyak paper's Figure 1 (float64)")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results/l0l1"))
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="steps of DecSPS, AdaSPS and IPS (default 10000)",
    )

    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.command == "l0l1":
        from benchmarks import l0l1

        steps = args.steps or l0l1.LONG_STEPS
        print(l0l1.run(args.out, long_steps=steps, progress=tqdm))
        print(f"\nwrote {args.out}/l0l1.{{json,md,png}}")
    print(f"wall time: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

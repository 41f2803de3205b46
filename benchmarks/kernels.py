"""Kernels per training step, read from the profiler traces of ``scaling``.

``python -m benchmarks kernels TRACE.json.gz [...] --steps N [--rows REGEX]``

``python -m benchmarks.scaling --trace-steps N`` writes, per model size, a
Perfetto JSON trace. Each method's run is one ``TraceAnnotation`` on the
host, named ``"{method} params{P}"``, around ``N`` steps. On a GPU the
profiler also records every kernel, on rows of the device's own process (a
process named ``/device:GPU:0``; the kernels on rows named ``Stream ...``,
beside derived rows such as ``XLA Ops`` that would count them twice).

For each annotated run this counts the device events on the chosen rows that
start inside it, and reports per step: the kernels, their summed time, and
the run's wall time. Over all the runs it also lists the kernels that take
the most time. A trace with no device rows (a CPU run) is reported as such,
with the rows it has, so that ``--rows`` can be set.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import pathlib
import re
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks import common

DEVICE = re.compile(r"/device:(GPU|TPU)")
ROWS = r"^Stream"  # the kernels' rows on a GPU (XProf's naming)


def load(path: pathlib.Path) -> list[dict[str, Any]]:
    """The trace's events (a ``.json.gz`` or ``.json`` Perfetto trace)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        data = json.load(f)
    return data["traceEvents"] if isinstance(data, dict) else data


def _names(events, kind: str) -> dict[Any, str]:
    """``process_name`` by pid, or ``thread_name`` by (pid, tid)."""
    out = {}
    for e in events:
        if e.get("ph") == "M" and e.get("name") == kind:
            key = e["pid"] if kind == "process_name" else (e["pid"], e.get("tid"))
            out[key] = e.get("args", {}).get("name", "")
    return out


def device_events(events, rows: str = ROWS) -> list[dict[str, Any]]:
    """Complete events (``ph == 'X'``) on the device's rows matching ``rows``."""
    processes = _names(events, "process_name")
    threads = _names(events, "thread_name")
    pattern = re.compile(rows)

    def on_device(e):
        process = processes.get(e.get("pid"), "")
        thread = threads.get((e.get("pid"), e.get("tid")), "")
        return DEVICE.search(process) and pattern.search(thread)

    return [e for e in events if e.get("ph") == "X" and on_device(e)]


def rows_seen(events) -> list[str]:
    """Every ``process / thread`` name in the trace, for choosing ``--rows``."""
    processes = _names(events, "process_name")
    threads = _names(events, "thread_name")
    return sorted(
        {f"{processes.get(p, p)} / {name}" for (p, _), name in threads.items()}
    )


def per_run(
    events, kernels, steps: int, runs: str = r" params\d+$"
) -> dict[str, dict[str, float]]:
    """``{annotation: {kernels, kernel_us, wall_us}}`` per step, for every
    annotation of ``events`` whose name matches ``runs`` (``scaling``'s:
    ``"{method} params{P}"``): the ``kernels`` (:func:`device_events`) that
    start inside it."""
    pattern = re.compile(runs)
    out = {}
    for a in events:
        if a.get("ph") != "X" or not pattern.search(str(a.get("name", ""))):
            continue
        start, end = a["ts"], a["ts"] + a.get("dur", 0)
        inside = [k for k in kernels if start <= k["ts"] < end]
        out[a["name"]] = {
            "kernels": len(inside) / steps,
            "kernel_us": sum(k.get("dur", 0) for k in inside) / steps,
            "wall_us": (end - start) / steps,
        }
    return out


def top_kernels(kernels, most: int = 10) -> list[tuple[str, int, float]]:
    """The ``most`` names among ``kernels`` with the largest summed time:
    (name, count, total microseconds)."""
    count, total = collections.Counter(), collections.Counter()
    for k in kernels:
        count[k["name"]] += 1
        total[k["name"]] += k.get("dur", 0)
    return [(n, count[n], total[n]) for n, _ in total.most_common(most)]


def report(path: pathlib.Path, steps: int, rows: str = ROWS, most: int = 10) -> str:
    """The Markdown tables for one trace."""
    events = load(path)
    kernels = device_events(events, rows)
    runs = per_run(events, kernels, steps)
    if not kernels:
        seen = ", ".join(rows_seen(events)) or "none"
        return (
            f"## {path.name}\n\nNo device events on rows matching {rows!r} (a CPU"
            f" trace?). Runs found: {len(runs)}. Rows in the trace: {seen}.\n"
        )
    head = ["run", "kernels / step", "kernel time us / step", "wall us / step"]
    body = [
        [name, v["kernels"], v["kernel_us"], v["wall_us"]] for name, v in runs.items()
    ]
    top = [[n, c, t] for n, c, t in top_kernels(kernels, most)]
    return (
        f"## {path.name}\n\nPer step, over {steps} traced steps of each run\n\n"
        + common.markdown_table(head, body)
        + f"\n\nThe {most} kernels with the most time, over every run\n\n"
        + common.markdown_table(["kernel", "count", "total us"], top)
        + "\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks kernels",
        description=__doc__.splitlines()[0],
        formatter_class=common.HelpFormatter,
    )
    parser.add_argument("traces", type=pathlib.Path, nargs="+", help="trace files")
    parser.add_argument(
        "--steps", type=int, required=True, help="the steps traced per run"
    )
    parser.add_argument(
        "--rows", default=ROWS, help="regex on the device rows holding the kernels"
    )
    parser.add_argument("--top", type=int, default=10, help="kernels listed")
    args = parser.parse_args(argv)
    if args.steps <= 0:
        parser.error(f"--steps must be positive (the steps traced), got {args.steps}")
    for path in args.traces:
        print(report(path, args.steps, args.rows, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())

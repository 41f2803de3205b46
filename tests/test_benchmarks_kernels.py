"""``python -m benchmarks kernels``: kernels per step from a profiler trace."""

import gzip
import json

import pytest

from benchmarks import __main__ as cli
from benchmarks import kernels


def _trace():
    """Two annotated runs of 2 steps on the host (pid 1); the device (pid 2)
    has a kernel row and a derived 'XLA Ops' row that must not count."""
    meta = [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/host:CPU"}},
        {
            "ph": "M",
            "name": "process_name",
            "pid": 2,
            "args": {"name": "/device:GPU:0"},
        },
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "py"}},
        {
            "ph": "M",
            "name": "thread_name",
            "pid": 2,
            "tid": 7,
            "args": {"name": "Stream #7(Compute)"},
        },
        {
            "ph": "M",
            "name": "thread_name",
            "pid": 2,
            "tid": 8,
            "args": {"name": "XLA Ops"},
        },
    ]
    runs = [
        {"ph": "X", "pid": 1, "tid": 1, "name": "base params10", "ts": 0, "dur": 100},
        {
            "ph": "X",
            "pid": 1,
            "tid": 1,
            "name": "glyder_k10 params10",
            "ts": 100,
            "dur": 300,
        },
        {"ph": "X", "pid": 1, "tid": 1, "name": "unrelated", "ts": 0, "dur": 400},
    ]

    def kernel(name, ts, dur, tid=7):
        return {"ph": "X", "pid": 2, "tid": tid, "name": name, "ts": ts, "dur": dur}

    device = [
        kernel("fusion_adam", 10, 20),
        kernel("fusion_adam", 60, 20),
        kernel("fusion_adam", 110, 20),
        kernel("reduce_norm", 150, 10),
        kernel("reduce_norm", 200, 10),
        kernel("fusion_adam", 260, 20),
        kernel("reduce_norm", 300, 10),
        kernel("reduce_norm", 350, 10),
        kernel("fusion_adam", 120, 999, tid=8),  # derived row: not a kernel
    ]
    return {"traceEvents": meta + runs + device}


def test_per_run_counts_the_kernels_that_start_inside_each_annotation():
    events = _trace()["traceEvents"]
    device = kernels.device_events(events)
    runs = kernels.per_run(events, device, steps=2)
    assert runs == {
        "base params10": {"kernels": 1.0, "kernel_us": 20.0, "wall_us": 50.0},
        "glyder_k10 params10": {"kernels": 3.0, "kernel_us": 40.0, "wall_us": 150.0},
    }
    assert kernels.top_kernels(device) == [
        ("fusion_adam", 4, 80),
        ("reduce_norm", 4, 40),
    ]


def test_a_trace_without_device_rows_says_which_rows_it_has(tmp_path):
    trace = _trace()
    trace["traceEvents"] = [e for e in trace["traceEvents"] if e.get("pid") != 2]
    path = tmp_path / "cpu.json.gz"
    path.write_bytes(gzip.compress(json.dumps(trace).encode()))
    text = kernels.report(path, steps=2)
    assert "No device events on rows matching '^Stream'" in text
    assert "Runs found: 2" in text and "/host:CPU / py" in text


def test_cli_prints_a_table_per_trace(tmp_path, capsys):
    path = tmp_path / "trace-params10.json.gz"
    path.write_bytes(gzip.compress(json.dumps(_trace()).encode()))
    assert cli.main(["kernels", str(path), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "| glyder_k10 params10 | 3 | 40 | 150 |" in out
    assert "| reduce_norm | 4 | 40 |" in out
    with pytest.raises(SystemExit) as e:
        cli.main(["kernels", str(path), "--steps", "0"])
    assert e.value.code == 2

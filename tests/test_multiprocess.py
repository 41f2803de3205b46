"""Two processes, one global mesh: GLyDER and Inexact Polyak match one process.

Starts three Python processes (``tests/multiprocess_worker.py``): two join a
``jax.distributed`` job on localhost (a free port; CPU collectives over gloo;
2 CPU devices each, a global 4-device mesh) and train a small MLP data
parallel (the batch split over the 4 devices, params replicated) with
``go.glyder(optax.scale_by_adam())`` (``obj_fn`` on the next, independent
batch; refresh every step and every 2 steps) and with
``go.inexact_polyak_sgd`` (``value=``); the third is the reference, one
process with 4 CPU devices and the same mesh shape. Every process's final
params, per-step losses and ``eta`` must equal the reference to
``rtol=1e-5, atol=1e-6`` (float32; the all-reduces of the two runs sum in a
different order: measured differences are ~1e-7). Every process gets a
timeout and is killed if the test fails or times out.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WORKER = pathlib.Path(__file__).with_name("multiprocess_worker.py")
ROOT = pathlib.Path(__file__).resolve().parent.parent
TIMEOUT_S = 120  # for all three together (~20 s on 2 idle cores; slack for load)
RTOL, ATOL = 1e-5, 1e-6


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: pathlib.Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    # The worker sets its own device count (jax_num_cpu_devices); the other
    # flags (the suite's fast compile) are kept.
    env["XLA_FLAGS"] = " ".join(
        flag
        for flag in env.get("XLA_FLAGS", "").split()
        if not flag.startswith("--xla_force_host_platform_device_count")
    )
    with open(log, "w") as f:
        return subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def _run_all(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    port = _free_port()
    outs = {name: tmp_path / f"{name}.npz" for name in ("p0", "p1", "single")}
    specs = {
        "p0": ["distributed", "0", "2", str(port), str(outs["p0"])],
        "p1": ["distributed", "1", "2", str(port), str(outs["p1"])],
        "single": ["single", str(outs["single"])],
    }
    procs = {
        name: _start(args, tmp_path / f"{name}.log") for name, args in specs.items()
    }
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for proc in procs.values():
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    logs = "\n".join(
        f"--- {name} (rc={proc.returncode}) ---\n"
        + (tmp_path / f"{name}.log").read_text()[-3000:]
        for name, proc in procs.items()
    )
    assert all(p.returncode == 0 for p in procs.values()), logs
    return outs


def test_two_processes_match_one_process(tmp_path):
    outs = _run_all(tmp_path)
    ref = dict(np.load(outs["single"]))
    assert int(ref["device_count"]) == 4 and int(ref["process_count"]) == 1
    keys = [k for k in ref if k.startswith(("glyder", "polyak"))]
    assert {k.split("_")[0] for k in keys} == {"glyder", "polyak"}
    assert any(k.startswith("glyder_k2") for k in keys)
    for name in ("p0", "p1"):
        got = dict(np.load(outs[name]))
        assert int(got["process_count"]) == 2
        assert int(got["device_count"]) == 4
        assert int(got["local_device_count"]) == 2
        assert bool(got["params_replicated"])
        for k in keys:
            np.testing.assert_allclose(
                got[k], ref[k], rtol=RTOL, atol=ATOL, err_msg=f"{name}: {k}"
            )
    # Training did something: the losses fell and GLyDER's eta is positive.
    for method in ("glyder", "glyder_k2", "polyak"):
        assert ref[f"{method}_loss"][-1] < ref[f"{method}_loss"][0], method
    assert np.all(ref["glyder_eta"] > 0)

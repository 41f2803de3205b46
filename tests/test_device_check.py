"""``benchmarks/device_check.sh --dry-run`` lists its steps and runs nothing."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tarfile

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "benchmarks/device_check.sh"


def _check(*args, **env):
    """The script run with ``args`` and ``env`` over this process's."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _steps(stdout):
    """The names of the steps the script announced, in order."""
    return [
        line.split("]")[0].removeprefix("[step ")
        for line in stdout.splitlines()
        if line.startswith("[step ")
    ]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_dry_run_lists_the_steps_and_runs_nothing(tmp_path):
    out = tmp_path / "device_check"
    result = _check("--dry-run", OUT=str(out), VENV=str(tmp_path / "venv"))
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert _steps(text) == [
        "gpu",
        "venv",
        "install-jax",
        "install-package",
        "jax-gpu",
        "tests",
        "overhead",
        "traffic",
        "scaling",
        "kernels",
    ]
    assert "'jax[cuda1" in text  # the CUDA wheel, cuda12 or cuda13
    assert "-e '.[test,bench]'" in text
    assert "tests/test_multiprocess.py" in text
    assert "tests/test_sharding.py" in text
    # One pytest per file: a timeout keeps the reports of the files already run.
    assert "for f in tests/" in text and "-rfE" in text
    assert f"--junitxml={out}/tests-$(basename $f .py).xml" in text
    assert "-m benchmarks overhead --tasks charlm --methods glyder_sgd," in text
    assert "glyder-adam-cost-once-bare,glyder-adam-cost-k1 --steps 100" in text
    assert "for w in 300 10000; do " in text
    assert "-m benchmarks traffic --methods adam,adam-if-finite," in text
    assert f"--width $w --out {out}/traffic-w$w; done" in text
    assert "-m benchmarks.scaling" in text
    assert f"--out {out}/scaling" in text
    assert f"kernels {out}/scaling/trace-*.json.gz --steps 10" in text
    assert "dry run: nothing was run" in text
    assert not out.exists() and not (tmp_path / "venv").exists()


def test_offline_wheelhouse_and_no_venv(tmp_path):
    args = ("--dry-run", "--no-venv", "--wheelhouse", "/wheels")
    result = _check(*args, OUT=str(tmp_path / "o"), PYTHON="python3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[step venv]" not in result.stdout
    assert "--no-index --find-links /wheels" in result.stdout
    assert "python3 -m pytest" in result.stdout


def test_unknown_argument_fails():
    assert _check("--bogus").returncode == 2


def test_tarball_packs_the_output_on_any_exit(tmp_path):
    # No nvidia-smi on this PATH: the critical first step fails, the check
    # stops, and the tarball still holds that step's log.
    path = "/usr/bin:/bin"
    if shutil.which("nvidia-smi", path=path):
        pytest.skip("a GPU machine: the check would run for real")
    out, tarball = tmp_path / "dc", tmp_path / "all.tar.gz"
    env = {"OUT": str(out), "TARBALL": str(tarball), "PATH": path}
    result = _check("--no-venv", "--skip-install", **env)
    assert result.returncode != 0
    assert "[step gpu] FAILED" in result.stderr
    assert "[step jax-gpu]" not in result.stdout
    assert f"[tarball] tar czf {tarball}" in result.stdout
    with tarfile.open(tarball) as tar:
        assert "dc/logs/gpu.log" in tar.getnames()


def test_help_prints_the_whole_header():
    result = _check("--help")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# Accelerator check") and "TARBALL" in lines[-2]
    assert all(line.startswith("#") for line in lines)


def test_only_runs_the_steps_it_names(tmp_path):
    args = ("--dry-run", "--no-venv", "--skip-install", "--only", "overhead")
    result = _check(*args, OUT=str(tmp_path / "o"), PYTHON="python3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _steps(result.stdout) == ["gpu", "jax-gpu", "overhead"]
    assert "[tests] not in --only overhead, skipped" in result.stdout
    args = (*args[:-1], "traffic,scaling")
    result = _check(*args, OUT=str(tmp_path / "o"), PYTHON="python3")
    assert _steps(result.stdout) == ["gpu", "jax-gpu", "traffic", "scaling", "kernels"]

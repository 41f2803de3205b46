"""Packaging: what a user installs, and what it needs.

flax is an optional extra (only ``glyder_optax.training`` imports it); the
wheel holds the ``glyder_optax`` package and nothing else; the built wheel
installs into a fresh virtual environment and runs the README's example.
"""

import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _run_python(code, **kwargs):
    # From the repository root, so that it imports this checkout's package.
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def _requirement_names(requirements):
    import re

    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_flax_is_an_extra_not_a_core_dependency():
    project = _pyproject()["project"]
    assert "flax" not in _requirement_names(project["dependencies"])
    extras = project["optional-dependencies"]
    for extra in ("flax", "test", "bench", "notebooks", "docs"):
        assert "flax" in _requirement_names(extras[extra]), extra


def test_core_runs_without_flax():
    # flax made unimportable: the package and every method but the train-step
    # helpers work; glyder_optax.training says how to get flax.
    result = _run_python(
        """
        import sys
        sys.modules["flax"] = None  # as if flax were not installed
        import jax.numpy as jnp
        import glyder_optax as go
        opt = go.inexact_polyak_sgd(total_steps=10)
        w = jnp.ones(3)
        updates, _ = opt.update(w, opt.init(w), w, value=jnp.sum(w**2))
        assert updates.shape == (3,)
        for imp in (
            lambda: __import__("glyder_optax.training"),
            lambda: go.training,
        ):
            try:
                imp()
            except ImportError as e:
                print("ImportError:", e)
            else:
                raise AssertionError("glyder_optax.training imported without flax")
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert 'pip install "glyder-optax[flax]"' in line, line


def test_importing_the_package_does_not_import_flax():
    result = _run_python(
        """
        import sys
        import glyder_optax
        assert "flax" not in sys.modules, "glyder_optax imported flax"
        """
    )
    assert result.returncode == 0, result.stderr

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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel that ``python -m build`` makes of this checkout (sdist first,
    the wheel built from it, as a user's ``python -m build`` does)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (found,) = out.glob("glyder_optax-*-py3-none-any.whl")
    return found


def test_wheel_holds_the_package_only(wheel):
    import zipfile

    version = _pyproject()["project"]["version"]
    assert wheel.name == f"glyder_optax-{version}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f"glyder_optax-{version}.dist-info/"
    stray = [n for n in names if not n.startswith(("glyder_optax/", dist_info))]
    assert not stray, f"files outside the package in the wheel: {stray}"
    package = {n for n in names if n.startswith("glyder_optax/")}
    expected = {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "glyder_optax").rglob("*.py")
    }
    assert package == expected
    metadata = zipfile.ZipFile(wheel).read(dist_info + "METADATA").decode()
    requires = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    core = [r for r in requires if "extra ==" not in r]
    assert _requirement_names(core) == _requirement_names(
        _pyproject()["project"]["dependencies"]
    )
    assert any(r.startswith("flax") and 'extra == "flax"' in r for r in requires)


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_the_readme_example(wheel, tmp_path):
    # A plain virtual environment (no system site-packages, so no dependency
    # can come from elsewhere) with the wheel and its core dependencies only.
    from readme_snippets import run_example

    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=300)
    python = str(env / "bin" / "python")
    result = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_example(python, cwd=tmp_path)  # outside the checkout: the installed copy
    check = subprocess.run(
        [
            python,
            "-c",
            textwrap.dedent(
                """
                import importlib.util, pathlib
                import numpy as np
                import glyder_optax as go
                assert "site-packages" in go.__file__, go.__file__
                assert importlib.util.find_spec("flax") is None  # core deps only
                # refine_schedule's smoothing needs scipy, which jax brings.
                eta = go.refine_schedule(np.linspace(1, 2, 50), total_steps=100)
                assert eta.shape == (100,), eta.shape
                try:
                    import glyder_optax.training
                except ImportError as e:
                    print(e)
                """
            ),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stderr
    assert 'pip install "glyder-optax[flax]"' in check.stdout

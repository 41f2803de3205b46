"""The README's commands and example are the ones that work.

README.md is outside pytest's doctest globs (its examples are scripts, not
doctest sessions), so each Python example is run here and its printed output
compared with the output that the README shows.
"""

import re
import sys

import pytest
from readme_snippets import ROOT, blocks, examples, outputs_match, run_example


def test_readme_has_the_polyak_and_the_glyder_examples():
    codes = [code for code, _ in examples()]
    assert len(codes) == 2
    assert "go.inexact_polyak_sgd(" in codes[0] and "go.glyder_adam(" in codes[1]


@pytest.mark.parametrize("index", range(2))
def test_readme_example_runs_and_prints_what_the_readme_shows(index):
    code, _ = examples()[index]
    assert "jax.jit" in code and "print(" in code
    run_example(sys.executable, ROOT, index)


@pytest.mark.parametrize(
    "got, want, same",
    [
        ("loss 1.0000 -> 0.9624\n", "loss 1.0000 -> 0.9624", True),
        ("loss 1.0000 -> 0.9630", "loss 1.0000 -> 0.9624", True),
        ("loss 1.0000 -> 1.0000", "loss 1.0000 -> 0.9624", False),
        ("loss 1.0000 -> nan", "loss 1.0000 -> 0.9624", False),
        ("loss 1.0000 -> 0.9624\nmore", "loss 1.0000 -> 0.9624", False),
    ],
)
def test_outputs_match(got, want, same):
    assert outputs_match(got, want) == same


def test_readme_test_command_is_what_ci_runs():
    # The README's test command, word for word, is a line of .ci/run.
    commands = [
        body.strip()
        for lang, body in blocks()
        if lang == "bash" and "pytest" in body and ".[test]" in body
    ]
    assert len(commands) == 1, commands
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert commands[0] in ci_lines


def test_readme_install_names_the_flax_extra_and_the_wheel():
    text = (ROOT / "README.md").read_text()
    assert 'pip install "path/to/glyder_optax[flax]"' in text
    assert "python -m build" in text
    version = re.search(
        r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M
    ).group(1)
    assert f"dist/glyder_optax-{version}-py3-none-any.whl" in text

"""The README's fenced code blocks, and its examples checked against their output."""

import math
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def blocks(text=None):
    """``(language, body)`` of every fenced block of the README, in order."""
    text = README.read_text() if text is None else text
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(text)]


def examples():
    """Every Python example of the README (a block importing glyder_optax)
    and the output that it shows under it, in order."""
    found, pairs = blocks(), []
    for i, (lang, body) in enumerate(found):
        if lang == "python" and "import glyder_optax" in body:
            nxt_lang, nxt_body = found[i + 1]
            assert nxt_lang == "text", "an example's output block must follow it"
            pairs.append((body, nxt_body))
    assert pairs, "README.md has no python block importing glyder_optax"
    return pairs


def outputs_match(got, want, rtol=5e-3):
    """Same text, numbers equal to ``rtol``."""
    got_lines, want_lines = got.strip().splitlines(), want.strip().splitlines()
    if len(got_lines) != len(want_lines):
        return False
    for g, w in zip(got_lines, want_lines):
        if _NUMBER.sub("#", g) != _NUMBER.sub("#", w):
            return False
        for a, b in zip(_NUMBER.findall(g), _NUMBER.findall(w)):
            if not math.isclose(float(a), float(b), rel_tol=rtol):
                return False
    return True


def run_example(python, cwd, index=0):
    """Runs the README's example ``index`` with the interpreter ``python`` in
    ``cwd``."""
    code, want = examples()[index]
    result = subprocess.run(
        [python, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert outputs_match(result.stdout, want), (
        f"README example printed\n{result.stdout}\nREADME shows\n{want}"
    )

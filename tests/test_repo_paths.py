"""Docstrings, error messages and docs name only files that the repository has.

Data-driven: every string literal in ``glyder_optax/`` (docstrings and messages
alike) and every Markdown page (README.md, docs/) is searched for file paths
(``docs/glyder.md``, ``benchmarks/overhead.py``, ...); each must exist in this
checkout, relative to the repository root (or, in Markdown, to the page). Paths
outside the repository (``../shared``, ``shared/``, ``specs/``) are never named:
a user's clone has no such folder.
"""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_EXT = r"(?:md|py|ipynb|rst|toml|json|txt|cfg|ya?ml|sh|png|csv)"
PATH = re.compile(
    rf"(?<![\w/.-])((?:\.\.?/)*[\w.-]+(?:/[\w.-]+)*/[\w.-]+\.{_EXT})(?![\w/-])"
)
OUTSIDE = re.compile(r"(?<![\w-])(\.\./shared\b|shared/|specs/)")
URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")


def bad_paths(text, *bases):
    """Paths named in ``text`` that exist under none of ``bases``, and every
    mention of a folder outside the repository."""
    text = URL.sub("", text)
    bad = {m.group(1) for m in PATH.finditer(text)}
    bad = {p for p in bad if not any((b / p).exists() for b in bases)}
    for m in OUTSIDE.finditer(text):  # the whole path-like word around it
        start, end = m.start(), m.end()
        while start and re.match(r"[\w./-]", text[start - 1]):
            start -= 1
        while end < len(text) and re.match(r"[\w./-]", text[end]):
            end += 1
        bad.add(text[start:end].rstrip("."))
    return bad


def library_strings():
    """``(file, line, text)`` of every string literal in glyder_optax/."""
    for path in sorted((ROOT / "glyder_optax").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield path.relative_to(ROOT), node.lineno, node.value


def library_violations():
    """``{(file:line, path)}``: the paths that glyder_optax's strings name
    and the repository lacks (line: about where in the file)."""
    return {
        (f"{file}:{line + text[: text.find(p)].count(chr(10))}", p)
        for file, line, text in library_strings()
        for p in bad_paths(text, ROOT)
    }


@pytest.mark.parametrize(
    "text, bad",
    [
        ("see ``docs/glyder.md``", set()),
        ("see docs/nowhere.md.", {"docs/nowhere.md"}),
        (
            "`benchmarks/overhead.py` and benchmarks/missing.py",
            {"benchmarks/missing.py"},
        ),
        (
            "(``shared/specs/optax_conventions.md``)",
            {"shared/specs/optax_conventions.md"},
        ),
        ("from ../shared and specs/x", {"../shared", "specs/x"}),
        ("https://arxiv.org/abs/2311.13877 and 1/sqrt(a) and jax/optax", set()),
        ("shared by the transforms", set()),
    ],
)
def test_bad_paths(text, bad):
    assert bad_paths(text, ROOT) == bad


def test_library_strings_name_only_files_the_repository_has():
    found = sorted(library_violations())
    assert not found, f"docstrings/messages naming missing paths: {found}"


def test_markdown_names_only_files_the_repository_has():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    found = {}
    for page in pages:
        text = page.read_text()
        bad = bad_paths(text, ROOT, page.parent)
        links = re.findall(r"\]\(([^)#\s]+)", URL.sub("", text))
        bad |= {p for p in links if not (page.parent / p).exists()}
        if bad:
            found[str(page.relative_to(ROOT))] = sorted(bad)
    assert not found, f"Markdown naming missing paths: {found}"

"""The API reference (docs/api, Sphinx autodoc + napoleon) covers every public
name, each with a docstring, and builds with warnings as errors."""

import inspect
import pathlib
import re
import shutil
import subprocess
import sys

import glyder_optax
import glyder_optax.curvature
import glyder_optax.training

ROOT = pathlib.Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"
_DIRECTIVE = re.compile(r"^\.\. (auto\w+|currentmodule):: (\S+)", re.M)


def documented():
    """Fully qualified names of the objects that index.rst documents."""
    names, current = set(), ""
    for kind, name in _DIRECTIVE.findall((API / "index.rst").read_text()):
        if kind == "currentmodule":
            current = name
        elif kind == "automodule" or "." in name:
            names.add(name)
        else:
            names.add(f"{current}.{name}")
    return names


def public_api():
    """``{qualified name: object}``: ``glyder_optax.__all__`` and the public
    functions and classes of ``glyder_optax.curvature`` and ``.training``."""
    api = {f"glyder_optax.{n}": getattr(glyder_optax, n) for n in glyder_optax.__all__}
    for module in (glyder_optax.curvature, glyder_optax.training):
        for name, obj in vars(module).items():
            if (
                not name.startswith("_")
                and (inspect.isfunction(obj) or inspect.isclass(obj))
                and obj.__module__.startswith("glyder_optax")
            ):
                api[f"{module.__name__}.{name}"] = obj
    return api


def test_every_public_name_is_in_the_api_index():
    api = public_api()
    assert {"glyder_optax.glyder", "glyder_optax.training.TrainState"} <= set(api)
    missing = sorted(set(api) - documented())
    assert not missing, f"public names missing from docs/api/index.rst: {missing}"
    unknown = sorted(documented() - set(api))
    assert not unknown, f"docs/api/index.rst documents non-public names: {unknown}"


def test_every_public_name_has_a_docstring():
    for name, obj in public_api().items():
        doc = (obj.__doc__ or "").strip()
        assert doc, f"{name} has no docstring"
        # A NamedTuple without a docstring gets "Name(field, ...)".
        assert not re.match(rf"{obj.__name__.rsplit('.', 1)[-1]}\(", doc), (
            f"{name} has only the generated docstring: {doc[:60]!r}"
        )


def test_sphinx_builds_the_api_reference_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        + [str(API), str(tmp_path / "html")],
        cwd=tmp_path,  # conf.py puts this checkout's package on sys.path
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    page = (tmp_path / "html" / "index.html").read_text()
    for name, obj in public_api().items():
        anchor = f"module-{name}" if inspect.ismodule(obj) else name
        assert f'id="{anchor}"' in page, f"{name} is not on the built page"


def test_pytest_collects_docs_without_the_sphinx_config(tmp_path):
    # pyproject's norecursedirs keep --doctest-modules off docs/api (Sphinx's
    # conf.py edits sys.path); the Markdown pages still collect. On a copy whose
    # conf.py raises when imported, collection shows whether it imports it.
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    with open(tmp_path / "docs" / "api" / "conf.py", "a") as f:
        f.write("\nraise RuntimeError('docs/api/conf.py was imported')\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist"]
        + ["-p", "no:cacheprovider", "docs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "docs/integrations/flax.md" in result.stdout


def _documented_args(doc):
    """The names an ``Args:`` section lists (``a, b: ...`` names two), or
    ``None`` where the docstring has none."""
    lines = inspect.cleandoc(doc).splitlines()
    if "Args:" not in lines:
        return None
    names, indent = [], None
    for line in lines[lines.index("Args:") + 1 :]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            break
        indent = depth if indent is None else indent
        if depth == indent:
            head = line.strip().split(":")[0]
            names += [n.strip().lstrip("*") for n in head.split(",")]
    return names


def test_every_args_section_names_exactly_the_signature():
    checked = 0
    for name, obj in public_api().items():
        names = _documented_args(obj.__doc__ or "")
        if names is None or not callable(obj):
            continue
        params = set(inspect.signature(obj).parameters) - {"self"}
        assert set(names) == params, (
            f"{name}: Args lists {sorted(set(names) - params)} not in the "
            f"signature and omits {sorted(params - set(names))}"
        )
        checked += 1
    assert checked > 20


def test_the_args_reader_reads_grouped_and_starred_names():
    doc = """Summary.

    Args:
      a, b: two.
        continued: not a name.
      **extra_args: ignored.

    Returns:
      x: not an argument.
    """
    assert _documented_args(doc) == ["a", "b", "extra_args"]
    assert _documented_args("No sections.") is None

"""Sphinx configuration of the API reference (autodoc + napoleon).

Build it (the ``docs`` extra has Sphinx; CI builds it with warnings as errors):

    sphinx-build -W -b html docs/api docs/api/_build

No network (no intersphinx) and no code execution beyond importing the package.
"""

import pathlib
import sys

# This checkout's package, whether or not it is installed.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import glyder_optax

project = "glyder_optax"
author = "glyder_optax authors"
release = version = glyder_optax.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
# Signatures with names and defaults only: the docstrings' Args sections say
# what each argument is (rendered, jax.typing.ArrayLike expands to a long union).
autodoc_typehints = "none"

exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []

"""Shared test set-up: the tests directory on sys.path for the registry."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

"""Shared test set-up: the tests directory on sys.path for the registry, and a
JAX compilation cache per test process.

Many tests build the same program afresh (an alias and the chain it names,
the same transform in several conformance checks): with a persistent cache,
XLA compiles each such program once per process. Each process (each xdist
worker) has its own temporary folder, removed when it ends, so no two
processes write one entry; subprocesses (notebook kernels, the sharding and
multi-process checks) do not inherit it.
"""

import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))

_CACHE_DIR = None


def pytest_configure(config):
    global _CACHE_DIR
    import jax

    _CACHE_DIR = tempfile.mkdtemp(prefix="glyder-optax-tests-jax-cache-")
    jax.config.update("jax_compilation_cache_dir", _CACHE_DIR)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    if _CACHE_DIR is not None:
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)

"""Shared test set-up: the tests directory on sys.path for the registry, and a
JAX compilation cache per test process.

Many tests build the same program afresh (an alias and the chain it names,
the same transform in several conformance checks): with a persistent cache,
XLA compiles each such program once per process. Each process (each xdist
worker) has its own temporary folder, removed when it ends, so no two
processes write one entry; subprocesses (notebook kernels, the sharding and
multi-process checks) do not inherit it.

Most of the suite's time is XLA compiling small programs on the CPU, so the
tests ask XLA for its older CPU fusion emitters, and LLVM not to optimise the
code they emit (:data:`FAST_COMPILE`, added to ``XLA_FLAGS`` before JAX starts
its backend, and inherited by the subprocesses). Both are XLA's supported CPU
paths, with no fast-math either way, and every test passes under them as
without them; they compile in a fraction of the time (the conformance checks
of one alias 28 s -> 17 s, the harness's digits MLP and CNN trained under Adam
39 s -> 10 s). Benchmarks measure the defaults and never set them.
"""

import os
import pathlib
import shutil
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))

_CACHE_DIR = None
FAST_COMPILE = (
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_backend_optimization_level=0",
)


def with_fast_compile(flags: str) -> str:
    """``flags`` (an ``XLA_FLAGS`` value) with each of :data:`FAST_COMPILE`
    that it lacks added."""
    missing = [flag for flag in FAST_COMPILE if flag not in flags.split()]
    return " ".join([*flags.split(), *missing])


def pytest_configure(config):
    global _CACHE_DIR
    os.environ["XLA_FLAGS"] = with_fast_compile(os.environ.get("XLA_FLAGS", ""))
    import jax

    _CACHE_DIR = tempfile.mkdtemp(prefix="glyder-optax-tests-jax-cache-")
    jax.config.update("jax_compilation_cache_dir", _CACHE_DIR)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    if _CACHE_DIR is not None:
        shutil.rmtree(_CACHE_DIR, ignore_errors=True)

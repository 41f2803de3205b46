#!/usr/bin/env bash
# Accelerator check: the device-relevant tests and the cost benchmarks on a GPU.
#
#   bash benchmarks/device_check.sh [--dry-run] [--no-venv] [--wheelhouse DIR]
#                                   [--skip-install]
#                                   [--only tests,overhead,traffic,scaling]
#
# On a machine with no network whose Python already has a CUDA jax, optax
# and flax (as the H200 it was first run on, 2026-12-04):
#
#   OUT=/tmp/dc TARBALL=/tmp/dc.tar.gz PYTHONPATH=$PWD PYTHON=python3 \
#     XLA_PYTHON_CLIENT_PREALLOCATE=false \
#     bash benchmarks/device_check.sh --no-venv --skip-install
#
# Run from the repository root (or anywhere: it cds there). Steps:
#   1. nvidia-smi: the GPU and the driver's CUDA version
#   2. a venv (${VENV:-.venv-device}; --no-venv: use ${PYTHON:-python3} as is)
#   3. the CUDA jax wheel: "jax[cuda12]" (or cuda13 when the driver reports
#      CUDA >= 13), pinned to ${JAX_VERSION:-0.10.2}; jax 0.10.x's extras are
#      cuda (= cuda12), cuda12, cuda13 and the *-local variants
#   4. the package with its test and bench extras: pip install -e ".[test,bench]"
#   5. jax sees a GPU (jax.default_backend() == "gpu")
#   6. the device-relevant tests, by file name, one pytest per file (its
#      failures reported as it ends, its junit XML in $OUT/tests-<file>.xml);
#      files that do not exist (the modules are being renamed) are skipped
#   7. python -m benchmarks overhead $OVERHEAD_ARGS --out $OUT/overhead
#   8. python -m benchmarks traffic $TRAFFIC_ARGS at widths $TRAFFIC_WIDTHS
#      (a held step of the optimizer alone: passes and kernels in the GPU's
#      HLO, and its time), --out $OUT/traffic-w<width>
#   9. python -m benchmarks.scaling $SCALING_ARGS --out $OUT/scaling
#  10. python -m benchmarks kernels on its traces: kernels per step and the
#      costliest kernels, per method and size ($OUT/kernels.md)
# Every step has a timeout (TIMEOUT_INSTALL, TIMEOUT_TESTS, TIMEOUT_BENCH,
# seconds) and logs to $OUT/logs/<step>.log; a failed test or benchmark step is
# recorded and the next one still runs; the exit status is 1 if any failed.
#
# --dry-run prints the commands without running anything (no GPU needed).
# --wheelhouse DIR installs offline: pip --no-index --find-links DIR (for a
#   machine that cannot reach PyPI: fill DIR elsewhere with
#   pip download "jax[cuda12]==0.10.2" ".[test,bench]" -d DIR).
# --no-venv / --skip-install: use the current environment as it is.
# --only LIST: of the steps tests, overhead, traffic and scaling, run only
#   these (comma-separated; default all four): one device call each, where a
#   call is limited in time.
#
# Environment: OUT (default results/device_check), VENV, BASE_PYTHON (makes
# the venv, default python3), PYTHON (--no-venv), JAX_VERSION,
# CUDA_EXTRA (cuda12|cuda13, default from nvidia-smi), OVERHEAD_ARGS (default:
# charlm, each base's recommendation and Adam's cost entries), SCALING_ARGS
# (default "--vmap --sizes 1e4 1e5 1e6 1e7 1e8 --trace-steps $TRACE_STEPS": a
# profiler trace of TRACE_STEPS (default 10) steps per method and size, every
# kernel listed), TRAFFIC_ARGS (default: the bases, Adam in apply_if_finite,
# the recommendations, glyder over Adam with and without its parts, and with
# the static refresh: no lax.cond),
# TRAFFIC_WIDTHS (default "300 10000": 1e5 and 1e8 parameters), TIMEOUT_*,
# TARBALL (if set, everything under $OUT is packed into this one file at the
# end, pass or fail: a device tool that returns few files gets it all).

set -euo pipefail

DRY_RUN=0
USE_VENV=1
INSTALL=1
WHEELHOUSE=""
ONLY="tests,overhead,traffic,scaling"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --only) ONLY="$2"; shift ;;
    --no-venv) USE_VENV=0 ;;
    --skip-install) INSTALL=0 ;;
    --wheelhouse) WHEELHOUSE="$2"; shift ;;
    -h|--help) sed -n '2,/^[^#]/{/^#/p}' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${OUT:-results/device_check}"
VENV="${VENV:-.venv-device}"
JAX_VERSION="${JAX_VERSION:-0.10.2}"
TIMEOUT_INSTALL="${TIMEOUT_INSTALL:-900}"
TIMEOUT_TESTS="${TIMEOUT_TESTS:-900}"
TIMEOUT_BENCH="${TIMEOUT_BENCH:-900}"
TRACE_STEPS="${TRACE_STEPS:-10}"
SCALING_ARGS="${SCALING_ARGS:---vmap --sizes 1e4 1e5 1e6 1e7 1e8 --trace-steps $TRACE_STEPS}"
# Not every registry entry (the study's candidates run to hundreds): the
# recommendation per base (the aliases glyder_sgd, ...), glyder's defaults
# over Adam, and over Adam the cost entries that apportion a step's time
# (methods.COST_VARIANTS: the per-step work alone, then without each piece).
RECOMMENDED=glyder_sgd,glyder_momentum,glyder_adam
COST=glyder-adam-cost-once,glyder-adam-cost-once-nofinite,glyder-adam-cost-once-notr,glyder-adam-cost-once-bare,glyder-adam-cost-k1
OVERHEAD_ARGS="${OVERHEAD_ARGS:---tasks charlm --methods $RECOMMENDED,glyder-adam,$COST --steps 100 --repeats 5}"
TRAFFIC_ARGS="${TRAFFIC_ARGS:---methods adam,adam-if-finite,sgd,momentum,glyder-sgd-rec,glyder-momentum-rec,glyder-adam-rec,glyder-adam,glyder-adam-notr,glyder-adam-nofinite,glyder-adam-static,glyder-adam-static-nofinite}"
TRAFFIC_WIDTHS="${TRAFFIC_WIDTHS:-300 10000}"
DEVICE_TESTS=(
  tests/test_sharding.py
  tests/test_flax_integration.py
  tests/test_glyder.py
  tests/test_curvature.py
  tests/test_multiprocess.py
  tests/test_training.py
)
FAILED=()

if [[ -z "${CUDA_EXTRA:-}" ]]; then
  CUDA_EXTRA=cuda12
  if command -v nvidia-smi >/dev/null 2>&1; then
    cuda_major="$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9]*\).*/\1/p' | head -n1)"
    if [[ -n "$cuda_major" && "$cuda_major" -ge 13 ]]; then CUDA_EXTRA=cuda13; fi
  fi
fi

if [[ $USE_VENV -eq 1 ]]; then
  PY="$VENV/bin/python"
else
  PY="${PYTHON:-python3}"
fi
PIP_OPTS=()
if [[ -n "$WHEELHOUSE" ]]; then PIP_OPTS=(--no-index --find-links "$WHEELHOUSE"); fi

# step NAME TIMEOUT CRITICAL COMMAND: print it; unless --dry-run, run it under
# a timeout, logging to $OUT/logs/NAME.log. A critical step's failure ends the
# check; another's is recorded.
step() {
  local name="$1" limit="$2" critical="$3" cmd="$4"
  echo "[step $name] (timeout ${limit}s) $cmd"
  if [[ $DRY_RUN -eq 1 ]]; then return 0; fi
  mkdir -p "$OUT/logs"
  local rc=0
  timeout --kill-after=30 "$limit" bash -c "$cmd" 2>&1 | tee "$OUT/logs/$name.log" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "[step $name] FAILED (exit $rc)" >&2
    if [[ "$critical" == critical ]]; then exit "$rc"; fi
    FAILED+=("$name")
  fi
}

echo "device check: out=$OUT python=$PY jax[$CUDA_EXTRA]==$JAX_VERSION dry_run=$DRY_RUN"

# TARBALL: everything under $OUT in one file, on any exit (a failed critical
# step's log included).
pack() {
  if [[ -z "${TARBALL:-}" ]]; then return 0; fi
  echo "[tarball] tar czf $TARBALL -C $(dirname "$OUT") $(basename "$OUT")"
  if [[ $DRY_RUN -eq 0 && -d "$OUT" ]]; then
    tar czf "$TARBALL" -C "$(dirname "$OUT")" "$(basename "$OUT")"
  fi
}
trap pack EXIT

step gpu 60 critical "set -o pipefail; nvidia-smi | tee $OUT/nvidia-smi.txt"
if [[ $INSTALL -eq 1 ]]; then
  if [[ $USE_VENV -eq 1 ]]; then
    step venv 300 critical "${BASE_PYTHON:-python3} -m venv $VENV && $PY -m pip install -U pip ${PIP_OPTS[*]}"
  fi
  step install-jax "$TIMEOUT_INSTALL" critical \
    "$PY -m pip install ${PIP_OPTS[*]} -U 'jax[$CUDA_EXTRA]==$JAX_VERSION'"
  step install-package "$TIMEOUT_INSTALL" critical \
    "$PY -m pip install ${PIP_OPTS[*]} -e '.[test,bench]'"
fi
step jax-gpu 120 critical \
  "$PY -c 'import jax; print(jax.__version__, jax.devices()); assert jax.default_backend() == \"gpu\", jax.default_backend()' && $PY -m pip freeze > $OUT/pip-freeze.txt"

# wanted STEP: whether --only names it (the gpu and jax-gpu checks always run).
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }

present=()
for f in "${DEVICE_TESTS[@]}"; do
  if [[ -f "$f" ]]; then present+=("$f"); else echo "[tests] $f not found (renamed?), skipped"; fi
done
# Renamed modules: any other test file naming glyder, sharding, flax or multiprocess.
for f in tests/test_*glyder*.py tests/test_*shard*.py tests/test_*flax*.py tests/test_*multiprocess*.py; do
  if [[ -f "$f" && ! " ${present[*]} " == *" $f "* ]]; then present+=("$f"); fi
done
if ! wanted tests; then
  echo "[tests] not in --only $ONLY, skipped"
elif [[ ${#present[@]} -gt 0 ]]; then
  # One pytest per file, each reporting its failures (-rfE) when it ends: a
  # step stopped by its timeout keeps the reports of the files already run.
  tests_cmd="rc=0; for f in ${present[*]}; do"
  tests_cmd+=" $PY -m pytest -q -rfE --tb=short -p no:cacheprovider \$f"
  tests_cmd+=" --junitxml=$OUT/tests-\$(basename \$f .py).xml || rc=1; done; exit \$rc"
  step tests "$TIMEOUT_TESTS" optional "$tests_cmd"
else
  echo "[tests] no device-relevant test file found" >&2
  FAILED+=(tests)
fi

if wanted overhead; then
  step overhead "$TIMEOUT_BENCH" optional \
    "$PY -m benchmarks overhead $OVERHEAD_ARGS --out $OUT/overhead"
fi
if wanted traffic; then
  traffic_cmd="set -e; for w in $TRAFFIC_WIDTHS; do"
  traffic_cmd+=" $PY -m benchmarks traffic $TRAFFIC_ARGS --width \$w --out $OUT/traffic-w\$w; done"
  step traffic "$TIMEOUT_BENCH" optional "$traffic_cmd"
fi
if wanted scaling; then
  step scaling "$TIMEOUT_BENCH" optional \
    "$PY -m benchmarks.scaling $SCALING_ARGS --out $OUT/scaling"
  step kernels 300 optional \
    "set -o pipefail; $PY -m benchmarks kernels $OUT/scaling/trace-*.json.gz --steps $TRACE_STEPS | tee $OUT/kernels.md"
fi

if [[ $DRY_RUN -eq 1 ]]; then
  echo "dry run: nothing was run"
  exit 0
fi
echo "tables: $OUT/overhead/overhead.md $OUT/traffic-w*/traffic.md $OUT/scaling/scaling.md"
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "failed steps: ${FAILED[*]}" >&2
  exit 1
fi
echo "device check passed"

"""The glyder_optax benchmark harness: ``python -m benchmarks --help``."""

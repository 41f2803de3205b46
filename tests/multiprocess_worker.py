"""One process of the multi-process test (``tests/test_multiprocess.py``).

Usage::

    python multiprocess_worker.py distributed PROCESS_ID NUM_PROCESSES PORT OUT.npz
    python multiprocess_worker.py single OUT.npz

``distributed``: joins a ``jax.distributed`` job on ``127.0.0.1:PORT`` with
2 CPU devices in this process (``jax_num_cpu_devices``), CPU collectives over
gloo, a global mesh of all devices of all processes. ``single``: one process
with 4 CPU devices, the same mesh shape; the reference.

Both train the same MLP, data parallel (the batch split over the ``data``
axis of the mesh, params replicated), for a few steps with GLyDER
(``go.glyder(optax.scale_by_adam())``, ``obj_fn`` on an independent batch)
and with Inexact Polyak (``value=``), and write the final params, the
per-step losses and GLyDER's ``eta`` to ``OUT.npz`` (every process its
own file: each must hold the same replicated values).
"""

from __future__ import annotations

import sys

NUM_LOCAL_DEVICES = 2
GLOBAL_DEVICES = 4
STEPS = 6
BATCH = 32  # global batch, split over the 4 devices
IN, HIDDEN, OUT = 8, 16, 1


def _configure(mode: str, argv: list[str]) -> None:
    import jax

    jax.config.update("jax_platforms", "cpu")
    if mode == "single":
        jax.config.update("jax_num_cpu_devices", GLOBAL_DEVICES)
        return
    process_id, num_processes, port = int(argv[0]), int(argv[1]), int(argv[2])
    jax.config.update("jax_num_cpu_devices", NUM_LOCAL_DEVICES)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}",
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=30,
        heartbeat_timeout_seconds=30,
        shutdown_timeout_seconds=10,
    )


def run() -> dict:
    """Trains both methods on the global mesh; returns host numpy results."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import glyder_optax as go

    assert jax.device_count() == GLOBAL_DEVICES, jax.devices()
    # Auto axes (as jax.sharding.Mesh): XLA places the all-reduces.
    mesh = jax.make_mesh(
        (GLOBAL_DEVICES,), ("data",), axis_types=(jax.sharding.AxisType.Auto,)
    )
    data = NamedSharding(mesh, P("data"))
    replicated = NamedSharding(mesh, P())

    rng = np.random.default_rng(0)
    w_true = rng.normal(size=(IN, OUT)).astype(np.float32)
    xs = rng.normal(size=(STEPS + 1, BATCH, IN)).astype(np.float32)
    ys = (np.tanh(xs @ w_true) + 0.1 * rng.normal(size=(STEPS + 1, BATCH, OUT))).astype(
        np.float32
    )
    params0 = {
        "w1": (rng.normal(size=(IN, HIDDEN)) / np.sqrt(IN)).astype(np.float32),
        "b1": np.zeros(HIDDEN, np.float32),
        "w2": (rng.normal(size=(HIDDEN, OUT)) / np.sqrt(HIDDEN)).astype(np.float32),
        "b2": np.zeros(OUT, np.float32),
    }

    def global_array(host, sharding):
        # Every process holds the whole host array (same seed) and gives each
        # of its addressable devices its slice: a global jax.Array.
        return jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])

    batches = [
        (global_array(xs[t], data), global_array(ys[t], data)) for t in range(STEPS + 1)
    ]
    params0 = jax.tree.map(lambda a: global_array(a, replicated), params0)

    def loss(p, x, y):
        h = jnp.tanh(x @ p["w1"] + p["b1"])
        return jnp.mean((h @ p["w2"] + p["b2"] - y) ** 2)

    def host(tree):
        # Replicated outputs: every process has the full value locally.
        return jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), tree)

    out = {}
    sharding_ok = True
    for name, glyder in [
        ("glyder", go.glyder(optax.scale_by_adam())),
        # refresh every 2 steps: the lax.cond's hold branch runs too.
        ("glyder_k2", go.glyder(optax.scale_by_adam(), refresh_every=2)),
    ]:

        @jax.jit
        def glyder_step(params, state, x, y, x_next, y_next, glyder=glyder):
            value, grads = jax.value_and_grad(loss)(params, x, y)
            updates, state = glyder.update(
                grads, state, params, obj_fn=lambda p: loss(p, x_next, y_next)
            )
            eta = go.glyder_state(state).eta
            return optax.apply_updates(params, updates), state, value, eta

        params, state = params0, jax.jit(glyder.init)(params0)
        losses, etas = [], []
        for t in range(STEPS):
            # obj_fn: the independent batch is the next one.
            params, state, value, eta = glyder_step(
                params, state, *batches[t], *batches[t + 1]
            )
            losses.append(value)
            etas.append(eta)
        out[f"{name}_loss"] = np.array([host(v) for v in losses])
        out[f"{name}_eta"] = np.array([host(e) for e in etas])
        for k, v in host(params).items():
            out[f"{name}_{k}"] = v
        sharding_ok &= all(
            a.sharding.is_equivalent_to(replicated, a.ndim)
            for a in jax.tree.leaves(params)
        )

    polyak = go.inexact_polyak_sgd(total_steps=STEPS)

    @jax.jit
    def polyak_step(params, state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, state = polyak.update(grads, state, params, value=value)
        return optax.apply_updates(params, updates), state, value

    params, state = params0, jax.jit(polyak.init)(params0)
    losses = []
    for t in range(STEPS):
        params, state, value = polyak_step(params, state, *batches[t])
        losses.append(value)
    out["polyak_loss"] = np.array([host(v) for v in losses])
    for k, v in host(params).items():
        out[f"polyak_{k}"] = v
    sharding_ok &= all(
        a.sharding.is_equivalent_to(replicated, a.ndim) for a in jax.tree.leaves(params)
    )
    out["params_replicated"] = np.array(sharding_ok)
    out["process_count"] = np.array(jax.process_count())
    out["device_count"] = np.array(jax.device_count())
    out["local_device_count"] = np.array(jax.local_device_count())
    return out


def main(argv: list[str]) -> int:
    mode = argv[0]
    if mode not in ("single", "distributed"):
        raise SystemExit(f"unknown mode {mode!r}")
    _configure(mode, argv[1:])
    import jax
    import numpy as np

    out = run()
    np.savez(argv[-1], **out)
    print(
        f"process {jax.process_index()} of {jax.process_count()}:"
        f" {jax.local_device_count()} local / {jax.device_count()} global"
        " devices, done",
        flush=True,
    )
    if mode == "distributed":
        jax.distributed.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Every transform gives the one-device trajectory when params/batches are sharded.

Runs itself in a subprocess with 8 simulated CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``), because the device
count is fixed when JAX starts. Two layouts: data parallel (batch split over 8
devices, params replicated) and data x model parallel (a 4 x 2 mesh, the
weight matrix split by columns over 'model'). Inside the sharded loop host
transfers are disallowed (after the first, compiling step), so an update that
syncs with the host fails.

By default one case per family runs (the three aliases, GLyDER with
Gauss-Newton-Bartlett curvature, the Polyak family's flagship, GradaGrad and
the gradient-norm recorder); the rest are marked slow (``-m slow``).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from conformance_registry import CASES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

# The cases run by default; every other case of the conformance registry runs
# under -m slow (the whole file took 99 s of the suite's 15 minutes).
DEFAULT_CASES = (
    "inexact_polyak",
    "glyder_sgd_alias",
    "glyder_momentum_alias",
    "glyder_adam_alias",
    "glyder_adam_gnb",
    "gradagrad",
    "grad_norm_recorder_sgd",
)


@pytest.mark.parametrize(
    "which", ["default", pytest.param("rest", marks=pytest.mark.slow)]
)
def test_every_transform_matches_one_device_when_sharded(which):
    env = {
        **os.environ,
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")
        + " --xla_force_host_platform_device_count=8",
        "JAX_PLATFORMS": "cpu",
    }
    result = subprocess.run(
        [sys.executable, __file__, which],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=pathlib.Path(__file__).parent,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    names = {str(c) for c in CASES}
    want = (
        names & set(DEFAULT_CASES) if which == "default" else names - set(DEFAULT_CASES)
    )
    got = {
        line.split()[1]
        for line in result.stdout.splitlines()
        if line.startswith("checked ")
    }
    assert got == want


def _main(which: str) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    assert jax.device_count() == 8, jax.devices()
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(64, 8)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(64, 4)), jnp.float32)
    params = {"w": jnp.zeros((8, 4)), "b": jnp.zeros(4)}

    def loss(p, x, y):
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    def trajectory(case, params, x, y, guard="allow", steps=4):
        opt = case.make()
        objective = lambda p: loss(p, x, y)

        @jax.jit
        def step(p, s):
            g = jax.grad(objective)(p)
            u, s = opt.update(g, s, p, **case.build_extras(objective, p))
            return optax.apply_updates(p, u), s

        state = jax.jit(opt.init)(params)
        params, state = step(params, state)  # compiles; placements settle
        with jax.transfer_guard(guard):
            for _ in range(steps - 1):
                params, state = step(params, state)
        return params, state

    layouts = {
        "data": (
            Mesh(np.array(jax.devices()), ("data",)),
            {"w": P(), "b": P()},
            P("data"),
        ),
        "data+model": (
            Mesh(np.array(jax.devices()).reshape(4, 2), ("data", "model")),
            {"w": P(None, "model"), "b": P("model")},
            P("data", None),
        ),
    }
    default = lambda case: str(case) in DEFAULT_CASES
    cases = [c for c in CASES if default(c) == (which == "default")]
    for case in cases:
        want, _ = trajectory(case, params, x, y)
        for name, (mesh, param_specs, batch_spec) in layouts.items():
            put = lambda a, spec, mesh=mesh: jax.device_put(
                a, NamedSharding(mesh, spec)
            )
            sharded_params = {k: put(v, param_specs[k]) for k, v in params.items()}
            xs, ys = put(x, batch_spec), put(y, batch_spec)
            got, state = trajectory(case, sharded_params, xs, ys, guard="disallow")
            for k in params:
                np.testing.assert_allclose(
                    got[k], want[k], rtol=2e-5, atol=2e-6, err_msg=f"{case} {name} {k}"
                )
                assert got[k].sharding.is_equivalent_to(
                    sharded_params[k].sharding, got[k].ndim
                ), f"{case} {name}: {k} lost its sharding"
            for leaf in jax.tree.leaves(state):
                assert bool(jnp.all(~jnp.isnan(leaf))), f"{case} {name}: NaN in state"
        print(f"checked {case}")


if __name__ == "__main__":
    _main(sys.argv[1])

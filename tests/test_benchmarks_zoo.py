"""The workload zoo, the estimate-batch sources, and the CLI's errors and logs."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks import __main__ as cli
from benchmarks import methods, runner, suite, tasks, zoo


def test_the_zoo_has_at_least_16_held_out_scored_workloads():
    assert len(zoo.ZOO) >= 16
    assert set(zoo.CALIBRATION) <= set(zoo.ZOO)
    assert set(suite.SUITES["zoo"].tasks) == set(zoo.ZOO)
    for name in zoo.ZOO:
        task = tasks.get(name)
        assert task.name == name
        assert (task.metric, task.secondary) == ("test_loss", "test_acc")
        assert task.steps > 0 and task.description
        metrics = task.evaluate(task.init(jax.random.key(0)))
        assert set(metrics) == {"test_loss", "test_acc"}


def test_the_held_out_zoo_is_apart_from_the_zoo():
    assert len(zoo.HELD_OUT) >= 8
    assert not set(zoo.HELD_OUT) & set(zoo.ZOO)
    assert set(suite.SUITES["zoo-heldout"].tasks) == set(zoo.HELD_OUT)
    assert not set(zoo.HELD_OUT) & set(suite.SUITES["zoo"].tasks)
    for name in zoo.HELD_OUT:
        task = tasks.get(name)
        assert task.name == name
        assert (task.metric, task.secondary) == ("test_loss", "test_acc")
        metrics = task.evaluate(task.init(jax.random.key(0)))
        assert set(metrics) == {"test_loss", "test_acc"}


def test_the_growth_zoo_is_apart_and_starts_small():
    assert len(zoo.GROWTH) >= 6
    assert not set(zoo.GROWTH) & (set(zoo.ZOO) | set(zoo.HELD_OUT))
    assert set(suite.SUITES["zoo-growth"].tasks) == set(zoo.GROWTH)
    key = jax.random.key(3)
    standard = tasks.get("zoo-digits-std").init(key)
    for name in zoo.GROWTH:
        task = tasks.get(name)
        assert task.name == name and task.metric == "test_loss"
        params = task.init(key)
        if name.endswith("linear0") or name == "growth-tanh-regression":
            assert optax.tree.norm(params) == 0
        assert np.isfinite(task.evaluate(params)["test_loss"])
    chex.assert_trees_all_close(
        tasks.get("growth-digits-init0.1").init(key),
        jax.tree.map(lambda x: 0.1 * x, standard),
    )
    zero_head = tasks.get("growth-digits-zerohead").init(key)
    chex.assert_trees_all_equal(zero_head[0], standard[0])
    assert optax.tree.norm(zero_head[1]) == 0 and optax.tree.norm(standard[1]) > 0


def test_the_held_out_growth_zoo_is_apart_and_starts_small():
    others = set(zoo.ZOO) | set(zoo.HELD_OUT) | set(zoo.GROWTH)
    assert len(zoo.GROWTH_HELD_OUT) >= 6
    assert not set(zoo.GROWTH_HELD_OUT) & others
    assert set(suite.SUITES["zoo-growth-heldout"].tasks) == set(zoo.GROWTH_HELD_OUT)
    assert not set(zoo.GROWTH_HELD_OUT) & set(suite.SUITES["zoo-growth"].tasks)
    key = jax.random.key(3)
    for name in zoo.GROWTH_HELD_OUT:
        task = tasks.get(name)
        assert task.name == name and task.metric == "test_loss"
        params = task.init(key)
        from_zeros = "linear0" in name or "tanh" in name
        assert (optax.tree.norm(params) == 0) == from_zeros
        assert np.isfinite(task.evaluate(params)["test_loss"])
    chex.assert_trees_all_close(
        tasks.get("growth2-digits-init0.3").init(key),
        jax.tree.map(lambda x: 0.3 * x, tasks.get("zoo-digits-std").init(key)),
    )


def test_the_fresh_zoo_is_apart_from_every_other_zoo():
    others = set(zoo.ZOO) | set(zoo.HELD_OUT) | set(zoo.GROWTH)
    assert len(zoo.FRESH) >= 8
    assert not set(zoo.FRESH) & (others | set(zoo.GROWTH_HELD_OUT))
    assert set(suite.SUITES["zoo-fresh"].tasks) == set(zoo.FRESH)
    for name in zoo.FRESH:
        task = tasks.get(name)
        assert task.name == name and task.metric == "test_loss"
        assert np.isfinite(task.evaluate(task.init(jax.random.key(0)))["test_loss"])


def test_the_second_fresh_zoo_is_apart_from_every_other_zoo():
    others = set(zoo.ZOO) | set(zoo.HELD_OUT) | set(zoo.GROWTH)
    others |= set(zoo.GROWTH_HELD_OUT) | set(zoo.FRESH)
    assert len(zoo.FRESH2) >= 8 and not set(zoo.FRESH2) & others
    assert set(suite.SUITES["zoo-fresh2"].tasks) == set(zoo.FRESH2)
    for name in zoo.FRESH2:
        task = tasks.get(name)
        assert task.name == name and task.metric == "test_loss"
        assert np.isfinite(task.evaluate(task.init(jax.random.key(0)))["test_loss"])
    moons = tasks.get("fresh2-moons-01-bs4")
    x = moons.batch(jnp.arange(moons.n_train))["x"]
    assert moons.n_train == 400 and float(x.min()) == 0.0 and float(x.max()) == 1.0


def test_the_third_fresh_zoo_is_apart_and_below_800_steps():
    others = set(zoo.ZOO) | set(zoo.HELD_OUT) | set(zoo.GROWTH)
    others |= set(zoo.GROWTH_HELD_OUT) | set(zoo.FRESH) | set(zoo.FRESH2)
    assert len(zoo.FRESH3) >= 8 and not set(zoo.FRESH3) & others
    assert set(suite.SUITES["zoo-fresh3"].tasks) == set(zoo.FRESH3)
    for name in zoo.FRESH3:
        task = tasks.get(name)
        assert task.name == name and task.metric == "test_loss" and task.steps < 800
        assert np.isfinite(task.evaluate(task.init(jax.random.key(0)))["test_loss"])
    start = tasks.get("fresh3-breast-linear0-short").init(jax.random.key(0))
    assert all(not jnp.any(x) for x in jax.tree.leaves(start))  # from zeros


@pytest.mark.parametrize("number", [4, 5, 6, 7])
def test_the_later_fresh_zoos_are_apart_from_zeros_and_below_800_steps(number):
    mine = getattr(zoo, f"FRESH{number}")
    others = set(zoo.ZOO) | set(zoo.HELD_OUT) | set(zoo.GROWTH)
    others |= set(zoo.GROWTH_HELD_OUT) | set(zoo.FRESH) | set(zoo.FRESH2)
    others |= set(zoo.FRESH3)
    others |= set().union(*(getattr(zoo, f"FRESH{k}") for k in range(4, number)))
    assert len(mine) >= 8 and not set(mine) & others
    assert set(suite.SUITES[f"zoo-fresh{number}"].tasks) == set(mine)
    for name in mine:
        task = tasks.get(name)
        assert task.name == name and task.metric == "test_loss" and task.steps < 800
        start = task.init(jax.random.key(0))
        assert all(not jnp.any(x) for x in jax.tree.leaves(start))  # from zeros
        assert np.isfinite(task.evaluate(start)["test_loss"])


@pytest.mark.parametrize("k", [8, 9, 10])
def test_the_twelfth_to_fourteenth_zoos_are_apart_and_mix_the_starts(k):
    fresh = getattr(zoo, f"FRESH{k}")
    others = set().union(*(set(z) for z in zoo.ZOOS if z is not fresh))
    assert len(fresh) >= 8 and not set(fresh) & others
    assert set(suite.SUITES[f"zoo-fresh{k}"].tasks) == set(fresh)
    from_zeros, steps = [], []
    for name in fresh:
        task = tasks.get(name)
        assert task.name == name and task.metric == "test_loss"
        start = task.init(jax.random.key(0))
        from_zeros.append(float(optax.tree.norm(start)) == 0.0)
        steps.append(task.steps)
        assert np.isfinite(task.evaluate(start)["test_loss"])
    assert 3 <= sum(from_zeros) <= len(fresh) - 3  # both kinds of start
    assert min(steps) < 400 and max(steps) > 800


def test_the_zeros_suite_holds_every_workload_that_starts_at_zero():
    every = {name: b for workloads in zoo.ZOOS for name, b in workloads.items()}
    assert len(every) == sum(map(len, zoo.ZOOS))  # no name in two zoos
    assert set(suite.SUITES["zoo-zeros"].tasks) == set(zoo.FROM_ZEROS)
    for name, builder in every.items():
        start = tasks.get(name).init(jax.random.key(0))
        at_zero = float(optax.tree.norm(start)) == 0.0
        assert zoo.starts_from_zeros(builder) == at_zero, name
        assert (name in zoo.FROM_ZEROS) == at_zero, name
    assert len(zoo.FROM_ZEROS) >= 60


def test_label_noise_redraws_the_training_labels_only():
    noisy, clean = tasks.get("fresh-digits-noisy"), zoo.mlp("digits")
    idx = jnp.arange(clean.n_train)
    y_noisy, y_clean = noisy.batch(idx)["y"], clean.batch(idx)["y"]
    changed = float(jnp.mean(y_noisy != y_clean))
    assert changed == pytest.approx(0.2 * 0.9, abs=0.03)  # a tenth redrawn as is
    np.testing.assert_array_equal(noisy.batch(idx)["x"], clean.batch(idx)["x"])
    params = noisy.init(jax.random.key(1))
    chex.assert_trees_all_equal(noisy.evaluate(params), clean.evaluate(params))


def test_an_mlp_takes_its_activation():
    task = tasks.get("fresh-moons-small-tanh")
    params = task.init(jax.random.key(0))
    batch = task.batch(jnp.arange(5))
    h = jnp.tanh(batch["x"] @ params[0]["w"] + params[0]["b"])
    np.testing.assert_allclose(
        task.logits(params, batch), h @ params[1]["w"] + params[1]["b"], rtol=1e-6
    )
    with pytest.raises(ValueError, match="activation must be one of"):
        zoo.mlp("iris", activation="swish")


def test_the_diabetes_regression_is_the_mean_squared_error_of_a_standard_target():
    task = tasks.get("fresh-diabetes-mlp")
    batch = task.batch(jnp.arange(task.n_train))
    assert float(jnp.mean(batch["y"])) == pytest.approx(0.0, abs=1e-5)
    assert float(jnp.std(batch["y"])) == pytest.approx(1.0, rel=1e-5)
    params = jax.tree.map(jnp.zeros_like, task.init(jax.random.key(0)))
    # zero weights predict 0, the training mean: the loss is the target's variance
    assert float(task.loss(params, batch)) == pytest.approx(1.0, rel=1e-5)
    held_out = float(task.evaluate(params)["test_loss"])
    assert 0.5 < held_out < 2.0 and task.logits is None


def test_a_noisy_tanh_regression_adds_the_noise_to_its_targets():
    task = tasks.get("growth2-tanh-d32-noisy")
    assert (task.n_train, task.batch_size, task.steps) == (2048, 64, 600)
    batch = task.batch(jnp.arange(2048))
    kx, kw = jax.random.split(jax.random.key(4))
    x = jax.random.normal(kx, (2048, 32))
    np.testing.assert_allclose(batch["x"], x)
    residual = batch["y"] - jnp.tanh(x @ jax.random.normal(kw, (32,)))
    assert float(jnp.std(residual)) == pytest.approx(0.1, rel=0.05)
    # the floor: the noise's variance at w_*, on the held-out examples too
    w_star = jax.random.normal(kw, (32,))
    assert float(task.evaluate(w_star)["test_loss"]) == pytest.approx(0.01, rel=0.1)
    assert "noise 0.1" in task.description and "README" not in task.description


def test_the_zoo_initialisation_is_glorot_normal_with_zero_biases():
    params = tasks.get("zoo-digits-deep").init(jax.random.key(0))
    keys = jax.random.split(jax.random.key(0), 4)
    glorot = jax.nn.initializers.glorot_normal()
    shapes = [(64, 128), (128, 128), (128, 128), (128, 10)]
    for layer, k, shape in zip(params, keys, shapes, strict=True):
        chex.assert_trees_all_equal(layer["w"], glorot(k, shape, jnp.float32))
        chex.assert_trees_all_equal(layer["b"], jnp.zeros(shape[1], jnp.float32))


def test_the_tanh_regression_is_the_readmes_scored_on_new_examples():
    task = tasks.get("growth-tanh-regression")
    assert (task.n_train, task.batch_size, task.steps) == (1024, 64, 400)
    batch = task.batch(jnp.arange(1024))
    w = jnp.zeros(16)
    assert task.loss(w, batch) == pytest.approx(float(jnp.mean(batch["y"] ** 2)))
    kx, kw = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (1024, 16))
    np.testing.assert_allclose(batch["x"], x)
    y = jnp.tanh(x @ jax.random.normal(kw, (16,)))
    np.testing.assert_allclose(batch["y"], y)
    held_out = task.evaluate(w)["test_loss"]
    assert held_out != pytest.approx(float(task.loss(w, batch)))


def test_the_second_synthetic_sets_raw_features_span_three_decades():
    x_std, y, n_test = zoo._dataset("synth2")
    x_raw, y_raw, _ = zoo._dataset("synth2_raw")
    np.testing.assert_array_equal(y, y_raw)
    assert (x_std.shape, n_test, int(y.max()) + 1) == ((30_000, 20), 10_000, 3)
    spread = x_raw.std(0) / x_std.std(0)
    assert 0.9 < spread.min() and spread.max() < 1100
    assert spread.max() / spread.min() > 100


def test_scalings_are_what_their_names_say():
    x, _, _ = zoo._dataset("breast_cancer")
    train, test = x[:300], x[300:]
    std, _ = zoo._scale(train, test, "std")
    np.testing.assert_allclose(std.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(std.std(0), 1, atol=1e-9)
    unit, _ = zoo._scale(train, test, "01")
    assert unit.min() == 0 and unit.max() == 1
    np.testing.assert_array_equal(zoo._scale(train, test, "raw")[0], train)
    with pytest.raises(ValueError, match="scaling must be one of"):
        zoo._scale(train, test, "log")


def test_weight_decay_is_in_the_training_loss_not_the_held_out_one():
    plain, decayed = tasks.get("zoo-digits-std"), tasks.get("zoo-digits-wd")
    params = plain.init(jax.random.key(0))
    batch = plain.batch(jnp.arange(8))
    l2 = 0.5 * 1e-3 * sum(jnp.sum(x**2) for x in jax.tree.leaves(params))
    assert decayed.loss(params, batch) == pytest.approx(plain.loss(params, batch) + l2)
    held_out = decayed.evaluate(params), plain.evaluate(params)
    chex.assert_trees_all_close(*held_out)


def _index_task(n=40, batch_size=4, sampling="epochs"):
    """A task whose batches are their own sample indices."""
    return tasks.Task(
        name="idx",
        init=lambda key: jnp.zeros(()),
        loss=lambda p, b: p,
        batch=lambda idx: idx,
        evaluate=lambda p: {"m": p},
        n_train=n,
        batch_size=batch_size,
        steps=10,
        metric="m",
        sampling=sampling,
    )


def _method(obj_batch):
    return dataclasses.replace(methods.get("glyder-sgd"), obj_batch=obj_batch)


def test_holdout_estimates_come_from_examples_never_trained_on():
    task = _index_task()
    fit, held = runner.holdout_split(task)
    assert (fit, held) == (32, 8)
    key = jax.random.key(0)
    for t in range(30):
        idx, obj = runner._batches(_method("holdout"), task, key, jnp.asarray(t))
        assert np.all(np.asarray(idx) < fit)
        assert np.all((np.asarray(obj()) >= fit) & (np.asarray(obj()) < task.n_train))


def test_validation_runs_train_and_estimate_on_90_percent_and_validate_on_the_rest():
    task = dataclasses.replace(_index_task(), loss=lambda p, b: jnp.sum(b))
    fit, held = runner.holdout_split(task, runner.VALIDATION_FRACTION)
    assert (fit, held) == (36, 4)
    np.testing.assert_array_equal(runner.validation_indices(task), [36, 37, 38, 39])
    method = dataclasses.replace(methods.get("glyder-adam-val"), obj_batch="validation")
    key = jax.random.key(0)
    for t in range(30):
        idx, obj = runner._batches(method, task, key, jnp.asarray(t))
        assert np.all(np.asarray(idx) < fit) and np.all(np.asarray(obj()) < fit)
        np.testing.assert_array_equal(
            obj(), runner.batch_indices(task, key, jnp.asarray(t + 1), fit)
        )
    extra = runner._extra_args(method, task, idx, 0.0, obj)
    assert sorted(extra) == ["obj_fn", "val_fn"]
    assert int(extra["val_fn"](None)) == 36 + 37 + 38 + 39  # the same examples
    assert int(extra["obj_fn"](None)) == int(np.sum(obj()))


def test_same_split_and_next_estimate_batches():
    task, key = _index_task(), jax.random.key(1)
    t = jnp.asarray(3)
    idx, obj = runner._batches(_method("same"), task, key, t)
    np.testing.assert_array_equal(obj(), idx)
    full = runner.batch_indices(task, key, t)
    idx, obj = runner._batches(_method("split"), task, key, t)
    np.testing.assert_array_equal(np.concatenate([idx, obj()]), full)
    idx, obj = runner._batches(_method("next"), task, key, t)
    np.testing.assert_array_equal(obj(), runner.batch_indices(task, key, t + 1))


def test_stream_sampling_sees_every_example_once_per_pass_from_a_seed_start():
    task = _index_task(sampling="stream")
    seen = {}
    for seed in (0, 1):
        key = jax.random.key(seed)
        steps = [runner.batch_indices(task, key, jnp.asarray(t)) for t in range(10)]
        seen[seed] = np.concatenate(steps)
        np.testing.assert_array_equal(np.sort(seen[seed]), np.arange(40))
    assert seen[0][0] != seen[1][0]


def test_cli_rejects_unknown_names_and_bad_numbers_in_one_line(capsys):
    for argv in (
        ["run", "--tasks", "nope"],
        ["run", "--methods", "glyder-adam,nope"],
        ["run", "--steps", "0"],
        ["run", "--seeds", "a"],
        ["overhead", "--tasks", "nope"],
        ["along", "--methods", "nope"],
    ):
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err
        assert "nope" in err or "integer" in err


def test_cli_help_gives_every_option_a_meaning_and_a_default(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    text = capsys.readouterr().out
    for option in ("--suite", "--tasks", "--methods", "--seeds", "--steps", "--out"):
        assert option in text
    assert text.count("default") >= 8


def test_a_logged_run_prints_one_line_per_finished_run(tmp_path):
    lines = []
    chosen = dataclasses.replace(
        suite.SUITES["zoo-quick"],
        tasks=("zoo-breast-std",),
        methods=("glyder-sgd", "dog"),
        seeds=(0,),
        steps=4,
        eval_points=2,
    )
    suite.run(chosen, tmp_path, log=lines.append, log_runs=True)
    assert [line.split(":")[0] for line in lines] == [
        "zoo-breast-std glyder-sgd",
        "zoo-breast-std dog",
        "zoo-breast-std",
    ]
    assert (tmp_path / "profiles.png").exists() is False  # no tuned cosine ran

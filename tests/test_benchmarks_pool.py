"""Seeds pooled across runs and the noise floor, against hand computations."""

import json

import numpy as np
import pytest

from benchmarks import __main__ as cli
from benchmarks import pool, report


def _payload(task, seeds, finals):
    """A run of ``task``: ``finals[name]`` is (grid points, seeds) of final
    values (``sgd-cosine`` a tuned baseline with a 2-point grid, the others
    untuned), each curve flat at 10 then the final value."""

    def run(name, x):
        x = np.asarray(x, float)
        tuned = name.endswith("cosine")
        curves = np.stack([np.full_like(x, 10.0), x], axis=-1)
        return {
            "base": "sgd",
            "family": "baseline" if tuned else "ours",
            "grid": [0.1, 1.0] if tuned else ([0.5, 2.0] if len(x) == 2 else None),
            "category": "tuned" if tuned else "self-tuning",
            "wall_s": 1.0,
            "evals": {"loss": curves.tolist()},
        }

    return {
        "benchmark": "harness",
        "task": task,
        "seeds": list(seeds),
        "metric": "loss",
        "eval_steps": [0, 10],
        "methods": {n: run(n, x) for n, x in finals.items()},
    }


# Two runs of one workload, three seeds each.
RUN_A = _payload(
    "zoo-w",
    [0, 1, 2],
    {
        "sgd-cosine": [[1.0, 2.0, 3.0], [4.0, 0.5, 1.5]],  # medians 2, 1.5
        "m": [[3.0, 6.0, 4.5]],  # median 4.5
        "g": [[2.0, 2.0, 2.0], [9.0, 9.0, np.nan]],
    },
)
RUN_B = _payload(
    "zoo-w",
    [3, 4, 5],
    {
        "sgd-cosine": [[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]],  # medians 1, 3
        "m": [[1.0, 2.0, 12.0]],  # median 2
        "g": [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]],
    },
)


def _pool_argv(tmp_path):
    """RUN_A and RUN_B written as two run folders: the pool command over them."""
    for name, run in (("a", RUN_A), ("b", RUN_B)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "zoo-w.json").write_text(json.dumps(run))
    return ["pool", str(tmp_path / "a"), str(tmp_path / "b"), "--methods", "m,g:1"]


def test_pooled_ratio_is_the_median_over_all_seeds_over_the_pooled_best_cosine():
    # cosine, pooled: lr 0.1 -> median(1, 2, 3, 1, 1, 1) = 1; lr 1 -> 3
    # m pooled: median(3, 6, 4.5, 1, 2, 12) = 3.75
    assert pool.vs_base([RUN_A, RUN_B], "m") == pytest.approx(3.75 / 1.0)
    # grid point 1 of g: median(9, 9, inf, 1, 1, 1) = 5; bare: best point, 2
    assert pool.vs_base([RUN_A, RUN_B], "g:1") == pytest.approx(5.0)
    assert pool.vs_base([RUN_A, RUN_B], "g") == pytest.approx(2.0)


def test_one_run_alone_gives_reports_vs_base():
    for run in (RUN_A, RUN_B):
        expected = report.summarise(run)["m"]["vs_base"]
        assert pool.vs_base([run], "m") == pytest.approx(expected)
    assert pool.vs_base([RUN_A], "m") == pytest.approx(4.5 / 1.5)


def test_merged_payload_gives_report_the_pooled_seeds():
    merged = pool.merge([RUN_A, RUN_B])
    assert merged["seeds"] == [0, 1, 2, 3, 4, 5]
    assert np.shape(merged["methods"]["m"]["evals"]["loss"]) == (1, 6, 2)
    summary = report.summarise(merged)
    assert summary["m"]["vs_base"] == pytest.approx(pool.vs_base([RUN_A, RUN_B], "m"))
    assert summary["sgd-cosine"]["lr"] == 0.1  # chosen on the six seeds
    only = pool.merge([RUN_A, RUN_B], ["m", "sgd-cosine"])
    assert list(only["methods"]) == ["m", "sgd-cosine"]


def test_runs_with_other_evaluation_steps_are_not_merged():
    other = {**RUN_B, "eval_steps": [0, 20]}
    with pytest.raises(ValueError, match="differ in eval_steps"):
        pool.merge([RUN_A, other])


def test_bootstrap_draws_the_same_seeds_for_the_entry_and_its_reference():
    # Seed by seed, m is twice the cosine's best point: every paired draw
    # gives exactly 2, though both vary over seeds (unpaired draws would not).
    cos = [[1.0, 3.0, 2.0], [10.0, 10.0, 10.0]]
    a = _payload("zoo-w", [0, 1, 2], {"sgd-cosine": cos, "m": [[2.0, 6.0, 4.0]]})
    b = _payload("zoo-w", [3, 4, 5], {"sgd-cosine": cos, "m": [[2.0, 6.0, 4.0]]})
    assert pool.interval([a, b], "m") == pytest.approx((2.0, 2.0))
    lo, hi = pool.interval([RUN_A, RUN_B], "m")
    assert lo < pool.vs_base([RUN_A, RUN_B], "m") < hi
    assert pool.interval([RUN_A, RUN_B], "absent") is None


def test_bootstrap_table_counts_the_misses_the_seeds_cannot_explain():
    cos = [[1.0, 3.0, 2.0], [10.0, 10.0, 10.0]]
    a = _payload("zoo-w", [0, 1, 2], {"sgd-cosine": cos, "m": [[2.0, 6.0, 4.0]]})
    b = _payload("zoo-w", [3, 4, 5], {"sgd-cosine": cos, "m": [[2.0, 6.0, 4.0]]})
    text = pool.tables([[a], [b]], ["m"], bootstrap=True)
    assert "| m | 1 | 0 | 0 | w 2 |" in text


def test_noise_floor_keeps_the_first_runs_learning_rate():
    workloads = pool.by_workload([[RUN_A], [RUN_B]])
    # chosen on run A: lr 1 (median 1.5); on run B's seeds its median is 3
    assert pool.noise_floor(workloads, "sgd-cosine", 1) == {"zoo-w": 2.0}


def test_summary_worst_where_geometric_mean_and_count_within_the_bar():
    worst, where, geo, within = pool.summary({"zoo-a": 1.0, "zoo-b": 4.0, "c": 1.1})
    assert (worst, where, within) == (4.0, "b", "2/3")
    assert geo == pytest.approx(4.4 ** (1 / 3))


def test_runs_sharing_a_seed_are_refused():
    with pytest.raises(ValueError, match=r"share seeds.*different --seeds"):
        pool.by_workload([[RUN_A], [RUN_A]])


def test_only_the_workloads_every_run_has_are_pooled():
    other = _payload("zoo-v", [3, 4, 5], {"sgd-cosine": [[1.0] * 3] * 2})
    assert list(pool.by_workload([[RUN_A], [RUN_B, other]])) == ["zoo-w"]


def test_cli_prints_each_run_the_pool_and_the_noise_floor(tmp_path, capsys):
    argv = _pool_argv(tmp_path)
    assert cli.main([*argv, "--per-workload", "--leaderboard"]) == 0
    out = capsys.readouterr().out
    assert "| m | 0,1,2 | 3 | w | 3 | 0/1 |" in out
    assert "| m | 0,1,2,3,4,5 (pooled) | 3.75 | w | 3.75 | 0/1 |" in out
    assert "| g:1 | 3,4,5 | 1 | w | 1 | 1/1 |" in out
    assert "| sgd-cosine | 3,4,5 | 2 | w | 2 | 0/1 |" in out
    assert "| entry (pooled) | w |" in out and "| g:1 | 5 |" in out
    # Leaderboards of each run and the pool: the target is the cosine's
    # final value; m reaches it on neither run (4.5 > 1.5, 2 > 1).
    assert "Seeds 0,1,2,3,4,5 (pooled), the methods every run has" in out
    assert out.count("Leaderboard over 1 workloads") == 3
    assert "| m | self-tuning | 0 | 0/1 |" in out
    assert "oracle's early stop" not in out
    assert cli.main([*argv, "--early-stop"]) == 0
    # m's pooled median curve is (10, 3.75): stopped = at the end
    assert (
        "| m | 3.75 | 3.75 | w | 3.75 | 0/1 | w 3.75 @1.00 |" in capsys.readouterr().out
    )
    assert cli.main([*argv, "--calibrate"]) == 0
    # the pooled cosine: medians 1 (lr 0.1) and 3 (lr 1)
    assert "| sgd-cosine | one for every workload (0.1) | 1 | w | 1 | 1/1 |" in (
        capsys.readouterr().out
    )


def test_cli_error_on_a_folder_without_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["pool", str(tmp_path), "--methods", "m"])
    assert e.value.code == 2
    assert "holds no harness JSON files" in capsys.readouterr().err


def test_one_run_alone_has_no_pooled_rows_and_no_noise_floor():
    text = pool.tables([[RUN_A]], ["m"], leaderboards=True)
    assert "(pooled)" not in text and "(one run: none)" in text
    assert text.count("Leaderboard over 1 workloads") == 1
    assert "| m | 0,1,2 | 3 | w | 3 | 0/1 |" in text


def test_the_leaderboards_name_the_methods_only_some_workloads_have():
    other = _payload(
        "zoo-v", [0, 1, 2], {"sgd-cosine": [[1.0] * 3] * 2, "m": [[2.0] * 3]}
    )
    text = pool.tables([[RUN_A, other]], ["m"], leaderboards=True)
    assert "Not on every workload" in text and ": g (1 of 2)." in text
    assert "Not on every workload" not in pool.tables(
        [[RUN_A]], ["m"], leaderboards=True
    )


def _curved(seeds, curves):
    """A run of ``zoo-w`` over evaluations at steps 0, 5, 10, 20:
    ``curves[name]`` is (grid points, seeds, 4); ``sgd-cosine`` is tuned."""
    payload = _payload(
        "zoo-w", seeds, {n: np.asarray(c)[..., -1] for n, c in curves.items()}
    )
    payload["eval_steps"] = [0, 5, 10, 20]
    for name, c in curves.items():
        payload["methods"][name]["evals"]["loss"] = np.asarray(c, float).tolist()
    return payload


# The cosine's finals: lr 0.1 median 2, lr 1 median 1.5 -> reference 1.5.
COSINE = [
    [[9, 9, 9, 1.0], [9, 9, 9, 2.0], [9, 9, 9, 3.0]],
    [[9, 9, 9, 4.0], [9, 9, 9, 0.5], [9, 9, 9, 1.5]],
]
STOPPING = _curved(
    [0, 1, 2],
    {
        "sgd-cosine": COSINE,
        # median curve (10, 2, 2, 6): lowest 2, first at step 5 of 20
        "m": [[[10, 3, 1, 6], [10, 1, 2, 6], [10, 2, 9, np.nan]]],
        # step 0 is lowest (0.5) but does not count: median (0.5, 3, 3, 3)
        "h": [[[0.5, 3, 3, 3]] * 3],
        # point 0 ends lower (1 vs 3) and is kept, though point 1 dips to 0.1
        "g": [[[10, 4, 4, 1]] * 3, [[10, 0.1, 3, 3]] * 3],
    },
)


def test_early_stop_is_the_lowest_point_of_the_median_curve_after_step_0():
    assert pool.vs_base([STOPPING], "m") == pytest.approx(6 / 1.5)
    assert pool.stopped([STOPPING], "m") == pytest.approx((2 / 1.5, 5 / 20))
    assert pool.stopped([STOPPING], "h") == pytest.approx((3 / 1.5, 5 / 20))
    assert pool.stopped([STOPPING], "g") == pytest.approx((1 / 1.5, 1.0))
    assert pool.stopped([STOPPING], "g:1") == pytest.approx((0.1 / 1.5, 5 / 20))
    assert pool.stopped([STOPPING], "absent") is None


def test_early_stop_pools_the_seeds_of_every_run():
    other = _curved(
        [3, 4, 5],
        {
            "sgd-cosine": COSINE,
            "m": [[[10, 0.3, 0.3, 9]] * 3],
            "h": [[[1, 1, 1, 1]] * 3],
        },
    )
    # m over six seeds: at step 5 median(3, 1, 2, 0.3, 0.3, 0.3) = 0.65, the
    # same at step 10, then 9; the cosine's pooled best point is still 1.5
    assert pool.stopped([STOPPING, other], "m") == pytest.approx((0.65 / 1.5, 0.25))
    with pytest.raises(ValueError, match="differ in eval_steps"):
        pool.stopped([STOPPING, {**other, "eval_steps": [0, 1, 2, 3]}], "m")


def test_early_stop_table_lists_what_stays_above_the_bar():
    text = pool.tables([[STOPPING]], ["m", "g"], early_stop=True)
    assert "| m | 4 | 1.33 | w | 1.33 | 0/1 | w 1.33 @0.25 |" in text
    assert "| g | 0.667 | 0.667 | w | 0.667 | 1/1 | - |" in text
    assert "oracle's early stop" not in pool.tables([[STOPPING]], ["m"])


def test_off_by_one_is_each_neighbour_of_the_best_point_over_it():
    cos = [[4.0] * 3, [2.0] * 3, [3.0] * 3, [8.0] * 3]  # best: point 1
    run = _payload("zoo-w", [0, 1, 2], {"sgd-cosine": cos[:2]})
    run["methods"]["sgd-cosine"]["evals"]["loss"] = [
        [[10.0, v] for v in row] for row in cos
    ]
    run["methods"]["sgd-cosine"]["grid"] = [0.01, 0.1, 1.0, 10.0]
    assert pool.off_by_one([run], "sgd-cosine") == pytest.approx((1.5, 2.0))
    # pooled over both runs: medians 1 (lr 0.1) and 3 (lr 1); one neighbour
    assert pool.off_by_one([RUN_A, RUN_B], "sgd-cosine") == pytest.approx((3.0, 3.0))
    assert pool.off_by_one([RUN_A], "absent") is None


def test_one_rate_is_the_grid_point_with_the_lowest_worst_case():
    # w: medians 1 and 3 (lr 0.1 best); v: medians 4 and 2 (lr 1 best).
    # lr 0.1: w 1, v 2; lr 1: w 3, v 1. The lowest worst: lr 0.1 (2 < 3).
    v = _payload("zoo-v", [0, 1, 2], {"sgd-cosine": [[4.0] * 3, [2.0] * 3]})
    workloads = pool.by_workload([[RUN_B, v]])
    point, values = pool.one_rate(workloads, "sgd-cosine")
    assert point == 0
    assert values == pytest.approx({"zoo-v": 2.0, "zoo-w": 1.0})
    text = pool.tables([[RUN_B, v]], ["m"], calibrate=True)
    assert "| sgd-cosine | one for every workload (0.1) | 2 | v | 1.41 | 1/2 |" in text
    # w: 3 / 1; v: 4 / 2; the geometric mean sqrt(6)
    assert "| sgd-cosine | one grid step off, the better side | 3 | w | 2.45 |" in text


def test_against_step_sets_each_ratio_beside_the_cosine_one_grid_step_off():
    # the cosine's medians 4, 2, 3, 8: best 2 (lr 0.1), the better side 3
    # (lr 1) -> one step off 1.5. m (median 3.6) is 1.8 > both 1.10 and 1.5;
    # g's grid point 1 (median 2.8) is 1.4: above the bar, within one step.
    cos = [[4.0] * 3, [2.0] * 3, [3.0] * 3, [8.0] * 3]
    run = _payload(
        "zoo-w",
        [0, 1, 2],
        {"sgd-cosine": cos[:2], "m": [[3.6] * 3], "g": [[5.0] * 3, [2.8] * 3]},
    )
    run["methods"]["sgd-cosine"]["evals"]["loss"] = [
        [[10.0, v] for v in row] for row in cos
    ]
    run["methods"]["sgd-cosine"]["grid"] = [0.01, 0.1, 1.0, 10.0]
    assert pool.against_step([run], "m") == pytest.approx((1.8, 1.5))
    assert pool.against_step([run], "g:1") == pytest.approx((1.4, 1.5))
    assert pool.against_step([run], "absent") is None
    text = pool.tables([[run]], ["m", "g:1"], calibrate=True)
    assert "| m | 1.2 | w | 0/1 | w 1.8 (1.5) |" in text
    assert "| g:1 | 0.933 | w | 1/1 | - |" in text
    assert "one step off" not in pool.tables([[run]], ["m"])


def test_calibration_skips_a_baseline_missing_from_a_run():
    other = _payload("zoo-w", [3, 4, 5], {"m": [[1.0] * 3]})  # no cosine here
    workloads = pool.by_workload([[RUN_A], [other]])
    assert pool.one_rate(workloads, "sgd-cosine") is None
    assert pool.off_by_one(workloads["zoo-w"], "sgd-cosine") is None


def test_held_out_chooses_on_the_first_run_and_scores_on_the_later_ones():
    # The cosine on run A: medians 2 (lr 0.1) and 1.5 (lr 1): lr 1 is
    # chosen; on run B it scores median(3, 3, 3) = 3, the reference. Chosen
    # on the pooled seeds instead, lr 0.1 would score 1.
    assert pool.held_out([RUN_A, RUN_B], "sgd-cosine") == pytest.approx(1.0)
    assert pool.held_out([RUN_A, RUN_B], "m") == pytest.approx(2.0 / 3.0)
    # g's grid point 1 as asked; bare g takes its point best on run A (0:
    # 2 against median(9, 9, inf) = 9), which scores 2 on run B
    assert pool.held_out([RUN_A, RUN_B], "g:1") == pytest.approx(1.0 / 3.0)
    assert pool.held_out([RUN_A, RUN_B], "g") == pytest.approx(2.0 / 3.0)
    # one run, or an entry missing from a run: nothing to hold out
    assert pool.held_out([RUN_A], "m") is None
    assert pool.held_out([RUN_A, RUN_B], "absent") is None


def test_held_out_table_and_cli_flag(tmp_path, capsys):
    argv = _pool_argv(tmp_path)
    assert cli.main([*argv, "--held-out-lr"]) == 0
    out = capsys.readouterr().out
    assert "Held-out learning rates: each tuned baseline" in out
    assert "| m | 0.667 | w | 0.667 | 1/1 |" in out
    assert "| g:1 | 0.333 |" in out
    text = pool.tables([[RUN_A]], ["m"], held_out_lr=True)
    assert "Held-out learning rates: none (one run, or no reference)" in text


# One seed at lr 1 ends at 12, above where it started (10): the lowest median
# (0.5, lr 1) is a learning rate that fails a seed.
SPLIT = _payload(
    "zoo-w",
    [0, 1, 2],
    {"sgd-cosine": [[2.0, 2.0, 2.0], [0.5, 0.5, 12.0]], "m": [[1.5] * 3]},
)


def test_a_point_trains_on_every_seed_when_each_ends_finite_and_below_its_start():
    assert pool.trains_on_every_seed([SPLIT], "sgd-cosine").tolist() == [True, False]
    assert pool.trains_on_every_seed([RUN_A], "sgd-cosine").tolist() == [True, True]
    # a non-finite seed fails its point; a seed at its start passes
    assert pool.trains_on_every_seed([RUN_A], "g").tolist() == [True, False]
    flat = _payload("zoo-w", [0], {"sgd-cosine": [[10.0], [1.0]]})
    assert pool.trains_on_every_seed([flat], "sgd-cosine").tolist() == [True, True]


def test_stable_reference_drops_the_points_that_fail_a_seed():
    # the reference 0.5 (lr 1) -> 2 (lr 0.1): m 3 -> 0.75
    assert pool.vs_base([SPLIT], "m") == pytest.approx(3.0)
    workloads, rows = pool.stable({"zoo-w": [SPLIT]})
    assert pool.vs_base(workloads["zoo-w"], "m") == pytest.approx(0.75)
    assert rows == [["w", "sgd-cosine", "1", "1 -> 0.1", "0.5 -> 2"]]
    # the input is left as it was; an entry that is not tuned is untouched
    assert pool.vs_base([SPLIT], "m") == pytest.approx(3.0)
    assert workloads["zoo-w"][0]["methods"]["m"] is SPLIT["methods"]["m"]


def test_stable_reference_pools_the_seeds_of_every_run():
    # lr 1 fails one seed of the second run only: dropped from both runs
    other = _payload("zoo-w", [6, 7, 8], {"sgd-cosine": [[2.0] * 3, [0.5, 0.5, 11.0]]})
    workloads, _ = pool.stable(pool.by_workload([[RUN_B], [other]]))
    for payload in workloads["zoo-w"]:
        loss = np.asarray(payload["methods"]["sgd-cosine"]["evals"]["loss"])
        assert np.isinf(loss[1]).all() and np.isfinite(loss[0]).all()
    # RUN_B alone trains on every seed: nothing dropped
    assert pool.stable(pool.by_workload([[RUN_B]]))[1] == []


def test_a_baseline_failing_a_seed_at_every_point_is_kept_whole():
    bad = _payload("zoo-w", [0, 1], {"sgd-cosine": [[1.0, 11.0], [np.nan, 2.0]]})
    workloads, rows = pool.stable({"zoo-w": [bad]})
    assert workloads["zoo-w"][0] is bad
    assert rows[0][2] == "none (every point fails: 0.1, 1)"


def test_stable_reference_table_and_cli_flag(tmp_path, capsys):
    text = pool.tables([[SPLIT]], ["m"], stable_reference=True)
    assert text.startswith("Stable references: each tuned baseline only at")
    assert "| w | sgd-cosine | 1 | 1 -> 0.1 | 0.5 -> 2 |" in text
    assert "| m | 0,1,2 | 0.75 | w | 0.75 | 1/1 |" in text
    assert "Stable references" not in pool.tables([[SPLIT]], ["m"])
    argv = _pool_argv(tmp_path)
    assert cli.main([*argv, "--stable-reference"]) == 0
    assert "every point of every baseline trains on every seed" in (
        capsys.readouterr().out
    )


def test_folders_joined_by_a_comma_are_one_run_over_both_zoos(tmp_path, capsys):
    # zoo-v: m at 4 against the cosine's 2 (ratio 2); zoo-w as RUN_A (4.5 / 1.5)
    other = _payload(
        "zoo-v", [0, 1, 2], {"sgd-cosine": [[2.0] * 3] * 2, "m": [[4.0] * 3]}
    )
    assert list(pool.by_workload([[RUN_A, other]])) == ["zoo-v", "zoo-w"]
    for name, run in (("a", RUN_A), ("v", other)):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{run['task']}.json").write_text(json.dumps(run))
    joined = f"{tmp_path / 'a'},{tmp_path / 'v'}"
    assert cli.main(["pool", joined, "--methods", "m"]) == 0
    assert "| m | 0,1,2 | 3 | w | 2.45 | 0/2 |" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        cli.main(["pool", f"{joined},{tmp_path / 'empty'}", "--methods", "m"])
    assert e.value.code == 2
    assert "holds no harness JSON files" in capsys.readouterr().err


def test_a_run_holding_a_workload_twice_is_refused():
    with pytest.raises(ValueError, match=r"holds zoo-w twice: folders joined by a"):
        pool.by_workload([[RUN_A, RUN_B]])


def test_oracle_point_is_the_grid_value_of_the_best_pooled_median():
    # g pooled: 0.5 -> median(2, 2, 2, 2, 2, 2) = 2; 2.0 -> median(9, 9,
    # inf, 1, 1, 1) = 5; over the pooled cosine's best (1)
    assert pool.oracle_point([RUN_A, RUN_B], "g") == (0.5, 2.0)
    # RUN_B alone: 2.0 -> 1, over its cosine's best (1)
    assert pool.oracle_point([RUN_B], "g") == (2.0, 1.0)
    assert pool.oracle_point([RUN_A], "m") is None  # no grid
    assert pool.oracle_point([RUN_A], "g:1") is None  # one point, no choice
    assert pool.oracle_point([RUN_A], "absent") is None


def _with_log(run, logged, steps=(5, 10, 15, 20)):
    g = {**run["methods"]["g"], "logged": logged, "curve_steps": list(steps)}
    return {**run, "methods": {**run["methods"], "g": g}}


def test_logged_median_reads_the_steps_up_to_the_bound_at_the_best_point():
    a = _with_log(RUN_A, [[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    b = _with_log(RUN_B, [[5.0, 5.0, 5.0, 5.0], [7.0, 8.0, 9.0, 10.0]])
    assert pool.logged_median([a], "g", until=10) == 1.5  # point 0 (2 < 9)
    assert pool.logged_median([a], "g:1", until=15) == 20.0
    assert pool.logged_median([b], "g", until=20) == 8.5  # point 1 (1 < 2)
    # pooled: the best point is 0 (2 < 5); the median of 1.5 and 5
    assert pool.logged_median([a, b], "g", until=10) == 3.25
    assert pool.logged_median([a, RUN_B], "g", until=10) is None  # B logs nothing
    assert pool.logged_median([a], "m", until=10) is None


def test_oracle_and_logged_tables_and_their_cli_flags(tmp_path, capsys):
    a = _with_log({**RUN_A, "steps": 20, "batch_size": 8}, [[1.0] * 4, [2.0] * 4])
    text = pool.tables([[a]], ["m", "g", "g:1"], oracle=True, logged_until=10)
    assert "| workload | steps | batch size | g: best point (`vs base`) |\n" in text
    assert "| w | 20 | 8 | 0.5 (1.33) |" in text  # point 0: median 2 over 1.5
    assert "over steps <= 10" in text and "| g | 1 |" in text
    assert "m: best point" not in text and "| m | 1 |" not in text
    assert "no entry of --methods has a grid" in pool.tables([[a]], ["m"], oracle=True)
    argv = _pool_argv(tmp_path)
    assert cli.main([*argv, "--oracle", "--logged-until", "10"]) == 0
    out = capsys.readouterr().out
    assert "The oracle's points" in out and "no entry of --methods logs one" in out
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--logged-until", "0"])
    assert e.value.code == 2


def test_logged_curve_is_the_runs_median_at_evenly_spaced_stored_steps():
    a = _with_log(RUN_A, [[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    b = _with_log(RUN_B, [[5.0, 5.0, 5.0, 5.0], [7.0, 8.0, 9.0, 10.0]])
    # points 0, 1.5 -> 2, 3 of four stored steps; grid point 0 (as vs base's)
    assert pool.logged_curve([a], "g", points=3) == ([5, 15, 20], [1.0, 3.0, 4.0])
    assert pool.logged_curve([a], "g:1", points=2) == ([5, 20], [10.0, 40.0])
    assert pool.logged_curve([a], "g") == ([5, 10, 15, 20], [1.0, 2.0, 3.0, 4.0])
    # pooled: point 0; the median of (1, 2, 3, 4) and (5, 5, 5, 5) per step
    assert pool.logged_curve([a, b], "g", points=2) == ([5, 20], [3.0, 4.5])
    assert pool.logged_curve([a, RUN_B], "g") is None  # B logs nothing
    shifted = _with_log(RUN_B, [[5.0] * 4] * 2, steps=(4, 8, 12, 16))
    with pytest.raises(ValueError, match="log at different steps"):
        pool.logged_curve([a, shifted], "g")


def test_the_logged_curve_table_and_its_cli_flag(tmp_path, capsys):
    a = _with_log(RUN_A, [[1.0, 2.0, 3.0, 4.0], [2.0] * 4])
    text = pool.tables([[a]], ["m", "g"], logged_curve_of="zoo-w")
    assert "| entry (logged) at step | 5 | 10 | 15 | 20 |" in text
    assert "| g | 1 | 2 | 3 | 4 |" in text and "| m |" not in text.split("curves")[1]
    with pytest.raises(ValueError, match="--logged-curve zoo-x: the runs do not"):
        pool.tables([[a]], ["g"], logged_curve_of="zoo-x")
    _check_workload_flag(tmp_path, capsys, "--logged-curve", "logs one")


def _check_workload_flag(tmp_path, capsys, flag, printed):
    """``pool FLAG zoo-w`` prints ``printed``; ``FLAG zoo-x`` (not held) is a
    usage error."""
    argv = _pool_argv(tmp_path)
    assert cli.main([*argv, flag, "zoo-w"]) == 0
    assert printed in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, flag, "zoo-x"])
    assert e.value.code == 2


def _at_steps(task, steps, g):
    """A run of ``task`` of ``steps`` steps: the cosine's best median 1, the
    grid entry ``g`` at its two points (each seed the same)."""
    run = _payload(task, [0, 1, 2], {"sgd-cosine": [[1.0] * 3, [5.0] * 3], "g": g})
    return {**run, "steps": steps, "batch_size": 8}


# Per point of g (0.5, 2.0), `vs base`: w1 1, 2; w2 3, 2; w3 1, 4.
RULE_RUN = [
    _at_steps("zoo-w1", 10, [[1.0] * 3, [2.0] * 3]),
    _at_steps("zoo-w2", 10, [[3.0] * 3, [2.0] * 3]),
    _at_steps("zoo-w3", 20, [[1.0] * 3, [4.0] * 3]),
]


def test_rule_of_chooses_the_point_with_the_lowest_worst_case_per_value():
    workloads = pool.by_workload([RULE_RUN])
    # at 10 steps: 0.5 has worst 3, 2.0 worst 2; at 20 steps: 0.5 (1 < 4)
    assert pool.rule_of(workloads, "g", "steps") == {
        10: (2.0, {"zoo-w1": 2.0, "zoo-w2": 2.0}),
        20: (0.5, {"zoo-w3": 1.0}),
    }
    # one batch size: the single best point (worst 3 at 0.5, 4 at 2.0)
    assert pool.rule_of(workloads, "g", "batch_size") == {
        8: (0.5, {"zoo-w1": 1.0, "zoo-w2": 3.0, "zoo-w3": 1.0})
    }
    assert pool.rule_of(workloads, "sgd-cosine", "steps")[10][0] == 0.1
    assert pool.rule_of(workloads, "g:1", "steps") is None  # one point
    assert pool.rule_of(workloads, "absent", "steps") is None


def test_rule_table_sets_the_rule_beside_one_point_and_the_oracle(tmp_path, capsys):
    text = pool.tables([RULE_RUN], ["g", "g:0"], oracle_by="steps")
    assert "| g | 10 | 2 | 2 | 2 | w1 |" in text
    assert "| g | 20 | 1 | 0.5 | 1 | w3 |" in text
    # one point 0.5: worst 3 (w2), geometric mean 3^(1/3)
    assert "| g | one point, 0.5 | 3 | w2 | 1.44 | 2/3 |" in text
    # the rule: 2, 2, 1; each workload's best: 1, 2, 1
    assert "| g | the best rule of steps | 2 | w1 | 1.59 | 1/3 |" in text
    assert "| g | each workload's best point | 2 | w2 | 1.26 | 2/3 |" in text
    assert "no entry of --methods has a grid" in pool.tables(
        [RULE_RUN], ["g:1"], oracle_by="batch_size"
    )
    for run in RULE_RUN:
        (tmp_path / f"{run['task']}.json").write_text(json.dumps(run))
    argv = ["pool", str(tmp_path), "--methods", "g"]
    out = _cli_takes_and_refuses(
        argv, ["--oracle-by", "steps"], ["--oracle-by", "epochs"], capsys
    )
    assert "The best rule of steps" in out


def _cli_takes_and_refuses(argv, good, bad, capsys):
    """The pool command's output with ``good`` added (exit 0); with ``bad``
    added it exits 2."""
    assert cli.main([*argv, *good]) == 0
    out = capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, *bad])
    assert e.value.code == 2
    return out


def _with_momentum(run, finals):
    """``run`` with a tuned momentum cosine of (grid points, seeds) finals."""
    extra = _payload(run["task"], run["seeds"], {"momentum-cosine": finals})
    cosine = {**extra["methods"]["momentum-cosine"], "base": "momentum"}
    return {**run, "methods": {**run["methods"], "momentum-cosine": cosine}}


def test_against_scores_the_entries_against_another_bases_cosine(tmp_path, capsys):
    run = _with_momentum(RUN_A, [[2.0] * 3, [4.0] * 3])  # its best median 2
    workloads = pool.by_workload([[run]])
    assert pool.vs_base(workloads["zoo-w"], "m") == 3.0  # 4.5 over SGD's 1.5
    rebased = pool.against(workloads, ["m", "g:1"], "momentum")
    assert pool.vs_base(rebased["zoo-w"], "m") == 2.25  # 4.5 over 2
    assert pool.vs_base(rebased["zoo-w"], "g") == 1.0  # 2 over 2
    assert rebased["zoo-w"][0]["methods"]["sgd-cosine"]["base"] == "sgd"
    assert workloads["zoo-w"][0]["methods"]["m"]["base"] == "sgd"  # a copy
    with pytest.raises(ValueError, match="tuned baselines of momentum, sgd only"):
        pool.against(workloads, ["m"], "adam")
    with pytest.raises(ValueError, match="sgd-cosine is a tuned baseline"):
        pool.against(workloads, ["m", "sgd-cosine"], "momentum")
    text = pool.tables([[run]], ["m"], against_base="momentum")
    assert "against the tuned baselines of momentum" in text
    assert "| m | 0,1,2 | 2.25 | w |" in text
    (tmp_path / "zoo-w.json").write_text(json.dumps(run))
    argv = ["pool", str(tmp_path), "--methods", "m"]
    out = _cli_takes_and_refuses(
        argv, ["--against", "momentum"], ["--against", "adam"], capsys
    )
    assert "| m | 0,1,2 | 2.25 | w |" in out


def _with_first(run, firsts):
    g = {**run["methods"]["g"], "logged_first": firsts}
    return {**run, "methods": {**run["methods"], "g": g}}


def test_per_seed_is_each_seeds_final_over_the_pooled_reference():
    # RUN_A alone: the reference is 1.5 (the cosine's medians 2 and 1.5).
    a = _with_first(RUN_A, [[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])
    assert pool.per_seed([a], "m") == ([0, 1, 2], [2.0, 4.0, 3.0], None)
    # g at its best point 0 (median 2 < 9), or at the point named.
    assert pool.per_seed([a], "g") == ([0, 1, 2], [4 / 3] * 3, [0.1, 0.2, 0.3])
    _, values, firsts = pool.per_seed([a], "g:1")
    assert values[:2] == [6.0, 6.0] and values[2] == np.inf and firsts == [1, 2, 3]
    # Pooled with RUN_B (no first logs): the reference is 1, the cosine's own
    # best point shows its seeds' spread.
    assert pool.per_seed([a, RUN_B], "m") == (
        [0, 1, 2, 3, 4, 5],
        [3.0, 6.0, 4.5, 1.0, 2.0, 12.0],
        None,
    )
    assert pool.per_seed([a, RUN_B], "sgd-cosine")[1] == [1, 2, 3, 1, 1, 1]
    assert pool.per_seed([a], "absent") is None


def test_the_per_seed_table_and_its_cli_flag(tmp_path, capsys):
    a = _with_first(RUN_A, [[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])
    text = pool.tables([[a]], ["m", "g"], per_seed_of="zoo-w")
    assert "| entry, seed | 0 | 1 | 2 |" in text
    assert "| m: vs base | 2 | 4 | 3 |" in text
    assert "| g: log after step 1 | 0.1 | 0.2 | 0.3 |" in text
    assert "m: log after step 1" not in text
    with pytest.raises(ValueError, match="--per-seed zoo-x: the runs do not hold"):
        pool.tables([[a]], ["g"], per_seed_of="zoo-x")
    assert "no entry of --methods" in pool.tables([[a]], ["x"], per_seed_of="zoo-w")
    row = "| m: vs base | 3 | 6 | 4.5 | 1 | 2 | 12 |"
    _check_workload_flag(tmp_path, capsys, "--per-seed", row)

"""AlgoPerf-style scoring: time to target and performance profiles, by hand."""

import numpy as np
import pytest

from benchmarks import report, scoring

STEPS = [0, 10, 20, 30, 40]  # evaluations of a 40-step run


def test_a_run_that_reaches_the_target_at_step_k_of_n_scores_k_over_n():
    curve = [5.0, 3.0, 1.9, 2.5, 1.0]
    assert scoring.time_to_target(curve, STEPS, target=2.0) == 20 / 40
    assert scoring.time_to_target(curve, STEPS, target=1.0) == 40 / 40
    # exactly at the target counts as reaching it
    assert scoring.time_to_target(curve, STEPS, target=3.0) == 10 / 40


def test_a_never_reaching_or_diverged_run_scores_inf():
    assert scoring.time_to_target([5.0, 4, 3, 2.5, 2.1], STEPS, 2.0) == np.inf
    assert scoring.time_to_target([5.0, 4, np.nan, np.inf, 3], STEPS, 2.0) == np.inf
    # the evaluation at step 0 does not count: the method must take a step
    assert scoring.time_to_target([1.0, 4, 3, 3, 3], STEPS, 2.0) == np.inf


def test_profile_of_two_methods_on_three_workloads_against_a_hand_computed_one():
    times = {
        "w1": {"a": 0.5, "b": 1.0},  # ratios a 1, b 2
        "w2": {"a": 0.9, "b": 0.3},  # a 3, b 1
        "w3": {"a": 0.2, "b": np.inf},  # a 1, b never
    }
    ratios = scoring.profile_ratios(times)
    np.testing.assert_allclose(ratios["a"], [1.0, 3.0, 1.0])
    np.testing.assert_allclose(ratios["b"], [2.0, 1.0, np.inf])
    taus = np.array([1.0, 1.5, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(scoring.profile(ratios["a"], taus), [2 / 3] * 3 + [1, 1])
    np.testing.assert_allclose(
        scoring.profile(ratios["b"], taus), [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3]
    )
    # area on [1, 4] / 3: a = (3 + 1 + 3) / 3 / 3; b = (2 + 3 + 0) / 3 / 3
    assert scoring.profile_score(ratios["a"]) == pytest.approx(7 / 9)
    assert scoring.profile_score(ratios["b"]) == pytest.approx(5 / 9)
    # the exact area equals a fine Riemann sum of the step function
    fine = np.linspace(1, 4, 300_001)
    riemann = np.trapezoid(scoring.profile(ratios["a"], fine), fine) / 3
    assert riemann == pytest.approx(7 / 9, abs=1e-4)


def test_a_method_not_run_on_a_workload_counts_as_not_reaching_it():
    ratios = scoring.profile_ratios({"w1": {"a": 0.5, "b": 0.5}, "w2": {"a": 0.5}})
    np.testing.assert_allclose(ratios["b"], [1.0, np.inf])


def _payload(task, finals, steps=(0, 5, 10)):
    """A payload whose methods have one seed and flat-then-final curves."""

    def run(family, grid, curve, category):
        evals = [[[c] for c in curve]] if grid is None else [[list(curve)]] * len(grid)
        return {
            **{"base": "sgd", "family": family, "grid": grid, "wall_s": 1.0},
            **{"evals": {"m": [[list(curve)]] if grid is None else evals}},
            "category": category,
            "curve_steps": [5, 10],
            "train_loss": [[1.0, 0.5]],
        }

    methods = {
        name: run(
            "baseline" if name.endswith("cosine") else "ours",
            [0.1] if name.endswith("cosine") else None,
            curve,
            "tuned" if name.endswith("cosine") else "self-tuning",
        )
        for name, curve in finals.items()
    }
    return {
        **{"task": task, "description": "d", "steps": steps[-1], "batch_size": 1},
        **{"seeds": [0], "metric": "m", "eval_steps": list(steps)},
        "methods": methods,
    }


def test_summary_and_leaderboard_use_the_tuned_cosine_target():
    p1 = _payload("t1", {"sgd-cosine": [3, 2, 1.0], "fast": [3, 0.9, 0.8]})
    p2 = _payload("t2", {"adam-cosine": [3, 2, 1.0], "fast": [3, 2, 2.0]})
    s = report.summarise(p1)
    assert s["fast"]["target"] == 1.0 and s["fast"]["time"] == 0.5
    assert s["sgd-cosine"]["time"] == 1.0 and s["fast"]["vs_target"] == 0.8
    text, ratios, categories = report.leaderboard([p1, p2])
    np.testing.assert_allclose(ratios["fast"], [1.0, np.inf])
    assert categories["fast"] == "self-tuning"
    # fast: ratios 1 and inf, so (3 + 0) / 2 / 3; median time of 0.5 and inf;
    # final / target 0.8 and 2 (geometric mean 1.26)
    assert "| fast | self-tuning | 0.5 | 1/2 | inf | 2 | 1.26 | 2 |" in text
    assert "| sgd-cosine | tuned | 0.333 | 1/2 | 1 | 1 | 1 | 1 |" in text  # ran on t1
    assert text.index("| fast |") < text.index("| adam-cosine |")  # by category


def test_results_md_explains_every_column_and_the_plot_panels(tmp_path):
    p = _payload("t1", {"sgd-cosine": [3, 2, 1.0], "fast": [3, 0.9, 0.8]})
    table = report.write([p], tmp_path)
    for term in ("`vs base`", "`vs best`", "`tuning cost`", "`edge`", "`-`", "`inf`"):
        assert term in report.LEGEND, term
    assert "time to target" in report.LEGEND and "gaps" in report.LEGEND
    assert table.startswith(report.LEGEND)
    assert "Leaderboard over 1 workloads" in table
    assert (tmp_path / "profiles.png").stat().st_size > 0
    assert (tmp_path / "results.md").read_text() == table

"""The robustness benchmark runs end to end at tiny sizes and writes its outputs."""

import json

import numpy as np
import pytest

from benchmarks import robustness


def test_robustness_writes_json_table_and_plot(tmp_path):
    table = robustness.run(tmp_path, seeds=2, steps=20, problems=("lad", "logistic"))
    payload = json.loads((tmp_path / "robustness.json").read_text())
    assert (tmp_path / "robustness.png").stat().st_size > 0
    assert (tmp_path / "robustness.md").read_text().strip() == table.strip()
    for name in robustness.SCHEDULES:
        assert f"| lad | {name} |" in table and f"| logistic | {name} |" in table
    lad = payload["results"]["lad"]
    assert len(lad["etas"]) == robustness.GRID_SIZE
    for result in lad["schedules"].values():
        errors = np.asarray(result["errors"])
        assert errors.shape == (robustness.GRID_SIZE, 2)
        # The excess population risk of LAD is non-negative.
        assert np.all(errors >= 0) and np.all(np.isfinite(errors))
        curve = np.asarray(result["ratio_curve"])
        assert curve.min() == 1.0
        assert set(result["over"]) == {str(r) for r in robustness.RHOS}
    assert payload["config"] == {"seeds": 2, "steps": 20, "rhos": list(robustness.RHOS)}
    assert "git_commit" in payload["environment"]


def test_ratios_and_slope_on_a_known_curve():
    etas = 2.0 ** np.arange(10)
    err = np.array([9, 5, 2, 1, 2, 4, 8, 16, 32, 64], float)  # linear in eta above
    r = robustness.ratios(etas, err)
    assert r["eta_best"] == 8.0
    assert r["over"] == {2: 2, 4: 4, 8: 8, 16: 16, 32: 32, 64: 64}
    assert r["under"][4] == 5 and np.isnan(r["under"][16])
    assert robustness.fitted_slope(r["over"]) == pytest.approx(1.0)
    # rho * eta_best off the grid: n/a, and the slope uses the points left.
    r = robustness.ratios(etas, err[::-1].copy())
    assert [r["over"][k] for k in (2, 4, 8)] == [2, 5, 9]
    assert all(np.isnan(r["over"][k]) for k in (16, 32, 64))
    x, y = np.log([2, 4, 8]), np.log([2, 5, 9])
    assert robustness.fitted_slope(r["over"]) == pytest.approx(np.polyfit(x, y, 1)[0])
    assert np.isnan(robustness.fitted_slope({2: 3.0, 4: np.nan}))


def test_robustness_subcommand_writes_its_outputs(tmp_path):
    from benchmarks import __main__ as cli

    out = tmp_path / "rob"
    argv = ["robustness", "--seeds", "1", "--steps", "20", "--problems", "lad"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    assert (out / "robustness.md").read_text().count("| lad |") >= 1
    assert (out / "robustness.png").read_bytes()[:4] == b"\x89PNG"

"""The l0l1 benchmark runs end to end and shows the paper's qualitative claim."""

import json

from benchmarks import l0l1


def test_l0l1_writes_outputs_and_ips_does_not_degrade_with_l1(tmp_path):
    table = l0l1.run(tmp_path, long_steps=1000)
    payload = json.loads((tmp_path / "l0l1.json").read_text())
    assert (tmp_path / "l0l1.png").stat().st_size > 0
    assert "Inexact Polyak" in table
    best = payload["best_gap"]
    worst = lambda name: max(best[name].values())
    # Qualitative, as in the paper: GD and DecSPS degrade as L1 grows; IPS
    # (T = 1000) stays small for every L1.
    assert worst("Inexact Polyak") < 1e-3 < 1.0 < worst("GD (tuned)")
    assert worst("DecSPS") > 1.0
    assert payload["environment"]["x64"]

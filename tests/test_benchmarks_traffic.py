"""``python -m benchmarks traffic``: a held step's passes and kernels from HLO."""

import json

import pytest

from benchmarks import __main__ as cli
from benchmarks import traffic

# A loop whose body has: a fusion reading two [4,4] arrays and writing one
# (3 passes), a reduce of one (1 pass), a conditional whose held branch moves
# no [4,4] array (a refresh: the held branch counts, 0 passes and 1 kernel),
# a conditional whose two branches both do (the costlier counts: 2 passes, 1
# kernel), and free ops (parameter, get-tuple-element, tuple, constant).
HLO = """HloModule jit_run

%held (p.1: (f32[])) -> (f32[]) {
  %p.1 = (f32[]) parameter(0)
  %s.1 = f32[] get-tuple-element(%p.1), index=0
  %n.1 = f32[] negate(%s.1)
  ROOT %t.1 = (f32[]) tuple(%n.1)
}

%refresh (p.2: (f32[4,4])) -> (f32[]) {
  %p.2 = (f32[4,4]) parameter(0)
  %x.2 = f32[4,4]{1,0} get-tuple-element(%p.2), index=0
  %r.2 = f32[] fusion(%x.2), kind=kLoop, calls=%fused
  %r.3 = f32[] fusion(%x.2), kind=kLoop, calls=%fused
  ROOT %t.2 = (f32[]) tuple(%r.2)
}

%keep (p.3: (f32[4,4])) -> (f32[4,4]) {
  %p.3 = (f32[4,4]) parameter(0)
  %x.3 = f32[4,4]{1,0} get-tuple-element(%p.3), index=0
  %z.3 = f32[4,4]{1,0} broadcast(%c.3), dimensions={}
  ROOT %t.3 = (f32[4,4]) tuple(%z.3)
}

%update (p.4: (f32[4,4])) -> (f32[4,4]) {
  %p.4 = (f32[4,4]) parameter(0)
  %x.4 = f32[4,4]{1,0} get-tuple-element(%p.4), index=0
  %y.4 = f32[4,4]{1,0} fusion(%x.4), kind=kLoop, calls=%fused
  ROOT %t.4 = (f32[4,4]) tuple(%y.4)
}

%body (arg: (s32[], f32[4,4], f32[4,4])) -> (s32[], f32[4,4], f32[4,4]) {
  %arg = (s32[], f32[4,4], f32[4,4]) parameter(0)
  %i = s32[] get-tuple-element(%arg), index=0
  %a = f32[4,4]{1,0} get-tuple-element(%arg), index=1
  %b = f32[4,4]{1,0} get-tuple-element(%arg), index=2
  %f = f32[4,4]{1,0} fusion(%a, %b), kind=kLoop, calls=%fused
  %r = f32[] reduce(%f, %zero), dimensions={0,1}, to_apply=%add
  %k = f32[] constant(1)
  %pred = pred[] compare(%r, %k), direction=GT
  %c1 = (f32[]) conditional(%pred, %tk, %fk), true_computation=%refresh, {F}
  %c2 = (f32[4,4]) conditional(%pred, %tk, %fk), branch_computations={%keep, %update}
  ROOT %out = (s32[], f32[4,4], f32[4,4]) tuple(%i, %f, %b)
}

ENTRY %main (x: f32[4,4]) -> f32[4,4] {
  %x = f32[4,4]{1,0} parameter(0)
  %w = (s32[], f32[4,4], f32[4,4]) while(%init), condition=%cond, body=%body
  ROOT %y = f32[4,4]{1,0} get-tuple-element(%w), index=1
}
""".replace("{F}", "false_computation=%held")


def test_loop_cost_counts_passes_and_takes_the_held_branch():
    # fusion 3 + reduce 1 + held 0 + costlier branch 2 = 6 passes; kernels:
    # fusion, reduce, compare, 2 conditionals (+ their counted branch: negate
    # 1, update's fusion 1) = 7.
    assert traffic.loop_cost(HLO, "f32[4,4]") == (6, 7)
    # Another leaf: nothing moves it.
    assert traffic.loop_cost(HLO, "f32[9,9]") == (0, 7)


def test_a_branch_that_hands_its_operands_on_is_the_one_counted():
    # The zig-zag multiple after its window: a branch of copies alone (2
    # passes, 1 kernel) counts, not the costlier branch (update's fusion
    # reading x twice: 3 passes); with keep's broadcast instead, the costlier.
    costlier = HLO.replace("fusion(%x.4), kind", "fusion(%x.4, %x.4), kind")
    assert traffic.loop_cost(costlier, "f32[4,4]") == (7, 7)
    through = costlier.replace(
        "%z.3 = f32[4,4]{1,0} broadcast(%c.3), dimensions={}",
        "%z.3 = f32[4,4]{1,0} copy(%x.3)",
    )
    assert traffic.loop_cost(through, "f32[4,4]") == (6, 7)


def test_a_call_counts_what_it_calls():
    # XLA:GPU outlines command buffers into computations run by a `call`.
    called = HLO.replace(
        "  %r = f32[] reduce(%f, %zero), dimensions={0,1}, to_apply=%add\n",
        "  %r = f32[] call(%f), to_apply=%outlined\n",
    ).replace(
        "%body (arg:",
        "%outlined (q: f32[4,4]) -> f32[] {\n"
        "  %q = f32[4,4]{1,0} parameter(0)\n"
        "  ROOT %r.5 = f32[] reduce(%q, %zero), dimensions={0,1}, to_apply=%add\n"
        "}\n\n%body (arg:",
    )
    assert traffic.loop_cost(called, "f32[4,4]") == (6, 7)


def test_loop_cost_wants_one_loop():
    no_loop = HLO.replace(" while(", " call(")
    with pytest.raises(ValueError, match=r"expected one while loop.*found 0"):
        traffic.loop_cost(no_loop, "f32[4,4]")


def test_cli_writes_the_table_of_real_compiles(tmp_path):
    # Width 70: the largest leaf is [70, 70]. Plain SGD reads the params and
    # the gradient and writes the params: 3 passes. GLyDER's held step does
    # more than Adam's, and its refresh branch is not counted.
    args = ["--width", "70", "--steps", "2", "--repeats", "1", "--out", str(tmp_path)]
    methods = "sgd,adam,glyder-adam,glyder-adam-static-nofinite"
    assert cli.main(["traffic", "--methods", methods, *args]) == 0
    result = json.loads((tmp_path / "traffic.json").read_text())
    rows = {r["method"]: r for r in result["rows"]}
    assert result["leaf"] == "f32[70,70]"
    assert rows["sgd"]["passes"] == 3 and rows["sgd"]["vs_first"] == 1.0
    assert rows["glyder-adam"]["passes"] > rows["adam"]["passes"]
    # The static refresh and no apply_if_finite: the same passes, without
    # the two conditionals (each counted as a kernel).
    static = rows["glyder-adam-static-nofinite"]
    assert static["passes"] == rows["glyder-adam"]["passes"]
    assert static["kernels"] < rows["glyder-adam"]["kernels"]
    assert "| glyder-adam |" in (tmp_path / "traffic.md").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--methods", "adam,nope"], "unknown methods \\['nope'\\]"),
        (["--width", "0"], "--width must be positive"),
        (["--width", "64"], "--width must be above 64 (the input size)"),
    ],
)
def test_cli_errors_say_what_to_do(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["traffic", *args])
    assert e.value.code == 2
    assert message.replace("\\", "") in capsys.readouterr().err

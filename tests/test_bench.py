"""pipeline.tools.bench: the pairing, the ratio summary and the goal lines, on hand-made timings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.params import read_raw, validate
from pipeline.tools import bench, pairs

ROOT = Path(__file__).resolve().parents[1]


def test_pairs_alternate_which_side_goes_first():
    assert pairs.pair_orders(4) == [("a", "b"), ("b", "a"), ("a", "b"), ("b", "a")]
    calls = []
    ta, tb = iter([1.0, 2.0, 3.0]), iter([10.0, 20.0, 30.0])

    def a():
        calls.append("a")
        return next(ta)

    def b():
        calls.append("b")
        return next(tb)

    runs = pairs.interleave(a, b, 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert runs == [(1.0, 10.0), (2.0, 20.0), (3.0, 30.0)]  # each a paired with the b of its pair


def test_summary_is_median_and_range_of_the_per_pair_ratios():
    runs = [(1.02, 1.0), (2.14, 2.0), (0.98, 1.0), (1.07, 1.0)]
    s = pairs.summarize([x / y for x, y in runs])
    assert s.n == 4 and s.lo == pytest.approx(0.98) and s.hi == pytest.approx(1.07)
    assert s.median == pytest.approx((1.02 + 1.07) / 2)  # even count: the mean of the middle two
    assert pairs.summarize([3.0, 1.0, 2.0]).median == 2.0
    with pytest.raises(ValueError):
        pairs.summarize([])


def test_goal_line_says_target_measurement_and_verdict():
    s = pairs.summarize([1.02, 0.98, 1.07, 1.01, 1.03, 1.02, 1.00])
    line = pairs.goal_line(1, "HP over the grid / one run", "<=", 1.05, s)
    assert line == (
        "goal 1: HP over the grid / one run, target <= 1.05x: "
        "measured median 1.02x (range 0.98-1.07, 7 pairs) MET"
    )
    assert line.endswith(" MET")
    assert pairs.goal_line(2, "x", ">=", 50, pairs.summarize([40.0, 45.0, 60.0])).endswith(
        "NOT MET"
    )
    assert "median 1234x (range 1234-1234, 1 pair) MET" in pairs.goal_line(
        2, "x", ">=", 50, pairs.summarize([1234.0])
    )
    assert not pairs.met(pairs.summarize([1.2, 1.6, 1.6]), "<=", 1.5)


def test_training_secs_sums_the_epoch_lines():
    err = (
        "[device] something\n[ft toy seed=0 tau=0] epoch=1/2 loss=0.5 train_acc=0.9 val_score=0.8 secs=0.3\n"
        "[ft toy seed=0 tau=0] epoch=2/2 loss=0.4 train_acc=0.9 val_score=0.8 secs=1.2\n"
    )
    assert bench.training_secs(err) == pytest.approx(1.5)
    assert bench.training_secs("no epochs here") == 0.0


def test_scratch_study_is_valid_and_finetunes_the_job_setting_at_tau0():
    raw = read_raw(ROOT / "params.yaml")
    study = bench.scratch_study(raw, "resnet_digits", "toy_digits012", 3)
    valid = validate(study, check_files=False)
    assert set(valid.settings) == {"resnet_digits", "toy_digits012"} and valid.seeds == bench.SEEDS
    assert valid.taus_of("toy_digits012") == [0]
    assert (
        valid.settings["toy_digits012"].ft.epochs
        == valid.settings["toy_digits012"].ft.patience
        == 3
    )
    assert set(valid.imports) == {"textures_resnet", "digits_mlp"} and not valid.pretrain
    grid = bench.with_grid(study, "resnet_digits", [64])
    assert validate(grid, check_files=False).taus_of("resnet_digits") == [64] and grid["seeds"] == [
        0
    ]
    assert study["settings"]["resnet_digits"]["hp"].get("taus") is None  # with_grid copies


@pytest.mark.e2e
def test_bench_runs_end_to_end_on_the_toy(capsys, monkeypatch, tmp_path):
    """Goals 1, 3 and 9 on the tiny study's toy (a grid of 3 taus: the default study's toy
    probes up to 1024 epochs, which only makes the test slower)."""
    from conftest import tiny_study, write_params

    study = write_params(tmp_path / "tiny.yaml", tiny_study())
    monkeypatch.chdir(ROOT)
    assert (
        bench.main(
            [
                "--pairs",
                "2",
                "--setting",
                "toy",
                "--job-setting",
                "toy",
                "--params",
                str(study),
                "--goals",
                "1,3,9",
                "--job-epochs",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    for goal in (1, 3):
        assert f"goal {goal}: " in out and "2 pairs)" in out
    assert "goal 9: FT toy (toy, toy_ls): " in out and "goal 9: pretraining mlp (mlp): " in out
    assert out.startswith("bench: ") and "machine: " in out and "load average at the end" in out


def test_epoch_workloads_group_the_settings_that_cost_the_same():
    from pipeline.tools.bench_epochs import datasets_of, workloads

    study = validate(read_raw(ROOT / "studies" / "cpu.yaml"), check_files=False)
    loads = workloads(study)
    assert loads["FT resnet_digits"]["covers"] == [
        "resnet_digits",
        "resnet_digits_ls",
        "resnet_digits_source",  # bn differs: not the cost of an epoch
        "resnet_digits_source_ls",
    ]
    assert {k for k in loads if k.startswith("FT ")} == {
        "FT toy_digits012",
        "FT resnet_digits",
        "FT resnet_digits_mlp",  # another head: another epoch
        "FT resnet_digits_L4x1",  # the last block in the head
        "FT gcn_solubility",
        "FT seg_shapes",
    }
    assert {k for k in loads if k.startswith("pretraining ")} == {
        f"pretraining {n}" for n in study.pretrain
    }
    assert "digits16" in datasets_of(study, loads) and "textures16" in datasets_of(study, loads)


def test_faked_outputs_give_a_recorded_lock_and_a_clean_status(project):
    """Goal 5's set-up: every DVC output faked, committed, and `dvc status` finds nothing to do."""
    from conftest import run_cli, sh

    run_cli("check", cwd=project)
    assert bench.fake_outputs(project) == len(
        sh(["dvc", "stage", "list", "--all"], project).stdout.splitlines()
    )
    sh(["dvc", "commit", "-f", "-q"], project)
    assert "up to date" in sh(["dvc", "status"], project).stdout


def test_the_report_lists_the_goal_lines_then_everything():
    text = bench.report(
        "python -m pipeline bench --full",
        "bench: 3 pairs\ngoal 1: a MET\n    detail\ngoal 2: b NOT MET\n",
    )
    goals = text.split("## Goals\n\n")[1].split("\n\n## ")[0]
    assert goals.splitlines() == ["- goal 1: a MET", "- goal 2: b NOT MET"]
    assert "    detail" in text.split("## Everything it printed")[1]

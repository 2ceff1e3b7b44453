"""`hp.search: halving`: the rungs on made-up curves, the search's runs against the sweep's
(the same bytes where they run in full, the same history where cut), a SIGTERM in the
middle of the search, and the search under Snakemake and DVC."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest
import torch
import yaml
from conftest import dvc_ran, sh, tiny_study, write_params
from test_interruption import sigterm_on_call, stopped

from pipeline.__main__ import main
from pipeline.engine.halving import replay, rungs, search
from pipeline.families import get_family
from pipeline.io import paths
from pipeline.tools.halving_replay import capped_share
from pipeline.tools.halving_replay import main as replay_main


def test_rungs_end_at_the_full_ft():
    assert rungs(3, 2, 20) == [3, 6, 12, 20]
    assert rungs(5, 3, 5) == [5]
    assert rungs(6, 2, 50) == [6, 12, 24, 48, 50]


def test_search_keeps_the_best_half_and_always_finishes_the_ends():
    # val per epoch: tau 4 is best early, tau 16 late; tau 1 early-stops after 2 epochs
    curves = {
        0: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
        1: [0.3, 0.2],
        4: [0.5, 0.6, 0.6, 0.6, 0.6],
        16: [0.4, 0.5, 0.7, 0.8, 0.85, 0.9, 0.9, 0.9],
        64: [0.2, 0.2, 0.2],
    }
    calls = []

    def advance(tau, budget):
        calls.append((tau, budget))
        return max(curves[tau][:budget])

    budgets = search(sorted(curves), advance, 2, 2, 8)
    # rung 2: 4 (0.6) and 16 (0.5) beat 1 (0.3); rung 4: 16 (0.8) beats 4; then 16 in full
    assert budgets == {0: 8, 1: 2, 4: 4, 16: 8, 64: 8}
    assert calls[:5] == [(0, 2), (1, 2), (4, 2), (16, 2), (64, 2)]
    spent, best = replay(curves, 2, 2, 8)
    assert spent == {0: 8, 1: 2, 4: 4, 16: 8, 64: 3} and best == 16


def study(search: str) -> dict:
    """One setting, one seed, taus 0-3, FT of 4 epochs: rungs of 1, 2 and 4 epochs."""
    s = tiny_study()
    del s["settings"]["toy_ls"]
    s.update(taus=[0, 1, 2, 3], exchange={})
    s["pretrain"]["mlp"].update(epochs=2)
    s["settings"]["toy"]["ft"].update(epochs=4, patience=4, lr=0.05)
    s["settings"]["toy"]["hp"].update(search=search, halving={"first_rung": 1, "factor": 2})
    return s


def models() -> dict[int, dict]:
    return {
        t: torch.load(f"runs/toy/ft/seed0/tau{t}.pt", map_location="cpu", weights_only=False)
        for t in range(4)
    }


def snapshots() -> dict[tuple[int, int], dict]:
    """The FT models after the z epochs (FT of 4 epochs: 2 and 4) that exist, by (tau, epoch)."""
    found = {(t, e): paths.ft_snapshot("toy", 0, t, e) for t in range(4) for e in (2, 4)}
    return {k: torch.load(p)["state_dict"] for k, p in found.items() if p.is_file()}


@pytest.mark.e2e
def test_halving_runs_are_the_sweeps_and_resume_after_sigterm(in_tmp, monkeypatch, capsys):
    monkeypatch.delenv("TASKHEAD_PARAMS", raising=False)
    write_params(in_tmp / "params.yaml", study("grid"))
    for argv in (
        ["prepare", "--dataset", "digits8"],
        ["prepare", "--dataset", "d012"],
        ["pretrain", "--name", "mlp"],
        ["probe", "--setting", "toy"],
        ["finetune", "--setting", "toy"],
    ):
        assert main(argv) == 0, argv
    sweep, sweep_snapshots = models(), snapshots()
    assert len(sweep_snapshots) == 4 * 2
    shutil.rmtree(paths.ft_dir("toy"))  # as Snakemake and DVC do before they rerun the stage
    write_params(in_tmp / "params.yaml", study("halving"))
    family = type(get_family("classification"))
    with monkeypatch.context() as m:  # a batch of the final rung
        sigterm_on_call(m, family, "loss", 11)
        assert "stopped by SIGTERM" in stopped(capsys, ["finetune", "--setting", "toy"])
    assert main(["finetune", "--setting", "toy"]) == 0
    found = models()
    budgets = {t: m["budget"] for t, m in found.items()}
    assert budgets[0] == budgets[3] == 4 and sorted(budgets.values()) == [1, 4, 4, 4]
    for tau, m in found.items():
        ran = m["epochs_run"]
        assert m["history"] == sweep[tau]["history"][:ran]
        if budgets[tau] == 4:  # a complete run: the sweep's model, bit for bit
            assert all(
                torch.equal(v, sweep[tau]["state_dict"][k]) for k, v in m["state_dict"].items()
            )
    # the models after the z epochs: the sweep's, across rungs and the SIGTERM; none for the
    # run cut after 1 epoch, whose z columns are NaN
    cut = next(t for t, b in budgets.items() if b == 1)
    found = snapshots()
    assert sorted(found) == sorted(k for k in sweep_snapshots if k[0] != cut)
    for k, weights in found.items():
        assert all(torch.equal(v, sweep_snapshots[k][n]) for n, v in weights.items()), k
    assert main(["evaluate", "--setting", "toy"]) == 0
    rows = {r["tau"]: r for r in json.loads(paths.evaluation("toy").read_text())}
    for tau, row in rows.items():
        z = [row[f"{p}_{m}"] for p in ("z", "z2") for m in ("dist_sq", "dot", "norm_sq", "cos")]
        assert (row["z_epoch"], row["z_epoch2"]) == (2, 4)
        assert all(map(math.isnan, z)) if tau == cut else all(map(math.isfinite, z)), tau


@pytest.mark.e2e
def test_halving_under_snakemake_and_dvc(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.update(taus=[0, 1, 2, 3], seeds=[0], exchange={})
    del params["settings"]["toy_ls"]
    params["settings"]["toy"]["ft"].update(epochs=4, patience=4)
    params["settings"]["toy"]["hp"].update(search="halving", halving={"first_rung": 1})
    write_params(project / "params.yaml", params)
    sh(["snakemake", "--cores", "2"], project)
    assert "up to date" in sh(["dvc", "status"], project).stdout
    budgets = [
        torch.load(project / f"runs/toy/ft/seed0/tau{t}.pt", weights_only=False)["budget"]
        for t in range(4)
    ]
    assert sorted(budgets) == [1, 4, 4, 4]
    # a new factor reruns the search (and what reads its models) under DVC, then Snakemake
    # agrees that nothing is left to do
    params["settings"]["toy"]["hp"]["halving"]["factor"] = 3
    write_params(project / "params.yaml", params)
    ran = dvc_ran(sh(["dvc", "repro"], project).stdout)
    assert {"probe@toy", "finetune@toy", "evaluate@toy", "aggregate"} <= ran, ran
    assert "Nothing to be done" in sh(["snakemake", "-n"], project).stdout


def test_capped_share_counts_the_search_at_the_epoch_cap():
    # rungs 3, 6, then the last racer in full: 20 + 20 + 20 + 6 + 3 of 5 x 20 epochs
    assert capped_share([0, 1, 4, 16, 64], 3, 2, 20) == 69 / 100


def test_replay_of_a_results_folder(tmp_path, capsys):
    """Two seeds, taus 0-3, FT of 4 epochs, first rung 1: in seed 0 tau 2 leads after one
    epoch and tau 1, the sweep's tau*, is cut; in seed 1 tau 1 leads, and early-stops at 3."""
    curves = {
        0: {0: [0.1, 0.2, 0.3, 0.4], 1: [0.2, 0.3, 0.9, 0.9], 2: [0.5] * 4, 3: [0.3] * 4},
        1: {0: [0.1, 0.2, 0.3, 0.4], 1: [0.6, 0.7, 0.7], 2: [0.3] * 4, 3: [0.2] * 4},
    }
    folder = tmp_path / "curves" / "toy"
    folder.mkdir(parents=True)
    rows = []
    for seed, by_tau in curves.items():
        for tau, curve in by_tau.items():
            epochs = range(1, len(curve) + 1)
            pd.DataFrame({"epoch": epochs, "val_score": curve}).to_csv(
                folder / f"seed{seed}_tau{tau}.csv", index=False
            )
            best = max(curve)
            rows.append(
                {"setting": "toy", "seed": seed, "tau": tau, "val_score": best, "test_score": best}
            )
    pd.DataFrame(rows).to_csv(tmp_path / "summary.csv", index=False)
    study = {"settings": {"toy": {"ft": {"epochs": 4, "patience": 4}}}}
    (tmp_path / "params.json").write_text(json.dumps(study))
    replay_main(["--results", str(tmp_path), "--first", "1"])
    out = capsys.readouterr().out
    # seed 0: 4 + 1 + 4 + 4 epochs, tau* 2 (0.5) against the sweep's 1 (0.9): test -40 pp;
    # seed 1: 4 + 3 + 1 + 4, tau* 1 in both
    assert "| toy | 1 | 25 / 31 | 81% | 1/2 | -20.00 ± 254.12 |" in out, out
    replay_main(["--results", str(tmp_path), "--first", "1", "--out", str(tmp_path / "r.md")])
    page = (tmp_path / "r.md").read_text()
    assert page.split("\n\n")[3] == (
        "With a first rung of 1 epochs, the search spent 81% of the FT epochs the sweep ran, "
        "chose the sweep's tau* in 1 of 2 (setting, seed) runs, and its test score minus the "
        "sweep's was -20.00 ± 254.12 pp pooled (not inside ±1 pp)."
    )

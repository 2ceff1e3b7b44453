"""The tiny study end to end: Snakemake runs it, DVC reruns what an edit of params.yaml
touches, `compare` shows the change across commits, `make sync` goes back, and an edit of
the code reruns the stages that run it."""

from __future__ import annotations

import json
import re
import zipfile

import pandas as pd
import pytest
import yaml
from conftest import ROOT, dvc_ran, run_cli, sh, to_run


@pytest.mark.e2e
def test_snakemake_then_dvc_then_compare(project):
    # 1. Snakemake runs the whole tiny study; DVC's lock is then up to date.
    sh(["snakemake", "--cores", "2"], project)
    summary = pd.read_csv(project / "results" / "summary.csv")
    # settings x taus x seeds
    assert len(summary) == 2 * 3 * 2 and summary["test_score"].notna().all()
    assert sorted(set(summary["seed"])) == [0, 1]
    # every job recorded its wall time and memory (Snakemake's benchmark directive)
    bench = pd.read_csv(project / "benchmarks" / "finetune" / "toy" / "seed0.tsv", sep="\t")
    assert {"s", "max_rss"} <= set(bench.columns) and bench["s"].iloc[0] > 0
    assert "Nothing to be done" in sh(["snakemake", "-n"], project).stdout
    assert "up to date" in sh(["dvc", "status"], project).stdout
    # 2. A second run trains nothing.
    again = sh(["snakemake", "--cores", "2"], project)
    assert "Nothing to be done" in again.stdout + again.stderr
    # Learning curves for DVC's plots, one file per (setting, tau), and Snakemake's report
    # with the results in it.
    curve = pd.read_csv(project / "results" / "curves" / "toy" / "seed1_tau2.csv")
    assert (
        list(curve.columns) == ["epoch", "train_loss", "train_acc", "val_score"]
        and curve["epoch"].iloc[0] == 1
    )
    hp = pd.read_csv(project / "results" / "train_curves" / "toy" / "hp_seed1.csv")
    assert list(hp["epoch"]) == [1, 2] and hp["train_loss"].notna().all()
    pretraining = pd.read_csv(project / "results" / "train_curves" / "toy" / "pretrain_seed0.csv")
    assert list(pretraining["epoch"]) == [1, 2] and pretraining["val_score"].notna().all()
    shown = json.dumps(json.loads(sh(["dvc", "plots", "show", "--json"], project).stdout)).split(
        '"'
    )
    for curve in (
        "results/curves/toy/seed1_tau2.csv",
        "results/train_curves/toy/hp_seed1.csv",
        "results/train_curves/toy/pretrain_seed0.csv",
    ):
        assert any(curve in key for key in shown), curve
    sh(["snakemake", "--report", "report.zip"], project)
    with zipfile.ZipFile(project / "report.zip") as z:
        names = " ".join(z.namelist())
    for item in (
        "summary.csv",
        "conclusions.md",
        "cost.md",
        "table1.md",
        "table2.md",
        "table3.md",
        "trend.md",
        "val_score_vs_tau.png",
        "energy_vs_tau.png",
        "z_metrics_vs_tau.png",
        "verdicts.png",
        "ft_loss.png",
        "toy.png",
        "advice.md",
    ):
        assert item in names, item
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "results"], project)
    # 3. A new FT learning rate: dvc repro reruns only FT, evaluate (and exchange) and aggregate.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["settings"]["toy"]["ft"]["lr"] = 0.5
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repro = sh(["dvc", "repro"], project)
    ran = dvc_ran(repro.stdout)
    assert ran == {
        "check",
        "finetune@toy",
        "evaluate@toy",
        "exchange@toy",
        "aggregate",
        "advise",
    }, ran
    # 4. After dvc repro, Snakemake sees nothing to redo, and DVC is clean.
    assert "Nothing to be done" in sh(["snakemake", "-n"], project).stdout
    assert "up to date" in sh(["dvc", "status"], project).stdout
    # 5. compare shows the change: HEAD against the working tree, then across commits.
    shown = run_cli("compare", cwd=project).stdout
    assert "## HEAD" in shown and "## WORKTREE" in shown and "delta" in shown
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "ft lr 0.5"], project)
    across = run_cli("compare", "HEAD~1", "HEAD", cwd=project).stdout
    delta = across.split("## delta")[1]
    assert re.search(r"[+-]\d+\.\d{3}", delta)
    assert re.search(r"\| tau\* +\|( +[+-]?\d+ \|)+$", delta, re.M)  # whole taus, never 64.000
    # A DVC experiment by its name (`dvc exp run` keeps it under refs/exps/.../NAME).
    sh(["git", "update-ref", "refs/exps/ab/cdef0123/about-tuck", "HEAD~1"], project)
    by_name = run_cli("compare", "about-tuck", "HEAD", cwd=project).stdout.split("## delta")[1]
    assert by_name.split("\n", 1)[1] == delta.split("\n", 1)[1]
    assert "metrics.json" in sh(["dvc", "metrics", "diff", "HEAD~1", "HEAD"], project).stdout
    # 6. Back to the first results: `make sync` leaves both tools clean.
    sh(["git", "checkout", "HEAD~1", "--", "params.yaml", "dvc.lock", "results"], project)
    sh(["make", "-f", str(ROOT / "Makefile"), "sync"], project)
    assert "Nothing to be done" in sh(["snakemake", "-n"], project).stdout
    assert "up to date" in sh(["dvc", "status"], project).stdout
    # 7. Code is a dependency of the stages that run it, under both drivers: an edit of
    # tables.py reruns only aggregate; an edit of loop.py, the training stages.
    with open(project / "pipeline" / "report" / "tables.py", "a") as f:
        f.write("\n# an edit\n")
    assert to_run(project) == {"check", "aggregate", "advise"}  # advise reads tables.py too
    assert dvc_ran(sh(["dvc", "repro"], project).stdout) == {"check", "aggregate", "advise"}
    assert "Nothing to be done" in sh(["snakemake", "-n"], project).stdout
    with open(project / "pipeline" / "engine" / "loop.py", "a") as f:
        f.write("\n# an edit\n")
    # each driver's own dry run (a rerun of every training stage would only repeat the above)
    training = {"pretrain", "probe", "finetune", "evaluate", "exchange"}
    assert training <= to_run(project)
    assert dvc_ran(sh(["dvc", "repro", "check"], project).stdout) == {
        "check"
    }  # the code fingerprints
    stale = json.loads(sh(["dvc", "status", "--json"], project).stdout)
    assert {s.split("@")[0] for s in stale} >= training, stale
    assert all(
        {"changed deps": {"results/code/finetune.txt": "modified"}} in stale[s]
        for s in stale
        if s.startswith("finetune@")
    ), stale

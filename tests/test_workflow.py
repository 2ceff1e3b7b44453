"""The Snakefile and dvc.yaml describe the same job graph, and both tools run it."""
from __future__ import annotations

import json
import re
import zipfile

import pandas as pd
import pytest
import yaml

from conftest import ROOT, run_cli, sh
from pipeline.checkfiles import MARKERS
from pipeline.params import STAGE_KEYS, stage_keys

DVC_TO_RULE = {"import": "pretrain"}


def snakemake_jobs(cwd, *args) -> list[dict]:
    """Every job of a forced dry run: rule, inputs, outputs and the pipeline command."""
    out = sh(["snakemake", "-n", "-p", "--forceall", "--cores", "1", *args], cwd).stdout
    jobs = []
    for block in re.split(r"\n(?=rule |localrule )", out):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if not head or head.group(1) == "all":
            continue
        field = lambda name: [s.strip() for s in re.search(rf"^\s+{name}: (.*)$", block, re.M).group(1).split(",")] \
            if re.search(rf"^\s+{name}: ", block, re.M) else []  # noqa: E731
        cmd = re.search(r"python -m pipeline (.*?) 2>&1", block).group(1)
        jobs.append({"rule": head.group(1), "input": field("input"), "output": field("output"), "cmd": cmd})
    return jobs


def dvc_stages(cwd) -> list[dict]:
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(cwd)) as repo:
        return [{"name": s.name, "rule": DVC_TO_RULE.get(s.name.split("@")[0], s.name.split("@")[0]),
                 "outs": [str(o.def_path) for o in s.outs],
                 "deps": [str(d.def_path) for d in s.deps if not isinstance(d, ParamsDependency)],
                 "params": [k for d in s.deps if isinstance(d, ParamsDependency) for k in d.params],
                 "cmd": s.cmd.split(" && ")[0].removeprefix("python -m pipeline ")} for s in repo.index.stages]


def _covers(path: str, paths: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths)


def test_the_two_dags_agree(project):
    """Every DVC stage is one Snakemake job, except that DVC finetunes (and pretrains) all
    seeds of a setting in one stage where Snakemake runs one job per seed (one device each
    on a GPU box)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["settings"]["toy"]["hp"]["taus"] = [0, 3]  # a setting with a grid of its own
    params["exchange"]["toy"] = [0, 3]
    params["replicate_pretrain"] = True
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    jobs, stages = snakemake_jobs(project), dvc_stages(project)
    by_cmd = {}
    # the edit above makes `check`'s files stale: Snakemake's `check` also touches a marker of
    # its own bookkeeping (pipeline.checkfiles), which is no result and so no DVC out
    marker = [o for j in jobs for o in j["output"] if o.startswith(f"{MARKERS}/check-stale-")]
    assert len(marker) == 1 and [j["rule"] for j in jobs if marker[0] in j["output"]] == ["check"]
    for j in jobs:  # `finetune --setting S --seed K` jobs together stand for `finetune --setting S`
        j["output"] = [o for o in j["output"] if o not in marker]
        cmd = re.sub(r" --seed \d+$", "", j["cmd"])
        merged = by_cmd.setdefault(cmd, {"rule": j["rule"], "input": [], "output": []})
        merged["input"] += j["input"]
        merged["output"] += j["output"]
    assert len(by_cmd) == len(stages)
    for st in stages:
        job = by_cmd[st["cmd"]]  # the same CLI call in both
        assert job["rule"] == st["rule"], st["name"]
        # the same outputs (a DVC directory out holds the job's files)
        assert all(_covers(o, st["outs"]) for o in job["output"]), st["name"]
        assert all(any(_covers(o, [d]) for o in job["output"]) for d in st["outs"]), st["name"]
        names = st["name"].split("@")[1] if "@" in st["name"] else ""
        stage = st["name"].split("@")[0]
        if stage == "check":  # validates the whole file; Snakemake's rule follows the code digests
            assert st["params"] == [] and st["deps"] == ["pipeline", "requirements.txt"]
            continue
        # every DVC dependency is among Snakemake's inputs (the code fingerprints are params there)
        assert all(any(_covers(i, [d]) for i in job["input"]) for d in st["deps"] if not d.startswith("results/code/")), \
            st["name"]
        # the same params keys, as declared once in pipeline.params.STAGE_KEYS
        expected = stage_keys(stage, setting=names, dataset=names, pretrain=names)
        assert sorted(st["params"]) == sorted(expected), st["name"]
        # and the fingerprint of the code the stage runs
        assert f"results/code/{DVC_TO_RULE.get(stage, stage)}.txt" in st["deps"], st["name"]
    assert {s["name"].split("@")[0] for s in stages} <= set(STAGE_KEYS) | {"check"}
    ft_jobs = sorted(o for j in jobs if j["rule"] == "finetune" for o in j["output"])
    assert ft_jobs == [f"runs/{s}/ft/seed{k}" for s in ("toy", "toy_ls") for k in (0, 1)]
    pt_jobs = sorted(o for j in jobs if j["rule"] == "pretrain" for o in j["output"])
    assert pt_jobs == [f"runs/pretrain/mlp/seed{k}/backbone.pt" for k in (0, 1)]


def test_configfile_runs_the_same_jobs_as_config_params(project):
    """`--configfile FILE` is the study FILE, as `--config params=FILE` is: the paper profile."""
    paper = str(ROOT / "studies" / "paper.yaml")
    def jobs(*args):
        return sorted((j["rule"], j["cmd"], tuple(j["output"])) for j in snakemake_jobs(project, *args))

    by_configfile = jobs("--configfile", paper)
    assert len(by_configfile) > 100 and by_configfile == jobs("--config", f"params={paper}")
    assert any("toy_mnist012" in cmd for _, cmd, _ in by_configfile)


def test_snakemake_lint_is_clean(project):
    out = sh(["snakemake", "--lint"], project)
    assert "Congratulations" in out.stdout + out.stderr


def _ran(dvc_output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", dvc_output))


@pytest.mark.e2e
def test_snakemake_then_dvc_then_compare(project):
    # 1. Snakemake runs the whole tiny study; DVC's lock is then up to date.
    sh(["snakemake", "--cores", "2"], project)
    summary = pd.read_csv(project / "results" / "summary.csv")
    assert len(summary) == 2 * 3 * 2 and summary["test_score"].notna().all()  # settings x taus x seeds
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
    assert list(curve.columns) == ["epoch", "train_loss", "train_acc", "val_score"] and curve["epoch"].iloc[0] == 1
    hp = pd.read_csv(project / "results" / "train_curves" / "toy" / "hp_seed1.csv")
    assert list(hp["epoch"]) == [1, 2] and hp["train_loss"].notna().all()
    pretraining = pd.read_csv(project / "results" / "train_curves" / "toy" / "pretrain_seed0.csv")
    assert list(pretraining["epoch"]) == [1, 2] and pretraining["val_score"].notna().all()
    shown = json.dumps(json.loads(sh(["dvc", "plots", "show", "--json"], project).stdout)).split('"')
    for curve in ("results/curves/toy/seed1_tau2.csv", "results/train_curves/toy/hp_seed1.csv",
                  "results/train_curves/toy/pretrain_seed0.csv"):
        assert any(curve in key for key in shown), curve
    sh(["snakemake", "--report", "report.zip"], project)
    with zipfile.ZipFile(project / "report.zip") as z:
        names = " ".join(z.namelist())
    for item in ("summary.csv", "conclusions.md", "cost.md", "table1.md", "table2.md", "table3.md", "trend.md",
                 "val_score_vs_tau.png", "z_metrics_vs_tau.png", "toy.png"):
        assert item in names, item
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "results"], project)
    # 3. A new FT learning rate: dvc repro reruns only FT, evaluate (and exchange) and aggregate.
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["settings"]["toy"]["ft"]["lr"] = 0.5
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repro = sh(["dvc", "repro"], project)
    ran = _ran(repro.stdout)
    assert ran == {"check", "finetune@toy", "evaluate@toy", "exchange@toy", "aggregate"}, ran
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


def _to_run(cwd) -> set[str]:
    """The rules of the jobs a dry run would run."""
    return set(re.findall(r"^rule (\w+):", sh(["snakemake", "-n"], cwd).stdout, re.M)) - {"all"}


@pytest.mark.e2e
def test_code_is_a_dependency_under_both_drivers(project):
    """A change to tables.py reruns only aggregate; a change to loop.py, the training stages."""
    sh(["snakemake", "--cores", "2"], project)
    sh(["git", "add", "-A"], project)
    sh(["git", "commit", "-qm", "results"], project)
    assert "up to date" in sh(["dvc", "status"], project).stdout
    with open(project / "pipeline" / "tables.py", "a") as f:
        f.write("\n# an edit\n")
    assert _to_run(project) == {"check", "aggregate"}
    assert _ran(sh(["dvc", "repro"], project).stdout) == {"check", "aggregate"}
    assert "Nothing to be done" in sh(["snakemake", "-n"], project).stdout
    with open(project / "pipeline" / "loop.py", "a") as f:
        f.write("\n# an edit\n")
    training = {"pretrain", "probe", "finetune", "evaluate", "exchange"}
    assert training <= _to_run(project)
    assert {s.split("@")[0] for s in _ran(sh(["dvc", "repro"], project).stdout)} >= training
    assert "up to date" in sh(["dvc", "status"], project).stdout


def test_the_conda_env_pins_exactly_requirements_txt():
    """Snakemake copies the env file alone, so every pin is written out in it."""
    from pipeline import envfile

    env_text = (ROOT / "envs" / "taskhead.yaml").read_text()
    requirements = (ROOT / "requirements.txt").read_text()
    assert env_text == envfile.render(requirements)  # regenerate with `python -m pipeline.envfile`
    env = yaml.safe_load(env_text)
    listed = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert listed == envfile.pins(requirements) and not any(p.startswith("-r") for p in listed)
    assert "torch==2.14.1" in listed and "torchvision==0.29.1" in listed


def test_a_fresh_clone_reruns_check_after_an_edit_of_the_params(project):
    """Without Snakemake's records (a fresh clone), results/params.json and results/code/ that
    differ from what `check` would write still rerun `check`; once it ran, they are current."""
    run_cli("check", cwd=project)
    assert "check" not in _to_run(project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["settings"]["toy"]["hp"]["lr"] = 0.123
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert not any((project / ".snakemake" / "metadata").iterdir())  # no records of `check`
    assert "check" in _to_run(project)
    sh(["snakemake", "--cores", "1", "--until", "check"], project)
    assert json.loads((project / "results" / "params.json").read_text())["settings"]["toy"]["hp"]["lr"] == 0.123
    assert "check" not in _to_run(project)
    sh(["rm", "-rf", ".snakemake"], project)
    with open(project / "pipeline" / "tables.py", "a") as f:
        f.write("\n# an edit\n")
    assert "check" in _to_run(project)

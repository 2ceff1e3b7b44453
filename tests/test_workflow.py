"""The Snakefile and dvc.yaml describe the same job graph (the tiny study run by both:
tests/test_study_e2e.py)."""

from __future__ import annotations

import json
import re

import yaml
from conftest import ROOT, run_cli, sh, to_run

from pipeline.workflow.checkfiles import MARKERS
from pipeline.workflow.stage_keys import STAGE_KEYS, stage_keys

DVC_TO_RULE = {"import": "pretrain"}


def snakemake_jobs(cwd, *args) -> list[dict]:
    """Every job of a forced dry run: rule, inputs, outputs and the pipeline command."""
    out = sh(["snakemake", "-n", "-p", "--forceall", "--cores", "1", *args], cwd).stdout
    jobs = []
    for block in re.split(r"\n(?=rule |localrule )", out):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if not head or head.group(1) == "all":
            continue
        field = lambda name, block=block: (
            [s.strip() for s in re.search(rf"^\s+{name}: (.*)$", block, re.M).group(1).split(",")]
            if re.search(rf"^\s+{name}: ", block, re.M)
            else []
        )
        cmd = re.search(r"python -m pipeline (.*?) 2>&1", block).group(1)
        jobs.append(
            {"rule": head.group(1), "input": field("input"), "output": field("output"), "cmd": cmd}
        )
    return jobs


def dvc_stages(cwd) -> list[dict]:
    from dvc.dependency.param import ParamsDependency
    from dvc.repo import Repo

    with Repo(str(cwd)) as repo:
        return [
            {
                "name": s.name,
                "rule": DVC_TO_RULE.get(s.name.split("@")[0], s.name.split("@")[0]),
                "outs": [str(o.def_path) for o in s.outs],
                "deps": [str(d.def_path) for d in s.deps if not isinstance(d, ParamsDependency)],
                "params": [k for d in s.deps if isinstance(d, ParamsDependency) for k in d.params],
                "cmd": s.cmd.split(" && ")[0].removeprefix("python -m pipeline "),
            }
            for s in repo.index.stages
        ]


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
    # its own bookkeeping (pipeline.workflow.checkfiles), which is no result and so no DVC out
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
        assert all(
            any(_covers(i, [d]) for i in job["input"])
            for d in st["deps"]
            if not d.startswith("results/code/")
        ), st["name"]
        # the same params keys, as declared once in pipeline.workflow.stage_keys
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
        return sorted(
            (j["rule"], j["cmd"], tuple(j["output"])) for j in snakemake_jobs(project, *args)
        )

    by_configfile = jobs("--configfile", paper)
    assert len(by_configfile) > 100 and by_configfile == jobs("--config", f"params={paper}")
    assert any("toy_mnist012" in cmd for _, cmd, _ in by_configfile)


def test_snakemake_lint_is_clean(project):
    out = sh(["snakemake", "--lint"], project)
    assert "Congratulations" in out.stdout + out.stderr


def test_the_conda_env_pins_exactly_requirements_txt():
    """Snakemake copies the env file alone, so every pin is written out in it."""
    from pipeline.tools import envfile

    env_text = (ROOT / "envs" / "taskhead.yaml").read_text()
    requirements = (ROOT / "requirements.txt").read_text()
    assert env_text == envfile.render(requirements)  # regenerate with `python -m pipeline envfile`
    env = yaml.safe_load(env_text)
    listed = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert listed == envfile.pins(requirements) and not any(p.startswith("-r") for p in listed)
    assert "torch==2.14.1" in listed and "torchvision==0.29.1" in listed


def test_a_fresh_clone_reruns_check_after_an_edit_of_the_params(project):
    """Without Snakemake's records (a fresh clone), results/params.json and results/code/ that
    differ from what `check` would write still rerun `check`; once it ran, they are current."""
    run_cli("check", cwd=project)
    assert "check" not in to_run(project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["settings"]["toy"]["hp"]["lr"] = 0.123
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    assert not any((project / ".snakemake" / "metadata").iterdir())  # no records of `check`
    assert "check" in to_run(project)
    sh(["snakemake", "--cores", "1", "--until", "check"], project)
    assert (
        json.loads((project / "results" / "params.json").read_text())["settings"]["toy"]["hp"]["lr"]
        == 0.123
    )
    assert "check" not in to_run(project)
    sh(["rm", "-rf", ".snakemake"], project)
    with open(project / "pipeline" / "report" / "tables.py", "a") as f:
        f.write("\n# an edit\n")
    assert "check" in to_run(project)

"""The code each stage runs (pipeline.workflow.fingerprints), and that the committed results belong to the
committed code and params (what `dvc status` on a fresh clone checks)."""

from __future__ import annotations

import json

import yaml
from conftest import ROOT

from pipeline.workflow import dvcsync, fingerprints


def test_each_stage_runs_its_own_files():
    training = ("prepare", "pretrain", "probe", "finetune", "evaluate", "exchange")
    for stage in training:
        assert "pipeline/engine/loop.py" in fingerprints.files(stage), stage
        assert "pipeline/report/tables.py" not in fingerprints.files(stage), stage
        assert f"pipeline/stages/{stage}.py" in fingerprints.files(stage)
    aggregate = fingerprints.files("aggregate")
    assert {
        "pipeline/report/tables.py",
        "pipeline/report/stats.py",
        "pipeline/report/conclusions.py",
        "pipeline/report/plots.py",
    } <= set(aggregate)
    assert "pipeline/engine/loop.py" not in aggregate
    # every family, which get_family imports by name, is code of the training stages
    assert {
        f"pipeline/families/{f}.py" for f in ("classification", "molecules", "segmentation")
    } <= set(fingerprints.files("finetune"))
    assert set(fingerprints.ALWAYS) <= set(aggregate)


def test_a_fingerprint_follows_the_contents(tmp_path):
    for f in fingerprints.files("aggregate"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_bytes((ROOT / f).read_bytes())
    before = fingerprints.fingerprint("aggregate", tmp_path)
    assert before == fingerprints.fingerprint("aggregate", ROOT)
    with open(tmp_path / "pipeline" / "report" / "tables.py", "a") as f:
        f.write("# an edit\n")
    after = fingerprints.fingerprint("aggregate", tmp_path)
    assert (
        after != before
        and sum(a != b for a, b in zip(after.splitlines(), before.splitlines(), strict=False)) == 1
    )


def test_committed_results_belong_to_the_committed_code_and_params():
    """results/code/STAGE.txt (written by the run that made the results) is the code of HEAD,
    and dvc.lock recorded the params of params.yaml (read from results/params.json, which
    holds its study with every default): `dvc status` on a fresh clone reports no
    changed dependency. Rerun `make run` and commit when this fails."""
    for stage in fingerprints.STAGES:
        committed = (ROOT / fingerprints.fingerprint_file(stage)).read_text()
        assert committed == fingerprints.fingerprint(stage), (
            f"results/code/{stage}.txt is stale: rerun the study"
        )
    from dvc.repo import Repo

    from pipeline import params as P

    params = P.load(ROOT / "params.yaml", check_files=False).model_dump(mode="json")
    assert json.loads((ROOT / "results" / "params.json").read_text()) == params, (
        "results/params.json is not params.yaml's study: rerun the study"
    )
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    with Repo(str(ROOT)) as repo:
        current = {s.addressing for s in repo.index.stages}
    assert current <= set(lock), (
        f"dvc.lock lacks stages {sorted(current - set(lock))}: rerun the study"
    )
    for name, stage in lock.items():
        if name not in current:  # DVC keeps the entries of stages that dvc.yaml no longer makes
            continue
        for key, value in stage.get("params", {}).get("results/params.json", {}).items():
            node = params
            for part in key.split("."):
                node = node[part]
            assert node == value, (
                f"dvc.lock: {name} ran with {key}={value!r}, params.yaml has {node!r}"
            )


def test_each_job_names_its_dvc_stage(tmp_path, monkeypatch):
    from types import SimpleNamespace as NS

    ledger = tmp_path / "ledger"
    monkeypatch.setenv(dvcsync.LEDGER_ENV, str(ledger))
    dvcsync.note("finetune", NS(setting="toy", seed=[0], tau=None))
    dvcsync.note("prepare", NS(dataset="d012"))
    dvcsync.note("aggregate", NS())
    dvcsync.note("validate", NS())  # not a DVC stage
    assert ledger.read_text().split() == ["finetune@toy", "prepare@d012", "aggregate"]
    monkeypatch.delenv(dvcsync.LEDGER_ENV)
    dvcsync.note("aggregate", NS())
    assert ledger.read_text().split() == ["finetune@toy", "prepare@d012", "aggregate"]

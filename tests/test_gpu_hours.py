"""GPU-hours from measured rates (worked by hand), the committed H100 measurements and the
README block made from them, and pipeline.tools.gpu_check end to end on the CPU (a smoke run)."""

import json
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

from pipeline.families.classification import DataCfg
from pipeline.params import load
from pipeline.tools import gpu_hours

RATES = {"train": 10.0, "frozen": 20.0, "head": 50.0, "eval": 100.0}
LOGS = [ROOT / "docs" / "gpu" / "h100-gpu_check.log", ROOT / "docs" / "gpu" / "h100-voc-epoch.log"]


def test_setting_hours_by_hand():
    n = {"train": 100, "val": 10, "test": 20}
    cached = gpu_hours.setting_hours(n, [0, 2], False, 3, RATES, RATES, exchange=2)
    assert cached == pytest.approx(
        {
            "hp": 100 / 100 + 2 * 100 / 50,  # one feature pass, 2 head epochs
            "ft": 2 * 3 * (100 / 10 + 10 / 100),  # 2 taus x 3 epochs x (train + validation)
            "evaluate": 100 / 100
            + 2 * (10 + 20 + 100 + 100) / 100,  # z_0 once; val, test, energy, z_T per tau
            "exchange": 4 * (100 + 10) / 100,
        }
    )  # 2 x 2 pairs on train and val
    augmented = gpu_hours.setting_hours(n, [0, 2], True, 3, RATES, RATES, exchange=0)
    assert augmented["hp"] == pytest.approx(2 * 100 / 20 + 100 / 100)


def test_bn_target_adds_one_pass_over_train_per_backbone_built():
    n = {"train": 100, "val": 10, "test": 20}
    source = gpu_hours.setting_hours(n, [0, 2], False, 3, RATES, RATES, exchange=2)
    target = gpu_hours.setting_hours(n, [0, 2], False, 3, RATES, RATES, exchange=2, bn_target=True)
    assert {k: target[k] - source[k] for k in source} == pytest.approx(
        {"hp": 100 / 100, "ft": 2 * 100 / 100, "evaluate": 100 / 100, "exchange": 0.0}
    )


@pytest.mark.parametrize("replicate_pretrain", [False, True])
def test_every_replicate_seed_is_counted(replicate_pretrain):
    """Settings cost once per replicate seed; pretraining once per pretraining seed."""
    from conftest import tiny_study

    from pipeline.params import validate

    raw = tiny_study()
    raw["datasets"]["digits8"]["dataset"] = "mnist"  # a dataset of known size
    study = validate(raw, check_files=False)
    rates = {gpu_hours.key_of(study, s, 128): RATES for s in raw["settings"]}
    rates[gpu_hours.pretrain_workload(study, "mlp")[0]] = RATES
    one = gpu_hours.study_seconds(validate({**raw, "seeds": [0]}, check_files=False), rates, {})
    three = gpu_hours.study_seconds(
        validate(
            {**raw, "seeds": [0, 1, 2], "replicate_pretrain": replicate_pretrain}, check_files=False
        ),
        rates,
        {},
    )
    for name in raw["settings"]:
        assert three[name] == pytest.approx({k: 3 * v for k, v in one[name].items()})
    pretrain_runs = 3 if replicate_pretrain else 1
    assert three["pretrain mlp"]["pretrain"] == pytest.approx(
        pretrain_runs * one["pretrain mlp"]["pretrain"]
    )


def test_split_sizes_follow_table_4():
    flowers = gpu_hours.split_sizes(DataCfg(dataset="flowers102", val_fraction=0.1))
    assert flowers == {"train": 5534, "val": 615, "test": 2040}
    toy = gpu_hours.split_sizes(
        DataCfg(dataset="mnist012", n_per_class=1000, val_fraction=0.2, test_fraction=0.2)
    )
    assert toy == {"train": 1800, "val": 600, "test": 600}


def test_the_readme_quotes_the_committed_measurements():
    report = {"rates": {}, "epochs": {}}
    for path in LOGS:
        part = gpu_hours.read_report(str(path), {"VOC": "voc_sup_in"})
        report = {
            **part,
            **report,
            "rates": {**report["rates"], **part["rates"]},
            "epochs": {**report["epochs"], **part["epochs"]},
        }
    assert report["card"].startswith("NVIDIA") and len(report["rates"]) >= 8
    assert set(report["epochs"]) == {"stl10_sup_in", "voc_sup_in"}
    study = load(ROOT / "studies" / "paper.yaml", check_files=False)
    block = gpu_hours.summary(study, report, "docs/gpu/h100-gpu-hours.md")
    readme = (ROOT / "README.md").read_text()
    # regenerate it with --readme after a new run
    assert gpu_hours.replace_block(readme, block) == readme
    assert (ROOT / "docs" / "gpu" / "h100-gpu-hours.md").read_text() == gpu_hours.markdown(
        study, report
    )


def test_gpu_check_smoke_on_the_cpu(tmp_path):
    """The real stages on synthetic data of the toy's shape: rates, real epochs, repeatability."""
    study = {
        "seed": 0,
        "seeds": [0],
        "device": "cpu",
        "taus": [0, 1],
        "z_split": "train",
        "imports": {},
        "datasets": {
            "mnist28": {
                "family": "classification",
                "dataset": "mnist",
                "size": 28,
                "val_fraction": 0.1,
            },
            "m012": {
                "family": "classification",
                "dataset": "mnist012",
                "size": 28,
                "n_per_class": 1000,
            },
        },
        "pretrain": {
            "toy_mnist": {
                "family": "classification",
                "data": "mnist28",
                "epochs": 1,
                "model": {"arch": "mlp", "depth": 2, "width": 32, "input_dim": 784},
            }
        },
        "settings": {
            "toy": {
                "pretrain": "toy_mnist",
                "data": "m012",
                "hp": {"lr": 0.01},
                "ft": {"lr": 0.01, "epochs": 3, "schedule": "constant"},
            }
        },
        "exchange": {"toy": [0, 1]},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.tools.gpu_check",
            "--params",
            "study.yaml",
            "--steps",
            "2",
            "--scale",
            "0.05",
            "--epoch-settings",
            "toy",
            "--out",
            "out.json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["card"] == "CPU" and len(out["rates"]) == 1
    rates = next(iter(out["rates"].values()))
    assert all(v > 0 for v in rates.values())
    assert "data" in rates  # the batched image input path, timed alone
    toy = out["epochs"]["toy"]
    assert (
        toy["sizes"] == {"train": 90, "val": 30, "test": 30}
        and toy["ft_bitwise_repeatable"] is True
    )
    assert "GPU-hours" in proc.stdout and sorted(p.name for p in tmp_path.iterdir()) == [
        "out.json",
        "study.yaml",
    ]

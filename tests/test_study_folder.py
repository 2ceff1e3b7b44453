"""Each study writes its own folders (pipeline.io.paths): the default study (params.yaml)
results/ and runs/, another study results/NAME/ and runs/NAME/, NAME being its `name` key
or its file's stem, --config overrides included. Files are written with the user's umask.
(tests/test_own_study.py runs an own study through Snakemake beside the default's files.)"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from conftest import tiny_study, write_params

from pipeline.errors import PipelineError
from pipeline.io import atomic, paths
from pipeline.params import validate
from pipeline.workflow import fingerprints, studyfile
from pipeline.workflow.targets import final_targets


@pytest.fixture
def folder():
    """paths.use, set back to the default study's folders afterwards."""
    yield paths.use
    paths.use("")


@pytest.fixture
def files(in_tmp):
    write_params(in_tmp / "params.yaml", tiny_study())
    write_params(in_tmp / "mine.yaml", tiny_study())
    return in_tmp


@pytest.mark.parametrize(
    "params_file, name, expect",
    [
        ("params.yaml", None, ""),
        ("studies/paper.yaml", None, "paper"),
        ("mine.yaml", "trial-2", "trial-2"),
        (".snakemake/taskhead/study-0123456789ab.yaml", None, ""),  # params.yaml, overridden
        (".snakemake/taskhead/study-0123456789ab.yaml", "mine", "mine"),
    ],
)
def test_the_study_folder_is_its_name_or_its_file_stem(in_tmp, params_file, name, expect):
    assert paths.study_folder(params_file, name) == expect


def test_every_output_of_another_study_is_in_its_folders(folder):
    study = validate(tiny_study(), check_files=False)
    default = [*final_targets(study), paths.dataset("d012"), paths.backbone("mlp", 0)]
    folder("mine")
    moved = [*final_targets(study), paths.dataset("d012"), paths.backbone("mlp", 0)]
    assert len(moved) == len(default) > 20
    for old, new in zip(default, moved, strict=True):
        root, *rest = Path(old).parts
        assert root in ("results", "runs") and Path(new) == Path(root, "mine", *rest)
    assert fingerprints.fingerprint_file("probe") == Path("results/mine/code/probe.txt")
    assert paths.resume_of(paths.ft_model("toy", 0, 1)) == Path(
        "runs/mine/resume/toy/ft/seed0/tau1.pt.resume"
    )
    assert (paths.log("probe/toy"), paths.bench("aggregate")) == (
        "runs/mine/logs/probe/toy.log",
        "runs/mine/benchmarks/aggregate.tsv",
    )
    folder("")
    assert final_targets(study) == default[:-2] and paths.log("check") == "logs/check.log"


def test_overrides_keep_the_folder_of_their_study(files):
    over = {"settings": {"toy": {"ft": {"lr": 0.2}}}}
    path, raw = studyfile.resolve(over, [files / "mine.yaml"])
    assert raw["name"] == "mine" and paths.study_folder(path, raw["name"]) == "mine"
    path, raw = studyfile.resolve(over, [])  # params.yaml overridden: the default study's folder
    assert "name" not in raw and paths.study_folder(path, None) == ""
    path, raw = studyfile.resolve({**over, "name": "trial"}, [])
    assert paths.study_folder(path, raw["name"]) == "trial"


@pytest.mark.parametrize(
    "params_file, raw, message",
    [
        ("mine.yaml", {"name": "plots"}, "mine.yaml: name: expected a folder name"),
        ("mine.yaml", {"name": "../up"}, "mine.yaml: name: expected a folder name"),
        ("params.yaml", {"name": "x"}, "params.yaml: name: expected none in the default study"),
        ("my study.yaml", {}, "my study.yaml: the study's folder is named after the file"),
    ],
)
def test_a_bad_study_name_is_one_line(in_tmp, params_file, raw, message):
    with pytest.raises(PipelineError) as err:
        study = validate({**tiny_study(), **raw}, params_file, check_files=False)
        paths.study_folder(params_file, study.name)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_name_is_not_in_the_study_dvc_reads():
    """`name` says where the outputs go: results/params.json (check) leaves it out."""
    study = validate({**tiny_study(), "name": "mine"}, check_files=False)
    assert study.name == "mine" and "name" not in study.model_dump(mode="json")


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_files_are_written_with_the_users_umask(in_tmp, mask):
    """mkstemp's 0600 is not what the user asked for: an output, and init's study file, get
    0666 less the umask, as open() would give them."""
    from own_data import digits_folder

    from pipeline.tools import new_study

    digits_folder(in_tmp / "photos", per_class=2)
    old = os.umask(mask)
    try:
        atomic.write_text(in_tmp / "out" / "a.txt", "a\n")
        atomic.write_json(in_tmp / "b.json", {})
        new_study.run("photos", "imagefolder", "resnet18", "https://example.org/w.pt", "study.yaml")
    finally:
        os.umask(old)
    for name in ("out/a.txt", "b.json", "study.yaml"):
        assert stat.S_IMODE((in_tmp / name).stat().st_mode) == 0o666 & ~mask, name
    assert yaml.safe_load((in_tmp / "study.yaml").read_text())["datasets"]["own"]["size"] == 224

"""Which study a Snakemake run reads: --configfile replaces the default study, --config
KEY=VALUE overrides single values, and two studies are never mixed."""
import pytest
import yaml

from conftest import tiny_study, write_params
from pipeline import studyfile
from pipeline.errors import PipelineError


@pytest.fixture
def files(in_tmp):
    write_params(in_tmp / "params.yaml", tiny_study())
    other = tiny_study()
    other["seed"] = 7
    write_params(in_tmp / "other.yaml", other)
    return in_tmp


def test_the_default_and_params_key(files):
    assert studyfile.resolve({}, []) == ("params.yaml", tiny_study())
    path, raw = studyfile.resolve({"params": "other.yaml", "gpu_per_job": 1}, [])
    assert path == "other.yaml" and raw["seed"] == 7


def test_a_configfile_replaces_the_default_study(files):
    loaded = yaml.safe_load((files / "other.yaml").read_text())  # what Snakemake put in `config`
    path, raw = studyfile.resolve(loaded, [files / "other.yaml"])
    assert path == str(files / "other.yaml") and raw == loaded


def test_overrides_are_laid_on_the_study_and_written_for_the_jobs(files):
    path, raw = studyfile.resolve({"settings": {"toy": {"ft": {"lr": 0.2}}}}, [])
    assert path.startswith(".snakemake/taskhead/study-") and raw["settings"]["toy"]["ft"]["lr"] == 0.2
    assert raw["settings"]["toy"]["ft"]["epochs"] == tiny_study()["settings"]["toy"]["ft"]["epochs"]
    assert yaml.safe_load((files / path).read_text()) == raw
    assert studyfile.resolve({"settings": {"toy": {"ft": {"lr": 0.2}}}}, [])[0] == path  # same study, same file


@pytest.mark.parametrize("config, configfiles, expect", [
    ({"params": "params.yaml"}, ["other.yaml"], "expected one study, found two"),
    ({}, ["params.yaml", "other.yaml"], "expected one study file, found 2"),
])
def test_two_studies_are_an_error(files, config, configfiles, expect):
    with pytest.raises(PipelineError, match=expect):
        studyfile.resolve(config, configfiles)

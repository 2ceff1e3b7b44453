"""Which study a Snakemake run reads: --configfile replaces the default study, --config
KEY=VALUE overrides single values, and two studies are never mixed."""

import pytest
import yaml
from conftest import tiny_study, write_params

from pipeline.errors import PipelineError
from pipeline.workflow import studyfile


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
    assert (
        path.startswith(".snakemake/taskhead/study-") and raw["settings"]["toy"]["ft"]["lr"] == 0.2
    )
    assert raw["settings"]["toy"]["ft"]["epochs"] == tiny_study()["settings"]["toy"]["ft"]["epochs"]
    assert yaml.safe_load((files / path).read_text()) == raw
    # same study, same file
    assert studyfile.resolve({"settings": {"toy": {"ft": {"lr": 0.2}}}}, [])[0] == path


def test_overrides_inside_lists_and_mappings_get_their_yaml_types(files):
    """`--config 'seeds=[0, 1]'` reaches the Snakefile as ['0', '1'] (Snakemake parses nested
    values with YAML's BaseLoader): the study gets the integers, as a YAML file would give."""
    from pipeline.params import validate

    config = {
        "seeds": ["0", "1"],
        "settings": {"toy": {"ft": {"epochs": "3", "lr": "0.5"}, "head": {"kind": "mlp"}}},
    }
    _, raw = studyfile.resolve(config, [])
    assert raw["seeds"] == [0, 1] and raw["settings"]["toy"]["ft"] == {
        **tiny_study()["settings"]["toy"]["ft"],
        "epochs": 3,
        "lr": 0.5,
    }
    assert raw["settings"]["toy"]["head"]["kind"] == "mlp"
    assert validate(raw, check_files=False).seeds == [0, 1]


@pytest.mark.parametrize(
    "config, configfiles, expect",
    [
        ({"params": "params.yaml"}, ["other.yaml"], "expected one study, found two"),
        ({}, ["params.yaml", "other.yaml"], "expected one study file, found 2"),
    ],
)
def test_two_studies_are_an_error(files, config, configfiles, expect):
    with pytest.raises(PipelineError, match=expect):
        studyfile.resolve(config, configfiles)


def test_a_configfile_with_a_duplicate_key_is_refused(files):
    # Snakemake's own loader keeps the last of the two values; the Snakefile's resolve re-reads the file
    text = (files / "other.yaml").read_text() + "seed: 8\n"
    (files / "dup.yaml").write_text(text)
    loaded = yaml.safe_load(text)  # what Snakemake put in `config`: seed 8, silently
    line = text.splitlines().index("seed: 8") + 1
    first = text.splitlines().index("seed: 7") + 1
    with pytest.raises(
        PipelineError,
        match=rf"^{files / 'dup.yaml'}:{line}:1: duplicate key seed "
        rf"\(first at line {first}\)$",
    ):
        studyfile.resolve(loaded, [files / "dup.yaml"])


def test_a_params_file_with_a_duplicate_nested_key_is_refused(files):
    (files / "dup.yaml").write_text("seed: 0\nsettings:\n  toy:\n    hp: {lr: 0.5, lr: 0.1}\n")
    with pytest.raises(
        PipelineError, match=r"dup.yaml:4:\d+: duplicate key settings.toy.hp.lr \(first at line 4\)"
    ):
        studyfile.resolve({"params": "dup.yaml"}, [])

"""Bad params: one clear message naming the key, a non-zero exit, no output written."""

import pytest
from conftest import run_cli, tiny_study, write_params

from pipeline.errors import PipelineError
from pipeline.params import validate


def _bad(mutate):
    study = tiny_study()
    mutate(study)
    with pytest.raises(PipelineError) as err:
        validate(study, "params.yaml")
    return str(err.value)


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda s: s.update(colour="blue"), "colour: Extra inputs are not permitted"),
        (lambda s: s["settings"]["toy"]["hp"].update(momentum=0.5), "settings.toy.hp.momentum"),
        (lambda s: s["settings"]["toy"]["ft"].update(epochs="ten"), "settings.toy.ft.epochs"),
        (
            lambda s: s["settings"]["toy"]["hp"].update(lr=-0.1),
            "settings.toy.hp.lr: Input should be greater than 0",
        ),
        (lambda s: s["settings"]["toy"]["ft"].update(epochs=-3), "settings.toy.ft.epochs"),
        (lambda s: s["pretrain"]["mlp"].update(epochs=-1), "pretrain.mlp.epochs"),
        (lambda s: s.update(taus=[0, 4, 2]), "taus: expected strictly increasing"),
        (lambda s: s.update(taus=[0, 2, 2]), "without duplicates"),
        (lambda s: s.update(taus=[-1, 2]), "taus.0: Input should be greater than or equal to 0"),
        (lambda s: s["settings"]["toy"]["hp"].update(eta=0), "settings.toy.hp.eta"),
        (lambda s: s["settings"]["toy"]["ft"].update(eta=1.5), "settings.toy.ft.eta"),
        (lambda s: s["datasets"]["d012"].update(dataset="imagenet"), "datasets.d012.dataset"),
        (lambda s: s["pretrain"]["mlp"]["model"].update(arch="vit"), "pretrain.mlp.model.arch"),
        (
            lambda s: s["settings"]["toy"]["head"].update(kind="transformer"),
            "settings.toy.head.kind",
        ),
        (
            lambda s: s["settings"]["toy"].update(data="nowhere"),
            "settings.toy.data: expected one of",
        ),
        (
            lambda s: s["settings"]["toy"].update(pretrain="nobody"),
            "settings.toy.pretrain: expected one of",
        ),
        (
            lambda s: s["datasets"]["d012"].update(family="audio"),
            "datasets.d012.family: expected one of",
        ),
        (
            lambda s: s["imports"].update(
                sup={
                    "family": "classification",
                    "model": {"arch": "mlp"},
                    "checkpoint": "missing.pt",
                }
            ),
            "imports.sup.checkpoint: expected an existing file",
        ),
        (
            lambda s: s.update(exchange={"toy": [0, 5]}),
            "exchange.toy: expected a subset of the setting's taus",
        ),
        (lambda s: s["settings"]["toy"]["ft"].update(schedule="step"), "settings.toy.ft.schedule"),
        (
            lambda s: s["settings"]["toy"]["hp"].update(taus=[0, 8, 4]),
            "settings.toy.hp.taus: expected strictly",
        ),
        (
            lambda s: s["settings"]["toy"]["hp"].update(taus=[]),
            "settings.toy.hp.taus: expected a non-empty",
        ),
        # values that a lax parser would take: a boolean, an infinity, a float where a count goes
        (
            lambda s: s["settings"]["toy"]["hp"].update(lr=True),
            "settings.toy.hp.lr: expected a number, found the boolean",
        ),
        (
            lambda s: s["settings"]["toy"]["ft"].update(lr=float("inf")),
            "settings.toy.ft.lr: Input should be a finite",
        ),
        (
            lambda s: s["settings"]["toy"]["ft"].update(lr="fast"),
            "settings.toy.ft.lr: expected a number, found the text",
        ),
        (
            lambda s: s["settings"]["toy"]["ft"].update(epochs=2.5),
            "settings.toy.ft.epochs: Input should be a valid integer",
        ),
        (lambda s: s["settings"]["toy"]["hp"].update(augment="yes"), "settings.toy.hp.augment"),
        (lambda s: s.update(seed=-1), "seed: Input should be greater than or equal to 0"),
        (lambda s: s.update(seeds=[0, 0]), "seeds: expected a non-empty list of distinct seeds"),
        (lambda s: s.update(seeds=[]), "seeds: expected a non-empty list"),
        (lambda s: s.update(replicate_pretrain="no"), "replicate_pretrain"),
        (lambda s: s["settings"]["toy"].update(bn="running"), "settings.toy.bn"),
        (
            lambda s: s["settings"]["toy"]["ft"].update(taus=[0, 1]),
            "settings.toy.ft.taus: Extra inputs",
        ),
        (lambda s: s["datasets"]["d012"].update(normalize="cifar"), "datasets.d012.normalize"),
        (lambda s: s.update(analysis={"role": "final"}), "analysis.role"),
        (
            lambda s: s.update(analysis={"role": "confirmatory"}),
            "params.yaml: analysis: plan: expected the commit of docs/analysis-plan.md",
        ),
        (lambda s: s.update(analysis={"alpha": 1.5}), "analysis.alpha"),
        (lambda s: s.update(analysis={"look": 0}), "analysis.look"),
    ],
)
def test_bad_params_are_named(mutate, expect):
    assert expect in _bad(mutate)


@pytest.mark.parametrize(
    "z_epochs",
    [[0, 2], [2, 1], [1, 3], [2], [1, 1, 2], "2", [1.0, 2], [True, 2], {"first": 1}],
)
def test_bad_z_epochs_are_one_line_naming_key_expectation_and_value(z_epochs):
    """The toy FT has 2 epochs: z epochs must be two, ascending, within 1..2."""
    message = _bad(lambda s: s["settings"]["toy"]["ft"].update(z_epochs=z_epochs))
    assert message == (
        "params.yaml: settings.toy.ft.z_epochs: expected two FT epochs, the first at most the "
        f"second, each from 1 to epochs (2), found {z_epochs!r}"
    )


@pytest.mark.parametrize(
    "ft, z_epochs",
    [
        ({"epochs": 2}, [1, 2]),
        ({"epochs": 7}, [4, 7]),  # ceil(7 / 2)
        ({"epochs": 1}, [1, 1]),
        ({"epochs": 7, "z_epochs": None}, [4, 7]),
        ({"epochs": 7, "z_epochs": [3, 3]}, [3, 3]),
        ({"epochs": 7, "z_epochs": [2, 5]}, [2, 5]),
    ],
)
def test_z_epochs_default_to_half_and_all_of_ft(ft, z_epochs):
    study = tiny_study()
    study["settings"]["toy"]["ft"].update(ft)
    assert validate(study).settings["toy"].ft.z_epochs == z_epochs


def test_a_bad_ft_epochs_is_named_once_without_a_z_epochs_line():
    message = _bad(lambda s: s["settings"]["toy"]["ft"].update(epochs=0))
    assert message.count("\n") == 0 and "settings.toy.ft.epochs" in message


def test_the_committed_params_are_valid():
    from conftest import ROOT

    from pipeline.params import load

    study = load(ROOT / "params.yaml")
    assert study.taus[0] == 0 and len(study.settings) >= 2


def test_cli_exits_nonzero_and_writes_nothing(tmp_path):
    study = tiny_study()
    study["settings"]["toy"]["hp"]["lr"] = -1
    write_params(tmp_path / "params.yaml", study)
    proc = run_cli("prepare", "--dataset", "d012", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "settings.toy.hp.lr" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_unknown_setting_on_the_command_line(tmp_path):
    write_params(tmp_path / "params.yaml", tiny_study())
    proc = run_cli("probe", "--setting", "nope", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "found 'nope'" in proc.stderr


def test_check_writes_the_study_with_every_default_for_dvc(tmp_path):
    """DVC reads each stage's params keys from results/params.json (dvc.yaml), which `check`
    writes with every default filled in: a key the file leaves out is tracked at its default."""
    import json

    study = tiny_study()
    del study["settings"]["toy"]["bn"], study["seeds"]
    write_params(tmp_path / "params.yaml", study)
    run_cli("check", cwd=tmp_path)
    written = json.loads((tmp_path / "results" / "params.json").read_text())
    assert written["seeds"] == [0] and written["settings"]["toy"]["bn"] == "source"
    assert (
        written["settings"]["toy"]["ft"]["schedule"] == "cosine"
        and written["datasets"] == study["datasets"]
    )

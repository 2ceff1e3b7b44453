"""pipeline.tools.drift: the final pretraining validation scores of two runs, compared."""

from __future__ import annotations

import json

import pandas as pd

from pipeline.tools import drift as pretrained


def _results(root, scores):
    """A results/ folder: two settings on backbone `net`, one on `mlp`; `scores` maps
    (setting, seed) to the validation scores of its pretraining epochs."""
    settings = {"a": {"pretrain": "net"}, "a_ls": {"pretrain": "net"}, "t": {"pretrain": "mlp"}}
    root.mkdir()
    (root / "params.json").write_text(json.dumps({"settings": settings}))
    for (setting, seed), vals in scores.items():
        (root / "train_curves" / setting).mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"epoch": range(1, len(vals) + 1), "val_score": vals}).to_csv(
            root / "train_curves" / setting / f"pretrain_seed{seed}.csv", index=False
        )
    return root


def test_the_largest_move_is_found_and_counted(tmp_path):
    a = _results(
        tmp_path / "a", {("a", 0): [0.5, 0.90], ("a_ls", 0): [0.5, 0.90], ("t", 0): [0.8, 0.95]}
    )
    b = _results(tmp_path / "b", {("a", 0): [0.4, 0.925], ("t", 0): [0.7, 0.955]})
    assert pretrained.finals(a).to_dict() == {("net", 0): 0.90, ("mlp", 0): 0.95}
    text = pretrained.compare(pretrained.finals(a), pretrained.finals(b), ("1", "2"))
    # net: 90 -> 92.5 (2.5 points); mlp: 95 -> 95.5 (0.5 points)
    assert text.startswith(
        "The final pretraining validation score of 2 backbones (backbone × pretraining seed) "
        "moves by at most 2.50 points between 1 and 2 (net, seed 0); 1 of 2 move by at most "
        "1 point."
    )


def test_a_folder_without_its_study_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    assert pretrained.main([str(tmp_path / "r"), str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "params.json" in err

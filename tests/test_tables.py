"""Table 1 from a hand-made summary: tau* by validation (never test), the ls companion."""
import pandas as pd

from pipeline import tables


def _rows(setting, head, eta_hp, vals, tests, acc=(0.5, 0.9, 0.95)):
    return [{"setting": setting, "family": "classification", "pretrain": "p", "downstream": "d", "head": head,
             "eta_hp": eta_hp, "eta_ft": 1.0, "tau": tau, "val_score": v, "test_score": t, "hp_train_fit": a,
             "z_cos": 0.9, "z_dist_sq": 1.0}
            for tau, v, t, a in zip((0, 4, 16), vals, tests, acc)]


SUMMARY = pd.DataFrame(
    _rows("base", "linear", 1.0, vals=(0.80, 0.90, 0.90), tests=(0.70, 0.99, 0.75))
    + _rows("base_ls", "linear", 0.9, vals=(0.8, 0.8, 0.8), tests=(0.1, 0.2, 0.66))
    + _rows("base_mlp", "mlp", 1.0, vals=(0.8, 0.8, 0.8), tests=(0.1, 0.2, 0.3)))


def test_table1_by_hand():
    t = tables.table1(SUMMARY)
    assert list(t.columns) == ["d (p, linear)"]  # the MLP-head setting is Table 2's, not a column here
    col = t["d (p, linear)"]
    assert col["HP-train-acc (tau max)"] == 95.0  # at max tau
    assert col["HP-train-acc (tau*)"] == 90.0     # at tau* = 4: the paper's row (section 5.2)
    assert col["HP0-FT"] == 70.0 and col["HPmax-FT"] == 75.0
    assert col["tau*"] == 4                       # tie on val between 4 and 16: the smaller tau
    assert col["HPtau*-FT"] == 99.0
    assert col["lsHPmax-FT"] == 66.0              # the eta_HP < 1 companion at max tau


def test_tau_star_never_looks_at_test():
    df = SUMMARY[SUMMARY.setting == "base"].copy()
    df["test_score"] = [1.0, 0.0, 0.0]
    assert tables.tau_star(df) == 4


def test_markdown_prints_na_and_whole_tau():
    text = tables.markdown(tables.table1(SUMMARY.iloc[:3]), "T", "none")
    assert "| tau*" in text and " 4 |" in text and "n/a" in text  # no ls companion -> n/a

"""The verdict rules of results/conclusions.md on hand-made summaries of 3 seeds (a half-width
over 3 seeds is 4.3027 * sd / sqrt(3) = 2.4841 * sd)."""

import json
import math
import re
from itertools import product
from types import SimpleNamespace

import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.io import paths
from pipeline.params import AnalysisCfg
from pipeline.report import columns, cost
from pipeline.report import conclusions as c
from pipeline.stages import aggregate
from pipeline.tools import compare

TAUS = (0, 4, 16)


def _setting(name, by_seed=None, taus=TAUS, eta_hp=1.0, **const):
    """One setting, 3 seeds. by_seed: column -> one list over `taus` per seed; `const`: scalars."""
    defaults = {
        "family": "classification",
        "pretrain": "p",
        "downstream": "d",
        "head": "linear",
        "bn": "source",
        "eta_ft": 1.0,
        "energy": 0.5,
        "z_dist_sq": 1.0,
        "z_cos": 0.9,
        "hp_train_fit": 0.9,
        "val_score": 0.8,
        "test_score": 0.8,
        "stopped_early": True,
        "best_epoch": 5,
        "ft_epochs": 10,
    }
    rows = []
    for seed in range(3):
        for i, tau in enumerate(taus):
            row = {**defaults, **const, "setting": name, "eta_hp": eta_hp, "seed": seed, "tau": tau}
            row.update({col: values[seed][i] for col, values in (by_seed or {}).items()})
            rows.append(row)
    return pd.DataFrame(rows)


def test_holm_then_the_verdict_two_sided():
    tests = pd.DataFrame({"p_expected": [0.01, 0.02, 0.5], "p_opposite": [0.99, 0.98, 0.5]})
    # Holm: 3 x 0.01 = 0.03, 2 x 0.02 = 0.04, 0.5: none below alpha / 2 = 0.025
    out = c.adjust(tests, 0.05)
    assert out["p_holm"].round(6).tolist() == [0.03, 0.04, 0.5]
    assert out["verdict"].tolist() == [c.UNDECIDED] * 3
    # 3 x 0.005 = 0.015 < 0.025: holds; the others still undecided
    tests.loc[0, "p_expected"] = 0.005
    assert c.adjust(tests, 0.05)["verdict"].tolist() == [c.HOLDS, c.UNDECIDED, c.UNDECIDED]
    # significant the other way: does not hold (never for lack of an effect)
    flipped = tests.rename(columns={"p_expected": "p_opposite", "p_opposite": "p_expected"})
    assert c.adjust(flipped, 0.05)["verdict"].tolist()[0] == c.FAILS
    assert c.both(c.HOLDS, c.HOLDS) == c.HOLDS and c.both(c.HOLDS, c.UNDECIDED) == c.UNDECIDED
    assert c.both(c.UNDECIDED, c.FAILS) == c.FAILS


def test_trend_tests_by_pages_exact_p():
    df = _setting(
        "s",
        {
            "energy": [[0.9, 0.5, 0.1]] * 3,  # falls in every seed
            "z_cos": [[0.9, 0.5, 0.1]] * 3,  # falls: cos should rise
            "z_dist_sq": [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 3.0, 2.0]],
        },
    )
    tests = list(c.setting_tests(df).items())
    (a, ta), (b, tb), (cc, tc) = tests[:3]
    # ranks (3, 2, 1) in every seed: L = 3 x (1*3 + 2*2 + 3*1) = 30, the smallest possible; a
    # fall is the largest L of the reversed columns, 42, with exact p (1/3!)^3 = 1/216
    assert a.startswith("(a) E_aie falls") and ta.p_expected == pytest.approx(1 / 216)
    assert ta.p_opposite == pytest.approx(1.0)
    assert ta.statistics.startswith("Page L 30, p falls 0.00463, p rises 1; log ratio tau 16/tau 0")
    assert "-2.20 ± 0.00" in ta.statistics  # log(0.1 / 0.9) = -2.197 in every seed
    # cos falls: the opposite of the paper's trend; log((1 - 0.1) / (1 - 0.9)) = log 9 = +2.20
    assert cc.startswith("(c) cos") and tc.p_opposite == pytest.approx(1 / 216)
    assert "+2.20 ± 0.00" in tc.statistics
    assert 0.1 < tb.p_expected < 0.9 and 0.1 < tb.p_opposite < 0.9  # no consistent order
    found = c.claims(df)
    verdicts = dict(zip(found["claim"].str[:3], found["verdict"], strict=True))
    assert (verdicts["(a)"], verdicts["(b)"], verdicts["(c)"]) == (c.HOLDS, c.UNDECIDED, c.FAILS)
    two = c.trend_test(_setting("two", taus=(0, 16)), columns.judged()[0])
    assert math.isnan(two.p_expected) and "2 taus: no test" in two.statistics


def test_hp_tau_star_ft_against_hp0_ft_and_hpmax_ft():
    val = {"val_score": [[0.7, 0.8, 0.75]] * 3}  # tau* = 4 in every seed
    # test at tau* - tau 0: 0.10, 0.08, 0.12: mean 0.10, sd 0.02, t = 0.10 / (0.02 / sqrt 3)
    # = 8.660 on 2 df: one-sided p 0.00654 < 0.025. tau* - tau 16: -0.05, -0.04, -0.06: t =
    # -8.660, so (d) goes the other way.
    scores = [[0.70, 0.80, 0.85], [0.72, 0.80, 0.84], [0.68, 0.80, 0.86]]
    better = _setting("b", {**val, "test_score": scores})
    t = c.ft_test(better, "hp0_ft")
    assert t.statistics == "test HPtau*-FT − HP0-FT +10.00 ± 4.97 pp (n=3)"
    assert t.p_expected == pytest.approx(0.006536, abs=1e-6)
    verdicts = c.claims(better).set_index("claim")["verdict"]
    assert verdicts["(e) HPtau*-FT beats HP0-FT"] == c.HOLDS
    assert verdicts["(d) HPtau*-FT beats HPmax-FT"] == c.FAILS
    # +0.10, -0.10, +0.01: t = 0.058, p 0.48 either way
    mixed = _setting(
        "m", {**val, "test_score": [[0.70, 0.80, 0.0], [0.80, 0.70, 0.0], [0.70, 0.71, 0.0]]}
    )
    assert c.claims(mixed).set_index("claim")["verdict"]["(e) HPtau*-FT beats HP0-FT"] == (
        c.UNDECIDED
    )
    no_tau0 = c.ft_test(_setting("no_tau0", val, taus=(1, 4, 16)), "hp0_ft")
    assert math.isnan(no_tau0.p_expected)


def test_the_primary_claim_pools_the_settings_within_each_seed():
    val = {"val_score": [[0.7, 0.8, 0.75]] * 3}  # tau* = 4
    # tau* - tau 0 in pp: A 2, 1, 3; B 0, 2, -1. Per seed: 1, 1.5, 1: mean 1.1667, sd 0.2887,
    # t = 1.1667 / (0.2887 / sqrt 3) = 7.0 on 2 df: p 0.0099 < 0.025, CI 1.1667 ± 4.3027 x
    # 0.16667 = [0.45, 1.88]. The ls companion is not pooled.
    a = _setting(
        "A", {**val, "test_score": [[0.80, 0.82, 0.7], [0.80, 0.81, 0.7], [0.8, 0.83, 0.7]]}
    )
    b = _setting(
        "B", {**val, "test_score": [[0.80, 0.80, 0.7], [0.80, 0.82, 0.7], [0.8, 0.79, 0.7]]}
    )
    ls = _setting("A_ls", {**val, "test_score": [[0.9, 0.1, 0.5]] * 3}, eta_hp=0.9)
    main = c.primary(pd.concat([a, b, ls]))
    row = main.loc["HPtau*-FT − HP0-FT"]
    assert (row["mean"], row["95% CI"], row["seeds"], row["settings"]) == (
        "+1.17",
        "[+0.45, +1.88]",
        3,
        2,
    )
    assert row["p (> 0)"] == "0.0099" and row["verdict"] == c.HOLDS
    # against tau 16: A 12, 11, 13; B 10, 12, 9 pp: per seed 11, 11.5, 11: holds too
    assert main.loc["HPtau*-FT − HPmax-FT", "mean"] == "+11.17"
    # all differences 0.1 pp or less, spread 0.05 pp: equivalent within ±1 pp (TOST)
    flat = [[0.800, 0.801, 0.7], [0.800, 0.8005, 0.7], [0.800, 0.8015, 0.7]]
    same = c.primary(_setting("C", {**val, "test_score": flat}))
    assert same.loc["HPtau*-FT − HP0-FT", "verdict"] == c.EQUIVALENT


def test_label_smoothing_pairs_at_tau_max():
    base = _setting("base", {"energy": [[0.9, 0.5, 0.10], [0.9, 0.5, 0.12], [0.9, 0.5, 0.11]]})
    more = _setting(
        "ls",
        {
            "energy": [[0.9, 0.5, 0.20], [0.9, 0.5, 0.21], [0.9, 0.5, 0.23]],
            "z_dist_sq": [[1, 1, 1.2], [1, 1, 1.3], [1, 1, 1.25]],
        },
        eta_hp=0.9,
    )
    out = c.ls_claims(pd.concat([base, more]))
    assert out[["baseline", "companion", "verdict"]].values.tolist() == [["base", "ls", c.HOLDS]]
    # energy 0.10, 0.09, 0.12: mean 0.103, half-width 4.3027 x 0.015275 / sqrt 3 = 0.0379;
    # at tau* (0 here: every score ties) both settings have 0.9
    assert "E_aie +0.103 ± 0.0379 (n=3; at tau* +0 ± 0)" in out["statistics"].iloc[0]
    less = more.assign(z_dist_sq=more["z_dist_sq"] - 0.5)  # keeps more energy but adapts less
    assert c.ls_claims(pd.concat([base, less]))["verdict"].tolist() == [c.FAILS]
    # z -0.05, +0.04, -0.01 at tau max: no direction, so undecided
    mixed = more.copy()
    mixed.loc[mixed["tau"] == 16, "z_dist_sq"] = [0.95, 1.04, 0.99]
    assert c.ls_claims(pd.concat([base, mixed]))["verdict"].tolist() == [c.UNDECIDED]
    other_bn = more.assign(bn="target")  # not a companion
    assert c.ls_claims(pd.concat([base, other_bn])).empty


def test_warnings_by_rule():
    # 10-class fit 0.10 -> 0.15: gain 0.05 < 0.1 * 0.90; the best epoch at the cap in 2 of 9 runs
    # (and the cap reached without a stop in 3 more: no warning); tau* 16 in 3/3 seeds
    near = _setting(
        "near",
        {
            "hp_train_fit": [[0.10, 0.12, 0.15]] * 3,
            "val_score": [[0.5, 0.6, 0.7]] * 3,
            "best_epoch": [[5, 5, 5], [10, 5, 5], [5, 5, 10]],
            "stopped_early": [[False, True, True], [False, False, True], [True, True, False]],
        },
    )
    found = c.warnings(near)
    assert (
        "near: HP stayed near chance: mean HP-train fit 10.0% at tau 0, 15.0% at tau 16" in found[0]
    )
    assert (
        found[1]
        == "near: 2/9 FT runs (22%) were still improving on validation at the epoch cap (10 epochs)"
    )
    assert found[2] == "near: tau* at the edge of the grid in 3/3 seeds (tau 16 in 3)"
    fine = _setting(
        "fine", {"hp_train_fit": [[0.10, 0.15, 0.20]] * 3, "val_score": [[0.5, 0.7, 0.6]] * 3}
    )
    assert (
        c.warnings(fine) == []
    )  # gain 0.10 >= 0.09; every best epoch before the cap; tau* 4 interior
    assert (
        c.warnings(fine.assign(test_score=float("nan")))[0]
        == "fine: 9/9 runs have no finite test_score"
    )


def test_markdown_leads_with_the_primary_claim():
    text = c.markdown(_setting("s", {"energy": [[0.9, 0.5, 0.1]] * 3}))
    heads = [
        "## Answer",
        "## Primary claim",
        "## Findings",
        "## Verdicts at a glance",
        "## Rules",
        "## Warnings",
    ]
    assert [text.index(h) for h in heads] == sorted(text.index(h) for h in heads)
    assert c.RULES in text and "| s " in text and "Secondary verdicts: " in text
    assert text.index("Preview (alpha 0.05)") < text.index("## Answer")
    answer = re.search(r"## Answer\n\n(.*?)\n\n## ", text, re.S)[1]
    assert answer.startswith("**Primary: HPtau*-FT beats HP0-FT on test") and "\n" not in answer
    confirm = c.markdown(
        _setting("s"), AnalysisCfg(role="confirmatory", alpha=0.025, plan="abc1234", look=1)
    )
    assert (
        "Confirmatory study, look 1: judged by docs/analysis-plan.md as committed at abc1234"
        in (confirm)
    )
    assert "97.5% CI" in confirm


def test_aggregate_checks_every_tau_and_seed_writes_every_output_and_warns(
    in_tmp, monkeypatch, capsys
):
    """aggregate.run on a duck-typed study; cost.md's module stubbed (tested in test_cost.py)."""
    monkeypatch.setattr(cost, "markdown", lambda bench_dir, study=None: f"cost of {bench_dir}\n")
    study = SimpleNamespace(
        settings={"base": None, "ls": None},
        seeds=[0, 1, 2],
        taus_of=lambda s: list(TAUS),
        analysis=AnalysisCfg(),
    )
    extra = {
        "metric": "accuracy",
        "hp_train_acc": 0.9,
        "hp_train_score": 0.9,
        "z_dot": 1.0,
        "z_norm_sq": 1.0,
        "z_stats_dist_sq": float("nan"),
        "z_weights_dist_sq": float("nan"),
        "best_epoch": 3,
        "epochs_run": 5,
        "val_acc": 0.8,
        "test_acc": 0.8,
        "head_norm": 2.0,
        "z_epoch": 5,
        "z_epoch2": 10,
        **{f"z2_{m}": 1.0 for m in ("dist_sq", "dot", "norm_sq", "cos")},
    }
    for name, seed, tau in product(("base", "ls"), range(3), (TAUS[0], TAUS[-1])):
        curve = pd.DataFrame({"epoch": range(1, 11), "train_loss": [1 / e for e in range(1, 11)]})
        paths.ft_curve(name, seed, tau).parent.mkdir(parents=True, exist_ok=True)
        curve.to_csv(paths.ft_curve(name, seed, tau), index=False)
    for name, eta in (("base", 1.0), ("ls", 0.9)):
        rows = _setting(name, {"val_score": [[0.7, 0.8, 0.75]] * 3}, eta_hp=eta, **extra).to_dict(
            "records"
        )
        paths.evaluation(name).parent.mkdir(parents=True, exist_ok=True)
        paths.evaluation(name).write_text(json.dumps(rows[:-1] if name == "ls" else rows))
    with pytest.raises(PipelineError, match=r"ls\.json: .*missing \(tau, seed\) \[\(16, 2\)\]"):
        aggregate.collect(study)
    paths.evaluation("ls").write_text(json.dumps(rows))
    summary = aggregate.run(study)
    assert len(summary) == 2 * 3 * 3 and list(summary.columns) == columns.names()
    assert all(p.is_file() and p.stat().st_size for p in paths.AGGREGATE_OUTS)
    assert paths.COST.read_text() == "cost of benchmarks\n"
    # fit 0.9 at every tau
    assert "[aggregate] warning: base: HP stayed near chance" in capsys.readouterr().err
    metrics = json.loads(paths.METRICS.read_text())["base"]
    assert metrics["tau_star"] == 4 and metrics["tau_star_count"] == 3 and metrics["hp0_ft_ci"] == 0
    # one seed: null, not NaN
    assert aggregate.metrics(summary[summary.seed == 0])["base"]["hp0_ft_ci"] is None
    assert "(e) HPtau*-FT beats HP0-FT" in paths.CONCLUSIONS.read_text()
    shown = compare.run(compare.WORKTREE, compare.WORKTREE)
    # tau* whole
    assert re.search(r"^\| tau\* +\| +\+0 \| +\+0 \|$", shown, re.M) and "+0.000" in shown


def test_a_reversal_is_reported_with_the_head_norm():
    # (b) goes the other way in "gcn": z_dist_sq rises in every seed (Page p 1/216 < 0.025)
    gcn = _setting("gcn", {"z_dist_sq": [[1, 2, 3]] * 3, "head_norm": [[1, 4, 10]] * 3})
    res = _setting("res", {"z_dist_sq": [[3, 2, 1]] * 3, "head_norm": [[1, 1.5, 2]] * 3})
    summary = pd.concat([gcn, res])
    found = c.claims(summary)
    norms = c.head_norms(summary)
    assert norms.loc["gcn"].tolist() == [1, 4, 10]
    text = c.reversal(found, norms)
    assert "goes the other way ((b) or (c) does not hold) in gcn" in text
    assert "its norm grows gcn 10.0-fold, against a median 2.0-fold" in text
    assert "## The head's norm after HP" in c.markdown(summary)
    calm = c.reversal(c.claims(res), c.head_norms(res))
    assert calm.startswith("No setting's feature change goes the other way")


def test_a_study_without_an_eta_hp_1_setting_has_no_primary_contrast():
    only_ls = _setting("ls", {"energy": [[0.9, 0.5, 0.1]] * 3}, eta_hp=0.9)
    main = c.primary(only_ls)
    assert main["verdict"].tolist() == [c.UNDECIDED] * 2 and main["settings"].tolist() == [0, 0]
    assert "no setting with eta_HP = 1, so nothing to pool" in c.markdown(only_ls)

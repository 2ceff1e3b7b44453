"""The verdict rules of results/conclusions.md on hand-made summaries of 3 seeds (a half-width
over 3 seeds is 4.3027 * sd / sqrt(3) = 2.4841 * sd)."""

import json
import re
from itertools import product
from types import SimpleNamespace

import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.io import paths
from pipeline.report import columns, cost
from pipeline.report import conclusions as c
from pipeline.report.stats import interval
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
        "ft_epochs": 10,
    }
    rows = []
    for seed in range(3):
        for i, tau in enumerate(taus):
            row = {**defaults, **const, "setting": name, "eta_hp": eta_hp, "seed": seed, "tau": tau}
            row.update({col: values[seed][i] for col, values in (by_seed or {}).items()})
            rows.append(row)
    return pd.DataFrame(rows)


def test_verdict_rule_by_the_side_of_zero():
    assert c.verdict(interval([-0.9, -1.0, -0.8]), -1) == c.HOLDS
    assert c.verdict(interval([-0.9, -1.0, -0.8]), +1) == c.FAILS
    assert c.verdict(interval([-1.0, 0.5, 0.2]), -1) == c.UNSURE  # CI holds 0
    assert c.verdict(interval([-1.0, -1.0]), -1) == c.UNSURE  # 2 seeds: too few, whatever the CI
    assert c.both(c.HOLDS, c.HOLDS) == c.HOLDS and c.both(c.HOLDS, c.UNSURE) == c.UNSURE
    assert c.both(c.UNSURE, c.FAILS) == c.FAILS


def test_a_definite_verdict_needs_the_minimum_effect():
    # three seeds close together around a small mean: the CI excludes 0, the effect is negligible
    assert c.verdict(interval([0.2, 0.4, 0.4]), +1) == c.HOLDS
    assert c.verdict(interval([0.2, 0.4, 0.4]), +1, c.MIN_RHO) == c.UNSURE
    # not "does not hold" either
    assert c.verdict(interval([-0.2, -0.4, -0.4]), +1, c.MIN_RHO) == c.UNSURE
    assert c.verdict(interval([0.5, 0.5, 0.5]), +1, 0.5) == c.HOLDS  # the minimum itself is enough
    assert c.verdict(interval([0.6, 0.8, 0.7]), -1, c.MIN_RHO) == c.FAILS


def test_seg_like_trends_over_four_taus_are_inconclusive_below_the_minimum_rho():
    # rho +0.2, +0.4, +0.4 (CI [+0.05, +0.62] above 0) for a quantity that should fall: mean 0.33 < 0.5
    df = _setting(
        "s", {"z_dist_sq": [[1, 4, 3, 2], [3, 1, 2, 4], [3, 1, 2, 4]]}, taus=(0, 1, 16, 64)
    )
    (_, sb, vb) = c.trend_claims(df)[1]
    assert sb == "rho +0.33 [+0.05, +0.62], 0/3 negative" and vb == c.UNSURE


def test_trend_claims_each_verdict():
    df = _setting(
        "s",
        {
            "energy": [[0.9, 0.5, 0.1]] * 3,  # rho -1 every seed
            "z_cos": [[0.9, 0.5, 0.1]] * 3,  # falls: cos should rise
            "z_dist_sq": [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 3.0, 2.0]],
        },
    )  # +1, -1, +0.5
    (a, sa, va), (b, sb, vb), (cc, sc, vc) = c.trend_claims(df)
    assert (
        a.startswith("(a) E_aie falls")
        and va == c.HOLDS
        and sa == "rho -1.00 [-1.00, -1.00], 3/3 negative"
    )
    assert vb == c.UNSURE and "1/3 negative" in sb
    assert cc.startswith("(c) cos") and vc == c.FAILS


def test_interior_tau_star():
    def val(*per_seed):
        return {"val_score": list(per_seed)}

    # best interior tau 4 beats tau 0 by 0.10, 0.12, 0.08 and tau 16 by 0.05, 0.06, 0.04: both CIs above 0
    ok = _setting("ok", val([0.70, 0.80, 0.75], [0.69, 0.81, 0.75], [0.72, 0.80, 0.76]))
    claim, stats, v = c.interior_claim(ok)
    assert v == c.HOLDS and "best interior tau 4" in stats and "tau* 4 (3/3)" in stats
    assert "val − val at tau 0 +10.00 ± 4.97 pp (n=3)" in stats  # 0.10, 0.12, 0.08: sd 0.02
    # tau 16 beats the best interior tau in every seed by 0.05, 0.06, 0.04: does not hold
    edge = _setting("edge", val([0.70, 0.80, 0.85], [0.69, 0.81, 0.87], [0.72, 0.80, 0.84]))
    assert c.interior_claim(edge)[2] == c.FAILS
    # interior beats tau 0 clearly but ties tau 16 up to noise (+0.05, -0.05, 0.0): inconclusive
    noisy = _setting("noisy", val([0.70, 0.80, 0.75], [0.69, 0.81, 0.86], [0.72, 0.80, 0.80]))
    assert c.interior_claim(noisy)[2] == c.UNSURE
    two = _setting("two", {"val_score": [[0.7, 0.8]] * 3}, taus=(0, 16))
    assert c.interior_claim(two)[2] == c.UNSURE


def test_hp_tau_star_ft_against_hp0_ft():
    val = {"val_score": [[0.7, 0.8, 0.75]] * 3}  # tau* = 4 in every seed
    # test at tau* - tau 0: 0.10, 0.06, 0.14: mean 0.10, half 2.4841 * 0.04 = 0.0994: CI [0.0006, 0.1994]
    better = _setting(
        "b", {**val, "test_score": [[0.70, 0.80, 0.0], [0.72, 0.78, 0.0], [0.68, 0.82, 0.0]]}
    )
    claim, stats, v = c.ft_claim(better)
    assert v == c.HOLDS and stats == "test HPtau*-FT − HP0-FT +10.00 ± 9.94 pp (n=3)"
    worse = _setting(
        "w", {**val, "test_score": [[0.75, 0.70, 0.0], [0.76, 0.70, 0.0], [0.77, 0.70, 0.0]]}
    )
    assert c.ft_claim(worse)[2] == c.FAILS
    mixed = _setting(
        "m", {**val, "test_score": [[0.70, 0.80, 0.0], [0.80, 0.70, 0.0], [0.70, 0.71, 0.0]]}
    )
    assert c.ft_claim(mixed)[2] == c.UNSURE
    assert c.ft_claim(_setting("no_tau0", val, taus=(1, 4, 16)))[2] == c.UNSURE


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
    less = more.assign(z_dist_sq=more["z_dist_sq"] - 0.5)  # keeps more energy but adapts less
    assert c.ls_claims(pd.concat([base, less]))["verdict"].tolist() == [c.FAILS]
    # minimum effect: 0.1 of the baseline's mean at its smallest tau (energy 0.9, z 1.0)
    # 0.10, 0.09, 0.12: 2.4841 * 0.015275
    assert "E_aie +0.103 ± 0.0379 (n=3; minimum 0.09)" in out["statistics"].iloc[0]
    # +0.05 ± 0.06 over a baseline of 1: negligible
    small = more.assign(z_dist_sq=more["z_dist_sq"] - 0.2)
    small.loc[small["tau"] == 16, "z_dist_sq"] = [
        0.95,
        0.96,
        0.97,
    ]  # -0.05, -0.04, -0.03: CI below 0
    assert c.ls_claims(pd.concat([base, small]))["verdict"].tolist() == [c.UNSURE]
    other_bn = more.assign(bn="target")  # not a companion
    assert c.ls_claims(pd.concat([base, other_bn])).empty


def test_warnings_by_rule():
    # 10-class fit 0.10 -> 0.15: gain 0.05 < 0.1 * 0.90; the cap hit in 2 of 9 runs; tau* 16 in 3/3 seeds
    near = _setting(
        "near",
        {
            "hp_train_fit": [[0.10, 0.12, 0.15]] * 3,
            "val_score": [[0.5, 0.6, 0.7]] * 3,
            "stopped_early": [[True, True, True], [False, True, True], [True, True, False]],
        },
    )
    found = c.warnings(near)
    assert (
        "near: HP stayed near chance: mean HP-train fit 10.0% at tau 0, 15.0% at tau 16" in found[0]
    )
    assert (
        found[1] == "near: 2/9 FT runs (22%) hit the epoch cap (10 epochs) without stopping early"
    )
    assert found[2] == "near: tau* at the edge of the grid in 3/3 seeds (tau 16 in 3)"
    fine = _setting(
        "fine", {"hp_train_fit": [[0.10, 0.15, 0.20]] * 3, "val_score": [[0.5, 0.7, 0.6]] * 3}
    )
    assert c.warnings(fine) == []  # gain 0.10 >= 0.09; every run stopped early; tau* 4 interior
    assert (
        c.warnings(fine.assign(test_score=float("nan")))[0]
        == "fine: 9/9 runs have no finite test_score"
    )


def test_markdown_prints_the_rules_first():
    text = c.markdown(_setting("s", {"energy": [[0.9, 0.5, 0.1]] * 3}))
    assert text.index("## Rules") < text.index("## Warnings") < text.index("## Claims")
    assert c.RULES in text and "| s " in text and "Verdicts: " in text


def test_aggregate_checks_every_tau_and_seed_writes_every_output_and_warns(
    in_tmp, monkeypatch, capsys
):
    """aggregate.run on a duck-typed study; cost.md's module stubbed (tested in test_cost.py)."""
    monkeypatch.setattr(cost, "markdown", lambda bench_dir, study=None: f"cost of {bench_dir}\n")
    study = SimpleNamespace(
        settings={"base": None, "ls": None}, seeds=[0, 1, 2], taus_of=lambda s: list(TAUS)
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

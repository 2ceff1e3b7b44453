"""`python -m pipeline advise`: the paper's user guide applied to a study's results. Per
setting: tau* per seed and its contrasts with HP0-FT and HPmax-FT, HP's training fit against
tau, the energy at tau*, the rules of pipeline.report.advice_rules that fire, and grid and budget
checks; then a follow-up study file with the suggested companions. Writes advice.md,
advice.json and advice-followup.yaml next to the study's summary.csv."""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import pandas as pd

from pipeline.io import paths
from pipeline.report.advice_rules import CONVERGED_EPOCHS, CONVERGED_RISE, QUOTES, Evidence, explain
from pipeline.report.conclusions import MIN_SCORE, MIN_SEEDS
from pipeline.report.stats import Interval, interval, paired
from pipeline.report.tables import companion, mostly_capped, pick, seed_table, tau_stars

MARGIN = (
    MIN_SCORE  # the study's smallest score difference that matters (pipeline.report.conclusions)
)
REACH = 0.9  # "the tau at which HP's fit reaches 90% of its final value"
GROW = 4  # a grid extended upwards gets GROW x its largest tau (the grids grow in powers of 4)
FT_GROW = 2  # FT at its cap gets FT_GROW x its epochs
LS_ETA = 0.9  # the label smoothing of a suggested _ls companion (Table 2's eta_HP)


@dataclass
class SettingAdvice:
    setting: str
    taus: list[int]
    tau_star: dict[int, int]
    vs_hp0: dict
    vs_hpmax: dict
    fit: dict
    energy: dict
    evidence: dict
    rules: list[dict]
    checks: dict[str, str] = field(default_factory=dict)  # name -> sentence
    changes: dict = field(default_factory=dict)  # the follow-up study's edits
    companion: dict | None = None  # the study's own _ls companion, measured


def _iv(iv: Interval) -> dict:
    return {"mean": iv.mean, "low": iv.low, "high": iv.high, "n": iv.n}


def hp_curve(setting: str, seed: int) -> pd.Series | None:
    """HP's training accuracy by epoch (results/train_curves/SETTING/hp_seedS.csv), or None."""
    path = paths.train_curves(setting) / f"hp_seed{seed}.csv"
    if not path.is_file():
        return None
    df = pd.read_csv(path)
    return df.set_index("epoch")["train_acc"].dropna() if "train_acc" in df else None


def fit_profile(df: pd.DataFrame, setting: str) -> dict:
    """HP's training fit against tau: the mean fit at each tau of the grid; the first tau of
    the grid where it reaches REACH of its final value, and the first epoch of HP's log
    (training accuracy per epoch; the median seed's); whether it converged by the largest
    tau (HP's log: it rose less than CONVERGED_RISE over the last CONVERGED_EPOCHS epochs;
    without a log that long, between the last two taus); and its gap to a perfect fit."""
    by_tau = df.groupby("tau")["hp_train_fit"].mean()
    final = float(by_tau.iloc[-1])
    reach = next((int(t) for t, v in by_tau.items() if v >= REACH * final), None)
    rises, epochs = [], []
    for seed in sorted(df["seed"].unique()):
        curve = hp_curve(setting, int(seed))
        if curve is not None and len(curve):
            epochs.append(int(curve[curve >= REACH * curve.iloc[-1]].index[0]))
        if curve is not None and len(curve) > CONVERGED_EPOCHS:
            rises.append(float(curve.iloc[-1] - curve.iloc[-1 - CONVERGED_EPOCHS]))
    rise = (
        float(pd.Series(rises).mean())
        if rises
        else float(by_tau.iloc[-1] - by_tau.iloc[-2])
        if len(by_tau) > 1
        else math.nan
    )
    return {
        "by_tau": {int(t): float(v) for t, v in by_tau.items()},
        "final": final,
        "tau_reach": reach,
        "epoch_reach": int(middle(pd.Series(epochs))) if epochs else None,
        "rise_at_end": rise,
        "rise_from": "hp log" if rises else "grid",
        "converged": bool(rise < CONVERGED_RISE) if not math.isnan(rise) else None,
        "gap_to_perfect": 1 - final,
    }


def energy_profile(df: pd.DataFrame, stars: pd.Series) -> dict:
    """The energy (E_aie) at tau*, and where it sits between the grid's least (0) and most
    (1) energy, per seed, then the mean."""
    at = pick(df, stars, "energy")
    pos = []
    for seed in stars.index:
        e = df[df["seed"] == seed]["energy"]
        lo, hi = float(e.min()), float(e.max())
        pos.append((at[seed] - lo) / (hi - lo) if hi > lo else math.nan)
    by_tau = df.groupby("tau")["energy"].mean()
    return {
        "at_tau_star": _iv(interval(at)),
        "position": float(pd.Series(pos).mean()),
        "grid_min": float(by_tau.min()),
        "grid_max": float(by_tau.max()),
    }


def middle(values: pd.Series) -> float:
    """The median seed's value (the lower of the two middle ones): a value some seed had."""
    return float(values.dropna().sort_values().iloc[(values.notna().sum() - 1) // 2])


def wanted(stars: pd.Series, taus: list[int]) -> str | None:
    """The adaptation validation asks for, from the median tau* over seeds: the largest tau
    -> tiny energy, the smallest -> large, else mild."""
    if stars.empty:
        return None
    star = middle(stars)
    return "tiny" if star == taus[-1] else "large" if star == taus[0] else "mild"


def equivalent(df: pd.DataFrame, stars: pd.Series, taus: list[int]) -> tuple[int, Interval] | None:
    """The smallest tau whose test score, paired by seed with that at tau*, has a CI inside
    +- MARGIN (with at least MIN_SEEDS seeds), or None."""
    best = pick(df, stars, "test_score")
    for tau in taus:
        iv = paired(best, pick(df, tau, "test_score"))
        if iv.n >= MIN_SEEDS and iv.low > -MARGIN and iv.high < MARGIN:
            return tau, iv
    return None


def _pp(iv: Interval) -> str:
    return f"{iv.text('.2f', 100, signed=True)} pp (n={iv.n})"


def checks(df: pd.DataFrame, stars: pd.Series, taus: list[int], fit: dict, seeds: pd.DataFrame):
    """Grid and budget checks: ({name: sentence}, follow-up edits)."""
    out, changes = {}, {}
    top = int((stars == taus[-1]).sum())
    bottom = int((stars == taus[0]).sum())
    if 2 * top > len(stars):
        grid = [*taus, GROW * max(taus[-1], 1)]
        out["extend_grid_up"] = (
            f"tau* is the largest tau {taus[-1]} in {top}/{len(stars)} seeds: extend the grid "
            f"upwards (follow-up: taus {grid})."
        )
        changes["taus"] = grid
    if 2 * bottom > len(stars) and len(taus) > 1:
        low = taus[0] if taus[0] > 0 else None
        between = [t for t in range(taus[0] + 1, taus[1]) if t & (t - 1) == 0][:2]
        if low is not None:
            between = sorted({max(low // 2, 0), *between} - {low})
        if between:
            grid = sorted({*changes.get("taus", taus), *between})
            out["refine_grid_down"] = (
                f"tau* is the smallest tau {taus[0]} in {bottom}/{len(stars)} seeds: refine "
                f"the grid at that end (follow-up: taus {grid})."
            )
            changes["taus"] = grid
    if fit["converged"] is False:
        grid = sorted({*changes.get("taus", taus), GROW * max(taus[-1], 1)})
        out["raise_tau_max"] = (
            f"HP's fit still rose {fit['rise_at_end']:+.1%} over the last "
            f"epochs before tau {taus[-1]} (from the {fit['rise_from']}; converged: a rise < "
            f"{CONVERGED_RISE:.0%} over {CONVERGED_EPOCHS} epochs) (follow-up: taus {grid})."
        )
        changes["taus"] = grid
    if 0 in taus and mostly_capped(seeds["hp0_ft_capped"]):
        n = int(seeds["hp0_ft_capped"].sum())
        out["raise_ft_epochs"] = (
            f"FT at tau 0 was still improving on validation at its epoch cap in {n}/{len(seeds)} seeds "
            f"(follow-up: ft.epochs x{FT_GROW})."
        )
        changes["ft_epochs_x"] = FT_GROW
    eq = equivalent(df, stars, taus)
    if eq is not None:
        tau, iv = eq
        name = "HP0-FT" if tau == 0 else f"HP{tau}-FT"
        out["cheaper_tau_as_good"] = (
            f"test at tau* − test at tau {tau} = {_pp(iv)}, inside ±{100 * MARGIN:g} pp: {name} "
            f"(the cheapest such tau) is as good as HPtau*-FT here."
        )
    elif stars.size < MIN_SEEDS:
        out["too_few_seeds"] = (
            f"fewer than {MIN_SEEDS} seeds: no tau can be called as good as tau*."
        )
    return out, changes


def measured_ls(summary: pd.DataFrame, setting: str, seeds: pd.DataFrame) -> dict | None:
    """The setting's label-smoothed companion in the study (pipeline.report.tables.companion), if
    any: test lsHPmax-FT − HPtau*-FT paired by seed."""
    ls = companion(summary, setting)
    if ls.empty or ls["setting"].iloc[0] == setting:
        return None
    diff = paired(pick(ls, int(ls["tau"].max()), "test_score"), seeds["hp_tau_star_ft"])
    return {"setting": str(ls["setting"].iloc[0]), "ls_max_minus_tau_star": _iv(diff)}


def advise_setting(summary: pd.DataFrame, setting: str) -> SettingAdvice:
    df = summary[summary["setting"] == setting].sort_values(["tau", "seed"])
    taus = sorted(int(t) for t in df["tau"].unique())
    stars = tau_stars(df)
    seeds = seed_table(df)
    fit = fit_profile(df, setting)
    first = df.iloc[0]
    evidence = Evidence(
        fit=fit["final"],
        fit_tau_star=middle(seeds["hp_train_fit_tau_star"]),
        converged=fit["converged"],
        wants=wanted(stars, taus),
        head=str(first["head"]),
        eta_hp=float(first["eta_hp"]),
        eta_ft=float(first["eta_ft"]),
        ft_capped_at_0=mostly_capped(seeds["hp0_ft_capped"]) if 0 in taus else None,
    )
    fired = explain(evidence)
    found, changes = checks(df, stars, taus, fit, seeds)
    rule_names = {f.rule for f in fired if not f.avoid}
    measured = measured_ls(summary, setting, seeds) if evidence.eta_hp == 1 else None
    for rule in ("ls_hp", "mlp_head"):
        if rule in rule_names and not (rule == "ls_hp" and measured):
            changes[rule] = True
    return SettingAdvice(
        setting=setting,
        taus=taus,
        tau_star={int(s): int(t) for s, t in stars.items()},
        vs_hp0=_iv(paired(seeds["hp_tau_star_ft"], seeds["hp0_ft"])),
        vs_hpmax=_iv(paired(seeds["hp_tau_star_ft"], seeds["hpmax_ft"])),
        fit=fit,
        energy=energy_profile(df, stars),
        evidence=asdict(evidence),
        rules=[asdict(f) for f in fired],
        checks=found,
        changes=changes,
        companion=measured,
    )


def advise(summary: pd.DataFrame) -> list[SettingAdvice]:
    return [advise_setting(summary, s) for s in summary["setting"].unique()]


def followup(study: dict, advice: list[SettingAdvice], name: str) -> dict:
    """The study (results/params.json's mapping) with the suggested companions added and the
    grids and FT budgets raised where a check asked: a full study file, ready for
    `snakemake --configfile` and `python -m pipeline validate --params`."""
    out = copy.deepcopy(study)
    out["name"] = name
    settings = out["settings"]
    for a in advice:
        base = study["settings"][a.setting]
        edited = settings[a.setting]
        if "taus" in a.changes:
            edited["hp"]["taus"] = a.changes["taus"]
        if "ft_epochs_x" in a.changes:
            edited["ft"]["epochs"] = base["ft"]["epochs"] * a.changes["ft_epochs_x"]
        if a.changes.get("ls_hp"):
            ls = copy.deepcopy(edited)
            ls["hp"]["eta"] = min(LS_ETA, ls["ft"]["eta"])
            settings.setdefault(f"{a.setting}_ls", ls)
        if a.changes.get("mlp_head"):
            mlp = copy.deepcopy(edited)
            mlp["head"]["kind"] = "mlp"
            settings.setdefault(f"{a.setting}_mlp", mlp)
    return out


def _f(x: float, fmt: str = ".1%") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _iv_text(d: dict) -> str:
    iv = Interval(d["mean"], math.nan, d["n"], d["low"], d["high"])
    return _pp(iv)


def glance(advice: list[SettingAdvice]) -> list[str]:
    """One bullet per setting where a rule fires or a grid or budget check speaks."""
    out = []
    for a in advice:
        said = [f"{'avoid' if r['avoid'] else 'try'} `{r['rule']}`" for r in a.rules]
        said += [f"`{name}`" for name in a.checks if name not in {r["rule"] for r in a.rules}]
        if said:
            out.append(f"- {a.setting}: {', '.join(said)}")
    return out or ["- No rule fires and no check speaks in any setting."]


def markdown(advice: list[SettingAdvice], followup_file: str) -> str:
    lines = [
        "# Advice: the paper's user guide applied to this study",
        "",
        "Generated by `python -m pipeline advise` from summary.csv and HP's logs "
        "(train_curves/). Each rule is the paper's workflow, phenomenon → hypothesis → what "
        "to try (section 5.1). The cases these rules were checked on: docs/advice-cases.md.",
        "",
        "## Thresholds",
        "",
        "| name | value | the paper's sentence |",
        "|---|---|---|",
    ]
    for key, (value, quote) in QUOTES.items():
        lines.append(f"| {key} | {value:g} | {quote} |")
    lines += [
        f"| MARGIN | {MARGIN:g} | the study's smallest score difference that matters "
        "(pipeline.report.conclusions.MIN_SCORE): taus within it are as good |",
        f"| REACH | {REACH:g} | the issue's 'tau at which HP's fit reaches 90% of its final "
        "value' |",
        "",
        "The adaptation a setting wants is read off its median tau* over seeds: the largest "
        "tau → tiny energy, the smallest → large, else mild; the fit at tau* is the median "
        "seed's. The partial-backbone rule needs a "
        "belief about the task that no result shows, so it never fires on a study.",
        "",
        f"Follow-up study with the suggested companions: `{followup_file}` (run it with "
        f"`snakemake --cores 2 --configfile {followup_file}`).",
    ]
    lines += ["", "## At a glance", "", *glance(advice)]
    for a in advice:
        fit, en = a.fit, a.energy
        lines += [
            "",
            f"## {a.setting}",
            "",
            f"- grid: taus {a.taus}; tau* per seed: "
            + ", ".join(f"seed {s}: {t}" for s, t in a.tau_star.items()),
            f"- test HPtau*-FT − HP0-FT: {_iv_text(a.vs_hp0)}; "
            f"HPtau*-FT − HPmax-FT: {_iv_text(a.vs_hpmax)}",
            "- HP's training fit by tau: "
            + ", ".join(f"{t}: {_f(v)}" for t, v in fit["by_tau"].items())
            + f"; reaches {REACH:.0%} of its final value at tau {fit['tau_reach']} of the grid "
            f"(HP's log: epoch {fit['epoch_reach']}); "
            f"converged by tau {a.taus[-1]}: {fit['converged']} (rise "
            f"{_f(fit['rise_at_end'], '+.1%')} over the last epochs, from the {fit['rise_from']})"
            f"; {_f(fit['gap_to_perfect'])} short of 100%",
            f"- energy at tau*: {a.energy['at_tau_star']['mean']:.4g} (grid: "
            f"{en['grid_min']:.4g} to {en['grid_max']:.4g}); position between the least (0) and "
            f"the most (1) energy of the grid: {_f(en['position'], '.2f')}",
            f"- wanted adaptation (from tau*): {a.evidence['wants']}",
        ]
        if a.rules:
            lines += ["", "Rules that fire:", ""]
            for r in a.rules:
                verb = "avoid" if r["avoid"] else "try"
                lines.append(
                    f"- `{r['rule']}` ({verb}): {r['phenomenon']} → {r['hypothesis']} → "
                    f"{r['action']}"
                )
        else:
            lines += ["", "No rule of the user guide fires."]
        if a.companion:
            c = a.companion
            lines += [
                "",
                f"The study's label-smoothed companion `{c['setting']}` measured test "
                f"lsHPmax-FT − HPtau*-FT = {_iv_text(c['ls_max_minus_tau_star'])}.",
            ]
        if a.checks:
            lines += ["", "Grid and budget:", ""]
            lines += [f"- `{name}`: {text}" for name, text in a.checks.items()]
    return "\n".join(lines) + "\n"

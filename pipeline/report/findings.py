"""The findings in plain words, the opening of results/conclusions.md: for each of the
paper's claims, where it holds, where it does not, where it is undecided, and what would
decide it. Generated from the verdicts (pipeline/report/conclusions.py), never typed by hand."""

from __future__ import annotations

import pandas as pd

from pipeline.report import columns
from pipeline.report.stats import Interval, seeds_to_decide

HOLDS, FAILS, EQUIVALENT = "holds", "does not hold", "equivalent"
# Each claim as a sentence a reader can check against the paper (section 4.2 and Table 1);
# those of the trend claims are in their columns' `trend` (pipeline/report/columns.py).
SENTENCES = {
    "(d)": "HPtau*-FT beats HPmax-FT on test (with (e): tau* is interior)",
    "(e)": "HPtau*-FT beats HP0-FT on test (the paper's practical claim)",
    "(f)": "Label-smoothed HP keeps more energy and changes the features more",
}


def _where(verdicts: pd.Series, noun: str = "settings") -> str:
    """`holds in 4 of 9 settings (a, b, c, d); undecided in 5 of 9 (...)`."""
    n = len(verdicts)
    parts = []
    for v, word in ((HOLDS, "holds"), (FAILS, "goes the other way"), (None, "undecided")):
        hit = verdicts[verdicts.isin([HOLDS, FAILS]) != (v is None)]
        hit = hit[hit == v] if v else hit
        if len(hit) == n:
            return f"{word} in all {n} {noun}"
        if len(hit):
            of = f"of {n} {noun}" if not parts else f"of {n}"
            parts.append(f"{word} in {len(hit)} {of} ({', '.join(hit.index)})")
    return "; ".join(parts)


def _decide(diffs: dict[str, Interval], undecided: list[str]) -> str:
    """What more seeds would do for (e) where it is undecided, at the observed mean and sd."""
    need = {s: seeds_to_decide(diffs[s], 0.0) for s in undecided if s in diffs}
    some = {s: k for s, k in need.items() if k is not None}
    if not some:
        return ""
    each = ", ".join(f"{s} {100 * diffs[s].mean:+.1f} pp: {k}" for s, k in some.items())
    return (
        "Seeds whose 95% interval would exclude 0 if the observed mean and spread held "
        f"(optimistic with few seeds; before Holm's adjustment): {each}."
    )


def primary(main: pd.DataFrame) -> str:
    """The primary claim's sentence, from its row of conclusions.primary."""
    row = main.iloc[0]
    if not row["settings"]:
        return "**Primary: no setting with eta_HP = 1, so nothing to pool.**"
    words = {
        HOLDS: "holds",
        FAILS: "goes the other way",
        EQUIVALENT: "is equivalent to no difference within the margin",
    }.get(row["verdict"], "is undecided")
    other, ci = main.iloc[1], next(c for c in main.columns if c.endswith("% CI"))
    return (
        f"**Primary: HPtau*-FT beats HP0-FT on test, pooled over {row['settings']} settings: "
        f"{words}** ({row['mean']} pp, {ci} {row[ci]}, {row['seeds']} seeds). Against "
        f"HPmax-FT: {other['mean']} pp, {ci} {other[ci]} ({other['verdict']})."
    )


def plain(
    main: pd.DataFrame, found: pd.DataFrame, pairs: pd.DataFrame, ft_diffs: dict[str, Interval]
) -> str:
    """The primary claim, then a bullet per secondary claim, in the words of its sentence, from
    the per-setting verdicts of `found` ((a)-(e)) and `pairs` ((f)); `ft_diffs` are (e)'s
    per-setting differences."""
    table = found.assign(letter=found["claim"].str[:3]).pivot(
        index="setting", columns="letter", values="verdict"
    )
    lines = [f"- {primary(main)}"]
    trends = {c.trend.claim: c.trend.sentence for c in columns.judged()}
    for letter, sentence in (trends | SENTENCES).items():
        if letter == "(f)":
            if pairs.empty:
                continue
            verdicts = pairs.set_index("baseline")["verdict"]
            lines.append(f"- {sentence} {letter}: {_where(verdicts, 'pairs')}.")
            continue
        verdicts = table[letter].reindex(list(dict.fromkeys(found["setting"])))
        line = f"- {sentence} {letter}: {_where(verdicts)}."
        if letter == "(e)":
            undecided = list(verdicts[~verdicts.isin([HOLDS, FAILS])].index)
            line += " " + _decide(ft_diffs, undecided) if undecided else ""
        lines.append(line.rstrip())
    fails = (found["verdict"] == FAILS).sum() + (pairs["verdict"] == FAILS).sum()
    lines.append(
        "- No secondary claim goes the other way in any setting."
        if not fails
        else f"- {fails} secondary verdicts go the other way: see the grid below."
    )
    return (
        "Secondary claims are per setting, Holm-adjusted over the settings; undecided means "
        "neither direction is significant (rules below, plan in docs/analysis-plan.md).\n\n"
        + "\n".join(lines)
    )

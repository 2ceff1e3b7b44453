"""The findings in plain words, the opening of results/conclusions.md: for each of the
paper's claims, where it holds, where it does not, where it is undecided, and what would
decide it. Generated from the verdicts (pipeline/report/conclusions.py), never typed by hand."""

from __future__ import annotations

import pandas as pd

from pipeline.report import columns
from pipeline.report.stats import Interval, seeds_to_decide

HOLDS, FAILS = "holds", "does not hold"
# Each claim as a sentence a reader can check against the paper (section 4.2 and Table 1);
# those of the trend claims are in their columns' `trend` (pipeline/report/columns.py).
SENTENCES = {
    "(d)": "An intermediate tau beats both tau 0 and the largest on validation",
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


def _decide(diffs: dict[str, Interval], undecided: list[str], smallest: float) -> str:
    """What more seeds would do for (e) where it is undecided, at the observed mean and sd."""
    need = {s: seeds_to_decide(diffs[s], smallest) for s in undecided if s in diffs}
    small = [s for s, k in need.items() if k is None]
    some = {s: k for s, k in need.items() if k is not None}
    out = []
    if some:
        each = ", ".join(f"{s} {100 * diffs[s].mean:+.1f} pp: {k}" for s, k in some.items())
        out.append(
            "Seeds that would decide it if the observed mean and spread held (optimistic with "
            f"few seeds): {each}."
        )
    if small:
        out.append(
            f"In {', '.join(small)} the mean is within ±{100 * smallest:g} pp: too small to "
            "matter by the rules."
        )
    return " ".join(out)


def plain(
    found: pd.DataFrame, pairs: pd.DataFrame, ft_diffs: dict[str, Interval], smallest: float
) -> str:
    """A bullet per claim, in the words of its sentence, from the per-setting verdicts of
    `found` ((a)-(e)) and `pairs` ((f)); `ft_diffs` are (e)'s per-setting differences."""
    table = found.assign(letter=found["claim"].str[:3]).pivot(
        index="setting", columns="letter", values="verdict"
    )
    lines = []
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
            line += " " + _decide(ft_diffs, undecided, smallest) if undecided else ""
        lines.append(line.rstrip())
    fails = (found["verdict"] == FAILS).sum() + (pairs["verdict"] == FAILS).sum()
    lines.append(
        "- No claim goes the other way in any setting."
        if not fails
        else f"- {fails} verdicts go the other way: see the grid below."
    )
    return (
        "Undecided means the 95% interval over seeds contains 0, or the effect is smaller than "
        "the claim's minimum (rules in conclusions.md).\n\n" + "\n".join(lines)
    )

"""The plain-words findings of results/conclusions.md, and the seeds that would decide a
claim, on hand-made verdicts and numbers worked out by hand."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.report import findings
from pipeline.report.stats import Interval, seeds_to_decide


def _iv(mean, sd, n=3):
    return Interval(mean, sd, n, math.nan, math.nan)


def test_seeds_to_decide_by_hand():
    # mean 1, sd 1: t(0.975, n-1) / sqrt(n) is 2.571/2.449 = 1.050 at n = 6, 2.447/2.646 = 0.925 at 7
    assert seeds_to_decide(_iv(1.0, 1.0), 0.01) == 7
    assert seeds_to_decide(_iv(-1.0, 1.0), 0.01) == 7  # the side does not matter
    # mean 1, sd 0.1: 12.706 * 0.1 / 1.414 = 0.898 < 1 already at n = 2
    assert seeds_to_decide(_iv(1.0, 0.1), 0.01) == 2
    assert seeds_to_decide(_iv(0.005, 0.001), 0.01) is None  # under the minimum effect
    assert seeds_to_decide(_iv(0.5, math.nan, 1), 0.01) is None  # one seed: no spread
    assert seeds_to_decide(_iv(0.0, 1.0)) is None  # a mean of 0: no number of seeds decides it
    # mean 0.01, sd 1: (t/sqrt(n) < 0.01 needs n near (1.96 / 0.01)^2 = 38,416 > 10,000
    assert seeds_to_decide(_iv(0.01, 1.0)) is None
    # mean 0.1, sd 1: (1.96/0.1)^2 = 384 by the normal; t(0.975, 386) = 1.9662 and
    # 1.9662 / sqrt(387) = 0.09995 < 0.1, while at n = 386 1.9662 / 19.647 = 0.10008
    assert seeds_to_decide(_iv(0.1, 1.0)) == 387


def test_plain_words_name_where_each_claim_holds():
    letters = {"(a)": "x", "(b)": "x", "(c)": "x", "(d)": "x", "(e)": "x"}
    rows = [
        ("s1", "holds", "holds", "holds", "inconclusive", "inconclusive"),
        ("s2", "holds", "does not hold", "inconclusive", "inconclusive", "holds"),
    ]
    found = pd.DataFrame(
        [
            {"setting": s, "claim": f"{letter} {text}", "verdict": v}
            for s, *vs in rows
            for (letter, text), v in zip(letters.items(), vs, strict=True)
        ]
    )
    pairs = pd.DataFrame([{"baseline": "s1", "companion": "s1_ls", "verdict": "holds"}])
    diffs = {"s1": _iv(0.02, 0.02), "s2": _iv(0.05, 0.01)}
    main = pd.DataFrame(
        [
            {"mean": "+1.50", "95% CI": "[+0.20, +2.80]", "seeds": 4, "settings": 2},
            {"mean": "+3.00", "95% CI": "[-1.00, +7.00]", "seeds": 4, "settings": 2},
        ]
    ).assign(verdict=["holds", "undecided"])
    text = findings.plain(main, found, pairs, diffs)
    assert (
        "**Primary: HPtau*-FT beats HP0-FT on test, pooled over 2 settings: holds** (+1.50 pp, "
        "95% CI [+0.20, +2.80], 4 seeds). Against HPmax-FT: +3.00 pp, 95% CI [-1.00, +7.00] "
        "(undecided)." in text
    )
    assert "(a): holds in all 2 settings." in text
    assert "(b): holds in 1 of 2 settings (s1); goes the other way in 1 of 2 (s2)." in text
    assert "(c): holds in 1 of 2 settings (s1); undecided in 1 of 2 (s2)." in text
    assert "(d): undecided in all 2 settings." in text
    # (e) undecided in s1: mean 2 pp, sd 2 pp -> 7 seeds (as above)
    assert "(e): holds in 1 of 2 settings (s2); undecided in 1 of 2 (s1)." in text
    assert "s1 +2.0 pp: 7" in text
    assert "(f): holds in all 1 pairs." in text
    assert "- 1 secondary verdicts go the other way" in text

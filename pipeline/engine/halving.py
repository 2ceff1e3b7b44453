"""Successive halving of FT epochs over the taus of one (setting, seed): `hp.search: halving`.

Every tau is finetuned for a first rung of epochs; the best `1/factor` of them by validation
score (the best epoch so far, as early stopping keeps) go on to `factor` times as many
epochs, and so on, until one tau is left: it gets its full FT. tau 0 and the largest tau
always get their full FT (the contrasts HP0-FT and HPmax-FT, and `advise`, need them). A run
that continues resumes its optimiser, schedule and early-stopping state (pipeline.engine.loop.fit's
resume file), so its result is the sweep's, cut short or not; a run that early-stops inside
a rung is complete and takes no more epochs.

Synchronous halving, written here rather than taken from Optuna: Optuna's
SuccessiveHalvingPruner and HyperbandPruner are asynchronous (ASHA). They judge a trial at a
rung against the trials that reached it before, so with the taus of one job run one after
another the first taus are never pruned, and the outcome depends on their order. Here
every rung sees all its taus at once, and the search is a pure function of the curves:
`replay` gives exactly what a run would, from a sweep's validation curves.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def rungs(first: int, factor: int, epochs: int) -> list[int]:
    """The epoch budgets of the rungs: first, first x factor, ... below `epochs`, then
    `epochs`."""
    out, budget = [], first
    while budget < epochs:
        out.append(budget)
        budget *= factor
    return [*out, epochs]


def search(
    taus: list[int],
    advance: Callable[[int, int], float],
    first: int,
    factor: int,
    epochs: int,
) -> dict[int, int]:
    """Run the halving: `advance(tau, budget)` trains tau's run up to `budget` epochs (it
    resumes where the last call left it) and returns its best validation score so far.
    Returns each tau's last budget: its run's epoch cap in the search."""
    always = {taus[0], taus[-1]}
    racing = [t for t in taus if t not in always]
    budget_of = dict.fromkeys(taus, 0)
    for budget in rungs(first, factor, epochs):
        final = budget == epochs or len(racing) <= 1
        budget = epochs if final else budget
        scores = {}
        for tau in sorted(always | set(racing)):
            scores[tau] = advance(tau, budget)
            budget_of[tau] = budget
        if final:
            break
        ranked = sorted(racing, key=lambda t: (-scores[t], t))
        racing = ranked[: max(1, math.ceil(len(racing) / factor))]
    return budget_of


def replay(curves: dict[int, list[float]], first: int, factor: int, epochs: int):
    """The search on recorded runs: `curves[tau]` is the validation score per epoch of tau's
    full run (early stopping included). Returns (epochs spent per tau, tau* of the search:
    the best validation score over what each tau ran, ties to the smaller tau)."""
    budgets = search(
        sorted(curves), lambda tau, budget: max(curves[tau][:budget]), first, factor, epochs
    )
    spent = {t: min(b, len(curves[t])) for t, b in budgets.items()}
    best = max(curves, key=lambda t: (max(curves[t][: spent[t]]), -t))
    return spent, best

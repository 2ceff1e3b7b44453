"""The paper's user guide (section 5.1, with 5.3 and appendix B) as rules: what a setting's
HP fit, wanted adaptation and budget say to try next. Pure functions on an `Evidence`; the
cases they were checked on are docs/advice-cases.md (written from the paper first).

Each threshold is a named constant next to the sentence that motivates it (QUOTES), and
pipeline.report.advise prints them."""

from __future__ import annotations

from dataclasses import dataclass

FULL_FIT = 0.99  # "converge to 100%": within one point of a perfect fit
LS_FIT = 0.9  # "converges to 90%+ very fast"
LOW_FIT = 0.5  # "less than 50% training accuracy": the paper's only number for a low fit
CONVERGED_RISE = 0.01  # HP's fit rose less than this over the last CONVERGED_EPOCHS epochs
CONVERGED_EPOCHS = 5  # "increase slowly for several consecutive epochs"

QUOTES = {
    "FULL_FIT": (
        FULL_FIT,
        "5.1: HP train-acc converge to 100% → no enough energy → use smaller τ.",
    ),
    "LS_FIT": (
        LS_FIT,
        "5.3: Such a trick (lsHP for short) is quite helpful when the HP-train-acc converges "
        "to 90%+ very fast, yet we still want a mild adaptation.",
    ),
    "LOW_FIT": (
        LOW_FIT,
        "5.1: if we really want tiny energy but using the linear head only achieves less than "
        "50% training accuracy after head probing, we can consider an MLP head. 5.3: When the "
        "HP-train-acc is too low, the assumption used in HP ... no longer holds. Hence, lsHP "
        "does not always bring enhancement.",
    ),
    "CONVERGED_RISE": (
        CONVERGED_RISE,
        "Appendix B: the maximum τ should make the HP training accuracy converge (increase "
        "slowly for several consecutive epochs).",
    ),
    "CONVERGED_EPOCHS": (CONVERGED_EPOCHS, "Appendix B, the same sentence."),
}

# rule -> (phenomenon, hypothesis, what to try): the paper's workflow, 5.1.
TEXT = {
    "smaller_tau": (
        "HP's training fit reaches {fit:.1%} at the largest tau (>= FULL_FIT {FULL_FIT:.0%})",
        "the large taus leave no energy for FT to adapt the features",
        "use a smaller tau: keep small taus in the grid (5.1)",
    ),
    "mlp_head": (
        "validation wants tiny energy (tau* is the largest tau) but the linear head's fit "
        "stops at {fit:.1%} (< FULL_FIT {FULL_FIT:.0%})",
        "a low-capacity head cannot lower the energy further",
        "an MLP head (head.kind: mlp) to raise the converged fit (5.1, 5.3)",
    ),
    "ls_hp": (
        "HP's fit reaches {fit:.1%} (>= LS_FIT {LS_FIT:.0%}){fast} while a mild adaptation "
        "is wanted",
        "HP spends the energy FT needs before the tau validation would like",
        "label smoothing during HP (hp.eta: 0.9, eta_HP <= eta_FT) (5.1, 5.3)",
    ),
    "eta_order": (
        "eta_HP {eta_hp:g} > eta_FT {eta_ft:g}",
        "the reserved energy pushes the features in the opposite direction",
        "set eta_HP <= eta_FT (5.3)",
    ),
    "partial_backbone": (
        "the task is believed to need only low-level features",
        "the later blocks' features do not help it",
        "a partial backbone (head.reinit_blocks: 1..3), the lowest priority trick (5.1, 5.3)",
    ),
    "raise_tau_max": (
        "HP's fit still rises at the largest tau",
        "the grid does not reach the converged head (appendix B)",
        "raise the largest tau until HP's fit rises less than CONVERGED_RISE "
        "{CONVERGED_RISE:.0%} over CONVERGED_EPOCHS {CONVERGED_EPOCHS} epochs",
    ),
    "raise_ft_epochs": (
        "FT at tau 0 was still improving on validation at its epoch cap",
        "FT from a fresh head had not converged (appendix B)",
        "raise ft.epochs",
    ),
}
AVOID_TEXT = {
    "mlp_head": (
        "validation wants large energy (tau* is the smallest tau)",
        "a bigger head converges slower and prolongs the chaos phase of FT (5.3)",
        "keep the linear head",
    ),
    "ls_hp": (
        "HP's fit stops at {fit:.1%} (< LOW_FIT {LOW_FIT:.0%})",
        "the prediction does not converge to the labels: the features do not suit the task "
        "(5.3, Table 1's Sup-C10)",
        "do not expect label-smoothed HP to help",
    ),
}


@dataclass(frozen=True)
class Evidence:
    """What the rules read. None: unknown (the paper or the study does not say)."""

    fit: float | None = None  # HP's training fit at the largest tau
    fit_tau_star: float | None = None  # HP's training fit at tau*
    converged: bool | None = None  # HP's fit stopped rising by the largest tau
    wants: str | None = None  # tiny, mild or large adaptation (tau*: largest, interior, 0)
    low_level: bool | None = None  # the task is believed to need only low-level features
    head: str = "linear"
    eta_hp: float = 1.0
    eta_ft: float = 1.0
    ft_capped_at_0: bool | None = None


@dataclass(frozen=True)
class Fired:
    rule: str
    avoid: bool
    phenomenon: str
    hypothesis: str
    action: str


def _fast(e: Evidence) -> bool:
    """The fit is already high at tau* (or tau* is unknown): HP converged too fast."""
    return e.fit_tau_star is None or e.fit_tau_star >= LS_FIT


def fired(e: Evidence) -> list[tuple[str, bool]]:
    """(rule, avoid) for every rule that fires, in the order of TEXT then AVOID_TEXT."""
    fit = e.fit
    linear = e.head == "linear"
    plain = e.eta_hp == 1
    on = {
        "smaller_tau": fit is not None and fit >= FULL_FIT and plain,
        "mlp_head": linear
        and e.wants == "tiny"
        and fit is not None
        and fit < FULL_FIT
        and e.converged is not False,
        "ls_hp": plain
        and fit is not None
        and fit >= LS_FIT
        and e.wants in (None, "mild")
        and _fast(e),
        "eta_order": e.eta_hp > e.eta_ft,
        "partial_backbone": bool(e.low_level) and linear,
        "raise_tau_max": e.converged is False,
        "raise_ft_epochs": bool(e.ft_capped_at_0),
    }
    off = {
        "mlp_head": linear and e.wants == "large",
        "ls_hp": plain and fit is not None and fit < LOW_FIT,
    }
    return [(r, False) for r in TEXT if on[r]] + [(r, True) for r in AVOID_TEXT if off[r]]


def explain(e: Evidence) -> list[Fired]:
    """The rules that fire, each as phenomenon -> hypothesis -> what to try, with the numbers
    and thresholds filled in."""
    fast = "" if e.fit_tau_star is None else f", {e.fit_tau_star:.1%} already at tau*"
    values = {**{k: v for k, (v, _) in QUOTES.items()}, **vars(e), "fast": fast}
    out = []
    for rule, avoid in fired(e):
        parts = (AVOID_TEXT if avoid else TEXT)[rule]
        out.append(Fired(rule, avoid, *(p.format(**values) for p in parts)))
    return out

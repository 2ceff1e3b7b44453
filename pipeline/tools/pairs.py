"""Interleaved pairs of timings and their summary (pure): the arithmetic of every benchmark
goal of pipeline.tools.bench and pipeline.tools.bench_epochs, a ratio of two things measured
in the same run."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def pair_orders(pairs: int) -> list[tuple[str, str]]:
    """Which side runs first in each pair: A B, B A, A B, ..."""
    return [("a", "b") if i % 2 == 0 else ("b", "a") for i in range(pairs)]


def interleave(a: Callable[[], T], b: Callable[[], T], pairs: int) -> list[tuple[T, T]]:
    """Run `a` and `b` once per pair in the order of pair_orders; returns (a's, b's) result per pair."""
    out = []
    for first, _ in pair_orders(pairs):
        if first == "a":
            ra = a()
            rb = b()
        else:
            rb = b()
            ra = a()
        out.append((ra, rb))
    return out


@dataclass(frozen=True)
class Summary:
    median: float
    lo: float
    hi: float
    n: int


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("expected at least one pair, found none")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def met(s: Summary, op: str, target: float) -> bool:
    """A goal is met when the median of its per-pair ratios meets the target."""
    return s.median <= target if op == "<=" else s.median >= target


def fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"


def spread(s: Summary, unit: str = "x") -> str:
    return f"median {fmt(s.median)}{unit} (range {fmt(s.lo)}-{fmt(s.hi)}, {s.n} pair{'s' if s.n != 1 else ''})"


def goal_line(number: int, what: str, op: str, target: float, s: Summary) -> str:
    return (
        f"goal {number}: {what}, target {op} {target:g}x: measured {spread(s)} "
        f"{'MET' if met(s, op, target) else 'NOT MET'}"
    )

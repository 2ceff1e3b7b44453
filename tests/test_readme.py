"""The README quotes generated files (pipeline.readme), never numbers typed by hand."""

from __future__ import annotations

import pytest
from conftest import ROOT

from pipeline import readme, verdicts
from pipeline.errors import PipelineError


def test_the_readme_quotes_the_committed_results(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = (ROOT / "README.md").read_text()
    for name in readme.BLOCKS:
        assert readme.markers(name)[0] in text, name
    assert readme.render(text) == text, (
        "README.md: a block differs from its source; run python -m pipeline.readme"
    )


def test_blocks_and_sections(tmp_path):
    (tmp_path / "r.md").write_text("# T\n\n## One\n\nfirst\n\n## Two\n\nsecond\nlines\n")
    assert readme.section(str(tmp_path / "r.md"), "Two") == "second\nlines"
    assert readme.section(str(tmp_path / "r.md"), "One") == "first"
    with pytest.raises(PipelineError, match="expected a section '## Three'"):
        readme.section(str(tmp_path / "r.md"), "Three")
    begin, end = readme.markers("x")
    assert (
        readme.replace_block(f"a\n{begin}\nold\n{end}\nb", "x", "new")
        == f"a\n{begin}\nnew\n{end}\nb"
    )
    with pytest.raises(PipelineError, match="expected the markers"):
        readme.replace_block("no markers", "x", "new")


def _glance(tmp_path, name, rows):
    lines = ["| setting | (a) | (f) |", "|:--|:--|:--|"] + [
        f"| {s} | {a} | {f} |" for s, a, f in rows
    ]
    path = tmp_path / name
    path.write_text(
        "# C\n\n## Verdicts at a glance\n\nn = 3\n\n" + "\n".join(lines) + "\n\n## Rules\n\nx\n"
    )
    return str(path)


def test_verdicts_of_two_runs_are_compared_claim_by_claim(tmp_path):
    a = _glance(tmp_path, "a.md", [("toy", "holds", "holds"), ("res", "inconclusive", "")])
    b = _glance(tmp_path, "b.md", [("toy", "holds", "does not hold"), ("res", "holds", "")])
    text = verdicts.compare(verdicts.read(a), verdicts.read(b), ("1 thread", "2 threads"))
    assert text.startswith(
        "1 of 3 verdicts are the same with 1 thread and 2 threads; 1 goes straight"
    )
    assert (
        "| toy | (f) | holds | does not hold |" in text
        and "| res | (a) | inconclusive | holds |" in text
    )


def test_a_claim_only_one_run_makes_is_left_out_of_the_comparison(tmp_path):
    """(f) exists only where a setting has a label-smoothed companion: a study with more
    companions makes claims that the other does not, which are no disagreement."""
    a = _glance(tmp_path, "a.md", [("toy", "holds", ""), ("res", "holds", "holds")])
    b = _glance(tmp_path, "b.md", [("toy", "holds", "inconclusive"), ("res", "holds", "holds")])
    assert verdicts.compare(verdicts.read(a), verdicts.read(b), ("A", "B")) == (
        "3 of 3 verdicts are the same with A and B; 0 go straight between `holds` and `does not hold`.\n"
    )


def test_the_committed_verdict_comparisons_follow_todays_rules(monkeypatch):
    """docs/verdicts-*.md are recomputed from the runs' summaries by the current rules: a
    change to pipeline/conclusions.py that is not carried into them fails here."""
    monkeypatch.chdir(ROOT)
    for out in verdicts.COMPARISONS:
        assert (ROOT / out).read_text() == verdicts.comparison(out), (
            f"{out}: run python -m pipeline.verdicts --all"
        )


def test_a_summary_is_judged_by_todays_rules(tmp_path, monkeypatch):
    from test_conclusions import _setting

    falls = _setting("s", {"energy": [[0.9, 0.5, 0.1]] * 3})
    falls.to_csv(tmp_path / "a.csv", index=False)
    flat = falls.assign(energy=0.5)  # no trend: rho undefined in every seed
    flat.to_csv(tmp_path / "b.csv", index=False)
    assert verdicts.read(str(tmp_path / "a.csv")).at["s", "(a)"] == "holds"
    text = verdicts.compare(
        verdicts.read(str(tmp_path / "a.csv")), verdicts.read(str(tmp_path / "b.csv")), ("A", "B")
    )
    assert "| s | (a) | holds | inconclusive |" in text
    monkeypatch.setattr(
        verdicts,
        "COMPARISONS",
        {str(tmp_path / "c.md"): (str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), ("A", "B"))},
    )
    assert verdicts.main(["--all"]) == 0 and (tmp_path / "c.md").read_text() == text

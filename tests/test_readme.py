"""The README quotes generated files (pipeline.tools.readme), never numbers typed by hand."""

from __future__ import annotations

import pytest
from conftest import ROOT

from pipeline.errors import PipelineError
from pipeline.tools import readme, verdicts

LAB_MANIFEST = "docs/lab/comparisons.yaml"


def test_the_readme_quotes_the_committed_results(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = (ROOT / "README.md").read_text()
    # the findings, the verdict grid and the time of `make run` are quoted, not typed
    assert {"findings", "verdicts", "make-run"} <= set(readme.blocks(text)), readme.blocks(text)
    assert readme.render(text) == text, (
        "README.md: a block differs from its source; run python -m pipeline readme"
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


def test_a_block_names_its_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.md").write_text("# T\n\nfirst para\n\n## Two\n\nsecond\n")
    tag = "(python -m pipeline readme)"
    text = (
        f'a\n<!-- s: begin {tag} r.md "Two" -->\nold\n<!-- s: end -->\n'
        f"<!-- p: begin {tag} r.md -->\nold\n<!-- p: end -->\n"
        f'<!-- w: begin {tag} r.md "*" -->\n<!-- w: end -->\nb'
    )
    assert readme.blocks(text) == {"s": ("r.md", "Two"), "p": ("r.md", None), "w": ("r.md", "*")}
    out = readme.render(text)
    assert (
        "-->\nsecond\n<!-- s: end" in out and "-->\nfirst para\n<!-- p: end" in out
    )  # the first paragraph that is not a title
    assert "-->\n# T\n\nfirst para\n\n## Two\n\nsecond\n<!-- w: end -->\nb" in out
    with pytest.raises(PipelineError, match="gone.md: expected a Markdown file to quote"):
        readme.render(f"<!-- g: begin {tag} gone.md -->\n<!-- g: end -->")


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
    """The lab's verdict comparisons are recomputed from the runs' summaries by the current
    rules: a change to pipeline/report/conclusions.py that is not carried into them fails here."""
    monkeypatch.chdir(ROOT)
    found = verdicts.manifest(LAB_MANIFEST)
    assert found, LAB_MANIFEST
    for out, (a, b, labels) in found.items():
        assert (ROOT / out).read_text() == verdicts.comparison(a, b, labels), (
            f"{out}: run python -m pipeline verdicts --all {LAB_MANIFEST}"
        )


def test_a_summary_is_judged_by_todays_rules(tmp_path, monkeypatch):
    from test_conclusions import _setting

    falls = _setting("s", {"energy": [[0.9, 0.5, 0.1]] * 3})
    falls.to_csv(tmp_path / "a.csv", index=False)
    flat = falls.assign(energy=0.5)  # no trend: ties in every seed, Page p 0.5 either way
    flat.to_csv(tmp_path / "b.csv", index=False)
    assert verdicts.read(str(tmp_path / "a.csv")).at["s", "(a)"] == "holds"
    text = verdicts.compare(
        verdicts.read(str(tmp_path / "a.csv")), verdicts.read(str(tmp_path / "b.csv")), ("A", "B")
    )
    assert "| s | (a) | holds | undecided |" in text
    (tmp_path / "m.yaml").write_text("c.md: {runs: [a.csv, b.csv], labels: [A, B]}\n")
    assert verdicts.main(["--all", str(tmp_path / "m.yaml")]) == 0
    assert (tmp_path / "c.md").read_text() == text


def test_a_bad_manifest_entry_is_named(tmp_path):
    (tmp_path / "m.yaml").write_text("c.md: {runs: [a.csv]}\n")
    with pytest.raises(PipelineError, match=r"m.yaml: c.md: expected runs: \[A, B\]"):
        verdicts.manifest(str(tmp_path / "m.yaml"))

"""The browsable report (pipeline/report/page.py): one HTML page that loads nothing, opened
in headless Chromium. Without Chromium the browser tests skip, except under CI (CI set, as
.ci/run has it, which installs Debian's `chromium`): there they fail."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.errors import PipelineError
from pipeline.io import paths
from pipeline.report import page as report_page

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
FINDINGS = "The initial energy falls as tau grows"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(
            "chromium not found: CI must test the report in a browser (.ci/run installs it)"
        )
    pytest.skip("chromium not installed (apt-get install chromium)")


def browse(tmp_path: Path, page: Path, *args: str) -> str:
    """Run headless Chromium on the page; its stdout (the DOM with --dump-dom)."""
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
        page.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=True).stdout


def plot_png() -> bytes:
    """A stand-in figure: coloured bars on white (the page itself is all greys)."""
    img = Image.new("RGB", (600, 400), "white")
    for i, colour in enumerate(["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]):
        img.paste(colour, (60 + 130 * i, 380 - 80 * (i + 1), 160 + 130 * i, 380))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results folder with every file the page needs, small enough that the figure shows
    in the first screen."""
    out = tmp_path / "results"
    (out / "plots").mkdir(parents=True)
    (out / "plots" / "energy_vs_tau.png").write_bytes(plot_png())
    (out / "conclusions.md").write_text(
        f"# Conclusions\n\n## Findings\n\n- {FINDINGS} (a): holds in all 2 settings.\n"
    )
    for name in ("table1.md", "table2.md", "table3.md", "trend.md", "cost.md"):
        (out / name).write_text(f"# {name}\n\n| a | b |\n|:--|--:|\n| x | 1.5 |\n")
    (out / "summary.csv").write_text("setting,tau,val_score\ntoy,0,0.91\ntoy,4,0.93\n")
    return out


def test_report_renders_in_chromium(results: Path, tmp_path: Path) -> None:
    page = report_page.write(results, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    browse(tmp_path, page, f"--screenshot={shot}", "--window-size=1200,2000")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.std() > 10, "the screenshot is blank"
    coloured = (pixels.max(axis=2) - pixels.min(axis=2) > 80).sum()
    assert coloured > 5000, f"no figure drawn: {coloured} coloured pixels"

    dom = browse(tmp_path, page, "--dump-dom")
    findings = dom[dom.index('<section id="findings">') :]
    assert "<h2>Findings</h2>" in findings and FINDINGS in findings
    images = IMG.findall(dom)
    assert [base64.b64decode(s) for s in images] == [plot_png()]


def test_committed_results_page(tmp_path: Path) -> None:
    """The page of the committed results: every figure embedded and captioned, the findings
    and tables rendered, nothing loaded from elsewhere; Chromium parses it and draws it."""
    html = report_page.build(RESULTS)
    figures = sorted(RESULTS.glob("plots/*.png")) + sorted(RESULTS.glob("exchange/*.png"))
    assert figures
    embedded = [base64.b64decode(s) for s in IMG.findall(html)]
    assert sorted(embedded) == sorted(p.read_bytes() for p in figures)
    assert html.count("<figcaption>") == len(figures)
    heading = next(line for line in (RESULTS / "conclusions.md").read_text().splitlines() if line)
    text = unescape(re.sub(r"<[^>]+>", "", html))
    assert re.sub(r"[#`*]", "", heading).strip() in text
    assert "<table>" in html and "Table 1" in html
    assert not re.search(r"<(script|link|iframe)\b|\bsrc=\"(?!data:)", html)

    page = tmp_path / "report.html"
    page.write_text(html)
    dom = browse(tmp_path, page, "--dump-dom")
    assert len(IMG.findall(dom)) == len(figures)
    assert '<section id="findings">' in dom


def test_figures_in_the_order_of_paths(results: Path) -> None:
    """The study's figures in the order pipeline.io.paths lists them, any other after them."""
    for name in ("aaa_extra.png", "verdicts.png"):
        (results / "plots" / name).write_bytes(plot_png())
    html = report_page.build(results)
    ids = re.findall(r'<figure id="fig-([^"]+)"', html)
    assert ids == ["energy_vs_tau", "verdicts", "aaa_extra"]


def test_optional_sections(results: Path) -> None:
    """Advice and head exchange appear where the study wrote them."""
    html = report_page.build(results)
    assert '<section id="advice">' not in html and '<section id="exchange">' not in html
    (results / "advice.md").write_text("# Advice\n\nNo rule of the user guide fires.\n")
    html = report_page.build(results)
    advice = html[html.index('<section id="advice">') :]
    assert "No rule of the user guide fires." in advice[: advice.index("</section>")]


def test_missing_results_named(results: Path) -> None:
    (results / "conclusions.md").unlink()
    shutil.rmtree(results / "plots")
    with pytest.raises(PipelineError, match=r"conclusions\.md, .*plots/\*\.png; run the study"):
        report_page.build(results)


def test_not_a_png(results: Path) -> None:
    (results / "plots" / "broken.png").write_text("not an image")
    with pytest.raises(PipelineError, match=r"broken\.png: expected a PNG image"):
        report_page.build(results)


def test_cli_writes_beside_the_results(results: Path, capsys) -> None:
    assert report_page.main([str(results)]) == 0
    assert (results / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "report.html" in capsys.readouterr().out
    (results / "cost.md").unlink()
    assert report_page.main([str(results)]) == 1
    assert "cost.md" in capsys.readouterr().err


def test_every_study_figure_has_a_caption() -> None:
    """workflow/report/figures/NAME.rst: the page's and Snakemake's report's caption."""
    figures = [p for p in paths.AGGREGATE_OUTS if p.suffix == ".png"]
    assert figures
    for fig in figures:
        assert (report_page.FIGURE_CAPTIONS / f"{fig.stem}.rst").is_file(), fig

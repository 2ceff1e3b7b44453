"""The browsable report: one self-contained HTML page of a study's results folder.

The findings (conclusions.md), the figures, the tables, the advice, the head exchange, the
cost and the per-run data, each with its caption from workflow/report/ (the captions that
Snakemake's own report gives the same files). Markdown is rendered with markdown-it-py, the captions with
docutils, and every PNG is embedded as base64: the page loads nothing, so it opens offline,
from a mail or a copied folder. No timestamp: the same results give the same bytes.

    python -m pipeline report [RESULTS] [--out FILE]    # `make report`
"""

from __future__ import annotations

import argparse
import base64
import html
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.io import paths
from pipeline.io.atomic import write_text
from pipeline.report.advice_paths import advice_files

CAPTIONS = Path(__file__).resolve().parents[2] / "workflow" / "report"
FIGURE_CAPTIONS = CAPTIONS / "figures"  # NAME.rst: the caption of figure NAME.png, if any
PNG = b"\x89PNG\r\n\x1a\n"
NAME = "report.html"
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #222; margin: 0; background: #fff; }
main { max-width: 1150px; margin: 0 auto; padding: 1em 2em 4em; }
nav a, a { color: #222; }
h1 { font-size: 1.7em; } h2 { border-bottom: 1px solid #bbb; margin-top: 2.2em; }
.caption, figcaption { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; display: block; overflow-x: auto; margin: 0.8em 0;
        font-size: 0.86em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; }
td[style*="right"], td:first-child, th { white-space: nowrap; }  /* numbers, row names, headers */
th { background: #f2f2f2; }
code { background: #f2f2f2; padding: 0 0.2em; }
figure { margin: 1.5em 0; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
"""


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    caption: str  # a file under workflow/report/
    files: tuple[str, ...]  # relative to the results folder; a glob where it holds '*'
    required: bool = True


def sections() -> list[Section]:
    """What the page shows, in order; file names as pipeline.io.paths has them."""
    rel = lambda p: str(p.relative_to(paths.RESULTS))
    tables = (paths.TABLE1, paths.TABLE2, paths.TABLE3, paths.TRENDS)
    return [
        Section("findings", "Findings", "conclusions.rst", (rel(paths.CONCLUSIONS),)),
        Section("figures", "Figures", "plots.rst", (f"{rel(paths.PLOTS)}/*.png",)),
        Section("tables", "Tables", "tables.rst", tuple(map(rel, tables))),
        Section("advice", "Advice", "advice.rst", (rel(advice_files()[0]),), required=False),
        Section(
            "exchange",
            "Head exchange",
            "exchange.rst",
            (rel(paths.exchange("*", "png")),),
            required=False,
        ),
        Section("cost", "Cost", "cost.rst", (rel(paths.COST),)),
        Section("data", "Per-run data", "summary.rst", (rel(paths.SUMMARY),)),
    ]


def _hits(results: Path, name: str) -> list[Path]:
    """The files `name` matches; a glob's in the order pipeline.io.paths lists the study's
    figures, any others after them by name."""
    known = [p.name for p in paths.AGGREGATE_OUTS if p.suffix == ".png"]
    rank = lambda p: (known.index(p.name) if p.name in known else len(known), p.name)
    hits = sorted(results.glob(name), key=rank) if "*" in name else [results / name]
    return [p for p in hits if p.is_file()]


def _missing(results: Path) -> list[str]:
    return [
        str(results / name)
        for section in sections()
        if section.required
        for name in section.files
        if not _hits(results, name)
    ]


def rst(path: Path) -> str:
    """A caption file as an HTML fragment (no file inclusion, no raw HTML)."""
    from docutils.core import publish_parts

    settings = {"file_insertion_enabled": False, "raw_enabled": False, "report_level": 5}
    return publish_parts(path.read_text(), writer="html5", settings_overrides=settings)["fragment"]


def markdown(text: str, shift: int) -> str:
    """CommonMark with pipe tables, raw HTML escaped; headings moved `shift` levels down so
    that they sit below the page's own."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = md.parse(text)
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(int(tok.tag[1]) + shift, 6)}"
    return md.renderer.render(tokens, md.options, {})


def png_size(data: bytes, path: Path) -> tuple[int, int]:
    if data[:8] != PNG:
        raise PipelineError(f"{path}: expected a PNG image, found {data[:8]!r} at its start")
    return struct.unpack(">II", data[16:24])


def figure(path: Path) -> str:
    data = path.read_bytes()
    width, height = png_size(data, path)
    caption = FIGURE_CAPTIONS / f"{path.stem}.rst"
    text = rst(caption) if caption.is_file() else ""
    return (
        f'<figure id="fig-{html.escape(path.stem)}">'
        f'<img src="data:image/png;base64,{base64.b64encode(data).decode()}" '
        f'width="{width}" height="{height}" alt="{html.escape(path.name)}">'
        f"<figcaption><strong>{html.escape(path.name)}</strong>{text}</figcaption></figure>"
    )


def csv_table(path: Path) -> str:
    import pandas as pd

    table = pd.read_csv(path)
    body = table.to_html(index=False, border=0, na_rep="", float_format=lambda v: f"{v:.4g}")
    return (
        f"<details><summary>{html.escape(path.name)}: {len(table)} rows "
        f"(click to open)</summary>{body}</details>"
    )


def render(path: Path) -> str:
    if path.suffix == ".png":
        return figure(path)
    if path.suffix == ".csv":
        return csv_table(path)
    return markdown(path.read_text(), shift=2)


def build(results: Path) -> str:
    """The page of `results`, or PipelineError naming every file it lacks."""
    missing = _missing(results)
    if missing:
        raise PipelineError(
            f"{results}: expected the study's results, found no {', '.join(missing)}; "
            "run the study first (make run)"
        )
    parts, toc = [], []
    for section in sections():
        files = [p for name in section.files for p in _hits(results, name)]
        if not files:
            continue
        toc.append(f'<a href="#{section.anchor}">{section.title}</a>')
        parts.append(
            f'<section id="{section.anchor}"><h2>{section.title}</h2>'
            f'<div class="caption">{rst(CAPTIONS / section.caption)}</div>'
            + "".join(render(p) for p in files)
            + "</section>"
        )
    where = html.escape(str(results))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>taskhead report: {where}</title><style>{STYLE}</style></head><body><main>"
        "<h1>How to prepare your task head for finetuning: the study's results</h1>"
        f"<p>Generated by <code>python -m pipeline report</code> from <code>{where}/</code>; "
        "every number and figure comes from the pipeline's outputs there.</p>"
        f"<nav>{' · '.join(toc)}</nav>" + "".join(parts) + "</main></body></html>\n"
    )


def write(results: Path, out: Path | None = None) -> Path:
    out = out or results / NAME
    write_text(out, build(results))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline report", description=__doc__)
    parser.add_argument(
        "results", nargs="?", type=Path, default=paths.RESULTS, help="a results folder"
    )
    parser.add_argument("--out", type=Path, help=f"the page (default: RESULTS/{NAME})")
    args = parser.parse_args(argv)
    try:
        out = write(args.results, args.out)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}: open it in a browser (e.g. xdg-open {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

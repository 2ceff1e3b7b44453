"""The README's generated blocks: text between `<!-- NAME: begin ... -->` and
`<!-- NAME: end -->` markers, copied from result files, never typed by hand.

    python -m pipeline.readme            # rewrite every block of README.md from results/
    python -m pipeline.readme --check    # exit 1 if a block differs from its source

A block is a section of a generated file (from its `## Title` line to the next title), its
first paragraph (SUMMARY), or a whole file. tests/test_readme.py checks that the committed README quotes the committed
results.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .errors import PipelineError

COMMAND = "python -m pipeline.readme"
SUMMARY = ""  # a block's title for the first paragraph of its file
# block name -> (file, section title or None for the whole file)
BLOCKS = {
    "verdicts": ("results/conclusions.md", "Verdicts at a glance"),
    "batchnorm": (
        "results/trend.md",
        "BatchNorm: statistics part and weights part of the feature change",
    ),
    "threads": ("docs/verdicts-threads.md", SUMMARY),
    "pretrained": ("docs/pretrained-threads.md", SUMMARY),
    "threads-shared": ("docs/shared-backbone/verdicts-threads.md", SUMMARY),
    "backbone": ("docs/verdicts-backbone.md", SUMMARY),
    "cpu": ("docs/verdicts-cpu.md", SUMMARY),
    "cpu-threads": ("docs/verdicts-cpu-threads.md", SUMMARY),
    "cpu-seg-threads": ("docs/verdicts-cpu-seg-threads.md", SUMMARY),
    "cpu-seg-pretrained": ("docs/cpu-threads2/segmentation/pretrained-threads.md", SUMMARY),
    "machines": ("docs/verdicts-machines.md", SUMMARY),
    "cost": ("results/cost.md", "Totals"),
    "make-run": ("docs/make-run.md", SUMMARY),
    "bench": ("docs/bench.md", "Goals"),
}


def markers(name: str, command: str = COMMAND) -> tuple[str, str]:
    return f"<!-- {name}: begin ({command}) -->", f"<!-- {name}: end -->"


def replace_block(
    text: str, name: str, block: str, command: str = COMMAND, source: str = "README"
) -> str:
    """`text` with the part between the markers of `name` replaced by `block`."""
    begin, end = markers(name, command)
    if begin not in text or end not in text:
        raise PipelineError(f"{source}: expected the markers {begin!r} and {end!r}, found none")
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{block}\n{end}{rest.split(end, 1)[1]}"


def section(path: str, title: str | None) -> str:
    """A `## title` section of a Markdown file (without its title line), its first paragraph
    (title SUMMARY), or the whole file (title None)."""
    text = Path(path).read_text()
    if title is None:
        return text.strip()
    if title == SUMMARY:
        return text.strip().split("\n\n")[0]
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^#{{1,2}} |\Z)", text, re.M | re.S)
    if not found:
        raise PipelineError(f"{path}: expected a section '## {title}', found none")
    return found.group(1).strip()


def render(text: str) -> str:
    for name, (path, title) in BLOCKS.items():
        if markers(name)[0] in text:
            text = replace_block(text, name, section(path, title))
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    ap.add_argument("--readme", default="README.md")
    ap.add_argument(
        "--check", action="store_true", help="exit 1 if a block differs from its source"
    )
    args = ap.parse_args(argv)
    current = Path(args.readme).read_text()
    fresh = render(current)
    if args.check:
        if fresh != current:
            print(
                f"{args.readme}: a generated block differs from its source; run {COMMAND}",
                file=sys.stderr,
            )
            return 1
        return 0
    Path(args.readme).write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())

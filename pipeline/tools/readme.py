"""The README's generated blocks: text between a begin marker that names its source and
`<!-- NAME: end -->`, copied from a result file, never typed by hand.

    <!-- NAME: begin (python -m pipeline readme) results/conclusions.md "Findings" -->
    ...
    <!-- NAME: end -->

    python -m pipeline readme            # rewrite every block of README.md from its source
    python -m pipeline readme --check    # exit 1 if a block differs from its source

The source is a section of a Markdown file (from its `## Title` line to the next title), its
first paragraph that is not a title (no title given), or the whole file (title "*"). The README names what it
quotes, so the package names no document of its own. tests/test_readme.py checks that the
committed README quotes the committed results.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipeline.errors import PipelineError

COMMAND = "python -m pipeline readme"
WHOLE = "*"  # a block's title for the whole file
# <!-- NAME: begin (COMMAND) PATH "TITLE" -->, the title optional
SOURCED = re.compile(
    rf'^<!-- ([\w-]+): begin \({re.escape(COMMAND)}\) (\S+)(?: "([^"]+)")? -->$', re.M
)


def blocks(text: str) -> dict[str, tuple[str, str | None]]:
    """The generated blocks of `text`: name -> (source file, section title or None)."""
    return {m[1]: (m[2], m[3]) for m in SOURCED.finditer(text)}


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
    that is not a title line (title None), or the whole file (title WHOLE)."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: expected a Markdown file to quote, found nothing there")
    text = Path(path).read_text()
    if title == WHOLE:
        return text.strip()
    if title is None:
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        return next((p for p in paragraphs if not p.startswith("#")), "")
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^#{{1,2}} |\Z)", text, re.M | re.S)
    if not found:
        raise PipelineError(f"{path}: expected a section '## {title}', found none")
    return found.group(1).strip()


def render(text: str) -> str:
    """`text` with every sourced block replaced by its source's current text."""
    for m in SOURCED.finditer(text):
        name, path, title = m.groups()
        head, rest = text.split(m[0], 1)
        end = markers(name)[1]
        if end not in rest:
            raise PipelineError(f"README: expected {end!r} after {m[0]!r}, found none")
        text = f"{head}{m[0]}\n{section(path, title)}\n{end}{rest.split(end, 1)[1]}"
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

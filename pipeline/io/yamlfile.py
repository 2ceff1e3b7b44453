"""Reading the study's YAML files strictly, with one-line errors.

PyYAML's SafeLoader keeps the last of two equal keys without a word, reads the file in
whatever encoding the locale has, and reports a syntax error over several lines. `read`
refuses all three with a `PipelineError` of one line that names the file and the place:

    params.yaml:12:5: duplicate key settings.toy.ft.lr (first at line 9)
    params.yaml: expected UTF-8 text, found byte 0xe9 at byte offset 301 (line 12)
    params.yaml:4:3: expected valid YAML, found a ':' where no mapping value is allowed
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from pipeline.errors import PipelineError

MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a duplicate key in any mapping (merge keys `<<` aside: a key
    laid over a merged one is what merging is for)."""

    def check_unique(self, node: yaml.Node, trail: tuple = (), seen: set | None = None) -> None:
        seen = set() if seen is None else seen
        if id(node) in seen:  # an alias of a node checked already (or a recursive one)
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict = {}
            for key_node, value_node in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self._key(key_node)
                if key is not None:
                    if key in first:
                        raise DuplicateKey(trail + (key,), first[key], key_node.start_mark)
                    first[key] = key_node.start_mark
                self.check_unique(value_node, trail + (key if key is not None else "?",), seen)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.check_unique(item, trail + ([i],), seen)

    def _key(self, key_node: yaml.Node):
        """The key as the dict will hold it (so `1` and `1.0` collide, as they do there);
        None for a key that is not a scalar (the constructor judges those)."""
        if not isinstance(key_node, yaml.ScalarNode):
            return None
        key = self.construct_object(key_node)
        try:
            hash(key)
        except TypeError:
            return None
        return key


class DuplicateKey(Exception):
    def __init__(self, trail: tuple, first: yaml.Mark, again: yaml.Mark):
        super().__init__()
        self.trail, self.first, self.again = trail, first, again


def key_path(trail: tuple) -> str:
    out = ""
    for part in trail:
        out += f"[{part[0]}]" if isinstance(part, list) else (f".{part}" if out else str(part))
    return out


def read(path: str | Path, what: str = "YAML file"):
    """The data of the YAML file at `path` (None when it is empty); `what` names the file in
    the error when nothing is there."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: expected a {what}, found nothing at that path")
    return parse(path.read_bytes(), str(path))


def parse(data: bytes, name: str):
    """The data of YAML text `data`; errors name it `name`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise PipelineError(
            f"{name}: expected UTF-8 text, found byte 0x{data[err.start]:02x} at byte offset "
            f"{err.start} (line {line})"
        ) from None
    loader = None
    try:
        loader = StrictLoader(text)  # checks that every character is printable
        node = loader.get_single_node()
        if node is None:
            return None
        loader.check_unique(node)
        return loader.construct_document(node)
    except DuplicateKey as dup:
        raise PipelineError(
            f"{name}:{dup.again.line + 1}:{dup.again.column + 1}: duplicate key "
            f"{key_path(dup.trail)} (first at line {dup.first.line + 1})"
        ) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        col = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        raise PipelineError(
            f"{name}:{line}:{col}: expected valid YAML, found the unprintable character "
            f"#x{err.character if isinstance(err.character, int) else ord(err.character):04x}"
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise PipelineError(f"{where}: expected valid YAML, found {_problem(err)}") from None
    except yaml.YAMLError as err:  # not raised by PyYAML 6 for text input; one line all the same
        raise PipelineError(
            f"{name}: expected valid YAML, found {' '.join(str(err).split())}"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


_REWRITES = [
    (
        r"mapping values are not allowed here",
        lambda m: "a ':' where no mapping value is allowed (a wrong indent, or a ':' to quote?)",
    ),
    (r"expected (.+), but (?:got|found) (.+)", lambda m: f"{m[2]} where {m[1]} was expected"),
    (r"found unhashable key", lambda m: "a key that is a list or mapping"),
    (
        r"could not determine a constructor for the tag (.+)",
        lambda m: f"the tag {m[1]}, which is not allowed",
    ),
    (r"(?:but )?found (.+)", lambda m: m[1]),
]

_TOKENS = {
    "'?'": "a mapping key",
    "'-'": "a list item",
    "<block end>": "the end of the block",
    "<block mapping start>": "a mapping",
    "'<stream end>'": "the end of the file",
}


def _problem(err: yaml.MarkedYAMLError) -> str:
    """PyYAML's problem as a phrase that reads after "found", with its context."""
    problem = " ".join((err.problem or "an error").split())
    for pattern, rewrite in _REWRITES:
        m = re.fullmatch(pattern, problem)
        if m:
            problem = rewrite(m)
            break
    for token, words in _TOKENS.items():
        problem = problem.replace(token, words)
    context = " ".join((err.context or "").split())
    if context.startswith("expected"):
        problem += f" ({context})"
    elif (
        context
        and err.context_mark
        and err.problem_mark
        and err.context_mark.line != err.problem_mark.line
    ):
        problem += f" ({context} started at line {err.context_mark.line + 1})"
    return problem

"""docs/paper-conformance.md against studies/paper.yaml.

The doc holds a table `| entry | paper (appendix B) | studies/paper.yaml | verdict |`, one row per
appendix-B entry. This module checks that:

- the table has at least 20 rows, and every verdict is `same` or starts with `differs, because`;
- every `same` row carries at least one spec (a backticked span in its `studies/paper.yaml`
  column), and every spec holds against the profile:
    `PATH = VALUE`        every value PATH reaches equals VALUE (read as YAML; floats compared
                          with a relative tolerance);
    `PATH =~ PATTERN`     every value reached is a string matching the fnmatch PATTERN;
    `PATH contains VALUE` every value reached is a list holding VALUE;
    `file:FILE contains TEXT`  the source file FILE (relative to the repository) holds TEXT.
  PATH is dotted; a segment with `*`, `?` or `[` is an fnmatch glob over mapping keys. A glob
  that matches nothing, a missing key, or an unparsable spec fails the test.

PATH resolves in studies/paper.yaml (`yaml.safe_load`) validated by the pydantic `Study` model,
with the schema's defaults filled in: HP / FT / head / pretrain defaults from the models, and a
setting without `hp.taus` gets the study's `taus` (what `Study.taus_of` uses). Only when a path
does not resolve there does the test fall back to `pipeline.params.load` (every family block
validated) with dataset blocks from their family's DataCfg and model blocks from its ModelCfg:
that imports torch (seconds), so it is done lazily, keeping this module fast.
"""

from __future__ import annotations

import math
import re
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path

import pytest
import yaml

from pipeline.params import Study

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "paper-conformance.md"
PROFILE = ROOT / "studies" / "paper.yaml"
HEADER = ["entry", "paper (appendix B)", "studies/paper.yaml", "verdict"]
# family-validated blocks
FAMILY_BLOCK = re.compile(r"^(datasets\.|(pretrain|imports)\.[^.]+\.model\.)")
SPEC = re.compile(r"^(?P<path>\S+)\s+(?P<op>=~|=|contains)\s+(?P<value>.+?)\s*$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of the conformance table (the one whose header is HEADER), as dicts."""
    lines = text.splitlines()
    heads = [
        i for i, ln in enumerate(lines) if ln.lstrip().startswith("|") and _cells(ln) == HEADER
    ]
    if not heads:
        raise AssertionError(f"{DOC}: no table with header {HEADER}")
    i = heads[0]
    rows = []
    for line in lines[i + 2 :]:  # skip the |---| line
        if not line.lstrip().startswith("|"):
            break
        cells = _cells(line)
        assert len(cells) == len(HEADER), (
            f"expected {len(HEADER)} cells, found {len(cells)}: {line}"
        )
        rows.append(dict(zip(HEADER, cells, strict=True)))
    return rows


def _plain(x):
    """Tuples (pydantic's zoom) as lists, recursively, so they compare with YAML lists."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def light_profile() -> dict:
    """studies/paper.yaml with the pydantic Study's defaults; no torch import."""
    study = Study.model_validate(yaml.safe_load(PROFILE.read_text()))
    tree = study.model_dump()
    for name in study.settings:
        tree["settings"][name]["hp"]["taus"] = study.taus_of(name)
    return _plain(tree)


def full_profile() -> dict:
    """studies/paper.yaml through pipeline.params.load, every family default filled in too."""
    from pipeline.families import get_family
    from pipeline.params import load

    study = load(PROFILE, check_files=False)
    tree = study.model_dump()
    for name, block in study.datasets.items():
        cfg = get_family(block["family"]).DataCfg(**study.data_cfg(name))
        tree["datasets"][name] = {"family": block["family"], **cfg.model_dump()}
    for section in ("pretrain", "imports"):
        for name, p in getattr(study, section).items():
            tree[section][name]["model"] = get_family(p.family).ModelCfg(**p.model).model_dump()
    for name in study.settings:
        tree["settings"][name]["hp"]["taus"] = study.taus_of(name)
    return _plain(tree)


class Profile:
    """The light tree, and the full one built on first need."""

    def __init__(self):
        self.light = light_profile()

    @cached_property
    def full(self) -> dict:
        return full_profile()


@pytest.fixture(scope="module")
def profile() -> Profile:
    return Profile()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return parse_table(DOC.read_text())


class Unresolved(AssertionError):
    """PATH reaches no value (a missing key, a glob matching nothing, a non-mapping)."""


def resolve(tree, path: str) -> list[tuple[str, object]]:
    """(concrete path, value) for every key PATH reaches; globs must match something."""
    found = [("", tree)]
    for seg in path.split("."):
        step = []
        for where, node in found:
            if not isinstance(node, dict):
                raise Unresolved(f"{path}: {where or '(top)'} is not a mapping")
            if any(c in seg for c in "*?["):
                keys = [k for k in node if fnmatchcase(str(k), seg)]
                if not keys:
                    raise Unresolved(
                        f"{path}: glob {seg!r} matches no key under {where or '(top)'}"
                    )
            elif seg in node:
                keys = [seg]
            else:
                raise Unresolved(f"{path}: no key {seg!r} under {where or '(top)'}")
            step += [(f"{where}.{k}" if where else str(k), node[k]) for k in keys]
        found = step
    return found


def equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return a == b


def check_spec(spec: str, profile: Profile) -> None:
    m = SPEC.match(spec)
    assert m, f"not a spec (PATH = VALUE, PATH =~ PATTERN, PATH contains VALUE): {spec!r}"
    path, op, value = m["path"], m["op"], m["value"]
    if path.startswith("file:"):
        assert op == "contains", f"{spec!r}: file specs only support `contains`"
        source = ROOT / path.removeprefix("file:")
        assert source.is_file(), f"{spec!r}: no file {source}"
        assert value in source.read_text(), f"{spec!r}: text not found in {source}"
        return
    try:
        found = resolve(profile.light, path)
    except Unresolved:
        if not FAMILY_BLOCK.match(path):
            raise
        found = resolve(profile.full, path)  # perhaps a family default: retry with them filled in
    for where, got in found:
        if op == "=":
            want = yaml.safe_load(value)
            assert equal(got, want), f"{spec!r}: {where} is {got!r}, expected {want!r}"
        elif op == "=~":
            assert isinstance(got, str) and fnmatchcase(got, value), f"{spec!r}: {where} is {got!r}"
        else:
            want = yaml.safe_load(value)
            assert isinstance(got, list) and any(equal(x, want) for x in got), (
                f"{spec!r}: {where} is {got!r}, expected a list holding {want!r}"
            )


def specs_of(row: dict[str, str]) -> list[str]:
    return re.findall(r"`([^`]+)`", row["studies/paper.yaml"])


def test_table_shape(rows):
    assert len(rows) >= 20, f"expected at least 20 rows, found {len(rows)}"
    for row in rows:
        v = row["verdict"]
        assert v == "same" or v.startswith("differs, because "), (
            f"{row['entry']}: bad verdict {v!r}"
        )
        if v != "same":
            assert len(v) > len("differs, because ") + 10, f"{row['entry']}: the reason is missing"
    entries = [r["entry"] for r in rows]
    assert len(entries) == len(set(entries)), "duplicate entries"


def test_same_rows_hold(rows, profile):
    same = [r for r in rows if r["verdict"] == "same"]
    assert same, "no `same` rows"
    failures = []
    for row in same:
        specs = specs_of(row)
        if not specs:
            failures.append(f"{row['entry']}: a `same` row without a spec")
        for spec in specs:
            try:
                check_spec(spec, profile)
            except AssertionError as err:
                failures.append(f"{row['entry']}: {err}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "spec, ok",
    [
        ("settings.*stl10*.hp.lr = 0.01", False),  # stl10_sup_c10* probe at 0.03
        ("settings.stl10_sup_in.hp.lr = 0.01", True),
        ("settings.nothing_*.hp.lr = 0.01", False),  # a glob matching nothing
        ("settings.stl10_sup_in.hp.nope = 1", False),  # a missing key
        ("settings.stl10_sup_in.ft.schedule = cosine", True),  # a schema default
        ("settings.stl10_sup_in.hp.augment = 1", False),  # bool is not int
        ("datasets.mnist012.zoom = [0.7, 1.3]", True),
        ("settings.stl10_sup_in.hp.taus contains 200", True),
        ("settings.stl10_sup_in.data =~ *_32", False),
        ("file:pipeline/engine/loop.py contains no such text at all", False),
        ("just words", False),
    ],
)
def test_checker_catches_mismatches(profile, spec, ok):
    """The checker itself: it must reject what differs, not only accept what matches."""
    if ok:
        check_spec(spec, profile)
    else:
        with pytest.raises(AssertionError):
            check_spec(spec, profile)


def test_family_defaults_fall_back_to_the_full_profile():
    """A key absent from the light tree is looked up in the full one, but only inside the
    family-validated blocks (stubbed here: building the real one imports torch, seconds)."""
    stub = Profile.__new__(Profile)
    stub.light = {"datasets": {"voc": {"family": "segmentation"}}, "settings": {}}
    stub.full = {
        "datasets": {"voc": {"family": "segmentation", "val_fraction": 0.2}},
        "settings": {},
    }
    check_spec("datasets.voc.val_fraction = 0.2", stub)
    with pytest.raises(AssertionError):
        check_spec("datasets.voc.val_fraction = 0.1", stub)
    stub.full["settings"] = {"x": {"lr": 1}}
    with pytest.raises(Unresolved):  # settings carry their defaults already: no fallback
        check_spec("settings.x.lr = 1", stub)

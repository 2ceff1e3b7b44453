"""The code each stage runs, as a dependency of that stage under both drivers.

A stage's code is the package files its module imports, followed transitively (lazy
imports inside functions included, and every family, which `get_family` imports by
name), plus the CLI, the params schema and the pinned requirements. The Snakefile gives
each rule their digest as a param (Snakemake reruns a job whose params changed); DVC's
`check` stage writes one fingerprint file per stage (results/code/STAGE.txt, committed
with the results), which that stage's entries depend on. So a change to
loop.py reruns the training stages, and a change to tables.py reruns only `aggregate`.
Read with `ast`, without importing anything.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

from pipeline.io import paths

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent
STAGES = [
    "prepare",
    "fetch",
    "pretrain",
    "probe",
    "finetune",
    "evaluate",
    "exchange",
    "aggregate",
    "advise",
]
ALWAYS = ["pipeline/__init__.py", "pipeline/__main__.py", "pipeline/params.py", "requirements.txt"]


def _module_file(dotted: str) -> Path | None:
    """pipeline.a.b -> pipeline/a/b.py or pipeline/a/b/__init__.py (None outside the package)."""
    parts = dotted.split(".")
    if parts[0] != "pipeline":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] != "__init__" else parts[:-1])


@cache
def imports(path: Path) -> frozenset[Path]:
    """The package files that `path` imports, directly."""
    found = set()
    package = (
        _package_of(path)
        if path.name != "__init__.py"
        else ".".join(path.relative_to(ROOT).parent.parts)
    )
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("pipeline.")
        ):
            names = [node.value]  # importlib.import_module("pipeline.families.x"), by name
        found |= {f for f in map(_module_file, names) if f is not None and f != path}
    return frozenset(found)


def files(stage: str) -> list[str]:
    """The files stage `stage` runs, relative to the repository root, sorted."""
    if stage not in STAGES:
        raise KeyError(f"expected a stage among {STAGES}, found {stage!r}")
    todo = [PACKAGE / "stages" / f"{stage}.py", PACKAGE / "params.py"]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += imports(path)
    return sorted({str(p.relative_to(ROOT)) for p in seen} | set(ALWAYS))


def fingerprint(stage: str, root: Path = ROOT) -> str:
    """One line per file of the stage: its SHA-256 and path."""
    lines = [f"{hashlib.sha256((root / f).read_bytes()).hexdigest()}  {f}" for f in files(stage)]
    return "\n".join(lines) + "\n"


@cache
def digest(stage: str, root: Path = ROOT) -> str:
    """A short digest of `fingerprint`: what Snakemake compares between runs."""
    return hashlib.sha256(fingerprint(stage, root).encode()).hexdigest()[:16]


def fingerprint_file(stage: str) -> Path:
    return paths.RESULTS / "code" / f"{stage}.txt"

"""Is pretraining stable under a perturbation? Compares the final validation score of every
pretrained backbone (per pretraining seed) of two runs' results/ folders, read from the
pretraining curves that `evaluate` writes (results/train_curves/SETTING/pretrain_seedS.csv)
and the study in results/params.json.

    python -m pipeline pretrained A/results B/results --labels "1 thread" "2 threads" [--out F.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io.atomic import write_text


def finals(results: Path) -> pd.Series:
    """The last epoch's validation score, by (backbone, pretraining seed)."""
    params = results / "params.json"
    if not params.is_file():
        raise PipelineError(f"{params}: expected the study that `check` writes, found no file")
    settings = json.loads(params.read_text())["settings"]
    rows = {}
    for curve in sorted((results / "train_curves").glob("*/pretrain_seed*.csv")):
        backbone = settings[curve.parent.name]["pretrain"]
        seed = int(curve.stem.removeprefix("pretrain_seed"))
        rows[(backbone, seed)] = float(pd.read_csv(curve)["val_score"].iloc[-1])
    if not rows:
        raise PipelineError(f"{results / 'train_curves'}: expected pretraining curves, found none")
    return pd.Series(rows).rename_axis(["backbone", "seed"])


def compare(a: pd.Series, b: pd.Series, labels: tuple[str, str]) -> str:
    """Markdown: the largest move in points, then every (backbone, seed) of both runs."""
    table = pd.DataFrame({labels[0]: 100 * a, labels[1]: 100 * b}).dropna()
    table["move (points)"] = (table[labels[1]] - table[labels[0]]).abs()
    worst = table["move (points)"].idxmax()
    head = (
        f"The final pretraining validation score of {len(table)} backbones (backbone × pretraining seed) moves "
        f"by at most {table['move (points)'].max():.2f} points between {labels[0]} and {labels[1]} "
        f"({worst[0]}, seed {worst[1]}); {int((table['move (points)'] <= 1).sum())} of {len(table)} move by "
        f"at most 1 point."
    )
    return f"{head}\n\n{table.round(2).reset_index().to_markdown(index=False)}\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m pipeline pretrained", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--labels", nargs=2, default=("A", "B"))
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    try:
        text = compare(finals(args.a), finals(args.b), tuple(args.labels))
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out:
        write_text(args.out, text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Two runs' summed job cost, side by side, from Snakemake's `benchmark:` files.

    python docs/lab/tools/cost_side_by_side.py OLD_CLONE NEW_CLONE --labels 709adfd HEAD

Each clone ran its study on the same machine at the same time (one core each), so contention
hit both alike. Per stage and in total: jobs, summed wall seconds (`s`) and CPU seconds
(`cpu_time`), and new / old. pandas reads the files; nothing else is needed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def jobs(clone: Path) -> pd.DataFrame:
    rows = []
    for f in sorted((clone / "benchmarks").rglob("*")):
        if f.is_file():
            t = pd.read_csv(f, sep="\t")
            stage = Path(f.relative_to(clone / "benchmarks").parts[0]).stem
            rows.append({"stage": stage, "wall_s": t["s"].sum(), "cpu_s": t["cpu_time"].sum()})
    return pd.DataFrame(rows)


def table(old: pd.DataFrame, new: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    def per_stage(df):
        g = df.groupby("stage").agg(
            jobs=("stage", "size"), wall_s=("wall_s", "sum"), cpu_s=("cpu_s", "sum")
        )
        g.loc["total"] = g.sum()
        return g

    a, b = per_stage(old), per_stage(new)
    out = pd.concat({labels[0]: a, labels[1]: b}, axis=1).fillna(0)
    out = out.loc[[*sorted(i for i in out.index if i != "total"), "total"]]
    old_wall, old_cpu = out[(labels[0], "wall_s")], out[(labels[0], "cpu_s")]
    out[("ratio", "wall")] = (out[(labels[1], "wall_s")] / old_wall).where(old_wall > 0)
    out[("ratio", "cpu")] = (out[(labels[1], "cpu_s")] / old_cpu).where(old_cpu > 0)
    return out.round(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--labels", nargs=2, default=["old", "new"])
    args = ap.parse_args()
    t = table(jobs(args.old), jobs(args.new), args.labels)
    t.columns = [" ".join(c) for c in t.columns]
    print(t.to_markdown())


if __name__ == "__main__":
    main()

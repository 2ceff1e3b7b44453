"""results/cost.md from Snakemake's benchmark TSVs (pipeline/report/cost.py), sums worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import tiny_study

from pipeline import params as P
from pipeline.report import cost

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"
EXTENDED = (
    HEADER + "\tjobid\trule_name\twildcards\tparams\tthreads\tcpu_usage\tresources\tinput_size_mb"
)


def row(s, rss, cpu, extra="") -> str:
    return f"{s}\t0:00:00\t{rss}\t1.0\t1.0\t1.0\t0.0\t0.0\t50.0\t{cpu}" + extra


def bench(root: Path, rel: str, *rows: str, header: str = HEADER) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def study() -> P.Study:
    # settings toy, toy_ls on d012 (classification); backbone mlp (classification)
    raw = tiny_study()
    raw["datasets"]["mols"] = {"family": "molecules", "dataset": "solubility"}
    raw["settings"]["mol"] = {**raw["settings"]["toy"], "data": "mols"}
    return P.Study.model_validate(raw)


def fixture(root: Path) -> Path:
    b = root / "benchmarks"
    bench(b, "pretrain/mlp/seed0.tsv", row(10.0, 100.0, 8.0))
    # the device column says cuda: a GPU job
    bench(b, "probe/toy.tsv", row(20.0, 200.0, 30.0, "\tcuda:0"), header=HEADER + "\tdevice")
    # one job, benchmarked twice (repeat): seconds summed, memory the largest
    bench(b, "finetune/toy/seed0.tsv", row(5.0, 300.0, 4.0), row(7.0, 350.0, 6.0))
    # too short to measure: Snakemake writes NA
    bench(b, "finetune/mol/seed0.tsv", row(3.0, "NA", "NA"))
    # --benchmark-extended: the job reserved a GPU
    bench(
        b,
        "evaluate/toy_ls.tsv",
        row(
            40.0,
            500.0,
            36.0,
            "\t7\tevaluate\t{'setting': 'toy_ls'}\t{}\t1\t90.0"
            "\t{'_cores': 1, 'gpu': 1, 'tmpdir': '/tmp'}\t0.1",
        ),
        header=EXTENDED,
    )
    bench(b, "aggregate.tsv", row(1.0, 50.0, 1.0))
    # left by older runs of jobs no longer in the study
    bench(b, "probe/old_setting.tsv", row(1000.0, 9999.0, 1000.0))
    bench(b, "prepare/gone.tsv", row(100.0, 10.0, 100.0))
    bench(b, "finetune/toy/tau1.tsv", row(50.0, 10.0, 50.0))  # the older per-tau layout
    bench(b, "finetune/toy/seed7.tsv", row(60.0, 10.0, 60.0))  # a seed no longer in the study
    # the stage's own work, as jobs log it: fixed cost = wall - work
    for rel, text in {
        "pretrain/mlp/seed0.log": "[pretrain] epoch=1\n[pretrain] work_s=7.500\n",
        "finetune/toy/seed0.log": "[finetune] work_s=1.0\n[finetune] work_s=6.000\n",  # the last
        "probe/toy.log": "[probe] work_s=15.000\n",
        "evaluate/toy_ls.log": "killed before its end\n",
    }.items():
        (root / "logs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "logs" / rel).write_text(text)
    return b


def tables(text: str) -> dict[str, dict[str, list[str]]]:
    """section heading -> first cell -> the other cells of its row."""
    out, section = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            section = out.setdefault(line[3:], {})
        elif line.startswith("|") and section is not None and not line.startswith("|:"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            section[cells[0]] = cells[1:]
    return out


def test_the_study_cost_per_stage_family_and_device(tmp_path):
    text = cost.markdown(fixture(tmp_path), study())
    t = tables(text)
    # kept: mlp 10, toy probe 20, toy ft 5+7, mol ft 3, toy_ls evaluate 40, aggregate 1
    assert t["Totals"]["jobs"] == ["6"]
    assert t["Totals"]["wall seconds (sum over jobs)"] == ["86.0"]  # 10 + 20 + 12 + 3 + 40 + 1
    assert t["Totals"]["CPU-hours"] == [f"{85 / 3600:.4f}"]  # 8 + 30 + 10 + NA + 36 + 1 = 85 s
    assert t["Totals"]["GPU-hours"] == [f"{60 / 3600:.4f}"]  # probe/toy 20 s + evaluate/toy_ls 40 s
    assert t["Totals"]["peak RSS of a job (MiB)"] == ["500.0"]
    # over the jobs that logged their work: (10 - 7.5) + (12 - 6) + (20 - 15) = 13.5 of 42 s
    assert t["Totals"]["fixed cost, % of wall"] == [f"{100 * 13.5 / 42:.1f}"]
    #                                jobs  wall    CPU     RSS   fixed %
    assert t["Per stage"] == {
        "stage": ["jobs", "wall s", "CPU s", "peak RSS (MiB)", "fixed %"],
        "aggregate": ["1", "1.0", "1.0", "50.0", "n/a"],
        "evaluate": ["1", "40.0", "36.0", "500.0", "n/a"],
        "finetune": ["2", "15.0", "10.0", "350.0", "50.0"],  # mol/seed0 logged none
        "pretrain": ["1", "10.0", "8.0", "100.0", "25.0"],
        "probe": ["1", "20.0", "30.0", "200.0", "25.0"],
    }
    fam = t["Per family"]
    assert fam["classification"] == [
        "4",
        "82.0",
        "84.0",
        "500.0",
        "32.1",
    ]  # mlp, toy probe, toy ft, toy_ls evaluate
    assert fam["molecules"] == ["1", "3.0", "n/a", "n/a", "n/a"]
    assert fam["-"] == ["1", "1.0", "1.0", "50.0", "n/a"]  # aggregate: no family
    assert t["Per device"]["gpu"] == ["2", "60.0", "66.0", "500.0", "25.0"]
    assert t["Per device"]["cpu"] == ["4", "26.0", "19.0", "350.0", "38.6"]  # (2.5 + 6) / (10 + 12)
    assert "4 benchmark file(s) of jobs not in this study" in text
    assert "old_setting" not in text
    replicated = study().model_copy(update={"seeds": [0, 7]})
    assert tables(cost.markdown(fixture(tmp_path / "again"), replicated))["Per stage"]["finetune"][
        :2
    ] == ["3", "75.0"]


def test_without_a_study_every_file_counts_and_no_family(tmp_path):
    t = tables(cost.markdown(fixture(tmp_path)))
    assert t["Totals"]["jobs"] == ["10"]
    assert t["Totals"]["wall seconds (sum over jobs)"] == ["1296.0"]  # 86 + 1000 + 100 + 50 + 60
    assert set(t["Per family"]) == {"family", "-"}
    assert t["Per stage"]["prepare"] == ["1", "100.0", "100.0", "10.0", "n/a"]


def test_no_benchmarks_is_one_line(tmp_path):
    for text in (
        cost.markdown(tmp_path / "missing"),
        cost.markdown(tmp_path),
        cost.markdown(tmp_path, study()),
    ):
        assert text.count("\n") == 1 and text.startswith("No benchmarks") and "dvc repro" in text
    bench(tmp_path / "b", "probe/old_setting.tsv", row(1.0, 1.0, 1.0))
    text = cost.markdown(tmp_path / "b", study())
    assert text.count("\n") == 1 and "of this study's jobs" in text


def test_unreadable_files_are_skipped_and_named(tmp_path):
    b = tmp_path / "benchmarks"
    bench(b, "pretrain/mlp/seed0.tsv", row(2.0, 10.0, 1.5))
    (b / "probe").mkdir()
    (b / "probe" / "toy.tsv").write_text("")  # a job killed before Snakemake wrote its record
    text = cost.markdown(b, study())
    assert tables(text)["Totals"]["jobs"] == ["1"]
    assert "1 unreadable benchmark file(s) skipped: probe/toy.tsv" in text


def test_fetch_jobs_are_named_by_their_checkpoint_path(tmp_path):
    raw = tiny_study()
    raw["imports"]["imp"] = {
        "family": "classification",
        "model": {"arch": "mlp"},
        "checkpoint": "ckpt/imp.pt",
    }
    b = tmp_path / "benchmarks"
    bench(b, "fetch/ckpt/imp.pt.tsv", row(4.0, 20.0, 2.0))
    t = tables(cost.markdown(b, P.Study.model_validate(raw)))
    assert t["Per stage"]["fetch"] == ["1", "4.0", "2.0", "20.0", "n/a"]
    assert t["Per family"]["classification"] == ["1", "4.0", "2.0", "20.0", "n/a"]


def test_the_jobs_own_measure_and_machine(tmp_path):
    """The `[machine]` and `[usage]` lines a job prints (pipeline/runtime/machine.py) give the
    Machine section, the per-stage CPU / wall and steal, and two totals."""
    b = fixture(tmp_path)
    box = {"cpu": "Xeon X", "flags": ["avx2"], "cores": 2, "usable_cores": 2, "threads": 1}
    for rel, (wall, cpu, steal) in {
        "pretrain/mlp/seed0.log": (10.0, 9.0, 0.01),
        "probe/toy.log": (20.0, 10.0, 0.20),
    }.items():
        usage = {"wall_s": wall, "cpu_s": cpu, "steal_share": steal}
        with open(tmp_path / "logs" / rel, "a") as f:
            f.write(f"[machine] {json.dumps(box)}\n[usage] {json.dumps(usage)}\n")
    text = cost.markdown(b, study())
    t = tables(text)
    assert "- Xeon X (2 cores, 2 usable; flags: avx2)" in text and "(2 jobs)" in text
    own = t["CPU time as the jobs measure it"]
    assert own["pretrain"] == ["1", "9.0", "10.0", "0.90", "1", "1.0", "1.0"]
    assert own["probe"] == ["1", "10.0", "20.0", "0.50", "1", "20.0", "20.0"]
    assert "finetune" not in own  # its jobs logged no record
    assert t["Totals"]["CPU / wall, as the jobs measure it"] == [f"{19 / 30:.2f}"]
    assert t["Totals"]["steal, % of the machine's CPU time (largest over jobs)"] == ["20.0"]
    assert "## Machine" not in cost.markdown(fixture(tmp_path / "none"), study())

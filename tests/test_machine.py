"""pipeline/runtime/machine.py: the machine record and a job's own CPU, wall and steal."""

from __future__ import annotations

import json

import torch

from pipeline.runtime import machine

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R)   Platinum 8480
flags\t\t: fpu sse avx2 avx512f avx512_vnni amx_tile
processor\t: 1
model name\t: Other
flags\t\t: fpu
"""


def test_cpu_model_and_flags_from_the_first_processor(tmp_path):
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    model, flags = machine.cpu_model_and_flags(tmp_path / "cpuinfo")
    assert model == "Intel(R) Xeon(R) Platinum 8480"
    assert flags == ["avx2", "avx512f", "avx512_vnni", "amx_tile"]
    assert machine.cpu_model_and_flags(tmp_path / "missing") == ("unknown", [])


def test_steal_and_total_ticks(tmp_path):
    (tmp_path / "stat").write_text("cpu  10 1 3 100 2 0 1 7 0 0\ncpu0 5 0 1 50 1 0 0 3 0 0\n")
    assert machine.cpu_ticks(tmp_path / "stat") == {"steal": 7, "total": 124}
    (tmp_path / "bad").write_text("intr 1 2\n")
    assert machine.cpu_ticks(tmp_path / "bad") == {}


def test_parallel_summary_is_one_line():
    line = machine.parallel_summary(torch.__config__.parallel_info())
    assert "\n" not in line and f"threads {torch.get_num_threads()}" in line


def test_a_job_record_round_trips_through_its_log():
    usage = machine.Usage()
    sum(range(200_000))
    lines = machine.job_lines(usage)
    text = "noise\n[usage] {not json\n" + "\n".join(lines) + "\n"
    found = machine.last_record(text, machine.MACHINE_TAG)
    used = machine.last_record(text, machine.USAGE_TAG)
    assert found["threads"] == torch.get_num_threads() and found["gpu"] is None
    assert used["cpu_s"] > 0 and used["wall_s"] > 0
    assert used["cpu_ratio"] == round(used["cpu_s"] / used["wall_s"], 3)
    assert 0 <= used.get("steal_share", 0) <= 1
    assert found["cpu"] in machine.describe(found)
    assert machine.last_record("[usage] [1, 2]\n", machine.USAGE_TAG) is None
    assert json.loads(lines[0].removeprefix(machine.MACHINE_TAG)) == found

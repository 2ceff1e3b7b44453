"""`python -m pipeline launch [SNAKEMAKE ARGS...]`: `make run`'s way into Snakemake, which
recovers from an interrupted run (kill -9, a lost session, a crash) instead of stopping
at Snakemake's "Directory cannot be locked" or "Incomplete files".

1. It takes an exclusive flock on .snakemake/taskhead-launch.lock and keeps it for the whole
   run (the lock's descriptor passes to Snakemake through exec): a second launcher in the
   same checkout stops at once, naming the first one's pid, and touches nothing.
2. It looks for processes of this checkout that are still alive: a `dvc repro` or `dvc exp`
   (pipeline.workflow.driverlock, the lock both drivers share), a Snakemake whose working
   directory is the checkout, or a job of an earlier launch (they carry TASKHEAD_LAUNCH in
   their environment: a job outlives a Snakemake killed with -9). Any of them: it stops,
   naming the pid. None: Snakemake's locks (.snakemake/locks/) are stale, and it clears them.
3. It execs `snakemake --rerun-incomplete ARGS...`, so signals and the exit status are
   Snakemake's own; jobs of the interrupted run are redone (training resumes from its
   per-epoch resume files).

A `--configfile` is read with pipeline.io.yamlfile first, so a bad study file gets one line
rather than Snakemake's "Config file is not valid JSON or YAML".
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from pathlib import Path

from pipeline.errors import PipelineError
from pipeline.workflow import driverlock

LOCK = Path(".snakemake") / "taskhead-launch.lock"
SNAKEMAKE_LOCKS = Path(".snakemake") / "locks"
MARK = (
    "TASKHEAD_LAUNCH"  # in the environment of the Snakemake a launcher starts, and of all its jobs
)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return launch(argv)
    except PipelineError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def launch(argv: list[str]) -> int:
    root = Path.cwd().resolve()
    snakemake = shutil.which("snakemake")
    if snakemake is None:
        raise PipelineError(
            "expected a snakemake executable on PATH, found none (is the venv's bin on PATH?)"
        )
    lock = hold_lock(LOCK)
    driverlock.refuse_dvc(root)
    busy = live_processes(root)
    if busy:
        pid, what, cmd = busy[0]
        raise PipelineError(
            f"{what} is still running in this checkout (pid {pid}: {cmd}); wait for it or stop it"
        )
    check_configfiles(argv)
    if SNAKEMAKE_LOCKS.is_dir() and any(SNAKEMAKE_LOCKS.iterdir()):
        shutil.rmtree(SNAKEMAKE_LOCKS)
        print("launch: cleared Snakemake's lock, left by an interrupted run", file=sys.stderr)
    os.set_inheritable(lock, True)  # Snakemake holds the flock from here on
    os.environ[MARK] = str(root)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(snakemake, ["snakemake", "--rerun-incomplete", *argv])
    except OSError as err:
        raise PipelineError(
            f"{snakemake}: expected an executable snakemake, found {err.strerror}"
        ) from None
    return 1  # not reached


def hold_lock(path: Path) -> int:
    """The descriptor of `path`, flocked exclusively, with this process's pid in it; an error
    naming the holder's pid when another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise PipelineError(
            f"another run is active in this checkout (pid {holder}); wait for it or stop it"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def live_processes(root: Path) -> list[tuple[int, str, str]]:
    """(pid, what, command line) of the live processes, other than this one, that may still write in `root`:
    a Snakemake running there, or a job that an earlier launcher's Snakemake started."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if _state(entry) in "ZX":  # a zombie holds nothing
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cmd = " ".join(a.decode(errors="replace") for a in argv if a)
            cmd = cmd if len(cmd) <= 80 else cmd[:77] + "..."
            if _is_snakemake(argv) and Path(os.readlink(entry / "cwd")).resolve() == root:
                found.append((int(entry.name), "a snakemake process", cmd))
            elif f"{MARK}={root}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append((int(entry.name), "a job of an interrupted run", cmd))
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
    return sorted(found)


def _state(proc: Path) -> str:
    stat = (proc / "stat").read_text()
    return stat[stat.rindex(")") + 2]


def _is_snakemake(argv: list[bytes]) -> bool:
    """`snakemake ...`, `python .../bin/snakemake ...` or `python -m snakemake ...`."""
    names = [os.path.basename(a) for a in argv[:3]]
    return (
        names[0] == b"snakemake"
        or names[1:2] == [b"snakemake"]
        or names[1:3] == [b"-m", b"snakemake"]
    )


def check_configfiles(argv: list[str]) -> None:
    """Read each --configfile with our reader: one line for a duplicate key, bad bytes, a syntax error
    or a file that is not a study (often a target that `--configfile FILE TARGET` swallowed)."""
    from pipeline.io.yamlfile import read

    for i, arg in enumerate(argv):
        if arg.startswith("--configfile="):
            files = [arg.split("=", 1)[1]]
        elif arg in ("--configfile", "--configfiles"):
            files = []
            for value in argv[i + 1 :]:
                if value.startswith("-"):
                    break
                files.append(value)
        else:
            continue
        for file in files:
            data = read(file, what="study file")
            if not isinstance(data, dict):
                found = "nothing" if data is None else f"a {type(data).__name__}"
                raise PipelineError(
                    f"{file}: expected a study file (a mapping of keys at the top level), found "
                    f"{found}; --configfile takes every argument up to the next option, so give "
                    f"targets before it"
                )


if __name__ == "__main__":
    sys.exit(main())

"""One lock for the checkout, shared by its two drivers: Snakemake (`make run`, `snakemake`)
and DVC (`dvc repro`, `dvc exp run`).

The lock is DVC's own, .dvc/tmp/lock: an flock (zc.lockfile) that DVC takes at the start of
`dvc repro`, `dvc exp run`, `dvc commit` or `dvc checkout` (not `dvc status`), before it
checks anything out or runs a stage. The Snakefile's main process takes the same lock for the
whole run (`hold`; a dry run takes nothing), so:

- `dvc repro` or `dvc exp run`, started while Snakemake works, stops at once. DVC has no hook
  of its own: the venv's start-up hook (HOOK, written by `make` through `python -m
  pipeline.workflow.driverlock --install`) runs `dvc_starts` in every `dvc repro` and `dvc exp`, which
  stops it with one line naming Snakemake and its pid. Without the hook, DVC stops at its own
  lock with its own line, "Unable to acquire lock" (`cat .dvc/tmp/lock` names the holder);
- Snakemake, started while DVC works, stops with one line naming DVC's process. DVC lets go
  of its lock while a stage's command runs (so that the command may call dvc), so `hold`
  looks for a running `dvc repro` or `dvc exp` of the checkout first;
- the kernel drops the flock of a holder killed with -9, but its name stays in the file (or,
  for DVC, in .dvc/tmp/rwlock): `hold` takes the lock over and says so in one line.

A Snakemake started by a stage of `dvc repro` (the aggregate stage's `snakemake --touch`) is
part of that run: it takes nothing.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import sys
import sysconfig
from pathlib import Path

from pipeline.errors import PipelineError

LOCK = Path(".dvc") / "tmp" / "lock"
RWLOCK = Path(".dvc") / "tmp" / "rwlock"  # DVC's record of the stages it runs, with their pids
DVC_DRIVING = ("repro", "exp")  # the dvc commands that run stages

# A `.pth` file in the venv's site-packages: Python runs its `import` line at every start, and
# it imports this module only in `dvc repro` and `dvc exp` (a test of sys.argv: microseconds).
HOOK = "taskhead-driverlock.pth"
HOOK_LINE = (
    "import sys; sys.argv[1:2] in (['repro'], ['exp']) and "
    "sys.argv[0].endswith('dvc') and __import__('importlib').import_module('pipeline.workflow.driverlock').dvc_starts()\n"
)

_held: list[int] = []


def hold(who: str, root: Path | None = None) -> None:
    """Take the checkout's lock for this process as driver `who`, until `release` or exit;
    a PipelineError naming the other driver and its pid when one is running."""
    root = (root or Path.cwd()).resolve()
    if _held or refuse_dvc(root) or not (root / ".dvc").is_dir():
        return  # held already (a Snakefile read twice), part of a dvc repro, or no DVC here
    path = root / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(os.read(fd, 200).decode(errors="replace"))
        os.close(fd)
        raise PipelineError(
            f"{holder} holds this checkout's lock ({LOCK}); wait for it or stop it"
        ) from None
    gone = _gone_holder(os.read(fd, 200).decode(errors="replace"), root)
    if gone:
        print(f"{who}: took over this checkout's lock from {gone}, which is gone", file=sys.stderr)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f" {os.getpid()} {who}\n".encode(), 0)  # zc.lockfile's format, and who
    _held.append(fd)
    atexit.register(release)


def refuse_dvc(root: Path) -> bool:
    """True when this process was started by a stage of a running `dvc repro` (it is part of
    that run); a PipelineError naming DVC's process when one works in `root`; else False."""
    mine = ancestors()
    running = dvc_processes(root)
    if any(pid in mine for pid, _ in running):
        return True
    if running:
        pid, cmd = running[0]
        raise PipelineError(
            f"{cmd} is running in this checkout (pid {pid}); wait for it or stop it"
        )
    return False


def release() -> None:
    """Let go of the lock, leaving the file empty: a later holder finds no one to take over
    from (DVC, which does not empty it, leaves its pid there on every exit)."""
    while _held:
        fd = _held.pop()
        os.ftruncate(fd, 0)
        os.close(fd)


def _holder(text: str) -> str:
    pid, _, who = text.strip().partition(" ")
    return f"{who or 'dvc'} (pid {pid or 'unknown'})"


def _gone_holder(text: str, root: Path) -> str | None:
    """The holder a lock that was free still names, if it was killed: a driver of ours that
    left its name, or a dvc whose stage is still in DVC's rwlock."""
    pid, _, who = text.strip().partition(" ")
    if who and pid.isdigit() and not _alive(int(pid)):
        return f"{who} (pid {pid})"
    try:
        rw = json.loads((root / RWLOCK).read_text())
    except (OSError, ValueError):
        return None
    infos = list(rw.get("write", {}).values()) + [i for v in rw.get("read", {}).values() for i in v]
    for info in infos:
        if isinstance(info, dict) and not _alive(int(info.get("pid", 0))):
            cmd = str(info.get("cmd", "dvc")).split(" ", 1)  # DVC records its full path
            return " ".join([os.path.basename(cmd[0]), *cmd[1:]]) + f" (pid {info['pid']})"
    return None


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def ancestors() -> set[int]:
    """This process and its parents."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat[stat.rindex(")") + 2 :].split()[1])
    return found


def dvc_processes(root: Path) -> list[tuple[int, str]]:
    """(pid, `dvc COMMAND`) of the live `dvc repro` and `dvc exp` processes working in `root`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [
                a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")
            ]
            command = _dvc_command(argv)
            if command not in DVC_DRIVING or not _alive(int(entry.name)):
                continue
            cwd = Path(os.readlink(entry / "cwd")).resolve()
        except (OSError, ValueError):  # gone meanwhile, or not ours to read
            continue
        if cwd == root or root in cwd.parents:
            found.append((int(entry.name), f"dvc {command}"))
    return sorted(found)


def _dvc_command(argv: list[str]) -> str | None:
    """The subcommand of `dvc ...`, `python .../bin/dvc ...` or `python -m dvc ...`."""
    names = [os.path.basename(a) for a in argv[:3]]
    if names[:1] == ["dvc"]:
        rest = argv[1:]
    elif names[1:2] == ["dvc"]:
        rest = argv[2:]
    elif names[1:3] == ["-m", "dvc"]:
        rest = argv[3:]
    else:
        return None
    return next((a for a in rest if a and not a.startswith("-")), None)


def dvc_starts() -> None:
    """In a starting `dvc repro` or `dvc exp` (the start-up hook): when a driver of ours holds
    the lock of the repo around the working directory, stop with one line that names it.
    Otherwise DVC goes on and takes the lock itself."""
    root = next((d for d in (Path.cwd(), *Path.cwd().parents) if (d / ".dvc").is_dir()), None)
    if root is None or not (root / LOCK).is_file():
        return
    fd = os.open(root / LOCK, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid, _, who = os.read(fd, 200).decode(errors="replace").strip().partition(" ")
        if who:  # ours; DVC's own holders are DVC's to report
            print(
                f"error: {who} is running in this checkout (pid {pid}); wait for it or stop it",
                file=sys.stderr,
                flush=True,
            )
            os._exit(1)
    finally:
        os.close(fd)


def install() -> Path:
    """Write the start-up hook into this Python's site-packages."""
    path = Path(sysconfig.get_paths()["purelib"]) / HOOK
    path.write_text(HOOK_LINE)
    return path


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: python -m pipeline driverlock --install")
    print(f"driverlock: wrote {install()}")

"""A real, throw-away, single-node SLURM cluster on localhost, for the cluster tests.

`SlurmCluster(...).start()` writes a munge key, slurm.conf and gres.conf into a fresh
temporary directory and starts munged, slurmctld and slurmd from Debian's packages
(`slurmctld slurmd slurm-client munge`) in the foreground, as children of this process.
Nothing outside that directory is touched: munged's socket, every pid, log, state and
spool file live in it, and the clients find the cluster through `SLURM_CONF` (see `env`).
Ports are picked free, so two test runs on one machine do not meet.

`stop()` cancels the cluster's jobs, then ends, by pid, every process the cluster started
(daemons, slurmstepd, job steps: each carries a tag in its environment), and deletes the
directory. It is safe to call twice and runs at exit too, so a failing test leaves nothing.

The node is the short hostname with this machine's CPUs and memory and `gpus` simulated
GPUs (`Gres=gpu:N`, one gres.conf line per GPU with a distinct device file, `/dev/null`
first, and `AutoDetect=off`; without a File the node is INVAL), so `sbatch --gpus=1` is
scheduled and SLURM sets the job's CUDA_VISIBLE_DEVICES to the index it gave.
Settings measured on a Debian 12 VM without cgroups (SLURM 22.05):
proctrack/linuxproc, task/none, no accounting (so status queries need `squeue`, which
sees a finished job for MinJobAge seconds).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = [
    "munged",
    "slurmctld",
    "slurmd",
    "sbatch",
    "srun",
    "squeue",
    "scontrol",
    "sinfo",
    "scancel",
]
TAG = "TASKHEAD_SLURM_CLUSTER"  # environment tag on every process the cluster starts
MIN_JOB_AGE = 300  # >= 3x the plugin's init seconds, so `squeue` still sees finished jobs
GPU_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random")  # one per simulated GPU


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not shutil.which(b, path=_sbin_path())]


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def ensure_installed() -> str | None:
    """Install Debian's SLURM packages if they are missing. None when they are there,
    else a one-line reason why they cannot be (not root, no apt-get, apt failed)."""
    if not missing_binaries():
        return (
            None
            if os.geteuid() == 0
            else "the test cluster's slurmd and slurmctld must run as root"
        )
    if os.geteuid() != 0:
        return f"SLURM is not installed and this user is not root (apt-get install {' '.join(PACKAGES)})"
    if not shutil.which("apt-get"):
        return (
            f"SLURM is not installed and there is no apt-get to install it ({' '.join(PACKAGES)})"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        proc = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if proc.returncode:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return f"apt-get could not install {' '.join(PACKAGES)}: {last}"
    if missing_binaries():
        return f"SLURM binaries still missing after apt-get: {', '.join(missing_binaries())}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the child: get SIGTERM when the test process dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # runs fixtures' finalizers and atexit: stop()


def _mem_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 1024


class SlurmCluster:
    def __init__(self, gpus: int = 1, cpus: int | None = None):
        if not 0 <= gpus <= len(GPU_FILES):
            raise ValueError(f"gpus: expected 0 to {len(GPU_FILES)}, found {gpus}")
        self.gpus = gpus
        self.cpus = cpus or os.cpu_count() or 1
        self.node = socket.gethostname().split(".")[0]
        self.dir: Path | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.tag = uuid.uuid4().hex
        self.env: dict[str, str] = {}
        self._sigterm_set = False

    # -- files ---------------------------------------------------------------------
    def _write_config(self) -> None:
        d = self.dir
        for sub, mode in (
            ("etc", 0o755),
            ("run", 0o755),
            ("log", 0o755),
            ("state", 0o700),
            ("spool", 0o755),
            ("munge", 0o700),
        ):
            (d / sub).mkdir(mode=mode)
        key = d / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        mem = max(256, int(_mem_mb() * 0.9))
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        conf = f"""\
ClusterName=taskhead{self.tag[:6]}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={d}/run/munge.sock
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
PlugStackConfig={d}/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/builtin
GresTypes=gpu
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ReturnToService=2
MinJobAge={MIN_JOB_AGE}
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
SlurmctldDebug=info
SlurmdDebug=info
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={mem}{gres} State=UNKNOWN
PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""
        (d / "etc" / "slurm.conf").write_text(conf)
        (d / "etc" / "plugstack.conf").write_text("")
        gres_conf = "".join(
            f"NodeName={self.node} Name=gpu File={f}\n" for f in GPU_FILES[: self.gpus]
        )
        (d / "etc" / "gres.conf").write_text("AutoDetect=off\n" + gres_conf)
        # Inside a job, snakemake's slurm-jobstep plugin runs `srun` with every SLURM_*
        # variable but a few removed, SLURM_CONF included: a real cluster's srun finds
        # /etc/slurm/slurm.conf, this one's is here. A shim first on PATH puts it back.
        srun = shutil.which("srun", path=_sbin_path())
        shim = d / "bin" / "srun"
        shim.parent.mkdir(mode=0o755)
        shim.write_text(f'#!/bin/sh\nSLURM_CONF="{d}/etc/slurm.conf" exec "{srun}" "$@"\n')
        shim.chmod(0o755)

    # -- processes -----------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str]) -> None:
        with open(self.dir / "log" / f"{name}.out", "wb") as log:
            # preexec_fn: only prctl, in a process without threads of its own yet
            self.procs[name] = subprocess.Popen(
                cmd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )

    def run(
        self, *cmd: str, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        proc = subprocess.run(
            list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}\n{self.logs()}"
            )
        return proc

    def logs(self, tail: int = 30) -> str:
        out = []
        if self.dir:
            for f in sorted((self.dir / "log").glob("*")):
                lines = f.read_text(errors="replace").splitlines()[-tail:]
                out.append(f"--- {f.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def _wait(self, what: str, ok, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({p.returncode}) while waiting for {what}\n{self.logs()}"
                    )
            if ok():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what}\n{self.logs()}")

    def start(self) -> SlurmCluster:
        reason = missing_binaries()
        if reason:
            raise RuntimeError(f"SLURM binaries missing: {', '.join(reason)}")
        self.dir = Path(tempfile.mkdtemp(prefix="taskhead-slurm-"))
        self.dir.chmod(0o755)  # munged wants its socket's directories searchable by all
        atexit.register(self.stop)
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # a killed test run still cleans up
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            self._sigterm_set = True
        conf = self.dir / "etc" / "slurm.conf"
        self.env = {
            **os.environ,
            "SLURM_CONF": str(conf),
            TAG: self.tag,
            "PATH": os.pathsep.join([str(self.dir / "bin"), _sbin_path()]),
        }
        for var in [v for v in self.env if v.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_"))]:
            if var != "SLURM_CONF":
                del self.env[var]
        self._write_config()
        d = self.dir
        sock = d / "run" / "munge.sock"
        try:
            self._spawn(
                "munged",
                [
                    "munged",
                    "--foreground",
                    "--force",
                    f"--socket={sock}",
                    f"--key-file={d}/munge/munge.key",
                    f"--pid-file={d}/run/munged.pid",
                    f"--seed-file={d}/munge/munged.seed",
                    f"--log-file={d}/log/munged.log",
                ],
            )
            self._wait("munged's socket", sock.exists, timeout=15)
            self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(conf)])
            self._wait(
                "slurmctld", lambda: self.run("scontrol", "ping", check=False).returncode == 0
            )
            self._spawn("slurmd", ["slurmd", "-D", "-f", str(conf), "-N", self.node])
            self._wait("the node to be idle", self._node_idle)
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        out = self.run("sinfo", "-h", "-N", "-o", "%T", check=False).stdout.strip()
        return out.startswith("idle")

    # -- teardown ------------------------------------------------------------------
    def _tagged_pids(self) -> list[int]:
        """Processes carrying this cluster's tag (daemons' and jobs' children), not us."""
        mine = {os.getpid(), os.getppid()}
        needle = f"{TAG}={self.tag}".encode()
        pids = []
        for p in Path("/proc").iterdir():
            if not p.name.isdigit() or int(p.name) in mine:
                continue
            try:
                if needle in (p / "environ").read_bytes().split(b"\0"):
                    pids.append(int(p.name))
            except OSError:
                continue
        return pids

    def stop(self) -> None:
        if self.dir is None:
            return
        try:
            ctld = self.procs.get("slurmctld")
            if ctld is not None and ctld.poll() is None:
                ids = self.run("squeue", "-h", "-o", "%i", check=False, timeout=10).stdout.split()
                if ids:
                    self.run("scancel", *ids, check=False, timeout=10)
                    end = time.monotonic() + 10
                    while (
                        time.monotonic() < end
                        and self.run(
                            "squeue", "-h", "-t", "PD,R,CG,S", "-o", "%i", check=False, timeout=10
                        ).stdout.strip()
                    ):
                        time.sleep(0.3)
        except (OSError, subprocess.SubprocessError):
            pass
        for name in ("slurmd", "slurmctld", "munged"):  # reverse order of start
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        for _ in range(3):  # slurmstepd and job processes left behind, by pid
            pids = self._tagged_pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        if self._sigterm_set and signal.getsignal(signal.SIGTERM) is _exit_on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self._sigterm_set = False

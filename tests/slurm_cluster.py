"""A one-node Slurm cluster in a temporary folder, for the tests of the ``slurm`` executor.

This machine is the controller and the node; munge signs the messages with a fresh key of its own socket,
so nothing of the machine's own Slurm or munge (if any) is used or changed. There is no accounting
(slurmdbd): ``sacct`` answers nothing, and the jobs' states come from squeue, scontrol and submitit's
result files. Every daemon runs as this user and is stopped by its own process id at the end.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "srun", "squeue", "scontrol", "scancel", "sinfo")
START_SECONDS = 60  # for the node to register as idle


@dataclass
class Cluster:
    folder: Path
    conf: Path
    node: str

    @property
    def environ(self) -> dict:
        return {"SLURM_CONF": str(self.conf)}

    def command(self, *args: str) -> str:
        """A Slurm client's output (``sinfo -h -o %T``...), on this cluster."""
        done = subprocess.run(args, env={**os.environ, **self.environ}, capture_output=True, text=True, timeout=30)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def log(self, daemon: str) -> str:
        path = self.folder / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else f"(no {path})"


def missing_binaries() -> list[str]:
    return [b for b in DAEMONS + CLIENTS if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(int(line.split()[1]) / 1024 * 0.8)  # slurmd refuses a node that claims more than it has
    raise RuntimeError("no MemTotal in /proc/meminfo")


def _conf(folder: Path, node: str) -> str:
    return "\n".join([
        "ClusterName=transinv-test",
        f"SlurmctldHost={node}(127.0.0.1)",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        f"SlurmUser={_user()}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={folder}/munge.socket",
        f"StateSaveLocation={folder}/state",
        f"SlurmdSpoolDir={folder}/spool",
        f"SlurmctldPidFile={folder}/slurmctld.pid",
        f"SlurmdPidFile={folder}/slurmd.pid",
        f"SlurmctldLogFile={folder}/slurmctld.log",
        f"SlurmdLogFile={folder}/slurmd.log",
        "ProctrackType=proctrack/linuxproc",  # no cgroups: works in a container
        "TaskPlugin=task/none",
        "MpiDefault=none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "ReturnToService=2",
        "InactiveLimit=0",
        "KillWait=5",
        "MinJobAge=600",  # finished jobs stay in squeue/scontrol this long: what the tests look at
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={_memory_mb()} State=UNKNOWN",
        f"PartitionName=test Nodes={node} Default=YES MaxTime=60 State=UP",
        "",
    ])


def _user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def start() -> Cluster:
    """Start munged, slurmctld and slurmd; the cluster once its node is idle. Raises RuntimeError (with the
    daemons' logs) where it does not come up; whatever started is stopped first."""
    # munged wants every folder above its socket searchable by all, and the key readable by its owner only
    folder = Path(tempfile.mkdtemp(prefix="transinv-slurm-"))
    folder.chmod(0o755)
    node = socket.gethostname().split(".")[0]
    cluster = Cluster(folder, folder / "slurm.conf", node)
    (folder / "state").mkdir()
    (folder / "spool").mkdir()
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    cluster.conf.write_text(_conf(folder, node))
    try:
        _run(cluster, _binary("munged"), f"--key-file={key}", f"--socket={folder}/munge.socket",
             f"--pid-file={folder}/munged.pid", f"--log-file={folder}/munged.log", f"--seed-file={folder}/munged.seed")
        _run(cluster, _binary("slurmctld"), "-f", str(cluster.conf))
        _run(cluster, _binary("slurmd"), "-f", str(cluster.conf), "-N", node)
        _wait_idle(cluster)
    except Exception as error:
        logs = "\n".join(f"--- {d}.log (end)\n{cluster.log(d)[-1500:]}" for d in DAEMONS)
        stop(cluster)
        raise RuntimeError(f"the test cluster did not come up: {error}\n{logs}") from None
    return cluster


def _run(cluster: Cluster, *command: str) -> None:
    """A daemon, which forks into the background and writes its pid file."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, env={**os.environ, **cluster.environ})
    if done.returncode:
        raise RuntimeError(f"{Path(command[0]).name} exited with {done.returncode}: {done.stderr.strip()}")


def _wait_idle(cluster: Cluster) -> None:
    deadline, state = time.time() + START_SECONDS, ""
    while time.time() < deadline:
        try:
            state = cluster.command("sinfo", "-h", "-n", cluster.node, "-o", "%T").strip()
        except RuntimeError as error:
            state = str(error)
        if state == "idle":
            return
        time.sleep(0.5)
    raise RuntimeError(f"the node is not idle after {START_SECONDS} s: sinfo says {state!r}")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop(cluster: Cluster) -> None:
    """Cancel every job, stop each daemon by its pid, and remove the folder."""
    try:
        cluster.command("scancel", "--full", "--user", _user())
        time.sleep(1)
    except Exception:
        pass  # no controller: no job either
    for daemon in reversed(DAEMONS):
        pid = _pid(cluster.folder / f"{daemon}.pid")
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.time() + 20
        while time.time() < deadline and _alive(pid):
            time.sleep(0.2)
    shutil.rmtree(cluster.folder, ignore_errors=True)

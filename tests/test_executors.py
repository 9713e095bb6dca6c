"""Runs as submitit jobs: real subprocesses through submitit's LocalExecutor, and the sbatch script for Slurm."""
import dataclasses
import functools
import os
import signal
import stat
import time
from pathlib import Path

import pytest
from submitit.core.utils import pickle_load

from transinv import experiments as ex
from transinv.executors import JobPool, SlurmSettings, locate_options, make_submitit_executor, open_pool
from transinv.scheduler import RunsFailed, run_all
from transinv.presets import TINY
from transinv.runs import RunConfig, find_run, run

DIGITS = RunConfig("mnist", "translated", "tiny", classes=(0, 1, 2))
# Slower than tiny (larger batches, a longer stopping rule): it is still training when the test preempts it.
SLOW = dataclasses.replace(TINY, name="tiny-slow", batch_size=128, pretrain_iter_scale=0.03)


def test_settings_come_from_the_environment(monkeypatch):
    given = {"TRANSINV_SLURM_PARTITION": "gpu", "TRANSINV_SLURM_ACCOUNT": "", "TRANSINV_SLURM_TIME_MIN": "90"}
    assert SlurmSettings.from_environment(given) == SlurmSettings(partition="gpu", time_min=90)
    with pytest.raises(ValueError, match="TRANSINV_SLURM_PARALLEL must be a positive integer, but got 'many'"):
        SlurmSettings.from_environment({"TRANSINV_SLURM_PARALLEL": "many"})
    monkeypatch.setenv("TRANSINV_SLURM_GPUS", "0")
    assert locate_options("slurm") == {"device": "cpu", "precision": "float32"}  # CPU-only jobs
    monkeypatch.delenv("TRANSINV_SLURM_GPUS")
    assert locate_options("slurm") == {"device": "cpu", "precision": "bf16"}  # the jobs' GPUs, whatever is here
    assert locate_options("local", "cuda") == {"device": "cuda"}
    with pytest.raises(ValueError, match="unknown executor 'ssh'; choose one of local, slurm, submitit-local"):
        open_pool("ssh", 1, "results")


def _fake_slurm(folder: Path) -> Path:
    """``srun`` and ``sbatch`` that only keep the script they are given: submitit's Slurm path, without Slurm."""
    folder.mkdir()
    (folder / "srun").write_text("#!/bin/sh\nexit 1\n")
    (folder / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {folder}/script.sh\necho "Submitted batch job 4242"\n')
    for tool in ("srun", "sbatch"):
        (folder / tool).chmod((folder / tool).stat().st_mode | stat.S_IXUSR)
    return folder / "script.sh"


def test_runs_go_to_slurm_as_one_job_array(tmp_path, monkeypatch):
    script = _fake_slurm(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    settings = SlurmSettings(partition="gpu", account="lab", parallel=2)
    pool = JobPool(make_submitit_executor("slurm", tmp_path / "logs", settings))
    handles = [pool.apply_async(run, (RunConfig(d, "translated", "paper"), tmp_path)) for d in ("mnist", "kmnist", "leek2")]
    pool.submit_pending()
    sbatch = script.read_text()
    for line in ("--array=0-2%2", "--partition=gpu", "--account=lab", "--gpus-per-node=1", "--cpus-per-task=4",
                 "--mem=32GB", "--time=60", "--signal=USR2@90", f"--output={tmp_path}/logs/%A_%a_0_log.out"):
        assert f"#SBATCH {line}\n" in sbatch
    assert [h.job.job_id for h in handles] == ["4242_0", "4242_1", "4242_2"]
    assert handles[1].job.paths.stderr == tmp_path / "logs" / "4242_1_0_log.err"  # what a failure names


@pytest.mark.slow
def test_a_fine_tuning_is_submitted_once_its_pretraining_is_done(tmp_path, capsys):
    pretrained, finetuned, vanilla = ex.exp2(["mnist"], ["mnist", "fmnist"], "tiny", 1, 0, tmp_path, device="cpu",
                                             executor="submitit-local")
    assert all(r.finished for r in pretrained + finetuned + vanilla) and len(finetuned) == len(vanilla) == 2
    assert {r.config["init"] for r in finetuned} == {pretrained[0].id}
    parent_done = (pretrained[0].path / "done.json").stat().st_mtime
    submitted = {}  # the run each job trained -> when the job was submitted
    for pickle in (tmp_path / "submitit").glob("*_submitted.pkl"):
        config = pickle_load(pickle).function.args[0]
        submitted[find_run(config, tmp_path, device="cpu").id] = pickle.stat().st_mtime
    assert set(submitted) == {r.id for r in pretrained + finetuned + vanilla}
    assert all(submitted[r.id] >= parent_done for r in finetuned)
    assert "5 runs: 0 reused, 5 trained" in capsys.readouterr().out  # one graph: every fine-tuning after its parent


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except (OSError, IndexError):
            pass  # a process that ended meanwhile
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the job's process through /proc")
def test_a_preempted_job_is_requeued_and_resumes_from_its_checkpoint(tmp_path):
    config = RunConfig("mnist", "translated", SLOW)
    train = functools.partial(run, device="cpu", progress=False, checkpoint_seconds=0.5)
    pool = JobPool(make_submitit_executor("submitit-local", tmp_path / "jobs"))
    job = pool.apply_async(train, (config, str(tmp_path / "runs")))
    job.ready()  # submits it
    this = find_run(config, tmp_path / "runs", device="cpu")
    deadline = time.time() + 120
    while not (this.path / "ckpt.pt").exists() and time.time() < deadline:
        time.sleep(0.1)
    assert not this.finished, "trained to the end before the test could preempt it"
    [task] = _children(job.job._process.pid)  # the controller's one task: the Python process training the run
    os.kill(task, signal.SIGUSR2)  # what Slurm sends before a preemption or the time limit
    reference = run(config, tmp_path / "reference", device="cpu", progress=False)  # meanwhile, uninterrupted
    resumed = job.get()
    log = job.job.stdout()
    assert "requeued (1 time(s))" in log and f"{this.id}: resuming at iteration " in log
    assert 0 < int(log.split("resuming at iteration ")[1].split()[0]) < reference.result["iterations"]
    assert resumed.log.equals(reference.log) and resumed.grid.equals(reference.grid)


@pytest.mark.slow
def test_a_failed_job_is_reported_with_its_log_and_the_others_finish(tmp_path, capsys):
    broken = find_run(DIGITS, tmp_path, device="cpu")
    broken.path.mkdir(parents=True)
    (broken.path / "ckpt.pt").write_bytes(b"not a checkpoint")
    fine = dataclasses.replace(DIGITS, seed=1)
    with pytest.raises(RunsFailed, match=r"1 job\(s\) failed:\n.*checkpoint .* is damaged.*log .*_log.err\)"):
        run_all([DIGITS, fine], tmp_path, device="cpu", executor="submitit-local")
    assert find_run(fine, tmp_path, device="cpu").finished
    log = Path(capsys.readouterr().out.split("log ")[-1].split(")")[0])
    assert "ValueError: the checkpoint" in log.read_text()

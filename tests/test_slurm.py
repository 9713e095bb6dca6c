"""Runs as jobs of a real Slurm cluster: one node, this machine, started for the session (tests/slurm_cluster.py).
Small CPU-only jobs (the ``slurm`` fixture). Starting the cluster takes about 20 s; the tests that train are
``slow`` (one to four minutes each on 2 busy cores)."""
import dataclasses
import functools
import os
import time
from pathlib import Path

import pytest

from transinv import experiments as ex, protocol, repetition
from transinv.executors import LOG_FOLDER, locate_options, make_submitit_executor
from transinv.presets import TINY
from transinv.runs import RunConfig, find_run, run
from transinv.scheduler import RunsFailed, run_all
from transinv.slurm_grid import grid_state
from transinv.slurm_queue import SubmitterBusy, queued_jobs, recorded_jobs, submit_lock

pytestmark = pytest.mark.slurm

DIGITS = RunConfig("mnist", "translated", "tiny", classes=(0, 1, 2))
# Slower than tiny (larger batches, a longer stopping rule: 500 iterations, a minute or more on one core): still
# training when the test requeues it, and for longer than Slurm waits (KillWait) before it kills the first try.
SLOW = dataclasses.replace(TINY, name="tiny-slow", batch_size=128, pretrain_iter_scale=0.1)


def _job(cluster, job_id: str) -> dict:
    """``scontrol show job``'s fields of one job."""
    fields = cluster.command("scontrol", "show", "job", "-o", job_id).split()
    return dict(f.split("=", 1) for f in fields if "=" in f)


def _ended(cluster, job_id: str, seconds: float = 60) -> dict:
    """A job's fields once Slurm has it ended: its result file comes a moment before (the batch script ends after)."""
    deadline = time.time() + seconds
    while (state := _job(cluster, job_id))["JobState"] in ("RUNNING", "COMPLETING") and time.time() < deadline:
        time.sleep(0.5)
    return state


def test_the_cluster_runs_a_job(slurm, tmp_path):
    assert slurm.command("sinfo", "-h", "-o", "%T").strip() == "idle"
    job = make_submitit_executor("slurm", tmp_path).submit(sum, [1, 2])
    assert job.result() == 3
    assert _ended(slurm, job.job_id)["JobState"] == "COMPLETED"


@pytest.mark.slow
def test_a_small_graph_trains_as_slurm_jobs_each_fine_tuning_after_its_parent(slurm, tmp_path, capsys):
    pretrained, finetuned, vanilla = ex.exp2(["mnist"], ["mnist", "fmnist"], "tiny", 1, 0, tmp_path, device="cpu",
                                             executor="slurm")
    assert all(r.finished for r in pretrained + finetuned + vanilla) and len(finetuned) == len(vanilla) == 2
    jobs = recorded_jobs(tmp_path / LOG_FOLDER)  # the run each job trained -> its job id
    assert set(jobs) == {r.id for r in pretrained + finetuned + vanilla}
    parent_end = _ended(slurm, jobs[pretrained[0].id])["EndTime"]
    for r in finetuned:
        state = _ended(slurm, jobs[r.id])
        assert state["JobState"] == "COMPLETED" and state["StartTime"] >= parent_end  # ISO times sort as text
        assert state["JobName"] == f"transinv-{r.id}"
    assert "5 runs: 0 reused, 5 trained" in capsys.readouterr().out


@pytest.mark.slow
def test_a_detached_repetition_is_queued_at_once_and_a_later_call_submits_nothing(slurm, tmp_path, monkeypatch,
                                                                                   capsys):
    monkeypatch.setattr(protocol, "PAPER_DATASETS", ("mnist",))  # a tiny repetition of one dataset: 9 runs
    root = tmp_path / "tiny"
    with submit_lock(root), pytest.raises(SubmitterBusy, match=f"process {os.getpid()} on "):
        repetition.run_repetition("tiny", 0, tmp_path, device="cpu", executor="slurm", detach=True)
    node = _job(slurm, slurm.command("sbatch", "--parsable", f"--cpus-per-task={os.cpu_count()}", "--output=/dev/null",
                                     "--wrap", "sleep 300").strip())  # holds the node: our jobs wait behind it
    record = repetition.run_repetition("tiny", 0, tmp_path, device="cpu", executor="slurm", detach=True)
    jobs, queue = record["jobs_submitted_now"], queued_jobs()
    assert len(jobs) == record["runs_in_repetition"] == 9 and record["finished_runs"] == 0
    assert {queue[job].state for job in jobs.values()} == {"queued"}
    state = grid_state(repetition.graph("tiny", 0, tmp_path), root, locate_options("slurm"))
    finetunings = [n for n in state.runs if n[1] is not None]
    for key in finetunings:  # still waiting for their parents when the call returned
        child, parent = state.runs[key].id, state.runs[key[1]].id
        assert jobs[child] in queue and _job(slurm, jobs[child])["Dependency"].startswith(f"afterok:{jobs[parent]}")
    print_status = ["status", "--preset", "tiny", "--seed", "0", "--results", str(tmp_path)]
    capsys.readouterr()
    protocol.main(print_status)
    assert "exp2       3 runs: 0 finished, 0 running, 3 queued, 0 failed, 0 not submitted" in capsys.readouterr().out
    slurm.command("scancel", node["JobId"])
    started = time.time()
    while set(jobs.values()) & set(queued_jobs()) and time.time() < started + 900:
        time.sleep(2)
    with capsys.disabled():
        print(f"\njobs {sorted(jobs.values(), key=int)} ended {time.time() - started:.0f} s after the node was free")
    again = repetition.run_repetition("tiny", 0, tmp_path, device="cpu", executor="slurm", detach=True)
    assert again["jobs_submitted_now"] == {} and again["complete"] and again["finished_runs"] == 9
    capsys.readouterr()
    protocol.main(print_status)
    out = capsys.readouterr().out
    for experiment, runs in (("exp1", 2), ("exp2", 3), ("exp3", 5), ("cosine", 3)):
        assert f"{experiment:8} {runs:3} runs: {runs} finished, 0 running, 0 queued, 0 failed, 0 not submitted" in out
    assert "failed:" not in out


@pytest.mark.slow
def test_a_requeued_job_resumes_from_its_checkpoint(slurm, tmp_path):
    config = RunConfig("mnist", "translated", SLOW)
    train = functools.partial(run, device="cpu", progress=False, checkpoint_seconds=0.5)  # importable in the job
    job = make_submitit_executor("slurm", tmp_path / "jobs").submit(train, config, str(tmp_path / "runs"))
    this = find_run(config, tmp_path / "runs", device="cpu")
    deadline = time.time() + 300
    while not (this.path / "ckpt.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (this.path / "ckpt.pt").exists() and not this.finished, "trained to the end before the test could requeue it"
    slurm.command("scontrol", "requeue", job.job_id)
    reference = run(config, tmp_path / "reference", device="cpu", progress=False)  # meanwhile, uninterrupted
    resumed = job.result()
    log = job.stdout()
    assert f"{this.id}: resuming at iteration " in log
    assert 0 < int(log.split("resuming at iteration ")[1].split()[0]) < reference.result["iterations"]
    assert resumed.log.equals(reference.log) and resumed.grid.equals(reference.grid)


@pytest.mark.slow
def test_a_failed_job_is_reported_with_its_log_and_the_others_finish(slurm, tmp_path, capsys):
    broken = find_run(DIGITS, tmp_path, **locate_options("slurm"))  # CPU-only jobs: the float32 run
    broken.path.mkdir(parents=True)
    (broken.path / "ckpt.pt").write_bytes(b"not a checkpoint")
    fine = dataclasses.replace(DIGITS, seed=1)
    with pytest.raises(RunsFailed, match=r"1 job\(s\) failed:\n.*checkpoint .* is damaged.*log .*_log.err\)"):
        run_all([DIGITS, fine], tmp_path, device="cpu", executor="slurm")
    assert find_run(fine, tmp_path, **locate_options("slurm")).finished
    log = Path(capsys.readouterr().out.split("log ")[-1].split(")")[0])
    assert "ValueError: the checkpoint" in log.read_text()

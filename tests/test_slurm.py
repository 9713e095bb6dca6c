"""Runs as jobs of a real Slurm cluster: one node, this machine, started for the session (tests/slurm_cluster.py).
Small CPU-only jobs (the ``slurm`` fixture). Starting the cluster takes about 20 s; the tests that train are
``slow`` (about a minute each on 2 cores)."""
import dataclasses
import time
from pathlib import Path

import pytest
from submitit.core.utils import pickle_load

from transinv import experiments as ex
from transinv.executors import JobPool, make_submitit_executor
from transinv.presets import TINY
from transinv.runs import RunConfig, find_run, run
from transinv.scheduler import RunsFailed, run_all

pytestmark = pytest.mark.slurm

DIGITS = RunConfig("mnist", "translated", "tiny", classes=(0, 1, 2))
# Slower than tiny (larger batches, a longer stopping rule): it is still training when the test requeues it.
SLOW = dataclasses.replace(TINY, name="tiny-slow", batch_size=128, pretrain_iter_scale=0.03)


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
    jobs = {}  # the run each job trained -> its job id
    for pickle in (tmp_path / "submitit").glob("*_submitted.pkl"):
        jobs[find_run(pickle_load(pickle).function.args[0], tmp_path, device="cpu").id] = pickle.name.split("_submitted")[0]
    assert set(jobs) == {r.id for r in pretrained + finetuned + vanilla}
    parent_end = _ended(slurm, jobs[pretrained[0].id])["EndTime"]
    for r in finetuned:
        state = _ended(slurm, jobs[r.id])
        assert state["JobState"] == "COMPLETED" and state["StartTime"] >= parent_end  # ISO times sort as text
    assert "5 runs: 0 reused, 5 trained" in capsys.readouterr().out


@pytest.mark.slow
def test_a_failed_job_is_reported_with_its_log_and_the_others_finish(slurm, tmp_path, capsys):
    broken = find_run(DIGITS, tmp_path, device="cpu")
    broken.path.mkdir(parents=True)
    (broken.path / "ckpt.pt").write_bytes(b"not a checkpoint")
    fine = dataclasses.replace(DIGITS, seed=1)
    with pytest.raises(RunsFailed, match=r"1 job\(s\) failed:\n.*checkpoint .* is damaged.*log .*_log.err\)"):
        run_all([DIGITS, fine], tmp_path, device="cpu", executor="slurm")
    assert find_run(fine, tmp_path, device="cpu").finished
    log = Path(capsys.readouterr().out.split("log ")[-1].split(")")[0])
    assert "ValueError: the checkpoint" in log.read_text()

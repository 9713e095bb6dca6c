"""What Slurm says of a results folder's jobs, read without Slurm: squeue's and scontrol's lines, the record of
submitted jobs, the lock of a results folder, and the status of a graph."""
import os
import subprocess
import sys

import pytest

from transinv import slurm_grid
from transinv.executors import LOG_FOLDER
from transinv.protocol import experiment2
from transinv.runs import RunConfig, find_run, run
from transinv.scheduler import schedule
from transinv.slurm_queue import (QueuedJob, SubmitterBusy, parse_scontrol, parse_squeue, record_job, recorded_jobs,
                                  submit_lock)


def test_squeue_lines_give_transinv_jobs_still_in_the_queue():
    text = ("12 transinv-mnist-translated-vanilla-vgg16-s0-abc PENDING\n"
            "13 transinv-mnist-one_location-finetuned-vgg16-s0-def RUNNING\n"
            "14 transinv-kmnist-one_location-vanilla-vgg16-s0-123 COMPLETING\n"
            "15 jupyter RUNNING\n"
            "16 transinv-fmnist-one_location-vanilla-vgg16-s0-456 CANCELLED+\n\n")
    assert parse_squeue(text) == {
        "12": QueuedJob("12", "mnist-translated-vanilla-vgg16-s0-abc", "queued"),
        "13": QueuedJob("13", "mnist-one_location-finetuned-vgg16-s0-def", "running"),
        "14": QueuedJob("14", "kmnist-one_location-vanilla-vgg16-s0-123", "running")}
    with pytest.raises(ValueError, match="not a line of squeue"):
        parse_squeue("12 transinv-a PENDING extra")


def test_scontrol_fields():
    fields = parse_scontrol("JobId=13 JobName=transinv-x JobState=PENDING Reason=Dependency "
                            "Dependency=afterok:12(unfulfilled) Command=(null)\n")
    assert fields["JobState"] == "PENDING" and fields["Dependency"] == "afterok:12(unfulfilled)"


def test_the_last_job_submitted_for_a_run_is_the_one_recorded(tmp_path):
    assert recorded_jobs(tmp_path) == {}
    for job_id, run_id in (("12", "a"), ("13", "b"), ("14", "a")):
        record_job(tmp_path, job_id, run_id)
    assert recorded_jobs(tmp_path) == {"a": "14", "b": "13"}


def test_a_second_submitter_is_told_who_holds_the_lock(tmp_path):
    with submit_lock(tmp_path):
        with pytest.raises(SubmitterBusy, match=rf"runs of {tmp_path}: process {os.getpid()} on .*, since .*"
                                                rf"the lock is {tmp_path}/.submit.lock"):
            with submit_lock(tmp_path):
                pass
        other = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                "from transinv.slurm_queue import submit_lock; "
                                "exec('with submit_lock(Path(sys.argv[1])): pass')", str(tmp_path)],
                               capture_output=True, text=True)
        assert other.returncode == 1 and "SubmitterBusy: another submitter" in other.stderr
        with pytest.raises(SubmitterBusy):
            schedule(_graph(), tmp_path, device="cpu")  # trains nothing while another holds the lock
    with submit_lock(tmp_path):  # let go at the end
        pass


def _graph():
    """A pretraining, its fine-tuning and the vanilla run."""
    return experiment2(["mnist"], ["mnist"], "tiny", 1, 0)


def test_detach_is_for_slurm_and_slurm_is_not_forgetful(tmp_path):
    with pytest.raises(ValueError, match="detach leaves the runs to Slurm: it needs executor='slurm'"):
        schedule(_graph(), tmp_path, device="cpu", detach=True)
    with pytest.raises(ValueError, match="forgetful is for a machine whose checkpoints"):
        schedule(_graph(), tmp_path, device="cpu", executor="slurm", forgetful=True)


def test_status_counts_each_experiment_and_names_the_failed_jobs_logs(tmp_path, monkeypatch):
    graph, where = _graph(), {"device": "cpu", "precision": "float32"}
    monkeypatch.setattr(slurm_grid, "queued_jobs", lambda: {})
    state = slurm_grid.grid_state(graph, tmp_path, where)
    pretrain, finetune, vanilla = (state.runs[n.key].id for n in graph)
    for job_id, run_id in (("11", pretrain), ("12", finetune), ("13", vanilla)):
        record_job(tmp_path / LOG_FOLDER, job_id, run_id)
    queue = {"11": QueuedJob("11", pretrain, "running"), "12": QueuedJob("12", finetune, "queued"),
             "99": QueuedJob("99", vanilla, "running")}  # another folder's job of the same run
    monkeypatch.setattr(slurm_grid, "queued_jobs", lambda: queue)
    monkeypatch.setattr(slurm_grid, "ended_state", lambda job_id: "CANCELLED")
    counts, failures = slurm_grid.status(graph, tmp_path, where)
    assert counts == {"exp2": {"finished": 0, "running": 1, "queued": 1, "failed": 1, "not submitted": 0}}
    assert failures == [f"{vanilla}: ended without a result (CANCELLED) (job 13, log "
                        f"{tmp_path / LOG_FOLDER / '13_0_log.err'})"]
    assert slurm_grid.status_lines(counts, failures) == [
        "exp2       3 runs: 0 finished, 1 running, 1 queued, 1 failed, 0 not submitted", f"failed: {failures[0]}"]


def test_a_fine_tuning_is_named_under_its_parent_before_the_parent_has_trained(tmp_path):
    """What a job waiting for its parent's is named by: the id it gets once the parent is finished."""
    parent_config = RunConfig("mnist", "translated", "tiny", classes=(0, 1, 2))
    parent = find_run(parent_config, tmp_path, device="cpu", precision="float32")
    child = RunConfig("mnist", "one_location", "tiny", classes=(0, 1, 2), init=parent.id)
    with pytest.raises(ValueError, match="must be 'vanilla', 'imagenet' or the id of a finished run"):
        find_run(child, tmp_path, device="cpu")
    with pytest.raises(ValueError, match="is not the id of the parent run given"):
        find_run(child, tmp_path, device="cpu", parent=find_run(RunConfig("kmnist", "translated", "tiny"), tmp_path,
                                                                    device="cpu"))
    planned = find_run(child, tmp_path, device="cpu", precision="float32", parent=parent)
    run(parent_config, tmp_path, device="cpu", precision="float32", progress=False)
    assert find_run(child, tmp_path, device="cpu", precision="float32") == planned


def test_status_without_slurm_says_so_and_what_it_needs(tmp_path, monkeypatch, capsys):
    from transinv import protocol

    def no_slurm():
        raise RuntimeError("squeue is not found: run this where Slurm's commands are (a login node)")

    monkeypatch.setattr(slurm_grid, "queued_jobs", no_slurm)
    with pytest.raises(SystemExit) as stopped:
        protocol.main(["status", "--preset", "tiny", "--results", str(tmp_path)])
    assert stopped.value.code == 1
    assert "status needs Slurm's queue, and could not read it: squeue is not found" in capsys.readouterr().err

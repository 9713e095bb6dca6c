"""The speed switches (transinv.speedups) and their probe (benchmarks/gpu_probe.py), on the CPU at the tiny preset."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from transinv import speedups
from transinv.repetition import probe_estimate
from transinv.evaluate import eval_batch_size
from transinv.models import create_model
from transinv.presets import SMALL, TINY
from transinv.runs import RunConfig
from transinv.speedups import Speedups, apply, compiled, cuda_mps, fastest

ROOT = Path(__file__).resolve().parents[1]
GPU_ONLY = ("cudnn_benchmark", "mps", "threads 2", "compile reduce-overhead")


@pytest.fixture
def applied(monkeypatch):
    """apply() in this process, undone afterwards: the switches, cuDNN's flag and torch's threads."""
    monkeypatch.setattr(speedups, "_applied", Speedups())
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", torch.backends.cudnn.benchmark)
    threads = torch.get_num_threads()
    yield apply
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_probe_at_the_tiny_preset_on_the_cpu(tmp_path):
    out, seconds, started = tmp_path / "probe.json", 50, time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "benchmarks/gpu_probe.py", "--preset", "tiny", "--device", "cpu",
                           "--seconds", str(seconds), "--json", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=3 * seconds)
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.perf_counter() - started < seconds + 5  # within its time (and the interpreter's start)
    probe = json.loads(out.read_text())
    assert probe["device"] == "cpu" and probe["preset"] == "tiny" and probe["wall_seconds"] <= seconds
    candidates = {c["name"]: c for c in probe["candidates"]}
    measured = [c for c in probe["candidates"] if c["status"] == "measured"]
    assert candidates["baseline"]["status"] == "measured" and candidates["baseline"]["kept"]
    for c in measured:
        assert c["side_by_side"] and c["runs_finished"] == c["speedups"]["workers"] == len(c["runs"])
        assert min(c["train_images_per_second"], c["sustained_images_per_second"], c["images_per_wall_second"],
                   c["eval_seconds_per_run"], c["setup_seconds_per_run"]) > 0
        assert all(r["iterations"] == probe["iterations_per_run"] == 20 for r in c["runs"])  # the rule never stopped
    for name in [*GPU_ONLY, *(n for n in candidates if n.startswith("eval_batch"))]:
        assert candidates[name]["status"] == "skipped" and candidates[name]["reason"]
    assert all(c.get("reason") for c in probe["candidates"] if c["status"] != "measured")
    chosen = fastest(out)
    assert chosen == Speedups.read(out) == Speedups.from_dict(candidates[probe["fastest"]["name"]]["speedups"])
    rate, overhead = probe_estimate(out)  # what the scheduler predicts run times from, without finished runs
    assert rate == pytest.approx(probe["fastest"]["sustained_images_per_second"] / chosen.workers) and overhead > 0
    assert chosen.workers >= 1 and not chosen.cudnn_benchmark and chosen.compile is None


def test_a_candidate_past_its_time_box_is_stopped():
    from benchmarks.gpu_probe import measure
    started = time.perf_counter()
    entry = measure(Speedups(workers=1), [RunConfig("mnist", "translated", TINY)], "cpu", 1.0, TINY, 100)
    assert entry["status"] == "timed out" and entry["runs_finished"] == 0
    assert entry["reason"] == "past its time box of 1 s: its workers were killed"
    assert time.perf_counter() - started < 15


def test_switches_are_checked():
    assert Speedups.for_device("cpu") == Speedups()
    assert Speedups.for_device(torch.device("cuda")) == Speedups(cudnn_benchmark=True)
    for bad, message in [({"compile": "fast"}, "compile must be None or a torch.compile mode"),
                         ({"threads": 0}, "threads must be None or a positive integer, but got 0"),
                         ({"workers": True}, "workers must be None or a positive integer, but got True"),
                         ({"eval_batch": 2.5}, "eval_batch must be None or a positive integer"),
                         ({"mps": 1}, "mps must be True or False, but got 1")]:
        with pytest.raises(ValueError, match=message):
            Speedups(**bad)
    with pytest.raises(ValueError, match="unknown speed switch benchmark: the switches are cudnn_benchmark"):
        Speedups.from_dict({"benchmark": True})


def test_written_and_read_back(tmp_path):
    chosen = Speedups(cudnn_benchmark=True, compile="reduce-overhead", threads=2, workers=12, mps=True, eval_batch=9)
    chosen.write(tmp_path / "s.json")
    assert Speedups.read(tmp_path / "s.json") == chosen == Speedups.from_dict(chosen.to_dict())
    with pytest.raises(ValueError, match="is not a probe's JSON"):
        fastest(tmp_path / "s.json")


def test_apply_sets_cudnn_and_threads_on_a_gpu_machine_only(applied, monkeypatch):
    threads = torch.get_num_threads()
    applied(Speedups(cudnn_benchmark=True, threads=threads + 1))
    assert torch.backends.cudnn.benchmark and speedups.current().threads == threads + 1
    assert torch.get_num_threads() == threads  # no GPU here: a run on the CPU keeps its one thread anyway
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    applied(Speedups(threads=threads + 1))
    assert torch.get_num_threads() == threads + 1 and not torch.backends.cudnn.benchmark
    with pytest.raises(TypeError, match="apply takes a Speedups, not dict"):
        applied({"threads": 2})


def test_eval_batch_and_compile_apply_on_a_gpu_only(applied):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert (eval_batch_size(SMALL, cpu), eval_batch_size(SMALL, cuda)) == (512, 4096)
    applied(Speedups(eval_batch=1000, compile="reduce-overhead"))
    assert (eval_batch_size(SMALL, cpu), eval_batch_size(SMALL, cuda)) == (512, 1000)
    model = create_model("vgg16_small", num_classes=3, canvas_size=64)
    assert compiled(model) is model  # on the CPU the training step is the same, bit for bit


def test_cuda_mps_does_nothing_without_its_command(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with cuda_mps(True) as state:
        assert not state.on and state.reason == "nvidia-cuda-mps-control is not on PATH"
        assert "CUDA_MPS_PIPE_DIRECTORY" not in os.environ
    with cuda_mps(False) as state:
        assert not state.on and state.reason == "not asked for"


def test_cuda_mps_starts_and_stops_its_daemon(tmp_path, monkeypatch):
    calls = tmp_path / "calls"
    fake = tmp_path / "nvidia-cuda-mps-control"  # records its arguments, standard input and pipe folder
    fake.write_text(f'#!/bin/sh\necho "$* $(cat) $CUDA_MPS_PIPE_DIRECTORY" >> {calls}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_MPS_PIPE_DIRECTORY", raising=False)
    with cuda_mps(True) as state:
        pipes = os.environ["CUDA_MPS_PIPE_DIRECTORY"]
        assert state.on and pipes in state.reason and Path(pipes).is_dir()
        assert calls.read_text().split() == ["-d", pipes]
    assert calls.read_text().split()[2:] == ["quit", pipes]
    assert "CUDA_MPS_PIPE_DIRECTORY" not in os.environ and not Path(pipes).exists()

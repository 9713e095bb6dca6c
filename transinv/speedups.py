"""Speed switches of a GPU machine: each one changes how fast runs train, never a run's numbers on the CPU nor
its id (none of them enters a run's configuration).

The scheduler starts each worker process with :func:`apply` (``multiprocessing.Pool(initializer=apply,
initargs=(speedups,))``) and its pool inside :func:`cuda_mps`; ``benchmarks/gpu_probe.py`` measures which
switches pay off on a machine and :func:`fastest` reads its choice back. Measured on one H200: 8 paper-preset
runs side by side trained at 2,400 images/s together, the benchmark's training step alone at 4,600 (with cuDNN
autotuning, which no run had).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator, NamedTuple

import torch

__all__ = ["COMPILE_MODES", "Speedups", "apply", "current", "compiled", "fastest", "MpsState", "cuda_mps"]

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")  # torch.compile's
MPS_CONTROL = "nvidia-cuda-mps-control"


@dataclass(frozen=True)
class Speedups:
    """One switch a field; None or False: as without it."""
    cudnn_benchmark: bool = False   # cuDNN autotuning: the fastest convolution algorithm for the fixed shapes
    compile: str | None = None      # torch.compile mode of the training forward pass (GPU only)
    threads: int | None = None      # torch CPU threads per worker on a GPU machine (default: one per core each)
    workers: int | None = None      # runs side by side (None: the scheduler's default)
    mps: bool = False               # CUDA MPS: the workers' kernels share the GPU instead of taking turns
    eval_batch: int | None = None   # canvases per evaluation batch on a GPU (None: evaluate.eval_batch_size's)

    def __post_init__(self):  # a bad switch fails here, before any worker starts
        for name in ("cudnn_benchmark", "mps"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, but got {getattr(self, name)!r}")
        if self.compile is not None and self.compile not in COMPILE_MODES:
            raise ValueError(f"compile must be None or a torch.compile mode ({', '.join(COMPILE_MODES)}), "
                             f"but got {self.compile!r}")
        for name in ("threads", "workers", "eval_batch"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be None or a positive integer, but got {value!r}")

    @classmethod
    def for_device(cls, device: str | torch.device) -> Speedups:
        """The defaults: cuDNN autotuning on a GPU (shapes never change within a run); nothing on the CPU."""
        return cls(cudnn_benchmark=torch.device(device).type == "cuda")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, settings: dict) -> Speedups:
        unknown = set(settings) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown speed switch {', '.join(sorted(unknown))}: the switches are "
                             f"{', '.join(f.name for f in fields(cls))}")
        return cls(**settings)

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> Speedups:
        """Switches from a JSON file: written by :meth:`write`, or a probe's (its fastest candidate)."""
        settings = json.loads(Path(path).read_text())
        return fastest(path) if "fastest" in settings else cls.from_dict(settings)


def fastest(json_path: str | Path) -> Speedups:
    """The fastest candidate's switches in the JSON that ``benchmarks/gpu_probe.py --json`` wrote."""
    settings = json.loads(Path(json_path).read_text())
    if "fastest" not in settings:
        raise ValueError(f"{json_path} is not a probe's JSON (no 'fastest'): write one with benchmarks/gpu_probe.py")
    if settings["fastest"] is None:
        raise ValueError(f"the probe in {json_path} measured no candidate: see its candidates' reasons")
    return Speedups.from_dict(settings["fastest"]["speedups"])


_applied = Speedups()  # this process's switches, as apply() set them


def apply(speedups: Speedups) -> None:
    """Set this process's switches: what a worker calls when it starts (top-level, so a pool can pickle it).
    ``workers`` and ``mps`` are the scheduler's (how many workers, inside :func:`cuda_mps`), not a worker's."""
    global _applied
    if not isinstance(speedups, Speedups):
        raise TypeError(f"apply takes a Speedups, not {type(speedups).__name__}")
    torch.backends.cudnn.benchmark = speedups.cudnn_benchmark
    if speedups.threads is not None and torch.cuda.is_available():  # on the CPU a run keeps its one thread
        torch.set_num_threads(speedups.threads)
    _applied = speedups


def current() -> Speedups:
    """The switches :func:`apply` set in this process (all off if it was never called)."""
    return _applied


def compiled(model: torch.nn.Module):
    """The training forward pass: ``model`` itself, or compiled where :func:`apply` chose a mode and the model
    is on a GPU (on the CPU nothing changes, so CPU runs stay bit for bit the same)."""
    mode = _applied.compile
    if mode is None or next(model.parameters()).device.type != "cuda":
        return model
    compiled_model = torch.compile(model, mode=mode)

    def forward(canvases):
        torch.compiler.cudagraph_mark_step_begin()  # a new step: CUDA graphs may reuse the last step's outputs
        return compiled_model(canvases)
    return forward


class MpsState(NamedTuple):
    on: bool
    reason: str  # what was done, or why not


@contextmanager
def cuda_mps(enabled: bool) -> Iterator[MpsState]:
    """Run the block under a CUDA MPS control daemon of its own (pipes and logs in a temporary folder, named in
    the environment that worker processes started inside the block inherit), stopped at the end. Without MPS
    the workers' kernels take turns on the GPU; with it they run at once. Does nothing where it is not asked
    for, where ``nvidia-cuda-mps-control`` is missing or where the daemon does not start: the state says why."""
    command = shutil.which(MPS_CONTROL)
    if not enabled or command is None:
        yield MpsState(False, "not asked for" if not enabled else f"{MPS_CONTROL} is not on PATH")
        return
    folder = tempfile.mkdtemp(prefix="transinv-mps-")
    names = {"CUDA_MPS_PIPE_DIRECTORY": f"{folder}/pipe", "CUDA_MPS_LOG_DIRECTORY": f"{folder}/log"}
    for path in names.values():
        os.makedirs(path)
    kept = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        try:
            started = subprocess.run([command, "-d"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                     timeout=30)
            failed = started.returncode and f"{started.returncode}: {(started.stderr or started.stdout).strip()[:300]}"
        except (OSError, subprocess.TimeoutExpired) as error:
            failed = str(error)
        if failed:
            yield MpsState(False, f"{MPS_CONTROL} -d failed ({failed})")
            return
        try:
            yield MpsState(True, f"MPS daemon started, pipes in {names['CUDA_MPS_PIPE_DIRECTORY']}")
        finally:  # the daemon waits for its clients (the block's workers, stopped by then) to exit
            try:
                subprocess.run([command], input="quit\n", capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                print(f"the MPS daemon in {folder} did not quit within 60 s", flush=True)
    finally:
        for name, value in kept.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(folder, ignore_errors=True)

"""The provenance record of a results folder: which code, preset, machine and date made it, and how long it took.

``python -m transinv.provenance RESULTS_DIR EXECUTED_NOTEBOOK...`` writes ``RESULTS_DIR/provenance.json``
once, after the first complete execution of the notebooks; later builds that only reuse the runs leave it
alone (``--force`` rewrites it). Wall times are papermill's, read from the executed notebooks.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

import torch

from .runs import finished_runs

__all__ = ["provenance", "git", "main"]


def git(*args: str) -> str:
    """The output of a git command in this folder, or "unknown" outside a git checkout."""
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _notebook_seconds(path: Path) -> float:
    metadata = json.loads(path.read_text())["metadata"].get("papermill", {})
    if metadata.get("duration") is None:
        raise ValueError(f"{path} has no papermill duration: execute it with papermill first")
    return round(metadata["duration"], 1)


def provenance(results_dir: Path, executed: list[Path], training: dict | None = None) -> dict:
    runs = finished_runs(results_dir)
    notebooks = {p.stem: _notebook_seconds(p) for p in executed}
    parameters = json.loads(executed[-1].read_text())["metadata"]["papermill"]["parameters"] if executed else {}
    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "preset": results_dir.name,
        "parameters": {k: v for k, v in parameters.items() if k not in ("results_root", "device")},
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": {"platform": platform.platform(), "cpu_cores": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
        "notebook_wall_seconds": notebooks,
        "wall_seconds": round(sum(notebooks.values()), 1),
        "runs": len(runs),
        "run_compute_seconds": round(sum(r.result["train_seconds"] + r.result.get("eval_seconds", 0) for r in runs), 1),
        # when the runs were trained before the notebooks executed (which then only reused them): how, how long
        "training": training,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("executed", type=Path, nargs="*")
    parser.add_argument("--force", action="store_true", help="rewrite an existing record")
    parser.add_argument("--trained-seconds", type=float, help="wall time of training the runs, if done before "
                        "the notebooks ran (they then only reused them)")
    parser.add_argument("--trained-by", default="", help="how those runs were trained, in words")
    args = parser.parse_args(argv)
    target = args.results_dir / "provenance.json"
    if target.exists() and not args.force:
        print(f"{target} kept (it records the execution that made these results; --force rewrites it)")
        return
    if not args.results_dir.is_dir():
        raise SystemExit(f"{args.results_dir} does not exist: execute the notebooks first")
    training = {"wall_seconds": args.trained_seconds, "how": args.trained_by} if args.trained_seconds else None
    target.write_text(json.dumps(provenance(args.results_dir, args.executed, training), indent=2) + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()

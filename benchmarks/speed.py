"""Our training step against a naive baseline written the way the authors did it, at both presets.

    python benchmarks/speed.py [--seconds 20] [--json speed.json] [--presets small paper] [--models vgg16_small ...]
    python benchmarks/speed.py --rates-from speed.json --iterations-from paper_sample.json  # re-estimate only

Naive baseline: a DataLoader whose workers resize and paste each item with PIL, float32,
NCHW, torch's default Adam, the loss read back every step. Ours: the library's training
step (items on the device, canvases made in batches there, fused Adam, NHWC; on a GPU also
bfloat16 autocast, cuDNN autotuning and a host sync every 25 steps). Also measured: the
device's bf16 matrix-multiply peak (GPU), FLOPs per training image (torch's FlopCounterMode),
several runs at once (processes), and from all that an estimate of the paper protocol's time.
Prints one table; writes every number to JSON.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

import transinv as ti
from transinv.repetition import size
from transinv.stimuli import ItemBank
from transinv.stopping import StoppingRule
from transinv.train import Speed, make_optimizer, train_step

# Runs of the whole paper protocol, 5 repetitions of the graph (transinv.protocol), with the ImageNet model
# recorded with this clone's paper results.
PROTOCOL_RUNS = 5 * size("paper")
EVAL_IMAGES_PER_RUN = 19 * 19 * 10 * 10   # grid centres x 10 classes x 10 items (forward only)


class NaiveCanvases(Dataset):
    """One fully translated canvas per item, made with PIL in a DataLoader worker (the authors' way)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, preset: ti.Preset):
        self.images, self.labels, self.preset = images, labels, preset

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        p, rng = self.preset, np.random.default_rng(i)
        item = Image.fromarray(self.images[i]).resize((p.item_size, p.item_size), Image.BICUBIC)
        canvas = Image.new("L", (p.canvas_size, p.canvas_size))
        x, y = rng.integers(*p.centre_range, size=2)
        canvas.paste(item, (int(x) - p.item_size // 2, int(y) - p.item_size // 2))
        rgb = np.asarray(canvas.convert("RGB"), dtype=np.float32) / 255
        return torch.from_numpy(rgb).permute(2, 0, 1), int(self.labels[i])


def naive_rate(preset, model_name, device, seconds):
    mnist = ti.load_dataset("mnist")
    data = NaiveCanvases(mnist.train_images.numpy(), mnist.train_labels.numpy(), preset)
    workers = 2 if device.type == "cpu" else min(8, os.cpu_count() or 1)  # enough workers to keep a GPU fed
    loader = DataLoader(data, batch_size=preset.batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        persistent_workers=True)
    model = ti.create_model(model_name, num_classes=10, canvas_size=preset.canvas_size).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=preset.lr)
    batches = iter(loader)

    def step():
        x, y = next(batches)
        x, y = x.to(device), y.to(device)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()  # a host sync every step
        return len(y)

    step()  # warm-up, and the workers start
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += step()
    return done / (time.perf_counter() - start)


def ours_rate(preset, model_name, device, seconds, flops=False):
    mnist = ti.load_dataset("mnist")
    bank = ItemBank.build(mnist.train_images, mnist.train_labels, preset.item_size, device)
    model = ti.create_model(model_name, num_classes=10, canvas_size=preset.canvas_size).to(device).train()
    speed = Speed.for_device(device)
    model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, preset.lr)
    generator = torch.Generator(device).manual_seed(0)

    def step():
        return train_step(model, optimizer, bank, "translated", preset, generator, speed)

    if flops:
        with FlopCounterMode(display=False) as counter:
            step()
        return counter.get_total_flops() / preset.batch_size
    for _ in range(3):
        step()
    losses, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        losses.append(step())
        if len(losses) % speed.sync_every == 0:
            torch.stack(losses[-speed.sync_every:]).tolist()  # the loop's one sync every sync_every steps
    torch.stack(losses).tolist()
    return len(losses) * preset.batch_size / (time.perf_counter() - start)


def _worker(args):
    preset_name, model_name, device, seconds, threads = args
    torch.set_num_threads(threads)
    return ours_rate(ti.get_preset(preset_name), model_name, torch.device(device), seconds)


def concurrent_rate(preset, model_name, device, seconds, processes):
    """Total training images/s of ``processes`` independent runs at once (each its own batch of 32)."""
    threads = max(1, torch.get_num_threads() // processes) if device.type == "cpu" else 1
    with mp.get_context("spawn").Pool(processes) as pool:
        rates = pool.map(_worker, [(preset.name, model_name, str(device), seconds, threads)] * processes)
    return sum(rates)


def _percent(fraction):
    return "-" if fraction is None else f"{fraction:.1%}"  # no peak is measured on a CPU


def bf16_matmul_peak(device, n=8192, repeats=50):
    """Measured bf16 matrix-multiply throughput, FLOP/s (the ceiling our TFLOP/s are compared to)."""
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def mean_paper_iterations(source: str) -> float:
    """Mean iterations of finished runs, rescaled to the paper's stopping rule (each divided by its
    preset's iter_scale): a results folder, or the JSON written by ``paper_sample.py`` (paper-preset runs)."""
    if source.endswith(".json"):
        counts = [r["iterations"] for r in json.loads(Path(source).read_text())["runs"]]
    else:
        counts = []
        for done in Path(source).glob("*/done.json"):
            settings = json.loads((done.parent / "config.json").read_text())["preset_settings"]
            counts.append(json.loads(done.read_text())["iterations"] / settings["iter_scale"])
    if not counts:
        raise SystemExit(f"no finished runs in {source}")
    return sum(counts) / len(counts)


def measure(preset, model_name, device, seconds, processes, peak):
    """One table row: FLOPs per image, naive and our images/s, several runs at once, TFLOP/s."""
    flops = ours_rate(preset, model_name, device, 0, flops=True)
    naive = naive_rate(preset, model_name, device, seconds)
    ours = ours_rate(preset, model_name, device, seconds)
    together = {k: concurrent_rate(preset, model_name, device, seconds, k) for k in processes if k > 1}
    best = max([ours, *together.values()])
    row = {"preset": preset.name, "model": model_name, "train_gflop_per_image": flops / 1e9,
           "naive_images_per_s": naive, "ours_images_per_s": ours, "speedup": ours / naive,
           "concurrent_images_per_s": together, "best_images_per_s": best,
           "tflops_single": ours * flops / 1e12, "tflops_best": best * flops / 1e12}
    if peak:
        row["fraction_of_peak_single"] = row["tflops_single"] * 1e12 / peak
        row["fraction_of_peak_best"] = row["tflops_best"] * 1e12 / peak
    return row


def protocol_estimate(row, preset, measured_iterations):
    """Hours for the whole protocol at the row's best throughput (evaluation counted as forward passes)."""
    iterations = (measured_iterations * preset.iter_scale if measured_iterations
                  else StoppingRule.for_preset(preset).max_iters)
    images = PROTOCOL_RUNS * (iterations * preset.batch_size + EVAL_IMAGES_PER_RUN / 3)  # forward ~ 1/3 step
    return {"protocol_runs": PROTOCOL_RUNS, "protocol_iterations_per_run": iterations,
            "protocol_hours_estimate": images / row["best_images_per_s"] / 3600}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="time per measurement")
    parser.add_argument("--presets", nargs="+", default=["small", "paper"])
    parser.add_argument("--models", nargs="+", default=None,
                        help="models to measure at each preset (default: the preset's own, e.g. vgg16 at paper)")
    parser.add_argument("--processes", nargs="+", type=int, default=None, help="concurrent runs to try")
    parser.add_argument("--iterations-from", default=None, metavar="RESULTS_OR_JSON",
                        help="estimate iterations per run from the finished runs there (or paper_sample.py JSON), rescaled to the "
                             "paper's stopping rule (default: every run hits the 5000-iteration cap)")
    parser.add_argument("--json", default="benchmarks/speed.json")
    parser.add_argument("--rates-from", default=None, metavar="SPEED_JSON",
                        help="reuse the throughputs measured in an earlier run's JSON; only re-estimate")
    args = parser.parse_args()
    measured_iterations = mean_paper_iterations(args.iterations_from) if args.iterations_from else None
    if args.rates_from:
        earlier = json.loads(Path(args.rates_from).read_text())
        info, rows = earlier["info"], [r for r in earlier["rows"] if r["preset"] in args.presets]
    else:
        device = ti.resolve_device("auto")
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        info = {"device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
                "torch": torch.__version__, "cpu_threads": torch.get_num_threads()}
        peak = bf16_matmul_peak(device) if device.type == "cuda" else None
        info["bf16_matmul_peak_tflops"] = peak / 1e12 if peak else None
        processes = args.processes or ([1, 2, 4, 8] if device.type == "cuda" else [1, 2])
        rows = [measure(ti.get_preset(name), model, device, args.seconds, processes, peak)
                for name in args.presets for model in args.models or [ti.get_preset(name).model]]
    info["iterations_per_run_source"] = (f"mean of finished runs in {args.iterations_from}, rescaled to the paper's "
                                         f"stopping rule" if measured_iterations else "the 5000-iteration cap")
    for row in rows:
        row.update(protocol_estimate(row, ti.get_preset(row["preset"]), measured_iterations))
    peak = info["bf16_matmul_peak_tflops"]
    print(f"device: {info['device']}, torch {info['torch']}, {info['cpu_threads']} CPU threads"
          + (f", measured bf16 matmul peak {peak:.0f} TFLOP/s" if peak else ""))
    print(f"{'preset':7} {'model':18} {'GFLOP/img':>9} {'naive img/s':>11} {'ours img/s':>10} {'ratio':>6} "
          f"{'best img/s (runs)':>18} {'TFLOP/s':>8} {'of peak':>7} {'protocol h':>10}")
    for r in rows:
        runs = int(max(r["concurrent_images_per_s"], key=r["concurrent_images_per_s"].get, default=1)) \
            if r["best_images_per_s"] > r["ours_images_per_s"] else 1
        print(f"{r['preset']:7} {r['model']:18} {r['train_gflop_per_image']:9.2f} {r['naive_images_per_s']:11.1f} "
              f"{r['ours_images_per_s']:10.1f} {r['speedup']:6.2f} {r['best_images_per_s']:12.1f} ({runs:2d}) "
              f"{r['tflops_best']:8.2f} {_percent(r.get('fraction_of_peak_best')):>7} "
              f"{r['protocol_hours_estimate']:10.2f}")
    with open(args.json, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=2)
    per_run = ", ".join(f"{r['preset']} {r['protocol_iterations_per_run']:.0f}" for r in rows)
    print(f"protocol h: {PROTOCOL_RUNS} runs (experiments 1-3, 5 repetitions) at the best throughput above; "
          f"iterations per run ({per_run}): {info['iterations_per_run_source']}")
    print(f"all numbers: {args.json}")


if __name__ == "__main__":
    main()

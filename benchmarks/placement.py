"""Canvases per second of the placement code (sample centres + paste), per preset and device.

    python benchmarks/placement.py [--seconds 2] [--json placement.json]

Items are real MNIST digits resized to the preset's item size; each batch draws items,
fully translated centres, and pastes them. Prints one table; optionally writes JSON.
"""
import argparse
import json
import time

import torch

import transinv as ti


def canvases_per_second(preset, device, batch, seconds):
    mnist = ti.load_dataset("mnist")
    items = ti.resize_items(mnist.train_images[:10_000], preset.item_size).to(device)
    generator = torch.Generator(device).manual_seed(0)

    def one_batch():
        pick = torch.randint(0, len(items), (batch,), generator=generator, device=device)
        centres = ti.translated_centres(preset, batch, generator)
        return ti.place(items[pick], centres, preset.canvas_size, check=False)

    for _ in range(3):
        one_batch()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        canvases = one_batch()
        done += batch
    if device == "cuda":
        torch.cuda.synchronize()
    assert canvases.shape == (batch, 3, preset.canvas_size, preset.canvas_size)
    return done / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    print(f"{'preset':8} {'device':6} {'batch':>6} {'canvases/s':>12}   (torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads)")
    for preset in (ti.SMALL, ti.PAPER):
        for device in devices:
            for batch in (32, 256):
                rate = canvases_per_second(preset, device, batch, args.seconds)
                rows.append({"preset": preset.name, "device": device, "batch": batch, "canvases_per_s": rate})
                print(f"{preset.name:8} {device:6} {batch:6d} {rate:12,.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()

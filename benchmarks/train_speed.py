"""Training images per second of each model at each preset (batch 32, Adam, on-the-fly canvases).

    python benchmarks/train_speed.py [--steps 10] [--device auto] [--json train_speed.json]

Each model trains on fully translated MNIST canvases through the library's own code
(ItemBank, train_step, fused Adam, channels-last; bf16 on a GPU). Prints one table; optionally writes JSON.
"""
import argparse
import json
import time

import torch

import transinv as ti
from transinv.models import create_model
from transinv.presets import with_canvas
from transinv.runs import resolve_device
from transinv.stimuli import ItemBank
from transinv.train import Speed, make_optimizer, train_step

CASES = [("small", "vgg16_small", 64), ("small", "efficientnet_lite0", 64), ("small", "efficientnet_lite0", 128),
         ("paper", "vgg16", 224), ("paper", "efficientnet_lite0", 224)]


def images_per_second(preset, model_name, device, steps):
    mnist = ti.load_dataset("mnist")
    bank = ItemBank.build(mnist.train_images[:5000], mnist.train_labels[:5000], preset.item_size, device)
    model = create_model(model_name, num_classes=10, canvas_size=preset.canvas_size).to(device)
    optimizer = make_optimizer(model, preset.lr)
    generator = torch.Generator(device).manual_seed(0)

    speed = Speed.for_device(device)
    model.to(memory_format=torch.channels_last)

    def step():
        return train_step(model, optimizer, bank, "translated", preset, generator, speed).tolist()  # a host sync

    step(), step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * preset.batch_size / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per case")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"{'preset':7} {'model':20} {'canvas':>6} {'train img/s':>12}   ({device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads)")
    rows = []
    for preset_name, model_name, canvas in CASES:
        preset = with_canvas(ti.get_preset(preset_name), canvas)
        rate = images_per_second(preset, model_name, device, args.steps)
        rows.append({"preset": preset_name, "model": model_name, "canvas": canvas, "device": str(device),
                     "train_images_per_s": rate})
        print(f"{preset_name:7} {model_name:20} {canvas:6d} {rate:12.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()

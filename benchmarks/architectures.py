"""What a training step costs for each small architecture, against vgg16_bn_small (issue 28's width choices).

    nice -n 19 python benchmarks/architectures.py [--models resnet18_small densenet121_small] [--threads 1]

Forward and backward passes and an Adam step on 32 canvases of 64 px (the laptop preset's batch and canvas), NHWC,
float32, on one CPU thread as a run trains; prints milliseconds per step, its ratio to vgg16_bn_small's, and the
parameters.
"""
import argparse
import time

import torch

from transinv.models import MODELS, create_model

REFERENCE = "vgg16_bn_small"


def seconds_per_step(name: str, steps: int = 10, warmup: int = 3) -> tuple[float, int]:
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, canvas_size=64).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    canvases = torch.rand(32, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (32,))

    def step():
        loss = torch.nn.functional.cross_entropy(model(canvases), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps, sum(p.numel() for p in model.parameters())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=[m for m in MODELS if m.endswith("_small")])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reference, _ = seconds_per_step(REFERENCE)
    for name in args.models:
        seconds, params = seconds_per_step(name)
        print(f"{name:26} {seconds * 1000:6.1f} ms/step  {seconds / reference:4.2f}x {REFERENCE}  "
              f"{params / 1e6:5.2f}M parameters", flush=True)


if __name__ == "__main__":
    main()

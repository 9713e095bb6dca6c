"""What a training step costs for each small architecture, against vgg16_bn_small (issue 28's width choices).

    nice -n 19 python benchmarks/architectures.py [--models resnet18_small densenet121_small] [--threads 1]

Forward and backward passes and an Adam step on 32 canvases of 64 px (the laptop preset's batch and canvas), NHWC,
on one CPU thread as a run trains, in float32 and, where this CPU computes bfloat16 natively, under bfloat16
autocast (as runs of the models in transinv.train.BF16_ON_CPU train); prints milliseconds per step, the ratio to
vgg16_bn_small's at the precision it trains at here, bf16's speed-up, and the parameters.
"""
import argparse
import time

import torch

from transinv.models import MODELS, create_model
from transinv.train import BF16_ON_CPU, cpu_has_bf16

REFERENCE = "vgg16_bn_small"


def seconds_per_step(name: str, steps: int = 10, warmup: int = 3, bf16: bool = False) -> tuple[float, int]:
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, canvas_size=64).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    canvases = torch.rand(32, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (32,))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
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
    bf16 = cpu_has_bf16()
    reference, _ = seconds_per_step(REFERENCE, bf16=bf16 and REFERENCE in BF16_ON_CPU)
    for name in args.models:
        seconds, params = seconds_per_step(name)
        fast = seconds_per_step(name, bf16=True)[0] if bf16 else float("nan")
        trains_at = fast if name in BF16_ON_CPU and bf16 else seconds
        print(f"{name:26} float32 {seconds * 1000:6.1f} ms/step, bf16 {fast * 1000:6.1f} ms/step "
              f"({seconds / fast:4.2f}x faster); as it trains here {trains_at / reference:4.2f}x {REFERENCE}  "
              f"{params / 1e6:5.2f}M parameters", flush=True)


if __name__ == "__main__":
    main()

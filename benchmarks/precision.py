"""Does bfloat16 autocast change the conclusions? The science check in float32 and in bf16.

    python benchmarks/precision.py [--seeds 0] [--results results/precision]

MNIST 0-4 pretrained fully translated, 5-9 fine-tuned at one location, and a vanilla
network on 5-9 at one location, small preset, once per precision; prints the accuracy at
and away from the trained location for each.
"""
import argparse
import time

import transinv as ti
from transinv.evaluate import accuracy_at_and_away

FIVE_TO_NINE = (5, 6, 7, 8, 9)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--precisions", nargs="+", default=["float32", "bf16"])
    parser.add_argument("--results", default="results/precision")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    print(f"{'precision':9} {'seed':>4} {'pretrain off':>12} {'fine-tuned on/off':>18} {'vanilla on/off':>15} {'time':>6}")
    for precision in args.precisions:
        for seed in args.seeds:
            start = time.perf_counter()
            kwargs = dict(results_root=args.results, device=args.device, precision=precision, progress=False)
            pre = ti.run(ti.RunConfig("mnist", "translated", classes=(0, 1, 2, 3, 4), seed=seed), **kwargs)
            fine = ti.run(ti.RunConfig("mnist", "one_location", classes=FIVE_TO_NINE, init=pre.id, seed=seed), **kwargs)
            vanilla = ti.run(ti.RunConfig("mnist", "one_location", classes=FIVE_TO_NINE, seed=seed), **kwargs)
            (_, p), (f_on, f_off), (v_on, v_off) = (accuracy_at_and_away(r.grid, ti.SMALL.trained_centre) for r in (pre, fine, vanilla))
            print(f"{precision:9} {seed:4d} {p:12.3f} {f_on:8.3f} / {f_off:.3f} {v_on:6.3f} / {v_off:.3f} "
                  f"{time.perf_counter() - start:5.0f}s", flush=True)


if __name__ == "__main__":
    main()

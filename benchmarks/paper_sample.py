"""A sample of the paper protocol on a GPU: how many iterations paper-preset runs really take.

    python benchmarks/paper_sample.py [--pretrain mnist kmnist ...] [--finetune mnist] [--workers 6]

Pretrains VGG16 (224 px, the authors' stopping rule) on each fully translated dataset, then
fine-tunes each on each ``--finetune`` dataset at one location, next to a vanilla network
trained there; runs go side by side, ``--workers`` at a time. Prints one line per run
(iterations, why it stopped, time, accuracy at and away from the trained location) and writes
them as JSON: the iteration counts feed ``speed.py --iterations-from``.
"""
import argparse
import json
import time

import transinv as ti
from transinv.evaluate import accuracy_at_and_away
from transinv.protocol import experiment2
from transinv.scheduler import train_graph


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain", nargs="+", default=["mnist", "kmnist", "emnist", "leek10", "leek2"])
    parser.add_argument("--finetune", nargs="+", default=["mnist"])
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--results", default="results/paper-sample")
    parser.add_argument("--json", default="paper_sample.json")
    args = parser.parse_args()
    options = dict(workers=args.workers)
    print(f"{'run':58} {'iters':>5} {'stop':>12} {'train s':>7} {'img/s':>6} {'at':>5} {'away':>5}", flush=True)
    rows, start = [], time.perf_counter()

    def report(runs):
        for r in runs:
            at, away = accuracy_at_and_away(r.grid, ti.PAPER.trained_centre)
            parent = r.config["parent"]
            rows.append({"run": r.id, **r.result, "accuracy_at": at, "accuracy_away": away,
                         "pretrained_on": parent["dataset"] if parent else None})
            res = r.result
            print(f"{r.id:58} {res['iterations']:5d} {res['stop_reason']:>12} {res['train_seconds']:7.1f} "
                  f"{res['train_images_per_second']:6.0f} {at:5.2f} {away:5.2f}", flush=True)
        with open(args.json, "w") as f:
            json.dump({"wall_seconds": time.perf_counter() - start, "runs": rows}, f, indent=1)

    found = train_graph(experiment2(args.pretrain, args.finetune, "paper", 1, 0), args.results, **options)
    report(found.values())
    print(f"wall time: {time.perf_counter() - start:.0f} s; all numbers: {args.json}")


if __name__ == "__main__":
    main()

"""How fast the test grid is evaluated on the CPU, with glibc's default treatment of large buffers and with them
kept for reuse (transinv.runs.lifecycle.keep_freed_buffers, what every run on the CPU does).

    python benchmarks/evaluation.py [--dataset emnist] [--preset tiny]

Each case runs in a fresh process (the setting lasts for the process): an untrained vgg16_small evaluated on the
preset's test grid (at the tiny preset, one EMNIST item per class at each of the 361 centres), one thread. Prints
wall, user and system seconds per case, the ratio of the walls, and whether the two tables are identical.
"""
import argparse
import json
import resource
import subprocess
import sys
import time


def one(dataset: str, preset: str, keep: bool) -> dict:
    import torch

    import transinv as ti
    from transinv.evaluate import grid_accuracy
    from transinv.runs.lifecycle import keep_freed_buffers
    torch.set_num_threads(1)
    if keep:
        keep_freed_buffers()
    items, preset = ti.load_dataset(dataset), ti.get_preset(preset)
    torch.manual_seed(0)
    model = ti.create_model("vgg16_small", num_classes=items.n_classes, canvas_size=preset.canvas_size)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    table = grid_accuracy(model, items, preset, per_class=preset.eval_items_per_class(items.n_classes))
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall": round(time.perf_counter() - start, 2), "user": round(after.ru_utime - before.ru_utime, 2),
            "system": round(after.ru_stime - before.ru_stime, 2), "canvases": int(table["n"].sum()),
            "correct": table["correct"].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="emnist")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--one", choices=("default", "kept"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.dataset, args.preset, args.one == "kept")))
        return
    cases = {}
    for case in ("default", "kept"):
        done = subprocess.run([sys.executable, __file__, "--dataset", args.dataset, "--preset", args.preset,
                               "--one", case], capture_output=True, text=True, check=True)
        cases[case] = json.loads(done.stdout.splitlines()[-1])
        print(f"{case:8s} {cases[case]['canvases']} canvases: {cases[case]['wall']} s wall, "
              f"{cases[case]['user']} s user, {cases[case]['system']} s system")
    print(f"kept / default wall: {cases['kept']['wall'] / cases['default']['wall']:.2f}; tables identical: "
          f"{cases['kept']['correct'] == cases['default']['correct']}")


if __name__ == "__main__":
    main()

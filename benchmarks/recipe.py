"""The recipe choices of the small preset, measured: input normalisation and batch-norm statistics.

    python benchmarks/recipe.py [--results results/recipe] [--json benchmarks/recipe.json]

1. Translated pretraining (vgg16_small, MNIST 0-4, 400 iterations) with inputs normalised by ImageNet's
   statistics (what we did) or by the canvases' own (the authors'): accuracy over the canvas.
2. The ImageNet-pretrained EfficientNet-Lite0 of experiment 1 (MNIST and KMNIST at one location) with its
   weights' own statistics or the canvases': accuracy at and away from the trained location.
3. EfficientNet-Lite0 from scratch at one location (MNIST): accuracy at the trained location in eval mode
   with the batch-norm statistics training left, and after re-estimating them at the final weights; inputs
   normalised by the canvases' statistics (3) or by the weights' own 0.5 / 0.5, as before (5).
4. Learning curves of fully translated pretraining (vgg16_small, KMNIST and EMNIST, all classes, 1500
   iterations, no early stop) with ImageNet's or the canvases' statistics, at the small preset's learning
   rate (3e-4, warm-up 100) and with the canvases' statistics also at the authors' 1e-4: running training
   accuracy.
Prints one line per case and writes them all to JSON.
"""
import argparse
import dataclasses
import json
from pathlib import Path

import torch

import transinv as ti
from transinv.evaluate import grid_accuracy
from transinv.stimuli import ItemBank, canvas_stats
from transinv.stopping import StoppingRule
from transinv.train import make_optimizer, recalibrate_batchnorm, train


def accuracies(run):
    at, away = ti.accuracy_at_and_away(run.grid, run.preset.trained_centre)
    return {"run": run.id, "iterations": run.result["iterations"], "stop": run.result["stop_reason"],
            "accuracy": float(run.grid["correct"].sum() / run.grid["n"].sum()), "at": at, "away": away}


def normalisation_of_pretraining(results):
    presets = {stats: dataclasses.replace(ti.SMALL, name=f"small-{stats}", input_stats=stats, pretrain_iter_scale=0.08)
               for stats in ("weights", "canvas")}
    configs = [ti.RunConfig("mnist", "translated", p, classes=(0, 1, 2, 3, 4)) for p in presets.values()]
    return {stats: accuracies(r) for stats, r in zip(presets, ti.run_all(configs, results, workers=2))}


def normalisation_of_imagenet_model(results):
    presets = {stats: dataclasses.replace(ti.SMALL, name=f"small-imagenet-{stats}", imagenet_input_stats=stats)
               for stats in ("weights", "canvas")}
    configs = [ti.RunConfig(d, "one_location", p, init="imagenet") for p in presets.values() for d in ("mnist", "kmnist")]
    runs = ti.run_all(configs, results, workers=2)
    return {f"{stats} {d}": accuracies(runs[2 * i + j]) for i, stats in enumerate(presets)
            for j, d in enumerate(("mnist", "kmnist"))}


def batchnorm_recalibration(stats="canvas", seed=0):
    preset, items = ti.SMALL, ti.load_dataset("mnist")
    bank = ItemBank.build(items.train_images, items.train_labels, preset.item_size)
    torch.manual_seed(seed)
    model = ti.create_model("efficientnet_lite0", num_classes=10, canvas_size=64)
    if stats == "canvas":
        model.set_input_stats(*canvas_stats(bank, "one_location", preset))
    generator, log = torch.Generator().manual_seed(seed), []
    reason = train(model, bank, "one_location", preset, generator=generator, optimizer=make_optimizer(model, preset.lr),
                   rule=StoppingRule.for_preset(preset), log=log, progress=False)

    def at_trained():
        grid = grid_accuracy(model, items, preset, per_class=preset.eval_items_per_class(10))
        return ti.accuracy_at_and_away(grid, preset.trained_centre)[0]

    before = at_trained()
    recalibrate_batchnorm(model, bank, "one_location", preset, generator)
    return {"input_stats": stats, "iterations": len(log), "stop": reason, "running_train_accuracy": sum(a for *_, a in log[-30:]) / 30,
            "eval_at_trained_before": before, "eval_at_trained_after": at_trained()}


def learning_curve(job):
    dataset, stats, lr, iterations = job
    torch.set_num_threads(1)
    preset, items = dataclasses.replace(ti.SMALL, lr=lr), ti.load_dataset(dataset)
    bank = ItemBank.build(items.train_images, items.train_labels, preset.item_size)
    torch.manual_seed(0)
    model = ti.create_model(preset.model, num_classes=items.n_classes, canvas_size=64)
    if stats == "canvas":
        model.set_input_stats(*canvas_stats(bank, "translated", preset))
    log = []
    train(model, bank, "translated", preset, generator=torch.Generator().manual_seed(0),
          optimizer=make_optimizer(model, preset.lr), rule=StoppingRule(100, 10 ** 9, iterations), log=log,
          progress=False)
    return {f"{dataset} {stats} lr {lr:g}": {it: round(sum(a for *_, a in log[it - 100:it]) / 100, 3)
                                   for it in range(500, iterations + 1, 500)}}


def learning_curves(iterations=1500):
    import multiprocessing as mp
    jobs = [(d, s, lr, iterations) for d in ("kmnist", "emnist")
            for s, lr in (("weights", ti.SMALL.lr), ("canvas", ti.SMALL.lr), ("canvas", 1e-4))]
    with mp.get_context("spawn").Pool(2) as pool:
        return {k: v for part in pool.map(learning_curve, jobs) for k, v in part.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results/recipe")
    parser.add_argument("--json", default="benchmarks/recipe.json")
    parser.add_argument("--checks", nargs="+", type=int, default=[1, 2, 3, 4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    found = json.loads(Path(args.json).read_text()) if Path(args.json).is_file() else {}  # earlier checks kept
    for check, measure in ((1, lambda: normalisation_of_pretraining(args.results)),
                           (2, lambda: normalisation_of_imagenet_model(args.results)), (3, batchnorm_recalibration),
                           (4, learning_curves), (5, lambda: batchnorm_recalibration("weights"))):
        if check in args.checks:
            found[str(check)] = measure()
            print(f"check {check}: {json.dumps(found[str(check)], indent=1)}", flush=True)
            with open(args.json, "w") as f:
                json.dump(found, f, indent=1)


if __name__ == "__main__":
    main()

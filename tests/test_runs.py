import dataclasses

import pandas as pd
import pytest
import torch

import transinv.presets
import transinv.train
from transinv import runs, tables
from transinv.evaluate import eval_batch_size
from transinv.runs import RunConfig, directory, identity, lifecycle, load_checkpoint, run
from transinv.scheduler import run_all
from transinv.stopping import StoppingRule
from transinv.train import Speed, resolve_device

DIGITS = RunConfig("mnist", "translated", classes=(0, 1, 2))


def test_a_run_leaves_a_complete_directory(tiny_preset, tmp_path):
    done = run(DIGITS, tmp_path, progress=False)
    assert {p.name for p in done.path.iterdir()} == {"config.json", "ckpt.pt", "log.csv.gz", "grid.csv.gz", "done.json"}
    assert done.config["dataset"] == "mnist" and done.config["num_classes"] == 3
    assert done.result["stop_reason"] in {"accuracy", "loss_plateau", "max_iters"}
    assert done.result["iterations"] == len(done.log) <= StoppingRule.for_preset(tiny_preset, "translated").max_iters
    assert len(done.grid) == 19 * 19 * 3 and done.result["eval_items_per_location"] == 3
    assert set(torch.load(done.path / "ckpt.pt", weights_only=False)) == {
        "model", "run", "config", "frozen_batchnorm", "reason", "iterations", "train_seconds", "batchnorm_recalibrated"}


def test_a_finished_run_is_loaded_not_trained(tiny_preset, tmp_path, monkeypatch):
    first = run(DIGITS, tmp_path, progress=False)
    monkeypatch.setattr(lifecycle, "train", lambda *a, **k: pytest.fail("trained again"))
    again = run(DIGITS, tmp_path, progress=False)
    assert again.path == first.path and again.result == first.result


def test_different_configs_get_different_directories(tiny_preset, tmp_path):
    ids = {identity.run_id(identity.resolve(c, tmp_path)[0]) for c in
           (DIGITS, RunConfig("mnist", "translated", classes=(0, 1, 3)), RunConfig("mnist", "one_location", classes=(0, 1, 2)),
            RunConfig("mnist", "translated", classes=(0, 1, 2), seed=1))}
    assert len(ids) == 4


def interrupt_training_at(iteration: int, monkeypatch):
    """Training raises KeyboardInterrupt (as Ctrl-C does) when the stopping rule reaches ``iteration``;
    returns the rule's own update, to put back."""
    update = StoppingRule.update

    def interrupting(self, loss, accuracy):
        if self.iterations == iteration:
            raise KeyboardInterrupt
        return update(self, loss, accuracy)

    monkeypatch.setattr(StoppingRule, "update", interrupting)
    return update


def test_an_interrupted_run_resumes_exactly(tiny_preset, tmp_path, monkeypatch):
    monkeypatch.setattr(StoppingRule, "for_preset", classmethod(lambda cls, p, placement: cls(window=1, patience=1000, max_iters=20)))
    reference = run(DIGITS, tmp_path / "reference", progress=False, checkpoint_seconds=0)
    assert reference.result["iterations"] == 20
    update = interrupt_training_at(12, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(DIGITS, tmp_path / "interrupted", progress=False, checkpoint_seconds=0)
    unfinished = next((tmp_path / "interrupted").iterdir())
    assert not (unfinished / "done.json").exists() and (unfinished / "ckpt.pt").exists()
    assert not list(unfinished.glob(".*"))  # no temporary files left behind
    monkeypatch.setattr(StoppingRule, "update", update)
    resumed = run(DIGITS, tmp_path / "interrupted", progress=False, checkpoint_seconds=0)
    assert resumed.log.equals(reference.log)
    assert resumed.grid.equals(reference.grid)


def test_fine_tuning_starts_from_the_parent(tiny_preset, tmp_path):
    parent = run(DIGITS, tmp_path, progress=False)
    child = run(RunConfig("mnist", "one_location", classes=(5, 6, 7, 8), init=parent.id), tmp_path, progress=False)
    assert child.config["parent"]["dataset"] == "mnist" and child.config["num_classes"] == 4
    assert child.is_finetuning and child.parent == parent and not parent.is_finetuning and parent.parent is None
    assert load_checkpoint(child.path / "ckpt.pt").num_classes == 4


def test_bad_configurations(tiny_preset, tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        run(RunConfig("svhn", "translated"), tmp_path)
    with pytest.raises(ValueError, match="unknown placement 'everywhere'; choose one of one_location, translated, areas"):
        run(RunConfig("mnist", "everywhere"), tmp_path)
    with pytest.raises(ValueError, match="init='abc' must be 'vanilla', 'imagenet' or the id of a finished run"):
        run(RunConfig("mnist", "translated", init="abc"), tmp_path)
    with pytest.raises(ValueError, match="seed must be a non-negative integer, but got -1"):
        run(RunConfig("mnist", "translated", seed=-1), tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="cannot write the run directory .*a_file.*writable results_root"):
        run(DIGITS, blocker, progress=False)


def test_several_runs_at_once(tiny_preset, tmp_path):
    configs = [RunConfig("mnist", "translated", classes=(0, 1, 2), preset=tiny_preset, seed=s) for s in (0, 1)]
    done = run_all(configs, tmp_path, workers=2)
    assert [r.config["seed"] for r in done] == [0, 1] and all(r.finished for r in done)
    assert run_all(configs, tmp_path, workers=1)[1].path == done[1].path  # the same runs, found again
    with pytest.raises(ValueError, match="workers must be a positive integer, but got 0"):
        run_all(configs, tmp_path, workers=0)


def test_device_requests():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' was asked for, but torch sees no GPU here"):
            resolve_device("cuda")


def test_evaluation_batches_hold_the_same_pixels_at_every_preset():
    from transinv import PAPER, SMALL
    gpu = torch.device("cuda")
    assert eval_batch_size(SMALL, gpu) == 4096
    # VGG16 at 224 px in batches of 4096 needed 84 GB on an H200 and failed beside other runs
    assert eval_batch_size(PAPER, gpu) * 224 ** 2 <= 4096 * 64 ** 2
    assert eval_batch_size(PAPER, torch.device("cpu")) == 64


@pytest.mark.slow
def test_a_run_alone_and_in_the_pool_gives_identical_tables(tmp_path):
    """Every CPU run computes on one thread, so its numbers do not depend on what else runs beside it."""
    configs = [RunConfig("mnist", "translated", "tiny", classes=(0, 1, 2), seed=s) for s in (0, 1)]
    pooled = run_all(configs, tmp_path / "pool", workers=2, device="cpu")
    torch.set_num_threads(2)
    alone = run(configs[0], tmp_path / "alone", progress=False, device="cpu")
    assert alone.id == pooled[0].id
    assert alone.log.equals(pooled[0].log) and alone.grid.equals(pooled[0].grid)
    assert alone.result["input_mean"] == pooled[0].result["input_mean"]


def test_bad_values_fail_early_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match=r"classes=\(\) selects no class"):
        RunConfig("mnist", "translated", classes=())
    with pytest.raises(ValueError, match="seed must be a non-negative integer, but got 'abc'"):
        RunConfig("mnist", "translated", seed="abc")
    with pytest.raises(ValueError, match="device 'mps' is not supported"):
        resolve_device("mps")
    assert not list(tmp_path.iterdir())


def test_a_damaged_checkpoint_names_the_file_and_the_fix(tiny_preset, tmp_path):
    done = run(DIGITS, tmp_path, progress=False)
    checkpoint = done.path / "ckpt.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])  # truncated
    with pytest.raises(ValueError, match=r"checkpoint .*ckpt.pt is damaged .* Delete it"):
        done.load_model()


def test_a_checkpoint_of_another_run_is_refused(tiny_preset, tmp_path):
    import dataclasses
    import shutil
    mine, theirs = run(DIGITS, tmp_path, progress=False), run(dataclasses.replace(DIGITS, seed=1), tmp_path,
                                                               progress=False)  # the same head size
    shutil.copy(theirs.path / "ckpt.pt", mine.path / "ckpt.pt")
    fix = rf"belongs to run {theirs.id}, not to run {mine.id}: .* Delete it: run {mine.id} then trains from the start"
    with pytest.raises(ValueError, match=fix):
        mine.load_model()
    (mine.path / "done.json").unlink()  # unfinished: the copied checkpoint would be resumed as this run's
    with pytest.raises(ValueError, match=fix):
        run(DIGITS, tmp_path, progress=False)


def test_reading_finds_a_run_finished_at_the_other_precision(tiny_preset, tmp_path):
    """Paper-preset runs train on a GPU in bfloat16 (part of their id); the book reads them on a CPU."""
    on_gpu = run(DIGITS, tmp_path, device="cpu", precision="bf16", progress=False)
    assert runs.find_run(DIGITS, tmp_path, device="cpu", precision="float32").id != on_gpu.id
    assert runs.find_finished(DIGITS, tmp_path, device="cpu", precision="float32").id == on_gpu.id
    assert [r.id for r in run_all([DIGITS], tmp_path, device="cpu", train=False)] == [on_gpu.id]


@pytest.mark.parametrize("made_with_bf16", [True, False])
def test_a_cpu_reuses_runs_made_on_a_cpu_with_the_other_precision(tiny_preset, tmp_path, monkeypatch, made_with_bf16):
    """bf16 where the CPU has it, float32 elsewhere; either CPU reuses the other's finished runs, training nothing."""
    monkeypatch.setattr(transinv.train, "cpu_has_bf16", lambda: made_with_bf16)
    made = run(DIGITS, tmp_path, device="cpu", progress=False)
    assert made.config["precision"] == ("bf16" if made_with_bf16 else "float32")
    monkeypatch.setattr(transinv.train, "cpu_has_bf16", lambda: not made_with_bf16)
    assert runs.find_run(DIGITS, tmp_path, device="cpu").id == made.id
    monkeypatch.setattr(lifecycle, "_train", lambda *a, **k: pytest.fail("a finished run was trained again"))
    assert run(DIGITS, tmp_path, device="cpu", progress=False).id == made.id
    assert [p.name for p in tmp_path.iterdir()] == [made.id]


def test_models_without_a_fast_bf16_path_stay_in_float32_on_every_cpu(monkeypatch):
    monkeypatch.setattr(transinv.train, "cpu_has_bf16", lambda: True)
    cpu = torch.device("cpu")
    assert Speed.for_device(cpu, "auto", "vgg16_bn_small").autocast
    assert not Speed.for_device(cpu, "auto", "efficientnet_lite0").autocast
    monkeypatch.setattr(transinv.train, "cpu_has_bf16", lambda: False)
    assert not Speed.for_device(cpu, "auto", "vgg16_bn_small").autocast


def finished_without_model(tmp_path, config=DIGITS):
    """A finished run whose checkpoint was left out (as in a clone), and its files' bytes."""
    done = run(config, tmp_path, progress=False)
    (done.path / "ckpt.pt").unlink()
    return done, {p.name: p.read_bytes() for p in done.path.iterdir()}


def test_a_restored_model_reproduces_the_kept_grid_table(tiny_preset, tmp_path, monkeypatch):
    done, kept = finished_without_model(tmp_path)
    compared = []
    differing = lifecycle._differing_rows
    monkeypatch.setattr(lifecycle, "_differing_rows", lambda *a: compared.append(differing(*a)) or compared[-1])
    restored = run(DIGITS, tmp_path, progress=False, need_model=True)
    assert compared == [""]  # evaluated again, and the same numbers
    assert restored.has_model and {p.name: p.read_bytes() for p in done.path.iterdir() if p.name != "ckpt.pt"} == kept


def test_a_restored_model_that_does_not_reproduce_the_table_is_deleted(tiny_preset, tmp_path):
    import gzip
    done, _ = finished_without_model(tmp_path)
    grid = done.grid
    grid.loc[0, "correct"] = 1 - grid.loc[0, "correct"]  # as if the kept table came from another model
    (done.path / "grid.csv.gz").write_bytes(gzip.compress(grid.to_csv(index=False).encode()))
    kept = {p.name: p.read_bytes() for p in done.path.iterdir()}
    with pytest.raises(RuntimeError, match=r"does not reproduce the kept grid table \(1 of 1083 rows differ; the "
                                           r"table was made on .+\). Its checkpoint was deleted and its tables kept"):
        run(DIGITS, tmp_path, progress=False, need_model=True)
    assert {p.name: p.read_bytes() for p in done.path.iterdir()} == kept  # no checkpoint, the same tables
    assert done.finished and not done.has_model


def test_a_shipped_model_is_checked_against_the_grid_table_and_never_trained_from(tiny_preset, tmp_path):
    done = run(DIGITS, tmp_path, progress=False)
    directory.ship_model(done)
    trained = done.load_model().state_dict()
    (done.path / "ckpt.pt").unlink()
    assert done.has_shipped_model and not done.has_model and not done.ready(need_model=True)
    shipped = runs.viewable_model(done).state_dict()
    assert all(torch.equal(shipped[k], trained[k]) for k in trained)
    with pytest.raises(FileNotFoundError):
        done.load_model()  # a fine-tuning starts from a checkpoint, never from a shipped model

    content = torch.load(done.path / "model.pt", weights_only=False)
    head_bias = next(k for k in content["model"] if k.endswith("classifier.6.bias"))
    content["model"][head_bias] += 10 * torch.arange(3.0)  # another model, under this run's name
    torch.save(content, done.path / "model.pt")
    with pytest.raises(ValueError, match=rf"model.pt does not reproduce run {done.id}'s grid table \(\d+ of 1083 "
                                         r"rows differ, at most 1% may\): it is not this run's model. "
                                         r"Delete it"):
        runs.viewable_model(done)


def test_a_shipped_model_may_differ_in_a_few_rows_of_its_grid_table_only():
    kept = pd.DataFrame({"x": range(200), "y": 0, "label": 0, "n": 3, "correct": 2, "class": "0"})
    flipped = lambda rows: kept.assign(correct=[1 if i < rows else 2 for i in range(len(kept))])
    assert lifecycle._differing_rows(kept, flipped(2), allowed=0.01) == ""  # another CPU's rounding
    assert lifecycle._differing_rows(kept, flipped(3), allowed=0.01) == "3 of 200 rows differ"
    assert lifecycle._differing_rows(kept, flipped(1)) == "1 of 200 rows differ"  # a retrained run: none may


def test_a_shipped_model_of_another_run_is_refused(tiny_preset, tmp_path):
    import dataclasses
    import shutil
    mine, theirs = run(DIGITS, tmp_path, progress=False), run(dataclasses.replace(DIGITS, seed=1), tmp_path,
                                                               progress=False)
    shutil.copy(directory.ship_model(theirs), mine.path / "model.pt")
    (mine.path / "ckpt.pt").unlink()
    with pytest.raises(ValueError, match=rf"model.pt belongs to run {theirs.id}, not to run {mine.id}: .* Delete it"):
        runs.viewable_model(mine)


def test_a_failed_retrain_leaves_the_tables_and_no_checkpoint(tiny_preset, tmp_path, monkeypatch):
    done, kept = finished_without_model(tmp_path)
    interrupt_training_at(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(DIGITS, tmp_path, progress=False, need_model=True, checkpoint_seconds=0)  # saved at every step
    assert {p.name: p.read_bytes() for p in done.path.iterdir()} == kept and done.finished
    assert not list(done.path.glob(".*"))  # no temporary files either


def test_an_interrupted_evaluation_resumes_without_training(tiny_preset, tmp_path, monkeypatch):
    reference = run(DIGITS, tmp_path / "reference", progress=False)
    evaluate = lifecycle.grid_accuracy

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "grid_accuracy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(DIGITS, tmp_path / "interrupted", progress=False)
    unfinished = next((tmp_path / "interrupted").iterdir())
    assert not (unfinished / "done.json").exists() and not (unfinished / "grid.csv.gz").exists()
    assert "reason" in torch.load(unfinished / "ckpt.pt", weights_only=False)  # trained: the final checkpoint
    monkeypatch.setattr(lifecycle, "grid_accuracy", evaluate)
    monkeypatch.setattr(lifecycle, "train", lambda *a, **k: pytest.fail("trained again"))
    resumed = run(DIGITS, tmp_path / "interrupted", progress=False)
    assert resumed.grid.equals(reference.grid) and resumed.log.equals(reference.log)
    assert resumed.result["stop_reason"] == reference.result["stop_reason"]


def test_an_interrupted_run_all_finishes_the_rest_without_retraining(tiny_preset, tmp_path, monkeypatch, capsys):
    configs = [RunConfig("mnist", "translated", classes=(0, 1, 2), seed=s) for s in (0, 1, 2)]
    trained, train = [], lifecycle.train

    def interrupt_seed_1(*args, desc, **kwargs):
        trained.append(desc)
        if "-s1-" in desc:
            raise KeyboardInterrupt
        return train(*args, desc=desc, **kwargs)

    monkeypatch.setattr(lifecycle, "train", interrupt_seed_1)
    with pytest.raises(KeyboardInterrupt):
        run_all(configs, tmp_path, workers=1, device="cpu")
    first = runs.find_run(configs[0], tmp_path, device="cpu")
    assert first.finished and len(trained) == 2
    before = {p.name: p.read_bytes() for p in first.path.iterdir()}
    trained.clear()
    monkeypatch.setattr(lifecycle, "train", lambda *args, desc, **kwargs: trained.append(desc) or train(
        *args, desc=desc, **kwargs))
    done = run_all(configs, tmp_path, workers=1, device="cpu")
    assert all(r.finished for r in done) and [d.split("-")[4] for d in trained] == ["s1", "s2"]
    assert {p.name: p.read_bytes() for p in first.path.iterdir()} == before  # the finished run untouched
    assert "3 runs: 1 reused, 2 trained" in capsys.readouterr().out


def test_runs_from_before_data_keys_get_their_new_id(tiny_preset, tmp_path):
    import importlib.util
    import json
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("migrate", Path(__file__).parents[1] / "tools/migrate_run_ids.py")
    migrate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migrate)
    parent = run(DIGITS, tmp_path, device="cpu", progress=False)
    child_config = RunConfig("mnist", "one_location", init=parent.id, classes=(3, 4))
    child = run(child_config, tmp_path, device="cpu", progress=False)
    for r, old_id in ((parent, "old-parent"), (child, "old-child")):  # as written before: no data key
        config = json.loads((r.path / "config.json").read_text())
        del config["data"]
        if r.is_finetuning:
            config["init"], config["parent"] = "old-parent", {k: v for k, v in config["parent"].items() if k != "data"}
        (r.path / "config.json").write_text(json.dumps(config))
        r.path.rename(tmp_path / old_id)
    assert migrate.migrate(tmp_path) == {"old-parent": parent.id, "old-child": child.id}
    assert runs.find_run(child_config, tmp_path, device="cpu").finished


@pytest.mark.parametrize("placement", ["one_location", "translated"])
def test_a_preset_with_own_items_keeps_the_run_s_own_accuracy_on_held_out_items(tiny_preset, tmp_path, monkeypatch,
                                                                                   placement):
    monkeypatch.setitem(transinv.presets.PRESETS, "small", dataclasses.replace(tiny_preset, own_items=20))
    done = run(RunConfig("mnist", placement, classes=(0, 1, 2)), tmp_path, progress=False)
    own = done.own
    assert own["n"].tolist() == [7, 7, 7] and done.result["own_items"] == 21  # 20 spread over 3 classes, rounded up
    assert tables.own_accuracy(done) == own["correct"].sum() / 21
    assert run(RunConfig("mnist", placement, classes=(0, 1, 2)), tmp_path, progress=False).id == done.id


def test_own_items_left_at_its_default_keeps_every_run_id(tmp_path, monkeypatch):
    """Runs made before the preset had own_items (and the caps) keep their ids."""
    monkeypatch.setattr(identity, "data_key", lambda name: "the data")
    resolved, _ = identity.resolve(DIGITS, tmp_path)
    assert not {"own_items", "max_iters", "pretrain_max_iters"} & set(resolved["preset_settings"])
    as_object, _ = identity.resolve(dataclasses.replace(DIGITS, preset=transinv.presets.SMALL), tmp_path)
    assert not {"own_items", "max_iters", "pretrain_max_iters"} & set(as_object["preset"])  # a Preset given as such
    laptop, _ = identity.resolve(dataclasses.replace(DIGITS, preset="laptop"), tmp_path)
    assert laptop["preset_settings"]["own_items"] == 300

"""The laptop preset's study (benchmarks/preset_study.py): its candidates are valid runs, each its own."""
import torch

from benchmarks import preset_study as study
from transinv.models import create_model
from transinv.runs import identity


def test_every_candidate_is_a_valid_preset_and_a_run_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(identity, "data_key", lambda name: "the data")  # ids differ by their settings alone
    ids = set()
    for name in study.CANDIDATES:
        preset = study.candidate_preset(name)
        resolved, _ = identity.resolve(study.pretraining(name, "mnist"), tmp_path)
        resolved["precision"] = study.precision_of(name)
        ids.add(identity.run_id(resolved))
        assert preset.grid and preset.trained_centre[0] in preset.grid
    assert len(ids) == len(study.CANDIDATES)
    assert study.preset_of_runs("small") == "small"  # the baseline is the committed small preset's runs


def test_batch_norm_vgg_is_the_small_vgg_with_a_batch_norm_after_each_convolution():
    plain, normed = (create_model(m, num_classes=10, canvas_size=64) for m in ("vgg16_small", "vgg16_bn_small"))
    count = lambda model, kind: sum(isinstance(m, kind) for m in model.modules())
    assert count(plain, torch.nn.Conv2d) == count(normed, torch.nn.Conv2d) == count(normed, torch.nn.BatchNorm2d) == 13
    assert count(plain, torch.nn.BatchNorm2d) == 0
    assert normed(torch.rand(2, 3, 64, 64)).shape == (2, 10)

"""Issue 28's architectures: each builds, names a vector as its penultimate layer, and trains at the tiny preset."""
import pytest
import torch
from torch import nn

from transinv.blurpool import BlurPool, antialiased_max_pool
from transinv.models import MODELS, create_model, freeze_features, replace_head
from transinv.presets import LAPTOP, TINY
from transinv.representation import probe_layers
from transinv.runs import RunConfig, run

# name -> length of its penultimate vector
ARCHITECTURES = {"vgg16_bn_gap_small": 64, "vgg16_bn_blurpool_small": 512, "resnet18_small": 128,
                 "densenet121_small": 128, "vit_small": 64}


def head_input(model, canvases):
    """What the model's last layer receives: the feature vector the penultimate layer should be."""
    captured = []
    hook = model.net.get_submodule(model.head).register_forward_hook(lambda m, inputs, output: captured.append(inputs[0]))
    with torch.no_grad():
        model(canvases)
    hook.remove()
    return captured[0]


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("canvas_size", sorted({TINY.canvas_size, LAPTOP.canvas_size, 128}))
def test_logits_and_a_penultimate_vector(name, canvas_size):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, canvas_size=canvas_size).eval()
    canvases = torch.rand(3, 3, canvas_size, canvas_size)
    with torch.no_grad():
        assert model(canvases).shape == (3, 7)
        penultimate = model.penultimate_activations(canvases)
    assert penultimate.shape == (3, ARCHITECTURES[name])
    assert torch.allclose(penultimate, head_input(model, canvases).flatten(1))
    assert model.num_classes == 7 and not model.frozen_batchnorm  # batch norm trains, as vgg16_bn_small's


def test_the_representation_analysis_reads_the_penultimate_vector():
    for name in ("vgg16_bn_gap_small", "resnet18_small", "densenet121_small"):
        model = create_model(name, num_classes=5, canvas_size=64)
        assert probe_layers(model) == {"penultimate": model.penultimate}
    blurpool = create_model("vgg16_bn_blurpool_small", num_classes=5, canvas_size=64)
    assert probe_layers(blurpool)["fc7 relu"] == blurpool.penultimate == "classifier.4"  # VGG's layers, as the paper


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_a_new_head_and_frozen_features(name):
    model = replace_head(create_model(name, num_classes=5, canvas_size=64), 9)
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 9)
    freeze_features(model)
    trainable = {n for n, p in model.net.named_parameters() if p.requires_grad}
    assert trainable and all(not n.startswith("features") and not n.startswith("layer") for n in trainable)
    assert {f"{model.head}.weight", f"{model.head}.bias"} <= trainable


def test_widths_follow_torchvision_scaled():
    resnet = create_model("resnet18_small", num_classes=5, canvas_size=64).net
    assert [resnet.get_submodule(f"layer{i}")[0].conv1.out_channels for i in (1, 2, 3, 4)] == [16, 32, 64, 128]
    assert resnet.conv1.out_channels == 16 and len(resnet.layer1) == 2
    densenet = create_model("densenet121_small", num_classes=5, canvas_size=64).net
    blocks = [m for n, m in densenet.features.named_children() if n.startswith("denseblock")]
    assert [len(b) for b in blocks] == [6, 12, 24, 16] and densenet.features.conv0.out_channels == 8
    gap = create_model("vgg16_bn_gap_small", num_classes=5, canvas_size=64).net
    assert [m for m in gap.classifier if isinstance(m, nn.Linear)][0].in_features == 64


def test_the_antialiased_vgg_blurs_each_pool():
    net = create_model("vgg16_bn_blurpool_small", num_classes=5, canvas_size=64).net
    blurs = [m for m in net.features.modules() if isinstance(m, BlurPool)]
    assert [b.channels for b in blurs] == [8, 16, 32, 64, 64]
    assert not any(isinstance(m, nn.MaxPool2d) and m.stride == 2 for m in net.features.modules())
    assert not any(n.endswith("kernel") for n, _ in net.named_parameters())  # a fixed filter, not trained


def test_blurpool_keeps_the_size_and_a_constant():
    x = torch.full((2, 4, 16, 16), 0.7)
    assert torch.allclose(antialiased_max_pool(4)(x), torch.full((2, 4, 8, 8), 0.7))  # kernel sums to 1, reflect pad
    assert antialiased_max_pool(4)(torch.rand(1, 4, 15, 15)).shape == nn.MaxPool2d(2, 2)(torch.rand(1, 4, 15, 15)).shape


def stripes(offset: int, size: int = 32) -> torch.Tensor:
    """Vertical stripes two pixels wide, shifted right by ``offset`` px: (1, 1, size, size)."""
    columns = ((torch.arange(size) - offset) // 2 % 2).float()
    return columns.expand(size, size)[None, None].clone()


def test_blurpool_output_moves_little_when_the_input_moves_one_pixel():
    """Zhang 2019's example: max pooling maps stripes to stripes, and the same stripes moved by one pixel to a constant."""
    plain, antialiased = nn.MaxPool2d(2, 2), antialiased_max_pool(1)
    interior = (..., slice(2, -2), slice(2, -2))  # away from the padded border

    def change(pool):
        a, b = pool(stripes(0))[interior], pool(stripes(1))[interior]
        return ((a - b).norm() / a.norm()).item()

    assert not torch.allclose(plain(stripes(0)), antialiased(stripes(0)))
    assert change(plain) > 0.9 and change(antialiased) < 0.5 * change(plain)


def test_blurpool_is_equivariant_to_shifts_by_its_stride():
    x = torch.rand(1, 3, 20, 20)
    pool = antialiased_max_pool(3)
    moved = torch.roll(x, shifts=2, dims=-1)
    assert torch.allclose(pool(moved)[..., 2:-2, 3:-2], pool(x)[..., 2:-2, 2:-3], atol=1e-6)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_a_tiny_run_trains(name, tmp_path):
    done = run(RunConfig("mnist", "one_location", "tiny", classes=(0, 1, 2), model=name), tmp_path, device="cpu",
               progress=False)
    assert done.config["model"] == name and done.finished and 0 < done.result["iterations"] <= 20
    assert len(done.grid) == 19 * 19 * 3
    child = run(RunConfig("mnist", "one_location", "tiny", classes=(3, 4), init=done.id), tmp_path, device="cpu",
                progress=False)
    assert child.config["model"] == name and child.load_model().num_classes == 2


def test_unknown_models_fail_early():
    with pytest.raises(ValueError, match="unknown model 'vit_huge'; choose one of vgg16, .*resnet18_small"):
        RunConfig("mnist", "one_location", model="vit_huge")
    assert set(ARCHITECTURES) <= set(MODELS)

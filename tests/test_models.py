import pytest
import torch
from torchvision.models import vgg16 as torchvision_vgg16

from transinv.models import MODELS, create_model, replace_head, vgg16_imagenet_state_dict


def test_vgg16_is_torchvisions_with_a_new_head():
    torch.manual_seed(0)
    model = create_model("vgg16", num_classes=10)
    reference = torchvision_vgg16()
    ours, theirs = model.net.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours if k != "classifier.6.weight" and k != "classifier.6.bias")
    assert ours["classifier.6.weight"].shape == (10, 4096)
    x = torch.rand(2, 3, 224, 224)
    assert model(x).shape == (2, 10)
    assert model.penultimate_activations(x).shape == (2, 4096)
    assert (model.penultimate_activations(x) >= 0).all()  # after the ReLU


def test_imagenet_weights_from_a_file(tmp_path):
    """The loading path, with a state dict we save ourselves (the real file cannot be downloaded here)."""
    torch.manual_seed(1)
    saved = torchvision_vgg16().state_dict()
    torch.save(saved, tmp_path / "vgg16.pth")
    model = create_model("vgg16", num_classes=7, pretrained=True, weights_file=tmp_path / "vgg16.pth")
    loaded = model.net.state_dict()
    assert all(torch.equal(loaded[k], saved[k]) for k in saved if not k.startswith("classifier.6"))
    assert loaded["classifier.6.weight"].shape == (7, 4096)  # a fresh head


def test_missing_weights_file_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        vgg16_imagenet_state_dict(tmp_path / "nope.pth")


def test_small_vgg16_keeps_the_layout():
    model = create_model("vgg16_small", num_classes=5, canvas_size=64)
    convs = [m for m in model.net.features if isinstance(m, torch.nn.Conv2d)]
    linears = [m for m in model.net.classifier if isinstance(m, torch.nn.Linear)]
    assert len(convs) == 13 and len(linears) == 3
    assert [c.out_channels for c in convs] == [8, 8, 16, 16, 32, 32, 32, 64, 64, 64, 64, 64, 64]
    assert [l.out_features for l in linears] == [512, 512, 5]
    x = torch.rand(3, 3, 64, 64)
    assert model(x).shape == (3, 5) and model.penultimate_activations(x).shape == (3, 512)


def test_replace_head():
    model = create_model("vgg16_small", num_classes=5, canvas_size=64)
    before = model.net.features[0].weight.clone()
    replace_head(model, 9)
    assert model.num_classes == 9 and torch.equal(model.net.features[0].weight, before)


def test_bad_requests():
    with pytest.raises(ValueError, match="unknown model 'resnet'; choose one of vgg16, vgg16_small, vgg16_bn_small, efficientnet_lite0, "
                       "vgg16_bn_gap_small, vgg16_bn_blurpool_small, resnet18_small, densenet121_small, vit_small"):
        create_model("resnet", num_classes=3)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2, but got 1"):
        create_model("vgg16_small", num_classes=1, canvas_size=64)
    with pytest.raises(ValueError, match="multiple of 32.*got 70"):
        create_model("vgg16_small", num_classes=3, canvas_size=70)
    with pytest.raises(ValueError, match="no ImageNet weights"):
        create_model("vgg16_small", num_classes=3, canvas_size=64, pretrained=True)
    assert set(MODELS) == {"vgg16", "vgg16_small", "vgg16_bn_small", "efficientnet_lite0", "vgg16_bn_gap_small",
                           "vgg16_bn_blurpool_small", "resnet18_small", "densenet121_small", "vit_small"}


def test_the_penultimate_layer_is_what_the_authors_read():
    """Their hook kept fc7's output with detach(), which the in-place ReLU after it overwrites."""
    torch.manual_seed(0)
    model = create_model("vgg16_small", num_classes=5, canvas_size=64).eval()
    kept = []
    hook = model.net.classifier[3].register_forward_hook(lambda module, inputs, output: kept.append(output.detach()))
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        ours = model.penultimate_activations(x)
    hook.remove()
    assert model.penultimate == "classifier.4" and torch.equal(ours, kept[0]) and (kept[0] >= 0).all()
    assert create_model("efficientnet_lite0", num_classes=5, canvas_size=64).penultimate == "conv_head"

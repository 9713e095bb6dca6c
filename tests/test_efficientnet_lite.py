"""Tests for the offline ImageNet EfficientNet-Lite0 (shipped weights mapped onto timm)."""

import pytest
import timm
import torch
import torch.nn.functional as F
from skimage import data

from transinv import efficientnet_lite as eff

CAT_CLASSES = {281, 282, 285}  # tabby, tiger cat, Egyptian cat
ESPRESSO, CUP = 967, 968


@pytest.fixture(scope="module")
def shipped():
    return eff._shipped()


@pytest.fixture(scope="module")
def imagenet():
    return eff.imagenet_state_dict()


@pytest.fixture(scope="module")
def model():
    return eff.efficientnet_lite0().eval()


def prepare(image, size=224):
    """uint8 HxWx3 -> normalised 1x3xSxS float tensor, as the model expects."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return (x - torch.tensor(eff.MEAN)[:, None, None]) / torch.tensor(eff.STD)[:, None, None]


def probabilities(model, image):
    with torch.no_grad():
        return model(prepare(image)).softmax(-1)[0]


def test_weights_path_exists():
    assert eff.weights_path().is_file()


def test_mapping_covers_every_tensor_both_ways(shipped, imagenet):
    reference = timm.create_model(eff.ARCH, pretrained=False).state_dict()
    assert len(shipped) == len(imagenet) == len(reference) == 296
    assert imagenet.keys() == reference.keys()
    assert all(imagenet[k].shape == v.shape for k, v in reference.items())
    # spot checks of the block renumbering and of block 0 vs inverted-residual renames
    assert torch.equal(imagenet["blocks.6.0.conv_pwl.weight"], shipped["_blocks.15._project_conv.weight"])
    assert torch.equal(imagenet["blocks.0.0.conv_pw.weight"], shipped["_blocks.0._project_conv.weight"])
    assert torch.equal(imagenet["blocks.3.2.bn2.running_var"], shipped["_blocks.7._bn1.running_var"])
    assert torch.equal(imagenet["classifier.bias"], shipped["_fc.bias"])


def test_mapping_errors_name_the_unmatched_keys(shipped):
    reference = timm.create_model(eff.ARCH, pretrained=False).state_dict()
    extra = {**shipped, "_blocks.16._expand_conv.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"_blocks\.16\._expand_conv\.weight"):
        eff._convert(extra, reference)
    short = {k: v for k, v in shipped.items() if k != "_blocks.3._bn0.running_mean"}
    with pytest.raises(ValueError, match=r"blocks\.2\.0\.bn1\.running_mean"):
        eff._convert(short, reference)
    wrong = {**shipped, "_fc.bias": torch.zeros(10)}
    with pytest.raises(ValueError, match=r"classifier\.bias \(10,\) vs \(1000,\)"):
        eff._convert(wrong, reference)


def test_classifies_a_cat(model):
    p = probabilities(model, data.chelsea())
    assert int(p.argmax()) in CAT_CLASSES
    assert float(p[list(CAT_CLASSES)].sum()) > 0.8


def test_classifies_espresso(model):
    p = probabilities(model, data.coffee())
    assert int(p.argmax()) == ESPRESSO and float(p[ESPRESSO]) > 0.6
    assert float(p[[ESPRESSO, CUP]].sum()) > 0.8


def test_normalisation_matches_stem_batchnorm_statistics(model):
    """Normalised natural images give the stem conv the output variance its BatchNorm saw in training."""
    x = torch.cat([prepare(im) for im in (data.chelsea(), data.coffee(), data.astronaut(), data.rocket())])
    with torch.no_grad():
        variance = model.conv_stem(x).var(dim=(0, 2, 3))
    ratio = float((variance / model.bn1.running_var).median())
    assert 0.5 < ratio < 2  # ImageNet mean/std (0.485.., 0.229..) would give ~4.4


def test_new_head_keeps_pretrained_features(imagenet):
    model = eff.efficientnet_lite0(num_classes=5).eval()  # eval: keep BatchNorm statistics as loaded
    assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 5)
    state = model.state_dict()
    assert state["classifier.weight"].shape == (5, eff.NUM_FEATURES)
    assert state["classifier.bias"].shape == (5,)
    assert all(torch.equal(state[k], v) for k, v in imagenet.items() if not k.startswith("classifier."))


def test_vanilla_differs_from_pretrained(imagenet):
    torch.manual_seed(0)
    state = eff.efficientnet_lite0(pretrained=False).state_dict()
    assert state.keys() == imagenet.keys()
    assert not torch.equal(state["conv_stem.weight"], imagenet["conv_stem.weight"])
    assert not torch.equal(state["blocks.3.0.conv_pw.weight"], imagenet["blocks.3.0.conv_pw.weight"])
    assert not torch.equal(state["bn2.running_var"], imagenet["bn2.running_var"])

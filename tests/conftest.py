import dataclasses

import pytest

import transinv.presets as presets


@pytest.fixture
def tiny_preset(monkeypatch):
    """The small preset with a few iterations and one test item per class: for plumbing tests."""
    tiny = dataclasses.replace(presets.SMALL, iter_scale=0.004, pretrain_iter_scale=0.004, eval_items=1)  # 20 its
    monkeypatch.setitem(presets.PRESETS, "small", tiny)
    return tiny

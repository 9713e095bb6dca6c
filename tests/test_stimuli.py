import numpy as np
import pytest
import torch
from PIL import Image

from transinv.presets import PAPER, SMALL
from transinv.stimuli import (area_centres, grid_centres, one_location_centres, place, resize_items,
                              sample_centres, translated_centres)

PRESETS = [PAPER, SMALL]


def white_items(n, size):
    return torch.full((n, size, size), 255, dtype=torch.uint8)


def bounds(canvas):
    """(top, bottom, left, right) of the non-zero pixels of one canvas (3, H, W), end exclusive."""
    ys, xs = torch.nonzero(canvas[0], as_tuple=True)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_one_location_exact_pixels(preset):
    s, half = preset.item_size, preset.item_size // 2
    canvases = place(white_items(2, s), one_location_centres(preset, 2), preset.canvas_size)
    assert canvases.shape == (2, 3, preset.canvas_size, preset.canvas_size)
    x, y = preset.trained_centre
    assert bounds(canvases[0]) == (y - half, y - half + s, 0, s)  # leftmost column, vertically centred
    assert canvases.sum() == 2 * 3 * s * s
    assert torch.equal(canvases[:, 0], canvases[:, 2])             # grey replicated to 3 channels


def test_paper_trained_location_pixels():
    canvas = place(white_items(1, 50), one_location_centres(PAPER, 1), 224)[0]
    assert bounds(canvas) == (87, 137, 0, 50)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_translated_centres_cover_exactly_the_range(preset):
    centres = translated_centres(preset, 20_000, torch.Generator().manual_seed(1))
    low, high = preset.centre_range
    assert centres.dtype == torch.int64
    assert int(centres.min()) == low and int(centres.max()) == high - 1
    assert len(centres[:, 0].unique()) == high - low  # every integer is reachable
    canvases = place(white_items(200, preset.item_size), centres[:200], preset.canvas_size)
    assert canvases[:, 0].sum(dim=(1, 2)).eq(preset.item_size ** 2).all()  # always fully on the canvas


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_area_centres_stay_in_their_area(preset):
    labels = torch.arange(18).repeat(2000)
    centres = area_centres(preset, labels, torch.Generator().manual_seed(2))
    areas = preset.area_bounds
    for k in range(18):
        mine = centres[labels == k]
        (x0, x1), (y0, y1) = areas[(k // 2) % 3], areas[(k // 2) // 3]
        assert int(mine[:, 0].min()) == x0 and int(mine[:, 0].max()) == x1 - 1, k
        assert int(mine[:, 1].min()) == y0 and int(mine[:, 1].max()) == y1 - 1, k


def test_area_centres_reject_labels_beyond_18():
    with pytest.raises(ValueError, match=r"labels in \[0, 18\).*\[0, 20\]"):
        area_centres(PAPER, torch.tensor([0, 20]), torch.Generator())


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_grid(preset):
    centres = grid_centres(preset)
    assert centres.shape == (361, 2)
    assert tuple(centres[:19, 0].tolist()) == preset.grid and set(centres[:19, 1].tolist()) == {preset.grid[0]}
    assert tuple(centres[::19, 1].tolist()) == preset.grid
    place(white_items(361, preset.item_size), centres, preset.canvas_size)  # every grid point is valid


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_off_canvas_centres_are_rejected(preset):
    s, half, n = preset.item_size, preset.item_size // 2, preset.canvas_size
    items = white_items(1, s)
    low, high = half, n - s + half
    for ok in (low, high):
        place(items, torch.tensor([[ok, ok]]), n)
    for bad in ([low - 1, 30], [30, high + 1]):
        with pytest.raises(ValueError, match=rf"centre [xy]={bad[0] if bad[0] != 30 else bad[1]} .* \[{low}, {high}\]"):
            place(items, torch.tensor([bad]), n)


def test_item_larger_than_canvas():
    with pytest.raises(ValueError, match=r"item of 80 px does not fit on a 64-px canvas.*\[1, 64\]"):
        place(white_items(1, 80), torch.tensor([[40, 40]]), 64)


def test_placed_pixels_are_the_item():
    item = torch.randint(0, 256, (1, 14, 14), dtype=torch.uint8)
    canvas = place(item, torch.tensor([[20, 30]]), 64)
    assert torch.equal(canvas[0, 1, 23:37, 13:27], item[0].float() / 255)


def test_same_seed_same_canvases():
    items = torch.randint(0, 256, (64, 14, 14), dtype=torch.uint8)
    labels = torch.arange(64) % 18

    def canvases(seed, placement):
        g = torch.Generator().manual_seed(seed)
        return place(items, sample_centres(placement, SMALL, labels, g), 64, check=False)

    for placement in ("translated", "areas"):
        assert torch.equal(canvases(0, placement), canvases(0, placement))
        assert not torch.equal(canvases(0, placement), canvases(1, placement))
    with pytest.raises(ValueError, match="unknown placement 'center'.*one_location"):
        sample_centres("center", SMALL, labels, torch.Generator())


def test_resize_matches_pil_bicubic():
    """The authors resized with PIL's bicubic filter; torchvision's uint8 path follows it closely."""
    digit = torch.zeros(1, 28, 28, dtype=torch.uint8)
    digit[0, 5:23, 12:16] = 255
    digit[0, 5:9, 8:20] = 180
    ours = resize_items(digit, 50)[0].numpy().astype(int)
    pil = np.asarray(Image.fromarray(digit[0].numpy()).resize((50, 50), Image.BICUBIC)).astype(int)
    assert ours.shape == (50, 50)
    assert np.abs(ours - pil).max() <= 2


def test_resize_rejects_bad_input():
    with pytest.raises(ValueError, match=r"uint8 tensor \(N, h, w\), but got torch.float32"):
        resize_items(torch.zeros(2, 28, 28), 14)


@pytest.mark.parametrize("placement", ["one_location", "translated", "areas"])
def test_each_canvas_shows_an_item_of_its_label(placement):
    """Uniform squares, 5 per class, whose brightness says their class (10 + 12k + i): each canvas of a batch
    must show one of its own class's squares, wherever the placement puts it."""
    from transinv.stimuli import ItemBank, draw_batch
    n_classes = 18 if placement == "areas" else 4
    labels = torch.arange(n_classes).repeat(5)          # classes interleaved: the bank sorts them
    values = 10 + 12 * labels + torch.arange(len(labels)) // n_classes
    images = values.to(torch.uint8)[:, None, None].expand(-1, 28, 28).contiguous()
    bank = ItemBank.build(images, labels, SMALL.item_size)
    canvases, drawn = draw_batch(bank, placement, SMALL, 1000, torch.Generator().manual_seed(0))
    brightness = (canvases[:, 0].amax((1, 2)) * 255).round().long()
    assert torch.equal((brightness - 10) // 12, drawn)                       # the item's class is the label's
    assert len(brightness.unique()) == 5 * n_classes                         # every exemplar drawn
    assert ((canvases[:, 0] > 0).sum((1, 2)) == SMALL.item_size ** 2).all()  # one whole item per canvas

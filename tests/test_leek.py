"""Tests for the Leek et al. stand-in objects and the loader."""

import itertools

import numpy as np
import pytest
from PIL import Image

from transinv import leek


@pytest.fixture(scope="module")
def objects():
    return leek.render_objects(12, seed=leek.STANDIN_SEED)


def composite(objs):
    return leek._composite(objs[..., 0], objs[..., 1])


def test_shapes_and_dtypes(objects):
    assert objects.shape == (12, 128, 128, 2) and objects.dtype == np.uint8
    assert leek.render_objects(2, seed=3, size=48).shape == (2, 48, 48, 2)


def test_deterministic_and_prefix_stable(objects):
    a = leek.render_objects(3, seed=7, size=64)
    assert np.array_equal(a, leek.render_objects(3, seed=7, size=64))
    assert np.array_equal(a[:2], leek.render_objects(2, seed=7, size=64))
    assert not np.array_equal(a, leek.render_objects(3, seed=8, size=64))
    assert np.array_equal(objects[:3], leek.render_objects(3, seed=leek.STANDIN_SEED))


def test_objects_are_shaded_solids_on_transparent_background(objects):
    for obj in objects:
        lum, alpha = obj[..., 0], obj[..., 1]
        assert (alpha[[0, 0, -1, -1], [0, -1, 0, -1]] == 0).all()
        assert 0.1 < (alpha > 0).mean() < 0.9
        assert len(np.unique(lum[alpha == 255])) > 30  # shaded, not a flat silhouette
        assert leek._connected(alpha > 0)


def test_object_fills_most_of_frame(objects):
    for alpha in objects[..., 1]:
        rows, cols = np.nonzero((alpha > 0).any(1))[0], np.nonzero((alpha > 0).any(0))[0]
        extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        assert 0.75 * 128 < extent < 0.95 * 128


def test_all_objects_distinct(objects):
    images = composite(objects).astype(float)
    masks = objects[..., 1] > 127
    for i, j in itertools.combinations(range(len(objects)), 2):
        assert np.abs(images[i] - images[j]).mean() > 15, (i, j)  # seed 0: all pairs > 23
        # Compact objects scaled to fill the frame overlap a lot even when they differ.
        iou = (masks[i] & masks[j]).sum() / (masks[i] | masks[j]).sum()
        assert iou < 0.9, (i, j, iou)


def test_standin_sets(objects):
    images10, source10 = leek.load_leek("leek10", None)
    images2, source2 = leek.load_leek("leek2", None)
    assert images10.shape == (10, 128, 128) and images10.dtype == np.uint8
    assert images2.shape == (2, 128, 128)
    assert np.array_equal(images10, composite(objects[:10]))
    assert np.array_equal(images2, composite(objects[10:]))  # disjoint from leek10's objects
    assert "stand-in" in source10 and "objects 0-9" in source10
    assert "objects 10-11" in source2
    images10[:] = 0  # callers get their own copy, the cache stays intact
    assert leek.load_leek("leek10", None)[0].any()


def test_missing_or_empty_folder_gives_standin(tmp_path):
    (tmp_path / "leek2").mkdir()
    images, source = leek.load_leek("leek2", tmp_path)
    assert "stand-in" in source and images.shape == (2, 128, 128)


def test_png_round_trip(tmp_path):
    paths = leek.save_pngs("leek10", tmp_path / "leek10")
    assert [p.name for p in paths] == [f"{i:02d}.png" for i in range(10)]
    assert Image.open(paths[0]).mode == "LA"
    images, source = leek.load_leek("leek10", tmp_path)
    assert np.array_equal(images, leek.load_leek("leek10", None)[0])
    assert "original" in source and "10 PNGs" in source and str(tmp_path / "leek10") in source


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "P"])
def test_png_modes(tmp_path, mode):
    expected = leek.load_leek("leek2", None)[0]
    for i, path in enumerate(leek.save_pngs("leek2", tmp_path / "src")):
        img = Image.open(path)
        if mode in ("RGB", "L"):
            img = Image.fromarray(expected[i])
        (tmp_path / "leek2").mkdir(exist_ok=True)
        img.convert(mode).save(tmp_path / "leek2" / path.name)
    images, _ = leek.load_leek("leek2", tmp_path)
    if mode == "P":  # palette quantisation is lossy; check shape and rough agreement
        assert images.shape == expected.shape
        assert np.abs(images.astype(float) - expected).mean() < 5
    else:
        assert np.array_equal(images, expected)


def test_wrong_count_raises(tmp_path):
    leek.save_pngs("leek2", tmp_path / "leek10")
    with pytest.raises(ValueError, match=r"leek10.*\b2\b.*\b10\b"):
        leek.load_leek("leek10", tmp_path)


def test_size_mismatch_raises(tmp_path):
    paths = leek.save_pngs("leek2", tmp_path / "leek2")
    Image.open(paths[1]).resize((64, 64)).save(paths[1])
    with pytest.raises(ValueError, match="01.png"):
        leek.load_leek("leek2", tmp_path)


def test_unknown_name_raises(tmp_path):
    with pytest.raises(ValueError, match="leek3") as info:
        leek.load_leek("leek3", tmp_path)
    assert "leek10" in str(info.value) and "leek2" in str(info.value)
    with pytest.raises(ValueError, match="allowed"):
        leek.save_pngs("nope", tmp_path)


def test_the_standin_objects_are_the_pinned_ones():
    """Each stand-in object's mean grey level and silhouette area (pixels > 0) at 128 px, as rendered with
    STANDIN_SEED 0. Not a hash of the pixels: the rendering is floating point (numpy's sin, sqrt...), whose last
    bits may differ between CPUs, so a pixel may round the other way; another seed changes every object."""
    means = {"leek10": [66.722, 38.075, 44.332, 51.101, 47.876, 57.87, 40.038, 53.967, 32.718, 44.117],
             "leek2": [46.368, 59.76]}
    areas = {"leek10": [8203, 4814, 5180, 6387, 5577, 7585, 5844, 6705, 4138, 6386], "leek2": [5964, 6748]}
    for name in ("leek10", "leek2"):
        images, source = leek.load_leek(name, None)
        assert "seed 0" in source
        assert images.astype(float).mean((1, 2)) == pytest.approx(means[name], abs=0.05)
        assert (images > 0).sum((1, 2)) == pytest.approx(areas[name], abs=10)

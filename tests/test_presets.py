import pytest

from transinv.presets import PAPER, SMALL, get_preset, scaled

PAPER_GRID = (25, 32, 42, 52, 62, 72, 82, 92, 102, 112, 122, 132, 142, 152, 162, 172, 182, 192, 198)


def test_paper_geometry_is_the_authors():
    assert (PAPER.canvas_size, PAPER.item_size) == (224, 50)
    assert PAPER.centre_range == (25, 199)
    assert PAPER.trained_centre == (25, 112)
    assert PAPER.grid == PAPER_GRID
    assert PAPER.area_bounds == ((25, 83), (83, 141), (141, 199))


def test_small_preset_is_derived_by_the_same_rule():
    geometry = scaled(64)
    assert (SMALL.item_size, SMALL.grid) == (geometry.item_size, geometry.grid)
    assert (SMALL.canvas_size, SMALL.item_size) == (64, 14)
    assert SMALL.centre_range == (7, 57)
    assert SMALL.trained_centre == (7, 32)
    assert SMALL.grid == (7, 9, 12, 15, 18, 21, 23, 26, 29, 32, 35, 38, 41, 43, 46, 49, 52, 55, 56)
    assert SMALL.area_bounds == ((7, 24), (24, 40), (40, 57))


@pytest.mark.parametrize("canvas", [64, 96, 128, 160, 224, 256, 512])
def test_every_scaled_preset_is_consistent(canvas):
    p = scaled(canvas)
    low, high = p.centre_range
    assert len(p.grid) == 19
    assert all(a < b for a, b in zip(p.grid, p.grid[1:]))            # strictly increasing
    assert p.grid[0] == low and p.grid[-1] == high - 1                 # both ends of the range
    assert p.area_bounds[0][0] == low and p.area_bounds[-1][1] == high # areas tile the range
    assert all(a[1] == b[0] for a, b in zip(p.area_bounds, p.area_bounds[1:]))
    assert p.trained_centre == (low, canvas // 2)


@pytest.mark.parametrize("bad", [32, 63, 5000, 100.0, "64"])
def test_bad_canvas_size(bad):
    with pytest.raises(ValueError, match=r"canvas_size must be an integer in \[64, 4096\]"):
        scaled(bad)


def test_get_preset():
    assert get_preset("paper") is PAPER and get_preset(SMALL) is SMALL
    with pytest.raises(ValueError, match=r"unknown preset 'large'.*\['laptop', 'paper', 'small', 'tiny'\]"):
        get_preset("large")


@pytest.mark.parametrize("change, message", [
    ({"item_size": 80}, r"item_size must be an integer, \[1, 61\], but got 80"),        # larger than the canvas
    ({"item_size": 14.5}, r"item_size must be an integer, \[1, 61\], but got 14.5"),
    ({"canvas_size": 100}, r"canvas_size must be a multiple of 32 .* but got 100"),
    ({"canvas_size": 32}, r"grid must be a tuple of integer centres in \[7, 25\)"),      # the grid falls off it
    ({"grid": (7, 9.5, 32)}, r"grid must be a tuple of integer centres in \[7, 57\)"),
    ({"grid": (9, 32)}, r"grid must hold the trained location's x and y, \(7, 32\), but lacks \[7\]"),
    ({"batch_size": 0}, r"batch_size must be an integer, 1 or more, but got 0"),
    ({"eval_items": 2.0}, r"eval_items must be an integer, 1 or more, but got 2.0"),
    ({"lr": 0}, r"lr must be a positive number, but got 0"),
    ({"iter_scale": -1.0}, r"iter_scale must be a positive number"),
])
def test_a_preset_that_cannot_work_is_refused_when_made(change, message):
    import dataclasses
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(SMALL, **change)


def test_a_bad_custom_preset_leaves_no_run_directory(tmp_path):
    import dataclasses

    from transinv.runs import RunConfig, run
    with pytest.raises(ValueError, match="item_size must be an integer"):
        run(RunConfig("mnist", "one_location", dataclasses.replace(SMALL, name="big", item_size=70)), tmp_path)
    assert not any(tmp_path.iterdir())

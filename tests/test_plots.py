import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from transinv.plots import accuracy_heatmap, canvas_geometry, cosine_by_displacement, image_grid, transfer_matrix  # noqa: E402
from transinv.presets import SMALL  # noqa: E402


def grid_table(accuracy_of):
    rows = [{"x": x, "y": y, "label": k, "n": 10, "correct": round(10 * accuracy_of(x, y))}
            for x in SMALL.grid for y in SMALL.grid for k in range(2)]
    return pd.DataFrame(rows)


def test_heatmap_interpolates_the_grid():
    fig = accuracy_heatmap(grid_table(lambda x, y: 1.0 if x < 32 else 0.0), SMALL.canvas_size, SMALL.trained_centre)
    surface = fig.axes[0].images[0].get_array()
    assert isinstance(fig, Figure) and surface.shape == (64, 64)
    assert surface[32, 10] == pytest.approx(1.0, abs=0.05) and surface[32, 50] == pytest.approx(0.0, abs=0.05)
    assert "mean" in fig.axes[0].get_title()


def test_transfer_matrix_shows_each_pair():
    table = pd.DataFrame([{"pretrain": p, "finetune": f, "normalized": 10 * i + j}
                          for i, p in enumerate(["mnist", "kmnist"]) for j, f in enumerate(["mnist", "fmnist", "leek10"])])
    fig = transfer_matrix(table)
    assert fig.axes[0].images[0].get_array().shape == (2, 3)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(str(v) for v in table["normalized"])


def test_cosine_plot_has_one_line_per_condition():
    table = pd.DataFrame([{"condition": c, "label": k, "dx": dx, "cosine": 1 - dx / 100}
                          for c in ("vanilla", "pretrained") for k in range(3) for dx in (0, 10, 20)])
    fig = cosine_by_displacement(table)
    assert [line.get_label() for line in fig.axes[0].lines] == ["vanilla", "pretrained"]
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), [1.0, 0.9, 0.8])


def test_image_grid_and_geometry():
    fig = image_grid(torch.zeros(5, 3, 64, 64), [str(i) for i in range(5)], columns=3)
    assert len([ax for ax in fig.axes if ax.images]) == 5
    assert isinstance(canvas_geometry(SMALL), Figure)


def test_cosine_panels_show_every_curve_whole():
    from transinv.plots import cosine_panels
    rows = [{"pretrain": p, "finetune": "mnist", "condition": c, "dx": dx, "label": k, "cosine": v - 0.1 * k}
            for p, v in (("mnist", 0.9), ("kmnist", 0.4)) for c in ("vanilla", "pretrained") for dx in (0, 10)
            for k in range(3)]
    fig = cosine_panels(pd.DataFrame(rows))
    lowest = min(r["cosine"] for r in rows)
    assert all(ax.get_ylim()[0] <= lowest for ax in fig.axes if ax.lines)  # the kmnist panel is not cut off


def test_transfer_matrix_gives_the_spread_over_repetitions():
    table = pd.DataFrame([{"pretrain": "mnist", "finetune": "fmnist", "normalized": v} for v in (40.0, 60.0, 50.0)]
                         + [{"pretrain": "mnist", "finetune": "mnist", "normalized": 90.0}])
    texts = sorted(t.get_text() for t in transfer_matrix(table).axes[0].texts)
    assert texts == ["50\n± 10", "90"]  # one run: no spread to show


def test_transfer_matrix_marks_pairs_not_run():
    table = pd.DataFrame([{"pretrain": "mnist", "finetune": "mnist", "normalized": 90.0},
                          {"pretrain": "kmnist", "finetune": "fmnist", "normalized": 40.0}])
    texts = sorted(t.get_text() for t in transfer_matrix(table).axes[0].texts)
    assert texts == ["40", "90", "not run", "not run"]

"""The augmentation page (section 4.1): the colour statistics it shows, where they come from, and
the augmented views of its figure, on small synthetic images."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from alexnet_core import data as D  # noqa: E402
from alexnet_core.augment import ColourStats  # noqa: E402
from alexnet_core.book.pages import augmentation as G  # noqa: E402
from alexnet_core.book.pages import style as P  # noqa: E402

SMALL = D.synthetic_image_set(n=6, side=256)


@pytest.fixture(autouse=True)
def style():
    P.use_style()
    yield
    plt.close("all")


def assert_fits_the_page(fig) -> None:
    """No wider than the book's content column (720 px, as the inline backend saves it) and no
    text under the book's smallest font (as tests/test_plots.py checks every figure)."""
    from PIL import Image

    fig.canvas.draw()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    assert Image.open(io.BytesIO(buf.getvalue())).width <= 720, "wider than the book's content column"
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_fontsize() < P.SMALLEST_FONT]
    assert not small, f"text under {P.SMALLEST_FONT} pt: {small}"


def test_without_a_data_root_or_a_record_the_statistics_come_from_a_synthetic_set(monkeypatch, tmp_path):
    monkeypatch.setattr(G, "data_available", lambda root: False)
    sample = G.colour_sample(None, tmp_path / "none.json")
    assert sample.source.startswith("a synthetic set of coloured blocks (no data root was given")
    assert tuple(sample.train.images.shape) == (64, 3, 256, 256)
    assert torch.equal(sample.stats.eigenvalues, ColourStats.from_images(sample.train).eigenvalues)


def test_with_a_data_root_the_statistics_are_imagenettes_cached_ones_and_recorded(monkeypatch, tmp_path):
    loaded, cached = [], ColourStats.from_images(SMALL)
    record = tmp_path / "colour.json"
    monkeypatch.setattr(G, "data_available", lambda root: root == "/data")
    monkeypatch.setattr(G.D, "load", lambda *args: loaded.append(args) or SMALL)
    monkeypatch.setattr(G, "cached_colour_stats", lambda train: cached if train is SMALL else None)
    sample = G.colour_sample("/data", record)
    assert loaded == [("imagenette", "train", "/data")]
    assert sample == (SMALL, cached, "Imagenette's training set")
    written = record.read_text()
    assert "provenance" in written and "commit" in written
    G.record_colour_stats(cached, record)
    assert record.read_text() == written  # the same numbers: not written again
    # a build without the data shows the recorded statistics, and says so
    without = G.colour_sample(None, record)
    assert without.source.startswith("Imagenette's training set, as a build with the data recorded them on ")
    assert without.source.endswith("(this build had no dataset)")
    torch.testing.assert_close(without.stats.eigenvectors, cached.eigenvectors, atol=1e-5, rtol=0)


def test_the_first_eigenvector_is_called_brightness_only_where_it_is():
    grey = ColourStats(torch.zeros(3, 2, 2), torch.tensor([0.01, 0.02, 0.5]),
                       torch.tensor([[0.7, 0.4, 0.57], [0.0, -0.8, 0.58], [-0.7, 0.4, 0.58]]))
    assert "weighs R, G and B about equally (brightness)" in G.first_eigenvector_text(grey)
    tilted = ColourStats(grey.mean_image, grey.eigenvalues, torch.tensor([[0.0, 0.0, -0.93], [0.0, 1.0, 0.26],
                                                                          [1.0, 0.0, 0.26]]))
    assert G.first_eigenvector_text(tilted) == ("the first eigenvector (-0.930, 0.260, 0.260) is not a brightness "
                                                "direction (unequal weights on R, G and B)")


def test_the_eigen_table_lists_the_largest_eigenvalue_first():
    stats = ColourStats(torch.zeros(3, 8, 8), torch.tensor([0.001, 0.01, 0.2]),
                        torch.tensor([[0.1, 0.7, 0.58], [0.2, 0.0, 0.58], [0.3, -0.7, 0.58]]))
    table = G.eigen_table(stats).data
    assert list(table.columns) == ["eigenvalue (pixels in [0,1])", "p (R, G, B)"]
    assert table["eigenvalue (pixels in [0,1])"].tolist() == pytest.approx([0.2, 0.01, 0.001])
    assert table["p (R, G, B)"].tolist() == ["[0.58 0.58 0.58]", "[ 0.7  0.  -0.7]", "[0.1 0.2 0.3]"]


def test_each_augmented_view_is_a_viewable_224_crop_drawn_from_its_seed():
    stats = ColourStats.from_images(SMALL)
    views = G.augmented_views(SMALL, stats)
    assert len(views) == 4
    assert all(v.shape == (224, 224, 3) and v.dtype == np.uint8 for v in views)
    again, other = G.augmented_views(SMALL, stats), G.augmented_views(SMALL, stats, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(views, again))
    assert not all(np.array_equal(a, b) for a, b in zip(views, other))
    assert len(G.augmented_views(SMALL, stats, count=2)) == 2


def test_the_examples_figure_shows_the_stored_images_above_their_views():
    fig = G.examples_figure(SMALL, ColourStats.from_images(SMALL))
    assert len(fig.axes) == 8
    shapes = [ax.get_images()[0].get_array().shape for ax in fig.axes]
    assert shapes == [(256, 256, 3)] * 4 + [(224, 224, 3)] * 4
    titles = {t.get_text() for t in fig.texts}
    assert titles == {"stored, 256×256", "random 224×224 crop, reflection, PCA colour"}
    assert_fits_the_page(fig)


def test_the_image_rows_figure_fits_the_page():
    rows = [[np.zeros((32, 32, 3), np.uint8)] * 4, [np.full((24, 24, 3), 255, np.uint8)] * 3]
    fig = G.image_rows_figure(rows, ["a first row", "a second, shorter row"])
    assert len(fig.axes) == 7
    assert_fits_the_page(fig)

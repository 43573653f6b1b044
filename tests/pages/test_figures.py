"""The book's figures: sized for the page (no wider than the content column, no text under 10 pt),
legends outside the data, every seed shown, and the paper's drawings made from the model."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from alexnet_core import AlexNet, layer_table  # noqa: E402
from alexnet_core.book.engine import artifacts as F  # noqa: E402
from alexnet_core.book.pages import architecture, results  # noqa: E402
from alexnet_core.book.pages import style as P  # noqa: E402
from alexnet_core.book.pages import dropout, learning, lrn  # noqa: E402
from alexnet_core.book.engine.records import Record  # noqa: E402


@pytest.fixture(autouse=True)
def style():
    P.use_style()
    yield
    plt.close("all")


def run(seed: int, errors: list[float], train: float = 10.0, lr: float = 0.01) -> dict:
    history = [dict(epoch=i + 1, val_top1=e, train_top1=e + 1, lr=lr if i < 3 else lr / 10)
               for i, e in enumerate(errors)]
    return Record.from_dict(dict(history=history, metrics=dict(val_top1=errors[-1], final_train_top1=train + seed),
                provenance=dict(seed=seed)))


GROUPS = {"with": [run(s, [60, 40, 30 + s, 25 + s]) for s in range(3)],
          "without a long variant name": [run(s, [62, 45, 35, 31 + s]) for s in range(3)]}


def png_width(fig) -> int:
    """The figure's width in pixels as the notebook's inline backend saves it (tight box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    from PIL import Image
    return Image.open(io.BytesIO(buf.getvalue())).width


def assert_fits_the_page(fig) -> None:
    fig.canvas.draw()
    assert png_width(fig) <= 720, "wider than the book's content column: it would be shrunk"
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_fontsize() < P.SMALLEST_FONT]
    assert not small, f"text under {P.SMALLEST_FONT} pt: {small}"


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_the_ablation_figure_fits_the_page_with_its_legends_outside_the_data():
    fig = P.ablation_figure(GROUPS, ", cpu")
    assert_fits_the_page(fig)
    renderer = fig.canvas.get_renderer()
    assert len(fig.legends) == 2
    for legend in fig.legends:
        for ax in fig.axes:
            assert not overlaps(legend.get_window_extent(renderer), ax.get_window_extent(renderer))


def test_the_bars_show_every_seed_and_the_standard_error():
    fig = P.ablation_figure(GROUPS)
    bars = fig.axes[1]
    dots = [line for line in bars.get_lines() if line.get_marker() == "o"]
    assert sum(len(line.get_xdata()) for line in dots) == 2 * 6  # training and validation, three seeds each
    values = sorted(x for line in dots for x in line.get_xdata())
    assert values == sorted([r.metrics["val_top1"] for runs in GROUPS.values() for r in runs]
                            + [r.metrics["final_train_top1"] for runs in GROUPS.values() for r in runs])
    assert len(bars.containers) == 4 + 4  # four bars, four error bars
    single = P.ablation_figure({"a": [run(0, [50, 40])], "b": [run(0, [55, 45])]})
    assert not [line for line in single.axes[1].get_lines() if line.get_marker() == "o"]
    labels = [t.get_text() for legend in single.legends for t in legend.get_texts()]
    assert P.ONE_RUN in labels  # the figure says that its bars carry no spread
    assert P.ONE_RUN not in [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_every_learning_rate_schedule_has_its_own_panel():
    groups = {name: [run(0, [50, 40, 30, 20], lr=lr)] for name, lr in
              (("reference", 0.003), ("bias-zero", 0.003), ("no-weight-decay", 0.003), ("paper-lr", 0.01))}
    fig = learning.lr_schedule_figure(groups)
    assert_fits_the_page(fig)
    drawn = [ax for ax in fig.axes if ax.get_lines()]
    assert [ax.get_title() for ax in drawn] == list(groups)


def test_the_other_charts_fit_the_page():
    rows = [dict(variant=v, lr=lr, seed=s, step_losses=[2.5, 2.4, 2.3], recipe=rec)
            for v in ("dropout", "no-dropout") for lr in (0.003, 0.001) for s in (0, 1) for rec in ("printed", "coded")]
    study = dict(rows=rows, chance_loss=2.3)
    for fig in (P.curves_figure(GROUPS, "train_top1", "training error (%)", ", cpu", (25, "25% target")),
                dropout.early_steps_figure(study), learning.recipe_start_figure(study), lrn.lrn_conventions_figure(),
                P.pending_figure(2, 6, "lrn_convlocal", "cpu"), P.note_figure("no dataset was given")):
        assert_fits_the_page(fig)


def test_figure_2_is_traced_from_the_model():
    model = AlexNet()
    layers = architecture.architecture_layers(model)
    names = [layer["name"] for layer in layers]
    assert names == ["input", "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert [layer["shape"] for layer in layers[1:]] == [r["output_shape"] for r in layer_table(model)]
    assert [layer["columns"] for layer in layers] == [1, 2, 2, 2, 2, 2, 1, 1, 1]
    assert [layer["sees"] for layer in layers[1:]] == ["all", "own column", "both columns", "own column",
                                                        "own column", "both columns", "all", "all"]
    assert layers[1]["after"] == (96, 27, 27) and "LRN" in layers[1]["ops"]
    one = architecture.architecture_layers(AlexNet(10, groups=1, width=0.5, remove_conv=3))
    assert "conv3" not in [layer["name"] for layer in one] and {layer["columns"] for layer in one} == {1}
    assert one[-1]["shape"] == (10,)


def test_figure_2_draws_what_a_forward_pass_gives_for_any_model():
    toy = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.Conv2d(4, 6, 3, groups=2),
                              torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(6 * 27 * 27, 5))
    layers = architecture.architecture_layers(toy, input_size=113)
    assert [layer["shape"] for layer in layers[1:]] == [(4, 56, 56), (6, 54, 54), (5,)]
    assert layers[2]["after"] == (6, 27, 27) and layers[1]["columns"] == 2
    fig = architecture.architecture_figure(AlexNet())
    assert_fits_the_page(fig)
    texts = {t.get_text() for t in fig.findobj(Text)}
    assert "48×55×55\npooled 48×27×27" in texts and "column 2 (GPU 2)" in texts


def test_figure_3_lays_out_each_columns_kernels_as_three_rows_of_sixteen():
    kernels = np.random.default_rng(0).normal(size=(96, 3, 11, 11))
    mosaic = results.kernel_mosaic(kernels[:48])
    assert mosaic.shape == (3 * 12 - 1, 16 * 12 - 1, 3) and mosaic.min() >= 0 and mosaic.max() <= 1
    fig = results.kernels_figure(kernels, 2, list(np.linspace(0, 1, 96)))
    assert_fits_the_page(fig)
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["column 1 (GPU 1)", "column 2 (GPU 2)"]
    assert [ax.get_images()[0].get_array().shape[:2] for ax in fig.axes] == [(35, 191)] * 2
    assert "one column" in results.kernels_figure(kernels[:64], 1).axes[0].get_title()


def test_figure_4_queries_take_one_image_per_class_spread_over_the_classes():
    labels = [c for c in range(10) for _ in range(30)]
    chosen = F.query_indices(labels, 8, seed=0)
    assert [labels[i] for i in chosen] == [0, 1, 3, 4, 5, 6, 8, 9]
    assert chosen == F.query_indices(labels, 8, seed=0) != F.query_indices(labels, 8, seed=1)
    assert sorted(labels[i] for i in F.query_indices(labels[:120], 8)) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_figure_4_states_the_rule_its_record_was_made_under():
    labels = [c for c in range(10) for _ in range(30)]
    arrays = dict(classes=[str(c) for c in range(10)],
                  queries=dict(rule=F.QUERY_RULE, seed=0, val_index=F.query_indices(labels)))
    assert F.query_rule(arrays, labels).startswith("one validation image from each of 8 classes")
    assert "does not give" not in F.query_rule(arrays, labels)
    old = dict(classes=arrays["classes"], queries=dict(val_index=F.random_query_indices(len(labels))))
    assert "uniformly at random" in F.query_rule(old, labels) and "does not give" not in F.query_rule(old, labels)
    assert "does not give" in F.query_rule(old, labels[:200])


def test_figure_4_frames_the_neighbours_of_another_class_by_their_folder():
    arrays = dict(classes=["n01", "n02"], queries=dict(label=[0, 1], neighbour_files=[
        ["/tmp/data/x/train/n01/a.JPEG", "/elsewhere/train/n02/b.JPEG"], ["train/n02/c.JPEG", "train/n02/d.JPEG"]]))
    assert F.neighbour_same_class(arrays) == [[True, False], [True, True]]


def test_figure_4_puts_each_prediction_under_its_image():
    images = [np.full((32, 32, 3), 40 * i, dtype=np.uint8) for i in range(3)]
    names = ["tench", "English springer", "cassette player", "chain saw", "church", "French horn"]
    top = [[0, 1, 2, 3, 4], [2, 1, 0, 5, 4], [5, 4, 3, 2, 1]]
    fig = results.predictions_figure(images, [0, 1, 5], top, [[0.6, 0.2, 0.1, 0.05, 0.05]] * 3, names)
    assert_fits_the_page(fig)
    pictures = [ax for ax in fig.axes if ax.get_images()]
    bars = [ax for ax in fig.axes if ax.patches]
    assert [ax.get_title() for ax in pictures] == ["tench", "English springer", "French horn"]
    for picture, panel, classes in zip(pictures, bars, top):
        assert [t.get_text() for t in panel.get_yticklabels()] == [names[k] for k in classes]
        assert panel.get_position().y1 < picture.get_position().y0  # below its image
        assert abs(panel.get_position().x0 - picture.get_position().x0) < 0.3  # in the same column
    fig = results.neighbours_figure(images, [images * 2] * 3, [[True] * 6, [False] + [True] * 5, [True] * 6])
    assert_fits_the_page(fig)
    framed = [ax for ax in fig.axes if ax.get_images() and ax.spines["left"].get_visible()]
    assert len(framed) == 1


def test_the_performance_figures_fit_the_page():
    from alexnet_core.book.pages import performance
    from alexnet_core.book.engine.benchmarks import load_cpu_benchmarks
    from alexnet_core.paths import BENCHMARK_RESULTS_DIR

    cpus = load_cpu_benchmarks(BENCHMARK_RESULTS_DIR)
    rows = performance.throughput_rows(cpus, performance.load_benchmark("gpu/gpu-throughput.json"))
    if not rows:
        pytest.skip("no benchmark is recorded")
    assert_fits_the_page(performance.throughput_figure(rows))
    assert_fits_the_page(performance.scaling_figure([b for b in cpus if b.scaling]))
    assert_fits_the_page(performance.scaling_figure([]))


def test_every_notebook_figure_is_numbered_and_captioned():
    """A figure the book shows is a ``{glue:figure}`` with a name (so Sphinx numbers it per
    chapter) and a caption; a bare ``plt.show()`` would put an unnumbered, uncaptioned image
    on the page."""
    import re
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.md")):
        text = path.read_text()
        assert "plt.show(" not in text and "display(fig" not in text, path.name
        glued = set(re.findall(r'glue\("(fig_\w+)"', text))
        blocks = re.findall(r"```\{glue:figure\} (\w+)\n((?::\w+:[^\n]*\n)*)\n(.+?)```", text, re.S)
        assert glued <= {key for key, _, _ in blocks}, path.name  # ch.ablation glues fig_<experiment> itself
        for key, options, caption in blocks:
            assert ":name: fig-" in options and len(caption.split()) >= 8, (path.name, key)


def test_the_scorecards_forest_plot_fits_the_page():
    from alexnet_core.book.pages import scorecard
    rows = [dict(section="3.3", claim=f"claim {i}: a long name of a claim on top-1 error (points)", metric="val_top1",
                 effect=i - 3.0, low=i - 6.0, high=i + 1.0, paper_effect=-1.4, word=word)
            for i, word in enumerate(("reproduced", "underpowered", "within noise", "not reproduced", "direction only"))]
    assert_fits_the_page(scorecard.forest_figure(rows))

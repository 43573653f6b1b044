"""What the authors' 2012 code shows that the paper does not, each fact with its file and line.

Read from ``computerhistory/AlexNet-Source-Code`` (commit 2f8b81f7) and, for the CIFAR-10
net with normalisation, ``dnouri/cuda-convnet`` (commit e4ac0c1f); the book's chapter "The paper
and its code" tabulates them. These are cited numbers, like the paper's own in
:mod:`alexnet_core.book.engine.plan`: nothing here is measured by this project.
"""
from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "computerhistory/AlexNet-Source-Code"
COMMIT = "2f8b81f76470bf873c865754ad8f4a5e0dbbeb7b"


@dataclass(frozen=True)
class Difference:
    """One place where the code that made the paper's numbers differs from the paper's text."""

    topic: str
    paper: str
    code: str
    source: str  # file:line in the repository
    switch: str  # the TrainConfig setting that selects it ("" where the book has none)
    book: str  # what the book's runs do


DIFFERENCES = (
    Difference("LRN's alpha", "alpha = 1e-4 multiplies the sum of squares over n = 5 maps",
               "scale /= size: 1e-4 / 5 multiplies the sum (PyTorch's nn.LocalResponseNorm convention)",
               "layer.py:1183", "lrn_alpha", "printed, or per-window under --recipe coded"),
    Difference("Layer 1's order", "ReLU, then LRN, then max-pooling",
               "rnorm1 takes conv1 (no neuron); pool1 applies neuron=relu: LRN sees signed inputs",
               "layers/layers-145.cfg:9-63", "lrn1_before_relu", "after the ReLU, or before it as coded"),
    Difference("An extra normalisation", "not mentioned",
               "cnorm2 (type rnorm, within-map, size 5, scale 0.001 / 25, k = 1) after rnorm2, before pool2",
               "layers/layers-145.cfg:107-117; layer-params-145.cfg:157-163", "norm2_within_map",
               "absent, or present as coded"),
    Difference("Initial weights of conv3-5", "N(0, 0.01) for every layer",
               "initW=0.03 for conv3, conv4 and conv5 (0.01 elsewhere)",
               "layers/layers-145.cfg:143, 172, 200", "conv345_std", "0.01, or 0.03 as coded"),
    Difference("Biases' learning rate", "one learning rate, 0.01, for all layers",
               "epsB=0.02: biases at twice the weights' starting rate; the notes lower only epsW",
               "layers/layer-params-145.cfg:19 and notes at 169-181", "bias_lr_mult",
               "1x, or 2x as coded (kept at 2x the weights' rate after each drop, unlike run #145)"),
    Difference("LRN across the columns", "adjacent kernel maps (the two columns are not mentioned)",
               "each column normalised apart: rnorm1a/rnorm1b over conv1a's/conv1b's 48 maps, rnorm2a/rnorm2b "
               "over 128: a window never reaches into the other column's maps",
               "layers/layers-145.cfg:35-45, 95-105", "lrn_per_column", "across both, or within each column as coded"),
    Difference("Dropout's scale", "at test time, use all the neurons but multiply their outputs by 0.5",
               "hs layers (keep=0.5): a 0/1 mask in training with no rescaling, outputs x0.5 at test, as printed",
               "src/layer.cu:1126-1135; layers/layers-145.cfg:256-264, 284-292", "dropout_scaling",
               "x0.5 at test under both recipes (nn.Dropout's inverted form, /0.5 in training, before December 2026)"),
    Difference("Colour noise", "add [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T, a ~ N(0, 0.1)",
               "the same noise, then the whole crop divided by 1 + 0.1 (at noise 0, divided by 1)",
               "convdata.py:202-205", "colour_rescale",
               "not divided, or divided as coded; the colour ablation keeps the division "
               "(--colour-rescale-alone) so it measures the noise alone"),
    Difference("conv1's learning rate in the file", "one learning rate for all layers",
               "epsW=0.000, epsB=0.0 for conv1a/conv1b: the run's late state (the notes: conv1's rate cut at "
               "epoch 67 and set to 0 at epoch 72, colour noise off from 67), not its start",
               "layers/layer-params-145.cfg:1-11 and notes at 177-179", "",
               "conv1 learns at the weights' rate throughout (documented, not switched)"),
    Difference("The CIFAR-10 net with normalisation (11%)", "a four-layer CNN: 13% without normalisation, 11% with",
               "the final layers-conv-local-11pct.cfg (cuda-convnet svn r541): size-9 cross-map normalisation "
               "after pool1 and after conv2 before pool2, local3 of 64, fc10 decay 0.01; 2,112,970 parameters "
               "(the r540 draft, 93 s older: size 5 before each pooling, local3 of 32)",
               "dnouri/cuda-convnet r541 (a2a6af8) example-layers/layers-conv-local-11pct.cfg:32-38, 53-59, 71-74; "
               "layer-params-conv-local-11pct.cfg:41-46", "convlocal_version",
               "r541 for the pair as run, normalisation alone and pooling (pending); lrn_convlocal's records "
               "used the r540 draft"),
    Difference("Crops and flips", "a random 224 crop and reflection per image",
               "one crop position and one flip decision per chunk of 32 images (crop_chunk = 32)",
               "convdata.py:125, 252-259", "", "per image"),
    Difference("The schedule", "divide by 10 when validation error stops improving, three times",
               "by hand: epsW 0.01 -> 0.001 at epoch 25, -> 0.0001 at 51, -> 0.00001 at 79; conv1 frozen "
               "and colour noise off for the last epochs; killed at epoch 91",
               "layers/layer-params-145.cfg:169-181", "", "the plateau rule (patience, max_drops)"),
    Difference("Weight decay on biases", "the rule is written for weights",
               "wc passed to weights only; biases get 0", "src/layer.cu:562-565", "decay_biases",
               "weights only (the default)"),
)


@dataclass(frozen=True)
class AuthorsRun:
    """One of Krizhevsky's recorded runs: its change from #145 and the result his notes give."""

    run: str
    change: str
    top1: float
    top5: float
    view: str
    source: str


#: The run behind the paper's "1 CNN" row and the ablations behind sections 3.2-3.4.
AUTHORS_RUNS = (
    AuthorsRun("#145", "the paper's network (ILSVRC-2012)", 40.66, 18.21, "2012 val, view not named",
               "layers/layer-params-145.cfg:182"),
    AuthorsRun("#145 (multiview, after a restart)", "the same run, trained on to epoch 135", 40.25, 17.99,
               "2012 val, multiview", "layers/layer-params-145.cfg:202-203"),
    AuthorsRun("#147", "non-overlapping pooling (2/2)", 41.06, 18.51, "2012 val, multiview",
               "layers/layer-params-147.cfg:165, 173-174"),
    AuthorsRun("#148", "no normalisation layers", 42.03, 19.36, "2012 val, multiview",
               "layers/layer-params-148.cfg:137, 147-148"),
    AuthorsRun("#145-2010", "the paper's network on ILSVRC-2010", 37.47, 17.00, "2010 test, multiview",
               "layers/layer-params-145-2010.cfg:177-178"),
    AuthorsRun("#145-half", "one column (conv5 kept two columns wide), ILSVRC-2010", 39.17, 18.23,
               "2010 test, multiview", "layers/layer-params-145-half.cfg:90-100"),
    AuthorsRun("#167", "a later 'dexp' schedule, no normalisation over conv2", 40.49, 18.12,
               "2012 val, multiview", "layers/layer-params-167.cfg:177-185"),
    AuthorsRun("#165", "the same schedule family, normalisation kept", 40.98, 18.39, "2012 val, multiview",
               "layers/layer-params-165.cfg:195-204"),
    AuthorsRun("#169", "the same schedule family, normalisation kept", 40.60, 18.11, "2012 val, multiview",
               "layers/layer-params-169.cfg:195-202"),
)

_BY_RUN = {r.run: r for r in AUTHORS_RUNS}

#: Run #145's line in the notes that is labelled multiview (the run trained on to epoch 135).
MULTIVIEW_145 = "#145 (multiview, after a restart)"


def authors_effect(with_design: str, without: str, metric: str) -> float:
    """The authors' own effect, "with the design minus without", in points of ``top1`` or ``top5``."""
    a, b = _BY_RUN[with_design], _BY_RUN[without]
    return round(getattr(a, metric) - getattr(b, metric), 2)


def authors_pair(with_design: str, without: str) -> str:
    """'-1.37 / -1.15': the authors' own effect on top-1 and on top-5 error (sections 3.2-3.4), as the page says it."""
    return f"{authors_effect(with_design, without, 'top1'):+.2f} / {authors_effect(with_design, without, 'top5'):+.2f}"


def differences_table():
    """Every place the 2012 code differs from the paper's text (sections 3-5, :data:`DIFFERENCES`): what
    each says, where, what the book trains and the switch that selects the code's way, as a styled table."""
    import pandas as pd

    return pd.DataFrame([dict(topic=d.topic, paper=d.paper, **{"2012 code": d.code}, where=d.source,
                              **{"this book": d.book, "switch": f"--{d.switch.replace('_', '-')}" if d.switch else "-"})
                         for d in DIFFERENCES]).style.hide(axis="index")


def authors_runs_table():
    """The authors' recorded runs behind Table 2 and the ablations of sections 3.2-3.4
    (:data:`AUTHORS_RUNS`) and their final errors, as a styled table."""
    import pandas as pd

    return pd.DataFrame([{"run": r.run, "change from #145": r.change, "top-1 error (%)": r.top1,
                          "top-5 error (%)": r.top5, "evaluated on": r.view, "where": r.source} for r in AUTHORS_RUNS]
                        ).style.hide(axis="index").format({"top-1 error (%)": "{:.2f}", "top-5 error (%)": "{:.2f}"})


#: The scorecard's effects that one of the authors' own ablations measures: effect label ->
#: (run with the design, run without, metric). The effect's sign convention is the book's.
AUTHORS_EFFECTS = {
    "LRN on AlexNet: top-1 error (points)": ("#145", "#148", "top1"),
    "LRN on AlexNet: top-5 error (points)": ("#145", "#148", "top5"),
    "Overlapping pooling: top-1 error (points)": ("#145", "#147", "top1"),
    "Overlapping pooling: top-5 error (points)": ("#145", "#147", "top5"),
    "Two columns vs one half-width: top-1 (points)": ("#145-2010", "#145-half", "top1"),
    "Two columns vs one half-width: top-5 (points)": ("#145-2010", "#145-half", "top5"),
}


def authors_cell(claim: str) -> str:
    """The scorecard's "authors' run" cell: their own effect for this claim and the runs it compares."""
    if claim not in AUTHORS_EFFECTS:
        return "-"
    with_design, without, metric = AUTHORS_EFFECTS[claim]
    return f"{authors_effect(with_design, without, metric):+.2f} ({with_design} vs {without})"

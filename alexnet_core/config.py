"""One configuration object for a training run; every field is a documented CLI flag."""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


def opt(default: Any, help: str, choices: tuple | None = None) -> Any:
    """A config field with its command-line help (and allowed values)."""
    return field(default=default, metadata=dict(help=help, choices=choices))


#: The two presets of AlexNet's recipe (``--recipe``). ``printed``: what the paper says (sections
#: 3.3, 4.1, 5). ``coded``: what the 2012 code behind the paper's numbers did
#: (computerhistory/AlexNet-Source-Code, layers/layers-145.cfg and layer-params-145.cfg, layer.py,
#: convdata.py; book chapter "The paper and its code").
RECIPES: dict[str, dict] = {
    "printed": dict(lrn_alpha="printed", lrn1_before_relu=False, norm2_within_map=False, conv345_std=0.01,
                    bias_lr_mult=1.0, colour_rescale=False, dropout_scaling="test",
                    lrn_per_column=False),
    "coded": dict(lrn_alpha="per-window", lrn1_before_relu=True, norm2_within_map=True, conv345_std=0.03,
                  bias_lr_mult=2.0, colour_rescale=True, dropout_scaling="test",
                  lrn_per_column=True),
}


@dataclass
class TrainConfig:
    """Everything that defines a run. Defaults are the paper's settings where it states them."""

    # --- data (section 2)
    dataset: str = opt("imagenette", "cifar10, imagenette, imagenet, synthetic, or a path to an ImageFolder root")
    data_root: str | None = opt(None, "folder holding the datasets (default: $ALEXNET_DATA)")
    limit_train: int | None = opt(None, "train on a fixed random subset of this many images (quick tries)")
    limit_val: int | None = opt(None, "validate on a fixed random subset of this many images")
    decode_subset: bool = opt(False, "with --limit-train/--limit-val, decode only those images (and take the colour "
                                     "statistics from them) instead of caching the whole split first")
    skip_corrupt: bool = opt(False, "skip unreadable images (counted and listed) instead of stopping")
    download: bool = opt(False, "download CIFAR-10/Imagenette through torchvision when absent (needs internet)")
    stream: bool = opt(False, "decode JPEGs every epoch with DataLoader workers instead of the decode-once "
                              "cache (always on for imagenet)")
    stats_sample: int = opt(10_000, "images the mean image and PCA colour statistics come from when streaming")
    num_workers: int = opt(4, "DataLoader workers for streamed datasets (ImageNet)")
    # --- model (section 3)
    model: str = opt("alexnet", "network: alexnet (sections 3.1-3.5), cifarnet (Figure 1's four-layer net) or "
                                "convlocal (cuda-convnet's conv-local pair of section 3.3)",
                     ("alexnet", "cifarnet", "convlocal"))
    convlocal_version: str = opt("r540", "the conv-local net's file with normalisation: r540 (cuda-convnet's draft, size-5 "
                                         "normalisation before each pooling) or r541 (the final file: size-9 "
                                         "normalisation after pool1 and before pool2, local3 of 64, fc10 decay 0.01)",
                                 ("r540", "r541"))
    groups: int = opt(2, "AlexNet columns: 2 (paper) or 1", (1, 2))
    width: float = opt(1.0, "scale conv1-conv4 kernel counts (0.5 with --groups 1: section 3.2's baseline)")
    lrn: bool = opt(True, "local response normalisation (section 3.3)")
    overlap_pool: bool = opt(True, "3/2 overlapping max-pooling (section 3.4); off gives 2/2")
    activation: str = opt("relu", "non-linearity (section 3.1)", ("relu", "tanh"))
    dropout: float = opt(0.5, "dropout probability on fc6 and fc7 outputs (section 4.2); 0 disables")
    init: str = opt("paper", "initialisation: paper (N(0,0.01), biases 1 in conv2/4/5, fc6/7) or kaiming",
                    ("paper", "kaiming"))
    remove_conv: int | None = opt(None, "section 7's depth ablation: remove conv3 or conv4 (3 or 4)")
    bias_one: bool = opt(True, "paper init: biases 1 in conv2, conv4, conv5, fc6, fc7 (off: all 0)")
    # --- the recipe: the paper as printed, or as its authors' 2012 code ran it (ORIGINAL_CODE.md)
    recipe: str = opt("printed", "AlexNet recipe preset: printed (the paper's text) or coded (the authors' 2012 "
                                 "code, layers-145); each switch below left unset follows it", tuple(RECIPES))
    lrn_alpha: str | None = opt(None, "LRN alpha: printed (section 3.3's formula) or per-window (alpha/n: the 2012 "
                                      "code, PyTorch, Caffe)", ("printed", "per-window"))
    lrn1_before_relu: bool | None = opt(None, "layer 1 as coded: conv1 -> LRN -> pool -> ReLU (the paper: the LRN "
                                              "follows the ReLU)")
    norm2_within_map: bool | None = opt(None, "the 2012 code's extra within-map normalisation after conv2's LRN "
                                              "(cnorm2; the paper does not mention it)")
    conv345_std: float | None = opt(None, "initial weight std of conv3-conv5 (the paper: 0.01; the 2012 code: 0.03)")
    bias_lr_mult: float | None = opt(None, "biases' learning rate over the weights' (the paper: 1; the 2012 code: 2)")
    colour_rescale: bool | None = opt(None, "divide each training crop by 1 + pca_std after the colour noise, as the "
                                            "2012 code does (the paper does not)")
    lrn_per_column: bool | None = opt(None, "normalise each column's maps apart, as the 2012 code does (rnorm1a, "
                                            "rnorm2a of layers-145.cfg); the paper does not say")
    dropout_scaling: str | None = opt(None, "where dropout rescales: test (the paper and the 2012 code: a plain 0/1 "
                                            "mask in training, outputs x0.5 at test) or train (nn.Dropout's "
                                            "inverted form, /0.5 in training)", ("test", "train"))
    # --- augmentation (section 4.1)
    crop: int | None = opt(None, "input side: 224 or 227 for AlexNet (default 224), 24 or 32 for the CIFAR-10 nets (default 24)")
    random_crop: bool = opt(True, "random crops in training (off: centre crop)")
    flip: bool = opt(True, "random horizontal reflections in training")
    pca_colour: bool = opt(True, "PCA colour augmentation (section 4.1)")
    pca_std: float = opt(0.1, "standard deviation of the PCA colour coefficients")
    colour_rescale_alone: bool = opt(False, "with the colour rescale (--colour-rescale) and --no-pca-colour, still "
                                            "divide training crops by 1 + pca_std: the colour noise's ablation "
                                            "alone (the 2012 code drops the division with the noise)")
    subtract_mean: bool = opt(True, "subtract the training set's mean image (section 2)")
    # --- learning (section 5)
    epochs: int = opt(90, "epoch cap (the paper: about 90)")
    batch_size: int = opt(128, "global batch size (the paper: 128)")
    lr: float = opt(0.01, "initial learning rate (the paper: 0.01)")
    momentum: float = opt(0.9, "momentum (the paper: 0.9)")
    weight_decay: float = opt(5e-4, "weight decay (the paper: 0.0005)")
    decay_biases: bool = opt(False, "apply weight decay to biases too (the paper's rule names weights)")
    update_rule: str = opt("paper", "paper: v <- 0.9v - 0.0005 lr w - lr g; torch: torch.optim.SGD", ("paper", "torch"))
    patience: int = opt(3, "epochs without validation improvement before the lr is divided by 10")
    max_drops: int = opt(3, "how many times the lr may be divided (the paper: 3)")
    lr_factor: float = opt(10.0, "divide the lr by this on a plateau")
    min_delta: float = opt(0.0, "validation error must improve by more than this (points) to count")
    drop_by: int = opt(0, "budget runs: divide the lr after this epoch if no plateau has divided it yet (0: never)")
    early_stop: bool = opt(True, "stop after a plateau once the lr has been divided max_drops times")
    # --- evaluation (sections 4.1, 6)
    ten_crop: bool = opt(True, "final evaluation also with the ten-patch average")
    train_eval_images: int = opt(1024, "each epoch, also evaluate this many fixed training images as validation is "
                                       "evaluated (eval mode, centre crop): the training error the overfitting gap "
                                       "compares (0: off)")
    # --- runtime
    seed: int = opt(0, "random seed (model init, data order, augmentation, dropout)")
    random_streams: str = opt("shared", "shared: seed k of every variant shares the data order, every augmentation "
                                        "draw, the dropout masks and each same-shaped layer's initial weights (each "
                                        "layer from its own generator), so two variants' difference is paired; "
                                        "sequential: one stream in module order, only the draws used (before "
                                        "December 2026)", ("shared", "sequential"))
    device: str = opt("auto", "auto, cpu or cuda")
    precision: str = opt("auto", "auto (bf16 where fast), bf16 or fp32", ("auto", "bf16", "fp32"))
    channels_last: bool = opt(True, "channels_last memory format")
    compile: bool = opt(False, "torch.compile the model")
    data_on_device: str = opt("auto", "keep the uint8 dataset on the GPU: auto (when it fits), yes, no",
                              ("auto", "yes", "no"))
    threads: int | None = opt(None, "torch CPU threads (default: torch's choice)")
    progress: bool = opt(True, "tqdm progress bars")
    record_steps: int = opt(100, "keep the loss of each of the run's first this many steps in the history")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; known settings: {sorted(known)}")
        return cls(**values)

    def recipe_settings(self) -> dict:
        """The recipe's switches as this run uses them: each set explicitly, else the preset's."""
        preset = RECIPES[self.recipe] if self.recipe in RECIPES else RECIPES["printed"]
        return {name: preset[name] if getattr(self, name) is None else getattr(self, name) for name in preset}

    def validate(self) -> None:
        """Reject settings that cannot work, before any data is read: a :class:`ConfigError` that
        names each wrong flag, the value given and what it takes."""
        problems = [f"--{name.replace('_', '-')} {value!r}: {need}" for name, value, need in _problems(self)]
        if problems:
            raise ConfigError("invalid setting(s):\n  " + "\n  ".join(problems)
                              + "\nFix the flag(s) above; 'python -m alexnet_core train --help' lists every flag.")

    def resolved_crop(self) -> int:
        if self.crop is not None:
            return self.crop
        return 224 if self.model == "alexnet" else 24


class ConfigError(ValueError):
    """A setting out of its range; the message names the flag."""


def _number_problem(value: float | int | None, *, minimum: float, above: bool = False, maximum: float | None = None,
                    below: bool = False, whole: bool = False, optional: bool = False) -> str | None:
    """What is wrong with one number (None when nothing is): finite, in range, whole when it must be."""
    if value is None:
        return None if optional else "a number is required"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        return f"takes {'a whole number' if whole else 'a number'}"
    if not math.isfinite(value):
        return "must be a finite number"
    low = f"above {minimum:g}" if above else f"at least {minimum:g}"
    high = "" if maximum is None else f" and {'below' if below else 'at most'} {maximum:g}"
    if value < minimum or (above and value == minimum) or (maximum is not None and (value > maximum or (below and value == maximum))):
        return f"must be {low}{high}"
    return None


#: The largest seed: its generators (seed * 1000 + 17 for the augmentation) must fit in 64 bits.
MAX_SEED = 2**32 - 1

#: (field, range) for every numeric setting: see :func:`_number_problem`.
NUMBER_RANGES = dict(
    limit_train=dict(minimum=1, whole=True, optional=True), limit_val=dict(minimum=1, whole=True, optional=True),
    stats_sample=dict(minimum=1, whole=True), num_workers=dict(minimum=0, whole=True),
    width=dict(minimum=0, above=True), dropout=dict(minimum=0, maximum=1, below=True),
    pca_std=dict(minimum=0), epochs=dict(minimum=1, whole=True), batch_size=dict(minimum=1, whole=True),
    lr=dict(minimum=0, above=True), momentum=dict(minimum=0, maximum=1, below=True), weight_decay=dict(minimum=0),
    patience=dict(minimum=1, whole=True), max_drops=dict(minimum=0, whole=True), lr_factor=dict(minimum=1, above=True),
    min_delta=dict(minimum=0), drop_by=dict(minimum=0, whole=True), seed=dict(minimum=0, maximum=MAX_SEED, whole=True),
    threads=dict(minimum=1, whole=True, optional=True), record_steps=dict(minimum=0, whole=True),
    train_eval_images=dict(minimum=0, whole=True), crop=dict(minimum=1, whole=True, optional=True),
    conv345_std=dict(minimum=0, above=True, optional=True), bias_lr_mult=dict(minimum=0, optional=True),
)


def _problems(cfg: TrainConfig) -> list[tuple[str, object, str]]:
    found = []
    for name, limits in NUMBER_RANGES.items():
        value = getattr(cfg, name)
        problem = _number_problem(value, **limits)
        if problem:
            found.append((name, value, problem))
    if cfg.remove_conv not in (None, 3, 4):
        found.append(("remove_conv", cfg.remove_conv, "takes 3 or 4 (section 7 removes conv3 or conv4)"))
    for f in dataclasses.fields(TrainConfig):
        choices = f.metadata.get("choices")
        if choices and getattr(cfg, f.name) is not None and getattr(cfg, f.name) not in choices:
            found.append((f.name, getattr(cfg, f.name), f"takes one of {', '.join(map(str, choices))}"))
    if cfg.model == "alexnet" and cfg.crop is not None and cfg.crop not in (224, 227):
        found.append(("crop", cfg.crop, "AlexNet takes 224 or 227 crops (section 3.5)"))
    return found


#: The switch fields of :data:`RECIPES`, in the order the book's table lists them.
RECIPE_SWITCHES = ("lrn_alpha", "lrn1_before_relu", "norm2_within_map", "conv345_std", "bias_lr_mult",
                   "colour_rescale", "dropout_scaling", "lrn_per_column")

#: Settings added to TrainConfig whose default changed what is computed: the value every record
#: made before the setting existed was trained with (records.recorded_hash fills it in). Until
#: December 2026 AlexNet used nn.Dropout, the inverted form, and normalised across both columns' maps,
#: and every run drew its initial weights and augmentation from sequential streams.
LEGACY_SETTINGS = dict(dropout_scaling="train", lrn_per_column=False, random_streams="sequential")

#: Settings that do not change what is computed, only how fast or how it is shown.
RUNTIME_ONLY = ("progress", "num_workers", "threads", "data_root", "device", "data_on_device", "record_steps",
                "train_eval_images")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per :class:`TrainConfig` field, with its help and default."""
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        choices = f.metadata.get("choices")
        if f.type in ("bool", bool, "bool | None"):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default,
                                help=help_text)
            continue
        kind = {"int": int, "float": float, "str": str, "int | None": int, "str | None": str,
                "float | None": float}.get(str(f.type), str)
        parser.add_argument(flag, dest=f.name, type=kind, default=f.default, choices=choices,
                            help=help_text)  # the parser's formatter appends the default


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})

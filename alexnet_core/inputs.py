"""A run's parts, made from its config: the data splits with their colour statistics, the
network, and the augmentation settings (sections 2, 3 and 4.1)."""
from __future__ import annotations

import os
import pickle
import warnings

import torch
from torch import nn

from . import data as D
from .augment import AugmentConfig, ColourStats
from .config import TrainConfig
from .convlocal import ConvLocalNet
from .model import AlexNet, CifarNet
from .paths import cache_dir


def build_model(cfg: TrainConfig, num_classes: int) -> nn.Module:
    """The network a config names, initialised under the config's seed."""
    torch.manual_seed(cfg.seed)
    crop = cfg.resolved_crop()
    recipe = cfg.recipe_settings()
    init_seed = cfg.seed if cfg.random_streams == "shared" else None  # alexnet_core.streams
    if cfg.model == "alexnet":
        model: nn.Module = AlexNet(num_classes, groups=cfg.groups, lrn=cfg.lrn, overlap_pool=cfg.overlap_pool,
                                   activation=cfg.activation, dropout=cfg.dropout, init=cfg.init,
                                   width=cfg.width, input_size=crop, remove_conv=cfg.remove_conv,
                                   lrn_alpha=recipe["lrn_alpha"], lrn1_before_relu=recipe["lrn1_before_relu"],
                                   norm2_within_map=recipe["norm2_within_map"], conv345_std=recipe["conv345_std"],
                                   dropout_scaling=recipe["dropout_scaling"], lrn_per_column=recipe["lrn_per_column"],
                                   init_seed=init_seed)
    elif cfg.model == "cifarnet":
        model = CifarNet(num_classes, activation=cfg.activation, lrn=cfg.lrn, input_size=crop, init=cfg.init,
                         init_seed=init_seed)
    elif cfg.model == "convlocal":  # the source's own normalisation convention unless set explicitly
        model = ConvLocalNet(num_classes, lrn=cfg.lrn, lrn_alpha=cfg.lrn_alpha or "per-window",
                             overlap_pool=cfg.overlap_pool, activation=cfg.activation, input_size=crop, init=cfg.init,
                             version=cfg.convlocal_version, init_seed=init_seed)
        return model  # biases start at 0 in the source: bias_one does not apply
    else:
        raise ValueError(f"unknown model {cfg.model!r}: choose alexnet, cifarnet or convlocal")
    if cfg.init == "paper" and not cfg.bias_one:
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.zeros_(m.bias)
    return model


def check_crop_fits(cfg: TrainConfig, size: int | None) -> None:
    """Refuse a ``--crop`` larger than the images are stored at, before any image is decoded."""
    stored = D.KNOWN_DATASETS[cfg.dataset]["size"] if size == -1 and cfg.dataset in D.KNOWN_DATASETS else size
    if stored is None and cfg.dataset == "cifar10":
        stored = 32
    if stored not in (None, -1) and cfg.resolved_crop() > stored:
        raise ValueError(f"--crop {cfg.resolved_crop()}: larger than the {stored}x{stored} images {cfg.dataset} is "
                         f"stored at; give --crop {stored} or less")


def load_data(cfg: TrainConfig) -> tuple[D.ImageSet, D.ImageSet, ColourStats]:
    """Training and validation splits (decoded once) and the training set's colour statistics.

    The layout (both splits, the same classes) is checked before any image is decoded, and the
    two splits are checked again after loading: a label means the same class in both."""
    if cfg.dataset == "synthetic":
        side = 256 if cfg.model == "alexnet" else 32
        train = D.synthetic_image_set(n=cfg.limit_train or 256, num_classes=4, side=side, seed=1)
        val = D.synthetic_image_set(n=cfg.limit_val or 64, num_classes=4, side=side, seed=2)
        return train, val, ColourStats.from_images(train)
    D.check_layout(cfg.dataset, cfg.data_root, download=cfg.download)
    size = D.store_size(cfg.dataset, cfg.model)
    check_crop_fits(cfg, size)
    if cfg.stream or cfg.dataset == "imagenet":
        train = D.load_streaming(cfg.dataset, "train", cfg.data_root, skip_corrupt=cfg.skip_corrupt,
                                 limit=cfg.limit_train, size=size)
        val = D.load_streaming(cfg.dataset, "val", cfg.data_root, skip_corrupt=cfg.skip_corrupt, limit=cfg.limit_val,
                               size=size)
        D.check_same_classes(train, val)
        return train, val, ColourStats.from_images(train.sample_images(min(cfg.stats_sample, len(train)), cfg.seed))
    kwargs = dict(root=cfg.data_root, skip_corrupt=cfg.skip_corrupt, download=cfg.download, size=size)
    if cfg.decode_subset:
        train = D.load(cfg.dataset, "train", limit=cfg.limit_train, decode_subset=True, **kwargs)
        val = D.load(cfg.dataset, "val", limit=cfg.limit_val, decode_subset=True, **kwargs)
        D.check_same_classes(train, val)
        return train, val, cached_colour_stats(train)
    train = D.load(cfg.dataset, "train", **kwargs)
    val = D.load(cfg.dataset, "val", **kwargs)
    D.check_same_classes(train, val)
    stats = cached_colour_stats(train)
    return train.subset(cfg.limit_train, seed=0), val.subset(cfg.limit_val, seed=0), stats


def cached_colour_stats(train: D.ImageSet) -> ColourStats:
    """Mean image and RGB eigen-decomposition of the whole training split, cached beside its images
    (computed afresh, with the cache file named, where the cached copy is damaged or cannot be written)."""
    key = getattr(train, "key", "")
    path = cache_dir() / f"{key}.stats.pt" if key else None
    if path is not None and path.exists():
        try:
            return ColourStats(**torch.load(path, weights_only=True))
        except (OSError, RuntimeError, EOFError, TypeError, ValueError, pickle.UnpicklingError) as err:
            warnings.warn(f"the cached colour statistics {path} are damaged ({err}); computing them afresh", stacklevel=2)
    stats = ColourStats.from_images(train)
    if path is not None:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            torch.save(stats.state_dict(), tmp)
            os.replace(tmp, path)
        except (OSError, RuntimeError) as err:
            tmp.unlink(missing_ok=True)
            warnings.warn(f"cannot cache the colour statistics at {path} ({err}); they are recomputed next time",
                          stacklevel=2)
    return stats


def augment_config(cfg: TrainConfig) -> AugmentConfig:
    return AugmentConfig(crop=cfg.resolved_crop(), random_crop=cfg.random_crop, flip=cfg.flip,
                         pca_colour=cfg.pca_colour, pca_std=cfg.pca_std, subtract_mean=cfg.subtract_mean,
                         colour_rescale=cfg.recipe_settings()["colour_rescale"],
                         rescale_alone=cfg.colour_rescale_alone, draw_all=cfg.random_streams == "shared")

"""Common random numbers: the random streams two variants of one seed share.

An ablation's effect is read as the difference between two runs of the same seed (BOOK.md's
rule pairs them), and that difference is least noisy when the two runs differ only where the
ablation makes them differ. Under ``random_streams="shared"`` (the default) seed k of every
variant therefore shares with the reference:

* the data order (one generator seeded by the run's seed, as always);
* every augmentation draw (crop offsets, reflections, PCA colour coefficients), drawn for every
  image whether or not the variant uses them (:class:`alexnet_core.augment.Augmenter`);
* the dropout masks where the shapes agree (the global generator, used by dropout alone);
* the initial weights of every layer whose shape both nets have: each layer is drawn from its own
  generator, seeded by the run's seed and the layer's name (:func:`layer_generator`), not from
  one stream in module order, where removing conv3 would shift every later layer's draw.

``sequential`` is how runs were made before December 2026 (one stream in module order, only the
draws a variant uses); records made then are read as made so.
"""
from __future__ import annotations

import hashlib

import torch

#: The values of ``TrainConfig.random_streams``.
STREAMS = ("shared", "sequential")


def layer_seed(seed: int, layer: str) -> int:
    """A 63-bit seed for one layer's initial weights, from the run's seed and the layer's name."""
    digest = hashlib.sha256(f"alexnet-init/{seed}/{layer}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def layer_generator(seed: int | None, layer: str) -> torch.Generator | None:
    """The generator layer ``layer`` is initialised from under ``seed``; None (the global stream,
    in module order) when ``seed`` is None."""
    if seed is None:
        return None
    return torch.Generator().manual_seed(layer_seed(seed, layer))


__all__ = ["STREAMS", "layer_generator", "layer_seed"]

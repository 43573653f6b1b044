"""Training augmentation and test-time crops as batched tensor ops (sections 2 and 4.1).

All randomness comes from a ``torch.Generator`` on the training device, so a seed fixes
every crop, flip and colour shift. Inputs are uint8 batches ``N x 3 x S x S`` (S = 256 for
ImageNet-like sets, 32 for CIFAR-10); outputs are float32 ``N x 3 x crop x crop`` in
channels_last memory order, in the paper's raw pixel units: values 0-255 minus the mean
image of the training set (section 2: "we did not pre-process the images in any other way,
except for subtracting the mean activity over the training set from each pixel").

Pixel range of the PCA colour augmentation (section 4.1). The paper adds
``[p1 p2 p3][a1 l1, a2 l2, a3 l3]^T`` with ``a_i ~ N(0, 0.1)``, where ``l_i`` are eigenvalues
of the RGB covariance, i.e. variances, so the shift grows with the square of the pixel
scale. We compute the covariance on pixel values scaled to [0, 1] (as the widely used
re-implementations do), so a typical shift is a few hundredths of the range, and multiply
the shift by 255 to add it to 0-255 pixels. Computed in 0-255 units instead, the same
formula would shift colours by hundreds of levels.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .data import ImageSet

#: Factor from the [0, 1] range the colour statistics are computed in to stored pixel units.
PCA_PIXEL_SCALE = 255.0


@dataclass
class AugmentConfig:
    """Which of section 4.1's augmentations to apply; each is a switch for the ablations.

    ``crop`` is the network's input side (224 or 227 from 256; 24 from CIFAR's 32).
    ``random_crop=False`` trains on centre crops; ``flip`` adds horizontal reflections with
    probability 0.5; ``pca_colour`` adds the colour shift with ``pca_std`` (0.1 in the paper);
    ``subtract_mean`` removes the per-pixel mean image; ``colour_rescale`` divides each training
    crop by ``1 + pca_std`` after the colour noise, as the authors' 2012 code did "so that the
    overall scale of the training data doesn't become too different from the test data"
    (``convdata.py``); test views are never scaled. The code ties that division to the noise (at
    noise 0 it divides by 1); ``rescale_alone`` keeps it without the noise, so an ablation of the
    colour noise can leave the rescale in place and measure the noise alone. ``draw_all`` draws
    every random number of every augmentation for every image, used or not, so that variants of
    one seed see the same crops and flips whichever augmentations they switch off
    (:mod:`alexnet_core.streams`).
    """

    crop: int = 224
    random_crop: bool = True
    flip: bool = True
    pca_colour: bool = True
    pca_std: float = 0.1
    subtract_mean: bool = True
    colour_rescale: bool = False
    rescale_alone: bool = False
    draw_all: bool = False

    @property
    def train_scale(self) -> float:
        """The factor training crops are multiplied by (1, or 1 / (1 + pca_std) as coded)."""
        rescaled = self.colour_rescale and (self.pca_colour or self.rescale_alone)
        return 1.0 / (1.0 + self.pca_std) if rescaled else 1.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ColourStats:
    """Training-set statistics: the mean image and the RGB covariance's eigen-decomposition.

    ``eigenvectors[:, i]`` is p_i and ``eigenvalues[i]`` is l_i, computed on [0, 1] pixels.
    """

    mean_image: torch.Tensor   # float32, 3 x S x S, in 0-255 units
    eigenvalues: torch.Tensor  # float32, 3, ascending
    eigenvectors: torch.Tensor  # float32, 3 x 3, columns are eigenvectors

    @classmethod
    def from_images(cls, data: ImageSet | torch.Tensor, chunk: int = 256) -> "ColourStats":
        """Mean image and RGB covariance over every pixel of every training image."""
        images = data.images if isinstance(data, ImageSet) else data
        n = images.shape[0]
        total = torch.zeros(images.shape[1:], dtype=torch.float64)
        rgb_sum = torch.zeros(3, dtype=torch.float64)
        rgb_outer = torch.zeros(3, 3, dtype=torch.float64)
        for start in range(0, n, chunk):
            block = torch.as_tensor(images[start:start + chunk]).to(torch.float64)
            total += block.sum(0)
            pixels = block.permute(1, 0, 2, 3).reshape(3, -1) / PCA_PIXEL_SCALE
            rgb_sum += pixels.sum(1)
            rgb_outer += pixels @ pixels.T
        count = n * images.shape[2] * images.shape[3]
        mean_rgb = rgb_sum / count
        cov = rgb_outer / count - torch.outer(mean_rgb, mean_rgb)
        values, vectors = torch.linalg.eigh(cov)
        return cls((total / n).float(), values.float(), vectors.float())

    def to(self, device: torch.device | str) -> "ColourStats":
        return ColourStats(self.mean_image.to(device), self.eigenvalues.to(device), self.eigenvectors.to(device))

    def state_dict(self) -> dict:
        return dict(mean_image=self.mean_image, eigenvalues=self.eigenvalues, eigenvectors=self.eigenvectors)


def crop_batch(images: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """Crop each image ``i`` at (``top[i]``, ``left[i]``) to ``size`` x ``size`` in one gather.

    Returns N x C x size x size with channels_last strides.
    """
    n = images.shape[0]
    offsets = torch.arange(size, device=images.device)
    rows = (top.to(images.device)[:, None] + offsets)[:, :, None]
    cols = (left.to(images.device)[:, None] + offsets)[:, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None]
    return images[batch, :, rows, cols].permute(0, 3, 1, 2)  # N x size x size x C -> NCHW view


def crop_mean(mean_image: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """The mean image cropped at each image's offsets: N x C x size x size."""
    offsets = torch.arange(size, device=mean_image.device)
    rows = (top.to(mean_image.device)[:, None] + offsets)[:, :, None]
    cols = (left.to(mean_image.device)[:, None] + offsets)[:, None, :]
    return mean_image[:, rows, cols].permute(1, 0, 2, 3)


def pca_colour_shift(n: int, stats: ColourStats, std: float, generator: torch.Generator | None,
                     device: torch.device) -> torch.Tensor:
    """Section 4.1's shift for ``n`` images: ``sum_i p_i * a_i * l_i`` with ``a_i ~ N(0, std)``.

    Returns N x 3, in stored pixel units (see the module docstring for the range).
    """
    return colour_shift(torch.randn(n, 3, generator=generator, device=device), stats, std)


def colour_shift(draws: torch.Tensor, stats: ColourStats, std: float) -> torch.Tensor:
    """The colour shift of standard-normal ``draws`` (N x 3): ``a_i = std * draw_i``."""
    alpha = draws * std
    return (alpha * stats.eigenvalues.to(draws.device)) @ stats.eigenvectors.to(draws.device).T * PCA_PIXEL_SCALE


class Augmenter:
    """Turns uint8 batches into network inputs, for training and for evaluation."""

    def __init__(self, config: AugmentConfig, stats: ColourStats | None = None, batched: bool | None = None):
        """``batched``: one gather per batch (default on GPUs) or a per-image loop (default on CPU)."""
        if (config.subtract_mean or config.pca_colour) and stats is None:
            raise ValueError("mean subtraction and PCA colour need the training set's ColourStats")
        self.config = config
        self.stats = stats
        self.batched = batched
        self._stats_on: dict[torch.device, ColourStats] = {}

    def _stats(self, device: torch.device) -> ColourStats:
        if device not in self._stats_on:
            self._stats_on[device] = self.stats.to(device)
        return self._stats_on[device]

    def _views(self, images: torch.Tensor, top: torch.Tensor, left: torch.Tensor,
               mirror: torch.Tensor | None = None, shift: torch.Tensor | None = None,
               scale: float = 1.0) -> torch.Tensor:
        """Crop each image at (top, left), subtract the mean image cropped at the same place,
        reflect where ``mirror``, add the per-image colour ``shift`` (N x 3), scale.

        On CUDA this is one batched gather; on CPU a loop over images whose working set stays
        in cache, several times faster there than the gather. Both give the same numbers.
        """
        cfg, n, size = self.config, images.shape[0], self.config.crop
        mean = self._stats(images.device).mean_image if cfg.subtract_mean else None
        if self.batched or (self.batched is None and images.device.type != "cpu"):
            x = crop_batch(images, top, left, size).float()
            if mean is not None:
                x = x - crop_mean(mean, top, left, size)
            if mirror is not None:
                x = torch.where(mirror[:, None, None, None], x.flip(3), x)
            if shift is not None:
                x = x + shift[:, :, None, None]
            if scale != 1.0:
                x = x * scale
            return x.contiguous(memory_format=torch.channels_last)
        out = torch.empty(n, 3, size, size, dtype=torch.float32).contiguous(memory_format=torch.channels_last)
        tops, lefts = top.tolist(), left.tolist()
        mirrors = mirror.tolist() if mirror is not None else [False] * n
        for i in range(n):
            t, l = tops[i], lefts[i]
            x = images[i, :, t:t + size, l:l + size].float()
            if mean is not None:
                x = x.sub_(mean[:, t:t + size, l:l + size])
            if shift is not None:
                x = x.add_(shift[i][:, None, None])
            if scale != 1.0:
                x = x.mul_(scale)
            out[i] = x.flip(2) if mirrors[i] else x
        return out

    def _check(self, images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected a uint8 N x 3 x H x W batch, got {tuple(images.shape)} {images.dtype}")
        if min(images.shape[2:]) < self.config.crop:
            raise ValueError(f"images of {tuple(images.shape[2:])} are smaller than the crop {self.config.crop}")

    def train(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random crop, reflection and colour shift for one training batch (section 4.1)."""
        self._check(images)
        cfg, device, n = self.config, images.device, images.shape[0]
        h, w = images.shape[2:]
        if cfg.draw_all or cfg.random_crop:
            top = torch.randint(0, h - cfg.crop + 1, (n,), generator=generator, device=device)
            left = torch.randint(0, w - cfg.crop + 1, (n,), generator=generator, device=device)
        if not cfg.random_crop:
            top = torch.full((n,), (h - cfg.crop) // 2, device=device)
            left = torch.full((n,), (w - cfg.crop) // 2, device=device)
        coin = torch.rand(n, generator=generator, device=device) if cfg.draw_all or cfg.flip else None
        mirror = coin < 0.5 if cfg.flip else None
        draws = torch.randn(n, 3, generator=generator, device=device) if cfg.draw_all or cfg.pca_colour else None
        shift = colour_shift(draws, self._stats(device), cfg.pca_std) if cfg.pca_colour else None
        return self._views(images, top, left, mirror, shift, cfg.train_scale)

    def centre(self, images: torch.Tensor) -> torch.Tensor:
        """The centre crop, the single view used for validation during training."""
        self._check(images)
        n, (h, w) = images.shape[0], images.shape[2:]
        top = torch.full((n,), (h - self.config.crop) // 2, device=images.device)
        left = torch.full((n,), (w - self.config.crop) // 2, device=images.device)
        return self._views(images, top, left)

    def ten_crop(self, images: torch.Tensor) -> torch.Tensor:
        """Section 4.1's ten test patches: four corners and the centre, and their reflections.

        Returns 10 x N x 3 x crop x crop in torchvision ``TenCrop`` order (top-left, top-right,
        bottom-left, bottom-right, centre, then the same five patches of the reflected image).
        """
        self._check(images)
        n, (h, w), c = images.shape[0], images.shape[2:], self.config.crop
        corners = [(0, 0), (0, w - c), (h - c, 0), (h - c, w - c), ((h - c) // 2, (w - c) // 2)]
        views = []
        for top, left in corners:
            t = torch.full((n,), top, device=images.device)
            l = torch.full((n,), left, device=images.device)
            views.append(self._views(images, t, l))
        # the five patches of the reflected image: its top-left is the original's top-right, ...
        views += [views[i].flip(3) for i in (1, 0, 3, 2, 4)]
        return torch.stack(views)

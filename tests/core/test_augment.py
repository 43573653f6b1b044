"""Section 4.1's augmentations and ten-patch test, as batched tensor ops."""
import pytest
import torch
from torchvision.transforms import v2 as T

from alexnet_core.augment import (PCA_PIXEL_SCALE, AugmentConfig, Augmenter, ColourStats, crop_batch,
                                  pca_colour_shift)
from alexnet_core.data import synthetic_image_set


@pytest.fixture(scope="module")
def batch():
    return synthetic_image_set(n=16, side=32, seed=0).images


@pytest.fixture(scope="module")
def stats(batch):
    return ColourStats.from_images(batch)


def test_colour_stats_match_a_direct_computation(batch, stats):
    x = batch.double()
    assert torch.allclose(stats.mean_image.double(), x.mean(0), atol=1e-4)
    pixels = (x / 255).permute(1, 0, 2, 3).reshape(3, -1)
    cov = torch.cov(pixels, correction=0)
    assert torch.allclose(stats.eigenvectors.double() @ torch.diag(stats.eigenvalues.double())
                          @ stats.eigenvectors.double().T, cov, atol=1e-6)


def test_shapes_dtype_and_memory_format(batch, stats):
    aug = Augmenter(AugmentConfig(crop=24), stats)
    out = aug.train(batch, torch.Generator().manual_seed(0))
    assert out.shape == (16, 3, 24, 24) and out.dtype == torch.float32
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert aug.centre(batch).shape == (16, 3, 24, 24)
    assert aug.ten_crop(batch).shape == (10, 16, 3, 24, 24)


def test_deterministic_under_a_seed(batch, stats):
    aug = Augmenter(AugmentConfig(crop=24), stats)
    a = aug.train(batch, torch.Generator().manual_seed(7))
    b = aug.train(batch, torch.Generator().manual_seed(7))
    c = aug.train(batch, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_random_crops_are_real_crops_within_bounds(batch):
    aug = Augmenter(AugmentConfig(crop=24, flip=False, pca_colour=False, subtract_mean=False))
    out = aug.train(batch, torch.Generator().manual_seed(1))
    seen = set()
    for i in range(len(batch)):
        matches = [(t, l) for t in range(9) for l in range(9)
                   if torch.equal(batch[i, :, t:t + 24, l:l + 24].float(), out[i])]
        assert matches, f"image {i} is not a 24x24 crop of its source"
        seen.update(matches)
    assert len(seen) > 4  # offsets vary across the batch


def test_crop_batch_against_slicing(batch):
    top, left = torch.tensor([0, 8] * 8), torch.tensor([3, 0] * 8)
    crops = crop_batch(batch, top, left, 24)
    for i in range(len(batch)):
        assert torch.equal(crops[i], batch[i, :, top[i]:top[i] + 24, left[i]:left[i] + 24])


def test_flips_are_horizontal_reflections_about_half_the_time(batch):
    aug = Augmenter(AugmentConfig(crop=32, random_crop=False, pca_colour=False, subtract_mean=False))
    big = batch.repeat(8, 1, 1, 1)
    out = aug.train(big, torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], big[i].flip(2).float()) for i in range(len(big))]
    same = [torch.equal(out[i], big[i].float()) for i in range(len(big))]
    assert all(f or s for f, s in zip(flipped, same))
    assert 0.3 < sum(flipped) / len(big) < 0.7


def test_mean_image_is_subtracted_at_the_crop_position(batch, stats):
    aug = Augmenter(AugmentConfig(crop=24, random_crop=False, flip=False, pca_colour=False), stats)
    out = aug.train(batch)
    expected = batch[:, :, 4:28, 4:28].float() - stats.mean_image[:, 4:28, 4:28]
    assert torch.allclose(out, expected)


def test_pca_colour_follows_the_formula(batch, stats):
    cfg = AugmentConfig(crop=32, random_crop=False, flip=False, pca_colour=True, subtract_mean=False)
    out = Augmenter(cfg, stats).train(batch, torch.Generator().manual_seed(3))
    alpha = torch.randn(len(batch), 3, generator=torch.Generator().manual_seed(3)) * 0.1
    # [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T, per image, the same for every pixel
    shift = torch.stack([stats.eigenvectors @ (a * stats.eigenvalues) for a in alpha]) * PCA_PIXEL_SCALE
    assert torch.allclose(out, batch.float() + shift[:, :, None, None], atol=1e-4)
    delta = out - batch.float()
    assert torch.allclose(delta, delta[:, :, :1, :1].expand_as(delta), atol=1e-4)


def test_pca_shift_scale_is_a_few_levels(stats):
    shift = pca_colour_shift(10_000, stats, 0.1, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert shift.std() < 0.1 * stats.eigenvalues.max() * PCA_PIXEL_SCALE * 1.2
    assert shift.abs().max() < 40


def test_ten_crop_matches_torchvision(batch, stats):
    aug = Augmenter(AugmentConfig(crop=24), stats)
    ours = aug.ten_crop(batch)
    theirs = T.TenCrop(24)(batch.float() - stats.mean_image)
    assert len(theirs) == 10
    for view, ref in zip(ours, theirs):
        assert torch.allclose(view, ref)


def test_missing_stats_and_bad_input_are_clear_errors(batch, stats):
    with pytest.raises(ValueError, match="ColourStats"):
        Augmenter(AugmentConfig())
    aug = Augmenter(AugmentConfig(crop=24), stats)
    with pytest.raises(ValueError, match="uint8"):
        aug.train(batch.float())
    with pytest.raises(ValueError, match="smaller than the crop"):
        Augmenter(AugmentConfig(crop=48), stats).train(batch)


def test_cpu_loop_and_batched_gather_give_the_same_batches(batch, stats):
    for cfg in (AugmentConfig(crop=24), AugmentConfig(crop=24, subtract_mean=False)):
        loop, gather = Augmenter(cfg, stats, batched=False), Augmenter(cfg, stats, batched=True)
        a = loop.train(batch, torch.Generator().manual_seed(5))
        b = gather.train(batch, torch.Generator().manual_seed(5))
        assert torch.allclose(a, b, atol=1e-4)
        assert torch.allclose(loop.ten_crop(batch), gather.ten_crop(batch), atol=1e-4)
        assert a.is_contiguous(memory_format=torch.channels_last)

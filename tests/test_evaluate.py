"""Top-k error, ten-patch averaging and fc7 retrieval (sections 4.1, 6)."""
import math

import torch
from torch import nn

from alexnet_core.augment import AugmentConfig, Augmenter, ColourStats
from alexnet_core.data import synthetic_image_set
from alexnet_core.evaluate import (binomial_standard_error, embeddings, evaluate, nearest_neighbours,
                                   predict, topk_error)


def test_topk_error_counts_misses():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = torch.tensor([1, 1, 0, 2])
    assert topk_error(scores, labels, 1) == 75.0
    assert topk_error(scores, labels, 2) == 50.0
    assert topk_error(scores, labels, 5) == 0.0  # k larger than the classes: nothing missed


def test_binomial_standard_error():
    assert math.isclose(binomial_standard_error(20.0, 400), 2.0)


class SpyNet(nn.Module):
    """Logits that depend on where the view came from, to check the averaging."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 4)

    def forward(self, x):
        return self.lin(x.mean(dim=(2, 3)))

    def embed(self, x):
        return x.mean(dim=(2, 3))


def test_ten_crop_averages_softmax_over_the_ten_views():
    torch.manual_seed(0)
    data = synthetic_image_set(n=6, num_classes=4, side=32)
    aug = Augmenter(AugmentConfig(crop=24), ColourStats.from_images(data))
    model = SpyNet()
    probs = predict(model, data, aug, ten_crop=True, batch_size=4)
    with torch.no_grad():
        views = aug.ten_crop(data.images)
        expected = torch.stack([model(v).softmax(-1) for v in views]).mean(0)
    assert torch.allclose(probs, expected, atol=1e-6)
    centre = predict(model, data, aug, ten_crop=False)
    assert not torch.allclose(centre, probs)
    result = evaluate(model, data, aug, ten_crop=True)
    assert result["views"] == 10 and result["n"] == 6 and 0 <= result["top1"] <= result["top1"] + result["top5"]


def test_nearest_neighbours_by_euclidean_distance():
    gallery = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [5.0, 5.0]])
    queries = torch.tensor([[0.9, 0.1]])
    idx, dist = nearest_neighbours(queries, gallery, k=3)
    assert idx.tolist() == [[1, 0, 2]]
    assert torch.allclose(dist[0, 0], torch.tensor(0.1414), atol=1e-3)
    idx_self, _ = nearest_neighbours(gallery, gallery, k=1, exclude_self=True)
    assert idx_self[:, 0].tolist() == [1, 0, 0, 2]


def test_embeddings_use_the_centre_crop():
    data = synthetic_image_set(n=5, num_classes=2, side=32)
    aug = Augmenter(AugmentConfig(crop=24), ColourStats.from_images(data))
    emb = embeddings(SpyNet(), data, aug, batch_size=2)
    assert emb.shape == (5, 3)
    assert torch.allclose(emb, aug.centre(data.images).mean(dim=(2, 3)))

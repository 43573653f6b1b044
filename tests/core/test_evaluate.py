"""Top-k error, ten-patch averaging and fc7 retrieval (sections 4.1, 6)."""
import json
import math

import pytest
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


def test_per_image_hits_pack_and_unpack_exactly():
    from alexnet_core.evaluate import pack_hits, unpack_hits
    hit = torch.rand(3925, generator=torch.Generator().manual_seed(0)) < 0.6
    packed = pack_hits(hit)
    assert len(packed) == 2 * (-(-3925 // 8)) and torch.equal(unpack_hits(packed, 3925), hit)
    assert pack_hits(torch.tensor([True, False, False, False, False, False, False, False, True])) == "0101"


def test_a_run_records_which_validation_images_it_got_right(tmp_path):
    from alexnet_core.config import TrainConfig
    from alexnet_core.evaluate import unpack_hits
    from alexnet_core.train import train
    cfg = TrainConfig(dataset="synthetic", model="cifarnet", limit_train=64, limit_val=40, batch_size=16, epochs=1,
                      device="cpu", precision="fp32", progress=False, threads=2)
    record = train(cfg, tmp_path / "run").record()
    predictions = record["predictions"]
    assert predictions["images"] == 40 and len(predictions["images_digest"]) == 16
    for view, key in (("centre", "val_top1"), ("ten_patch", "val10_top1")):
        right = unpack_hits(predictions[view]["top1"], 40)
        assert 100.0 * (1 - right.float().mean().item()) == pytest.approx(record["metrics"][key])
    assert "predictions" not in record["metrics"]
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["predictions"] == predictions

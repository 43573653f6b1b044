"""Is the data pipeline what limits AlexNet training? Measured side by side on the same images.

Three numbers from one run on the same Imagenette training images:

1. the project's data path alone: gather a shuffled uint8 batch from the decode-once cache
   and augment it (random 224 crop, reflection, PCA colour, mean image), no model;
2. a training epoch of the project's trainer (AlexNet-224, bf16 + channels_last where fast);
3. the same epoch written the naive way: torchvision ``ImageFolder`` + ``transforms`` +
   ``DataLoader`` decoding JPEGs every epoch, the same AlexNet in fp32, NCHW.

Targets (issue: data): (1) at least 5x the training throughput of (2); (2) at least 3x (3).

    python benchmarks/data_pipeline.py --data-root ../shared/data --images 1024
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alexnet_core import AlexNet  # noqa: E402
from alexnet_core import data as D  # noqa: E402
from alexnet_core.augment import AugmentConfig, Augmenter  # noqa: E402
from alexnet_core.config import TrainConfig  # noqa: E402
from alexnet_core.files import atomic_write_json  # noqa: E402
from alexnet_core.provenance import provenance  # noqa: E402
from alexnet_core.inputs import cached_colour_stats  # noqa: E402
from alexnet_core.train import train  # noqa: E402


def pipeline_alone(train_set: D.ImageSet, augmenter: Augmenter, batch: int, epochs: int = 2) -> float:
    gen, order = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    n, seen = len(train_set), 0
    start = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=order)
        for s in range(0, n - batch + 1, batch):
            augmenter.train(train_set.images[perm[s:s + batch]], gen)
            seen += batch
    return seen / (time.perf_counter() - start)


def naive_epoch(files: list[str], labels: list[int], num_classes: int, batch: int, workers: int) -> float:
    """The textbook loop: decode every JPEG every epoch, torchvision transforms, fp32 NCHW."""
    from torchvision import transforms as T
    from torchvision.datasets.folder import default_loader

    tf = T.Compose([T.Resize(256), T.CenterCrop(256), T.RandomCrop(224), T.RandomHorizontalFlip(),
                    T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

    class Files(torch.utils.data.Dataset):
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            return tf(default_loader(files[i])), labels[i]

    loader = torch.utils.data.DataLoader(Files(), batch_size=batch, shuffle=True, num_workers=workers,
                                         drop_last=True)
    torch.manual_seed(0)
    model = AlexNet(num_classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    seen, start = 0, time.perf_counter()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
    return seen / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=None)
    p.add_argument("--images", type=int, default=1024, help="training images used by all three measurements")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="DataLoader workers of the naive loop")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    full = D.load("imagenette", "train", args.data_root)
    stats = cached_colour_stats(full)
    subset = full.subset(args.images, seed=0)
    augmenter = Augmenter(AugmentConfig(crop=224), stats)

    pipe = pipeline_alone(subset, augmenter, args.batch)
    print(f"data pipeline alone: {pipe:.0f} img/s", flush=True)

    # the naive loop first: the project's trainer then tunes this process's allocator
    # (alexnet_core.allocator), which the naive loop must not inherit
    naive = naive_epoch(subset.files, subset.labels.tolist(), len(full.classes), args.batch, args.workers)
    print(f"naive ImageFolder + transforms + DataLoader fp32 epoch: {naive:.1f} img/s", flush=True)

    cfg = TrainConfig(dataset="imagenette", data_root=args.data_root, limit_train=args.images, limit_val=args.batch,
                      epochs=1, device="cpu", progress=False, ten_crop=False, batch_size=args.batch)
    val = D.load("imagenette", "val", args.data_root).subset(args.batch)
    outcome = train(cfg, data=(subset, val, stats))
    ours = outcome.history[-1]["images_per_s"]
    print(f"project trainer epoch ({outcome.provenance['precision']}, channels_last, "
          f"allocator {outcome.provenance.get('cpu_allocator', 'default')}): {ours:.1f} img/s", flush=True)

    result = dict(images=args.images, batch=args.batch, pipeline_images_per_s=round(pipe, 1),
                  trainer_epoch_images_per_s=ours, naive_epoch_images_per_s=round(naive, 1),
                  pipeline_over_training=round(pipe / ours, 1), trainer_over_naive=round(ours / naive, 2),
                  naive_workers=args.workers, trainer_allocator=outcome.provenance.get("cpu_allocator", "default"),
                  provenance=provenance(torch.device("cpu"), outcome.provenance["precision"]))
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=2))
    print(f"pipeline / training: {result['pipeline_over_training']}x (target >= 5x); "
          f"trainer / naive: {result['trainer_over_naive']}x (target >= 3x)")
    if args.out:
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()

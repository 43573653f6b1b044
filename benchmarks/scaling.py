"""How the cost of an epoch grows with the number of images and with the batch size.

One epoch of the project's trainer (bf16 + channels_last where fast) on synthetic data for
each point, the CIFAR-10 net and AlexNet-224, on the current device; also the peak resident
memory of the process and the size of the decode-once caches found on disk.

    python benchmarks/scaling.py --out benchmarks/results/cpu-avx2/scaling.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from alexnet_core.config import TrainConfig  # noqa: E402
from alexnet_core.paths import cache_dir  # noqa: E402
from alexnet_core.hardware import resolve_precision  # noqa: E402
from alexnet_core.files import atomic_write_json  # noqa: E402
from alexnet_core.provenance import peak_rss_mb, provenance  # noqa: E402
from alexnet_core.train import train  # noqa: E402

POINTS = {  # model: (images at batch 128, batch sizes at a fixed number of images)
    "cifarnet": ([2048, 4096, 8192, 16384], [32, 64, 128, 256, 512], 8192),
    "alexnet": ([256, 512, 1024], [32, 64, 128], 512),
}


def epoch_seconds(model: str, images: int, batch: int, device: str) -> dict:
    cfg = TrainConfig(dataset="synthetic", model=model, limit_train=images, limit_val=batch, batch_size=batch,
                      epochs=1, device=device, progress=False, ten_crop=False)
    h = train(cfg).history[0]
    return dict(model=model, images=images, batch=batch, train_seconds=h["train_seconds"],
                images_per_s=h["images_per_s"])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", default="cifarnet,alexnet")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    rows = []
    for model in args.models.split(","):
        sizes, batches, fixed = POINTS[model]
        for n in sizes:
            rows.append(epoch_seconds(model, n, 128, args.device) | dict(sweep="images"))
            print(rows[-1], flush=True)
        for b in batches:
            rows.append(epoch_seconds(model, fixed, b, args.device) | dict(sweep="batch"))
            print(rows[-1], flush=True)
    caches = {f.name: round(f.stat().st_size / 2 ** 20, 1) for f in cache_dir().glob("*.images.npy")}
    result = dict(rows=rows, peak_rss_mb=peak_rss_mb(), decode_cache_mb=caches,
                  provenance=provenance(torch.device(args.device), resolve_precision("auto", torch.device(args.device))))
    if args.out:
        atomic_write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()

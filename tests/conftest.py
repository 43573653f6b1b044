"""Small datasets the tests make themselves: JPEG folders and CIFAR-format pickles."""
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest

from alexnet_core.book.engine.records import Record
from PIL import Image

# Tests never touch the user's cache; each session gets its own.
os.environ["ALEXNET_CACHE"] = tempfile.mkdtemp(prefix="alexnet-test-cache-")


def write_image_folder(root: Path, split: str, classes=("cat", "dog", "fish"), per_class=4,
                       size=(40, 30), seed=0) -> list[Path]:
    """An ImageFolder split of random RGB JPEGs; returns the files written."""
    rng = np.random.default_rng(seed)
    files = []
    for label, cls in enumerate(classes):
        folder = root / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            arr[..., label % 3] = np.clip(arr[..., label % 3].astype(int) + 80, 0, 255)
            path = folder / f"{i:03d}.jpg"
            Image.fromarray(arr).save(path, quality=95)
            files.append(path)
    return files


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """``<tmp>/toyset/{train,val}`` with three classes, one grayscale image among them."""
    root = tmp_path / "toyset"
    write_image_folder(root, "train")
    write_image_folder(root, "val", per_class=2, seed=1)
    gray = np.random.default_rng(2).integers(0, 256, (30, 40), dtype=np.uint8)
    Image.fromarray(gray, mode="L").save(root / "train" / "dog" / "gray.jpg")
    return root


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def cifar_pickles(tmp_path: Path) -> Path:
    """A CIFAR-10 ``cifar-10-batches-py`` folder with 20 images per batch."""
    folder = tmp_path / "root" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8),
                 "labels": [int(x) for x in rng.integers(0, 10, 20)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                     "horse", "ship", "truck"]}, f)
    return folder.parent


def learned_run(variant: str, val_top1: float, seed: int = 0, epochs: int = 3, lr: float = 0.003, **config) -> Record:
    """A record that learned: validation error falling from 60% to ``val_top1``."""
    history = [dict(epoch=e, val_top1=60 - (60 - val_top1) * e / epochs, train_top1=50.0, train_loss=1.0,
                    val_top5=10.0, lr=lr) for e in range(1, epochs + 1)]
    return Record.from_dict(dict(config=dict(lr=lr, dataset="imagenette", epochs=epochs, **config), history=history,
                metrics=dict(val_top1=val_top1, val_top5=10.0, val_top1_se=0.8, val_images=3925,
                             final_train_top1=50.0, best_val_top1=val_top1),
                provenance=dict(variant=variant, seed=seed)))

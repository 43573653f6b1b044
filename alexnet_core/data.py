"""Dataset sources and the decode-once cache (section 2 of the paper).

Section 2: "we down-sampled the images to a fixed resolution of 256 x 256. Given a
rectangular image, we first rescaled the image such that the shorter side was of length
256, and then cropped out the central 256x256 patch." We do exactly that, once, and keep
the result as a uint8 array ``N x 3 x 256 x 256`` in a cache folder, memory-mapped, so no
epoch decodes a JPEG twice. CIFAR-10 keeps its native 32 x 32. ILSVRC-2012 does not fit in
memory and streams from JPEG instead (:class:`StreamingImageFolder`).

Sources, by ``dataset`` name:

- ``cifar10``: ``<root>/cifar10-jpeg/{train,test}/<class>/*.jpg`` or torchvision's pickled
  ``<root>/cifar-10-batches-py/`` (downloaded by torchvision when ``download=True``).
- ``imagenette``: ``<root>/imagenette-224/{train,val}/<synset>/*`` (or torchvision's
  ``imagenette2*`` download when ``download=True``).
- ``imagenet``: ``<root>/imagenet/{train,val}/<synset>/*`` or a path given directly.
- any path to a folder with ``train/`` and ``val/`` (or ``test/``) in ImageFolder layout.

Augmentation randomness lives in :mod:`alexnet_core.augment`, not here.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import pickle
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from . import paths

#: File endings that count as images in an ImageFolder.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

#: Side of the stored images for ImageNet-like sets (section 2).
IMAGENET_STORE_SIZE = 256

#: Known datasets: folder names under the data root, split aliases, stored side.
KNOWN_DATASETS = {
    "cifar10": dict(folders=("cifar10-jpeg", "cifar10"), pickled="cifar-10-batches-py", size=None),
    "imagenette": dict(folders=("imagenette-224", "imagenette2-320", "imagenette2", "imagenette"),
                       size=IMAGENET_STORE_SIZE),
    "imagenet": dict(folders=("imagenet", "ILSVRC2012", "ilsvrc2012"), size=IMAGENET_STORE_SIZE),
}
SPLIT_ALIASES = {"train": ("train",), "val": ("val", "test"), "test": ("test", "val")}


class DataError(RuntimeError):
    """A dataset problem the user can fix; the message names the file or folder and the fix."""


@dataclass
class ImageSet:
    """A decoded split: ``images`` uint8 N x 3 x H x W (CPU, possibly memory-mapped)."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str = ""
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    key: str = ""  # cache key of the full decoded split ("" when not cached)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, n: int | None, seed: int = 0) -> "ImageSet":
        """The first ``n`` images of a fixed random permutation (all classes represented)."""
        if n is None or n >= len(self):
            return self
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self), generator=g)[:n].sort().values
        return ImageSet(self.images[idx], self.labels[idx], self.classes, f"{self.name}[:{n}]",
                        [self.files[i] for i in idx.tolist()] if self.files else [], self.skipped)

    def to(self, device: torch.device | str) -> "ImageSet":
        """A copy with images and labels on ``device`` (used to keep small sets on the GPU)."""
        return ImageSet(self.images.to(device), self.labels.to(device), self.classes, self.name,
                        self.files, self.skipped)


# --------------------------------------------------------------------------- roots and layout

def resolve_data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: the ``root`` argument (a ``--data-root`` flag), else ``ALEXNET_DATA``."""
    root = paths.data_root_setting(root)
    if not root:
        raise DataError("no data root given: pass --data-root DIR or set ALEXNET_DATA=DIR, where DIR "
                        "holds cifar10-jpeg/, imagenette-224/ or your ImageNet folder")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"data root {path} does not exist or is not a folder: pass --data-root "
                        "or ALEXNET_DATA pointing at the folder that holds the datasets")
    return path


def load_streaming(dataset: str, split: str, root: str | os.PathLike | None = None, *,
                   skip_corrupt: bool = False, limit: int | None = None,
                   size: int | None = -1) -> "StreamingImageFolder":
    """A split that decodes JPEGs on demand (ILSVRC-2012 does not fit a decode-once cache)."""
    side = IMAGENET_STORE_SIZE if size in (-1, None) else size
    return StreamingImageFolder(find_split_folder(dataset, split, root), size=side, skip_corrupt=skip_corrupt,
                                limit=limit)


#: The side a model family's images are stored at when the dataset does not fix it: AlexNet's
#: 256 (section 2), the CIFAR-10 nets' 32.
MODEL_STORE_SIZE = {"alexnet": IMAGENET_STORE_SIZE, "cifarnet": 32, "convlocal": 32}


def store_size(dataset: str, model: str) -> int | None:
    """The stored side for ``dataset`` under ``model``: a known dataset keeps its own (-1: the
    dataset's default); a folder given by path is stored at the size the model family expects,
    so a CIFAR-like folder is not upscaled to 256 for a CIFAR net."""
    if dataset in KNOWN_DATASETS:
        return -1
    return MODEL_STORE_SIZE.get(model, IMAGENET_STORE_SIZE)


def class_names(folder: Path) -> list[str]:
    """The class folders of an ImageFolder split, sorted (their order gives the labels)."""
    return sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def check_layout(dataset: str, root: str | os.PathLike | None = None, *, download: bool = False) -> None:
    """Both splits present with the same class folders, checked before any image is decoded.

    CIFAR-10's pickled batches and a dataset that ``download`` will fetch are left to the loader.
    """
    if dataset == "cifar10":
        base = resolve_data_root(root)
        if (base / KNOWN_DATASETS["cifar10"]["pickled"]).is_dir():
            return
    folders = {}
    for split in ("train", "val"):
        try:
            folders[split] = find_split_folder(dataset, split, root)
        except DataError:
            if download and dataset in ("cifar10", "imagenette"):
                return
            raise
    train_classes = class_names(folders["train"])
    if len(train_classes) < 2:
        raise DataError(f"{folders['train']} has {len(train_classes)} class folder(s) {train_classes}: classification "
                        "needs at least two (with one, every prediction is right and the error is 0%). Add the "
                        "other classes' folders, one per class, in ImageFolder layout")
    _compare_classes(train_classes, class_names(folders["val"]), str(folders["train"]), str(folders["val"]))


def check_same_classes(train: "ImageSet | StreamingImageFolder", val: "ImageSet | StreamingImageFolder") -> None:
    """Refuse splits whose classes differ: label k must be the same class in both."""
    _compare_classes(list(train.classes), list(val.classes), train.name, val.name)


def _compare_classes(train: list[str], val: list[str], train_name: str, val_name: str) -> None:
    if train == val:
        return
    missing, extra = sorted(set(train) - set(val)), sorted(set(val) - set(train))
    parts = ([f"missing from the validation split: {missing}"] if missing else []) + \
        ([f"only in the validation split: {extra}"] if extra else [])
    if not parts:
        parts = [f"in another order: {train} against {val}"]
    raise DataError(f"the training split ({train_name}) and the validation split ({val_name}) have different "
                    f"classes ({'; '.join(parts)}). Labels are given by class name, so both splits need the same "
                    "class folders: add the missing folders (with images) or remove the extra ones.")


def skipped_images(*sets: "ImageSet | StreamingImageFolder") -> dict:
    """Unreadable images left out of each split (``--skip-corrupt``), for the run's record:
    ``{split name: {count, files}}``; empty when none was skipped."""
    return {s.name: dict(count=len(s.skipped), files=list(s.skipped)) for s in sets if getattr(s, "skipped", None)}


def find_split_folder(dataset: str, split: str, root: str | os.PathLike | None = None) -> Path:
    """Locate ``<dataset>/<split>`` under the data root, with a clear error if absent."""
    if split not in SPLIT_ALIASES:
        raise DataError(f"unknown split {split!r}: choose train or val")
    if dataset in KNOWN_DATASETS:
        base = resolve_data_root(root)
        candidates = [base / f for f in KNOWN_DATASETS[dataset]["folders"]]
    else:
        candidates = [Path(dataset).expanduser()]
        if not candidates[0].is_dir():
            raise DataError(f"unknown dataset {dataset!r}: use cifar10, imagenette, imagenet, or a path "
                            "to a folder with train/ and val/ in ImageFolder layout")
    for folder in candidates:
        for alias in SPLIT_ALIASES[split]:
            if (folder / alias).is_dir():
                return folder / alias
    tried = ", ".join(str(c) for c in candidates)
    raise DataError(f"dataset {dataset!r} split {split!r} not found (looked for {'/ or '.join(SPLIT_ALIASES[split])}/ "
                    f"in {tried}). Put the dataset there in ImageFolder layout (<split>/<class>/<image>), "
                    "point --data-root/ALEXNET_DATA at its parent, or pass --download where the "
                    "dataset has a torchvision downloader")


def list_image_folder(folder: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Classes and (file, label) pairs of an ImageFolder split, checking the layout."""
    folder = folder.resolve()
    classes = class_names(folder)
    if not classes:
        stray = [p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS][:3]
        hint = f" (it holds images directly, e.g. {stray}: move them into one folder per class)" if stray else ""
        raise DataError(f"{folder} has no class folders{hint}; expected ImageFolder layout "
                        f"{folder}/<class>/<image>")
    samples: list[tuple[str, int]] = []
    for label, cls in enumerate(classes):
        files = sorted(f for f in (folder / cls).iterdir()
                       if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise DataError(f"class folder {folder / cls} holds no images (looked for "
                            f"{', '.join(IMAGE_EXTENSIONS)}); remove the folder or add its images")
        samples.extend((str(f), label) for f in files)
    return classes, samples


# --------------------------------------------------------------------------- decoding

def decode_image(path: str, size: int | None) -> np.ndarray:
    """Decode one image to uint8 3 x S x S RGB (section 2's rescale-and-centre-crop).

    Grayscale, palette, CMYK and alpha images become RGB; 16-bit images are brought to 8 bits by
    their real range (0-65535), not clipped at 255. ``size=None`` keeps the image's own size
    (CIFAR-10). Raises :class:`DataError` naming the file when it cannot be read, including an
    image so large that Pillow refuses it as a possible decompression bomb.
    """
    try:
        with Image.open(path) as im:
            im = _to_rgb(im, path)
            if size is not None:
                w, h = im.size
                scale = size / min(w, h)
                if (w, h) != (size, size):
                    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
                    im = im.resize((nw, nh), Image.BILINEAR, reducing_gap=None)
                    left, top = (nw - size) // 2, (nh - size) // 2
                    im = im.crop((left, top, left + size, top + size))
            arr = np.asarray(im, dtype=np.uint8)
    except Image.DecompressionBombError as err:
        raise DataError(f"cannot read image {path}: it is too large to decode safely ({err}). Shrink or delete the "
                        "file, or pass --skip-corrupt to skip it (it is counted and listed)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError(f"cannot read image {path}: {err}. Replace or delete the file, or pass "
                        "--skip-corrupt to skip unreadable images (they are counted and listed)") from err
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


#: Pillow's modes for one channel of more than 8 bits: PNG's 16-bit grayscale opens as one of them.
WIDE_GREY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def _to_rgb(im: Image.Image, path: str) -> Image.Image:
    """RGB of 8 bits per channel. Pillow's own ``convert`` clips a 16-bit image at 255 (almost
    white), so wide grey images are scaled by their 16-bit range first; float images are refused."""
    if im.mode in WIDE_GREY_MODES:
        values = np.asarray(im, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"its {im.mode} pixels span {values.min()}..{values.max()}, beyond 16 bits")
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if im.mode == "F":
        raise ValueError("it holds floating-point pixels, whose range is unknown; save it as 8- or 16-bit")
    return im.convert("RGB")


def _decode_or_none(args: tuple[str, int | None, bool]) -> np.ndarray | str:
    path, size, skip = args
    try:
        return decode_image(path, size)
    except DataError as err:
        if skip:
            return str(err)
        raise


def decode_files(files: list[str], size: int | None, *, skip_corrupt: bool = False,
                 workers: int | None = None, desc: str = "decoding") -> tuple[np.ndarray, list[int], list[str]]:
    """Decode ``files`` into one uint8 array; returns (array, kept indices, skipped files)."""
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    jobs = [(f, size, skip_corrupt) for f in files]
    arrays, kept, skipped = [], [], []
    chunk = max(1, min(256, len(files) // (workers * 8) or 1))
    if workers > 1 and len(files) > 256:
        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(_decode_or_none, jobs, chunksize=chunk)
            results = list(tqdm(results, total=len(files), desc=desc, unit="img", leave=False))
    else:
        results = [_decode_or_none(j) for j in tqdm(jobs, desc=desc, unit="img", leave=False)]
    shape = None
    for i, r in enumerate(results):
        if isinstance(r, str):
            skipped.append(files[i])
            continue
        if shape is None:
            shape = r.shape
        elif r.shape != shape:
            raise DataError(f"image {files[i]} decodes to {tuple(r.shape[1:])} but earlier images were "
                            f"{tuple(shape[1:])}; give a store size so all images are resized alike")
        arrays.append(r)
        kept.append(i)
    if not arrays:
        raise DataError(f"no readable images among {len(files)} files (first: {files[0] if files else '-'})")
    return np.stack(arrays), kept, skipped


# --------------------------------------------------------------------------- cache

def cache_key(folder: Path, size: int | None, samples: list[tuple[str, int]]) -> str:
    """Key of a decoded split: its source folder, store size and file list (names, sizes, times)."""
    h = hashlib.sha256(os.fsencode(f"v1|{folder.resolve()}|{size}"))
    for path, label in samples:
        st = os.stat(path)
        h.update(os.fsencode(f"|{path}|{label}|{st.st_size}|{int(st.st_mtime)}"))  # names need not be UTF-8
    return h.hexdigest()[:20]


class CacheError(DataError):
    """The decoded-image cache cannot be read or written; the message names the file and the fix."""


def _cache_fix(path: Path) -> str:
    return (f"delete {path} (it is rebuilt from the images) or point ALEXNET_CACHE at another folder "
            f"(now {paths.cache_dir()})")


def _read_cache(images_path: Path, meta_path: Path) -> tuple[np.ndarray, dict]:
    """A decoded split from the cache; a :class:`CacheError` naming the damaged file if it is cut short."""
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or not {"classes", "labels", "files", "skipped"} <= set(meta):
            raise ValueError("it lacks the classes, labels or files")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CacheError(f"the decoded-image cache file {meta_path} is damaged ({err}); {_cache_fix(meta_path)}") \
            from None
    try:
        images = np.load(images_path, mmap_mode="c")
        if images.shape[0] != len(meta["labels"]):
            raise ValueError(f"{images.shape[0]} images for {len(meta['labels'])} labels")
    except (OSError, ValueError, EOFError) as err:
        raise CacheError(f"the decoded-image cache file {images_path} is damaged ({err}); "
                         f"{_cache_fix(images_path)}") from None
    return images, meta


def _write_cache(cache_dir: Path, images_path: Path, meta_path: Path, array: np.ndarray, meta: dict) -> bool:
    """Write a decoded split atomically; False (with a warning) where the cache folder cannot be
    written at all (read-only), so the run goes on without it. A full disk is an error that names
    the cache; a partial file is never left behind."""
    if cache_dir.exists() and not cache_dir.is_dir():
        raise CacheError(f"the decoded-image cache {cache_dir} is a file, not a folder: point ALEXNET_CACHE at a "
                         "folder (or move the file away)")
    tmps = [images_path.with_suffix(f".tmp{os.getpid()}.npy"), meta_path.with_suffix(f".tmp{os.getpid()}")]
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        np.save(tmps[0], array)
        tmps[1].write_text(json.dumps(meta))
        os.replace(tmps[0], images_path)
        os.replace(tmps[1], meta_path)
    except OSError as err:
        for tmp in tmps:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            warnings.warn(f"the decoded-image cache {cache_dir} cannot be written ({err.strerror}); decoding without "
                          "it (the next run decodes again: point ALEXNET_CACHE at a writable folder)", stacklevel=3)
            return False
        raise CacheError(f"cannot write the decoded-image cache in {cache_dir} ({err}); free space there, or "
                         "point ALEXNET_CACHE at a folder with room (a partial file was removed)") from None
    return True


def load_image_folder(folder: Path, size: int | None, *, cache_dir: Path | None = None,
                      skip_corrupt: bool = False, name: str = "", use_cache: bool = True,
                      limit: int | None = None) -> ImageSet:
    """Decode an ImageFolder split once, memory-map it from the cache on every later call.

    With ``limit`` only a fixed random subset of that many files is decoded (and cached under
    its own key), so quick tries on a fresh machine do not wait for the whole split.
    """
    classes, samples = list_image_folder(folder)
    if limit is not None and limit < len(samples):
        keep = torch.randperm(len(samples), generator=torch.Generator().manual_seed(0))[:limit].sort().values
        samples = [samples[i] for i in keep.tolist()]
    cache_dir = Path(cache_dir) if cache_dir is not None else paths.cache_dir()
    key = cache_key(folder, size, samples)
    images_path, meta_path = cache_dir / f"{key}.images.npy", cache_dir / f"{key}.json"
    if use_cache and images_path.is_file() and meta_path.is_file():
        cached, meta = _read_cache(images_path, meta_path)
        if meta["skipped"]:
            _announce_cached_skips(folder, meta["skipped"], skip_corrupt)
        labels = torch.tensor(meta["labels"], dtype=torch.int64)
        return ImageSet(torch.from_numpy(cached), labels, meta["classes"], name or folder.name, meta["files"],
                        meta["skipped"], key)
    files = [f for f, _ in samples]
    array, kept, skipped = decode_files(files, size, skip_corrupt=skip_corrupt,
                                        desc=f"decoding {folder} once")
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s) in {folder}: {skipped[:5]}", stacklevel=2)
    labels = [samples[i][1] for i in kept]
    emptied = [c for i, c in enumerate(classes) if i not in set(labels)]
    if emptied:
        warnings.warn(f"--skip-corrupt left class(es) {emptied} of {folder} without a single readable image: the "
                      "network still has an output for each, but nothing to learn it from", stacklevel=2)
    kept_files = [files[i] for i in kept]
    cached = False
    if use_cache:
        meta = dict(classes=classes, labels=labels, files=kept_files, skipped=skipped,
                    source=str(folder.resolve()), size=size)
        cached = _write_cache(cache_dir, images_path, meta_path, array, meta)
        if cached:
            array = np.load(images_path, mmap_mode="c")
    return ImageSet(torch.from_numpy(array), torch.tensor(labels, dtype=torch.int64), classes,
                    name or folder.name, kept_files, skipped, key if cached else "")


def _announce_cached_skips(folder: Path, skipped: list[str], skip_corrupt: bool) -> None:
    """A cache made with ``--skip-corrupt`` lacks the images it skipped: say so every time it is
    used, and refuse it without the flag (decoding afresh would stop on the same files)."""
    listed = f"{skipped[:5]}{' and more' if len(skipped) > 5 else ''}"
    if not skip_corrupt:
        raise DataError(f"{len(skipped)} image(s) in {folder} cannot be read: {listed}. The decoded cache leaves "
                        "them out because an earlier run passed --skip-corrupt. Replace or delete those files, "
                        "or pass --skip-corrupt to train without them.")
    warnings.warn(f"the decoded cache of {folder} leaves out {len(skipped)} unreadable image(s) (--skip-corrupt): "
                  f"{listed}", stacklevel=3)


# --------------------------------------------------------------------------- CIFAR-10 pickles

CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def load_cifar_pickles(folder: Path, split: str) -> ImageSet:
    """CIFAR-10 in its original pickled form (``cifar-10-batches-py``)."""
    names = CIFAR_TRAIN_BATCHES if split == "train" else ("test_batch",)
    images, labels = [], []
    for name in names:
        path = folder / name
        if not path.exists():
            raise DataError(f"CIFAR-10 batch {path} is missing; re-download with --download or "
                            "use the cifar10-jpeg ImageFolder")
        try:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="latin1")
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(batch["labels"])
        except (pickle.UnpicklingError, KeyError, ValueError, EOFError) as err:
            raise DataError(f"CIFAR-10 batch {path} is corrupt ({err}); delete it and re-download") from err
    meta = folder / "batches.meta"
    classes = (pickle.load(open(meta, "rb"), encoding="latin1")["label_names"] if meta.exists()
               else [str(i) for i in range(10)])
    return ImageSet(torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.int64),
                    classes, f"cifar10-pickled/{split}")


def _download(dataset: str, root: Path) -> None:
    """Fetch the canonical dataset through torchvision (needs internet)."""
    try:
        if dataset == "cifar10":
            torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        elif dataset == "imagenette":
            for split in ("train", "val"):
                torchvision.datasets.Imagenette(str(root), split=split, size="320px", download=True)
        else:
            raise DataError(f"{dataset} has no downloader: ImageNet must come from your own copy")
    except (OSError, RuntimeError) as err:
        raise DataError(f"downloading {dataset} into {root} failed ({err}); without internet, place "
                        "the dataset under the data root in ImageFolder layout") from err


# --------------------------------------------------------------------------- the one entry point

def load(dataset: str, split: str, root: str | os.PathLike | None = None, *, size: int | None = -1,
         cache_dir: str | os.PathLike | None = None, skip_corrupt: bool = False,
         download: bool = False, limit: int | None = None, use_cache: bool = True,
         decode_subset: bool = False) -> ImageSet:
    """Load a split of a dataset as uint8 tensors, decoding at most once.

    Args:
        dataset: ``cifar10``, ``imagenette``, ``imagenet`` or a path to an ImageFolder root.
        split: ``train`` or ``val`` (CIFAR-10's ``test`` split is its ``val``).
        root: the data root (``--data-root``); ``ALEXNET_DATA`` when None.
        size: stored side; -1 means the dataset's default (256 for ImageNet-like sets,
            native for CIFAR-10); None keeps native sizes (they must agree).
        skip_corrupt: skip unreadable images with a warning and a count instead of stopping.
        download: fetch CIFAR-10 or Imagenette through torchvision when absent (needs internet).
        limit: keep a fixed random subset of this many images (quick tries).
        decode_subset: with ``limit``, decode only those images instead of the whole split.
    """
    spec = KNOWN_DATASETS.get(dataset)
    if size == -1:
        size = spec["size"] if spec else IMAGENET_STORE_SIZE
    try:
        folder = find_split_folder(dataset, split, root)
    except DataError:
        if dataset == "cifar10":
            pickled = resolve_data_root(root) / spec["pickled"]
            if pickled.is_dir():
                return load_cifar_pickles(pickled, split).subset(limit)
        if not download or dataset not in ("cifar10", "imagenette"):
            raise
        target = resolve_data_root(root)
        _download(dataset, target)
        if dataset == "cifar10":
            return load_cifar_pickles(target / spec["pickled"], split).subset(limit)
        folder = find_split_folder(dataset, split, root)
    if decode_subset:
        return load_image_folder(folder, size, cache_dir=cache_dir, skip_corrupt=skip_corrupt,
                                 name=f"{dataset}/{split}", use_cache=use_cache, limit=limit)
    data = load_image_folder(folder, size, cache_dir=cache_dir, skip_corrupt=skip_corrupt,
                             name=f"{dataset}/{split}", use_cache=use_cache)
    return data.subset(limit)


# --------------------------------------------------------------------------- streaming (ImageNet)

class StreamingImageFolder(torch.utils.data.Dataset):
    """ImageFolder that decodes on demand to uint8 3 x 256 x 256, for sets too big to cache.

    Used with DataLoader workers and a (Distributed)Sampler; augmentation then runs batched
    on the training device exactly as for cached sets.
    """

    def __init__(self, folder: str | os.PathLike, size: int = IMAGENET_STORE_SIZE, skip_corrupt: bool = False,
                 limit: int | None = None, seed: int = 0):
        self.folder = Path(folder)
        self.classes, self.samples = list_image_folder(self.folder)
        if limit is not None and limit < len(self.samples):
            g = torch.Generator().manual_seed(seed)
            keep = torch.randperm(len(self.samples), generator=g)[:limit].sort().values.tolist()
            self.samples = [self.samples[i] for i in keep]
        self.size, self.skip_corrupt = size, skip_corrupt
        self.labels = torch.tensor([label for _, label in self.samples], dtype=torch.int64)
        self.name = str(self.folder)
        self.skipped: list[str] = []  # streamed images are skipped as they are met (label -1)

    def sample_images(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` decoded images drawn at random: the sample the colour statistics come from."""
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self), generator=g)[:n].tolist()
        return torch.stack([self[i][0] for i in idx])

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        try:
            return torch.from_numpy(decode_image(path, self.size)), label
        except DataError:
            if not self.skip_corrupt:
                raise
            warnings.warn(f"skipping unreadable image {path}", stacklevel=2)
            return torch.zeros(3, self.size, self.size, dtype=torch.uint8), -1  # label -1: ignored


#: Readable names of ImageNet synsets where torchvision knows them (its Imagenette table); a
#: folder name that is not a known synset is its own display name.
_SYNSET_NAMES = {wnid: names[0] for wnid, names in
                 getattr(torchvision.datasets.Imagenette, "_WNID_TO_CLASS", {}).items()}


def class_display_name(folder_name: str) -> str:
    """``n01440764`` -> ``tench``: the common name of an ImageNet synset folder, else the name itself."""
    return _SYNSET_NAMES.get(folder_name, folder_name)


def synthetic_image_set(n: int = 64, num_classes: int = 4, side: int = 32, seed: int = 0) -> ImageSet:
    """A small learnable set for tests, smoke runs and benchmarks.

    Pixels are uniform in [0, 100); class k adds 100 to channel ``k % 3`` in the top half of
    the image (k // 3 even) or the bottom half (odd), a cue that survives crops and flips.
    Built directly in uint8, so large benchmark sets cost one byte per pixel.
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    images = torch.randint(0, 100, (n, 3, side, side), generator=g, dtype=torch.uint8)
    half = side // 2
    for k in range(num_classes):
        rows = slice(0, half) if (k // 3) % 2 == 0 else slice(half, side)
        images[labels == k, k % 3, rows] += 100
    return ImageSet(images, labels, [f"class{k}" for k in range(num_classes)], "synthetic")

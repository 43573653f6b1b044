"""Dataset sources, the decode-once cache and their error messages (section 2)."""
import numpy as np
import pytest
import torch
from PIL import Image

from alexnet_core import data as D


def test_image_folder_decodes_to_uint8_256_with_rescale_and_centre_crop(image_root, cache_dir):
    train = D.load(str(image_root), "train", cache_dir=cache_dir)
    assert train.images.dtype == torch.uint8
    assert tuple(train.images.shape) == (13, 3, 256, 256)
    assert train.classes == ["cat", "dog", "fish"]
    assert train.labels.tolist() == [0] * 4 + [1] * 5 + [2] * 4
    # section 2: shorter side (30) to 256, centre 256 x 256 patch of the 341 x 256 image
    path = sorted((image_root / "train" / "cat").iterdir())[0]
    im = Image.open(path).convert("RGB").resize((341, 256), Image.BILINEAR, reducing_gap=None)
    expected = np.asarray(im)[:, 42:298].transpose(2, 0, 1)
    assert np.array_equal(train.images[0].numpy(), expected)


def test_grayscale_images_become_rgb(image_root, cache_dir):
    train = D.load(str(image_root), "train", cache_dir=cache_dir)
    i = next(i for i, f in enumerate(train.files) if f.endswith("gray.jpg"))
    img = train.images[i]
    assert img.shape[0] == 3 and torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])


def test_native_size_for_cifar_like_sets(image_root, cache_dir):
    train = D.load(str(image_root), "train", size=None, cache_dir=cache_dir)
    assert tuple(train.images.shape[1:]) == (3, 30, 40)


def test_decode_once_then_memory_mapped_cache(image_root, cache_dir, monkeypatch):
    first = D.load(str(image_root), "val", cache_dir=cache_dir)
    assert len(list(cache_dir.glob("*.images.npy"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a second time")

    monkeypatch.setattr(D, "decode_files", no_decoding)
    second = D.load(str(image_root), "val", cache_dir=cache_dir)
    assert torch.equal(first.images, second.images) and torch.equal(first.labels, second.labels)


def test_cache_key_changes_when_files_change(image_root, cache_dir):
    D.load(str(image_root), "val", cache_dir=cache_dir)
    write_extra = image_root / "val" / "cat" / "new.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(write_extra)
    again = D.load(str(image_root), "val", cache_dir=cache_dir)
    assert len(again) == 7
    assert len(list(cache_dir.glob("*.images.npy"))) == 2


def test_limit_gives_a_fixed_subset(image_root, cache_dir):
    a = D.load(str(image_root), "train", cache_dir=cache_dir, limit=5)
    b = D.load(str(image_root), "train", cache_dir=cache_dir, limit=5)
    assert len(a) == 5 and torch.equal(a.labels, b.labels) and a.files == b.files


def test_data_root_from_environment(image_root, cache_dir, monkeypatch):
    monkeypatch.setenv("ALEXNET_DATA", str(image_root.parent))
    assert D.resolve_data_root() == image_root.parent
    monkeypatch.delenv("ALEXNET_DATA")
    with pytest.raises(D.DataError, match="--data-root"):
        D.resolve_data_root()


def test_missing_dataset_names_where_it_looked(tmp_path):
    with pytest.raises(D.DataError, match="imagenette-224.*ImageFolder layout"):
        D.load("imagenette", "train", root=tmp_path)
    with pytest.raises(D.DataError, match="does not exist"):
        D.load("imagenette", "train", root=tmp_path / "nowhere")
    with pytest.raises(D.DataError, match="unknown dataset"):
        D.load("not-a-dataset", "train", root=tmp_path)


def test_wrong_layout_images_directly_in_split(tmp_path, cache_dir):
    (tmp_path / "flat" / "train").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "flat" / "train" / "a.jpg")
    with pytest.raises(D.DataError, match="no class folders.*one folder per class"):
        D.load(str(tmp_path / "flat"), "train", cache_dir=cache_dir)


def test_empty_class_folder_is_named(image_root, cache_dir):
    (image_root / "train" / "empty_class").mkdir()
    with pytest.raises(D.DataError, match="empty_class holds no images"):
        D.load(str(image_root), "train", cache_dir=cache_dir)


def test_corrupt_image_is_named_or_skipped_with_a_count(image_root, cache_dir):
    bad = image_root / "train" / "fish" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with pytest.raises(D.DataError, match="broken.jpg.*--skip-corrupt"):
        D.load(str(image_root), "train", cache_dir=cache_dir)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        data = D.load(str(image_root), "train", cache_dir=cache_dir, skip_corrupt=True)
    assert len(data) == 13 and data.skipped == [str(bad)]


def test_cifar_pickles(cifar_pickles):
    train = D.load("cifar10", "train", root=cifar_pickles)
    test = D.load("cifar10", "val", root=cifar_pickles)
    assert tuple(train.images.shape) == (100, 3, 32, 32) and train.images.dtype == torch.uint8
    assert len(test) == 20 and train.classes[0] == "airplane"
    assert train.labels.dtype == torch.int64 and 0 <= int(train.labels.min()) and int(train.labels.max()) <= 9


def test_corrupt_cifar_pickle(cifar_pickles):
    (cifar_pickles / "cifar-10-batches-py" / "test_batch").write_bytes(b"garbage")
    with pytest.raises(D.DataError, match="test_batch is corrupt"):
        D.load("cifar10", "val", root=cifar_pickles)


def test_cifar_jpeg_folder_preferred_and_test_split_is_val(tmp_path, cache_dir):
    from conftest import write_image_folder
    write_image_folder(tmp_path / "cifar10-jpeg", "test", size=(32, 32))
    val = D.load("cifar10", "val", root=tmp_path, cache_dir=cache_dir)
    assert tuple(val.images.shape[1:]) == (3, 32, 32)


def test_streaming_image_folder_for_imagenet(image_root):
    stream = D.StreamingImageFolder(image_root / "train")
    img, label = stream[0]
    assert img.dtype == torch.uint8 and tuple(img.shape) == (3, 256, 256) and label == 0
    sampler = torch.utils.data.distributed.DistributedSampler(stream, num_replicas=2, rank=1, shuffle=True)
    loader = torch.utils.data.DataLoader(stream, batch_size=4, sampler=sampler, num_workers=0)
    images, labels = next(iter(loader))
    assert images.shape == (4, 3, 256, 256) and len(sampler) == 7


def test_synthetic_set_is_deterministic():
    a, b = D.synthetic_image_set(seed=3), D.synthetic_image_set(seed=3)
    assert torch.equal(a.images, b.images) and a.images.dtype == torch.uint8


def test_decode_subset_decodes_only_the_chosen_images(image_root, cache_dir, monkeypatch):
    calls = []
    real = D.decode_files
    monkeypatch.setattr(D, "decode_files", lambda files, *a, **k: calls.append(len(files)) or real(files, *a, **k))
    part = D.load(str(image_root), "train", cache_dir=cache_dir, limit=5, decode_subset=True)
    assert len(part) == 5 and calls == [5]
    again = D.load(str(image_root), "train", cache_dir=cache_dir, limit=5, decode_subset=True)
    assert calls == [5] and again.files == part.files

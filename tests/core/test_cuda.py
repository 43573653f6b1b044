"""The CUDA path: model, LRN, augmentation and trainer on a GPU. Skipped where there is none.

Run on a GPU machine with ``make gpu-check`` (or ``pytest -m cuda``).
"""
import pytest
import torch

from alexnet_core import AlexNet, LocalResponseNorm
from alexnet_core.augment import AugmentConfig, Augmenter, ColourStats
from alexnet_core.data import synthetic_image_set
from alexnet_core.train import CHECKPOINT, train

from test_train import tiny, without_timings

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_alexnet_bf16_channels_last_forward_backward_on_cuda():
    torch.manual_seed(0)
    model = AlexNet(num_classes=10).cuda().to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 224, 224, device="cuda").contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (8,), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(x).float(), y)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_lrn_on_cuda_matches_cpu():
    a = torch.randn(2, 16, 7, 7, dtype=torch.float64) * 30
    g = torch.randn_like(a)
    cpu, gpu = a.clone().requires_grad_(), a.cuda().requires_grad_()
    LocalResponseNorm()(cpu).backward(g)
    out = LocalResponseNorm()(gpu)
    out.backward(g.cuda())
    assert torch.allclose(out.cpu(), LocalResponseNorm()(a), rtol=1e-10)
    assert torch.allclose(gpu.grad.cpu(), cpu.grad, rtol=1e-8)


def test_augmentation_on_cuda_is_seeded_and_matches_cpu_formulae():
    data = synthetic_image_set(n=32, side=256)
    stats = ColourStats.from_images(data)
    aug = Augmenter(AugmentConfig(crop=224), stats)
    images = data.images.cuda()
    a = aug.train(images, torch.Generator(device="cuda").manual_seed(1))
    b = aug.train(images, torch.Generator(device="cuda").manual_seed(1))
    assert a.is_cuda and a.shape == (32, 3, 224, 224) and torch.equal(a, b)
    assert torch.allclose(aug.ten_crop(images).cpu(), aug.ten_crop(data.images), atol=1e-4)


def test_trainer_on_cuda_with_data_on_the_gpu(tmp_path):
    outcome = train(tiny(device="cuda", precision="bf16", data_on_device="yes", epochs=3), tmp_path)
    assert outcome.provenance["device_type"] == "cuda" and outcome.provenance["precision"] == "bf16"
    assert outcome.history[-1]["train_loss"] < outcome.history[0]["train_loss"]


def test_trainer_on_cuda_resumes(tmp_path):
    cfg = tiny(device="cuda", precision="fp32", data_on_device="yes", epochs=2)
    straight = train(cfg, tmp_path / "a")
    train(tiny(device="cuda", precision="fp32", data_on_device="yes", epochs=1), tmp_path / "b")
    resumed = train(cfg, tmp_path / "b", resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    # cuDNN may pick different algorithms between runs: equal within a tolerance, not bit for bit
    for x, y in zip(without_timings(resumed.history), without_timings(straight.history)):
        assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-3)
    assert (tmp_path / "b" / CHECKPOINT).exists()


def test_trainer_on_cuda_with_torch_compile(tmp_path):
    outcome = train(tiny(device="cuda", precision="bf16", compile=True, epochs=2), tmp_path)
    assert len(outcome.history) == 2 and outcome.history[-1]["train_loss"] > 0

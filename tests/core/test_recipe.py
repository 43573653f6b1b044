"""The recipe switches, each against the 2012 code's own definition (computerhistory/AlexNet-Source-Code,
read for the chapter "The paper and its code"), and the presets."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from alexnet_core.augment import AugmentConfig, Augmenter, ColourStats
from alexnet_core.config import RECIPE_SWITCHES, RECIPES, TrainConfig
from alexnet_core.model import AlexNet, WithinMapNorm, paper_lrn
from alexnet_core.optim import PaperSGD, make_optimizer, set_lr
from alexnet_core.book.engine.records import config_hash, recorded_hash
from alexnet_core.inputs import build_model


def small_alexnet(**kw) -> AlexNet:
    torch.manual_seed(0)
    return AlexNet(10, groups=1, width=0.25, **kw)


# --------------------------------------------------------------------------- LRN's alpha

def test_per_window_alpha_is_the_codes_scale_divided_by_size():
    """layer.py, NormLayerParser: ``scale /= size`` for cross-map norms, minDiv=2 is k: the code
    computes a / (2 + (1e-4 / 5) * sum a^2)^0.75, which is PyTorch's LocalResponseNorm(5, 1e-4, 0.75, 2)."""
    a = torch.randn(2, 12, 5, 5) * 30
    code = a / (2 + (1e-4 / 5) * _window_sum_of_squares(a, 5)) ** 0.75
    assert torch.allclose(paper_lrn("per-window")(a), code, rtol=1e-5)
    assert torch.allclose(paper_lrn("per-window")(a), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)(a), rtol=1e-5)
    printed = a / (2 + 1e-4 * _window_sum_of_squares(a, 5)) ** 0.75  # section 3.3 as printed
    assert torch.allclose(paper_lrn("printed")(a), printed, rtol=1e-5)
    with pytest.raises(ValueError, match="printed or per-window"):
        paper_lrn("caffe")


def _window_sum_of_squares(a: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.zeros_like(a)
    for i in range(a.shape[1]):
        lo, hi = max(0, i - n // 2), min(a.shape[1] - 1, i + n // 2)
        out[:, i] = a[:, lo:hi + 1].square().sum(1)
    return out


def test_within_map_norm_matches_a_loop_over_positions():
    """cuda-convnet's rnorm (cnorm2 in layers-145.cfg): scale divided by size^2, k fixed at 1
    (conv_util.cu: ``1 + addScale * sum``), the sum over the size x size window in the same map."""
    a = torch.randn(2, 3, 7, 6) * 20
    size, scale, power = 5, 1e-3, 0.75
    expected = torch.empty_like(a)
    for y in range(a.shape[2]):
        for x in range(a.shape[3]):
            window = a[:, :, max(0, y - 2):y + 3, max(0, x - 2):x + 3]
            denom = 1 + (scale / size**2) * window.square().sum(dim=(2, 3))
            expected[:, :, y, x] = a[:, :, y, x] / denom ** power
    assert torch.allclose(WithinMapNorm(size, scale, power, 1.0)(a), expected, rtol=1e-5)


# --------------------------------------------------------------------------- layer order, init

def test_layer_one_as_coded_normalises_before_the_relu():
    """layers-145.cfg: rnorm1 takes conv1 (no neuron), pool1 applies neuron=relu."""
    model = small_alexnet(lrn1_before_relu=True).eval()
    x = torch.randn(2, 3, 224, 224) * 50
    coded = F.relu(model.pool1(model.norm1(model.conv1(x))))
    printed = model.pool1(model.norm1(F.relu(model.conv1(x))))
    got = model.features(x)
    layer2 = lambda h: model.pool2(model.norm2b(model.norm2(model.act2(model.conv2(h)))))  # noqa: E731
    rest = lambda h: model.pool5(model.act5(model.conv5(model.act4(model.conv4(model.act3(model.conv3(h)))))))  # noqa: E731
    assert torch.allclose(got, rest(layer2(coded)), atol=1e-5)
    assert not torch.allclose(coded, printed)  # the order matters: LRN sees signed inputs as coded


def test_within_map_norm_sits_after_conv2s_lrn_only_when_asked():
    assert isinstance(small_alexnet(norm2_within_map=True).norm2b, WithinMapNorm)
    assert isinstance(small_alexnet().norm2b, nn.Identity)
    assert isinstance(small_alexnet(norm2_within_map=True, lrn=False).norm2b, nn.Identity)  # no LRN, no norms


def test_conv3_to_conv5_start_wider_as_coded():
    """layers-145.cfg: initW=0.03 for conv3-5, 0.01 for conv1, conv2 and the fc layers."""
    model = AlexNet(10, conv345_std=0.03)
    stds = {n: m.weight.std().item() for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    for name in ("conv3", "conv4", "conv5"):
        assert stds[name] == pytest.approx(0.03, rel=0.05), name
    for name in ("conv1", "conv2", "fc6", "fc7", "fc8"):
        assert stds[name] == pytest.approx(0.01, rel=0.1), name


# --------------------------------------------------------------------------- learning rule, colour

def test_biases_learn_at_twice_the_weights_rate_and_keep_the_ratio_after_a_drop():
    """layer-params-145.cfg: epsB=0.02 against epsW=0.01 at the start."""
    layer = nn.Linear(3, 2)
    opt = make_optimizer(layer, "paper", 0.01, 0.9, 0.0, bias_lr_mult=2.0)
    assert isinstance(opt, PaperSGD)
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    layer(torch.ones(4, 3)).sum().backward()
    opt.step()
    assert torch.allclose(layer.weight - w0, -0.01 * layer.weight.grad)
    assert torch.allclose(layer.bias - b0, -0.02 * layer.bias.grad)
    set_lr(opt, 0.001)
    assert [g["lr"] for g in opt.param_groups] == [0.001, 0.002]


def test_colour_rescale_divides_training_crops_only():
    """convdata.py: ``cropped += noise * coeff`` then ``cropped /= 1.0 + coeff``; test data unscaled."""
    images = torch.randint(0, 255, (4, 3, 32, 32), dtype=torch.uint8)
    stats = ColourStats.from_images(images)
    plain = Augmenter(AugmentConfig(crop=24, random_crop=False, flip=False), stats)
    coded = Augmenter(AugmentConfig(crop=24, random_crop=False, flip=False, colour_rescale=True), stats)
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.allclose(coded.train(images, g1), plain.train(images, g2) / 1.1, atol=1e-4)
    assert torch.equal(coded.centre(images), plain.centre(images))


# --------------------------------------------------------------------------- presets

def test_presets_set_every_switch_and_explicit_flags_win():
    assert set(RECIPES["printed"]) == set(RECIPES["coded"]) == set(RECIPE_SWITCHES)
    assert TrainConfig().recipe_settings() == RECIPES["printed"]
    assert TrainConfig(recipe="coded").recipe_settings() == RECIPES["coded"]
    assert TrainConfig(recipe="coded", bias_lr_mult=1.0).recipe_settings()["bias_lr_mult"] == 1.0
    model = build_model(TrainConfig(recipe="coded"), 10)
    assert model.lrn1_before_relu and isinstance(model.norm2b, WithinMapNorm)
    assert model.norm1.alpha == pytest.approx(2e-5)
    with pytest.raises(ValueError, match="--recipe 'cuda'"):
        TrainConfig(recipe="cuda").validate()


def test_records_made_before_the_switches_keep_their_hash():
    """A record written before these fields existed is the printed recipe with nn.Dropout's
    inverted form (the AlexNet of that time): same config hash as that, not as today's default."""
    cfg = TrainConfig(lr=0.003, dropout_scaling="train", lrn_per_column=False).to_dict()
    old = {k: v for k, v in cfg.items() if k not in (*RECIPE_SWITCHES, "recipe", "record_steps")}
    assert recorded_hash(dict(config=old)) == config_hash(cfg)
    assert recorded_hash(dict(config=old)) != config_hash(TrainConfig(lr=0.003).to_dict())
    assert config_hash(TrainConfig(recipe="coded").to_dict()) != config_hash(TrainConfig(lr=0.003).to_dict())


def test_the_dropout_form_counts_only_where_there_is_dropout():
    """Without dropout (rate 0, or a CIFAR-10 net) where it would rescale changes nothing: a record
    made before the switch existed is still today's run."""
    for settings in (dict(dropout=0.0), dict(model="cifarnet", dataset="cifar10", dropout=0.0),
                     dict(model="convlocal", dataset="cifar10")):
        cfg = TrainConfig(recipe="coded", **settings).to_dict()
        old = {k: v for k, v in cfg.items() if k != "dropout_scaling"}
        assert recorded_hash(dict(config=old)) == config_hash(cfg), settings


def test_lrn_within_each_column_sums_no_map_of_the_other_column():
    """layers-145.cfg normalises each column apart (rnorm1a over conv1a's 48 maps, rnorm2a over
    conv2a's 128): the per-column LRN equals the LRN of each half alone, gradients included."""
    from alexnet_core.model import LocalResponseNorm
    x = torch.randn(2, 8, 3, 3, dtype=torch.float64, requires_grad=True)
    per_column = LocalResponseNorm(5, 1e-2, 0.75, 2.0, groups=2)
    apart = torch.cat([LocalResponseNorm(5, 1e-2, 0.75, 2.0)(half) for half in x.split(4, dim=1)], dim=1)
    torch.testing.assert_close(per_column(x), apart)
    assert not torch.allclose(LocalResponseNorm(5, 1e-2, 0.75, 2.0)(x), apart)  # across columns: not the same
    assert torch.autograd.gradcheck(per_column, (x,))
    coded, printed = build_model(TrainConfig(recipe="coded"), 10), build_model(TrainConfig(recipe="printed"), 10)
    assert coded.norm1.groups == coded.norm2.groups == 2 and printed.norm1.groups == 1
    assert build_model(TrainConfig(recipe="coded", groups=1, width=0.5), 10).norm1.groups == 1

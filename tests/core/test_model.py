"""AlexNet and the CIFAR-10 net against sections 3.1-3.5 and 5 of the paper."""
import pytest
import torch
from torch import nn

from alexnet_core import AlexNet, CifarNet, LocalResponseNorm, count_parameters, layer_table
from alexnet_core.model import multiply_adds

# Figure 2's output sizes (C, H, W) per weight layer, and section 3's parameter counts.
PAPER_SHAPES = {
    "conv1": (96, 55, 55), "conv2": (256, 27, 27), "conv3": (384, 13, 13),
    "conv4": (384, 13, 13), "conv5": (256, 13, 13), "fc6": (4096,), "fc7": (4096,), "fc8": (1000,),
}
PAPER_PARAMS = {
    "conv1": 34_944, "conv2": 307_456, "conv3": 885_120, "conv4": 663_936, "conv5": 442_624,
    "fc6": 37_752_832, "fc7": 16_781_312, "fc8": 4_097_000,
}


@pytest.fixture(scope="module")
def paper_model():
    torch.manual_seed(0)
    return AlexNet()


@pytest.fixture(scope="module")
def paper_table(paper_model):
    return {row["layer"]: row for row in layer_table(paper_model)}


@pytest.mark.parametrize("input_size", [224, 227])
def test_layer_output_shapes_match_figure_2(input_size):
    model = AlexNet(input_size=input_size)
    table = {row["layer"]: row for row in layer_table(model)}
    assert {k: v["output_shape"] for k, v in table.items()} == PAPER_SHAPES


def test_intermediate_shapes_after_pooling(paper_model):
    x = torch.zeros(2, 3, 224, 224)
    with torch.no_grad():
        assert paper_model.features(x).shape == (2, 256, 6, 6)
        assert paper_model.embed(x).shape == (2, 4096)
        assert paper_model(x).shape == (2, 1000)


def test_non_overlapping_pooling_keeps_output_sizes():
    model = AlexNet(overlap_pool=False)
    assert model.pool1.kernel_size == 2 and model.pool1.stride == 2
    table = {row["layer"]: row for row in layer_table(model)}
    assert {k: v["output_shape"] for k, v in table.items()} == PAPER_SHAPES
    assert AlexNet().pool1.kernel_size == 3 and AlexNet().pool1.stride == 2


def test_unsupported_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match="224 or 227"):
        AlexNet(input_size=256)


def test_parameter_counts_two_column_model(paper_model, paper_table):
    assert {k: v["params"] for k, v in paper_table.items()} == PAPER_PARAMS
    assert count_parameters(paper_model) == 60_965_224


def test_parameter_count_ungrouped_model():
    assert count_parameters(AlexNet(groups=1)) == 62_378_344


def test_one_column_half_width_follows_the_footnote():
    model = AlexNet.one_column_half()
    assert [model.conv1.out_channels, model.conv2.out_channels, model.conv3.out_channels,
            model.conv4.out_channels, model.conv5.out_channels] == [48, 128, 192, 192, 256]
    assert model.fc6.in_features == 256 * 36 and model.fc6.out_features == 4096
    assert all(m.groups == 1 for m in model.modules() if isinstance(m, nn.Conv2d))
    assert count_parameters(model) < count_parameters(AlexNet())


def test_only_conv2_conv4_conv5_are_grouped(paper_model):
    groups = {n: m.groups for n, m in paper_model.named_modules() if isinstance(m, nn.Conv2d)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}


def test_grouped_conv_really_isolates_columns(paper_model):
    """Changing column 1's conv1 output must not change column 2's conv2 output."""
    conv2 = paper_model.conv2
    x = torch.randn(1, 96, 27, 27)
    y = x.clone()
    y[:, :48] += 1.0  # perturb column 1 only
    with torch.no_grad():
        a, b = conv2(x), conv2(y)
    assert torch.equal(a[:, 128:], b[:, 128:])
    assert not torch.allclose(a[:, :128], b[:, :128])


def lrn_reference(a: torch.Tensor, n=5, k=2.0, alpha=1e-4, beta=0.75) -> torch.Tensor:
    """Section 3.3's formula, written out with explicit loops over channels."""
    N = a.shape[1]
    out = torch.empty_like(a)
    for i in range(N):
        lo, hi = max(0, i - n // 2), min(N - 1, i + n // 2)
        s = (a[:, lo:hi + 1] ** 2).sum(dim=1)
        out[:, i] = a[:, i] / (k + alpha * s) ** beta
    return out


@pytest.mark.parametrize("channels", [1, 3, 7, 96])
def test_lrn_matches_the_paper_formula_including_channel_edges(channels):
    torch.manual_seed(channels)
    a = torch.randn(2, channels, 5, 4, dtype=torch.float64) * 30  # large so alpha matters
    ours = LocalResponseNorm()(a)
    assert torch.allclose(ours, lrn_reference(a), rtol=1e-5, atol=1e-7)


def test_lrn_does_not_divide_alpha_by_size():
    a = torch.randn(1, 8, 3, 3, dtype=torch.float64) * 50
    torch_default = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)(a)
    assert not torch.allclose(LocalResponseNorm()(a), torch_default)
    torch_scaled = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)(a)
    assert torch.allclose(LocalResponseNorm()(a), torch_scaled)


def test_lrn_position_and_switch(paper_model):
    assert isinstance(paper_model.norm1, LocalResponseNorm)
    assert isinstance(paper_model.norm2, LocalResponseNorm)
    no_lrn = AlexNet(lrn=False)
    assert not any(isinstance(m, LocalResponseNorm) for m in no_lrn.modules())


def test_paper_init_statistics_and_biases(paper_model):
    for name, module in paper_model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        w = module.weight.detach()
        assert abs(w.mean().item()) < 2e-3, name
        assert w.std().item() == pytest.approx(0.01, rel=0.05 if w.numel() > 30_000 else 0.15), name
        expected_bias = 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0
        assert torch.all(module.bias == expected_bias), name


def test_kaiming_init_alternative():
    model = AlexNet(init="kaiming")
    assert torch.all(model.conv2.bias == 0)
    fan_in = 48 * 5 * 5
    assert model.conv2.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.05)
    with pytest.raises(ValueError, match="unknown init"):
        AlexNet(init="xavier")


def test_dropout_on_fc6_and_fc7_outputs_only_in_training():
    torch.manual_seed(0)
    model = AlexNet(num_classes=10, init="kaiming")
    x = torch.randn(2, 3, 224, 224)
    dropped = {}

    def watch(name):
        def hook(module, inputs, output):
            alive = inputs[0] != 0
            dropped[name] = ((output == 0) & alive).sum().item() / alive.sum().item()
        return hook

    model.drop6.register_forward_hook(watch("fc6"))
    model.drop7.register_forward_hook(watch("fc7"))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    assert dropped == {"fc6": 0.0, "fc7": 0.0}
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))
    assert 0.45 < dropped["fc6"] < 0.55 and 0.45 < dropped["fc7"] < 0.55
    # the ReLU comes before the dropout: fc6 -> act6 -> drop6 -> fc7
    names = [n for n, _ in model.named_children()]
    assert names.index("act6") < names.index("drop6") < names.index("fc7") < names.index("drop7") < names.index("fc8")
    assert AlexNet(dropout=0.0).drop7.p == 0.0


def test_activation_switch():
    relu, tanh = AlexNet(activation="relu"), AlexNet(activation="tanh")
    assert isinstance(relu.act1, nn.ReLU) and isinstance(relu.act7, nn.ReLU)
    assert isinstance(tanh.act1, nn.Tanh) and isinstance(tanh.act7, nn.Tanh)
    assert isinstance(CifarNet(activation="tanh").act2, nn.Tanh)
    with pytest.raises(ValueError, match="unknown activation"):
        AlexNet(activation="sigmoid")


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = AlexNet(num_classes=10, init="kaiming")
    x, y = torch.randn(4, 3, 224, 224), torch.randint(0, 10, (4,))
    nn.functional.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bf16_autocast_channels_last_forward_backward_on_cpu():
    torch.manual_seed(0)
    model = AlexNet(num_classes=10).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 224, 224).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (2,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
        assert logits.dtype == torch.bfloat16
        loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_embed_is_fc7_after_relu(paper_model):
    paper_model.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        e = paper_model.embed(x)
        assert (e >= 0).all()
        assert torch.allclose(paper_model.fc8(e), paper_model(x))


def test_neurons_and_multiply_adds_are_counted(paper_table, paper_model):
    assert paper_table["conv1"]["neurons"] == 55 * 55 * 96  # 290,400: the caption says 253,440
    assert paper_table["conv2"]["macs"] == 27 * 27 * 256 * 48 * 5 * 5
    assert paper_table["fc6"]["macs"] == 9216 * 4096
    total = multiply_adds(paper_model)
    assert 0.6e9 < total < 1.2e9  # ~0.7 billion multiply-adds per image


@pytest.mark.parametrize("input_size,fc_in", [(24, 64 * 2 * 2), (32, 64 * 3 * 3)])
def test_cifar_net_shapes_and_switches(input_size, fc_in):
    model = CifarNet(input_size=input_size)
    assert model.fc.in_features == fc_in
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)] == [32, 32, 64]
    x = torch.randn(3, 3, input_size, input_size)
    assert model(x).shape == (3, 10)
    assert sum(isinstance(m, LocalResponseNorm) for m in model.modules()) == 2
    assert not any(isinstance(m, LocalResponseNorm) for m in CifarNet(lrn=False).modules())
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()) == 4


@pytest.mark.parametrize("channels", [1, 4, 9])
def test_lrn_backward_passes_gradcheck(channels):
    torch.manual_seed(0)
    a = (torch.randn(2, channels, 3, 3, dtype=torch.float64) * 20).requires_grad_()
    assert torch.autograd.gradcheck(LocalResponseNorm(), (a,), eps=1e-6, atol=1e-6)


def test_lrn_gradient_matches_autograd_through_the_formula():
    torch.manual_seed(1)
    a = (torch.randn(2, 16, 4, 4, dtype=torch.float64) * 40)
    a1, a2 = a.clone().requires_grad_(), a.clone().requires_grad_()
    g = torch.randn_like(a)
    LocalResponseNorm()(a1).backward(g)
    lrn_reference(a2).backward(g)
    assert torch.allclose(a1.grad, a2.grad, rtol=1e-6, atol=1e-9)


def test_lrn_keeps_bf16_dtype_and_channels_last():
    a = torch.randn(2, 8, 5, 5).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    out = LocalResponseNorm()(a)
    assert out.dtype == torch.bfloat16
    ref = lrn_reference(a.float())
    assert torch.allclose(out.float(), ref, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("layer", [3, 4])
def test_depth_ablation_removes_one_middle_conv(layer):
    model = AlexNet(remove_conv=layer)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert f"conv{layer}" not in convs and len(convs) == 4
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)
    with pytest.raises(ValueError, match="remove_conv"):
        AlexNet(remove_conv=2)


def test_paper_dropout_scales_at_test_time_not_in_training():
    """Section 4.2 and the 2012 code's hs layer: a plain 0/1 mask in training, x(1 - p) at test."""
    from alexnet_core.model import PaperDropout
    x = torch.rand(64, 4096) + 0.5
    paper, inverted = PaperDropout(0.5, "test"), PaperDropout(0.5, "train")
    torch.manual_seed(3)
    kept = paper.train()(x)
    assert set(torch.unique(kept / x).tolist()) == {0.0, 1.0}  # no rescaling in training
    torch.manual_seed(3)
    assert torch.equal(inverted.train()(x), kept * 2)  # the same mask, divided by 0.5
    assert torch.equal(paper.eval()(x), x * 0.5) and torch.equal(inverted.eval()(x), x)
    assert torch.equal(PaperDropout(0.0, "test").train()(x), x)
    with pytest.raises(ValueError, match="dropout scaling"):
        PaperDropout(0.5, "sometimes")


def test_paper_dropout_equals_the_inverted_form_with_fc7_and_fc8_halved_in_eval_mode():
    torch.manual_seed(0)
    paper = AlexNet(num_classes=10, dropout_scaling="test").eval()
    inverted = AlexNet(num_classes=10, dropout_scaling="train").eval()
    inverted.load_state_dict(paper.state_dict())
    with torch.no_grad():
        inverted.fc7.weight.mul_(0.5)
        inverted.fc8.weight.mul_(0.5)
        x = torch.randn(2, 3, 224, 224)
        torch.testing.assert_close(paper(x), inverted(x), rtol=1e-4, atol=1e-5)


def test_both_recipes_use_the_papers_dropout_and_the_cifar_nets_have_none():
    from alexnet_core.config import RECIPES, TrainConfig
    from alexnet_core.inputs import build_model
    from alexnet_core.model import PaperDropout
    assert RECIPES["printed"]["dropout_scaling"] == RECIPES["coded"]["dropout_scaling"] == "test"
    for recipe in RECIPES:
        model = build_model(TrainConfig(recipe=recipe), 10)
        assert model.drop6.scaling == model.drop7.scaling == "test"
    assert build_model(TrainConfig(recipe="coded", dropout_scaling="train"), 10).drop7.scaling == "train"
    for net in ("cifarnet", "convlocal"):
        cifar = build_model(TrainConfig(model=net, dataset="cifar10", crop=24), 10)
        assert not any(isinstance(m, (PaperDropout, torch.nn.Dropout)) for m in cifar.modules())

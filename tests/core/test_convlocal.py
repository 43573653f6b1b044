"""cuda-convnet's conv-local CIFAR-10 pair (section 3.3's four-layer net), against the source's
definitions: the locally connected layer, the normalisation, the shapes, init and weight decay."""
import pytest
import torch
from torch import nn

from alexnet_core.config import TrainConfig
from alexnet_core.convlocal import SOURCE_INIT_STD, ConvLocalNet, LocallyConnected2d, source_norm
from alexnet_core.inputs import build_model
from alexnet_core.model import count_parameters
from alexnet_core.optim import parameter_groups
from alexnet_core.train import train


def local_by_loop(layer: LocallyConnected2d, x: torch.Tensor) -> torch.Tensor:
    """The definition: at every output position, its own filters applied to the patch there."""
    k, p, s, side = layer.kernel_size, layer.padding, layer.stride, layer.output_size
    padded = nn.functional.pad(x, (p, p, p, p))
    w = layer.weight.view(side, side, layer.out_channels, layer.in_channels, k, k)
    out = torch.zeros(x.shape[0], layer.out_channels, side, side, dtype=x.dtype)
    for i in range(side):
        for j in range(side):
            patch = padded[:, :, i * s:i * s + k, j * s:j * s + k]  # N, C, k, k
            out[:, :, i, j] = torch.einsum("nchw,ochw->no", patch, w[i, j]) + layer.bias[:, i, j]
    return out


@pytest.mark.parametrize("kernel, padding, stride, size", [(3, 1, 1, 6), (3, 0, 1, 5), (2, 0, 2, 6)])
def test_the_locally_connected_layer_is_a_loop_over_positions(kernel, padding, stride, size):
    torch.manual_seed(0)
    layer = LocallyConnected2d(4, 3, kernel, size, padding=padding, stride=stride)
    nn.init.normal_(layer.bias)
    x = torch.randn(2, 4, size, size, dtype=torch.float64)
    layer = layer.double()
    assert torch.allclose(layer(x), local_by_loop(layer, x), atol=1e-10)


def test_its_filters_are_not_shared_between_positions():
    layer = LocallyConnected2d(1, 1, 3, 4, padding=1)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0].fill_(1.0)  # only the first position has non-zero filters
    out = layer(torch.ones(1, 1, 4, 4))
    assert out[0, 0, 0, 0] == 4.0 and out[0, 0].flatten()[1:].abs().sum() == 0  # a corner sees 2x2 of ones


def test_the_source_normalisation_is_pytorchs_with_alpha_per_window_and_k_one():
    """cuda-convnet's rnorm: a / (1 + scale/size * sum of squares over the window) ** pow."""
    torch.manual_seed(0)
    x = torch.rand(2, 8, 3, 3) * 10
    ours = source_norm("per-window")(x)
    assert torch.allclose(ours, nn.LocalResponseNorm(5, alpha=1e-3, beta=0.75, k=1.0)(x), rtol=1e-5)
    squares = nn.functional.pad(x.pow(2), (0, 0, 0, 0, 2, 2))
    window = sum(squares[:, i:i + 8] for i in range(5))
    assert torch.allclose(ours, x / (1 + 1e-3 / 5 * window) ** 0.75, rtol=1e-5)
    printed = source_norm("printed")(x)  # the same number read as the paper prints alpha: 5x stronger
    assert torch.allclose(printed, x / (1 + 1e-3 * window) ** 0.75, rtol=1e-5)
    with pytest.raises(ValueError, match="per-window or printed"):
        source_norm("other")


@pytest.mark.parametrize("overlap", [True, False])
def test_shapes_follow_cuda_convnet_and_both_poolings_give_the_same_sides(overlap):
    net = ConvLocalNet(lrn=True, overlap_pool=overlap)
    assert net.embed(torch.zeros(2, 3, 24, 24)).shape == (2, 32 * 6 * 6)  # 24 -> 12 -> 6 either way
    assert net(torch.zeros(2, 3, 24, 24)).shape == (2, 10)
    assert net.pool1.kernel_size == (3 if overlap else 2)


def test_the_pair_differs_only_by_the_normalisations_and_starts_as_the_source_does():
    torch.manual_seed(0)
    with_norm, without = ConvLocalNet(lrn=True), ConvLocalNet(lrn=False)
    assert isinstance(with_norm.norm1, nn.Module) and isinstance(without.norm1, nn.Identity)
    assert [n for n, _ in with_norm.named_parameters()] == [n for n, _ in without.named_parameters()]
    for name, std in SOURCE_INIT_STD.items():
        weight = getattr(with_norm, name).weight
        assert weight.std().item() == pytest.approx(std, rel=0.1)
        assert getattr(with_norm, name).bias.abs().sum() == 0
    assert isinstance(with_norm.local3, LocallyConnected2d) and with_norm.local3.weight.shape == (36, 32, 64 * 9)


def test_weight_decay_spares_the_convolutions_as_the_source_does():
    net = ConvLocalNet()
    groups = parameter_groups(net, 0.004, decay_biases=False, bias_lr_mult=2.0)
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    lr_of = {id(p): g["lr_mult"] for g in groups for p in g["params"]}
    assert decay_of[id(net.conv1.weight)] == decay_of[id(net.conv2.weight)] == 0.0
    assert decay_of[id(net.local3.weight)] == decay_of[id(net.local4.weight)] == decay_of[id(net.fc10.weight)] == 0.004
    assert decay_of[id(net.local3.bias)] == 0.0 and lr_of[id(net.local3.bias)] == 2.0
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))


def test_a_config_builds_it_and_it_trains(tmp_path):
    cfg = TrainConfig(dataset="synthetic", model="convlocal", limit_train=64, limit_val=32, batch_size=16, epochs=2,
                      lr=0.001, weight_decay=0.004, bias_lr_mult=2.0, lrn=True, precision="fp32", device="cpu",
                      progress=False, ten_crop=True, threads=2)
    model = build_model(cfg, 4)
    assert isinstance(model, ConvLocalNet) and model.norm1.alpha == pytest.approx(1e-3 / 5)
    outcome = train(cfg, tmp_path)
    assert len(outcome.history) == 2 and outcome.metrics["val10_top1"] is not None
    printed = build_model(TrainConfig(model="convlocal", lrn_alpha="printed"), 10)
    assert printed.norm1.alpha == pytest.approx(1e-3)


# The final 11% file (dnouri/cuda-convnet r541, example-layers/layers-conv-local-11pct.cfg and
# layer-params-conv-local-11pct.cfg), layer by layer: (layer, filters or outputs, weights of one
# position or kernel, positions). Its params file: wc 0 on the convolutions, 0.004 on local3-4, 0.01 on fc10.
R541 = [("conv1", 64, 3 * 5 * 5, 1), ("conv2", 64, 64 * 5 * 5, 1), ("local3", 64, 64 * 3 * 3, 36),
        ("local4", 32, 64 * 3 * 3, 36), ("fc10", 10, 32 * 6 * 6, 1)]


def test_the_final_11pct_net_matches_its_cfg_layer_by_layer():
    net = ConvLocalNet(lrn=True, version="r541")
    for name, outputs, fan_in, positions in R541:
        assert getattr(net, name).weight.numel() == outputs * fan_in * positions, name
    assert count_parameters(net) == 2_112_970  # cuda-convnet's own count of the r541 net
    assert count_parameters(ConvLocalNet(lrn=False)) == 1_116_490  # the 13% file
    for norm in (net.norm1, net.norm2):  # cmrnorm size=9, scale=0.001 (divided by the size), pow=0.75, k=1
        assert (norm.size, norm.alpha, norm.beta, norm.k) == (9, pytest.approx(1e-3 / 9), 0.75, 1.0)
    assert count_parameters(ConvLocalNet(lrn=False, version="r541")) == 2_112_970  # norms have no weights
    with pytest.raises(ValueError, match="r540 or r541"):
        ConvLocalNet(version="r539")


def test_the_final_11pct_net_normalises_after_pool1_and_before_pool2():
    """r541: conv1 -> ReLU -> pool1 -> rnorm1 -> conv2 -> ReLU -> rnorm2 -> pool2 (the r540 draft
    normalised before pool1)."""
    order = []
    for version in ("r541", "r540"):
        net, calls = ConvLocalNet(lrn=True, version=version), []
        for name in ("pool1", "norm1", "conv2", "norm2", "pool2"):
            getattr(net, name).register_forward_hook(lambda *_, n=name: calls.append(n))
        net(torch.zeros(1, 3, 24, 24))
        order.append(calls)
    assert order[0] == ["pool1", "norm1", "conv2", "norm2", "pool2"]
    assert order[1] == ["norm1", "pool1", "conv2", "norm2", "pool2"]


def test_the_final_file_decays_fc10_at_0_01():
    net = ConvLocalNet(version="r541")
    groups = parameter_groups(net, 0.004, decay_biases=False, bias_lr_mult=2.0)
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert decay_of[id(net.fc10.weight)] == pytest.approx(0.01) and decay_of[id(net.local3.weight)] == 0.004
    assert decay_of[id(net.conv1.weight)] == 0.0
    built = build_model(TrainConfig(model="convlocal", dataset="cifar10", convlocal_version="r541"), 10)
    assert built.version == "r541" and built.local3.out_channels == 64

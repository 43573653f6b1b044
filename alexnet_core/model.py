"""The networks of the paper: AlexNet (sections 3.1-3.5) and the CIFAR-10 nets its claims use.

Everything here is a plain ``torch.nn.Module``; data, training and plotting live elsewhere.

Input size, 224 or 227 (section 3.5, Figure 2). The paper feeds 224x224 crops to an 11x11
stride-4 convolution and reports a 55x55 map, but (224 - 11) / 4 + 1 = 54.25. We keep the
paper's 224 crops and pad conv1 by 2 pixels, which gives exactly 55 (as torchvision does);
``input_size=227`` gives Caffe's choice of 227 crops with no padding. Both yield the same
layer sizes from conv1 on, so every later number (parameters, neurons) is unchanged.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from . import norm_kernels
from .streams import layer_generator

Activation = Literal["relu", "tanh"]
Init = Literal["paper", "kaiming"]

#: Layers whose biases the paper sets to 1 (section 5): "conv2, conv4, conv5 and the
#: fully-connected hidden layers". All other biases start at 0.
PAPER_BIAS_ONE = ("conv2", "conv4", "conv5", "fc6", "fc7")

#: conv1 padding for each supported input size (see the module docstring).
CONV1_PADDING = {224: 2, 227: 0}


def channel_window_sum(x: torch.Tensor, size: int, groups: int = 1) -> torch.Tensor:
    """Sum over ``size`` (odd) adjacent channels (dim 1) centred on each channel, truncated at the
    ends, and with ``groups`` at the ends of each of that many equal blocks of channels (the 2012
    code normalises each column's maps apart: ``rnorm1a``/``rnorm1b`` of layers-145.cfg).

    Written as shifted in-place additions (no padding copy): on a memory-bound CPU every
    full pass over an activation tensor counts.
    """
    half, channels = size // 2, x.shape[1]
    if channels % groups:
        raise ValueError(f"{channels} channels do not split into {groups} columns")
    block = channels // groups
    total = x.clone()
    for start in range(0, channels, block):
        end = start + block
        for offset in range(1, min(half, block - 1) + 1):
            total[:, start + offset:end] += x[:, start:end - offset]
            total[:, start:end - offset] += x[:, start + offset:end]
    return total


class _PaperLRN(torch.autograd.Function):
    """Section 3.3's normalisation with a hand-written backward pass.

    Forward: ``d = k + alpha * window_sum(a^2)``, ``b = a * d^-beta``. Backward:
    ``da = g * d^-beta - 2 alpha beta * a * window_sum(g * a * d^-beta / d)`` (the window is
    symmetric, so the sum over the outputs a channel feeds is again a window sum). Computed in
    float32 (float64 for float64 input) whatever the input dtype; two window sums and one
    ``pow`` in all, where autograd through PyTorch's LRN costs several times as much.
    """

    @staticmethod
    def forward(ctx, a, size, alpha, beta, k, groups=1):
        compute = torch.promote_types(a.dtype, torch.float32)
        af = a.to(compute)
        d = channel_window_sum(af.square(), size, groups).mul_(alpha).add_(k)
        scale = d.pow(-beta)
        ctx.save_for_backward(af, d, scale)
        ctx.constants = (size, alpha, beta, a.dtype, groups)
        return (af * scale).to(a.dtype)

    @staticmethod
    def backward(ctx, grad):
        af, d, scale = ctx.saved_tensors
        size, alpha, beta, dtype, groups = ctx.constants
        g = grad.to(af.dtype)
        gs = g * scale
        inner = channel_window_sum((gs * af).div_(d), size, groups)
        da = inner.mul_(af).mul_(-2.0 * alpha * beta).add_(gs)
        return da.to(dtype), None, None, None, None, None


def _set_window(module: nn.Module, size: int, alpha: float, beta: float, k: float, requirement: str) -> None:
    """Store a normalisation's constants; its window must be an odd number of units wide."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"{requirement}, got {size}")
    module.size, module.alpha, module.beta, module.k = size, alpha, beta, k


class LocalResponseNorm(nn.Module):
    """Cross-channel local response normalisation exactly as section 3.3 writes it.

    ``b[i] = a[i] / (k + alpha * sum_{j=max(0,i-n/2)}^{min(N-1,i+n/2)} a[j]^2) ** beta``

    The sum over the ``size`` adjacent channels is *not* divided by ``size``. PyTorch's
    ``nn.LocalResponseNorm`` (like Caffe and cuda-convnet2) divides alpha by the window,
    so it equals this module only when given ``alpha * size`` (a test checks both). The
    normalisation is computed in float32 even under bf16 autocast: the squared sums of
    unnormalised ReLU outputs lose too much in bfloat16's 8-bit mantissa.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0, groups: int = 1):
        super().__init__()
        _set_window(self, size, alpha, beta, k, "LRN size must be an odd number of channels (the paper: 5)")
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"LRN groups (columns normalised apart) must be a whole number >= 1 (the paper: 1, "
                             f"the 2012 code: 2), got {groups!r}")
        self.groups = groups  # >1: each column's maps normalised apart, as the 2012 code did

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if norm_kernels.eligible(x):  # a CPU tensor in channels-last layout: the fused kernels
            y = norm_kernels.compiled_lrn(x, self.size, self.alpha, self.beta, self.k, self.groups)
            if y is not None:
                return y
        return _PaperLRN.apply(x, self.size, self.alpha, self.beta, self.k, self.groups)

    def extra_repr(self) -> str:
        columns = f", within each of {self.groups} columns" if self.groups > 1 else ""
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k} (paper form{columns})"


#: Section 3.3's constants: ``k, n, alpha, beta`` (the paper prints alpha for a sum that is not
#: divided by n; the 2012 code divides it, ``per-window``).
LRN_K, LRN_SIZE, LRN_ALPHA, LRN_BETA = 2.0, 5, 1e-4, 0.75


def paper_lrn(convention: str = "printed", groups: int = 1) -> "LocalResponseNorm":
    """Section 3.3's normalisation under one of the two conventions for alpha.

    ``printed``: alpha = 1e-4 multiplies the plain sum over n = 5 channels, as the formula is
    printed. ``per-window``: alpha / n multiplies it, as the authors' 2012 code computed
    (``layer.py``, ``CrossMapNormLayerParser``: ``scale /= size``) and as PyTorch's
    ``nn.LocalResponseNorm(5, 1e-4, 0.75, 2)`` does: five times weaker. ``groups`` > 1 sums
    each column's maps apart (the 2012 code's ``rnorm1a``, ``rnorm2a``...).
    """
    if convention not in ("printed", "per-window"):
        raise ValueError(f"unknown LRN alpha convention {convention!r}: choose printed or per-window")
    alpha = LRN_ALPHA if convention == "printed" else LRN_ALPHA / LRN_SIZE
    return LocalResponseNorm(LRN_SIZE, alpha, LRN_BETA, LRN_K, groups)


class WithinMapNorm(nn.Module):
    """The 2012 code's within-map response normalisation (cuda-convnet's ``rnorm``; ``cnorm2``
    of layers-145.cfg): each unit divided by ``(k + alpha/size^2 * sum a^2)^beta``, the sum over
    the ``size x size`` neighbourhood in its own map (truncated at the borders).

    The paper does not mention this layer; ``norm2_within_map`` switches it on after conv2's
    cross-map LRN, where the code has it. Computed in float32 like :class:`LocalResponseNorm`.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-3, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        _set_window(self, size, alpha, beta, k, "within-map normalisation size must be odd")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if norm_kernels.eligible(x):  # the fused kernels, alpha/size^2 on the plain sum over the window
            y = norm_kernels.compiled_lrn(x, self.size, self.alpha / self.size ** 2, self.beta, self.k, groups=0)
            if y is not None:
                return y
        xf = x.float()
        # the mean over the window with zero padding, times size^2: the sum over the valid part
        window_mean = F.avg_pool2d(xf.square(), self.size, stride=1, padding=self.size // 2, count_include_pad=True)
        scale = window_mean.mul_(self.alpha).add_(self.k).pow_(-self.beta)  # alpha/size^2 * sum = alpha * mean
        return (xf * scale).to(x.dtype)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha} (divided by size^2), beta={self.beta}, k={self.k}"


class PaperDropout(nn.Module):
    """Dropout as section 4.2 and the 2012 code (``hs`` layers, ``src/layer.cu``) compute it.

    ``scaling="test"`` (the paper): in training each output is kept with probability ``1 - p``
    and zeroed otherwise, *not* rescaled; at test time every output is multiplied by ``1 - p``
    ("we use all the neurons but multiply their outputs by 0.5"). ``scaling="train"``: the
    inverted form of ``nn.Dropout``, which divides the kept outputs by ``1 - p`` in training and
    leaves test outputs alone. Both compute the same functions (the inverted form's next layer
    holds the paper's weights times ``1 - p``), but under the same initialisation and learning
    rate they do not learn alike: the inverted form's fc7 and fc8 start as if their weights were
    twice as large and learn four times as fast, in the paper's terms. Both forms draw the same
    masks from the same random stream.
    """

    def __init__(self, p: float = 0.5, scaling: str = "test"):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        if scaling not in DROPOUT_SCALINGS:
            raise ValueError(f"unknown dropout scaling {scaling!r}: choose test (the paper) or train (nn.Dropout)")
        self.p, self.scaling = p, scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0:
            return x
        if self.scaling == "train":
            return F.dropout(x, self.p, self.training)
        keep = 1.0 - self.p
        if self.training:  # the inverted form's mask and division, undone: a plain 0/1 mask
            return F.dropout(x, self.p, True) * keep
        return x * keep

    def extra_repr(self) -> str:
        return f"p={self.p}, scaling={self.scaling} ({'the paper' if self.scaling == 'test' else 'inverted'})"


#: Where dropout's ``1 / (1 - p)`` goes: ``test`` (the paper, x0.5 at test) or ``train`` (nn.Dropout).
DROPOUT_SCALINGS = ("test", "train")


def make_activation(name: str) -> nn.Module:
    """The non-linearity of section 3.1: ``relu`` (the paper's) or ``tanh`` (its baseline)."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}: choose 'relu' or 'tanh'")


def make_pool(overlap: bool) -> nn.MaxPool2d:
    """Section 3.4: overlapping 3x3 stride-2 max-pooling, or the 2x2 stride-2 baseline.

    Both give the same output sizes on AlexNet's maps (55->27, 27->13, 13->6).
    """
    return nn.MaxPool2d(kernel_size=3, stride=2) if overlap else nn.MaxPool2d(kernel_size=2, stride=2)


class AlexNet(nn.Module):
    """AlexNet as sections 3.1-3.5 and Figure 2 describe it.

    Args:
        num_classes: size of fc8 (1000 for ILSVRC).
        groups: 2 for the paper's two columns (conv2, conv4, conv5 see only their own column;
            conv3 and the fully connected layers see both), 1 for a single column.
        lrn: local response normalisation after the ReLUs of conv1 and conv2 (section 3.3).
        overlap_pool: 3/2 max-pooling (True, the paper) or 2/2 (section 3.4's baseline).
        activation: ``relu`` or ``tanh`` (section 3.1).
        dropout: probability of zeroing fc6's and fc7's outputs in training (section 4.2).
        dropout_scaling: ``test`` (the paper: no rescaling in training, x(1 - p) at test) or
            ``train`` (``nn.Dropout``'s inverted form); see :class:`PaperDropout`.
        init: ``paper`` (weights N(0, 0.01), biases 1 in conv2/4/5, fc6, fc7, else 0;
            section 5) or ``kaiming`` (He-normal weights, zero biases) for comparisons.
        width: scales the kernel counts of conv1-conv4. Section 3.2's baseline, "one column
            with half the kernels", is ``groups=1, width=0.5``; its footnote says conv5 and
            the fully connected layers were *not* halved, so ``width`` leaves them alone.
        input_size: 224 (conv1 padded by 2) or 227 (no padding); see the module docstring.
        remove_conv: section 7's depth ablation: 3 or 4 removes that middle convolutional
            layer (the next layer then takes the previous one's output); None keeps all five.
        lrn_alpha: ``printed`` or ``per-window`` (:func:`paper_lrn`).
        lrn1_before_relu: layer 1 as the 2012 code has it, conv1 -> LRN -> pool -> ReLU.
        norm2_within_map: the code's extra :class:`WithinMapNorm` after conv2's LRN.
        conv345_std: initial weight std of conv3-conv5 (the paper 0.01, the code 0.03).
        lrn_per_column: normalise each column's maps apart, as the 2012 code does (its window
            never reaches into the other column's maps); the paper does not say.
        init_seed: draw each layer's initial weights from its own generator seeded by this and
            the layer's name (:mod:`alexnet_core.streams`), so nets that differ elsewhere start
            same-shaped layers alike; None draws from the global stream in module order.
    """

    def __init__(self, num_classes: int = 1000, *, groups: int = 2, lrn: bool = True,
                 overlap_pool: bool = True, activation: Activation = "relu", dropout: float = 0.5,
                 init: Init = "paper", width: float = 1.0, input_size: int = 224,
                 remove_conv: int | None = None, lrn_alpha: str = "printed", lrn1_before_relu: bool = False,
                 norm2_within_map: bool = False, conv345_std: float = 0.01, dropout_scaling: str = "test",
                 lrn_per_column: bool = False, init_seed: int | None = None):
        super().__init__()
        if input_size not in CONV1_PADDING:
            raise ValueError(f"input_size must be 224 or 227, got {input_size}")
        if remove_conv not in (None, 3, 4):
            raise ValueError(f"remove_conv must be 3 or 4 (a middle convolutional layer), got {remove_conv}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        c1, c2, c3, c4 = (_scaled(c, width, groups) for c in (96, 256, 384, 384))
        c5 = 256
        self.config = dict(num_classes=num_classes, groups=groups, lrn=lrn,
                           overlap_pool=overlap_pool, activation=activation, dropout=dropout,
                           init=init, width=width, input_size=input_size, remove_conv=remove_conv,
                           lrn_alpha=lrn_alpha, lrn1_before_relu=lrn1_before_relu,
                           norm2_within_map=norm2_within_map, conv345_std=conv345_std,
                           dropout_scaling=dropout_scaling, lrn_per_column=lrn_per_column)
        self.input_size = input_size
        self.lrn1_before_relu = lrn1_before_relu

        self.conv1 = nn.Conv2d(3, c1, 11, stride=4, padding=CONV1_PADDING[input_size])
        self.act1 = make_activation(activation)
        columns = groups if lrn_per_column else 1
        self.norm1 = paper_lrn(lrn_alpha, columns) if lrn else nn.Identity()
        self.pool1 = make_pool(overlap_pool)
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2, groups=groups)
        self.act2 = make_activation(activation)
        self.norm2 = paper_lrn(lrn_alpha, columns) if lrn else nn.Identity()
        self.norm2b = WithinMapNorm() if lrn and norm2_within_map else nn.Identity()
        self.pool2 = make_pool(overlap_pool)
        if remove_conv == 3:
            c3 = c2
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1) if remove_conv != 3 else nn.Identity()  # not grouped
        self.act3 = make_activation(activation) if remove_conv != 3 else nn.Identity()
        if remove_conv == 4:
            c4 = c3
        self.conv4 = nn.Conv2d(c3, c4, 3, padding=1, groups=groups) if remove_conv != 4 else nn.Identity()
        self.act4 = make_activation(activation) if remove_conv != 4 else nn.Identity()
        self.conv5 = nn.Conv2d(c4, c5, 3, padding=1, groups=groups)
        self.act5 = make_activation(activation)
        self.pool5 = make_pool(overlap_pool)
        self.fc6 = nn.Linear(c5 * 6 * 6, 4096)
        self.act6 = make_activation(activation)
        self.drop6 = PaperDropout(dropout, dropout_scaling)
        self.fc7 = nn.Linear(4096, 4096)
        self.act7 = make_activation(activation)
        self.drop7 = PaperDropout(dropout, dropout_scaling)
        self.fc8 = nn.Linear(4096, num_classes)
        initialise(self, init, layer_std=dict.fromkeys(("conv3", "conv4", "conv5"), conv345_std), seed=init_seed)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """conv1-conv5 with their non-linearities, normalisation and pooling: N x 256 x 6 x 6."""
        if self.lrn1_before_relu:  # the 2012 code: rnorm1 takes conv1, pool1 applies the ReLU
            x = self.act1(self.pool1(self.norm1(self.conv1(x))))
        else:
            x = self.pool1(self.norm1(self.act1(self.conv1(x))))
        x = self.pool2(self.norm2b(self.norm2(self.act2(self.conv2(x)))))
        x = self.act3(self.conv3(x))
        x = self.act4(self.conv4(x))
        return self.pool5(self.act5(self.conv5(x)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The 4096-d output of fc7 after its ReLU (and dropout, in training mode).

        Figure 4's retrieval measures Euclidean distance between these vectors.
        """
        x = torch.flatten(self.features(x), 1)
        x = self.drop6(self.act6(self.fc6(x)))
        return self.drop7(self.act7(self.fc7(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) of fc8; the softmax is applied by the loss or by evaluation."""
        return self.fc8(self.embed(x))

    @classmethod
    def one_column_half(cls, num_classes: int = 1000, **kwargs) -> "AlexNet":
        """Section 3.2's baseline: one column with half the kernels (conv5 and FC not halved)."""
        return cls(num_classes, groups=1, width=0.5, **kwargs)


def _scaled(channels: int, width: float, groups: int) -> int:
    """Kernel count scaled by ``width``, kept divisible by ``groups``."""
    c = max(groups, int(round(channels * width / groups)) * groups)
    return c


def initialise(model: nn.Module, scheme: str, bias_one: tuple[str, ...] = PAPER_BIAS_ONE,
               std: float = 0.01, layer_std: dict[str, float] | None = None, seed: int | None = None) -> None:
    """Initialise every conv and linear layer of ``model`` (section 5).

    ``paper``: weights from N(0, std) with std 0.01 (``layer_std`` overrides it per layer name:
    the 2012 code drew conv3-conv5 from N(0, 0.03)), biases 1 in the layers named by
    ``bias_one`` and 0 elsewhere. ``kaiming``: He-normal weights (fan-in, ReLU gain) and
    zero biases, the modern default kept for comparisons. With ``seed``, each layer's weights
    come from its own generator (:func:`alexnet_core.streams.layer_generator`).
    """
    if scheme not in ("paper", "kaiming"):
        raise ValueError(f"unknown init {scheme!r}: choose 'paper' or 'kaiming'")
    for name, module in model.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        generator = layer_generator(seed, name)
        if scheme == "paper":
            nn.init.normal_(module.weight, mean=0.0, std=(layer_std or {}).get(name, std), generator=generator)
            nn.init.constant_(module.bias, 1.0 if name in bias_one else 0.0)
        else:
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu", generator=generator)
            nn.init.zeros_(module.bias)


class CifarNet(nn.Module):
    """The four-layer CIFAR-10 net of Figure 1 (section 3.1), and the book's own second test of
    section 3.3's LRN claim; the claim's 13% -> 11% pair itself is the conv-local net
    (:class:`alexnet_core.convlocal.ConvLocalNet`).

    Follows cuda-convnet's ``layers-18pct.cfg`` (the net published with the code the paper
    used): three 5x5 convolutions of 32, 32 and 64 kernels, padding 2, each followed by
    3x3 stride-2 pooling (max after the first, average after the second and third, as in
    that file), and one fully connected softmax layer: four layers with weights.
    Differences, chosen and switchable: normalisation is the paper's cross-channel LRN
    (section 3.3, after the first two pooling layers as in ``layers-18pct``) rather than
    cuda-convnet's same-map ``rnorm``; ``activation`` switches ReLU and tanh for Figure 1.
    ``input_size`` is the crop side: 24 (cuda-convnet's crops of 32) or 32 (whole images).
    """

    def __init__(self, num_classes: int = 10, *, activation: Activation = "relu", lrn: bool = True,
                 widths: tuple[int, int, int] = (32, 32, 64), input_size: int = 24,
                 init: Init = "paper", lrn_size: int = 5, init_seed: int | None = None):
        super().__init__()
        w1, w2, w3 = widths
        self.config = dict(num_classes=num_classes, activation=activation, lrn=lrn,
                           widths=list(widths), input_size=input_size, init=init, lrn_size=lrn_size)
        self.input_size = input_size
        self.conv1 = nn.Conv2d(3, w1, 5, padding=2)
        self.act1 = make_activation(activation)
        self.pool1 = nn.MaxPool2d(3, 2)
        self.norm1 = LocalResponseNorm(lrn_size) if lrn else nn.Identity()
        self.conv2 = nn.Conv2d(w1, w2, 5, padding=2)
        self.act2 = make_activation(activation)
        self.pool2 = nn.AvgPool2d(3, 2)
        self.norm2 = LocalResponseNorm(lrn_size) if lrn else nn.Identity()
        self.conv3 = nn.Conv2d(w2, w3, 5, padding=2)
        self.act3 = make_activation(activation)
        self.pool3 = nn.AvgPool2d(3, 2)
        side = input_size
        for _ in range(3):
            side = (side - 3) // 2 + 1
        if side < 1:
            raise ValueError(f"input_size {input_size} is too small for three 3/2 poolings")
        self.fc = nn.Linear(w3 * side * side, num_classes)
        initialise(self, init, bias_one=(), seed=init_seed)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened output of the last pooling layer (the fc layer's input)."""
        x = self.norm1(self.pool1(self.act1(self.conv1(x))))
        x = self.norm2(self.pool2(self.act2(self.conv2(x))))
        x = self.pool3(self.act3(self.conv3(x)))
        return torch.flatten(x, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embed(x))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (weights and biases)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_table(model: nn.Module, input_size: int | None = None) -> list[dict]:
    """Per weight layer: output shape, parameters, neurons and multiply-adds per image.

    The basis of Figure 2's table. ``neurons`` counts the units of the layer's output map
    (C x H x W, before pooling); ``macs`` counts multiply-adds of one forward pass of one
    image (for a grouped convolution each output sees only its group's input channels).
    """
    size = input_size or getattr(model, "input_size", 224)
    rows: list[dict] = []

    def hook(name):
        def record(module, inputs, output):
            out_shape = tuple(output.shape[1:])
            neurons = math.prod(out_shape)
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                macs = neurons * (module.in_channels // module.groups) * kh * kw
                kind = f"conv {kh}x{kw}/{module.stride[0]}" + (f", groups={module.groups}" if module.groups > 1 else "")
            else:
                macs = module.in_features * module.out_features
                kind = "fully connected"
            rows.append(dict(layer=name, kind=kind, output_shape=out_shape, neurons=neurons,
                             params=sum(p.numel() for p in module.parameters()), macs=macs))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return rows


def multiply_adds(model: nn.Module, input_size: int | None = None) -> int:
    """Multiply-adds of one image's forward pass through every conv and linear layer."""
    return sum(r["macs"] for r in layer_table(model, input_size))

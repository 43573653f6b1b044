"""Section 3.3's four-layer CIFAR-10 net: cuda-convnet's ``layers-conv-local`` pair.

The paper: "On the CIFAR-10 dataset: a four-layer CNN achieved a 13% test error rate without
normalization and 11% with normalization." cuda-convnet, the code the paper used, ships that
pair as ``layers-conv-local-13pct.cfg`` and ``layers-conv-local-11pct.cfg`` (read in
``dnouri/cuda-convnet``, ``example-layers/``, at 73454778 and 3878e8f3): two 5x5 convolutions
of 64 (ReLU, padding 2), each followed by 3x3 max-pooling with stride 2, two locally connected
3x3 layers of 32 (ReLU, padding 1, a separate filter at every position), and a softmax layer.
The 11% file adds a cross-map response normalisation (``rnorm``, ``size=5``, ``scale=0.001``,
``pow=0.75``: k = 1 and alpha divided by the window) after each convolution's ReLU, before
its pooling. Weights start from N(0, initW) with initW 1e-4, 0.01, 0.04, 0.04, 0.01 and
biases from 0; the parameter files decay the locally connected and softmax layers' weights
(``wc=0.004``) and not the convolutions' (``wc=0``), with ``epsB`` twice ``epsW``.

That 11% file is the r540 draft (``3878e8f3``, 2012-03-13 21:45). The final file, committed 93
seconds later (svn r541, ``a2a6af8``; unchanged in layout at ``35d0bc4``), is the net behind the
paper's 11%: a cross-map normalisation (``cmrnorm``, ``size=9``, ``scale=0.001`` divided by the
size, ``pow=0.75``, k = 1) *after* pool1 and another after conv2's ReLU before pool2, local3
with 64 filters instead of 32, and fc10's weight decay 0.01 instead of 0.004: 2,112,970
parameters. ``version="r541"`` builds it; ``version="r540"`` (the default, which earlier
records used) the draft. With ``lrn=False`` the r540 layout is the 13% file exactly, and the
r541 layout is the 11% net without its two normalisations.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .model import LRN_BETA, Activation, LocalResponseNorm, make_activation
from .streams import layer_generator

#: initW of each layer in the source files: the standard deviation of its starting weights.
SOURCE_INIT_STD = {"conv1": 1e-4, "conv2": 0.01, "local3": 0.04, "local4": 0.04, "fc10": 0.01}
#: The source's response normalisation: window 5, scale 0.001 per window, power 0.75, k = 1.
SOURCE_NORM_SIZE, SOURCE_NORM_SCALE, SOURCE_NORM_K = 5, 1e-3, 1.0
#: The two layouts of the 11% file (see the module docstring): the r540 draft and the final r541.
VERSIONS = ("r540", "r541")
#: The final file's window (``layers-conv-local-11pct.cfg`` r541: ``size=9``).
FINAL_NORM_SIZE = 9
#: fc10's weight decay in the final params file (``wc=0.01``) over the locally connected layers' 0.004.
FINAL_FC10_DECAY_MULT = 0.01 / 0.004


class LocallyConnected2d(nn.Module):
    """A convolution whose filters are not shared: every output position has its own
    ``out_channels x in_channels x k x k`` weights and its own bias (cuda-convnet's ``local``
    layer). ``input_size`` fixes the positions, since the weights depend on them."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, input_size: int,
                 padding: int = 0, stride: int = 1):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.padding, self.stride = kernel_size, padding, stride
        self.output_size = (input_size + 2 * padding - kernel_size) // stride + 1
        if self.output_size < 1:
            raise ValueError(f"input_size {input_size} is too small for a {kernel_size}x{kernel_size} local layer")
        positions = self.output_size ** 2
        self.weight = nn.Parameter(torch.empty(positions, out_channels, in_channels * kernel_size ** 2))
        self.bias = nn.Parameter(torch.zeros(out_channels, self.output_size, self.output_size))
        nn.init.normal_(self.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # unfold is slow on channels_last tensors (the trainer's default): give it the standard layout
        patches = F.unfold(x.contiguous(), self.kernel_size, padding=self.padding, stride=self.stride)  # N, C*k*k, L
        out = torch.einsum("ncl,loc->nol", patches, self.weight.to(patches.dtype))
        return out.reshape(x.shape[0], self.out_channels, self.output_size, self.output_size) + self.bias

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding={self.padding}, "
                f"positions={self.output_size}x{self.output_size}")


def source_norm(convention: str = "per-window", size: int = SOURCE_NORM_SIZE) -> LocalResponseNorm:
    """The 11% file's normalisation over ``size`` maps (5 in the r540 draft, 9 in the final r541).
    ``per-window``: cuda-convnet divides ``scale`` by the window, as PyTorch does; ``printed``:
    the same number used as the paper prints alpha."""
    if convention not in ("per-window", "printed"):
        raise ValueError(f"unknown LRN convention {convention!r}: choose per-window or printed")
    alpha = SOURCE_NORM_SCALE / size if convention == "per-window" else SOURCE_NORM_SCALE
    return LocalResponseNorm(size, alpha=alpha, beta=LRN_BETA, k=SOURCE_NORM_K)


class ConvLocalNet(nn.Module):
    """cuda-convnet's ``layers-conv-local-13pct`` (``lrn=False``) and ``-11pct`` (``lrn=True``),
    the latter as the r540 draft or the final r541 file (``version``; the module docstring).

    ``overlap_pool=False`` pools 2/2 instead of 3/2 (section 3.4 at this size); pooling keeps
    cuda-convnet's output sides (24 -> 12 -> 6: a window may hang over the edge). ``decay_mult``
    gives each layer's weight decay over the run's: 0 for the convolutions, as in the source
    (and 2.5 for fc10 in r541, whose ``wc=0.01`` against the locally connected layers' 0.004).
    """

    def __init__(self, num_classes: int = 10, *, lrn: bool = True, lrn_alpha: str = "per-window",
                 overlap_pool: bool = True, activation: Activation = "relu", input_size: int = 24,
                 init: str = "paper", version: str = "r540", init_seed: int | None = None):
        super().__init__()
        if version not in VERSIONS:
            raise ValueError(f"unknown conv-local version {version!r}: choose {' or '.join(VERSIONS)}")
        final = version == "r541"
        self.input_size, self.version = input_size, version
        #: per layer, the weight decay over the configured one (the source: wc 0 for conv1-2, 0.004 else)
        self.decay_mult = {"conv1": 0.0, "conv2": 0.0} | ({"fc10": FINAL_FC10_DECAY_MULT} if final else {})
        norm_size = FINAL_NORM_SIZE if final else SOURCE_NORM_SIZE
        pool = dict(kernel_size=3, stride=2, ceil_mode=True) if overlap_pool else dict(kernel_size=2, stride=2)
        self.conv1 = nn.Conv2d(3, 64, 5, padding=2)
        self.act1 = make_activation(activation)
        self.norm1 = source_norm(lrn_alpha, norm_size) if lrn else nn.Identity()
        self.pool1 = nn.MaxPool2d(**pool)
        self.norm1_after_pool = final  # r541: conv1 -> ReLU -> pool1 -> rnorm1; r540: rnorm1 before pool1
        self.conv2 = nn.Conv2d(64, 64, 5, padding=2)
        self.act2 = make_activation(activation)
        self.norm2 = source_norm(lrn_alpha, norm_size) if lrn else nn.Identity()
        self.pool2 = nn.MaxPool2d(**pool)
        side = _pooled(_pooled(input_size, overlap_pool), overlap_pool)
        local3 = 64 if final else 32
        self.local3 = LocallyConnected2d(64, local3, 3, side, padding=1)
        self.act3 = make_activation(activation)
        self.local4 = LocallyConnected2d(local3, 32, 3, side, padding=1)
        self.act4 = make_activation(activation)
        self.fc10 = nn.Linear(32 * side * side, num_classes)
        self._initialise(init, init_seed)

    def _initialise(self, init: str, seed: int | None) -> None:
        """N(0, initW) of the source per layer and zero biases (``paper``), or He-normal weights;
        with ``seed``, each layer from its own generator (:mod:`alexnet_core.streams`)."""
        if init not in ("paper", "kaiming"):
            raise ValueError(f"unknown init {init!r}: choose 'paper' or 'kaiming'")
        for name, std in SOURCE_INIT_STD.items():
            layer = getattr(self, name)
            fan_in = layer.weight.shape[-1] if isinstance(layer, LocallyConnected2d) else layer.weight[0].numel()
            nn.init.normal_(layer.weight, std=std if init == "paper" else math.sqrt(2.0 / fan_in),
                            generator=layer_generator(seed, name))
            nn.init.zeros_(layer.bias)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The softmax layer's input: the second locally connected layer's output, flattened."""
        x = self.act1(self.conv1(x))
        x = self.norm1(self.pool1(x)) if self.norm1_after_pool else self.pool1(self.norm1(x))
        x = self.pool2(self.norm2(self.act2(self.conv2(x))))
        x = self.act4(self.local4(self.act3(self.local3(x))))
        return torch.flatten(x, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc10(self.embed(x))


def _pooled(side: int, overlap: bool) -> int:
    """The side after one pooling: cuda-convnet's ceil((side - 3) / 2) + 1 for 3/2, side // 2 for 2/2."""
    return -(-(side - 3) // 2) + 1 if overlap else side // 2

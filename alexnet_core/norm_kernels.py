"""Section 3.3's normalisation, compiled: fused kernels for the cross-map LRN on a CPU.

The LRN is memory-bound work on AlexNet's largest activations (conv1's output is 128 x 96 x
55 x 55). Written in eager PyTorch (:class:`alexnet_core.model._PaperLRN`) it makes a dozen
passes over them in float32 and keeps three float32 copies for the backward pass; on a 2-core
CPU that was a sixth of AlexNet's training step. Here the same arithmetic is compiled by
``torch.compile`` (Inductor's C++ backend) into two fused kernels over the channels-last
layout, where each pixel's channels are contiguous, so the window sum over adjacent maps is a
short run of loads the compiler keeps in registers:

- forward: ``b = a * d^-beta`` with ``d = k + alpha * window_sum(a^2)``, float32 inside, the
  input's dtype out; in training it also writes ``scale = d^-beta`` and ``r = d^(-beta-1)``,
  which the backward pass keeps with the input;
- backward, in one kernel across channels: ``da = g * scale - 2 alpha beta * a * window_sum(t)``
  with ``t = g * a * r`` formed at each neighbour from a, g and r, which the window's loads find
  in cache, so ``t`` never goes to memory.

Keeping ``r`` costs one more tensor written and read, and saves the backward a power and a
division at each of a window's neighbours: forward and backward took 0.82 of the time of the
kernels that kept only the window sum on conv1's output (across columns and per column), 0.83 on
conv2's and 0.86 for the within-map normalisation (2-core EPYC, AVX512-BF16, bf16, batch 128;
medians of 10 calls each, the two versions interleaved in one process with a training run
beside; benchmarks/normalisation.py records the rates).

They still run far below the machine's copy rate (benchmarks/normalisation.py; the performance
page says what bounds them), and what goes to memory is kept small: what a kernel writes for the next (``scale``, ``r``, the within-map row sums) is stored in bf16 when
the activations are bf16. Each carries a bf16 activation's own precision, or enters through
``alpha`` beside ``k``, so the rounding does not show in a bf16 result (tests compare against
float32).

Why ``torch.compile``: Inductor vectorises these loops over the contiguous channels (AVX-512
where the CPU has it). The same forward written as a plain C++ extension (OpenMP, ``-O3
-march=native``, the compiler left to vectorise it) measured 4.9x slower on the same machine (242
against 49.5 ms on conv1's output, a training run beside both), since it converts bf16 and takes
square roots one element at a time; only hand-vectorised code would beat the compiled kernels.

For beta = 0.75 (the paper's) ``d^-0.75`` is ``rsqrt(d) * rsqrt(sqrt(d))``: square roots are
single vector instructions where a general power is a logarithm and an exponential. The window
stays within each column when ``groups`` > 1, as the 2012 code normalises each column apart.

The 2012 code's within-map normalisation (:class:`alexnet_core.model.WithinMapNorm`, after
conv2 in the coded recipe) is the same arithmetic over a 5 x 5 neighbourhood in each map instead
of 5 adjacent maps, and runs through the same kernels (``groups=0`` selects its window), with the
window summed in two kernels, along rows then along columns (one kernel summing 25 neighbours
measured 1.3x slower), in the forward pass and for ``t`` in the backward.

``ALEXNET_NORM_KERNEL=eager`` (or :func:`use_kernels`) turns the kernels off; they are also left
alone on a GPU, for tensors not in channels-last layout and inside a model that is itself being
compiled, where the eager function serves (tests check the two agree, and gradcheck the kernels
in float64).
"""
from __future__ import annotations

import logging
import os
import warnings
from functools import lru_cache

import torch
import torch.nn.functional as F

#: ``auto`` (compiled where eligible) or ``eager``; read at each call, so a test or benchmark may set it.
KERNEL_SETTING = "ALEXNET_NORM_KERNEL"
_disabled_after_failure = False


def use_kernels(on: bool) -> None:
    """Switch the compiled kernels on (``auto``) or off (``eager``) for this process."""
    os.environ[KERNEL_SETTING] = "auto" if on else "eager"


def eligible(x: torch.Tensor) -> bool:
    """Whether ``x`` goes through the compiled kernels: a 4-d CPU tensor in channels-last layout
    (bf16, float32, or float64 for gradcheck), kernels not switched off, and not inside a model
    being compiled."""
    if _disabled_after_failure or os.environ.get(KERNEL_SETTING, "auto") == "eager":
        return False
    return (x.dim() == 4 and x.device.type == "cpu" and x.dtype in (torch.bfloat16, torch.float32, torch.float64)
            and x.is_contiguous(memory_format=torch.channels_last) and not torch.compiler.is_compiling())


def _window(s: torch.Tensor, size: int, groups: int, masks: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over ``size`` adjacent channels (the last dim of N x H x W x C), zero beyond the ends;
    with ``masks`` (:func:`column_masks`) a neighbour in another column counts 0, so the window
    ends where each column does. ``groups`` = 0: the columns of the within-map window instead
    (dim 1; see :func:`_row_sums`)."""
    half = size // 2
    if groups == 0:  # within each map: the rows were summed by _row_sums, now the columns
        padded = F.pad(s, (0, 0, 0, 0, half, half))
        height = s.shape[1]
        total = padded[:, 0:height]
        for dy in range(1, size):
            total = total + padded[:, dy:dy + height]
        return total
    padded = F.pad(s, (half, half))
    width = s.shape[-1]
    total = s
    for i, offset in enumerate(o for o in range(-half, half + 1) if o != 0):
        part = padded[..., half + offset:half + offset + width]
        total = total + (part if masks is None else part * masks[i])
    return total


@lru_cache(maxsize=None)
def column_masks(channels: int, groups: int, size: int) -> torch.Tensor:
    """Per offset in the window (0 left out) and channel, 1.0 where the neighbour at that offset is
    in the same column, else 0.0. A multiplication by a small constant table vectorises where
    splitting the channels into columns (or an index test per element) did not (measured: 1.7x
    slower than the window across columns, against about 1.1x)."""
    index = torch.arange(channels)
    block = channels // groups
    offsets = [o for o in range(-(size // 2), size // 2 + 1) if o != 0]
    return torch.stack([((index + o) // block == index // block) & (index + o >= 0) & (index + o < channels)
                        for o in offsets]).float()


def _row_sums(s: torch.Tensor, size: int) -> torch.Tensor:
    """Sum over ``size`` neighbours along each row of each map (N x H x W x C: dim 2), zero beyond
    the border: the first half of the within-map window, a kernel of its own so the second half
    reads it instead of recomputing 25 loads an element."""
    half = size // 2
    padded = F.pad(s, (0, 0, half, half))
    width = s.shape[2]
    total = padded[:, :, 0:width]
    for dx in range(1, size):
        total = total + padded[:, :, dx:dx + width]
    return total


def _square_rows(a: torch.Tensor, size: int) -> torch.Tensor:
    af = _wide(a)
    return _kept(_row_sums(af * af, size), a)


def _neg_power(d: torch.Tensor, beta: float) -> torch.Tensor:
    """``d ** -beta``; for the paper's 0.75 by square roots, which vectorise where a power does not."""
    if beta == 0.75:
        return torch.rsqrt(d) * torch.rsqrt(torch.sqrt(d))
    return d.pow(-beta)


def _wide(x: torch.Tensor) -> torch.Tensor:
    """The dtype the arithmetic runs in: float32, or float64 for float64 input (gradcheck)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _kept(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """An intermediate one kernel writes and the next reads, stored in bf16 when the activation
    ``like`` is bf16 (float32 otherwise): the traffic between the kernels halves, and the rounding
    cannot show in a bf16 result, because the stored row sums and ``r`` enter only through
    ``alpha`` (about 1e-4) beside ``k``, and the stored ``d^-beta`` carries a bf16 activation's
    precision."""
    return x.to(torch.bfloat16) if like.dtype == torch.bfloat16 else x


def _squares_summed(a: torch.Tensor, rows: torch.Tensor | None, size: int, groups: int,
                    masks: torch.Tensor | None) -> torch.Tensor:
    """The window sum of a^2: over channels, or (``groups`` = 0) over the columns of ``rows``,
    the row sums of a^2 a kernel before."""
    if groups == 0:
        return _window(_wide(rows), size, 0)
    af = _wide(a)
    return _window(af * af, size, groups, masks)


def _forward(a: torch.Tensor, rows: torch.Tensor | None, masks: torch.Tensor | None, size: int, alpha: float,
             beta: float, k: float, groups: int) -> torch.Tensor:
    d = _squares_summed(a, rows, size, groups, masks) * alpha + k
    return (_wide(a) * _neg_power(d, beta)).to(a.dtype)


def _forward_keeping(a: torch.Tensor, rows: torch.Tensor | None, masks: torch.Tensor | None, size: int,
                     alpha: float, beta: float, k: float,
                     groups: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward in training: also ``scale = d^-beta`` and ``r = d^(-beta-1)``, kept for the
    backward pass, which then takes no power or division of its own (its window reads ``r`` at
    each of its neighbours, where a power there would cost ``size`` powers an element)."""
    d = _squares_summed(a, rows, size, groups, masks) * alpha + k
    scale = _neg_power(d, beta)
    return (_wide(a) * scale).to(a.dtype), _kept(scale, a), _kept(scale / d, a)


def _t(a: torch.Tensor, r: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``t = g * a * d^(-beta-1)`` (``r`` kept by the forward), wide: what the backward's window sums."""
    return _wide(g) * _wide(a) * _wide(r)


def _backward(a: torch.Tensor, scale: torch.Tensor, r: torch.Tensor, g: torch.Tensor, t_rows: torch.Tensor | None,
              masks: torch.Tensor | None, size: int, alpha: float, beta: float, groups: int) -> torch.Tensor:
    """``da = g * scale - 2 alpha beta * a * window_sum(t)``: across channels ``t`` is formed at each
    neighbour from a, g and r, which the window's loads find in cache (one pass, no ``t`` in
    memory); within each map the row sums of ``t`` come from :func:`_t_rows`."""
    window = _window(_wide(t_rows), size, 0) if groups == 0 else _window(_t(a, r, g), size, groups, masks)
    return (_wide(g) * _wide(scale) - (2.0 * alpha * beta) * _wide(a) * window).to(g.dtype)


def _t_rows(a: torch.Tensor, r: torch.Tensor, g: torch.Tensor, size: int) -> torch.Tensor:
    """The within-map backward's first half: ``t`` summed along each row of each map."""
    return _kept(_row_sums(_t(a, r, g), size), a)


#: Graphs each kernel may compile: AlexNet's two activation shapes, each at the training and the
#: evaluation batch (and a last, smaller one), per column or across, and the within-map window.
RECOMPILE_LIMIT = 64
_KERNELS = {"forward": _forward, "forward_keeping": _forward_keeping, "backward": _backward, "t_rows": _t_rows,
            "square_rows": _square_rows}


#: Compiling imports torch's C++-extension helper, which warns on every machine without CUDA that it
#: found no CUDA runtime: irrelevant to CPU kernels, and it would stand on the book's pages as stderr.
CUDA_PROBE_LOGGER = "torch.utils.cpp_extension"


@lru_cache(maxsize=None)
def _compiled(name: str):
    logging.getLogger(CUDA_PROBE_LOGGER).setLevel(logging.ERROR)
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    return torch.compile(_KERNELS[name], dynamic=False)


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """A channels-last N x C x H x W tensor as the contiguous N x H x W x C view it is in memory."""
    return x.contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1)


def _nchw(y: torch.Tensor) -> torch.Tensor:
    return y.permute(0, 3, 1, 2)


def _normalised(a: torch.Tensor, size: int, alpha: float, beta: float, k: float, groups: int,
                keep: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """The forward, N x H x W x C, through the kernels (for the within-map window a row-sum kernel
    first); with ``keep`` also ``scale`` and ``r``, which the backward pass reads."""
    rows = _compiled("square_rows")(a, size) if groups == 0 else None
    masks = column_masks(a.shape[-1], groups, size).to(a.device) if groups > 1 else None
    if keep:
        b, *kept = _compiled("forward_keeping")(a, rows, masks, size, alpha, beta, k, groups)
        return b, tuple(kept)
    return _compiled("forward")(a, rows, masks, size, alpha, beta, k, groups), ()


def _input_gradient(a: torch.Tensor, scale: torch.Tensor, r: torch.Tensor, g: torch.Tensor, size: int,
                    alpha: float, beta: float, groups: int) -> torch.Tensor:
    """The input gradient, N x H x W x C, from the kept ``scale`` and ``r``: one kernel across
    channels, two within each map (the row sums of ``t``, then the rest)."""
    masks = column_masks(a.shape[-1], groups, size).to(a.device) if groups > 1 else None
    t_rows = _compiled("t_rows")(a, r, g, size) if groups == 0 else None
    return _compiled("backward")(a, scale, r, g, t_rows, masks, size, alpha, beta, groups)


class CompiledLRN(torch.autograd.Function):
    """The cross-map LRN (or, ``groups=0``, the within-map normalisation) through the compiled
    kernels above: the same arithmetic as ``_PaperLRN`` and ``WithinMapNorm``."""

    @staticmethod
    def forward(ctx, a, size, alpha, beta, k, groups=1):
        keep = ctx.needs_input_grad[0]
        b, kept = _normalised(_nhwc(a.detach()), size, alpha, beta, k, groups, keep)
        if keep:
            ctx.save_for_backward(a, *kept)
        ctx.constants = (size, alpha, beta, k, groups)
        return _nchw(b)

    @staticmethod
    def backward(ctx, grad):
        a, scale, r = ctx.saved_tensors
        size, alpha, beta, k, groups = ctx.constants
        da = _input_gradient(_nhwc(a.detach()), scale, r, _nhwc(grad.to(a.dtype)), size, alpha, beta, groups)
        return _nchw(da), None, None, None, None, None


def compiled_lrn(a: torch.Tensor, size: int, alpha: float, beta: float, k: float, groups: int = 1) -> torch.Tensor | None:
    """The LRN of ``a`` through the compiled kernels (``groups=0``: the within-map window, with
    ``alpha`` multiplying the plain sum over it), or None where they cannot serve (no C++
    compiler, say): the caller then computes it eagerly, and this process stops trying."""
    global _disabled_after_failure
    try:
        return CompiledLRN.apply(a, size, alpha, beta, k, groups)
    except Exception as err:  # noqa: BLE001 - any compiler failure means: compute it eagerly
        _disabled_after_failure = True
        warnings.warn(f"the compiled LRN kernels are unavailable here ({type(err).__name__}: {err}); "
                      "computing the normalisation eagerly (slower, same numbers)", stacklevel=2)
        return None

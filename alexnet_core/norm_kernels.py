"""Section 3.3's normalisation, compiled: CPU kernels for the cross-map LRN and the within-map one.

The LRN is memory-bound work on AlexNet's largest activations (conv1's output is 128 x 96 x
55 x 55). Written in eager PyTorch (:class:`alexnet_core.model._PaperLRN`) it makes a dozen
passes over them in float32 and keeps three float32 copies for the backward pass; on a 2-core
CPU that was a sixth of AlexNet's training step. ``norm_kernels.cpp`` (beside this file) computes
the same arithmetic over the channels-last layout, where each pixel's channels are contiguous:

- forward: ``b = a * d^-beta`` with ``d = k + alpha * window_sum(a^2)``, float32 inside, the
  input's dtype out; one read of ``a``, one write of ``b``, and nothing kept but ``a`` itself;
- backward: ``da = g * d^-beta - 2 alpha beta * a * window_sum(g * a * d^(-beta-1))``, with ``d``
  recomputed from ``a``: reads ``a`` and ``g``, writes ``da``, the five activations that are the
  least traffic the operation needs.

The work goes a tile of pixels at a time, every intermediate (the squares, the window sums,
``g * a * d^(-beta-1)``) in scratch buffers that stay in the core's cache; for bf16 on AVX-512
the loops are written with intrinsics (16 channels a vector, one instruction a bf16 conversion
where the CPU has AVX512-BF16, ``d^-0.75`` from 14-bit reciprocal square roots, relative error
under 3e-4 where a bf16 result rounds by 2e-3), elsewhere (float32, float64 for gradcheck, CPUs
without AVX-512) the compiler vectorises plain loops. The within-map normalisation (the 2012
code's, after conv2 in the coded recipe; :class:`alexnet_core.model.WithinMapNorm`) sums its
5 x 5 window along rows and then down columns, streaming down an image's rows with the few rows
in flight in the cache. A slice of the batch goes to
each of torch's threads, through ctypes (which lets go of Python's lock while a kernel runs).

Why these and not ``torch.compile``: the kernels this module used before, the same arithmetic
compiled by Inductor into fused loops, kept ``d^-beta`` and ``d^(-beta-1)`` for the backward pass
(nine activations of traffic), converted bf16 and tested a channel's bounds at each of a window's
loads, and formed ``g * a * d^(-beta-1)`` afresh at each of a window's neighbours.
Forward and backward on a 2-core AMD EPYC (AVX512-BF16),
bf16, batch 128, the two taking turns in one process on an idle machine (medians of 10 calls
each): conv1's LRN across both columns 26 ms against 63 ms compiled by Inductor, per column 24
against 74 ms, conv2's per column 17 against 41 ms, the within-map normalisation 24 against 47 ms.
Both kernels run twice as fast on two threads as on one (conv1's backward 28 and 14 ms), where a
copy gains little from the second thread (29 against 36-38 GB/s): the memory bus does not set
their pace. Running sums (three loads a value instead of five) and a diagnostic build without the
power changed nothing (A/B trials on the same idle machine, 12-07, medians of 12-20 calls, each
variant taking turns); streaming stores for the results (``Bf16Avx512::put``) took 5-8% off each
kernel. What held the rest was waiting for the inputs. A profile (``perf``, sampling by the clock:
the VM shows no hardware counters) put a third of the within-map kernel's time on the first loads
of each row of ``a`` and ``g``: the kernels read their inputs a tile or a row at a time, between
passes of arithmetic, and the hardware's prefetcher does not run that far ahead. Each tile now asks
memory for the next tile's inputs while it computes, and each row of the within-map kernel for the
row after next (across an image's end into the next image), outside the innermost loops so the
compiler still vectorises them; the within-map row sums slide their window of 5 in registers. Same
idle machine, 2 threads, forward + backward, medians of 20 calls each taking turns (12-07, 22:06
UTC), before and after, in bf16: within-map 21.2 and 15.7 ms, conv1 per column 22.8 and 17.5,
conv2 per column 14.3 and 9.4, conv1 across both columns 19.2 and 11.5; in float32 (the trainer's
precision on CPUs without bf16 instructions): within-map 91 and 26 ms (its loop, cut into pixels
for the prefetches, now vectorises), conv1 per column 36.5 and 27.7, conv2 per column 25.1 and 18.2,
conv1 across both 37.1 and 26.5. The bf16 results are bit-identical; float32's differ by at most
5e-6 (the order of the sums). Between runs on different minutes the same kernel's time moves by up
to a third (conv1 per column 15.4 to 22.8 ms before the change), so the benchmark, not these pairs,
gives the rates.
``benchmarks/normalisation.py`` records their rates; the module's history has the Inductor version. The file compiles in about two seconds
with the system's C++ compiler, once per machine, into a cache (``ALEXNET_KERNEL_CACHE``, else
``~/.cache/alexnet_core``), where Inductor took half a minute in each new process.

``ALEXNET_NORM_KERNEL=eager`` (or :func:`use_kernels`) turns the kernels off; they are also left
alone on a GPU, for tensors not in channels-last layout and inside a model that is itself being
compiled, where the eager functions serve (tests check the two agree, and gradcheck the kernels
in float64). Without a C++ compiler the module says so once and computes eagerly. For finite
activations the kernels and the eager modules agree to rounding (bf16's, or float32's); a square
past float32's range (an activation over 1.8e19: a diverged run) gives NaN here where eager gives 0.
"""
from __future__ import annotations

import concurrent.futures
import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

#: ``auto`` (compiled where eligible) or ``eager``; read at each call, so a test or benchmark may set it.
KERNEL_SETTING = "ALEXNET_NORM_KERNEL"
#: Where the compiled library is kept (default ``~/.cache/alexnet_core``).
CACHE_SETTING = "ALEXNET_KERNEL_CACHE"
SOURCE = Path(__file__).with_name("norm_kernels.cpp")
#: -march=native: the machine's own vector instructions (the cache key holds its CPU flags);
#: -ffast-math: reciprocal square roots and fused multiply-adds, which assume no infinities (d >= k > 0
#: unless a square overflows float32, past 1.8e19, where a diverged run gives NaN instead of eager's 0).
COMPILE_FLAGS = ("-std=c++17", "-O3", "-march=native", "-ffast-math", "-fPIC", "-c")
#: Linked apart, without -ffast-math: linked with it, GCC adds a start-up routine that switches the
#: loading thread (and every thread it starts later) to flush denormal numbers to zero, which would
#: change torch's own arithmetic on some threads and not on others.
LINK_FLAGS = ("-shared",)
COMPILE_SECONDS = 300
DTYPES = {torch.bfloat16: "bf16", torch.float32: "f32", torch.float64: "f64"}
#: The widest window the kernels take (``MAX_WINDOW`` in norm_kernels.cpp); wider ones go eagerly.
MAX_WINDOW = 63
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
    return (x.dim() == 4 and x.device.type == "cpu" and x.dtype in DTYPES
            and x.is_contiguous(memory_format=torch.channels_last) and not torch.compiler.is_compiling())


def _cpu_flags() -> str:
    """The CPU's feature flags (what -march=native compiles for), so a cache shared between
    machines of different CPU classes keeps one library per class."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _compiler() -> list[str]:
    """The C++ compiler's command: ``$CXX`` (``ccache g++`` too), else the first of c++, g++,
    clang++ on the PATH."""
    found = os.environ.get("CXX") or next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)
    if not found:
        raise RuntimeError("no C++ compiler found (set CXX, or install g++: apt install g++)")
    return shlex.split(found)


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_SETTING) or Path.home() / ".cache" / "alexnet_core")


@lru_cache(maxsize=None)
def library() -> ctypes.CDLL:
    """``norm_kernels.cpp`` compiled for this machine (once; then loaded from the cache)."""
    compiler = _compiler()
    recipe = [*compiler, *COMPILE_FLAGS, "|", *LINK_FLAGS]
    key = hashlib.sha256("\n".join([SOURCE.read_text(), *recipe, _cpu_flags()]).encode()).hexdigest()
    target = cache_dir() / f"norm_kernels-{key[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            built, obj = Path(scratch) / target.name, Path(scratch) / "norm_kernels.o"
            for step in ([*compiler, *COMPILE_FLAGS, "-o", str(obj), str(SOURCE)],
                         [*compiler, *LINK_FLAGS, "-o", str(built), str(obj)]):
                try:
                    done = subprocess.run(step, capture_output=True, text=True, timeout=COMPILE_SECONDS)
                except subprocess.TimeoutExpired as err:
                    raise RuntimeError(f"{' '.join(step)} ran past {COMPILE_SECONDS} s") from err
                if done.returncode != 0:
                    raise RuntimeError(f"{' '.join(step)} failed:\n{done.stderr[-2000:]}")
            os.replace(built, target)  # atomic: a process beside this one loads a whole file or builds its own
    lib = ctypes.CDLL(str(target))
    pointers, ints, reals = [ctypes.c_void_p] * 3, [ctypes.c_int64] * 4, [ctypes.c_double] * 3
    for name in DTYPES.values():
        getattr(lib, f"{name}_cross_map").argtypes = pointers + ints + [ctypes.c_int64] + reals
        getattr(lib, f"{name}_within_map").argtypes = pointers + ints + [ctypes.c_int64] * 2 + reals
        getattr(lib, f"{name}_cross_map").restype = getattr(lib, f"{name}_within_map").restype = None
    return lib


#: Worker threads by count, one per torch thread (a kernel call lets go of Python's lock).
_pools: dict[int, concurrent.futures.ThreadPoolExecutor] = {}
os.register_at_fork(after_in_child=_pools.clear)  # a forked child has none of its parent's threads


def _in_slices(kernel, items: int, *args) -> None:
    """Run ``kernel(start, end, ...)`` over ``items`` (pixels or images), one slice per thread."""
    slices = min(torch.get_num_threads(), items)
    if slices <= 1:
        kernel(0, items, *args)
        return
    bounds = [items * i // slices for i in range(slices + 1)]
    if slices not in _pools:
        _pools[slices] = concurrent.futures.ThreadPoolExecutor(slices, thread_name_prefix="norm-kernel")
    pool = _pools[slices]
    futures = [pool.submit(kernel, bounds[i], bounds[i + 1], *args) for i in range(slices)]
    for future in futures:
        future.result()


def _run(a: torch.Tensor, grad: torch.Tensor | None, size: int, alpha: float, beta: float, k: float,
         groups: int) -> torch.Tensor:
    """The forward (``grad`` None) or the input gradient, channels-last in, channels-last out."""
    if size > MAX_WINDOW or size < 1 or groups < 0:
        raise ValueError(f"the normalisation kernels take windows of 1 to {MAX_WINDOW} and groups >= 0, "
                         f"got size {size}, groups {groups}")
    a = a.contiguous(memory_format=torch.channels_last)
    grad = None if grad is None else grad.to(a.dtype).contiguous(memory_format=torch.channels_last)
    out = torch.empty_like(a, memory_format=torch.channels_last)
    if out.numel() == 0:
        return out
    n, channels, height, width = a.shape
    lib, name = library(), DTYPES[a.dtype]
    pointers = (a.data_ptr(), None if grad is None else grad.data_ptr(), out.data_ptr())
    if groups == 0:  # within each map: a slice of the images per thread
        within = getattr(lib, f"{name}_within_map")
        _in_slices(lambda i, j: within(*pointers, i, j, height, width, channels, size, alpha, beta, k), n)
    else:  # across maps: a slice of the pixels per thread
        cross = getattr(lib, f"{name}_cross_map")
        _in_slices(lambda i, j: cross(*pointers, i, j, channels, groups, size, alpha, beta, k), n * height * width)
    return out


class CompiledLRN(torch.autograd.Function):
    """The cross-map LRN (or, ``groups=0``, the within-map normalisation) through the compiled
    kernels: the same arithmetic as ``_PaperLRN`` and ``WithinMapNorm``; the backward recomputes
    ``d`` from the input, the only tensor kept."""

    @staticmethod
    def forward(ctx, a, size, alpha, beta, k, groups=1):
        ctx.save_for_backward(a)
        ctx.constants = (size, alpha, beta, k, groups)
        return _run(a.detach(), None, size, alpha, beta, k, groups)

    @staticmethod
    @once_differentiable  # the kernels' gradient has no graph of its own: a second derivative raises
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        size, alpha, beta, k, groups = ctx.constants
        return _run(a.detach(), grad, size, alpha, beta, k, groups), None, None, None, None, None


def compiled_lrn(a: torch.Tensor, size: int, alpha: float, beta: float, k: float, groups: int = 1) -> torch.Tensor | None:
    """The LRN of ``a`` through the compiled kernels (``groups=0``: the within-map window, with
    ``alpha`` multiplying the plain sum over it), or None where they cannot serve (no C++
    compiler, say): the caller then computes it eagerly, and this process stops trying."""
    global _disabled_after_failure
    if groups > 0 and a.shape[1] % groups:
        raise ValueError(f"{a.shape[1]} channels do not split into {groups} columns")
    if size > MAX_WINDOW:
        return None
    try:
        library()
    except (RuntimeError, OSError) as err:
        _disabled_after_failure = True
        warnings.warn(f"the compiled LRN kernels are unavailable here ({err}); "
                      "computing the normalisation eagerly (slower, the same arithmetic)", stacklevel=2)
        return None
    return CompiledLRN.apply(a, size, alpha, beta, k, groups)

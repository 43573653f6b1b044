"""Which device and precision to train with, detected at run time.

The paper trained in fp32 on two GTX 580s. We train in bfloat16 autocast with
channels_last memory wherever the hardware runs it fast (CUDA GPUs with bf16, CPUs with
AMX-BF16 or AVX512-BF16 instructions) and in fp32 elsewhere; the choice is recorded with
every result.
"""
from __future__ import annotations

import contextlib
import functools
import os
import platform
import warnings
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16"]

#: CPU flags (from /proc/cpuinfo) under which oneDNN runs bf16 convolutions natively.
FAST_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo is absent)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


#: The vector/matrix extensions that decide how fast a CPU trains, best first, as named in
#: provenance: the first one /proc/cpuinfo lists is the CPU's class.
CPU_ISA_LEVELS = (("amx_bf16", "AMX-BF16"), ("avx512_bf16", "AVX512-BF16"), ("avx512f", "AVX512"),
                  ("avx2", "AVX2"))


def cpu_isa() -> str:
    """The best of :data:`CPU_ISA_LEVELS` this CPU has (``"unknown"`` where flags are unreadable),
    so that a recorded speed names the instructions it ran on, not only the CPU's brand."""
    flags = cpu_flags()
    return next((name for flag, name in CPU_ISA_LEVELS if flag in flags), "older" if flags else "unknown")


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 matrix instructions (AMX-BF16 or AVX512-BF16)."""
    return any(flag in cpu_flags() for flag in FAST_BF16_CPU_FLAGS)


class DeviceError(ValueError):
    """The device asked for does not exist here; the message names the flag and the fix."""


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; a CUDA device that is not there (no GPU, or
    an index beyond the GPUs present) is a :class:`DeviceError`."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise DeviceError(f"unknown device --device {device!r}: choose auto, cpu, cuda or cuda:N")
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise DeviceError(f"--device {device} was asked for but no CUDA GPU is visible here; "
                              "use --device cpu or --device auto")
        if parsed.index is not None and parsed.index >= count:
            raise DeviceError(f"--device {device}: this machine has {count} CUDA GPU(s), numbered 0 to {count - 1}; "
                              "pick one of those or --device auto")
    return parsed


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` gives bf16 where the device runs it fast, else fp32."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"unknown precision {precision!r}: choose auto, fp32 or bf16")
    if precision == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        warnings.warn(f"bf16 was asked for, but this CPU ({cpu_isa()}) has no AVX512-BF16 or AMX-BF16, so bf16 "
                      "is emulated and trains an order of magnitude slower than fp32 (benchmarks/results/cpu-avx2/); "
                      "use --precision auto or fp32", stacklevel=2)
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision == 'bf16'``, else a no-op context."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def device_name(device: torch.device) -> str:
    """A human-readable name of the device, for provenance."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} logical cores, {torch.get_num_threads()} threads)"

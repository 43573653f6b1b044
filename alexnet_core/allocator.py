"""Keep freed CPU memory for reuse instead of handing it back to the operating system.

Every large tensor PyTorch makes on the CPU (an activation, a gradient, a dtype copy) is a
fresh ``malloc``; glibc serves allocations above its mmap threshold (at most 32 MiB) with a
new ``mmap`` and returns them with ``munmap`` when they are freed. The next tensor then pays
a page fault for every 4 KiB it touches: on the 2-core machine this project was measured on,
an out-of-place multiply of a 37 MB float32 activation took about 20 ms, of which the
arithmetic was under 2 ms. AlexNet's training step makes hundreds of such tensors.

:func:`keep_freed_memory` asks glibc (``mallopt``) to serve every allocation from its heap and
to keep freed memory there (up to 1 GiB at the top before trimming), so a step reuses the
pages of the previous one. It changes where memory comes from, never what is computed. The
benchmark (``benchmarks/train_throughput.py``) measures training with and without it in one
run (glibc's behaviour first, then this; it cannot be undone within a process). Set
``ALEXNET_MALLOC=default`` to leave glibc's behaviour alone; on other C libraries
(macOS, musl, Windows) it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import platform

# mallopt parameters, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
KEEP_AT_TOP_BYTES = 1 << 30


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> bool:
    """Serve allocations from glibc's heap and keep freed memory for reuse; True when applied."""
    if os.environ.get("ALEXNET_MALLOC", "").lower() == "default":
        return False
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, KEEP_AT_TOP_BYTES))


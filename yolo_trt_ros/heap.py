"""Keep large frame buffers in the process heap instead of handing them back to the kernel.

Every camera frame a Python node receives passes through several buffers the size of the frame
(Fast DDS's reassembled sample, the serialized message rmw takes, the Python bytes or message).
glibc serves requests above its mmap threshold with fresh ``mmap`` pages and returns them on
``free``, and trims the top of the heap once more than the trim threshold is free there, so each
1080p frame (6.2 MB, 1520 pages) makes the kernel fault in and zero new pages again and again.
On the 2-core development machine that cost about 10 of the 15 ms from ``publish()`` to the
subscriber's callback for a 1080p rgb8 frame over Fast DDS shared memory (docs/transport.md).
Raising both thresholds above the largest frame lets freed frame buffers be reused as they are.

Only the calling process changes; glibc only (musl and others report ``applied=False``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass
from typing import Final

# glibc's mallopt parameter numbers (malloc.h)
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
# The most every 64-bit glibc accepts (older ones refuse more than HEAP_MAX_SIZE / 2: 32 MiB on
# 64-bit, 16 MiB on 32-bit systems); it covers a 4K rgb8 frame (24.9 MB)
MMAP_THRESHOLD_BYTES: Final = 32 * 1024 * 1024
# Free memory kept at the top of the heap before it is returned: room for several such frames
TRIM_THRESHOLD_BYTES: Final = 256 * 1024 * 1024


@dataclass(frozen=True)
class HeapTuning:
    """What :func:`keep_frame_buffers` did, for logs and diagnostics."""

    applied: bool
    detail: str


def keep_frame_buffers(
    mmap_threshold: int = MMAP_THRESHOLD_BYTES, trim_threshold: int = TRIM_THRESHOLD_BYTES
) -> HeapTuning:
    """Raise glibc's mmap and trim thresholds for this process, so frame buffers are reused."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        gnu_get_libc_version = libc.gnu_get_libc_version
    except (OSError, AttributeError, TypeError):
        return HeapTuning(False, f"not glibc ({name or 'no C library found'}); heap left as it is")
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    gnu_get_libc_version.restype = ctypes.c_char_p
    version = gnu_get_libc_version().decode()
    refused = [
        f"{name} {value}"
        for name, option, value in (
            ("M_MMAP_THRESHOLD", _M_MMAP_THRESHOLD, mmap_threshold),
            ("M_TRIM_THRESHOLD", _M_TRIM_THRESHOLD, trim_threshold),
        )
        if not mallopt(option, value)
    ]
    if refused:  # a setting that was accepted stays: report the whole as not applied
        return HeapTuning(False, f"glibc {version} refused mallopt {', '.join(refused)}")
    return HeapTuning(
        True,
        f"glibc {version}: buffers up to {mmap_threshold >> 20} MiB come from the heap and "
        f"up to {trim_threshold >> 20} MiB of freed heap is kept for reuse",
    )


def release_free_memory() -> bool:
    """Hand the free pages inside the malloc arenas back to the kernel (glibc ``malloc_trim``).

    With :func:`keep_frame_buffers` applied, each arena keeps up to the trim threshold of freed
    memory resident. A released model leaves tens of MB there, between blocks still in use, and
    threads started by the next configure (inference, ONNX Runtime's pool) may fill other arenas:
    resident memory crept up over lifecycle cycles (measured with scripts/soak_hostile.py: flat
    with this called on cleanup). Called when the model is released; False without glibc.
    """
    try:
        malloc_trim = ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return False
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    malloc_trim(0)
    return True

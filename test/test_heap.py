"""keep_frame_buffers: frame-sized buffers come from the heap and stay there once freed.

Each case runs in a fresh interpreter, since the settings last for the life of a process. glibc's
own counters (mallinfo2) tell where a buffer came from: ``hblkhd`` counts bytes in mmap'd blocks,
``arena`` the heap, ``fordblks`` the free bytes kept in it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

FRAME = 6_220_800  # one 1920x1080 rgb8 frame

_PROBE = f"""
import ctypes, json, sys

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
tuned = sys.argv[1] == "tuned"
if tuned:
    from yolo_trt_ros.heap import keep_frame_buffers
    assert keep_frame_buffers().applied
before = libc.mallinfo2()
block = libc.malloc({FRAME})
ctypes.memset(block, 1, {FRAME})  # touch every page, as a received frame does
during = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(json.dumps({{
    "mmapped": during.hblkhd - before.hblkhd,
    "kept_free_after": after.fordblks,
    "heap_after": after.arena,
}}))
"""


def _probe(mode: str) -> dict[str, int]:
    # glibc's own defaults as the baseline, even where MALLOC_* tunables are set (as the docs suggest)
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt and mallinfo2 are glibc's")
def test_frame_buffers_are_served_from_the_heap_and_kept() -> None:
    untuned, tuned = _probe("untuned"), _probe("tuned")
    # glibc's default: a fresh process maps a frame-sized block and unmaps it on free
    assert untuned["mmapped"] >= FRAME, untuned
    # tuned: the heap serves it and keeps the freed bytes for the next frame
    assert tuned["mmapped"] == 0, tuned
    assert tuned["kept_free_after"] >= FRAME, tuned
    assert tuned["heap_after"] >= FRAME, tuned


_TRIM_PROBE = f"""
import ctypes, json, threading
from pathlib import Path
from yolo_trt_ros.heap import keep_frame_buffers, release_free_memory

def rss() -> int:
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS"))
    return int(line.split()[1]) * 1024

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
assert keep_frame_buffers().applied

kept_small = []


def frames() -> None:  # in a thread of its own, as the inference thread: another malloc arena
    blocks = []
    for _ in range(8):  # each followed by a small block that stays, as a model's objects do
        blocks.append(libc.malloc({FRAME}))
        kept_small.append(libc.malloc(64))
        ctypes.memset(blocks[-1], 1, {FRAME})
    for block in blocks:
        libc.free(block)

for target in (frames, lambda: None):
    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
kept = rss()
released = release_free_memory()
print(json.dumps({{"kept": kept, "after": rss(), "released": released}}))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_release_free_memory_gives_kept_frame_buffers_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["released"] is True
    # eight touched frames were kept resident after free; afterwards at most one frame remains
    assert result["kept"] - result["after"] >= 7 * FRAME, result

"""Catch what libjpeg and libpng (inside OpenCV) print to the process's stderr while decoding.

They print warnings such as ``Corrupt JPEG data: premature end of data segment`` with
``fprintf(stderr)``: no node, no camera, no throttle. Inside :func:`capture_decoder_output`,
file descriptor 2 points at a temporary file; on leaving, the decoder's lines are handed back and
anything else written meanwhile (another thread's log line) is copied on to the real stderr. A
file, not a pipe, so a writer never blocks; one lock serialises captures, as fd 2 is shared by the
whole process. Nothing is logged while the lock is held.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Final

__all__ = ["DecoderOutput", "capture_decoder_output"]

_STDERR: Final = 2
_MAX_KEPT: Final = 4096  # bytes of decoder text kept per capture; the rest is summarised
# libjpeg's warning texts (jerror.h), libpng's default handlers, OpenCV's own log lines.
_DECODER_LINE: Final = re.compile(
    rb"(Corrupt JPEG data|Premature end of JPEG|Invalid SOS parameters|Inconsistent progression"
    rb"|Application transferred too few|Warning: |Unsupported marker|libpng (warning|error)"
    rb"|\[ ?(WARN|ERROR|INFO):\d)"
)
_lock = threading.RLock()  # re-entrant: a nested capture cannot deadlock
_file: BinaryIO | None = None


class DecoderOutput:
    """The lines a decoder printed during one capture (filled in when the capture ends)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    @property
    def text(self) -> str:
        """The lines joined with '; ' (empty when the decoder printed nothing)."""
        return "; ".join(self.lines)


def _capture_file() -> BinaryIO:
    global _file  # noqa: PLW0603 - one file per process, like fd 2 itself
    if _file is None:
        _file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - kept for the process
    return _file


def _split(captured: bytes, output: DecoderOutput) -> bytes:
    """Move the decoder's lines into output; return the rest, for the real stderr."""
    rest: list[bytes] = []
    kept = 0
    for line in captured.splitlines(keepends=True):
        if _DECODER_LINE.match(line):
            kept += len(line)
            if kept <= _MAX_KEPT:
                output.lines.append(line.decode("utf-8", "replace").strip())
        else:
            rest.append(line)
    if kept > _MAX_KEPT:
        output.lines.append(f"(and {kept - _MAX_KEPT} more bytes of decoder messages)")
    return b"".join(rest)


def _drain(capture: BinaryIO) -> bytes:
    size = os.fstat(capture.fileno()).st_size
    if not size:
        return b""
    captured = os.pread(capture.fileno(), size, 0)
    os.ftruncate(capture.fileno(), 0)
    os.lseek(capture.fileno(), 0, os.SEEK_SET)  # fd 2 shared this offset while redirected
    return captured


def _write_stderr(data: bytes) -> None:
    while data:
        data = data[os.write(_STDERR, data) :]


@contextmanager
def capture_decoder_output() -> Iterator[DecoderOutput]:
    """Redirect fd 2 to a file for the duration; yields what the decoder printed, once done.

    Where fd 2 cannot be duplicated (closed), the body runs without capture.
    """
    output = DecoderOutput()
    captured = b""
    try:
        with _lock:
            try:
                saved = os.dup(_STDERR)
            except OSError:
                saved = -1
            if saved < 0:
                yield output
                return
            capture = _capture_file()
            try:
                os.dup2(capture.fileno(), _STDERR)
                try:
                    yield output
                finally:
                    os.dup2(saved, _STDERR)
            finally:
                os.close(saved)
                captured = _drain(capture)
    finally:
        rest = _split(captured, output) if captured else b""
        if rest:
            _write_stderr(rest)

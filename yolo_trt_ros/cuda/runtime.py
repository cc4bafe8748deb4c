"""Small owners of CUDA resources over cuda-python's driver API: device, stream, event, memory.

Each object owns one resource and frees it deterministically in ``close()`` (also as a context
manager); closing twice is harmless, using a closed object raises ``CudaError``. (A device's
primary context is the exception: retained once, it stays for the process.) Everything runs
in the device's *primary* context, the one the CUDA runtime, PyTorch, CuPy and TensorRT use, so
pointers and streams made here are valid in those libraries too: ``DeviceArray`` exposes
``__cuda_array_interface__`` (``torch.as_tensor`` and ``cupy.asarray`` wrap it without a copy),
streams expose their handle for ``torch.cuda.ExternalStream``.

Driver calls return ``(status, *values)``; ``check`` turns a failed status into ``CudaError`` with
the driver's own name and description of the error.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from cuda.bindings import driver as cu

from yolo_trt_ros.closing import ClosesOnExit
from yolo_trt_ros.errors import CudaError

__all__ = [
    "AllocationStats",
    "CudaDevice",
    "CudaEvent",
    "CudaGraph",
    "CudaStream",
    "DeviceArray",
    "DeviceBuffer",
    "PinnedBuffer",
    "allocation_stats",
    "check",
    "copy_device_to_host",
    "copy_device_to_host_now",
    "copy_host_to_device",
    "copy_host_to_device_now",
    "copy_rows_host_to_device",
    "fill_int32",
    "memory_info",
]

_SUCCESS: Final = cu.CUresult.CUDA_SUCCESS


def check(result: tuple[Any, ...]) -> Any:
    """Return the value(s) of a driver call's ``(status, *values)`` result, or raise CudaError."""
    status = result[0]
    if status != _SUCCESS:
        _, name = cu.cuGetErrorName(status)
        _, text = cu.cuGetErrorString(status)
        raise CudaError(
            f"CUDA driver error {(name or b'?').decode()}: {(text or b'unknown error').decode()}"
        )
    if len(result) == 1:
        return None
    return result[1] if len(result) == 2 else result[1:]


@dataclass
class AllocationStats:
    """How many device and pinned host allocations this process made through this module."""

    device_allocations: int = 0
    pinned_allocations: int = 0
    device_bytes: int = 0
    pinned_bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, *, device: int = 0, pinned: int = 0) -> None:
        """Record one allocation of ``device`` or ``pinned`` bytes."""
        with self._lock:
            self.device_allocations += 1 if device else 0
            self.pinned_allocations += 1 if pinned else 0
            self.device_bytes += device
            self.pinned_bytes += pinned


_STATS = AllocationStats()


def allocation_stats() -> AllocationStats:
    """Return the process-wide allocation counters (tests use them to prove a steady state allocates nothing)."""
    return _STATS


_init_lock = threading.Lock()
_initialized = False


def _initialize_driver() -> None:
    global _initialized  # noqa: PLW0603 - cuInit is once per process
    with _init_lock:
        if _initialized:
            return
        try:
            check(cu.cuInit(0))
        except RuntimeError as error:  # cuda-python raises this when libcuda cannot be loaded
            raise CudaError(
                f"no CUDA driver here ({error}): the GPU pipeline needs an NVIDIA GPU and its driver; "
                "use the onnxruntime backend on the CPU"
            ) from None
        _initialized = True


class _Owned(ClosesOnExit):
    """Base for single-resource owners: a context manager with an idempotent close()."""

    _what = "resource"

    def __init__(self) -> None:
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether close() has run."""
        return self._closed

    def _require_open(self) -> None:
        if self._closed:
            raise CudaError(f"this CUDA {self._what} is closed")

    def close(self) -> None:
        """Release the resource; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._release()

    def _release(self) -> None:
        raise NotImplementedError


_primary_contexts: dict[int, tuple[Any, Any]] = {}


def _primary_context(index: int) -> tuple[Any, Any]:
    """Return (CUdevice, CUcontext) of a GPU's primary context, retained once for the process.

    Kept for the life of the process, like the CUDA runtime keeps it: kernel modules loaded into
    it are cached per process, and releasing it could destroy it under them.
    """
    with _init_lock:
        if index not in _primary_contexts:
            handle = check(cu.cuDeviceGet(index))
            _primary_contexts[index] = (handle, check(cu.cuDevicePrimaryCtxRetain(handle)))
        return _primary_contexts[index]


def memory_info(index: int = 0) -> tuple[int, int]:
    """Return (free, total) bytes of GPU ``index``, for the whole GPU (every process on it).

    Asked in the GPU's primary context, made current in the calling thread; the context is one
    the process already uses when a GPU backend runs, so asking creates nothing.
    """
    _initialize_driver()
    _, context = _primary_context(index)
    check(cu.cuCtxSetCurrent(context))
    free, total = check(cu.cuMemGetInfo())
    return int(free), int(total)


class CudaDevice(_Owned):
    """One GPU and its primary context (made current in the creating thread)."""

    _what = "device"

    def __init__(self, index: int = 0) -> None:
        super().__init__()
        _initialize_driver()
        count = check(cu.cuDeviceGetCount())
        if not 0 <= index < count:
            raise CudaError(
                f"CUDA device {index} does not exist: this machine has {count} (use cuda:0..cuda:{count - 1})"
            )
        self.index = index
        self.handle, self.context = _primary_context(index)
        self.make_current()
        self.name = check(cu.cuDeviceGetName(256, self.handle)).split(b"\0", 1)[0].decode()
        attribute = cu.CUdevice_attribute
        self.compute_capability: tuple[int, int] = (
            int(
                check(
                    cu.cuDeviceGetAttribute(
                        attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, self.handle
                    )
                )
            ),
            int(
                check(
                    cu.cuDeviceGetAttribute(
                        attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, self.handle
                    )
                )
            ),
        )

    def make_current(self) -> None:
        """Bind the primary context to the calling thread (each thread that launches work needs it)."""
        self._require_open()
        check(cu.cuCtxSetCurrent(self.context))

    def _release(self) -> None:
        """Nothing to free: the primary context stays retained for the process."""

    def __repr__(self) -> str:
        major, minor = self.compute_capability
        return f"CudaDevice(cuda:{self.index}, {self.name}, sm_{major}{minor})"


class CudaStream(_Owned):
    """A non-blocking CUDA stream (it never waits for the legacy default stream)."""

    _what = "stream"

    def __init__(self, device: CudaDevice) -> None:
        super().__init__()
        device.make_current()
        self.handle = check(cu.cuStreamCreate(cu.CUstream_flags.CU_STREAM_NON_BLOCKING.value))
        self.ptr = int(self.handle)
        self._handoff: Any = None  # the event wait_for records on another stream

    def synchronize(self) -> None:
        """Wait until all work queued on the stream is done."""
        self._require_open()
        check(cu.cuStreamSynchronize(self.handle))

    def __cuda_stream__(self) -> tuple[int, int]:
        """Return (version, handle): the stream protocol of cuda.core and CuPy."""
        return (0, self.ptr)

    def wait_for(self, producer: int) -> None:
        """Make work queued next on this stream wait for what another stream has queued so far.

        ``producer`` is a raw stream handle (e.g. the ``stream`` of a CUDA Array Interface); the
        host does not wait. Nothing to do when it is this stream.
        """
        self._require_open()
        if producer == self.ptr:
            return
        if self._handoff is None:
            self._handoff = check(cu.cuEventCreate(cu.CUevent_flags.CU_EVENT_DISABLE_TIMING.value))
        check(cu.cuEventRecord(self._handoff, cu.CUstream(producer)))
        check(cu.cuStreamWaitEvent(self.handle, self._handoff, 0))

    def _release(self) -> None:
        if self._handoff is not None:
            check(cu.cuEventDestroy(self._handoff))
        check(cu.cuStreamDestroy(self.handle))


class CudaEvent(_Owned):
    """A CUDA event; ``timing=True`` makes it usable with ``elapsed_ms`` (and a bit slower)."""

    _what = "event"

    def __init__(self, *, timing: bool = False) -> None:
        super().__init__()
        flags = (
            cu.CUevent_flags.CU_EVENT_DEFAULT
            if timing
            else cu.CUevent_flags.CU_EVENT_DISABLE_TIMING
        )
        self.handle = check(cu.cuEventCreate(flags.value))

    def record(self, stream: CudaStream) -> None:
        """Mark the point the stream has reached (in stream order)."""
        check(cu.cuEventRecord(self.handle, stream.handle))

    def synchronize(self) -> None:
        """Wait on the host until the recorded point has been reached."""
        check(cu.cuEventSynchronize(self.handle))

    def elapsed_ms(self, end: CudaEvent) -> float:
        """Milliseconds between this event and a later one (both recorded and complete)."""
        return float(check(cu.cuEventElapsedTime(self.handle, end.handle)))

    def _release(self) -> None:
        check(cu.cuEventDestroy(self.handle))


# A graph capture in one thread and a whole-context synchronisation (or a free, which implies one)
# in another must not overlap: CUDA would invalidate the capture. Both hold this lock.
_capture_or_sync = threading.RLock()


class CudaGraph(_Owned):
    """Work captured once from a stream, then replayed by one launch (one host call, not one each).

    ``record`` queues the work on ``stream`` while the stream captures it: nothing runs then. The
    capture is thread-local, so other threads' CUDA calls are not affected. Buffer addresses and
    kernel arguments are fixed at capture: replay only what still reads and writes the same memory.
    A failed capture raises ``CudaError`` (or what ``record`` raised) and leaves the stream usable.
    """

    _what = "graph"

    def __init__(self, stream: CudaStream, record: Callable[[], object]) -> None:
        super().__init__()
        mode = cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
        with _capture_or_sync:
            check(cu.cuStreamBeginCapture(stream.handle, mode))
            try:
                record()
            except BaseException:
                # end the (now void) capture; a partial graph it may return is not kept
                ended = cu.cuStreamEndCapture(stream.handle)
                if ended[0] == _SUCCESS and ended[1] is not None and int(ended[1]):
                    cu.cuGraphDestroy(ended[1])
                raise
            graph = check(cu.cuStreamEndCapture(stream.handle))
        try:
            # (graph, flags): the signature of cuda-python 12 and later
            self.handle = check(cu.cuGraphInstantiate(graph, 0))
        finally:
            check(cu.cuGraphDestroy(graph))

    def launch(self, stream: CudaStream) -> None:
        """Queue the captured work on ``stream``."""
        self._require_open()
        check(cu.cuGraphLaunch(self.handle, stream.handle))

    def _release(self) -> None:
        check(cu.cuGraphExecDestroy(self.handle))


@dataclass(frozen=True)
class DeviceArray:
    """A typed, C-contiguous view of device memory that other GPU libraries can wrap without a copy.

    ``owner`` keeps the memory alive (a ``DeviceBuffer``, a torch tensor, ...); the view is valid
    while the owner is open.
    """

    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    owner: Any = field(default=None, repr=False, compare=False)

    @property
    def nbytes(self) -> int:
        """Size of the view in bytes."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """Numba's CUDA Array Interface (v3); ``stream`` None: ordering is the producer's job."""
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, False),
            "version": 3,
            "strides": None,
            "stream": None,
        }


class DeviceBuffer(_Owned):
    """Device memory from ``cuMemAlloc`` (the caller's to free with close())."""

    _what = "device buffer"

    def __init__(self, device: CudaDevice, nbytes: int) -> None:
        super().__init__()
        if nbytes <= 0:
            raise CudaError(f"a device buffer needs a positive size, got {nbytes} bytes")
        device.make_current()
        self.device = device
        self.nbytes = int(nbytes)
        self.ptr = int(check(cu.cuMemAlloc(self.nbytes)))
        _STATS.count(device=self.nbytes)

    def array(self, shape: tuple[int, ...], dtype: npt.DTypeLike, offset: int = 0) -> DeviceArray:
        """View part of the buffer as a typed array starting ``offset`` bytes in."""
        self._require_open()
        view = DeviceArray(self.ptr + offset, tuple(int(d) for d in shape), np.dtype(dtype), self)
        if offset < 0 or offset + view.nbytes > self.nbytes:
            raise CudaError(
                f"a {view.shape} {view.dtype} view at byte {offset} overruns a {self.nbytes}-byte buffer"
            )
        return view

    def _release(self) -> None:
        # Like cudaFree: let queued work that may still use the memory finish, then free it.
        with _capture_or_sync:
            cu.cuCtxSynchronize()
            check(cu.cuMemFree(self.ptr))


class PinnedBuffer(_Owned):
    """Page-locked host memory (``cuMemHostAlloc``): the fast, asynchronous side of a copy.

    NumPy views from ``array()`` share its memory and must not be used after close().
    """

    _what = "pinned buffer"

    def __init__(self, device: CudaDevice, nbytes: int, *, write_combined: bool = False) -> None:
        super().__init__()
        if nbytes <= 0:
            raise CudaError(f"a pinned buffer needs a positive size, got {nbytes} bytes")
        device.make_current()
        self.nbytes = int(nbytes)
        # Write-combined memory is faster to fill and to copy to the GPU, very slow to read back.
        flags = cu.CU_MEMHOSTALLOC_WRITECOMBINED if write_combined else 0
        self.ptr = int(check(cu.cuMemHostAlloc(self.nbytes, flags)))
        _STATS.count(pinned=self.nbytes)
        self._memory: Any = (ctypes.c_uint8 * self.nbytes).from_address(self.ptr)

    def array(
        self, shape: tuple[int, ...], dtype: npt.DTypeLike, offset: int = 0
    ) -> npt.NDArray[Any]:
        """Return a NumPy view of part of the buffer starting ``offset`` bytes in."""
        self._require_open()
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        if offset < 0 or offset + count * dtype.itemsize > self.nbytes:
            raise CudaError(
                f"a {shape} {dtype} view at byte {offset} overruns a {self.nbytes}-byte pinned buffer"
            )
        flat = np.frombuffer(self._memory, dtype=dtype, count=count, offset=offset)
        return flat.reshape(shape)

    def _release(self) -> None:
        self._memory = None
        with _capture_or_sync:
            cu.cuCtxSynchronize()  # a copy may still be reading or writing it
            check(cu.cuMemFreeHost(self.ptr))


def copy_host_to_device(device_ptr: int, host_ptr: int, nbytes: int, stream: CudaStream) -> None:
    """Queue a host-to-device copy on the stream (asynchronous when the host side is pinned)."""
    check(cu.cuMemcpyHtoDAsync(device_ptr, host_ptr, nbytes, stream.handle))


def copy_device_to_host(host_ptr: int, device_ptr: int, nbytes: int, stream: CudaStream) -> None:
    """Queue a device-to-host copy on the stream (asynchronous when the host side is pinned)."""
    check(cu.cuMemcpyDtoHAsync(host_ptr, device_ptr, nbytes, stream.handle))


def copy_host_to_device_now(device_ptr: int, host: npt.NDArray[Any]) -> None:
    """Copy a host array to the device and wait until it is there (one-off uploads: tables).

    ``cuMemcpyHtoD`` from pageable memory returns once the data is staged, possibly before it
    reaches the device, and our streams do not wait for the legacy stream that copy runs on: a
    kernel queued next could read the old contents. Hence the context synchronisation.
    """
    data = np.ascontiguousarray(host)
    with _capture_or_sync:
        check(cu.cuMemcpyHtoD(device_ptr, data.ctypes.data, data.nbytes))
        check(cu.cuCtxSynchronize())


def fill_int32(device_ptr: int, value: int, count: int, stream: CudaStream | None = None) -> None:
    """Set ``count`` int32 words to ``value``: queued on ``stream``, or done before returning.

    Without a stream the fill is waited for: ``cuMemsetD32`` on device memory may return before
    it is done, on the legacy stream, which our non-blocking streams do not wait for.
    """
    if stream is None:
        with _capture_or_sync:
            check(cu.cuMemsetD32(device_ptr, value, count))
            check(cu.cuCtxSynchronize())
    else:
        check(cu.cuMemsetD32Async(device_ptr, value, count, stream.handle))


def copy_device_to_host_now(host: npt.NDArray[Any], device_ptr: int) -> None:
    """Fill a C-contiguous host array from device memory and wait."""
    if not host.flags.c_contiguous:
        raise CudaError("copy_device_to_host_now needs a C-contiguous host array")
    check(cu.cuMemcpyDtoH(host.ctypes.data, device_ptr, host.nbytes))


def copy_rows_host_to_device(
    device_ptr: int,
    host_ptr: int,
    stream: CudaStream,
    *,
    host_pitch: int,
    row_bytes: int,
    rows: int,
) -> None:
    """Queue a 2-D copy of ``rows`` rows of ``row_bytes``, ``host_pitch`` bytes apart, packed on the device."""
    copy = cu.CUDA_MEMCPY2D()
    copy.srcMemoryType = cu.CUmemorytype.CU_MEMORYTYPE_HOST
    copy.srcHost = host_ptr
    copy.srcPitch = host_pitch
    copy.dstMemoryType = cu.CUmemorytype.CU_MEMORYTYPE_DEVICE
    copy.dstDevice = device_ptr
    copy.dstPitch = row_bytes
    copy.WidthInBytes = row_bytes
    copy.Height = rows
    check(cu.cuMemcpy2DAsync(copy, stream.handle))

"""The one CUDA layer: owners of CUDA resources over cuda-python's driver API.

Both ``backends/`` (the TensorRT and torch device backends) and ``gpu/`` (the pipeline's kernels)
build on it, and it imports neither. Needs ``cuda-python`` (``cuda.bindings``) and an NVIDIA driver;
this ``__init__`` imports nothing, so ``yolo_trt_ros`` stays usable without a GPU.

* ``runtime``: device (primary context), stream, event, pinned and device buffers, copies.
"""

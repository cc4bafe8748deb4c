"""The GPU path: NVRTC kernels for pre- and post-processing and the pipeline, on ``yolo_trt_ros.cuda``.

Needs ``cuda-python`` (``cuda.bindings``) and an NVIDIA driver; nothing else in the package imports
it, and this ``__init__`` imports nothing, so ``yolo_trt_ros`` stays usable without a GPU.

* ``kernels``: run-time compilation of ``letterbox.cu`` and ``postprocess.cu`` with NVRTC;
* ``resize_taps``: OpenCV's bilinear taps for the letterbox kernel (NumPy only);
* ``upload``, ``letterbox``, ``decode``: the pipeline's three GPU stages;
* ``pipeline``: ``GpuDetector``, host image -> host detections with one synchronisation.
"""

"""Engines: specification and cache key, the cache, precision preparation, TensorRT builds, export."""

"""
Inference backends of the reaction model: PyTorch, ONNX Runtime, TensorRT, one interface.

- selection.py: which backend runs and why (BACKENDS, Availability, choose_backend); light.
- loader.py: load_generator(checkpoint, backend) -> the ReactionGenerator interface.
- graphs.py: the streaming step as exportable graphs; export.py: ONNX export + manifest.py.
- graph_stream.py: a stream over graph runners (onnxruntime_backend.py, tensorrt_backend.py).
- engine_cache.py: TensorRT plans cached per GPU, TensorRT version and precision.

This package module imports nothing, so its light modules stay light.
"""

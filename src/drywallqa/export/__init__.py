"""Exporters: ONNX graphs of a film_unet model (``onnx``: the exporter) for the ``onnx`` runtime (``onnx_runtime``:
image encoder once per image, decoder per prompt), which runs a torch model folder through its export in a cache
(``onnx_cache``)."""

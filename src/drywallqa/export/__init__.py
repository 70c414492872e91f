"""Exporters: ONNX graphs of a film_unet model for the ``onnx`` runtime (image encoder once per image, decoder per
prompt)."""

"""Exporters: ONNX graphs of the embedded model (image encoder once per image, decoder per prompt)."""

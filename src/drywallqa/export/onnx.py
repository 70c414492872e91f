"""ONNX export of a ``film_unet`` model and an onnxruntime backend (``Segmenter.load(dir, backend="onnx")``).

Two graphs, so that the image is encoded once and each prompt costs one decoder run:

    encoder.onnx: pixel_values (B, 3, S, S) float32 0..1 -> lateral_32, lateral_16, lateral_8, lateral_4
                  (and lateral_2 for a model with a refinement level, ``refine_channels``)
    decoder.onnx: the laterals (B, C_i, S/i, S/i) + text_embeddings (B, D) -> logits (B, 1, S, S)

Batch and spatial axes are dynamic (S any multiple of 32), so multi-scale inference works too.

TensorRT consumes the same graphs (``trtexec --onnx=encoder.onnx --fp16``) on a GPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..engine.predictor import EmbeddedSegmenter, register_backend
from ..models.base import CONFIG_NAME, PromptedSegmentationModel, read_model_metadata
from ..models.film_unet.modeling_film_unet import FilmUNetFeatures

LATERALS = ("lateral_32", "lateral_16", "lateral_8", "lateral_4")


def lateral_names(config) -> tuple[str, ...]:
    """Names of the encoder graph's outputs (the decoder graph's inputs besides the text) for a config."""
    return LATERALS + (("lateral_2",) if getattr(config, "refine_channels", 0) else ())


class _EncoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return tuple(self.model.encode_image(pixel_values).laterals)


class _DecoderGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, *inputs):  # the laterals in lateral_names order, then text_embeddings
        *laterals, text_embeddings = inputs
        size = (laterals[3].shape[-2] * 4, laterals[3].shape[-1] * 4)  # the input size: lateral_4 is at stride 4
        return self.model.decode(FilmUNetFeatures(laterals, size), text_embeddings)


def export_onnx(model_dir: str | Path, out_dir: str | Path, opset: int = 17) -> Path:
    """Write ``encoder.onnx``, ``decoder.onnx`` and the model's ``config.json`` to ``out_dir``."""
    model = PromptedSegmentationModel.from_pretrained(model_dir).eval()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = model.config.image_size
    x = torch.rand(1, 3, s, s)
    t = torch.randn(1, model.config.text_dim)
    names = lateral_names(model.config)
    with torch.no_grad():
        laterals = _EncoderGraph(model)(x)
        torch.onnx.export(_EncoderGraph(model), (x,), out / "encoder.onnx", input_names=["pixel_values"],
                          output_names=list(names), dynamic_axes={n: {0: "batch", 2: f"{n}_h", 3: f"{n}_w"} for n in ("pixel_values", *names)},
                          opset_version=opset, dynamo=False)
        spatial = {n: {0: "batch", 2: f"{n}_h", 3: f"{n}_w"} for n in (*names, "logits")}
        torch.onnx.export(_DecoderGraph(model), (*laterals, t), out / "decoder.onnx",
                          input_names=[*names, "text_embeddings"], output_names=["logits"],
                          dynamic_axes={**spatial, "text_embeddings": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    shutil.copy(Path(model_dir) / CONFIG_NAME, out / CONFIG_NAME)
    meta = json.loads((out / CONFIG_NAME).read_text())
    meta["runtime"] = "onnx"
    meta["parameters"] = sum(p.numel() for p in model.parameters())
    (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2))
    return out


class OnnxFilmUNet:
    """Runs the two exported graphs with onnxruntime behind the ``encode_image``/``decode`` interface."""

    def __init__(self, directory: str | Path, threads: int | None = None):
        import onnxruntime as ort

        from ..models.registry import get_model_class

        meta = read_model_metadata(directory)
        self.config = get_model_class(meta["model_type"]).config_class(**meta["config"])
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        self.encoder = ort.InferenceSession(str(Path(directory) / "encoder.onnx"), opts, providers=providers)
        self.decoder = ort.InferenceSession(str(Path(directory) / "decoder.onnx"), opts, providers=providers)
        self.lateral_names = [i.name for i in self.decoder.get_inputs() if i.name != "text_embeddings"]

    def to(self, device):
        return self

    def prompt_embeddings(self, prompts: list[str], text_encoder: str) -> torch.Tensor:
        return PromptedSegmentationModel.prompt_embeddings(self, prompts, text_encoder)

    def eval(self):
        return self

    def parameters(self):
        return iter(())

    def encode_image(self, pixel_values: torch.Tensor) -> FilmUNetFeatures:
        outs = self.encoder.run(None, {"pixel_values": pixel_values.numpy().astype(np.float32)})
        return FilmUNetFeatures([torch.from_numpy(o) for o in outs], tuple(pixel_values.shape[-2:]))

    def decode_with_scores(self, features: FilmUNetFeatures, text_embeddings: torch.Tensor):
        return self.decode(features, text_embeddings), None

    def decode(self, features: FilmUNetFeatures, text_embeddings: torch.Tensor) -> torch.Tensor:
        feed = {n: f.numpy() for n, f in zip(self.lateral_names, features.laterals)}
        feed["text_embeddings"] = text_embeddings.numpy().astype(np.float32)
        return torch.from_numpy(self.decoder.run(None, feed)[0])


@register_backend("onnx")
class OnnxSegmenter(EmbeddedSegmenter):
    """The embedded segmenter with its model run by onnxruntime (a directory written by :func:`export_onnx`)."""

    @classmethod
    def load_model(cls, path: Path) -> OnnxFilmUNet:
        if not (Path(path) / "encoder.onnx").is_file():
            raise FileNotFoundError(f"{path}: no encoder.onnx; run `drywallqa export onnx --out DIR` first")
        return OnnxFilmUNet(path, threads=torch.get_num_threads())

    def num_parameters(self) -> int:
        return int(self.metadata.get("parameters", 0))

"""Stage 3, open-vocabulary detection: ``grounding-dino`` (default ``IDEA-Research/grounding-dino-tiny``)
or ``owlv2`` (default ``google/owlv2-base-patch16-ensemble``); one query per prompt, boxes in pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..models.hub import check_prompt_lengths, check_tokenizer, load_hub_or_local
from ..utils.registry import Registry

DETECTORS: Registry = Registry("detector")


@dataclass
class Detection:
    box: tuple  # x0, y0, x1, y1 in pixels
    score: float
    prompt: str


THIN_SIDE = 32  # pixels: a grounding-dino failure on a photo whose shorter side is scaled under this is its aspect ratio's


def _size_key(size, key: str):
    """``size[key]`` of an image processor's ``size`` (a dict, or transformers' ``SizeDict``), None when absent."""
    if size is None:
        return None
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@DETECTORS.decorator("grounding-dino")
class GroundingDinoDetector:
    default_model = "IDEA-Research/grounding-dino-tiny"

    def __init__(self, model_path: str | None = None, box_threshold: float = 0.3, text_threshold: float = 0.25):
        from transformers import AutoProcessor, GroundingDinoForObjectDetection

        path = model_path or self.default_model
        # a folder of another kind of model is refused (its config.json's model_type) before anything loads
        self.processor = load_hub_or_local(AutoProcessor, path, "Grounding DINO processor", "grounding-dino")
        self.model = load_hub_or_local(GroundingDinoForObjectDetection, path, "Grounding DINO model").eval()
        check_tokenizer(self.processor.tokenizer, path, "the Grounding DINO tokenizer", "tokenizer.json, vocab.txt",
                        "Grounding DINO text encoder", self.model.config.text_config.vocab_size)
        self.box_threshold, self.text_threshold = box_threshold, text_threshold
        self.text_limit = getattr(self.model.config, "max_text_len", None)  # tokens its text encoder reads (256)

    @torch.no_grad()
    def detect(self, image: np.ndarray, prompts: list[str]) -> list[Detection]:
        """Boxes of every prompt on ``image``.

        Raises:
            ValueError: a photo too thin for the processor (its shorter side scaled under a pixel), or one the
                processor or model fails on whose shorter side is scaled under :data:`THIN_SIDE` pixels: its aspect
                ratio named as the reason (the processor's own message was about size keys).
        """
        self.check_prompts(prompts)
        h, w = image.shape[:2]
        short = self.resized_short_side(h, w)
        if short is not None and round(short) < 1:
            raise ValueError(self._too_thin(h, w, short))
        pil, out = Image.fromarray(image), []
        try:
            for p in prompts:
                inputs = self.processor(images=pil, text=self.query(p), return_tensors="pt")
                res = self.processor.post_process_grounded_object_detection(
                    self.model(**inputs), inputs.input_ids, threshold=self.box_threshold,
                    text_threshold=self.text_threshold, target_sizes=[image.shape[:2]])[0]
                out += [Detection(tuple(float(v) for v in b), float(s), p) for b, s in zip(res["boxes"], res["scores"])]
        except Exception as exc:
            if short is not None and short < THIN_SIDE:
                raise ValueError(f"{self._too_thin(h, w, short)} ({type(exc).__name__}: {exc})") from exc
            raise
        return out

    @staticmethod
    def query(prompt: str) -> str:
        """The text the model is given for ``prompt`` (lower case, one closing period, as it was trained)."""
        return prompt.lower().rstrip(".") + "."

    def check_prompts(self, prompts: list[str]) -> None:
        """ValueError naming a prompt of more tokens than the model reads (its ``max_text_len``: 256)."""
        check_prompt_lengths(self.processor.tokenizer, {p: self.query(p) for p in prompts},
                             self.text_limit, "the grounding-dino detector")

    def resized_short_side(self, h: int, w: int) -> float | None:
        """The shorter side of an ``h`` x ``w`` photo as the processor resizes it (``shortest_edge``, unless the
        longer side would pass ``longest_edge``), or None where its processor has no such sizes."""
        size = getattr(getattr(self.processor, "image_processor", None), "size", None)
        shortest, longest = (_size_key(size, k) for k in ("shortest_edge", "longest_edge"))
        if not shortest or min(h, w) < 1:
            return None
        scale = shortest / min(h, w)
        if longest and max(h, w) * scale > longest:
            scale = longest / max(h, w)
        return min(h, w) * scale

    def _too_thin(self, h: int, w: int, short: float) -> str:
        longest = _size_key(getattr(self.processor.image_processor, "size", None), "longest_edge")
        return (f"a {w}x{h} photo: its aspect ratio ({max(h, w) / min(h, w):.0f}:1) is beyond what the grounding-dino "
                f"detector takes (its processor scales the longer side to {longest} pixels, the shorter one to "
                f"{short:.2f}); crop it into pieces nearer a square, or use --detector owlv2 (it pads photos to a square)")


@DETECTORS.decorator("owlv2")
class Owlv2Detector:
    default_model = "google/owlv2-base-patch16-ensemble"

    def __init__(self, model_path: str | None = None, box_threshold: float = 0.2, text_threshold: float = 0.0):
        from transformers import AutoProcessor, Owlv2ForObjectDetection

        path = model_path or self.default_model
        # a folder of another kind of model is refused (its config.json's model_type) before anything loads
        self.processor = load_hub_or_local(AutoProcessor, path, "OWLv2 processor", "owlv2")
        self.model = load_hub_or_local(Owlv2ForObjectDetection, path, "OWLv2 model").eval()
        check_tokenizer(self.processor.tokenizer, path, "the OWLv2 tokenizer", "tokenizer.json, vocab.json, merges.txt",
                        "OWLv2 text encoder", self.model.config.text_config.vocab_size)
        self.box_threshold = box_threshold
        self.text_limit = getattr(self.model.config.text_config, "max_position_embeddings", None)  # 16 published

    @torch.no_grad()
    def detect(self, image: np.ndarray, prompts: list[str]) -> list[Detection]:
        """Boxes of every prompt on ``image``. A photo larger than the model's input is scaled down to it first
        (:meth:`input_side`): the processor pads a photo to a square before it resizes it, in floats, so a thin one
        (40000 x 3 pixels) took the square of its long side (24 GB, and the job was killed)."""
        self.check_prompts(prompts)
        h, w = image.shape[:2]
        side = max(h, w)  # OWLv2 pads to a square: boxes come back relative to the padded side
        scale = self.input_side() / side
        if scale < 1:  # the photo as the processor would resize it, made small before the padding rather than after
            import cv2

            image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        inputs = self.processor(text=[prompts], images=Image.fromarray(image), return_tensors="pt", padding=True)
        post = getattr(self.processor, "post_process_grounded_object_detection", None) or self.processor.post_process_object_detection
        res = post(self.model(**inputs), threshold=self.box_threshold, target_sizes=[(side, side)])[0]
        return [Detection(tuple(float(v) for v in b), float(s), prompts[int(lab)])
                for b, s, lab in zip(res["boxes"], res["scores"], res["labels"])]

    def check_prompts(self, prompts: list[str]) -> None:
        """ValueError naming a prompt of more tokens than the model's text encoder reads (16 for the published OWLv2)."""
        check_prompt_lengths(self.processor.tokenizer, {p: p for p in prompts},
                             self.text_limit, "the owlv2 detector")

    def input_side(self) -> int:
        """The side of the square the processor resizes a padded photo to (960 for the published OWLv2)."""
        size = getattr(getattr(self.processor, "image_processor", None), "size", None)
        return int(_size_key(size, "height") or _size_key(size, "longest_edge") or 960)

"""Stage 1, tags: what the surface is. ``fixed`` (the user names it) or ``hf-classifier`` (any
``transformers`` image-classification model whose labels are materials; a RAM-style tagger plugs in
through the same ``Tagger`` interface)."""

from __future__ import annotations

import numpy as np

from ..models.hub import load_hub_or_local
from ..utils.checks import whole_number
from ..utils.registry import Registry

TAGGERS: Registry = Registry("tagger")


class Tagger:
    def tags(self, image: np.ndarray) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError


@TAGGERS.decorator("fixed")
class FixedTagger(Tagger):
    def __init__(self, material: str = "drywall"):
        self.check_options(material)
        self.material = material

    @staticmethod
    def check_options(material: str = "drywall") -> None:
        """ValueError unless ``material`` is a name (text)."""
        if not isinstance(material, str) or not material.strip():
            raise ValueError(f"material must be the surface's name (drywall, concrete, tile, ...), got {material!r}")

    def tags(self, image: np.ndarray) -> list[str]:
        return [self.material]


@TAGGERS.decorator("hf-classifier")
class HFClassifierTagger(Tagger):
    """Top-k labels of an image-classification model (hub id or local directory)."""

    def __init__(self, model_path: str, top_k: int = 1):
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        self.check_options(model_path, top_k)
        self.processor = load_hub_or_local(AutoImageProcessor, model_path, "image processor")
        self.model = load_hub_or_local(AutoModelForImageClassification, model_path, "tagging model").eval()
        self.top_k = int(top_k)
        labels = self.model.config.num_labels
        if self.top_k > labels:  # every photo failed with torch's "selected index k out of range"
            raise ValueError(f"tagger_options: top_k {self.top_k} is more than the {labels} labels of the tagging model "
                             f"{model_path!r}")

    @staticmethod
    def check_options(model_path: str, top_k: int = 1) -> None:
        """ValueError unless ``model_path`` is text and ``top_k`` a whole number of at least 1."""
        if not isinstance(model_path, str) or not model_path.strip():
            raise ValueError(f"model_path must be a hub id or a folder, got {model_path!r}")
        if not whole_number(top_k) or top_k < 1:
            raise ValueError(f"top_k must be a whole number of at least 1, got {top_k!r}")

    def tags(self, image: np.ndarray) -> list[str]:
        import torch

        with torch.no_grad():
            logits = self.model(**self.processor(images=image, return_tensors="pt")).logits[0]
        return [self.model.config.id2label[int(i)] for i in logits.topk(self.top_k).indices]

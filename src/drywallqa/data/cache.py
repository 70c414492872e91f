"""Decoded, resized arrays of a list of samples, cached on disk so training does not decode JPEGs."""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..utils.image_io import read_image
from .sample import Sample

logger = logging.getLogger(__name__)


# part of every cache key: bump it when reading or rasterising changes what a sample decodes to
# (2: degenerate boxes dropped, data/coco.py), so that no training reuses arrays made the old way
CACHE_VERSION = 2


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """``(H, W)`` bool -> ``(size, size)`` bool (area-averaged, then >= 0.5)."""
    return cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) >= 0.5


def load_arrays(samples: list[Sample], size: int, cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, size, size, 3)`` uint8 and masks ``(N, size, size)`` bool, cached by file list and size."""
    key = "\n".join(str(s.image_path) for s in samples) + f"|{size}|v{CACHE_VERSION}"
    key = hashlib.sha1(key.encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"arrays_{size}_{key}.npz" if cache_dir else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as data:
                images, masks = data["images"], data["masks"]
            if images.shape == (len(samples), size, size, 3) and masks.shape == (len(samples), size, size):
                return images, masks
            raise ValueError(f"arrays of shapes {images.shape} and {masks.shape}")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # truncated, overwritten
            logger.warning("training-array cache %s is damaged (%s); decoding the images again", path, exc)
    images = np.zeros((len(samples), size, size, 3), np.uint8)
    masks = np.zeros((len(samples), size, size), bool)
    for i, s in enumerate(tqdm(samples, desc=f"decoding {len(samples)} images", leave=False)):
        images[i] = cv2.resize(read_image(s.image_path), (size, size), interpolation=cv2.INTER_AREA)
        masks[i] = resize_mask(s.load_mask(), size)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")  # one per process: concurrent runs share the folder
        np.savez(tmp, images=images, masks=masks)
        tmp.replace(path)
    return images, masks

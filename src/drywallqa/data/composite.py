"""Crack transplants: a labelled structure of one photo drawn onto a photo of another dataset.

The crack data has few photos of drywall, and the drywall photos carry no crack labels; with negative
pairs ("segment crack" on a drywall photo -> empty mask) a model can learn that a drywall-looking photo
never holds a crack. A transplant moves the *shading* of a crack, not its pixels: the source photo's
luminance divided by its local background (a wide Gaussian blur) is a ratio map, about 1 on plain wall
and below 1 on the dark line; multiplying the target photo by that ratio inside the (feathered) crack
mask darkens the target where the crack ran, in the target's own colours and texture. The composite
then holds the source's crack mask for the source's prompts and the target's own mask for its prompts.
"""

from __future__ import annotations

import cv2
import numpy as np


SIGMA_FRACTION = 12 / 384  # background blur relative to the shorter side (12 px on the 384 px training crops)


def shading_ratio(image: np.ndarray, sigma: float) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(H, W)`` float32: luminance over its Gaussian-blurred background."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) + 1.0
    background = cv2.GaussianBlur(grey, (0, 0), sigmaX=sigma)
    return grey / background


def transplant(target: np.ndarray, source: np.ndarray, source_mask: np.ndarray, sigma: float = 12.0,
               feather: float = 2.0, min_ratio: float = 0.15) -> np.ndarray:
    """Draw the shading of ``source`` under ``source_mask`` onto ``target``.

    Args:
        target: ``(H, W, 3)`` uint8, the photo that receives the crack.
        source: ``(H, W, 3)`` uint8, the photo the crack comes from (same size).
        source_mask: ``(H, W)`` bool or 0/1, the crack's label in ``source``.
        sigma: Gaussian sigma (px) of the background estimate; wider than the crack lines.
        feather: sigma (px) of the soft edge of the mask outside it, so no seam shows at the label's border (under
            the label the shading is moved whole).
        min_ratio: darkest allowed ratio (keeps black holes from turning the target black).

    Returns:
        ``(H, W, 3)`` uint8: the target, darkened along the crack; only darkening (ratio <= 1) is moved,
        so bright label areas around a crack leave the target as it was.
    """
    if target.shape != source.shape or source_mask.shape != target.shape[:2]:
        raise ValueError(f"shapes differ: target {target.shape}, source {source.shape}, mask {source_mask.shape}")
    ratio = np.clip(shading_ratio(source, sigma), min_ratio, 1.0)
    alpha = source_mask.astype(np.float32)
    if feather > 0:  # the soft edge lies outside the label: a blur alone pasted 40% of a 2-px crack under its label
        alpha = np.maximum(alpha, cv2.GaussianBlur(alpha, (0, 0), sigmaX=feather))
    gain = 1.0 - alpha * (1.0 - ratio)
    return np.clip(target.astype(np.float32) * gain[..., None], 0, 255).astype(np.uint8)

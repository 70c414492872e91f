"""Mask post-processing, chosen per prompt and stored with a model (``config.json`` -> ``postprocess``).

``boxes``: each connected component of the mask becomes its (robust) bounding rectangle. It suits
prompts whose training labels were boxes (the drywall taping data has bounding boxes only), so
the output means what the labels meant.
``dilate``: grows the mask by a disc whose radius is a fraction of the image's shorter side. It suits
thin structures whose labelled polygons are drawn wider than the model's masks (cracks).

Whether a model uses either is decided on a validation split.
"""

from __future__ import annotations

import cv2
import numpy as np

from .utils.registry import Registry

POSTPROCESSORS: Registry = Registry("post-processor")


@POSTPROCESSORS.decorator("boxes")
def boxes(mask: np.ndarray, quantile: float = 0.0, min_area_fraction: float = 0.0005) -> np.ndarray:
    """``(H, W)`` bool -> ``(H, W)`` bool: components' bounding boxes (coordinates clipped to the
    ``quantile`` .. ``1 - quantile`` range of the component's pixels), dropping components smaller than
    ``min_area_fraction`` of the image."""
    m = mask.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = np.zeros(mask.shape, dtype=bool)
    min_area = min_area_fraction * mask.size
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] < min_area:
            continue
        if quantile > 0:
            ys, xs = np.nonzero(labels == k)
            y0, y1 = np.quantile(ys, [quantile, 1 - quantile]).round().astype(int)
            x0, x1 = np.quantile(xs, [quantile, 1 - quantile]).round().astype(int)
        else:
            x0, y0, w, h = stats[k, :4]
            x1, y1 = x0 + w - 1, y0 + h - 1
        out[y0 : y1 + 1, x0 : x1 + 1] = True
    return out


@POSTPROCESSORS.decorator("dilate")
def dilate(mask: np.ndarray, radius_fraction: float = 0.004) -> np.ndarray:
    """``(H, W)`` bool -> ``(H, W)`` bool grown by a disc of radius ``radius_fraction * min(H, W)``
    pixels (at least 1)."""
    r = max(1, int(round(radius_fraction * min(mask.shape))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), disc).astype(bool)


def apply_postprocess(mask: np.ndarray, spec: dict | None) -> np.ndarray:
    """Apply ``{"name": ..., **kwargs}`` (or nothing when ``spec`` is None)."""
    if not spec:
        return mask
    spec = dict(spec)
    return POSTPROCESSORS.get(spec.pop("name"))(mask, **spec)

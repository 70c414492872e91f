"""Box annotations -> pixel masks: a new image/mask-folder dataset for box-only datasets (the taping data).

Refiners (``BOX_REFINERS``, ``drywallqa data refine-masks --with NAME``) turn each box into a mask:

- ``sam``: each box prompts SAM (``transformers.SamModel``); where SAM's predicted IoU is below ``min_iou``
  (or its mask is empty) the box itself stays. Photos are resized to SAM's square input (stretched, not
  padded as SamProcessor does) and boxes scaled with them.
- ``edges``: strips that follow the tape, found in the HED edge response and dark/light lines inside each
  box (:mod:`drywallqa.data.edge_strips`); needs no SAM weights.

Every box is ``kept`` (already a strip), ``refined`` or ``fell_back`` (to the box). Output, per split:
``<out>/<split>/<image>`` (a symbolic link to the original, or a copy where links are not possible) and
``<out>/<split>/_masks/<stem>.png`` (0/255); ``report.json`` with the counts and, per file, the way each
of its boxes went; ``preview.png``: refined masks over their photos beside the box labels.
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

from ..utils.files import write_text_atomic
from ..utils.image_io import read_image
from ..utils.registry import Registry
from ..viz import grid, overlay
from .coco import box_mask
from .edge_strips import OUTCOMES, EdgeEvidence, StripOptions, refine_boxes_with_edges
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


class SamRefiner:
    """Box -> SAM's mask where its predicted IoU reaches ``min_iou``, else the box."""

    def __init__(self, model_path: str | None = None, min_iou: float = 0.8, sam=None):
        from ..models.sam_text import load_sam

        self.source = str(model_path or "facebook/sam-vit-base")
        self.sam = sam or load_sam(self.source).eval()
        self.min_iou = min_iou

    def describe(self) -> dict:
        return {"with": "sam", "sam": self.source, "min_iou": self.min_iou}

    def __call__(self, image: np.ndarray, boxes: list) -> tuple[list, list]:
        masks, outcomes = [], []
        for box, m, iou in zip(boxes, *sam_box_masks(self.sam, image, boxes)):
            good = iou >= self.min_iou and m.any()
            masks.append(m if good else box_mask([box], *image.shape[:2]))
            outcomes.append("refined" if good else "fell_back")
        return masks, outcomes


class EdgeRefiner:
    """Box -> strips along the tape found in its edges (:mod:`drywallqa.data.edge_strips`), else the box."""

    def __init__(self, options=None, evidence=None):
        self.options = options or StripOptions()
        self.evidence = evidence or EdgeEvidence(size=self.options.edge_size)

    def describe(self) -> dict:
        import dataclasses

        return {"with": "edges", **dataclasses.asdict(self.options)}

    def __call__(self, image: np.ndarray, boxes: list) -> tuple[list, list]:
        masks, outcomes, _ = refine_boxes_with_edges(image, boxes, self.evidence, self.options)
        return masks, outcomes


BOX_REFINERS: Registry[type] = Registry("box refiner")
BOX_REFINERS.add("sam", SamRefiner)
BOX_REFINERS.add("edges", EdgeRefiner)
PREVIEW_PHOTOS = 12


def _outlines(image: np.ndarray, boxes: list) -> np.ndarray:
    out = image.copy()
    t = max(2, round(0.004 * max(image.shape[:2])))
    for x, y, w, h in boxes:
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), (0, 220, 0), t)
    return out


def refine_box_masks(dataset: str, out_dir: str | Path, sam_path: str | None = None, min_iou: float = 0.8,
                     splits: list[str] | None = None, datasets_dir=None, progress: bool = True, sam=None,
                     refiner=None) -> dict:
    """Write a mask for every box of ``dataset`` and return the report (also in ``report.json``).

    ``refiner``: a callable ``(image, boxes) -> (masks, outcomes)`` (``BOX_REFINERS``); default SAM."""
    refiner = refiner or SamRefiner(sam_path, min_iou, sam)
    config = get_dataset_config(dataset)
    out = Path(out_dir)
    report = {"dataset": dataset, **refiner.describe(), "splits": {}, "files": {}}
    preview = []
    for split in splits or list(config.splits):
        samples, problems = load_split(dataset, split, datasets_dir)
        (out / split / "_masks").mkdir(parents=True, exist_ok=True)
        counts = {"images": 0, "boxes": 0, **{k: 0 for k in OUTCOMES},
                  "problems": [str(p) for p in problems]}
        for s in tqdm(samples, desc=f"{dataset}/{split}: masks from boxes ({report['with']})", disable=not progress):
            image = read_image(s.image_path)
            mask = np.zeros(image.shape[:2], bool)
            boxes = [a["bbox"] for a in s.annotations or [] if len(a.get("bbox") or []) == 4 and a["bbox"][2] > 0 and a["bbox"][3] > 0]
            outcomes = []
            if boxes:
                masks, outcomes = refiner(image, boxes)
                for m in masks:
                    mask |= m
                for o in outcomes:
                    counts[o] += 1
            counts["images"] += 1
            counts["boxes"] += len(boxes)
            report["files"][f"{split}/{s.image_path.name}"] = outcomes
            _link_or_copy(s.image_path, out / split / s.image_path.name)
            Image.fromarray(mask.astype(np.uint8) * 255).save(out / split / "_masks" / f"{s.image_path.stem}.png")
            if "refined" in outcomes and len(preview) < PREVIEW_PHOTOS:
                label = box_mask(boxes, *image.shape[:2])
                preview.append([_outlines(image, boxes), overlay(image, label, (0, 200, 0)), overlay(image, mask, (255, 40, 40))])
        report["splits"][split] = counts
    if preview:
        grid(preview, ["photo and boxes", "box label", f"refined ({report['with']})"], out / "preview.png")
        report["preview"] = "preview.png"
    write_text_atomic(json.dumps(report, indent=2), out / "report.json")
    return report

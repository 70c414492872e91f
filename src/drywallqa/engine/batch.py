"""Batch prediction over files and folders: masks named ``<stem>__<prompt slug>.png``, failures reported."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..measures import mask_measures
from ..utils.image_io import ImageReadError, list_images, read_image
from ..utils.slug import slugify
from ..viz import COLORS, grid, overlay
from .predictor import Segmenter, validate_prompts

logger = logging.getLogger(__name__)


@dataclass
class BatchSummary:
    done: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # already done by an earlier run
    failed: list = field(default_factory=list)  # (path, reason)
    results: list = field(default_factory=list)  # per image: masks and QA measures per prompt

    @property
    def ok(self) -> bool:
        return not self.failed


def mask_name(image_path: Path, prompt: str) -> str:
    return f"{image_path.stem}__{slugify(prompt)}.png"


def record_name(image_path: Path) -> str:
    """Per-image record, written last: its presence marks the image as completely done."""
    return f"{image_path.stem}__results.json"


def _already_done(out: Path, path: Path, prompts: list[str]) -> dict | None:
    rec = out / record_name(path)
    if not rec.is_file():
        return None
    try:
        entry = json.loads(rec.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if list(entry.get("prompts", {})) != prompts or not all((out / mask_name(path, p)).is_file() for p in prompts):
        return None
    return entry


def write_text_atomic(text: str, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def save_png_atomic(array: np.ndarray, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(array).save(tmp, format="PNG")
    tmp.replace(path)


def predict_paths(
    segmenter: Segmenter,
    paths,
    prompts,
    out_dir: str | Path,
    overlay_images: bool = False,
    threshold: float | None = None,
    progress: bool = True,
    mm_per_px: float | None = None,
    overwrite: bool = False,
) -> BatchSummary:
    """Segment every image under ``paths`` with every prompt; write 0/255 masks (and overlays) to ``out_dir``
    and ``results.json`` with the QA measures of each mask (in mm too when ``mm_per_px`` is given).

    Every file is written atomically (temporary name, then rename) and each image's record
    ``<stem>__results.json`` last, so a rerun after an interruption (even ``kill -9``) skips exactly the
    images that are complete and redoes the rest; ``overwrite=True`` redoes everything."""
    prompts = validate_prompts(prompts)
    slugs = [slugify(p) for p in prompts]
    if any(not s for s in slugs):
        raise ValueError("a prompt needs at least one letter or digit")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = BatchSummary()
    missing = [Path(p) for p in paths if not Path(p).exists()]
    for p in missing:
        summary.failed.append((str(p), "no such file or folder"))
    rows = []
    for path in tqdm(list_images([p for p in paths if Path(p).exists()]), desc="predict", disable=not progress):
        previous = None if overwrite else _already_done(out, path, prompts)
        if previous is not None:
            summary.skipped.append(str(path))
            summary.results.append(previous)
            continue
        try:
            image = read_image(path)
            result = segmenter.predict(image, prompts, threshold=threshold)
        except (ImageReadError, ValueError, OSError) as exc:
            logger.error("%s", exc)
            summary.failed.append((str(path), str(exc)))
            continue
        entry = {"image": str(path), "height": image.shape[0], "width": image.shape[1], "prompts": {}}
        for p in prompts:
            save_png_atomic(result.masks[p].astype(np.uint8) * 255, out / mask_name(path, p))
            entry["prompts"][p] = {"mask": mask_name(path, p), **mask_measures(result.masks[p], mm_per_px)}
        if overlay_images:
            over = [overlay(image, result.masks[p], COLORS[i % len(COLORS)]) for i, p in enumerate(prompts)]
            save_png_atomic(np.concatenate([image] + over, axis=1), out / f"{path.stem}__overlay.png")
            if len(rows) < 12:
                rows.append([image] + over)
        write_text_atomic(json.dumps(entry, indent=1), out / record_name(path))
        summary.results.append(entry)
        summary.done.append(str(path))
    if overlay_images and rows:
        grid(rows, ["input"] + prompts, out / "overlay_grid.png")
    write_text_atomic(json.dumps({"prompts": prompts, "images": summary.results, "failed": summary.failed}, indent=1),
                      out / "results.json")
    return summary

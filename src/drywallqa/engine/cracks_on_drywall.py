"""Cracks on drywall: held-out cracks scored on their own photos and transplanted onto drywall photos.

The crack dataset holds few photos of drywall, and the drywall photos hold no crack labels, so neither
published split measures the product's main case: a crack in a drywall board. This check makes that
case from group-clean data: each labelled crack photo of a part lends the shading of its crack
(:func:`drywallqa.data.composite.transplant`) to a drywall photo of the same part, resized to the crack
photo's size. Per model it scores:

- ``segment crack`` on the crack's own photo and on the drywall composite (mIoU against the crack's
  label, centre-line F1, cracks missed outright): a model that learnt "a drywall photo holds no crack"
  loses much more on the composites than on the originals;
- ``segment taping area`` on the composite against the drywall photo's own labels (a crack should not
  change the taping answer; box labels are scored through the model's box adapter, as ``evaluate`` does)
  and ``segment crack`` on the plain drywall photo (foreground fraction: joints mistaken for cracks).

A label's 'ignore' pixels (a mask's 255 beside class indices) count in none of these, as in the validator's and
``evaluate``'s scores (:func:`~drywallqa.metrics.label_and_valid`): a crack is missed where nothing is found outside
them.

The ``test`` part gives the reported numbers (``benchmarks/cracks_on_drywall.py``); the ``val`` part,
with the published valid/test photos left out, is where models are compared and chosen (``drywallqa
ship`` runs it on the model it writes and on the model it replaces).

    rows, examples = score_cracks_on_drywall({"new": Segmenter.load(path)}, transplant_pairs("val"))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.composite import SIGMA_FRACTION, transplant
from ..data.grouping import GROUP_LEFT_OUT, samples_of_part
from ..data.sample import photo_and_label
from ..metrics import CenterlineMeter, SegmentationMeter, label_and_valid, scored
from ..utils.image_io import read_image, resize_area, resize_target
from ..utils.progress import progress_bar

CRACK, TAPING = "segment crack", "segment taping area"
CRACK_CONCEPT, WALL_CONCEPT = "cracks", "taping"  # the concepts whose photos are paired (dataset concepts)


def transplant_pairs(part: str = "test", splits_dir=None, datasets_dir=None, limit: int | None = None,
                     crack_dataset: str = "cracks", wall_dataset: str = "taping") -> list:
    """``(crack sample, drywall sample)`` pairs: every labelled crack photo of ``part``, drywall photos in turn.
    On ``val`` the published valid/test photos are left out, as where thresholds are chosen."""
    exclude = GROUP_LEFT_OUT.get(part, ())
    cracks = [s for s in samples_of_part(crack_dataset, part, splits_dir, datasets_dir, exclude_published=exclude)
              if s.load_mask().any()]
    walls = samples_of_part(wall_dataset, part, splits_dir, datasets_dir, exclude_published=exclude)
    if not cracks or not walls:
        raise ValueError(f"no {'labelled crack' if not cracks else 'drywall'} photos in the {part} part of "
                         f"{crack_dataset if not cracks else wall_dataset}")
    return [(c, walls[k % len(walls)]) for k, c in enumerate(cracks[:limit] if limit else cracks)]


@dataclass
class Composite:
    """One crack photo, its drywall partner at the crack photo's size, and the transplant of one onto the other. A
    label's 'ignore' pixels (:meth:`~drywallqa.data.sample.Sample.load_target`) are no label and lie outside its
    ``*_valid`` mask (None where it has none): scored nowhere, as the validator and ``evaluate`` score them."""

    crack_photo: np.ndarray    # (H, W, 3) uint8
    crack_label: np.ndarray    # (H, W) bool
    wall_photo: np.ndarray     # (H, W, 3) uint8, resized
    wall_label: np.ndarray     # (H, W) bool: the drywall photo's taping label, resized
    composite: np.ndarray      # (H, W, 3) uint8: the wall photo with the crack's shading
    crack_valid: np.ndarray | None = None  # (H, W) bool: where the crack's label is counted (its 'ignore' pixels not)
    wall_valid: np.ndarray | None = None   # (H, W) bool: where the taping label is counted


def make_composite(crack, wall_sample) -> Composite:
    image, target = photo_and_label(crack, target=True)  # a shrunk copy's label, drawn at its declared size, shrunk
    label, valid = label_and_valid(target)  # with it; its 'ignore' pixels apart (the label alone is transplanted)
    h, w = label.shape
    wall = resize_area(read_image(wall_sample.image_path), w, h)
    # the label by areas as the photo (kept where it covers half a pixel, as training reads labels): OpenCV's plain
    # nearest neighbour is half a pixel off the photo
    tape, tape_valid = label_and_valid(resize_target(wall_sample.load_target(), lambda plane: resize_area(plane, w, h)))
    return Composite(image, label, wall, tape, transplant(wall, image, label, sigma=SIGMA_FRACTION * min(h, w)),
                     valid, tape_valid)


class _Tally:
    """One model's running scores."""

    def __init__(self):
        self.meters = {key: SegmentationMeter() for key in ("original", "composite", "taping")}
        self.lines = {key: CenterlineMeter() for key in ("original", "composite")}
        self.missed = {"original": 0, "composite": 0}
        self.plain_wall_fg: dict = {}  # (drywall photo, size) -> foreground: drywall photos recur across crack photos
        self.wall_fg: list = []
        self.n = 0

    def row(self, name: str) -> dict:
        o, c = self.meters["original"].compute(), self.meters["composite"].compute()
        return {"model": name, "crack_photos": self.n,
                "crack_mIoU_own_photo": o["mIoU"], "crack_mIoU_on_drywall": c["mIoU"],
                "centerline_F1_own_photo": self.lines["original"].compute()["centerline_F1"],
                "centerline_F1_on_drywall": self.lines["composite"].compute()["centerline_F1"],
                "missed_own_photo": self.missed["original"], "missed_on_drywall": self.missed["composite"],
                "taping_mIoU_on_composite": self.meters["taping"].compute()["mIoU"],
                "crack_fg_on_plain_drywall": float(np.mean(self.wall_fg))}


def score_cracks_on_drywall(models: dict, pairs: list, examples: int = 0, progress: bool = True) -> tuple[list, list]:
    """Score every :class:`~drywallqa.engine.segmenter.Segmenter` of ``models`` (name -> segmenter) on ``pairs``
    (:func:`transplant_pairs`). Returns one row per model (the keys of :meth:`_Tally.row`) and, for the first
    ``examples`` pairs, ``(composite, {name: crack mask on the composite})`` with the composite's
    :class:`Composite`."""
    from .evaluator import scoring_label_shape

    tallies = {name: _Tally() for name in models}
    shown = []
    for crack, wall_sample in progress_bar(pairs, desc="cracks on drywall", disable=not progress):
        comp = make_composite(crack, wall_sample)
        masks = {}
        for name, seg in models.items():
            t = tallies[name]
            t.n += 1
            on_own = seg.predict(comp.crack_photo, [CRACK]).masks[CRACK]
            # against the drywall photo's box labels through the model's box adapter, as evaluate scores them
            out = seg.predict(comp.composite, [CRACK, TAPING], label_shape=scoring_label_shape(wall_sample.dataset)).masks
            for key, mask in (("original", on_own), ("composite", out[CRACK])):
                t.meters[key].update(mask, comp.crack_label, comp.crack_valid)
                t.lines[key].update(mask, comp.crack_label, valid=comp.crack_valid)
                t.missed[key] += int(not scored(mask, comp.crack_label, comp.crack_valid)[0].any())
            t.meters["taping"].update(out[TAPING], comp.wall_label, comp.wall_valid)
            key = (str(wall_sample.image_path), comp.wall_photo.shape)
            if key not in t.plain_wall_fg:
                t.plain_wall_fg[key] = float(seg.predict(comp.wall_photo, [CRACK]).masks[CRACK].mean())
            t.wall_fg.append(t.plain_wall_fg[key])
            masks[name] = out[CRACK]
        if len(shown) < examples:
            shown.append((comp, masks))
    return [t.row(name) for name, t in tallies.items()], shown


def markdown_table(rows: list, part: str) -> str:
    md = [f"# Cracks on drywall (group-clean {part} cracks transplanted onto group-clean {part} drywall photos)", "",
          "| model | crack photos | crack mIoU own photo | on drywall | centre-line F1 own | on drywall | missed own | "
          "missed on drywall | taping mIoU on composite | crack fg on plain drywall |", "|---|---|---|---|---|---|---|---|---|---|"]
    md += [f"| {r['model']} | {r['crack_photos']} | {r['crack_mIoU_own_photo']:.3f} | {r['crack_mIoU_on_drywall']:.3f} | "
           f"{r['centerline_F1_own_photo']:.3f} | {r['centerline_F1_on_drywall']:.3f} | {r['missed_own_photo']} | "
           f"{r['missed_on_drywall']} | {r['taping_mIoU_on_composite']:.3f} | {r['crack_fg_on_plain_drywall']:.4f} |"
           for r in rows]
    return "\n".join(md) + "\n"


def summary(row: dict, reference: dict | None = None) -> str:
    """One line for a shipping report: cracks missed and mIoU on drywall, against ``reference`` where given."""
    ref = (f" (the model replaced: {reference['missed_on_drywall']}, {reference['crack_mIoU_on_drywall']:.3f})"
           if reference else "")
    return (f"cracks on drywall: missed {row['missed_on_drywall']} of {row['crack_photos']}, crack mIoU on drywall "
            f"{row['crack_mIoU_on_drywall']:.3f}{ref}")


def worse_than(row: dict, reference: dict, missed_margin: float = 0.03, miou_margin: float = 0.02) -> bool:
    """Whether ``row`` misses clearly more cracks on drywall than ``reference`` (by more than ``missed_margin``
    of the photos) or scores clearly lower there (by more than ``miou_margin`` mIoU)."""
    extra_missed = (row["missed_on_drywall"] - reference["missed_on_drywall"]) / max(row["crack_photos"], 1)
    return extra_missed > missed_margin or reference["crack_mIoU_on_drywall"] - row["crack_mIoU_on_drywall"] > miou_margin

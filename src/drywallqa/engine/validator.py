"""One validator for training, evaluation and shipping.

:class:`Validator` asks any :class:`~drywallqa.engine.segmenter.Segmenter` for each dataset's canonical prompt
on validation photos and scores the probability map against the label at every threshold of
:data:`~drywallqa.metrics.THRESHOLDS` and under every post-processing option of the dataset's label shape;
:meth:`Validator.choose` then picks, per dataset, the (post-processing, threshold) pair with the best mIoU
and one shared threshold for any other prompt. The trainer runs it each epoch in its fast mode (photos
already at the model's input size, no post-processing options), ``drywallqa ship`` at full resolution with
every option (:mod:`drywallqa.engine.shipping`), and ``evaluate`` reports the same sweep as its headroom
(:func:`threshold_sweep`).

    validator = Validator.from_parts(("cracks", "taping"), part="val")
    result = validator(segmenter)
    result.choice.prompt_thresholds()      # prompt -> threshold, for config.json
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..data.grouping import GROUP_LEFT_OUT, samples_of_part, why_part_is_empty
from ..data.negatives import negative_prompts
from ..data.registry import get_dataset_config
from ..data.sample import photo_and_label
from ..metrics import THRESHOLDS, label_and_valid, mask_iou, nothing_to_score
from ..postprocess import ADAPTERS, apply_postprocess
from ..utils.image_io import IGNORE_VALUE
from ..utils.progress import progress_bar
from .segmenter import Segmenter

logger = logging.getLogger(__name__)

# post-processing options tried per label shape ("box": labels are axis-aligned boxes; else drawn strokes)
BOX_OPTIONS = (None, {"name": "boxes", "quantile": 0.0}, {"name": "boxes", "quantile": 0.02},
               {"name": "boxes", "quantile": 0.05},
               {"name": "boxes", "quantile": 0.0, "split_below_fill": 0.5})  # crossing joints -> strips
DILATE_OPTIONS = (None, *({"name": "dilate", "radius_fraction": f} for f in (0.002, 0.004, 0.008)))
CROSS_THRESHOLD = 0.5  # foreground of the other datasets' prompts is counted at this threshold
DEFAULT_THRESHOLD = 0.5  # a segmenter's threshold where none is chosen: where thresholds scoring alike are resolved


def postprocess_options(label_shape: str) -> tuple:
    """The post-processing options validation tries for a dataset labelled with ``label_shape``."""
    return BOX_OPTIONS if label_shape == "box" else DILATE_OPTIONS


def _box_labelled_first(per_dataset: dict) -> list:
    """``(dataset, value)`` pairs, datasets labelled with boxes first: where a model is validated on a box-labelled
    dataset and on refined masks of it (the same prompts), the refined masks decide the plain masks."""
    return sorted(per_dataset.items(), key=lambda kv: get_dataset_config(kv[0]).label_shape != "box")


def prompt_thresholds(dataset_thresholds: dict) -> dict:
    """prompt -> threshold of its plain masks, from dataset -> threshold (see :func:`_box_labelled_first`)."""
    return {p: th for d, th in _box_labelled_first(dataset_thresholds) for p in get_dataset_config(d).prompts}


def prompt_postprocess(postprocess: dict) -> dict:
    """prompt -> post-processing, from dataset -> post-processing (None: nothing). A prompt whose datasets chose
    both a plain option and a box adapter (it applies only where masks are scored against box labels) keeps both,
    as a list (:func:`~drywallqa.postprocess.for_label_shape` picks one); of two of one kind, the box-labelled
    dataset's. A box adapter chosen on a box-labelled dataset with prompts of its own also adapts the prompts of
    the datasets of its concept (refined masks of the same photos), reading its own prompt's map (``prompt``)."""
    slots: dict = {}  # prompt -> {label shape an adapter makes, or None for the plain option: spec}
    for d, spec in reversed(_box_labelled_first(postprocess)):
        for p in get_dataset_config(d).prompts:
            if spec:
                slots.setdefault(p, {})[ADAPTERS.get(spec["name"])] = spec
    for b, spec in postprocess.items():
        box = get_dataset_config(b)
        if box.label_shape != "box" or not spec or spec["name"] not in ADAPTERS:
            continue
        for d in postprocess:
            own = get_dataset_config(d)
            if own.label_shape != "box" and own.concept_name == box.concept_name and not set(own.prompts) & set(box.prompts):
                for p in own.prompts:
                    slots.setdefault(p, {})[ADAPTERS[spec["name"]]] = {**spec, "prompt": box.canonical_prompt}
    return {p: next(iter(s.values())) if len(s) == 1 else [s[k] for k in sorted(s, key=lambda k: k is not None)]
            for p, s in slots.items()}


def best_threshold(scores: np.ndarray) -> int:
    """Index into :data:`~drywallqa.metrics.THRESHOLDS` of the best of ``scores`` (a sweep's mIoU); of thresholds tied
    for it, the one nearest :data:`DEFAULT_THRESHOLD` (the lower of two as near). A model that answers nothing (or the
    same at every threshold) scores alike everywhere: it was given the grid's first threshold, 0.1."""
    tied = np.flatnonzero(scores == np.max(scores))
    if not len(tied):  # NaN: as argmax takes it
        return int(np.argmax(scores))
    return int(min(tied, key=lambda t: (abs(THRESHOLDS[t] - DEFAULT_THRESHOLD), THRESHOLDS[t])))


def threshold_sweep(probability: np.ndarray, gt: np.ndarray, postprocess: dict | None,
                    valid: np.ndarray | None = None) -> np.ndarray:
    """``(len(THRESHOLDS),)`` IoU of the (post-processed) mask at every threshold of the sweep grid (within
    ``valid``, where given: :func:`~drywallqa.metrics.mask_iou`)."""
    return np.array([mask_iou(apply_postprocess(probability > th, postprocess), gt, valid) for th in THRESHOLDS])


@dataclass
class Choice:
    """What validation chooses: per dataset a threshold and a post-processing (None: the mask as it is),
    one threshold for prompts of no dataset, and the mIoU they reach. Where the best option is a label adapter
    (boxes), it carries the threshold it was chosen with, and the dataset's threshold is the best one for the
    masks as the model sees them."""

    threshold: float
    dataset_thresholds: dict
    postprocess: dict
    val_mIoU: float
    val_mIoU_per_dataset: dict

    def prompt_thresholds(self) -> dict:
        """prompt -> threshold, for every prompt of the validated datasets."""
        return prompt_thresholds(self.dataset_thresholds)

    def prompt_postprocess(self) -> dict:
        """prompt -> post-processing, for the prompts of the datasets that have one."""
        return prompt_postprocess(self.postprocess)

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "dataset_thresholds": dict(self.dataset_thresholds),
                "postprocess": dict(self.postprocess), "val_mIoU": self.val_mIoU,
                "val_mIoU_per_dataset": dict(self.val_mIoU_per_dataset)}


@dataclass
class ValidationResult:
    """``ious``: dataset -> ``(options, len(THRESHOLDS))`` mIoU; ``options``: dataset -> the options tried;
    ``cross_foreground``: mean foreground of the other datasets' canonical prompts on each dataset's photos; NaN where
    no such prompt was asked (one dataset, or every photo labelled by the other datasets too): not measured (0.0 read
    as a perfect score)."""

    ious: dict
    options: dict
    cross_foreground: float
    images: dict = field(default_factory=dict)

    def choose(self) -> Choice:
        """Per dataset the best (option, threshold); the shared threshold is the best one without post-processing
        on the mean over datasets. Ties: the first option (None: the mask as it is), and the threshold nearest
        :data:`DEFAULT_THRESHOLD` (:func:`best_threshold`)."""
        thresholds, post, scores = {}, {}, {}
        for d, table in self.ious.items():
            k = int(np.unravel_index(int(np.argmax(table)), table.shape)[0])
            t = best_threshold(table[k])
            thresholds[d], post[d], scores[d] = float(THRESHOLDS[t]), self.options[d][k], float(table[k, t])
            if post[d] and post[d]["name"] in ADAPTERS:  # option 0 (None) is the mask as the model sees it
                post[d] = {**post[d], "threshold": thresholds[d]}
                thresholds[d] = float(THRESHOLDS[best_threshold(table[0])])
        plain = np.mean([table[0] for table in self.ious.values()], axis=0)  # option 0 is always None
        return Choice(float(THRESHOLDS[best_threshold(plain)]), thresholds, post,
                      float(np.mean(list(scores.values()))), scores)

    def shared(self) -> dict:
        """The trainer's numbers: each dataset's mIoU at the one threshold (no post-processing) that is best on the
        mean over datasets (ties: the one nearest :data:`DEFAULT_THRESHOLD`), that mean (``val_score``), the
        threshold, and the cross-prompt foreground (``val_cross_fg``;
        NaN where not measured: see :class:`ValidationResult`)."""
        plain = {d: table[0] for d, table in self.ious.items()}
        mean = np.mean(list(plain.values()), axis=0)
        t = best_threshold(mean)
        out = {f"val_mIoU_{d}": float(v[t]) for d, v in plain.items()}
        out.update(val_score=float(mean[t]), threshold=float(THRESHOLDS[t]), val_cross_fg=self.cross_foreground)
        return out


class Validator:
    """Scores a segmenter's canonical prompts on validation photos (see the module docstring).

    Args:
        items: dataset name -> a sequence of ``(image, label)`` pairs, or of callables returning one (so photos
            are read when scored): ``image`` anything :meth:`Segmenter.predict` takes, ``label`` an ``(H, W)`` array
            at the image's size. A label is read as :mod:`drywallqa.metrics` reads one: its nonzero pixels are the
            label (a bool array, a 0/1 or a 0/255 mask as ``cv2.imread`` or PIL reads a mask file); with ``targets``,
            each is a target instead (:meth:`~drywallqa.data.sample.Sample.load_target`: uint8 1 the label,
            0 background, 255 'ignore', counted nowhere; :func:`~drywallqa.metrics.label_and_valid`).
        targets: the labels are targets (the trainer's and :meth:`from_parts`' items are). Without it, a label of
            0, 1 and 255 (a target given as a label: its 255 would be scored as the label) is refused, naming it.
        options: try each dataset's post-processing options (False: the mask as it is; the fast mode).
        progress: show a progress bar per dataset.
        photos: dataset name -> what names each item's photo (its resolved path), and ``held``: dataset name -> the
            photos it labels: an item is asked no prompt of a dataset labelling its photo in the cross-prompt
            foreground (one export's stains and nail pops: the nail-pop prompt finds nail pops on a stain photo).
    """

    def __init__(self, items: dict, options: bool = True, progress: bool = False, photos: dict | None = None,
                 held: dict | None = None, targets: bool = False):
        if not items or not all(len(v) for v in items.values()):
            raise ValueError("validation needs at least one photo per dataset")
        self.items, self.with_options, self.progress = items, options, progress
        self.photos, self.held, self.targets = photos or {}, held or {}, targets
        for d, v in items.items():  # refused at once where the labels are here (the trainer's: before it trains)
            if targets and not any(map(callable, v)) and all(nothing_to_score(label_and_valid(np.asarray(item[1]))[1])
                                                             for item in v):
                raise self.nothing_scored(d, len(v))

    @staticmethod
    def nothing_scored(dataset: str, photos: int) -> ValueError:
        """The error for a dataset none of whose photos can be scored (every label 'ignore' everywhere): its mIoU read
        0 (over no photo), pulling the mean down, and its threshold was chosen on nothing."""
        return ValueError(f"validation: every label of dataset {dataset!r} ({photos} photos) is 'ignore' "
                          f"({IGNORE_VALUE}) everywhere: nothing to score; label its photos, or validate without it")

    def label_and_valid(self, label: np.ndarray, dataset: str, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """An item's label, ``(H, W)`` bool, and where it is counted (None: everywhere): a target's 'ignore' pixels
        are counted nowhere (``targets``); a label's nonzero pixels are the label, as the metrics read a mask."""
        if self.targets:
            return label_and_valid(label)
        if label.dtype != bool and np.any(label == 1) and np.any(label == IGNORE_VALUE) and np.all(
                (label == 0) | (label == 1) | (label == IGNORE_VALUE)):
            raise ValueError(f"validation: the label of photo {i + 1} (counting from 1) of dataset {dataset!r} holds "
                             f"0, 1 and {IGNORE_VALUE}: a target (1 the label, {IGNORE_VALUE} 'ignore') given as a label, its "
                             f"{IGNORE_VALUE} pixels would be scored as the label; give Validator(..., targets=True) "
                             "for targets, or a label as a bool array or a 0/255 mask")
        return label.astype(bool), None

    @classmethod
    def from_parts(cls, datasets, part: str = "val", splits_dir=None, datasets_dir=None, limit: int | None = None,
                   progress: bool = True) -> "Validator":
        """Photos of a group-clean part (default ``val``; published valid/test images left out), read lazily."""
        items = {}
        for d in datasets:
            left_out = GROUP_LEFT_OUT.get(part, ())  # val, train: the published splits, kept for their scores
            samples = samples_of_part(d, part, splits_dir, datasets_dir, exclude_published=left_out)[:limit]
            if not samples:  # said with why (the Validator only knows it has none)
                why = why_part_is_empty(d, part, splits_dir, datasets_dir, left_out, "kept for the published scores")
                raise ValueError(f"validation: dataset {d!r} has no photos in part {part!r}: {why}")
            items[d] = [lambda s=s: photo_and_label(s, target=True) for s in samples]
        return cls(items, progress=progress, targets=True)

    def options_for(self, dataset: str) -> tuple:
        return postprocess_options(get_dataset_config(dataset).label_shape) if self.with_options else (None,)

    def __call__(self, segmenter: Segmenter) -> ValidationResult:
        canon = {d: get_dataset_config(d).canonical_prompt for d in self.items}
        ious, options, cross, images = {}, {}, [], {}
        for d, items in self.items.items():
            options[d] = self.options_for(d)
            others = negative_prompts(d, list(self.items), canonical_only=True)
            listing = {p: [o for o in self.items if canon[o] == p] for p in others}
            table = np.zeros((len(options[d]), len(THRESHOLDS)))
            n, foreground = 0, False
            photos = self.photos.get(d)
            for i, item in enumerate(progress_bar(items, desc=f"validating {d}", disable=not self.progress, leave=False)):
                image, label = item() if callable(item) else item
                gt, valid = self.label_and_valid(np.asarray(label), d, i)  # a target's 'ignore' pixels: in no score
                photo = photos[i] if photos is not None else None
                scored = not nothing_to_score(valid)  # every pixel 'ignore': in no score, as if absent (IoU 1 was)
                foreground = foreground or bool(np.any(gt))
                result = segmenter.predict(image, [canon[d], *others])
                prob = result.probabilities[canon[d]]
                for k, option in enumerate(options[d] if scored else ()):
                    table[k] += threshold_sweep(prob, gt, option, valid)
                cross += [float((result.probabilities[p] > CROSS_THRESHOLD).mean()) for p in others
                          if not any(photo in self.held.get(o, ()) for o in listing[p])]
                n += scored
            if not n:  # (its mIoU read 0 over no photo, and the warning below called it 1.0)
                raise self.nothing_scored(d, len(items))
            ious[d], images[d] = table / n, n
            if not foreground:  # an empty answer to an empty mask scores 1.0: a perfect score that says nothing
                logger.warning("validation: no mask of dataset %r holds a foreground pixel (%d photos): its mIoU (1.0 "
                               "for a model that answers nothing) says nothing; check its masks (drywallqa data "
                               "stats: 'empty masks')", d, n)
            elif np.all(table[0] == table[0][0]):  # a threshold chosen on such scores is the tie's (0.5), not a finding
                logger.warning("validation: dataset %r scores the same at every threshold (mIoU %.4g, %d photos): the "
                               "model answers nothing on its photos, or the same everywhere; its val scores do not "
                               "depend on the threshold, and the one chosen (%g, the default) says nothing",
                               d, table[0][0] / n, n, DEFAULT_THRESHOLD)
        return ValidationResult(ious, options, float(np.mean(cross)) if cross else float("nan"), images)

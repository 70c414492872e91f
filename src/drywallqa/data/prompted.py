"""Torch dataset of (image, prompt, mask) triples with negative pairs.

Every image is paired with one of its own dataset's prompts (positive) and, with probability
``negative_ratio`` per image, with a prompt of another dataset against an empty mask (negative), so the
model has to listen to the prompt (never a prompt of its own concept's datasets, nor one whose text they
list). Optionally, a share of extra items are crack transplants (:mod:`.composite`): a labelled structure of
one dataset drawn onto a photo of another, asked with either dataset's prompt, so that "drywall photo" and
"crack" stop excluding each other. And a share of items ask a prompt about something none of the datasets
shows ("segment the window", from :mod:`drywallqa.text.vocabulary`) of any photo, against an empty mask, so
that free text the model was not taught gets no borrowed mask.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch.utils.data import Dataset

from .composite import SIGMA_FRACTION, transplant
from .negatives import negative_positions, photos_labelled, shared_prompts

logger = logging.getLogger(__name__)


class PromptedSegmentationDataset(Dataset):
    """Items: ``pixel_values (3, S, S)`` float 0..1, ``prompt_index`` int, ``mask (1, S, S)`` float.

    Args:
        images: ``(N, H, W, 3)`` uint8.
        masks: ``(N, H, W)`` bool, or uint8 targets (1 the label, 0 background,
            :data:`~drywallqa.utils.image_io.IGNORE_VALUE` 'ignore': kept through the augmentation, whose masks are
            resized to the nearest pixel, and left out of the losses).
        dataset_ids: ``(N,)`` int, index into ``prompts_per_dataset``.
        prompts_per_dataset: the prompts of each dataset; prompt indices are over their concatenation.
        transform: albumentations transform applied to image and mask together.
        negative_ratio: negative pairs per image.
        composite_pairs: ``(source, target)`` dataset indices: the source's labelled structures are
            transplanted onto the target's photos (e.g. cracks onto drywall).
        composite_ratio: transplant items per image (0: none).
        unrelated_prompts: prompt indices (after the datasets' own) of prompts no dataset answers.
        unrelated_ratio: items per image asking one of them against an empty mask (0: none).
        concepts: per dataset, what its labels show (default: each dataset its own); a negative pair takes a
            prompt of a dataset of another concept, never of one labelling the same thing another way, and never a
            prompt text (case and spacing aside) that a dataset of the photo's own concept lists: a prompt two datasets
            of different concepts share is asked of neither's photos as a negative (with a warning).
        photos: per image, what names its photo file (e.g. its resolved path; default: every image its own photo): a
            photo that datasets of several concepts label (one COCO export of cracks and stains declared as two
            datasets by their categories) is asked no prompt of those concepts' datasets as a negative.
        canonical_share: the share of positive items (a photo asked one of its own dataset's prompts, crack transplants
            included) that ask the dataset's canonical prompt (its first); the others draw evenly from its other
            prompts. None (default): every prompt of the dataset evenly, the canonical one included (with generated
            paraphrases, about 1 in 250). The product asks the canonical prompt of every paraphrase it recognises
            (:mod:`drywallqa.text.gate`), so a run may want it taught more often.
    """

    def __init__(self, images, masks, dataset_ids, prompts_per_dataset, transform=None, negative_ratio=0.5, seed=0,
                 composite_pairs=(), composite_ratio=0.0, unrelated_prompts=(), unrelated_ratio=0.0, concepts=None,
                 photos=None, canonical_share=None):
        self.images, self.masks = images, masks
        if canonical_share is not None and not 0.0 <= canonical_share <= 1.0:
            raise ValueError(f"canonical_share must be None or a number in [0, 1], got {canonical_share!r}")
        self.canonical_share = canonical_share
        self.dataset_ids = np.asarray(dataset_ids)
        self.prompt_ids, start = [], 0
        for prompts in prompts_per_dataset:
            self.prompt_ids.append(list(range(start, start + len(prompts))))
            start += len(prompts)
        self.transform = transform
        concepts = list(range(len(prompts_per_dataset))) if concepts is None else list(concepts)
        if len(concepts) != len(prompts_per_dataset):
            raise ValueError("concepts must name one concept per dataset")
        self._negatives, self._negative_concepts = self._negative_prompts(prompts_per_dataset, concepts)
        self._photo_concepts = self._concepts_of_photos(photos, concepts)
        self.n_neg = int(round(len(images) * negative_ratio)) if any(self._negatives) else 0
        self.rng = np.random.default_rng(seed)
        self.item_entropy: list | None = None  # seed_items(): each item's random draws from these and its index
        self.composite_pairs = [(int(a), int(b)) for a, b in composite_pairs]
        for a, b in self.composite_pairs:
            if a == b or not (0 <= a < len(prompts_per_dataset) and 0 <= b < len(prompts_per_dataset)):
                raise ValueError(f"composite pair ({a}, {b}) must name two different datasets")
        self.n_comp = int(round(len(images) * composite_ratio)) if self.composite_pairs else 0
        self.unrelated_prompts = [int(i) for i in unrelated_prompts]
        if self.unrelated_prompts and min(self.unrelated_prompts) < start:
            raise ValueError("unrelated prompt indices must come after the datasets' own prompts")
        self.n_unrel = int(round(len(images) * unrelated_ratio)) if self.unrelated_prompts else 0
        # sources: images whose label is not empty (a transplant of nothing would be a plain negative); targets: all.
        # Kept apart: a dataset that is the target of one pair and the source of another (0 -> 1, 1 -> 2) gave its
        # unlabelled photos as sources too (one map, the targets' written over the sources')
        self._sources, self._targets = {}, {}
        if self.n_comp:
            labelled = np.array([(m == 1).any() for m in masks])  # (an 'ignore' band alone is no label)
            self._sources = {a: np.flatnonzero((self.dataset_ids == a) & labelled) for a, _ in self.composite_pairs}
            self._targets = {b: np.flatnonzero(self.dataset_ids == b) for _, b in self.composite_pairs}
        for d, idx in [*self._sources.items(), *self._targets.items()]:
            if len(idx) == 0:
                raise ValueError(f"composite pairs: dataset index {d} has no usable images")

    def _negative_prompts(self, prompts_per_dataset, concepts) -> tuple[list[list[list[int]]], list[list]]:
        """Per dataset, per dataset of another concept, the ids of its prompts that are negatives on the first
        one's photos (:func:`.negatives.negative_positions`), and the concepts of those datasets. Warns where datasets
        of different concepts share prompts (once per set of concepts)."""
        for cs, texts in shared_prompts(prompts_per_dataset, concepts).items():
            logger.warning("datasets of the concepts %s all list the prompts %s: these are asked of none of their photos "
                           "as negatives (against an empty mask); if the datasets label the same thing, give them one "
                           "concept (the dataset YAML's concept: key)", ", ".join(repr(str(c)) for c in cs),
                           ", ".join(map(repr, texts)))
        rows = negative_positions(prompts_per_dataset, concepts)
        return ([[[self.prompt_ids[j][k] for k in positions] for j, positions in enumerate(row) if positions]
                 for row in rows],
                [[concepts[j] for j, positions in enumerate(row) if positions] for row in rows])

    def _concepts_of_photos(self, photos, concepts) -> dict:
        """Image index -> the concepts of the datasets labelling its photo, for the photos that datasets of several
        concepts label (none: ``{}``)."""
        if photos is None:
            return {}
        if len(photos) != len(self.images):
            raise ValueError(f"photos must name one photo per image ({len(self.images)}), got {len(photos)}")
        held = photos_labelled(zip(photos, (concepts[int(d)] for d in self.dataset_ids)))  # concept -> its photos
        labelled_by = {photo: {c for c, its in held.items() if photo in its} for photo in dict.fromkeys(photos)}
        return {i: labelled_by[photo] for i, photo in enumerate(photos) if len(labelled_by[photo]) > 1}

    def seed_items(self, entropy) -> None:
        """Draw each item's randomness (its negative pair, transplant, unrelated prompt and augmentation) from
        ``entropy`` (e.g. seed and epoch) and the item's index alone: what an item is does not depend on which items
        came before it, so a run resumed mid-epoch (the epoch's first batches skipped) or split over workers trains on
        the very items the run it continues would have (streams seeded per loader gave the rest of a resumed epoch
        other draws: another run)."""
        self.item_entropy = [int(e) for e in entropy]

    def _seed_item(self, index: int) -> None:
        if self.item_entropy is None:
            return
        self.rng = np.random.default_rng([*self.item_entropy, int(index)])
        if hasattr(self.transform, "set_random_seed"):  # albumentations draws from a generator of its own
            self.transform.set_random_seed(int(self.rng.integers(2**31)))

    def __len__(self) -> int:
        return len(self.images) + self.n_neg + self.n_comp + self.n_unrel

    def _augment(self, i: int):
        image, mask = self.images[i], self.masks[i].astype(np.uint8)
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        return image, mask

    def _composite(self):
        src, tgt = self.composite_pairs[int(self.rng.integers(len(self.composite_pairs)))]
        s_image, s_mask = self._augment(int(self.rng.choice(self._sources[src])))
        t_image, t_mask = self._augment(int(self.rng.choice(self._targets[tgt])))
        image = transplant(t_image, s_image, s_mask == 1, sigma=SIGMA_FRACTION * min(s_mask.shape))  # the label alone
        own = src if self.rng.random() < 0.5 else tgt
        return image, (s_mask if own == src else t_mask), self._own_prompt(own)

    def _own_prompt(self, dataset: int) -> int:
        """A positive prompt of ``dataset`` (its index): its canonical one with probability ``canonical_share``, else
        one of its others; every one of them evenly where ``canonical_share`` is None (the draws as before it)."""
        ids = self.prompt_ids[dataset]
        if self.canonical_share is None or len(ids) == 1:
            return int(self.rng.choice(ids))
        return ids[0] if self.rng.random() < self.canonical_share else int(self.rng.choice(ids[1:]))

    @staticmethod
    def _item(image, mask, prompt: int) -> dict:
        return {
            "pixel_values": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0,
            "prompt_index": prompt,
            "mask": torch.from_numpy(np.ascontiguousarray(mask)).float()[None],
        }

    def __getitem__(self, index: int):
        self._seed_item(index)
        if index >= len(self.images) + self.n_neg + self.n_comp:  # a prompt no dataset answers: an empty mask
            image, mask = self._augment(int(self.rng.integers(len(self.images))))
            return self._item(image, np.zeros_like(mask), int(self.rng.choice(self.unrelated_prompts)))
        if index >= len(self.images) + self.n_neg:
            return self._item(*self._composite())
        negative = index >= len(self.images)
        i = int(self.rng.integers(len(self.images))) if negative else index
        own = int(self.dataset_ids[i])
        rows = self._negatives[own]
        if negative and i in self._photo_concepts:  # no prompt of a dataset of a concept labelling this photo too
            rows = [r for r, c in zip(rows, self._negative_concepts[own]) if c not in self._photo_concepts[i]]
        if negative and rows:  # a dataset of another concept, then one of its prompts
            prompt = int(self.rng.choice(rows[int(self.rng.integers(len(rows)))]))
        elif negative:  # every dataset labels this photo's concept (or this photo): a positive instead
            negative, prompt = False, self._own_prompt(own)
        else:
            prompt = self._own_prompt(own)
        image, mask = self._augment(i)
        if negative:
            mask = np.zeros_like(mask)
        return self._item(image, mask, prompt)

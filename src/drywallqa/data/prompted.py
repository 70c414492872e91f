"""Torch dataset of (image, prompt, mask) triples with negative pairs.

Every image is paired with one of its own dataset's prompts (positive) and, with probability
``negative_ratio`` per image, with a prompt of another dataset against an empty mask (negative), so
the model has to listen to the prompt.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset


class PromptedSegmentationDataset(Dataset):
    """Items: ``pixel_values (3, S, S)`` float 0..1, ``prompt_index`` int, ``mask (1, S, S)`` float.

    Args:
        images: ``(N, H, W, 3)`` uint8.
        masks: ``(N, H, W)`` bool.
        dataset_ids: ``(N,)`` int, index into ``prompts_per_dataset``.
        prompts_per_dataset: the prompts of each dataset; prompt indices are over their concatenation.
        transform: albumentations transform applied to image and mask together.
        negative_ratio: negative pairs per image.
    """

    def __init__(self, images, masks, dataset_ids, prompts_per_dataset, transform=None, negative_ratio=0.5, seed=0):
        self.images, self.masks = images, masks
        self.dataset_ids = np.asarray(dataset_ids)
        self.prompt_ids, start = [], 0
        for prompts in prompts_per_dataset:
            self.prompt_ids.append(list(range(start, start + len(prompts))))
            start += len(prompts)
        self.transform = transform
        self.n_neg = int(round(len(images) * negative_ratio)) if len(prompts_per_dataset) > 1 else 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.images) + self.n_neg

    def __getitem__(self, index: int):
        negative = index >= len(self.images)
        i = int(self.rng.integers(len(self.images))) if negative else index
        own = int(self.dataset_ids[i])
        if negative:
            other = [d for d in range(len(self.prompt_ids)) if d != own]
            prompt = int(self.rng.choice(self.prompt_ids[int(self.rng.choice(other))]))
        else:
            prompt = int(self.rng.choice(self.prompt_ids[own]))
        image, mask = self.images[i], self.masks[i].astype(np.uint8)
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        if negative:
            mask = np.zeros_like(mask)
        pixel_values = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
        return {
            "pixel_values": pixel_values,
            "prompt_index": prompt,
            "mask": torch.from_numpy(np.ascontiguousarray(mask)).float()[None],
        }

"""Training augmentation (albumentations) on cached square arrays."""

from __future__ import annotations

import albumentations as A
import cv2


def train_transform(image_size: int) -> A.Compose:
    """Random scale/crop to ``image_size``, flips and 90-degree turns, tone and blur changes. The mask is resized by
    pixel centres, as the photo is (OpenCV's plain nearest is half a pixel off: a 2-px crack's label slid off it)."""
    return A.Compose(
        [
            A.RandomResizedCrop(size=(image_size, image_size), scale=(0.5, 1.0), ratio=(0.75, 1.333), p=1.0,
                                mask_interpolation=cv2.INTER_NEAREST_EXACT),
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.RandomRotate90(p=0.5),
            A.RandomBrightnessContrast(0.25, 0.25, p=0.7),
            A.HueSaturationValue(10, 20, 15, p=0.4),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.GaussNoise(std_range=(0.02, 0.06)), A.ImageCompression(quality_range=(40, 90))], p=0.3),
        ]
    )

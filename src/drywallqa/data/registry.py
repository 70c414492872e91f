"""Dataset registry: each dataset names its folder layout and the prompts that ask for its class."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.registry import Registry


@dataclass(frozen=True)
class SplitSource:
    """Where one published split's ground truth lives.

    Attributes:
        kind: ``"coco"`` (``<split>/_annotations.coco.json``) or ``"mask_folder"``
            (``<split>/*.jpg`` + ``<split>/_masks/<stem>.png``).
        folder: the split folder, relative to the dataset root.
    """

    kind: str
    folder: str


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset and the prompts that ask for its foreground class.

    ``prompts[0]`` is the canonical prompt; the rest are synonyms the model is trained and scored on.
    ``label_shape`` is ``"box"`` when the ground truth is bounding boxes only (then a model may turn
    its masks for these prompts into boxes, if that wins on validation), else ``"region"``.
    """

    name: str
    folder: str
    prompts: tuple[str, ...]
    splits: dict[str, SplitSource] = field(default_factory=dict)
    label_shape: str = "region"

    @property
    def canonical_prompt(self) -> str:
        return self.prompts[0]

    def root(self, datasets_dir: str | Path | None = None) -> Path:
        return Path(datasets_dir or default_datasets_dir()) / self.folder


DATASETS: Registry[DatasetConfig] = Registry("dataset")


def register_dataset(config: DatasetConfig) -> DatasetConfig:
    return DATASETS.add(config.name, config)


def get_dataset_config(name: str) -> DatasetConfig:
    return DATASETS.get(name)


def list_datasets() -> list[str]:
    return DATASETS.names()


def default_datasets_dir() -> Path:
    """``$DRYWALLQA_DATASETS``, else ``../shared/datasets`` beside the working directory or the repo."""
    env = os.environ.get("DRYWALLQA_DATASETS")
    if env:
        return Path(env)
    candidates = [Path.cwd() / ".." / "shared" / "datasets", Path(__file__).resolve().parents[4] / "shared" / "datasets"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return candidates[0]


register_dataset(
    DatasetConfig(
        name="taping",
        folder="drywall-join",
        prompts=("segment taping area", "segment joint/tape", "segment drywall seam"),
        splits={"train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")},
        label_shape="box",
    )
)
register_dataset(
    DatasetConfig(
        name="cracks",
        folder="cracks",
        prompts=("segment crack", "segment wall crack"),
        splits={
            "train": SplitSource("mask_folder", "train"),
            "valid": SplitSource("coco", "valid"),
            "test": SplitSource("coco", "test"),
        },
    )
)

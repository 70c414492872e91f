"""Data: dataset registry, readers (COCO, image/mask folders), grouping and splits, torch datasets."""

from .registry import (DatasetConfig, SplitSource, get_dataset_config, list_datasets, load_dataset_config,
                       register_dataset, register_split_reader, resolve_dataset)
from .sample import DataProblem, Sample, load_split

__all__ = [
    "DataProblem",
    "DatasetConfig",
    "Sample",
    "SplitSource",
    "get_dataset_config",
    "list_datasets",
    "load_dataset_config",
    "load_split",
    "register_dataset",
    "register_split_reader",
    "resolve_dataset",
]

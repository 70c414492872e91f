"""Source-photo groups and near-duplicates, and group-clean train/val/test splits.

Roboflow exports copies of one photo (flipped, rotated, re-toned) under ``<stem>.rf.<hash>.jpg`` and
scatters them over train and valid. Two files belong to one group when they share a stem or their
normalised 32x32 grey thumbnails differ by a mean absolute difference below ``near_dup_threshold``
under some flip / 90-degree rotation. A group-clean split puts each group in exactly one split.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..utils.files import why_not, write_text_atomic
from ..utils.image_io import ImageReadError, read_image
from ..utils.registry import UnknownNameError
from .problems import DataProblem
from .sample import Sample

logger = logging.getLogger(__name__)

THUMB = 32


def thumbnail(path: str | Path, size: int = THUMB) -> np.ndarray:
    """``(size, size)`` float32 grey thumbnail, normalised to zero mean and unit variance, of the photo as
    :func:`~drywallqa.utils.image_io.read_image` reads it (every format it reads, EXIF orientation applied).

    Raises:
        ImageReadError: naming the file, when it cannot be read.
    """
    grey = cv2.cvtColor(read_image(path), cv2.COLOR_RGB2GRAY)
    t = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    return (t - t.mean()) / max(float(t.std()), 1e-6)


def _dihedral(thumbs: torch.Tensor) -> list[torch.Tensor]:
    """The 8 flips/rotations of ``(N, 32, 32)`` thumbnails, each flattened to ``(N, 1024)``."""
    out = []
    for k in range(4):
        r = torch.rot90(thumbs, k, dims=(1, 2))
        out += [r.flatten(1), torch.flip(r, dims=(2,)).flatten(1)]
    return out


def dihedral(array: np.ndarray, k: int) -> np.ndarray:
    """The ``k``-th (0-7) flip/rotation of an ``(H, W, ...)`` array, in the order of :func:`_dihedral`."""
    out = np.rot90(array, k // 2, axes=(0, 1))
    return out[:, ::-1] if k % 2 else out


def near_duplicate_matches(paths: list[Path], threshold: float = 0.1, progress: bool = False,
                           problems: list | None = None) -> list[tuple[int, int, int]]:
    """``(i, j, k)``, ``i < j``, for near-identical images: image ``j`` under :func:`dihedral` ``k`` looks like
    image ``i`` (mean absolute difference of normalised 32x32 grey thumbnails below ``threshold``).

    A photo that cannot be read matches none: it is named in ``problems`` (a :class:`DataProblem` each), or in a
    warning where ``problems`` is None; the others are compared as usual."""
    from tqdm import tqdm

    if len(paths) < 2:
        return []
    thumbs, read = [], []  # thumbnails of the photos read, and their indices in ``paths``
    for n, p in enumerate(tqdm(paths, desc="thumbnails", disable=not progress)):
        try:
            thumbs.append(thumbnail(p))
        except ImageReadError as exc:
            problem = DataProblem(str(p), f"{str(exc).removeprefix(f'{p}: ')}: left out of the near-duplicate search "
                                          "(grouped by its file name only)")
            if problems is None:
                logger.warning("%s", problem)
            else:
                problems.append(problem)
            continue
        read.append(n)
    if len(read) < 2:
        return []
    stacked = torch.from_numpy(np.stack(thumbs))
    base = stacked.flatten(1)
    best = torch.full((len(read), len(read)), float("inf"))
    which = torch.zeros((len(read), len(read)), dtype=torch.long)
    for k, variant in enumerate(_dihedral(stacked)):
        d = torch.cdist(base, variant, p=1) / base.shape[1]
        which = torch.where(d < best, k, which)
        best = torch.minimum(best, d)
    i, j = torch.nonzero(torch.triu(best < threshold, diagonal=1), as_tuple=True)
    return [(read[a], read[b], k) for a, b, k in zip(i.tolist(), j.tolist(), which[i, j].tolist())]


def near_duplicate_pairs(paths: list[Path], threshold: float = 0.1, progress: bool = False,
                         problems: list | None = None) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of near-identical images (any flip / 90-degree rotation); an unreadable
    photo as in :func:`near_duplicate_matches`."""
    return [(i, j) for i, j, _ in near_duplicate_matches(paths, threshold, progress, problems)]


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def group_ids(samples: list[Sample], near_dups: list[tuple[int, int]] | None = None) -> list[str]:
    """A group id per sample: same stem or near-duplicate (transitively) -> same group."""
    uf = _UnionFind(len(samples))
    first_of_stem: dict[str, int] = {}
    for i, s in enumerate(samples):
        uf.union(i, first_of_stem.setdefault(s.group, i))
    for i, j in near_dups or []:
        uf.union(i, j)
    roots = [uf.find(i) for i in range(len(samples))]
    return [samples[r].group for r in roots]


@dataclass
class GroupSplit:
    """A group-clean split of one dataset: image paths (relative to the dataset root) per part."""

    dataset: str
    seed: int
    fractions: dict
    parts: dict  # part name -> list of relative image paths

    def to_json(self, path: str | Path) -> None:
        """Written whole (temporary file, then rename): an interrupted split leaves the earlier manifest."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(json.dumps(self.__dict__, indent=1), path)

    @classmethod
    def from_json(cls, path: str | Path) -> "GroupSplit":
        """Raises ValueError naming the file when it is not a manifest (damaged, or another JSON file)."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"split manifest {path} is damaged ({exc}); write it again with drywallqa data split") from None
        wanted = {f.name for f in dataclasses.fields(cls)}
        if (not isinstance(d, dict) or set(d) != wanted or not isinstance(d["parts"], dict)
                or not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in d["parts"].values())):
            raise ValueError(f"split manifest {path} is not a manifest of drywallqa data split (keys {sorted(wanted)}, "
                             "parts: lists of image paths); write it again with drywallqa data split")
        seen, twice = {}, []
        for part, files in d["parts"].items():
            for f in files:
                if seen.setdefault(f, part) != part:
                    twice.append((f, seen[f], part))
        if twice:  # a photo of the test part trained on: no group-clean score (a hand-merged or damaged manifest)
            f, a, b = twice[0]
            raise ValueError(f"split manifest {path} lists {len(twice)} photo(s) in two parts ({f!r} in {a} and {b}): "
                             "a group-clean split never does; write it again with drywallqa data split")
        return cls(**d)


def group_clean_split(
    samples: list[Sample],
    groups: list[str],
    root: Path,
    dataset: str,
    fractions: dict | None = None,
    seed: int = 0,
) -> GroupSplit:
    """Assign whole groups to parts so each part gets about its fraction of the images (seeded)."""
    fractions = fractions or {"train": 0.7, "val": 0.15, "test": 0.15}
    by_group: dict[str, list[str]] = {}
    for s, g in zip(samples, groups):
        by_group.setdefault(g, []).append(str(s.image_path.relative_to(root)))
    names = sorted(by_group)
    random.Random(seed).shuffle(names)
    total = sum(len(v) for v in by_group.values())
    parts: dict[str, list[str]] = {p: [] for p in fractions}
    order = list(fractions)
    # fill the smaller parts first, each up to its quota, the rest to the first part (train)
    for name in names:
        files = by_group[name]
        target = next(
            (p for p in order[1:] if len(parts[p]) + len(files) / 2 <= fractions[p] * total), order[0]
        )
        parts[target].extend(files)
    for p in parts:
        parts[p].sort()
    return GroupSplit(dataset, seed, dict(fractions), parts)


def load_all_splits(dataset: str, datasets_dir=None, unread: dict | None = None) -> tuple[list[Sample], list]:
    """Every published split of a dataset, concatenated (train, valid, test order). ``unread``, where given, gets
    each split that gave no image, with why (its first problem: an annotation file missing, ...)."""
    from .registry import get_dataset_config
    from .sample import load_split

    samples, problems = [], []
    for split in get_dataset_config(dataset).splits:
        s, p = load_split(dataset, split, datasets_dir)
        if not s and unread is not None:
            unread[split] = str(p[0]) if p else "no images found in its folder"
        samples += s
        problems += p
    return samples, problems


SHIPPED_SPLITS_DIR = Path(__file__).resolve().parents[1] / "splits"  # the manifests the shipped model was made with


def split_manifest_path(splits_dir: str | Path | None, dataset: str) -> Path:
    """``<splits_dir>/<dataset>.json``; with ``splits_dir=None`` the first of ``./splits`` (what `drywallqa
    data split` writes by default) and the manifests shipped in the package that has one, so that commands
    work from any folder."""
    if splits_dir is not None:
        return Path(splits_dir) / f"{dataset}.json"
    for folder in (Path("splits"), SHIPPED_SPLITS_DIR):
        if (folder / f"{dataset}.json").is_file():
            return folder / f"{dataset}.json"
    return Path("splits") / f"{dataset}.json"


def published_split_of(config, root: Path, photo: str) -> str | None:
    """The published split of ``config`` whose folder holds ``photo`` (a path relative to the dataset ``root``, as a
    manifest names it, whether or not the photo is still there), the innermost where split folders nest; None where
    none does. A split is found by its folder, which a dataset YAML may name otherwise than the split."""
    path, holder = Path(os.path.normpath(root / photo)), None
    for name, source in config.splits.items():
        folder = Path(os.path.normpath(root / source.folder))
        if path.is_relative_to(folder) and (holder is None or len(folder.parts) > holder[0]):
            holder = (len(folder.parts), name)
    return holder[1] if holder else None


# the published splits each group-clean part leaves out: val (where options are chosen) and the train sample hold no
# photo of the published splits, kept for the published scores; test holds its own
GROUP_LEFT_OUT = {"test": (), "val": ("valid", "test"), "train": ("valid", "test")}


def samples_of_part(
    dataset: str,
    part: str,
    splits_dir: str | Path | None,
    datasets_dir=None,
    exclude_published: tuple | list = (),
    missing: list | None = None,
) -> list[Sample]:
    """The samples of one part (``train``/``val``/``test``) of a group-clean split manifest,
    leaving out images from the published splits named in ``exclude_published``; the photos the manifest names
    that the dataset does not give (deleted, or unreadable) are logged, and added to ``missing`` when given."""
    from .registry import get_dataset_config

    config = get_dataset_config(dataset)
    manifest = split_manifest_path(splits_dir, config.manifest_name)
    if manifest.parent.is_file():  # `data split --out` a file would fail too
        raise FileNotFoundError(f"{manifest.parent} is a file; the split manifests are in a folder (<dataset>.json, as "
                                "`drywallqa data split --out FOLDER` writes them)")
    if not manifest.is_file():
        why = why_not(manifest, folder=False)
        raise FileNotFoundError(f"{manifest}: no split manifest{'' if why == 'not found' else f' ({why})'}; run `drywallqa data split -d {config.manifest_name} --out "
                                f"{manifest.parent}` first (for a dataset of your own: -d its YAML file)")
    split = GroupSplit.from_json(manifest)
    if split.dataset != config.manifest_name:  # another dataset's parts: none of its photos would be found
        raise ValueError(f"{manifest} is the split manifest of {split.dataset!r}, not of {config.manifest_name!r} "
                         f"(copied or renamed?); write it again with drywallqa data split -d {config.manifest_name}")
    if part not in split.parts:
        raise UnknownNameError(f"{manifest} has no part {part!r}; it has {', '.join(split.parts)}")
    wanted = set(split.parts[part])
    root = config.root(datasets_dir)
    samples, _ = load_all_splits(dataset, datasets_dir)
    named = [(str(s.image_path.relative_to(root)), s) for s in samples]  # as the manifest names them
    have = {rel for rel, _ in named}
    missing_names = sorted(wanted - have)
    if missing_names:  # scored on fewer photos than the manifest names: say so, never silently
        logger.warning("%s: %d of the %d photos of its %s part in %s are not in the dataset (e.g. %s); they are left out",
                       dataset, len(missing_names), len(wanted), part, manifest, missing_names[0])
    unassigned = have - {f for files in split.parts.values() for f in files}
    if unassigned:
        logger.warning("%s: %d photos are in no part of %s (added after `drywallqa data split`?); they are never used",
                       dataset, len(unassigned), manifest)
    excluded = set(exclude_published)
    if missing is not None:
        missing.extend(m for m in missing_names if published_split_of(config, root, m) not in excluded)
    return [s for rel, s in named if rel in wanted and s.split not in excluded]


def why_part_is_empty(dataset: str, part: str, splits_dir, datasets_dir=None, exclude_published=(),
                      left_out_by: str = "", datasets_dir_hint: str = "--datasets-dir") -> str:
    """Why :func:`samples_of_part` gave no photo of ``dataset``'s ``part``, in words, with what to do: the manifest
    puts none there, all of them lie in the published splits left out (``left_out_by`` says who leaves them out), no
    dataset folder, or none found there (``datasets_dir_hint`` names the setting that says where the datasets are)."""
    from .registry import get_dataset_config

    config = get_dataset_config(dataset)
    manifest = split_manifest_path(splits_dir, config.manifest_name)
    listed = GroupSplit.from_json(manifest).parts.get(part, [])
    root = config.root(datasets_dir)
    kept = [f for f in listed if published_split_of(config, root, f) not in set(exclude_published)]
    where = f"set {datasets_dir_hint} or DRYWALLQA_DATASETS to the folder holding the datasets"
    if not listed:
        return (f"{manifest} puts no photo in it: a dataset this small needs a manifest with a larger share for "
                f"{part} (drywallqa data split --val / --test)")
    if not kept:
        return (f"all {len(listed)} of its photos are from the published splits left out "
                f"({', '.join(exclude_published)}{'; ' + left_out_by if left_out_by else ''})")
    if not root.is_dir():
        return f"no folder {root}; {where}"
    return f"none of the {len(kept)} photos its manifest lists there were found under {root}; {where}"


def make_group_split(dataset: str, datasets_dir=None, fractions: dict | None = None, seed: int = 0,
                     progress: bool = False) -> GroupSplit:
    """Group-clean split of all published images of ``dataset`` (stems + near-duplicates grouped)."""
    from .registry import get_dataset_config

    unread: dict[str, str] = {}
    samples, _ = load_all_splits(dataset, datasets_dir, unread)
    if not samples:
        raise ValueError(f"dataset {dataset!r}: no readable images")
    if unread:  # a manifest without a whole split would score and train on the others as if it were all
        raise ValueError(f"dataset {dataset!r}: no image read from its split " + "; ".join(
            f"{sp} ({why})" for sp, why in unread.items()) + ": make it readable, or leave it out of the dataset "
            "YAML's splits")
    pairs = near_duplicate_pairs([s.image_path for s in samples], progress=progress)
    groups = group_ids(samples, pairs)
    return group_clean_split(samples, groups, get_dataset_config(dataset).root(datasets_dir), dataset, fractions, seed)

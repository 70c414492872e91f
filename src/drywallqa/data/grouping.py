"""Source-photo groups and near-duplicates, and group-clean train/val/test splits.

Roboflow exports copies of one photo (flipped, rotated, re-toned) under ``<stem>.rf.<hash>.jpg`` and
scatters them over train and valid; a dataset may also hold one photo under two names (cropped, turned,
re-toned: another stem) and shots taken seconds apart from the same place. Two files belong to one group
when they share a stem, or are the same photo: their normalised 32x32 grey thumbnails differ by a mean
absolute difference below :data:`COPY_DIFF` under some flip / 90-degree rotation, or below
:data:`CANDIDATE_DIFF` and one maps onto the other (:func:`near_duplicates`: matched features, and the pixels
agree once aligned). A group-clean split puts each group in exactly one split.
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

from ..utils.files import write_text_atomic
from ..utils.image_io import DATASET_LIMIT, ImageReadError, read_image
from ..utils.paths import name_too_long, shortened, why_not
from ..utils.registry import UnknownNameError
from .problems import DataProblem
from .sample import Sample, source_group

logger = logging.getLogger(__name__)

THUMB = 32
COPY_DIFF = 0.1        # thumbnails this close: the same photo (flips and quarter turns tried)
CANDIDATE_DIFF = 0.2   # this close: the same photo if :func:`near_duplicates` says so (a crop, a turn, a re-tone)
# near_duplicates: ORB features at SAME_PHOTO_SIDE px (the longer side), a homography fitted by RANSAC with at least
# MIN_INLIERS matches, and grey values correlated by at least MIN_CORRELATION where the aligned photos overlap
# (at least MIN_OVERLAP of the first): two photos of white paper with a few specks can match a handful of
# features but not their pixels. Chosen on the two shipped datasets' pairs, each looked at (CHANGELOG 0.6.18).
SAME_PHOTO_SIDE, MIN_INLIERS, MIN_CORRELATION, MIN_OVERLAP = 512, 20, 0.5, 0.3


def thumbnail(path: str | Path, size: int = THUMB) -> np.ndarray:
    """``(size, size)`` float32 grey thumbnail, normalised to zero mean and unit variance, of the photo as
    :func:`~drywallqa.utils.image_io.read_image` reads it (every format it reads, EXIF orientation applied).

    Raises:
        ImageReadError: naming the file, when it cannot be read.
    """
    grey = cv2.cvtColor(read_image(path, advice=DATASET_LIMIT), cv2.COLOR_RGB2GRAY)
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


class _Features:
    """A photo's grey copy at :data:`SAME_PHOTO_SIDE` px, what of it is photo (not black: Roboflow's rotation
    borders and cut-out squares, whose corners would match any other photo's), and its ORB features, mirrored or
    not; computed once per photo and mirroring."""

    def __init__(self, paths: list[Path]):
        self.paths, self.cache = paths, {}
        self.unread: dict[int, str] = {}  # read for its thumbnail, not now (replaced or cut since): no closer look
        self.orb = cv2.ORB_create(1000)

    def __call__(self, n: int, mirrored: bool):
        if n in self.unread:
            return None, None, (), None
        if (n, mirrored) not in self.cache:
            try:
                rgb = read_image(self.paths[n], advice=DATASET_LIMIT)
            except ImageReadError as exc:
                self.unread[n] = str(exc).removeprefix(f"{self.paths[n]}: ")
                return None, None, (), None
            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            scale = SAME_PHOTO_SIDE / max(grey.shape)
            if scale < 1:
                grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            grey = np.ascontiguousarray(grey[:, ::-1]) if mirrored else grey
            photo = cv2.erode((grey > 8).astype(np.uint8) * 255, np.ones((9, 9), np.uint8))
            points, descriptors = self.orb.detectAndCompute(grey, photo)
            self.cache[(n, mirrored)] = grey, photo, points, descriptors
        return self.cache[(n, mirrored)]


def near_duplicates(features: _Features, i: int, j: int) -> bool:
    """Whether photo ``j`` (or its mirror image) maps onto photo ``i`` by one homography that at least
    :data:`MIN_INLIERS` matched ORB features agree on, and the grey values of the two, so aligned, correlate by at
    least :data:`MIN_CORRELATION` where they overlap (one photo cropped, turned by any angle, scaled, re-toned; of a
    flat scene, such as one board, other shots of it too: :func:`near_duplicate_matches` asks only of photos whose
    thumbnails are alike)."""
    grey_i, photo_i, points_i, desc_i = features(i, False)
    if desc_i is None or len(points_i) < MIN_INLIERS:
        return False
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    for mirrored in (False, True):
        grey_j, photo_j, points_j, desc_j = features(j, mirrored)
        if desc_j is None or len(points_j) < MIN_INLIERS:
            continue
        good = [m[0] for m in matcher.knnMatch(desc_j, desc_i, k=2)
                if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]  # Lowe's ratio test
        if len(good) < MIN_INLIERS:
            continue
        homography, inliers = cv2.findHomography(np.float32([points_j[m.queryIdx].pt for m in good]),
                                                 np.float32([points_i[m.trainIdx].pt for m in good]), cv2.RANSAC, 5.0)
        if homography is None or int(inliers.sum()) < MIN_INLIERS:
            continue
        size = (grey_i.shape[1], grey_i.shape[0])
        aligned = cv2.warpPerspective(grey_j, homography, size)
        both = (cv2.warpPerspective(photo_j, homography, size, flags=cv2.INTER_NEAREST) > 0) & (photo_i > 0)
        if both.mean() < MIN_OVERLAP:
            continue
        a, b = grey_i[both].astype(np.float32), aligned[both].astype(np.float32)
        if a.std() > 1 and b.std() > 1 and float(np.corrcoef(a, b)[0, 1]) >= MIN_CORRELATION:
            return True
    return False


def near_duplicate_matches(paths: list[Path], threshold: float = COPY_DIFF, progress: bool = False,
                           problems: list | None = None,
                           candidates: float | None = CANDIDATE_DIFF) -> list[tuple[int, int, int]]:
    """``(i, j, k)``, ``i < j``, for near-identical images: image ``j`` under :func:`dihedral` ``k`` looks like
    image ``i`` (mean absolute difference of normalised 32x32 grey thumbnails below ``threshold``), or, below
    ``candidates`` (None: no such check), is :func:`near_duplicates` as image ``i``, either way round (``k``: the
    thumbnails' closest);
    two photos of one source stem (:func:`~drywallqa.data.sample.source_group`, one group by their names) are not
    checked so.

    A photo that cannot be read matches none: it is named in ``problems`` (a :class:`DataProblem` each), or in a
    warning where ``problems`` is None; the others are compared as usual."""
    from ..utils.progress import progress_bar

    if len(paths) < 2:
        return []
    thumbs, read = [], []  # thumbnails of the photos read, and their indices in ``paths``
    for n, p in enumerate(progress_bar(paths, desc="thumbnails", disable=not progress)):
        try:
            thumbs.append(thumbnail(p))
        except ImageReadError as exc:
            _tell(problems, DataProblem(str(p), f"{str(exc).removeprefix(f'{p}: ')}: its pixels cannot be decoded "
                                                "(training and scoring skip it too, until it is mended); left out of the "
                                                "near-duplicate search (grouped by its file name only)"))
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
    close = torch.triu(best < max(threshold, candidates or 0), diagonal=1)
    i, j = torch.nonzero(close, as_tuple=True)
    pairs = [(a, b, float(best[a, b])) for a, b in zip(i.tolist(), j.tolist())]
    features = _Features([paths[n] for n in read])
    stems = [source_group(str(paths[n])) for n in read]
    to_check = [(a, b) for a, b, d in pairs if d >= threshold and stems[a] != stems[b]]
    # both ways round: near_duplicates maps the second photo onto the first, so one way only found a pair or not by the
    # order the photos were listed in
    checked = {(a, b) for a, b in progress_bar(to_check, desc="same photo?", disable=not progress or not to_check)
               if near_duplicates(features, a, b) or near_duplicates(features, b, a)}
    for n, why in features.unread.items():
        _tell(problems, DataProblem(str(paths[read[n]]), f"{why}: left out of the closer look of the near-duplicate "
                                                         "search (matched by its thumbnail and file name only)"))
    return [(read[a], read[b], int(which[a, b])) for a, b, d in pairs if d < threshold or (a, b) in checked]


def _tell(problems: list | None, problem: DataProblem) -> None:
    """``problem`` into ``problems``, or a warning where there is no list (:func:`near_duplicate_matches`)."""
    if problems is None:
        logger.warning("%s", problem)
    else:
        problems.append(problem)


def near_duplicate_pairs(paths: list[Path], threshold: float = 0.1, progress: bool = False) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of near-identical images (any flip / 90-degree rotation); an unreadable
    photo as in :func:`near_duplicate_matches` (a warning logged)."""
    return [(i, j) for i, j, _ in near_duplicate_matches(paths, threshold, progress)]


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
    """A group id per sample: same stem or near-duplicate (transitively) -> same group, named by the first of its
    stems in sorted order (not by the photo the union-find happens to root it at, which depends on the order the photos
    are listed in: the seeded split shuffles the sorted names)."""
    uf = _UnionFind(len(samples))
    first_of_stem: dict[str, int] = {}
    for i, s in enumerate(samples):
        uf.union(i, first_of_stem.setdefault(s.group, i))
    for i, j in near_dups or []:
        uf.union(i, j)
    roots = [uf.find(i) for i in range(len(samples))]
    name: dict[int, str] = {}
    for s, r in zip(samples, roots):
        name[r] = min(name.get(r, s.group), s.group)
    return [name[r] for r in roots]


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

    def check_seed_and_fractions(self, path: str | Path | None = None) -> None:
        """Raises ValueError naming ``path`` (where it was read from, where known) unless its seed is a whole number and
        its fractions give each of its parts a fraction 0..1: :func:`updated_group_split` places new photos by them (a
        damaged one crashed it with a traceback). Reading its parts needs neither."""
        fractions, seed = self.fractions, self.seed
        if (not isinstance(seed, int) or isinstance(seed, bool) or not isinstance(fractions, dict)
                or set(fractions) != set(self.parts) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in fractions.values())):
            where = path if path is not None else f"of {self.dataset!r}"
            raise ValueError(f"split manifest {where} has a damaged seed or fractions (seed {str(seed)[:40]}, fractions "
                             f"{str(fractions)[:80]}; a whole number, and a fraction 0..1 for each of its parts "
                             f"{', '.join(self.parts)}), by which photos added since are placed; write it again with "
                             "drywallqa data split --overwrite")


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
    by_group = _files_by_group(samples, groups, root)
    parts: dict[str, list[str]] = {p: [] for p in fractions}
    _assign(parts, by_group, fractions, seed, sum(len(v) for v in by_group.values()))
    return GroupSplit(dataset, seed, dict(fractions), parts)


def manifest_name(path: Path, root: Path) -> str:
    """How a split manifest names a photo: its path relative to the dataset's folder ``root``; ``../photos/a.jpg`` for
    one of a split folder that a dataset YAML places outside it (an absolute ``folder:`` of a split: ``data split`` and
    ``evaluate`` stopped on Python's "is not in the subpath of")."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return os.path.relpath(path, root)


def _files_by_group(samples: list[Sample], groups: list[str], root: Path) -> dict[str, list[str]]:
    by_group: dict[str, list[str]] = {}
    for s, g in zip(samples, groups):
        by_group.setdefault(g, []).append(manifest_name(s.image_path, root))
    return by_group


def _assign(parts: dict[str, list[str]], by_group: dict[str, list[str]], fractions: dict, seed: int, total: int) -> None:
    """Each group of ``by_group``, in a seeded order, to the first part after the first (val, test) it fits in (up to
    its fraction of ``total`` images), else to the first (train); each part's list sorted."""
    names = sorted(by_group)
    random.Random(seed).shuffle(names)
    order = list(fractions)
    for name in names:
        files = by_group[name]
        target = next(
            (p for p in order[1:] if len(parts[p]) + len(files) / 2 <= fractions[p] * total), order[0]
        )
        parts[target].extend(files)
    for p in parts:
        parts[p].sort()


PART_ORDER = ("train", "val", "test")  # where a photo trained on may go: only to a part before the next


def updated_group_split(old: GroupSplit, samples: list[Sample], groups: list[str],
                        root: Path) -> tuple[GroupSplit, list[tuple[str, str, str]]]:
    """``old``'s parts made group-clean again for ``groups`` (found anew, e.g. by a better copy search), moving as
    little as can be: a group ``old`` put in several parts goes whole to the first of them in :data:`PART_ORDER`
    (train, val, test, then any other part), so no photo a model was trained on moves to where models are chosen
    or scored; photos
    ``old`` does not list join their group's part, or, a group of new photos only, are assigned as
    :func:`group_clean_split` assigns (``old``'s fractions and seed). Photos ``old`` lists that the dataset no
    longer has stay where they are. -> the split, and each photo moved as ``(photo, from part, to part)``.

    Raises:
        ValueError: ``old``'s seed or fractions are damaged (:meth:`GroupSplit.check_seed_and_fractions`)."""
    old.check_seed_and_fractions()
    where = {f: part for part, files in old.parts.items() for f in files}
    # train before val before test whatever order the manifest lists them in (then any other part, in its order)
    rank = {part: (PART_ORDER.index(part) if part in PART_ORDER else len(PART_ORDER), n) for n, part in enumerate(old.parts)}
    parts = {part: list(dict.fromkeys(files)) for part, files in old.parts.items()}  # a photo listed twice: once
    moved, new = [], {}
    for group, files in _files_by_group(samples, groups, root).items():
        listed = [where[f] for f in files if f in where]
        if not listed:
            new[group] = files
            continue
        target = min(listed, key=rank.__getitem__)
        for f in files:
            if f not in where:
                parts[target].append(f)
            elif where[f] != target:
                parts[where[f]].remove(f)
                parts[target].append(f)
                moved.append((f, where[f], target))
    _assign(parts, new, old.fractions, old.seed, sum(len(v) for v in parts.values()) + sum(map(len, new.values())))
    return GroupSplit(old.dataset, old.seed, dict(old.fractions), parts), sorted(moved)


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


SPLIT_LOCK = ".split.lock"  # in `drywallqa data split`'s --out: locked (filelock) while a split writes its manifests
SPLIT_LOCK_USER = ("data split", "choose another --out")  # who holds it, and what to do instead


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


def check_split_manifest(dataset: str, splits_dir: str | Path | None = None) -> Path:
    """The group-clean split manifest of ``dataset`` (:func:`split_manifest_path`), checked to be there: for a command
    to say so before its work begins.

    Raises:
        FileNotFoundError: ``splits_dir`` is a file or lies below one (naming it), or the manifest is not there
            (saying how to write it).
    """
    from .registry import get_dataset_config

    config = get_dataset_config(dataset)
    manifest = split_manifest_path(splits_dir, config.manifest_name)
    # os.path: a name longer than the disk allows is neither, said by why_not (Path.is_file raised it: a traceback)
    if os.path.isfile(manifest.parent):  # `data split --out` a file would fail too
        raise FileNotFoundError(f"{manifest.parent} is a file; the split manifests are in a folder (<dataset>.json, as "
                                "`drywallqa data split --out FOLDER` writes them)")
    above = next((p for p in manifest.parent.parents if os.path.isfile(p)), None)
    if above is not None:  # `data split --out` that folder fails the same way: not the hint
        raise FileNotFoundError(f"{shortened(manifest.parent)} lies below {shortened(above)}, which is a file, not a "
                                "folder: no split manifest can be there; give --splits-dir (a training config's "
                                "data.splits_dir) the folder `drywallqa data split --out FOLDER` wrote them to")
    if not os.path.isfile(manifest):
        why = why_not(manifest, folder=False)
        where = ("" if splits_dir is not None else  # the default: ./splits of the folder it runs in, or the package's
                 f" (looked in ./splits of {Path.cwd()} and in the manifests shipped with the package; one written in "
                 "another folder, where a model was trained on its parts: run there, or name its folder with "
                 "--splits-dir, in a training config data.splits_dir)")
        too_long = name_too_long(manifest)  # `data split --out` that folder cannot write it either (it was the hint)
        said = (f"{shortened(manifest) if too_long else manifest}: no split manifest"
                f"{'' if why == 'not found' else f' ({why})'}{where}")
        if too_long:
            raise FileNotFoundError(f"{said}; give a --splits-dir (a training config's data.splits_dir) whose name "
                                    "the file system allows")
        raise FileNotFoundError(f"{said}; {'else ' if where else ''}run `drywallqa data split -d {config.manifest_name} "
                                f"--out {manifest.parent}` first (for a dataset of your own: -d its YAML file)")
    return manifest


def published_split_of(config, root: Path, photo: str) -> str | None:
    """The published split of ``config`` whose folder holds ``photo`` (a path relative to the dataset ``root``, as a
    manifest names it, whether or not the photo is still there), the innermost where split folders nest; None where
    none does. A split is found by its folder, which a dataset YAML may name otherwise than the split."""
    path, holder = Path(os.path.abspath(root / photo)), None
    for name, source in config.splits.items():
        folder = Path(os.path.abspath(root / source.folder))
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
    left_out: list | None = None,
) -> list[Sample]:
    """The samples of one part (``train``/``val``/``test``) of a group-clean split manifest,
    leaving out images from the published splits named in ``exclude_published`` (added to ``left_out`` when given);
    the photos the manifest names that the dataset does not give (deleted, or unreadable) are logged, and added to
    ``missing`` when given."""
    from .registry import get_dataset_config

    config = get_dataset_config(dataset)
    manifest = check_split_manifest(dataset, splits_dir)
    split = GroupSplit.from_json(manifest)
    if split.dataset != config.manifest_name:  # another dataset's parts: none of its photos would be found
        raise ValueError(f"{manifest} is the split manifest of {split.dataset!r}, not of {config.manifest_name!r} "
                         f"(copied or renamed?); write it again with drywallqa data split -d {config.manifest_name}")
    if part not in split.parts:
        raise UnknownNameError(f"{manifest} has no part {part!r}; it has {', '.join(split.parts)}")
    wanted = set(split.parts[part])
    root = config.root(datasets_dir)
    samples, _ = load_all_splits(dataset, datasets_dir)
    named = [(manifest_name(s.image_path, root), s) for s in samples]  # as the manifest names them
    have = {rel for rel, _ in named}
    missing_names = sorted(wanted - have)
    if missing_names:  # scored on fewer photos than the manifest names: say so, never silently
        logger.warning("%s: %d of the %d photos of its %s part in %s are not in the dataset, or are there and could not "
                       "be read with their label (e.g. %s); they are left out", dataset, len(missing_names), len(wanted),
                       part, manifest, missing_names[0])
    unassigned = have - {f for files in split.parts.values() for f in files}
    if unassigned:
        logger.warning("%s: %d photos are in no part of %s (added after `drywallqa data split`?); they are never used",
                       dataset, len(unassigned), manifest)
    excluded = set(exclude_published)
    if missing is not None:
        missing.extend(m for m in missing_names if published_split_of(config, root, m) not in excluded)
    if left_out is not None:
        left_out.extend(s for rel, s in named if rel in wanted and s.split in excluded)
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
    found = sum((root / f).is_file() for f in kept)
    if found:  # there, and none could be read (it said they were not found, and to point the datasets folder elsewhere)
        return (f"{found} of the {len(kept)} photos its manifest lists there are under {root}, and none of them could be "
                "read with its label (the warnings above say why: a damaged photo, a missing mask or annotation)")
    return f"none of the {len(kept)} photos its manifest lists there were found under {root}; {where}"


def make_group_split(dataset: str, datasets_dir=None, fractions: dict | None = None, seed: int = 0,
                     progress: bool = False, joined=()) -> GroupSplit:
    """Group-clean split of all published images of ``dataset`` (stems + near-duplicates grouped, and the photo
    pairs ``joined``: paths relative to the dataset's root, e.g. what :func:`read_joined` reads)."""
    from .registry import get_dataset_config

    samples, groups = _grouped_samples(dataset, datasets_dir, progress, joined)
    return group_clean_split(samples, groups, get_dataset_config(dataset).root(datasets_dir), dataset, fractions, seed)


def update_group_split(dataset: str, old: GroupSplit, datasets_dir=None, progress: bool = False,
                       joined=()) -> tuple[GroupSplit, list[tuple[str, str, str]]]:
    """:func:`updated_group_split` of ``old`` for the groups of ``dataset`` found now (and the pairs ``joined``).

    Raises:
        ValueError: ``old``'s seed or fractions are damaged, before the photos are read and grouped (minutes)."""
    from .registry import get_dataset_config

    old.check_seed_and_fractions()

    samples, groups = _grouped_samples(dataset, datasets_dir, progress, joined)
    return updated_group_split(old, samples, groups, get_dataset_config(dataset).root(datasets_dir))


def read_joined(path: str | Path) -> list[tuple[str, str]]:
    """Pairs of photos to keep in one group, from a JSON file: a list of ``[photo, photo]`` pairs, or what
    ``benchmarks/split_audit.py`` writes (each photo found with its training photo). Paths relative to the dataset's
    root, as a manifest names them.

    Raises:
        ValueError: naming the file, when it holds neither.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot be read as JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("same_photo_in_train"), dict):
        data = [[r.get("photo"), r.get("train_photo")] for rows in data["same_photo_in_train"].values()
                if isinstance(rows, list) for r in rows if isinstance(r, dict)]
    if not isinstance(data, list) or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
                                             for p in data):
        raise ValueError(f"{path}: not a list of [photo, photo] pairs, nor a split audit (benchmarks/split_audit.py)")
    return [(a, b) for a, b in data]


def _grouped_samples(dataset: str, datasets_dir, progress: bool, joined=()) -> tuple[list[Sample], list[str]]:
    """All published samples of ``dataset`` and a group id each (stems + near-duplicates + ``joined`` pairs).

    Raises:
        ValueError: a photo of ``joined`` that the dataset does not hold."""
    unread: dict[str, str] = {}
    samples, _ = load_all_splits(dataset, datasets_dir, unread)
    if not samples:
        raise ValueError(f"dataset {dataset!r}: no readable images")
    if unread:  # a manifest without a whole split would score and train on the others as if it were all
        raise ValueError(f"dataset {dataset!r}: no image read from its split " + "; ".join(
            f"{sp} ({why})" for sp, why in unread.items()) + ": make it readable, or leave it out of the dataset "
            "YAML's splits")
    from .registry import get_dataset_config

    root = get_dataset_config(dataset).root(datasets_dir)
    index = {manifest_name(s.image_path, root): n for n, s in enumerate(samples)}
    missing = sorted({p for pair in joined for p in pair if p not in index})
    if missing:
        raise ValueError(f"dataset {dataset!r} holds no photo {missing[0]!r}"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                         + " of the pairs to join (paths relative to its folder, as a manifest names them)")
    pairs = near_duplicate_pairs([s.image_path for s in samples], progress=progress)
    return samples, group_ids(samples, pairs + [(index[a], index[b]) for a, b in joined])

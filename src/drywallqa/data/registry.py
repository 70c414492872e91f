"""Dataset registry: each dataset names its folder layout and the prompts that ask for its class."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..utils.paths import not_a_file_error, why_not
from ..utils.registry import Registry


@dataclass(frozen=True)
class SplitSource:
    """Where one published split's ground truth lives.

    Attributes:
        kind: the layout of its folder, a kind of :data:`SPLIT_READERS` (:func:`register_split_reader`): ``"coco"``
            (``<split>/_annotations.coco.json``) or ``"mask_folder"`` (``<split>/*.jpg`` + ``_masks/<stem>.png``).
        folder: the split folder, relative to the dataset root.
    """

    kind: str
    folder: str


@dataclass(frozen=True)
class SplitReader:
    """How one kind of split folder (:attr:`SplitSource.kind`) is read, and found from a dataset's layout.

    Attributes:
        read: ``read(config, split, folder, problems) -> list[Sample]``: the samples of the split folder ``folder``
            (a folder: :func:`~drywallqa.data.sample.load_split` names a missing one) of the dataset ``config``;
            whatever cannot be used is appended to ``problems`` (:class:`~drywallqa.data.problems.DataProblem`), never
            raised.
        finds: ``finds(folder) -> bool``: whether a folder of a dataset whose YAML file lists no ``splits:`` is a split
            of this kind (:func:`detect_splits`); None: a split of this kind is only read where it is declared.
        layout: what ``finds`` looks for, as the error of a dataset with no split found names it (``<split>/_masks/``).
    """

    read: Callable
    finds: Callable[[Path], bool] | None = None
    layout: str = ""


SPLIT_READERS: Registry[SplitReader] = Registry("split kind")


def register_split_reader(kind: str, finds: Callable[[Path], bool] | None = None, layout: str = ""):
    """Function decorator: registers the reader of split folders of ``kind`` (what a YAML file's ``splits: {<split>:
    {kind: ...}}`` and :attr:`SplitSource.kind` name; :class:`SplitReader` says what the function, ``finds`` and
    ``layout`` are) and returns the function unchanged. ``data/sample.py`` registers the built-in ``coco`` and
    ``mask_folder``; a folder found by several kinds' ``finds`` is a split of the kind registered first.

    Raises:
        ValueError: ``kind`` is already registered.
    """
    def register(read):
        SPLIT_READERS.add(kind, SplitReader(read, finds, layout))
        return read

    return register


def split_kinds() -> tuple[str, ...]:
    """The registered split kinds (what a YAML file may declare), sorted."""
    return tuple(SPLIT_READERS.names())


@dataclass(frozen=True)
class DatasetConfig:
    """A dataset and the prompts that ask for its foreground class.

    ``prompts[0]`` is the canonical prompt; the rest are synonyms the model is trained and scored on.
    ``label_shape`` is ``"box"`` when the ground truth is bounding boxes only (then a model may turn
    its masks for these prompts into boxes, if that wins on validation), else ``"region"``.
    ``concept`` names what the labels show when two datasets label one thing (e.g. the taping photos' boxes
    and strips refined from them): their prompts are never negatives of each other. Default: ``name``.
    ``manifest`` names the dataset whose group-clean split manifest this one uses, for a dataset made from
    another's photos under the same relative paths (masks refined from its boxes): the same photos fall in the
    same parts. Default: ``name``. ``categories`` names the COCO categories whose annotations are the foreground
    (default: all of them, with a problem where they are of several).
    """

    name: str
    folder: str
    prompts: tuple[str, ...]
    splits: dict[str, SplitSource] = field(default_factory=dict)
    label_shape: str = "region"
    concept: str | None = None
    manifest: str | None = None
    categories: tuple[str, ...] | None = None

    @property
    def concept_name(self) -> str:
        return self.concept or self.name

    @property
    def declared(self) -> bool:
        """Whether it was declared in a YAML file (its folder resolved to an absolute path when read), not registered
        with the package (a folder in the datasets folder: cracks, taping)."""
        return Path(self.folder).is_absolute()

    @property
    def manifest_name(self) -> str:
        return self.manifest or self.name

    @property
    def canonical_prompt(self) -> str:
        return self.prompts[0]

    def root(self, datasets_dir: str | Path | None = None) -> Path:
        """The dataset's folder: ``folder`` below ``datasets_dir`` (an absolute ``folder``, as YAML-declared
        datasets have, stands alone)."""
        return Path(datasets_dir or default_datasets_dir()) / self.folder


DATASETS: Registry[DatasetConfig] = Registry("dataset")


def register_dataset(config: DatasetConfig) -> DatasetConfig:
    """Registers ``config`` under ``config.name`` (what ``-d`` and ``data.datasets`` name) and returns it. A dataset
    of your own needs none of this: a YAML file (docs/data.md, "Your own dataset") is registered when it is read.

    Raises:
        ValueError: the name is already registered.
    """
    return DATASETS.add(config.name, config)


def get_dataset_config(name: str, datasets_dir: str | Path | None = None) -> DatasetConfig:
    """A registered dataset, or one declared in a YAML file (a path ending in ``.yaml``/``.yml``; its ``{datasets}``
    folder below ``datasets_dir`` where given, :func:`resolve_dataset`)."""
    return DATASETS.get(resolve_dataset(name, datasets_dir))


class DatasetListedTwice(ValueError):
    """One dataset named twice among the datasets of a command or a training config (:func:`unique_datasets`)."""


def unique_datasets(datasets, resolve=None) -> list[str]:
    """Registered names of ``datasets`` (names or YAML files), in the order given. ``resolve`` (default
    :func:`resolve_dataset`) says which dataset an entry names; ``str`` compares the entries as written (no file read).

    Raises:
        DatasetListedTwice: naming a dataset listed twice (the same entry twice, a name and its YAML file, or one
            file under two paths): its photos would be read, trained on or scored twice, and which of the two was
            meant (another dataset mistyped as this one?) is the user's to say, never merged in silence.
        ValueError: ``datasets`` is one text or path, not a list of them.
    """
    if isinstance(datasets, (str, bytes, os.PathLike)):  # its letters were taken for datasets: "'c' is listed twice"
        raise ValueError(f"datasets: a list of dataset names or YAML files, e.g. [{str(datasets)!r}]; got the one "
                         f"{'text' if isinstance(datasets, (str, bytes)) else 'path'} {str(datasets)!r}")
    names: dict[str, str] = {}  # name -> the entry that named it first
    for d in datasets:
        name = (resolve or resolve_dataset)(d)
        if name in names:
            entries = f" ({names[name]!r} and {str(d)!r})" if names[name] != str(d) else ""
            raise DatasetListedTwice(f"dataset {name!r} is listed twice{entries}: name each dataset once")
        names[name] = str(d)
    return list(names)


def check_datasets_given(datasets) -> None:
    """ValueError, naming ``datasets``, where it names no dataset (an empty list: ship failed deep in numpy, "need at
    least one array to stack", a confidence calibration with "validation needs at least one photo per dataset") or
    one text or path instead of a list of them (:func:`unique_datasets`)."""
    if isinstance(datasets, (str, bytes, os.PathLike)):
        unique_datasets(datasets)
    if hasattr(datasets, "__len__") and len(datasets) == 0:
        raise ValueError("datasets: no dataset given; give the datasets the model was trained on, e.g. "
                         "['cracks', 'taping']")


def datasets_by_concept(datasets) -> dict[str, list[str]]:
    """``concept -> [dataset names]`` of ``datasets`` (names or YAML files), in the order given (one listed twice:
    :func:`unique_datasets`)."""
    groups: dict[str, list[str]] = {}
    for d in unique_datasets(datasets):
        config = get_dataset_config(d)
        groups.setdefault(config.concept_name, []).append(config.name)
    return groups


def answer_datasets(datasets) -> dict[str, list[str]]:
    """``concept -> [dataset names]`` whose labels score the masks a model answers with for that concept: the
    region-labelled datasets of the concept when it has any (e.g. strips refined from box labels), else all of
    them (box labels score a model's masks through a box adapter only)."""
    answer = {}
    for concept, names in datasets_by_concept(datasets).items():
        region = [n for n in names if DATASETS.get(n).label_shape == "region"]
        answer[concept] = region or names
    return answer


def label_shape_of(prompt: str, concept: str | None = None) -> str | None:
    """The label shape of the dataset a prompt asks for: the dataset named like its nearest known concept (the
    prompt gate's ``concept``), else the registered dataset that lists the prompt; None when there is none."""
    if concept in DATASETS:
        return DATASETS.get(concept).label_shape
    folded = prompt.casefold().strip()
    for name in DATASETS.names():
        if folded in (q.casefold() for q in DATASETS.get(name).prompts):
            return DATASETS.get(name).label_shape
    return None


def measures_joints(prompt: str, concept: str | None = None) -> bool:
    """Whether a prompt's masks get taped-joint measures (:func:`drywallqa.measures.joint_measures`): its dataset
    (:func:`label_shape_of`) is labelled with boxes around the joints."""
    return label_shape_of(prompt, concept) == "box"


# the files `data refine-masks` writes beside the split folders <out>/<split>/ of its refined dataset: a split of one
# of these names crashed it with a traceback (its folder where the file goes, or the file where its folder goes)
REFINE_OUT_FILES = ("progress.jsonl", "report.json", "preview.png")
LABEL_SHAPES = ("region", "box")
_YAML_KEYS = {"name", "folder", "prompts", "splits", "label_shape", "concept", "manifest", "categories"}


def detect_splits(root: Path) -> dict[str, SplitSource]:
    """Split folders of an export found from its layout: each folder of ``root`` is a split of the first registered
    kind whose reader finds it (:class:`SplitReader`): ``<split>/_annotations.coco.json`` (COCO), else
    ``<split>/_masks/`` (image/mask folder)."""
    finders = [(kind, reader.finds) for kind, reader in SPLIT_READERS.items() if reader.finds is not None]
    found = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        kind = next((kind for kind, finds in finders if finds(sub)), None)
        if kind is not None:
            found[sub.name] = SplitSource(kind, sub.name)
    return found


COCO_FILE = "_annotations.coco.json"  # a COCO split's annotations, in its folder beside its photos


def coco_files_hint(folder: Path, depth: int = 1) -> str:
    """What to do with the JSON files of ``folder`` (``depth`` 2: and of its folders) that are not a split's
    :data:`COCO_FILE`: a COCO file of another name, as other tools export it (CVAT's annotations/instances_default.json
    beside images/, Label Studio's result.json), was not found, and the error did not say what it lacked. "" for none."""
    found = []
    try:
        for p in sorted(folder.iterdir()):
            if p.name.startswith("."):
                continue
            if p.suffix.lower() == ".json" and p.name != COCO_FILE and p.is_file():
                found.append(p.name)
            elif depth > 1 and p.is_dir():
                found += [f"{p.name}/{q.name}" for q in sorted(p.iterdir()) if q.suffix.lower() == ".json"
                          and q.name != COCO_FILE and not q.name.startswith(".") and q.is_file()]
    except OSError:
        return ""
    if not found:
        return ""
    return (f" (it holds {', '.join(found[:3])}{', ...' if len(found) > 3 else ''}: a COCO file is read only as "
            f"{COCO_FILE} in the folder of the photos it labels, e.g. move annotations/instances_default.json to "
            f"images/{COCO_FILE})")


MASK_FOLDER_NAMES = ("masks", "mask", "labels", "label", "gt", "ground_truth", "groundtruth", "segmentationclass",
                     "annotations")  # what tools and tutorials name a folder of masks (a mask-folder split's: _masks)


def holds_masks(folder: Path) -> bool:
    """Whether ``folder`` (one of :data:`MASK_FOLDER_NAMES`) holds PNG masks (a labels/ of YOLO text files holds none:
    renamed to _masks it reads no mask either)."""
    return any(p.suffix.lower() == ".png" and not p.name.startswith(".") for p in folder.iterdir())


def mask_folders_hint(root: Path) -> str:
    """What to do with a folder of PNG masks under ``root`` (or one of its folders) of another name than ``_masks``
    (:data:`MASK_FOLDER_NAMES`: ``train/masks/``, ``masks/`` beside ``images/``): it was not found, and the error said
    only to list the splits, which read every photo as having no mask. "" for none."""
    try:
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            if sub.name.casefold() in MASK_FOLDER_NAMES and holds_masks(sub):
                return (f" ({sub.name}/ holds masks (PNG): a mask-folder split reads them from <split>/_masks/<the "
                        f"photo's stem>.png, beside its photos in <split>/: e.g. move the photos into train/ and "
                        f"{sub.name}/ to train/_masks/)")
            for inner in sorted(p for p in sub.iterdir() if p.is_dir()):
                if inner.name.casefold() in MASK_FOLDER_NAMES and holds_masks(inner):
                    return (f" ({sub.name}/{inner.name}/ holds masks (PNG): a mask-folder split reads them from "
                            f"{sub.name}/_masks/<the photo's stem>.png: rename {sub.name}/{inner.name}/ to "
                            f"{sub.name}/_masks/)")
    except OSError:
        return ""
    return ""


def _found_layouts() -> str:
    """The layouts :func:`detect_splits` finds, as the error of a dataset with none names them."""
    return " or ".join(reader.layout for _, reader in SPLIT_READERS.items() if reader.finds is not None)


_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def load_dataset_config(path: str | Path, datasets_dir: str | Path | None = None) -> DatasetConfig:
    """A dataset declared in a YAML file, so that your own export works with every command::

        name: my_walls                      # used in reports and split manifests
        folder: exports/my-walls.coco       # relative to this file, or absolute, or {datasets}/<folder>: in the
                                            # datasets folder ($DRYWALLQA_DATASETS, else ../shared/datasets)
        prompts: [segment crack, segment wall crack]   # the first one is the canonical prompt
        label_shape: region                 # or box, when the labels are bounding boxes only
        concept: walls                      # optional: datasets labelling one thing share it (no negatives)
        manifest: walls_boxes               # optional: use that dataset's split manifest (same photos, same paths)
        categories: [crack]                 # optional: the COCO categories read as the label (default: all)
        splits:                             # optional; found from the layout when left out
          train: {kind: coco, folder: train}          # or {kind: mask_folder, folder: train}

    ``{datasets}`` is ``datasets_dir`` where given (a command's ``--datasets-dir``), else :func:`default_datasets_dir`.
    Raises ``ValueError`` naming the file for anything it cannot use.
    """
    import yaml

    from ..utils.yamlfile import describe_error, safe_load

    path = Path(path)
    if not path.is_file():
        raise not_a_file_error(path, "dataset file")
    try:
        d = safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({describe_error(exc)})") from None
    except UnicodeDecodeError as exc:  # another encoding, or not text: the error named no file
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a mapping with keys {sorted(_YAML_KEYS)}")
    unknown = set(d) - _YAML_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(_YAML_KEYS)}")
    for key in ("name", "folder", "prompts"):
        if not d.get(key):  # "prompts: []" is there, and empty: said so
            raise ValueError(f"{path}: {key!r} is required" if d.get(key) is None else
                             f"{path}: {key!r} is empty ({d[key]!r}); give it a value")
    for key in ("name", "manifest"):  # both become file names (<name>.json manifests): no path in them
        if isinstance(d.get(key), int) and not isinstance(d[key], bool):  # name: 2024
            d[key] = str(d[key])
        if d.get(key) is not None and not (isinstance(d[key], str) and _NAME.fullmatch(d[key])):
            raise ValueError(f"{path}: {key} must be a name of letters, digits, '_', '-' or '.' (not starting with "
                             f"'.'), got {d[key]!r}")
    if not isinstance(d["folder"], str):
        raise ValueError(f"{path}: folder must be a path, got {d['folder']!r}")
    if d.get("splits") is not None and not isinstance(d["splits"], dict):
        raise ValueError(f"{path}: splits must map split names to {{kind, folder}}, got {d['splits']!r}")
    from ..text.prompts import check_prompt, normal_form  # the rules every prompt that is asked meets

    prompts = d["prompts"] if isinstance(d["prompts"], list) else [d["prompts"]]
    try:
        prompts = [check_prompt(x) for x in prompts]
    except ValueError as exc:
        raise ValueError(f"{path}: prompts: {exc}") from None
    forms = [normal_form(x) for x in prompts]  # "Segment  Crack" is "segment crack" to a segmenter: trained twice
    if len(set(forms)) < len(forms):
        raise ValueError(f"{path}: prompts are listed twice (case and spacing aside): "
                         f"{[x for x, f in zip(prompts, forms) if forms.count(f) > 1]}")
    label_shape = d.get("label_shape", "region")
    if label_shape not in LABEL_SHAPES:
        raise ValueError(f"{path}: label_shape must be one of {LABEL_SHAPES}, got {label_shape!r}")
    concept, manifest = d.get("concept"), d.get("manifest")
    for key, value in (("concept", concept), ("manifest", manifest)):
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ValueError(f"{path}: {key} must be a non-empty string, got {value!r}")
    categories = d.get("categories")
    if categories is not None:
        categories = categories if isinstance(categories, list) else [categories]
        if not categories or not all(isinstance(c, (str, int)) and not isinstance(c, bool) and str(c).strip()
                                     for c in categories):
            raise ValueError(f"{path}: categories must list COCO category names, e.g. [crack], got {d['categories']!r}")
        categories = tuple(str(c).strip() for c in categories)
    root = _declared_folder(path, d["folder"], datasets_dir)
    why = "" if root.is_dir() else why_not(root, folder=True)
    if why and why != "not found":  # a file, below one: not "no split folders"
        raise ValueError(f"{path}: folder {root} {why}")
    if d.get("splits"):
        splits = {}
        for split, src in d["splits"].items():
            split = str(split)  # splits: {2024: ...}: a year is a name too
            if (not split.strip() or split.startswith(".") or any(c in split for c in "/\\\0")
                    or len(split.encode("utf-8", "surrogateescape")) > 255):
                # it names output folders (refine-masks writes <out>/<split>/): one folder, inside <out>
                raise ValueError(f"{path}: a split name must be a folder name (not empty, no '/' or '\\', not starting "
                                 f"with '.', at most 255 bytes), got {split[:100]!r}")
            if (not isinstance(src, dict) or not isinstance(src.get("kind"), str) or src["kind"] not in SPLIT_READERS
                    or not isinstance(src.get("folder", ""), str)):
                raise ValueError(f"{path}: split {split!r} needs kind: one of {split_kinds()} (and folder:), "
                                 f"got {src!r}")
            extra = sorted(map(str, set(src) - {"kind", "folder"}))
            if extra:  # "annotations: instances_default.json" was ignored, and the split read its default file
                raise ValueError(f"{path}: split {split!r}: unknown keys {extra}; a split has kind and folder only (a "
                                 f"COCO split's annotations are its folder's _annotations.coco.json)")
            splits[split] = SplitSource(src["kind"], str(src.get("folder", split)))
    else:
        splits = detect_splits(root)
        if not splits:
            raise ValueError(f"{path}: no split folders found under {root} (expected {_found_layouts()}); list them "
                             f"under splits:{coco_files_hint(root, depth=2) or mask_folders_hint(root)}")
    folders = {}
    for split, src in splits.items():  # one folder as train and valid: its photos counted twice, valid = train; found
        where = _resolved(path, root / src.folder, f"split {split!r}: folder")  # from the layout too (test a link to
        if where in folders:  # valid: it was read as a split of its own)
            raise ValueError(f"{path}: splits {folders[where]!r} and {split!r} are both the folder {src.folder!r} "
                             f"({where}; a link to the other?): a split is a folder of its own")
        folders[where] = split
    taken = [split for split in splits if split in REFINE_OUT_FILES]
    if taken:
        raise ValueError(f"{path}: a split may not be named {taken[0]!r}, the name of a file `drywallqa data "
                         "refine-masks` writes beside the split folders of its output; name it otherwise (splits: "
                         "{<name>: {kind: ..., folder: ...}})")
    return DatasetConfig(str(d["name"]), str(root), tuple(x.strip() for x in prompts), splits, label_shape,
                         concept.strip() if concept else None, manifest.strip() if manifest else None, categories)


DATASETS_PLACEHOLDER = "{datasets}"


def _declared_folder(path: Path, folder: str, datasets_dir: str | Path | None = None) -> Path:
    """A YAML declaration's ``folder``: ``{datasets}/<folder>`` below ``datasets_dir``, else :func:`default_datasets_dir`
    (so a declaration of a shared dataset's photos works wherever the datasets are), else relative to the file (``~/``
    the home folder)."""
    if folder == DATASETS_PLACEHOLDER or folder.startswith(DATASETS_PLACEHOLDER + "/"):
        rest = Path(folder[len(DATASETS_PLACEHOLDER):].lstrip("/"))
        if rest.is_absolute() or ".." in rest.parts:
            raise ValueError(f"{path}: folder {folder!r}: below {DATASETS_PLACEHOLDER} a folder inside the datasets "
                             "folder, without '..'")
        return _resolved(path, Path(datasets_dir or default_datasets_dir()) / rest, "folder")
    if "{" in folder and DATASETS_PLACEHOLDER[1:-1] in folder:
        raise ValueError(f"{path}: folder {folder!r}: {DATASETS_PLACEHOLDER} only at its start, as "
                         f"'{DATASETS_PLACEHOLDER}/<folder>'")
    # "~/walls": the home folder's (as a shell reads it), not a folder named "~" beside the file; with no home folder,
    # as written (os.path.expanduser, unlike Path.expanduser, does not raise)
    return _resolved(path, path.parent / os.path.expanduser(folder), "folder")


def _resolved(path: Path, folder: Path, what: str) -> Path:
    """``folder`` (of the declaration ``path``) resolved; ValueError naming ``path`` where it cannot be: a loop of
    symbolic links (it was a "RuntimeError: Symlink loop" traceback), a name too long."""
    try:
        return folder.resolve()
    except (RuntimeError, OSError) as exc:
        raise ValueError(f"{path}: {what} {folder} cannot be followed ({exc})") from None


def is_dataset_file(name_or_path: str | Path) -> bool:
    """Whether a dataset is given by its YAML file (``my_walls.yaml``), not by a registered name."""
    return str(name_or_path).lower().endswith((".yaml", ".yml"))  # walls.YAML too: it was an "unknown dataset"


def resolve_dataset(name_or_path: str | Path, datasets_dir: str | Path | None = None) -> str:
    """The registered name of a dataset given by name or by its YAML file (registered on first use, its
    ``{datasets}`` folder below ``datasets_dir`` where given; loading the same declaration again is a no-op, a
    different one under a taken name is an error)."""
    key = str(name_or_path)
    if key in DATASETS or not is_dataset_file(key):
        return key
    config = load_dataset_config(key) if datasets_dir is None else load_dataset_config(key, datasets_dir)
    if config.name in DATASETS:
        if DATASETS.get(config.name) != config:
            raise ValueError(f"{key}: dataset name {config.name!r} is already registered with another definition")
        return config.name
    register_dataset(config)
    return config.name


def list_datasets() -> list[str]:
    """The registered dataset names, sorted (the built-in ones, and YAML-declared ones read so far)."""
    return DATASETS.names()


def default_datasets_dir() -> Path:
    """``$DRYWALLQA_DATASETS`` (a leading ``~`` the home folder: an env file or a service's ``Environment=`` passes
    it as it is), else ``../shared/datasets`` beside the working directory or the repo."""
    env = os.environ.get("DRYWALLQA_DATASETS")
    if env:
        return Path(os.path.expanduser(env))  # with no home folder, as written: "not found" where it is read
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

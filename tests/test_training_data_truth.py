"""What the training data pairs: every item's prompt, image and target agree (data/prompted.py, data/composite.py,
engine/trainer.py's prompt lists)."""

import numpy as np

from drywallqa.data.prompted import PromptedSegmentationDataset


def test_a_dataset_both_target_and_source_of_transplants_gives_only_labelled_sources():
    # (0 -> 1) and (1 -> 2): dataset 1 is a target of one pair (all its photos) and the source of the other (only its
    # labelled photos: a transplant of an empty label asked with its prompt taught "no such thing" on a photo of 2)
    size = 16
    red, green, blue = ([255, 0, 0], [0, 255, 0], [0, 0, 255])
    images = np.zeros((6, size, size, 3), np.uint8)
    for k, colour in enumerate([red, red, green, green, blue, blue]):
        images[k] = colour
    masks = np.zeros((6, size, size), bool)
    masks[0, 4:8] = masks[2, :, 4:8] = True       # dataset 1: one labelled photo (2), one not (3)
    ds = PromptedSegmentationDataset(images, masks, [0, 0, 1, 1, 2, 2], [["a"], ["b"], ["c"]], negative_ratio=0.0,
                                     composite_pairs=[(0, 1), (1, 2)], composite_ratio=50.0)
    ds.seed_items([0, 0])
    checked = 0
    for index in range(6, len(ds)):
        item = ds[index]
        on_blue = item["pixel_values"][2].mean() > 0.5   # the target photo is one of dataset 2's
        if on_blue and item["prompt_index"] == 1:          # dataset 1's prompt: its transplanted label
            assert item["mask"].sum() == size * 4, index
            checked += 1
    assert checked > 20


def test_unrelated_prompts_leave_out_the_things_a_training_dataset_asks_for(tmp_path, caplog):
    # a dataset of one's own labelling water stains: "segment water stain" was also an unrelated prompt (and "find the
    # water stain", ...), asked of every photo, its own too, against an empty mask: the one text taught both ways
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import training_prompts
    from drywallqa.text import vocabulary
    from drywallqa.text.prompts import normal_form

    assert "segment water stain" in vocabulary.unrelated("train")  # the case this test is about
    (tmp_path / "stains.yaml").write_text("name: stains_h215\nfolder: .\nprompts: [Segment  Water Stain, mark damp]\n"
                                          "splits:\n  train: {kind: mask_folder, folder: train}\n")
    cfg = TrainConfig().with_overrides([f"data.datasets=[{tmp_path / 'stains.yaml'}, cracks]", "data.unrelated_ratio=0.25"])
    with caplog.at_level("WARNING", logger="drywallqa.engine.trainer"):
        prompts, unrelated = training_prompts(cfg)
    assert not [u for u in unrelated if "water stain" in normal_form(u)]
    assert "segment window" in unrelated and "segment mould" in unrelated   # the rest stay
    assert prompts[-len(unrelated):] == unrelated and "Segment  Water Stain" in prompts
    assert any("water stain" in r.getMessage() and "stains_h215" in r.getMessage() for r in caplog.records)
    # the shipped datasets ask for none of them: the list is as generated
    assert training_prompts(TrainConfig().with_overrides(["data.unrelated_ratio=0.25"]))[1] == vocabulary.unrelated("train")


def test_a_transplanted_thin_crack_is_as_dark_under_its_label_as_in_its_photo():
    # the feather (a Gaussian of the label) is the label's soft edge outside it; inside a 2-px crack's label it pasted
    # 40% of the crack's darkening: a label over a line the photo hardly shows
    from drywallqa.data.composite import shading_ratio, transplant

    source = np.full((48, 48, 3), 180, np.uint8)
    source[:, 20:22] = 60
    label = np.zeros((48, 48), bool)
    label[:, 20:22] = True
    target = np.full((48, 48, 3), 200, np.uint8)
    out = transplant(target, source, label, sigma=6.0, feather=2.0).astype(float)
    want = 200 * np.clip(shading_ratio(source, 6.0), 0.15, 1.0)
    assert np.abs(out[..., 0][label] - want[label]).max() <= 1.0
    assert (out[:, 30:] == 200).all() and (out[:, :12] == 200).all()  # away from the label nothing changes


def test_crops_enlarged_from_photos_decoded_smaller_than_the_model_size_are_named(
        synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, caplog, monkeypatch):
    # data.cache_size below model_config.image_size (docs/training.md's own example had 320 for 384): every training
    # crop was an enlargement (blurred, thin cracks widened) of what validation and prediction read sharp, unsaid
    import torch

    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models.base import PromptedSegmentationModel

    monkeypatch.setattr(PromptedSegmentationModel, "prompt_embeddings",  # the sentence encoder's load: seconds
                        lambda self, prompts, encoder: torch.zeros(len(prompts), self.config.text_dim))
    cfg = TrainConfig.from_dict({
        "model_config": {**tiny_kwargs, "text_dim": 384},  # 64 px; text_dim given: the encoder is not loaded
        "data": {"datasets": ["syn_crack", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                 "splits_dir": str(syn_splits), "cache_size": 48, "cache_dir": None},
        "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})
    trainer = Trainer(cfg, progress=False)

    def build(cache_size):
        trainer.config.data.cache_size = cache_size
        caplog.clear()
        with caplog.at_level("WARNING", logger="drywallqa.engine.trainer"):
            trainer.build_data()
        return [r.getMessage() for r in caplog.records if "data.cache_size" in r.getMessage()]

    said = build(48)
    assert len(said) == 1 and "data.cache_size 48" in said[0] and "image_size 64" in said[0], said
    assert build(72) == []


def test_a_photo_two_datasets_of_other_concepts_label_is_asked_neither_ones_prompt_against_an_empty_mask():
    # one COCO export of cracks and stains declared as two datasets (categories: [crack], categories: [stain]) on the
    # same photos: a negative pair asked "segment stain" of a crack dataset's copy of a photo against an empty mask,
    # while the stain dataset's copy of it labels the stain
    size, n = 8, 4
    shared = np.stack([np.full((size, size, 3), 10 + k, np.uint8) for k in range(n)])
    other = np.stack([np.full((size, size, 3), 200 + k, np.uint8) for k in range(n)])
    crack, stain = np.zeros((n, size, size), bool), np.zeros((n, size, size), bool)
    crack[:, :2] = stain[:, -2:] = True
    images = np.concatenate([shared, shared, other])
    masks = np.concatenate([crack, stain, np.zeros_like(crack)])
    photos = [f"p{k}" for k in range(n)] * 2 + [f"q{k}" for k in range(n)]
    ds = PromptedSegmentationDataset(images, masks, [0] * n + [1] * n + [2] * n,
                                     [["segment crack"], ["segment stain"], ["segment tape"]], negative_ratio=20.0,
                                     concepts=["crack", "stain", "tape"], photos=photos)
    ds.seed_items([0, 0])
    asked = set()
    for index in range(3 * n, len(ds)):
        item = ds[index]
        of_shared = item["pixel_values"][0, 0, 0] < 0.5
        if of_shared:
            assert item["prompt_index"] == 2, index       # only the prompt of a dataset that labels none of it
        assert item["mask"].sum() == 0
        asked.add((bool(of_shared), item["prompt_index"]))
    assert asked == {(True, 2), (False, 0), (False, 1)}


def test_the_trainer_names_each_training_photo_so_datasets_sharing_photos_are_seen(
        synthetic_datasets, syn_splits, tmp_path, tiny_kwargs, monkeypatch):
    import torch

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer
    from drywallqa.models.base import PromptedSegmentationModel

    monkeypatch.setattr(PromptedSegmentationModel, "prompt_embeddings",
                        lambda self, prompts, encoder: torch.zeros(len(prompts), self.config.text_dim))
    # the crack photos under a second label set of another concept (the same folder, its own prompt)
    registry.register_dataset(DatasetConfig("syn_stain_h215", "crack", ("segment stain",),
                                            {"train": SplitSource("mask_folder", "train"),
                                             "valid": SplitSource("coco", "valid")}, manifest="syn_crack"))
    try:
        cfg = TrainConfig.from_dict({
            "model_config": {**tiny_kwargs, "text_dim": 384},
            "data": {"datasets": ["syn_crack", "syn_stain_h215", "syn_tape"], "datasets_dir": str(synthetic_datasets),
                     "splits_dir": str(syn_splits), "cache_size": 72, "cache_dir": None, "negative_ratio": 8.0},
            "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})
        trainer = Trainer(cfg, progress=False)
        trainer.build_data()
    finally:
        registry.DATASETS.remove("syn_stain_h215")
    ds = trainer.train_set
    ds.transform = None  # the photo an item shows, found among the decoded ones
    ds.seed_items([0, 0])
    crack_photos = ds.images[np.isin(ds.dataset_ids, [0, 1])]
    tape_prompts = set(ds.prompt_ids[2])
    negatives_on_cracks = 0
    for index in range(len(ds.images), len(ds)):
        item = ds[index]
        shown = (item["pixel_values"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        if any(np.array_equal(shown, p) for p in crack_photos):
            assert item["prompt_index"] in tape_prompts, index   # never "segment stain" nor "segment crack"
            negatives_on_cracks += 1
    assert negatives_on_cracks > 10


def test_a_photo_left_out_of_the_array_cache_is_read_again_once_it_reads(tmp_path, monkeypatch):
    # a photo that could not be read once (no read permission, a disk error) was left out of the cached arrays for
    # good: a fix that changes neither its size nor its time (chmod) left it out of every later run, the warning
    # saying "fix or remove them, and they are read again"
    from PIL import Image

    from drywallqa.data import cache
    from drywallqa.data.sample import Sample

    samples = []
    for k in range(3):
        path = tmp_path / f"p{k}.png"
        Image.fromarray(np.full((20, 20, 3), 40 * k, np.uint8)).save(path)
        samples.append(Sample(path, "d", "train", 20, 20, annotations=[]))
    read = cache.read_image

    def unreadable(path, **kw):
        if path == samples[1].image_path:
            raise PermissionError(13, "Permission denied", str(path))
        return read(path, **kw)

    monkeypatch.setattr(cache, "read_image", unreadable)
    assert cache.load_arrays(samples, 16, tmp_path / "c")[2] == [0, 2]
    monkeypatch.setattr(cache, "read_image", read)   # its permission given back: the same size and time
    images, _, kept = cache.load_arrays(samples, 16, tmp_path / "c")
    assert kept == [0, 1, 2] and images[1].mean() == 40
    assert cache.load_arrays(samples, 16, tmp_path / "c")[2] == [0, 1, 2]

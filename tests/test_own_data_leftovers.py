"""Leftovers of bringing one's own annotated photos: a COCO entry without a size, a YAML's categories no photo has,
a uniformly shrunk copy scored as training reads it (tiny datasets made on the fly)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from drywallqa.data import registry
from drywallqa.data.sample import load_split

W, H = 32, 24
BOX = [2, 2, 8, 6]
POLY = [[2, 2, 10, 2, 10, 8, 2, 8]]  # the box BOX as an outline


def _coco(tmp_path, names, name, images, annotations, photos=None, categories=None, yaml_categories=None,
          splits=("valid",)):
    """A COCO dataset ``name`` of the photos ``{file: (w, h)}`` in each split; returns its YAML's path."""
    photos = photos if photos is not None else {"a.jpg": (W, H), "b.jpg": (W, H)}
    for split in splits:
        folder = tmp_path / name / split
        folder.mkdir(parents=True, exist_ok=True)
        for k, (file, (w, h)) in enumerate(photos.items()):  # each photo of its own (none a copy of another)
            rng = np.random.default_rng([k, len(split)])
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / file)
        coco = {"images": images, "annotations": annotations}
        if categories is not None:
            coco["categories"] = categories
        (folder / "_annotations.coco.json").write_text(json.dumps(coco))
    spec = {"name": name, "folder": str(tmp_path / name), "prompts": ["segment crack"],
            "splits": {s: {"kind": "coco", "folder": s} for s in splits}}
    if yaml_categories is not None:
        spec["categories"] = yaml_categories
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    names.append(name)
    return path


# ------------------------------------------------------------------------------------------------ 1. no width/height
@pytest.mark.parametrize("size", [{}, {"width": 0, "height": 0}, {"width": None, "height": None}, {"width": W}])
def test_a_coco_entry_without_its_size_takes_it_from_the_photo(tmp_path, names, size):
    """Many tools omit an image entry's width and height, or write 0: every such photo was refused ("KeyError:
    'height'", "height, width positive"); its size is read from the file's header, without a word."""
    path = _coco(tmp_path, names, "unsized", [{"id": 1, "file_name": "a.jpg", **size}],
                 [{"id": 10, "image_id": 1, "bbox": BOX, "segmentation": POLY}], photos={"a.jpg": (W, H)})
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [(s.image_path.name, s.width, s.height) for s in samples] == [("a.jpg", W, H)], problems
    assert not [p for p in problems if "a.jpg" in str(p)], problems
    assert samples[0].load_mask().sum() == 48


def test_a_coco_entry_without_its_size_whose_file_cannot_be_read_is_named(tmp_path, names):
    path = _coco(tmp_path, names, "unsized_broken", [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg",
                                                                                       "width": W, "height": H}], [])
    (tmp_path / "unsized_broken" / "valid" / "a.jpg").write_bytes(b"not a photo")
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["b.jpg"]
    said = [str(p) for p in problems if "a.jpg" in str(p)]
    assert len(said) == 1 and "image id 1" in said[0] and "no width and height" in said[0] \
        and "not a readable image" in said[0], said


# ------------------------------------------------------------------------- 2. categories the COCO file does not have
def _train_config(tmp_path, dataset_yaml, tiny_kwargs):
    from drywallqa.data.grouping import make_group_split
    from drywallqa.engine.config import TrainConfig

    name = registry.get_dataset_config(str(dataset_yaml)).name
    make_group_split(name, None, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0).to_json(
        tmp_path / "splits" / f"{name}.json")
    return TrainConfig.from_dict({
        "model_config": tiny_kwargs,
        "data": {"datasets": [str(dataset_yaml)], "splits_dir": str(tmp_path / "splits"), "cache_size": 64,
                 "cache_dir": None, "exclude_published": []},
        "optim": {"lr": 1e-3, "batch_size": 4, "epochs": 1, "warmup_steps": 1},
        "output_dir": str(tmp_path / "run"), "bf16": False, "device": "cpu"})


def _categorised(tmp_path, names, name, yaml_categories):
    photos = {f"p{i}.jpg": (W, H) for i in range(8)}
    images = [{"id": i, "file_name": f"p{i}.jpg", "width": W, "height": H} for i in range(8)]
    anns = [{"id": 10 + i, "image_id": i, "category_id": 1, "bbox": BOX, "segmentation": POLY} for i in range(8)]
    return _coco(tmp_path, names, name, images, anns, photos=photos, categories=[{"id": 1, "name": "crack"}],
                 yaml_categories=yaml_categories, splits=("train", "valid"))


def test_training_on_categories_no_coco_file_has_is_refused(tmp_path, names, tiny_kwargs):
    """categories: [hole] in the YAML, a file of cracks: every photo read as showing nothing, and `train` trained the
    prompt on all-empty masks with a warning; it is refused, naming the dataset, the categories asked and those the
    file has."""
    from drywallqa.engine.trainer import Trainer

    cfg = _train_config(tmp_path, _categorised(tmp_path, names, "holes_asked", ["hole"]), tiny_kwargs)
    with pytest.raises(ValueError) as refused:
        Trainer(cfg, progress=False).train(max_minutes=1e-9)
    said = str(refused.value)
    assert "'holes_asked'" in said and "['hole']" in said and "['crack']" in said and "categories:" in said, said
    assert not (tmp_path / "run" / "last.pt").exists()


def test_training_on_categories_some_photos_have_goes_on(tmp_path, names, tiny_kwargs):
    from drywallqa.engine.trainer import Trainer

    cfg = _train_config(tmp_path, _categorised(tmp_path, names, "cracks_or_holes", ["crack", "hole"]), tiny_kwargs)
    assert Trainer(cfg, progress=False).train(max_minutes=1e-9)["stopped"] == "time"


# --------------------------------------------------------------------- 3. a uniformly shrunk copy of a labelled photo
def test_a_uniformly_shrunk_copy_is_scored_with_its_label_shrunk_as_training_reads_it(tmp_path, names, tiny_model_dir):
    """The COCO reader takes a photo smaller than its entry declares, of the same shape (a packed copy), and training
    reads its label drawn at the declared size and shrunk to the photo; `evaluate` refused every such photo ("none of
    its images could be scored", exit 1). It is scored with its label shrunk so, and the report says so."""
    from drywallqa import Segmenter
    from drywallqa.data.cache import resize_mask
    from drywallqa.data.sample import label_at_photo
    from drywallqa.engine.evaluator import EvalSet, evaluate_set

    big = [[4, 4, 24, 4, 24, 16, 4, 16]]  # drawn on the 64x48 photo the entry declares; the file is 32x24
    path = _coco(tmp_path, names, "shrunk", [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}],
                 [{"id": 10, "image_id": 1, "bbox": [4, 4, 20, 12], "segmentation": big}], photos={"a.jpg": (W, H)})
    samples, problems = load_split(registry.get_dataset_config(str(path)), "valid")
    assert [s.image_path.name for s in samples] == ["a.jpg"] and not problems
    label = label_at_photo(samples[0].load_mask(), (H, W, 3))
    assert label.shape == (H, W) and label.sum() == 10 * 6  # the box at half its size
    assert np.array_equal(resize_mask(label, 16), resize_mask(samples[0].load_mask(), 16))  # as training reads it
    result = evaluate_set(Segmenter.load(tiny_model_dir), EvalSet("published valid", "shrunk", samples), ["shrunk"],
                          progress=False)
    assert not result.failures and len(result.per_image) == 1
    assert result.per_image[0]["gt_fraction"] == pytest.approx(60 / (W * H))
    assert any("shrunk to the photo's size" in w and "1 of 1 images" in w for w in result.warnings), result.warnings
    odd = np.zeros((40, W), bool)  # a label of another shape than its photo's is no copy: left as it is (refused)
    assert label_at_photo(odd, (H, W)) is odd


def test_shrunk_copies_are_swept_and_calibrated_as_they_are_scored(tmp_path, names, tiny_model_dir):
    """The other scorers of a dataset's photos read a shrunk copy's label as evaluate does: `calibrate` refused it
    ("image and label differ in size"), the validator of a group-clean part swept maps against a label of another
    size."""
    from drywallqa import Segmenter
    from drywallqa.data.grouping import make_group_split
    from drywallqa.engine.calibrate import confidence_records
    from drywallqa.engine.evaluator import EvalSet
    from drywallqa.engine.validator import Validator

    photos = {f"p{i}.jpg": (W, H) for i in range(8)}
    images = [{"id": i, "file_name": f"p{i}.jpg", "width": 2 * W, "height": 2 * H} for i in range(8)]
    anns = [{"id": 10 + i, "image_id": i, "bbox": [4, 4, 20, 12], "segmentation": [[4, 4, 24, 4, 24, 16, 4, 16]]}
            for i in range(8)]
    path = _coco(tmp_path, names, "shrunk_all", images, anns, photos=photos, splits=("train",))
    samples, _ = load_split(registry.get_dataset_config(str(path)), "train")
    segmenter = Segmenter.load(tiny_model_dir)
    records, failures = confidence_records(segmenter, [EvalSet("published valid", "shrunk_all", samples)], progress=False)
    assert len(records) == 8 and not failures, failures
    make_group_split("shrunk_all", None, {"train": 0.5, "val": 0.5}, seed=0).to_json(tmp_path / "splits" / "shrunk_all.json")
    validator = Validator.from_parts(["shrunk_all"], "val", tmp_path / "splits", progress=False)
    image, label = validator.items["shrunk_all"][0]()
    assert label.shape == image.shape[:2] and label.sum() == 60
    assert validator(segmenter).images["shrunk_all"] == len(validator.items["shrunk_all"])


def test_a_shrunk_crack_copy_is_transplanted_with_its_label_at_the_photo_s_size(tmp_path):
    """The cracks-on-drywall check read a shrunk copy's label at its declared size beside the photo at its own: the
    transplant of arrays of two sizes failed (a ValueError from numpy), where training and evaluate read such a copy."""
    from types import SimpleNamespace

    import numpy as np
    from PIL import Image

    from drywallqa.engine.cracks_on_drywall import make_composite

    Image.fromarray(np.full((24, 20, 3), 120, np.uint8)).save(tmp_path / "crack.png")  # the photo, half the size
    Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(tmp_path / "wall.png")
    label = np.zeros((48, 40), bool)  # drawn at the declared 40x48
    label[10:38, 18:22] = True
    crack = SimpleNamespace(image_path=tmp_path / "crack.png", load_mask=lambda: label,
                            load_target=lambda: label.astype(np.uint8))
    wall = SimpleNamespace(image_path=tmp_path / "wall.png", load_mask=lambda: np.zeros((30, 40), bool),
                           load_target=lambda: np.zeros((30, 40), np.uint8))
    comp = make_composite(crack, wall)
    assert comp.crack_label.shape == comp.composite.shape[:2] == (24, 20)
    assert comp.crack_label[5:19, 9:11].all() and comp.crack_label.sum() == 28

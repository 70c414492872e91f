"""Predicted masks -> COCO for annotation tools, and back: the file reads as a dataset with the same masks."""

import json
import shutil

import cv2
import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO
from scipy.ndimage import binary_fill_holes
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.data import registry
from drywallqa.data.coco import rasterize_annotations
from drywallqa.data.coco_export import mask_annotations, write_coco_predictions
from drywallqa.data.sample import load_split
from drywallqa.engine.batch import predict_paths
from drywallqa.utils.image_io import read_mask


def crack_like_mask():
    """Hairlines 1-3 px wide (straight and diagonal), a blob with a hole, a single pixel."""
    m = np.zeros((120, 160), np.uint8)
    cv2.line(m, (5, 5), (150, 100), 1, 1)
    cv2.line(m, (10, 110), (150, 80), 1, 3)
    cv2.circle(m, (40, 60), 12, 1, -1)
    cv2.circle(m, (40, 60), 4, 0, -1)
    m[2, 158] = 1
    return m.astype(bool)


@pytest.mark.parametrize("segmentation", ["polygon", "rle"])
def test_regions_rasterise_back_to_the_same_pixels(segmentation):
    mask = crack_like_mask()
    anns = mask_annotations(mask, segmentation)
    n_regions = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1
    assert len(anns) == n_regions
    back, problems = rasterize_annotations(anns, *mask.shape)
    assert not problems
    if segmentation == "rle":
        np.testing.assert_array_equal(back, mask)                 # exact
    else:
        np.testing.assert_array_equal(back, binary_fill_holes(mask))  # exact but for the filled hole
        assert back[60, 40] and not mask[60, 40]
    # the area the segmentation covers: a polygon's hole filled is its own (it said the mask's pixels, 2,205 of a
    # ring's 5,023)
    assert sum(a["area"] for a in anns) == int(back.sum())
    assert min(a["area"] for a in anns) == 1                       # the lone pixel is kept ...
    assert len(mask_annotations(mask, segmentation, min_area_px=2)) == n_regions - 1  # ... unless too small
    with pytest.raises(ValueError, match="segmentation"):
        mask_annotations(mask, "bitmap")


def test_batch_job_to_coco_and_back_to_a_dataset(tiny_model_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i, size in enumerate([(48, 64), (64, 40), (50, 50)]):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(photos / f"wall_{i}.jpg")
    out = tmp_path / "out"
    prompts = ["segment crack", "segment taping area"]
    predict_paths(Segmenter.load(tiny_model_dir), [photos], prompts, out, threshold=0.5, progress=False)
    path = write_coco_predictions(out)
    coco = COCO(str(path))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == prompts
    results = json.loads((out / "results.json").read_text())
    assert sum(m["components"] for e in results["images"] for m in e["prompts"].values()) == len(coco.getAnnIds()) > 0
    for img in coco.loadImgs(coco.getImgIds()):
        entry = next(e for e in results["images"] if e["image"] == img["path"])
        assert img["file_name"] == img["path"].split("/")[-1] and (img["height"], img["width"]) == (entry["height"], entry["width"])
        for cat in coco.getCatIds():
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img["id"], catIds=cat))
            got = np.zeros((img["height"], img["width"]), bool)
            for a in anns:
                got |= coco.annToMask(a).astype(bool)
            want = read_mask(out / entry["prompts"][prompts[cat - 1]]["mask"])
            assert (got == want).mean() > 0.99 and not (want & ~got).any()  # polygons fill holes, never lose pixels
    # corrected (here: unchanged) pre-labels as a training set: photos + _annotations.coco.json, declared in YAML
    one = tmp_path / "one_prompt"
    predict_paths(Segmenter.load(tiny_model_dir), [photos], ["segment crack"], one, threshold=0.5, progress=False)
    labelled = tmp_path / "my_walls" / "train"
    shutil.copytree(photos, labelled)
    write_coco_predictions(one, "rle", path=labelled / "_annotations.coco.json")
    decl = tmp_path / "my_walls.yaml"
    decl.write_text(yaml.safe_dump({"name": "my_walls_coco", "folder": "my_walls", "prompts": ["segment crack"]}))
    try:
        samples, problems = load_split(str(decl), "train")
        assert len(samples) == 3 and not problems
        for s in samples:
            np.testing.assert_array_equal(s.load_mask(), read_mask(one / f"{s.image_path.stem}__segment_crack.png"))
    finally:
        registry.DATASETS.remove("my_walls_coco")


def test_cli_coco_option(tiny_model_dir, tmp_path):
    photo = tmp_path / "a.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(photo)
    runner = CliRunner()
    base = ["predict", str(photo), "--prompt", "segment crack", "--model-path", str(tiny_model_dir)]
    bad = runner.invoke(app, base + ["--out", str(tmp_path / "o1"), "--coco", "bitmap"])
    assert bad.exit_code == 2 and "--coco" in bad.output
    ok = runner.invoke(app, base + ["--out", str(tmp_path / "o2"), "--coco", "rle", "--no-report"])
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "o2" / "predictions.coco.json").read_text())["info"]["segmentation"] == "rle"
    assert not (tmp_path / "o2" / "report.html").exists()
    with pytest.raises(FileNotFoundError, match="results.json"):
        write_coco_predictions(tmp_path / "empty")


def test_a_damaged_mask_is_predicted_again_and_one_the_coco_file_lacks_is_reported(tiny_model_dir, tmp_path):
    photo = tmp_path / "a.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "out"
    base = ["predict", str(photo), "--prompt", "segment crack", "--model-path", str(tiny_model_dir), "--out", str(out),
            "--no-report"]
    assert CliRunner().invoke(app, base).exit_code == 0
    mask = next(out.glob("a__*.png"))
    whole = mask.read_bytes()
    mask.write_bytes(whole[: len(whole) // 2])  # cut after the job: a rerun predicts it again, not "done before"
    rerun = CliRunner().invoke(app, base + ["--coco", "polygon"])
    assert rerun.exit_code == 0 and "1 images done" in rerun.output, rerun.output
    assert mask.read_bytes() == whole
    mask.write_bytes(whole[: len(whole) // 2])
    write_coco_predictions(out)
    info = json.loads((out / "predictions.coco.json").read_text())["info"]
    assert len(info["masks_not_read"]) == 1 and "'segment crack'" in info["masks_not_read"][0]
    from unittest import mock

    # damaged between the check of the finished masks and the COCO file: exit 1, the mask named

    with mock.patch("drywallqa.engine.batch._whole_mask", return_value=True), \
            mock.patch("drywallqa.engine.batch._as_recorded", return_value=True):
        res = CliRunner().invoke(app, base + ["--coco", "polygon"])
    assert res.exit_code == 1 and "not in the COCO file" in res.output and "a.jpg" in res.output, res.output


@pytest.mark.parametrize("segmentation", ["rle", "polygon"])
def test_each_region_is_coded_within_its_box_as_over_the_whole_photo(segmentation):
    """Regions are outlined / run-length coded in their own box (a 12 MP mask of 200 regions took 17 s over the whole
    photo per region): the annotations are the very ones whole-photo coding gives, regions at the edges included."""
    import cv2
    from pycocotools import mask as mask_utils

    from drywallqa.data.coco_export import mask_annotations, region_polygons

    rng = np.random.default_rng(0)
    for trial in range(120):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        mask = rng.random((h, w)) < (0.05, 0.3, 0.6, 0.97)[trial % 4]
        n, labels, _, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        got = mask_annotations(mask, segmentation)
        assert len(got) == n - 1
        for i, ann in zip(range(1, n), got):
            region = labels == i
            if segmentation == "rle":
                whole = mask_utils.encode(np.asfortranarray(region.astype(np.uint8)))
                assert ann["segmentation"] == {"size": [h, w], "counts": whole["counts"].decode("ascii")}
            else:
                assert ann["segmentation"] == region_polygons(region)

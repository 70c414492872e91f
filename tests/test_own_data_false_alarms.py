"""Own labels the checks of what was read must not warn about (false alarms), and a box value no float holds."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from drywallqa.data.sample import soft_mask_problem


def _drawn(scale: int) -> Image.Image:
    """A 0/255 crack label drawn at ``scale`` times 64x48 and box-shrunk to it: anti-aliased edges of few levels."""
    big = Image.new("L", (64 * scale, 48 * scale), 0)
    draw = ImageDraw.Draw(big)
    draw.line([(5 * scale, 5 * scale), (60 * scale, 40 * scale)], fill=255, width=4 * scale // 2 + 1)
    draw.ellipse([10 * scale, 25 * scale, 25 * scale, 44 * scale], fill=255)
    return big.resize((64, 48), Image.BOX)


def test_an_anti_aliased_label_of_few_levels_is_no_jpegs_noise(tmp_path):
    """A 0/255 label drawn anti-aliased (shrunk by 3: 10 levels, its faintest edge pixels at 28) was named 'a JPEG's
    noise' for the faint edge pixels beside its stroke; the noise of a JPEG lies apart from the label too, and is
    still named."""
    aa = _drawn(3)
    assert 2 < len(np.unique(np.asarray(aa))) <= 16 and (np.asarray(aa) == 28).any()
    aa.save(tmp_path / "aa.png")
    assert soft_mask_problem(tmp_path / "aa.png") is None
    rng = np.random.default_rng(0)
    m = np.asarray(_drawn(1)) > 127
    noisy = np.where(m, rng.integers(250, 256, m.shape), rng.integers(0, 6, m.shape)).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    problem = soft_mask_problem(tmp_path / "noisy.png")
    assert problem is not None and "values near 0" in problem.message


def test_class_indices_beside_an_ignore_boundary_are_still_named(tmp_path):
    """A thin crack of class index 1 inside a 255 ('ignore') boundary, as VOC masks draw it: every 1 touches a 255
    (as an anti-aliased edge's faint pixels touch its stroke) but no 0; it is still named."""
    m = np.zeros((48, 64), np.uint8)
    m[10:38, 20:32] = 255
    m[14:34, 25:27] = 1  # the crack, two pixels wide, in the boundary
    Image.fromarray(m).save(tmp_path / "voc.png")
    problem = soft_mask_problem(tmp_path / "voc.png")
    assert problem is not None and "255 ('ignore')" in problem.message


def test_a_box_of_a_number_too_large_for_a_float_is_named_not_a_traceback(tmp_path):
    """A box-only annotation whose bbox holds an integer too large for a float (10**400, as JSON may write it) was
    named 'unusable' by the drawing; the box-only check read it again and stopped load_split with OverflowError."""
    import json

    from drywallqa.data.registry import load_dataset_config
    from drywallqa.data.sample import load_split

    split = tmp_path / "huge" / "train"
    split.mkdir(parents=True)
    Image.new("RGB", (64, 48), (200, 200, 200)).save(split / "a.jpg")
    ann = {"id": 7, "image_id": 1, "category_id": 1, "segmentation": [], "bbox": [10 ** 400, 0, 5, 5]}
    (split / "_annotations.coco.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}], "annotations": [ann],
        "categories": [{"id": 1, "name": "crack"}]}))
    (tmp_path / "huge.yaml").write_text("name: huge\nfolder: huge\nprompts: [segment crack]\n")
    samples, problems = load_split(load_dataset_config(tmp_path / "huge.yaml"), "train")
    assert len(samples) == 1 and not samples[0].load_mask().any()
    assert any("annotation 7: unusable (OverflowError" in p.message for p in problems), problems


def test_an_instance_mask_of_one_class_is_not_told_to_be_cut_down(tmp_path):
    """A mask of the instances of its dataset's one class (crack 1, crack 2: VOC's SegmentationObject, an instance-id
    export) is read right as one label; its warning said only 'several classes? ... keep only its class in the
    masks', which would have had a user throw away every crack but one."""
    m = np.zeros((48, 64), np.uint8)
    m[5:20, 5:20], m[25:40, 30:50] = 1, 2
    Image.fromarray(m).save(tmp_path / "instances.png")
    problem = soft_mask_problem(tmp_path / "instances.png")
    assert problem is not None and "several classes?" in problem.message
    assert "instances of its one class" in problem.message and "nothing to do" in problem.message


def test_a_label_that_fills_the_photo_is_told_it_may_be_right(tmp_path):
    """A close-up whose tape fills the photo but for a patch (the label's every border pixel foreground, 99% of it)
    was told only 'inverted? save the label white on black': it is read right, and the warning now says so too."""
    m = np.full((48, 64), 255, np.uint8)
    m[20:26, 30:34] = 0
    Image.fromarray(m).save(tmp_path / "close_up.png")
    problem = soft_mask_problem(tmp_path / "close_up.png")
    assert problem is not None and "(inverted)?" in problem.message and "nothing to do" in problem.message

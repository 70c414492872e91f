"""Review of the changes since bf962c8 (helper 314): what its tests left out."""

import pytest

from drywallqa.engine.eval_report import grouped_problems


def test_grouped_problem_of_fewer_files_than_shown_names_no_negative_count():
    # one photo with six bad polygons: six problems of one file, the same but for the annotation's id
    lines = grouped_problems([f"/d/valid/a.jpg: annotation {i}: degenerate polygon with 2 points dropped"
                              for i in range(6)])
    assert len(lines) == 1
    assert "-2 more" not in lines[0] and " more" not in lines[0]
    assert lines[0].startswith("1 file (6 times): ")
    two = grouped_problems([f"/d/valid/{n}.jpg: annotation {i}: x" for n in "ab" for i in range(3)])
    assert "-1 more" not in two[0] and two[0].startswith("2 files (6 times): ")
    assert "a.jpg, b.jpg" in two[0]


def test_grouped_problem_of_many_files_still_counts_the_rest():
    lines = grouped_problems([f"/d/valid/{n}.jpg: a mask of 200 grey levels" for n in "abcdef"])
    assert lines == ["6 files: a mask of 200 grey levels: a.jpg, b.jpg, c.jpg and 3 more in /d/valid; "
                     "report.json's data_problems names every one"]


def test_a_labels_folder_of_text_files_in_a_mask_folder_split_is_not_said_to_be_masks(tmp_path):
    """A split read as mask_folder beside a labels/ of YOLO text files (no PNG): it was "a folder of masks? ... rename
    it to _masks", which reads no mask either; a folder of PNG masks is still named so (registry's hint reads it so)."""
    import numpy as np
    from PIL import Image

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.data.sample import load_split

    split = tmp_path / "ds" / "train"
    (split / "labels").mkdir(parents=True)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(split / "a.jpg")
    (split / "labels" / "a.txt").write_text("0 0.1 0.1 0.2 0.2 0.3 0.1\n")
    config = registry.register_dataset(DatasetConfig("h314_labels", str(tmp_path / "ds"), ("segment crack",),
                                                     {"train": SplitSource("mask_folder", "train")}))
    _, problems = load_split(config, "train")
    said = {p.path.rsplit("/", 1)[-1]: p.message for p in problems}
    assert "rename it to _masks" not in said["labels"], said
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(split / "labels" / "a.png")
    _, problems = load_split(config, "train")
    said = {p.path.rsplit("/", 1)[-1]: p.message for p in problems}
    assert "rename it to _masks" in said["labels"], said


def test_a_smaller_mask_of_a_photo_turned_by_its_exif_is_not_said_to_be_another_photos(tmp_path):
    """A phone photo stored 40x30 and turned upright by its EXIF orientation (6: read 30x40), its mask drawn on a half
    size copy as stored (20x15, a tool that ignores EXIF): it was "of another shape: another photo's mask, or drawn on
    this photo before it was cropped?" -> said to be of the photo as stored (unturned), at another size."""
    import numpy as np
    from PIL import Image

    from drywallqa.data import registry
    from drywallqa.data.registry import DatasetConfig, SplitSource
    from drywallqa.data.sample import load_split

    split = tmp_path / "ds" / "train"
    (split / "_masks").mkdir(parents=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(split / "a.jpg", exif=exif)
    Image.fromarray(np.zeros((15, 20), np.uint8)).save(split / "_masks" / "a.png")
    config = registry.register_dataset(DatasetConfig("h314_turned", str(tmp_path / "ds"), ("segment crack",),
                                                     {"train": SplitSource("mask_folder", "train")}))
    _, problems = load_split(config, "train")
    said, = [p.message for p in problems if p.path.endswith("a.png")]
    assert "mask is 20x15, image is 30x40" in said, said
    assert "another photo" not in said and "orientation (6)" in said and "40x30" in said, said


@pytest.mark.parametrize("k", [3, 6])
def test_a_halved_label_enlarged_by_nearest_neighbour_is_no_mask_of_several_classes(tmp_path, k):
    """A 0/255 label halved (an area resize: greys 64, 128, 192 along its edge) and enlarged k times by nearest
    neighbour (as the mask-size problem advises): its edge's greys are bands k px wide between the stroke and the
    background, and were named "a mask of 4 values ...: several classes?" (bf962c8 said nothing). A grey region of its
    own (the 0/128/255 classes) is still named."""
    import numpy as np
    from PIL import Image, ImageDraw

    from drywallqa.data.sample import soft_mask_problem

    m = Image.new("L", (640, 480), 0)
    draw = ImageDraw.Draw(m)
    for i in range(5):
        draw.line([(i * 100, 0), (640 - i * 50, 480)], fill=255, width=9)
    small = m.resize((320, 240), Image.BOX)
    small.resize((320 * k, 240 * k), Image.NEAREST).save(tmp_path / "m.png")
    said = soft_mask_problem(tmp_path / "m.png")
    assert said is None or "several classes" not in said.message, said
    classes = np.zeros((100, 100), np.uint8)  # a class region beside the stroke, touching it along one side
    classes[10:30, 10:90], classes[30:80, 10:90] = 255, 128
    Image.fromarray(classes).save(tmp_path / "classes.png")
    said = soft_mask_problem(tmp_path / "classes.png")
    assert said is not None and "a mask of 2 values" in said.message, said

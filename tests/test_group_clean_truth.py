"""Group-clean splits: the same seed gives the same parts whatever order the photos are listed in, and no group is
split over parts (helper audit of data/grouping.py)."""
import random
from pathlib import Path

from drywallqa.data.grouping import group_clean_split, group_ids


class _S:
    def __init__(self, root: Path, name: str):
        self.image_path = root / "train" / name

    @property
    def group(self) -> str:
        return self.image_path.name.split(".rf.")[0]


def test_a_split_does_not_depend_on_the_order_the_photos_are_listed_in(tmp_path):
    """A group was named by the stem of whichever photo the union-find left at its root, which depends on the order
    the photos are listed in (a COCO file's image list, the splits' order in a dataset YAML): the seeded shuffle of
    the sorted group names, and so the whole split, changed with it (a re-exported COCO file, same photos, gave
    other parts)."""
    names = [f"s{i:02d}_jpg.rf.{h}.jpg" for i in range(30) for h in "ab"]
    index = {n: i for i, n in enumerate(names)}
    joined = [(index[f"s{k:02d}_jpg.rf.a.jpg"], index[f"s{29 - k:02d}_jpg.rf.a.jpg"]) for k in range(15)]
    samples = [_S(tmp_path, n) for n in names]
    parts = group_clean_split(samples, group_ids(samples, joined), tmp_path, "d").parts
    for seed in range(3):
        order = list(range(len(names)))
        random.Random(seed).shuffle(order)
        at = {old: new for new, old in enumerate(order)}
        again = [samples[o] for o in order]
        pairs = [tuple(sorted((at[i], at[j]))) for i, j in joined]
        assert group_clean_split(again, group_ids(again, pairs), tmp_path, "d").parts == parts


def test_a_split_leaving_a_part_without_a_photo_says_so(tmp_path):
    """Copies of one photo (names without Roboflow's .rf. hash, re-toned and mirrored: one group by content) went all
    to train, val and test were written empty and the command said nothing: evaluate and training found out later."""
    import json

    import cv2
    import numpy as np
    import yaml
    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.data import registry

    rng = np.random.default_rng(0)
    photo = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    for split, n in (("train", 6), ("valid", 3)):
        (tmp_path / "one" / split / "_masks").mkdir(parents=True)
        for i in range(n):
            img = np.clip(photo.astype(int) + 3 * i, 0, 255).astype(np.uint8)
            cv2.imwrite(str(tmp_path / "one" / split / f"IMG_{split}_{i}.png"), img[:, ::-1] if i % 2 else img)
            cv2.imwrite(str(tmp_path / "one" / split / "_masks" / f"IMG_{split}_{i}.png"),
                        (rng.random((64, 64)) > 0.9).astype(np.uint8) * 255)
    decl = tmp_path / "one.yaml"
    decl.write_text(yaml.safe_dump({"name": "one_group", "folder": "one", "prompts": ["segment crack"]}))
    try:
        res = CliRunner().invoke(app, ["data", "split", "-d", str(decl), "--out", str(tmp_path / "splits")],
                                 terminal_width=300)
    finally:
        registry.DATASETS.remove("one_group")
    assert res.exit_code == 0, res.output
    parts = json.loads((tmp_path / "splits" / "one_group.json").read_text())["parts"]
    assert (len(parts["train"]), parts["val"], parts["test"]) == (9, [], [])
    assert "warning: one_group: its val part holds no photo" in res.output
    assert "warning: one_group: its test part holds no photo" in res.output


def test_the_closer_look_does_not_depend_on_which_photo_is_listed_first(tmp_path, monkeypatch):
    """near_duplicates maps the second photo onto the first (its overlap measured on the first, its features matched
    one way): it was asked one way round only, the first listed first, so two copies were one photo or two by the order
    of the listing (4 of the 246 crack pairs looked at closer are one photo one way round, two the other)."""
    import numpy as np
    from PIL import Image

    from conftest import wall_photo

    from drywallqa.data import grouping

    wall = wall_photo(1)
    copy = np.clip(255 * (np.rot90(wall[6:354, 8:472]) / 255.0) ** 0.75 + 10, 0, 255).astype(np.uint8)
    for name, img in (("wall.jpg", wall), ("IMG_0001.jpg", copy)):
        Image.fromarray(img).save(tmp_path / name, quality=90)
    # one way round only, as near_duplicates may be: the copy maps onto the wall, not the wall onto the copy
    monkeypatch.setattr(grouping, "near_duplicates", lambda features, i, j: features.paths[i].name == "wall.jpg")
    for names in (["wall.jpg", "IMG_0001.jpg"], ["IMG_0001.jpg", "wall.jpg"]):
        assert [(i, j) for i, j, _ in grouping.near_duplicate_matches([tmp_path / n for n in names])] == [(0, 1)]

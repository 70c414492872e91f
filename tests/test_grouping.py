import numpy as np
import pytest
from PIL import Image

from conftest import wall_photo

from drywallqa.data.grouping import group_ids, make_group_split, near_duplicate_pairs, samples_of_part


def test_flipped_copy_is_a_near_duplicate(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 255, (64, 64, 3)).astype(np.uint8)
    b = rng.integers(0, 255, (64, 64, 3)).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(np.ascontiguousarray(a[:, ::-1])).save(tmp_path / "a_flip.png")
    Image.fromarray(np.rot90(a).copy()).save(tmp_path / "a_rot.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    paths = [tmp_path / n for n in ("a.png", "a_flip.png", "a_rot.png", "b.png")]
    assert sorted(near_duplicate_pairs(paths)) == [(0, 1), (0, 2), (1, 2)]


def test_group_split_keeps_groups_together(synthetic_datasets):
    for ds in ("syn_tape", "syn_crack"):
        split = make_group_split(ds, synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=3)
        seen = {}
        for part, files in split.parts.items():
            for f in files:
                g = f.split("/")[-1].split(".rf.")[0]
                assert seen.setdefault(g, part) == part, f"group {g} in two parts"
        assert sum(len(v) for v in split.parts.values()) == 16 if ds == "syn_tape" else 16
        # the same seed gives the same split
        again = make_group_split(ds, synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=3)
        assert again.parts == split.parts


def test_samples_of_part_excludes_published_splits(synthetic_datasets, tmp_path):
    split = make_group_split("syn_tape", synthetic_datasets, seed=0)
    split.to_json(tmp_path / "splits" / "syn_tape.json")
    all_train = samples_of_part("syn_tape", "train", tmp_path / "splits", synthetic_datasets)
    only_published_train = samples_of_part("syn_tape", "train", tmp_path / "splits", synthetic_datasets, ["valid"])
    assert {s.split for s in only_published_train} <= {"train"}
    assert len(only_published_train) <= len(all_train)


def test_group_ids_merge_stems_and_pairs():
    class S:
        def __init__(self, g):
            self.group = g

    ids = group_ids([S("a"), S("a"), S("b"), S("c")], [(2, 3)])
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def test_photos_gone_from_or_added_to_a_dataset_after_its_split_are_named(synthetic_datasets, tmp_path, caplog):
    """A manifest naming photos the dataset no longer has scored fewer photos without a word."""
    import logging
    import shutil

    from drywallqa.data.registry import get_dataset_config

    make_group_split("syn_crack", synthetic_datasets, seed=0).to_json(tmp_path / "splits" / "syn_crack.json")
    test = samples_of_part("syn_crack", "test", tmp_path / "splits", synthetic_datasets)
    assert test and not caplog.records
    test[0].image_path.unlink()
    root = get_dataset_config("syn_crack").root(synthetic_datasets)
    train = samples_of_part("syn_crack", "train", tmp_path / "splits", synthetic_datasets)[0]
    shutil.copy(train.image_path, train.image_path.with_name("new_photo" + train.image_path.suffix))
    shutil.copy(train.mask_path, train.mask_path.with_name("new_photo" + train.mask_path.suffix))
    with caplog.at_level(logging.WARNING):
        assert len(samples_of_part("syn_crack", "test", tmp_path / "splits", synthetic_datasets)) == len(test) - 1
    text = caplog.text
    assert "1 of the" in text and "not in the dataset" in text and str(test[0].image_path.relative_to(root)) in text
    assert "1 photos are in no part" in text


def test_a_tga_photo_is_compared_and_an_unreadable_one_is_named(tmp_path):
    """A TGA photo (a format read_image reads) stopped the near-duplicate search: cv2.imread reads no TGA."""
    from drywallqa.data.grouping import near_duplicate_matches

    from conftest import write_tga_flip_and_cut

    write_tga_flip_and_cut(tmp_path)
    paths = [tmp_path / n for n in ("cut.jpg", "a.tga", "b.jpg", "a_flip.png")]
    problems = []
    assert near_duplicate_matches(paths, problems=problems) == [(1, 3, 1)]  # indices into paths, the cut one left out
    assert [p.path for p in problems] == [str(tmp_path / "cut.jpg")]
    assert "near-duplicate search" in problems[0].message


def test_photos_gone_from_a_published_split_left_out_are_not_named_where_its_folder_has_another_name(tmp_path, caplog):
    """A dataset YAML's split folder need not be named as the split (valid: {folder: images/val}): a photo gone from
    a split left out (exclude_published) was named as missing, since its path's first folder is no split name."""
    import logging

    import yaml
    from conftest import make_coco_split, make_mask_folder

    from drywallqa.data import registry
    from drywallqa.data.grouping import GroupSplit

    rng = np.random.default_rng(0)
    make_mask_folder(tmp_path / "walls" / "photos", 4, rng)
    make_coco_split(tmp_path / "walls" / "images" / "val", 3, rng, kind="polygon")
    decl = tmp_path / "walls.yaml"
    decl.write_text(yaml.safe_dump({"name": "renamed_folders", "folder": "walls", "prompts": ["segment crack"],
                                    "splits": {"train": {"kind": "mask_folder", "folder": "photos"},
                                               "valid": {"kind": "coco", "folder": "images/val"}}}))
    try:
        root = registry.get_dataset_config(str(decl)).root()
        photos = sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg"))
        GroupSplit("renamed_folders", 0, {}, {"val": photos}).to_json(tmp_path / "splits" / "renamed_folders.json")
        gone = [next(p for p in photos if p.startswith(folder)) for folder in ("photos/", "images/val/")]
        for name in gone:
            (root / name).unlink()
        missing: list = []
        with caplog.at_level(logging.WARNING):
            samples = samples_of_part(str(decl), "val", tmp_path / "splits", exclude_published=["valid"], missing=missing)
        assert sorted(str(s.image_path.relative_to(root)) for s in samples) == \
            sorted(p for p in photos if p.startswith("photos/") and p not in gone)
        assert missing == [gone[0]]  # the train photo; the valid one is left out anyway
    finally:
        registry.DATASETS.remove("renamed_folders")


def test_a_splits_folder_that_is_a_file_is_named_as_such(synthetic_datasets, tmp_path):
    """--splits-dir (data.splits_dir) a file once said to run `data split --out` that file, which fails too."""
    from drywallqa.data.grouping import samples_of_part

    (tmp_path / "splits.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="splits.txt is a file; the split manifests are in a folder"):
        samples_of_part("syn_crack", "val", tmp_path / "splits.txt", synthetic_datasets)


def test_a_manifest_listing_a_photo_in_two_parts_is_refused(tmp_path):
    """A review: a manifest whose test part also held train photos (merged by hand, or damaged) was scored as
    "group-clean test" without a word, and trained on the same photos."""
    import json

    from drywallqa.data.grouping import GroupSplit

    path = tmp_path / "cracks.json"
    path.write_text(json.dumps({"dataset": "cracks", "seed": 0, "fractions": {"train": 0.8, "test": 0.2},
                                "parts": {"train": ["a.jpg", "b.jpg"], "test": ["c.jpg", "a.jpg"]}}))
    with pytest.raises(ValueError, match=r"1 photo\(s\) in two parts \('a.jpg' in train and test\)"):
        GroupSplit.from_json(path)


def test_a_manifest_of_another_dataset_is_refused(synthetic_datasets, syn_splits):
    """A review: a manifest copied over another dataset's name (its "dataset" another one) was read, and its photos,
    none of this dataset's, silently found nowhere."""
    import shutil

    shutil.copy(syn_splits / "syn_crack.json", syn_splits / "syn_tape.json")
    with pytest.raises(ValueError, match="is the split manifest of 'syn_crack', not of 'syn_tape'"):
        samples_of_part("syn_tape", "val", syn_splits, synthetic_datasets)


def _paper(seed: int, tilt: int, h: int = 360, w: int = 480) -> np.ndarray:
    """White paper with a few marks between the black wedges a rotation leaves (Roboflow's augmented copies)."""
    import cv2

    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 245, np.float32) + rng.normal(0, 2, (h, w, 3))
    for _ in range(8):
        x, y = int(rng.integers(20, w - 20)), int(rng.integers(20, h - 20))
        cv2.line(img, (x, y), (x + int(rng.integers(-15, 15)), y + int(rng.integers(5, 25))), (60, 60, 60), 2)
    cv2.fillPoly(img, [np.array([[0, 0], [w, 0], [w, 10 + tilt], [0, 10]])], (0, 0, 0))
    cv2.fillPoly(img, [np.array([[0, h], [w, h], [w, h - 12], [0, h - 12 - tilt]])], (0, 0, 0))
    return np.clip(img, 0, 255).astype(np.uint8)


def _thumbnail_distance(a, b) -> float:
    import torch

    from drywallqa.data.grouping import _dihedral, thumbnail

    both = torch.from_numpy(np.stack([thumbnail(a), thumbnail(b)]))
    return min(float((both[0].flatten() - v[1]).abs().mean()) for v in _dihedral(both))


def test_a_copy_under_another_name_cropped_turned_and_retoned_is_one_photo(tmp_path):
    """Copies of one photo under other names (a crop, turned, re-toned: thumbnails 0.10-0.28 apart) were two photos:
    the group-clean test parts held copies of photos the model trained on (7 crack photos; on taping, shots taken
    seconds apart). Photos alike only in their black rotation borders are still two."""
    from drywallqa.data.grouping import CANDIDATE_DIFF, COPY_DIFF, near_duplicate_matches

    wall = wall_photo(1)
    copy = np.rot90(wall[6:354, 8:472]).copy()
    copy = np.clip(255 * (copy / 255.0) ** 0.75 + 10, 0, 255).astype(np.uint8)
    for name, img in (("wall.jpg", wall), ("IMG_0001.jpg", copy), ("other_wall.jpg", wall_photo(2)),
                      ("paper_a.jpg", _paper(3, 30)), ("paper_b.jpg", _paper(4, 18))):
        Image.fromarray(img).save(tmp_path / name, quality=90)
    paths = [tmp_path / n for n in ("wall.jpg", "IMG_0001.jpg", "other_wall.jpg", "paper_a.jpg", "paper_b.jpg")]
    # what the thumbnails alone say: neither pair is a copy by them, both are worth a closer look
    assert COPY_DIFF < _thumbnail_distance(paths[0], paths[1]) < CANDIDATE_DIFF
    assert COPY_DIFF < _thumbnail_distance(paths[3], paths[4]) < CANDIDATE_DIFF
    assert near_duplicate_matches(paths, candidates=None) == []
    assert [(i, j) for i, j, _ in near_duplicate_matches(paths)] == [(0, 1)]


def test_an_updated_split_moves_what_it_split_of_a_group_to_its_first_part_and_places_new_photos(tmp_path):
    """`data split --update`: a group (found anew) that a manifest put in several parts goes whole to the first of
    them in train, val, test order (no photo trained on moves to where models are scored); the other photos stay;
    a photo new since the manifest joins its group, a group of new photos only is placed by the quotas."""
    from drywallqa.data.grouping import GroupSplit, updated_group_split

    class S:
        def __init__(self, name):
            self.image_path = tmp_path / "train" / name

    old = GroupSplit("d", 0, {"train": 0.5, "val": 0.25, "test": 0.25},
                     {"train": ["train/a1.jpg", "train/b1.jpg", "train/c1.jpg"], "val": ["train/d1.jpg", "train/a2.jpg"],
                      "test": ["train/e1.jpg", "train/d2.jpg", "train/gone.jpg"]})
    names = ["a1.jpg", "a2.jpg", "b1.jpg", "c1.jpg", "d1.jpg", "d2.jpg", "e1.jpg", "e2_new.jpg", "f_new.jpg"]
    groups = ["a", "a", "b", "c", "d", "d", "e", "e", "f"]
    split, moved = updated_group_split(old, [S(n) for n in names], groups, tmp_path)
    assert moved == [("train/a2.jpg", "val", "train"), ("train/d2.jpg", "test", "val")]
    assert split.parts["train"] == ["train/a1.jpg", "train/a2.jpg", "train/b1.jpg", "train/c1.jpg"]
    assert split.parts["val"][:2] == ["train/d1.jpg", "train/d2.jpg"]
    assert {"train/e1.jpg", "train/e2_new.jpg", "train/gone.jpg"} <= set(split.parts["test"])
    assert sum(f == "train/f_new.jpg" for files in split.parts.values() for f in files) == 1
    assert (split.seed, split.fractions) == (old.seed, old.fractions)


def test_an_updated_split_keeps_a_trained_photo_out_of_val_and_test_whatever_the_manifest_s_order(tmp_path):
    """The group goes to train before val before test, not to the first part the manifest's JSON happens to list (a
    manifest written by hand or another tool, test first, moved a trained photo to test); a photo a manifest lists
    twice in one part is not left behind in it when its group moves (it was then in train and test both, and every
    later read of the manifest refused it)."""
    from drywallqa.data.grouping import GroupSplit, updated_group_split

    class S:
        def __init__(self, name):
            self.image_path = tmp_path / name

    old = GroupSplit("d", 0, {"test": 0.15, "val": 0.15, "train": 0.7}, {"test": ["a2"], "val": [], "train": ["a1"]})
    split, moved = updated_group_split(old, [S("a1"), S("a2")], ["a", "a"], tmp_path)
    assert moved == [("a2", "test", "train")] and split.parts == {"test": [], "val": [], "train": ["a1", "a2"]}
    old = GroupSplit("d", 0, {"train": 0.5, "val": 0.25, "test": 0.25},
                     {"train": ["a1"], "val": [], "test": ["a2", "a2", "b1"]})
    split, moved = updated_group_split(old, [S("a1"), S("a2"), S("b1")], ["a", "a", "b"], tmp_path)
    assert split.parts == {"train": ["a1", "a2"], "val": [], "test": ["b1"]} and moved == [("a2", "test", "train")]


def test_a_photo_that_cannot_be_read_for_the_closer_look_is_named_and_matches_none(tmp_path, monkeypatch):
    """A photo read for its thumbnail but not when its features are computed (replaced or cut while the search ran)
    stopped the whole search (data split, data stats) with its read error, where one that cannot be read is named
    and matches none."""
    from drywallqa.data import grouping
    from drywallqa.utils.image_io import ImageReadError

    wall = wall_photo(1)
    copy = np.rot90(wall[6:354, 8:472]).copy()
    copy = np.clip(255 * (copy / 255.0) ** 0.75 + 10, 0, 255).astype(np.uint8)
    paths = [tmp_path / "wall.jpg", tmp_path / "IMG_0001.jpg", tmp_path / "other_wall.jpg"]
    for p, img in zip(paths, (wall, copy, wall_photo(2))):
        Image.fromarray(img).save(p, quality=90)
    assert [(i, j) for i, j, _ in grouping.near_duplicate_matches(paths)] == [(0, 1)]
    reads, read_image = {}, grouping.read_image

    def second_read_fails(path, *args, **kwargs):
        reads[str(path)] = reads.get(str(path), 0) + 1
        if str(path) == str(paths[1]) and reads[str(path)] > 1:
            raise ImageReadError(f"{path}: cannot identify image file")
        return read_image(path, *args, **kwargs)

    monkeypatch.setattr(grouping, "read_image", second_read_fails)
    problems = []
    assert grouping.near_duplicate_matches(paths, problems=problems) == []
    assert [p.path for p in problems] == [str(paths[1])] and "cannot identify" in problems[0].message and "near-duplicate" in problems[0].message

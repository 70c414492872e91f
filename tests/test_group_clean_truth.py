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

"""Split readers: a layout of another kind is one registered reader (data.registry.register_split_reader)."""

import pytest
import yaml

from drywallqa.data import registry
from drywallqa.data.problems import DataProblem
from drywallqa.data.registry import SplitSource, load_dataset_config, register_split_reader, resolve_dataset
from drywallqa.data.sample import Sample, load_split


@pytest.fixture
def csv_kind():
    """A split kind ``csv_list`` (``<split>/labels.csv``: ``file,height,width`` a line) registered for one test."""

    def read(config, split, folder, problems):
        samples = []
        for line in (folder / "labels.csv").read_text().splitlines():
            name, height, width = line.split(",")
            if not (folder / name).is_file():
                problems.append(DataProblem(str(folder / name), "missing; skipped"))
                continue
            samples.append(Sample(folder / name, config.name, split, int(height), int(width), annotations=[]))
        return samples

    register_split_reader("csv_list", finds=lambda folder: (folder / "labels.csv").is_file(),
                          layout="<split>/labels.csv")(read)
    yield "csv_list"
    registry.SPLIT_READERS.remove("csv_list")
    for name in ("csv_walls", "csv_found"):
        registry.DATASETS.remove(name)


def test_a_registered_reader_reads_the_splits_of_its_kind_declared_or_found(csv_kind, tmp_path):
    export = tmp_path / "export"
    (export / "train").mkdir(parents=True)
    (export / "train" / "a.jpg").write_bytes(b"")
    (export / "train" / "labels.csv").write_text("a.jpg,30,40\ngone.jpg,30,40\n")
    (export / "notes").mkdir()  # a folder of no kind's layout: no split
    declared = tmp_path / "csv_walls.yaml"
    declared.write_text(yaml.safe_dump({"name": "csv_walls", "folder": "export", "prompts": ["segment crack"],
                                        "splits": {"train": {"kind": csv_kind, "folder": "train"}}}))
    name = resolve_dataset(str(declared))  # a dataset YAML naming the kind
    samples, problems = load_split(name, "train")
    assert [(s.image_path.name, s.height, s.width, s.split, s.dataset) for s in samples] == [
        ("a.jpg", 30, 40, "train", "csv_walls")]
    assert [p.path for p in problems] == [str(export.resolve() / "train" / "gone.jpg")]

    found = tmp_path / "csv_found.yaml"  # no splits: listed, found from the layout by the reader's finds
    found.write_text(yaml.safe_dump({"name": "csv_found", "folder": "export", "prompts": ["segment crack"]}))
    assert load_dataset_config(found).splits == {"train": SplitSource(csv_kind, "train")}
    (export / "train" / "labels.csv").unlink()
    with pytest.raises(ValueError, match=r"\(expected <split>/_annotations.coco.json or <split>/_masks/ or "
                                         r"<split>/labels.csv\); list them under splits:"):
        load_dataset_config(found)

    registry.SPLIT_READERS.remove(csv_kind)  # once removed, the kind is refused as before it was registered
    with pytest.raises(ValueError, match=r"split 'train' needs kind: one of \('coco', 'mask_folder'\) \(and folder:\)"):
        load_dataset_config(declared)


def test_refine_masks_names_the_kind_of_a_split_it_cannot_refine(csv_kind, tmp_path):
    """refine-masks refines COCO boxes only: a split of a registered kind was said to be "an image/mask folder"."""
    from drywallqa.data.refine import check_refine_request

    (tmp_path / "export" / "train").mkdir(parents=True)
    declared = tmp_path / "csv_walls.yaml"
    declared.write_text(yaml.safe_dump({"name": "csv_walls", "folder": "export", "prompts": ["segment taping area"],
                                        "label_shape": "box", "splits": {"train": {"kind": csv_kind, "folder": "train"}}}))
    name = resolve_dataset(str(declared))
    with pytest.raises(ValueError, match="'train' is of the kind csv_list: refine-masks turns the boxes of COCO"):
        check_refine_request(name)

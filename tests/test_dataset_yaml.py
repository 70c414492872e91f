"""Datasets declared in YAML files: your own Roboflow/COCO export or image/mask folders, by path."""

import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data import registry
from drywallqa.data.registry import SplitSource, get_dataset_config, load_dataset_config, resolve_dataset


@pytest.fixture
def my_cracks(synthetic_datasets, tmp_path):
    """A YAML declaration of the synthetic crack folder (train: image/mask folder, valid: COCO polygons),
    with its splits left to be found from the layout; unregistered afterwards."""
    path = tmp_path / "decl" / "my_cracks.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"name": "my_cracks", "folder": "../datasets/crack",
                                    "prompts": ["segment hairline crack", "segment crack"]}))
    yield path
    registry.DATASETS.remove("my_cracks")


def test_yaml_dataset_finds_its_splits_and_resolves_its_folder(my_cracks, synthetic_datasets):
    config = load_dataset_config(my_cracks)
    assert config.name == "my_cracks" and config.canonical_prompt == "segment hairline crack"
    assert config.splits == {"train": SplitSource("mask_folder", "train"), "valid": SplitSource("coco", "valid")}
    assert config.root() == (synthetic_datasets / "crack").resolve()  # relative to the YAML file, not the cwd
    assert config.root("/elsewhere") == config.root()  # an absolute folder ignores --datasets-dir
    assert config.label_shape == "region"
    assert config.concept is None and config.concept_name == "my_cracks"  # each dataset its own concept


def test_cli_reads_a_yaml_dataset_once(my_cracks, monkeypatch):
    """--dataset my_cracks.yaml is one dataset, its file read once; given with its name too, it is named twice."""
    import typer

    from drywallqa.cli.common import dataset_names

    reads = []
    real = registry.load_dataset_config
    monkeypatch.setattr(registry, "load_dataset_config", lambda path: reads.append(path) or real(path))
    assert dataset_names([str(my_cracks), "cracks"]) == ["my_cracks", "cracks"]
    assert len(reads) == 1
    with pytest.raises(typer.BadParameter, match=re.escape(f"dataset 'my_cracks' is listed twice ('{my_cracks}' and "
                                                           "'my_cracks')")):
        dataset_names([str(my_cracks), "my_cracks", "cracks"])


def test_datasets_labelling_one_thing_share_a_concept(my_cracks):
    raw = yaml.safe_load(my_cracks.read_text())
    my_cracks.write_text(yaml.safe_dump({**raw, "concept": "cracks"}))
    assert load_dataset_config(my_cracks).concept_name == "cracks"


def test_resolve_registers_once_and_refuses_a_clashing_name(my_cracks, tmp_path):
    assert "my_cracks" not in registry.DATASETS
    assert resolve_dataset(my_cracks) == "my_cracks"
    assert resolve_dataset(str(my_cracks)) == "my_cracks"  # the same declaration again: no-op
    assert get_dataset_config(str(my_cracks)) is get_dataset_config("my_cracks")
    other = tmp_path / "clash.yaml"
    other.write_text(yaml.safe_dump({"name": "my_cracks", "folder": str(my_cracks.parent), "prompts": ["x"],
                                     "splits": {"train": {"kind": "coco", "folder": "train"}}}))
    with pytest.raises(ValueError, match="already registered"):
        resolve_dataset(other)
    assert resolve_dataset("cracks") == "cracks"  # plain names pass through


@pytest.mark.parametrize("decl, message", [
    ({"name": "x", "folder": "."}, "'prompts' is required"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "colour": "red"}, "unknown keys"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "label_shape": "polygon"}, "label_shape"),
    ({"name": "x", "folder": ".", "prompts": ["  "]}, "non-empty text"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "concept": ["a"]}, "concept"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "manifest": " "}, "manifest"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "splits": {"train": {"kind": "voc"}}}, "needs kind"),
    ({"name": "x", "folder": "nowhere", "prompts": ["a"]}, "no split folders found"),
    (["not", "a", "mapping"], "expected a mapping"),
    ({"name": "../../evil", "folder": ".", "prompts": ["a"]}, "name must be a name"),
    ({"name": ["e"], "folder": ".", "prompts": ["a"]}, "name must be a name"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "manifest": "a/b"}, "manifest must be a name"),
    ({"name": "x", "folder": [1, 2], "prompts": ["a"]}, "folder must be a path"),
    ({"name": "x", "folder": 12, "prompts": ["a"]}, "folder must be a path"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "splits": ["train", "valid"]}, "splits must map"),
    ({"name": "x", "folder": ".", "prompts": ["a"], "splits": {"train": {"kind": "coco", "folder": [1]}}}, "needs kind"),
    ({"name": "x", "folder": ".", "prompts": []}, r"'prompts' is empty \(\[\]\)"),
    # a key a split does not have was ignored, and the split read its default annotation file
    ({"name": "x", "folder": ".", "prompts": ["a"], "splits": {"train": {"kind": "coco", "folder": "train",
                                                                         "annotations": "instances.json"}}},
     r"split 'train': unknown keys \['annotations'\]"),
])
def test_bad_declarations_name_the_file(tmp_path, decl, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(decl))
    with pytest.raises(ValueError, match=message) as info:
        load_dataset_config(path)
    assert "bad.yaml" in str(info.value)


def test_cli_split_stats_and_evaluate_take_a_yaml_dataset(my_cracks, tiny_model_dir, tmp_path):
    runner = CliRunner()
    splits = tmp_path / "splits"
    res = runner.invoke(app, ["data", "split", "-d", str(my_cracks), "--out", str(splits)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((splits / "my_cracks.json").read_text())  # manifests are named by the dataset's name
    assert sum(len(v) for v in manifest["parts"].values()) == 16
    res = runner.invoke(app, ["data", "stats", "-d", str(my_cracks), "--json", str(tmp_path / "stats.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "stats.json").read_text())[0]["splits"]["train"]["images"] == 12
    out = tmp_path / "eval"
    res = runner.invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(my_cracks), "--out", str(out),
                              "--splits-dir", str(splits), "--speed-images", "0"])
    assert res.exit_code == 0, res.output
    rows = {(r["split"], r["dataset"], r["prompt"]) for r in json.loads((out / "report.json").read_text())["metrics"]}
    assert rows == {(s, "my_cracks", p) for s in ("published valid", "group-clean test")
                    for p in ("segment hairline crack", "segment crack")}
    res = runner.invoke(app, ["data", "stats", "-d", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "not found" in res.output
    res = runner.invoke(app, ["data", "stats", "-d", "no_such_dataset"])
    assert res.exit_code == 2 and "unknown dataset" in res.output


def test_training_config_may_name_a_yaml_dataset(my_cracks, synthetic_datasets, tmp_path, tiny_kwargs):
    from drywallqa.data.grouping import make_group_split
    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    splits = tmp_path / "splits"
    for ds in (str(my_cracks), "syn_tape"):
        name = resolve_dataset(ds)
        make_group_split(name, synthetic_datasets, {"train": 0.5, "val": 0.25, "test": 0.25}, seed=0).to_json(splits / f"{name}.json")
    cfg = TrainConfig.from_dict({
        "model_config": tiny_kwargs, "output_dir": str(tmp_path / "run"), "device": "cpu", "bf16": False,
        "data": {"datasets": [str(my_cracks), "syn_tape"], "datasets_dir": str(synthetic_datasets),
                 "splits_dir": str(splits), "cache_size": 72, "cache_dir": None}})
    trainer = Trainer(cfg, progress=False)
    assert trainer.prompts[:2] == ["segment hairline crack", "segment crack"]
    trainer.build_data()
    # named from the dataset's folder, not from this machine's root: the run folder says which photos it used anywhere
    assert len(trainer.train_files[0]) > 0 and all(f.startswith("crack/train/") for f in trainer.train_files[0])
    assert all(f.startswith("tape/") for f in trainer.train_files[1]) and trainer.val_files[0][0].startswith("crack/")


def test_evaluate_without_a_manifest_or_a_valid_split_is_a_usage_error(my_cracks, tiny_model_dir, tmp_path):
    runner = CliRunner()
    base = ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(my_cracks), "--out", str(tmp_path / "e"),
            "--speed-images", "0"]
    res = runner.invoke(app, base + ["--splits", "group", "--splits-dir", str(tmp_path / "none")])
    assert res.exit_code == 2 and "data split" in res.output
    only_train = tmp_path / "only_train.yaml"
    only_train.write_text(yaml.safe_dump({"name": "only_train", "folder": str(my_cracks.parent.parent / "datasets" / "crack"),
                                          "prompts": ["segment crack"], "splits": {"train": {"kind": "mask_folder"}}}))
    try:
        res = runner.invoke(app, base[:4] + [str(only_train)] + base[5:] + ["--splits", "published"])
        assert res.exit_code == 2 and "no split 'valid'" in res.output
    finally:
        registry.DATASETS.remove("only_train")


def test_a_dataset_made_from_anothers_photos_uses_its_split_manifest(my_cracks, tmp_path):
    """Masks refined from a dataset's labels (same photos, same relative paths) name that dataset's manifest: the
    same photos fall in the same parts, with no copy of the manifest under the new name."""
    from drywallqa.data.grouping import samples_of_part

    splits = tmp_path / "splits"
    assert CliRunner().invoke(app, ["data", "split", "-d", str(my_cracks), "--out", str(splits)]).exit_code == 0
    raw = yaml.safe_load(my_cracks.read_text())
    refined = my_cracks.parent / "my_refined.yaml"
    refined.write_text(yaml.safe_dump({**raw, "name": "my_refined", "manifest": "my_cracks"}))
    try:
        name = resolve_dataset(refined)
        assert get_dataset_config(name).manifest_name == "my_cracks" and not (splits / "my_refined.json").exists()
        for part in ("train", "test"):
            own = [s.image_path for s in samples_of_part("my_cracks", part, splits)]
            assert own and [s.image_path for s in samples_of_part(name, part, splits)] == own
        # a manifest of its own would never be read: splitting it is refused, naming the dataset to split
        res = CliRunner().invoke(app, ["data", "split", "-d", str(my_cracks), "-d", str(refined), "--out", str(tmp_path / "s2")])
        assert res.exit_code == 2 and "split my_cracks instead" in " ".join(res.output.split()), res.output
        assert not (tmp_path / "s2").exists()
    finally:
        registry.DATASETS.remove("my_refined")


def test_unreadable_data_and_damaged_manifests_are_clean_errors(my_cracks, tiny_model_dir, tmp_path):
    runner = CliRunner()
    empty = tmp_path / "empty.yaml"
    (tmp_path / "nothing" / "train").mkdir(parents=True)
    empty.write_text(yaml.safe_dump({"name": "empty_one", "folder": "nothing", "prompts": ["segment crack"],
                                     "splits": {"train": {"kind": "mask_folder"}}}))
    try:
        res = runner.invoke(app, ["data", "stats", "-d", str(empty), "--json", str(tmp_path / "stats.json")])
        stats = json.loads((tmp_path / "stats.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
        assert res.exit_code == 1 and stats[0]["splits"] == {}  # nothing read: said, written, and an exit code
        assert stats[0]["label_agreement_of_copies"]["mean_IoU"] is None
        assert "no images read" in res.output
        res = runner.invoke(app, ["data", "split", "-d", str(empty), "--out", str(tmp_path / "s")])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit) and "no readable images" in res.output, res.output
        assert not (tmp_path / "s" / "empty_one.json").exists()
    finally:
        registry.DATASETS.remove("empty_one")
    splits = tmp_path / "splits"
    splits.mkdir()
    base = ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(my_cracks), "--out", str(tmp_path / "e"),
            "--speed-images", "0", "--splits", "group", "--splits-dir", str(splits)]
    for text in ('{"parts": ', "[1, 2]", '{"dataset": "x", "seed": 0, "fractions": {}, "parts": {"test": "a.jpg"}}'):
        (splits / "my_cracks.json").write_text(text)
        res = runner.invoke(app, base)
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), (text, res.output, res.exception)
        assert "my_cracks.json" in res.output and "data split" in res.output


@pytest.mark.parametrize("prompts, words", [(["segment crack", "segment crack"], "listed twice"),
                                            (["segment crack", "Segment  Crack"], "listed twice .case and spacing aside"),
                                            (["\u200b"], "visible character"), (["x" * 301], "at most 300")])
def test_prompts_that_cannot_be_asked_are_refused_at_load(tmp_path, synthetic_datasets, prompts, words):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad_prompts", "folder": str(synthetic_datasets / "crack"), "prompts": prompts}))
    with pytest.raises(ValueError, match=words):
        load_dataset_config(path)


def test_split_names_that_are_numbers_and_bad_output_paths(tmp_path, synthetic_datasets):
    path = tmp_path / "years.yaml"
    path.write_text(yaml.safe_dump({"name": "by_year", "folder": str(synthetic_datasets / "crack"), "prompts": ["segment crack"],
                                    "splits": {2024: {"kind": "mask_folder", "folder": "train"}}}))
    try:
        assert list(load_dataset_config(path).splits) == ["2024"]
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(path), "--json", str(tmp_path / "s.json")])
        assert res.exit_code == 0 and res.exception is None, res.output
        (tmp_path / "a_file").write_text("x")
        for option, target in (("--json", tmp_path), ("--preview", tmp_path / "a_file"), ("--json", tmp_path / "a_file" / "s.json")):
            res = CliRunner().invoke(app, ["data", "stats", "-d", str(path), option, str(target)])
            assert res.exit_code == 2 and isinstance(res.exception, SystemExit) and option in res.output, res.output
    finally:
        registry.DATASETS.remove("by_year")


def test_a_declaration_in_the_datasets_folder_follows_it(synthetic_datasets, tmp_path, monkeypatch):
    """folder: "{datasets}/crack" is read below $DRYWALLQA_DATASETS, wherever the YAML file lies."""
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(synthetic_datasets))
    decl = tmp_path / "elsewhere" / "shared_cracks.yaml"
    decl.parent.mkdir()
    decl.write_text('name: shared_cracks\nfolder: "{datasets}/crack"\nprompts: [segment crack]\n')
    assert load_dataset_config(decl).root() == (synthetic_datasets / "crack").resolve()
    for bad, words in (('"{datasets}/../crack"', "without '..'"), ('"crack/{datasets}"', "only at its start")):
        decl.write_text(f"name: shared_cracks\nfolder: {bad}\nprompts: [segment crack]\n")
        with pytest.raises(ValueError, match=re.escape(words)):
            load_dataset_config(decl)


def test_datasets_folders_written_with_a_tilde_are_below_the_home_folder(synthetic_datasets, tmp_path, monkeypatch):
    """DRYWALLQA_DATASETS='~/datasets' (an env file, a service's Environment=, a quoted value: no shell expands it)
    was read as a folder named '~' in the working directory: every dataset "not found"; a dataset YAML's
    "folder: ~/walls" as a folder named '~' beside the file."""
    from drywallqa.data.registry import default_datasets_dir

    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "datasets").symlink_to(synthetic_datasets)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRYWALLQA_DATASETS", "~/datasets")
    assert default_datasets_dir() == tmp_path / "home" / "datasets"
    assert (default_datasets_dir() / "crack").is_dir()
    decl = tmp_path / "decl" / "walls.yaml"  # a declaration's folder too: "~/..." is not beside the file
    decl.parent.mkdir()
    decl.write_text("name: walls_home\nfolder: ~/datasets/crack\nprompts: [segment crack]\n")
    assert load_dataset_config(decl).root() == (synthetic_datasets / "crack").resolve()


def test_a_path_there_of_the_wrong_kind_is_named_so_not_not_found(synthetic_datasets, tiny_model_dir, tmp_path):
    """A split folder that is a file, a dataset folder that is a file, a dataset or training config file that is a
    folder, a model folder that is a file, a photo below a file: each said "not found" (or "no split folders found",
    "no config.json", "no such file or folder")."""
    from drywallqa.data.grouping import samples_of_part
    from drywallqa.data.sample import load_split
    from drywallqa.engine.batch_results import read_batch_results

    runner = CliRunner()
    said = lambda output, words: re.sub(r"[\s│]+", "", words) in re.sub(r"[\s│]+", "", output)  # noqa: E731 - across
    # the line breaks and box of an error panel
    (tmp_path / "walls" / "train" / "_masks").mkdir(parents=True)
    (tmp_path / "walls" / "valid").write_text("a file where the split's folder goes")
    decl = tmp_path / "walls.yaml"
    decl.write_text(yaml.safe_dump({"name": "walls_a_file", "folder": "walls", "prompts": ["segment crack"],
                                    "splits": {"train": {"kind": "mask_folder"}, "valid": {"kind": "coco"}}}))
    try:
        res = runner.invoke(app, ["data", "stats", "-d", str(decl)], terminal_width=300)
        assert res.exit_code == 1 and "valid: split folder is a file, not a folder" in res.output, res.output
        assert "not found" not in res.output and "DRYWALLQA_DATASETS" not in res.output
        _, problems = load_split("walls_a_file", "valid")
        assert [p.message for p in problems] == ["split folder is a file, not a folder"]
    finally:
        registry.DATASETS.remove("walls_a_file")
    below = tmp_path / "below.yaml"  # the dataset's folder a file: its splits lie below a file
    below.write_text(yaml.safe_dump({"name": "below_a_file", "folder": "walls/valid", "prompts": ["segment crack"]}))
    with pytest.raises(ValueError, match=r"folder .*valid is a file, not a folder"):
        load_dataset_config(below)
    below.write_text(yaml.safe_dump({"name": "below_a_file", "folder": "walls/valid", "prompts": ["segment crack"],
                                     "splits": {"train": {"kind": "coco"}}}))
    with pytest.raises(ValueError, match=r"folder .*valid is a file, not a folder"):
        load_dataset_config(below)
    (tmp_path / "folder.yaml").mkdir()
    res = runner.invoke(app, ["data", "stats", "-d", str(tmp_path / "folder.yaml")], terminal_width=300)
    assert res.exit_code == 2 and said(res.output, "folder.yaml is a folder, not a file") and not said(res.output, "not found")
    res = runner.invoke(app, ["train", str(tmp_path / "folder.yaml")], terminal_width=300)
    assert res.exit_code == 2 and said(res.output, "folder.yaml is a folder, not a file") and not said(res.output, "not found")
    with pytest.raises(FileNotFoundError, match="nowhere.yaml not found"):  # a path that is not there: as before
        load_dataset_config(tmp_path / "nowhere.yaml")
    with pytest.raises(FileNotFoundError, match=r"valid is a file; the split manifests are in a folder"):  # --splits-dir
        samples_of_part("syn_crack", "train", tmp_path / "walls" / "valid")
    with pytest.raises(FileNotFoundError, match=r"results.json: lies below .*valid, which is a file"):
        read_batch_results(tmp_path / "walls" / "valid")
    res = runner.invoke(app, ["predict", str(tmp_path / "walls.yaml"), "-p", "segment crack", "--out",
                              str(tmp_path / "o"), "--model-path", str(decl)], terminal_width=300)
    assert res.exit_code == 2 and said(res.output, "walls.yaml is a file, not a folder: a model is a folder"), res.output
    res = runner.invoke(app, ["predict", str(tmp_path / "walls" / "valid" / "p.jpg"), "-p", "segment crack", "--out",
                              str(tmp_path / "o"), "--model-path", str(tiny_model_dir)], terminal_width=300)
    assert res.exit_code == 1 and "valid, which is a file, not a folder" in res.output, res.output


def test_a_split_that_reads_no_image_is_an_error_and_stats_go_to_stdout(synthetic_datasets, tmp_path):
    """A declared split whose annotation file is missing is said as such (not one line among the file problems) with
    exit 1, and `data split` writes no manifest of the other splits alone; `--json -` puts the JSON alone on stdout."""
    decl = tmp_path / "half.yaml"  # its valid split: COCO annotations in a folder that holds none
    (synthetic_datasets / "crack" / "photos_only").mkdir()
    decl.write_text(yaml.safe_dump({"name": "half_read", "folder": str(synthetic_datasets / "crack"),
                                    "prompts": ["segment crack"],
                                    "splits": {"train": {"kind": "mask_folder", "folder": "train"},
                                               "valid": {"kind": "coco", "folder": "photos_only"}}}))
    runner = CliRunner()
    try:
        res = runner.invoke(app, ["data", "stats", "-d", str(decl), "--json", "-"])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
        stats = json.loads(res.stdout)  # the tables and notes went to stderr
        assert list(stats[0]["splits"]) == ["train"] and "_annotations.coco.json" in stats[0]["unread_splits"]["valid"]
        assert "valid: no image read" in res.stderr and "no images read from half_read/valid" in res.stderr
        res = runner.invoke(app, ["data", "split", "-d", str(decl), "--out", str(tmp_path / "s")])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
        assert "no image read from its split valid" in res.output and not (tmp_path / "s" / "half_read.json").exists()
    finally:
        registry.DATASETS.remove("half_read")


def test_a_split_folder_declared_outside_the_dataset_folder_splits_and_evaluates(synthetic_datasets, tiny_model_dir,
                                                                                  tmp_path):
    """A split whose folder: is an absolute path outside the dataset's folder: `data split` and `evaluate --splits
    group` stopped on Python's "'.../x.jpg' is not in the subpath of ..." (exit 1, no manifest); its photos are named
    from the dataset's folder as ../ paths."""
    decl = tmp_path / "apart.yaml"
    (tmp_path / "apart_root").mkdir()
    decl.write_text(yaml.safe_dump({"name": "apart", "folder": "apart_root", "prompts": ["segment crack"],
                                    "splits": {"train": {"kind": "mask_folder",
                                                         "folder": str(synthetic_datasets / "crack" / "train")}}}))
    runner = CliRunner()
    try:
        res = runner.invoke(app, ["data", "split", "-d", str(decl), "--out", str(tmp_path / "s"), "--val", "0.3",
                                  "--test", "0.3"])
        assert res.exit_code == 0, res.output
        parts = json.loads((tmp_path / "s" / "apart.json").read_text())["parts"]
        assert sum(map(len, parts.values())) == 12 and all(f.startswith("../") for f in parts["test"]) and parts["test"]
        res = runner.invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(decl), "--out",
                                  str(tmp_path / "eval"), "--splits", "group", "--splits-dir", str(tmp_path / "s"),
                                  "--speed-images", "0"])
        assert res.exit_code == 0, res.output
        report = json.loads((tmp_path / "eval" / "report.json").read_text())
        assert {r["split"] for r in report["metrics"]} == {"group-clean test"}
    finally:
        registry.DATASETS.remove("apart")


def test_a_split_folder_name_too_long_for_the_disk_is_named_not_a_traceback(synthetic_datasets, tmp_path):
    """A split whose folder: is longer than a file name may be (a program's output pasted in) stopped every command
    with an OSError traceback ("File name too long"); it is a split that reads no image, with why (exit 1)."""
    from conftest import says

    decl = tmp_path / "long.yaml"
    decl.write_text(yaml.safe_dump({"name": "long_folder", "folder": str(synthetic_datasets / "crack"),
                                    "prompts": ["segment crack"],
                                    "splits": {"train": {"kind": "mask_folder", "folder": "train"},
                                               "valid": {"kind": "coco", "folder": "v" * 300}}}))
    try:
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(decl)])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
        assert says(res.output, "cannot be looked at (File name too long)", "no images read from long_folder/valid")
    finally:
        registry.DATASETS.remove("long_folder")


@pytest.mark.parametrize("where", ["folder", "split"])
def test_a_declared_folder_that_is_a_loop_of_links_is_refused_naming_the_file(synthetic_datasets, tmp_path, where):
    """A YAML's folder (or a split's folder) that is a symbolic link to itself stopped every command with
    "RuntimeError: Symlink loop" while the declaration was read; refused naming the file (exit 2)."""
    import os

    from conftest import says

    os.symlink("loop", tmp_path / "loop")
    decl = tmp_path / "looped.yaml"
    spec = {"name": "looped", "folder": "loop", "prompts": ["segment crack"]} if where == "folder" else {
        "name": "looped", "folder": str(synthetic_datasets / "crack"), "prompts": ["segment crack"],
        "splits": {"train": {"kind": "mask_folder", "folder": "train"},
                   "valid": {"kind": "coco", "folder": str(tmp_path / "loop")}}}
    decl.write_text(yaml.safe_dump(spec))
    try:
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(decl)])
        assert isinstance(res.exception, SystemExit) and res.exit_code in (1, 2), res.output
        if res.exit_code == 2:  # refused as the file is read (Python 3.13's resolve() no longer stops at a loop: the
            assert says(res.output, "looped.yaml:", "cannot be followed"), res.output  # split is then one read empty)
    finally:
        if "looped" in registry.DATASETS:
            registry.DATASETS.remove("looped")


def test_split_folders_found_from_the_layout_that_are_one_folder_are_refused(synthetic_datasets, tmp_path):
    """test/ a link to valid/ (a tool wanted a test split): the splits found from the layout read its photos twice, as
    two splits (train a link to valid: valid photos trained on), where declared splits of one folder are refused."""
    import os
    import shutil

    root = tmp_path / "linked"
    shutil.copytree(synthetic_datasets / "crack" / "valid", root / "valid")
    os.symlink("valid", root / "test")
    decl = tmp_path / "linked.yaml"
    decl.write_text(yaml.safe_dump({"name": "linked", "folder": "linked", "prompts": ["segment crack"]}))
    with pytest.raises(ValueError, match=r"splits 'test' and 'valid' are both the folder 'valid' \(.*a link to the "
                                         r"other\?\): a split is a folder of its own"):
        load_dataset_config(decl)

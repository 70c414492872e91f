import json

from typer.testing import CliRunner

from drywallqa.cli import app


def test_data_split_and_stats(synthetic_datasets, tmp_path):
    runner = CliRunner()
    out = tmp_path / "splits"
    res = runner.invoke(app, ["data", "split", "-d", "syn_tape", "--out", str(out), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "syn_tape.json").read_text())
    assert set(manifest["parts"]) == {"train", "val", "test"}
    assert sum(len(v) for v in manifest["parts"].values()) == 16
    res = runner.invoke(app, ["data", "stats", "-d", "syn_tape", "--datasets-dir", str(synthetic_datasets),
                              "--json", str(tmp_path / "stats.json")])
    assert res.exit_code == 0, res.output
    stats = json.loads((tmp_path / "stats.json").read_text())[0]
    assert stats["splits"]["train"]["images"] == 12 and stats["splits"]["valid"]["images"] == 4
    assert stats["splits"]["train"]["source_groups"] == 4
    # stems t0 is in both train and valid
    assert stats["source_groups_shared_between_splits"]["train&valid"] == 1
    leaked = stats["images_with_their_source_photo_in_another_split"]
    assert leaked == [{"split": "valid", "source_photo_in": "train", "of": 4,
                       "images": sum(s.startswith("t0") for s in manifest_stems(synthetic_datasets, "valid"))}]
    assert f"valid images whose source photo is in train too: {leaked[0]['images']} of 4" in res.output


def manifest_stems(datasets_dir, split):
    from drywallqa.data.sample import load_split

    return [s.image_path.name for s in load_split("syn_tape", split, datasets_dir)[0]]


def test_command_help_is_wrapped_to_the_terminal_not_to_the_source():
    res = CliRunner().invoke(app, ["--help"], terminal_width=80)
    text = res.output.replace("│", " ")
    assert "part (within the speed budget)" in " ".join(text.split())
    lines = [line.strip() for line in text.splitlines()]
    assert "the" not in lines and not any(line.endswith("val part") for line in lines), res.output  # no source breaks


def test_bad_split_fractions_are_refused(tmp_path):
    res = CliRunner().invoke(app, ["data", "split", "--val", "0.6", "--test", "0.5", "--out", str(tmp_path)])
    assert res.exit_code == 2


def test_stats_measure_label_stroke_widths_and_save_a_preview(synthetic_datasets, tmp_path):
    import numpy as np
    import yaml
    from PIL import Image

    from drywallqa.data import registry

    folder = tmp_path / "bands" / "train"
    (folder / "_masks").mkdir(parents=True)
    for i, width in enumerate((3, 5, 5, 7)):  # cracks drawn 3, 5, 5 and 7 px wide
        Image.fromarray(np.full((64, 96, 3), 90 + 20 * i, np.uint8)).save(folder / f"p{i}.jpg")
        mask = np.zeros((64, 96), np.uint8)
        mask[20:20 + width, 10:86] = 255
        Image.fromarray(mask).save(folder / "_masks" / f"p{i}.png")
    decl = tmp_path / "bands.yaml"
    decl.write_text(yaml.safe_dump({"name": "bands", "folder": "bands", "prompts": ["segment crack"]}))
    runner = CliRunner()
    try:
        res = runner.invoke(app, ["data", "stats", "-d", str(decl), "-d", "syn_tape", "--datasets-dir", str(synthetic_datasets),
                                  "--json", str(tmp_path / "s.json"), "--preview", str(tmp_path / "pre")])
        assert res.exit_code == 0, res.output
        bands, tape = json.loads((tmp_path / "s.json").read_text())
        assert abs(bands["splits"]["train"]["stroke_width_px"]["median"] - 5) < 0.2  # skeleton ends are a bit thinner
        assert bands["splits"]["train"]["stroke_width_px"]["p10"] < 5 < bands["splits"]["train"]["stroke_width_px"]["p90"]
        assert "stroke_width_px" not in tape["splits"]["train"]  # box labels have no stroke width
        assert "stroke width" in res.output
        for name in ("bands", "syn_tape"):
            assert Image.open(tmp_path / "pre" / f"{name}_preview.png").size[0] > 100
    finally:
        registry.DATASETS.remove("bands")


def _copies_dataset(tmp_path):
    """A mask folder ``copies/train`` of a photo (a), its mirror image (b) labelled twice as wide, a look-alike (c) and
    an unrelated photo (d); returns the folder."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "copies" / "train"
    (folder / "_masks").mkdir(parents=True)
    yy, xx = np.mgrid[:256, :256]
    smooth = (40 + 0.4 * yy + 0.3 * xx + 30 * np.sin(xx / 40.0)).astype(np.float32)

    def fine(seed):  # pixel noise of +-20: mostly averaged away in 32 px thumbnails, not at 128 px
        return np.random.default_rng(seed).choice([-20.0, 20.0], (256, 256))

    photo = smooth + fine(1)
    band = np.zeros((256, 256), np.uint8)
    band[100:110, 20:236] = 255                              # the photo labelled as a thin band
    wide = np.zeros((256, 256), np.uint8)
    wide[95:115, 20:236] = 255                               # its copy labelled twice as wide: IoU 0.5
    images = {"a": photo, "b": photo[:, ::-1], "c": smooth + fine(2), "d": rng.uniform(0, 255, (256, 256))}
    masks = {"a": band, "b": wide[:, ::-1], "c": band, "d": band}
    for name, grey in images.items():  # b: the mirror image of a; c: looks like a at 32 px only; d: unrelated
        Image.fromarray(np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, 2)).save(folder / f"{name}.jpg", quality=95)
        Image.fromarray(np.ascontiguousarray(masks[name])).save(folder / "_masks" / f"{name}.png")
    return folder


def test_stats_measure_how_copies_of_one_photo_were_labelled(tmp_path):
    import yaml
    from PIL import Image

    from drywallqa.data import registry
    from drywallqa.data.grouping import near_duplicate_matches
    from drywallqa.data.stats import confirmed_copies

    folder = _copies_dataset(tmp_path)
    paths = sorted(folder.glob("*.jpg"))
    matches = near_duplicate_matches(paths)
    assert len(matches) > 1 and [(i, j) for i, j, _ in confirmed_copies(paths, matches)] == [(0, 1)]  # c: rejected
    decl = tmp_path / "copies.yaml"
    decl.write_text(yaml.safe_dump({"name": "copies", "folder": "copies", "prompts": ["segment crack"]}))
    try:
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(decl), "--json", str(tmp_path / "new" / "s.json"),
                                       "--preview", str(tmp_path / "pre")])  # --json into a folder not made yet
        assert res.exit_code == 0, res.output
        agree = json.loads((tmp_path / "new" / "s.json").read_text())[0]["label_agreement_of_copies"]
        assert agree["pairs"] == 1                            # a & b; c matches a at 32 px, not at 128: no copy
        assert abs(agree["mean_IoU"] - 0.5) < 0.02 and agree["share_below_0.5"] in (0.0, 1.0)
        assert {agree["worst"][0]["photo"][-5:], agree["worst"][0]["copy"][-5:]} == {"a.jpg", "b.jpg"}
        assert "labels of copies of one photo agree at mean IoU 0.5" in res.output
        assert Image.open(tmp_path / "pre" / "copies_label_copies.png").size[0] > 100
    finally:
        registry.DATASETS.remove("copies")


def test_stats_preview_of_copies_leaves_out_a_photo_removed_meanwhile(tmp_path, monkeypatch):
    """A photo of a pair of copies removed while `data stats --preview` ran (a folder being written as it is read):
    the picture of the copies stopped on a KeyError traceback after the statistics; the pair is left out."""
    import yaml

    from drywallqa.data import registry, stats

    folder = _copies_dataset(tmp_path)
    decl = tmp_path / "copies.yaml"
    decl.write_text(yaml.safe_dump({"name": "copies", "folder": "copies", "prompts": ["segment crack"]}))
    real = stats.preview

    def removing(*args, **kwargs):  # between the statistics and the picture of the copies
        (folder / "b.jpg").unlink()
        (folder / "_masks" / "b.png").unlink()
        return real(*args, **kwargs)

    monkeypatch.setattr(stats, "preview", removing)
    try:
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(decl), "--preview", str(tmp_path / "pre")])
        assert res.exit_code == 0 and res.exception is None, res.output
        assert (tmp_path / "pre" / "copies_preview.png").is_file()
        assert not (tmp_path / "pre" / "copies_label_copies.png").exists()
    finally:
        registry.DATASETS.remove("copies")


def test_each_warning_is_said_once_per_command():
    """A command may read one split several times (each part of a manifest reads them all): its data problems are
    logged once, and again by the next command of the same process."""
    import subprocess
    import sys

    code = ("import logging\nfrom drywallqa.cli.common import _start_command\n"
            "log = logging.getLogger('drywallqa.data.sample')\n"
            "log.warning('same'); log.warning('same'); log.warning('other')\n_start_command()\nlog.warning('same')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert [line for line in res.stderr.splitlines() if line.startswith("WARNING")] == [
        "WARNING same", "WARNING other", "WARNING same"]


def test_stats_and_split_read_a_tga_photo_and_name_an_unreadable_one(tmp_path):
    """One TGA photo (a supported format) aborted `data stats` and `data split` of the whole dataset."""
    import yaml

    from drywallqa.data import registry

    from conftest import write_tga_flip_and_cut

    folder = tmp_path / "tga" / "train"
    folder.mkdir(parents=True)
    names = write_tga_flip_and_cut(folder)
    images = [{"id": i, "file_name": n, "width": 64, "height": 64} for i, n in enumerate(names)]
    (folder / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": [], "categories": []}))
    decl = tmp_path / "tga.yaml"
    decl.write_text(yaml.safe_dump({"name": "tga", "folder": "tga", "prompts": ["segment crack"]}))
    try:
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(decl), "--json", str(tmp_path / "s.json")],
                                 terminal_width=300)
        assert res.exit_code == 0, res.output
        stats = json.loads((tmp_path / "s.json").read_text())[0]
        assert stats["splits"]["train"]["images"] == 4
        assert [p for p in stats["problems"] if "cut.jpg" in p and "near-duplicate search" in p]
        assert "cut.jpg" in res.output
        res = CliRunner().invoke(app, ["data", "split", "-d", str(decl), "--out", str(tmp_path / "splits"),
                                       "--val", "0.3", "--test", "0.3"])
        assert res.exit_code == 0, res.output
        parts = json.loads((tmp_path / "splits" / "tga.json").read_text())["parts"]
        assert sorted(sum(parts.values(), [])) == sorted(f"train/{n}" for n in names)
        assert [p for p, files in parts.items() if "train/a.tga" in files] == \
            [p for p, files in parts.items() if "train/a_flip.png" in files]  # the copy went with its photo
    finally:
        registry.DATASETS.remove("tga")


def test_stats_outputs_never_write_over_a_datasets_own_files(synthetic_datasets, tmp_path):
    """``--json crack/train/_masks/<mask>.png`` wrote the statistics over that mask (exit 0): the dataset read was
    damaged. ``--preview`` inside a dataset's folder put pictures among its photos."""
    runner = CliRunner()
    mask = sorted((synthetic_datasets / "crack" / "train" / "_masks").iterdir())[0]
    before = mask.read_bytes()
    args = ["data", "stats", "-d", "syn_crack", "--datasets-dir", str(synthetic_datasets)]
    for extra, words in ((["--json", str(mask)], "is a file of the dataset syn_crack"),
                         (["--json", str(synthetic_datasets / "crack" / "valid" / "_annotations.coco.json")],
                          "is a file of the dataset syn_crack"),
                         (["--preview", str(synthetic_datasets / "crack" / "train" / "p")], "reads photos from (train")):
        res = runner.invoke(app, args + extra, terminal_width=400)
        said = " ".join(res.output.replace("│", " ").split())
        assert res.exit_code == 2 and words in said, said
    assert mask.read_bytes() == before
    assert not list((synthetic_datasets / "crack" / "train").glob("*preview*"))
    res = runner.invoke(app, args + ["--preview", str(synthetic_datasets / "crack" / "previews")])  # beside the splits
    assert res.exit_code == 0 and (synthetic_datasets / "crack" / "previews" / "syn_crack_preview.png").is_file(), res.output
    stats = synthetic_datasets / "crack" / "stats.json"  # a new file there is the user's choice, and so is its rerun
    for _ in range(2):
        res = runner.invoke(app, args + ["--json", str(stats)])
        assert res.exit_code == 0 and json.loads(stats.read_text())[0]["dataset"] == "syn_crack", res.output


def test_data_split_update_keeps_the_parts_and_mends_a_group_split_over_two(synthetic_datasets, tmp_path):
    """A manifest written before a better copy search splits what is now one group: --update moves only those
    photos (to the first part: train before val before test), names each, and keeps everything else where it was."""
    runner = CliRunner()
    out = tmp_path / "splits"
    base = ["data", "split", "-d", "syn_tape", "--out", str(out), "--datasets-dir", str(synthetic_datasets)]
    res = runner.invoke(app, [*base, "--update"])
    assert res.exit_code == 2 and "no manifest to update" in res.output, res.output
    assert runner.invoke(app, base).exit_code == 0
    res = runner.invoke(app, [*base, "--update", "--overwrite"])
    assert res.exit_code == 2 and "choose one" in res.output, res.output
    res = runner.invoke(app, [*base, "--update", "--seed", "3"])  # it keeps the manifest's: 3 would be ignored
    assert res.exit_code == 2 and "own seed and fractions" in res.output, res.output
    path = out / "syn_tape.json"
    manifest = json.loads(path.read_text())
    train = manifest["parts"]["train"]
    stem = lambda f: f.split("/")[-1].split(".rf.")[0]  # noqa: E731
    split_off = next(f for f in train if sum(stem(g) == stem(f) for g in train) > 1)  # one copy of a trained photo
    manifest["parts"]["train"].remove(split_off)
    manifest["parts"]["test"].append(split_off)  # as a manifest of an older search could hold it
    path.write_text(json.dumps(manifest))
    res = runner.invoke(app, [*base, "--update"], terminal_width=80)
    assert res.exit_code == 0 and "(updated)" in res.output, res.output
    assert "moved 1 photo(s)" in res.output and "1 test -> train" in res.output and f"{split_off}: test -> train" in res.output
    after = json.loads(path.read_text())
    assert split_off in after["parts"]["train"] and split_off not in after["parts"]["test"]
    manifest["parts"]["test"].remove(split_off)
    assert {p: set(v) - {split_off} for p, v in after["parts"].items()} == {p: set(v) for p, v in manifest["parts"].items()}
    renamed = {**after, "parts": {"learn" if p == "train" else p: v for p, v in after["parts"].items()}}
    path.write_text(json.dumps(renamed))  # a manifest without a train part: a KeyError's traceback
    res = runner.invoke(app, [*base, "--update"])
    assert res.exit_code == 2 and "no part named train" in " ".join(res.output.split()), res.output


def test_data_split_joins_the_pairs_it_is_given(synthetic_datasets, tmp_path):
    """--join keeps photos in one group that the copy search cannot tell are one (pairs by hand, or what
    benchmarks/split_audit.py found): with --update, the one in val or test goes to its training copy's part."""
    from conftest import says

    runner = CliRunner()
    out = tmp_path / "splits"
    base = ["data", "split", "-d", "syn_crack", "--out", str(out), "--datasets-dir", str(synthetic_datasets)]
    assert runner.invoke(app, base).exit_code == 0
    parts = json.loads((out / "syn_crack.json").read_text())["parts"]
    stem = lambda f: f.split("/")[-1].split(".rf.")[0]  # noqa: E731
    held, trained = parts["test"][0], parts["train"][0]
    audit = {"same_photo_in_train": {"test": [{"photo": held, "train_photo": trained}], "val": []}}
    (tmp_path / "audit.json").write_text(json.dumps(audit))
    res = runner.invoke(app, [*base, "--update", "--join", str(tmp_path / "audit.json")], terminal_width=200)
    assert res.exit_code == 0, res.output
    after = json.loads((out / "syn_crack.json").read_text())["parts"]
    moved = {f for f in parts["test"] if stem(f) == stem(held)}  # the photo and its copies by name
    assert moved <= set(after["train"]) and not moved & set(after["test"]), res.output
    assert f"{held}: test -> train" in res.output
    (tmp_path / "pairs.json").write_text(json.dumps([[held, "train/no_such_photo.jpg"]]))
    res = runner.invoke(app, [*base, "--update", "--join", str(tmp_path / "pairs.json")])
    assert res.exit_code == 1 and says(res.output, "no_such_photo.jpg"), res.output
    (tmp_path / "bad.json").write_text(json.dumps({"pairs": 3}))
    res = runner.invoke(app, [*base, "--update", "--join", str(tmp_path / "bad.json")])
    assert res.exit_code == 2 and says(res.output, "not a list of [photo, photo] pairs"), res.output
    res = runner.invoke(app, [*base, "-d", "syn_tape", "--update", "--join", str(tmp_path / "pairs.json")])
    assert res.exit_code == 2 and says(res.output, "one --dataset"), res.output


def test_stats_preview_shows_a_shrunk_copy_with_its_label_shrunk_with_it(tmp_path):
    """The COCO reader takes a photo half the size its entry declares; --preview laid the label, drawn at the declared
    size, over the photo and crashed (IndexError, a traceback)."""
    import numpy as np
    from PIL import Image

    from drywallqa.data import registry
    from drywallqa.data.sample import load_split, photo_and_label

    folder = tmp_path / "ds" / "train"
    folder.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(folder / "a.png")
    (folder / "_annotations.coco.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 96, "height": 64}],
        "annotations": [{"id": 1, "image_id": 1, "bbox": [48, 32, 24, 16], "segmentation": []}], "categories": []}))
    decl = tmp_path / "shrunk.yaml"
    decl.write_text("name: shrunk\nfolder: ds\nprompts: [segment crack]\n")
    try:
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(decl), "--preview", str(tmp_path / "pre")])
        assert res.exit_code == 0, res.output
        assert (tmp_path / "pre" / "shrunk_preview.png").is_file()
        image, mask = photo_and_label(load_split("shrunk", "train")[0][0])
        assert mask.shape == image.shape[:2] == (32, 48) and mask.sum() == 12 * 8 and mask[16:24, 24:36].all()
    finally:
        registry.DATASETS.remove("shrunk")


def test_data_split_update_names_a_manifest_of_a_damaged_seed_or_fractions(synthetic_datasets, tmp_path):
    """--update places photos added since by the manifest's seed and fractions: a damaged one (edited by hand) crashed
    it with a traceback (KeyError, IndexError, TypeError); it is a clean error naming the file, which is kept."""
    import pytest

    out = tmp_path / "splits"
    base = ["data", "split", "-d", "syn_tape", "--out", str(out), "--datasets-dir", str(synthetic_datasets)]
    assert CliRunner().invoke(app, base).exit_code == 0
    path = out / "syn_tape.json"
    manifest = json.loads(path.read_text())
    manifest["parts"]["train"].pop()  # a photo added since: placed by the seed and fractions
    for damage in ({"fractions": "x"}, {"fractions": {}}, {"seed": [1]}, {"fractions": {"train": 0.7, "val": "a"}},
                   {"fractions": {**manifest["fractions"], "extra": 0.1}}):
        path.write_text(json.dumps({**manifest, **damage}))
        before = path.read_text()
        res = CliRunner().invoke(app, [*base, "--update"], terminal_width=400)
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            pytest.fail(f"{damage}: {res.exception!r}")
        assert res.exit_code == 1 and f"split manifest {path} has a damaged seed or fractions" in res.output, res.output
        assert path.read_text() == before


def test_update_group_split_from_python_refuses_a_damaged_seed_before_reading_the_photos(synthetic_datasets, monkeypatch):
    """The check was the CLI's: ``update_group_split`` called from Python with a manifest of damaged fractions read and
    grouped every photo (minutes on a real dataset), then failed inside with a TypeError."""
    import pytest

    from drywallqa.data import grouping

    split = grouping.make_group_split("syn_tape", synthetic_datasets)
    damaged = grouping.GroupSplit(split.dataset, split.seed, {"train": "x", "val": 0.15, "test": 0.15}, split.parts)
    monkeypatch.setattr(grouping, "_grouped_samples", lambda *a, **k: pytest.fail("the photos were read first"))
    with pytest.raises(ValueError, match="split manifest of 'syn_tape' has a damaged seed or fractions"):
        grouping.update_group_split("syn_tape", damaged, synthetic_datasets)


def test_an_output_path_too_long_for_the_disk_is_a_usage_error(synthetic_datasets, tmp_path):
    """--json (or --out of data split, refine-masks, predict) of a name longer than the disk allows stopped with an
    OSError traceback ("File name too long") from the check of links on its way; it is a usage error naming it."""
    from conftest import says

    res = CliRunner().invoke(app, ["data", "stats", "-d", "syn_crack", "--datasets-dir", str(synthetic_datasets),
                                   "--json", str(tmp_path / ("j" * 300))])
    assert res.exit_code == 2 and says(res.output, "cannot be a path here (File name too long)"), res.output
    res = CliRunner().invoke(app, ["data", "split", "-d", "syn_crack", "--datasets-dir", str(synthetic_datasets),
                                   "--out", str(tmp_path / ("s" * 300))])
    assert res.exit_code == 2 and says(res.output, "cannot be a path here (File name too long)"), res.output


def test_a_datasets_dir_that_is_a_loop_of_links_reads_no_photo_not_a_traceback(synthetic_datasets, tmp_path):
    """--datasets-dir a symbolic link to itself stopped `data stats --json` and `data refine-masks` with "RuntimeError:
    Symlink loop" (the check that their outputs lie outside the dataset resolved its folder); it holds no photo: exit 1."""
    import os

    os.symlink("loop", tmp_path / "loop")
    for args in (["data", "stats", "-d", "syn_crack", "--json", str(tmp_path / "s.json")],
                 ["data", "refine-masks", "-d", "syn_tape", "--with", "edges", "--out", str(tmp_path / "refined")]):
        res = CliRunner().invoke(app, args + ["--datasets-dir", str(tmp_path / "loop")])
        assert res.exit_code == 1 and isinstance(res.exception, SystemExit), (args, res.output)
    assert not (tmp_path / "refined").exists()  # (s.json holds why no photo was read)


def test_stats_json_never_writes_over_the_yaml_file_of_a_dataset_it_reads(synthetic_datasets, tmp_path):
    """`data stats -d walls.yaml --json walls.yaml` (the completion of the wrong name) wrote the statistics over the
    dataset's declaration, which was lost; refused (exit 2), the file kept."""
    import yaml

    from conftest import says
    from drywallqa.data import registry

    decl = tmp_path / "walls.yaml"
    decl.write_text(yaml.safe_dump({"name": "walls_json", "folder": str(synthetic_datasets / "crack"),
                                    "prompts": ["segment crack"]}))
    before = decl.read_text()
    try:
        res = CliRunner().invoke(app, ["data", "stats", "-d", str(decl), "--json", str(tmp_path / "." / "walls.yaml")])
        assert res.exit_code == 2 and says(res.output, "is the YAML file of a dataset it reads"), res.output
        assert decl.read_text() == before
    finally:
        if "walls_json" in registry.DATASETS:
            registry.DATASETS.remove("walls_json")


def test_a_second_data_split_into_one_folder_at_once_is_refused(synthetic_datasets, tmp_path):
    """Two `data split` runs into one --out at once (other seeds) each found no manifest there, and the later one's
    parts replaced the earlier's without a word (models trained on the first split then scored on the second)."""
    from filelock import FileLock

    from drywallqa.data.grouping import SPLIT_LOCK

    out = tmp_path / "splits"
    out.mkdir()
    base = ["data", "split", "-d", "syn_tape", "--out", str(out), "--datasets-dir", str(synthetic_datasets)]
    with FileLock(str(out / SPLIT_LOCK)):  # the other split, in another process
        res = CliRunner().invoke(app, [*base, "--seed", "1"], terminal_width=300)
        assert res.exit_code == 1 and "is in use by another data split" in res.output, res.output
        assert not (out / "syn_tape.json").exists()
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 0 and (out / "syn_tape.json").is_file(), res.output
    res = CliRunner().invoke(app, [*base, "--update"], terminal_width=300)  # the lock is released at the end
    assert res.exit_code == 0, res.output

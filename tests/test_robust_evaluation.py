"""Evaluation, model folders and pictures: what an adversarial pass found (each test failed before its fix)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.data import registry
from drywallqa.data.grouping import make_group_split
from drywallqa.data.registry import DatasetConfig, SplitSource
from drywallqa.engine.evaluator import build_eval_sets, evaluate
from drywallqa.engine.torch_runtime import check_model_settings
from drywallqa.models.base import PromptedSegmentationModel
from drywallqa.viz import grid, plot_confidence_curves

runner = CliRunner()


def test_pictures_take_a_dollar_sign_as_text(tmp_path):
    """A '$' pair in a photo's or prompt's name was read as matplotlib mathtext: a parse error ended the run."""
    cell = np.zeros((8, 8, 3), np.uint8)
    grid([[cell, cell]], ["input", "crack over $5_$"], tmp_path / "g.png", row_labels=["price_$5_$ wall0.jpg"])
    assert Image.open(tmp_path / "g.png").size[0] > 0
    curve = {"spearman": 0.5, "kept": {1.0: 0.4, 0.8: 0.5}, "oracle_kept": {1.0: 0.4, 0.8: 0.6}}
    plot_confidence_curves({"valid $x_$": curve}, tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 0


def test_a_prompt_in_a_script_the_font_lacks_is_drawn_without_a_warning_per_glyph(tmp_path):
    """`predict -p 裂缝 --overlay` printed matplotlib's "Glyph ... missing from font" warning, with source lines,
    for every character of the prompt."""
    import warnings

    cell = np.zeros((8, 8, 3), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning left to the caller fails the test
        grid([[cell, cell]], ["input", "裂缝"], tmp_path / "g.png", row_labels=["墙.jpg"])
    assert Image.open(tmp_path / "g.png").size[0] > 0


def _poison(model_dir):
    weights = model_dir / "model.safetensors"
    state = load_file(str(weights))
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name][0] = float("nan")
    save_file(state, str(weights))
    return name


def test_weights_that_are_not_finite_are_refused_at_load(tiny_model_dir):
    name = _poison(tiny_model_dir)
    with pytest.raises(ValueError, match="not finite") as info:
        PromptedSegmentationModel.from_pretrained(tiny_model_dir)
    assert name in str(info.value)
    res = runner.invoke(app, ["predict", str(tiny_model_dir), "--model-path", str(tiny_model_dir), "-p", "segment crack",
                              "--out", str(tiny_model_dir.parent / "out")])
    assert res.exit_code == 2 and "not finite" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("settings, key", [
    ({"threshold": None}, "threshold"),
    ({"threshold": "high"}, "threshold"),
    ({"prompt_thresholds": [0.3]}, "prompt_thresholds"),
    ({"prompt_thresholds": {"segment crack": 7}}, "segment crack"),
    ({"prompt_thresholds": {"segment crack": float("nan")}}, "segment crack"),
    ({"postprocess": {"segment crack": "dilate"}}, "segment crack"),
    ({"postprocess": {"segment crack": {"name": "erode"}}}, "erode"),
    ({"postprocess": {"segment crack": {"name": "dilate", "radius": 3}}}, "segment crack"),
    ({"text_encoder": 5}, "text_encoder"),
    ({"postprocess": {"segment crack": {"name": "dilate", "threshold": 7}}}, "threshold"),
    ({"postprocess": {"segment crack": {"name": "dilate", "threshold": "high"}}}, "threshold"),
    ({"postprocess": {"segment crack": [{"name": "boxes", "prompt": 5}]}}, "prompt"),
    ({"min_confidence": "0.2"}, "min_confidence"),  # refused as "min_confidence must be a number", not naming the file
    ({"min_confidence": 2}, "min_confidence"),
    ({"tta": "false"}, "tta"),  # was read as true
    ({"scales": "640"}, "scales"),
    ({"scales": [640.5]}, "scales"),
    ({"scales": True}, "scales"),
])
def test_model_settings_this_version_cannot_use_are_refused_at_load(settings, key, tiny_model_dir):
    with pytest.raises(ValueError) as info:
        check_model_settings(settings)
    assert key in str(info.value) and "config.json" in str(info.value)
    config = tiny_model_dir / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), **settings}))
    res = runner.invoke(app, ["predict", str(tiny_model_dir), "--model-path", str(tiny_model_dir), "-p", "segment crack",
                              "--out", str(tiny_model_dir.parent / "out")])
    assert res.exit_code == 2 and key in res.output and "Traceback" not in res.output


def test_a_bad_min_confidence_argument_is_not_blamed_on_the_model_folder(tiny_model_dir):
    with pytest.raises(ValueError) as info:
        Segmenter.load(tiny_model_dir, min_confidence="0.3")
    assert "min_confidence must be a number" in str(info.value) and "config.json" not in str(info.value)
    assert Segmenter.load(tiny_model_dir, min_confidence=0.3).settings()["min_confidence"] == 0.3


@pytest.mark.parametrize("scales", [64, [64], [64.0], [], None])
def test_scales_a_model_folder_may_hold(tiny_model_dir, scales):
    """One size as a number (as the Python API takes it) and [] (the model's own size) loaded before the check."""
    config = tiny_model_dir / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "scales": scales}))
    assert Segmenter.load(tiny_model_dir).scales == (64,)


def test_the_shipped_settings_pass_the_check():
    from drywallqa.models.base import read_model_metadata
    from drywallqa.models.shipped import resolve_model_dir

    meta = read_model_metadata(resolve_model_dir("fast"))
    assert check_model_settings(meta) is meta


def test_export_onnx_names_the_missing_weights_not_the_output(tiny_model_dir, tmp_path):
    (tiny_model_dir / "model.safetensors").unlink()
    res = runner.invoke(app, ["export", "onnx", "--model-path", str(tiny_model_dir), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "model.safetensors" in res.output and "--model-path" in res.output


@pytest.fixture
def same_concept(synthetic_datasets):
    """A second dataset of the crack photos: the same concept under other prompts, and one sharing a prompt."""
    configs = [
        DatasetConfig("syn_crack_b", "crack", ("segment wall crack",), {"valid": SplitSource("coco", "valid")},
                      concept="syn_crack"),
        DatasetConfig("syn_crack_c", "crack", ("segment crack",), {"valid": SplitSource("coco", "valid")}),
    ]
    for c in configs:
        registry.register_dataset(c)
    yield synthetic_datasets
    for c in configs:
        registry.DATASETS.remove(c.name)


def test_evaluate_exits_1_when_a_photo_could_not_be_scored(synthetic_datasets, tiny_model_dir, tmp_path):
    """A photo of the split that cannot be read: the reports are written and name it, and the command exits 1, as
    predict does (it exited 0: a script took the scores of the rest for the whole split's)."""
    args = ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits", "published",
            "--datasets-dir", str(synthetic_datasets), "--speed-images", "0"]
    res = CliRunner().invoke(app, args + ["--out", str(tmp_path / "clean")], terminal_width=300)
    assert res.exit_code == 0, res.output
    bad = sorted((synthetic_datasets / "crack" / "valid").glob("*.jpg"))[0]
    bad.write_bytes(b"not a photo")
    res = CliRunner().invoke(app, args + ["--out", str(tmp_path / "e")], terminal_width=300)
    assert res.exit_code == 1 and isinstance(res.exception, (SystemExit, type(None))), res.output
    assert "not everything could be scored: 1 failure under" in res.output and bad.name in res.output, res.output
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert report["metrics"] and any(bad.name in f for f in report["failures"])


def test_cross_prompt_check_leaves_out_the_same_concept_and_shared_prompts(same_concept, tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    report = evaluate(seg, tmp_path / "e", datasets=("syn_crack", "syn_crack_b", "syn_crack_c", "syn_tape"),
                      which=("published",), datasets_dir=same_concept, speed_images=0, progress=False)
    cross = {(r["dataset"], r["prompt"]) for r in report["cross_prompt"]}
    assert ("syn_crack", "segment wall crack") not in cross and ("syn_crack_b", "segment crack") not in cross
    assert ("syn_crack_c", "segment crack") not in cross  # its own prompt is never its negative
    assert ("syn_crack", "segment taping area") in cross and ("syn_tape", "segment crack") in cross
    auroc = {r["prompt"]: r for r in report["image_level"]}
    # "segment crack": positives on the 8 syn_crack / syn_crack_c photos with cracks; negatives only the 4 tape photos
    assert auroc["segment crack"]["negatives"] == 4


def test_evaluate_lists_the_photos_the_reader_left_out(synthetic_datasets, tiny_model_dir, tmp_path):
    splits = tmp_path / "splits"
    make_group_split("syn_crack", synthetic_datasets, seed=0).to_json(splits / "syn_crack.json")
    valid = sorted((synthetic_datasets / "crack" / "valid").glob("*.jpg"))
    valid[0].unlink()
    valid[1].write_bytes(b"not a photo")
    seg = Segmenter.load(tiny_model_dir)
    report = evaluate(seg, tmp_path / "e", datasets=("syn_crack",), which=("published",), datasets_dir=synthetic_datasets,
                      speed_images=0, progress=False)
    assert report["metrics"][0]["images"] == 2
    named = " ".join(report["failures"])
    assert valid[0].name in named and valid[1].name in named
    assert "## Files that failed" in (tmp_path / "e" / "report.md").read_text()
    sets = build_eval_sets(("syn_crack",), ("group",), splits, synthetic_datasets)
    test_part = json.loads((splits / "syn_crack.json").read_text())["parts"]["test"]
    gone = [f for f in test_part if f.endswith((valid[0].name, valid[1].name))]
    assert all(any(g in p for p in sets[0].problems) for g in gone)
    assert build_eval_sets(("syn_crack",), ("train",), splits, synthetic_datasets)[0].problems == []  # valid: not train
    train_part = json.loads((splits / "syn_crack.json").read_text())["parts"]["train"]
    first = next(f for f in train_part if f.startswith("train/"))
    next((synthetic_datasets / "crack").rglob(Path(first).name)).unlink()
    train = build_eval_sets(("syn_crack",), ("train",), splits, synthetic_datasets)[0]
    assert len(train.problems) == 1 and "not in the dataset (missing or unreadable): 1," in train.problems[0] and first in train.problems[0]


def test_evaluate_warns_of_a_prompt_the_gate_leaves_unanswered(synthetic_datasets, tmp_path):
    """The shipped model's gate refuses a prompt far from what it knows: the report says so, not just 0.000."""
    mould = DatasetConfig("syn_mould", "crack", ("segment black mould",), {"valid": SplitSource("coco", "valid")})
    registry.register_dataset(mould)
    try:
        report = evaluate(Segmenter.load("fast"), tmp_path / "e", datasets=("syn_mould",), which=("published",),
                          datasets_dir=synthetic_datasets, speed_images=0, progress=False)
        assert report["warnings"] and "segment black mould" in report["warnings"][0]
        assert "**Warnings**" in (tmp_path / "e" / "report.md").read_text()
        ungated = evaluate(Segmenter.load("fast", prompt_gate=False), tmp_path / "e2", datasets=("syn_mould",),
                           which=("published",), datasets_dir=synthetic_datasets, speed_images=0, progress=False)
        assert ungated["warnings"] == []
    finally:
        registry.DATASETS.remove("syn_mould")


def test_evaluate_leaves_no_earlier_picture_beside_its_report(synthetic_datasets, tiny_model_dir, tmp_path):
    out = tmp_path / "e"
    out.mkdir()
    (out / "examples.png").write_bytes(b"an earlier run's")
    (out / ".evaluate.lock").touch()  # what an earlier run leaves beside it (a folder no evaluation wrote is refused)
    splits = tmp_path / "splits"
    make_group_split("syn_crack", synthetic_datasets, seed=0).to_json(splits / "syn_crack.json")
    report = evaluate(Segmenter.load(tiny_model_dir), out, datasets=("syn_crack",), which=("group",), splits_dir=splits,
                      datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert "examples_png" not in report and not (out / "examples.png").exists()


def test_an_onnx_export_loaded_by_the_torch_runtime_says_which_runtime(tiny_model_dir, tmp_path):
    from drywallqa.export.onnx import export_onnx

    export_onnx(tiny_model_dir, tmp_path / "onnx")
    with pytest.raises(FileNotFoundError, match="--runtime onnx"):
        Segmenter.load(tmp_path / "onnx")


def test_validation_asks_no_prompt_of_the_photos_own_dataset_as_another_concept(synthetic_datasets):
    """A dataset of another concept whose canonical prompt this one lists too: not a cross-prompt negative."""
    from types import SimpleNamespace

    from drywallqa.engine.validator import Validator

    other = DatasetConfig("syn_other", "tape", ("segment joint/tape",), {"valid": SplitSource("coco", "valid")})
    registry.register_dataset(other)
    asked = []

    class Recorder:
        def predict(self, image, prompts):
            asked.append(list(prompts))
            return SimpleNamespace(probabilities={p: np.zeros(image.shape[:2], np.float32) for p in prompts})

    photo, gt = np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16), bool)
    try:
        Validator({"syn_tape": [(photo, gt)], "syn_other": [(photo, gt)], "syn_crack": [(photo, gt)]}, options=False)(Recorder())
    finally:
        registry.DATASETS.remove("syn_other")
    on_tape = asked[0]  # syn_tape lists "segment joint/tape" among its prompts
    assert on_tape[0] == "segment taping area" and "segment joint/tape" not in on_tape and "segment crack" in on_tape


def test_a_scored_photo_with_an_annotation_dropped_is_no_failure(synthetic_datasets, tiny_model_dir, tmp_path):
    coco = synthetic_datasets / "crack" / "valid" / "_annotations.coco.json"
    data = json.loads(coco.read_text())
    data["annotations"].append({"id": 99, "image_id": 0, "category_id": 1, "bbox": [5, 5, 0.5, 0.5], "segmentation": [],
                                "area": 0.25})
    coco.write_text(json.dumps(data))
    report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "e", datasets=("syn_crack",), which=("published",),
                      datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert report["metrics"][0]["images"] == 4 and report["failures"] == []
    assert len(report["data_problems"]) == 1 and "annotation 99" in report["data_problems"][0]
    assert "## Data problems" in (tmp_path / "e" / "report.md").read_text()


@pytest.mark.parametrize("options, says", [
    ({"datasets": ()}, "at least one dataset"),
    ({"which": ("valid",)}, "which must name one or more of published"),
    ({"which": ()}, "which must name one or more of published"),
    ({"which": None}, "which must name one or more of published"),
    ({"limit": 0}, "limit must be a whole number of at least 1"),
    ({"limit": -1}, "limit must be a whole number of at least 1"),
    ({"limit": 1.5}, "limit must be a whole number of at least 1"),
    ({"limit": True}, "limit must be a whole number of at least 1"),
    ({"speed_images": -1}, "speed_images must be a whole number"),
    ({"speed_images": True}, "speed_images must be a whole number"),
])
def test_the_python_evaluate_refuses_what_the_cli_refuses_before_writing(options, says, tmp_path):
    """``evaluate(...)`` from Python wrote a report of no split for ``which=("valid",)`` or ``()`` (and of no dataset
    for ``datasets=()``), scored every photo for ``limit=0`` and all but the last for ``limit=-1``, timed all but the
    last photo for ``speed_images=-1``, and ended in a TypeError of slicing for ``limit=1.5``."""
    kwargs = {"datasets": ("cracks",), "which": ("published",), "speed_images": 0, **options}
    with pytest.raises(ValueError, match=says):
        evaluate(None, tmp_path / "out", progress=False, **kwargs)
    assert not (tmp_path / "out").exists()


def test_the_python_evaluate_takes_one_dataset_and_one_split_as_text(synthetic_datasets, tiny_model_dir, tmp_path):
    """A string was read letter by letter: ``datasets="syn_crack"`` ended in "dataset 's' is listed twice"."""
    report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "out", datasets="syn_crack", which="published",
                      datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert {(r["split"], r["dataset"]) for r in report["metrics"]} == {("published valid", "syn_crack")}


def test_report_md_keeps_a_prompt_with_a_bar_in_its_cell_and_a_file_name_on_its_line(tiny_model_dir, tmp_path):
    """A dataset's prompt "crack | hairline" split its cells in report.md's tables (the numbers after it stood under
    other columns), a photo named with a newline split its line of "Files that failed", and one with an escape
    sequence was written (and printed by the command) as it is: the terminal ran it."""
    split = tmp_path / "walls" / "valid"
    (split / "_masks").mkdir(parents=True)
    photo, label = np.full((40, 52, 3), 150, np.uint8), np.zeros((40, 52), np.uint8)
    photo[20:23], label[20:23] = 30, 255
    Image.fromarray(photo).save(split / "p0.jpg")
    for stem in ("p0", "bad\nx", "esc\x1b[2Jz"):
        Image.fromarray(label).save(split / "_masks" / f"{stem}.png")
    for stem in ("bad\nx", "esc\x1b[2Jz"):
        (split / f"{stem}.jpg").write_bytes(b"not a photo")
    (tmp_path / "walls.yaml").write_text("name: walls_bar\nfolder: walls\nprompts: [segment crack, crack | hairline]\n")
    out = tmp_path / "out"
    res = runner.invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", str(tmp_path / "walls.yaml"),
                              "--splits", "published", "--speed-images", "0", "--out", str(out)])
    assert res.exit_code == 1 and "not everything could be scored: 2 failures" in res.output, res.output  # reports written
    md = (out / "report.md").read_text()
    row = next(line for line in md.splitlines() if "hairline" in line and line.startswith("| published valid | walls"))
    assert "crack \\| hairline" in row and len(row.replace("\\|", "").split("|")) == 14, row  # 12 columns
    failed = md.split("## Files that failed")[1].split("\n## ")[0]
    assert "bad\\nx.jpg: " in failed and "esc\\x1b[2Jz.jpg: " in failed, failed
    assert "\x1b" not in md and "\x1b[2J" not in res.output  # (the progress bars move the cursor themselves)


def test_report_md_shows_angle_brackets_as_text_not_html():
    """A Markdown viewer read a '<' of report.md as the start of an HTML tag: a dataset's prompt "segment <tape> area"
    showed as "segment  area", and a photo named "<img src=x onerror=alert(1)>.jpg" among the files that failed was an
    image tag running its script where the viewer lets HTML through."""
    from markdown_it import MarkdownIt

    from drywallqa.engine.eval_report import render_markdown

    row = {"split": "published valid", "dataset": "walls", "images": 2, "mIoU": 0.5, "mDice": 0.6, "pooled_IoU": 0.5,
           "precision": 0.5, "recall": 0.5, "pixel_AP": 0.5, "pixel_F1max": 0.5}
    report = {"model": {}, "empty_convention": "x", "cross_prompt": [], "metrics": [{**row, "prompt": "segment <tape> area"}],
              "warnings": ["'<b>x</b>' is not something this model was trained to find"],
              "failures": ["in/<img src=x onerror=alert(1)>.jpg: not a readable image"]}
    page = MarkdownIt("commonmark", {"html": True}).enable("table").render(render_markdown(report))
    assert "<td>segment &lt;tape&gt; area</td>" in page
    assert "<li>in/&lt;img src=x onerror=alert(1)&gt;.jpg: not a readable image</li>" in page and "<img" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>" not in page


def test_picture_labels_of_several_lines_keep_their_line_breaks(tmp_path, monkeypatch):
    """worst.png's error-map legend and row labels ("published valid cracks\\nIMG_1.jpg\\nIoU 0.12", `data stats
    --preview`'s too) were drawn as one line reading "\\n", over the titles beside them; a file name's own control
    characters are still escaped by whoever puts it in a label."""
    from matplotlib.axes import Axes

    from drywallqa.engine.evaluator import ERROR_LEGEND

    drawn = []
    for method in ("set_title", "set_ylabel"):
        real = getattr(Axes, method)
        monkeypatch.setattr(Axes, method, lambda self, text, *a, _real=real, **k: (drawn.append(text), _real(self, text, *a, **k))[1])
    cell = np.zeros((8, 8, 3), np.uint8)
    grid([[cell, cell]], ["input", ERROR_LEGEND], tmp_path / "g.png", row_labels=["valid cracks\nbad\\nx.jpg\x1b\nIoU 0.12"])
    assert sorted(drawn) == sorted(["input", ERROR_LEGEND, "valid cracks\nbad\\nx.jpg\\x1b\nIoU 0.12"])


def test_a_photo_cut_in_its_data_fails_alone_and_is_not_timed(synthetic_datasets, tiny_model_dir, tmp_path):
    """A valid photo whose header reads but whose data is cut: listed as failed, then timed by the speed measurement,
    whose error ended the evaluation ("error: ...: not a readable image", exit 1) after every set was scored, with no
    report, and again on every rerun."""
    first = sorted((synthetic_datasets / "crack" / "valid").glob("*.jpg"))[0]
    whole = first.read_bytes()
    first.write_bytes(whole[:len(whole) // 2])
    report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "e", datasets="syn_crack", which="published",
                      datasets_dir=synthetic_datasets, speed_images=2, progress=False)
    assert report["metrics"][0]["images"] == 3 and first.name in " ".join(report["failures"])
    assert report["speed"]["images"] == 2 and (tmp_path / "e" / "report.json").is_file()


def test_an_out_inside_a_split_folder_is_refused_before_anything_is_written(synthetic_datasets, tiny_model_dir):
    """`evaluate --out <dataset>/valid` wrote examples.png, worst.png, report.json, ... among the split's photos: the
    next evaluation listed each as a failed photo ("no mask at .../_masks/examples.png"), and training read them too."""
    from conftest import says

    valid = synthetic_datasets / "crack" / "valid"
    before = sorted(p.name for p in valid.iterdir())
    for out in (valid, valid / "eval"):
        result = runner.invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits",
                                     "published", "--datasets-dir", str(synthetic_datasets), "--speed-images", "0",
                                     "--out", str(out)])
        assert result.exit_code == 2 and says(result.output, "--out", "inside the folder of the 'valid' split")
        with pytest.raises(ValueError, match="inside the folder"):
            evaluate(Segmenter.load(tiny_model_dir), out, datasets="syn_crack", which="published",
                     datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert sorted(p.name for p in valid.iterdir()) == before


def test_a_split_of_one_source_photo_has_no_interval(synthetic_datasets, tiny_model_dir, tmp_path):
    """A split of one photo (or of copies of one) reported "mIoU 0.047, 95% CI 0.047-0.047": every resample was that
    photo again, an interval of no width read as a certain score. It is undefined: null in report.json, n/a in report.md."""
    from drywallqa.metrics import bootstrap_ci

    assert np.isnan(bootstrap_ci([0.3])).all() and np.isnan(bootstrap_ci([0.2, 0.9], ["a", "a"])).all()
    report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "e", datasets="syn_crack", which="published", limit=1,
                      datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert report["metrics"][0]["images"] == 1
    assert json.loads((tmp_path / "e" / "report.json").read_text())["metrics"][0]["mIoU_CI95"] == [None, None]
    md = (tmp_path / "e" / "report.md").read_text()
    assert "| n/a-n/a |" in md and "the mIoU interval where it holds one source photo" in md


def test_train_samples_of_two_sizes_are_one_split(synthetic_datasets, tiny_model_dir, tmp_path):
    """`--splits train` named each dataset's sample by its size ("sample of 20", "sample of 4" where a train part held
    fewer than 150 photos): two splits, so each prompt's image-level AUROC had no negative image and read n/a."""
    splits = tmp_path / "splits"
    for ds in ("syn_crack", "syn_tape"):
        make_group_split(ds, synthetic_datasets, seed=0).to_json(splits / f"{ds}.json")
    sets = build_eval_sets(("syn_crack", "syn_tape"), ("train",), splits, synthetic_datasets)
    assert len({len(s.samples) for s in sets}) == 2  # parts of two sizes, both smaller than the sample
    assert len({s.name for s in sets}) == 1
    report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "e", datasets=("syn_crack", "syn_tape"), which="train",
                      splits_dir=splits, datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    rows = report["image_level"]
    assert len({r["split"] for r in rows}) == 1 and all(r["positives"] and r["negatives"] for r in rows)
    assert all(0 <= r["AUROC"] <= 1 for r in rows)


def test_a_synonym_that_is_another_datasets_canonical_prompt_is_not_counted_as_this_ones(synthetic_datasets,
                                                                                       tiny_model_dir, tmp_path):
    """A dataset whose synonyms hold another dataset's canonical prompt ("segment fissure", then "segment crack"):
    its confidence row, and its table of seen and unseen photos, counted each photo twice (8 masks of 4 photos), both
    prompts' records under the first one's name."""
    fissure = DatasetConfig("syn_fissure", "crack", ("segment fissure", "segment crack"),
                            {"valid": SplitSource("coco", "valid")})
    registry.register_dataset(fissure)
    (tiny_model_dir / "train_files.json").write_text(json.dumps({"train": [[], []]}))
    try:
        report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "e", datasets=("syn_crack", "syn_fissure"),
                          which="published", datasets_dir=synthetic_datasets, speed_images=0,
                          model_dir=tiny_model_dir, progress=False)
    finally:
        registry.DATASETS.remove("syn_fissure")
    confidence = {r["dataset"]: r for r in report["confidence"]}
    assert confidence["syn_fissure"]["masks"] == 4 and confidence["syn_fissure"]["prompt"] == "segment fissure"
    memory = {r["dataset"]: r for r in report["memory"]}
    assert memory["syn_fissure"]["images_unseen"] == 4


def test_a_prompt_named_ground_truth_keeps_its_qa_measures_apart(synthetic_datasets, tiny_model_dir, tmp_path):
    """A dataset's prompt "ground truth": its masks' QA measures went into the ground truth's list, one row averaging
    both instead of two."""
    named = DatasetConfig("syn_gt", "crack", ("ground truth",), {"valid": SplitSource("coco", "valid")})
    registry.register_dataset(named)
    try:
        report = evaluate(Segmenter.load(tiny_model_dir), tmp_path / "e", datasets="syn_gt", which="published",
                          datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    finally:
        registry.DATASETS.remove("syn_gt")
    rows = report["qa_measures"]
    assert [r["masks"] for r in rows] == ["ground truth", "ground truth"]
    assert rows[0]["area_fraction"] == pytest.approx(200 / 4096)  # one 10x20 label per 64x64 photo


@pytest.mark.parametrize("name", ["report.json", "worst.png"])
def test_a_folder_where_a_report_file_goes_is_named_before_scoring(synthetic_datasets, tiny_model_dir, tmp_path, name):
    """A folder named report.json (or worst.png, per_image.csv, ...) in --out: every set was scored, then the report
    ended in an IsADirectoryError traceback."""
    from conftest import says

    out = tmp_path / "e"
    (out / name).mkdir(parents=True)
    result = runner.invoke(app, ["evaluate", "--model-path", str(tiny_model_dir), "-d", "syn_crack", "--splits",
                                 "published", "--datasets-dir", str(synthetic_datasets), "--speed-images", "0",
                                 "--out", str(out)])
    assert result.exit_code == 2 and says(result.output, "--out", f"{name} is a folder")
    with pytest.raises(ValueError, match=f"writes its {name} there"):
        evaluate(Segmenter.load(tiny_model_dir), out, datasets="syn_crack", which="published",
                 datasets_dir=synthetic_datasets, speed_images=0, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [name]  # nothing scored


def test_the_pictures_an_evaluation_keeps_are_small(tiny_model_dir, tmp_path):
    """examples.png and worst.png draw 192 px cells, but each set kept its first photos and its worst ones whole,
    with their labels, masks and float probability maps: hundreds of MB per set of phone photos, in memory and in
    .partial/. They are kept at 512 px on the longer side; a one-pixel crack stays in the kept mask."""
    from drywallqa.engine.evaluator import PICTURE_SIDE, EvalSet, evaluate_set, shrunk
    from drywallqa.data.sample import Sample

    photo, label = np.full((900, 1200, 3), 150, np.uint8), np.zeros((900, 1200), bool)
    label[400, :] = True  # one pixel high
    photo[label] = 40
    Image.fromarray(photo).save(tmp_path / "big.png")
    Image.fromarray(label.astype(np.uint8) * 255).save(tmp_path / "big_mask.png")
    small_image, small_label, small_map = shrunk(photo, label, label.astype(np.float32))
    assert small_image.shape == (384, 512, 3) and small_label.shape == (384, 512) and small_label.dtype == bool
    assert small_label.any(axis=0).all() and small_map.dtype == np.float32 and 0 < small_map.max() < 1
    assert shrunk(photo[:100, :200], label[:100, :200])[0].shape == (100, 200, 3)  # small already: as it is
    sample = Sample(image_path=tmp_path / "big.png", dataset="cracks", split="valid", height=900, width=1200,
                    mask_path=tmp_path / "big_mask.png")
    result = evaluate_set(Segmenter.load(tiny_model_dir), EvalSet("published valid", "cracks", [sample]),
                          ["cracks"], progress=False)
    for kept in (*result.examples[0][:2], *result.examples[0][2].values(), *result.worst[0][2:]):
        assert max(kept.shape[:2]) == PICTURE_SIDE, kept.shape


def test_grid_pictures_keep_their_aspect(tmp_path):
    """Every grid picture (examples.png, worst.png, overlay_grid.png, data previews) squashed each photo into a square
    cell: a portrait photo's crack drawn three times as wide as it is tall came out a square."""
    from drywallqa.viz import fit_in_cell

    portrait = np.zeros((300, 100, 3), np.uint8)
    cell = fit_in_cell(portrait, 192)
    dark = (cell == 0).all(axis=2)
    assert cell.shape == (192, 192, 3) and dark.sum() == 192 * 64  # 64 px wide, 192 tall: its 1:3 kept
    assert dark[:, 64:128].all() and not dark[:, :64].any() and not dark[:, 128:].any()  # centred on white
    assert fit_in_cell(np.zeros((10, 40), bool), 192).shape == (192, 192)
    assert fit_in_cell(np.zeros((4, 4), np.float32), 192).max() == 0  # a square fills its cell
    grid([[portrait, np.full((100, 300, 3), 90, np.uint8)]], ["tall", "wide"], tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 0

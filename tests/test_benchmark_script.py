"""benchmarks/run_benchmark.py: the shipped models side by side (models.md)."""


def _report(crack_valid, crack_test, taping_valid, taping_test, first, extra, mb):
    rows = [{"split": split, "dataset": ds, "prompt": prompt, "mIoU": v}
            for split, ds, prompt, v in (("published valid", "cracks", "segment crack", crack_valid),
                                         ("group-clean test", "cracks", "segment crack", crack_test),
                                         ("published valid", "cracks", "segment wall crack", 0.0),
                                         ("published valid", "taping", "segment taping area", taping_valid),
                                         ("group-clean test", "taping", "segment taping area", taping_test))]
    return {"metrics": rows, "speed": {"median_ms_first_prompt": first, "median_ms_per_extra_prompt": extra}, "model_mb": mb}


def test_models_table_puts_each_model_on_one_row(load_script):
    bench = load_script("run_benchmark", "benchmarks")
    table = bench.models_table({"fast": _report(0.475, 0.43, 0.776, 0.679, 102.9, 25.9, 17.7),
                                "accurate": _report(0.61, 0.56, 0.81, 0.73, 900.0, 60.0, 35.2)}).splitlines()
    assert table[0].startswith("| model | crack mIoU valid / test")
    assert table[2] == "| fast | 0.475 / 0.430 | 0.776 / 0.679 | 102.9 | 25.9 | 17.7 |"  # canonical prompts only
    assert table[3] == "| accurate | 0.610 / 0.560 | 0.810 / 0.730 | 900.0 | 60.0 | 35.2 |"
    partial = bench.models_table({"x": {"metrics": [], "model_mb": 1.0}}).splitlines()[2]
    assert partial == "| x | n/a / n/a | n/a / n/a | n/a | n/a | 1.0 |"


def test_large_photos_refuses_a_grid_larger_than_a_split_before_loading_models(load_script, monkeypatch, capsys):
    """--grid 15 over 201 photos made no mosaic and died in statistics.median (StatisticsError), after the models
    loaded."""
    import sys

    import pytest

    lp = load_script("large_photos", "benchmarks")
    monkeypatch.setattr(lp, "load_split", lambda dataset, split: ([object()] * {"cracks": 201, "taping": 250}[dataset], []))
    monkeypatch.setattr(lp.Segmenter, "load", lambda *a, **k: pytest.fail("the models loaded before the check"))
    monkeypatch.setattr(sys, "argv", ["large_photos.py", "--grid", "15"])
    with pytest.raises(SystemExit) as exc:
        lp.main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "225 photos, more than the 201 published valid photos of cracks" in err and "--grid 14 or less" in err
    lp.check_grid(3, {"cracks": 201, "taping": 9})  # enough photos: no word


def test_large_photos_labels_each_picture_with_its_own_dataset(load_script, tmp_path):
    """A dataset that makes no mosaic has no picture: the labels were a fixed list of both datasets, so the picture of
    taping would have been labelled with the crack prompt."""
    from types import SimpleNamespace

    import numpy as np
    from PIL import Image

    from drywallqa.data.sample import Sample

    lp = load_script("large_photos", "benchmarks")
    (tmp_path / "m").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "p.png")
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(tmp_path / "m" / "p.png")
    sample = Sample(tmp_path / "p.png", "taping", "valid", 32, 32, mask_path=tmp_path / "m" / "p.png")

    class Whole:
        def predict(self, image, prompts, label_shape=None):
            return SimpleNamespace(masks={prompts[0]: np.ones(image.shape[:2], bool)})

    rows, pictures, labels = lp.run_modes({"whole photo": Whole()}, {"cracks": [], "taping": [sample]}, 1)
    assert labels == ["segment taping area"] and len(pictures) == 1 and len(pictures[0]) == 3
    assert [(r["dataset"], r["mIoU"]) for r in rows] == [("taping", 1.0)]

"""Commands run as programs run them: standard streams closed, or files and pipes (no terminal); warnings made
errors (``PYTHONWARNINGS=error``)."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

from conftest import write_photos

from drywallqa.utils.progress import progress_bar

SRC = str(Path(__file__).parents[1] / "src")


def _cli(args, cwd, close=(), **kwargs):
    """``python -m drywallqa args`` in ``cwd``, with the standard descriptors ``close`` closed in the child."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "drywallqa", *args], cwd=cwd, env=env, timeout=120,
                          preexec_fn=lambda: [os.close(fd) for fd in close], **kwargs)


def test_predict_with_standard_error_closed_segments_every_photo(tmp_path, tiny_model_dir):
    """`drywallqa predict ... 2>&-` ended at its progress bar's first line, exit 1 without a word, one photo of three
    segmented (train likewise before its run folder was made)."""
    from drywallqa import Segmenter

    write_photos(tmp_path / "in", 3)
    # the prompt's embedding in the cache, as on any run after the first: loading the text encoder (transformers'
    # logging) would have put a standard error in place
    Segmenter.load(str(tiny_model_dir)).predict(tmp_path / "in" / "p0.jpg", ["segment crack"])
    done = _cli(["predict", "in", "-p", "segment crack", "-o", "out", "--model-path", str(tiny_model_dir)],
                tmp_path, close=(2,), stdout=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stdout
    assert "3 images done, 0 failed" in done.stdout
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [f"p{i}__segment_crack.png" for i in range(3)]


def test_a_progress_bar_without_standard_error_draws_nothing(monkeypatch):
    monkeypatch.setattr(sys, "stderr", None)
    assert list(progress_bar(range(3), desc="predict")) == [0, 1, 2]


def test_reading_coco_polygons_and_rles_with_warnings_as_errors():
    """Under `PYTHONWARNINGS=error` every command reading a COCO polygon or RLE label (data stats, evaluate, train)
    stopped with a traceback: numpy 2's DeprecationWarning of pycocotools' own decoding."""
    from pycocotools import mask as mask_utils

    from drywallqa.data.coco import rasterize_annotations

    rle = mask_utils.encode(__import__("numpy").asfortranarray(__import__("numpy").ones((8, 8), "uint8")))
    rle["counts"] = rle["counts"].decode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask, problems = rasterize_annotations([{"id": 1, "segmentation": [[1, 1, 6, 1, 6, 6, 1, 6]]},
                                                {"id": 2, "segmentation": rle}], 8, 8)
    assert mask.all() and not problems


def test_export_onnx_with_warnings_as_errors(tiny_model_dir, tmp_path):
    """`PYTHONWARNINGS=error drywallqa export onnx` (and the first `--runtime onnx` run, which exports) ended with
    torch's DeprecationWarning of its TorchScript exporter, the one chosen here."""
    from drywallqa.export.onnx import export_onnx

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        export_onnx(tiny_model_dir, tmp_path / "onnx")
    assert (tmp_path / "onnx" / "decoder.onnx").is_file()



def test_a_bar_whose_log_reader_has_gone_lets_the_work_go_on():
    """`drywallqa predict ... 2>&1 | head -1`: the predict bar's next line met a closed pipe (BrokenPipeError), and
    the command stopped there, exit 1, before results.json, results.csv and report.html were written."""
    from tqdm import tqdm

    from drywallqa.utils.progress import LogLines

    read, write = os.pipe()
    os.close(read)  # the reader has gone
    with open(write, "w", buffering=1) as log:
        for _ in tqdm(range(50), desc="predict", file=LogLines(log, interval=0), mininterval=0):
            pass
        log.write("and later lines go nowhere\n")  # the descriptor is the null device now


def test_training_whose_output_reader_has_gone_trains_every_epoch(write_train_config, tiny_kwargs, monkeypatch):
    """`drywallqa train cfg.yaml 2>&1 | head`: the epoch's line of metrics met the closed pipe, and the run stopped after
    its first epoch, "error: [Errno 32] Broken pipe", exit 1."""
    import json

    import yaml

    from drywallqa.engine.config import TrainConfig
    from drywallqa.engine.trainer import Trainer

    config = yaml.safe_load(write_train_config("film_unet", tiny_kwargs).read_text())
    config["optim"]["epochs"] = 2
    read, write = os.pipe()
    os.close(read)
    with open(write, "w", buffering=1) as gone:  # the line written at once (else when the buffer fills)
        monkeypatch.setattr(sys, "stdout", gone)
        Trainer(TrainConfig.from_dict(config)).train()
        monkeypatch.undo()
    metrics = json.loads((Path(config["output_dir"]) / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics] == [1, 2]

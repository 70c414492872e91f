"""Taping boxes refined into strips from image edges (``refine-masks --with edges``): a diagonal joint
becomes a diagonal strip, crossing joints two strips, bare board keeps its box, a thin box stays."""

import json

import cv2
import numpy as np
import pytest
from conftest import require_hed_weights
from typer.testing import CliRunner

from drywallqa.cli import app
from drywallqa.data.edge_strips import EdgeEvidence, StripOptions, refine_boxes_with_edges


@pytest.fixture(scope="module")
def evidence():
    require_hed_weights()
    return EdgeEvidence()


def _board(lines, h=240, w=320, seed=0):
    """A grey board with light tape strips (``(x0, y0, x1, y1, width)``) and the strips' own mask."""
    rng = np.random.default_rng(seed)
    image = (150 + rng.integers(-6, 6, (h, w, 1))).astype(np.uint8).repeat(3, 2)
    truth = np.zeros((h, w), np.uint8)
    for x0, y0, x1, y1, width in lines:
        cv2.line(truth, (x0, y0), (x1, y1), 1, width)
    image[truth > 0] = 205
    return image, truth.astype(bool)


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_a_diagonal_joint_becomes_a_diagonal_strip(evidence):
    image, truth = _board([(20, 220, 300, 30, 12)])
    box = [10, 10, 300, 225]
    masks, outcomes, lines = refine_boxes_with_edges(image, [box], evidence)
    assert outcomes == ["refined"] and len(lines[0]) == 1
    assert _iou(masks[0], truth) > 0.6
    assert masks[0].sum() < 0.2 * box[2] * box[3]  # a strip, not the box
    assert 40 < lines[0][0][1] < 70  # its normal points about 56 degrees from the x axis: the joint is diagonal


def test_crossing_joints_become_two_strips(evidence):
    image, truth = _board([(160, 5, 160, 235, 10), (5, 120, 315, 120, 10)])
    masks, outcomes, lines = refine_boxes_with_edges(image, [[5, 5, 310, 230]], evidence)
    assert outcomes == ["refined"] and len(lines[0]) == 2
    assert _iou(masks[0], truth) > 0.6


def test_bare_board_falls_back_and_a_thin_box_is_kept(evidence):
    image, _ = _board([])
    boxes = [[20, 20, 200, 150], [100, 50, 8, 150]]
    masks, outcomes, _ = refine_boxes_with_edges(image, boxes, evidence)
    assert outcomes == ["fell_back", "kept"]
    for (x, y, w, h), m in zip(boxes, masks):  # both stay boxes
        assert m[y:y + h, x:x + w].all() and m.sum() == w * h
    strict = StripOptions(min_contrast=1e6)  # nothing is credible enough: every box falls back
    assert refine_boxes_with_edges(_board([(20, 220, 300, 30, 12)])[0], [[10, 10, 300, 225]], evidence, strict)[1] == ["fell_back"]


def test_cli_with_edges_reports_every_file_and_draws_a_preview(synthetic_datasets, tmp_path):
    require_hed_weights()
    out = tmp_path / "edges"
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--with", "edges", "--out", str(out),
                                   "--split", "valid", "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    counts = report["splits"]["valid"]
    assert counts["images"] == 4 and counts["kept"] + counts["refined"] + counts["fell_back"] == counts["boxes"] == 4
    assert len(report["files"]) == 4 and all(len(v) == 1 for v in report["files"].values())
    assert report["with"] == "edges" and (out / "valid" / "_masks").is_dir()
    assert ("preview" in report) == (counts["refined"] > 0)
    bad = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--with", "magic", "--out", str(tmp_path / "x"),
                                   "--datasets-dir", str(synthetic_datasets)])
    assert bad.exit_code == 2 and "edges" in bad.output


def test_refine_masks_refuses_unknown_splits_and_region_datasets_before_writing(synthetic_datasets, tmp_path):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    out = tmp_path / "strips"
    for args, words in ((["-d", "syn_tape", "--split", "test"], "has no split 'test'; it has train, valid"),
                        (["-d", "syn_tape", "--split", "valid,nope"], "has no split 'nope'"),
                        (["-d", "syn_crack"], "labelled with regions")):
        res = CliRunner().invoke(app, ["data", "refine-masks", *args, "--with", "edges", "--out", str(out),
                                       "--datasets-dir", str(synthetic_datasets)])
        assert res.exit_code == 2 and words in " ".join(res.output.replace("│", " ").split()), res.output
        assert not out.exists()
    res = CliRunner().invoke(app, ["data", "refine-masks", "-d", "syn_tape", "--split", "valid,train", "--with", "edges",
                                   "--out", str(out), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    assert {"train", "valid"} <= {p.name for p in out.iterdir()}


def test_the_evidence_map_of_a_tiny_photo_gives_no_error():
    """On maps of a few pixels (a photo of a dozen pixels) the strip fit divided by zero (ZeroDivisionError "Weights
    sum to zero") or took the covariance of one pixel: refine-masks stopped with a traceback."""
    import warnings

    from drywallqa.data.edge_strips import StripOptions, box_strips

    rng = np.random.default_rng(0)
    for _ in range(400):
        h, w = rng.integers(3, 40, 2)
        ev = (rng.random((h, w)) ** rng.integers(1, 6)).astype(np.float32)
        x, y = sorted(rng.uniform(-2, w + 2, 2)), sorted(rng.uniform(-2, h + 2, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mask, outcome, lines = box_strips(ev, (x[0], y[0], x[1], y[1]), StripOptions())
        assert outcome in ("refined", "kept", "fell_back") and (mask is None or mask.shape == (h, w))

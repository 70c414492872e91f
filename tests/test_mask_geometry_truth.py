"""Does a mask land on the photo's own pixels? Measured with a stand-in network whose logits are a known function of
its input (the photo's red channel), so that any shift or loss on the way to the model's input and back shows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from drywallqa.engine.torch_runtime import TorchSegmenter


class _Pixels:
    def __init__(self, x):
        self.x = x

    def repeat(self, n):
        return _Pixels(self.x.repeat_interleave(n, 0))


class RedChannelNet:
    """A :class:`~drywallqa.models.base.PromptedModel` whose logits are its input's red channel (0..255)."""

    def __init__(self, size: int):
        self.config = SimpleNamespace(image_size=size)

    def encode_image(self, pixel_values):
        return _Pixels(pixel_values)

    def decode_with_scores(self, features, text_embeddings):
        return 255 * features.x[:, :1], None

    def prompt_embeddings(self, prompts, text_encoder):
        return torch.zeros(len(prompts), 4)

    def num_parameters(self):
        return 0


def _red_logits(photo: np.ndarray, size: int) -> np.ndarray:
    seg = TorchSegmenter(RedChannelNet(size), "none")
    return seg.predict_logits(photo, ["segment crack"])[1][0].numpy()


def test_a_photo_narrower_than_the_input_and_longer_keeps_its_thin_lines_where_they_are():
    # a 60 x 2000 strip of wall at the shipped 512 px input: one side grows, the other shrinks 3.9 times. OpenCV's
    # INTER_AREA averages only where both shrink; here it sampled the long side at each input pixel's left edge: a
    # 2-px line vanished in about one place of four, and the others came back 1.4 px to the right
    h, w, size = 60, 2000, 512
    photo = np.zeros((h, w, 3), np.uint8)
    lines = list(range(101, 1900, 97))
    for x in lines:
        photo[:, x:x + 2, 0] = 255
    profile = _red_logits(photo, size)[h // 2]
    xs, offsets = np.arange(w), []
    for x in lines:
        near = slice(x - 8, x + 10)
        seen = profile[near]
        assert seen.max() > 40, f"the 2-px line at x={x} is lost ({seen.max():.1f} of 255 at most)"
        offsets.append((seen * xs[near]).sum() / seen.sum() - (x + 0.5))
    # each line lands on the model's 3.9-px grid where it may; on the whole, where it is
    assert abs(np.mean(offsets)) < 0.2, f"the lines come back {np.mean(offsets):+.2f} px off, on average"


class _RedChannelSam:
    """A stand-in for ``transformers.SamModel``: one mask per box, its logits the input's red channel (at the input's
    size: a SAM's low-resolution masks are brought to the photo's size the same way)."""

    config = SimpleNamespace(vision_config=SimpleNamespace(image_size=256))

    def __call__(self, pixel_values, input_boxes, multimask_output):
        from drywallqa.models.constants import IMAGENET_MEAN, IMAGENET_STD

        red = pixel_values[:, :1] * IMAGENET_STD[0] + IMAGENET_MEAN[0]  # 0..1 again
        n = input_boxes.shape[1]
        return SimpleNamespace(pred_masks=(red - 0.25).expand(1, n, 256, 256)[:, :, None], iou_scores=torch.ones(1, n, 1))


def test_sam_prompted_by_boxes_sees_a_thin_line_of_a_long_narrow_photo_where_it_is():
    # the zero-shot pipeline's and refine-masks' SAM input, resized as the model's is (the same OpenCV resize)
    from drywallqa.models.sam_text import sam_box_masks

    h, w = 40, 1000
    photo = np.zeros((h, w, 3), np.uint8)
    lines = [51 + round(41.3 * k) for k in range(22)]  # at every phase of SAM's 3.9-px grid
    for x in lines:
        photo[:, x:x + 2, 0] = 255
    masks, _ = sam_box_masks(_RedChannelSam(), photo, [[0, 0, w, h]])
    found = masks[0][h // 2]
    lost = [x for x in lines if not found[x - 3:x + 5].any()]
    assert not lost, f"the 2-px lines at x={lost} are not in SAM's mask"
    offsets = [np.flatnonzero(found[x - 6:x + 8]).mean() - 6 - 0.5 for x in lines]
    assert abs(np.mean(offsets)) < 0.3, f"the lines' masks are {np.mean(offsets):+.2f} px off, on average"


def test_a_drywall_photos_taping_label_is_resized_onto_the_pixels_its_photo_is_resized_to(tmp_path):
    # cracks on drywall: a drywall photo of another size than the crack photo is brought to its size, and its taping
    # label with it; the label was resized by OpenCV's plain nearest neighbour (half a source pixel off, as
    # data.transforms says of training), the photo by areas: the tape strip and its label came apart
    from PIL import Image

    from drywallqa.engine.cracks_on_drywall import make_composite

    rng = np.random.default_rng(0)
    crack = rng.integers(100, 140, (64, 64, 3), dtype=np.uint8)
    crack_label = np.zeros((64, 64), bool)
    crack_label[30:32, 5:60] = True
    wall = np.full((150, 200, 3), 120, np.uint8)
    wall_label = np.zeros((150, 200), bool)
    for x0 in range(11, 190, 23):  # tape strips of 5 px, at every phase of the 3.1-px step between output pixels
        wall[:, x0:x0 + 5] = 250
        wall_label[:, x0:x0 + 5] = True
    Image.fromarray(crack).save(tmp_path / "crack.png")
    Image.fromarray(wall).save(tmp_path / "wall.png")
    sample = lambda path, label: SimpleNamespace(image_path=path, load_mask=lambda: label,  # noqa: E731
                                                 load_target=lambda: label.astype(np.uint8))
    made = make_composite(sample(tmp_path / "crack.png", crack_label), sample(tmp_path / "wall.png", wall_label))
    strip = made.wall_photo[..., 0] > 185  # where the resized photo shows mostly tape
    assert (made.wall_label == strip).all(), \
        f"{int((made.wall_label != strip).sum())} pixels of the resized taping label are not where its photo shows tape"


def test_strips_found_on_the_working_size_come_back_on_the_photos_pixels(monkeypatch):
    # refine-masks --with edges draws a joint's strip on an evidence map of 512 px (longest side) and brings it back to
    # the photo's size; OpenCV's plain nearest neighbour put it 0.4 px right of where it was found on a 640 px photo
    # (up to 1.5 px on a 2000 px one), in the taping strips training reads
    from drywallqa.data import edge_strips

    h = w = 640
    found = {}

    def strip_at(evidence, box, options):
        small = np.zeros(evidence.shape, bool)
        small[:, found["x"]:found["x"] + 12] = True
        return small, "refined", []

    monkeypatch.setattr(edge_strips, "box_strips", strip_at)
    evidence = lambda image: np.zeros((512, 512), np.float32)  # noqa: E731
    offsets = []
    for x in range(10, 480, 7):  # at every phase of the 1.25 px step
        found["x"] = x
        masks, _, _ = edge_strips.refine_boxes_with_edges(np.zeros((h, w, 3), np.uint8), [[0, 0, w, h]], evidence)
        offsets.append(np.flatnonzero(masks[0][h // 2]).mean() - ((x + 6) * w / 512 - 0.5))
    assert abs(np.mean(offsets)) < 0.15, f"the strips come back {np.mean(offsets):+.2f} px off, on average"


def test_training_arrays_of_a_strip_keep_its_thin_cracks(tmp_path):
    """The training cache resized a photo and its label to a square by INTER_AREA in one go: a 60 x 2000 strip (one side
    grows, the other shrinks) had its long side point-sampled, and 2-px cracks vanished from the photos training read
    (here 14 of 20 dark lines left no trace); averaged, each leaves a grey trace where it was."""
    from PIL import Image

    from drywallqa.data.cache import load_arrays
    from drywallqa.data.sample import Sample

    photo = np.full((60, 2000, 3), 255, np.uint8)
    label = np.zeros((60, 2000), np.uint8)
    for x in range(50, 2000, 100):
        photo[:, x:x + 2] = 0  # 20 dark vertical lines 2 px wide
        label[:, x:x + 2] = 255
    Image.fromarray(photo).save(tmp_path / "strip.png")
    Image.fromarray(label).save(tmp_path / "strip_mask.png")
    sample = Sample(tmp_path / "strip.png", "strips", "train", 60, 2000, mask_path=tmp_path / "strip_mask.png")
    images, _, kept = load_arrays([sample], 512)
    assert kept == [0]
    darkest = images[0, 256, :, 0]  # one row; each line lies within a few columns of x * 512 / 2000
    traces = [int(darkest[max(0, round(x * 0.256) - 2):round(x * 0.256) + 3].min()) for x in range(50, 2000, 100)]
    assert all(t < 200 for t in traces), traces

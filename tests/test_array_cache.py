"""The on-disk cache of decoded training arrays (data/cache.py)."""

import os

import cv2
import numpy as np
import pytest

from drywallqa.data import cache
from drywallqa.data.sample import Sample


def make_samples(tmp_path, n=3):
    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        image = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
        mask = np.zeros((40, 60), np.uint8)
        mask[10:20, 5 + i : 30] = 255
        cv2.imwrite(str(tmp_path / f"img{i}.png"), image)
        cv2.imwrite(str(tmp_path / f"img{i}_mask.png"), mask)
        samples.append(Sample(tmp_path / f"img{i}.png", "toy", "train", 40, 60, mask_path=tmp_path / f"img{i}_mask.png"))
    return samples


def test_cache_returns_the_decoded_arrays(tmp_path):
    samples = make_samples(tmp_path)
    images, masks, _ = cache.load_arrays(samples, 32, tmp_path / "cache")
    assert images.shape == (3, 32, 32, 3) and masks.shape == (3, 32, 32) and masks.any()
    assert len(list((tmp_path / "cache").glob("arrays_32_*.npz"))) == 1
    again_images, again_masks, _ = cache.load_arrays(samples, 32, tmp_path / "cache")
    np.testing.assert_array_equal(again_images, images)
    np.testing.assert_array_equal(again_masks, masks)


def test_two_processes_writing_the_same_cache_do_not_collide(tmp_path, monkeypatch):
    """Two training runs started together build the same cache file: while this process writes its
    copy, another process (another pid) writes and publishes the same cache; both must succeed."""
    samples = make_samples(tmp_path)
    real_savez, real_getpid = np.savez, os.getpid
    done = []

    def savez_while_another_process_writes(file, **arrays):
        real_savez(file, **arrays)
        if not done:
            done.append(True)
            monkeypatch.setattr(os, "getpid", lambda: real_getpid() + 1)
            cache.load_arrays(samples, 32, tmp_path / "cache")  # the other process finishes first
            monkeypatch.setattr(os, "getpid", real_getpid)

    monkeypatch.setattr(cache.np, "savez", savez_while_another_process_writes)
    images, masks, _ = cache.load_arrays(samples, 32, tmp_path / "cache")
    assert done and images.shape == (3, 32, 32, 3)
    assert [p.name.endswith(".tmp.npz") for p in (tmp_path / "cache").iterdir()] == [False]


def test_a_new_cache_version_decodes_again(tmp_path, monkeypatch):
    samples = make_samples(tmp_path)
    cache.load_arrays(samples, 32, tmp_path / "cache")
    monkeypatch.setattr(cache, "CACHE_VERSION", cache.CACHE_VERSION + 1)  # e.g. the COCO reader changed
    decoded = []
    monkeypatch.setattr(cache, "read_image", lambda p, **_: decoded.append(p) or cv2.imread(str(p))[..., ::-1])
    cache.load_arrays(samples, 32, tmp_path / "cache")
    assert len(decoded) == 3 and len(list((tmp_path / "cache").glob("arrays_32_*.npz"))) == 2


@pytest.mark.parametrize("damage", ["truncate", "garbage", "other_shape", "no_masks"])
def test_a_damaged_cache_file_is_decoded_again_and_replaced(tmp_path, caplog, damage):
    samples = make_samples(tmp_path)
    want_images, want_masks, _ = cache.load_arrays(samples, 32, tmp_path / "c")
    (path,) = (tmp_path / "c").glob("*.npz")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 4000)
    elif damage == "other_shape":
        np.savez(path.with_suffix(""), images=want_images[:2], masks=want_masks[:2])
    else:
        np.savez(path.with_suffix(""), images=want_images)
    with caplog.at_level("WARNING"):
        images, masks, _ = cache.load_arrays(samples, 32, tmp_path / "c")
    assert "damaged" in caplog.text
    np.testing.assert_array_equal(images, want_images)
    np.testing.assert_array_equal(masks, want_masks)
    caplog.clear()
    cache.load_arrays(samples, 32, tmp_path / "c")  # replaced: read without a warning
    assert "damaged" not in caplog.text


@pytest.mark.parametrize("trouble", ["folder_in_its_place", "disk_full"])
def test_a_cache_file_that_cannot_be_written_leaves_the_arrays_decoded(tmp_path, caplog, monkeypatch, trouble):
    """The cache is only a shortcut: a folder where its file goes (IsADirectoryError) or a disk too full for it
    (ENOSPC) stopped the training run after every photo was decoded."""
    import errno

    samples = make_samples(tmp_path)
    want_images, want_masks, _ = cache.load_arrays(samples, 32, None)
    folder = tmp_path / "cache"
    if trouble == "folder_in_its_place":
        (folder / f"arrays_32_{cache.cache_key(samples, 32)}.npz").mkdir(parents=True)
    else:
        def full(file, **arrays):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(cache.np, "savez", full)
    with caplog.at_level("WARNING"):
        images, masks, kept = cache.load_arrays(samples, 32, folder)
    assert "cannot be written" in caplog.text and kept == [0, 1, 2]
    np.testing.assert_array_equal(images, want_images)
    np.testing.assert_array_equal(masks, want_masks)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_mask_fixed_in_place_is_decoded_again(tmp_path):
    samples = make_samples(tmp_path)
    _, before, _ = cache.load_arrays(samples, 32, tmp_path / "cache")
    cv2.imwrite(str(samples[1].mask_path), np.zeros((40, 60), np.uint8))  # the label fixed: nothing there
    st = os.stat(samples[1].mask_path)
    os.utime(samples[1].mask_path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # (a coarse clock would not tell)
    _, after, _ = cache.load_arrays(samples, 32, tmp_path / "cache")
    assert before[1].any() and not after[1].any()
    np.testing.assert_array_equal(after[0], before[0])


def test_a_photo_replaced_in_place_is_decoded_again(tmp_path):
    samples = make_samples(tmp_path)
    before, _, _ = cache.load_arrays(samples, 32, tmp_path / "cache")
    cv2.imwrite(str(samples[0].image_path), np.zeros((40, 60, 3), np.uint8))  # e.g. refine-masks rerun into one --out
    after, _, _ = cache.load_arrays(samples, 32, tmp_path / "cache")
    assert before[0].any() and not after[0].any()


def test_a_coco_label_changed_is_decoded_again(tmp_path):
    (sample,) = make_samples(tmp_path, 1)
    coco = Sample(sample.image_path, "toy", "train", 40, 60, annotations=[{"id": 1, "bbox": [0, 0, 10, 10]}])
    _, before, _ = cache.load_arrays([coco], 32, tmp_path / "cache")
    coco.annotations = [{"id": 1, "bbox": [30, 20, 10, 10]}]  # the COCO file fixed
    _, after, _ = cache.load_arrays([coco], 32, tmp_path / "cache")
    assert before[0, :5, :5].all() and not after[0, :5, :5].any() and after[0, 20:, 20:].any()


def test_temporaries_of_killed_writes_are_removed_when_the_cache_is_opened(tmp_path):
    samples = make_samples(tmp_path)
    folder = tmp_path / "cache"
    folder.mkdir()
    legacy = folder / "arrays_32_0123456789abcdef.999999999.tmp.npz"  # an earlier version's, its process gone
    killed = folder / ".arrays_32_0123456789abcdef.npz.999999999-x1y2.tmp"  # write_atomic's, nobody holding it
    other = folder / "notes.tmp.npz"  # not the cache's
    live = folder / f"arrays_32_0123456789abcdef.{os.getppid()}.tmp.npz"  # a run still writing
    for path in (legacy, killed, other, live):
        path.write_bytes(b"half")
    cache.load_arrays(samples, 32, folder)
    assert not legacy.exists() and not killed.exists() and other.exists() and live.exists()
    assert len([p for p in folder.glob("arrays_32_*.npz") if ".tmp" not in p.name]) == 1


def test_a_photo_that_cannot_be_decoded_is_left_out_and_named_not_the_end_of_training(tmp_path, caplog):
    """A truncated JPEG passes the header check of load_split, data stats and data split, and then stopped `train`
    with an error at the decode of the arrays: one bad photo among thousands and no run at all."""
    samples = make_samples(tmp_path, 4)
    data = samples[1].image_path.read_bytes()
    samples[1].image_path.write_bytes(data[: len(data) // 3])  # a truncated PNG: its header reads
    with caplog.at_level("WARNING", logger="drywallqa.data.cache"):
        images, masks, kept = cache.load_arrays(samples, 32, tmp_path / "cache")
    assert kept == [0, 2, 3] and images.shape == (3, 32, 32, 3) and masks.shape == (3, 32, 32)
    want, _, _ = cache.load_arrays([samples[i] for i in kept], 32, None)
    assert np.array_equal(images, want)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("1 of 4 photos could not be decoded and are left out: ")
    assert "img1.png" in said[0]
    caplog.clear()
    with caplog.at_level("WARNING", logger="drywallqa.data.cache"):
        again = cache.load_arrays(samples, 32, tmp_path / "cache")  # from the cache: the same, said again
    assert again[2] == kept and np.array_equal(again[0], images)
    assert [r.getMessage() for r in caplog.records] == [
        f"1 of 4 photos could not be decoded and are left out (in the array cache: fix or remove them, and they are "
        f"read again): {samples[1].image_path}"]

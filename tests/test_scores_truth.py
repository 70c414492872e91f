"""The numbers of losses, metrics and evaluation reports against independent implementations (numpy, scipy,
scikit-learn, brute force) on random and edge cases."""

from itertools import permutations

import numpy as np

from drywallqa.metrics import confidence_ranking


def _kept_over_every_order(confidence, iou, fraction):
    """The mIoU of the ``fraction`` most confident masks, averaged over every order of the masks of equal confidence."""
    c, y = np.asarray(confidence, float), np.asarray(iou, float)
    k = max(1, int(round(fraction * len(c))))
    means = [y[list(order)][np.argsort(-c[list(order)], kind="stable")][:k].mean() for order in permutations(range(len(c)))]
    return float(np.mean(means))


def test_masks_of_equal_confidence_are_kept_by_their_mean_not_by_the_order_they_were_listed():
    # a confidence that says nothing (every mask alike) ranks nothing: no gain at any cut, in any order
    for iou in ([0.0, 0.0, 1.0, 1.0, 0.5], [1.0, 1.0, 0.5, 0.0, 0.0]):
        r = confidence_ranking([0.5] * 5, iou)
        assert all(abs(v - 0.5) < 1e-12 for v in r["kept"].values()), r["kept"]
        assert abs(r["gain_at_80"]) < 1e-12
    # ties at the cut among distinct confidences: the expected mIoU of any order among the tied masks
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = rng.choice([0.2, 0.5, 0.9], 6)
        y = rng.random(6)
        r = confidence_ranking(c, y)
        for f, v in r["kept"].items():
            assert abs(v - _kept_over_every_order(c, y, f)) < 1e-9, (c, y, f)
        shuffled = rng.permutation(6)
        again = confidence_ranking(c[shuffled], y[shuffled])["kept"]
        assert all(abs(again[f] - v) < 1e-12 for f, v in r["kept"].items())
    # distinct confidences: the plain top-k mean, and a NaN confidence ranks last
    r = confidence_ranking([0.9, np.nan, 0.1, 0.5], [0.8, 0.0, 0.2, 0.6], fractions=(1.0, 0.75, 0.5, 0.25))
    expected = {1.0: 0.4, 0.75: (0.8 + 0.6 + 0.2) / 3, 0.5: 0.7, 0.25: 0.8}
    assert all(abs(r["kept"][f] - v) < 1e-12 for f, v in expected.items()), r["kept"]


def test_the_report_says_why_the_spearman_of_two_masks_is_undefined():
    """Two masks always correlate perfectly (+1 or -1): n/a, and the note under the table said only "where every
    confidence (or every IoU) is the same", which two different confidences and IoUs are not."""
    from drywallqa.engine.eval_report import render_markdown

    ranking = confidence_ranking([0.9, 0.2], [0.8, 0.1])
    assert np.isnan(ranking["spearman"])
    report = {"metrics": [], "cross_prompt": [], "empty_convention": "x", "model": {},
              "confidence": [{"split": "s", "dataset": "d", "prompt": "p", **ranking}]}
    page = render_markdown(report)
    assert "| s | d | 2 | n/a |" in page
    assert "fewer than three masks" in page

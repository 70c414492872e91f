"""Leftovers mended by helper 207: one reading of a mask's --min-confidence (rules, table, report); init_from with
a model_config that changes the saved model; an ONNX export of a model retrained since."""

from __future__ import annotations

from drywallqa.engine.batch_table import table_rows
from drywallqa.rules import emptied_below, unchecked


def test_the_table_reads_emptied_below_as_the_rules_do():
    """A hand-edited ``"emptied_below": true`` is no number: the rules check the mask (it was not emptied), and the
    table said "no: mask emptied, its confidence below --min-confidence 1" of it all the same."""
    m = {"mask": "masks/a.png", "confidence": 0.8, "emptied_below": True}
    assert emptied_below(m) is None and unchecked(m) is None
    _, rows = table_rows({"images": [{"image": "a.jpg", "prompts": {"segment crack": m}}]})
    assert "emptied" not in rows[0]["answered"], rows[0]
    real = {"mask": "masks/a.png", "confidence": 0.2996, "emptied_below": 0.3}
    assert emptied_below(real) == 0.3 and "0.3" in unchecked(real)
    _, rows = table_rows({"images": [{"image": "a.jpg", "prompts": {"segment crack": real}}]})
    assert rows[0]["answered"].startswith("no: mask emptied") and rows[0]["confidence"] == 0.2996, rows[0]

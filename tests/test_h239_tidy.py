"""h239: code-quality leftovers of the last review (private helpers imported across modules, process-global log
silencing, one train_files.json read twice, the pack's mask reader, strict_json's text fallback)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "drywallqa"


def _private_imports(relative: str) -> list[str]:
    """The ``_private`` names that the module ``relative`` (under src/drywallqa) imports from another module."""
    tree = ast.parse((SRC / relative).read_text())
    return [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]


@pytest.mark.parametrize("module", ["cli/training.py"])
def test_no_private_helper_is_imported_from_another_module(module):
    """cli/training imported engine.config's _init_from_model_type, engine/shipping the trainer's _name_in: a
    helper another module needs is public, where it belongs."""
    assert _private_imports(module) == []

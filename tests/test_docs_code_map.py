"""The code map a newcomer starts from (docs/training.md, "Code layout": where things live under src/drywallqa/) must
be the package as it is: every module in it is named there, and every file it names is there. And a code span naming a
file followed by names in it (`engine/validator.py` (`DILATE_OPTIONS`, `BOX_OPTIONS`)), on any docs page, names what
that file holds.

Nothing checked this: test_docs_commands reads command lines and config keys, test_readme links and anchors. A module
added, moved or left behind (engine/predictor.py, the torch runtime up to 0.6.28, now a shim of deprecated names) went
unmapped; a name renamed in the code would have stayed in the docs. Text only (no model, no data): under a second."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "drywallqa"
TRAINING = ROOT / "docs" / "training.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

SPAN = re.compile(r"`([^`\n]+)`")
ROW = re.compile(r"^\|(.+?)\|(.+)\|\s*$", re.M)
# a file's code span, then (after "(", ":" or nothing) one or more code spans of names: `path.py` `NAME`, `path.py`
# (`A`, `B`), `path.py`: `name()`
FILE_THEN_NAMES = re.compile(r"`((?:\w+/)*\w+\.py)`[ \t]*[(:]?[ \t]*((?:`[A-Za-z_][\w.]*(?:\(\))?`(?:,[ \t]*|[ \t]+and[ \t]+)?)+)")


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start):text.index(end, text.index(start))]


def code_map(text: str) -> dict[str, str]:
    """The code layout table: each name of a row's first cell (`engine/`, `losses.py`) -> the row's text."""
    rows = {}
    for first, rest in ROW.findall(section(text, "## Code layout", "### Where a change goes")):
        for name in SPAN.findall(first):
            rows[name] = first + "|" + rest
    return rows


def unmapped_modules(rows: dict[str, str], package: Path) -> list[str]:
    """Modules of ``package`` that the map names nowhere: a top-level module is named in some row; one in a package
    by its file name, a folder of it, or a pattern (`configuration_*.py`), in the row of its top-level package."""
    spans = {s for row in rows.values() for s in SPAN.findall(row)}
    missing = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if path.name == "__init__.py":
            continue
        if len(rel.parts) == 1:
            if path.name not in spans:
                missing.append(str(rel))
            continue
        row = rows.get(rel.parts[0] + "/")
        row_spans = set(SPAN.findall(row)) if row else set()
        inner = rel.parts[1:]
        folders = {"/".join(inner[:i]) + "/" for i in range(1, len(inner))}
        named = ("/".join(inner) in row_spans or path.name in row_spans or folders & row_spans
                 or any("*" in s and fnmatch.fnmatch(path.name, s) for s in row_spans))
        if not named:
            missing.append(str(rel))
    return missing


def named_files_missing(rows: dict[str, str], package: Path) -> list[str]:
    """Files the map names (`x.py` in a package's row) that are not in that package."""
    missing = []
    for name, row in rows.items():
        where = package / name.rstrip("/") if name.endswith("/") else package
        for span in SPAN.findall(row):
            for f in re.findall(r"^(?:\w+/)*\w+\.py$", span):
                if not (list(where.glob(f)) or list(where.glob("**/" + f)) or (package / f).exists()):
                    missing.append(f"{f} (row {name})")
    return missing


def life_table_files_missing(text: str) -> list[str]:
    """Paths of the "where the code is" column of "The whole life of a model": under src/drywallqa/, or benchmarks/
    and scripts/ at the top."""
    missing = []
    for _, rest in ROW.findall(section(text, "## The whole life of a model", "## Code layout")):
        where = rest.rsplit("|", 1)[-1]
        for f in re.findall(r"`((?:\w+/)*\w+\.py)`", where):
            if not ((PACKAGE / f).exists() or (ROOT / f).exists()):
                missing.append(f)
    return missing


def resolve(page: Path, f: str) -> Path | None:
    for base in (PACKAGE, ROOT, ROOT / "src", page.parent):
        if (base / f).is_file():
            return base / f
    hits = list(PACKAGE.rglob(f))
    return hits[0] if len(hits) == 1 else None


def names_not_in_their_file(page: Path) -> list[str]:
    """`path.py` `NAME` spans whose NAME (its first dotted part) is no word of that file; a file not found is named."""
    wrong = []
    for f, names in FILE_THEN_NAMES.findall(page.read_text(encoding="utf-8")):
        path = resolve(page, f)
        if path is None:
            wrong.append(f"{f}: no such file")
            continue
        source = path.read_text(encoding="utf-8")
        for name in SPAN.findall(names):
            head = name.removesuffix("()").split(".")[0]
            if not re.search(rf"(?<![\w.]){re.escape(head)}\b", source):
                wrong.append(f"{f} `{name}`")
    return wrong


def test_the_code_map_names_every_module():
    missing = unmapped_modules(code_map(TRAINING.read_text(encoding="utf-8")), PACKAGE)
    assert not missing, f"modules under src/drywallqa/ the code map of docs/training.md does not name: {missing}"


def test_the_code_map_names_only_files_that_are_there():
    text = TRAINING.read_text(encoding="utf-8")
    assert not named_files_missing(code_map(text), PACKAGE)
    assert not life_table_files_missing(text)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_names_shown_beside_a_file_are_in_that_file(page):
    wrong = names_not_in_their_file(page)
    assert not wrong, f"{page.relative_to(ROOT)}: " + "; ".join(wrong)


def test_the_checks_see_what_is_wrong(tmp_path):
    """The checkers themselves: a module left out of the map, a file the map names that is gone, a name renamed."""
    pkg = tmp_path / "pkg"
    (pkg / "engine" / "sub").mkdir(parents=True)
    for f in ("__init__.py", "top.py", "loose.py", "engine/__init__.py", "engine/a.py", "engine/new.py",
              "engine/sub/x.py", "engine/modeling_y.py"):
        (pkg / f).write_text("")
    (pkg / "engine" / "a.py").write_text("LIMIT = 3\n")
    text = ("## Code layout\n\n| module | what |\n| --- | --- |\n| `top.py` | a top module |\n"
            "| `engine/` | `a.py`, `gone.py`, `sub/`, `modeling_*.py` |\n\n### Where a change goes\n")
    rows = code_map(text)
    assert unmapped_modules(rows, pkg) == ["engine/new.py", "loose.py"]
    assert named_files_missing(rows, pkg) == ["gone.py (row engine/)"]
    page = tmp_path / "page.md"
    page.write_text("the limit is `engine/a.py` `LIMIT`; its reader `engine/a.py` (`read_limit`, `LIMIT`)")
    global PACKAGE
    saved, PACKAGE = PACKAGE, pkg
    try:
        assert names_not_in_their_file(page) == ["engine/a.py `read_limit`"]
    finally:
        PACKAGE = saved


def encoder_guide(text: str) -> str:
    """The "An image encoder" paragraph of docs/training.md's "Where a change goes"."""
    start = text.index("**An image encoder**")
    return text[start:text.index("\n\n", start)]


def attributes_read(source: str) -> set[str]:
    """The class attributes a module reads of an encoder class or block with ``getattr(obj, "NAME", default)``."""
    return set(re.findall(r'getattr\([^\n]*?,\s*"(\w+)"', source))


def test_the_encoder_guide_names_every_attribute_the_code_reads_of_an_encoder():
    # what the registry (reads_weights, default_options) and the folding (conv_bn_pairs) read of an encoder's class is
    # its contract; the guide a newcomer adds an encoder from left default_options out (registry.py's docstring had it)
    read = attributes_read((PACKAGE / "models/encoders/registry.py").read_text(encoding="utf-8"))
    read |= attributes_read((PACKAGE / "models/folding.py").read_text(encoding="utf-8"))
    assert {"reads_weights", "default_options", "conv_bn_pairs"} <= read  # the checker sees them
    guide = encoder_guide(TRAINING.read_text(encoding="utf-8"))
    missing = sorted(name for name in read if f"`{name}" not in guide)
    assert not missing, f"docs/training.md's 'An image encoder' does not name {missing}, which the code reads"


def test_train_ends_on_an_evaluate_command_of_the_run_s_own_datasets(write_train_config, tiny_kwargs, tmp_path,
                                                                     monkeypatch):
    """`drywallqa train` ended on "next: drywallqa evaluate --model-path RUN/best -d DATASET ...": a placeholder, where
    evaluate's -d default (cracks, taping) is not what a run of one's own photos trained on. It names the run's
    datasets (and their folder where the config gives one), ready to paste."""
    import json
    import shlex

    from typer.testing import CliRunner

    from drywallqa.cli import app
    from drywallqa.engine import trainer as trainer_module

    def fake_train(self, **kw):
        best = Path(self.config.output_dir) / "best"
        best.mkdir(parents=True)
        (best / "config.json").write_text(json.dumps({"epoch": 1, "val": {"val_score": 0.5}}))
        return {"epoch": 1, "val_score": 0.5}

    monkeypatch.setattr(trainer_module.Trainer, "train", fake_train)
    config = write_train_config("film_unet", tiny_kwargs)
    run = tmp_path / "runs" / "my run"
    res = CliRunner().invoke(app, ["train", str(config), f"output_dir={run}"], terminal_width=400)
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("next: "))
    assert "DATASET" not in line, line
    evaluate = shlex.split(line.removeprefix("next: ").split(";")[0])
    import yaml
    data = yaml.safe_load(config.read_text())["data"]
    assert evaluate[:4] == ["drywallqa", "evaluate", "--model-path", str(run / "best")]
    assert evaluate[4:] == ["-d", "syn_crack", "-d", "syn_tape", "--datasets-dir", data["datasets_dir"], "--splits",
                            "group", "--out", "OUT"], line
    assert f"drywallqa ship {shlex.quote(str(run))} --out DIR" in line


def test_a_model_folder_of_an_encoder_not_here_says_it_may_be_a_plugin_s(tiny_model_dir):
    """A model trained with an encoder of one's own (a plugin, docs/training.md "An image encoder") loaded where the
    plugin is not (another shell, the server's machine) said only "unknown encoder 'tiny'; registered: hed_vgg16,
    scratch"; an unknown model type already said "of a plugin not installed here? ... install the plugin"."""
    import json

    from drywallqa import Segmenter

    config = tiny_model_dir / "config.json"
    payload = json.loads(config.read_text())
    payload["config"]["encoder"] = "h275_not_here"
    config.write_text(json.dumps(payload))
    with pytest.raises(ValueError) as exc:
        Segmenter.load(tiny_model_dir)
    said = str(exc.value)
    assert "unknown encoder 'h275_not_here'" in said and "DRYWALLQA_PLUGINS" in said and "plugin" in said, said


MODEL_CARD = PACKAGE / "weights" / "fast" / "MODEL_CARD.md"


def test_the_model_card_s_commands_scripts_and_keys_exist():
    """The shipped model's card, which the README's map lists beside docs/ (architecture, training commands stage by
    stage), was outside test_docs_commands' pages (README.md, docs/*.md): its `drywallqa ...` lines, script options
    and config keys are checked as theirs are."""
    import test_docs_commands as docs

    assert MODEL_CARD.is_file() and "MODEL_CARD.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    docs.test_shown_commands_exist_with_their_options(MODEL_CARD, docs.command_tree())
    docs.test_named_config_keys_exist(MODEL_CARD)
    docs.test_shown_script_options_exist(MODEL_CARD)

"""The command lines and training-config keys that README.md and docs/*.md show must be the code's: every
``drywallqa ...`` command (in a ``bash`` block or an inline code span) names a command that exists and only options
that command has, every ``KEY=VALUE`` override of a ``drywallqa train`` line and every ``data.*`` / ``optim.*`` /
``loss.*`` / ``distill.*`` key named in inline code is a field of the dataclasses in ``engine/config.py``, and every
option of a ``python benchmarks/...`` / ``scripts/...`` / ``docs/...`` command is one its script declares. A newcomer
copies these; an option renamed or a key removed in the code then fails here, not in their terminal.

Only the CLI's definition and the scripts' text are read (no model, no data), so this takes under a second. docs/experiments/ is left out:
those pages are records of past runs."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import click
import pytest
import typer.main

from drywallqa.cli import app
from drywallqa.engine.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IDS = [str(p.relative_to(ROOT)) for p in PAGES]

BASH_BLOCK = re.compile(r"^```bash[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
ANY_BLOCK = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.S | re.M)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
SPAN_ACROSS_LINES = re.compile(r"`([^`]+)`")
SCRIPT = re.compile(r"python3?\s+((?:benchmarks|scripts|docs)/\S+\.py)([^;&|]*)")
SECTIONS = ("data", "optim", "loss", "distill")
CONFIG_KEY = re.compile(rf"^((?:{'|'.join(SECTIONS)})\.(?!(?:py|md)\b)[a-z_]+)(?:[=:].*)?$")  # not data.py, data.md


def command_tree() -> dict[tuple[str, ...], tuple[click.Command, set[str]]]:
    """Every command of the CLI by its path (``("data", "split")``), with the options it takes."""
    tree = {}

    def walk(cmd, path):
        ctx = click.Context(cmd)
        options = {o for p in cmd.get_params(ctx) if p.param_type_name == "option" for o in (*p.opts, *p.secondary_opts)}
        tree[path] = (cmd, options)
        if isinstance(cmd, click.Group) or hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), (*path, name))

    walk(typer.main.get_command(app), ())
    return tree


def doc_commands(text: str) -> list[str]:
    """The ``drywallqa ...`` command lines of a page: each line of its bash blocks that runs ``drywallqa`` (continuation
    lines joined, comments dropped), and each inline code span that starts with ``drywallqa <word>``."""
    found = []
    for block in BASH_BLOCK.findall(text):
        for line in re.sub(r"\\\n", " ", block).split("\n"):
            line = line.split(" #", 1)[0]
            match = re.search(r"(?:^|[\s;&|(])(drywallqa\s.*)$", line)
            if match:
                found.append(match.group(1).rstrip())
    for span in CODE_SPAN.findall(ANY_BLOCK.sub("", text)):
        if re.match(r"drywallqa\s+[a-z]", span):
            found.append(span)
    return found


def words(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=True)
    except ValueError:  # an unclosed quote in a span cut short: words as they stand
        return command.split()


def check_command(command: str, tree) -> list[str]:
    """What is wrong with one shown command line: an unknown command or option, or a train override of no field."""
    argv = words(command)[1:]
    path: tuple[str, ...] = ()
    while argv and (*path, argv[0]) in tree:
        path, argv = (*path, argv[0]), argv[1:]
    cmd, options = tree[path]
    if not path or (argv and hasattr(cmd, "list_commands") and re.fullmatch(r"[a-z][a-z-]*", argv[0])):
        return [f"no command {' '.join(['drywallqa', *path, *argv[:1]])!r}"]
    problems = []
    for raw in argv:
        arg = raw.strip("[]|.")  # placeholders as shown: [--overlay], [--resume | --overwrite], ...
        option = re.match(r"^(--?[A-Za-z][\w-]*)", arg)
        if option and option.group(1) not in options | {"--help"}:
            problems.append(f"{' '.join(path)} has no option {option.group(1)}")
        override = path == ("train",) and not raw.startswith("[") and re.match(r"^[a-z_][\w.]*=", arg)  # not [key=value]
        if override and not config_key_exists(arg.split("=", 1)[0]):
            problems.append(f"train: no config key {arg.split('=', 1)[0]!r} (engine/config.py)")
    return problems


def config_key_exists(key: str) -> bool:
    """Whether a dotted key names a field of :class:`TrainConfig` (anything below a mapping field, such as
    ``model_config.encoder``, is the model's and passes)."""
    value = TrainConfig()
    for part in key.split("."):
        if isinstance(value, dict):
            return True
        if not dataclasses.is_dataclass(value) or part not in {f.name for f in dataclasses.fields(value)}:
            return False
        value = getattr(value, part)
    return True


@pytest.fixture(scope="module")
def tree():
    return command_tree()


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_shown_commands_exist_with_their_options(page, tree):
    problems = [f"`{c}`: {p}" for c in doc_commands(page.read_text(encoding="utf-8")) for p in check_command(c, tree)]
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_named_config_keys_exist(page):
    keys = {m.group(1) for span in CODE_SPAN.findall(ANY_BLOCK.sub("", page.read_text(encoding="utf-8")))
            if (m := CONFIG_KEY.match(span.strip()))}
    missing = sorted(k for k in keys if not config_key_exists(k))
    assert not missing, f"{page.relative_to(ROOT)} names config keys engine/config.py does not have: {missing}"


def script_commands(text: str) -> list[tuple[str, str]]:
    """``(script, its arguments)`` of each ``python <script>.py ...`` a page shows, in bash blocks and code spans (which
    may wrap over a line break)."""
    found = []
    for block in BASH_BLOCK.findall(text):
        for line in re.sub(r"\\\n", " ", block).split("\n"):
            found += SCRIPT.findall(line.split(" #", 1)[0])
    for span in SPAN_ACROSS_LINES.findall(ANY_BLOCK.sub("", text)):
        found += SCRIPT.findall(span.replace("\n", " "))
    return found


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_shown_script_options_exist(page):
    problems = []
    for script, args in script_commands(page.read_text(encoding="utf-8")):
        if not (ROOT / script).is_file():
            problems.append(f"no script {script}")
            continue
        source = (ROOT / script).read_text(encoding="utf-8")  # argparse declares each option as a string literal
        problems += [f"{script} declares no option {option}" for option in re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", args)
                     if f'"{option}"' not in source and f"'{option}'" not in source]
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_checks_see_what_is_wrong(tree):
    """The checkers themselves: a misspelt option, a command that does not exist and a key of no field are caught;
    placeholders, shipped options and nested model options pass."""
    assert check_command("drywallqa predict PHOTOS --prompt P --out DIR [--overlay] [--coco polygon|rle]", tree) == []
    assert check_command("drywallqa train configs/default.yaml [key=value ...] [--resume | --overwrite]", tree) == []
    assert check_command("drywallqa train c.yaml model_config.encoder=x optim.epochs=1 output_dir=r", tree) == []
    assert check_command("drywallqa predict a.jpg --promt x", tree) == ["predict has no option --promt"]
    assert check_command("drywallqa data splits -d x", tree) == ["no command 'drywallqa data splits'"]
    assert check_command("drywallqa prdict a.jpg", tree) == ["no command 'drywallqa prdict'"]
    assert check_command("drywallqa train c.yaml optim.epoch=3", tree) == ["train: no config key 'optim.epoch' "
                                                                          "(engine/config.py)"]
    assert not config_key_exists("data.cache_sizes") and config_key_exists("data.cache_size")
    text = "`drywallqa serve --port 1`\n```bash\ndrywallqa evaluate \\\n  --limit 3  # a comment --nope\n```\n"
    assert doc_commands(text) == ["drywallqa evaluate    --limit 3", "drywallqa serve --port 1"]
    assert script_commands("`python\nbenchmarks/x.py --out o` and\n```bash\npython3 scripts/y.py a \\\n  --z 1\n```\n") == [
        ("scripts/y.py", " a    --z 1"), ("benchmarks/x.py", " --out o")]

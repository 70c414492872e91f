"""The README is the first thing anyone runs: its quick start must work as written, every relative link in
it, CHANGELOG.md, docs/ (experiment write-ups too) and the shipped model's card must point to a file (and heading) that
exists, and it must stay short.

The commands are read from README.md itself (the fenced blocks of its "Quick start" and "Set-up"
sections), so the test fails as soon as the README drifts from the code or the Makefile."""

from __future__ import annotations

import json
import os
import re
import shlex
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_BYTES = 12_000

FENCE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$", re.S | re.M)
MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"<(?:img|a|source)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.S)


# ----------------------------------------------------------------------------------------- README parsing
def section(text: str, title: str) -> str:
    """The body of the ``## <title>...`` section (up to the next level-2 heading), outside code fences."""
    lines, body, inside, fenced = text.split("\n"), [], False, False
    for line in lines:
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            inside = line[3:].strip().startswith(title)
            continue
        if inside:
            body.append(line)
    assert body, f"README.md has no '## {title}' section"
    return "\n".join(body)


def fenced_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}[ \t]*\n(.*?)^```[ \t]*$", text, re.S | re.M)


def shell_commands(block: str) -> list[list[str]]:
    """Each command of a shell block as argv (continuation lines joined, ``# comments`` dropped)."""
    joined = re.sub(r"\\\n", " ", block)
    return [argv for line in joined.split("\n") if (argv := shlex.split(line, comments=True))]


def quick_start() -> str:
    return section(README.read_text(encoding="utf-8"), "Quick start")


def quick_start_commands(program: str) -> list[list[str]]:
    cmds = [argv for block in fenced_blocks(quick_start(), "bash") for argv in shell_commands(block)]
    return [argv for argv in cmds if argv[0] == program]


def makefile_recipe(target: str) -> list[list[str]]:
    """The recipe lines of a Makefile target as argv, ``$(BIN)/`` stripped."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n?)*)", text, re.M)
    assert match, f"Makefile has no target {target!r}"
    lines = [shlex.split(line.replace("$(BIN)/", ""), comments=True) for line in match.group(1).split("\n")]
    return [argv for argv in lines if argv]


def option_value(argv: list[str], *names: str) -> str:
    for i, arg in enumerate(argv):
        if arg in names:
            return argv[i + 1]
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    raise AssertionError(f"{' '.join(names)} missing from {shlex.join(argv)}")


def replace_option(argv: list[str], names: tuple[str, ...], value: str) -> list[str]:
    out = list(argv)
    for i, arg in enumerate(out):
        if arg in names:
            out[i + 1] = value
            return out
    raise AssertionError(f"{' '.join(names)} missing from {shlex.join(argv)}")


# ----------------------------------------------------------------------------------------- size and set-up
def test_readme_is_short():
    size = README.stat().st_size
    assert size < MAX_README_BYTES, f"README.md is {size} bytes; keep it under {MAX_README_BYTES} (depth goes to docs/)"


def test_setup_commands_are_makefile_targets():
    text = README.read_text(encoding="utf-8")
    setup = [argv for block in fenced_blocks(section(text, "Set-up"), "bash") for argv in shell_commands(block)]
    assert [argv[:2] for argv in setup] == [["make", "demo"], ["make", "test"]]
    for _, target in setup:
        assert makefile_recipe(target), target
    # The results section names the command that produces its table: it must be what the Makefile runs.
    results = section(text, "Results of the shipped model")
    quoted = re.search(r"`make ([\w-]+)` \(`([^`]+)`", results)
    assert quoted, "the results section should say which `make` target (and command) produces the table"
    assert shlex.split(quoted.group(2)) in makefile_recipe(quoted.group(1))


def test_quick_start_cli_is_what_make_demo_runs():
    predict = quick_start_commands("drywallqa")
    predict = [argv for argv in predict if argv[1] == "predict"]
    assert len(predict) == 1, "the quick start should show one `drywallqa predict` command"
    assert predict[0] in makefile_recipe("demo"), "the quick start says it is what `make demo` runs"


# ----------------------------------------------------------------------------------------- the quick start, run
@pytest.fixture
def at_root(monkeypatch):
    """The quick start's paths are relative to the repository root."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="module")
def python_snippet():
    """The quick start's Python block, executed as written (from the repository root); its namespace."""
    blocks = fenced_blocks(quick_start(), "python")
    assert len(blocks) == 1, "the quick start should show one Python block"
    namespace: dict = {"__name__": "readme_quick_start"}
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(blocks[0], "README.md (quick start)", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return namespace


def test_quick_start_cli(tmp_path, at_root):
    from typer.testing import CliRunner

    from drywallqa.cli import app

    (argv,) = [a for a in quick_start_commands("drywallqa") if a[1] == "predict"]
    out = tmp_path / "demo"
    import glob

    argv = [w for a in replace_option(argv, ("--out", "-o"), str(out)) for w in (sorted(glob.glob(a)) or [a])]  # as a shell
    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "not read" not in result.output  # the first command a newcomer runs reads every file it is given

    photos = [Path(a) for a in argv if a.endswith(".jpg")]
    prompts = [argv[i + 1] for i, a in enumerate(argv) if a in ("--prompt", "-p")]
    assert photos and prompts
    records = json.loads((out / "results.json").read_text())["images"]
    assert len(records) == len(photos)
    for record in records:
        assert list(record["prompts"]) == prompts
        for item in record["prompts"].values():
            assert (out / item["mask"]).is_file()
            assert 0.0 <= item["confidence"] <= 1.0  # the README promises a confidence with every mask
    assert (out / "report.html").is_file()
    if "--overlay" in argv:  # what the set-up section says `make demo` writes
        assert (out / "overlay_grid.png").is_file()


def test_quick_start_python(python_snippet):
    from PIL import Image

    result = python_snippet["result"]
    photo = re.search(r'seg\.predict\("([^"]+)"', quick_start()).group(1)
    width, height = Image.open(ROOT / photo).size
    mask = result.masks["segment crack"]
    assert mask.shape == (height, width) and mask.dtype == bool and mask.any()
    assert set(result.confidence) == set(result.masks)
    assert all(0.0 <= c <= 1.0 for c in result.confidence.values())


def test_quick_start_http(python_snippet, at_root):
    """``drywallqa serve`` as quoted parses as the CLI's options; the ``curl`` request, sent with FastAPI's
    TestClient to an app serving the snippet's model, gets masks with a confidence."""
    import typer.main
    from fastapi.testclient import TestClient

    from drywallqa.cli import app
    from drywallqa.serve import ServeConfig, create_app

    (serve,) = [a for a in quick_start_commands("drywallqa") if a[1] == "serve"]
    group = typer.main.get_command(app)
    with group.make_context("drywallqa", serve[1:]) as ctx:
        command = group.get_command(ctx, "serve")
        command.make_context("serve", serve[2:], parent=ctx)  # unknown options or bad values raise here

    (curl,) = quick_start_commands("curl")
    fields = [curl[i + 1] for i, a in enumerate(curl) if a in ("-F", "--form")]
    (url,) = [a for a in curl[1:] if a.startswith("http")]
    assert urlparse(url).port == int(option_value(serve, "--port")), "curl should reach the server as started"
    files, data = {}, {}
    for field in fields:
        name, value = field.split("=", 1)
        if value.startswith("@"):
            path = Path(value[1:])
            files[name] = (path.name, path.read_bytes(), "image/jpeg")
        else:
            data.setdefault(name, []).append(value)
    client = TestClient(create_app(ServeConfig(), python_snippet["seg"]))
    response = client.post(urlparse(url).path, files=files, data=data)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["prompt"] for r in results] == data["prompts"]
    assert all(0.0 <= r["confidence"] <= 1.0 and r["mask"] for r in results)


# ----------------------------------------------------------------------------------------- links
def strip_code(text: str) -> str:
    """Markdown without fenced blocks and inline code spans (links there are not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def heading_anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (lower case, punctuation dropped, spaces to
    hyphens, ``-1``, ``-2`` ... for repeats)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).split("\n"):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        title = re.sub(r"<[^>]+>", "", match.group(1)).replace("`", "")
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).lower()
        slug = "".join(ch for ch in title if ch in "-_ " or unicodedata.category(ch)[0] in "LN").replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def relative_links(path: Path) -> list[str]:
    text = strip_code(path.read_text(encoding="utf-8"))
    links = MD_LINK.findall(text) + HTML_LINK.findall(text)
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I)]  # http:, mailto:, ...


PAGES = [README, ROOT / "CHANGELOG.md", *sorted(DOCS.rglob("*.md")), *sorted((ROOT / "src/drywallqa").rglob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page):
    broken = []
    for link in relative_links(page):
        target, _, anchor = unquote(link).partition("#")
        resolved = (page.parent / target).resolve() if target else page
        if not resolved.exists():
            broken.append(f"{link}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved):
            broken.append(f"{link}: no heading with anchor #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_readme_maps_every_docs_page():
    linked = {(README.parent / unquote(link).partition("#")[0]).resolve() for link in relative_links(README)}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert not missing, f"docs pages missing from the README's map: {missing}"


def test_link_checker_sees_links(tmp_path):
    """The checker itself: links in code are ignored, anchors follow GitHub's rules."""
    sample = "[a](x.md) ![b](y.png) <img src=\"z.jpg\"> `[not](a link)`\n```\n[no](t)\n```\n[web](https://e.org)"
    text = strip_code(sample)
    assert MD_LINK.findall(text) + HTML_LINK.findall(text) == ["x.md", "y.png", "https://e.org", "z.jpg"]
    page = tmp_path / "page.md"
    page.write_text("# Large photos: `--tile`\n```\n# not a heading\n```\n## Cracks on drywall: v0.2.0\n## Notes\n## Notes\n")
    assert heading_anchors(page) == {"large-photos---tile", "cracks-on-drywall-v020", "notes", "notes-1"}

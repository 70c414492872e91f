"""What the command modules share: the Typer apps, the console, option help texts, argument checks and model loading."""

from __future__ import annotations

import errno
import inspect
import logging
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import click
import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from ..utils.files import STORAGE_ERRNOS
from ..utils.progress import drop_output
from ..utils.signals import INTERRUPTED_CODE, interrupted_code, stop_signals_as_interrupt
from ..utils.slug import CONTROL, shown

# what a folder says when this user may no longer write (or read) in it: made read-only, or immutable, mid-command
PERMISSION_ERRNOS = frozenset((errno.EACCES, errno.EPERM))
# what a disk that fails or a network folder lost mid-command says (an input/output error, an NFS handle gone stale,
# a FUSE or SMB mount whose server went away)
FAILING_STORAGE_ERRNOS = frozenset(getattr(errno, name) for name in ("EIO", "ESTALE", "ENOTCONN", "EHOSTDOWN",
                                                                     "EREMOTEIO") if hasattr(errno, name))


class ListedCommands(TyperGroup):
    """A command group whose plain help (standard error no terminal: :class:`_App`) lists each command with the first
    paragraph of its help whole, as Rich's box does: click cut it at about 45 characters ("Train a model from a config
    file (checkpoints,..."), or at its first sentence."""

    def format_commands(self, ctx, formatter):
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            text = cmd.short_help or (cmd.help or "").split("\n\n")[0]
            rows.append((name, " ".join(inspect.cleandoc(text).split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class Commands(ListedCommands):
    """The command group: a disk that cannot take a command's outputs once the work has begun (full, over quota,
    read-only, or a folder this user may no longer write in; the checks before any work cannot see it coming) ends the
    command with a one-line error and exit code 1,
    in every command, not a traceback. Outputs are written whole or not at all, so what was finished is kept.

    A stop signal (SIGTERM from ``docker stop``, ``kill`` or a scheduler; SIGHUP) stops a command as Ctrl-C does
    (:func:`~drywallqa.utils.signals.stop_signals_as_interrupt`): ``predict`` lists the photos done, ``train`` saves
    its checkpoint, and the exit code is the signal's (128 + its number: 143 for SIGTERM; 130 for Ctrl-C). A Ctrl-C
    that a command does not handle itself is one line and exit code 130, not click's "Aborted!" with code 1.

    An empty argument (``--out ""``, ``--out=``, ``predict ""``: an unset shell variable, most often) is a usage error
    naming it, in every command: a path given as "" was the current folder (``predict -o ""`` wrote its masks there).

    ``--help`` shows no value type beside an option that takes none (Typer 0.29 wrote ``--overlay <bool>``, read as
    ``--overlay true``: "true" was then a photo path), and the type of one value of a repeatable option (``<str>``,
    not ``<list[str]>``, read as ``-d [a,b]``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _plain_help_types(self)

    def get_params(self, ctx):
        params = super().get_params(ctx)
        _plain_types(params, ctx)  # Typer's --install-completion and --show-completion, added once the group is made
        return params

    def parse_args(self, ctx, args):
        if not ctx.resilient_parsing and not any(a in ("--help", "-h") for a in args):  # (not shell completion)
            for i, arg in enumerate(args):
                if arg == "" or re.fullmatch(r"--[\w-]+=|-\w=", arg):  # "-o=" is click's "-o" with the value "="
                    before = args[i - 1] if i and not arg else ""
                    valued = self._options() - self._flags()
                    if not arg and i > 1 and args[i - 2] in valued:  # "-p -x ''": "-x" is -p's value, '' an argument
                        before = ""
                    named = arg[:-1] or before
                    if re.fullmatch(r"--?[A-Za-z][\w-]*", named) and named not in self._options():
                        break  # an option no command has (--mm-per-pixel ""): click names it, with those it has
                    option = arg[:-1] if arg else before if before in valued else "an argument"
                    raise typer.BadParameter("must not be empty (an unset shell variable?)", ctx=ctx, param_hint=option)
            self._check_numbers(ctx, args)
        return super().parse_args(ctx, args)

    def _check_numbers(self, ctx, args) -> None:
        """A number option's value written with "_" is a usage error: Python reads ``--mm-per-px 1_0`` as 10 (a typo of
        1.0, most often), which the server refuses too."""
        command, rest = self, list(args)
        while _is_group(command):  # the command the arguments name, through "data" / "export"
            i = next((k for k, a in enumerate(rest) if not a.startswith("-")), None)
            command = command.commands.get(rest[i]) if i is not None else None
            if command is None:
                return  # no command, or an unknown one: click says so
            rest = rest[i + 1:]
        numbers = _option_names(command, _takes_a_number)
        for i, arg in enumerate(rest):
            if arg == "--":
                break
            if arg.startswith("--") and "=" in arg:
                name, value = arg.split("=", 1)
            else:
                name, value = arg, rest[i + 1] if i + 1 < len(rest) else ""
            if name in numbers and "_" in value and (read := _python_number(value)) is not None:
                raise typer.BadParameter(f"write the number without '_': {value!r} would be read as {read:g}",
                                         ctx=ctx, param_hint=name)

    def _options(self) -> set[str]:
        """The names of every command's options (``--out``, ``-o``, ``--no-overlay``): an empty value after a name
        none has is no empty value of an option ("Invalid value for --mm-per-pixel: must not be empty" sent the user
        to set the value of an option there is none of)."""
        names, groups = set(), [self]
        while groups:
            for command in groups.pop().commands.values():
                if _is_group(command):
                    groups.append(command)
                names.update(_option_names(command, lambda param: True))
        return names

    def _flags(self) -> set[str]:
        """The names of every command's options that take no value (``--overlay``): an empty argument after one is
        no value of it."""
        names, groups = set(), [self]
        while groups:
            for command in groups.pop().commands.values():
                if _is_group(command):
                    groups.append(command)
                names.update(_option_names(command, lambda param: getattr(param, "is_flag", False)))
        return names

    def invoke(self, ctx):
        with stop_signals_as_interrupt() as stop:
            try:
                return super().invoke(ctx)
            except OSError as exc:
                where = f" ({exc.filename})" if exc.filename else ""
                if exc.errno in PERMISSION_ERRNOS:  # a folder made read-only mid-job: a traceback from the last write
                    tagged("error:", "red", f"{exc.strerror or exc}{where}; the files finished are kept: give this user "
                                            "the right to write there (or write elsewhere) and run the command again")
                    raise typer.Exit(code=1) from None
                if exc.errno in FAILING_STORAGE_ERRNOS:  # a traceback for what no code of ours can mend
                    tagged("error:", "red", f"cannot read or write: {exc.strerror or exc}{where}; the disk failed or a "
                                            "network folder was lost: the files finished are kept: check the disk or "
                                            "the mount and run the command again")
                    raise typer.Exit(code=1) from None
                if exc.errno not in STORAGE_ERRNOS:
                    raise
                tagged("error:", "red", f"cannot write: {exc.strerror or exc}{where}; the files finished are kept: free "
                                        "some space (or write elsewhere) and run the command again")
                raise typer.Exit(code=1) from None
            except KeyboardInterrupt:  # a command that has nothing of its own to say on Ctrl-C
                tagged("interrupted:", "yellow", f"stopped ({stop.name or 'Ctrl-C'}); the files finished are kept (each "
                                                 "is written whole or not at all)")
                raise typer.Exit(code=interrupted_code(stop)) from None
            except (typer.Exit, click.exceptions.Exit) as exc:  # a command's own Ctrl-C exit: a stop signal's code
                if exc.exit_code == INTERRUPTED_CODE and stop.received:
                    raise typer.Exit(code=interrupted_code(stop)) from None
                raise


def _plain_help_types(group) -> None:
    """Sets the value type ``--help`` shows (an option's ``metavar``) of every command under ``group``: none for an
    option that takes no value (a flag, ``--help`` too), the element's for a repeatable one; others as Typer shows
    them."""
    commands = [group]
    while commands:
        command = commands.pop()
        if _is_group(command):
            commands += list(command.commands.values())
        context = command.context_class(command, info_name=command.name, **(command.context_settings or {}))
        helper = command.get_help_option(context)  # made once and kept by the command
        _plain_types([*command.params, *([helper] if helper is not None else [])], context)


def _plain_types(params, context) -> None:
    """:func:`_plain_help_types` for the options among ``params``."""
    for param in params:
        if param.metavar is not None or not any(o.startswith("-") for o in getattr(param, "opts", ())):
            continue  # set already (here, or by the command itself), or an argument
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif getattr(param, "multiple", False) and hasattr(param, "display_type"):
            param.metavar = param.display_type(context).replace("<list[", "<").replace("]>", ">")


def _python_number(text: str) -> float | None:
    """``text`` as Python reads a number (``"1_0"`` -> 10, digits grouped by "_"), None where it is none (click then
    says so)."""
    try:
        return float(text)
    except ValueError:
        return None


def _option_names(command, keep) -> set[str]:
    """The names (``--out``, ``-o``, ``--no-gate``) of ``command``'s parameters that ``keep(param)`` is true of."""
    return {name for param in command.params if keep(param) for name in (*param.opts, *param.secondary_opts)}


def _is_group(command) -> bool:
    """Whether ``command`` holds commands (``data``, ``export``); by what it has, as Typer's own copy of click (0.20 on)
    is no ``click.Group``."""
    return isinstance(getattr(command, "commands", None), dict)


def _takes_a_number(param) -> bool:
    """Whether ``param`` is an option whose value is a number (a float or an int; click's types, or the annotation
    Typer's own copy of click keeps)."""
    if getattr(param, "is_flag", False) or not any(o.startswith("-") for o in getattr(param, "opts", ())):
        return False
    kind = getattr(param, "type", None)
    if kind is not None:
        return getattr(kind, "name", "") in ("float", "integer", "float range", "integer range")
    return getattr(getattr(param, "type_descriptor", None), "annotation", None) in (int, float)


class _App(typer.Typer):
    """The command line's Typer app. Where standard error or standard output is no terminal (a log, a pipe, a CI job;
    ``--help > help.txt``: help goes to standard output), its errors and help are click's plain text, not Rich's boxes:
    a box folds a path longer than its 80 columns mid-word, with its border in between ("c.y │ aml"), so that the path
    could not be copied from the log."""

    def __call__(self, *args, **kwargs):
        before = self.rich_markup_mode
        try:
            plain = not (sys.stderr.isatty() and sys.stdout.isatty())
        except (AttributeError, ValueError, OSError):  # closed, or no stream at all
            plain = True
        if plain:
            self.rich_markup_mode = None
        try:
            return super().__call__(*args, **kwargs)
        finally:
            self.rich_markup_mode = before


app = _App(help="Prompted segmentation for construction QA: photo + text prompt -> mask.", no_args_is_help=True,
           cls=Commands)
data_app = typer.Typer(help="Datasets: statistics, group-clean splits, masks refined from boxes.", no_args_is_help=True,
                       cls=ListedCommands)
app.add_typer(data_app, name="data")
export_app = typer.Typer(help="Export a film_unet model folder (default: the shipped model) for other runtimes.", no_args_is_help=True,
                         cls=ListedCommands)
app.add_typer(export_app, name="export")
# paths, prompts and reasons are printed as they are: "[x]" in a name is no markup; a line is never broken at the
# console's width (the terminal wraps it): piped to a log (80 columns) or under a narrow terminal, a path longer than
# that was cut in two ("report: \nruns/...\n.../report.html"), and so were the lines of evaluate's report.md tables
class _Console(Console):
    """The commands' console, which outlives its reader: standard output closed by the program reading it
    (``drywallqa predict ... | head -1``) stops what is printed (the output is pointed at the null device from then on),
    not the command's work (click ended it at the next print, exit 1 without a word, before ``report.html`` and
    ``results.csv`` were written)."""

    def _write_buffer(self) -> None:
        try:
            super()._write_buffer()
        except BrokenPipeError:
            drop_output(self.file)
            del self._buffer[:]


console = _Console(markup=False, soft_wrap=True)


@contextmanager
def console_on_stderr(active: bool = True):
    """While ``active``, what the console prints goes to standard error: standard output then carries data alone
    (``--json -``), for a script to read."""
    before, console.stderr = console.stderr, console.stderr or active
    try:
        yield
    finally:
        console.stderr = before


def unwrap_command_help(typer_app: typer.Typer) -> None:
    """Each command's help from its docstring with the source's line breaks inside paragraphs taken out, so that
    ``--help`` wraps it to the terminal (Typer's rich help keeps single line breaks); in nested apps too."""
    import inspect

    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            paragraphs = inspect.cleandoc(info.callback.__doc__).split("\n\n")
            info.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    for group in typer_app.registered_groups:
        unwrap_command_help(group.typer_instance)


def error_message(exc: BaseException) -> str:
    """What an error says, for a CLI message: a KeyError's own text (its ``str()`` is quoted: "'unknown model ...'")."""
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def tagged(tag: str, style: str, text: str) -> None:
    """Print ``tag text`` with the tag in ``style`` (e.g. "red") and ``text`` as it is (no markup), its control
    characters escaped (:func:`~drywallqa.utils.slug.shown`: a file name holding a newline or an escape is one line,
    and moves or colours nothing)."""
    console.print(Text.assemble((tag, style), " ", shown(text)), highlight=False, soft_wrap=True)


class OneLine(logging.Filter):
    """Writes each message with its control characters escaped (:func:`~drywallqa.utils.slug.shown`): a log line naming
    a file whose name holds a newline stays one line (a second line would read as another message), and an escape in
    a name colours or moves nothing. A traceback logged with it is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if CONTROL.search(message):
            record.msg, record.args = shown(message), ()
        return True


class OncePerCommand(logging.Filter):
    """Lets each distinct message through once per command: a command may read a split several times (each part of
    a split manifest reads every published split), and its data problems need saying once."""

    def __init__(self):
        super().__init__()
        self.seen: set = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def open_closed_standard_streams() -> None:
    """Point a standard stream its caller closed (``2>&-``, ``>&-``, ``<&-``; a service manager's or a daemon's
    start) at the null device: with standard error closed every command ended at its first progress bar, exit 1
    without a word (``predict`` after one photo, ``train`` before its run folder), and a file the command opened took
    the free descriptor, so that a library's message to it (torch's, onnxruntime's) would land inside that file."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:  # closed: the lowest free descriptor is this one, the ones below being open
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:  # Python found it closed at its start
            setattr(sys, name, open(fd, mode, encoding="utf-8", errors="replace", closefd=False))


open_closed_standard_streams()  # before the log's handler takes standard error
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
# one filter per handler: a filter shared by two handlers (a host's own beside ours, pytest's capture) would let a
# message through the first and hold it back from the second as said already
LOG_FILTERS = [OncePerCommand() for _ in logging.getLogger().handlers]
for _handler, _filter in zip(logging.getLogger().handlers, LOG_FILTERS):
    _handler.addFilter(OneLine())
    _handler.addFilter(_filter)


@app.callback()
def _start_command() -> None:
    """Prompted segmentation for construction QA: photo + text prompt -> mask."""
    for log_filter in LOG_FILTERS:  # one invocation, one set of messages said (tests run many in one process)
        log_filter.seen.clear()
    # a character the terminal cannot show (a file name that is no UTF-8, a prompt's script on a cp1252 console) is
    # printed as "?", not a UnicodeEncodeError ending the command after its work is done
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError, OSError):
            pass


DATASET_HELP = "Dataset name, or a dataset YAML file for your own export (repeatable); default all registered."


def dataset_names(datasets, datasets_dir=None) -> list[str]:
    """Registered names of the datasets given by name or YAML file (``--dataset``): one given twice (by name and by
    its YAML file, or twice) is a usage error naming it, as in a training config (its photos would count twice: a
    confidence fit on copies in both folds, a report scoring them twice; or another dataset was meant). A YAML file's
    ``{datasets}/<folder>`` lies below ``datasets_dir`` (``--datasets-dir``) where given: it was read from
    $DRYWALLQA_DATASETS or ../shared/datasets whatever --datasets-dir said."""
    from functools import partial

    from ..data.registry import DATASETS, list_datasets, resolve_dataset, unique_datasets

    try:
        names = unique_datasets(datasets, partial(resolve_dataset, datasets_dir=datasets_dir)) if datasets else list_datasets()
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset")
    for name in names:  # a name that is no YAML file resolves to itself
        if name not in DATASETS:
            raise typer.BadParameter(f"unknown dataset {name!r}; registered: {', '.join(list_datasets())} "
                                     "(or give a dataset YAML file)", param_hint="--dataset")
    return names


def check_categories_labelled(names, datasets_dir=None, param_hint: str = "--dataset") -> None:
    """A dataset of ``names`` whose YAML's ``categories`` its COCO files label none of
    (:func:`~drywallqa.data.sample.categories_refusal`: ``wall crack`` for a file's ``Wall Crack``) is a usage error
    of ``param_hint``, before its photos are read, as train refuses it: every photo would be read as showing nothing
    (evaluate scored against empty masks, ship and calibrate-confidence chose and fitted on them, data split wrote a
    manifest of them, refine-masks refined empty masks, stats reported every mask empty)."""
    from ..data.registry import get_dataset_config
    from ..data.sample import categories_refusal

    for name in names:
        if (why := categories_refusal(get_dataset_config(name), datasets_dir)) is not None:
            raise typer.BadParameter(why, param_hint=param_hint)


def check_split_parts(names, splits_dir=None, parts=(), hint: str = "--splits-dir") -> None:
    """Each dataset of ``names`` (registered) has a split manifest (``--splits-dir``) with ``parts``: a clean error
    before a model loads (it was said only once it had). A manifest that cannot be read is left to the command.

    Raises:
        typer.BadParameter: naming the manifest (or the file its folder lies below) and what to do.
    """
    from ..data.grouping import GroupSplit, check_split_manifest

    for name in names if parts else ():
        try:
            manifest = check_split_manifest(name, splits_dir)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from None
        try:
            have = GroupSplit.from_json(manifest).parts
        except (OSError, ValueError):  # damaged: said by the command as it reads it
            continue
        lacking = [p for p in parts if p not in have]
        if lacking:
            raise typer.BadParameter(f"{manifest} has no part {lacking[0]!r}; it has {', '.join(have)}", param_hint=hint)


MODEL_HELP = ("Model type (film_unet, clipseg, sam_text, ...): with --model-path of a directory that is not a drywallqa "
              "model (a Hugging Face save_pretrained folder or hub id), wrap that model. Default: read from --model-path.")
MODEL_PATH_HELP = "Model folder, or a shipped model's name (fast); default: the default shipped model (fast)."
RUNTIME_HELP = ("torch, or onnx (a model folder exported on first use, or an exported folder), or a runtime a plugin "
                "registers.")
PIPELINE_HELP = ("zeroshot: the zero-shot pipeline (hub detectors + SAM) instead of a model; --model-path is then its "
                 "YAML config. Or a pipeline a plugin registers.")


def load_kwargs(model: Optional[str], runtime: str = "torch", min_confidence: Optional[float] = None,
                 tile: Optional[int] = None, prompt_gate: bool = True, pipeline: Optional[str] = None,
                 label_shape: Optional[str] = None, max_tiles: Optional[int] = None, precision: str = "float32",
                 enlarge_tiles: bool = False) -> dict:
    """``Segmenter.load`` keyword arguments for the CLI's --model / --runtime / --pipeline / --min-confidence / --tile
    / --max-tiles / --enlarge-tiles / --label-shape / --precision (checked by the command, with its other values)."""
    from ..engine.torch_runtime import PRECISIONS
    from ..engine.segmenter import registered_names
    from ..utils.plugins import failed_plugins_said

    def check_registered(kind: str, name: str | None) -> None:  # the built-in names and those of plugins (it was
        # torch and onnx, and zeroshot, alone)
        if name is not None and name not in (names := registered_names(kind)):
            raise typer.BadParameter(f"unknown {kind} {name!r}; registered: {', '.join(names)}{failed_plugins_said()}",
                                     param_hint=f"--{kind}")

    check_registered("runtime", runtime)
    if precision not in PRECISIONS:
        raise typer.BadParameter(f"one of {', '.join(PRECISIONS)}, got {precision!r}", param_hint="--precision")
    if precision != "float32" and (runtime != "torch" or pipeline or model == "zeroshot"):
        other = f"--runtime {runtime}" if runtime != "torch" else f"--pipeline {pipeline or model}"  # (a plugin's too)
        raise typer.BadParameter(f"{precision} runs the torch runtime only (not {other})", param_hint="--precision")
    if model == "zeroshot":  # the 0.4 spelling
        typer.echo("warning: --model zeroshot is deprecated, use --pipeline zeroshot", err=True)
        model, pipeline = None, "zeroshot"
    from ..models.shipped import SHIPPED_MODELS

    if model in SHIPPED_MODELS:
        raise typer.BadParameter(f"--model names an architecture (film_unet, clipseg, sam_text, ...); the shipped model "
                                 f"{model!r} is --model-path {model}", param_hint="--model")
    check_registered("pipeline", pipeline)
    if tile is not None and tile < 32:
        raise typer.BadParameter("a tile needs at least 32 px", param_hint="--tile")
    if max_tiles is not None and max_tiles < 1:
        raise typer.BadParameter(f"must be at least 1, got {max_tiles}", param_hint="--max-tiles")
    if max_tiles is not None and not tile:  # was dropped without a word
        raise typer.BadParameter("is an option of --tile: give --tile SIZE too", param_hint="--max-tiles")
    if enlarge_tiles and not tile:
        raise typer.BadParameter("is an option of --tile: give --tile SIZE too", param_hint="--enlarge-tiles")
    # no limit unless one is given: predict's default (DEFAULT_MAX_TILES) is predict's, evaluate has none (its --tile
    # 40 aborted the whole evaluation at the first large photo, advising a --max-tiles evaluate does not have)
    tiling = {"tile": tile, **({"max_tiles": max_tiles} if max_tiles is not None else {}),
              **({"tile_enlarge": True} if enlarge_tiles else {})} if tile else {}
    if pipeline:  # options of a model that the pipeline (zeroshot: hub detectors + SAM, its YAML config) has none of:
        # refused, not dropped (--threshold 0.99 made the same masks)
        unused = [(runtime != "torch", "--runtime", "the pipeline runs its own models")]
        if pipeline == "zeroshot":
            unused += [(model is not None, "--model", "the pipeline's models are named in its config (--model-path)"),
                       (label_shape is not None, "--label-shape", "its masks are where SAM put one"),
                       (not prompt_gate, "--no-prompt-gate", "it has no prompt gate")]
        for given, hint, why in unused:
            if given:
                raise typer.BadParameter(f"not an option of --pipeline {pipeline}: {why}", param_hint=hint)
        # a plugin's pipeline: the model's options given, for it to take or refuse
        given = {**({"model": model} if model is not None else {}),
                 **({"label_shape": label_shape} if label_shape else {}), **({} if prompt_gate else {"prompt_gate": False})}
        return {"pipeline": pipeline, **given, "min_confidence": min_confidence, **tiling}
    shaped = {"label_shape": label_shape} if label_shape else {}
    if runtime == "onnx" and model not in (None, "film_unet"):  # ran the exported film_unet under the name asked for
        raise typer.BadParameter(f"--runtime onnx runs an exported film_unet model folder; {model} runs on the torch "
                                 "runtime (leave out --runtime onnx)", param_hint="--model")
    if runtime != "torch":  # onnx (it runs the film_unet it was exported from), or a plugin's runtime (--model if given)
        named = {"model": model} if model is not None and runtime != "onnx" else {}
        return {"runtime": runtime, **named, "min_confidence": min_confidence, "prompt_gate": prompt_gate, **tiling,
                **shaped}
    return {"model": model, "min_confidence": min_confidence, "prompt_gate": prompt_gate, **tiling, **shaped,
            "precision": precision}


PRECISION_HELP = ("float32, or bfloat16: the network under bf16 autocast, about 1.6 times as fast on CPUs with bf16 "
                  "instructions (lscpu lists avx512_bf16 or amx_bf16; emulated and slow elsewhere), the shipped model's "
                  "mIoU the same to a thousandth (docs/batch.md#precision). Torch runtime only.")


GATE_HELP = ("Answer a prompt far from what the model learnt, or one asking for what is not there ('no cracks'), with "
             "an empty mask and a warning naming what it knows (models with a prompt gate); --no-prompt-gate answers "
             "every prompt with the raw map (typing slips are not mended then).")


LABEL_SHAPE_HELP = ("box: write the masks of prompts trained on box labels (taping) as the boxes validation chose for "
                    "scoring against such labels, for an outside scorer; default: the mask as the model sees it.")
TILE_HELP = ("Predict photos wider or taller than this many pixels on overlapping tiles of this size "
             "(large phone photos).")
MAX_TILES_HELP = "With --tile: a photo the tile size would cut into more tiles fails (reported; the rest go on)."
ENLARGE_TILES_HELP = ("With --tile smaller than the model's input size: resize each tile to that size (as up to 0.6.28; "
                      "scored lower on the group-clean val photos). Default: a tile is seen at its own size.")
MAX_PIXELS_HELP = ("Images with more pixels fail (reported, the rest go on): guards memory against decompression bombs; "
                   "raise it for very large photos.")


DATASETS_DIR_HELP = "Folder holding the datasets (default: $DRYWALLQA_DATASETS, else ../shared/datasets)."
SPLITS_DIR_HELP = ("Folder of the group-clean split manifests (default: ./splits where it has the dataset's, else those "
                   "shipped with the package).")


def comma_list(values) -> list[str]:
    """A repeatable option's values, each also comma-separated, as one list (``--splits a,b --splits c``)."""
    return [s.strip() for v in values or () for s in str(v).split(",") if s.strip()]


def check_output_path(path: Path, hint: str, folder: bool) -> None:
    """A clean error, before any work, for an output ``path`` that cannot be written: a folder where a file goes
    (``folder=False``) or a file where a folder goes, below a file, or under a folder that is not writable."""
    from ..utils.paths import check_writable_path

    try:
        check_writable_path(path, folder)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def check_max_pixels(value: int) -> None:
    if value < 1:
        raise ValueError(f"must be a positive number of pixels, got {value}")


def load_segmenter(model_path: Optional[str], model: Optional[str], runtime: str = "torch", tile: Optional[int] = None,
                   prompt_gate: bool = True, pipeline: Optional[str] = None, precision: str = "float32",
                   enlarge_tiles: bool = False):
    return load_segmenter_with(model_path, load_kwargs(model, runtime, tile=tile, prompt_gate=prompt_gate,
                                                       pipeline=pipeline, precision=precision,
                                                       enlarge_tiles=enlarge_tiles))


def load_segmenter_with(model_path: Optional[str], kwargs: dict):
    """``Segmenter.load(model_path, **kwargs)`` (``kwargs`` from :func:`load_kwargs`); its errors as a clean CLI error."""
    from ..engine.segmenter import Segmenter

    try:
        return Segmenter.load(model_path, **kwargs)
    except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            raise  # a full disk while an ONNX export is written: said as such (Commands.invoke), not blamed on the model
        raise typer.BadParameter(error_message(exc), param_hint="--model-path / --model / --pipeline")


def check_text_encoder(seg, prompts=None) -> None:
    """The model's text encoder can embed ``prompts`` (from its cache, or loaded), or, without ``prompts``, loads
    (for a server: any prompt may come): a model folder naming one that is not here was answered per photo, each after
    the hub client's retries, or with a 500 per request.

    Raises:
        typer.BadParameter: naming the encoder and how to provide it."""
    while hasattr(seg, "inner"):  # --tile: the segmenter it cuts photos for
        seg = seg.inner
    name, model = getattr(seg, "text_encoder", None), getattr(seg, "model", None)
    if not isinstance(name, str) or not getattr(model, "uses_text_encoder", False):  # a pipeline, or a model with a
        return  # text tower of its own
    from ..text.encoder import get_text_encoder

    try:
        if prompts is None:
            get_text_encoder(name).model
        else:  # from the encoder's cache where it holds them; else the encoder loads
            model.prompt_embeddings(list(prompts), name)
    except OSError as exc:  # TextEncoder.model says any failure to load as one
        raise typer.BadParameter(error_message(exc), param_hint="--model-path (its config.json's text_encoder)")


def model_dir_option(model_path: Optional[str]) -> Path:
    """``--model-path`` as a folder: a shipped model's name gives its folder, nothing the default model's; an
    unknown bare name is a clean error listing the shipped names. The option is read as text, not as a ``Path``:
    ``Path("./fast")`` is ``fast``, which would turn a missing local folder into the shipped model."""
    from ..models.shipped import resolve_model_dir

    try:
        return resolve_model_dir(model_path)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--model-path") from None


def check_model_file(model_path: Path, name: str) -> Path:
    """``model_path / name`` for a calibration to write: the folder must be a model's and writable, and not a shipped
    model's (inside the installed package), named by its name or by its path."""
    from ..models.base import is_drywallqa_model_dir, not_a_model_folder
    from ..models.shipped import SHIPPED_MODELS, check_name_length, is_bare_name, shipped_model_dir
    from ..utils.files import remove_stale_temporaries

    try:  # a name too long for the file system, in the words (and shortened) of every command's model path (a
        check_name_length(model_path)  # shipped name is not resolved here: resolve_model_dir's check is not made);
    except FileNotFoundError as exc:  # it was "<the whole path> is not a drywallqa model folder"
        raise typer.BadParameter(str(exc), param_hint="--model-path") from None

    def same_folder(a: Path, b: Path) -> bool:
        try:
            return a.samefile(b)
        except OSError:
            return False

    if os.path.exists(model_path):  # (False for a name longer than the disk allows: Path.exists raised it)
        shipped = next((n for n in SHIPPED_MODELS.names() if same_folder(model_path, shipped_model_dir(n))), None)
    else:
        shipped = str(model_path) if is_bare_name(model_path) and str(model_path) in SHIPPED_MODELS else None
    if shipped is not None:
        raise typer.BadParameter(
            f"{model_path} is a shipped model ({shipped}), inside the installed package; this writes {name} into the "
            f"model folder, so calibrate a copy: cp -r {shipped_model_dir(shipped)} my_model, then --model-path my_model",
            param_hint="--model-path")
    if not is_drywallqa_model_dir(model_path):  # no, or an unreadable, config.json of a model; a training run
        raise typer.BadParameter(not_a_model_folder(model_path), param_hint="--model-path")
    target = model_path / name
    if target.exists() and not target.is_file():  # a folder so named: the loader refuses it as damaged, this as well
        what = "a folder" if target.is_dir() else "not a regular file"
        raise typer.BadParameter(f"{target} cannot be written: it is {what}, not the file a calibration writes; move it "
                                 "away, then run this again", param_hint="--model-path")
    if not os.access(model_path, os.W_OK):
        raise typer.BadParameter(f"{target} cannot be written ({model_path} is not writable)", param_hint="--model-path")
    remove_stale_temporaries(model_path)  # of calibrations killed while writing
    return target

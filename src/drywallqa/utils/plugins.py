"""Plugins: modules of other packages that register items of drywallqa's registries (an image encoder, a split
reader, a post-processor, a runtime, ...: any of those docs/training.md lists, with their modules, under "Code
layout") without any change to drywallqa. They are imported once per process, the first time a registry is asked
for a name it does not hold or for its whole list, so that a name in a config or in a model folder's ``config.json``
finds them in every command, the server and Ray's workers alike (a running cluster's get ``$DRYWALLQA_PLUGINS``
with the job; the modules must be installed on its machines).

A package declares its modules in its ``pyproject.toml``::

    [project.entry-points."drywallqa.plugins"]
    my_encoders = "my_package.encoders"   # imported; its @register_encoder("my_encoder") classes register

and a module that is no installed package (a file beside a script) is named in ``$DRYWALLQA_PLUGINS``
(importable names, comma-separated; its folder on ``PYTHONPATH``). A plugin that cannot be imported is logged once
and named by the error of the name it would have registered.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import threading
from importlib.metadata import entry_points

logger = logging.getLogger(__name__)

GROUP = "drywallqa.plugins"  # the entry-point group of plugin modules
ENV = "DRYWALLQA_PLUGINS"  # importable module names, comma-separated


def failed_plugins_said() -> str:
    """``"; plugin 'x' could not be imported (why)"`` for each plugin that failed (:func:`load_plugins`), ``""`` where
    none did: what the error of a name none of the registries holds adds (the name may be that plugin's)."""
    return "".join(f"; plugin {p!r} could not be imported ({why})" for p, why in load_plugins().items())


PLUGIN_FAILED = "a plugin failed to load; see the server log"  # what a client of the server is told instead


def plugin_failures_hidden(text: str) -> str:
    """``text`` (an error's message) with what :func:`failed_plugins_said` adds to it, each failed plugin's exception
    (local file paths among its words), said as :data:`PLUGIN_FAILED`: for a message that leaves the machine, an HTTP
    answer of the server; its log and the command line, which run here, keep the whole text."""
    said = failed_plugins_said()
    hidden = text.replace(said, f"; {PLUGIN_FAILED}") if said else text
    for plugin, why in load_plugins().items():  # one of them said alone
        hidden = hidden.replace(f"plugin {plugin!r} could not be imported ({why})", PLUGIN_FAILED)
    return hidden


_LOCK = threading.RLock()  # the server's threads miss a name at once: one imports, the others wait for its result
# (a bare functools.cache ran it in each: a failing plugin imported and warned of twice). Re-entrant: a plugin's import
# may ask a registry


def load_plugins() -> dict[str, str]:
    """Import every plugin module (the entry points of :data:`GROUP`, then the modules of :data:`ENV`) once per
    process, whichever threads ask at once. Returns ``{plugin: why it could not be imported}`` for those that failed
    (each logged once)."""
    with _LOCK:
        return _load_plugins_once()


@functools.cache
def _load_plugins_once() -> dict[str, str]:
    """:func:`load_plugins`, under its lock."""
    failed = {}
    plugins = [(ep.name, ep.load) for ep in entry_points(group=GROUP)]
    plugins += [(name, functools.partial(_import_named, name))
                for name in (part.strip() for part in os.environ.get(ENV, "").split(",")) if name]
    for name, load in plugins:
        try:
            load()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plugin must not stop the commands that do not
            # need it; nor one that exits as it is imported (a script named as a plugin, parsing its own arguments): the
            # command, the server, ended with the plugin's words alone
            failed[name] = f"{type(exc).__name__}: {exc}"
            logger.warning("drywallqa plugin %r could not be imported (%s)", name, failed[name])
    return failed


load_plugins.cache_clear = _load_plugins_once.cache_clear  # (as functools.cache gave it: imported again next time)


def _import_named(name: str) -> None:
    """Import the module ``name`` of :data:`ENV`; a file's path in its place (``./my_plugin.py``, which importlib
    answered with "the 'package' argument is required to perform a relative import", or "No module named
    '/home/me/my_plugin'") is said to be one, with the module name to give instead."""
    if "/" in name or "\\" in name or name.endswith(".py"):
        stem = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].removesuffix(".py")
        raise ValueError(f"${ENV} names modules, not files: give {stem!r} (the module's name) and put its folder "
                         "on PYTHONPATH")
    importlib.import_module(name)

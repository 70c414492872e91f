"""Names of an earlier release kept for one more, with a warning: ``__getattr__ = deprecated_names(...)``."""

from __future__ import annotations

import importlib
import warnings


def deprecated_names(module: str, names: dict[str, tuple[str, str]], stacklevel: int = 2):
    """A module-level ``__getattr__`` for ``module``: ``old -> (module that holds the new name, new name)``.

    Reading an old name warns (``DeprecationWarning``) and returns the object under its new name; any other
    missing name is the usual ``AttributeError``. ``stacklevel``: 2 where it is the module's ``__getattr__``, one
    more for each function it is called from (the warning names the reader's line, so Python's default filters show
    it in a script)."""

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        home, new = names[name]
        warnings.warn(f"{module}.{name} is deprecated: use {home}.{new}", DeprecationWarning, stacklevel=stacklevel)
        return getattr(importlib.import_module(home), new)

    return __getattr__
